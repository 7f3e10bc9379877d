//! Retention: deleting whole segments by age (`retention.ms`) and by size (`retention.bytes`),
//! as Kafka does for `cleanup.policy=delete` (and `compact,delete`).
//!
//! Only whole segments go, oldest first, and only segments entirely below `upper_bound` (the
//! high watermark: nothing a follower may still need, nothing unreplicated). A segment is
//! expired when its newest record is older than `retention.ms`; when every segment, the
//! active one included, has expired, the log rolls an empty active segment first so the old
//! one can go. Segments below the log start offset (moved by DeleteRecords) are deleted
//! whatever the policy.

use crate::log::{Log, LogError, SegmentStore};

/// What one retention pass removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Segments deleted.
    pub segments_deleted: usize,
    /// Bytes those segments held.
    pub bytes_deleted: u64,
}

/// Why a segment is deleted, in the order retention checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Breach {
    Time,
    Size,
}

impl<S: SegmentStore> Log<S> {
    /// Deletes the segments retention allows: below the log start offset always; by
    /// `retention.ms` and `retention.bytes` when `cleanup.policy` includes `delete`.
    /// Never deletes a segment that reaches `upper_bound` (the high watermark).
    pub fn apply_retention(
        &mut self,
        now_ms: u64,
        upper_bound: i64,
    ) -> Result<RetentionReport, LogError<S::Error>> {
        let mut report = RetentionReport::default();
        let before = self.segments().len();
        let bytes_before = self.size_bytes();
        self.delete_segments_below_log_start(now_ms)?;
        if self.config().cleanup_policy.delete {
            for breach in [Breach::Time, Breach::Size] {
                while let Some(rolled) = self.oldest_breaches(breach, now_ms, upper_bound) {
                    if rolled {
                        self.roll(now_ms)?;
                    }
                    self.delete_oldest_segment()?;
                }
            }
        }
        report.segments_deleted = before.saturating_sub(self.segments().len());
        report.bytes_deleted = bytes_before - self.size_bytes();
        Ok(report)
    }

    /// Whether the oldest segment breaches `breach` and may go; `Some(true)` when it is the
    /// active segment, which must be rolled away first.
    fn oldest_breaches(&self, breach: Breach, now_ms: u64, upper_bound: i64) -> Option<bool> {
        let oldest = &self.segments()[0];
        let is_active = self.segments().len() == 1;
        if (is_active && oldest.is_empty()) || oldest.next_offset > upper_bound {
            return None;
        }
        // An empty segment left behind by a roll past an offset gap is as old as its file,
        // as Kafka takes an empty segment's largest timestamp from its last modification.
        let newest = if oldest.is_empty() {
            i64::try_from(oldest.created_ms).unwrap_or(i64::MAX)
        } else {
            oldest.max_timestamp
        };
        let breached = match breach {
            Breach::Time => self.config().retention_ms.is_some_and(|retention_ms| {
                (now_ms as i64).saturating_sub(newest) > retention_ms as i64
            }),
            // Size never deletes the active segment: it is where writes go.
            Breach::Size => {
                !is_active
                    && self
                        .config()
                        .retention_bytes
                        .is_some_and(|retention_bytes| {
                            self.size_bytes() - oldest.size_bytes >= retention_bytes
                        })
            }
        };
        breached.then_some(is_active)
    }
}
