//! The `runnel` client subcommands against a live `runnel`: each asserts its output and its
//! effect on the broker, and failures exit non-zero with one readable line.

use std::process::Command;
use std::time::Duration;

use runnel_core::partitioner::murmur2_partition;
use runnel_tests::{Runnel, run_client, runnel_binary};

const LIMIT: Duration = Duration::from_secs(60);

fn runnel(args: &[&str], stdin: &[u8]) -> String {
    let binary = runnel_binary();
    let out = run_client(binary.to_str().expect("utf-8 path"), args, stdin, LIMIT);
    String::from_utf8(out.stdout).expect("utf-8 output")
}

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
    assert_eq!(rows[0], ["TOPIC", "PARTITIONS"]);
    assert_eq!(rows[1], ["orders", "3"], "user topics first: {list}");
    assert_eq!(rows[2], ["__consumer_offsets", "1"]);
    let json = runnel(&["topic", "list", "--json", "-b", &b], b"");
    assert!(
        json.starts_with("[{\"topic\":\"orders\",\"partitions\":3,\"internal\":false}"),
        "{json}"
    );
    let describe = runnel(&["topic", "describe", "orders", "-b", &b], b"");
    assert!(
        describe.starts_with("topic orders: 3 partitions\n"),
        "{describe}"
    );
    assert_eq!(describe.lines().count(), 2 + 3);
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
}

#[test]
fn failures_exit_non_zero_with_one_line() {
    let broker = Runnel::start("cli-errors", &[]);
    let cases: [(&[&str], &str); 4] = [
        (&["consume", "missing"], "unknown topic or partition"),
        (
            &["topic", "create", "bad", "-p", "0"],
            "invalid number of partitions",
        ),
        (
            &["topic", "describe", "missing"],
            "unknown topic or partition",
        ),
        (
            &["consume", "missing", "--from", "soon"],
            "expected earliest, latest or an offset",
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
        "GROUP\nreaders\n"
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
        before.starts_with("group readers: Empty, 0 members\n"),
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
    let info = runnel(&["cluster", "info", "-b", &b], b"");
    let port = broker.port.to_string();
    assert!(
        info.lines().nth(1).is_some_and(|l| {
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
        list.contains("\x1b[1mTOPIC               PARTITIONS\x1b[0m"),
        "{list:?}"
    );
    assert!(
        list.contains("tty                 2"),
        "aligned under the header: {list:?}"
    );
    let produced = in_terminal(&format!("seq 1 2000 | {bin} produce tty -b {b}"));
    for n in [500, 1000, 1500, 2000] {
        assert!(
            produced.contains(&format!("\r\x1b[2Kproduced {n} records…")),
            "progress at {n}: {produced:?}"
        );
    }
    assert!(
        produced.contains("\r\x1b[2Kproduced 2000 records to tty"),
        "the progress line is cleared: {produced:?}"
    );
    // Piped, the same commands print plain text only.
    assert!(!runnel(&["topic", "list", "-b", &b], b"").contains('\x1b'));
}
