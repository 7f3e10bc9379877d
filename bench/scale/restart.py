"""Restart cost (issue 19): writes GB gigabytes of 1 KiB records to 100 partitions of a fresh
runnel, stops it (SIGTERM), starts it again and prints how long until it listens and until every
partition's end offset is served. Run at two sizes to see whether the time grows with the data.

Usage: python3 bench/scale/restart.py target/release/runnel 1
Needs confluent-kafka. Uses ports 39192/38180 and /tmp/scale.
"""
import sys, time, os, subprocess, socket
os.makedirs("/tmp/scale", exist_ok=True)
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
binary, gb = sys.argv[1], float(sys.argv[2])
data = "/tmp/scale/rdata"
subprocess.run(["rm", "-rf", data])
args = [binary, "--listen", "127.0.0.1:39192", "--admin", "127.0.0.1:38180", "--data-dir", data]
def start():
    t = time.time()
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=open("/tmp/scale/restart.log", "a"))
    while True:
        try:
            socket.create_connection(("127.0.0.1", 39192), timeout=0.2).close(); break
        except OSError: time.sleep(0.02)
    return p, time.time() - t
p, _ = start()
try:
    adm = AdminClient({"bootstrap.servers": "127.0.0.1:39192"}); adm.create_topics([NewTopic("r", 100, 1)])["r"].result(60)
    pr = Producer({"bootstrap.servers": "127.0.0.1:39192", "linger.ms": 20, "batch.size": 1000000, "acks": 1, "queue.buffering.max.kbytes": 1048576})
    value = os.urandom(1024)
    n = int(gb * 1e9 / 1024)
    t0 = time.time()
    for i in range(n):
        while True:
            try: pr.produce("r", value=value, partition=i % 100); break
            except BufferError: pr.poll(0.01)
        if i % 10000 == 0: pr.poll(0)
    pr.flush(600)
    print(f"wrote {n} x 1 KiB in {time.time()-t0:.1f}s", flush=True)
finally:
    p.terminate(); p.wait(60)
du = subprocess.run(["du", "-sh", data], capture_output=True, text=True).stdout.split()[0]
t0 = time.time()
p, took = start()
from confluent_kafka import Consumer, TopicPartition
c = Consumer({"bootstrap.servers": "127.0.0.1:39192", "group.id": "x"})
ready = None
while time.time() - t0 < 300:
    try:
        marks = [c.get_watermark_offsets(TopicPartition("r", q), timeout=5) for q in range(100)]
        total = sum(h for _, h in marks)
        if total == n:
            ready = time.time() - t0; break
    except Exception as e:
        pass
    time.sleep(0.05)
print(f"{gb} GB ({du}): listening {took:.2f}s after start, all 100 partitions' ends served {ready:.2f}s after start", flush=True)
c.close()
p.terminate(); p.wait(60)
