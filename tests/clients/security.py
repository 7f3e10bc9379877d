"""confluent-kafka (librdkafka with OpenSSL and Cyrus SASL) through runnel's SSL and SASL
listeners (tests/tests/security.rs).

  roundtrip BOOTSTRAP TOPIC SETTINGS_JSON
      With the client settings in SETTINGS_JSON (security.protocol, ssl.*, sasl.*): produces
      three records, reads them back as a consumer-group member, and prints
      {"brokers": [[id, host, port]], "values": [...]} or {"error": "..."}.

  scram-admin BOOTSTRAP USER PASSWORD
      KIP-554 from confluent-kafka's admin client: sets USER's SCRAM-SHA-256 credential
      (8192 iterations), tries three credentials Kafka refuses, describes USER and a user
      that does not exist, and prints {"set": error or null, "refused": {...: error name},
      "described": {user: [[mechanism, iterations]] or error name}}.
"""

import json
import sys
import time

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient


def outcome(future):
    """None when an admin future succeeds, else the Kafka error's name."""
    try:
        future.result(timeout=20)
        return None
    except Exception as e:
        return e.args[0].name() if e.args and hasattr(e.args[0], "name") else str(e)


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


def scram_admin(bootstrap, user, password):
    from confluent_kafka.admin import (
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialDeletion,
        UserScramCredentialUpsertion,
    )

    admin = AdminClient({"bootstrap.servers": bootstrap})

    upsert = UserScramCredentialUpsertion(
        user, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 8192), password.encode()
    )
    done = admin.alter_user_scram_credentials([upsert])
    result = {"set": outcome(done[user])}
    refused = {}
    for name, alteration in [
        ("too-few", UserScramCredentialUpsertion(
            "few", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 1000), b"pw")),
        ("too-many", UserScramCredentialUpsertion(
            "many", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 20000), b"pw")),
        ("not-there", UserScramCredentialDeletion("nobody", ScramMechanism.SCRAM_SHA_512)),
    ]:
        futures = admin.alter_user_scram_credentials([alteration])
        refused[name] = [outcome(f) for f in futures.values()][0]
    result["refused"] = refused
    described = {}
    for name in [user, "nobody"]:
        try:
            d = admin.describe_user_scram_credentials([name])[name].result()
            described[name] = [
                [info.mechanism.name, info.iterations] for info in d.scram_credential_infos
            ]
        except Exception as e:
            described[name] = e.args[0].name() if e.args and hasattr(e.args[0], "name") else str(e)
    result["described"] = described
    print(json.dumps(result))


def acls(bootstrap):
    """DescribeAcls and CreateAcls through confluent-kafka's admin client; prints the error
    name each gets."""
    from confluent_kafka.admin import (
        AclBinding,
        AclBindingFilter,
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
        ResourceType,
    )

    admin = AdminClient({"bootstrap.servers": bootstrap})

    any_filter = AclBindingFilter(
        ResourceType.ANY, None, ResourcePatternType.ANY, None, None,
        AclOperation.ANY, AclPermissionType.ANY,
    )
    binding = AclBinding(
        ResourceType.TOPIC, "t", ResourcePatternType.LITERAL, "User:alice", "*",
        AclOperation.READ, AclPermissionType.ALLOW,
    )
    created = admin.create_acls([binding])
    deleted = admin.delete_acls([any_filter])
    # librdkafka does not report DescribeAcls' top-level error: it returns no bindings.
    described = admin.describe_acls(any_filter).result(timeout=20)
    print(json.dumps({
        "describe": [str(b) for b in described],
        "create": outcome(created[binding]),
        "delete": outcome(deleted[any_filter]),
    }))


if __name__ == "__main__":
    args = sys.argv[2:]
    if sys.argv[1] == "roundtrip":
        roundtrip(*args)
    elif sys.argv[1] == "scram-admin":
        scram_admin(*args)
    elif sys.argv[1] == "acls":
        acls(*args)
    else:
        sys.exit(f"unknown command {sys.argv[1]}")
