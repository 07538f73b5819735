//! The object tables grow in chunks: no allocation is larger than the first
//! chunk ([`SLAB_CHUNK_BYTES`]), however large the table, so the number of
//! live objects is bounded by memory, not by the
//! largest contiguous free block.

use object::mem::{ChunkSlab, Mem, Slab, SlabId, SLAB_CHUNK_BYTES};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, remembering the largest single allocation.
struct Largest;
static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to `System` unchanged; only records sizes.
unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on as it is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on as it is.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        LARGEST.fetch_max(new, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on as it is.
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static ALLOC: Largest = Largest;

#[test]
fn a_large_slab_never_allocates_more_than_a_chunk_at_once() {
    let mem = Mem::default();
    let mut slab: ChunkSlab<[u64; 6]> = ChunkSlab::default();
    let n = 300_000u64;
    LARGEST.store(0, Ordering::Relaxed);
    let ids: Vec<_> = (0..n).map(|i| slab.insert(&mem, [i; 6]).unwrap()).collect();
    // The id list above is one block of its own; measure the slab alone.
    let mut slab2: ChunkSlab<[u64; 6]> = ChunkSlab::default();
    LARGEST.store(0, Ordering::Relaxed);
    for i in 0..n {
        slab2.insert(&mem, [i; 6]).unwrap();
    }
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(
        largest <= SLAB_CHUNK_BYTES,
        "an allocation of {largest} bytes for a {} byte table",
        slab2.chunk_bytes()
    );
    assert!(slab2.chunk_bytes() >= n as usize * 48);
    // Every id finds its object; removed ones miss; slots are reused.
    for (i, &id) in ids.iter().enumerate() {
        assert_eq!(slab[id][0], i as u64);
    }
    for &id in ids.iter().step_by(2) {
        assert!(slab.remove(id).is_some());
        assert!(slab.get(id).is_none());
    }
    assert_eq!(slab.len(), (n / 2) as usize);
    let bytes = slab.chunk_bytes();
    let again: Vec<_> = (0..n / 2)
        .map(|i| slab.insert(&mem, [i + n; 6]).unwrap())
        .collect();
    assert_eq!(slab.chunk_bytes(), bytes, "freed slots are reused");
    for &id in ids.iter().step_by(2) {
        assert!(slab.get(id).is_none(), "a stale id misses");
    }
    for (i, &id) in again.iter().enumerate() {
        assert_eq!(slab[id][0], i as u64 + n);
    }
    assert_eq!(slab.ids().count(), n as usize);
}

#[test]
fn reserving_room_for_many_then_inserting_never_allocates() {
    let mem = Mem::default();
    let mut slab: ChunkSlab<u32> = ChunkSlab::default();
    slab.reserve_n(&mem, 100_000).unwrap();
    mem.fail_after(Some(0));
    // Inserting within the reservation does not consult `mem`.
    for i in 0..100_000 {
        slab.insert_reserved(i);
    }
    assert!(mem.failure_pending());
    assert_eq!(slab.reserve(&mem), Err(abi::ZX_ERR_NO_MEMORY));
}

#[test]
fn next_id_is_the_id_the_next_insert_gives() {
    let mem = Mem::default();
    let mut slab: Slab<u8> = Slab::new();
    let mut ids = Vec::new();
    for v in 0..4 {
        slab.reserve(&mem).unwrap();
        let next = slab.next_id();
        let id = slab.insert_reserved(v);
        assert_eq!(next, id);
        ids.push(id);
    }
    // A freed slot is reused first, with the next generation.
    slab.remove(ids[1]).unwrap();
    slab.reserve(&mem).unwrap();
    let next = slab.next_id();
    assert_eq!((next.index(), next.generation()), (ids[1].index(), 1));
    assert_eq!(slab.insert_reserved(9), next);
    assert_eq!(slab.get(ids[1]), None);
    assert_eq!(slab.get(next), Some(&9));
}

#[test]
fn a_slab_id_survives_its_one_word_form() {
    let mem = Mem::default();
    let mut slab: Slab<u8> = Slab::new();
    let a = slab.insert(&mem, 1).unwrap();
    slab.remove(a).unwrap();
    let b = slab.insert(&mem, 2).unwrap();
    assert_eq!(SlabId::from_raw(b.raw()), b);
    assert_eq!(b.raw(), (1 << 32) | u64::from(b.index()));
    assert_eq!(slab.get(SlabId::from_raw(a.raw())), None);
}
