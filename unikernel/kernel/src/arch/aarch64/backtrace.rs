//! Frame-pointer backtraces. The kernel is built with frame pointers
//! (`.cargo/config.toml`), so x29 heads a chain of (previous x29, x30) records.

/// The most frames a backtrace prints.
const MAX_FRAMES: usize = 32;

/// Walks the frame records from `fp`, calling `visit` with each return
/// address, while the records stay inside `stack` (and move up it).
pub fn walk(mut fp: u64, stack: core::ops::Range<u64>, mut visit: impl FnMut(usize, u64)) {
    for depth in 0..MAX_FRAMES {
        let record_fits = fp.checked_add(16).is_some_and(|end| end <= stack.end);
        if !fp.is_multiple_of(16) || fp < stack.start || !record_fits {
            return;
        }
        // SAFETY: `fp` is 16-aligned and the 16-byte record lies inside the
        // stack, which is mapped and readable.
        let (next, lr) = unsafe { (*(fp as *const u64), *((fp + 8) as *const u64)) };
        if lr == 0 {
            return;
        }
        visit(depth, lr);
        if next <= fp {
            return;
        }
        fp = next;
    }
}

/// The caller's frame pointer.
#[inline(always)]
pub fn current_fp() -> u64 {
    let fp: u64;
    // SAFETY: reading x29 has no effect.
    unsafe { core::arch::asm!("mov {}, x29", out(reg) fp, options(nomem, nostack)) };
    fp
}
