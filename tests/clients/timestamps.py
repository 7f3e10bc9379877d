"""Topic rules the broker applies to what producers send, through confluent-kafka:
LogAppendTime (the broker's clock replaces the producer's timestamps), the KIP-937 timestamp
bounds (a record too far in the past is refused), and compression.type (the broker
recompresses a batch written with another codec).

BOOTSTRAP: creates topics "appended" (message.timestamp.type=LogAppendTime), "bounded"
(message.timestamp.before.max.ms=3600000, after.max.ms=3600000) and "squeezed"
(compression.type=gzip), produces to each, reads back, and prints one JSON object."""
import json
import sys
import time

from confluent_kafka import Consumer, Producer, TIMESTAMP_LOG_APPEND_TIME, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

bootstrap = sys.argv[1]
admin = AdminClient({"bootstrap.servers": bootstrap})
topics = {
    "appended": {"message.timestamp.type": "LogAppendTime"},
    "bounded": {"message.timestamp.before.max.ms": "3600000",
                "message.timestamp.after.max.ms": "3600000"},
    "squeezed": {"compression.type": "gzip"},
}
for name, future in admin.create_topics(
        [NewTopic(n, num_partitions=1, replication_factor=1, config=c)
         for n, c in topics.items()]).items():
    future.result(10)

out = {}
reports = {}


def on_delivery(err, msg):
    reports.setdefault(msg.topic(), []).append({
        "error": err.name() if err else None,
        "offset": msg.offset(),
        "timestamp_type": msg.timestamp()[0],
        "timestamp": msg.timestamp()[1],
    })


producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0,
                     "compression.type": "snappy", "message.send.max.retries": 0})
before = int(time.time() * 1000)
producer.produce("appended", value=b"a", timestamp=1000, on_delivery=on_delivery)
producer.produce("bounded", value=b"now", on_delivery=on_delivery)
producer.flush(10)
# One batch each: librdkafka names a batch's one refused record by the partition's code
# (INVALID_TIMESTAMP), several by INVALID_RECORD (KIP-467 handling in rdkafka_request.c).
producer.produce("bounded", value=b"1970", timestamp=1000, on_delivery=on_delivery)
producer.flush(10)
producer.produce("bounded", value=b"future", timestamp=before + 7_200_000,
                 on_delivery=on_delivery)
for i in range(20):
    producer.produce("squeezed", key=f"k{i}", value=f"value {i} " * 20, on_delivery=on_delivery)
producer.flush(10)
after = int(time.time() * 1000)
out["window"] = [before, after]
out["reports"] = reports


def read(topic, count):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"read-{topic}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 0)])
    got = []
    deadline = time.time() + 10
    while len(got) < count and time.time() < deadline:
        msg = consumer.poll(1)
        if msg is None or msg.error():
            continue
        got.append({"offset": msg.offset(), "value": msg.value().decode(),
                    "timestamp_type": msg.timestamp()[0], "timestamp": msg.timestamp()[1]})
    consumer.close()
    return got


out["appended"] = read("appended", 1)
out["bounded"] = read("bounded", 1)
out["squeezed"] = read("squeezed", 20)
out["log_append_time_type"] = TIMESTAMP_LOG_APPEND_TIME
print(json.dumps(out))
