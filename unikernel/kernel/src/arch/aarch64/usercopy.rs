//! Copies between kernel buffers and task memory that survive a fault: the
//! copy loop's instructions are known (`user_copy` … `user_copy_end`), and
//! a fault inside them that the VM cannot resolve returns failure from the
//! copy instead of being fatal (the exception handler moves ELR to
//! `user_copy_fault`). Callers check the range belongs to the task first.

core::arch::global_asm!(
    ".section .text.user_copy, \"ax\"",
    ".global user_copy",
    ".global user_copy_end",
    ".global user_copy_fault",
    // x0 = dst, x1 = src, x2 = len; returns 0, or 1 after a fault.
    "user_copy:",
    "    cmp     x2, #64",
    "    b.lo    5f",
    // 64 bytes per iteration: X-register pairs (the kernel is soft-float).
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
    "user_copy_end:",
    "user_copy_fault:",
    "    mov     x0, #1",
    "    ret",
);

unsafe extern "C" {
    fn user_copy(dst: *mut u8, src: *const u8, len: usize) -> u64;
    static user_copy_end: u8;
    static user_copy_fault: u8;
}

/// Where a fault in the copy loop resumes, if `elr` lies in it.
pub fn fixup(elr: u64) -> Option<u64> {
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
