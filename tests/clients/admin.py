"""confluent-kafka's AdminClient against runnel: topic configs, partitions, DeleteRecords,
groups and topic deletion, each checked by reading the result back. Prints "ok" at the end."""
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource,
                                   NewPartitions, NewTopic)

bootstrap = sys.argv[1]
admin = AdminClient({"bootstrap.servers": bootstrap})
TOPIC = "admin-topic"


def wait(futures):
    return {k: f.result(10) for k, f in futures.items()}


wait(admin.create_topics([NewTopic(TOPIC, num_partitions=2, replication_factor=1,
                                   config={"retention.ms": "3600000"})]))
try:
    wait(admin.create_topics([NewTopic(TOPIC, num_partitions=2, replication_factor=1)]))
    raise AssertionError("creating an existing topic must fail")
except Exception as e:  # KafkaException wrapping TOPIC_ALREADY_EXISTS
    assert "TOPIC_ALREADY_EXISTS" in str(e) or "already exists" in str(e), e
try:
    wait(admin.create_topics([NewTopic("replicated", num_partitions=1, replication_factor=3)]))
    raise AssertionError("replication factor 3 on one broker must fail")
except Exception as e:
    assert "REPLICATION_FACTOR" in str(e) or "replication factor" in str(e), e


def topic_configs():
    resource = ConfigResource(ConfigResource.Type.TOPIC, TOPIC)
    return {k: v.value for k, v in wait(admin.describe_configs([resource]))[resource].items()}


configs = topic_configs()
assert configs["retention.ms"] == "3600000", configs
assert configs["cleanup.policy"] == "delete", configs

resource = ConfigResource(ConfigResource.Type.TOPIC, TOPIC, incremental_configs=[
    ConfigEntry("retention.ms", "120000", incremental_operation=AlterConfigOpType.SET),
    ConfigEntry("cleanup.policy", "compact,delete", incremental_operation=AlterConfigOpType.SET),
])
wait(admin.incremental_alter_configs([resource]))
configs = topic_configs()
assert configs["retention.ms"] == "120000", configs
assert configs["cleanup.policy"] == "compact,delete", configs
bad = ConfigResource(ConfigResource.Type.TOPIC, TOPIC, incremental_configs=[
    ConfigEntry("retention.ms", "soon", incremental_operation=AlterConfigOpType.SET)])
try:
    wait(admin.incremental_alter_configs([bad]))
    raise AssertionError("an invalid value must be refused")
except Exception as e:
    assert "INVALID_CONFIG" in str(e) or "invalid" in str(e).lower(), e
assert topic_configs()["retention.ms"] == "120000", "a refused change changes nothing"

wait(admin.create_partitions([NewPartitions(TOPIC, 4)]))
assert len(admin.list_topics(timeout=10).topics[TOPIC].partitions) == 4

producer = Producer({"bootstrap.servers": bootstrap})
# The topic is compact,delete by now: records need keys (Kafka refuses keyless ones there).
for i in range(20):
    producer.produce(TOPIC, key=f"k{i}", value=f"r{i}", partition=0)
producer.flush(10)
result = wait(admin.delete_records([TopicPartition(TOPIC, 0, 15)]))
low = list(result.values())[0]
assert low.low_watermark == 15, low.low_watermark
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "admin-readers", "enable.auto.commit": False})
lo, hi = c.get_watermark_offsets(TopicPartition(TOPIC, 0), timeout=10)
assert (lo, hi) == (15, 20), (lo, hi)
c.assign([TopicPartition(TOPIC, 0, 15)])
got = []
deadline = time.time() + 10
while len(got) < 5 and time.time() < deadline:
    m = c.poll(0.5)
    if m is not None and not m.error():
        got.append(m.value().decode())
assert got == [f"r{i}" for i in range(15, 20)], got
c.commit(offsets=[TopicPartition(TOPIC, 0, 17)], asynchronous=False)
c.close()

groups = admin.list_consumer_groups().result(10)
assert "admin-readers" in [g.group_id for g in groups.valid], groups.valid
described = admin.describe_consumer_groups(["admin-readers"])["admin-readers"].result(10)
assert str(described.state).endswith("EMPTY"), described.state
wait(admin.delete_consumer_groups(["admin-readers"]))
offsets = admin.list_consumer_group_offsets([
    __import__("confluent_kafka").ConsumerGroupTopicPartitions("admin-readers")])
remaining = list(offsets.values())[0].result(10).topic_partitions
assert all(tp.offset < 0 for tp in remaining), remaining

wait(admin.delete_topics([TOPIC]))
deadline = time.time() + 10
while TOPIC in admin.list_topics(timeout=10).topics and time.time() < deadline:
    time.sleep(0.2)
assert TOPIC not in admin.list_topics(timeout=10).topics
print("ok")
