//! Early boot: the image header and entry in `boot.s`, and the drop from
//! EL2 to EL1 in Rust.

use aarch64_cpu::registers::{
    CNTHCTL_EL2, CNTVOFF_EL2, CPTR_EL2, ELR_EL2, HCR_EL2, ICC_SRE_EL2, MDCR_EL2, SCTLR_EL1,
    SPSR_EL2, SP_EL1,
};
use tock_registers::interfaces::Writeable;

/// Where an arm64 `Image` asks to be placed above a 2 MiB-aligned RAM base.
const TEXT_OFFSET: u64 = 0x8_0000;
/// `Image` header flags: bit 0 clear = little-endian; bits 1–2 = 1: 4 KiB pages.
const IMAGE_FLAGS: u64 = 1 << 1;
/// MPIDR Aff2..Aff0: all zero only on the boot core of our boards.
const AFF_MASK: u64 = 0xff_ffff;

core::arch::global_asm!(
    include_str!("boot.s"),
    TEXT_OFFSET = const TEXT_OFFSET,
    IMAGE_FLAGS = const IMAGE_FLAGS,
    AFF_MASK = const AFF_MASK,
);

/// `SCTLR_EL1` bits that are RES1 (ARM DDI 0487, D19.2.118): EOS, TSCXT,
/// EIS, SPAN, nTLSMD, LSMAOE. Everything else starts clear: MMU and caches
/// off, little-endian, until the MMU code turns them on.
const SCTLR_EL1_RES1: u64 = (1 << 11) | (1 << 20) | (1 << 22) | (1 << 23) | (1 << 28) | (1 << 29);
/// `CPTR_EL2` RES1 bits without VHE: 13:12 and 9:0. TFP, TTA, TCPAC stay
/// clear, so EL1 and EL0 may use FP/SIMD and trace without trapping to EL2.
const CPTR_EL2_RES1: u64 = (0b11 << 12) | 0x3ff;

/// Prepares the return from EL2 to EL1h at `el1_entry` with the current stack.
///
/// Called from `boot.s` with the boot stack set; `boot.s` issues the `eret`.
#[unsafe(no_mangle)]
extern "C" fn el2_to_el1(el1_entry: u64) {
    // EL1 runs AArch64; no stage 2, no traps of EL1 to EL2.
    HCR_EL2.write(HCR_EL2::RW::EL1IsAarch64);
    // EL1 may read the physical counter and use the physical timer; the
    // virtual counter equals the physical one.
    CNTHCTL_EL2.write(CNTHCTL_EL2::EL1PCEN::SET + CNTHCTL_EL2::EL1PCTEN::SET);
    CNTVOFF_EL2.set(0);
    CPTR_EL2.set(CPTR_EL2_RES1);
    // SAFETY: HSTR_EL2 = 0 traps no AArch32 system register accesses; it has
    // no aarch64-cpu binding and writing it has no other effect.
    unsafe { core::arch::asm!("msr hstr_el2, xzr", options(nomem, nostack)) };
    // Performance counters all belong to EL1/EL0; no debug traps to EL2.
    MDCR_EL2.write(MDCR_EL2::HPMN.val(pmu_counter_count()));
    SCTLR_EL1.set(SCTLR_EL1_RES1);
    // Writing ICC_SRE_EL2 traps where the GIC has no system-register
    // interface (GICv2, e.g. the Pi 4's GIC-400).
    if super::gic_sysreg_interface() {
        ICC_SRE_EL2.write(ICC_SRE_EL2::SRE::SET + ICC_SRE_EL2::ENABLE::SET);
    }
    SPSR_EL2.write(
        SPSR_EL2::D::Masked
            + SPSR_EL2::A::Masked
            + SPSR_EL2::I::Masked
            + SPSR_EL2::F::Masked
            + SPSR_EL2::M::EL1h,
    );
    ELR_EL2.set(el1_entry);
    SP_EL1.set(super::current_sp());
}

/// `PMCR_EL0.N`: how many event counters the PMU implements.
fn pmu_counter_count() -> u64 {
    let pmcr: u64;
    // SAFETY: reading PMCR_EL0 at EL2 has no side effects.
    unsafe { core::arch::asm!("mrs {}, pmcr_el0", out(reg) pmcr, options(nomem, nostack)) };
    (pmcr >> 11) & 0x1f
}
