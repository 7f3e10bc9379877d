//! The long sweep: `cargo run --release -p runnel-core --example sweep -- [SEEDS] [FIRST]`.
//!
//! Runs SEEDS durable cases (acks=all, min.insync.replicas=2, unclean election off) starting
//! at seed FIRST (default 1,000,000, past the seeds the test command sweeps), and prints how
//! many failed, how much virtual time was simulated, and the replay command of each failure.

use std::time::Instant;

use runnel_core::sweep::{RUN_MS, run_case};

fn main() {
    let mut args = std::env::args().skip(1);
    let seeds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let first: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let started = Instant::now();
    let (mut failed, mut events, mut acknowledged) = (0u64, 0u64, 0u64);
    // Transactional seeds, transactions committed and aborted, producer instances.
    let (mut txn_seeds, mut committed, mut aborted, mut instances) = (0u64, 0u64, 0u64, 0u64);
    for seed in first..first + seeds {
        let result = run_case(seed, true);
        events += result.report.events;
        acknowledged += result.report.acknowledged;
        if let Some((c, a, i)) = result.transactions {
            txn_seeds += 1;
            committed += c;
            aborted += a;
            instances += u64::from(i);
        }
        if !result.passed() {
            failed += 1;
            println!(
                "seed {seed} FAILED: converged={} lost={} violations={:?}\n  replay: SWEEP_SEED={seed} cargo test -p runnel-core --release --test sweep replay -- --nocapture",
                result.converged, result.report.lost, result.report.violations
            );
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let hours = (seeds * RUN_MS) as f64 / 3_600_000.0;
    println!(
        "{seeds} seeds ({first}..{}), {failed} failed; {hours:.1} simulated hours, {events} events, {acknowledged} acknowledged records, {seconds:.1} s ({:.0} events/s)",
        first + seeds,
        events as f64 / seconds
    );
    println!(
        "transactional: {txn_seeds} seeds, {committed} transactions committed, {aborted} aborted, {instances} producer instances"
    );
    if failed > 0 {
        std::process::exit(1);
    }
}
