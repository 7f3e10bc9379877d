//! Broker configuration: embedded defaults, a TOML file with Kafka's config names, and flags.
//!
//! Precedence: flags over the file over the defaults. A file looks like
//!
//! ```toml
//! listeners = "127.0.0.1:9092"
//! log.dirs = "./runnel-data"
//! num.partitions = 3
//! "log.retention.ms" = 604800000
//! ```
//!
//! Kafka's dotted names work bare (TOML reads `num.partitions = 3` as a table `num` with a key
//! `partitions`; [`BrokerConfig::from_table`] joins such tables back into dotted names) or
//! quoted.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use runnel_core::log::{CleanupPolicy, LogConfig};
use serde::{Deserialize, Serialize};

/// Everything the broker reads at start.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BrokerConfig {
    /// `node.id`: this broker's id.
    #[serde(rename = "node.id")]
    pub node_id: i32,
    /// `listeners`: where the Kafka protocol is served, `host:port` or Kafka's
    /// `PLAINTEXT://host:port` (an empty host: every interface). One plaintext listener.
    #[serde(rename = "listeners", deserialize_with = "listener")]
    pub listener: SocketAddr,
    /// `advertised.host`: the host clients are told to connect to (an IPv4 address by
    /// default: librdkafka may resolve `localhost` to ::1).
    #[serde(rename = "advertised.host")]
    pub advertised_host: String,
    /// `admin.listener`: `/metrics`, `/healthz` (and later the playground).
    #[serde(rename = "admin.listener")]
    pub admin_listener: SocketAddr,
    /// `log.dirs`: where partitions live.
    #[serde(rename = "log.dirs")]
    pub data_dir: PathBuf,
    /// `metadata.log.dir`: where a cluster node keeps its metadata log (`__cluster/raft.log`);
    /// unset, `log.dirs` (Kafka's rule). A separate volume keeps the metadata quorum going when
    /// the partitions' volume is full.
    #[serde(rename = "metadata.log.dir")]
    pub metadata_log_dir: Option<PathBuf>,
    /// `num.partitions`: partitions of an auto-created topic.
    #[serde(rename = "num.partitions")]
    pub num_partitions: i32,
    /// `auto.create.topics.enable`.
    #[serde(rename = "auto.create.topics.enable")]
    pub auto_create_topics: bool,
    /// `socket.request.max.bytes`: larger requests close the connection.
    #[serde(rename = "socket.request.max.bytes")]
    pub request_max_bytes: usize,
    /// `log.segment.bytes`.
    #[serde(rename = "log.segment.bytes")]
    pub segment_bytes: u64,
    /// `log.roll.ms`.
    #[serde(rename = "log.roll.ms")]
    pub segment_ms: u64,
    /// `log.retention.ms` (-1: forever).
    #[serde(rename = "log.retention.ms")]
    pub retention_ms: i64,
    /// `log.retention.bytes` (-1: unlimited).
    #[serde(rename = "log.retention.bytes")]
    pub retention_bytes: i64,
    /// `log.cleanup.policy`: `delete`, `compact` or `compact,delete`.
    #[serde(rename = "log.cleanup.policy")]
    pub cleanup_policy: String,
    /// `log.retention.check.interval.ms`: how often retention runs.
    #[serde(rename = "log.retention.check.interval.ms")]
    pub retention_check_interval_ms: u64,
    /// `log.cleaner.backoff.ms`: how often compaction looks for dirty logs.
    #[serde(rename = "log.cleaner.backoff.ms")]
    pub cleaner_backoff_ms: u64,
    /// `log.flush.interval.messages`: fsync after this many messages (-1: leave it to the OS).
    #[serde(rename = "log.flush.interval.messages")]
    pub flush_messages: i64,
    /// `log.flush.interval.ms`: fsync at least this often (-1: leave it to the OS).
    #[serde(rename = "log.flush.interval.ms")]
    pub flush_ms: i64,
    /// `log.flush.before.ack` (runnel's own): fsync every write before acknowledging it.
    #[serde(rename = "log.flush.before.ack")]
    pub flush_before_ack: bool,
    /// `group.min.session.timeout.ms`.
    #[serde(rename = "group.min.session.timeout.ms")]
    pub group_min_session_timeout_ms: u64,
    /// `group.max.session.timeout.ms`.
    #[serde(rename = "group.max.session.timeout.ms")]
    pub group_max_session_timeout_ms: u64,
    /// `group.initial.rebalance.delay.ms`.
    #[serde(rename = "group.initial.rebalance.delay.ms")]
    pub group_initial_rebalance_delay_ms: u64,
    /// `controller.quorum.voters`: `id@host:port,...`, the nodes of the metadata quorum and
    /// the address each serves Raft on. Empty: a single node, no cluster.
    #[serde(rename = "controller.quorum.voters")]
    pub quorum_voters: String,
    /// `inter.broker.endpoints` (runnel's own): `id@host:port,...`, where this node connects to
    /// reach another node's Kafka listener for replication, when not the address that node
    /// registered (a proxy in between, as the network-fault tests put there).
    #[serde(rename = "inter.broker.endpoints")]
    pub inter_broker_endpoints: String,
    /// `broker.session.timeout.ms`: a broker silent this long is fenced by the controller.
    #[serde(rename = "broker.session.timeout.ms")]
    pub broker_session_timeout_ms: u64,
    /// `broker.heartbeat.interval.ms`.
    #[serde(rename = "broker.heartbeat.interval.ms")]
    pub broker_heartbeat_interval_ms: u64,
    /// `default.replication.factor` of topics created without one (cluster mode).
    #[serde(rename = "default.replication.factor")]
    pub default_replication_factor: i16,
    /// `replica.lag.time.max.ms`: a follower not caught up for this long leaves the ISR.
    #[serde(rename = "replica.lag.time.max.ms")]
    pub replica_lag_time_max_ms: u64,
    /// `min.insync.replicas`: the smallest ISR that accepts acks=all writes.
    #[serde(rename = "min.insync.replicas")]
    pub min_insync_replicas: i32,
    /// `unclean.leader.election.enable`.
    #[serde(rename = "unclean.leader.election.enable")]
    pub unclean_leader_election: bool,
    /// `auto.leader.rebalance.enable`: the controller moves leaders back to preferred replicas.
    #[serde(rename = "auto.leader.rebalance.enable")]
    pub auto_leader_rebalance: bool,
    /// `leader.imbalance.check.interval.seconds`.
    #[serde(rename = "leader.imbalance.check.interval.seconds")]
    pub leader_imbalance_check_interval_seconds: u64,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        let log = LogConfig::default();
        Self {
            node_id: 0,
            quorum_voters: String::new(),
            inter_broker_endpoints: String::new(),
            broker_session_timeout_ms: 3_000,
            broker_heartbeat_interval_ms: 500,
            default_replication_factor: 1,
            replica_lag_time_max_ms: 10_000,
            min_insync_replicas: 1,
            unclean_leader_election: false,
            auto_leader_rebalance: true,
            leader_imbalance_check_interval_seconds: 300,
            listener: SocketAddr::from(([127, 0, 0, 1], 9092)),
            advertised_host: String::new(),
            admin_listener: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./runnel-data"),
            metadata_log_dir: None,
            num_partitions: 1,
            auto_create_topics: true,
            request_max_bytes: 100 * 1024 * 1024,
            segment_bytes: log.segment_bytes,
            segment_ms: log.segment_ms,
            retention_ms: log.retention_ms.map_or(-1, |ms| ms as i64),
            retention_bytes: -1,
            cleanup_policy: "delete".into(),
            retention_check_interval_ms: 300_000,
            cleaner_backoff_ms: 15_000,
            flush_messages: -1,
            flush_ms: -1,
            flush_before_ack: false,
            group_min_session_timeout_ms: 6_000,
            group_max_session_timeout_ms: 1_800_000,
            group_initial_rebalance_delay_ms: 0,
        }
    }
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or names an unknown key.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's words.
        message: String,
    },
    /// A value is out of range.
    #[error("invalid config {key} = {value}: {reason}")]
    Invalid {
        /// The key.
        key: &'static str,
        /// The value.
        value: String,
        /// Why.
        reason: &'static str,
    },
}

impl BrokerConfig {
    /// Reads a TOML file over the defaults (see [`BrokerConfig::from_table`]).
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let parse = |message: String| ConfigError::Parse {
            path: path.to_path_buf(),
            message,
        };
        let table = text
            .parse::<toml::Table>()
            .map_err(|e| parse(e.to_string()))?;
        Self::from_table(table).map_err(parse)
    }

    /// The settings of `table` over the defaults. Nested tables are Kafka's dotted names
    /// written bare (`num.partitions = 3`) and are joined back (`"num.partitions"`).
    ///
    /// # Errors
    /// One line naming the key: an unknown name, or a value of the wrong type
    /// (`num.partitions = "abc": invalid type: string "abc", expected i32`).
    pub fn from_table(table: toml::Table) -> Result<Self, String> {
        let mut flat = toml::Table::new();
        flatten("", table, &mut flat);
        match Self::deserialize(toml::Value::Table(flat.clone())) {
            Ok(config) => Ok(config),
            Err(e) => {
                // Name the key: the first one that fails on its own over the defaults.
                for (key, value) in flat {
                    let alone = toml::Table::from_iter([(key.clone(), value.clone())]);
                    if let Err(e) = Self::deserialize(toml::Value::Table(alone)) {
                        return Err(format!("{key} = {value}: {}", e.message().trim()));
                    }
                }
                Err(e.message().trim().to_string())
            }
        }
    }

    /// Checks values and fills in derived ones (the advertised host).
    pub fn validate(mut self) -> Result<Self, ConfigError> {
        if self.num_partitions < 1 {
            return Err(ConfigError::Invalid {
                key: "num.partitions",
                value: self.num_partitions.to_string(),
                reason: "must be at least 1",
            });
        }
        parse_cleanup_policy(&self.cleanup_policy).ok_or(ConfigError::Invalid {
            key: "log.cleanup.policy",
            value: self.cleanup_policy.clone(),
            reason: "must be delete, compact or compact,delete",
        })?;
        if !self.quorum_voters.is_empty() {
            let voters = crate::cluster::parse_voters(&self.quorum_voters).map_err(|reason| {
                ConfigError::Invalid {
                    key: "controller.quorum.voters",
                    value: self.quorum_voters.clone(),
                    reason,
                }
            })?;
            crate::cluster::parse_voters(&self.inter_broker_endpoints)
                .or_else(|e| {
                    if self.inter_broker_endpoints.trim().is_empty() {
                        Ok(Vec::new())
                    } else {
                        Err(e)
                    }
                })
                .map_err(|reason| ConfigError::Invalid {
                    key: "inter.broker.endpoints",
                    value: self.inter_broker_endpoints.clone(),
                    reason,
                })?;
            if !voters.iter().any(|v| v.id == self.node_id) {
                return Err(ConfigError::Invalid {
                    key: "node.id",
                    value: self.node_id.to_string(),
                    reason: "must be one of controller.quorum.voters",
                });
            }
        }
        if self.advertised_host.is_empty() {
            let ip = self.listener.ip();
            self.advertised_host = if ip.is_unspecified() {
                "127.0.0.1".into()
            } else {
                ip.to_string()
            };
        }
        Ok(self)
    }

    /// Every setting by its Kafka name, with its value as text (DescribeConfigs on the broker).
    pub fn settings(&self) -> Vec<(String, String)> {
        let Ok(table) = toml::Table::try_from(self) else {
            return Vec::new();
        };
        table
            .into_iter()
            .map(|(k, v)| {
                let text = match v {
                    toml::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, text)
            })
            .collect()
    }

    /// The log configuration a new topic gets before its own overrides.
    pub fn default_log_config(&self) -> LogConfig {
        LogConfig {
            segment_bytes: self.segment_bytes,
            segment_ms: self.segment_ms,
            retention_ms: u64::try_from(self.retention_ms).ok(),
            retention_bytes: u64::try_from(self.retention_bytes).ok(),
            cleanup_policy: parse_cleanup_policy(&self.cleanup_policy)
                .unwrap_or(CleanupPolicy::DELETE),
            flush_messages: u64::try_from(self.flush_messages).ok(),
            flush_ms: u64::try_from(self.flush_ms).ok(),
            ..LogConfig::default()
        }
    }
}

/// Moves every value of `table` into `out` under its dotted path (`prefix` + key).
/// Reads `listeners`: `host:port`, or one Kafka listener `PLAINTEXT://host:port` (Kafka's
/// `listeners` syntax; an empty host means every interface, as in Kafka). Other protocols
/// (SSL, SASL_*) and several listeners are refused by name.
fn listener<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<SocketAddr, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_listener(&text).map_err(serde::de::Error::custom)
}

/// See [`listener`].
pub fn parse_listener(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    if text.contains(',') {
        return Err(format!(
            "{text}: one listener only (runnel serves one plaintext listener)"
        ));
    }
    let address = match text.split_once("://") {
        None => text,
        Some((protocol, address)) if protocol.eq_ignore_ascii_case("PLAINTEXT") => address,
        Some((protocol, _)) => {
            return Err(format!(
                "{text}: runnel serves PLAINTEXT only, not {protocol} (TLS and SASL are not built yet)"
            ));
        }
    };
    let address = if address.starts_with(':') {
        format!("0.0.0.0{address}")
    } else {
        address.to_string()
    };
    address
        .parse()
        .map_err(|_| format!("{text}: expected host:port or PLAINTEXT://host:port (an IP address)"))
}

fn flatten(prefix: &str, table: toml::Table, out: &mut toml::Table) {
    for (key, value) in table {
        let name = if prefix.is_empty() {
            key
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => flatten(&name, inner, out),
            other => {
                out.insert(name, other);
            }
        }
    }
}

pub use runnel_core::topic_config::parse_cleanup_policy;

/// Kafka's text for a cleanup policy.
pub fn cleanup_policy_name(policy: CleanupPolicy) -> &'static str {
    match (policy.compact, policy.delete) {
        (true, true) => "compact,delete",
        (true, false) => "compact",
        _ => "delete",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_uses_kafka_names_and_rejects_unknown_keys() {
        let config: BrokerConfig = toml::from_str(
            r#"
            "listeners" = "127.0.0.1:19092"
            "num.partitions" = 6
            "log.cleanup.policy" = "compact,delete"
            "#,
        )
        .unwrap();
        let config = config.validate().unwrap();
        assert_eq!(config.listener.port(), 19092);
        assert_eq!(config.num_partitions, 6);
        assert_eq!(config.advertised_host, "127.0.0.1");
        assert_eq!(
            config.default_log_config().cleanup_policy,
            CleanupPolicy::COMPACT_DELETE
        );
        assert!(toml::from_str::<BrokerConfig>(r#""no.such.key" = 1"#).is_err());
        assert!(parse_cleanup_policy("delete,nope").is_none());
    }

    /// Kafka's `listeners` syntax (`PROTOCOL://host:port`, an empty host for every
    /// interface) works for the one plaintext listener; what runnel cannot serve is named.
    #[test]
    fn listeners_take_kafkas_syntax() {
        let table = |v: &str| {
            BrokerConfig::from_table(toml::Table::from_iter([(
                "listeners".to_string(),
                toml::Value::String(v.to_string()),
            )]))
        };
        let plain = table("PLAINTEXT://127.0.0.1:39192").unwrap();
        assert_eq!(plain.listener, "127.0.0.1:39192".parse().unwrap());
        assert_eq!(table("127.0.0.1:9093").unwrap().listener.port(), 9093);
        assert_eq!(
            table("PLAINTEXT://:9092").unwrap().listener,
            "0.0.0.0:9092".parse().unwrap()
        );
        let ssl = table("SSL://127.0.0.1:9093").unwrap_err();
        assert!(ssl.contains("PLAINTEXT only, not SSL"), "{ssl}");
        let two = table("PLAINTEXT://127.0.0.1:1,PLAINTEXT://127.0.0.1:2").unwrap_err();
        assert!(two.contains("one listener only"), "{two}");
    }

    #[test]
    fn bare_dotted_names_work_and_errors_name_the_key() {
        let table: toml::Table =
            "num.partitions = 3\nlog.retention.ms = 5\n\"log.dirs\" = \"/x\"\n"
                .parse()
                .unwrap();
        let config = BrokerConfig::from_table(table).unwrap();
        assert_eq!(config.num_partitions, 3);
        assert_eq!(config.retention_ms, 5);
        assert_eq!(config.data_dir, PathBuf::from("/x"));
        let bad: toml::Table = "num.partitions = \"abc\"\nlisteners = \"127.0.0.1:1\"\n"
            .parse()
            .unwrap();
        let e = BrokerConfig::from_table(bad).unwrap_err();
        assert!(e.starts_with("num.partitions = \"abc\": "), "{e}");
        let unknown: toml::Table = "no.such.key = 1\n".parse().unwrap();
        let e = BrokerConfig::from_table(unknown).unwrap_err();
        assert!(e.starts_with("no.such.key = 1: unknown field"), "{e}");
    }
}
