//! The task side of the unikernel's syscalls, shaped like Fuchsia's
//! `fuchsia-zircon`: typed handles that close on drop, `Vmo`, `Vmar`,
//! `Event`, `Task`, `Timer`, `Port`, `Time`, `Duration`, and `Status` with Zircon's names.

#![no_std]

pub mod sys;

mod handle;
mod object;
mod port;
mod task;
mod thread;
mod time;
mod timer;
mod vmar;
mod vmo;

pub use abi;
pub use handle::{info_record, AsHandleRef, Handle, HandleBased, InfoRecord, Rights, Signals};
pub use object::{object_wait_many, object_wait_many_raw, Event, WaitItem};
pub use port::{
    object_wait_async_raw, Packet, PacketContents, Port, SignalPacket, UserPacket, WaitAsyncOpts,
};
pub use task::{
    console_write, exit, kernel_counters, null_syscall, system_get_num_cpus, Task, TaskEnd,
};
pub use thread::{Thread, ThreadEntry};
pub use time::{Duration, Time};
pub use timer::{Timer, TimerSlack};
pub use vmar::{Vmar, VmarFlags};
pub use vmo::{Vmo, VmoChildOptions, VmoOp, VmoOptions};

use core::fmt;
use handle::abi_consts;

/// A Zircon status; `Debug` shows its name.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Status(pub abi::Status);

impl Status {
    abi_consts! {
        Status;
        OK = ZX_OK,
        INTERNAL = ZX_ERR_INTERNAL,
        NOT_SUPPORTED = ZX_ERR_NOT_SUPPORTED,
        NO_MEMORY = ZX_ERR_NO_MEMORY,
        INVALID_ARGS = ZX_ERR_INVALID_ARGS,
        BAD_HANDLE = ZX_ERR_BAD_HANDLE,
        WRONG_TYPE = ZX_ERR_WRONG_TYPE,
        BAD_SYSCALL = ZX_ERR_BAD_SYSCALL,
        OUT_OF_RANGE = ZX_ERR_OUT_OF_RANGE,
        BUFFER_TOO_SMALL = ZX_ERR_BUFFER_TOO_SMALL,
        BAD_STATE = ZX_ERR_BAD_STATE,
        TIMED_OUT = ZX_ERR_TIMED_OUT,
        CANCELED = ZX_ERR_CANCELED,
        SHOULD_WAIT = ZX_ERR_SHOULD_WAIT,
        NOT_FOUND = ZX_ERR_NOT_FOUND,
        UNAVAILABLE = ZX_ERR_UNAVAILABLE,
        ACCESS_DENIED = ZX_ERR_ACCESS_DENIED,
    }

    /// `Ok(())` for `ZX_OK`, the status otherwise.
    pub fn ok(raw: abi::Status) -> Result<(), Status> {
        if raw.is_ok() {
            Ok(())
        } else {
            Err(Status(raw))
        }
    }

    /// The raw value.
    pub fn into_raw(self) -> i32 {
        self.0 .0
    }
}

impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.name().ends_with("<unknown>") {
            write!(f, "ZX_ERR({})", self.0 .0)
        } else {
            f.write_str(self.0.name())
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}
