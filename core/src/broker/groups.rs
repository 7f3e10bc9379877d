//! The group coordinator as a node hosts it: Kafka's `GroupCoordinator` with its
//! `GroupMetadataManager`, for the node that leads `__consumer_offsets`. The node
//! (`runnel-node`) and the simulator ([`crate::sim`]) both drive this same code.
//!
//! [`HostedGroups`] holds the membership state machine ([`GroupCoordinator`]) and the
//! committed offsets it serves ([`OffsetStore`]), and decides:
//! - **what a commit writes**: [`HostedGroups::prepare_commit`] checks the member and
//!   generation and each entry, and gives the records to append to `__consumer_offsets`;
//! - **when a commit becomes visible**: only once its write is replicated
//!   ([`HostedGroups::handle_commit_replicated`]), as Kafka exposes a commit when its acks=all
//!   append completes, and only over an older commit. Until then OffsetFetch answers the older
//!   commit, so no reader sees a commit that a failover could still take back;
//! - **what a failed write answers**: Kafka's coordinator codes ([`CommitPlan::answer`]);
//! - **who coordinates**: the node that leads the offsets partition ([`CoordinatorMove`]);
//! - **what a coordinator move means**: a node that becomes the leader of the offsets
//!   partition rebuilds the commits from its log ([`HostedGroups::handle_elected`]) and
//!   serves nothing until its high watermark reaches what it loaded
//!   ([`HostedGroups::check_ready`]); one that stops leading it forgets them and its groups
//!   ([`HostedGroups::handle_resigned`]).
//!
//! # The contract
//! A commit goes through these steps, in this order:
//! 1. [`HostedGroups::prepare_commit`]: refused as a whole (an unknown member, a stale
//!    generation), or a [`CommitPlan`] with one code per entry and the records to write;
//! 2. the driver appends [`CommitPlan::records`] (if any) to `__consumer_offsets` as one
//!    acks=all batch;
//! 3. once the ISR has it (the high watermark passed the batch's base offset), the driver
//!    calls [`HostedGroups::handle_commit_replicated`] and answers [`CommitPlan::answer`] with
//!    no error; if the write fails or times out, it answers [`CommitPlan::answer`] with the
//!    write's error, and the commit is never shown by this coordinator.
//!
//! Every group request (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit,
//! OffsetFetch) first goes through [`HostedGroups::check_coordinator`]: NOT_COORDINATOR on a
//! node that does not lead the offsets partition, COORDINATOR_LOAD_IN_PROGRESS while loading.
//!
//! Timers: [`HostedGroups::poll_timeout`] says when [`HostedGroups::handle_timeout`] is due.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use super::KeyedRecord;
use crate::error_code;
use crate::group::{GroupConfig, GroupCoordinator, GroupError, GroupOutput};
use crate::offsets::{
    CommittedOffset, OffsetError, OffsetKey, OffsetStore, commit_error_code, decode_commit,
    encode_commit, validate,
};
use crate::replica::RoleChange;

/// One partition's entry of an OffsetCommit request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitEntry {
    /// The topic.
    pub topic: String,
    /// The partition index.
    pub partition: i32,
    /// The next offset the group will read (-1: none).
    pub offset: i64,
    /// The leader epoch of the last record read, or -1.
    pub leader_epoch: i32,
    /// Free text the client attached (at most [`crate::offsets::METADATA_MAX_BYTES`]).
    pub metadata: String,
}

/// An accepted OffsetCommit: what to write, and what to answer once the write ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitPlan {
    /// One Kafka error code per entry, in request order: NONE for an entry that is written,
    /// else why it is not (UNKNOWN_TOPIC_OR_PARTITION, OFFSET_METADATA_TOO_LARGE, ...).
    pub codes: Vec<i16>,
    /// The (key, value) records to append to `__consumer_offsets` as one acks=all batch, in
    /// the order of the entries written. Empty: nothing to write, answer `codes` at once.
    pub records: Vec<(Vec<u8>, Vec<u8>)>,
    /// The commits the records carry, shown once they are replicated.
    commits: Vec<(OffsetKey, CommittedOffset)>,
}

impl CommitPlan {
    /// The codes to answer once the write ended with `append_error` (NONE: the ISR has it).
    /// A failed write answers Kafka's coordinator code for it in place of each NONE
    /// ([`commit_error_code`]: clients retry COORDINATOR_NOT_AVAILABLE and look the
    /// coordinator up again on NOT_COORDINATOR); an entry refused on its own keeps its code,
    /// as in Kafka's `GroupMetadataManager.storeOffsets`.
    pub fn answer(&self, append_error: i16) -> Vec<i16> {
        let failed = commit_error_code(append_error);
        self.codes
            .iter()
            .map(|code| match *code {
                error_code::NONE => failed,
                own => own,
            })
            .collect()
    }
}

/// What [`HostedGroups::handle_elected`] gives back.
#[derive(Debug)]
pub struct Elected {
    /// Answers to requests that waited on the state the load replaced (NOT_COORDINATOR).
    pub answers: Vec<GroupOutput>,
    /// Records of the offsets partition that could not be read, with why; they are skipped.
    pub skipped: Vec<(i64, OffsetError)>,
}

/// How a change of a node's role for `__consumer_offsets` moves the group coordinator
/// (Kafka's `onLeadershipChange`: `onElection` / `onResignation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoordinatorMove {
    /// The node now leads the offsets partition (newly, or in a new leader epoch): it loads
    /// the commits from its log ([`HostedGroups::handle_elected`]).
    Elected,
    /// It led the partition and no longer does: [`HostedGroups::handle_resigned`].
    Resigned,
}

impl CoordinatorMove {
    /// What the role change `change` of the node's offsets partition (from
    /// [`super::Ready::role_change`]) means, for a replica that led it before the input
    /// (`was_leader`) and leads it after or not (`is_leader`). `None`: the coordinator stays
    /// where it was.
    pub fn of(was_leader: bool, change: Option<&RoleChange>, is_leader: bool) -> Option<Self> {
        match change {
            Some(RoleChange::Leader) => Some(Self::Elected),
            _ if was_leader && !is_leader => Some(Self::Resigned),
            _ => None,
        }
    }
}

/// The group coordinator and the committed offsets one node serves.
#[derive(Debug)]
pub struct HostedGroups {
    /// Membership: joins, syncs, heartbeats, generations and their deadlines.
    pub coordinator: GroupCoordinator,
    /// The commits OffsetFetch answers: replicated ones only.
    offsets: OffsetStore,
    /// Where in `__consumer_offsets` each shown commit was written: a commit is shown only
    /// over an older one (writes are replicated in log order, but the calls that report it
    /// may come in any order).
    written_at: BTreeMap<OffsetKey, i64>,
    /// Set while loading: the log end offset of the offsets partition when it was loaded.
    /// Until its high watermark reaches it, the loaded records may still be truncated away
    /// (they may not be on the ISR yet), so nothing is served.
    loading_until: Option<i64>,
    /// Set once this node stopped leading `__consumer_offsets` (until it is elected again):
    /// its store is empty, not the group's, so nothing may be answered from it.
    resigned: bool,
    /// TxnOffsetCommits written and held until their producer's transaction ends: by
    /// producer id, (base offset, plan) in write order.
    pending_txn: BTreeMap<i64, Vec<(i64, CommitPlan)>>,
}

impl HostedGroups {
    /// A coordinator with no groups and no commits.
    pub fn new(config: GroupConfig) -> Self {
        Self {
            coordinator: GroupCoordinator::new(config),
            offsets: OffsetStore::new(),
            pending_txn: BTreeMap::new(),
            written_at: BTreeMap::new(),
            loading_until: None,
            resigned: false,
        }
    }

    /// Whether this coordinator may serve group requests: not once it resigned (until it is
    /// elected again), not while loading (its view of `__consumer_offsets` is not replicated
    /// yet). A driver that reads the offsets or groups asks it under the same lock as the
    /// read, so a resignation between an earlier check and the read cannot answer from the
    /// emptied store. Errors: [`GroupError::NotCoordinator`] (Kafka's `isGroupLocal` failing:
    /// NOT_COORDINATOR, the client finds the coordinator again),
    /// [`GroupError::CoordinatorLoadInProgress`] (Kafka's COORDINATOR_LOAD_IN_PROGRESS, which
    /// clients retry).
    pub fn check_ready(&self) -> Result<(), GroupError> {
        if self.resigned {
            return Err(GroupError::NotCoordinator);
        }
        match self.loading_until {
            Some(_) => Err(GroupError::CoordinatorLoadInProgress),
            None => Ok(()),
        }
    }

    /// Whether this node serves a request about a group now: NOT_COORDINATOR unless it leads
    /// `__consumer_offsets` (`leads_offsets`; Kafka's coordinator is that partition's leader),
    /// then [`HostedGroups::check_ready`] once the partition's `high_watermark` is taken.
    /// Both bodies ask it before every JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
    /// OffsetCommit and OffsetFetch.
    pub fn check_coordinator(
        &mut self,
        leads_offsets: bool,
        high_watermark: i64,
    ) -> Result<(), GroupError> {
        if !leads_offsets {
            return Err(GroupError::NotCoordinator);
        }
        self.handle_high_watermark(high_watermark);
        self.check_ready()
    }

    /// The offsets partition's high watermark is `high_watermark` (the driver reports it
    /// before each group request, and may at any other time): loading ends once it reaches
    /// the log end the coordinator loaded to.
    pub fn handle_high_watermark(&mut self, high_watermark: i64) {
        if self.loading_until.is_some_and(|end| high_watermark >= end) {
            self.loading_until = None;
        }
    }

    /// The commits OffsetFetch may answer: each replicated, the latest per partition.
    pub fn offsets(&self) -> &OffsetStore {
        &self.offsets
    }

    /// This node became the leader of `__consumer_offsets` (or started with it): forgets
    /// everything and rebuilds the commits from the partition's `records` ((offset, key,
    /// value or `None` for a tombstone), in log order, up to `log_end_offset`), as Kafka's
    /// `GroupMetadataManager.loadGroupsAndOffsets` does. If the partition's `high_watermark`
    /// is below `log_end_offset`, some loaded records are not on the ISR yet (a previous
    /// leader wrote them and may not have acknowledged them): the coordinator serves nothing
    /// ([`HostedGroups::check_ready`]) until [`HostedGroups::handle_high_watermark`] reports
    /// that they are, so no reader sees a commit a failover could take back. Members must rejoin: their
    /// generations lived on the old coordinator (runnel does not reload group records).
    /// `config` starts the new membership state machine (its `member_id_seed` should differ
    /// from every earlier one). Returns the answers to requests that waited on the state it
    /// replaces (as [`HostedGroups::handle_resigned`]) and the records that could not be
    /// read, which are skipped.
    pub fn handle_elected<I, K, V>(
        &mut self,
        config: GroupConfig,
        records: I,
        log_end_offset: i64,
        high_watermark: i64,
    ) -> Elected
    where
        I: IntoIterator<Item = (i64, K, Option<V>)>,
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        let answers = self.handle_resigned(config);
        self.resigned = false;
        let mut skipped = Vec::new();
        for (offset, key, value) in records {
            let applied = self
                .offsets
                .apply_record(key.as_ref(), value.as_ref().map(AsRef::as_ref));
            match applied {
                Err(e) => skipped.push((offset, e)),
                // Where it was written: a late report of an older write (from before this
                // node last resigned) must not show it over what the log holds.
                Ok(()) => {
                    if let Ok((key, _)) = decode_commit(key.as_ref(), None) {
                        self.written_at.insert(key, offset);
                    }
                }
            }
        }
        if high_watermark < log_end_offset {
            self.loading_until = Some(log_end_offset);
        }
        Elected { answers, skipped }
    }

    /// This node no longer leads `__consumer_offsets`: its groups and commits are another
    /// node's now (Kafka's `removeGroupsForPartition`). Returns the answers to deliver:
    /// NOT_COORDINATOR to every JoinGroup and SyncGroup still waiting
    /// ([`GroupCoordinator::handle_resigned`]). `config` starts a fresh membership state
    /// machine.
    pub fn handle_resigned(&mut self, config: GroupConfig) -> Vec<GroupOutput> {
        let answers = self.coordinator.handle_resigned();
        *self = Self::new(config);
        self.resigned = true;
        answers
    }

    /// Plans an OffsetCommit from `member_id` in `generation_id` of `group` at `now_ms`.
    /// `partition_exists` says whether a topic partition exists (a commit for one that does
    /// not is answered UNKNOWN_TOPIC_OR_PARTITION). Errors (nothing is written): the
    /// coordinator's refusal ([`GroupCoordinator::validate_commit`]).
    pub fn prepare_commit(
        &self,
        now_ms: u64,
        group: &str,
        generation_id: i32,
        member_id: &str,
        entries: Vec<CommitEntry>,
        partition_exists: impl Fn(&str, i32) -> bool,
    ) -> Result<CommitPlan, GroupError> {
        self.check_ready()?;
        self.coordinator
            .validate_commit(group, generation_id, member_id)?;
        Ok(plan_commit(now_ms, group, entries, partition_exists))
    }

    /// Plans a TxnOffsetCommit (KIP-98, KIP-447): checked as
    /// [`GroupCoordinator::validate_txn_commit`], planned as [`HostedGroups::prepare_commit`].
    /// The driver writes the records as a transactional batch of the producer; they count
    /// only when its transaction commits ([`HostedGroups::handle_txn_commit_written`], then
    /// [`HostedGroups::handle_txn_marker`]).
    pub fn prepare_txn_commit(
        &self,
        now_ms: u64,
        group: &str,
        generation_id: i32,
        member_id: &str,
        entries: Vec<CommitEntry>,
        partition_exists: impl Fn(&str, i32) -> bool,
    ) -> Result<CommitPlan, GroupError> {
        self.check_ready()?;
        self.coordinator
            .validate_txn_commit(group, generation_id, member_id)?;
        Ok(plan_commit(now_ms, group, entries, partition_exists))
    }

    /// A TxnOffsetCommit's `plan` of `producer_id` was written at `base_offset`: held until
    /// the producer's transaction ends (Kafka's `pendingTransactionalOffsetCommits`).
    pub fn handle_txn_commit_written(
        &mut self,
        producer_id: i64,
        base_offset: i64,
        plan: CommitPlan,
    ) {
        self.pending_txn
            .entry(producer_id)
            .or_default()
            .push((base_offset, plan));
    }

    /// A marker of `producer_id` was written to `__consumer_offsets`: on a commit its held
    /// commits are shown (over older ones only), on an abort dropped (Kafka's
    /// `handleTxnCompletion`).
    pub fn handle_txn_marker(&mut self, producer_id: i64, commit: bool) {
        let Some(pending) = self.pending_txn.remove(&producer_id) else {
            return;
        };
        if commit {
            for (base_offset, plan) in &pending {
                self.handle_commit_replicated(*base_offset, plan);
            }
        }
    }

    /// Whether `producer_id` has transactional commits held (written, transaction open).
    pub fn has_pending_txn(&self, producer_id: i64) -> bool {
        self.pending_txn.contains_key(&producer_id)
    }

    /// Whether an open transaction holds a commit of `group` for `topic`-`partition`: an
    /// OffsetFetch with `require_stable` (KIP-447) answers it UNSTABLE_OFFSET_COMMIT, and the
    /// consumer retries, so a new owner of the partition does not start from the older commit
    /// while the transaction that moves it may still commit (Kafka's
    /// `GroupMetadata.hasPendingOffsetCommitsForTopicPartition`).
    pub fn has_pending_txn_commit(&self, group: &str, topic: &str, partition: i32) -> bool {
        self.pending_txn
            .values()
            .flatten()
            .flat_map(|(_, plan)| &plan.commits)
            .any(|(key, _)| key.group == group && key.topic == topic && key.partition == partition)
    }

    /// Open transactions' commits found in the log at load ((producer id, offset, key,
    /// value), in log order) are held again, as before the move.
    pub fn restore_pending_txn(&mut self, records: Vec<(i64, KeyedRecord)>) {
        for (producer_id, (offset, key, value)) in records {
            let Some(value) = value else { continue };
            let Ok((key, value)) = decode_commit(&key, Some(&value)) else {
                continue;
            };
            let Some(value) = value else { continue };
            let plan = CommitPlan {
                codes: alloc::vec![error_code::NONE],
                records: Vec::new(),
                commits: alloc::vec![(key, value)],
            };
            self.handle_txn_commit_written(producer_id, offset, plan);
        }
    }
}

/// The records and commits of an accepted commit's `entries` for `group` at `now_ms`.
fn plan_commit(
    now_ms: u64,
    group: &str,
    entries: Vec<CommitEntry>,
    partition_exists: impl Fn(&str, i32) -> bool,
) -> CommitPlan {
    {
        let mut plan = CommitPlan {
            codes: Vec::with_capacity(entries.len()),
            records: Vec::new(),
            commits: Vec::new(),
        };
        for entry in entries {
            if !partition_exists(&entry.topic, entry.partition) {
                plan.codes.push(error_code::UNKNOWN_TOPIC_OR_PARTITION);
                continue;
            }
            let key = OffsetKey {
                group: String::from(group),
                topic: entry.topic,
                partition: entry.partition,
            };
            let value = CommittedOffset {
                offset: entry.offset,
                leader_epoch: entry.leader_epoch,
                metadata: entry.metadata,
                commit_timestamp_ms: now_ms as i64,
            };
            // Checked before the record is written: the log holds valid commits only.
            if let Err(e) = validate(&value) {
                plan.codes.push(e.kafka_error_code());
                continue;
            }
            plan.records.push(encode_commit(&key, &value));
            plan.commits.push((key, value));
            plan.codes.push(error_code::NONE);
        }
        plan
    }
}

impl HostedGroups {
    /// `plan`'s records, appended to `__consumer_offsets` as one batch at `base_offset`, are
    /// replicated (the high watermark passed `base_offset`): they are shown, each over an
    /// older commit of its partition only.
    pub fn handle_commit_replicated(&mut self, base_offset: i64, plan: &CommitPlan) {
        for (key, value) in &plan.commits {
            if self
                .written_at
                .get(key)
                .is_some_and(|shown| *shown > base_offset)
            {
                continue; // a later commit of the same partition is shown already
            }
            self.written_at.insert(key.clone(), base_offset);
            // Validated by `prepare_commit`, so the store takes it.
            let _ = self.offsets.commit(key, value.clone());
        }
    }

    /// Forgets `group`'s commit of one partition (OffsetDelete, DeleteGroups); the driver
    /// writes its tombstone. Returns whether there was one.
    pub fn forget(&mut self, group: &str, topic: &str, partition: i32) -> bool {
        let key = OffsetKey {
            group: String::from(group),
            topic: String::from(topic),
            partition,
        };
        self.written_at.remove(&key);
        self.offsets.remove(group, topic, partition)
    }

    /// Forgets every group's commits of a deleted topic, held ones of open transactions too (Kafka's
    /// `GroupCoordinator.onPartitionsDeleted` → `GroupMetadataManager.cleanupGroupMetadata`).
    /// Returns their keys: the coordinator writes a tombstone for each to
    /// `__consumer_offsets`, so the commits stay deleted after a restart or a coordinator
    /// move, and a topic created again under the name starts with none.
    pub fn forget_topic(&mut self, topic: &str) -> Vec<OffsetKey> {
        let keys: Vec<OffsetKey> = self
            .offsets
            .groups()
            .flat_map(|group| {
                self.offsets
                    .group(group)
                    .filter(|((t, _), _)| t == topic)
                    .map(move |((t, partition), _)| OffsetKey {
                        group: String::from(group),
                        topic: t.clone(),
                        partition: *partition,
                    })
            })
            .collect();
        self.written_at.retain(|k, _| k.topic != topic);
        self.offsets.delete_topic(topic);
        // Commits an open transaction holds for it go too (Kafka's
        // `GroupMetadata.removeOffsets` drops `pendingTransactionalOffsetCommits`): else the
        // transaction's commit marker would show them for the deleted topic, and a topic of
        // its name created later would be read from there.
        for held in self.pending_txn.values_mut() {
            for (_, plan) in held.iter_mut() {
                plan.commits.retain(|(key, _)| key.topic != topic);
            }
        }
        keys
    }

    /// Expires member sessions and rebalance deadlines due at `now_ms`.
    pub fn handle_timeout(&mut self, now_ms: u64) -> Vec<GroupOutput> {
        self.coordinator.handle_timeout(now_ms)
    }

    /// When [`HostedGroups::handle_timeout`] is due next, if anything waits.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.coordinator.poll_timeout()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn entry(partition: i32, offset: i64) -> CommitEntry {
        CommitEntry {
            topic: String::from("t"),
            partition,
            offset,
            leader_epoch: -1,
            metadata: String::new(),
        }
    }

    fn shown(groups: &HostedGroups, partition: i32) -> Option<i64> {
        groups
            .offsets()
            .fetch("g", "t", partition)
            .map(|c| c.offset)
    }

    fn commit(groups: &HostedGroups, entries: Vec<CommitEntry>) -> CommitPlan {
        groups
            .prepare_commit(5, "g", -1, "", entries, |t, p| t == "t" && p < 2)
            .expect("a standalone commit to a group with no members")
    }

    #[test]
    fn a_commit_is_shown_only_once_its_write_is_replicated() {
        // Kafka exposes a commit when its acks=all append to __consumer_offsets completes
        // (GroupMetadataManager.storeOffsets puts it in the cache in the append's callback):
        // an OffsetFetch before that answers the older commit.
        let mut groups = HostedGroups::new(GroupConfig::default());
        let first = commit(&groups, vec![entry(0, 10)]);
        assert_eq!(first.codes, vec![error_code::NONE]);
        groups.handle_commit_replicated(7, &first);
        let second = commit(&groups, vec![entry(0, 20)]);
        assert_eq!(shown(&groups, 0), Some(10), "written, not yet replicated");
        groups.handle_commit_replicated(8, &second);
        assert_eq!(shown(&groups, 0), Some(20));
        assert_eq!(second.answer(error_code::NONE), vec![error_code::NONE]);
    }

    #[test]
    fn a_failed_write_answers_the_coordinator_codes() {
        // Kafka: a commit whose append fails answers COORDINATOR_NOT_AVAILABLE for
        // NOT_ENOUGH_REPLICAS / REQUEST_TIMED_OUT and NOT_COORDINATOR for
        // NOT_LEADER_OR_FOLLOWER; an entry refused on its own keeps its own code
        // (GroupMetadataManager.storeOffsets).
        let groups = HostedGroups::new(GroupConfig::default());
        let mut too_long = entry(1, 3);
        too_long.metadata = "x".repeat(crate::offsets::METADATA_MAX_BYTES + 1);
        let plan = commit(&groups, vec![entry(0, 10), too_long, entry(9, 1)]);
        assert_eq!(
            plan.codes,
            vec![
                error_code::NONE,
                error_code::OFFSET_METADATA_TOO_LARGE,
                error_code::UNKNOWN_TOPIC_OR_PARTITION
            ]
        );
        assert_eq!(plan.records.len(), 1, "only the valid entry is written");
        assert_eq!(
            plan.answer(error_code::REQUEST_TIMED_OUT),
            vec![
                error_code::COORDINATOR_NOT_AVAILABLE,
                error_code::OFFSET_METADATA_TOO_LARGE,
                error_code::UNKNOWN_TOPIC_OR_PARTITION
            ]
        );
        assert_eq!(
            plan.answer(error_code::NOT_LEADER_OR_FOLLOWER)[0],
            error_code::NOT_COORDINATOR
        );
        assert_eq!(
            shown(&groups, 0),
            None,
            "an unreplicated write is never shown"
        );
    }

    #[test]
    fn commits_are_shown_in_log_order_whatever_order_their_replication_is_reported_in() {
        let mut groups = HostedGroups::new(GroupConfig::default());
        let first = commit(&groups, vec![entry(0, 10)]);
        let second = commit(&groups, vec![entry(0, 20)]);
        groups.handle_commit_replicated(1, &second);
        assert_eq!(shown(&groups, 0), Some(20));
        groups.handle_commit_replicated(0, &first); // a late report of the earlier write
        assert_eq!(shown(&groups, 0), Some(20), "the later write wins");
    }

    #[test]
    fn a_new_coordinator_rebuilds_the_commits_from_the_log_and_a_resigned_one_forgets_them() {
        // Kafka: the new leader of an offsets partition loads it (loadGroupsAndOffsets); the
        // old one removes the partition's groups (removeGroupsForPartition).
        let mut old = HostedGroups::new(GroupConfig::default());
        let plan = commit(&old, vec![entry(0, 10), entry(1, 4)]);
        old.handle_commit_replicated(0, &plan);
        let mut log: Vec<(i64, Vec<u8>, Option<Vec<u8>>)> = plan
            .records
            .iter()
            .enumerate()
            .map(|(i, (k, v))| (i as i64, k.clone(), Some(v.clone())))
            .collect();
        // A later deletion of partition 1's commit, and a record that is no commit.
        let (key, _) = decode_commit(&plan.records[1].0, None).expect("a commit key");
        log.push((2, crate::offsets::encode_key(&key), None));
        log.push((3, vec![0, 9, 9], Some(vec![1])));
        let mut new = HostedGroups::new(GroupConfig::default());
        let elected = new.handle_elected(GroupConfig::default(), log, 4, 4);
        assert_eq!(
            elected.skipped.iter().map(|(o, _)| *o).collect::<Vec<_>>(),
            vec![3]
        );
        assert_eq!((shown(&new, 0), shown(&new, 1)), (Some(10), None));
        // A late report of a write older than what was loaded changes nothing.
        let older = commit(&new, vec![entry(0, 1)]);
        new.handle_commit_replicated(-1, &older);
        assert_eq!(shown(&new, 0), Some(10), "the log's later commit stays");
        old.handle_resigned(GroupConfig::default());
        assert_eq!(shown(&old, 0), None);
    }

    #[test]
    fn a_new_coordinator_serves_nothing_until_what_it_loaded_is_replicated() {
        // A new leader's log may end with records the old leader wrote and never acknowledged
        // (they reached this follower, not the whole ISR): they can still be truncated away
        // if leadership moves again. Kafka answers COORDINATOR_LOAD_IN_PROGRESS while a
        // coordinator loads (GroupMetadataManager.isGroupLoading); runnel's load ends when the
        // high watermark reaches the log end it loaded to.
        let writer = HostedGroups::new(GroupConfig::default());
        let plan = commit(&writer, vec![entry(0, 10)]);
        let log = plan
            .records
            .iter()
            .map(|(k, v)| (0_i64, k.clone(), Some(v.clone())));
        let mut new = HostedGroups::new(GroupConfig::default());
        new.handle_elected(GroupConfig::default(), log, 1, 0);
        assert_eq!(
            new.check_ready(),
            Err(GroupError::CoordinatorLoadInProgress)
        );
        assert_eq!(
            GroupError::CoordinatorLoadInProgress.kafka_error_code(),
            error_code::COORDINATOR_LOAD_IN_PROGRESS
        );
        assert_eq!(
            new.prepare_commit(5, "g", -1, "", vec![entry(0, 11)], |_, _| true),
            Err(GroupError::CoordinatorLoadInProgress),
            "no commit is taken while loading"
        );
        new.handle_high_watermark(0);
        assert!(
            new.check_ready().is_err(),
            "the HW has not reached the load"
        );
        new.handle_high_watermark(1);
        assert_eq!(new.check_ready(), Ok(()));
        assert_eq!(shown(&new, 0), Some(10));
    }

    #[test]
    fn a_resigned_coordinator_answers_not_coordinator_not_an_empty_store() {
        // Kafka answers NOT_COORDINATOR once a group's partition is no longer local
        // (GroupMetadataManager.removeGroupsForPartition, then isGroupLocal false): an
        // OffsetFetch that reached a coordinator as it resigned must not read "no offset"
        // (the consumer would reset its position) from the store it just emptied.
        let mut groups = HostedGroups::new(GroupConfig::default());
        let plan = commit(&groups, vec![entry(0, 5)]);
        let log: Vec<_> = plan
            .records
            .iter()
            .map(|(k, v)| (0_i64, k.clone(), Some(v.clone())))
            .collect();
        groups.handle_commit_replicated(0, &plan);
        assert_eq!(groups.check_ready(), Ok(()));
        groups.handle_resigned(GroupConfig::default());
        assert_eq!(groups.check_ready(), Err(GroupError::NotCoordinator));
        assert_eq!(
            groups.prepare_commit(5, "g", -1, "", vec![entry(0, 6)], |_, _| true),
            Err(GroupError::NotCoordinator),
            "a resigned coordinator takes no commit"
        );
        groups.handle_elected(GroupConfig::default(), log, 1, 1);
        assert_eq!(groups.check_ready(), Ok(()), "elected again, it serves");
        assert_eq!(shown(&groups, 0), Some(5));
    }

    #[test]
    fn the_leader_of_the_offsets_partition_coordinates() {
        // Kafka: the coordinator of a group is the leader of its __consumer_offsets
        // partition; becoming leader (also in a new epoch) loads, losing it resigns
        // (GroupCoordinator.onElection / onResignation).
        use crate::replica::FollowerStart;
        let follower = RoleChange::Follower(FollowerStart::Fetch(3));
        assert_eq!(
            CoordinatorMove::of(false, Some(&RoleChange::Leader), true),
            Some(CoordinatorMove::Elected)
        );
        assert_eq!(
            CoordinatorMove::of(true, Some(&RoleChange::Leader), true),
            Some(CoordinatorMove::Elected),
            "a new leader epoch loads again"
        );
        assert_eq!(
            CoordinatorMove::of(true, Some(&follower), false),
            Some(CoordinatorMove::Resigned)
        );
        assert_eq!(
            CoordinatorMove::of(true, Some(&RoleChange::Offline), false),
            Some(CoordinatorMove::Resigned)
        );
        assert_eq!(CoordinatorMove::of(false, Some(&follower), false), None);
        assert_eq!(
            CoordinatorMove::of(true, Some(&RoleChange::Unchanged), true),
            None
        );
    }

    /// Kafka's `GroupMetadata.removeOffsets` drops a deleted topic's commits that an open
    /// transaction holds too: its commit marker later shows none of them.
    #[test]
    fn a_deleted_topics_commits_held_by_an_open_transaction_are_dropped() {
        let mut groups = HostedGroups::new(GroupConfig::default());
        groups.handle_txn_commit_written(42, 7, commit(&groups, vec![entry(0, 7)]));
        assert!(groups.has_pending_txn_commit("g", "t", 0));
        assert_eq!(
            groups.forget_topic("t"),
            vec![],
            "nothing committed to tombstone"
        );
        assert!(!groups.has_pending_txn_commit("g", "t", 0));
        groups.handle_txn_marker(42, true);
        assert_eq!(shown(&groups, 0), None, "the commit marker shows nothing");
    }

    #[test]
    fn a_forgotten_commit_is_gone_and_a_later_one_is_shown_again() {
        let mut groups = HostedGroups::new(GroupConfig::default());
        let plan = commit(&groups, vec![entry(0, 10), entry(1, 4)]);
        groups.handle_commit_replicated(5, &plan);
        assert!(groups.forget("g", "t", 0));
        assert_eq!(
            groups.forget_topic("t"),
            vec![OffsetKey {
                group: "g".into(),
                topic: "t".into(),
                partition: 1
            }],
            "the commits whose tombstones the coordinator writes"
        );
        assert_eq!((shown(&groups, 0), shown(&groups, 1)), (None, None));
        let again = commit(&groups, vec![entry(0, 2)]);
        groups.handle_commit_replicated(1, &again);
        assert_eq!(
            shown(&groups, 0),
            Some(2),
            "a deleted commit does not outrank a new one"
        );
    }

    #[test]
    fn a_member_commit_to_an_unknown_group_is_refused_and_writes_nothing() {
        let groups = HostedGroups::new(GroupConfig::default());
        assert_eq!(
            groups
                .prepare_commit(0, "g", 3, "nobody", vec![entry(0, 1)], |_, _| true)
                .map(|p| p.codes),
            Err(GroupError::IllegalGeneration),
            "an unknown group refuses a member's generation"
        );
    }
}
