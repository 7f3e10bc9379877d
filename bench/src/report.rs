//! What a run prints and saves: a Markdown table with ratios to the peers and to the ceilings,
//! the rows as JSON, and an SVG bar chart of produce throughput.

use std::fmt::Write as _;

use serde::Serialize;

use crate::ceilings::Ceilings;
use crate::cpu::Floor;
use crate::stats::Row;

/// Everything one run measured.
#[derive(Clone, Debug, Serialize)]
pub struct Run {
    /// The git commit measured.
    pub commit: String,
    /// UTC date of the run.
    pub date: String,
    /// Seconds each throughput and latency phase offered records.
    pub seconds: f64,
    /// The latency runs' offered rate when fixed by hand (`--rate`), records per second;
    /// `None`: each ran at half of its own measured capacity.
    pub fixed_rate: Option<f64>,
    /// The machine's ceilings, if measured.
    pub ceilings: Option<Ceilings>,
    /// The CPU floor per record, one per record size.
    pub floors: Vec<Floor>,
    /// One row per system and workload.
    pub rows: Vec<Row>,
}

fn ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.2}"))
}

fn micros(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.3}"))
}

/// `a ÷ b` with two decimals, `-` when either is missing.
fn ratio_of(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "-".into(),
    }
}

fn thousands(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2} M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.0} k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

impl Run {
    /// The row of `system` for this workload, if it ran.
    pub fn find(&self, system: &str, bytes: usize, acks: &str, partitions: u32) -> Option<&Row> {
        self.rows.iter().find(|r| {
            r.system == system
                && r.record_bytes == bytes
                && r.acks == acks
                && r.partitions == partitions
        })
    }

    /// The results table and the ratio table, in Markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "commit `{}`, {}, {} s per phase, 2 cores shared by broker and load generator\n",
            self.commit, self.date, self.seconds
        );
        if let Some(rate) = self.fixed_rate {
            let _ = writeln!(
                out,
                "Offered rate fixed at {rate:.0} records/s for every latency run (`--rate`), not half of each system's capacity.\n"
            );
        }
        if let Some(c) = &self.ceilings {
            let _ = writeln!(
                out,
                "Ceilings: loopback TCP {:.0} MB/s; sequential disk write {:.0} MB/s (page cache), {:.0} MB/s with fsync.\n",
                c.loopback_mb_per_s, c.disk_write_mb_per_s, c.disk_write_fsync_mb_per_s
            );
        }
        out.push_str("| system | record | acks | partitions | produce rec/s | produce MB/s | consume rec/s | offered rate | p50 ms | p99 ms | p99.9 ms | arrived | CPU µs/rec in | CPU µs/rec out | CPU µs/rec at offered rate | peak RSS MB |\n");
        out.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for r in &self.rows {
            let _ = writeln!(
                out,
                "| {} | {} B | {} | {} | {} | {:.1} | {} | {}/s | {} | {} | {} | {}/{} | {} | {} | {} | {:.0} |",
                r.system,
                r.record_bytes,
                r.acks,
                r.partitions,
                thousands(r.produce_records_per_s),
                r.produce_mb_per_s,
                thousands(r.consume_records_per_s),
                thousands(r.latency_rate_per_s),
                ms(r.p50_ms),
                ms(r.p99_ms),
                ms(r.p999_ms),
                r.latency_received,
                r.latency_sent,
                micros(r.produce_cpu_us_per_record),
                micros(r.consume_cpu_us_per_record),
                micros(r.latency_cpu_us_per_record),
                r.peak_rss_mb,
            );
        }
        out.push_str("\nrunnel's produce throughput as a ratio to each peer on the same workload (streams: acks=1, 1 partition), and its produce MB/s as a share of the ceilings:\n\n");
        out.push_str("| record | acks | partitions | ÷ tansu | ÷ Redis Streams | ÷ NATS JetStream | 3 nodes, RF 3 ÷ 1 node | of disk (fsync) | of disk (cache) | of loopback |\n");
        out.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
        for r in self.rows.iter().filter(|r| r.system == "runnel") {
            let ratio = |peer: Option<&Row>| {
                peer.map_or("-".into(), |p| {
                    format!("{:.2}", r.produce_records_per_s / p.produce_records_per_s)
                })
            };
            let stream_peer = |system: &str| {
                if r.acks == "1" && r.partitions == 1 {
                    self.find(system, r.record_bytes, "n/a", 1)
                } else {
                    None
                }
            };
            let share = |ceiling: Option<f64>| {
                ceiling.map_or("-".into(), |c| {
                    format!("{:.0} %", 100.0 * r.produce_mb_per_s / c)
                })
            };
            let c = self.ceilings;
            let _ = writeln!(
                out,
                "| {} B | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.record_bytes,
                r.acks,
                r.partitions,
                ratio(self.find("tansu", r.record_bytes, &r.acks, r.partitions)),
                ratio(stream_peer("redis-streams")),
                ratio(stream_peer("nats-jetstream")),
                self.find("runnel-3", r.record_bytes, &r.acks, r.partitions)
                    .map_or("-".into(), |c| {
                        format!("{:.2}", c.produce_records_per_s / r.produce_records_per_s)
                    }),
                share(c.map(|c| c.disk_write_fsync_mb_per_s)),
                share(c.map(|c| c.disk_write_mb_per_s)),
                share(c.map(|c| c.loopback_mb_per_s)),
            );
        }
        self.cpu_table(&mut out);
        out
    }

    /// The broker-CPU table: runnel's CPU µs per record taken in and served, as a ratio to
    /// each peer's on the same workload (below 1: runnel spends less) and to the floor.
    fn cpu_table(&self, out: &mut String) {
        out.push_str("\nBroker CPU per record (user + system, all threads of the server processes; lower is better): runnel's µs per record in (produce) and out (consume), its ratio to each peer's, and to the floor of copying and CRC-32C-checking the bytes once in memory and of writing them into the page cache (into fresh pages, as a growing log does, and into pages just freed):\n\n");
        out.push_str("| record | acks | partitions | runnel in | runnel out | in ÷ tansu | out ÷ tansu | in ÷ Redis Streams | in ÷ NATS JetStream | 3 nodes ÷ 1 node, in | floor copy+CRC | floor write, fresh pages | floor write, reused pages | in ÷ floor (copy+CRC+write, fresh) |\n");
        out.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for r in self.rows.iter().filter(|r| r.system == "runnel") {
            let stream_peer = |system: &str| {
                (r.acks == "1" && r.partitions == 1)
                    .then(|| self.find(system, r.record_bytes, "n/a", 1))
                    .flatten()
                    .and_then(|p| p.produce_cpu_us_per_record)
            };
            let tansu = self.find("tansu", r.record_bytes, &r.acks, r.partitions);
            let floor = self
                .floors
                .iter()
                .find(|f| f.record_bytes == r.record_bytes);
            let _ = writeln!(
                out,
                "| {} B | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.record_bytes,
                r.acks,
                r.partitions,
                micros(r.produce_cpu_us_per_record),
                micros(r.consume_cpu_us_per_record),
                ratio_of(
                    r.produce_cpu_us_per_record,
                    tansu.and_then(|t| t.produce_cpu_us_per_record)
                ),
                ratio_of(
                    r.consume_cpu_us_per_record,
                    tansu.and_then(|t| t.consume_cpu_us_per_record)
                ),
                ratio_of(r.produce_cpu_us_per_record, stream_peer("redis-streams")),
                ratio_of(r.produce_cpu_us_per_record, stream_peer("nats-jetstream")),
                ratio_of(
                    self.find("runnel-3", r.record_bytes, &r.acks, r.partitions)
                        .and_then(|c| c.produce_cpu_us_per_record),
                    r.produce_cpu_us_per_record
                ),
                micros(floor.map(|f| f.copy_crc_us_per_record)),
                micros(floor.map(|f| f.write_us_per_record)),
                micros(floor.map(|f| f.rewrite_us_per_record)),
                ratio_of(
                    r.produce_cpu_us_per_record,
                    floor.map(|f| f.copy_crc_us_per_record + f.write_us_per_record)
                ),
            );
        }
        self.user_kernel_table(out);
    }

    /// Where runnel's and tansu's CPU per record goes: user space (the broker's own code) and
    /// the kernel (system calls, the copies of `write(2)` and of the socket, page faults), and
    /// runnel's user time as a ratio to tansu's.
    fn user_kernel_table(&self, out: &mut String) {
        out.push_str("\nThe same split into user space (the broker's own code) and kernel (its system calls: the copies into the page cache and the socket, page faults), µs per record:\n\n");
        out.push_str("| record | acks | partitions | runnel in, user | runnel in, kernel | tansu in, user | tansu in, kernel | runnel out, user | runnel out, kernel | tansu out, user | tansu out, kernel | in, user ÷ tansu | out, user ÷ tansu |\n");
        out.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        /// (user, kernel) µs per record of one phase of `row`.
        fn split(
            row: Option<&Row>,
            total: fn(&Row) -> Option<f64>,
            user: fn(&Row) -> Option<f64>,
        ) -> [String; 2] {
            let (total, user) = (row.and_then(total), row.and_then(user));
            [micros(user), micros(total.zip(user).map(|(t, u)| t - u))]
        }
        let produce: [fn(&Row) -> Option<f64>; 2] = [
            |r| r.produce_cpu_us_per_record,
            |r| r.produce_user_us_per_record,
        ];
        let consume: [fn(&Row) -> Option<f64>; 2] = [
            |r| r.consume_cpu_us_per_record,
            |r| r.consume_user_us_per_record,
        ];
        for r in self.rows.iter().filter(|r| r.system == "runnel") {
            let tansu = self.find("tansu", r.record_bytes, &r.acks, r.partitions);
            let mut cells = vec![
                format!("{} B", r.record_bytes),
                r.acks.clone(),
                r.partitions.to_string(),
            ];
            for [total, user] in [produce, consume] {
                cells.extend(split(Some(r), total, user));
                cells.extend(split(tansu, total, user));
            }
            for [_, user] in [produce, consume] {
                cells.push(ratio_of(user(r), tansu.and_then(user)));
            }
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
    }

    /// A horizontal bar chart of produce records/s per workload, one bar per system.
    pub fn svg(&self) -> String {
        let systems = [
            "runnel",
            "runnel-3",
            "tansu",
            "redis-streams",
            "nats-jetstream",
        ];
        let colours = ["#1f6feb", "#8250df", "#d29922", "#cf222e", "#2da44e"];
        let mut workloads: Vec<(usize, String, u32)> = Vec::new();
        for r in &self.rows {
            let key = (r.record_bytes, r.acks.clone(), r.partitions);
            if r.system != "redis-streams"
                && r.system != "nats-jetstream"
                && !workloads.contains(&key)
            {
                workloads.push(key);
            }
        }
        let bar = 14.0;
        let group = bar * systems.len() as f64 + 16.0;
        let left = 170.0;
        let width = 860.0;
        let plot = width - left - 150.0;
        let height = 60.0 + group * workloads.len() as f64 + 40.0;
        let max = self
            .rows
            .iter()
            .map(|r| r.produce_records_per_s)
            .fold(1.0, f64::max);
        let mut s = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
             <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
             <text x=\"10\" y=\"20\" font-size=\"15\" font-weight=\"bold\">Produce throughput, records/s (commit {}, {})</text>\n",
            self.commit, self.date
        );
        for (i, (name, colour)) in systems.iter().zip(colours).enumerate() {
            let x = 10.0 + i as f64 * 150.0;
            let _ = writeln!(
                s,
                "<rect x=\"{x}\" y=\"32\" width=\"12\" height=\"12\" fill=\"{colour}\"/><text x=\"{}\" y=\"43\">{name}</text>",
                x + 16.0
            );
        }
        for (w, (bytes, acks, partitions)) in workloads.iter().enumerate() {
            let y0 = 60.0 + w as f64 * group;
            let _ = writeln!(
                s,
                "<text x=\"10\" y=\"{}\">{bytes} B, acks={acks}, {partitions} p</text>",
                y0 + group / 2.0
            );
            for (i, (system, colour)) in systems.iter().zip(colours).enumerate() {
                let row = if i < 3 {
                    self.find(system, *bytes, acks, *partitions)
                } else if acks == "1" && *partitions == 1 {
                    self.find(system, *bytes, "n/a", 1)
                } else {
                    None
                };
                let Some(row) = row else { continue };
                let y = y0 + i as f64 * bar;
                let w = plot * row.produce_records_per_s / max;
                let _ = writeln!(
                    s,
                    "<rect x=\"{left}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" fill=\"{colour}\"><title>{system}: {:.0} records/s</title></rect><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                    bar - 2.0,
                    row.produce_records_per_s,
                    left + w + 4.0,
                    y + bar - 4.0,
                    thousands(row.produce_records_per_s)
                );
            }
        }
        s.push_str("</svg>\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(system: &str, acks: &str, rate: f64) -> Row {
        Row {
            system: system.into(),
            record_bytes: 100,
            acks: acks.into(),
            partitions: 1,
            produce_records_per_s: rate,
            produce_mb_per_s: rate * 100.0 / 1e6,
            produced: 10,
            consume_records_per_s: rate,
            consumed: 10,
            latency_rate_per_s: rate / 2.0,
            p50_ms: Some(1.0),
            p99_ms: Some(2.0),
            p999_ms: None,
            latency_received: 5,
            latency_sent: 5,
            produce_cpu_s: 1.0,
            consume_cpu_s: 0.5,
            latency_cpu_s: 0.5,
            produce_system_cpu_s: 0.75,
            consume_system_cpu_s: 0.25,
            produce_user_us_per_record: Some(0.25e6 / rate),
            consume_user_us_per_record: Some(0.25e6 / rate),
            latency_cpu_us_per_record: Some(0.5e6 / rate),
            produce_cpu_us_per_record: Some(1e6 / rate),
            consume_cpu_us_per_record: Some(0.5e6 / rate),
            produce_cpu_us_per_mb: None,
            consume_cpu_us_per_mb: None,
            peak_rss_mb: 10.0,
        }
    }

    #[test]
    fn ratios_compare_the_same_workload() {
        let run = Run {
            commit: "abc".into(),
            date: "2026-11-23".into(),
            seconds: 1.0,
            fixed_rate: None,
            ceilings: Some(Ceilings {
                loopback_mb_per_s: 1000.0,
                disk_write_mb_per_s: 200.0,
                disk_write_fsync_mb_per_s: 100.0,
            }),
            floors: vec![Floor {
                record_bytes: 100,
                copy_crc_us_per_record: 0.5,
                write_us_per_record: 0.75,
                rewrite_us_per_record: 0.25,
            }],
            rows: vec![
                row("runnel", "1", 400_000.0),
                row("runnel-3", "1", 100_000.0),
                row("tansu", "1", 100_000.0),
                row("redis-streams", "n/a", 200_000.0),
            ],
        };
        let md = run.markdown();
        assert!(
            md.contains("| 100 B | 1 | 1 | 4.00 | 2.00 | - | 0.25 | 40 % | 20 % | 4 % |"),
            "{md}"
        );
        // CPU per record: runnel 2.5 µs in (1 s / 400 k), tansu 10 µs; the cluster's 10 µs is
        // 4× one node's; the floor is 0.5 + 0.75 µs (0.25 µs to write into reused pages).
        assert!(
            md.contains("| 100 B | 1 | 1 | 2.500 | 1.250 | 0.25 | 0.25 | 0.50 | - | 4.00 | 0.500 | 0.750 | 0.250 | 2.00 |"),
            "{md}"
        );
        // A quarter of each in user space: runnel 0.625 in (1.875 in the kernel) and 0.625
        // out (0.625 kernel); tansu 2.5 and 7.5 in, 2.5 and 2.5 out.
        assert!(
            md.contains("| 100 B | 1 | 1 | 0.625 | 1.875 | 2.500 | 7.500 | 0.625 | 0.625 | 2.500 | 2.500 | 0.25 | 0.25 |"),
            "{md}"
        );
        let svg = run.svg();
        assert_eq!(svg.matches("<rect x=\"170\"").count(), 4, "{svg}");
    }
}
