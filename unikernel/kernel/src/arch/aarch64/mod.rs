//! aarch64: boot, exceptions, power, and the CPU primitives the generic
//! kernel uses.

pub mod backtrace;
pub mod boot;
pub mod context;
pub mod el0;
pub mod esr;
pub mod exception;
pub mod gic;
pub mod mmu;
pub mod page;
pub mod power;
pub mod semihosting;
pub mod timer;
pub mod tlb;
pub mod usercopy;

use aarch64_cpu::registers::{CurrentEL, CNTFRQ_EL0, CNTVCT_EL0, DAIF, ID_AA64PFR0_EL1};
use tock_registers::interfaces::{Readable, Writeable};

/// The exception level the CPU runs at now.
pub fn current_el() -> u8 {
    CurrentEL.read(CurrentEL::EL) as u8
}

/// The current stack pointer.
#[inline(always)]
pub fn current_sp() -> u64 {
    let sp: u64;
    // SAFETY: reading SP has no effect.
    unsafe { core::arch::asm!("mov {}, sp", out(reg) sp, options(nomem, nostack)) };
    sp
}

/// `DAIF.I`: IRQs masked.
const DAIF_I: u64 = 1 << 7;

/// Masks IRQ and FIQ and returns the previous `DAIF` for [`irq_restore`].
/// Going from unmasked to masked starts a masked interval ([`crate::latency`]).
#[inline(always)]
pub fn irq_save() -> u64 {
    let daif = irq_mask_save();
    if daif & DAIF_I == 0 {
        crate::latency::masked_begin();
    }
    daif
}

/// Restores the `DAIF` that [`irq_save`] returned, ending the interval it
/// began if that unmasks IRQs.
#[inline(always)]
pub fn irq_restore(daif: u64) {
    if daif & DAIF_I == 0 {
        crate::latency::masked_end();
    }
    irq_unmask_restore(daif);
}

/// [`irq_save`] for a caller that keeps the masked interval's start itself
/// (a lock, in its own record): masks IRQ and FIQ and returns the previous
/// `DAIF`. Where IRQs are masked already (FIQs always are then: nothing
/// unmasks them alone), nothing is written.
#[inline(always)]
pub fn irq_mask_save() -> u64 {
    let daif = DAIF.get();
    if daif & DAIF_I == 0 {
        // SAFETY: masking interrupts on this CPU is always sound.
        unsafe { core::arch::asm!("msr daifset, #3", options(nomem, nostack)) };
    }
    daif
}

/// Restores what [`irq_mask_save`] returned, if that unmasks IRQs (else
/// nothing changed since).
#[inline(always)]
pub fn irq_unmask_restore(daif: u64) {
    if daif & DAIF_I == 0 {
        DAIF.set(daif);
    }
}

/// Whether a `DAIF` value has IRQs unmasked.
#[inline(always)]
pub fn irqs_unmasked_in(daif: u64) -> bool {
    daif & DAIF_I == 0
}

/// Unmasks IRQs on this CPU.
#[inline(always)]
pub fn irq_enable() {
    if irqs_masked() {
        crate::latency::masked_end();
    }
    // SAFETY: the vectors and the GIC handler table are ready before the
    // scheduler unmasks IRQs. (Not `nomem`: memory accesses must not move
    // across the unmask.)
    unsafe { core::arch::asm!("msr daifclr, #2", options(nostack)) };
}

/// Unmasks IRQs where no masked interval was begun: a syscall, whose
/// exception masked them a few instructions ago (see `handle_syscall`).
#[inline(always)]
pub fn irq_unmask_from_exception() {
    // SAFETY: the exception's frame, ELR and SPSR are saved; an interrupt
    // taken from here on nests on this stack and returns here.
    unsafe { core::arch::asm!("msr daifclr, #2", options(nostack)) };
}

/// Masks IRQs again before an exception return (the interval up to the
/// `eret` is a few instructions, and not measured).
#[inline(always)]
pub fn irq_mask_for_return() {
    // SAFETY: masking interrupts on this CPU is always sound. (Not `nomem`:
    // memory accesses must not move across it.)
    unsafe { core::arch::asm!("msr daifset, #2", options(nostack)) };
}

/// Whether IRQs are masked on this CPU.
#[inline(always)]
pub fn irqs_masked() -> bool {
    DAIF.get() & DAIF_I != 0
}

/// Unmasks IRQs for a moment and masks them again: an interrupt pending
/// now is taken in between (and may switch threads before this returns).
#[inline(always)]
pub fn irq_window() {
    // SAFETY: the caller holds no lock and may be interrupted here (see
    // `latency::preempt_point`); the ISB makes the unmask take effect
    // before IRQs are masked again.
    unsafe {
        core::arch::asm!(
            "msr daifclr, #2",
            "isb",
            "msr daifset, #2",
            options(nostack)
        )
    };
}

/// Waits for an interrupt (returns at once if one is pending).
#[inline(always)]
pub fn wait_for_interrupt() {
    aarch64_cpu::asm::wfi();
}

/// Unmasks SError (asynchronous aborts), once the vectors can report them.
pub fn unmask_serror() {
    // SAFETY: the vectors are installed; an SError is now reported, not lost.
    unsafe { core::arch::asm!("msr daifclr, #4", options(nomem, nostack)) };
}

/// Whether the CPU has the GIC system-register interface
/// (`ID_AA64PFR0_EL1.GIC`, bits 27:24, which aarch64-cpu does not name).
pub fn gic_sysreg_interface() -> bool {
    const GIC_SHIFT: u64 = 24;
    const GIC_MASK: u64 = 0xf;
    (ID_AA64PFR0_EL1.get() >> GIC_SHIFT) & GIC_MASK != 0
}

/// The generic timer's frequency in Hz.
pub fn counter_frequency() -> u64 {
    CNTFRQ_EL0.get()
}

/// The virtual counter.
#[inline(always)]
pub fn counter() -> u64 {
    CNTVCT_EL0.get()
}

/// Stops this CPU for good with interrupts masked.
pub fn halt() -> ! {
    irq_save();
    loop {
        aarch64_cpu::asm::wfe();
    }
}
