"""aiokafka (PyPI, asyncio) against runnel: the admin client creates a topic; an idempotent
producer writes keyed records with headers; a transactional producer commits one transaction
and aborts another; read_committed and read_uncommitted consumers read them back; a consumer
group of two members splits the partitions and commits, and a member that joins afterwards
resumes at the commits; offsets by time and end offsets. Prints one JSON object with what
each step saw (the Rust test asserts it)."""
import asyncio
import json
import sys

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

bootstrap = sys.argv[1]
TOPIC = "aio-orders"
TXN_TOPIC = "aio-txn"
BASE_TS = 1_790_000_000_000


async def drain(consumer, want, timeout_s=20.0):
    """Records from `consumer` until `want` arrived or `timeout_s` passed, by (partition,
    offset)."""
    got = {}
    deadline = asyncio.get_running_loop().time() + timeout_s
    while len(got) < want and asyncio.get_running_loop().time() < deadline:
        batches = await consumer.getmany(timeout_ms=500)
        for tp, records in batches.items():
            for r in records:
                got[(tp.partition, r.offset)] = r
    return got


async def main():
    out = {}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([
        NewTopic(TOPIC, num_partitions=3, replication_factor=1),
        NewTopic(TXN_TOPIC, num_partitions=1, replication_factor=1),
    ])
    out["topics"] = sorted(t for t in await admin.list_topics() if t.startswith("aio-"))
    await admin.close()

    # An idempotent producer: keyed records with headers and timestamps, acks=all.
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    sent = {}
    for n in range(60):
        md = await producer.send_and_wait(
            TOPIC, key=f"k{n % 7}".encode(), value=f"v{n}".encode(),
            headers=[("n", str(n).encode())], timestamp_ms=BASE_TS + n)
        sent[(md.partition, md.offset)] = n
    await producer.stop()
    out["sent"] = len(sent)
    per_key = {}
    for (partition, _), n in sent.items():
        per_key.setdefault(f"k{n % 7}", set()).add(partition)
    out["keys_in_one_partition"] = all(len(p) == 1 for p in per_key.values())

    # Read back by one consumer without a group: every record, its fields as sent.
    consumer = AIOKafkaConsumer(TOPIC, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, max_partition_fetch_bytes=200)
    await consumer.start()
    got = await drain(consumer, len(sent))
    out["read"] = len(got)
    out["fields_match"] = all(
        r.value == f"v{sent[k]}".encode() and r.key == f"k{sent[k] % 7}".encode()
        and r.timestamp == BASE_TS + sent[k] and list(r.headers) == [("n", str(sent[k]).encode())]
        for k, r in got.items() if k in sent)
    partitions = [TopicPartition(TOPIC, p) for p in range(3)]
    end = await consumer.end_offsets(partitions)
    out["end_offsets_sum"] = sum(end.values())
    found = await consumer.offsets_for_times({tp: BASE_TS + 30 for tp in partitions})
    # The first record at or after the time in each partition.
    expected = {}
    for (partition, offset), n in sent.items():
        if n >= 30 and (partition not in expected or offset < expected[partition]):
            expected[partition] = offset
    out["offsets_for_times_match"] = all(
        (found[tp].offset if found[tp] else None) == expected.get(tp.partition) for tp in partitions)
    await consumer.stop()

    # Transactions: one committed, one aborted, then one more committed.
    txn = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id="aio-txn-1")
    await txn.start()
    for outcome, values in (("commit", [b"c1", b"c2"]), ("abort", [b"a1", b"a2"]), ("commit", [b"c3"])):
        await txn.begin_transaction()
        for v in values:
            await txn.send_and_wait(TXN_TOPIC, v)
        if outcome == "commit":
            await txn.commit_transaction()
        else:
            await txn.abort_transaction()
    await txn.stop()
    for isolation in ("read_committed", "read_uncommitted"):
        reader = AIOKafkaConsumer(TXN_TOPIC, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                  enable_auto_commit=False, isolation_level=isolation)
        await reader.start()
        want = 3 if isolation == "read_committed" else 5
        records = await drain(reader, want, timeout_s=10.0)
        out[isolation] = [r.value.decode() for _, r in sorted(records.items())]
        await reader.stop()

    # A group of two splits the three partitions, each commits what it read; a member that
    # joins afterwards starts at the commits and reads nothing again.
    members = [AIOKafkaConsumer(TOPIC, bootstrap_servers=bootstrap, group_id="aio-group",
                                auto_offset_reset="earliest", enable_auto_commit=False)
               for _ in range(2)]
    for m in members:
        await m.start()
    seen = {}
    assigned = [set(), set()]
    deadline = asyncio.get_running_loop().time() + 30
    while len(seen) < len(sent) and asyncio.get_running_loop().time() < deadline:
        for i, m in enumerate(members):
            batches = await m.getmany(timeout_ms=300)
            for tp, records in batches.items():
                for r in records:
                    seen[(tp.partition, r.offset)] = i
            assigned[i] = {tp.partition for tp in m.assignment()}
    for m in members:
        await m.commit()
    out["group_read"] = len(seen)
    out["group_split"] = sorted(len(a) for a in assigned)
    out["group_disjoint"] = not (assigned[0] & assigned[1])
    committed = [await members[0].committed(tp) for tp in partitions]
    out["committed"] = committed
    for m in members:
        await m.stop()
    late = AIOKafkaConsumer(TOPIC, bootstrap_servers=bootstrap, group_id="aio-group",
                            auto_offset_reset="earliest", enable_auto_commit=False)
    await late.start()
    again = await drain(late, 1, timeout_s=4.0)
    out["read_again"] = len(again)
    await late.stop()
    print(json.dumps(out))


asyncio.run(main())
