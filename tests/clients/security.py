"""confluent-kafka (librdkafka with OpenSSL and Cyrus SASL) through runnel's SSL and SASL
listeners (tests/tests/security.rs).

  roundtrip BOOTSTRAP TOPIC SETTINGS_JSON
      With the client settings in SETTINGS_JSON (security.protocol, ssl.*, sasl.*): produces
      three records, reads them back as a consumer-group member, and prints
      {"brokers": [[id, host, port]], "values": [...]} or {"error": "..."}.
"""

import json
import sys
import time

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient


def roundtrip(bootstrap, topic, settings):
    common = {"bootstrap.servers": bootstrap, "socket.timeout.ms": 5000, **json.loads(settings)}
    try:
        metadata = AdminClient(common).list_topics(timeout=10)
    except Exception as e:  # the handshake or the connection failed
        print(json.dumps({"error": str(e)}))
        return
    brokers = sorted([b.id, b.host, b.port] for b in metadata.brokers.values())
    producer = Producer({**common, "acks": "all", "message.timeout.ms": 10000})
    for value in ["one", "two", "three"]:
        producer.produce(topic, value.encode())
    if producer.flush(15) != 0:
        print(json.dumps({"error": "records not delivered", "brokers": brokers}))
        return
    consumer = Consumer(
        {**common, "group.id": "tls-group", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    values = []
    deadline = time.monotonic() + 30
    while len(values) < 3 and time.monotonic() < deadline:
        m = consumer.poll(0.5)
        if m is not None and not m.error():
            values.append(m.value().decode())
    consumer.commit(asynchronous=False)
    consumer.close()
    print(json.dumps({"brokers": brokers, "values": values}))


if __name__ == "__main__":
    args = sys.argv[2:]
    if sys.argv[1] == "roundtrip":
        roundtrip(*args)
    else:
        sys.exit(f"unknown command {sys.argv[1]}")
