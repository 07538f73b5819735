//! Running threads at EL0: the first entry, and the per-thread state kept
//! at the top of the thread's kernel stack. A thread at EL0 has its kernel
//! stack empty but for that record, so every exception from EL0 saves its
//! frame right below it and finds it there.

use super::exception::TrapFrame;
use crate::layout;
use aarch64_cpu::registers::{SPSR_EL1, TPIDRRO_EL0, TPIDR_EL0};
use core::mem::size_of;
use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::registers::InMemoryRegister;

/// What the kernel keeps for a thread that runs task code.
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug)]
pub struct UserRecord {
    /// The task's handle table.
    pub table: object::TableId,
    /// The task (`crate::task::TaskId` raw).
    pub task: u64,
    /// The thread object (`crate::task::ThreadId` raw).
    pub thread: u64,
    /// The task's sub-VMAR: base and length (user pointers must lie there).
    pub vmar: (u64, u64),
    /// `TPIDRRO_EL0`: the task's own handles, read by `zx` (set once, at
    /// the first entry; thread switches keep it, see `context.rs`).
    pub tpidrro: u64,
}

/// Bytes at the top of a kernel stack that hold the [`UserRecord`].
pub const USER_RECORD_SIZE: u64 = size_of::<UserRecord>() as u64;
const _: () = assert!(USER_RECORD_SIZE.is_multiple_of(16));

/// Bytes at the top of every thread's kernel stack that the thread's own
/// calls never use: [`enter`] builds the record and the first exception
/// frame there while it runs below them.
pub const ENTRY_RESERVE: u64 = USER_RECORD_SIZE + size_of::<TrapFrame>() as u64;

fn record_ptr() -> *mut UserRecord {
    let top = layout::kernel_stack_around(super::current_sp()).end;
    (top - USER_RECORD_SIZE) as *mut UserRecord
}

/// The record of the current thread, which must run task code.
pub fn record() -> &'static UserRecord {
    // SAFETY: only threads that entered EL0 through [`enter`] take
    // exceptions from EL0 or make syscalls, and `enter` wrote the record,
    // which lives at the top of this thread's stack for as long as the
    // thread does and is never written again.
    unsafe { &*record_ptr() }
}

unsafe extern "C" {
    /// The exception exit in vectors.s: restores the frame at `sp`, `eret`s.
    fn exception_return() -> !;
}

/// Starts the current kernel thread in task code: `entry(args…)` at EL0
/// with `sp` as its stack, interrupts enabled. Never returns; the thread
/// comes back into the kernel only through exceptions.
pub fn enter(entry: u64, sp: u64, args: [u64; 6], record: UserRecord) -> ! {
    // The way to EL0 is taken with IRQs masked, as every return from an
    // exception is: an IRQ between `exception_return`'s writes of ELR/SPSR
    // and its `eret` would overwrite both and send the `eret` back into the
    // kernel with the frame already popped (the fuzzer found this), and a
    // switch after the EL0 thread registers are set would hand this thread
    // another task's. The `eret` unmasks them (SPSR says so).
    super::irq_save();
    // A task may end between a thread's start and its first run (another of
    // its threads exits it): such a thread leaves without reaching EL0. This
    // is asked first, before the top of the stack (where this function's
    // own frame may lie) becomes the record and the frame. With IRQs masked
    // on the one CPU that runs tasks, nothing can end the task between here
    // and the `eret`; every later way back to EL0 after a switch asks again.
    crate::task::leave_if_ended(&record);
    let top = layout::kernel_stack_around(super::current_sp()).end;
    let rec = (top - USER_RECORD_SIZE) as *mut UserRecord;
    let frame = (top - USER_RECORD_SIZE - size_of::<TrapFrame>() as u64) as *mut TrapFrame;
    let spsr: InMemoryRegister<u64, SPSR_EL1::Register> = InMemoryRegister::new(0);
    spsr.write(SPSR_EL1::M::EL0t);
    let mut x = [0u64; 31];
    x[..6].copy_from_slice(&args);
    // SAFETY: both lie in the top `ENTRY_RESERVE` bytes of this thread's
    // own kernel stack, which its calls never use (the scheduler starts
    // threads below them).
    unsafe {
        rec.write(record);
        frame.write(TrapFrame {
            x,
            sp_el0: sp,
            elr: entry,
            spsr: spsr.get(),
            esr: 0,
            far: 0,
        });
    }
    TPIDRRO_EL0.set(record.tpidrro);
    TPIDR_EL0.set(0);
    // SAFETY: SP moves to the frame just built; `exception_return` restores
    // it and `eret`s to EL0. Nothing on the abandoned stack is used again.
    unsafe {
        core::arch::asm!(
            "mov sp, {frame}",
            "b {ret}",
            frame = in(reg) frame,
            ret = sym exception_return,
            options(noreturn),
        )
    }
}
