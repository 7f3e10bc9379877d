//! Idempotent producers: per-partition sequence tracking, so a retried batch is written once.
//!
//! An idempotent producer (`enable.idempotence=true`) gets a producer id and epoch from
//! InitProducerId and numbers its batches per partition: each batch's `baseSequence` follows the
//! previous batch's last sequence. When a produce response is lost and the client retries, the
//! broker sees a sequence it has already written and answers with the original offsets instead
//! of appending again. A gap in the sequence means something was lost in between, which the
//! broker refuses (OUT_OF_ORDER_SEQUENCE_NUMBER).
//!
//! As Kafka does, the table remembers the last [`BATCHES_REMEMBERED`] batches of each producer
//! (a client has at most five requests in flight per connection with idempotence on).

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

use crate::batch::BatchHeader;
use crate::error_code;

/// Batches remembered per producer and partition (Kafka: 5, the most in flight with idempotence).
pub const BATCHES_REMEMBERED: usize = 5;

/// Why an idempotent batch was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProducerError {
    /// The sequence does not follow the last one written.
    #[error("out of order sequence: expected {expected}, got {got}")]
    OutOfOrderSequence {
        /// The sequence the broker expected.
        expected: i32,
        /// The batch's base sequence.
        got: i32,
    },
    /// The epoch is older than one already seen: a newer instance of this producer exists.
    #[error("producer epoch {got} is older than {current}")]
    ProducerFenced {
        /// The epoch seen last.
        current: i16,
        /// The batch's epoch.
        got: i16,
    },
}

impl ProducerError {
    /// The Kafka error code a broker answers this with.
    pub fn kafka_error_code(self) -> i16 {
        match self {
            Self::OutOfOrderSequence { .. } => error_code::OUT_OF_ORDER_SEQUENCE_NUMBER,
            Self::ProducerFenced { .. } => error_code::INVALID_PRODUCER_EPOCH,
        }
    }
}

/// What to do with a batch, by its producer fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SequenceCheck {
    /// Not idempotent, or the next batch in sequence: append it.
    Append,
    /// A retry of a batch already written at these offsets: answer with them, append nothing.
    Duplicate {
        /// Base offset the batch was written at.
        base_offset: i64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Written {
    first_sequence: i32,
    last_sequence: i32,
    base_offset: i64,
    /// The batch's max timestamp as stored (the broker's clock on a LogAppendTime topic).
    max_timestamp: i64,
}

#[derive(Clone, Debug, Default, PartialEq)]
struct ProducerEntry {
    epoch: i16,
    batches: VecDeque<Written>,
    last_timestamp_ms: i64,
    /// Where the transaction marker that last set `epoch` was written, if one did: the
    /// epoch is known from it (and fences older ones) as long as the log holds it.
    marker_offset: Option<i64>,
}

/// One producer writing to a partition, as DescribeProducers (KIP-664) shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActiveProducer {
    /// The producer id.
    pub producer_id: i64,
    /// Its epoch.
    pub producer_epoch: i16,
    /// The sequence of its last record written here.
    pub last_sequence: i32,
    /// The max timestamp of its last batch written here, in ms.
    pub last_timestamp_ms: i64,
}

/// The sequence state of every idempotent producer writing to one partition.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProducerStateTable {
    producers: BTreeMap<i64, ProducerEntry>,
}

impl ProducerStateTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decides whether the batch with `header` is new, a duplicate, or refused. Changes nothing.
    ///
    /// A producer the table does not know (new, or forgotten across a broker restart) is
    /// accepted at any sequence, as Kafka does for producers whose state has expired.
    pub fn check(&self, header: &BatchHeader) -> Result<SequenceCheck, ProducerError> {
        if header.producer_id < 0 || header.base_sequence < 0 {
            return Ok(SequenceCheck::Append);
        }
        let Some(entry) = self.producers.get(&header.producer_id) else {
            return Ok(SequenceCheck::Append);
        };
        if header.producer_epoch < entry.epoch {
            return Err(ProducerError::ProducerFenced {
                current: entry.epoch,
                got: header.producer_epoch,
            });
        }
        if header.producer_epoch > entry.epoch {
            // A new epoch restarts the sequence at 0.
            return if header.base_sequence == 0 {
                Ok(SequenceCheck::Append)
            } else {
                Err(ProducerError::OutOfOrderSequence {
                    expected: 0,
                    got: header.base_sequence,
                })
            };
        }
        let last_sequence = header.base_sequence.wrapping_add(header.last_offset_delta);
        if let Some(w) = entry
            .batches
            .iter()
            .find(|w| w.first_sequence == header.base_sequence && w.last_sequence == last_sequence)
        {
            return Ok(SequenceCheck::Duplicate {
                base_offset: w.base_offset,
            });
        }
        // An entry with no batches only knows the epoch (a transaction marker made it):
        // the sequence is as unknown as a new producer's.
        let Some(expected) = entry.batches.back().map(|w| next_sequence(w.last_sequence)) else {
            return Ok(SequenceCheck::Append);
        };
        if header.base_sequence == expected {
            Ok(SequenceCheck::Append)
        } else {
            Err(ProducerError::OutOfOrderSequence {
                expected,
                got: header.base_sequence,
            })
        }
    }

    /// Records that the batch with `header` was appended at `base_offset`, with the max
    /// timestamp it was stored with (`stored_max_timestamp`: the header's own, or the broker's
    /// clock on a LogAppendTime topic).
    pub fn record_stored(
        &mut self,
        header: &BatchHeader,
        base_offset: i64,
        stored_max_timestamp: i64,
    ) {
        self.record(header, base_offset);
        if let Some(w) = self
            .producers
            .get_mut(&header.producer_id)
            .and_then(|e| e.batches.back_mut())
        {
            w.max_timestamp = stored_max_timestamp;
        }
    }

    /// The max timestamp the batch with `header`'s producer and sequences was stored with, if
    /// this table remembers it: what Kafka answers a duplicate with (`duplicate.timestamp`).
    pub fn stored_max_timestamp(&self, header: &BatchHeader) -> Option<i64> {
        let last_sequence = header.base_sequence.wrapping_add(header.last_offset_delta);
        self.producers
            .get(&header.producer_id)
            .filter(|e| e.epoch == header.producer_epoch)?
            .batches
            .iter()
            .find(|w| w.first_sequence == header.base_sequence && w.last_sequence == last_sequence)
            .map(|w| w.max_timestamp)
    }

    /// Appends the table to a replica-state snapshot ([`crate::snapshot`]): a count, then
    /// per producer its id, epoch, last timestamp, marker offset (-1: none) and remembered
    /// batches (count, then first and last sequence, base offset, max timestamp each).
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        use crate::snapshot::{put_i32, put_i64, put_u32};
        put_u32(out, self.producers.len() as u32);
        for (&id, entry) in &self.producers {
            put_i64(out, id);
            out.extend_from_slice(&entry.epoch.to_be_bytes());
            put_i64(out, entry.last_timestamp_ms);
            put_i64(out, entry.marker_offset.unwrap_or(-1));
            out.push(entry.batches.len() as u8);
            for w in &entry.batches {
                put_i32(out, w.first_sequence);
                put_i32(out, w.last_sequence);
                put_i64(out, w.base_offset);
                put_i64(out, w.max_timestamp);
            }
        }
    }

    /// Reads what [`ProducerStateTable::encode`] wrote; `None` if it does not decode.
    pub(crate) fn decode(r: &mut crate::snapshot::Reader<'_>) -> Option<Self> {
        let count = r.count(27)?;
        let mut producers = BTreeMap::new();
        for _ in 0..count {
            let id = r.i64()?;
            let epoch = r.i16()?;
            let last_timestamp_ms = r.i64()?;
            let marker_offset = Some(r.i64()?).filter(|m| *m >= 0);
            let remembered = usize::from(r.u8()?);
            if remembered > BATCHES_REMEMBERED {
                return None;
            }
            let mut batches = VecDeque::with_capacity(remembered);
            for _ in 0..remembered {
                batches.push_back(Written {
                    first_sequence: r.i32()?,
                    last_sequence: r.i32()?,
                    base_offset: r.i64()?,
                    max_timestamp: r.i64()?,
                });
            }
            let entry = ProducerEntry {
                epoch,
                batches,
                last_timestamp_ms,
                marker_offset,
            };
            producers.insert(id, entry);
        }
        Some(Self { producers })
    }

    /// Records that the batch with `header` was appended at `base_offset`.
    pub fn record(&mut self, header: &BatchHeader, base_offset: i64) {
        if header.is_control() && header.producer_id >= 0 {
            self.record_marker(
                header.producer_id,
                header.producer_epoch,
                base_offset,
                header.max_timestamp,
            );
            return;
        }
        if header.producer_id < 0 || header.base_sequence < 0 {
            return;
        }
        let entry = self.producers.entry(header.producer_id).or_default();
        if header.producer_epoch != entry.epoch {
            entry.epoch = header.producer_epoch;
            entry.batches.clear();
            entry.marker_offset = None;
        }
        entry.last_timestamp_ms = header.max_timestamp;
        entry.batches.push_back(Written {
            first_sequence: header.base_sequence,
            last_sequence: header.base_sequence.wrapping_add(header.last_offset_delta),
            base_offset,
            max_timestamp: header.max_timestamp,
        });
        while entry.batches.len() > BATCHES_REMEMBERED {
            entry.batches.pop_front();
        }
    }

    /// A transaction marker of `producer_id` at `producer_epoch` was written at `offset`: a
    /// newer epoch fences the older one here too (Kafka's
    /// `ProducerAppendInfo.appendEndTxnMarker`), so a zombie's late batch is refused with
    /// INVALID_PRODUCER_EPOCH. `timestamp_ms` is the marker's: the producer was last seen then
    /// (its expiry counts from it, as Kafka's `appendEndTxnMarker` sets `lastTimestamp`).
    pub fn record_marker(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
        offset: i64,
        timestamp_ms: i64,
    ) {
        let entry = self.producers.entry(producer_id).or_default();
        entry.last_timestamp_ms = entry.last_timestamp_ms.max(timestamp_ms);
        if producer_epoch > entry.epoch || entry.batches.is_empty() {
            entry.epoch = producer_epoch;
            entry.batches.clear();
            entry.marker_offset = Some(offset);
        }
    }

    /// The epoch this table holds for `producer_id`, if it knows the producer.
    pub fn epoch(&self, producer_id: i64) -> Option<i16> {
        self.producers.get(&producer_id).map(|e| e.epoch)
    }

    /// Forgets every batch written at or above `offset`: the log was truncated there (a
    /// follower's KIP-101 truncation, a crash losing its unflushed tail). Kafka reloads its
    /// producer state to the truncation point for the same reason (`truncateAndReload`):
    /// otherwise a retry of a batch that is no longer in the log would be answered as a
    /// duplicate at an offset that now holds someone else's record, acknowledged and lost.
    ///
    /// A producer whose remembered batches were all cut is forgotten, so its next batch is
    /// accepted at any sequence (as for a producer whose state expired): the table never
    /// claims to have a batch the log does not hold. A producer whose epoch a marker set is
    /// kept while that marker is below the cut: the epoch still fences its older instances
    /// (found by the simulator: a leader that truncated after a restart forgot an abort
    /// marker's bumped epoch and took a zombie's retried batch into the next transaction).
    pub fn truncate_to(&mut self, offset: i64) {
        self.producers.retain(|_, entry| {
            while entry
                .batches
                .back()
                .is_some_and(|w| w.base_offset >= offset)
            {
                entry.batches.pop_back();
            }
            if entry.marker_offset.is_some_and(|m| m >= offset) {
                entry.marker_offset = None;
            }
            !entry.batches.is_empty() || entry.marker_offset.is_some()
        });
    }

    /// Forgets the producers last seen `expiration_ms` or more before `now_ms` (their last
    /// batch's or marker's max timestamp), except those `in_transaction` says have a
    /// transaction open here: Kafka's `ProducerStateManager.removeExpiredProducers` for
    /// `producer.id.expiration.ms`. A forgotten producer's next batch is accepted at any
    /// sequence ([`ProducerStateTable::check`]), as in Kafka, so an idle producer loses only
    /// the deduplication of a retry older than the expiry. Returns how many were forgotten.
    pub fn remove_expired(
        &mut self,
        now_ms: i64,
        expiration_ms: i64,
        in_transaction: impl Fn(i64) -> bool,
    ) -> usize {
        let before = self.producers.len();
        self.producers.retain(|id, entry| {
            now_ms.saturating_sub(entry.last_timestamp_ms) < expiration_ms || in_transaction(*id)
        });
        before - self.producers.len()
    }

    /// Whether this table holds state for `producer_id` (a producer it does not know is
    /// accepted at any sequence, see [`ProducerStateTable::check`]).
    pub fn knows(&self, producer_id: i64) -> bool {
        self.producers.contains_key(&producer_id)
    }

    /// The highest producer id tracked here, if any: a counter of producer ids that was lost
    /// starts above it ([`crate::producer_id::ProducerIdCounter::above`]).
    pub fn max_producer_id(&self) -> Option<i64> {
        self.producers.keys().next_back().copied()
    }

    /// The producers tracked, by producer id: the state DescribeProducers (KIP-664) reports.
    pub fn active(&self) -> impl Iterator<Item = ActiveProducer> + '_ {
        self.producers.iter().filter_map(|(id, entry)| {
            let last = entry.batches.back()?;
            Some(ActiveProducer {
                producer_id: *id,
                producer_epoch: entry.epoch,
                last_sequence: last.last_sequence,
                last_timestamp_ms: entry.last_timestamp_ms,
            })
        })
    }

    /// Where each tracked producer's last entry is: the batch with its last sequence, or for
    /// one whose epoch began with a marker and wrote nothing since, its markers of that epoch.
    /// Compaction keeps them ([`crate::compaction::ProducerLast`]) so this table can be
    /// rebuilt from the log.
    pub fn last_entries(&self) -> BTreeMap<i64, crate::compaction::ProducerLast> {
        use crate::compaction::ProducerLast;
        self.producers
            .iter()
            .map(|(id, entry)| {
                let last = match entry.batches.back() {
                    Some(w) => ProducerLast::Data {
                        base_offset: w.base_offset,
                    },
                    None => ProducerLast::Marker {
                        producer_epoch: entry.epoch,
                    },
                };
                (*id, last)
            })
            .collect()
    }

    /// Producers tracked.
    pub fn len(&self) -> usize {
        self.producers.len()
    }

    /// Whether no producer is tracked.
    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }
}

/// Sequences wrap from i32::MAX to 0.
fn next_sequence(sequence: i32) -> i32 {
    if sequence == i32::MAX {
        0
    } else {
        sequence + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{BatchBuilder, BatchRef, NoCodec};
    use alloc::vec::Vec;

    fn header(producer_id: i64, epoch: i16, sequence: i32, records: usize) -> BatchHeader {
        let mut b = BatchBuilder::new(0).producer(producer_id, epoch, sequence);
        for _ in 0..records {
            b.push(0, None, Some(b"v"), Vec::new());
        }
        let bytes = b.build(&NoCodec).unwrap();
        *BatchRef::parse(&bytes).unwrap().header()
    }

    #[test]
    fn retries_are_duplicates_and_gaps_are_refused() {
        let mut table = ProducerStateTable::new();
        let first = header(7, 0, 0, 3); // sequences 0..=2
        assert_eq!(table.check(&first), Ok(SequenceCheck::Append));
        table.record(&first, 100);
        let second = header(7, 0, 3, 2); // 3..=4
        assert_eq!(table.check(&second), Ok(SequenceCheck::Append));
        table.record(&second, 103);
        // The client retries the first batch: same offsets back, nothing appended.
        assert_eq!(
            table.check(&first),
            Ok(SequenceCheck::Duplicate { base_offset: 100 })
        );
        assert_eq!(
            table.check(&second),
            Ok(SequenceCheck::Duplicate { base_offset: 103 })
        );
        let gap = header(7, 0, 9, 1);
        assert_eq!(
            table.check(&gap),
            Err(ProducerError::OutOfOrderSequence {
                expected: 5,
                got: 9
            })
        );
        // A new epoch restarts at 0; an old epoch is fenced.
        table.record(&header(7, 1, 0, 1), 105);
        assert!(matches!(
            table.check(&header(7, 0, 5, 1)),
            Err(ProducerError::ProducerFenced { .. })
        ));
        // Plain producers are never tracked.
        assert_eq!(
            table.check(&header(-1, -1, -1, 1)),
            Ok(SequenceCheck::Append)
        );
        assert_eq!(table.len(), 1);
    }

    /// Kafka's `ProducerStateManager.removeExpiredProducers`: a producer whose last batch or
    /// marker is `producer.id.expiration.ms` old or older is forgotten unless it has a
    /// transaction open; a forgotten producer's next batch is taken at any sequence.
    #[test]
    fn idle_producers_expire_unless_a_transaction_is_open() {
        let stamped = |producer_id: i64, timestamp: i64| {
            let mut b = BatchBuilder::new(0).producer(producer_id, 0, 0);
            b.push(timestamp, None, Some(b"v"), Vec::new());
            let bytes = b.build(&NoCodec).unwrap();
            *BatchRef::parse(&bytes).unwrap().header()
        };
        let mut table = ProducerStateTable::new();
        table.record(&stamped(1, 1_000), 0);
        table.record(&stamped(2, 5_000), 1);
        table.record(&stamped(3, 1_000), 2);
        table.record_marker(4, 1, 3, 5_500);
        assert_eq!(table.remove_expired(4_999, 4_000, |id| id == 3), 0);
        assert_eq!(
            table.remove_expired(5_000, 4_000, |id| id == 3),
            1,
            "4,000 ms after its last batch"
        );
        assert!(!table.knows(1));
        assert!(table.knows(2) && table.knows(3) && table.knows(4));
        assert_eq!(
            table.check(&header(1, 0, 7, 1)),
            Ok(SequenceCheck::Append),
            "a forgotten producer writes at any sequence"
        );
        assert_eq!(table.remove_expired(100_000, 4_000, |id| id == 3), 2);
        assert_eq!(table.len(), 1, "the one in a transaction stays");
    }

    #[test]
    fn a_truncated_batch_is_no_longer_a_duplicate() {
        // The paused-leader case (issue 14): the old leader wrote producer 7's batch at 100,
        // then truncated it away on rejoining as a follower; when it leads again, the
        // producer's retry must be appended, not answered with offset 100 (which now holds
        // another producer's record).
        let mut table = ProducerStateTable::new();
        table.record(&header(7, 0, 0, 2), 98);
        table.record(&header(7, 0, 2, 1), 100);
        table.record(&header(8, 0, 0, 1), 99);
        table.truncate_to(100);
        assert_eq!(
            table.check(&header(7, 0, 2, 1)),
            Ok(SequenceCheck::Append),
            "the cut batch is written again"
        );
        assert_eq!(
            table.check(&header(7, 0, 0, 2)),
            Ok(SequenceCheck::Duplicate { base_offset: 98 }),
            "batches below the cut are still duplicates"
        );
        table.truncate_to(0);
        assert!(table.is_empty(), "nothing remembered that the log lost");
        assert_eq!(
            table.check(&header(7, 0, 2, 1)),
            Ok(SequenceCheck::Append),
            "a forgotten producer starts anywhere"
        );
    }

    #[test]
    fn a_markers_epoch_outlives_a_truncation_above_it() {
        // Found by the simulator (seed 1009905): the coordinator aborted producer 7's
        // transaction with its epoch bumped to 2 (the marker at 61); the leader restarted and
        // truncated above the marker, forgot the producer, and took the old instance's
        // retried batch (epoch 1) into the log after the abort. Kafka rebuilds its producer
        // state up to the truncation point, the marker included.
        let mut table = ProducerStateTable::new();
        table.record(&header(7, 1, 5, 1), 60);
        table.record_marker(7, 2, 61, 0);
        table.truncate_to(62);
        assert_eq!(
            table.check(&header(7, 1, 5, 1)),
            Err(ProducerError::ProducerFenced { current: 2, got: 1 }),
            "epoch 1 stays fenced"
        );
        table.truncate_to(61);
        assert!(table.is_empty(), "the marker was cut: nothing is known");
    }
}
