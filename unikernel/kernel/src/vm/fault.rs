//! Page faults on task memory, resolved through the object layer's VMAR
//! tree: a translation fault maps what the VMO shows, a write permission
//! fault on a copy-on-write page gets the private copy mapped writable.

use super::USER_REGION;
use crate::arch::esr::{Esr, ABORT_ISS::FSC_KIND::Value as FaultKind};
use crate::mm::PAGE_SIZE;
use abi::{Status, ZX_ERR_ACCESS_DENIED, ZX_ERR_BAD_STATE, ZX_ERR_NOT_FOUND};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use object::Access;

/// Per CPU, the faults it took on task memory: translation faults, then
/// permission faults. Each CPU adds to its own with IRQs masked (the fault
/// path), a load and a store: one count shared by all CPUs was an atomic
/// add on a line every CPU's faults wrote.
static FAULTS: [crate::sync::CacheLine<[AtomicU64; 2]>; crate::sched::MAX_CPUS] =
    [const { crate::sync::CacheLine([AtomicU64::new(0), AtomicU64::new(0)]) };
        crate::sched::MAX_CPUS];

/// How many faults on task memory the kernel has taken, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Nothing was mapped at the address.
    pub translation: u64,
    /// A mapping was there but did not allow the access (copy-on-write).
    pub permission: u64,
}

/// The fault counts so far.
pub fn counts() -> FaultCounts {
    let sum = |kind: usize| FAULTS.iter().map(|c| c[kind].load(Ordering::Relaxed)).sum();
    FaultCounts {
        translation: sum(0),
        permission: sum(1),
    }
}

/// Resolves the abort at `far` that `esr` describes (an instruction or
/// data abort, from EL0 or EL1). `Ok` means the access can be retried; an
/// error says why it cannot (`ZX_ERR_NOT_FOUND`: no mapping, or not a
/// fault on task memory at all; `ZX_ERR_ACCESS_DENIED`: another task's
/// memory, see `vm::domain`). The fault path, inlined into the abort
/// handlers.
#[inline(always)]
pub fn resolve(esr: Esr, far: u64) -> Result<(), Status> {
    let access = access_of(esr);
    if !USER_REGION.contains(&far) {
        return Err(ZX_ERR_NOT_FOUND);
    }
    const TRANSLATION: u64 = FaultKind::Translation as u64;
    const PERMISSION: u64 = FaultKind::Permission as u64;
    let kind = match esr.fault_kind_bits() {
        TRANSLATION => 0,
        PERMISSION => 1,
        _ => return Err(ZX_ERR_NOT_FOUND),
    };
    let counter = &FAULTS[crate::arch::context::cpu_index() % crate::sched::MAX_CPUS][kind];
    counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    // Another task's slot: its translations are in its own table, never
    // this one's (protection domains).
    if !super::domain::may_resolve(far) {
        return Err(ZX_ERR_ACCESS_DENIED);
    }
    let page = far & !(PAGE_SIZE - 1);
    match resolve_locked(page, access) {
        Ok(()) => Ok(()),
        Err(e) => resolve_later(e),
    }
}

/// The access an abort made.
#[inline(always)]
fn access_of(esr: Esr) -> Access {
    if esr.abort_is_fetch() {
        Access::Execute
    } else if esr.write_not_read() {
        Access::Write
    } else {
        Access::Read
    }
}

/// The fault was not resolved (`status`): if its frame is to be filled
/// outside the object space's lock first (`FAULT_FRAME_LATER`), fills it
/// and resolves the fault again (see below). Out of line, and the abort's
/// syndrome and address are read again from their registers
/// ([`crate::arch::exception::current_abort`]), so the resolved fault's
/// way stays one branch and keeps nothing live across the object layer's
/// call for this case.
#[cold]
#[inline(never)]
fn resolve_later(status: Status) -> Result<(), Status> {
    if status != object::FAULT_FRAME_LATER {
        return Err(status);
    }
    let (esr, far) = crate::arch::exception::current_abort();
    fill_and_retry(far & !(PAGE_SIZE - 1), access_of(esr))
}

/// One try at the fault under the object space's locks
/// ([`crate::objects::fault`]). A fault taken while this CPU holds the
/// object space's lock is a kernel bug (user memory touched under the
/// lock): `ZX_ERR_BAD_STATE` instead of a deadlock. The exception entry
/// masked IRQs: the locks need not.
#[inline(always)]
fn resolve_locked(page: u64, access: Access) -> Result<(), Status> {
    crate::objects::fault(page, access).unwrap_or(Err(ZX_ERR_BAD_STATE))
}

// Frames filled outside the object space's lock.
//
// A 4 KiB copy (copy-on-write) or zeroing (a zero-fill fault when this
// CPU's pool of pre-zeroed frames is empty) is most of a fault on
// hardware. Meanwhile other CPUs' faults in the same copy-on-write
// hierarchy wait for its lock, and syscalls for the object space's write
// side (which waits for every fault's read side to end). So when another
// CPU waits for either (`objects::contended`), a fault that needs a frame
// asks for it under the locks from [`fault_frame_unlocked`], which answers
// `FAULT_FRAME_LATER` (nothing changed) and notes what to fill in this
// CPU's [`Prepared`]; [`fill_and_retry`] fills a frame with the locks
// released and resolves the fault again, and [`fault_frame_unlocked`]
// hands that frame over if the fault still needs the same contents:
// zeros, or a copy of the same source frame, with no frame freed or
// written by the object layer meanwhile ([`FRAME_CHANGES`]: the source
// could have been freed and reused while it was copied; a free by a fault
// in another hierarchy counts too, which only costs a fill under the lock). Otherwise the frame is
// filled under the lock as with one CPU, so a fault asks at most once and
// always ends; a frame filled but not used (the fault was resolved by
// another CPU meanwhile, its mapping went, or something changed) is freed.
//
// The contents stay what a copy under the lock would give: the source
// frame was the page the child showed throughout, and writes to it by
// the parent's threads race with the copy either way (they never took the
// object lock).

/// Counts frames the object layer freed or the kernel wrote into for it
/// (`KernelPlatform::free`, `write`, `zero`); changed under the object
/// space's lock only (either side: faults on several CPUs add at once).
pub static FRAME_CHANGES: AtomicU64 = AtomicU64::new(0);

/// [`Prepared::src`] for a frame of zeros.
const ZEROS: u64 = u64::MAX;

/// [`Prepared::state`]: no fault of this CPU's is in its retry.
const IDLE: u8 = 0;
/// [`fault_frame_unlocked`] asked for a frame to be filled outside the lock.
const WANTED: u8 = 1;
/// [`fill_and_retry`] filled one: [`Prepared::frame`].
const READY: u8 = 2;
/// This fault's frame is filled under the lock (given up, or handed over).
const UNDER_LOCK: u8 = 3;

/// Per CPU, the frame its current fault fills outside the lock. Touched by
/// that CPU only, with IRQs masked (the fault path), so relaxed atomics
/// are only there to make it a `static`.
#[repr(align(64))]
struct Prepared {
    state: AtomicU8,
    /// The source frame's address, or [`ZEROS`].
    src: AtomicU64,
    /// [`FRAME_CHANGES`] when the frame was asked for.
    changes: AtomicU64,
    /// The filled frame's address; 0 for none.
    frame: AtomicU64,
}

static PREPARED: [Prepared; crate::sched::MAX_CPUS] = [const {
    Prepared {
        state: AtomicU8::new(IDLE),
        src: AtomicU64::new(0),
        changes: AtomicU64::new(0),
        frame: AtomicU64::new(0),
    }
}; crate::sched::MAX_CPUS];

fn prepared() -> &'static Prepared {
    &PREPARED[crate::arch::context::cpu_index() % crate::sched::MAX_CPUS]
}

/// Frames filled outside the lock, and how many of them were not used
/// because the fault's source changed meanwhile (for tests).
static FILLED_UNLOCKED: AtomicU64 = AtomicU64::new(0);
static STALE: AtomicU64 = AtomicU64::new(0);

/// [`UNLOCKED`] while faults fill frames outside the lock whether or not
/// another CPU waits (tests).
const ALWAYS: u32 = 1 << 16;

/// CPUs in [`fill_and_retry`] now, plus [`ALWAYS`]: one load tells the
/// fault path whether to look at the slow way.
static UNLOCKED: AtomicU32 = AtomicU32::new(0);

/// Whether [`fill_and_retry`] acts as if another CPU changed a frame while
/// it filled one (tests).
static INTERFERE: AtomicBool = AtomicBool::new(false);

/// Whether a fault fills its frame outside the object space's lock: when
/// another CPU waits for that lock now. With nobody waiting, a second lock
/// hold and lookup would cost more than the fill under the lock.
fn fills_unlocked() -> bool {
    crate::objects::contended() || UNLOCKED.load(Ordering::Relaxed) & ALWAYS != 0
}

/// Whether `KernelPlatform::fault_frame` must ask
/// [`fault_frame_unlocked`]: a fault may fill its frame unlocked now, or
/// one has (some CPU is in its retry).
#[inline(always)]
pub fn unlocked_fill_possible() -> bool {
    crate::objects::contended() || UNLOCKED.load(Ordering::Relaxed) != 0
}

/// Frames filled outside the object lock so far, and how many of those
/// were not used because the source changed meanwhile.
pub fn unlocked_fill_counts() -> (u64, u64) {
    (
        FILLED_UNLOCKED.load(Ordering::Relaxed),
        STALE.load(Ordering::Relaxed),
    )
}

/// For tests: fill frames outside the lock whether or not another CPU
/// waits (or, false, only then); act as if another CPU changed a frame
/// during every such fill.
pub fn set_unlocked_fills(always: bool, interfere: bool) {
    if always {
        UNLOCKED.fetch_or(ALWAYS, Ordering::Relaxed);
    } else {
        UNLOCKED.fetch_and(!ALWAYS, Ordering::Relaxed);
    }
    INTERFERE.store(interfere, Ordering::Relaxed);
}

/// `KernelPlatform::fault_frame` past this CPU's pool of pre-zeroed
/// frames, when [`unlocked_fill_possible`]: a frame of zeros (`src` `None`)
/// or a copy of `src`, for the fault this CPU is resolving under the
/// object space's lock, filled here or (see above) outside the lock.
#[cold]
#[inline(never)]
pub fn fault_frame_unlocked(src: Option<u64>) -> Result<u64, Status> {
    let key = src.unwrap_or(ZEROS);
    let p = prepared();
    match p.state.load(Ordering::Relaxed) {
        READY => {
            p.state.store(UNDER_LOCK, Ordering::Relaxed);
            let same = p.src.load(Ordering::Relaxed) == key
                && (key == ZEROS
                    || p.changes.load(Ordering::Relaxed) == FRAME_CHANGES.load(Ordering::Relaxed));
            if same {
                return Ok(p.frame.swap(0, Ordering::Relaxed));
            }
            STALE.fetch_add(1, Ordering::Relaxed);
        }
        IDLE if fills_unlocked() => {
            p.src.store(key, Ordering::Relaxed);
            p.changes
                .store(FRAME_CHANGES.load(Ordering::Relaxed), Ordering::Relaxed);
            p.state.store(WANTED, Ordering::Relaxed);
            return Err(object::FAULT_FRAME_LATER);
        }
        _ => {}
    }
    fill_here(src)
}

/// A new frame holding zeros (`src` `None`) or a copy of the frame at `src`,
/// filled now, or `ZX_ERR_NO_MEMORY`. IRQs are masked (the object
/// layer's calls).
#[inline(always)]
pub fn fill_here(src: Option<u64>) -> Result<u64, Status> {
    let f = crate::mm::frame::alloc_masked().ok_or(abi::ZX_ERR_NO_MEMORY)?;
    fill(f.addr(), src);
    Ok(f.addr())
}

/// Fills the frame at `frame` with zeros or a copy of the frame at `src`.
#[inline(always)]
fn fill(frame: u64, src: Option<u64>) {
    match src {
        // SAFETY: a frame just allocated to the caller: identity-mapped RAM
        // nobody else reaches; the source is identity-mapped RAM (a VMO's
        // frame, or one freed since: then the copy is not used).
        Some(src) => unsafe { crate::arch::page::copy(frame as *mut u8, src as *const u8) },
        // SAFETY: as above for the frame.
        None => unsafe { crate::arch::page::zero(frame as *mut u8) },
    }
}

/// The fault's frame was asked for outside the lock ([`fault_frame_unlocked`]):
/// fills one and resolves the fault again.
fn fill_and_retry(page: u64, access: Access) -> Result<(), Status> {
    let p = prepared();
    debug_assert_eq!(p.state.load(Ordering::Relaxed), WANTED);
    UNLOCKED.fetch_add(1, Ordering::Relaxed);
    match crate::mm::frame::alloc() {
        Some(f) => {
            let src = p.src.load(Ordering::Relaxed);
            fill(f.addr(), (src != ZEROS).then_some(src));
            FILLED_UNLOCKED.fetch_add(1, Ordering::Relaxed);
            p.frame.store(f.addr(), Ordering::Relaxed);
            p.state.store(READY, Ordering::Relaxed);
        }
        // Out of memory: under the lock the fault fails as it should.
        None => p.state.store(UNDER_LOCK, Ordering::Relaxed),
    }
    if INTERFERE.load(Ordering::Relaxed) {
        p.changes.store(
            p.changes.load(Ordering::Relaxed).wrapping_sub(1),
            Ordering::Relaxed,
        );
    }
    let r = resolve_locked(page, access);
    let unused = p.frame.swap(0, Ordering::Relaxed);
    if unused != 0 {
        // SAFETY: allocated above and handed to nobody.
        unsafe { crate::mm::frame::free(crate::mm::frame::Frame::from_addr(unused)) };
    }
    p.state.store(IDLE, Ordering::Relaxed);
    UNLOCKED.fetch_sub(1, Ordering::Relaxed);
    debug_assert_ne!(r, Err(object::FAULT_FRAME_LATER));
    r
}

/// Describes the mapping around `far` for a fault report.
pub fn describe(far: u64) -> Option<object::MappingInfo> {
    if !USER_REGION.contains(&far) {
        return None;
    }
    crate::objects::try_with(|space| space.vmar_lookup(crate::objects::root_vmar(), far)).flatten()
}
