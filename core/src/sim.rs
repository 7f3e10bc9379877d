//! A deterministic discrete-event simulator of a runnel cluster.
//!
//! Parties: the metadata quorum (running [`Controller`]), brokers (each with a [`Replica`] per
//! partition), one producer and one consumer. They exchange messages over a simulated network
//! with per-link latency, random loss, cut links and slow brokers; brokers crash (losing what
//! their fsync policy had not flushed) and restart. Time is virtual and every random choice
//! comes from one seed, so a run replays exactly: the same seed and schedule give the same
//! events, the same trace and the same counts.
//!
//! The protocol is Kafka's (KRaft flavour): brokers heartbeat to the quorum and are fenced when
//! their session expires; the controller elects leaders and pushes partition states, which
//! brokers also receive with every heartbeat answer; followers fetch from leaders; leaders
//! propose ISR changes to the controller and stop taking writes when it does not answer.
//! The producer refreshes metadata from any broker it can reach and on NOT_LEADER_OR_FOLLOWER.
//!
//! Use: [`Sim::new`], schedule faults with [`Sim::schedule`], then [`Sim::step`] or
//! [`Sim::run_until`], and [`Sim::report`] for counts and invariant violations. The
//! [`Sim::trace`] (serde; [`Sim::trace_postcard`] for a compact encoding) is what the
//! playground renders.

use alloc::collections::{BTreeMap, BTreeSet, BinaryHeap};
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::cmp::{Ordering, Reverse};

use serde::{Deserialize, Serialize};

use crate::batch::{BatchBuilder, NoCodec, batches};
use crate::broker::{
    AlterPartition, AlterPartitionOutcome, CommitEntry, CommitPlan, ControlledShutdown,
    CoordinatorMove, FollowerTask, HostConfig, HostedGroups, HostedPartition, Ready,
};
use crate::controller::{
    Command, Controller, ControllerConfig, HeartbeatManager, PartitionId, PartitionState,
};
use crate::error_code;
use crate::group::{
    Assignor, GroupConfig, GroupError, GroupOutput, GroupStore, JoinRequest, JoinResponse,
    ReplyToken, SyncRequest, SyncResponse,
};
use crate::log::{CleanupPolicy, LogConfig};
use crate::offsets::decode_commit;
use crate::partitioner::murmur2_partition;
use crate::replica::{
    Acks, BrokerId, CleanPass, FetchAnswer, Replica, ReplicaConfig, ReplicaError, RoleChange,
};
use crate::rng::Rng;

mod txn;
pub use txn::TxnProducerConfig;

/// How many lost record ids a [`Report`] lists.
pub const LOST_IDS_MAX: usize = 100;
/// How often brokers and the controller run their periodic checks.
const TICK_MS: u64 = 100;
/// Bytes a follower fetches at most per request.
const FETCH_MAX_BYTES: usize = 64 * 1024;
/// How long a producer waits before resending after a retriable error.
const RETRY_BACKOFF_MS: u64 = 100;
/// How long a follower waits for a fetch answer before asking again (Kafka's
/// `replica.socket.timeout.ms` is 30 s; short here so lost messages cost little virtual time,
/// long enough for the slowest links the scenarios use). A lost fetch can cost a follower its
/// ISR seat when `replica.lag.time.max.ms` is shorter, as in Kafka.
const FOLLOWER_FETCH_TIMEOUT_MS: u64 = 2_000;
/// How often a leader re-sends an unanswered ISR proposal.
const ISR_RESEND_MS: u64 = 1_000;

/// A party on the simulated network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Party {
    /// The metadata quorum (the controller).
    Quorum,
    /// A broker.
    Broker(BrokerId),
    /// The producer.
    Producer,
    /// The consumer that checks what is readable (it reads every partition, no group), and
    /// the lag monitor that asks the group's committed offsets.
    Consumer,
    /// A consumer-group member.
    Member(u32),
}

/// When a broker's writes reach disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FlushPolicy {
    /// fsync before acknowledging: a crash loses nothing acknowledged locally.
    EveryWrite,
    /// fsync every so many milliseconds (`flush.ms`): a crash loses what came since.
    IntervalMs(u64),
}

/// The producer's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerConfig {
    /// `acks`.
    pub acks: Acks,
    /// One record every this many milliseconds, partitions in turn.
    pub interval_ms: u64,
    /// `retries` for retriable errors (not leader, timeouts, not enough replicas).
    pub retries: u32,
    /// `request.timeout.ms`.
    pub request_timeout_ms: u64,
    /// `delivery.timeout.ms` (KIP-91): how long a record may wait, from when it was handed to
    /// the producer, for a partition leader to send it to; past it the record fails.
    pub delivery_timeout_ms: u64,
    /// `metadata.max.age.ms`.
    pub metadata_max_age_ms: u64,
    /// When it starts and stops sending.
    pub start_ms: u64,
    /// When it stops sending (no new records after this).
    pub stop_ms: u64,
    /// Distinct keys it cycles through (`k0`, `k1`, ...), placed by murmur2 as Kafka's
    /// default partitioner does; 0 sends records without keys, partitions in turn.
    pub keys: u32,
    /// `enable.idempotence`: every record goes in a batch with a producer id, epoch and
    /// sequence, and a retry resends the same batch, so the broker writes it once. The
    /// simulated producer sends each record on its own, so each record is its own idempotent
    /// producer (id = record id, sequence 0): what the broker must get right — a retry after
    /// a timeout, a leader change, a truncation — is the same as for a long sequence.
    pub idempotent: bool,
    /// Transactional (KIP-98), when set: the producer writes in transactions through the
    /// transaction coordinator ([`TxnProducerConfig`]), idempotent with one producer id and
    /// a sequence per partition, and the checker consumer reads `read_committed`.
    pub transactions: Option<TxnProducerConfig>,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        Self {
            acks: Acks::All,
            interval_ms: 10,
            retries: 0,
            request_timeout_ms: 2_000,
            delivery_timeout_ms: 120_000,
            metadata_max_age_ms: 5_000,
            start_ms: 1_000,
            stop_ms: u64::MAX,
            keys: 0,
            idempotent: false,
            transactions: None,
        }
    }
}

/// The topic's log settings, with Kafka's config names.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopicConfig {
    /// `cleanup.policy` has `delete`: retention removes old segments.
    pub delete: bool,
    /// `cleanup.policy` has `compact`: the cleaner keeps the latest record per key.
    pub compact: bool,
    /// `retention.ms`; `None` keeps forever.
    pub retention_ms: Option<u64>,
    /// `segment.ms`: the active segment rolls when this old (only closed segments are cleaned).
    pub segment_ms: u64,
    /// `delete.retention.ms`: how long compaction keeps a tombstone.
    pub delete_retention_ms: u64,
    /// `min.cleanable.dirty.ratio`.
    pub min_cleanable_dirty_ratio: f64,
    /// The topic's own `min.insync.replicas`, over the brokers' default
    /// ([`SimConfig::replica`]) when set.
    pub min_insync_replicas: Option<usize>,
    /// The topic's own `unclean.leader.election.enable`, over the controller's
    /// ([`SimConfig::controller`]) when set.
    pub unclean_leader_election_enable: Option<bool>,
}

impl Default for TopicConfig {
    fn default() -> Self {
        let log = LogConfig::default();
        Self {
            delete: log.cleanup_policy.delete,
            compact: log.cleanup_policy.compact,
            retention_ms: log.retention_ms,
            segment_ms: log.segment_ms,
            delete_retention_ms: log.delete_retention_ms,
            min_cleanable_dirty_ratio: log.min_cleanable_dirty_ratio,
            min_insync_replicas: None,
            unclean_leader_election_enable: None,
        }
    }
}

impl TopicConfig {
    /// The log configuration every replica of the topic gets.
    pub fn log_config(&self) -> LogConfig {
        LogConfig {
            cleanup_policy: CleanupPolicy {
                delete: self.delete,
                compact: self.compact,
            },
            retention_ms: self.retention_ms,
            segment_ms: self.segment_ms,
            delete_retention_ms: self.delete_retention_ms,
            min_cleanable_dirty_ratio: self.min_cleanable_dirty_ratio,
            ..LogConfig::default()
        }
    }

    /// The replication settings every replica of the topic gets: the brokers' `default` with
    /// the topic's own overrides (Kafka: a topic config wins over the broker's).
    pub fn replica_config(&self, default: ReplicaConfig) -> ReplicaConfig {
        ReplicaConfig {
            min_insync_replicas: self
                .min_insync_replicas
                .unwrap_or(default.min_insync_replicas),
            ..default
        }
    }
}

/// A second data topic: the data partitions from `first_partition` on belong to it, with
/// their own settings (the producer, the consumer and the group use every data partition).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SecondTopic {
    /// Its first partition id; it runs to [`SimConfig::partitions`].
    pub first_partition: PartitionId,
    /// Its settings.
    pub topic: TopicConfig,
}

/// Everything a simulation is made of.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimConfig {
    /// The seed of every random choice.
    pub seed: u64,
    /// Brokers, with ids `0..brokers`.
    pub brokers: u32,
    /// Partitions of the one topic.
    pub partitions: u32,
    /// Replicas per partition.
    pub replication_factor: usize,
    /// Replication settings of every replica.
    pub replica: ReplicaConfig,
    /// The controller's settings.
    pub controller: ControllerConfig,
    /// The producer.
    pub producer: ProducerConfig,
    /// How brokers flush.
    pub flush: FlushPolicy,
    /// Broker heartbeat interval.
    pub heartbeat_interval_ms: u64,
    /// A follower waits this long after an empty fetch (long-poll stand-in).
    pub fetch_backoff_ms: u64,
    /// One-way latency of every link.
    pub latency_ms: u64,
    /// Up to this much extra latency per message, from the seed.
    pub jitter_ms: u64,
    /// Messages lost at random, per million, until a [`Fault::HealAll`] (or [`Fault::Loss`]).
    pub loss_per_million: u32,
    /// Check invariant 2 (replicas agree below the HW) this often; 0 checks only in reports.
    pub check_interval_ms: u64,
    /// Members of the consumer group "sim", joining when the producer starts. Their
    /// coordinator is the leader of `__consumer_offsets`, one partition after the data
    /// partitions (id [`SimConfig::partitions`]), created with the first member as Kafka
    /// creates it at the first FindCoordinator.
    pub group_members: u32,
    /// The members' assignor, and with it eager or cooperative rebalancing (KIP-429).
    pub assignor: Assignor,
    /// The topic's log settings (retention, compaction).
    pub topic: TopicConfig,
    /// A second data topic with its own settings, if any.
    pub second_topic: Option<SecondTopic>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            brokers: 3,
            partitions: 1,
            replication_factor: 3,
            replica: ReplicaConfig::default(),
            controller: ControllerConfig::default(),
            producer: ProducerConfig::default(),
            flush: FlushPolicy::EveryWrite,
            heartbeat_interval_ms: 500,
            fetch_backoff_ms: 50,
            latency_ms: 1,
            jitter_ms: 0,
            loss_per_million: 0,
            check_interval_ms: 0,
            group_members: 0,
            assignor: Assignor::Range,
            topic: TopicConfig::default(),
            second_topic: None,
        }
    }
}

/// Something done to the cluster at a point in time: a fault, or what a user or operator does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Fault {
    /// The broker's machine dies: unflushed data is lost.
    Crash(BrokerId),
    /// The broker starts again and registers.
    Restart(BrokerId),
    /// The link between two parties is cut both ways.
    Cut(Party, Party),
    /// The link between two parties works again.
    Heal(Party, Party),
    /// Every cut link works again, every slow broker and link is fast again, no message is
    /// lost.
    HealAll,
    /// From now on this many messages per million are lost at random.
    Loss(u32),
    /// Every message to and from the broker takes this much longer (a slow follower).
    Slow(BrokerId, u64),
    /// Messages between these two parties take this much longer, both ways (one slow link).
    Delay(Party, Party, u64),
    /// The active controller fails over: the quorum answers nothing for this long.
    ControllerFailover(u64),
    /// An operator runs preferred-replica election.
    PreferredElection,
    /// The transactional producer's process dies mid-transaction; a new one starts with the
    /// same `transactional.id` (nothing for a producer that is not transactional).
    ProducerCrash,
    /// A group member starts and joins (again, with a new member id).
    MemberJoin(u32),
    /// A group member leaves cleanly (LeaveGroup).
    MemberLeave(u32),
    /// A group member dies silently: its session must expire.
    MemberCrash(u32),
    /// The producer sends one record with this key now (`tombstone`: a null value, which
    /// compaction reads as "delete this key").
    Produce {
        /// The record key.
        key: String,
        /// Whether the value is null.
        tombstone: bool,
    },
    /// An operator asks every live broker's log cleaner to run now, whatever the dirty ratio.
    Compact,
    /// The broker's process stops (SIGSTOP, a long GC pause, a stalled VM): it handles
    /// nothing, and its timers do not fire, until [`Fault::Resume`]. Then it carries on with
    /// the state it had, behind on everything the cluster did meanwhile.
    Pause(BrokerId),
    /// The broker stops cleanly (SIGTERM with `controlled.shutdown.enable`): it asks the
    /// controller to move its leaderships away, then syncs every log and stops
    /// ([`ControlledShutdown`], the node's own sequence); [`Fault::Restart`] starts it again.
    Shutdown(BrokerId),
    /// A paused broker runs again: what reached it while paused is handled now, in order.
    Resume(BrokerId),
    /// An operator resets the group's committed offsets to each partition's log start
    /// (`earliest`) or high watermark; refused, as by Kafka, while the group has members.
    ResetOffsets {
        /// To the earliest offset (else to the latest).
        earliest: bool,
    },
}

/// What the trace records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TraceKind {
    /// A scheduled fault happened.
    Fault(Fault),
    /// The controller changed a partition.
    Partition {
        /// Which.
        partition: PartitionId,
        /// Leader, if any.
        leader: Option<BrokerId>,
        /// Leader epoch.
        leader_epoch: i32,
        /// ISR.
        isr: Vec<BrokerId>,
    },
    /// The producer got an acknowledgement.
    Acked {
        /// Record id.
        id: u64,
        /// Partition.
        partition: PartitionId,
        /// Offset.
        offset: i64,
    },
    /// The producer gave up on a record.
    Refused {
        /// Record id.
        id: u64,
        /// The Kafka error code of the last attempt.
        error: i16,
    },
    /// A replica truncated its log.
    Truncated {
        /// Broker.
        broker: BrokerId,
        /// Partition.
        partition: PartitionId,
        /// The new log end offset.
        log_end_offset: i64,
    },
    /// A replica's log cleaner removed something.
    Cleaned {
        /// Broker.
        broker: BrokerId,
        /// Partition.
        partition: PartitionId,
        /// Segments retention deleted.
        segments_deleted: usize,
        /// Records (tombstones included) compaction removed.
        records_removed: u64,
        /// The log start offset after.
        log_start_offset: i64,
    },
    /// A group member got its assignment (SyncGroup) for a generation.
    Assigned {
        /// The member's index.
        member: u32,
        /// The generation.
        generation: i32,
        /// The partitions it owns from now on.
        partitions: Vec<PartitionId>,
        /// The partitions it owned and gives up (cooperative rebalancing; an eager member gave
        /// up everything when the rebalance began).
        revoked: Vec<PartitionId>,
    },
    /// A group member gave up every partition it owned when told of a rebalance (the eager
    /// protocol), or lost them all, fenced (unknown member id or an old generation).
    Revoked {
        /// The member's index.
        member: u32,
        /// What it owned.
        partitions: Vec<PartitionId>,
        /// Fenced rather than rebalancing.
        fenced: bool,
    },
    /// The group's offsets were reset ([`Fault::ResetOffsets`]), or the reset was refused.
    OffsetsReset {
        /// Whether the group was empty, so the reset happened.
        applied: bool,
    },
    /// A broker in controlled shutdown ([`Fault::Shutdown`]) synced its logs and stopped.
    Stopped {
        /// Which.
        broker: BrokerId,
        /// Whether its leaderships had moved (else the bound ran out).
        fenced: bool,
    },
}

/// One trace entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceEvent {
    /// Virtual time.
    pub time_ms: u64,
    /// What happened.
    pub kind: TraceKind,
}

/// A broken invariant (see `shared/design.md`), with when and where.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Violation {
    /// 1: an acknowledged record is not in the committed log (reported by the checker only
    /// for configurations that promise durability).
    AcknowledgedRecordLost {
        /// Record id.
        id: u64,
    },
    /// 2: two replicas hold different bytes below a high watermark.
    ReplicasDiverge {
        /// Partition.
        partition: PartitionId,
        /// The follower whose committed prefix differs from the leader's.
        broker: BrokerId,
    },
    /// 3: a consumer saw offsets go backwards without a reset.
    OffsetsWentBack {
        /// Partition.
        partition: PartitionId,
    },
    /// 5: two members own the same partition in the same group generation.
    TwoOwners {
        /// Partition.
        partition: PartitionId,
        /// Generation.
        generation: i32,
    },
    /// 6: an idempotent producer's record is in the committed log more than once.
    DuplicatedRecord {
        /// Partition.
        partition: PartitionId,
        /// Record id.
        id: u64,
    },
    /// 4: a consumer received a record at or above the high watermark.
    ReadAboveHighWatermark {
        /// Partition.
        partition: PartitionId,
        /// The offset.
        offset: i64,
    },
    /// 1, the rule behind it: an acks=all write was acknowledged while the leader's ISR was
    /// smaller than the topic's `min.insync.replicas` (Kafka answers NOT_ENOUGH_REPLICAS, or
    /// NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR shrank while it waited).
    AcknowledgedBelowMinInsync {
        /// Partition.
        partition: PartitionId,
        /// The ISR's size when it was acknowledged.
        isr: usize,
    },
    /// 1, the other rule behind it: a replica outside the last ISR was elected leader of a
    /// partition whose topic has `unclean.leader.election.enable=false` (its own, or the
    /// controller's default).
    UncleanElection {
        /// Partition.
        partition: PartitionId,
        /// The leader elected.
        leader: BrokerId,
    },
    /// 4, for committed offsets: OffsetFetch answered a commit that is not in the
    /// coordinator's `__consumer_offsets` below its high watermark (a dirty read: a failover
    /// could still take it back).
    UnreplicatedCommitRead {
        /// The data partition the commit is for.
        partition: PartitionId,
        /// The committed offset answered.
        offset: i64,
    },
    /// 7 (KIP-98): a partition's last stable offset was above its high watermark.
    StableAboveHighWatermark {
        /// Partition.
        partition: PartitionId,
        /// The last stable offset answered.
        last_stable_offset: i64,
    },
    /// 7: a transaction's records did not all end the same way, or not the way the producer
    /// was told (EndTxn answered).
    TransactionNotAtomic {
        /// The producer's ordinal of the transaction.
        txn: u64,
    },
    /// 7: a `read_committed` reader read a record of a transaction that is aborted or open.
    ReadUncommitted {
        /// Record id.
        id: u64,
    },
}

/// The counts of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Records the producer sent at least once.
    pub sent: u64,
    /// Records acknowledged (acks 1 or all).
    pub acknowledged: u64,
    /// Records refused with NOT_ENOUGH_REPLICAS (or its after-append form) after the last retry.
    pub refused: u64,
    /// Records that failed otherwise (timeouts, no leader) after the last retry.
    pub failed: u64,
    /// Records sent and not yet answered (neither acknowledged, refused nor failed): with
    /// the three above, `sent = acknowledged + refused + failed + pending`.
    pub pending: u64,
    /// Acknowledged records gone: truncated away, or a leader was elected without them (with
    /// no live leader: no replica holds them).
    pub lost: u64,
    /// The ids of the first [`LOST_IDS_MAX`] of them, for views and debugging.
    pub lost_ids: Vec<u64>,
    /// Acknowledged records not committed yet: on their partition's live leader, above its
    /// high watermark. They may be committed later, or lost if a replica without them is
    /// elected.
    pub at_risk: u64,
    /// Acknowledged records, not lost, that nobody can read now: their partition has no live
    /// leader (offline, or its leader is down and not yet replaced), and some replica holds
    /// them, committed or not. They come back when a replica holding them leads.
    pub unavailable: u64,
    /// Records of an idempotent producer found more than once in a committed log (each such
    /// record is also a [`Violation::DuplicatedRecord`]).
    pub duplicated: u64,
    /// Records the consumer read.
    pub consumed: u64,
    /// Invariant violations seen.
    pub violations: Vec<Violation>,
    /// Events processed.
    pub events: u64,
    /// Virtual time reached.
    pub time_ms: u64,
}

#[derive(Clone, Debug)]
enum Msg {
    /// A broker incarnation keeps its session, or asks to be registered (KIP-631: a new
    /// incarnation is a restart).
    Heartbeat {
        incarnation: u64,
    },
    HeartbeatAck {
        /// The incarnation whose heartbeat this answers (an answer to an earlier
        /// incarnation's is dropped).
        incarnation: u64,
        /// The broker was not live and registered before this heartbeat (fenced, restarted).
        fenced: bool,
        /// The incarnation the metadata now registers for the broker.
        registered: Option<u64>,
        partitions: Vec<(PartitionId, PartitionState)>,
    },
    Partitions(Vec<(PartitionId, PartitionState)>),
    AlterIsr {
        partition: PartitionId,
        leader_epoch: i32,
        partition_epoch: i32,
        isr: Vec<BrokerId>,
    },
    /// The partition state after an ISR proposal (`None`: refused).
    AlterIsrResult {
        partition: PartitionId,
        /// The proposal this answers.
        proposed: AlterPartition,
        state: Option<PartitionState>,
    },
    Fetch {
        partition: PartitionId,
        offset: i64,
        epoch: i32,
        seq: u64,
    },
    FetchAnswer {
        partition: PartitionId,
        seq: u64,
        answer: Result<FetchAnswer, ReplicaError>,
        leader_log_start_offset: i64,
        leader_log_end_offset: i64,
    },
    EpochEndRequest {
        partition: PartitionId,
        epoch: i32,
        /// The follower's current leader epoch (KIP-320).
        current_leader_epoch: i32,
    },
    EpochEnd {
        partition: PartitionId,
        /// The request's `current_leader_epoch`, echoed.
        leader_epoch: i32,
        /// The leader's largest epoch at or below the one asked about, and its end.
        end_offset: Option<(i32, i64)>,
    },
    Produce {
        request: u64,
        partition: PartitionId,
        id: u64,
        acks: Acks,
        key: Option<String>,
        tombstone: bool,
        /// A transactional write: (producer id, epoch, sequence).
        txn: Option<(i64, i16, i32)>,
    },
    ProduceResult {
        request: u64,
        result: Result<i64, ReplicaError>,
    },
    Metadata,
    MetadataAnswer {
        leaders: Vec<Option<BrokerId>>,
    },
    JoinGroup {
        member_id: String,
        /// The partitions it owns (KIP-429's `ownedPartitions`; empty for an eager member,
        /// which gave them all up first).
        owned: Vec<PartitionId>,
    },
    JoinResult(JoinResponse),
    SyncGroup {
        generation: i32,
        member_id: String,
        assignments: Vec<(String, Vec<u8>)>,
    },
    SyncResult {
        /// Which coordinator answered: (broker, incarnation, leader epoch of the offsets
        /// partition). A new coordinator starts generations anew.
        coordinator: CoordinatorId,
        generation: i32,
        result: SyncResponse,
    },
    GroupHeartbeat {
        generation: i32,
        member_id: String,
    },
    GroupHeartbeatResult(Result<(), GroupError>),
    LeaveGroup {
        member_id: String,
    },
    ConsumerFetch {
        partition: PartitionId,
        offset: i64,
        /// `isolation_level=read_committed`: up to the last stable offset.
        read_committed: bool,
    },
    ConsumerAnswer {
        partition: PartitionId,
        offset: i64,
        high_watermark: i64,
        log_start_offset: i64,
        records: Result<Vec<u8>, ReplicaError>,
        /// For a `read_committed` fetch: the last stable offset and the aborted
        /// transactions to drop.
        stable: Option<(i64, Vec<crate::txn::AbortedTxn>)>,
    },
    InitProducerId {
        request: u64,
    },
    AddPartitionsToTxn {
        request: u64,
        producer: (i64, i16),
        partition: PartitionId,
    },
    EndTxn {
        request: u64,
        producer: (i64, i16),
        commit: bool,
    },
    /// The coordinator's answer to InitProducerId, AddPartitionsToTxn or EndTxn: the producer
    /// id and epoch, or an error code.
    TxnResult {
        request: u64,
        result: Result<(i64, i16), i16>,
    },
    WriteTxnMarker {
        job: u64,
        partition: PartitionId,
        producer: (i64, i16),
        coordinator_epoch: i32,
        commit: bool,
    },
    WriteTxnMarkerResult {
        job: u64,
        partition: PartitionId,
        error: i16,
    },
    /// A member asks for the group's committed offsets.
    OffsetFetch,
    OffsetFetchResult(Result<Vec<(PartitionId, i64)>, GroupError>),
    /// A member commits its positions.
    OffsetCommit {
        generation: i32,
        member_id: String,
        offsets: Vec<(PartitionId, i64)>,
    },
    /// A broker in controlled shutdown asks the quorum to apply this (its fence).
    ControlledShutdown {
        incarnation: u64,
        command: Command,
    },
    /// The quorum applied it.
    ControlledShutdownResult {
        incarnation: u64,
    },
}

impl Msg {
    /// What the message is, in Kafka's request names (the playground labels wires with it).
    fn name(&self) -> &'static str {
        match self {
            Msg::Heartbeat { .. } => "BrokerHeartbeat",
            Msg::HeartbeatAck { .. } => "BrokerHeartbeat response",
            Msg::Partitions(_) => "metadata update",
            Msg::AlterIsr { .. } => "AlterPartition",
            Msg::AlterIsrResult { .. } => "AlterPartition response",
            Msg::Fetch { .. } => "Fetch (replica)",
            Msg::FetchAnswer { .. } => "Fetch (replica) response",
            Msg::EpochEndRequest { .. } => "OffsetsForLeaderEpoch",
            Msg::EpochEnd { .. } => "OffsetsForLeaderEpoch response",
            Msg::Produce { .. } => "Produce",
            Msg::ProduceResult { .. } => "Produce response",
            Msg::Metadata => "Metadata",
            Msg::MetadataAnswer { .. } => "Metadata response",
            Msg::JoinGroup { .. } => "JoinGroup",
            Msg::JoinResult(_) => "JoinGroup response",
            Msg::SyncGroup { .. } => "SyncGroup",
            Msg::SyncResult { .. } => "SyncGroup response",
            Msg::GroupHeartbeat { .. } => "Heartbeat",
            Msg::GroupHeartbeatResult(_) => "Heartbeat response",
            Msg::LeaveGroup { .. } => "LeaveGroup",
            Msg::ConsumerFetch { .. } => "Fetch",
            Msg::ConsumerAnswer { .. } => "Fetch response",
            Msg::OffsetFetch => "OffsetFetch",
            Msg::OffsetFetchResult(_) => "OffsetFetch response",
            Msg::OffsetCommit { .. } => "OffsetCommit",
            Msg::ControlledShutdown { .. } => "ControlledShutdown",
            Msg::ControlledShutdownResult { .. } => "ControlledShutdown response",
            Msg::InitProducerId { .. } => "InitProducerId",
            Msg::AddPartitionsToTxn { .. } => "AddPartitionsToTxn",
            Msg::EndTxn { .. } => "EndTxn",
            Msg::TxnResult { .. } => "transaction response",
            Msg::WriteTxnMarker { .. } => "WriteTxnMarkers",
            Msg::WriteTxnMarkerResult { .. } => "WriteTxnMarkers response",
        }
    }
}

/// A message on the wire now (the playground draws these).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wire {
    /// Sender.
    pub from: Party,
    /// Receiver.
    pub to: Party,
    /// When it was sent.
    pub sent_ms: u64,
    /// When it arrives (if its link is still up then).
    pub arrive_ms: u64,
    /// Kafka's name for the request or response.
    pub what: &'static str,
}

/// A produce request the producer is waiting on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingRecord {
    /// Record id.
    pub id: u64,
    /// The partition it goes to.
    pub partition: PartitionId,
    /// Its key, if any.
    pub key: Option<String>,
    /// Sends so far beyond the first.
    pub attempts: u32,
}

/// A group member as the playground shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberView {
    /// Index of the member (`Party::Member(index)`).
    pub index: u32,
    /// Whether it runs.
    pub active: bool,
    /// Its member id from the coordinator ("" before its first join).
    pub member_id: String,
    /// The generation it last synced.
    pub generation: i32,
    /// Joining, syncing or stable, in words.
    pub state: &'static str,
    /// Partitions it owns with its position (next offset to read) in each.
    pub positions: Vec<(PartitionId, Option<i64>)>,
    /// Records it has read.
    pub consumed: u64,
    /// Whether it is fetching now (stable, or rejoining cooperatively with partitions kept).
    pub reading: bool,
}

/// The consumer group "sim" as the playground shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupView {
    /// The coordinator's group state (Empty, PreparingRebalance, CompletingRebalance, Stable).
    pub state: String,
    /// The coordinator's generation (-1 without a group).
    pub generation: i32,
    /// Every member that was ever started.
    pub members: Vec<MemberView>,
    /// Per partition: committed offset (if any) and lag (the leader's HW minus it).
    pub committed: Vec<(PartitionId, Option<i64>, i64)>,
    /// Records members read, counting rereads.
    pub reads: u64,
    /// Records members read more than once (at-least-once delivery after a failure).
    pub rereads: u64,
    /// The members' assignor (eager range or cooperative-sticky).
    pub assignor: Assignor,
    /// Data partitions some member is reading now.
    pub being_read: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    Heartbeat,
    BrokerTick,
    Fetch(PartitionId, u64),
    FetchTimeout(PartitionId, u64),
    ControllerTick,
    ProducerSend,
    ProducerTimeout(u64),
    ProducerMetadata,
    ProducerRetry(u64),
    ConsumerPoll,
    /// The lag monitor asks the group's committed offsets.
    LagMonitor,
    QuorumResume,
    Check,
    MemberHeartbeat,
    MemberRetry(u64),
    /// Ask for the committed offsets again (the answer of this generation was an error).
    MemberOffsetFetch(i32),
    MemberPoll,
    MemberCommit,
    ShutdownDeadline,
    /// The transactional producer's coordinator request got no answer in time.
    TxnAskTimeout(u64),
    /// A coordinator sends a marker job's unwritten markers again.
    TxnMarkerRetry(u64),
}

#[derive(Clone, Debug)]
enum Event {
    Deliver {
        from: Party,
        to: Party,
        sent_ms: u64,
        msg: Msg,
    },
    Timer {
        party: Party,
        incarnation: u64,
        timer: Timer,
    },
    Fault(Fault),
}

struct Scheduled {
    time_ms: u64,
    seq: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.time_ms, self.seq) == (other.time_ms, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.time_ms, self.seq).cmp(&(other.time_ms, other.seq))
    }
}

struct FetchState {
    seq: u64,
    inflight: bool,
    /// What the fetch in flight asked.
    task: Option<FollowerTask>,
}

struct SimBroker {
    alive: bool,
    incarnation: u64,
    /// Its partitions: each replica with the node's decisions around it, the same
    /// [`HostedPartition`] the node runs.
    replicas: BTreeMap<PartitionId, HostedPartition>,
    /// The incarnation the metadata it learnt last registers for it: it acts on its metadata
    /// only when that is its own ([`Controller::is_registered`]'s rule).
    registered: Option<u64>,
    /// The partition states this broker knows (its metadata log: kept over a restart).
    metadata: BTreeMap<PartitionId, PartitionState>,
    /// Offsets known to be on disk, per partition (the simulated disk: what a crash keeps).
    flushed: BTreeMap<PartitionId, i64>,
    fetches: BTreeMap<PartitionId, FetchState>,
    /// The group coordinator with the commits it serves while this broker leads
    /// `__consumer_offsets`: core's [`HostedGroups`], as a node hosts it. Lost with a crash,
    /// as its in-memory state is; rebuilt from the partition's log by the next leader
    /// ([`HostedGroups::handle_elected`]).
    groups: HostedGroups,
    /// Held group replies: token → member.
    group_replies: BTreeMap<ReplyToken, u32>,
    /// Writes to `__consumer_offsets` waiting for the ISR, by produce request id.
    offsets_writes: BTreeMap<u64, OffsetsWrite>,
    /// Coordinator moves (elected or resigned) in this incarnation: each starts a new
    /// coordinator, even in the same leader epoch (a fenced leader that leads again).
    coordinator_moves: u64,
    /// When the log cleaner last ran.
    last_clean_ms: u64,
    /// Paused ([`Fault::Pause`]): deliveries and timers wait in `held` until resumed.
    paused: bool,
    held: Vec<Event>,
    /// In controlled shutdown ([`Fault::Shutdown`]).
    shutdown: Option<ControlledShutdown>,
    /// The transaction coordinator it hosts while it leads `__transaction_state`, and the
    /// markers it writes as a leader. Lost with a crash.
    txn: txn::BrokerTxn,
}

/// A group coordinator's identity: (broker, incarnation, how many times that incarnation's
/// coordinator was elected or resigned). Each one counts generations from the start.
type CoordinatorId = (BrokerId, u64, u64);

/// What a write to `__consumer_offsets` carries, to finish when the ISR has it.
#[derive(Debug)]
enum OffsetsWrite {
    /// An OffsetCommit's plan; `reset`: an operator's offset reset ([`Fault::ResetOffsets`]).
    Commit { plan: CommitPlan, reset: bool },
    /// A generation's assignment (SyncGroup answers wait for it).
    Store(GroupStore),
}

impl SimBroker {
    /// Whether the metadata it learnt registers its own incarnation
    /// ([`Controller::is_registered`]'s rule): only then does it act on it.
    fn acts_on_metadata(&self) -> bool {
        self.registered == Some(self.incarnation)
    }
}

struct InFlight {
    id: u64,
    partition: PartitionId,
    /// When the record was handed to the producer (its `delivery.timeout.ms` counts from it).
    created_ms: u64,
    attempts: u32,
    key: Option<String>,
    tombstone: bool,
    /// A transactional write: (producer id, epoch, sequence).
    txn: Option<(i64, i16, i32)>,
}

struct SimProducer {
    next_id: u64,
    next_request: u64,
    leaders: Vec<Option<BrokerId>>,
    bootstrap_next: BrokerId,
    inflight: BTreeMap<u64, InFlight>,
    acked: BTreeMap<u64, (PartitionId, i64)>,
    sent: BTreeSet<u64>,
    refused: BTreeSet<u64>,
    failed: BTreeSet<u64>,
}

struct SimConsumer {
    offsets: Vec<i64>,
    consumed: u64,
}

/// The simulator. See the module documentation.
pub struct Sim {
    config: SimConfig,
    now_ms: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<Scheduled>>,
    rng: Rng,
    controller: Controller,
    quorum_paused_until: u64,
    /// The active controller's session keeping, as the node's.
    heartbeats: HeartbeatManager,
    brokers: Vec<SimBroker>,
    producer: SimProducer,
    consumer: SimConsumer,
    cut: BTreeSet<(Party, Party)>,
    slow: BTreeMap<BrokerId, u64>,
    /// Extra latency per link.
    delays: BTreeMap<(Party, Party), u64>,
    loss_per_million: u32,
    trace: Option<Vec<TraceEvent>>,
    members: Vec<SimMember>,
    /// Who owns each partition in each generation of each coordinator ([`CoordinatorId`])
    /// (invariant 5). A coordinator keeps group membership in memory
    /// only (runnel does not reload group records), so a new one counts generations from
    /// the start again.
    owners: BTreeMap<(CoordinatorId, i32, PartitionId), u32>,
    next_group_token: u64,
    /// Each partition's last state from the controller (to see unclean elections).
    last_states: BTreeMap<PartitionId, PartitionState>,
    /// `__consumer_offsets`, once created: one partition after the data partitions.
    offsets_partition: Option<PartitionId>,
    /// The next request id of a write to `__consumer_offsets`.
    next_offsets_write: u64,
    /// Records members read, counting rereads.
    group_reads: u64,
    /// Every (partition, offset) a member read.
    group_seen: BTreeSet<(PartitionId, i64)>,
    violations: Vec<Violation>,
    events: u64,
    /// The transactional producer and what the `read_committed` checker read.
    txn: txn::SimTxn,
    /// `__transaction_state`, when the producer is transactional: one partition after the
    /// data partitions.
    txn_partition: Option<PartitionId>,
    /// What [`Sim::counts`] read of each partition's committed log, kept between calls.
    committed_logs: RefCell<BTreeMap<PartitionId, CommittedLog>>,
}

/// The records of one partition's log below its high watermark on its leader, as
/// [`Sim::counts`] last read them: it reads only what was committed since, so a view redrawn
/// every frame costs what changed, not the whole log.
#[derive(Default)]
struct CommittedLog {
    /// Whose log was read, and what would change its committed part: (leader, the leader's
    /// incarnation, the replica's truncations, its log start, its cleaned-below offset).
    source: (BrokerId, u64, u64, i64, i64),
    /// Where the next read starts.
    next_offset: i64,
    /// The record ids read.
    ids: BTreeSet<u64>,
    /// Offset → record id (only an idempotent producer's answers are checked for their
    /// offset, so the map is built only then).
    at: BTreeMap<i64, u64>,
    /// Ids read more than once.
    duplicated: Vec<u64>,
}

impl CommittedLog {
    /// Reads `replica`'s log up to its high watermark from where the last read stopped, or
    /// from its start when `leader`'s log is another than last time (another broker or
    /// incarnation, a truncation, a new log start or a cleaner pass).
    fn read(&mut self, leader: (BrokerId, u64), replica: &Replica, idempotent: bool) {
        let source = (
            leader.0,
            leader.1,
            replica.truncations(),
            replica.log_start_offset(),
            replica.cleaned_below(),
        );
        if source != self.source || self.next_offset < replica.log_start_offset() {
            *self = Self {
                source,
                next_offset: replica.log_start_offset(),
                ..Self::default()
            };
        }
        let bytes = replica.read_from(self.next_offset, usize::MAX, replica.high_watermark());
        let mut scratch = Vec::new();
        for batch in batches(&bytes).flatten() {
            if let Ok(records) = batch.records(&NoCodec, &mut scratch) {
                for record in records.flatten() {
                    if record.offset < self.next_offset {
                        continue;
                    }
                    let Some(id) = record_id(&record) else {
                        continue;
                    };
                    if idempotent {
                        self.at.insert(record.offset, id);
                    }
                    if !self.ids.insert(id) {
                        self.duplicated.push(id);
                    }
                }
            }
            self.next_offset = self.next_offset.max(batch.header().next_offset());
        }
    }
}

impl Sim {
    /// A cluster per `config`: brokers registered, the topic created, periodic work scheduled.
    pub fn new(config: SimConfig) -> Self {
        let mut controller = Controller::new(config.controller);
        for b in 0..config.brokers {
            controller.handle_register(0, b, 0);
        }
        // The config is ours; a replication factor above the broker count is a test bug.
        controller
            .create_partitions(config.partitions, config.replication_factor)
            .unwrap_or_else(|e| panic!("Sim::new: cannot create partitions: {e}"));
        // Each topic's own unclean.leader.election.enable, over the controller's default.
        let second = config
            .second_topic
            .filter(|t| t.first_partition < config.partitions);
        let split = second.map_or(config.partitions, |t| t.first_partition);
        let topics = [
            (0, split, config.topic),
            (
                split,
                config.partitions,
                second.map_or(config.topic, |t| t.topic),
            ),
        ];
        for (first, end, topic) in topics {
            if let Some(enabled) = topic.unclean_leader_election_enable.filter(|_| end > first) {
                // Applying a command to partitions just created cannot fail.
                let _ = controller.apply(&Command::SetUncleanLeaderElection {
                    first,
                    count: end - first,
                    enabled: Some(enabled),
                });
            }
        }
        let brokers = (0..config.brokers)
            .map(|_| SimBroker {
                groups: HostedGroups::new(GroupConfig::default()),
                group_replies: BTreeMap::new(),
                offsets_writes: BTreeMap::new(),
                coordinator_moves: 0,
                alive: true,
                incarnation: 0,
                registered: Some(0),
                replicas: BTreeMap::new(),
                metadata: BTreeMap::new(),
                flushed: BTreeMap::new(),
                fetches: BTreeMap::new(),
                last_clean_ms: 0,
                paused: false,
                shutdown: None,
                held: Vec::new(),
                txn: txn::BrokerTxn::new(),
            })
            .collect();
        let mut sim = Self {
            now_ms: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            rng: Rng::new(config.seed),
            controller,
            quorum_paused_until: 0,
            // The simulated quorum applies a proposal at once: nothing is ever in flight to
            // propose twice.
            heartbeats: HeartbeatManager::new(
                0,
                config.controller.auto_leader_rebalance.then_some(TICK_MS),
            ),
            brokers,
            producer: SimProducer {
                next_id: 0,
                next_request: 0,
                leaders: alloc::vec![None; config.partitions as usize],
                bootstrap_next: 0,
                inflight: BTreeMap::new(),
                acked: BTreeMap::new(),
                sent: BTreeSet::new(),
                refused: BTreeSet::new(),
                failed: BTreeSet::new(),
            },
            consumer: SimConsumer {
                offsets: alloc::vec![0; config.partitions as usize],
                consumed: 0,
            },
            cut: BTreeSet::new(),
            slow: BTreeMap::new(),
            delays: BTreeMap::new(),
            loss_per_million: config.loss_per_million,
            trace: None,
            members: (0..config.group_members)
                .map(|_| SimMember::default())
                .collect(),
            owners: BTreeMap::new(),
            next_group_token: 0,
            offsets_partition: None,
            last_states: BTreeMap::new(),
            next_offsets_write: 0,
            group_reads: 0,
            group_seen: BTreeSet::new(),
            violations: Vec::new(),
            events: 0,
            txn: txn::SimTxn::new(),
            txn_partition: None,
            committed_logs: RefCell::new(BTreeMap::new()),
            config,
        };
        if config.producer.transactions.is_some() {
            // Kafka creates it at the first transactional FindCoordinator; the simulated
            // producer is transactional from the start.
            let p = config.partitions;
            if sim
                .controller
                .create_partitions_at(p, 1, config.replication_factor)
                .is_ok()
            {
                sim.txn_partition = Some(p);
                // Applying a command to a partition just created cannot fail.
                let _ = sim.controller.apply(&Command::SetUncleanLeaderElection {
                    first: p,
                    count: 1,
                    enabled: Some(false),
                });
            }
        }
        if config.group_members > 0 {
            sim.create_offsets_partition();
        }
        // The initial metadata reaches every broker at once.
        let changes = sim.controller.poll_changes();
        sim.record_partitions(&changes);
        for b in 0..config.brokers {
            sim.apply_partitions(b, &changes);
            sim.timer(
                Party::Broker(b),
                config.heartbeat_interval_ms,
                Timer::Heartbeat,
            );
            sim.timer(Party::Broker(b), TICK_MS, Timer::BrokerTick);
        }
        sim.timer(Party::Quorum, TICK_MS, Timer::ControllerTick);
        sim.timer(
            Party::Producer,
            config.producer.start_ms,
            Timer::ProducerMetadata,
        );
        sim.timer(
            Party::Producer,
            config.producer.start_ms,
            Timer::ProducerSend,
        );
        sim.timer(
            Party::Consumer,
            config.producer.start_ms,
            Timer::ConsumerPoll,
        );
        sim.timer(Party::Consumer, config.producer.start_ms, Timer::LagMonitor);
        for m in 0..config.group_members {
            sim.push(config.producer.start_ms, Event::Fault(Fault::MemberJoin(m)));
        }
        if config.check_interval_ms > 0 {
            sim.timer(Party::Consumer, config.check_interval_ms, Timer::Check);
        }
        sim
    }

    /// Records a trace of faults, partition changes, acknowledgements and truncations.
    pub fn with_trace(mut self) -> Self {
        self.trace = Some(Vec::new());
        self
    }

    /// The trace so far (empty unless [`Sim::with_trace`]).
    pub fn trace(&self) -> &[TraceEvent] {
        self.trace.as_deref().unwrap_or(&[])
    }

    /// The trace, postcard-encoded.
    pub fn trace_postcard(&self) -> Vec<u8> {
        postcard::to_allocvec(self.trace()).unwrap_or_default()
    }

    /// Virtual time now.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// The controller's view of the cluster.
    pub fn controller(&self) -> &Controller {
        &self.controller
    }

    /// One broker's replica of a partition, if it has one.
    pub fn replica(&self, broker: BrokerId, partition: PartitionId) -> Option<&Replica> {
        self.brokers
            .get(broker as usize)?
            .replicas
            .get(&partition)
            .map(HostedPartition::replica)
    }

    /// Schedules a fault at `at_ms`.
    pub fn schedule(&mut self, at_ms: u64, fault: Fault) {
        self.push(at_ms, Event::Fault(fault));
    }

    /// Processes the next event; false when nothing is left.
    pub fn step(&mut self) -> bool {
        let Some(Reverse(next)) = self.queue.pop() else {
            return false;
        };
        self.now_ms = next.time_ms;
        self.events += 1;
        // A paused broker's process runs nothing: what reaches it waits for the resume.
        let paused_target = match &next.event {
            Event::Deliver {
                to: Party::Broker(b),
                from,
                ..
            } if !self.is_cut(*from, Party::Broker(*b)) => Some(*b),
            Event::Timer {
                party: Party::Broker(b),
                ..
            } => Some(*b),
            _ => None,
        };
        if let Some(b) = paused_target
            && self.brokers[b as usize].paused
        {
            self.brokers[b as usize].held.push(next.event);
            return true;
        }
        match next.event {
            Event::Deliver { from, to, msg, .. } => {
                if !self.is_cut(from, to) {
                    self.deliver(from, to, msg);
                }
            }
            Event::Timer {
                party,
                incarnation,
                timer,
            } => self.fire(party, incarnation, timer),
            Event::Fault(fault) => self.apply_fault(fault),
        }
        true
    }

    /// Runs every event up to and including `until_ms`.
    pub fn run_until(&mut self, until_ms: u64) {
        while self
            .queue
            .peek()
            .is_some_and(|Reverse(s)| s.time_ms <= until_ms)
        {
            self.step();
        }
        self.now_ms = self.now_ms.max(until_ms);
    }

    /// Counts, losses and violations as of now, after checking every replica against its
    /// leader and every transaction's outcome (reads each partition's whole log on every
    /// replica: the sweep's and the scenarios' final verdict). Loss is judged against each
    /// partition's current leader (by the controller) and its high watermark.
    pub fn report(&mut self) -> Report {
        self.check_replicas();
        self.txn_check();
        let (mut report, duplicated) = self.tally();
        for v in duplicated {
            self.violated(v);
        }
        report.violations = self.violations.clone();
        report
    }

    /// The counts, losses and records at risk as of now, as [`Sim::report`] gives them, without
    /// its replica and transaction checks: `violations` lists only what the run has found so
    /// far. For a view redrawn every frame (the playground): it reads each partition's log on
    /// its leader only, not on every replica.
    pub fn counts(&self) -> Report {
        self.tally().0
    }

    /// The counts, and the duplicated records of an idempotent producer (invariant 6) as
    /// violations not yet recorded.
    fn tally(&self) -> (Report, Vec<Violation>) {
        let idempotent = self.config.producer.idempotent;
        // Each leader's committed log, read since the last call only.
        let mut logs = self.committed_logs.borrow_mut();
        let mut duplicated = Vec::new();
        // Below this offset the leader's cleaner removed records on purpose (retention,
        // compaction): an acknowledged record missing there is cleaned, not lost.
        let mut cleaned_below = alloc::vec![0; self.config.partitions as usize];
        // Each partition's leader if it is up. None: no live leader serves the partition now
        // (offline, or led by a broker that is down and not replaced yet: the controller
        // notices after the broker's session times out).
        let live_leaders: Vec<Option<BrokerId>> = (0..self.config.partitions)
            .map(|p| {
                self.controller
                    .partition(p)
                    .and_then(|s| s.leader)
                    .filter(|l| self.brokers[*l as usize].alive)
            })
            .collect();
        let mut unavailable = 0;
        for p in 0..self.config.partitions {
            let Some(leader) = self.controller.partition(p).and_then(|s| s.leader) else {
                logs.remove(&p);
                continue;
            };
            let Some(replica) = self.replica(leader, p) else {
                logs.remove(&p);
                continue;
            };
            let log = logs.entry(p).or_default();
            log.read(
                (leader, self.brokers[leader as usize].incarnation),
                replica,
                idempotent,
            );
            // Invariant 6: an idempotent producer's record is written once, however often it
            // was retried. (Without idempotence a retry may write it twice: at-least-once, as
            // Kafka promises.)
            if idempotent {
                duplicated.extend(log.duplicated.iter().map(|id| Violation::DuplicatedRecord {
                    partition: p,
                    id: *id,
                }));
            }
            cleaned_below[p as usize] = replica.cleaned_below();
        }
        let uncommitted: Vec<(u64, PartitionId, i64)> = self
            .producer
            .acked
            .iter()
            .filter(|&(&id, &(p, offset))| {
                if offset < cleaned_below[p as usize] {
                    return false;
                }
                // An idempotent producer is told where its record is: an answer naming an
                // offset that holds another record (a stale duplicate answer after a
                // truncation) loses the record as surely as a missing one.
                let Some(log) = logs.get(&p) else {
                    return true;
                };
                let misplaced = idempotent && log.at.get(&offset).is_some_and(|other| *other != id);
                let uncommitted = !log.ids.contains(&id) || misplaced;
                // Committed on a leader that is down: nobody can read it now.
                if !uncommitted && live_leaders[p as usize].is_none() {
                    unavailable += 1;
                }
                uncommitted
            })
            .map(|(id, (p, offset))| (*id, *p, *offset))
            .collect();
        // Of those, the ones the partition's leader still holds above its HW are at risk (not
        // committed yet); with no live leader, the ones any replica holds (unavailable). The
        // rest are lost: truncated away, or a leader was elected without them. Logs are read
        // only for the partitions concerned, and a live leader's only above its HW (below it
        // is what was read as committed): the playground asks every frame.
        let mut held: BTreeMap<PartitionId, BTreeSet<(i64, u64)>> = BTreeMap::new();
        for (_, p, _) in &uncommitted {
            if held.contains_key(p) {
                continue;
            }
            let records = match live_leaders[*p as usize] {
                Some(l) => self.brokers[l as usize]
                    .replicas
                    .get(p)
                    .map(|h| {
                        let r = h.replica();
                        let from = r.high_watermark().max(r.log_start_offset());
                        record_offsets(&r.read_from(from, usize::MAX, r.log_end_offset()))
                    })
                    .unwrap_or_default()
                    .into_iter()
                    .collect(),
                None => self
                    .brokers
                    .iter()
                    .filter_map(|b| b.replicas.get(p))
                    .flat_map(|h| {
                        let r = h.replica();
                        record_offsets(&r.read_all(r.log_end_offset()))
                    })
                    .collect(),
            };
            held.insert(*p, records);
        }
        let (mut lost_ids, mut at_risk) = (Vec::new(), 0);
        for (id, p, offset) in uncommitted {
            let offline = live_leaders[p as usize].is_none();
            let records = held.get(&p);
            let still_held = records.is_some_and(|r| {
                if idempotent {
                    r.contains(&(offset, id))
                } else {
                    r.iter().any(|(_, other)| *other == id)
                }
            });
            match (still_held, offline) {
                (true, false) => at_risk += 1,
                (true, true) => unavailable += 1,
                (false, _) => lost_ids.push(id),
            }
        }
        let report = Report {
            sent: self.producer.sent.len() as u64,
            acknowledged: self.producer.acked.len() as u64,
            refused: self.producer.refused.len() as u64,
            failed: self.producer.failed.len() as u64,
            pending: self.producer.inflight.len() as u64,
            lost: lost_ids.len() as u64,
            at_risk,
            unavailable,
            lost_ids: lost_ids.into_iter().take(LOST_IDS_MAX).collect(),
            duplicated: duplicated.len() as u64,
            consumed: self.consumer.consumed,
            violations: self.violations.clone(),
            events: self.events,
            time_ms: self.now_ms,
        };
        (report, duplicated)
    }

    /// Whether every partition (`__consumer_offsets` too, once created) has a leader whose
    /// replicas all hold its whole log, with the HW at the log end: the cluster has converged.
    pub fn converged(&self) -> bool {
        let offsets = self.offsets_partition;
        (0..self.config.partitions).chain(offsets).all(|p| {
            let Some(state) = self.controller.partition(p) else {
                return false;
            };
            let Some(leader) = state.leader.and_then(|l| self.replica(l, p)) else {
                return false;
            };
            let leo = leader.log_end_offset();
            leader.high_watermark() == leo
                && state.isr.len() == state.replicas.len()
                && state.replicas.iter().all(|r| {
                    self.replica(*r, p).is_some_and(|x| {
                        x.log_end_offset() == leo && x.read_all(leo) == leader.read_all(leo)
                    })
                })
        })
    }

    // ---- plumbing ----

    fn push(&mut self, time_ms: u64, event: Event) {
        self.seq += 1;
        self.queue.push(Reverse(Scheduled {
            time_ms,
            seq: self.seq,
            event,
        }));
    }

    fn timer(&mut self, party: Party, after_ms: u64, timer: Timer) {
        let incarnation = match party {
            Party::Broker(b) => self.brokers[b as usize].incarnation,
            Party::Member(m) => self.members[m as usize].incarnation,
            _ => 0,
        };
        self.push(
            self.now_ms + after_ms,
            Event::Timer {
                party,
                incarnation,
                timer,
            },
        );
    }

    fn key(a: Party, b: Party) -> (Party, Party) {
        if a <= b { (a, b) } else { (b, a) }
    }

    fn is_cut(&self, a: Party, b: Party) -> bool {
        self.cut.contains(&Self::key(a, b))
    }

    fn send(&mut self, from: Party, to: Party, msg: Msg) {
        if self.is_cut(from, to) {
            return;
        }
        if self.loss_per_million > 0 && self.rng.below(1_000_000) < u64::from(self.loss_per_million)
        {
            return;
        }
        let mut latency = self.config.latency_ms;
        if self.config.jitter_ms > 0 {
            latency += self.rng.below(self.config.jitter_ms + 1);
        }
        for party in [from, to] {
            if let Party::Broker(b) = party {
                latency += self.slow.get(&b).copied().unwrap_or(0);
            }
        }
        latency += self.delays.get(&Self::key(from, to)).copied().unwrap_or(0);
        let sent_ms = self.now_ms;
        self.push(
            sent_ms + latency,
            Event::Deliver {
                from,
                to,
                sent_ms,
                msg,
            },
        );
    }

    fn record(&mut self, kind: TraceKind) {
        if let Some(trace) = &mut self.trace {
            trace.push(TraceEvent {
                time_ms: self.now_ms,
                kind,
            });
        }
    }

    fn record_partitions(&mut self, changes: &[(PartitionId, PartitionState)]) {
        for (p, s) in changes {
            // A topic's own unclean.leader.election.enable is honoured: a new leader outside
            // the last ISR only where it is on.
            if let (Some(leader), Some(before)) = (s.leader, self.last_states.get(p))
                && before.leader != Some(leader)
                && !before.isr.contains(&leader)
                && !self.unclean_enabled(*p)
            {
                let v = Violation::UncleanElection {
                    partition: *p,
                    leader,
                };
                self.violated(v);
            }
            self.last_states.insert(*p, s.clone());
            self.record(TraceKind::Partition {
                partition: *p,
                leader: s.leader,
                leader_epoch: s.leader_epoch,
                isr: s.isr.clone(),
            });
        }
    }

    // ---- faults ----

    fn apply_fault(&mut self, fault: Fault) {
        self.record(TraceKind::Fault(fault.clone()));
        match fault {
            Fault::Crash(b) => self.crash(b),
            Fault::Restart(b) => self.restart(b),
            Fault::Pause(b) => {
                if let Some(broker) = self.brokers.get_mut(b as usize) {
                    broker.paused = true;
                }
            }
            Fault::Shutdown(b) => self.begin_shutdown(b),
            Fault::Resume(b) => {
                if let Some(broker) = self.brokers.get_mut(b as usize) {
                    broker.paused = false;
                    let now = self.now_ms;
                    let mut signals = Vec::new();
                    for event in core::mem::take(&mut broker.held) {
                        match event {
                            // A SIGTERM that waited for the process acts as it runs again,
                            // before anything scheduled after the resume (a restart).
                            Event::Fault(fault) => signals.push(fault),
                            event => self.push(now, event),
                        }
                    }
                    for fault in signals {
                        self.apply_fault(fault);
                    }
                }
            }
            Fault::Cut(a, b) => {
                self.cut.insert(Self::key(a, b));
            }
            Fault::Heal(a, b) => {
                self.cut.remove(&Self::key(a, b));
            }
            Fault::HealAll => {
                self.cut.clear();
                self.slow.clear();
                self.delays.clear();
                self.loss_per_million = 0;
            }
            Fault::Loss(per_million) => self.loss_per_million = per_million,
            Fault::Slow(b, ms) => {
                self.slow.insert(b, ms);
            }
            Fault::Delay(a, b, ms) => {
                self.delays.insert(Self::key(a, b), ms);
            }
            Fault::ControllerFailover(ms) => {
                self.quorum_paused_until = self.now_ms + ms;
                self.timer(Party::Quorum, ms, Timer::QuorumResume);
            }
            Fault::PreferredElection => {
                self.controller.elect_preferred_leaders();
                self.push_changes();
            }
            Fault::MemberJoin(m) => {
                // A member beyond the configured ones is a consumer started now.
                if m as usize >= self.members.len() && m < MEMBERS_MAX {
                    self.members.resize_with(m as usize + 1, SimMember::default);
                }
                if self.create_offsets_partition() {
                    self.push_changes();
                }
                if let Some(member) = self.members.get_mut(m as usize) {
                    member.active = true;
                    member.incarnation += 1;
                    member.member_id.clear();
                    member.owned.clear();
                    member.positions.clear();
                    self.member_join(m);
                    self.timer(Party::Member(m), TICK_MS, Timer::MemberPoll);
                    self.timer(Party::Member(m), MEMBER_COMMIT_MS, Timer::MemberCommit);
                }
            }
            Fault::MemberLeave(m) => {
                if self.members.get(m as usize).is_some_and(|x| x.active) {
                    // A consumer closing commits what it read, then leaves.
                    self.member_commit(m);
                    let member = &mut self.members[m as usize];
                    let member_id = core::mem::take(&mut member.member_id);
                    member.active = false;
                    member.owned.clear();
                    member.positions.clear();
                    self.send_to_coordinator(m, Msg::LeaveGroup { member_id });
                }
            }
            Fault::MemberCrash(m) => {
                if let Some(member) = self.members.get_mut(m as usize) {
                    member.active = false;
                    member.incarnation += 1;
                    member.owned.clear();
                    member.positions.clear();
                }
            }
            Fault::Produce { key, tombstone } => self.producer_enqueue(Some(key), tombstone),
            Fault::ProducerCrash => self.txn_producer_restart(),
            Fault::Compact => {
                for b in 0..self.config.brokers {
                    if self.brokers[b as usize].alive {
                        self.clean(b, true);
                    }
                }
            }
            Fault::ResetOffsets { earliest } => {
                let mut offsets = Vec::new();
                for p in 0..self.config.partitions {
                    let leader = self.controller.partition(p).and_then(|s| s.leader);
                    if let Some(r) = leader.and_then(|l| self.replica(l, p)) {
                        let to = if earliest {
                            r.log_start_offset()
                        } else {
                            r.high_watermark()
                        };
                        offsets.push((p, to));
                    }
                }
                // A commit from outside the group (an admin client's, sent to the coordinator):
                // refused while the group has members; traced once written, or refused.
                if self.create_offsets_partition() {
                    self.push_changes();
                }
                let accepted = match self.coordinator() {
                    Some(c) if self.brokers[c as usize].alive => {
                        self.commit_offsets(c, -1, "", offsets, true)
                    }
                    _ => false,
                };
                if !accepted {
                    self.record(TraceKind::OffsetsReset { applied: false });
                }
            }
        }
    }

    /// Runs a broker's log cleaner over each of its replicas, tracing what it removed.
    fn clean(&mut self, b: BrokerId, force: bool) {
        let now = self.now_ms;
        let broker = &mut self.brokers[b as usize];
        broker.last_clean_ms = now;
        let mut cleaned = Vec::new();
        let mut readies = Vec::new();
        for (p, hosted) in broker.replicas.iter_mut() {
            let pass = CleanPass {
                force,
                ..CleanPass::ALL
            };
            let (report, ready) = hosted.handle_clean(now, &NoCodec, pass);
            readies.push((*p, ready));
            let replica = hosted.replica();
            let records_removed =
                report.compaction.records_removed + report.compaction.tombstones_removed;
            if report.retention.segments_deleted > 0 || records_removed > 0 {
                cleaned.push(TraceKind::Cleaned {
                    broker: b,
                    partition: *p,
                    segments_deleted: report.retention.segments_deleted,
                    records_removed,
                    log_start_offset: replica.log_start_offset(),
                });
            }
        }
        for kind in cleaned {
            self.record(kind);
        }
        for (p, ready) in readies {
            self.carry_out(b, p, ready);
        }
    }

    /// [`Fault::Shutdown`]: the node's controlled shutdown, through core's
    /// [`ControlledShutdown`].
    fn begin_shutdown(&mut self, b: BrokerId) {
        let now = self.now_ms;
        let broker = &mut self.brokers[b as usize];
        if broker.paused {
            // A stopped process gets its SIGTERM when it resumes.
            broker.held.push(Event::Fault(Fault::Shutdown(b)));
            return;
        }
        if !broker.alive || broker.shutdown.is_some() {
            return;
        }
        let shutdown = ControlledShutdown::begin(b, now);
        broker.shutdown = Some(shutdown);
        let incarnation = broker.incarnation;
        self.send(
            Party::Broker(b),
            Party::Quorum,
            Msg::ControlledShutdown {
                incarnation,
                command: shutdown.fence(),
            },
        );
        let wait = shutdown.poll_timeout().saturating_sub(now);
        self.timer(Party::Broker(b), wait, Timer::ShutdownDeadline);
    }

    /// A broker in controlled shutdown stops if core says it may: every log synced, then down
    /// like a crash that loses nothing.
    fn maybe_stop(&mut self, b: BrokerId) {
        let now = self.now_ms;
        if self.brokers[b as usize]
            .shutdown
            .is_some_and(|s| s.may_stop(now))
        {
            self.stop(b);
        }
    }

    /// A broker in controlled shutdown syncs every log and stops.
    fn stop(&mut self, b: BrokerId) {
        let broker = &mut self.brokers[b as usize];
        let Some(shutdown) = broker.shutdown else {
            return;
        };
        for (p, hosted) in &broker.replicas {
            broker.flushed.insert(*p, hosted.replica().log_end_offset());
        }
        self.crash(b);
        self.record(TraceKind::Stopped {
            broker: b,
            fenced: shutdown.is_fenced(),
        });
    }

    fn crash(&mut self, b: BrokerId) {
        let now = self.now_ms;
        let broker = &mut self.brokers[b as usize];
        if !broker.alive {
            return;
        }
        broker.alive = false;
        broker.incarnation += 1;
        broker.shutdown = None;
        // A paused process that is killed never resumes: what waited for it is gone.
        broker.paused = false;
        broker.held.clear();
        for (p, replica) in broker.replicas.iter_mut() {
            let flushed = broker.flushed.get(p).copied().unwrap_or(0);
            replica.crash(flushed, now);
        }
        // Its metadata log survives (it is on disk); what it applied does not.
        broker.fetches.clear();
        broker.groups = HostedGroups::new(GroupConfig::default());
        broker.group_replies.clear();
        broker.offsets_writes.clear();
        broker.coordinator_moves = 0;
        broker.txn = txn::BrokerTxn::new();
    }

    fn restart(&mut self, b: BrokerId) {
        if self.brokers[b as usize].alive && self.brokers[b as usize].shutdown.is_some() {
            // Restarted while still stopping: the new process starts once the old one has
            // synced and exited (as a service manager waits for it).
            self.stop(b);
        }
        let broker = &mut self.brokers[b as usize];
        if broker.alive {
            return;
        }
        broker.alive = true;
        broker.incarnation += 1;
        let incarnation = broker.incarnation;
        self.send(
            Party::Broker(b),
            Party::Quorum,
            Msg::Heartbeat { incarnation },
        );
        // Its metadata is what its old log said: it must not act on it before its new
        // incarnation is registered (a restarted leader would lead in an epoch the cluster
        // has left), so this applies nothing until then.
        let known: Vec<(PartitionId, PartitionState)> = self.brokers[b as usize]
            .metadata
            .iter()
            .map(|(p, s)| (*p, s.clone()))
            .collect();
        self.apply_partitions(b, &known);
        self.timer(
            Party::Broker(b),
            self.config.heartbeat_interval_ms,
            Timer::Heartbeat,
        );
        self.timer(Party::Broker(b), TICK_MS, Timer::BrokerTick);
    }

    // ---- dispatch ----

    fn deliver(&mut self, from: Party, to: Party, msg: Msg) {
        match to {
            Party::Quorum => {
                if self.now_ms >= self.quorum_paused_until {
                    self.quorum_receive(from, msg);
                }
            }
            Party::Broker(b) => {
                if self.brokers[b as usize].alive {
                    self.broker_receive(b, from, msg);
                }
            }
            Party::Producer => self.producer_receive(from, msg),
            Party::Consumer => self.consumer_receive(msg),
            Party::Member(m) => {
                if self.members.get(m as usize).is_some_and(|x| x.active) {
                    self.member_receive(m, from, msg);
                }
            }
        }
    }

    fn fire(&mut self, party: Party, incarnation: u64, timer: Timer) {
        if let Party::Member(m) = party {
            let member = &self.members[m as usize];
            if !member.active || member.incarnation != incarnation {
                return;
            }
        }
        if let Party::Broker(b) = party {
            let broker = &self.brokers[b as usize];
            if !broker.alive || broker.incarnation != incarnation {
                return;
            }
        }
        match (party, timer) {
            (Party::Broker(b), Timer::Heartbeat) => {
                if self.brokers[b as usize].shutdown.is_some() {
                    return; // a stopping node heartbeats no more
                }
                let incarnation = self.brokers[b as usize].incarnation;
                self.send(
                    Party::Broker(b),
                    Party::Quorum,
                    Msg::Heartbeat { incarnation },
                );
                self.timer(party, self.config.heartbeat_interval_ms, Timer::Heartbeat);
            }
            (Party::Broker(b), Timer::ShutdownDeadline) => self.maybe_stop(b),
            (Party::Broker(b), Timer::BrokerTick) => {
                self.broker_tick(b);
                self.timer(party, TICK_MS, Timer::BrokerTick);
            }
            (Party::Broker(b), Timer::Fetch(p, seq)) => self.follower_fetch(b, p, seq),
            (Party::Broker(b), Timer::FetchTimeout(p, seq)) => {
                let state = self.brokers[b as usize].fetches.get(&p);
                if state.is_some_and(|f| f.seq == seq && f.inflight) {
                    self.follower_fetch(b, p, seq + 1);
                }
            }
            (Party::Quorum, Timer::ControllerTick) => {
                if self.now_ms >= self.quorum_paused_until {
                    let now = self.now_ms;
                    for proposal in self.heartbeats.handle_tick(&self.controller, now) {
                        let _ = self.controller.apply(&proposal.command(now));
                    }
                    self.push_changes();
                }
                self.timer(party, TICK_MS, Timer::ControllerTick);
            }
            (Party::Quorum, Timer::QuorumResume) => {
                // A new active controller: every broker gets a fresh session, as in KRaft.
                let now = self.now_ms;
                self.heartbeats
                    .handle_became_active(&mut self.controller, now);
            }
            (Party::Producer, Timer::ProducerSend) => self.producer_send(),
            (Party::Producer, Timer::ProducerMetadata) => {
                self.producer_refresh_metadata();
                self.timer(
                    party,
                    self.config.producer.metadata_max_age_ms,
                    Timer::ProducerMetadata,
                );
            }
            (Party::Producer, Timer::ProducerTimeout(request)) => {
                if let Some(inflight) = self.producer.inflight.get(&request) {
                    // No answer: the leader may be gone. Like Kafka clients, forget it and ask
                    // for metadata before retrying.
                    self.producer.leaders[inflight.partition as usize] = None;
                    self.producer_refresh_metadata();
                    self.producer_failed(request, error_code::REQUEST_TIMED_OUT, true);
                }
            }
            (Party::Producer, Timer::ProducerRetry(request)) => self.producer_resend(request),
            (Party::Producer, Timer::TxnAskTimeout(request)) => self.txn_ask_timed_out(request),
            (Party::Broker(b), Timer::TxnMarkerRetry(job)) => self.txn_send_markers(b, job),
            (Party::Member(m), Timer::MemberHeartbeat) => self.member_heartbeat(m),
            (Party::Member(m), Timer::MemberPoll) => {
                self.member_poll(m);
                self.timer(party, TICK_MS, Timer::MemberPoll);
            }
            (Party::Member(m), Timer::MemberCommit) => {
                self.member_commit(m);
                self.timer(party, MEMBER_COMMIT_MS, Timer::MemberCommit);
            }
            (Party::Member(m), Timer::MemberOffsetFetch(generation))
                if self.member_reads(m)
                    && self.members[m as usize].generation == generation
                    && self.member_lacks_positions(m) =>
            {
                self.send_to_coordinator(m, Msg::OffsetFetch);
            }
            (Party::Member(m), Timer::MemberRetry(attempt)) => {
                let member = &self.members[m as usize];
                if member.attempt == attempt && member.state != MemberState::Stable {
                    self.member_join(m);
                }
            }
            (Party::Consumer, Timer::Check) => {
                self.check_replicas();
                self.timer(party, self.config.check_interval_ms, Timer::Check);
            }
            (Party::Consumer, Timer::LagMonitor) => {
                // A lag monitor (`kafka-consumer-groups --describe`, Burrow) asks the group's
                // committed offsets from outside the group, at any moment: unlike a member,
                // it need not rejoin a new coordinator first.
                if let Some(coordinator) = self.coordinator() {
                    let to = Party::Broker(coordinator);
                    self.send(Party::Consumer, to, Msg::OffsetFetch);
                }
                self.timer(party, LAG_MONITOR_MS, Timer::LagMonitor);
            }
            (Party::Consumer, Timer::ConsumerPoll) => {
                self.consumer_poll();
                self.timer(party, TICK_MS, Timer::ConsumerPoll);
            }
            _ => {}
        }
    }

    // ---- quorum ----

    fn quorum_receive(&mut self, from: Party, msg: Msg) {
        let Party::Broker(b) = from else { return };
        match msg {
            Msg::Heartbeat { incarnation } => {
                // The node's rule (HeartbeatManager): a broker not live, or registered with
                // another incarnation (a restart), is registered; the simulated quorum
                // applies the proposal at once. The broker hears whether it had been fenced.
                let now = self.now_ms;
                let was_live =
                    self.controller.is_live(b) && self.controller.is_registered(b, incarnation);
                let proposal = self.heartbeats.handle_heartbeat(
                    &mut self.controller,
                    now,
                    b,
                    incarnation,
                    false,
                );
                if let Some(proposal) = proposal {
                    let _ = self.controller.apply(&proposal.command(now));
                    self.push_changes();
                }
                self.heartbeat_ack(b, incarnation, !was_live);
            }
            // Only from the incarnation the quorum knows (a late one from before a restart must
            // not fence the new one).
            Msg::ControlledShutdown {
                incarnation,
                command,
            } if self.controller.is_registered(b, incarnation) => {
                let _ = self.controller.apply(&command);
                self.push_changes();
                self.send(
                    Party::Quorum,
                    from,
                    Msg::ControlledShutdownResult { incarnation },
                );
            }
            Msg::AlterIsr {
                partition,
                leader_epoch,
                partition_epoch,
                isr,
            } => {
                let result = self
                    .controller
                    .handle_alter_isr(partition, b, leader_epoch, partition_epoch, isr.clone())
                    .ok();
                self.send(
                    Party::Quorum,
                    from,
                    Msg::AlterIsrResult {
                        partition,
                        proposed: AlterPartition {
                            leader_epoch,
                            partition_epoch,
                            isr,
                        },
                        state: result,
                    },
                );
                self.push_changes();
            }
            _ => {}
        }
    }

    fn heartbeat_ack(&mut self, b: BrokerId, incarnation: u64, fenced: bool) {
        let partitions = self
            .controller
            .partitions()
            .map(|(p, s)| (*p, s.clone()))
            .collect();
        let registered = self.controller.incarnation(b);
        self.send(
            Party::Quorum,
            Party::Broker(b),
            Msg::HeartbeatAck {
                incarnation,
                fenced,
                registered,
                partitions,
            },
        );
    }

    fn push_changes(&mut self) {
        let changes = self.controller.poll_changes();
        if changes.is_empty() {
            return;
        }
        self.record_partitions(&changes);
        for b in 0..self.config.brokers {
            self.send(
                Party::Quorum,
                Party::Broker(b),
                Msg::Partitions(changes.clone()),
            );
        }
    }

    // ---- brokers ----

    fn broker_receive(&mut self, b: BrokerId, from: Party, msg: Msg) {
        let now = self.now_ms;
        match msg {
            msg @ (Msg::InitProducerId { .. }
            | Msg::AddPartitionsToTxn { .. }
            | Msg::EndTxn { .. }
            | Msg::WriteTxnMarker { .. }
            | Msg::WriteTxnMarkerResult { .. }) => self.txn_broker_receive(b, from, msg),
            Msg::HeartbeatAck {
                incarnation,
                fenced,
                registered,
                partitions,
            } => {
                if incarnation != self.brokers[b as usize].incarnation {
                    return;
                }
                self.brokers[b as usize].registered = registered;
                if fenced {
                    // It had been fenced (or restarted): its roles start over from the state
                    // this answer carries.
                    let hosted: Vec<PartitionId> =
                        self.brokers[b as usize].replicas.keys().copied().collect();
                    for p in hosted {
                        self.host(b, p, |h, now| h.handle_metadata(None, now));
                    }
                    self.brokers[b as usize].metadata.clear();
                }
                self.apply_partitions(b, &partitions);
            }
            Msg::Partitions(changes) => self.apply_partitions(b, &changes),
            Msg::ControlledShutdownResult { incarnation } => {
                let broker = &mut self.brokers[b as usize];
                if incarnation == broker.incarnation
                    && let Some(shutdown) = &mut broker.shutdown
                {
                    shutdown.handle_fenced();
                    self.maybe_stop(b);
                }
            }
            Msg::AlterIsrResult {
                partition,
                proposed,
                state,
            } => {
                // An accepted state is also metadata this broker learns; like any, it is
                // acted on only once this incarnation is registered (an answer to the
                // proposal of a crashed incarnation may reach the restarted one).
                if let Some(state) = &state {
                    self.note_metadata(b, partition, state);
                }
                if !self.brokers[b as usize].acts_on_metadata() {
                    return;
                }
                let outcome = match state {
                    Some(state) => AlterPartitionOutcome::Accepted(Some(state)),
                    None => AlterPartitionOutcome::Refused,
                };
                self.host(b, partition, |h, now| {
                    h.handle_alter_partition_result(now, &proposed, outcome)
                });
            }
            Msg::Fetch {
                partition,
                offset,
                epoch,
                seq,
            } => {
                let Party::Broker(follower) = from else {
                    return;
                };
                let mut answer = Err(ReplicaError::NotLeaderOrFollower);
                self.host(b, partition, |h, now| {
                    let (a, ready) =
                        h.handle_replica_fetch(now, follower, offset, epoch, FETCH_MAX_BYTES);
                    answer = a;
                    ready
                });
                let (leader_log_start_offset, leader_log_end_offset) =
                    match self.replica(b, partition) {
                        Some(r) => (r.log_start_offset(), r.log_end_offset()),
                        None => (-1, -1),
                    };
                self.send(
                    Party::Broker(b),
                    from,
                    Msg::FetchAnswer {
                        partition,
                        seq,
                        answer,
                        leader_log_start_offset,
                        leader_log_end_offset,
                    },
                );
            }
            Msg::FetchAnswer {
                partition,
                seq,
                answer,
                leader_log_start_offset,
                leader_log_end_offset,
            } => {
                // Only the answer to the fetch in flight counts: a late answer to an earlier
                // one (another leader, another role) is dropped, as Kafka's fetcher drops
                // responses for a partition whose fetch state changed.
                let asked = self.brokers[b as usize]
                    .fetches
                    .get(&partition)
                    .filter(|f| f.seq == seq && f.inflight)
                    .and_then(|f| f.task);
                if answer == Err(ReplicaError::OffsetOutOfRange)
                    && let Some(asked) = asked
                {
                    self.host(b, partition, |h, _| {
                        h.handle_out_of_range(
                            &asked,
                            leader_log_start_offset,
                            leader_log_end_offset,
                        )
                    });
                }
                self.follower_answer(b, partition, seq, answer);
            }
            Msg::EpochEndRequest {
                partition,
                epoch,
                current_leader_epoch,
            } => {
                let end_offset = self
                    .replica(b, partition)
                    .and_then(|r| r.handle_epoch_end_request(epoch, current_leader_epoch).ok());
                self.send(
                    Party::Broker(b),
                    from,
                    Msg::EpochEnd {
                        partition,
                        leader_epoch: current_leader_epoch,
                        end_offset,
                    },
                );
            }
            Msg::EpochEnd {
                partition,
                leader_epoch,
                end_offset,
            } => {
                let Some(replica) = self.replica(b, partition) else {
                    return;
                };
                // `None`: refused (not the leader, or another epoch); the fetch timeout asks
                // again. An answer to a request of an earlier epoch is dropped.
                if let Some((epoch, end)) = end_offset
                    && leader_epoch == replica.leader_epoch()
                    && replica.pending_epoch_request().is_some()
                {
                    self.host(b, partition, |h, _| {
                        h.handle_epoch_end(leader_epoch, epoch, end)
                    });
                    if let Some(f) = self.brokers[b as usize].fetches.get_mut(&partition) {
                        f.inflight = false;
                    }
                    self.start_fetching(b, partition);
                }
            }
            Msg::Produce {
                request,
                partition,
                id,
                acks,
                key,
                tombstone,
                txn,
            } => {
                let idempotent = self.config.producer.idempotent;
                let mut batch = match txn {
                    Some(fields) => txn_record_batch(id, fields, now),
                    None => record_batch(id, key.as_deref(), tombstone, idempotent, now),
                };
                let timeout = self.config.producer.request_timeout_ms;
                let mut result = Err(ReplicaError::NotLeaderOrFollower);
                self.host(b, partition, |h, now| {
                    let (r, ready) =
                        h.handle_produce(now, &mut batch, acks, request, timeout, &NoCodec);
                    result = r;
                    ready
                });
                if acks == Acks::All && matches!(result, Ok(Some(_))) {
                    self.check_min_insync(b, partition);
                }
                match result {
                    Ok(Some(offset)) if acks != Acks::None => {
                        self.send(
                            Party::Broker(b),
                            from,
                            Msg::ProduceResult {
                                request,
                                result: Ok(offset),
                            },
                        );
                    }
                    Ok(_) => {}
                    Err(e) => {
                        if acks != Acks::None {
                            self.send(
                                Party::Broker(b),
                                from,
                                Msg::ProduceResult {
                                    request,
                                    result: Err(e),
                                },
                            );
                        }
                    }
                }
            }
            Msg::Metadata => {
                let leaders = (0..self.config.partitions)
                    .map(|p| {
                        self.brokers[b as usize]
                            .metadata
                            .get(&p)
                            .and_then(|s| s.leader)
                    })
                    .collect();
                self.send(Party::Broker(b), from, Msg::MetadataAnswer { leaders });
            }
            Msg::JoinGroup { member_id, owned } => {
                let Party::Member(m) = from else { return };
                if let Err(e) = self.group_gate(b) {
                    let refused = JoinResponse::refused(e, &member_id);
                    self.send(Party::Broker(b), from, Msg::JoinResult(refused));
                    return;
                }
                let token = self.group_token(b, m);
                let request = JoinRequest {
                    group_instance_id: None,
                    group_id: String::from("sim"),
                    member_id,
                    session_timeout_ms: MEMBER_SESSION_MS,
                    rebalance_timeout_ms: MEMBER_REBALANCE_MS,
                    client_id: alloc::format!("member-{m}"),
                    client_host: String::new(),
                    protocol_type: String::from("consumer"),
                    protocols: alloc::vec![(
                        String::from(self.config.assignor.protocol_name()),
                        partition_bytes(&owned),
                    )],
                };
                let outputs = self.brokers[b as usize]
                    .groups
                    .coordinator
                    .handle_join(now, request, token);
                self.send_group_outputs(b, outputs);
            }
            Msg::SyncGroup {
                generation,
                member_id,
                assignments,
            } => {
                let Party::Member(m) = from else { return };
                if let Err(e) = self.group_gate(b) {
                    let coordinator = self.coordinator_id(b);
                    let msg = Msg::SyncResult {
                        coordinator,
                        generation,
                        result: Err(e),
                    };
                    self.send(Party::Broker(b), from, msg);
                    return;
                }
                let token = self.group_token(b, m);
                let request = SyncRequest {
                    group_id: String::from("sim"),
                    generation_id: generation,
                    member_id,
                    assignments,
                };
                let outputs = self.brokers[b as usize]
                    .groups
                    .coordinator
                    .handle_sync(now, request, token);
                self.send_group_outputs(b, outputs);
            }
            Msg::GroupHeartbeat {
                generation,
                member_id,
            } => {
                let result = self.group_gate(b).and_then(|()| {
                    self.brokers[b as usize]
                        .groups
                        .coordinator
                        .handle_heartbeat(now, "sim", generation, &member_id)
                });
                self.send(Party::Broker(b), from, Msg::GroupHeartbeatResult(result));
            }
            Msg::LeaveGroup { member_id } => {
                if self.group_gate(b).is_err() {
                    return; // the member is gone; its session expires on the coordinator
                }
                let (_, outputs) = self.brokers[b as usize]
                    .groups
                    .coordinator
                    .handle_leave(now, "sim", &member_id);
                self.send_group_outputs(b, outputs);
            }
            Msg::ConsumerFetch {
                partition,
                offset,
                read_committed,
            } => {
                // The node's rule: core's consumer read (leader only, below the HW or the
                // last stable offset, the aborted transactions among the records read).
                let answer = match self.replica(b, partition) {
                    Some(r) => {
                        match r.handle_consumer_fetch(
                            offset,
                            -1,
                            read_committed,
                            FETCH_MAX_BYTES,
                            true,
                        ) {
                            Ok(read) => {
                                let records = r
                                    .log()
                                    .read_bytes(&read.ranges)
                                    .map_err(|e| ReplicaError::Storage(alloc::format!("{e}")));
                                let stable = read_committed
                                    .then_some((read.last_stable_offset, read.aborted));
                                (read.high_watermark, read.log_start_offset, records, stable)
                            }
                            // Out of range, the consumer resets from the leader's bounds (the
                            // ListOffsets a Kafka consumer sends next).
                            Err(e @ ReplicaError::OffsetOutOfRange) => {
                                (r.high_watermark(), r.log_start_offset(), Err(e), None)
                            }
                            Err(e) => (-1, -1, Err(e), None),
                        }
                    }
                    None => (-1, -1, Err(ReplicaError::NotLeaderOrFollower), None),
                };
                self.send(
                    Party::Broker(b),
                    from,
                    Msg::ConsumerAnswer {
                        partition,
                        offset,
                        high_watermark: answer.0,
                        log_start_offset: answer.1,
                        records: answer.2,
                        stable: answer.3,
                    },
                );
            }
            Msg::OffsetFetch => {
                let answer = self.group_gate(b).map(|()| {
                    self.brokers[b as usize]
                        .groups
                        .offsets()
                        .group("sim")
                        .map(|((_, p), c)| (*p as PartitionId, c.offset))
                        .collect::<Vec<_>>()
                });
                if let Ok(offsets) = &answer {
                    self.check_commit_reads(b, offsets);
                }
                self.send(Party::Broker(b), from, Msg::OffsetFetchResult(answer));
            }
            Msg::OffsetCommit {
                generation,
                member_id,
                offsets,
            } => {
                // Not answered: the member commits again on its next interval either way.
                self.commit_offsets(b, generation, &member_id, offsets, false);
            }
            _ => {}
        }
    }

    /// Applies newer partition states through the core's one rule
    /// ([`HostedPartition::handle_metadata`]): become leader, follower, or go offline.
    fn apply_partitions(&mut self, b: BrokerId, changes: &[(PartitionId, PartitionState)]) {
        let host_config = self.host_config();
        for (p, state) in changes {
            let topic = self.topic_config(*p);
            let config = topic.replica_config(self.config.replica);
            let log_config = self.log_config(&topic);
            self.note_metadata(b, *p, state);
            let now = self.now_ms;
            let broker = &mut self.brokers[b as usize];
            if !broker.acts_on_metadata() {
                // Not registered in this incarnation yet: the state is kept, not acted on.
                continue;
            }
            if !state.replicas.contains(&b) && !broker.replicas.contains_key(p) {
                continue;
            }
            broker.replicas.entry(*p).or_insert_with(|| {
                let replica = Replica::with_log_config(b, config, log_config);
                HostedPartition::new(replica, host_config, now)
            });
            self.host(b, *p, |h, now| h.handle_metadata(Some(state), now));
        }
    }

    /// Keeps a partition state this broker learnt if it is newer than the one it knew (what
    /// it answers Metadata with).
    fn note_metadata(&mut self, b: BrokerId, p: PartitionId, state: &PartitionState) {
        let broker = &mut self.brokers[b as usize];
        if broker.metadata.get(&p).is_none_or(|k| {
            k.partition_epoch < state.partition_epoch || k.leader_epoch < state.leader_epoch
        }) {
            broker.metadata.insert(p, state.clone());
        }
    }

    /// Records a broken invariant, once.
    fn violated(&mut self, v: Violation) {
        if !self.violations.contains(&v) {
            self.violations.push(v);
        }
    }

    /// The `min.insync.replicas` in force for partition `p`: its topic's, else the brokers'.
    fn min_insync(&self, p: PartitionId) -> usize {
        self.topic_config(p)
            .replica_config(self.config.replica)
            .min_insync_replicas
    }

    /// Whether partition `p` may elect a leader outside its ISR: its topic's own
    /// `unclean.leader.election.enable`, else the controller's.
    fn unclean_enabled(&self, p: PartitionId) -> bool {
        self.topic_config(p)
            .unclean_leader_election_enable
            .unwrap_or(self.config.controller.unclean_leader_election)
    }

    /// Broker `b` acknowledged an acks=all write to `p`: the topic's `min.insync.replicas`
    /// must hold for its ISR now.
    fn check_min_insync(&mut self, b: BrokerId, p: PartitionId) {
        let isr = self
            .replica(b, p)
            .and_then(Replica::isr)
            .map_or(0, <[BrokerId]>::len);
        if isr < self.min_insync(p) {
            let v = Violation::AcknowledgedBelowMinInsync { partition: p, isr };
            self.violated(v);
        }
    }

    /// The settings of the topic partition `p` belongs to: a data topic's, or
    /// `__consumer_offsets`'s (Kafka creates it with `cleanup.policy=compact` and the brokers'
    /// defaults otherwise).
    fn topic_config(&self, p: PartitionId) -> TopicConfig {
        match self.config.second_topic {
            // Kafka's `transactionTopicConfigs`: compacted, unclean election off,
            // `min.insync.replicas` = `transaction.state.log.min.isr` (2): an acknowledged
            // transition survives a failover, or a transaction is forgotten and its
            // partitions stay blocked.
            _ if Some(p) == self.txn_partition => TopicConfig {
                delete: false,
                compact: true,
                retention_ms: None,
                min_insync_replicas: Some(2.min(self.config.replication_factor)),
                unclean_leader_election_enable: Some(false),
                ..TopicConfig::default()
            },
            _ if Some(p) == self.offsets_partition => TopicConfig {
                delete: false,
                compact: true,
                retention_ms: None,
                ..TopicConfig::default()
            },
            Some(second) if p >= second.first_partition => second.topic,
            _ => self.config.topic,
        }
    }

    /// A topic's log settings, with the simulated fsync policy's `flush.ms`.
    fn log_config(&self, topic: &TopicConfig) -> LogConfig {
        let mut config = topic.log_config();
        if let FlushPolicy::IntervalMs(ms) = self.config.flush {
            config.flush_ms = Some(ms);
        }
        config
    }

    /// The brokers' host settings: [`FlushPolicy::EveryWrite`] is `flush_before_ack`.
    fn host_config(&self) -> HostConfig {
        HostConfig {
            flush_before_ack: self.config.flush == FlushPolicy::EveryWrite,
            alter_partition_resend_ms: ISR_RESEND_MS,
        }
    }

    /// Hands one input to broker `b`'s hosted partition `p` (if it hosts it) and carries out
    /// the [`Ready`] it returns.
    fn host(
        &mut self,
        b: BrokerId,
        p: PartitionId,
        input: impl FnOnce(&mut HostedPartition, u64) -> Ready,
    ) {
        let now = self.now_ms;
        let Some(hosted) = self.brokers[b as usize].replicas.get_mut(&p) else {
            return;
        };
        let was_leader = hosted.replica().is_leader();
        let ready = input(hosted, now);
        let is_leader = hosted.replica().is_leader();
        let moved = if Some(p) == self.offsets_partition || Some(p) == self.txn_partition {
            CoordinatorMove::of(was_leader, ready.role_change.as_ref(), is_leader)
        } else {
            None
        };
        self.carry_out(b, p, ready);
        match moved {
            Some(moved) if Some(p) == self.txn_partition => self.txn_coordinator_moved(b, moved),
            Some(moved) => self.coordinator_moved(b, moved),
            None => {}
        }
    }

    /// Carries out a [`Ready`] in the order its contract gives.
    fn carry_out(&mut self, b: BrokerId, p: PartitionId, ready: Ready) {
        let now = self.now_ms;
        let broker = &mut self.brokers[b as usize];
        let Some(hosted) = broker.replicas.get_mut(&p) else {
            return;
        };
        let leo = hosted.replica().log_end_offset();
        if let Some(cut) = ready.truncated {
            // What was on disk beyond the new end is gone: a later crash must not count
            // refetched records as flushed.
            if let Some(flushed) = broker.flushed.get_mut(&p) {
                *flushed = (*flushed).min(cut.to);
            }
        }
        if ready.fsync {
            broker.flushed.insert(p, leo);
            hosted.flushed(now);
        }
        if let Some(cut) = ready.truncated {
            self.record(TraceKind::Truncated {
                broker: b,
                partition: p,
                log_end_offset: cut.to,
            });
        }
        if let Some(alter) = ready.alter_partition {
            self.send(
                Party::Broker(b),
                Party::Quorum,
                Msg::AlterIsr {
                    partition: p,
                    leader_epoch: alter.leader_epoch,
                    partition_epoch: alter.partition_epoch,
                    isr: alter.isr,
                },
            );
        }
        let offsets = Some(p) == self.offsets_partition;
        let txn_state = Some(p) == self.txn_partition;
        for done in ready.completed {
            if offsets {
                self.offsets_written(b, done.request, done.result);
                continue;
            }
            if txn_state {
                self.txn_written(b, done.request, done.result);
                continue;
            }
            if done.request & txn::MARKER_REQUEST != 0 {
                self.txn_marker_written(b, done.request, done.result);
                continue;
            }
            if done.result.is_ok() {
                // Only acks=all writes wait for completion.
                self.check_min_insync(b, p);
            }
            self.send(
                Party::Broker(b),
                Party::Producer,
                Msg::ProduceResult {
                    request: done.request,
                    result: done.result,
                },
            );
        }
        if let Some(RoleChange::Follower(_)) = ready.role_change {
            self.start_fetching(b, p);
        }
    }

    fn start_fetching(&mut self, b: BrokerId, p: PartitionId) {
        let seq = self.brokers[b as usize]
            .fetches
            .get(&p)
            .map_or(0, |f| f.seq)
            + 1;
        self.follower_fetch(b, p, seq);
    }

    /// One round of a follower's loop: ask for the epoch end if truncation is pending, else
    /// fetch; either way a timeout re-sends if no answer comes (messages can be lost).
    fn follower_fetch(&mut self, b: BrokerId, p: PartitionId, seq: u64) {
        let broker = &mut self.brokers[b as usize];
        let Some(task) = broker
            .replicas
            .get(&p)
            .and_then(HostedPartition::follower_task)
        else {
            return;
        };
        let msg = match task {
            FollowerTask::EpochEnd {
                epoch,
                current_leader_epoch,
                ..
            } => Msg::EpochEndRequest {
                partition: p,
                epoch,
                current_leader_epoch,
            },
            FollowerTask::Fetch {
                offset,
                leader_epoch,
                ..
            } => Msg::Fetch {
                partition: p,
                offset,
                epoch: leader_epoch,
                seq,
            },
        };
        let current = broker.fetches.entry(p).or_insert(FetchState {
            seq: 0,
            inflight: false,
            task: None,
        });
        if seq <= current.seq && current.inflight {
            return;
        }
        current.seq = seq;
        current.inflight = true;
        current.task = Some(task);
        self.send(Party::Broker(b), Party::Broker(task.leader()), msg);
        self.timer(
            Party::Broker(b),
            FOLLOWER_FETCH_TIMEOUT_MS,
            Timer::FetchTimeout(p, seq),
        );
    }

    fn follower_answer(
        &mut self,
        b: BrokerId,
        p: PartitionId,
        seq: u64,
        answer: Result<FetchAnswer, ReplicaError>,
    ) {
        let broker = &mut self.brokers[b as usize];
        let asked = match broker.fetches.get_mut(&p) {
            Some(f) if f.seq == seq => {
                f.inflight = false;
                f.task
            }
            _ => return,
        };
        let Some(asked) = asked.filter(|_| broker.replicas.contains_key(&p)) else {
            return;
        };
        let next_in = match answer {
            Ok(answer) => {
                let had_records = !answer.records.is_empty();
                let mut copied = Ok(());
                self.host(b, p, |h, now| {
                    let (result, ready) = h.handle_fetch_answer(now, &asked, &answer, &NoCodec);
                    copied = result;
                    ready
                });
                if copied.is_err() {
                    // Not following any more (metadata moved on) or a batch that does not fit:
                    // try again from the log end after a pause.
                    self.timer(
                        Party::Broker(b),
                        self.config.fetch_backoff_ms * 4,
                        Timer::Fetch(p, seq + 1),
                    );
                    return;
                }
                if had_records {
                    0
                } else {
                    self.config.fetch_backoff_ms
                }
            }
            Err(_) => self.config.fetch_backoff_ms * 4,
        };
        self.timer(Party::Broker(b), next_in, Timer::Fetch(p, seq + 1));
    }

    fn broker_tick(&mut self, b: BrokerId) {
        let now = self.now_ms;
        if now.saturating_sub(self.brokers[b as usize].last_clean_ms) >= CLEAN_INTERVAL_MS {
            self.clean(b, false);
        }
        let outputs = self.brokers[b as usize].groups.handle_timeout(now);
        self.send_group_outputs(b, outputs);
        self.txn_tick(b);
        let partitions: Vec<PartitionId> =
            self.brokers[b as usize].replicas.keys().copied().collect();
        for p in partitions {
            self.host(b, p, |h, now| h.handle_tick(now));
        }
    }

    // ---- producer ----

    fn producer_send(&mut self) {
        let config = self.config.producer;
        if config.transactions.is_some() {
            // Past `stop_ms` it still ends its open transaction.
            self.txn_producer_tick();
            self.timer(Party::Producer, config.interval_ms, Timer::ProducerSend);
            return;
        }
        if self.now_ms >= config.stop_ms {
            return;
        }
        let key = (config.keys > 0)
            .then(|| alloc::format!("k{}", self.producer.next_id % u64::from(config.keys)));
        self.producer_enqueue(key, false);
        self.timer(Party::Producer, config.interval_ms, Timer::ProducerSend);
    }

    /// Sends one new record: by murmur2 of its key (Kafka's default partitioner), or to the
    /// partitions in turn without a key.
    fn producer_enqueue(&mut self, key: Option<String>, tombstone: bool) {
        let id = self.producer.next_id;
        self.producer.next_id += 1;
        let partition = match &key {
            Some(k) => murmur2_partition(k.as_bytes(), self.config.partitions),
            None => (id % u64::from(self.config.partitions)) as PartitionId,
        };
        self.producer.sent.insert(id);
        self.producer.next_request += 1;
        let request = self.producer.next_request;
        self.producer.inflight.insert(
            request,
            InFlight {
                id,
                partition,
                created_ms: self.now_ms,
                attempts: 0,
                key,
                tombstone,
                txn: None,
            },
        );
        self.producer_resend(request);
    }

    fn producer_resend(&mut self, request: u64) {
        let Some(inflight) = self.producer.inflight.get(&request) else {
            return;
        };
        let (id, partition, txn) = (inflight.id, inflight.partition, inflight.txn);
        let waited_ms = self.now_ms.saturating_sub(inflight.created_ms);
        let (key, tombstone) = (inflight.key.clone(), inflight.tombstone);
        let acks = self.config.producer.acks;
        match self.producer.leaders[partition as usize] {
            Some(leader) => {
                self.send(
                    Party::Producer,
                    Party::Broker(leader),
                    Msg::Produce {
                        request,
                        partition,
                        id,
                        acks,
                        key,
                        tombstone,
                        txn,
                    },
                );
                if acks == Acks::None {
                    self.producer.inflight.remove(&request);
                } else {
                    self.timer(
                        Party::Producer,
                        self.config.producer.request_timeout_ms,
                        Timer::ProducerTimeout(request),
                    );
                }
            }
            // No leader known: Kafka's producer keeps the record in its accumulator, unsent
            // and without spending a retry, until a metadata answer names a leader or its
            // `delivery.timeout.ms` runs out (KIP-91); `send()` itself waits for the topic's
            // first metadata. (It used to fail the record at once, spending retries on a
            // leader election: 3 of the sandbox's first records failed before any fault.)
            None if txn.is_none() => {
                self.producer_refresh_metadata();
                if waited_ms < self.config.producer.delivery_timeout_ms {
                    let retry = Timer::ProducerRetry(request);
                    self.timer(Party::Producer, RETRY_BACKOFF_MS, retry);
                } else {
                    self.producer_failed(request, error_code::REQUEST_TIMED_OUT, false);
                }
            }
            None => {
                self.producer_refresh_metadata();
                self.producer_failed(request, error_code::NOT_LEADER_OR_FOLLOWER, true);
            }
        }
    }

    fn producer_refresh_metadata(&mut self) {
        let b = self.producer.bootstrap_next % self.config.brokers;
        self.producer.bootstrap_next = self.producer.bootstrap_next.wrapping_add(1);
        self.send(Party::Producer, Party::Broker(b), Msg::Metadata);
    }

    /// A request failed with `error`: retry if allowed, else give the record up.
    fn producer_failed(&mut self, request: u64, error: i16, retriable: bool) {
        let Some(inflight) = self.producer.inflight.get_mut(&request) else {
            return;
        };
        // A transactional write is retried while the error allows (its transaction's
        // timeout bounds it); one that fails for good fails the transaction.
        let txn_retry = inflight.txn.is_some() && self.txn_write_failed(error);
        let Some(inflight) = self.producer.inflight.get_mut(&request) else {
            return;
        };
        if txn_retry || (retriable && inflight.attempts < self.config.producer.retries) {
            inflight.attempts += 1;
            self.timer(
                Party::Producer,
                RETRY_BACKOFF_MS,
                Timer::ProducerRetry(request),
            );
            return;
        }
        let id = inflight.id;
        self.producer.inflight.remove(&request);
        if self.producer.acked.contains_key(&id) {
            return;
        }
        if error == error_code::NOT_ENOUGH_REPLICAS
            || error == error_code::NOT_ENOUGH_REPLICAS_AFTER_APPEND
        {
            self.producer.refused.insert(id);
        } else {
            self.producer.failed.insert(id);
        }
        self.record(TraceKind::Refused { id, error });
    }

    fn producer_receive(&mut self, _from: Party, msg: Msg) {
        match msg {
            Msg::MetadataAnswer { leaders } => {
                for (p, leader) in leaders.into_iter().enumerate() {
                    if leader.is_some() {
                        self.producer.leaders[p] = leader;
                    }
                }
            }
            Msg::TxnResult { request, result } => self.txn_answered(request, result),
            Msg::ProduceResult { request, result } => {
                let Some(inflight) = self.producer.inflight.get(&request) else {
                    return;
                };
                let (id, partition) = (inflight.id, inflight.partition);
                match result {
                    Ok(offset) => {
                        self.producer.inflight.remove(&request);
                        self.producer.refused.remove(&id);
                        self.producer.failed.remove(&id);
                        self.producer.acked.insert(id, (partition, offset));
                        self.record(TraceKind::Acked {
                            id,
                            partition,
                            offset,
                        });
                    }
                    Err(e) => {
                        if e == ReplicaError::NotLeaderOrFollower {
                            self.producer.leaders[partition as usize] = None;
                            self.producer_refresh_metadata();
                        }
                        self.producer_failed(request, e.kafka_error_code(), true);
                    }
                }
            }
            _ => {}
        }
    }

    // ---- consumer ----

    fn consumer_poll(&mut self) {
        for p in 0..self.config.partitions {
            // The consumer reads from the leader the producer last learned, else the
            // controller's (it is a checker, not a client under test).
            let known = self.producer.leaders[p as usize];
            if let Some(leader) =
                known.or_else(|| self.controller.partition(p).and_then(|s| s.leader))
            {
                let offset = self.consumer.offsets[p as usize];
                let read_committed = self.transactional();
                self.send(
                    Party::Consumer,
                    Party::Broker(leader),
                    Msg::ConsumerFetch {
                        partition: p,
                        offset,
                        read_committed,
                    },
                );
            }
        }
    }

    fn consumer_receive(&mut self, msg: Msg) {
        let Msg::ConsumerAnswer {
            partition,
            offset,
            high_watermark,
            log_start_offset,
            records,
            stable,
        } = msg
        else {
            return;
        };
        if self.consumer.offsets[partition as usize] != offset {
            return; // a stale answer
        }
        match records {
            Ok(bytes) if let Some(stable) = &stable => {
                let (next, read) =
                    self.txn_consumer_read(partition, &bytes, offset, high_watermark, stable);
                self.consumer.consumed += read;
                self.consumer.offsets[partition as usize] = next;
            }
            Ok(bytes) => {
                let (next, read) = self.read_records(partition, &bytes, offset, high_watermark);
                self.consumer.consumed += read.len() as u64;
                self.consumer.offsets[partition as usize] = next;
            }
            // Retention deleted our position: start at the log start. After an unclean
            // election the log may be shorter than our position: reset to the high watermark,
            // as auto.offset.reset=latest would.
            Err(ReplicaError::OffsetOutOfRange) => {
                self.consumer.offsets[partition as usize] = if offset < log_start_offset {
                    log_start_offset
                } else {
                    high_watermark.max(0)
                };
            }
            Err(_) => {}
        }
    }

    /// The offsets of the records in `bytes` at or after `from`, and the next offset to read;
    /// a record at or above `high_watermark` breaks invariant 4.
    fn read_records(
        &mut self,
        partition: PartitionId,
        bytes: &[u8],
        from: i64,
        high_watermark: i64,
    ) -> (i64, Vec<i64>) {
        let mut next = from;
        let mut read = Vec::new();
        let mut scratch = Vec::new();
        for batch in batches(bytes).flatten() {
            let Ok(records) = batch.records(&NoCodec, &mut scratch) else {
                continue;
            };
            for record in records.flatten() {
                if record.offset < next {
                    continue;
                }
                if record.offset >= high_watermark {
                    self.violations.push(Violation::ReadAboveHighWatermark {
                        partition,
                        offset: record.offset,
                    });
                }
                next = record.offset + 1;
                read.push(record.offset);
            }
            // A batch whose tail compaction removed still moves the position past it.
            next = next.max(batch.header().next_offset());
        }
        (next, read)
    }

    // ---- checks ----

    /// Invariant 2: every live replica following the current leader holds the leader's bytes
    /// below its own high watermark.
    fn check_replicas(&mut self) {
        for p in 0..self.config.partitions {
            let Some(state) = self.controller.partition(p).cloned() else {
                continue;
            };
            let Some(leader_id) = state.leader else {
                continue;
            };
            let Some(leader) = self.replica(leader_id, p) else {
                continue;
            };
            if !leader.is_leader() {
                continue;
            }
            let mut diverged = Vec::new();
            for r in &state.replicas {
                if *r == leader_id || !self.brokers[*r as usize].alive {
                    continue;
                }
                let Some(follower) = self.replica(*r, p) else {
                    continue;
                };
                if follower.leader() != Some(leader_id)
                    || follower.leader_epoch() != leader.leader_epoch()
                {
                    continue;
                }
                let hw = follower.high_watermark().min(leader.log_end_offset());
                let cleaned = leader.cleaned_below().max(follower.cleaned_below());
                let differ = if cleaned == 0 {
                    follower.read_all(hw) != leader.read_all(hw)
                } else {
                    // Each replica's cleaner works on its own copy: compare what neither
                    // could have cleaned yet.
                    records_between(follower, cleaned, hw) != records_between(leader, cleaned, hw)
                };
                if differ {
                    diverged.push(*r);
                }
            }
            for broker in diverged {
                let v = Violation::ReplicasDiverge {
                    partition: p,
                    broker,
                };
                self.violated(v);
            }
        }
    }
}

/// How often the lag monitor asks the group's committed offsets.
const LAG_MONITOR_MS: u64 = 250;
/// How long a member waits before it looks for the coordinator again (Kafka's
/// `retry.backoff.ms`).
const MEMBER_RETRY_BACKOFF_MS: u64 = 100;
/// Group members' session timeout (the coordinator's minimum is 6 s, as Kafka's).
const MEMBER_SESSION_MS: u64 = 6_000;
/// How long the coordinator waits for members to rejoin.
const MEMBER_REBALANCE_MS: u64 = 3_000;
/// Group members' heartbeat interval.
const MEMBER_HEARTBEAT_MS: u64 = 500;
/// Members commit their positions this often (`auto.commit.interval.ms`; Kafka's is 5 s).
const MEMBER_COMMIT_MS: u64 = 1_000;
/// A member re-sends a fetch unanswered for this long.
const MEMBER_FETCH_TIMEOUT_MS: u64 = 1_000;
/// The most group members a simulation runs (the playground adds them one by one).
const MEMBERS_MAX: u32 = 32;
/// How often each broker's log cleaner looks for work.
const CLEAN_INTERVAL_MS: u64 = 1_000;

/// Where a group member is in the protocol.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum MemberState {
    #[default]
    Joining,
    Syncing,
    Stable,
}

/// A consumer-group member: joins, syncs, heartbeats, and owns partitions.
#[derive(Clone, Debug, Default)]
struct SimMember {
    active: bool,
    incarnation: u64,
    member_id: String,
    generation: i32,
    state: MemberState,
    owned: Vec<PartitionId>,
    /// Counts join attempts, so a retry timer for an old attempt does nothing.
    attempt: u64,
    /// The next offset to read in each owned partition, once the committed offsets came.
    positions: BTreeMap<PartitionId, i64>,
    /// When the unanswered fetch of each partition was sent.
    fetch_sent_ms: BTreeMap<PartitionId, u64>,
    /// Records read.
    consumed: u64,
}

impl Sim {
    fn group_token(&mut self, b: BrokerId, m: u32) -> ReplyToken {
        self.next_group_token += 1;
        let token = self.next_group_token;
        self.brokers[b as usize].group_replies.insert(token, m);
        token
    }

    /// Creates `__consumer_offsets` if it does not exist yet (Kafka creates it at the first
    /// FindCoordinator): one partition, id [`SimConfig::partitions`] (one more with
    /// `__transaction_state`), replicated like the data partitions. Not while the quorum is away or too few brokers are live (the caller
    /// pushes the change). Returns whether it exists now.
    fn create_offsets_partition(&mut self) -> bool {
        if self.offsets_partition.is_some() {
            return true;
        }
        if self.now_ms < self.quorum_paused_until {
            return false;
        }
        let p = self.config.partitions + u32::from(self.txn_partition.is_some());
        let created = self
            .controller
            .create_partitions_at(p, 1, self.config.replication_factor);
        if created.is_ok() {
            self.offsets_partition = Some(p);
        }
        created.is_ok()
    }

    /// The group coordinator as clients find it (FindCoordinator): the leader of
    /// `__consumer_offsets` in the metadata (the simulated clients read the controller's).
    fn coordinator(&self) -> Option<BrokerId> {
        self.offsets_partition
            .and_then(|p| self.controller.partition(p))
            .and_then(|s| s.leader)
    }

    /// Which coordinator broker `b` runs: (broker, incarnation, coordinator moves). Generations
    /// count from the start again with each.
    fn coordinator_id(&self, b: BrokerId) -> CoordinatorId {
        let broker = &self.brokers[b as usize];
        (b, broker.incarnation, broker.coordinator_moves)
    }

    /// The membership settings of a coordinator starting on broker `b` now: member ids no
    /// other coordinator hands out.
    fn group_config(&self, b: BrokerId) -> GroupConfig {
        let (b, incarnation, moves) = self.coordinator_id(b);
        GroupConfig {
            member_id_seed: (u64::from(b) << 48) ^ (incarnation << 24) ^ moves,
            ..GroupConfig::default()
        }
    }

    /// Whether broker `b` serves a group request now, by core's rules: it leads
    /// `__consumer_offsets` (NOT_COORDINATOR otherwise), and its coordinator is not loading
    /// ([`HostedGroups::check_ready`], given the partition's high watermark first).
    fn group_gate(&mut self, b: BrokerId) -> Result<(), GroupError> {
        let (leads_offsets, high_watermark) = self.internal_leadership(b, self.offsets_partition);
        self.brokers[b as usize]
            .groups
            .check_coordinator(leads_offsets, high_watermark)
    }

    /// Whether broker `b` leads the internal partition `p` (`__consumer_offsets` or
    /// `__transaction_state`), and its high watermark there (0 when it hosts none), as both
    /// coordinators' gates ask (the node's `Broker::leads_internal` and
    /// `internal_high_watermark`).
    pub(super) fn internal_leadership(&self, b: BrokerId, p: Option<PartitionId>) -> (bool, i64) {
        let replica = p
            .and_then(|p| self.brokers[b as usize].replicas.get(&p))
            .map(HostedPartition::replica);
        (
            replica.is_some_and(Replica::is_leader),
            replica.map_or(0, Replica::high_watermark),
        )
    }

    /// Broker `b`'s role for `__consumer_offsets` changed: core's [`HostedGroups`] loads the
    /// partition's log or resigns, and what waited on the old state is answered.
    fn coordinator_moved(&mut self, b: BrokerId, moved: CoordinatorMove) {
        self.brokers[b as usize].coordinator_moves += 1;
        let config = self.group_config(b);
        let Some(p) = self.offsets_partition else {
            return;
        };
        let broker = &mut self.brokers[b as usize];
        let answers = match moved {
            CoordinatorMove::Elected => {
                let Some(hosted) = broker.replicas.get(&p) else {
                    return;
                };
                // A memory store cannot fail, and the simulator writes only valid batches.
                let records = hosted.keyed_records(&NoCodec).unwrap_or_default().records;
                let replica = hosted.replica();
                let (end, hw) = (replica.log_end_offset(), replica.high_watermark());
                broker
                    .groups
                    .handle_elected(config, records, end, hw)
                    .answers
            }
            CoordinatorMove::Resigned => broker.groups.handle_resigned(config),
        };
        self.send_group_outputs(b, answers);
    }

    /// Invariant 4 for commits: every commit OffsetFetch answers is in broker `b`'s
    /// `__consumer_offsets` below its high watermark.
    fn check_commit_reads(&mut self, b: BrokerId, answered: &[(PartitionId, i64)]) {
        let Some(hosted) = self
            .offsets_partition
            .and_then(|p| self.brokers[b as usize].replicas.get(&p))
        else {
            return;
        };
        let replica = hosted.replica();
        let (start, hw) = (replica.log_start_offset(), replica.high_watermark());
        // What is answered was mostly committed last: read the log's tail below the HW in
        // widening windows until every answer is found or the whole log was read.
        let mut replicated: BTreeSet<(PartitionId, i64)> = BTreeSet::new();
        let (mut from, mut window) = (hw, 64);
        while from > start
            && !answered
                .iter()
                .all(|(p, offset)| replicated.contains(&(*p, *offset)))
        {
            from = hw.saturating_sub(window).max(start);
            replicated.extend(records_between(replica, from, hw).into_iter().filter_map(
                |(_, key, value)| {
                    let (key, commit) = decode_commit(&key?, value.as_deref()).ok()?;
                    (key.group == "sim").then_some((key.partition as PartitionId, commit?.offset))
                },
            ));
            window *= 4;
        }
        for (partition, offset) in answered {
            if !replicated.contains(&(*partition, *offset)) {
                let v = Violation::UnreplicatedCommitRead {
                    partition: *partition,
                    offset: *offset,
                };
                self.violated(v);
            }
        }
    }

    /// An OffsetCommit to broker `b`'s coordinator, through core's [`HostedGroups`]: planned,
    /// written to `__consumer_offsets` as an acks=all batch, shown once the ISR has it
    /// ([`Sim::offsets_written`]). `reset`: an operator's offset reset, traced when written.
    /// Returns whether the coordinator accepted it.
    fn commit_offsets(
        &mut self,
        b: BrokerId,
        generation: i32,
        member_id: &str,
        offsets: Vec<(PartitionId, i64)>,
        reset: bool,
    ) -> bool {
        if self.group_gate(b).is_err() {
            return false;
        }
        let entries = offsets
            .into_iter()
            .map(|(p, offset)| CommitEntry {
                topic: String::from("sim"),
                partition: p as i32,
                offset,
                leader_epoch: -1,
                metadata: String::new(),
            })
            .collect();
        let partitions = self.config.partitions as i32;
        let exists = |topic: &str, p: i32| topic == "sim" && (0..partitions).contains(&p);
        let groups = &self.brokers[b as usize].groups;
        let Ok(plan) =
            groups.prepare_commit(self.now_ms, "sim", generation, member_id, entries, exists)
        else {
            return false;
        };
        self.write_offsets(b, OffsetsWrite::Commit { plan, reset });
        true
    }

    /// Appends what `write` carries to broker `b`'s `__consumer_offsets` as one acks=all batch
    /// (Kafka's `offsets.commit.required.acks=-1`); it ends in [`Sim::offsets_written`], now or
    /// when the ISR has it or the write fails.
    fn write_offsets(&mut self, b: BrokerId, write: OffsetsWrite) {
        let Some(p) = self.offsets_partition else {
            return;
        };
        let now = self.now_ms;
        let mut builder = BatchBuilder::new(0);
        match &write {
            OffsetsWrite::Commit { plan, .. } => {
                for (key, value) in &plan.records {
                    builder.push(now as i64, Some(key), Some(value), Vec::new());
                }
            }
            OffsetsWrite::Store(store) => {
                builder.push(now as i64, Some(&store.key), Some(&store.value), Vec::new());
            }
        }
        // An uncompressed batch always builds.
        let mut batch = builder.build(&NoCodec).unwrap_or_default();
        self.next_offsets_write += 1;
        let request = self.next_offsets_write;
        self.brokers[b as usize]
            .offsets_writes
            .insert(request, write);
        match self.append_internal(b, p, &mut batch, request) {
            Ok(None) => {} // waits for the ISR: `carry_out` ends it
            Ok(Some(base)) => self.offsets_written(b, request, Ok(base)),
            Err(e) => self.offsets_written(b, request, Err(e)),
        }
    }

    /// Appends `batch` to broker `b`'s internal partition `p` (`__consumer_offsets` or
    /// `__transaction_state`) as an acks=all write with id `request`, as the node writes its
    /// coordinators' records: `Ok(Some(base offset))` when already replicated, `Ok(None)` while
    /// it waits for the ISR (`carry_out` ends it), or the replica's refusal.
    pub(super) fn append_internal(
        &mut self,
        b: BrokerId,
        p: PartitionId,
        batch: &mut [u8],
        request: u64,
    ) -> Result<Option<i64>, ReplicaError> {
        let timeout = self.config.producer.request_timeout_ms;
        let mut result = Err(ReplicaError::NotLeaderOrFollower);
        self.host(b, p, |h, now| {
            let (r, ready) = h.handle_produce(now, batch, Acks::All, request, timeout, &NoCodec);
            result = r;
            ready
        });
        result
    }

    /// A write to `__consumer_offsets` ended: `Ok(base offset)` once the ISR has it. A commit
    /// is shown then ([`HostedGroups::handle_commit_replicated`]); a generation's SyncGroups
    /// are answered ([`crate::group::GroupCoordinator::handle_group_stored`]).
    fn offsets_written(&mut self, b: BrokerId, request: u64, result: Result<i64, ReplicaError>) {
        let now = self.now_ms;
        let broker = &mut self.brokers[b as usize];
        let Some(write) = broker.offsets_writes.remove(&request) else {
            return;
        };
        match write {
            OffsetsWrite::Commit { plan, reset } => {
                if let Ok(base) = result {
                    broker.groups.handle_commit_replicated(base, &plan);
                }
                if reset {
                    self.record(TraceKind::OffsetsReset {
                        applied: result.is_ok(),
                    });
                }
            }
            OffsetsWrite::Store(store) => {
                let code = result.map_or_else(|e| e.kafka_error_code(), |_| error_code::NONE);
                let outputs = broker.groups.coordinator.handle_group_stored(
                    now,
                    &store.group_id,
                    store.generation_id,
                    code,
                );
                self.send_group_outputs(b, outputs);
            }
        }
    }

    fn send_group_outputs(&mut self, b: BrokerId, outputs: Vec<GroupOutput>) {
        for output in outputs {
            let (token, msg) = match output {
                GroupOutput::Store(store) => {
                    self.write_offsets(b, OffsetsWrite::Store(store));
                    continue;
                }
                GroupOutput::Join(t, r) => (t, Msg::JoinResult(r)),
                GroupOutput::Sync(t, r) => {
                    let generation = self.brokers[b as usize]
                        .groups
                        .coordinator
                        .describe("sim")
                        .map_or(-1, |d| d.generation_id);
                    let coordinator = self.coordinator_id(b);
                    (
                        t,
                        Msg::SyncResult {
                            coordinator,
                            generation,
                            result: r,
                        },
                    )
                }
            };
            if let Some(m) = self.brokers[b as usize].group_replies.remove(&token) {
                self.send(Party::Broker(b), Party::Member(m), msg);
            }
        }
    }

    /// Sends `msg` from member `m` to the group coordinator; with none known, nothing goes
    /// (the member's timers try again). Returns whether it was sent.
    fn send_to_coordinator(&mut self, m: u32, msg: Msg) -> bool {
        let Some(coordinator) = self.coordinator() else {
            return false;
        };
        self.send(Party::Member(m), Party::Broker(coordinator), msg);
        true
    }

    fn member_join(&mut self, m: u32) {
        let member = &mut self.members[m as usize];
        member.state = MemberState::Joining;
        member.attempt += 1;
        let attempt = member.attempt;
        let member_id = member.member_id.clone();
        let owned = member.owned.clone();
        // A join is held for up to the rebalance timeout; past that, try again. With no
        // coordinator known, look again after `retry.backoff.ms`.
        let retry_in = if self.send_to_coordinator(m, Msg::JoinGroup { member_id, owned }) {
            MEMBER_REBALANCE_MS + self.config.producer.request_timeout_ms
        } else {
            MEMBER_RETRY_BACKOFF_MS
        };
        self.timer(Party::Member(m), retry_in, Timer::MemberRetry(attempt));
    }

    fn member_heartbeat(&mut self, m: u32) {
        let member = &self.members[m as usize];
        if member.state != MemberState::Stable {
            return;
        }
        let msg = Msg::GroupHeartbeat {
            generation: member.generation,
            member_id: member.member_id.clone(),
        };
        self.send_to_coordinator(m, msg);
        self.timer(
            Party::Member(m),
            MEMBER_HEARTBEAT_MS,
            Timer::MemberHeartbeat,
        );
    }

    fn member_receive(&mut self, m: u32, from: Party, msg: Msg) {
        let group_answer = matches!(
            msg,
            Msg::JoinResult(_)
                | Msg::SyncResult { .. }
                | Msg::GroupHeartbeatResult(_)
                | Msg::OffsetFetchResult(_)
        );
        if group_answer && self.coordinator().map(Party::Broker) != Some(from) {
            // From a coordinator the member has left (a paused one answering late): a Kafka
            // consumer closes its connection to a coordinator it marks unknown, failing what
            // was in flight there, so such an answer never reaches it.
            return;
        }
        let partitions = self.config.partitions;
        match msg {
            Msg::JoinResult(r) => {
                let member = &mut self.members[m as usize];
                if member.state != MemberState::Joining {
                    return;
                }
                if let Some(error) = r.error {
                    if error == GroupError::UnknownMemberId {
                        member.member_id.clear();
                    }
                    if matches!(
                        error,
                        GroupError::NotCoordinator | GroupError::CoordinatorLoadInProgress
                    ) {
                        // Find the coordinator again after `retry.backoff.ms`, as Kafka's
                        // consumer does.
                        let attempt = member.attempt;
                        let retry = Timer::MemberRetry(attempt);
                        self.timer(Party::Member(m), MEMBER_RETRY_BACKOFF_MS, retry);
                    }
                    return; // the retry timer joins again
                }
                member.member_id = r.member_id.clone();
                member.generation = r.generation_id;
                member.state = MemberState::Syncing;
                // The leader assigns with the group's assignor, over the members in id order
                // and what each says it owns.
                let assignments = if r.leader == r.member_id {
                    let mut members: Vec<(String, Vec<PartitionId>)> = r
                        .members
                        .iter()
                        .map(|(id, _, metadata)| (id.clone(), partition_ids(metadata)))
                        .collect();
                    members.sort();
                    let owned: Vec<Vec<PartitionId>> =
                        members.iter().map(|(_, o)| o.clone()).collect();
                    let assigned = self.config.assignor.assign(partitions, &owned);
                    members
                        .into_iter()
                        .zip(assigned)
                        .map(|((id, _), p)| (id, partition_bytes(&p)))
                        .collect()
                } else {
                    Vec::new()
                };
                let msg = Msg::SyncGroup {
                    generation: r.generation_id,
                    member_id: r.member_id,
                    assignments,
                };
                self.send_to_coordinator(m, msg);
            }
            Msg::SyncResult {
                coordinator,
                generation,
                result,
            } => {
                let member = &mut self.members[m as usize];
                // Only the answer to this member's SyncGroup of its current generation counts
                // (a Kafka client matches answers by correlation id on one connection); a late
                // one from a coordinator that was paused belongs to an earlier round.
                // (An error still sends the member back to join, whatever its round.)
                if member.state != MemberState::Syncing
                    || (result.is_ok() && generation != member.generation)
                {
                    return;
                }
                match result {
                    Ok(bytes) => {
                        let assigned = partition_ids(&bytes);
                        let revoked: Vec<PartitionId> = member
                            .owned
                            .iter()
                            .copied()
                            .filter(|p| !assigned.contains(p))
                            .collect();
                        member.owned = assigned;
                        member.state = MemberState::Stable;
                        let owned = member.owned.clone();
                        self.record(TraceKind::Assigned {
                            member: m,
                            generation,
                            partitions: owned.clone(),
                            revoked: revoked.clone(),
                        });
                        for p in owned {
                            match self.owners.get(&(coordinator, generation, p)) {
                                Some(other) if *other != m => {
                                    self.violations.push(Violation::TwoOwners {
                                        partition: p,
                                        generation,
                                    });
                                }
                                _ => {
                                    self.owners.insert((coordinator, generation, p), m);
                                }
                            }
                        }
                        self.timer(
                            Party::Member(m),
                            MEMBER_HEARTBEAT_MS,
                            Timer::MemberHeartbeat,
                        );
                        if self.member_lacks_positions(m) {
                            self.send_to_coordinator(m, Msg::OffsetFetch);
                        }
                        if !revoked.is_empty() {
                            // KIP-429: the member commits what it read of the partitions it
                            // gives up (as `onPartitionsRevoked` would), stops reading them
                            // and rejoins at once, so the next round can hand them on.
                            self.member_commit(m);
                            let member = &mut self.members[m as usize];
                            for p in &revoked {
                                member.positions.remove(p);
                                member.fetch_sent_ms.remove(p);
                            }
                            self.member_join(m);
                        }
                    }
                    Err(error) => {
                        if error == GroupError::UnknownMemberId {
                            member.member_id.clear();
                        }
                        self.member_join(m);
                    }
                }
            }
            Msg::GroupHeartbeatResult(Err(error)) => {
                let member = &mut self.members[m as usize];
                if member.state != MemberState::Stable {
                    return;
                }
                // Eager rebalancing: commit what was read, give up every partition, rejoin.
                // Cooperative (KIP-429): commit, keep the partitions and go on reading them
                // while rejoining, unless the member was fenced (unknown member or an old
                // generation), which loses them all ("onPartitionsLost").
                let unknown = error == GroupError::UnknownMemberId;
                let fenced = unknown || error == GroupError::IllegalGeneration;
                if !unknown {
                    self.member_commit(m);
                }
                let cooperative = self.config.assignor.cooperative();
                let member = &mut self.members[m as usize];
                if unknown {
                    member.member_id.clear();
                }
                if fenced || !cooperative {
                    let partitions = core::mem::take(&mut member.owned);
                    member.positions.clear();
                    if !partitions.is_empty() {
                        self.record(TraceKind::Revoked {
                            member: m,
                            partitions,
                            fenced,
                        });
                    }
                }
                self.member_join(m);
            }
            Msg::OffsetFetchResult(answer) => {
                if !self.member_reads(m) {
                    return;
                }
                let member = &mut self.members[m as usize];
                let Ok(committed) = answer else {
                    // The coordinator moved or is loading: ask again after
                    // `retry.backoff.ms` (Kafka's consumer retries the fetch).
                    let retry = Timer::MemberOffsetFetch(member.generation);
                    self.timer(Party::Member(m), MEMBER_RETRY_BACKOFF_MS, retry);
                    return;
                };
                // No commit yet: auto.offset.reset=earliest (the fetch answer moves it to the
                // log start if retention removed offset 0).
                for p in member.owned.clone() {
                    let at = committed
                        .iter()
                        .find(|(q, _)| *q == p)
                        .map_or(0, |(_, o)| *o);
                    member.positions.entry(p).or_insert(at);
                }
            }
            Msg::ConsumerAnswer {
                partition,
                offset,
                high_watermark,
                log_start_offset,
                records,
                ..
            } => {
                let member = &mut self.members[m as usize];
                member.fetch_sent_ms.remove(&partition);
                if member.positions.get(&partition) != Some(&offset) {
                    return; // a stale answer, or the partition moved away
                }
                let next = match records {
                    Ok(bytes) => {
                        let (next, read) =
                            self.read_records(partition, &bytes, offset, high_watermark);
                        self.group_reads += read.len() as u64;
                        self.members[m as usize].consumed += read.len() as u64;
                        self.group_seen
                            .extend(read.into_iter().map(|o| (partition, o)));
                        next
                    }
                    Err(ReplicaError::OffsetOutOfRange) if offset < log_start_offset => {
                        log_start_offset
                    }
                    Err(ReplicaError::OffsetOutOfRange) => high_watermark.max(0),
                    Err(_) => offset,
                };
                self.members[m as usize].positions.insert(partition, next);
            }
            _ => {}
        }
    }

    /// A stable member fetches each owned partition it has a position in from its leader.
    fn member_poll(&mut self, m: u32) {
        let now = self.now_ms;
        if !self.member_reads(m) {
            return;
        }
        let member = &self.members[m as usize];
        let due: Vec<(PartitionId, i64)> = member
            .positions
            .iter()
            .filter(|(p, _)| {
                member
                    .fetch_sent_ms
                    .get(p)
                    .is_none_or(|at| now.saturating_sub(*at) >= MEMBER_FETCH_TIMEOUT_MS)
            })
            .map(|(p, o)| (*p, *o))
            .collect();
        for (partition, offset) in due {
            let Some(leader) = self.controller.partition(partition).and_then(|s| s.leader) else {
                continue;
            };
            self.members[m as usize]
                .fetch_sent_ms
                .insert(partition, now);
            self.send(
                Party::Member(m),
                Party::Broker(leader),
                Msg::ConsumerFetch {
                    partition,
                    offset,
                    read_committed: false,
                },
            );
        }
    }

    /// A stable member commits its positions to the coordinator; so does a cooperative one
    /// rejoining (Kafka's coordinator takes commits of the current generation while the group
    /// prepares a rebalance).
    fn member_commit(&mut self, m: u32) {
        let member = &self.members[m as usize];
        let rejoining = self.config.assignor.cooperative() && member.state == MemberState::Joining;
        if !(member.state == MemberState::Stable || rejoining) || member.positions.is_empty() {
            return;
        }
        let msg = Msg::OffsetCommit {
            generation: member.generation,
            member_id: member.member_id.clone(),
            offsets: member.positions.iter().map(|(p, o)| (*p, *o)).collect(),
        };
        self.send_to_coordinator(m, msg);
    }

    /// Whether member `m` fetches what it owns now: when stable, and (cooperative) while it
    /// rejoins.
    fn member_reads(&self, m: u32) -> bool {
        let member = &self.members[m as usize];
        member.active && (member.state == MemberState::Stable || self.config.assignor.cooperative())
    }

    /// Whether member `m` owns a partition it has no position in yet (it must ask the
    /// committed offsets).
    fn member_lacks_positions(&self, m: u32) -> bool {
        let member = &self.members[m as usize];
        member
            .owned
            .iter()
            .any(|p| !member.positions.contains_key(p))
    }

    /// How many data partitions some member is reading now (owns, has a position in, and
    /// fetches).
    fn partitions_being_read(&self) -> u32 {
        let mut read = BTreeSet::new();
        for m in 0..self.members.len() as u32 {
            if self.member_reads(m) {
                read.extend(self.members[m as usize].positions.keys().copied());
            }
        }
        read.len() as u32
    }

    /// Whether every group member is stable in one generation and together they own every
    /// partition exactly once (trivially true without members).
    pub fn group_converged(&self) -> bool {
        if self.members.is_empty() {
            return true;
        }
        let assignment = self.group_assignment();
        let mut owned: Vec<PartitionId> =
            assignment.iter().flat_map(|(_, _, p)| p.clone()).collect();
        owned.sort_unstable();
        assignment.len() == self.members.len()
            && assignment.windows(2).all(|w| w[0].1 == w[1].1)
            && owned == (0..self.config.partitions).collect::<Vec<_>>()
    }

    /// Messages on the wire now, oldest first (at most `max`).
    pub fn in_flight(&self, max: usize) -> Vec<Wire> {
        let mut wires: Vec<(u64, Wire)> = self
            .queue
            .iter()
            .filter_map(|Reverse(s)| match &s.event {
                Event::Deliver {
                    from,
                    to,
                    sent_ms,
                    msg,
                } => Some((
                    s.seq,
                    Wire {
                        from: *from,
                        to: *to,
                        sent_ms: *sent_ms,
                        arrive_ms: s.time_ms,
                        what: msg.name(),
                    },
                )),
                _ => None,
            })
            .collect();
        wires.sort_by_key(|(seq, w)| (w.sent_ms, *seq));
        wires.truncate(max);
        wires.into_iter().map(|(_, w)| w).collect()
    }

    /// The records the producer has sent and waits to hear about, oldest first.
    pub fn producer_pending(&self) -> Vec<PendingRecord> {
        self.producer
            .inflight
            .values()
            .map(|f| PendingRecord {
                id: f.id,
                partition: f.partition,
                key: f.key.clone(),
                attempts: f.attempts,
            })
            .collect()
    }

    /// `__consumer_offsets`'s partition id, once created (see [`SimConfig::group_members`]).
    pub fn offsets_partition(&self) -> Option<PartitionId> {
        self.offsets_partition
    }

    /// The settings the simulation runs with.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// Whether broker `b`'s process is up (not crashed or stopped; a paused one is up).
    pub fn broker_alive(&self, b: BrokerId) -> bool {
        self.brokers.get(b as usize).is_some_and(|x| x.alive)
    }

    /// The consumer group: coordinator state, members with positions, committed offsets and
    /// lag, reads and rereads.
    pub fn group_view(&self) -> GroupView {
        // The coordinator the metadata names (the leader of `__consumer_offsets`).
        let coordinator = self
            .coordinator()
            .map(|c| &self.brokers[c as usize])
            .filter(|c| c.alive);
        let description = coordinator.and_then(|c| c.groups.coordinator.describe("sim"));
        let (state, generation) = match (&description, coordinator) {
            (_, None) => (String::from("coordinator down"), -1),
            (Some(d), Some(_)) => (String::from(d.state.name()), d.generation_id),
            (None, Some(_)) => (String::from("Empty"), -1),
        };
        let members = self
            .members
            .iter()
            .enumerate()
            .map(|(i, m)| MemberView {
                index: i as u32,
                active: m.active,
                member_id: m.member_id.clone(),
                generation: m.generation,
                state: match (m.active, m.state) {
                    (false, _) => "stopped",
                    (true, MemberState::Joining) => "joining",
                    (true, MemberState::Syncing) => "syncing",
                    (true, MemberState::Stable) => "stable",
                },
                positions: m
                    .owned
                    .iter()
                    .map(|p| (*p, m.positions.get(p).copied()))
                    .collect(),
                consumed: m.consumed,
                reading: self.member_reads(i as u32) && !m.positions.is_empty(),
            })
            .collect();
        let committed = (0..self.config.partitions)
            .map(|p| {
                let at = coordinator
                    .and_then(|c| c.groups.offsets().fetch("sim", "sim", p as i32))
                    .map(|c| c.offset);
                let hw = self
                    .controller
                    .partition(p)
                    .and_then(|s| s.leader)
                    .and_then(|l| self.replica(l, p))
                    .map_or(0, Replica::high_watermark);
                (p, at, (hw - at.unwrap_or(0)).max(0))
            })
            .collect();
        GroupView {
            state,
            generation,
            members,
            committed,
            reads: self.group_reads,
            rereads: self.group_reads - self.group_seen.len() as u64,
            assignor: self.config.assignor,
            being_read: self.partitions_being_read(),
        }
    }

    /// Each active member's partitions in its current generation (views and tests).
    pub fn group_assignment(&self) -> Vec<(u32, i32, Vec<PartitionId>)> {
        self.members
            .iter()
            .enumerate()
            .filter(|(_, m)| m.active && m.state == MemberState::Stable)
            .map(|(i, m)| (i as u32, m.generation, m.owned.clone()))
            .collect()
    }
}

/// Partition ids packed as big-endian `u32`s: the simulated members' subscription metadata
/// and assignments ([`partition_ids`] reads them back).
fn partition_bytes(ids: &[PartitionId]) -> Vec<u8> {
    ids.iter().copied().flat_map(u32::to_be_bytes).collect()
}

/// Partition ids packed as big-endian `u32`s (the simulated members' subscription metadata
/// and assignments); a trailing partial id is ignored.
fn partition_ids(bytes: &[u8]) -> Vec<PartitionId> {
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// A one-record batch produced at `now_ms`: its value is the record id (big-endian); a
/// tombstone has a null value and carries the id in an `id` header.
/// Record `id` as a one-record batch; an idempotent producer's carries producer id `id`,
/// epoch 0, sequence 0 (see [`ProducerConfig::idempotent`]).
fn record_batch(
    id: u64,
    key: Option<&str>,
    tombstone: bool,
    idempotent: bool,
    now_ms: u64,
) -> Vec<u8> {
    let value = id.to_be_bytes();
    let mut b = BatchBuilder::new(0);
    if idempotent {
        b = b.producer(id as i64, 0, 0);
    }
    let (value, headers) = if tombstone {
        let header = crate::batch::Header {
            key: ID_HEADER.as_bytes(),
            value: Some(&value[..]),
        };
        (None, alloc::vec![header])
    } else {
        (Some(&value[..]), Vec::new())
    };
    b.push(now_ms as i64, key.map(str::as_bytes), value, headers);
    // An uncompressed batch always builds.
    b.build(&NoCodec).unwrap_or_default()
}

/// A transactional producer's batch of record `id` with its (producer id, epoch, sequence).
fn txn_record_batch(
    id: u64,
    (producer_id, epoch, sequence): (i64, i16, i32),
    now_ms: u64,
) -> Vec<u8> {
    let value = id.to_be_bytes();
    let mut b = BatchBuilder::new(0)
        .producer(producer_id, epoch, sequence)
        .transactional(true);
    b.push(now_ms as i64, None, Some(&value[..]), Vec::new());
    // An uncompressed batch always builds.
    b.build(&NoCodec).unwrap_or_default()
}

/// (offset, key, value) of each record of a replica from `from` up to `upper_bound`.
type RecordContent = (i64, Option<Vec<u8>>, Option<Vec<u8>>);

fn records_between(replica: &Replica, from: i64, upper_bound: i64) -> Vec<RecordContent> {
    let mut out = Vec::new();
    let mut scratch = Vec::new();
    let bytes = replica.read_from(
        from.max(replica.log_start_offset()),
        usize::MAX,
        upper_bound,
    );
    for batch in batches(&bytes).flatten() {
        if let Ok(records) = batch.records(&NoCodec, &mut scratch) {
            out.extend(records.flatten().filter(|r| r.offset >= from).map(|r| {
                (
                    r.offset,
                    r.key.map(<[u8]>::to_vec),
                    r.value.map(<[u8]>::to_vec),
                )
            }));
        }
    }
    out
}

/// The header that carries a tombstone's record id.
const ID_HEADER: &str = "id";

/// A record's id: its value, or a tombstone's `id` header.
pub fn record_id(record: &crate::batch::Record<'_>) -> Option<u64> {
    let bytes = record.value.or_else(|| {
        record
            .headers
            .iter()
            .find(|h| h.key == ID_HEADER.as_bytes())
            .and_then(|h| h.value)
    })?;
    <[u8; 8]>::try_from(bytes).ok().map(u64::from_be_bytes)
}

/// (offset, record id) of each record in `bytes`.
fn record_offsets(bytes: &[u8]) -> Vec<(i64, u64)> {
    let mut ids = Vec::new();
    let mut scratch = Vec::new();
    for batch in batches(bytes).flatten() {
        if let Ok(records) = batch.records(&NoCodec, &mut scratch) {
            for record in records.flatten() {
                ids.extend(record_id(&record).map(|id| (record.offset, id)));
            }
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::case;

    /// [`Sim::counts`] reads each leader's committed log only since its last call: read that
    /// way every 250 ms through random faults (crashes, truncations, unclean elections,
    /// idempotent and plain producers), it gives the same counts as a read of every log from
    /// its start.
    #[test]
    fn counts_read_incrementally_equal_counts_read_afresh() {
        let (mut compared, mut with_loss) = (0, 0);
        for seed in 0..64 {
            let (config, faults) = case(seed, seed % 2 == 0);
            let mut sim = Sim::new(config);
            for (at, fault) in faults {
                sim.schedule(at, fault);
            }
            let mut t = 0;
            while t < 20_000 {
                t += 250;
                sim.run_until(t);
                let incremental = sim.counts();
                // Afresh with an empty cache; the incremental one goes on with its own.
                let kept = sim.committed_logs.take();
                let afresh = sim.counts();
                sim.committed_logs.replace(kept);
                assert_eq!(incremental, afresh, "seed {seed} at {t} ms");
                compared += 1;
                with_loss += u64::from(afresh.lost > 0);
            }
        }
        assert!(
            compared > 1_000 && with_loss > 0,
            "{compared} comparisons, {with_loss} with records lost"
        );
    }
}
