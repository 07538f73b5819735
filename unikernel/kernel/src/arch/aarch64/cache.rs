//! Data and instruction cache maintenance by virtual address, for
//! `zx_vmo_op_range`'s cache ops: `DC CVAC` (clean to the point of
//! coherency), `DC CIVAC` (clean and invalidate to it), and `DC CVAU` +
//! `IC IVAU` (make instruction fetches see data). Lines are stepped by the
//! smallest line size `CTR_EL0` reports, so no line of the range is missed
//! on a core whose caches use larger lines.
//!
//! There is no invalidate without clean here (`DC IVAC`): every task page is
//! also in the kernel's linear map, and the kernel writes pages through it
//! (zero fill, copy-on-write copies, `vmo_write`). Dropping a dirty line
//! would lose those writes and show the task what the frame held before —
//! another task's or the kernel's freed data. `ZX_VMO_OP_CACHE_INVALIDATE`
//! is therefore done as clean and invalidate: afterwards the range is in no
//! cache and memory holds its latest data, which is all an invalidate
//! promises while no device writes these pages behind the caches (nothing
//! does: task VMOs are normal write-back memory, never DMA targets). Arm's
//! own virtualization makes the same choice, turning a guest's `DC IVAC`
//! into a clean and invalidate when stage-2 translation is on.

use aarch64_cpu::asm::barrier;
use object::CacheOp;

/// The smallest data and instruction cache line sizes, from `CTR_EL0`
/// (DminLine, bits 19:16; IminLine, bits 3:0; each log2 of words).
pub fn line_sizes() -> (u64, u64) {
    let ctr: u64;
    // SAFETY: reading CTR_EL0 has no effect.
    unsafe { core::arch::asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack)) };
    (4 << ((ctr >> 16) & 0xf), 4 << (ctr & 0xf))
}

/// Runs `one` on every line of `line` bytes that `[va, va + len)` touches.
#[inline(always)]
pub fn each_line(va: u64, len: u64, line: u64, one: impl Fn(u64)) {
    let end = va + len;
    let mut p = va & !(line - 1);
    while p < end {
        one(p);
        p += line;
    }
}

/// Performs `op` on `[va, va + len)`, which must be mapped normal memory
/// (the linear map's alias of a task page), and waits for it to complete.
pub fn maintain(op: CacheOp, va: u64, len: u64) {
    if len == 0 {
        return;
    }
    let (dline, iline) = line_sizes();
    match op {
        CacheOp::Clean => each_line(va, len, dline, |p| {
            // SAFETY: a clean writes dirty data back; contents are unchanged.
            unsafe { core::arch::asm!("dc cvac, {}", in(reg) p, options(nostack)) };
        }),
        CacheOp::Invalidate | CacheOp::CleanInvalidate => each_line(va, len, dline, |p| {
            // SAFETY: clean and invalidate writes dirty data back before
            // dropping the line; contents are unchanged (see the module doc).
            unsafe { core::arch::asm!("dc civac, {}", in(reg) p, options(nostack)) };
        }),
        CacheOp::Sync => {
            each_line(va, len, dline, |p| {
                // SAFETY: cleaning to the point of unification leaves contents unchanged.
                unsafe { core::arch::asm!("dc cvau, {}", in(reg) p, options(nostack)) };
            });
            barrier::dsb(barrier::ISH);
            each_line(va, len, iline, |p| {
                // SAFETY: invalidating instruction cache lines has no visible effect.
                unsafe { core::arch::asm!("ic ivau, {}", in(reg) p, options(nostack)) };
            });
        }
    }
    // Complete before the call returns: to the point of unification every
    // core of the inner-shareable domain sees; to the point of coherency,
    // for every observer of memory (a full-system barrier, as Linux uses).
    match op {
        CacheOp::Sync => barrier::dsb(barrier::ISH),
        _ => barrier::dsb(barrier::SY),
    }
    barrier::isb(barrier::SY);
}
