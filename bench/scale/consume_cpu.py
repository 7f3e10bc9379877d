"""Broker CPU per consumed record (issue 19), for one or more runnel binaries on the same data:
fills a topic once, then has one confluent-kafka consumer read all of it from each binary in
turn (alternate them to see the spread) and prints the broker process's user + system CPU
seconds per record (/proc/PID/stat), which does not depend on how fast the consumer is.

Usage: python3 bench/scale/consume_cpu.py fill 1024 1000000 1 target/release/runnel
       python3 bench/scale/consume_cpu.py read 1024 1000000 1 OLD NEW OLD NEW
(arguments: record bytes, records, partitions, binaries). Uses port 39392/38380 and /tmp/cons.
"""
import sys, time, os, subprocess, socket
from confluent_kafka import Producer, Consumer, TopicPartition
os.makedirs("/tmp/cons", exist_ok=True)
data = "/tmp/cons/data"
def start(binary):
    p = subprocess.Popen([binary, "--listen", "127.0.0.1:39392", "--admin", "127.0.0.1:38380", "--data-dir", data], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try: socket.create_connection(("127.0.0.1", 39392), timeout=0.2).close(); return p
        except OSError: time.sleep(0.02)
def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
size, n, parts = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
if sys.argv[1] == "fill":
    subprocess.run(["rm", "-rf", data])
    p = start(sys.argv[5])
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": "127.0.0.1:39392"})
    admin.create_topics([NewTopic("c", parts, 1)])["c"].result(60)
    pr = Producer({"bootstrap.servers": "127.0.0.1:39392", "linger.ms": 5, "batch.size": 1000000, "queue.buffering.max.kbytes": 1048576})
    v = os.urandom(size)
    for i in range(n):
        while True:
            try: pr.produce("c", value=v, partition=i % parts); break
            except BufferError: pr.poll(0.01)
    pr.flush(300); p.terminate(); p.wait(); sys.exit()
for binary in sys.argv[5:]:
    p = start(binary)
    c = Consumer({"bootstrap.servers": "127.0.0.1:39392", "group.id": "g", "fetch.wait.max.ms": 10, "fetch.queue.backoff.ms": 1, "enable.auto.commit": False})
    c.assign([TopicPartition("c", q, 0) for q in range(parts)])
    t0, c0, got = time.time(), cpu(p.pid), 0
    while got < n and time.time() - t0 < 120:
        for m in c.consume(10000, 1.0):
            if not m.error(): got += 1
    secs, used = time.time() - t0, cpu(p.pid) - c0
    print(f"{binary}: {n} x {size} B from {parts} partition(s) in {secs:.2f}s, broker CPU {used:.2f}s = {used/n*1e6:.3f} us/record", flush=True)
    c.close(); p.terminate(); p.wait()
