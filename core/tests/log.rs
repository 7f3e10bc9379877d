//! The partition log's contract, one behaviour per test: offsets, reads, indexes, truncation,
//! segment rolling, DeleteRecords, retention, compaction and recovery.

mod common;

use common::{NewRec, Rec, batch, decode, new_log, read_all, value};
use runnel_core::batch::{BatchBuilder, BatchRef, Codec, Compression, NoCodec, Record};
use runnel_core::compaction::TxnCleaning;
use runnel_core::error_code;
use runnel_core::log::{
    CleanupPolicy, Log, LogConfig, LogError, MemorySegmentStore, RecordRefusal, SegmentFile,
    SegmentStore, segment_file_name,
};

fn keyed(key: &str, val: Option<&str>, ts: i64) -> NewRec {
    (
        Some(key.as_bytes().to_vec()),
        val.map(|v| v.as_bytes().to_vec()),
        ts,
    )
}

fn small_segments() -> LogConfig {
    LogConfig {
        segment_bytes: 300,
        index_interval_bytes: 100,
        ..LogConfig::default()
    }
}

/// Appends one batch of `n` records with values "v{i}" and timestamp `ts`.
fn append_n(log: &mut Log<MemorySegmentStore>, n: usize, ts: i64) -> (i64, i64) {
    let records: Vec<NewRec> = (0..n)
        .map(|i| (None, Some(format!("v{i}").into_bytes()), ts))
        .collect();
    let info = log
        .append(&mut batch(&records), 5, &NoCodec, ts as u64)
        .expect("append");
    (info.base_offset, info.last_offset)
}

#[test]
fn offsets_are_dense_and_the_epoch_is_stamped() {
    let mut log = new_log(LogConfig::default());
    assert_eq!(append_n(&mut log, 3, 10), (0, 2));
    assert_eq!(append_n(&mut log, 1, 11), (3, 3));
    assert_eq!(append_n(&mut log, 2, 12), (4, 5));
    assert_eq!(log.log_end_offset(), 6);
    let bytes = log.read(0, usize::MAX, 6).unwrap();
    let offsets: Vec<i64> = decode(&bytes).iter().map(|r| r.offset).collect();
    assert_eq!(offsets, [0, 1, 2, 3, 4, 5]);
    let first = BatchRef::parse(&bytes).unwrap();
    assert_eq!(first.header().partition_leader_epoch, 5);
}

#[test]
fn a_read_inside_a_batch_returns_the_whole_batch() {
    let mut log = new_log(LogConfig::default());
    append_n(&mut log, 5, 1); // offsets 0..=4
    append_n(&mut log, 5, 1); // offsets 5..=9
    let got = decode(&log.read(7, usize::MAX, 10).unwrap());
    assert_eq!(got.first().map(|r| r.offset), Some(5));
    assert_eq!(got.len(), 5);
}

#[test]
fn reads_stop_below_the_high_watermark_and_at_the_byte_limit() {
    let mut log = new_log(LogConfig::default());
    for _ in 0..4 {
        append_n(&mut log, 2, 1); // batches at 0, 2, 4, 6
    }
    // HW at 4: batches 0 and 2 only; a batch that reaches the HW is never returned.
    let got = decode(&log.read(0, usize::MAX, 4).unwrap());
    assert_eq!(
        got.iter().map(|r| r.offset).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
    assert!(log.read(4, usize::MAX, 4).unwrap().is_empty());
    // A limit of one byte still returns the first batch whole (KIP-74) and only it.
    let got = decode(&log.read(2, 1, 8).unwrap());
    assert_eq!(got.iter().map(|r| r.offset).collect::<Vec<_>>(), [2, 3]);
}

#[test]
fn out_of_range_reads_are_refused() {
    let mut log = new_log(LogConfig::default());
    append_n(&mut log, 3, 1);
    assert!(
        log.read(3, 100, 3).unwrap().is_empty(),
        "the log end reads empty"
    );
    let err = log.read(4, 100, 3).unwrap_err();
    assert!(matches!(
        err,
        LogError::OffsetOutOfRange {
            offset: 4,
            log_start: 0,
            log_end: 3
        }
    ));
    assert_eq!(err.kafka_error_code(), error_code::OFFSET_OUT_OF_RANGE);
    assert!(log.read(-1, 100, 3).is_err());
}

#[test]
fn segments_roll_by_size_and_by_age_and_reads_cross_them() {
    let mut log = new_log(small_segments());
    for i in 0..20 {
        append_n(&mut log, 1, i);
    }
    assert!(
        log.segments().len() > 3,
        "{} segments",
        log.segments().len()
    );
    assert!(log.segments().iter().all(|s| s.size_bytes <= 300));
    let bases: Vec<i64> = log.segments().iter().map(|s| s.base_offset).collect();
    for pair in log.segments().windows(2) {
        assert_eq!(pair[0].next_offset, pair[1].base_offset, "segments abut");
    }
    assert_eq!(read_all(&log).len(), 20);
    assert_eq!(
        segment_file_name(bases[1], SegmentFile::Log),
        format!("{:020}.log", bases[1])
    );

    let mut log = new_log(LogConfig {
        segment_ms: 1000,
        ..LogConfig::default()
    });
    log.append(&mut batch(&[keyed("a", Some("1"), 0)]), 0, &NoCodec, 0)
        .unwrap();
    log.append(&mut batch(&[keyed("a", Some("2"), 999)]), 0, &NoCodec, 999)
        .unwrap();
    assert_eq!(log.segments().len(), 1);
    log.append(
        &mut batch(&[keyed("a", Some("3"), 1000)]),
        0,
        &NoCodec,
        1000,
    )
    .unwrap();
    assert_eq!(log.segments().len(), 2);
    assert_eq!(log.segments()[1].base_offset, 2);
}

#[test]
fn index_files_use_kafkas_layout() {
    let mut log = new_log(LogConfig {
        index_interval_bytes: 1,
        ..LogConfig::default()
    });
    append_n(&mut log, 3, 100); // offsets 0..=2 at position 0
    append_n(&mut log, 2, 50); // offsets 3..=4: older timestamp, no time index entry
    append_n(&mut log, 1, 200); // offset 5
    let store = log.store();
    let index = store.file(0, SegmentFile::OffsetIndex).unwrap();
    let second_position = log.read(0, 1, 6).unwrap().len() as u32;
    let mut expected = Vec::new();
    for (relative_offset, position) in [(2u32, 0u32), (4, second_position)] {
        expected.extend_from_slice(&relative_offset.to_be_bytes());
        expected.extend_from_slice(&position.to_be_bytes());
    }
    assert_eq!(&index[..16], &expected[..]);
    assert_eq!(index.len(), 24);
    let time = store.file(0, SegmentFile::TimeIndex).unwrap();
    assert_eq!(time.len(), 24, "two entries: ts 100 @2, ts 200 @5");
    assert_eq!(&time[..8], &100i64.to_be_bytes());
    assert_eq!(&time[8..12], &2u32.to_be_bytes());
    assert_eq!(&time[12..20], &200i64.to_be_bytes());
    assert_eq!(&time[20..24], &5u32.to_be_bytes());
}

#[test]
fn offset_for_timestamp_finds_the_first_record_at_or_after() {
    let mut log = new_log(small_segments());
    // Timestamps rise 0, 10, 20 ... with one late record in the middle.
    for i in 0..30i64 {
        let ts = if i == 15 { 5 } else { i * 10 };
        log.append(
            &mut batch(&[(None, Some(value(i as u64, 8)), ts)]),
            0,
            &NoCodec,
            0,
        )
        .unwrap();
    }
    assert_eq!(log.offset_for_timestamp(0, &NoCodec).unwrap(), Some((0, 0)));
    assert_eq!(
        log.offset_for_timestamp(95, &NoCodec).unwrap(),
        Some((10, 100))
    );
    assert_eq!(
        log.offset_for_timestamp(100, &NoCodec).unwrap(),
        Some((10, 100))
    );
    assert_eq!(
        log.offset_for_timestamp(290, &NoCodec).unwrap(),
        Some((29, 290))
    );
    assert_eq!(log.offset_for_timestamp(291, &NoCodec).unwrap(), None);
}

#[test]
fn a_compacted_log_refuses_a_record_without_a_key() {
    // Kafka's LogValidator: "Compacted topic cannot accept message without key"
    // (INVALID_RECORD, 87); the whole batch is refused and nothing is written.
    let mut log = new_log(LogConfig {
        cleanup_policy: CleanupPolicy::COMPACT,
        ..LogConfig::default()
    });
    let e = log
        .append(
            &mut batch(&[keyed("k", Some("v"), 1), (None, Some(b"x".to_vec()), 1)]),
            0,
            &NoCodec,
            0,
        )
        .unwrap_err();
    assert_eq!(e.kafka_error_code(), error_code::INVALID_RECORD, "{e}");
    assert_eq!(log.log_end_offset(), 0, "nothing written");
    // A tombstone has a key: accepted.
    log.append(&mut batch(&[keyed("k", None, 2)]), 0, &NoCodec, 0)
        .expect("a tombstone");
    // compact,delete refuses too; delete alone takes anything.
    let mut both = new_log(LogConfig {
        cleanup_policy: CleanupPolicy::COMPACT_DELETE,
        ..LogConfig::default()
    });
    assert!(
        both.append(&mut batch(&[(None, None, 1)]), 0, &NoCodec, 0)
            .is_err()
    );
    let mut delete = new_log(LogConfig::default());
    assert!(
        delete
            .append(&mut batch(&[(None, None, 1)]), 0, &NoCodec, 0)
            .is_ok()
    );
}

#[test]
fn max_timestamp_is_the_first_record_carrying_the_largest_timestamp() {
    // KIP-734 (ListOffsets MAX_TIMESTAMP, -3): the offset of the record with the largest
    // timestamp, the record's own offset inside a multi-record batch (KAFKA-16310), the first
    // one when several carry it; nothing on an empty log.
    let mut log = new_log(small_segments());
    assert_eq!(log.offset_of_max_timestamp(&NoCodec).unwrap(), None);
    for (i, ts) in [10, 70, 30, 70, 20].into_iter().enumerate() {
        log.append(
            &mut batch(&[(None, Some(value(i as u64, 8)), ts)]),
            0,
            &NoCodec,
            0,
        )
        .unwrap();
    }
    // One batch of three records whose middle one is later than everything so far.
    log.append(
        &mut batch(&[
            (None, Some(value(5, 8)), 40),
            (None, Some(value(6, 8)), 90),
            (None, Some(value(7, 8)), 50),
        ]),
        0,
        &NoCodec,
        0,
    )
    .unwrap();
    assert_eq!(
        log.offset_of_max_timestamp(&NoCodec).unwrap(),
        Some((6, 90))
    );
    // A later record with the same timestamp does not move it.
    log.append(&mut batch(&[(None, Some(value(8, 8)), 90)]), 0, &NoCodec, 0)
        .unwrap();
    assert_eq!(
        log.offset_of_max_timestamp(&NoCodec).unwrap(),
        Some((6, 90))
    );
}

#[test]
fn truncation_cuts_on_a_batch_boundary_and_appends_continue_from_there() {
    let mut log = new_log(small_segments());
    for _ in 0..10 {
        append_n(&mut log, 3, 1); // batches at 0, 3, 6, ... 27
    }
    log.truncate_to(13, 2).unwrap(); // inside the batch 12..=14
    assert_eq!(log.log_end_offset(), 12);
    assert_eq!(read_all(&log).last().map(|r| r.offset), Some(11));
    assert_eq!(append_n(&mut log, 1, 3), (12, 12));
    log.truncate_to(100, 4).unwrap();
    assert_eq!(
        log.log_end_offset(),
        13,
        "truncating past the end changes nothing"
    );
    log.truncate_to(0, 5).unwrap();
    assert_eq!(log.log_end_offset(), 0);
    assert!(read_all(&log).is_empty());
}

/// Kafka's `UnifiedLog.truncateTo` deletes only the segments whose base offset is above the
/// target and truncates the one holding it: a segment that starts exactly at the target stays,
/// emptied, and `LogSegment.truncateTo` makes an emptied segment's creation time now.
#[test]
fn truncating_to_a_segments_base_keeps_that_segment_empty() {
    let mut log = new_log(small_segments());
    for _ in 0..10 {
        append_n(&mut log, 3, 1);
    }
    let bases: Vec<i64> = log.segments().iter().map(|s| s.base_offset).collect();
    assert!(bases.len() > 3, "{bases:?}");
    let target = bases[2];
    log.truncate_to(target, 9).unwrap();
    let after: Vec<i64> = log.segments().iter().map(|s| s.base_offset).collect();
    assert_eq!(after, bases[..3], "the segment at the target is kept");
    assert_eq!(log.segments()[2].size_bytes, 0);
    assert_eq!(
        log.segments()[2].created_ms,
        9,
        "an emptied segment counts as new"
    );
    assert_eq!(log.log_end_offset(), target);
    assert_eq!(read_all(&log).last().map(|r| r.offset), Some(target - 1));
    assert_eq!(append_n(&mut log, 2, 10), (target, target + 1));
    assert_eq!(
        log.segments().len(),
        3,
        "the append went into the kept segment"
    );
    let offsets: Vec<i64> = read_all(&log).iter().map(|r| r.offset).collect();
    assert_eq!(offsets, (0..target + 2).collect::<Vec<_>>());
}

#[test]
fn delete_records_moves_the_log_start_and_drops_whole_segments() {
    let mut log = new_log(small_segments());
    for _ in 0..20 {
        append_n(&mut log, 2, 1);
    }
    let segments_before = log.segments().len();
    assert_eq!(log.delete_records_before(15, 0).unwrap(), 15);
    assert_eq!(log.log_start_offset(), 15);
    assert!(log.segments().len() < segments_before);
    assert!(log.segments()[0].base_offset <= 15);
    assert!(matches!(
        log.read(14, 100, 40),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    let records = read_all(&log);
    assert_eq!(records.first().map(|r| r.offset), Some(15));
    assert_eq!(records.len(), 25);
    assert!(
        log.delete_records_before(41, 0).is_err(),
        "past the log end"
    );
    assert_eq!(
        log.delete_records_before(10, 0).unwrap(),
        15,
        "never moves back"
    );
    // Deleting everything leaves an empty active segment at the log end.
    assert_eq!(log.delete_records_before(40, 0).unwrap(), 40);
    assert_eq!(log.segments().len(), 1);
    assert_eq!(log.log_end_offset(), 40);
    assert_eq!(append_n(&mut log, 1, 1), (40, 40));
}

#[test]
fn a_bad_append_changes_nothing() {
    let mut log = new_log(LogConfig {
        max_message_bytes: 200,
        ..LogConfig::default()
    });
    append_n(&mut log, 1, 1);
    let store_before = log.store().clone();
    let good = batch(&[keyed("k", Some("v"), 1)]);
    let mut corrupt = good.clone();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    let mut two = good.clone();
    two.extend_from_slice(&corrupt);
    let mut too_big = batch(&[(None, Some(value(0, 300)), 1)]);
    let mut torn = good[..good.len() - 2].to_vec();
    // A producer batch whose one record claims offset delta 5: offsets would not be dense.
    let mut gappy = {
        let mut b = BatchBuilder::new(0);
        b.push_record(Record {
            offset: 5,
            timestamp: 1,
            key: None,
            value: Some(b"v"),
            headers: Vec::new(),
        });
        b.build(&NoCodec).unwrap()
    };
    for (bytes, code) in [
        (&mut corrupt, error_code::CORRUPT_MESSAGE),
        (&mut two, error_code::CORRUPT_MESSAGE),
        (&mut too_big, error_code::MESSAGE_TOO_LARGE),
        (&mut torn, error_code::CORRUPT_MESSAGE),
        (&mut gappy, error_code::INVALID_RECORD),
        (&mut Vec::new(), error_code::INVALID_RECORD),
    ] {
        let err = log.append(bytes, 0, &NoCodec, 2).unwrap_err();
        assert_eq!(err.kafka_error_code(), code, "{err}");
    }
    assert_eq!(log.log_end_offset(), 1);
    for file in SegmentFile::ALL {
        assert_eq!(log.store().file(0, file), store_before.file(0, file));
    }
}

#[test]
fn followers_append_batches_with_the_leaders_offsets() {
    let mut leader = new_log(LogConfig::default());
    append_n(&mut leader, 3, 1);
    append_n(&mut leader, 2, 1);
    let fetched = leader.read(0, usize::MAX, 5).unwrap();
    let mut follower = new_log(LogConfig::default());
    let info = follower.append_replicated(&fetched, 0).unwrap();
    assert_eq!(
        (info.base_offset, info.last_offset, info.batch_count),
        (0, 4, 2)
    );
    assert_eq!(read_all(&follower), read_all(&leader));
    let err = follower.append_replicated(&fetched, 0).unwrap_err();
    assert!(matches!(
        err,
        LogError::NonContiguousAppend {
            base_offset: 0,
            log_end: 5
        }
    ));
}

/// Kafka's `.index` and `.timeindex` hold offsets relative to the segment's base as an int, so
/// `LogSegment.shouldRoll` rolls when a batch's *last* offset would not fit
/// (`canConvertToRelativeOffset(maxOffsetInMessages)`), empty segment or not; the roll starts
/// at the batch's first offset and leaves the empty segment (`LocalLog.roll`). A follower of a
/// compacted topic meets such gaps.
#[test]
fn a_follower_rolls_where_offsets_would_outgrow_the_index_even_from_an_empty_segment() {
    let config = LogConfig {
        index_interval_bytes: 1,
        ..LogConfig::default()
    };
    let batch_at = |base: i64, n: usize| {
        let values: Vec<Vec<u8>> = (0..n).map(|i| format!("v{i}").into_bytes()).collect();
        let mut b = BatchBuilder::new(base);
        for value in &values {
            b.push(1, Some(b"k"), Some(value), Vec::new());
        }
        b.build(&NoCodec).expect("uncompressed batches build")
    };
    let limit = i64::from(i32::MAX);
    let far = 3_000_000_000i64;
    // Into the empty segment at 0: past the limit, so a segment at `far` takes it.
    // The next batch starts inside the limit of that segment but ends past it.
    // The third fits behind the second.
    let steps = [(far, 3), (far + limit - 2, 6), (far + limit + 10, 2)];
    let mut follower = new_log(config.clone());
    for (base, n) in steps {
        follower
            .append_replicated(&batch_at(base, n), 0)
            .expect("a follower copies its leader's offsets");
    }
    let bases: Vec<i64> = follower.segments().iter().map(|s| s.base_offset).collect();
    assert_eq!(bases, [0, far, far + limit - 2]);
    for segment in follower.segments() {
        for entry in segment.offset_index() {
            assert!(
                (0..=limit).contains(&(entry.offset - segment.base_offset)),
                "segment {} indexes offset {}",
                segment.base_offset,
                entry.offset
            );
        }
    }
    let offsets = |log: &Log<MemorySegmentStore>| -> Vec<i64> {
        read_all(log).iter().map(|r| r.offset).collect()
    };
    let mut expected: Vec<i64> = Vec::new();
    for (base, n) in steps {
        expected.extend((0..n as i64).map(|i| base + i));
    }
    assert_eq!(
        offsets(&follower),
        expected,
        "reads pass over the empty segment"
    );
    let at = |log: &Log<MemorySegmentStore>, offset: i64| {
        let bytes = log.read(offset, 1, log.log_end_offset()).expect("read");
        decode(&bytes).first().map(|r| r.offset)
    };
    assert_eq!(
        at(&follower, 5),
        Some(far),
        "an offset in the gap reads the next batch"
    );
    assert_eq!(at(&follower, far + limit + 1), Some(far + limit - 2));
    let (reopened, cut) = Log::open(follower.store().clone(), config, 0).expect("reopen");
    assert_eq!(cut, 0);
    assert_eq!(offsets(&reopened), expected);
    assert_eq!(reopened.log_end_offset(), far + limit + 12);

    // The gap moves no log start: Kafka deletes a segment below the log start only once the
    // next one starts at or below it, and time retention counts an empty segment's age from
    // its file (here: created at 0).
    let leo = follower.log_end_offset();
    follower.apply_retention(1_000, leo).expect("retention");
    assert_eq!(follower.log_start_offset(), 0);
    assert_eq!(at(&follower, 5), Some(far));
    let week_ms = 7 * 24 * 3_600_000;
    let report = follower
        .apply_retention(week_ms + 1, leo)
        .expect("retention");
    assert!(report.segments_deleted >= 1, "{report:?}");
    assert!(follower.log_start_offset() >= far);
}

/// Kafka's `UnifiedLog.appendAsFollower` appends with `validateAndAssignOffsets = false` and
/// `ignoreRecordSize = true`: a follower checks each batch's CRC (`batch.ensureValid()`), not
/// its size against its own `max.message.bytes` (the leader took the batch, perhaps before the
/// topic's limit was lowered; refusing it would leave the follower out of the ISR for good).
#[test]
fn a_follower_copies_batches_past_its_size_limit_but_not_damaged_ones() {
    let mut leader = new_log(LogConfig::default());
    append_n(&mut leader, 40, 1);
    append_n(&mut leader, 2, 1);
    let fetched = leader.read(0, usize::MAX, 42).unwrap();
    let first_batch = BatchRef::parse(&fetched).unwrap().as_bytes().len();
    let limit = LogConfig {
        max_message_bytes: 100,
        ..LogConfig::default()
    };
    assert!(first_batch > 100);
    // A batch with one byte flipped in its records: its CRC no longer matches.
    let mut damaged = fetched.clone();
    damaged[first_batch - 1] ^= 1;
    let mut follower = new_log(limit.clone());
    let err = follower.append_replicated(&damaged, 0).unwrap_err();
    assert_eq!(err.kafka_error_code(), error_code::CORRUPT_MESSAGE, "{err}");
    assert_eq!(
        follower.log_end_offset(),
        0,
        "nothing of a refused copy is kept"
    );
    // The same bytes undamaged: both batches copied, the oversized one included.
    let info = follower.append_replicated(&fetched, 0).unwrap();
    assert_eq!((info.base_offset, info.last_offset), (0, 41));
    assert_eq!(read_all(&follower), read_all(&leader));
    // The leader itself still refuses such a batch from a producer.
    let mut small = new_log(limit);
    let too_big = (0..40)
        .map(|i| (None, Some(format!("v{i}").into_bytes()), 1))
        .collect::<Vec<NewRec>>();
    let err = small
        .append(&mut batch(&too_big), 5, &NoCodec, 1)
        .unwrap_err();
    assert_eq!(
        err.kafka_error_code(),
        error_code::MESSAGE_TOO_LARGE,
        "{err}"
    );
}

#[test]
fn retention_deletes_old_segments_by_time_and_by_size_below_the_high_watermark() {
    let day = 86_400_000u64;
    let mut log = new_log(LogConfig {
        retention_ms: Some(day),
        ..small_segments()
    });
    for i in 0..12 {
        append_n(&mut log, 2, i * 1000); // timestamps 0..=11_000
    }
    let segments = log.segments().len();
    // Nothing is older than a day yet.
    let report = log.apply_retention(12_000, log.log_end_offset()).unwrap();
    assert_eq!(report.segments_deleted, 0);
    // A day later, everything before the high watermark may go, but not past it.
    let hw = log.segments()[2].next_offset;
    let report = log.apply_retention(day + 20_000, hw).unwrap();
    assert_eq!(report.segments_deleted, 3);
    assert_eq!(log.log_start_offset(), hw);
    assert_eq!(log.segments().len(), segments - 3);
    // With the high watermark at the end, all goes, and the log rolls a fresh active segment.
    let leo = log.log_end_offset();
    log.apply_retention(day + 20_000, leo).unwrap();
    assert_eq!(log.segments().len(), 1);
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (leo, leo));

    let mut log = new_log(LogConfig {
        retention_ms: None,
        retention_bytes: Some(600),
        ..small_segments()
    });
    for i in 0..30 {
        append_n(&mut log, 2, i);
    }
    let before = log.size_bytes();
    let report = log.apply_retention(0, log.log_end_offset()).unwrap();
    assert_eq!(report.bytes_deleted, before - log.size_bytes());
    assert!(log.size_bytes() >= 600);
    assert!(log.size_bytes() - log.segments()[0].size_bytes < 600);
    assert_eq!(
        read_all(&log).first().map(|r| r.offset),
        Some(log.log_start_offset())
    );

    let mut compact_only = new_log(LogConfig {
        retention_ms: Some(1),
        cleanup_policy: CleanupPolicy::COMPACT,
        ..small_segments()
    });
    for i in 0..10 {
        // Keyed: a compacted topic refuses records without a key, as Kafka's does.
        compact_only
            .append(
                &mut batch(&[keyed("k", Some("v"), i), keyed("j", Some("w"), i)]),
                5,
                &NoCodec,
                i as u64,
            )
            .expect("append");
    }
    let leo = compact_only.log_end_offset();
    let report = compact_only.apply_retention(day, leo).unwrap();
    assert_eq!(
        report.segments_deleted, 0,
        "cleanup.policy=compact deletes nothing"
    );
}

#[test]
fn compaction_keeps_the_latest_value_per_key_and_its_offset() {
    let mut log = new_log(LogConfig {
        cleanup_policy: CleanupPolicy::COMPACT,
        delete_retention_ms: 1000,
        ..small_segments()
    });
    let writes = [
        keyed("a", Some("a1"), 1),
        keyed("b", Some("b1"), 2),
        keyed("a", Some("a2"), 3),
        keyed("c", Some("c1"), 4),
        keyed("b", None, 5), // tombstone for b
        keyed("a", Some("a3"), 6),
        keyed("d", Some("d1"), 7),
    ];
    for w in &writes {
        log.append(&mut batch(std::slice::from_ref(w)), 0, &NoCodec, 0)
            .unwrap();
    }
    log.roll(0).unwrap(); // make everything cleanable
    let leo = log.log_end_offset();
    let report = log
        .compact(&NoCodec, 10, leo, &TxnCleaning::default())
        .unwrap();
    assert!(report.ran);
    assert_eq!(report.records_removed, 3, "a1, a2, b1");
    let kept: Vec<(i64, String, Option<String>)> = read_all(&log)
        .into_iter()
        .map(|r: Rec| {
            let key = String::from_utf8(r.key.unwrap()).unwrap();
            (
                r.offset,
                key,
                r.value.map(|v| String::from_utf8(v).unwrap()),
            )
        })
        .collect();
    let expect = |o, k: &str, v: Option<&str>| (o, k.to_string(), v.map(String::from));
    assert_eq!(
        kept,
        [
            expect(3, "c", Some("c1")),
            expect(4, "b", None),
            expect(5, "a", Some("a3")),
            expect(6, "d", Some("d1")),
        ]
    );
    assert_eq!(
        log.log_end_offset(),
        leo,
        "compaction never moves the log end"
    );
    // Before the delete horizon (now 10 + 1000) the tombstone stays; after it, it goes.
    let report = log
        .compact(&NoCodec, 500, leo, &TxnCleaning::default())
        .unwrap();
    assert_eq!(report.tombstones_removed, 0);
    let report = log
        .compact(&NoCodec, 1010, leo, &TxnCleaning::default())
        .unwrap();
    assert!(
        report.ran,
        "a passed horizon triggers cleaning whatever the dirty ratio"
    );
    assert_eq!(report.tombstones_removed, 1);
    let offsets: Vec<i64> = read_all(&log).iter().map(|r| r.offset).collect();
    assert_eq!(offsets, [3, 5, 6]);
}

#[test]
fn compaction_waits_for_the_dirty_ratio() {
    let mut log = new_log(LogConfig {
        cleanup_policy: CleanupPolicy::COMPACT,
        min_cleanable_dirty_ratio: 0.5,
        ..small_segments()
    });
    let append = |log: &mut Log<MemorySegmentStore>, key: String| {
        log.append(&mut batch(&[keyed(&key, Some("v"), 0)]), 0, &NoCodec, 0)
            .unwrap();
    };
    // 20 distinct keys: the first pass cleans everything and removes nothing.
    for i in 0..20 {
        append(&mut log, format!("key-{i:02}"));
    }
    log.roll(0).unwrap();
    let leo = log.log_end_offset();
    assert_eq!(log.dirty_ratio(leo), 1.0);
    let report = log
        .compact(&NoCodec, 0, leo, &TxnCleaning::default())
        .unwrap();
    assert!(report.ran);
    assert_eq!(report.records_removed, 0);
    assert_eq!(log.dirty_ratio(leo), 0.0);
    // 4 overwrites are a fifth of the cleanable bytes: below 0.5, no pass.
    for i in 0..4 {
        append(&mut log, format!("key-{i:02}"));
    }
    log.roll(0).unwrap();
    let leo = log.log_end_offset();
    let ratio = log.dirty_ratio(leo);
    assert!(ratio > 0.1 && ratio < 0.25, "ratio {ratio}");
    assert!(
        !log.compact(&NoCodec, 0, leo, &TxnCleaning::default())
            .unwrap()
            .ran
    );
    assert_eq!(read_all(&log).len(), 24);
    // 20 more overwrites: now more than half is dirty, and the pass removes 24 old values.
    for i in 0..20 {
        append(&mut log, format!("key-{i:02}"));
    }
    log.roll(0).unwrap();
    let leo = log.log_end_offset();
    assert!(log.dirty_ratio(leo) >= 0.5);
    let report = log
        .compact(&NoCodec, 0, leo, &TxnCleaning::default())
        .unwrap();
    assert_eq!(report.records_removed, 24);
    assert_eq!(read_all(&log).len(), 20);
}

#[test]
fn reopening_recovers_and_cuts_a_torn_tail() {
    let mut log = new_log(small_segments());
    for i in 0..15 {
        append_n(&mut log, 2, i);
    }
    let records = read_all(&log);
    let leo = log.log_end_offset();
    let (reopened, cut) = Log::open(log.store().clone(), small_segments(), 0).unwrap();
    assert_eq!(cut, 0);
    assert_eq!(reopened.log_end_offset(), leo);
    assert_eq!(read_all(&reopened), records);
    let shape = |log: &Log<MemorySegmentStore>| -> Vec<_> {
        log.segments()
            .iter()
            .map(|s| {
                let indexes = (s.offset_index().to_vec(), s.time_index().to_vec());
                (
                    s.base_offset,
                    s.size_bytes,
                    s.next_offset,
                    s.max_timestamp,
                    indexes,
                )
            })
            .collect()
    };
    assert_eq!(shape(&reopened), shape(&log));

    // A clean reopen writes nothing: the newest segment and its indexes are as they were.
    let store: MemorySegmentStore = log.store().clone();
    let (again, _) = Log::open(store.clone(), small_segments(), 0).unwrap();
    let active = log.segments().last().unwrap().base_offset;
    for file in SegmentFile::ALL {
        assert_eq!(again.store().file(active, file), store.file(active, file));
    }
    // A lost index (its entries were not written before a crash) is rebuilt.
    let mut store: MemorySegmentStore = log.store().clone();
    store
        .file_mut(active, SegmentFile::OffsetIndex)
        .unwrap()
        .clear();
    let (rebuilt, _) = Log::open(store, small_segments(), 0).unwrap();
    assert_eq!(shape(&rebuilt), shape(&log));
    assert_eq!(
        rebuilt.store().file(active, SegmentFile::OffsetIndex),
        log.store().file(active, SegmentFile::OffsetIndex)
    );

    // Damage the last batch of the newest segment (a torn write): everything before survives.
    let mut store: MemorySegmentStore = log.store().clone();
    let active = log.segments().last().unwrap().base_offset;
    let file = store.file_mut(active, SegmentFile::Log).unwrap();
    let len = file.len();
    file.truncate(len - 5);
    let (mut reopened, cut) = Log::open(store, small_segments(), 0).unwrap();
    assert!(cut > 0);
    assert_eq!(reopened.log_end_offset(), leo - 2);
    assert_eq!(read_all(&reopened), records[..records.len() - 2]);
    assert_eq!(append_n(&mut reopened, 1, 99), (leo - 2, leo - 2));
}

/// Kafka recovers a log from its recovery point (`LogLoader.recoverLog`): segments wholly
/// below it are trusted, every later one is checked batch by batch, and a segment torn before
/// its end takes every later segment with it. Here the recovery point is the newest snapshot,
/// which a store shows only once the segments below it are durable: a roll's fsync runs off
/// the append path (Kafka's `UnifiedLog.roll`), so after a crash an older segment than the
/// newest may be the torn one.
#[test]
fn reopening_checks_every_segment_from_the_newest_snapshot_on() {
    let mut log = new_log(small_segments());
    for i in 0..15 {
        append_n(&mut log, 2, i);
    }
    let records = read_all(&log);
    let bases: Vec<i64> = log.segments().iter().map(|s| s.base_offset).collect();
    assert!(bases.len() >= 4, "{bases:?}");
    // Tear the second segment's last batch, as a crash does when its sync had not finished.
    let torn = |snapshot_at: Option<i64>| {
        let mut store: MemorySegmentStore = log.store().clone();
        let file = store.file_mut(bases[1], SegmentFile::Log).unwrap();
        let len = file.len();
        file.truncate(len - 5);
        if let Some(offset) = snapshot_at {
            store.write_snapshot(offset, b"state").unwrap();
        }
        store
    };
    let kept_to = bases[2] - 2; // the torn batch held the last 2 records of segment 1

    // No snapshot: every segment is checked; the torn one is cut, the later ones deleted.
    let (reopened, cut) = Log::open(torn(None), small_segments(), 0).unwrap();
    assert!(cut > 0);
    assert_eq!(reopened.log_end_offset(), kept_to);
    assert_eq!(reopened.segments().len(), 2);
    assert_eq!(read_all(&reopened), records[..kept_to as usize]);
    for later in &bases[2..] {
        assert!(reopened.store().file(*later, SegmentFile::Log).is_none());
    }

    // The recovery point before the torn segment, inside it, or one short of its end: the
    // torn segment is checked, so the same.
    for point in [bases[0], bases[1], bases[1] + 1, bases[2] - 1] {
        let (reopened, cut) = Log::open(torn(Some(point)), small_segments(), 0).unwrap();
        assert!(cut > 0, "recovery point {point}");
        assert_eq!(reopened.log_end_offset(), kept_to, "recovery point {point}");
        assert_eq!(reopened.segments().len(), 2, "recovery point {point}");
    }

    // The recovery point at the next segment's base: the torn one was durable by then, so
    // it is trusted (not read), as Kafka does; the log keeps every segment and its end.
    let (trusted, cut) = Log::open(torn(Some(bases[2])), small_segments(), 0).unwrap();
    assert_eq!(cut, 0);
    assert_eq!(trusted.segments().len(), bases.len());
    assert_eq!(trusted.log_end_offset(), log.log_end_offset());
}

/// After a clean shutdown (Kafka's `.kafka_cleanshutdown`: everything synced, nothing written
/// after) the newest segment is trusted like the older ones: its index is read and only the
/// batches after the last index entry, whose CRCs are checked. A damaged byte before that
/// entry is not read (a crash recovery would cut the log there); a torn tail is still found,
/// and then the segment is recovered in full.
#[test]
fn after_a_clean_shutdown_only_the_newest_segments_tail_is_read() {
    let config = LogConfig {
        segment_bytes: 1 << 20,
        index_interval_bytes: 100,
        ..LogConfig::default()
    };
    let mut log = new_log(config.clone());
    for i in 0..30 {
        append_n(&mut log, 2, i);
    }
    assert_eq!(log.segments().len(), 1);
    let records = read_all(&log);
    let leo = log.log_end_offset();
    let shape = |log: &Log<MemorySegmentStore>| {
        let s = log.segments().last().unwrap();
        (
            s.base_offset,
            s.size_bytes,
            s.next_offset,
            s.max_timestamp,
            s.offset_index().to_vec(),
            s.time_index().to_vec(),
        )
    };
    let (clean, cut) = Log::open_after_clean_shutdown(log.store().clone(), config.clone(), 0)
        .expect("a clean reopen");
    assert_eq!(cut, 0);
    assert_eq!(shape(&clean), shape(&log));
    assert_eq!(read_all(&clean), records);

    // One byte of the second batch's value changed: a crash recovery checks that batch's
    // CRC and cuts the log before it; a clean open reads only the tail, past it.
    let mut damaged: MemorySegmentStore = log.store().clone();
    let first = batch(&[
        (None, Some(b"v0".to_vec()), 0),
        (None, Some(b"v1".to_vec()), 0),
    ]);
    assert!(clean.segments()[0].offset_index().last().unwrap().position > first.len() as u64);
    damaged.file_mut(0, SegmentFile::Log).unwrap()[first.len() + 65] ^= 0xff;
    let (recovered, cut) = Log::open(damaged.clone(), config.clone(), 0).unwrap();
    assert!(cut > 0 && recovered.log_end_offset() == 2);
    let (trusted, cut) = Log::open_after_clean_shutdown(damaged, config.clone(), 0).unwrap();
    assert_eq!((cut, trusted.log_end_offset()), (0, leo));

    // A torn tail after a "clean" stop (the marker outlived a write): recovered in full.
    let mut torn: MemorySegmentStore = log.store().clone();
    let file = torn.file_mut(0, SegmentFile::Log).unwrap();
    let len = file.len();
    file.truncate(len - 5);
    let (reopened, cut) = Log::open_after_clean_shutdown(torn, config.clone(), 0).unwrap();
    assert!(cut > 0);
    assert_eq!(reopened.log_end_offset(), leo - 2);
    assert_eq!(read_all(&reopened), records[..records.len() - 2]);

    // Found by a review: a file cut below its last index entry (the index names batches the
    // file no longer holds) was trusted, and the log end fell back to the segment's base.
    // It is recovered in full: the whole batches before the cut are kept and the rest cut.
    let last_indexed = clean.segments()[0].offset_index().last().unwrap().position as usize;
    for cut_to in [last_indexed, last_indexed - 7, last_indexed / 2] {
        let mut short: MemorySegmentStore = log.store().clone();
        short
            .file_mut(0, SegmentFile::Log)
            .unwrap()
            .truncate(cut_to);
        let (crash, _) = Log::open(short.clone(), config.clone(), 0).unwrap();
        let (reopened, cut) = Log::open_after_clean_shutdown(short, config.clone(), 0).unwrap();
        assert!(reopened.log_end_offset() > 0, "cut to {cut_to}");
        assert_eq!(
            reopened.log_end_offset(),
            crash.log_end_offset(),
            "cut to {cut_to}"
        );
        assert_eq!(read_all(&reopened), read_all(&crash), "cut to {cut_to}");
        assert_eq!(
            cut,
            crash.size_bytes().abs_diff(cut_to as u64),
            "cut to {cut_to}"
        );
    }
}

/// `message.timestamp.type=LogAppendTime` (Kafka's `LogValidator`, KIP-32): each appended batch
/// carries the broker's clock as its max timestamp with the timestamp-type bit set, and every
/// record reads back with that time; lookups by time use it.
#[test]
fn log_append_time_gives_every_record_the_brokers_clock() {
    let mut log = new_log(LogConfig {
        log_append_time: true,
        ..LogConfig::default()
    });
    log.append(
        &mut batch(&[keyed("a", Some("1"), 5), keyed("b", Some("2"), 7)]),
        0,
        &NoCodec,
        1_000,
    )
    .expect("append");
    log.append(&mut batch(&[keyed("c", Some("3"), 1)]), 0, &NoCodec, 2_000)
        .expect("append");
    let stamps: Vec<(i64, i64)> = read_all(&log)
        .iter()
        .map(|r| (r.offset, r.timestamp))
        .collect();
    assert_eq!(stamps, [(0, 1_000), (1, 1_000), (2, 2_000)]);
    let bytes = log.read(0, usize::MAX, 3).expect("read");
    let first = BatchRef::parse(&bytes).expect("batch");
    assert!(first.header().is_log_append_time());
    assert_eq!(first.header().max_timestamp, 1_000);
    assert_eq!(log.log_append_time_ms(2_500), 2_500);
    assert_eq!(
        log.offset_for_timestamp(1_500, &NoCodec).expect("lookup"),
        Some((2, 2_000))
    );
    // A CreateTime log answers -1 (Kafka's NO_TIMESTAMP) in the Produce response.
    assert_eq!(new_log(LogConfig::default()).log_append_time_ms(2_500), -1);
}

/// KIP-937: on a CreateTime topic a record more than `message.timestamp.before.max.ms` behind
/// or `message.timestamp.after.max.ms` ahead of the broker's clock is refused with
/// INVALID_TIMESTAMP (32), naming the record's index in its batch (KIP-467); nothing of the
/// batch is written. -1 (no timestamp) passes, as in Kafka.
#[test]
fn create_time_outside_the_kip_937_bounds_is_refused_and_changes_nothing() {
    use runnel_core::log::RecordRefusal;
    let mut log = new_log(LogConfig {
        message_timestamp_before_max_ms: 100,
        message_timestamp_after_max_ms: 10,
        ..LogConfig::default()
    });
    let now = 10_000u64;
    let mut ok = batch(&[keyed("a", Some("1"), 9_900), keyed("b", Some("2"), 10_010)]);
    log.append(&mut ok, 0, &NoCodec, now)
        .expect("inside the bounds");
    for (late, index) in [(9_899, 1), (10_011, 1)] {
        let mut refused = batch(&[keyed("a", Some("1"), 10_000), keyed("b", Some("2"), late)]);
        let e = log
            .append(&mut refused, 0, &NoCodec, now)
            .expect_err("outside the bounds");
        assert_eq!(e.kafka_error_code(), error_code::INVALID_TIMESTAMP);
        let LogError::RecordsRefused(refused) = e else {
            panic!("a record refusal: {e}");
        };
        assert_eq!(refused.0.len(), 1);
        assert_eq!(refused.0[0].batch_index(), index);
        assert_eq!(
            refused.0[0],
            RecordRefusal::TimestampOutOfRange {
                batch_index: 1,
                timestamp: late,
                min: 9_900,
                max: 10_010
            }
        );
    }
    // Every refused record of a batch is named (Kafka's LogValidator collects them all).
    let mut two_bad = batch(&[
        keyed("a", Some("1"), 1),
        keyed("b", Some("2"), 10_000),
        keyed("c", Some("3"), 99_999),
    ]);
    let e = log
        .append(&mut two_bad, 0, &NoCodec, now)
        .expect_err("outside the bounds");
    let LogError::RecordsRefused(refused) = e else {
        panic!("a record refusal: {e}");
    };
    let indexes: Vec<u32> = refused.0.iter().map(RecordRefusal::batch_index).collect();
    assert_eq!(indexes, [0, 2]);
    assert_eq!(
        log.log_end_offset(),
        2,
        "nothing of a refused batch is written"
    );
    log.append(&mut batch(&[keyed("c", Some("3"), -1)]), 0, &NoCodec, now)
        .expect("no timestamp passes");
    // LogAppendTime ignores the producer's timestamps, so the bounds do not apply.
    let mut stamped = new_log(LogConfig {
        log_append_time: true,
        message_timestamp_before_max_ms: 0,
        ..LogConfig::default()
    });
    stamped
        .append(&mut batch(&[keyed("a", Some("1"), 1)]), 0, &NoCodec, now)
        .expect("LogAppendTime");
}

/// A codec whose "gzip" is a plain copy, counting how often it decompresses.
#[derive(Default)]
struct CountingCodec {
    decompressions: core::cell::Cell<usize>,
}

impl Codec for CountingCodec {
    fn compress(
        &self,
        _: Compression,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), runnel_core::batch::CodecError> {
        out.extend_from_slice(input);
        Ok(())
    }

    fn decompress(
        &self,
        _: Compression,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), runnel_core::batch::CodecError> {
        self.decompressions.set(self.decompressions.get() + 1);
        out.extend_from_slice(input);
        Ok(())
    }
}

#[test]
fn a_produced_batch_is_decoded_once_for_its_framing_and_the_topics_rules() {
    // Kafka's LogValidator checks a record's framing and the topic's per-record rules in one
    // loop over the batch; a compressed batch is decompressed once on the way in.
    let codec = CountingCodec::default();
    let config = LogConfig {
        cleanup_policy: CleanupPolicy::COMPACT,
        message_timestamp_before_max_ms: 1_000,
        message_timestamp_after_max_ms: 1_000,
        ..LogConfig::default()
    };
    let gzip = |records: &[NewRec]| {
        let mut b = BatchBuilder::new(0).compression(Compression::Gzip);
        for (key, value, ts) in records {
            b.push(*ts, key.as_deref(), value.as_deref(), Vec::new());
        }
        b.build(&codec).expect("a copy always builds")
    };
    let mut log = new_log(config.clone());
    let mut good = gzip(&[keyed("a", Some("1"), 10_000), keyed("b", Some("2"), 10_001)]);
    log.append(&mut good, 0, &codec, 10_000).expect("valid");
    assert_eq!(codec.decompressions.get(), 1, "one pass over the batch");
    assert_eq!(log.log_end_offset(), 2);

    // Both rules still see every record of that one pass.
    codec.decompressions.set(0);
    let mut bad = gzip(&[
        (None, Some(b"x".to_vec()), 10_000),
        keyed("b", Some("2"), 10_000),
        keyed("c", Some("3"), 1),
    ]);
    let e = log.append(&mut bad, 0, &codec, 10_000).unwrap_err();
    let LogError::RecordsRefused(refused) = e else {
        panic!("a record refusal: {e}");
    };
    let indexes: Vec<u32> = refused.0.iter().map(RecordRefusal::batch_index).collect();
    assert_eq!(indexes, [0, 2], "the keyless record and the old one");
    assert_eq!(codec.decompressions.get(), 1);

    // A record that cannot be read wins over refusals collected before it (Kafka throws
    // InvalidRecordException, INVALID_RECORD with no record errors, from the loop): cut the last record's value
    // length short inside an uncompressed batch and fix the CRC.
    let mut torn = batch(&[
        (None, Some(b"x".to_vec()), 10_000),
        keyed("b", Some("22"), 10_000),
    ]);
    let value_len = torn.len() - 4; // varint 4 (2 bytes), "22", header count 0
    assert_eq!(torn[value_len], 4, "zigzag length of a 2-byte value");
    torn[value_len] = 8;
    // Kafka's layout: the CRC at byte 17 covers everything from the attributes at 21.
    let crc = runnel_core::checksum::crc32c(&torn[21..]);
    torn[17..21].copy_from_slice(&crc.to_be_bytes());
    let e = new_log(config)
        .append(&mut torn, 0, &NoCodec, 10_000)
        .unwrap_err();
    assert_eq!(e.kafka_error_code(), error_code::INVALID_RECORD, "{e}");
    assert!(
        matches!(
            e,
            LogError::Batch(runnel_core::batch::BatchError::InvalidRecord(_))
        ),
        "the framing error, not the keyless record's refusal: {e:?}"
    );
}

/// A store with a byte budget, like a small volume: an append past it writes what fits and
/// fails (ENOSPC after a short write), as a file system does. It counts reads of `.log`
/// bytes, and appends to any file (each is a write(2) in the node's store).
#[derive(Clone, Default)]
struct SmallVolume {
    inner: MemorySegmentStore,
    free_bytes: usize,
    log_reads: std::rc::Rc<std::cell::Cell<usize>>,
    appends: std::rc::Rc<std::cell::Cell<usize>>,
}

impl SmallVolume {
    fn unlimited() -> Self {
        Self {
            free_bytes: usize::MAX,
            ..Self::default()
        }
    }
}

impl runnel_core::log::SegmentStore for SmallVolume {
    type Error = String;
    fn segments(&self) -> Result<Vec<i64>, String> {
        self.inner.segments().map_err(|e| e.to_string())
    }
    fn create(&mut self, base: i64) -> Result<(), String> {
        self.inner.create(base).map_err(|e| e.to_string())
    }
    fn append(&mut self, base: i64, file: SegmentFile, bytes: &[u8]) -> Result<(), String> {
        self.appends.set(self.appends.get() + 1);
        let fits = bytes.len().min(self.free_bytes);
        self.free_bytes -= fits;
        self.inner
            .append(base, file, &bytes[..fits])
            .map_err(|e| e.to_string())?;
        if fits < bytes.len() {
            return Err("No space left on device (os error 28)".into());
        }
        Ok(())
    }
    fn read(
        &self,
        base: i64,
        file: SegmentFile,
        position: u64,
        len: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        if file == SegmentFile::Log {
            self.log_reads.set(self.log_reads.get() + 1);
        }
        self.inner
            .read(base, file, position, len, out)
            .map_err(|e| e.to_string())
    }
    fn len(&self, base: i64, file: SegmentFile) -> Result<u64, String> {
        self.inner.len(base, file).map_err(|e| e.to_string())
    }
    fn truncate(&mut self, base: i64, file: SegmentFile, len: u64) -> Result<(), String> {
        let before = self.inner.len(base, file).map_err(|e| e.to_string())?;
        self.free_bytes += before.saturating_sub(len) as usize;
        self.inner
            .truncate(base, file, len)
            .map_err(|e| e.to_string())
    }
    fn delete(&mut self, base: i64) -> Result<(), String> {
        self.inner.delete(base).map_err(|e| e.to_string())
    }
    fn replace(&mut self, base: i64, log: &[u8], index: &[u8], time: &[u8]) -> Result<(), String> {
        self.inner
            .replace(base, log, index, time)
            .map_err(|e| e.to_string())
    }
}

/// Every file's length, segment by segment.
fn file_lengths(log: &Log<SmallVolume>) -> Vec<(i64, u64, u64, u64)> {
    use runnel_core::log::SegmentStore;
    let store = log.store();
    store
        .segments()
        .unwrap()
        .into_iter()
        .map(|b| {
            let len = |f| store.len(b, f).unwrap();
            (
                b,
                len(SegmentFile::Log),
                len(SegmentFile::OffsetIndex),
                len(SegmentFile::TimeIndex),
            )
        })
        .collect()
}

/// A full disk refuses a whole append (KAFKA_STORAGE_ERROR) and leaves the log, its files and
/// its indexes as they were: no batch of a multi-batch append stays, no torn bytes, and once
/// there is space the next append gets the offsets the refused one would have had. Kafka's
/// rule: an IOException on append fails the request and writes nothing a reader can see.
#[test]
fn a_full_disk_refuses_the_whole_append_and_changes_nothing() {
    let config = LogConfig {
        segment_bytes: 400,
        index_interval_bytes: 1,
        ..LogConfig::default()
    };
    let volume = SmallVolume {
        free_bytes: usize::MAX / 2,
        ..SmallVolume::default()
    };
    let mut log = Log::new(volume, config.clone(), 0).unwrap();
    let three = |t: i64| -> Vec<NewRec> {
        (0..3)
            .map(|i| (None, Some(format!("r{t}-{i}").into_bytes()), t))
            .collect()
    };
    for t in 0..3 {
        log.append(&mut batch(&three(t)), 1, &NoCodec, 0).unwrap();
    }
    let before_records = log.read(0, usize::MAX, log.log_end_offset()).unwrap();
    let before_files = file_lengths(&log);
    let before_end = log.log_end_offset();
    // Two batches in one append (a Produce request with two batches, or a follower's copy);
    // the budget grows a byte at a time, so the failure happens at every byte: inside either
    // batch, between them, in an index entry, at the segment roll. The first budget that
    // suffices appends.
    let mut two = batch(&three(10));
    two.extend(batch(&three(11)));
    let mut budget = 0;
    let info = loop {
        log.store_mut().free_bytes = budget;
        let err = match log.append(&mut two.clone(), 1, &NoCodec, 0) {
            Ok(info) => break info,
            Err(e) => e,
        };
        assert_eq!(
            err.kafka_error_code(),
            error_code::KAFKA_STORAGE_ERROR,
            "{budget}"
        );
        assert_eq!(log.log_end_offset(), before_end, "budget {budget}");
        assert_eq!(
            log.read(0, usize::MAX, i64::MAX).unwrap(),
            before_records,
            "budget {budget}"
        );
        let after: Vec<_> = file_lengths(&log).into_iter().filter(|f| f.1 > 0).collect();
        assert_eq!(after, before_files, "budget {budget}: every file as before");
        budget += 1;
    };
    assert!(
        budget > two.len(),
        "the batches and their index entries took {budget} bytes"
    );
    assert_eq!(
        (info.base_offset, info.last_offset),
        (before_end, before_end + 5)
    );
    // What is on the volume reads back the same after a restart.
    let expected = log.read(0, usize::MAX, i64::MAX).unwrap();
    let store = std::mem::take(log.store_mut());
    let (reopened, _) = Log::open(store, config, 0).unwrap();
    assert_eq!(reopened.log_end_offset(), before_end + 6);
    assert_eq!(reopened.read(0, usize::MAX, i64::MAX).unwrap(), expected);
}

#[test]
fn an_idempotent_producer_retrying_through_a_full_disk_is_written_once() {
    // Issue 18's disk-full fault under idempotent producers: a write the disk refuses part way
    // (in the log file or an index) answers KAFKA_STORAGE_ERROR and leaves nothing behind,
    // neither bytes nor producer state, so the client's retry of the same sequence is written
    // once, at the next offset; a retry of a batch already written is answered, not written.
    // Small segments make rolls fail too.
    use runnel_core::controller::PartitionState;
    use runnel_core::replica::{Acks, Replica, ReplicaConfig, ReplicaError, RoleChange};
    use runnel_core::rng::Rng;
    let idempotent = |sequence: i32| {
        let mut b = BatchBuilder::new(0).producer(7, 0, sequence);
        b.push(0, None, Some(b"v"), Vec::new());
        b.build(&NoCodec).expect("a batch")
    };
    for seed in 0..200 {
        let mut rng = Rng::new(seed);
        let store = SmallVolume::unlimited();
        let log = Log::new(store, small_segments(), 0).expect("log");
        let mut leader = Replica::with_log(0, ReplicaConfig::default(), log);
        let state = PartitionState {
            replicas: vec![0, 1, 2],
            leader: Some(0),
            leader_epoch: 1,
            isr: vec![0, 1, 2],
            partition_epoch: 1,
        };
        assert_eq!(leader.apply_metadata(&state, 0), RoleChange::Leader);
        let mut sequence = 0;
        while sequence < 40 {
            leader.log_mut().store_mut().free_bytes = if rng.below(3) == 0 {
                rng.below(120) as usize
            } else {
                usize::MAX
            };
            let answer = leader.handle_produce(
                0,
                &mut idempotent(sequence),
                Acks::Leader,
                1,
                1_000,
                &NoCodec,
            );
            match answer {
                Ok(Some(_)) => sequence += 1,
                Err(ReplicaError::Storage(_)) => {}
                other => panic!("seed {seed}: sequence {sequence}: {other:?}"),
            }
            if sequence > 0 && rng.below(4) == 0 {
                leader.log_mut().store_mut().free_bytes = usize::MAX;
                let retry = leader.handle_produce(
                    0,
                    &mut idempotent(sequence - 1),
                    Acks::Leader,
                    2,
                    1_000,
                    &NoCodec,
                );
                assert!(matches!(retry, Ok(Some(_))), "seed {seed}: {retry:?}");
            }
        }
        let end = leader.log_end_offset();
        let bytes = leader.log().read(0, usize::MAX, end).expect("read");
        let sequences: Vec<(i32, i64)> = runnel_core::batch::batches(&bytes)
            .flatten()
            .map(|b| (b.header().base_sequence, b.header().base_offset))
            .collect();
        let expected: Vec<(i32, i64)> = (0..40).map(|s| (s, i64::from(s))).collect();
        assert_eq!(
            sequences, expected,
            "seed {seed}: every sequence once, at dense offsets"
        );
    }
}

/// A fetch just behind the log end (a follower one round behind, a consumer at the tail)
/// finds and sizes its batches from the newest headers the log keeps, reading no header from
/// the file, even with many small batches between two index entries; what it finds is what a
/// log reopened without those headers finds, before and after a truncation.
#[test]
fn fetches_near_the_log_end_read_no_header_from_the_file() {
    let store = SmallVolume::unlimited();
    let reads = store.log_reads.clone();
    let mut log = Log::new(store, LogConfig::default(), 0).unwrap();
    for i in 0..100 {
        let records = [(None, Some(format!("v{i}").into_bytes()), i)];
        log.append(&mut batch(&records), 5, &NoCodec, i as u64)
            .unwrap();
    }
    assert_eq!(log.log_end_offset(), 100);
    // Two index entries for the ~7 KB segment (4096 bytes between them): without the kept
    // headers, a fetch from offset 97 reads the ~40 headers from the second entry to its batch.
    assert_eq!(log.segments()[0].offset_index().len(), 2);
    let same_as_reopened = |log: &Log<SmallVolume>, from: i64| {
        let ranges = log
            .read_ranges(from, 1 << 20, log.log_end_offset())
            .unwrap();
        let (reopened, _) = Log::open(log.store().clone(), LogConfig::default(), 0).unwrap();
        let expected = reopened
            .read_ranges(from, 1 << 20, log.log_end_offset())
            .unwrap();
        assert_eq!(ranges, expected, "ranges from {from}");
        assert_eq!(
            log.read(from, 1 << 20, log.log_end_offset()).unwrap(),
            reopened.read(from, 1 << 20, log.log_end_offset()).unwrap(),
            "bytes from {from}"
        );
        ranges
    };
    reads.set(0);
    for from in [99, 97, 60, 37] {
        let ranges = log.read_ranges(from, 1 << 20, 100).unwrap();
        assert_eq!(ranges.len(), 1);
        assert_eq!(
            ranges[0].records,
            (100 - from) as u64,
            "records from {from}"
        );
        assert_eq!(ranges[0].last_offset, 99);
    }
    assert_eq!(reads.get(), 0, "headers read from the file");
    // Older than the newest 64 batches: read from the file, and still right.
    for from in [0, 20, 35, 36, 37, 99] {
        same_as_reopened(&log, from);
    }
    // Truncation drops the kept headers past the cut; appends after it are kept again.
    log.truncate_to(80, 200).unwrap();
    assert_eq!(log.log_end_offset(), 80);
    for from in [40, 79] {
        same_as_reopened(&log, from);
    }
    for i in 0..5 {
        let records = [(None, Some(format!("w{i}").into_bytes()), 300 + i)];
        log.append(&mut batch(&records), 6, &NoCodec, 300).unwrap();
    }
    for from in [60, 79, 80, 84] {
        let ranges = same_as_reopened(&log, from);
        assert_eq!(ranges[0].records, (85 - from) as u64, "records from {from}");
    }
    let records: Vec<Rec> = decode(&log.read(78, 1 << 20, 85).unwrap());
    let values: Vec<&[u8]> = records
        .iter()
        .map(|r| r.value.as_deref().unwrap())
        .collect();
    assert_eq!(
        values,
        [&b"v78"[..], b"v79", b"w0", b"w1", b"w2", b"w3", b"w4"]
    );
}

/// Every file's bytes, segment by segment.
fn file_contents(log: &Log<SmallVolume>) -> Vec<(i64, SegmentFile, Vec<u8>)> {
    use runnel_core::log::SegmentStore;
    let store = log.store();
    let mut out = Vec::new();
    for base in store.segments().unwrap() {
        for file in [
            SegmentFile::Log,
            SegmentFile::OffsetIndex,
            SegmentFile::TimeIndex,
        ] {
            let mut bytes = Vec::new();
            let len = store.len(base, file).unwrap() as usize;
            store.read(base, file, 0, len, &mut bytes).unwrap();
            out.push((base, file, bytes));
        }
    }
    out
}

/// A follower's fetch that brings many batches is one write to the segment's log file and at
/// most one to each index file (per segment when it rolls in between), and leaves exactly the
/// files batch-by-batch copying leaves: same bytes, same index entries (Kafka's layout), same
/// segments, whether it rolls by size or by age (`segment.ms`: an empty active segment takes
/// the first batch however old it is, the next one starts a new segment).
#[test]
fn a_copied_run_of_batches_is_one_write_per_file_and_the_same_files() {
    let by_age = LogConfig {
        segment_ms: 100,
        index_interval_bytes: 100,
        ..LogConfig::default()
    };
    for (config, now_ms, rolls) in [
        (
            LogConfig {
                index_interval_bytes: 100,
                ..LogConfig::default()
            },
            0,
            false,
        ),
        (small_segments(), 0, true),
        (by_age, 1_000, true),
    ] {
        let mut leader = new_log(config.clone());
        for i in 0..30 {
            append_n(&mut leader, 1 + i % 3, 1_000 + i as i64);
        }
        let fetched = leader.read(0, usize::MAX, leader.log_end_offset()).unwrap();

        let store = SmallVolume::unlimited();
        let appends = store.appends.clone();
        let mut at_once = Log::new(store, config.clone(), 0).unwrap();
        let info = at_once.append_replicated(&fetched, now_ms).unwrap();
        assert_eq!(info.batch_count, 30);
        let segments = at_once.segments().len();
        assert_eq!(segments > 1, rolls, "{segments} segments");
        assert!(
            appends.get() <= 3 * segments,
            "{} appends for {segments} segment(s)",
            appends.get()
        );

        let mut one_by_one = Log::new(SmallVolume::unlimited(), config, 0).unwrap();
        let mut rest = &fetched[..];
        while !rest.is_empty() {
            let len = BatchRef::parse(rest).unwrap().as_bytes().len();
            one_by_one.append_replicated(&rest[..len], now_ms).unwrap();
            rest = &rest[len..];
        }
        assert_eq!(file_contents(&at_once), file_contents(&one_by_one));
        let end = leader.log_end_offset();
        assert_eq!(
            at_once.read(0, usize::MAX, end).unwrap(),
            leader.read(0, usize::MAX, end).unwrap()
        );
        let entries: usize = at_once
            .segments()
            .iter()
            .map(|s| s.offset_index().len())
            .sum();
        assert!(entries > segments, "{entries} index entries written");
    }
}
