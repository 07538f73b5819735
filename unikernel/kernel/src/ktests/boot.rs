//! Boot: exception level, the EL2 drop, the image header, the vectors.

use crate::arch;
use crate::ktest::{Failure, Suite, TestResult};
use crate::{boot_info, check, check_eq, layout, tests};
use aarch64_cpu::registers::{
    CNTKCTL_EL1, CNTPCT_EL0, CNTVCT_EL0, CPACR_EL1, MDSCR_EL1, SCTLR_EL1, TTBR0_EL1, VBAR_EL1,
};
use tock_registers::interfaces::Readable;

pub static SUITE: Suite = Suite {
    name: "boot",
    tests: tests![
        runs_at_el1,
        el2_drop_zeroes_virtual_counter_offset,
        image_header_is_arm64_image,
        vectors_are_installed,
        bss_starts_zeroed,
        el1_system_registers_are_set_explicitly,
        kernel_map_was_built_before_any_lock,
        the_event_stream_ends_every_wfe_wait_within_200_us,
    ],
};

fn runs_at_el1() -> TestResult {
    check_eq!(arch::current_el(), 1);
    check!(
        matches!(boot_info().entry_el, 1 | 2),
        "entered at EL{}",
        boot_info().entry_el
    );
    Ok(())
}

/// After the drop, EL1 reads the physical counter (CNTHCTL_EL2.EL1PCTEN) and
/// the virtual counter equals it (CNTVOFF_EL2 = 0).
fn el2_drop_zeroes_virtual_counter_offset() -> TestResult {
    if boot_info().entry_el != 2 {
        return Err(Failure::Skip("entered at EL1: no drop from EL2"));
    }
    // The physical count read between two virtual ones lies between them
    // exactly when the offset is zero, however long the host stalls.
    let isb = || aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
    isb();
    let before = CNTVCT_EL0.get();
    isb();
    let phys = CNTPCT_EL0.get();
    isb();
    let after = CNTVCT_EL0.get();
    check!(
        before <= phys && phys <= after,
        "CNTPCT {phys} outside CNTVCT {before}..={after}"
    );
    Ok(())
}

fn image_header_is_arm64_image() -> TestResult {
    let image = layout::image();
    // SAFETY: the header is the first 64 bytes of the loaded image.
    let header = unsafe { core::slice::from_raw_parts(image.start as *const u8, 64) };
    let word = |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().unwrap_or([0; 8]));
    check_eq!(&header[56..60], b"ARM\x64");
    check_eq!(word(16), image.end - image.start);
    check_eq!(image.start % 0x20_0000, word(8));
    Ok(())
}

fn vectors_are_installed() -> TestResult {
    let vbar = VBAR_EL1.get();
    check!(
        vbar.is_multiple_of(0x800),
        "VBAR_EL1 {vbar:#x} is not 2 KiB aligned"
    );
    check!(
        layout::image().contains(&vbar),
        "VBAR_EL1 {vbar:#x} is outside the image"
    );
    Ok(())
}

static ZEROED: [u64; 4] = [0; 4];
static mut WRITTEN_LATER: u64 = 0;

fn bss_starts_zeroed() -> TestResult {
    // SAFETY: only this test touches it, and tests run one at a time.
    let later = unsafe { core::ptr::read_volatile(&raw const WRITTEN_LATER) };
    check_eq!(later, 0);
    check_eq!(ZEROED, [0; 4]);
    Ok(())
}

/// Whatever the entry path (EL1, or dropped from EL2) and whatever the
/// loader left, the registers the kernel relies on hold the kernel's values.
fn el1_system_registers_are_set_explicitly() -> TestResult {
    check_eq!(SCTLR_EL1.get(), arch::boot::sctlr_el1_mmu_on());
    // The lock check tests C alone: C is set only together with M.
    let (m, c) = (SCTLR_EL1::M::Enable.value, SCTLR_EL1::C::Cacheable.value);
    check_eq!(arch::boot::sctlr_el1_mmu_off() & (m | c), 0);
    check_eq!(arch::boot::sctlr_el1_mmu_on() & (m | c), m | c);
    check_eq!(CNTKCTL_EL1.get(), arch::boot::cntkctl_el1());
    check_eq!(MDSCR_EL1.get(), MDSCR_EL1::TDCC::SET.value);
    check_eq!(CPACR_EL1.read(CPACR_EL1::FPEN), 0b11);
    let pmuserenr: u64;
    // SAFETY: reading PMUSERENR_EL0 at EL1 has no effect.
    unsafe {
        core::arch::asm!("mrs {}, pmuserenr_el0", out(reg) pmuserenr, options(nomem, nostack))
    };
    check_eq!(pmuserenr, 0);
    Ok(())
}

/// The table the MMU runs on was built from the boot pool inside the image
/// (no frame allocator, so no lock, before the MMU was on).
fn kernel_map_was_built_before_any_lock() -> TestResult {
    let root = TTBR0_EL1.get_baddr();
    check!(
        layout::image().contains(&root),
        "TTBR0 {root:#x} is not in the image's boot pool"
    );
    check_eq!(crate::vm::with_page_table(|t| t.root()), root);
    let used = arch::mmu::boot_table_pages_used();
    check!(
        (2..=arch::mmu::BOOT_TABLE_PAGES).contains(&used),
        "{used} boot table pages"
    );
    check!(arch::mmu_and_caches_on());
    Ok(())
}

/// A lock waiter sleeps in `WFE` (`arch::wait_while_set`); the event
/// stream bounds that sleep whatever the other CPUs do: it is on, at
/// 10 kHz or slower but no slower than 5 kHz (faster only where the
/// counter is too fast for `EVNTI`'s 15: `-cpu max`'s 1 GHz gives
/// 15 kHz), and a `WFE` with no event pending returns within its period
/// (QEMU's returns at once; a core with the stream off would wait here
/// for good, and the run time out).
fn the_event_stream_ends_every_wfe_wait_within_200_us() -> TestResult {
    let ctl = CNTKCTL_EL1.get();
    check_eq!(CNTKCTL_EL1::EVNTEN.read(ctl), 1);
    let evnti = CNTKCTL_EL1::EVNTI.read(ctl);
    let period_ticks = 2u64 << evnti;
    let period_ns = period_ticks * 1_000_000_000 / arch::counter_frequency();
    check!(
        period_ns <= 200_000 && (period_ns >= 100_000 || evnti == 15),
        "event stream period {period_ns} ns (EVNTI {evnti})"
    );
    // The shortest of 8 waits: a host that deschedules QEMU's vCPU may
    // stretch one, not all.
    let shortest = (0..8)
        .map(|_| {
            let start = arch::counter();
            // SAFETY: `sevl; wfe` consumes any pending event; the second
            // `wfe` then waits for the next one. Hints, no memory effects.
            unsafe { core::arch::asm!("sevl", "wfe", "wfe", options(nomem, nostack)) };
            arch::counter() - start
        })
        .min()
        .unwrap_or(0);
    check!(
        shortest <= period_ticks + period_ticks / 2,
        "WFE waited {shortest} ticks (period {period_ticks})"
    );
    Ok(())
}
