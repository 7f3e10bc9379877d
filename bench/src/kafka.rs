//! The Kafka-protocol workload, driven by librdkafka (the `rdkafka` crate) against runnel and
//! tansu: produce as fast as the producer is acknowledged, read it all back with one consumer,
//! then offer a fixed rate and time each record from its due time to its arrival.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use crate::cpu::{Cpu, Meter};
use crate::stats::{Latencies, Phases, Row, Schedule, latency_rate, since, stamp_of, stamped};

/// What one Kafka run does.
#[derive(Clone, Debug)]
pub struct Workload {
    /// host:port.
    pub bootstrap: String,
    /// The topic (created beforehand with `partitions`).
    pub topic: String,
    /// Its partition count.
    pub partitions: u32,
    /// Value bytes per record.
    pub record_bytes: usize,
    /// "1" or "all".
    pub acks: String,
    /// How long each phase offers records.
    pub seconds: f64,
    /// The latency run's offered rate, records per second, when fixed by hand (`--rate`);
    /// `None`: half of the capacity measured first ([`crate::stats::offered_rate`]).
    pub offered_rate: Option<f64>,
}

/// Counts acknowledged and failed deliveries.
#[derive(Default)]
struct Counter {
    ok: AtomicU64,
    failed: AtomicU64,
}

impl ClientContext for Counter {}

impl ProducerContext for Counter {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.ok.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.failed.fetch_add(1, Ordering::Relaxed),
        };
    }
}

fn producer(w: &Workload, linger_ms: u32) -> Result<BaseProducer<Counter>, String> {
    ClientConfig::new()
        .set("bootstrap.servers", &w.bootstrap)
        .set("acks", &w.acks)
        .set("linger.ms", linger_ms.to_string())
        .set("batch.size", "1000000")
        .set("queue.buffering.max.messages", "1000000")
        .set("queue.buffering.max.kbytes", "1048576")
        .set("enable.idempotence", "false")
        .set("compression.type", "none")
        .create_with_context(Counter::default())
        .map_err(|e| format!("producer: {e}"))
}

fn consumer(w: &Workload, topic: &str) -> Result<BaseConsumer, String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &w.bootstrap)
        .set("group.id", format!("bench-{topic}"))
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "10")
        // librdkafka ≥ 2.3 stops fetching a partition for fetch.queue.backoff.ms (1 s) once
        // its local queue holds queued.min.messages; with small records and several
        // partitions that idles the consumer for most of each second, whatever the broker.
        .set("fetch.queue.backoff.ms", "1")
        .create()
        .map_err(|e| format!("consumer: {e}"))?;
    let mut assignment = TopicPartitionList::new();
    for p in 0..w.partitions as i32 {
        assignment
            .add_partition_offset(topic, p, Offset::Beginning)
            .map_err(|e| e.to_string())?;
    }
    consumer.assign(&assignment).map_err(|e| e.to_string())?;
    Ok(consumer)
}

/// Sends one record, polling while librdkafka's queue is full.
fn send(p: &BaseProducer<Counter>, topic: &str, payload: &[u8]) -> Result<(), String> {
    let mut record = BaseRecord::to(topic).payload(payload);
    loop {
        match p.send::<[u8], [u8]>(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                record = r;
                p.poll(Duration::from_millis(1));
            }
            Err((e, _)) => return Err(format!("send: {e}")),
        }
    }
}

/// Produces for `w.seconds` as fast as acknowledgements allow; returns (acknowledged,
/// elapsed until the last acknowledgement).
pub fn produce(w: &Workload) -> Result<(u64, Duration), String> {
    let p = producer(w, 5)?;
    let payload = vec![b'x'; w.record_bytes];
    let start = Instant::now();
    let offer = Duration::from_secs_f64(w.seconds);
    let mut sent = 0u64;
    while start.elapsed() < offer {
        for _ in 0..1000 {
            send(&p, &w.topic, &payload)?;
        }
        sent += 1000;
        p.poll(Duration::ZERO);
    }
    p.flush(Duration::from_secs(60))
        .map_err(|e| format!("flush: {e}"))?;
    let elapsed = start.elapsed();
    let ctx = p.context();
    let (ok, failed) = (
        ctx.ok.load(Ordering::Relaxed),
        ctx.failed.load(Ordering::Relaxed),
    );
    if ok + failed != sent || failed > 0 {
        return Err(format!("{sent} sent, {ok} acknowledged, {failed} failed"));
    }
    Ok((ok, elapsed))
}

/// Reads `expected` records of `w.topic` from the beginning with one consumer; returns (read,
/// elapsed from the first record); gives up 20 s after the last record.
pub fn consume(w: &Workload, expected: u64) -> Result<(u64, Duration), String> {
    let c = consumer(w, &w.topic)?;
    let mut read = 0u64;
    let mut first: Option<Instant> = None;
    let mut last = Instant::now();
    while read < expected && last.elapsed() < Duration::from_secs(20) {
        match c.poll(Duration::from_millis(100)) {
            Some(Ok(_)) => {
                first.get_or_insert_with(Instant::now);
                read += 1;
                last = Instant::now();
            }
            Some(Err(e)) => return Err(format!("consume: {e}")),
            None => {}
        }
    }
    Ok((read, first.map_or(Duration::ZERO, |f| f.elapsed())))
}

/// Offers `rate` records per second for `w.seconds` to `topic` (fresh, empty), with
/// linger.ms=1, while a consumer reads them; returns (sent, latencies from due time to
/// arrival, the broker processes' CPU time from the first due time to the last arrival).
pub fn latency(
    w: &Workload,
    topic: &str,
    rate: f64,
    meter: &Meter,
) -> Result<(u64, Latencies, Cpu), String> {
    let c = consumer(w, topic)?;
    // Let the consumer find its partitions before the clock starts.
    c.poll(Duration::from_millis(500));
    let total = (rate * w.seconds) as u64;
    // Metered from here: the clients' setup is not the records' cost.
    let cpu_before = meter.cpu();
    let schedule = Schedule::new(Instant::now(), rate);
    let epoch = schedule.start();
    let reader = std::thread::spawn(move || {
        let mut samples = Vec::with_capacity(total as usize);
        let mut last = Instant::now();
        while (samples.len() as u64) < total && last.elapsed() < Duration::from_secs(10) {
            if let Some(Ok(m)) = c.poll(Duration::from_millis(50)) {
                if let Some(due) = m.payload().and_then(stamp_of) {
                    samples.push(since(epoch).saturating_sub(due) / 1000);
                    last = Instant::now();
                }
            }
        }
        samples
    });
    let p = producer(w, 1)?;
    let mut sent = 0u64;
    while sent < total {
        let due = schedule.due_by_now().min(total);
        while sent < due {
            send(&p, topic, &stamped(w.record_bytes, schedule.due_ns(sent)))?;
            sent += 1;
        }
        p.poll(Duration::ZERO);
        if sent < total && schedule.due_by_now() <= sent {
            std::thread::sleep(Duration::from_micros(50));
        }
    }
    p.flush(Duration::from_secs(30))
        .map_err(|e| format!("flush: {e}"))?;
    let samples = reader.join().map_err(|_| "latency reader panicked")?;
    let cpu_s = meter.spent_since(cpu_before);
    Ok((sent, Latencies::new(samples), cpu_s))
}

/// Produce, consume and latency for `w`, with the broker processes' CPU time per phase from
/// `meter`; the latency run offers half of this system's own produce-and-consume capacity just
/// measured ([`crate::stats::offered_rate`]).
pub fn run(w: &Workload, meter: &Meter) -> Result<Row, String> {
    let (produce_result, produce_cpu) = meter.around(|| produce(w));
    let (produced, elapsed) = produce_result?;
    let (consume_result, consume_cpu) = meter.around(|| consume(w, produced));
    let (consumed, read_time) = consume_result?;
    let rate = latency_rate(w.offered_rate, produced, elapsed, consumed, read_time);
    let (sent, lat, latency_cpu) = latency(w, &format!("{}-latency", w.topic), rate, meter)?;
    Ok(Row::new(
        "",
        w.record_bytes,
        &w.acks,
        w.partitions,
        &Phases {
            produced,
            produce_time: elapsed,
            consumed,
            consume_time: read_time,
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
