//! The object space: every object, handle table, mapping and waiter, owned
//! in one place. The kernel keeps one `ObjectSpace` behind one lock (a
//! top-level lock: single-core now, SMP-safe later), so every operation
//! takes `&mut self` and sees a consistent tree.

use crate::handle::{Entry, HandleTable, Object, Quota};
use crate::mapping::{Mapping, VmCounters};
use crate::mem::{ChunkSlab, Mem, Slab, SlabId};
use crate::platform::{KernelObject, Platform, WaiterId};
use crate::vmar::{Vmar, VmarId};
use crate::vmo::Vmo;
use abi::*;
use alloc::vec::Vec;
use core::cell::Cell;

/// A handle table's id.
pub type TableId = SlabId;
/// The signal state of a kernel-owned object, kept in the object space.
pub type SignalsId = SlabId;
/// A VMO's id inside the object space.
pub type VmoId = SlabId;
/// A mapping's id.
pub type MappingId = SlabId;

/// A registered wait (see [`ObjectSpace::wait_begin`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct WaitToken(pub(crate) SlabId);

/// How a wait starts.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum WaitStart {
    /// Some of the signals were already active: these are the object's signals.
    Satisfied(Signals),
    /// Registered; [`crate::Waker::wake`] will be called once, or cancel it.
    Pending(WaitToken),
}

/// An event object.
pub(crate) struct Event {
    pub koid: Koid,
    pub signals: Signals,
    pub handles: u32,
    pub waiters: Vec<WaitToken>,
    /// For a kernel-owned object: words the kernel keeps with its signal
    /// state, because they outlive the object (a task's end).
    pub payload: [u64; KERNEL_PAYLOAD_WORDS],
}

/// Words of state a kernel-owned object keeps with its signals.
pub const KERNEL_PAYLOAD_WORDS: usize = 5;

/// A waitable object of the object layer.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Waitable {
    Vmo(VmoId),
    Event(SlabId),
}

pub(crate) struct Waiter {
    pub object: Waitable,
    pub table: TableId,
    pub handle: Handle,
    pub mask: Signals,
    /// The thread to wake (0 for an async wait).
    pub waiter: WaiterId,
    /// An async wait's item ([`crate::port`]): its port gets a packet
    /// instead of a thread being woken.
    pub item: Option<SlabId>,
}

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
    /// The mapping the last fault under a root VMAR found, to try first:
    /// faults come in runs on one mapping (see [`ObjectSpace::vmar_fault`]).
    pub(crate) fault_hint: Option<(crate::vmar::VmarId, MappingId)>,
    /// The task the current syscall acts for (see [`ObjectSpace::charge_vmo`]).
    pub(crate) actor: crate::vmo::Actor,
    /// The mapping the last stored result (`vmar_map`'s out-pointer) went
    /// through, to try first (the same reasoning as `fault_hint`).
    pub(crate) out_hint: Option<(crate::vmar::VmarId, MappingId)>,
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
            fault_hint: None,
            actor: None,
            out_hint: None,
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

    /// Number of live VMOs (including ones alive only through children or mappings).
    pub fn vmo_count(&self) -> usize {
        self.vmos.len() - self.dead_count
    }

    /// Number of live events.
    pub fn event_count(&self) -> usize {
        self.events.len()
    }

    /// Creates an empty handle table (one per task).
    pub fn create_table(&mut self, quota: Quota) -> Result<TableId, Status> {
        let secret = splitmix64(&mut self.seed) as u32;
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

    /// Committed pages charged to a table.
    pub fn committed_pages(&self, table: TableId) -> Option<u64> {
        self.tables.get(table).map(|t| t.committed_pages)
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
        let e = self.entry(table, handle)?;
        if e.rights & ZX_RIGHT_DUPLICATE == 0 {
            return Err(ZX_ERR_ACCESS_DENIED);
        }
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
        let e = self.entry(from, handle)?;
        if e.rights & ZX_RIGHT_TRANSFER == 0 {
            return Err(ZX_ERR_ACCESS_DENIED);
        }
        self.reserve_handle(to)?;
        let entry = self.tables[from].remove(handle)?;
        self.cancel_waits_via_object(&entry.object, from, handle);
        Ok(self.tables[to].insert_reserved(entry))
    }

    fn cancel_waits_via_object(
        &mut self,
        object: &Object<P::KernelObject>,
        table: TableId,
        handle: Handle,
    ) {
        match object {
            Object::Vmo(id) => self.cancel_waits_via(Waitable::Vmo(*id), table, handle),
            Object::Event(id) => self.cancel_waits_via(Waitable::Event(*id), table, handle),
            Object::Kernel(k) => self.cancel_waits_via(Waitable::Event(k.signals()), table, handle),
            Object::Port(id) => self.port_handle_closed(*id, table, handle),
            Object::Vmar(_) => {}
        }
    }

    /// Creates the signal state (and koid) of a new kernel-owned object.
    /// The kernel holds one reference until [`Self::kernel_signals_release`];
    /// each handle to the object holds another.
    pub fn kernel_signals_create(&mut self) -> Result<(SignalsId, Koid), Status> {
        self.events.reserve(&self.mem)?;
        let koid = self.new_koid();
        let id = self.events.insert_reserved(Event {
            koid,
            signals: 0,
            handles: 1,
            waiters: Vec::new(),
            payload: [0; KERNEL_PAYLOAD_WORDS],
        });
        Ok((id, koid))
    }

    /// Drops one reference to a kernel object's signal state; it goes with the last.
    pub fn kernel_signals_release(&mut self, id: SignalsId) {
        let e = &mut self.events[id];
        e.handles -= 1;
        if e.handles == 0 {
            self.events.remove(id);
        }
    }

    /// Asks the platform whether the kernel is done with `object` once at
    /// most one reference to its signal state is left
    /// ([`Platform::kernel_object_unreferenced`]), and drops that reference
    /// if so. Called after each handle close; the kernel calls it too when
    /// its own record of the object changes (a thread start that failed).
    pub fn kernel_release_if_unreferenced(&mut self, object: &P::KernelObject) {
        let id = object.signals();
        let last = self.events.get(id).is_some_and(|e| e.handles == 1);
        if last && self.platform.kernel_object_unreferenced(object) {
            self.kernel_signals_release(id);
        }
    }

    /// Stores words with a kernel-owned object's signal state.
    pub fn kernel_set_payload(&mut self, id: SignalsId, payload: [u64; KERNEL_PAYLOAD_WORDS]) {
        self.events[id].payload = payload;
    }

    /// The words stored with a kernel-owned object's signal state.
    pub fn kernel_payload(&self, id: SignalsId) -> [u64; KERNEL_PAYLOAD_WORDS] {
        self.events[id].payload
    }

    /// Clears then sets signals of a kernel-owned object (e.g. a task's
    /// `ZX_TASK_TERMINATED`), waking the waiters that now match.
    pub fn kernel_signal(&mut self, id: SignalsId, clear: Signals, set: Signals) {
        let e = &mut self.events[id];
        e.signals = (e.signals & !clear) | set;
        self.notify(Waitable::Event(id));
    }

    /// Creates an event (options must be 0).
    pub fn event_create(&mut self, table: TableId, options: u32) -> Result<Handle, Status> {
        if options != 0 {
            return Err(ZX_ERR_INVALID_ARGS);
        }
        self.reserve_handle(table)?;
        self.events.reserve(&self.mem)?;
        let koid = self.new_koid();
        let id = self.events.insert_reserved(Event {
            koid,
            signals: 0,
            handles: 0,
            waiters: Vec::new(),
            payload: [0; KERNEL_PAYLOAD_WORDS],
        });
        Ok(self.install_reserved(table, Object::Event(id), ZX_DEFAULT_EVENT_RIGHTS))
    }

    pub(crate) fn waitable(
        &self,
        table: TableId,
        handle: Handle,
        right: Rights,
    ) -> Result<Waitable, Status> {
        let e = self.entry(table, handle)?;
        let w = match e.object {
            Object::Vmo(id) => Waitable::Vmo(id),
            Object::Event(id) => Waitable::Event(id),
            Object::Kernel(ref k) => Waitable::Event(k.signals()),
            // Neither has state a task can wait for.
            Object::Vmar(_) | Object::Port(_) => return Err(ZX_ERR_NOT_SUPPORTED),
        };
        if e.rights & right == 0 {
            return Err(ZX_ERR_ACCESS_DENIED);
        }
        Ok(w)
    }

    pub(crate) fn signals_of(&self, w: Waitable) -> Signals {
        match w {
            Waitable::Vmo(id) => self.vmo_signals(id),
            Waitable::Event(id) => self.events[id].signals,
        }
    }

    pub(crate) fn waiter_list(&self, w: Waitable) -> &[WaitToken] {
        match w {
            Waitable::Vmo(id) => &self.vmos[id].waiters,
            Waitable::Event(id) => &self.events[id].waiters,
        }
    }

    pub(crate) fn waiters_of(&mut self, w: Waitable) -> &mut Vec<WaitToken> {
        match w {
            Waitable::Vmo(id) => &mut self.vmos[id].waiters,
            Waitable::Event(id) => &mut self.events[id].waiters,
        }
    }

    /// The current signals of the object a handle names (no right needed:
    /// this is for the kernel and tests, not a syscall).
    pub fn signals(&self, table: TableId, handle: Handle) -> Result<Signals, Status> {
        let e = self.entry(table, handle)?;
        match e.object {
            Object::Vmo(id) => Ok(self.vmo_signals(id)),
            Object::Event(id) => Ok(self.events[id].signals),
            Object::Kernel(ref k) => Ok(self.events[k.signals()].signals),
            Object::Vmar(_) | Object::Port(_) => Err(ZX_ERR_NOT_SUPPORTED),
        }
    }

    /// `zx_object_signal`: clears then sets user signals (and, on an event,
    /// `ZX_EVENT_SIGNALED`). Needs SIGNAL.
    pub fn object_signal(
        &mut self,
        table: TableId,
        handle: Handle,
        clear_mask: Signals,
        set_mask: Signals,
    ) -> Result<(), Status> {
        // The right first: a VMAR (no SIGNAL right ever) is ACCESS_DENIED,
        // the page's status, not NOT_SUPPORTED, which it does not list.
        if self.entry(table, handle)?.rights & ZX_RIGHT_SIGNAL == 0 {
            return Err(ZX_ERR_ACCESS_DENIED);
        }
        let w = self.waitable(table, handle, ZX_RIGHT_SIGNAL)?;
        let is_event = matches!(self.entry(table, handle)?.object, Object::Event(_));
        let allowed = if is_event {
            ZX_EVENT_SIGNAL_MASK
        } else {
            ZX_USER_SIGNAL_ALL
        };
        if (clear_mask | set_mask) & !allowed != 0 {
            return Err(ZX_ERR_INVALID_ARGS);
        }
        match w {
            Waitable::Vmo(id) => {
                let v = &mut self.vmos[id];
                v.user_signals = (v.user_signals & !clear_mask) | set_mask;
            }
            Waitable::Event(id) => {
                let e = &mut self.events[id];
                e.signals = (e.signals & !clear_mask) | set_mask;
            }
        }
        self.notify(w);
        Ok(())
    }

    /// Registers a waiter for any of `mask` on the object `handle` names
    /// (needs WAIT). If one is already active, nothing is registered.
    pub fn wait_begin(
        &mut self,
        table: TableId,
        handle: Handle,
        mask: Signals,
        waiter: WaiterId,
    ) -> Result<WaitStart, Status> {
        let w = self.waitable(table, handle, ZX_RIGHT_WAIT)?;
        let now = self.signals_of(w);
        if now & mask != 0 {
            return Ok(WaitStart::Satisfied(now));
        }
        self.waiters.reserve(&self.mem)?;
        let mem = &self.mem;
        let list = match w {
            Waitable::Vmo(id) => &mut self.vmos[id].waiters,
            Waitable::Event(id) => &mut self.events[id].waiters,
        };
        mem.reserve(list, 1)?;
        let token = WaitToken(self.waiters.insert_reserved(Waiter {
            object: w,
            table,
            handle,
            mask,
            waiter,
            item: None,
        }));
        self.waiters_of(w).push(token);
        Ok(WaitStart::Pending(token))
    }

    /// Cancels a pending wait (deadline passed). Returns the object's signals
    /// then, or `None` if the wait had already ended (the waker was called).
    pub fn wait_cancel(&mut self, token: WaitToken) -> Option<Signals> {
        let w = self.waiters.remove(token.0)?;
        let list = self.waiters_of(w.object);
        if let Some(i) = list.iter().position(|t| *t == token) {
            list.swap_remove(i);
        }
        Some(self.signals_of(w.object))
    }

    /// Wakes the waiters whose mask meets the object's signals now, and
    /// gives their packets to the async waits it meets (a REPEATING one
    /// stays registered).
    pub(crate) fn notify(&mut self, w: Waitable) {
        let now = self.signals_of(w);
        let mut i = 0;
        while i < self.waiters_of(w).len() {
            let token = self.waiters_of(w)[i];
            let waiter = &self.waiters[token.0];
            if waiter.mask & now == 0 {
                i += 1;
                continue;
            }
            if let Some(item) = waiter.item {
                if !self.async_wait_fire(item, now) {
                    i += 1;
                    continue;
                }
                self.waiters_of(w).swap_remove(i);
                self.waiters.remove(token.0);
                continue;
            }
            self.waiters_of(w).swap_remove(i);
            let waiter = self.waiters.remove(token.0).expect("registered waiter");
            self.platform.wake(waiter.waiter, now);
        }
    }

    fn cancel_waits_via(&mut self, w: Waitable, table: TableId, handle: Handle) {
        let now = self.signals_of(w);
        let mut i = 0;
        while i < self.waiters_of(w).len() {
            let token = self.waiters_of(w)[i];
            let wt = &self.waiters[token.0];
            if wt.table == table && wt.handle == handle {
                self.waiters_of(w).swap_remove(i);
                let waiter = self.waiters.remove(token.0).expect("registered waiter");
                match waiter.item {
                    Some(item) => self.async_wait_handle_closed(item),
                    None => self
                        .platform
                        .wake(waiter.waiter, now | ZX_SIGNAL_HANDLE_CLOSED),
                }
            } else {
                i += 1;
            }
        }
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

    pub(crate) fn uncharge(&mut self, account: TableId, pages: u64) {
        if let Some(t) = self.tables.get_mut(account) {
            t.committed_pages -= pages;
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
