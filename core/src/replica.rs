//! One broker's replica of one partition: the leader and follower halves of Kafka's
//! replication protocol, sans-IO.
//!
//! - The **leader** appends produced batches, answers followers' fetches, and from the offsets
//!   followers fetch at learns their log end offsets (LEO). The high watermark (HW) is the
//!   smallest LEO in the in-sync replica set (ISR); records below it are committed, and only
//!   they are shown to consumers. A follower is caught up when a fetch reaches the leader's
//!   LEO as of its previous fetch; it leaves the ISR when it has not been caught up for
//!   `replica.lag.time.max.ms`, and may rejoin once it reaches the HW; the
//!   leader proposes each change to the controller ([`Replica::poll_isr_change`]) and applies it
//!   only when the controller accepts. `acks=all` writes wait until the HW passes them; with
//!   fewer than `min.insync.replicas` in the ISR a write is refused (NOT_ENOUGH_REPLICAS).
//! - A **follower** fetches from its leader's LEO and copies batches byte for byte
//!   (offsets and leader epochs included), and learns the HW from fetch responses.
//! - On a leader change (KIP-101) a follower first asks the new leader where the follower's last
//!   leader epoch ends (OffsetsForLeaderEpoch) and truncates there: it keeps every record the
//!   new leader has. The legacy rule, selected by [`TruncationMode::HighWatermark`], truncates
//!   to the follower's own HW instead, which can throw away committed records the new leader
//!   also lacks — the loss KIP-101 fixed, kept so the playground can show it.
//!
//! The log underneath is core's [`Log`] over any [`SegmentStore`] (memory in the simulator and
//! the playground, files in the node): the same code the node
//! runs, so the simulator exercises it.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::batch::{self, BatchHeader, Codec};
use crate::compaction::CompactionReport;
use crate::controller::PartitionState;
use crate::error_code;
use crate::log::{
    Log, LogConfig, LogError, MemorySegmentStore, ReadRange, RecordsRefused, SegmentStore,
};
use crate::producer::{ProducerError, ProducerStateTable, SequenceCheck};
use crate::retention::RetentionReport;
use crate::snapshot::ReplicaState;
use crate::txn::{AbortedTxn, ControlType, TxnIndex};

/// A broker id.
pub type BrokerId = u32;

/// How a follower truncates after a leader change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TruncationMode {
    /// KIP-101: truncate to the end offset of the follower's last epoch on the new leader.
    LeaderEpoch,
    /// Before KIP-101: truncate to the follower's own high watermark.
    HighWatermark,
}

/// Replication settings, with Kafka's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReplicaConfig {
    /// `replica.lag.time.max.ms`: how long a follower may go without catching up.
    pub lag_time_max_ms: u64,
    /// `min.insync.replicas`: the smallest ISR that accepts `acks=all` writes.
    pub min_insync_replicas: usize,
    /// How followers truncate on a leader change.
    pub truncation: TruncationMode,
    /// How long a leader waits for the controller to answer an ISR change before it stops
    /// accepting writes.
    pub isr_update_timeout_ms: u64,
    /// `producer.id.expiration.ms`: an idempotent producer not seen for this long, with no
    /// transaction open, is forgotten at the next cleaner pass (Kafka's default: one day).
    #[serde(default = "default_producer_id_expiration_ms")]
    pub producer_id_expiration_ms: u64,
}

/// Kafka's default `producer.id.expiration.ms`: 86,400,000 (one day).
pub const DEFAULT_PRODUCER_ID_EXPIRATION_MS: u64 = 86_400_000;

fn default_producer_id_expiration_ms() -> u64 {
    DEFAULT_PRODUCER_ID_EXPIRATION_MS
}

impl Default for ReplicaConfig {
    fn default() -> Self {
        Self {
            lag_time_max_ms: 10_000,
            min_insync_replicas: 1,
            truncation: TruncationMode::LeaderEpoch,
            isr_update_timeout_ms: 3_000,
            producer_id_expiration_ms: DEFAULT_PRODUCER_ID_EXPIRATION_MS,
        }
    }
}

/// `acks` of a produce request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Acks {
    /// No acknowledgement at all.
    None,
    /// Acknowledged once the leader has appended.
    Leader,
    /// Acknowledged once every ISR member has the records (HW past them).
    All,
}

/// Why a replica refused a request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum ReplicaError {
    /// This replica is not the leader (or not of that epoch).
    #[error("not leader or follower")]
    NotLeaderOrFollower,
    /// Fewer in-sync replicas than `min.insync.replicas`.
    #[error("not enough replicas")]
    NotEnoughReplicas,
    /// Appended, but the ISR shrank below `min.insync.replicas` before the HW reached it.
    #[error("not enough replicas after append")]
    NotEnoughReplicasAfterAppend,
    /// An `acks=all` write waited longer than the request timeout.
    #[error("request timed out")]
    RequestTimedOut,
    /// The partition's topic was deleted while an `acks=all` write waited: Kafka's
    /// `DelayedProduce` answers UNKNOWN_TOPIC_OR_PARTITION when `getPartitionOrError` finds
    /// neither the partition nor its topic.
    #[error("unknown topic or partition")]
    UnknownTopicOrPartition,
    /// The records are not valid batches.
    #[error("invalid record")]
    InvalidRecord,
    /// The fetch offset is outside the log.
    #[error("offset out of range")]
    OffsetOutOfRange,
    /// A follower fetched with another leader epoch than the leader's (KIP-320): it must
    /// learn the current epoch (and truncate) first.
    #[error("fenced leader epoch")]
    FencedLeaderEpoch,
    /// The asker knows a newer leader epoch than this replica (KIP-320): it has not applied
    /// the metadata yet; ask again.
    #[error("unknown leader epoch")]
    UnknownLeaderEpoch,
    /// An idempotent producer's batch does not follow its last sequence in this partition.
    #[error("out of order sequence number")]
    OutOfOrderSequence,
    /// An idempotent producer's epoch is older than one already written: a newer instance of
    /// the producer exists.
    #[error("invalid producer epoch")]
    InvalidProducerEpoch,
    /// The log refused the batch; the Kafka error code says why (CORRUPT_MESSAGE,
    /// MESSAGE_TOO_LARGE, INVALID_RECORD, UNSUPPORTED_COMPRESSION_TYPE, KAFKA_STORAGE_ERROR
    /// when the store failed).
    #[error("the log refused the batch (Kafka error {0})")]
    AppendRefused(i16),
    /// The log refused records of the batch (KIP-467: the answer names each).
    #[error(transparent)]
    RecordsRefused(RecordsRefused),
    /// The store failed (a full disk, an I/O error): KAFKA_STORAGE_ERROR. Nothing was
    /// appended; the text is the store's own.
    #[error("storage: {0}")]
    Storage(alloc::string::String),
}

impl ReplicaError {
    /// A log error as the replica reports it: a store failure keeps its words.
    fn from_log<E: core::fmt::Debug + core::fmt::Display>(e: LogError<E>) -> Self {
        match e {
            LogError::RecordsRefused(r) => Self::RecordsRefused(r),
            LogError::Store(e) => Self::Storage(alloc::format!("{e}")),
            other => Self::AppendRefused(other.kafka_error_code()),
        }
    }
}

/// A read's log error as a fetch answers it: an offset outside the log is
/// OFFSET_OUT_OF_RANGE, a failed store or a damaged segment KAFKA_STORAGE_ERROR with its words.
fn read_error<E: core::fmt::Debug + core::fmt::Display>(e: LogError<E>) -> ReplicaError {
    match e {
        LogError::OffsetOutOfRange { .. } => ReplicaError::OffsetOutOfRange,
        other => ReplicaError::Storage(alloc::format!("{other}")),
    }
}

impl From<ProducerError> for ReplicaError {
    fn from(e: ProducerError) -> Self {
        match e {
            ProducerError::OutOfOrderSequence { .. } => Self::OutOfOrderSequence,
            ProducerError::ProducerFenced { .. } => Self::InvalidProducerEpoch,
        }
    }
}

impl ReplicaError {
    /// The Kafka error code.
    pub fn kafka_error_code(&self) -> i16 {
        match self {
            Self::NotLeaderOrFollower => error_code::NOT_LEADER_OR_FOLLOWER,
            Self::NotEnoughReplicas => error_code::NOT_ENOUGH_REPLICAS,
            Self::NotEnoughReplicasAfterAppend => error_code::NOT_ENOUGH_REPLICAS_AFTER_APPEND,
            Self::RequestTimedOut => error_code::REQUEST_TIMED_OUT,
            Self::UnknownTopicOrPartition => error_code::UNKNOWN_TOPIC_OR_PARTITION,
            Self::InvalidRecord => error_code::INVALID_RECORD,
            Self::OffsetOutOfRange => error_code::OFFSET_OUT_OF_RANGE,
            Self::FencedLeaderEpoch => error_code::FENCED_LEADER_EPOCH,
            Self::UnknownLeaderEpoch => error_code::UNKNOWN_LEADER_EPOCH,
            Self::OutOfOrderSequence => error_code::OUT_OF_ORDER_SEQUENCE_NUMBER,
            Self::InvalidProducerEpoch => error_code::INVALID_PRODUCER_EPOCH,
            Self::AppendRefused(code) => *code,
            Self::RecordsRefused(r) => r.kafka_error_code(),
            Self::Storage(_) => error_code::KAFKA_STORAGE_ERROR,
        }
    }
}

/// [`Replica::check_current_leader_epoch`] for a replica in `leader_epoch`.
fn check_current_leader_epoch(leader_epoch: i32, asked: i32) -> Result<(), ReplicaError> {
    if asked > leader_epoch {
        return Err(ReplicaError::UnknownLeaderEpoch);
    }
    if asked >= 0 && asked < leader_epoch {
        return Err(ReplicaError::FencedLeaderEpoch);
    }
    Ok(())
}

/// A write waiting for the HW (acks=all), identified by the driver's request id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PendingWrite {
    request: u64,
    base_offset: i64,
    next_offset: i64,
    deadline_ms: u64,
}

/// What the leader knows about one follower.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FollowerProgress {
    leo: i64,
    last_caught_up_ms: u64,
    /// The leader's LEO when this follower last fetched: reaching it counts as caught up.
    leader_leo_at_last_fetch: i64,
    /// The controller refused adding it to the ISR: not proposed again until it fetches
    /// again, at least [`EXPANSION_REFUSED_BACKOFF_MS`] after the refused proposal. A follower
    /// that died idle still looks caught up (its LEO is the HW); the controller refuses it
    /// because it is fenced, and without this the leader would propose it again and again,
    /// waiting on the controller until it stopped taking writes. (KRaft's leader does not
    /// propose fenced brokers, KIP-841.)
    expansion_refused: bool,
    /// When the refused proposal was made.
    expansion_refused_at_ms: u64,
}

/// How long a follower whose addition to the ISR the controller refused waits before it is
/// proposed again. Each proposal is an entry in the metadata log: a broker that keeps fetching
/// while fenced (its heartbeats lost) must not add one per fetch. (KIP-841 has the leader skip
/// fenced brokers; this leader does not know who is fenced, so it bounds the rate.)
pub const EXPANSION_REFUSED_BACKOFF_MS: u64 = 1_000;

/// What the leader half keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
struct LeaderState {
    isr: Vec<BrokerId>,
    followers: BTreeMap<BrokerId, FollowerProgress>,
    /// An ISR change sent to the controller and not yet answered, and since when.
    proposed_isr: Option<Vec<BrokerId>>,
    proposed_at_ms: Option<u64>,
    /// The unanswered proposal is to be sent again as it is ([`Replica::abandon_isr_change`]).
    resend_isr: bool,
    pending: Vec<PendingWrite>,
}

/// The role a replica plays now.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Role {
    Leader(LeaderState),
    Follower {
        leader: BrokerId,
        awaiting_epoch_end: bool,
    },
    Offline,
}

/// Where a follower should go next after learning of a new leader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FollowerStart {
    /// Fetch from this offset.
    Fetch(i64),
    /// Ask the leader where this epoch ends (OffsetsForLeaderEpoch), then truncate.
    AskEpochEnd(i32),
}

/// What [`Replica::apply_metadata`] did with a partition's state from the controller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoleChange {
    /// Not newer than the state already applied (metadata can arrive late or twice): ignored.
    Stale,
    /// Newer, but this replica's role and ISR stay as they were.
    Unchanged,
    /// This replica now leads, in the state's leader epoch.
    Leader,
    /// Still the leader; the controller's ISR replaced this leader's (an accepted or a newer
    /// change).
    IsrChanged {
        /// The ISR before.
        before: Vec<BrokerId>,
        /// The ISR now.
        after: Vec<BrokerId>,
    },
    /// This replica now follows the state's leader, starting as given.
    Follower(FollowerStart),
    /// This replica serves nothing: the partition has no leader, or this broker is no longer
    /// among its replicas.
    Offline,
}

/// The epochs of the partition state a replica applied last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Applied {
    leader: Option<BrokerId>,
    leader_epoch: i32,
    partition_epoch: i32,
}

/// A completed produce, for the driver to answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProduceDone {
    /// The driver's request id.
    pub request: u64,
    /// Base offset on success, or why it failed.
    pub result: Result<i64, ReplicaError>,
}

/// The answer to a follower's fetch. `R` holds the records: a `Vec<u8>` as the leader reads
/// them, or whatever bytes the follower's body received them in (a slice of the response).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchAnswer<R = Vec<u8>> {
    /// Whole batches from the fetch offset.
    pub records: R,
    /// The leader's HW after this fetch was counted.
    pub high_watermark: i64,
    /// The leader's epoch.
    pub leader_epoch: i32,
    /// The leader's log start offset (moved by DeleteRecords or retention): the follower's
    /// moves up to it too, within the follower's HW (KIP-107).
    pub log_start_offset: i64,
}

/// A leader's answer to a follower's fetch with where its records are instead of the records
/// ([`Replica::handle_fetch_ranges`]): a body that sends file bytes to a socket itself
/// (`sendfile`, as Kafka's leader serves its followers from `FileRecords`) reads none of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaRead {
    /// Where the whole batches from the fetch offset are, in order ([`Log::read_ranges`]).
    pub ranges: Vec<ReadRange>,
    /// The leader's HW after this fetch was counted.
    pub high_watermark: i64,
    /// The leader's epoch.
    pub leader_epoch: i32,
    /// The leader's log start offset ([`FetchAnswer::log_start_offset`]).
    pub log_start_offset: i64,
}

impl ReplicaRead {
    /// The bytes of its records.
    pub fn len(&self) -> usize {
        self.ranges.iter().map(|r| r.len).sum()
    }

    /// True when it carries no records (the follower is caught up).
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

/// What a consumer's fetch reads of a partition it leads ([`Replica::handle_consumer_fetch`]):
/// where the records are, and what the response says beside them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerRead {
    /// Where the whole batches from the fetch offset are, in order ([`Log::read_ranges`]);
    /// empty when the consumer is caught up or the response had no room for them.
    pub ranges: Vec<ReadRange>,
    /// The high watermark.
    pub high_watermark: i64,
    /// The last stable offset (KIP-98).
    pub last_stable_offset: i64,
    /// The log start offset.
    pub log_start_offset: i64,
    /// For a `read_committed` fetch, the aborted transactions among the records read, which
    /// the consumer drops (Kafka's `collectAbortedTransactions`); empty otherwise.
    pub aborted: Vec<AbortedTxn>,
}

impl ConsumerRead {
    /// The bytes of its records.
    pub fn len(&self) -> usize {
        self.ranges.iter().map(|r| r.len).sum()
    }

    /// True when it carries no records.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The records in its batches (their headers' counts).
    pub fn records(&self) -> u64 {
        self.ranges.iter().map(|r| r.records).sum()
    }
}

/// The headers of the batches laid back to back in `records` (already checked by the log),
/// each with its control marker's type (the only batches whose records are read).
fn batch_headers<'a>(
    records: &'a [u8],
    codec: &'a dyn Codec,
) -> impl Iterator<Item = (BatchHeader, Option<ControlType>)> + 'a {
    let mut position = 0;
    batch::headers(records).map(move |header| {
        let batch = &records[position..position + header.size()];
        position += header.size();
        let control = header
            .is_control()
            .then(|| batch::BatchRef::parse(batch).ok())
            .flatten()
            .and_then(|b| crate::txn::control_type(&b, codec));
        (header, control)
    })
}

/// One broker's replica of one partition. See the module documentation.
///
/// Driver calls: [`Replica::become_leader`] / [`Replica::become_follower`] on metadata changes;
/// as leader [`Replica::handle_produce`], [`Replica::handle_fetch`],
/// [`Replica::handle_epoch_end_request`], [`Replica::handle_isr_change_result`], then
/// [`Replica::poll_isr_change`] and [`Replica::poll_completed`] after every input and
/// [`Replica::handle_tick`]; as follower [`Replica::fetch_offset`],
/// [`Replica::handle_fetch_answer`], [`Replica::handle_epoch_end`].
#[derive(Debug)]
pub struct Replica<S: SegmentStore = MemorySegmentStore> {
    broker: BrokerId,
    config: ReplicaConfig,
    log: Log<S>,
    high_watermark: i64,
    leader_epoch: i32,
    /// (epoch, start offset) of every epoch this log has records or leadership in (KIP-101).
    epoch_starts: Vec<(i32, i64)>,
    role: Role,
    completed: Vec<ProduceDone>,
    /// Below this offset the cleaner (retention or compaction) may have removed records.
    cleaned_below: i64,
    /// Truncations of the log so far ([`Replica::truncations`]).
    truncations: u64,
    /// Idempotent producers' last batches in this log (rebuilt at open, cut with the log).
    producers: ProducerStateTable,
    /// The transactions open and aborted in this log (rebuilt at open, cut with the log).
    txns: TxnIndex,
    /// The partition state applied last, to ignore older ones.
    applied: Option<Applied>,
}

/// What one cleaner pass over a replica did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CleanReport {
    /// Retention: segments deleted by time or size.
    pub retention: RetentionReport,
    /// Compaction: records and tombstones removed.
    pub compaction: CompactionReport,
    /// Why retention or compaction failed (the store's words), if one did; the log is as the
    /// failed step left it, and the next pass tries again.
    pub error: Option<alloc::string::String>,
    /// Idempotent producers forgotten for `producer.id.expiration.ms`
    /// ([`crate::producer::ProducerStateTable::remove_expired`]).
    pub producers_expired: usize,
}

/// Which of the log cleaner's jobs one pass does (each has its own interval in Kafka:
/// `log.retention.check.interval.ms` and the cleaner's backoff).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CleanPass {
    /// Retention by `retention.ms` / `retention.bytes` (when `cleanup.policy` has `delete`).
    pub retention: bool,
    /// Compaction (when `cleanup.policy` has `compact`).
    pub compaction: bool,
    /// Compact even when less than `min.cleanable.dirty.ratio` of the log is dirty (an
    /// operator asking for it now).
    pub force: bool,
}

impl CleanPass {
    /// Both jobs, as due.
    pub const ALL: CleanPass = CleanPass {
        retention: true,
        compaction: true,
        force: false,
    };
}

/// The newest usable snapshot of `log`'s store: at or below its end and at or above its start,
/// and one that decodes. Snapshots past the end (a truncation cut them) are deleted first.
fn restore_snapshot<S: SegmentStore>(log: &mut Log<S>) -> Option<ReplicaState> {
    delete_snapshots_after(log, log.log_end_offset());
    let offsets = log.store().snapshots().ok()?;
    let offset = *offsets.last()?;
    if offset < log.log_start_offset() {
        return None;
    }
    let mut bytes = Vec::new();
    log.store().read_snapshot(offset, &mut bytes).ok()?;
    ReplicaState::decode(&bytes).filter(|state| state.offset == offset)
}

/// Deletes the snapshots of `log`'s store taken past `offset` (they hold batches the log no
/// longer has). A store error leaves them: restore skips any past the log end anyway.
fn delete_snapshots_after<S: SegmentStore>(log: &mut Log<S>, offset: i64) {
    let Ok(offsets) = log.store().snapshots() else {
        return;
    };
    for stale in offsets.into_iter().filter(|o| *o > offset) {
        let _ = log.store_mut().delete_snapshot(stale);
    }
}

impl Replica<MemorySegmentStore> {
    /// An empty, offline replica on `broker` with Kafka's default topic settings.
    pub fn new(broker: BrokerId, config: ReplicaConfig) -> Self {
        Self::with_log_config(broker, config, LogConfig::default())
    }

    /// An empty, offline replica on `broker` whose log has `log_config` (`cleanup.policy`,
    /// `retention.ms`, `segment.ms`, ...).
    pub fn with_log_config(broker: BrokerId, config: ReplicaConfig, log_config: LogConfig) -> Self {
        // A dense offset index: replicas read from arbitrary offsets on every fetch, and the
        // simulator's batches are small.
        let log_config = LogConfig {
            index_interval_bytes: 256,
            ..log_config
        };
        let log = match Log::new(MemorySegmentStore::new(), log_config, 0) {
            Ok(log) => log,
            // A fresh in-memory store always accepts its first segment.
            Err(_) => unreachable!("an empty memory store creates segment 0"),
        };
        Replica::with_log(broker, config, log)
    }
}

impl<S: SegmentStore> Replica<S> {
    /// An offline replica over an existing log (a node's recovered partition). Its leader
    /// epochs, idempotent producers and transactions come from the newest snapshot at or
    /// below the log end ([`crate::snapshot`], Kafka's checkpoint and producer snapshot),
    /// and from the headers of the batches after it (all of them, without a usable
    /// snapshot); snapshots past the log end (cut by a truncation) are deleted. The high
    /// watermark starts at the log start until a leader says more.
    pub fn with_log(broker: BrokerId, config: ReplicaConfig, mut log: Log<S>) -> Self {
        let restored = restore_snapshot(&mut log);
        let mut replica = Self {
            broker,
            config,
            high_watermark: log.log_start_offset(),
            log,
            leader_epoch: -1,
            epoch_starts: Vec::new(),
            role: Role::Offline,
            completed: Vec::new(),
            cleaned_below: 0,
            truncations: 0,
            producers: ProducerStateTable::new(),
            txns: TxnIndex::new(),
            applied: None,
        };
        let from = match restored {
            Some(state) => {
                replica.epoch_starts = state.epoch_starts;
                replica.producers = state.producers;
                replica.txns = state.txns;
                state.offset
            }
            None => replica.log.log_start_offset(),
        };
        // Headers only, and a marker's body, after the snapshot: reading the whole log made a
        // restart read every byte of every partition.
        let mut epoch_starts = Vec::new();
        // `Log::open` validated every header already: a failure here (a store error) keeps
        // what was scanned, as a read error ended the old whole-log read.
        let scanned = replica.log.scan_batches(from, |h, control_bytes| {
            if h.partition_leader_epoch >= 0 {
                epoch_starts.push((h.partition_leader_epoch, h.base_offset));
            }
            replica.producers.record(h, h.base_offset);
            // Markers are never compressed (`Log::append` keeps them as written).
            let control = control_bytes
                .and_then(|b| batch::batches(b).flatten().next())
                .and_then(|b| crate::txn::control_type(&b, &batch::NoCodec));
            replica.txns.record_header(h, control);
        });
        for (epoch, start) in epoch_starts {
            replica.record_epoch_start(epoch, start);
        }
        replica.leader_epoch = replica.epoch_starts.last().map_or(-1, |(e, _)| *e);
        // No snapshot at or past the newest segment's base: take one now, so that the next
        // crash checks one segment, not all of them again (the newest snapshot is the log's
        // recovery point; Kafka also snapshots the producer state it rebuilt at load).
        // Not after a failed scan: a snapshot of part of the state would make the loss last.
        let newest_base = replica.active_segment_base();
        if from < newest_base && scanned.is_ok() {
            // A failed snapshot costs only restart time.
            let _ = replica.take_snapshot();
        }
        replica
    }

    /// The log (reads, retention, flushes by the driver).
    pub fn log(&self) -> &Log<S> {
        &self.log
    }

    /// The Produce response's `log_append_time_ms` for the batch with `header` just handled at
    /// `now_ms`: -1 on a CreateTime topic; on a LogAppendTime topic the time the batch was
    /// stored with — for an idempotent producer's retry of a stored batch, the original's, as
    /// Kafka answers a duplicate — else `now_ms`.
    pub fn log_append_time_ms(&self, header: &batch::BatchHeader, now_ms: u64) -> i64 {
        if self.log.log_append_time_ms(now_ms) == -1 {
            return -1;
        }
        self.producers
            .stored_max_timestamp(header)
            .unwrap_or_else(|| self.log.log_append_time_ms(now_ms))
    }

    /// The idempotent producers writing to this replica's log (DescribeProducers, KIP-664).
    pub fn producers(&self) -> &ProducerStateTable {
        &self.producers
    }

    /// The transactions open and aborted in this log (KIP-98).
    pub fn txns(&self) -> &TxnIndex {
        &self.txns
    }

    /// The last stable offset: a `read_committed` reader reads below it (the first offset of
    /// the oldest open transaction, or the HW; Kafka's `lastStableOffset`).
    pub fn last_stable_offset(&self) -> i64 {
        // Never below the log start: records deleted there cannot hold readers back (Kafka
        // moves its first unstable offset up to the log start).
        self.txns
            .last_stable_offset(self.high_watermark)
            .max(self.log.log_start_offset().min(self.high_watermark))
    }

    /// The aborted transactions a `read_committed` fetch from `fetch_offset` reading below
    /// `upper_bound_offset` lists ([`TxnIndex::aborted_between`]).
    pub fn aborted_txns(&self, fetch_offset: i64, upper_bound_offset: i64) -> Vec<AbortedTxn> {
        self.txns.aborted_between(fetch_offset, upper_bound_offset)
    }

    /// The log, to change (a single node's appends and config changes, which bypass
    /// replication).
    pub fn log_mut(&mut self) -> &mut Log<S> {
        &mut self.log
    }

    /// The first offset still in the log (retention and DeleteRecords move it up).
    pub fn log_start_offset(&self) -> i64 {
        self.log.log_start_offset()
    }

    /// Below this offset the cleaner may have removed records (by retention or compaction);
    /// at and above it the log holds every record it was given.
    pub fn cleaned_below(&self) -> i64 {
        self.cleaned_below
    }

    /// How many times this replica's log was cut at its end (a crash, a follower's truncation
    /// to the leader's epoch end, an unclean leader's log start): while it stays the same, the
    /// log below any offset read before is unchanged, only appended to (checks and views that
    /// read a log incrementally rely on it).
    pub fn truncations(&self) -> u64 {
        self.truncations
    }

    /// The log's topic settings.
    pub fn log_config(&self) -> &LogConfig {
        self.log.config()
    }

    /// One pass of the log cleaner below the high watermark (Kafka cleans below it: a record
    /// above may still be truncated away, and followers are still copying it): retention by
    /// `retention.ms` / `retention.bytes` when `cleanup.policy` has `delete`, compaction when
    /// it has `compact`, as `pass` asks. The active segment is never touched, as in Kafka.
    pub fn clean(&mut self, codec: &dyn Codec, now_ms: u64, pass: CleanPass) -> CleanReport {
        // Retention deletes below the high watermark, an open transaction or not (Kafka's
        // `UnifiedLog.deletableSegments`: `highWatermark >= upperBoundOffset`); the last
        // stable offset then rises to the new log start. Compaction stops at the first
        // unstable offset too (the cleaner's `firstUncleanableOffset`): an open transaction
        // may still be aborted.
        let hw = self.last_stable_offset();
        let mut report = CleanReport::default();
        if pass.retention {
            match self.log.apply_retention(now_ms, self.high_watermark) {
                Ok(r) => report.retention = r,
                Err(e) => report.error = Some(alloc::format!("retention: {e}")),
            }
        }
        if pass.compaction {
            let config = self.log.config().clone();
            if pass.force {
                self.log.set_config(LogConfig {
                    min_cleanable_dirty_ratio: 0.0,
                    ..config.clone()
                });
            }
            let txns = self.txn_cleaning(hw);
            match self.log.compact(codec, now_ms, hw, &txns) {
                Ok(r) => report.compaction = r,
                Err(e) => report.error = Some(alloc::format!("compaction: {e}")),
            }
            if pass.force {
                self.log.set_config(config);
            }
        }
        if report.retention.segments_deleted > 0 {
            self.cleaned_below = self.cleaned_below.max(self.log.log_start_offset());
        }
        self.txns
            .forget_stable(self.high_watermark, self.log.log_start_offset());
        if report.compaction.ran {
            self.cleaned_below = self.cleaned_below.max(self.log.first_dirty_offset);
        }
        let txns = &self.txns;
        report.producers_expired = self.producers.remove_expired(
            i64::try_from(now_ms).unwrap_or(i64::MAX),
            i64::try_from(self.config.producer_id_expiration_ms).unwrap_or(i64::MAX),
            |id| txns.is_ongoing(id),
        );
        report
    }

    /// What compaction below `upper_bound` must know of this partition's transactions and
    /// producers: the aborted transactions there, and each tracked producer's last entry.
    fn txn_cleaning(&self, upper_bound: i64) -> crate::compaction::TxnCleaning {
        crate::compaction::TxnCleaning {
            aborted: self
                .txns
                .aborted_between(self.log.log_start_offset(), upper_bound),
            last_of_producer: self.producers.last_entries(),
        }
    }

    /// The log end offset.
    pub fn log_end_offset(&self) -> i64 {
        self.log.log_end_offset()
    }

    /// The high watermark as this replica knows it.
    pub fn high_watermark(&self) -> i64 {
        self.high_watermark
    }

    /// The latest leader epoch this replica knows.
    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch
    }

    /// Whether this replica leads.
    pub fn is_leader(&self) -> bool {
        matches!(self.role, Role::Leader(_))
    }

    /// The ISR, if leader.
    pub fn isr(&self) -> Option<&[BrokerId]> {
        match &self.role {
            Role::Leader(l) => Some(&l.isr),
            _ => None,
        }
    }

    /// The ISR change proposed to the controller and not yet answered, if leader.
    pub fn pending_isr_change(&self) -> Option<&[BrokerId]> {
        match &self.role {
            Role::Leader(l) => l.proposed_isr.as_deref(),
            _ => None,
        }
    }

    /// The leader this follower follows.
    pub fn leader(&self) -> Option<BrokerId> {
        match self.role {
            Role::Follower { leader, .. } => Some(leader),
            Role::Leader(_) => Some(self.broker),
            Role::Offline => None,
        }
    }

    /// The replica's settings.
    pub fn config(&self) -> &ReplicaConfig {
        &self.config
    }

    /// Changes settings (`min.insync.replicas`, truncation mode) at run time.
    pub fn set_config(&mut self, config: ReplicaConfig) {
        self.config = config;
    }

    /// Whole batches from `offset` up to `upper_bound`, at most about `max_bytes` (a consumer's
    /// fetch); empty when `offset` is outside the log.
    pub fn read_from(&self, offset: i64, max_bytes: usize, upper_bound: i64) -> Vec<u8> {
        self.log
            .read(offset, max_bytes, upper_bound)
            .unwrap_or_default()
    }

    /// Every batch from offset 0 up to `upper_bound` (views and checks).
    pub fn read_all(&self, upper_bound: i64) -> Vec<u8> {
        self.log
            .read(self.log.log_start_offset(), usize::MAX, upper_bound)
            .unwrap_or_default()
    }

    /// A crash of an unflushed machine: everything from `offset` on is gone. The replica goes
    /// offline until the controller tells it its role again.
    pub fn crash(&mut self, flushed_offset: i64, now_ms: u64) {
        // Offline first: nothing waits on the offsets the crash cuts.
        self.role = Role::Offline;
        self.applied = None;
        self.completed.clear();
        let _ = self.log.truncate_to(flushed_offset, now_ms);
        let leo = self.log.log_end_offset();
        self.high_watermark = self.high_watermark.min(leo);
        self.after_truncation();
    }

    /// Makes this replica the leader of `epoch` with `isr` and the other `replicas`.
    pub fn become_leader(
        &mut self,
        epoch: i32,
        isr: Vec<BrokerId>,
        replicas: &[BrokerId],
        now_ms: u64,
    ) {
        // Writes waiting in an earlier epoch of this leadership fail: the new epoch's leader
        // state counts followers afresh, and the client retries (an idempotent retry is then
        // a duplicate, answered once the HW passes it).
        self.fail_pending(ReplicaError::NotLeaderOrFollower);
        self.leader_epoch = epoch;
        let leo = self.log_end_offset();
        self.record_epoch_start(epoch, leo);
        let followers = replicas
            .iter()
            .filter(|r| **r != self.broker)
            .map(|r| {
                (
                    *r,
                    // Unknown until it fetches (Kafka's rule): an ISR member counts as caught
                    // up now, so it is not dropped at once, but its LEO holds the HW back until
                    // it reports one; a replica outside the ISR must fetch to join.
                    FollowerProgress {
                        leo: -1,
                        last_caught_up_ms: if isr.contains(r) { now_ms } else { 0 },
                        leader_leo_at_last_fetch: i64::MAX,
                        expansion_refused: false,
                        expansion_refused_at_ms: 0,
                    },
                )
            })
            .collect();
        self.role = Role::Leader(LeaderState {
            isr,
            followers,
            proposed_isr: None,
            proposed_at_ms: None,
            resend_isr: false,
            pending: Vec::new(),
        });
        self.advance_high_watermark();
    }

    /// Makes this replica a follower of `leader` in `epoch`. Returns where it starts.
    pub fn become_follower(&mut self, leader: BrokerId, epoch: i32) -> FollowerStart {
        self.fail_pending(ReplicaError::NotLeaderOrFollower);
        let last_epoch = self.epoch_starts.last().map(|(e, _)| *e);
        self.leader_epoch = epoch;
        match (self.config.truncation, last_epoch) {
            (TruncationMode::LeaderEpoch, Some(last)) => {
                self.role = Role::Follower {
                    leader,
                    awaiting_epoch_end: true,
                };
                FollowerStart::AskEpochEnd(last)
            }
            (TruncationMode::HighWatermark, _) => {
                // The legacy rule: drop everything above the HW this replica knows.
                let _ = self.log.truncate_to(self.high_watermark, 0);
                self.after_truncation();
                self.role = Role::Follower {
                    leader,
                    awaiting_epoch_end: false,
                };
                FollowerStart::Fetch(self.log_end_offset())
            }
            (TruncationMode::LeaderEpoch, None) => {
                self.role = Role::Follower {
                    leader,
                    awaiting_epoch_end: false,
                };
                FollowerStart::Fetch(self.log_end_offset())
            }
        }
    }

    /// Applies the controller's state of this partition to this replica (the one rule both
    /// the node and the simulator use): a state not newer than the one applied last — by
    /// partition epoch and leader epoch — is ignored; a broker not among the replicas, or a
    /// partition without a leader, serves nothing; the named leader leads in the state's
    /// leader epoch with its ISR; anyone else follows the named leader, truncating first as
    /// [`Replica::become_follower`] says. A newer state for a leader that keeps leading
    /// replaces its ISR (which also ends any ISR proposal the state answers or overtook).
    pub fn apply_metadata(&mut self, state: &PartitionState, now_ms: u64) -> RoleChange {
        if self.applied.is_some_and(|a| {
            a.partition_epoch >= state.partition_epoch && a.leader_epoch >= state.leader_epoch
        }) {
            return RoleChange::Stale;
        }
        let leader_changed = self
            .applied
            .is_none_or(|a| a.leader_epoch != state.leader_epoch || a.leader != state.leader);
        let applied = Applied {
            leader: state.leader,
            leader_epoch: state.leader_epoch,
            partition_epoch: state.partition_epoch,
        };
        let me = self.broker;
        let change = match state.leader.filter(|_| state.replicas.contains(&me)) {
            None => {
                self.go_offline();
                RoleChange::Offline
            }
            Some(leader) if leader == me => {
                if leader_changed || !self.is_leader() {
                    self.become_leader(
                        state.leader_epoch,
                        state.isr.clone(),
                        &state.replicas,
                        now_ms,
                    );
                    RoleChange::Leader
                } else {
                    let before = self.isr().map(<[BrokerId]>::to_vec).unwrap_or_default();
                    self.handle_isr_change_result(Some(state.isr.clone()));
                    if before == state.isr {
                        RoleChange::Unchanged
                    } else {
                        RoleChange::IsrChanged {
                            before,
                            after: state.isr.clone(),
                        }
                    }
                }
            }
            Some(leader) => {
                if leader_changed || self.leader() != Some(leader) || self.is_leader() {
                    RoleChange::Follower(self.become_follower(leader, state.leader_epoch))
                } else {
                    RoleChange::Unchanged
                }
            }
        };
        // Set last: going offline forgets what was applied.
        self.applied = Some(applied);
        debug_assert!(
            self.high_watermark <= self.log_end_offset(),
            "HW above the LEO"
        );
        change
    }

    /// The partition epoch of the metadata this replica applied last (-1: none): what an ISR
    /// proposal is made against, so the controller refuses it if its view has moved on.
    pub fn applied_partition_epoch(&self) -> i32 {
        self.applied.map_or(-1, |a| a.partition_epoch)
    }

    /// The replica stops serving (its broker was fenced or the partition went offline).
    pub fn go_offline(&mut self) {
        self.stop(ReplicaError::NotLeaderOrFollower);
    }

    /// Stops this replica because its topic was deleted (Kafka's
    /// `ReplicaManager.stopPartitions` with `deletePartition`): as [`Replica::go_offline`],
    /// but the acks=all writes it had waiting fail with UNKNOWN_TOPIC_OR_PARTITION, as
    /// Kafka's `DelayedProduce` answers them once the partition and its topic are gone.
    pub fn delete(&mut self) {
        self.stop(ReplicaError::UnknownTopicOrPartition);
    }

    /// Offline, failing the acks=all writes waiting with `error`; roles start over from the
    /// next metadata.
    fn stop(&mut self, error: ReplicaError) {
        self.fail_pending(error);
        self.role = Role::Offline;
        self.applied = None;
    }

    /// Fails every acks=all write this leader has waiting with `error`.
    fn fail_pending(&mut self, error: ReplicaError) {
        if let Role::Leader(state) = &mut self.role {
            for w in state.pending.drain(..) {
                self.completed.push(ProduceDone {
                    request: w.request,
                    result: Err(error.clone()),
                });
            }
        }
    }

    // ---- leader ----

    /// Appends a produced request's records (whole batches, one per partition as clients send
    /// them) as leader. `Ok(Some(offset))`: acknowledged now (acks 0/1, or all with the HW
    /// already past it); `Ok(None)`: waiting for the ISR (answer comes from
    /// [`Replica::poll_completed`] with `request`).
    ///
    /// Idempotence (KIP-98) is checked on the first batch's producer id, epoch and sequence:
    /// a retry of a batch in this log is answered with its original base offset and appends
    /// nothing — with acks=all only once the HW passes it, as Kafka does, since the original
    /// may not be on the ISR yet. Errors: NOT_LEADER_OR_FOLLOWER (not leading, or cut off from
    /// the controller), NOT_ENOUGH_REPLICAS (acks=all with an ISR below
    /// `min.insync.replicas`), OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_PRODUCER_EPOCH,
    /// INVALID_RECORD.
    pub fn handle_produce(
        &mut self,
        now_ms: u64,
        records: &mut [u8],
        acks: Acks,
        request: u64,
        timeout_ms: u64,
        codec: &dyn Codec,
    ) -> Result<Option<i64>, ReplicaError> {
        self.check_writable(now_ms, acks)?;
        batch::check_produce_records(records)
            .map_err(|e| ReplicaError::AppendRefused(e.kafka_error_code()))?;
        // The batches first (CRC, framing, records, the topic's rules), as Kafka's
        // `UnifiedLog.append` validates before it looks at producer state.
        let checked = self
            .log
            .check_append(records, codec, now_ms)
            .map_err(ReplicaError::from_log)?;
        let header = BatchHeader::decode(records)
            .map_err(|e| ReplicaError::AppendRefused(e.kafka_error_code()))?;
        if batch::headers(records).any(|h| h.is_control()) {
            // Only a transaction coordinator writes markers (Kafka's `AppendOrigin.CLIENT`:
            // "Client produced a control record").
            return Err(ReplicaError::AppendRefused(error_code::INVALID_RECORD));
        }
        if !header.is_transactional() && self.txns.is_ongoing(header.producer_id) {
            // Kafka's `ProducerAppendInfo`: "Expected transactional write from producer".
            return Err(ReplicaError::AppendRefused(error_code::INVALID_TXN_STATE));
        }
        if let SequenceCheck::Duplicate { base_offset } = self.producers.check(&header)? {
            if acks != Acks::All {
                return Ok(Some(base_offset));
            }
            let next_offset = base_offset + i64::from(header.last_offset_delta) + 1;
            return self.await_committed(now_ms, request, base_offset, next_offset, timeout_ms);
        }
        let active_before = self.active_segment_base();
        let info = self
            .log
            .append_checked(records, checked, self.leader_epoch, codec, now_ms)
            .map_err(ReplicaError::from_log)?;
        self.producers
            .record_stored(&header, info.base_offset, info.max_timestamp);
        if header.is_transactional() && header.producer_id >= 0 {
            self.txns.begin(header.producer_id, info.base_offset);
        }
        self.snapshot_if_rolled(active_before);
        self.advance_high_watermark();
        self.await_appended(now_ms, request, &info, acks, timeout_ms)
    }

    /// Whether this replica may take a write now: NOT_LEADER_OR_FOLLOWER unless it leads (and
    /// is not [stuck](Replica::is_stuck) on an ISR change the controller never answered),
    /// NOT_ENOUGH_REPLICAS for an acks=all write while the
    /// ISR is below `min.insync.replicas` (Kafka's `Partition.appendRecordsToLeader`).
    fn check_writable(&self, now_ms: u64, acks: Acks) -> Result<(), ReplicaError> {
        if self.is_stuck(now_ms) {
            return Err(ReplicaError::NotLeaderOrFollower);
        }
        let Role::Leader(state) = &self.role else {
            return Err(ReplicaError::NotLeaderOrFollower);
        };
        if acks == Acks::All && state.isr.len() < self.config.min_insync_replicas {
            return Err(ReplicaError::NotEnoughReplicas);
        }
        Ok(())
    }

    /// Writes the marker ending producer `producer_id`'s transaction (Kafka's WriteTxnMarkers
    /// on the partition's leader), with acks=all: `Ok(Some(offset))` once the ISR has it,
    /// `Ok(None)` later through [`Replica::poll_completed`] with `request`. Errors:
    /// NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS, INVALID_PRODUCER_EPOCH (a marker from an
    /// epoch older than one written here), the store's.
    #[allow(clippy::too_many_arguments)]
    pub fn handle_marker(
        &mut self,
        now_ms: u64,
        producer_id: i64,
        producer_epoch: i16,
        coordinator_epoch: i32,
        control: ControlType,
        request: u64,
        timeout_ms: u64,
        codec: &dyn Codec,
    ) -> Result<Option<i64>, ReplicaError> {
        self.check_writable(now_ms, Acks::All)?;
        if self
            .producers
            .epoch(producer_id)
            .is_some_and(|e| e > producer_epoch)
        {
            return Err(ReplicaError::InvalidProducerEpoch);
        }
        let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
        let mut marker = crate::txn::control_batch(
            producer_id,
            producer_epoch,
            coordinator_epoch,
            control,
            now,
            codec,
        )
        .map_err(|e| ReplicaError::AppendRefused(e.kafka_error_code()))?;
        let active_before = self.active_segment_base();
        let info = self
            .log
            .append(&mut marker, self.leader_epoch, codec, now_ms)
            .map_err(ReplicaError::from_log)?;
        self.producers
            .record_marker(producer_id, producer_epoch, info.base_offset, now);
        self.txns.end(producer_id, info.base_offset, control);
        self.snapshot_if_rolled(active_before);
        self.advance_high_watermark();
        self.await_appended(now_ms, request, &info, Acks::All, timeout_ms)
    }

    /// After a leader's append at `info`: acknowledged now (acks 0/1, or the HW already past
    /// it), or a pending acks=all write answered through [`Replica::poll_completed`].
    fn await_appended(
        &mut self,
        now_ms: u64,
        request: u64,
        info: &crate::log::AppendInfo,
        acks: Acks,
        timeout_ms: u64,
    ) -> Result<Option<i64>, ReplicaError> {
        if acks != Acks::All || self.high_watermark > info.last_offset {
            return Ok(Some(info.base_offset));
        }
        if let Role::Leader(state) = &mut self.role {
            state.pending.push(PendingWrite {
                request,
                base_offset: info.base_offset,
                next_offset: info.last_offset + 1,
                deadline_ms: now_ms + timeout_ms,
            });
        }
        Ok(None)
    }

    /// An acks=all retry of a batch already in the log at `base_offset..next_offset` (an
    /// idempotent producer's duplicate): answered like the original, once the HW passes it.
    /// `Ok(Some(base))` now, `Ok(None)` later through [`Replica::poll_completed`] with `request`.
    pub fn await_committed(
        &mut self,
        now_ms: u64,
        request: u64,
        base_offset: i64,
        next_offset: i64,
        timeout_ms: u64,
    ) -> Result<Option<i64>, ReplicaError> {
        if self.is_stuck(now_ms) {
            return Err(ReplicaError::NotLeaderOrFollower);
        }
        let hw = self.high_watermark;
        let Role::Leader(state) = &mut self.role else {
            return Err(ReplicaError::NotLeaderOrFollower);
        };
        if hw >= next_offset {
            return Ok(Some(base_offset));
        }
        state.pending.push(PendingWrite {
            request,
            base_offset,
            next_offset,
            deadline_ms: now_ms + timeout_ms,
        });
        Ok(None)
    }

    /// Answers a follower's fetch from `fetch_offset` (its LEO), counting it toward the HW and
    /// the follower's ISR membership: [`Replica::handle_fetch_ranges`] with the records read.
    /// Errors as there.
    pub fn handle_fetch(
        &mut self,
        now_ms: u64,
        follower: BrokerId,
        fetch_offset: i64,
        follower_epoch: i32,
        max_bytes: usize,
    ) -> Result<FetchAnswer, ReplicaError> {
        let read =
            self.handle_fetch_ranges(now_ms, follower, fetch_offset, follower_epoch, max_bytes)?;
        let records = self.log.read_bytes(&read.ranges).map_err(read_error)?;
        Ok(FetchAnswer {
            records,
            high_watermark: read.high_watermark,
            leader_epoch: read.leader_epoch,
            log_start_offset: read.log_start_offset,
        })
    }

    /// Counts a follower's fetch from `fetch_offset` (its LEO) toward the HW and the
    /// follower's ISR membership, and says where the whole batches from there are (up to
    /// `max_bytes`, the first whole, as [`Log::read`]). A follower of another leader epoch is
    /// refused (KIP-320): one that missed a leader change must first truncate, or it would
    /// keep records the current leader does not have beneath ones it does. Errors:
    /// NOT_LEADER_OR_FOLLOWER, UNKNOWN_LEADER_EPOCH (newer), FENCED_LEADER_EPOCH (older),
    /// OFFSET_OUT_OF_RANGE (outside `log_start..=LEO`), KAFKA_STORAGE_ERROR (the log could not be
    /// read: a follower told the offset is out of range would truncate or reset).
    pub fn handle_fetch_ranges(
        &mut self,
        now_ms: u64,
        follower: BrokerId,
        fetch_offset: i64,
        follower_epoch: i32,
        max_bytes: usize,
    ) -> Result<ReplicaRead, ReplicaError> {
        let leo = self.log_end_offset();
        let Role::Leader(state) = &mut self.role else {
            return Err(ReplicaError::NotLeaderOrFollower);
        };
        check_current_leader_epoch(self.leader_epoch, follower_epoch)?;
        // Only this partition's replicas fetch as followers (Kafka's
        // `Partition.followerReplicaOrThrow`): another id counts toward nothing.
        let Some(progress) = state.followers.get_mut(&follower) else {
            return Err(ReplicaError::NotLeaderOrFollower);
        };
        if fetch_offset > leo || fetch_offset < self.log.log_start_offset() {
            return Err(ReplicaError::OffsetOutOfRange);
        }
        progress.leo = fetch_offset;
        // Kafka's rule: a follower that fetched everything the leader had at its previous
        // fetch is caught up. (Requiring the current LEO would eject a follower that is merely
        // one round trip behind a busy leader.)
        if fetch_offset >= progress.leader_leo_at_last_fetch || fetch_offset >= leo {
            progress.last_caught_up_ms = now_ms;
        }
        if now_ms.saturating_sub(progress.expansion_refused_at_ms) >= EXPANSION_REFUSED_BACKOFF_MS {
            progress.expansion_refused = false;
        }
        progress.leader_leo_at_last_fetch = leo;
        self.advance_high_watermark();
        let ranges = self
            .log
            .read_ranges(fetch_offset, max_bytes, leo)
            .map_err(read_error)?;
        Ok(ReplicaRead {
            ranges,
            high_watermark: self.high_watermark,
            leader_epoch: self.leader_epoch,
            log_start_offset: self.log.log_start_offset(),
        })
    }

    /// A consumer's fetch from `fetch_offset` (Kafka's `ReplicaManager.readFromLocalLog` for a
    /// consumer): only the leader answers, and only a reader of its leader epoch (KIP-320,
    /// [`Replica::check_current_leader_epoch`]; -1 is not checked). It reads whole batches below
    /// the high watermark, or under `read_committed` below the last stable offset (Kafka's
    /// `FetchIsolation.HIGH_WATERMARK` and `TXN_COMMITTED`), and lists the aborted transactions
    /// among the records read.
    ///
    /// `max_bytes` bounds the read; the first batch comes whole past it when
    /// `min_one_message` (KIP-74: the first partition of a response with records), else the
    /// read is empty when it does not fit (a later partition; its batch comes in the next
    /// fetch). An offset between the high watermark and the log end reads nothing, as in
    /// Kafka. Errors: NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH,
    /// OFFSET_OUT_OF_RANGE (outside `log_start..=LEO`), KAFKA_STORAGE_ERROR (the log's store
    /// failed).
    pub fn handle_consumer_fetch(
        &self,
        fetch_offset: i64,
        current_leader_epoch: i32,
        read_committed: bool,
        max_bytes: usize,
        min_one_message: bool,
    ) -> Result<ConsumerRead, ReplicaError> {
        if !self.is_leader() {
            return Err(ReplicaError::NotLeaderOrFollower);
        }
        check_current_leader_epoch(self.leader_epoch, current_leader_epoch)?;
        let last_stable_offset = self.last_stable_offset();
        let upper_bound = if read_committed {
            last_stable_offset
        } else {
            self.high_watermark
        };
        let mut ranges = if max_bytes == 0 && !min_one_message {
            // No room left in the response: no header is read.
            self.log.check_range(fetch_offset).map_err(read_error)?;
            Vec::new()
        } else {
            self.log
                .read_ranges(fetch_offset, max_bytes.max(1), upper_bound)
                .map_err(read_error)?
        };
        if !min_one_message && ranges.iter().map(|r| r.len).sum::<usize>() > max_bytes {
            ranges.clear();
        }
        // Up to the end of what was read (Kafka bounds the list by the fetched records' upper
        // offset): an aborted transaction starting later is listed by the fetch that reads it.
        let aborted = match ranges.last() {
            Some(last) if read_committed => self.aborted_txns(fetch_offset, last.last_offset + 1),
            _ => Vec::new(),
        };
        Ok(ConsumerRead {
            ranges,
            high_watermark: self.high_watermark,
            last_stable_offset,
            log_start_offset: self.log.log_start_offset(),
            aborted,
        })
    }

    /// OffsetsForLeaderEpoch on the leader: the largest epoch at or below `epoch` in this log
    /// and where it ends — the start of the next epoch, or the LEO (KIP-101, KIP-279). An epoch
    /// older than all of them answers (-1, the first epoch's start).
    ///
    /// `current_leader_epoch` is the asker's idea of the current leader epoch (-1: unknown,
    /// no check). KIP-320: a leader of another epoch must not answer — a deposed leader that
    /// resumes after a pause would tell a follower of the new leader where *its* epoch ends,
    /// and the follower would keep records the new leader does not have. Errors:
    /// NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH (the asker's epoch is older),
    /// UNKNOWN_LEADER_EPOCH (newer: this leader has not heard of it yet).
    pub fn handle_epoch_end_request(
        &self,
        epoch: i32,
        current_leader_epoch: i32,
    ) -> Result<(i32, i64), ReplicaError> {
        if !self.is_leader() {
            return Err(ReplicaError::NotLeaderOrFollower);
        }
        check_current_leader_epoch(self.leader_epoch, current_leader_epoch)?;
        Ok(epoch_end(&self.epoch_starts, epoch, self.log_end_offset()))
    }

    /// KIP-320's check of a reader's idea of the current leader epoch against this
    /// replica's (Kafka's `Partition.checkCurrentLeaderEpoch`), for consumers' Fetch (v9+)
    /// and ListOffsets (v4+) as for followers: -1 (none sent) is not checked; an older epoch
    /// is FENCED_LEADER_EPOCH (the reader missed a leader change: it refreshes its metadata,
    /// and a consumer checks its position for truncation), a newer one UNKNOWN_LEADER_EPOCH
    /// (this replica has not applied the change yet; the reader retries).
    pub fn check_current_leader_epoch(
        &self,
        current_leader_epoch: i32,
    ) -> Result<(), ReplicaError> {
        check_current_leader_epoch(self.leader_epoch, current_leader_epoch)
    }

    /// The leader epoch the record at `offset` was written in (the last epoch starting at or
    /// before it), or the latest epoch for the log end; -1 when no epoch is known. ListOffsets
    /// answers it with each offset (KIP-320), as Kafka's `LeaderEpochFileCache.epochForOffset`.
    pub fn epoch_for_offset(&self, offset: i64) -> i32 {
        self.epoch_starts
            .iter()
            .take_while(|(_, start)| *start <= offset)
            .last()
            .map_or(-1, |(epoch, _)| *epoch)
    }

    /// Where `epoch` ends in this replica's log, leader or not: (the largest epoch at or below
    /// it, its end offset), as [`Replica::handle_epoch_end_request`] answers.
    pub fn epoch_end_offset(&self, epoch: i32) -> (i32, i64) {
        epoch_end(&self.epoch_starts, epoch, self.log_end_offset())
    }

    /// The ISR change this leader wants the controller to make, if any (call after inputs
    /// and ticks). Shrinks drop followers that have not caught up for `lag_time_max_ms`;
    /// expands add followers that reached the HW.
    pub fn poll_isr_change(&mut self, now_ms: u64) -> Option<Vec<BrokerId>> {
        let high_watermark = self.high_watermark;
        let lag = self.config.lag_time_max_ms;
        let broker = self.broker;
        let Role::Leader(state) = &mut self.role else {
            return None;
        };
        if let Some(proposed) = &state.proposed_isr {
            // One proposal at a time; an unanswered one goes again unchanged (Kafka's
            // AlterPartition retries the same request): its additions may already be in the
            // controller's ISR, so they keep counting toward the HW until it answers.
            if core::mem::take(&mut state.resend_isr) {
                return Some(proposed.clone());
            }
            return None;
        }
        // Members that stay (caught up within `lag`) and followers that join (caught up to the
        // HW, not refused lately). The common case, no change, is found without building a
        // list: this runs after every follower fetch of every partition.
        let wanted = {
            let in_sync = |f: &FollowerProgress| now_ms.saturating_sub(f.last_caught_up_ms) <= lag;
            let stays = |r: &BrokerId| *r == broker || state.followers.get(r).is_some_and(in_sync);
            let joins = |(id, f): (&BrokerId, &FollowerProgress)| {
                !state.isr.contains(id)
                    && !f.expansion_refused
                    && f.leo >= high_watermark
                    && in_sync(f)
            };
            let unchanged = state.isr.iter().all(stays) && !state.followers.iter().any(joins);
            (!unchanged).then(|| {
                let mut isr: Vec<BrokerId> = state.isr.iter().copied().filter(stays).collect();
                isr.extend(
                    state
                        .followers
                        .iter()
                        .filter(|e| joins(*e))
                        .map(|(id, _)| *id),
                );
                isr
            })
        };
        let Some(mut isr) = wanted else {
            state.proposed_at_ms = None;
            return None;
        };
        isr.sort_unstable();
        let mut current = state.isr.clone();
        current.sort_unstable();
        if isr == current {
            // Nothing wanted any more (an unanswered proposal's reason went away): nothing
            // to wait on the controller for, so the leader is not stuck.
            state.proposed_at_ms = None;
            return None;
        }
        state.proposed_isr = Some(isr.clone());
        // A re-sent proposal keeps the time of the first: that is how long the leader has not
        // heard from the controller.
        state.proposed_at_ms.get_or_insert(now_ms);
        Some(isr)
    }

    /// The controller's answer to a proposed ISR: the ISR now in force (accepted or not).
    /// `None` means refused: the old ISR stays, and the next tick may propose again.
    pub fn handle_isr_change_result(&mut self, isr: Option<Vec<BrokerId>>) {
        if let Role::Leader(state) = &mut self.role {
            if isr.is_none() {
                refuse_expansion(state);
            }
            state.proposed_isr = None;
            state.resend_isr = false;
            state.proposed_at_ms = None;
            if let Some(isr) = isr {
                state.isr = isr;
            }
        }
        self.advance_high_watermark();
    }

    /// A proposal the controller has not answered in time (the driver's timeout): the next
    /// [`Replica::poll_isr_change`] sends the same one again; how long it has waited is kept.
    ///
    /// It is never forgotten nor replaced before an answer: the controller may have accepted
    /// it, and a leader that dropped a pending expansion would stop counting the added
    /// follower toward the HW while the controller counts it in the ISR — and may elect it
    /// without the records acknowledged meanwhile. (Found by the long sweep, seed 1040113: a
    /// leader cut off from the controller replaced its unanswered expansion by a shrink and
    /// acknowledged 4 records the next leader, in the controller's ISR, never had.)
    pub fn abandon_isr_change(&mut self) {
        if let Role::Leader(state) = &mut self.role
            && state.proposed_isr.is_some()
        {
            state.resend_isr = true;
        }
    }

    /// Whether this leader has waited longer than `isr_update_timeout_ms` for the controller
    /// to answer an ISR change. Such a leader refuses writes: it can no longer tell whether it
    /// still leads (the articles' scenarios 4 and 6).
    pub fn is_stuck(&self, now_ms: u64) -> bool {
        match &self.role {
            Role::Leader(state) => state
                .proposed_at_ms
                .is_some_and(|at| now_ms.saturating_sub(at) >= self.config.isr_update_timeout_ms),
            _ => false,
        }
    }

    /// Time passes: acks=all writes past their deadline fail with REQUEST_TIMED_OUT.
    pub fn handle_tick(&mut self, now_ms: u64) {
        if let Role::Leader(state) = &mut self.role {
            let (expired, waiting): (Vec<_>, Vec<_>) = state
                .pending
                .drain(..)
                .partition(|w| w.deadline_ms <= now_ms);
            state.pending = waiting;
            for w in expired {
                self.completed.push(ProduceDone {
                    request: w.request,
                    result: Err(ReplicaError::RequestTimedOut),
                });
            }
        }
    }

    /// When this leader must next be ticked ([`Replica::handle_tick`], then
    /// [`Replica::poll_isr_change`]): the earliest of an acks=all write's deadline and the
    /// moment an ISR follower has gone `replica.lag.time.max.ms` without catching up (unless
    /// an ISR proposal is already out). `None` for a follower, or a leader with nothing due.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        let Role::Leader(state) = &self.role else {
            return None;
        };
        let writes = state.pending.iter().map(|w| w.deadline_ms);
        // While a proposal is out, the next one waits for its answer (or its resend).
        let lagging = state
            .isr
            .iter()
            .filter(|_| state.proposed_isr.is_none())
            .filter_map(|r| state.followers.get(r))
            .map(|f| {
                f.last_caught_up_ms
                    .saturating_add(self.config.lag_time_max_ms + 1)
            });
        writes.chain(lagging).min()
    }

    /// Produce requests answered since the last call.
    #[must_use]
    pub fn poll_completed(&mut self) -> Vec<ProduceDone> {
        core::mem::take(&mut self.completed)
    }

    fn advance_high_watermark(&mut self) {
        let leo = self.log_end_offset();
        let Role::Leader(state) = &mut self.role else {
            return;
        };
        // Kafka's "maximal ISR" (KIP-497): replicas being added count at once, and replicas
        // being removed count until the controller agrees. Otherwise the HW could pass a
        // replica the controller already considers in sync — and may elect.
        // Called for every follower fetch of every partition: nothing here allocates unless a
        // write completes.
        let min_isr_leo = state
            .isr
            .iter()
            .chain(state.proposed_isr.iter().flatten())
            .map(|r| {
                if *r == self.broker {
                    leo
                } else {
                    state.followers.get(r).map_or(0, |f| f.leo)
                }
            })
            .min()
            .unwrap_or(leo);
        // The HW never moves back on the leader (a shrunk ISR can only raise the minimum).
        if min_isr_leo > self.high_watermark {
            self.high_watermark = min_isr_leo;
        }
        debug_assert!(
            self.high_watermark <= leo,
            "broker {}: a leader's HW {} above its LEO {leo}",
            self.broker,
            self.high_watermark
        );
        let hw = self.high_watermark;
        if !state.pending.iter().any(|w| hw >= w.next_offset) {
            return;
        }
        // Kafka checks min.insync.replicas again when a write completes: the HW may have
        // passed it only because the ISR shrank.
        let enough = state.isr.len() >= self.config.min_insync_replicas;
        let (done, waiting): (Vec<_>, Vec<_>) =
            state.pending.drain(..).partition(|w| hw >= w.next_offset);
        state.pending = waiting;
        for w in done {
            let result = if enough {
                Ok(w.base_offset)
            } else {
                Err(ReplicaError::NotEnoughReplicasAfterAppend)
            };
            self.completed.push(ProduceDone {
                request: w.request,
                result,
            });
        }
    }

    fn record_epoch_start(&mut self, epoch: i32, start: i64) {
        if self.epoch_starts.last().is_none_or(|(e, _)| *e < epoch) {
            self.epoch_starts.push((epoch, start));
        }
    }

    /// The state a restart would otherwise rebuild from the log's headers, at the log end.
    pub fn state(&self) -> ReplicaState {
        ReplicaState {
            offset: self.log_end_offset(),
            epoch_starts: self.epoch_starts.clone(),
            producers: self.producers.clone(),
            txns: self.txns.clone(),
        }
    }

    /// Stores a snapshot of [`Replica::state`] at the log end, keeping the one before it (a
    /// truncation below the newest can still use it) and deleting older ones (Kafka takes
    /// one at every segment roll and at a clean shutdown, `ProducerStateManager.takeSnapshot`).
    ///
    /// # Errors
    /// The store's, when it cannot write the snapshot: nothing is lost but restart time.
    pub fn take_snapshot(&mut self) -> Result<(), LogError<S::Error>> {
        let state = self.state();
        let store = self.log.store_mut();
        store
            .write_snapshot(state.offset, &state.encode())
            .map_err(LogError::Store)?;
        let offsets = store.snapshots().map_err(LogError::Store)?;
        let keep_from = offsets.len().saturating_sub(2);
        for &old in &offsets[..keep_from] {
            store.delete_snapshot(old).map_err(LogError::Store)?;
        }
        Ok(())
    }

    /// The active segment's base offset (compared around an append to see a roll).
    fn active_segment_base(&self) -> i64 {
        self.log.segments().last().map_or(0, |s| s.base_offset)
    }

    /// After an append: takes a snapshot if the log rolled a new segment during it.
    fn snapshot_if_rolled(&mut self, active_before: i64) {
        if self.active_segment_base() != active_before {
            // A failed snapshot costs only restart time: the write itself stands.
            let _ = self.take_snapshot();
        }
    }

    /// After the log was cut at its new LEO: drops the epoch entries that start at or beyond
    /// it, the idempotent producers' batches and the snapshots that were cut.
    fn after_truncation(&mut self) {
        self.truncations += 1;
        let leo = self.log_end_offset();
        delete_snapshots_after(&mut self.log, leo);
        self.producers.truncate_to(leo);
        self.txns.truncate_to(leo);
        while self.epoch_starts.len() > 1
            && self.epoch_starts.last().is_some_and(|(_, s)| *s >= leo)
        {
            self.epoch_starts.pop();
        }
        if leo == 0 {
            self.epoch_starts.clear();
        }
        self.check_invariants();
    }

    // ---- follower ----

    /// While a follower waits for its epoch's end offset: the leader to ask and the epoch.
    pub fn pending_epoch_request(&self) -> Option<(BrokerId, i32)> {
        match self.role {
            Role::Follower {
                leader,
                awaiting_epoch_end: true,
            } => self.epoch_starts.last().map(|(e, _)| (leader, *e)),
            _ => None,
        }
    }

    /// Where the next fetch starts, or `None` while waiting for the epoch end (or not a
    /// follower).
    pub fn fetch_offset(&self) -> Option<(BrokerId, i64)> {
        match self.role {
            Role::Follower {
                leader,
                awaiting_epoch_end: false,
            } => Some((leader, self.log_end_offset())),
            _ => None,
        }
    }

    /// The leader's answer to [`FollowerStart::AskEpochEnd`]: truncate to where the
    /// follower's last epoch ends on the leader (KIP-101); everything below is shared.
    ///
    /// `epoch` is the leader's largest epoch at or below the one asked about: when it is older
    /// than the follower's, the follower's own records of the epochs in between are not the
    /// leader's, so the cut is at the follower's own end of `epoch` if that comes first
    /// (KIP-279).
    ///
    /// `leader_epoch` is the leader epoch the request was sent in: an answer to a request of
    /// another epoch (a late one, from a leader this follower no longer follows) is ignored.
    pub fn handle_epoch_end(&mut self, leader_epoch: i32, epoch: i32, end_offset: i64) {
        if leader_epoch != self.leader_epoch {
            return;
        }
        let (own_epoch, own_end) = epoch_end(&self.epoch_starts, epoch, self.log_end_offset());
        // A duplicate answer (the request was re-sent) finds the truncation done: ignore it.
        if let Role::Follower {
            awaiting_epoch_end: awaiting_epoch_end @ true,
            ..
        } = &mut self.role
        {
            // The follower has no record of the leader's `epoch` (its largest below it is
            // older): what it holds of `own_epoch` may still differ from the leader's, so it
            // cuts to its own end of that epoch and asks again for its latest epoch now
            // (Kafka's `AbstractFetcherThread.getOffsetTruncationState`,
            // `truncationCompleted = false`). Found by the simulator: a follower that kept
            // epoch-0 records the leader had replaced in epoch 1 fetched mid-batch for ever.
            *awaiting_epoch_end = own_epoch != epoch && own_epoch >= 0;
            let target = end_offset.min(own_end).min(self.log.log_end_offset());
            let _ = self.log.truncate_to(target, 0);
            self.high_watermark = self.high_watermark.min(self.log_end_offset());
            self.after_truncation();
        }
    }

    /// The leader answered OFFSET_OUT_OF_RANGE: this follower's log is longer than the
    /// leader's (it lost a truncation race): truncate to the leader's log end; or it ends
    /// before the leader's log starts (retention deleted what it missed): start over empty
    /// at the leader's log start, as Kafka's follower does. Then fetch again.
    ///
    /// Only a fetching follower acts on it: an answer that arrives after this replica became
    /// leader (or started following someone else) is about a log it no longer copies, and a
    /// leader that truncated to its old leader's end would throw away records it has since
    /// acknowledged. (Found by the long sweep, seed 1031557: a late answer from a slow old
    /// leader cut 14 acknowledged records from the new one.) The driver must also drop answers
    /// to fetches of an earlier follower role.
    pub fn handle_out_of_range(
        &mut self,
        leader_log_start_offset: i64,
        leader_log_end_offset: i64,
    ) {
        if !matches!(
            self.role,
            Role::Follower {
                awaiting_epoch_end: false,
                ..
            }
        ) {
            return;
        }
        if self.log_end_offset() < leader_log_start_offset {
            let _ = self
                .log
                .truncate_fully_and_start_at(leader_log_start_offset, 0);
            self.high_watermark = self.high_watermark.max(leader_log_start_offset);
            self.cleaned_below = self.cleaned_below.max(leader_log_start_offset);
            self.after_truncation();
        } else if self.log_end_offset() > leader_log_end_offset {
            let _ = self.log.truncate_to(leader_log_end_offset, 0);
            self.high_watermark = self.high_watermark.min(self.log_end_offset());
            self.after_truncation();
        }
    }

    /// Copies a fetch answer into the follower's log at `now_ms` (segments roll by time) and
    /// learns the HW.
    pub fn handle_fetch_answer<R: AsRef<[u8]>>(
        &mut self,
        answer: &FetchAnswer<R>,
        codec: &dyn Codec,
        now_ms: u64,
    ) -> Result<(), ReplicaError> {
        if !matches!(
            self.role,
            Role::Follower {
                awaiting_epoch_end: false,
                ..
            }
        ) {
            return Err(ReplicaError::NotLeaderOrFollower);
        }
        if answer.leader_epoch != self.leader_epoch {
            // An answer from a leader of another epoch (a late one from a deposed leader)
            // describes a log this follower no longer copies (KIP-320's rule, on this side).
            return Err(ReplicaError::FencedLeaderEpoch);
        }
        let records = answer.records.as_ref();
        if !records.is_empty() {
            let log_end_before = self.log_end_offset();
            let active_before = self.active_segment_base();
            // A full disk refuses the whole copy and changes nothing (KAFKA_STORAGE_ERROR);
            // anything else the leader sent is not a log this follower can take. The log checks
            // each batch's framing and CRC.
            self.log
                .append_replicated(records, now_ms)
                .map_err(|e| match e {
                    LogError::Store(_) => ReplicaError::from_log(e),
                    _ => ReplicaError::InvalidRecord,
                })?;
            // Then a pass over the headers of the batches copied: their leader epochs (KIP-101
            // needs the boundaries here too), their producers (so that a retry reaching this
            // replica once it leads is still a duplicate) and each marker's type.
            for (h, control) in batch_headers(records, codec) {
                if h.base_offset >= log_end_before {
                    self.record_epoch_start(h.partition_leader_epoch, h.base_offset);
                    self.txns.record_header(&h, control);
                }
                self.producers.record(&h, h.base_offset);
            }
            self.snapshot_if_rolled(active_before);
        }
        self.high_watermark = answer.high_watermark.min(self.log_end_offset());
        // Records the leader deleted (DeleteRecords, retention) go here too, or they would be
        // readable again once this replica leads (Kafka's follower: `processPartitionData` →
        // `maybeIncrementLogStartOffset`, never past its own HW).
        // The copy stands even if this fails (a full disk refusing the active segment's
        // roll): the next answer carries the log start again.
        let start = answer.log_start_offset.min(self.high_watermark);
        if start > self.log.log_start_offset()
            && self.log.delete_records_before(start, now_ms).is_ok()
        {
            self.cleaned_below = self.cleaned_below.max(start);
        }
        self.check_invariants();
        Ok(())
    }

    /// What must hold after every change, checked in debug builds (and so in every simulator
    /// sweep): the HW within the log, epochs rising and starting in order, a leader in its own
    /// ISR with no replica twice, and acks=all writes waiting only for offsets in the log.
    fn check_invariants(&self) {
        let leo = self.log_end_offset();
        debug_assert!(
            self.high_watermark <= leo,
            "broker {}: HW {} above the LEO {leo}",
            self.broker,
            self.high_watermark
        );
        debug_assert!(
            self.epoch_starts
                .windows(2)
                .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
            "broker {}: epoch starts out of order: {:?}",
            self.broker,
            self.epoch_starts
        );
        if let Role::Leader(state) = &self.role {
            debug_assert!(
                state.isr.contains(&self.broker),
                "broker {}: leads outside its ISR {:?}",
                self.broker,
                state.isr
            );
            debug_assert!(
                crate::controller::no_repeats(&state.isr),
                "broker {}: a replica twice in the ISR {:?}",
                self.broker,
                state.isr
            );
            debug_assert!(
                state.pending.iter().all(|w| w.next_offset <= leo),
                "broker {}: a write waits past the LEO {leo}",
                self.broker
            );
        }
    }
}

/// Marks the followers a refused ISR proposal tried to add: not proposed again until they
/// fetch again.
fn refuse_expansion(state: &mut LeaderState) {
    let at = state.proposed_at_ms.unwrap_or(0);
    for id in state.proposed_isr.iter().flatten() {
        if !state.isr.contains(id)
            && let Some(f) = state.followers.get_mut(id)
        {
            f.expansion_refused = true;
            f.expansion_refused_at_ms = at;
        }
    }
}

/// The largest epoch at or below `epoch` in `starts`, and its end: the next epoch's start, or
/// `log_end_offset` for the latest. (-1, first start) when every epoch is larger.
fn epoch_end(starts: &[(i32, i64)], epoch: i32, log_end_offset: i64) -> (i32, i64) {
    match starts.iter().rposition(|(e, _)| *e <= epoch) {
        None => (-1, starts.first().map_or(log_end_offset, |(_, s)| *s)),
        Some(i) => (
            starts[i].0,
            starts.get(i + 1).map_or(log_end_offset, |(_, s)| *s),
        ),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::batch::{BatchBuilder, NoCodec};

    /// One batch of `records` records with values "v" (shared with `broker`'s tests).
    pub(crate) fn batch(records: usize) -> Vec<u8> {
        let mut b = BatchBuilder::new(0);
        for i in 0..records {
            b.push(i as i64, None, Some(b"v"), Vec::new());
        }
        b.build(&NoCodec).expect("a batch")
    }

    #[test]
    fn a_recovered_log_gives_back_its_leader_epochs() {
        let mut log = Log::new(MemorySegmentStore::new(), LogConfig::default(), 0).expect("log");
        for (records, epoch) in [(2, 0), (1, 0), (3, 2), (1, 5)] {
            log.append(&mut batch(records), epoch, &NoCodec, 0)
                .expect("append");
        }
        let replica = Replica::with_log(1, ReplicaConfig::default(), log);
        assert_eq!(replica.leader_epoch(), 5);
        assert_eq!(replica.log_end_offset(), 7);
        assert_eq!(
            replica.epoch_end_offset(0),
            (0, 3),
            "epoch 0 ends where 2 starts"
        );
        assert_eq!(
            replica.epoch_end_offset(1),
            (0, 3),
            "no epoch 1: epoch 0's end"
        );
        assert_eq!(replica.epoch_end_offset(2), (2, 6));
        assert_eq!(
            replica.epoch_end_offset(9),
            (5, 7),
            "the last epoch ends at the LEO"
        );
        assert!(
            !replica.is_leader() && replica.leader().is_none(),
            "offline until told"
        );
    }

    fn state(leader: Option<BrokerId>, leader_epoch: i32, partition_epoch: i32) -> PartitionState {
        PartitionState {
            replicas: alloc::vec![0, 1, 2],
            leader,
            leader_epoch,
            isr: alloc::vec![0, 1, 2],
            partition_epoch,
        }
    }

    fn transactional_batch(producer_id: i64, sequence: i32, transactional: bool) -> Vec<u8> {
        let mut b = BatchBuilder::new(0)
            .producer(producer_id, 0, sequence)
            .transactional(transactional);
        b.push(0, None, Some(b"v"), Vec::new());
        b.build(&NoCodec).expect("a batch")
    }

    /// KIP-98 in one partition: markers only from a coordinator; a producer with a transaction
    /// open writes only transactionally (Kafka's `ProducerAppendInfo`: "Expected transactional
    /// write from producer"); the LSO holds at the open transaction, never below the log start
    /// (Kafka moves its first unstable offset up to the log start).
    #[test]
    fn a_partition_keeps_transactions_apart() {
        let mut replica = Replica::new(
            0,
            ReplicaConfig {
                min_insync_replicas: 1,
                ..ReplicaConfig::default()
            },
        );
        let single = PartitionState {
            replicas: alloc::vec![0],
            leader: Some(0),
            leader_epoch: 1,
            isr: alloc::vec![0],
            partition_epoch: 1,
        };
        assert_eq!(replica.apply_metadata(&single, 0), RoleChange::Leader);
        let produce = |r: &mut Replica, mut bytes: Vec<u8>| {
            r.handle_produce(0, &mut bytes, Acks::Leader, 1, 1_000, &NoCodec)
        };
        assert_eq!(produce(&mut replica, batch(2)), Ok(Some(0)));
        assert_eq!(
            produce(&mut replica, transactional_batch(9, 0, true)),
            Ok(Some(2))
        );
        assert_eq!(
            replica.last_stable_offset(),
            2,
            "held at the open transaction"
        );
        assert_eq!(
            produce(&mut replica, transactional_batch(9, 1, false)),
            Err(ReplicaError::AppendRefused(error_code::INVALID_TXN_STATE)),
            "a plain write of a producer whose transaction is open"
        );
        let marker = crate::txn::control_batch(9, 0, 0, ControlType::Commit, 0, &NoCodec);
        assert_eq!(
            produce(&mut replica, marker.expect("a marker")),
            Err(ReplicaError::AppendRefused(error_code::INVALID_RECORD)),
            "a client may not write a marker"
        );
        assert_eq!(replica.high_watermark(), 3);
        replica
            .log
            .delete_records_before(3, 0)
            .expect("delete up to the HW");
        assert_eq!(
            replica.last_stable_offset(),
            3,
            "not below the log start, though the transaction began at 2"
        );
        assert_eq!(
            replica.handle_marker(0, 9, 0, 0, ControlType::Commit, 2, 1_000, &NoCodec),
            Ok(Some(3))
        );
        assert_eq!(replica.last_stable_offset(), 4);
    }

    /// Kafka's `LogCleaner` on transactions (KIP-98; `CleanedTransactionMetadata`,
    /// `LogCleanerTest.testAbortMarkerRemoval`, `testCommitMarkerRemoval`,
    /// `testAbortedTransactionsDoNotShadowCommittedRecords` behaviour): an aborted
    /// transaction's records are dropped and shadow nothing; a committed transaction's records
    /// compact by key; a marker stays while its transaction has a batch left, then
    /// `delete.retention.ms` more, then goes; each producer's last batch stays (emptied if
    /// need be), so a replica rebuilt from the cleaned log knows the producer and no
    /// transaction is left open.
    #[test]
    fn compaction_drops_aborted_records_then_their_marker_and_keeps_committed_ones() {
        let config = LogConfig {
            segment_bytes: 1, // one batch per segment
            cleanup_policy: crate::log::CleanupPolicy {
                delete: false,
                compact: true,
            },
            delete_retention_ms: 100,
            ..LogConfig::default()
        };
        let replica_config = ReplicaConfig {
            min_insync_replicas: 1,
            ..ReplicaConfig::default()
        };
        let mut replica = Replica::with_log_config(0, replica_config, config);
        let single = PartitionState {
            replicas: alloc::vec![0],
            leader: Some(0),
            leader_epoch: 1,
            isr: alloc::vec![0],
            partition_epoch: 1,
        };
        assert_eq!(replica.apply_metadata(&single, 0), RoleChange::Leader);
        let keyed = |producer: Option<(i64, i32)>, records: &[(&'static str, &'static str)]| {
            let mut b = BatchBuilder::new(0);
            if let Some((id, sequence)) = producer {
                b = b.producer(id, 0, sequence).transactional(true);
            }
            for (key, value) in records {
                b.push(0, Some(key.as_bytes()), Some(value.as_bytes()), Vec::new());
            }
            b.build(&NoCodec).expect("a batch")
        };
        let produce = |r: &mut Replica, mut bytes: Vec<u8>| {
            r.handle_produce(0, &mut bytes, Acks::Leader, 1, 1_000, &NoCodec)
                .expect("written")
        };
        let marker = |r: &mut Replica, producer: i64, control| {
            r.handle_marker(0, producer, 0, 0, control, 1, 1_000, &NoCodec)
                .expect("written")
        };
        assert_eq!(produce(&mut replica, keyed(None, &[("a", "1")])), Some(0));
        assert_eq!(
            produce(&mut replica, keyed(Some((9, 0)), &[("a", "2"), ("b", "1")])),
            Some(1)
        );
        assert_eq!(marker(&mut replica, 9, ControlType::Commit), Some(3));
        assert_eq!(
            produce(&mut replica, keyed(Some((7, 0)), &[("a", "3")])),
            Some(4)
        );
        assert_eq!(marker(&mut replica, 7, ControlType::Abort), Some(5));
        assert_eq!(
            produce(&mut replica, keyed(Some((7, 1)), &[("d", "1")])),
            Some(6)
        );
        assert_eq!(marker(&mut replica, 7, ControlType::Commit), Some(7));
        assert_eq!(produce(&mut replica, keyed(None, &[("d", "2")])), Some(8));
        assert_eq!(produce(&mut replica, keyed(None, &[("e", "1")])), Some(9));
        assert_eq!(replica.last_stable_offset(), 10);

        // (offset, key, value) of the records left, the control batches' offsets, and the
        // base offsets of data batches left with no records.
        let contents = |r: &Replica| {
            let bytes = r.read_all(r.log_end_offset());
            let (mut records, mut markers, mut empty) = (Vec::new(), Vec::new(), Vec::new());
            let mut scratch = Vec::new();
            for batch in crate::batch::batches(&bytes) {
                let batch = batch.expect("a batch");
                if batch.header().is_control() {
                    markers.push(batch.header().base_offset);
                    continue;
                }
                if batch.header().record_count == 0 {
                    empty.push(batch.header().base_offset);
                }
                for record in batch.records(&NoCodec, &mut scratch).expect("records") {
                    let record = record.expect("a record");
                    let text = |b: Option<&[u8]>| {
                        alloc::string::String::from_utf8_lossy(b.unwrap_or_default()).into_owned()
                    };
                    records.push((record.offset, text(record.key), text(record.value)));
                }
            }
            (records, markers, empty)
        };
        let pass = CleanPass {
            retention: false,
            compaction: true,
            force: true,
        };
        let report = replica.clean(&NoCodec, 1_000, pass);
        assert_eq!(report.error, None);
        assert_eq!(report.compaction.aborted_records_removed, 1);
        let s = |v: &str| alloc::string::String::from(v);
        let survivors = alloc::vec![
            (1, s("a"), s("2")),
            (2, s("b"), s("1")),
            (8, s("d"), s("2")),
            (9, s("e"), s("1")),
        ];
        assert_eq!(
            contents(&replica),
            (survivors.clone(), alloc::vec![3, 5, 7], alloc::vec![6]),
            "a=1 is shadowed by the committed a=2, which the aborted a=3 does not shadow; \
             producer 7's last batch (d=1, shadowed by d=2) stays empty; markers stay while \
             their transaction's batches are there"
        );
        let report = replica.clean(&NoCodec, 1_001, pass);
        assert_eq!(report.compaction.markers_removed, 0);
        assert_eq!(
            contents(&replica).1,
            alloc::vec![3, 5, 7],
            "the abort marker's records are gone: it stays delete.retention.ms more"
        );
        let report = replica.clean(&NoCodec, 1_101, pass);
        assert_eq!(report.compaction.markers_removed, 1);
        assert_eq!(
            contents(&replica),
            (survivors, alloc::vec![3, 7], alloc::vec![6]),
            "the commit markers stay: their transactions' batches are there"
        );

        // A replica rebuilt from the cleaned log: nothing open, producer 7 still known.
        let log = core::mem::replace(
            &mut replica.log,
            Log::new(MemorySegmentStore::new(), LogConfig::default(), 0).expect("a log"),
        );
        let reopened = Replica::with_log(0, replica_config, log);
        assert_eq!(reopened.txns.first_unstable_offset(), None);
        assert!(reopened.producers.knows(7) && reopened.producers.knows(9));
    }

    /// Issue 19 (restart cost): a replica restarted over its log and a snapshot has the
    /// leader epochs, producers and transactions it had (Kafka's producer snapshots and
    /// `leader-epoch-checkpoint`), including an epoch it led without writing in it, which
    /// the headers alone do not show; one restarted from the snapshot of an earlier segment
    /// roll reads the batches after it and gets the same producers and transactions; a
    /// truncation deletes the snapshots past the new end; a damaged snapshot is not used.
    #[test]
    fn a_restart_from_a_snapshot_has_the_state_reading_every_header_gives() {
        let config = LogConfig {
            segment_bytes: 400,
            ..LogConfig::default()
        };
        let replica_config = ReplicaConfig {
            min_insync_replicas: 1,
            ..ReplicaConfig::default()
        };
        let mut replica = Replica::with_log_config(0, replica_config, config.clone());
        let lead = |r: &mut Replica, epoch| {
            let sole = PartitionState {
                replicas: alloc::vec![0],
                leader: Some(0),
                leader_epoch: epoch,
                isr: alloc::vec![0],
                partition_epoch: epoch,
            };
            assert_eq!(r.apply_metadata(&sole, 0), RoleChange::Leader);
        };
        let produce = |r: &mut Replica, mut bytes: Vec<u8>| {
            r.handle_produce(0, &mut bytes, Acks::Leader, 1, 1_000, &NoCodec)
                .expect("written")
        };
        let transactional = |producer: i64, sequence: i32| {
            let mut b = BatchBuilder::new(0)
                .producer(producer, 0, sequence)
                .transactional(true);
            b.push(0, None, Some(b"t"), Vec::new());
            b.build(&NoCodec).expect("a batch")
        };
        let marker = |r: &mut Replica, producer: i64, control| {
            r.handle_marker(0, producer, 0, 0, control, 1, 1_000, &NoCodec)
                .expect("written")
        };
        lead(&mut replica, 1);
        for sequence in 0..8 {
            produce(&mut replica, idempotent_batch(5, sequence));
            produce(&mut replica, idempotent_batch(6, sequence));
        }
        produce(&mut replica, transactional(9, 0));
        marker(&mut replica, 9, ControlType::Commit);
        lead(&mut replica, 2);
        produce(&mut replica, transactional(7, 0));
        marker(&mut replica, 7, ControlType::Abort);
        let rolled = replica.log.store().clone();
        for sequence in 8..12 {
            produce(&mut replica, idempotent_batch(5, sequence));
        }
        let open_from = replica.log_end_offset();
        produce(&mut replica, transactional(8, 0));
        lead(&mut replica, 3);
        assert!(replica.log.segments().len() > 4, "small segments roll");
        let taken = rolled.snapshots().expect("listed");
        assert_eq!(
            taken.len(),
            2,
            "the newest two snapshots are kept: {taken:?}"
        );

        let reopen = |store: MemorySegmentStore| {
            let (log, _) = Log::open(store, config.clone(), 0).expect("reopened");
            Replica::with_log(0, replica_config, log)
        };
        let mut bare = replica.log.store().clone();
        for offset in bare.snapshots().expect("listed") {
            bare.delete_snapshot(offset).expect("deleted");
        }
        let every_header = reopen(bare);
        assert_eq!(every_header.producers, replica.producers);
        assert_eq!(every_header.txns.first_unstable_offset(), Some(open_from));
        assert_eq!(every_header.epoch_starts, replica.epoch_starts[..2]);

        replica.take_snapshot().expect("taken");
        let restarted = reopen(replica.log.store().clone());
        assert_eq!(restarted.state(), replica.state());
        assert_eq!(
            restarted.leader_epoch, 3,
            "epoch 3 has no batch: only the snapshot knows it"
        );

        let from_roll = reopen(replica.log.store().clone()).log.store().snapshots();
        assert_eq!(
            from_roll.expect("listed").last(),
            Some(&replica.log_end_offset())
        );
        let mut older = replica.log.store().clone();
        older
            .delete_snapshot(replica.log_end_offset())
            .expect("deleted");
        let after_roll = reopen(older);
        assert_eq!(after_roll.producers, replica.producers);
        assert_eq!(after_roll.txns, every_header.txns);

        let mut damaged = replica.log.store().clone();
        let mut bytes = replica.state().encode();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        damaged
            .write_snapshot(replica.log_end_offset(), &bytes)
            .expect("written");
        for offset in taken {
            damaged.delete_snapshot(offset).expect("deleted");
        }
        let ignored = reopen(damaged);
        assert_eq!(ignored.state(), every_header.state());

        replica.crash(open_from, 0);
        let left = replica.log.store().snapshots().expect("listed");
        assert!(
            left.iter().all(|o| *o <= open_from),
            "snapshots past the cut are gone: {left:?}"
        );
    }

    fn idempotent_batch(producer_id: i64, sequence: i32) -> Vec<u8> {
        let mut b = BatchBuilder::new(0).producer(producer_id, 0, sequence);
        b.push(0, None, Some(b"v"), Vec::new());
        b.build(&NoCodec).expect("a batch")
    }

    /// KIP-107 (found by a review, issue 19): records deleted on the leader (DeleteRecords)
    /// are deleted on a follower too, up to the follower's HW, from the log start in each
    /// fetch answer (Kafka's `ReplicaFetcherThread.processPartitionData` →
    /// `maybeIncrementLogStartOffset`). Before, a follower kept them, and after a failover the
    /// new leader served them again.
    #[test]
    fn a_follower_deletes_what_the_leader_deleted_up_to_its_high_watermark() {
        let mut follower = Replica::new(1, ReplicaConfig::default());
        let _ = follower.become_follower(0, 3);
        let mut leader = Replica::new(0, ReplicaConfig::default());
        leader.become_leader(3, alloc::vec![0, 1], &[0, 1], 0);
        for _ in 0..4 {
            let _ = leader.handle_produce(0, &mut batch(5), Acks::Leader, 1, 1_000, &NoCodec);
        }
        let all = leader.read_all(20);
        let copy = |follower: &mut Replica<MemorySegmentStore>, leader: &mut Replica<_>| {
            let answer = leader
                .handle_fetch(1, 1, follower.log_end_offset(), 3, usize::MAX)
                .expect("a fetch");
            follower
                .handle_fetch_answer(&answer, &NoCodec, 1)
                .expect("copied");
        };
        copy(&mut follower, &mut leader);
        copy(&mut follower, &mut leader);
        assert_eq!(
            (follower.log_end_offset(), follower.high_watermark()),
            (20, 20)
        );
        leader
            .log_mut()
            .delete_records_before(15, 2)
            .expect("deleted");
        copy(&mut follower, &mut leader);
        assert_eq!(follower.log_start_offset(), 15);
        assert!(
            follower.log.read(10, usize::MAX, 20).is_err(),
            "gone below 15"
        );
        // Never past the follower's own HW.
        let mut behind = Replica::new(2, ReplicaConfig::default());
        let _ = behind.become_follower(0, 3);
        let answer = FetchAnswer {
            records: all,
            high_watermark: 12,
            leader_epoch: 3,
            log_start_offset: 15,
        };
        behind
            .handle_fetch_answer(&answer, &NoCodec, 3)
            .expect("copied");
        assert_eq!(behind.log_start_offset(), 12);
    }

    /// KIP-320 (Kafka's `Partition.checkCurrentLeaderEpoch`): a reader's current leader
    /// epoch is checked against the leader's, for consumers as for followers.
    #[test]
    fn a_readers_current_leader_epoch_is_checked_against_the_leaders() {
        let mut replica = Replica::new(0, ReplicaConfig::default());
        assert_eq!(
            replica.apply_metadata(&state(Some(0), 2, 2), 0),
            RoleChange::Leader
        );
        assert_eq!(replica.check_current_leader_epoch(-1), Ok(()), "none sent");
        assert_eq!(replica.check_current_leader_epoch(2), Ok(()));
        assert_eq!(
            replica.check_current_leader_epoch(1),
            Err(ReplicaError::FencedLeaderEpoch),
            "the reader missed a leader change"
        );
        assert_eq!(
            replica.check_current_leader_epoch(3),
            Err(ReplicaError::UnknownLeaderEpoch),
            "this replica has not applied the change yet"
        );
    }

    /// A consumer's read (Kafka's `ReplicaManager.readFromLocalLog` for a consumer): leader
    /// only, of its epoch (KIP-320); below the HW, or under read_committed below the last
    /// stable offset (`FetchIsolation`), with the aborted transactions among the records read
    /// (`collectAbortedTransactions`); KIP-74's first batch whole only when asked.
    #[test]
    fn a_consumer_reads_below_the_high_watermark_or_the_last_stable_offset() {
        let mut leader = Replica::new(0, ReplicaConfig::default());
        let pair = PartitionState {
            replicas: alloc::vec![0, 1],
            leader: Some(0),
            leader_epoch: 1,
            isr: alloc::vec![0, 1],
            partition_epoch: 1,
        };
        assert_eq!(leader.apply_metadata(&pair, 0), RoleChange::Leader);
        let produce = |r: &mut Replica, mut bytes: Vec<u8>| {
            r.handle_produce(0, &mut bytes, Acks::Leader, 1, 1_000, &NoCodec)
        };
        let read = |r: &Replica, offset: i64, committed: bool, max: usize, first: bool| {
            r.handle_consumer_fetch(offset, -1, committed, max, first)
                .map(|read| {
                    let last = read.ranges.last().map_or(-1, |r| r.last_offset);
                    let aborted: Vec<(i64, i64)> = read
                        .aborted
                        .iter()
                        .map(|t| (t.producer_id, t.first_offset))
                        .collect();
                    (last, read.high_watermark, read.last_stable_offset, aborted)
                })
        };
        assert_eq!(produce(&mut leader, batch(2)), Ok(Some(0)));
        assert_eq!(
            read(&leader, 0, false, 1 << 20, true),
            Ok((-1, 0, 0, Vec::new())),
            "above the HW nothing is served, though the log has it"
        );
        assert!(leader.handle_fetch(1, 1, 2, 1, 1 << 20).is_ok());
        assert_eq!(
            produce(&mut leader, transactional_batch(9, 0, true)),
            Ok(Some(2))
        );
        assert!(leader.handle_fetch(2, 1, 3, 1, 1 << 20).is_ok());
        assert_eq!(
            read(&leader, 0, false, 1 << 20, true),
            Ok((2, 3, 2, Vec::new()))
        );
        assert_eq!(
            read(&leader, 0, true, 1 << 20, true),
            Ok((1, 3, 2, Vec::new())),
            "read_committed stops at the open transaction"
        );
        assert_eq!(
            leader.handle_marker(3, 9, 0, 0, ControlType::Abort, 2, 1_000, &NoCodec),
            Ok(None),
            "the marker waits for the follower"
        );
        assert!(leader.handle_fetch(4, 1, 4, 1, 1 << 20).is_ok());
        assert_eq!(produce(&mut leader, batch(1)), Ok(Some(4)));
        assert!(leader.handle_fetch(5, 1, 5, 1, 1 << 20).is_ok());
        assert_eq!(
            read(&leader, 0, true, 1 << 20, true),
            Ok((4, 5, 5, alloc::vec![(9, 2)])),
            "the aborted transaction is listed for the consumer to drop"
        );
        assert_eq!(
            read(&leader, 0, false, 1 << 20, true),
            Ok((4, 5, 5, Vec::new())),
            "read_uncommitted gets no list"
        );
        assert_eq!(
            read(&leader, 0, true, 1, true),
            Ok((1, 5, 5, Vec::new())),
            "the first batch whole past the limit; the list ends where the read does"
        );
        assert_eq!(
            read(&leader, 0, true, 1, false),
            Ok((-1, 5, 5, Vec::new())),
            "a later partition of the response: nothing that does not fit"
        );
        assert_eq!(
            read(&leader, 6, false, 1 << 20, true),
            Err(ReplicaError::OffsetOutOfRange)
        );
        assert_eq!(
            leader
                .handle_consumer_fetch(0, 0, false, 1 << 20, true)
                .map(|_| ()),
            Err(ReplicaError::FencedLeaderEpoch)
        );
        assert_eq!(
            leader
                .handle_consumer_fetch(0, 2, false, 1 << 20, true)
                .map(|_| ()),
            Err(ReplicaError::UnknownLeaderEpoch)
        );
        let mut follower = Replica::new(1, ReplicaConfig::default());
        assert!(matches!(
            follower.apply_metadata(&pair, 0),
            RoleChange::Follower(_)
        ));
        assert_eq!(
            read(&follower, 0, false, 1 << 20, true),
            Err(ReplicaError::NotLeaderOrFollower)
        );
    }

    /// KIP-279 (found by the simulator's long sweep, seed 1,019,865): a follower whose last
    /// epoch the leader never had truncates in rounds. Here it wrote offsets 0..5 in epoch 0
    /// and 5..7 in epoch 2; the leader kept only 0..2 of epoch 0 and wrote 2..8 in epoch 1.
    /// Asked about epoch 2 the leader answers (1, 8): the follower has no epoch 1, cuts to its
    /// own end of epoch 0 (5) and asks again about epoch 0, answered (0, 2). One round left
    /// offsets 2..5 of epoch 0, which the leader holds as other records of epoch 1.
    #[test]
    fn a_follower_without_the_leaders_epoch_truncates_again_at_its_older_epoch() {
        let mut replica = Replica::new(0, ReplicaConfig::default());
        assert_eq!(
            replica.apply_metadata(&state(Some(0), 0, 0), 0),
            RoleChange::Leader
        );
        for _ in 0..5 {
            replica
                .handle_produce(0, &mut batch(1), Acks::Leader, 1, 1_000, &NoCodec)
                .expect("appended");
        }
        assert_eq!(
            replica.apply_metadata(&state(Some(0), 2, 2), 1),
            RoleChange::Leader
        );
        for _ in 0..2 {
            replica
                .handle_produce(1, &mut batch(1), Acks::Leader, 2, 1_000, &NoCodec)
                .expect("appended");
        }
        assert_eq!(replica.log_end_offset(), 7);
        assert_eq!(
            replica.apply_metadata(&state(Some(1), 3, 3), 2),
            RoleChange::Follower(FollowerStart::AskEpochEnd(2))
        );
        replica.handle_epoch_end(3, 1, 8);
        assert_eq!(replica.log_end_offset(), 5, "cut to its own end of epoch 0");
        assert_eq!(replica.pending_epoch_request(), Some((1, 0)), "asks again");
        assert_eq!(
            replica.fetch_offset(),
            None,
            "no fetch before the second answer"
        );
        replica.handle_epoch_end(3, 0, 2);
        assert_eq!(
            replica.log_end_offset(),
            2,
            "cut where epoch 0 ends on the leader"
        );
        assert_eq!(replica.pending_epoch_request(), None);
        assert_eq!(replica.fetch_offset(), Some((1, 2)));
        replica.handle_epoch_end(3, 0, 2); // a duplicate answer changes nothing
        assert_eq!(replica.log_end_offset(), 2);
    }

    #[test]
    fn a_retry_of_a_batch_truncated_away_is_written_again() {
        // Issue 14's paused leader: broker 0 leads epoch 1 and appends producer 7's batch at
        // offset 0; it pauses, broker 1 leads epoch 2 without it and takes producer 8's batch
        // at offset 0; broker 0 resumes as a follower and truncates (KIP-101), copies offset
        // 0, and later leads again. Producer 7's retry must be appended, not answered with
        // offset 0, which holds producer 8's record.
        let mut replica = Replica::new(0, ReplicaConfig::default());
        assert_eq!(
            replica.apply_metadata(&state(Some(0), 1, 1), 0),
            RoleChange::Leader
        );
        let first = replica.handle_produce(
            0,
            &mut idempotent_batch(7, 0),
            Acks::Leader,
            1,
            1_000,
            &NoCodec,
        );
        assert_eq!(first, Ok(Some(0)));
        assert_eq!(
            replica.apply_metadata(&state(Some(1), 2, 2), 10),
            RoleChange::Follower(FollowerStart::AskEpochEnd(1))
        );
        replica.handle_epoch_end(2, -1, 0); // the new leader has nothing of epoch 1
        assert_eq!(replica.log_end_offset(), 0, "truncated");
        let mut other = idempotent_batch(8, 0);
        let mut leader_log = Replica::new(1, ReplicaConfig::default());
        leader_log.become_leader(2, alloc::vec![1], &[1], 0);
        let _ = leader_log.handle_produce(0, &mut other, Acks::Leader, 1, 1_000, &NoCodec);
        let answer = FetchAnswer {
            records: leader_log.read_all(1),
            high_watermark: 1,
            leader_epoch: 2,
            log_start_offset: 0,
        };
        replica
            .handle_fetch_answer(&answer, &NoCodec, 20)
            .expect("copied");
        assert_eq!(
            replica.apply_metadata(&state(Some(0), 3, 3), 30),
            RoleChange::Leader
        );
        let retry = replica.handle_produce(
            30,
            &mut idempotent_batch(7, 0),
            Acks::Leader,
            2,
            1_000,
            &NoCodec,
        );
        assert_eq!(retry, Ok(Some(1)), "appended after producer 8's record");
        // And producer 8's retry, copied from the leader, is still a duplicate here.
        let again = replica.handle_produce(
            30,
            &mut idempotent_batch(8, 0),
            Acks::Leader,
            3,
            1_000,
            &NoCodec,
        );
        assert_eq!(again, Ok(Some(0)));
    }

    #[test]
    fn older_or_repeated_metadata_is_ignored() {
        let mut replica = Replica::new(0, ReplicaConfig::default());
        assert_eq!(
            replica.apply_metadata(&state(Some(0), 2, 5), 0),
            RoleChange::Leader
        );
        assert_eq!(
            replica.apply_metadata(&state(Some(0), 2, 5), 1),
            RoleChange::Stale
        );
        assert_eq!(
            replica.apply_metadata(&state(Some(1), 1, 4), 1),
            RoleChange::Stale
        );
        assert!(
            replica.is_leader(),
            "a late message does not demote the leader"
        );
        let mut shrunk = state(Some(0), 2, 6);
        shrunk.isr = alloc::vec![0, 1];
        assert_eq!(
            replica.apply_metadata(&shrunk, 2),
            RoleChange::IsrChanged {
                before: alloc::vec![0, 1, 2],
                after: alloc::vec![0, 1]
            }
        );
        let mut moved = state(Some(1), 3, 7);
        moved.replicas = alloc::vec![1, 2, 3];
        assert_eq!(
            replica.apply_metadata(&moved, 3),
            RoleChange::Offline,
            "no longer a replica"
        );
    }

    #[test]
    fn a_refused_isr_expansion_does_not_stop_the_leader() {
        // Found trying a cluster by hand: follower 2 dies while the partition is idle, so its
        // LEO is still the HW and it looks caught up. Once the controller fences it (ISR
        // [0, 1]), the leader proposed adding it back; the controller refused (fenced), and
        // the leader, counting the refusals as time without an answer, stopped taking writes
        // 3 s later, for good.
        let mut leader = Replica::new(0, ReplicaConfig::default());
        let _ = leader.apply_metadata(&state(Some(0), 1, 1), 0);
        let _ = leader.handle_produce(0, &mut batch(1), Acks::Leader, 1, 1_000, &NoCodec);
        for follower in [1, 2] {
            let _ = leader.handle_fetch(10, follower, 1, 1, 1 << 20);
        }
        let mut fenced = state(Some(0), 1, 2);
        fenced.isr = alloc::vec![0, 1];
        let _ = leader.apply_metadata(&fenced, 20);
        assert_eq!(
            leader.poll_isr_change(30),
            Some(alloc::vec![0, 1, 2]),
            "2 looks caught up"
        );
        leader.handle_isr_change_result(None); // refused: 2 is fenced
        assert_eq!(
            leader.poll_isr_change(130),
            None,
            "not proposed again until it fetches"
        );
        assert!(!leader.is_stuck(10_000), "a refusal is an answer");
        assert_eq!(
            leader.handle_produce(10_000, &mut batch(1), Acks::Leader, 2, 1_000, &NoCodec),
            Ok(Some(1))
        );
        // An unanswered proposal is sent again unchanged, and its addition keeps counting
        // toward the HW (KIP-497's maximal ISR) until the controller answers.
        for follower in [1, 2] {
            let _ = leader.handle_fetch(10_010, follower, 2, 1, 1 << 20);
        }
        assert_eq!(
            leader.poll_isr_change(10_020),
            Some(alloc::vec![0, 1, 2]),
            "back: propose"
        );
        leader.abandon_isr_change();
        assert_eq!(
            leader.poll_isr_change(10_030),
            Some(alloc::vec![0, 1, 2]),
            "the same again"
        );
        assert_eq!(leader.poll_isr_change(10_040), None, "one at a time");
        assert!(leader.is_stuck(13_100), "no answer for 3 s: writes stop");
        leader.handle_isr_change_result(Some(alloc::vec![0, 1, 2]));
        assert!(!leader.is_stuck(13_200));
    }

    #[test]
    fn a_topic_min_insync_above_the_isr_refuses_acks_all() {
        // Kafka: acks=all with fewer in-sync replicas than the topic's min.insync.replicas is
        // refused with NOT_ENOUGH_REPLICAS and appends nothing; acks=1 is not gated.
        let config = ReplicaConfig {
            min_insync_replicas: 3,
            ..ReplicaConfig::default()
        };
        let mut replica = Replica::new(0, config);
        let mut two = state(Some(0), 1, 1);
        two.isr = alloc::vec![0, 1];
        let _ = replica.apply_metadata(&two, 0);
        assert_eq!(
            replica.handle_produce(0, &mut batch(1), Acks::All, 1, 1_000, &NoCodec),
            Err(ReplicaError::NotEnoughReplicas)
        );
        assert_eq!(replica.log_end_offset(), 0, "nothing appended");
        assert_eq!(
            replica.handle_produce(0, &mut batch(1), Acks::Leader, 2, 1_000, &NoCodec),
            Ok(Some(0))
        );
    }

    #[test]
    fn an_acks_all_retry_waits_for_the_high_watermark_like_the_original() {
        let mut leader = Replica::new(0, ReplicaConfig::default());
        leader.become_leader(1, alloc::vec![0, 1], &[0, 1], 0);
        let mut records = batch(2);
        assert_eq!(
            leader.handle_produce(0, &mut records, Acks::All, 1, 1_000, &NoCodec),
            Ok(None),
            "waits for the follower"
        );
        // The producer's retry of the same batch: not acknowledged before the HW passes it.
        assert_eq!(leader.await_committed(10, 2, 0, 2, 1_000), Ok(None));
        assert!(leader.poll_completed().is_empty());
        // The follower fetches past it: both the original and the retry complete.
        let _ = leader.handle_fetch(20, 1, 0, 1, 1 << 20);
        let _ = leader.handle_fetch(30, 1, 2, 1, 1 << 20);
        let mut done: Vec<u64> = leader.poll_completed().iter().map(|d| d.request).collect();
        done.sort_unstable();
        assert_eq!(done, [1, 2]);
        // Once committed, a retry is answered at once.
        assert_eq!(leader.await_committed(40, 3, 0, 2, 1_000), Ok(Some(0)));
    }

    /// Kafka's `Partition.fetchRecords`: a follower fetch with no current leader epoch (-1)
    /// is not checked against it (`checkCurrentLeaderEpoch`), and one from a broker that is
    /// not a replica of the partition is refused with NOT_LEADER_OR_FOLLOWER
    /// (`followerReplicaOrThrow`) and moves neither the HW nor the ISR.
    #[test]
    fn only_the_partitions_replicas_fetch_as_followers() {
        let mut leader = Replica::new(0, ReplicaConfig::default());
        leader.become_leader(3, alloc::vec![0, 1], &[0, 1, 2], 0);
        let _ = leader.handle_produce(0, &mut batch(5), Acks::Leader, 1, 1_000, &NoCodec);
        assert_eq!(
            leader
                .handle_fetch(10, 7, 5, 3, 1 << 20)
                .map(|a| a.records.len()),
            Err(ReplicaError::NotLeaderOrFollower)
        );
        assert_eq!(
            leader.high_watermark(),
            0,
            "a stranger at the end moves nothing"
        );
        assert_eq!(leader.poll_isr_change(10), None);
        assert_eq!(
            leader
                .handle_fetch(10, 1, 0, 2, 1 << 20)
                .map(|a| a.records.len()),
            Err(ReplicaError::FencedLeaderEpoch),
            "an older epoch is still fenced"
        );
        let answer = leader
            .handle_fetch(10, 1, 0, -1, 1 << 20)
            .expect("no epoch: no check");
        assert_eq!(answer.records, leader.read_all(5));
        let answer = leader
            .handle_fetch(20, 1, 5, 3, 1 << 20)
            .expect("a replica fetches");
        assert_eq!((answer.records.len(), answer.high_watermark), (0, 5));
    }

    /// Kafka's `ProduceRequest.validateRecords`: a partition's records in a produce request
    /// are exactly one batch of magic 2; anything else is INVALID_RECORD and appends nothing.
    #[test]
    fn a_produce_carries_exactly_one_batch_of_magic_2() {
        let mut leader = Replica::new(0, ReplicaConfig::default());
        leader.become_leader(1, alloc::vec![0], &[0], 0);
        let mut two = batch(2);
        two.extend_from_slice(&batch(3));
        let invalid = Err(ReplicaError::AppendRefused(error_code::INVALID_RECORD));
        assert_eq!(
            leader.handle_produce(0, &mut two, Acks::Leader, 1, 1_000, &NoCodec),
            invalid
        );
        let mut magic_1 = batch(2);
        magic_1[16] = 1;
        assert_eq!(
            leader.handle_produce(0, &mut magic_1, Acks::Leader, 2, 1_000, &NoCodec),
            invalid
        );
        assert_eq!(leader.log_end_offset(), 0, "nothing appended");
        assert_eq!(
            leader.handle_produce(0, &mut batch(2), Acks::Leader, 3, 1_000, &NoCodec),
            Ok(Some(0))
        );
    }
}
