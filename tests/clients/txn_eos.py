"""Exactly-once consume-transform-produce with confluent-kafka transactions (KIP-98, KIP-447),
through crashes.

"run BOOTSTRAP RECORDS KILLS": "setup", then runs the application ("app") as a child process,
SIGKILLs it KILLS times, each time while a transaction is open (after its records were
produced, before the commit), and starts it again with the same transactional.id; the last
run goes to the end of the input. Then "check".

"setup BOOTSTRAP RECORDS [REPLICATION]": creates "eos-in" and "eos-out" (3 partitions each,
REPLICATION replicas, default 1) and writes RECORDS records "0".."RECORDS-1" to "eos-in",
round robin, acks=all.

"app BOOTSTRAP": the application: subscribes to "eos-in" in group "eos" (read_committed), and
in each transaction writes "out-<value>" to "eos-out" for a few records and commits the
group's positions with send_offsets_to_transaction. An abortable error aborts and rewinds
to the committed offsets; a retriable one is retried. Prints "open N" when a transaction
holding records up to N is open, "done N" once N are committed (counted in this run),
"finished" when the input is exhausted.

"check BOOTSTRAP": prints JSON {"outputs": the read_committed output values in order of
partition and offset, "uncommitted": how many records read_uncommitted sees, "committed":
the group's committed offset per input partition, "ends": the input's end offsets}; "run"
adds "kills" and "runs". The caller checks every input's output is there exactly once."""
import json
import os
import signal
import subprocess
import sys
import time

from confluent_kafka import (OFFSET_BEGINNING, Consumer, KafkaException, Producer,
                             TopicPartition)
from confluent_kafka.admin import AdminClient, NewTopic

IN, OUT, GROUP, TXN_ID = "eos-in", "eos-out", "eos", "eos-app"
PER_TXN = 7


def app(bootstrap):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP,
                         "group.instance.id": "eos-app-1", "session.timeout.ms": 6000,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "isolation.level": "read_committed", "log_level": 0})
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": TXN_ID,
                         "transaction.timeout.ms": 30000, "log_level": 0})
    producer.init_transactions(60)
    consumer.subscribe([IN])
    done, idle_since = 0, None
    while True:
        messages = consumer.consume(PER_TXN, 1.0)
        messages = [m for m in messages if not m.error()]
        if not messages:
            idle_since = idle_since or time.time()
            if time.time() - idle_since > 4:
                print("finished", flush=True)
                return
            continue
        idle_since = None
        try:
            producer.begin_transaction()
            for m in messages:
                producer.produce(OUT, key=m.key(), value=b"out-" + m.value())
            producer.flush(30)
            print(f"open {done + len(messages)}", flush=True)
            time.sleep(0.05)  # a window in which the test kills something mid-transaction
            positions = consumer.position(consumer.assignment())
            retrying(lambda: producer.send_offsets_to_transaction(
                positions, consumer.consumer_group_metadata(), 30))
            retrying(lambda: producer.commit_transaction(30))
            done += len(messages)
            print(f"done {done}", flush=True)
        except KafkaException as e:
            if not e.args[0].txn_requires_abort():
                raise
            print(f"aborting: {e}", file=sys.stderr, flush=True)
            producer.abort_transaction(60)
            rewind(consumer)


def retrying(call):
    """Calls `call` again while it fails with a retriable error (the broker restarting)."""
    deadline = time.time() + 60
    while True:
        try:
            return call()
        except KafkaException as e:
            if not e.args[0].retriable() or time.time() > deadline:
                raise
            time.sleep(0.2)


def rewind(consumer):
    """Back to the group's committed offsets (what the aborted transaction did not commit)."""
    assignment = consumer.assignment()
    for tp in consumer.committed(assignment, 30):
        tp.offset = tp.offset if tp.offset >= 0 else OFFSET_BEGINNING
        consumer.seek(tp)


def setup(bootstrap, records, replication=1):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topics = [NewTopic(IN, 3, replication), NewTopic(OUT, 3, replication)]
    for f in admin.create_topics(topics).values():
        f.result(30)
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "log_level": 0})
    for i in range(records):
        p.produce(IN, key=str(i).encode(), value=str(i).encode(), partition=i % 3)
    p.flush(30)


def run(bootstrap, records, kills):
    setup(bootstrap, records)
    kills_done, runs = 0, 0
    # Kill after this many committed records in each run, while a transaction is open.
    thresholds = [records * (k + 1) // (kills + 2) for k in range(kills)]
    deadline = time.time() + 240
    while time.time() < deadline:
        runs += 1
        child = subprocess.Popen([sys.executable, __file__, "app", bootstrap],
                                 stdout=subprocess.PIPE, text=True)
        killed = False
        for line in child.stdout:
            word, _, n = line.strip().partition(" ")
            if word == "finished":
                break
            if (word == "open" and kills_done < kills
                    and int(n) >= thresholds[kills_done]):
                child.send_signal(signal.SIGKILL)
                kills_done += 1
                killed = True
                break
        child.wait()
        if not killed:
            break
    result = check(bootstrap)
    result.update({"kills": kills_done, "runs": runs})
    return result


def check(bootstrap):
    """What a read_committed reader of the output sees, and what the group committed."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "eos-check",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "isolation.level": "read_committed", "log_level": 0})
    outputs = read_all(c, OUT)
    u = Consumer({"bootstrap.servers": bootstrap, "group.id": "eos-check-u",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "isolation.level": "read_uncommitted", "log_level": 0})
    uncommitted = len(read_all(u, OUT))
    g = Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP, "log_level": 0})
    committed = g.committed([TopicPartition(IN, i) for i in range(3)], 10)
    ends = [g.get_watermark_offsets(TopicPartition(IN, i), 10)[1] for i in range(3)]
    g.close()
    return {"outputs": outputs, "uncommitted": uncommitted,
            "committed": [tp.offset for tp in committed], "ends": ends}


def read_all(consumer, topic):
    parts = [TopicPartition(topic, i) for i in range(3)]
    ends = [consumer.get_watermark_offsets(tp, 10)[1] for tp in parts]
    consumer.assign(parts)
    got = {i: [] for i in range(3)}
    deadline = time.time() + 20
    while time.time() < deadline:
        m = consumer.poll(0.5)
        if m is not None and not m.error():
            got[m.partition()].append(m.value().decode())
        positions = consumer.position(parts)
        if all(p.offset >= 0 and p.offset >= e for p, e in zip(positions, ends)):
            break
    consumer.close()
    return [v for i in range(3) for v in got[i]]


if __name__ == "__main__":
    mode, bootstrap = sys.argv[1], sys.argv[2]
    if mode == "app":
        try:
            app(bootstrap)
        except KafkaException as e:
            print(f"error {e}", file=sys.stderr, flush=True)
            sys.exit(1)
    elif mode == "setup":
        setup(bootstrap, int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 1)
    elif mode == "check":
        print(json.dumps(check(bootstrap)))
    else:
        print(json.dumps(run(bootstrap, int(sys.argv[3]), int(sys.argv[4]))))
