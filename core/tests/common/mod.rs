//! Helpers shared by core's integration tests: building batches and reading a log back as
//! plain records.
#![allow(dead_code, unreachable_pub)]

use runnel_core::batch::{BatchBuilder, NoCodec, batches};
use runnel_core::log::{Log, LogConfig, MemorySegmentStore};

/// A record as the tests see it: offset, key, value, timestamp.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rec {
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub timestamp: i64,
}

/// (key, value, timestamp) of a record to produce.
pub type NewRec = (Option<Vec<u8>>, Option<Vec<u8>>, i64);

/// One uncompressed batch holding `records`, as a producer would send it (base offset 0).
pub fn batch(records: &[NewRec]) -> Vec<u8> {
    let mut b = BatchBuilder::new(0);
    for (key, value, ts) in records {
        b.push(*ts, key.as_deref(), value.as_deref(), Vec::new());
    }
    b.build(&NoCodec)
        .expect("uncompressed batches always build")
}

/// Decodes every record in a run of batches.
pub fn decode(bytes: &[u8]) -> Vec<Rec> {
    let mut out = Vec::new();
    let mut scratch = Vec::new();
    for batch in batches(bytes) {
        let batch = batch.expect("the log returns valid batches");
        for r in batch.records(&NoCodec, &mut scratch).expect("records") {
            let r = r.expect("valid record");
            out.push(Rec {
                offset: r.offset,
                key: r.key.map(<[u8]>::to_vec),
                value: r.value.map(<[u8]>::to_vec),
                timestamp: r.timestamp,
            });
        }
    }
    out
}

/// Every record from the log start to the log end.
pub fn read_all(log: &Log<MemorySegmentStore>) -> Vec<Rec> {
    let bytes = log
        .read(log.log_start_offset(), usize::MAX, log.log_end_offset())
        .expect("read from log start");
    decode(&bytes)
        .into_iter()
        .filter(|r| r.offset >= log.log_start_offset())
        .collect()
}

/// A fresh in-memory log with `config`.
pub fn new_log(config: LogConfig) -> Log<MemorySegmentStore> {
    Log::new(MemorySegmentStore::new(), config, 0).expect("new log")
}

/// A value of `n` bytes derived from `seed`.
pub fn value(seed: u64, n: usize) -> Vec<u8> {
    (0..n).map(|i| (seed as usize + i) as u8).collect()
}
