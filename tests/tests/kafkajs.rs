//! kafkajs (npm, 2.2.4) against a real `runnel`: admin, produce with headers and timestamps,
//! and a consumer group that splits four partitions between two members and hands them back.

use std::time::Duration;

use runnel_tests::{Runnel, run_client};

#[test]
fn kafkajs_round_trip_and_group_rebalance() {
    let broker = Runnel::start("kafkajs", &[]);
    let out = run_client(
        "node",
        &["tests/clients/kafkajs_roundtrip.js", &broker.bootstrap()],
        b"",
        Duration::from_secs(120),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let result: serde_json::Value =
        serde_json::from_str(text.lines().last().unwrap_or_default()).expect("JSON summary");
    assert_eq!(result["records"], 60, "{text}");
    assert_eq!(result["duplicates"], 0, "no record delivered twice: {text}");
    let a = result["split"]["a"].as_array().map_or(0, Vec::len);
    let b = result["split"]["b"].as_array().map_or(0, Vec::len);
    assert_eq!((a + b, a > 0, b > 0), (4, true, true), "{text}");
}
