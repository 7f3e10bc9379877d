"""What confluent-kafka sees of dynamic broker configs (KIP-226), which the test changes with
raw IncrementalAlterConfigs requests (the clients' admin APIs do not take the cluster-wide
default's empty broker name).

BOOTSTRAP TOPIC: creates TOPIC when missing, then prints one JSON object: TOPIC's retention.ms
and cleanup.policy and broker 0's log.retention.ms and node.id, each [value, source,
read_only], and what producing a record without a key to TOPIC answered (an error name or
null).

BOOTSTRAP alter BROKER KEY VALUE: one raw IncrementalAlterConfigs v0 SET (VALUE "-": DELETE)
on the BROKER resource BROKER ("" for the cluster-wide default); prints [error code, message]."""
import json
import socket
import struct
import sys


def raw_alter(bootstrap, broker, key, value):
    """IncrementalAlterConfigs v0 (key 44), encoded by hand: the Kafka protocol guide's layout."""
    def string(text):
        data = text.encode()
        return struct.pack(">h", len(data)) + data

    op, value_bytes = (1, struct.pack(">h", -1)) if value == "-" else (0, string(value))
    body = (struct.pack(">i", 1) + struct.pack(">b", 4) + string(broker)
            + struct.pack(">i", 1) + string(key) + struct.pack(">b", op) + value_bytes
            + struct.pack(">b", 0))
    header = struct.pack(">hhi", 44, 0, 1) + string("dynamic-configs-test")
    host, port = bootstrap.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        frame = header + body
        sock.sendall(struct.pack(">i", len(frame)) + frame)
        size = struct.unpack(">i", sock.recv(4, socket.MSG_WAITALL))[0]
        data = sock.recv(size, socket.MSG_WAITALL)
    # correlation id, throttle time, one response: error code, nullable message.
    at = 4 + 4 + 4
    code, length = struct.unpack(">hh", data[at:at + 4])
    message = data[at + 4:at + 4 + length].decode() if length >= 0 else None
    return [code, message]


if sys.argv[2] == "alter":
    print(json.dumps(raw_alter(sys.argv[1], sys.argv[3], sys.argv[4], sys.argv[5])))
    sys.exit(0)

from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, NewTopic  # noqa: E402

bootstrap, topic = sys.argv[1], sys.argv[2]
admin = AdminClient({"bootstrap.servers": bootstrap})
if topic not in admin.list_topics(timeout=10).topics:
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(10)


def describe(kind, name):
    resource = ConfigResource(kind, name)
    return {k: [e.value, ConfigSource(e.source).name, e.is_read_only]
            for k, e in admin.describe_configs([resource])[resource].result(10).items()}


topic_configs = describe(ConfigResource.Type.TOPIC, topic)
broker_configs = describe(ConfigResource.Type.BROKER, "0")
reports = []
producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0,
                     "message.send.max.retries": 0})
producer.produce(topic, value=b"no key",
                 on_delivery=lambda err, msg: reports.append(err.name() if err else None))
producer.flush(10)
print(json.dumps({
    "retention.ms": topic_configs["retention.ms"],
    "cleanup.policy": topic_configs["cleanup.policy"],
    "broker log.retention.ms": broker_configs["log.retention.ms"],
    "broker node.id": broker_configs["node.id"],
    "keyless": reports[0] if reports else "no report",
}))
