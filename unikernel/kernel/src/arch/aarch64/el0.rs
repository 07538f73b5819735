//! Running threads at EL0: the first entry, and the per-thread state kept
//! at the top of the thread's kernel stack. A thread at EL0 has its kernel
//! stack empty but for that record, so every exception from EL0 saves its
//! frame right below it and finds it there.

use super::exception::{Hooks, TrapFrame};
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
/// calls never use: [`prepare`] builds the record and the first exception
/// frame there before the thread runs.
pub const ENTRY_RESERVE: u64 = USER_RECORD_SIZE + size_of::<TrapFrame>() as u64;

fn record_ptr() -> *mut UserRecord {
    let top = layout::kernel_stack_around(super::current_sp()).end;
    (top - USER_RECORD_SIZE) as *mut UserRecord
}

/// The record of the current thread, which must run task code.
pub fn record() -> &'static UserRecord {
    // SAFETY: only threads that [`prepare`] set up take exceptions from
    // EL0, make syscalls or call [`enter_prepared`], and `prepare` wrote the record,
    // which lives at the top of this thread's stack for as long as the
    // thread does and is never written again.
    unsafe { &*record_ptr() }
}

/// The record of the thread whose exception from EL0 saved `frame`: a
/// thread at EL0 has its kernel stack empty but for the record, so the
/// frame its exception saved lies right below the record (one add, where
/// [`record`] rounds the stack pointer up to the stack's end).
#[inline(always)]
pub fn record_above(frame: &TrapFrame) -> &'static UserRecord {
    let rec = (frame as *const TrapFrame).wrapping_add(1) as *const UserRecord;
    debug_assert_eq!(rec, record_ptr() as *const UserRecord);
    // SAFETY: `frame` is the frame an exception from EL0 saved (the
    // caller's promise, as `vectors.s`'s only frames from EL0 are): it ends
    // where the record [`prepare`] wrote begins (`ENTRY_RESERVE`:
    // `enter_prepared` starts the thread's EL0 life with SP_EL1 there, and
    // every return to EL0 pops back to it). The record lives as long as
    // the thread and is never written again.
    unsafe { &*rec }
}

unsafe extern "C" {
    /// The exception exit in vectors.s: restores the frame at `sp`, `eret`s.
    fn exception_return() -> !;
}

/// The syscall number (`x16`) in the frame the last exception from EL0
/// saved at the top of the kernel stack that ends at `top`: for a task's
/// thread blocked in the kernel, the call it is blocked in (it blocks only
/// in syscalls, whose frame is always there).
///
/// # Safety
/// `top` must be the end of a live kernel stack of a task's thread that
/// is not running (its frame cannot change meanwhile).
pub unsafe fn blocked_syscall_number(top: u64) -> u64 {
    let frame = (top - ENTRY_RESERVE) as *const TrapFrame;
    // SAFETY: the frame lies in the top `ENTRY_RESERVE` bytes of the live
    // stack (the caller's promise); a stopped thread does not write it.
    unsafe { (*frame).x[16] }
}

/// Writes what a new thread needs to enter task code at the top of its
/// kernel stack (which ends at `top`): the record and the first exception
/// frame, `entry(args…)` at EL0 with `sp` as its stack and interrupts
/// enabled. [`enter_prepared`], run by that thread, takes it from there.
///
/// # Safety
/// `top` must be the end of a mapped kernel stack that no thread runs on
/// yet, whose top [`ENTRY_RESERVE`] bytes nothing else uses.
pub unsafe fn prepare(top: u64, entry: u64, sp: u64, args: [u64; 6], record: UserRecord) {
    let rec = (top - USER_RECORD_SIZE) as *mut UserRecord;
    let frame = (top - USER_RECORD_SIZE - size_of::<TrapFrame>() as u64) as *mut TrapFrame;
    let spsr: InMemoryRegister<u64, SPSR_EL1::Register> = InMemoryRegister::new(0);
    spsr.write(SPSR_EL1::M::EL0t);
    let mut x = [0u64; 31];
    x[..6].copy_from_slice(&args);
    // SAFETY: both lie in the top `ENTRY_RESERVE` bytes of a stack nobody
    // runs on yet (the caller's promise); the scheduler starts its thread
    // below them.
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
}

/// Starts the current kernel thread in the task code [`prepare`] set up at
/// the top of its stack. Never returns; the thread comes back into the
/// kernel only through exceptions. It holds no heap: its whole state is on
/// its stack, which the scheduler frees when it exits. `H` is the kernel's
/// [`Hooks`], asked whether the task ended before the thread got here.
pub fn enter_prepared<H: Hooks>() -> ! {
    // The way to EL0 is taken with IRQs masked, as every return from an
    // exception is: an IRQ between `exception_return`'s writes of ELR/SPSR
    // and its `eret` would overwrite both and send the `eret` back into the
    // kernel with the frame already popped (the fuzzer found this), and a
    // switch after the EL0 thread registers are set would hand this thread
    // another task's. The `eret` unmasks them (SPSR says so).
    super::irq_save();
    // A task may end between a thread's start and its first run (another of
    // its threads exits it): such a thread leaves without reaching EL0.
    // With IRQs masked on the one CPU that runs tasks, nothing can end the
    // task between here and the `eret`; every later way back to EL0 after a
    // switch asks again.
    let rec = record();
    H::leave_if_ended(rec);
    let top = layout::kernel_stack_around(super::current_sp()).end;
    let frame = top - USER_RECORD_SIZE - size_of::<TrapFrame>() as u64;
    TPIDRRO_EL0.set(rec.tpidrro);
    TPIDR_EL0.set(0);
    // SAFETY: SP moves to the frame [`prepare`] built; `exception_return`
    // restores it and `eret`s to EL0. Nothing on the abandoned stack is
    // used again.
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
