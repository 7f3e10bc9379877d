//! `runnel topic|group|cluster|records|produce|consume`: the command line as a Kafka client.
//!
//! A small blocking client ([`client`]): a bootstrap list, one connection per broker, each
//! partition's requests sent to its leader and a group's to its coordinator. Requests and
//! responses are encoded with the `kafka-protocol` crate at versions every Kafka ≥ 2.x and
//! runnel accept (Metadata 4, CreateTopics 2, DeleteTopics 1, Produce 3, Fetch 4, ListOffsets 1,
//! JoinGroup 2, ...), so the commands work against any Kafka-compatible broker that still
//! speaks them. Each command returns a [`Report`] that prints as an aligned table or as JSON
//! (`--output json`). Every failure is one line on stderr (with the broker's own message and
//! the error code's Kafka name) and a non-zero exit status.
//!
//! - `client`: connections, bootstrap lists, leaders and coordinators, error text.
//! - `topics`: topic list/create/describe/alter-config/add-partitions/delete, cluster info.
//! - `groups`: group list/describe/delete/reset-offsets and the consumer-group member
//!   `consume` uses.
//! - `records`: produce, consume, records delete.
//! - `security`: TLS and SASL/PLAIN for the command's connections (`-X`, kcat's way).
//! - `users`, `acls`: SCRAM users and ACLs (KIP-554; CreateAcls, DescribeAcls, DeleteAcls).
//! - `signals`: Ctrl-C and SIGTERM as a request to finish cleanly.

mod acls;
mod groups;
mod records;
pub mod signals;
mod topics;
mod txns;
mod users;

pub use crate::client::security::configure as configure_security;
pub use crate::client::{
    Brokers, Client, ClientError, DEFAULT_PORT, admin_request, bootstrap_addresses, error_name,
};
pub use acls::{acl_create, acl_delete, acl_list, acl_operation};
pub use groups::{Reset, group_delete, group_describe, group_list, group_reset_offsets};
pub use records::{
    ConsumeOptions, Consumed, Encoding, Format, ProduceOptions, Start, consume, produce,
    records_delete,
};
pub use topics::{
    cluster_info, plugin_deployed, plugin_list, topic_add_partitions, topic_alter_config,
    topic_create, topic_delete, topic_describe, topic_list,
};
pub use txns::{txn_describe, txn_list};
pub use users::{DEFAULT_ITERATIONS, scram_mechanism, user_create, user_delete, user_list};

use std::collections::BTreeMap;

use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{
    ApiKey, BrokerId, ListOffsetsRequest, ListOffsetsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

pub(crate) use crate::client::{at_coordinator, check, check_with};

/// Kafka's NOT_LEADER_OR_FOLLOWER: the metadata was stale; refresh and ask the new leader.
const NOT_LEADER_OR_FOLLOWER: i16 = 6;

/// ListOffsets (v1, as a consumer: replica -1) of `partitions` of `topic` at `timestamp` (-2
/// earliest, -1 latest, or a time in ms).
fn list_offsets_request(topic: &str, partitions: &[i32], timestamp: i64) -> ListOffsetsRequest {
    ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![
            ListOffsetsTopic::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partitions(
                    partitions
                        .iter()
                        .map(|p| {
                            ListOffsetsPartition::default()
                                .with_partition_index(*p)
                                .with_timestamp(timestamp)
                        })
                        .collect(),
                ),
        ])
}

/// Per partition of `topic` (0..`partitions`), the earliest (-2) or latest (-1) offset, or the
/// first offset at or after a timestamp (-1 when none), each asked of the partition's leader.
///
/// # Errors
/// [`ClientError::Kafka`] for a partition its leader refuses (after one metadata refresh).
pub(crate) fn list_offsets(
    brokers: &mut Brokers,
    topic: &str,
    partitions: u32,
    timestamp: i64,
) -> Result<Vec<i64>, ClientError> {
    let mut result = vec![0; partitions as usize];
    let mut retried = false;
    'again: loop {
        for (leader, wanted) in brokers.by_leader(topic, 0..partitions as i32)? {
            let request = list_offsets_request(topic, &wanted, timestamp);
            let response: ListOffsetsResponse =
                brokers
                    .broker(leader)?
                    .call(ApiKey::ListOffsets, 1, &request)?;
            for t in &response.topics {
                for p in &t.partitions {
                    if p.error_code == NOT_LEADER_OR_FOLLOWER && !retried {
                        retried = true;
                        brokers.metadata(Some(&[topic.to_string()]))?;
                        continue 'again;
                    }
                    check(
                        &format!("list offsets of {topic}-{}", p.partition_index),
                        p.error_code,
                    )?;
                    if let Some(slot) = result.get_mut(p.partition_index as usize) {
                        *slot = p.offset;
                    }
                }
            }
        }
        return Ok(result);
    }
}

/// For `topic`'s partitions that have a leader which answers, the last stable offset by
/// partition (ListOffsets v2 latest under `read_committed`, KIP-98: the high watermark unless a
/// transaction is open); a partition whose leader is unknown, unreachable or refuses is left
/// out.
pub(crate) fn last_stable_offsets_where_led(
    brokers: &mut Brokers,
    topic: &str,
    partitions: u32,
) -> BTreeMap<i32, i64> {
    let mut leaders: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    for p in 0..partitions as i32 {
        let leader = brokers.leader(topic, p);
        if leader >= 0 {
            leaders.entry(leader).or_default().push(p);
        }
    }
    let mut out = BTreeMap::new();
    for (leader, wanted) in leaders {
        let request = list_offsets_request(topic, &wanted, -1).with_isolation_level(1);
        let Some(response) = brokers.broker(leader).ok().and_then(|b| {
            b.call::<_, ListOffsetsResponse>(ApiKey::ListOffsets, 2, &request)
                .ok()
        }) else {
            continue;
        };
        for p in response.topics.iter().flat_map(|t| &t.partitions) {
            if p.error_code == 0 {
                out.insert(p.partition_index, p.offset);
            }
        }
    }
    out
}

/// For `topic`'s partitions that have a leader which answers, (log start, high watermark) by
/// partition; a partition without a leader, or whose leader cannot be reached or refuses, is
/// left out (`topic describe` must work exactly when a partition is offline).
pub(crate) fn log_bounds_where_led(
    brokers: &mut Brokers,
    topic: &str,
    partitions: u32,
) -> BTreeMap<i32, (i64, i64)> {
    let mut leaders: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    for p in 0..partitions as i32 {
        let leader = brokers.leader(topic, p);
        if leader >= 0 {
            leaders.entry(leader).or_default().push(p);
        }
    }
    let mut out = BTreeMap::new();
    for (leader, wanted) in leaders {
        let mut asked = |timestamp: i64| -> Option<Vec<(i32, i64)>> {
            let request = list_offsets_request(topic, &wanted, timestamp);
            let response: ListOffsetsResponse = brokers
                .broker(leader)
                .ok()?
                .call(ApiKey::ListOffsets, 1, &request)
                .ok()?;
            Some(
                response
                    .topics
                    .iter()
                    .flat_map(|t| &t.partitions)
                    .filter(|p| p.error_code == 0)
                    .map(|p| (p.partition_index, p.offset))
                    .collect(),
            )
        };
        let (Some(starts), Some(ends)) = (asked(-2), asked(-1)) else {
            continue;
        };
        let ends: BTreeMap<i32, i64> = ends.into_iter().collect();
        for (p, start) in starts {
            if let Some(end) = ends.get(&p) {
                out.insert(p, (start, *end));
            }
        }
    }
    out
}

/// Log start offset and high watermark of each partition of `topic`: (start, end) by index.
pub(crate) fn log_bounds(
    brokers: &mut Brokers,
    topic: &str,
    partitions: u32,
) -> Result<Vec<(i64, i64)>, ClientError> {
    let starts = list_offsets(brokers, topic, partitions, -2)?;
    let ends = list_offsets(brokers, topic, partitions, -1)?;
    Ok(starts.into_iter().zip(ends).collect())
}

/// "1 record", "2 records": a count and its noun, singular or plural.
pub fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// Map helper: (topic, partition) keys sorted.
pub(crate) type ByPartition<T> = BTreeMap<(String, i32), T>;

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
    /// More tables after this one (a group's members after its partitions): in the table form
    /// printed below, a blank line apart; in JSON, each one's rows under its `rows_key`.
    pub sections: Vec<Report>,
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
            // Bold only on a terminal, never with NO_COLOR set (https://no-color.org).
            Output::Table => self.to_table(
                std::io::IsTerminal::is_terminal(&std::io::stdout())
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            ),
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
        for section in &self.sections {
            out.push('\n');
            out.push_str(&section.to_table(bold));
        }
        out
    }

    /// The rows as a JSON array of objects keyed by column.
    fn rows_json(&self) -> String {
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
        format!("[{}]", rows.join(","))
    }

    /// The JSON form, one line.
    pub fn to_json(&self) -> String {
        let array = self.rows_json();
        if self.fields.is_empty() && self.sections.is_empty() {
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
        for section in &self.sections {
            pairs.push(format!(
                "{}:{}",
                json_string(section.rows_key),
                section.rows_json()
            ));
        }
        format!("{{{}}}\n", pairs.join(","))
    }
}

/// A point in time as milliseconds since the epoch: an integer (already milliseconds) or an
/// ISO 8601 date or date-time, `2026-11-23`, `2026-11-23T10:15:30`, with optional fractional
/// seconds and a `Z` or `±HH:MM` offset (UTC when none is given). A leading `@` is allowed
/// (`@1700000000000`), as `consume --from` writes times.
pub fn parse_time(text: &str) -> Result<i64, ClientError> {
    let text = text.strip_prefix('@').unwrap_or(text);
    let bad = || {
        ClientError::Usage(format!(
            "{text}: expected milliseconds since the epoch or a date-time like 2026-11-23T10:15:30Z"
        ))
    };
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    let (date, rest) = text.split_at(text.find(['T', ' ']).unwrap_or(text.len()));
    let mut parts = date.splitn(3, '-');
    let mut number = |max: i64| -> Result<i64, ClientError> {
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

/// A time (milliseconds since the epoch) as ISO 8601 in UTC: `2026-11-29T17:05:00.123Z`.
pub fn format_time(ms: i64) -> String {
    let (days, day_ms) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        day_ms / 3_600_000,
        day_ms / 60_000 % 60,
        day_ms / 1000 % 60,
        day_ms % 1000
    )
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
            sections: Vec::new(),
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
        assert_eq!(parse_time("@1700000000000").unwrap(), 1_700_000_000_000);
        for ms in [0, 951_868_800_000, 1_700_000_000_123, -1] {
            assert_eq!(parse_time(&format_time(ms)).unwrap(), ms, "{ms}");
        }
        assert_eq!(format_time(1_700_000_000_000), "2023-11-14T22:13:20.000Z");
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
