"""Transactions with confluent-kafka (KIP-98): what a reader sees of aborted, expired and
fenced transactions.

BOOTSTRAP: prints JSON with one entry per case, each with what read_committed and
read_uncommitted consumers read (values, in offset order):
- "abort": a transaction of a0..a4 aborted, then one of c0..c2 committed;
- "timeout": a transaction holding t0 left open by a producer with transaction.timeout.ms
  2000, then "after" written without a transaction; "visible_after_s" is when "after" became
  readable under read_committed (the last stable offset was held by the open transaction
  until the broker aborted it); "lso_while_open" / "lso_after" the read_committed end offset;
  "late_commit" the error the expired producer's commit got;
- "fence": producer 1 writes z1 in a transaction; producer 2 with the same transactional.id
  starts; producer 1 then tries z2 and a commit ("old_error": its error, "old_fatal"), and
  producer 2 commits y1.
- "unstable": a transaction holding group "unstable-group"'s commit of offset 42 for
  tx-abort/0 commits after 2 s; "committed" is what a read_committed consumer's committed()
  asked at once got, "waited_s" when.
- "compact": on a compacted topic (segment.ms 100), a committed transaction of k=v1 and
  j=j1, an aborted one of k=v2, a committed one of m=m1, then plain f=... records until the
  broker's cleaner has run (at most 20 s); "cleaned_after_s" when v2 was gone from
  read_uncommitted (null: never).
Last, producer "tx-open" leaves a transaction holding tx-fence/0 open, for the caller."""
import json
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

bootstrap = sys.argv[1]
admin = AdminClient({"bootstrap.servers": bootstrap})
for f in admin.create_topics([NewTopic(t, 1, 1) for t in ("tx-abort", "tx-timeout", "tx-fence")]).values():
    f.result(10)


def producer(txn_id, **extra):
    conf = {"bootstrap.servers": bootstrap, "transactional.id": txn_id, "log_level": 0}
    conf.update(extra)
    p = Producer(conf)
    p.init_transactions(30)
    return p


def read(topic, level, seconds=3.0):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"r-{topic}-{level}-{time.time()}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "isolation.level": level, "log_level": 0})
    c.assign([TopicPartition(topic, 0)])
    got, end = [], time.time() + seconds
    while time.time() < end:
        m = c.poll(0.2)
        if m is not None and not m.error():
            got.append(m.value().decode())
    c.close()
    return got


def end_offset(topic, level):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "ends", "log_level": 0,
                  "isolation.level": level})
    end = c.get_watermark_offsets(TopicPartition(topic, 0), 10, cached=False)[1]
    c.close()
    return end


def both(topic):
    return {"committed": read(topic, "read_committed"),
            "uncommitted": read(topic, "read_uncommitted")}


def error_of(call):
    try:
        call()
        return None, None
    except KafkaException as e:
        return e.args[0].name(), e.args[0].fatal()


out = {}

# An aborted transaction, then a committed one.
p = producer("tx-abort")
p.begin_transaction()
for i in range(5):
    p.produce("tx-abort", value=f"a{i}")
p.flush(10)
p.abort_transaction(10)
p.begin_transaction()
for i in range(3):
    p.produce("tx-abort", value=f"c{i}")
p.commit_transaction(10)
out["abort"] = both("tx-abort")

# A transaction left open past its timeout.
p = producer("tx-timeout", **{"transaction.timeout.ms": 2000})
p.begin_transaction()
p.produce("tx-timeout", value="t0")
p.flush(10)
opened = time.time()
plain = Producer({"bootstrap.servers": bootstrap, "log_level": 0})
plain.produce("tx-timeout", value="after")
plain.flush(10)
lso_while_open = end_offset("tx-timeout", "read_committed")
visible_after = None
while time.time() - opened < 20:
    if "after" in read("tx-timeout", "read_committed", 0.5):
        visible_after = time.time() - opened
        break
late = error_of(lambda: p.commit_transaction(10))
out["timeout"] = dict(both("tx-timeout"), visible_after_s=visible_after,
                      lso_while_open=lso_while_open,
                      lso_after=end_offset("tx-timeout", "read_committed"),
                      late_commit=late[0])

# Two producers with one transactional.id: the older is fenced.
old = producer("tx-fence")
old.begin_transaction()
old.produce("tx-fence", value="z1")
old.flush(10)
new = producer("tx-fence")


def old_goes_on():
    old.produce("tx-fence", value="z2")
    old.flush(10)
    old.commit_transaction(10)


old_error, old_fatal = error_of(old_goes_on)
new.begin_transaction()
new.produce("tx-fence", value="y1")
new.commit_transaction(10)
out["fence"] = dict(both("tx-fence"), old_error=old_error, old_fatal=old_fatal)

# KIP-447: while an open transaction holds a group's commit, a read_committed consumer's
# committed() (OffsetFetch with require_stable) waits for it instead of reading the older one.
import threading
holder = producer("tx-unstable")
reader_meta = Consumer({"bootstrap.servers": bootstrap, "group.id": "unstable-group",
                        "log_level": 0})
holder.begin_transaction()
holder.produce("tx-timeout", value="u")
holder.send_offsets_to_transaction([TopicPartition("tx-abort", 0, 42)],
                                   reader_meta.consumer_group_metadata(), 10)
started = time.time()
threading.Timer(2.0, lambda: holder.commit_transaction(10)).start()
asker = Consumer({"bootstrap.servers": bootstrap, "group.id": "unstable-group",
                  "isolation.level": "read_committed", "log_level": 0})
seen = asker.committed([TopicPartition("tx-abort", 0)], 15)[0].offset
out["unstable"] = {"committed": seen, "waited_s": time.time() - started}
asker.close()
reader_meta.close()

# Left open (the caller describes it): the producer exits with its transaction Ongoing.
left = producer("tx-open")
left.begin_transaction()
left.produce("tx-fence", value="open")
left.flush(10)

# Compaction of transactional data (Kafka's LogCleaner: aborted records go and shadow
# nothing; committed ones compact by key).
for f in admin.create_topics([NewTopic("tx-compact", 1, 1, config={
        "cleanup.policy": "compact", "segment.ms": "100", "delete.retention.ms": "500",
        "min.cleanable.dirty.ratio": "0.01"})]).values():
    f.result(10)
p = producer("tx-compact")
for records, commit in (([("k", "v1"), ("j", "j1")], True), ([("k", "v2")], False),
                        ([("m", "m1")], True)):
    p.begin_transaction()
    for key, value in records:
        p.produce("tx-compact", key=key, value=value)
    if commit:
        p.commit_transaction(10)
    else:
        p.abort_transaction(10)
plain = Producer({"bootstrap.servers": bootstrap, "log_level": 0, "linger.ms": 0})
started, cleaned_after, i = time.time(), None, 0
while time.time() - started < 20:
    time.sleep(0.2)
    plain.produce("tx-compact", key="f", value=f"f{i}")
    plain.flush(10)
    i += 1
    if i % 5 == 0 and "v2" not in read("tx-compact", "read_uncommitted", 1.0):
        cleaned_after = time.time() - started
        break
out["compact"] = dict(both("tx-compact"), cleaned_after_s=cleaned_after)

print(json.dumps(out))
