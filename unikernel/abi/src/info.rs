//! `zx_object_get_info` topics and records, in Zircon's field order.

use crate::{Koid, ObjType, Rights};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// An info topic (`zx_object_info_topic_t`).
pub type InfoTopic = u32;
/// Topic: is the handle valid.
pub const ZX_INFO_HANDLE_VALID: InfoTopic = 1;
/// Topic: [`ZxInfoHandleBasic`].
pub const ZX_INFO_HANDLE_BASIC: InfoTopic = 2;
/// Topic: [`ZxInfoProcess`] (a task).
pub const ZX_INFO_PROCESS: InfoTopic = 3;
/// Topic: [`ZxInfoThread`].
pub const ZX_INFO_THREAD: InfoTopic = 10;
/// Topic: [`ZxInfoVmar`].
pub const ZX_INFO_VMAR: InfoTopic = 7;
/// Topic: [`ZxInfoHandleCount`].
pub const ZX_INFO_HANDLE_COUNT: InfoTopic = 19;
/// Topic: [`ZxInfoVmo`].
pub const ZX_INFO_VMO: InfoTopic = 23;

/// Length of object names (`ZX_MAX_NAME_LEN`).
pub const ZX_MAX_NAME_LEN: usize = 32;

/// `zx_info_vmo_t` flag: a paged VMO.
pub const ZX_INFO_VMO_TYPE_PAGED: u32 = 1 << 0;
/// `zx_info_vmo_t` flag: the VMO is a copy-on-write clone.
pub const ZX_INFO_VMO_IS_COW_CLONE: u32 = 1 << 2;
/// `zx_info_vmo_t` flag: the record was obtained through a handle.
pub const ZX_INFO_VMO_VIA_HANDLE: u32 = 1 << 3;
/// `zx_info_vmo_t` flag: the record was obtained through a mapping.
pub const ZX_INFO_VMO_VIA_MAPPING: u32 = 1 << 4;
/// `zx_info_vmo_t.create_options` bit: the VMO is resizable (note the polarity).
pub const ZX_INFO_VMO_CREATE_RESIZABLE: u32 = 1 << 0;

/// `zx_info_handle_basic_t`.
#[derive(
    Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct ZxInfoHandleBasic {
    /// The object's koid.
    pub koid: Koid,
    /// The handle's rights.
    pub rights: Rights,
    /// The object type.
    pub obj_type: ObjType,
    /// The related object's koid, or zero.
    pub related_koid: Koid,
    /// `ZX_OBJ_PROP_WAITABLE` or zero.
    pub props: u32,
    /// Explicit tail padding, always zero.
    pub padding: u32,
}

/// `zx_info_vmo_t` (the ZX_INFO_VMO section's layout, with `create_options` and `cache_policy`).
#[derive(
    Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct ZxInfoVmo {
    /// The VMO's koid.
    pub koid: Koid,
    /// The VMO's name (NUL-padded).
    pub name: [u8; ZX_MAX_NAME_LEN],
    /// The VMO's size in bytes.
    pub size_bytes: u64,
    /// The parent's koid if this VMO is a child, else zero.
    pub parent_koid: Koid,
    /// The number of live children.
    pub num_children: u64,
    /// The number of mappings of this VMO.
    pub num_mappings: u64,
    /// An estimate of the number of address spaces it is mapped into.
    pub share_count: u64,
    /// `ZX_INFO_VMO_*` flags.
    pub flags: u32,
    /// Explicit padding, always zero.
    pub padding1: u32,
    /// Bytes of pages owned by this VMO.
    pub committed_bytes: u64,
    /// The handle's rights (when `flags` has `ZX_INFO_VMO_VIA_HANDLE`).
    pub handle_rights: Rights,
    /// `ZX_INFO_VMO_CREATE_*` bits.
    pub create_options: u32,
    /// One of `ZX_CACHE_POLICY_*`.
    pub cache_policy: u32,
    /// Explicit tail padding, always zero.
    pub padding2: u32,
}

/// `zx_info_vmar_t`: where a VMAR lies.
#[derive(
    Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct ZxInfoVmar {
    /// Base address of the region.
    pub base: u64,
    /// Length of the region in bytes.
    pub len: u64,
}

const _: () = assert!(core::mem::size_of::<ZxInfoHandleBasic>() == 32);
const _: () = assert!(core::mem::size_of::<ZxInfoVmar>() == 16);

/// `zx_info_handle_count_t`: how many handles refer to the object (a
/// debugging aid, as the reference page says: it may change at once).
#[derive(
    Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct ZxInfoHandleCount {
    /// Outstanding handles to the object, in every task.
    pub handle_count: u32,
}

const _: () = assert!(core::mem::size_of::<ZxInfoHandleCount>() == 4);

/// `zx_info_process_t`, for a task.
#[derive(
    Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct ZxInfoProcess {
    /// The exit code once `exited`: what `zx_process_exit` passed, -1 for a
    /// task killed (by `zx_task_kill`, or by the kernel for a fault).
    pub return_code: i64,
    /// Whether it ever ran (always, here: a task starts as it is made).
    pub started: u8,
    /// Whether it has ended.
    pub exited: u8,
    /// Whether a debugger is attached (never, here).
    pub debugger_attached: u8,
    /// Explicit padding.
    pub padding: [u8; 5],
}

const _: () = assert!(core::mem::size_of::<ZxInfoProcess>() == 16);

/// `zx_info_thread_t`.
#[derive(
    Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct ZxInfoThread {
    /// One of the `ZX_THREAD_STATE_*` values.
    pub state: u32,
    /// `ZX_EXCEPTION_PORT_TYPE_NONE` (there are no exception ports).
    pub wait_exception_port_type: u32,
}

const _: () = assert!(core::mem::size_of::<ZxInfoThread>() == 8);

/// Thread state: created, not started.
pub const ZX_THREAD_STATE_NEW: u32 = 0x0000;
/// Thread state: runs (or may run) task code.
pub const ZX_THREAD_STATE_RUNNING: u32 = 0x0001;
/// Thread state: suspended (`zx_task_suspend`; never, here).
pub const ZX_THREAD_STATE_SUSPENDED: u32 = 0x0002;
/// Thread state: blocked (only ever reported as one of the `BLOCKED_*`).
pub const ZX_THREAD_STATE_BLOCKED: u32 = 0x0003;
/// Thread state: being terminated, not yet stopped.
pub const ZX_THREAD_STATE_DYING: u32 = 0x0004;
/// Thread state: stopped for good.
pub const ZX_THREAD_STATE_DEAD: u32 = 0x0005;
/// Blocked in `zx_nanosleep`.
pub const ZX_THREAD_STATE_BLOCKED_SLEEPING: u32 = 0x0203;
/// Blocked in `zx_port_wait`.
pub const ZX_THREAD_STATE_BLOCKED_PORT: u32 = 0x0403;
/// Blocked in `zx_object_wait_one`.
pub const ZX_THREAD_STATE_BLOCKED_WAIT_ONE: u32 = 0x0603;
/// Blocked in `zx_object_wait_many`.
pub const ZX_THREAD_STATE_BLOCKED_WAIT_MANY: u32 = 0x0703;
/// `wait_exception_port_type`: none.
pub const ZX_EXCEPTION_PORT_TYPE_NONE: u32 = 0;
const _: () = assert!(core::mem::size_of::<ZxInfoVmo>() == 112);

/// Ours: how a task ended ([`ZxInfoTaskEnd`]).
pub const ZX_INFO_TASK_END: InfoTopic = 1000;
/// Ours: the kernel's fault and copy counters ([`ZxInfoKernelCounters`]).
pub const ZX_INFO_KERNEL_COUNTERS: InfoTopic = 1001;

/// The task has not ended.
pub const ZX_TASK_RUNNING: u32 = 0;
/// The task called `task_exit` (or its last thread exited): `code` holds the code.
pub const ZX_TASK_EXITED: u32 = 1;
/// A thread of the task took a fault nobody could resolve: `esr`, `far`, `elr` say which.
pub const ZX_TASK_FAULTED: u32 = 2;
/// `zx_task_kill` ended the task: `code` is -1 (the page's NOTES).
pub const ZX_TASK_KILLED: u32 = 3;

/// Ours: how a task ended, for `ZX_INFO_TASK_END`.
#[repr(C)]
#[derive(
    Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct ZxInfoTaskEnd {
    /// `ZX_TASK_RUNNING`, `ZX_TASK_EXITED`, `ZX_TASK_FAULTED` or `ZX_TASK_KILLED`.
    pub state: u32,
    /// Explicit padding.
    pub padding: u32,
    /// The exit code, for `ZX_TASK_EXITED`.
    pub code: i64,
    /// The fault's syndrome (ESR_EL1), for `ZX_TASK_FAULTED`.
    pub esr: u64,
    /// The faulting address (FAR_EL1), for `ZX_TASK_FAULTED`.
    pub far: u64,
    /// The faulting instruction's address, for `ZX_TASK_FAULTED`.
    pub elr: u64,
}

/// Ours: counters of the kernel's fault and copy work and its memory in
/// use, for `ZX_INFO_KERNEL_COUNTERS` (on any handle; they are global).
#[repr(C)]
#[derive(
    Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct ZxInfoKernelCounters {
    /// Translation faults taken on task memory.
    pub translation_faults: u64,
    /// Permission faults taken on task memory (copy-on-write).
    pub permission_faults: u64,
    /// Pages copied for copy-on-write.
    pub pages_copied: u64,
    /// Pages committed zero-filled.
    pub pages_zero_filled: u64,
    /// Bytes of kernel heap allocated now.
    pub heap_in_use: u64,
    /// Physical frames free now.
    pub free_frames: u64,
    /// The longest interval any CPU ran with IRQs masked since boot, in ns.
    pub irq_masked_longest_ns: u64,
    /// The longest such interval since the previous read of these counters
    /// (each read starts a new window), in ns.
    pub irq_masked_recent_ns: u64,
    /// Free frames zeroed ahead of time by the idle threads, ready for a
    /// zero-fill fault (included in `free_frames`).
    pub zeroed_frames: u64,
}
