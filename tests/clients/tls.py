"""confluent-kafka (librdkafka with OpenSSL) through runnel's SSL listener (tests/tests/tls.rs).

  roundtrip BOOTSTRAP TOPIC CA [CERT KEY]
      Produces three records with security.protocol=SSL (ssl.ca.location=CA, and a client
      certificate when CERT and KEY are given), reads them back as a consumer-group member,
      and prints {"brokers": [[id, host, port]], "values": [...]} or {"error": "..."}.
"""

import json
import sys
import time

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient


def roundtrip(bootstrap, topic, ca, cert=None, key=None):
    common = {
        "bootstrap.servers": bootstrap,
        "security.protocol": "SSL",
        "ssl.ca.location": ca,
        "socket.timeout.ms": 5000,
    }
    if cert:
        common["ssl.certificate.location"] = cert
        common["ssl.key.location"] = key
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
