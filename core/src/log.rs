//! A partition log: an append-only sequence of record batches with dense, rising offsets,
//! split into segments and stored through the [`SegmentStore`] trait.
//!
//! The layout is Kafka's, so the node can write files Kafka's own tools read:
//! - each segment is named by its base offset (`00000000000000000042.log`);
//! - `.log` holds the batches back to back, exactly as produced (with offsets assigned);
//! - `.index` holds 8-byte entries `relative offset (u32), position (u32)`, big-endian, one per
//!   `index.interval.bytes` of log, keyed by the last offset of the batch at that position;
//! - `.timeindex` holds 12-byte entries `timestamp (i64), relative offset (u32)`: the largest
//!   timestamp seen so far and the offset of the batch that carried it.
//!
//! The log keeps its segment list and both indexes in memory, and writes every change through
//! the store, so a store that persists (the node's files) can be reopened with [`Log::open`].
//!
//! Offsets and timestamps are `i64`, as on the wire. The log start offset is the first offset a
//! reader may ask for; the log end offset (LEO) is the offset the next record will get.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::batch::{self, BatchError, BatchHeader, BatchRef, Codec, HEADER_LEN};
use crate::error_code;

/// Bytes in one `.index` entry.
pub const OFFSET_INDEX_ENTRY_LEN: usize = 8;
/// Bytes in one `.timeindex` entry.
pub const TIME_INDEX_ENTRY_LEN: usize = 12;

/// The three files of a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SegmentFile {
    /// `.log`: the batches.
    Log,
    /// `.index`: relative offset → byte position.
    OffsetIndex,
    /// `.timeindex`: timestamp → relative offset.
    TimeIndex,
}

impl SegmentFile {
    /// All three, in the order a store creates them.
    pub const ALL: [SegmentFile; 3] = [Self::Log, Self::OffsetIndex, Self::TimeIndex];

    /// The file name suffix Kafka uses.
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Log => ".log",
            Self::OffsetIndex => ".index",
            Self::TimeIndex => ".timeindex",
        }
    }
}

/// Kafka's file name for a segment file: the base offset as 20 zero-padded digits + suffix.
pub fn segment_file_name(base_offset: i64, file: SegmentFile) -> String {
    alloc::format!("{base_offset:020}{}", file.suffix())
}

/// Where a partition's segments live. Core calls it; the node implements it over files, and
/// [`MemorySegmentStore`] keeps everything in memory for tests, the simulator and the browser.
///
/// An `Err` from any method means the operation did not happen (or, for a store that cannot
/// promise that, that the log must be reopened with [`Log::open`] before it is used again).
pub trait SegmentStore {
    /// The store's own failure.
    type Error: fmt::Debug + fmt::Display;

    /// Base offsets of the segments present, ascending.
    fn segments(&self) -> Result<Vec<i64>, Self::Error>;
    /// Creates the three empty files of a new segment.
    fn create(&mut self, base_offset: i64) -> Result<(), Self::Error>;
    /// Appends `bytes` to one file of a segment.
    fn append(
        &mut self,
        base_offset: i64,
        file: SegmentFile,
        bytes: &[u8],
    ) -> Result<(), Self::Error>;
    /// Appends up to `len` bytes from `position` of a file to `out` (fewer at the file's end).
    fn read(
        &self,
        base_offset: i64,
        file: SegmentFile,
        position: u64,
        len: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), Self::Error>;
    /// The length of a file in bytes.
    fn len(&self, base_offset: i64, file: SegmentFile) -> Result<u64, Self::Error>;
    /// Cuts a file down to `len` bytes.
    fn truncate(
        &mut self,
        base_offset: i64,
        file: SegmentFile,
        len: u64,
    ) -> Result<(), Self::Error>;
    /// Removes a segment's three files.
    fn delete(&mut self, base_offset: i64) -> Result<(), Self::Error>;
    /// Replaces a segment's three files at once with new contents (compaction's swap). A
    /// persistent store must leave either the old or the new segment after a crash.
    fn replace(
        &mut self,
        base_offset: i64,
        log: &[u8],
        offset_index: &[u8],
        time_index: &[u8],
    ) -> Result<(), Self::Error>;

    /// Offsets of the replica-state snapshots present ([`crate::snapshot`]), ascending. A
    /// store that keeps none (the default) makes every restart read the whole log's headers.
    ///
    /// The newest is also the log's recovery point ([`Log::open`]): a persistent store lists
    /// (and keeps after a crash) a snapshot only once every segment byte below its offset is
    /// durable; one still being made durable is not listed, and a truncation of a segment
    /// below it cancels it, since it may describe batches cut.
    fn snapshots(&self) -> Result<Vec<i64>, Self::Error> {
        Ok(Vec::new())
    }
    /// Appends the snapshot at `offset` to `out`.
    fn read_snapshot(&self, _offset: i64, _out: &mut Vec<u8>) -> Result<(), Self::Error> {
        Ok(())
    }
    /// Stores a snapshot at `offset` (replacing one already there). A persistent store makes
    /// it durable, with the segments below `offset`, before it returns or in the background
    /// after (Kafka's roll flushes both off the append path), and never leaves a partly written
    /// one under its name.
    fn write_snapshot(&mut self, _offset: i64, _bytes: &[u8]) -> Result<(), Self::Error> {
        Ok(())
    }
    /// Removes the snapshot at `offset`.
    fn delete_snapshot(&mut self, _offset: i64) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Why the in-memory store refused an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MemoryStoreError {
    /// No segment has this base offset.
    #[error("no segment with base offset {0}")]
    NoSuchSegment(i64),
    /// A segment with this base offset already exists.
    #[error("segment with base offset {0} already exists")]
    SegmentExists(i64),
}

/// A [`SegmentStore`] that keeps every file in a `Vec<u8>`.
#[derive(Clone, Debug, Default)]
pub struct MemorySegmentStore {
    segments: BTreeMap<i64, [Vec<u8>; 3]>,
    snapshots: BTreeMap<i64, Vec<u8>>,
}

impl MemorySegmentStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The bytes of one file, for tests and views that want to look inside.
    pub fn file(&self, base_offset: i64, file: SegmentFile) -> Option<&[u8]> {
        self.segments
            .get(&base_offset)
            .map(|files| files[file as usize].as_slice())
    }

    /// Mutable bytes of one file, for tests that damage a segment on purpose.
    pub fn file_mut(&mut self, base_offset: i64, file: SegmentFile) -> Option<&mut Vec<u8>> {
        self.segments
            .get_mut(&base_offset)
            .map(|files| &mut files[file as usize])
    }

    fn files(&self, base_offset: i64) -> Result<&[Vec<u8>; 3], MemoryStoreError> {
        self.segments
            .get(&base_offset)
            .ok_or(MemoryStoreError::NoSuchSegment(base_offset))
    }

    fn files_mut(&mut self, base_offset: i64) -> Result<&mut [Vec<u8>; 3], MemoryStoreError> {
        self.segments
            .get_mut(&base_offset)
            .ok_or(MemoryStoreError::NoSuchSegment(base_offset))
    }
}

impl SegmentStore for MemorySegmentStore {
    type Error = MemoryStoreError;

    fn snapshots(&self) -> Result<Vec<i64>, Self::Error> {
        Ok(self.snapshots.keys().copied().collect())
    }

    fn read_snapshot(&self, offset: i64, out: &mut Vec<u8>) -> Result<(), Self::Error> {
        if let Some(bytes) = self.snapshots.get(&offset) {
            out.extend_from_slice(bytes);
        }
        Ok(())
    }

    fn write_snapshot(&mut self, offset: i64, bytes: &[u8]) -> Result<(), Self::Error> {
        self.snapshots.insert(offset, bytes.to_vec());
        Ok(())
    }

    fn delete_snapshot(&mut self, offset: i64) -> Result<(), Self::Error> {
        self.snapshots.remove(&offset);
        Ok(())
    }

    fn segments(&self) -> Result<Vec<i64>, Self::Error> {
        Ok(self.segments.keys().copied().collect())
    }

    fn create(&mut self, base_offset: i64) -> Result<(), Self::Error> {
        if self.segments.contains_key(&base_offset) {
            return Err(MemoryStoreError::SegmentExists(base_offset));
        }
        self.segments.insert(base_offset, Default::default());
        Ok(())
    }

    fn append(&mut self, base: i64, file: SegmentFile, bytes: &[u8]) -> Result<(), Self::Error> {
        self.files_mut(base)?[file as usize].extend_from_slice(bytes);
        Ok(())
    }

    fn read(
        &self,
        base: i64,
        file: SegmentFile,
        position: u64,
        len: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), Self::Error> {
        let data = &self.files(base)?[file as usize];
        let start = (position as usize).min(data.len());
        let end = start.saturating_add(len).min(data.len());
        out.extend_from_slice(&data[start..end]);
        Ok(())
    }

    fn len(&self, base: i64, file: SegmentFile) -> Result<u64, Self::Error> {
        Ok(self.files(base)?[file as usize].len() as u64)
    }

    fn truncate(&mut self, base: i64, file: SegmentFile, len: u64) -> Result<(), Self::Error> {
        self.files_mut(base)?[file as usize].truncate(len as usize);
        Ok(())
    }

    fn delete(&mut self, base: i64) -> Result<(), Self::Error> {
        self.segments
            .remove(&base)
            .map(drop)
            .ok_or(MemoryStoreError::NoSuchSegment(base))
    }

    fn replace(
        &mut self,
        base: i64,
        log: &[u8],
        offset_index: &[u8],
        time_index: &[u8],
    ) -> Result<(), Self::Error> {
        let files = self.files_mut(base)?;
        *files = [log.to_vec(), offset_index.to_vec(), time_index.to_vec()];
        Ok(())
    }
}

/// `cleanup.policy`: what happens to old data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CleanupPolicy {
    /// `delete`: retention removes whole segments by time and size.
    pub delete: bool,
    /// `compact`: compaction keeps the latest record per key.
    pub compact: bool,
}

impl CleanupPolicy {
    /// `cleanup.policy=delete`, Kafka's default.
    pub const DELETE: Self = Self {
        delete: true,
        compact: false,
    };
    /// `cleanup.policy=compact`.
    pub const COMPACT: Self = Self {
        delete: false,
        compact: true,
    };
    /// `cleanup.policy=compact,delete`.
    pub const COMPACT_DELETE: Self = Self {
        delete: true,
        compact: true,
    };
}

/// A partition's log configuration, with Kafka's topic config names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct LogConfig {
    /// `segment.bytes`: roll a new segment when the active one would grow past this (1 GiB).
    pub segment_bytes: u64,
    /// `segment.ms`: roll a new segment when the active one is this old (7 days).
    pub segment_ms: u64,
    /// `index.interval.bytes`: bytes of log between two index entries (4096).
    pub index_interval_bytes: u64,
    /// `retention.ms`: delete segments whose newest record is older; `None` keeps forever (7 d).
    pub retention_ms: Option<u64>,
    /// `retention.bytes`: delete old segments while the log is larger; `None` is unlimited.
    pub retention_bytes: Option<u64>,
    /// `cleanup.policy`.
    pub cleanup_policy: CleanupPolicy,
    /// `delete.retention.ms`: how long a tombstone stays after compaction first sees it (1 d).
    pub delete_retention_ms: u64,
    /// `min.cleanable.dirty.ratio`: compact only when this share of the log is dirty (0.5).
    pub min_cleanable_dirty_ratio: f64,
    /// `max.message.bytes`: the largest batch accepted (1 MiB + 12 bytes, as Kafka).
    pub max_message_bytes: u64,
    /// `flush.messages`: the body fsyncs after this many messages; `None` leaves it to the OS.
    /// Core does no I/O: this is carried for the body that does.
    pub flush_messages: Option<u64>,
    /// `flush.ms`: the body fsyncs at least this often; `None` leaves it to the OS.
    pub flush_ms: Option<u64>,
    /// `message.timestamp.type=LogAppendTime`: each appended batch is stamped with the
    /// broker's clock ([`batch::set_log_append_time`]); `false` is CreateTime (the default).
    pub log_append_time: bool,
    /// `message.timestamp.before.max.ms` (KIP-937): a CreateTime record may be at most this
    /// much older than the broker's clock, in ms (`i64::MAX`: no bound, Kafka's default).
    pub message_timestamp_before_max_ms: i64,
    /// `message.timestamp.after.max.ms` (KIP-937): a CreateTime record may be at most this
    /// much ahead of the broker's clock, in ms (`i64::MAX`: no bound).
    pub message_timestamp_after_max_ms: i64,
    /// `compression.type`: the codec batches are stored with, recompressed on append when the
    /// producer's differs; `None` keeps the producer's (`producer`, the default).
    pub compression_type: Option<batch::Compression>,
}

impl Default for LogConfig {
    fn default() -> Self {
        const DAY_MS: u64 = 24 * 60 * 60 * 1000;
        Self {
            segment_bytes: 1 << 30,
            segment_ms: 7 * DAY_MS,
            index_interval_bytes: 4096,
            retention_ms: Some(7 * DAY_MS),
            retention_bytes: None,
            cleanup_policy: CleanupPolicy::DELETE,
            delete_retention_ms: DAY_MS,
            min_cleanable_dirty_ratio: 0.5,
            max_message_bytes: 1_048_588,
            flush_messages: None,
            flush_ms: None,
            log_append_time: false,
            message_timestamp_before_max_ms: i64::MAX,
            message_timestamp_after_max_ms: i64::MAX,
            compression_type: None,
        }
    }
}

/// Why the broker refused one record of a batch (KIP-467: the Produce response names the
/// record by its index in the batch, with Kafka's message).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize,
)]
#[non_exhaustive]
pub enum RecordRefusal {
    /// A compacted topic's record without a key (INVALID_RECORD; Kafka's `LogValidator`).
    #[error("Compacted topic cannot accept message without key")]
    KeylessInCompactedTopic {
        /// The record's index in its batch.
        batch_index: u32,
    },
    /// A CreateTime record outside `message.timestamp.before.max.ms` /
    /// `message.timestamp.after.max.ms` of the broker's clock (INVALID_TIMESTAMP, KIP-937).
    #[error(
        "Timestamp {timestamp} of message with offset {batch_index} is out of range. The timestamp should be within [{min}, {max}]"
    )]
    TimestampOutOfRange {
        /// The record's index in its batch.
        batch_index: u32,
        /// Its timestamp, ms.
        timestamp: i64,
        /// The earliest timestamp accepted, ms.
        min: i64,
        /// The latest timestamp accepted, ms.
        max: i64,
    },
}

/// Every refused record of a batch, in batch order (Kafka's `LogValidator` collects them all, so
/// a client can fail exactly those records and retry the others, librdkafka's
/// `_INVALID_DIFFERENT_RECORD`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[error("{} record(s) refused; the first: {}", .0.len(), .0.first().map(alloc::string::ToString::to_string).unwrap_or_default())]
pub struct RecordsRefused(pub Vec<RecordRefusal>);

impl RecordsRefused {
    /// The partition's code: INVALID_TIMESTAMP when a timestamp is among the reasons, else
    /// INVALID_RECORD (Kafka's `LogValidator.processRecordErrors`).
    pub fn kafka_error_code(&self) -> i16 {
        if self
            .0
            .iter()
            .any(|r| matches!(r, RecordRefusal::TimestampOutOfRange { .. }))
        {
            error_code::INVALID_TIMESTAMP
        } else {
            error_code::INVALID_RECORD
        }
    }
}

impl RecordRefusal {
    /// The Kafka error code of the partition's answer.
    pub fn kafka_error_code(&self) -> i16 {
        match self {
            Self::KeylessInCompactedTopic { .. } => error_code::INVALID_RECORD,
            Self::TimestampOutOfRange { .. } => error_code::INVALID_TIMESTAMP,
        }
    }

    /// The refused record's index in its batch.
    pub fn batch_index(&self) -> u32 {
        match self {
            Self::KeylessInCompactedTopic { batch_index }
            | Self::TimestampOutOfRange { batch_index, .. } => *batch_index,
        }
    }
}

/// Why a log operation failed. When one is returned, the log is unchanged (unless the store
/// itself failed midway: see [`SegmentStore`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError<E: fmt::Debug + fmt::Display> {
    /// The store failed.
    #[error("segment store: {0}")]
    Store(E),
    /// An appended batch is invalid.
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// A read asked for an offset outside `log_start..=log_end`.
    #[error("offset {offset} is out of range {log_start}..={log_end}")]
    OffsetOutOfRange {
        /// The offset asked for.
        offset: i64,
        /// The log start offset.
        log_start: i64,
        /// The log end offset.
        log_end: i64,
    },
    /// A batch is larger than `max.message.bytes`.
    #[error("batch of {size} bytes exceeds max.message.bytes {max}")]
    MessageTooLarge {
        /// The batch's size.
        size: usize,
        /// The limit.
        max: u64,
    },
    /// A replicated batch does not start at the log end offset (a follower must truncate first).
    #[error("replicated batch starts at {base_offset}, log ends at {log_end}")]
    NonContiguousAppend {
        /// The batch's base offset.
        base_offset: i64,
        /// The log end offset.
        log_end: i64,
    },
    /// The request's bytes hold no batch.
    #[error("no record batch in the appended bytes")]
    Empty,
    /// Records broke a topic rule (KIP-467 names each in the Produce response).
    #[error(transparent)]
    RecordsRefused(RecordsRefused),
    /// The stored data is not what the log wrote (a damaged segment found while reading).
    #[error("segment {base_offset} is damaged at position {position}")]
    Corrupt {
        /// The segment.
        base_offset: i64,
        /// Where the damage starts.
        position: u64,
    },
}

impl<E: fmt::Debug + fmt::Display> LogError<E> {
    /// The Kafka error code a broker answers this with.
    pub fn kafka_error_code(&self) -> i16 {
        match self {
            Self::Store(_) | Self::Corrupt { .. } => error_code::KAFKA_STORAGE_ERROR,
            Self::Batch(e) => e.kafka_error_code(),
            Self::OffsetOutOfRange { .. } => error_code::OFFSET_OUT_OF_RANGE,
            Self::MessageTooLarge { .. } => error_code::MESSAGE_TOO_LARGE,
            Self::NonContiguousAppend { .. } => error_code::OFFSET_OUT_OF_RANGE,
            Self::Empty => error_code::INVALID_RECORD,
            Self::RecordsRefused(r) => r.kafka_error_code(),
        }
    }
}

/// What an append did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendInfo {
    /// Offset of the first appended record.
    pub base_offset: i64,
    /// Offset of the last appended record.
    pub last_offset: i64,
    /// Largest timestamp among the appended batches.
    pub max_timestamp: i64,
    /// Batches appended.
    pub batch_count: usize,
}

/// One entry of the offset index, with the offset already made absolute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OffsetIndexEntry {
    /// An offset (the last offset of the batch at `position`).
    pub offset: i64,
    /// Byte position of that batch in the `.log` file.
    pub position: u64,
}

/// One entry of the time index, with the offset already made absolute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeIndexEntry {
    /// The largest timestamp seen in the segment up to `offset`.
    pub timestamp: i64,
    /// The offset of the batch that carried it (its last offset).
    pub offset: i64,
}

/// What the log knows about one segment without reading it.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    /// Offset the segment starts at (its file name).
    pub base_offset: i64,
    /// Bytes in `.log`.
    pub size_bytes: u64,
    /// Offset after the segment's last batch (= `base_offset` when empty).
    pub next_offset: i64,
    /// Largest record timestamp in the segment (-1 when empty).
    pub max_timestamp: i64,
    /// When the segment was created (by the clock of the body that created or opened it).
    pub created_ms: u64,
    pub(crate) offset_index: Vec<OffsetIndexEntry>,
    pub(crate) time_index: Vec<TimeIndexEntry>,
    pub(crate) bytes_since_index: u64,
    /// The headers of the active segment's last batches, so fetches at the tail find and
    /// size them without reading the file.
    pub(crate) recent: RecentBatches,
}

/// How many of the newest batches of the active segment [`RecentBatches`] keeps. An index
/// entry comes every `index.interval.bytes` (4096 by default); at about 70 bytes for the
/// smallest batch, 64 cover that interval, so a fetch just behind the log end reads no
/// batch header from the file.
const RECENT_BATCHES: usize = 64;

/// The headers of a segment's newest batches and their positions, oldest first: consecutive
/// batches ending at the segment's end. A cache of bytes written once (truncation drops
/// those past the cut), so two segments compare equal whatever their caches hold.
#[derive(Clone, Debug, Default)]
pub(crate) struct RecentBatches(VecDeque<(u64, BatchHeader)>);

impl PartialEq for RecentBatches {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl RecentBatches {
    /// Notes the batch appended at `position` (right after the newest one).
    fn push(&mut self, position: u64, header: BatchHeader) {
        if self.0.len() == RECENT_BATCHES {
            self.0.pop_front();
        }
        self.0.push_back((position, header));
    }

    /// The header of the batch at `position`, if kept.
    fn header_at(&self, position: u64) -> Option<BatchHeader> {
        let i = self.0.binary_search_by_key(&position, |(p, _)| *p).ok()?;
        Some(self.0[i].1)
    }

    /// The position of the batch holding `offset` (or the first after it), when the batch
    /// before it is kept too, which proves no earlier batch holds it.
    fn position_for(&self, offset: i64) -> Option<u64> {
        let i = self.0.partition_point(|(_, h)| h.last_offset() < offset);
        (i > 0 && i < self.0.len()).then(|| self.0[i].0)
    }

    /// Forgets the batches at or past `position` (the log was truncated there).
    fn truncate(&mut self, position: u64) {
        self.0.retain(|(p, _)| *p < position);
    }

    /// Forgets every batch (the segment is no longer the active one).
    pub(crate) fn clear(&mut self) {
        self.0 = VecDeque::new();
    }
}

impl Segment {
    pub(crate) fn empty(base_offset: i64, now_ms: u64) -> Self {
        Self {
            base_offset,
            size_bytes: 0,
            next_offset: base_offset,
            max_timestamp: -1,
            created_ms: now_ms,
            offset_index: Vec::new(),
            time_index: Vec::new(),
            bytes_since_index: 0,
            recent: RecentBatches::default(),
        }
    }

    /// The offset index entries.
    pub fn offset_index(&self) -> &[OffsetIndexEntry] {
        &self.offset_index
    }

    /// The time index entries.
    pub fn time_index(&self) -> &[TimeIndexEntry] {
        &self.time_index
    }

    /// Whether the segment holds no batch.
    pub fn is_empty(&self) -> bool {
        self.size_bytes == 0
    }

    /// Records a batch appended at `position`, adding index entries every
    /// `index_interval_bytes`. Returns the encoded index entries to write, if any.
    pub(crate) fn note_batch(
        &mut self,
        header: &BatchHeader,
        position: u64,
        index_interval_bytes: u64,
    ) -> Option<(
        [u8; OFFSET_INDEX_ENTRY_LEN],
        Option<[u8; TIME_INDEX_ENTRY_LEN]>,
    )> {
        let size = header.size() as u64;
        self.size_bytes = position + size;
        self.next_offset = header.next_offset();
        self.recent.push(position, *header);
        let new_max = header.max_timestamp > self.max_timestamp;
        if new_max {
            self.max_timestamp = header.max_timestamp;
        }
        let due = self.bytes_since_index >= index_interval_bytes || self.offset_index.is_empty();
        self.bytes_since_index += size;
        if !due {
            return None;
        }
        self.bytes_since_index = size;
        let entry = OffsetIndexEntry {
            offset: header.last_offset(),
            position,
        };
        self.offset_index.push(entry);
        let time_entry = (self
            .time_index
            .last()
            .is_none_or(|t| self.max_timestamp > t.timestamp)
            && self.max_timestamp >= 0)
            .then(|| {
                let t = TimeIndexEntry {
                    timestamp: self.max_timestamp,
                    offset: header.last_offset(),
                };
                self.time_index.push(t);
                encode_time_entry(self.base_offset, t)
            });
        Some((encode_offset_entry(self.base_offset, entry), time_entry))
    }

    /// Where to start looking for the batch that holds `offset`: that batch itself when the
    /// newest headers show it, else the largest index position at or before it.
    fn position_for(&self, offset: i64) -> u64 {
        self.recent
            .position_for(offset)
            .unwrap_or_else(|| self.index_position_for(offset))
    }

    /// The largest index position at or before the batch that holds `offset`. Truncation
    /// starts its walk here: the time index covers the batches before it, the walk the rest.
    fn index_position_for(&self, offset: i64) -> u64 {
        // Entries are keyed by the last offset of the batch at their position: a batch whose
        // last offset is below `offset` starts before the batch holding `offset`.
        let i = self.offset_index.partition_point(|e| e.offset < offset);
        if i == 0 {
            0
        } else {
            self.offset_index[i - 1].position
        }
    }
}

fn encode_offset_entry(base: i64, e: OffsetIndexEntry) -> [u8; OFFSET_INDEX_ENTRY_LEN] {
    let mut b = [0u8; OFFSET_INDEX_ENTRY_LEN];
    b[..4].copy_from_slice(&((e.offset - base) as u32).to_be_bytes());
    b[4..].copy_from_slice(&(e.position as u32).to_be_bytes());
    b
}

fn encode_time_entry(base: i64, e: TimeIndexEntry) -> [u8; TIME_INDEX_ENTRY_LEN] {
    let mut b = [0u8; TIME_INDEX_ENTRY_LEN];
    b[..8].copy_from_slice(&e.timestamp.to_be_bytes());
    b[8..].copy_from_slice(&((e.offset - base) as u32).to_be_bytes());
    b
}

/// Encodes a segment's offset index as Kafka's `.index` file.
pub fn encode_offset_index(segment: &Segment) -> Vec<u8> {
    segment
        .offset_index
        .iter()
        .flat_map(|e| encode_offset_entry(segment.base_offset, *e))
        .collect()
}

/// Encodes a segment's time index as Kafka's `.timeindex` file.
pub fn encode_time_index(segment: &Segment) -> Vec<u8> {
    segment
        .time_index
        .iter()
        .flat_map(|e| encode_time_entry(segment.base_offset, *e))
        .collect()
}

/// Batches [`Log::check_append`] found fit to append: their sizes, and whether the topic's
/// `compression.type` rewrites them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedAppend {
    sizes: Vec<usize>,
    recompress: bool,
}

/// A run of whole batches in one segment's `.log` file ([`Log::read_ranges`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadRange {
    /// The segment's base offset (its files' name).
    pub base_offset: i64,
    /// Where the first batch starts in the `.log` file, in bytes.
    pub position: u64,
    /// The bytes of the batches.
    pub len: usize,
    /// The records in the batches (their headers' counts).
    pub records: u64,
    /// The last offset of the last batch.
    pub last_offset: i64,
}

/// A partition log. See the module documentation for the layout.
///
/// Calls a body makes: [`Log::new`] or [`Log::open`]; then [`Log::append`] (leader) or
/// [`Log::append_replicated`] (follower), [`Log::read`], [`Log::offset_for_timestamp`],
/// [`Log::truncate_to`], [`Log::delete_records_before`]; periodically
/// [`Log::apply_retention`](crate::retention) and [`Log::compact`](crate::compaction).
#[derive(Debug)]
pub struct Log<S: SegmentStore> {
    pub(crate) store: S,
    pub(crate) config: LogConfig,
    /// Ascending by base offset; the last is the active segment; never empty.
    pub(crate) segments: Vec<Segment>,
    pub(crate) log_start_offset: i64,
    /// Compaction's checkpoint: everything below has been cleaned at least once.
    pub(crate) first_dirty_offset: i64,
    /// The earliest delete horizon compaction stamped on a kept tombstone batch, if any: once
    /// `now` passes it, compaction runs again whatever the dirty ratio, to drop the tombstones.
    pub(crate) earliest_delete_horizon_ms: Option<i64>,
}

type LogResult<T, S> = Result<T, LogError<<S as SegmentStore>::Error>>;

impl<S: SegmentStore> Log<S> {
    /// A new, empty log starting at offset 0 in an empty store.
    pub fn new(mut store: S, config: LogConfig, now_ms: u64) -> LogResult<Self, S> {
        store.create(0).map_err(LogError::Store)?;
        Ok(Self {
            store,
            config,
            segments: alloc::vec![Segment::empty(0, now_ms)],
            log_start_offset: 0,
            first_dirty_offset: 0,
            earliest_delete_horizon_ms: None,
        })
    }

    /// Reopens a log from a store that already holds segments (an empty store gives a new log).
    ///
    /// Segments wholly below the recovery point are trusted: their end is found from the last
    /// index entry by reading batch headers only. From the segment holding the recovery point
    /// on (at least the newest), each is read in full and every batch's CRC checked; the log is
    /// cut at the first invalid byte (a torn write), the segments after a cut one are deleted,
    /// and the indexes rebuilt (Kafka's `LogLoader.recoverLog` from the recovery point).
    ///
    /// The recovery point is the newest snapshot's offset ([`SegmentStore::snapshots`]): a
    /// store shows a snapshot only once every segment below its offset is durable, as Kafka
    /// flushes the old segment and the producer snapshot together after a roll
    /// (`UnifiedLog.roll` → `flushUptoOffsetExclusive`). With no snapshot, every segment is
    /// checked. Returns the log and how many bytes were cut or deleted.
    pub fn open(store: S, config: LogConfig, now_ms: u64) -> LogResult<(Self, u64), S> {
        Self::open_with(store, config, now_ms, false)
    }

    /// [`Log::open`] after a clean shutdown (Kafka's `.kafka_cleanshutdown` marker: every
    /// segment was synced and nothing written after): the newest segment is trusted like the
    /// others — its index is read, and only the batches after the last index entry, whose
    /// CRCs are checked — instead of reading it whole. If that tail does not check out, the
    /// newest segment is recovered as [`Log::open`] does. Returns the log and the bytes cut.
    pub fn open_after_clean_shutdown(
        store: S,
        config: LogConfig,
        now_ms: u64,
    ) -> LogResult<(Self, u64), S> {
        Self::open_with(store, config, now_ms, true)
    }

    fn open_with(
        mut store: S,
        config: LogConfig,
        now_ms: u64,
        clean_shutdown: bool,
    ) -> LogResult<(Self, u64), S> {
        let bases = store.segments().map_err(LogError::Store)?;
        if bases.is_empty() {
            return Self::new(store, config, now_ms).map(|log| (log, 0));
        }
        let recovery_point = store.snapshots().map_err(LogError::Store)?.last().copied();
        let mut segments = Vec::with_capacity(bases.len());
        let mut truncated = 0;
        for (i, &base) in bases.iter().enumerate() {
            let newest = i + 1 == bases.len();
            let durable = clean_shutdown
                || bases
                    .get(i + 1)
                    .zip(recovery_point)
                    .is_some_and(|(next, point)| *next <= point);
            let (segment, cut) = if !newest && durable {
                (trusted_segment(&store, base, false, now_ms)?, 0)
            } else if let Some(segment) = clean_shutdown
                .then(|| trusted_segment(&store, base, true, now_ms))
                .transpose()
                .or_else(|e| match e {
                    LogError::Store(e) => Err(LogError::Store(e)),
                    // A tail that does not check out: recover the segment in full.
                    _ => Ok(None),
                })?
            {
                (segment, 0)
            } else {
                recover_segment(&mut store, base, &bases[i + 1..], &config, now_ms)?
            };
            truncated += cut;
            segments.push(segment);
            if cut > 0 && !newest {
                // `recover_segment` deleted the later segments.
                break;
            }
        }
        let log_start_offset = segments[0].base_offset;
        Ok((
            Self {
                store,
                config,
                segments,
                log_start_offset,
                first_dirty_offset: log_start_offset,
                earliest_delete_horizon_ms: None,
            },
            truncated,
        ))
    }

    /// Restores a log start offset saved by the body (DeleteRecords survives restarts that
    /// way); clamped to the log's first segment and its end.
    pub fn restore_log_start_offset(&mut self, offset: i64) {
        let offset = offset.clamp(self.segments[0].base_offset, self.log_end_offset());
        self.log_start_offset = self.log_start_offset.max(offset);
        self.first_dirty_offset = self.first_dirty_offset.max(self.log_start_offset);
    }

    /// The first offset a reader may ask for.
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    /// The offset the next appended record gets (LEO).
    pub fn log_end_offset(&self) -> i64 {
        self.active().next_offset
    }

    /// The segments, oldest first; the last is the active one.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Total bytes of all segments.
    pub fn size_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.size_bytes).sum()
    }

    /// The configuration in force.
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// Changes the configuration (a topic config change); takes effect on the next operation.
    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }

    /// The store underneath, for bodies that need to flush or inspect it.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The store underneath, mutable (for tests that damage it).
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    pub(crate) fn active(&self) -> &Segment {
        // The constructor and every mutation keep at least one segment.
        &self.segments[self.segments.len() - 1]
    }

    /// Appends the batches in `records` as the leader: each batch gets the next offsets and
    /// `leader_epoch`, written into `records` in place. All batches are validated (CRC, framing,
    /// size, records) before anything is written, so an error changes nothing.
    ///
    /// The topic's rules, as Kafka's `LogValidator` applies them: a compacted topic refuses a
    /// record without a key; a CreateTime record outside the KIP-937 bounds of `now_ms` is
    /// refused; a `compression.type` other than `producer` recompresses batches written with
    /// another codec (offsets, producer fields and record contents kept); LogAppendTime stamps
    /// each batch with `now_ms`.
    pub fn append(
        &mut self,
        records: &mut [u8],
        leader_epoch: i32,
        codec: &dyn Codec,
        now_ms: u64,
    ) -> LogResult<AppendInfo, S> {
        let checked = self.check_append(records, codec, now_ms)?;
        self.append_checked(records, checked, leader_epoch, codec, now_ms)
    }

    /// Every check of [`Log::append`], writing nothing: a caller that must refuse a bad batch
    /// before its own checks (the replica's producer-state checks, after the CRC as in Kafka's
    /// `UnifiedLog.append`) checks once and then appends with [`Log::append_checked`].
    /// Errors as [`Log::append`].
    pub fn check_append(
        &self,
        records: &[u8],
        codec: &dyn Codec,
        now_ms: u64,
    ) -> LogResult<CheckedAppend, S> {
        let batches = self.validate(records)?;
        let mut recompress = false;
        for batch in &batches {
            let header = batch.header();
            // A producer's batch numbers its records 0..n-1: offsets stay dense.
            if i64::from(header.last_offset_delta) + 1 != i64::from(header.record_count) {
                return Err(LogError::Batch(BatchError::InconsistentHeader(
                    "lastOffsetDelta is not the record count minus one",
                )));
            }
            self.check_records(batch, codec, now_ms)?;
            // Markers stay uncompressed, as Kafka writes them: every reader parses them.
            recompress |= !header.is_control()
                && self
                    .config
                    .compression_type
                    .is_some_and(|target| header.compression().ok() != Some(target));
        }
        let sizes = batches.iter().map(|b| b.as_bytes().len()).collect();
        Ok(CheckedAppend { sizes, recompress })
    }

    /// Appends `records` that [`Log::check_append`] passed as `checked` (on this log, at the
    /// same `now_ms`), as [`Log::append`] does after its checks. Errors: the store's.
    pub(crate) fn append_checked(
        &mut self,
        records: &mut [u8],
        checked: CheckedAppend,
        leader_epoch: i32,
        codec: &dyn Codec,
        now_ms: u64,
    ) -> LogResult<AppendInfo, S> {
        let CheckedAppend { sizes, recompress } = checked;
        if recompress {
            let mut rebuilt = self.recompressed(records, &sizes, codec)?;
            let sizes: Vec<usize> = (self.validate(&rebuilt)?.iter())
                .map(|b| b.as_bytes().len())
                .collect();
            return self.assign_and_write(&mut rebuilt, &sizes, leader_epoch, now_ms);
        }
        self.assign_and_write(records, &sizes, leader_epoch, now_ms)
    }

    /// One pass over a batch's records ([`BatchRef::validate_records`]): their framing, and
    /// on a data batch the per-record topic rules of [`Log::append`], keys on a compacted
    /// topic and the KIP-937 timestamp bounds on a CreateTime topic. A framing error wins
    /// over the rules' refusals, as Kafka's `LogValidator` throws on a record it cannot read
    /// before it reports the record errors it collected.
    fn check_records(
        &self,
        batch: &BatchRef<'_>,
        codec: &dyn Codec,
        now_ms: u64,
    ) -> LogResult<(), S> {
        let control = batch.header().is_control();
        let compacted = !control && self.config.cleanup_policy.compact;
        let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
        let min = now.saturating_sub(self.config.message_timestamp_before_max_ms);
        let max = now.saturating_add(self.config.message_timestamp_after_max_ms);
        let bounded =
            !control && !self.config.log_append_time && (min > i64::MIN || max < i64::MAX);
        let mut refused = Vec::new();
        batch.validate_records(codec, |batch_index, record| {
            if compacted && record.key.is_none() {
                refused.push(RecordRefusal::KeylessInCompactedTopic { batch_index });
                return;
            }
            // -1 is "no timestamp" and passes, as in Kafka.
            let timestamp = record.timestamp;
            if bounded && timestamp != -1 && !(min..=max).contains(&timestamp) {
                refused.push(RecordRefusal::TimestampOutOfRange {
                    batch_index,
                    timestamp,
                    min,
                    max,
                });
            }
        })?;
        if refused.is_empty() {
            Ok(())
        } else {
            Err(LogError::RecordsRefused(RecordsRefused(refused)))
        }
    }

    /// The batches of `records` rebuilt with the topic's `compression.type` (Kafka's
    /// `LogValidator` recompression): same records, producer fields and flags.
    fn recompressed(
        &self,
        records: &[u8],
        sizes: &[usize],
        codec: &dyn Codec,
    ) -> LogResult<Vec<u8>, S> {
        let target = self
            .config
            .compression_type
            .unwrap_or(batch::Compression::None);
        let mut out = Vec::with_capacity(records.len());
        let mut position = 0;
        let mut scratch = Vec::new();
        for &size in sizes {
            let batch = BatchRef::parse(&records[position..position + size])?;
            if batch.header().compression().ok() == Some(target) {
                out.extend_from_slice(batch.as_bytes());
            } else {
                let mut builder = batch::BatchBuilder::like(batch.header())?.compression(target);
                for record in batch.records(codec, &mut scratch)? {
                    builder.push_record(record?);
                }
                out.extend_from_slice(&builder.build(codec)?);
            }
            position += size;
        }
        Ok(out)
    }

    /// Gives each validated batch its offsets and leader epoch (and, on a LogAppendTime topic,
    /// the broker's clock), then writes them.
    fn assign_and_write(
        &mut self,
        records: &mut [u8],
        sizes: &[usize],
        leader_epoch: i32,
        now_ms: u64,
    ) -> LogResult<AppendInfo, S> {
        let mut next = self.log_end_offset();
        let mut position = 0;
        for &size in sizes {
            let batch = &mut records[position..position + size];
            let header = BatchHeader::decode(batch)?;
            batch::assign_offsets(batch, next, leader_epoch)?;
            if self.config.log_append_time {
                batch::set_log_append_time(batch, i64::try_from(now_ms).unwrap_or(i64::MAX))?;
            }
            next += i64::from(header.last_offset_delta) + 1;
            position += size;
        }
        self.write_batches(records, sizes, now_ms)
    }

    /// The Produce response's `log_append_time_ms` for a batch appended at `now_ms`: the
    /// broker's clock on a LogAppendTime topic, else -1 (Kafka's `NO_TIMESTAMP`).
    pub fn log_append_time_ms(&self, now_ms: u64) -> i64 {
        if self.config.log_append_time {
            i64::try_from(now_ms).unwrap_or(i64::MAX)
        } else {
            -1
        }
    }

    /// Appends batches as a follower copies them from its leader: offsets and epochs are kept
    /// as they are, and the first batch must start at or after the log end offset. Each batch's
    /// framing and CRC are checked, not its records, and not its size against
    /// `max.message.bytes`: the leader validated them when it took them (Kafka's
    /// `UnifiedLog.appendAsFollower`: `validateAndAssignOffsets = false`,
    /// `ignoreRecordSize = true`, only `batch.ensureValid()` per batch). A batch the leader
    /// took before its topic's limit was lowered is copied, not refused forever.
    ///
    /// Errors: a batch cut short or with a wrong CRC (CORRUPT_MESSAGE), offsets below the log
    /// end (`NonContiguousAppend`), nothing to append, or the store's; nothing is appended then.
    pub fn append_replicated(&mut self, records: &[u8], now_ms: u64) -> LogResult<AppendInfo, S> {
        let mut sizes = Vec::new();
        let mut expected = self.log_end_offset();
        for batch in batch::batches(records) {
            let header = *batch?.header();
            if header.base_offset < expected {
                return Err(LogError::NonContiguousAppend {
                    base_offset: header.base_offset,
                    log_end: self.log_end_offset(),
                });
            }
            expected = header.next_offset();
            sizes.push(header.size());
        }
        if sizes.is_empty() {
            return Err(LogError::Empty);
        }
        self.write_batches(records, &sizes, now_ms)
    }

    /// Checks every batch in `records`, framing, CRC and size against `max.message.bytes`,
    /// before any of its records (Kafka's `UnifiedLog.analyzeAndValidateRecords` runs before
    /// `LogValidator`); returns them in order. Errors: the first bad batch's, or
    /// [`LogError::Empty`].
    fn validate<'r>(&self, records: &'r [u8]) -> LogResult<Vec<BatchRef<'r>>, S> {
        let mut batches = Vec::new();
        for batch in batch::batches(records) {
            let batch = batch?;
            let size = batch.as_bytes().len();
            if size as u64 > self.config.max_message_bytes {
                return Err(LogError::MessageTooLarge {
                    size,
                    max: self.config.max_message_bytes,
                });
            }
            batches.push(batch);
        }
        if batches.is_empty() {
            return Err(LogError::Empty);
        }
        Ok(batches)
    }

    /// Writes validated batches, all or none: when the store fails part way (a full disk), the
    /// batches already written and any torn bytes of the failing one are cut off again, so the
    /// log, its files and its indexes are exactly as before and a later append (once there is
    /// space) lands where this one would have.
    fn write_batches(
        &mut self,
        records: &[u8],
        sizes: &[usize],
        now_ms: u64,
    ) -> LogResult<AppendInfo, S> {
        let log_end_before = self.log_end_offset();
        let result = self.write_batches_in_order(records, sizes, now_ms);
        if result.is_err() {
            // Shrinking a file needs no space, so this works on a full disk; if it fails too,
            // the store's own error is the one worth reporting.
            let _ = self.undo_write(log_end_before, now_ms);
        }
        result
    }

    /// Puts the log back to `log_end` after a failed write (see [`Log::write_batches`]).
    fn undo_write(&mut self, log_end: i64, now_ms: u64) -> LogResult<(), S> {
        if self.log_end_offset() > log_end {
            self.truncate_to(log_end, now_ms)?;
        }
        // Bytes of a batch the store took only in part are beyond what the segment records.
        let active = self.active();
        let base = active.base_offset;
        let lengths = [
            (SegmentFile::Log, active.size_bytes),
            (
                SegmentFile::OffsetIndex,
                (active.offset_index.len() * OFFSET_INDEX_ENTRY_LEN) as u64,
            ),
            (
                SegmentFile::TimeIndex,
                (active.time_index.len() * TIME_INDEX_ENTRY_LEN) as u64,
            ),
        ];
        for (file, len) in lengths {
            if self.store.len(base, file).map_err(LogError::Store)? > len {
                self.store
                    .truncate(base, file, len)
                    .map_err(LogError::Store)?;
            }
        }
        Ok(())
    }

    /// Writes the batches (`sizes` of consecutive slices of `records`), rolling where
    /// [`Log::roll_due`] says. Each run of batches that goes to one segment is one append to
    /// its log file and at most one to each index file: a follower's fetch that brings many
    /// small batches, or a batch that earns an index entry, used to cost a write(2) per batch
    /// and per index entry.
    fn write_batches_in_order(
        &mut self,
        records: &[u8],
        sizes: &[usize],
        now_ms: u64,
    ) -> LogResult<AppendInfo, S> {
        let mut info = AppendInfo {
            base_offset: -1,
            last_offset: -1,
            max_timestamp: -1,
            batch_count: sizes.len(),
        };
        let mut position = 0;
        let mut next = 0;
        while next < sizes.len() {
            // The run's first batch may start a new segment; the others fit after it.
            let first = BatchHeader::decode(&records[position..position + sizes[next]])?;
            if self.roll_due(self.active().size_bytes, &first, sizes[next] as u64, now_ms) {
                // An empty segment rolled past stays, as Kafka's `LocalLog.roll` leaves it:
                // reads pass over it to the next segment.
                self.roll_at(first.base_offset, now_ms)?;
            }
            let start = position;
            let mut end = position + sizes[next];
            let mut count = 1;
            while let Some(&size) = sizes.get(next + count) {
                let header = BatchHeader::decode(&records[end..end + size])?;
                let written = self.active().size_bytes + (end - start) as u64;
                if self.roll_due(written, &header, size as u64, now_ms) {
                    break;
                }
                end += size;
                count += 1;
            }
            self.append_run(&records[start..end], &sizes[next..next + count], &mut info)?;
            position = end;
            next += count;
        }
        Ok(info)
    }

    /// Writes a run of whole batches (`sizes` of `bytes`) to the active segment, then its
    /// index entries, and notes each batch in `info`.
    fn append_run(
        &mut self,
        bytes: &[u8],
        sizes: &[usize],
        info: &mut AppendInfo,
    ) -> LogResult<(), S> {
        let interval = self.config.index_interval_bytes;
        let last = self.segments.len() - 1;
        let active = &mut self.segments[last];
        let base = active.base_offset;
        self.store
            .append(base, SegmentFile::Log, bytes)
            .map_err(LogError::Store)?;
        let mut offset_entries = Vec::new();
        let mut time_entries = Vec::new();
        let mut at = 0;
        for &size in sizes {
            let header = BatchHeader::decode(&bytes[at..at + size])?;
            if info.base_offset < 0 {
                info.base_offset = header.base_offset;
            }
            info.last_offset = header.last_offset();
            info.max_timestamp = info.max_timestamp.max(header.max_timestamp);
            let position = active.size_bytes;
            if let Some((offset_entry, time_entry)) = active.note_batch(&header, position, interval)
            {
                offset_entries.extend_from_slice(&offset_entry);
                if let Some(t) = time_entry {
                    time_entries.extend_from_slice(&t);
                }
            }
            at += size;
        }
        for (file, entries) in [
            (SegmentFile::OffsetIndex, offset_entries),
            (SegmentFile::TimeIndex, time_entries),
        ] {
            if !entries.is_empty() {
                self.store
                    .append(base, file, &entries)
                    .map_err(LogError::Store)?;
            }
        }
        Ok(())
    }

    /// Whether `batch` (its header; `batch_size` bytes) goes to a new segment when the active
    /// one holds `active_size_bytes`: it would overflow `segment.bytes`, the active segment is
    /// older than `segment.ms`, or the batch's last offset would not fit the index's relative
    /// offset (an i32 above the segment's base). An empty active segment takes any batch on
    /// size and age, but not past the offset limit: a follower copying a compacted topic can
    /// meet a gap of more than 2^31 offsets at a segment's start (Kafka's
    /// `LogSegment.shouldRoll`: `!canConvertToRelativeOffset(maxOffsetInMessages)` holds for
    /// an empty segment too).
    fn roll_due(
        &self,
        active_size_bytes: u64,
        batch: &BatchHeader,
        batch_size: u64,
        now_ms: u64,
    ) -> bool {
        let active = self.active();
        let offsets_overflow = batch.last_offset() - active.base_offset > i64::from(i32::MAX);
        if active_size_bytes == 0 {
            return offsets_overflow;
        }
        // Index positions are u32 and Kafka caps segment.bytes at i32::MAX: so do we.
        let segment_bytes = self.config.segment_bytes.min(i32::MAX as u64);
        let too_big = active_size_bytes + batch_size > segment_bytes;
        let too_old = now_ms.saturating_sub(active.created_ms) >= self.config.segment_ms;
        too_big || too_old || offsets_overflow
    }

    /// Starts a new, empty active segment at `base_offset` (≥ the log end offset).
    pub(crate) fn roll_at(&mut self, base_offset: i64, now_ms: u64) -> LogResult<(), S> {
        self.store.create(base_offset).map_err(LogError::Store)?;
        if let Some(sealed) = self.segments.last_mut() {
            sealed.recent.clear();
        }
        self.segments.push(Segment::empty(base_offset, now_ms));
        Ok(())
    }

    /// Starts a new active segment at the log end offset unless the active one is empty.
    pub fn roll(&mut self, now_ms: u64) -> LogResult<(), S> {
        if !self.active().is_empty() {
            self.roll_at(self.log_end_offset(), now_ms)?;
        }
        Ok(())
    }

    /// Reads whole batches starting with the one that holds `offset`, stopping before any batch
    /// that reaches `upper_bound` (the high watermark for consumers, the LEO for followers) and
    /// once `max_bytes` would be exceeded — but the first batch is returned whole even if it is
    /// larger, so a consumer always makes progress (KIP-74). A read that starts inside a batch
    /// returns the whole batch; the client skips the offsets before the one it asked for.
    ///
    /// `offset` must lie in `log_start..=log_end`; at the log end the result is empty.
    pub fn read(&self, offset: i64, max_bytes: usize, upper_bound: i64) -> LogResult<Vec<u8>, S> {
        self.read_bytes(&self.read_ranges(offset, max_bytes, upper_bound)?)
    }

    /// The bytes of `ranges` (from [`Log::read_ranges`]), in order, read through the store.
    /// Errors: the store's (a segment deleted or cut since the ranges were taken).
    pub fn read_bytes(&self, ranges: &[ReadRange]) -> LogResult<Vec<u8>, S> {
        let mut out = Vec::with_capacity(ranges.iter().map(|r| r.len).sum());
        for range in ranges {
            self.store
                .read(
                    range.base_offset,
                    SegmentFile::Log,
                    range.position,
                    range.len,
                    &mut out,
                )
                .map_err(LogError::Store)?;
        }
        Ok(out)
    }

    /// Where the bytes [`Log::read`] returns are, without reading them: one range of a
    /// segment's `.log` file per segment the read crosses, in order (empty when caught up).
    /// A body that can send file bytes to a socket itself (`sendfile`, as Kafka serves
    /// consumers) reads nothing but the batch headers. Same bounds and errors as
    /// [`Log::read`].
    pub fn read_ranges(
        &self,
        offset: i64,
        max_bytes: usize,
        upper_bound: i64,
    ) -> LogResult<Vec<ReadRange>, S> {
        self.check_range(offset)?;
        let mut ranges: Vec<ReadRange> = Vec::new();
        if offset >= upper_bound.min(self.log_end_offset()) {
            // Caught up: the batch holding `offset` (if any) reaches the bound. Answered without
            // reading a header, since a follower or consumer at the tail asks this on every
            // fetch, for every partition it reads.
            return Ok(ranges);
        }
        let mut taken_before = 0u64;
        let first = self.segment_index_for(offset);
        for segment in &self.segments[first..] {
            let mut position = segment.position_for(offset);
            let mut range: Option<ReadRange> = None;
            while position < segment.size_bytes {
                let header = self.header_at(segment, position)?;
                let size = header.size() as u64;
                if header.last_offset() < offset {
                    position += size;
                    continue;
                }
                if header.last_offset() >= upper_bound {
                    break;
                }
                let taken = taken_before + range.as_ref().map_or(0, |r| r.len as u64);
                if taken > 0 && taken + size > max_bytes as u64 {
                    break;
                }
                let range = range.get_or_insert(ReadRange {
                    base_offset: segment.base_offset,
                    position,
                    len: 0,
                    records: 0,
                    last_offset: header.last_offset(),
                });
                range.len += size as usize;
                range.records += u64::from(header.record_count.max(0) as u32);
                range.last_offset = header.last_offset();
                position += size;
            }
            if let Some(range) = range {
                taken_before += range.len as u64;
                ranges.push(range);
            }
            if position < segment.size_bytes {
                break; // stopped by the bound or the byte limit, not by the segment's end
            }
        }
        Ok(ranges)
    }

    /// The first offset whose record timestamp is at or after `timestamp`, with that record's
    /// timestamp (ListOffsets by time). `None` when every record is older.
    pub fn offset_for_timestamp(
        &self,
        timestamp: i64,
        codec: &dyn Codec,
    ) -> LogResult<Option<(i64, i64)>, S> {
        let candidates = self
            .segments
            .iter()
            .filter(|s| s.max_timestamp >= timestamp && s.next_offset > self.log_start_offset);
        for segment in candidates {
            // Entries with a smaller timestamp prove every record up to their offset is older.
            let i = segment
                .time_index
                .partition_point(|t| t.timestamp < timestamp);
            let from = if i == 0 {
                segment.base_offset
            } else {
                segment.time_index[i - 1].offset + 1
            };
            let found = self.first_record_in(
                segment,
                from,
                codec,
                |header| header.max_timestamp >= timestamp,
                |ts| ts >= timestamp,
            )?;
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// The first live record (at or after the log start) in `segment` from offset `from`,
    /// looking only into batches `batch_may_hold` accepts, whose timestamp `wanted` accepts:
    /// its (offset, timestamp). Batches are decompressed as needed.
    fn first_record_in(
        &self,
        segment: &Segment,
        from: i64,
        codec: &dyn Codec,
        batch_may_hold: impl Fn(&BatchHeader) -> bool,
        wanted: impl Fn(i64) -> bool,
    ) -> LogResult<Option<(i64, i64)>, S> {
        let mut bytes = Vec::new();
        let mut scratch = Vec::new();
        let mut position = segment.position_for(from.max(self.log_start_offset));
        while position < segment.size_bytes {
            let header = self.header_at(segment, position)?;
            let size = header.size() as u64;
            if batch_may_hold(&header) && header.next_offset() > self.log_start_offset {
                bytes.clear();
                self.store
                    .read(
                        segment.base_offset,
                        SegmentFile::Log,
                        position,
                        size as usize,
                        &mut bytes,
                    )
                    .map_err(LogError::Store)?;
                let batch = BatchRef::parse(&bytes)?;
                for record in batch.records(codec, &mut scratch)? {
                    let record = record?;
                    if wanted(record.timestamp) && record.offset >= self.log_start_offset {
                        return Ok(Some((record.offset, record.timestamp)));
                    }
                }
            }
            position += size;
        }
        Ok(None)
    }

    /// The offset and timestamp of the first record carrying the log's largest timestamp
    /// (ListOffsets with MAX_TIMESTAMP, -3, KIP-734), looking inside compressed batches
    /// (KAFKA-16310: the record's own offset, not its batch's last). `None` for an empty log.
    pub fn offset_of_max_timestamp(&self, codec: &dyn Codec) -> LogResult<Option<(i64, i64)>, S> {
        let live = |s: &&Segment| s.next_offset > self.log_start_offset && s.max_timestamp >= 0;
        // The first segment holding the largest timestamp (Kafka: maxBy over the segments).
        let Some(best) = self
            .segments
            .iter()
            .filter(live)
            .map(|s| s.max_timestamp)
            .max()
        else {
            return Ok(None);
        };
        let Some(segment) = self
            .segments
            .iter()
            .filter(live)
            .find(|s| s.max_timestamp == best)
        else {
            return Ok(None);
        };
        self.first_record_in(
            segment,
            segment.base_offset,
            codec,
            |header| header.max_timestamp == best,
            |ts| ts == best,
        )
    }

    /// Removes every batch at or after `offset`, as a follower does when its log diverged from
    /// the new leader's. The cut falls on a batch boundary: a batch that holds `offset` goes
    /// whole, so the new log end offset is the base offset of that batch (≤ `offset`).
    /// Truncating below the log start offset empties the log and restarts it at `offset`.
    pub fn truncate_to(&mut self, offset: i64, now_ms: u64) -> LogResult<(), S> {
        if offset >= self.log_end_offset() {
            return Ok(());
        }
        if offset <= self.log_start_offset {
            return self.truncate_fully_and_start_at(offset, now_ms);
        }
        // Kafka's `UnifiedLog.truncateTo`: segments whose base is above the target go; the one
        // that starts at it stays, emptied.
        while self.segments.len() > 1 && self.active().base_offset > offset {
            let base = self.active().base_offset;
            self.store.delete(base).map_err(LogError::Store)?;
            self.segments.pop();
        }
        let last = self.segments.len() - 1;
        let segment = &self.segments[last];
        let mut position = segment.index_position_for(offset);
        let mut new_next = segment.base_offset;
        // Time index entries below `offset` cover every batch before `position` (an entry is
        // written at each offset index point whenever the maximum grows); the scan covers the rest.
        let mut max_timestamp = segment
            .time_index
            .iter()
            .filter(|t| t.offset < offset)
            .map(|t| t.timestamp)
            .max()
            .unwrap_or(-1);
        while position < segment.size_bytes {
            let header = self.header_at(segment, position)?;
            if header.last_offset() >= offset {
                break;
            }
            max_timestamp = max_timestamp.max(header.max_timestamp);
            new_next = header.next_offset();
            position += header.size() as u64;
        }
        let base = segment.base_offset;
        let segment = &mut self.segments[last];
        segment.size_bytes = position;
        segment.next_offset = new_next;
        segment.max_timestamp = max_timestamp;
        segment.offset_index.retain(|e| e.position < position);
        segment.recent.truncate(position);
        segment.time_index.retain(|t| t.offset < new_next);
        if position == 0 {
            // Kafka's `LogSegment.truncateTo`: an emptied segment counts as created now.
            segment.created_ms = now_ms;
        }
        segment.bytes_since_index = segment
            .offset_index
            .last()
            .map_or(0, |e| position - e.position);
        let index_len = (segment.offset_index.len() * OFFSET_INDEX_ENTRY_LEN) as u64;
        let time_len = (segment.time_index.len() * TIME_INDEX_ENTRY_LEN) as u64;
        self.store
            .truncate(base, SegmentFile::Log, position)
            .map_err(LogError::Store)?;
        self.store
            .truncate(base, SegmentFile::OffsetIndex, index_len)
            .map_err(LogError::Store)?;
        self.store
            .truncate(base, SegmentFile::TimeIndex, time_len)
            .map_err(LogError::Store)?;
        self.first_dirty_offset = self.first_dirty_offset.min(new_next);
        Ok(())
    }

    /// Drops every segment and starts an empty log at `offset` (a follower far behind a
    /// leader whose log start has moved past it).
    pub fn truncate_fully_and_start_at(&mut self, offset: i64, now_ms: u64) -> LogResult<(), S> {
        let offset = offset.max(0);
        for segment in core::mem::take(&mut self.segments) {
            self.store
                .delete(segment.base_offset)
                .map_err(LogError::Store)?;
        }
        self.store.create(offset).map_err(LogError::Store)?;
        self.segments.push(Segment::empty(offset, now_ms));
        self.log_start_offset = offset;
        self.first_dirty_offset = offset;
        Ok(())
    }

    /// Moves the log start offset up to `offset` (DeleteRecords): reads below it fail, and the
    /// segments entirely below it are deleted. The caller checks `offset` against the high
    /// watermark; here it must not pass the log end offset. Returns the new log start offset.
    pub fn delete_records_before(&mut self, offset: i64, now_ms: u64) -> LogResult<i64, S> {
        if offset > self.log_end_offset() || offset < 0 {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start: self.log_start_offset,
                log_end: self.log_end_offset(),
            });
        }
        if offset > self.log_start_offset {
            self.log_start_offset = offset;
            self.first_dirty_offset = self.first_dirty_offset.max(offset);
            self.delete_segments_below_log_start(now_ms)?;
        }
        Ok(self.log_start_offset)
    }

    /// Deletes segments that end at or below the log start offset; rolls first when the active
    /// segment is one of them, so a log always has an active segment.
    pub(crate) fn delete_segments_below_log_start(&mut self, now_ms: u64) -> LogResult<(), S> {
        if !self.active().is_empty() && self.active().next_offset <= self.log_start_offset {
            self.roll(now_ms)?;
        }
        // Kafka's `deleteLogStartOffsetBreachedSegments`: a segment goes once the *next* one
        // starts at or below the log start, so an offset gap (an empty segment rolled past,
        // a compacted range) never moves the log start.
        while self.segments.len() > 1 && self.segments[1].base_offset <= self.log_start_offset {
            self.delete_oldest_segment()?;
        }
        Ok(())
    }

    /// Deletes the oldest segment (never the active one) and moves the log start offset past it.
    pub(crate) fn delete_oldest_segment(&mut self) -> LogResult<u64, S> {
        assert!(
            self.segments.len() > 1,
            "the active segment is never deleted"
        );
        let oldest = self.segments.remove(0);
        self.store
            .delete(oldest.base_offset)
            .map_err(LogError::Store)?;
        self.log_start_offset = self.log_start_offset.max(self.segments[0].base_offset);
        self.first_dirty_offset = self.first_dirty_offset.max(self.log_start_offset);
        Ok(oldest.size_bytes)
    }

    /// OFFSET_OUT_OF_RANGE unless `log_start <= offset <= log_end`.
    pub(crate) fn check_range(&self, offset: i64) -> LogResult<(), S> {
        if offset < self.log_start_offset || offset > self.log_end_offset() {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start: self.log_start_offset,
                log_end: self.log_end_offset(),
            });
        }
        Ok(())
    }

    /// Index of the segment that holds `offset` (the last whose base is at or below it).
    fn segment_index_for(&self, offset: i64) -> usize {
        self.segments
            .partition_point(|s| s.base_offset <= offset)
            .saturating_sub(1)
    }

    /// Visits every batch that ends after `from` (and after the log start), in order, as its
    /// header and, for a control batch (whose body says commit or abort), its whole bytes:
    /// what a restarted replica rebuilds its leader epochs, producer state and transactions
    /// from — the whole log, or what follows a snapshot ([`crate::snapshot`]). It reads one
    /// header per data batch (61 bytes) instead of the whole log, and starts at the offset
    /// index's entry for `from`.
    ///
    /// # Errors
    /// A store failure, or [`LogError::Corrupt`] where a header does not decode.
    pub fn scan_batches(
        &self,
        from: i64,
        mut visit: impl FnMut(&BatchHeader, Option<&[u8]>),
    ) -> LogResult<(), S> {
        let from = from.max(self.log_start_offset);
        let mut control = Vec::new();
        for segment in &self.segments {
            if segment.next_offset <= from {
                continue;
            }
            let mut position = segment.position_for(from);
            while position < segment.size_bytes {
                let header = self.header_at(segment, position)?;
                if header.next_offset() > from {
                    let bytes = if header.is_control() {
                        control.clear();
                        self.store
                            .read(
                                segment.base_offset,
                                SegmentFile::Log,
                                position,
                                header.size(),
                                &mut control,
                            )
                            .map_err(LogError::Store)?;
                        Some(control.as_slice())
                    } else {
                        None
                    };
                    visit(&header, bytes);
                }
                position += header.size() as u64;
            }
        }
        Ok(())
    }

    /// Reads and decodes the batch header at `position` of `segment`.
    pub(crate) fn header_at(&self, segment: &Segment, position: u64) -> LogResult<BatchHeader, S> {
        if let Some(header) = segment.recent.header_at(position) {
            return Ok(header);
        }
        let mut buf = Vec::with_capacity(HEADER_LEN);
        self.store
            .read(
                segment.base_offset,
                SegmentFile::Log,
                position,
                HEADER_LEN,
                &mut buf,
            )
            .map_err(LogError::Store)?;
        let header = BatchHeader::decode(&buf).map_err(|_| LogError::Corrupt {
            base_offset: segment.base_offset,
            position,
        })?;
        if header.size() < HEADER_LEN || position + header.size() as u64 > segment.size_bytes {
            return Err(LogError::Corrupt {
                base_offset: segment.base_offset,
                position,
            });
        }
        Ok(header)
    }

    /// Reads a whole segment's `.log` bytes (compaction and views).
    pub(crate) fn segment_bytes(&self, segment: &Segment) -> LogResult<Vec<u8>, S> {
        let mut out = Vec::with_capacity(segment.size_bytes as usize);
        self.store
            .read(
                segment.base_offset,
                SegmentFile::Log,
                0,
                segment.size_bytes as usize,
                &mut out,
            )
            .map_err(LogError::Store)?;
        Ok(out)
    }
}

/// Rebuilds a synced segment's metadata from the store (see [`Log::open`]), trusting its
/// index: from the last index entry on, only batch headers are read — or, with
/// `check_tail`, the batches whole, every CRC checked, and the last must end at the file's end.
fn trusted_segment<S: SegmentStore>(
    store: &S,
    base: i64,
    check_tail: bool,
    now_ms: u64,
) -> LogResult<Segment, S> {
    let size = store.len(base, SegmentFile::Log).map_err(LogError::Store)?;
    let mut segment = Segment::empty(base, now_ms);
    let mut position = 0;
    let index_len = store
        .len(base, SegmentFile::OffsetIndex)
        .map_err(LogError::Store)?;
    let mut index = Vec::new();
    store
        .read(
            base,
            SegmentFile::OffsetIndex,
            0,
            index_len as usize,
            &mut index,
        )
        .map_err(LogError::Store)?;
    let mut time = Vec::new();
    let time_len = store
        .len(base, SegmentFile::TimeIndex)
        .map_err(LogError::Store)?;
    store
        .read(
            base,
            SegmentFile::TimeIndex,
            0,
            time_len as usize,
            &mut time,
        )
        .map_err(LogError::Store)?;
    segment.offset_index = decode_offset_index(base, &index);
    segment.time_index = decode_time_index(base, &time);
    segment.max_timestamp = segment.time_index.last().map_or(-1, |t| t.timestamp);
    let last_entry = segment.offset_index.last().copied();
    if let Some(last) = last_entry {
        if last.position >= size {
            // The index names a batch the file does not hold (the file was cut below it).
            return Err(LogError::Corrupt {
                base_offset: base,
                position: last.position,
            });
        }
        position = last.position;
    }
    // The next index entry falls where it would have without the restart.
    segment.bytes_since_index = size - position;
    if check_tail {
        let corrupt = || LogError::Corrupt {
            base_offset: base,
            position,
        };
        let mut tail = Vec::new();
        store
            .read(
                base,
                SegmentFile::Log,
                position,
                (size - position) as usize,
                &mut tail,
            )
            .map_err(LogError::Store)?;
        let mut valid = 0;
        for batch in batch::batches(&tail) {
            let batch = batch.map_err(|_| corrupt())?;
            // The batch the last index entry names is the first of the tail.
            if valid == 0 && last_entry.is_some_and(|e| e.offset != batch.header().last_offset()) {
                return Err(corrupt());
            }
            segment.next_offset = batch.header().next_offset();
            segment.max_timestamp = segment.max_timestamp.max(batch.header().max_timestamp);
            valid += batch.as_bytes().len();
        }
        if valid != tail.len() || (size > 0 && segment.offset_index.is_empty()) {
            return Err(corrupt());
        }
        segment.size_bytes = size;
        return Ok(segment);
    }
    let mut header_buf = Vec::with_capacity(HEADER_LEN);
    while position < size {
        header_buf.clear();
        store
            .read(
                base,
                SegmentFile::Log,
                position,
                HEADER_LEN,
                &mut header_buf,
            )
            .map_err(LogError::Store)?;
        let header = BatchHeader::decode(&header_buf).map_err(|_| LogError::Corrupt {
            base_offset: base,
            position,
        })?;
        if header.size() < HEADER_LEN {
            return Err(LogError::Corrupt {
                base_offset: base,
                position,
            });
        }
        segment.next_offset = header.next_offset();
        segment.max_timestamp = segment.max_timestamp.max(header.max_timestamp);
        position += header.size() as u64;
    }
    segment.size_bytes = size;
    Ok(segment)
}

/// Recovers a segment at or past the recovery point after a crash (see [`Log::open`]); returns
/// it and the bytes cut from its end, with those of the `later` segments (base offsets,
/// ascending) it deleted because it was torn.
fn recover_segment<S: SegmentStore>(
    store: &mut S,
    base: i64,
    later: &[i64],
    config: &LogConfig,
    now_ms: u64,
) -> LogResult<(Segment, u64), S> {
    let size = store.len(base, SegmentFile::Log).map_err(LogError::Store)?;
    let mut segment = Segment::empty(base, now_ms);
    // Validate every batch, cut the segment at the first bad one (Kafka's
    // `LogSegment.recover`: `truncateTo(validBytes)`), rebuild the indexes. Only what changed
    // is written: the log is truncated, not rewritten, and an index file only when it differs
    // from the rebuilt one (a clean restart writes nothing; it used to rewrite and fsync every
    // partition's whole active segment).
    let mut bytes = Vec::with_capacity(size as usize);
    store
        .read(base, SegmentFile::Log, 0, size as usize, &mut bytes)
        .map_err(LogError::Store)?;
    let mut valid = 0usize;
    for batch in batch::batches(&bytes) {
        let Ok(batch) = batch else { break };
        segment.note_batch(batch.header(), valid as u64, config.index_interval_bytes);
        valid += batch.as_bytes().len();
    }
    let mut cut = size - valid as u64;
    if cut > 0 {
        // Torn before its end: what later segments hold was written after bytes that are lost,
        // so they go too (Kafka deletes every segment after the first invalid batch). Newest
        // first and before the cut, so a crash part way leaves this segment torn and the next
        // open does the rest, never a log with a gap.
        for &later in later.iter().rev() {
            cut += store
                .len(later, SegmentFile::Log)
                .map_err(LogError::Store)?;
            store.delete(later).map_err(LogError::Store)?;
        }
        store
            .truncate(base, SegmentFile::Log, valid as u64)
            .map_err(LogError::Store)?;
    }
    let rebuilt = [
        (SegmentFile::OffsetIndex, encode_offset_index(&segment)),
        (SegmentFile::TimeIndex, encode_time_index(&segment)),
    ];
    for (file, wanted) in rebuilt {
        let len = store.len(base, file).map_err(LogError::Store)?;
        let mut stored = Vec::new();
        if len == wanted.len() as u64 {
            store
                .read(base, file, 0, wanted.len(), &mut stored)
                .map_err(LogError::Store)?;
        }
        if stored != wanted {
            store.truncate(base, file, 0).map_err(LogError::Store)?;
            store.append(base, file, &wanted).map_err(LogError::Store)?;
        }
    }
    Ok((segment, cut))
}

fn decode_offset_index(base: i64, bytes: &[u8]) -> Vec<OffsetIndexEntry> {
    bytes
        .chunks_exact(OFFSET_INDEX_ENTRY_LEN)
        .map(|c| OffsetIndexEntry {
            offset: base + i64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]])),
            position: u64::from(u32::from_be_bytes([c[4], c[5], c[6], c[7]])),
        })
        .collect()
}

fn decode_time_index(base: i64, bytes: &[u8]) -> Vec<TimeIndexEntry> {
    bytes
        .chunks_exact(TIME_INDEX_ENTRY_LEN)
        .map(|c| {
            let mut ts = [0u8; 8];
            ts.copy_from_slice(&c[..8]);
            TimeIndexEntry {
                timestamp: i64::from_be_bytes(ts),
                offset: base + i64::from(u32::from_be_bytes([c[8], c[9], c[10], c[11]])),
            }
        })
        .collect()
}
