"""confluent-kafka against runnel: a compacted topic written with repeated keys and a
tombstone reads back, once the cleaner has run, only the latest value per key, at the offset
the producer was told. Prints the surviving records as JSON."""
import json
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

bootstrap = sys.argv[1]
TOPIC = "profiles"

admin = AdminClient({"bootstrap.servers": bootstrap})
topic = NewTopic(TOPIC, num_partitions=1, replication_factor=1, config={
    "cleanup.policy": "compact", "segment.ms": "300", "min.cleanable.dirty.ratio": "0.01",
    "delete.retention.ms": "60000"})
for future in admin.create_topics([topic]).values():
    future.result(10)

# lz4: compaction must decompress, clean and recompress the batches.
producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, "compression.type": "lz4"})
offsets = {}


def produce(key, value):
    def on_delivery(err, msg):
        assert err is None, err
        offsets[(key, value)] = msg.offset()
    producer.produce(TOPIC, key=key, value=value, on_delivery=on_delivery)
    producer.flush(10)


for version in range(5):
    for key in "abcde":
        produce(key, f"{key}-{version}")
produce("c", None)  # tombstone: c is deleted
time.sleep(0.5)     # past segment.ms: the next record rolls the segment, so all above is cleanable
produce("z", "z-0")

deadline = time.time() + 20
while True:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "compaction-check", "enable.auto.commit": False})
    c.assign([TopicPartition(TOPIC, 0, 0)])
    records = []
    while True:
        msg = c.poll(1.0)
        if msg is None:
            break
        if not msg.error():
            value = msg.value().decode() if msg.value() is not None else None
            records.append([msg.offset(), msg.key().decode(), value])
    c.close()
    keys = [key for _, key, _ in records]
    if len(keys) == len(set(keys)) or time.time() > deadline:
        break
    time.sleep(0.3)
print(json.dumps({"records": records, "offsets": {f"{k}={v}": o for (k, v), o in offsets.items()}}))
