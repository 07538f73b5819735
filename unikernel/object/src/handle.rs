//! Per-task handle tables: slots with generation bits and a per-table
//! secret, so handle values are hard to guess and not reused soon.
//!
//! Slots live in chunks of [`CHUNK`] (a table grows by one chunk at a
//! time, never by copying one contiguous block), freed slots go on a free
//! list, and open handles are linked in a list of their own, so a task's
//! end closes its handles in O(open handles), whatever the table once held.
//!
//! Below the table, the object space's handle operations: tables made and
//! torn down, handles looked up (with Zircon's order of checks), installed,
//! closed, duplicated, replaced and moved between tables.

use crate::mem::{Mem, SlabId};
use crate::platform::{KernelObject, Platform};
use crate::signals::Waitable;
use crate::space::{ObjectSpace, TableId, VmoId};
use abi::*;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Slot index bits in a handle value; a table holds at most `1 << 14` handles.
const INDEX_BITS: u32 = 14;
/// Largest number of handles a table can hold.
pub const MAX_HANDLES_PER_TABLE: u32 = 1 << INDEX_BITS;
const INDEX_MASK: u32 = MAX_HANDLES_PER_TABLE - 1;
/// Slots per chunk of a table.
pub const CHUNK: usize = 256;
/// No slot (the ends of the lists).
const NIL: u16 = u16::MAX;
/// Bits of a handle value above the fixed low bits.
const VALUE_MASK: u32 = u32::MAX >> 2;

/// Limits on what one table (one task) may hold.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Quota {
    /// Most handles open at once (capped at [`MAX_HANDLES_PER_TABLE`]).
    pub max_handles: u32,
    /// Most pages charged to this table: pages committed by VMOs it
    /// created, and the translation-table pages its mappings needed
    /// ([`crate::Mmu::map`]).
    pub max_committed_pages: u64,
    /// Most mappings at once in the VMARs charged to this table (see
    /// [`crate::ObjectSpace::vmar_set_account`]); splits count too.
    pub max_mappings: u32,
}

impl Default for Quota {
    /// 4096 handles, 1 GiB of committed pages and 32,768 mappings.
    fn default() -> Self {
        Quota {
            max_handles: 4096,
            max_committed_pages: 1 << 18,
            max_mappings: 1 << 15,
        }
    }
}

/// What a handle names: the object layer's own objects, or the kernel's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Object<K> {
    /// A VMO (an id in the object space).
    Vmo(SlabId),
    /// An event (an id in the object space).
    Event(SlabId),
    /// A VMAR (an id in the object space). Closing its last handle does
    /// not destroy it: its parent holds it until `vmar_destroy`.
    Vmar(SlabId),
    /// A port (an id in the object space).
    Port(SlabId),
    /// A kernel-owned object (thread, task).
    Kernel(K),
}

/// A handle table entry: the object and the handle's rights.
#[derive(Clone, Debug)]
pub struct Entry<K> {
    /// The object.
    pub object: Object<K>,
    /// The rights this handle carries.
    pub rights: Rights,
}

enum Slot<K> {
    /// An open handle, linked with the other open ones.
    Used {
        generation: u16,
        prev: u16,
        next: u16,
        entry: Entry<K>,
    },
    Free {
        generation: u16,
        next: Option<u32>,
    },
}

/// One task's handles.
pub struct HandleTable<K> {
    /// Chunks of [`CHUNK`] slots, each allocated whole; slot `i` is
    /// `chunks[i / CHUNK][i % CHUNK]`.
    chunks: Vec<Vec<Slot<K>>>,
    /// Slots in use or on the free list (indices below it exist).
    slot_count: u32,
    free: Option<u32>,
    /// The open handles' list (most recent first).
    used: u16,
    count: u32,
    secret: u32,
    pub(crate) quota: Quota,
    /// Pages charged against [`Quota::max_committed_pages`]: VMO pages and
    /// table pages. An atomic: the unmaps of a `&self` walk (a VMO's
    /// change unmapping it from every mapping) give table pages back, and
    /// faults on several CPUs charge pages at once
    /// ([`crate::ObjectSpace::vmar_fault_shared`]).
    pub(crate) committed_pages: AtomicU64,
    /// Mappings charged to this table now.
    pub(crate) mappings: u32,
    /// Async waits charged to this table now ([`crate::port`]).
    pub(crate) async_waits: u32,
    /// Being torn down ([`crate::ObjectSpace::destroy_table_step`]): no
    /// handle goes in any more.
    pub(crate) closing: bool,
    /// Of [`Self::committed_pages`], translation-table pages (beside
    /// `closing`, in what was padding: the table's size stays).
    pub(crate) table_pages: AtomicU32,
}

impl<K> HandleTable<K> {
    pub(crate) fn new(quota: Quota, secret: u32) -> Self {
        HandleTable {
            chunks: Vec::new(),
            slot_count: 0,
            free: None,
            used: NIL,
            count: 0,
            secret: secret & VALUE_MASK,
            quota,
            committed_pages: AtomicU64::new(0),
            mappings: 0,
            async_waits: 0,
            closing: false,
            table_pages: AtomicU32::new(0),
        }
    }

    fn encode(&self, index: u32, generation: u16) -> Handle {
        let raw = ((generation as u32) << INDEX_BITS) | index;
        (((raw ^ self.secret) & VALUE_MASK) << 2) | ZX_HANDLE_FIXED_BITS_MASK
    }

    fn decode(&self, handle: Handle) -> Option<(u32, u16)> {
        if handle & ZX_HANDLE_FIXED_BITS_MASK != ZX_HANDLE_FIXED_BITS_MASK {
            return None;
        }
        let raw = (handle >> 2) ^ self.secret;
        Some((raw & INDEX_MASK, (raw >> INDEX_BITS) as u16))
    }

    /// Number of open handles.
    pub fn len(&self) -> u32 {
        self.count
    }

    /// Whether no handle is open.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Ensures one [`HandleTable::insert_reserved`] succeeds without allocating.
    pub(crate) fn reserve(&mut self, mem: &Mem) -> Result<(), Status> {
        if self.closing {
            return Err(ZX_ERR_BAD_STATE);
        }
        if self.count >= self.quota.max_handles.min(MAX_HANDLES_PER_TABLE) {
            return Err(ZX_ERR_NO_MEMORY);
        }
        if self.free.is_some() || self.chunks.len() * CHUNK > self.slot_count as usize {
            return mem.reserve(&mut Vec::<u8>::new(), 0);
        }
        // A new chunk, allocated whole (an empty one left by a failed call
        // is used by the next).
        mem.reserve(&mut self.chunks, 1)?;
        let mut chunk = Vec::new();
        mem.reserve(&mut chunk, CHUNK)?;
        self.chunks.push(chunk);
        Ok(())
    }

    fn slot(&self, index: u32) -> Option<&Slot<K>> {
        let i = index as usize;
        self.chunks.get(i / CHUNK)?.get(i % CHUNK)
    }

    fn slot_mut(&mut self, index: u32) -> &mut Slot<K> {
        let i = index as usize;
        &mut self.chunks[i / CHUNK][i % CHUNK]
    }

    /// Sets the `prev` (or, `to_next`, the `next`) link of the used slot `at`.
    fn link(&mut self, at: u16, to_next: bool, value: u16) {
        if at == NIL {
            return;
        }
        match self.slot_mut(at.into()) {
            Slot::Used { prev, next, .. } => *(if to_next { next } else { prev }) = value,
            Slot::Free { .. } => unreachable!("open-handle list points at a free slot"),
        }
    }

    pub(crate) fn insert_reserved(&mut self, entry: Entry<K>) -> Handle {
        self.count += 1;
        let next = self.used;
        let (index, generation) = if let Some(index) = self.free {
            let slot = self.slot_mut(index);
            let Slot::Free {
                generation,
                next: after,
            } = *slot
            else {
                unreachable!("handle free list points at a used slot")
            };
            *slot = Slot::Used {
                generation,
                prev: NIL,
                next,
                entry,
            };
            self.free = after;
            (index, generation)
        } else {
            let index = self.slot_count;
            debug_assert!(index < MAX_HANDLES_PER_TABLE);
            // Within the chunk reserved for it: no reallocation.
            let chunk = &mut self.chunks[index as usize / CHUNK];
            debug_assert!(chunk.len() < chunk.capacity());
            chunk.push(Slot::Used {
                generation: 0,
                prev: NIL,
                next,
                entry,
            });
            self.slot_count += 1;
            (index, 0)
        };
        // Indices are below MAX_HANDLES_PER_TABLE, so they fit in 16 bits.
        self.link(next, false, index as u16);
        self.used = index as u16;
        self.encode(index, generation)
    }

    /// The entry a handle value names, or `ZX_ERR_BAD_HANDLE`.
    pub fn get(&self, handle: Handle) -> Result<&Entry<K>, Status> {
        let (index, gen) = self.decode(handle).ok_or(ZX_ERR_BAD_HANDLE)?;
        match self.slot(index) {
            Some(Slot::Used {
                generation, entry, ..
            }) if *generation == gen => Ok(entry),
            _ => Err(ZX_ERR_BAD_HANDLE),
        }
    }

    pub(crate) fn remove(&mut self, handle: Handle) -> Result<Entry<K>, Status> {
        let (index, gen) = self.decode(handle).ok_or(ZX_ERR_BAD_HANDLE)?;
        let i = index as usize;
        let slot = self
            .chunks
            .get_mut(i / CHUNK)
            .and_then(|c| c.get_mut(i % CHUNK))
            .ok_or(ZX_ERR_BAD_HANDLE)?;
        let (prev, next) = match slot {
            Slot::Used {
                generation,
                prev,
                next,
                ..
            } if *generation == gen => (*prev, *next),
            _ => return Err(ZX_ERR_BAD_HANDLE),
        };
        let free = Slot::Free {
            // A new generation so the old value stays dead until it wraps.
            generation: gen.wrapping_add(1),
            next: self.free,
        };
        let Slot::Used { entry, .. } = core::mem::replace(slot, free) else {
            unreachable!("checked: the slot is used")
        };
        self.free = Some(index);
        self.count -= 1;
        if prev == NIL {
            self.used = next;
        } else {
            self.link(prev, true, next);
        }
        self.link(next, false, prev);
        Ok(entry)
    }

    /// Number of slots (used or free): handle slot indices are below it.
    pub fn slot_count(&self) -> u32 {
        self.slot_count
    }

    /// Number of chunks the slots occupy.
    pub fn chunk_count(&self) -> usize {
        self.chunks.len()
    }

    /// An open handle (the most recently opened), if any: O(1).
    pub(crate) fn any_handle(&self) -> Option<Handle> {
        if self.used == NIL {
            return None;
        }
        match self.slot(self.used.into())? {
            Slot::Used { generation, .. } => Some(self.encode(self.used.into(), *generation)),
            Slot::Free { .. } => None,
        }
    }

    /// Mappings charged to this table now.
    pub fn mapping_count(&self) -> u32 {
        self.mappings
    }

    /// Every open handle value (in slot order).
    pub fn handles(&self) -> impl Iterator<Item = Handle> + '_ {
        self.chunks
            .iter()
            .flatten()
            .enumerate()
            .filter_map(|(i, s)| match s {
                Slot::Used { generation, .. } => Some(self.encode(i as u32, *generation)),
                Slot::Free { .. } => None,
            })
    }
}

impl<P: Platform> ObjectSpace<P> {
    /// Creates an empty handle table (one per task).
    pub fn create_table(&mut self, quota: Quota) -> Result<TableId, Status> {
        let secret = self.next_secret();
        self.tables
            .insert(&self.mem, HandleTable::new(quota, secret))
    }

    /// Closes every handle of a table and removes it (a task ended): the
    /// whole teardown at once, [`Self::destroy_table_step`] until done.
    pub fn destroy_table(&mut self, table: TableId) -> Result<(), Status> {
        while !self.destroy_table_step(table, usize::MAX)? {}
        Ok(())
    }

    /// One bounded part of a table's teardown: closes at most `budget`
    /// handles (each close may cascade, and needs no allocation).
    /// `Ok(true)` once every handle is closed and the table is gone. From
    /// the first step on the table takes no new handle
    /// (`ZX_ERR_BAD_STATE`); each step takes the handles from the table's
    /// list of open ones, so the whole teardown is O(open handles), however
    /// many slots the table has, and between steps the caller may drop the
    /// lock (handles closed meanwhile by other means are simply gone).
    pub fn destroy_table_step(&mut self, table: TableId, budget: usize) -> Result<bool, Status> {
        let t = self.tables.get_mut(table).ok_or(ZX_ERR_BAD_STATE)?;
        t.closing = true;
        let mut left = budget;
        while let Some(h) = self.tables[table].any_handle() {
            if left == 0 {
                return Ok(false);
            }
            left -= 1;
            self.close(table, h)?;
        }
        self.tables.remove(table);
        Ok(true)
    }

    /// A table, for inspection.
    pub fn table(&self, table: TableId) -> Option<&HandleTable<P::KernelObject>> {
        self.tables.get(table)
    }

    /// Pages charged to a table: VMO pages and translation-table pages.
    pub fn committed_pages(&self, table: TableId) -> Option<u64> {
        self.tables
            .get(table)
            .map(|t| t.committed_pages.load(Ordering::Relaxed))
    }

    /// Of [`Self::committed_pages`], the translation-table pages.
    pub fn table_pages(&self, table: TableId) -> Option<u64> {
        self.tables
            .get(table)
            .map(|t| u64::from(t.table_pages.load(Ordering::Relaxed)))
    }

    pub(crate) fn table_ref(
        &self,
        table: TableId,
    ) -> Result<&HandleTable<P::KernelObject>, Status> {
        self.tables.get(table).ok_or(ZX_ERR_BAD_STATE)
    }

    /// The entry of `handle` in `table`.
    pub fn entry(&self, table: TableId, handle: Handle) -> Result<&Entry<P::KernelObject>, Status> {
        self.table_ref(table)?.get(handle)
    }

    /// The entry of `handle` in `table` if the handle carries `right`, else
    /// `ZX_ERR_ACCESS_DENIED` (a bad handle first).
    pub(crate) fn entry_with_right(
        &self,
        table: TableId,
        handle: Handle,
        right: Rights,
    ) -> Result<&Entry<P::KernelObject>, Status> {
        let e = self.entry(table, handle)?;
        if e.rights & right == 0 {
            return Err(ZX_ERR_ACCESS_DENIED);
        }
        Ok(e)
    }

    /// Resolves a handle to a VMO with `rights`: the Zircon order of checks
    /// (bad handle, wrong type, access denied).
    pub(crate) fn vmo_handle(
        &self,
        table: TableId,
        handle: Handle,
        rights: Rights,
    ) -> Result<(VmoId, Rights), Status> {
        let e = self.entry(table, handle)?;
        let Object::Vmo(id) = e.object else {
            return Err(ZX_ERR_WRONG_TYPE);
        };
        if e.rights & rights != rights {
            return Err(ZX_ERR_ACCESS_DENIED);
        }
        Ok((id, e.rights))
    }

    /// The VMO a handle names (no right needed: for the kernel's own mappings
    /// through [`ObjectSpace::vmar_map_vmo`]).
    pub fn vmo_of(&self, table: TableId, handle: Handle) -> Result<VmoId, Status> {
        self.vmo_handle(table, handle, 0).map(|(id, _)| id)
    }

    /// Puts a new handle to `object` in `table`, taking one reference.
    /// Reserve first; nothing changes on failure.
    pub(crate) fn install(
        &mut self,
        table: TableId,
        object: Object<P::KernelObject>,
        rights: Rights,
    ) -> Result<Handle, Status> {
        self.reserve_handle(table)?;
        Ok(self.install_reserved(table, object, rights))
    }

    /// Reserves room for one more handle in `table` (quota and memory), so
    /// a following [`Self::install_reserved`] cannot fail.
    pub(crate) fn reserve_handle(&mut self, table: TableId) -> Result<(), Status> {
        let t = self.tables.get_mut(table).ok_or(ZX_ERR_BAD_STATE)?;
        t.reserve(&self.mem)
    }

    pub(crate) fn install_reserved(
        &mut self,
        table: TableId,
        object: Object<P::KernelObject>,
        rights: Rights,
    ) -> Handle {
        match &object {
            Object::Vmo(id) => self.vmos[*id].handles += 1,
            Object::Event(id) => self.events[*id].handles += 1,
            Object::Vmar(id) => self.vmars[*id].handles += 1,
            Object::Port(id) => self.ports[*id].handles += 1,
            Object::Kernel(k) => self.events[k.signals()].handles += 1,
        }
        self.tables[table].insert_reserved(Entry { object, rights })
    }

    /// Installs a handle to a kernel-owned object (thread, task).
    pub fn install_kernel_object(
        &mut self,
        table: TableId,
        object: P::KernelObject,
        rights: Rights,
    ) -> Result<Handle, Status> {
        self.install(table, Object::Kernel(object), rights)
    }

    /// Closes a handle: cancels waits through it, drops its reference, and
    /// returns the kernel object it named, if any, for the kernel to drop.
    pub fn close(
        &mut self,
        table: TableId,
        handle: Handle,
    ) -> Result<Option<P::KernelObject>, Status> {
        let t = self.tables.get_mut(table).ok_or(ZX_ERR_BAD_STATE)?;
        let entry = t.remove(handle)?;
        Ok(self.release_handle_ref(table, handle, entry.object))
    }

    fn release_handle_ref(
        &mut self,
        table: TableId,
        handle: Handle,
        object: Object<P::KernelObject>,
    ) -> Option<P::KernelObject> {
        match object {
            Object::Vmo(id) => {
                self.cancel_waits_via(Waitable::Vmo(id), table, handle);
                self.vmos[id].handles -= 1;
                self.vmo_maybe_destroy(id);
                None
            }
            Object::Event(id) => {
                self.cancel_waits_via(Waitable::Event(id), table, handle);
                let e = &mut self.events[id];
                e.handles -= 1;
                if e.handles == 0 {
                    self.events.remove(id);
                }
                None
            }
            Object::Vmar(id) => {
                self.vmar_release(id);
                None
            }
            Object::Port(id) => {
                self.port_handle_closed(id, table, handle);
                let p = &mut self.ports[id];
                p.handles -= 1;
                if p.handles == 0 {
                    self.port_destroy(id);
                }
                None
            }
            Object::Kernel(k) => {
                let id = k.signals();
                self.cancel_waits_via(Waitable::Event(id), table, handle);
                self.kernel_signals_release(id);
                self.kernel_release_if_unreferenced(&k);
                Some(k)
            }
        }
    }

    /// Duplicates `handle` with a subset of its rights (needs DUPLICATE).
    pub fn duplicate(
        &mut self,
        table: TableId,
        handle: Handle,
        rights: Rights,
    ) -> Result<Handle, Status> {
        let e = self.entry_with_right(table, handle, ZX_RIGHT_DUPLICATE)?;
        let new_rights = subset_rights(e.rights, rights)?;
        let object = e.object.clone();
        self.install(table, object, new_rights)
    }

    /// Replaces `handle` with one with a subset of its rights (needs no right).
    /// The old handle is always invalidated (zx_handle_replace.md), on a
    /// rights error too; replacing never allocates.
    pub fn replace(
        &mut self,
        table: TableId,
        handle: Handle,
        rights: Rights,
    ) -> Result<Handle, Status> {
        let e = self.entry(table, handle)?;
        let new_rights = match subset_rights(e.rights, rights) {
            Ok(r) => r,
            Err(status) => {
                self.close(table, handle)?;
                return Err(status);
            }
        };
        let entry = self.tables[table].remove(handle)?;
        self.cancel_waits_via_object(&entry.object, table, handle);
        // The slot just freed is reused under a new generation, so this
        // cannot allocate or hit the handle quota; the object reference
        // moves from the old handle to the new one.
        Ok(self.tables[table].insert_reserved(Entry {
            object: entry.object,
            rights: new_rights,
        }))
    }

    /// Moves a handle to another table (needs TRANSFER); its value changes.
    pub fn transfer(
        &mut self,
        from: TableId,
        handle: Handle,
        to: TableId,
    ) -> Result<Handle, Status> {
        self.entry_with_right(from, handle, ZX_RIGHT_TRANSFER)?;
        self.reserve_handle(to)?;
        let entry = self.tables[from].remove(handle)?;
        self.cancel_waits_via_object(&entry.object, from, handle);
        Ok(self.tables[to].insert_reserved(entry))
    }

    /// `ZX_INFO_HANDLE_BASIC` for a handle.
    pub fn info_handle_basic(
        &self,
        table: TableId,
        handle: Handle,
    ) -> Result<ZxInfoHandleBasic, Status> {
        let e = self.entry(table, handle)?;
        let (koid, obj_type, props) = match &e.object {
            Object::Vmo(id) => (self.vmos[*id].koid, ZX_OBJ_TYPE_VMO, ZX_OBJ_PROP_WAITABLE),
            Object::Event(id) => (
                self.events[*id].koid,
                ZX_OBJ_TYPE_EVENT,
                ZX_OBJ_PROP_WAITABLE,
            ),
            // A VMAR is not waitable.
            Object::Vmar(id) => (self.vmar_koid(*id), ZX_OBJ_TYPE_VMAR, 0),
            // Nor is a port (the era's ports have no WAIT right).
            Object::Port(id) => (self.ports[*id].koid, ZX_OBJ_TYPE_PORT, 0),
            Object::Kernel(k) => (k.koid(), k.obj_type(), ZX_OBJ_PROP_WAITABLE),
        };
        Ok(ZxInfoHandleBasic {
            koid,
            rights: e.rights,
            obj_type,
            related_koid: 0,
            props,
            padding: 0,
        })
    }

    /// `zx_object_get_info(ZX_INFO_HANDLE_COUNT)`: the handles to the
    /// object `handle` names, in every table (mappings and the kernel's own
    /// references do not count). Needs INSPECT.
    pub fn info_handle_count(
        &self,
        table: TableId,
        handle: Handle,
    ) -> Result<ZxInfoHandleCount, Status> {
        let e = self.entry(table, handle)?;
        if e.rights & ZX_RIGHT_INSPECT == 0 {
            return Err(ZX_ERR_ACCESS_DENIED);
        }
        let handle_count = match &e.object {
            Object::Vmo(id) => self.vmos[*id].handles,
            Object::Event(id) => self.events[*id].handles,
            Object::Vmar(id) => self.vmars[*id].handles,
            Object::Port(id) => self.ports[*id].handles,
            Object::Kernel(k) => self.events[k.signals()].handles,
        };
        Ok(ZxInfoHandleCount { handle_count })
    }
}

/// The rights a duplicate or replacement gets: `ZX_RIGHT_SAME_RIGHTS`, or a
/// subset of `have` (anything more is `ZX_ERR_INVALID_ARGS`).
pub(crate) fn subset_rights(have: Rights, want: Rights) -> Result<Rights, Status> {
    if want == ZX_RIGHT_SAME_RIGHTS {
        Ok(have)
    } else if want & !have != 0 {
        Err(ZX_ERR_INVALID_ARGS)
    } else {
        Ok(want)
    }
}
