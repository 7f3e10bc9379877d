//! The long transactional sweep:
//! `cargo run --release -p runnel-core --example txn_sweep -- [SEEDS] [FIRST]`.
//!
//! Runs SEEDS cases of `runnel_core::txn_sweep` starting at seed FIRST (default 1,000,000,
//! past the 1,000 the test command runs), and prints how many failed, the totals of what
//! they exercised, and each failure's violations.

use std::time::Instant;

use runnel_core::txn_sweep::{TxnCaseResult, run_case};

fn main() {
    let mut args = std::env::args().skip(1);
    let seeds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let first: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let started = Instant::now();
    let mut failed = 0u64;
    let mut totals = TxnCaseResult::default();
    for seed in first..first + seeds {
        let r = run_case(seed);
        totals.committed += r.committed;
        totals.aborted += r.aborted;
        totals.expired += r.expired;
        totals.ids_expired += r.ids_expired;
        totals.refused_writes += r.refused_writes;
        totals.coordinator_moves += r.coordinator_moves;
        if !r.passed() {
            failed += 1;
            println!("seed {seed} FAILED: {:?}", r.violations);
        }
    }
    println!(
        "{seeds} seeds ({first}..{}), {failed} failed; {} committed, {} aborted ({} expired), \
         {} ids expired, {} refused writes, {} coordinator moves; {:.1} s",
        first + seeds,
        totals.committed,
        totals.aborted,
        totals.expired,
        totals.ids_expired,
        totals.refused_writes,
        totals.coordinator_moves,
        started.elapsed().as_secs_f64()
    );
    if failed > 0 {
        std::process::exit(1);
    }
}
