//! The same workload on Redis Streams with the `redis` crate: pipelined XADD (one field per
//! entry) as the producer, XREADGROUP as the consumer. Redis has no acks setting and one stream
//! is one "partition".

use std::time::{Duration, Instant};

use redis::{Connection, Value};

use crate::cpu::{Cpu, Meter};
use crate::stats::{Latencies, Phases, Row, Schedule, latency_rate, since, stamp_of, stamped};

/// Entries per pipeline in the throughput run.
const PIPELINE: usize = 500;
/// Entries per XREADGROUP.
const READ_COUNT: usize = 2000;

fn connect(url: &str) -> Result<Connection, String> {
    redis::Client::open(url)
        .and_then(|c| c.get_connection())
        .map_err(|e| format!("redis {url}: {e}"))
}

fn xadd_pipeline(con: &mut Connection, stream: &str, payloads: &[Vec<u8>]) -> Result<(), String> {
    let mut pipe = redis::pipe();
    for p in payloads {
        pipe.cmd("XADD").arg(stream).arg("*").arg("v").arg(p);
    }
    pipe.query::<Vec<Value>>(con)
        .map(|_| ())
        .map_err(|e| format!("XADD: {e}"))
}

/// The values of the entries in an XREADGROUP reply.
fn entries(reply: &Value) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let Value::Array(streams) = reply else {
        return out;
    };
    for stream in streams {
        let Value::Array(pair) = stream else { continue };
        let Some(Value::Array(items)) = pair.get(1) else {
            continue;
        };
        for item in items {
            let Value::Array(entry) = item else { continue };
            if let Some(Value::Array(fields)) = entry.get(1)
                && let Some(Value::BulkString(v)) = fields.get(1)
            {
                out.push(v.as_slice());
            }
        }
    }
    out
}

/// A consumer group at the start of `stream`, and a function reading the next entries.
fn group_reader(url: &str, stream: &str) -> Result<Connection, String> {
    let mut con = connect(url)?;
    redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(stream)
        .arg("bench")
        .arg("0")
        .arg("MKSTREAM")
        .exec(&mut con)
        .map_err(|e| format!("XGROUP CREATE: {e}"))?;
    Ok(con)
}

fn read_group(con: &mut Connection, stream: &str, block_ms: u64) -> Result<Value, String> {
    redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("bench")
        .arg("reader")
        .arg("COUNT")
        .arg(READ_COUNT)
        .arg("BLOCK")
        .arg(block_ms)
        .arg("NOACK")
        .arg("STREAMS")
        .arg(stream)
        .arg(">")
        .query(con)
        .map_err(|e| format!("XREADGROUP: {e}"))
}

/// Produce, consume and latency on Redis Streams at `url`, with the server's CPU time per
/// phase from `meter`; the latency run offers half of its own produce-and-consume capacity.
pub fn run(
    url: &str,
    record_bytes: usize,
    seconds: f64,
    fixed_rate: Option<f64>,
    meter: &Meter,
) -> Result<Row, String> {
    let stream = format!("bench-{record_bytes}");
    let mut con = connect(url)?;
    let payloads = vec![vec![b'x'; record_bytes]; PIPELINE];
    let (produce_result, produce_cpu) = meter.around(|| {
        let start = Instant::now();
        let mut produced = 0u64;
        while start.elapsed() < Duration::from_secs_f64(seconds) {
            xadd_pipeline(&mut con, &stream, &payloads)?;
            produced += PIPELINE as u64;
        }
        Ok::<_, String>((produced, start.elapsed()))
    });
    let (produced, produce_time) = produce_result?;

    let mut reader = group_reader(url, &stream)?;
    let (consume_result, consume_cpu) = meter.around(|| {
        let start = Instant::now();
        let mut consumed = 0u64;
        while consumed < produced && start.elapsed() < Duration::from_secs(60) {
            let reply = read_group(&mut reader, &stream, 100)?;
            consumed += entries(&reply).len() as u64;
        }
        Ok::<_, String>((consumed, start.elapsed()))
    });
    let (consumed, consume_time) = consume_result?;
    let rate = latency_rate(fixed_rate, produced, produce_time, consumed, consume_time);

    let (sent, lat, latency_cpu) = latency(
        url,
        &format!("{stream}-latency"),
        record_bytes,
        seconds,
        rate,
        meter,
    )?;
    Ok(Row::new(
        "redis-streams",
        record_bytes,
        "n/a",
        1,
        &Phases {
            produced,
            produce_time,
            consumed,
            consume_time,
            rate,
            latency_sent: sent,
            latencies: lat,
            produce_cpu,
            consume_cpu,
            latency_cpu,
            peak_rss_bytes: meter.peak_rss_bytes(),
        },
    ))
}

/// Offers `rate` entries per second (each tick's due entries in one pipeline) while a
/// blocking XREADGROUP reads them; returns (sent, latencies from due time to arrival, the
/// server's CPU time from the first due time to the last arrival).
fn latency(
    url: &str,
    stream: &str,
    record_bytes: usize,
    seconds: f64,
    rate: f64,
    meter: &Meter,
) -> Result<(u64, Latencies, Cpu), String> {
    let mut reader = group_reader(url, stream)?;
    let mut con = connect(url)?;
    let total = (rate * seconds) as u64;
    let cpu_before = meter.cpu();
    let schedule = Schedule::new(Instant::now(), rate);
    let epoch = schedule.start();
    let owned_stream = stream.to_string();
    let handle = std::thread::spawn(move || -> Result<Vec<u64>, String> {
        let mut samples = Vec::with_capacity(total as usize);
        let mut last = Instant::now();
        while (samples.len() as u64) < total && last.elapsed() < Duration::from_secs(10) {
            let reply = read_group(&mut reader, &owned_stream, 50)?;
            let now = since(epoch);
            for v in entries(&reply) {
                if let Some(due) = stamp_of(v) {
                    samples.push(now.saturating_sub(due) / 1000);
                    last = Instant::now();
                }
            }
        }
        Ok(samples)
    });
    let mut sent = 0u64;
    while sent < total {
        let due = schedule.due_by_now().min(total);
        if due > sent {
            let batch: Vec<Vec<u8>> = (sent..due)
                .map(|i| stamped(record_bytes, schedule.due_ns(i)))
                .collect();
            xadd_pipeline(&mut con, stream, &batch)?;
            sent = due;
        } else {
            std::thread::sleep(Duration::from_micros(50));
        }
    }
    let samples = handle.join().map_err(|_| "reader panicked")??;
    let cpu_s = meter.spent_since(cpu_before);
    Ok((sent, Latencies::new(samples), cpu_s))
}
