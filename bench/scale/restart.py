"""Restart cost (issue 19): writes GB gigabytes of 1 KiB records to 100 partitions of a fresh
runnel (one node, or NODES nodes with every partition on each of them), stops it (SIGTERM, or
SIGKILL with --kill), starts it again and prints how long until every node listens and until
every partition has a leader serving its end offset. Run at two sizes to see whether the time
grows with the data.

Usage: python3 bench/scale/restart.py target/release/runnel 1 [NODES] [--kill]
Needs confluent-kafka. Uses ports 39190-39199 and 38180-38189, 39290-39299, and /tmp/scale.
"""
import sys, time, os, subprocess, socket
from confluent_kafka import Producer, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

args = [a for a in sys.argv[1:] if not a.startswith("--")]
binary, gb = args[0], float(args[1])
nodes = int(args[2]) if len(args) > 2 else 1
kill = "--kill" in sys.argv
PARTITIONS = 100
os.makedirs("/tmp/scale", exist_ok=True)
subprocess.run(["rm", "-rf"] + [f"/tmp/scale/rdata{i}" for i in range(nodes)])
voters = ",".join(f"{i}@127.0.0.1:{39290 + i}" for i in range(nodes))
bootstrap = ",".join(f"127.0.0.1:{39190 + i}" for i in range(nodes))


def command(i):
    c = [binary, "--listen", f"127.0.0.1:{39190 + i}", "--admin", f"127.0.0.1:{38180 + i}",
         "--data-dir", f"/tmp/scale/rdata{i}"]
    if nodes > 1:
        c += ["--set", f"node.id={i}", "--set", f"controller.quorum.voters={voters}"]
    return c


def start():
    """Starts every node; returns them and the seconds until the last one listens."""
    t = time.time()
    log = open("/tmp/scale/restart.log", "a")
    procs = [subprocess.Popen(command(i), stdout=subprocess.DEVNULL, stderr=log) for i in range(nodes)]
    for i in range(nodes):
        while True:
            try:
                socket.create_connection(("127.0.0.1", 39190 + i), timeout=0.2).close()
                break
            except OSError:
                if procs[i].poll() is not None:
                    sys.exit(f"node {i} exited at start: see /tmp/scale/restart.log")
                time.sleep(0.02)
    return procs, time.time() - t


def stop(procs, kill):
    for p in procs:
        p.kill() if kill else p.terminate()
    for p in procs:
        p.wait(120)


procs, _ = start()
n = int(gb * 1e9 / 1024)
try:
    adm = AdminClient({"bootstrap.servers": bootstrap})
    # A cluster answers "no controller" until its quorum has elected one, and librdkafka
    # then waits a long time before asking again: create the topic once there is one.
    def controller():
        try:
            return adm.list_topics(timeout=10).controller_id
        except Exception:  # no broker registered yet: a partial answer
            return -1
    while controller() < 0:
        time.sleep(0.2)
    adm.create_topics([NewTopic("r", PARTITIONS, nodes)])["r"].result(60)
    pr = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.size": 1000000,
                   "acks": 1, "queue.buffering.max.kbytes": 1048576})
    value = os.urandom(1024)
    t0 = time.time()
    for i in range(n):
        while True:
            try:
                pr.produce("r", value=value, partition=i % PARTITIONS)
                break
            except BufferError:
                pr.poll(0.01)
        if i % 10000 == 0:
            pr.poll(0)
    pr.flush(600)
    print(f"wrote {n} x 1 KiB in {time.time() - t0:.1f}s", flush=True)
    if nodes > 1:
        # Every replica caught up before the stop, so the restart has nothing to copy.
        c = Consumer({"bootstrap.servers": bootstrap, "group.id": "x"})
        while time.time() - t0 < 900:
            ends = [c.get_watermark_offsets(TopicPartition("r", q), timeout=5)[1] for q in range(PARTITIONS)]
            if sum(ends) == n:
                break
            time.sleep(0.5)
        c.close()
        time.sleep(2)
finally:
    stop(procs, kill)
du = subprocess.run(["du", "-sh", "/tmp/scale/rdata0"], capture_output=True, text=True).stdout.split()[0]
t0 = time.time()
procs, took = start()
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "x"})
ready = None
while time.time() - t0 < 300:
    try:
        meta = c.list_topics("r", timeout=5).topics["r"].partitions
        led = len(meta) == PARTITIONS and all(p.leader >= 0 for p in meta.values())
        if led:
            ends = [c.get_watermark_offsets(TopicPartition("r", q), timeout=5)[1] for q in range(PARTITIONS)]
            if sum(ends) == n:
                ready = time.time() - t0
                break
    except Exception:
        pass
    time.sleep(0.05)
how = "SIGKILL" if kill else "SIGTERM"
print(f"{nodes} node(s), {gb} GB ({du} on node 0), after {how}: listening {took:.2f}s after start, "
      f"every partition led and its end served {ready:.2f}s after start", flush=True)
c.close()
stop(procs, False)
