//! The benchmark harness itself, briefly: `runnel-bench` against runnel, tansu, Redis Streams
//! and NATS JetStream for half a second each, checking that every record produced is read back
//! and every record of the latency run arrives, and that each row carries the servers' CPU per
//! record and memory and the run its CPU floor (the numbers themselves are not judged here;
//! `./scripts/bench` measures them).

use std::time::Duration;

use runnel_tests::{run_client, runnel_binary, tansu_binary, temp_dir, workspace_root};

#[test]
fn every_system_reads_back_what_it_was_sent() {
    let out_dir = temp_dir("bench-smoke");
    let bench = workspace_root()
        .join("target")
        .join(if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        })
        .join("runnel-bench");
    assert!(
        bench.exists(),
        "{} is missing: the test command builds it",
        bench.display()
    );
    let runnel = runnel_binary();
    let tansu = tansu_binary();
    let out = out_dir.display().to_string();
    run_client(
        bench.to_str().expect("utf-8 path"),
        &[
            "--seconds",
            "0.5",
            "--sizes",
            "100",
            "--acks",
            "all",
            "--partitions",
            "2",
            "--no-ceilings",
            "--runnel",
            runnel.to_str().expect("utf-8 path"),
            "--tansu",
            tansu.to_str().expect("utf-8 path"),
            "--out",
            &out,
        ],
        b"",
        Duration::from_secs(240),
    );
    let json = std::fs::read_to_string(out_dir.join("results.json")).expect("results.json");
    let run: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    let rows = run["rows"].as_array().expect("rows");
    let systems: Vec<&str> = rows.iter().filter_map(|r| r["system"].as_str()).collect();
    assert_eq!(
        systems,
        [
            "runnel",
            "runnel-3",
            "tansu",
            "redis-streams",
            "nats-jetstream"
        ]
    );
    for r in rows {
        let produced = r["produced"].as_u64().expect("produced");
        assert!(produced > 0, "{r}");
        assert_eq!(r["consumed"].as_u64(), Some(produced), "all read back: {r}");
        assert!(r["latency_sent"].as_u64().is_some_and(|n| n > 0), "{r}");
        assert_eq!(r["latency_received"], r["latency_sent"], "all arrived: {r}");
        // What the server processes spent: CPU per record in and out, and memory.
        for key in ["produce_cpu_us_per_record", "consume_cpu_us_per_record"] {
            assert!(r[key].as_f64().is_some_and(|v| v > 0.0), "{key}: {r}");
        }
        assert!(r["peak_rss_mb"].as_f64().is_some_and(|v| v > 1.0), "{r}");
        // Each system is offered half of its own produce-and-consume capacity.
        let (p, c) = (
            r["produce_records_per_s"].as_f64().expect("produce rate"),
            r["consume_records_per_s"].as_f64().expect("consume rate"),
        );
        let offered = r["latency_rate_per_s"].as_f64().expect("offered");
        assert!(
            (offered - 0.5 / (1.0 / p + 1.0 / c)).abs() < 1e-6 * offered,
            "{r}"
        );
    }
    let floors = run["floors"].as_array().expect("floors");
    assert_eq!(floors.len(), 1, "one record size");
    assert_eq!(floors[0]["record_bytes"], 100);
    for key in ["copy_crc_us_per_record", "write_us_per_record"] {
        assert!(
            floors[0][key].as_f64().is_some_and(|v| v > 0.0),
            "{key}: {run}"
        );
    }
    let svg = std::fs::read_to_string(out_dir.join("produce.svg")).expect("chart");
    assert!(svg.starts_with("<svg") && svg.contains("runnel"));
}
