//! The broker's global allocator: the system allocator, except that very large allocations
//! are reserved lazily with `mmap(MAP_NORESERVE)`; and glibc's thresholds set so that freed
//! request buffers are reused rather than unmapped ([`keep_freed_request_buffers`]).
//!
//! Why: the `kafka-protocol` crate (0.18) decodes an array by first calling
//! `Vec::with_capacity(n)` with the element count `n` read from the wire. A malformed request
//! claiming two billion elements asks for hundreds of GiB; the system allocator refuses, and
//! Rust aborts the whole process on a failed allocation. With this allocator the reservation
//! succeeds as untouched address space, decoding then fails at the first missing element, and
//! the reservation is returned: the connection gets closed, the broker lives. Real allocations
//! in the broker stay far below the threshold (requests are capped at
//! `socket.request.max.bytes`, decompression at 64 MiB), so they never take this path.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ptr;

/// Allocations of at least this many bytes are reserved lazily.
pub const LAZY_THRESHOLD_BYTES: usize = 1 << 30;
/// mmap returns page-aligned memory; larger alignments go to the system allocator.
const PAGE_BYTES: usize = 4096;

/// The allocator; install with `#[global_allocator]`.
#[derive(Debug, Default, Clone, Copy)]
pub struct LazyHugeAllocator;

fn is_lazy(layout: Layout) -> bool {
    layout.size() >= LAZY_THRESHOLD_BYTES && layout.align() <= PAGE_BYTES
}

// SAFETY: every block is either from `System` (and returned to it) or from `mmap` (and
// returned with `munmap` of the same length); `is_lazy` on the caller's layout tells which,
// and callers must pass the same layout to `dealloc` as to `alloc` (GlobalAlloc's contract).
unsafe impl GlobalAlloc for LazyHugeAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_lazy(layout) {
            // SAFETY: an anonymous private mapping with no address hint has no preconditions.
            let p = unsafe {
                libc::mmap(
                    ptr::null_mut(),
                    layout.size(),
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                ptr::null_mut()
            } else {
                p.cast()
            }
        } else {
            // SAFETY: forwarded with the caller's layout.
            unsafe { System.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if is_lazy(layout) {
            // SAFETY: anonymous mappings are zero-filled.
            unsafe { self.alloc(layout) }
        } else {
            // SAFETY: forwarded with the caller's layout.
            unsafe { System.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if is_lazy(layout) {
            // SAFETY: `ptr` came from our mmap of exactly `layout.size()` bytes.
            unsafe {
                libc::munmap(ptr.cast(), layout.size());
            }
        } else {
            // SAFETY: `ptr` came from `System` with this layout.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: GlobalAlloc's contract guarantees a valid layout for the new size.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        if !is_lazy(layout) && !is_lazy(new_layout) {
            // SAFETY: both sides belong to `System`.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // SAFETY: a fresh block of the new layout; the old one is copied then released.
        unsafe {
            let new = self.alloc(new_layout);
            if !new.is_null() {
                ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}

/// Above this size glibc's `malloc` maps a block of its own and unmaps it when freed.
const MMAP_THRESHOLD_BYTES: i32 = 32 << 20;
/// Free memory at the top of a glibc heap beyond this is returned to the kernel.
const TRIM_THRESHOLD_BYTES: i32 = 64 << 20;

/// Keeps request-sized blocks in glibc's heaps once freed. A broker takes each produce
/// request (up to `socket.request.max.bytes`, about 1 MiB from librdkafka and the Java
/// producer) into a fresh buffer and frees it after the append. glibc's defaults start mapping
/// blocks of 128 KiB and over with `mmap` and trim its heaps above 128 KiB free, so every
/// request's buffer was new pages: a page fault and kernel zeroing for each 4 KiB taken in
/// (about a tenth of the CPU of a 1 KiB-record produce, measured with `perf`). Up to
/// [`TRIM_THRESHOLD_BYTES`] per heap stay mapped instead. Call before other threads start.
pub fn keep_freed_request_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt takes any value for these two parameters and only sets them; it is
    // called before the process starts other threads.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_speculative_allocation_succeeds_untouched_and_is_returned() {
        // 256 GiB: more than this machine's memory and swap together.
        let layout = Layout::from_size_align(256 << 30, 8).unwrap();
        // SAFETY: the block is written only within its first page and released with its layout.
        unsafe {
            let p = LazyHugeAllocator.alloc(layout);
            assert!(!p.is_null());
            p.write(7);
            assert_eq!(p.read(), 7);
            LazyHugeAllocator.dealloc(p, layout);
        }
        let small = Layout::from_size_align(64, 8).unwrap();
        // SAFETY: as above, within the block.
        unsafe {
            let p = LazyHugeAllocator.alloc_zeroed(small);
            assert_eq!(p.read(), 0);
            let p = LazyHugeAllocator.realloc(p, small, 128);
            LazyHugeAllocator.dealloc(p, Layout::from_size_align(128, 8).unwrap());
        }
    }
}
