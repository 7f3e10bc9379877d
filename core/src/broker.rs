//! What one node decides about one partition it hosts, beyond the replication protocol
//! itself: Kafka's `ReplicaManager` for a single partition. The node (`runnel-node`) and the
//! simulator ([`crate::sim`]) both drive this same code, so every rule here is one the seeded
//! sweep exercises. Like the rest of core it does no I/O and reads no clock.
//!
//! A [`HostedPartition`] wraps the partition's [`Replica`] (the leader and follower halves of
//! the protocol) and adds what a broker decides around it:
//! - **the role from the metadata**: a partition state from the controller (or none: the
//!   partition went away, or this node was fenced) gives the replica its role
//!   ([`Replica::apply_metadata`]);
//! - **the ISR proposal's life** (Kafka's AlterPartition): when to send it, what each answer
//!   means, when an unanswered one goes again;
//! - **when appends reach disk**: `flush.messages`, `flush.ms`, and runnel's fsync before
//!   acknowledging (`flush_before_ack`);
//! - **what a follower asks its leader next** ([`HostedPartition::follower_task`]).
//!
//! # The contract
//! Every input is a `handle_*` call (with the current time wherever a rule depends on it);
//! each returns what the caller must carry out, as one [`Ready`] value (modelled on raft-rs's
//! `Ready`). The driver carries it out **in this order**:
//! 1. the log writes and truncations are already done: they went through the partition's
//!    [`SegmentStore`] during the call;
//! 2. if [`Ready::fsync`]: sync the store, then call [`HostedPartition::flushed`] (the
//!    `advance` of this contract). Until the sync succeeded, no answer to a produce that
//!    appended in this call may be sent: with `flush_before_ack` that answer promises the
//!    records are on disk;
//! 3. send [`Ready::alter_partition`] to the controller, and hand its answer back with
//!    [`HostedPartition::handle_alter_partition_result`];
//! 4. answer [`Ready::completed`] (acks=all writes done or failed) and the call's own result;
//! 5. act on [`Ready::role_change`] (start or stop fetching, logs, metrics).
//!
//! [`HostedPartition::poll_timeout`] says when [`HostedPartition::handle_tick`] is due next.
//!
//! The node's session with the controller is core's too ([`crate::controller::HeartbeatManager`],
//! [`crate::controller::Controller::is_registered`]), and so is the group coordinator a node
//! hosts while it leads `__consumer_offsets` ([`HostedGroups`]). Other cross-partition work
//! (grouping a node's fetches by leader broker) is still the bodies' own:
//! `docs/architecture.md` lists what is where.

use alloc::vec::Vec;

pub mod groups;
pub mod transactions;

pub use groups::{CommitEntry, CommitPlan, CoordinatorMove, Elected, HostedGroups};
pub use transactions::{HostedTransactions, MarkerJob, TxnPlan, TxnState, TxnTransition};

/// One keyed record of a log: (offset, key, value; `None` for a tombstone).
pub type KeyedRecord = (i64, Vec<u8>, Option<Vec<u8>>);

/// A log's keyed records as a coordinator loads them ([`HostedPartition::keyed_records`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyedLog {
    /// The records that count, in log order (committed transactions' at their marker).
    pub records: Vec<KeyedRecord>,
    /// Records of transactions still open: (producer id, record), by producer.
    pub open_txn: Vec<(i64, KeyedRecord)>,
}

use crate::batch::Codec;
use crate::controller::PartitionState;
use crate::log::{LogError, MemorySegmentStore, SegmentStore};
use crate::replica::{
    Acks, BrokerId, CleanPass, CleanReport, FetchAnswer, ProduceDone, Replica, ReplicaError,
    ReplicaRead, RoleChange,
};
use crate::txn::ControlType;

/// How long after an ISR proposal that could not be sent (no controller reachable) it goes
/// again: Kafka's `retry.backoff.ms` default.
pub const ALTER_PARTITION_RETRY_BACKOFF_MS: u64 = 100;

/// What a node decides about its partitions that is not per topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HostConfig {
    /// fsync every append before it is acknowledged (runnel's `flush_before_ack`; on a
    /// follower, before its next fetch reports the records as copied). Off, appends reach
    /// disk by the topic's `flush.messages` and `flush.ms`, else when the OS writes them.
    pub flush_before_ack: bool,
    /// How long an ISR proposal may go unanswered before it is sent again. A driver whose
    /// transport answers every proposal (the node's quorum answers "unanswered" after its own
    /// timeout) sets it above that timeout, so the same change is not in flight twice.
    pub alter_partition_resend_ms: u64,
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            flush_before_ack: false,
            alter_partition_resend_ms: 1_000,
        }
    }
}

/// An ISR change for the controller (Kafka's AlterPartition request for one partition).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlterPartition {
    /// The leader epoch the leader proposes in.
    pub leader_epoch: i32,
    /// The partition epoch of the state the leader applied last: the controller refuses a
    /// proposal made from an older view (KIP-497).
    pub partition_epoch: i32,
    /// The ISR wanted.
    pub isr: Vec<BrokerId>,
}

/// The controller's answer to an [`AlterPartition`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AlterPartitionOutcome {
    /// Accepted, with the partition state it made when the answer carries it (`None`: the new
    /// state comes with the metadata, as in the node, where the metadata log brings it).
    Accepted(Option<PartitionState>),
    /// Refused: a stale epoch, or a fenced broker. The old ISR stays.
    Refused,
    /// No answer came (no controller reachable): the same proposal goes again after
    /// [`ALTER_PARTITION_RETRY_BACKOFF_MS`].
    Unanswered,
}

/// A follower's next request to its leader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FollowerTask {
    /// Ask where `epoch` ends on `leader` (OffsetsForLeaderEpoch, KIP-101), then truncate.
    EpochEnd {
        /// The leader to ask.
        leader: BrokerId,
        /// This replica's last leader epoch.
        epoch: i32,
        /// The leader epoch it follows in (KIP-320's `current_leader_epoch`).
        current_leader_epoch: i32,
    },
    /// Fetch from `offset` (this replica's LEO) on `leader`.
    Fetch {
        /// The leader to fetch from.
        leader: BrokerId,
        /// Where to fetch from.
        offset: i64,
        /// The leader epoch it follows in.
        leader_epoch: i32,
    },
}

impl FollowerTask {
    /// The broker the request goes to.
    pub fn leader(&self) -> BrokerId {
        match self {
            FollowerTask::EpochEnd { leader, .. } | FollowerTask::Fetch { leader, .. } => *leader,
        }
    }
}

/// A log cut back, as a [`Ready`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Truncation {
    /// The LEO before.
    pub from: i64,
    /// The LEO after.
    pub to: i64,
}

/// What one input to a [`HostedPartition`] asks of its driver; see the module's contract for
/// the order in which to carry it out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct Ready {
    /// The role the metadata gave the replica, when the input applied a partition state.
    pub role_change: Option<RoleChange>,
    /// The log was cut back (a new leader's epoch end, an out-of-range answer).
    pub truncated: Option<Truncation>,
    /// Records appended (produced as leader, or copied as follower).
    pub appended: u64,
    /// Followers' fetches waiting on this node may answer now: records were appended as
    /// leader (Kafka's `DelayedFetch` of a follower completes on bytes to the log end), or
    /// the replica's role or epoch changed, so a waiting fetch learns it is no longer asking
    /// its leader (Kafka's `ReplicaManager` completes a partition's delayed fetches when it
    /// becomes a follower). A follower's own copy gives no follower's fetch anything: the
    /// fetches waiting on this node are for the partitions it leads.
    pub wake_follower_fetches: bool,
    /// Sync the log's store, then call [`HostedPartition::flushed`].
    pub fsync: bool,
    /// An ISR change to propose to the controller.
    pub alter_partition: Option<AlterPartition>,
    /// acks=all writes that completed or failed, to answer.
    pub completed: Vec<ProduceDone>,
    /// Consumers' fetches waiting on this node may answer now: as leader, the high watermark
    /// rose (a follower's fetch confirmed records, Kafka's `Partition.maybeIncrementLeaderHW`
    /// completes delayed fetches) or the last stable offset did (`read_committed` readers
    /// read below it; a log start moved past an open transaction by DeleteRecords or
    /// retention raises it to the log start, and a fetch waiting below it answers
    /// OFFSET_OUT_OF_RANGE now, not at its max wait), or the replica's role or epoch changed, so a waiting fetch
    /// learns it is no longer asking the leader (Kafka's `ReplicaManager` completes a
    /// partition's delayed fetches when it becomes a follower). A follower's own high
    /// watermark gives no consumer anything: consumers read from the leader only (runnel
    /// names no preferred read replica, KIP-392), so a follower's copy wakes none.
    pub wake_consumer_fetches: bool,
    /// The log start offset moved without a DeleteRecords here (a follower took its
    /// leader's, KIP-107): save it, as Kafka's `log-start-offset-checkpoint`, or a restart
    /// would serve the deleted records again.
    pub log_start_offset: Option<i64>,
}

/// One partition on one node: its replica and the node's decisions around it. See the module
/// documentation for the contract.
#[derive(Debug)]
pub struct HostedPartition<S: SegmentStore = MemorySegmentStore> {
    replica: Replica<S>,
    config: HostConfig,
    /// Records appended since the last fsync.
    unflushed_messages: u64,
    last_flush_ms: u64,
    /// When the ISR proposal in flight goes again if still unanswered.
    alter_partition_resend_at_ms: Option<u64>,
    /// The high watermark and last stable offset as of the last [`Ready`] (for
    /// [`Ready::wake_consumer_fetches`]).
    reported_high_watermark: i64,
    reported_last_stable_offset: i64,
    ready: Ready,
}

impl<S: SegmentStore> HostedPartition<S> {
    /// Hosts `replica` from `now_ms` (the time `flush.ms` counts from).
    pub fn new(replica: Replica<S>, config: HostConfig, now_ms: u64) -> Self {
        Self {
            config,
            unflushed_messages: 0,
            last_flush_ms: now_ms,
            alter_partition_resend_at_ms: None,
            reported_high_watermark: replica.high_watermark(),
            reported_last_stable_offset: replica.last_stable_offset(),
            ready: Ready::default(),
            replica,
        }
    }

    // ---- getters ----

    /// The replica: its log, role, HW, ISR.
    pub fn replica(&self) -> &Replica<S> {
        &self.replica
    }

    /// The replica, to change what is not a replication decision: topic configs, an
    /// operator's DeleteRecords, reads that move a cursor.
    pub fn replica_mut(&mut self) -> &mut Replica<S> {
        &mut self.replica
    }

    /// Every keyed record of the log that counts, from its start to its end: (offset, key,
    /// value or `None` for a tombstone), in log order. What a new group coordinator loads
    /// from `__consumer_offsets` (Kafka's `GroupMetadataManager.loadGroupsAndOffsets` reads
    /// to the log end). A transaction's records count from its commit marker, in the
    /// marker's place; an aborted transaction's never; an open one's are returned apart, as
    /// (producer id, record) (Kafka holds them as pending transactional commits). Reads 1 MiB
    /// at a time. Errors: the store cannot be read, or a batch is corrupt or cannot be
    /// decompressed.
    pub fn keyed_records(&self, codec: &dyn Codec) -> Result<KeyedLog, LogError<S::Error>> {
        let log = self.replica.log();
        let end = log.log_end_offset();
        let mut offset = log.log_start_offset();
        let mut out = KeyedLog::default();
        let mut open: alloc::collections::BTreeMap<i64, Vec<KeyedRecord>> =
            alloc::collections::BTreeMap::new();
        let mut scratch = Vec::new();
        while offset < end {
            let bytes = log.read(offset, 1 << 20, end)?;
            if bytes.is_empty() {
                break;
            }
            for batch in crate::batch::batches(&bytes) {
                let batch = batch?;
                let header = *batch.header();
                offset = header.next_offset();
                if header.is_control() {
                    let pending = open.remove(&header.producer_id).unwrap_or_default();
                    if crate::txn::control_type(&batch, codec) == Some(ControlType::Commit) {
                        out.records.extend(pending);
                    }
                    continue;
                }
                let target = if header.is_transactional() {
                    open.entry(header.producer_id).or_default()
                } else {
                    &mut out.records
                };
                for record in batch.records(codec, &mut scratch)? {
                    let record = record?;
                    if let Some(key) = record.key {
                        target.push((
                            record.offset,
                            key.to_vec(),
                            record.value.map(<[u8]>::to_vec),
                        ));
                    }
                }
            }
        }
        out.open_txn = open
            .into_iter()
            .flat_map(|(producer, records)| records.into_iter().map(move |r| (producer, r)))
            .collect();
        Ok(out)
    }

    /// The host settings.
    pub fn config(&self) -> HostConfig {
        self.config
    }

    /// Records appended since the last fsync.
    pub fn unflushed_messages(&self) -> u64 {
        self.unflushed_messages
    }

    /// What this replica asks its leader next, if it follows one.
    pub fn follower_task(&self) -> Option<FollowerTask> {
        let replica = &self.replica;
        if let Some((leader, epoch)) = replica.pending_epoch_request() {
            Some(FollowerTask::EpochEnd {
                leader,
                epoch,
                current_leader_epoch: replica.leader_epoch(),
            })
        } else {
            replica
                .fetch_offset()
                .map(|(leader, offset)| FollowerTask::Fetch {
                    leader,
                    offset,
                    leader_epoch: replica.leader_epoch(),
                })
        }
    }

    /// Whether an answer to `asked` would still count: this replica would ask the same now
    /// (Kafka's fetcher drops responses for a partition whose fetch state changed while the
    /// request was out). A driver may skip a stale answer's work with it; the `handle_*`
    /// calls that take an answer check it themselves.
    pub fn still_asks(&self, asked: &FollowerTask) -> bool {
        self.follower_task().as_ref() == Some(asked)
    }

    /// When [`HostedPartition::handle_tick`] is next due: the earliest of an acks=all
    /// write's deadline, the ISR proposal's resend, and `flush.ms`. `None`: nothing is waiting.
    pub fn poll_timeout(&self) -> Option<u64> {
        let resend = self.alter_partition_resend_at_ms;
        let flush = self
            .replica
            .log_config()
            .flush_ms
            .filter(|_| self.unflushed_messages > 0)
            .map(|ms| self.last_flush_ms.saturating_add(ms));
        [self.replica.next_deadline_ms(), resend, flush]
            .into_iter()
            .flatten()
            .min()
    }

    // ---- inputs ----

    /// The controller's state for this partition (`None`: it has none for this node: this
    /// node was fenced or is no replica of it; a deleted topic goes through
    /// [`HostedPartition::handle_deleted`]) becomes the replica's role.
    pub fn handle_metadata(&mut self, state: Option<&PartitionState>, now_ms: u64) -> Ready {
        let before = self.replica.log_end_offset();
        let change = match state {
            Some(state) => self.replica.apply_metadata(state, now_ms),
            None => {
                self.replica.go_offline();
                RoleChange::Offline
            }
        };
        self.note_truncation(before);
        let role_changed = matches!(
            change,
            RoleChange::Leader | RoleChange::Follower(_) | RoleChange::Offline
        );
        self.ready.wake_follower_fetches |= role_changed;
        self.ready.wake_consumer_fetches |= role_changed;
        self.ready.role_change = Some(change);
        self.take_ready()
    }

    /// The partition's topic was deleted (Kafka's `ReplicaManager.stopPartitions` with
    /// `deletePartition`, which completes the partition's delayed produces and fetches): the
    /// replica goes offline, its waiting acks=all writes complete with
    /// UNKNOWN_TOPIC_OR_PARTITION (Kafka's `DelayedProduce` answer once `getPartitionOrError`
    /// finds neither the partition nor its topic), and every fetch waiting here is woken to
    /// find the topic gone. The driver removes the files after carrying out the [`Ready`].
    pub fn handle_deleted(&mut self) -> Ready {
        self.replica.delete();
        self.ready.wake_follower_fetches = true;
        self.ready.wake_consumer_fetches = true;
        self.ready.role_change = Some(RoleChange::Offline);
        self.take_ready()
    }

    /// A produce to this partition: the replica appends as leader (idempotence,
    /// `min.insync.replicas`, acks), and the appended records count toward the fsync rule.
    /// `Ok(Some(base offset))`: acknowledged now (after the fsync, if the [`Ready`] asks for
    /// one); `Ok(None)`: waiting for the ISR, answered in a later [`Ready::completed`] with
    /// `request`. Errors as [`Replica::handle_produce`].
    pub fn handle_produce(
        &mut self,
        now_ms: u64,
        records: &mut [u8],
        acks: Acks,
        request: u64,
        timeout_ms: u64,
        codec: &dyn Codec,
    ) -> (Result<Option<i64>, ReplicaError>, Ready) {
        let before = self.replica.log_end_offset();
        let result = self
            .replica
            .handle_produce(now_ms, records, acks, request, timeout_ms, codec);
        self.note_append(before);
        (result, self.poll(now_ms))
    }

    /// A transaction marker to write as leader ([`Replica::handle_marker`]), with acks=all:
    /// `Ok(Some(offset))` written and replicated now, `Ok(None)` answered in a later
    /// [`Ready::completed`] with `request`. Errors as [`Replica::handle_marker`].
    #[allow(clippy::too_many_arguments)]
    pub fn handle_marker(
        &mut self,
        now_ms: u64,
        producer_id: i64,
        producer_epoch: i16,
        coordinator_epoch: i32,
        control: crate::txn::ControlType,
        request: u64,
        timeout_ms: u64,
        codec: &dyn Codec,
    ) -> (Result<Option<i64>, ReplicaError>, Ready) {
        let before = self.replica.log_end_offset();
        let result = self.replica.handle_marker(
            now_ms,
            producer_id,
            producer_epoch,
            coordinator_epoch,
            control,
            request,
            timeout_ms,
            codec,
        );
        self.note_append(before);
        (result, self.poll(now_ms))
    }

    /// A follower's fetch (as leader): counts its offset toward the HW and its ISR
    /// membership. Errors as [`Replica::handle_fetch`].
    pub fn handle_replica_fetch(
        &mut self,
        now_ms: u64,
        follower: BrokerId,
        fetch_offset: i64,
        follower_epoch: i32,
        max_bytes: usize,
    ) -> (Result<FetchAnswer, ReplicaError>, Ready) {
        let answer =
            self.replica
                .handle_fetch(now_ms, follower, fetch_offset, follower_epoch, max_bytes);
        (answer, self.poll(now_ms))
    }

    /// [`HostedPartition::handle_replica_fetch`] with where the records are instead of the
    /// records ([`Replica::handle_fetch_ranges`]), for a body that sends them from the files.
    pub fn handle_replica_fetch_ranges(
        &mut self,
        now_ms: u64,
        follower: BrokerId,
        fetch_offset: i64,
        follower_epoch: i32,
        max_bytes: usize,
    ) -> (Result<ReplicaRead, ReplicaError>, Ready) {
        let read = self.replica.handle_fetch_ranges(
            now_ms,
            follower,
            fetch_offset,
            follower_epoch,
            max_bytes,
        );
        (read, self.poll(now_ms))
    }

    /// The leader's answer to `asked` (a [`FollowerTask::Fetch`]), as follower: the batches
    /// are copied. Only the answer to the request this replica would send now counts: one
    /// asked before its role or position changed describes a log it no longer copies from
    /// there (Kafka's fetcher drops responses for a partition whose fetch state changed), and
    /// is refused with NOT_LEADER_OR_FOLLOWER. Other errors as
    /// [`Replica::handle_fetch_answer`] (another epoch, a store that failed).
    pub fn handle_fetch_answer<R: AsRef<[u8]>>(
        &mut self,
        now_ms: u64,
        asked: &FollowerTask,
        answer: &FetchAnswer<R>,
        codec: &dyn Codec,
    ) -> (Result<(), ReplicaError>, Ready) {
        if !self.still_asks(asked) {
            return (Err(ReplicaError::NotLeaderOrFollower), self.take_ready());
        }
        let before = self.replica.log_end_offset();
        let start_before = self.replica.log_start_offset();
        let result = self.replica.handle_fetch_answer(answer, codec, now_ms);
        self.note_append(before);
        let start = self.replica.log_start_offset();
        if start > start_before {
            self.ready.log_start_offset = Some(start);
        }
        (result, self.take_ready())
    }

    /// The leader answered `asked` (a [`FollowerTask::Fetch`]) with OFFSET_OUT_OF_RANGE,
    /// giving its log start and end ([`Replica::handle_out_of_range`]). An answer to a request
    /// this replica would not send now is ignored, as in
    /// [`HostedPartition::handle_fetch_answer`]: a late one from a slow old leader must not cut
    /// a new leader's log.
    pub fn handle_out_of_range(
        &mut self,
        asked: &FollowerTask,
        leader_log_start_offset: i64,
        leader_log_end_offset: i64,
    ) -> Ready {
        if !self.still_asks(asked) {
            return self.take_ready();
        }
        let before = self.replica.log_end_offset();
        self.replica
            .handle_out_of_range(leader_log_start_offset, leader_log_end_offset);
        self.note_truncation(before);
        self.take_ready()
    }

    /// The leader's answer to [`FollowerTask::EpochEnd`], asked in `leader_epoch`: the
    /// follower truncates where `epoch` ends (`end_offset`), KIP-101.
    pub fn handle_epoch_end(&mut self, leader_epoch: i32, epoch: i32, end_offset: i64) -> Ready {
        let before = self.replica.log_end_offset();
        self.replica
            .handle_epoch_end(leader_epoch, epoch, end_offset);
        self.note_truncation(before);
        self.take_ready()
    }

    /// The controller's answer to `proposed` (an [`AlterPartition`] this replica sent).
    ///
    /// An accepted state newer than what the replica applied is applied like any metadata,
    /// so an answer overtaken by a newer change cannot roll it back, and that also ends the
    /// proposal. Otherwise only an answer to the proposal in flight counts (the same ISR, in
    /// the same leader and partition epochs): a late answer to an earlier one must not end a
    /// newer one, nor mark its additions refused while the controller may still accept them.
    /// An unanswered proposal is due again after [`ALTER_PARTITION_RETRY_BACKOFF_MS`].
    pub fn handle_alter_partition_result(
        &mut self,
        now_ms: u64,
        proposed: &AlterPartition,
        outcome: AlterPartitionOutcome,
    ) -> Ready {
        let answers_pending = self.replica.is_leader()
            && self.replica.pending_isr_change() == Some(&proposed.isr[..])
            && self.replica.leader_epoch() == proposed.leader_epoch
            && self.replica.applied_partition_epoch() == proposed.partition_epoch;
        match outcome {
            AlterPartitionOutcome::Accepted(Some(state))
                if state.partition_epoch > self.replica.applied_partition_epoch() =>
            {
                return self.handle_metadata(Some(&state), now_ms);
            }
            // Accepted, and already overtaken by what this replica applied.
            AlterPartitionOutcome::Accepted(Some(_)) if answers_pending => {
                let isr = self.replica.isr().map(<[BrokerId]>::to_vec);
                self.replica.handle_isr_change_result(isr);
            }
            // Accepted; the metadata brings the new ISR.
            AlterPartitionOutcome::Accepted(_) => {}
            AlterPartitionOutcome::Refused if answers_pending => {
                self.replica.handle_isr_change_result(None);
            }
            AlterPartitionOutcome::Unanswered if answers_pending => {
                self.replica.abandon_isr_change();
                // Again after a backoff, not at once: with no controller reachable, the
                // answer may come back as fast as it is asked.
                self.alter_partition_resend_at_ms =
                    Some(now_ms.saturating_add(ALTER_PARTITION_RETRY_BACKOFF_MS));
            }
            AlterPartitionOutcome::Refused | AlterPartitionOutcome::Unanswered => {}
        }
        self.take_ready()
    }

    /// Time passes: acks=all writes past their deadline fail, followers that fell behind
    /// leave the ISR (a proposal), an ISR proposal unanswered for
    /// [`HostConfig::alter_partition_resend_ms`] goes again, and `flush.ms` asks for an fsync.
    pub fn handle_tick(&mut self, now_ms: u64) -> Ready {
        self.replica.handle_tick(now_ms);
        if self
            .alter_partition_resend_at_ms
            .is_some_and(|at| now_ms >= at)
        {
            self.alter_partition_resend_at_ms = None;
            // The replica keeps the time of its first proposal, so it still counts as stuck.
            self.replica.abandon_isr_change();
        }
        if self.unflushed_messages > 0
            && self
                .replica
                .log_config()
                .flush_ms
                .is_some_and(|ms| now_ms.saturating_sub(self.last_flush_ms) >= ms)
        {
            self.ready.fsync = true;
        }
        self.poll(now_ms)
    }

    /// DeleteRecords (KIP-107) at `now_ms`: moves the log start offset to `offset` (-1: the
    /// HW) and deletes the segments wholly below it. Kafka allows it up to the high watermark,
    /// not past it, and only on the leader. Returns the new log start offset, and the
    /// [`Ready`] (a log start past an open transaction raises the last stable offset to it
    /// and wakes the `read_committed` fetches waiting below it, which are out of range now). Errors: NOT_LEADER_OR_FOLLOWER, OFFSET_OUT_OF_RANGE
    /// (negative, or above the HW), a store failure.
    pub fn handle_delete_records(
        &mut self,
        now_ms: u64,
        offset: i64,
    ) -> (Result<i64, ReplicaError>, Ready) {
        let result = self.delete_records(now_ms, offset);
        (result, self.take_ready())
    }

    fn delete_records(&mut self, now_ms: u64, offset: i64) -> Result<i64, ReplicaError> {
        if !self.replica.is_leader() {
            return Err(ReplicaError::NotLeaderOrFollower);
        }
        let hw = self.replica.high_watermark();
        let target = if offset == -1 { hw } else { offset };
        if target > hw || target < 0 {
            return Err(ReplicaError::OffsetOutOfRange);
        }
        self.replica
            .log_mut()
            .delete_records_before(target, now_ms)
            .map_err(|e| match e {
                crate::log::LogError::Store(e) => ReplicaError::Storage(alloc::format!("{e}")),
                _ => ReplicaError::OffsetOutOfRange,
            })
    }

    /// One pass of the log cleaner (retention and compaction as `pass` asks, below the HW):
    /// [`Replica::clean`]. The [`Ready`] wakes the `read_committed` fetches waiting below
    /// the log start when retention moved it past an open transaction.
    pub fn handle_clean(
        &mut self,
        now_ms: u64,
        codec: &dyn Codec,
        pass: CleanPass,
    ) -> (CleanReport, Ready) {
        let report = self.replica.clean(codec, now_ms, pass);
        (report, self.take_ready())
    }

    /// The machine died before syncing past `flushed_offset` (the simulator's crash): the
    /// replica loses the rest and goes offline; nothing is in flight any more.
    pub fn crash(&mut self, flushed_offset: i64, now_ms: u64) {
        self.replica.crash(flushed_offset, now_ms);
        self.alter_partition_resend_at_ms = None;
        self.unflushed_messages = 0;
        self.last_flush_ms = now_ms;
        self.ready = Ready::default();
    }

    // ---- acknowledgements ----

    /// The driver synced the store as a [`Ready::fsync`] asked, at `now_ms`.
    pub fn flushed(&mut self, now_ms: u64) {
        self.unflushed_messages = 0;
        self.last_flush_ms = now_ms;
    }

    // ---- internal ----

    fn note_truncation(&mut self, before: i64) {
        let after = self.replica.log_end_offset();
        if after < before {
            self.ready.truncated = Some(Truncation {
                from: before,
                to: after,
            });
        }
    }

    /// After an input that may have appended (from the LEO `before`): counts the records
    /// toward the fsync rule.
    fn note_append(&mut self, before: i64) {
        let after = self.replica.log_end_offset();
        if after <= before {
            return;
        }
        let count = (after - before) as u64;
        self.ready.appended += count;
        self.ready.wake_follower_fetches |= self.replica.is_leader();
        self.unflushed_messages += count;
        if self.config.flush_before_ack
            || self
                .replica
                .log_config()
                .flush_messages
                .is_some_and(|n| self.unflushed_messages >= n)
        {
            self.ready.fsync = true;
        }
    }

    /// Collects what a leader input (a produce, a follower's fetch, a tick) made ready: an ISR
    /// proposal, completed writes.
    fn poll(&mut self, now_ms: u64) -> Ready {
        if let Some(isr) = self.replica.poll_isr_change(now_ms) {
            self.alter_partition_resend_at_ms =
                Some(now_ms.saturating_add(self.config.alter_partition_resend_ms));
            self.ready.alter_partition = Some(AlterPartition {
                leader_epoch: self.replica.leader_epoch(),
                partition_epoch: self.replica.applied_partition_epoch(),
                isr,
            });
        }
        self.take_ready()
    }

    /// Collects what an input that proposes nothing made ready. The metadata and the
    /// controller's answers only end proposals: a refused one is proposed again at the next
    /// leader input, not at once (its stale epoch would be refused again, round after round).
    fn take_ready(&mut self) -> Ready {
        if self.replica.pending_isr_change().is_none() {
            self.alter_partition_resend_at_ms = None;
        }
        self.ready.completed.extend(self.replica.poll_completed());
        let high_watermark = self.replica.high_watermark();
        let last_stable_offset = self.replica.last_stable_offset();
        self.ready.wake_consumer_fetches |= self.replica.is_leader()
            && (high_watermark > self.reported_high_watermark
                || last_stable_offset > self.reported_last_stable_offset);
        self.reported_high_watermark = high_watermark;
        self.reported_last_stable_offset = last_stable_offset;
        core::mem::take(&mut self.ready)
    }
}

/// How long a node in controlled shutdown waits for the controller to move its leaderships
/// away before it stops anyway (runnel's bound; Kafka's broker waits for the controller's
/// `shouldShutDown` up to its own shutdown timeout).
pub const CONTROLLED_SHUTDOWN_TIMEOUT_MS: u64 = 5_000;

/// A node's controlled shutdown (Kafka's `controlled.shutdown.enable`, KIP-631's
/// `wantShutDown`), as the node and the simulator both run it:
/// 1. the node stops heartbeating and asks the controller to fence it
///    ([`ControlledShutdown::fence`]): every partition it leads elects another leader from
///    its ISR, and it leaves every ISR, while it is still up to answer
///    NOT_LEADER_OR_FOLLOWER (clients retry at the new leader, and lose nothing);
/// 2. once the fence is applied on this node ([`ControlledShutdown::handle_fenced`]), or
///    [`CONTROLLED_SHUTDOWN_TIMEOUT_MS`] after it began, whichever comes first, it may stop
///    ([`ControlledShutdown::may_stop`]);
/// 3. it syncs every log to disk, then exits: a clean stop loses nothing it wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControlledShutdown {
    node: BrokerId,
    deadline_ms: u64,
    fenced: bool,
}

impl ControlledShutdown {
    /// Node `node` begins a controlled shutdown at `now_ms`.
    pub fn begin(node: BrokerId, now_ms: u64) -> Self {
        Self {
            node,
            deadline_ms: now_ms.saturating_add(CONTROLLED_SHUTDOWN_TIMEOUT_MS),
            fenced: false,
        }
    }

    /// What to propose to the controller: fence this node.
    pub fn fence(&self) -> crate::controller::Command {
        crate::controller::Command::Fence { broker: self.node }
    }

    /// The fence is applied on this node (its partitions moved).
    pub fn handle_fenced(&mut self) {
        self.fenced = true;
    }

    /// Whether the fence was applied (the node's leaderships moved).
    pub fn is_fenced(&self) -> bool {
        self.fenced
    }

    /// Whether the node may stop now.
    pub fn may_stop(&self, now_ms: u64) -> bool {
        self.fenced || now_ms >= self.deadline_ms
    }

    /// When it stops even without the fence.
    pub fn poll_timeout(&self) -> u64 {
        self.deadline_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::NoCodec;
    use crate::log::LogConfig;
    use crate::replica::ReplicaConfig;
    use crate::replica::tests::batch;
    use alloc::vec;

    fn state(
        leader: BrokerId,
        isr: &[BrokerId],
        leader_epoch: i32,
        partition_epoch: i32,
    ) -> PartitionState {
        PartitionState {
            replicas: vec![0, 1, 2],
            leader: Some(leader),
            leader_epoch,
            isr: isr.to_vec(),
            partition_epoch,
        }
    }

    /// Broker 0's replica, leading `[0, 1, 2]` in epoch 1.
    fn leader(config: HostConfig, log: LogConfig) -> HostedPartition {
        leader_with_isr(config, log, &[0, 1, 2])
    }

    fn leader_with_isr(config: HostConfig, log: LogConfig, isr: &[BrokerId]) -> HostedPartition {
        let replica = Replica::with_log_config(
            0,
            ReplicaConfig {
                lag_time_max_ms: 1_000,
                ..ReplicaConfig::default()
            },
            log,
        );
        let mut hosted = HostedPartition::new(replica, config, 0);
        let ready = hosted.handle_metadata(Some(&state(0, isr, 1, 1)), 0);
        assert_eq!(ready.role_change, Some(RoleChange::Leader));
        hosted
    }

    /// The first batch of a transaction of producer `producer_id` (epoch 0, sequence 0).
    fn transactional_batch(producer_id: i64) -> Vec<u8> {
        let mut open = crate::batch::BatchBuilder::new(0)
            .producer(producer_id, 0, 0)
            .transactional(true);
        open.push(0, None, Some(b"open"), Vec::new());
        open.build(&NoCodec).expect("a batch")
    }

    fn produce(
        hosted: &mut HostedPartition,
        now_ms: u64,
        records: usize,
        acks: Acks,
    ) -> (Result<Option<i64>, ReplicaError>, Ready) {
        hosted.handle_produce(now_ms, &mut batch(records), acks, now_ms, 5_000, &NoCodec)
    }

    #[test]
    fn flush_before_ack_asks_for_an_fsync_before_every_acknowledgement() {
        let config = HostConfig {
            flush_before_ack: true,
            ..HostConfig::default()
        };
        let mut hosted = leader(config, LogConfig::default());
        let (result, ready) = produce(&mut hosted, 10, 2, Acks::Leader);
        assert_eq!(result, Ok(Some(0)));
        assert!(
            ready.fsync,
            "an acks=1 answer with flush_before_ack waits for the fsync"
        );
        assert_eq!(ready.appended, 2);
        hosted.flushed(10);
        assert_eq!(hosted.unflushed_messages(), 0);
        // A refused write appends nothing and asks for nothing.
        let (result, ready) =
            hosted.handle_produce(11, &mut [1, 2, 3], Acks::Leader, 2, 0, &NoCodec);
        assert!(result.is_err());
        assert!(!ready.fsync && ready.appended == 0);
    }

    /// Kafka's `flush.messages` and `flush.ms` (topic configs): an fsync after that many
    /// messages, or that long after the last one with records still unflushed.
    #[test]
    fn flush_messages_and_flush_ms_ask_for_an_fsync_when_due() {
        let log = LogConfig {
            flush_messages: Some(3),
            flush_ms: Some(500),
            ..LogConfig::default()
        };
        // A sole replica in the ISR: no follower can fall behind, only flushes are due.
        let mut hosted = leader_with_isr(HostConfig::default(), log, &[0]);
        assert_eq!(
            hosted.poll_timeout(),
            None,
            "nothing unflushed, nothing due"
        );
        let (_, ready) = produce(&mut hosted, 100, 2, Acks::Leader);
        assert!(!ready.fsync, "2 of flush.messages=3");
        assert_eq!(
            hosted.poll_timeout(),
            Some(500),
            "flush.ms from the last flush (at 0)"
        );
        let (_, ready) = produce(&mut hosted, 200, 1, Acks::Leader);
        assert!(ready.fsync, "the third message");
        hosted.flushed(200);
        let (_, ready) = produce(&mut hosted, 300, 1, Acks::Leader);
        assert!(!ready.fsync);
        assert!(
            !hosted.handle_tick(699).fsync,
            "flush.ms not yet past since 200"
        );
        assert!(
            hosted.handle_tick(700).fsync,
            "flush.ms past with a record unflushed"
        );
    }

    /// Kafka's AlterPartition from a leader: one proposal at a time, sent again unchanged when
    /// unanswered (its additions may already be in the controller's ISR), ended by the answer
    /// to it and by no other.
    #[test]
    fn an_isr_proposal_is_sent_again_until_answered_and_only_its_own_answer_ends_it() {
        let config = HostConfig {
            alter_partition_resend_ms: 300,
            ..HostConfig::default()
        };
        let mut hosted = leader(config, LogConfig::default());
        // Follower 1 keeps up; follower 2 never fetches and drops out after lag_time_max_ms.
        let (_, ready) = hosted.handle_replica_fetch(900, 1, 0, 1, 1 << 20);
        assert_eq!(ready.alter_partition, None);
        let ready = hosted.handle_tick(1_001);
        let shrink = AlterPartition {
            leader_epoch: 1,
            partition_epoch: 1,
            isr: vec![0, 1],
        };
        assert_eq!(ready.alter_partition, Some(shrink.clone()));
        assert_eq!(hosted.poll_timeout(), Some(1_301), "the resend is due");
        assert_eq!(
            hosted.handle_tick(1_200).alter_partition,
            None,
            "one in flight"
        );
        assert_eq!(
            hosted.handle_tick(1_301).alter_partition,
            Some(shrink.clone()),
            "unanswered for alter_partition_resend_ms: the same proposal again"
        );
        // A late answer to some earlier proposal does not end this one: another ISR, or the
        // same ISR proposed in an earlier partition epoch.
        let earlier = [
            AlterPartition {
                isr: vec![0],
                ..shrink.clone()
            },
            AlterPartition {
                partition_epoch: 0,
                ..shrink.clone()
            },
        ];
        for earlier in &earlier {
            let ready = hosted.handle_alter_partition_result(
                1_350,
                earlier,
                AlterPartitionOutcome::Refused,
            );
            assert_eq!(ready.alter_partition, None);
            assert_eq!(hosted.replica().pending_isr_change(), Some(&[0, 1][..]));
        }
        // Its own answer, accepted with the new state: applied like metadata.
        let ready = hosted.handle_alter_partition_result(
            1_400,
            &shrink,
            AlterPartitionOutcome::Accepted(Some(state(0, &[0, 1], 1, 2))),
        );
        assert_eq!(
            ready.role_change,
            Some(RoleChange::IsrChanged {
                before: vec![0, 1, 2],
                after: vec![0, 1]
            })
        );
        assert_eq!(hosted.replica().pending_isr_change(), None);
        assert_eq!(
            hosted.poll_timeout(),
            Some(1_901),
            "nothing in flight: next due is follower 1 (caught up at 900) falling behind"
        );
    }

    #[test]
    fn an_unanswered_proposal_goes_again_after_a_backoff_and_a_refused_one_leaves_the_isr() {
        let mut hosted = leader(HostConfig::default(), LogConfig::default());
        let _ = hosted.handle_replica_fetch(900, 1, 0, 1, 1 << 20);
        let proposed = hosted.handle_tick(1_001).alter_partition.expect("a shrink");
        let ready = hosted.handle_alter_partition_result(
            1_100,
            &proposed,
            AlterPartitionOutcome::Unanswered,
        );
        assert_eq!(ready.alter_partition, None, "not at once");
        assert_eq!(
            hosted.poll_timeout(),
            Some(1_100 + ALTER_PARTITION_RETRY_BACKOFF_MS),
            "due after Kafka's retry.backoff.ms, not after alter_partition_resend_ms (a \
             driver that ticks on poll_timeout must not spin on a controller it cannot reach)"
        );
        assert_eq!(
            hosted
                .handle_tick(1_100 + ALTER_PARTITION_RETRY_BACKOFF_MS)
                .alter_partition,
            Some(proposed.clone()),
            "the quorum's own timeout passed: the same proposal when the timer comes"
        );
        let ready =
            hosted.handle_alter_partition_result(1_200, &proposed, AlterPartitionOutcome::Refused);
        assert_eq!(
            ready.alter_partition, None,
            "a refusal is not answered at once"
        );
        assert_eq!(
            hosted.replica().isr(),
            Some(&[0, 1, 2][..]),
            "the old ISR stays"
        );
        assert_eq!(hosted.replica().pending_isr_change(), None);
        assert_eq!(ready.role_change, None);
    }

    #[test]
    fn a_deleted_topic_answers_its_waiting_writes_unknown_topic_and_wakes_every_fetch() {
        // Kafka's ReplicaManager.stopPartitions completes a deleted partition's delayed
        // produces and fetches; DelayedProduce then finds no partition and no topic
        // (getPartitionOrError) and answers UNKNOWN_TOPIC_OR_PARTITION, not a timeout.
        let mut hosted = leader(HostConfig::default(), LogConfig::default());
        let (result, _) = produce(&mut hosted, 10, 1, Acks::All);
        assert_eq!(result, Ok(None), "acks=all waits for followers 1 and 2");
        let ready = hosted.handle_deleted();
        assert_eq!(ready.role_change, Some(RoleChange::Offline));
        assert_eq!(
            ready.completed,
            vec![ProduceDone {
                request: 10,
                result: Err(ReplicaError::UnknownTopicOrPartition)
            }]
        );
        assert_eq!(
            ReplicaError::UnknownTopicOrPartition.kafka_error_code(),
            crate::error_code::UNKNOWN_TOPIC_OR_PARTITION
        );
        assert!(ready.wake_follower_fetches && ready.wake_consumer_fetches);
        assert!(!hosted.replica().is_leader());
        assert_eq!(hosted.poll_timeout(), None, "nothing left to time out");
    }

    #[test]
    fn no_state_for_this_node_takes_the_replica_offline_and_fails_waiting_writes() {
        let mut hosted = leader(HostConfig::default(), LogConfig::default());
        let (result, ready) = produce(&mut hosted, 10, 1, Acks::All);
        assert_eq!(result, Ok(None), "acks=all waits for followers 1 and 2");
        assert!(ready.completed.is_empty());
        assert_eq!(
            hosted.poll_timeout(),
            Some(1_001),
            "the earlier of the write's request timeout (5,010) and the moment followers that \
             never fetched leave the ISR (lag_time_max_ms 1,000)"
        );
        let ready = hosted.handle_metadata(None, 20);
        assert_eq!(ready.role_change, Some(RoleChange::Offline));
        assert_eq!(
            ready.completed,
            vec![ProduceDone {
                request: 10,
                result: Err(ReplicaError::NotLeaderOrFollower)
            }]
        );
        assert!(!hosted.replica().is_leader());
    }

    /// KIP-107: DeleteRecords moves the log start up to the high watermark, never past it.
    #[test]
    fn delete_records_stops_at_the_high_watermark() {
        let mut hosted = leader(HostConfig::default(), LogConfig::default());
        for at in 0..3 {
            let _ = produce(&mut hosted, at, 1, Acks::Leader);
        }
        // Follower 1 copied two records, follower 2 all three: the HW is 2.
        let _ = hosted.handle_replica_fetch(10, 1, 2, 1, 1 << 20);
        let _ = hosted.handle_replica_fetch(10, 2, 3, 1, 1 << 20);
        assert_eq!(hosted.replica().high_watermark(), 2);
        assert_eq!(
            hosted.handle_delete_records(20, 3).0,
            Err(ReplicaError::OffsetOutOfRange),
            "offset 3 is above the HW"
        );
        assert_eq!(
            hosted.handle_delete_records(20, -1).0,
            Ok(2),
            "-1 means the HW"
        );
        assert_eq!(hosted.replica().log_start_offset(), 2);
        let _ = hosted.handle_metadata(Some(&state(1, &[1, 2], 2, 2)), 30);
        assert_eq!(
            hosted.handle_delete_records(40, 2).0,
            Err(ReplicaError::NotLeaderOrFollower)
        );
    }

    /// KIP-101: a follower asks the new leader where its last epoch ends, truncates there,
    /// then fetches from its new log end; the cut is reported.
    #[test]
    fn a_follower_asks_for_its_epoch_end_truncates_then_fetches() {
        let mut hosted = leader(HostConfig::default(), LogConfig::default());
        // One batch per record: a truncation drops whole batches, as Kafka's does.
        for at in 10..13 {
            let _ = produce(&mut hosted, at, 1, Acks::Leader);
        }
        let ready = hosted.handle_metadata(Some(&state(1, &[1, 2], 2, 2)), 20);
        assert!(matches!(ready.role_change, Some(RoleChange::Follower(_))));
        assert_eq!(
            hosted.follower_task(),
            Some(FollowerTask::EpochEnd {
                leader: 1,
                epoch: 1,
                current_leader_epoch: 2
            })
        );
        let ready = hosted.handle_epoch_end(2, 1, 1);
        assert_eq!(ready.truncated, Some(Truncation { from: 3, to: 1 }));
        assert_eq!(
            hosted.follower_task(),
            Some(FollowerTask::Fetch {
                leader: 1,
                offset: 1,
                leader_epoch: 2
            })
        );
    }

    /// Kafka's `DelayedFetch`: a follower's fetch completes on bytes to the leader's log end.
    /// The leader's append wakes its followers' fetches; a follower's copy of the same
    /// records gives no follower's fetch anything (the fetches waiting on that node are for
    /// the partitions it leads), so it wakes none. A leader stepping down wakes them, so a
    /// waiting fetch hears NOT_LEADER_OR_FOLLOWER at once rather than at its max wait.
    #[test]
    fn only_the_leaders_append_or_a_role_change_wakes_follower_fetches() {
        let mut leader = leader(HostConfig::default(), LogConfig::default());
        let (result, ready) = produce(&mut leader, 10, 2, Acks::Leader);
        assert_eq!(result, Ok(Some(0)));
        assert_eq!(ready.appended, 2);
        assert!(ready.wake_follower_fetches);

        let mut follower = HostedPartition::new(
            Replica::with_log_config(1, ReplicaConfig::default(), LogConfig::default()),
            HostConfig::default(),
            0,
        );
        let ready = follower.handle_metadata(Some(&state(0, &[0, 1, 2], 1, 1)), 10);
        assert!(matches!(ready.role_change, Some(RoleChange::Follower(_))));
        let asked = follower.follower_task().expect("a follower fetches");
        assert_eq!(
            asked,
            FollowerTask::Fetch {
                leader: 0,
                offset: 0,
                leader_epoch: 1
            }
        );
        let (answer, _) = leader.handle_replica_fetch(11, 1, 0, 1, 1 << 20);
        let answer = answer.expect("the leader answers its follower");
        let (result, ready) = follower.handle_fetch_answer(12, &asked, &answer, &NoCodec);
        assert_eq!(result, Ok(()));
        assert_eq!(ready.appended, 2, "the follower copied both records");
        assert!(!ready.wake_follower_fetches);

        // The leader steps down (broker 1 leads epoch 2): its waiting follower fetches wake.
        let ready = leader.handle_metadata(Some(&state(1, &[1, 2], 2, 2)), 20);
        assert!(matches!(ready.role_change, Some(RoleChange::Follower(_))));
        assert!(ready.wake_follower_fetches);
        // The same state again changes nothing and wakes nobody.
        let ready = leader.handle_metadata(Some(&state(1, &[1, 2], 2, 2)), 21);
        assert!(!ready.wake_follower_fetches);
    }

    /// Kafka's `DelayedFetch` of a consumer completes when the leader's high watermark rises
    /// (`Partition.maybeIncrementLeaderHW`). Consumers read from the leader only (no
    /// preferred read replica, KIP-392), so the follower's own high watermark rising wakes
    /// none of the consumer fetches waiting on its node; the leader stepping down wakes them,
    /// so they hear NOT_LEADER_OR_FOLLOWER at once.
    #[test]
    fn only_the_leaders_high_watermark_or_a_role_change_wakes_consumer_fetches() {
        let mut leader = leader_with_isr(HostConfig::default(), LogConfig::default(), &[0, 1]);
        let (result, ready) = produce(&mut leader, 10, 2, Acks::Leader);
        assert_eq!(result, Ok(Some(0)));
        assert!(
            !ready.wake_consumer_fetches,
            "the follower has not confirmed: nothing is readable yet"
        );

        let mut follower = HostedPartition::new(
            Replica::with_log_config(1, ReplicaConfig::default(), LogConfig::default()),
            HostConfig::default(),
            0,
        );
        let ready = follower.handle_metadata(Some(&state(0, &[0, 1], 1, 1)), 10);
        assert!(ready.wake_consumer_fetches, "a role change wakes them");
        let asked = follower.follower_task().expect("a follower fetches");
        let (answer, _) = leader.handle_replica_fetch(11, 1, 0, 1, 1 << 20);
        let answer = answer.expect("the leader answers its follower");
        let (result, ready) = follower.handle_fetch_answer(12, &asked, &answer, &NoCodec);
        assert_eq!(result, Ok(()));
        assert_eq!(ready.appended, 2);
        assert!(!ready.wake_consumer_fetches);

        // The follower's next fetch confirms both records: the leader's HW rises to 2.
        let asked = follower.follower_task().expect("a follower fetches");
        assert!(matches!(asked, FollowerTask::Fetch { offset: 2, .. }));
        let (answer, ready) = leader.handle_replica_fetch(13, 1, 2, 1, 1 << 20);
        assert_eq!(leader.replica().high_watermark(), 2);
        assert!(ready.wake_consumer_fetches, "the leader's HW rose");
        let answer = answer.expect("the leader answers its follower");
        assert_eq!(answer.high_watermark, 2);
        // The follower learns HW 2 from that answer: no consumer reads it there.
        let (result, ready) = follower.handle_fetch_answer(14, &asked, &answer, &NoCodec);
        assert_eq!(result, Ok(()));
        assert_eq!(follower.replica().high_watermark(), 2);
        assert!(!ready.wake_consumer_fetches);

        // The leader steps down (broker 1 leads epoch 2): its waiting consumer fetches wake.
        let ready = leader.handle_metadata(Some(&state(1, &[0, 1], 2, 2)), 20);
        assert!(matches!(ready.role_change, Some(RoleChange::Follower(_))));
        assert!(ready.wake_consumer_fetches);
        let ready = leader.handle_metadata(Some(&state(1, &[0, 1], 2, 2)), 21);
        assert!(
            !ready.wake_consumer_fetches,
            "the same state again wakes nobody"
        );
    }

    /// A `read_committed` fetch reads below the last stable offset (KIP-98); DeleteRecords
    /// past a transaction still open raises it to the log start (Kafka moves its first
    /// unstable offset up to the log start) with no new record and no HW move. A fetch
    /// waiting at the old last stable offset is below the log start now: it is woken to
    /// answer OFFSET_OUT_OF_RANGE rather than at its max wait.
    #[test]
    fn a_last_stable_offset_raised_by_delete_records_wakes_consumer_fetches() {
        let mut hosted = leader_with_isr(HostConfig::default(), LogConfig::default(), &[0]);
        let _ = produce(&mut hosted, 1, 1, Acks::Leader);
        let mut open = transactional_batch(9);
        let (result, _) = hosted.handle_produce(2, &mut open, Acks::Leader, 2, 5_000, &NoCodec);
        assert_eq!(result, Ok(Some(1)));
        let (result, ready) = produce(&mut hosted, 3, 1, Acks::Leader);
        assert_eq!(result, Ok(Some(2)));
        assert!(ready.wake_consumer_fetches, "the HW rose to 3");
        let replica = hosted.replica();
        assert_eq!(
            (replica.high_watermark(), replica.last_stable_offset()),
            (3, 1),
            "the open transaction at offset 1 holds read_committed readers"
        );

        let (start, ready) = hosted.handle_delete_records(4, 2);
        assert_eq!(start, Ok(2));
        assert_eq!(hosted.replica().high_watermark(), 3, "the HW did not move");
        assert_eq!(hosted.replica().last_stable_offset(), 2);
        assert!(
            ready.wake_consumer_fetches,
            "a read_committed fetch waiting at offset 1 is out of range now"
        );
        let (_, ready) = hosted.handle_delete_records(5, 2);
        assert!(!ready.wake_consumer_fetches, "nothing moved: nobody wakes");
    }

    /// Kafka's retention is bounded by the high watermark only (`UnifiedLog.deletableSegments`:
    /// `highWatermark >= upperBoundOffset`): a transaction left open pins no segment, and the
    /// last stable offset rises to the new log start, waking the `read_committed` fetches
    /// waiting below it. Compaction alone stops at the first unstable offset.
    #[test]
    fn retention_deletes_past_an_open_transaction_and_the_last_stable_offset_follows() {
        let log = LogConfig {
            segment_bytes: 1,
            retention_bytes: Some(0),
            ..LogConfig::default()
        };
        let mut hosted = leader_with_isr(HostConfig::default(), log, &[0]);
        let _ = produce(&mut hosted, 1, 1, Acks::Leader);
        let mut open = transactional_batch(9);
        let _ = hosted.handle_produce(2, &mut open, Acks::Leader, 2, 5_000, &NoCodec);
        let _ = produce(&mut hosted, 3, 1, Acks::Leader);
        let _ = produce(&mut hosted, 4, 1, Acks::Leader);
        let replica = hosted.replica();
        assert_eq!(replica.log().segments().len(), 4, "one batch per segment");
        assert_eq!(
            (replica.high_watermark(), replica.last_stable_offset()),
            (4, 1)
        );
        let (report, ready) = hosted.handle_clean(5, &NoCodec, CleanPass::ALL);
        assert_eq!(
            report.retention.segments_deleted, 3,
            "every segment below the HW but the active one"
        );
        let replica = hosted.replica();
        assert_eq!(replica.log().log_start_offset(), 3);
        assert_eq!(replica.last_stable_offset(), 3, "up to the new log start");
        assert!(ready.wake_consumer_fetches);
    }

    #[test]
    fn a_controlled_shutdown_stops_once_fenced_or_at_its_bound() {
        let mut shutdown = ControlledShutdown::begin(2, 1_000);
        assert_eq!(
            shutdown.fence(),
            crate::controller::Command::Fence { broker: 2 }
        );
        assert!(!shutdown.may_stop(1_001), "not before its partitions moved");
        assert_eq!(
            shutdown.poll_timeout(),
            1_000 + CONTROLLED_SHUTDOWN_TIMEOUT_MS
        );
        assert!(
            shutdown.may_stop(1_000 + CONTROLLED_SHUTDOWN_TIMEOUT_MS),
            "the bound"
        );
        shutdown.handle_fenced();
        assert!(shutdown.may_stop(1_002), "fenced: at once");
    }
}
