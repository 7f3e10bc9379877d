//! Record commands: `produce` (input lines streamed as records, keys partitioned like the Java
//! client, idempotent by default), `consume` (by partition or as a consumer-group member,
//! printed with a kcat-like format or as JSON) and `records delete`.
//!
//! Keys, values and headers are bytes: `produce` takes input lines as they are (no UTF-8
//! needed) and `consume` writes them as they are, unless `--encoding base64|hex` asks for a
//! printable form.

use std::collections::BTreeMap;
use std::io::{BufRead, ErrorKind, Write};
use std::sync::mpsc::{Receiver, RecvTimeoutError, sync_channel};
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, BrokerId, FetchRequest, FetchResponse, InitProducerIdRequest, InitProducerIdResponse,
    ProduceRequest, ProduceResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use runnel_core::batch::{BatchBuilder, Compression, Header, Record, batches};
use runnel_core::partitioner::{Partitioner, PartitionerKind};

use super::groups::Member;
use super::signals::interrupted;
use super::{
    Brokers, ByPartition, Cell, ClientError, Report, check, check_with, format_time, json_string,
    list_offsets, log_bounds, plural,
};
use crate::codec::NodeCodec;

/// Records per produce request at most (more lines waiting are sent in the next one).
const PRODUCE_BATCH_RECORDS: usize = 500;
/// How often a group member heartbeats while it reads.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(2);
/// How often a group member commits what it printed while it reads (Kafka's
/// `auto.commit.interval.ms` default).
const AUTO_COMMIT_EVERY: Duration = Duration::from_secs(5);
/// How often `produce` looks at Ctrl-C while no input arrives.
const POLL: Duration = Duration::from_millis(100);
/// Attempts per produce request when the answer is retriable.
const PRODUCE_ATTEMPTS: u32 = 6;
/// Kafka's OFFSET_OUT_OF_RANGE.
const OFFSET_OUT_OF_RANGE: i16 = 1;
/// Kafka's DUPLICATE_SEQUENCE_NUMBER: an idempotent retry of a batch the leader already has.
const DUPLICATE_SEQUENCE_NUMBER: i16 = 46;

/// How `produce` turns lines into records and sends them.
#[derive(Clone, Debug)]
pub struct ProduceOptions {
    /// Split each line at the first occurrence into key and value (`-K`).
    pub key_separator: Option<Vec<u8>>,
    /// Headers added to every record (`-H key=value`).
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// Every record to this partition (`-p`); otherwise keys by murmur2, no key sticky.
    pub partition: Option<i32>,
    /// An empty value is a tombstone (null value), like kcat's `-Z`.
    pub tombstones: bool,
    /// Kafka's `acks`: -1 (all), 0 or 1.
    pub acks: i16,
    /// The batches' codec (`compression.type`).
    pub compression: Compression,
    /// Idempotent producer (`enable.idempotence`, on by default as in Kafka ≥ 3.0; needs
    /// acks=all): a retried batch is written once.
    pub idempotent: bool,
    /// Every record's timestamp (ms); otherwise the time its line was read.
    pub timestamp_ms: Option<i64>,
    /// How long a read line may wait for more before it is sent (`linger.ms`).
    pub linger: Duration,
}

impl Default for ProduceOptions {
    fn default() -> Self {
        Self {
            key_separator: None,
            headers: Vec::new(),
            partition: None,
            tombstones: false,
            acks: -1,
            compression: Compression::None,
            idempotent: true,
            timestamp_ms: None,
            linger: Duration::from_millis(5),
        }
    }
}

/// One record read from input, not yet sent.
struct Line {
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    timestamp_ms: i64,
}

/// The producer's state: its id and epoch (idempotent) and each partition's next sequence.
struct Producer {
    id: i64,
    epoch: i16,
    sequences: BTreeMap<i32, i32>,
}

/// `runnel produce TOPIC`: one record per input line, each sent as soon as it is read (after
/// `linger`), until end of input or Ctrl-C (which sends what was read, then stops). Lines are
/// bytes; the newline is not part of the record.
///
/// # Errors
/// [`ClientError`] when the topic does not exist, input cannot be read, or the broker refuses a
/// batch (after retrying retriable errors; an idempotent producer retries without duplicates).
pub fn produce(
    brokers: &mut Brokers,
    topic: &str,
    input: Box<dyn BufRead + Send>,
    options: &ProduceOptions,
) -> Result<Report, ClientError> {
    let partitions = brokers.partition_count_creating(topic, true)?;
    if let Some(p) = options.partition
        && !(0..partitions as i32).contains(&p)
    {
        return Err(ClientError::Usage(format!(
            "--partition {p}: {topic} has partitions 0 to {}",
            partitions as i32 - 1
        )));
    }
    let mut producer = if options.idempotent {
        let response: InitProducerIdResponse = brokers.any().call(
            ApiKey::InitProducerId,
            0,
            &InitProducerIdRequest::default()
                .with_transactional_id(None)
                .with_transaction_timeout_ms(-1),
        )?;
        check(
            "init producer id (the idempotent producer; --no-idempotence goes without)",
            response.error_code,
        )?;
        Some(Producer {
            id: response.producer_id.0,
            epoch: response.producer_epoch,
            sequences: BTreeMap::new(),
        })
    } else {
        None
    };
    let lines = read_lines(input);
    let mut partitioner = Partitioner::new(PartitionerKind::Murmur2, std::process::id().into());
    let mut pending: BTreeMap<i32, Vec<Line>> = BTreeMap::new();
    let (mut count, mut waiting) = (0usize, 0usize);
    let mut oldest: Option<Instant> = None;
    let mut ended = false;
    while !ended {
        let wait = oldest
            .map_or(POLL, |t| options.linger.saturating_sub(t.elapsed()))
            .min(POLL);
        match lines.recv_timeout(wait) {
            Ok(Ok(raw)) => {
                let (key, value) = match options
                    .key_separator
                    .as_deref()
                    .and_then(|sep| split_once(&raw, sep))
                {
                    Some((k, v)) => (Some(k.to_vec()), v.to_vec()),
                    None => (None, raw),
                };
                let value = (!(options.tombstones && value.is_empty())).then_some(value);
                let p = options
                    .partition
                    .unwrap_or_else(|| partitioner.partition(key.as_deref(), partitions) as i32);
                pending.entry(p).or_default().push(Line {
                    key,
                    value,
                    timestamp_ms: options
                        .timestamp_ms
                        .unwrap_or_else(|| crate::broker::now_ms() as i64),
                });
                waiting += 1;
                oldest.get_or_insert_with(Instant::now);
            }
            Ok(Err(e)) => return Err(ClientError::Usage(format!("reading input: {e}"))),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => ended = true,
        }
        if interrupted() {
            ended = true;
        }
        let due = oldest.is_some_and(|t| t.elapsed() >= options.linger);
        if waiting > 0 && (ended || due || waiting >= PRODUCE_BATCH_RECORDS) {
            if let Err((e, unwritten)) =
                send(brokers, topic, &mut pending, producer.as_mut(), options)
            {
                progress_done();
                let produced = count + waiting - unwritten;
                return Err(ClientError::Usage(format!(
                    "{e}; produced {} to {topic}, {} not written, the rest of the input not read",
                    plural(produced, "record"),
                    plural(unwritten, "record")
                )));
            }
            count += waiting;
            waiting = 0;
            oldest = None;
            partitioner.on_new_batch(partitions);
            progress(count);
        }
    }
    progress_done();
    let text = format!("produced {} to {topic}", plural(count, "record"));
    Ok(Report::message(
        if interrupted() {
            format!("interrupted: {text}")
        } else {
            text
        },
        vec![
            ("topic", topic.into()),
            ("produced", Cell::Int(count as i64)),
        ],
    ))
}

/// Input lines (without their newline) from a reader thread, so `produce` can send while it
/// waits for more, and notice Ctrl-C.
fn read_lines(mut input: Box<dyn BufRead + Send>) -> Receiver<std::io::Result<Vec<u8>>> {
    let (tx, rx) = sync_channel(PRODUCE_BATCH_RECORDS * 4);
    std::thread::spawn(move || {
        loop {
            let mut line = Vec::new();
            match input.read_until(b'\n', &mut line) {
                Ok(0) => return,
                Ok(_) => {
                    if line.last() == Some(&b'\n') {
                        line.pop();
                    }
                    if tx.send(Ok(line)).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        }
    });
    rx
}

/// `haystack` split at the first `separator`.
fn split_once<'a>(haystack: &'a [u8], separator: &[u8]) -> Option<(&'a [u8], &'a [u8])> {
    if separator.is_empty() {
        return None;
    }
    let at = haystack
        .windows(separator.len())
        .position(|w| w == separator)?;
    Some((&haystack[..at], &haystack[at + separator.len()..]))
}

/// Sends every pending record, one batch per partition (see [`send_batches`]). On failure,
/// the error and how many of these records were not written (or not known to be).
fn send(
    brokers: &mut Brokers,
    topic: &str,
    pending: &mut BTreeMap<i32, Vec<Line>>,
    mut producer: Option<&mut Producer>,
    options: &ProduceOptions,
) -> Result<(), (ClientError, usize)> {
    let headers: Vec<Header<'_>> = options
        .headers
        .iter()
        .map(|(k, v)| Header {
            key: k,
            value: Some(v),
        })
        .collect();
    let mut batches: BTreeMap<i32, Bytes> = BTreeMap::new();
    let counts: BTreeMap<i32, usize> = pending.iter().map(|(p, r)| (*p, r.len())).collect();
    let all = counts.values().sum();
    for (p, records) in std::mem::take(pending) {
        let mut builder = BatchBuilder::new(0).compression(options.compression);
        if let Some(producer) = producer.as_deref_mut() {
            let sequence = producer.sequences.entry(p).or_insert(0);
            builder = builder.producer(producer.id, producer.epoch, *sequence);
            *sequence = sequence.wrapping_add(records.len() as i32);
        }
        for r in &records {
            builder.push(
                r.timestamp_ms,
                r.key.as_deref(),
                r.value.as_deref(),
                headers.clone(),
            );
        }
        let batch = builder
            .build(&NodeCodec)
            .map_err(|e| (ClientError::Protocol(e.to_string()), all))?;
        batches.insert(p, Bytes::from(batch));
    }
    let idempotent = producer.is_some();
    send_batches(brokers, topic, &mut batches, idempotent, options)
        .map_err(|e| (e, batches.keys().filter_map(|p| counts.get(p)).sum()))
}

/// Sends `batches` (partition → batch), one request per leader, removing each once written;
/// retries what the broker calls retriable (with fresh metadata), when a retry cannot
/// duplicate: always for an idempotent producer, else only for errors that mean nothing was
/// written.
fn send_batches(
    brokers: &mut Brokers,
    topic: &str,
    batches: &mut BTreeMap<i32, Bytes>,
    idempotent: bool,
    options: &ProduceOptions,
) -> Result<(), ClientError> {
    let mut attempt = 0;
    while !batches.is_empty() {
        attempt += 1;
        let mut retry: Option<ClientError> = None;
        for (leader, partitions) in brokers.by_leader(topic, batches.keys().copied())? {
            let request = ProduceRequest::default()
                .with_acks(options.acks)
                .with_timeout_ms(10_000)
                .with_topic_data(vec![
                    TopicProduceData::default()
                        .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                        .with_partition_data(
                            partitions
                                .iter()
                                .map(|p| {
                                    PartitionProduceData::default()
                                        .with_index(*p)
                                        .with_records(batches.get(p).cloned())
                                })
                                .collect(),
                        ),
                ]);
            let client = brokers.broker(leader)?;
            // v8 carries the broker's message and the refused records (KIP-467).
            let version = client.version(ApiKey::Produce, 8);
            if options.acks == 0 {
                client.send(ApiKey::Produce, version, &request)?;
                for p in &partitions {
                    batches.remove(p);
                }
                continue;
            }
            let response: ProduceResponse = match client.call(ApiKey::Produce, version, &request) {
                Ok(r) => r,
                Err(e @ ClientError::Connection(..)) if idempotent => {
                    brokers.forget(leader);
                    retry = Some(e);
                    continue;
                }
                Err(e) => return Err(e),
            };
            for t in &response.responses {
                for p in &t.partition_responses {
                    let code = p.error_code;
                    if code == 0 || (idempotent && code == DUPLICATE_SEQUENCE_NUMBER) {
                        batches.remove(&p.index);
                        continue;
                    }
                    let what = format!("produce to {topic}-{}", p.index);
                    // The broker's words, then each refused record's (KIP-467).
                    let mut words: Vec<String> =
                        p.error_message.iter().map(|m| m.to_string()).collect();
                    words.extend(p.record_errors.iter().map(|r| {
                        let why = r.batch_index_error_message.as_deref().unwrap_or("refused");
                        format!("record {}: {why}", r.batch_index)
                    }));
                    let error = ClientError::Kafka {
                        what,
                        code,
                        message: (!words.is_empty()).then(|| words.join("; ")),
                    };
                    let unwritten = matches!(code, 3 | 5 | 6);
                    let retriable = kafka_protocol::ResponseError::try_from_code(code)
                        .is_some_and(|e| e.is_retriable());
                    if retriable && (idempotent || unwritten) && attempt < PRODUCE_ATTEMPTS {
                        retry = Some(error);
                    } else {
                        return Err(error);
                    }
                }
            }
        }
        if let Some(error) = retry {
            if attempt >= PRODUCE_ATTEMPTS {
                return Err(error);
            }
            std::thread::sleep(Duration::from_millis(100 << attempt.min(4)));
            brokers.metadata(Some(&[topic.to_string()]))?;
        }
    }
    Ok(())
}

/// `runnel records delete TOPIC --before OFFSET`: DeleteRecords on every partition (an offset
/// of -1 means each partition's high watermark), each sent to its leader. Every partition is
/// checked first (Kafka refuses an offset above the high watermark with OFFSET_OUT_OF_RANGE):
/// when one would be refused, nothing is deleted anywhere. Prints each new log start offset.
///
/// # Errors
/// [`ClientError::Usage`] naming the partitions whose high watermark is below `before`.
pub fn records_delete(
    brokers: &mut Brokers,
    topic: &str,
    before: i64,
) -> Result<Report, ClientError> {
    use kafka_protocol::messages::delete_records_request::{
        DeleteRecordsPartition, DeleteRecordsTopic,
    };
    use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};
    if before < -1 {
        return Err(ClientError::Usage(format!(
            "--before {before}: give an offset, or -1 for each partition's end"
        )));
    }
    let partitions = brokers.partition_count(topic)?;
    let ends = list_offsets(brokers, topic, partitions, -1)?;
    let short: Vec<String> = ends
        .iter()
        .enumerate()
        .filter(|(_, end)| before > **end)
        .map(|(p, end)| format!("{topic}-{p} (ends at {end})"))
        .collect();
    if !short.is_empty() {
        return Err(ClientError::Usage(format!(
            "--before {before} is past the end of {}; nothing was deleted",
            short.join(", ")
        )));
    }
    let mut rows = Vec::new();
    for (leader, wanted) in brokers.by_leader(topic, 0..partitions as i32)? {
        let request = DeleteRecordsRequest::default()
            .with_timeout_ms(10_000)
            .with_topics(vec![
                DeleteRecordsTopic::default()
                    .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                    .with_partitions(
                        wanted
                            .iter()
                            .map(|p| {
                                DeleteRecordsPartition::default()
                                    .with_partition_index(*p)
                                    .with_offset(before)
                            })
                            .collect(),
                    ),
            ]);
        let response: DeleteRecordsResponse =
            brokers
                .broker(leader)?
                .call(ApiKey::DeleteRecords, 0, &request)?;
        for t in &response.topics {
            for p in &t.partitions {
                check(
                    &format!("delete records of {topic}-{}", p.partition_index),
                    p.error_code,
                )?;
                rows.push((p.partition_index, p.low_watermark));
            }
        }
    }
    rows.sort();
    Ok(Report {
        columns: vec!["TOPIC", "PARTITION", "LOG START"],
        rows: rows
            .into_iter()
            .map(|(p, start)| vec![topic.into(), p.into(), start.into()])
            .collect(),
        ..Report::default()
    })
}

/// Where `consume` starts (for a group member: where a partition without a usable commit
/// starts, like `auto.offset.reset`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// The log start offset of each partition.
    Earliest,
    /// The log end offset (only records written from now on).
    Latest,
    /// This offset in every partition (clamped to the log, with a note on stderr).
    Offset(i64),
    /// This many records before each partition's end (kcat's `-o -N`; `-0` is the end).
    FromEnd(i64),
    /// The first record at or after this time (milliseconds since the epoch) in each partition.
    Timestamp(i64),
}

impl Start {
    /// Parses `--from`: `earliest`, `latest`, an offset, `-N` (N before the end), `@MILLIS`, or
    /// a date-time.
    ///
    /// # Errors
    /// [`ClientError::Usage`] naming the accepted forms.
    pub fn parse(text: &str) -> Result<Self, ClientError> {
        Ok(match text {
            "earliest" | "beginning" | "start" => Start::Earliest,
            "latest" | "end" => Start::Latest,
            _ => {
                if let Some(n) = text.strip_prefix('-')
                    && let Ok(n) = n.parse::<i64>()
                {
                    Start::FromEnd(n)
                } else if let Ok(n) = text.parse::<i64>() {
                    Start::Offset(n)
                } else {
                    Start::Timestamp(super::parse_time(text).map_err(|_| {
                        ClientError::Usage(format!(
                            "--from {text}: expected earliest, latest, an offset, -N, @MILLIS or a date-time"
                        ))
                    })?)
                }
            }
        })
    }

    /// The words for this start in notes ("--from earliest").
    fn describe(self) -> String {
        match self {
            Start::Earliest => "--from earliest".into(),
            Start::Latest => "--from latest".into(),
            Start::Offset(o) => format!("--from {o}"),
            Start::FromEnd(n) => format!("--from -{n}"),
            Start::Timestamp(ms) => format!("--from {}", format_time(ms)),
        }
    }
}

/// How keys, values and header values are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Encoding {
    /// The bytes as they are (JSON output needs them to be UTF-8).
    #[default]
    Text,
    /// Standard base64 (RFC 4648, padded).
    Base64,
    /// Lower-case hexadecimal, two digits per byte.
    Hex,
}

impl Encoding {
    fn encode(self, bytes: &[u8]) -> Vec<u8> {
        match self {
            Encoding::Text => bytes.to_vec(),
            Encoding::Base64 => base64::engine::general_purpose::STANDARD
                .encode(bytes)
                .into_bytes(),
            Encoding::Hex => bytes
                .iter()
                .flat_map(|b| format!("{b:02x}").into_bytes())
                .collect(),
        }
    }
}

/// One piece of a `--format`.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Literal(Vec<u8>),
    Topic,
    Partition,
    Offset,
    Timestamp,
    Date,
    Key,
    KeyLength,
    Value,
    ValueLength,
    Headers,
}

/// A parsed `--format` (kcat's `-f` subset): `%t` topic, `%p` partition, `%o` offset, `%T`
/// timestamp (ms), `%d` timestamp as ISO 8601 UTC, `%k` key, `%K` key length (-1 for null),
/// `%s` value, `%S` value length (-1 for null), `%h` headers (`k=v,...`), `%%`, and the escapes
/// `\n`, `\t`, `\r`, `\\`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Format(Vec<Piece>);

impl Format {
    /// Parses a format.
    ///
    /// # Errors
    /// [`ClientError::Usage`] for an unknown `%x` or a `%` at the end, listing what is known.
    pub fn parse(text: &str) -> Result<Self, ClientError> {
        let known = "known: %t %p %o %T %d %k %K %s %S %h %% \\n \\t \\r \\\\";
        let mut pieces = Vec::new();
        let mut literal = Vec::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            let piece = match c {
                '%' => match chars.next() {
                    Some('%') => {
                        literal.push(b'%');
                        continue;
                    }
                    Some('t') => Piece::Topic,
                    Some('p') => Piece::Partition,
                    Some('o') => Piece::Offset,
                    Some('T') => Piece::Timestamp,
                    Some('d') => Piece::Date,
                    Some('k') => Piece::Key,
                    Some('K') => Piece::KeyLength,
                    Some('s') => Piece::Value,
                    Some('S') => Piece::ValueLength,
                    Some('h') => Piece::Headers,
                    Some(x) => {
                        return Err(ClientError::Usage(format!(
                            "--format: unknown %{x} ({known})"
                        )));
                    }
                    None => {
                        return Err(ClientError::Usage(format!(
                            "--format: a % at the end ({known}; %% prints a %)"
                        )));
                    }
                },
                '\\' => {
                    let escaped = match chars.next() {
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some('r') => '\r',
                        Some('\\') => '\\',
                        Some(x) => {
                            literal.push(b'\\');
                            x
                        }
                        None => '\\',
                    };
                    let mut buf = [0u8; 4];
                    literal.extend_from_slice(escaped.encode_utf8(&mut buf).as_bytes());
                    continue;
                }
                c => {
                    let mut buf = [0u8; 4];
                    literal.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    continue;
                }
            };
            if !literal.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(&mut literal)));
            }
            pieces.push(piece);
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Ok(Format(pieces))
    }

    /// The record printed with this format, its bytes encoded with `encoding`.
    fn render(
        &self,
        encoding: Encoding,
        topic: &str,
        partition: i32,
        record: &Record<'_>,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let length = |b: Option<&[u8]>| b.map_or(-1, |b| b.len() as i64).to_string();
        for piece in &self.0 {
            match piece {
                Piece::Literal(bytes) => out.extend_from_slice(bytes),
                Piece::Topic => out.extend_from_slice(topic.as_bytes()),
                Piece::Partition => out.extend_from_slice(partition.to_string().as_bytes()),
                Piece::Offset => out.extend_from_slice(record.offset.to_string().as_bytes()),
                Piece::Timestamp => out.extend_from_slice(record.timestamp.to_string().as_bytes()),
                Piece::Date => out.extend_from_slice(format_time(record.timestamp).as_bytes()),
                Piece::Key => {
                    out.extend(record.key.map(|k| encoding.encode(k)).unwrap_or_default())
                }
                Piece::KeyLength => out.extend_from_slice(length(record.key).as_bytes()),
                Piece::Value => {
                    out.extend(record.value.map(|v| encoding.encode(v)).unwrap_or_default());
                }
                Piece::ValueLength => out.extend_from_slice(length(record.value).as_bytes()),
                Piece::Headers => {
                    for (i, h) in record.headers.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        out.extend_from_slice(h.key);
                        out.push(b'=');
                        out.extend(h.value.map(|v| encoding.encode(v)).unwrap_or_default());
                    }
                }
            }
        }
        out
    }
}

/// One JSON object per record: topic, partition, offset, timestamp (ms) and its type, key and
/// value (`null` when null; strings in `encoding`), headers as `[{"key":..,"value":..}]`.
///
/// # Errors
/// [`ClientError::Usage`] when a key or value is not UTF-8 and `encoding` is text.
fn record_json(
    encoding: Encoding,
    topic: &str,
    partition: i32,
    log_append_time: bool,
    record: &Record<'_>,
) -> Result<Vec<u8>, ClientError> {
    let string = |what: &str, b: Option<&[u8]>| -> Result<String, ClientError> {
        let Some(b) = b else {
            return Ok("null".into());
        };
        let encoded = encoding.encode(b);
        let text = String::from_utf8(encoded).map_err(|_| {
            ClientError::Usage(format!(
                "{topic}-{partition}@{}: the {what} is not UTF-8; use --encoding base64 or hex",
                record.offset
            ))
        })?;
        Ok(json_string(&text))
    };
    let headers: Vec<String> = record
        .headers
        .iter()
        .map(|h| {
            Ok(format!(
                "{{\"key\":{},\"value\":{}}}",
                json_string(&String::from_utf8_lossy(h.key)),
                string("header value", h.value)?
            ))
        })
        .collect::<Result<_, ClientError>>()?;
    Ok(format!(
        "{{\"topic\":{},\"partition\":{partition},\"offset\":{},\"timestamp\":{},\"timestamp_type\":\"{}\",\"key\":{},\"value\":{},\"headers\":[{}]}}\n",
        json_string(topic),
        record.offset,
        record.timestamp,
        if log_append_time { "LogAppendTime" } else { "CreateTime" },
        string("key", record.key)?,
        string("value", record.value)?,
        headers.join(",")
    )
    .into_bytes())
}

/// What `consume` reads and how it prints.
#[derive(Clone, Debug)]
pub struct ConsumeOptions<'a> {
    /// Where to start (partitions a group has committed start at the commit instead).
    pub start: Start,
    /// Only these partitions (of every topic), each from its own offset when given
    /// (`-p 0:5,2`); empty means all. Not with a group.
    pub partitions: Vec<(i32, Option<i64>)>,
    /// Join this consumer group: read only the partitions it assigns, resume at its commits,
    /// commit what was printed, and leave at the end (also after Ctrl-C, a closed pipe or an
    /// error).
    pub group: Option<&'a str>,
    /// Stop after this many records.
    pub limit: Option<usize>,
    /// How each record is printed (ignored with `json`).
    pub format: Format,
    /// One JSON object per record instead of `format`.
    pub json: bool,
    /// How keys, values and header values are written.
    pub encoding: Encoding,
    /// Keep waiting for new records until Ctrl-C (or `limit`), instead of stopping at the end.
    pub follow: bool,
    /// `isolation.level=read_committed` (KIP-98): read up to the last stable offset and skip
    /// aborted transactions' records, as Kafka's consumer does. Otherwise read_uncommitted,
    /// the Java consumer's and console consumer's default.
    pub read_committed: bool,
}

/// Which batches of one Fetch answer a consumer returns, as Kafka's consumer decides it
/// (`CompletedFetch`): never a control batch (a transaction marker); under read_committed not a
/// transactional batch of a producer whose aborted transaction the answer lists, from that
/// transaction's first offset until its abort marker.
struct Aborted {
    /// The answer's aborted transactions, (first offset, producer id), latest first.
    pending: Vec<(i64, i64)>,
    /// Producers whose aborted transaction is being skipped.
    skipping: std::collections::BTreeSet<i64>,
}

impl Aborted {
    fn new(list: Option<&[kafka_protocol::messages::fetch_response::AbortedTransaction]>) -> Self {
        let mut pending: Vec<(i64, i64)> = list
            .unwrap_or_default()
            .iter()
            .map(|t| (t.first_offset, t.producer_id.0))
            .collect();
        pending.sort_unstable_by(|a, b| b.cmp(a));
        Self {
            pending,
            skipping: std::collections::BTreeSet::new(),
        }
    }

    /// Whether `batch`'s records are returned.
    fn readable(&mut self, batch: &runnel_core::batch::BatchRef<'_>) -> bool {
        let header = batch.header();
        while self
            .pending
            .last()
            .is_some_and(|(first, _)| *first <= header.base_offset)
        {
            if let Some((_, producer)) = self.pending.pop() {
                self.skipping.insert(producer);
            }
        }
        if header.is_control() {
            if runnel_core::txn::control_type(batch, &NodeCodec)
                == Some(runnel_core::txn::ControlType::Abort)
            {
                self.skipping.remove(&header.producer_id);
            }
            return false;
        }
        !(header.is_transactional() && self.skipping.contains(&header.producer_id))
    }
}

/// How `consume` ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consumed {
    /// Caught up with the end (or `limit` printed): the records printed.
    Done(usize),
    /// Ctrl-C or SIGTERM: the records printed.
    Interrupted(usize),
    /// Whoever read the output closed it (`| head`): the records printed.
    ClosedPipe(usize),
}

/// Where `consume` is in one partition.
#[derive(Clone, Copy, Debug)]
struct Cursor {
    /// The next offset to print.
    next: i64,
    /// The partition's end when the read started.
    end: i64,
    /// Caught up: at or past the end, and a fetch there brought nothing new (never when
    /// following).
    drained: bool,
}

/// What [`read`] calls after each round with the cursors: heartbeats and periodic commits of
/// a group member; true stops the read for a rebalance.
type Between<'a> = dyn FnMut(&mut Brokers, &ByPartition<Cursor>) -> Result<bool, ClientError> + 'a;

/// Why [`read`] returned.
enum Stopped {
    /// Every cursor is drained or the limit is reached.
    Done,
    /// The group is rebalancing.
    Rebalance,
    /// Ctrl-C.
    Interrupted,
    /// The output was closed.
    ClosedPipe,
}

/// `runnel consume TOPIC...`: reads from `options.start` (or a group's commits) until caught up
/// with the end of every partition (or forever with `follow`), or at most `limit` records,
/// printing each. A start outside a partition's log (a committed offset below a deleted log
/// start, an offset past the end) moves to the nearest end of the log, or for a group to
/// `--from`'s position, with a note on stderr.
///
/// # Errors
/// [`ClientError`] for an unknown topic or a refusal; a group member commits what it printed and
/// leaves its group before returning the error.
pub fn consume(
    brokers: &mut Brokers,
    topics: &[String],
    options: &ConsumeOptions<'_>,
    out: &mut impl Write,
) -> Result<Consumed, ClientError> {
    let mut counts = BTreeMap::new();
    for topic in topics {
        counts.insert(topic.clone(), brokers.partition_count(topic)?);
    }
    let Some(group) = options.group else {
        let mut cursors = ByPartition::new();
        for (topic, count) in &counts {
            let chosen: Vec<(i32, Option<i64>)> = if options.partitions.is_empty() {
                (0..*count as i32).map(|p| (p, None)).collect()
            } else {
                options.partitions.clone()
            };
            if let Some((p, _)) = chosen.iter().find(|(p, _)| !(0..*count as i32).contains(p)) {
                return Err(ClientError::Usage(format!(
                    "--partition {p}: {topic} has partitions 0 to {}",
                    *count as i32 - 1
                )));
            }
            let planned = plan(brokers, topic, *count, options.start)?;
            for (p, offset) in chosen {
                let (start, end) = planned.bounds[p as usize];
                let wanted = offset.unwrap_or(planned.positions[p as usize]);
                let next = settle(topic, p, wanted, (start, end), None);
                cursors.insert((topic.clone(), p), Cursor::new(next, end));
            }
        }
        let mut printed = 0;
        let stopped = read(
            brokers,
            &mut cursors,
            options,
            &mut printed,
            out,
            &mut |_, _| Ok(false),
        )?;
        return Ok(ended(stopped, printed));
    };
    if !options.partitions.is_empty() {
        return Err(ClientError::Usage(
            "--partition and --group do not go together: the group assigns partitions".into(),
        ));
    }
    let mut member = Member::join(brokers, group, topics)?;
    let mut printed = 0;
    let mut cursors = ByPartition::new();
    let result = member_loop(
        brokers,
        &mut member,
        &counts,
        options,
        &mut printed,
        &mut cursors,
        out,
    );
    // Whatever happened, commit what was printed and leave, so the group does not wait for a
    // member that is gone.
    let done: ByPartition<i64> = cursors.iter().map(|(k, c)| (k.clone(), c.next)).collect();
    let committed = member.commit(brokers, &done);
    let left = member.leave(brokers);
    let stopped = result?;
    committed?;
    left?;
    Ok(ended(stopped, printed))
}

/// The group member's rounds: position every assigned partition, read until done or a
/// rebalance, commit, rejoin when rebalancing.
fn member_loop(
    brokers: &mut Brokers,
    member: &mut Member,
    counts: &BTreeMap<String, u32>,
    options: &ConsumeOptions<'_>,
    printed: &mut usize,
    cursors: &mut ByPartition<Cursor>,
    out: &mut impl Write,
) -> Result<Stopped, ClientError> {
    loop {
        cursors.clear();
        let committed = member.committed(brokers, counts)?;
        for (topic, count) in counts {
            let assigned: Vec<i32> = member
                .assigned(topic)
                .filter(|p| (*p as u32) < *count)
                .collect();
            if assigned.is_empty() {
                continue;
            }
            let planned = plan(brokers, topic, *count, options.start)?;
            for p in assigned {
                let bounds = planned.bounds[p as usize];
                let fallback = planned.positions[p as usize];
                // As Kafka's consumer: resume at the commit; a commit outside the log shows
                // as OFFSET_OUT_OF_RANGE on the first fetch, and `read` falls back to --from.
                let next = committed
                    .get(&(topic.clone(), p))
                    .copied()
                    .unwrap_or(fallback);
                cursors.insert((topic.clone(), p), Cursor::new(next, bounds.1));
            }
        }
        let (mut beat, mut committed_at) = (Instant::now(), Instant::now());
        let stopped = read(brokers, cursors, options, printed, out, &mut |b, at| {
            // Kafka's consumer commits every auto.commit.interval.ms (5 s) while it reads, so
            // a member that is killed loses little; this one commits what it printed.
            if committed_at.elapsed() >= AUTO_COMMIT_EVERY {
                committed_at = Instant::now();
                let done: ByPartition<i64> = at.iter().map(|(k, c)| (k.clone(), c.next)).collect();
                member.commit(b, &done)?;
            }
            if beat.elapsed() < HEARTBEAT_EVERY {
                return Ok(false);
            }
            beat = Instant::now();
            member.heartbeat(b)
        })?;
        match stopped {
            Stopped::Rebalance => {
                let done: ByPartition<i64> =
                    cursors.iter().map(|(k, c)| (k.clone(), c.next)).collect();
                member.commit(brokers, &done)?;
                member.rejoin(brokers)?;
            }
            other => return Ok(other),
        }
    }
}

fn ended(stopped: Stopped, printed: usize) -> Consumed {
    match stopped {
        Stopped::Done | Stopped::Rebalance => Consumed::Done(printed),
        Stopped::Interrupted => Consumed::Interrupted(printed),
        Stopped::ClosedPipe => Consumed::ClosedPipe(printed),
    }
}

/// One topic's log bounds and the start positions `--from` asks for.
struct Planned {
    /// (log start, end) by partition.
    bounds: Vec<(i64, i64)>,
    /// Where `--from` starts, by partition (already inside the bounds, except an explicit
    /// offset, which [`settle`] clamps with a note).
    positions: Vec<i64>,
}

/// Asks the leaders of `topic`'s partitions for their bounds and where `start` points.
fn plan(
    brokers: &mut Brokers,
    topic: &str,
    count: u32,
    start: Start,
) -> Result<Planned, ClientError> {
    let bounds = log_bounds(brokers, topic, count)?;
    let positions = match start {
        Start::Earliest => bounds.iter().map(|b| b.0).collect(),
        Start::Latest => bounds.iter().map(|b| b.1).collect(),
        Start::Offset(o) => vec![o; count as usize],
        Start::FromEnd(n) => bounds.iter().map(|(s, e)| (e - n).max(*s)).collect(),
        Start::Timestamp(ms) => list_offsets(brokers, topic, count, ms)?
            .iter()
            .zip(&bounds)
            .map(|(o, (_, e))| if *o < 0 { *e } else { *o })
            .collect(),
    };
    Ok(Planned { bounds, positions })
}

/// `wanted` if it lies in `[start, end]`; otherwise, with a note on stderr, `fallback`'s
/// position when given (a group's commit outside the log falls back like
/// `auto.offset.reset`), else the nearest bound.
fn settle(
    topic: &str,
    partition: i32,
    wanted: i64,
    (start, end): (i64, i64),
    fallback: Option<(i64, Start)>,
) -> i64 {
    if (start..=end).contains(&wanted) {
        return wanted;
    }
    let (to, why) = match fallback {
        Some((position, how)) => (position.clamp(start, end), how.describe()),
        None if wanted < start => (start, "the log start".into()),
        None => (end, "the end: nothing there yet".into()),
    };
    eprintln!(
        "runnel: {topic}-{partition}: offset {wanted} is outside the log ({start} to {end}); starting at {to} ({why})"
    );
    to
}

impl Cursor {
    fn new(next: i64, end: i64) -> Self {
        Self {
            next,
            end,
            drained: false,
        }
    }
}

/// Says once on stderr that the cluster is out of reach (`why`), then dials the `-b` list again
/// every second until a broker answers (true) or Ctrl-C (false).
fn wait_for_brokers(brokers: &mut Brokers, why: &str) -> bool {
    eprintln!("runnel: {why}; reconnecting (Ctrl-C stops)");
    loop {
        if interrupted() {
            return false;
        }
        std::thread::sleep(Duration::from_secs(1));
        if brokers.reconnect().is_ok() {
            eprintln!("runnel: reconnected");
            return true;
        }
    }
}

/// Fetches the partitions in `cursors` from their leaders until each is caught up (at or past
/// the end it had when the read started, and a fetch there brings nothing new; like kcat's
/// `-e`), forever with `follow`, or until `limit` records are printed, Ctrl-C, or the output
/// closes; calls `between` after each round, which returns true to stop for a rebalance.
fn read(
    brokers: &mut Brokers,
    cursors: &mut ByPartition<Cursor>,
    options: &ConsumeOptions<'_>,
    printed: &mut usize,
    out: &mut impl Write,
    between: &mut Between<'_>,
) -> Result<Stopped, ClientError> {
    let limit = options.limit;
    let mut scratch = Vec::new();
    // Following without a group, brokers that go away (restart) are waited for.
    let reconnects = options.follow && options.group.is_none();
    'round: loop {
        if limit.is_some_and(|l| *printed >= l)
            || (!options.follow && cursors.values().all(|c| c.drained))
        {
            return Ok(Stopped::Done);
        }
        if interrupted() {
            return Ok(Stopped::Interrupted);
        }
        // Only confirming the end: do not wait for new records (unless following).
        let behind = cursors.values().any(|c| !c.drained && c.next < c.end);
        let max_wait_ms = if behind {
            100
        } else if options.follow {
            500
        } else {
            0
        };
        let mut routes: BTreeMap<i32, Vec<(String, i32)>> = BTreeMap::new();
        let mut topics: Vec<String> = cursors.keys().map(|(t, _)| t.clone()).collect();
        topics.dedup();
        for topic in &topics {
            let wanted = cursors
                .iter()
                .filter(|((t, _), c)| t == topic && !c.drained)
                .map(|((_, p), _)| *p);
            let by_leader = match brokers.by_leader(topic, wanted) {
                Ok(by_leader) => by_leader,
                Err(ClientError::Connection(broker, why)) if reconnects => {
                    if !wait_for_brokers(brokers, &format!("broker {broker}: {why}")) {
                        return Ok(Stopped::Interrupted);
                    }
                    continue 'round;
                }
                // A restarted broker has no leader for a moment (LEADER_NOT_AVAILABLE).
                Err(ClientError::Kafka { code: 5, .. }) if reconnects => {
                    std::thread::sleep(Duration::from_millis(500));
                    continue 'round;
                }
                Err(e) => return Err(e),
            };
            for (leader, ps) in by_leader {
                routes
                    .entry(leader)
                    .or_default()
                    .extend(ps.into_iter().map(|p| (topic.clone(), p)));
            }
        }
        let mut stale = false;
        for (leader, partitions) in routes {
            let mut by_topic: BTreeMap<&str, Vec<FetchPartition>> = BTreeMap::new();
            for (t, p) in &partitions {
                let next = cursors.get(&(t.clone(), *p)).map_or(0, |c| c.next);
                by_topic.entry(t).or_default().push(
                    FetchPartition::default()
                        .with_partition(*p)
                        .with_fetch_offset(next)
                        .with_partition_max_bytes(1 << 20),
                );
            }
            let fetch = FetchRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_isolation_level(i8::from(options.read_committed))
                .with_max_wait_ms(max_wait_ms)
                .with_min_bytes(1)
                .with_max_bytes(8 << 20)
                .with_topics(
                    by_topic
                        .into_iter()
                        .map(|(t, ps)| {
                            FetchTopic::default()
                                .with_topic(TopicName(StrBytes::from_string(t.to_string())))
                                .with_partitions(ps)
                        })
                        .collect(),
                );
            let answer = brokers
                .broker(leader)
                .and_then(|c| c.call::<_, FetchResponse>(ApiKey::Fetch, 4, &fetch));
            let response = match answer {
                Ok(response) => response,
                // A broker that goes away (a restart) is waited for, as kcat and rpk do; a
                // group member's session is gone with it, so it ends as before.
                Err(ClientError::Connection(broker, why)) if reconnects => {
                    if !wait_for_brokers(brokers, &format!("broker {broker}: {why}")) {
                        return Ok(Stopped::Interrupted);
                    }
                    stale = true;
                    break;
                }
                Err(e) => return Err(e),
            };
            for t in &response.responses {
                let topic = t.topic.0.to_string();
                for p in &t.partitions {
                    let key = (topic.clone(), p.partition_index);
                    let Some(cursor) = cursors.get_mut(&key) else {
                        continue;
                    };
                    match p.error_code {
                        0 => {}
                        // Stale metadata: ask again where the partition lives.
                        3 | 5 | 6 => {
                            stale = true;
                            continue;
                        }
                        OFFSET_OUT_OF_RANGE => {
                            // Records were deleted under us (or the log was truncated).
                            let planned =
                                plan(brokers, &topic, p.partition_index as u32 + 1, options.start)?;
                            let i = p.partition_index as usize;
                            let fallback = Some((planned.positions[i], options.start));
                            cursor.next = settle(
                                &topic,
                                p.partition_index,
                                cursor.next,
                                planned.bounds[i],
                                fallback,
                            );
                            cursor.end = cursor.end.max(cursor.next);
                            continue;
                        }
                        code => {
                            check_with(&format!("fetch {topic}-{}", p.partition_index), code, None)?
                        }
                    }
                    let before = cursor.next;
                    let bytes = p.records.clone().unwrap_or_default();
                    let mut aborted = Aborted::new(p.aborted_transactions.as_deref());
                    for batch in batches(&bytes) {
                        let batch = batch.map_err(|e| ClientError::Protocol(e.to_string()))?;
                        let log_append_time = batch.header().is_log_append_time();
                        if !aborted.readable(&batch) {
                            // A marker, or a batch of an aborted transaction: never printed.
                            cursor.next = cursor.next.max(batch.header().next_offset());
                            continue;
                        }
                        for record in batch
                            .records(&NodeCodec, &mut scratch)
                            .map_err(|e| ClientError::Protocol(e.to_string()))?
                        {
                            let record =
                                record.map_err(|e| ClientError::Protocol(e.to_string()))?;
                            if record.offset < cursor.next || limit.is_some_and(|l| *printed >= l) {
                                continue;
                            }
                            let line = if options.json {
                                record_json(
                                    options.encoding,
                                    &topic,
                                    p.partition_index,
                                    log_append_time,
                                    &record,
                                )?
                            } else {
                                options.format.render(
                                    options.encoding,
                                    &topic,
                                    p.partition_index,
                                    &record,
                                )
                            };
                            match out.write_all(&line) {
                                Ok(()) => {}
                                Err(e) if e.kind() == ErrorKind::BrokenPipe => {
                                    return Ok(Stopped::ClosedPipe);
                                }
                                Err(e) => {
                                    return Err(ClientError::Usage(format!("writing output: {e}")));
                                }
                            }
                            cursor.next = record.offset + 1;
                            *printed += 1;
                        }
                        // Past a batch whose last records were compacted away.
                        if limit.is_none_or(|l| *printed < l) {
                            cursor.next = cursor.next.max(batch.header().next_offset());
                        }
                    }
                    // Under read_committed the end a reader can reach is the last stable offset.
                    let readable_end = if options.read_committed && p.last_stable_offset >= 0 {
                        p.last_stable_offset
                    } else {
                        p.high_watermark
                    };
                    if !options.follow
                        && cursor.next == before
                        && (cursor.next >= cursor.end || cursor.next >= readable_end)
                    {
                        cursor.drained = true;
                    }
                }
            }
            match out.flush() {
                Err(e) if e.kind() == ErrorKind::BrokenPipe => return Ok(Stopped::ClosedPipe),
                Err(e) => return Err(ClientError::Usage(format!("writing output: {e}"))),
                Ok(()) => {}
            }
        }
        if stale {
            std::thread::sleep(Duration::from_millis(200));
            let metadata = match brokers.metadata(Some(&topics)) {
                Ok(metadata) => metadata,
                Err(ClientError::Connection(broker, why)) if reconnects => {
                    if !wait_for_brokers(brokers, &format!("broker {broker}: {why}")) {
                        return Ok(Stopped::Interrupted);
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            // A topic deleted while it is read ends the read, rather than a silent wait.
            if let Some(gone) = metadata.topics.iter().find(|t| t.error_code == 3) {
                let name = gone
                    .name
                    .as_ref()
                    .map_or(String::new(), |n| n.0.to_string());
                return Err(ClientError::Usage(format!(
                    "topic {name} was deleted while it was read"
                )));
            }
        }
        if between(brokers, cursors)? {
            return Ok(Stopped::Rebalance);
        }
    }
}

/// On a terminal, a one-line progress counter on stderr (rewritten in place).
fn progress(records: usize) {
    use std::io::IsTerminal;
    let stderr = std::io::stderr();
    if stderr.is_terminal() {
        let mut e = stderr.lock();
        let _ = write!(e, "\r\x1b[2Kproduced {}…", plural(records, "record"));
        let _ = e.flush();
    }
}

/// Clears the progress line.
fn progress_done() {
    use std::io::IsTerminal;
    let stderr = std::io::stderr();
    if stderr.is_terminal() {
        let _ = write!(stderr.lock(), "\r\x1b[2K");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record<'a>(key: Option<&'a [u8]>, value: Option<&'a [u8]>) -> Record<'a> {
        Record {
            offset: 7,
            timestamp: 1_700_000_000_000,
            key,
            value,
            headers: vec![Header {
                key: b"h",
                value: Some(b"1"),
            }],
        }
    }

    #[test]
    fn formats_like_kcat() {
        let r = record(Some(b"k"), Some(b"v"));
        let f = Format::parse("%t/%p@%o %k=%s %h %T %K %S 100%%\\n").unwrap();
        assert_eq!(
            f.render(Encoding::Text, "t", 2, &r),
            b"t/2@7 k=v h=1 1700000000000 1 1 100%\n"
        );
        // kcat's %K/%S: -1 for null, 0 for empty.
        let f = Format::parse("%K %S|%k|%s").unwrap();
        assert_eq!(
            f.render(Encoding::Text, "t", 0, &record(None, Some(b""))),
            b"-1 0||"
        );
        assert_eq!(
            Format::parse("%d")
                .unwrap()
                .render(Encoding::Text, "t", 0, &r),
            b"2023-11-14T22:13:20.000Z"
        );
        for bad in ["%x", "50%", "%q%s"] {
            let e = Format::parse(bad).unwrap_err().to_string();
            assert!(e.contains("known: %t"), "{bad}: {e}");
        }
    }

    #[test]
    fn bytes_pass_through_or_are_encoded() {
        let r = record(Some(b"\x00\xff"), Some(b"r\xffaw"));
        let f = Format::parse("%k %s").unwrap();
        assert_eq!(f.render(Encoding::Text, "t", 0, &r), b"\x00\xff r\xffaw");
        assert_eq!(f.render(Encoding::Hex, "t", 0, &r), b"00ff 72ff6177");
        assert_eq!(f.render(Encoding::Base64, "t", 0, &r), b"AP8= cv9hdw==");
        let e = record_json(Encoding::Text, "t", 0, false, &r).unwrap_err();
        assert!(e.to_string().contains("--encoding base64"), "{e}");
        let json = record_json(Encoding::Base64, "t", 0, false, &r).unwrap();
        assert_eq!(
            String::from_utf8(json).unwrap(),
            "{\"topic\":\"t\",\"partition\":0,\"offset\":7,\"timestamp\":1700000000000,\"timestamp_type\":\"CreateTime\",\"key\":\"AP8=\",\"value\":\"cv9hdw==\",\"headers\":[{\"key\":\"h\",\"value\":\"MQ==\"}]}\n"
        );
        let null = record_json(Encoding::Text, "t", 1, true, &record(None, Some(b""))).unwrap();
        let null = String::from_utf8(null).unwrap();
        assert!(null.contains("\"key\":null,\"value\":\"\""), "{null}");
        assert!(
            null.contains("\"timestamp_type\":\"LogAppendTime\""),
            "{null}"
        );
    }

    #[test]
    fn parses_starts() {
        assert_eq!(Start::parse("earliest").unwrap(), Start::Earliest);
        assert_eq!(Start::parse("12").unwrap(), Start::Offset(12));
        assert_eq!(Start::parse("-3").unwrap(), Start::FromEnd(3));
        // kcat's -o -0 is the end, not offset 0.
        assert_eq!(Start::parse("-0").unwrap(), Start::FromEnd(0));
        assert_eq!(Start::parse("@1000").unwrap(), Start::Timestamp(1000));
        assert_eq!(
            Start::parse("1970-01-01T00:00:01Z").unwrap(),
            Start::Timestamp(1000)
        );
        assert!(Start::parse("soon").is_err());
    }

    #[test]
    fn starts_outside_the_log_move_inside() {
        assert_eq!(settle("t", 0, 5, (2, 9), None), 5);
        assert_eq!(settle("t", 0, 749_998, (0, 9), None), 9);
        assert_eq!(settle("t", 0, 1, (3, 9), None), 3);
        // A group's commit below the log start falls back to --from's position.
        assert_eq!(settle("t", 0, 1, (3, 9), Some((9, Start::Latest))), 9);
    }

    #[test]
    fn key_separators_split_bytes() {
        assert_eq!(
            split_once(b"k\xff::v", b"::"),
            Some((&b"k\xff"[..], &b"v"[..]))
        );
        assert_eq!(split_once(b"kv", b":"), None);
    }
}
