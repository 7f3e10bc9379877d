//! Log compaction (`cleanup.policy=compact`): keep the latest record for every key.
//!
//! The cleanable part of a log is every segment before the active one that lies wholly below
//! `upper_bound` (the high watermark). Compaction runs when the dirty share of it (bytes written
//! since the last cleaning) reaches `min.cleanable.dirty.ratio`, or when a tombstone's delete
//! horizon has passed. It then:
//! 1. maps every key in the cleanable part to the offset of its latest record;
//! 2. rewrites each cleanable segment keeping only records that are the latest for their key
//!    (records without a key are always kept);
//! 3. keeps each record's offset, so offsets only ever have gaps, never renumbering; a rewritten
//!    batch keeps its base offset, producer fields and `lastOffsetDelta` (as Kafka does);
//! 4. treats a record with a null value as a tombstone: it survives its first cleaning, which
//!    stamps its batch with a delete horizon of now + `delete.retention.ms` (KIP-534: attribute
//!    bit 6, horizon in the base timestamp), so consumers have that long to see the delete; a
//!    cleaning after the horizon drops it;
//! 5. cleans transactions as Kafka's `LogCleaner` does (KIP-98, `CleanedTransactionMetadata`;
//!    the cleanable part lies below the last stable offset, so every transaction in it has
//!    ended): the records of an **aborted** transaction are dropped and shadow nothing; a
//!    **committed** transaction's records are compacted like any others; a **marker** stays
//!    while any batch of its transaction is left, then is stamped with a delete horizon like a
//!    tombstone and goes at the first cleaning after it;
//! 6. keeps the batch holding each tracked producer's last sequence (or, for a producer whose
//!    last entry is a marker, that marker), emptied of its records if none survives, so the
//!    producer's sequence and epoch outlive a restart (Kafka's `BatchRetention.RETAIN_EMPTY`
//!    for `lastRecordsOfActiveProducers`).
//!
//! Batches that keep all their records and need no horizon are copied byte for byte. Compressed
//! batches are decompressed and written back with the same codec. Segments left empty go.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

use crate::batch::{self, BatchBuilder, BatchHeader, BatchRef, Codec};
use crate::log::{Log, LogError, Segment, SegmentStore, encode_offset_index, encode_time_index};
use crate::txn::{AbortedTxn, ControlType};

/// What the cleaner must know about one partition's transactions and producers, from the
/// replica that owns the log.
#[derive(Clone, Debug, Default)]
pub struct TxnCleaning {
    /// The aborted transactions whose records may lie in the cleanable part (any order):
    /// their records are dropped.
    pub aborted: Vec<AbortedTxn>,
    /// The last entry of each producer the partition tracks, by producer id: kept, emptied if
    /// need be (see the module documentation, step 6).
    pub last_of_producer: BTreeMap<i64, ProducerLast>,
}

/// Where a tracked producer's last entry in the log is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProducerLast {
    /// A data batch starting at `base_offset`: it holds the producer's last sequence.
    Data {
        /// The batch's base offset.
        base_offset: i64,
    },
    /// A marker (no data batch since its epoch began): the control batches of
    /// `producer_epoch` hold the epoch that fences its older instances.
    Marker {
        /// The producer's current epoch.
        producer_epoch: i16,
    },
}

impl TxnCleaning {
    /// Whether the batch with `header` is its producer's last entry (see [`ProducerLast`]).
    fn is_last_of_producer(&self, header: &BatchHeader) -> bool {
        header.producer_id >= 0
            && match self.last_of_producer.get(&header.producer_id) {
                Some(ProducerLast::Data { base_offset }) => {
                    !header.is_control() && header.base_offset == *base_offset
                }
                Some(ProducerLast::Marker { producer_epoch }) => {
                    header.is_control() && header.producer_epoch == *producer_epoch
                }
                None => false,
            }
    }
}

/// Kafka's `CleanedTransactionMetadata`: walks the cleanable batches in offset order and says
/// which data batches belong to aborted transactions and which markers may go.
struct TxnWalk {
    /// Aborted transactions by first offset, not reached yet, reversed (the next is last).
    aborted: Vec<AbortedTxn>,
    /// Producer → whether a batch of its aborted transaction was seen in this walk.
    ongoing_aborted: BTreeMap<i64, bool>,
    /// Producers with a batch of a committed transaction seen and its marker not yet.
    ongoing_committed: BTreeSet<i64>,
}

impl TxnWalk {
    fn new(cleaning: &TxnCleaning) -> Self {
        let mut aborted = cleaning.aborted.clone();
        aborted.sort_by_key(|a| core::cmp::Reverse(a.first_offset));
        Self {
            aborted,
            ongoing_aborted: BTreeMap::new(),
            ongoing_committed: BTreeSet::new(),
        }
    }

    fn reach(&mut self, offset: i64) {
        while self
            .aborted
            .last()
            .is_some_and(|a| a.first_offset <= offset)
        {
            if let Some(a) = self.aborted.pop() {
                self.ongoing_aborted.entry(a.producer_id).or_insert(false);
            }
        }
    }

    /// A data batch: whether it belongs to an aborted transaction (its records go).
    fn on_batch(&mut self, header: &BatchHeader) -> bool {
        self.reach(header.last_offset());
        if !header.is_transactional() {
            return false;
        }
        match self.ongoing_aborted.get_mut(&header.producer_id) {
            Some(seen) => {
                *seen = true;
                true
            }
            None => {
                self.ongoing_committed.insert(header.producer_id);
                false
            }
        }
    }

    /// A control batch holding `control` (`None`: no marker this broker knows): whether it
    /// may go once its delete horizon passes, i.e. no batch of its transaction was seen.
    fn on_marker(&mut self, header: &BatchHeader, control: Option<ControlType>) -> bool {
        self.reach(header.last_offset());
        match control {
            Some(ControlType::Abort) => !self
                .ongoing_aborted
                .remove(&header.producer_id)
                .unwrap_or(false),
            Some(ControlType::Commit) => !self.ongoing_committed.remove(&header.producer_id),
            // An emptied control batch was cleaned before: it may go.
            None => header.record_count == 0,
        }
    }
}

/// What one compaction pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CompactionReport {
    /// Whether the pass ran (false: nothing cleanable, or too little dirty).
    pub ran: bool,
    /// Segments rewritten.
    pub segments_cleaned: usize,
    /// Records dropped because a later record has the same key.
    pub records_removed: u64,
    /// Records dropped because their transaction was aborted.
    pub aborted_records_removed: u64,
    /// Transaction markers dropped (their transaction's records were gone and their delete
    /// horizon had passed).
    pub markers_removed: u64,
    /// Tombstones dropped because their delete horizon had passed.
    pub tombstones_removed: u64,
    /// Bytes of the cleaned segments before.
    pub bytes_before: u64,
    /// Bytes of the cleaned segments after.
    pub bytes_after: u64,
}

impl<S: SegmentStore> Log<S> {
    /// How many segments (from the oldest) compaction may touch: not the active one, none that
    /// reaches `upper_bound`.
    fn cleanable_segments(&self, upper_bound: i64) -> usize {
        let segments = self.segments();
        segments[..segments.len() - 1]
            .iter()
            .take_while(|s| s.next_offset <= upper_bound)
            .count()
    }

    /// The share of the cleanable bytes written since the last cleaning (0.0 when nothing is
    /// cleanable).
    pub fn dirty_ratio(&self, upper_bound: i64) -> f64 {
        let cleanable = &self.segments()[..self.cleanable_segments(upper_bound)];
        let total: u64 = cleanable.iter().map(|s| s.size_bytes).sum();
        let dirty: u64 = cleanable
            .iter()
            .filter(|s| s.base_offset >= self.first_dirty_offset)
            .map(|s| s.size_bytes)
            .sum();
        if total == 0 {
            0.0
        } else {
            dirty as f64 / total as f64
        }
    }

    /// Runs one compaction pass if `cleanup.policy` includes `compact` and the log is dirty
    /// enough (or a tombstone's or marker's delete horizon has passed), below `upper_bound`
    /// (the last stable offset), with what `txns` says of its transactions and producers. See
    /// the module documentation.
    pub fn compact(
        &mut self,
        codec: &dyn Codec,
        now_ms: u64,
        upper_bound: i64,
        txns: &TxnCleaning,
    ) -> Result<CompactionReport, LogError<S::Error>> {
        let mut report = CompactionReport::default();
        let count = self.cleanable_segments(upper_bound);
        if !self.config().cleanup_policy.compact || count == 0 {
            return Ok(report);
        }
        let horizon_passed = self
            .earliest_delete_horizon_ms
            .is_some_and(|h| now_ms as i64 >= h);
        if self.dirty_ratio(upper_bound) < self.config().min_cleanable_dirty_ratio
            && !horizon_passed
        {
            return Ok(report);
        }
        report.ran = true;

        // 1. The latest offset of every key in the cleanable part.
        let mut latest: BTreeMap<Vec<u8>, i64> = BTreeMap::new();
        let mut scratch = Vec::new();
        let segments: Vec<Segment> = self.segments()[..count].to_vec();
        let mut walk = TxnWalk::new(txns);
        for segment in &segments {
            let bytes = self.segment_bytes(segment)?;
            for batch in batch::batches(&bytes) {
                let batch = batch?;
                // Markers hold no keys (but end their transaction); an aborted transaction's
                // records shadow nothing.
                if batch.header().is_control() {
                    walk.on_marker(batch.header(), crate::txn::control_type(&batch, codec));
                    continue;
                }
                if walk.on_batch(batch.header()) {
                    continue;
                }
                for record in batch.records(codec, &mut scratch)? {
                    let record = record?;
                    if let Some(key) = record.key {
                        latest.insert(key.to_vec(), record.offset);
                    }
                }
            }
        }

        // 2. Rewrite each segment with the survivors.
        let delete_horizon_ms = now_ms.saturating_add(self.config().delete_retention_ms) as i64;
        let index_interval = self.config().index_interval_bytes;
        let mut earliest_horizon: Option<i64> = None;
        let mut emptied = Vec::new();
        let mut walk = TxnWalk::new(txns);
        for (i, segment) in segments.iter().enumerate() {
            let bytes = self.segment_bytes(segment)?;
            let mut cleaned = Vec::with_capacity(bytes.len());
            let mut rebuilt = Segment::empty(segment.base_offset, segment.created_ms);
            for batch in batch::batches(&bytes) {
                let batch = batch?;
                let header = batch.header();
                let producer = BatchFate {
                    last_of_producer: txns.is_last_of_producer(header),
                    aborted: false,
                    marker_may_go: false,
                };
                let fate = if header.is_control() {
                    let control = crate::txn::control_type(&batch, codec);
                    BatchFate {
                        marker_may_go: walk.on_marker(header, control),
                        ..producer
                    }
                } else {
                    BatchFate {
                        aborted: walk.on_batch(header),
                        ..producer
                    }
                };
                let kept = clean_batch(
                    &batch,
                    codec,
                    &latest,
                    fate,
                    now_ms,
                    delete_horizon_ms,
                    &mut report,
                )?;
                let out: &[u8] = match &kept {
                    Kept::Whole => batch.as_bytes(),
                    Kept::Rewritten(b) => b,
                    Kept::Nothing => continue,
                };
                let parsed = BatchRef::parse(out)?;
                if let Some(h) = parsed.header().delete_horizon_ms() {
                    earliest_horizon = Some(earliest_horizon.map_or(h, |e: i64| e.min(h)));
                }
                rebuilt.note_batch(parsed.header(), cleaned.len() as u64, index_interval);
                cleaned.extend_from_slice(out);
            }
            // Only the active segment keeps its newest headers, and it is never cleaned.
            rebuilt.recent.clear();
            report.segments_cleaned += 1;
            report.bytes_before += segment.size_bytes;
            report.bytes_after += cleaned.len() as u64;
            if cleaned.is_empty() {
                emptied.push(segment.base_offset);
            }
            self.store
                .replace(
                    segment.base_offset,
                    &cleaned,
                    &encode_offset_index(&rebuilt),
                    &encode_time_index(&rebuilt),
                )
                .map_err(LogError::Store)?;
            self.segments[i] = rebuilt;
        }
        for base in emptied {
            self.store.delete(base).map_err(LogError::Store)?;
            self.segments.retain(|s| s.base_offset != base);
        }
        self.first_dirty_offset = self.segments[self.cleanable_segments(upper_bound)].base_offset;
        self.earliest_delete_horizon_ms = earliest_horizon;
        Ok(report)
    }
}

/// What cleaning left of one batch.
enum Kept {
    /// Every record stays and nothing in the header changes: copy the bytes.
    Whole,
    /// Some records stay, or a tombstone stays and needs a delete horizon.
    Rewritten(Vec<u8>),
    /// No record stays.
    Nothing,
}

/// What the walk over a cleaning's batches decided about one batch.
#[derive(Clone, Copy)]
struct BatchFate {
    /// It is its producer's last entry: kept, emptied if nothing in it survives.
    last_of_producer: bool,
    /// A data batch of an aborted transaction: its records go.
    aborted: bool,
    /// A marker whose transaction has no batch left: it goes once its horizon passed.
    marker_may_go: bool,
}

/// The batch with `header` and no records (Kafka's `DefaultRecordBatch.writeEmptyHeader`):
/// offsets, producer, epoch, sequence and flags kept, uncompressed, both timestamps the
/// batch's max timestamp.
fn emptied(header: &BatchHeader, codec: &dyn Codec) -> Result<Kept, crate::batch::BatchError> {
    BatchBuilder::like(header)?
        .emptied(header.max_timestamp)
        .build(codec)
        .map(Kept::Rewritten)
}

fn clean_batch(
    batch: &BatchRef<'_>,
    codec: &dyn Codec,
    latest: &BTreeMap<Vec<u8>, i64>,
    fate: BatchFate,
    now_ms: u64,
    delete_horizon_ms: i64,
    report: &mut CompactionReport,
) -> Result<Kept, crate::batch::BatchError> {
    let header = batch.header();
    let horizon = header.delete_horizon_ms();
    let horizon_passed = horizon.is_some_and(|h| now_ms as i64 >= h);
    let gone = |fate: BatchFate| -> Result<Kept, crate::batch::BatchError> {
        match (fate.last_of_producer, header.record_count) {
            (false, _) => Ok(Kept::Nothing),
            (true, 0) => Ok(Kept::Whole),
            (true, _) => emptied(header, codec),
        }
    };
    if header.is_control() {
        if !fate.marker_may_go {
            return Ok(Kept::Whole);
        }
        if horizon_passed || header.record_count == 0 {
            report.markers_removed += u64::from(header.record_count > 0);
            return gone(fate);
        }
        if horizon.is_some() {
            return Ok(Kept::Whole);
        }
        // Its transaction's records are gone: it stays `delete.retention.ms` more, so a
        // reader that saw them sees their end too.
        let mut scratch = Vec::new();
        let mut builder = BatchBuilder::like(header)?.delete_horizon_ms(delete_horizon_ms);
        for record in batch.records(codec, &mut scratch)? {
            builder.push_record(record?);
        }
        return builder.build(codec).map(Kept::Rewritten);
    }
    if fate.aborted {
        report.aborted_records_removed += u64::try_from(header.record_count).unwrap_or(0);
        return gone(fate);
    }
    let mut scratch = Vec::new();
    let mut kept = Vec::new();
    let mut total = 0usize;
    let mut kept_tombstone = false;
    for record in batch.records(codec, &mut scratch)? {
        let record = record?;
        total += 1;
        let is_latest = record
            .key
            .is_none_or(|key| latest.get(key) == Some(&record.offset));
        if !is_latest {
            report.records_removed += 1;
            continue;
        }
        if record.value.is_none() && record.key.is_some() {
            if horizon_passed {
                report.tombstones_removed += 1;
                continue;
            }
            kept_tombstone = true;
        }
        kept.push(record);
    }
    if kept.is_empty() {
        return gone(fate);
    }
    let needs_horizon = kept_tombstone && horizon.is_none();
    if kept.len() == total && !needs_horizon {
        return Ok(Kept::Whole);
    }
    let mut builder = BatchBuilder::like(batch.header())?;
    if needs_horizon {
        builder = builder.delete_horizon_ms(delete_horizon_ms);
    }
    for record in kept {
        builder.push_record(record);
    }
    builder.build(codec).map(Kept::Rewritten)
}
