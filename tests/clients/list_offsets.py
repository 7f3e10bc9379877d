"""confluent-kafka's AdminClient.list_offsets with every OffsetSpec (KIP-734's max timestamp
among them) on a topic of two partitions: partition 0 gets records with the timestamps given,
partition 1 stays empty.

BOOTSTRAP TOPIC TS,TS,...: prints JSON {"earliest": [[offset, timestamp] per partition],
"latest": [...], "max_timestamp": [...], "at_25": [...], "epochs": partition 0's leader epoch
for earliest, latest and max timestamp}."""
import json
import sys

from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec

bootstrap, topic, stamps = sys.argv[1], sys.argv[2], [int(t) for t in sys.argv[3].split(",")]
admin = AdminClient({"bootstrap.servers": bootstrap})
admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])[topic].result(10)
producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50,
                     "compression.type": "lz4"})
for i, ts in enumerate(stamps):
    producer.produce(topic, value=f"v{i}".encode(), partition=0, timestamp=ts)
producer.flush(10)


def ask(spec):
    futures = admin.list_offsets({TopicPartition(topic, p): spec for p in (0, 1)})
    answers = {tp.partition: f.result(10) for tp, f in futures.items()}
    return [[answers[p].offset, answers[p].timestamp] for p in (0, 1)]


print(json.dumps({
    "earliest": ask(OffsetSpec.earliest()),
    "latest": ask(OffsetSpec.latest()),
    "max_timestamp": ask(OffsetSpec.max_timestamp()),
    "at_25": ask(OffsetSpec.for_timestamp(25)),
    "epochs": [admin.list_offsets({TopicPartition(topic, 0): spec})[TopicPartition(topic, 0)]
               .result(10).leader_epoch
               for spec in (OffsetSpec.earliest(), OffsetSpec.latest(),
                            OffsetSpec.max_timestamp())],
}))
