//! Transactions as one partition sees them (KIP-98): transaction markers in the log, the
//! transactions still open, the aborted ones, and from them the last stable offset.
//!
//! A transactional producer's batches carry the transactional bit; the transaction ends in
//! each partition with a **control batch** (a marker) that the coordinator has written: one
//! record whose key is `(version: i16 = 0, type: i16)` (0 abort, 1 commit) and whose value is
//! `(version: i16 = 0, coordinator_epoch: i32)`, Kafka's `EndTransactionMarker` layout.
//!
//! [`TxnIndex`] follows the log as it is appended, copied and cut, and answers:
//! - the **first unstable offset**: the first offset of the oldest transaction still open;
//!   the last stable offset (LSO) is the lower of it and the high watermark, Kafka's
//!   `UnifiedLog.lastStableOffset`. A `read_committed` consumer reads up to it;
//! - the **aborted transactions** a `read_committed` fetch must hand out with its records
//!   (Kafka's `.txnindex`, `collectAbortedTransactions`), so the client drops their records.
//!
//! Like the rest of core it does no I/O.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::batch::{BatchBuilder, BatchError, BatchHeader, BatchRef, Codec};

/// What a transaction marker says (the control record's `type`, Kafka's `ControlRecordType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ControlType {
    /// The transaction was aborted: its records are not to be read under `read_committed`.
    Abort,
    /// The transaction was committed.
    Commit,
}

impl ControlType {
    /// The marker type's number in the control record key (abort 0, commit 1).
    pub fn id(self) -> i16 {
        match self {
            Self::Abort => 0,
            Self::Commit => 1,
        }
    }

    /// The control type for a commit (`true`) or an abort (`false`).
    pub fn of(commit: bool) -> Self {
        if commit { Self::Commit } else { Self::Abort }
    }
}

/// The control batch ending producer `producer_id`'s transaction in one partition: one marker
/// record, uncompressed, with the producer's id and epoch and the transactional and control
/// bits (Kafka's `MemoryRecords.withEndTransactionMarker`). Its offset is assigned at append.
/// Errors: none in practice (an uncompressed batch); the builder's, passed through.
pub fn control_batch(
    producer_id: i64,
    producer_epoch: i16,
    coordinator_epoch: i32,
    control: ControlType,
    timestamp_ms: i64,
    codec: &dyn Codec,
) -> Result<Vec<u8>, BatchError> {
    let mut key = Vec::with_capacity(4);
    key.extend_from_slice(&0i16.to_be_bytes());
    key.extend_from_slice(&control.id().to_be_bytes());
    let mut value = Vec::with_capacity(6);
    value.extend_from_slice(&0i16.to_be_bytes());
    value.extend_from_slice(&coordinator_epoch.to_be_bytes());
    let mut builder = BatchBuilder::new(0)
        .producer(producer_id, producer_epoch, -1)
        .transactional(true)
        .control(true);
    builder.push(timestamp_ms, Some(&key), Some(&value), Vec::new());
    builder.build(codec)
}

/// The marker a control batch holds: `None` for a batch that is not a control batch, or whose
/// first record is not a marker this broker knows (Kafka skips unknown control types too).
pub fn control_type(batch: &BatchRef<'_>, codec: &dyn Codec) -> Option<ControlType> {
    if !batch.header().is_control() {
        return None;
    }
    let mut scratch = Vec::new();
    let record = batch.records(codec, &mut scratch).ok()?.next()?.ok()?;
    let key = record.key?;
    if key.len() < 4 {
        return None;
    }
    match i16::from_be_bytes([key[2], key[3]]) {
        0 => Some(ControlType::Abort),
        1 => Some(ControlType::Commit),
        _ => None,
    }
}

/// The `read_committed` reader's filter (KIP-98; the Java consumer's `CompletedFetch` with
/// `isolation.level=read_committed`): given the aborted transactions a fetch listed (read
/// below the last stable offset), it says for each batch, in offset order, whether its
/// records are delivered. Control batches (markers) never are; a transactional batch is not
/// while its producer has an aborted transaction that has begun at or before the batch and
/// whose abort marker has not been passed yet. The simulator's checker and the node's plugin
/// pipelines read through it, as a Kafka consumer would.
#[derive(Clone, Debug, Default)]
pub struct ReadCommitted {
    /// Aborted transactions not begun yet, latest first (the next to begin is last).
    pending: Vec<AbortedTxn>,
    /// Producers inside an aborted transaction at the current batch.
    aborting: alloc::collections::BTreeSet<i64>,
}

impl ReadCommitted {
    /// A filter for a read that listed `aborted`.
    pub fn new(aborted: &[AbortedTxn]) -> Self {
        let mut pending = aborted.to_vec();
        pending.sort_by_key(|a| core::cmp::Reverse(a.first_offset));
        Self {
            pending,
            aborting: Default::default(),
        }
    }

    /// Whether `batch` (the next in offset order) is delivered.
    pub fn keep(&mut self, batch: &BatchRef<'_>, codec: &dyn Codec) -> bool {
        let header = batch.header();
        while self
            .pending
            .last()
            .is_some_and(|a| a.first_offset <= header.last_offset())
        {
            if let Some(a) = self.pending.pop() {
                self.aborting.insert(a.producer_id);
            }
        }
        if header.is_control() {
            if control_type(batch, codec) == Some(ControlType::Abort) {
                self.aborting.remove(&header.producer_id);
            }
            return false;
        }
        !(header.is_transactional() && self.aborting.contains(&header.producer_id))
    }
}

/// One aborted transaction in a partition, as a `read_committed` Fetch response lists it
/// (`AbortedTransaction`: producer id and first offset) and Kafka's `.txnindex` keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AbortedTxn {
    /// The producer whose transaction was aborted.
    pub producer_id: i64,
    /// The offset of its first record in this partition.
    pub first_offset: i64,
    /// The offset of the abort marker (Kafka's `lastOffset`).
    pub last_offset: i64,
}

/// A transaction ended by a marker, kept so a truncation below the marker reopens it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Completed {
    producer_id: i64,
    first_offset: i64,
    marker_offset: i64,
    aborted: bool,
}

/// One partition's transactions: the open ones by producer, and the ended ones (see the
/// module documentation).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxnIndex {
    /// Producer id → first offset of its open transaction.
    ongoing: BTreeMap<i64, i64>,
    /// Ended transactions in marker order; committed ones are dropped once below the high
    /// watermark ([`TxnIndex::forget_stable`]), aborted ones once below the log start.
    completed: Vec<Completed>,
}

impl TxnIndex {
    /// An index of a log with no transactions.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends the index to a replica-state snapshot ([`crate::snapshot`]): the open
    /// transactions (count, then producer id and first offset each), then the ended ones
    /// (count, then producer id, first offset, marker offset and 1 if aborted).
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        use crate::snapshot::{put_i64, put_u32};
        put_u32(out, self.ongoing.len() as u32);
        for (&producer_id, &first_offset) in &self.ongoing {
            put_i64(out, producer_id);
            put_i64(out, first_offset);
        }
        put_u32(out, self.completed.len() as u32);
        for c in &self.completed {
            put_i64(out, c.producer_id);
            put_i64(out, c.first_offset);
            put_i64(out, c.marker_offset);
            out.push(u8::from(c.aborted));
        }
    }

    /// Reads what [`TxnIndex::encode`] wrote; `None` if it does not decode.
    pub(crate) fn decode(r: &mut crate::snapshot::Reader<'_>) -> Option<Self> {
        let mut ongoing = BTreeMap::new();
        for _ in 0..r.count(16)? {
            ongoing.insert(r.i64()?, r.i64()?);
        }
        let count = r.count(25)?;
        let mut completed = Vec::with_capacity(count);
        for _ in 0..count {
            completed.push(Completed {
                producer_id: r.i64()?,
                first_offset: r.i64()?,
                marker_offset: r.i64()?,
                aborted: r.u8()? != 0,
            });
        }
        Some(Self { ongoing, completed })
    }

    /// Follows one batch appended at its header's base offset (as leader or follower, or
    /// read back at open): a transactional batch opens its producer's transaction if none is
    /// open; a marker ends it.
    pub fn record(&mut self, batch: &BatchRef<'_>, codec: &dyn Codec) {
        let header = batch.header();
        let control = header
            .is_control()
            .then(|| control_type(batch, codec))
            .flatten();
        self.record_header(header, control);
    }

    /// [`TxnIndex::record`] from a batch's header and, for a marker, its type (read once by
    /// a caller that parses the batch anyway).
    pub fn record_header(&mut self, header: &BatchHeader, control: Option<ControlType>) {
        if !header.is_transactional() || header.producer_id < 0 {
            return;
        }
        if header.is_control() {
            if let Some(control) = control {
                self.end(header.producer_id, header.base_offset, control);
            }
        } else {
            self.begin(header.producer_id, header.base_offset);
        }
    }

    /// A transactional data batch of `producer_id` appended at `base_offset` (the leader's
    /// path, which knows the batch is not a marker): opens its transaction if none is open.
    pub fn begin(&mut self, producer_id: i64, base_offset: i64) {
        self.ongoing.entry(producer_id).or_insert(base_offset);
    }

    /// A marker of `producer_id` written at `marker_offset`: ends its open transaction (a
    /// marker with none open ends nothing, as a retried marker after a coordinator move).
    pub fn end(&mut self, producer_id: i64, marker_offset: i64, control: ControlType) {
        if let Some(first_offset) = self.ongoing.remove(&producer_id) {
            self.completed.push(Completed {
                producer_id,
                first_offset,
                marker_offset,
                aborted: control == ControlType::Abort,
            });
        }
    }

    /// The first offset of the oldest open transaction, if any (Kafka's
    /// `firstUnstableOffset`).
    pub fn first_unstable_offset(&self) -> Option<i64> {
        self.ongoing.values().copied().min()
    }

    /// The last stable offset under `high_watermark`: no `read_committed` reader reads at or
    /// past it (Kafka's `lastStableOffset`, the lower of the first unstable offset and the HW).
    /// A transaction whose marker is not below the HW yet still counts as unstable (Kafka's
    /// `ProducerStateManager.unreplicatedTxns`): a failover could cut the marker and reopen it.
    pub fn last_stable_offset(&self, high_watermark: i64) -> i64 {
        let unreplicated = self
            .completed
            .iter()
            .rev()
            .take_while(|c| c.marker_offset >= high_watermark)
            .map(|c| c.first_offset)
            .min();
        [self.first_unstable_offset(), unreplicated]
            .into_iter()
            .flatten()
            .min()
            .map_or(high_watermark, |first| first.min(high_watermark))
    }

    /// Whether `producer_id` has a transaction open in this partition.
    pub fn is_ongoing(&self, producer_id: i64) -> bool {
        self.ongoing.contains_key(&producer_id)
    }

    /// The open transactions: (producer id, first offset), by producer id.
    pub fn ongoing(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.ongoing.iter().map(|(p, o)| (*p, *o))
    }

    /// The aborted transactions a `read_committed` fetch from `fetch_offset` reading below
    /// `upper_bound_offset` must list: those whose marker is at or past the fetch offset and
    /// whose first record is below the upper bound (Kafka's `collectAbortedTransactions`).
    pub fn aborted_between(&self, fetch_offset: i64, upper_bound_offset: i64) -> Vec<AbortedTxn> {
        // In marker order: skip those ended before the fetch offset without looking at them.
        let from = self
            .completed
            .partition_point(|c| c.marker_offset < fetch_offset);
        self.completed[from..]
            .iter()
            .filter(|c| c.aborted && c.first_offset < upper_bound_offset)
            .map(|c| AbortedTxn {
                producer_id: c.producer_id,
                first_offset: c.first_offset,
                last_offset: c.marker_offset,
            })
            .collect()
    }

    /// The log was cut at `offset` (everything at or past it is gone): transactions that
    /// began there are forgotten, and those whose marker was cut are open again.
    pub fn truncate_to(&mut self, offset: i64) {
        self.ongoing.retain(|_, first| *first < offset);
        while let Some(last) = self.completed.last().copied() {
            if last.marker_offset < offset {
                break;
            }
            self.completed.pop();
            if last.first_offset < offset {
                self.ongoing.insert(last.producer_id, last.first_offset);
            }
        }
    }

    /// Drops what no reader or truncation needs any more: committed transactions whose
    /// marker is below `high_watermark` (a truncation does not go below it) and aborted ones
    /// whose marker is below `log_start_offset` (no fetch reads there).
    pub fn forget_stable(&mut self, high_watermark: i64, log_start_offset: i64) {
        self.completed.retain(|c| {
            if c.aborted {
                c.marker_offset >= log_start_offset
            } else {
                c.marker_offset >= high_watermark
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::NoCodec;
    use alloc::vec;

    fn txn_batch(producer_id: i64, base_offset: i64, records: usize) -> Vec<u8> {
        let mut b = BatchBuilder::new(base_offset)
            .producer(producer_id, 0, 0)
            .transactional(true);
        for _ in 0..records {
            b.push(0, None, Some(b"v"), Vec::new());
        }
        b.build(&NoCodec).unwrap()
    }

    fn marker(producer_id: i64, offset: i64, control: ControlType) -> Vec<u8> {
        let mut bytes = control_batch(producer_id, 0, 3, control, 0, &NoCodec).unwrap();
        bytes[..8].copy_from_slice(&offset.to_be_bytes());
        bytes
    }

    fn feed(index: &mut TxnIndex, bytes: &[u8]) {
        index.record(&BatchRef::parse(bytes).unwrap(), &NoCodec);
    }

    #[test]
    fn a_marker_has_kafkas_layout() {
        // Kafka's EndTransactionMarker: key (version 0, type), value (version 0,
        // coordinator epoch); attributes transactional (0x10) | control (0x20).
        let bytes = control_batch(42, 7, 3, ControlType::Commit, 1_000, &NoCodec).unwrap();
        let batch = BatchRef::parse(&bytes).unwrap();
        let h = batch.header();
        assert!(h.is_control() && h.is_transactional());
        assert_eq!(
            (h.producer_id, h.producer_epoch, h.base_sequence),
            (42, 7, -1)
        );
        let mut scratch = Vec::new();
        let record = batch
            .records(&NoCodec, &mut scratch)
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(record.key, Some(&[0, 0, 0, 1][..]));
        assert_eq!(record.value, Some(&[0, 0, 0, 0, 0, 3][..]));
        assert_eq!(control_type(&batch, &NoCodec), Some(ControlType::Commit));
    }

    #[test]
    fn the_last_stable_offset_stops_at_the_oldest_open_transaction() {
        let mut index = TxnIndex::new();
        feed(&mut index, &txn_batch(1, 5, 2)); // 5..6
        feed(&mut index, &txn_batch(2, 7, 1)); // 7
        feed(&mut index, &txn_batch(1, 8, 1)); // 8: still producer 1's first offset 5
        assert_eq!(index.last_stable_offset(10), 5);
        assert_eq!(index.last_stable_offset(3), 3, "never above the HW");
        feed(&mut index, &marker(1, 9, ControlType::Commit));
        assert_eq!(index.last_stable_offset(10), 7);
        feed(&mut index, &marker(2, 10, ControlType::Abort));
        assert_eq!(index.last_stable_offset(11), 11);
        assert!(!index.is_ongoing(1) && !index.is_ongoing(2));
    }

    #[test]
    fn a_transaction_is_stable_only_once_its_marker_is_below_the_high_watermark() {
        // Kafka's `unreplicatedTxns`: the commit marker at 3 is written but not replicated
        // (HW 3): the transaction's records (1..2) are not read_committed yet.
        let mut index = TxnIndex::new();
        feed(&mut index, &txn_batch(1, 1, 2));
        feed(&mut index, &marker(1, 3, ControlType::Commit));
        assert_eq!(index.last_stable_offset(3), 1);
        assert_eq!(index.last_stable_offset(4), 4);
    }

    #[test]
    fn a_read_committed_fetch_gets_the_aborted_transactions_it_overlaps() {
        let mut index = TxnIndex::new();
        feed(&mut index, &txn_batch(1, 0, 3)); // 0..2
        feed(&mut index, &marker(1, 3, ControlType::Abort));
        feed(&mut index, &txn_batch(2, 4, 1)); // 4
        feed(&mut index, &marker(2, 5, ControlType::Commit));
        feed(&mut index, &txn_batch(1, 6, 1)); // 6
        feed(&mut index, &marker(1, 7, ControlType::Abort));
        let aborted = |from, to| index.aborted_between(from, to);
        assert_eq!(
            aborted(0, 8),
            vec![
                AbortedTxn {
                    producer_id: 1,
                    first_offset: 0,
                    last_offset: 3
                },
                AbortedTxn {
                    producer_id: 1,
                    first_offset: 6,
                    last_offset: 7
                },
            ]
        );
        assert_eq!(
            aborted(4, 8).len(),
            1,
            "the first abort's marker is below the fetch"
        );
        assert_eq!(
            aborted(0, 5).len(),
            1,
            "the second began past the upper bound"
        );
    }

    #[test]
    fn a_truncation_reopens_a_transaction_whose_marker_was_cut() {
        let mut index = TxnIndex::new();
        feed(&mut index, &txn_batch(1, 0, 2));
        feed(&mut index, &marker(1, 2, ControlType::Abort));
        feed(&mut index, &txn_batch(2, 3, 1));
        index.truncate_to(3);
        assert!(!index.is_ongoing(2), "began at the cut");
        assert_eq!(index.aborted_between(0, 10).len(), 1);
        index.truncate_to(2);
        assert_eq!(
            index.first_unstable_offset(),
            Some(0),
            "its abort marker was cut"
        );
        assert!(index.aborted_between(0, 10).is_empty());
    }

    #[test]
    fn stable_commits_are_forgotten_and_aborts_live_while_readable() {
        let mut index = TxnIndex::new();
        feed(&mut index, &txn_batch(1, 0, 1));
        feed(&mut index, &marker(1, 1, ControlType::Commit));
        feed(&mut index, &txn_batch(2, 2, 1));
        feed(&mut index, &marker(2, 3, ControlType::Abort));
        index.forget_stable(4, 0);
        assert_eq!(index.completed.len(), 1, "the commit is below the HW");
        index.forget_stable(4, 4);
        assert!(
            index.completed.is_empty(),
            "the abort is below the log start"
        );
    }
}
