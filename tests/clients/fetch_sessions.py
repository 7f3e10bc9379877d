"""kafka-python (which uses incremental fetch sessions, KIP-227, by default) reading four
partitions while records arrive in one or two of them at a time: after its first full fetch,
each Fetch names only the partitions whose offset moved and each response only those with
records or a moved high watermark, so a partition left out of a response must still be read
later from where the session holds it.

BOOTSTRAP TOPIC: prints JSON {"received": [[partition, offset, value]...], "session_id": N,
"epoch": N, "errors": [...]}."""
import json
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

bootstrap, topic = sys.argv[1], sys.argv[2]
admin = KafkaAdminClient(bootstrap_servers=bootstrap)
admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])
admin.close()
producer = KafkaProducer(bootstrap_servers=bootstrap)
consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                         fetch_max_wait_ms=100)
partitions = [TopicPartition(topic, p) for p in range(4)]
consumer.assign(partitions)
consumer.seek_to_beginning()

received, errors = [], []


def drain(expected):
    deadline = time.time() + 15
    while len(received) < expected and time.time() < deadline:
        for tp, records in consumer.poll(timeout_ms=200).items():
            for r in records:
                received.append([tp.partition, r.offset, r.value.decode()])


# Rounds of writes to one or two partitions; between them, fetches in the session where the
# other partitions have nothing new and are left out of the responses.
plan = [[0], [0], [2], [2, 3], [1], [3], [0, 1]]
sent = 0
for round_no, targets in enumerate(plan):
    for p in targets:
        for i in range(3):
            producer.send(topic, value=f"r{round_no}-p{p}-{i}".encode(), partition=p)
            sent += 1
    producer.flush(10)
    drain(sent)
    # A few empty fetches in the session between rounds.
    consumer.poll(timeout_ms=300)

handler = consumer._fetcher._session_handlers.get(0)
session_id = handler.next_metadata.session_id if handler else 0
epoch = handler.next_metadata.epoch if handler else 0
consumer.close()
producer.close()
print(json.dumps({"received": received, "session_id": session_id, "epoch": epoch,
                  "errors": errors}))
