//! Mapping bookkeeping: which VMO ranges are mapped at which virtual
//! addresses, so a change to what a page shows unmaps exactly the virtual
//! pages that showed it (through [`crate::Mmu::unmap`]), and a translation
//! fault learns which frame to map and whether writable.
//!
//! The kernel's VMAR code owns address allocation and page tables; it calls
//! [`ObjectSpace::map_vmo`] when it maps, [`ObjectSpace::unmap_vmo`] when a
//! mapping goes, and [`ObjectSpace::fault`] on a fault inside a mapping.

use crate::handle::Object;
use crate::platform::{Mmu, Platform};
use crate::space::{MappingId, ObjectSpace, TableId, VmoId};
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
    /// Whether the mapping allows writes (`ZX_VM_PERM_WRITE`).
    pub writable: bool,
}

impl Mapping {
    /// Unmaps the part of VMO pages `[a, b)` that this mapping covers.
    pub(crate) fn unmap_pages<M: Mmu>(&self, mmu: &M, a: u64, b: u64) {
        let lo = a.max(self.first_page);
        let hi = b.min(self.first_page + self.pages);
        if lo < hi {
            mmu.unmap(
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
}

/// What a translation fault inside a mapping should map.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FaultResolution {
    /// Map this frame, writable or read-only.
    Frame {
        /// Physical address of the page.
        paddr: u64,
        /// Whether the entry may be writable (the VMO's own page in a writable mapping).
        writable: bool,
    },
    /// No page shows here: map the kernel's shared zero page read-only.
    Zero,
}

impl<P: Platform> ObjectSpace<P> {
    /// Records a mapping of `len` bytes of the VMO `handle` names, from
    /// `vmo_offset`, at `vaddr`, with `perms` (`ZX_VM_PERM_*`). Needs MAP and
    /// READ / WRITE / EXECUTE as the permissions ask. The mapping keeps the
    /// VMO alive, and makes it a live child for its parent's ZERO_CHILDREN.
    pub fn map_vmo(
        &mut self,
        table: TableId,
        handle: Handle,
        vmo_offset: u64,
        len: u64,
        vaddr: u64,
        perms: VmOptions,
    ) -> Result<MappingId, Status> {
        let mut need = ZX_RIGHT_MAP;
        if perms & ZX_VM_PERM_READ != 0 {
            need |= ZX_RIGHT_READ;
        }
        if perms & ZX_VM_PERM_WRITE != 0 {
            need |= ZX_RIGHT_WRITE;
        }
        if perms & ZX_VM_PERM_EXECUTE != 0 {
            need |= ZX_RIGHT_EXECUTE;
        }
        let (id, _) = self.vmo_handle(table, handle, need)?;
        if !vmo_offset.is_multiple_of(PAGE_SIZE)
            || !vaddr.is_multiple_of(PAGE_SIZE)
            || len == 0
            || !len.is_multiple_of(PAGE_SIZE)
        {
            return Err(ZX_ERR_INVALID_ARGS);
        }
        vmo_offset.checked_add(len).ok_or(ZX_ERR_OUT_OF_RANGE)?;
        vaddr.checked_add(len).ok_or(ZX_ERR_OUT_OF_RANGE)?;
        self.mappings.reserve(&self.mem)?;
        let mem = &self.mem;
        mem.reserve(&mut self.vmos[id].mappings, 1)?;
        let m = self.mappings.insert_reserved(Mapping {
            vmo: id,
            first_page: vmo_offset / PAGE_SIZE,
            pages: len / PAGE_SIZE,
            vaddr,
            writable: perms & ZX_VM_PERM_WRITE != 0,
        });
        self.vmos[id].mappings.push(m);
        Ok(m)
    }

    /// Forgets a mapping the kernel has removed from its page tables
    /// (no [`Mmu::unmap`] call is made). The VMO may go with it.
    pub fn unmap_vmo(&mut self, mapping: MappingId) -> Result<(), Status> {
        let m = self.mappings.remove(mapping).ok_or(ZX_ERR_NOT_FOUND)?;
        let list = &mut self.vmos[m.vmo].mappings;
        let i = list
            .iter()
            .position(|&x| x == mapping)
            .expect("mapping listed");
        list.swap_remove(i);
        self.vmo_maybe_destroy(m.vmo);
        Ok(())
    }

    /// A mapping's record.
    pub fn mapping(&self, mapping: MappingId) -> Option<&Mapping> {
        self.mappings.get(mapping)
    }

    /// Resolves a translation fault at `vaddr` inside `mapping`.
    ///
    /// A read maps what the VMO shows (its own page writable if the mapping
    /// is; an ancestor's read-only; or the zero page) and never commits. A
    /// write (on a writable mapping) gives the VMO its own copy first.
    /// Past the VMO's end: `ZX_ERR_OUT_OF_RANGE` (the kernel delivers a fault).
    pub fn fault(
        &mut self,
        mapping: MappingId,
        vaddr: u64,
        write: bool,
    ) -> Result<FaultResolution, Status> {
        let m = *self.mappings.get(mapping).ok_or(ZX_ERR_NOT_FOUND)?;
        if vaddr < m.vaddr || vaddr - m.vaddr >= m.len() {
            return Err(ZX_ERR_OUT_OF_RANGE);
        }
        let page = m.first_page + (vaddr - m.vaddr) / PAGE_SIZE;
        if page >= self.vmos[m.vmo].size {
            return Err(ZX_ERR_OUT_OF_RANGE);
        }
        if write {
            if !m.writable {
                return Err(ZX_ERR_ACCESS_DENIED);
            }
            self.vmo_commit_pages(m.vmo, page, page + 1)?;
        }
        let own = self.vmos[m.vmo]
            .pages
            .binary_search_by_key(&page, |&(p, _)| p)
            .is_ok();
        Ok(match self.shown(m.vmo, page) {
            Some(f) => FaultResolution::Frame {
                paddr: f.paddr(),
                writable: own && m.writable,
            },
            None => FaultResolution::Zero,
        })
    }

    /// The VMO id behind a handle, for the kernel's VMAR code.
    pub fn vmo_of(&self, table: TableId, handle: Handle) -> Result<VmoId, Status> {
        match self.entry(table, handle)?.object {
            Object::Vmo(id) => Ok(id),
            _ => Err(ZX_ERR_WRONG_TYPE),
        }
    }
}
