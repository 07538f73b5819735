//! A thread's saved CPU state and the switch between two threads
//! (`switch.s`), plus the per-CPU register that says which CPU this is.
//!
//! FP/SIMD state (q0–q31, FPCR, FPSR) is saved and restored eagerly on every
//! switch, never on exception entry (DESIGN.md): the kernel is soft-float,
//! so only a thread's own code — EL0 NEON later — changes it. That needs
//! `CPACR_EL1.FPEN` to let EL1 and EL0 use FP/SIMD without trapping, which
//! [`init_cpu`] sets.

use aarch64_cpu::registers::{CPACR_EL1, TPIDR_EL1};
use core::mem::offset_of;
use tock_registers::interfaces::{ReadWriteable, Readable, Writeable};

/// Everything a switched-out thread needs to resume: the AAPCS64
/// callee-saved registers, its stack pointer, and its FP/SIMD state.
#[repr(C, align(16))]
#[derive(Clone)]
pub struct Context {
    /// x19–x28, x29 (frame pointer), x30 (where the switch returns to).
    x19_x30: [u64; 12],
    sp: u64,
    fpcr: u64,
    fpsr: u64,
    /// The EL0 thread registers: `TPIDR_EL0` (the thread's own) and
    /// `TPIDRRO_EL0` (its task's handles, for `zx`). Switched here, so the
    /// syscall path never touches them.
    tpidr_el0: u64,
    tpidrro_el0: u64,
    _pad: u64,
    /// q0–q31.
    q: [u128; 32],
}

const X19: usize = offset_of!(Context, x19_x30);
const SP: usize = offset_of!(Context, sp);
const FPCR: usize = offset_of!(Context, fpcr);
const TPIDR: usize = offset_of!(Context, tpidr_el0);
const _: () = assert!(
    offset_of!(Context, tpidrro_el0) == TPIDR + 8,
    "stored as a pair"
);
const Q: usize = offset_of!(Context, q);
const _: () = assert!(offset_of!(Context, fpsr) == FPCR + 8, "stored as a pair");
const _: () = assert!(Q.is_multiple_of(16), "q registers are stored 16-aligned");

core::arch::global_asm!(
    include_str!("switch.s"),
    X19 = const X19,
    SP = const SP,
    FPCR = const FPCR,
    TPIDR = const TPIDR,
    Q = const Q,
);

unsafe extern "C" {
    fn context_switch(from: *mut Context, to: *const Context);
    fn thread_trampoline();
}

/// Index of x20 (the entry) in `x19_x30`; x19 holds the argument.
const ENTRY_SLOT: usize = 1;
/// Index of x30 (where the first switch "returns") in `x19_x30`.
const LR_SLOT: usize = 11;
/// AAPCS64: SP is 16-byte aligned at every public interface.
const STACK_ALIGN: u64 = 16;

impl Context {
    /// A context that has never run; the first switch to it fills it in.
    pub const fn empty() -> Self {
        Self {
            x19_x30: [0; 12],
            sp: 0,
            fpcr: 0,
            fpsr: 0,
            tpidr_el0: 0,
            tpidrro_el0: 0,
            _pad: 0,
            q: [0; 32],
        }
    }

    /// A context whose first switch-in calls `entry(arg)` on the stack
    /// ending at `stack_top`, with FP/SIMD state zero.
    pub fn new(stack_top: u64, entry: extern "C" fn(usize) -> !, arg: usize) -> Self {
        let mut c = Self::empty();
        c.x19_x30[0] = arg as u64;
        c.x19_x30[ENTRY_SLOT] = entry as *const () as u64;
        c.x19_x30[LR_SLOT] = thread_trampoline as *const () as u64;
        c.sp = stack_top & !(STACK_ALIGN - 1);
        c
    }
}

/// Saves the running thread's state in `from` and resumes `to`. Returns
/// when some later switch resumes `from`.
///
/// # Safety
/// IRQs must be masked. `from` must stay valid until it is resumed and
/// `to` must hold a context saved by this function or made by
/// [`Context::new`] whose stack is still alive; neither may be touched by
/// anyone else during the switch.
pub unsafe fn switch(from: *mut Context, to: *const Context) {
    // SAFETY: the caller upholds the contract above.
    unsafe { context_switch(from, to) }
}

/// Per-CPU setup of what threads need: FP/SIMD untrapped at EL1 and EL0,
/// and `TPIDR_EL1` holding this CPU's index.
pub fn init_cpu(index: usize) {
    CPACR_EL1.modify(CPACR_EL1::FPEN::TrapNothing);
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
    TPIDR_EL1.set(index as u64);
}

/// CPUs the kernel has room for: the size of every per-CPU table, the
/// scheduler's included; CPUs past it stay off.
pub const MAX_CPUS: usize = 4;

/// The index of the CPU this runs on (from `TPIDR_EL1`).
#[inline]
pub fn cpu_index() -> usize {
    TPIDR_EL1.get() as usize
}
