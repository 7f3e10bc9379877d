//! The raw side of the ABI the [`plugin!`](crate::plugin) macro calls: the request buffer the
//! host fills, decoding a batch, and keeping the encoded response alive until the next call
//! (which frees it), so a long-lived instance does not grow.
//!
//! Plugins run single-threaded (wasm has no threads here), which is what makes the one
//! response slot below sound.

use alloc::vec::Vec;
use core::cell::UnsafeCell;

use runnel_core::plugin::{PartitionRequestRef, PluginRecord, RecordRef, decode_request, encode};

/// The last response, kept until the next call.
struct Slot(UnsafeCell<Vec<u8>>);

// SAFETY: a wasm plugin instance is single-threaded; the slot is only touched from the
// exported functions, never concurrently.
unsafe impl Sync for Slot {}

static LAST_RESPONSE: Slot = Slot(UnsafeCell::new(Vec::new()));

/// A fresh buffer of `len` bytes whose ownership passes to the host until the call that
/// consumes it; returns its address.
pub fn alloc(len: i32) -> i32 {
    let mut buf = Vec::<u8>::with_capacity(len.max(0) as usize);
    let ptr = buf.as_mut_ptr();
    core::mem::forget(buf);
    ptr as usize as i32
}

/// Takes back the request buffer from [`alloc`].
///
/// # Safety
/// `ptr` and `len` must be what the host got from [`alloc`] and wrote `len` bytes to.
unsafe fn take(ptr: i32, len: i32) -> Vec<u8> {
    let len = len.max(0) as usize;
    // SAFETY: per the contract, `ptr` came from `alloc(len)` (capacity `len`) and the host
    // initialised all `len` bytes.
    unsafe { Vec::from_raw_parts(ptr as usize as *mut u8, len, len) }
}

/// Stores `response` in the slot (dropping the previous one) and returns `(ptr << 32) | len`.
fn respond(response: Vec<u8>) -> i64 {
    // SAFETY: single-threaded (see `Slot`); no other reference to the slot is live.
    let slot = unsafe { &mut *LAST_RESPONSE.0.get() };
    *slot = response;
    ((slot.as_ptr() as usize as i64) << 32) | slot.len() as i64
}

/// `runnel_partition`: decodes the batch, asks `f` per record, answers the partitions (the
/// host rejects one out of range). A request that does not decode answers an empty list,
/// which the host rejects as a count mismatch.
pub fn partition(ptr: i32, len: i32, f: fn(&RecordRef<'_>, u32) -> u32) -> i64 {
    // SAFETY: the host calls this with the buffer it got from `runnel_alloc`.
    let bytes = unsafe { take(ptr, len) };
    let chosen: Vec<u32> = match decode_request::<PartitionRequestRef<'_>>(&bytes) {
        Ok(request) => request
            .records
            .iter()
            .map(|r| f(r, request.partitions))
            .collect(),
        Err(_) => Vec::new(),
    };
    respond(encode(&chosen))
}

/// `runnel_transform`: decodes the batch and answers what `f` makes of each record.
pub fn transform(ptr: i32, len: i32, f: fn(PluginRecord) -> Vec<PluginRecord>) -> i64 {
    // SAFETY: the host calls this with the buffer it got from `runnel_alloc`.
    let bytes = unsafe { take(ptr, len) };
    let out: Vec<Vec<PluginRecord>> = match decode_request::<Vec<PluginRecord>>(&bytes) {
        Ok(records) => records.into_iter().map(f).collect(),
        Err(_) => Vec::new(),
    };
    respond(encode(&out))
}
