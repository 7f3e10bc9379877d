//! The keys-and-compaction lesson: the core's own partitioner and compaction, run in the page
//! on records the user types (`key=value`, `key=` for a tombstone).
//!
//! Each record's partition is the Java client's murmur2 of its key (the same function the
//! `runnel produce` command and Kafka's producers use), so equal keys always share a partition
//! and keep their order. The same records, appended one batch each to an in-memory log with
//! `cleanup.policy=compact`, are compacted by `runnel_core::log::Log::compact`: the latest value
//! per key stays at its original offset, tombstones stay until the delete horizon has passed.

use runnel_core::batch::{BatchBuilder, NoCodec, batches};
use runnel_core::compaction::TxnCleaning;
use runnel_core::log::{CleanupPolicy, Log, LogConfig, MemorySegmentStore};
use runnel_core::partitioner::murmur2_partition;

/// One record as the lesson shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shown {
    /// Its offset in the log.
    pub offset: i64,
    /// The key.
    pub key: String,
    /// The value; `None` is a tombstone.
    pub value: Option<String>,
}

/// `key=value` lines as (key, value); `key=` is a tombstone; lines without `=` are skipped.
pub fn parse(text: &str) -> Vec<(String, Option<String>)> {
    text.lines()
        .filter_map(|line| {
            let (k, v) = line.trim().split_once('=')?;
            let k = k.trim();
            (!k.is_empty()).then(|| (k.to_string(), (!v.is_empty()).then(|| v.to_string())))
        })
        .collect()
}

/// Each key's partition among `partitions` (murmur2, as the Java client).
pub fn partitions(records: &[(String, Option<String>)], partitions: u32) -> Vec<u32> {
    records
        .iter()
        .map(|(k, _)| murmur2_partition(k.as_bytes(), partitions.max(1)))
        .collect()
}

/// How long tombstones survive compaction in the lesson (`delete.retention.ms`): the core's
/// compaction lesson's, so the panel and the lesson beside it say the same.
pub const DELETE_RETENTION_MS: u64 = runnel_core::scenario::COMPACTION_DELETE_RETENTION_MS;

/// The log before and after one compaction, `past_horizon` deciding whether the tombstones'
/// delete horizon has passed.
pub fn compact(
    records: &[(String, Option<String>)],
    past_horizon: bool,
) -> Result<(Vec<Shown>, Vec<Shown>), String> {
    let config = LogConfig {
        cleanup_policy: CleanupPolicy::COMPACT,
        delete_retention_ms: DELETE_RETENTION_MS,
        segment_bytes: 300,
        index_interval_bytes: 100,
        min_cleanable_dirty_ratio: 0.0,
        ..LogConfig::default()
    };
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let mut log = Log::new(MemorySegmentStore::new(), config, 0).map_err(|x| e(&x))?;
    for (key, value) in records {
        let mut b = BatchBuilder::new(0);
        b.push(
            0,
            Some(key.as_bytes()),
            value.as_deref().map(str::as_bytes),
            Vec::new(),
        );
        let mut bytes = b.build(&NoCodec).map_err(|x| e(&x))?;
        log.append(&mut bytes, 0, &NoCodec, 0).map_err(|x| e(&x))?;
    }
    // Close the active segment so everything is cleanable.
    log.roll(0).map_err(|x| e(&x))?;
    let before = shown(&log)?;
    let leo = log.log_end_offset();
    log.compact(&NoCodec, 10, leo, &TxnCleaning::default())
        .map_err(|x| e(&x))?;
    if past_horizon {
        log.compact(
            &NoCodec,
            10 + DELETE_RETENTION_MS + 1,
            leo,
            &TxnCleaning::default(),
        )
        .map_err(|x| e(&x))?;
    }
    Ok((before, shown(&log)?))
}

fn shown(log: &Log<MemorySegmentStore>) -> Result<Vec<Shown>, String> {
    let bytes = log
        .read(log.log_start_offset(), usize::MAX, log.log_end_offset())
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut scratch = Vec::new();
    for batch in batches(&bytes) {
        let batch = batch.map_err(|e| e.to_string())?;
        for record in batch
            .records(&NoCodec, &mut scratch)
            .map_err(|e| e.to_string())?
        {
            let record = record.map_err(|e| e.to_string())?;
            let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            out.push(Shown {
                offset: record.offset,
                key: record.key.map(text).unwrap_or_default(),
                value: record.value.map(text),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The panel's delete.retention.ms is the compaction lesson's (issue 17: the panel said
    /// 1000 ms beside a lesson that uses 3 s).
    #[test]
    fn the_panel_and_the_compaction_lesson_keep_tombstones_alike() {
        let lesson = runnel_core::scenario::by_name("compaction").expect("the lesson");
        assert_eq!(lesson.config.topic.delete_retention_ms, DELETE_RETENTION_MS);
        assert_eq!(DELETE_RETENTION_MS, 3_000);
    }

    #[test]
    fn equal_keys_share_a_partition_and_compaction_keeps_the_latest() {
        let records = parse("a=a1\nb=b1\na=a2\nnot a record\nc=c1\nb=\na=a3\n");
        assert_eq!(records.len(), 6);
        assert_eq!(records[4], ("b".to_string(), None), "b= is a tombstone");
        let chosen = partitions(&records, 3);
        assert_eq!(chosen[0], chosen[2]);
        assert_eq!(chosen[0], chosen[5]);
        assert_eq!(chosen[0], murmur2_partition(b"a", 3));
        let (before, after) = compact(&records, false).expect("compacts");
        assert_eq!(before.len(), 6);
        let kept: Vec<(i64, &str, Option<&str>)> = after
            .iter()
            .map(|s| (s.offset, s.key.as_str(), s.value.as_deref()))
            .collect();
        assert_eq!(
            kept,
            [(3, "c", Some("c1")), (4, "b", None), (5, "a", Some("a3"))]
        );
        let (_, after) = compact(&records, true).expect("compacts");
        let offsets: Vec<i64> = after.iter().map(|s| s.offset).collect();
        assert_eq!(
            offsets,
            [3, 5],
            "the tombstone goes after the delete horizon"
        );
    }
}
