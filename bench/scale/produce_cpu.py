"""Broker CPU per produced record (issue 19), for one or more runnel binaries: for each binary in
turn (alternate them to see the spread) starts a fresh broker (one node, or three with every
partition on each and min.insync.replicas=2), has kcat (librdkafka, written in C, so the load
generator takes little of the machine) send the same records three times into fresh topics,
and prints the broker processes' user + system CPU microseconds per record (/proc/PID/stat,
all nodes summed), which does not depend on how fast the producer is.

Usage: python3 bench/scale/produce_cpu.py SIZE RECORDS ACKS NODES [--partitions N] OLD NEW OLD NEW
e.g.   python3 bench/scale/produce_cpu.py 1024 200000 all 1 /tmp/runnel-old target/release/runnel
(record bytes, records per run, acks 1 or all, 1 or 3 nodes, binaries; with --partitions each
topic has N partitions and the records are spread over them at random). Needs kcat and
confluent-kafka. Uses ports 39690-39692, 39790-39792, 39890-39892 and /tmp/produce-cpu.
"""
import os, socket, subprocess, sys, time
from confluent_kafka.admin import AdminClient, NewTopic

args = sys.argv[1:]
partitions = 1
if "--partitions" in args:
    i = args.index("--partitions")
    partitions = int(args[i + 1])
    del args[i:i + 2]
size, n, acks, nodes = int(args[0]), int(args[1]), args[2], int(args[3])
binaries = args[4:]
work = "/tmp/produce-cpu"
os.makedirs(work, exist_ok=True)
records = os.path.join(work, f"records-{size}-{n}")
if not os.path.exists(records):
    line = os.urandom(size // 2 + 1).hex()[: size - 1].encode() + b"\n"
    with open(records, "wb") as f:
        f.write(line * n)
bootstrap = ",".join(f"127.0.0.1:{39690 + i}" for i in range(nodes))
voters = ",".join(f"{i}@127.0.0.1:{39890 + i}" for i in range(nodes))


def start(binary):
    subprocess.run(["rm", "-rf", os.path.join(work, "data")])
    procs = []
    for i in range(nodes):
        command = [binary, "--listen", f"127.0.0.1:{39690 + i}", "--admin",
                   f"127.0.0.1:{39790 + i}", "--data-dir", os.path.join(work, "data", f"n{i}")]
        if nodes > 1:
            command += ["--set", f"node.id={i}", "--set", f"controller.quorum.voters={voters}",
                        "--set", "min.insync.replicas=2"]
        procs.append(subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
    for i in range(nodes):
        while True:
            try:
                socket.create_connection(("127.0.0.1", 39690 + i), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.02)
    admin = AdminClient({"bootstrap.servers": bootstrap})

    def registered():
        try:
            metadata = admin.list_topics(timeout=10)
        except Exception:  # a cluster answers partially until a node is registered
            return False
        return metadata.controller_id >= 0 and len(metadata.brokers) == nodes
    try:
        while not registered():
            time.sleep(0.2)
        topics = [NewTopic(f"p{r}", partitions, nodes) for r in range(4)]
        for future in admin.create_topics(topics).values():
            future.result(60)
    except BaseException:
        for p in procs:
            p.kill()
        raise
    return procs


def cpu(procs):
    total = 0.0
    for p in procs:
        fields = open(f"/proc/{p.pid}/stat").read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def kcat(topic, path):
    subprocess.run(["kcat", "-P", "-b", bootstrap, "-t", topic, "-X", f"acks={acks}",
                    "-X", "linger.ms=5", "-X", "batch.size=1000000",
                    "-X", "queue.buffering.max.kbytes=1048576",
                    # Keyless records to a random partition each, not one partition per linger.
                    "-X", "sticky.partitioning.linger.ms=0", "-l", path],
                   check=True, stderr=subprocess.DEVNULL)


for binary in binaries:
    procs = start(binary)
    try:
        warm = os.path.join(work, "warm")
        with open(records, "rb") as src, open(warm, "wb") as dst:
            dst.write(src.read(size * 1000))
        kcat("p0", warm)
        figures = []
        for r in range(1, 4):
            before, t0 = cpu(procs), time.time()
            kcat(f"p{r}", records)
            figures.append(((cpu(procs) - before) * 1e6 / n, n / (time.time() - t0)))
        print(f"{binary}: broker µs/record " + " ".join(f"{us:.2f}" for us, _ in figures)
              + "  (records/s " + " ".join(f"{rate / 1000:.0f}k" for _, rate in figures) + ")",
              flush=True)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(60)
