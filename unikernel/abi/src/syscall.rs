//! Syscall numbers: ours (passed in `x16` with `svc #0`).

/// A system call, by number.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Syscall {
    /// Does nothing and returns `ZX_OK`; the floor for benchmarks.
    Null = 0,
    /// `zx_handle_close`.
    HandleClose = 1,
    /// `zx_handle_duplicate`.
    HandleDuplicate = 2,
    /// `zx_handle_replace`.
    HandleReplace = 3,
    /// `zx_vmo_create`.
    VmoCreate = 10,
    /// `zx_vmo_create_child`.
    VmoCreateChild = 11,
    /// `zx_vmo_read`.
    VmoRead = 12,
    /// `zx_vmo_write`.
    VmoWrite = 13,
    /// `zx_vmo_get_size`.
    VmoGetSize = 14,
    /// `zx_vmo_set_size`.
    VmoSetSize = 15,
    /// `zx_vmo_op_range`.
    VmoOpRange = 16,
    /// `zx_vmar_map`.
    VmarMap = 20,
    /// `zx_vmar_unmap`.
    VmarUnmap = 21,
    /// `zx_vmar_protect`.
    VmarProtect = 22,
    /// `zx_vmar_allocate`.
    VmarAllocate = 23,
    /// `zx_vmar_destroy`.
    VmarDestroy = 24,
    /// `zx_object_get_info`.
    ObjectGetInfo = 30,
    /// `zx_object_wait_one`.
    ObjectWaitOne = 31,
    /// `zx_object_signal`.
    ObjectSignal = 32,
    /// `zx_event_create`.
    EventCreate = 33,
    /// `zx_object_wait_many`.
    ObjectWaitMany = 34,
    /// `zx_nanosleep`.
    Nanosleep = 40,
    /// `zx_clock_get_monotonic`.
    ClockGetMonotonic = 41,
    /// Create a task (ours: a handle table plus a sub-VMAR).
    TaskCreate = 50,
    /// `zx_thread_create`.
    ThreadCreate = 51,
    /// `zx_thread_start`.
    ThreadStart = 52,
    /// End the calling task (ours; like `zx_process_exit`).
    TaskExit = 53,
    /// `zx_thread_exit`.
    ThreadExit = 54,
    /// `zx_task_kill` (a task or a thread).
    TaskKill = 55,
    /// `zx_timer_create`.
    TimerCreate = 42,
    /// `zx_timer_set`.
    TimerSet = 43,
    /// `zx_timer_cancel`.
    TimerCancel = 44,
    /// `zx_system_get_num_cpus`.
    SystemGetNumCpus = 45,
    /// Write a whole line to the console (ours).
    ConsoleWrite = 60,
    /// `zx_object_wait_async`.
    ObjectWaitAsync = 61,
    /// `zx_port_create`.
    PortCreate = 62,
    /// `zx_port_queue`.
    PortQueue = 63,
    /// `zx_port_wait`.
    PortWait = 64,
    /// `zx_port_cancel`.
    PortCancel = 65,
}

impl Syscall {
    /// Every syscall, for decoding and tests.
    pub const ALL: [Syscall; 39] = [
        Syscall::Null,
        Syscall::HandleClose,
        Syscall::HandleDuplicate,
        Syscall::HandleReplace,
        Syscall::VmoCreate,
        Syscall::VmoCreateChild,
        Syscall::VmoRead,
        Syscall::VmoWrite,
        Syscall::VmoGetSize,
        Syscall::VmoSetSize,
        Syscall::VmoOpRange,
        Syscall::VmarMap,
        Syscall::VmarUnmap,
        Syscall::VmarProtect,
        Syscall::VmarAllocate,
        Syscall::VmarDestroy,
        Syscall::ObjectGetInfo,
        Syscall::ObjectWaitOne,
        Syscall::ObjectSignal,
        Syscall::EventCreate,
        Syscall::Nanosleep,
        Syscall::ClockGetMonotonic,
        Syscall::TaskCreate,
        Syscall::ThreadCreate,
        Syscall::ThreadStart,
        Syscall::TaskExit,
        Syscall::ThreadExit,
        Syscall::ConsoleWrite,
        Syscall::TaskKill,
        Syscall::TimerCreate,
        Syscall::TimerSet,
        Syscall::TimerCancel,
        Syscall::ObjectWaitMany,
        Syscall::ObjectWaitAsync,
        Syscall::PortCreate,
        Syscall::PortQueue,
        Syscall::PortWait,
        Syscall::PortCancel,
        Syscall::SystemGetNumCpus,
    ];

    /// One more than the largest syscall number.
    pub const COUNT: usize = {
        let mut max = 0;
        let mut i = 0;
        while i < Self::ALL.len() {
            if Self::ALL[i] as usize > max {
                max = Self::ALL[i] as usize;
            }
            i += 1;
        }
        max + 1
    };

    /// [`Self::ALL`] by number: `None` where no syscall has that number.
    const BY_NUMBER: [Option<Syscall>; Self::COUNT] = {
        let mut t = [None; Self::COUNT];
        let mut i = 0;
        while i < Self::ALL.len() {
            t[Self::ALL[i] as usize] = Some(Self::ALL[i]);
            i += 1;
        }
        t
    };

    /// Decodes the number in `x16`; `None` means `ZX_ERR_BAD_SYSCALL`.
    pub fn from_number(n: u64) -> Option<Syscall> {
        usize::try_from(n)
            .ok()
            .and_then(|n| Self::BY_NUMBER.get(n).copied().flatten())
    }

    /// The number tasks put in `x16`.
    pub const fn number(self) -> u64 {
        self as u64
    }
}
