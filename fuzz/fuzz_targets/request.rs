//! A request frame as the listener reads it (the bytes after the 4-byte size): the header and
//! the body of whichever API and version it names, decoded exactly as the broker decodes it
//! (`runnel_node::server::decode_request`). Any input must decode or be refused with an error,
//! never panic or abort. The broker's own allocator is installed, as in the binary: it is what
//! keeps a claimed two-billion-element array from aborting the process.

#![no_main]

use libfuzzer_sys::fuzz_target;
use runnel_node::alloc::LazyHugeAllocator;
use runnel_node::server::{HEADER_MIN_BYTES, decode_request};

#[global_allocator]
static ALLOCATOR: LazyHugeAllocator = LazyHugeAllocator;

fuzz_target!(|data: &[u8]| {
    if data.len() < HEADER_MIN_BYTES {
        return; // the listener closes such a connection before decoding
    }
    let _ = decode_request(bytes::Bytes::copy_from_slice(data));
});
