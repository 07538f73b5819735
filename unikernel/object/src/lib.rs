//! The object layer: handle tables with rights, VMOs with one-way
//! copy-on-write children, events and signals with observers, ports with
//! async waits, and VMARs
//! with their mappings, resolving translation faults for the MMU layer. Pure logic over a [`Platform`]
//! (frame allocator, MMU, waker); `no_std` + `alloc`; proven on the host.
//!
//! Memory exhaustion is a status, never an abort: page frames come from
//! [`FrameAllocator::alloc`] and [`FrameAllocator::fault_frame`] (which may
//! return `None` and `ZX_ERR_NO_MEMORY`), and all object
//! memory is `Vec` growth through `try_reserve` ([`mem`]), done before any
//! state changes, so a failing call returns `ZX_ERR_NO_MEMORY` and leaves
//! everything as it was. Per-table [`Quota`]s bound handles and committed pages.
//!
//! Safe Rust but for three places, each allowed by name: [`mem::ChunkSlab`]'s
//! chunk directory (raw slot pointers, so a slot never moves), the region
//! tree's uninitialised descent path (`regions.rs`), and the fault path's
//! changes to one VMO through a shared reference (`vmo.rs`'s `vmo_mut`,
//! used by [`ObjectSpace::vmar_fault_shared`] under the lock of the VMO's
//! copy-on-write hierarchy, so faults on several CPUs resolve at once).
//!
//! Everything else a shared fault changes is an atomic: quota charges,
//! per-CPU counters and hints, the reservation helper's failure count.
#![no_std]
#![deny(missing_docs)]
#![deny(unsafe_code)]

extern crate alloc;

pub mod handle;
pub mod mapping;
pub mod mem;
pub mod platform;
pub mod port;
pub mod regions;
pub mod signals;
pub mod space;
pub mod syscalls;
pub mod vmar;
pub mod vmo;

pub use handle::{HandleTable, Object, Quota, MAX_HANDLES_PER_TABLE};
pub use mapping::{Access, Mapping, MappingInfo, Populate, VmCounters};
pub use platform::{
    CacheOp, CacheSpan, Frame, FrameAllocator, KernelObject, MapPerms, Mmu, NoKernelObjects,
    Platform, WaiterId, Waker, CACHE_ROUND_PAGES, FAULT_FRAME_LATER, FAULT_NEEDS_EXCLUSIVE,
    MAP_NEEDS_TABLES, PAGE_BYTES,
};
pub use port::{
    PortId, PortStart, PortWaitToken, MAX_ASYNC_WAITS_PER_OBJECT, MAX_ASYNC_WAITS_PER_TABLE,
    MAX_PORT_USER_PACKETS,
};
pub use signals::{WaitStart, WaitToken, KERNEL_PAYLOAD_WORDS};
pub use space::{MappingId, ObjectSpace, SignalsId, TableId, VmoId, HINT_SLOTS};
pub use syscalls::{put_record, TaskView};
pub use vmar::{vmar_rights, MapArgs, OutPtr, Unmapping, VmarId, OVERWRITE_PIECE};
pub use vmo::MAX_CHAIN_DEPTH;
