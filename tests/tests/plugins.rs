//! WASM plugin pipelines in a running `runnel`, deployed with `runnel plugin deploy`, fed and
//! read by kcat: a redaction transform, a region partitioner, a filter, the WAT round robin,
//! plugins that never return or grow memory without end (their batches go to the dead-letter
//! topic while the broker keeps serving), and a redeploy mid-stream plus a restart that lose
//! and duplicate nothing.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use runnel_tests::{Runnel, run_client, runnel_binary, workspace_root};

const LIMIT: Duration = Duration::from_secs(60);

use runnel_tests::runnel_cli as runnel;

fn example(name: &str) -> String {
    let path: PathBuf = workspace_root()
        .join("target/wasm32-unknown-unknown/release")
        .join(format!("runnel_example_{name}.wasm"));
    assert!(
        path.exists(),
        "{} is missing: the test command builds it",
        path.display()
    );
    path.display().to_string()
}

fn deploy(broker: &Runnel, name: &str, file: &str, input: &str, output: &str, kind: &str) {
    let admin = format!("127.0.0.1:{}", broker.admin_port);
    let out = runnel(
        &[
            "plugin", "deploy", name, file, "--input", input, "--output", output, "--kind", kind,
            "--admin", &admin,
        ],
        b"",
    );
    assert!(
        out.starts_with(&format!("deployed plugin {name} version ")),
        "{out}"
    );
}

/// kcat's view of a topic, one line per record with `format`, read to the end.
fn read_topic(broker: &Runnel, topic: &str, format: &str) -> Vec<String> {
    let out = run_client(
        "kcat",
        &[
            "-b",
            &broker.bootstrap(),
            "-C",
            "-t",
            topic,
            "-e",
            "-q",
            "-f",
            format,
        ],
        b"",
        LIMIT,
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Reads `topic` until it holds `count` records (bounded by [`LIMIT`]).
fn wait_for(broker: &Runnel, topic: &str, format: &str, count: usize) -> Vec<String> {
    let deadline = Instant::now() + LIMIT;
    loop {
        let lines = if runnel(&["topic", "list", "-b", &broker.bootstrap()], b"")
            .lines()
            .any(|l| l.split_whitespace().next() == Some(topic))
        {
            read_topic(broker, topic, format)
        } else {
            Vec::new()
        };
        if lines.len() >= count {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "{topic} has {} of {count} records:\n{}",
            lines.len(),
            broker.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn produce(broker: &Runnel, topic: &str, lines: &str, keyed: bool) {
    let b = broker.bootstrap();
    let mut args = vec!["-b", b.as_str(), "-P", "-t", topic];
    if keyed {
        args.extend(["-K", ":"]);
    }
    run_client("kcat", &args, lines.as_bytes(), LIMIT);
}

#[test]
fn transforms_and_partitioners_run_between_topics() {
    let broker = Runnel::start("plugins-pipelines", &[]);
    let b = broker.bootstrap();
    for (topic, partitions) in [
        ("raw", "2"),
        ("clean", "2"),
        ("orders-in", "1"),
        ("orders", "3"),
        ("logs", "1"),
        ("kept", "1"),
        ("rr-in", "1"),
        ("rr-out", "3"),
    ] {
        runnel(&["topic", "create", topic, "-p", partitions, "-b", &b], b"");
    }
    deploy(
        &broker,
        "redact",
        &example("redact_email"),
        "raw",
        "clean",
        "transform",
    );
    deploy(
        &broker,
        "regions",
        &example("region_partitioner"),
        "orders-in",
        "orders",
        "partition",
    );
    deploy(
        &broker,
        "quiet",
        &example("drop_filter"),
        "logs",
        "kept",
        "transform",
    );
    let wat = workspace_root().join("plugins/examples/round-robin-wat/round_robin.wat");
    deploy(
        &broker,
        "rr",
        &wat.display().to_string(),
        "rr-in",
        "rr-out",
        "partition",
    );

    let raw: String = (0..100)
        .map(|i| format!("user-{i}:mail user{i}@example.com about order {i}\n"))
        .collect();
    produce(&broker, "raw", &raw, true);
    let clean = wait_for(&broker, "clean", "%k|%s\\n", 100);
    let mut got: Vec<&str> = clean.iter().map(String::as_str).collect();
    got.sort_unstable();
    let mut want: Vec<String> = (0..100)
        .map(|i| format!("user-{i}|mail [redacted] about order {i}"))
        .collect();
    want.sort();
    assert_eq!(got, want, "every record once, redacted, key kept");

    let orders: String = ["eu", "us", "ap", "eu", "mars", "us"]
        .iter()
        .enumerate()
        .map(|(i, r)| format!("{{\"id\":{i},\"region\":\"{r}\"}}\n"))
        .collect();
    produce(&broker, "orders-in", &orders, false);
    let mut routed = wait_for(&broker, "orders", "%p %s\\n", 6);
    routed.sort();
    let expected = [
        "0 {\"id\":0,\"region\":\"eu\"}",
        "0 {\"id\":3,\"region\":\"eu\"}",
        "1 {\"id\":1,\"region\":\"us\"}",
        "1 {\"id\":5,\"region\":\"us\"}",
        "2 {\"id\":2,\"region\":\"ap\"}",
        "2 {\"id\":4,\"region\":\"mars\"}",
    ];
    assert_eq!(routed, expected, "eu → 0, us → 1, ap and unknown → 2");

    // The filter: kcat cannot set headers per line from stdin, so levels come from -H runs.
    for (level, value) in [("info", "a"), ("debug", "b"), ("info", "c"), ("trace", "d")] {
        run_client(
            "kcat",
            &[
                "-b",
                &b,
                "-P",
                "-t",
                "logs",
                "-H",
                &format!("level={level}"),
            ],
            format!("{value}\n").as_bytes(),
            LIMIT,
        );
    }
    run_client(
        "kcat",
        &["-b", &b, "-P", "-t", "rr-in"],
        b"1\n2\n3\n4\n5\n6\n7\n",
        LIMIT,
    );
    let deadline = Instant::now() + LIMIT;
    loop {
        let list = runnel(
            &[
                "plugin",
                "list",
                "-o",
                "json",
                "--admin",
                &format!("127.0.0.1:{}", broker.admin_port),
            ],
            b"",
        );
        if list.contains("\"name\":\"quiet\",\"kind\":\"transform\",\"input\":\"logs\",\"output\":\"kept\",\"version\":1,\"processed\":4")
            && list.contains("\"name\":\"rr\",\"kind\":\"partition\",\"input\":\"rr-in\",\"output\":\"rr-out\",\"version\":1,\"processed\":7")
        {
            break;
        }
        assert!(Instant::now() < deadline, "{list}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        read_topic(&broker, "kept", "%s\\n"),
        ["a", "c"],
        "debug and trace dropped"
    );
    let mut rr = read_topic(&broker, "rr-out", "%p %s\\n");
    rr.sort();
    assert_eq!(
        rr,
        ["0 1", "0 4", "0 7", "1 2", "1 5", "2 3", "2 6"],
        "round robin from WAT"
    );
}

#[test]
fn a_pipeline_reads_committed_records_only_as_a_read_committed_consumer() {
    // KIP-98: a read_committed consumer reads below the last stable offset and drops the
    // records of aborted transactions and the markers. A pipeline reads its input so: an
    // aborted transaction's records and the control batches never reach the plugin.
    let broker = Runnel::start("plugins-txn", &[]);
    let b = broker.bootstrap();
    for topic in ["txn-in", "txn-out"] {
        runnel(&["topic", "create", topic, "-b", &b], b"");
    }
    deploy(
        &broker,
        "redact",
        &example("redact_email"),
        "txn-in",
        "txn-out",
        "transform",
    );
    let script = r#"
import sys
from confluent_kafka import Producer
b = sys.argv[1]
p = Producer({"bootstrap.servers": b, "transactional.id": "plugin-txn"})
p.init_transactions(30)
p.begin_transaction()
p.produce("txn-in", key=b"a", value=b"aborted one@example.com")
p.produce("txn-in", key=b"a", value=b"aborted two@example.com")
p.flush(30)
p.abort_transaction(30)
p.begin_transaction()
p.produce("txn-in", key=b"c", value=b"committed three@example.com")
p.commit_transaction(30)
plain = Producer({"bootstrap.servers": b})
plain.produce("txn-in", key=b"p", value=b"plain four@example.com")
plain.flush(30)
"#;
    let out = run_client("python3", &["-c", script, &b], b"", LIMIT);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = Instant::now() + LIMIT;
    let lines = loop {
        let lines = read_topic(&broker, "txn-out", "%k|%s\\n");
        if lines.iter().any(|l| l.starts_with("p|")) {
            break lines;
        }
        assert!(
            Instant::now() < deadline,
            "txn-out: {lines:?}\n{}",
            broker.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        lines,
        ["c|committed [redacted]", "p|plain [redacted]"],
        "the committed transaction and the plain record, in order; nothing aborted, no marker"
    );
}

#[test]
fn plugins_that_never_return_or_hog_memory_send_their_batch_to_the_dead_letter_topic() {
    let broker = Runnel::start("plugins-dlq", &[]);
    let b = broker.bootstrap();
    for topic in ["in", "out", "other", "hog-in", "hog-out"] {
        runnel(&["topic", "create", topic, "-b", &b], b"");
    }
    let hog = workspace_root().join("plugins/host/tests/wat/memory_hog.wat");
    deploy(
        &broker,
        "hog",
        &hog.display().to_string(),
        "hog-in",
        "hog-out",
        "transform",
    );
    produce(&broker, "hog-in", "big\n", false);
    let spin = workspace_root().join("plugins/host/tests/wat/infinite_loop.wat");
    deploy(
        &broker,
        "spin",
        &spin.display().to_string(),
        "in",
        "out",
        "partition",
    );
    produce(&broker, "in", "k1:v1\nk2:v2\nk3:v3\n", true);
    let dead = wait_for(&broker, "spin-dlq", "%k=%s %h\\n", 3);
    for (i, line) in dead.iter().enumerate() {
        assert!(
            line.starts_with(&format!("k{}=v{} ", i + 1, i + 1)),
            "{line}"
        );
        for header in [
            "runnel.error=plugin spin: stopped after 5ms (CPU limit)",
            "runnel.plugin=spin",
            "runnel.attempts=3",
            &format!("runnel.source=in-0@{i}"),
        ] {
            assert!(line.contains(header), "{header} in {line}");
        }
    }
    assert!(
        read_topic(&broker, "out", "%s\\n").is_empty(),
        "nothing reached the output"
    );
    let hogged = wait_for(&broker, "hog-dlq", "%s %h\\n", 1);
    assert!(
        hogged[0].starts_with("big ")
            && hogged[0]
                .contains("runnel.error=plugin hog: memory limit of 16777216 bytes reached"),
        "{hogged:?}"
    );
    // The broker kept serving meanwhile.
    produce(&broker, "other", "still\nhere\n", false);
    assert_eq!(read_topic(&broker, "other", "%s\\n"), ["still", "here"]);
    // A module that is not wasm is refused with one line, and nothing is deployed.
    let bad = broker.data_dir.join("not.wasm");
    std::fs::write(&bad, b"hello").expect("write");
    let out = std::process::Command::new(runnel_binary())
        .args([
            "plugin",
            "deploy",
            "bad",
            bad.to_str().expect("path"),
            "--input",
            "in",
            "--output",
            "out",
        ])
        .args(["--admin", &format!("127.0.0.1:{}", broker.admin_port)])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr
            == format!(
                "runnel: {}: plugin bad: not a WebAssembly module: expected binary .wasm (starting with \\0asm) or WebAssembly text (.wat)\n",
                bad.display()
            ),
        "{stderr}"
    );
    assert!(
        !runnel(
            &[
                "plugin",
                "list",
                "-o",
                "json",
                "--admin",
                &format!("127.0.0.1:{}", broker.admin_port)
            ],
            b""
        )
        .contains("\"bad\"")
    );
}

#[test]
fn a_redeploy_mid_stream_and_a_restart_lose_and_duplicate_nothing() {
    let mut broker = Runnel::start("plugins-redeploy", &[]);
    let b = broker.bootstrap();
    runnel(&["topic", "create", "src", "-b", &b], b"");
    runnel(&["topic", "create", "dst", "-b", &b], b"");
    deploy(
        &broker,
        "pipe",
        &example("drop_filter"),
        "src",
        "dst",
        "transform",
    );
    for chunk in 0..10 {
        let lines: String = (chunk * 200..(chunk + 1) * 200)
            .map(|i| format!("n-{i}\n"))
            .collect();
        runnel(&["produce", "src", "-b", &b], lines.as_bytes());
        if chunk == 4 {
            // Version 2 (a different module) replaces version 1 at a batch boundary.
            deploy(
                &broker,
                "pipe",
                &example("redact_email"),
                "src",
                "dst",
                "transform",
            );
        }
    }
    let out = wait_for(&broker, "dst", "%s\\n", 2000);
    let want: Vec<String> = (0..2000).map(|i| format!("n-{i}")).collect();
    assert_eq!(out, want, "each record once, in order, across the redeploy");
    assert!(broker.log().contains("plugin pipe v2 deployed"));

    assert!(broker.terminate(), "clean stop");
    broker.restart();
    let admin = format!("127.0.0.1:{}", broker.admin_port);
    let list = runnel(&["plugin", "list", "-o", "json", "--admin", &admin], b"");
    assert!(list.contains("\"name\":\"pipe\",\"kind\":\"transform\",\"input\":\"src\",\"output\":\"dst\",\"version\":2,\"processed\":2000"), "{list}");
    let more: String = (2000..2100).map(|i| format!("n-{i}\n")).collect();
    runnel(&["produce", "src", "-b", &b], more.as_bytes());
    let out = wait_for(&broker, "dst", "%s\\n", 2100);
    let want: Vec<String> = (0..2100).map(|i| format!("n-{i}")).collect();
    assert_eq!(
        out, want,
        "resumed at its position: nothing again, nothing missed"
    );
    runnel(&["plugin", "remove", "pipe", "--admin", &admin], b"");
    assert_eq!(
        runnel(&["plugin", "list", "-o", "json", "--admin", &admin], b""),
        "[]\n"
    );
    assert_eq!(
        runnel(&["plugin", "list", "--admin", &admin], b""),
        "NAME  KIND  INPUT  OUTPUT  VERSION  PROCESSED  FAILED\n"
    );
}
