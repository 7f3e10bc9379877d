//! `runnel topic|group|cluster|records|produce|consume`: the command line as a Kafka client.
//!
//! A small blocking client over one TCP connection; requests and responses are encoded with the
//! `kafka-protocol` crate at versions every Kafka ≥ 2.x and runnel accept (Metadata 4,
//! CreateTopics 2, DeleteTopics 1, Produce 3, Fetch 4, ListOffsets 1, JoinGroup 2, ...), so the
//! commands work against any Kafka-compatible broker that still speaks them. Each command
//! returns a [`Report`] that prints as an aligned table or as JSON (`--output json`). Every
//! failure is one line on stderr and a non-zero exit status.
//!
//! - `topics`: topic list/create/describe/alter-config/add-partitions/delete, cluster info.
//! - `groups`: group list/describe/reset-offsets and the consumer-group member `consume` uses.
//! - `records`: produce, consume, records delete.

mod groups;
mod records;
mod topics;

pub use groups::{Reset, group_describe, group_list, group_reset_offsets};
pub use records::{ConsumeOptions, Start, consume, produce, records_delete};
pub use topics::{
    cluster_info, topic_add_partitions, topic_alter_config, topic_create, topic_delete,
    topic_describe, topic_list,
};

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    ApiKey, BrokerId, ListOffsetsRequest, ListOffsetsResponse, MetadataRequest, MetadataResponse,
    RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

/// How long a connection or a response may take.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A failure the user sees as one line.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The broker could not be reached or the connection broke.
    #[error("broker {0}: {1}")]
    Connection(String, String),
    /// The broker answered with a Kafka error code.
    #[error("{0}: {words} (Kafka error {1})", words = error_name(*.1))]
    Kafka(String, i16),
    /// The broker's answer could not be decoded.
    #[error("malformed response: {0}")]
    Protocol(String),
    /// A bad argument.
    #[error("{0}")]
    Usage(String),
}

/// One connection to a broker.
pub struct Client {
    pub(crate) address: String,
    stream: TcpStream,
    correlation: i32,
}

impl Client {
    /// Connects to `address` (host:port).
    pub fn connect(address: &str) -> Result<Self, CliError> {
        Self::connect_with_read_timeout(address, IO_TIMEOUT)
    }

    /// Connects to `address` (host:port); an answer slower than `read_timeout` fails the call.
    pub fn connect_with_read_timeout(
        address: &str,
        read_timeout: Duration,
    ) -> Result<Self, CliError> {
        let stream = dial(address, read_timeout)?;
        Ok(Self {
            address: address.to_string(),
            stream,
            correlation: 0,
        })
    }

    pub(crate) fn call<Req: Encodable, Resp: Decodable>(
        &mut self,
        key: ApiKey,
        version: i16,
        request: &Req,
    ) -> Result<Resp, CliError> {
        self.correlation += 1;
        let mut body = BytesMut::new();
        let header = RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(StrBytes::from_static_str("runnel-cli")));
        header
            .encode(&mut body, key.request_header_version(version))
            .map_err(|e| CliError::Protocol(e.to_string()))?;
        request
            .encode(&mut body, version)
            .map_err(|e| CliError::Protocol(e.to_string()))?;
        let conn = |e: std::io::Error| CliError::Connection(self.address.clone(), e.to_string());
        let mut frame = (body.len() as i32).to_be_bytes().to_vec();
        frame.extend_from_slice(&body);
        self.stream.write_all(&frame).map_err(conn)?;
        let mut size = [0u8; 4];
        self.stream
            .read_exact(&mut size)
            .map_err(|e| CliError::Connection(self.address.clone(), e.to_string()))?;
        let len = usize::try_from(i32::from_be_bytes(size))
            .map_err(|_| CliError::Protocol("negative frame".into()))?;
        let mut buf = vec![0u8; len];
        self.stream
            .read_exact(&mut buf)
            .map_err(|e| CliError::Connection(self.address.clone(), e.to_string()))?;
        let mut bytes = Bytes::from(buf);
        ResponseHeader::decode(&mut bytes, key.response_header_version(version))
            .map_err(|e| CliError::Protocol(e.to_string()))?;
        Resp::decode(&mut bytes, version).map_err(|e| CliError::Protocol(e.to_string()))
    }

    /// Metadata for `topics` (all when `None`); never creates a topic.
    pub fn metadata(&mut self, topics: Option<&[String]>) -> Result<MetadataResponse, CliError> {
        let request = MetadataRequest::default()
            .with_allow_auto_topic_creation(false)
            .with_topics(topics.map(|t| {
                t.iter()
                    .map(|name| {
                        MetadataRequestTopic::default()
                            .with_name(Some(TopicName(StrBytes::from_string(name.clone()))))
                    })
                    .collect()
            }));
        self.call(ApiKey::Metadata, 4, &request)
    }
}

/// A TCP connection to `address` (host:port) whose reads time out after `read_timeout`.
fn dial(address: &str, read_timeout: Duration) -> Result<TcpStream, CliError> {
    let failed =
        |e: &dyn std::fmt::Display| CliError::Connection(address.to_string(), e.to_string());
    let addr = address
        .to_socket_addrs()
        .map_err(|e| failed(&e))?
        .next()
        .ok_or_else(|| failed(&"no address"))?;
    let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).map_err(|e| failed(&e))?;
    stream
        .set_read_timeout(Some(read_timeout))
        .map_err(|e| failed(&e))?;
    Ok(stream)
}

/// One request to a broker's admin HTTP port (`runnel plugin ...`); the body of a 2xx answer,
/// or the answer's text as the error.
pub fn admin_request(
    address: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<String, CliError> {
    let failed =
        |e: &dyn std::fmt::Display| CliError::Connection(address.to_string(), e.to_string());
    // Deploying compiles the module on the broker: allow it a minute.
    let mut stream = dial(address, Duration::from_secs(60))?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).map_err(|e| failed(&e))?;
    stream.write_all(body).map_err(|e| failed(&e))?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).map_err(|e| failed(&e))?;
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let ok = head
        .split_whitespace()
        .nth(1)
        .is_some_and(|code| code.starts_with('2'));
    if ok {
        Ok(body.to_string())
    } else {
        Err(CliError::Usage(format!("{path}: {}", body.trim())))
    }
}

/// Words for the error codes people meet most.
fn error_name(code: i16) -> &'static str {
    match code {
        1 => "offset out of range",
        3 => "unknown topic or partition",
        10 => "message too large",
        17 => "invalid topic name",
        19 => "not enough replicas",
        29 => "not allowed on this topic",
        36 => "topic already exists",
        37 => "invalid number of partitions",
        38 => "invalid replication factor",
        40 => "invalid config",
        _ => "refused",
    }
}

pub(crate) fn check(what: &str, code: i16) -> Result<(), CliError> {
    if code == 0 {
        Ok(())
    } else {
        Err(CliError::Kafka(what.to_string(), code))
    }
}

pub(crate) fn partition_count(client: &mut Client, topic: &str) -> Result<u32, CliError> {
    let metadata = client.metadata(Some(&[topic.to_string()]))?;
    let t = metadata
        .topics
        .first()
        .ok_or_else(|| CliError::Protocol("no topic in answer".into()))?;
    check(&format!("topic {topic}"), t.error_code)?;
    Ok(t.partitions.len() as u32)
}

/// Earliest (-2) or latest (-1) offsets of a topic's partitions, or the first at a timestamp.
pub(crate) fn list_offsets(
    client: &mut Client,
    topic: &str,
    partitions: u32,
    timestamp: i64,
) -> Result<Vec<i64>, CliError> {
    let request = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![
            ListOffsetsTopic::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partitions(
                    (0..partitions as i32)
                        .map(|p| {
                            ListOffsetsPartition::default()
                                .with_partition_index(p)
                                .with_timestamp(timestamp)
                        })
                        .collect(),
                ),
        ]);
    let response: ListOffsetsResponse = client.call(ApiKey::ListOffsets, 1, &request)?;
    let mut result = vec![0; partitions as usize];
    for t in &response.topics {
        for p in &t.partitions {
            check(
                &format!("list offsets {topic}-{}", p.partition_index),
                p.error_code,
            )?;
            if let Some(slot) = result.get_mut(p.partition_index as usize) {
                *slot = p.offset;
            }
        }
    }
    Ok(result)
}

/// How a [`Report`] is printed (`--output`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Output {
    /// Aligned columns for people; the header bold on a terminal.
    #[default]
    Table,
    /// One JSON document for scripts.
    Json,
}

/// One value in a report: text, a number, a list of numbers (replicas) or nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    /// A string.
    Text(String),
    /// An integer (an offset, a count, an id).
    Int(i64),
    /// Integers, shown comma-separated (broker ids).
    Ints(Vec<i64>),
    /// Yes or no.
    Bool(bool),
    /// No value ("-" in a table, `null` in JSON).
    None,
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_string())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}

impl From<i64> for Cell {
    fn from(n: i64) -> Self {
        Cell::Int(n)
    }
}

impl From<i32> for Cell {
    fn from(n: i32) -> Self {
        Cell::Int(n.into())
    }
}

impl From<Option<i64>> for Cell {
    fn from(n: Option<i64>) -> Self {
        n.map_or(Cell::None, Cell::Int)
    }
}

impl Cell {
    fn text(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Ints(v) => v.iter().map(i64::to_string).collect::<Vec<_>>().join(","),
            Cell::Bool(b) => if *b { "yes" } else { "no" }.to_string(),
            Cell::None => "-".to_string(),
        }
    }

    fn json(&self) -> String {
        match self {
            Cell::Text(s) => json_string(s),
            Cell::Int(n) => n.to_string(),
            Cell::Ints(v) => format!(
                "[{}]",
                v.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
            ),
            Cell::Bool(b) => b.to_string(),
            Cell::None => "null".to_string(),
        }
    }
}

/// What a command prints: a title line and named fields, a table of rows, and a closing line.
/// As a table, the title, the rows and the closing line; as JSON, the fields and the rows (an
/// object with the rows under `rows_key`, or just the array of rows when there are no fields).
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The first line of the table form.
    pub title: Option<String>,
    /// Named values for JSON (the table form shows them in `title` or `footer`).
    pub fields: Vec<(&'static str, Cell)>,
    /// Column names, upper case in tables and lower snake case in JSON.
    pub columns: Vec<&'static str>,
    /// The table's rows, one cell per column.
    pub rows: Vec<Vec<Cell>>,
    /// The JSON key of the rows when there are fields.
    pub rows_key: &'static str,
    /// The last line of the table form.
    pub footer: Option<String>,
}

impl Report {
    /// A report of one line of text and these fields.
    pub fn message(text: String, fields: Vec<(&'static str, Cell)>) -> Self {
        Self {
            title: Some(text),
            fields,
            ..Self::default()
        }
    }

    /// The report printed as `output`.
    pub fn render(&self, output: Output) -> String {
        match output {
            Output::Table => self.to_table(std::io::IsTerminal::is_terminal(&std::io::stdout())),
            Output::Json => self.to_json(),
        }
    }

    /// The table form; the header row in bold when `bold`.
    pub fn to_table(&self, bold: bool) -> String {
        let mut out = String::new();
        if let Some(title) = &self.title {
            out.push_str(title);
            out.push('\n');
        }
        if !self.columns.is_empty() {
            let mut rows = vec![self.columns.iter().map(|c| c.to_string()).collect()];
            rows.extend(
                self.rows
                    .iter()
                    .map(|r| r.iter().map(Cell::text).collect::<Vec<_>>()),
            );
            let text = plain_table(&rows);
            match text.split_once('\n') {
                Some((header, rest)) if bold => {
                    out.push_str(&format!("\x1b[1m{header}\x1b[0m\n{rest}"));
                }
                _ => out.push_str(&text),
            }
        }
        if let Some(footer) = &self.footer {
            out.push_str(footer);
            out.push('\n');
        }
        out
    }

    /// The JSON form, one line.
    pub fn to_json(&self) -> String {
        let keys: Vec<String> = self
            .columns
            .iter()
            .map(|c| c.to_lowercase().replace(' ', "_"))
            .collect();
        let rows: Vec<String> = self
            .rows
            .iter()
            .map(|r| {
                let pairs: Vec<String> = keys
                    .iter()
                    .zip(r)
                    .map(|(k, v)| format!("{}:{}", json_string(k), v.json()))
                    .collect();
                format!("{{{}}}", pairs.join(","))
            })
            .collect();
        let array = format!("[{}]", rows.join(","));
        if self.fields.is_empty() {
            return format!("{array}\n");
        }
        let mut pairs: Vec<String> = self
            .fields
            .iter()
            .map(|(k, v)| format!("{}:{}", json_string(k), v.json()))
            .collect();
        if !self.columns.is_empty() {
            pairs.push(format!("{}:{array}", json_string(self.rows_key)));
        }
        format!("{{{}}}\n", pairs.join(","))
    }
}

/// A point in time as milliseconds since the epoch: an integer (already milliseconds) or an
/// ISO 8601 date or date-time, `2026-11-23`, `2026-11-23T10:15:30`, with optional fractional
/// seconds and a `Z` or `±HH:MM` offset (UTC when none is given).
pub fn parse_time(text: &str) -> Result<i64, CliError> {
    let bad = || {
        CliError::Usage(format!(
            "{text}: expected milliseconds since the epoch or a date-time like 2026-11-23T10:15:30Z"
        ))
    };
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    let (date, rest) = text.split_at(text.find(['T', ' ']).unwrap_or(text.len()));
    let mut parts = date.splitn(3, '-');
    let mut number = |max: i64| -> Result<i64, CliError> {
        let n: i64 = parts.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
        if (0..=max).contains(&n) {
            Ok(n)
        } else {
            Err(bad())
        }
    };
    let (year, month, day) = (number(9999)?, number(12)?, number(31)?);
    if month == 0 || day == 0 {
        return Err(bad());
    }
    let rest = rest.get(1..).unwrap_or("");
    let (clock, offset_ms) = match rest.find(['Z', '+', '-']) {
        Some(i) => {
            let zone = &rest[i..];
            let offset = if zone == "Z" {
                0
            } else {
                let sign = if zone.starts_with('-') { -1 } else { 1 };
                let (h, m) = zone[1..].split_once(':').ok_or_else(bad)?;
                let h: i64 = h.parse().map_err(|_| bad())?;
                let m: i64 = m.parse().map_err(|_| bad())?;
                sign * (h * 60 + m) * 60_000
            };
            (&rest[..i], offset)
        }
        None => (rest, 0),
    };
    let mut clock_ms = 0i64;
    if !clock.is_empty() {
        let (hms, fraction) = clock.split_once('.').unwrap_or((clock, ""));
        let fields: Vec<&str> = hms.split(':').collect();
        let limits = [23, 59, 60];
        if fields.len() < 2 || fields.len() > 3 {
            return Err(bad());
        }
        for (i, f) in fields.iter().enumerate() {
            let n: i64 = f.parse().map_err(|_| bad())?;
            if !(0..=limits[i]).contains(&n) {
                return Err(bad());
            }
            clock_ms += n * [3_600_000, 60_000, 1_000][i];
        }
        if !fraction.is_empty() {
            let digits: String = fraction.chars().chain("000".chars()).take(3).collect();
            clock_ms += digits.parse::<i64>().map_err(|_| bad())?;
        }
    }
    Ok(days_from_civil(year, month, day) * 86_400_000 + clock_ms - offset_ms)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Rows as a left-aligned table, columns two spaces apart.
fn plain_table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, s)| {
                if c + 1 == row.len() {
                    s.clone()
                } else {
                    format!("{s:w$}", w = widths[c])
                }
            })
            .collect();
        out.push_str(&cells.join("  "));
        out.push('\n');
    }
    out
}

pub(crate) fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_and_json() {
        let t = plain_table(&[
            vec!["A".into(), "LONG".into()],
            vec!["wider".into(), "x".into()],
        ]);
        assert_eq!(t, "A      LONG\nwider  x\n");
        assert_eq!(json_string("a\"b"), "\"a\\\"b\"");
        let report = Report {
            title: Some("group g".into()),
            fields: vec![("group", "g".into()), ("members", 2.into())],
            columns: vec!["TOPIC", "LOG START", "ISR"],
            rows: vec![vec!["t".into(), Cell::None, Cell::Ints(vec![1, 2])]],
            rows_key: "partitions",
            footer: Some("done".into()),
        };
        assert_eq!(
            report.to_table(false),
            "group g\nTOPIC  LOG START  ISR\nt      -          1,2\ndone\n"
        );
        assert_eq!(
            report.to_json(),
            "{\"group\":\"g\",\"members\":2,\"partitions\":[{\"topic\":\"t\",\"log_start\":null,\"isr\":[1,2]}]}\n"
        );
    }

    #[test]
    fn parses_times() {
        assert_eq!(parse_time("1700000000000").unwrap(), 1_700_000_000_000);
        assert_eq!(parse_time("1970-01-01").unwrap(), 0);
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z").unwrap(),
            1_700_000_000_000
        );
        assert_eq!(
            parse_time("2023-11-14T22:13:20.5").unwrap(),
            1_700_000_000_500
        );
        assert_eq!(
            parse_time("2023-11-15T00:13:20+02:00").unwrap(),
            1_700_000_000_000
        );
        assert_eq!(parse_time("2000-03-01T00:00").unwrap(), 951_868_800_000);
        for bad in [
            "yesterday",
            "2023-13-01",
            "2023-11-14T25:00",
            "2023-11-14T10:00+0200",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }
}
