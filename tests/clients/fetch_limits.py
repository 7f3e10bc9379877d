"""confluent-kafka (librdkafka) reading two 900 KiB records, one in each of two partitions,
with fetch.max.bytes=1000000 (KIP-74: a response stays within fetch.max.bytes except for the
first batch of its first non-empty partition; librdkafka refuses a response that breaks it).

BOOTSTRAP TOPIC: prints JSON {"received": [[partition, size]...], "errors": [...]}."""
import json
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

bootstrap, topic = sys.argv[1], sys.argv[2]
admin = AdminClient({"bootstrap.servers": bootstrap})
admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])[topic].result(10)
producer = Producer({"bootstrap.servers": bootstrap})
for p in (0, 1):
    producer.produce(topic, value=bytes([65 + p]) * (900 * 1024), partition=p)
producer.flush(10)
consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "fetch-limits",
                     "fetch.max.bytes": 1000000, "max.partition.fetch.bytes": 1048576,
                     "auto.offset.reset": "earliest", "enable.auto.commit": False})
consumer.assign([TopicPartition(topic, 0, 0), TopicPartition(topic, 1, 0)])
received, errors = [], []
deadline = time.time() + 20
while len(received) < 2 and time.time() < deadline:
    m = consumer.poll(0.5)
    if m is None:
        continue
    if m.error():
        errors.append(str(m.error()))
        continue
    received.append([m.partition(), len(m.value())])
consumer.close()
print(json.dumps({"received": sorted(received), "errors": errors[:5]}))
