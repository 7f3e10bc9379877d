"""confluent-kafka against a runnel cluster, in two roles.

produce BOOTSTRAP TOPIC ACKS SECONDS [BASE [TIMEOUT_MS]]: sends the numbers BASE, BASE + 1,
... as values to partition 0, one every 2 ms for SECONDS (idempotent when ACKS is "all"), each
given TIMEOUT_MS (default 60 s) to be delivered, waits for every delivery report, and prints
{"sent", "acked": [values acknowledged, in report order], "errors": [first few],
"error_count"} as JSON.

once BOOTSTRAP TOPIC ACKS VALUE: sends one record to partition 0 without retries and prints
{"error": Kafka error code or null, "error_name", "offset"} as JSON.

first_ack BOOTSTRAP TOPIC SECONDS: sends acks=all records (9000001, 9000002, ...) to partition 0
one at a time, without
retries, until one is acknowledged or SECONDS pass; prints {"seconds": time to that first
acknowledgement or null, "acked_at": its wall-clock time (Unix seconds), "attempts",
"errors": [names of the refusals]} as JSON.

consume BOOTSTRAP TOPIC: reads partition 0 from the beginning to its end and prints
{"values": [...], "offsets": [...]} as JSON.

CLIENT_CONFIG in the environment (a JSON object of librdkafka settings, e.g. the security
ones) is added to every client's configuration.
"""
import json
import os
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition


def produce(bootstrap, topic, acks, seconds, base=0, timeout_ms=60000):
    config = {
        "bootstrap.servers": bootstrap,
        "acks": acks,
        "linger.ms": 5,
        "message.timeout.ms": timeout_ms,
        "request.timeout.ms": 5000,
        "retry.backoff.ms": 100,
        "topic.metadata.refresh.interval.ms": 1000,
    }
    if acks == "all":
        config["enable.idempotence"] = True
    producer = Producer(with_client_config(config))
    acked = []
    errors = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            acked.append(int(msg.value()))

    sent = 0
    end = time.time() + seconds
    while time.time() < end:
        producer.produce(topic, value=str(base + sent).encode(), partition=0,
                         on_delivery=on_delivery)
        sent += 1
        producer.poll(0)
        time.sleep(0.002)
    remaining = producer.flush(90)
    print(json.dumps({"sent": sent, "acked": acked, "errors": errors[:10],
                      "error_count": len(errors), "undelivered": remaining}))


def once(bootstrap, topic, acks, value):
    producer = Producer({
        "bootstrap.servers": bootstrap,
        "acks": acks,
        "retries": 0,
        "message.timeout.ms": 10000,
        "request.timeout.ms": 5000,
    })
    result = {}

    def on_delivery(err, msg):
        if err is not None:
            result.update(error=err.code(), error_name=err.name(), offset=None)
        else:
            result.update(error=None, error_name=None, offset=msg.offset())

    producer.produce(topic, value=value.encode(), partition=0, on_delivery=on_delivery)
    producer.flush(30)
    print(json.dumps(result))


def first_ack(bootstrap, topic, seconds):
    producer = Producer({
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "retries": 0,
        "message.timeout.ms": 2000,
        "request.timeout.ms": 1000,
        "topic.metadata.refresh.interval.ms": 200,
    })
    started = time.time()
    errors = []
    attempts = 0
    while time.time() - started < seconds:
        attempts += 1
        result = {}
        producer.produce(topic, value=str(9000000 + attempts).encode(), partition=0,
                         on_delivery=lambda err, msg: result.update(err=err))
        producer.flush(5)
        if result.get("err") is None and "err" in result:
            now = time.time()
            print(json.dumps({"seconds": now - started, "acked_at": now, "attempts": attempts,
                              "errors": errors[-5:]}))
            return
        errors.append(result["err"].name() if result.get("err") else "no report")
        time.sleep(0.05)
    print(json.dumps({"seconds": None, "attempts": attempts, "errors": errors[-5:]}))


def with_client_config(config):
    """config with the settings of CLIENT_CONFIG added."""
    config.update(json.loads(os.environ.get("CLIENT_CONFIG", "{}")))
    return config


def consume(bootstrap, topic):
    consumer = Consumer(with_client_config({
        "bootstrap.servers": bootstrap,
        "group.id": "cluster-failover-check",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "auto.offset.reset": "earliest",
    }))
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    values = []
    offsets = []
    deadline = time.time() + 60
    while time.time() < deadline:
        msg = consumer.poll(1.0)
        if msg is None:
            continue
        if msg.error():
            if msg.error().code() == KafkaError._PARTITION_EOF:
                break
            continue
        values.append(int(msg.value()))
        offsets.append(msg.offset())
    consumer.close()
    print(json.dumps({"values": values, "offsets": offsets}))


if __name__ == "__main__":
    if sys.argv[1] == "produce":
        extra = [int(a) for a in sys.argv[6:8]]
        produce(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]), *extra)
    elif sys.argv[1] == "first_ack":
        first_ack(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    elif sys.argv[1] == "once":
        once(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    else:
        consume(sys.argv[2], sys.argv[3])
