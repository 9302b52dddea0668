//! `goheap::stats()` and `goheap::release()` from Rust: the figures move the
//! way the program's allocations do, and release hands free pages back.

use std::alloc::{GlobalAlloc, Layout};

#[global_allocator]
static GLOBAL: goheap::GoHeap = goheap::GoHeap;

#[test]
fn stats_follow_allocations_and_release_returns_pages() {
    let before = goheap::stats();
    let blocks: Vec<Vec<u8>> = (0..20_000).map(|i| vec![1u8; 100 + i % 900]).collect();
    let big: Vec<Vec<u8>> = (0..16).map(|_| vec![2u8; 3 << 20]).collect();
    let during = goheap::stats();
    assert!(during.mallocs >= before.mallocs + 20_000);
    assert!(during.heap_alloc >= before.heap_alloc + 16 * (3 << 20));
    assert!(during.total_alloc >= before.total_alloc + 16 * (3 << 20) + 20_000 * 100);
    // Objects live in spans in use (the parts are read one after the other,
    // and the other test allocates meanwhile: allow for its 8 MiB).
    assert!(during.heap_inuse + (16 << 20) >= during.heap_alloc);
    assert!(during.heap_sys >= during.heap_inuse);
    assert_eq!(during.heap_idle, during.heap_sys - during.heap_inuse);
    let large = during.by_size[0];
    assert!(
        large.mallocs - large.frees >= 16,
        "large objects live: {large:?}"
    );
    let by_size_total: u64 = during.by_size.iter().map(|c| c.mallocs).sum();
    assert_eq!(by_size_total, during.mallocs);
    assert!(during.metadata_sys > 0 && during.arenas >= 1);
    drop(blocks);
    drop(big);
    // The other test calls release() too, and may get to these pages first:
    // check what is released, not who released it.
    let released = goheap::release();
    let after = goheap::stats();
    assert!(after.heap_released >= 16 * (3 << 20), "{after:?}");
    assert!(after.heap_released >= released as u64);
    assert!(after.heap_released <= after.heap_idle);
    assert!(after.frees >= during.frees + 16);
}

#[test]
fn memory_released_and_reused_reads_as_zero() {
    let l = Layout::from_size_align(8 << 20, 8).unwrap();
    // SAFETY: a non-zero layout; the block is filled, freed, then the same
    // pages come back zeroed through alloc_zeroed.
    unsafe {
        let p = GLOBAL.alloc(l);
        assert!(!p.is_null());
        p.write_bytes(0xee, l.size());
        GLOBAL.dealloc(p, l);
        goheap::release();
        let q = GLOBAL.alloc_zeroed(l);
        assert!(!q.is_null());
        let s = std::slice::from_raw_parts(q, l.size());
        assert!(s.iter().all(|&b| b == 0));
        GLOBAL.dealloc(q, l);
    }
}
