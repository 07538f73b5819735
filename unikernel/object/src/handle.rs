//! Per-task handle tables: slots with generation bits and a per-table
//! secret, so handle values are hard to guess and not reused soon.

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
    Used { generation: u16, entry: Entry<K> },
    Free { generation: u16, next: Option<u32> },
}

/// One task's handles.
pub struct HandleTable<K> {
    slots: Vec<Slot<K>>,
    free: Option<u32>,
    count: u32,
    secret: u32,
    pub(crate) quota: Quota,
    pub(crate) committed_pages: u64,
    /// Mappings charged to this table now.
    pub(crate) mappings: u32,
    /// Async waits charged to this table now ([`crate::port`]).
    pub(crate) async_waits: u32,
    /// Being torn down ([`crate::ObjectSpace::destroy_table_step`]): no
    /// handle goes in any more, and slots at and above `closing_below`
    /// have been closed.
    pub(crate) closing: bool,
    pub(crate) closing_below: u32,
}

impl<K> HandleTable<K> {
    pub(crate) fn new(quota: Quota, secret: u32) -> Self {
        HandleTable {
            slots: Vec::new(),
            free: None,
            count: 0,
            secret: secret & VALUE_MASK,
            quota,
            committed_pages: 0,
            mappings: 0,
            async_waits: 0,
            closing: false,
            closing_below: 0,
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
        if self.free.is_some() {
            return mem.reserve(&mut Vec::<u8>::new(), 0);
        }
        mem.reserve(&mut self.slots, 1)
    }

    pub(crate) fn insert_reserved(&mut self, entry: Entry<K>) -> Handle {
        self.count += 1;
        if let Some(index) = self.free {
            let slot = &mut self.slots[index as usize];
            let Slot::Free { generation, next } = *slot else {
                unreachable!("handle free list points at a used slot")
            };
            *slot = Slot::Used { generation, entry };
            self.free = next;
            self.encode(index, generation)
        } else {
            let index = self.slots.len() as u32;
            debug_assert!(index < MAX_HANDLES_PER_TABLE);
            self.slots.push(Slot::Used {
                generation: 0,
                entry,
            });
            self.encode(index, 0)
        }
    }

    /// The entry a handle value names, or `ZX_ERR_BAD_HANDLE`.
    pub fn get(&self, handle: Handle) -> Result<&Entry<K>, Status> {
        let (index, gen) = self.decode(handle).ok_or(ZX_ERR_BAD_HANDLE)?;
        match self.slots.get(index as usize) {
            Some(Slot::Used { generation, entry }) if *generation == gen => Ok(entry),
            _ => Err(ZX_ERR_BAD_HANDLE),
        }
    }

    pub(crate) fn remove(&mut self, handle: Handle) -> Result<Entry<K>, Status> {
        self.get(handle)?;
        let (index, gen) = self.decode(handle).ok_or(ZX_ERR_BAD_HANDLE)?;
        let old = core::mem::replace(
            &mut self.slots[index as usize],
            Slot::Free {
                // A new generation so the old value stays dead until it wraps.
                generation: gen.wrapping_add(1),
                next: self.free,
            },
        );
        self.free = Some(index);
        self.count -= 1;
        match old {
            Slot::Used { entry, .. } => Ok(entry),
            Slot::Free { .. } => unreachable!(),
        }
    }

    /// Number of slots (used or free): handle slot indices are below it.
    pub(crate) fn slot_count(&self) -> u32 {
        self.slots.len() as u32
    }

    /// The open handle in slot `index`, if any.
    pub(crate) fn handle_at(&self, index: u32) -> Option<Handle> {
        match self.slots.get(index as usize)? {
            Slot::Used { generation, .. } => Some(self.encode(index, *generation)),
            Slot::Free { .. } => None,
        }
    }

    /// Mappings charged to this table now.
    pub fn mapping_count(&self) -> u32 {
        self.mappings
    }

    /// Every open handle value.
    pub fn handles(&self) -> impl Iterator<Item = Handle> + '_ {
        self.slots.iter().enumerate().filter_map(|(i, s)| match s {
            Slot::Used { generation, .. } => Some(self.encode(i as u32, *generation)),
            Slot::Free { .. } => None,
        })
    }
}
