//! Tasks: a handle table, a sub-VMAR carved from the root VMAR, and threads
//! that run the EL0 image's code (DESIGN.md: one address space, tasks
//! separated by capability). A task is given no handle to the root VMAR:
//! its own sub-VMAR is its `Vmar::root_self()`.
//!
//! A task ends when it calls `task_exit`, when its last thread exits, or
//! when one of its threads takes a fault nobody can resolve. Then its
//! sub-VMAR is destroyed (every mapping goes), its handle table is closed,
//! how it ended is recorded with its signal state, and `ZX_TASK_TERMINATED`
//! is asserted. Every thread of it that runs is killed ([`sched::kill`]):
//! a blocked one wakes as if its wait's deadline had passed, and each
//! leaves through the normal exit at its next return towards EL0 (kernel
//! stack, scheduler slot, thread record and signal state freed; its thread
//! handle sees `ZX_THREAD_TERMINATED`). A thread never started dies then,
//! or when its last handle closes.
//!
//! Lock order: the task table's lock, then the object space's, then the
//! thread table's (the object layer asks it whether a thread whose last
//! handle closed was ever started). The scheduler's lock is never taken
//! under the thread table's.

pub mod boot;
pub mod image;
mod report;

use crate::arch::el0::{self, UserRecord};
use crate::arch::exception::TrapFrame;
use crate::objects::{self, Space};
use crate::sched;
use crate::sync::IrqMutex;
use crate::vm::domain::{self, DomainId};
use abi::*;
use core::sync::atomic::{AtomicU32, Ordering};
use object::mem::{Mem, Slab, SlabId};
use object::{KernelObject, MapArgs, SignalsId, TableId, VmarId, KERNEL_PAYLOAD_WORDS};

/// Each task's sub-VMAR: 64 GiB of the root VMAR, exactly its domain's
/// slot (`vm::domain`).
pub const TASK_VMAR_SIZE: u64 = domain::SLOT_SIZE;
/// Each task's first thread gets a stack of this size...
pub const STACK_SIZE: u64 = 64 << 10;
/// ...with this much unmapped address space below it.
pub const STACK_GUARD: u64 = 64 << 10;
/// A task handle's rights (DESTROY for `zx_task_kill`, as the era's
/// process and thread defaults have it).
pub const TASK_RIGHTS: Rights =
    ZX_RIGHTS_BASIC | ZX_RIGHT_READ | ZX_RIGHT_WRITE | ZX_RIGHT_SIGNAL | ZX_RIGHT_DESTROY;
/// A thread handle's rights.
pub const THREAD_RIGHTS: Rights =
    ZX_RIGHTS_BASIC | ZX_RIGHT_READ | ZX_RIGHT_WRITE | ZX_RIGHT_SIGNAL | ZX_RIGHT_DESTROY;
/// Most handles a task starts with.
pub const MAX_START_HANDLES: usize = 4;
/// Most mappings a task may have at once (splits count): bounds what its
/// end and a commit's walk of a VMO's mappings have to visit.
pub const MAX_MAPPINGS: u32 = 1 << 14;
/// Per-task quotas. Committed pages (VMO pages and the translation-table
/// pages of the task's own table) up to 160 MiB: less than a 256 MiB guest
/// has free, so one task alone cannot take every frame, and more than the
/// largest benchmark holds (two 64 MiB VMOs).
const QUOTA: object::Quota = object::Quota {
    max_handles: 4096,
    max_committed_pages: 160 << 8,
    max_mappings: MAX_MAPPINGS,
};
/// The sub-VMAR's permissions.
const VMAR_FLAGS: VmOptions =
    ZX_VM_CAN_MAP_READ | ZX_VM_CAN_MAP_WRITE | ZX_VM_CAN_MAP_EXECUTE | ZX_VM_CAN_MAP_SPECIFIC;

/// A generation-checked slot number (a [`Slab`] id). Word-aligned, so a
/// [`KObject`] moves as whole words (an odd-sized move is a `memcpy` call
/// on the handle close path).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, align(8))]
pub struct Id(SlabId);

impl Id {
    /// As one word.
    pub fn raw(self) -> u64 {
        self.0.raw()
    }

    /// From one word.
    pub fn from_raw(raw: u64) -> Self {
        Self(SlabId::from_raw(raw))
    }

    /// The slot: an index into the per-task arrays.
    fn slot(self) -> usize {
        self.0.index() as usize
    }
}

/// A [`Slab`] of tasks or threads, named by [`Id`]s. Its growth can fail
/// (`ZX_ERR_NO_MEMORY`) but no failure is injected here.
struct Slots<T>(Slab<T>);

impl<T> Slots<T> {
    const fn new() -> Self {
        Self(Slab::new())
    }

    /// Makes room for one value, and says the id it will get
    /// ([`Self::insert_reserved`]) while nothing else is inserted.
    fn reserve(&mut self) -> Result<Id, Status> {
        self.0.reserve(&Mem::default())?;
        Ok(Id(self.0.next_id()))
    }

    /// Inserts after [`Self::reserve`].
    fn insert_reserved(&mut self, value: T) -> Id {
        Id(self.0.insert_reserved(value))
    }

    fn insert(&mut self, value: T) -> Result<Id, Status> {
        self.0.insert(&Mem::default(), value).map(Id)
    }

    fn get_mut(&mut self, id: Id) -> Option<&mut T> {
        self.0.get_mut(id.0)
    }

    fn remove(&mut self, id: Id) -> Option<T> {
        self.0.remove(id.0)
    }
}

struct Task {
    table: TableId,
    vmar: VmarId,
    vmar_range: (u64, u64),
    /// `TPIDRRO_EL0` of its threads: the task's own handles to its sub-VMAR
    /// (low half) and to itself (high half), as `zx` reads them.
    self_handles: u64,
    signals: SignalsId,
    /// Threads started and not yet exited.
    threads: u32,
    /// [`end`] has begun: no thread starts any more.
    ended: bool,
    /// [`end`] has finished: `ZX_TASK_TERMINATED` is asserted. Until then
    /// the record and its reference to `signals` stay, even once every
    /// thread has exited and every handle is closed (on other CPUs).
    terminated: bool,
    /// Its translation table (`vm::domain`): its sub-VMAR is that slot.
    domain: DomainId,
    /// The task that created it (none for the first), whose live children
    /// it counts among until it ends.
    parent: Option<Id>,
    /// Its own children that have not ended: at most
    /// [`TASK_MAX_LIVE_CHILDREN`], so one task cannot take every slot.
    children: u32,
}

/// A thread of a task, from its creation (or its task's start, for the
/// first thread) until it exits or, never started, dies.
struct Thread {
    task: Id,
    /// Its signal state, for a thread object; a task's first thread has
    /// none (no handle names it). The kernel holds one reference.
    signals: Option<SignalsId>,
    started: bool,
    /// The scheduler's thread, once spawned.
    running: Option<sched::ThreadId>,
    /// `zx_task_kill` named it (counted in [`THREAD_KILLS`] until it exits).
    killed: bool,
    /// Its neighbours in its task's list.
    prev: Option<Id>,
    next: Option<Id>,
}

impl Thread {
    fn new(task: Id, signals: Option<SignalsId>, started: bool) -> Self {
        Self {
            task,
            signals,
            started,
            running: None,
            killed: false,
            prev: None,
            next: None,
        }
    }
}

/// Most threads one task may have at once (records, started or not): one
/// task cannot take every thread slot and kernel stack from the others.
pub const MAX_THREADS_PER_TASK: u32 = 256;

/// Every thread record, and each task's list of them.
struct Threads {
    slots: Slots<Thread>,
    /// Per task slot: the first thread of its list.
    first: [Option<Id>; MAX_TASKS],
    /// Per task slot: how many threads its list holds.
    count: [u32; MAX_TASKS],
}

impl Threads {
    /// Records a thread of `task` at the head of its list; `ZX_ERR_BAD_STATE`
    /// once the task has ended (its end walks the list after marking it
    /// ended, so nothing joins a list being walked).
    fn link(&mut self, thread: Thread) -> Result<Id, Status> {
        let task = thread.task;
        if !is_alive(task) {
            return Err(ZX_ERR_BAD_STATE);
        }
        if self.count[task.slot()] >= MAX_THREADS_PER_TASK {
            return Err(ZX_ERR_NO_MEMORY);
        }
        let head = self.first[task.slot()];
        let id = self.slots.insert(Thread {
            prev: None,
            next: head,
            ..thread
        })?;
        if let Some(t) = head.and_then(|h| self.slots.get_mut(h)) {
            t.prev = Some(id);
        }
        self.first[task.slot()] = Some(id);
        self.count[task.slot()] += 1;
        Ok(id)
    }

    /// Removes a thread's record and takes it off its task's list.
    fn unlink(&mut self, id: Id) -> Option<Thread> {
        let t = self.slots.remove(id)?;
        self.count[t.task.slot()] -= 1;
        match t.prev {
            Some(p) => {
                if let Some(p) = self.slots.get_mut(p) {
                    p.next = t.next;
                }
            }
            None => self.first[t.task.slot()] = t.next,
        }
        if let Some(n) = t.next.and_then(|n| self.slots.get_mut(n)) {
            n.prev = t.prev;
        }
        Some(t)
    }

    /// Removes the record of a thread never started; its signal state.
    fn unlink_unstarted(&mut self, id: Id) -> Option<SignalsId> {
        if self.slots.get_mut(id).is_some_and(|t| !t.started) {
            return self.unlink(id).and_then(|t| t.signals);
        }
        None
    }
}

static TASKS: IrqMutex<Slots<Task>> = crate::sync::ranked(crate::sync::Rank::Tasks, Slots::new());

/// Most tasks alive at once.
const MAX_TASKS: usize = 4096;
/// Per task slot: the live task's generation plus one, or 0. Read without a
/// lock on every return to EL0, so a thread of an ended task notices at once.
static ALIVE: [AtomicU32; MAX_TASKS] = [const { AtomicU32::new(0) }; MAX_TASKS];

fn set_alive(id: Id, alive: bool) {
    let value = if alive {
        id.0.generation().wrapping_add(1)
    } else {
        0
    };
    ALIVE[id.slot()].store(value, Ordering::Release);
}

#[inline(always)]
fn is_alive(id: Id) -> bool {
    ALIVE
        .get(id.slot())
        .is_some_and(|a| a.load(Ordering::Acquire) == id.0.generation().wrapping_add(1))
}
/// Threads killed by `zx_task_kill` on a thread handle and not yet exited:
/// while it is zero (almost always), the return to EL0 asks only whether
/// the task ended, with one load.
static THREAD_KILLS: AtomicU32 = AtomicU32::new(0);

static THREADS: IrqMutex<Threads> = crate::sync::ranked(
    crate::sync::Rank::Threads,
    Threads {
        slots: Slots::new(),
        first: [None; MAX_TASKS],
        count: [0; MAX_TASKS],
    },
);

/// A kernel-owned object in a handle table.
#[derive(Clone, Debug)]
pub enum KObject {
    /// A task.
    Task {
        /// Which.
        id: Id,
        /// Its koid.
        koid: Koid,
        /// Its signal state.
        signals: SignalsId,
    },
    /// A thread.
    Thread {
        /// Which.
        id: Id,
        /// Its koid.
        koid: Koid,
        /// Its signal state.
        signals: SignalsId,
    },
    /// A timer (`crate::timers`).
    Timer {
        /// Which.
        id: crate::timers::TimerId,
        /// Its koid.
        koid: Koid,
        /// Its signal state.
        signals: SignalsId,
    },
}

impl KernelObject for KObject {
    fn obj_type(&self) -> ObjType {
        match self {
            KObject::Task { .. } => ZX_OBJ_TYPE_PROCESS,
            KObject::Thread { .. } => ZX_OBJ_TYPE_THREAD,
            KObject::Timer { .. } => ZX_OBJ_TYPE_TIMER,
        }
    }
    fn koid(&self) -> Koid {
        match self {
            KObject::Task { koid, .. }
            | KObject::Thread { koid, .. }
            | KObject::Timer { koid, .. } => *koid,
        }
    }
    fn signals(&self) -> SignalsId {
        match self {
            KObject::Task { signals, .. }
            | KObject::Thread { signals, .. }
            | KObject::Timer { signals, .. } => *signals,
        }
    }
}

/// How a task ended, as stored with its signal state.
fn end_payload(end: &ZxInfoTaskEnd) -> [u64; KERNEL_PAYLOAD_WORDS] {
    [
        u64::from(end.state),
        end.code as u64,
        end.esr,
        end.far,
        end.elr,
    ]
}

/// `ZX_INFO_TASK_END` of a task whose signal state is `signals`.
pub fn end_info(space: &Space, signals: SignalsId) -> ZxInfoTaskEnd {
    let p = space.kernel_payload(signals);
    ZxInfoTaskEnd {
        state: p[0] as u32,
        padding: 0,
        code: p[1] as i64,
        esr: p[2],
        far: p[3],
        elr: p[4],
    }
}

/// `ZX_INFO_PROCESS` for the task whose signal state is `signals`.
pub fn process_info(space: &Space, signals: SignalsId) -> ZxInfoProcess {
    let end = end_info(space, signals);
    ZxInfoProcess {
        // The reference page: a killed process's return code is -1; a
        // fault's end is the kernel's kill.
        return_code: match end.state {
            ZX_TASK_RUNNING => 0,
            ZX_TASK_EXITED => end.code,
            _ => -1,
        },
        // A task starts as it is made.
        started: 1,
        exited: u8::from(end.state != ZX_TASK_RUNNING),
        ..Default::default()
    }
}

/// `ZX_INFO_THREAD` for thread `id` (call with no lock held: it takes the
/// thread table's, then the scheduler's).
pub fn thread_info(id: Id) -> ZxInfoThread {
    // Its record goes when it exits (or, never started, with its task).
    let record = THREADS
        .lock()
        .slots
        .get_mut(id)
        .map(|t| (t.started, t.killed || !is_alive(t.task), t.running));
    let state = match record {
        None => ZX_THREAD_STATE_DEAD,
        Some((false, ..)) => ZX_THREAD_STATE_NEW,
        // Started, not yet given to the scheduler.
        Some((true, _, None)) => ZX_THREAD_STATE_RUNNING,
        Some((true, dying, Some(thread))) => match sched::blocked_in_syscall(thread) {
            // Gone from the scheduler: it has exited.
            None => ZX_THREAD_STATE_DEAD,
            Some(_) if dying => ZX_THREAD_STATE_DYING,
            Some(None) => ZX_THREAD_STATE_RUNNING,
            Some(Some(n)) => blocked_state(n),
        },
    };
    ZxInfoThread {
        state,
        wait_exception_port_type: ZX_EXCEPTION_PORT_TYPE_NONE,
    }
}

/// The `ZX_THREAD_STATE_BLOCKED_*` for a thread blocked in syscall `n`.
fn blocked_state(n: u64) -> u32 {
    const SLEEP: u64 = Syscall::Nanosleep as u64;
    const WAIT_ONE: u64 = Syscall::ObjectWaitOne as u64;
    const WAIT_MANY: u64 = Syscall::ObjectWaitMany as u64;
    const PORT_WAIT: u64 = Syscall::PortWait as u64;
    match n {
        SLEEP => ZX_THREAD_STATE_BLOCKED_SLEEPING,
        WAIT_ONE => ZX_THREAD_STATE_BLOCKED_WAIT_ONE,
        WAIT_MANY => ZX_THREAD_STATE_BLOCKED_WAIT_MANY,
        PORT_WAIT => ZX_THREAD_STATE_BLOCKED_PORT,
        _ => ZX_THREAD_STATE_BLOCKED,
    }
}

/// Handles moved into a new task, and their values there.
pub struct StartHandles {
    /// How many.
    pub count: usize,
    /// Their values in the caller's table.
    pub from: [Handle; MAX_START_HANDLES],
}

/// `task_create` from the calling task (whose thread this runs on): a
/// task whose first thread runs `entry(arg, handles…)` at EL0, moving
/// `handles` from the caller's `table` (each needs TRANSFER); returns a
/// handle to it in `table`. Nothing is left behind on failure. The caller
/// may have [`TASK_MAX_LIVE_CHILDREN`] children that have not ended; one
/// more is `ZX_ERR_NO_MEMORY` (every slot taken is `ZX_ERR_NO_RESOURCES`).
pub fn create(
    table: TableId,
    entry: u64,
    arg: u64,
    handles: &StartHandles,
) -> Result<Handle, Status> {
    let parent = Id::from_raw(el0::record().task);
    create_task(table, Some(parent), entry, arg, handles)
}

/// [`create`] for `parent` (`None`: the kernel's first task).
fn create_task(
    table: TableId,
    parent: Option<Id>,
    entry: u64,
    arg: u64,
    handles: &StartHandles,
) -> Result<Handle, Status> {
    if !image::get().is_text(entry) {
        return Err(ZX_ERR_INVALID_ARGS);
    }
    let (id, moved, stack_top, handle, rec, vmar_handle) = {
        let mut tasks = TASKS.lock();
        if let Some(p) = parent {
            // An ended parent's syscall does not get here (its threads leave).
            let children = tasks.get_mut(p).map_or(0, |t| t.children);
            if children >= TASK_MAX_LIVE_CHILDREN {
                return Err(ZX_ERR_NO_MEMORY);
            }
        }
        // The task's id is its slot's, known before it is built: the lock
        // is held until it is inserted.
        let id = tasks.reserve()?;
        if id.slot() >= MAX_TASKS {
            return Err(ZX_ERR_NO_MEMORY);
        }
        let (mut task, moved, stack_top, handle) = objects::with(|s| build(s, table, id, handles))?;
        task.parent = parent;
        let rec = (task.table, task.vmar_range);
        let vmar_handle = task.self_handles;
        let inserted = tasks.insert_reserved(task);
        debug_assert_eq!(inserted, id);
        if let Some(p) = parent.and_then(|p| tasks.get_mut(p)) {
            p.children += 1;
        }
        set_alive(id, true);
        (id, moved, stack_top, handle, rec, vmar_handle)
    };
    let mut args = [arg, 0, 0, 0, 0, 0];
    for (a, h) in args[1..].iter_mut().zip(moved) {
        *a = u64::from(h);
    }
    let first = THREADS.lock().link(Thread::new(id, None, true));
    let spawned = first.and_then(|first| {
        spawn_thread(id, first, entry, stack_top, args, rec, vmar_handle).inspect_err(|_| {
            THREADS.lock().unlink(first);
        })
    });
    match spawned {
        Ok(()) => Ok(handle),
        Err(e) => {
            // The thread never ran: end the task and take back the handle.
            end(
                id,
                ZxInfoTaskEnd {
                    state: ZX_TASK_EXITED,
                    code: -1,
                    ..Default::default()
                },
            );
            reap_if_done(id);
            objects::with(|s| s.task(table).handle_close(handle)).ok();
            Err(e)
        }
    }
}

/// Builds a task in the object space: table, sub-VMAR and its handle, the
/// first thread's stack, moved handles, and the caller's handle to it.
fn build(
    s: &mut Space,
    caller: TableId,
    id: Id,
    handles: &StartHandles,
) -> Result<(Task, [Handle; MAX_START_HANDLES], u64, Handle), Status> {
    if handles.count > MAX_START_HANDLES {
        return Err(ZX_ERR_INVALID_ARGS);
    }
    let from = &handles.from[..handles.count];
    for (i, &h) in from.iter().enumerate() {
        let e = s.entry(caller, h)?;
        if e.rights & ZX_RIGHT_TRANSFER == 0 {
            return Err(ZX_ERR_ACCESS_DENIED);
        }
        if from[..i].contains(&h) {
            return Err(ZX_ERR_INVALID_ARGS);
        }
    }
    let table = s.create_table(QUOTA)?;
    let mut made_vmar = None;
    let mut made_domain = None;
    let result = (|| {
        let (dom, vmar, base) = domain_and_vmar(s)?;
        made_domain = Some(dom);
        made_vmar = Some(vmar);
        s.vmar_set_account(vmar, table)?;
        let vmar_handle = s.install_vmar(table, vmar, object::vmar_rights(VMAR_FLAGS))?;
        let stack_top = map_stack(s, table, vmar)?;
        let (signals, koid) = s.kernel_signals_create()?;
        let handle =
            match s.install_kernel_object(caller, KObject::Task { id, koid, signals }, TASK_RIGHTS)
            {
                Ok(h) => h,
                Err(e) => {
                    s.kernel_signals_release(signals);
                    return Err(e);
                }
            };
        // The task's handle to itself (closed with its table when it ends).
        let me = KObject::Task { id, koid, signals };
        let self_handle = match s.install_kernel_object(table, me, TASK_RIGHTS) {
            Ok(h) => h,
            Err(e) => {
                s.task(caller).handle_close(handle).ok();
                s.kernel_signals_release(signals);
                return Err(e);
            }
        };
        let mut moved = [ZX_HANDLE_INVALID; MAX_START_HANDLES];
        for (i, &h) in from.iter().enumerate() {
            // Rights and duplicates were checked: only memory can fail, and
            // the table reserves before it moves anything.
            match s.transfer(caller, h, table) {
                Ok(new) => moved[i] = new,
                Err(e) => {
                    s.task(caller).handle_close(handle).ok();
                    s.kernel_signals_release(signals);
                    return Err(e);
                }
            }
        }
        let task = Task {
            table,
            vmar,
            vmar_range: (base, TASK_VMAR_SIZE),
            self_handles: u64::from(vmar_handle) | (u64::from(self_handle) << 32),
            signals,
            threads: 0,
            ended: false,
            terminated: false,
            domain: dom,
            parent: None,
            children: 0,
        };
        Ok((task, moved, stack_top, handle))
    })();
    if result.is_err() {
        // Mappings go with the sub-VMAR, handles already moved with the table.
        if let Some(vmar) = made_vmar {
            s.vmar_destroy_id(vmar).ok();
        }
        if let Some(dom) = made_domain {
            domain::destroy(dom);
        }
        s.destroy_table(table).ok();
    }
    result
}

/// A new domain and the sub-VMAR that is its slot. A slot whose range the
/// root VMAR has given to something else (kernel tests place VMARs there)
/// is passed over; a few tries, then `ZX_ERR_NO_MEMORY`.
fn domain_and_vmar(s: &mut Space) -> Result<(DomainId, VmarId, u64), Status> {
    const TRIES: usize = 4;
    let root = objects::root_vmar();
    let (root_base, _) = s.vmar_range(root).ok_or(ZX_ERR_BAD_STATE)?;
    let mut passed = [usize::MAX; TRIES];
    for attempt in 0..TRIES {
        let (dom, base) = domain::create(|slot| passed.contains(&slot))?;
        match s.vmar_create_child(
            root,
            VMAR_FLAGS | ZX_VM_SPECIFIC,
            base - root_base,
            TASK_VMAR_SIZE,
        ) {
            Ok((vmar, at)) => {
                debug_assert_eq!(at, base);
                return Ok((dom, vmar, base));
            }
            Err(_) => {
                domain::destroy(dom);
                passed[attempt] = domain::slot_of(base).unwrap_or(usize::MAX);
            }
        }
    }
    Err(ZX_ERR_NO_MEMORY)
}

/// Maps a stack with a guard gap below it in `vmar`; returns its top.
fn map_stack(s: &mut Space, table: TableId, vmar: VmarId) -> Result<u64, Status> {
    let flags = ZX_VM_CAN_MAP_READ | ZX_VM_CAN_MAP_WRITE | ZX_VM_CAN_MAP_SPECIFIC;
    let (region, _) = s.vmar_create_child(vmar, flags, 0, STACK_GUARD + STACK_SIZE)?;
    let vmo = s.task(table).vmo_create(STACK_SIZE, ZX_VMO_NON_RESIZABLE)?;
    let id = s.vmo_of(table, vmo)?;
    let rw = ZX_VM_PERM_READ | ZX_VM_PERM_WRITE;
    let args = MapArgs {
        vmar: region,
        options: rw | ZX_VM_SPECIFIC,
        vmar_offset: STACK_GUARD,
        vmo: id,
        vmo_offset: 0,
        len: STACK_SIZE,
    };
    let mapped = s.vmar_map_vmo(args, rw);
    s.task(table).handle_close(vmo)?;
    mapped.map(|addr| addr + STACK_SIZE)
}

/// Starts a kernel thread that enters EL0 for task `task` as its thread
/// `thread`, and records it there (so the task's end can kill it).
fn spawn_thread(
    task: Id,
    thread: Id,
    entry: u64,
    sp: u64,
    args: [u64; 6],
    (table, vmar): (TableId, (u64, u64)),
    tpidrro: u64,
) -> Result<(), Status> {
    let dom = {
        let mut tasks = TASKS.lock();
        let t = tasks
            .get_mut(task)
            .filter(|t| !t.ended)
            .ok_or(ZX_ERR_BAD_STATE)?;
        t.threads += 1;
        t.domain
    };
    let record = UserRecord {
        table,
        task: task.raw(),
        thread: thread.raw(),
        vmar,
        tpidrro,
    };
    // Detached (joining is done through the task's signals), and holding
    // no heap for its entry: all it needs is on its own stack.
    let spawned = sched::spawn_detached_prepared(
        "task",
        dom,
        // SAFETY: `top` ends the fresh stack of a thread not yet running.
        |top| unsafe { el0::prepare(top, entry, sp, args, record) },
        || el0::enter_prepared::<crate::trap::Kernel>(),
    );
    match spawned {
        Ok(tid) => {
            let killed = THREADS.lock().slots.get_mut(thread).is_some_and(|t| {
                t.running = Some(tid);
                t.killed
            });
            // The task's end walks its threads after marking it ended: it
            // either saw `running` set, or this sees the task ended. A
            // thread kill likewise (under the thread table's lock).
            if killed || !is_alive(task) {
                sched::kill(tid);
            }
            Ok(())
        }
        Err(e) => {
            if let Some(t) = TASKS.lock().get_mut(task) {
                t.threads -= 1;
            }
            Err(e)
        }
    }
}

/// Ends task `id` (once): its sub-VMAR and handle table go, how it ended is
/// recorded, and `ZX_TASK_TERMINATED` is asserted.
pub fn end(id: Id, how: ZxInfoTaskEnd) {
    let (table, vmar, signals, dom, parent) = {
        let mut tasks = TASKS.lock();
        let Some(t) = tasks.get_mut(id) else { return };
        if t.ended {
            return;
        }
        t.ended = true;
        set_alive(id, false);
        (t.table, t.vmar, t.signals, t.domain, t.parent)
    };
    // However many mappings and handles, in bounded steps (the sub-VMAR
    // was marked dying by nobody else: a task never holds it twice).
    objects::start_in_steps(
        |s| s.vmar_destroy_begin(vmar),
        |s, (), budget| s.vmar_destroy_step(vmar, budget),
    )
    .ok();
    // Its mappings are gone: its table, ASID and TLB entries go too (a
    // thread of it still in the kernel runs on the kernel's table).
    domain::destroy(dom);
    // Its slot is free: its parent may create another in its place (before
    // anyone sees this task ended).
    if let Some(p) = parent {
        if let Some(p) = TASKS.lock().get_mut(p) {
            p.children -= 1;
        }
    }
    objects::in_steps(|s, budget| s.destroy_table_step(table, *budget).unwrap_or(true));
    // Its threads first: whoever sees the task terminated (on another CPU
    // at once) sees every thread never started terminated too.
    end_threads(id);
    objects::with(|s| {
        s.kernel_set_payload(signals, end_payload(&how));
        s.kernel_signal(signals, 0, ZX_TASK_TERMINATED);
    });
    // Its last thread may have exited meanwhile (and its last handle been
    // closed): it left the reaping to this.
    if let Some(t) = TASKS.lock().get_mut(id) {
        t.terminated = true;
    }
    reap_if_done(id);
}

/// Where [`end_threads`] goes on in a task's list.
#[derive(Clone, Copy)]
enum Cursor {
    Head,
    At(Id),
}

/// Kills every running thread of the ended task `task` and ends every one
/// never started, one at a time, each step O(1) under the thread table's
/// lock. Killed threads leave their records when they exit; if the entry
/// to visit next has left meanwhile, the walk starts again at the head
/// (killing twice is harmless, and nothing joins an ended task's list).
fn end_threads(task: Id) {
    enum Step {
        Kill(sched::ThreadId),
        Died(Option<SignalsId>),
        Pass,
    }
    let mut cursor = Cursor::Head;
    loop {
        let step = {
            let mut threads = THREADS.lock();
            let at = match cursor {
                Cursor::At(id) if threads.slots.get_mut(id).is_some() => Some(id),
                _ => threads.first[task.slot()],
            };
            let Some(at) = at else { break };
            let Some(t) = threads.slots.get_mut(at) else {
                break;
            };
            let next = t.next;
            let step = match (t.running, t.started) {
                (Some(tid), _) => Step::Kill(tid),
                (None, false) => Step::Died(threads.unlink_unstarted(at)),
                // Being spawned: its starter sees the task ended and kills it.
                (None, true) => Step::Pass,
            };
            match next {
                Some(n) => cursor = Cursor::At(n),
                None => {
                    drop(threads);
                    finish_step(step);
                    break;
                }
            }
            step
        };
        finish_step(step);
    }

    fn finish_step(step: Step) {
        match step {
            Step::Kill(tid) => {
                sched::kill(tid);
            }
            Step::Died(signals) => thread_died(signals),
            Step::Pass => {}
        }
    }
}

/// A thread never started died with its task: its handles see it end.
fn thread_died(signals: Option<SignalsId>) {
    if let Some(signals) = signals {
        objects::with(|s| {
            s.kernel_signal(signals, 0, ZX_TASK_TERMINATED);
            s.kernel_signals_release(signals);
        });
    }
}

/// The object layer's question: the last handle to `object` closed; is the
/// kernel done with it? A thread never started is: it dies (its record
/// goes, and the caller drops the kernel's reference to its signals).
/// A timer is: its last handle closed, it is disarmed and freed.
fn unreferenced(object: &KObject) -> bool {
    match object {
        KObject::Thread { id, .. } => THREADS.lock().unlink_unstarted(*id).is_some(),
        KObject::Timer { id, .. } => {
            crate::timers::unreferenced(*id);
            true
        }
        KObject::Task { .. } => false,
    }
}

/// The kernel objects a handle names are [`KObject`]s, and [`unreferenced`]
/// answers for them: declared here, beside them, so the object space
/// (`objects`) need not know the task module.
impl object::Platform for objects::KernelPlatform {
    type KernelObject = KObject;
    type HierarchyHold = objects::HierarchyHold;

    #[inline(always)]
    fn lock_hierarchy(&self, key: abi::Koid) -> objects::HierarchyHold {
        objects::lock_hierarchy(key)
    }

    fn kernel_object_unreferenced(&self, object: &KObject) -> bool {
        unreferenced(object)
    }

    #[inline(always)]
    fn cpu(&self) -> usize {
        crate::arch::context::cpu_index()
    }
}

// The object space keeps a slot of per-CPU state for every CPU.
const _: () = assert!(crate::sched::MAX_CPUS <= object::HINT_SLOTS);

/// Frees the task's record once its end has finished and its last thread
/// is gone (whichever comes last reaps).
fn reap_if_done(id: Id) {
    let mut tasks = TASKS.lock();
    let done = tasks
        .get_mut(id)
        .is_some_and(|t| t.terminated && t.threads == 0);
    if done {
        if let Some(t) = tasks.remove(id) {
            drop(tasks);
            objects::with(|s| s.kernel_signals_release(t.signals));
        }
    }
}

/// Whether the current thread's task has ended.
#[inline(always)]
fn current_task_ended(rec: &UserRecord) -> bool {
    !is_alive(Id::from_raw(rec.task))
}

/// Ends the current thread (its task ends too if it was the last).
pub fn exit_current_thread() -> ! {
    exit_thread(el0::record())
}

/// Ends the current thread, whose record is `rec`.
fn exit_thread(rec: &UserRecord) -> ! {
    let task = Id::from_raw(rec.task);
    let removed = THREADS.lock().unlink(Id::from_raw(rec.thread));
    if removed.as_ref().is_some_and(|th| th.killed) {
        THREAD_KILLS.fetch_sub(1, Ordering::AcqRel);
    }
    if let Some(signals) = removed.and_then(|th| th.signals) {
        objects::with(|s| {
            s.kernel_signal(signals, 0, ZX_TASK_TERMINATED);
            s.kernel_signals_release(signals);
        });
    }
    let last = {
        let mut tasks = TASKS.lock();
        tasks.get_mut(task).is_some_and(|t| {
            t.threads -= 1;
            t.threads == 0
        })
    };
    if last {
        end(
            task,
            ZxInfoTaskEnd {
                state: ZX_TASK_EXITED,
                code: 0,
                ..Default::default()
            },
        );
    }
    reap_if_done(task);
    crate::sched::exit()
}

/// `task_exit`: ends the calling task with `code`, and the calling thread.
pub fn exit_current_task(code: i64) -> ! {
    let rec = el0::record();
    end(
        Id::from_raw(rec.task),
        ZxInfoTaskEnd {
            state: ZX_TASK_EXITED,
            code,
            ..Default::default()
        },
    );
    exit_current_thread()
}

/// A fault nobody could resolve in task code: report it, end the task.
pub fn fault(frame: &TrapFrame) -> ! {
    let rec = el0::record();
    if current_task_ended(rec) {
        // The task ended on another CPU while this thread ran (killed, or
        // another thread's fault): its mappings went before the kick
        // reached this CPU, so the fault is the end's doing, not the
        // task's. It already has its end; this thread only leaves.
        exit_thread(rec)
    }
    report::task_fault(rec.task, frame);
    let how = ZxInfoTaskEnd {
        state: ZX_TASK_FAULTED,
        code: 0,
        esr: frame.esr,
        far: frame.far,
        elr: frame.elr,
        ..Default::default()
    };
    end(Id::from_raw(rec.task), how);
    exit_current_thread()
}

/// Called on the ways back to EL0 that may follow a thread switch (and on
/// a thread's first entry): a thread of an ended task leaves instead.
/// A thread killed by `zx_task_kill` on its handle leaves too.
///
/// Inlined into every syscall's return: the common answer (task alive, no
/// thread kill pending anywhere) is two loads and no call.
#[inline(always)]
pub fn leave_if_ended(rec: &UserRecord) {
    if current_task_ended(rec) || THREAD_KILLS.load(Ordering::Acquire) != 0 {
        leave_if_ended_or_killed(rec);
    }
}

/// [`leave_if_ended`]'s rarer part: the task ended, or some thread kill
/// is pending (this thread's, or another's).
#[cold]
#[inline(never)]
fn leave_if_ended_or_killed(rec: &UserRecord) {
    if current_task_ended(rec) || killed(rec) {
        // Leaving runs masked until another thread runs (the syscall
        // return masked IRQs without starting an interval).
        crate::latency::masked_begin();
        exit_thread(rec);
    }
}

/// Whether `zx_task_kill` named the calling thread: the scheduler's flag,
/// or, for a kill that came while the thread was being spawned (its
/// scheduler thread not yet recorded, so only its record was marked), the
/// record's. Asked only while some kill is pending.
fn killed(rec: &UserRecord) -> bool {
    sched::current_killed()
        || THREADS
            .lock()
            .slots
            .get_mut(Id::from_raw(rec.thread))
            .is_some_and(|t| t.killed)
}

/// `zx_task_kill`: ends the task `handle` names, as killed (`ZX_TASK_KILLED`,
/// code -1), or kills the thread it names: a thread never started dies at
/// once; a running one leaves at its next return towards EL0 (a blocked
/// one wakes first), and its handles see `ZX_THREAD_TERMINATED` then.
/// Killing what has already ended is `ZX_OK`. A task or thread killing
/// itself does not return to task code.
pub fn kill(table: TableId, handle: Handle) -> Result<(), Status> {
    let (object, rights) =
        kernel_object(table, handle, 0, |k| !matches!(k, KObject::Timer { .. }))?;
    if rights & ZX_RIGHT_DESTROY == 0 {
        return Err(ZX_ERR_ACCESS_DENIED);
    }
    match object {
        KObject::Task { id, .. } => {
            end(
                id,
                ZxInfoTaskEnd {
                    state: ZX_TASK_KILLED,
                    code: -1,
                    ..Default::default()
                },
            );
            Ok(())
        }
        KObject::Timer { .. } => Err(ZX_ERR_WRONG_TYPE),
        KObject::Thread { id, .. } => {
            enum Step {
                Kill(sched::ThreadId),
                Died(Option<SignalsId>),
                Nothing,
            }
            let step = {
                let mut threads = THREADS.lock();
                match threads.slots.get_mut(id) {
                    None => Step::Nothing,
                    Some(t) if !t.started => Step::Died(threads.unlink_unstarted(id)),
                    Some(t) => {
                        if !t.killed {
                            t.killed = true;
                            THREAD_KILLS.fetch_add(1, Ordering::AcqRel);
                        }
                        // Being spawned: its starter sees `killed`.
                        t.running.map_or(Step::Nothing, Step::Kill)
                    }
                }
            };
            match step {
                Step::Kill(tid) => {
                    sched::kill(tid);
                }
                Step::Died(signals) => thread_died(signals),
                Step::Nothing => {}
            }
            Ok(())
        }
    }
}

/// `thread_create`: a thread (not yet started) in the task `task_handle`
/// names; `ZX_ERR_BAD_STATE` if that task has ended. It dies, never
/// started, when its last handle closes or its task ends.
pub fn thread_create(table: TableId, task_handle: Handle, options: u32) -> Result<Handle, Status> {
    if options != 0 {
        return Err(ZX_ERR_INVALID_ARGS);
    }
    let task = task_of(table, task_handle, ZX_RIGHT_WRITE)?;
    objects::with(|s| {
        let (signals, koid) = s.kernel_signals_create()?;
        let id = match THREADS.lock().link(Thread::new(task, Some(signals), false)) {
            Ok(id) => id,
            Err(e) => {
                s.kernel_signals_release(signals);
                return Err(e);
            }
        };
        match s.install_kernel_object(table, KObject::Thread { id, koid, signals }, THREAD_RIGHTS) {
            Ok(h) => Ok(h),
            Err(e) => {
                THREADS.lock().unlink(id);
                s.kernel_signals_release(signals);
                Err(e)
            }
        }
    })
}

/// `thread_start`: runs the thread at `entry(arg1, arg2)` with stack `sp`.
pub fn thread_start(
    table: TableId,
    thread_handle: Handle,
    entry: u64,
    sp: u64,
    arg1: u64,
    arg2: u64,
) -> Result<(), Status> {
    let (thread, _) = kernel_object(table, thread_handle, ZX_RIGHT_WRITE, |k| {
        matches!(k, KObject::Thread { .. })
    })?;
    let KObject::Thread { id, .. } = thread else {
        return Err(ZX_ERR_WRONG_TYPE);
    };
    if !image::get().is_text(entry) {
        return Err(ZX_ERR_INVALID_ARGS);
    }
    let task = {
        let mut threads = THREADS.lock();
        let th = threads.slots.get_mut(id).ok_or(ZX_ERR_BAD_STATE)?;
        if th.started {
            return Err(ZX_ERR_BAD_STATE);
        }
        th.started = true;
        th.task
    };
    let started = (|| {
        let (rec, vmar_handle) = {
            let mut tasks = TASKS.lock();
            let t = tasks
                .get_mut(task)
                .filter(|t| !t.ended)
                .ok_or(ZX_ERR_BAD_STATE)?;
            ((t.table, t.vmar_range), t.self_handles)
        };
        spawn_thread(
            task,
            id,
            entry,
            sp,
            [arg1, arg2, 0, 0, 0, 0],
            rec,
            vmar_handle,
        )
    })();
    started.inspect_err(|_| {
        // Never started after all: it dies if its task ended meanwhile (the
        // task's end passed it by as being started) or if its last handle
        // closed meanwhile (likewise), as it would have then.
        let died = {
            let mut threads = THREADS.lock();
            if let Some(th) = threads.slots.get_mut(id) {
                th.started = false;
            }
            if is_alive(task) {
                None
            } else {
                Some(threads.unlink_unstarted(id))
            }
        };
        match died {
            Some(signals) => thread_died(signals),
            None => objects::with(|s| s.kernel_release_if_unreferenced(&thread)),
        }
    })
}

/// The kernel object `handle` names, with its rights checked.
/// The kernel object `handle` names if it is of the kind `is` accepts and
/// the handle has `right` (a wrong type is reported before a missing
/// right, as Zircon's handle lookup does).
fn kernel_object(
    table: TableId,
    handle: Handle,
    right: Rights,
    is: fn(&KObject) -> bool,
) -> Result<(KObject, Rights), Status> {
    objects::with(|s| {
        let e = s.entry(table, handle)?;
        let object::Object::Kernel(k) = &e.object else {
            return Err(ZX_ERR_WRONG_TYPE);
        };
        if !is(k) {
            return Err(ZX_ERR_WRONG_TYPE);
        }
        if e.rights & right != right {
            return Err(ZX_ERR_ACCESS_DENIED);
        }
        Ok((k.clone(), e.rights))
    })
}

fn task_of(table: TableId, handle: Handle, right: Rights) -> Result<Id, Status> {
    match kernel_object(table, handle, right, |k| matches!(k, KObject::Task { .. }))?.0 {
        KObject::Task { id, .. } => Ok(id),
        KObject::Thread { .. } | KObject::Timer { .. } => Err(ZX_ERR_WRONG_TYPE),
    }
}

/// Starts the EL0 image's first task from the kernel's own `table`, with
/// `arg` and the handles given; returns the kernel's handle to it.
pub fn start_first(table: TableId, arg: u64, handles: &StartHandles) -> Result<Handle, Status> {
    create_task(table, None, image::get().entry, arg, handles)
}
