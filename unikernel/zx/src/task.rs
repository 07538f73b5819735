//! Tasks (ours: a handle table plus a sub-VMAR in the one address space),
//! the console, and leaving.

use crate::handle::handle_type;
use crate::sys;
use crate::{AsHandleRef, Handle, Status};
use abi::Syscall;

handle_type!(
    /// A task handle: signalled `TASK_TERMINATED` when the task ends.
    Task
);

/// How a task ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskEnd {
    /// Still running.
    Running,
    /// It exited with this code.
    Exited(i64),
    /// `zx_task_kill` ended it.
    Killed,
    /// A fault nobody could resolve ended it.
    Faulted {
        /// The syndrome (ESR_EL1).
        esr: u64,
        /// The faulting address.
        far: u64,
        /// The faulting instruction.
        elr: u64,
    },
}

impl TaskEnd {
    /// The exception class of a fault (ESR bits 31:26), if it faulted.
    pub fn fault_class(&self) -> Option<u8> {
        match self {
            TaskEnd::Faulted { esr, .. } => Some(((esr >> 26) & 0x3f) as u8),
            _ => None,
        }
    }
}

/// The entry of a task or thread: `arg` and up to four transferred handles.
pub type Entry = extern "C" fn(
    arg: u64,
    h0: abi::Handle,
    h1: abi::Handle,
    h2: abi::Handle,
    h3: abi::Handle,
) -> !;

impl Task {
    /// Starts a task at `entry(arg, handles…)`, moving `handles` (at most
    /// four, each with TRANSFER) into its new handle table.
    pub fn create(entry: Entry, arg: u64, handles: &mut [Handle]) -> Result<Task, Status> {
        let raw: [abi::Handle; 4] =
            core::array::from_fn(|i| handles.get(i).map_or(0, |h| h.raw_handle()));
        let mut out = 0;
        // SAFETY: `raw` holds `handles.len()` values; `out` is a valid place.
        let st = unsafe {
            sys::status(
                Syscall::TaskCreate,
                [
                    entry as usize as u64,
                    arg,
                    raw.as_ptr() as u64,
                    handles.len() as u64,
                    &raw mut out as u64,
                    0,
                    0,
                    0,
                ],
            )
        };
        Status::ok(st)?;
        // The handles now live in the new task's table.
        for h in handles.iter_mut() {
            core::mem::forget(core::mem::replace(h, Handle::invalid()));
        }
        Ok(Task(Handle::from_raw(out)))
    }

    /// `zx_task_kill`: ends the task (needs `DESTROY`); its threads stop,
    /// and it is signalled `TASK_TERMINATED` with [`TaskEnd::Killed`].
    /// Killing an ended task is `Ok`. Killing the calling task does not return.
    pub fn kill(&self) -> Result<(), Status> {
        crate::task::kill_raw(self.raw_handle())
    }

    /// How the task ended (`ZX_INFO_TASK_END`).
    pub fn end(&self) -> Result<TaskEnd, Status> {
        let info: abi::ZxInfoTaskEnd = crate::handle::info_record(self)?;
        Ok(match info.state {
            abi::ZX_TASK_EXITED => TaskEnd::Exited(info.code),
            abi::ZX_TASK_KILLED => TaskEnd::Killed,
            abi::ZX_TASK_FAULTED => TaskEnd::Faulted {
                esr: info.esr,
                far: info.far,
                elr: info.elr,
            },
            _ => TaskEnd::Running,
        })
    }

    /// Waits for the task to end and says how.
    pub fn join(&self) -> Result<TaskEnd, Status> {
        self.wait_handle(crate::Signals::TASK_TERMINATED, crate::Time::INFINITE)?;
        self.end()
    }
}

/// `zx_task_kill` on any handle value.
pub(crate) fn kill_raw(handle: abi::Handle) -> Result<(), Status> {
    // SAFETY: only a value is passed.
    Status::ok(unsafe { sys::status(Syscall::TaskKill, [u64::from(handle), 0, 0, 0, 0, 0, 0, 0]) })
}

/// Ends the calling task with `code`.
pub fn exit(code: i64) -> ! {
    // SAFETY: only a value is passed; the call does not return.
    unsafe { sys::call(Syscall::TaskExit, [code as u64, 0, 0, 0, 0, 0, 0, 0]) };
    unreachable!("task_exit returned")
}

/// Writes `line` to the console as one whole line.
pub fn console_write(line: &str) -> Result<(), Status> {
    // SAFETY: `line` is readable for its length.
    Status::ok(unsafe {
        sys::status(
            Syscall::ConsoleWrite,
            [line.as_ptr() as u64, line.len() as u64, 0, 0, 0, 0, 0, 0],
        )
    })
}

/// The null syscall (for measuring the trap itself).
pub fn null_syscall() -> Status {
    // SAFETY: no arguments.
    Status(unsafe { sys::status(Syscall::Null, [0; 8]) })
}

/// `zx_system_get_num_cpus`: how many CPUs the system runs on.
pub fn system_get_num_cpus() -> u32 {
    // SAFETY: no arguments.
    unsafe { sys::call(Syscall::SystemGetNumCpus, [0; 8]) as u32 }
}

/// `TPIDRRO_EL0`: the kernel keeps the calling task's own handles there for
/// each of its threads: its sub-VMAR (low half) and itself (high half).
fn self_handles() -> u64 {
    let v: u64;
    // SAFETY: reading TPIDRRO_EL0 at EL0 has no effect.
    unsafe { core::arch::asm!("mrs {}, tpidrro_el0", out(reg) v, options(nomem, nostack)) };
    v
}

/// The calling task's handle to its sub-VMAR.
pub(crate) fn self_vmar_raw() -> abi::Handle {
    self_handles() as abi::Handle
}

impl Task {
    /// The calling task's handle to itself. Borrowed: it belongs to the task.
    pub fn self_handle() -> core::mem::ManuallyDrop<Task> {
        core::mem::ManuallyDrop::new(Task(Handle::from_raw(
            (self_handles() >> 32) as abi::Handle,
        )))
    }
}

/// The kernel's fault, copy and memory counters (`ZX_INFO_KERNEL_COUNTERS`), read
/// through any valid handle.
pub fn kernel_counters(any: &impl AsHandleRef) -> Result<abi::ZxInfoKernelCounters, Status> {
    crate::handle::info_record(any)
}
