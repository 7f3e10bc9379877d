"""kafka-python (PyPI) against runnel: records with keys, headers and explicit timestamps,
plain and gzip-compressed, read back with the same fields at the offsets the producer was
told. Prints "ok N" on success; any mismatch fails an assertion."""
import sys

from kafka import KafkaConsumer, KafkaProducer

bootstrap = sys.argv[1]
TOPIC = "kp-roundtrip"
BASE_TS = 1_700_000_000_000

sent = []
for compression in (None, "gzip"):
    producer = KafkaProducer(bootstrap_servers=bootstrap, compression_type=compression, acks="all")
    futures = []
    for i in range(50):
        n = len(sent) + len(futures)
        headers = [("trace", f"t{n}".encode()), ("empty", b"")]
        futures.append((n, headers, producer.send(
            TOPIC, key=f"k{n}".encode(), value=f"v{n}".encode(), headers=headers, timestamp_ms=BASE_TS + n)))
    for n, headers, future in futures:
        meta = future.get(timeout=10)
        sent.append((n, headers, meta.partition, meta.offset))
    producer.close()

consumer = KafkaConsumer(
    TOPIC, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
    enable_auto_commit=False, consumer_timeout_ms=5000)
got = {}
for record in consumer:
    got[(record.partition, record.offset)] = record
    if len(got) == len(sent):
        break
consumer.close()

assert len(got) == len(sent), (len(got), len(sent))
for n, headers, partition, offset in sent:
    record = got[(partition, offset)]
    assert record.key == f"k{n}".encode(), record
    assert record.value == f"v{n}".encode(), record
    assert record.timestamp == BASE_TS + n, record
    assert [(k, v) for k, v in record.headers] == headers, record.headers
print("ok", len(sent))
