//! Locks that mask interrupts while held, so an interrupt handler that
//! takes the same lock cannot deadlock against the code it interrupted.
//!
//! No lock may be taken before the MMU and data cache are on: a lock is an
//! exclusive load/store loop, and real cores (the Pi 4's Cortex-A72) cannot
//! complete one on the Device memory that all data is while the MMU is off
//! — the store-exclusive fails forever and the board hangs without a word,
//! while QEMU's always succeeds. So every lock first makes one unaligned
//! load from its stack, which faults exactly when the MMU is off
//! (`arch::irq_save_checking_mmu`), and the fault stops the boot with a clear
//! message: a regression shows under QEMU (`break=premmu`
//! proves the check fires).

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};
use talc::lock_api;

/// A spin lock that masks IRQ and FIQ on this CPU while held.
pub struct IrqSpinRaw {
    locked: AtomicBool,
    /// The `DAIF` to restore on unlock; written only by the holder.
    saved_daif: UnsafeCell<u64>,
    /// When locking masked IRQs (counter ticks), for the masked-interval
    /// record (`crate::latency`); written only by the holder.
    masked_at: UnsafeCell<u64>,
}

// SAFETY: `saved_daif` and `masked_at` are only touched by the CPU that
// holds the lock.
unsafe impl Sync for IrqSpinRaw {}

// SAFETY: `lock` does not return until this CPU owns `locked` (acquire);
// `unlock` releases it; the saved interrupt mask is only accessed by the owner.
unsafe impl lock_api::RawMutex for IrqSpinRaw {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = Self {
        locked: AtomicBool::new(false),
        saved_daif: UnsafeCell::new(0),
        masked_at: UnsafeCell::new(0),
    };

    type GuardMarker = lock_api::GuardNoSend;

    #[inline]
    fn lock(&self) {
        let daif = crate::arch::irq_save_checking_mmu();
        let at = if crate::arch::irqs_unmasked_in(daif) {
            crate::arch::counter()
        } else {
            0
        };
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            crate::arch::wait_while_set(&self.locked);
        }
        // SAFETY: this CPU now holds the lock.
        unsafe {
            *self.saved_daif.get() = daif;
            *self.masked_at.get() = at;
        }
    }

    #[inline]
    fn try_lock(&self) -> bool {
        let daif = crate::arch::irq_save_checking_mmu();
        if self
            .locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            // SAFETY: this CPU now holds the lock.
            unsafe {
                *self.saved_daif.get() = daif;
                if crate::arch::irqs_unmasked_in(daif) {
                    *self.masked_at.get() = crate::arch::counter();
                }
            }
            true
        } else {
            crate::arch::irq_unmask_restore(daif);
            false
        }
    }

    #[inline]
    unsafe fn unlock(&self) {
        // SAFETY: the caller holds the lock, so it owns `saved_daif` and
        // `masked_at`.
        let (daif, at) = unsafe { (*self.saved_daif.get(), *self.masked_at.get()) };
        self.locked.store(false, Ordering::Release);
        if crate::arch::irqs_unmasked_in(daif) {
            crate::latency::masked_since(at);
        }
        crate::arch::irq_unmask_restore(daif);
    }

    fn is_locked(&self) -> bool {
        self.locked.load(Ordering::Relaxed)
    }
}

impl IrqSpinRaw {
    /// [`lock_api::RawMutex::try_lock`] for a caller that runs with IRQs
    /// masked already (an exception handler): nothing to save or mask, so
    /// the fault path spends a few instructions fewer. Unlocking leaves the
    /// mask as it found it. A caller that turns out to run unmasked gets
    /// the ordinary `try_lock`.
    #[inline(always)]
    pub fn try_lock_masked(&self) -> bool {
        if !crate::arch::irqs_masked() {
            return self.try_lock_unmasked();
        }
        if self
            .locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        // SAFETY: this CPU now holds the lock. A masked `DAIF` makes the
        // unlock leave the mask as it is and record no masked interval.
        unsafe { *self.saved_daif.get() = MASKED_DAIF };
        true
    }
}

impl IrqSpinRaw {
    /// [`lock_api::RawMutex::lock`] for a caller that has masked IRQs
    /// itself (and keeps the masked interval's record itself, as
    /// `arch::irq_save` does): nothing to save or mask again. Unlocking
    /// leaves the mask as it found it and records no interval.
    #[inline(always)]
    pub fn lock_masked(&self) {
        debug_assert!(crate::arch::irqs_masked());
        crate::arch::check_mmu_for_lock();
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            crate::arch::wait_while_set(&self.locked);
        }
        // SAFETY: this CPU now holds the lock. A masked `DAIF` makes the
        // unlock leave the mask as it is and record no masked interval.
        unsafe { *self.saved_daif.get() = MASKED_DAIF };
    }
}

impl IrqSpinRaw {
    /// Waits (in `WFE`, see [`crate::arch::wait_while_set`]) until the lock
    /// looks free; the caller then tries to take it.
    #[inline(always)]
    pub fn wait_until_free(&self) {
        crate::arch::wait_while_set(&self.locked);
    }

    #[cold]
    #[inline(never)]
    fn try_lock_unmasked(&self) -> bool {
        lock_api::RawMutex::try_lock(self)
    }
}

/// A `DAIF` with IRQs and FIQs masked, as the exception entry leaves it.
const MASKED_DAIF: u64 = 0b11 << 6;

/// What a lock taken too early comes to: says so and ends the run. Itself
/// lock-free (before the MMU the console writes without its lock).
#[cold]
pub fn lock_before_mmu() -> ! {
    crate::power::fail(
        "lock taken before the MMU and data cache are on (SCTLR_EL1.M/.C clear): \
         exclusive loads/stores there hang real cores",
    )
}

/// Takes a lock before the MMU is on, for `break=premmu`: the check above
/// must stop the boot.
pub fn lock_before_mmu_on_purpose() {
    static LOCK: IrqMutex<()> = IrqMutex::new(());
    drop(LOCK.lock());
}

/// A mutex over [`IrqSpinRaw`].
pub type IrqMutex<T> = lock_api::Mutex<IrqSpinRaw, T>;
