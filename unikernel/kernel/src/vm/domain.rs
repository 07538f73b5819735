//! Protection domains in the one address space (Opal, Mungi): every
//! address means the same thing in every task, but each task has its own
//! view, a level-0 translation table of its own under its own ASID.
//!
//! The root VMAR's layout decides whose view holds a translation:
//! - `[1 TiB, 1.5 TiB)` (level-0 entry 2): the EL0 image, mapped in the
//!   kernel's table; like the kernel's own entries (level-0 entry 0) its
//!   level-1 table is shared by every task's table, so every task sees it.
//! - `[1.5 TiB, 127.5 TiB)`: [`SLOTS`] slots of 64 GiB, one per live task
//!   (its sub-VMAR is exactly its slot). Translations there live only in
//!   the table of the task that owns the slot, tagged with its ASID
//!   (non-global). A slot with no task behind it belongs to the kernel's
//!   table (kernel tests map there).
//! - `[127.5 TiB, 128 TiB)`: the kernel's table (kernel tests' scratch).
//!
//! So the table that holds a translation is found from its address alone
//! (one shift, one index): the object layer needs no notion of domains.
//! An access from a task to another task's slot walks its own table, finds
//! nothing, and the fault is refused ([`may_resolve`]) rather than resolved
//! through the other task's mapping.
//!
//! Threads carry a [`DomainId`]; the scheduler calls [`switch_to`] on every
//! switch: a thread of the task already loaded costs one compare, another
//! task's one `TTBR0_EL1` write with its ASID (`arch::asid`), no TLB
//! maintenance. Kernel threads run the kernel's table; the idle thread keeps
//! whatever is loaded.
//!
//! On several CPUs: the per-CPU state is [`CURRENT`] (the domain each CPU
//! has loaded) and the ASID allocator's (which keeps other CPUs' ASIDs
//! across a rollover); all TLB maintenance is broadcast. [`destroy`] marks
//! the domain dead, then waits until no CPU has its table loaded (a CPU
//! running one of its threads is sent the kick SGI and leaves it at once;
//! [`leave_everywhere`]), and only then invalidates its ASID everywhere and
//! frees its table.

use super::{with_tables, Tables};
use crate::arch::asid;
use crate::arch::context::cpu_index;
use crate::arch::mmu::{self, PageTable};
use crate::sched::MAX_CPUS;
use abi::{Status, ZX_ERR_NO_MEMORY, ZX_ERR_NO_RESOURCES};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Where the task slots begin: 1.5 TiB, the start of level-0 entry 3.
pub const DOMAIN_BASE: u64 = 3 << 39;
/// Each slot is 64 GiB (a task's whole sub-VMAR).
pub const SLOT_SHIFT: u32 = 36;
/// Bytes per slot.
pub const SLOT_SIZE: u64 = 1 << SLOT_SHIFT;
/// How many slots (so live tasks) there can be: up to 127.5 TiB.
pub const SLOTS: usize = 2016;
/// One past the last slot.
pub const DOMAIN_END: u64 = DOMAIN_BASE + SLOTS as u64 * SLOT_SIZE;
/// Level-0 entries every task's table shares with the kernel's: the
/// kernel (entry 0) and the EL0 image (entry 2).
pub const SHARED_L0: usize = 3;
/// The EL0 image's range, below the slots.
pub const IMAGE_RANGE: core::ops::Range<u64> = (1 << 40)..DOMAIN_BASE;

/// Names a task's table to the scheduler: `generation << 12 | (slot + 1)`;
/// [`KERNEL`] for the kernel's table, [`ANY`] for "whatever is loaded".
pub type DomainId = u32;
/// The kernel's table.
pub const KERNEL: DomainId = 0;
/// Keeps the loaded table (the idle thread touches no task memory).
pub const ANY: DomainId = u32::MAX;

const SLOT_BITS: u32 = 12;
const _: () = assert!(SLOTS < (1 << SLOT_BITS));

struct Meta {
    /// The live domain's id, 0 when the slot is free.
    id: AtomicU32,
    /// Its root table, for TTBR0.
    root: AtomicU64,
    /// Its ASID context (`arch::asid`).
    ctx: AtomicU64,
}

static META: [Meta; SLOTS] = [const {
    Meta {
        id: AtomicU32::new(0),
        root: AtomicU64::new(0),
        ctx: AtomicU64::new(0),
    }
}; SLOTS];

/// Per CPU: the domain whose table its TTBR0 holds.
static CURRENT: [AtomicU32; MAX_CPUS] = [const { AtomicU32::new(KERNEL) }; MAX_CPUS];
/// Per CPU: the domain it is about to load (KERNEL: none), while it checks
/// the domain is alive ([`switch_slow`]).
static CLAIM: [AtomicU32; MAX_CPUS] = [const { AtomicU32::new(KERNEL) }; MAX_CPUS];
/// Per CPU: `va >> SLOT_SHIFT` of the loaded task's slot, 0 for the kernel's
/// table (the fault path's one compare).
static OWN_HI: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
const _: () = assert!(MAX_CPUS.is_power_of_two());

/// This CPU's index, bounded without a check (for the per-CPU arrays).
#[inline(always)]
fn cpu() -> usize {
    cpu_index() & (MAX_CPUS - 1)
}

/// Records what CPU `cpu`'s TTBR0 holds now.
fn set_current(cpu: usize, id: DomainId) {
    CURRENT[cpu].store(id, Ordering::Relaxed);
    let hi = slot_of_id(id).map_or(0, |slot| slot_base(slot) >> SLOT_SHIFT);
    OWN_HI[cpu].store(hi, Ordering::Relaxed);
}
/// The kernel table's root (TTBR0 with ASID 0).
static KERNEL_ROOT: AtomicU64 = AtomicU64::new(0);
/// Generations for ids, so an id of an ended task never names its successor.
static NEXT_GENERATION: AtomicU32 = AtomicU32::new(1);

/// Records the kernel table's root (once the MMU is on).
pub(super) fn set_kernel_root(root: u64) {
    KERNEL_ROOT.store(root, Ordering::Relaxed);
}

/// The kernel table's root (for a secondary CPU's first TTBR0).
pub fn kernel_root() -> u64 {
    KERNEL_ROOT.load(Ordering::Relaxed)
}

/// The slot `va` lies in, if it is in the slots' range.
#[inline(always)]
pub fn slot_of(va: u64) -> Option<usize> {
    if (DOMAIN_BASE..DOMAIN_END).contains(&va) {
        Some(((va - DOMAIN_BASE) >> SLOT_SHIFT) as usize)
    } else {
        None
    }
}

/// The base address of slot `slot`.
pub fn slot_base(slot: usize) -> u64 {
    DOMAIN_BASE + slot as u64 * SLOT_SIZE
}

fn slot_of_id(id: DomainId) -> Option<usize> {
    let s = (id & ((1 << SLOT_BITS) - 1)) as usize;
    (id != ANY && s != 0).then(|| s - 1)
}

/// The domain CPU `cpu`'s TTBR0 holds now.
#[inline(always)]
fn current() -> DomainId {
    CURRENT[cpu()].load(Ordering::Relaxed)
}

/// Whether a fault at `va` taken now (on this CPU's table) may be resolved
/// here: outside the slots always; in a slot only if it is the loaded
/// task's own, or a slot of no task while the kernel's table is loaded.
/// Anything else is another task's memory (or memory of a task's slot
/// touched from the wrong table): the fault must not map it here.
#[inline(always)]
pub fn may_resolve(va: u64) -> bool {
    let hi = va >> SLOT_SHIFT;
    if !((DOMAIN_BASE >> SLOT_SHIFT)..(DOMAIN_END >> SLOT_SHIFT)).contains(&hi) {
        return true;
    }
    hi == OWN_HI[cpu()].load(Ordering::Relaxed) || may_resolve_slow(va)
}

/// [`may_resolve`] for a slot not the loaded task's: only a slot of no
/// task, on the kernel's table.
#[cold]
#[inline(never)]
fn may_resolve_slow(va: u64) -> bool {
    match slot_of(va) {
        None => true,
        Some(slot) => slot_of_id(current()).is_none() && META[slot].id.load(Ordering::Relaxed) == 0,
    }
}

/// Whether `va` lies in the slot of a live task other than the one whose
/// table is loaded (for fault reports).
pub fn belongs_to_another_task(va: u64) -> bool {
    slot_of(va).is_some_and(|slot| {
        META[slot].id.load(Ordering::Relaxed) != 0 && slot_of_id(current()) != Some(slot)
    })
}

/// The table that holds translations for `va`: its owner's, or the kernel's.
#[inline(always)]
pub(super) fn table_for(tables: &mut Tables, va: u64) -> &mut PageTable {
    // Below the slots the subtraction wraps: no slot.
    let slot = ((va >> SLOT_SHIFT).wrapping_sub(DOMAIN_BASE >> SLOT_SHIFT)) as usize;
    if let Some(table) = tables.domains.get_mut(slot).and_then(Option::as_mut) {
        return table;
    }
    &mut tables.kernel
}

/// A new domain in the lowest free slot whose number `skip` does not
/// reject: its id and its slot's base address. `ZX_ERR_NO_RESOURCES` when
/// every slot is taken, `ZX_ERR_NO_MEMORY` without a frame for its root.
pub fn create(skip: impl Fn(usize) -> bool) -> Result<(DomainId, u64), Status> {
    with_tables(|t| {
        let slot = (0..SLOTS)
            .find(|&s| t.domains[s].is_none() && !skip(s))
            .ok_or(ZX_ERR_NO_RESOURCES)?;
        let m = &META[slot];
        let table = PageTable::new_domain(&t.kernel, SHARED_L0, &m.ctx).ok_or(ZX_ERR_NO_MEMORY)?;
        let generation = NEXT_GENERATION.fetch_add(1, Ordering::Relaxed) & ((1 << 20) - 1);
        let id = (generation.max(1) << SLOT_BITS) | (slot as u32 + 1);
        m.root.store(table.root(), Ordering::Relaxed);
        m.ctx.store(0, Ordering::Relaxed);
        m.id.store(id, Ordering::Release);
        t.domains[slot] = Some(table);
        Ok((id, slot_base(slot)))
    })
}

/// Ends domain `id` (its task ended; its mappings are gone): every CPU
/// leaves its table, its ASID is invalidated everywhere and freed, its
/// table pages go back. Returns how many table pages went.
pub fn destroy(id: DomainId) -> usize {
    let Some(slot) = slot_of_id(id) else {
        return 0;
    };
    let m = &META[slot];
    // Dead first: no CPU loads it from here on. The slot stays taken (no
    // new domain gets it) until its table is gone.
    let live = with_tables(|t| {
        let live = m.id.load(Ordering::Relaxed) == id && t.domains[slot].is_some();
        if live {
            m.id.store(0, Ordering::SeqCst);
        }
        live
    });
    if !live {
        return 0;
    }
    // No CPU may walk the table once its pages are free: every CPU that
    // runs it (a thread of the task not yet out, or an idle thread that
    // kept it) moves to the kernel's table first. Waited for outside the
    // tables' lock, which such a CPU may be spinning on.
    leave_everywhere(id);
    with_tables(|t| {
        asid::release(&m.ctx);
        m.root.store(0, Ordering::Relaxed);
        t.domains[slot]
            .take()
            .map_or(0, |table| table.free_domain())
    })
}

/// Makes every CPU whose TTBR0 holds ended domain `id` load the kernel's
/// table: this one at once, the others through an SGI ([`leave_if_gone`]
/// runs in its handler), and waits until none does. While waiting this CPU
/// also answers such a request itself: two CPUs ending tasks the other
/// runs must not wait for each other.
fn leave_everywhere(id: DomainId) {
    leave_if_gone();
    for c in (0..MAX_CPUS).filter(|&c| c != cpu()) {
        let mut kicked = false;
        loop {
            let runs = CURRENT[c].load(Ordering::SeqCst) == id;
            if !runs && CLAIM[c].load(Ordering::SeqCst) != id {
                break;
            }
            // Once it runs the table it can only leave it (the domain is
            // dead: no CPU loads it again), so one SGI does.
            if runs && !kicked {
                crate::arch::gic::send_sgi(crate::sched::KICK_SGI, c);
                kicked = true;
            }
            leave_if_gone();
            core::hint::spin_loop();
        }
    }
}

/// If this CPU's TTBR0 holds a domain that has ended, loads the kernel's
/// table instead (IRQs masked: an interrupt handler, or a switch).
pub fn leave_if_gone() {
    let cpu = cpu();
    let id = CURRENT[cpu].load(Ordering::Relaxed);
    let Some(slot) = slot_of_id(id) else {
        return;
    };
    if META[slot].id.load(Ordering::Acquire) != id {
        mmu::set_ttbr0(KERNEL_ROOT.load(Ordering::Relaxed), 0);
        set_current_release(cpu, KERNEL);
    }
}

/// [`set_current`], published with release order: a CPU waiting in
/// [`leave_everywhere`] sees the new TTBR0 in effect once it sees this.
fn set_current_release(cpu: usize, id: DomainId) {
    let hi = slot_of_id(id).map_or(0, |slot| slot_base(slot) >> SLOT_SHIFT);
    OWN_HI[cpu].store(hi, Ordering::Relaxed);
    CURRENT[cpu].store(id, Ordering::Release);
}

/// Makes this CPU run the table of `id` (IRQs masked: the scheduler's
/// switch). A domain that is gone gives the kernel's table.
#[inline(always)]
pub fn switch_to(id: DomainId) {
    if id == ANY {
        return;
    }
    let cpu = cpu();
    if CURRENT[cpu].load(Ordering::Relaxed) == id {
        return;
    }
    switch_slow(id, cpu);
}

#[inline(never)]
fn switch_slow(id: DomainId, cpu: usize) {
    if let Some(slot) = slot_of_id(id) {
        let m = &META[slot];
        // Claim it, then check it is alive: [`destroy`] marks it dead, then
        // reads the claims (both sequentially consistent), so either it
        // sees this claim and waits for this CPU to leave the table, or
        // this sees the domain dead and never loads it.
        CLAIM[cpu].store(id, Ordering::SeqCst);
        if m.id.load(Ordering::SeqCst) == id {
            let asid = asid::activate(&m.ctx, cpu);
            mmu::set_ttbr0(m.root.load(Ordering::Relaxed), asid);
            set_current_release(cpu, id);
            CLAIM[cpu].store(KERNEL, Ordering::Release);
            return;
        }
        CLAIM[cpu].store(KERNEL, Ordering::Release);
    }
    if CURRENT[cpu].load(Ordering::Relaxed) != KERNEL {
        mmu::set_ttbr0(KERNEL_ROOT.load(Ordering::Relaxed), 0);
        set_current(cpu, KERNEL);
    }
}

/// The ASID context of live domain `id` (for tests): `generation << 16 | asid`.
pub fn context_of(id: DomainId) -> Option<u64> {
    let slot = slot_of_id(id)?;
    let m = &META[slot];
    (m.id.load(Ordering::Relaxed) == id).then(|| m.ctx.load(Ordering::Relaxed))
}

/// Table pages domain `id` holds now, its root included (for tests).
pub fn table_pages_of(id: DomainId) -> Option<usize> {
    let slot = slot_of_id(id)?;
    with_tables(|t| {
        (META[slot].id.load(Ordering::Relaxed) == id)
            .then(|| t.domains[slot].as_ref().map(PageTable::table_pages))
            .flatten()
    })
}
