"""What an admin tool asks a broker when it starts and looks around, as kafka-ui does it:
DescribeCluster, the broker's configs, topics with their configs and authorized operations,
consumer groups with their offsets, end offsets; then what kafka-log-dirs.sh,
kafka-leader-election.sh and kafka-consumer-groups.sh --delete-offsets send (DescribeLogDirs,
DescribeProducers, ListPartitionReassignments, ElectLeaders, OffsetDelete), through
confluent-kafka's AdminClient and kafka-python's KafkaAdminClient.

BOOTSTRAP TOPIC GROUP: creates TOPIC (3 partitions), writes 30 keyed records with an idempotent
producer, lets GROUP read and commit them, and prints one JSON object with every answer; any
call that fails raises, so the script exits non-zero with the error."""
import json
import sys

from confluent_kafka import (Consumer, ConsumerGroupTopicPartitions, ElectionType,
                             IsolationLevel, Producer, TopicCollection, TopicPartition)
from confluent_kafka.admin import (AdminClient, ConfigResource, NewTopic, OffsetSpec,
                                   ResourceType)
from kafka import KafkaAdminClient
from kafka.structs import TopicPartition as KpTopicPartition

bootstrap, topic, group = sys.argv[1], sys.argv[2], sys.argv[3]
out = {}
admin = AdminClient({"bootstrap.servers": bootstrap})

# kafka-ui's start: the cluster, then the broker's own configs.
cluster = admin.describe_cluster(include_authorized_operations=True).result(10)
out["cluster"] = {
    "cluster_id": cluster.cluster_id,
    "controller": cluster.controller.id if cluster.controller else None,
    "nodes": [[n.id, n.host, n.port] for n in cluster.nodes],
    "authorized_operations": sorted(op.name for op in cluster.authorized_operations or []),
}
node = str(cluster.nodes[0].id)
broker_configs = admin.describe_configs([ConfigResource(ResourceType.BROKER, node)])
configs = list(broker_configs.values())[0].result(10)
out["broker_config_count"] = len(configs)
out["broker_log_cleanup_policy"] = configs["log.cleanup.policy"].value

admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result(10)
producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                     "linger.ms": 0})
for i in range(30):
    producer.produce(topic, key=f"k{i}", value=f"v{i}", partition=i % 3)
assert producer.flush(10) == 0

consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                     "auto.offset.reset": "earliest", "enable.auto.commit": False})
consumer.subscribe([topic])
seen = 0
while seen < 30:
    message = consumer.poll(10)
    assert message is not None, f"only {seen} records read"
    assert message.error() is None, message.error()
    seen += 1
consumer.commit(asynchronous=False)

# Topics with configs and authorized operations (KIP-430), as the topic list page shows them.
described = admin.describe_topics(TopicCollection([topic]),
                                  include_authorized_operations=True)[topic].result(10)
out["topic"] = {
    "partitions": len(described.partitions),
    "authorized_operations": sorted(op.name for op in described.authorized_operations or []),
}
topic_configs = list(admin.describe_configs(
    [ConfigResource(ResourceType.TOPIC, topic)]).values())[0].result(10)
out["topic_cleanup_policy"] = topic_configs["cleanup.policy"].value
ends = admin.list_offsets({TopicPartition(topic, p): OffsetSpec.latest() for p in range(3)},
                          isolation_level=IsolationLevel.READ_COMMITTED)
out["end_offsets"] = sorted([tp.partition, f.result(10).offset] for tp, f in ends.items())

# Consumer groups page (while the member is still in the group).
listed = admin.list_consumer_groups().result(10)
out["groups"] = sorted(g.group_id for g in listed.valid)
group_description = admin.describe_consumer_groups(
    [group], include_authorized_operations=True)[group].result(10)
out["group"] = {
    "state": group_description.state.name,
    "members": len(group_description.members),
    "authorized_operations": sorted(op.name for op in
                                    group_description.authorized_operations or []),
}
committed = admin.list_consumer_group_offsets(
    [ConsumerGroupTopicPartitions(group)])[group].result(10)
out["committed"] = sorted([tp.partition, tp.offset] for tp in committed.topic_partitions)

election = admin.elect_leaders(ElectionType.PREFERRED,
                               [TopicPartition(topic, 0)]).result(10)
out["election"] = {f"{tp.topic}-{tp.partition}": (e.name() if e else None)
                   for tp, e in election.items()}

# kafka-python for the tools' APIs confluent-kafka does not have.
kp = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
log_dirs = [d for broker in kp.describe_log_dirs() for d in broker["log_dirs"]]
out["log_dirs"] = [{
    "error_code": d["error_code"],
    "log_dir": d["log_dir"],
    "partitions": sorted([t["name"], p["partition_index"], p["partition_size"]]
                         for t in d["topics"] for p in t["partitions"] if t["name"] == topic),
    "total_bytes": d["total_bytes"],
    "usable_bytes": d["usable_bytes"],
} for d in log_dirs]
producers = kp.describe_producers([KpTopicPartition(topic, p) for p in range(3)])
out["producers"] = sorted(
    [tp.partition, state.producer_id, state.producer_epoch, state.last_sequence]
    for tp, partition in producers.items() for state in partition.active_producers)
out["reassignments"] = len(kp.list_partition_reassignments())


def delete_offsets(group_id, partition):
    """OffsetDelete: the partition's error name, or the request's."""
    try:
        result = kp.delete_group_offsets(group_id, [KpTopicPartition(topic, partition)])
    except Exception as e:  # the group-level error
        return type(e).__name__
    return {f"{tp.topic}-{tp.partition}": error.__name__ for tp, error in result.items()}


# OffsetDelete while the member still subscribes: refused for that topic (KIP-496).
out["delete_offsets_live"] = delete_offsets(group, 0)
consumer.close()
out["delete_offsets_empty"] = delete_offsets(group, 0)
out["delete_offsets_unknown_group"] = delete_offsets("no-such-group", 0)
after = admin.list_consumer_group_offsets(
    [ConsumerGroupTopicPartitions(group)])[group].result(10)
out["committed_after_delete"] = sorted([tp.partition, tp.offset]
                                       for tp in after.topic_partitions)
kp.close()
print(json.dumps(out, default=str))
