//! Boot: exception level, the EL2 drop, the image header, the vectors.

use crate::arch;
use crate::ktest::{Failure, Suite, Test, TestResult};
use crate::{boot_info, check, check_eq, layout};
use aarch64_cpu::registers::{CNTPCT_EL0, CNTVCT_EL0, VBAR_EL1};
use tock_registers::interfaces::Readable;

pub static SUITE: Suite = Suite {
    name: "boot",
    tests: &[
        Test {
            name: "runs_at_el1",
            run: runs_at_el1,
        },
        Test {
            name: "el2_drop_zeroes_virtual_counter_offset",
            run: el2_drop_zeroes_virtual_counter_offset,
        },
        Test {
            name: "image_header_is_arm64_image",
            run: image_header_is_arm64_image,
        },
        Test {
            name: "vectors_are_installed",
            run: vectors_are_installed,
        },
        Test {
            name: "bss_starts_zeroed",
            run: bss_starts_zeroed,
        },
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
