//! Whole-page copy and zero, the kernel's floors for copy-on-write and
//! zero-fill faults. The copy moves 64 bytes per instruction with `LD1`/
//! `ST1` of four `q` registers; the kernel is soft-float, so the eight it
//! uses still hold the running thread's values and are saved and restored
//! around the copy (DESIGN.md, "Floating point"). The zero uses `DC ZVA`
//! (a cache block per instruction, the block size from `DCZID_EL0`) where
//! the CPU allows it (`DCZID_EL0.DZP` clear), else `STP XZR` pairs.

use abi::PAGE_SIZE;
use core::sync::atomic::Ordering;

/// Bytes in a page, as an address width.
const PAGE: usize = PAGE_SIZE as usize;

core::arch::global_asm!(
    ".section .text.page_ops, \"ax\"",
    ".arch_extension fp",
    ".arch_extension simd",
    ".global page_copy",
    // x0 = dst, x1 = src, both page-aligned. The kernel is soft-float, so
    // v0–v7 hold the running thread's (EL0) values: they are saved on the
    // stack first and restored last. 64 bytes per LD1/ST1 of four
    // registers, 512 bytes per iteration, PAGE_SIZE / 512 iterations.
    "page_copy:",
    "    sub     sp, sp, #128",
    "    mov     x3, sp",
    "    st1     {{v0.16b, v1.16b, v2.16b, v3.16b}}, [x3], #64",
    "    st1     {{v4.16b, v5.16b, v6.16b, v7.16b}}, [x3]",
    "    mov     x2, #{COPY_ITERATIONS}",
    "1:  ld1     {{v0.16b, v1.16b, v2.16b, v3.16b}}, [x1], #64",
    "    ld1     {{v4.16b, v5.16b, v6.16b, v7.16b}}, [x1], #64",
    "    st1     {{v0.16b, v1.16b, v2.16b, v3.16b}}, [x0], #64",
    "    st1     {{v4.16b, v5.16b, v6.16b, v7.16b}}, [x0], #64",
    "    ld1     {{v0.16b, v1.16b, v2.16b, v3.16b}}, [x1], #64",
    "    ld1     {{v4.16b, v5.16b, v6.16b, v7.16b}}, [x1], #64",
    "    st1     {{v0.16b, v1.16b, v2.16b, v3.16b}}, [x0], #64",
    "    st1     {{v4.16b, v5.16b, v6.16b, v7.16b}}, [x0], #64",
    "    ld1     {{v0.16b, v1.16b, v2.16b, v3.16b}}, [x1], #64",
    "    ld1     {{v4.16b, v5.16b, v6.16b, v7.16b}}, [x1], #64",
    "    st1     {{v0.16b, v1.16b, v2.16b, v3.16b}}, [x0], #64",
    "    st1     {{v4.16b, v5.16b, v6.16b, v7.16b}}, [x0], #64",
    "    ld1     {{v0.16b, v1.16b, v2.16b, v3.16b}}, [x1], #64",
    "    ld1     {{v4.16b, v5.16b, v6.16b, v7.16b}}, [x1], #64",
    "    st1     {{v0.16b, v1.16b, v2.16b, v3.16b}}, [x0], #64",
    "    st1     {{v4.16b, v5.16b, v6.16b, v7.16b}}, [x0], #64",
    "    subs    x2, x2, #1",
    "    b.ne    1b",
    "    mov     x3, sp",
    "    ld1     {{v0.16b, v1.16b, v2.16b, v3.16b}}, [x3], #64",
    "    ld1     {{v4.16b, v5.16b, v6.16b, v7.16b}}, [x3]",
    "    add     sp, sp, #128",
    "    ret",
    ".global page_zero_dczva",
    // x0 = page, x1 = DC ZVA block size in bytes (a power of two, at most
    // 512): eight blocks per iteration, two instructions per block.
    "page_zero_dczva:",
    "    add     x2, x0, #{PAGE}",
    "2:  dc      zva, x0",
    "    add     x0, x0, x1",
    "    dc      zva, x0",
    "    add     x0, x0, x1",
    "    dc      zva, x0",
    "    add     x0, x0, x1",
    "    dc      zva, x0",
    "    add     x0, x0, x1",
    "    dc      zva, x0",
    "    add     x0, x0, x1",
    "    dc      zva, x0",
    "    add     x0, x0, x1",
    "    dc      zva, x0",
    "    add     x0, x0, x1",
    "    dc      zva, x0",
    "    add     x0, x0, x1",
    "    cmp     x0, x2",
    "    b.lo    2b",
    "    ret",
    ".global page_zero_dczva_large",
    // The same for blocks of 1 KiB or 2 KiB (the architecture allows them):
    // one block per iteration.
    "page_zero_dczva_large:",
    "    add     x2, x0, #{PAGE}",
    "4:  dc      zva, x0",
    "    add     x0, x0, x1",
    "    cmp     x0, x2",
    "    b.lo    4b",
    "    ret",
    ".global page_zero_stp",
    "page_zero_stp:",
    "    mov     x2, #{STP_ITERATIONS}",
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
    PAGE = const PAGE_SIZE,
    COPY_ITERATIONS = const PAGE_SIZE / 512,
    STP_ITERATIONS = const PAGE_SIZE / 256,
);

unsafe extern "C" {
    fn page_copy(dst: *mut u8, src: *const u8);
    fn page_zero_dczva(page: *mut u8, block: usize);
    fn page_zero_dczva_large(page: *mut u8, block: usize);
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
        // SAFETY: forwarded; eight blocks divide the page.
        Some(block) if block <= PAGE / 8 => unsafe { page_zero_dczva(page, block) },
        // SAFETY: forwarded; the block divides the page.
        Some(block) if block <= PAGE => unsafe { page_zero_dczva_large(page, block) },
        // SAFETY: forwarded.
        _ => unsafe { page_zero_stp(page) },
    }
}
