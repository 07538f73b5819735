//! Exception entry: the vector table, the saved frame, and what the kernel
//! does with each kind of exception. For now every exception is unexpected
//! (a full report, then the run ends with failure) unless a kernel test has
//! armed [`catch`] to observe one.

use super::esr::{fault_status_name, Esr, ExceptionClass};
use crate::sync::IrqMutex;
use aarch64_cpu::registers::VBAR_EL1;
use core::mem::size_of;
use tock_registers::interfaces::{Readable, Writeable};

/// Registers saved on exception entry, in the order `vectors.s` stores them.
#[repr(C)]
#[derive(Clone, Debug)]
pub struct TrapFrame {
    /// x0–x30.
    pub x: [u64; 31],
    /// `SP_EL0` of the interrupted context.
    pub sp_el0: u64,
    /// Where `eret` returns.
    pub elr: u64,
    /// The interrupted `PSTATE`.
    pub spsr: u64,
    /// The syndrome.
    pub esr: u64,
    /// The faulting address, for aborts.
    pub far: u64,
}

const FRAME_SIZE: usize = size_of::<TrapFrame>();
const _: () = assert!(
    FRAME_SIZE.is_multiple_of(16),
    "the stack stays 16-byte aligned"
);
const _: () = assert!(FRAME_SIZE == 288, "vectors.s stores at fixed offsets");

core::arch::global_asm!(
    include_str!("vectors.s"),
    FRAME_SIZE = const FRAME_SIZE,
    STACK_SHIFT = const crate::layout::KERNEL_STACK_SHIFT,
    STACK_OVERFLOW = const VectorKind::STACK_OVERFLOW.0,
    EC_SHIFT = const 26,
    EC_SVC64 = const ExceptionClass::SVC64.0,
    EC_DABT_LOWER = const ExceptionClass::DATA_ABORT_LOWER.0,
);

/// Which of the 16 vectors was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VectorKind(pub u64);

impl VectorKind {
    /// Synchronous exception at the current EL on `SP_ELx`.
    pub const CURRENT_SPX_SYNC: Self = Self(4);
    /// IRQ at the current EL on `SP_ELx` (a kernel thread was interrupted).
    pub const CURRENT_SPX_IRQ: Self = Self(5);
    /// Synchronous exception from a lower EL running AArch64 (a task).
    pub const LOWER_A64_SYNC: Self = Self(8);
    /// IRQ from a lower EL running AArch64 (an EL0 task was interrupted).
    pub const LOWER_A64_IRQ: Self = Self(9);
    /// Not a vector: the entry found the kernel stack overflowed.
    pub const STACK_OVERFLOW: Self = Self(16);

    fn type_name(self) -> &'static str {
        ["synchronous", "IRQ", "FIQ", "SError"][(self.0 & 3) as usize]
    }

    fn origin_name(self) -> &'static str {
        [
            "current EL with SP_EL0",
            "current EL with SP_ELx",
            "lower EL (AArch64)",
            "lower EL (AArch32)",
        ][((self.0 >> 2) & 3) as usize]
    }
}

/// Points `VBAR_EL1` at the vector table.
pub fn install_vectors() {
    unsafe extern "C" {
        static exception_vectors: u8;
    }
    let base = &raw const exception_vectors as u64;
    VBAR_EL1.set(base);
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
}

/// An exception that [`catch`] observed.
#[derive(Clone, Copy, Debug)]
pub struct Caught {
    /// Its syndrome.
    pub esr: Esr,
    /// Its fault address register.
    pub far: u64,
    /// The instruction that caused it.
    pub elr: u64,
}

/// `None`: nothing armed; `Some(None)`: armed, nothing caught yet.
static PROBE: IrqMutex<Option<Option<Caught>>> = IrqMutex::new(None);

/// Runs `f`, observing the first synchronous exception it causes at EL1:
/// the exception is reported like any other, then `f` resumes after the
/// offending instruction. For tests of the vectors themselves.
pub fn catch(f: impl FnOnce()) -> Option<Caught> {
    *PROBE.lock() = Some(None);
    f();
    PROBE.lock().take().flatten()
}

/// Loads a word from `addr` with one plain `LDR` (no address writeback), for
/// tests that expect the load to fault: [`catch`] resumes after exactly this
/// instruction, so the compiler must not have folded anything into it.
pub fn probe_load(addr: u64) -> u64 {
    let value: u64;
    // SAFETY: a single load; a fault on it is caught or reported.
    unsafe {
        core::arch::asm!("ldr {v}, [{a}]", a = in(reg) addr, v = out(reg) value, options(nostack, readonly))
    };
    value
}

/// Stores a word to `addr` with one plain `STR` (see [`probe_load`]).
pub fn probe_store(addr: u64, value: u64) {
    // SAFETY: a single store to memory the caller expects to fault, or owns.
    unsafe {
        core::arch::asm!("str {v}, [{a}]", a = in(reg) addr, v = in(reg) value, options(nostack))
    };
}

/// Called by `vectors.s` for `svc` from EL0, with a frame holding the
/// caller-saved registers, SP_EL0, ELR and SPSR (not x19–x29, ESR, FAR).
#[unsafe(no_mangle)]
extern "C" fn handle_syscall(frame: &mut TrapFrame) {
    // A syscall runs with IRQs unmasked, so however long it takes it never
    // delays an interrupt: only its steps under a lock do, and those are
    // bounded (DESIGN.md, "Bounded latency"). An interrupt here may switch
    // threads; this one comes back to finish the call.
    super::irq_unmask_from_exception();
    let record = super::el0::record();
    crate::syscall::dispatch(frame, record);
    // Masked before asking whether the task ended: nothing may switch to
    // another thread and end this task between the answer and the return.
    super::irq_mask_for_return();
    crate::task::leave_if_ended(record);
}

/// Called by `vectors.s` for a data abort from EL0 with its syndrome and
/// fault address (the frame on the stack then holds only x0–x18, x30, ESR
/// and FAR: resolving a fault leaves the rest in their registers). Returns
/// whether the abort is left unresolved; then `vectors.s` completes the
/// frame and calls [`el0_abort_unresolved`].
///
/// A resolved fault returns to the task without asking whether the task has
/// ended ([`crate::task::leave_if_ended`]): a task ends only while its other
/// threads are off the CPU (one CPU runs tasks), and a thread comes back
/// onto it only through paths that ask (the IRQ and syscall returns, and
/// its first entry); resolving a fault neither blocks nor switches threads
/// (interrupts stay masked throughout).
#[unsafe(no_mangle)]
extern "C" fn handle_el0_abort(esr: u64, far: u64) -> bool {
    // Resolving runs masked from entry to return: one measured interval.
    let start = super::counter();
    let unresolved = crate::vm::fault::resolve_data_abort(Esr(esr), far).is_err();
    crate::latency::masked_since(start);
    unresolved
}

/// The task's data abort could not be resolved: it ends, with a report.
/// Called by `vectors.s` with the whole frame.
#[unsafe(no_mangle)]
extern "C" fn el0_abort_unresolved(frame: &mut TrapFrame) -> ! {
    crate::task::fault(frame)
}

/// Called by `vectors.s` with the saved frame and the vector's index.
#[unsafe(no_mangle)]
extern "C" fn handle_exception(frame: &mut TrapFrame, kind: u64) {
    let kind = VectorKind(kind);
    // The interrupted context ran with IRQs unmasked (EL0 always; EL1 if
    // its SPSR says so): a masked interval runs until this returns.
    let from_unmasked = matches!(
        kind,
        VectorKind::LOWER_A64_SYNC | VectorKind::LOWER_A64_IRQ | VectorKind::CURRENT_SPX_IRQ
    ) || (kind == VectorKind::CURRENT_SPX_SYNC && frame.spsr & SPSR_I == 0);
    if from_unmasked {
        crate::latency::masked_begin();
    }
    handle_exception_kind(frame, kind);
    if from_unmasked {
        crate::latency::masked_end();
    }
}

/// `SPSR_EL1.I`: the interrupted context had IRQs masked.
const SPSR_I: u64 = 1 << 7;

fn handle_exception_kind(frame: &mut TrapFrame, kind: VectorKind) {
    // Syscalls first: they are the hot path.
    if kind == VectorKind::LOWER_A64_SYNC {
        let record = super::el0::record();
        let esr = Esr(frame.esr);
        match esr.class() {
            // Data aborts take the lighter way in (`handle_el0_abort`).
            ExceptionClass::INSTRUCTION_ABORT_LOWER => {
                if crate::vm::fault::resolve(esr, frame.far).is_err() {
                    crate::task::fault(frame);
                }
            }
            // An undefined instruction, a misaligned PC or SP, a breakpoint:
            // the task's own doing; it ends alone.
            _ => crate::task::fault(frame),
        }
        crate::task::leave_if_ended(record);
        return;
    }
    if kind == VectorKind::CURRENT_SPX_IRQ {
        super::gic::handle_irq();
        // May switch threads; this frame is resumed when this thread is.
        crate::sched::irq_exit();
        return;
    }
    if kind == VectorKind::LOWER_A64_IRQ {
        super::gic::handle_irq();
        crate::sched::irq_exit();
        crate::task::leave_if_ended(super::el0::record());
        return;
    }
    if kind == VectorKind::STACK_OVERFLOW {
        let sp: u64;
        // SAFETY: reading TPIDR_EL0, where the entry left the overflowed SP.
        unsafe { core::arch::asm!("mrs {}, tpidr_el0", out(reg) sp, options(nomem, nostack)) };
        crate::console::diag(format_args!(
            "kernel stack overflow: SP {:#x} ran into the guard page below its stack",
            sp + FRAME_SIZE as u64
        ));
        report(frame, VectorKind::CURRENT_SPX_SYNC);
        crate::power::fail("kernel stack overflow");
    }
    if kind == VectorKind::CURRENT_SPX_SYNC {
        let esr = Esr(frame.esr);
        if esr.class() == ExceptionClass::DATA_ABORT_SAME
            && !super::mmu_and_caches_on()
            && super::is_lock_check(frame.elr)
        {
            crate::console::diag(format_args!(
                "lock check: a lock at {:#x} was taken with SCTLR_EL1 {:#x}",
                frame.elr,
                aarch64_cpu::registers::SCTLR_EL1.get()
            ));
            crate::sync::lock_before_mmu();
        }
    }
    // Before the MMU is on nothing below may run (it takes locks): the
    // report alone, then the end.
    if kind == VectorKind::CURRENT_SPX_SYNC && super::mmu_and_caches_on() {
        let esr = Esr(frame.esr);
        if esr.class() == ExceptionClass::DATA_ABORT_SAME {
            if crate::vm::fault::resolve_data_abort(esr, frame.far).is_ok() {
                return;
            }
            // A copy to or from task memory that cannot be resolved fails
            // the copy, not the kernel.
            if let Some(fixup) = super::usercopy::fixup(frame.elr) {
                frame.elr = fixup;
                return;
            }
        }
        let mut probe = PROBE.lock();
        if let Some(slot @ None) = probe.as_mut() {
            let esr = Esr(frame.esr);
            report(frame, kind);
            *slot = Some(Caught {
                esr,
                far: frame.far,
                elr: frame.elr,
            });
            if esr.class() == ExceptionClass::INSTRUCTION_ABORT_SAME {
                // A branch into memory that may not run: return to its caller.
                frame.elr = frame.x[30];
            } else if !matches!(esr.class().0, 0x15..=0x17) {
                // SVC, HVC and SMC already return past themselves.
                frame.elr += 4;
            }
            return;
        }
    }
    report(frame, kind);
    crate::power::fail("unexpected exception");
}

/// Prints everything known about an exception: vector, syndrome in words,
/// addresses, registers and a backtrace.
pub fn report(frame: &TrapFrame, kind: VectorKind) {
    use crate::console::diag;
    let esr = Esr(frame.esr);
    let class = esr.class();
    diag(format_args!(
        "exception: {} from {}: {} (EC {:#04x}, ISS {:#x})",
        kind.type_name(),
        kind.origin_name(),
        class.name(),
        class.0,
        esr.iss()
    ));
    if let Some(fsc) = esr.fault_status() {
        let (what, level) = fault_status_name(fsc);
        let access = if class == ExceptionClass::DATA_ABORT_SAME
            || class == ExceptionClass::DATA_ABORT_LOWER
        {
            if esr.is_write() {
                ", on a write"
            } else {
                ", on a read"
            }
        } else {
            ", on an instruction fetch"
        };
        match level {
            Some(l) => diag(format_args!(
                "  fault: {what} at level {l}{access} (FSC {fsc:#04x})"
            )),
            None => diag(format_args!("  fault: {what}{access} (FSC {fsc:#04x})")),
        }
    }
    let mapping = if super::mmu_and_caches_on() {
        crate::vm::fault::describe(frame.far)
    } else {
        None
    };
    if let Some(m) = mapping {
        diag(format_args!(
            "  mapping: {:#x}..{:#x} perms {:#x}, VMO koid {} from offset {:#x}",
            m.base,
            m.base + m.len,
            m.perms,
            m.vmo_koid,
            m.vmo_offset
        ));
    }
    diag(format_args!(
        "  FAR {:#018x}  ELR {:#018x}{}  SPSR {:#010x}  ESR {:#010x}",
        frame.far,
        frame.elr,
        crate::symbols::Name::at(frame.elr),
        frame.spsr,
        frame.esr
    ));
    for row in 0..8 {
        let reg = |i: usize| frame.x.get(i).copied();
        let mut line = crate::console::LineBuf::new();
        for i in row * 4..row * 4 + 4 {
            match reg(i) {
                Some(v) => line.push_fmt(format_args!("  x{i:<2} {v:#018x}")),
                None => line.push_fmt(format_args!("  sp_el0 {:#018x}", frame.sp_el0)),
            }
        }
        diag(format_args!("{}", line.as_str()));
    }
    diag(format_args!("  backtrace:"));
    diag(format_args!(
        "    #0  {:#018x}{} (faulting instruction)",
        frame.elr,
        crate::symbols::Name::at(frame.elr)
    ));
    super::backtrace::walk(
        frame.x[29],
        crate::layout::kernel_stack_around(frame.x[29]),
        |depth, lr| {
            // A return address: named by its call, which may end a function.
            diag(format_args!(
                "    #{:<2} {lr:#018x}{}",
                depth + 1,
                crate::symbols::Name::returning_to(lr)
            ));
        },
    );
}
