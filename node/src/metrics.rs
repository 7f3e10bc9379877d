//! Counters and latency histograms for `/metrics`, in Prometheus text format.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the request latency buckets, in seconds.
const BUCKETS_S: [f64; 10] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0,
];

/// One histogram: counts per bucket, total count and sum.
#[derive(Clone, Debug, Default)]
struct Histogram {
    buckets: [u64; BUCKETS_S.len()],
    count: u64,
    sum_s: f64,
}

/// The broker's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Records appended by produce requests.
    pub records_in: AtomicU64,
    /// Bytes appended by produce requests.
    pub bytes_in: AtomicU64,
    /// Bytes returned by fetches.
    pub bytes_out: AtomicU64,
    /// Records in the batches returned by fetches.
    pub records_out: AtomicU64,
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Requests that could not be decoded or were refused at the frame level.
    pub bad_requests: AtomicU64,
    /// Cluster mode: ISR changes applied to partitions this node leads that removed a replica.
    pub isr_shrinks: AtomicU64,
    /// Cluster mode: ISR changes applied to partitions this node leads that added a replica.
    pub isr_expands: AtomicU64,
    /// Cluster mode: times this node became the leader of a partition.
    pub leader_changes: AtomicU64,
    latency: Mutex<Vec<(&'static str, Histogram)>>,
}

impl Metrics {
    /// Counts an append.
    pub fn record_produce(&self, records: u64, bytes: u64) {
        self.records_in.fetch_add(records, Ordering::Relaxed);
        self.bytes_in.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Records how long one request of `api` took.
    pub fn observe(&self, api: &'static str, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let mut latency = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        let index = match latency.iter().position(|(name, _)| *name == api) {
            Some(i) => i,
            None => {
                latency.push((api, Histogram::default()));
                latency.len() - 1
            }
        };
        let h = &mut latency[index].1;
        for (bucket, bound) in h.buckets.iter_mut().zip(BUCKETS_S) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        h.count += 1;
        h.sum_s += seconds;
    }

    /// The Prometheus text exposition, with gauges supplied by the caller.
    pub fn render(&self, gauges: &[(&str, &str, u64)]) -> String {
        let mut out = String::new();
        let counters = [
            (
                "runnel_records_in_total",
                "Records appended by produce requests.",
                &self.records_in,
            ),
            (
                "runnel_bytes_in_total",
                "Record batch bytes appended by produce requests.",
                &self.bytes_in,
            ),
            (
                "runnel_bytes_out_total",
                "Record batch bytes returned by fetch requests.",
                &self.bytes_out,
            ),
            (
                "runnel_records_out_total",
                "Records in the batches returned by fetch requests.",
                &self.records_out,
            ),
            (
                "runnel_connections_total",
                "Client connections accepted.",
                &self.connections,
            ),
            (
                "runnel_bad_requests_total",
                "Requests refused as malformed or too large.",
                &self.bad_requests,
            ),
            (
                "runnel_isr_shrinks_total",
                "ISR shrinks applied to partitions this node leads.",
                &self.isr_shrinks,
            ),
            (
                "runnel_isr_expands_total",
                "ISR expansions applied to partitions this node leads.",
                &self.isr_expands,
            ),
            (
                "runnel_leader_changes_total",
                "Times this node became a partition's leader.",
                &self.leader_changes,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        for (name, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        let name = "runnel_request_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Request handling time per Kafka API.\n# TYPE {name} histogram"
        );
        let latency = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        for (api, h) in latency.iter() {
            for (count, bound) in h.buckets.iter().zip(BUCKETS_S) {
                let _ = writeln!(out, "{name}_bucket{{api=\"{api}\",le=\"{bound}\"}} {count}");
            }
            let _ = writeln!(
                out,
                "{name}_bucket{{api=\"{api}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "{name}_sum{{api=\"{api}\"}} {}", h.sum_s);
            let _ = writeln!(out, "{name}_count{{api=\"{api}\"}} {}", h.count);
        }
        out
    }
}
