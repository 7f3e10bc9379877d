//! The same workload on NATS JetStream (file storage) with the `async-nats` client: JetStream
//! publishes with up to [`WINDOW`] acknowledgements outstanding, and a pull consumer with no
//! acks reading it back. One stream is one "partition"; JetStream acknowledges every publish
//! once stored, so "acks" does not apply.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer, stream};
use bytes::Bytes;
use futures_util::StreamExt;

use crate::cpu::{Cpu, Meter};
use crate::stats::{Latencies, Phases, Row, Schedule, latency_rate, since, stamp_of, stamped};

/// Publishes awaiting their acknowledgement at most.
const WINDOW: usize = 4096;

fn err(what: &str) -> impl Fn(&dyn std::fmt::Display) -> String + '_ {
    move |e| format!("{what}: {e}")
}

async fn setup(url: &str, name: &str) -> Result<(jetstream::Context, stream::Stream), String> {
    let client = async_nats::connect(url)
        .await
        .map_err(|e| err("connect")(&e))?;
    let js = jetstream::new(client);
    let s = js
        .create_stream(stream::Config {
            name: name.to_string(),
            subjects: vec![format!("{name}.>")],
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .map_err(|e| err("create stream")(&e))?;
    Ok((js, s))
}

async fn reader(s: &stream::Stream) -> Result<consumer::pull::Stream, String> {
    let c: consumer::PullConsumer = s
        .create_consumer(consumer::pull::Config {
            ack_policy: consumer::AckPolicy::None,
            deliver_policy: consumer::DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .map_err(|e| err("create consumer")(&e))?;
    c.stream()
        .max_messages_per_batch(1000)
        .messages()
        .await
        .map_err(|e| err("messages")(&e))
}

/// Produce, consume and latency on JetStream at `url`, with the server's CPU time per phase
/// from `meter`; the latency run offers half of its own produce-and-consume capacity.
pub fn run(
    url: &str,
    record_bytes: usize,
    seconds: f64,
    fixed_rate: Option<f64>,
    meter: &Meter,
) -> Result<Row, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| err("runtime")(&e))?;
    runtime.block_on(run_async(url, record_bytes, seconds, fixed_rate, meter))
}

async fn run_async(
    url: &str,
    record_bytes: usize,
    seconds: f64,
    fixed_rate: Option<f64>,
    meter: &Meter,
) -> Result<Row, String> {
    let name = format!("bench{record_bytes}");
    let (js, s) = setup(url, &name).await?;
    let subject = format!("{name}.x");
    let payload = Bytes::from(vec![b'x'; record_bytes]);
    let mut window = VecDeque::with_capacity(WINDOW);
    let cpu_before = meter.cpu();
    let start = Instant::now();
    let mut produced = 0u64;
    while start.elapsed() < Duration::from_secs_f64(seconds) {
        for _ in 0..100 {
            let ack = js
                .publish(subject.clone(), payload.clone())
                .await
                .map_err(|e| err("publish")(&e))?;
            window.push_back(ack);
            if window.len() >= WINDOW
                && let Some(oldest) = window.pop_front()
            {
                oldest.await.map_err(|e| err("publish ack")(&e))?;
                produced += 1;
            }
        }
    }
    for ack in window {
        ack.await.map_err(|e| err("publish ack")(&e))?;
        produced += 1;
    }
    let produce_time = start.elapsed();
    let produce_cpu = meter.spent_since(cpu_before);

    let mut messages = reader(&s).await?;
    let cpu_before = meter.cpu();
    let start = Instant::now();
    let mut consumed = 0u64;
    while consumed < produced {
        match tokio::time::timeout(Duration::from_secs(10), messages.next()).await {
            Ok(Some(Ok(_))) => consumed += 1,
            Ok(Some(Err(e))) => return Err(err("consume")(&e)),
            Ok(None) | Err(_) => break,
        }
    }
    let consume_time = start.elapsed();
    let consume_cpu = meter.spent_since(cpu_before);
    let rate = latency_rate(fixed_rate, produced, produce_time, consumed, consume_time);

    let (sent, lat, latency_cpu) = latency(
        url,
        &format!("{name}lat"),
        record_bytes,
        seconds,
        rate,
        meter,
    )
    .await?;
    Ok(Row::new(
        "nats-jetstream",
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

/// Offers `rate` publishes per second while a pull consumer reads them, both on this task's
/// runtime; returns (sent, latencies from due time to arrival, the server's CPU time from
/// the first due time to the last arrival).
async fn latency(
    url: &str,
    name: &str,
    record_bytes: usize,
    seconds: f64,
    rate: f64,
    meter: &Meter,
) -> Result<(u64, Latencies, Cpu), String> {
    let (js, s) = setup(url, name).await?;
    let mut messages = reader(&s).await?;
    let total = (rate * seconds) as u64;
    let cpu_before = meter.cpu();
    let schedule = Schedule::new(Instant::now(), rate);
    let epoch = schedule.start();
    let subject = format!("{name}.x");
    let read = tokio::spawn(async move {
        let mut samples = Vec::with_capacity(total as usize);
        while (samples.len() as u64) < total {
            match tokio::time::timeout(Duration::from_secs(10), messages.next()).await {
                Ok(Some(Ok(m))) => {
                    if let Some(due) = stamp_of(&m.payload) {
                        samples.push(since(epoch).saturating_sub(due) / 1000);
                    }
                }
                _ => break,
            }
        }
        samples
    });
    let mut window = VecDeque::new();
    let mut sent = 0u64;
    while sent < total {
        let due = schedule.due_by_now().min(total);
        while sent < due {
            let payload = Bytes::from(stamped(record_bytes, schedule.due_ns(sent)));
            window.push_back(
                js.publish(subject.clone(), payload)
                    .await
                    .map_err(|e| err("publish")(&e))?,
            );
            sent += 1;
            if window.len() >= WINDOW
                && let Some(oldest) = window.pop_front()
            {
                oldest.await.map_err(|e| err("publish ack")(&e))?;
            }
        }
        tokio::time::sleep(Duration::from_micros(100)).await;
    }
    for ack in window {
        ack.await.map_err(|e| err("publish ack")(&e))?;
    }
    let samples = read.await.map_err(|e| err("reader")(&e))?;
    let cpu_s = meter.spent_since(cpu_before);
    Ok((sent, Latencies::new(samples), cpu_s))
}
