//! Simulated events per second, natively: how fast the playground can fast-forward.
//!
//! Run: `cargo bench -p runnel-core --bench sim_events`. One iteration simulates a healthy
//! 3-broker cluster for 60 virtual seconds with a producer at 100 records/s (acks=all) and a
//! consumer; criterion reports the throughput in events (messages delivered, timers fired).

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use runnel_core::sim::{Sim, SimConfig};

const VIRTUAL_MS: u64 = 60_000;

fn run() -> u64 {
    let mut sim = Sim::new(SimConfig::default());
    sim.run_until(VIRTUAL_MS);
    sim.report().events
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let events = run();
    let mut group = criterion.benchmark_group("sim");
    group.throughput(Throughput::Elements(events));
    group.bench_function("healthy_cluster_60s", |b| b.iter(|| black_box(run())));
    group.finish();
    criterion.final_summary();
    println!("events per run: {events}");
}
