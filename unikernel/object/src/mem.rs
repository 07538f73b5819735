//! Fallible allocation of object memory.
//!
//! Every allocation of object-layer memory is a `Vec` growth made with
//! `try_reserve` before any state changes; operations reserve everything
//! they need first and then mutate with infallible steps (`push` within
//! reserved capacity, `swap_remove`, `drain`). No `Box`, `Arc` or
//! `BTreeMap` is used, so nothing can abort on exhaustion. Objects live in
//! [`Slab`]s whose free slots form an intrusive list, so freeing never
//! allocates. [`Mem`] also counts reservations so tests can fail the Nth.

use abi::{Status, ZX_ERR_NO_MEMORY};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

/// The reservation helper: all object memory growth goes through it.
#[derive(Debug)]
pub struct Mem {
    /// Reservations left before the injected failure; [`DISARMED`] for
    /// none. An atomic, as faults on several CPUs reserve at once (see
    /// [`crate::ObjectSpace::vmar_fault_shared`]); failures are armed only
    /// by single-threaded tests, so a plain load and store suffice.
    fail_after: AtomicU64,
}

/// [`Mem::fail_after`] holds no failure.
const DISARMED: u64 = u64::MAX;

impl Default for Mem {
    fn default() -> Self {
        Mem {
            fail_after: AtomicU64::new(DISARMED),
        }
    }
}

impl Mem {
    /// Fails the reservation `n` reservations from now (`Some(0)`: the next one); `None` disarms.
    pub fn fail_after(&self, n: Option<u64>) {
        let n = n.map_or(DISARMED, |n| n.min(DISARMED - 1));
        self.fail_after.store(n, Ordering::Relaxed);
    }

    /// Whether an injected failure is still armed (i.e. has not fired yet).
    pub fn failure_pending(&self) -> bool {
        self.fail_after.load(Ordering::Relaxed) != DISARMED
    }

    #[inline]
    pub(crate) fn injected(&self) -> bool {
        match self.fail_after.load(Ordering::Relaxed) {
            DISARMED => false,
            0 => {
                self.fail_after.store(DISARMED, Ordering::Relaxed);
                true
            }
            n => {
                self.fail_after.store(n - 1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Makes room for `additional` more elements, or `ZX_ERR_NO_MEMORY`.
    #[inline]
    pub fn reserve<T>(&self, v: &mut Vec<T>, additional: usize) -> Result<(), Status> {
        if self.injected() {
            return Err(ZX_ERR_NO_MEMORY);
        }
        // The common case, inline: the room is there already.
        if v.capacity() - v.len() >= additional {
            return Ok(());
        }
        v.try_reserve(additional).map_err(|_| ZX_ERR_NO_MEMORY)
    }
}

enum Slot<T> {
    Used { generation: u32, value: T },
    Free { generation: u32, next: Option<u32> },
}

impl<T> Slot<T> {
    /// Puts `value` in this free slot (the free list points at it); returns
    /// the slot's new generation and the free list's next entry.
    #[inline]
    fn fill(&mut self, value: T) -> (u32, Option<u32>) {
        let Slot::Free { generation, next } = *self else {
            unreachable!("free list points at a used slot")
        };
        let generation = generation.wrapping_add(1);
        *self = Slot::Used { generation, value };
        (generation, next)
    }

    /// The id of this slot, at `index`, if it holds an object.
    fn id(&self, index: u32) -> Option<SlabId> {
        match self {
            Slot::Used { generation, .. } => Some(SlabId {
                index,
                generation: *generation,
            }),
            Slot::Free { .. } => None,
        }
    }
}

/// An index into a [`Slab`] with the slot's generation, so stale ids miss.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlabId {
    index: u32,
    generation: u32,
}

impl SlabId {
    /// The slot index.
    pub fn index(self) -> u32 {
        self.index
    }
    /// The slot's generation when the id was made.
    pub fn generation(self) -> u32 {
        self.generation
    }
    /// As one word: the generation above the index.
    pub fn raw(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.index)
    }
    /// From one word made by [`SlabId::raw`].
    pub const fn from_raw(raw: u64) -> Self {
        SlabId {
            index: raw as u32,
            generation: (raw >> 32) as u32,
        }
    }
}

/// A vector of objects with reusable slots and generation-checked ids,
/// grown by doubling one block (for tables whose lookups are hottest and
/// whose size stays small; a table that grows with what tasks create is a
/// [`ChunkSlab`]).
pub struct Slab<T> {
    slots: Vec<Slot<T>>,
    free: Option<u32>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Slab<T> {
    /// An empty slab (allocates nothing; usable in a `static`).
    pub const fn new() -> Self {
        Slab {
            slots: Vec::new(),
            free: None,
            len: 0,
        }
    }

    /// The id the next [`Slab::insert_reserved`] gives, for a value that
    /// must know its id before it is inserted.
    pub fn next_id(&self) -> SlabId {
        match self.free {
            Some(index) => match self.slots[index as usize] {
                Slot::Free { generation, .. } => SlabId {
                    index,
                    generation: generation.wrapping_add(1),
                },
                Slot::Used { .. } => unreachable!("free list points at a used slot"),
            },
            None => SlabId {
                index: self.slots.len() as u32,
                generation: 0,
            },
        }
    }

    /// Ensures the next [`Slab::insert_reserved`] cannot allocate.
    pub fn reserve(&mut self, mem: &Mem) -> Result<(), Status> {
        if self.free.is_some() {
            // Still count the reservation so failure injection is position-stable.
            return mem.reserve(&mut Vec::<T>::new(), 0);
        }
        if self.slots.len() >= u32::MAX as usize {
            return Err(ZX_ERR_NO_MEMORY);
        }
        mem.reserve(&mut self.slots, 1)
    }

    /// Ensures the next `n` [`Slab::insert_reserved`] calls cannot allocate.
    pub fn reserve_n(&mut self, mem: &Mem, n: usize) -> Result<(), Status> {
        if self.slots.len().saturating_add(n) > u32::MAX as usize {
            return Err(ZX_ERR_NO_MEMORY);
        }
        // Free slots may be reused, but room for `n` new ones is always enough.
        mem.reserve(&mut self.slots, n)
    }

    /// Inserts after a successful [`Slab::reserve`] or [`Slab::reserve_n`].
    /// Inline: the value is then built in its slot, not moved there through
    /// a `memcpy` call (a waiter record, once ports grew it, took one).
    #[inline]
    pub fn insert_reserved(&mut self, value: T) -> SlabId {
        self.len += 1;
        if let Some(index) = self.free {
            let (generation, next) = self.slots[index as usize].fill(value);
            self.free = next;
            SlabId { index, generation }
        } else {
            debug_assert!(self.slots.len() < self.slots.capacity());
            let index = self.slots.len() as u32;
            self.slots.push(Slot::Used {
                generation: 0,
                value,
            });
            SlabId {
                index,
                generation: 0,
            }
        }
    }

    /// Reserves and inserts.
    pub fn insert(&mut self, mem: &Mem, value: T) -> Result<SlabId, Status> {
        self.reserve(mem)?;
        Ok(self.insert_reserved(value))
    }

    /// The object at `id`, if it is still there.
    #[inline]
    pub fn get(&self, id: SlabId) -> Option<&T> {
        match self.slots.get(id.index as usize) {
            Some(Slot::Used { generation, value }) if *generation == id.generation => Some(value),
            _ => None,
        }
    }

    /// The object at `id`, mutably, if it is still there.
    #[inline]
    pub fn get_mut(&mut self, id: SlabId) -> Option<&mut T> {
        match self.slots.get_mut(id.index as usize) {
            Some(Slot::Used { generation, value }) if *generation == id.generation => Some(value),
            _ => None,
        }
    }

    /// Removes and returns the object at `id`.
    pub fn remove(&mut self, id: SlabId) -> Option<T> {
        let slot = self.slots.get_mut(id.index as usize)?;
        match slot {
            Slot::Used { generation, .. } if *generation == id.generation => {
                let old = core::mem::replace(
                    slot,
                    Slot::Free {
                        generation: id.generation,
                        next: self.free,
                    },
                );
                self.free = Some(id.index);
                self.len -= 1;
                match old {
                    Slot::Used { value, .. } => Some(value),
                    Slot::Free { .. } => unreachable!(),
                }
            }
            _ => None,
        }
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no objects.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Ids of all objects (for teardown and invariants).
    pub fn ids(&self) -> impl Iterator<Item = SlabId> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.id(i as u32))
    }
}

impl<T> core::ops::Index<SlabId> for Slab<T> {
    type Output = T;
    #[inline]
    fn index(&self, id: SlabId) -> &T {
        self.get(id).expect("stale slab id")
    }
}

impl<T> core::ops::IndexMut<SlabId> for Slab<T> {
    #[inline]
    fn index_mut(&mut self, id: SlabId) -> &mut T {
        self.get_mut(id).expect("stale slab id")
    }
}

/// Bytes of a [`ChunkSlab`] chunk (at most; a chunk holds at least one slot).
pub const SLAB_CHUNK_BYTES: usize = 64 * 1024;

/// A [`Slab`] stored in chunks of at most [`SLAB_CHUNK_BYTES`]: the first grows by doubling up
/// to that size, and past it the slab allocates one more chunk (and one
/// pointer in the chunk directory) at a time, never one block as large as
/// the whole table, so the number of live objects is bounded by memory,
/// not by the largest contiguous free block. A lookup is one bounds check
/// and one more load (the chunk's base from the directory) than in a flat
/// vector, with no branch more. Chunks once allocated are kept (their
/// slots are reused through the free list).
pub struct ChunkSlab<T> {
    /// Base of each chunk: chunk `k` holds slots `[k << SHIFT, (k + 1) << SHIFT)`.
    dir: Vec<*mut Slot<T>>,
    /// The chunks (they own the memory `dir` points into; their lengths
    /// are kept true so they drop what they hold). Elements are reached
    /// only through `dir`, so no pointer in it is invalidated.
    chunks: Vec<Vec<Slot<T>>>,
    /// Slots made so far: slots `[0, made)` are initialised.
    made: usize,
    free: Option<u32>,
    len: usize,
}

// SAFETY: the raw pointers in `dir` point into memory owned by `chunks`
// and are used only through `&self` / `&mut self` like a `Vec<T>`'s own
// pointer, so the slab is as thread-safe as a `Vec<T>`.
#[allow(unsafe_code)]
unsafe impl<T: Send> Send for ChunkSlab<T> {}
// SAFETY: as above; `&Slab` hands out only `&T`.
#[allow(unsafe_code)]
unsafe impl<T: Sync> Sync for ChunkSlab<T> {}

impl<T> Default for ChunkSlab<T> {
    fn default() -> Self {
        ChunkSlab {
            dir: Vec::new(),
            chunks: Vec::new(),
            made: 0,
            free: None,
            len: 0,
        }
    }
}

// Slots are reached through the chunk directory's raw pointers.
#[allow(unsafe_code)]
impl<T> ChunkSlab<T> {
    /// log2 of the slots per chunk: the largest power of two whose slots
    /// fit in [`SLAB_CHUNK_BYTES`] (at least one).
    const SHIFT: u32 = {
        let size = core::mem::size_of::<Slot<T>>();
        let n = match SLAB_CHUNK_BYTES.checked_div(size) {
            Some(n) => n,
            None => SLAB_CHUNK_BYTES,
        };
        if n <= 1 {
            0
        } else {
            usize::BITS - 1 - n.leading_zeros()
        }
    };
    const PER_CHUNK: usize = 1 << Self::SHIFT;
    const MASK: usize = Self::PER_CHUNK - 1;

    /// Where slot `i` is (it may be uninitialised past `made`).
    #[inline(always)]
    fn at(&self, i: usize) -> *mut Slot<T> {
        debug_assert!(i < self.capacity());
        // SAFETY: callers pass `i` below the capacity, so chunk `i >>
        // SHIFT` exists and has room for entry `i & MASK`.
        unsafe { (*self.dir.get_unchecked(i >> Self::SHIFT)).add(i & Self::MASK) }
    }

    #[inline(always)]
    fn slot(&self, index: u32) -> Option<&Slot<T>> {
        let i = index as usize;
        if i >= self.made {
            return None;
        }
        // SAFETY: `i < made`: the slot is initialised, and the reference
        // borrows `self`, which owns it.
        Some(unsafe { &*self.at(i) })
    }

    #[inline(always)]
    fn slot_mut(&mut self, index: u32) -> Option<&mut Slot<T>> {
        let i = index as usize;
        if i >= self.made {
            return None;
        }
        // SAFETY: as in `slot`, and `&mut self` makes the access exclusive.
        Some(unsafe { &mut *self.at(i) })
    }

    /// The object `id` names, for a caller that has made its access to
    /// that one object exclusive by other means than `&mut self`: slots
    /// never move (the directory points into chunks that are kept), so
    /// one object can be changed while others are read through `&self`.
    ///
    /// # Safety
    ///
    /// While the reference lives, no other reference to the same object
    /// exists (on any CPU) and none is made; the slab itself is not
    /// changed (no insert or remove, which need `&mut self` anyway).
    #[inline(always)]
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn get_exclusive(&self, id: SlabId) -> Option<&mut T> {
        let i = id.index() as usize;
        if i >= self.made {
            return None;
        }
        // SAFETY: `i < made`: the slot is initialised; the memory is owned
        // through raw pointers (not through `&self`), and the caller makes
        // this the only reference to it while it lives.
        match unsafe { &mut *self.at(i) } {
            Slot::Used { generation, value } if *generation == id.generation() => Some(value),
            _ => None,
        }
    }

    /// Capacity of the chunks allocated so far, in slots.
    fn capacity(&self) -> usize {
        match self.chunks.len() {
            0 => 0,
            1 => self.chunks[0].capacity().min(Self::PER_CHUNK),
            n => n << Self::SHIFT,
        }
    }

    /// Allocates until `n` new slots fit (on failure nothing changes but
    /// capacity added, which stays for later use). One injection point.
    fn grow_for(&mut self, mem: &Mem, n: usize) -> Result<(), Status> {
        if mem.injected() {
            return Err(ZX_ERR_NO_MEMORY);
        }
        let want = self.made.saturating_add(n);
        if want > u32::MAX as usize {
            return Err(ZX_ERR_NO_MEMORY);
        }
        if want <= self.capacity() {
            return Ok(());
        }
        let chunks = want.div_ceil(Self::PER_CHUNK);
        let more = chunks.saturating_sub(self.chunks.len()).max(1);
        self.chunks
            .try_reserve(more)
            .map_err(|_| ZX_ERR_NO_MEMORY)?;
        self.dir.try_reserve(more).map_err(|_| ZX_ERR_NO_MEMORY)?;
        if self.chunks.is_empty() {
            self.chunks.push(Vec::new());
            self.dir.push(core::ptr::null_mut());
        }
        // The first chunk doubles, up to its full size (it may move: its
        // directory entry follows).
        let first = &mut self.chunks[0];
        let cap = first.capacity();
        if cap < Self::PER_CHUNK {
            let to = want.max(cap * 2).max(4).min(Self::PER_CHUNK);
            first
                .try_reserve_exact(to - first.len())
                .map_err(|_| ZX_ERR_NO_MEMORY)?;
            self.dir[0] = first.as_mut_ptr();
        }
        while self.chunks.len() < chunks {
            let mut chunk = Vec::new();
            chunk
                .try_reserve_exact(Self::PER_CHUNK)
                .map_err(|_| ZX_ERR_NO_MEMORY)?;
            self.dir.push(chunk.as_mut_ptr());
            self.chunks.push(chunk);
        }
        Ok(())
    }

    /// Ensures the next [`ChunkSlab::insert_reserved`] cannot allocate.
    pub fn reserve(&mut self, mem: &Mem) -> Result<(), Status> {
        if self.free.is_some() {
            // Still count the reservation so failure injection is position-stable.
            return mem.reserve(&mut Vec::<T>::new(), 0);
        }
        self.grow_for(mem, 1)
    }

    /// Ensures the next `n` [`ChunkSlab::insert_reserved`] calls cannot allocate.
    pub fn reserve_n(&mut self, mem: &Mem, n: usize) -> Result<(), Status> {
        // Free slots may be reused, but room for `n` new ones is always enough.
        self.grow_for(mem, n)
    }

    /// Inserts after a successful [`ChunkSlab::reserve`] or [`ChunkSlab::reserve_n`].
    pub fn insert_reserved(&mut self, value: T) -> SlabId {
        self.len += 1;
        if let Some(index) = self.free {
            let slot = self.slot_mut(index).expect("free list in range");
            let (generation, next) = slot.fill(value);
            self.free = next;
            SlabId { index, generation }
        } else {
            let index = self.made;
            debug_assert!(index < self.capacity(), "room reserved");
            // SAFETY: room was reserved, so the slot lies in an allocated
            // chunk; it is past `made`, so nothing is overwritten.
            unsafe {
                self.at(index).write(Slot::Used {
                    generation: 0,
                    value,
                });
                let chunk = &mut self.chunks[index >> Self::SHIFT];
                // SAFETY: the chunk's entries up to this one are initialised.
                chunk.set_len((index & Self::MASK) + 1);
            }
            self.made += 1;
            SlabId {
                index: index as u32,
                generation: 0,
            }
        }
    }

    /// Reserves and inserts.
    pub fn insert(&mut self, mem: &Mem, value: T) -> Result<SlabId, Status> {
        self.reserve(mem)?;
        Ok(self.insert_reserved(value))
    }

    /// The object at `id`, if it is still there.
    #[inline]
    pub fn get(&self, id: SlabId) -> Option<&T> {
        match self.slot(id.index) {
            Some(Slot::Used { generation, value }) if *generation == id.generation => Some(value),
            _ => None,
        }
    }

    /// The object at `id`, mutably, if it is still there.
    #[inline]
    pub fn get_mut(&mut self, id: SlabId) -> Option<&mut T> {
        match self.slot_mut(id.index) {
            Some(Slot::Used { generation, value }) if *generation == id.generation => Some(value),
            _ => None,
        }
    }

    /// Removes and returns the object at `id`.
    pub fn remove(&mut self, id: SlabId) -> Option<T> {
        let free = self.free;
        let slot = self.slot_mut(id.index)?;
        match slot {
            Slot::Used { generation, .. } if *generation == id.generation => {
                let old = core::mem::replace(
                    slot,
                    Slot::Free {
                        generation: id.generation,
                        next: free,
                    },
                );
                self.free = Some(id.index);
                self.len -= 1;
                match old {
                    Slot::Used { value, .. } => Some(value),
                    Slot::Free { .. } => unreachable!(),
                }
            }
            _ => None,
        }
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no objects.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of chunk memory the slab holds (for tests).
    pub fn chunk_bytes(&self) -> usize {
        self.capacity() * core::mem::size_of::<Slot<T>>()
    }

    /// Ids of all objects (for teardown and invariants).
    pub fn ids(&self) -> impl Iterator<Item = SlabId> + '_ {
        (0..self.made as u32).filter_map(|i| self.slot(i).expect("made").id(i))
    }
}

impl<T> core::ops::Index<SlabId> for ChunkSlab<T> {
    type Output = T;
    #[inline]
    fn index(&self, id: SlabId) -> &T {
        self.get(id).expect("stale slab id")
    }
}

impl<T> core::ops::IndexMut<SlabId> for ChunkSlab<T> {
    #[inline]
    fn index_mut(&mut self, id: SlabId) -> &mut T {
        self.get_mut(id).expect("stale slab id")
    }
}
