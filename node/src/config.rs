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
    /// `listeners`: where the Kafka protocol is served: Kafka's `NAME://host:port,...` (an
    /// empty host: every interface; a bare `host:port` is one PLAINTEXT listener). Each name's
    /// protocol comes from `listener.security.protocol.map`: PLAINTEXT, SSL, SASL_PLAINTEXT or
    /// SASL_SSL.
    #[serde(rename = "listeners", with = "listeners_text")]
    pub listeners: Vec<Listener>,
    /// `listener.security.protocol.map`: `NAME:PROTOCOL,...` (Kafka's default maps each
    /// protocol's own name to itself).
    #[serde(rename = "listener.security.protocol.map")]
    pub listener_security_protocol_map: String,
    /// `ssl.keystore.location`: a PEM file with this broker's private key and certificate
    /// chain (Kafka's `ssl.keystore.type=PEM`), for SSL listeners.
    #[serde(rename = "ssl.keystore.location")]
    pub ssl_keystore_location: Option<PathBuf>,
    /// `ssl.keystore.type`: PEM (the only one read; JKS and PKCS12 are refused by name).
    #[serde(rename = "ssl.keystore.type")]
    pub ssl_keystore_type: String,
    /// `ssl.truststore.location`: PEM certificates of the authorities client certificates are
    /// checked against (`ssl.client.auth` requested or required).
    #[serde(rename = "ssl.truststore.location")]
    pub ssl_truststore_location: Option<PathBuf>,
    /// `ssl.client.auth`: `none`, `requested` or `required` (Kafka's values).
    #[serde(rename = "ssl.client.auth")]
    pub ssl_client_auth: String,
    /// `sasl.enabled.mechanisms`: the SASL mechanisms SASL listeners offer; runnel serves
    /// PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 (Kafka's default, GSSAPI, is not served).
    #[serde(rename = "sasl.enabled.mechanisms")]
    pub sasl_enabled_mechanisms: String,
    /// `sasl.jaas.config`: the PLAIN users, in Kafka's broker JAAS form
    /// (`org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="..." ;`),
    /// for every SASL listener (Kafka sets it per listener as
    /// `listener.name.<name>.plain.sasl.jaas.config`; runnel takes one for all). Needed when
    /// PLAIN is enabled; SCRAM's users are made with AlterUserScramCredentials (KIP-554,
    /// `runnel user create`), and a `ScramLoginModule` text here is accepted and unused.
    #[serde(rename = "sasl.jaas.config")]
    pub sasl_jaas_config: Option<String>,
    /// `authorizer.class.name`: empty (no authorizer: every client may do everything, and the
    /// ACL APIs answer SECURITY_DISABLED), or Kafka's
    /// `org.apache.kafka.metadata.authorizer.StandardAuthorizer` (or `AclAuthorizer`), which
    /// turns ACLs on: every request is checked as Kafka checks it.
    #[serde(rename = "authorizer.class.name")]
    pub authorizer_class_name: String,
    /// `super.users`: principals allowed everything, `;`-separated (`User:admin;User:ops`).
    #[serde(rename = "super.users")]
    pub super_users: String,
    /// `allow.everyone.if.no.acl.found`: whether a resource no ACL covers is open to all
    /// (Kafka's default, false: closed).
    #[serde(rename = "allow.everyone.if.no.acl.found")]
    pub allow_everyone_if_no_acl_found: bool,
    /// `advertised.listeners`: `NAME://host:port,...`, the address clients are told for each
    /// listener when it is not the one it listens on (a NAT, a container, a proxy); a host name
    /// is fine here. Listeners not named advertise as `advertised.host` says.
    #[serde(rename = "advertised.listeners")]
    pub advertised_listeners: String,
    /// `inter.broker.listener.name`: the listener other nodes replicate from and the Raft
    /// transport's protocol (TLS, SASL); empty: the first listener.
    #[serde(rename = "inter.broker.listener.name")]
    pub inter_broker_listener_name: String,
    /// `sasl.mechanism.inter.broker.protocol`: the mechanism a node authenticates to other
    /// nodes with on a SASL inter-broker listener, as the `username`/`password` of
    /// `sasl.jaas.config` (Kafka's default is GSSAPI, which runnel does not serve; PLAIN here).
    #[serde(rename = "sasl.mechanism.inter.broker.protocol")]
    pub sasl_mechanism_inter_broker_protocol: String,
    /// `advertised.host`: the host clients are told to connect to (an IPv4 address by
    /// default: librdkafka may resolve `localhost` to ::1). Unset, each listener advertises
    /// its own address (127.0.0.1 for one on every interface).
    #[serde(rename = "advertised.host")]
    pub advertised_host: String,
    /// Whether `advertised.host` was given (else each listener advertises its own address).
    #[serde(skip)]
    pub advertised_host_given: bool,
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
    /// `transaction.max.timeout.ms`: the longest `transaction.timeout.ms` a transactional
    /// producer may ask for (Kafka's default, 15 minutes).
    #[serde(rename = "transaction.max.timeout.ms")]
    pub transaction_max_timeout_ms: i32,
    /// `transactional.id.expiration.ms`: how long a transactional id with no transaction open
    /// may go unchanged before its coordinator forgets it, writing a tombstone to
    /// `__transaction_state` (Kafka's default, 7 days).
    #[serde(rename = "transactional.id.expiration.ms")]
    pub transactional_id_expiration_ms: i64,
    /// `transaction.state.log.min.isr`: the `min.insync.replicas` `__transaction_state` is
    /// created with in a cluster (Kafka's default 2; never above its replication factor), so
    /// an acknowledged transaction state survives a failover.
    #[serde(rename = "transaction.state.log.min.isr")]
    pub transaction_state_log_min_isr: u16,
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
    /// `producer.id.expiration.ms`: an idempotent producer's state in a partition is
    /// forgotten after this long without a write there and with no transaction open (Kafka's
    /// default: one day); checked at each log cleaner pass.
    #[serde(rename = "producer.id.expiration.ms")]
    pub producer_id_expiration_ms: u64,
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
            producer_id_expiration_ms: runnel_core::replica::DEFAULT_PRODUCER_ID_EXPIRATION_MS,
            unclean_leader_election: false,
            auto_leader_rebalance: true,
            leader_imbalance_check_interval_seconds: 300,
            listeners: vec![Listener {
                name: "PLAINTEXT".into(),
                address: SocketAddr::from(([127, 0, 0, 1], 9092)),
                protocol: SecurityProtocol::Plaintext,
            }],
            listener_security_protocol_map:
                "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL".into(),
            ssl_keystore_location: None,
            ssl_keystore_type: "PEM".into(),
            ssl_truststore_location: None,
            ssl_client_auth: "none".into(),
            sasl_enabled_mechanisms: "PLAIN".into(),
            sasl_jaas_config: None,
            authorizer_class_name: String::new(),
            super_users: String::new(),
            allow_everyone_if_no_acl_found: false,
            advertised_listeners: String::new(),
            inter_broker_listener_name: String::new(),
            sasl_mechanism_inter_broker_protocol: "PLAIN".into(),
            advertised_host: String::new(),
            advertised_host_given: false,
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
            transaction_max_timeout_ms:
                runnel_core::broker::transactions::TRANSACTION_MAX_TIMEOUT_MS,
            transactional_id_expiration_ms:
                runnel_core::broker::transactions::TRANSACTIONAL_ID_EXPIRATION_MS,
            transaction_state_log_min_isr: 2,
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
    /// `listeners` and the SSL settings do not fit together.
    #[error("{0}")]
    Listeners(String),
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
        if self.transactional_id_expiration_ms < 1 {
            // Kafka's `TransactionLogConfigs`: atLeast(1).
            return Err(ConfigError::Invalid {
                key: "transactional.id.expiration.ms",
                value: self.transactional_id_expiration_ms.to_string(),
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
        self.resolve_listeners().map_err(ConfigError::Listeners)?;
        self.authorizer()?;
        self.advertised_host_given = !self.advertised_host.is_empty();
        if self.advertised_host.is_empty() {
            let ip = self.listener().ip();
            self.advertised_host = if ip.is_unspecified() {
                "127.0.0.1".into()
            } else {
                ip.to_string()
            };
        }
        Ok(self)
    }

    /// The authorizer `authorizer.class.name` asks for, with `super.users` and
    /// `allow.everyone.if.no.acl.found` (and no ACLs yet); `None` when it is empty. Errors: a
    /// class runnel does not implement, or a malformed `super.users`.
    pub fn authorizer(&self) -> Result<Option<runnel_core::acl::Authorizer>, ConfigError> {
        let class = self.authorizer_class_name.trim();
        if class.is_empty() {
            return Ok(None);
        }
        if !runnel_core::acl::AUTHORIZER_CLASS_NAMES.contains(&class) {
            return Err(ConfigError::Invalid {
                key: "authorizer.class.name",
                value: class.into(),
                reason: "runnel implements org.apache.kafka.metadata.authorizer.StandardAuthorizer (and kafka.security.authorizer.AclAuthorizer, the same rules)",
            });
        }
        let super_users = runnel_core::acl::parse_super_users(&self.super_users).map_err(|_| {
            ConfigError::Invalid {
                key: "super.users",
                value: self.super_users.clone(),
                reason: "must be principals separated by ; (User:admin;User:ops)",
            }
        })?;
        let mut authorizer = runnel_core::acl::Authorizer::default();
        authorizer.super_users = super_users;
        authorizer.allow_everyone_if_no_acl_found = self.allow_everyone_if_no_acl_found;
        Ok(Some(authorizer))
    }

    /// The first listener's address: the one a cluster node registers and replicates through.
    pub fn listener(&self) -> SocketAddr {
        self.listeners
            .first()
            .map_or(SocketAddr::from(([127, 0, 0, 1], 9092)), |l| l.address)
    }

    /// `sasl.enabled.mechanisms` read: each name once, in the order given. Errors: a mechanism
    /// runnel does not serve, or none.
    pub fn enabled_mechanisms(&self) -> Result<Vec<runnel_core::sasl::Mechanism>, String> {
        let mut out = Vec::new();
        if self.sasl_enabled_mechanisms.trim().is_empty() {
            return Err(
                "sasl.enabled.mechanisms is empty: name PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"
                    .into(),
            );
        }
        for name in self.sasl_enabled_mechanisms.split(',').map(str::trim) {
            let Some(mechanism) =
                runnel_core::sasl::Mechanism::from_name(&name.to_ascii_uppercase())
            else {
                return Err(format!(
                    "sasl.enabled.mechanisms: {name} is not served (runnel serves PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512)"
                ));
            };
            if !out.contains(&mechanism) {
                out.push(mechanism);
            }
        }
        Ok(out)
    }

    /// Gives each listener its protocol from `listener.security.protocol.map` and checks what
    /// runnel can serve: names and ports used once, a PEM keystore for TLS, the SASL settings,
    /// `advertised.listeners`, and in a cluster what the inter-broker listener needs (a
    /// truststore for TLS, the broker's own SASL login).
    fn resolve_listeners(&mut self) -> Result<(), String> {
        self.ssl_client_auth = self.ssl_client_auth.to_ascii_lowercase();
        // Settings are checked whether or not a listener uses them yet.
        let mechanisms = self.enabled_mechanisms()?;
        let plain = mechanisms.contains(&runnel_core::sasl::Mechanism::Plain);
        if let Some(jaas) = &self.sasl_jaas_config
            && plain
        {
            runnel_core::sasl::PlainUsers::from_jaas(jaas)?;
        }
        let mut map = std::collections::BTreeMap::new();
        for pair in self
            .listener_security_protocol_map
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let (name, protocol) = pair.split_once(':').ok_or_else(|| {
                format!("listener.security.protocol.map: {pair}: expected NAME:PROTOCOL")
            })?;
            let protocol = protocol.trim().to_ascii_uppercase();
            if !["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"].contains(&protocol.as_str()) {
                return Err(format!(
                    "listener.security.protocol.map: {pair}: the protocol is one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"
                ));
            }
            map.insert(name.trim().to_ascii_uppercase(), protocol);
        }
        if self.listeners.is_empty() {
            return Err("listeners: none given".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        let mut ports = std::collections::BTreeSet::new();
        for listener in &mut self.listeners {
            let name = listener.name.to_ascii_uppercase();
            let protocol = map.get(&name).ok_or_else(|| {
                format!(
                    "listeners: {name} is not in listener.security.protocol.map ({})",
                    self.listener_security_protocol_map
                )
            })?;
            listener.protocol = match protocol.as_str() {
                "PLAINTEXT" => SecurityProtocol::Plaintext,
                "SSL" => SecurityProtocol::Ssl,
                "SASL_PLAINTEXT" => SecurityProtocol::SaslPlaintext,
                "SASL_SSL" => SecurityProtocol::SaslSsl,
                other => return Err(format!("listeners: {name}: unknown protocol {other}")),
            };
            if !seen.insert(name.clone()) || !ports.insert(listener.address.port()) {
                return Err(format!(
                    "listeners: {name} ({}): each listener needs its own name and port",
                    listener.address
                ));
            }
        }
        let ssl = self.listeners.iter().any(|l| l.protocol.tls());
        if self.listeners.iter().any(|l| l.protocol.sasl())
            && plain
            && self.sasl_jaas_config.is_none()
        {
            return Err("a SASL listener with PLAIN enabled needs sasl.jaas.config with its users (org.apache.kafka.common.security.plain.PlainLoginModule required user_NAME=\"PASSWORD\" ...;)".into());
        }
        if !self.ssl_keystore_type.eq_ignore_ascii_case("PEM") {
            return Err(format!(
                "ssl.keystore.type = {}: runnel reads PEM keystores (ssl.keystore.type=PEM: the key and certificate chain in one file)",
                self.ssl_keystore_type
            ));
        }
        if ssl && self.ssl_keystore_location.is_none() {
            return Err("an SSL or SASL_SSL listener needs ssl.keystore.location (a PEM file with the private key and certificate chain)".into());
        }
        if !["none", "requested", "required"].contains(&self.ssl_client_auth.as_str()) {
            return Err(format!(
                "ssl.client.auth = {}: one of none, requested, required",
                self.ssl_client_auth
            ));
        }
        if self.ssl_client_auth != "none" && self.ssl_truststore_location.is_none() {
            return Err(format!(
                "ssl.client.auth = {} needs ssl.truststore.location (PEM certificates of the authorities clients' certificates are checked against)",
                self.ssl_client_auth
            ));
        }
        self.advertised_endpoints()?;
        let inter = self.inter_broker_listener()?;
        if !self.quorum_voters.is_empty() {
            if inter.protocol.tls() && self.ssl_truststore_location.is_none() {
                return Err(format!(
                    "inter.broker.listener.name {}: a TLS inter-broker listener needs ssl.truststore.location (PEM certificates of the authorities that signed the other nodes' certificates)",
                    inter.name
                ));
            }
            if inter.protocol.sasl() {
                let mechanism = self.inter_broker_mechanism()?;
                if !mechanisms.contains(&mechanism) {
                    return Err(format!(
                        "sasl.mechanism.inter.broker.protocol {}: not in sasl.enabled.mechanisms ({})",
                        mechanism.name(),
                        self.sasl_enabled_mechanisms
                    ));
                }
                let jaas = self.sasl_jaas_config.as_deref().unwrap_or_default();
                runnel_core::sasl::jaas_login(jaas)?;
            }
        }
        Ok(())
    }

    /// The listener other nodes replicate from and whose protocol the Raft transport speaks:
    /// `inter.broker.listener.name`, or the first listener. Errors: a name no listener has.
    pub fn inter_broker_listener(&self) -> Result<&Listener, String> {
        let name = self.inter_broker_listener_name.trim().to_ascii_uppercase();
        let found = if name.is_empty() {
            self.listeners.first()
        } else {
            self.listeners.iter().find(|l| l.name == name)
        };
        found.ok_or_else(|| {
            format!(
                "inter.broker.listener.name {name}: no such listener in listeners ({})",
                listeners_text::text(&self.listeners)
            )
        })
    }

    /// Where clients of listener number `listener` are told to connect: its
    /// `advertised.listeners` entry, else `advertised.host` (or the listener's own IP address)
    /// with the listener's port.
    pub fn advertised(&self, listener: usize) -> (String, u16) {
        let own = self.listeners.get(listener);
        if let Some(l) = own
            && let Some(endpoint) = self
                .advertised_endpoints()
                .ok()
                .and_then(|mut a| a.remove(&l.name))
        {
            return endpoint;
        }
        let address = own.map_or(self.listener(), |l| l.address);
        let host = if self.advertised_host_given || address.ip().is_unspecified() {
            self.advertised_host.clone()
        } else {
            address.ip().to_string()
        };
        (host, address.port())
    }

    /// `sasl.mechanism.inter.broker.protocol` read. Errors: a mechanism runnel does not serve.
    pub fn inter_broker_mechanism(&self) -> Result<runnel_core::sasl::Mechanism, String> {
        let name = self.sasl_mechanism_inter_broker_protocol.trim();
        runnel_core::sasl::Mechanism::from_name(&name.to_ascii_uppercase()).ok_or_else(|| {
            format!(
                "sasl.mechanism.inter.broker.protocol {name}: runnel speaks PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512"
            )
        })
    }

    /// `advertised.listeners` read: listener name → (host, port). Errors: not
    /// `NAME://host:port`, a name `listeners` does not have, a name twice, or no host (Kafka
    /// refuses advertising 0.0.0.0 too).
    pub fn advertised_endpoints(
        &self,
    ) -> Result<std::collections::BTreeMap<String, (String, u16)>, String> {
        let mut out = std::collections::BTreeMap::new();
        for part in self
            .advertised_listeners
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let bad = || format!("advertised.listeners: {part}: expected NAME://host:port");
            let (name, address) = part.split_once("://").ok_or_else(bad)?;
            let (host, port) = address.rsplit_once(':').ok_or_else(bad)?;
            let host = host.trim_matches(['[', ']']);
            let port: u16 = port.parse().map_err(|_| bad())?;
            let name = name.to_ascii_uppercase();
            if host.is_empty() || host == "0.0.0.0" || host == "::" {
                return Err(format!(
                    "advertised.listeners: {part}: advertise a host clients can reach, not every interface"
                ));
            }
            if !self.listeners.iter().any(|l| l.name == name) {
                return Err(format!(
                    "advertised.listeners: {name} is not one of listeners ({})",
                    listeners_text::text(&self.listeners)
                ));
            }
            if out.insert(name.clone(), (host.to_string(), port)).is_some() {
                return Err(format!("advertised.listeners: {name} is given twice"));
            }
        }
        Ok(out)
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
/// A security protocol of a listener (Kafka's `SecurityProtocol`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SecurityProtocol {
    /// TCP as it is.
    #[default]
    Plaintext,
    /// TLS (rustls).
    Ssl,
    /// SASL authentication over TCP.
    SaslPlaintext,
    /// SASL authentication over TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// Whether connections start with a TLS handshake.
    pub fn tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }

    /// Whether clients must authenticate with SASL first.
    pub fn sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }
}

/// One listener: its name (Kafka's, e.g. `PLAINTEXT`, `SSL`, `EXTERNAL`), address and protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    /// The listener name, upper case.
    pub name: String,
    /// Where it listens.
    pub address: SocketAddr,
    /// Its protocol (from `listener.security.protocol.map`, set by `validate`).
    pub protocol: SecurityProtocol,
}

/// `listeners` as Kafka writes it: `NAME://host:port,...`.
mod listeners_text {
    use super::{Listener, SecurityProtocol};
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        listeners: &[Listener],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&text(listeners))
    }

    /// Kafka's text: `NAME://host:port,...`.
    pub(super) fn text(listeners: &[Listener]) -> String {
        listeners
            .iter()
            .map(|l| format!("{}://{}", l.name, l.address))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<Listener>, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::parse_listeners(&text).map_err(serde::de::Error::custom)
    }

    /// The protocol is decided later, from the map; the name's own protocol until then.
    pub(super) fn guess(name: &str) -> SecurityProtocol {
        match name {
            "SSL" => SecurityProtocol::Ssl,
            "SASL_PLAINTEXT" => SecurityProtocol::SaslPlaintext,
            "SASL_SSL" => SecurityProtocol::SaslSsl,
            _ => SecurityProtocol::Plaintext,
        }
    }
}

/// Parses `listeners`: `NAME://host:port,...` (Kafka's syntax; an empty host means every
/// interface) or a bare `host:port` (one PLAINTEXT listener).
pub fn parse_listeners(text: &str) -> Result<Vec<Listener>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|part| {
            let (name, address) = match part.split_once("://") {
                None => ("PLAINTEXT".to_string(), part),
                Some((name, address)) => (name.to_ascii_uppercase(), address),
            };
            let address = if address.starts_with(':') {
                format!("0.0.0.0{address}")
            } else {
                address.to_string()
            };
            let address = address.parse().map_err(|_| {
                format!("{part}: expected NAME://host:port or host:port (an IP address)")
            })?;
            Ok(Listener {
                protocol: listeners_text::guess(&name),
                name,
                address,
            })
        })
        .collect()
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
        assert_eq!(config.listener().port(), 19092);
        assert_eq!(config.num_partitions, 6);
        assert_eq!(config.advertised_host, "127.0.0.1");
        assert_eq!(
            config.default_log_config().cleanup_policy,
            CleanupPolicy::COMPACT_DELETE
        );
        assert!(toml::from_str::<BrokerConfig>(r#""no.such.key" = 1"#).is_err());
        assert!(parse_cleanup_policy("delete,nope").is_none());
    }

    /// A validated config from string settings, or the error's text.
    fn config(pairs: &[(&str, &str)]) -> Result<BrokerConfig, String> {
        BrokerConfig::from_table(toml::Table::from_iter(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), toml::Value::String(v.to_string()))),
        ))
        .map_err(|e| e.to_string())
        .and_then(|c| c.validate().map_err(|e| e.to_string()))
    }

    /// `authorizer.class.name` turns Kafka's StandardAuthorizer on with `super.users`; other
    /// classes and malformed super users are refused at start with the key named.
    #[test]
    fn the_authorizer_takes_kafkas_settings() {
        let standard = "org.apache.kafka.metadata.authorizer.StandardAuthorizer";
        assert!(config(&[]).unwrap().authorizer().unwrap().is_none());
        let on = config(&[
            ("authorizer.class.name", standard),
            ("super.users", "User:admin;User:ops"),
        ])
        .unwrap();
        let authorizer = on.authorizer().unwrap().expect("an authorizer");
        assert_eq!(authorizer.super_users, ["User:admin", "User:ops"]);
        assert!(!authorizer.allow_everyone_if_no_acl_found);
        let refused = [
            config(&[("authorizer.class.name", "com.example.MyAuthorizer")]),
            config(&[
                ("authorizer.class.name", standard),
                ("super.users", "admin"),
            ]),
        ];
        for (result, key) in refused.iter().zip(["authorizer.class.name", "super.users"]) {
            let message = result.as_ref().expect_err("refused");
            assert!(message.contains(key), "{message}");
        }
        // A cluster node takes an authorizer: its ACLs come from the metadata log.
        config(&[
            ("authorizer.class.name", standard),
            ("controller.quorum.voters", "0@127.0.0.1:9093"),
        ])
        .unwrap();
    }

    /// Kafka's `listeners` syntax (`NAME://host:port,...`, an empty host for every interface,
    /// names mapped to protocols by `listener.security.protocol.map`); what runnel cannot
    /// serve is named.
    #[test]
    fn listeners_take_kafkas_syntax() {
        let plain = config(&[("listeners", "PLAINTEXT://127.0.0.1:39192")]).unwrap();
        assert_eq!(plain.listener(), "127.0.0.1:39192".parse().unwrap());
        let bare = config(&[("listeners", "127.0.0.1:9093")]).unwrap();
        assert_eq!(bare.listeners[0].name, "PLAINTEXT");
        let any = config(&[("listeners", "PLAINTEXT://:9092")]).unwrap();
        assert_eq!(any.listener(), "0.0.0.0:9092".parse().unwrap());
        let two = config(&[
            ("listeners", "INTERNAL://127.0.0.1:1,EXTERNAL://127.0.0.1:2"),
            (
                "listener.security.protocol.map",
                "INTERNAL:PLAINTEXT,EXTERNAL:SSL",
            ),
            ("ssl.keystore.location", "/etc/runnel/broker.pem"),
        ])
        .unwrap();
        let protocols: Vec<_> = two.listeners.iter().map(|l| l.protocol).collect();
        assert_eq!(
            protocols,
            [SecurityProtocol::Plaintext, SecurityProtocol::Ssl]
        );
        let no_keystore = config(&[("listeners", "SSL://127.0.0.1:9093")]).unwrap_err();
        assert!(
            no_keystore.contains("needs ssl.keystore.location"),
            "{no_keystore}"
        );
        let sasl = config(&[("listeners", "SASL_PLAINTEXT://127.0.0.1:9093")]).unwrap_err();
        assert!(sasl.contains("needs sasl.jaas.config"), "{sasl}");
        let jaas =
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required user_a="b";"#;
        let plain = config(&[
            ("listeners", "SASL_PLAINTEXT://127.0.0.1:9093"),
            ("sasl.jaas.config", jaas),
        ])
        .unwrap();
        assert_eq!(plain.listeners[0].protocol, SecurityProtocol::SaslPlaintext);
        // SCRAM alone needs no JAAS users: its credentials come from KIP-554.
        let scram = config(&[
            ("listeners", "SASL_PLAINTEXT://127.0.0.1:9093"),
            ("sasl.enabled.mechanisms", "SCRAM-SHA-256,SCRAM-SHA-512"),
        ])
        .unwrap();
        assert_eq!(scram.enabled_mechanisms().unwrap().len(), 2);
        let gssapi = config(&[
            ("listeners", "SASL_PLAINTEXT://127.0.0.1:9093"),
            ("sasl.enabled.mechanisms", "GSSAPI"),
        ])
        .unwrap_err();
        assert!(gssapi.contains("GSSAPI is not served"), "{gssapi}");
        let same_port = config(&[("listeners", "PLAINTEXT://127.0.0.1:1,SSL://127.0.0.1:1")]);
        assert!(same_port.unwrap_err().contains("its own name and port"));
        let unmapped = config(&[("listeners", "EXTERNAL://127.0.0.1:1")]).unwrap_err();
        assert!(
            unmapped.contains("not in listener.security.protocol.map"),
            "{unmapped}"
        );
        let jks = config(&[("ssl.keystore.type", "JKS")]).unwrap_err();
        assert!(jks.contains("runnel reads PEM keystores"), "{jks}");
    }

    /// Kafka's `inter.broker.listener.name` names a listener (default: here the first); a TLS
    /// one needs a truststore to check the other nodes, a SASL one the broker's own login.
    #[test]
    fn the_inter_broker_listener_has_what_it_needs() {
        let cluster = ("controller.quorum.voters", "0@127.0.0.1:9093");
        let two = (
            "listeners",
            "CLIENTS://127.0.0.1:9092,BROKERS://127.0.0.1:9094",
        );
        let keystore = ("ssl.keystore.location", "/etc/runnel/broker.pem");
        let ssl_map = (
            "listener.security.protocol.map",
            "CLIENTS:PLAINTEXT,BROKERS:SSL",
        );
        let default = config(&[
            two,
            (
                "listener.security.protocol.map",
                "CLIENTS:PLAINTEXT,BROKERS:PLAINTEXT",
            ),
            cluster,
        ])
        .unwrap();
        assert_eq!(default.inter_broker_listener().unwrap().name, "CLIENTS");
        let unknown = config(&[
            two,
            (
                "listener.security.protocol.map",
                "CLIENTS:PLAINTEXT,BROKERS:PLAINTEXT",
            ),
            ("inter.broker.listener.name", "OTHER"),
        ])
        .unwrap_err();
        assert!(unknown.contains("no such listener"), "{unknown}");
        let no_truststore = config(&[
            two,
            ssl_map,
            keystore,
            cluster,
            ("inter.broker.listener.name", "brokers"),
        ])
        .unwrap_err();
        assert!(
            no_truststore.contains("needs ssl.truststore.location"),
            "{no_truststore}"
        );
        let ssl = config(&[
            two,
            ssl_map,
            keystore,
            cluster,
            ("inter.broker.listener.name", "brokers"),
            ("ssl.truststore.location", "/etc/runnel/ca.pem"),
        ])
        .unwrap();
        assert_eq!(
            ssl.inter_broker_listener().unwrap().protocol,
            SecurityProtocol::Ssl
        );
        let sasl = [
            two,
            (
                "listener.security.protocol.map",
                "CLIENTS:PLAINTEXT,BROKERS:SASL_PLAINTEXT",
            ),
            cluster,
            ("inter.broker.listener.name", "BROKERS"),
        ];
        let users =
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required user_b="s";"#;
        let no_login = config(&[&sasl[..], &[("sasl.jaas.config", users)]].concat()).unwrap_err();
        assert!(no_login.contains("username="), "{no_login}");
        let login = r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="b" password="s" user_b="s";"#;
        config(&[&sasl[..], &[("sasl.jaas.config", login)]].concat()).unwrap();
        let not_enabled = config(
            &[
                &sasl[..],
                &[
                    ("sasl.jaas.config", login),
                    ("sasl.mechanism.inter.broker.protocol", "SCRAM-SHA-512"),
                ],
            ]
            .concat(),
        )
        .unwrap_err();
        assert!(
            not_enabled.contains("not in sasl.enabled.mechanisms"),
            "{not_enabled}"
        );
    }

    /// Kafka's `advertised.listeners`: per listener, what its clients are told; listeners not
    /// named advertise their own address.
    #[test]
    fn advertised_listeners_name_each_listeners_address() {
        let map = (
            "listener.security.protocol.map",
            "INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT",
        );
        let c = config(&[
            (
                "listeners",
                "INTERNAL://127.0.0.1:9092,EXTERNAL://0.0.0.0:9094",
            ),
            map,
            (
                "advertised.listeners",
                "EXTERNAL://kafka1.example.com:19094",
            ),
        ])
        .unwrap();
        assert_eq!(c.advertised(0), ("127.0.0.1".to_string(), 9092));
        assert_eq!(c.advertised(1), ("kafka1.example.com".to_string(), 19094));
        for (bad, why) in [
            ("OTHER://h:1", "is not one of listeners"),
            ("EXTERNAL://h", "expected NAME://host:port"),
            ("EXTERNAL://0.0.0.0:1", "not every interface"),
            ("EXTERNAL://a:1,EXTERNAL://b:2", "given twice"),
        ] {
            let e = config(&[
                (
                    "listeners",
                    "INTERNAL://127.0.0.1:9092,EXTERNAL://0.0.0.0:9094",
                ),
                map,
                ("advertised.listeners", bad),
            ])
            .unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
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
