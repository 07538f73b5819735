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
//! Lock order: a CPU's pool, then the allocator ([`refill`]); no path
//! holds the allocator while taking a pool.

use super::{MAX_FREE_RANGES, PAGE_SIZE};
use crate::devicetree::RangeList;
use crate::sched::MAX_CPUS;
use crate::sync::IrqMutex;
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

/// A frame with unspecified contents, or `None` when RAM is exhausted.
/// (Always inlined: it is on the fault path.)
#[inline(always)]
pub fn alloc() -> Option<Frame> {
    let frame = {
        let mut a = FRAMES.lock();
        a.pop()
    };
    // The allocator's lock is released before a pool's is taken (lock order).
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
            self.bump_range += 1;
            self.bump_next = self
                .ranges
                .as_slice()
                .get(self.bump_range)
                .map_or(0, |r| r.start);
        }
        None
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

/// One CPU's pre-zeroed frames (a stack: their contents are zeros, so no
/// list can be threaded through them).
struct Pool {
    frames: [u64; POOL_FRAMES],
    len: usize,
}

static POOLS: [IrqMutex<Pool>; MAX_CPUS] = [const {
    crate::sync::ranked(
        crate::sync::Rank::FramePool,
        Pool {
            frames: [0; POOL_FRAMES],
            len: 0,
        },
    )
}; MAX_CPUS];

/// Each pool's frames, for the lock-free looks at it ([`take_zeroed`]'s
/// "none here", [`free_frames`], [`zeroed_frames`]): a CPU's own word, so
/// a fault's pop writes no line other CPUs' faults write (one count for all
/// pools was an atomic add on a line shared by every CPU's faults). Stored
/// under the pool's lock; when frames move from the allocator into a pool,
/// under the allocator's lock too, and counting them at once (before they
/// are zeroed), so [`free_frames`] (which sums under the allocator's lock)
/// never counts a moving frame twice or not at all.
static POOL_LENS: [AtomicUsize; MAX_CPUS] = [const { AtomicUsize::new(0) }; MAX_CPUS];

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
}

/// A pool frame from any CPU, once the allocator itself has none left:
/// memory runs out only when the pools are empty too.
#[cold]
#[inline(never)]
fn take_from_any_pool() -> Option<Frame> {
    (0..MAX_CPUS).find_map(|i| POOLS[i].lock().pop(&POOL_LENS[i]))
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
/// is full or no frame is free). IRQs are masked for these frames only.
pub fn refill(max: usize) -> usize {
    let i = this_pool();
    let mut pool = POOLS[i].lock();
    let want = max.min(REFILL_BATCH).min(POOL_FRAMES - pool.len);
    let mut got = [0u64; REFILL_BATCH];
    let n = {
        let mut a = FRAMES.lock();
        let mut n = 0;
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

/// Gives every pool's frames back to the allocator, for tests and the
/// benchmark of faults with the pools empty. The idle thread refills them
/// when it next runs.
pub fn drain_pools() {
    for (pool, mirror) in POOLS.iter().zip(&POOL_LENS) {
        while let Some(frame) = pool.lock().pop(mirror) {
            // SAFETY: the frame was in a pool: free, and nobody else's.
            unsafe { free(frame) };
        }
    }
}

/// Gives a frame back.
///
/// # Safety
/// `frame` must have come from [`alloc`] or [`alloc_zeroed`], not be freed
/// already, and nothing may use its memory any more.
pub unsafe fn free(frame: Frame) {
    let mut a = FRAMES.lock();
    debug_assert!(a.ranges.as_slice().iter().any(|r| r.contains(frame.addr())));
    // SAFETY: the caller gives the frame up; its first word links the list.
    unsafe { frame.as_mut_ptr().write(a.free_head) };
    a.free_head = frame.addr();
    a.free_frames += 1;
}

/// How many frames are free now, pre-zeroed ones in the pools included.
pub fn free_frames() -> usize {
    let a = FRAMES.lock();
    a.free_frames + zeroed_frames()
}

/// How many frames the allocator manages.
pub fn total_frames() -> usize {
    FRAMES.lock().total_frames
}
