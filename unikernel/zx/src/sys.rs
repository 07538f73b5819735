//! Raw syscalls: `svc #0`, number in `x16`, arguments in `x0`–`x7`, the
//! result in `x0` (a status, or a value for calls that return one).

use abi::Syscall;

/// Issues syscall `n` with up to eight arguments; returns `x0`.
///
/// # Safety
/// Pointer arguments must be what the syscall expects; the kernel checks
/// them, but the caller's own memory may be written through them.
#[inline(always)]
pub unsafe fn call(n: Syscall, a: [u64; 8]) -> u64 {
    // SAFETY: forwarded.
    unsafe { call_raw(n.number(), a) }
}

/// Issues syscall `n` and reads its result as a status.
///
/// # Safety
/// As for [`call`].
#[inline(always)]
pub unsafe fn status(n: Syscall, a: [u64; 8]) -> abi::Status {
    // SAFETY: forwarded.
    abi::Status(unsafe { call(n, a) } as i32)
}

/// Issues a raw syscall number (for tests of unknown numbers and the fuzzer).
///
/// # Safety
/// As for [`call`].
#[inline(always)]
pub unsafe fn call_raw(n: u64, a: [u64; 8]) -> u64 {
    let ret: u64;
    // SAFETY: `svc` enters the kernel, which preserves every register but
    // x0 (the result) per our ABI; the caller vouches for the arguments.
    unsafe {
        core::arch::asm!(
            "svc #0",
            inlateout("x0") a[0] => ret,
            in("x1") a[1], in("x2") a[2], in("x3") a[3],
            in("x4") a[4], in("x5") a[5], in("x6") a[6], in("x7") a[7],
            in("x16") n,
            options(nostack),
        );
    }
    ret
}
