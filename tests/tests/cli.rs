//! The `runnel` client subcommands against a live `runnel`: each asserts its output and its
//! effect on the broker, and failures exit non-zero with one readable line.

use std::process::Command;
use std::time::Duration;

use runnel_core::partitioner::murmur2_partition;
use runnel_tests::{Runnel, run_client, runnel_binary};

const LIMIT: Duration = Duration::from_secs(60);

use runnel_tests::runnel_cli as runnel;

#[test]
fn topics_are_created_listed_described_and_deleted() {
    let broker = Runnel::start("cli-topics", &[]);
    let b = broker.bootstrap();
    let created = runnel(
        &[
            "topic",
            "create",
            "orders",
            "-p",
            "3",
            "-c",
            "cleanup.policy=compact",
            "-b",
            &b,
        ],
        b"",
    );
    assert_eq!(created, "created topic orders with 3 partitions\n");
    let list = runnel(&["topic", "list", "-b", &b], b"");
    let rows: Vec<Vec<&str>> = list
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["TOPIC", "PARTITIONS", "INTERNAL"]);
    assert_eq!(rows[1], ["orders", "3", "no"], "user topics first: {list}");
    assert_eq!(rows[2], ["__consumer_offsets", "1", "yes"]);
    let json = runnel(&["topic", "list", "--output", "json", "-b", &b], b"");
    assert_eq!(
        json,
        "[{\"topic\":\"orders\",\"partitions\":3,\"internal\":false},\
         {\"topic\":\"__consumer_offsets\",\"partitions\":1,\"internal\":true}]\n"
    );
    let describe = runnel(&["topic", "describe", "orders", "-b", &b], b"");
    // Like kafka-topics.sh --describe: the overrides on the first line; then each partition
    // with its log start and high watermark, then every config with its source (rpk's form).
    assert!(
        describe.starts_with(
            "topic orders: 3 partitions, configs: cleanup.policy=compact (DYNAMIC_TOPIC_CONFIG)\n\
             PARTITION  LEADER  REPLICAS  ISR  LOG START  HIGH WATERMARK\n\
             0          0       0         0    0          0\n"
        ),
        "{describe}"
    );
    let config_rows: Vec<Vec<&str>> = describe
        .lines()
        .skip_while(|l| !l.starts_with("CONFIG"))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(
        config_rows.contains(&vec!["cleanup.policy", "compact", "DYNAMIC_TOPIC_CONFIG"])
            && config_rows.contains(&vec!["retention.ms", "604800000", "DEFAULT_CONFIG"]),
        "{describe}"
    );
    let json = runnel(
        &["topic", "describe", "orders", "-o", "json", "-b", &b],
        b"",
    );
    assert!(
        json.starts_with(
            "{\"topic\":\"orders\",\"partitions\":3,\"partition_list\":[\
             {\"partition\":0,\"leader\":0,\"replicas\":[0],\"isr\":[0],\"log_start\":0,\"high_watermark\":0},\
             {\"partition\":1,\"leader\":0,\"replicas\":[0],\"isr\":[0],\"log_start\":0,\"high_watermark\":0},\
             {\"partition\":2,\"leader\":0,\"replicas\":[0],\"isr\":[0],\"log_start\":0,\"high_watermark\":0}],\
             \"configs\":["
        ) && json.contains(
            "{\"config\":\"cleanup.policy\",\"value\":\"compact\",\"source\":\"DYNAMIC_TOPIC_CONFIG\"}"
        ),
        "{json}"
    );
    assert!(
        broker
            .log()
            .contains("created topic orders with 3 partitions")
    );
    assert_eq!(
        runnel(
            &[
                "topic",
                "alter-config",
                "orders",
                "--set",
                "retention.ms=60000",
                "-b",
                &b
            ],
            b""
        ),
        "altered 1 config(s) of topic orders\n"
    );
    let data = broker.data_dir.join("__topics").join("orders.toml");
    let meta = std::fs::read_to_string(&data).expect("topic metadata");
    assert!(
        meta.contains("retention.ms") && meta.contains("60000"),
        "{meta}"
    );
    assert_eq!(
        runnel(
            &["topic", "add-partitions", "orders", "--to", "5", "-b", &b],
            b""
        ),
        "topic orders now has 5 partitions\n"
    );
    assert!(
        runnel(&["topic", "describe", "orders", "-b", &b], b"")
            .starts_with("topic orders: 5 partitions")
    );
    assert_eq!(
        runnel(&["topic", "delete", "orders", "-b", &b], b""),
        "deleted topic orders\n"
    );
    assert!(!runnel(&["topic", "list", "-b", &b], b"").contains("orders"));
}

#[test]
fn produce_and_consume_round_trip_with_keys_where_the_java_client_puts_them() {
    let broker = Runnel::start("cli-records", &[]);
    let b = broker.bootstrap();
    runnel(&["topic", "create", "events", "-p", "4", "-b", &b], b"");
    let input: String = (0..200)
        .map(|i| format!("user-{}:event-{i}\n", i % 13))
        .collect();
    runnel(
        &["produce", "events", "-K", ":", "-b", &b],
        input.as_bytes(),
    );
    let out = runnel(
        &["consume", "events", "-f", "%p %o %k %s\\n", "-b", &b],
        b"",
    );
    let mut seen = Vec::new();
    let mut last_offset = std::collections::BTreeMap::new();
    for line in out.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let (p, o, key, value): (u32, i64, &str, &str) =
            (f[0].parse().unwrap(), f[1].parse().unwrap(), f[2], f[3]);
        assert_eq!(
            murmur2_partition(key.as_bytes(), 4),
            p,
            "{key} is on the partition murmur2 picks"
        );
        let n: usize = value.trim_start_matches("event-").parse().unwrap();
        assert_eq!(key, format!("user-{}", n % 13));
        assert!(
            last_offset.insert(p, o).is_none_or(|prev| prev < o),
            "offsets rise in partition {p}"
        );
        seen.push(n);
    }
    seen.sort_unstable();
    assert_eq!(
        seen,
        (0..200).collect::<Vec<_>>(),
        "each record exactly once"
    );
    let first = runnel(&["consume", "events", "-n", "5", "-b", &b], b"");
    assert_eq!(first.lines().count(), 5, "--count stops early");
    assert_eq!(
        runnel(&["consume", "events", "--from", "latest", "-b", &b], b""),
        ""
    );
    // -N: the last N of each partition.
    let tail = runnel(
        &[
            "consume", "events", "--from", "-2", "-f", "%p %o\\n", "-b", &b,
        ],
        b"",
    );
    let mut expected: Vec<String> = last_offset
        .iter()
        .flat_map(|(p, o)| [format!("{p} {}", o - 1), format!("{p} {o}")])
        .collect();
    let mut got: Vec<String> = tail.lines().map(str::to_string).collect();
    expected.sort();
    got.sort();
    assert_eq!(got, expected);
}

#[test]
fn consume_from_a_time_and_reset_a_group_to_a_datetime() {
    let broker = Runnel::start("cli-time", &[]);
    let b = broker.bootstrap();
    runnel(&["topic", "create", "t", "-p", "2", "-b", &b], b"");
    runnel(&["produce", "t", "-b", &b], b"early-1\nearly-2\nearly-3\n");
    std::thread::sleep(Duration::from_millis(50));
    let between = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    std::thread::sleep(Duration::from_millis(50));
    runnel(&["produce", "t", "-b", &b], b"late-1\nlate-2\n");
    let late = runnel(
        &["consume", "t", "--from", &format!("@{between}"), "-b", &b],
        b"",
    );
    let mut late: Vec<&str> = late.lines().collect();
    late.sort_unstable();
    assert_eq!(late, ["late-1", "late-2"]);
    // The same instant as an ISO 8601 date-time, in UTC and with an offset.
    let iso = iso8601(between);
    let again = runnel(&["consume", "t", "--from", &iso, "-b", &b], b"");
    assert_eq!(again.lines().count(), 2, "{iso}: {again}");
    // A group at the end, reset to the instant: the plan points at the late records.
    runnel(&["consume", "t", "-G", "audit", "-b", &b], b"");
    let described = runnel(&["group", "describe", "audit", "-o", "json", "-b", &b], b"");
    assert!(
        described.starts_with(
            "{\"group\":\"audit\",\"state\":\"Empty\",\"protocol_type\":\"consumer\",\"coordinator\":0,\"members\":0,\"total_lag\":0,"
        ),
        "{described}"
    );
    let plan = runnel(
        &[
            "group",
            "reset-offsets",
            "audit",
            "--topic",
            "t",
            "--to-datetime",
            &iso,
            "--execute",
            "-o",
            "json",
            "-b",
            &b,
        ],
        b"",
    );
    assert!(plan.contains("\"executed\":true"), "{plan}");
    let reread = runnel(&["consume", "t", "-G", "audit", "-b", &b], b"");
    let mut reread: Vec<&str> = reread.lines().collect();
    reread.sort_unstable();
    assert_eq!(reread, ["late-1", "late-2"], "rewound to the instant");
    // A time after every record: the log end, nothing to read.
    runnel(
        &[
            "group",
            "reset-offsets",
            "audit",
            "--topic",
            "t",
            "--to-datetime",
            "2999-01-01",
            "--execute",
            "-b",
            &b,
        ],
        b"",
    );
    assert_eq!(runnel(&["consume", "t", "-G", "audit", "-b", &b], b""), "");
}

#[test]
fn a_deleted_topics_commits_stay_deleted_after_a_restart_so_a_new_topic_of_its_name_is_read_from_its_start()
 {
    // Kafka's GroupCoordinator.onPartitionsDeleted writes a tombstone to __consumer_offsets
    // for every group's commit of a deleted topic (GroupMetadataManager.cleanupGroupMetadata):
    // the commits do not come back when the log is read again at a restart. Back, the old
    // commit (offset 3) would make the group skip the new topic's first three records.
    let mut broker = Runnel::start("cli-deleted-commits", &[]);
    let b = broker.bootstrap();
    runnel(&["topic", "create", "orders", "-b", &b], b"");
    runnel(&["produce", "orders", "-b", &b], b"a\nb\nc\n");
    assert_eq!(
        runnel(&["consume", "orders", "-G", "billing", "-b", &b], b""),
        "a\nb\nc\n"
    );
    assert_eq!(
        runnel(&["topic", "delete", "orders", "-b", &b], b""),
        "deleted topic orders\n"
    );
    assert!(broker.terminate(), "a clean stop");
    broker.restart();
    runnel(&["topic", "create", "orders", "-b", &b], b"");
    runnel(&["produce", "orders", "-b", &b], b"n1\nn2\nn3\nn4\nn5\n");
    assert_eq!(
        runnel(&["consume", "orders", "-G", "billing", "-b", &b], b""),
        "n1\nn2\nn3\nn4\nn5\n",
        "the group has no commit on the new topic: it starts at its log start"
    );
}

/// `ms` since the epoch as 2026-11-23T10:15:30.123Z, by GNU date (an oracle independent of
/// the CLI's own date code).
fn iso8601(ms: i64) -> String {
    let out = Command::new("date")
        .args([
            "-u",
            "-d",
            &format!("@{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000)),
            "+%Y-%m-%dT%H:%M:%S.%3NZ",
        ])
        .output()
        .expect("date");
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_string()
}

#[test]
fn consume_as_a_group_member_resumes_and_shares_partitions() {
    let broker = Runnel::start("cli-member", &[]);
    let b = broker.bootstrap();
    runnel(&["topic", "create", "jobs", "-p", "4", "-b", &b], b"");
    let input: String = (0..100).map(|i| format!("k{i}:job-{i}\n")).collect();
    runnel(&["produce", "jobs", "-K", ":", "-b", &b], input.as_bytes());
    let mut seen = Vec::new();
    // Three sittings of 40, 40 and the rest: each resumes at the last commit.
    for expected in [40, 40, 20] {
        let out = runnel(
            &["consume", "jobs", "-G", "workers", "-n", "40", "-b", &b],
            b"",
        );
        assert_eq!(out.lines().count(), expected, "{out}");
        seen.extend(out.lines().map(str::to_string));
    }
    seen.sort();
    let mut all: Vec<String> = (0..100).map(|i| format!("job-{i}")).collect();
    all.sort();
    assert_eq!(seen, all, "each record once across the sittings");
    let describe = runnel(&["group", "describe", "workers", "-b", &b], b"");
    assert!(
        describe.starts_with("group workers: Empty with 0 members, coordinator 0, total lag 0\n"),
        "{describe}"
    );
    for line in describe.lines().skip(2) {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f[2], f[3], "committed to the end: {describe}");
        assert_eq!(f[4], "0");
    }
    assert_eq!(
        runnel(&["group", "list", "-b", &b], b""),
        "GROUP    TYPE\nworkers  consumer\n"
    );
    // A kcat member (which never stores, so never commits, an offset) holds the group while a
    // runnel member joins: kcat, the leader, assigns each two partitions by range, and the
    // runnel member reads its two from the reset commits.
    runnel(
        &[
            "group",
            "reset-offsets",
            "workers",
            "--topic",
            "jobs",
            "--to-earliest",
            "--execute",
            "-b",
            &b,
        ],
        b"",
    );
    let mut kcat = runnel_tests::client_command("kcat")
        .args([
            "-b",
            &b,
            "-G",
            "workers",
            "-q",
            "-X",
            "client.id=kcat-member",
            "-X",
            "enable.auto.offset.store=false",
            "jobs",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start kcat");
    let deadline = std::time::Instant::now() + LIMIT;
    while !runnel(&["group", "describe", "workers", "-b", &b], b"")
        .contains("Stable with 1 member (kcat-member@")
    {
        assert!(std::time::Instant::now() < deadline, "kcat never joined");
        std::thread::sleep(Duration::from_millis(200));
    }
    let mine = runnel(
        &["consume", "jobs", "-G", "workers", "-f", "%p\\n", "-b", &b],
        b"",
    );
    let _ = kcat.kill();
    let _ = kcat.wait();
    let mut partitions: Vec<&str> = mine.lines().collect();
    partitions.dedup();
    partitions.sort_unstable();
    partitions.dedup();
    assert_eq!(partitions.len(), 2, "half of the 4 partitions: {mine}");
    assert!(mine.lines().count() < 100 && !mine.is_empty(), "{mine}");
}

#[test]
fn failures_exit_non_zero_with_one_line() {
    let broker = Runnel::start("cli-errors", &[]);
    let cases: [(&[&str], &str); 5] = [
        (&["consume", "missing"], "unknown topic or partition"),
        (
            &["topic", "create", "bad", "-p", "0"],
            // The broker's own words, then the code's Kafka name.
            "number of partitions must be between 1 and 10000 (INVALID_PARTITIONS, Kafka error 37)",
        ),
        (
            &["topic", "describe", "missing"],
            "unknown topic or partition",
        ),
        (
            &["consume", "missing", "--from", "soon"],
            "expected earliest, latest, an offset, -N, @MILLIS or a date-time",
        ),
        (
            &[
                "group",
                "reset-offsets",
                "g",
                "--topic",
                "t",
                "--to-datetime",
                "noon",
            ],
            "expected milliseconds since the epoch or a date-time",
        ),
    ];
    for (args, message) in cases {
        let out = Command::new(runnel_binary())
            .args(args)
            .args(["-b", &broker.bootstrap()])
            .output()
            .expect("run runnel");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} must fail");
        assert!(
            stderr.contains(message) && stderr.lines().count() == 1,
            "{args:?}: {stderr}"
        );
    }
    assert!(
        !runnel(&["topic", "list", "-b", &broker.bootstrap()], b"").contains("missing"),
        "nothing was auto-created"
    );
    let out = Command::new(runnel_binary())
        .args(["topic", "list", "-b", "127.0.0.1:1"])
        .output()
        .expect("run runnel");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("runnel: broker 127.0.0.1:1:"));
}

#[test]
fn groups_are_listed_described_and_reset_with_a_dry_run_first() {
    let broker = Runnel::start("cli-groups", &[]);
    let b = broker.bootstrap();
    runnel(&["topic", "create", "ev", "-p", "2", "-b", &b], b"");
    let input: String = (0..10).map(|i| format!("k{i}:v{i}\n")).collect();
    runnel(&["produce", "ev", "-K", ":", "-b", &b], input.as_bytes());
    // A real group commits where it got to: everything.
    run_client(
        "kcat",
        &[
            "-b",
            &b,
            "-G",
            "readers",
            "ev",
            "-e",
            "-q",
            "-X",
            "auto.offset.reset=earliest",
        ],
        b"",
        LIMIT,
    );
    assert_eq!(
        runnel(&["group", "list", "-b", &b], b""),
        "GROUP    TYPE\nreaders  consumer\n"
    );
    let lag = |text: &str| -> Vec<(String, i64, i64)> {
        text.lines()
            .skip(2)
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (
                    f[1].to_string(),
                    f[2].parse().unwrap(),
                    f[4].parse().unwrap(),
                )
            })
            .collect()
    };
    let before = runnel(&["group", "describe", "readers", "-b", &b], b"");
    assert!(
        before.starts_with("group readers: Empty with 0 members, coordinator 0, total lag 0\n"),
        "{before}"
    );
    let rows = lag(&before);
    assert_eq!(
        rows.iter().map(|r| r.1).sum::<i64>(),
        10,
        "committed to the end: {before}"
    );
    assert!(rows.iter().all(|r| r.2 == 0), "no lag: {before}");
    let plan = runnel(
        &[
            "group",
            "reset-offsets",
            "readers",
            "--topic",
            "ev",
            "--shift-by",
            "-1",
            "-b",
            &b,
        ],
        b"",
    );
    assert!(
        plan.ends_with("(dry run: add --execute to commit)\n"),
        "{plan}"
    );
    assert_eq!(
        runnel(&["group", "describe", "readers", "-b", &b], b""),
        before,
        "a dry run changes nothing"
    );
    let done = runnel(
        &[
            "group",
            "reset-offsets",
            "readers",
            "--topic",
            "ev",
            "--to-earliest",
            "--execute",
            "-b",
            &b,
        ],
        b"",
    );
    assert!(done.ends_with("committed\n"), "{done}");
    let after = lag(&runnel(&["group", "describe", "readers", "-b", &b], b""));
    assert!(after.iter().all(|r| r.1 == 0), "rewound: {after:?}");
    assert_eq!(
        after.iter().map(|r| r.2).sum::<i64>(),
        10,
        "all 10 to read again"
    );
}

#[test]
fn cluster_info_and_records_delete() {
    let broker = Runnel::start("cli-cluster", &[]);
    let b = broker.bootstrap();
    // The cluster id is the one the data directory's meta.properties holds (Kafka's file).
    let properties =
        std::fs::read_to_string(broker.data_dir.join("meta.properties")).expect("meta.properties");
    let cluster_id = properties
        .lines()
        .find_map(|l| l.strip_prefix("cluster.id="))
        .expect("cluster.id")
        .to_string();
    assert_eq!(
        cluster_id.len(),
        22,
        "a UUID in URL-safe base64: {properties}"
    );
    assert!(properties.contains("\nnode.id=0\n"), "{properties}");
    let info = runnel(&["cluster", "info", "-b", &b], b"");
    assert_eq!(
        runnel(&["cluster", "info", "-o", "json", "-b", &b], b""),
        format!(
            "{{\"cluster_id\":\"{cluster_id}\",\"controller\":0,\"topics\":1,\"partitions\":1,\"brokers\":[\
             {{\"broker\":0,\"host\":\"127.0.0.1\",\"port\":{},\"role\":\"controller\"}}]}}\n",
            broker.port
        )
    );
    let port = broker.port.to_string();
    assert!(
        info.starts_with(&format!("cluster {cluster_id}, controller 0\n")),
        "{info}"
    );
    assert!(
        info.lines().nth(2).is_some_and(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f == ["0", "127.0.0.1", port.as_str(), "controller"]
        }),
        "{info}"
    );
    runnel(&["topic", "create", "old", "-p", "1", "-b", &b], b"");
    let input: String = (0..10).map(|i| format!("r{i}\n")).collect();
    runnel(&["produce", "old", "-b", &b], input.as_bytes());
    let deleted = runnel(
        &["records", "delete", "old", "--before", "7", "-b", &b],
        b"",
    );
    assert!(
        deleted
            .lines()
            .nth(1)
            .is_some_and(|l| l.split_whitespace().collect::<Vec<_>>() == ["old", "0", "7"]),
        "{deleted}"
    );
    assert_eq!(
        runnel(&["consume", "old", "-b", &b], b""),
        "r7\nr8\nr9\n",
        "only what is left"
    );
}

#[test]
fn completions_are_printed_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let script = runnel(&["completions", shell], b"");
        assert!(
            script.contains("runnel") && script.contains("reset-offsets"),
            "{shell}"
        );
    }
}

/// Runs a shell command line in a pseudo-terminal (util-linux `script`) and returns all it wrote.
fn in_terminal(command: &str) -> String {
    let out = run_client("script", &["-qefc", command, "/dev/null"], b"", LIMIT);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn on_a_terminal_tables_have_bold_headers_and_produce_shows_progress() {
    let broker = Runnel::start("cli-tty", &[]);
    let b = broker.bootstrap();
    let bin = runnel_binary();
    let bin = bin.to_str().expect("utf-8 path");
    runnel(&["topic", "create", "tty", "-p", "2", "-b", &b], b"");
    let list = in_terminal(&format!("{bin} topic list -b {b}"));
    assert!(
        list.contains("\x1b[1mTOPIC               PARTITIONS  INTERNAL\x1b[0m"),
        "{list:?}"
    );
    assert!(
        list.contains("tty                 2           no"),
        "aligned under the header: {list:?}"
    );
    let produced = in_terminal(&format!("seq 1 2000 | {bin} produce tty -b {b}"));
    // Lines are sent as they arrive (at most 500 per request, after a 5 ms linger), and the
    // count so far is shown after each request; how many requests that takes depends on how
    // fast the pipe fills.
    assert!(
        produced.contains("\r\x1b[2Kproduced ") && produced.contains(" records…"),
        "progress: {produced:?}"
    );
    assert!(
        produced.contains("\r\x1b[2Kproduced 2000 records…"),
        "the last count is every line: {produced:?}"
    );
    assert!(
        produced.contains("\r\x1b[2Kproduced 2000 records to tty"),
        "the progress line is cleared: {produced:?}"
    );
    // NO_COLOR (https://no-color.org) turns the bold off on a terminal too.
    let plain = in_terminal(&format!("NO_COLOR=1 {bin} topic list -b {b}"));
    assert!(
        plain.contains("TOPIC") && !plain.contains('\x1b'),
        "{plain:?}"
    );
    // Piped, the same commands print plain text only.
    assert!(!runnel(&["topic", "list", "-b", &b], b"").contains('\x1b'));
}
