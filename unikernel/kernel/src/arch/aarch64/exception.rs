//! Exception entry: the vector table (`vectors.s`), the saved frame, and
//! what each kind of exception leads to. The CPU's own business stays here
//! (IRQs through the GIC, the kernel stack's guard, the lock check, copies
//! to and from task memory, [`catch`] for kernel tests, reports); the rest
//! goes upward through the few calls of [`Hooks`], which the kernel
//! implements and binds to the table with [`bind_vectors!`]: a syscall, an
//! abort on task memory, a task's fatal fault, an IRQ's exit, a thread's
//! way back to EL0. An exception none of them takes (an undefined
//! instruction in the kernel, an SError, an unresolved kernel fault) is
//! reported in full and ends the run with failure.

use super::el0::UserRecord;
use super::esr::{fault_status_name, Class, Esr};
use crate::sync::IrqMutex;
use aarch64_cpu::registers::{ESR_EL1, FAR_EL1, SPSR_EL1, VBAR_EL1};
use core::mem::size_of;
use tock_registers::interfaces::{Readable, Writeable};

/// Registers saved on exception entry, at the offsets `vectors.s` is
/// given (`offset_of!` below).
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

/// Bytes of a [`TrapFrame`] on the stack.
pub const FRAME_SIZE: usize = size_of::<TrapFrame>();
const _: () = assert!(
    FRAME_SIZE.is_multiple_of(16),
    "the stack stays 16-byte aligned"
);

/// The frame's offsets, as `vectors.s` uses them.
pub mod offsets {
    use super::TrapFrame;
    use core::mem::offset_of;
    /// x0 (x1–x29 follow, 8 bytes apart).
    pub const X: usize = offset_of!(TrapFrame, x);
    /// x30, stored as a pair with `SP_EL0`.
    pub const X30: usize = X + 30 * 8;
    /// `ELR`, stored as a pair with `SPSR`.
    pub const ELR: usize = offset_of!(TrapFrame, elr);
    /// `ESR`, stored as a pair with `FAR`.
    pub const ESR: usize = offset_of!(TrapFrame, esr);
    const _: () = assert!(offset_of!(TrapFrame, sp_el0) == X30 + 8, "stored as a pair");
    const _: () = assert!(offset_of!(TrapFrame, spsr) == ELR + 8, "stored as a pair");
    const _: () = assert!(offset_of!(TrapFrame, far) == ESR + 8, "stored as a pair");
}

/// What the kernel above does with the traps that are its business rather
/// than the CPU's: the only calls the arch code makes upward. The kernel
/// implements them once and binds them with [`bind_vectors!`], so the
/// vectors reach them as direct calls.
pub trait Hooks {
    /// An `svc` from EL0, with IRQs unmasked: performs the call `frame`
    /// names and leaves its results in `frame`.
    fn syscall(frame: &mut TrapFrame, record: &UserRecord);
    /// An abort on task memory, from EL0 or from the kernel's copies to and
    /// from it: maps what the access needs, or says it cannot. Runs with
    /// IRQs masked and neither blocks nor switches threads.
    fn resolve_abort(esr: Esr, far: u64) -> Resolution;
    /// A fault from EL0 that nothing resolves: the task ends, with a report.
    fn task_fault(frame: &TrapFrame) -> !;
    /// After an IRQ's handlers ran: may switch threads (this frame resumes
    /// when this thread does).
    fn irq_exit();
    /// On a way back to EL0 that may follow a thread switch: a thread whose
    /// task has ended (or that was killed) leaves here instead.
    fn leave_if_ended(record: &UserRecord);
    /// The task mapping around `addr`, for a report.
    fn describe(addr: u64) -> Option<object::MappingInfo>;
}

/// Whether an abort was resolved (then the access is retried).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
#[must_use]
pub enum Resolution {
    /// A page is mapped now: the faulting instruction runs again.
    Resolved = 0,
    /// Nothing could be mapped: the fault stands.
    NotResolved = 1,
}
const _: () = assert!(
    Resolution::NotResolved as u8 == 1,
    "vectors.s tests bit 0 of the handler's result"
);

/// Assembles the vector table with its Rust handlers instantiated for the
/// kernel's [`Hooks`] implementation `$hooks`. Invoked once, by the kernel.
/// (`vectors.s` is named from the crate's root: a relative `include_str!`
/// in a macro resolves from the file that invokes it.)
macro_rules! bind_vectors {
    ($hooks:ty) => {
        core::arch::global_asm!(
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/src/arch/aarch64/vectors.s")),
            FRAME_SIZE = const $crate::arch::exception::FRAME_SIZE,
            X = const $crate::arch::exception::offsets::X,
            X30 = const $crate::arch::exception::offsets::X30,
            ELR = const $crate::arch::exception::offsets::ELR,
            ESR = const $crate::arch::exception::offsets::ESR,
            STACK_SHIFT = const $crate::layout::KERNEL_STACK_SHIFT,
            STACK_OVERFLOW = const $crate::arch::exception::Vector::StackOverflow as u64,
            CPU_MASK = const $crate::arch::context::MAX_CPUS - 1,
            EMERGENCY_SHIFT = const $crate::layout::EMERGENCY_SHARE_SHIFT,
            EC_SHIFT = const $crate::arch::exception::EC_SHIFT,
            EC_BITS = const $crate::arch::exception::EC_BITS,
            EC_SVC64 = const $crate::arch::esr::Class::SVC64 as u64,
            EC_DABT_LOWER = const $crate::arch::esr::Class::DataAbortLowerEL as u64,
            EC_IABT_LOWER = const $crate::arch::esr::Class::InstrAbortLowerEL as u64,
            HANDLE_SYSCALL = sym $crate::arch::exception::handle_syscall::<$hooks>,
            HANDLE_EL0_ABORT = sym $crate::arch::exception::handle_el0_abort::<$hooks>,
            EL0_ABORT_UNRESOLVED = sym $crate::arch::exception::el0_abort_unresolved::<$hooks>,
            HANDLE_EXCEPTION = sym $crate::arch::exception::handle_exception::<$hooks>,
        );
    };
}
pub(crate) use bind_vectors;

/// `ESR_EL1.EC`'s place, for the EL0 vector's own decoding.
pub const EC_SHIFT: usize = ESR_EL1::EC.shift;
/// `ESR_EL1.EC`'s width.
pub const EC_BITS: u64 = ESR_EL1::EC.mask.count_ones() as u64;

/// Which of the 16 vectors was taken (in table order), or the stack
/// overflow the SP_ELx vectors' entry found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Vector {
    /// Current EL with `SP_EL0`: synchronous.
    CurrentSp0Sync,
    /// Current EL with `SP_EL0`: IRQ.
    CurrentSp0Irq,
    /// Current EL with `SP_EL0`: FIQ.
    CurrentSp0Fiq,
    /// Current EL with `SP_EL0`: SError.
    CurrentSp0SError,
    /// Current EL on `SP_ELx` (the kernel): synchronous.
    CurrentSpxSync,
    /// Current EL on `SP_ELx`: IRQ (a kernel thread was interrupted).
    CurrentSpxIrq,
    /// Current EL on `SP_ELx`: FIQ.
    CurrentSpxFiq,
    /// Current EL on `SP_ELx`: SError.
    CurrentSpxSError,
    /// Lower EL running AArch64 (a task): synchronous.
    LowerA64Sync,
    /// Lower EL running AArch64: IRQ (an EL0 task was interrupted).
    LowerA64Irq,
    /// Lower EL running AArch64: FIQ.
    LowerA64Fiq,
    /// Lower EL running AArch64: SError.
    LowerA64SError,
    /// Lower EL running AArch32: synchronous.
    LowerA32Sync,
    /// Lower EL running AArch32: IRQ.
    LowerA32Irq,
    /// Lower EL running AArch32: FIQ.
    LowerA32Fiq,
    /// Lower EL running AArch32: SError.
    LowerA32SError,
    /// Not a vector: the entry found the kernel stack overflowed.
    StackOverflow,
}

impl Vector {
    /// Every value, by index (what `vectors.s` passes).
    const ALL: [Self; 17] = [
        Self::CurrentSp0Sync,
        Self::CurrentSp0Irq,
        Self::CurrentSp0Fiq,
        Self::CurrentSp0SError,
        Self::CurrentSpxSync,
        Self::CurrentSpxIrq,
        Self::CurrentSpxFiq,
        Self::CurrentSpxSError,
        Self::LowerA64Sync,
        Self::LowerA64Irq,
        Self::LowerA64Fiq,
        Self::LowerA64SError,
        Self::LowerA32Sync,
        Self::LowerA32Irq,
        Self::LowerA32Fiq,
        Self::LowerA32SError,
        Self::StackOverflow,
    ];

    /// The vector `vectors.s` passed by index.
    fn from_index(index: u64) -> Self {
        Self::ALL[index as usize]
    }

    fn type_name(self) -> &'static str {
        ["synchronous", "IRQ", "FIQ", "SError"][(self as usize) & 3]
    }

    fn origin_name(self) -> &'static str {
        [
            "current EL with SP_EL0",
            "current EL with SP_ELx",
            "lower EL (AArch64)",
            "lower EL (AArch32)",
        ][((self as usize) >> 2) & 3]
    }
}
const _: () = {
    let mut i = 0;
    while i < Vector::ALL.len() {
        assert!(Vector::ALL[i] as usize == i, "ALL is in index order");
        i += 1;
    }
};

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
static PROBE: IrqMutex<Option<Option<Caught>>> =
    crate::sync::ranked(crate::sync::Rank::Probe, None);

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

/// `vectors.s`'s way for `svc` from EL0, with a frame holding the
/// caller-saved registers, SP_EL0, ELR and SPSR (not x19–x29, ESR, FAR).
pub extern "C" fn handle_syscall<H: Hooks>(frame: &mut TrapFrame) {
    // A syscall runs with IRQs unmasked, so however long it takes it never
    // delays an interrupt: only its steps under a lock do, and those are
    // bounded (DESIGN.md, "Bounded latency"). An interrupt here may switch
    // threads; this one comes back to finish the call.
    super::irq_unmask_from_exception();
    let record = super::el0::record_above(frame);
    H::syscall(frame, record);
    // Masked before asking whether the task ended: nothing may switch to
    // another thread and end this task between the answer and the return.
    super::irq_mask_for_return();
    H::leave_if_ended(record);
}

/// `vectors.s`'s way for an abort from EL0, data or instruction, with its
/// syndrome and fault address (the frame on the stack then holds only
/// x0–x18, x30, ESR and FAR: resolving a fault leaves the rest in their
/// registers). On [`Resolution::NotResolved`] `vectors.s` completes the
/// frame and calls [`el0_abort_unresolved`].
///
/// A resolved fault returns to the task without asking whether the task has
/// ended ([`Hooks::leave_if_ended`]): resolving a fault neither blocks nor
/// switches threads (interrupts stay masked throughout), and a task that
/// ends meanwhile on another CPU has sent this CPU the kick SGI, which is
/// taken as soon as the return to EL0 unmasks interrupts; that IRQ's
/// return asks. The task's table outlives the fault: it is freed only once
/// no CPU has it loaded (`vm::domain::destroy`).
pub extern "C" fn handle_el0_abort<H: Hooks>(esr: u64, far: u64) -> Resolution {
    // Resolving runs masked from entry to return: one measured interval.
    let start = super::counter();
    let resolution = H::resolve_abort(Esr(esr), far);
    crate::latency::masked_since(start);
    resolution
}

/// The syndrome and address of the abort this CPU is resolving, read
/// again from `ESR_EL1` and `FAR_EL1`. They hold until the next exception,
/// and the fault path runs with IRQs masked and takes no other fault, so
/// a rare way of it need not keep them from its entry.
pub fn current_abort() -> (Esr, u64) {
    (Esr(ESR_EL1.get()), FAR_EL1.get())
}

/// The task's abort could not be resolved: it ends, with a report. Called
/// by `vectors.s` with the whole frame.
pub extern "C" fn el0_abort_unresolved<H: Hooks>(frame: &mut TrapFrame) -> ! {
    H::task_fault(frame)
}

/// `vectors.s`'s common way, with the whole frame and the vector's index.
pub extern "C" fn handle_exception<H: Hooks>(frame: &mut TrapFrame, vector: u64) {
    let vector = Vector::from_index(vector);
    // The interrupted context ran with IRQs unmasked (EL0 always; EL1 if
    // its SPSR says so): a masked interval runs until this returns.
    let from_unmasked = matches!(
        vector,
        Vector::LowerA64Sync | Vector::LowerA64Irq | Vector::CurrentSpxIrq
    ) || (vector == Vector::CurrentSpxSync && !SPSR_EL1::I.is_set(frame.spsr));
    if from_unmasked {
        crate::latency::masked_begin();
    }
    match vector {
        Vector::LowerA64Sync => el0_sync::<H>(frame),
        Vector::CurrentSpxIrq => el1_irq::<H>(),
        Vector::LowerA64Irq => el0_irq::<H>(),
        Vector::CurrentSpxSync => el1_sync::<H>(frame, vector),
        Vector::StackOverflow => stack_overflow::<H>(frame),
        _ => unexpected::<H>(frame, vector),
    }
    if from_unmasked {
        crate::latency::masked_end();
    }
}

/// A synchronous exception from EL0 that is neither `svc` nor an abort
/// (those take their own ways in): an undefined instruction, a misaligned
/// PC or SP, a breakpoint. The task's own doing; it ends alone.
fn el0_sync<H: Hooks>(frame: &mut TrapFrame) -> ! {
    H::task_fault(frame)
}

/// An IRQ that interrupted a kernel thread.
fn el1_irq<H: Hooks>() {
    super::gic::handle_irq();
    // May switch threads; this frame is resumed when this thread is.
    H::irq_exit();
}

/// An IRQ that interrupted an EL0 task.
fn el0_irq<H: Hooks>() {
    super::gic::handle_irq();
    H::irq_exit();
    H::leave_if_ended(super::el0::record());
}

/// A synchronous exception in the kernel: the lock check before the MMU is
/// on, an abort on task memory, a failed copy to or from it, an exception
/// a kernel test [`catch`]es; anything else is fatal.
fn el1_sync<H: Hooks>(frame: &mut TrapFrame, vector: Vector) {
    let esr = Esr(frame.esr);
    let data_abort = esr.is(Class::DataAbortCurrentEL);
    if !super::mmu_and_caches_on() {
        // Before the MMU is on nothing below may run (it takes locks): the
        // report alone, then the end.
        if data_abort && super::is_lock_check(frame.elr) {
            crate::console::diag(format_args!(
                "lock check: a lock at {:#x} was taken with SCTLR_EL1 {:#x}",
                frame.elr,
                aarch64_cpu::registers::SCTLR_EL1.get()
            ));
            crate::sync::lock_before_mmu();
        }
        unexpected::<H>(frame, vector);
    }
    if data_abort {
        if H::resolve_abort(esr, frame.far) == Resolution::Resolved {
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
        report_here::<H>(frame, vector);
        *slot = Some(Caught {
            esr,
            far: frame.far,
            elr: frame.elr,
        });
        match esr.class() {
            // A branch into memory that may not run: return to its caller.
            Some(Class::InstrAbortCurrentEL) => frame.elr = frame.x[30],
            // SVC, HVC and SMC already return past themselves.
            Some(Class::SVC64 | Class::HVC64 | Class::SMC64) => {}
            _ => frame.elr += 4,
        }
        return;
    }
    drop(probe);
    unexpected::<H>(frame, vector);
}

/// The kernel stack ran into its guard: report from the emergency stack.
fn stack_overflow<H: Hooks>(frame: &TrapFrame) -> ! {
    let sp: u64;
    // SAFETY: reading TPIDR_EL0, where the entry left the overflowed SP.
    unsafe { core::arch::asm!("mrs {}, tpidr_el0", out(reg) sp, options(nomem, nostack)) };
    crate::console::diag(format_args!(
        "kernel stack overflow: SP {:#x} ran into the guard page below its stack",
        sp + FRAME_SIZE as u64
    ));
    report_here::<H>(frame, Vector::CurrentSpxSync);
    crate::power::fail("kernel stack overflow");
}

/// An exception the kernel has no answer to: the report, then the end.
fn unexpected<H: Hooks>(frame: &TrapFrame, vector: Vector) -> ! {
    report_here::<H>(frame, vector);
    crate::power::fail("unexpected exception");
}

/// [`report`] with the task mapping around FAR, where the MMU is on (the
/// lookup takes locks).
fn report_here<H: Hooks>(frame: &TrapFrame, vector: Vector) {
    let mapping = if super::mmu_and_caches_on() {
        H::describe(frame.far)
    } else {
        None
    };
    report(frame, vector, mapping);
}

/// Prints everything known about an exception: vector, syndrome in words,
/// addresses, the task mapping around FAR if the caller found one
/// (`mapping`), registers and a backtrace.
pub fn report(frame: &TrapFrame, vector: Vector, mapping: Option<object::MappingInfo>) {
    use crate::console::diag;
    let esr = Esr(frame.esr);
    diag(format_args!(
        "exception: {} from {}: {} (EC {:#04x}, ISS {:#x})",
        vector.type_name(),
        vector.origin_name(),
        esr.class_name(),
        esr.class_bits(),
        esr.iss()
    ));
    if let Some(fsc) = esr.fault_status() {
        let (what, level) = fault_status_name(fsc);
        let access = if !esr.is_instruction_abort() {
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
