//! Kernel stacks: [`layout::KERNEL_STACK_SIZE`] bytes each, mapped in the
//! upper half of a slot twice that size in [`super::KERNEL_STACK_REGION`];
//! the lower half stays unmapped, a guard that the exception entry
//! recognises (vectors.s), so an overflow is reported, not repeated.

use super::{with_page_table, KERNEL_STACK_REGION};
use crate::arch::mmu::Attrs;
use crate::layout::KERNEL_STACK_SIZE;
use crate::mm::frame;
use crate::mm::PAGE_SIZE;
use crate::sync::IrqMutex;
use alloc::vec::Vec;

const SLOT: u64 = 2 * KERNEL_STACK_SIZE;
const SLOTS: u64 = (KERNEL_STACK_REGION.end - KERNEL_STACK_REGION.start) / SLOT;

/// Slot numbers given back, and the next never-used one.
struct Slots {
    free: Vec<u32>,
    next: u32,
}

static SLOTS_STATE: IrqMutex<Slots> = crate::sync::ranked(
    crate::sync::Rank::KernelStacks,
    Slots {
        free: Vec::new(),
        next: 0,
    },
);

/// A mapped kernel stack with an unmapped guard below it. Unmapped and its
/// frames freed on drop.
#[derive(Debug)]
pub struct KernelStack {
    slot: u32,
}

/// Why a stack could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoMemory;

impl KernelStack {
    /// Maps a fresh stack.
    pub fn new() -> Result<Self, NoMemory> {
        let slot = {
            let mut s = SLOTS_STATE.lock();
            match s.free.pop() {
                Some(slot) => slot,
                None if u64::from(s.next) < SLOTS => {
                    // Room to give every slot in use back without allocating.
                    let in_use = s.next as usize + 1;
                    let more = in_use.saturating_sub(s.free.len());
                    s.free.try_reserve(more).map_err(|_| NoMemory)?;
                    s.next += 1;
                    s.next - 1
                }
                None => return Err(NoMemory),
            }
        };
        let stack = Self { slot };
        let bottom = stack.bottom();
        let mapped = with_page_table(|table| {
            let mut va = bottom;
            while va < stack.top() {
                let Some(f) = frame::alloc_zeroed() else {
                    return Err(NoMemory);
                };
                if table.map_page(va, f.addr(), Attrs::KERNEL_DATA).is_err() {
                    // SAFETY: the frame was just allocated and is not mapped.
                    unsafe { frame::free(f) };
                    return Err(NoMemory);
                }
                va += PAGE_SIZE;
            }
            Ok(())
        });
        // On failure, dropping `stack` unmaps and frees what was mapped.
        mapped.map(|()| stack)
    }

    /// The lowest byte of the stack.
    pub fn bottom(&self) -> u64 {
        KERNEL_STACK_REGION.start + u64::from(self.slot) * SLOT + KERNEL_STACK_SIZE
    }

    /// One past the highest byte: the initial stack pointer.
    pub fn top(&self) -> u64 {
        self.bottom() + KERNEL_STACK_SIZE
    }

    /// The guard below the stack.
    pub fn guard(&self) -> core::ops::Range<u64> {
        self.bottom() - KERNEL_STACK_SIZE..self.bottom()
    }
}

impl Drop for KernelStack {
    fn drop(&mut self) {
        let (bottom, top) = (self.bottom(), self.top());
        let mut frames = [0u64; (KERNEL_STACK_SIZE / PAGE_SIZE) as usize];
        with_page_table(|table| {
            for (i, slot) in frames.iter_mut().enumerate() {
                if let Some((pa, _)) = table.translate(bottom + i as u64 * PAGE_SIZE) {
                    *slot = pa;
                }
            }
            // One unmap of the whole stack: one batch of TLB maintenance.
            table.unmap(bottom, top - bottom);
        });
        for &pa in frames.iter().filter(|&&pa| pa != 0) {
            // SAFETY: the frame backed this stack, which is now unmapped;
            // nothing else refers to it.
            unsafe { frame::free(frame::Frame::from_addr(pa)) };
        }
        // Capacity for every slot in use was reserved when it was taken.
        SLOTS_STATE.lock().free.push(self.slot);
    }
}
