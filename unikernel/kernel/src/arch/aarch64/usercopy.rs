//! Copies between kernel buffers and task memory that survive a fault: the
//! copy loop's instructions are known (`user_copy` … `user_copy_end`), and
//! a fault inside them that the VM cannot resolve returns failure from the
//! copy instead of being fatal (the exception handler moves ELR to
//! `user_copy_fault`). Callers check the range belongs to the task first.
//!
//! Copies of [`SIMD_MIN`] bytes or more move 128 bytes per iteration in
//! `q` registers, saved on the stack around the loop (the kernel is
//! soft-float: they hold the running thread's values); a fault there
//! resumes at `user_copy_simd_fault`, which restores them before failing.

core::arch::global_asm!(
    ".section .text.user_copy, \"ax\"",
    ".arch_extension fp",
    ".arch_extension simd",
    ".global user_copy",
    ".global user_copy_end",
    ".global user_copy_fault",
    ".global user_copy_simd",
    ".global user_copy_simd_end",
    ".global user_copy_simd_fault",
    // x0 = dst, x1 = src, x2 = len; returns 0, or 1 after a fault.
    "user_copy:",
    // One aligned word or doubleword (a syscall's out-parameter): one
    // load and one store instead of the byte loop.
    "    cmp     x2, #4",
    "    b.eq    10f",
    "    cmp     x2, #8",
    "    b.eq    11f",
    "    cmp     x2, #{SIMD_MIN}",
    "    b.hs    7f",
    "8:  cmp     x2, #64",
    "    b.lo    5f",
    // 64 bytes per iteration: X-register pairs.
    "6:  ldp     x3, x4, [x1, #0]",
    "    ldp     x5, x6, [x1, #16]",
    "    ldp     x7, x8, [x1, #32]",
    "    ldp     x9, x10, [x1, #48]",
    "    stp     x3, x4, [x0, #0]",
    "    stp     x5, x6, [x0, #16]",
    "    stp     x7, x8, [x0, #32]",
    "    stp     x9, x10, [x0, #48]",
    "    add     x1, x1, #64",
    "    add     x0, x0, #64",
    "    sub     x2, x2, #64",
    "    cmp     x2, #64",
    "    b.hs    6b",
    "5:  cmp     x2, #16",
    "    b.lo    2f",
    "1:  ldp     x3, x4, [x1], #16",
    "    stp     x3, x4, [x0], #16",
    "    sub     x2, x2, #16",
    "    cmp     x2, #16",
    "    b.hs    1b",
    "2:  cbz     x2, 4f",
    "3:  ldrb    w3, [x1], #1",
    "    strb    w3, [x0], #1",
    "    subs    x2, x2, #1",
    "    b.ne    3b",
    "4:  mov     x0, #0",
    "    ret",
    "10: orr     x3, x0, x1",
    "    tst     x3, #3",
    "    b.ne    8b",
    "    ldr     w3, [x1]",
    "    str     w3, [x0]",
    "    mov     x0, #0",
    "    ret",
    "11: orr     x3, x0, x1",
    "    tst     x3, #7",
    "    b.ne    8b",
    "    ldr     x3, [x1]",
    "    str     x3, [x0]",
    "    mov     x0, #0",
    "    ret",
    // Large copies: 128 bytes per iteration in v0–v7, which hold the
    // running thread's values (the kernel is soft-float): saved on the
    // stack first, restored before the X-register tail (or after a fault).
    "7:  sub     sp, sp, #128",
    "    mov     x3, sp",
    "    st1     {{v0.16b, v1.16b, v2.16b, v3.16b}}, [x3], #64",
    "    st1     {{v4.16b, v5.16b, v6.16b, v7.16b}}, [x3]",
    "user_copy_simd:",
    "9:  ld1     {{v0.16b, v1.16b, v2.16b, v3.16b}}, [x1], #64",
    "    ld1     {{v4.16b, v5.16b, v6.16b, v7.16b}}, [x1], #64",
    "    st1     {{v0.16b, v1.16b, v2.16b, v3.16b}}, [x0], #64",
    "    st1     {{v4.16b, v5.16b, v6.16b, v7.16b}}, [x0], #64",
    "    sub     x2, x2, #128",
    "    cmp     x2, #128",
    "    b.hs    9b",
    "user_copy_simd_end:",
    "    mov     x3, sp",
    "    ld1     {{v0.16b, v1.16b, v2.16b, v3.16b}}, [x3], #64",
    "    ld1     {{v4.16b, v5.16b, v6.16b, v7.16b}}, [x3]",
    "    add     sp, sp, #128",
    "    b       8b",
    "user_copy_end:",
    "user_copy_fault:",
    "    mov     x0, #1",
    "    ret",
    "user_copy_simd_fault:",
    "    mov     x3, sp",
    "    ld1     {{v0.16b, v1.16b, v2.16b, v3.16b}}, [x3], #64",
    "    ld1     {{v4.16b, v5.16b, v6.16b, v7.16b}}, [x3]",
    "    add     sp, sp, #128",
    "    mov     x0, #1",
    "    ret",
    SIMD_MIN = const SIMD_MIN,
);

/// Copies of at least this many bytes move their bulk through `q`
/// registers (saving and restoring eight costs 6 instructions).
pub const SIMD_MIN: usize = 256;

unsafe extern "C" {
    fn user_copy(dst: *mut u8, src: *const u8, len: usize) -> u64;
    static user_copy_end: u8;
    static user_copy_fault: u8;
    static user_copy_simd: u8;
    static user_copy_simd_end: u8;
    static user_copy_simd_fault: u8;
}

/// Where a fault in the copy loop resumes, if `elr` lies in it: in the
/// `q`-register loop, where the saved registers are restored first.
pub fn fixup(elr: u64) -> Option<u64> {
    let simd = &raw const user_copy_simd as u64..&raw const user_copy_simd_end as u64;
    if simd.contains(&elr) {
        return Some(&raw const user_copy_simd_fault as u64);
    }
    let start = user_copy as *const () as u64;
    let end = &raw const user_copy_end as u64;
    (start..end)
        .contains(&elr)
        .then_some(&raw const user_copy_fault as u64)
}

/// Copies `len` bytes from `src` to `dst`, either of which may be task
/// memory; `false` if a fault could not be resolved (part may be copied).
/// Also the kernel's bulk copy between its own buffers (faster than the
/// soft-float `memcpy`), where no fault can happen.
///
/// # Safety
/// The kernel side must be valid for the access; the task side must have
/// been checked to lie in memory the task may have the kernel touch (its
/// own sub-VMAR, or the EL0 image's read-only part for reads).
pub unsafe fn copy(dst: *mut u8, src: *const u8, len: usize) -> bool {
    // SAFETY: forwarded; faults on the task side are recovered.
    unsafe { user_copy(dst, src, len) == 0 }
}
