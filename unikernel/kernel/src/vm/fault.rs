//! Page faults on task memory, resolved through the object layer's VMAR
//! tree: a translation fault maps what the VMO shows, a write permission
//! fault on a copy-on-write page gets the private copy mapped writable.

use super::USER_REGION;
use crate::arch::esr::{Esr, ABORT_ISS::FSC_KIND::Value as FaultKind};
use crate::mm::PAGE_SIZE;
use abi::{Status, ZX_ERR_ACCESS_DENIED, ZX_ERR_BAD_STATE, ZX_ERR_NOT_FOUND};
use core::sync::atomic::{AtomicU64, Ordering};
use object::Access;

static TRANSLATION_FAULTS: AtomicU64 = AtomicU64::new(0);
static PERMISSION_FAULTS: AtomicU64 = AtomicU64::new(0);

/// How many faults on task memory the kernel has taken, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Nothing was mapped at the address.
    pub translation: u64,
    /// A mapping was there but did not allow the access (copy-on-write).
    pub permission: u64,
}

/// The fault counts so far.
pub fn counts() -> FaultCounts {
    FaultCounts {
        translation: TRANSLATION_FAULTS.load(Ordering::Relaxed),
        permission: PERMISSION_FAULTS.load(Ordering::Relaxed),
    }
}

/// Resolves the abort at `far` that `esr` describes (an instruction or
/// data abort, from EL0 or EL1). `Ok` means the access can be retried; an
/// error says why it cannot (`ZX_ERR_NOT_FOUND`: no mapping, or not a
/// fault on task memory at all; `ZX_ERR_ACCESS_DENIED`: another task's
/// memory, see `vm::domain`). The fault path, inlined into the abort
/// handlers.
#[inline(always)]
pub fn resolve(esr: Esr, far: u64) -> Result<(), Status> {
    let access = if esr.abort_is_fetch() {
        Access::Execute
    } else if esr.write_not_read() {
        Access::Write
    } else {
        Access::Read
    };
    if !USER_REGION.contains(&far) {
        return Err(ZX_ERR_NOT_FOUND);
    }
    const TRANSLATION: u64 = FaultKind::Translation as u64;
    const PERMISSION: u64 = FaultKind::Permission as u64;
    let counter = match esr.fault_kind_bits() {
        TRANSLATION => &TRANSLATION_FAULTS,
        PERMISSION => &PERMISSION_FAULTS,
        _ => return Err(ZX_ERR_NOT_FOUND),
    };
    counter.fetch_add(1, Ordering::Relaxed);
    // Another task's slot: its translations are in its own table, never
    // this one's (protection domains).
    if !super::domain::may_resolve(far) {
        return Err(ZX_ERR_ACCESS_DENIED);
    }
    let page = far & !(PAGE_SIZE - 1);
    // A fault taken while this CPU holds the object space's lock is a kernel
    // bug (user memory touched under the lock); say so instead of deadlocking.
    // The exception entry masked IRQs: the lock need not.
    crate::objects::try_with_masked(|space| {
        space.vmar_fault(crate::objects::root_vmar(), page, access)
    })
    .unwrap_or(Err(ZX_ERR_BAD_STATE))
}

/// Describes the mapping around `far` for a fault report.
pub fn describe(far: u64) -> Option<object::MappingInfo> {
    if !USER_REGION.contains(&far) {
        return None;
    }
    crate::objects::try_with(|space| space.vmar_lookup(crate::objects::root_vmar(), far)).flatten()
}
