//! Threads of a task.

use crate::handle::handle_type;
use crate::sys;
use crate::{AsHandleRef, Handle, Status, Task};
use abi::Syscall;

handle_type!(
    /// A thread handle: signalled `TASK_TERMINATED` when the thread ends.
    Thread
);

/// A thread's entry: two arguments, never returns (it ends with [`Thread::exit`]).
pub type ThreadEntry = extern "C" fn(arg1: u64, arg2: u64) -> !;

impl Thread {
    /// `zx_thread_create`: a thread of `task`, not yet started.
    pub fn create(task: &Task) -> Result<Thread, Status> {
        let mut out = 0;
        // SAFETY: `out` is a valid place for the handle.
        let st = unsafe {
            sys::status(
                Syscall::ThreadCreate,
                [
                    task.raw_handle() as u64,
                    0,
                    &raw mut out as u64,
                    0,
                    0,
                    0,
                    0,
                    0,
                ],
            )
        };
        Status::ok(st).map(|()| Thread(Handle::from_raw(out)))
    }

    /// `zx_task_kill` on a thread (needs `DESTROY`): one never started dies
    /// at once; a running one stops at its next return towards task code
    /// (a blocked wait ends first) and is signalled `THREAD_TERMINATED`.
    pub fn kill(&self) -> Result<(), Status> {
        crate::task::kill_raw(self.raw_handle())
    }

    /// `zx_thread_start`: runs `entry(arg1, arg2)` on the stack ending at `stack_top`.
    pub fn start(
        &self,
        entry: ThreadEntry,
        stack_top: u64,
        arg1: u64,
        arg2: u64,
    ) -> Result<(), Status> {
        // SAFETY: only values are passed; the stack is the caller's to give.
        Status::ok(unsafe {
            sys::status(
                Syscall::ThreadStart,
                [
                    self.raw_handle() as u64,
                    entry as usize as u64,
                    stack_top,
                    arg1,
                    arg2,
                    0,
                    0,
                    0,
                ],
            )
        })
    }

    /// `zx_thread_exit`: ends the calling thread.
    pub fn exit() -> ! {
        // SAFETY: no arguments; the call does not return.
        unsafe { sys::call(Syscall::ThreadExit, [0; 8]) };
        unreachable!("thread_exit returned")
    }
}
