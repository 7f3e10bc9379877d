//! The transaction coordinator as a node hosts it: Kafka's `TransactionCoordinator` with its
//! `TransactionStateManager`, for the node that leads `__transaction_state` (KIP-98). The
//! node (`runnel-node`) and the simulator drive this same code.
//!
//! [`HostedTransactions`] maps each `transactional.id` to a producer id and epoch and to the
//! transaction's state (Kafka's `TransactionState`: Empty, Ongoing, PrepareCommit,
//! PrepareAbort, CompleteCommit, CompleteAbort, Dead, PrepareEpochFence), and decides:
//! - **who may write**: InitProducerId hands out a producer id and bumps its epoch, which
//!   fences every older instance of the same transactional id (PRODUCER_FENCED); one that
//!   finds a transaction still open aborts it first (CONCURRENT_TRANSACTIONS until done);
//! - **what a transaction holds**: AddPartitionsToTxn and AddOffsetsToTxn add partitions,
//!   and a transactional write to a partition not added is refused (KIP-890 part 1,
//!   [`HostedTransactions::verify_partition`]);
//! - **how it ends**: EndTxn moves it to PrepareCommit or PrepareAbort, then markers go to
//!   every partition ([`MarkerJob`]), then it is CompleteCommit or CompleteAbort;
//! - **when it expires**: an Ongoing transaction older than its `transaction.timeout.ms` is
//!   aborted by the coordinator with the epoch bumped ([`HostedTransactions::handle_timeout`]);
//!   a transactional id with no transaction open and no change for
//!   `transactional.id.expiration.ms` goes Dead: a tombstone in `__transaction_state`, then
//!   it is forgotten, and its next InitProducerId gets a new producer id.
//!
//! # The contract
//! Every change is written before it counts, as Kafka's `appendTransactionToLog` does:
//! 1. a `prepare_*` call checks the request and returns a [`TxnTransition`] (the metadata
//!    after the change and its `__transaction_state` record) or the Kafka error to answer.
//!    While a transition is out, other requests for the same id get CONCURRENT_TRANSACTIONS;
//! 2. the driver appends [`TxnTransition::record`] to `__transaction_state` (acks=all);
//! 3. on success it calls [`HostedTransactions::handle_written`], which applies the change
//!    and may return a [`MarkerJob`]; on failure [`HostedTransactions::handle_write_failed`]
//!    and answers the write's error;
//! 4. the driver writes the job's markers to every partition's leader, retrying until each is
//!    written, then calls [`HostedTransactions::handle_markers_written`], which gives the
//!    transition to CompleteCommit or CompleteAbort (back to step 2).
//!
//! A node that becomes the leader of `__transaction_state` rebuilds the map from its records
//! ([`HostedTransactions::handle_elected`]) and finishes the transactions it finds prepared.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::error_code;
use crate::txn::ControlType;

/// Kafka's `transaction.max.timeout.ms` default: the longest `transaction.timeout.ms` a
/// producer may ask for (15 minutes).
pub const TRANSACTION_MAX_TIMEOUT_MS: i32 = 900_000;

/// Kafka's `transactional.id.expiration.ms` default (7 days): how long a transactional id
/// with no transaction open may go unchanged before the coordinator forgets it.
pub const TRANSACTIONAL_ID_EXPIRATION_MS: i64 = 604_800_000;

/// A topic partition in a transaction: (topic, partition index).
pub type TxnPartition = (String, i32);

/// A transaction's state (Kafka's `TransactionState`, with its ids in `__transaction_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TxnState {
    /// No transaction open (a producer id was handed out, or the last one completed long
    /// ago).
    Empty,
    /// Partitions were added: a transaction is open.
    Ongoing,
    /// EndTxn(commit) was accepted: commit markers are being written.
    PrepareCommit,
    /// EndTxn(abort), a timeout or a fence: abort markers are being written.
    PrepareAbort,
    /// Every commit marker is written.
    CompleteCommit,
    /// Every abort marker is written.
    CompleteAbort,
    /// The transactional id expired (`transactional.id.expiration.ms`).
    Dead,
    /// The epoch is being bumped to fence a producer before aborting its transaction.
    PrepareEpochFence,
}

impl TxnState {
    /// The state's id in a `__transaction_state` record (Kafka's `TransactionState.id`).
    pub fn id(self) -> i8 {
        match self {
            Self::Empty => 0,
            Self::Ongoing => 1,
            Self::PrepareCommit => 2,
            Self::PrepareAbort => 3,
            Self::CompleteCommit => 4,
            Self::CompleteAbort => 5,
            Self::Dead => 6,
            Self::PrepareEpochFence => 7,
        }
    }

    /// The state with id `id`, if there is one.
    pub fn from_id(id: i8) -> Option<Self> {
        Some(match id {
            0 => Self::Empty,
            1 => Self::Ongoing,
            2 => Self::PrepareCommit,
            3 => Self::PrepareAbort,
            4 => Self::CompleteCommit,
            5 => Self::CompleteAbort,
            6 => Self::Dead,
            7 => Self::PrepareEpochFence,
            _ => return None,
        })
    }

    /// Kafka's name for the state, as DescribeTransactions and ListTransactions answer it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Empty => "Empty",
            Self::Ongoing => "Ongoing",
            Self::PrepareCommit => "PrepareCommit",
            Self::PrepareAbort => "PrepareAbort",
            Self::CompleteCommit => "CompleteCommit",
            Self::CompleteAbort => "CompleteAbort",
            Self::Dead => "Dead",
            Self::PrepareEpochFence => "PrepareEpochFence",
        }
    }
}

/// One transactional id's state (Kafka's `TransactionMetadata`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnMetadata {
    /// The producer's `transactional.id`.
    pub transactional_id: String,
    /// The producer id handed out for it.
    pub producer_id: i64,
    /// The current epoch; a request with an older one is fenced.
    pub producer_epoch: i16,
    /// The producer's `transaction.timeout.ms`.
    pub timeout_ms: i32,
    /// Where the transaction is.
    pub state: TxnState,
    /// The partitions written in the open transaction (offsets partitions included).
    pub partitions: BTreeSet<TxnPartition>,
    /// When the open transaction began (its first AddPartitionsToTxn), ms since the epoch; -1
    /// when none is open.
    pub start_ms: i64,
    /// When this metadata last changed, ms since the epoch.
    pub update_ms: i64,
}

/// Markers to write: one per partition, all of producer `producer_id` at `producer_epoch`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarkerJob {
    /// The transactional id whose transaction they end.
    pub transactional_id: String,
    /// The producer.
    pub producer_id: i64,
    /// The epoch the markers carry (bumped already when the coordinator aborts on its own).
    pub producer_epoch: i16,
    /// Commit or abort.
    pub control: ControlType,
    /// The coordinator's epoch (the leader epoch of its `__transaction_state` partition).
    pub coordinator_epoch: i32,
    /// Where: every partition of the transaction.
    pub partitions: Vec<TxnPartition>,
}

/// A change to write before it counts (see the module's contract).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnTransition {
    /// The metadata after the change.
    pub after: TxnMetadata,
    /// Its `__transaction_state` record: (key, value); the value is `None` (a tombstone) for
    /// the transition to [`TxnState::Dead`].
    pub record: (Vec<u8>, Option<Vec<u8>>),
}

/// What a prepared request leads to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnPlan {
    /// Nothing to write: answer at once (a retried EndTxn, partitions already added).
    Done,
    /// Write this transition, then answer.
    Write(TxnTransition),
    /// Write this transition (an abort of the open transaction, on a new InitProducerId),
    /// but answer CONCURRENT_TRANSACTIONS: the client retries once it is done.
    WriteThenRetry(TxnTransition),
}

/// A transactional id, its state and its open transaction, as DescribeTransactions
/// (KIP-664) shows it.
pub type TxnDescription = TxnMetadata;

/// The transaction coordinator one node serves (see the module documentation).
#[derive(Debug, Default)]
pub struct HostedTransactions {
    txns: BTreeMap<String, TxnMetadata>,
    /// Producer id → its transactional id (for the per-write check).
    by_producer: BTreeMap<i64, String>,
    /// Transactional ids with a transition out (written, not yet confirmed).
    pending: BTreeSet<String>,
    /// Marker jobs handed out and not yet reported written.
    markers_out: BTreeSet<String>,
    coordinator_epoch: i32,
    max_timeout_ms: i32,
    /// `transactional.id.expiration.ms`.
    id_expiration_ms: i64,
    /// Set while loading: the log end offset of `__transaction_state` when it was loaded.
    /// Until its high watermark reaches it, the loaded records may still be truncated away.
    loading_until: Option<i64>,
}

impl HostedTransactions {
    /// A coordinator with nothing loaded, refusing timeouts above `max_timeout_ms`
    /// (`transaction.max.timeout.ms`).
    pub fn new(max_timeout_ms: i32) -> Self {
        Self {
            max_timeout_ms,
            id_expiration_ms: TRANSACTIONAL_ID_EXPIRATION_MS,
            ..Self::default()
        }
    }

    /// The same coordinator, forgetting idle transactional ids after `id_expiration_ms`
    /// (`transactional.id.expiration.ms`; [`TRANSACTIONAL_ID_EXPIRATION_MS`] by default).
    pub fn with_id_expiration_ms(mut self, id_expiration_ms: i64) -> Self {
        self.id_expiration_ms = id_expiration_ms;
        self
    }

    /// Whether this node serves a transactional request now (Kafka's
    /// `TransactionStateManager.getTransactionState` checks): NOT_COORDINATOR unless it leads
    /// `__transaction_state` (`leads`), COORDINATOR_LOAD_IN_PROGRESS (which clients retry)
    /// until the partition's `high_watermark` reaches the log end it loaded, so no answer
    /// rests on a record a failover could take back. Both bodies ask it before every
    /// InitProducerId with a transactional id, AddPartitionsToTxn, AddOffsetsToTxn and EndTxn.
    pub fn check_coordinator(&mut self, leads: bool, high_watermark: i64) -> Result<(), i16> {
        if !leads {
            return Err(error_code::NOT_COORDINATOR);
        }
        if self.loading_until.is_some_and(|end| high_watermark >= end) {
            self.loading_until = None;
        }
        match self.loading_until {
            Some(_) => Err(error_code::COORDINATOR_LOAD_IN_PROGRESS),
            None => Ok(()),
        }
    }

    /// The state of `transactional_id`, if the coordinator knows it.
    pub fn describe(&self, transactional_id: &str) -> Option<&TxnDescription> {
        self.txns.get(transactional_id)
    }

    /// Every transactional id's state, by id (ListTransactions).
    pub fn list(&self) -> impl Iterator<Item = &TxnMetadata> {
        self.txns.values()
    }

    /// Checks that `producer_id` at `producer_epoch` may write to `partition` in an open
    /// transaction: it must have been added (KIP-890 part 1, Kafka's
    /// `verifyTransaction`). Errors: INVALID_PRODUCER_EPOCH for an older epoch (a fenced
    /// producer), INVALID_TXN_STATE when no transaction of this producer holds the partition.
    pub fn verify_partition(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        partition: (&str, i32),
    ) -> Result<(), i16> {
        let Some(txn) = self
            .by_producer
            .get(&producer_id)
            .and_then(|id| self.txns.get(id))
        else {
            return Err(error_code::INVALID_TXN_STATE);
        };
        if producer_epoch < txn.producer_epoch {
            return Err(error_code::INVALID_PRODUCER_EPOCH);
        }
        let added = txn.state == TxnState::Ongoing
            && producer_epoch == txn.producer_epoch
            && txn
                .partitions
                .iter()
                .any(|(t, p)| t == partition.0 && *p == partition.1);
        if added {
            Ok(())
        } else {
            Err(error_code::INVALID_TXN_STATE)
        }
    }

    fn check_free(&self, transactional_id: &str) -> Result<(), i16> {
        if self.pending.contains(transactional_id) || self.markers_out.contains(transactional_id) {
            return Err(error_code::CONCURRENT_TRANSACTIONS);
        }
        Ok(())
    }

    /// InitProducerId for `transactional_id` with `timeout_ms` at `now_ms`
    /// (`expected`: the producer id and epoch the client has, for a KIP-360 bump; `None` for
    /// a new producer). `new_producer_id` hands out a fresh id. Kafka's
    /// `handleInitProducerId`: an unknown id gets a new producer id at epoch 0; a known one
    /// its epoch bumped (a new producer id when the epoch is exhausted), fencing older
    /// instances; an open transaction is aborted first ([`TxnPlan::WriteThenRetry`]).
    /// Errors: INVALID_REQUEST (an empty id), INVALID_TRANSACTION_TIMEOUT (≤ 0 or above
    /// `transaction.max.timeout.ms`), CONCURRENT_TRANSACTIONS (markers still being
    /// written), PRODUCER_FENCED (`expected` is not the current producer).
    pub fn prepare_init_producer_id(
        &mut self,
        transactional_id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
        now_ms: i64,
        new_producer_id: &mut dyn FnMut() -> i64,
    ) -> Result<TxnPlan, i16> {
        if transactional_id.is_empty() {
            return Err(error_code::INVALID_REQUEST);
        }
        if timeout_ms <= 0 || timeout_ms > self.max_timeout_ms {
            return Err(error_code::INVALID_TRANSACTION_TIMEOUT);
        }
        self.check_free(transactional_id)?;
        let Some(current) = self.txns.get(transactional_id) else {
            let after = TxnMetadata {
                transactional_id: transactional_id.to_string(),
                producer_id: new_producer_id(),
                producer_epoch: 0,
                timeout_ms,
                state: TxnState::Empty,
                partitions: BTreeSet::new(),
                start_ms: -1,
                update_ms: now_ms,
            };
            return Ok(TxnPlan::Write(self.transition(after)));
        };
        if let Some((id, epoch)) = expected {
            // A retry of a bump that was done (its answer lost): the epoch it got (Kafka's
            // `lastProducerEpoch` check).
            let retried = id == current.producer_id
                && epoch.checked_add(1) == Some(current.producer_epoch)
                && current.state == TxnState::Empty;
            if retried {
                return Ok(TxnPlan::Done);
            }
            if id != current.producer_id || epoch != current.producer_epoch {
                return Err(error_code::PRODUCER_FENCED);
            }
        }
        let mut after = current.clone();
        after.update_ms = now_ms;
        match current.state {
            TxnState::PrepareCommit
            | TxnState::PrepareAbort
            | TxnState::PrepareEpochFence
            | TxnState::Dead => Err(error_code::CONCURRENT_TRANSACTIONS),
            TxnState::Ongoing => {
                // Fence the old instance and abort what it left open; the new one retries.
                after.producer_epoch = current.producer_epoch.saturating_add(1);
                after.state = TxnState::PrepareAbort;
                Ok(TxnPlan::WriteThenRetry(self.transition(after)))
            }
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort => {
                if current.producer_epoch >= i16::MAX - 1 {
                    after.producer_id = new_producer_id();
                    after.producer_epoch = 0;
                } else {
                    after.producer_epoch = current.producer_epoch + 1;
                }
                after.timeout_ms = timeout_ms;
                after.state = TxnState::Empty;
                after.partitions.clear();
                after.start_ms = -1;
                Ok(TxnPlan::Write(self.transition(after)))
            }
        }
    }

    /// Checks that the request's producer is the current one of `transactional_id`.
    fn check_producer(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
    ) -> Result<&TxnMetadata, i16> {
        let txn = self
            .txns
            .get(transactional_id)
            .filter(|t| t.producer_id == producer_id)
            .ok_or(error_code::INVALID_PRODUCER_ID_MAPPING)?;
        if producer_epoch != txn.producer_epoch {
            return Err(error_code::PRODUCER_FENCED);
        }
        self.check_free(transactional_id)?;
        Ok(txn)
    }

    /// AddPartitionsToTxn (and AddOffsetsToTxn, with the group's offsets partition): the
    /// transaction holds `partitions` from now on, and is Ongoing. Kafka's
    /// `handleAddPartitionsToTransaction`. Errors: INVALID_PRODUCER_ID_MAPPING (an unknown id
    /// or another producer id), PRODUCER_FENCED (another epoch), CONCURRENT_TRANSACTIONS (the
    /// last transaction's markers are still being written).
    pub fn prepare_add_partitions(
        &mut self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        partitions: &[TxnPartition],
        now_ms: i64,
    ) -> Result<TxnPlan, i16> {
        let txn = self.check_producer(transactional_id, producer_id, producer_epoch)?;
        match txn.state {
            TxnState::PrepareCommit | TxnState::PrepareAbort => {
                return Err(error_code::CONCURRENT_TRANSACTIONS);
            }
            TxnState::Dead | TxnState::PrepareEpochFence => {
                return Err(error_code::INVALID_TXN_STATE);
            }
            _ => {}
        }
        if txn.state == TxnState::Ongoing && partitions.iter().all(|p| txn.partitions.contains(p)) {
            return Ok(TxnPlan::Done);
        }
        let mut after = txn.clone();
        if after.state != TxnState::Ongoing {
            after.partitions.clear();
            after.start_ms = now_ms;
        }
        after.state = TxnState::Ongoing;
        after.partitions.extend(partitions.iter().cloned());
        after.update_ms = now_ms;
        Ok(TxnPlan::Write(self.transition(after)))
    }

    /// EndTxn: commit (`commit`) or abort the open transaction. Kafka's `endTransaction`:
    /// Ongoing moves to PrepareCommit or PrepareAbort (answered once written; the markers
    /// follow); a retry of an end already done answers success. Errors:
    /// INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED, CONCURRENT_TRANSACTIONS (the same end
    /// is still being written), INVALID_TXN_STATE (nothing open, or the other end).
    pub fn prepare_end_txn(
        &mut self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        now_ms: i64,
    ) -> Result<TxnPlan, i16> {
        let txn = match self.check_producer(transactional_id, producer_id, producer_epoch) {
            Err(error_code::CONCURRENT_TRANSACTIONS) if self.pending.contains(transactional_id) => {
                // A transition is being written (another instance's InitProducerId aborting
                // this transaction, say): retry once it is written, then see its outcome
                // (Kafka's `handleEndTransaction`: `pendingTransitionInProgress`).
                return Err(error_code::CONCURRENT_TRANSACTIONS);
            }
            Err(error_code::CONCURRENT_TRANSACTIONS) => {
                // Its markers are being written: a retry of the same end waits for them, the
                // other end is refused (Kafka's answers in PrepareCommit and PrepareAbort).
                let state = self.txns.get(transactional_id).map(|t| t.state);
                let same = matches!(
                    (state, commit),
                    (
                        Some(TxnState::PrepareCommit | TxnState::CompleteCommit),
                        true
                    ) | (
                        Some(TxnState::PrepareAbort | TxnState::CompleteAbort),
                        false
                    )
                );
                return Err(if same {
                    error_code::CONCURRENT_TRANSACTIONS
                } else {
                    error_code::INVALID_TXN_STATE
                });
            }
            other => other?,
        };
        match (txn.state, commit) {
            (TxnState::Ongoing, _) => {
                let mut after = txn.clone();
                after.state = if commit {
                    TxnState::PrepareCommit
                } else {
                    TxnState::PrepareAbort
                };
                after.update_ms = now_ms;
                Ok(TxnPlan::Write(self.transition(after)))
            }
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => {
                Ok(TxnPlan::Done)
            }
            (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => {
                Err(error_code::CONCURRENT_TRANSACTIONS)
            }
            _ => Err(error_code::INVALID_TXN_STATE),
        }
    }

    /// Marks `after`'s id as having a transition out and builds its record.
    fn transition(&mut self, after: TxnMetadata) -> TxnTransition {
        self.pending.insert(after.transactional_id.clone());
        let record = match after.state {
            TxnState::Dead => (encode_key(&after.transactional_id), None),
            _ => {
                let (key, value) = encode(&after);
                (key, Some(value))
            }
        };
        TxnTransition { after, record }
    }

    /// The transition `transition` is written (replicated): it counts now. A prepared end
    /// returns its markers to write.
    pub fn handle_written(&mut self, transition: &TxnTransition) -> Option<MarkerJob> {
        let id = &transition.after.transactional_id;
        self.pending.remove(id);
        if transition.after.state == TxnState::Dead {
            self.remove(id);
            return None;
        }
        self.insert(transition.after.clone());
        self.marker_job(id)
    }

    /// Forgets `transactional_id` (its tombstone is written or loaded).
    fn remove(&mut self, transactional_id: &str) {
        if let Some(old) = self.txns.remove(transactional_id) {
            self.by_producer.remove(&old.producer_id);
        }
    }

    /// Keeps `txn` as its id's state, indexed by its producer id.
    fn insert(&mut self, txn: TxnMetadata) {
        if let Some(old) = self.txns.get(&txn.transactional_id)
            && old.producer_id != txn.producer_id
        {
            self.by_producer.remove(&old.producer_id);
        }
        self.by_producer
            .insert(txn.producer_id, txn.transactional_id.clone());
        self.txns.insert(txn.transactional_id.clone(), txn);
    }

    /// The marker job for `transactional_id` if its transaction is prepared and no job is out.
    fn marker_job(&mut self, transactional_id: &str) -> Option<MarkerJob> {
        let txn = self.txns.get(transactional_id)?;
        let control = match txn.state {
            TxnState::PrepareCommit => ControlType::Commit,
            TxnState::PrepareAbort => ControlType::Abort,
            _ => return None,
        };
        self.markers_out.insert(transactional_id.to_string());
        Some(MarkerJob {
            transactional_id: transactional_id.to_string(),
            producer_id: txn.producer_id,
            producer_epoch: txn.producer_epoch,
            control,
            coordinator_epoch: self.coordinator_epoch,
            partitions: txn.partitions.iter().cloned().collect(),
        })
    }

    /// The transition `transition` could not be written: nothing changes, and the id is free
    /// for the client's retry.
    pub fn handle_write_failed(&mut self, transition: &TxnTransition) {
        self.pending.remove(&transition.after.transactional_id);
    }

    /// Every marker of `job` is written: the transition to CompleteCommit or CompleteAbort,
    /// to write as any other (`None`: the id moved on or the coordinator was reloaded).
    pub fn handle_markers_written(
        &mut self,
        job: &MarkerJob,
        now_ms: i64,
    ) -> Option<TxnTransition> {
        self.markers_out.remove(&job.transactional_id);
        let txn = self.txns.get(&job.transactional_id)?;
        if txn.producer_id != job.producer_id || txn.producer_epoch != job.producer_epoch {
            return None;
        }
        let after = completed(txn, now_ms)?;
        Some(self.transition(after))
    }

    /// Ongoing transactions older than their timeout at `now_ms` are aborted, with the epoch
    /// bumped so their producer is fenced (Kafka's `abortTimedOutTransactions`); and a
    /// prepared transaction whose markers are all written but whose CompleteCommit or
    /// CompleteAbort could not be written is completed again (Kafka's
    /// `TransactionMarkerChannelManager` retries that append until it succeeds or the
    /// coordinator moves; left alone, the id would answer CONCURRENT_TRANSACTIONS forever).
    /// The transitions to write. Drivers call it periodically.
    pub fn handle_timeout(&mut self, now_ms: i64) -> Vec<TxnTransition> {
        let unfinished: Vec<TxnMetadata> = self
            .txns
            .values()
            .filter(|t| {
                matches!(t.state, TxnState::PrepareCommit | TxnState::PrepareAbort)
                    && !self.pending.contains(&t.transactional_id)
                    && !self.markers_out.contains(&t.transactional_id)
            })
            .filter_map(|t| completed(t, now_ms))
            .collect();
        let mut transitions: Vec<TxnTransition> = unfinished
            .into_iter()
            .map(|after| self.transition(after))
            .collect();
        let expired: Vec<TxnMetadata> = self
            .txns
            .values()
            .filter(|t| {
                t.state == TxnState::Ongoing
                    && !self.pending.contains(&t.transactional_id)
                    && t.start_ms.saturating_add(i64::from(t.timeout_ms)) <= now_ms
            })
            .cloned()
            .collect();
        transitions.extend(expired.into_iter().map(|mut after| {
            after.producer_epoch = after.producer_epoch.saturating_add(1);
            after.state = TxnState::PrepareAbort;
            after.update_ms = now_ms;
            self.transition(after)
        }));
        let idle: Vec<TxnMetadata> = self
            .txns
            .values()
            .filter(|t| {
                !self.pending.contains(&t.transactional_id)
                    && self.id_expires_at(t).is_some_and(|at| at <= now_ms)
            })
            .cloned()
            .collect();
        transitions.extend(idle.into_iter().map(|mut after| {
            after.state = TxnState::Dead;
            after.update_ms = now_ms;
            self.transition(after)
        }));
        transitions
    }

    /// When `txn`'s transactional id expires (Kafka's `shouldExpire`: only with no
    /// transaction open or ending, `transactional.id.expiration.ms` after its last change);
    /// `None` while a transaction is open or ending.
    fn id_expires_at(&self, txn: &TxnMetadata) -> Option<i64> {
        matches!(
            txn.state,
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
        )
        .then(|| txn.update_ms.saturating_add(self.id_expiration_ms))
    }

    /// When [`HostedTransactions::handle_timeout`] is next due (ms since the epoch): the
    /// earliest open transaction's deadline or idle transactional id's expiry.
    pub fn poll_timeout(&self) -> Option<i64> {
        self.txns
            .values()
            .filter_map(|t| match t.state {
                TxnState::Ongoing => Some(t.start_ms.saturating_add(i64::from(t.timeout_ms))),
                _ => self.id_expires_at(t),
            })
            .min()
    }

    /// This node leads `__transaction_state` in `coordinator_epoch`: forgets everything and
    /// rebuilds the map from the partition's `records` ((key, value or `None`), in log order,
    /// up to `log_end_offset`; Kafka's `loadTransactionsForTxnTopicPartition`). If the
    /// partition's `high_watermark` is below `log_end_offset` it serves nothing
    /// ([`HostedTransactions::check_coordinator`]) until it reaches it. Returns the marker
    /// jobs of the transactions it finds prepared, to finish (Kafka completes them the same
    /// way), and the number of records it could not read (skipped).
    pub fn handle_elected<I, K, V>(
        &mut self,
        coordinator_epoch: i32,
        records: I,
        log_end_offset: i64,
        high_watermark: i64,
    ) -> (Vec<MarkerJob>, usize)
    where
        I: IntoIterator<Item = (K, Option<V>)>,
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        *self = Self::new(self.max_timeout_ms).with_id_expiration_ms(self.id_expiration_ms);
        self.coordinator_epoch = coordinator_epoch;
        self.loading_until = (high_watermark < log_end_offset).then_some(log_end_offset);
        let mut skipped = 0;
        for (key, value) in records {
            let Some(id) = decode_key(key.as_ref()) else {
                skipped += 1;
                continue;
            };
            match value {
                None => self.remove(&id),
                Some(value) => match decode_value(id.clone(), value.as_ref()) {
                    Some(txn) => self.insert(txn),
                    None => skipped += 1,
                },
            }
        }
        let ids: Vec<String> = self.txns.keys().cloned().collect();
        let jobs = ids.iter().filter_map(|id| self.marker_job(id)).collect();
        (jobs, skipped)
    }

    /// This node no longer leads `__transaction_state`: forget everything.
    pub fn handle_resigned(&mut self) {
        *self = Self::new(self.max_timeout_ms).with_id_expiration_ms(self.id_expiration_ms);
    }
}

/// `txn` (prepared, its markers written) moved to CompleteCommit or CompleteAbort at
/// `now_ms`; `None` when it is not prepared.
fn completed(txn: &TxnMetadata, now_ms: i64) -> Option<TxnMetadata> {
    let mut after = txn.clone();
    after.state = match txn.state {
        TxnState::PrepareCommit => TxnState::CompleteCommit,
        TxnState::PrepareAbort => TxnState::CompleteAbort,
        _ => return None,
    };
    after.partitions.clear();
    after.start_ms = -1;
    after.update_ms = now_ms;
    Some(after)
}

/// The `__transaction_state` key of `transactional_id`: version 0, then the id as a
/// Kafka string (Kafka's `TransactionLogKey`).
pub fn encode_key(transactional_id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(4 + transactional_id.len());
    key.extend_from_slice(&0i16.to_be_bytes());
    put_string(&mut key, transactional_id);
    key
}

/// The `__transaction_state` record of `txn`: its key, and its value in Kafka's
/// `TransactionLogValue` version 0 layout (producer id i64, epoch i16, timeout i32, state
/// i8, partitions [topic, [partition i32]], last update ms i64, start ms i64).
pub fn encode(txn: &TxnMetadata) -> (Vec<u8>, Vec<u8>) {
    let mut value = Vec::with_capacity(64);
    value.extend_from_slice(&0i16.to_be_bytes());
    value.extend_from_slice(&txn.producer_id.to_be_bytes());
    value.extend_from_slice(&txn.producer_epoch.to_be_bytes());
    value.extend_from_slice(&txn.timeout_ms.to_be_bytes());
    value.push(txn.state.id() as u8);
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (topic, partition) in &txn.partitions {
        by_topic.entry(topic).or_default().push(*partition);
    }
    value.extend_from_slice(&(by_topic.len() as i32).to_be_bytes());
    for (topic, partitions) in by_topic {
        put_string(&mut value, topic);
        value.extend_from_slice(&(partitions.len() as i32).to_be_bytes());
        for p in partitions {
            value.extend_from_slice(&p.to_be_bytes());
        }
    }
    value.extend_from_slice(&txn.update_ms.to_be_bytes());
    value.extend_from_slice(&txn.start_ms.to_be_bytes());
    (encode_key(&txn.transactional_id), value)
}

fn put_string(out: &mut Vec<u8>, s: &str) {
    let bytes = &s.as_bytes()[..s.len().min(i16::MAX as usize)];
    out.extend_from_slice(&(bytes.len() as i16).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// A cursor over a record's bytes; every read is bounds-checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    fn i8(&mut self) -> Option<i8> {
        Some(self.take(1)?[0] as i8)
    }
    fn i16(&mut self) -> Option<i16> {
        Some(i16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }
    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
    fn string(&mut self) -> Option<String> {
        let len = usize::try_from(self.i16()?).ok()?;
        String::from_utf8(self.take(len)?.to_vec()).ok()
    }
}

/// The transactional id of a `__transaction_state` key, if it is one (version 0 or 1).
pub fn decode_key(key: &[u8]) -> Option<String> {
    let mut r = Reader(key);
    if !matches!(r.i16()?, 0 | 1) {
        return None;
    }
    r.string()
}

/// A `__transaction_state` value (version 0) for `transactional_id`, if it is one.
pub fn decode_value(transactional_id: String, value: &[u8]) -> Option<TxnMetadata> {
    let mut r = Reader(value);
    if r.i16()? != 0 {
        return None;
    }
    let producer_id = r.i64()?;
    let producer_epoch = r.i16()?;
    let timeout_ms = r.i32()?;
    let state = TxnState::from_id(r.i8()?)?;
    let mut partitions = BTreeSet::new();
    let topics = r.i32()?;
    for _ in 0..topics.max(0) {
        let topic = r.string()?;
        let count = r.i32()?;
        for _ in 0..count.max(0) {
            partitions.insert((topic.clone(), r.i32()?));
        }
    }
    let update_ms = r.i64()?;
    let start_ms = r.i64()?;
    Some(TxnMetadata {
        transactional_id,
        producer_id,
        producer_epoch,
        timeout_ms,
        state,
        partitions,
        start_ms,
        update_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn ids() -> impl FnMut() -> i64 {
        let mut next = 1000;
        move || {
            next += 1;
            next
        }
    }

    /// Runs a plan's write to completion, as a driver whose writes all succeed.
    fn write(c: &mut HostedTransactions, plan: TxnPlan) -> Option<MarkerJob> {
        match plan {
            TxnPlan::Done => None,
            TxnPlan::Write(t) | TxnPlan::WriteThenRetry(t) => c.handle_written(&t),
        }
    }

    fn finish(c: &mut HostedTransactions, job: MarkerJob, now: i64) {
        let t = c.handle_markers_written(&job, now).expect("complete");
        assert!(c.handle_written(&t).is_none());
    }

    fn p(topic: &str, partition: i32) -> TxnPartition {
        (topic.to_string(), partition)
    }

    #[test]
    fn a_transaction_commits_through_prepare_and_markers() {
        let mut c = HostedTransactions::new(TRANSACTION_MAX_TIMEOUT_MS);
        let mut next = ids();
        let plan = c
            .prepare_init_producer_id("t", 60_000, None, 0, &mut next)
            .unwrap();
        write(&mut c, plan);
        let txn = c.describe("t").unwrap().clone();
        assert_eq!(
            (txn.producer_id, txn.producer_epoch, txn.state),
            (1001, 0, TxnState::Empty)
        );
        let plan = c
            .prepare_add_partitions("t", 1001, 0, &[p("a", 0), p("a", 1)], 10)
            .unwrap();
        write(&mut c, plan);
        assert_eq!(c.verify_partition(1001, 0, ("a", 1)), Ok(()));
        assert_eq!(
            c.verify_partition(1001, 0, ("b", 0)),
            Err(error_code::INVALID_TXN_STATE),
            "KIP-890: a partition not added"
        );
        assert_eq!(
            c.prepare_add_partitions("t", 1001, 0, &[p("a", 0)], 11),
            Ok(TxnPlan::Done),
            "already added"
        );
        let plan = c.prepare_end_txn("t", 1001, 0, true, 20).unwrap();
        let job = write(&mut c, plan).expect("markers");
        assert_eq!(job.control, ControlType::Commit);
        assert_eq!(job.partitions, vec![p("a", 0), p("a", 1)]);
        // Until the markers are written the id is busy; a retried commit is told to wait.
        assert_eq!(
            c.prepare_add_partitions("t", 1001, 0, &[p("a", 0)], 21),
            Err(error_code::CONCURRENT_TRANSACTIONS)
        );
        assert_eq!(
            c.prepare_end_txn("t", 1001, 0, false, 21),
            Err(error_code::INVALID_TXN_STATE)
        );
        finish(&mut c, job, 30);
        assert_eq!(c.describe("t").unwrap().state, TxnState::CompleteCommit);
        assert_eq!(
            c.prepare_end_txn("t", 1001, 0, true, 31),
            Ok(TxnPlan::Done),
            "a retry"
        );
        assert_eq!(
            c.prepare_end_txn("t", 1001, 0, false, 31),
            Err(error_code::INVALID_TXN_STATE)
        );
    }

    #[test]
    fn a_completion_that_could_not_be_written_is_written_again() {
        // Found by the simulator: the CompleteCommit write failed (the state partition's ISR
        // was too small for a moment) and nothing wrote it again, so the id stayed
        // PrepareCommit and answered CONCURRENT_TRANSACTIONS forever. Kafka's marker channel
        // retries that append (`TransactionMarkerChannelManager.tryAppendToLog`).
        let mut c = HostedTransactions::new(TRANSACTION_MAX_TIMEOUT_MS);
        let mut next = ids();
        let plan = c
            .prepare_init_producer_id("t", 60_000, None, 0, &mut next)
            .unwrap();
        write(&mut c, plan);
        let plan = c
            .prepare_add_partitions("t", 1001, 0, &[p("a", 0)], 10)
            .unwrap();
        write(&mut c, plan);
        let plan = c.prepare_end_txn("t", 1001, 0, true, 20).unwrap();
        let job = write(&mut c, plan).expect("markers");
        assert!(c.handle_timeout(25).is_empty(), "markers still out");
        let complete = c.handle_markers_written(&job, 30).expect("complete");
        assert!(c.handle_timeout(35).is_empty(), "its write is still out");
        c.handle_write_failed(&complete);
        assert_eq!(c.describe("t").unwrap().state, TxnState::PrepareCommit);
        let again = c.handle_timeout(40);
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].after.state, TxnState::CompleteCommit);
        assert!(c.handle_written(&again[0]).is_none(), "no markers again");
        assert_eq!(c.describe("t").unwrap().state, TxnState::CompleteCommit);
        assert!(c.handle_timeout(45).is_empty());
        assert_eq!(
            c.prepare_add_partitions("t", 1001, 0, &[p("a", 0)], 50)
                .map(|plan| matches!(plan, TxnPlan::Write(_))),
            Ok(true),
            "the next transaction begins"
        );
    }

    #[test]
    fn a_new_instance_fences_the_old_and_aborts_what_it_left_open() {
        let mut c = HostedTransactions::new(TRANSACTION_MAX_TIMEOUT_MS);
        let mut next = ids();
        let plan = c
            .prepare_init_producer_id("t", 60_000, None, 0, &mut next)
            .unwrap();
        write(&mut c, plan);
        let plan = c
            .prepare_add_partitions("t", 1001, 0, &[p("a", 0)], 1)
            .unwrap();
        write(&mut c, plan);
        // The second instance: the open transaction is aborted at epoch 1 first.
        let plan = c
            .prepare_init_producer_id("t", 60_000, None, 2, &mut next)
            .unwrap();
        let TxnPlan::WriteThenRetry(_) = &plan else {
            panic!("expected an abort first, got {plan:?}");
        };
        let job = write(&mut c, plan).expect("abort markers");
        assert_eq!((job.control, job.producer_epoch), (ControlType::Abort, 1));
        assert_eq!(
            c.prepare_init_producer_id("t", 60_000, None, 3, &mut next),
            Err(error_code::CONCURRENT_TRANSACTIONS),
            "the client retries while the markers go out"
        );
        finish(&mut c, job, 4);
        let plan = c
            .prepare_init_producer_id("t", 60_000, None, 5, &mut next)
            .unwrap();
        write(&mut c, plan);
        let txn = c.describe("t").unwrap();
        assert_eq!((txn.producer_id, txn.producer_epoch), (1001, 2));
        // The old instance (epoch 0) can do nothing more.
        assert_eq!(
            c.prepare_add_partitions("t", 1001, 0, &[p("a", 0)], 6),
            Err(error_code::PRODUCER_FENCED)
        );
        assert_eq!(
            c.prepare_end_txn("t", 1001, 0, true, 6),
            Err(error_code::PRODUCER_FENCED)
        );
        assert_eq!(
            c.verify_partition(1001, 0, ("a", 0)),
            Err(error_code::INVALID_PRODUCER_EPOCH)
        );
    }

    /// Found by a user trial in a cluster: while a new instance's InitProducerId was writing
    /// the abort of the old instance's open transaction, the old instance's EndTxn(commit) at
    /// the epoch not yet bumped was answered INVALID_TXN_STATE. Kafka answers
    /// CONCURRENT_TRANSACTIONS while a transition is pending; the retry then finds the bumped
    /// epoch and is fenced (PRODUCER_FENCED).
    #[test]
    fn an_end_during_another_instances_fencing_is_retried_then_fenced() {
        let mut c = HostedTransactions::new(TRANSACTION_MAX_TIMEOUT_MS);
        let mut next = ids();
        let plan = c
            .prepare_init_producer_id("t", 60_000, None, 0, &mut next)
            .unwrap();
        write(&mut c, plan);
        let plan = c
            .prepare_add_partitions("t", 1001, 0, &[p("a", 0)], 10)
            .unwrap();
        write(&mut c, plan);
        let Ok(TxnPlan::WriteThenRetry(fence)) =
            c.prepare_init_producer_id("t", 60_000, None, 20, &mut next)
        else {
            panic!("the new instance aborts the open transaction first")
        };
        assert_eq!(
            c.prepare_end_txn("t", 1001, 0, true, 21),
            Err(error_code::CONCURRENT_TRANSACTIONS),
            "while the abort is written"
        );
        assert!(c.handle_written(&fence).is_some(), "the abort's markers");
        assert_eq!(
            c.prepare_end_txn("t", 1001, 0, true, 22),
            Err(error_code::PRODUCER_FENCED)
        );
    }

    #[test]
    fn a_producer_bumps_its_own_epoch_and_a_retried_bump_gets_the_same_answer() {
        // KIP-360: after an abortable error the client sends InitProducerId with its current
        // producer id and epoch; the coordinator bumps the epoch. A retry of that request
        // (the answer was lost) gets the bumped epoch again, and an older instance is fenced.
        let mut c = HostedTransactions::new(TRANSACTION_MAX_TIMEOUT_MS);
        let mut next = ids();
        let plan = c
            .prepare_init_producer_id("t", 60_000, None, 0, &mut next)
            .unwrap();
        write(&mut c, plan);
        let plan = c
            .prepare_init_producer_id("t", 60_000, Some((1001, 0)), 1, &mut next)
            .unwrap();
        write(&mut c, plan);
        assert_eq!(c.describe("t").unwrap().producer_epoch, 1);
        assert_eq!(
            c.prepare_init_producer_id("t", 60_000, Some((1001, 0)), 2, &mut next),
            Ok(TxnPlan::Done),
            "a retry: epoch 1 stands"
        );
        assert_eq!(c.describe("t").unwrap().producer_epoch, 1);
        assert_eq!(
            c.prepare_init_producer_id("t", 60_000, Some((1001, 5)), 3, &mut next),
            Err(error_code::PRODUCER_FENCED)
        );
        assert_eq!(
            c.prepare_init_producer_id("t", 60_000, Some((77, 1)), 3, &mut next),
            Err(error_code::PRODUCER_FENCED),
            "another producer id"
        );
    }

    #[test]
    fn an_expired_transaction_is_aborted_with_the_epoch_bumped() {
        let mut c = HostedTransactions::new(TRANSACTION_MAX_TIMEOUT_MS);
        let mut next = ids();
        let plan = c
            .prepare_init_producer_id("t", 1_000, None, 0, &mut next)
            .unwrap();
        write(&mut c, plan);
        let plan = c
            .prepare_add_partitions("t", 1001, 0, &[p("a", 0)], 100)
            .unwrap();
        write(&mut c, plan);
        assert_eq!(c.poll_timeout(), Some(1_100));
        assert!(c.handle_timeout(1_099).is_empty());
        let expired = c.handle_timeout(1_100);
        assert_eq!(expired.len(), 1);
        let job = c.handle_written(&expired[0]).expect("abort markers");
        assert_eq!((job.control, job.producer_epoch), (ControlType::Abort, 1));
        finish(&mut c, job, 1_200);
        assert_eq!(c.describe("t").unwrap().state, TxnState::CompleteAbort);
        assert_eq!(
            c.prepare_end_txn("t", 1001, 0, true, 1_300),
            Err(error_code::PRODUCER_FENCED),
            "the producer that let it expire is fenced"
        );
    }

    #[test]
    fn bad_requests_are_refused_and_change_nothing() {
        let mut c = HostedTransactions::new(60_000);
        let mut next = ids();
        assert_eq!(
            c.prepare_init_producer_id("t", 60_001, None, 0, &mut next),
            Err(error_code::INVALID_TRANSACTION_TIMEOUT)
        );
        assert_eq!(
            c.prepare_init_producer_id("", 1_000, None, 0, &mut next),
            Err(error_code::INVALID_REQUEST)
        );
        assert_eq!(
            c.prepare_add_partitions("t", 1, 0, &[p("a", 0)], 0),
            Err(error_code::INVALID_PRODUCER_ID_MAPPING)
        );
        let plan = c
            .prepare_init_producer_id("t", 1_000, None, 0, &mut next)
            .unwrap();
        let TxnPlan::Write(t) = plan else { panic!() };
        c.handle_write_failed(&t);
        assert!(c.describe("t").is_none(), "a failed write changes nothing");
        assert_eq!(
            c.prepare_end_txn("t", 1001, 0, true, 0),
            Err(error_code::INVALID_PRODUCER_ID_MAPPING)
        );
    }

    /// Kafka's `transactional.id.expiration.ms` (`TransactionStateManager.
    /// removeExpiredTransactionalIds`): an id with no transaction open and no change for that
    /// long goes Dead — a tombstone, then forgotten — and its next InitProducerId gets a new
    /// producer id; an open transaction never expires this way (its `transaction.timeout.ms`
    /// aborts it first), and a reloading coordinator drops an id at its tombstone.
    #[test]
    fn an_idle_transactional_id_expires_with_a_tombstone_and_comes_back_as_a_new_producer() {
        let mut c =
            HostedTransactions::new(TRANSACTION_MAX_TIMEOUT_MS).with_id_expiration_ms(1_000);
        let mut next = ids();
        let plan = c
            .prepare_init_producer_id("idle", 60_000, None, 0, &mut next)
            .unwrap();
        write(&mut c, plan);
        let plan = c
            .prepare_init_producer_id("open", 60_000, None, 0, &mut next)
            .unwrap();
        write(&mut c, plan);
        let plan = c
            .prepare_add_partitions("open", 1002, 0, &[p("a", 0)], 500)
            .unwrap();
        write(&mut c, plan);
        assert_eq!(c.poll_timeout(), Some(1_000), "the idle id's expiry");
        assert!(c.handle_timeout(999).is_empty());
        let dead = c.handle_timeout(1_000);
        assert_eq!(dead.len(), 1, "only the idle id: {dead:?}");
        assert_eq!(dead[0].after.state, TxnState::Dead);
        assert_eq!(dead[0].record, (encode_key("idle"), None), "a tombstone");
        assert!(
            c.handle_timeout(1_000).is_empty(),
            "not proposed twice while written"
        );
        assert_eq!(
            c.prepare_init_producer_id("idle", 60_000, None, 1_000, &mut next),
            Err(error_code::CONCURRENT_TRANSACTIONS),
            "while the tombstone is written"
        );
        assert_eq!(c.handle_written(&dead[0]), None);
        assert!(c.describe("idle").is_none(), "forgotten");
        assert_eq!(
            c.list()
                .map(|t| t.transactional_id.as_str())
                .collect::<Vec<_>>(),
            ["open"]
        );
        assert_eq!(
            c.prepare_end_txn("idle", 1001, 0, true, 1_001),
            Err(error_code::INVALID_PRODUCER_ID_MAPPING),
            "the expired producer's id is unknown now"
        );
        let Ok(TxnPlan::Write(again)) =
            c.prepare_init_producer_id("idle", 60_000, None, 1_002, &mut next)
        else {
            panic!("a fresh id")
        };
        assert_eq!(
            (again.after.producer_id, again.after.producer_epoch),
            (1003, 0),
            "a new producer id"
        );
        // A new coordinator that loads the id's records and its tombstone knows it not.
        let mut loaded = HostedTransactions::new(TRANSACTION_MAX_TIMEOUT_MS);
        let idle = c.describe("open").cloned().map(|mut t| {
            t.transactional_id = "idle".to_string();
            t
        });
        let (key, value) = encode(&idle.expect("metadata"));
        loaded.handle_elected(1, [(key, Some(value)), dead[0].record.clone()], 2, 2);
        assert!(loaded.describe("idle").is_none());
    }

    #[test]
    fn a_new_coordinator_reloads_and_finishes_prepared_transactions() {
        let mut c = HostedTransactions::new(TRANSACTION_MAX_TIMEOUT_MS);
        let mut next = ids();
        let mut log: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        let apply = |c: &mut HostedTransactions, plan: TxnPlan, log: &mut Vec<_>| {
            if let TxnPlan::Write(t) | TxnPlan::WriteThenRetry(t) = plan {
                log.push(t.record.clone());
                c.handle_written(&t)
            } else {
                None
            }
        };
        for id in ["x", "y"] {
            let plan = c
                .prepare_init_producer_id(id, 60_000, None, 0, &mut next)
                .unwrap();
            apply(&mut c, plan, &mut log);
        }
        let y = c.describe("y").unwrap().producer_id;
        let plan = c
            .prepare_add_partitions("y", y, 0, &[p("a", 0)], 5)
            .unwrap();
        apply(&mut c, plan, &mut log);
        let plan = c.prepare_end_txn("y", y, 0, true, 6).unwrap();
        assert!(apply(&mut c, plan, &mut log).is_some());
        // The coordinator moves before the markers are reported written.
        let mut moved = HostedTransactions::new(TRANSACTION_MAX_TIMEOUT_MS);
        let (jobs, skipped) = moved.handle_elected(4, log.clone(), 9, 7);
        assert_eq!(
            moved.check_coordinator(true, 8),
            Err(error_code::COORDINATOR_LOAD_IN_PROGRESS),
            "not before the loaded records are replicated"
        );
        assert_eq!(moved.check_coordinator(true, 9), Ok(()));
        assert_eq!(
            moved.check_coordinator(false, 9),
            Err(error_code::NOT_COORDINATOR)
        );
        assert_eq!(skipped, 0);
        assert_eq!(moved.describe("x"), c.describe("x"));
        assert_eq!(moved.describe("y"), c.describe("y"));
        assert_eq!(
            jobs.len(),
            1,
            "y's commit is finished by the new coordinator"
        );
        assert_eq!(
            (
                jobs[0].control,
                jobs[0].coordinator_epoch,
                jobs[0].partitions.clone()
            ),
            (ControlType::Commit, 4, vec![p("a", 0)])
        );
        let (_, skipped) = moved.handle_elected(5, vec![(vec![9u8], Some(vec![1u8]))], 1, 1);
        assert_eq!(skipped, 1, "a record that is not a transaction is skipped");
    }
}
