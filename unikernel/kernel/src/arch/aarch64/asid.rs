//! ASIDs for task translation tables, Linux's scheme: a task's table has a
//! context, `generation << 16 | asid` (0: none yet). A switch to it keeps
//! its ASID while the generation is current (no TLB maintenance at all);
//! otherwise it takes a free ASID of the current generation (its old one
//! if still free). When none is free a new generation begins: the map is
//! cleared, every TLB is invalidated once (`TLBI VMALLE1IS`), and the ASIDs
//! running on the other CPUs are kept ("reserved"), so those CPUs go on
//! with theirs (no CPU needs an IPI). A task that ends gives its ASID back
//! after `TLBI ASIDE1IS`, so most switches never see a rollover.
//!
//! ASID 0 is the kernel table's (its entries are global) and never given
//! to a task. The width comes from the CPU (`mmu::asid_bits`); a test may
//! narrow it ([`set_limit_for_test`]) to force rollovers.

use super::context::MAX_CPUS;
use super::mmu;
use super::tlb;
use crate::sync::IrqMutex;
use core::sync::atomic::{AtomicU64, Ordering};

const ASID_MASK: u64 = 0xffff;
const WORDS: usize = (1 << 16) / 64;

struct Allocator {
    generation: u64,
    /// ASIDs handed out: 1 << `bits`, or fewer for a test.
    limit: u32,
    /// Where the search for a free ASID starts.
    next: u32,
    used: [u64; WORDS],
    /// Per CPU: the context it ran when the generation last changed; its
    /// ASID stays that CPU's in the new generation.
    reserved: [u64; MAX_CPUS],
    rollovers: u64,
}

static ASIDS: IrqMutex<Allocator> = crate::sync::ranked(
    crate::sync::Rank::Asids,
    Allocator {
        generation: 1,
        limit: 0,
        next: 1,
        used: [0; WORDS],
        reserved: [0; MAX_CPUS],
        rollovers: 0,
    },
);

/// The generation, kept outside the lock too: the switch's fast path.
static GENERATION: AtomicU64 = AtomicU64::new(1);
/// Per CPU: the context it last switched to (it may run the kernel table
/// since: a CPU that goes back to the same task needs no lock). A rollover
/// swaps each to 0, which sends that CPU's next switch the slow way, and
/// keeps the ASID it held.
static ACTIVE: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

impl Allocator {
    fn limit(&mut self) -> u32 {
        if self.limit == 0 {
            self.limit = 1 << mmu::asid_bits();
        }
        self.limit
    }

    fn is_used(&self, asid: u32) -> bool {
        self.used[asid as usize / 64] & (1 << (asid % 64)) != 0
    }

    fn set(&mut self, asid: u32, used: bool) {
        let (w, b) = (asid as usize / 64, 1u64 << (asid % 64));
        if used {
            self.used[w] |= b;
        } else {
            self.used[w] &= !b;
        }
    }

    fn free_asid(&mut self) -> Option<u32> {
        let limit = self.limit();
        let start = self.next.clamp(1, limit - 1);
        (start..limit).chain(1..start).find(|&a| !self.is_used(a))
    }

    /// Begins a new generation, keeping the ASIDs other CPUs run.
    fn rollover(&mut self) {
        self.generation += 1;
        GENERATION.store(self.generation, Ordering::Relaxed);
        self.rollovers += 1;
        self.used = [0; WORDS];
        self.next = 1;
        for (c, active) in ACTIVE.iter().enumerate() {
            let mut keep = active.swap(0, Ordering::Relaxed);
            // A CPU that has not switched since the last rollover still
            // runs what it was given then.
            if keep == 0 {
                keep = self.reserved[c];
            }
            self.reserved[c] = keep;
            if keep != 0 && ((keep & ASID_MASK) as u32) < self.limit() {
                self.set((keep & ASID_MASK) as u32, true);
            }
        }
        // One invalidation for the whole generation, on every CPU.
        tlb::invalidate_all();
    }

    /// A context of the current generation for `old`.
    fn renew(&mut self, old: u64) -> u64 {
        let generation = self.generation;
        if old != 0 {
            let asid = (old & ASID_MASK) as u32;
            // A CPU kept it across the rollover: it stays this table's.
            if self.reserved.contains(&old) {
                for r in &mut self.reserved {
                    if *r == old {
                        *r = generation << 16 | u64::from(asid);
                    }
                }
                return generation << 16 | u64::from(asid);
            }
            // Its old ASID, if nobody took it in this generation.
            if asid < self.limit() && !self.is_used(asid) {
                self.set(asid, true);
                return generation << 16 | u64::from(asid);
            }
        }
        let asid = match self.free_asid() {
            Some(a) => a,
            None => {
                self.rollover();
                self.free_asid().unwrap_or(1)
            }
        };
        self.set(asid, true);
        self.next = asid + 1;
        self.generation << 16 | u64::from(asid)
    }
}

/// The ASID `ctx` (a task table's context) has on CPU `cpu` from now on;
/// gives it one if its generation is past. Call with IRQs masked, on the
/// way to writing TTBR0 with it.
#[inline]
pub fn activate(ctx: &AtomicU64, cpu: usize) -> u16 {
    let c = ctx.load(Ordering::Relaxed);
    // Linux's fast path: a current context, and no rollover since this
    // CPU's last switch (it would have zeroed ACTIVE).
    if c != 0
        && c >> 16 == GENERATION.load(Ordering::Relaxed)
        && ACTIVE[cpu].swap(c, Ordering::Relaxed) != 0
    {
        return (c & ASID_MASK) as u16;
    }
    activate_slow(ctx, cpu)
}

#[cold]
#[inline(never)]
fn activate_slow(ctx: &AtomicU64, cpu: usize) -> u16 {
    let mut a = ASIDS.lock();
    let c = ctx.load(Ordering::Relaxed);
    let c = if c != 0 && c >> 16 == a.generation {
        c
    } else {
        let renewed = a.renew(c);
        ctx.store(renewed, Ordering::Relaxed);
        renewed
    };
    ACTIVE[cpu].store(c, Ordering::Relaxed);
    drop(a);
    // The context reaches every CPU before this one walks a table with
    // it (TTBR0 is written after this returns): a CPU clearing one of the
    // table's entries reads the context after the clear
    // (`TlbBatch::for_context`), so either it invalidates this ASID or
    // this CPU's walks find the entry cleared.
    aarch64_cpu::asm::barrier::dsb(aarch64_cpu::asm::barrier::ISH);
    (c & ASID_MASK) as u16
}

/// The table of `ctx` is gone (its task ended; no CPU runs it): its TLB
/// entries go on every CPU and its ASID is free again.
pub fn release(ctx: &AtomicU64) {
    let c = ctx.swap(0, Ordering::Relaxed);
    if c == 0 {
        return;
    }
    let asid = (c & ASID_MASK) as u16;
    // Whatever its generation: entries tagged with its ASID may be cached.
    tlb::invalidate_asid(asid);
    let mut a = ASIDS.lock();
    for active in &ACTIVE {
        active
            .compare_exchange(c, 0, Ordering::Relaxed, Ordering::Relaxed)
            .ok();
    }
    let current = c >> 16 == a.generation;
    let reserved = a.reserved.contains(&c);
    for r in &mut a.reserved {
        if *r == c {
            *r = 0;
        }
    }
    if current || reserved {
        a.set(u32::from(asid), false);
    }
}

/// What the allocator has done, for tests and reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AsidStats {
    /// The generation now.
    pub generation: u64,
    /// New generations begun (each one TLB invalidation).
    pub rollovers: u64,
    /// ASIDs in use in this generation (0 excluded).
    pub in_use: u32,
    /// How many ASIDs there are (0 included).
    pub limit: u32,
}

/// The allocator's counters.
pub fn stats() -> AsidStats {
    let mut a = ASIDS.lock();
    let limit = a.limit();
    let in_use = (1..limit).filter(|&x| a.is_used(x)).count() as u32;
    AsidStats {
        generation: a.generation,
        rollovers: a.rollovers,
        in_use,
        limit,
    }
}

/// Narrows the ASID space to `limit` ASIDs (0 included; at least 2), or
/// back to the CPU's width with `None`, starting a new generation so no
/// context of the old width survives. For kernel tests only.
pub fn set_limit_for_test(limit: Option<u32>) {
    let mut a = ASIDS.lock();
    let full = 1 << mmu::asid_bits();
    a.limit = limit.map_or(full, |l| l.clamp(2, full));
    a.rollover();
}
