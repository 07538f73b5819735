//! The object space: every object, handle table, mapping and waiter, owned
//! in one place. The kernel keeps one `ObjectSpace` behind one lock (a
//! top-level lock: single-core now, SMP-safe later), so every operation
//! takes `&mut self` and sees a consistent tree.
//!
//! This file holds the space itself, its ids and the quota accounting;
//! the operations live with their concept: handles in [`crate::handle`],
//! signals and waits in [`crate::signals`], VMOs, VMARs and ports in
//! theirs.

use crate::handle::HandleTable;
use crate::mapping::{Mapping, VmCounters};
use crate::mem::{ChunkSlab, Mem, Slab, SlabId};
use crate::platform::Platform;
use crate::signals::{Event, Waiter};
use crate::vmar::{Vmar, VmarId};
use crate::vmo::Vmo;
use abi::*;
use core::cell::Cell;

/// A handle table's id.
pub type TableId = SlabId;
/// The signal state of a kernel-owned object, kept in the object space.
pub type SignalsId = SlabId;
/// A VMO's id inside the object space.
pub type VmoId = SlabId;
/// A mapping's id.
pub type MappingId = SlabId;

/// Mapping hints the space keeps of each kind (the last fault's, the last
/// stored result's): one per CPU up to this many (more CPUs share them,
/// which costs only hint misses).
pub const HINT_SLOTS: usize = 8;

/// An empty mapping hint: slot index `u32::MAX` is no live VMAR's (a slab
/// never grows that far), so no root matches it. A sentinel rather than
/// an `Option` keeps an entry 16 bytes (one shift to index).
const NO_HINT: (crate::vmar::VmarId, MappingId) = (
    crate::mem::SlabId::from_raw(u64::MAX),
    crate::mem::SlabId::from_raw(u64::MAX),
);

/// All of the object layer's state, over a [`Platform`].
pub struct ObjectSpace<P: Platform> {
    pub(crate) platform: P,
    pub(crate) mem: Mem,
    pub(crate) vmos: ChunkSlab<Vmo>,
    pub(crate) events: Slab<Event>,
    pub(crate) tables: Slab<HandleTable<P::KernelObject>>,
    pub(crate) mappings: ChunkSlab<Mapping>,
    pub(crate) vmars: Slab<Vmar>,
    pub(crate) waiters: Slab<Waiter>,
    pub(crate) ports: Slab<crate::port::Port>,
    pub(crate) port_items: Slab<crate::port::PortItem>,
    pub(crate) counters: Cell<VmCounters>,
    /// Per CPU ([`crate::Platform::cpu`]), the mapping its last fault under
    /// a root VMAR found, to try first: faults come in runs on one mapping
    /// (see [`ObjectSpace::vmar_fault`]), and CPUs faulting at once each
    /// have their own run. [`NO_HINT`] names no VMAR.
    pub(crate) fault_hints: [(crate::vmar::VmarId, MappingId); HINT_SLOTS],
    /// The task the current syscall acts for (see [`ObjectSpace::charge_vmo`]).
    pub(crate) actor: crate::vmo::Actor,
    /// Per CPU, the mapping its last stored result (`vmar_map`'s
    /// out-pointer) went through, to try first (as `fault_hints`).
    pub(crate) out_hints: [(crate::vmar::VmarId, MappingId); HINT_SLOTS],
    /// Whether destroyed VMOs with many pages free them in steps.
    pub(crate) defer_frees: bool,
    /// Destroyed VMOs whose frames wait for `reclaim_step`, and how many.
    pub(crate) dead_vmos: Option<VmoId>,
    pub(crate) dead_count: usize,
    next_koid: Koid,
    seed: u64,
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl<P: Platform> ObjectSpace<P> {
    /// An empty object space. `seed` scrambles handle values (use boot entropy).
    pub fn new(platform: P, seed: u64) -> Self {
        ObjectSpace {
            platform,
            mem: Mem::default(),
            vmos: ChunkSlab::default(),
            events: Slab::default(),
            tables: Slab::default(),
            mappings: ChunkSlab::default(),
            vmars: Slab::default(),
            waiters: Slab::default(),
            ports: Slab::default(),
            port_items: Slab::default(),
            counters: Cell::new(VmCounters::default()),
            fault_hints: [NO_HINT; HINT_SLOTS],
            actor: None,
            out_hints: [NO_HINT; HINT_SLOTS],
            defer_frees: false,
            dead_vmos: None,
            dead_count: 0,
            next_koid: 1024,
            seed,
        }
    }

    /// The platform (frame allocator, MMU, waker).
    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// The object-memory reservation helper (tests arm failures through it).
    pub fn mem(&self) -> &Mem {
        &self.mem
    }

    /// A fresh koid, for kernel-owned objects too.
    pub fn new_koid(&mut self) -> Koid {
        self.next_koid += 1;
        self.next_koid
    }

    /// A fresh secret for a handle table's values, from the seed.
    pub(crate) fn next_secret(&mut self) -> u32 {
        splitmix64(&mut self.seed) as u32
    }

    /// Number of live VMOs (including ones alive only through children or mappings).
    pub fn vmo_count(&self) -> usize {
        self.vmos.len() - self.dead_count
    }

    pub(crate) fn uncharge(&mut self, account: TableId, pages: u64) {
        if let Some(t) = self.tables.get(account) {
            t.committed_pages.set(t.committed_pages.get() - pages);
        }
    }

    /// The table `vmar`'s mappings are charged to, if it is still there
    /// (`Some(None)` once it has gone; `None` for the kernel's own VMARs).
    fn account_table(&self, vmar: VmarId) -> Option<Option<&HandleTable<P::KernelObject>>> {
        let account = self.vmars.get(vmar)?.account?;
        Some(self.tables.get(account))
    }

    /// How many translation-table pages a map in `vmar` may still take:
    /// what is left of its account's quota (none once the account has
    /// gone; any number for the kernel's own VMARs, whose translations
    /// live in the kernel's table, which charges none).
    #[cold]
    pub(crate) fn table_room(&self, vmar: VmarId) -> u64 {
        match self.account_table(vmar) {
            None => u64::MAX,
            Some(None) => 0,
            Some(Some(t)) => t
                .quota
                .max_committed_pages
                .saturating_sub(t.committed_pages.get()),
        }
    }

    /// Charges `pages` translation-table pages a map in `vmar` made to its
    /// account (within [`Self::table_room`], so the quota holds).
    #[cold]
    pub(crate) fn charge_tables(&self, vmar: VmarId, pages: u64) {
        if let Some(Some(t)) = self.account_table(vmar) {
            t.committed_pages.set(t.committed_pages.get() + pages);
            t.table_pages.set(t.table_pages.get() + pages as u32);
        }
    }

    /// Gives back `pages` translation-table pages an unmap in `vmar`
    /// freed. Saturating: every table page of a task's table is charged
    /// to the one account all VMARs in its slot share, so this is exact
    /// there; elsewhere nothing is charged and nothing is freed.
    #[cold]
    pub(crate) fn uncharge_tables(&self, vmar: VmarId, pages: u64) {
        if let Some(Some(t)) = self.account_table(vmar) {
            let n = pages.min(u64::from(t.table_pages.get()));
            t.committed_pages
                .set(t.committed_pages.get().saturating_sub(n));
            t.table_pages.set(t.table_pages.get() - n as u32);
        }
    }

    /// Charges `n` new mappings in `vmar` to the table its mappings count
    /// against (none for the kernel's own VMARs): `ZX_ERR_NO_MEMORY` over
    /// the table's [`Quota::max_mappings`].
    pub(crate) fn charge_mappings(&mut self, vmar: VmarId, n: u32) -> Result<(), Status> {
        let Some(account) = self.vmars[vmar].account else {
            return Ok(());
        };
        if let Some(t) = self.tables.get_mut(account) {
            let total = t.mappings.checked_add(n).ok_or(ZX_ERR_NO_MEMORY)?;
            if total > t.quota.max_mappings {
                return Err(ZX_ERR_NO_MEMORY);
            }
            t.mappings = total;
        }
        Ok(())
    }

    /// A mapping in `vmar` went.
    pub(crate) fn uncharge_mapping(&mut self, vmar: VmarId) {
        if let Some(t) = self.vmars[vmar]
            .account
            .and_then(|a| self.tables.get_mut(a))
        {
            t.mappings -= 1;
        }
    }
}
