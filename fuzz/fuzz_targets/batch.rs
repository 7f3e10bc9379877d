//! Record batches as Produce and replication hand them to core: parsed, their records
//! decompressed (the node's codecs, bounded) and iterated, appended by a leader's log (which
//! validates and assigns offsets) and by a follower's, then read back; and magic 0/1 message
//! sets up-converted. The first byte picks the mode; in mode 1 every batch's CRC-32C is made
//! right first, so the fuzzer gets past the checksum into the records.

#![no_main]

use libfuzzer_sys::fuzz_target;
use runnel_core::batch::{self, BatchRef};
use runnel_core::checksum::crc32c;
use runnel_core::log::{Log, LogConfig, MemorySegmentStore};
use runnel_core::message_set;
use runnel_node::alloc::LazyHugeAllocator;
use runnel_node::codec::NodeCodec;

#[global_allocator]
static ALLOCATOR: LazyHugeAllocator = LazyHugeAllocator;

/// Batch v2 layout: length at 8..12, CRC at 17..21 over everything from 21 to the end.
fn fix_crcs(bytes: &mut [u8]) {
    let mut position = 0;
    while bytes.len() - position >= 61 {
        let length = i32::from_be_bytes(bytes[position + 8..position + 12].try_into().unwrap());
        let Ok(length) = usize::try_from(length) else {
            return;
        };
        let size = 12 + length;
        if size < 61 || position + size > bytes.len() {
            return;
        }
        let crc = crc32c(&bytes[position + 21..position + size]);
        bytes[position + 17..position + 21].copy_from_slice(&crc.to_be_bytes());
        position += size;
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut bytes = rest.to_vec();
    match mode % 3 {
        0 => {}
        1 => fix_crcs(&mut bytes),
        _ => {
            let _ = message_set::to_batch(&bytes, &NodeCodec);
            return;
        }
    }
    let codec = NodeCodec;
    let mut scratch = Vec::new();
    for parsed in batch::batches(&bytes) {
        let Ok(parsed) = parsed else {
            break;
        };
        let _ = parsed.validate_records(&codec, |_, _| {});
        if let Ok(records) = parsed.records(&codec, &mut scratch) {
            for record in records {
                let _ = record;
            }
        }
    }
    let _ = BatchRef::parse(&bytes);
    let config = LogConfig::default();
    if let Ok(mut leader) = Log::new(MemorySegmentStore::new(), config.clone(), 0)
        && leader.append(&mut bytes.clone(), 3, &codec, 0).is_ok()
    {
        let end = leader.log_end_offset();
        let _ = leader.read(0, usize::MAX, end);
    }
    if let Ok(mut follower) = Log::new(MemorySegmentStore::new(), config, 0) {
        let _ = follower.append_replicated(&bytes, &codec, 0);
    }
});
