//! The object space: every object, handle table, mapping and waiter, owned
//! in one place. The kernel keeps one `ObjectSpace` behind a reader-writer
//! lock: every operation takes `&mut self` and sees a consistent tree,
//! but for page faults, which may run on several CPUs at once through
//! `&self` ([`ObjectSpace::vmar_fault_shared`]), each holding the lock of
//! the copy-on-write hierarchy whose page lists it changes.
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
use core::sync::atomic::{AtomicU64, Ordering};

/// A handle table's id.
pub type TableId = SlabId;
/// The signal state of a kernel-owned object, kept in the object space.
pub type SignalsId = SlabId;
/// A VMO's id inside the object space.
pub type VmoId = SlabId;
/// A mapping's id.
pub type MappingId = SlabId;

/// CPUs the space keeps state of its own for: mapping hints of each kind
/// (the last fault's, the last stored result's) and counters, one slot
/// per CPU ([`crate::Platform::cpu`] is below this).
pub const HINT_SLOTS: usize = 8;

/// An empty mapping hint: slot index `u32::MAX` is no live VMAR's (a slab
/// never grows that far), so no root matches it. A sentinel rather than
/// an `Option` keeps an entry 16 bytes (one shift to index).
const NO_HINT: (crate::vmar::VmarId, MappingId) = (
    crate::mem::SlabId::from_raw(u64::MAX),
    crate::mem::SlabId::from_raw(u64::MAX),
);

/// One CPU's last fault mapping ([`ObjectSpace::fault_hints`]): its root
/// VMAR and the mapping, as raw slab ids.
pub(crate) struct FaultHint {
    root: AtomicU64,
    mapping: AtomicU64,
}

impl Default for FaultHint {
    fn default() -> Self {
        FaultHint {
            root: AtomicU64::new(NO_HINT.0.raw()),
            mapping: AtomicU64::new(NO_HINT.1.raw()),
        }
    }
}

impl FaultHint {
    /// The hint (read by the CPU that writes it: never torn).
    #[inline(always)]
    pub(crate) fn get(&self) -> (crate::vmar::VmarId, MappingId) {
        (
            SlabId::from_raw(self.root.load(Ordering::Relaxed)),
            SlabId::from_raw(self.mapping.load(Ordering::Relaxed)),
        )
    }

    #[inline(always)]
    pub(crate) fn set(&self, (root, mapping): (crate::vmar::VmarId, MappingId)) {
        self.root.store(root.raw(), Ordering::Relaxed);
        self.mapping.store(mapping.raw(), Ordering::Relaxed);
    }
}

/// What [`ObjectSpace::count`] counts: the fields of [`VmCounters`].
#[derive(Copy, Clone)]
pub(crate) enum Counter {
    PagesCopied,
    PagesZeroFilled,
    FaultsResolved,
    ZeroPageMaps,
    MmuMaps,
    MmuUnmaps,
}

/// One CPU's counts, by [`Counter`], on a cache line of its own (each
/// CPU's faults write theirs).
#[derive(Default)]
#[repr(align(64))]
pub(crate) struct CounterSlot([AtomicU64; 6]);

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
    /// The layer's counters, one slot per CPU: only that CPU writes it
    /// ([`ObjectSpace::count`]).
    pub(crate) counters: [CounterSlot; HINT_SLOTS],
    /// Per CPU ([`crate::Platform::cpu`]), the mapping
    /// its last fault under a root VMAR found, to try first: faults come in
    /// runs on one mapping (see [`ObjectSpace::vmar_fault`]), and CPUs
    /// faulting at once each have their own run. Atomics, as faults on
    /// several CPUs run at once ([`ObjectSpace::vmar_fault_shared`]); each
    /// slot is written by its CPU only. [`NO_HINT`] names no VMAR.
    pub(crate) fault_hints: [FaultHint; HINT_SLOTS],
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
            counters: Default::default(),
            fault_hints: Default::default(),
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

    /// Counts one `c`, in this CPU's own slot: a plain load and store, as
    /// no other CPU writes it.
    #[inline(always)]
    pub(crate) fn count(&self, c: Counter) {
        self.count_on(self.platform.cpu(), c);
    }

    /// [`Self::count`] for a caller that has this CPU's number at hand.
    #[inline(always)]
    pub(crate) fn count_on(&self, cpu: usize, c: Counter) {
        let n = &self.counters[cpu % HINT_SLOTS].0[c as usize];
        n.store(n.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    /// The layer's counters so far (all CPUs').
    pub fn vm_counters(&self) -> VmCounters {
        let sum = |c: Counter| {
            self.counters
                .iter()
                .map(|s| s.0[c as usize].load(Ordering::Relaxed))
                .sum()
        };
        VmCounters {
            pages_copied: sum(Counter::PagesCopied),
            pages_zero_filled: sum(Counter::PagesZeroFilled),
            faults_resolved: sum(Counter::FaultsResolved),
            zero_page_maps: sum(Counter::ZeroPageMaps),
            mmu_maps: sum(Counter::MmuMaps),
            mmu_unmaps: sum(Counter::MmuUnmaps),
        }
    }

    /// Number of live VMOs (including ones alive only through children or mappings).
    pub fn vmo_count(&self) -> usize {
        self.vmos.len() - self.dead_count
    }

    pub(crate) fn uncharge(&self, account: TableId, pages: u64) {
        if let Some(t) = self.tables.get(account) {
            t.committed_pages.fetch_sub(pages, Ordering::Relaxed);
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
                .saturating_sub(t.committed_pages.load(Ordering::Relaxed)),
        }
    }

    /// Charges `pages` translation-table pages a map in `vmar` made to its
    /// account (within [`Self::table_room`], so the quota holds).
    #[cold]
    pub(crate) fn charge_tables(&self, vmar: VmarId, pages: u64) {
        if let Some(Some(t)) = self.account_table(vmar) {
            t.committed_pages.fetch_add(pages, Ordering::Relaxed);
            t.table_pages.fetch_add(pages as u32, Ordering::Relaxed);
        }
    }

    /// Gives back `pages` translation-table pages an unmap in `vmar`
    /// freed. Saturating: every table page of a task's table is charged
    /// to the one account all VMARs in its slot share, so this is exact
    /// there; elsewhere nothing is charged and nothing is freed.
    #[cold]
    pub(crate) fn uncharge_tables(&self, vmar: VmarId, pages: u64) {
        if let Some(Some(t)) = self.account_table(vmar) {
            // Faults on other CPUs may give pages back at the same time:
            // take off what is there, in one step.
            let mut n = 0;
            let _ = t
                .table_pages
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
                    n = pages.min(u64::from(held)) as u32;
                    Some(held - n)
                });
            t.committed_pages.fetch_sub(u64::from(n), Ordering::Relaxed);
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
