//! Per-task handle tables: slots with generation bits and a per-table
//! secret, so handle values are hard to guess and not reused soon.
//!
//! Slots live in chunks of [`CHUNK`] (a table grows by one chunk at a
//! time, never by copying one contiguous block), freed slots go on a free
//! list, and open handles are linked in a list of their own, so a task's
//! end closes its handles in O(open handles), whatever the table once held.

use crate::mem::{Mem, SlabId};
use abi::{
    Handle, Rights, Status, ZX_ERR_BAD_HANDLE, ZX_ERR_BAD_STATE, ZX_ERR_NO_MEMORY,
    ZX_HANDLE_FIXED_BITS_MASK,
};
use alloc::vec::Vec;

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
    /// Most pages committed by VMOs this table created.
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
    pub(crate) committed_pages: u64,
    /// Mappings charged to this table now.
    pub(crate) mappings: u32,
    /// Being torn down ([`crate::ObjectSpace::destroy_table_step`]): no
    /// handle goes in any more.
    pub(crate) closing: bool,
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
            committed_pages: 0,
            mappings: 0,
            closing: false,
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
