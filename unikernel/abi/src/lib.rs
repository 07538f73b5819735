//! The system-call ABI shared by the kernel, the object layer and tasks.
//!
//! Status codes, rights, signals, options, object types and info structs carry
//! the exact values of the late-2018 Zircon ABI (`DESIGN.md`, "Zircon semantics
//! and values"). Syscall numbers are ours: Zircon's were private to its vDSO.
//! No dependencies, `no_std`.
#![no_std]
#![deny(missing_docs)]

mod info;
mod port;
mod rights;
mod signals;
mod status;
mod syscall;
mod vmo;

pub use info::*;
pub use port::*;
pub use rights::*;
pub use signals::*;
pub use status::*;
pub use syscall::*;
pub use vmo::*;

/// A handle value as tasks see it (`zx_handle_t`).
pub type Handle = u32;
/// The value that is never a valid handle.
pub const ZX_HANDLE_INVALID: Handle = 0;
/// Bits that are set in every valid handle value (Zircon's `ZX_HANDLE_FIXED_BITS_MASK`).
pub const ZX_HANDLE_FIXED_BITS_MASK: Handle = 0x3;

/// Ours: most live tasks one task may have created (the rest of the
/// 2,016 sub-VMAR slots stay for the others); one more `task_create` is
/// `ZX_ERR_NO_MEMORY`, as for a task's other limits.
pub const TASK_MAX_LIVE_CHILDREN: u32 = 64;

/// A kernel object id (`zx_koid_t`).
pub type Koid = u64;
/// The koid no object has.
pub const ZX_KOID_INVALID: Koid = 0;

/// Monotonic time in nanoseconds (`zx_time_t`).
pub type Time = i64;
/// A deadline that never passes.
pub const ZX_TIME_INFINITE: Time = i64::MAX;

/// Object types (`zx_obj_type_t`), Zircon's values.
pub type ObjType = u32;
/// No object.
pub const ZX_OBJ_TYPE_NONE: ObjType = 0;
/// A process; our tasks report this type.
pub const ZX_OBJ_TYPE_PROCESS: ObjType = 1;
/// A thread.
pub const ZX_OBJ_TYPE_THREAD: ObjType = 2;
/// A virtual memory object.
pub const ZX_OBJ_TYPE_VMO: ObjType = 3;
/// A channel (not implemented here; value kept for completeness).
pub const ZX_OBJ_TYPE_CHANNEL: ObjType = 4;
/// An event.
pub const ZX_OBJ_TYPE_EVENT: ObjType = 5;
/// A port.
pub const ZX_OBJ_TYPE_PORT: ObjType = 6;
/// A job (not implemented here).
pub const ZX_OBJ_TYPE_JOB: ObjType = 17;
/// A virtual memory address region.
pub const ZX_OBJ_TYPE_VMAR: ObjType = 18;
/// A timer.
pub const ZX_OBJ_TYPE_TIMER: ObjType = 22;
/// `zx_timer_create` option: may fire within deadline ± slack.
pub const ZX_TIMER_SLACK_CENTER: u32 = 0;
/// `zx_timer_create` option: may fire within deadline - slack ..= deadline.
pub const ZX_TIMER_SLACK_EARLY: u32 = 1;
/// `zx_timer_create` option: may fire within deadline ..= deadline + slack.
pub const ZX_TIMER_SLACK_LATE: u32 = 2;
/// The monotonic clock (`zx_timer_create`'s only clock).
pub const ZX_CLOCK_MONOTONIC: u32 = 0;

/// Object property: the object can be waited on (`ZX_OBJ_PROP_WAITABLE`).
pub const ZX_OBJ_PROP_WAITABLE: u32 = 1;

/// The page size: 4 KiB granule.
pub const PAGE_SIZE: u64 = 4096;
/// log2 of [`PAGE_SIZE`].
pub const PAGE_SHIFT: u32 = 12;

/// Base of the root VMAR, the only EL0-usable range: 1 TiB.
pub const ROOT_VMAR_BASE: u64 = 1 << 40;
/// End (exclusive) of the root VMAR: 128 TiB.
pub const ROOT_VMAR_END: u64 = 128 << 40;

/// The largest VMO size (ours): 64 TiB.
///
/// It must not exceed the root VMAR's size (127 TiB) so every VMO can be
/// mapped whole; a power of two keeps page indices in 34 bits. A larger size
/// given to `vmo_create`, `vmo_create_child` or `vmo_set_size` is
/// `ZX_ERR_OUT_OF_RANGE`.
pub const ZX_MAX_VMO_SIZE: u64 = 64 << 40;

const _: () = assert!(ZX_MAX_VMO_SIZE <= ROOT_VMAR_END - ROOT_VMAR_BASE);
const _: () = assert!(ZX_MAX_VMO_SIZE.is_multiple_of(PAGE_SIZE));
const _: () = assert!(1u64 << PAGE_SHIFT == PAGE_SIZE);

/// Mapping permissions and options (`zx_vm_option_t`).
pub type VmOptions = u32;
/// Map readable.
pub const ZX_VM_PERM_READ: VmOptions = 1 << 0;
/// Map writable.
pub const ZX_VM_PERM_WRITE: VmOptions = 1 << 1;
/// Map executable.
pub const ZX_VM_PERM_EXECUTE: VmOptions = 1 << 2;
/// A hint: keep allocations inside the new VMAR close together.
pub const ZX_VM_COMPACT: VmOptions = 1 << 3;
/// Map (or allocate) at exactly the given offset in the VMAR.
pub const ZX_VM_SPECIFIC: VmOptions = 1 << 4;
/// Like [`ZX_VM_SPECIFIC`], but replaces mappings already in the range.
pub const ZX_VM_SPECIFIC_OVERWRITE: VmOptions = 1 << 5;
/// The VMAR allows [`ZX_VM_SPECIFIC`] placement inside it.
pub const ZX_VM_CAN_MAP_SPECIFIC: VmOptions = 1 << 6;
/// The VMAR may contain readable mappings.
pub const ZX_VM_CAN_MAP_READ: VmOptions = 1 << 7;
/// The VMAR may contain writable mappings.
pub const ZX_VM_CAN_MAP_WRITE: VmOptions = 1 << 8;
/// The VMAR may contain executable mappings.
pub const ZX_VM_CAN_MAP_EXECUTE: VmOptions = 1 << 9;
/// Map every page the VMO already shows at once, instead of on first touch.
pub const ZX_VM_MAP_RANGE: VmOptions = 1 << 10;
/// Map only a VMO created with `ZX_VMO_NON_RESIZABLE`.
pub const ZX_VM_REQUIRE_NON_RESIZABLE: VmOptions = 1 << 11;

/// All three `ZX_VM_PERM_*` bits.
pub const ZX_VM_PERM_MASK: VmOptions = ZX_VM_PERM_READ | ZX_VM_PERM_WRITE | ZX_VM_PERM_EXECUTE;
/// The three `ZX_VM_CAN_MAP_{READ,WRITE,EXECUTE}` bits.
pub const ZX_VM_CAN_MAP_RWX: VmOptions =
    ZX_VM_CAN_MAP_READ | ZX_VM_CAN_MAP_WRITE | ZX_VM_CAN_MAP_EXECUTE;
/// Shift from a `ZX_VM_PERM_*` bit to the matching `ZX_VM_CAN_MAP_*` bit.
pub const ZX_VM_CAN_MAP_SHIFT: u32 = 7;

const _: () = assert!(ZX_VM_PERM_MASK << ZX_VM_CAN_MAP_SHIFT == ZX_VM_CAN_MAP_RWX);

/// What the kernel asks of the EL0 image's first task (`x0` at its entry;
/// `h0` is a VMO holding an [`El0Boot`]).
pub mod el0 {
    use zerocopy::{FromBytes, Immutable, IntoBytes};

    /// Count the EL0 test suites the filter selects; exit with the count.
    pub const MODE_COUNT: u64 = 0;
    /// Run the selected EL0 suites as KTAP subtests; exit 0 if all passed.
    pub const MODE_TEST: u64 = 1;
    /// Run the demo and print its summary.
    pub const MODE_RUN: u64 = 2;
    /// Run the benchmarks.
    pub const MODE_BENCH: u64 = 3;

    /// Bytes of test filter an [`El0Boot`] carries.
    pub const FILTER_MAX: usize = 112;

    /// The boot parameters the kernel hands the EL0 image's first task.
    #[repr(C)]
    #[derive(Copy, Clone, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable)]
    pub struct El0Boot {
        /// `seed=` from the bootargs.
        pub seed: u64,
        /// The KTAP number of the first EL0 suite (after the kernel's).
        pub first_suite: u64,
        /// Length of `filter` in use.
        pub filter_len: u64,
        /// `test=` from the bootargs (empty: everything).
        pub filter: [u8; FILTER_MAX],
        /// `FLAG_*` bits from the bootargs.
        pub flags: u64,
    }

    /// `churn=full`: the churn test runs at its full size.
    pub const FLAG_CHURN_FULL: u64 = 1 << 0;

    impl El0Boot {
        /// The filter as text.
        pub fn filter(&self) -> &str {
            let len = (self.filter_len as usize).min(FILTER_MAX);
            core::str::from_utf8(&self.filter[..len]).unwrap_or("")
        }
    }

    const _: () = assert!(core::mem::size_of::<El0Boot>() == 144);
}
