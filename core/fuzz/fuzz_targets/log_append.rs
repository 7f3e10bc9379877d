//! Fuzzes appending untrusted bytes to a log: a refused append leaves the log unchanged, an
//! accepted one reads back. Run: `cd core/fuzz && cargo +nightly fuzz run log_append`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runnel_core::batch::NoCodec;
use runnel_core::log::{Log, LogConfig, MemorySegmentStore};

fuzz_target!(|data: &[u8]| {
    let mut log = Log::new(MemorySegmentStore::new(), LogConfig::default(), 0).expect("new log");
    let mut bytes = data.to_vec();
    if data.len() >= 61 {
        let crc = runnel_core::checksum::crc32c(&bytes[21..]);
        bytes[17..21].copy_from_slice(&crc.to_be_bytes());
    }
    match log.append(&mut bytes, 0, &NoCodec, 0) {
        Ok(info) => {
            assert_eq!(info.base_offset, 0);
            let read = log.read(0, usize::MAX, log.log_end_offset()).expect("read back");
            assert_eq!(read.len(), bytes.len());
        }
        Err(_) => assert_eq!(log.log_end_offset(), 0),
    }
});
