//! Append + read of 16 KiB record batches through an in-memory log, beside a plain copy of the
//! same bytes measured in the same run.
//!
//! Run: `cargo bench -p runnel-core --bench log_append_read`. Criterion prints MB/s for both;
//! at the end the bench prints the ratio log / memcpy, which is what the README quotes
//! (absolute numbers on a shared 2-core machine are noise; the ratio is not).
//!
//! Each iteration appends one batch (validate CRC-32C and every record, assign offsets, copy
//! into the segment, maybe index) and reads it back (index lookup, header scan, copy out).
//! Retention by size runs every 256 appends so memory stays bounded; its cost is included.
//!
//! A second group checks a producer's 16 KiB batch of 100 B records (`Log::check_append`)
//! beside the CRC-32C of the same bytes, and prints nanoseconds per record: at that size the
//! per-record work, not the bytes, is what a produce costs.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput};
use runnel_core::batch::{BatchBuilder, NoCodec};
use runnel_core::log::{Log, LogConfig, MemorySegmentStore};

const BATCH_BYTES: usize = 16 * 1024;
const GROUP: &str = "append_read_16KiB";
const RING_BYTES: usize = 32 << 20;

/// A batch of 16 records of ~1 KiB each: 16 KiB on the wire.
fn batch() -> Vec<u8> {
    let value: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
    let mut builder = BatchBuilder::new(0);
    let mut n = 0;
    while n < 16 {
        builder.push(
            1_700_000_000_000 + n,
            Some(b"key"),
            Some(&value),
            Vec::new(),
        );
        n += 1;
    }
    let bytes = builder.build(&NoCodec).expect("uncompressed batches build");
    assert!(bytes.len() <= BATCH_BYTES && bytes.len() > BATCH_BYTES - 512);
    bytes
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let template = batch();
    let mut group = criterion.benchmark_group(GROUP);
    group.throughput(Throughput::Bytes(template.len() as u64));

    // The reference: the same bytes copied into a 32 MiB ring, the working set the log keeps,
    // so the copy pays for memory bandwidth as the log's copies do (a copy into one hot 16 KiB
    // buffer runs from L1 cache and says nothing about a log).
    group.bench_function("memcpy", |b| {
        let mut ring = vec![0u8; RING_BYTES];
        let mut at = 0;
        b.iter(|| {
            if at + template.len() > ring.len() {
                at = 0;
            }
            ring[at..at + template.len()].copy_from_slice(black_box(&template));
            at += template.len();
            black_box(&ring);
        })
    });

    // Where the log's time goes, in part: the CRC-32C every append checks.
    group.bench_function("crc32c", |b| {
        b.iter(|| black_box(runnel_core::checksum::crc32c(black_box(&template[21..]))))
    });

    group.bench_function("log", |b| {
        let config = LogConfig {
            segment_bytes: 8 << 20,
            retention_bytes: Some(32 << 20),
            retention_ms: None,
            ..LogConfig::default()
        };
        let mut log = Log::new(MemorySegmentStore::new(), config, 0).expect("new log");
        let mut buf = template.clone();
        let mut appends = 0u64;
        b.iter(|| {
            let info = log.append(&mut buf, 0, &NoCodec, 0).expect("append");
            let leo = log.log_end_offset();
            let read = log.read(info.base_offset, BATCH_BYTES, leo).expect("read");
            black_box(read);
            appends += 1;
            if appends % 256 == 0 {
                log.apply_retention(0, leo).expect("retention");
            }
        })
    });
    group.finish();
    small_records(&mut criterion);
    criterion.final_summary();
    report_ratio();
    report_small_records();
}

const SMALL_GROUP: &str = "check_16KiB_of_100B";

/// A producer's batch of 100 B keyless values, ~16 KiB: what a linger-bound client sends.
fn small_batch() -> Vec<u8> {
    let value = [7u8; 100];
    let mut builder = BatchBuilder::new(0);
    for n in 0..SMALL_RECORDS {
        builder.push(1_700_000_000_000 + n as i64, None, Some(&value), Vec::new());
    }
    builder.build(&NoCodec).expect("uncompressed batches build")
}

const SMALL_RECORDS: usize = 150;

/// The per-record checks of a produce at 100 B (`Log::check_append`: CRC, then one pass over
/// the records for their framing and the topic's rules) beside the CRC-32C of the same bytes.
fn small_records(criterion: &mut Criterion) {
    let template = small_batch();
    let mut group = criterion.benchmark_group(SMALL_GROUP);
    group.throughput(Throughput::Elements(SMALL_RECORDS as u64));
    group.bench_function("crc32c", |b| {
        b.iter(|| black_box(runnel_core::checksum::crc32c(black_box(&template[21..]))))
    });
    let log = Log::new(MemorySegmentStore::new(), LogConfig::default(), 0).expect("new log");
    group.bench_function("check_append", |b| {
        b.iter(|| {
            black_box(
                log.check_append(black_box(&template), &NoCodec, 1_700_000_000_000)
                    .expect("valid"),
            )
        })
    });
    group.finish();
}

/// Prints the check's nanoseconds per 100 B record and its ratio to the CRC alone.
fn report_small_records() {
    let dir = criterion_dir().join(SMALL_GROUP);
    match (mean_ns(&dir, "check_append"), mean_ns(&dir, "crc32c")) {
        (Some(check_ns), Some(crc_ns)) => println!(
            "check_append of 100 B records: {:.1} ns per record; CRC-32C alone {:.1} ns \
             ({:.2}x)",
            check_ns / SMALL_RECORDS as f64,
            crc_ns / SMALL_RECORDS as f64,
            check_ns / crc_ns
        ),
        _ => println!("(no estimates under {}; not computed)", dir.display()),
    }
}

/// Criterion's mean estimate in nanoseconds for `name` under a group's directory.
fn mean_ns(dir: &std::path::Path, name: &str) -> Option<f64> {
    let text = std::fs::read_to_string(dir.join(name).join("new/estimates.json")).ok()?;
    // {"mean":{"confidence_interval":{...},"point_estimate":123.4,...},...}
    let mean = &text[text.find("\"mean\"")?..];
    let at = mean.find("\"point_estimate\":")? + "\"point_estimate\":".len();
    let end = mean[at..].find([',', '}'])?;
    mean[at..at + end].trim().parse().ok()
}

/// Reads criterion's estimates for both functions and prints log throughput / memcpy.
fn report_ratio() {
    let dir = criterion_dir().join(GROUP);
    let mean = |name: &str| mean_ns(&dir, name);
    match (mean("memcpy"), mean("log"), mean("crc32c")) {
        (Some(copy_ns), Some(log_ns), Some(crc_ns)) => {
            let mb_s = |ns: f64| BATCH_BYTES as f64 / ns * 1e9 / 1e6;
            println!(
                "append+read 16 KiB: {:.0} MB/s; memcpy: {:.0} MB/s; ratio log/memcpy = {:.3}; \
                 CRC-32C alone is {:.0}% of the log's time",
                mb_s(log_ns),
                mb_s(copy_ns),
                copy_ns / log_ns,
                100.0 * crc_ns / log_ns
            );
        }
        _ => println!("(no estimates under {}; ratio not computed)", dir.display()),
    }
}

/// Where criterion writes: `$CARGO_TARGET_DIR/criterion`, else `target/criterion` at the
/// workspace root (two levels above this crate's manifest).
fn criterion_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir).join("criterion"),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/criterion"),
    }
}
