//! Locks that mask interrupts while held, so an interrupt handler that
//! takes the same lock cannot deadlock against the code it interrupted.
//!
//! No lock may be taken before the MMU and data cache are on: a lock is an
//! exclusive load/store loop, and real cores (the Pi 4's Cortex-A72) cannot
//! complete one on the Device memory that all data is while the MMU is off
//! — the store-exclusive fails forever and the board hangs without a word,
//! while QEMU's always succeeds. So every lock first makes one unaligned
//! load from its stack, which faults exactly when the MMU is off
//! (`arch::irq_save_checking_mmu`), and the fault stops the boot with a clear
//! message: a regression shows under QEMU (`break=premmu`
//! proves the check fires).
//!
//! # Lock order
//!
//! Every global lock has a [`Rank`]; a CPU may take a lock only while
//! every lock it holds has a lower rank, so no two CPUs can each wait for
//! a lock the other holds. Outermost first (what is taken under what):
//!
//! | rank | lock | taken under it |
//! |---|---|---|
//! | `Tasks` | `task::TASKS` | object space (a task's build) |
//! | `Objects` | `objects::SPACE`, the object space | threads, timers, scheduler (waking a waiter), page tables, frames; a fault (read side): a hierarchy |
//! | `Hierarchy` | `objects::HIERARCHIES`, one per copy-on-write hierarchy (striped; never two at once) | page tables, frames |
//! | `Threads` | `task::THREADS` | — |
//! | `Timers` | `timers::TIMERS` | scheduler (a fired timer wakes its waiters) |
//! | `Sched` | `sched::SCHED` | ASIDs (the switch), GIC (kicks) |
//! | `PageTables` | `vm::SPACE`, every translation table | ASIDs, frames |
//! | `Asids` | `arch::asid::ASIDS` | — |
//! | `FramePool` | `mm::frame::POOLS`, one per CPU (never two at once) | frames |
//! | `Frames` | `mm::frame::FRAMES` | — |
//! | `Gic`, `IrqHandlers` | `arch::gic::{GIC, HANDLERS}` | — |
//! | `KernelStacks` | `vm::kstack::SLOTS_STATE` | — |
//! | `Probe` | `arch::exception::PROBE` | the console (its report) |
//! | `Console` | `console::CONSOLE` | the image (what is printed is formatted under the lock: a report names EL0 addresses through it) |
//! | `Image` | `task::image::LOADED` | — |
//!
//! Exceptions, all unranked or unchecked on purpose:
//! - The heap (`mm::heap`, talc over an unranked [`IrqSpinRaw`]) is taken
//!   under any lock and takes none (its out-of-memory handler is `Manual`).
//! - The console ranks above every lock that may print (all but the
//!   image, which formatting itself may take), panics included;
//!   `console::break_lock` frees it for a panic's report.
//! - A `try_lock` cannot wait, so it cannot deadlock: it is not checked
//!   (the fault path's take of the object space, `objects::fault`, and
//!   the console's `drain`), but the lock it got counts as held for the
//!   locks taken under it. The object space's read side (a fault's,
//!   per-CPU flags beside `SPACE`'s mutex) is recorded as `Objects` held
//!   the same way.
//! - Locks made with [`IrqMutex::new`] (the ktests' shared results,
//!   `break=premmu`'s) are unranked: never checked, never recorded.
//! - The scheduler's lock is held across a context switch and released by
//!   the thread switched to, on the same CPU: the record is per CPU.
//!
//! With the `lock-order` feature (on by default; `just bench` builds
//! without it, as it costs a few instructions per lock on the fault path)
//! each CPU keeps a bit per rank it holds ([`order`]); taking a lock whose
//! rank is not above every held one names both locks and ends the run
//! (`power::fail`). The `lock_order` ktests show it catches what it should,
//! and `break=lockorder` (`harness::lock_order_violation_stops_the_run`)
//! that a violation ends the run naming both locks.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use talc::lock_api;

/// A global lock's place in the lock order (see the table above): a lock
/// may be taken only while every lock held has a lower rank. 0 is left for
/// unranked locks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Rank {
    Tasks = 1,
    Objects,
    Hierarchy,
    Threads,
    Timers,
    Sched,
    PageTables,
    Asids,
    FramePool,
    Frames,
    Gic,
    IrqHandlers,
    KernelStacks,
    Probe,
    Console,
    Image,
}

impl Rank {
    /// Every rank, lowest first.
    pub const ALL: [Rank; 16] = [
        Rank::Tasks,
        Rank::Objects,
        Rank::Hierarchy,
        Rank::Threads,
        Rank::Timers,
        Rank::Sched,
        Rank::PageTables,
        Rank::Asids,
        Rank::FramePool,
        Rank::Frames,
        Rank::Gic,
        Rank::IrqHandlers,
        Rank::KernelStacks,
        Rank::Probe,
        Rank::Console,
        Rank::Image,
    ];

    /// The rank numbered `n`, if any.
    pub fn from_number(n: u8) -> Option<Rank> {
        Rank::ALL.iter().copied().find(|r| *r as u8 == n)
    }

    /// The lock (or locks) of this rank, as reports name it.
    pub fn lock_name(self) -> &'static str {
        match self {
            Rank::Tasks => "task table (task::TASKS)",
            Rank::Objects => "object space (objects::SPACE)",
            Rank::Hierarchy => "a copy-on-write hierarchy (objects::HIERARCHIES)",
            Rank::Threads => "thread table (task::THREADS)",
            Rank::Timers => "timers (timers::TIMERS)",
            Rank::Sched => "scheduler (sched::SCHED)",
            Rank::PageTables => "page tables (vm::SPACE)",
            Rank::Asids => "ASID allocator (asid::ASIDS)",
            Rank::FramePool => "a CPU's frame pool (frame::POOLS)",
            Rank::Frames => "frame allocator (frame::FRAMES)",
            Rank::Gic => "GIC driver (gic::GIC)",
            Rank::IrqHandlers => "interrupt handlers (gic::HANDLERS)",
            Rank::KernelStacks => "kernel stack slots (kstack::SLOTS_STATE)",
            Rank::Image => "loaded image (image::LOADED)",
            Rank::Probe => "exception probe (exception::PROBE)",
            Rank::Console => "console (console::CONSOLE)",
        }
    }
}

/// A spin lock that masks IRQ and FIQ on this CPU while held.
pub struct IrqSpinRaw {
    locked: AtomicBool,
    /// CPUs waiting for the lock now (see [`IrqSpinRaw::contended`]).
    waiters: AtomicU32,
    /// Its [`Rank`] as a number, 0 if unranked (never checked).
    rank: u8,
    /// The `DAIF` to restore on unlock; written only by the holder.
    saved_daif: UnsafeCell<u64>,
    /// When locking masked IRQs (counter ticks), for the masked-interval
    /// record (`crate::latency`); written only by the holder.
    masked_at: UnsafeCell<u64>,
}

// SAFETY: `saved_daif` and `masked_at` are only touched by the CPU that
// holds the lock.
unsafe impl Sync for IrqSpinRaw {}

// SAFETY: `lock` does not return until this CPU owns `locked` (acquire);
// `unlock` releases it; the saved interrupt mask is only accessed by the owner.
unsafe impl lock_api::RawMutex for IrqSpinRaw {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = Self {
        locked: AtomicBool::new(false),
        waiters: AtomicU32::new(0),
        rank: 0,
        saved_daif: UnsafeCell::new(0),
        masked_at: UnsafeCell::new(0),
    };

    type GuardMarker = lock_api::GuardNoSend;

    #[inline]
    fn lock(&self) {
        let daif = crate::arch::irq_save_checking_mmu();
        let at = if crate::arch::irqs_unmasked_in(daif) {
            crate::arch::counter()
        } else {
            0
        };
        self.order_acquire();
        if self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        // SAFETY: this CPU now holds the lock.
        unsafe {
            *self.saved_daif.get() = daif;
            *self.masked_at.get() = at;
        }
    }

    #[inline]
    fn try_lock(&self) -> bool {
        let daif = crate::arch::irq_save_checking_mmu();
        if self
            .locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            self.order_acquired();
            // SAFETY: this CPU now holds the lock.
            unsafe {
                *self.saved_daif.get() = daif;
                if crate::arch::irqs_unmasked_in(daif) {
                    *self.masked_at.get() = crate::arch::counter();
                }
            }
            true
        } else {
            crate::arch::irq_unmask_restore(daif);
            false
        }
    }

    #[inline]
    unsafe fn unlock(&self) {
        // SAFETY: the caller holds the lock, so it owns `saved_daif` and
        // `masked_at`.
        let (daif, at) = unsafe { (*self.saved_daif.get(), *self.masked_at.get()) };
        self.order_release();
        self.locked.store(false, Ordering::Release);
        if crate::arch::irqs_unmasked_in(daif) {
            crate::latency::masked_since(at);
        }
        crate::arch::irq_unmask_restore(daif);
    }

    fn is_locked(&self) -> bool {
        self.locked.load(Ordering::Relaxed)
    }
}

impl IrqSpinRaw {
    /// [`lock_api::RawMutex::try_lock`] for a caller that runs with IRQs
    /// masked already (an exception handler): nothing to save or mask, so
    /// the fault path spends a few instructions fewer. Unlocking leaves the
    /// mask as it found it. A caller that turns out to run unmasked gets
    /// the ordinary `try_lock`.
    #[inline(always)]
    pub fn try_lock_masked(&self) -> bool {
        if !crate::arch::irqs_masked() {
            return self.try_lock_unmasked();
        }
        if self
            .locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        self.order_acquired();
        // SAFETY: this CPU now holds the lock. A masked `DAIF` makes the
        // unlock leave the mask as it is and record no masked interval.
        unsafe { *self.saved_daif.get() = MASKED_DAIF };
        true
    }
}

impl IrqSpinRaw {
    /// [`lock_api::RawMutex::lock`] for a caller that has masked IRQs
    /// itself (and keeps the masked interval's record itself, as
    /// `arch::irq_save` does): nothing to save or mask again. Unlocking
    /// leaves the mask as it found it and records no interval.
    #[inline(always)]
    pub fn lock_masked(&self) {
        debug_assert!(crate::arch::irqs_masked());
        crate::arch::check_mmu_for_lock();
        self.order_acquire();
        if self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        // SAFETY: this CPU now holds the lock. A masked `DAIF` makes the
        // unlock leave the mask as it is and record no masked interval.
        unsafe { *self.saved_daif.get() = MASKED_DAIF };
    }
}

impl IrqSpinRaw {
    /// Releases a lock this CPU took with [`Self::lock_masked`] (or
    /// [`Self::try_lock_masked`] with IRQs masked): the mask stays as it
    /// is, so nothing saved is read back.
    ///
    /// # Safety
    ///
    /// This CPU holds the lock, taken so.
    #[inline(always)]
    pub unsafe fn unlock_masked(&self) {
        self.order_release();
        self.locked.store(false, Ordering::Release);
    }

    /// Whether the lock is free now, with acquire ordering: what its last
    /// holder wrote is seen after a `true` (the object space's read side
    /// checks the writer's lock so, `objects::fault_shared`).
    #[inline(always)]
    pub fn is_free_acquire(&self) -> bool {
        !self.locked.load(Ordering::Acquire)
    }

    /// Waits (in `WFE`, see [`crate::arch::wait_while_set`]) until the lock
    /// looks free; the caller then tries to take it.
    #[inline(always)]
    pub fn wait_until_free(&self) {
        crate::arch::wait_while_set(&self.locked);
    }

    /// The lock was busy: waits until this CPU takes it, counted among its
    /// waiters meanwhile.
    #[cold]
    #[inline(never)]
    fn lock_contended(&self) {
        self.waiting(|| {
            while self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                self.wait_until_free();
            }
        });
    }

    /// Runs `wait` (a wait for this lock) counted among the lock's waiters.
    pub fn waiting<R>(&self, wait: impl FnOnce() -> R) -> R {
        self.waiters.fetch_add(1, Ordering::Relaxed);
        let r = wait();
        self.waiters.fetch_sub(1, Ordering::Relaxed);
        r
    }

    /// Whether another CPU waits for this lock now: its holder may then
    /// shorten its hold (the fault path fills its frame unlocked,
    /// `vm::fault`). A hint: a CPU that starts waiting after the look is
    /// not seen. Costs the uncontended lock nothing.
    #[inline(always)]
    pub fn contended(&self) -> bool {
        self.waiters.load(Ordering::Relaxed) != 0
    }

    /// An unlocked lock of rank `rank`: `IrqMutex::const_new(IrqSpinRaw::ranked(r), v)`.
    pub const fn ranked(rank: Rank) -> Self {
        Self {
            locked: AtomicBool::new(false),
            waiters: AtomicU32::new(0),
            rank: rank as u8,
            saved_daif: UnsafeCell::new(0),
            masked_at: UnsafeCell::new(0),
        }
    }

    /// This lock's rank, if it has one.
    pub fn rank(&self) -> Option<Rank> {
        Rank::from_number(self.rank)
    }

    /// Before waiting for the lock (IRQs masked): checks the order and
    /// records the rank as held by this CPU. Kept out of the spin loop.
    #[inline(always)]
    fn order_acquire(&self) {
        #[cfg(feature = "lock-order")]
        if self.rank != 0 {
            order::acquire(self.rank);
        }
    }

    /// After a `try_lock` got the lock: records the rank as held, unchecked
    /// (a `try_lock` never waits).
    #[inline(always)]
    fn order_acquired(&self) {
        #[cfg(feature = "lock-order")]
        if self.rank != 0 {
            order::note_held(self.rank);
        }
    }

    /// On unlock (IRQs still masked): the rank is no longer held.
    #[inline(always)]
    fn order_release(&self) {
        #[cfg(feature = "lock-order")]
        if self.rank != 0 {
            order::release(self.rank);
        }
    }

    #[cold]
    #[inline(never)]
    fn try_lock_unmasked(&self) -> bool {
        lock_api::RawMutex::try_lock(self)
    }
}

/// A `DAIF` with IRQs and FIQs masked, as the exception entry leaves it.
const MASKED_DAIF: u64 = 0b11 << 6;

/// What a lock taken too early comes to: says so and ends the run. Itself
/// lock-free (before the MMU the console writes without its lock).
#[cold]
pub fn lock_before_mmu() -> ! {
    crate::power::fail(
        "lock taken before the MMU and data cache are on (SCTLR_EL1.M/.C clear): \
         exclusive loads/stores there hang real cores",
    )
}

/// Takes a lock before the MMU is on, for `break=premmu`: the check above
/// must stop the boot.
pub fn lock_before_mmu_on_purpose() {
    static LOCK: IrqMutex<()> = IrqMutex::new(());
    drop(LOCK.lock());
}

/// A mutex over [`IrqSpinRaw`].
pub type IrqMutex<T> = lock_api::Mutex<IrqSpinRaw, T>;

/// Takes `m` on a path that runs with IRQs masked already: the object
/// layer's platform calls (under the object space's lock, or in the fault
/// path's exception handler). Nothing is saved or masked again, and the
/// guard's release leaves the mask alone, a few instructions fewer per
/// lock than [`lock_api::Mutex::lock`]. Taking it unmasked would let an
/// IRQ preempt the holder: the `lock-order` build (tests) stops the
/// kernel if it is.
#[inline(always)]
pub fn lock_masked<T>(m: &IrqMutex<T>) -> MaskedGuard<'_, T> {
    #[cfg(feature = "lock-order")]
    if !crate::arch::irqs_masked() {
        crate::power::fail("a lock taken as masked with IRQs unmasked");
    }
    // SAFETY: `raw` is used only to take the lock, which the guard made
    // below then owns and releases.
    unsafe { m.raw() }.lock_masked();
    MaskedGuard { lock: m }
}

/// The holder of a lock taken by [`lock_masked`]: the lock's data, and the
/// lock released (mask untouched) when it goes.
pub struct MaskedGuard<'a, T> {
    lock: &'a IrqMutex<T>,
}

impl<T> core::ops::Deref for MaskedGuard<'_, T> {
    type Target = T;

    #[inline(always)]
    fn deref(&self) -> &T {
        // SAFETY: this CPU holds the lock while the guard lives.
        unsafe { &*self.lock.data_ptr() }
    }
}

impl<T> core::ops::DerefMut for MaskedGuard<'_, T> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: this CPU holds the lock while the guard lives, and the
        // guard is borrowed mutably.
        unsafe { &mut *self.lock.data_ptr() }
    }
}

impl<T> Drop for MaskedGuard<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: this CPU took the lock with `lock_masked` (IRQs masked).
        unsafe { self.lock.raw().unlock_masked() };
    }
}

/// A global lock of rank `rank` over `value`.
pub const fn ranked<T>(rank: Rank, value: T) -> IrqMutex<T> {
    IrqMutex::const_new(IrqSpinRaw::ranked(rank), value)
}

/// The lock-order checker: per CPU, a bit per [`Rank`] held, set when a
/// ranked lock is taken and cleared when it is released. Every lock masks
/// IRQs while held, so only this CPU's own code (and its synchronous
/// exceptions, which hold what the code they interrupted holds) touches
/// its word: relaxed loads and stores do.
pub mod order {
    #![cfg_attr(not(feature = "lock-order"), allow(dead_code))]

    use super::Rank;
    use crate::arch::context::{cpu_index, MAX_CPUS};
    use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

    /// One CPU's held ranks, on a cache line of its own.
    #[repr(align(64))]
    struct Held(AtomicU32);

    static HELD: [Held; MAX_CPUS] = [const { Held(AtomicU32::new(0)) }; MAX_CPUS];

    /// Per CPU: record a violation (for [`catching`]) instead of failing.
    static CATCH: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];
    /// Per CPU: the first violation caught, `taken << 8 | held`, 0 if none.
    static CAUGHT: [AtomicU32; MAX_CPUS] = [const { AtomicU32::new(0) }; MAX_CPUS];

    /// This CPU's slot (before `context::init_cpu` the index is whatever
    /// `TPIDR_EL1` holds: one CPU runs then, any slot does).
    #[inline(always)]
    fn cpu() -> usize {
        cpu_index() % MAX_CPUS
    }

    /// Whether taking rank `rank` while holding the ranks in `held` keeps
    /// the order: else the highest held rank it breaks it with.
    #[inline(always)]
    pub fn check(held: u32, rank: u8) -> Result<(), u8> {
        match held >> rank {
            0 => Ok(()),
            _ => Err((31 - held.leading_zeros()) as u8),
        }
    }

    #[inline(always)]
    pub(super) fn acquire(rank: u8) {
        let cpu = cpu();
        let held = HELD[cpu].0.load(Ordering::Relaxed);
        if let Err(over) = check(held, rank) {
            violation(cpu, rank, over);
        }
        HELD[cpu].0.store(held | 1 << rank, Ordering::Relaxed);
    }

    /// Records `rank` as held by this CPU, unchecked (a lock taken
    /// without waiting, such as the object space's read side).
    #[inline(always)]
    pub fn note_held(rank: u8) {
        let held = &HELD[cpu()].0;
        held.store(held.load(Ordering::Relaxed) | 1 << rank, Ordering::Relaxed);
    }

    /// Records `rank` as no longer held by this CPU.
    #[inline(always)]
    pub fn release(rank: u8) {
        let held = &HELD[cpu()].0;
        held.store(
            held.load(Ordering::Relaxed) & !(1 << rank),
            Ordering::Relaxed,
        );
    }

    /// Whether this kernel checks the order (the `lock-order` feature).
    pub const ENABLED: bool = cfg!(feature = "lock-order");

    /// The ranks this CPU holds now, lowest first.
    pub fn held() -> impl Iterator<Item = Rank> {
        let held = HELD[cpu()].0.load(Ordering::Relaxed);
        Rank::ALL
            .into_iter()
            .filter(move |r| held & 1 << *r as u8 != 0)
    }

    /// Taking `taken` while holding `held` (no lower) breaks the order:
    /// names both and ends the run, or, inside [`catching`], records it.
    #[cold]
    #[inline(never)]
    fn violation(cpu: usize, taken: u8, held: u8) {
        if CATCH[cpu].load(Ordering::Relaxed) {
            let _ = CAUGHT[cpu].compare_exchange(
                0,
                u32::from(taken) << 8 | u32::from(held),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
            return;
        }
        let name = |r| Rank::from_number(r).map_or("?", Rank::lock_name);
        let console = HELD[cpu].0.swap(0, Ordering::Relaxed) & 1 << Rank::Console as u8 != 0;
        if console {
            // This CPU holds the console: the report needs it.
            crate::console::break_lock();
        }
        crate::error!(
            "lock order broken: taking {} (rank {taken}) while holding {} (rank {held})",
            name(taken),
            name(held),
        );
        crate::power::fail("lock order broken (sync.rs lists the order)");
    }

    /// Takes a lock ranked like the object space while holding one ranked
    /// like the page tables (both of their own, so nothing else waits), for
    /// `break=lockorder`: the check must name both and end the run.
    pub fn break_on_purpose() {
        static TABLES: super::IrqMutex<()> = super::ranked(Rank::PageTables, ());
        static OBJECTS: super::IrqMutex<()> = super::ranked(Rank::Objects, ());
        let tables = TABLES.lock();
        drop(OBJECTS.lock());
        drop(tables);
    }

    /// A violation [`catching`] saw: the lock taken and the held one it broke
    /// the order with.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Violation {
        pub taken: Rank,
        pub held: Rank,
    }

    /// Runs `f` on this CPU (IRQs masked: it stays here) with violations
    /// recorded rather than fatal, and returns the first one, if any. For
    /// the ktests, which break the order on purpose with locks of their own.
    pub fn catching(f: impl FnOnce()) -> Option<Violation> {
        let daif = crate::arch::irq_save();
        let cpu = cpu();
        CAUGHT[cpu].store(0, Ordering::Relaxed);
        CATCH[cpu].store(true, Ordering::Relaxed);
        f();
        CATCH[cpu].store(false, Ordering::Relaxed);
        let caught = CAUGHT[cpu].swap(0, Ordering::Relaxed);
        crate::arch::irq_restore(daif);
        let rank = |n: u32| Rank::from_number(n as u8);
        match caught {
            0 => None,
            c => Some(Violation {
                taken: rank(c >> 8)?,
                held: rank(c & 0xff)?,
            }),
        }
    }
}

/// A per-CPU value on a cache line of its own: one CPU's writes to it do
/// not take the line from the CPUs that use their neighbours (on real
/// cores; QEMU models no caches). Reads through `Deref`.
#[repr(align(64))]
pub struct CacheLine<T>(pub T);

impl<T> core::ops::Deref for CacheLine<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}
