"""A kafka-python consumer waiting at the end of a replicated partition with a long
fetch.max.wait.ms, while an acks=all producer writes one record a second: each record must
reach the consumer as soon as the followers confirm it (the leader's high watermark rises),
not when the consumer's fetch times out. Kafka completes a waiting (delayed) fetch when the
high watermark moves (`Partition.maybeIncrementLeaderHW` → `tryCompleteDelayedRequests`).

BOOTSTRAP TOPIC WAIT_MS: prints JSON {"delays_ms": [...], "values": [...]}: for each record,
milliseconds from its acknowledgement to its arrival at the consumer."""
import json
import sys
import threading
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

bootstrap, topic, wait_ms = sys.argv[1], sys.argv[2], int(sys.argv[3])
consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                         fetch_max_wait_ms=wait_ms)
tp = TopicPartition(topic, 0)
consumer.assign([tp])
consumer.seek_to_end(tp)
consumer.position(tp)
acked, arrived, values = {}, {}, []


def consume():
    deadline = time.time() + 30
    while len(arrived) < 5 and time.time() < deadline:
        for records in consumer.poll(timeout_ms=200).values():
            for r in records:
                arrived[r.value.decode()] = time.time()
                values.append(r.value.decode())


reader = threading.Thread(target=consume)
reader.start()
time.sleep(1.0)  # the consumer is parked in a fetch at the partition's end
producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
for i in range(5):
    value = f"v{i}"
    producer.send(topic, value=value.encode(), partition=0).get(timeout=10)
    acked[value] = time.time()
    time.sleep(1.0)
reader.join()
consumer.close()
producer.close()
delays = [round((arrived[v] - acked[v]) * 1000) if v in arrived else None for v in sorted(acked)]
print(json.dumps({"delays_ms": delays, "values": values}))
