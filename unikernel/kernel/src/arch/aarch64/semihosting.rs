//! Arm semihosting, used only to end a QEMU run with a status
//! (`exit=semihosting`). Without a debugger or `-semihosting`, `hlt` is
//! UNDEFINED, so nothing calls this unless the bootargs ask for it.

/// `SYS_EXIT`.
const SYS_EXIT: u64 = 0x18;
/// `ADP_Stopped_ApplicationExit`: the exit reason that carries a status.
const ADP_STOPPED_APPLICATION_EXIT: u64 = 0x2_0026;

/// Ends the emulator with `status` as its exit code.
pub fn exit(status: u32) -> ! {
    let block: [u64; 2] = [ADP_STOPPED_APPLICATION_EXIT, u64::from(status)];
    // SAFETY: the semihosting call reads the two-word block and does not
    // return when the host honours it.
    unsafe {
        core::arch::asm!(
            "hlt #0xf000",
            in("x0") SYS_EXIT,
            in("x1") block.as_ptr(),
            options(nostack, readonly),
        );
    }
    super::halt()
}
