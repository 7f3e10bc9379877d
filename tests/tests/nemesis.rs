//! Faults against real processes (`runnel_tests::nemesis`): three `runnel` nodes in their own
//! network namespaces while confluent-kafka producers and a consumer group run, and a checker
//! over everything they saw.
//!
//! - `nemesis_run`: a seeded schedule of every fault kind (SIGKILL, SIGSTOP past the session,
//!   SIGTERM, a node cut off, a bridge, a one-way partition, a node cut from the quorum only, a
//!   full disk). The acks=all idempotent topic (`min.insync.replicas=2`) must lose, move,
//!   duplicate and reorder nothing; the acks=1 topic's losses are counted. The seed and the
//!   command that replays it are printed; `NEMESIS_SEED`, `NEMESIS_SECONDS` (default 150) and
//!   `NEMESIS_CHECKED_ACKS` (`1` shows the checker failing) change the run. Histories are kept
//!   in `target/nemesis/<seed>/` when it fails.
//! - `five_leader_bounces`: Kafka's ducktape shape: the leader SIGKILLed five times in a row
//!   while producing, the ISR refilled each time.
//! - `a_full_disk_refuses_writes_and_recovers`: ENOSPC under the leader's `log.dirs`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use runnel_tests::nemesis::{self, FaultKind, Net, Verdict};
use runnel_tests::{
    Cluster, client_command, die_with_parent, run_client, runnel_cli, workspace_root,
};

const SCRIPT: &str = "tests/clients/nemesis.py";
/// The broker session: a paused node is fenced after this.
const SESSION_MS: u64 = 3_000;
/// Partitions of each topic.
const PARTITIONS: usize = 3;

/// Settings that make failovers play out in seconds (the broker default min.insync.replicas
/// stays 1: the checked topic sets its own 2).
const SETTINGS: &[&str] = &[
    "default.replication.factor=3",
    "replica.lag.time.max.ms=2000",
    "broker.session.timeout.ms=3000",
    "leader.imbalance.check.interval.seconds=2",
    "group.initial.rebalance.delay.ms=0",
];

/// One at a time: each test fills the machine, and they share addresses.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn require_root_tools() {
    if let Err(why) = nemesis::available() {
        panic!("the nemesis tests need root, ip and nft: {why}");
    }
}

/// Creates `topic` with `partitions` partitions, replication factor 3 and `configs`, and waits
/// until every partition has a leader and a full ISR.
fn create_topic(cluster: &Cluster, topic: &str, partitions: usize, configs: &[&str]) {
    let bootstrap = cluster.nodes[0].bootstrap();
    let count = partitions.to_string();
    let mut args = vec![
        "topic", "create", topic, "-p", &count, "-r", "3", "-b", &bootstrap,
    ];
    for config in configs {
        args.extend(["-c", config]);
    }
    runnel_cli(&args, b"");
    wait_full_isr(cluster, topic, partitions, Duration::from_secs(30));
}

/// Every running node reports `partitions` partitions of `topic`, each with a leader and all
/// three replicas in the ISR: asking one node could ask the one just restarted, whose view
/// may be behind the cluster's.
fn full_isr(cluster: &Cluster, topic: &str, partitions: usize) -> bool {
    (0..cluster.nodes.len())
        .filter(|&i| cluster.nodes[i].is_running())
        .all(|i| {
            let seen = cluster.partitions_seen_by(i, topic);
            seen.len() == partitions && seen.iter().all(|p| p.0.is_some() && p.2.len() == 3)
        })
}

fn wait_full_isr(cluster: &Cluster, topic: &str, partitions: usize, limit: Duration) {
    cluster.wait_for(limit, &format!("{topic}: a leader and a full ISR"), |c| {
        full_isr(c, topic, partitions)
    });
}

/// A client process started in the background; killed if the test ends without finishing it.
struct Client {
    name: String,
    child: Option<Child>,
    /// Where its stderr (librdkafka's log) goes as it is written: a file, never a pipe read
    /// only at the end, which would fill and stall a client that logs much.
    stderr_path: PathBuf,
}

impl Client {
    /// Starts the nemesis client script with `args`; its stderr goes to `stderr_path`.
    fn start(name: &str, args: &[&str], stderr_path: PathBuf) -> Self {
        let stderr = std::fs::File::create(&stderr_path).expect("client stderr file");
        let mut command = client_command("python3");
        command
            .arg(SCRIPT)
            .args(args)
            .current_dir(workspace_root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr));
        die_with_parent(&mut command);
        let child = command
            .spawn()
            .expect("python3 (the test command installs it)");
        Self {
            name: name.to_string(),
            child: Some(child),
            stderr_path,
        }
    }

    /// Waits at most `limit` for the client to finish; returns its JSON summary.
    fn finish(mut self, limit: Duration) -> serde_json::Value {
        let mut child = self.child.take().expect("a running client");
        let deadline = Instant::now() + limit;
        while child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let out = child.wait_with_output().expect("client output");
        let stdout = String::from_utf8_lossy(&out.stdout);
        serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
            let stderr = std::fs::read(&self.stderr_path).unwrap_or_default();
            let tail = String::from_utf8_lossy(&stderr[stderr.len().saturating_sub(4_000)..]);
            panic!("{} printed no summary: {stdout}\n{tail}", self.name)
        })
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Reads every partition of `topic` into `out` (and `group`'s committed offsets).
fn read_all(cluster: &Cluster, topic: &str, group: &str, out: &Path) {
    let bootstrap = cluster.bootstrap();
    let out_s = out.to_string_lossy();
    let partitions = PARTITIONS.to_string();
    let result = run_client(
        "python3",
        &[
            SCRIPT,
            "readall",
            &bootstrap,
            topic,
            &partitions,
            group,
            &out_s,
        ],
        b"",
        Duration::from_secs(180),
    );
    assert!(
        result.status.success(),
        "readall {topic}: {}",
        String::from_utf8_lossy(&result.stderr)
    );
}

/// Milliseconds since the Unix epoch (the clock the clients stamp their reports with).
fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A fresh directory for a run's histories; one a failed run kept under the same name is
/// moved aside (`<name>.<unix seconds>`), not deleted, so replaying a seed keeps the evidence.
fn history_dir(name: &str) -> PathBuf {
    let dir = workspace_root().join("target").join("nemesis").join(name);
    if dir.exists() {
        let aside = dir.with_extension(wall_clock_ms().div_euclid(1000).to_string());
        let _ = std::fs::rename(&dir, aside);
    }
    std::fs::create_dir_all(&dir).expect("history dir");
    dir
}

/// Writes each node's log (all its lives: restarts append) beside the histories as it comes,
/// so a run that fails anywhere keeps them.
fn keep_node_logs(cluster: &Cluster, dir: &std::path::Path) {
    for (i, node) in cluster.nodes.iter().enumerate() {
        node.tee_log(&dir.join(format!("node{i}.log")));
    }
}

fn summary(name: &str, v: &Verdict) -> String {
    format!(
        "{name}: {} acknowledged, {} failed (fate unknown), {} in the log, {} read by the group, {} commits; {} lost, {} violations",
        v.acknowledged,
        v.failed,
        v.in_log,
        v.read,
        v.commits,
        v.lost(),
        v.violations.len()
    )
}

#[test]
fn nemesis_run() {
    require_root_tools();
    let _serial = one_at_a_time();
    let seed = env_or(
        "NEMESIS_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs() % 1_000_000),
    );
    let seconds: u64 = env_or("NEMESIS_SECONDS", 150);
    let checked_acks: String = env_or("NEMESIS_CHECKED_ACKS", "all".to_string());
    let faults = nemesis::schedule(seed, seconds, 3, SESSION_MS);
    // The replay command carries every NEMESIS_ setting this run had, and the binary.
    let others: String = [
        "RUNNEL_BIN",
        "NEMESIS_CHECKED_ACKS",
        "NEMESIS_SOCKET_TIMEOUT_MS",
        "NEMESIS_MAX_IN_FLIGHT",
    ]
    .iter()
    .filter_map(|k| std::env::var(k).ok().map(|v| format!("{k}={v} ")))
    .collect();
    eprintln!(
        "nemesis seed {seed}, {} faults over {seconds} s; replay: {others}NEMESIS_SEED={seed} NEMESIS_SECONDS={seconds} cargo test -p runnel-tests --test nemesis -- --nocapture nemesis_run",
        faults.len()
    );
    let dir = history_dir(&seed.to_string());
    // The volumes hold the whole run: about 20 KiB a second per node reach them.
    let net = Net::new(3, nemesis::DISK_BYTES + seconds * (64 << 10));
    let mut cluster = net.start_cluster(SETTINGS);
    keep_node_logs(&cluster, &dir);
    create_topic(&cluster, "checked", PARTITIONS, &["min.insync.replicas=2"]);
    create_topic(&cluster, "lossy", PARTITIONS, &[]);
    let bootstrap = cluster.bootstrap();
    let stop = dir.join("stop");
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let stop_s = stop.to_string_lossy().into_owned();
    let partitions = PARTITIONS.to_string();
    // The stop file ends the clients; this bound only keeps a lost test from leaving them
    // running (faults overrun their schedule: restarts and clean stops take time).
    let limit = (seconds * 2 + 600).to_string();
    let producers = [
        Client::start(
            "checked producer",
            &[
                "produce",
                &bootstrap,
                "checked",
                &checked_acks,
                &limit,
                &partitions,
                "a",
                &path("producer-checked.jsonl"),
                &stop_s,
            ],
            dir.join("producer-checked.stderr"),
        ),
        Client::start(
            "lossy producer",
            &[
                "produce",
                &bootstrap,
                "lossy",
                "1",
                &limit,
                &partitions,
                "b",
                &path("producer-lossy.jsonl"),
                &stop_s,
            ],
            dir.join("producer-lossy.stderr"),
        ),
    ];
    let members: Vec<Client> = ["m1", "m2"]
        .iter()
        .map(|m| {
            Client::start(
                m,
                &[
                    "consume",
                    &bootstrap,
                    "checked",
                    "nemesis",
                    &limit,
                    m,
                    &path(&format!("{m}.jsonl")),
                    &stop_s,
                ],
                dir.join(format!("{m}.stderr")),
            )
        })
        .collect();
    std::thread::sleep(Duration::from_secs(3));
    let started = Instant::now();
    let mut counts: BTreeMap<FaultKind, usize> = BTreeMap::new();
    let mut began_ms: Vec<(u64, FaultKind)> = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    // Written as the faults are injected (a run that stops part-way keeps what ran), each
    // with its wall-clock time, the clock of the histories ("t") and of the node logs (UTC).
    let mut log = std::fs::File::create(dir.join("faults.txt")).expect("faults log");
    writeln!(
        log,
        "# seconds since the first fault, epoch ms (the histories' \"t\"), fault; the first began at {} ms since the epoch",
        wall_clock_ms()
    )
    .expect("faults log");
    for fault in &faults {
        let now_ms = wall_clock_ms();
        began_ms.push((now_ms, fault.kind));
        let line = format!("{:>6.1} s {fault:?}", started.elapsed().as_secs_f64());
        eprintln!("{line}");
        writeln!(
            log,
            "{:>6.1} s @{now_ms} {fault:?}",
            started.elapsed().as_secs_f64()
        )
        .and_then(|()| log.flush())
        .expect("faults log");
        if let Some(problem) = nemesis::inject(fault, &net, &mut cluster) {
            eprintln!("         {problem}");
            problems.push(problem);
        }
        *counts.entry(fault.kind).or_default() += 1;
        std::thread::sleep(Duration::from_millis(fault.rest_ms));
    }
    // Healed: every partition back to a full ISR, then the clients stop.
    for topic in ["checked", "lossy", "__consumer_offsets"] {
        let partitions = cluster.partitions(topic).len().max(1);
        wait_full_isr(&cluster, topic, partitions, Duration::from_secs(60));
    }
    std::fs::write(&stop, b"").expect("stop file");
    let summaries: Vec<(String, serde_json::Value)> = producers
        .into_iter()
        .map(|c| (c.name.clone(), c.finish(Duration::from_secs(120))))
        .collect();
    let reports: Vec<String> = summaries
        .iter()
        .map(|(name, summary)| format!("{name}: {summary}"))
        .chain(members.into_iter().map(|c| {
            let name = c.name.clone();
            format!("{name}: {}", c.finish(Duration::from_secs(120)))
        }))
        .collect();
    read_all(
        &cluster,
        "checked",
        "nemesis",
        &dir.join("final-checked.json"),
    );
    read_all(
        &cluster,
        "lossy",
        "nemesis-lossy",
        &dir.join("final-lossy.json"),
    );
    let checked = nemesis::check(
        &[dir.join("producer-checked.jsonl")],
        &[dir.join("m1.jsonl"), dir.join("m2.jsonl")],
        &dir.join("final-checked.json"),
    );
    let lossy = nemesis::check(
        &[dir.join("producer-lossy.jsonl")],
        &[],
        &dir.join("final-lossy.json"),
    );
    // Each acks=1 loss against the fault in force when it was acknowledged (its hold or the
    // rest after it). Article 002 predicts losses where a leader fails over (SIGKILL, SIGSTOP,
    // SIGTERM moves leadership cleanly) or is cut off while it still takes acks=1 writes, and
    // none where only followers are cut off.
    let mut lost_by_kind: BTreeMap<String, usize> = BTreeMap::new();
    for at in &lossy.lost_at_ms {
        let kind = began_ms
            .iter()
            .rev()
            .find(|(start, _)| start <= at)
            .map_or("before any fault".to_string(), |(_, k)| format!("{k:?}"));
        *lost_by_kind.entry(kind).or_default() += 1;
    }
    let mut report = format!(
        "seed {seed}: {} faults in {:.0} s: {counts:?}; unclean stops: {problems:?}\n{}\n{}\n{}\nacks=1 losses by the fault in force when acknowledged: {lost_by_kind:?}",
        faults.len(),
        started.elapsed().as_secs_f64(),
        reports.join("\n"),
        summary(&format!("checked topic (acks={checked_acks})"), &checked),
        summary("acks=1 topic", &lossy),
    );
    for v in checked.violations.iter().take(30) {
        report.push_str(&format!("\n  {v}"));
    }
    // Every violation, one a line (the report and the panic show the first 30).
    let all: String = checked
        .violations
        .iter()
        .map(|v| format!("{v}\n"))
        .collect();
    std::fs::write(dir.join("violations.txt"), all).expect("violations");
    std::fs::write(dir.join("report.txt"), &report).expect("report");
    eprintln!("{report}");
    for kind in FaultKind::ALL {
        assert!(counts.contains_key(&kind), "no {kind:?} fault ran");
    }
    assert!(
        faults.len() >= 20,
        "{} faults: at least 20 asked",
        faults.len()
    );
    // The clients kept working: no fatal idempotence error, every record reported, and the
    // group read and committed (so its checks had something to check).
    for (name, summary) in &summaries {
        assert!(summary["fatal"].is_null(), "{name}: {summary}\n{report}");
        assert_eq!(summary["unreported"], 0, "{name}: {summary}\n{report}");
    }
    assert!(
        checked.read > 0 && checked.commits > 0,
        "the group read nothing:\n{report}"
    );
    assert!(
        checked.acknowledged > 1_000,
        "too little was acknowledged:\n{report}"
    );
    if !checked.violations.is_empty() {
        panic!(
            "the checked topic broke its guarantees (histories kept in {}):\n{report}",
            dir.display()
        );
    }
    // Faults past; nothing of interest is left on failure-free runs.
    let _ = std::fs::remove_dir_all(&dir);
}

/// The leader of the topic's first partition once every running node names the same one (a
/// node just restarted may still answer from the metadata it had); `None` while they differ or
/// there is none.
fn leader(cluster: &Cluster, topic: &str) -> Option<usize> {
    let mut seen = (0..cluster.nodes.len())
        .filter(|&i| cluster.nodes[i].is_running())
        .map(|i| {
            cluster
                .partitions_seen_by(i, topic)
                .first()
                .and_then(|p| p.0)
        });
    let first = seen.next()??;
    seen.all(|l| l == Some(first)).then_some(first as usize)
}

#[test]
fn five_leader_bounces() {
    require_root_tools();
    let _serial = one_at_a_time();
    let net = Net::new(3, nemesis::DISK_BYTES);
    let mut cluster = net.start_cluster(SETTINGS);
    let bootstrap = cluster.bootstrap();
    create_topic(&cluster, "bounce", 1, &["min.insync.replicas=2"]);
    let dir = history_dir("bounce");
    keep_node_logs(&cluster, &dir);
    let stop = dir.join("stop");
    let producer_out = dir.join("producer.jsonl");
    let producer = Client::start(
        "producer",
        &[
            "produce",
            &bootstrap,
            "bounce",
            "all",
            "300",
            "1",
            "a",
            &producer_out.to_string_lossy(),
            &stop.to_string_lossy(),
        ],
        dir.join("producer.stderr"),
    );
    std::thread::sleep(Duration::from_secs(2));
    let mut failovers = Vec::new();
    for bounce in 1..=5 {
        // One poll both waits and answers: leadership may move between two polls (the
        // preferred replica taking it back), which once left a second poll with none.
        let deadline = Instant::now() + Duration::from_secs(30);
        let old = loop {
            if let Some(l) = leader(&cluster, "bounce") {
                break l;
            }
            assert!(
                Instant::now() < deadline,
                "the nodes never agreed on a leader"
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        let killed = Instant::now();
        cluster.nodes[old].kill();
        cluster.wait_for(Duration::from_secs(30), "a new leader", |c| {
            leader(c, "bounce").is_some_and(|l| l != old)
        });
        let failover = killed.elapsed();
        cluster.nodes[old].restart();
        wait_full_isr(&cluster, "bounce", 1, Duration::from_secs(60));
        eprintln!(
            "bounce {bounce}: node {old} killed; new leader after {:.1} s; ISR full again after {:.1} s",
            failover.as_secs_f64(),
            killed.elapsed().as_secs_f64()
        );
        failovers.push(failover);
    }
    std::fs::write(&stop, b"").expect("stop");
    let produced = producer.finish(Duration::from_secs(120));
    let final_read = dir.join("final.json");
    read_all_partitions(&cluster, "bounce", 1, &final_read);
    let verdict = nemesis::check(&[producer_out], &[], &final_read);
    eprintln!(
        "{produced}\n{}\nfailovers: {failovers:?}",
        summary("bounce", &verdict)
    );
    assert!(verdict.acknowledged > 500, "{produced}");
    assert_eq!(
        verdict.violations,
        Vec::new(),
        "every acknowledged record once, in order"
    );
    assert!(
        failovers.iter().all(|f| *f < Duration::from_secs(15)),
        "a failover took too long: {failovers:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// [`read_all`] for a topic with `partitions` partitions.
fn read_all_partitions(cluster: &Cluster, topic: &str, partitions: usize, out: &Path) {
    let result = run_client(
        "python3",
        &[
            SCRIPT,
            "readall",
            &cluster.bootstrap(),
            topic,
            &partitions.to_string(),
            "readall",
            &out.to_string_lossy(),
        ],
        b"",
        Duration::from_secs(180),
    );
    assert!(
        result.status.success(),
        "readall: {}",
        String::from_utf8_lossy(&result.stderr)
    );
}

/// One record with acks=all and no retries: its offset, or the error's name.
fn produce_once(cluster: &Cluster, topic: &str, value: &str) -> Result<i64, String> {
    let out = run_client(
        "python3",
        &[SCRIPT, "produce_once", &cluster.bootstrap(), topic, value],
        b"",
        Duration::from_secs(60),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "produce_once printed no JSON: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    v["offset"]
        .as_i64()
        .ok_or_else(|| v["error"].as_str().unwrap_or("?").to_string())
}

/// ENOSPC under the leader's `log.dirs`: produce is refused with KAFKA_STORAGE_ERROR (Kafka's
/// code for a write the log directory could not take), reads go on, nothing acknowledged is
/// lost, and writes are taken again once there is space, without a restart; the node says so
/// once, not per request.
#[test]
fn a_full_disk_refuses_writes_and_recovers() {
    require_root_tools();
    let _serial = one_at_a_time();
    let net = Net::new(3, nemesis::DISK_BYTES);
    let cluster = net.start_cluster(SETTINGS);
    create_topic(&cluster, "full", 1, &["min.insync.replicas=2"]);
    cluster.wait_for(
        Duration::from_secs(30),
        "the nodes agree on a leader",
        |c| leader(c, "full").is_some(),
    );
    let node = leader(&cluster, "full").expect("a leader");
    for i in 0..5 {
        assert_eq!(produce_once(&cluster, "full", &format!("a-{i}")), Ok(i));
    }
    net.fill_disk(node);
    // Records larger than a page: a small one may still fit the segment's last page.
    let padding = "x".repeat(16 << 10);
    for i in 5..10 {
        assert_eq!(
            produce_once(&cluster, "full", &format!("big-{i}-{padding}")),
            Err("KAFKA_STORAGE_ERROR".to_string()),
            "a write to the full leader"
        );
    }
    // Reads go on, from the full node itself.
    let consumed = runnel_cli(
        &[
            "consume",
            "full",
            "-b",
            &cluster.nodes[node].bootstrap(),
            "--from",
            "earliest",
            "-n",
            "5",
        ],
        b"",
    );
    assert_eq!(
        consumed.lines().collect::<Vec<_>>(),
        ["a-0", "a-1", "a-2", "a-3", "a-4"]
    );
    std::thread::sleep(Duration::from_secs(1));
    net.free_disk(node);
    // Taken again without a restart, at the next offset (nothing of the refused ones stayed).
    let deadline = Instant::now() + Duration::from_secs(20);
    let offset = loop {
        match produce_once(&cluster, "full", "a-5") {
            Ok(offset) => break offset,
            Err(e) => assert!(Instant::now() < deadline, "still refused: {e}"),
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(offset, 5);
    // The recovery is logged once writes have gone on for 2 s without a failure.
    std::thread::sleep(Duration::from_millis(2_500));
    assert_eq!(produce_once(&cluster, "full", "a-6"), Ok(6));
    wait_full_isr(&cluster, "full", 1, Duration::from_secs(30));
    let dir = history_dir("disk-full");
    let final_read = dir.join("final.json");
    read_all_partitions(&cluster, "full", 1, &final_read);
    let text = std::fs::read_to_string(&final_read).expect("final read");
    let _ = std::fs::remove_dir_all(&dir);
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    let values: Vec<&str> = v["records"]["0"]
        .as_array()
        .expect("records")
        .iter()
        .filter_map(|r| r[1].as_str())
        .collect();
    assert_eq!(values, ["a-0", "a-1", "a-2", "a-3", "a-4", "a-5", "a-6"]);
    let log = cluster.nodes[node].log();
    let full_lines = log.lines().filter(|l| l.contains("No space left")).count();
    assert_eq!(full_lines, 1, "said once, not per request:\n{log}");
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("writes succeed again"))
            .count(),
        1,
        "{log}"
    );
}
