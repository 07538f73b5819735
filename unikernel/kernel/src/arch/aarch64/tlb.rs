//! TLB maintenance for the one EL1&0 translation regime, correct on
//! hardware (inner-shareable broadcast, barriers on both sides), not only
//! under TCG, and ready for several CPUs: every invalidation is the `IS`
//! form followed by `DSB ISH`.
//!
//! A batch belongs to one translation table. The kernel's table (ASID 0:
//! its entries are global, and its subtrees are shared by every task's
//! table) invalidates for every ASID (`VAAE1IS`, `VAALE1IS`,
//! `VMALLE1IS`); a task's table (protection domains, `vm::domain`) only
//! for its own ASID (`VAE1IS`, `VALE1IS`, `ASIDE1IS`).

use aarch64_cpu::asm::barrier;
use abi::PAGE_SHIFT;
use core::sync::atomic::{AtomicU64, Ordering};

/// Past this many pages one `TLBI VMALLE1IS` is cheaper than one per page.
pub const RANGE_THRESHOLD: usize = 32;

/// TLB invalidations gathered while page tables change, issued together.
pub struct TlbBatch {
    pages: [(u64, bool); RANGE_THRESHOLD],
    count: usize,
    everything: bool,
    /// A task table's ASID context (`generation << 16 | asid`, see
    /// `asid.rs`), read when the batch is flushed; `None`: the kernel's
    /// table, global entries (every ASID).
    ctx: Option<&'static AtomicU64>,
}

impl TlbBatch {
    /// Nothing to invalidate yet, for the kernel's table (every ASID).
    pub const fn new() -> Self {
        Self {
            pages: [(0, false); RANGE_THRESHOLD],
            count: 0,
            everything: false,
            ctx: None,
        }
    }

    /// Nothing to invalidate yet, for a task's table whose entries carry
    /// the ASID in `ctx`. The ASID is read at [`Self::flush`], after the
    /// entries are cleared: another CPU may give the table a new ASID
    /// (after a rollover) and cache an entry under it until the entry is
    /// gone, so only the ASID read after the clear is sure to be the one
    /// such an entry carries (`asid::activate` makes the new ASID visible
    /// before that CPU walks with it).
    pub const fn for_context(ctx: &'static AtomicU64) -> Self {
        let mut batch = Self::new();
        batch.ctx = Some(ctx);
        batch
    }

    /// A leaf entry for `va` changed; no table page above it went away.
    pub fn leaf(&mut self, va: u64) {
        self.push(va, false);
    }

    /// A table page on the walk for `va` went away: walk caches too.
    pub fn table(&mut self, va: u64) {
        self.push(va, true);
    }

    fn push(&mut self, va: u64, walk: bool) {
        if self.everything {
            return;
        }
        if self.count == RANGE_THRESHOLD {
            self.everything = true;
            return;
        }
        self.pages[self.count] = (va, walk);
        self.count += 1;
    }

    /// Whether anything must be invalidated.
    pub fn is_empty(&self) -> bool {
        self.count == 0 && !self.everything
    }

    /// Issues the invalidations and waits for them to complete everywhere.
    pub fn flush(&mut self) {
        if self.is_empty() {
            return;
        }
        // Make the table writes visible to every walker before invalidating
        // (and before the ASID is read: see `for_context`).
        barrier::dsb(barrier::ISHST);
        // A task's table that never had an ASID (0) has nothing tagged
        // with one: the global forms are correct (and rare).
        let asid = self
            .ctx
            .map_or(0, |ctx| (ctx.load(Ordering::Relaxed) & 0xffff) << 48);
        if self.everything {
            if asid == 0 {
                // SAFETY: TLB invalidation only drops cached translations.
                unsafe { core::arch::asm!("tlbi vmalle1is", options(nostack)) };
            } else {
                // SAFETY: as above.
                unsafe { core::arch::asm!("tlbi aside1is, {}", in(reg) asid, options(nostack)) };
            }
        } else {
            for &(va, walk) in &self.pages[..self.count] {
                let operand = ((va >> PAGE_SHIFT) & ((1 << 44) - 1)) | asid;
                // SAFETY: TLB invalidation only drops cached translations.
                unsafe {
                    match (asid == 0, walk) {
                        (true, true) => {
                            core::arch::asm!("tlbi vaae1is, {}", in(reg) operand, options(nostack))
                        }
                        (true, false) => {
                            core::arch::asm!("tlbi vaale1is, {}", in(reg) operand, options(nostack))
                        }
                        (false, true) => {
                            core::arch::asm!("tlbi vae1is, {}", in(reg) operand, options(nostack))
                        }
                        (false, false) => {
                            core::arch::asm!("tlbi vale1is, {}", in(reg) operand, options(nostack))
                        }
                    }
                }
            }
        }
        barrier::dsb(barrier::ISH);
        barrier::isb(barrier::SY);
        self.count = 0;
        self.everything = false;
    }
}

impl Drop for TlbBatch {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Invalidates every cached translation tagged with `asid` (not 0), on
/// every CPU: its owner ended, or it is about to be given to another.
pub fn invalidate_asid(asid: u16) {
    barrier::dsb(barrier::ISHST);
    let operand = u64::from(asid) << 48;
    // SAFETY: TLB invalidation only drops cached translations.
    unsafe { core::arch::asm!("tlbi aside1is, {}", in(reg) operand, options(nostack)) };
    barrier::dsb(barrier::ISH);
    barrier::isb(barrier::SY);
}

/// Invalidates every cached translation of every ASID on every CPU (a new
/// ASID generation begins).
pub fn invalidate_all() {
    barrier::dsb(barrier::ISHST);
    // SAFETY: TLB invalidation only drops cached translations.
    unsafe { core::arch::asm!("tlbi vmalle1is", options(nostack)) };
    barrier::dsb(barrier::ISH);
    barrier::isb(barrier::SY);
}

/// Invalidates every cached translation on this CPU (used once, when the MMU comes on).
pub fn invalidate_all_local() {
    barrier::dsb(barrier::NSH);
    // SAFETY: TLB invalidation only drops cached translations.
    unsafe { core::arch::asm!("tlbi vmalle1", options(nostack)) };
    barrier::dsb(barrier::NSH);
    barrier::isb(barrier::SY);
}

/// Cache line size for `DC`/`IC` by VA maintenance: the smallest the CPU
/// reports in `CTR_EL0` (DminLine, IminLine).
pub fn cache_lines() -> (u64, u64) {
    let ctr: u64;
    // SAFETY: reading CTR_EL0 has no effect.
    unsafe { core::arch::asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack)) };
    let dline = 4 << ((ctr >> 16) & 0xf);
    let iline = 4 << (ctr & 0xf);
    (dline, iline)
}

/// Makes `[va, va + len)` coherent for instruction fetch after it was
/// written as data: clean the data cache to the point of unification, then
/// invalidate the instruction cache, with the barriers between.
pub fn sync_icache(va: u64, len: u64) {
    let (dline, iline) = cache_lines();
    let end = va + len;
    let mut p = va & !(dline - 1);
    while p < end {
        // SAFETY: cleaning a mapped line to PoU has no visible effect.
        unsafe { core::arch::asm!("dc cvau, {}", in(reg) p, options(nostack)) };
        p += dline;
    }
    barrier::dsb(barrier::ISH);
    let mut p = va & !(iline - 1);
    while p < end {
        // SAFETY: invalidating instruction cache lines has no visible effect.
        unsafe { core::arch::asm!("ic ivau, {}", in(reg) p, options(nostack)) };
        p += iline;
    }
    barrier::dsb(barrier::ISH);
    barrier::isb(barrier::SY);
}
