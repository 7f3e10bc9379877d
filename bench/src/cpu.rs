//! What the brokers themselves cost: their processes' CPU time (user and system apart, every
//! thread, from `/proc/PID/stat`) and peak resident memory (`VmHWM` in `/proc/PID/status`), per phase
//! and per record. Unlike records per second, CPU seconds per record do not depend on how fast
//! the load generator is, which on a 2-core machine shares the cores with the broker.
//!
//! And the floor those costs are compared with, measured in the same run on this machine: the
//! CPU time to copy a record's bytes once and CRC-32C-check them in memory (what any broker
//! must do to take a batch in), and to `write(2)` them into the page cache, both into pages
//! the file gets fresh (as a growing log does) and into pages it had just freed.
//!
//! Fresh pages cost more on a virtual machine that hands freed memory back to its host (virtio
//! free page reporting): the first touch of such a page faults into the hypervisor. On this
//! project's CI machine a 2 GB `dd` spends 1.9–5 s of system time into fresh pages and
//! 0.3–0.7 s into pages freed a moment before; 15 s after the free the cost is back. A broker
//! whose log grows pays it in its system time and a broker that keeps records on its heap pays
//! it less, so the tables show user and system time apart.

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

/// CPU time of some processes over some window, in seconds, user space and kernel apart.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Cpu {
    /// Time in user space (`utime`).
    pub user_s: f64,
    /// Time in the kernel on their behalf (`stime`): system calls, page faults, the copies
    /// of `write(2)`, `sendfile(2)` and the socket.
    pub system_s: f64,
}

impl Cpu {
    /// User plus system seconds.
    pub fn total_s(&self) -> f64 {
        self.user_s + self.system_s
    }

    /// `self - earlier`, each part at least 0.
    fn since(&self, earlier: Cpu) -> Cpu {
        Cpu {
            user_s: (self.user_s - earlier.user_s).max(0.0),
            system_s: (self.system_s - earlier.system_s).max(0.0),
        }
    }
}

/// The server processes of one system (one, or a cluster's nodes).
#[derive(Clone, Debug, Default)]
pub struct Meter {
    pids: Vec<u32>,
}

impl Meter {
    /// Measures the processes `pids`.
    pub fn new(pids: Vec<u32>) -> Self {
        Self { pids }
    }

    /// CPU time (all threads) the processes have used so far, summed; a process whose `/proc`
    /// entry does not read counts 0.
    pub fn cpu(&self) -> Cpu {
        let ticks = clock_ticks_per_second();
        self.pids
            .iter()
            .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
            .filter_map(|stat| cpu_ticks(&stat))
            .fold(Cpu::default(), |sum, (user, system)| Cpu {
                user_s: sum.user_s + user as f64 / ticks,
                system_s: sum.system_s + system as f64 / ticks,
            })
    }

    /// The processes' peak resident memory (`VmHWM`) in bytes, summed.
    pub fn peak_rss_bytes(&self) -> u64 {
        self.pids
            .iter()
            .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
            .filter_map(|status| peak_rss(&status))
            .sum()
    }

    /// Runs `phase` and returns its result with the CPU time the processes used meanwhile.
    pub fn around<T>(&self, phase: impl FnOnce() -> T) -> (T, Cpu) {
        let before = self.cpu();
        let out = phase();
        (out, self.spent_since(before))
    }

    /// The CPU time the processes used since [`Meter::cpu`] read `before`, for a window that
    /// is not one closure (an async phase, or part of a function); never negative.
    pub fn spent_since(&self, before: Cpu) -> Cpu {
        self.cpu().since(before)
    }
}

/// `(utime, stime)` (fields 14 and 15, clock ticks) of a `/proc/PID/stat` line. The command
/// name (field 2) is in parentheses and may hold spaces, so fields are counted after its `)`.
fn cpu_ticks(stat: &str) -> Option<(u64, u64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) are the 12th and 13th.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime, stime))
}

/// `VmHWM` of a `/proc/PID/status` text, in bytes.
fn peak_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`; 100 on Linux unless it says
/// otherwise).
fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .filter(|t: &f64| *t > 0.0)
            .unwrap_or(100.0)
    })
}

/// This thread's CPU time so far, from `/proc/thread-self/schedstat` (nanoseconds on the CPU);
/// `None` where the kernel does not keep it.
fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// The physical floor for records of one size, in CPU microseconds per record.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Floor {
    /// Record (value) size in bytes.
    pub record_bytes: usize,
    /// Copying the record once and computing its CRC-32C, in memory.
    pub copy_crc_us_per_record: f64,
    /// Writing it with `write(2)` into the page cache (1 MiB writes to a growing file, so into
    /// pages the file gets fresh, as a log's are).
    pub write_us_per_record: f64,
    /// The same into pages the file had just freed (truncated and written again at once).
    pub rewrite_us_per_record: f64,
}

/// Measures the [`Floor`] for `record_bytes` on this thread, for about `seconds` in all, with
/// a scratch file in `dir` of at most [`FLOOR_FILE_BYTES`] (removed after). Errors: the file
/// cannot be written.
pub fn floor(record_bytes: usize, dir: &Path, seconds: f64) -> Result<Floor, String> {
    let record_bytes = record_bytes.max(1);
    // 1 MiB of records at a time, as a broker takes a batch: the work per record is the same.
    let per_chunk = (1 << 20) / record_bytes + 1;
    let source = vec![0x5au8; per_chunk * record_bytes];
    let mut copy = vec![0u8; source.len()];
    let budget = Duration::from_secs_f64(seconds.max(0.03) / 3.0);
    let copy_crc_us_per_record = per_record(per_chunk, budget, || {
        copy.copy_from_slice(&source);
        std::hint::black_box(runnel_core::checksum::crc32c(&copy));
        Ok(())
    })?;
    let path = dir.join(format!("runnel-bench-floor-{}", std::process::id()));
    let mut file = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut written = 0usize;
    // Writes one chunk, truncating the file first when it would pass `rewind_at` bytes.
    let mut write = |rewind_at: usize| {
        if written + source.len() > rewind_at {
            file.set_len(0).map_err(|e| e.to_string())?;
            std::io::Seek::rewind(&mut file).map_err(|e| e.to_string())?;
            written = 0;
        }
        file.write_all(&source).map_err(|e| e.to_string())?;
        written += source.len();
        Ok::<usize, String>(written)
    };
    // A growing file (fresh pages) until the budget or the size cap, then the same size again
    // and again into the pages it just freed.
    let mut grown = 0;
    let fresh = per_record(per_chunk, budget, || {
        grown = write(FLOOR_FILE_BYTES)?;
        Ok(())
    });
    let mut first = true;
    let reused = fresh.and_then(|fresh| {
        let rewrite = per_record(per_chunk, budget, || {
            write(if std::mem::take(&mut first) { 0 } else { grown })?;
            Ok(())
        })?;
        Ok((fresh, rewrite))
    });
    let _ = std::fs::remove_file(&path);
    let (write_us_per_record, rewrite_us_per_record) = reused?;
    Ok(Floor {
        record_bytes,
        copy_crc_us_per_record,
        write_us_per_record,
        rewrite_us_per_record,
    })
}

/// The most the write floor's scratch file grows to (2 GiB), so a long phase on a fast disk
/// does not fill it.
pub const FLOOR_FILE_BYTES: usize = 2 << 30;

/// Runs `chunk` (`records` records' worth of work) until `budget` passes; returns this
/// thread's CPU microseconds per record (wall time where the kernel keeps no thread CPU time).
fn per_record(
    records: usize,
    budget: Duration,
    mut chunk: impl FnMut() -> Result<(), String>,
) -> Result<f64, String> {
    let (start, cpu_start) = (Instant::now(), thread_cpu());
    let mut done = 0u64;
    while done == 0 || start.elapsed() < budget {
        chunk()?;
        done += records as u64;
    }
    let spent = match (cpu_start, thread_cpu()) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => start.elapsed(),
    };
    Ok(spent.as_secs_f64() * 1e6 / done as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_fields_are_read_after_the_command_name() {
        // A name with spaces and a parenthesis: fields count from the last ')'.
        let stat = "1234 (tokio (rt) x) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 9 0";
        assert_eq!(cpu_ticks(stat), Some((250, 75)));
        assert_eq!(cpu_ticks("garbage"), None);
        let status = "Name:\trunnel\nVmPeak:\t  900 kB\nVmHWM:\t   51200 kB\nVmRSS:\t 40000 kB\n";
        assert_eq!(peak_rss(status), Some(51_200 * 1024));
    }

    #[test]
    fn this_process_is_measured_and_the_floor_is_positive() {
        let me = Meter::new(vec![std::process::id()]);
        let ((), spent) = me.around(|| {
            let mut x = 0u64;
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(60) {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
        });
        assert!(
            spent.user_s > 0.0,
            "a busy 60 ms shows as user time: {spent:?}"
        );
        assert!(me.peak_rss_bytes() > 0);
        let f = floor(1024, &std::env::temp_dir(), 0.05).expect("floor");
        assert!(
            f.copy_crc_us_per_record > 0.0
                && f.write_us_per_record > 0.0
                && f.rewrite_us_per_record > 0.0,
            "{f:?}"
        );
    }
}
