"""Clients of the nemesis run (tests/tests/nemesis.rs): each writes its history as JSON lines.

  produce BOOTSTRAP TOPIC ACKS SECONDS PARTITIONS NAME OUT STOP
      Sends NAME-0, NAME-1, ... (partition = sequence mod PARTITIONS) every 10 ms for SECONDS
      or until the file STOP exists, idempotent when ACKS is all, then waits for every
      delivery report. One line per record:
      {"v", "p", "o", "t"} when acknowledged, {"v", "p", "e", "t"} when it failed (its fate
      unknown); "t" is the wall clock in milliseconds when the report came.
  consume BOOTSTRAP TOPIC GROUP SECONDS NAME OUT STOP
      A consumer-group member that commits after every poll (synchronously), until SECONDS
      passed or STOP exists. Lines:
      {"assign": [p...], "epoch": n, "t": ms}, {"revoke": [p...]},
      {"read": [p, o, v], "epoch": n}, {"commit": {p: offset}, "epoch": n, "t": ms} (the
      partitions the coordinator acknowledged), {"commit_error": "..."},
      {"hw": [p, high]} (the high watermark the last fetch answered).
  readall BOOTSTRAP TOPIC PARTITIONS GROUP OUT
      Reads every partition from its start to its high watermark, and the group's committed
      offsets: {"records": {p: [[o, v], ...]}, "high": {p: h}, "committed": {p: o}}.
  produce_once BOOTSTRAP TOPIC VALUE
      One record, acks=all, no retries: {"offset": o} or {"error": NAME, "code": n}.
"""

import json
import os
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition


def produce(bootstrap, topic, acks, seconds, partitions, name, out, stop):
    idempotent = acks == "all"
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": acks,
            "enable.idempotence": idempotent,
            "linger.ms": 5,
            "message.timeout.ms": 60000,
            # librdkafka's own default (60 s) unless NEMESIS_SOCKET_TIMEOUT_MS says otherwise:
            # 5000 makes produce requests time out in flight during faults, which reproduces
            # the open duplicate of docs/nemesis.md.
            "socket.timeout.ms": int(os.environ.get("NEMESIS_SOCKET_TIMEOUT_MS", "60000")),
            "topic.metadata.refresh.interval.ms": 1000,
            "retry.backoff.ms": 100,
            # librdkafka's own account of idempotence (epoch bumps, drains, refused
            # sequences) in the kept stderr: what a duplicate is traced back with.
            **({"debug": "eos"} if idempotent else {}),
            # One request in flight per connection for the checked producer. With more,
            # librdkafka answers a partition's skipped sequence (a request behind one that
            # failed) by bumping the producer epoch, which renumbers every partition's
            # unacknowledged messages, also ones the broker may already hold (a timeout or a
            # leader change just before): they are stored twice, against Kafka too
            # (librdkafka issue #4953, PR #4972). NEMESIS_MAX_IN_FLIGHT=5 shows it.
            **(
                {"max.in.flight.requests.per.connection": int(os.environ.get("NEMESIS_MAX_IN_FLIGHT", "1"))}
                if idempotent
                else {}
            ),
        }
    )
    # Lines are written as reports come, so a producer that dies still leaves its history.
    f = open(out, "w", buffering=1)  # line-buffered: a killed producer keeps its reports
    reported = [0]

    def report(err, msg):
        value = msg.value().decode()
        now_ms = int(time.time() * 1000)
        if err is None:
            line = {"v": value, "p": msg.partition(), "o": msg.offset(), "t": now_ms}
        else:
            line = {"v": value, "p": msg.partition(), "e": err.name(), "t": now_ms}
        f.write(json.dumps(line) + "\n")
        reported[0] += 1

    deadline = time.monotonic() + seconds
    seq = 0
    fatal = None
    while time.monotonic() < deadline and not os.path.exists(stop):
        try:
            producer.produce(
                topic, f"{name}-{seq}".encode(), partition=seq % partitions, on_delivery=report
            )
            seq += 1
        except BufferError:
            pass
        except KafkaException as e:  # a fatal idempotence error: stop sending, keep the history
            fatal = str(e)
            break
        producer.poll(0.01)
    left = producer.flush(90)
    f.close()
    print(json.dumps({"sent": seq, "reported": reported[0], "unreported": left, "fatal": fatal}))


def consume(bootstrap, topic, group, seconds, name, out, stop):
    f = open(out, "w", buffering=1)

    def write(line):
        f.write(json.dumps(line) + "\n")

    epoch = [0]

    def on_assign(consumer, partitions):
        epoch[0] += 1
        write(
            {
                "assign": [p.partition for p in partitions],
                "epoch": epoch[0],
                "t": int(time.time() * 1000),
            }
        )

    def on_revoke(consumer, partitions):
        write({"revoke": [p.partition for p in partitions], "epoch": epoch[0]})

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "client.id": name,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 1000,
            "socket.timeout.ms": 5000,
            "topic.metadata.refresh.interval.ms": 1000,
        }
    )
    consumer.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
    deadline = time.monotonic() + seconds
    reads = 0
    while time.monotonic() < deadline and not os.path.exists(stop):
        messages = consumer.consume(num_messages=200, timeout=0.5)
        offsets = {}
        for m in messages:
            if m.error():
                continue
            write({"read": [m.partition(), m.offset(), m.value().decode()], "epoch": epoch[0]})
            offsets[m.partition()] = m.offset() + 1
            reads += 1
        for p in offsets:
            try:
                _, high = consumer.get_watermark_offsets(TopicPartition(topic, p), cached=True)
                if high >= 0:
                    write({"hw": [p, high]})
            except Exception:
                pass
        if offsets:
            try:
                answered = consumer.commit(
                    offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()],
                    asynchronous=False,
                )
                done = {str(tp.partition): tp.offset for tp in answered if tp.error is None}
                refused = [str(tp.error) for tp in answered if tp.error is not None]
                if done:
                    write({"commit": done, "epoch": epoch[0], "t": int(time.time() * 1000)})
                if refused:
                    write({"commit_error": "; ".join(refused)})
            except Exception as e:  # refused or unanswered: its fate is unknown
                write({"commit_error": str(e)})
    # The history and the summary first: closing (LeaveGroup) may wait on a coordinator that
    # is still coming back, and the test bounds how long it waits for this process.
    f.close()
    print(json.dumps({"read": reads}), flush=True)
    consumer.close()


def watermark(consumer, tp, deadline):
    """The partition's high watermark, asked again while its leadership moves."""
    while True:
        try:
            return consumer.get_watermark_offsets(tp, timeout=10)[1]
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def readall(bootstrap, topic, partitions, group, out):
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    committed = {}
    for tp in consumer.committed(tps, timeout=30):
        if tp.offset >= 0:
            committed[str(tp.partition)] = tp.offset
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    records = {str(p): [] for p in range(partitions)}
    position = {p: 0 for p in range(partitions)}
    high = {}
    # A leader elected just before may answer a high watermark that is still rising: read to
    # it, ask again, and stop once two answers in a row agree and everything below is read.
    deadline = time.monotonic() + 120
    stable = 0
    while stable < 2 and time.monotonic() < deadline:
        before = dict(high)
        for tp in tps:
            high[tp.partition] = watermark(consumer, tp, deadline)
        while any(position[p] < high[p] for p in high) and time.monotonic() < deadline:
            for m in consumer.consume(num_messages=1000, timeout=0.5):
                if m.error():
                    if m.error().code() != KafkaError._PARTITION_EOF:
                        print(f"read error: {m.error()}", file=sys.stderr)
                    continue
                records[str(m.partition())].append([m.offset(), m.value().decode()])
                position[m.partition()] = m.offset() + 1
        stable = stable + 1 if high == before else 0
        if stable < 2:
            time.sleep(0.5)
    done = {p for p in high if position[p] >= high[p]}
    consumer.close()
    with open(out, "w") as f:
        json.dump({"records": records, "high": {str(p): h for p, h in high.items()}, "committed": committed}, f)
    print(json.dumps({"complete": len(done) == partitions}))


def produce_once(bootstrap, topic, value):
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": False,
            "retries": 0,
            "message.timeout.ms": 10000,
        }
    )
    result = {}

    def report(err, msg):
        if err is None:
            result["offset"] = msg.offset()
        else:
            result["error"] = err.name()
            result["code"] = err.code()

    producer.produce(topic, value.encode(), partition=0, on_delivery=report)
    producer.flush(15)
    print(json.dumps(result))


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "produce":
        produce(args[0], args[1], args[2], float(args[3]), int(args[4]), args[5], args[6], args[7])
    elif command == "consume":
        consume(args[0], args[1], args[2], float(args[3]), args[4], args[5], args[6])
    elif command == "produce_once":
        produce_once(args[0], args[1], args[2])
    elif command == "readall":
        readall(args[0], args[1], int(args[2]), args[3], args[4])
    else:
        sys.exit(f"unknown command {command}")
