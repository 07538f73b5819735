//! The kernel's one object space: every VMO, VMAR, event and handle table,
//! behind one reader-writer lock (DESIGN.md: a syscall is argument decoding
//! plus one call into the object layer). Syscalls take its write side.
//! Page faults take its read side and then the lock of the copy-on-write
//! hierarchy they resolve in ([`lock_hierarchy`]), so faults in different
//! hierarchies resolve on several CPUs at once
//! (`ObjectSpace::vmar_fault_shared`); the few a shared fault cannot
//! resolve (a mapping's first, one that needs new table pages) are asked
//! again under the write side. The object layer reaches frames, page tables and
//! the scheduler through [`KernelPlatform`]; the kernel's own objects it
//! holds (tasks, threads, timers) are the task module's, which implements
//! `object::Platform` for it, so this module names none of them.
//!
//! Lock order: this lock, then (faults) a hierarchy's, then the page
//! table's (`vm::with_page_table`).

pub mod wait;

use crate::mm::frame;
use crate::sched;
use crate::sync::{IrqMutex, IrqSpinRaw, Rank};
use abi::{Koid, Signals, Status};
use core::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicUsize, Ordering};
use object::{Frame, FrameAllocator, MapPerms, Mmu, ObjectSpace, VmarId, WaiterId, Waker};

/// A frame the object layer owns was freed or written: see
/// `vm::fault::FRAME_CHANGES`. Called under the object space's lock
/// (either side).
#[inline(always)]
fn frame_changed() {
    // Faults on several CPUs may free frames at once (under the read side).
    crate::vm::fault::FRAME_CHANGES.fetch_add(1, Ordering::Relaxed);
}

/// Frames from [`crate::mm::frame`], translations in the kernel's page
/// table, wake-ups through the scheduler.
pub struct KernelPlatform {
    zero_page: Frame,
}

/// The page contents of `frame` through the identity map.
fn bytes(frame: Frame) -> *mut u8 {
    frame.paddr() as *mut u8
}

impl FrameAllocator for KernelPlatform {
    // Always inlined: on the fault path the call alone costs more than a
    // few instructions of the allocator (`just profile cow_fault`).
    #[inline(always)]
    fn alloc(&self) -> Option<Frame> {
        frame::alloc_masked().map(|f| Frame::new(f.addr()))
    }

    fn zero(&self, f: Frame) {
        frame_changed();
        // SAFETY: the frame is identity-mapped RAM the object layer owns.
        unsafe { crate::arch::page::zero(bytes(f)) };
    }

    fn free(&self, f: Frame) {
        frame_changed();
        // SAFETY: the object layer frees each frame it got exactly once, after
        // unmapping every translation of it.
        unsafe { frame::free_masked(frame::Frame::from_addr(f.paddr())) };
    }

    fn read(&self, f: Frame, offset: usize, buf: &mut [u8]) {
        debug_assert!(offset + buf.len() <= object::PAGE_BYTES);
        // SAFETY: the frame is RAM owned by the object layer, identity-mapped;
        // the range lies inside it; `buf` is kernel memory, so no fault occurs.
        unsafe { crate::arch::usercopy::copy(buf.as_mut_ptr(), bytes(f).add(offset), buf.len()) };
    }

    fn write(&self, f: Frame, offset: usize, data: &[u8]) {
        debug_assert!(offset + data.len() <= object::PAGE_BYTES);
        frame_changed();
        // SAFETY: as for `read`.
        unsafe { crate::arch::usercopy::copy(bytes(f).add(offset), data.as_ptr(), data.len()) };
    }

    fn copy(&self, src: Frame, dst: Frame) {
        // SAFETY: two distinct whole frames of identity-mapped RAM, the
        // destination owned by the object layer.
        unsafe { crate::arch::page::copy(bytes(dst), bytes(src)) };
    }

    fn zero_page(&self) -> Frame {
        self.zero_page
    }

    /// From this CPU's pool of pre-zeroed frames while it lasts; past
    /// that, filled outside the object space's lock while another CPU
    /// waits for it (`vm::fault`).
    #[inline(always)]
    fn fault_frame(&self, src: Option<Frame>) -> Result<Frame, Status> {
        if src.is_none() {
            if let Some(f) = frame::take_zeroed_masked() {
                return Ok(Frame::new(f.addr()));
            }
        }
        let src = src.map(Frame::paddr);
        if crate::vm::fault::unlocked_fill_possible() {
            return crate::vm::fault::fault_frame_unlocked(src).map(Frame::new);
        }
        crate::vm::fault::fill_here(src).map(Frame::new)
    }

    fn cache_op(&self, op: object::CacheOp, f: Frame, offset: usize, len: usize) {
        debug_assert!(offset + len <= object::PAGE_BYTES);
        // Through the frame's identity alias, as the kernel reads and writes it.
        crate::arch::cache::maintain(op, f.paddr() + offset as u64, len as u64);
    }
}

/// A task's table pages are charged to it: the table's own count of its
/// pages says how many an unmap freed (the kernel's table reports none).
impl Mmu for KernelPlatform {
    #[inline]
    fn unmap(&self, vaddr: u64, len: u64) -> u64 {
        crate::vm::with_table_masked(vaddr, |t| {
            let before = t.table_pages();
            t.unmap(vaddr, len);
            t.charged_freed_since(before)
        })
    }

    fn unmap_some(&self, vaddr: u64, len: u64, max: usize) -> (u64, u64) {
        crate::vm::with_table_masked(vaddr, |t| {
            let before = t.table_pages();
            let stopped = t.unmap_some(vaddr, len, max);
            (stopped, t.charged_freed_since(before))
        })
    }

    #[inline(always)]
    fn map(&self, vaddr: u64, paddr: u64, perms: MapPerms) -> Result<(), Status> {
        if perms.execute {
            // The page may have been written as data: make instruction
            // fetches see it (through its identity alias).
            crate::arch::tlb::sync_icache(paddr, crate::mm::PAGE_SIZE);
        }
        crate::vm::with_table_masked(vaddr, |t| {
            t.map_user_page(vaddr, paddr, perms.write, perms.execute)
        })
        .map_err(map_status)
    }

    #[inline(never)]
    fn map_with_tables(
        &self,
        vaddr: u64,
        paddr: u64,
        perms: MapPerms,
        tables: u64,
    ) -> Result<u64, Status> {
        // The instruction cache was seen to by the `map` that came first.
        crate::vm::with_table_masked(vaddr, |t| {
            t.map_user_page_charged(vaddr, paddr, perms.write, perms.execute, tables)
        })
        .map_err(map_status)
    }
}

/// The status of a failed map.
#[cold]
fn map_status(e: crate::arch::mmu::MapError) -> Status {
    match e {
        crate::arch::mmu::MapError::NeedsTables => object::MAP_NEEDS_TABLES,
        _ => abi::ZX_ERR_NO_MEMORY,
    }
}

impl Waker for KernelPlatform {
    /// Ends thread `waiter`'s wait with `observed` (its wait slot, see
    /// [`wait`]).
    fn wake(&self, waiter: WaiterId, observed: Signals) {
        sched::wake_with_signals(sched::ThreadId::from_raw(waiter), observed);
    }
}

/// The kernel's object space.
pub type Space = ObjectSpace<KernelPlatform>;

/// The object space behind its writers' lock. Its read side is
/// [`READERS`] (see [`fault_shared`]).
static SPACE: IrqMutex<Option<Space>> = crate::sync::ranked(Rank::Objects, None);
static ROOT_VMAR: spin::Once<VmarId> = spin::Once::new();

// The object space's lock is a reader-writer lock made of two parts, so
// that its read side writes no line another CPU's read side writes (a
// shared reader count would bounce between the faulting CPUs' caches on
// every fault):
//
// - Writers (syscalls, and the faults only the write side may resolve)
//   take `SPACE`'s mutex, then wait until no CPU is a reader
//   ([`writer_entered`]).
// - A reader (a fault, [`fault_shared`]) raises its own CPU's flag in
//   [`READERS`], then checks that the mutex is free; if it is not, it
//   lowers the flag, waits for the writer and tries again.
//
// Each side writes its own word, then a full barrier, then reads the
// other's (a `DMB ISH` between them), so at least one of the two sees
// the other: a writer never runs while a reader is in, and new readers
// stay out while a writer holds the mutex or waits for readers to leave
// (writers are not starved). A reader's hold is one fault: bounded.

/// Per CPU, whether it is in a fault under the object space's read side,
/// each on a cache line of its own.
static READERS: [Reader; crate::sched::MAX_CPUS] =
    [const { Reader(AtomicBool::new(false)) }; crate::sched::MAX_CPUS];

#[repr(align(64))]
struct Reader(AtomicBool);

/// Faults waiting for a writer to let go ([`contended`]).
static READERS_WAITING: AtomicU32 = AtomicU32::new(0);

/// The CPU holding the write side, plus one; 0 for none. A fault taken
/// under it on the same CPU fails at once rather than wait for itself.
static WRITER: AtomicUsize = AtomicUsize::new(0);

/// Creates the object space and the root VMAR. Needs the MMU on.
pub fn init(seed: u64) {
    let Some(zero) = frame::alloc_zeroed() else {
        crate::power::fail("no frame for the zero page");
    };
    let mut space = ObjectSpace::new(
        KernelPlatform {
            zero_page: Frame::new(zero.addr()),
        },
        seed,
    );
    let region = crate::vm::USER_REGION;
    match space.create_root_vmar(region.start, region.end - region.start) {
        Ok(root) => {
            ROOT_VMAR.call_once(|| root);
        }
        Err(_) => crate::power::fail("could not create the root VMAR"),
    }
    space.set_deferred_frees(true);
    with_locked(|s| *s = Some(space));
}

/// Runs `f` on the object space under its lock (interrupts masked). If
/// that left frames of destroyed VMOs to free and the caller runs with
/// IRQs unmasked (so holds no lock that masks them), they are freed now,
/// in steps, after the lock is released.
pub fn with<R>(f: impl FnOnce(&mut Space) -> R) -> R {
    let r = with_space(f);
    if RECLAIM.load(Ordering::Relaxed) && !crate::arch::irqs_masked() {
        reclaim();
    }
    r
}

/// Runs `f` under the write side of the object space's lock.
fn with_locked<R>(f: impl FnOnce(&mut Option<Space>) -> R) -> R {
    let mut space = SPACE.lock();
    writer_entered();
    let r = f(&mut space);
    writer_leaving();
    r
}

/// [`with`] without the reclaim after.
fn with_space<R>(f: impl FnOnce(&mut Space) -> R) -> R {
    with_locked(|space| {
        let Some(space) = space.as_mut() else {
            crate::power::fail("the object space is used before it exists");
        };
        let r = f(space);
        if space.reclaim_pending() {
            RECLAIM.store(true, Ordering::Relaxed);
        }
        r
    })
}

/// This CPU has just taken `SPACE`'s mutex: waits until no CPU is in a
/// fault under the read side (none enters now), then counts as the
/// writer.
#[inline(always)]
fn writer_entered() {
    // The full barrier between the mutex taken and the readers' flags
    // read (see above).
    fence(Ordering::SeqCst);
    // With one CPU online no fault takes the read side ([`fault`]). The
    // count only grows, and a CPU counts itself before it can fault: a
    // reader's flag, raised before its barrier, is seen after this one
    // along with its CPU's count.
    if crate::sched::cpus_online() > 1 && READERS.iter().any(|r| r.0.load(Ordering::Relaxed)) {
        readers_leave();
    }
    // What the readers did comes before what this writer does.
    fence(Ordering::Acquire);
    WRITER.store(cpu() + 1, Ordering::Relaxed);
}

/// Waits (in `WFE`) for every reader to lower its flag: each is in one
/// fault, which does not wait for this lock. Counted among the lock's
/// waiters, so a reader's fault copies its page outside the locks.
#[cold]
#[inline(never)]
fn readers_leave() {
    // SAFETY: `raw` is only used to count this CPU among the waiters.
    unsafe { SPACE.raw() }.waiting(|| {
        for r in &READERS {
            crate::arch::wait_while_set(&r.0);
        }
    });
}

/// This CPU is about to release `SPACE`'s mutex.
#[inline(always)]
fn writer_leaving() {
    WRITER.store(0, Ordering::Relaxed);
}

/// Whether this CPU holds the write side.
fn write_held_here() -> bool {
    WRITER.load(Ordering::Relaxed) == cpu() + 1
}

/// Units of work (mappings removed, VMARs entered or left, handle slots
/// visited) one step of a long operation does under the lock: with each
/// unit a few hundred instructions, a step stays far below the masked-time
/// bound (DESIGN.md, "Bounded latency").
pub const STEP_BUDGET: usize = 24;

/// Runs a long operation in bounded steps: `step` gets the object space
/// and a budget of [`STEP_BUDGET`] units and says whether it is done;
/// between steps the lock is dropped and the thread may be preempted.
/// Frames of VMOs the operation destroyed are freed the same way after.
pub fn in_steps(mut step: impl FnMut(&mut Space, &mut usize) -> bool) {
    start_in_steps(|_| Ok(()), |s, (), budget| step(s, budget)).ok();
}

/// [`in_steps`] after `first`, which checks and starts the operation under
/// the lock (on failure nothing was done) and gives the state `step` goes
/// on with; the first step shares `first`'s lock hold.
pub fn start_in_steps<T>(
    first: impl FnOnce(&mut Space) -> Result<T, Status>,
    mut step: impl FnMut(&mut Space, &mut T, &mut usize) -> bool,
) -> Result<(), Status> {
    let mut budget = STEP_BUDGET;
    let (mut state, mut done) = with_space(|s| {
        let mut state = first(s)?;
        let done = step(s, &mut state, &mut budget) && s.reclaim_step(&mut budget);
        Ok::<_, Status>((state, done))
    })?;
    while !done {
        crate::latency::preempt_point();
        let_waiters_in();
        budget = STEP_BUDGET;
        done = with_space(|s| step(s, &mut state, &mut budget) && s.reclaim_step(&mut budget));
    }
    Ok(())
}

/// Longest [`let_waiters_in`] waits: far longer than a waiter woken from
/// `WFE` needs to take a free lock on hardware (well under a
/// microsecond), and about one step's hold.
pub const HANDOFF_WAIT: crate::time::Duration = crate::time::usec(20);

/// Between two steps of a long operation, the lock released: while other
/// CPUs wait for the object space (a writer for its lock, faults for the
/// writer to leave), waits until none does or [`HANDOFF_WAIT`] has passed.
/// The lock is test-and-set, not fair: this CPU, whose cache still holds
/// the lock's line, would take it back for the next step before a waiter
/// woken from `WFE` got to it, and on real cores a waiter (IRQs masked)
/// could wait out the whole operation, however long the task asked it to
/// be. Returns whether there was a waiter. IRQs are unmasked here.
pub fn let_waiters_in() -> bool {
    if !space_contended() {
        return false;
    }
    let limit = crate::time::duration_to_ticks(HANDOFF_WAIT);
    let start = crate::arch::counter();
    while space_contended() && crate::arch::counter().wrapping_sub(start) < limit {
        core::hint::spin_loop();
    }
    true
}

/// Whether a CPU waits for the object space's lock (a writer) or for its
/// writer to leave (a fault).
#[inline(always)]
fn space_contended() -> bool {
    // SAFETY: `raw` is only used to look at the lock's state.
    unsafe { SPACE.raw() }.contended() || READERS_WAITING.load(Ordering::Relaxed) != 0
}

/// Runs `wait` counted among the object space lock's waiters, as a CPU
/// waiting to take it is: for tests of [`let_waiters_in`].
pub fn as_a_waiter<R>(wait: impl FnOnce() -> R) -> R {
    // SAFETY: `raw` is only used to count a waiter.
    unsafe { SPACE.raw() }.waiting(wait)
}

/// Set when an object operation left destroyed VMOs' frames to free.
static RECLAIM: AtomicBool = AtomicBool::new(false);

/// Frees the frames destroyed VMOs still hold, in bounded steps (see
/// `ObjectSpace::set_deferred_frees`); nothing to do is one atomic load.
pub fn reclaim() {
    if RECLAIM.swap(false, Ordering::Relaxed) {
        in_steps(|s, budget| s.reclaim_step(budget));
    }
}

/// Runs `f` on the object space unless its lock is held already (by the
/// code a fault interrupted): then `None`.
pub fn try_with<R>(f: impl FnOnce(&mut Space) -> R) -> Option<R> {
    let mut space = SPACE.try_lock()?;
    writer_entered();
    let r = space.as_mut().map(f);
    writer_leaving();
    r
}

/// Resolves a page fault at `page` under the root VMAR: with more than one
/// CPU, under the read side of the object space's lock and the lock of
/// the fault's copy-on-write hierarchy ([`fault_shared`]), so faults in
/// other hierarchies resolve at once on other CPUs; under the write side
/// for the few faults only it may resolve (`FAULT_NEEDS_EXCLUSIVE`: a
/// mapping's first fault, a map that needs table pages). With one CPU
/// nothing could run beside a fault, so it takes the write side at once
/// and skips the read side's protocol and the hierarchy lock (some 60
/// instructions a fault, `README.md`). `None` as [`fault_shared`] says.
/// Called with IRQs masked (the exception entry masked them).
#[inline(always)]
pub fn fault(page: u64, access: object::Access) -> Option<Result<(), Status>> {
    if crate::sched::cpus_online() == 1 {
        // SAFETY: `raw` is used only to take the writers' lock, which the
        // guard made below then owns and releases.
        if unsafe { SPACE.raw() }.try_lock_masked() {
            // SAFETY: this CPU holds the writers' lock (just taken).
            let mut space = unsafe { SPACE.make_guard_unchecked() };
            // With one CPU no reader can be in (no wait for readers), and
            // nothing nests in a fault (no writer's mark).
            return space
                .as_mut()
                .map(|space| space.vmar_fault(root_vmar(), page, access));
        }
    } else {
        match fault_shared(page, access) {
            Some(Err(object::FAULT_NEEDS_EXCLUSIVE)) => {}
            r => return r,
        }
    }
    fault_exclusive(page, access)
}

/// Resolves the fault under the write side, whose mutex `space` holds.
#[inline(always)]
fn exclusive_fault(
    mut space: talc::lock_api::MutexGuard<'static, IrqSpinRaw, Option<Space>>,
    page: u64,
    access: object::Access,
) -> Result<(), Status> {
    writer_entered();
    let r = match space.as_mut() {
        Some(space) => space.vmar_fault(root_vmar(), page, access),
        None => Err(abi::ZX_ERR_BAD_STATE),
    };
    writer_leaving();
    r
}

/// Resolves a page fault at `page` under the root VMAR with the read side
/// of the object space's lock (see above): `None` if this CPU holds the
/// write side (user memory touched by a syscall under the lock: a kernel
/// bug) or, for the kernel's own fault on task memory, if the lock stays
/// busy (see [`read_slow`]). Called with IRQs masked (the exception entry
/// masked them): nothing to save or mask again.
#[inline(always)]
fn fault_shared(page: u64, access: object::Access) -> Option<Result<(), Status>> {
    let me = &READERS[cpu()].0;
    me.store(true, Ordering::Relaxed);
    fence(Ordering::SeqCst);
    // SAFETY: `raw` is only used to look at the writers' lock.
    if !unsafe { SPACE.raw() }.is_free_acquire() && !read_slow(me) {
        return None;
    }
    #[cfg(feature = "lock-order")]
    crate::sync::order::note_held(Rank::Objects as u8);
    // SAFETY: this CPU is a reader: no writer runs, so no `&mut` to the
    // space exists (see above).
    let space = unsafe { &*SPACE.data_ptr() };
    let r = space.as_ref().map(|space| {
        // SAFETY: the read side is taken only here, for faults, so every
        // other user of the space now is another `vmar_fault_shared`.
        unsafe { space.vmar_fault_shared(root_vmar(), page, access) }
    });
    #[cfg(feature = "lock-order")]
    crate::sync::order::release(Rank::Objects as u8);
    // What this fault did comes before what the next writer does.
    me.store(false, Ordering::Release);
    r
}

/// [`fault_shared`] found a writer holding the lock or waiting for
/// readers: lowers this CPU's flag, waits for the writer and tries again.
/// A task's abort (from EL0) cannot come while this CPU holds any lock
/// (none is held in EL0): it waits as long as it takes. The kernel's own
/// abort on task memory (EL1) fails at once if this CPU is the writer,
/// and waits [`HOLD_LIMIT`] at most (no hold lasts anywhere near that:
/// holds are bounded steps, DESIGN.md): a lock still busy then is one
/// this CPU's interrupted code would have to release first (it holds a
/// lock of a higher rank the writer waits for), so the fault is left
/// unresolved rather than deadlock. True once this CPU is a reader.
#[cold]
#[inline(never)]
fn read_slow(me: &AtomicBool) -> bool {
    me.store(false, Ordering::Release);
    if write_held_here() {
        return false;
    }
    let from_task = from_task();
    let limit = crate::time::duration_to_ticks(HOLD_LIMIT);
    let start = crate::arch::counter();
    // SAFETY: `raw` is only used to wait for the writers' lock to be free.
    let raw = unsafe { SPACE.raw() };
    READERS_WAITING.fetch_add(1, Ordering::Relaxed);
    let entered = loop {
        raw.wait_until_free();
        me.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if raw.is_free_acquire() {
            break true;
        }
        me.store(false, Ordering::Release);
        if !from_task && crate::arch::counter().wrapping_sub(start) > limit {
            break false;
        }
    };
    READERS_WAITING.fetch_sub(1, Ordering::Relaxed);
    entered
}

/// [`fault`] under the write side of the object space's lock, waiting for
/// it: a fault [`fault_shared`] could not resolve, or one that found the
/// lock busy. `None` as there.
#[cold]
#[inline(never)]
fn fault_exclusive(page: u64, access: object::Access) -> Option<Result<(), Status>> {
    if write_held_here() {
        return None;
    }
    // SAFETY: `raw` is used only to take the writers' lock, which the
    // guard made below then owns and releases.
    let raw = unsafe { SPACE.raw() };
    if !raw.try_lock_masked() {
        if from_task() {
            raw.lock_masked();
        } else if !wait_for_lock() {
            return None;
        }
    }
    // SAFETY: this CPU holds the writers' lock (just taken).
    let space = unsafe { SPACE.make_guard_unchecked() };
    Some(exclusive_fault(space, page, access))
}

/// Whether the abort being handled came from a task (EL0).
fn from_task() -> bool {
    crate::arch::exception::current_abort()
        .0
        .is_abort_from_lower_el()
}

/// The kernel's own fault on task memory waits for the writers' lock
/// [`HOLD_LIMIT`] at most (see [`read_slow`]); true once taken.
fn wait_for_lock() -> bool {
    let limit = crate::time::duration_to_ticks(HOLD_LIMIT);
    let start = crate::arch::counter();
    // SAFETY: `raw` is only used to wait for the lock and take it, which
    // `fault_exclusive` then owns.
    let raw = unsafe { SPACE.raw() };
    raw.waiting(|| loop {
        raw.wait_until_free();
        if raw.try_lock_masked() {
            return true;
        }
        if crate::arch::counter().wrapping_sub(start) > limit {
            return false;
        }
    })
}

/// Whether another CPU waits for the object space's lock (either side) or
/// for the hierarchy lock this CPU holds, during this CPU's hold of them
/// (a hint, see `IrqSpinRaw::contended`).
#[inline(always)]
pub fn contended() -> bool {
    if space_contended() {
        return true;
    }
    match HOLDING[cpu()].load(Ordering::Relaxed) {
        0 => false,
        i => HIERARCHIES[i - 1].0.contended(),
    }
}

/// Locks of the copy-on-write hierarchies (`object::Platform::lock_hierarchy`),
/// striped: a hierarchy's is the one its key (its root VMO's koid) picks,
/// so two hierarchies sometimes share one (their faults then wait for each
/// other, nothing worse). Each on its own cache line: CPUs faulting in
/// different hierarchies write different lines.
static HIERARCHIES: [Stripe; HIERARCHY_LOCKS] =
    [const { Stripe(IrqSpinRaw::ranked(Rank::Hierarchy)) }; HIERARCHY_LOCKS];

/// How many hierarchy locks there are.
pub const HIERARCHY_LOCKS: usize = 64;

#[repr(align(64))]
struct Stripe(IrqSpinRaw);

/// Per CPU, which hierarchy lock it holds (its index + 1), 0 for none:
/// what [`contended`] looks at.
static HOLDING: [crate::sync::CacheLine<AtomicUsize>; crate::sched::MAX_CPUS] =
    [const { crate::sync::CacheLine(AtomicUsize::new(0)) }; crate::sched::MAX_CPUS];

fn cpu() -> usize {
    crate::arch::context::cpu_index() % crate::sched::MAX_CPUS
}

/// The index of the hierarchy lock of hierarchy `key`.
pub fn hierarchy_lock_index(key: Koid) -> usize {
    key as usize % HIERARCHY_LOCKS
}

/// A held hierarchy lock ([`lock_hierarchy`]); released when dropped.
pub struct HierarchyHold(usize);

/// Takes the lock of the copy-on-write hierarchy `key`, with IRQs masked
/// already (a fault; tests mask them themselves).
#[inline(always)]
pub fn lock_hierarchy(key: Koid) -> HierarchyHold {
    let i = hierarchy_lock_index(key);
    HIERARCHIES[i].0.lock_masked();
    HOLDING[cpu()].store(i + 1, Ordering::Relaxed);
    HierarchyHold(i)
}

impl Drop for HierarchyHold {
    #[inline(always)]
    fn drop(&mut self) {
        HOLDING[cpu()].store(0, Ordering::Relaxed);
        // SAFETY: this CPU took the lock in `lock_hierarchy`, masked.
        unsafe { HIERARCHIES[self.0].0.unlock_masked() };
    }
}

/// How long the kernel's own fault on task memory waits for the object
/// space's lock before it takes it for one its own CPU holds.
const HOLD_LIMIT: crate::time::Duration = crate::time::msec(1000);

/// The root VMAR.
pub fn root_vmar() -> VmarId {
    *ROOT_VMAR
        .get()
        .unwrap_or_else(|| crate::power::fail("no root VMAR yet"))
}
