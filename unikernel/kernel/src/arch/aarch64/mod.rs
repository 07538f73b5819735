//! aarch64: boot, exceptions, power, and the CPU primitives the generic
//! kernel uses.

pub mod asid;
pub mod backtrace;
pub mod boot;
pub mod cache;
pub mod context;
pub mod el0;
pub mod esr;
pub mod exception;
pub mod gic;
pub mod mmu;
pub mod page;
pub mod power;
pub mod semihosting;
pub mod smp;
pub mod timer;
pub mod tlb;
pub mod usercopy;

use aarch64_cpu::registers::{CurrentEL, CNTFRQ_EL0, CNTVCT_EL0, DAIF, ID_AA64PFR0_EL1, SCTLR_EL1};
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

/// Whether the MMU and the data cache are both on (`SCTLR_EL1.M` and
/// `.C`): only then is RAM normal cacheable memory, where exclusive loads
/// and stores (every lock, every atomic read-modify-write) work on real
/// cores.
#[inline(always)]
pub fn mmu_and_caches_on() -> bool {
    const M_AND_C: u64 = SCTLR_EL1::M::Enable.value | SCTLR_EL1::C::Cacheable.value;
    SCTLR_EL1.get() & M_AND_C == M_AND_C
}

// The lock check's instruction (`irq_save_checking_mmu`), kept here as data
// too so that the exception handler can tell its fault from any other
// (`is_lock_check`).
core::arch::global_asm!(
    ".section .rodata.lock_check, \"a\"",
    ".balign 4",
    ".global lock_check_instruction",
    "lock_check_instruction:",
    "    ldur    xzr, [sp, #-15]",
);

/// What every lock does first: masks IRQ and FIQ, returns the previous
/// `DAIF` (for [`irq_restore`]), and faults unless the MMU is on. The check
/// is one instruction: an unaligned load just below the stack pointer.
/// With the MMU on the stack is normal memory and `SCTLR_EL1.A` is clear,
/// so it loads and is discarded; with the MMU off every data access is
/// Device memory, where an unaligned access always takes an alignment
/// fault (QEMU models this too), which the exception handler turns into
/// "a lock was taken before the MMU and caches were on" ([`is_lock_check`]).
/// One `asm!` statement for all three, so that locks stay as cheap to
/// inline as they were.
///
/// The check stands for M and C together: the kernel writes `SCTLR_EL1`
/// only with both clear (`boot::el1_setup`) or both set (`mmu::enable`), so
/// C is never clear while M is set (the `boot` ktests check both values).
#[inline(always)]
pub fn irq_save_checking_mmu() -> u64 {
    let daif: u64;
    // SAFETY: masking interrupts on this CPU is always sound; the load
    // reads 8 bytes 15 below SP, inside the current kernel stack (a lock is
    // never taken within 15 bytes of a stack's end: the exception entry
    // reports an overflow long before), and its value is dropped.
    unsafe {
        core::arch::asm!(
            "mrs {daif}, daif",
            "msr daifset, #3",
            "ldur xzr, [sp, #-15]",
            daif = out(reg) daif,
            options(nomem, nostack, preserves_flags),
        )
    };
    daif
}

/// [`irq_save_checking_mmu`]'s check alone, for a lock taken with IRQs
/// masked already: faults unless the MMU is on (the same instruction, so
/// [`is_lock_check`] knows it).
#[inline(always)]
pub fn check_mmu_for_lock() {
    // SAFETY: as in `irq_save_checking_mmu`: 8 bytes 15 below SP, inside
    // the current kernel stack, loaded and dropped.
    unsafe { core::arch::asm!("ldur xzr, [sp, #-15]", options(nostack, preserves_flags)) };
}

/// Whether the instruction at `elr` is [`irq_save_checking_mmu`]'s check.
pub fn is_lock_check(elr: u64) -> bool {
    unsafe extern "C" {
        static lock_check_instruction: u32;
    }
    if !elr.is_multiple_of(4) || !crate::layout::text().contains(&elr) {
        return false;
    }
    // SAFETY: `elr` is an aligned address inside the kernel's text, which
    // is always readable; the symbol is a word in rodata.
    unsafe { (elr as *const u32).read_volatile() == (&raw const lock_check_instruction).read() }
}

/// Whether a `DAIF` value has IRQs masked (`DAIF.I`).
#[inline(always)]
fn masked_in(daif: u64) -> bool {
    DAIF::I.is_set(daif)
}

/// Masks IRQ and FIQ and returns the previous `DAIF` for [`irq_restore`].
/// Going from unmasked to masked starts a masked interval ([`crate::latency`]).
#[inline(always)]
pub fn irq_save() -> u64 {
    let daif = irq_mask_save();
    if !masked_in(daif) {
        crate::latency::masked_begin();
    }
    daif
}

/// Restores the `DAIF` that [`irq_save`] returned, ending the interval it
/// began if that unmasks IRQs.
#[inline(always)]
pub fn irq_restore(daif: u64) {
    if !masked_in(daif) {
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
    if !masked_in(daif) {
        // SAFETY: masking interrupts on this CPU is always sound.
        unsafe { core::arch::asm!("msr daifset, #3", options(nomem, nostack)) };
    }
    daif
}

/// Restores what [`irq_mask_save`] returned, if that unmasks IRQs (else
/// nothing changed since).
#[inline(always)]
pub fn irq_unmask_restore(daif: u64) {
    if !masked_in(daif) {
        DAIF.set(daif);
    }
}

/// Whether a `DAIF` value has IRQs unmasked.
#[inline(always)]
pub fn irqs_unmasked_in(daif: u64) -> bool {
    !masked_in(daif)
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
    masked_in(DAIF.get())
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

/// Waits until `flag` reads false, in `WFE` between reads: the read arms
/// the exclusive monitor, so the store that clears the flag (another CPU
/// releasing a lock) wakes this core, and the event stream
/// ([`boot::cntkctl_el1`]) wakes it at least every ~130 µs whatever
/// happens. A waiting core neither hammers the lock's cache line with
/// exclusive stores nor, under QEMU's round-robin TCG (where `WFE` yields
/// the turn), burns its turn while the holder waits for one. The caller
/// then retries its atomic acquire, which may still lose the race.
#[inline]
pub fn wait_while_set(flag: &core::sync::atomic::AtomicBool) {
    // SAFETY: `ldxrb` reads one byte of a live `AtomicBool` (atomic
    // loads are what it allows); `sevl`/`wfe` only touch this core's event
    // register. The first `wfe` consumes the local event `sevl` set, so a
    // flag already clear costs no wait.
    unsafe {
        core::arch::asm!(
            "sevl",
            "2: wfe",
            "ldxrb {v:w}, [{flag}]",
            "cbnz {v:w}, 2b",
            flag = in(reg) flag.as_ptr(),
            v = out(reg) _,
            options(nostack, readonly, preserves_flags),
        );
    }
}

/// Stops this CPU for good with interrupts masked.
pub fn halt() -> ! {
    irq_save();
    loop {
        aarch64_cpu::asm::wfe();
    }
}
