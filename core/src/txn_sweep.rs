//! A seeded sweep of transactions (KIP-98, KIP-447) through the same core machines a node
//! runs: the transaction coordinator ([`HostedTransactions`]), partitions
//! ([`HostedPartition`], with their [`crate::txn::TxnIndex`]) and the group coordinator's
//! transactional offset commits ([`HostedGroups`]).
//!
//! The seed picks a schedule of steps for two transactional ids: new producer instances
//! (fencing the old ones), partitions and offsets added, transactional writes (also to
//! partitions never added, and from fenced instances), offset commits inside transactions,
//! commits and aborts, instances that crash mid-transaction, time passing past
//! `transaction.timeout.ms`, markers written late and in any order between transactions,
//! transaction coordinator moves (sometimes with a transition written to
//! `__transaction_state` that the old coordinator never applied) and group coordinator moves.
//! Then a **liveness phase**: no new work, time passes every timeout, every marker is written.
//!
//! Invariants, checked after every step by a `read_committed` reader that filters as Kafka's
//! consumer does (the aborted transactions the fetch lists, then the markers):
//! - the last stable offset never passes the high watermark;
//! - no record of an aborted transaction, or of one not yet committed, is ever read;
//! - a record from a fenced instance, or to a partition its transaction did not add, is never
//!   written (KIP-890 part 1);
//! - no committed offset of an aborted transaction is ever shown.
//!
//! And at the end: every partition's last stable offset is its high watermark (nothing stays
//! blocked behind an expired transaction), every committed transaction's records are all read
//! and the group shows each id's last committed offset.
//!
//! Network faults, broker crashes and replication are the simulator's ([`crate::sim`]); this
//! sweep has one replica per partition, so a coordinator move here reloads from a log that
//! holds everything written.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::batch::{BatchBuilder, NoCodec, batches};
use crate::broker::transactions::TRANSACTION_MAX_TIMEOUT_MS;
use crate::broker::{
    CommitEntry, HostConfig, HostedGroups, HostedPartition, HostedTransactions, MarkerJob, TxnPlan,
    TxnState, TxnTransition,
};
use crate::controller::PartitionState;
use crate::error_code;
use crate::group::GroupConfig;
use crate::replica::{Acks, Replica, ReplicaConfig};
use crate::rng::Rng;
use crate::txn::ControlType;

/// A transaction coordinator as the sweep's brokers configure it.
fn coordinator() -> HostedTransactions {
    HostedTransactions::new(TRANSACTION_MAX_TIMEOUT_MS).with_id_expiration_ms(ID_EXPIRATION_MS)
}

/// The data topic's partitions.
const PARTITIONS: i32 = 3;
const TOPIC: &str = "t";
const OFFSETS: &str = "__consumer_offsets";
const GROUP: &str = "g";
/// Steps in the safety phase.
const STEPS: usize = 400;
/// The transactional ids.
const IDS: [&str; 2] = ["a", "b"];
/// Each producer's `transaction.timeout.ms`.
const TIMEOUT_MS: i32 = 5_000;
/// The coordinator's `transactional.id.expiration.ms`: short, so idle ids expire (and their
/// old instances meet INVALID_PRODUCER_ID_MAPPING) within a case.
const ID_EXPIRATION_MS: i64 = 8_000;

/// The outcome of one seed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxnCaseResult {
    /// The seed.
    pub seed: u64,
    /// Transactions committed (by EndTxn).
    pub committed: u32,
    /// Transactions aborted (by EndTxn, a new instance, or expiry).
    pub aborted: u32,
    /// Of those, aborted by the coordinator because they expired.
    pub expired: u32,
    /// Transactional ids that went Dead, idle for `transactional.id.expiration.ms`.
    pub ids_expired: u32,
    /// Writes refused because the instance was fenced or the partition not added.
    pub refused_writes: u32,
    /// Transaction coordinator moves.
    pub coordinator_moves: u32,
    /// What broke, in words (empty: the case passed).
    pub violations: Vec<String>,
}

impl TxnCaseResult {
    /// Whether no invariant broke.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// What became of a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    Open,
    Committed,
    Aborted,
}

/// One producer instance (a process with a transactional id).
#[derive(Clone, Debug)]
struct Instance {
    producer_id: i64,
    epoch: i16,
    /// The transaction this instance has open (an index into `Run::txns`), if any.
    txn: Option<usize>,
    /// Next sequence per partition (the offsets partition does not count).
    sequences: BTreeMap<i32, i32>,
}

/// One transaction as the sweep knows it: which id, its fate, what it wrote.
#[derive(Clone, Debug)]
struct Txn {
    id: usize,
    fate: Fate,
    /// Record values it wrote (unique across the run).
    values: Vec<u64>,
    /// The offset it committed for its id's group partition, if any.
    offset: Option<i64>,
}

struct Run {
    rng: Rng,
    now_ms: u64,
    coordinator: HostedTransactions,
    coordinator_epoch: i32,
    /// `__transaction_state`: every record written, in order.
    state_log: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// The data partitions, then `__consumer_offsets` (index `PARTITIONS`).
    partitions: Vec<HostedPartition>,
    groups: HostedGroups,
    /// Marker jobs handed out, with how many of their partitions are written.
    jobs: Vec<(MarkerJob, usize)>,
    instances: [Option<Instance>; 2],
    /// Fenced instances (the newest few), which try to write anyway.
    zombies: Vec<(usize, Instance)>,
    /// The transaction each id has open at its coordinator (Ongoing), if any.
    open: [Option<usize>; 2],
    txns: Vec<Txn>,
    /// Record value → the transaction that wrote it.
    writer: BTreeMap<u64, usize>,
    next_value: u64,
    next_producer_id: i64,
    next_request: u64,
    result: TxnCaseResult,
}

/// Runs one seed: the safety phase, the liveness phase and the checks.
pub fn run_case(seed: u64) -> TxnCaseResult {
    let mut run = Run::new(seed);
    for _ in 0..STEPS {
        run.step();
        run.check_reads();
        if run.result.violations.len() > 5 {
            break;
        }
    }
    run.settle();
    run.check_end();
    run.result
}

impl Run {
    fn new(seed: u64) -> Self {
        let partitions = (0..=PARTITIONS)
            .map(|_| {
                let mut replica = Replica::new(0, ReplicaConfig::default());
                let state = PartitionState {
                    replicas: alloc::vec![0],
                    leader: Some(0),
                    leader_epoch: 0,
                    isr: alloc::vec![0],
                    partition_epoch: 0,
                };
                let _ = replica.apply_metadata(&state, 0);
                HostedPartition::new(replica, HostConfig::default(), 0)
            })
            .collect();
        Self {
            rng: Rng::new(seed),
            now_ms: 1_000,
            coordinator: coordinator(),
            coordinator_epoch: 0,
            state_log: Vec::new(),
            partitions,
            groups: HostedGroups::new(GroupConfig::default()),
            jobs: Vec::new(),
            instances: [None, None],
            zombies: Vec::new(),
            open: [None, None],
            txns: Vec::new(),
            writer: BTreeMap::new(),
            next_value: 0,
            next_producer_id: 1_000,
            next_request: 0,
            result: TxnCaseResult {
                seed,
                ..TxnCaseResult::default()
            },
        }
    }

    fn violation(&mut self, what: String) {
        self.result
            .violations
            .push(format!("t={} {what}", self.now_ms));
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.rng.below(100) < percent
    }

    /// One random step of the safety phase.
    fn step(&mut self) {
        self.now_ms += self.rng.below(300);
        let id = self.rng.below(IDS.len() as u64) as usize;
        match self.rng.below(100) {
            0..=9 => self.init(id),
            10..=34 => self.write(id),
            35..=44 => self.add_offsets_and_commit_them(id),
            45..=54 => self.end(id),
            55..=74 => self.deliver_marker(),
            75..=79 => self.crash(id),
            80..=84 => self.write_as_zombie(id),
            85..=89 => self.expire(),
            90..=93 => self.move_coordinator(),
            94..=96 => self.move_group_coordinator(),
            _ => self.write_unadded(id),
        }
    }

    // ---- the coordinator's writes ----

    /// Writes `transition` to `__transaction_state` and applies it (core's contract). With a
    /// small chance the coordinator moves between the write and the apply: the new one loads
    /// it from the log, so it counts all the same (a client's retry finds it done).
    fn write_transition(&mut self, transition: &TxnTransition) {
        self.state_log.push(transition.record.clone());
        self.note(transition);
        if self.chance(3) {
            self.move_coordinator();
            return;
        }
        if let Some(job) = self.coordinator.handle_written(transition) {
            self.jobs.push((job, 0));
        }
    }

    /// What a written transition decides for the sweep's bookkeeping: a prepared end fixes
    /// the fate of the id's open transaction.
    fn note(&mut self, transition: &TxnTransition) {
        let Some(id) = IDS
            .iter()
            .position(|i| *i == transition.after.transactional_id)
        else {
            return;
        };
        let fate = match transition.after.state {
            TxnState::PrepareCommit => Fate::Committed,
            TxnState::PrepareAbort => Fate::Aborted,
            _ => return,
        };
        if let Some(txn) = self.open[id].take() {
            self.txns[txn].fate = fate;
            if fate == Fate::Committed {
                self.result.committed += 1;
            } else {
                self.result.aborted += 1;
            }
        }
        if let Some(instance) = &mut self.instances[id] {
            instance.txn = None;
        }
    }

    /// Carries out a coordinator's plan: `Ok(true)` if the request succeeded, `Ok(false)` if
    /// the client must retry (CONCURRENT_TRANSACTIONS after a write), or the error.
    fn run_plan(&mut self, plan: Result<TxnPlan, i16>) -> Result<bool, i16> {
        match plan? {
            TxnPlan::Done => Ok(true),
            TxnPlan::Write(t) => {
                self.write_transition(&t);
                Ok(true)
            }
            TxnPlan::WriteThenRetry(t) => {
                self.write_transition(&t);
                Ok(false)
            }
        }
    }

    /// The instance of `id` was told it is fenced: it becomes a zombie.
    fn fence(&mut self, id: usize) {
        if let Some(instance) = self.instances[id].take() {
            self.zombies.push((id, instance));
            if self.zombies.len() > 4 {
                self.zombies.remove(0);
            }
        }
    }

    /// Reacts to a coordinator's error as a client does: fenced codes end the instance.
    fn on_error(&mut self, id: usize, code: i16) {
        if matches!(
            code,
            error_code::PRODUCER_FENCED
                | error_code::INVALID_PRODUCER_EPOCH
                | error_code::INVALID_PRODUCER_ID_MAPPING
        ) {
            self.fence(id);
        }
    }

    // ---- producer steps ----

    /// A new instance of `id` (or the first): InitProducerId, which fences the old one.
    fn init(&mut self, id: usize) {
        let mut next = self.next_producer_id;
        let plan = self.coordinator.prepare_init_producer_id(
            IDS[id],
            TIMEOUT_MS,
            None,
            self.now_ms as i64,
            &mut || {
                next += 1;
                next
            },
        );
        self.next_producer_id = next;
        if !matches!(self.run_plan(plan), Ok(true)) {
            return; // retried at a later step, as clients retry CONCURRENT_TRANSACTIONS
        }
        let Some(txn) = self.coordinator.describe(IDS[id]) else {
            return;
        };
        let (producer_id, epoch) = (txn.producer_id, txn.producer_epoch);
        if let Some(old) = &self.instances[id]
            && old.producer_id == producer_id
            && old.epoch >= epoch
        {
            self.violation(format!(
                "{}: InitProducerId did not bump the epoch",
                IDS[id]
            ));
        }
        self.fence(id);
        self.instances[id] = Some(Instance {
            producer_id,
            epoch,
            txn: None,
            sequences: BTreeMap::new(),
        });
    }

    /// Adds `partition` to `id`'s transaction (AddPartitionsToTxn); whether it holds it now.
    fn add(&mut self, id: usize, partition: (&str, i32)) -> bool {
        let Some(instance) = &self.instances[id] else {
            return false;
        };
        let (producer_id, epoch) = (instance.producer_id, instance.epoch);
        let plan = self.coordinator.prepare_add_partitions(
            IDS[id],
            producer_id,
            epoch,
            &[(partition.0.to_string(), partition.1)],
            self.now_ms as i64,
        );
        match self.run_plan(plan) {
            Ok(true) => {
                let open = match self.open[id] {
                    Some(t) => t,
                    None => {
                        self.txns.push(Txn {
                            id,
                            fate: Fate::Open,
                            values: Vec::new(),
                            offset: None,
                        });
                        let t = self.txns.len() - 1;
                        self.open[id] = Some(t);
                        t
                    }
                };
                if let Some(instance) = &mut self.instances[id] {
                    instance.txn = Some(open);
                }
                true
            }
            Ok(false) => false,
            Err(code) => {
                self.on_error(id, code);
                false
            }
        }
    }

    /// A transactional record to a random data partition, added first.
    fn write(&mut self, id: usize) {
        let partition = self.rng.below(PARTITIONS as u64) as i32;
        if !self.add(id, (TOPIC, partition)) {
            return;
        }
        let Some(instance) = self.instances[id].clone() else {
            return;
        };
        let Some(txn) = instance.txn else { return };
        if let Err(code) = self.coordinator.verify_partition(
            instance.producer_id,
            instance.epoch,
            (TOPIC, partition),
        ) {
            self.violation(format!(
                "{}: a write to {TOPIC}-{partition} just added was refused ({code})",
                IDS[id]
            ));
            return;
        }
        let sequence = instance.sequences.get(&partition).copied().unwrap_or(0);
        let value = self.next_value;
        self.next_value += 1;
        match self.produce(
            partition,
            instance.producer_id,
            instance.epoch,
            sequence,
            value,
        ) {
            Ok(()) => {
                self.writer.insert(value, txn);
                self.txns[txn].values.push(value);
                if let Some(i) = &mut self.instances[id] {
                    i.sequences.insert(partition, sequence + 1);
                }
            }
            Err(e) => self.violation(format!(
                "{}: a transactional write to {TOPIC}-{partition} was refused: {e}",
                IDS[id]
            )),
        }
    }

    /// Appends one transactional record `value` to data partition `partition` as leader.
    fn produce(
        &mut self,
        partition: i32,
        producer_id: i64,
        epoch: i16,
        sequence: i32,
        value: u64,
    ) -> Result<(), String> {
        let text = value.to_string();
        let mut builder = BatchBuilder::new(0)
            .producer(producer_id, epoch, sequence)
            .transactional(true);
        builder.push(self.now_ms as i64, None, Some(text.as_bytes()), Vec::new());
        let mut bytes = builder.build(&NoCodec).map_err(|e| e.to_string())?;
        self.next_request += 1;
        let (result, _ready) = self.partitions[partition as usize].handle_produce(
            self.now_ms,
            &mut bytes,
            Acks::All,
            self.next_request,
            30_000,
            &NoCodec,
        );
        match result {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err("waiting for an ISR of one".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// A write to a data partition `id`'s open transaction did not add: the coordinator's
    /// check (KIP-890 part 1) must refuse it.
    fn write_unadded(&mut self, id: usize) {
        let Some(instance) = self.instances[id].clone() else {
            return;
        };
        let added: BTreeSet<i32> = self
            .coordinator
            .describe(IDS[id])
            .filter(|t| t.state == TxnState::Ongoing)
            .map(|t| {
                t.partitions
                    .iter()
                    .filter(|(topic, _)| topic == TOPIC)
                    .map(|(_, p)| *p)
                    .collect()
            })
            .unwrap_or_default();
        let Some(partition) = (0..PARTITIONS).find(|p| !added.contains(p)) else {
            return;
        };
        match self.coordinator.verify_partition(
            instance.producer_id,
            instance.epoch,
            (TOPIC, partition),
        ) {
            Ok(()) => self.violation(format!(
                "{}: a write to {TOPIC}-{partition}, never added, was let through",
                IDS[id]
            )),
            Err(_) => self.result.refused_writes += 1,
        }
    }

    /// A fenced instance of `id` tries to write: the coordinator's check must refuse it.
    fn write_as_zombie(&mut self, id: usize) {
        let Some((_, zombie)) = self.zombies.iter().rev().find(|(z, _)| *z == id).cloned() else {
            return;
        };
        let partition = self.rng.below(PARTITIONS as u64) as i32;
        let current = self
            .coordinator
            .describe(IDS[id])
            .map(|t| (t.producer_id, t.producer_epoch));
        if current == Some((zombie.producer_id, zombie.epoch)) {
            return; // not fenced after all (its successor's InitProducerId did not count)
        }
        match self.coordinator.verify_partition(
            zombie.producer_id,
            zombie.epoch,
            (TOPIC, partition),
        ) {
            Ok(()) => self.violation(format!(
                "{}: a fenced instance (epoch {}) may write to {TOPIC}-{partition}",
                IDS[id], zombie.epoch
            )),
            Err(_) => self.result.refused_writes += 1,
        }
    }

    /// AddOffsetsToTxn, then a TxnOffsetCommit of the next offset for the id's own group
    /// partition, written to `__consumer_offsets` as a transactional batch.
    fn add_offsets_and_commit_them(&mut self, id: usize) {
        if self.instances[id].as_ref().is_none_or(|i| i.txn.is_none()) {
            return; // only inside a transaction that wrote something
        }
        if !self.add(id, (OFFSETS, 0)) {
            return;
        }
        let Some(instance) = self.instances[id].clone() else {
            return;
        };
        let Some(txn) = instance.txn else { return };
        let offset = self.next_value as i64;
        let entry = CommitEntry {
            topic: "in".to_string(),
            partition: id as i32,
            offset,
            leader_epoch: -1,
            metadata: String::new(),
        };
        let plan = match self.groups.prepare_txn_commit(
            self.now_ms,
            GROUP,
            -1,
            "",
            alloc::vec![entry],
            |_, _| true,
        ) {
            Ok(plan) => plan,
            Err(e) => {
                self.violation(format!("{}: TxnOffsetCommit refused: {e}", IDS[id]));
                return;
            }
        };
        let mut builder = BatchBuilder::new(0)
            .producer(instance.producer_id, instance.epoch, -1)
            .transactional(true);
        for (key, value) in &plan.records {
            builder.push(self.now_ms as i64, Some(key), Some(value), Vec::new());
        }
        let Ok(mut bytes) = builder.build(&NoCodec) else {
            return;
        };
        self.next_request += 1;
        let (result, _ready) = self.partitions[PARTITIONS as usize].handle_produce(
            self.now_ms,
            &mut bytes,
            Acks::All,
            self.next_request,
            30_000,
            &NoCodec,
        );
        match result {
            Ok(Some(base)) => {
                self.groups
                    .handle_txn_commit_written(instance.producer_id, base, plan);
                self.txns[txn].offset = Some(offset);
            }
            other => self.violation(format!("{}: TxnOffsetCommit write: {other:?}", IDS[id])),
        }
    }

    /// EndTxn: commit (most of the time) or abort `id`'s open transaction.
    fn end(&mut self, id: usize) {
        let Some(instance) = self.instances[id].clone() else {
            return;
        };
        if instance.txn.is_none() {
            return;
        }
        let commit = self.chance(65);
        let plan = self.coordinator.prepare_end_txn(
            IDS[id],
            instance.producer_id,
            instance.epoch,
            commit,
            self.now_ms as i64,
        );
        if let Err(code) = self.run_plan(plan) {
            self.on_error(id, code);
        }
    }

    /// `id`'s instance dies, maybe mid-transaction; its transaction stays open at the
    /// coordinator until a new instance or its timeout aborts it.
    fn crash(&mut self, id: usize) {
        self.instances[id] = None;
    }

    /// Time passes, maybe past `transaction.timeout.ms`: expired transactions are aborted.
    fn expire(&mut self) {
        self.now_ms += self.rng.below(2 * TIMEOUT_MS as u64);
        let due = self.coordinator.handle_timeout(self.now_ms as i64);
        self.write_due(due);
    }

    /// Writes what the coordinator's timeout found due: aborts of expired transactions (and
    /// completions written again), and tombstones of expired ids.
    fn write_due(&mut self, due: Vec<TxnTransition>) {
        for transition in due {
            match transition.after.state {
                TxnState::Dead => self.result.ids_expired += 1,
                TxnState::PrepareAbort => self.result.expired += 1,
                _ => {}
            }
            self.write_transition(&transition);
        }
    }

    /// One marker of a random job is written to its partition; a job whose markers are all
    /// written completes the transaction.
    fn deliver_marker(&mut self) {
        if self.jobs.is_empty() {
            return;
        }
        let j = self.rng.below(self.jobs.len() as u64) as usize;
        let (job, done) = self.jobs[j].clone();
        let (topic, partition) = job.partitions[done].clone();
        let index = if topic == OFFSETS {
            PARTITIONS as usize
        } else {
            partition as usize
        };
        self.next_request += 1;
        let (result, _ready) = self.partitions[index].handle_marker(
            self.now_ms,
            job.producer_id,
            job.producer_epoch,
            job.coordinator_epoch,
            job.control,
            self.next_request,
            30_000,
            &NoCodec,
        );
        if let Err(e) = result {
            self.violation(format!("marker to {topic}-{partition} refused: {e}"));
        }
        if topic == OFFSETS {
            let commit = job.control == ControlType::Commit;
            self.groups.handle_txn_marker(job.producer_id, commit);
        }
        if done + 1 < job.partitions.len() {
            self.jobs[j].1 = done + 1;
            return;
        }
        self.jobs.remove(j);
        if let Some(t) = self
            .coordinator
            .handle_markers_written(&job, self.now_ms as i64)
        {
            self.write_transition(&t);
        }
    }

    /// The transaction coordinator moves: a new one loads `__transaction_state` and finishes
    /// the transactions it finds prepared; the old one's marker jobs are gone.
    fn move_coordinator(&mut self) {
        self.coordinator_epoch += 1;
        self.result.coordinator_moves += 1;
        self.jobs.clear();
        let end = self.state_log.len() as i64;
        let records = self.state_log.iter().map(|(k, v)| (k.clone(), v.clone()));
        let mut moved = coordinator();
        let (jobs, skipped) = moved.handle_elected(self.coordinator_epoch, records, end, end);
        if skipped > 0 {
            self.violation(format!("{skipped} transaction records could not be read"));
        }
        self.coordinator = moved;
        self.jobs = jobs.into_iter().map(|j| (j, 0)).collect();
    }

    /// The group coordinator moves: a new one loads `__consumer_offsets`, holding the open
    /// transactions' commits again.
    fn move_group_coordinator(&mut self) {
        let offsets = &self.partitions[PARTITIONS as usize];
        let Ok(log) = offsets.keyed_records(&NoCodec) else {
            self.violation("__consumer_offsets could not be read".into());
            return;
        };
        let end = offsets.replica().log_end_offset();
        let mut groups = HostedGroups::new(GroupConfig::default());
        let _ = groups.handle_elected(GroupConfig::default(), log.records, end, end);
        groups.restore_pending_txn(log.open_txn);
        self.groups = groups;
    }

    // ---- checks ----

    /// What a read_committed consumer reads of data partition `partition`, as Kafka's
    /// consumer filters it: up to the last stable offset; a transactional batch of a producer
    /// listed as aborted (from that transaction's first offset) is skipped until its abort
    /// marker; control batches are never returned.
    fn read_committed(&self, partition: usize) -> Result<Vec<u64>, String> {
        let replica = self.partitions[partition].replica();
        let lso = replica.last_stable_offset();
        let mut offset = replica.log().log_start_offset();
        let mut aborted = replica.aborted_txns(offset, lso);
        aborted.sort_by_key(|t| t.first_offset);
        let mut aborted = aborted.into_iter().peekable();
        let mut skipping: BTreeSet<i64> = BTreeSet::new();
        let mut out = Vec::new();
        let mut scratch = Vec::new();
        while offset < lso {
            let bytes = replica
                .log()
                .read(offset, 1 << 20, lso)
                .map_err(|e| e.to_string())?;
            if bytes.is_empty() {
                break;
            }
            for batch in batches(&bytes) {
                let batch = batch.map_err(|e| e.to_string())?;
                let h = *batch.header();
                offset = h.next_offset();
                while let Some(t) = aborted.next_if(|t| t.first_offset <= h.base_offset) {
                    skipping.insert(t.producer_id);
                }
                if h.is_control() {
                    if crate::txn::control_type(&batch, &NoCodec) == Some(ControlType::Abort) {
                        skipping.remove(&h.producer_id);
                    }
                    continue;
                }
                if h.is_transactional() && skipping.contains(&h.producer_id) {
                    continue;
                }
                for record in batch
                    .records(&NoCodec, &mut scratch)
                    .map_err(|e| e.to_string())?
                {
                    let record = record.map_err(|e| e.to_string())?;
                    let value = record
                        .value
                        .and_then(|v| core::str::from_utf8(v).ok())
                        .and_then(|v| v.parse().ok())
                        .ok_or("a record that is not the sweep's")?;
                    out.push(value);
                }
            }
        }
        Ok(out)
    }

    /// The safety invariants (see the module documentation).
    fn check_reads(&mut self) {
        for partition in 0..PARTITIONS as usize {
            let replica = self.partitions[partition].replica();
            let (lso, hw) = (replica.last_stable_offset(), replica.high_watermark());
            if lso > hw {
                self.violation(format!("{TOPIC}-{partition}: LSO {lso} above HW {hw}"));
            }
            match self.read_committed(partition) {
                Ok(values) => {
                    for value in values {
                        let fate = self.writer.get(&value).map(|t| self.txns[*t].fate);
                        if fate != Some(Fate::Committed) {
                            self.violation(format!(
                                "{TOPIC}-{partition}: read_committed read {value} of a \
                                 transaction that is {fate:?}"
                            ));
                        }
                    }
                }
                Err(e) => self.violation(format!("{TOPIC}-{partition}: {e}")),
            }
        }
        for (id, name) in IDS.iter().enumerate() {
            let Some(shown) = self.groups.offsets().fetch(GROUP, "in", id as i32) else {
                continue;
            };
            let offset = shown.offset;
            let fate = self
                .txns
                .iter()
                .find(|t| t.id == id && t.offset == Some(offset))
                .map(|t| t.fate);
            if fate != Some(Fate::Committed) {
                self.violation(format!(
                    "{}: the group shows offset {offset} of a transaction that is {fate:?}",
                    name
                ));
            }
        }
    }

    /// The liveness phase: no more work; time passes every timeout and every marker is
    /// written, until nothing is left to do.
    fn settle(&mut self) {
        self.instances = [None, None];
        for _ in 0..100 {
            self.now_ms += TIMEOUT_MS as u64 + 1;
            let due = self.coordinator.handle_timeout(self.now_ms as i64);
            let quiet = due.is_empty() && self.jobs.is_empty();
            self.write_due(due);
            while !self.jobs.is_empty() {
                self.deliver_marker();
            }
            if quiet {
                return;
            }
        }
        self.violation("transactions did not settle".into());
    }

    /// The end state (see the module documentation).
    fn check_end(&mut self) {
        self.check_reads();
        let mut read = BTreeSet::new();
        for partition in 0..PARTITIONS as usize {
            let replica = self.partitions[partition].replica();
            let (lso, hw) = (replica.last_stable_offset(), replica.high_watermark());
            if lso != hw {
                self.violation(format!(
                    "{TOPIC}-{partition}: blocked at LSO {lso} below HW {hw} after every \
                     timeout passed"
                ));
            }
            read.extend(self.read_committed(partition).unwrap_or_default());
        }
        for (t, txn) in self.txns.iter().enumerate() {
            if txn.fate == Fate::Committed
                && let Some(missing) = txn.values.iter().find(|v| !read.contains(v))
            {
                let what = format!("committed transaction {t} lost record {missing}");
                self.result.violations.push(what);
            }
        }
        for (id, name) in IDS.iter().enumerate() {
            let expected = self
                .txns
                .iter()
                .filter(|t| t.id == id && t.fate == Fate::Committed)
                .filter_map(|t| t.offset)
                .next_back();
            let shown = self
                .groups
                .offsets()
                .fetch(GROUP, "in", id as i32)
                .map(|c| c.offset);
            if shown != expected {
                self.violation(format!(
                    "{}: the group shows {shown:?}, the last committed transaction {expected:?}",
                    name
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test command's share of the sweep: 1,000 seeds, no violation, and the schedule
    /// reaches every kind of ending (commits, aborts, expiries, expired ids, coordinator
    /// moves, refused writes), so a sweep that silently stopped exercising one would fail here.
    #[test]
    fn a_thousand_seeds_of_transactions_break_no_invariant() {
        let mut totals = TxnCaseResult::default();
        for seed in 0..1_000 {
            let r = run_case(seed);
            assert!(r.passed(), "seed {seed}: {:?}", r.violations);
            totals.committed += r.committed;
            totals.aborted += r.aborted;
            totals.expired += r.expired;
            totals.ids_expired += r.ids_expired;
            totals.refused_writes += r.refused_writes;
            totals.coordinator_moves += r.coordinator_moves;
        }
        assert!(totals.committed > 1_000, "{totals:?}");
        assert!(totals.aborted > 1_000, "{totals:?}");
        assert!(totals.expired > 100, "{totals:?}");
        assert!(totals.ids_expired > 100, "{totals:?}");
        assert!(totals.refused_writes > 100, "{totals:?}");
        assert!(totals.coordinator_moves > 1_000, "{totals:?}");
    }

    #[test]
    fn a_seed_replays_exactly() {
        assert_eq!(run_case(42), run_case(42));
    }
}
