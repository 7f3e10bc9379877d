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
# ListOffsets: earliest, latest, and by timestamp (the first record at or after it).
from kafka import TopicPartition  # noqa: E402

consumer = KafkaConsumer(bootstrap_servers=bootstrap)
partitions = [TopicPartition(TOPIC, p) for p in sorted(consumer.partitions_for_topic(TOPIC))]
begin = consumer.beginning_offsets(partitions)
end = consumer.end_offsets(partitions)
target = BASE_TS + 70
found = consumer.offsets_for_times({tp: target for tp in partitions})
for tp in partitions:
    in_partition = sorted((offset, n) for n, _, p, offset in sent if p == tp.partition)
    assert begin[tp] == 0, begin
    assert end[tp] == len(in_partition), (end, len(in_partition))
    later = [(offset, n) for offset, n in in_partition if BASE_TS + n >= target]
    if later:
        assert found[tp].offset == later[0][0], (tp, found[tp], later[0])
        assert found[tp].timestamp == BASE_TS + later[0][1]
    else:
        assert found[tp] is None, found[tp]
consumer.close()
print("ok", len(sent))
