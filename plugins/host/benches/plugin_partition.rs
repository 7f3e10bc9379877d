//! Per-record cost of a plugin partitioner (the region example in wasmtime) beside the native
//! murmur2 partitioner, at batches of 1 and 1,000 records, and the time to load a plugin from
//! the compiled-module cache. Needs the examples built for wasm32 (the test command does).
//!
//! `cargo bench -p runnel-plugin-host --bench plugin_partition`

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use runnel_core::partitioner::murmur2_partition;
use runnel_core::plugin::{PartitionRequest, PluginRecord};
use runnel_plugin_host::{Limits, PluginHost};

fn wasm() -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/wasm32-unknown-unknown/release/runnel_example_region_partitioner.wasm");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn batch(n: usize) -> PartitionRequest {
    PartitionRequest {
        partitions: 12,
        records: (0..n)
            .map(|i| PluginRecord {
                key: Some(format!("user-{i}").into_bytes()),
                value: Some(
                    format!(
                        "{{\"id\":{i},\"region\":\"{}\"}}",
                        ["eu", "us", "ap"][i % 3]
                    )
                    .into_bytes(),
                ),
                headers: Vec::new(),
                timestamp: 0,
            })
            .collect(),
    }
}

fn partition(c: &mut Criterion) {
    let host = PluginHost::new(Limits::default(), None).expect("host");
    let mut plugin = host.load("region", &wasm()).expect("load");
    let wat = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/round-robin-wat/round_robin.wat"),
    )
    .expect("wat");
    let mut round_robin = host.load("round-robin", &wat).expect("load");
    let mut group = c.benchmark_group("partition");
    for n in [1usize, 1000] {
        let request = batch(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("native murmur2", n), &request, |b, r| {
            b.iter(|| {
                let chosen: Vec<u32> = r
                    .records
                    .iter()
                    .map(|rec| {
                        murmur2_partition(rec.key.as_deref().unwrap_or_default(), r.partitions)
                    })
                    .collect();
                black_box(chosen)
            })
        });
        group.bench_with_input(
            BenchmarkId::new("wasm region plugin", n),
            &request,
            |b, r| b.iter(|| black_box(plugin.partition(r).expect("call"))),
        );
        // Reads no record: what the host's side of a call costs.
        group.bench_with_input(
            BenchmarkId::new("wasm round robin (WAT)", n),
            &request,
            |b, r| b.iter(|| black_box(round_robin.partition(r).expect("call"))),
        );
    }
    group.finish();

    let dir = std::env::temp_dir().join(format!("runnel-plugin-bench-{}", std::process::id()));
    let wasm = wasm();
    PluginHost::new(Limits::default(), Some(dir.clone()))
        .expect("host")
        .load("region", &wasm)
        .expect("warm the cache");
    let cached = PluginHost::new(Limits::default(), Some(dir.clone())).expect("host");
    c.bench_function("load from cache", |b| {
        b.iter(|| black_box(cached.load("region", &wasm).expect("load")))
    });
    let uncached = PluginHost::new(Limits::default(), None).expect("host");
    let mut group = c.benchmark_group("compile");
    group.sample_size(10);
    group.bench_function("load with compilation", |b| {
        b.iter(|| black_box(uncached.load("region", &wasm).expect("load")))
    });
    group.finish();
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, partition);
criterion_main!(benches);
