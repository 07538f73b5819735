//! Whole-page copy and zero, the kernel's floors for copy-on-write and
//! zero-fill faults. The kernel is soft-float, so the copy moves 16 bytes
//! per instruction with X-register pairs, 256 bytes per loop iteration; the
//! zero uses `DC ZVA` (a cache block per instruction) where the CPU allows
//! it, else `STP XZR` pairs.

use core::sync::atomic::Ordering;

/// Bytes in a page.
pub const PAGE: usize = 4096;

core::arch::global_asm!(
    ".section .text.page_ops, \"ax\"",
    ".global page_copy",
    // x0 = dst, x1 = src, both page-aligned: 16 iterations of 256 bytes.
    "page_copy:",
    "    mov     x2, #16",
    "1:  ldp     x3, x4, [x1, #0]",
    "    ldp     x5, x6, [x1, #16]",
    "    ldp     x7, x8, [x1, #32]",
    "    ldp     x9, x10, [x1, #48]",
    "    stp     x3, x4, [x0, #0]",
    "    stp     x5, x6, [x0, #16]",
    "    stp     x7, x8, [x0, #32]",
    "    stp     x9, x10, [x0, #48]",
    "    ldp     x3, x4, [x1, #64]",
    "    ldp     x5, x6, [x1, #80]",
    "    ldp     x7, x8, [x1, #96]",
    "    ldp     x9, x10, [x1, #112]",
    "    stp     x3, x4, [x0, #64]",
    "    stp     x5, x6, [x0, #80]",
    "    stp     x7, x8, [x0, #96]",
    "    stp     x9, x10, [x0, #112]",
    "    ldp     x3, x4, [x1, #128]",
    "    ldp     x5, x6, [x1, #144]",
    "    ldp     x7, x8, [x1, #160]",
    "    ldp     x9, x10, [x1, #176]",
    "    stp     x3, x4, [x0, #128]",
    "    stp     x5, x6, [x0, #144]",
    "    stp     x7, x8, [x0, #160]",
    "    stp     x9, x10, [x0, #176]",
    "    ldp     x3, x4, [x1, #192]",
    "    ldp     x5, x6, [x1, #208]",
    "    ldp     x7, x8, [x1, #224]",
    "    ldp     x9, x10, [x1, #240]",
    "    stp     x3, x4, [x0, #192]",
    "    stp     x5, x6, [x0, #208]",
    "    stp     x7, x8, [x0, #224]",
    "    stp     x9, x10, [x0, #240]",
    "    add     x0, x0, #256",
    "    add     x1, x1, #256",
    "    subs    x2, x2, #1",
    "    b.ne    1b",
    "    ret",
    ".global page_zero_dczva",
    // x0 = page, x1 = DC ZVA block size in bytes.
    "page_zero_dczva:",
    "    add     x2, x0, #4096",
    "2:  dc      zva, x0",
    "    add     x0, x0, x1",
    "    cmp     x0, x2",
    "    b.lo    2b",
    "    ret",
    ".global page_zero_stp",
    "page_zero_stp:",
    "    mov     x2, #16",
    "3:  stp     xzr, xzr, [x0, #0]",
    "    stp     xzr, xzr, [x0, #16]",
    "    stp     xzr, xzr, [x0, #32]",
    "    stp     xzr, xzr, [x0, #48]",
    "    stp     xzr, xzr, [x0, #64]",
    "    stp     xzr, xzr, [x0, #80]",
    "    stp     xzr, xzr, [x0, #96]",
    "    stp     xzr, xzr, [x0, #112]",
    "    stp     xzr, xzr, [x0, #128]",
    "    stp     xzr, xzr, [x0, #144]",
    "    stp     xzr, xzr, [x0, #160]",
    "    stp     xzr, xzr, [x0, #176]",
    "    stp     xzr, xzr, [x0, #192]",
    "    stp     xzr, xzr, [x0, #208]",
    "    stp     xzr, xzr, [x0, #224]",
    "    stp     xzr, xzr, [x0, #240]",
    "    add     x0, x0, #256",
    "    subs    x2, x2, #1",
    "    b.ne    3b",
    "    ret",
);

unsafe extern "C" {
    fn page_copy(dst: *mut u8, src: *const u8);
    fn page_zero_dczva(page: *mut u8, block: usize);
    fn page_zero_stp(page: *mut u8);
}

/// Copies the page at `src` to the page at `dst`.
///
/// # Safety
/// Both must be distinct, page-aligned, mapped pages of normal memory; the
/// caller owns `dst`.
pub unsafe fn copy(dst: *mut u8, src: *const u8) {
    debug_assert!((dst as usize).is_multiple_of(PAGE) && (src as usize).is_multiple_of(PAGE));
    // SAFETY: forwarded.
    unsafe { page_copy(dst, src) }
}

/// `DCZID_EL0.DZP`: `DC ZVA` is prohibited.
const DCZID_DZP: u64 = 1 << 4;
/// `DCZID_EL0.BS`: log2 of the block size in 4-byte words.
const DCZID_BS_MASK: u64 = 0xf;

/// The `DC ZVA` block size in bytes, if `DC ZVA` may be used: only on
/// normal memory, so only once the MMU is on.
fn dczva_block() -> Option<usize> {
    if !super::mmu::ENABLED.load(Ordering::Relaxed) {
        return None;
    }
    let dczid: u64;
    // SAFETY: reading DCZID_EL0 has no effect (aarch64-cpu does not name it).
    unsafe { core::arch::asm!("mrs {}, dczid_el0", out(reg) dczid, options(nomem, nostack)) };
    (dczid & DCZID_DZP == 0).then(|| 4usize << (dczid & DCZID_BS_MASK))
}

/// Zeroes the page at `page`.
///
/// # Safety
/// `page` must be a page-aligned, mapped page of normal memory the caller owns.
pub unsafe fn zero(page: *mut u8) {
    debug_assert!((page as usize).is_multiple_of(PAGE));
    match dczva_block() {
        // SAFETY: forwarded; the block divides the page.
        Some(block) if block <= PAGE => unsafe { page_zero_dczva(page, block) },
        // SAFETY: forwarded.
        _ => unsafe { page_zero_stp(page) },
    }
}
