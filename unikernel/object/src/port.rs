//! Ports (`zx_port_create`, `zx_port_queue`, `zx_port_wait`,
//! `zx_port_cancel`) and `zx_object_wait_async`.
//!
//! A port's queue is one FIFO kept as two: user packets in a ring per
//! port (queueing one copies it in; the ring grows, amortised, up to
//! [`MAX_PORT_USER_PACKETS`]), and async waits' packets linked through the
//! waits themselves, each with its place in the common order. An async
//! wait is an *item* made by `object_wait_async` that holds its packet
//! from the start (the packet storage of a wait is allocated once, when
//! the wait is made), and goes into the queue when the
//! object's signals meet its trigger. An armed wait is also an observer in
//! the object's waiter list (a [`crate::space::Waiter`] that names the
//! item), so the object layer's `notify` delivers packets the way it wakes
//! threads, under the same lock.
//!
//! `ZX_WAIT_ASYNC_ONCE`: the observer goes when its packet is queued.
//! `ZX_WAIT_ASYNC_REPEATING`: the observer stays; while its packet is in
//! the queue a change that meets the trigger ORs the signals into the
//! packet's `observed` instead of queuing another. Observers are evaluated
//! when made and at each change of the object's signals (as the era's
//! kernel did), so a packet read while its signals stay asserted is queued
//! again at the next change.
//!
//! An item lives while it is queued or armed. Closing the watched handle
//! disarms the wait (a queued packet stays); `zx_port_cancel` disarms it
//! and takes its packet out of the queue; the port's last handle going
//! frees every item bound to it (each port keeps a list of its waits), so
//! nothing dangles and nothing leaks.
//!
//! Bounds: [`MAX_PORT_USER_PACKETS`] user packets in a port's queue
//! (`ZX_ERR_SHOULD_WAIT` past it), [`MAX_ASYNC_WAITS_PER_TABLE`] waits per
//! task and [`MAX_ASYNC_WAITS_PER_OBJECT`] armed waits per object
//! (`ZX_ERR_NO_MEMORY` past them).

use crate::handle::Object;
use crate::mem::SlabId;
use crate::platform::{Platform, WaiterId};
use crate::signals::{WaitToken, Waitable, Waiter};
use crate::space::{ObjectSpace, TableId};
use abi::*;
use alloc::collections::VecDeque;
use alloc::vec::Vec;

/// A port's id inside the object space.
pub type PortId = SlabId;

/// Most user packets queued on one port at once (`zx_port_queue` past it:
/// `ZX_ERR_SHOULD_WAIT`).
pub const MAX_PORT_USER_PACKETS: u32 = abi::PORT_MAX_USER_PACKETS;
/// Most async waits one handle table (task) has at once, armed or with a
/// packet queued (past it: `ZX_ERR_NO_MEMORY`).
pub const MAX_ASYNC_WAITS_PER_TABLE: u32 = abi::ASYNC_WAITS_PER_TASK_MAX;
/// Most async waits armed on one object at once (past it: `ZX_ERR_NO_MEMORY`).
pub const MAX_ASYNC_WAITS_PER_OBJECT: usize = abi::ASYNC_WAITS_PER_OBJECT_MAX;

/// A thread blocked in `zx_port_wait`, and the handle it waits through.
struct Reader {
    waiter: WaiterId,
    table: TableId,
    handle: Handle,
}

/// A queued user packet and its place in the port's order.
struct UserEntry {
    seq: u64,
    packet: PortPacket,
}

/// A port object.
pub(crate) struct Port {
    pub koid: Koid,
    pub handles: u32,
    /// User packets, oldest first, in one ring that grows (amortised) and
    /// never shrinks while the port lives: queueing one copies it in,
    /// nothing more.
    users: VecDeque<UserEntry>,
    /// Signal packets: the async waits queued, oldest first, linked
    /// through their items.
    head: Option<SlabId>,
    tail: Option<SlabId>,
    /// The order of the next packet; the oldest of the two queues' heads
    /// is read first, so the port is one FIFO.
    next_seq: u64,
    /// Every async wait bound to this port, linked through `AsyncWait`.
    waits: Option<SlabId>,
    /// Threads in `zx_port_wait`, oldest first.
    readers: Vec<Reader>,
}

/// An async wait with its packet.
pub(crate) struct PortItem {
    port: PortId,
    packet: PortPacket,
    /// Order in the port's queue, while queued.
    seq: u64,
    queued: bool,
    /// Links of the port's queue.
    prev: Option<SlabId>,
    next: Option<SlabId>,
    /// The observer in the object's waiter list, while armed.
    armed: Option<WaitToken>,
    /// The handle the wait was made through (for `zx_port_cancel`);
    /// `ZX_HANDLE_INVALID` once it is closed.
    table: TableId,
    handle: Handle,
    /// Links of the port's list of waits.
    wprev: Option<SlabId>,
    wnext: Option<SlabId>,
}

/// How `port_wait_begin` starts.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PortStart {
    /// The oldest packet was taken off the queue into the caller's place.
    Packet,
    /// The queue is empty (and the caller did not register).
    Empty,
    /// Registered: the waker is called once (with 0 when a packet came,
    /// with `ZX_SIGNAL_HANDLE_CLOSED` when the handle was closed), or
    /// cancel it with [`ObjectSpace::port_wait_cancel`].
    Pending(PortWaitToken),
}

/// A thread registered in `zx_port_wait`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PortWaitToken {
    port: PortId,
    waiter: WaiterId,
}

impl<P: Platform> ObjectSpace<P> {
    /// Number of live ports.
    pub fn port_count(&self) -> usize {
        self.ports.len()
    }

    /// Number of async waits alive (armed or queued), over all ports.
    pub fn port_item_count(&self) -> usize {
        self.port_items.len()
    }

    /// Async waits charged to `table`.
    pub fn async_waits_of(&self, table: TableId) -> Option<u32> {
        self.tables.get(table).map(|t| t.async_waits)
    }

    /// `zx_port_create`: `options` 0 or `ZX_PORT_BIND_TO_INTERRUPT`.
    pub fn port_create(&mut self, table: TableId, options: u32) -> Result<Handle, Status> {
        if options & !ZX_PORT_BIND_TO_INTERRUPT != 0 {
            return Err(ZX_ERR_INVALID_ARGS);
        }
        self.reserve_handle(table)?;
        self.ports.reserve(&self.mem)?;
        let koid = self.new_koid();
        let id = self.ports.insert_reserved(Port {
            koid,
            handles: 0,
            users: VecDeque::new(),
            head: None,
            tail: None,
            next_seq: 0,
            waits: None,
            readers: Vec::new(),
        });
        Ok(self.install_reserved(table, Object::Port(id), ZX_DEFAULT_PORT_RIGHTS))
    }

    /// The port `handle` names, with `right`.
    #[inline]
    /// Whether `handle` is a port with `right`: the checks a port call
    /// makes first, for a caller that must report them before a bad
    /// pointer.
    pub fn port_check(&self, table: TableId, handle: Handle, right: Rights) -> Result<(), Status> {
        self.port_handle(table, handle, right).map(drop)
    }

    fn port_handle(&self, table: TableId, handle: Handle, right: Rights) -> Result<PortId, Status> {
        let e = self.entry(table, handle)?;
        let Object::Port(id) = e.object else {
            return Err(ZX_ERR_WRONG_TYPE);
        };
        if e.rights & right == 0 {
            return Err(ZX_ERR_ACCESS_DENIED);
        }
        Ok(id)
    }

    /// `zx_port_queue`: a user packet (its type set to `ZX_PKT_TYPE_USER`,
    /// everything else as given). Needs WRITE; `ZX_ERR_SHOULD_WAIT` with
    /// [`MAX_PORT_USER_PACKETS`] queued.
    pub fn port_queue(
        &mut self,
        table: TableId,
        handle: Handle,
        packet: &PortPacket,
    ) -> Result<(), Status> {
        let id = self.port_handle(table, handle, ZX_RIGHT_WRITE)?;
        let mem = &self.mem;
        let port = &mut self.ports[id];
        if port.users.len() >= MAX_PORT_USER_PACKETS as usize {
            return Err(ZX_ERR_SHOULD_WAIT);
        }
        // Counted like every reservation (tests fail the Nth).
        mem.reserve(&mut Vec::<u8>::new(), 0)?;
        port.users.try_reserve(1).map_err(|_| ZX_ERR_NO_MEMORY)?;
        let seq = port.next_seq;
        port.next_seq += 1;
        port.users.push_back(UserEntry {
            seq,
            packet: PortPacket::default(),
        });
        if let Some(last) = port.users.back_mut() {
            last.packet.copy_from(packet);
            last.packet.packet_type = ZX_PKT_TYPE_USER;
        }
        self.wake_reader(id);
        Ok(())
    }

    /// The first half of `zx_port_wait` (needs READ): the oldest packet
    /// into `out` if there is one; otherwise `register` is asked for a
    /// waiter to register (threads are woken one per packet, oldest
    /// first); `None` registers nothing. `register` runs under the object
    /// layer's caller's lock, only when the queue is empty.
    pub fn port_wait_begin(
        &mut self,
        table: TableId,
        handle: Handle,
        out: &mut PortPacket,
        register: impl FnOnce() -> Option<WaiterId>,
    ) -> Result<PortStart, Status> {
        let port = self.port_handle(table, handle, ZX_RIGHT_READ)?;
        if self.dequeue(port, out) {
            return Ok(PortStart::Packet);
        }
        let readers = &mut self.ports[port].readers;
        self.mem.reserve(readers, 1)?;
        let Some(waiter) = register() else {
            return Ok(PortStart::Empty);
        };
        readers.push(Reader {
            waiter,
            table,
            handle,
        });
        Ok(PortStart::Pending(PortWaitToken { port, waiter }))
    }

    /// A reader woken for a packet (its registration ended by the waker)
    /// takes the oldest packet into `out` from the port it waited on,
    /// without looking its handle up again; false if there is none (another
    /// reader took it) or the port is gone.
    pub fn port_take(&mut self, token: PortWaitToken, out: &mut PortPacket) -> bool {
        self.ports.get(token.port).is_some() && self.dequeue(token.port, out)
    }

    /// Ends a `port_wait` registration (deadline passed, thread killed).
    /// If its waker had already run, the wake-up it used is passed to the
    /// next thread waiting, so a packet is not left unclaimed.
    pub fn port_wait_cancel(&mut self, token: PortWaitToken) {
        let Some(port) = self.ports.get_mut(token.port) else {
            return;
        };
        if let Some(i) = port.readers.iter().position(|r| r.waiter == token.waiter) {
            port.readers.remove(i);
        } else if port.head.is_some() || !port.users.is_empty() {
            self.wake_reader(token.port);
        }
    }

    /// `zx_port_cancel`: disarms the async waits made through `source`
    /// with `key` on this port and takes their packets out of its queue.
    /// The port needs WRITE; `source` needs WAIT (as the era's kernel
    /// checked it; the page's WRITE would exclude events) and must be
    /// waitable. `ZX_ERR_NOT_FOUND` if nothing matched. Visits the port's
    /// waits, at most [`MAX_ASYNC_WAITS_PER_TABLE`] per task bound to it.
    pub fn port_cancel(
        &mut self,
        table: TableId,
        handle: Handle,
        source: Handle,
        key: u64,
    ) -> Result<(), Status> {
        let port = self.port_handle(table, handle, ZX_RIGHT_WRITE)?;
        self.waitable(table, source, ZX_RIGHT_WAIT)?;
        let mut found = false;
        let mut at = self.ports[port].waits;
        while let Some(id) = at {
            let item = &self.port_items[id];
            at = item.wnext;
            if item.table == table && item.handle == source && item.packet.key == key {
                found = true;
                self.disarm(id);
                if self.port_items[id].queued {
                    self.unlink_queued(id);
                }
                self.free_if_done(id);
            }
        }
        if found {
            Ok(())
        } else {
            Err(ZX_ERR_NOT_FOUND)
        }
    }

    /// `zx_object_wait_async`: a packet on `port` when the object `handle`
    /// names asserts one of `signals` (now or later). `handle` needs WAIT
    /// and must be waitable; `port` needs WRITE.
    pub fn wait_async(
        &mut self,
        table: TableId,
        handle: Handle,
        port_handle: Handle,
        key: u64,
        signals: Signals,
        options: u32,
    ) -> Result<(), Status> {
        let packet_type = match options {
            ZX_WAIT_ASYNC_ONCE => ZX_PKT_TYPE_SIGNAL_ONE,
            ZX_WAIT_ASYNC_REPEATING => ZX_PKT_TYPE_SIGNAL_REP,
            _ => return Err(ZX_ERR_INVALID_ARGS),
        };
        let port = self.port_handle(table, port_handle, ZX_RIGHT_WRITE)?;
        let w = self.waitable(table, handle, ZX_RIGHT_WAIT)?;
        if self.tables[table].async_waits >= MAX_ASYNC_WAITS_PER_TABLE {
            return Err(ZX_ERR_NO_MEMORY);
        }
        let list = self.waiter_list(w);
        let on_object = list
            .iter()
            .filter(|t| self.waiters[t.0].item.is_some())
            .count();
        if on_object >= MAX_ASYNC_WAITS_PER_OBJECT {
            return Err(ZX_ERR_NO_MEMORY);
        }
        // Everything the wait needs, before anything changes.
        self.port_items.reserve(&self.mem)?;
        self.waiters.reserve(&self.mem)?;
        let mem = &self.mem;
        match w {
            Waitable::Vmo(id) => mem.reserve(&mut self.vmos[id].waiters, 1)?,
            Waitable::Event(id) => mem.reserve(&mut self.events[id].waiters, 1)?,
        }
        let wnext = self.ports[port].waits;
        let item = self.port_items.insert_reserved(PortItem {
            port,
            packet: PortPacket::signal(key, packet_type, signals, 0, 1),
            seq: 0,
            queued: false,
            prev: None,
            next: None,
            armed: None,
            table,
            handle,
            wprev: None,
            wnext,
        });
        if let Some(n) = wnext {
            self.port_items[n].wprev = Some(item);
        }
        self.ports[port].waits = Some(item);
        self.tables[table].async_waits += 1;
        let now = self.signals_of(w);
        if now & signals != 0 {
            self.port_items[item].packet.observe_more(now);
            self.enqueue(item);
            if options == ZX_WAIT_ASYNC_ONCE {
                return Ok(());
            }
        }
        let token = WaitToken(self.waiters.insert_reserved(Waiter {
            object: w,
            table,
            handle,
            mask: signals,
            waiter: 0,
            item: Some(item),
        }));
        self.waiters_of(w).push(token);
        self.port_items[item].armed = Some(token);
        Ok(())
    }

    /// The observer of async wait `item` saw `now` meet its trigger (from
    /// `notify`). Returns true if the observer ends (a ONCE wait): the
    /// caller removes it from the object's list and the waiter slab.
    pub(crate) fn async_wait_fire(&mut self, item: SlabId, now: Signals) -> bool {
        let it = &mut self.port_items[item];
        if it.queued {
            it.packet.observe_more(now);
        } else {
            it.packet.payload[0] = it.packet.trigger() as u64 | (now as u64) << 32;
            self.enqueue(item);
        }
        let it = &mut self.port_items[item];
        if it.packet.packet_type == ZX_PKT_TYPE_SIGNAL_ONE {
            it.armed = None;
            true
        } else {
            false
        }
    }

    /// The watched handle of async wait `item` was closed (its observer
    /// already left the object's list): it ends; a queued packet stays.
    pub(crate) fn async_wait_handle_closed(&mut self, item: SlabId) {
        let it = &mut self.port_items[item];
        it.armed = None;
        it.handle = ZX_HANDLE_INVALID;
        self.free_if_done(item);
    }

    /// Wakes the threads in `port_wait` through `handle` (it was closed)
    /// with `ZX_SIGNAL_HANDLE_CLOSED`.
    pub(crate) fn port_handle_closed(&mut self, port: PortId, table: TableId, handle: Handle) {
        let mut i = 0;
        while i < self.ports[port].readers.len() {
            let r = &self.ports[port].readers[i];
            if r.table == table && r.handle == handle {
                let r = self.ports[port].readers.remove(i);
                self.platform.wake(r.waiter, ZX_SIGNAL_HANDLE_CLOSED);
            } else {
                i += 1;
            }
        }
    }

    /// The port's last handle closed: every wait bound to it goes (armed
    /// ones leave their objects), then the port with its user packets.
    pub(crate) fn port_destroy(&mut self, port: PortId) {
        while let Some(item) = self.ports[port].head {
            self.unlink_queued(item);
            self.free_if_done(item);
        }
        while let Some(item) = self.ports[port].waits {
            self.disarm(item);
            self.free_if_done(item);
        }
        debug_assert!(self.ports[port].readers.is_empty());
        self.ports.remove(port);
    }

    /// Removes an armed wait's observer from its object.
    fn disarm(&mut self, item: SlabId) {
        let Some(token) = self.port_items[item].armed.take() else {
            return;
        };
        if let Some(waiter) = self.waiters.remove(token.0) {
            let list = self.waiters_of(waiter.object);
            if let Some(i) = list.iter().position(|t| *t == token) {
                list.swap_remove(i);
            }
        }
    }

    /// Frees a wait neither queued nor armed.
    fn free_if_done(&mut self, item: SlabId) {
        let it = &self.port_items[item];
        if it.queued || it.armed.is_some() {
            return;
        }
        let (port, wprev, wnext, account) = (it.port, it.wprev, it.wnext, it.table);
        match wprev {
            Some(p) => self.port_items[p].wnext = wnext,
            None => self.ports[port].waits = wnext,
        }
        if let Some(n) = wnext {
            self.port_items[n].wprev = wprev;
        }
        self.port_items.remove(item);
        if let Some(t) = self.tables.get_mut(account) {
            t.async_waits -= 1;
        }
    }

    /// Appends wait `item`'s packet to its port's queue and wakes the
    /// oldest reader.
    fn enqueue(&mut self, item: SlabId) {
        let port = self.port_items[item].port;
        let p = &mut self.ports[port];
        let (tail, seq) = (p.tail, p.next_seq);
        p.next_seq += 1;
        p.tail = Some(item);
        if tail.is_none() {
            p.head = Some(item);
        }
        let it = &mut self.port_items[item];
        it.queued = true;
        it.seq = seq;
        it.prev = tail;
        it.next = None;
        if let Some(t) = tail {
            self.port_items[t].next = Some(item);
        }
        self.wake_reader(port);
    }

    #[inline]
    fn wake_reader(&mut self, port: PortId) {
        let readers = &mut self.ports[port].readers;
        if !readers.is_empty() {
            let r = readers.remove(0);
            self.platform.wake(r.waiter, 0);
        }
    }

    /// Takes wait `item`'s packet out of its port's queue (the item stays).
    fn unlink_queued(&mut self, item: SlabId) {
        let it = &mut self.port_items[item];
        it.queued = false;
        let (port, prev, next) = (it.port, it.prev.take(), it.next.take());
        match prev {
            Some(p) => self.port_items[p].next = next,
            None => self.ports[port].head = next,
        }
        match next {
            Some(n) => self.port_items[n].prev = prev,
            None => self.ports[port].tail = prev,
        }
    }

    /// The oldest packet of `port` into `out`, off the queue; false if
    /// there is none.
    #[inline]
    fn dequeue(&mut self, port: PortId, out: &mut PortPacket) -> bool {
        let p = &mut self.ports[port];
        let item = match (p.users.front(), p.head) {
            (None, None) => return false,
            (Some(u), Some(i)) if u.seq > self.port_items[i].seq => i,
            (Some(u), _) => {
                out.copy_from(&u.packet);
                p.users.pop_front();
                return true;
            }
            (None, Some(i)) => i,
        };
        self.unlink_queued(item);
        out.copy_from(&self.port_items[item].packet);
        self.free_if_done(item);
        true
    }
}
