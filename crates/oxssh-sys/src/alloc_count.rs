//! A global allocator that counts large allocations, for tests that prove a data path
//! allocates nothing per packet: a test binary installs it with
//! `#[global_allocator] static A: oxssh_sys::alloc_count::Counting = Counting;` and
//! reads [`large_allocations`] before and after the work. It lives here because
//! implementing `GlobalAlloc` takes `unsafe`, which only this crate may use.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Allocations of at least this many bytes are counted: packet-sized blocks.
pub const LARGE: usize = 16 * 1024;

static COUNT: AtomicUsize = AtomicUsize::new(0);

/// The system allocator, counting fresh allocations of [`LARGE`] bytes or more.
pub struct Counting;

/// Allocations of [`LARGE`] bytes or more made so far (reallocations excluded).
pub fn large_allocations() -> usize {
    COUNT.load(Ordering::Relaxed)
}

// SAFETY: every call is forwarded unchanged to the system allocator; only counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= LARGE {
            COUNT.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller upholds `alloc`'s contract, which we pass on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= LARGE {
            COUNT.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `dealloc`'s contract, which we pass on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller upholds `realloc`'s contract, which we pass on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
