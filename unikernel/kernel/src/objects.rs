//! The kernel's one object space: every VMO, VMAR, event and handle table,
//! behind one lock (DESIGN.md: a syscall is argument decoding plus one call
//! into the object layer). The object layer reaches frames, page tables and
//! the scheduler through [`KernelPlatform`]; the kernel's own objects it
//! holds (tasks, threads, timers) are the task module's, which implements
//! `object::Platform` for it, so this module names none of them.
//!
//! Lock order: this lock, then the page table's (`vm::with_page_table`).

pub mod wait;

use crate::mm::frame;
use crate::sched;
use crate::sync::IrqMutex;
use abi::{Signals, Status};
use core::sync::atomic::{AtomicBool, Ordering};
use object::{Frame, FrameAllocator, MapPerms, Mmu, ObjectSpace, VmarId, WaiterId, Waker};

/// A frame the object layer owns was freed or written: see
/// `vm::fault::FRAME_CHANGES`. Called under the object space's lock.
#[inline(always)]
fn frame_changed() {
    let changes = &crate::vm::fault::FRAME_CHANGES;
    changes.store(changes.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
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
        frame::alloc().map(|f| Frame::new(f.addr()))
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
        unsafe { frame::free(frame::Frame::from_addr(f.paddr())) };
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
            if let Some(f) = frame::take_zeroed() {
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
        crate::vm::with_table_for(vaddr, |t| {
            let before = t.table_pages();
            t.unmap(vaddr, len);
            t.charged_freed_since(before)
        })
    }

    fn unmap_some(&self, vaddr: u64, len: u64, max: usize) -> (u64, u64) {
        crate::vm::with_table_for(vaddr, |t| {
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
        crate::vm::with_table_for(vaddr, |t| {
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
        crate::vm::with_table_for(vaddr, |t| {
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

static SPACE: IrqMutex<Option<Space>> = crate::sync::ranked(crate::sync::Rank::Objects, None);
static ROOT_VMAR: spin::Once<VmarId> = spin::Once::new();

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
    *SPACE.lock() = Some(space);
}

/// Runs `f` on the object space under its lock (interrupts masked). If
/// that left frames of destroyed VMOs to free and the caller runs with
/// IRQs unmasked (so holds no lock that masks them), they are freed now,
/// in steps, after the lock is released.
pub fn with<R>(f: impl FnOnce(&mut Space) -> R) -> R {
    let r = with_locked(f);
    if RECLAIM.load(Ordering::Relaxed) && !crate::arch::irqs_masked() {
        reclaim();
    }
    r
}

/// [`with`] without the reclaim after.
fn with_locked<R>(f: impl FnOnce(&mut Space) -> R) -> R {
    let mut space = SPACE.lock();
    let Some(space) = space.as_mut() else {
        crate::power::fail("the object space is used before it exists");
    };
    let r = f(space);
    if space.reclaim_pending() {
        RECLAIM.store(true, Ordering::Relaxed);
    }
    r
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
    let (mut state, mut done) = with_locked(|s| {
        let mut state = first(s)?;
        let done = step(s, &mut state, &mut budget) && s.reclaim_step(&mut budget);
        Ok::<_, Status>((state, done))
    })?;
    while !done {
        crate::latency::preempt_point();
        budget = STEP_BUDGET;
        done = with_locked(|s| step(s, &mut state, &mut budget) && s.reclaim_step(&mut budget));
    }
    Ok(())
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
#[inline(always)]
pub fn try_with<R>(f: impl FnOnce(&mut Space) -> R) -> Option<R> {
    let mut space = SPACE.try_lock()?;
    space.as_mut().map(f)
}

/// [`try_with`] from an exception handler, which runs with IRQs masked
/// already (the fault path): the lock is taken without saving or masking
/// them again.
#[inline(always)]
pub fn try_with_masked<R>(f: impl FnOnce(&mut Space) -> R) -> Option<R> {
    // SAFETY: `raw` is used only to take the lock, which `make_guard_unchecked`
    // then owns and releases.
    if !unsafe { SPACE.raw() }.try_lock_masked() && !lock_masked_slow() {
        return None;
    }
    // SAFETY: this CPU holds the lock (just taken).
    let mut space = unsafe { SPACE.make_guard_unchecked() };
    space.as_mut().map(f)
}

/// [`try_with_masked`]'s lock was busy: another CPU holds it (wait for it),
/// or this one does (a kernel bug: give up). A task's abort (from EL0)
/// cannot come while this CPU holds the lock, as no lock is held in EL0:
/// it waits as long as it takes, however many other CPUs take the lock
/// in turn meanwhile. The kernel's own abort on task memory (EL1) is told
/// apart by time: no hold lasts anywhere near [`HOLD_LIMIT`] (holds are
/// bounded steps, DESIGN.md), so a lock still busy then is taken for this
/// CPU's own. True once taken.
#[cold]
#[inline(never)]
fn lock_masked_slow() -> bool {
    let from_task = crate::arch::exception::current_abort()
        .0
        .is_abort_from_lower_el();
    let limit = crate::time::duration_to_ticks(HOLD_LIMIT);
    let start = crate::arch::counter();
    // SAFETY: `raw` is only used to wait for the lock and take it, which
    // `try_with_masked` then owns.
    let raw = unsafe { SPACE.raw() };
    raw.waiting(|| loop {
        raw.wait_until_free();
        if raw.try_lock_masked() {
            return true;
        }
        if !from_task && crate::arch::counter().wrapping_sub(start) > limit {
            return false;
        }
    })
}

/// Whether another CPU waits for the object space's lock during this
/// CPU's hold of it (a hint, see `IrqSpinRaw::contended`).
#[inline(always)]
pub fn contended() -> bool {
    // SAFETY: `raw` is only used to look at the lock's state.
    unsafe { SPACE.raw() }.contended()
}

/// How long [`lock_masked_slow`] waits before it takes the lock for its
/// own CPU's.
const HOLD_LIMIT: crate::time::Duration = crate::time::msec(1000);

/// The root VMAR.
pub fn root_vmar() -> VmarId {
    *ROOT_VMAR
        .get()
        .unwrap_or_else(|| crate::power::fail("no root VMAR yet"))
}
