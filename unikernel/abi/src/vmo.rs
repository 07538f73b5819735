//! VMO options and `vmo_op_range` operations, Zircon's values.

/// `vmo_create` option: the VMO cannot change size (VMOs resize by default).
pub const ZX_VMO_NON_RESIZABLE: u32 = 1;

/// `vmo_create_child` type: a one-way copy-on-write child.
pub const ZX_VMO_CHILD_COPY_ON_WRITE: u32 = 1 << 0;
/// `vmo_create_child` modifier: the child cannot change size (note the "E").
pub const ZX_VMO_CHILD_NON_RESIZEABLE: u32 = 1 << 1;

/// `vmo_op_range`: commit pages.
pub const ZX_VMO_OP_COMMIT: u32 = 1;
/// `vmo_op_range`: decommit pages.
pub const ZX_VMO_OP_DECOMMIT: u32 = 2;
/// `vmo_op_range`: lock pages (unsupported).
pub const ZX_VMO_OP_LOCK: u32 = 3;
/// `vmo_op_range`: unlock pages (unsupported).
pub const ZX_VMO_OP_UNLOCK: u32 = 4;
/// `vmo_op_range`: physical addresses of the pages the VMO shows.
pub const ZX_VMO_OP_LOOKUP: u32 = 5;
/// `vmo_op_range`: make instruction fetches see the range's data (needs READ).
pub const ZX_VMO_OP_CACHE_SYNC: u32 = 6;
/// `vmo_op_range`: drop the range from the data cache (needs WRITE).
pub const ZX_VMO_OP_CACHE_INVALIDATE: u32 = 7;
/// `vmo_op_range`: write the range's dirty cache lines back (needs READ).
pub const ZX_VMO_OP_CACHE_CLEAN: u32 = 8;
/// `vmo_op_range`: clean, then invalidate, the range (needs READ).
pub const ZX_VMO_OP_CACHE_CLEAN_INVALIDATE: u32 = 9;

/// Cache policy: cached (`ZX_CACHE_POLICY_CACHED`).
pub const ZX_CACHE_POLICY_CACHED: u32 = 0;
