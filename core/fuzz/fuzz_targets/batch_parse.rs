//! Fuzzes record batch parsing: any bytes give batches and records or a typed error, never a
//! panic. Run: `cd core/fuzz && cargo +nightly fuzz run batch_parse -- -max_total_time=60`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runnel_core::batch::{BatchRef, NoCodec, batches};

fuzz_target!(|data: &[u8]| {
    let mut scratch = Vec::new();
    for batch in batches(data).flatten() {
        let _ = batch.validate_records(&NoCodec, |_, _| {});
        if let Ok(records) = batch.records(&NoCodec, &mut scratch) {
            for record in records.flatten() {
                let _ = (record.key, record.value, record.headers.len());
            }
        }
    }
    // The fuzzer rarely gets a CRC right by chance: also parse with the CRC made valid, so the
    // record decoder sees the mutated bytes.
    if data.len() >= 61 {
        let mut fixed = data.to_vec();
        let crc = runnel_core::checksum::crc32c(&fixed[21..]);
        fixed[17..21].copy_from_slice(&crc.to_be_bytes());
        if let Ok(batch) = BatchRef::parse(&fixed) {
            let _ = batch.validate_records(&NoCodec, |_, _| {});
        }
    }
});
