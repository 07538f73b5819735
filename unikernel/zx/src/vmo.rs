//! Virtual memory objects.

use crate::handle::{abi_consts, bit_set, handle_type};
use crate::sys;
use crate::{AsHandleRef, Handle, Status};
use abi::Syscall;

handle_type!(
    /// A VMO handle.
    Vmo
);

/// `zx_vmo_create` options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmoOptions(pub u32);

impl VmoOptions {
    /// Resizable (the default).
    pub const RESIZABLE: VmoOptions = VmoOptions(0);
    /// `ZX_VMO_NON_RESIZABLE`.
    pub const NON_RESIZABLE: VmoOptions = VmoOptions(abi::ZX_VMO_NON_RESIZABLE);
}

bit_set!(
    /// `zx_vmo_create_child` options, late-2018 values (README, "Which Zircon").
    ///
    /// Bit 0 here is the era's **one-way** copy-on-write, not today's
    /// `ZX_VMO_CHILD_SNAPSHOT` (which has the same value): a child keeps seeing
    /// its parent's later writes to every page it has not copied itself. Today's
    /// other child options (`SNAPSHOT_AT_LEAST_ON_WRITE`, `SLICE`, `RESIZABLE`,
    /// `NO_WRITE`, `REFERENCE`, `SNAPSHOT_MODIFIED`) do not exist here and are
    /// `ZX_ERR_INVALID_ARGS`.
    VmoChildOptions(u32)
);

impl VmoChildOptions {
    /// `ZX_VMO_CHILD_COPY_ON_WRITE` (bit 0): a one-way copy-on-write child.
    ///
    /// The child shows its parent's pages until it writes (or commits) one,
    /// and a later parent write to a page the child has not copied shows in
    /// the child at once. It is not a snapshot: for a point-in-time copy,
    /// commit the child's whole range right after creating it. Also spelled
    /// [`COPY_ON_WRITE_ONE_WAY`](Self::COPY_ON_WRITE_ONE_WAY).
    pub const COPY_ON_WRITE: VmoChildOptions = VmoChildOptions(abi::ZX_VMO_CHILD_COPY_ON_WRITE);
    /// The same bit as [`COPY_ON_WRITE`](Self::COPY_ON_WRITE), named after
    /// what it does, so task code cannot be read as taking a snapshot.
    pub const COPY_ON_WRITE_ONE_WAY: VmoChildOptions = Self::COPY_ON_WRITE;
    /// `ZX_VMO_CHILD_NON_RESIZEABLE` (bit 1, spelled with an "E" in the
    /// era): the child cannot change size. Children resize by default here;
    /// today's Zircon makes them fixed-size unless `ZX_VMO_CHILD_RESIZABLE`.
    pub const NON_RESIZEABLE: VmoChildOptions = VmoChildOptions(abi::ZX_VMO_CHILD_NON_RESIZEABLE);
}

/// `zx_vmo_op_range` operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmoOp(pub u32);

impl VmoOp {
    abi_consts! {
        VmoOp;
        COMMIT = ZX_VMO_OP_COMMIT,
        DECOMMIT = ZX_VMO_OP_DECOMMIT,
        LOOKUP = ZX_VMO_OP_LOOKUP,
        CACHE_SYNC = ZX_VMO_OP_CACHE_SYNC,
        CACHE_INVALIDATE = ZX_VMO_OP_CACHE_INVALIDATE,
        CACHE_CLEAN = ZX_VMO_OP_CACHE_CLEAN,
        CACHE_CLEAN_INVALIDATE = ZX_VMO_OP_CACHE_CLEAN_INVALIDATE,
    }
}

fn out_handle(st: abi::Status, out: abi::Handle) -> Result<Handle, Status> {
    Status::ok(st).map(|()| Handle::from_raw(out))
}

impl Vmo {
    /// `zx_vmo_create` of `size` bytes, resizable.
    pub fn create(size: u64) -> Result<Vmo, Status> {
        Self::create_with_opts(VmoOptions::RESIZABLE, size)
    }

    /// `zx_vmo_create` with options.
    pub fn create_with_opts(opts: VmoOptions, size: u64) -> Result<Vmo, Status> {
        let mut out = 0;
        // SAFETY: `out` is a valid place for the handle.
        let st = unsafe {
            sys::status(
                Syscall::VmoCreate,
                [size, opts.0 as u64, &raw mut out as u64, 0, 0, 0, 0, 0],
            )
        };
        out_handle(st, out).map(Vmo)
    }

    /// `zx_vmo_create_child`: a child of `size` bytes (rounded up to a
    /// page) viewing this VMO from `offset`.
    ///
    /// With [`VmoChildOptions::COPY_ON_WRITE`] the child is a **one-way**
    /// copy-on-write view (late-2018 semantics, not today's snapshot): it
    /// sees this VMO's later writes to pages it has not copied, and its own
    /// writes never reach this VMO. Its handle has this handle's rights plus
    /// WRITE (EXECUTE is kept). See README, "Which Zircon".
    pub fn create_child(
        &self,
        opts: VmoChildOptions,
        offset: u64,
        size: u64,
    ) -> Result<Vmo, Status> {
        let mut out = 0;
        // SAFETY: `out` is a valid place for the handle.
        let st = unsafe {
            sys::status(
                Syscall::VmoCreateChild,
                [
                    self.raw_handle() as u64,
                    opts.0 as u64,
                    offset,
                    size,
                    &raw mut out as u64,
                    0,
                    0,
                    0,
                ],
            )
        };
        out_handle(st, out).map(Vmo)
    }

    /// `zx_vmo_read` into `data` from `offset`.
    pub fn read(&self, data: &mut [u8], offset: u64) -> Result<(), Status> {
        // SAFETY: `data` is writable for its length.
        Status::ok(unsafe {
            sys::status(
                Syscall::VmoRead,
                [
                    self.raw_handle() as u64,
                    data.as_mut_ptr() as u64,
                    offset,
                    data.len() as u64,
                    0,
                    0,
                    0,
                    0,
                ],
            )
        })
    }

    /// `zx_vmo_write` of `data` at `offset`.
    pub fn write(&self, data: &[u8], offset: u64) -> Result<(), Status> {
        // SAFETY: `data` is readable for its length.
        Status::ok(unsafe {
            sys::status(
                Syscall::VmoWrite,
                [
                    self.raw_handle() as u64,
                    data.as_ptr() as u64,
                    offset,
                    data.len() as u64,
                    0,
                    0,
                    0,
                    0,
                ],
            )
        })
    }

    /// `zx_vmo_get_size`.
    pub fn get_size(&self) -> Result<u64, Status> {
        let mut size = 0u64;
        // SAFETY: `size` is a valid place for the result.
        let st = unsafe {
            sys::status(
                Syscall::VmoGetSize,
                [
                    self.raw_handle() as u64,
                    &raw mut size as u64,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                ],
            )
        };
        Status::ok(st).map(|()| size)
    }

    /// `zx_vmo_set_size`.
    pub fn set_size(&self, size: u64) -> Result<(), Status> {
        // SAFETY: only values are passed.
        Status::ok(unsafe {
            sys::status(
                Syscall::VmoSetSize,
                [self.raw_handle() as u64, size, 0, 0, 0, 0, 0, 0],
            )
        })
    }

    /// `zx_vmo_op_range` for COMMIT, DECOMMIT and the cache ops.
    pub fn op_range(&self, op: VmoOp, offset: u64, size: u64) -> Result<(), Status> {
        // SAFETY: no buffer is passed.
        Status::ok(unsafe {
            sys::status(
                Syscall::VmoOpRange,
                [
                    self.raw_handle() as u64,
                    op.0 as u64,
                    offset,
                    size,
                    0,
                    0,
                    0,
                    0,
                ],
            )
        })
    }

    /// `zx_vmo_op_range` LOOKUP: the physical address of each page of the range.
    pub fn lookup(&self, offset: u64, size: u64, addrs: &mut [u64]) -> Result<(), Status> {
        // SAFETY: `addrs` is writable for its length in bytes.
        Status::ok(unsafe {
            sys::status(
                Syscall::VmoOpRange,
                [
                    self.raw_handle() as u64,
                    VmoOp::LOOKUP.0 as u64,
                    offset,
                    size,
                    addrs.as_mut_ptr() as u64,
                    core::mem::size_of_val(addrs) as u64,
                    0,
                    0,
                ],
            )
        })
    }

    /// `ZX_INFO_VMO`.
    pub fn info(&self) -> Result<abi::ZxInfoVmo, Status> {
        crate::handle::info_record(self)
    }
}
