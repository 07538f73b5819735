//! The kernel's answers to traps: its implementation of the arch code's
//! [`Hooks`], bound to the vector table here. The arch code calls upward
//! only through these; each one is a call into the module that owns the
//! matter (the syscall table, task memory, tasks, the scheduler).

use crate::arch::el0::UserRecord;
use crate::arch::esr::Esr;
use crate::arch::exception::{bind_vectors, Hooks, Resolution, TrapFrame};

/// The kernel, as the vectors see it.
pub struct Kernel;

bind_vectors!(Kernel);

impl Hooks for Kernel {
    #[inline(always)]
    fn syscall(frame: &mut TrapFrame, record: &UserRecord) {
        crate::syscall::dispatch(frame, record);
    }

    #[inline(always)]
    fn resolve_abort(esr: Esr, far: u64) -> Resolution {
        match crate::vm::fault::resolve(esr, far) {
            Ok(()) => Resolution::Resolved,
            Err(_) => Resolution::NotResolved,
        }
    }

    fn task_fault(frame: &TrapFrame) -> ! {
        crate::task::fault(frame)
    }

    #[inline(always)]
    fn irq_exit() {
        crate::sched::irq_exit();
    }

    #[inline(always)]
    fn leave_if_ended(record: &UserRecord) {
        crate::task::leave_if_ended(record);
    }

    fn describe(addr: u64) -> Option<object::MappingInfo> {
        crate::vm::fault::describe(addr)
    }
}
