//! Kafka's topic configs: every name Apache Kafka 3.9 and 4.x define for a topic, its type,
//! default and validation, and what runnel does with it.
//!
//! The table follows Kafka's `LogConfig` config definition (`storage/.../log/LogConfig.java`),
//! with the names 3.9 still accepts and 4.0 removed (`message.format.version`,
//! `message.downconversion.enable`, `message.timestamp.difference.max.ms`). Every value a
//! client sets on a topic (CreateTopics, AlterConfigs, IncrementalAlterConfigs) is checked here
//! first, so a provisioning tool that sends Kafka's standard configs is answered as Kafka would
//! answer it; an unknown name is still INVALID_CONFIG.
//!
//! [`Support`] says what runnel does with each: most are enforced by the log, the replica or
//! the controller; a few are accepted and shown but have no effect here (each says why), and a
//! few values runnel cannot honour yet are refused rather than silently ignored.

use alloc::format;
use alloc::string::String;

use crate::batch::Compression;
use crate::error_code;
use crate::log::{CleanupPolicy, LogConfig};

/// A config value's type, as Kafka's `ConfigDef.Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `true` or `false`, any case.
    Boolean,
    /// A 32-bit integer.
    Int,
    /// A 64-bit integer.
    Long,
    /// A floating-point number.
    Double,
    /// Text.
    String,
    /// Comma-separated items.
    List,
}

impl Kind {
    /// Kafka's `ConfigType` code for DescribeConfigs v3+ (KIP-569): BOOLEAN 1, STRING 2, INT 3,
    /// LONG 5, DOUBLE 6, LIST 7.
    pub fn kafka_config_type(self) -> i8 {
        match self {
            Kind::Boolean => 1,
            Kind::String => 2,
            Kind::Int => 3,
            Kind::Long => 5,
            Kind::Double => 6,
            Kind::List => 7,
        }
    }
}

/// How a value is checked beyond its type (Kafka's validators).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Check {
    /// Any value of the type.
    Any,
    /// A number at least this (`ConfigDef.Range.atLeast`).
    AtLeast(i64),
    /// A number in this closed range.
    Between(f64, f64),
    /// One of these strings (`ConfigDef.ValidString.in`, case-sensitive as Kafka's).
    OneOf(&'static [&'static str]),
    /// A non-empty list of these items (`ConfigDef.ValidList.in`).
    ListOf(&'static [&'static str]),
    /// gzip's level: -1 (default) or 1 to 9.
    GzipLevel,
    /// Kafka's throttled-replica list: empty, `*`, or `partition:broker` pairs.
    ThrottledReplicas,
    /// A Kafka release or inter-broker protocol version (`MetadataVersionValidator`): `0.10.2`,
    /// `2.8`, `3.0-IV1`, up to 3.x.
    KafkaVersion,
}

/// What runnel does with a config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    /// Enforced as Kafka enforces it.
    Enforced,
    /// Accepted, stored and shown, with no effect here; the text says why.
    AcceptedWithoutEffect(&'static str),
    /// Only these values are accepted (others are refused with the text as the reason), and
    /// they are enforced.
    OnlyValues(&'static [&'static str], &'static str),
}

/// One topic config.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TopicConfigDef {
    /// Kafka's name.
    pub name: &'static str,
    /// Its type.
    pub kind: Kind,
    /// Kafka's default, as DescribeConfigs shows it.
    pub default: &'static str,
    /// How values are checked.
    pub check: Check,
    /// The broker-level setting that supplies the default (`log.retention.ms` for
    /// `retention.ms`), when Kafka has one.
    pub broker_synonym: Option<&'static str>,
    /// What runnel does with it.
    pub support: Support,
}

/// Kafka's `Long.MAX_VALUE`, the default of the "no limit" configs.
const LONG_MAX: &str = "9223372036854775807";

const fn def(
    name: &'static str,
    kind: Kind,
    default: &'static str,
    check: Check,
    broker_synonym: Option<&'static str>,
    support: Support,
) -> TopicConfigDef {
    TopicConfigDef {
        name,
        kind,
        default,
        check,
        broker_synonym,
        support,
    }
}

use Check::{AtLeast, Between, GzipLevel, ListOf, OneOf, ThrottledReplicas};
use Kind::{Boolean, Double, Int, List, Long};
use Support::{AcceptedWithoutEffect, Enforced, OnlyValues};

/// No tiered storage in runnel: every segment stays local.
const NO_TIERED_STORAGE: &str = "runnel has no tiered storage; every segment stays local";
/// No quotas or throttles in runnel.
const NO_THROTTLES: &str = "runnel has no replication throttles";

/// Every topic config of Kafka 3.9 and 4.x, sorted by name.
pub const TOPIC_CONFIGS: &[TopicConfigDef] = &[
    def(
        "cleanup.policy",
        List,
        "delete",
        ListOf(&["compact", "delete"]),
        Some("log.cleanup.policy"),
        Enforced,
    ),
    def(
        "compression.gzip.level",
        Int,
        "-1",
        GzipLevel,
        Some("compression.gzip.level"),
        AcceptedWithoutEffect("runnel's codecs compress at their libraries' default levels"),
    ),
    def(
        "compression.lz4.level",
        Int,
        "9",
        Check::Between(1.0, 17.0),
        Some("compression.lz4.level"),
        AcceptedWithoutEffect("runnel's codecs compress at their libraries' default levels"),
    ),
    def(
        "compression.type",
        Kind::String,
        "producer",
        OneOf(&["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"]),
        Some("compression.type"),
        Enforced,
    ),
    def(
        "compression.zstd.level",
        Int,
        "3",
        Check::Between(-131_072.0, 22.0),
        Some("compression.zstd.level"),
        AcceptedWithoutEffect("runnel's codecs compress at their libraries' default levels"),
    ),
    def(
        "delete.retention.ms",
        Long,
        "86400000",
        AtLeast(0),
        Some("log.cleaner.delete.retention.ms"),
        Enforced,
    ),
    def(
        "file.delete.delay.ms",
        Long,
        "60000",
        AtLeast(0),
        Some("log.segment.delete.delay.ms"),
        AcceptedWithoutEffect("runnel deletes a segment's files as soon as retention drops it"),
    ),
    def(
        "flush.messages",
        Long,
        LONG_MAX,
        AtLeast(1),
        Some("log.flush.interval.messages"),
        Enforced,
    ),
    def(
        "flush.ms",
        Long,
        LONG_MAX,
        AtLeast(0),
        Some("log.flush.interval.ms"),
        Enforced,
    ),
    def(
        "follower.replication.throttled.replicas",
        List,
        "",
        ThrottledReplicas,
        None,
        AcceptedWithoutEffect(NO_THROTTLES),
    ),
    def(
        "index.interval.bytes",
        Int,
        "4096",
        AtLeast(0),
        Some("log.index.interval.bytes"),
        Enforced,
    ),
    def(
        "leader.replication.throttled.replicas",
        List,
        "",
        ThrottledReplicas,
        None,
        AcceptedWithoutEffect(NO_THROTTLES),
    ),
    def(
        "local.retention.bytes",
        Long,
        "-2",
        AtLeast(-2),
        Some("log.local.retention.bytes"),
        AcceptedWithoutEffect(NO_TIERED_STORAGE),
    ),
    def(
        "local.retention.ms",
        Long,
        "-2",
        AtLeast(-2),
        Some("log.local.retention.ms"),
        AcceptedWithoutEffect(NO_TIERED_STORAGE),
    ),
    def(
        "max.compaction.lag.ms",
        Long,
        LONG_MAX,
        AtLeast(1),
        Some("log.cleaner.max.compaction.lag.ms"),
        AcceptedWithoutEffect("runnel's cleaner compacts by min.cleanable.dirty.ratio only"),
    ),
    def(
        "max.message.bytes",
        Int,
        "1048588",
        AtLeast(0),
        Some("message.max.bytes"),
        Enforced,
    ),
    def(
        "message.downconversion.enable",
        Boolean,
        "true",
        Check::Any,
        Some("log.message.downconversion.enable"),
        AcceptedWithoutEffect(
            "Kafka 3.x only (removed in 4.0); runnel serves record batch v2 only",
        ),
    ),
    def(
        "message.format.version",
        Kind::String,
        "3.0-IV1",
        Check::KafkaVersion,
        Some("log.message.format.version"),
        AcceptedWithoutEffect(
            "deprecated in Kafka 3.0, removed in 4.0; runnel writes record batch v2 only",
        ),
    ),
    def(
        "message.timestamp.after.max.ms",
        Long,
        LONG_MAX,
        AtLeast(0),
        Some("log.message.timestamp.after.max.ms"),
        Enforced,
    ),
    def(
        "message.timestamp.before.max.ms",
        Long,
        LONG_MAX,
        AtLeast(0),
        Some("log.message.timestamp.before.max.ms"),
        Enforced,
    ),
    def(
        "message.timestamp.difference.max.ms",
        Long,
        LONG_MAX,
        AtLeast(0),
        Some("log.message.timestamp.difference.max.ms"),
        Enforced,
    ),
    def(
        "message.timestamp.type",
        Kind::String,
        "CreateTime",
        OneOf(&["CreateTime", "LogAppendTime"]),
        Some("log.message.timestamp.type"),
        Enforced,
    ),
    def(
        "min.cleanable.dirty.ratio",
        Double,
        "0.5",
        Between(0.0, 1.0),
        Some("log.cleaner.min.cleanable.ratio"),
        Enforced,
    ),
    def(
        "min.compaction.lag.ms",
        Long,
        "0",
        AtLeast(0),
        Some("log.cleaner.min.compaction.lag.ms"),
        AcceptedWithoutEffect("runnel's cleaner compacts by min.cleanable.dirty.ratio only"),
    ),
    def(
        "min.insync.replicas",
        Int,
        "1",
        AtLeast(1),
        Some("min.insync.replicas"),
        Enforced,
    ),
    def(
        "preallocate",
        Boolean,
        "false",
        Check::Any,
        Some("log.preallocate"),
        AcceptedWithoutEffect("runnel grows segment files as it writes them"),
    ),
    def(
        "remote.log.copy.disable",
        Boolean,
        "false",
        Check::Any,
        None,
        AcceptedWithoutEffect(NO_TIERED_STORAGE),
    ),
    def(
        "remote.log.delete.on.disable",
        Boolean,
        "false",
        Check::Any,
        None,
        AcceptedWithoutEffect(NO_TIERED_STORAGE),
    ),
    def(
        "remote.storage.enable",
        Boolean,
        "false",
        Check::Any,
        None,
        OnlyValues(&["false"], "runnel has no tiered storage"),
    ),
    def(
        "retention.bytes",
        Long,
        "-1",
        Check::Any,
        Some("log.retention.bytes"),
        Enforced,
    ),
    def(
        "retention.ms",
        Long,
        "604800000",
        AtLeast(-1),
        Some("log.retention.ms"),
        Enforced,
    ),
    // Kafka 3.9: at least 14 bytes (LegacyRecord.RECORD_OVERHEAD_V0); 4.0 raised it to 1 MiB
    // with an internal override for tests. runnel keeps 3.9's floor.
    def(
        "segment.bytes",
        Int,
        "1073741824",
        AtLeast(14),
        Some("log.segment.bytes"),
        Enforced,
    ),
    def(
        "segment.index.bytes",
        Int,
        "10485760",
        AtLeast(4),
        Some("log.index.size.max.bytes"),
        AcceptedWithoutEffect("runnel's indexes grow as they need"),
    ),
    def(
        "segment.jitter.ms",
        Long,
        "0",
        AtLeast(0),
        Some("log.roll.jitter.ms"),
        AcceptedWithoutEffect("runnel rolls segments at segment.ms exactly"),
    ),
    def(
        "segment.ms",
        Long,
        "604800000",
        AtLeast(1),
        Some("log.roll.ms"),
        Enforced,
    ),
    def(
        "unclean.leader.election.enable",
        Boolean,
        "false",
        Check::Any,
        Some("unclean.leader.election.enable"),
        Enforced,
    ),
];

/// The definition of topic config `name`, if Kafka has one.
pub fn find(name: &str) -> Option<&'static TopicConfigDef> {
    TOPIC_CONFIGS.iter().find(|c| c.name == name)
}

/// Why a topic config value was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TopicConfigError {
    /// Kafka defines no topic config of this name.
    #[error("unknown topic config {0}")]
    Unknown(String),
    /// The value does not fit the config's type or range.
    #[error("invalid value {value:?} for {name}: {reason}")]
    Invalid {
        /// The config.
        name: String,
        /// The value given.
        value: String,
        /// What Kafka requires.
        reason: String,
    },
    /// A valid Kafka value that runnel does not implement (yet).
    #[error("{name}={value} is not supported: {reason}")]
    Unsupported {
        /// The config.
        name: String,
        /// The value given.
        value: String,
        /// Why.
        reason: &'static str,
    },
}

impl TopicConfigError {
    /// Kafka's code for every refusal: INVALID_CONFIG (40).
    pub fn kafka_error_code(&self) -> i16 {
        error_code::INVALID_CONFIG
    }
}

/// Checks topic config `name` ([`validate`]) and sets it on `config` when the log enforces it
/// (retention, segments, cleanup, sizes, flushes, timestamps, compression); configs the replica
/// or the controller enforce, and those accepted without effect, change nothing here.
///
/// `message.timestamp.difference.max.ms` (deprecated by KIP-937) bounds both directions where
/// `message.timestamp.before.max.ms` / `after.max.ms` are left at their default, as Kafka's
/// `LogConfig` reads it. runnel's floors are stricter than Kafka's for a few sizes and times
/// (`segment.bytes`, `segment.ms`, `max.message.bytes`, `index.interval.bytes` must be
/// positive).
///
/// # Errors
/// As [`validate`]; [`TopicConfigError::Invalid`] for a value below runnel's floor.
pub fn apply_to_log(
    config: &mut LogConfig,
    name: &str,
    value: &str,
) -> Result<(), TopicConfigError> {
    validate(name, value)?;
    let bad = |reason: &str| TopicConfigError::Invalid {
        name: name.into(),
        value: value.into(),
        reason: reason.into(),
    };
    let int = || value.trim().parse::<i64>().map_err(|_| bad("not a number"));
    let positive = || {
        int().and_then(|v| {
            u64::try_from(v)
                .ok()
                .filter(|v| *v > 0)
                .ok_or_else(|| bad("must be positive"))
        })
    };
    let optional = || int().map(|v| u64::try_from(v).ok());
    let unbounded = || optional().map(|v| v.filter(|v| *v < i64::MAX as u64));
    match name {
        "cleanup.policy" => {
            config.cleanup_policy =
                parse_cleanup_policy(value).ok_or_else(|| bad("not a cleanup policy"))?;
        }
        "retention.ms" => config.retention_ms = optional()?,
        "retention.bytes" => config.retention_bytes = optional()?,
        "segment.bytes" => config.segment_bytes = positive()?,
        "segment.ms" => config.segment_ms = positive()?,
        "delete.retention.ms" => config.delete_retention_ms = int()?.max(0) as u64,
        "min.cleanable.dirty.ratio" => {
            config.min_cleanable_dirty_ratio =
                value.trim().parse().map_err(|_| bad("not a number"))?;
        }
        "max.message.bytes" => config.max_message_bytes = positive()?,
        "index.interval.bytes" => config.index_interval_bytes = positive()?,
        "flush.messages" => config.flush_messages = unbounded()?,
        "flush.ms" => config.flush_ms = unbounded()?,
        "message.timestamp.type" => config.log_append_time = value.trim() == "LogAppendTime",
        "message.timestamp.before.max.ms" => config.message_timestamp_before_max_ms = int()?,
        "message.timestamp.after.max.ms" => config.message_timestamp_after_max_ms = int()?,
        "message.timestamp.difference.max.ms" => {
            let difference = int()?;
            if config.message_timestamp_before_max_ms == i64::MAX {
                config.message_timestamp_before_max_ms = difference;
            }
            if config.message_timestamp_after_max_ms == i64::MAX {
                config.message_timestamp_after_max_ms = difference;
            }
        }
        "compression.type" => {
            config.compression_type = match value.trim() {
                "producer" => None,
                "uncompressed" => Some(Compression::None),
                "gzip" => Some(Compression::Gzip),
                "snappy" => Some(Compression::Snappy),
                "lz4" => Some(Compression::Lz4),
                "zstd" => Some(Compression::Zstd),
                _ => return Err(bad("not a compression type")),
            };
        }
        _ => {}
    }
    Ok(())
}

/// A `cleanup.policy` value (`delete`, `compact`, or both comma-separated) as a policy;
/// `None` when it names anything else.
pub fn parse_cleanup_policy(value: &str) -> Option<CleanupPolicy> {
    let mut delete = false;
    let mut compact = false;
    for part in value.split(',').map(str::trim) {
        match part {
            "delete" => delete = true,
            "compact" => compact = true,
            _ => return None,
        }
    }
    (delete || compact).then_some(CleanupPolicy { delete, compact })
}

/// Checks `value` for topic config `name` as Kafka's `LogConfig.validate` would, then against
/// what runnel supports.
///
/// # Errors
/// [`TopicConfigError::Unknown`] for a name Kafka does not define,
/// [`TopicConfigError::Invalid`] for a value of the wrong type or out of range (Kafka's
/// INVALID_CONFIG), [`TopicConfigError::Unsupported`] for a valid value runnel cannot honour.
pub fn validate(name: &str, value: &str) -> Result<&'static TopicConfigDef, TopicConfigError> {
    let def = find(name).ok_or_else(|| TopicConfigError::Unknown(name.into()))?;
    let invalid = |reason: String| TopicConfigError::Invalid {
        name: name.into(),
        value: value.into(),
        reason,
    };
    let v = value.trim();
    let number: Option<f64> = match def.kind {
        Kind::Boolean => {
            if !v.eq_ignore_ascii_case("true") && !v.eq_ignore_ascii_case("false") {
                return Err(invalid("expected true or false".into()));
            }
            None
        }
        Kind::Int => Some(
            v.parse::<i32>()
                .map_err(|_| invalid("expected a 32-bit integer".into()))? as f64,
        ),
        Kind::Long => Some(
            v.parse::<i64>()
                .map_err(|_| invalid("expected a 64-bit integer".into()))? as f64,
        ),
        Kind::Double => Some(
            v.parse::<f64>()
                .ok()
                .filter(|d| d.is_finite())
                .ok_or_else(|| invalid("expected a number".into()))?,
        ),
        Kind::String | Kind::List => None,
    };
    match (def.check, number) {
        (Check::AtLeast(min), Some(n)) if n < min as f64 => {
            return Err(invalid(format!("must be at least {min}")));
        }
        (Check::Between(lo, hi), Some(n)) if !(lo..=hi).contains(&n) => {
            return Err(invalid(format!("must be between {lo} and {hi}")));
        }
        (Check::GzipLevel, Some(n)) if !(n == -1.0 || (1.0..=9.0).contains(&n)) => {
            return Err(invalid("must be -1 or between 1 and 9".into()));
        }
        (Check::OneOf(allowed), _) if !allowed.contains(&v) => {
            return Err(invalid(format!("must be one of {}", allowed.join(", "))));
        }
        (Check::ListOf(allowed), _) => {
            let items: alloc::vec::Vec<&str> = v.split(',').map(str::trim).collect();
            if items.iter().any(|i| !allowed.contains(i)) || v.is_empty() {
                return Err(invalid(format!("must be a list of {}", allowed.join(", "))));
            }
        }
        (Check::KafkaVersion, _) if !is_kafka_version(v) => {
            return Err(invalid(
                "expected a Kafka version such as 2.8 or 3.0-IV1".into(),
            ));
        }
        (Check::ThrottledReplicas, _) => {
            let ok = v.is_empty()
                || v == "*"
                || v.split(',').map(str::trim).all(|pair| {
                    pair.split_once(':')
                        .is_some_and(|(p, b)| p.parse::<u32>().is_ok() && b.parse::<u32>().is_ok())
                });
            if !ok {
                return Err(invalid(
                    "expected *, or partition:broker pairs separated by commas".into(),
                ));
            }
        }
        _ => {}
    }
    if let Support::OnlyValues(values, reason) = def.support
        && !values.iter().any(|allowed| allowed.eq_ignore_ascii_case(v))
    {
        return Err(TopicConfigError::Unsupported {
            name: name.into(),
            value: value.into(),
            reason,
        });
    }
    Ok(def)
}

/// Whether `v` names a Kafka version a 3.x broker accepts for `message.format.version`:
/// `MAJOR.MINOR[.PATCH][-IVn]`, major 0 to 3 (0.x needs its patch: `0.10.2`).
fn is_kafka_version(v: &str) -> bool {
    let (release, iv) = match v.split_once("-IV") {
        Some((release, iv)) => (release, Some(iv)),
        None => (v, None),
    };
    if iv.is_some_and(|n| n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    let parts: alloc::vec::Vec<&str> = release.split('.').collect();
    let numeric = parts
        .iter()
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    numeric
        && match parts.first().and_then(|m| m.parse::<u32>().ok()) {
            Some(0) => parts.len() == 3,
            Some(1..=3) => (2..=3).contains(&parts.len()),
            _ => false,
        }
}

/// Checks a topic's whole set of configs for the rules that span two of them, as Kafka's
/// `LogConfig.validateValues` does: `min.compaction.lag.ms` may not exceed
/// `max.compaction.lag.ms`. Each value must already pass [`validate`].
///
/// # Errors
/// [`TopicConfigError::Invalid`] naming the first config of the conflict, with Kafka's words.
pub fn validate_together<'a>(
    configs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(), TopicConfigError> {
    let mut min_lag: Option<(&str, i64)> = None;
    let mut max_lag: i64 = i64::MAX;
    for (name, value) in configs {
        let parsed = value.trim().parse::<i64>();
        match (name, parsed) {
            ("min.compaction.lag.ms", Ok(v)) => min_lag = Some((value, v)),
            ("max.compaction.lag.ms", Ok(v)) => max_lag = v,
            _ => {}
        }
    }
    if let Some((value, min)) = min_lag.filter(|(_, min)| *min > max_lag) {
        return Err(TopicConfigError::Invalid {
            name: "min.compaction.lag.ms".into(),
            value: value.into(),
            reason: format!(
                "conflict topic config setting min.compaction.lag.ms ({min}) > max.compaction.lag.ms ({max_lag})"
            ),
        });
    }
    Ok(())
}

/// An IncrementalAlterConfigs operation on a list config (KIP-339).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListOp {
    /// APPEND (2): add the items not there yet, in order.
    Append,
    /// SUBTRACT (3): remove the items given.
    Subtract,
}

/// The new value of list config `name` after `op` with `items` (comma-separated) over its
/// `current` value, as Kafka's `ConfigAdminManager.prepareIncrementalConfigs` computes it.
///
/// # Errors
/// [`TopicConfigError::Unknown`] for an unknown name; [`TopicConfigError::Invalid`] when the
/// config is not a list ("append/subtract is not allowed", as Kafka); the result is then
/// checked with [`validate`] by the caller's SET.
pub fn apply_list_op(
    name: &str,
    current: &str,
    op: ListOp,
    items: &str,
) -> Result<String, TopicConfigError> {
    let def = find(name).ok_or_else(|| TopicConfigError::Unknown(name.into()))?;
    if def.kind != Kind::List {
        return Err(TopicConfigError::Invalid {
            name: name.into(),
            value: items.into(),
            reason: format!(
                "{} is not allowed: {name} is not a list",
                match op {
                    ListOp::Append => "append",
                    ListOp::Subtract => "subtract",
                }
            ),
        });
    }
    let split = |s: &str| -> alloc::vec::Vec<String> {
        s.split(',')
            .map(str::trim)
            .filter(|i| !i.is_empty())
            .map(String::from)
            .collect()
    };
    let mut list = split(current);
    let given = split(items);
    match op {
        ListOp::Append => {
            for item in given {
                if !list.contains(&item) {
                    list.push(item);
                }
            }
        }
        ListOp::Subtract => list.retain(|i| !given.contains(i)),
    }
    Ok(list.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn the_table_is_sorted_and_every_default_is_valid() {
        for pair in TOPIC_CONFIGS.windows(2) {
            assert!(
                pair[0].name < pair[1].name,
                "{} then {}",
                pair[0].name,
                pair[1].name
            );
        }
        for c in TOPIC_CONFIGS {
            assert_eq!(
                validate(c.name, c.default).map(|d| d.name),
                Ok(c.name),
                "{}",
                c.name
            );
        }
    }

    #[test]
    fn values_are_checked_as_kafka_checks_them() {
        // What provisioning tools send (Terraform, Strimzi, ksqlDB): accepted.
        for (k, v) in [
            ("unclean.leader.election.enable", "false"),
            ("message.timestamp.type", "CreateTime"),
            ("compression.type", "producer"),
            ("retention.ms", "-1"),
            ("segment.bytes", "1073741824"),
            ("preallocate", "TRUE"),
            ("message.format.version", "2.8-IV1"),
            ("message.format.version", "0.10.2"),
            ("message.format.version", "3.0"),
            ("cleanup.policy", "compact,delete"),
            ("leader.replication.throttled.replicas", "0:1,1:2"),
            ("compression.gzip.level", "-1"),
        ] {
            assert!(validate(k, v).is_ok(), "{k}={v}");
        }
        let refused = |k: &str, v: &str| validate(k, v).expect_err("refused").to_string();
        assert_eq!(refused("bogus.key", "1"), "unknown topic config bogus.key");
        // Kafka's MetadataVersionValidator.
        for bad in ["banana", "0.10", "4.0", "3.0-IV", "3..0"] {
            assert!(
                refused("message.format.version", bad).contains("a Kafka version"),
                "{bad}"
            );
        }
        // Kafka's LogConfig.validateValues: the compaction lags must not cross.
        assert_eq!(
            validate_together([
                ("min.compaction.lag.ms", "100"),
                ("max.compaction.lag.ms", "50")
            ])
            .expect_err("conflict")
            .to_string(),
            "invalid value \"100\" for min.compaction.lag.ms: conflict topic config setting min.compaction.lag.ms (100) > max.compaction.lag.ms (50)"
        );
        assert!(
            validate_together([
                ("min.compaction.lag.ms", "50"),
                ("max.compaction.lag.ms", "50")
            ])
            .is_ok()
        );
        assert_eq!(
            refused("retention.ms", "-2"),
            "invalid value \"-2\" for retention.ms: must be at least -1"
        );
        assert_eq!(
            refused("segment.bytes", "2147483648"),
            "invalid value \"2147483648\" for segment.bytes: expected a 32-bit integer"
        );
        assert_eq!(
            refused("message.timestamp.type", "createtime"),
            "invalid value \"createtime\" for message.timestamp.type: must be one of CreateTime, LogAppendTime"
        );
        assert_eq!(
            refused("min.cleanable.dirty.ratio", "1.5"),
            "invalid value \"1.5\" for min.cleanable.dirty.ratio: must be between 0 and 1"
        );
        assert_eq!(
            refused("compression.gzip.level", "0"),
            "invalid value \"0\" for compression.gzip.level: must be -1 or between 1 and 9"
        );
        assert_eq!(
            refused("cleanup.policy", "compact,nope"),
            "invalid value \"compact,nope\" for cleanup.policy: must be a list of compact, delete"
        );
        assert_eq!(
            refused("unclean.leader.election.enable", "yes"),
            "invalid value \"yes\" for unclean.leader.election.enable: expected true or false"
        );
        // Valid in Kafka, not honoured by runnel: refused, never silently ignored.
        assert!(refused("remote.storage.enable", "true").contains("no tiered storage"));
        assert_eq!(
            validate("x", "1").map_err(|e| e.kafka_error_code()),
            Err(error_code::INVALID_CONFIG)
        );
    }

    #[test]
    fn append_and_subtract_work_on_lists_only() {
        assert_eq!(
            apply_list_op("cleanup.policy", "delete", ListOp::Append, "compact").as_deref(),
            Ok("delete,compact")
        );
        assert_eq!(
            apply_list_op(
                "cleanup.policy",
                "delete,compact",
                ListOp::Append,
                "compact"
            )
            .as_deref(),
            Ok("delete,compact")
        );
        assert_eq!(
            apply_list_op(
                "cleanup.policy",
                "compact,delete",
                ListOp::Subtract,
                "delete"
            )
            .as_deref(),
            Ok("compact")
        );
        let e = apply_list_op("retention.ms", "1", ListOp::Append, "2").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value \"2\" for retention.ms: append is not allowed: retention.ms is not a list"
        );
    }
}
