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
//!    cleaning after the horizon drops it.
//!
//! Batches that keep all their records and need no horizon are copied byte for byte. Compressed
//! batches are decompressed and written back with the same codec. Segments left empty go.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::batch::{self, BatchBuilder, BatchRef, Codec};
use crate::log::{Log, LogError, Segment, SegmentStore, encode_offset_index, encode_time_index};

/// What one compaction pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CompactionReport {
    /// Whether the pass ran (false: nothing cleanable, or too little dirty).
    pub ran: bool,
    /// Segments rewritten.
    pub segments_cleaned: usize,
    /// Records dropped because a later record has the same key.
    pub records_removed: u64,
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
    /// enough (or a tombstone's delete horizon has passed). See the module documentation.
    pub fn compact(
        &mut self,
        codec: &dyn Codec,
        now_ms: u64,
        upper_bound: i64,
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
        for segment in &segments {
            let bytes = self.segment_bytes(segment)?;
            for batch in batch::batches(&bytes) {
                let batch = batch?;
                if batch.header().is_transactional() {
                    // Transactional batches and markers are kept whole and their keys
                    // shadow nothing (see `clean_batch`).
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
        for (i, segment) in segments.iter().enumerate() {
            let bytes = self.segment_bytes(segment)?;
            let mut cleaned = Vec::with_capacity(bytes.len());
            let mut rebuilt = Segment::empty(segment.base_offset, segment.created_ms);
            for batch in batch::batches(&bytes) {
                let batch = batch?;
                let kept = clean_batch(
                    &batch,
                    codec,
                    &latest,
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

fn clean_batch(
    batch: &BatchRef<'_>,
    codec: &dyn Codec,
    latest: &BTreeMap<Vec<u8>, i64>,
    now_ms: u64,
    delete_horizon_ms: i64,
    report: &mut CompactionReport,
) -> Result<Kept, crate::batch::BatchError> {
    if batch.header().is_transactional() {
        // runnel does not clean transactions yet: a record of an aborted transaction must
        // not shadow the committed one before it, and a marker must outlive its records
        // (Kafka's cleaner drops aborted records and, after `delete.retention.ms`, markers).
        // Keeping them whole loses nothing.
        return Ok(Kept::Whole);
    }
    let horizon = batch.header().delete_horizon_ms();
    let horizon_passed = horizon.is_some_and(|h| now_ms as i64 >= h);
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
        return Ok(Kept::Nothing);
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
