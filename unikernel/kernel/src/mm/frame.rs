//! The physical frame allocator: 4 KiB frames from the free RAM ranges.
//!
//! Frames never handed out are taken from the ranges in order (nothing to
//! set up per frame at boot); freed frames go on an intrusive list threaded
//! through their first word. RAM is identity-mapped, so a frame's physical
//! address is also where the kernel reads and writes it.

use super::{MAX_FREE_RANGES, PAGE_SIZE};
use crate::devicetree::RangeList;
use crate::sync::IrqMutex;

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

static FRAMES: IrqMutex<Allocator> = IrqMutex::new(Allocator {
    ranges: RangeList::new(),
    bump_range: 0,
    bump_next: 0,
    free_head: 0,
    free_frames: 0,
    total_frames: 0,
});

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
    let mut a = FRAMES.lock();
    if a.free_head != 0 {
        let frame = Frame(a.free_head);
        // SAFETY: a frame on the free list is ours and its first word holds
        // the next entry.
        a.free_head = unsafe { frame.as_mut_ptr().read() };
        a.free_frames -= 1;
        return Some(frame);
    }
    a.bump()
}

impl Allocator {
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

/// A zero-filled frame, or `None` when RAM is exhausted.
pub fn alloc_zeroed() -> Option<Frame> {
    let frame = alloc()?;
    // SAFETY: the frame was just allocated to us; it is identity-mapped RAM.
    unsafe { crate::arch::page::zero(frame.addr() as *mut u8) };
    Some(frame)
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

/// How many frames are free now.
pub fn free_frames() -> usize {
    FRAMES.lock().free_frames
}

/// How many frames the allocator manages.
pub fn total_frames() -> usize {
    FRAMES.lock().total_frames
}
