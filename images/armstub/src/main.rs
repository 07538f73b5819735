//! The boot stub of the `virt-secure` QEMU configuration: QEMU's `virt`
//! with the GIC's Security Extensions, entered at secure EL3, made to look
//! to the kernel as a Raspberry Pi 4 does after its firmware's `armstub8`:
//! every interrupt non-secure Group 1, the kernel entered at non-secure EL2
//! with the device tree in `x0`. The code is `armstub.s`; the numbers are
//! here. QEMU loads this ELF with `-kernel` and the kernel's raw image with
//! `-device loader` at [`IMAGE_LOAD`] (vmm-tests' `qemu.rs` says the same).

#![no_std]
#![no_main]

use core::arch::global_asm;

/// QEMU virt's RAM base; it puts the device tree here for an ELF `-kernel`.
const RAM_BASE: u64 = 0x4000_0000;
/// Where the harness has QEMU load the kernel's raw image (RAM + 64 MiB).
pub const IMAGE_LOAD: u64 = RAM_BASE + (64 << 20);
/// Where the device tree goes (RAM + 128 MiB, where QEMU's own direct boot
/// of a 256 MiB machine puts it too).
const DTB_HOME: u64 = RAM_BASE + (128 << 20);
/// QEMU virt's GICv2 distributor and CPU interface.
const GICD: u64 = 0x0800_0000;
const GICC: u64 = 0x0801_0000;
/// QEMU's generic timer with `-cpu cortex-a72`: 62.5 MHz. The Pi's stub
/// writes its board's crystal (54 MHz) here the same way.
const CNTFRQ: u64 = 62_500_000;

/// SCR_EL3 as the Pi's stub sets it: RW (EL2 is AArch64), HCE, SMD,
/// the RES1 bits 5:4, NS.
const SCR: u64 = (1 << 10) | (1 << 8) | (1 << 7) | (1 << 5) | (1 << 4) | 1;
/// SPSR_EL3 for the drop: D, A, I, F masked, EL2h.
const SPSR: u64 = (0b1111 << 6) | 0b1001;
/// SCTLR_EL2 as the Pi's stub sets it: RES1 bits only (little-endian,
/// MMU, caches and alignment checks off).
const SCTLR_EL2: u64 = 0x30c5_0830;
/// GICC_CTLR (secure view) as the Pi's stub sets it: both groups enabled,
/// AckCtl, and the bypass-disable bits.
const GICC_CTLR_VAL: u64 = 0x1e7;

global_asm!(
    include_str!("armstub.s"),
    CNTFRQ = const CNTFRQ,
    SCR = const SCR,
    GICD = const GICD,
    GICC = const GICC,
    GICD_CTLR = const 0x000,
    GICD_TYPER = const 0x004,
    TYPER_ITLINES = const 0x1f,
    GICD_IGROUPR = const 0x080,
    GICC_CTLR = const 0x000,
    GICC_PMR = const 0x004,
    GICC_CTLR_VAL = const GICC_CTLR_VAL,
    MPIDR_AFF_MASK = const 0xff_ffff,
    RAM_BASE = const RAM_BASE,
    FDT_MAGIC = const 0xd00d_feed_u32,
    DTB_HOME = const DTB_HOME,
    IMAGE_LOAD = const IMAGE_LOAD,
    IMAGE_MAGIC = const 0x644d_5241_u32, // "ARM\x64", little-endian
    SCTLR_EL2_VAL = const SCTLR_EL2,
    SPSR_VAL = const SPSR,
);

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // No Rust code runs: the stub is all assembly.
    loop {
        core::hint::spin_loop();
    }
}
