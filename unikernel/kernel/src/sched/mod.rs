//! Kernel threads and the scheduler: a round-robin run queue per CPU,
//! preemption when a time slice ends, yield, block and wake, exit and join,
//! and a deadline queue that drives the one-shot virtual timer (tickless:
//! the timer is programmed for the earliest deadline, or the end of the
//! running thread's slice when another thread is waiting to run, or not at
//! all).
//!
//! # Locking
//!
//! One lock, [`SCHED`], guards every thread, run queue and the deadline
//! queue (Zircon's `thread_lock` does the same). It masks IRQs, and it is
//! held *across* a switch: the thread that switches away takes it, the
//! thread that resumes releases it, so on SMP no other CPU can pick up a
//! thread whose registers are still being saved. Every path that may switch
//! masks IRQs itself before locking and restores them after unlocking (the
//! lock's own saved `DAIF` belongs to whichever thread locked it).
//!
//! Lock order: the object space's lock, then [`SCHED`] (an object signal
//! wakes waiters while holding it), then the heap. The page table's lock is
//! never taken under [`SCHED`]: stacks are mapped before a thread is made
//! and unmapped after the lock is released ([`reap`]).
//!
//! # Waiting without lost wake-ups
//!
//! A wait first clears the thread's wait slot and arms its deadline
//! ([`wait_prepare`]), then registers with whatever will wake it (the object
//! layer), then blocks only while the slot is still empty
//! ([`wait_block`]); wakers fill the slot and make the thread runnable under
//! [`SCHED`]. A wake that lands between registration and blocking is
//! therefore seen, not lost.
//!
//! The boot path becomes thread 0 ([`init`]); each CPU has an idle thread
//! that fills the CPU's pool of pre-zeroed frames (`mm::frame`), one frame
//! per IRQs-masked step, then sits in `wfi` with IRQs enabled.

pub mod deadline;
pub mod sleep;

use crate::arch::context::{self, Context};
use crate::arch::{self, timer};
use crate::devicetree::Hardware;
use crate::sync::{IrqMutex, IrqSpinRaw};
use crate::time;
use crate::vm::domain::{self, DomainId};
use crate::vm::kstack::KernelStack;
use abi::{Signals, Status, ZX_ERR_NO_MEMORY};
use alloc::alloc::{alloc, Layout};
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};
use deadline::DeadlineQueue;

/// CPUs the scheduler has room for (the arch code's per-CPU tables).
pub use crate::arch::context::MAX_CPUS;
/// The boot CPU's index.
const BOOT_CPU: usize = 0;
/// CPUs that have come up and run threads (`zx_system_get_num_cpus`).
static CPUS_ONLINE: AtomicU32 = AtomicU32::new(0);

/// How many CPUs run threads: fixed once they are all up, at boot.
pub fn cpus_online() -> u32 {
    CPUS_ONLINE.load(Ordering::Relaxed)
}
/// How long a thread runs before another runnable thread gets the CPU.
pub const TIME_SLICE: time::Duration = time::msec(5);
/// How long a thread keeps the CPU it was just given before a deadline's
/// wake-up preempts it: a thread that has just woken gets to its next
/// block (microseconds) instead of being preempted on its way there and
/// queued behind the new thread's whole slice (`on_timer`). Bounds the
/// lateness that rule adds.
pub const WAKE_GRACE: time::Duration = time::usec(10);
/// Bits of a [`ThreadId`] that hold the slot index.
const SLOT_BITS: u32 = 32;

/// Names a thread for as long as it exists; never reused (a generation
/// count in the high bits makes a recycled slot's id different).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ThreadId(u64);

impl ThreadId {
    fn new(slot: usize, generation: u32) -> Self {
        Self(((generation as u64) << SLOT_BITS) | slot as u64)
    }

    fn slot(self) -> usize {
        (self.0 & ((1 << SLOT_BITS) - 1)) as usize
    }

    fn generation(self) -> u32 {
        (self.0 >> SLOT_BITS) as u32
    }

    /// The raw value (the object layer's `WaiterId`).
    pub fn raw(self) -> u64 {
        self.0
    }

    /// The id with raw value `raw`.
    pub fn from_raw(raw: u64) -> Self {
        Self(raw)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// In a run queue.
    Ready,
    /// On a CPU.
    Running,
    /// Waiting for a wake.
    Blocked,
    /// Exited; its stack is freed once it has switched away.
    Dead,
}

/// How a wait ended, filled in by wakers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WaitOutcome {
    /// The object layer's waker ran with these signals.
    pub signals: Option<Signals>,
    /// The deadline passed.
    pub timed_out: bool,
    /// The deadline expirations counter when this thread's deadline fired:
    /// orders timer wake-ups across threads.
    pub wake_seq: u64,
    /// The thread was killed ([`kill`]): the wait ended as a deadline would
    /// end it, and the thread is on its way out.
    pub killed: bool,
}

impl WaitOutcome {
    fn ended(&self) -> bool {
        self.signals.is_some() || self.timed_out || self.killed
    }
}

type Entry = Box<dyn FnOnce() + Send + 'static>;

struct Thread {
    id: ThreadId,
    name: &'static str,
    state: State,
    context: Context,
    /// `None` for the boot thread, which runs on the boot stack.
    stack: Option<KernelStack>,
    entry: Option<Entry>,
    wait: WaitOutcome,
    /// The slot of a thread blocked joining this one.
    joiner: Option<usize>,
    /// Nobody will join: free the slot at exit.
    detached: bool,
    /// Killed ([`kill`]): every wait ends at once, now and later.
    killed: bool,
    /// The CPU it runs on, or last ran or was queued on.
    cpu: usize,
    /// Never moved to another CPU: idle threads, the boot path, and the
    /// kernel threads a pinned thread starts ([`Scheduler::inherit_pinning`]).
    pinned: bool,
    /// The translation table it runs on (`vm::domain`).
    domain: DomainId,
}

struct Slot {
    generation: u32,
    thread: Option<Box<Thread>>,
}

struct Cpu {
    online: bool,
    current: usize,
    idle: usize,
    run_queue: VecDeque<usize>,
    /// How many threads at the front of `run_queue` were woken (made
    /// ready from blocked) rather than preempted: a woken thread goes
    /// after them, ahead of every preempted one.
    woken_ahead: usize,
    need_resched: bool,
    /// When the running thread's slice began and ends, in counter ticks.
    slice_start: u64,
    slice_end: u64,
    /// The thread switched away from, for the resumed side to clean up.
    prev: Option<usize>,
}

impl Cpu {
    const fn new() -> Self {
        Self {
            online: false,
            current: 0,
            idle: 0,
            run_queue: VecDeque::new(),
            woken_ahead: 0,
            need_resched: false,
            slice_start: 0,
            slice_end: 0,
            prev: None,
        }
    }
}

/// Counters for tests and reports.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    /// Thread switches.
    pub switches: u64,
    /// Switches forced by the end of a time slice.
    pub preemptions: u64,
    /// Deadlines that expired.
    pub deadline_expirations: u64,
    /// Threads alive (not yet exited), idle threads included.
    pub live_threads: usize,
    /// Threads an idle CPU took from another CPU's run queue.
    pub migrations: u64,
}

struct Scheduler {
    slots: Vec<Slot>,
    free: Vec<usize>,
    /// Stacks of exited threads, freed by [`reap`] once the scheduler lock
    /// is released (unmapping takes the page table's lock).
    dead_stacks: Vec<KernelStack>,
    cpus: [Cpu; MAX_CPUS],
    deadlines: DeadlineQueue,
    slice_ticks: u64,
    grace_ticks: u64,
    /// CPUs online; above 1, wake-ups look for an idle CPU and idle CPUs
    /// take work from busy ones.
    online: usize,
    stats: Stats,
}

static SCHED: IrqMutex<Scheduler> = crate::sync::ranked(
    crate::sync::Rank::Sched,
    Scheduler {
        slots: Vec::new(),
        free: Vec::new(),
        dead_stacks: Vec::new(),
        cpus: [const { Cpu::new() }; MAX_CPUS],
        deadlines: DeadlineQueue::new(),
        slice_ticks: 0,
        grace_ticks: 0,
        online: 0,
        stats: Stats {
            switches: 0,
            preemptions: 0,
            deadline_expirations: 0,
            live_threads: 0,
            migrations: 0,
        },
    },
);

type Guard = talc::lock_api::MutexGuard<'static, IrqSpinRaw, Scheduler>;

/// `Box::new` that reports exhaustion instead of aborting.
fn try_box<T>(value: T) -> Result<Box<T>, Status> {
    let layout = Layout::new::<T>();
    if layout.size() == 0 {
        return Ok(Box::new(value));
    }
    // SAFETY: the layout has a non-zero size.
    let ptr = unsafe { alloc(layout) } as *mut T;
    if ptr.is_null() {
        return Err(ZX_ERR_NO_MEMORY);
    }
    // SAFETY: `ptr` is a fresh allocation for a `T`; the box takes it over.
    unsafe {
        ptr.write(value);
        Ok(Box::from_raw(ptr))
    }
}

impl Scheduler {
    fn thread(&mut self, slot: usize) -> &mut Thread {
        self.slots[slot]
            .thread
            .as_deref_mut()
            .expect("the slot holds a thread")
    }

    fn lookup(&self, id: ThreadId) -> Option<usize> {
        let slot = self.slots.get(id.slot())?;
        (slot.generation == id.generation() && slot.thread.is_some()).then_some(id.slot())
    }

    fn current(&self) -> usize {
        self.cpus[context::cpu_index()].current
    }

    /// Puts a thread in a free slot and names it; the run queues, the
    /// deadline queue and the dead-stack list have room for it afterwards.
    /// On failure nothing changes and the thread comes back (to be dropped
    /// outside the lock: its stack is mapped).
    fn insert(&mut self, mut thread: Box<Thread>) -> Result<usize, (Status, Box<Thread>)> {
        if let Err(e) = self.reserve_one() {
            return Err((e, thread));
        }
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    thread: None,
                });
                self.slots.len() - 1
            }
        };
        thread.id = ThreadId::new(slot, self.slots[slot].generation);
        if let Some(stack) = &thread.stack {
            // The top of every kernel stack is kept free for what a thread
            // that enters a task finds there (`el0::prepare`).
            let top = stack.top() - crate::arch::el0::ENTRY_RESERVE;
            thread.context = Context::new(top, thread_start, slot);
        }
        self.slots[slot].thread = Some(thread);
        self.stats.live_threads += 1;
        Ok(slot)
    }

    /// Makes room for one more thread everywhere a thread may be recorded.
    fn reserve_one(&mut self) -> Result<(), Status> {
        let slots = self.slots.len() + usize::from(self.free.is_empty());
        let no_memory = |_| ZX_ERR_NO_MEMORY;
        self.slots.try_reserve(1).map_err(no_memory)?;
        self.free.try_reserve(slots).map_err(no_memory)?;
        self.dead_stacks.try_reserve(slots).map_err(no_memory)?;
        self.deadlines.reserve(slots).map_err(no_memory)?;
        for cpu in &mut self.cpus {
            let room = slots.saturating_sub(cpu.run_queue.len());
            cpu.run_queue.try_reserve(room).map_err(no_memory)?;
        }
        Ok(())
    }

    fn free_slot(&mut self, slot: usize) {
        self.deadlines.cancel(slot);
        let s = &mut self.slots[slot];
        s.thread = None;
        s.generation = s.generation.wrapping_add(1);
        self.free.push(slot);
    }

    /// A new kernel thread started by a pinned thread (the boot path, and
    /// so the kernel's tests) is pinned to the same CPU, as threads inherit
    /// their creator's CPU affinity on Linux; a task's threads run anywhere.
    fn inherit_pinning(&mut self, slot: usize) {
        let me = self.current();
        let pinned = self.thread(me).pinned;
        let t = self.thread(slot);
        if t.domain == domain::KERNEL {
            t.pinned = pinned;
        }
    }

    /// Whether CPU `cpu` runs its idle thread with nothing queued.
    fn is_idle(&self, cpu: usize) -> bool {
        let c = &self.cpus[cpu];
        c.online && c.current == c.idle && c.run_queue.is_empty()
    }

    /// An idle CPU, if there is one (and more than one CPU).
    fn idle_cpu(&self) -> Option<usize> {
        if self.online < 2 {
            return None;
        }
        (0..MAX_CPUS).find(|&c| self.is_idle(c))
    }

    /// Makes a blocked thread runnable; the caller has recorded why. It
    /// goes to the CPU it last ran on if that one is idle, else to an idle
    /// CPU if there is one, else back to its own; another CPU is told by
    /// an SGI ([`KICK_SGI`]).
    fn make_ready(&mut self, slot: usize) {
        let t = self.thread(slot);
        if t.state != State::Blocked {
            // Not asleep yet: it will see its wait slot before blocking.
            return;
        }
        t.state = State::Ready;
        let (last, pinned) = (t.cpu, t.pinned);
        let cpu = if pinned || self.is_idle(last) {
            last
        } else {
            self.idle_cpu().unwrap_or(last)
        };
        self.thread(slot).cpu = cpu;
        let c = &mut self.cpus[cpu];
        // Ahead of the threads that were preempted (in the order they
        // woke): a woken thread typically runs briefly and blocks again,
        // and the switch a deadline's wake-up asks for must reach it, not
        // give a preempted thread a whole slice first.
        // Behind them all (the common case: no thread was preempted) is a
        // plain push, cheaper than `insert`'s general path.
        if c.woken_ahead == c.run_queue.len() {
            c.run_queue.push_back(slot);
        } else {
            c.run_queue.insert(c.woken_ahead, slot);
        }
        c.woken_ahead += 1;
        if c.current == c.idle {
            c.need_resched = true;
        }
        if cpu == context::cpu_index() {
            self.arm_slice(cpu);
        } else {
            // It switches, or times the running thread's slice.
            arch::gic::send_sgi(KICK_SGI, cpu);
        }
    }

    /// [`Self::program_timer`] after a thread was made ready on this CPU
    /// (the only change since the timer was last programmed): the running
    /// thread's slice end now counts too. The timer already holds the
    /// earliest deadline (inserting one, or changing a timer object,
    /// programs it; a cancelled one may leave it early, which only makes
    /// `on_timer` program it again), so it only has to come no later than
    /// the slice end: one read of the timer instead of the deadline queue.
    /// Where no slice counts (this CPU idles, or a switch is due) the whole
    /// timer is programmed as before: those paths are rare, and stay as
    /// they were.
    #[inline(always)]
    fn arm_slice(&mut self, cpu: usize) {
        let c = &self.cpus[cpu];
        if c.current == c.idle || c.need_resched {
            self.program_timer(cpu);
            return;
        }
        if timer::programmed().is_none_or(|t| t > c.slice_end) {
            timer::program(c.slice_end);
        }
    }

    /// Takes a thread that waits in another CPU's run queue for CPU `cpu`
    /// (whose own queue is empty): from the longest queue, its first
    /// thread that may move.
    fn steal(&mut self, cpu: usize) -> Option<usize> {
        let victim = (0..MAX_CPUS)
            .filter(|&v| v != cpu && self.cpus[v].online)
            .max_by_key(|&v| self.cpus[v].run_queue.len())?;
        let at = (0..self.cpus[victim].run_queue.len())
            .find(|&i| !self.thread(self.cpus[victim].run_queue[i]).pinned)?;
        let v = &mut self.cpus[victim];
        let slot = v.run_queue.remove(at)?;
        if at < v.woken_ahead {
            v.woken_ahead -= 1;
        }
        self.stats.migrations += 1;
        self.thread(slot).cpu = cpu;
        Some(slot)
    }

    /// Whether a run queue other than `cpu`'s holds a thread that may move.
    fn work_elsewhere(&self, cpu: usize) -> bool {
        self.online > 1
            && (0..MAX_CPUS).any(|v| {
                v != cpu
                    && self.cpus[v]
                        .run_queue
                        .iter()
                        .any(|&t| self.slots[t].thread.as_ref().is_some_and(|t| !t.pinned))
            })
    }

    /// Tells an idle CPU, if any, that CPU `cpu` has threads waiting.
    fn kick_idle_for(&mut self, cpu: usize) {
        if self.cpus[cpu].run_queue.is_empty() {
            return;
        }
        if let Some(idle) = self.idle_cpu() {
            arch::gic::send_sgi(KICK_SGI, idle);
        }
    }

    /// Programs this CPU's timer for the earliest of the next deadline and,
    /// if another thread is waiting to run, the end of the current slice.
    /// Once a switch is due the slice no longer counts: the switch starts a
    /// new one (and a level-triggered timer left at a passed slice end would
    /// fire again before the switch could happen).
    fn program_timer(&mut self, cpu: usize) {
        let c = &self.cpus[cpu];
        let slicing = !c.run_queue.is_empty() && c.current != c.idle && !c.need_resched;
        let slice = slicing.then_some(c.slice_end);
        let deadline = self.deadlines.peek().map(|(_, d)| d);
        // Timer objects' next firing (`crate::timers`).
        let deadline = match (deadline, crate::timers::next_due()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match (slice, deadline) {
            (Some(a), Some(b)) => timer::program(a.min(b)),
            (Some(t), None) | (None, Some(t)) => timer::program(t),
            (None, None) => timer::disable(),
        }
    }

    /// Cleans up after the switch that resumed this CPU's current thread.
    #[inline(always)]
    fn finish_switch(&mut self, cpu: usize) {
        let Some(prev) = self.cpus[cpu].prev.take() else {
            return;
        };
        if self.thread(prev).state == State::Dead {
            self.finish_dead(prev);
        }
    }

    /// The thread switched away from was dead: it has switched away for
    /// good, so its stack can go (room for every thread's was reserved when
    /// it was made).
    #[cold]
    #[inline(never)]
    fn finish_dead(&mut self, prev: usize) {
        let t = self.thread(prev);
        let (stack, detached) = (t.stack.take(), t.detached);
        if let Some(stack) = stack {
            self.dead_stacks.push(stack);
        }
        if detached {
            self.free_slot(prev);
        }
    }
}

/// Switches this CPU to the next runnable thread (or idle). The caller has
/// already put the current thread where it belongs (run queue, blocked,
/// dead) and masked IRQs. Returns once this thread runs again.
fn reschedule(mut s: Guard) -> Guard {
    let cpu = context::cpu_index();
    let cur = s.cpus[cpu].current;
    let slice_start = timer::now();
    let (slice_ticks, grace_ticks) = (s.slice_ticks, s.grace_ticks);
    let c = &mut s.cpus[cpu];
    let next = match c.run_queue.pop_front() {
        Some(next) => next,
        None => {
            let idle = c.idle;
            if s.online > 1 {
                s.steal(cpu).unwrap_or(idle)
            } else {
                idle
            }
        }
    };
    let c = &mut s.cpus[cpu];
    c.woken_ahead = c.woken_ahead.saturating_sub(1);
    // Other woken threads wait behind this one: it gets `WAKE_GRACE` to
    // reach its next block, as `on_timer` gives a thread that has just got
    // the CPU when a deadline wakes another, not a whole slice before they
    // run (a sleeper woken just after a thread that then ran long, a
    // task's exit, waited that thread's whole slice: 5 ms late).
    let ticks = if c.woken_ahead > 0 {
        grace_ticks
    } else {
        slice_ticks
    };
    let slice_end = slice_start.saturating_add(ticks);
    c.need_resched = false;
    c.slice_start = slice_start;
    c.slice_end = slice_end;
    if next == cur {
        s.thread(cur).state = State::Running;
        s.program_timer(cpu);
        return s;
    }
    // Each thread looked up once: its box stays where it is until it is
    // dead and switched away from, so the pointers hold across the calls.
    let t = s.thread(next);
    t.state = State::Running;
    let (next_domain, to) = (t.domain, &raw const t.context);
    let from = &raw mut s.thread(cur).context;
    s.cpus[cpu].current = next;
    s.cpus[cpu].prev = Some(cur);
    s.stats.switches += 1;
    s.program_timer(cpu);
    if s.online > 1 {
        // What is still queued here may run on an idle CPU meanwhile.
        s.kick_idle_for(cpu);
    }
    // Another task's thread: its table and ASID (no TLB maintenance).
    domain::switch_to(next_domain);
    // The lock stays held across the switch; the resumed thread releases it.
    core::mem::forget(s);
    // SAFETY: IRQs are masked and the scheduler lock is held, so nobody else
    // touches either context; both threads' boxes and stacks stay alive (a
    // thread is freed only when Dead and switched away from).
    unsafe { context::switch(from, to) };
    // SAFETY: whoever switched back to this thread holds the lock for us.
    let mut s = unsafe { SCHED.make_guard_unchecked() };
    // It may resume on another CPU than it left.
    s.finish_switch(context::cpu_index());
    s
}

/// Runs `f` on the scheduler with IRQs masked for the whole call (it may
/// switch threads), restoring this thread's own interrupt mask afterwards.
fn with_sched<R>(f: impl FnOnce(Guard) -> (Guard, R)) -> R {
    with_sched_then(f, true)
}

/// [`with_sched`], freeing dead threads' stacks afterwards only if
/// `reap_dead` (else the next call that does frees them).
#[inline(always)]
fn with_sched_then<R>(f: impl FnOnce(Guard) -> (Guard, R), reap_dead: bool) -> R {
    let daif = arch::irq_save();
    let (s, r) = f(lock_masked());
    // Asked while the lock is still held, so the common case (nothing
    // exited) takes the lock once: a stack is left to free only after a
    // dead thread switched away, which `finish_switch` records under it.
    let dead = reap_dead && !s.dead_stacks.is_empty();
    drop(s);
    if dead {
        reap();
    }
    arch::irq_restore(daif);
    r
}

/// The scheduler's lock, for a caller that has masked IRQs itself (with
/// `arch::irq_save`, which keeps the masked interval's record): the lock
/// neither saves nor masks them again.
#[inline(always)]
fn lock_masked() -> Guard {
    // SAFETY: `raw` is used only to take the lock, which the guard then
    // owns and releases.
    unsafe { SCHED.raw() }.lock_masked();
    // SAFETY: this CPU holds the lock (just taken).
    unsafe { SCHED.make_guard_unchecked() }
}

/// Frees the stacks of threads that have exited, one at a time, each
/// outside the scheduler lock. Called after every path that may switch.
fn reap() {
    loop {
        let Some(stack) = SCHED.lock().dead_stacks.pop() else {
            return;
        };
        drop(stack);
    }
}

/// Where every thread starts: finish the switch that got here, release the
/// scheduler lock, unmask IRQs, run the entry, exit.
extern "C" fn thread_start(slot: usize) -> ! {
    let entry = {
        // SAFETY: the switch that started this thread holds the lock for us.
        let mut s = unsafe { SCHED.make_guard_unchecked() };
        s.finish_switch(context::cpu_index());
        s.thread(slot).entry.take()
    };
    reap();
    arch::irq_enable();
    if let Some(f) = entry {
        f();
    }
    exit()
}

fn idle_loop() {
    loop {
        // Zero free frames for this CPU's pool, a few per IRQs-masked
        // step, until it is full; then sleep. An interrupt that makes a
        // thread runnable switches away from here on its way out
        // (`irq_exit`), between steps or out of `wfi`.
        if crate::mm::frame::refill(crate::mm::frame::REFILL_BATCH) == 0 {
            arch::wait_for_interrupt();
        }
    }
}

/// Brings up threads on the boot CPU: the boot path becomes thread 0, an
/// idle thread is created, the GIC and the virtual timer are initialised,
/// and IRQs are unmasked. Call once, after the heap exists.
pub fn init(platform: &Hardware) {
    time::init();
    context::init_cpu(BOOT_CPU);
    CPUS_ONLINE.fetch_add(1, Ordering::Relaxed);
    let Some(gic) = platform.gic else {
        crate::power::fail("no interrupt controller in the device tree");
    };
    let cpus = platform.cpus.iter().count().max(1);
    // SAFETY: the device tree names these GIC regions; the MMU is off (or
    // maps them as device memory) and no other code drives the GIC.
    if let Err(e) = unsafe { arch::gic::init(gic, cpus) } {
        crate::power::fail(&alloc::format!("GIC: {e:?}"));
    }
    init_kick();
    let Some(timer_info) = platform.timer else {
        crate::power::fail("no timer node in the device tree");
    };
    let boot = make_thread("boot", BOOT_CPU, None, None)
        .unwrap_or_else(|_| crate::power::fail("no memory for the boot thread"));
    let idle = KernelStack::new()
        .map_err(|_| ZX_ERR_NO_MEMORY)
        .and_then(|stack| make_thread("idle", BOOT_CPU, Some(stack), Some(Box::new(idle_loop))))
        .unwrap_or_else(|_| crate::power::fail("no memory for the idle thread"));
    {
        let mut s = SCHED.lock();
        s.slice_ticks = time::duration_to_ticks(TIME_SLICE);
        s.grace_ticks = time::duration_to_ticks(WAKE_GRACE);
        let Ok(boot) = s.insert(boot) else {
            crate::power::fail("no memory for the boot thread");
        };
        s.thread(boot).state = State::Running;
        s.thread(boot).detached = true;
        // The boot path (the kernel's tests, power-off) stays on the boot CPU.
        s.thread(boot).pinned = true;
        let Ok(idle) = s.insert(idle) else {
            crate::power::fail("no memory for the idle thread");
        };
        s.thread(idle).state = State::Ready;
        s.thread(idle).detached = true;
        // It touches no task memory: it keeps whatever table is loaded.
        s.thread(idle).domain = domain::ANY;
        let slice_start = timer::now();
        let slice_end = slice_start.saturating_add(s.slice_ticks);
        s.thread(idle).pinned = true;
        let c = &mut s.cpus[BOOT_CPU];
        c.online = true;
        c.current = boot;
        c.idle = idle;
        c.slice_start = slice_start;
        c.slice_end = slice_end;
        s.online = 1;
    }
    timer::init(timer_info.virtual_ppi, on_timer);
    arch::irq_enable();
}

/// The SGI that tells a CPU to look at its run queue and its table: a
/// thread was queued for it, another CPU has threads waiting, a thread it
/// runs was killed, or the task whose table it runs ended.
pub const KICK_SGI: arch::gic::IntId = arch::gic::IntId::sgi(1);

/// This CPU takes [`KICK_SGI`].
fn init_kick() {
    arch::gic::set_handler(KICK_SGI, Some(on_kick));
    arch::gic::configure(
        KICK_SGI,
        arch::gic::DEFAULT_PRIORITY,
        arch::gic::Trigger::Edge,
    );
    arch::gic::enable(KICK_SGI);
}

/// [`KICK_SGI`]'s handler (IRQs masked): leave a dead task's table, and
/// switch on the way out of the interrupt if there is work (`irq_exit`).
fn on_kick(_: arch::gic::IntId) {
    domain::leave_if_gone();
    let mut s = SCHED.lock();
    let cpu = context::cpu_index();
    let c = &s.cpus[cpu];
    if c.current == c.idle && (!c.run_queue.is_empty() || s.work_elsewhere(cpu)) {
        s.cpus[cpu].need_resched = true;
    }
    s.program_timer(cpu);
}

/// Makes the idle thread of secondary CPU `cpu`, which will run on the
/// stack it returns the top of from the CPU's first instruction on (the
/// CPU's boot path is its idle thread, as the boot CPU's is thread 0).
/// The CPU counts once [`cpu_online`] has run on it.
pub fn prepare_cpu(cpu: usize) -> Result<u64, Status> {
    let stack = KernelStack::new().map_err(|_| ZX_ERR_NO_MEMORY)?;
    let top = stack.top();
    let idle = make_thread("idle", cpu, Some(stack), None)?;
    with_sched(|mut s| {
        let r = s.insert(idle).map(|idle| {
            let t = s.thread(idle);
            t.state = State::Running;
            t.detached = true;
            t.pinned = true;
            t.domain = domain::ANY;
            let c = &mut s.cpus[cpu];
            c.current = idle;
            c.idle = idle;
        });
        (s, r)
    })
    .map_err(|(status, _idle)| status)?;
    Ok(top)
}

/// On secondary CPU `cpu`, on the stack [`prepare_cpu`] gave it: its GIC
/// interface, its kick SGI and its timer; then it takes threads. Returns
/// with IRQs still masked.
pub fn cpu_online(cpu: usize, timer_ppi: u32) {
    arch::gic::init_cpu();
    init_kick();
    timer::init(timer_ppi, on_timer);
    let daif = arch::irq_save();
    {
        let mut s = SCHED.lock();
        let slice_start = timer::now();
        let slice_end = slice_start.saturating_add(s.slice_ticks);
        let c = &mut s.cpus[cpu];
        c.online = true;
        c.slice_start = slice_start;
        c.slice_end = slice_end;
        s.online += 1;
        CPUS_ONLINE.fetch_add(1, Ordering::Relaxed);
    }
    arch::irq_restore(daif);
}

/// The secondary CPU's boot path goes on as its idle thread.
pub fn run_idle() -> ! {
    arch::irq_enable();
    idle_loop();
    unreachable!("the idle loop never ends")
}

/// A thread, not yet in a slot or queue, that will run `entry` on `stack`
/// (`None` for both: the boot path, already running).
fn make_thread(
    name: &'static str,
    cpu: usize,
    stack: Option<KernelStack>,
    entry: Option<Entry>,
) -> Result<Box<Thread>, Status> {
    try_box(Thread {
        id: ThreadId(0),
        name,
        state: State::Blocked,
        context: Context::empty(),
        stack,
        entry,
        wait: WaitOutcome::default(),
        joiner: None,
        detached: false,
        killed: false,
        cpu,
        pinned: false,
        domain: domain::KERNEL,
    })
}

/// A thread that [`spawn`] started; [`JoinHandle::join`] waits for it.
/// Dropping the handle detaches the thread.
#[derive(Debug)]
pub struct JoinHandle {
    id: ThreadId,
    joined: bool,
}

/// Starts a kernel thread running `f` on this CPU; it runs after the
/// threads already waiting. `ZX_ERR_NO_MEMORY` if there is no room.
pub fn spawn(name: &'static str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle, Status> {
    let entry: Entry = try_box(f)?;
    // Mapping a stack takes the page table's lock: not under the scheduler's.
    let stack = KernelStack::new().map_err(|_| ZX_ERR_NO_MEMORY)?;
    let thread = make_thread(name, context::cpu_index(), Some(stack), Some(entry))?;
    let inserted = with_sched(|mut s| {
        let r = s.insert(thread).map(|slot| {
            s.inherit_pinning(slot);
            let id = s.thread(slot).id;
            s.make_ready(slot);
            JoinHandle { id, joined: false }
        });
        (s, r)
    });
    // A thread that found no room is dropped here, outside the lock.
    inserted.map_err(|(status, _thread)| status)
}

/// Starts a kernel thread running `f` pinned to CPU `cpu` (it never moves;
/// `ZX_ERR_INVALID_ARGS` if that CPU is not online).
pub fn spawn_on(
    cpu: usize,
    name: &'static str,
    f: impl FnOnce() + Send + 'static,
) -> Result<JoinHandle, Status> {
    if cpu >= MAX_CPUS {
        return Err(abi::ZX_ERR_INVALID_ARGS);
    }
    let entry: Entry = try_box(f)?;
    let stack = KernelStack::new().map_err(|_| ZX_ERR_NO_MEMORY)?;
    let mut thread = make_thread(name, cpu, Some(stack), Some(entry))?;
    thread.pinned = true;
    let inserted = with_sched(|mut s| {
        if !s.cpus[cpu].online {
            return (s, Err((abi::ZX_ERR_INVALID_ARGS, thread)));
        }
        let r = s.insert(thread).map(|slot| {
            let id = s.thread(slot).id;
            s.make_ready(slot);
            JoinHandle { id, joined: false }
        });
        (s, r)
    });
    inserted.map_err(|(status, _thread)| status)
}

/// Starts a detached kernel thread on this CPU that runs `f` once
/// `prepare(top)` has written the top [`crate::arch::el0::ENTRY_RESERVE`]
/// bytes of its new stack (which end at `top`; the thread's own calls never
/// use them). `f` captures nothing, so the thread holds no heap for its
/// entry: a thread whose entry never returns (one that enters EL0) keeps
/// nothing that only a return would free, and its slot goes when it exits.
/// Returns its id (for [`kill`]); `ZX_ERR_NO_MEMORY` if there is no room.
pub fn spawn_detached_prepared<F: FnOnce() + Send + 'static>(
    name: &'static str,
    domain: DomainId,
    prepare: impl FnOnce(u64),
    f: F,
) -> Result<ThreadId, Status> {
    const { assert!(size_of::<F>() == 0, "the entry must capture nothing") };
    // A zero-sized closure: boxing it allocates nothing.
    let entry: Entry = try_box(f)?;
    // Mapping a stack takes the page table's lock: not under the scheduler's.
    let stack = KernelStack::new().map_err(|_| ZX_ERR_NO_MEMORY)?;
    prepare(stack.top());
    let mut thread = make_thread(name, context::cpu_index(), Some(stack), Some(entry))?;
    thread.domain = domain;
    let inserted = with_sched(|mut s| {
        let r = s.insert(thread).map(|slot| {
            s.inherit_pinning(slot);
            let t = s.thread(slot);
            t.detached = true;
            let id = t.id;
            s.make_ready(slot);
            id
        });
        (s, r)
    });
    // A thread that found no room is dropped here, outside the lock.
    inserted.map_err(|(status, _thread)| status)
}

impl JoinHandle {
    /// The thread's id.
    pub fn id(&self) -> ThreadId {
        self.id
    }

    /// Waits until the thread has exited, then frees what is left of it.
    pub fn join(mut self) {
        self.joined = true;
        let id = self.id;
        with_sched(|mut s| {
            let slot = s.lookup(id).expect("a joined thread stays until joined");
            loop {
                if s.thread(slot).state == State::Dead {
                    s.free_slot(slot);
                    break;
                }
                let me = s.current();
                assert_ne!(me, slot, "a thread cannot join itself");
                s.thread(slot).joiner = Some(me);
                s.thread(me).state = State::Blocked;
                s = reschedule(s);
            }
            (s, ())
        })
    }
}

impl Drop for JoinHandle {
    fn drop(&mut self) {
        if self.joined {
            return;
        }
        let id = self.id;
        with_sched(|mut s| {
            if let Some(slot) = s.lookup(id) {
                if s.thread(slot).state == State::Dead {
                    s.free_slot(slot);
                } else {
                    s.thread(slot).detached = true;
                }
            }
            (s, ())
        })
    }
}

/// Ends the calling thread.
pub fn exit() -> ! {
    arch::irq_save();
    let mut s = SCHED.lock();
    let me = s.current();
    let t = s.thread(me);
    assert!(t.stack.is_some(), "the boot thread does not exit");
    t.state = State::Dead;
    let joiner = t.joiner.take();
    s.deadlines.cancel(me);
    s.stats.live_threads -= 1;
    if let Some(j) = joiner {
        s.make_ready(j);
    }
    drop(reschedule(s));
    unreachable!("a dead thread was resumed")
}

/// Gives the CPU to the next runnable thread, if there is one.
pub fn yield_now() {
    with_sched(|mut s| {
        let cpu = context::cpu_index();
        if !s.cpus[cpu].run_queue.is_empty() {
            let me = s.cpus[cpu].current;
            s.thread(me).state = State::Ready;
            s.cpus[cpu].run_queue.push_back(me);
            s = reschedule(s);
        }
        (s, ())
    })
}

/// The calling thread's id.
pub fn current_id() -> ThreadId {
    with_sched(|mut s| {
        let me = s.current();
        let id = s.thread(me).id;
        (s, id)
    })
}

/// The CPU the calling thread runs on now.
pub fn current_cpu() -> usize {
    with_sched(|s| (s, context::cpu_index()))
}

/// The calling thread's name.
pub fn current_name() -> &'static str {
    with_sched(|mut s| {
        let me = s.current();
        let name = s.thread(me).name;
        (s, name)
    })
}

/// The calling thread's stack, if it has its own (the boot thread has not).
pub fn current_stack() -> Option<core::ops::Range<u64>> {
    with_sched(|mut s| {
        let me = s.current();
        let r = s.thread(me).stack.as_ref().map(|k| k.bottom()..k.top());
        (s, r)
    })
}

/// Scheduler counters.
pub fn stats() -> Stats {
    SCHED.lock().stats
}

/// Starts a wait by the calling thread: clears its wait outcome and arms
/// its deadline (`None`: no deadline). Call before registering with a
/// waker; then [`wait_block`] or [`wait_abandon`].
///
/// It may run under the object lock (`wait_begin_with`, `port_wait_begin`
/// call it there): it leaves dead threads' stacks to the next call that
/// frees them ([`wait_block`] and the like), so unmapping one never
/// lengthens that IRQs-masked hold.
pub fn wait_prepare(deadline_ticks: Option<u64>) -> ThreadId {
    with_sched_then(
        |mut s| {
            let me = s.current();
            let t = s.thread(me);
            t.wait = WaitOutcome {
                killed: t.killed,
                ..WaitOutcome::default()
            };
            let id = t.id;
            if let Some(t) = deadline_ticks {
                s.deadlines.insert(me, t);
                s.program_timer(context::cpu_index());
            }
            (s, id)
        },
        false,
    )
}

/// Blocks the calling thread until a waker or its deadline ends the wait
/// that [`wait_prepare`] started; disarms the deadline and returns how the
/// wait ended.
pub fn wait_block() -> WaitOutcome {
    with_sched(|s| {
        let (mut s, me) = block(s);
        let outcome = s.thread(me).wait;
        (s, outcome)
    })
}

/// What [`wait_block_for_signals`] returns: the parts of the outcome a
/// wait the object layer ends looks at (two registers, not a copy of the
/// whole outcome).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignalsOutcome {
    /// The object layer's waker ran with these signals.
    pub signals: Option<Signals>,
    /// The thread was killed.
    pub killed: bool,
}

/// [`wait_block`] for a wait the object layer can end: if its waker ended
/// it, the slot is also cleared (as [`wait_abandon`] would), in the same
/// critical section.
pub fn wait_block_for_signals() -> SignalsOutcome {
    with_sched(|s| {
        let (mut s, me) = block(s);
        let t = s.thread(me);
        let (signals, killed) = (t.wait.signals, t.wait.killed);
        if signals.is_some() {
            t.wait = WaitOutcome {
                killed,
                ..WaitOutcome::default()
            };
        }
        (s, SignalsOutcome { signals, killed })
    })
}

/// Blocks the calling thread until its wait has ended, and disarms its
/// deadline; returns the guard and the thread's slot.
#[inline(always)]
fn block(mut s: Guard) -> (Guard, usize) {
    let me = s.current();
    while !s.thread(me).wait.ended() {
        s.thread(me).state = State::Blocked;
        s = reschedule(s);
    }
    s.deadlines.cancel(me);
    (s, me)
}

/// Ends a prepared wait without blocking (it was satisfied at once).
pub fn wait_abandon() {
    with_sched(|mut s| {
        let me = s.current();
        s.deadlines.cancel(me);
        let killed = s.thread(me).killed;
        s.thread(me).wait = WaitOutcome {
            killed,
            ..WaitOutcome::default()
        };
        (s, ())
    })
}

/// The calling thread's last wait outcome (after [`wait_block`]).
pub fn wait_outcome() -> WaitOutcome {
    with_sched(|mut s| {
        let me = s.current();
        let w = s.thread(me).wait;
        (s, w)
    })
}

/// Whether thread `id` is blocked (in a wait or a sleep).
pub fn is_blocked(id: ThreadId) -> bool {
    with_sched(|mut s| {
        let blocked = s
            .lookup(id)
            .is_some_and(|slot| s.thread(slot).state == State::Blocked);
        (s, blocked)
    })
}

/// Task thread `id` as `ZX_INFO_THREAD` sees it: `None` if there is no
/// such thread (it has exited), `Some(None)` if it runs or may run, and
/// `Some(Some(n))` if it is blocked in syscall `n`.
pub fn blocked_in_syscall(id: ThreadId) -> Option<Option<u64>> {
    with_sched(|mut s| {
        let state = s.lookup(id).map(|slot| {
            let t = s.thread(slot);
            match (&t.state, &t.stack) {
                (State::Blocked, Some(stack)) => {
                    // SAFETY: a blocked thread's stack lives while it is in
                    // its slot, which it cannot leave while this CPU holds
                    // the scheduler's lock; it runs nowhere meanwhile. Task
                    // threads block only in syscalls.
                    Some(unsafe { arch::el0::blocked_syscall_number(stack.top()) })
                }
                _ => None,
            }
        });
        (s, state)
    })
}

/// A waker's side: the wait of thread `id` ended with `signals` observed.
/// False if there is no such thread.
pub fn wake_with_signals(id: ThreadId, signals: Signals) -> bool {
    with_sched(|mut s| {
        let Some(slot) = s.lookup(id) else {
            return (s, false);
        };
        s.thread(slot).wait.signals = Some(signals);
        s.make_ready(slot);
        (s, true)
    })
}

/// Kills thread `id` (false if there is no such thread): the wait it is
/// blocked in, if any, ends at once as if its deadline had passed (the
/// waits' own cancel paths undo any registration, as after a timeout), and
/// every wait it begins later ends at once, so it reaches its way out (a
/// task's threads: the return towards EL0 asks whether the task ended).
/// Ending a task kills its threads; `zx_task_kill` will do the same. Never
/// switches; O(log n) with the lock held.
pub fn kill(id: ThreadId) -> bool {
    let daif = arch::irq_save();
    let found = {
        let mut s = SCHED.lock();
        match s.lookup(id) {
            Some(slot) => {
                let t = s.thread(slot);
                t.killed = true;
                t.wait.killed = true;
                let (running, cpu) = (t.state == State::Running, t.cpu);
                s.deadlines.cancel(slot);
                s.make_ready(slot);
                // On another CPU (in a task, say): the interrupt takes it
                // off its way, and the way back to the task asks.
                if running && cpu != context::cpu_index() {
                    arch::gic::send_sgi(KICK_SGI, cpu);
                }
                true
            }
            None => false,
        }
    };
    arch::irq_restore(daif);
    found
}

/// Whether the calling thread has been killed ([`kill`]).
pub fn current_killed() -> bool {
    with_sched(|mut s| {
        let me = s.current();
        let killed = s.thread(me).killed;
        (s, killed)
    })
}

/// The timer interrupt: wakes every thread whose deadline has passed and
/// asks for a switch when the running thread's slice is over.
fn on_timer() {
    let mut s = SCHED.lock();
    let now = timer::now();
    let mut woke = false;
    while let Some((slot, _)) = s.deadlines.pop_expired(now) {
        s.stats.deadline_expirations += 1;
        let seq = s.stats.deadline_expirations;
        let w = &mut s.thread(slot).wait;
        w.timed_out = true;
        w.wake_seq = seq;
        s.make_ready(slot);
        woke = true;
    }
    let cpu = context::cpu_index();
    let grace_end = s.cpus[cpu].slice_start.saturating_add(s.grace_ticks);
    let c = &mut s.cpus[cpu];
    // A thread whose deadline came runs now, not at the end of the running
    // thread's slice: a sleep's lateness stays the interrupt's, not 5 ms.
    // Unless the running thread got the CPU less than `WAKE_GRACE` ago
    // (typically it has just woken itself): then its slice ends when the
    // grace does. Preempting it at once would queue it behind the woken
    // thread's whole slice, a 5 ms lateness for a sleeper whose deadline
    // came a moment before another thread's.
    if woke && c.current != c.idle && now < grace_end {
        c.slice_end = c.slice_end.min(grace_end);
    } else if woke {
        c.need_resched = true;
    }
    if now >= c.slice_end && !c.run_queue.is_empty() {
        c.need_resched = true;
    }
    s.program_timer(cpu);
    drop(s);
    // Timer objects fire here, outside the scheduler's lock (their
    // signals wake waiters through it).
    if crate::timers::on_interrupt(now) {
        reprogram_timer();
    }
}

/// Programs this CPU's timer again (timer objects changed). Never switches.
pub fn reprogram_timer() {
    let daif = arch::irq_save();
    SCHED.lock().program_timer(context::cpu_index());
    arch::irq_restore(daif);
}

/// Called on the way out of every IRQ, after end-of-interrupt, with IRQs
/// masked: switches threads if an interrupt asked for it. The interrupted
/// thread's exception frame stays on its stack until it is resumed.
pub fn irq_exit() {
    let mut s = SCHED.lock();
    let cpu = context::cpu_index();
    if !s.cpus[cpu].online || !s.cpus[cpu].need_resched {
        return;
    }
    let cur = s.cpus[cpu].current;
    if cur != s.cpus[cpu].idle {
        s.thread(cur).state = State::Ready;
        s.cpus[cpu].run_queue.push_back(cur);
        s.stats.preemptions += 1;
    }
    drop(reschedule(s));
    reap();
}
