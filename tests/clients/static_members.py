"""Static group membership (KIP-345) with confluent-kafka: consumers "a" and "b" join group
"statics" with group.instance.id; a new process with b's instance id joins while the old one
still runs. Kafka keeps the generation and assignment (no rebalance: "a" sees no revoke or
assign), gives the new process b's partitions, and fences the old one (FENCED_INSTANCE_ID).

BOOTSTRAP TOPIC: prints JSON {"a_events_before", "a_events_after", "b": [partitions],
"b2": [partitions], "b_error": the old process's fatal error text or null}."""
import json
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

bootstrap, topic = sys.argv[1], sys.argv[2]
admin = AdminClient({"bootstrap.servers": bootstrap})
admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])[topic].result(10)


class Member:
    def __init__(self, instance):
        self.events = 0
        self.assigned = []
        self.error = None
        self.c = Consumer({"bootstrap.servers": bootstrap, "group.id": "statics",
                           "group.instance.id": instance, "session.timeout.ms": 10000,
                           "heartbeat.interval.ms": 500, "log_level": 0,
                           "partition.assignment.strategy": "range",
                           "error_cb": self.on_error})
        self.c.subscribe([topic], on_assign=self.on_assign, on_revoke=self.on_revoke)

    def on_assign(self, _, partitions):
        self.events += 1
        self.assigned = sorted(p.partition for p in partitions)

    def on_revoke(self, _, partitions):
        self.events += 1

    def on_error(self, err):
        # librdkafka reports FENCED_INSTANCE_ID as a fatal error with the broker's words.
        if err.fatal() and self.error is None:
            self.error = err.str()

    def poll(self):
        if self.error is not None:
            return
        try:
            m = self.c.poll(0.05)
            # A fatal error arrives from poll as _FATAL with the broker's words.
            if m is not None and m.error() and (m.error().fatal()
                                                or m.error().code() == KafkaError._FATAL):
                self.error = m.error().str()
        except KafkaException as e:
            self.error = e.args[0].str()


def run(members, until, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline and not until():
        for m in members:
            m.poll()


a, b = Member("a"), Member("b")
run([a, b], lambda: a.assigned and b.assigned and len(a.assigned) + len(b.assigned) == 4, 30)
run([a, b], lambda: False, 2)  # settle
before = a.events
b2 = Member("b")
run([a, b, b2], lambda: b2.assigned and b.error, 20)
run([a, b, b2], lambda: False, 3)  # would a rebalance show up?
print(json.dumps({"a_events_before": before, "a_events_after": a.events, "b": b.assigned,
                  "b2": b2.assigned, "b_error": b.error}))
for m in (a, b2):
    m.c.close()
