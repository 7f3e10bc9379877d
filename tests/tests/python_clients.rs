//! Python clients from PyPI against a real `runnel`: confluent-kafka (current librdkafka) for
//! idempotent produce, a two-member consumer group, commits that survive a SIGTERM and a
//! SIGKILL restart, and a compacted topic; kafka-python for headers and timestamps.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use runnel_tests::{Runnel, run_client};
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(120);

fn python(args: &[&str]) -> Value {
    let out = run_client("python3", args, b"", LIMIT);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// (partition, offset, value) triples from a JSON array.
fn triples(value: &Value) -> Vec<(i64, i64, String)> {
    value
        .as_array()
        .expect("array")
        .iter()
        .map(|t| {
            (
                t[0].as_i64().expect("partition"),
                t[1].as_i64().expect("offset"),
                t[2].as_str().expect("value").to_string(),
            )
        })
        .collect()
}

/// Phase 1, stop (SIGTERM or SIGKILL), restart, phase 2: nothing acknowledged is lost, and
/// nothing committed is read again.
fn group_survives_restart(name: &str, settings: &[&str], kill: bool) {
    let mut broker = Runnel::start(name, settings);
    let bootstrap = broker.bootstrap();
    let first = python(&["tests/clients/confluent_group.py", "phase1", &bootstrap]);
    let acked = triples(&first["acked"]);
    let processed = triples(&first["processed"]);
    assert_eq!(acked.len(), 600);
    let acked_values: BTreeSet<&String> = acked.iter().map(|t| &t.2).collect();
    assert_eq!(acked_values.len(), 600, "each record acknowledged once");
    // What phase 1 committed: one past the last processed offset of each partition.
    let mut committed: BTreeMap<i64, i64> = BTreeMap::new();
    for (p, o, _) in &processed {
        let c = committed.entry(*p).or_insert(0);
        *c = (*c).max(o + 1);
    }
    let processed_values: BTreeSet<&String> = processed.iter().map(|t| &t.2).collect();
    assert_eq!(
        processed_values.len(),
        processed.len(),
        "no record processed twice in phase 1"
    );

    if kill {
        broker.kill();
    } else {
        assert!(broker.terminate(), "SIGTERM exits 0:\n{}", broker.log());
    }
    broker.restart();

    let remaining = 600 - processed.len();
    let second = python(&[
        "tests/clients/confluent_group.py",
        "phase2",
        &bootstrap,
        &remaining.to_string(),
    ]);
    for (p, offset) in &committed {
        assert_eq!(
            second["committed"][p.to_string()].as_i64(),
            Some(*offset),
            "partition {p}: the commit survived the restart"
        );
    }
    let records = triples(&second["records"]);
    for (p, o, v) in &records {
        assert!(
            *o >= committed.get(p).copied().unwrap_or(0),
            "{v} at {p}/{o} was committed already and is read again"
        );
    }
    let mut all: Vec<&String> = processed.iter().chain(&records).map(|t| &t.2).collect();
    all.sort();
    let mut expected: Vec<&String> = acked_values.into_iter().collect();
    expected.sort();
    assert_eq!(
        all, expected,
        "every acknowledged record is read exactly once across both runs"
    );
}

#[test]
fn confluent_kafka_group_resumes_after_sigterm() {
    group_survives_restart("confluent-term", &[], false);
}

#[test]
fn confluent_kafka_group_resumes_after_sigkill_with_fsync_before_ack() {
    group_survives_restart("confluent-kill", &["log.flush.before.ack=true"], true);
}

#[test]
fn kafka_python_round_trips_headers_and_timestamps() {
    let broker = Runnel::start("kafka-python", &["num.partitions=2"]);
    let out = run_client(
        "python3",
        &[
            "tests/clients/kafka_python_roundtrip.py",
            &broker.bootstrap(),
        ],
        b"",
        LIMIT,
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok 100");
}

#[test]
fn a_compacted_topic_keeps_the_latest_value_per_key() {
    let broker = Runnel::start("compacted", &["log.cleaner.backoff.ms=200"]);
    let result = python(&["tests/clients/compacted.py", &broker.bootstrap()]);
    let offsets = &result["offsets"];
    let records: Vec<(i64, String, Option<String>)> = result["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| {
            (
                r[0].as_i64().expect("offset"),
                r[1].as_str().expect("key").to_string(),
                r[2].as_str().map(String::from),
            )
        })
        .collect();
    let live: Vec<(String, Option<String>)> =
        records.iter().map(|r| (r.1.clone(), r.2.clone())).collect();
    let expected: Vec<(String, Option<String>)> = ["a", "b", "d", "e"]
        .iter()
        .map(|k| (k.to_string(), Some(format!("{k}-4"))))
        .chain([
            ("c".to_string(), None),
            ("z".to_string(), Some("z-0".to_string())),
        ])
        .collect();
    let mut sorted = live.clone();
    sorted.sort();
    let mut expected_sorted = expected;
    expected_sorted.sort();
    assert_eq!(
        sorted,
        expected_sorted,
        "latest value per key, the tombstone kept for now: {live:?}\n{}",
        broker.log()
    );
    for (offset, key, value) in &records {
        let produced = offsets[format!("{key}={}", value.as_deref().unwrap_or("None"))].as_i64();
        assert_eq!(
            produced,
            Some(*offset),
            "{key} keeps the offset it was written at"
        );
    }
    assert!(records.windows(2).all(|w| w[0].0 < w[1].0));
}

#[test]
fn confluent_kafka_admin_client_manages_topics_configs_records_and_groups() {
    let broker = Runnel::start("admin-client", &[]);
    let out = run_client(
        "python3",
        &["tests/clients/admin.py", &broker.bootstrap()],
        b"",
        LIMIT,
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "ok",
        "{}",
        broker.log()
    );
}
