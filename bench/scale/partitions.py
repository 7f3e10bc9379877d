"""Many partitions on one node (issue 19): creates TOPICS x PER partitions on a fresh runnel,
writes one 100 B record to each and reads each back, printing resident memory, threads and open
descriptors after each step and the Metadata response time for all of them.

Usage: python3 bench/scale/partitions.py target/release/runnel 10 1000
Needs confluent-kafka (the test command installs it). Uses ports 39092/38080 and /tmp/scale.
"""
import sys, time, os, subprocess
os.makedirs("/tmp/scale", exist_ok=True)
from confluent_kafka import Producer, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

binary, topics, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = "/tmp/scale/data"
subprocess.run(["rm", "-rf", data])
broker = subprocess.Popen([binary, "--listen", "127.0.0.1:39092", "--admin", "127.0.0.1:38080", "--data-dir", data],
                          stdout=open("/tmp/scale/broker.log", "w"), stderr=subprocess.STDOUT)
pid = broker.pid
def stat():
    s = open(f"/proc/{pid}/status").read()
    rss = int([l for l in s.splitlines() if l.startswith("VmRSS")][0].split()[1])
    threads = int([l for l in s.splitlines() if l.startswith("Threads")][0].split()[1])
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss, threads, fds
try:
    time.sleep(1.5)
    boot = "127.0.0.1:39092"
    admin = AdminClient({"bootstrap.servers": boot})
    print("idle", stat(), flush=True)
    t0 = time.time()
    fs = admin.create_topics([NewTopic(f"t{i}", per, 1) for i in range(topics)], request_timeout=600)
    for f in fs.values(): f.result(timeout=600)
    print(f"created {topics*per} partitions in {time.time()-t0:.1f}s", stat(), flush=True)
    # Metadata for all
    times = []
    for _ in range(5):
        t = time.time(); md = admin.list_topics(timeout=60); times.append(time.time() - t)
    n = sum(len(t.partitions) for name, t in md.topics.items() if name.startswith("t"))
    print(f"metadata of {n} partitions: best {min(times)*1000:.1f} ms, worst {max(times)*1000:.1f} ms", flush=True)
    p = Producer({"bootstrap.servers": boot, "linger.ms": 50, "batch.num.messages": 100000, "queue.buffering.max.messages": 2000000})
    t0 = time.time()
    for i in range(topics):
        for q in range(per):
            p.produce(f"t{i}", value=b"x" * 100, partition=q)
        p.poll(0)
    left = p.flush(300)
    print(f"produced one record to each in {time.time()-t0:.1f}s (unflushed {left})", stat(), flush=True)
    c = Consumer({"bootstrap.servers": boot, "group.id": "scale", "enable.auto.commit": False, "fetch.wait.max.ms": 10})
    c.assign([TopicPartition(f"t{i}", q, 0) for i in range(topics) for q in range(per)])
    got, t0 = 0, time.time()
    while got < topics * per and time.time() - t0 < 300:
        for m in c.consume(10000, 1.0):
            if not m.error(): got += 1
    print(f"consumed {got} in {time.time()-t0:.1f}s", stat(), flush=True)
    c.close()
    time.sleep(2)
    rss, th, fds = stat()
    print(f"after: rss {rss} KiB, threads {th}, fds {fds}", flush=True)
    times = []
    for _ in range(5):
        t = time.time(); md = admin.list_topics(timeout=60); times.append(time.time() - t)
    print(f"metadata again: best {min(times)*1000:.1f} ms", flush=True)
finally:
    t = time.time(); broker.terminate(); broker.wait(120)
    print(f"stopped (SIGTERM: every partition synced, with a snapshot) in {time.time() - t:.2f} s", flush=True)
