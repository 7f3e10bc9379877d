"""confluent-kafka's AdminClient creating topics as provisioning tools do (Terraform providers,
Strimzi, ksqlDB send Kafka's standard topic configs), then DescribeConfigs.

BOOTSTRAP: creates "provisioned" with Kafka's standard configs, "plain" with none, and tries
a few invalid ones, then APPENDs and SUBTRACTs on "plain" (KIP-339); prints JSON: {"created":
error or null, "invalid": {config: error text}, "provisioned": {name: [value, source]}, "plain":
{name: [value, source]}, "appended", "subtracted": cleanup.policy after each, "append_to_long":
error text, "broker": {name: [value, source, read_only]} of broker 0, "synonyms": {"topic
name": [[name, value, source]]} with include_synonyms}."""
import json
import sys

from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource,
                                   ConfigSource, NewTopic)

bootstrap = sys.argv[1]
admin = AdminClient({"bootstrap.servers": bootstrap})


def create(name, config):
    futures = admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1,
                                            config=config)])
    try:
        futures[name].result(10)
        return None
    except Exception as e:  # KafkaException: the broker's error
        return str(e)


def describe(name):
    resource = ConfigResource(ConfigResource.Type.TOPIC, name)
    entries = admin.describe_configs([resource])[resource].result(10)
    return {k: [v.value, ConfigSource(v.source).name] for k, v in entries.items()}


standard = {
    # The input (a Terraform provider's defaults) ...
    "unclean.leader.election.enable": "false",
    "message.timestamp.type": "CreateTime",
    "compression.type": "producer",
    "retention.ms": "86400000",
    "segment.bytes": "104857600",
    # ... and more of the class: accepted as Kafka accepts them.
    "preallocate": "false",
    "message.format.version": "3.0-IV1",
    "segment.jitter.ms": "0",
    "max.compaction.lag.ms": "9223372036854775807",
    "min.compaction.lag.ms": "0",
    "local.retention.ms": "-2",
    "leader.replication.throttled.replicas": "",
    "message.timestamp.before.max.ms": "9223372036854775807",
}
result = {"created": create("provisioned", standard), "invalid": {}}
create("plain", {})
for key, value in [("message.timestamp.type", "Sometime"), ("retention.ms", "-7"),
                   ("segment.bytes", "huge"), ("no.such.config", "1"),
                   ("message.format.version", "banana")]:
    result["invalid"][key] = create(f"bad-{key.replace('.', '-')}", {key: value})
result["lag_conflict"] = create("bad-lags", {"min.compaction.lag.ms": "100",
                                             "max.compaction.lag.ms": "50"})
result["provisioned"] = describe("provisioned")
result["plain"] = describe("plain")


def incremental(op, key, value):
    resource = ConfigResource(ConfigResource.Type.TOPIC, "plain", incremental_configs=[
        ConfigEntry(key, value, incremental_operation=op)])
    try:
        admin.incremental_alter_configs([resource])[resource].result(10)
        return None
    except Exception as e:
        return str(e)


incremental(AlterConfigOpType.APPEND, "cleanup.policy", "compact")
result["appended"] = describe("plain")["cleanup.policy"]
incremental(AlterConfigOpType.SUBTRACT, "cleanup.policy", "delete")
result["subtracted"] = describe("plain")["cleanup.policy"]
result["append_to_long"] = incremental(AlterConfigOpType.APPEND, "retention.ms", "5")

broker = ConfigResource(ConfigResource.Type.BROKER, "0")
entries = admin.describe_configs([broker])[broker].result(10)
result["broker"] = {k: [v.value, ConfigSource(v.source).name, v.is_read_only]
                    for k, v in entries.items()}

# Synonyms (KIP-226), which librdkafka always asks for, as kafka-configs.sh --describe --all
# shows them.
resource = ConfigResource(ConfigResource.Type.TOPIC, "provisioned")
entries = admin.describe_configs([resource])[resource].result(10)
plain = ConfigResource(ConfigResource.Type.TOPIC, "plain")
plain_entries = admin.describe_configs([plain])[plain].result(10)


def synonyms(entry):
    return [[s.name, s.value, ConfigSource(s.source).name] for s in entry.synonyms.values()]


result["synonyms"] = {
    "provisioned retention.ms": synonyms(entries["retention.ms"]),
    "plain retention.ms": synonyms(plain_entries["retention.ms"]),
    "plain segment.ms": synonyms(plain_entries["segment.ms"]),
}
print(json.dumps(result))
