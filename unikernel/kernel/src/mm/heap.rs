//! The kernel heap: talc over one contiguous range of RAM, behind a lock
//! that masks interrupts (an interrupt handler that allocates cannot
//! deadlock against the code it interrupted).

use crate::devicetree::PhysRange;
use crate::sync::IrqSpinRaw;
use talc::source::Manual;
use talc::TalcLock;

#[global_allocator]
static HEAP: TalcLock<IrqSpinRaw, Manual> = TalcLock::new(Manual);

/// Gives the heap its memory. Called once at boot.
///
/// # Safety
/// `range` must be RAM that nothing else uses, for the kernel's lifetime.
pub unsafe fn init(range: PhysRange) {
    // SAFETY: the caller hands over `range` for good.
    let claimed = unsafe {
        HEAP.lock()
            .claim(range.start as *mut u8, range.len() as usize)
    };
    if claimed.is_none() {
        crate::power::fail("heap: could not claim its memory");
    }
}

/// Allocation statistics.
pub fn stats() -> talc::base::Counters {
    *HEAP.lock().counters()
}
