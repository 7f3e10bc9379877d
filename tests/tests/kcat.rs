//! kcat (Debian's, librdkafka 2.0.2) against a real `runnel`: keyed records to a 3-partition
//! topic, consumed back once each, in order per partition, where librdkafka's partitioner puts
//! them; then a consumer group commit and resume.

use std::collections::BTreeMap;
use std::time::Duration;

use runnel_core::partitioner::crc32_partition;
use runnel_tests::{Runnel, run_client};

const RECORDS: usize = 10_000;
const LIMIT: Duration = Duration::from_secs(120);

#[test]
fn ten_thousand_keyed_records_round_trip_through_kcat() {
    let broker = Runnel::start("kcat", &["num.partitions=3"]);
    let bootstrap = broker.bootstrap();
    let mut input = String::new();
    for i in 0..RECORDS {
        input.push_str(&format!("key-{}:value-{i}\n", i % 97));
    }
    run_client(
        "kcat",
        &[
            "-b",
            &bootstrap,
            "-t",
            "keyed",
            "-P",
            "-K:",
            "-X",
            "linger.ms=5",
        ],
        input.as_bytes(),
        LIMIT,
    );
    let out = run_client(
        "kcat",
        &[
            "-b",
            &bootstrap,
            "-t",
            "keyed",
            "-C",
            "-e",
            "-q",
            "-f",
            "%p\t%o\t%k\t%s\n",
        ],
        b"",
        LIMIT,
    );
    let text = String::from_utf8(out.stdout).expect("utf-8 output");
    let mut per_partition: BTreeMap<u32, Vec<(i64, String, usize)>> = BTreeMap::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(fields.len(), 4, "line {line:?}");
        let partition: u32 = fields[0].parse().expect("partition");
        let offset: i64 = fields[1].parse().expect("offset");
        let key = fields[2].to_string();
        let n: usize = fields[3]
            .trim_start_matches("value-")
            .parse()
            .expect("value number");
        per_partition
            .entry(partition)
            .or_default()
            .push((offset, key, n));
    }
    let total: usize = per_partition.values().map(Vec::len).sum();
    assert_eq!(total, RECORDS, "every record exactly once");
    assert_eq!(per_partition.len(), 3, "all three partitions used");
    let mut seen = vec![false; RECORDS];
    for (partition, records) in &per_partition {
        for (i, (offset, key, n)) in records.iter().enumerate() {
            assert_eq!(
                *offset, i as i64,
                "dense offsets from 0 in partition {partition}"
            );
            assert_eq!(
                crc32_partition(key.as_bytes(), 3),
                *partition,
                "{key} is where librdkafka's consistent_random puts it"
            );
            assert_eq!(key, &format!("key-{}", n % 97));
            assert!(!seen[*n], "value-{n} twice");
            seen[*n] = true;
        }
        // Produced in order, so each partition holds its values in rising order.
        assert!(
            records.windows(2).all(|w| w[0].2 < w[1].2),
            "order within partition {partition}"
        );
    }
    assert!(seen.iter().all(|s| *s));
}

#[test]
fn a_kcat_group_commits_and_a_second_run_resumes() {
    let broker = Runnel::start("kcat-group", &["num.partitions=2"]);
    let bootstrap = broker.bootstrap();
    let produce = |from: usize, to: usize| {
        let input: String = (from..to).map(|i| format!("r{i}\n")).collect();
        run_client(
            "kcat",
            &["-b", &bootstrap, "-t", "events", "-P"],
            input.as_bytes(),
            LIMIT,
        );
    };
    let consume = || {
        let out = run_client(
            "kcat",
            &[
                "-b",
                &bootstrap,
                "-G",
                "readers",
                "events",
                "-e",
                "-q",
                "-f",
                "%s\n",
                "-X",
                "auto.offset.reset=earliest",
                "-X",
                "enable.auto.commit=true",
                "-X",
                "auto.commit.interval.ms=100",
            ],
            b"",
            LIMIT,
        );
        let mut values: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect();
        values.sort();
        values
    };
    produce(0, 50);
    let first = consume();
    assert_eq!(first.len(), 50, "the first run reads everything: {first:?}");
    produce(50, 80);
    let second = consume();
    let mut expected: Vec<String> = (50..80).map(|i| format!("r{i}")).collect();
    expected.sort();
    assert_eq!(
        second, expected,
        "the second run resumes from the committed offsets"
    );
}

#[test]
fn every_compression_codec_is_stored_and_served() {
    let broker = Runnel::start("codecs", &[]);
    let bootstrap = broker.bootstrap();
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let topic = format!("codec-{codec}");
        // Repetitive values, so every codec really compresses.
        let input: String = (0..500)
            .map(|i| format!("{codec}-{i}-{}\n", "x".repeat(100)))
            .collect();
        run_client(
            "kcat",
            &[
                "-b",
                &bootstrap,
                "-t",
                &topic,
                "-P",
                "-z",
                codec,
                "-X",
                "linger.ms=20",
            ],
            input.as_bytes(),
            LIMIT,
        );
        let out = run_client(
            "kcat",
            &[
                "-b", &bootstrap, "-t", &topic, "-C", "-e", "-q", "-f", "%s\n",
            ],
            b"",
            LIMIT,
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            input,
            "{codec} round trip"
        );
    }
}
