//! Early boot: the image header and entry in `boot.s`, the drop from EL2
//! to EL1, and the EL1 system registers the kernel relies on, set the same
//! way on every entry path (entered at EL1 or dropped from EL2), never left
//! at whatever the loader or the reset left.

use aarch64_cpu::registers::{
    CNTFRQ_EL0, CNTHCTL_EL2, CNTKCTL_EL1, CNTP_CTL_EL0, CNTVOFF_EL2, CNTV_CTL_EL0, CPACR_EL1,
    CPTR_EL2, ELR_EL2, HCR_EL2, ICC_SRE_EL2, MDCR_EL2, MDSCR_EL1, SCTLR_EL1, SPSR_EL2, SP_EL1,
};
use tock_registers::interfaces::{ReadWriteable, Readable, Writeable};
use tock_registers::registers::InMemoryRegister;

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
    START = sym super::smp::START,
    SLOT_MPIDR = const super::smp::layout::SLOT_MPIDR,
    SLOT_ROOT = const super::smp::layout::SLOT_ROOT,
    SLOT_STACK = const super::smp::layout::SLOT_STACK,
    SLOT_BOOT_STACK_TOP = const super::smp::layout::SLOT_BOOT_STACK_TOP,
    SLOT_SIZE = const super::smp::layout::SLOT_SIZE,
    MAX_CPUS = const super::context::MAX_CPUS,
    MPIDR_AFF = const super::smp::MPIDR_AFF,
);

/// `SCTLR_EL1` bits that are RES1 on an Armv8.0 core (ARM DDI 0487,
/// D19.2.118): EOS, TSCXT, EIS, SPAN, nTLSMD, LSMAOE — on later cores the
/// features behind them, and 1 is their Armv8.0 behaviour.
const SCTLR_EL1_RES1: u64 = (1 << 11) | (1 << 20) | (1 << 22) | (1 << 23) | (1 << 28) | (1 << 29);

/// `SCTLR_EL1` before the MMU is on: little-endian at EL1 and EL0, MMU,
/// caches and alignment checks off, and what EL0 may do fixed here, the
/// same on every board (the EL0 `el0_cpu` suite checks each):
/// - `SA`, `SA0`: a misaligned SP faults (EL1 and EL0);
/// - `A` clear: unaligned loads and stores to normal memory work;
/// - `nTWE` set: `WFE` runs (spin-wait hints cost nothing to allow);
/// - `nTWI` clear: `WFI` traps, ending the task (idling the CPU is the
///   scheduler's job);
/// - `DZE`, `UCT`, `UCI`: `DC ZVA`, `CTR_EL0` and the cache maintenance a
///   task may need for code it writes (`DC CVAU`, `IC IVAU`, …) are allowed,
///   subject to the page's permissions, as on Linux;
/// - `UMA` clear: EL0 cannot mask interrupts; `WXN` clear.
pub fn sctlr_el1_mmu_off() -> u64 {
    let r: InMemoryRegister<u64, SCTLR_EL1::Register> = InMemoryRegister::new(SCTLR_EL1_RES1);
    r.modify(
        SCTLR_EL1::SA::Enable
            + SCTLR_EL1::SA0::Enable
            + SCTLR_EL1::NTWE::DontTrap
            + SCTLR_EL1::NTWI::Trap
            + SCTLR_EL1::DZE::DontTrap
            + SCTLR_EL1::UCT::DontTrap
            + SCTLR_EL1::UCI::DontTrap
            + SCTLR_EL1::UMA::Trap
            + SCTLR_EL1::EE::LittleEndian
            + SCTLR_EL1::E0E::LittleEndian
            + SCTLR_EL1::A::Disable
            + SCTLR_EL1::WXN::Disable,
    );
    r.get()
}

/// `SCTLR_EL1` once the MMU is on: [`sctlr_el1_mmu_off`] with translation
/// and the data and instruction caches enabled.
pub fn sctlr_el1_mmu_on() -> u64 {
    let r: InMemoryRegister<u64, SCTLR_EL1::Register> = InMemoryRegister::new(sctlr_el1_mmu_off());
    r.modify(SCTLR_EL1::M::Enable + SCTLR_EL1::C::Cacheable + SCTLR_EL1::I::Cacheable);
    r.get()
}

/// `CNTKCTL_EL1`: EL0 reads the virtual counter (`CNTVCT_EL0`, and so
/// `CNTFRQ_EL0`); the physical counter and both timers' registers trap.
/// The event stream is on, at about 10 kHz or slower (an event each time
/// counter bit `EVNTI` rises: every 2^(EVNTI+1) ticks, 131 µs at QEMU's
/// 62.5 MHz and 152 µs at the Pi's 54 MHz; `EVNTI` stops at 15, so a
/// 1 GHz counter, `-cpu max`'s, gets 65.5 µs), so a `WFE` wait for a
/// lock (`arch::wait_while_set`) always ends, as Linux arranges too.
pub fn cntkctl_el1() -> u64 {
    // Bit `i` rises every 2^(i+1) ticks: the shortest such period that is
    // at least frequency / 10 kHz ticks.
    let ticks = (CNTFRQ_EL0.get() / EVENT_STREAM_HZ).max(1);
    let evnti = u64::from(ticks.ilog2().min(15));
    let r: InMemoryRegister<u64, CNTKCTL_EL1::Register> = InMemoryRegister::new(0);
    r.write(
        CNTKCTL_EL1::EL0VCTEN::SET
            + CNTKCTL_EL1::EL0PCTEN::CLEAR
            + CNTKCTL_EL1::EL0VTEN::CLEAR
            + CNTKCTL_EL1::EL0PTEN::CLEAR
            + CNTKCTL_EL1::EVNTEN::SET
            + CNTKCTL_EL1::EVNTDIR::CLEAR
            + CNTKCTL_EL1::EVNTI.val(evnti),
    );
    r.get()
}

/// The event stream's highest rate.
const EVENT_STREAM_HZ: u64 = 10_000;

/// Sets every EL1 (and EL0-visible) system register the kernel relies on,
/// the same way whichever EL the kernel was entered at. Called by `boot.s`
/// on the boot stack, MMU and caches off, interrupts masked, before
/// `kernel_entry`. Lock-free, like everything before the MMU is on.
#[unsafe(no_mangle)]
extern "C" fn el1_setup() {
    SCTLR_EL1.set(sctlr_el1_mmu_off());
    // FP/SIMD untrapped at EL1 and EL0 (tasks use NEON; the kernel is
    // soft-float but saves task state).
    CPACR_EL1.write(CPACR_EL1::FPEN::TrapNothing);
    CNTKCTL_EL1.set(cntkctl_el1());
    // No debug exceptions, no single step, EL0 cannot reach the debug
    // communications channel.
    MDSCR_EL1.write(MDSCR_EL1::TDCC::SET);
    // SAFETY: PMUSERENR_EL0 = 0 traps every EL0 access to the performance
    // monitors; aarch64-cpu has no binding and writing it has no other effect.
    unsafe { core::arch::asm!("msr pmuserenr_el0, xzr", options(nomem, nostack)) };
    // Timers off and masked until the timer driver arms one: the loader
    // may have left one running.
    CNTV_CTL_EL0.set(0);
    CNTP_CTL_EL0.set(0);
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
}
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
    SCTLR_EL1.set(sctlr_el1_mmu_off());
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
