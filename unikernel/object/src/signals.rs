//! Signals and waits: the signal state of events and kernel-owned objects,
//! `zx_object_signal`, and the waiters (threads, or a port's async waits)
//! each waitable object keeps, notified when its signals change and
//! cancelled when the handle they came through closes. As Zircon keeps its
//! state tracker apart from the dispatchers, VMOs keep their own signals
//! in [`crate::vmo`] and come here for their waiters.

use crate::handle::Object;
use crate::mem::SlabId;
use crate::platform::{KernelObject, Platform, WaiterId};
use crate::space::{ObjectSpace, SignalsId, TableId, VmoId};
use abi::*;
use alloc::vec::Vec;

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

impl<P: Platform> ObjectSpace<P> {
    /// Number of live events.
    pub fn event_count(&self) -> usize {
        self.events.len()
    }

    /// Creates the signal state (and koid) of a new kernel-owned object.
    /// The kernel holds one reference until [`Self::kernel_signals_release`];
    /// each handle to the object holds another.
    pub fn kernel_signals_create(&mut self) -> Result<(SignalsId, Koid), Status> {
        self.events.reserve(&self.mem)?;
        Ok(self.insert_event(1))
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
        let (id, _) = self.insert_event(0);
        Ok(self.install_reserved(table, Object::Event(id), ZX_DEFAULT_EVENT_RIGHTS))
    }

    /// New signal state with a fresh koid and `handles` references, in the
    /// room `events.reserve` made.
    fn insert_event(&mut self, handles: u32) -> (SignalsId, Koid) {
        let koid = self.new_koid();
        let id = self.events.insert_reserved(Event {
            koid,
            signals: 0,
            handles,
            waiters: Vec::new(),
            payload: [0; KERNEL_PAYLOAD_WORDS],
        });
        (id, koid)
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
        // One lookup for the right, the waitable and its kind.
        let e = self.entry_with_right(table, handle, ZX_RIGHT_SIGNAL)?;
        let is_event = matches!(e.object, Object::Event(_));
        let w = Self::waitable_of(&e.object)?;
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
        self.wait_begin_with(table, handle, mask, || waiter)
    }

    /// [`Self::wait_begin`] with the waiter named by `prepare`, which is
    /// called only when a registration is made, once nothing can fail any
    /// more (so a waiter prepares its wait only when it will block, inside
    /// this hold of the object lock, and never has one to undo after an
    /// error or a wait satisfied at once).
    pub fn wait_begin_with(
        &mut self,
        table: TableId,
        handle: Handle,
        mask: Signals,
        prepare: impl FnOnce() -> WaiterId,
    ) -> Result<WaitStart, Status> {
        let w = self.waitable(table, handle, ZX_RIGHT_WAIT)?;
        let now = self.signals_of(w);
        if now & mask != 0 {
            return Ok(WaitStart::Satisfied(now));
        }
        self.waiters.reserve(&self.mem)?;
        // One lookup of the object's list for the reservation and the push
        // (the fields borrowed are disjoint from `waiters` and `mem`).
        let list = match w {
            Waitable::Vmo(id) => &mut self.vmos[id].waiters,
            Waitable::Event(id) => &mut self.events[id].waiters,
        };
        self.mem.reserve(list, 1)?;
        let waiter = prepare();
        let token = WaitToken(self.waiters.insert_reserved(Waiter {
            object: w,
            table,
            handle,
            mask,
            waiter,
            item: None,
        }));
        list.push(token);
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
        loop {
            // The object's list, looked up once per waiter (a wake-up
            // calls out, so it is not kept across iterations).
            let list = match w {
                Waitable::Vmo(id) => &mut self.vmos[id].waiters,
                Waitable::Event(id) => &mut self.events[id].waiters,
            };
            let Some(&token) = list.get(i) else {
                break;
            };
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
            list.swap_remove(i);
            let waiter = self.waiters.remove(token.0).expect("registered waiter");
            self.platform.wake(waiter.waiter, now);
        }
    }

    pub(crate) fn waitable(
        &self,
        table: TableId,
        handle: Handle,
        right: Rights,
    ) -> Result<Waitable, Status> {
        let e = self.entry(table, handle)?;
        let w = Self::waitable_of(&e.object)?;
        if e.rights & right == 0 {
            return Err(ZX_ERR_ACCESS_DENIED);
        }
        Ok(w)
    }

    /// What a task can wait on in `object`; `ZX_ERR_NOT_SUPPORTED` if it has
    /// nothing.
    #[inline(always)]
    fn waitable_of(object: &Object<P::KernelObject>) -> Result<Waitable, Status> {
        Ok(match *object {
            Object::Vmo(id) => Waitable::Vmo(id),
            Object::Event(id) => Waitable::Event(id),
            Object::Kernel(ref k) => Waitable::Event(k.signals()),
            // Neither has state a task can wait for.
            Object::Vmar(_) | Object::Port(_) => return Err(ZX_ERR_NOT_SUPPORTED),
        })
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

    pub(crate) fn cancel_waits_via_object(
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

    pub(crate) fn cancel_waits_via(&mut self, w: Waitable, table: TableId, handle: Handle) {
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
}
