//! Virtual memory address regions.

use crate::handle::{abi_consts, bit_set, handle_type};
use crate::sys;
use crate::{AsHandleRef, Handle, Status, Vmo};
use abi::Syscall;

handle_type!(
    /// A VMAR handle.
    Vmar
);

bit_set!(
    /// `ZX_VM_*` options for map, protect and allocate.
    VmarFlags(u32)
);

impl VmarFlags {
    abi_consts! {
        VmarFlags;
        PERM_READ = ZX_VM_PERM_READ,
        PERM_WRITE = ZX_VM_PERM_WRITE,
        PERM_EXECUTE = ZX_VM_PERM_EXECUTE,
        SPECIFIC = ZX_VM_SPECIFIC,
        SPECIFIC_OVERWRITE = ZX_VM_SPECIFIC_OVERWRITE,
        CAN_MAP_SPECIFIC = ZX_VM_CAN_MAP_SPECIFIC,
        CAN_MAP_READ = ZX_VM_CAN_MAP_READ,
        CAN_MAP_WRITE = ZX_VM_CAN_MAP_WRITE,
        CAN_MAP_EXECUTE = ZX_VM_CAN_MAP_EXECUTE,
        MAP_RANGE = ZX_VM_MAP_RANGE,
    }
    /// Read and write.
    pub const RW: VmarFlags = VmarFlags(abi::ZX_VM_PERM_READ | abi::ZX_VM_PERM_WRITE);
}

impl Vmar {
    /// The calling task's own sub-VMAR (a task never holds the root's).
    /// Borrowed: the handle belongs to the task and is not closed.
    pub fn root_self() -> core::mem::ManuallyDrop<Vmar> {
        core::mem::ManuallyDrop::new(Vmar(Handle::from_raw(crate::task::self_vmar_raw())))
    }

    /// `zx_vmar_map`: maps `len` bytes of `vmo` from `vmo_offset`; the address.
    pub fn map(
        &self,
        vmar_offset: u64,
        vmo: &Vmo,
        vmo_offset: u64,
        len: u64,
        flags: VmarFlags,
    ) -> Result<u64, Status> {
        let mut addr = 0u64;
        // SAFETY: `addr` is a valid place for the result.
        let st = unsafe {
            sys::status(
                Syscall::VmarMap,
                [
                    self.raw_handle() as u64,
                    flags.0 as u64,
                    vmar_offset,
                    vmo.raw_handle() as u64,
                    vmo_offset,
                    len,
                    &raw mut addr as u64,
                    0,
                ],
            )
        };
        Status::ok(st).map(|()| addr)
    }

    /// `zx_vmar_unmap`.
    pub fn unmap(&self, addr: u64, len: u64) -> Result<(), Status> {
        // SAFETY: only values are passed; unmapping memory this task still
        // uses is the caller's business (it faults on the next touch).
        Status::ok(unsafe {
            sys::status(
                Syscall::VmarUnmap,
                [self.raw_handle() as u64, addr, len, 0, 0, 0, 0, 0],
            )
        })
    }

    /// `zx_vmar_protect`.
    pub fn protect(&self, addr: u64, len: u64, flags: VmarFlags) -> Result<(), Status> {
        // SAFETY: only values are passed.
        Status::ok(unsafe {
            sys::status(
                Syscall::VmarProtect,
                [
                    self.raw_handle() as u64,
                    flags.0 as u64,
                    addr,
                    len,
                    0,
                    0,
                    0,
                    0,
                ],
            )
        })
    }

    /// `zx_vmar_allocate`: a sub-VMAR and its address.
    pub fn allocate(
        &self,
        offset: u64,
        size: u64,
        flags: VmarFlags,
    ) -> Result<(Vmar, u64), Status> {
        let (mut child, mut addr) = (0 as abi::Handle, 0u64);
        // SAFETY: `child` and `addr` are valid places for the results.
        let st = unsafe {
            sys::status(
                Syscall::VmarAllocate,
                [
                    self.raw_handle() as u64,
                    flags.0 as u64,
                    offset,
                    size,
                    &raw mut child as u64,
                    &raw mut addr as u64,
                    0,
                    0,
                ],
            )
        };
        Status::ok(st).map(|()| (Vmar(Handle::from_raw(child)), addr))
    }

    /// `zx_vmar_destroy`.
    pub fn destroy(&self) -> Result<(), Status> {
        // SAFETY: only a handle is passed.
        Status::ok(unsafe {
            sys::status(
                Syscall::VmarDestroy,
                [self.raw_handle() as u64, 0, 0, 0, 0, 0, 0, 0],
            )
        })
    }

    /// `ZX_INFO_VMAR`: base and length.
    pub fn info(&self) -> Result<abi::ZxInfoVmar, Status> {
        crate::handle::info_record(self)
    }
}
