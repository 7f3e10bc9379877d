"""confluent-kafka (PyPI, current librdkafka) against runnel: an idempotent acks=all producer,
a consumer group of two members sharing six partitions with commits, one member leaving.

  phase1 BOOTSTRAP [RF]  create the topic (replication factor RF, default 1), produce 600
                     records, consume about 450 in the group (committing each), print a JSON
                     summary
  phase2 BOOTSTRAP N a new member of the same group reads until N records arrive, printing the
                     committed offsets it found and the records it read as JSON

The Rust test stops and restarts the broker between the phases and checks the two together.
"""
import json
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

TOPIC = "orders"
GROUP = "shop"
PARTITIONS = 6
RECORDS = 600
DEADLINE_S = 60


def consumer(bootstrap, client_id):
    return Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": GROUP,
        "client.id": client_id,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 300,
        "partition.assignment.strategy": "range",
    })


def assigned(c):
    return sorted(tp.partition for tp in c.assignment())


def process(c, msg, processed):
    """Processes a record and commits it; a record whose commit is refused (the group is
    rebalancing) counts as not processed: whoever owns its partition next reads it again."""
    if msg is None or msg.error():
        return
    try:
        c.commit(message=msg, asynchronous=False)
    except KafkaException as e:
        if e.args[0].code() in (KafkaError.REBALANCE_IN_PROGRESS, KafkaError.ILLEGAL_GENERATION,
                                KafkaError.UNKNOWN_MEMBER_ID):
            return
        raise
    processed.append([msg.partition(), msg.offset(), msg.value().decode()])


def phase1(bootstrap, replication_factor=1):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topic = NewTopic(TOPIC, num_partitions=PARTITIONS, replication_factor=replication_factor)
    for future in admin.create_topics([topic]).values():
        future.result(10)

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 5})
    acked, errors = [], []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            acked.append([msg.partition(), msg.offset(), msg.value().decode()])

    for i in range(RECORDS):
        producer.produce(TOPIC, key=f"k{i}", value=f"v{i}", on_delivery=on_delivery)
        producer.poll(0)
    assert producer.flush(30) == 0, "unflushed records"
    assert not errors, errors
    assert len(acked) == RECORDS, len(acked)

    c1, c2 = consumer(bootstrap, "c1"), consumer(bootstrap, "c2")
    c1.subscribe([TOPIC])
    c2.subscribe([TOPIC])
    processed = []
    deadline = time.time() + DEADLINE_S
    # Both members share the six partitions, three each, before half the records are read.
    split = None
    while time.time() < deadline:
        for c in (c1, c2):
            process(c, c.poll(0.05), processed)
        a1, a2 = assigned(c1), assigned(c2)
        if len(a1) == 3 and len(a2) == 3:
            split = (a1, a2)
        if split and len(processed) >= RECORDS // 2:
            break
    assert split, f"no 3/3 split: {assigned(c1)} {assigned(c2)}"
    assert sorted(split[0] + split[1]) == list(range(PARTITIONS)), split
    c1.close()  # leaves the group: c2 takes over its partitions
    took_over = False
    while time.time() < deadline and len(processed) < RECORDS * 3 // 4:
        process(c2, c2.poll(0.05), processed)
        took_over = took_over or assigned(c2) == list(range(PARTITIONS))
    while time.time() < deadline and not took_over:
        process(c2, c2.poll(0.05), processed)
        took_over = assigned(c2) == list(range(PARTITIONS))
    assert took_over, f"c2 did not take over: {assigned(c2)}"
    c2.close()
    print(json.dumps({"acked": acked, "processed": processed, "split": split}))


def phase2(bootstrap, expected):
    c = consumer(bootstrap, "c3")
    committed = c.committed([TopicPartition(TOPIC, p) for p in range(PARTITIONS)], timeout=10)
    c.subscribe([TOPIC])
    records = []
    deadline = time.time() + DEADLINE_S
    while time.time() < deadline and len(records) < expected:
        msg = c.poll(0.1)
        if msg is not None and not msg.error():
            records.append([msg.partition(), msg.offset(), msg.value().decode()])
    # A little longer: anything beyond `expected` would be a record read twice.
    end = time.time() + 1.0
    while time.time() < end:
        msg = c.poll(0.1)
        if msg is not None and not msg.error():
            records.append([msg.partition(), msg.offset(), msg.value().decode()])
    c.close()
    print(json.dumps({"committed": {tp.partition: tp.offset for tp in committed}, "records": records}))


if __name__ == "__main__":
    if sys.argv[1] == "phase1":
        phase1(sys.argv[2], *[int(a) for a in sys.argv[3:4]])
    else:
        phase2(sys.argv[2], int(sys.argv[3]))
