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

  acls BOOTSTRAP
      CreateAcls, DeleteAcls and DescribeAcls against a broker without an authorizer; prints
      the error name each gets.

  acl-enforce BOOTSTRAP
      Against a broker with an authorizer, super user admin, PLAIN users alice and bob on a
      SASL_PLAINTEXT listener: admin makes topics and ACLs, then alice and bob produce,
      consume, list topics and call admin APIs; prints what each step got (see
      `acl_enforce`).
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
    failed = []
    for value in ["one", "two", "three"]:
        producer.produce(
            topic, value.encode(), on_delivery=lambda err, _m: err and failed.append(err.name())
        )
    if producer.flush(15) != 0 or failed:
        print(json.dumps({"error": f"records not delivered: {failed}", "brokers": brokers}))
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


def as_user(bootstrap, user):
    return {
        "bootstrap.servers": bootstrap,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "PLAIN",
        "sasl.username": user,
        "sasl.password": f"{user}-secret",
        "socket.timeout.ms": 5000,
    }


def produce_outcome(settings, topic, values):
    """None when every record was acknowledged, else the first delivery error's name."""
    errors = []
    producer = Producer({**settings, "acks": "all", "message.timeout.ms": 10000})

    def report(err, _msg):
        if err is not None:
            errors.append(err.name())

    for v in values:
        producer.produce(topic, v.encode(), on_delivery=report)
    producer.flush(20)
    return errors[0] if errors else None


# The text of the last error consume_outcome met (librdkafka's, with the broker's message).
LAST_ERROR_TEXT = [None]


def consume_outcome(settings, topic, group, count):
    """{"values": [...]} read as a member of GROUP and committed, or {"error": name}."""
    consumer = Consumer(
        {**settings, "group.id": group, "auto.offset.reset": "earliest",
         "enable.auto.commit": False}
    )
    errors = []
    consumer.subscribe([topic], on_assign=lambda c, ps: None)
    values = []
    deadline = time.monotonic() + 20
    while len(values) < count and time.monotonic() < deadline and not errors:
        m = consumer.poll(0.5)
        if m is None:
            continue
        if m.error():
            errors.append(m.error().name())
            LAST_ERROR_TEXT[0] = m.error().str()
        else:
            values.append(m.value().decode())
    if not errors:
        try:
            consumer.commit(asynchronous=False)
        except Exception as e:
            errors.append(e.args[0].name())
    consumer.close()
    return {"error": errors[0]} if errors else {"values": values}


def acl_enforce(bootstrap):
    from confluent_kafka.admin import (
        AclBinding,
        AclBindingFilter,
        AclOperation,
        AclPermissionType,
        NewTopic,
        ResourcePatternType,
        ResourceType,
    )

    ALLOW, DENY = AclPermissionType.ALLOW, AclPermissionType.DENY
    LITERAL, PREFIXED = ResourcePatternType.LITERAL, ResourcePatternType.PREFIXED
    TOPIC, GROUP = ResourceType.TOPIC, ResourceType.GROUP
    admin = AdminClient(as_user(bootstrap, "admin"))
    alice, bob = as_user(bootstrap, "alice"), as_user(bootstrap, "bob")
    alice_admin = AdminClient(alice)
    result = {}
    topics = ["orders.eu", "orders.us", "orders", "secret"]
    made = admin.create_topics([NewTopic(t, 1, 1) for t in topics])
    result["admin_create_topics"] = [outcome(made[t]) for t in topics]
    made = alice_admin.create_topics([NewTopic("orders.new", 1, 1)])
    result["alice_create_topic"] = outcome(made["orders.new"])
    # The principal: writes topics prefixed "orders.", reads them with group billing.
    bindings = [
        AclBinding(TOPIC, "orders.", PREFIXED, "User:alice", "*", AclOperation.WRITE, ALLOW),
        AclBinding(TOPIC, "orders.", PREFIXED, "User:alice", "*", AclOperation.READ, ALLOW),
        AclBinding(GROUP, "billing", LITERAL, "User:alice", "*", AclOperation.READ, ALLOW),
        AclBinding(TOPIC, "*", LITERAL, "User:bob", "*", AclOperation.READ, ALLOW),
        AclBinding(TOPIC, "orders.eu", LITERAL, "User:bob", "*", AclOperation.ALL, DENY),
    ]
    created = admin.create_acls(bindings)
    result["create_acls"] = [outcome(created[b]) for b in bindings]
    any_filter = AclBindingFilter(
        ResourceType.ANY, None, ResourcePatternType.ANY, None, None,
        AclOperation.ANY, AclPermissionType.ANY,
    )
    described = admin.describe_acls(any_filter).result(timeout=20)
    result["described"] = sorted(
        [b.restype.name, b.name, b.resource_pattern_type.name, b.principal, b.host,
         b.operation.name, b.permission_type.name]
        for b in described
    )
    result["alice_topics"] = sorted(alice_admin.list_topics(timeout=10).topics)
    result["bob_topics"] = sorted(AdminClient(bob).list_topics(timeout=10).topics)
    result["alice_produce"] = {
        t: produce_outcome(alice, t, [f"{t}-1", f"{t}-2"]) for t in topics
    }
    result["bob_produce_orders_eu"] = produce_outcome(bob, "orders.eu", ["b1"])
    result["alice_billing"] = consume_outcome(alice, "orders.eu", "billing", 2)
    result["alice_other_group"] = consume_outcome(alice, "orders.eu", "other", 2)
    result["alice_other_group_text"] = LAST_ERROR_TEXT[0]
    result["alice_read_secret"] = consume_outcome(alice, "secret", "billing", 1)
    # What the refusals left: the logs of the refused topics and the groups, seen by admin.
    reader = Consumer({**as_user(bootstrap, "admin"), "group.id": "admin-look"})
    from confluent_kafka import TopicPartition
    result["log_end_offsets"] = {
        t: reader.get_watermark_offsets(TopicPartition(t, 0), timeout=10)[1] for t in topics
    }
    reader.close()
    groups = admin.list_consumer_groups().result(timeout=20)
    result["groups"] = sorted(g.group_id for g in groups.valid)
    from confluent_kafka import ConsumerGroupTopicPartitions
    committed = admin.list_consumer_group_offsets(
        [ConsumerGroupTopicPartitions("billing")]
    )["billing"].result(timeout=20)
    result["billing_commits"] = sorted(
        [p.topic, p.partition, p.offset] for p in committed.topic_partitions
    )
    binding = AclBinding(TOPIC, "x", LITERAL, "User:alice", "*", AclOperation.ALL, ALLOW)
    result["alice_create_acls"] = outcome(alice_admin.create_acls([binding])[binding])
    write_filter = AclBindingFilter(
        TOPIC, "orders.", PREFIXED, "User:alice", None, AclOperation.WRITE, ALLOW
    )
    deleted = admin.delete_acls([write_filter])[write_filter].result(timeout=20)
    result["deleted"] = [[b.name, b.principal, b.operation.name] for b in deleted]
    result["alice_produce_after_delete"] = produce_outcome(alice, "orders.eu", ["a3"])
    # Nobody appends to the offsets topic, not even a super user (Kafka's internal topics).
    result["admin_produce_offsets"] = produce_outcome(
        as_user(bootstrap, "admin"), "__consumer_offsets", ["forged"]
    )
    # DescribeCluster needs no ACL; its authorized operations need DESCRIBE on the cluster.
    def cluster_operations(client):
        cluster = client.describe_cluster(include_authorized_operations=True).result(timeout=20)
        names = sorted(op.name for op in (cluster.authorized_operations or []))
        return [len(cluster.nodes), names]

    result["alice_describe_cluster"] = cluster_operations(alice_admin)
    result["admin_describe_cluster"] = cluster_operations(admin)
    bob_admin = AdminClient(bob)
    gone = bob_admin.delete_topics(["secret", "nope"], operation_timeout=10)
    result["bob_delete_topics"] = [outcome(gone["secret"]), outcome(gone["nope"])]
    print(json.dumps(result))


if __name__ == "__main__":
    args = sys.argv[2:]
    if sys.argv[1] == "roundtrip":
        roundtrip(*args)
    elif sys.argv[1] == "scram-admin":
        scram_admin(*args)
    elif sys.argv[1] == "acls":
        acls(*args)
    elif sys.argv[1] == "acl-enforce":
        acl_enforce(*args)
    else:
        sys.exit(f"unknown command {sys.argv[1]}")
