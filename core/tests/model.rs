//! Property tests: the log against simple reference models, over random operation sequences.
//!
//! - read-after-append and truncation: a `Vec` of batches of records;
//! - retention: what remains is always a suffix of what was written, and only what the rules
//!   allow is gone;
//! - compaction: the map key → latest value (tombstones delete) is the same before and after,
//!   every surviving record keeps its offset, key, value and timestamp;
//! - any byte string fed to the batch parser gives a value or a typed error, never a panic.

mod common;

use std::collections::BTreeMap;

use common::{NewRec, Rec, batch, decode, new_log, read_all};
use proptest::prelude::*;
use runnel_core::batch::{BatchRef, NoCodec, batches};
use runnel_core::compaction::TxnCleaning;
use runnel_core::log::{CleanupPolicy, Log, LogConfig, MemorySegmentStore};

/// Small segments and a small index interval, so a few records span many segments and index
/// entries and every lookup path is taken.
fn config(segment_bytes: u64, index_interval_bytes: u64) -> LogConfig {
    LogConfig {
        segment_bytes,
        index_interval_bytes,
        retention_ms: None,
        ..LogConfig::default()
    }
}

fn new_record() -> impl Strategy<Value = NewRec> {
    (
        prop::option::weighted(0.9, (0u8..6).prop_map(|k| vec![b'k', k])),
        prop::option::weighted(0.85, prop::collection::vec(any::<u8>(), 0..40)),
        0i64..10_000,
    )
}

#[derive(Clone, Debug)]
enum Op {
    Append(Vec<NewRec>),
    Truncate(u16),
    Roll,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => prop::collection::vec(new_record(), 1..6).prop_map(Op::Append),
        1 => any::<u16>().prop_map(Op::Truncate),
        1 => Just(Op::Roll),
        1 => Just(Op::Reopen),
    ]
}

/// The model: batches of records with their offsets.
#[derive(Default)]
struct Model {
    batches: Vec<Vec<Rec>>,
}

impl Model {
    fn leo(&self) -> i64 {
        self.batches
            .last()
            .and_then(|b| b.last())
            .map_or(0, |r| r.offset + 1)
    }

    fn records(&self) -> Vec<Rec> {
        self.batches.iter().flatten().cloned().collect()
    }
}

fn check_reads(log: &Log<MemorySegmentStore>, model: &Model) -> Result<(), TestCaseError> {
    let all = model.records();
    prop_assert_eq!(log.log_end_offset(), model.leo());
    prop_assert_eq!(read_all(log), all.clone());
    for from in 0..=model.leo() {
        // Unbounded: exactly the model's suffix from `from` (after skipping the head of the
        // first batch, as clients do).
        let bytes = log.read(from, usize::MAX, model.leo()).expect("read");
        let got: Vec<Rec> = decode(&bytes)
            .into_iter()
            .filter(|r| r.offset >= from)
            .collect();
        let want: Vec<Rec> = all.iter().filter(|r| r.offset >= from).cloned().collect();
        prop_assert_eq!(&got, &want);
        // A tiny byte limit: exactly the one batch that holds `from`.
        let one = decode(&log.read(from, 1, model.leo()).expect("read"));
        let holder = model
            .batches
            .iter()
            .find(|b| b.last().is_some_and(|r| r.offset >= from));
        prop_assert_eq!(one, holder.cloned().unwrap_or_default());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn reads_after_appends_truncations_rolls_and_reopens_match_the_model(
        ops in prop::collection::vec(op(), 1..40),
        segment_bytes in 100u64..600,
        index_interval_bytes in 1u64..300,
    ) {
        let cfg = config(segment_bytes, index_interval_bytes);
        let mut log = new_log(cfg.clone());
        let mut model = Model::default();
        for (step, op) in ops.into_iter().enumerate() {
            let now = step as u64;
            match op {
                Op::Append(records) => {
                    let info = log.append(&mut batch(&records), 1, &NoCodec, now).expect("append");
                    let base = model.leo();
                    prop_assert_eq!(info.base_offset, base);
                    prop_assert_eq!(info.last_offset, base + records.len() as i64 - 1);
                    model.batches.push(
                        records
                            .into_iter()
                            .enumerate()
                            .map(|(i, (key, value, timestamp))| Rec {
                                offset: base + i as i64,
                                key,
                                value,
                                timestamp,
                            })
                            .collect(),
                    );
                }
                Op::Truncate(at) => {
                    let to = i64::from(at) % (model.leo() + 1);
                    log.truncate_to(to, now).expect("truncate");
                    model.batches.retain(|b| b.last().is_some_and(|r| r.offset < to));
                }
                Op::Roll => log.roll(now).expect("roll"),
                Op::Reopen => {
                    let (reopened, cut) =
                        Log::open(log.store().clone(), cfg.clone(), now).expect("open");
                    prop_assert_eq!(cut, 0);
                    log = reopened;
                }
            }
            check_reads(&log, &model)?;
        }
    }

    #[test]
    fn retention_only_removes_what_the_rules_allow(
        batches_ts in prop::collection::vec((1usize..4, 0i64..1000), 1..40),
        retention_ms in prop::option::of(0u64..1000),
        retention_bytes in prop::option::of(0u64..3000),
        now in 0u64..2000,
        hw_share in 0u64..=100,
    ) {
        let mut log = new_log(LogConfig {
            retention_ms,
            retention_bytes,
            ..config(300, 100)
        });
        for (n, ts) in &batches_ts {
            let records: Vec<NewRec> = (0..*n).map(|i| (None, Some(vec![i as u8; 20]), *ts)).collect();
            log.append(&mut batch(&records), 0, &NoCodec, 0).expect("append");
        }
        let before = read_all(&log);
        let leo = log.log_end_offset();
        let hw = leo * hw_share as i64 / 100;
        let size_before = log.size_bytes();
        let report = log.apply_retention(now, hw).expect("retention");
        let after = read_all(&log);
        let start = log.log_start_offset();
        // What remains is exactly the suffix from the new log start; the log end never moves.
        prop_assert_eq!(log.log_end_offset(), leo);
        prop_assert_eq!(&after[..], &before[before.len() - after.len()..]);
        prop_assert_eq!(after.first().map_or(leo, |r| r.offset), start);
        prop_assert!(start <= hw.max(0), "never deletes past the high watermark");
        prop_assert_eq!(report.bytes_deleted, size_before - log.size_bytes());
        let deleted = &before[..before.len() - after.len()];
        if !deleted.is_empty() {
            // Each deletion was justified by time or by size.
            let by_time = retention_ms.is_some_and(|r| deleted.iter().all(|d| (now as i64) - d.timestamp > r as i64));
            let by_size = retention_bytes.is_some_and(|r| log.size_bytes() >= r.min(size_before));
            prop_assert!(by_time || by_size, "deleted {} records without cause", deleted.len());
        }
    }

    #[test]
    fn compaction_keeps_the_latest_value_per_key_and_never_renumbers(
        appends in prop::collection::vec(prop::collection::vec(new_record(), 1..5), 1..40),
        delete_retention_ms in 0u64..100,
        now in 0u64..100,
        compressed_policy in any::<bool>(),
    ) {
        let compacted = LogConfig {
            cleanup_policy: if compressed_policy { CleanupPolicy::COMPACT_DELETE } else { CleanupPolicy::COMPACT },
            retention_ms: None,
            min_cleanable_dirty_ratio: 0.0,
            delete_retention_ms,
            ..config(250, 64)
        };
        // Written while the topic was cleanup.policy=delete (a compacted log refuses records
        // without a key, as Kafka's does), then switched to compaction: keyless history too.
        let mut log = new_log(LogConfig { cleanup_policy: CleanupPolicy::DELETE, ..compacted.clone() });
        for records in &appends {
            log.append(&mut batch(records), 0, &NoCodec, 0).expect("append");
        }
        log.set_config(compacted);
        let before = read_all(&log);
        let active_base = log.segments().last().map(|s| s.base_offset).unwrap_or(0);
        let leo = log.log_end_offset();
        let latest = |records: &[Rec]| -> BTreeMap<Vec<u8>, Vec<u8>> {
            let mut map = BTreeMap::new();
            for r in records {
                if let Some(k) = &r.key {
                    match &r.value {
                        Some(v) => { map.insert(k.clone(), v.clone()); }
                        None => { map.remove(k); }
                    }
                }
            }
            map
        };
        // The tombstones consumers must still see after the first pass: the latest record of
        // their key (a tombstone first cleaned gets delete.retention.ms before it may go).
        let mut latest_record: BTreeMap<Vec<u8>, &Rec> = BTreeMap::new();
        for r in &before {
            if let Some(k) = &r.key {
                latest_record.insert(k.clone(), r);
            }
        }
        let live_tombstones: Vec<i64> =
            latest_record.values().filter(|r| r.value.is_none()).map(|r| r.offset).collect();
        // Two passes: the second after every delete horizon, so tombstones go too.
        for (pass, pass_now) in [now, now + delete_retention_ms + 1].into_iter().enumerate() {
            log.compact(&NoCodec, pass_now, leo, &TxnCleaning::default()).expect("compact");
            let after = read_all(&log);
            if pass == 0 {
                for offset in &live_tombstones {
                    prop_assert!(after.iter().any(|r| r.offset == *offset), "tombstone {} dropped early", offset);
                }
            }
            prop_assert_eq!(log.log_end_offset(), leo);
            prop_assert_eq!(latest(&after), latest(&before));
            // Every survivor is an original record at its original offset, in order.
            let originals: BTreeMap<i64, &Rec> = before.iter().map(|r| (r.offset, r)).collect();
            for r in &after {
                prop_assert_eq!(Some(&r), originals.get(&r.offset));
            }
            prop_assert!(after.windows(2).all(|w| w[0].offset < w[1].offset));
            // In the cleaned part each key appears once; the active segment is untouched.
            let mut seen = BTreeMap::new();
            for r in after.iter().filter(|r| r.offset < active_base) {
                if let Some(k) = &r.key {
                    prop_assert!(seen.insert(k.clone(), r.offset).is_none(), "key {:?} twice", k);
                }
            }
            let active_before: Vec<&Rec> = before.iter().filter(|r| r.offset >= active_base).collect();
            let active_after: Vec<&Rec> = after.iter().filter(|r| r.offset >= active_base).collect();
            prop_assert_eq!(active_before, active_after);
        }
        let after = read_all(&log);
        prop_assert!(
            after.iter().filter(|r| r.offset < active_base).all(|r| r.value.is_some() || r.key.is_none()),
            "tombstones past their horizon are gone"
        );
        // The whole log still parses as valid batches.
        let bytes = log.read(log.log_start_offset(), usize::MAX, leo).expect("read");
        prop_assert!(batches(&bytes).all(|b| b.is_ok()));
    }

    #[test]
    fn random_bytes_never_panic_the_batch_parser(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        parse_everything(&bytes);
    }

    #[test]
    fn mutated_batches_never_panic_and_are_refused_or_consistent(
        records in prop::collection::vec(new_record(), 1..5),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        fix_crc in any::<bool>(),
    ) {
        let mut bytes = batch(&records);
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        if fix_crc && bytes.len() >= 21 {
            // Recompute the CRC so the damage reaches the record decoder.
            let crc = runnel_core::checksum::crc32c(&bytes[21..]);
            bytes[17..21].copy_from_slice(&crc.to_be_bytes());
        }
        parse_everything(&bytes);
        // A log refuses what does not validate and changes nothing.
        let mut log = new_log(LogConfig::default());
        let mut copy = bytes.clone();
        if log.append(&mut copy, 0, &NoCodec, 0).is_err() {
            prop_assert_eq!(log.log_end_offset(), 0);
            prop_assert!(read_all(&log).is_empty());
        }
    }
}

/// Drives every decoding path over `bytes`; the only acceptable outcomes are values and errors.
fn parse_everything(bytes: &[u8]) {
    let mut scratch = Vec::new();
    for batch in batches(bytes).flatten() {
        let _ = batch.validate_records(&NoCodec, |_, _| {});
        if let Ok(records) = batch.records(&NoCodec, &mut scratch) {
            for record in records {
                let _ = record;
            }
        }
    }
    let _ = BatchRef::parse(bytes);
}
