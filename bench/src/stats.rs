//! Numbers a run produces: latency percentiles, the fixed-rate schedule latencies are measured
//! against, and the result rows saved as JSON.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::cpu::Cpu;

/// Sorted latency samples in microseconds.
#[derive(Clone, Debug, Default)]
pub struct Latencies {
    sorted: Vec<u64>,
}

impl Latencies {
    /// Sorts `samples` (microseconds).
    pub fn new(mut samples: Vec<u64>) -> Self {
        samples.sort_unstable();
        Self { sorted: samples }
    }

    /// How many samples.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The `q` quantile (0..=1) in milliseconds, nearest-rank; `None` without samples.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        if self.sorted.is_empty() {
            return None;
        }
        let rank = ((q * self.sorted.len() as f64).ceil() as usize).clamp(1, self.sorted.len());
        Some(self.sorted[rank - 1] as f64 / 1000.0)
    }
}

/// A fixed offered rate: record `i` is due at `start + i / rate`. Latency is measured from
/// the due time, not the send time, so a stalled sender still counts the wait of every record
/// behind it (no coordinated omission).
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    start: Instant,
    interval_ns: f64,
}

impl Schedule {
    /// `rate` records per second from `start`.
    pub fn new(start: Instant, rate: f64) -> Self {
        Self {
            start,
            interval_ns: 1e9 / rate.max(1.0),
        }
    }

    /// When record `i` is due, as nanoseconds after the epoch `start`.
    pub fn due_ns(&self, i: u64) -> u64 {
        (i as f64 * self.interval_ns) as u64
    }

    /// How many records are due by now.
    pub fn due_by_now(&self) -> u64 {
        (self.start.elapsed().as_nanos() as f64 / self.interval_ns) as u64 + 1
    }

    /// The epoch the due times count from.
    pub fn start(&self) -> Instant {
        self.start
    }
}

/// Nanoseconds since `epoch`.
pub fn since(epoch: Instant) -> u64 {
    epoch.elapsed().as_nanos() as u64
}

/// A payload of `size` bytes (at least 8) that carries `due_ns` in its first 8 bytes.
pub fn stamped(size: usize, due_ns: u64) -> Vec<u8> {
    let mut payload = vec![b'x'; size.max(8)];
    payload[..8].copy_from_slice(&due_ns.to_le_bytes());
    payload
}

/// The due time a payload from [`stamped`] carries, if it is long enough.
pub fn stamp_of(payload: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(payload.get(..8)?.try_into().ok()?))
}

/// One workload on one system.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// runnel, tansu, redis-streams, nats-jetstream.
    pub system: String,
    /// Record (value) size in bytes.
    pub record_bytes: usize,
    /// "1", "all", or "n/a" where the system has no such setting.
    pub acks: String,
    /// Partitions (streams have one).
    pub partitions: u32,
    /// Records per second acknowledged by the producer, all sent as fast as possible.
    pub produce_records_per_s: f64,
    /// Payload megabytes per second of the same.
    pub produce_mb_per_s: f64,
    /// Records acknowledged in the throughput run.
    pub produced: u64,
    /// Records per second read back by one consumer.
    pub consume_records_per_s: f64,
    /// Records the consumer read back (all of `produced` unless something was lost).
    pub consumed: u64,
    /// The offered rate of the latency run.
    pub latency_rate_per_s: f64,
    /// End-to-end latency percentiles (ms) from each record's due time to its arrival.
    pub p50_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
    /// 99.9th percentile.
    pub p999_ms: Option<f64>,
    /// Records that arrived in the latency run, of those sent.
    pub latency_received: u64,
    /// Records sent in the latency run.
    pub latency_sent: u64,
    /// The broker processes' CPU seconds (user + system, all threads; a cluster's nodes
    /// summed) during the throughput run.
    pub produce_cpu_s: f64,
    /// The same during the read-back.
    pub consume_cpu_s: f64,
    /// The same during the latency run, where every record is both taken in and served.
    pub latency_cpu_s: f64,
    /// The kernel's part of `produce_cpu_s` (system time: the copies of `write(2)` and of the
    /// socket, page faults).
    pub produce_system_cpu_s: f64,
    /// The kernel's part of `consume_cpu_s`.
    pub consume_system_cpu_s: f64,
    /// Broker CPU microseconds per record taken in (`produce_cpu_s` / `produced`).
    pub produce_cpu_us_per_record: Option<f64>,
    /// Broker CPU microseconds per record served (`consume_cpu_s` / `consumed`).
    pub consume_cpu_us_per_record: Option<f64>,
    /// The user-space part of `produce_cpu_us_per_record`: the broker's own code.
    pub produce_user_us_per_record: Option<f64>,
    /// The user-space part of `consume_cpu_us_per_record`.
    pub consume_user_us_per_record: Option<f64>,
    /// Broker CPU microseconds per record in the latency run, taken in and served
    /// (`latency_cpu_s` / records sent): what a record costs at the offered rate, in the
    /// small batches a 1 ms linger makes, beside the bulk phases' figures.
    pub latency_cpu_us_per_record: Option<f64>,
    /// Broker CPU microseconds per payload megabyte taken in.
    pub produce_cpu_us_per_mb: Option<f64>,
    /// Broker CPU microseconds per payload megabyte served.
    pub consume_cpu_us_per_mb: Option<f64>,
    /// The broker processes' peak resident memory over the workload, MB (summed).
    pub peak_rss_mb: f64,
}

/// What the three phases of one workload measured, before they become a [`Row`].
#[derive(Clone, Debug)]
pub struct Phases {
    /// Records acknowledged in the throughput run.
    pub produced: u64,
    /// From the first send to the last acknowledgement.
    pub produce_time: Duration,
    /// Records read back.
    pub consumed: u64,
    /// From the first record read to the last.
    pub consume_time: Duration,
    /// The offered rate of the latency run.
    pub rate: f64,
    /// Records sent in the latency run.
    pub latency_sent: u64,
    /// Their latencies.
    pub latencies: Latencies,
    /// The broker processes' CPU time during the throughput run.
    pub produce_cpu: Cpu,
    /// The same during the read-back.
    pub consume_cpu: Cpu,
    /// The same during the latency run.
    pub latency_cpu: Cpu,
    /// Their peak resident memory, bytes.
    pub peak_rss_bytes: u64,
}

impl Row {
    /// The row of `system` for a workload, from its phases.
    pub fn new(system: &str, record_bytes: usize, acks: &str, partitions: u32, p: &Phases) -> Self {
        let produce_rate = per_second(p.produced, p.produce_time);
        let megabytes = |records: u64| records as f64 * record_bytes as f64 / 1e6;
        Self {
            system: system.to_string(),
            record_bytes,
            acks: acks.to_string(),
            partitions,
            produce_records_per_s: produce_rate,
            produce_mb_per_s: produce_rate * record_bytes as f64 / 1e6,
            produced: p.produced,
            consume_records_per_s: per_second(p.consumed, p.consume_time),
            consumed: p.consumed,
            latency_rate_per_s: p.rate,
            p50_ms: p.latencies.quantile_ms(0.5),
            p99_ms: p.latencies.quantile_ms(0.99),
            p999_ms: p.latencies.quantile_ms(0.999),
            latency_received: p.latencies.len() as u64,
            latency_sent: p.latency_sent,
            produce_cpu_s: p.produce_cpu.total_s(),
            consume_cpu_s: p.consume_cpu.total_s(),
            latency_cpu_s: p.latency_cpu.total_s(),
            produce_system_cpu_s: p.produce_cpu.system_s,
            consume_system_cpu_s: p.consume_cpu.system_s,
            latency_cpu_us_per_record: micros_per(p.latency_cpu.total_s(), p.latency_sent as f64),
            produce_cpu_us_per_record: micros_per(p.produce_cpu.total_s(), p.produced as f64),
            consume_cpu_us_per_record: micros_per(p.consume_cpu.total_s(), p.consumed as f64),
            produce_user_us_per_record: micros_per(p.produce_cpu.user_s, p.produced as f64),
            consume_user_us_per_record: micros_per(p.consume_cpu.user_s, p.consumed as f64),
            produce_cpu_us_per_mb: micros_per(p.produce_cpu.total_s(), megabytes(p.produced)),
            consume_cpu_us_per_mb: micros_per(p.consume_cpu.total_s(), megabytes(p.consumed)),
            peak_rss_mb: p.peak_rss_bytes as f64 / 1e6,
        }
    }
}

/// CPU `seconds` as microseconds per unit of `count`; `None` for no units or no CPU time
/// measured (`/proc` unreadable).
fn micros_per(seconds: f64, count: f64) -> Option<f64> {
    (count > 0.0 && seconds > 0.0).then(|| seconds * 1e6 / count)
}

/// The latency run's offered rate: half of what the system sustains producing and consuming
/// at once, each measured alone first in the same run (a record costs 1/produce + 1/consume
/// seconds of the shared machine), so every system is measured at the same fraction of its
/// own capacity, not at another system's.
pub fn offered_rate(produce_per_s: f64, consume_per_s: f64) -> f64 {
    if produce_per_s <= 0.0 || consume_per_s <= 0.0 {
        return 1.0;
    }
    0.5 / (1.0 / produce_per_s + 1.0 / consume_per_s)
}

/// The latency run's rate, records per second: `fixed_rate` when given by hand (`--rate`),
/// else [`offered_rate`] of the phases just measured (`produced` records acknowledged in
/// `produce_time`, `consumed` read back in `consume_time`).
pub fn latency_rate(
    fixed_rate: Option<f64>,
    produced: u64,
    produce_time: Duration,
    consumed: u64,
    consume_time: Duration,
) -> f64 {
    fixed_rate.unwrap_or_else(|| {
        offered_rate(
            per_second(produced, produce_time),
            per_second(consumed, consume_time),
        )
    })
}

/// Throughput measured between the first send and the last acknowledgement.
pub fn per_second(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(1e-9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let l = Latencies::new((1..=1000).rev().map(|i| i * 1000).collect());
        assert_eq!(l.quantile_ms(0.5), Some(500.0));
        assert_eq!(l.quantile_ms(0.99), Some(990.0));
        assert_eq!(l.quantile_ms(0.999), Some(999.0));
        assert_eq!(l.quantile_ms(1.0), Some(1000.0));
        assert_eq!(Latencies::new(vec![]).quantile_ms(0.5), None);
    }

    #[test]
    fn the_schedule_counts_from_due_times() {
        let s = Schedule::new(Instant::now(), 1000.0);
        assert_eq!(s.due_ns(0), 0);
        assert_eq!(s.due_ns(250), 250_000_000);
        assert!(s.due_by_now() >= 1);
        let p = stamped(100, 123_456);
        assert_eq!(p.len(), 100);
        assert_eq!(stamp_of(&p), Some(123_456));
        assert_eq!(stamp_of(&[1, 2]), None);
    }
}
