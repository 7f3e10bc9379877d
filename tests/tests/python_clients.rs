//! Python clients from PyPI against a real `runnel`: confluent-kafka (current librdkafka) for
//! idempotent produce, a two-member consumer group, commits that survive a SIGTERM and a
//! SIGKILL restart, and a compacted topic; kafka-python for headers and timestamps; aiokafka
//! (asyncio) for admin, idempotent and transactional produce, both isolation levels and a
//! group.

use std::time::Duration;

use runnel_tests::{Runnel, run_client};
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(120);

fn python(args: &[&str]) -> Value {
    runnel_tests::python_json(args, LIMIT)
}

/// Phase 1, stop (SIGTERM or SIGKILL), restart, phase 2: nothing acknowledged is lost, and
/// nothing committed is read again.
fn group_survives_restart(name: &str, settings: &[&str], kill: bool) {
    let mut broker = Runnel::start(name, settings);
    let bootstrap = broker.bootstrap();
    runnel_tests::group_survives(&bootstrap, 1, &bootstrap, || {
        if kill {
            broker.kill();
        } else {
            assert!(broker.terminate(), "SIGTERM exits 0:\n{}", broker.log());
        }
        broker.restart();
    });
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

/// aiokafka, one of the clients runnel is for (its own protocol versions: Fetch v4, Produce v3,
/// JoinGroup v2 and the like, older than librdkafka's): topics made by its admin client; 60
/// keyed records with headers and timestamps from an idempotent producer, each key in one
/// partition, read back whole through 200-byte partition fetches; ListOffsets by time and end;
/// a committed, an aborted and a committed transaction, of which read_committed sees only the
/// committed records and read_uncommitted all five in offset order (KIP-98); a group of two
/// splitting three partitions and committing, and a later member reading nothing again.
#[test]
fn aiokafka_produces_consumes_transacts_and_shares_a_group() {
    let broker = Runnel::start("aiokafka", &[]);
    let r = python(&["tests/clients/aiokafka_cases.py", &broker.bootstrap()]);
    assert_eq!(
        r["topics"],
        serde_json::json!(["aio-orders", "aio-txn"]),
        "{r}"
    );
    for (key, value) in [
        ("sent", 60),
        ("read", 60),
        ("end_offsets_sum", 60),
        ("group_read", 60),
        ("read_again", 0),
    ] {
        assert_eq!(r[key], value, "{key}: {r}");
    }
    for key in [
        "keys_in_one_partition",
        "fields_match",
        "offsets_for_times_match",
        "group_disjoint",
    ] {
        assert_eq!(r[key], true, "{key}: {r}");
    }
    assert_eq!(
        r["read_committed"],
        serde_json::json!(["c1", "c2", "c3"]),
        "{r}"
    );
    assert_eq!(
        r["read_uncommitted"],
        serde_json::json!(["c1", "c2", "a1", "a2", "c3"]),
        "{r}"
    );
    assert_eq!(r["group_split"], serde_json::json!([1, 2]), "{r}");
    let committed: i64 = r["committed"]
        .as_array()
        .map_or(-1, |c| c.iter().filter_map(Value::as_i64).sum());
    assert_eq!(committed, 60, "every partition committed at its end: {r}");
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
