//! Record commands: `produce` (lines to batches, keys partitioned like the Java client),
//! `consume` (by partition or as a consumer-group member, printed with a kcat-like format) and
//! `records delete`.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, BrokerId, FetchRequest, FetchResponse, ProduceRequest, ProduceResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use runnel_core::batch::{BatchBuilder, NoCodec, Record, batches};
use runnel_core::partitioner::{Partitioner, PartitionerKind};

use super::groups::Member;
use super::{Cell, CliError, Client, Report, check, list_offsets, partition_count};
use crate::codec::NodeCodec;

/// Records per produce request.
const PRODUCE_BATCH_RECORDS: usize = 500;
/// How often a group member heartbeats while it reads.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(2);

/// `runnel produce TOPIC`: one record per input line; with `key_separator`, the text before
/// the first separator is the key. Keys go where the Java client puts them (murmur2).
pub fn produce(
    client: &mut Client,
    topic: &str,
    input: impl BufRead,
    key_separator: Option<&str>,
) -> Result<Report, CliError> {
    let partitions = partition_count(client, topic)?;
    let mut partitioner = Partitioner::new(PartitionerKind::Murmur2, std::process::id().into());
    let mut pending: Pending = BTreeMap::new();
    let mut count = 0usize;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    for line in input.lines() {
        let line = line.map_err(|e| CliError::Usage(format!("reading input: {e}")))?;
        let (key, value) = match key_separator.and_then(|s| line.split_once(s)) {
            Some((k, v)) => (Some(k.as_bytes().to_vec()), v.as_bytes().to_vec()),
            None => (None, line.into_bytes()),
        };
        let p = partitioner.partition(key.as_deref(), partitions);
        pending.entry(p).or_default().push((key, value));
        count += 1;
        if pending.values().map(Vec::len).sum::<usize>() >= PRODUCE_BATCH_RECORDS {
            send_batches(client, topic, &mut pending, now)?;
            partitioner.on_new_batch(partitions);
            progress(count);
        }
    }
    send_batches(client, topic, &mut pending, now)?;
    progress_done();
    Ok(Report::message(
        format!("produced {count} records to {topic}"),
        vec![
            ("topic", topic.into()),
            ("produced", Cell::Int(count as i64)),
        ],
    ))
}

fn send_batches(
    client: &mut Client,
    topic: &str,
    pending: &mut Pending,
    now: i64,
) -> Result<(), CliError> {
    if pending.is_empty() {
        return Ok(());
    }
    let mut data = Vec::new();
    for (p, records) in std::mem::take(pending) {
        let mut builder = BatchBuilder::new(0);
        for (key, value) in &records {
            builder.push(now, key.as_deref(), Some(value), Vec::new());
        }
        let batch = builder
            .build(&NoCodec)
            .map_err(|e| CliError::Protocol(e.to_string()))?;
        data.push(
            PartitionProduceData::default()
                .with_index(p as i32)
                .with_records(Some(Bytes::from(batch))),
        );
    }
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partition_data(data),
        ]);
    let response: ProduceResponse = client.call(ApiKey::Produce, 3, &request)?;
    for t in &response.responses {
        for p in &t.partition_responses {
            check(&format!("produce to {topic}-{}", p.index), p.error_code)?;
        }
    }
    Ok(())
}

/// Records waiting to be sent, per partition: (key, value).
type Pending = BTreeMap<u32, Vec<(Option<Vec<u8>>, Vec<u8>)>>;

/// `runnel records delete TOPIC --before OFFSET`: DeleteRecords on every partition (an offset
/// of -1 means each partition's high watermark). Prints each new log start offset.
pub fn records_delete(client: &mut Client, topic: &str, before: i64) -> Result<Report, CliError> {
    use kafka_protocol::messages::delete_records_request::{
        DeleteRecordsPartition, DeleteRecordsTopic,
    };
    use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};
    let partitions = partition_count(client, topic)?;
    let request = DeleteRecordsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![
            DeleteRecordsTopic::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partitions(
                    (0..partitions as i32)
                        .map(|p| {
                            DeleteRecordsPartition::default()
                                .with_partition_index(p)
                                .with_offset(before)
                        })
                        .collect(),
                ),
        ]);
    let response: DeleteRecordsResponse = client.call(ApiKey::DeleteRecords, 0, &request)?;
    let mut rows = Vec::new();
    for t in &response.topics {
        let mut parts: Vec<_> = t.partitions.iter().collect();
        parts.sort_by_key(|p| p.partition_index);
        for p in parts {
            check(
                &format!("delete records of {topic}-{}", p.partition_index),
                p.error_code,
            )?;
            rows.push(vec![
                topic.into(),
                p.partition_index.into(),
                p.low_watermark.into(),
            ]);
        }
    }
    Ok(Report {
        columns: vec!["TOPIC", "PARTITION", "LOG START"],
        rows,
        ..Report::default()
    })
}

/// Where `consume` starts (for a group member: where a partition without a commit starts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// The log start offset of each partition.
    Earliest,
    /// The log end offset (only records written from now on; so, at once, none).
    Latest,
    /// This offset in every partition.
    Offset(i64),
    /// This many records before each partition's end (kcat's `-o -N`).
    FromEnd(i64),
    /// The first record at or after this time (milliseconds since the epoch) in each partition.
    Timestamp(i64),
}

impl Start {
    /// Parses `--from`: `earliest`, `latest`, an offset, `-N` (N before the end), `@MILLIS`, or
    /// a date-time.
    pub fn parse(text: &str) -> Result<Self, CliError> {
        Ok(match text {
            "earliest" | "beginning" => Start::Earliest,
            "latest" | "end" => Start::Latest,
            _ => {
                if let Some(ms) = text.strip_prefix('@') {
                    Start::Timestamp(super::parse_time(ms)?)
                } else if let Ok(n) = text.parse::<i64>() {
                    if n < 0 {
                        Start::FromEnd(-n)
                    } else {
                        Start::Offset(n)
                    }
                } else {
                    Start::Timestamp(super::parse_time(text).map_err(|_| {
                        CliError::Usage(format!(
                            "--from {text}: expected earliest, latest, an offset, -N, @MILLIS or a date-time"
                        ))
                    })?)
                }
            }
        })
    }

    /// Where to start in `partitions`, given each one's log start and end.
    fn positions(
        self,
        client: &mut Client,
        topic: &str,
        count: u32,
        ends: &[i64],
    ) -> Result<Vec<i64>, CliError> {
        let earliest = list_offsets(client, topic, count, -2)?;
        Ok(match self {
            Start::Earliest => earliest,
            Start::Latest => ends.to_vec(),
            Start::Offset(o) => vec![o; count as usize],
            Start::FromEnd(n) => ends
                .iter()
                .zip(&earliest)
                .map(|(e, s)| (e - n).max(*s))
                .collect(),
            Start::Timestamp(ms) => list_offsets(client, topic, count, ms)?
                .iter()
                .zip(ends)
                .map(|(o, e)| if *o < 0 { *e } else { *o })
                .collect(),
        })
    }
}

/// What `consume` reads and how it prints.
#[derive(Clone, Debug)]
pub struct ConsumeOptions<'a> {
    /// Where to start (partitions a group has committed start at the commit instead).
    pub start: Start,
    /// Join this consumer group: read only the partitions it assigns, resume at its commits,
    /// commit what was printed, and leave at the end.
    pub group: Option<&'a str>,
    /// Stop after this many records.
    pub limit: Option<usize>,
    /// The line format (`%t` topic, `%p` partition, `%o` offset, `%k` key, `%s` value, `%T`
    /// timestamp, `%h` headers, `\t`, `\n`).
    pub format: &'a str,
}

/// `runnel consume TOPIC`: reads from `options.start` (or a group's commits) until caught up
/// with the end of every partition, or at most `limit` records, printing each with the format.
/// Returns how many records were printed.
pub fn consume(
    client: Client,
    topic: &str,
    options: &ConsumeOptions<'_>,
    out: &mut impl Write,
) -> Result<usize, CliError> {
    let Some(group) = options.group else {
        let mut client = client;
        let count = partition_count(&mut client, topic)?;
        let ends = list_offsets(&mut client, topic, count, -1)?;
        let starts = options.start.positions(&mut client, topic, count, &ends)?;
        let mut cursors: BTreeMap<i32, Cursor> = (0..count as usize)
            .map(|p| (p as i32, Cursor::new(starts[p], ends[p])))
            .collect();
        let (printed, _) = read(&mut client, topic, &mut cursors, options, out, &mut |_| {
            Ok(false)
        })?;
        return Ok(printed);
    };
    let (mut client, mut member) = Member::join(client, group, topic)?;
    let mut printed = 0;
    loop {
        let count = partition_count(&mut client, topic)?;
        let ends = list_offsets(&mut client, topic, count, -1)?;
        let starts = options.start.positions(&mut client, topic, count, &ends)?;
        let committed = member.committed(&mut client, topic, count)?;
        let mut cursors: BTreeMap<i32, Cursor> = member
            .assigned(topic)
            .filter(|p| (*p as u32) < count)
            .map(|p| {
                let from = committed.get(&p).copied().unwrap_or(starts[p as usize]);
                (p, Cursor::new(from, ends[p as usize]))
            })
            .collect();
        let options = ConsumeOptions {
            limit: options.limit.map(|l| l - printed),
            ..options.clone()
        };
        let mut last = Instant::now();
        let mut beat = |c: &mut Client| -> Result<bool, CliError> {
            if last.elapsed() < HEARTBEAT_EVERY {
                return Ok(false);
            }
            last = Instant::now();
            member.heartbeat(c)
        };
        let (n, rebalancing) = read(&mut client, topic, &mut cursors, &options, out, &mut beat)?;
        printed += n;
        let done: BTreeMap<i32, i64> = cursors.iter().map(|(p, c)| (*p, c.next)).collect();
        member.commit(&mut client, topic, &done)?;
        if !rebalancing {
            break;
        }
        member.rejoin(&mut client)?;
    }
    member.leave(&mut client)?;
    Ok(printed)
}

/// Where `consume` is in one partition.
#[derive(Clone, Copy, Debug)]
struct Cursor {
    /// The next offset to print.
    next: i64,
    /// The partition's end when the read started.
    end: i64,
    /// Caught up: at or past the end, and a fetch there brought nothing new.
    drained: bool,
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

/// Fetches the partitions in `cursors` until each is caught up (at or past the end it had when
/// the read started, and a fetch there brings nothing new; like kcat's `-e`) or `limit`
/// records are printed; calls `between` after each fetch, which returns true to stop early (a
/// rebalance). Returns the records printed and whether `between` stopped it.
fn read(
    client: &mut Client,
    topic: &str,
    cursors: &mut BTreeMap<i32, Cursor>,
    options: &ConsumeOptions<'_>,
    out: &mut impl Write,
    between: &mut dyn FnMut(&mut Client) -> Result<bool, CliError>,
) -> Result<(usize, bool), CliError> {
    let mut printed = 0;
    let limit = options.limit;
    while cursors.values().any(|c| !c.drained) && limit.is_none_or(|l| printed < l) {
        // Only confirming the end: do not wait for new records.
        let behind = cursors.values().any(|c| !c.drained && c.next < c.end);
        let fetch = FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(if behind { 100 } else { 0 })
            .with_min_bytes(1)
            .with_max_bytes(8 << 20)
            .with_topics(vec![
                FetchTopic::default()
                    .with_topic(TopicName(StrBytes::from_string(topic.to_string())))
                    .with_partitions(
                        cursors
                            .iter()
                            .filter(|(_, c)| !c.drained)
                            .map(|(p, c)| {
                                FetchPartition::default()
                                    .with_partition(*p)
                                    .with_fetch_offset(c.next)
                                    .with_partition_max_bytes(1 << 20)
                            })
                            .collect(),
                    ),
            ]);
        let response: FetchResponse = client.call(ApiKey::Fetch, 4, &fetch)?;
        for t in &response.responses {
            for p in &t.partitions {
                check(
                    &format!("fetch {topic}-{}", p.partition_index),
                    p.error_code,
                )?;
                let Some(cursor) = cursors.get_mut(&p.partition_index) else {
                    continue;
                };
                let before = cursor.next;
                let bytes = p.records.clone().unwrap_or_default();
                let mut scratch = Vec::new();
                for batch in batches(&bytes) {
                    let batch = batch.map_err(|e| CliError::Protocol(e.to_string()))?;
                    for record in batch
                        .records(&NodeCodec, &mut scratch)
                        .map_err(|e| CliError::Protocol(e.to_string()))?
                    {
                        let record = record.map_err(|e| CliError::Protocol(e.to_string()))?;
                        if record.offset < cursor.next || limit.is_some_and(|l| printed >= l) {
                            continue;
                        }
                        cursor.next = record.offset + 1;
                        let line = render(options.format, topic, p.partition_index, &record);
                        out.write_all(line.as_bytes())
                            .map_err(|e| CliError::Usage(format!("writing output: {e}")))?;
                        printed += 1;
                    }
                    // Past a batch whose last records were compacted away.
                    if limit.is_none_or(|l| printed < l) {
                        cursor.next = cursor.next.max(batch.header().next_offset());
                    }
                }
                if cursor.next == before
                    && (cursor.next >= cursor.end || cursor.next >= p.high_watermark)
                {
                    cursor.drained = true;
                }
            }
        }
        if between(client)? {
            return Ok((printed, true));
        }
    }
    Ok((printed, false))
}

fn render(format: &str, topic: &str, partition: i32, record: &Record<'_>) -> String {
    let text = |b: Option<&[u8]>| {
        b.map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default()
    };
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('%', Some('t')) => out.push_str(topic),
            ('%', Some('p')) => out.push_str(&partition.to_string()),
            ('%', Some('o')) => out.push_str(&record.offset.to_string()),
            ('%', Some('T')) => out.push_str(&record.timestamp.to_string()),
            ('%', Some('k')) => out.push_str(&text(record.key)),
            ('%', Some('s')) => out.push_str(&text(record.value)),
            ('%', Some('h')) => {
                let headers: Vec<String> = record
                    .headers
                    .iter()
                    .map(|h| format!("{}={}", text(Some(h.key)), text(h.value)))
                    .collect();
                out.push_str(&headers.join(","));
            }
            ('\\', Some('t')) => out.push('\t'),
            ('\\', Some('n')) => out.push('\n'),
            _ => {
                out.push(c);
                continue;
            }
        }
        chars.next();
    }
    out
}

/// On a terminal, a one-line progress counter on stderr (rewritten in place).
fn progress(records: usize) {
    use std::io::IsTerminal;
    let stderr = std::io::stderr();
    if stderr.is_terminal() {
        let mut e = stderr.lock();
        let _ = write!(e, "\r\x1b[2Kproduced {records} records…");
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

    #[test]
    fn formats_like_kcat() {
        let record = Record {
            offset: 7,
            timestamp: 5,
            key: Some(b"k"),
            value: Some(b"v"),
            headers: vec![runnel_core::batch::Header {
                key: b"h",
                value: Some(b"1"),
            }],
        };
        assert_eq!(
            render("%t/%p@%o %k=%s %h %T\\n", "t", 2, &record),
            "t/2@7 k=v h=1 5\n"
        );
    }

    #[test]
    fn parses_starts() {
        assert_eq!(Start::parse("earliest").unwrap(), Start::Earliest);
        assert_eq!(Start::parse("12").unwrap(), Start::Offset(12));
        assert_eq!(Start::parse("-3").unwrap(), Start::FromEnd(3));
        assert_eq!(Start::parse("@1000").unwrap(), Start::Timestamp(1000));
        assert_eq!(
            Start::parse("1970-01-01T00:00:01Z").unwrap(),
            Start::Timestamp(1000)
        );
        assert!(Start::parse("soon").is_err());
    }
}
