//! Mapping records: which VMO range is mapped at which virtual addresses,
//! in which VMAR, with which permissions. A change to what a page shows
//! unmaps exactly the virtual pages that showed it (through
//! [`crate::Mmu::unmap`]); a translation fault maps what the VMO shows now.
//!
//! Records are created, split, trimmed and removed only by the VMAR code
//! ([`crate::vmar`]), which keeps each VMAR's sorted child list in step.

use crate::platform::{MapPerms, Platform, FAULT_NEEDS_EXCLUSIVE, MAP_NEEDS_TABLES};
use crate::space::{Counter, MappingId, ObjectSpace, VmoId};
use crate::vmar::VmarId;
use abi::*;

/// One mapping of a VMO range.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// The mapped VMO.
    pub(crate) vmo: VmoId,
    /// First mapped VMO page.
    pub(crate) first_page: u64,
    /// Number of mapped pages.
    pub(crate) pages: u64,
    /// Virtual address of the first mapped page.
    pub vaddr: u64,
    /// `ZX_VM_PERM_*` bits the mapping grants now.
    pub perms: VmOptions,
    /// `ZX_VM_PERM_*` bits `vmar_protect` may grant: what both the VMO handle
    /// and the VMAR handle allowed when the mapping was made.
    pub max_perms: VmOptions,
    /// The VMAR the mapping lies in.
    pub(crate) vmar: VmarId,
    /// Whether any translation was ever made for it: until then there is
    /// nothing to unmap, and unmapping a huge, untouched mapping is free.
    pub(crate) populated: bool,
    /// Where the mapping sits in its VMO's mapping list, so it leaves the
    /// list in O(1) (see [`ObjectSpace::vmo_list_remove`]).
    pub(crate) vmo_slot: u32,
    /// Its VMO's copy-on-write hierarchy (`Vmo::hierarchy`), whose lock a
    /// shared fault takes ([`ObjectSpace::vmar_fault_shared`]) before it
    /// looks at the VMO.
    pub(crate) hierarchy: Koid,
}

impl Mapping {
    /// Unmaps the part of VMO pages `[a, b)` that this mapping covers.
    pub(crate) fn unmap_pages<P: Platform>(&self, space: &ObjectSpace<P>, a: u64, b: u64) {
        let lo = a.max(self.first_page);
        let hi = b.min(self.first_page + self.pages);
        if lo < hi && self.populated {
            space.mmu_unmap(
                self.vmar,
                self.vaddr + (lo - self.first_page) * PAGE_SIZE,
                (hi - lo) * PAGE_SIZE,
            );
        }
    }

    /// Length of the mapping in bytes.
    pub fn len(&self) -> u64 {
        self.pages * PAGE_SIZE
    }

    /// Whether the mapping is empty (never: mappings have at least one page).
    pub fn is_empty(&self) -> bool {
        self.pages == 0
    }

    /// End (exclusive) of the mapping's virtual range.
    pub fn end(&self) -> u64 {
        self.vaddr + self.len()
    }

    /// Whether `vaddr` lies in the mapping's virtual range.
    pub fn contains(&self, vaddr: u64) -> bool {
        self.vaddr <= vaddr && vaddr < self.end()
    }

    /// Whether the mapping allows writes.
    pub fn writable(&self) -> bool {
        self.perms & ZX_VM_PERM_WRITE != 0
    }

    /// Whether the mapping allows instruction fetches.
    pub fn executable(&self) -> bool {
        self.perms & ZX_VM_PERM_EXECUTE != 0
    }
}

/// A fault at a page of a mapping that allows the access.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Fault {
    /// The mapping.
    mapping: MappingId,
    /// The mapped VMO.
    vmo: VmoId,
    /// The VMO page the fault is on.
    page: u64,
    /// The virtual address of that page.
    page_va: u64,
    /// Whether the mapping is executable.
    executable: bool,
    /// Whether the mapping is writable.
    writable: bool,
    /// Whether the mapping was marked populated before this fault.
    was_populated: bool,
}

impl Fault {
    /// Checks that mapping `m` allows `access` at `vaddr` (inside it), and
    /// marks it populated: before any translation is made, so that no
    /// failure on the way can leave one behind that an unmap would skip (a
    /// fault past the VMO's end, which maps nothing, puts the mark back).
    #[inline]
    pub(crate) fn claim(
        mapping: MappingId,
        m: &mut Mapping,
        vaddr: u64,
        access: Access,
    ) -> Result<Fault, Status> {
        let fault = Fault::of(mapping, m, vaddr, access)?;
        m.populated = true;
        Ok(fault)
    }

    /// [`Self::claim`] for a fault resolved through a shared reference
    /// ([`ObjectSpace::vmar_fault_shared`]), which changes no mapping: one
    /// that is not populated yet needs the space held exclusively
    /// ([`FAULT_NEEDS_EXCLUSIVE`]), once per mapping.
    #[inline]
    pub(crate) fn check(
        mapping: MappingId,
        m: &Mapping,
        vaddr: u64,
        access: Access,
    ) -> Result<Fault, Status> {
        let fault = Fault::of(mapping, m, vaddr, access)?;
        if !fault.was_populated {
            return Err(FAULT_NEEDS_EXCLUSIVE);
        }
        Ok(fault)
    }

    /// The fault at `vaddr` (inside mapping `m`) if `m` allows `access`,
    /// `was_populated` as the mapping is now.
    #[inline(always)]
    fn of(mapping: MappingId, m: &Mapping, vaddr: u64, access: Access) -> Result<Fault, Status> {
        debug_assert!(vaddr >= m.vaddr && vaddr < m.end());
        if m.perms & access.perm() == 0 {
            return Err(ZX_ERR_ACCESS_DENIED);
        }
        let page_va = vaddr & !(PAGE_SIZE - 1);
        Ok(Fault {
            mapping,
            vmo: m.vmo,
            page: m.first_page + (page_va - m.vaddr) / PAGE_SIZE,
            page_va,
            executable: m.executable(),
            writable: m.writable(),
            was_populated: m.populated,
        })
    }
}

/// What a fault asks for.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// A load.
    Read,
    /// A store.
    Write,
    /// An instruction fetch.
    Execute,
}

impl Access {
    /// The `ZX_VM_PERM_*` bit the access needs.
    pub fn perm(self) -> VmOptions {
        match self {
            Access::Read => ZX_VM_PERM_READ,
            Access::Write => ZX_VM_PERM_WRITE,
            Access::Execute => ZX_VM_PERM_EXECUTE,
        }
    }
}

/// A mapping as a fault report describes it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MappingInfo {
    /// Virtual address of the mapping's first page.
    pub base: u64,
    /// Length in bytes.
    pub len: u64,
    /// `ZX_VM_PERM_*` bits it grants now.
    pub perms: VmOptions,
    /// Koid of the mapped VMO.
    pub vmo_koid: Koid,
    /// Byte offset in the VMO of the mapping's first page.
    pub vmo_offset: u64,
    /// The VMO's size in bytes now.
    pub vmo_size: u64,
}

/// What the layer has done, for tests and benchmarks.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct VmCounters {
    /// Pages a VMO got as a copy of an ancestor's page (write, COMMIT, fault).
    pub pages_copied: u64,
    /// Pages a VMO got zero-filled because nothing showed there.
    pub pages_zero_filled: u64,
    /// Faults that ended in a new translation.
    pub faults_resolved: u64,
    /// Of those, translations of the shared zero page.
    pub zero_page_maps: u64,
    /// [`crate::Mmu::map`] calls (faults and `ZX_VM_MAP_RANGE`).
    pub mmu_maps: u64,
    /// [`crate::Mmu::unmap`] calls.
    pub mmu_unmaps: u64,
}

impl<P: Platform> ObjectSpace<P> {
    /// A mapping's record.
    pub fn mapping(&self, mapping: MappingId) -> Option<&Mapping> {
        self.mappings.get(mapping)
    }

    /// Whether every VMO's mapping list holds exactly its live mappings,
    /// each at the slot its record names, the populated ones first; and
    /// every child list likewise (for tests).
    pub fn mapping_lists_consistent(&self) -> bool {
        let listed: usize = self.vmos.ids().map(|v| self.vmos[v].mappings.len()).sum();
        listed == self.mappings.len()
            && self.vmos.ids().all(|v| {
                let pm = self.vmos[v].populated_mappings as usize;
                pm <= self.vmos[v].mappings.len()
                    && self.vmos[v].mappings.iter().enumerate().all(|(i, &m)| {
                        self.mappings.get(m).is_some_and(|r| {
                            r.vmo == v && r.vmo_slot as usize == i && r.populated == (i < pm)
                        })
                    })
            })
            && self.child_lists_consistent()
    }

    /// Adds mapping `id` to its VMO's mapping list (room reserved) and
    /// records where it went (among the populated ones if it is: a split
    /// of a populated mapping).
    pub(crate) fn vmo_list_add(&mut self, id: MappingId) {
        let m = &self.mappings[id];
        let (vmo, populated) = (m.vmo, m.populated);
        let list = &mut self.vmos[vmo].mappings;
        debug_assert!(list.len() < list.capacity(), "room reserved");
        let slot = list.len() as u32;
        list.push(id);
        self.mappings[id].vmo_slot = slot;
        if populated {
            self.mapping_list_populate(vmo, slot);
        }
    }

    /// Removes the entry at `slot` of `vmo`'s mapping list in O(1): a
    /// populated entry first trades places with the last populated one,
    /// then the last entry moves into the hole and its mapping learns its
    /// new slot.
    pub(crate) fn vmo_list_remove(&mut self, vmo: VmoId, slot: u32) {
        let slot = if slot < self.vmos[vmo].populated_mappings {
            self.mapping_list_unpopulate(vmo, slot)
        } else {
            slot
        };
        let list = &mut self.vmos[vmo].mappings;
        list.swap_remove(slot as usize);
        if let Some(&moved) = list.get(slot as usize) {
            self.mappings[moved].vmo_slot = slot;
        }
    }

    /// Moves the unpopulated entry at `slot` of `vmo`'s mapping list
    /// among the populated ones (its mapping just became populated).
    fn mapping_list_populate(&mut self, vmo: VmoId, slot: u32) {
        let v = &self.vmos[vmo];
        let (was, line) = (v.watched(), v.populated_mappings);
        debug_assert!(slot >= line);
        self.mappings_swap(vmo, slot, line);
        self.vmos[vmo].populated_mappings = line + 1;
        self.vmo_watch_update(vmo, was);
    }

    /// Moves the populated entry at `slot` of `vmo`'s mapping list past
    /// the populated ones; returns its new slot.
    fn mapping_list_unpopulate(&mut self, vmo: VmoId, slot: u32) -> u32 {
        let v = &self.vmos[vmo];
        let (was, line) = (v.watched(), v.populated_mappings);
        debug_assert!(slot < line);
        self.mappings_swap(vmo, slot, line - 1);
        self.vmos[vmo].populated_mappings = line - 1;
        self.vmo_watch_update(vmo, was);
        line - 1
    }

    /// Mapping `id` was just marked populated (it was not).
    #[inline]
    fn mapping_now_populated(&mut self, id: MappingId) {
        let m = &self.mappings[id];
        self.mapping_list_populate(m.vmo, m.vmo_slot);
    }

    /// [`Mmu::unmap`] in `vmar`, counted; the table pages it freed go
    /// back to `vmar`'s account.
    pub(crate) fn mmu_unmap(&self, vmar: VmarId, vaddr: u64, len: u64) {
        self.count(Counter::MmuUnmaps);
        let freed = self.platform.unmap(vaddr, len);
        if freed != 0 {
            self.uncharge_tables(vmar, freed);
        }
    }

    /// [`Mmu::map`] for mapping `id`, counted. First without table pages
    /// (almost every map finds its tables there); one that needs some asks
    /// again with the room the mapping's account has left, and is charged
    /// for what it made: `ZX_ERR_NO_MEMORY` past the quota.
    #[inline(always)]
    pub(crate) fn mmu_map(
        &self,
        id: MappingId,
        vaddr: u64,
        paddr: u64,
        perms: MapPerms,
    ) -> Result<(), Status> {
        self.count(Counter::MmuMaps);
        match self.platform.map(vaddr, paddr, perms) {
            Ok(()) => Ok(()),
            Err(e) => self.mmu_map_charged(e, id, vaddr),
        }
    }

    /// [`Self::mmu_map`] for a fault: a shared one ([`Self::fault_resolve`])
    /// leaves a map that needs table pages to the exclusive path.
    #[inline(always)]
    fn fault_map(
        &self,
        id: MappingId,
        vaddr: u64,
        paddr: u64,
        perms: MapPerms,
        (cpu, shared): (usize, bool),
    ) -> Result<(), Status> {
        self.count_on(cpu, Counter::MmuMaps);
        match self.platform.map(vaddr, paddr, perms) {
            Ok(()) => Ok(()),
            Err(MAP_NEEDS_TABLES) if shared => Err(FAULT_NEEDS_EXCLUSIVE),
            Err(e) => self.mmu_map_charged(e, id, vaddr),
        }
    }

    /// [`Self::mmu_map`] of mapping `id` at `vaddr` that failed with `e`:
    /// again with table pages if that was what it needed. What it maps is
    /// found again ([`Self::translation`]: what the fault or populate asked
    /// for), so the hot path keeps nothing live for this rare case.
    #[cold]
    #[inline(never)]
    fn mmu_map_charged(&self, e: Status, id: MappingId, vaddr: u64) -> Result<(), Status> {
        if e != MAP_NEEDS_TABLES {
            return Err(e);
        }
        let m = &self.mappings[id];
        let (paddr, perms) = self.translation(m, m.first_page + (vaddr - m.vaddr) / PAGE_SIZE);
        let vmar = m.vmar;
        let room = self.table_room(vmar);
        match self.platform.map_with_tables(vaddr, paddr, perms, room) {
            Ok(made) => {
                self.charge_tables(vmar, made);
                Ok(())
            }
            Err(MAP_NEEDS_TABLES) => Err(ZX_ERR_NO_MEMORY),
            Err(e) => Err(e),
        }
    }

    /// What mapping `m` should translate VMO page `page` to now: the frame
    /// and whether the entry may be writable (the VMO's own page in a
    /// writable mapping). `None` for the frame: the zero page.
    fn translation(&self, m: &Mapping, page: u64) -> (u64, MapPerms) {
        let own = self.vmos[m.vmo].find(page).is_ok();
        let execute = m.executable();
        match self.shown(m.vmo, page) {
            Some(f) => (
                f.paddr(),
                MapPerms {
                    write: own && m.writable(),
                    execute,
                },
            ),
            None => (
                self.platform.zero_page().paddr(),
                MapPerms {
                    write: false,
                    execute,
                },
            ),
        }
    }

    /// Resolves a fault claimed by a mapping (see [`ObjectSpace::vmar_fault`]).
    #[allow(unsafe_code)]
    pub(crate) fn mapping_fault(&mut self, fault: Fault, access: Access) -> Result<(), Status> {
        if !fault.was_populated {
            if fault.page >= self.vmos[fault.vmo].size {
                // Nothing is mapped: the mapping is as unpopulated as it was.
                self.mappings[fault.mapping].populated = false;
                return Err(ZX_ERR_OUT_OF_RANGE);
            }
            // The claim marked it: it joins its VMO's populated mappings
            // (once per mapping, not per fault).
            self.mapping_now_populated(fault.mapping);
        }
        // SAFETY: `&mut self`: this call may change any VMO.
        unsafe { self.fault_resolve(fault, access, false) }
    }

    /// Resolves a fault of a populated mapping: the translation it asks
    /// for, after a copy-on-write or zero-fill commit if it writes a page
    /// its VMO lacks. Changes the page lists of the VMO's hierarchy (and
    /// the translations of their mappings), nothing else of the space but
    /// atomics. `shared`: under [`ObjectSpace::vmar_fault_shared`], where a
    /// map that needs new table pages is left to the exclusive path
    /// ([`FAULT_NEEDS_EXCLUSIVE`]) so the quota is charged one at a time.
    ///
    /// # Safety
    ///
    /// The caller may change the VMOs of the fault's hierarchy
    /// ([`Self::vmo_mut`]) and holds no reference to any of them.
    #[allow(unsafe_code)]
    #[inline(always)]
    pub(crate) unsafe fn fault_resolve(
        &self,
        fault: Fault,
        access: Access,
        shared: bool,
    ) -> Result<(), Status> {
        let Fault {
            mapping: id,
            vmo,
            page,
            page_va,
            executable,
            writable,
            was_populated: _,
        } = fault;
        let how = (self.platform.cpu(), shared);
        // One lookup of the VMO for the size, the page's place and (a
        // load) its own frame.
        let v = &self.vmos[vmo];
        if page >= v.size {
            return Err(ZX_ERR_OUT_OF_RANGE);
        }
        let own = if access == Access::Write {
            match v.find(page) {
                Ok(i) => Some(v.pages[i].1),
                Err(at) => {
                    // The copy-on-write (or zero-fill) fault: the VMO gets
                    // its own page, mapped writable here. This mapping's
                    // translation of the page is replaced (break-before-make
                    // in `Mmu::map`), not unmapped first.
                    // SAFETY: passed on from the caller; `v` is not used
                    // past here.
                    let frame = unsafe { self.vmo_commit_one(vmo, page, at, Some(id), how) }?;
                    let perms = MapPerms {
                        write: true,
                        execute: executable,
                    };
                    if let Err(e) = self.fault_map(id, page_va, frame.paddr(), perms, how) {
                        // No partial effect: the page the fault committed goes again.
                        // SAFETY: as above.
                        unsafe { self.vmo_uncommit_one(vmo, page) };
                        return Err(e);
                    }
                    self.count_on(how.0, Counter::FaultsResolved);
                    return Ok(());
                }
            }
        } else {
            v.own(page)
        };
        // What the mapping shows now: the VMO's own page (writable if the
        // mapping is), else an ancestor's or the zero page (read-only).
        let (paddr, perms) = match own {
            Some(f) => (
                f.paddr(),
                MapPerms {
                    write: writable,
                    execute: executable,
                },
            ),
            None => {
                let shown = match v.parent {
                    Some(link) if page < link.window => self.shown(link.id, page + link.offset),
                    _ => None,
                };
                let paddr = shown.unwrap_or_else(|| self.platform.zero_page()).paddr();
                let perms = MapPerms {
                    write: false,
                    execute: executable,
                };
                (paddr, perms)
            }
        };
        self.fault_map(id, page_va, paddr, perms, how)?;
        let zero = paddr == self.platform.zero_page().paddr();
        self.count_on(how.0, Counter::FaultsResolved);
        if zero {
            self.count_on(how.0, Counter::ZeroPageMaps);
        }
        Ok(())
    }

    /// `ZX_VM_MAP_RANGE`: maps every page of mapping `id` that its VMO shows
    /// a frame for (own or an ancestor's), as a fault would. Pages showing
    /// nothing stay unmapped, so no zero page is mapped here. All at once:
    /// [`Self::populate_step`] does it in bounded pieces.
    pub(crate) fn mapping_populate(&mut self, id: MappingId) -> Result<(), Status> {
        let mut p = Populate::new(&self.mappings[id]);
        while !self.populate_level(id, &mut p, usize::MAX)? {}
        Ok(())
    }

    /// A piece of [`Self::mapping_populate`] for the mapping `p` was made
    /// for: at most `budget` (at least one) own pages of the chain looked
    /// at. `Ok(true)` once done, or once no mapping of that VMO starts at
    /// that address any more (the lock may have been dropped since the
    /// map: a mapping that went, or was cut, is populated no further).
    pub fn populate_step(
        &mut self,
        root: VmarId,
        p: &mut Populate,
        budget: usize,
    ) -> Result<bool, Status> {
        match self.find_mapping(root, p.vaddr) {
            Some(id) if self.mappings[id].vaddr == p.vaddr && self.mappings[id].vmo == p.vmo => {
                self.populate_level(id, p, budget.max(1))
            }
            _ => Ok(true),
        }
    }

    /// Starts removing the mapping `p` was made for, as a map whose
    /// translations failed goes ([`Self::vmar_unmap_step`] goes on); `None`
    /// once it went already.
    pub fn populate_undo(&mut self, root: VmarId, p: &Populate) -> Option<crate::Unmapping> {
        let id = self.find_mapping(root, p.vaddr)?;
        let m = self.mappings[id];
        if m.vaddr != p.vaddr || m.vmo != p.vmo {
            return None;
        }
        self.vmar_unmap_begin(m.vmar, m.vaddr, m.len()).ok()
    }

    /// Maps what level `p.level` of mapping `id`'s chain shows, from
    /// `p.next` on, at most `budget` own pages of it; moves `p` on.
    fn populate_level(
        &mut self,
        id: MappingId,
        p: &mut Populate,
        mut budget: usize,
    ) -> Result<bool, Status> {
        let m = self.mappings[id];
        // The mapped pages that level shows, in its own page indices: each
        // link up offsets them and cuts them at the child's window.
        let mut level = m.vmo;
        let mut lo = m.first_page;
        let mut hi = (m.first_page + m.pages).min(self.vmos[m.vmo].size);
        // Offset from the mapped VMO's page index to `level`'s.
        let mut shift = 0u64;
        for _ in 0..p.level {
            let Some(link) = self.vmos[level].parent else {
                return Ok(true);
            };
            hi = hi.min(link.window) + link.offset;
            lo += link.offset;
            shift += link.offset;
            level = link.id;
        }
        if lo >= hi {
            // Nothing shown from here, and a level up shows no more.
            return Ok(true);
        }
        let range = self.vmos[level].owned_range(lo.max(p.next.saturating_add(shift)), hi);
        for i in range {
            if budget == 0 {
                p.next = self.vmos[level].pages[i].0 - shift;
                return Ok(false);
            }
            budget -= 1;
            let (own, frame) = self.vmos[level].pages[i];
            let page = own - shift;
            let (paddr, perms) = self.translation(&m, page);
            // Only the nearest page shows; a deeper level's page may be hidden.
            if frame.paddr() == paddr {
                // Marked first: a failure part-way leaves translations to remove.
                if !core::mem::replace(&mut self.mappings[id].populated, true) {
                    self.mapping_now_populated(id);
                }
                self.mmu_map(
                    id,
                    m.vaddr + (page - m.first_page) * PAGE_SIZE,
                    paddr,
                    perms,
                )?;
            }
        }
        Ok(self.populate_up(p, level))
    }

    /// Moves `p` to the level above `level`; whether there is none.
    fn populate_up(&self, p: &mut Populate, level: VmoId) -> bool {
        p.level += 1;
        p.next = 0;
        self.vmos[level].parent.is_none()
    }
}

/// Where a `ZX_VM_MAP_RANGE`'s translations stand between pieces
/// ([`ObjectSpace::populate_step`]): the chain is walked level by level,
/// each level's own pages in order.
#[derive(Copy, Clone, Debug)]
pub struct Populate {
    /// The mapping, by where it starts and what it maps.
    vaddr: u64,
    vmo: VmoId,
    /// Links up from the mapped VMO.
    level: u32,
    /// The next page to look at, as a page index of the mapped VMO.
    next: u64,
}

impl Populate {
    pub(crate) fn new(m: &Mapping) -> Self {
        Self::at(m.vaddr, m.vmo)
    }

    /// For the mapping of `vmo` that starts at `vaddr`.
    pub(crate) fn at(vaddr: u64, vmo: VmoId) -> Self {
        Self {
            vaddr,
            vmo,
            level: 0,
            next: 0,
        }
    }
}
