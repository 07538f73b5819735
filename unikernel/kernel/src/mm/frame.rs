//! The physical frame allocator: 4 KiB frames from the free RAM ranges.
//!
//! Frames never handed out are taken from the ranges in order (nothing to
//! set up per frame at boot); freed frames go on an intrusive list threaded
//! through their first word. RAM is identity-mapped, so a frame's physical
//! address is also where the kernel reads and writes it.
//!
//! Each CPU also keeps a pool of up to [`POOL_FRAMES`] frames zeroed ahead
//! of time: its idle thread moves free frames into the pool a few at a
//! time, zeroing them with `DC ZVA` ([`refill`], one short IRQs-masked
//! step per [`REFILL_BATCH`] frames, so an interrupt waits at most that
//! many frames' zeroing), and
//! [`alloc_zeroed`] takes from the pool first, so a zero-fill fault skips
//! the zeroing while the pool lasts. Pool frames count as free, and
//! [`alloc`] takes them too once the free list and the never-used ranges
//! are exhausted: the pool never makes memory run out earlier.
//!
//! Each CPU's pool also keeps a cache of up to [`CACHE_FRAMES`] free
//! frames (contents unspecified), under the same lock: [`alloc`] takes
//! the cache's top and [`free`] puts a frame back on it, so most
//! allocations and frees take no lock another CPU takes. The cache trades
//! [`CACHE_BATCH`] frames at a time with the allocator when it runs empty
//! or full (one hold of the allocator's lock per that many), and the idle
//! thread zeroes the frames its CPU freed last first. Cached frames count
//! as free, and [`alloc`] takes them from any CPU once the allocator and
//! the pools have none.
//!
//! Lock order: a CPU's pool, then the allocator; no path holds the
//! allocator while taking a pool, or holds two pools at once.

use super::{MAX_FREE_RANGES, PAGE_SIZE};
use crate::devicetree::RangeList;
use crate::sched::MAX_CPUS;
use crate::sync::{CacheLine, IrqMutex};
use core::sync::atomic::{AtomicUsize, Ordering};

/// The physical address of a 4 KiB frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Frame(u64);

impl Frame {
    /// The frame's physical address.
    pub fn addr(self) -> u64 {
        self.0
    }

    /// The frame at `addr`, which must be page-aligned.
    pub fn from_addr(addr: u64) -> Self {
        debug_assert!(addr.is_multiple_of(super::PAGE_SIZE));
        Self(addr)
    }

    fn as_mut_ptr(self) -> *mut u64 {
        self.0 as *mut u64
    }
}

struct Allocator {
    ranges: RangeList<MAX_FREE_RANGES>,
    /// The range frames are taken from next, and the next frame in it.
    bump_range: usize,
    bump_next: u64,
    /// Head of the list of freed frames; 0 when empty.
    free_head: u64,
    free_frames: usize,
    total_frames: usize,
}

static FRAMES: IrqMutex<Allocator> = crate::sync::ranked(
    crate::sync::Rank::Frames,
    Allocator {
        ranges: RangeList::new(),
        bump_range: 0,
        bump_next: 0,
        free_head: 0,
        free_frames: 0,
        total_frames: 0,
    },
);

/// Hands the allocator its RAM. Called once at boot.
pub fn init(ranges: RangeList<MAX_FREE_RANGES>) {
    let mut a = FRAMES.lock();
    let total: u64 = ranges.as_slice().iter().map(|r| r.len() / PAGE_SIZE).sum();
    a.bump_next = ranges.as_slice().first().map_or(0, |r| r.start);
    a.ranges = ranges;
    a.bump_range = 0;
    a.free_head = 0;
    a.total_frames = total as usize;
    a.free_frames = total as usize;
}

/// A frame with unspecified contents, or `None` when RAM is exhausted:
/// this CPU's cache's top (see above). (Always inlined: it is on the
/// fault path.)
#[inline(always)]
pub fn alloc() -> Option<Frame> {
    let i = this_pool();
    let frame = POOLS[i].lock().take_cached(i);
    // This CPU's pool is released before any other is taken (lock order).
    frame.or_else(take_from_any_pool)
}

/// [`alloc`] with IRQs masked already (the object layer's fault path):
/// the pool's lock taken with [`crate::sync::lock_masked`].
#[inline(always)]
pub fn alloc_masked() -> Option<Frame> {
    let i = this_pool();
    let frame = crate::sync::lock_masked(&POOLS[i]).take_cached(i);
    frame.or_else(take_from_any_pool)
}

impl Allocator {
    /// A frame from the free list, else a never-used one.
    #[inline(always)]
    fn pop(&mut self) -> Option<Frame> {
        if self.free_head != 0 {
            let frame = Frame(self.free_head);
            // SAFETY: a frame on the free list is ours and its first word
            // holds the next entry.
            self.free_head = unsafe { frame.as_mut_ptr().read() };
            self.free_frames -= 1;
            return Some(frame);
        }
        self.bump()
    }

    /// Fills `out` with free frames, from the free list, then never-used
    /// ones (a run at a time); returns how many (fewer once RAM runs out).
    #[inline(always)]
    fn pop_many(&mut self, out: &mut [u64]) -> usize {
        let mut n = 0;
        while n < out.len() && self.free_head != 0 {
            out[n] = self.free_head;
            // SAFETY: a frame on the free list is ours and its first word
            // holds the next entry.
            self.free_head = unsafe { Frame(self.free_head).as_mut_ptr().read() };
            n += 1;
        }
        self.free_frames -= n;
        if n < out.len() {
            n += self.bump_many(&mut out[n..]);
        }
        n
    }

    /// Fills `out` with never-used frames; returns how many.
    #[inline(never)]
    fn bump_many(&mut self, out: &mut [u64]) -> usize {
        let mut n = 0;
        while n < out.len() {
            let Some(range) = self.ranges.as_slice().get(self.bump_range).copied() else {
                break;
            };
            let left = ((range.end.saturating_sub(self.bump_next)) / PAGE_SIZE) as usize;
            let take = left.min(out.len() - n);
            for slot in &mut out[n..n + take] {
                *slot = self.bump_next;
                self.bump_next += PAGE_SIZE;
            }
            n += take;
            if take == left {
                self.next_range();
            }
        }
        self.free_frames -= n;
        n
    }

    /// Puts `frame` on the free list.
    ///
    /// # Safety
    ///
    /// `frame` is free: nothing uses its memory, and it is on no list.
    #[inline(always)]
    unsafe fn push(&mut self, frame: Frame) {
        debug_assert!(self
            .ranges
            .as_slice()
            .iter()
            .any(|r| r.contains(frame.addr())));
        // SAFETY: the caller gives the frame up; its first word links the list.
        unsafe { frame.as_mut_ptr().write(self.free_head) };
        self.free_head = frame.addr();
        self.free_frames += 1;
    }

    /// The next never-used frame, once the free list is empty.
    #[inline(never)]
    fn bump(&mut self) -> Option<Frame> {
        while let Some(range) = self.ranges.as_slice().get(self.bump_range).copied() {
            if self.bump_next + PAGE_SIZE <= range.end {
                let frame = Frame(self.bump_next);
                self.bump_next += PAGE_SIZE;
                self.free_frames -= 1;
                return Some(frame);
            }
            self.next_range();
        }
        None
    }

    /// Moves the never-used frames' cursor to the next range's start.
    fn next_range(&mut self) {
        self.bump_range += 1;
        self.bump_next = self
            .ranges
            .as_slice()
            .get(self.bump_range)
            .map_or(0, |r| r.start);
    }
}

/// A zero-filled frame, or `None` when RAM is exhausted: from this CPU's
/// pool if it has one, else a free frame zeroed now. (Always inlined: it
/// is on the zero-fill fault path.)
#[inline(always)]
pub fn alloc_zeroed() -> Option<Frame> {
    if let Some(frame) = take_zeroed() {
        return Some(frame);
    }
    let frame = alloc()?;
    // SAFETY: the frame was just allocated to us; it is identity-mapped RAM.
    unsafe { crate::arch::page::zero(frame.addr() as *mut u8) };
    Some(frame)
}

/// Pre-zeroed frames each CPU's pool holds at most: 2 MiB, enough for a
/// burst of faults (a few hundred pages) between idle periods.
pub const POOL_FRAMES: usize = 512;

/// Free frames each CPU's cache holds at most.
pub const CACHE_FRAMES: usize = 64;

/// Frames a cache takes from the allocator when it runs empty, and gives
/// back when it is full.
pub const CACHE_BATCH: usize = 16;

/// One CPU's pre-zeroed frames (a stack: their contents are zeros, so no
/// list can be threaded through them), and its cache of free frames (a
/// stack too: the frame freed last is handed out first).
struct Pool {
    frames: [u64; POOL_FRAMES],
    len: usize,
    cache: [u64; CACHE_FRAMES],
    cached: usize,
}

static POOLS: [IrqMutex<Pool>; MAX_CPUS] = [const {
    crate::sync::ranked(
        crate::sync::Rank::FramePool,
        Pool {
            frames: [0; POOL_FRAMES],
            len: 0,
            cache: [0; CACHE_FRAMES],
            cached: 0,
        },
    )
}; MAX_CPUS];

/// Each cache's frames, for [`free_frames`] (which takes no pool's lock),
/// kept as [`POOL_LENS`] is: stored under the pool's lock, and under the
/// allocator's too when frames move between the cache and the allocator
/// or the pool.
static CACHE_LENS: [CacheLine<AtomicUsize>; MAX_CPUS] =
    [const { CacheLine(AtomicUsize::new(0)) }; MAX_CPUS];

/// Each pool's frames, for the lock-free looks at it ([`take_zeroed`]'s
/// "none here", [`free_frames`], [`zeroed_frames`]): a CPU's own word, so
/// a fault's pop writes no line other CPUs' faults write (one count for all
/// pools was an atomic add on a line shared by every CPU's faults). Stored
/// under the pool's lock; when frames move from the allocator into a pool,
/// under the allocator's lock too, and counting them at once (before they
/// are zeroed), so [`free_frames`] (which sums under the allocator's lock)
/// never counts a moving frame twice or not at all.
static POOL_LENS: [CacheLine<AtomicUsize>; MAX_CPUS] =
    [const { CacheLine(AtomicUsize::new(0)) }; MAX_CPUS];

/// This CPU's pool's index. Every pool is empty until the idle threads
/// run, after the scheduler has set each CPU's index, so an index not yet
/// set only ever reaches an empty pool.
#[inline(always)]
fn this_pool() -> usize {
    crate::arch::context::cpu_index() % MAX_CPUS
}

/// A frame from this CPU's pool, if it has one.
#[inline(always)]
pub fn take_zeroed() -> Option<Frame> {
    let i = this_pool();
    // No lock while this pool is empty (before its first idle period, or
    // when faults outrun the idle thread); a stale non-zero read only
    // costs the lock below.
    if POOL_LENS[i].load(Ordering::Relaxed) == 0 {
        return None;
    }
    POOLS[i].lock().pop(&POOL_LENS[i])
}

/// [`take_zeroed`] with IRQs masked already (the object layer's fault
/// path): the pool's lock taken with [`crate::sync::lock_masked`].
#[inline(always)]
pub fn take_zeroed_masked() -> Option<Frame> {
    let i = this_pool();
    if POOL_LENS[i].load(Ordering::Relaxed) == 0 {
        return None;
    }
    crate::sync::lock_masked(&POOLS[i]).pop(&POOL_LENS[i])
}

impl Pool {
    /// The top frame; `mirror` is this pool's [`POOL_LENS`] word.
    #[inline(always)]
    fn pop(&mut self, mirror: &AtomicUsize) -> Option<Frame> {
        let len = self.len.checked_sub(1)?;
        self.len = len;
        mirror.store(len, Ordering::Relaxed);
        Some(Frame(self.frames[len]))
    }

    /// The cache's top frame, if any; `i` is this pool's index.
    #[inline(always)]
    fn pop_cached(&mut self, i: usize) -> Option<Frame> {
        let n = self.cached.checked_sub(1)?;
        self.cached = n;
        CACHE_LENS[i].store(n, Ordering::Relaxed);
        Some(Frame(self.cache[n]))
    }

    /// A frame from the cache, restocked from the allocator when empty;
    /// `None` when the allocator has none either.
    #[inline(always)]
    fn take_cached(&mut self, i: usize) -> Option<Frame> {
        match self.pop_cached(i) {
            Some(frame) => Some(frame),
            None => self.restock(i),
        }
    }

    /// The cache is empty: up to [`CACHE_BATCH`] frames from the
    /// allocator, and the top one of them.
    #[inline(never)]
    fn restock(&mut self, i: usize) -> Option<Frame> {
        // The pool's lock masked IRQs.
        let mut a = crate::sync::lock_masked(&FRAMES);
        self.cached += a.pop_many(&mut self.cache[self.cached..CACHE_BATCH]);
        // Under the allocator's lock: `free_frames` counts each moved
        // frame once (see `CACHE_LENS`).
        CACHE_LENS[i].store(self.cached, Ordering::Relaxed);
        drop(a);
        self.pop_cached(i)
    }

    /// Puts a free frame on the cache's top, first giving the oldest
    /// [`CACHE_BATCH`] back to the allocator if the cache is full.
    ///
    /// # Safety
    ///
    /// As for [`free`].
    #[inline(always)]
    unsafe fn put(&mut self, i: usize, frame: Frame) {
        if self.cached == CACHE_FRAMES {
            self.spill(i);
        }
        self.cache[self.cached] = frame.addr();
        self.cached += 1;
        CACHE_LENS[i].store(self.cached, Ordering::Relaxed);
    }

    /// Gives the cache's oldest [`CACHE_BATCH`] frames back to the allocator.
    #[cold]
    #[inline(never)]
    fn spill(&mut self, i: usize) {
        // The pool's lock masked IRQs.
        let mut a = crate::sync::lock_masked(&FRAMES);
        for &addr in &self.cache[..CACHE_BATCH] {
            // SAFETY: a cached frame is free and on no list.
            unsafe { a.push(Frame(addr)) };
        }
        self.cache.copy_within(CACHE_BATCH..self.cached, 0);
        self.cached -= CACHE_BATCH;
        CACHE_LENS[i].store(self.cached, Ordering::Relaxed);
    }
}

/// A frame from any CPU's pool or cache, once this CPU's cache and the
/// allocator have none left: memory runs out only when every pool and
/// cache is empty too.
#[cold]
#[inline(never)]
fn take_from_any_pool() -> Option<Frame> {
    (0..MAX_CPUS).find_map(|i| {
        let mut pool = POOLS[i].lock();
        pool.pop(&POOL_LENS[i]).or_else(|| pool.pop_cached(i))
    })
}

/// Moves one free frame into this CPU's pool, zeroed, and says whether it
/// did (false: the pool is full or no frame is free): [`refill`] of one.
pub fn refill_step() -> bool {
    refill(1) == 1
}

/// Most frames one [`refill`] takes: the idle thread's step. Four frames
/// zeroed with IRQs masked is well under a microsecond; the two lock holds
/// around them were half of what a frame cost the idle thread one at a time.
pub const REFILL_BATCH: usize = 4;

/// The idle thread's step: moves up to `max` (at most [`REFILL_BATCH`])
/// free frames into this CPU's pool, zeroed; returns how many (0: the pool
/// is full or no frame is free). The frames this CPU freed last come
/// first (its cache's top: likely still in its data cache), then the
/// allocator's. IRQs are masked for these frames only.
pub fn refill(max: usize) -> usize {
    let i = this_pool();
    let mut pool = POOLS[i].lock();
    let want = max.min(REFILL_BATCH).min(POOL_FRAMES - pool.len);
    let mut got = [0u64; REFILL_BATCH];
    let n = {
        // Under the allocator's lock even for cached frames: `free_frames`
        // counts each moving frame once.
        let mut a = crate::sync::lock_masked(&FRAMES);
        let mut n = 0;
        while n < want {
            let Some(frame) = pool.pop_cached(i) else {
                break;
            };
            got[n] = frame.addr();
            n += 1;
        }
        while n < want {
            let Some(frame) = a.pop() else { break };
            got[n] = frame.addr();
            n += 1;
        }
        // Counted in the pool from here (see `POOL_LENS`); nobody sees the
        // pool itself before the frames are in it (its lock is held).
        POOL_LENS[i].store(pool.len + n, Ordering::Relaxed);
        n
    };
    for &addr in &got[..n] {
        // SAFETY: the frame left the allocator and is not in the pool yet:
        // only this function reaches it, and it is identity-mapped RAM.
        unsafe { crate::arch::page::zero(addr as *mut u8) };
        let len = pool.len;
        pool.frames[len] = addr;
        pool.len = len + 1;
    }
    n
}

/// Pre-zeroed frames in all CPUs' pools now (`zeroed_frames` of
/// `ZX_INFO_KERNEL_COUNTERS`).
pub fn zeroed_frames() -> usize {
    POOL_LENS.iter().map(|n| n.load(Ordering::Relaxed)).sum()
}

/// Gives every pool's pre-zeroed frames back to the allocator, for tests
/// and the benchmark of faults with the pools empty (the caches keep
/// theirs). The idle thread refills them when it next runs.
pub fn drain_pools() {
    for (i, mirror) in POOL_LENS.iter().enumerate() {
        // A batch per lock hold: IRQs stay masked for a few frames only.
        loop {
            let mut pool = POOLS[i].lock();
            let mut a = crate::sync::lock_masked(&FRAMES);
            for _ in 0..CACHE_BATCH {
                let Some(frame) = pool.pop(mirror) else { break };
                // SAFETY: the frame was in a pool: free, and on no list.
                unsafe { a.push(frame) };
            }
            if pool.len == 0 {
                break;
            }
        }
    }
}

/// Gives a frame back: onto this CPU's cache.
///
/// # Safety
/// `frame` must have come from [`alloc`] or [`alloc_zeroed`], not be freed
/// already, and nothing may use its memory any more.
pub unsafe fn free(frame: Frame) {
    let i = this_pool();
    // SAFETY: passed on from the caller.
    unsafe { POOLS[i].lock().put(i, frame) };
}

/// [`free`] with IRQs masked already (the object layer's calls): the
/// pool's lock taken with [`crate::sync::lock_masked`].
///
/// # Safety
/// As for [`free`].
#[inline(always)]
pub unsafe fn free_masked(frame: Frame) {
    let i = this_pool();
    // SAFETY: passed on from the caller.
    unsafe { crate::sync::lock_masked(&POOLS[i]).put(i, frame) };
}

/// How many frames are free now, pre-zeroed ones in the pools and those in
/// the CPUs' caches included.
pub fn free_frames() -> usize {
    let a = FRAMES.lock();
    a.free_frames + zeroed_frames() + cached_frames()
}

/// Free frames in all CPUs' caches now.
fn cached_frames() -> usize {
    CACHE_LENS.iter().map(|n| n.load(Ordering::Relaxed)).sum()
}

/// Free frames in CPU `cpu`'s cache now (0 for a CPU past the tables).
pub fn cached_frames_on(cpu: usize) -> usize {
    CACHE_LENS.get(cpu).map_or(0, |n| n.load(Ordering::Relaxed))
}

/// How many frames the allocator manages.
pub fn total_frames() -> usize {
    FRAMES.lock().total_frames
}
