//! The broker's state: topics, partitions and their logs, the group coordinator and the
//! committed offsets, with the operations the Kafka API handlers call.
//!
//! Locking: the topic map is behind a `RwLock`; each partition's log and producer state behind
//! its own `Mutex`; the group coordinator and offsets behind one `Mutex`. All are std locks,
//! because nothing awaits while holding one. Decisions are core's: this module only finds the
//! right log, carries out what core returns (fsyncs, files) and persists topic metadata.
//!
//! Topic metadata lives in `<log.dirs>/__topics/<name>.toml` (id, partition count, config
//! overrides); partition `p` of topic `t` in `<log.dirs>/t-p/`, as in Kafka. A partition's log
//! start offset (moved by DeleteRecords) is saved in `log-start-offset` beside its segments.
//! Committed offsets are records in the internal compacted topic `__consumer_offsets`, read
//! back at start.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use runnel_core::acl::{AclBinding, AclBindingFilter, AclOperation, Authorizer, ResourceType};
use runnel_core::batch::{self, BatchBuilder};
use runnel_core::broker::{
    AlterPartition, AlterPartitionOutcome, CommitEntry, CommitPlan, CoordinatorMove, HostConfig,
    HostedGroups, HostedPartition, HostedTransactions, Ready,
};
use runnel_core::controller::PartitionState as PartitionMetadata;
use runnel_core::dynamic_config::{self, DynamicBrokerConfigs, Level as DynamicLevel};
use runnel_core::error_code;
use runnel_core::group::{GroupConfig, GroupError, GroupOutput, GroupStore, ReplyToken};
use runnel_core::log::{Log, LogConfig, LogError, RecordsRefused};
use runnel_core::offsets::OffsetKey;
use runnel_core::producer_id::{ProducerIdBlock, ProducerIdCounter, ProducerIds};
use runnel_core::replica::{Acks, CleanPass, Replica, ReplicaConfig, ReplicaError, RoleChange};
use runnel_core::scram::{CredentialChange, CredentialError, ScramChange, ScramCredentials};
use runnel_core::{topic_config, topic_name};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, oneshot};

use crate::cluster::{Cluster, Entry, ProposeError};
use crate::codec::NodeCodec;
use crate::config::{BrokerConfig, cleanup_policy_name};
use crate::deadlines::{Deadlines, Wake};
use crate::metrics::Metrics;
use crate::storage::FileSegmentStore;

mod txn;

/// The internal topic that holds committed offsets.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";
/// Whether `name` is one of Kafka's internal topics, which only coordinators write.
pub fn is_internal_topic(name: &str) -> bool {
    name == OFFSETS_TOPIC || name == TXN_STATE_TOPIC
}

/// The internal topic where the transaction coordinator keeps each transactional id's state
/// (Kafka's `__transaction_state`, compacted, one partition here).
pub const TXN_STATE_TOPIC: &str = "__transaction_state";
/// How long a commit waits for the offsets topic's ISR (Kafka's offsets.commit.timeout.ms).
pub const OFFSETS_COMMIT_TIMEOUT_MS: u64 = 5_000;
/// Topic names longer than this are refused (Kafka's limit).
/// The most partitions one topic may have here: each holds three open files.
const PARTITIONS_MAX: i32 = 10_000;

/// Milliseconds since the Unix epoch: the clock handed to core.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A Kafka error code with a message for the client and the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The Kafka error code.
    pub code: i16,
    /// What went wrong, in words.
    pub message: String,
    /// The records refused, as (index in the batch, why): KIP-467's `record_errors`.
    pub record_errors: Vec<(i32, String)>,
}

impl ApiError {
    /// An error with `code` and `message`.
    pub fn new(code: i16, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            record_errors: Vec::new(),
        }
    }

    /// A batch refused for some of its records (KIP-467): the partition's message is Kafka's
    /// summary, each record error names a record and says why.
    pub fn records_refused(refused: &RecordsRefused) -> Self {
        let code = refused.kafka_error_code();
        let summary = if code == error_code::INVALID_TIMESTAMP {
            "One or more records have been rejected due to invalid timestamp"
        } else {
            "One or more records have been rejected"
        };
        Self {
            code,
            message: summary.to_string(),
            record_errors: refused
                .0
                .iter()
                .map(|r| {
                    (
                        i32::try_from(r.batch_index()).unwrap_or(i32::MAX),
                        r.to_string(),
                    )
                })
                .collect(),
        }
    }

    fn topic_exists(topic: &str) -> Self {
        Self::new(
            code::TOPIC_ALREADY_EXISTS,
            format!("topic {topic} already exists"),
        )
    }

    pub(crate) fn unknown_topic(topic: &str) -> Self {
        Self::new(
            error_code::UNKNOWN_TOPIC_OR_PARTITION,
            format!("unknown topic or partition {topic}"),
        )
    }
}

impl<E: std::fmt::Debug + std::fmt::Display> From<LogError<E>> for ApiError {
    fn from(e: LogError<E>) -> Self {
        if matches!(e, LogError::Store(_) | LogError::Corrupt { .. }) {
            tracing::error!("storage: {e}");
        }
        Self::new(e.kafka_error_code(), e.to_string())
    }
}

/// How long writes must succeed without a failure before a full disk is logged as over.
pub const STORAGE_QUIET_MS: u64 = 2_000;

/// Kafka error codes the broker itself produces (core's are in `runnel_core::error_code`).
pub mod code {
    /// The topic already exists.
    pub const TOPIC_ALREADY_EXISTS: i16 = 36;
    /// The partition count is invalid.
    pub const INVALID_PARTITIONS: i16 = 37;
    /// The replication factor is invalid.
    pub const INVALID_REPLICATION_FACTOR: i16 = 38;
    pub use runnel_core::error_code::INVALID_CONFIG;
    /// The requested API version is not supported.
    pub const UNSUPPORTED_VERSION: i16 = 35;
    /// acks is not -1, 0 or 1.
    pub const INVALID_REQUIRED_ACKS: i16 = 21;
    /// The requested timestamp or offset is invalid.
    pub const INVALID_REQUEST: i16 = 42;
    /// The operation is not allowed on an internal topic.
    pub const TOPIC_AUTHORIZATION_FAILED: i16 = 29;
    /// The partition has no leader right now (an election is pending).
    pub const LEADER_NOT_AVAILABLE: i16 = 5;
}

/// How long an ISR proposal may wait in the node before it is sent again: above the quorum's
/// own proposal timeout (5 s), which answers every proposal, so the same change is never in
/// flight twice; this only catches an answer that got lost (its task ended).
const ALTER_PARTITION_RESEND_MS: u64 = 10_000;

/// What is saved for a topic.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct TopicMeta {
    id: String,
    partitions: i32,
    #[serde(default)]
    config: BTreeMap<String, String>,
}

/// A partition: its replica (the log, the producers writing to it, its role).
#[derive(Debug)]
pub struct Partition {
    /// The topic's name (shared: fetch sessions key partitions by it without copying it).
    pub topic: Arc<str>,
    /// The partition index.
    pub index: i32,
    /// The timer's wake for this partition's next deadline ([`Broker::deadlines`]).
    wake: Wake,
    state: Mutex<PartitionState>,
}

/// What a partition's lock guards.
#[derive(Debug)]
pub struct PartitionState {
    /// This node's replica of the partition (the log, and in a cluster the core's leader or
    /// follower state over it) with core's decisions around it: every input goes through it,
    /// and what it returns is carried out by [`Broker::carry_out`].
    pub host: HostedPartition<FileSegmentStore>,
    /// acks=all produce requests waiting for the ISR, by request id.
    waiters: HashMap<u64, oneshot::Sender<Result<i64, ReplicaError>>>,
    next_request: u64,
}

impl PartitionState {
    /// What consumers may read up to: the replica's high watermark (a single node leads every
    /// partition, with itself as the ISR, so its HW is its log end).
    pub fn high_watermark(&self) -> i64 {
        self.replica().high_watermark()
    }

    /// The replica: role, HW, ISR, log.
    pub fn replica(&self) -> &Replica<FileSegmentStore> {
        self.host.replica()
    }

    /// The log.
    pub fn log(&self) -> &Log<FileSegmentStore> {
        self.replica().log()
    }

    /// The log, to change (DeleteRecords, topic configs).
    pub fn log_mut(&mut self) -> &mut Log<FileSegmentStore> {
        self.host.replica_mut().log_mut()
    }
}

impl Partition {
    /// Locks the partition. A poisoned lock (a panic while held) is taken over: the log's own
    /// invariants are re-checked by every operation.
    pub fn lock(&self) -> MutexGuard<'_, PartitionState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A topic: its partitions and config overrides.
#[derive(Debug)]
pub struct Topic {
    /// The name.
    pub name: String,
    /// The topic id (Metadata v10+).
    pub id: uuid::Uuid,
    partitions: RwLock<Vec<Arc<Partition>>>,
    overrides: Mutex<BTreeMap<String, String>>,
}

impl Topic {
    /// The partitions, in index order.
    pub fn partitions(&self) -> Vec<Arc<Partition>> {
        self.partitions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// One partition.
    pub fn partition(&self, index: i32) -> Option<Arc<Partition>> {
        let partitions = self.partitions.read().unwrap_or_else(|p| p.into_inner());
        usize::try_from(index)
            .ok()
            .and_then(|i| partitions.get(i).cloned())
    }

    /// The topic's config overrides.
    pub fn overrides(&self) -> BTreeMap<String, String> {
        self.overrides
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether this is an internal topic.
    pub fn is_internal(&self) -> bool {
        is_internal_topic(&self.name)
    }
}

/// An OffsetCommit written to `__consumer_offsets`: core's plan (what was written, what to
/// answer) and, while the ISR has not confirmed the write, what to wait for before the
/// commits may be shown ([`Broker::commit_replicated`]).
#[derive(Debug)]
pub struct Commit {
    /// Core's plan: the codes per entry and the commits the write carries.
    pub plan: CommitPlan,
    /// Resolves with the write's base offset once the ISR has it (`None`: already shown, or
    /// nothing to write).
    pub replicated: Option<Replicated>,
}

/// Saves a partition's log start offset (moved by DeleteRecords, or by a follower after its
/// leader's) in `log-start-offset` in its directory `dir`, read back at open.
fn save_log_start(dir: &Path, start: i64) -> std::io::Result<()> {
    fs::write(dir.join("log-start-offset"), start.to_string())
}

thread_local! {
    /// Inside [`Broker::appending`] on this thread: the fetches its appends want woken.
    static WAKE_DEFERRED: std::cell::Cell<Option<Wakes>> = const { std::cell::Cell::new(None) };
}

/// Which waiting fetches to wake: followers' when records were appended, consumers' when a
/// high watermark rose (what a consumer reads ends there; on a single node, or a leader alone
/// in its ISR, it rises with the append).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Wakes {
    followers: bool,
    consumers: bool,
}

impl Wakes {
    fn any(self) -> bool {
        self.followers || self.consumers
    }

    fn or(self, other: Wakes) -> Wakes {
        Wakes {
            followers: self.followers || other.followers,
            consumers: self.consumers || other.consumers,
        }
    }
}

/// The whole broker.
#[derive(Debug)]
pub struct Broker {
    /// The configuration in force.
    pub config: BrokerConfig,
    /// The claimed data directory (its lock is held while the broker lives) and cluster id.
    pub data_dir: crate::data_dir::DataDir,
    /// Compression for batches.
    pub codec: NodeCodec,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// Woken after every append, for followers' long-polling fetches.
    pub appended: Notify,
    /// Woken when a partition's high watermark rises, for consumers' long-polling fetches. A
    /// follower's fetch that raises it wakes no other follower's: they wait for records.
    pub high_watermark_rose: Notify,
    /// When the timer task must next run a partition's or the group coordinator's deadlines.
    pub deadlines: Deadlines,
    /// Incremental fetch sessions (KIP-227) of followers and consumers, by session id.
    fetch_sessions: Mutex<crate::api::FetchSessionCache>,
    topics: RwLock<BTreeMap<String, Arc<Topic>>>,
    groups: Mutex<HostedGroups>,
    /// The transaction coordinator (KIP-98), while this node leads `__transaction_state`.
    txns: Mutex<HostedTransactions>,
    /// A creation of `__transaction_state` through the quorum is under way.
    txn_state_creating: std::sync::atomic::AtomicBool,
    replies: Mutex<HashMap<ReplyToken, oneshot::Sender<GroupOutput>>>,
    next_token: AtomicU64,
    /// The block of producer ids InitProducerId hands out from (KIP-730).
    producer_ids: tokio::sync::Mutex<ProducerIds>,
    /// Cluster mode: the metadata quorum (unset on a single node).
    cluster: OnceLock<Arc<Cluster>>,
    /// Held while local topics are made to match the metadata.
    reconciling: Mutex<()>,
    /// The leader brokers a fetcher thread runs for (one per leader, Kafka's replica fetcher
    /// with `num.replica.fetchers` = 1).
    fetchers: Mutex<std::collections::HashSet<u32>>,
    /// The partitions this node follows, per leader broker, as the last [`Broker::apply_roles`]
    /// found them (the only place a follower's leader changes): each fetcher round visits
    /// these, not every partition of the node.
    followed: RwLock<HashMap<u32, Arc<[Arc<Partition>]>>>,
    /// Dynamic broker configs in force (KIP-226): saved in the data directory on a single
    /// node, from the metadata log in a cluster.
    dynamic: RwLock<DynamicBrokerConfigs>,
    /// SCRAM credentials (KIP-554): a single node's saved ones, a cluster's from its
    /// metadata log.
    scram: RwLock<ScramCredentials>,
    /// One AlterUserScramCredentials at a time, from its checks to its save, so two at once
    /// cannot each start from the old set and drop the other's change.
    scram_alter: tokio::sync::Mutex<()>,
    /// The ACL authorizer (`authorizer.class.name`) with the saved ACLs; `None`: no
    /// authorizer, every request is allowed.
    authorizer: RwLock<Option<Authorizer>>,
    /// Held by [`Broker::change_acls`] from reading the ACLs to saving and swapping them.
    acl_change: tokio::sync::Mutex<()>,
    /// How this node connects to other nodes (a cluster's inter-broker listener: TLS, SASL);
    /// `None`: PLAINTEXT.
    inter_broker: Option<Arc<crate::client::security::ClientSecurity>>,
    /// When a write to `log.dirs` last failed (ms; 0: none since the last recovery). A full
    /// disk is said once in the log when it starts and once when writes have succeeded for
    /// [`STORAGE_QUIET_MS`] without a failure, not per request, nor at each flip of a disk
    /// where small writes still fit and larger ones do not.
    storage_failed_at_ms: AtomicU64,
    /// The last process stopped cleanly (its marker was there at start): every partition
    /// present then was synced with a snapshot at its end, so its newest segment is trusted
    /// ([`Log::open_after_clean_shutdown`]).
    clean_shutdown: bool,
    /// This broker, for the tasks it spawns (an ISR proposal's answer comes back later).
    me: OnceLock<std::sync::Weak<Broker>>,
    /// The node's runtime, for those tasks when the caller is a plain thread (a plugin
    /// pipeline's produce, a fetcher thread).
    runtime: OnceLock<tokio::runtime::Handle>,
}

/// Resolves when an acks=all write is on the ISR: its base offset, or why it failed.
pub type Replicated = oneshot::Receiver<Result<i64, ReplicaError>>;

/// What a produce to one partition came to.
#[derive(Debug)]
pub enum Produced {
    /// Appended (and acknowledged as acks asked): the base offset, the log start offset and
    /// the LogAppendTime stamp (-1 on a CreateTime topic).
    Done(i64, i64, i64),
    /// Appended, waiting for the ISR (acks=all); then the base offset or why it failed. The
    /// log start offset and LogAppendTime stamp as in `Done`.
    Waiting(Replicated, i64, i64),
}

/// Where a partition is led, as the cluster's metadata says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leadership {
    /// This node leads it (or there is no cluster: the only node leads everything).
    Here,
    /// Another node leads it, or nobody does right now.
    Elsewhere,
}

impl Broker {
    /// Opens the broker's data directory: every topic and its partitions, recovering each
    /// log's tail, and the committed offsets.
    pub fn open(config: BrokerConfig) -> Result<Arc<Self>, String> {
        // Before anything is read or written: the directory must be ours alone.
        let cluster_id = (!config.quorum_voters.is_empty())
            .then(|| crate::data_dir::cluster_id_from_voters(&config.quorum_voters));
        let data_dir =
            crate::data_dir::DataDir::claim(&config.data_dir, config.node_id, cluster_id)
                .map_err(|e| e.to_string())?;
        fs::create_dir_all(meta_dir(&config.data_dir))
            .map_err(|e| format!("cannot create {}: {e}", config.data_dir.display()))?;
        let group_config = group_config(&config);
        let clean_shutdown = take_clean_shutdown_marker(&config.data_dir)?;
        let broker = Arc::new(Self {
            codec: NodeCodec,
            metrics: Metrics::default(),
            appended: Notify::new(),
            high_watermark_rose: Notify::new(),
            deadlines: Deadlines::default(),
            fetch_sessions: Mutex::new(crate::api::FetchSessionCache::new(
                runnel_core::fetch_session::MAX_SESSIONS,
                runnel_core::fetch_session::EVICTION_MS,
                // Session ids differ across restarts, so a fetcher's old id is not taken for
                // a new session.
                now_ms() ^ u64::from(std::process::id()) << 32,
            )),
            topics: RwLock::new(BTreeMap::new()),
            groups: Mutex::new(HostedGroups::new(group_config)),
            txns: Mutex::new(
                HostedTransactions::new(config.transaction_max_timeout_ms)
                    .with_id_expiration_ms(config.transactional_id_expiration_ms),
            ),
            txn_state_creating: std::sync::atomic::AtomicBool::new(false),
            replies: Mutex::new(HashMap::new()),
            next_token: AtomicU64::new(1),
            // No block until the first InitProducerId (`allocate_producer_id`).
            producer_ids: tokio::sync::Mutex::new(ProducerIds::default()),
            cluster: OnceLock::new(),
            reconciling: Mutex::new(()),
            fetchers: Mutex::new(std::collections::HashSet::new()),
            followed: RwLock::new(HashMap::new()),
            dynamic: RwLock::new(load_dynamic_configs(&config.data_dir)?),
            scram: RwLock::new(load_json(
                &scram_path(&config.data_dir),
                "SCRAM credentials",
            )?),
            scram_alter: tokio::sync::Mutex::new(()),
            authorizer: RwLock::new(load_authorizer(&config)?),
            acl_change: tokio::sync::Mutex::new(()),
            inter_broker: match config.quorum_voters.is_empty() {
                true => None,
                false => {
                    crate::client::security::ClientSecurity::inter_broker(&config)?.map(Arc::new)
                }
            },
            storage_failed_at_ms: AtomicU64::new(0),
            clean_shutdown,
            me: OnceLock::new(),
            runtime: OnceLock::new(),
            config,
            data_dir,
        });
        let _ = broker.me.set(Arc::downgrade(&broker));
        let mut names = Vec::new();
        for entry in fs::read_dir(meta_dir(&broker.config.data_dir))
            .map_err(|e| format!("cannot read topic metadata: {e}"))?
        {
            let path = entry.map_err(|e| e.to_string())?.path();
            if let Some(name) = path.file_stem().and_then(|n| n.to_str())
                && path.extension().is_some_and(|e| e == "toml")
            {
                names.push(name.to_string());
            }
        }
        for name in names {
            let path = meta_path(&broker.config.data_dir, &name);
            let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let meta: TopicMeta =
                toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            broker.load_topic(&name, meta)?;
        }
        // In a cluster the offsets topic is created through the metadata quorum.
        if broker.topic(OFFSETS_TOPIC).is_none() && broker.config.quorum_voters.is_empty() {
            let mut config = BTreeMap::new();
            config.insert("cleanup.policy".to_string(), "compact".to_string());
            broker
                .create_topic(OFFSETS_TOPIC, 1, config)
                .map_err(|e| e.message)?;
        }
        broker.elect_coordinator()?;
        if broker.config.quorum_voters.is_empty() {
            broker.elect_txn_coordinator()?;
        }
        Ok(broker)
    }

    fn load_topic(&self, name: &str, meta: TopicMeta) -> Result<Arc<Topic>, String> {
        let topic = Arc::new(Topic {
            name: name.to_string(),
            id: uuid::Uuid::parse_str(&meta.id).unwrap_or_else(|_| uuid::Uuid::nil()),
            partitions: RwLock::new(Vec::new()),
            overrides: Mutex::new(meta.config.clone()),
        });
        let log_config = self.log_config(&meta.config);
        let replica_config = self.replica_config(&meta.config);
        for index in 0..meta.partitions {
            let partition = self.open_partition(name, index, log_config.clone(), replica_config)?;
            topic
                .partitions
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .push(Arc::new(partition));
        }
        self.topics
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string(), topic.clone());
        Ok(topic)
    }

    fn open_partition(
        &self,
        topic: &str,
        index: i32,
        config: LogConfig,
        replica_config: ReplicaConfig,
    ) -> Result<Partition, String> {
        let dir = partition_dir(&self.config.data_dir, topic, index);
        let store = FileSegmentStore::open(&dir).map_err(|e| e.to_string())?;
        let opened = if self.clean_shutdown {
            Log::open_after_clean_shutdown(store, config, now_ms())
        } else {
            Log::open(store, config, now_ms())
        };
        let (mut log, cut) = opened.map_err(|e| format!("{}: {e}", dir.display()))?;
        if cut > 0 {
            tracing::warn!(
                "{}: truncated {cut} bytes of damaged or torn data at the log end; log end offset is now {}",
                dir.display(),
                log.log_end_offset()
            );
        }
        if let Ok(text) = fs::read_to_string(dir.join("log-start-offset"))
            && let Ok(offset) = text.trim().parse::<i64>()
        {
            log.restore_log_start_offset(offset);
        }
        let replica = Replica::with_log(self.config.node_id as u32, replica_config, log);
        let host_config = HostConfig {
            flush_before_ack: self.config.flush_before_ack,
            alter_partition_resend_ms: ALTER_PARTITION_RESEND_MS,
        };
        let mut host = HostedPartition::new(replica, host_config, now_ms());
        if self.cluster().is_none() && self.config.quorum_voters.is_empty() {
            // A single node is a one-replica cluster: it leads every partition, in leader
            // epoch 0, with itself as the ISR.
            let me = self.config.node_id as u32;
            let sole = PartitionMetadata {
                replicas: vec![me],
                leader: Some(me),
                leader_epoch: 0,
                isr: vec![me],
                partition_epoch: 0,
            };
            let ready = host.handle_metadata(Some(&sole), now_ms());
            debug_assert!(ready.completed.is_empty() && ready.alter_partition.is_none());
        }
        Ok(Partition {
            topic: Arc::from(topic),
            index,
            wake: Wake::default(),
            state: Mutex::new(PartitionState {
                host,
                waiters: HashMap::new(),
                next_request: 0,
            }),
        })
    }

    /// Replication settings of a topic with `overrides`: the broker's, with the topic's own
    /// `min.insync.replicas` when it has one (Kafka: the topic config wins).
    pub fn replica_config(&self, overrides: &BTreeMap<String, String>) -> ReplicaConfig {
        let dynamic = self
            .dynamic_configs()
            .value_for(self.config.node_id, "min.insync.replicas")
            .map(|(v, _)| v.to_string());
        let min_insync_replicas = overrides
            .get("min.insync.replicas")
            .or(dynamic.as_ref())
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(self.config.min_insync_replicas.max(1) as usize);
        ReplicaConfig {
            lag_time_max_ms: self.config.replica_lag_time_max_ms,
            min_insync_replicas,
            producer_id_expiration_ms: self.config.producer_id_expiration_ms,
            ..ReplicaConfig::default()
        }
    }

    /// The log configuration for a topic with `overrides` over the broker's defaults: the
    /// static configuration, then the dynamic broker configs (KIP-226), then the topic's own.
    pub fn log_config(&self, overrides: &BTreeMap<String, String>) -> LogConfig {
        let mut config = self.config.default_log_config();
        for (key, value) in self.dynamic_configs().topic_defaults(self.config.node_id) {
            // Validated when set.
            let _ = apply_config(&mut config, key, &value);
        }
        for (key, value) in overrides {
            // Values were validated when set; an unparsable one keeps the default.
            let _ = apply_config(&mut config, key, value);
        }
        config
    }

    /// A topic by name.
    pub fn topic(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    /// The fetch sessions (KIP-227), locked.
    pub fn fetch_sessions(&self) -> MutexGuard<'_, crate::api::FetchSessionCache> {
        self.fetch_sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// A topic by id.
    pub fn topic_by_id(&self, id: uuid::Uuid) -> Option<Arc<Topic>> {
        self.topics
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .find(|t| t.id == id)
            .cloned()
    }

    /// The name of every topic here.
    pub fn topic_names(&self) -> Vec<String> {
        self.topics
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    /// Every topic, by name.
    pub fn topics(&self) -> Vec<Arc<Topic>> {
        self.topics
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// One partition of one topic.
    pub fn partition(&self, topic: &str, index: i32) -> Result<Arc<Partition>, ApiError> {
        self.partition_via(&mut None, topic, index)
    }

    /// [`Broker::partition`] for a caller that reads many partitions grouped by topic:
    /// `last` holds the topic looked up last, looked up again only for another name.
    pub fn partition_via(
        &self,
        last: &mut Option<Arc<Topic>>,
        topic: &str,
        index: i32,
    ) -> Result<Arc<Partition>, ApiError> {
        if last.as_ref().is_none_or(|t| t.name != topic) {
            *last = self.topic(topic);
        }
        last.as_ref()
            .and_then(|t| t.partition(index))
            .ok_or_else(|| ApiError::unknown_topic(&format!("{topic}-{index}")))
    }

    /// Checks a new topic's name, partition count and config overrides.
    fn validate_new_topic(
        &self,
        name: &str,
        partitions: i32,
        config: &BTreeMap<String, String>,
    ) -> Result<(), ApiError> {
        // Kafka's name rule, and no collision with a topic that differs only by '.' and '_'.
        let existing = self.topic_names();
        topic_name::validate_new(name, existing.iter().map(String::as_str))
            .map_err(|e| ApiError::new(e.kafka_error_code(), e.to_string()))?;
        if !(1..=PARTITIONS_MAX).contains(&partitions) {
            return Err(ApiError::new(
                code::INVALID_PARTITIONS,
                format!("number of partitions must be between 1 and {PARTITIONS_MAX}"),
            ));
        }
        let mut probe = self.config.default_log_config();
        for (key, value) in config {
            apply_config(&mut probe, key, value)?;
        }
        validate_together(config)
    }

    /// Creates a topic (CreateTopics, auto-creation): through the metadata quorum in cluster
    /// mode (`replication_factor` -1: `default.replication.factor`), else here (where only 1
    /// or -1 is possible). `validate_only` (CreateTopics' flag) checks everything a creation
    /// would — name, partitions, replication factor, configs, an existing topic — and creates
    /// nothing.
    pub async fn create_topic_anywhere(
        self: &Arc<Self>,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        config: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<(), ApiError> {
        let Some(cluster) = self.cluster() else {
            if !matches!(replication_factor, -1 | 1) {
                return Err(ApiError::new(
                    code::INVALID_REPLICATION_FACTOR,
                    format!(
                        "replication factor {replication_factor} is larger than the 1 available broker"
                    ),
                ));
            }
            if validate_only {
                if self.topic(name).is_some() {
                    return Err(ApiError::topic_exists(name));
                }
                return self.validate_new_topic(name, partitions, &config);
            }
            return self.create_topic(name, partitions, config).map(drop);
        };
        self.validate_new_topic(name, partitions, &config)?;
        let replication_factor = if replication_factor == -1 {
            self.config.default_replication_factor
        } else {
            replication_factor
        };
        if replication_factor < 1 {
            return Err(ApiError::new(
                code::INVALID_REPLICATION_FACTOR,
                "the replication factor must be at least 1",
            ));
        }
        if validate_only {
            let image = cluster.image();
            if image.topics.contains_key(name) {
                return Err(ApiError::topic_exists(name));
            }
            let live = image.controller.live_brokers().len();
            if usize::from(replication_factor as u16) > live {
                return Err(ApiError::new(
                    code::INVALID_REPLICATION_FACTOR,
                    format!(
                        "replication factor {replication_factor} is larger than the {live} live brokers"
                    ),
                ));
            }
            return Ok(());
        }
        let id = uuid::Uuid::from_u64_pair(
            now_ms(),
            self.next_token.fetch_add(1, Ordering::Relaxed) ^ (u64::from(cluster.node_id) << 56),
        );
        let entry = Entry::CreateTopic {
            name: name.to_string(),
            id: *id.as_bytes(),
            partitions: partitions as u32,
            replication_factor: replication_factor as u16,
            config,
        };
        match cluster.propose(entry).await {
            Ok(()) => {
                self.reconcile_in_background().await;
                Ok(())
            }
            Err(e) if e.contains("already exists") => {
                Err(ApiError::new(code::TOPIC_ALREADY_EXISTS, e))
            }
            Err(e) if e.contains("cannot place") => {
                Err(ApiError::new(code::INVALID_REPLICATION_FACTOR, e))
            }
            Err(e) => Err(ApiError::new(error_code::REQUEST_TIMED_OUT, e)),
        }
    }

    /// Deletes a topic: through the metadata quorum in cluster mode, else here.
    pub async fn delete_topic_anywhere(self: &Arc<Self>, name: &str) -> Result<(), ApiError> {
        let Some(cluster) = self.cluster() else {
            return self.delete_topic(name);
        };
        if is_internal_topic(name) {
            return self.delete_topic(name);
        }
        match cluster
            .propose(Entry::DeleteTopic {
                name: name.to_string(),
            })
            .await
        {
            Ok(()) => {
                self.reconcile_in_background().await;
                Ok(())
            }
            Err(e) if e.starts_with("unknown topic") => Err(ApiError::unknown_topic(name)),
            Err(e) => Err(ApiError::new(error_code::REQUEST_TIMED_OUT, e)),
        }
    }

    /// Grows a topic to `count` partitions (CreatePartitions): through the metadata quorum in
    /// cluster mode (every node opens the new partitions, the controller places their
    /// replicas), else here. `validate_only` checks and changes nothing. Errors:
    /// UNKNOWN_TOPIC_OR_PARTITION, INVALID_PARTITIONS (not larger than now, or above
    /// runnel's limit), INVALID_REPLICATION_FACTOR (too few live brokers to place them),
    /// REQUEST_TIMED_OUT (no quorum).
    pub async fn create_partitions_anywhere(
        self: &Arc<Self>,
        name: &str,
        count: i32,
        validate_only: bool,
    ) -> Result<(), ApiError> {
        let current = match self.cluster() {
            Some(cluster) => cluster.image().topics.get(name).map(|t| t.partitions.len()),
            None => self.topic(name).map(|t| t.partitions().len()),
        }
        .ok_or_else(|| ApiError::unknown_topic(name))? as i32;
        // Kafka's `ReplicationControlManager.createPartitions`: "Topic already has N
        // partition(s)." / "The topic ... currently has N partition(s); N is not a valid
        // partition count."
        if count <= current || count > PARTITIONS_MAX {
            return Err(ApiError::new(
                code::INVALID_PARTITIONS,
                format!(
                    "topic {name} has {current} partition{}; the new count must be larger (and at most {PARTITIONS_MAX})",
                    if current == 1 { "" } else { "s" }
                ),
            ));
        }
        if validate_only {
            return Ok(());
        }
        let Some(cluster) = self.cluster() else {
            return self.create_partitions(name, count);
        };
        let entry = Entry::CreatePartitions {
            name: name.to_string(),
            count: count as u32,
        };
        match cluster.propose(entry).await {
            Ok(()) => {
                self.reconcile_in_background().await;
                Ok(())
            }
            Err(e) if e.starts_with("unknown topic") => Err(ApiError::unknown_topic(name)),
            Err(e) if e.starts_with("invalid partitions") => {
                Err(ApiError::new(code::INVALID_PARTITIONS, e))
            }
            Err(e) if e.contains("cannot place") => {
                Err(ApiError::new(code::INVALID_REPLICATION_FACTOR, e))
            }
            Err(e) => Err(ApiError::new(error_code::REQUEST_TIMED_OUT, e)),
        }
    }

    /// Joins a cluster: from now on topics come from its metadata.
    pub fn set_cluster(self: &Arc<Self>, cluster: Arc<Cluster>) {
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let _ = self.runtime.set(runtime);
        }
        let _ = self.cluster.set(cluster);
        self.reconcile();
    }

    /// The cluster, in cluster mode.
    pub fn cluster(&self) -> Option<&Arc<Cluster>> {
        self.cluster.get()
    }

    /// Whether this node leads a partition now (always, on a single node): its core replica's
    /// role, which follows the metadata this node has applied since it registered (not the
    /// image alone, which after a restart says what the old log said).
    pub fn leadership(&self, topic: &str, index: i32) -> Leadership {
        if self.cluster().is_none() {
            return Leadership::Here;
        }
        match self.partition(topic, index) {
            Ok(p) if p.lock().replica().is_leader() => Leadership::Here,
            _ => Leadership::Elsewhere,
        }
    }

    /// [`Broker::reconcile`] on the blocking pool, for async callers: creating a topic's
    /// partitions may take seconds of file work, and a runtime worker blocked that long holds
    /// up every connection it serves and the metadata quorum's own driver (whose missed
    /// heartbeats then elect another controller under a CreateTopics still waiting).
    pub async fn reconcile_in_background(self: &Arc<Self>) {
        let broker = self.clone();
        let _ = tokio::task::spawn_blocking(move || broker.reconcile()).await;
    }

    /// Cluster mode: makes the topics on this node match the metadata (creating the logs of
    /// new topics, deleting those of deleted ones).
    pub fn reconcile(self: &Arc<Self>) {
        let Some(cluster) = self.cluster() else {
            return;
        };
        if !cluster.caught_up() {
            return; // replaying the metadata log after a restart: nothing is known yet
        }
        let _guard = self.reconciling.lock().unwrap_or_else(|p| p.into_inner());
        let dynamic = cluster.image().dynamic.clone();
        if dynamic != *self.dynamic_configs() {
            self.set_dynamic_configs(dynamic);
        }
        let scram = cluster.image().scram.clone();
        if scram != *self.scram_credentials() {
            *self.scram.write().unwrap_or_else(|p| p.into_inner()) = scram;
        }
        {
            let image = cluster.image();
            let mut guard = self.authorizer.write().unwrap_or_else(|p| p.into_inner());
            if let Some(authorizer) = guard.as_mut()
                && !authorizer.acls().eq(image.acls.iter())
            {
                let stale: Vec<AclBinding> = authorizer.acls().cloned().collect();
                for binding in &stale {
                    authorizer.remove(binding);
                }
                for binding in &image.acls {
                    authorizer.add(binding.clone());
                }
            }
        }
        let wanted: Vec<(String, crate::cluster::TopicImage)> = cluster
            .image()
            .topics
            .iter()
            .map(|(n, t)| (n.clone(), t.clone()))
            .collect();
        for local in self.topics() {
            let keep = wanted
                .iter()
                .any(|(n, t)| *n == local.name && t.id == local.id)
                || (local.is_internal() && !wanted.iter().any(|(n, _)| *n == local.name));
            if !keep {
                self.drop_topic(&local.name);
            }
        }
        for (name, t) in wanted {
            if let Some(local) = self.topic(&name) {
                // CreatePartitions grew the topic: its new partitions are opened here, and
                // `apply_roles` below gives each its role.
                let count = t.partitions.len() as i32;
                if local.id == t.id && (local.partitions().len() as i32) < count {
                    match self.create_partitions(&name, count) {
                        Ok(()) => tracing::info!("topic {name}: {count} partitions"),
                        Err(e) => tracing::error!(
                            "topic {name}: cannot open its new partitions here: {}",
                            e.message
                        ),
                    }
                }
                if local.id == t.id && local.overrides() != t.config {
                    match self.set_topic_overrides(&local, t.config.clone()) {
                        Ok(()) => tracing::info!("topic {name}: configs {:?}", t.config),
                        Err(e) => {
                            tracing::error!("topic {name}: configs not applied: {}", e.message)
                        }
                    }
                }
            } else {
                let meta = TopicMeta {
                    id: t.id.to_string(),
                    partitions: t.partitions.len() as i32,
                    config: t.config.clone(),
                };
                let created = self
                    .save_meta(&name, &meta)
                    .map_err(|e| e.message)
                    .and_then(|()| self.load_topic(&name, meta));
                match created {
                    Ok(_) => tracing::info!("topic {name} from the metadata log"),
                    Err(e) => tracing::error!("cannot create topic {name} here: {e}"),
                }
            }
        }
        self.apply_roles(cluster);
    }

    /// Creates a topic here (a single node's CreateTopics and auto-creation).
    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        config: BTreeMap<String, String>,
    ) -> Result<Arc<Topic>, ApiError> {
        self.validate_new_topic(name, partitions, &config)?;
        // Held across creation so two racing creates cannot both succeed.
        let topics = self.topics.write().unwrap_or_else(|p| p.into_inner());
        if topics.contains_key(name) {
            return Err(ApiError::topic_exists(name));
        }
        drop(topics);
        let meta = TopicMeta {
            id: uuid::Uuid::from_u64_pair(
                now_ms(),
                self.next_token.fetch_add(1, Ordering::Relaxed),
            )
            .to_string(),
            partitions,
            config,
        };
        self.save_meta(name, &meta)?;
        let topic = self
            .load_topic(name, meta)
            .map_err(|e| ApiError::new(error_code::KAFKA_STORAGE_ERROR, e))?;
        let noun = if partitions == 1 {
            "partition"
        } else {
            "partitions"
        };
        tracing::info!("created topic {name} with {partitions} {noun}");
        Ok(topic)
    }

    /// A partition this node leads: NOT_LEADER_OR_FOLLOWER if another node leads it (cluster
    /// mode), so the client refreshes its metadata and goes there.
    pub fn led_partition(&self, topic: &str, index: i32) -> Result<Arc<Partition>, ApiError> {
        let partition = self.partition(topic, index)?;
        match self.leadership(topic, index) {
            Leadership::Here => Ok(partition),
            Leadership::Elsewhere => Err(ApiError::new(
                error_code::NOT_LEADER_OR_FOLLOWER,
                format!("this node does not lead {topic}-{index}"),
            )),
        }
    }

    /// Creates a topic on first use if `auto.create.topics.enable`, with `num.partitions`.
    pub fn topic_or_create(&self, name: &str, allow_create: bool) -> Result<Arc<Topic>, ApiError> {
        if let Some(topic) = self.topic(name) {
            return Ok(topic);
        }
        // In a cluster a topic is created through the quorum (Metadata does that).
        if !(allow_create && self.config.auto_create_topics) || self.cluster().is_some() {
            return Err(ApiError::unknown_topic(name));
        }
        match self.create_topic(name, self.config.num_partitions, BTreeMap::new()) {
            Err(e) if e.code == code::TOPIC_ALREADY_EXISTS => self
                .topic(name)
                .ok_or_else(|| ApiError::unknown_topic(name)),
            other => other,
        }
    }

    fn save_meta(&self, name: &str, meta: &TopicMeta) -> Result<(), ApiError> {
        let path = meta_path(&self.config.data_dir, name);
        let text = toml::to_string(meta)
            .map_err(|e| ApiError::new(error_code::KAFKA_STORAGE_ERROR, e.to_string()))?;
        // A short temporary name: `<249-character name>.toml.tmp` would pass 255 bytes.
        let tmp = meta_dir(&self.config.data_dir).join(format!(".{}.tmp", meta.id));
        fs::write(&tmp, text)
            .and_then(|()| fs::rename(&tmp, &path))
            .map_err(|e| {
                ApiError::new(
                    error_code::KAFKA_STORAGE_ERROR,
                    format!("{}: {e}", path.display()),
                )
            })
    }

    fn topic_meta(&self, topic: &Topic) -> TopicMeta {
        TopicMeta {
            id: topic.id.to_string(),
            partitions: topic.partitions().len() as i32,
            config: topic.overrides(),
        }
    }

    /// Deletes a topic, its files and every group's commits for it.
    pub fn delete_topic(&self, name: &str) -> Result<(), ApiError> {
        if is_internal_topic(name) {
            return Err(ApiError::new(
                code::TOPIC_AUTHORIZATION_FAILED,
                "internal topics cannot be deleted",
            ));
        }
        if self.topic(name).is_none() {
            return Err(ApiError::unknown_topic(name));
        }
        self.drop_topic(name);
        Ok(())
    }

    /// Removes a topic here: its partitions' files, its metadata file and its commits.
    fn drop_topic(&self, name: &str) {
        let Some(topic) = self
            .topics
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name)
        else {
            return;
        };
        let _ = fs::remove_file(meta_path(&self.config.data_dir, name));
        for partition in topic.partitions() {
            let mut state = partition.lock();
            // Core answers the acks=all writes waiting on it (UNKNOWN_TOPIC_OR_PARTITION) and
            // wakes the fetches waiting here, which find the topic gone: Kafka's
            // `ReplicaManager.stopPartitions` completes both, neither waits out its timeout.
            let ready = state.host.handle_deleted();
            let _ = self.carry_out(&partition, &mut state, ready);
            // Before the files go, so the flusher renames no snapshot into the directory
            // being removed.
            state.log_mut().store_mut().cancel_unpublished_snapshots();
            let _ = fs::remove_dir_all(partition_dir(&self.config.data_dir, name, partition.index));
        }
        // Tombstones for every group's commits of it (Kafka's `onPartitionsDeleted`), on the
        // node that coordinates groups (the leader of `__consumer_offsets`; elsewhere the
        // groups hold none): a restart or a new coordinator reads them as deleted.
        let forgotten = self.lock_groups().forget_topic(name);
        let keys: Vec<Vec<u8>> = forgotten
            .iter()
            .map(runnel_core::offsets::encode_key)
            .collect();
        if let Err(e) = self.write_tombstones(&keys) {
            tracing::warn!(
                "deleted topic {name}: {} commits not tombstoned in {OFFSETS_TOPIC}: {}",
                keys.len(),
                e.message
            );
        }
        tracing::info!("deleted topic {name}");
    }

    /// Grows a topic to `count` partitions (CreatePartitions).
    pub fn create_partitions(&self, name: &str, count: i32) -> Result<(), ApiError> {
        let topic = self
            .topic(name)
            .ok_or_else(|| ApiError::unknown_topic(name))?;
        let current = topic.partitions().len() as i32;
        if count <= current || count > PARTITIONS_MAX {
            return Err(ApiError::new(
                code::INVALID_PARTITIONS,
                format!(
                    "topic {name} has {current} partition{}; the new count must be larger",
                    if current == 1 { "" } else { "s" }
                ),
            ));
        }
        let log_config = self.log_config(&topic.overrides());
        let replica_config = self.replica_config(&topic.overrides());
        for index in current..count {
            let partition = self
                .open_partition(name, index, log_config.clone(), replica_config)
                .map_err(|e| ApiError::new(error_code::KAFKA_STORAGE_ERROR, e))?;
            topic
                .partitions
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .push(Arc::new(partition));
        }
        self.save_meta(name, &self.topic_meta(&topic))
    }

    /// Sets (`Some`) or removes (`None`) topic config overrides, all or nothing. In a
    /// cluster the new overrides go through the metadata log, so every node — the leaders
    /// above all, which enforce `min.insync.replicas` — and the controller (which reads
    /// `unclean.leader.election.enable`) apply the same ones.
    pub async fn alter_topic_config(
        self: &Arc<Self>,
        name: &str,
        changes: &[(String, Option<String>)],
        replace_all: bool,
        validate_only: bool,
    ) -> Result<(), ApiError> {
        let topic = self
            .topic(name)
            .ok_or_else(|| ApiError::unknown_topic(name))?;
        let mut overrides = if replace_all {
            BTreeMap::new()
        } else {
            topic.overrides()
        };
        for (key, value) in changes {
            match value {
                Some(v) => {
                    overrides.insert(key.clone(), v.clone());
                }
                None => {
                    overrides.remove(key);
                }
            }
        }
        let mut probe = self.config.default_log_config();
        for (key, value) in &overrides {
            apply_config(&mut probe, key, value)?;
        }
        validate_together(&overrides)?;
        if validate_only {
            return Ok(());
        }
        let Some(cluster) = self.cluster() else {
            return self.set_topic_overrides(&topic, overrides);
        };
        let entry = Entry::AlterTopicConfig {
            name: name.to_string(),
            config: overrides,
        };
        match cluster.propose(entry).await {
            Ok(()) => {
                self.reconcile_in_background().await;
                Ok(())
            }
            Err(e) if e.starts_with("unknown topic") => Err(ApiError::unknown_topic(name)),
            Err(e) => Err(ApiError::new(error_code::REQUEST_TIMED_OUT, e)),
        }
    }

    /// The SCRAM credentials in force.
    pub fn scram_credentials(&self) -> std::sync::RwLockReadGuard<'_, ScramCredentials> {
        self.scram.read().unwrap_or_else(|p| p.into_inner())
    }

    /// AlterUserScramCredentials (KIP-554): core checks every change as Kafka's controller
    /// does; the accepted ones are saved (a single node) or go through the metadata log (a
    /// cluster, so every node authenticates with them). Returns each named user with its
    /// outcome, in request order. Errors: the metadata quorum did not take the change
    /// (REQUEST_TIMED_OUT), or the file could not be written (KAFKA_STORAGE_ERROR); then
    /// nothing changed.
    pub async fn alter_scram_credentials(
        self: &Arc<Self>,
        changes: &[CredentialChange],
    ) -> Result<Vec<(String, Result<(), CredentialError>)>, ApiError> {
        let _one_at_a_time = self.scram_alter.lock().await;
        let outcome = self.scram_credentials().validate(changes);
        let accepted: Vec<ScramChange> = outcome
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok().cloned())
            .collect();
        if !accepted.is_empty() {
            match self.cluster() {
                None => {
                    let mut scram = self.scram_credentials().clone();
                    for change in &accepted {
                        scram.apply(change);
                    }
                    save_json(&scram_path(&self.config.data_dir), &scram)?;
                    *self.scram.write().unwrap_or_else(|p| p.into_inner()) = scram;
                }
                Some(cluster) => {
                    cluster
                        .propose(Entry::AlterScramCredentials {
                            changes: accepted.clone(),
                        })
                        .await
                        .map_err(|e| ApiError::new(error_code::REQUEST_TIMED_OUT, e))?;
                    self.reconcile_in_background().await;
                }
            }
            for change in &accepted {
                let what = if change.credential.is_some() {
                    "set"
                } else {
                    "removed"
                };
                tracing::info!(
                    "SCRAM credential {what}: user {} ({})",
                    change.user,
                    change.mechanism.name()
                );
            }
        }
        Ok(outcome
            .into_iter()
            .map(|(user, r)| (user, r.map(|_| ())))
            .collect())
    }

    /// Whether `principal` connecting from `host` (an IP address) may do `operation` on
    /// `resource_type`/`name`: always without an authorizer, else core's
    /// [`Authorizer::authorize`]. A refusal is logged with the principal, the operation and
    /// the resource, as Kafka's authorizer logger does.
    pub fn authorize(
        &self,
        principal: &str,
        host: &str,
        operation: AclOperation,
        resource_type: ResourceType,
        name: &str,
    ) -> bool {
        let allowed = self.authorize_quietly(principal, host, operation, resource_type, name);
        if !allowed {
            tracing::info!(
                "principal {principal} from {host} denied {} on {} {name}",
                operation.name(),
                resource_type.name()
            );
        }
        allowed
    }

    /// [`Broker::authorize`] without logging a refusal.
    pub fn authorize_quietly(
        &self,
        principal: &str,
        host: &str,
        operation: AclOperation,
        resource_type: ResourceType,
        name: &str,
    ) -> bool {
        let guard = self.authorizer.read().unwrap_or_else(|p| p.into_inner());
        guard
            .as_ref()
            .is_none_or(|a| a.authorize(principal, host, operation, resource_type, name))
    }

    /// Kafka's `authorizeByResourceType` ([`Authorizer::authorize_by_resource_type`]); always
    /// without an authorizer.
    pub fn authorize_any(
        &self,
        principal: &str,
        host: &str,
        operation: AclOperation,
        resource_type: ResourceType,
    ) -> bool {
        let guard = self.authorizer.read().unwrap_or_else(|p| p.into_inner());
        guard
            .as_ref()
            .is_none_or(|a| a.authorize_by_resource_type(principal, host, operation, resource_type))
    }

    /// The KIP-430 authorized-operations bits of a resource for `principal` from `host`:
    /// every operation the type supports without an authorizer.
    pub fn authorized_operations(
        &self,
        principal: &str,
        host: &str,
        resource_type: ResourceType,
        name: &str,
    ) -> i32 {
        let guard = self.authorizer.read().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            None => runnel_core::acl::authorized_operations(resource_type),
            Some(a) => a.authorized_operations(principal, host, resource_type, name),
        }
    }

    /// Whether an authorizer is configured (else the ACL APIs answer SECURITY_DISABLED).
    pub fn has_authorizer(&self) -> bool {
        self.authorizer
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// The ACLs `filter` selects (DescribeAcls); `None` without an authorizer.
    pub fn acls(&self, filter: &AclBindingFilter) -> Option<Vec<AclBinding>> {
        let guard = self.authorizer.read().unwrap_or_else(|p| p.into_inner());
        guard
            .as_ref()
            .map(|a| a.matching(filter).cloned().collect())
    }

    /// CreateAcls and DeleteAcls: adds `create`, removes what any of `delete` selects; on a
    /// single node the result is saved in the data directory before it takes effect, in a
    /// cluster it goes through the metadata log (the exact bindings added and removed, as
    /// Kafka's controller writes them) so every node enforces it. Returns, per delete filter,
    /// every binding it selected (each filter against the ACLs as they were, as Kafka's
    /// `AclControlManager.deleteAcls`). Errors: no authorizer (SECURITY_DISABLED), the file
    /// could not be written (KAFKA_STORAGE_ERROR) or the metadata quorum did not take the
    /// change (REQUEST_TIMED_OUT); then nothing changed.
    pub async fn change_acls(
        self: &Arc<Self>,
        create: &[AclBinding],
        delete: &[AclBindingFilter],
    ) -> Result<Vec<Vec<AclBinding>>, ApiError> {
        // One change at a time, from reading the ACLs to swapping them; requests keep being
        // authorized (read lock) while the change is saved.
        let _one_at_a_time = self.acl_change.lock().await;
        let current = self
            .authorizer
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| {
                ApiError::new(
                    error_code::SECURITY_DISABLED,
                    "No Authorizer is configured.",
                )
            })?;
        let mut next = current.clone();
        let added: Vec<AclBinding> = create
            .iter()
            .filter(|b| next.add((*b).clone()))
            .cloned()
            .collect();
        let selected: Vec<Vec<AclBinding>> = delete
            .iter()
            .map(|f| current.matching(f).cloned().collect())
            .collect();
        let mut removed = Vec::new();
        for f in delete {
            removed.extend(next.remove_matching(f));
        }
        if next != current {
            match self.cluster() {
                None => {
                    let bindings: Vec<&AclBinding> = next.acls().collect();
                    save_json(&acls_path(&self.config.data_dir), &bindings)?;
                    *self.authorizer.write().unwrap_or_else(|p| p.into_inner()) = Some(next);
                }
                Some(cluster) => {
                    cluster
                        .propose(Entry::AlterAcls {
                            create: added.clone(),
                            delete: removed.clone(),
                        })
                        .await
                        .map_err(|e| ApiError::new(error_code::REQUEST_TIMED_OUT, e))?;
                    self.reconcile_in_background().await;
                }
            }
            for binding in &added {
                tracing::info!("ACL added: {}", describe_acl(binding));
            }
            for binding in &removed {
                tracing::info!("ACL removed: {}", describe_acl(binding));
            }
        }
        Ok(selected)
    }

    /// The dynamic broker configs in force.
    pub fn dynamic_configs(&self) -> std::sync::RwLockReadGuard<'_, DynamicBrokerConfigs> {
        self.dynamic.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets (`Some`) or removes (`None`) dynamic broker configs (KIP-226) on the BROKER
    /// resource `resource_name`: "" for the cluster-wide default, a broker id for that
    /// broker's own; all or nothing (core's `dynamic_config`). `replace_all` (AlterConfigs)
    /// replaces the level's whole set. Every topic's logs take the new defaults at once; in a
    /// cluster the change goes through the metadata log, so every node applies it.
    ///
    /// # Errors
    /// INVALID_REQUEST for a name that is not "" or a broker id (on a single node: this
    /// node's); INVALID_CONFIG for a config that is not dynamic or a bad value;
    /// REQUEST_TIMED_OUT when the quorum does not answer.
    pub async fn alter_broker_config(
        self: &Arc<Self>,
        resource_name: &str,
        changes: &[(String, Option<String>)],
        replace_all: bool,
        validate_only: bool,
    ) -> Result<(), ApiError> {
        let level = match resource_name.trim() {
            "" => DynamicLevel::ClusterDefault,
            id => match id.parse::<i32>() {
                Ok(id) if id == self.config.node_id || (self.cluster().is_some() && id >= 0) => {
                    DynamicLevel::Broker(id)
                }
                _ => {
                    return Err(ApiError::new(
                        error_code::INVALID_REQUEST,
                        format!("broker {id}: not a broker of this cluster"),
                    ));
                }
            },
        };
        let mut dynamic = self.dynamic_configs().clone();
        let mut configs = if replace_all {
            BTreeMap::new()
        } else {
            dynamic.at(level)
        };
        for (key, value) in changes {
            match value {
                Some(v) => configs.insert(key.clone(), v.clone()),
                None => configs.remove(key),
            };
        }
        dynamic
            .set(level, configs.clone())
            .map_err(|e| ApiError::new(e.kafka_error_code(), e.to_string()))?;
        if validate_only {
            return Ok(());
        }
        let Some(cluster) = self.cluster() else {
            save_dynamic_configs(&self.config.data_dir, &dynamic)?;
            self.set_dynamic_configs(dynamic);
            return Ok(());
        };
        match cluster
            .propose(Entry::AlterBrokerConfigs {
                level,
                config: configs,
            })
            .await
        {
            Ok(()) => {
                self.reconcile_in_background().await;
                Ok(())
            }
            Err(e) => Err(ApiError::new(error_code::REQUEST_TIMED_OUT, e)),
        }
    }

    /// Puts new dynamic broker configs in force: every topic's logs and replicas take the
    /// defaults they now give.
    fn set_dynamic_configs(&self, dynamic: DynamicBrokerConfigs) {
        *self.dynamic.write().unwrap_or_else(|p| p.into_inner()) = dynamic;
        for topic in self.topics() {
            // The topics' own overrides are unchanged: nothing to save.
            self.apply_topic_configs(&topic);
        }
        tracing::info!("dynamic broker configs: {:?}", self.dynamic_configs());
    }

    /// Puts a topic's validated overrides in force here: saved, and in every partition's log
    /// and replica settings.
    fn set_topic_overrides(
        &self,
        topic: &Topic,
        overrides: BTreeMap<String, String>,
    ) -> Result<(), ApiError> {
        *topic.overrides.lock().unwrap_or_else(|p| p.into_inner()) = overrides;
        self.save_meta(&topic.name, &self.topic_meta(topic))?;
        self.apply_topic_configs(topic);
        Ok(())
    }

    /// Puts the configs a topic gets (its overrides over the broker's defaults) in force in
    /// every partition's log and replica.
    fn apply_topic_configs(&self, topic: &Topic) {
        let overrides = topic.overrides();
        let log_config = self.log_config(&overrides);
        let replica_config = self.replica_config(&overrides);
        for partition in topic.partitions() {
            let mut state = partition.lock();
            state.log_mut().set_config(log_config.clone());
            state.host.replica_mut().set_config(replica_config);
        }
    }

    /// Every Kafka topic config of topic `name` as DescribeConfigs shows it. The source is the
    /// topic's own override, else the broker's setting when it differs from Kafka's default
    /// (STATIC_BROKER_CONFIG), else Kafka's default; the synonyms list every level that sets
    /// it, the one in effect first (KIP-226): the topic's override, then the broker's setting
    /// under its broker name (`log.retention.ms`), or Kafka's default under that name.
    pub fn describe_topic_config(&self, name: &str) -> Result<Vec<DescribedConfig>, ApiError> {
        let topic = self
            .topic(name)
            .ok_or_else(|| ApiError::unknown_topic(name))?;
        let overrides = topic.overrides();
        let broker_defaults = self.log_config(&BTreeMap::new());
        Ok(topic_config::TOPIC_CONFIGS
            .iter()
            .map(|def| {
                let key = def.name;
                let broker_name = def.broker_synonym.unwrap_or(key);
                let (broker_value, broker_source) = self.broker_default(def, &broker_defaults);
                let mut synonyms = Vec::new();
                if let Some(v) = overrides.get(key) {
                    synonyms.push((key.to_string(), v.clone(), ConfigSource::Topic));
                }
                // One synonym per name, as Kafka lists them: the broker's setting (or, when it
                // has none, Kafka's default) under the broker name.
                synonyms.push((broker_name.to_string(), broker_value.clone(), broker_source));
                let (value, source) = match overrides.get(key) {
                    Some(v) => (v.clone(), ConfigSource::Topic),
                    None => (broker_value, broker_source),
                };
                DescribedConfig {
                    name: key.to_string(),
                    value,
                    source,
                    synonyms,
                    read_only: false,
                    config_type: def.kind.kafka_config_type(),
                }
            })
            .collect())
    }

    /// What this broker gives a topic that does not set `def`: its own setting (from `log`, the
    /// log config new topics get) when that differs from Kafka's default (STATIC_BROKER_CONFIG),
    /// else Kafka's default.
    fn broker_default(
        &self,
        def: &topic_config::TopicConfigDef,
        log: &LogConfig,
    ) -> (String, ConfigSource) {
        if let Some((value, level)) = def.broker_synonym.and_then(|name| {
            self.dynamic_configs()
                .value_for(self.config.node_id, name)
                .map(|(v, l)| (v.to_string(), l))
        }) {
            let source = match level {
                DynamicLevel::ClusterDefault => ConfigSource::DynamicDefault,
                DynamicLevel::Broker(_) => ConfigSource::DynamicBroker,
            };
            return (value, source);
        }
        let value = match def.name {
            "min.insync.replicas" => Some(self.config.min_insync_replicas.max(1).to_string()),
            "unclean.leader.election.enable" => {
                Some(self.config.unclean_leader_election.to_string())
            }
            other => config_value(log, other),
        };
        match value {
            Some(v) if v != def.default => (v, ConfigSource::Broker),
            _ => (def.default.to_string(), ConfigSource::Default),
        }
    }

    /// The broker's configs for DescribeConfigs on a BROKER resource named `resource_name`.
    /// This node's id: runnel's own settings, then the broker-level synonym of every Kafka
    /// topic config (`log.retention.ms`, `message.max.bytes`, ...) at the value this broker
    /// gives new topics, with its source (dynamic, STATIC_BROKER_CONFIG when the file differs
    /// from the default, else DEFAULT_CONFIG). "": the cluster-wide dynamic defaults set so
    /// far, as Kafka lists that resource.
    ///
    /// # Errors
    /// INVALID_REQUEST for another node's id or a name that is not an id (Kafka answers a
    /// broker resource only on that broker).
    pub fn describe_broker_config(
        &self,
        resource_name: &str,
    ) -> Result<Vec<DescribedConfig>, ApiError> {
        if !resource_name.is_empty() && resource_name != self.config.node_id.to_string() {
            return Err(ApiError::new(
                error_code::INVALID_REQUEST,
                format!(
                    "broker {resource_name}: this is node {}; ask that broker for its configs",
                    self.config.node_id
                ),
            ));
        }
        if resource_name.is_empty() {
            // The cluster-wide default resource holds only what was set on it, as in Kafka.
            return Ok(self
                .dynamic_configs()
                .cluster_default
                .iter()
                .map(|(name, value)| DescribedConfig {
                    name: name.clone(),
                    value: value.clone(),
                    source: ConfigSource::DynamicDefault,
                    synonyms: vec![(name.clone(), value.clone(), ConfigSource::DynamicDefault)],
                    read_only: false,
                    config_type: broker_config_type(name),
                })
                .collect());
        }
        let defaults: BTreeMap<String, String> =
            BrokerConfig::default().settings().into_iter().collect();
        let mut out: BTreeMap<String, (String, ConfigSource)> = self
            .config
            .settings()
            .into_iter()
            .map(|(k, v)| {
                let source = if defaults.get(&k) == Some(&v) {
                    ConfigSource::Default
                } else {
                    ConfigSource::Broker
                };
                (k, (v, source))
            })
            .collect();
        let log = self.log_config(&BTreeMap::new());
        for def in topic_config::TOPIC_CONFIGS {
            let Some(synonym) = def.broker_synonym else {
                continue;
            };
            // The value a topic gets, with its level: dynamic, static or Kafka's default.
            out.insert(synonym.to_string(), self.broker_default(def, &log));
        }
        Ok(out
            .into_iter()
            .map(|(name, (value, source))| {
                // A broker config's one level is its own (static) setting or the default.
                let synonyms = vec![(name.clone(), value.clone(), source)];
                let read_only = dynamic_config::validate(&name, &value).is_err();
                let config_type = broker_config_type(&name);
                DescribedConfig {
                    name,
                    value,
                    source,
                    synonyms,
                    read_only,
                    config_type,
                }
            })
            .collect())
    }

    /// Appends records to one partition as an acks=1 producer would (plugin pipelines): the
    /// base offset the records got (or had, for an idempotent retry) and the log start offset.
    pub fn produce(&self, partition: &Partition, records: &[u8]) -> Result<(i64, i64), ApiError> {
        match self.produce_acks(partition, records, 1, 0)? {
            Produced::Done(base, start, _) => Ok((base, start)),
            // acks=1 never waits for the ISR.
            Produced::Waiting(..) => Err(ApiError::new(
                error_code::REQUEST_TIMED_OUT,
                "an acks=1 write waited for the ISR",
            )),
        }
    }

    /// A write to `log.dirs` failed (`what`: whose; `why`: the store's words). The first
    /// failure is logged; later ones are not until [`Broker::storage_ok`] announced recovery.
    pub fn storage_failed(&self, what: &str, why: &str) {
        let now = now_ms().max(1);
        if self.storage_failed_at_ms.swap(now, Ordering::Relaxed) == 0 {
            tracing::error!(
                "{what}: {why}; writes to this node answer KAFKA_STORAGE_ERROR until {} has \
                 space again (reads go on)",
                self.config.data_dir.display()
            );
        }
    }

    /// A write to `log.dirs` succeeded: once none has failed for [`STORAGE_QUIET_MS`] after
    /// [`Broker::storage_failed`], the recovery is logged.
    pub fn storage_ok(&self) {
        let failed_at = self.storage_failed_at_ms.load(Ordering::Relaxed);
        if failed_at != 0
            && now_ms().saturating_sub(failed_at) >= STORAGE_QUIET_MS
            && self
                .storage_failed_at_ms
                .compare_exchange(failed_at, 0, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::info!("{}: writes succeed again", self.config.data_dir.display());
        }
    }

    /// Produce as a client asks it (`acks` 0, 1 or -1), through the core's replica: where
    /// this node leads, the replica checks idempotence, `min.insync.replicas` (the topic's,
    /// else the broker's) and, for acks=all, answers once the ISR has the records; elsewhere
    /// it refuses with NOT_LEADER_OR_FOLLOWER.
    pub fn produce_acks(
        &self,
        partition: &Partition,
        records: &[u8],
        acks: i16,
        timeout_ms: u64,
    ) -> Result<Produced, ApiError> {
        let now = now_ms();
        let mut state = partition.lock();
        let state = &mut *state;
        let acks = match acks {
            0 => Acks::None,
            1 => Acks::Leader,
            _ => Acks::All,
        };
        state.next_request += 1;
        let request = state.next_request;
        let header = batch::BatchHeader::decode(records).ok();
        // Rare and worth an operator's eye: an idempotent producer this partition has no state
        // for, at a sequence other than 0 (Kafka accepts it, as after its state expired).
        if let Some(h) = header.filter(|h| {
            h.producer_id >= 0
                && h.base_sequence > 0
                && !state.replica().producers().knows(h.producer_id)
        }) {
            tracing::info!(
                "partition {}: producer {} (epoch {}) starts at sequence {} with no state here",
                partition.index,
                h.producer_id,
                h.producer_epoch,
                h.base_sequence
            );
        }
        let mut owned = records.to_vec();
        let (appended, ready) =
            state
                .host
                .handle_produce(now, &mut owned, acks, request, timeout_ms, &self.codec);
        let count = ready.appended;
        // The fsync (if due) before any answer: with flush_before_ack an acknowledged record
        // is on disk.
        self.carry_out(partition, state, ready)?;
        if count > 0 {
            self.storage_ok();
            self.metrics.record_produce(count, records.len() as u64);
        }
        let appended = appended.map_err(|e| match e {
            ReplicaError::RecordsRefused(r) => ApiError::records_refused(&r),
            ReplicaError::Storage(why) => {
                self.storage_failed(&format!("produce to partition {}", partition.index), &why);
                ApiError::new(error_code::KAFKA_STORAGE_ERROR, why)
            }
            e @ (ReplicaError::OutOfOrderSequence | ReplicaError::InvalidProducerEpoch) => {
                // Refused sequences and fenced epochs are rare; each is logged, with why.
                if let Some(h) = &header {
                    let why = match state.replica().producers().check(h) {
                        Err(p) => p.to_string(),
                        Ok(_) => e.to_string(),
                    };
                    tracing::info!(
                        "partition {}: produce of producer {} (epoch {}) refused: {why}",
                        partition.index,
                        h.producer_id,
                        h.producer_epoch
                    );
                }
                ApiError::new(e.kafka_error_code(), e.to_string())
            }
            other => ApiError::new(other.kafka_error_code(), other.to_string()),
        })?;
        // The stored batch's time (a retry's original one), on a LogAppendTime topic.
        let append_time = header.map_or(-1, |h| state.replica().log_append_time_ms(&h, now));
        let start = state.log().log_start_offset();
        Ok(match appended {
            Some(base) => Produced::Done(base, start, append_time),
            None => {
                let (tx, rx) = oneshot::channel();
                state.waiters.insert(request, tx);
                Produced::Waiting(rx, start, append_time)
            }
        })
    }

    /// Carries out what a hosted partition's input returned, in the order of core's contract
    /// (`runnel_core::broker`): the fsync, then the ISR proposal, then the answers to acks=all
    /// writes. Fetches waiting for records are woken. Errors: the fsync failed
    /// (KAFKA_STORAGE_ERROR): nothing this input appended may be acknowledged.
    pub fn carry_out(
        &self,
        partition: &Partition,
        state: &mut PartitionState,
        ready: Ready,
    ) -> Result<(), ApiError> {
        let mut result = Ok(());
        if ready.fsync {
            result = flush(state, now_ms()).inspect_err(|e| {
                let what = format!("{}-{}: flush", partition.topic, partition.index);
                self.storage_failed(&what, &e.message);
            });
        }
        // Consumers read up to the HW: on a leader whose HW a follower's fetch raised, a
        // consumer's fetch waiting at the old HW has records now. Followers read to the log
        // end: only the leader's append gives them something.
        self.wake_fetches(Wakes {
            followers: ready.wake_follower_fetches,
            consumers: ready.wake_consumer_fetches,
        });
        if let Some(start) = ready.log_start_offset {
            let dir = self.partition_dir(&partition.topic, partition.index);
            if let Err(e) = save_log_start(&dir, start) {
                // Saved again at the next move; until then a restart starts lower.
                tracing::warn!(
                    "{}-{}: saving log start {start}: {e}",
                    partition.topic,
                    partition.index
                );
            }
        }
        if let Some(cut) = ready.truncated {
            tracing::info!(
                "{}-{}: truncated from {} to {}",
                partition.topic,
                partition.index,
                cut.from,
                cut.to
            );
        }
        let mut completed = ready.completed;
        if let Some(alter) = ready.alter_partition
            && let Err(alter) = self.propose_alter_partition(partition, alter)
        {
            // Nowhere to send it from: sent again after a backoff, like an unanswered one.
            let more = state.host.handle_alter_partition_result(
                now_ms(),
                &alter,
                AlterPartitionOutcome::Unanswered,
            );
            completed.extend(more.completed);
        }
        for done in completed {
            if let Some(tx) = state.waiters.remove(&done.request) {
                let _ = tx.send(done.result);
            }
        }
        self.deadlines.schedule(
            &partition.wake,
            &partition.topic,
            partition.index,
            state.host.poll_timeout(),
        );
        result
    }

    /// Wakes the fetches `wakes` names, or, inside [`Broker::appending`] on this thread,
    /// notes that they must be woken when it ends.
    fn wake_fetches(&self, wakes: Wakes) {
        if !wakes.any() {
            return;
        }
        let deferred = WAKE_DEFERRED.with(|d| match d.get() {
            Some(held) => {
                d.set(Some(held.or(wakes)));
                true
            }
            None => false,
        });
        if !deferred {
            self.notify_fetches(wakes);
        }
    }

    fn notify_fetches(&self, wakes: Wakes) {
        if wakes.followers {
            self.appended.notify_waiters();
        }
        if wakes.consumers {
            self.high_watermark_rose.notify_waiters();
        }
    }

    /// Runs `appends` (a request's appends to several partitions, with no await between
    /// them) and wakes the waiting fetches once at the end rather than after each partition:
    /// a follower's fetch woken by the first append would otherwise answer with one partition
    /// and come back at once for the others, two rounds (each reading every followed
    /// partition) for one produce request.
    pub fn appending<T>(&self, appends: impl FnOnce() -> T) -> T {
        /// Ends the deferral however `appends` ends (a panic included, or every later wake on
        /// this worker thread would stay deferred), waking what it held back.
        struct Deferral<'a> {
            broker: &'a Broker,
            outer: Option<Wakes>,
        }
        impl Drop for Deferral<'_> {
            fn drop(&mut self) {
                let held = WAKE_DEFERRED.with(|d| d.replace(self.outer));
                let Some(held) = held.filter(|h| h.any()) else {
                    return;
                };
                match self.outer {
                    // Nested: the outer call wakes them.
                    Some(outer) => WAKE_DEFERRED.with(|d| d.set(Some(outer.or(held)))),
                    None => self.broker.notify_fetches(held),
                }
            }
        }
        let _deferral = Deferral {
            broker: self,
            outer: WAKE_DEFERRED.with(|d| d.replace(Some(Wakes::default()))),
        };
        appends()
    }

    /// Sends a leader's ISR change to the metadata quorum (cluster mode) from a task on the
    /// node's runtime, and hands the answer back to the partition. `Err`: it could not be
    /// sent (no runtime to send it from).
    fn propose_alter_partition(
        &self,
        partition: &Partition,
        alter: AlterPartition,
    ) -> Result<(), AlterPartition> {
        let Some(cluster) = self.cluster() else {
            return Ok(());
        };
        let (topic, index) = (partition.topic.to_string(), partition.index);
        let runtime = self.runtime_handle();
        // The answer goes to this very partition, even if the topic is deleted and made again
        // meanwhile.
        let found = self.partition(&topic, index).ok();
        let broker = self.me.get().and_then(std::sync::Weak::upgrade);
        let (Some(runtime), Some(partition), Some(broker)) = (runtime, found, broker) else {
            return Err(alter);
        };
        let entry = Entry::AlterIsr {
            topic: topic.clone(),
            partition: index,
            leader: cluster.node_id,
            leader_epoch: alter.leader_epoch,
            partition_epoch: alter.partition_epoch,
            isr: alter.isr.clone(),
        };
        tracing::debug!("{topic}-{index}: proposing {entry:?}");
        let cluster = cluster.clone();
        runtime.spawn(async move {
            let outcome = match cluster.propose_outcome(entry).await {
                // Accepted: the new ISR arrives with the metadata (apply_roles).
                Ok(()) => AlterPartitionOutcome::Accepted(None),
                Err(ProposeError::Refused(e)) => {
                    tracing::debug!("{topic}-{index}: ISR change refused: {e}");
                    AlterPartitionOutcome::Refused
                }
                Err(ProposeError::Unanswered(e)) => {
                    tracing::debug!("{topic}-{index}: ISR change not answered: {e}");
                    AlterPartitionOutcome::Unanswered
                }
            };
            let mut state = partition.lock();
            let ready = state
                .host
                .handle_alter_partition_result(now_ms(), &alter, outcome);
            let _ = broker.carry_out(&partition, &mut state, ready);
        });
        Ok(())
    }

    /// Runs each partition whose deadline has come (core's `poll_timeout`: an acks=all write's
    /// timeout, a follower falling out of the ISR, an ISR proposal to send again, `flush.ms`)
    /// and carries out what it returns; one woken early is only set to wake again. Called by
    /// the timer task when [`Broker::deadlines`] says so; it may fsync.
    pub fn tick_due(&self) {
        let now = now_ms();
        for (topic, index) in self.deadlines.take_due(now) {
            let Ok(partition) = self.partition(&topic, index) else {
                continue; // deleted since
            };
            self.deadlines.woken(&partition.wake);
            let mut state = partition.lock();
            let due = state.host.poll_timeout();
            if due.is_some_and(|due| due <= now) {
                let ready = state.host.handle_tick(now);
                let _ = self.carry_out(&partition, &mut state, ready);
                if state.host.poll_timeout().is_some_and(|due| due <= now) {
                    // The tick could not meet the deadline (an fsync that fails): try again
                    // after a pause, not in a loop.
                    let again = now + crate::deadlines::RETRY_MS;
                    self.deadlines
                        .reschedule(&partition.wake, &topic, index, again);
                }
            } else {
                self.deadlines.schedule(&partition.wake, &topic, index, due);
            }
        }
    }

    /// Cluster mode: gives each local replica the role the metadata says (leader, follower,
    /// offline), and starts a follower's fetcher.
    fn apply_roles(self: &Arc<Self>, cluster: &Cluster) {
        if !cluster.registered() {
            // Back from a restart, the metadata is what this node's old log said until its
            // new registration is applied: its partitions stay offline until then.
            return;
        }
        let now = now_ms();
        let mut to_follow: HashMap<u32, Vec<Arc<Partition>>> = HashMap::new();
        let mut moved = None;
        let mut txn_moved = None;
        for topic in self.topics() {
            for partition in topic.partitions() {
                let wanted = cluster
                    .image()
                    .partition(&topic.name, partition.index)
                    .cloned();
                let mut state = partition.lock();
                let name = format!("{}-{}", topic.name, partition.index);
                // The rule is core's (`HostedPartition::handle_metadata`, which the simulator
                // runs too); here only its effects: logs, metrics, fetchers, the group
                // coordinator.
                let was_leader = state.replica().is_leader();
                let mut ready = state.host.handle_metadata(wanted.as_ref(), now);
                if topic.is_internal() {
                    let is_leader = state.replica().is_leader();
                    let change = ready.role_change.as_ref();
                    let this = CoordinatorMove::of(was_leader, change, is_leader);
                    if topic.name == OFFSETS_TOPIC {
                        moved = this.or(moved);
                    } else {
                        txn_moved = this.or(txn_moved);
                    }
                }
                let epoch = state.replica().leader_epoch();
                match ready.role_change.take().unwrap_or(RoleChange::Unchanged) {
                    RoleChange::Leader => {
                        tracing::info!("{name}: leader in epoch {epoch}");
                        self.metrics.leader_changes.fetch_add(1, Ordering::Relaxed);
                    }
                    RoleChange::IsrChanged { before, after } => {
                        tracing::info!("{name}: ISR now {after:?}");
                        let counter = if after.len() < before.len() {
                            &self.metrics.isr_shrinks
                        } else {
                            &self.metrics.isr_expands
                        };
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                    RoleChange::Follower(_) => {
                        let leader = state.replica().leader().unwrap_or_default();
                        tracing::info!("{name}: following {leader} in epoch {epoch}");
                    }
                    RoleChange::Offline | RoleChange::Stale | RoleChange::Unchanged => {}
                }
                if let Some(leader) = state
                    .replica()
                    .leader()
                    .filter(|_| !state.replica().is_leader())
                {
                    to_follow.entry(leader).or_default().push(partition.clone());
                }
                let _ = self.carry_out(&partition, &mut state, ready);
            }
        }
        if moved == Some(CoordinatorMove::Elected) {
            // This node now leads __consumer_offsets: it coordinates every group, from the
            // commits replicated to it; members rejoin (their generations were elsewhere).
            tracing::info!("this node is now the group coordinator");
            if let Err(e) = self.elect_coordinator() {
                tracing::error!("cannot load the committed offsets: {e}");
            }
        } else if moved == Some(CoordinatorMove::Resigned) {
            tracing::info!("this node is no longer the group coordinator");
            let answers = self
                .lock_groups()
                .handle_resigned(group_config(&self.config));
            self.deliver(answers);
        }
        match txn_moved {
            Some(CoordinatorMove::Elected) => {
                tracing::info!("this node is now the transaction coordinator");
                if let Err(e) = self.elect_txn_coordinator() {
                    tracing::error!("cannot load the transactions: {e}");
                }
            }
            Some(CoordinatorMove::Resigned) => {
                tracing::info!("this node is no longer the transaction coordinator");
                self.lock_txns().handle_resigned();
            }
            None => {}
        }
        let leaders: Vec<u32> = to_follow.keys().copied().collect();
        // Set before the fetchers lock is taken: a fetcher that finds nothing under it (and
        // ends) has either seen these or ends before a new one is started below.
        *self.followed.write().unwrap_or_else(|p| p.into_inner()) = to_follow
            .into_iter()
            .map(|(leader, partitions)| (leader, partitions.into()))
            .collect();
        let mut running = self.fetchers.lock().unwrap_or_else(|p| p.into_inner());
        for leader in leaders {
            if running.insert(leader) {
                let broker = self.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("fetch-from-{leader}"))
                    .spawn(move || crate::cluster::follower::follow(broker, leader));
                if let Err(e) = spawned {
                    running.remove(&leader);
                    tracing::error!("cannot start a fetcher thread: {e}");
                }
            }
        }
    }

    /// (partitions this node leads, those of them whose ISR lacks a replica); a single node
    /// leads them all.
    pub fn leadership_counts(&self) -> (u64, u64) {
        let Some(cluster) = self.cluster() else {
            // A single node leads every partition, each with its one replica in sync.
            let topics = self.topics();
            let partitions = topics.iter().map(|t| t.partitions().len() as u64);
            return (partitions.sum(), 0);
        };
        let image = cluster.image();
        let mut led = 0;
        let mut under = 0;
        for (_, p) in image.controller.partitions() {
            if p.leader == Some(cluster.node_id) {
                led += 1;
                if p.isr.len() < p.replicas.len() {
                    under += 1;
                }
            }
        }
        (led, under)
    }

    /// The node's runtime, for tasks spawned from a plain thread too (a fetcher thread, a
    /// plugin pipeline), else the current one's.
    pub(crate) fn runtime_handle(&self) -> Option<tokio::runtime::Handle> {
        self.runtime
            .get()
            .cloned()
            .or_else(|| tokio::runtime::Handle::try_current().ok())
    }

    /// Whether this node leads partition 0 of the internal topic `topic`, whose leader
    /// coordinates (groups, transactions): always on a single node.
    pub(crate) fn leads_internal(&self, topic: &str) -> bool {
        self.cluster().is_none() || self.leadership(topic, 0) == Leadership::Here
    }

    /// The high watermark of partition 0 of `topic` here (0 before the topic exists: nothing
    /// was loaded to wait for). A coordinator's check is given it after the partition's lock
    /// is let go, never under both locks.
    pub(crate) fn internal_high_watermark(&self, topic: &str) -> i64 {
        self.partition(topic, 0)
            .map_or(0, |partition| partition.lock().replica().high_watermark())
    }

    /// Whether this node coordinates consumer groups: always on a single node; in a cluster,
    /// the node that leads `__consumer_offsets` (its only partition).
    pub fn is_coordinator(&self) -> bool {
        self.leads_internal(OFFSETS_TOPIC)
    }

    /// Why this node cannot serve a request about a group now, as a Kafka error code:
    /// NOT_COORDINATOR when it does not lead `__consumer_offsets`; COORDINATOR_LOAD_IN_PROGRESS
    /// while core's coordinator waits for what it loaded to be replicated
    /// ([`HostedGroups::check_ready`], given the partition's high watermark here first).
    /// `None`: it can.
    pub fn coordinator_refusal(&self) -> Option<i16> {
        let leads_offsets = self.is_coordinator();
        let high_watermark = self.internal_high_watermark(OFFSETS_TOPIC);
        self.lock_groups()
            .check_coordinator(leads_offsets, high_watermark)
            .err()
            .map(GroupError::kafka_error_code)
    }

    /// Where clients that came through listener number `listener` reach this node (Kafka
    /// answers each listener's clients with that listener's advertised address).
    pub fn advertised_endpoint(&self, listener: usize) -> (String, u16) {
        self.config.advertised(listener)
    }

    /// The group coordinator's Kafka endpoint for a client of listener number `listener`: this
    /// node's on a single node; in a cluster the leader of `__consumer_offsets`, if it has one.
    pub fn coordinator_endpoint(&self, listener: usize) -> Option<(i32, String, u16)> {
        self.leader_endpoint(OFFSETS_TOPIC, listener)
    }

    /// The Kafka endpoint of the leader of `topic`'s partition 0 (an internal topic's, whose
    /// leader coordinates) for a client of listener number `listener`: this node's on a
    /// single node; `None` while it has no leader.
    pub(crate) fn leader_endpoint(
        &self,
        topic: &str,
        listener: usize,
    ) -> Option<(i32, String, u16)> {
        let Some(cluster) = self.cluster() else {
            let (host, port) = self.advertised_endpoint(listener);
            return Some((self.config.node_id, host, port));
        };
        let image = cluster.image();
        let leader = image.partition(topic, 0)?.leader?;
        let (host, port) = image.endpoint(leader, self.listener_name(listener))?;
        Some((leader as i32, host, port))
    }

    /// What this node's connections to other nodes use (TLS, SASL), `None` for PLAINTEXT.
    pub(crate) fn inter_broker_security(&self) -> Option<&crate::client::security::ClientSecurity> {
        self.inter_broker.as_deref()
    }

    /// How this node's Raft links are secured: `accept`, the inter-broker listener's TLS and
    /// SASL; connecting with this node's own inter-broker security.
    pub fn link_security(
        self: &Arc<Self>,
        accept: crate::server::Security,
    ) -> crate::cluster::LinkSecurity {
        crate::cluster::LinkSecurity {
            accept,
            connect: self.inter_broker.clone(),
            broker: Arc::downgrade(self),
        }
    }

    /// The name of listener number `listener` (the first listener's for an unknown number).
    pub fn listener_name(&self, listener: usize) -> &str {
        self.config
            .listeners
            .get(listener)
            .or(self.config.listeners.first())
            .map_or("PLAINTEXT", |l| l.name.as_str())
    }

    /// What the fetcher for `leader` has to do next: for each partition this node follows
    /// from it, ask where an epoch ends or fetch from an offset. `None` when there is none
    /// left: the fetcher is then deregistered (under the same lock `apply_roles` starts
    /// fetchers with, so a partition that starts following `leader` meanwhile gets a new one).
    pub fn fetch_jobs(&self, leader: u32) -> Option<Vec<crate::cluster::follower::Job>> {
        use crate::cluster::follower::Job;
        let mut running = self.fetchers.lock().unwrap_or_else(|p| p.into_inner());
        let followed = self
            .followed
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&leader)
            .cloned();
        let mut jobs = Vec::new();
        for partition in followed.iter().flat_map(|p| p.iter()) {
            let task = partition.lock().host.follower_task();
            if let Some(task) = task.filter(|t| t.leader() == leader) {
                jobs.push(Job {
                    partition: partition.clone(),
                    task,
                });
            }
        }
        if jobs.is_empty() {
            running.remove(&leader);
            return None;
        }
        Some(jobs)
    }

    /// A fetcher thread for `leader` ended without deregistering itself (it panicked).
    pub fn fetcher_gone(&self, leader: u32) {
        self.fetchers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&leader);
    }

    /// Commits offsets for a group: core plans the commit ([`HostedGroups::prepare_commit`])
    /// and the records go to `__consumer_offsets` as an acks=all write. OffsetFetch shows them
    /// only once the write is replicated — at once on a single node; in a cluster the caller
    /// awaits [`Commit::replicated`] and calls [`Broker::commit_replicated`] — as Kafka
    /// exposes a commit only when its append completes. Each entry gets its own result; a
    /// failed write answers Kafka's coordinator codes ([`CommitPlan::answer`]).
    pub fn commit_offsets(
        &self,
        group: &str,
        generation_id: i32,
        member_id: &str,
        entries: Vec<CommitEntry>,
    ) -> Result<Commit, ApiError> {
        let mut groups = self.lock_groups();
        let exists = |topic: &str, partition| {
            self.topic(topic)
                .and_then(|t| t.partition(partition))
                .is_some()
        };
        let plan = groups
            .prepare_commit(now_ms(), group, generation_id, member_id, entries, exists)
            .map_err(|e| ApiError::new(e.kafka_error_code(), e.to_string()))?;
        let mut commit = Commit {
            plan,
            replicated: None,
        };
        if commit.plan.records.is_empty() {
            return Ok(commit);
        }
        let records = commit.plan.records.iter();
        let written = self.append_offsets(
            records.map(|(k, v)| (k.as_slice(), Some(v.as_slice()))),
            commit_failed,
        );
        match written? {
            Produced::Done(base, _, _) => groups.handle_commit_replicated(base, &commit.plan),
            Produced::Waiting(rx, _, _) => commit.replicated = Some(rx),
        }
        Ok(commit)
    }

    /// The write of `plan` at `base_offset` in `__consumer_offsets` is replicated: its
    /// commits are shown (core's rule, [`HostedGroups::handle_commit_replicated`]).
    pub fn commit_replicated(&self, base_offset: i64, plan: &CommitPlan) {
        self.lock_groups()
            .handle_commit_replicated(base_offset, plan);
    }

    /// Appends `records` ((key, value; `None`: a tombstone)) to `__consumer_offsets` as one
    /// acks=all batch (on a single node the ISR is this node, so it is done at once). Errors:
    /// the batch cannot be built, no offsets partition here, or the append's own error passed
    /// through `refused` (which gives the request's own codes for it).
    fn append_offsets<'a>(
        &self,
        records: impl IntoIterator<Item = (&'a [u8], Option<&'a [u8]>)>,
        refused: fn(ApiError) -> ApiError,
    ) -> Result<Produced, ApiError> {
        let now = now_ms() as i64;
        let mut builder = BatchBuilder::new(0);
        for (key, value) in records {
            builder.push(now, Some(key), value, Vec::new());
        }
        let batch = builder
            .build(&self.codec)
            .map_err(|e| ApiError::new(e.kafka_error_code(), e.to_string()))?;
        let partition = self.partition(OFFSETS_TOPIC, 0)?;
        self.produce_acks(&partition, &batch, -1, OFFSETS_COMMIT_TIMEOUT_MS)
            .map_err(refused)
    }

    /// Deletes every commit of `group` and its group record (DeleteGroups; Kafka writes a
    /// tombstone for each).
    pub fn delete_group_offsets(
        &self,
        groups: &mut HostedGroups,
        group: &str,
    ) -> Result<usize, ApiError> {
        let partitions: Vec<(String, i32)> = groups
            .offsets()
            .group(group)
            .map(|((topic, partition), _)| (topic.clone(), *partition))
            .collect();
        self.write_tombstones(&[runnel_core::offsets::encode_group_key(group)])?;
        self.delete_offsets(groups, group, &partitions)
    }

    /// Deletes `group`'s commits of `partitions` (DeleteGroups, OffsetDelete): tombstones go
    /// to `__consumer_offsets` first, so the deletion survives a restart, then the store
    /// forgets them. Returns how many commits there were.
    pub fn delete_offsets(
        &self,
        groups: &mut HostedGroups,
        group: &str,
        partitions: &[(String, i32)],
    ) -> Result<usize, ApiError> {
        let keys: Vec<Vec<u8>> = partitions
            .iter()
            .filter(|(topic, partition)| groups.offsets().fetch(group, topic, *partition).is_some())
            .map(|(topic, partition)| {
                runnel_core::offsets::encode_key(&OffsetKey {
                    group: group.to_string(),
                    topic: topic.clone(),
                    partition: *partition,
                })
            })
            .collect();
        self.write_tombstones(&keys)?;
        Ok(partitions
            .iter()
            .filter(|(topic, partition)| groups.forget(group, topic, *partition))
            .count())
    }

    /// Appends a tombstone for each of `keys` to `__consumer_offsets`.
    fn write_tombstones(&self, keys: &[Vec<u8>]) -> Result<(), ApiError> {
        if keys.is_empty() {
            return Ok(());
        }
        // Not awaited: a deletion the ISR never confirms is redone by the next one.
        let tombstones = keys.iter().map(|k| (k.as_slice(), None));
        let _ = self.append_offsets(tombstones, commit_failed)?;
        Ok(())
    }

    /// Makes this node the group coordinator: core's [`HostedGroups::handle_elected`] rebuilds
    /// the commits from `__consumer_offsets`, read here.
    fn elect_coordinator(self: &Arc<Self>) -> Result<(), String> {
        let Ok(partition) = self.partition(OFFSETS_TOPIC, 0) else {
            return Ok(()); // a cluster node before the offsets topic exists
        };
        // Read under the partition's lock, apply under the groups' (never both: commits take
        // them in the other order).
        let (entries, log_end_offset, high_watermark) = {
            let state = partition.lock();
            let entries = state
                .host
                .keyed_records(&self.codec)
                .map_err(|e| format!("{OFFSETS_TOPIC}: {e}"))?;
            let replica = state.replica();
            (entries, replica.log_end_offset(), replica.high_watermark())
        };
        let mut groups = self.lock_groups();
        let elected = groups.handle_elected(
            group_config(&self.config),
            entries.records,
            log_end_offset,
            high_watermark,
        );
        groups.restore_pending_txn(entries.open_txn);
        drop(groups);
        for (offset, e) in elected.skipped {
            tracing::warn!("{OFFSETS_TOPIC}: skipping record {offset}: {e}");
        }
        self.deliver(elected.answers);
        Ok(())
    }

    /// The group coordinator and offsets, locked.
    pub fn lock_groups(&self) -> MutexGuard<'_, HostedGroups> {
        self.groups.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A fresh token and the receiver its group reply will arrive on.
    pub fn reply_slot(&self) -> (ReplyToken, oneshot::Receiver<GroupOutput>) {
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.replies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(token, tx);
        (token, rx)
    }

    /// Delivers the replies the coordinator released, and has the timer task look at the
    /// coordinator's deadlines again (the input that released them may have set new ones).
    pub fn deliver(self: &Arc<Self>, outputs: Vec<GroupOutput>) {
        self.deadlines.poke();
        let mut stores = Vec::new();
        {
            let mut replies = self.replies.lock().unwrap_or_else(|p| p.into_inner());
            for output in outputs {
                let token = match &output {
                    GroupOutput::Join(t, _) | GroupOutput::Sync(t, _) => *t,
                    GroupOutput::Store(store) => {
                        stores.push(store.clone());
                        continue;
                    }
                };
                if let Some(tx) = replies.remove(&token) {
                    // The connection may be gone; then nobody is waiting.
                    let _ = tx.send(output);
                }
            }
        }
        for store in stores {
            self.store_group(store);
        }
    }

    /// Writes a generation's group record to `__consumer_offsets` as an acks=all write and
    /// reports the outcome to the coordinator, which answers the generation's SyncGroups then
    /// (a coordinator that lost the partition's leadership cannot complete the write).
    /// Must be called without the groups' lock held.
    fn store_group(self: &Arc<Self>, store: GroupStore) {
        // The append's own code goes to core, which maps it (`handle_group_stored`).
        let record = (store.key.as_slice(), Some(store.value.as_slice()));
        let written = self.append_offsets([record], |e| e);
        match written {
            Ok(Produced::Done(..)) => self.group_stored(&store, error_code::NONE),
            Err(e) => self.group_stored(&store, e.code),
            Ok(Produced::Waiting(replicated, ..)) => {
                let broker = self.clone();
                tokio::spawn(async move {
                    let wait = Duration::from_millis(OFFSETS_COMMIT_TIMEOUT_MS);
                    let code = match tokio::time::timeout(wait, replicated).await {
                        Ok(Ok(Ok(_))) => error_code::NONE,
                        Ok(Ok(Err(e))) => e.kafka_error_code(),
                        _ => error_code::REQUEST_TIMED_OUT,
                    };
                    broker.group_stored(&store, code);
                });
            }
        }
    }

    /// Tells the coordinator how the write of `store` ended (`code` 0: the ISR has it).
    fn group_stored(self: &Arc<Self>, store: &GroupStore, code: i16) {
        if code != error_code::NONE {
            tracing::warn!(
                "group {}: generation {} could not be written to {OFFSETS_TOPIC} (error {code}); \
                 its members rejoin",
                store.group_id,
                store.generation_id
            );
        }
        let outputs = self.lock_groups().coordinator.handle_group_stored(
            now_ms(),
            &store.group_id,
            store.generation_id,
            code,
        );
        self.deliver(outputs);
    }

    /// A new producer id (InitProducerId), unique across the cluster: the next of this
    /// node's block of ids, taking a new block first when it is used up — through the
    /// metadata quorum in a cluster (KIP-730's `AllocateProducerIds`), from the counter saved
    /// in the data directory on a single node ([`runnel_core::producer_id`]). Errors:
    /// COORDINATOR_LOAD_IN_PROGRESS (retriable, as Kafka's broker answers while it has no
    /// block) when the quorum gave none; KAFKA_STORAGE_ERROR when the single node's counter
    /// cannot be read or saved.
    pub async fn allocate_producer_id(&self) -> Result<i64, ApiError> {
        let mut ids = self.producer_ids.lock().await;
        if let Some(id) = ids.next_id() {
            return Ok(id);
        }
        let block = match self.cluster() {
            Some(cluster) => {
                let me = self.config.node_id as u32;
                cluster
                    .propose(Entry::AllocateProducerIds { broker: me })
                    .await
                    .map_err(|e| {
                        ApiError::new(
                            error_code::COORDINATOR_LOAD_IN_PROGRESS,
                            format!("no block of producer ids from the metadata quorum: {e}"),
                        )
                    })?;
                cluster.image().producer_id_block(me).ok_or_else(|| {
                    ApiError::new(
                        error_code::COORDINATOR_LOAD_IN_PROGRESS,
                        "no block of producer ids from the metadata quorum",
                    )
                })?
            }
            None => self.allocate_local_producer_ids()?,
        };
        ids.handle_block(block);
        ids.next_id().ok_or_else(|| {
            ApiError::new(
                error_code::UNKNOWN_SERVER_ERROR,
                "an empty producer id block",
            )
        })
    }

    /// A single node's next block of producer ids: the counter in `producer-ids.json` moves
    /// past it (fsynced) before any of its ids is handed out, so a restart never hands one
    /// out again, whatever the clock says.
    fn allocate_local_producer_ids(&self) -> Result<ProducerIdBlock, ApiError> {
        let path = producer_ids_path(&self.config.data_dir);
        let unreadable = |why: String| {
            ApiError::new(
                error_code::KAFKA_STORAGE_ERROR,
                format!("cannot read {}: {why}", path.display()),
            )
        };
        let saved = match fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice::<SavedProducerIds>(&bytes)
                    .map_err(|e| unreadable(e.to_string()))?
                    .next_block_start
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(unreadable(e.to_string())),
        };
        // Never below an id the partitions' producer states or the transaction log hold: the
        // file may be lost, or older than the data (an older runnel kept no counter).
        let partitions_max = self
            .topics()
            .iter()
            .flat_map(|topic| topic.partitions())
            .filter_map(|p| p.lock().replica().producers().max_producer_id())
            .max();
        let txns_max = self.lock_txns().list().map(|t| t.producer_id).max();
        let in_use = partitions_max.max(txns_max);
        let mut counter = ProducerIdCounter::starting_at(saved).above(in_use);
        let block = counter.allocate().ok_or_else(|| {
            ApiError::new(
                error_code::UNKNOWN_SERVER_ERROR,
                "the producer id space is used up",
            )
        })?;
        save_json(
            &path,
            &SavedProducerIds {
                next_block_start: counter.next_block_start(),
            },
        )?;
        Ok(block)
    }

    /// Periodic work: retention and compaction, each as due (core's cleaner, below the HW).
    /// Called by a background task.
    pub fn maintain(&self, run_retention: bool, run_cleaner: bool) {
        let now = now_ms();
        let pass = CleanPass {
            retention: run_retention,
            compaction: run_cleaner,
            force: false,
        };
        for topic in self.topics() {
            for partition in topic.partitions() {
                let mut state = partition.lock();
                let (r, ready) = state.host.handle_clean(now, &self.codec, pass);
                let _ = self.carry_out(&partition, &mut state, ready);
                let name = format!("{}-{}", topic.name, partition.index);
                if r.retention.segments_deleted > 0 {
                    tracing::info!(
                        "{name}: retention deleted {} segments ({} bytes); log start offset {}",
                        r.retention.segments_deleted,
                        r.retention.bytes_deleted,
                        state.log().log_start_offset()
                    );
                }
                if r.compaction.ran {
                    tracing::info!(
                        "{name}: compaction removed {} records and {} tombstones ({} → {} bytes)",
                        r.compaction.records_removed,
                        r.compaction.tombstones_removed,
                        r.compaction.bytes_before,
                        r.compaction.bytes_after
                    );
                }
                if r.producers_expired > 0 {
                    tracing::info!(
                        "{name}: forgot {} idempotent producers idle for producer.id.expiration.ms",
                        r.producers_expired
                    );
                }
                if let Some(e) = r.error {
                    tracing::error!("{name}: {e}");
                }
            }
        }
    }

    /// DeleteRecords on one partition: moves its log start offset and saves it.
    pub fn delete_records(
        &self,
        partition: &Partition,
        dir: &Path,
        offset: i64,
    ) -> Result<i64, ApiError> {
        let mut state = partition.lock();
        // The bound (the high watermark, -1 meaning it) is core's.
        let hw = state.high_watermark();
        let (start, ready) = state.host.handle_delete_records(now_ms(), offset);
        // A log start past an open transaction raises the last stable offset to it: the
        // `read_committed` fetches waiting below it are out of range now.
        let _ = self.carry_out(partition, &mut state, ready);
        let start = start.map_err(|e| match e {
            ReplicaError::OffsetOutOfRange => ApiError::new(
                error_code::OFFSET_OUT_OF_RANGE,
                format!("offset {offset} is above the high watermark {hw}"),
            ),
            e => ApiError::new(e.kafka_error_code(), e.to_string()),
        })?;
        save_log_start(dir, start)
            .map_err(|e| ApiError::new(error_code::KAFKA_STORAGE_ERROR, e.to_string()))?;
        Ok(start)
    }

    /// The directory of a partition.
    pub fn partition_dir(&self, topic: &str, index: i32) -> PathBuf {
        partition_dir(&self.config.data_dir, topic, index)
    }

    /// Flushes every partition and takes a snapshot of its replica's state at its end
    /// (shutdown); when every one succeeded, writes the clean-shutdown marker, so the next
    /// start trusts the newest segments and reads no batch (Kafka's `LogManager.shutdown`).
    /// The partitions' files are made durable by one `syncfs` of the data directory's
    /// filesystem, not by fsyncs of each (10,000 partitions took 34 s to stop that way).
    pub fn flush_all(&self) {
        let now = now_ms();
        let mut clean = true;
        // Rolled segments and snapshots still queued for a background sync go first.
        crate::storage::Flusher::shared().wait_idle();
        for topic in self.topics() {
            for partition in topic.partitions() {
                let mut state = partition.lock();
                state.log_mut().store_mut().defer_syncs();
                // A partition whose store failed takes no snapshot (it would become its
                // recovery point): `flush` reports the failure first.
                let flushed =
                    flush(&mut state, now).and_then(|()| {
                        state.host.replica_mut().take_snapshot().map_err(|e| {
                            ApiError::new(error_code::KAFKA_STORAGE_ERROR, e.to_string())
                        })
                    });
                if let Err(e) = flushed {
                    clean = false;
                    tracing::error!(
                        "{}-{}: flush failed: {}",
                        topic.name,
                        partition.index,
                        e.message
                    );
                }
            }
        }
        // The snapshots just taken are the logs' recovery points: each is published (renamed
        // into place) only once the syncfs made the segments below it durable, and a second
        // syncfs makes the renames durable before the marker says so.
        let synced = crate::storage::sync_filesystem(&self.config.data_dir)
            .map_err(|e| e.to_string())
            .and_then(|()| {
                for topic in self.topics() {
                    for partition in topic.partitions() {
                        let mut state = partition.lock();
                        if let Err(e) = state.log_mut().store_mut().publish_deferred_snapshots() {
                            tracing::warn!("{e}");
                        }
                    }
                }
                crate::storage::sync_filesystem(&self.config.data_dir).map_err(|e| e.to_string())
            })
            .and_then(|()| match clean {
                true => write_clean_shutdown_marker(&self.config.data_dir),
                false => Ok(()),
            });
        if let Err(e) = synced {
            tracing::error!("{e}");
        }
    }
}

/// Kafka's name for the file a log directory holds after a clean shutdown.
const CLEAN_SHUTDOWN_MARKER: &str = ".kafka_cleanshutdown";

/// Whether the last process stopped cleanly; the marker is removed (durably) at once, so a
/// crash of this process is never taken for a clean stop.
fn take_clean_shutdown_marker(data_dir: &Path) -> Result<bool, String> {
    let path = data_dir.join(CLEAN_SHUTDOWN_MARKER);
    match fs::remove_file(&path) {
        Ok(()) => fs::File::open(data_dir)
            .and_then(|d| d.sync_all())
            .map(|()| true)
            .map_err(|e| format!("cannot sync {}: {e}", data_dir.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(format!("cannot remove {}: {e}", path.display())),
    }
}

/// Writes the clean-shutdown marker, durably, after every partition was flushed.
fn write_clean_shutdown_marker(data_dir: &Path) -> Result<(), String> {
    let path = data_dir.join(CLEAN_SHUTDOWN_MARKER);
    fs::File::create(&path)
        .and_then(|f| f.sync_all())
        .and_then(|()| fs::File::open(data_dir))
        .and_then(|d| d.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Syncs a partition's store and tells its host (the `advance` of core's contract).
fn flush(state: &mut PartitionState, now: u64) -> Result<(), ApiError> {
    state
        .log()
        .store()
        .sync()
        .map_err(|e| ApiError::new(error_code::KAFKA_STORAGE_ERROR, e.to_string()))?;
    state.host.flushed(now);
    Ok(())
}

/// A write to `__consumer_offsets` for an OffsetCommit or a deletion that failed: Kafka's
/// coordinator code for it ([`runnel_core::offsets::commit_error_code`]).
fn commit_failed(e: ApiError) -> ApiError {
    let code = runnel_core::offsets::commit_error_code(e.code);
    ApiError::new(
        code,
        format!("the commit could not be written: {}", e.message),
    )
}

/// The group coordinator's settings from the broker's.
fn group_config(config: &BrokerConfig) -> GroupConfig {
    GroupConfig {
        min_session_timeout_ms: config.group_min_session_timeout_ms,
        max_session_timeout_ms: config.group_max_session_timeout_ms,
        initial_rebalance_delay_ms: config.group_initial_rebalance_delay_ms,
        // Different in every incarnation (and every coordinator move), so a member id from
        // before is never handed out again.
        member_id_seed: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ (u64::from(std::process::id()) << 32),
    }
}

/// Where a single node keeps its dynamic broker configs.
fn dynamic_configs_path(data_dir: &Path) -> PathBuf {
    data_dir.join("dynamic-broker-configs.json")
}

/// A single node's saved dynamic broker configs (none when the file does not exist).
fn load_dynamic_configs(data_dir: &Path) -> Result<DynamicBrokerConfigs, String> {
    load_json(&dynamic_configs_path(data_dir), "dynamic broker configs")
}

/// Saves a single node's dynamic broker configs (a crash leaves the old or the new set).
fn save_dynamic_configs(data_dir: &Path, configs: &DynamicBrokerConfigs) -> Result<(), ApiError> {
    save_json(&dynamic_configs_path(data_dir), configs)
}

/// Where a single node keeps its SCRAM credentials (salted keys, never passwords).
/// One ACL in words, for the log.
fn describe_acl(b: &AclBinding) -> String {
    format!(
        "{} {} {} from {} on {} {} {}",
        b.principal,
        b.permission.name(),
        b.operation.name(),
        b.host,
        b.resource_type.name(),
        b.pattern_type.name(),
        b.resource_name
    )
}

/// The authorizer the config asks for, with the ACLs saved in the data directory (a single
/// node; a cluster node gets its ACLs from the metadata log).
fn load_authorizer(config: &BrokerConfig) -> Result<Option<Authorizer>, String> {
    let Some(mut authorizer) = config.authorizer().map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    if !config.quorum_voters.is_empty() {
        // A cluster's ACLs are in its metadata log; `reconcile` brings them.
        return Ok(Some(authorizer));
    }
    let saved: Vec<AclBinding> = load_json(&acls_path(&config.data_dir), "ACLs")?;
    for binding in saved {
        authorizer.add(binding);
    }
    Ok(Some(authorizer))
}

fn acls_path(data_dir: &Path) -> PathBuf {
    data_dir.join("acls.json")
}

/// A single node's producer id counter ([`Broker::allocate_producer_id`]).
fn producer_ids_path(data_dir: &Path) -> PathBuf {
    data_dir.join("producer-ids.json")
}

/// What `producer-ids.json` holds: where the next block of producer ids starts.
#[derive(Serialize, Deserialize)]
struct SavedProducerIds {
    next_block_start: i64,
}

fn scram_path(data_dir: &Path) -> PathBuf {
    data_dir.join("scram-credentials.json")
}

/// A JSON file of the data directory read as `T` (its default when the file does not exist);
/// `what` names it in errors.
fn load_json<T: serde::de::DeserializeOwned + Default>(
    path: &Path,
    what: &str,
) -> Result<T, String> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| format!("{}: not {what}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Saves `value` as JSON at `path`: a temporary file written and synced, renamed over the
/// old one, then the directory synced, so a crash or a power loss leaves the old or the new
/// contents.
fn save_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), ApiError> {
    let storage = |e: std::io::Error| {
        ApiError::new(
            error_code::KAFKA_STORAGE_ERROR,
            format!("cannot save {}: {e}", path.display()),
        )
    };
    let tmp = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| ApiError::new(error_code::UNKNOWN_SERVER_ERROR, e.to_string()))?;
    {
        let mut file = fs::File::create(&tmp).map_err(storage)?;
        std::io::Write::write_all(&mut file, &bytes).map_err(storage)?;
        file.sync_all().map_err(storage)?;
    }
    fs::rename(&tmp, path).map_err(storage)?;
    if let Some(dir) = path.parent() {
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(storage)?;
    }
    Ok(())
}

fn meta_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("__topics")
}

fn meta_path(data_dir: &Path, topic: &str) -> PathBuf {
    meta_dir(data_dir).join(format!("{topic}.toml"))
}

fn partition_dir(data_dir: &Path, topic: &str, index: i32) -> PathBuf {
    data_dir.join(format!("{topic}-{index}"))
}

/// One config as DescribeConfigs shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DescribedConfig {
    /// Kafka's name.
    pub name: String,
    /// The value in effect.
    pub value: String,
    /// Where that value comes from.
    pub source: ConfigSource,
    /// (name, value, source) of every level that sets it, the one in effect first (KIP-226).
    pub synonyms: Vec<(String, String, ConfigSource)>,
    /// Whether it cannot be changed here (a broker's static settings).
    pub read_only: bool,
    /// Kafka's `ConfigType` code (KIP-569; 0 when unknown).
    pub config_type: i8,
}

/// Where a config's value comes from, as DescribeConfigs says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigSource {
    /// Set on the topic (DYNAMIC_TOPIC_CONFIG).
    Topic,
    /// Set at run time for this broker (DYNAMIC_BROKER_CONFIG, KIP-226).
    DynamicBroker,
    /// Set at run time as the cluster-wide default (DYNAMIC_DEFAULT_BROKER_CONFIG, KIP-226).
    DynamicDefault,
    /// The broker's own setting, which differs from Kafka's default (STATIC_BROKER_CONFIG).
    Broker,
    /// Kafka's default (DEFAULT_CONFIG).
    Default,
}

/// Checks one topic config and applies it to a log configuration when the log enforces it
/// (core's [`topic_config::apply_to_log`]).
fn apply_config(config: &mut LogConfig, key: &str, value: &str) -> Result<(), ApiError> {
    topic_config::apply_to_log(config, key, value)
        .map_err(|e| ApiError::new(e.kafka_error_code(), e.to_string()))
}

/// Kafka's `ConfigType` of a broker config: its topic config's type for a broker-level topic
/// default, else 0 (UNKNOWN: runnel's own settings carry no type).
fn broker_config_type(name: &str) -> i8 {
    dynamic_config::topic_config_name(name)
        .and_then(topic_config::find)
        .map_or(0, |def| def.kind.kafka_config_type())
}

/// Kafka's rules across a topic's configs (core's [`topic_config::validate_together`]).
fn validate_together(configs: &BTreeMap<String, String>) -> Result<(), ApiError> {
    topic_config::validate_together(configs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(|e| ApiError::new(e.kafka_error_code(), e.to_string()))
}

/// A boolean config value as Kafka parses one: `true` or `false`, any case, spaces trimmed.
pub fn parse_bool(value: &str) -> Option<bool> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("true") {
        Some(true)
    } else if value.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// The value of one log-enforced config as DescribeConfigs shows it (`None` for the others).
fn config_value(config: &LogConfig, key: &str) -> Option<String> {
    let opt = |v: Option<u64>| v.map_or("-1".to_string(), |v| v.to_string());
    // Kafka shows "no limit" as Long.MAX_VALUE.
    let unbounded = |v: Option<u64>| v.map_or(i64::MAX.to_string(), |v| v.to_string());
    Some(match key {
        "cleanup.policy" => cleanup_policy_name(config.cleanup_policy).to_string(),
        "retention.ms" => opt(config.retention_ms),
        "retention.bytes" => opt(config.retention_bytes),
        "segment.bytes" => config.segment_bytes.to_string(),
        "segment.ms" => config.segment_ms.to_string(),
        "delete.retention.ms" => config.delete_retention_ms.to_string(),
        "min.cleanable.dirty.ratio" => config.min_cleanable_dirty_ratio.to_string(),
        "max.message.bytes" => config.max_message_bytes.to_string(),
        "index.interval.bytes" => config.index_interval_bytes.to_string(),
        "flush.messages" => unbounded(config.flush_messages),
        "flush.ms" => unbounded(config.flush_ms),
        _ => return None,
    })
}
