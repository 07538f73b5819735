//! PSCI, through the conduit the device tree names.

use crate::ktest::{Failure, Suite, TestResult};
use crate::{boot_info, check, check_eq, tests};

pub static SUITE: Suite = Suite {
    name: "power",
    tests: tests![
        psci_answers_version,
        psci_conduit_follows_entry_level,
        uart_drain_waits_for_busy_and_is_bounded,
    ],
};

/// `power::reset` and `power_off` drain the console first (`fatal=reset` on
/// the Pi must not cut off the last line). QEMU's PL011 is never busy, so a
/// register block in RAM stands in for a UART that is: drain waits while
/// `FR.BUSY` is set, gives up after its limit, and returns at once when clear.
fn uart_drain_waits_for_busy_and_is_bounded() -> TestResult {
    use crate::drivers::pl011::Pl011;
    const FR_WORD: usize = 0x18 / 4;
    const FR_BUSY: u32 = 1 << 3;
    let block: *mut [u32; 0x48 / 4] =
        alloc::boxed::Box::into_raw(alloc::boxed::Box::new([0; 0x48 / 4]));
    // SAFETY: `block` is a live, aligned allocation of the register block's
    // size that only the stand-in UART and this function touch, freed below
    // after the UART's last use.
    let fr = unsafe { &raw mut (*block)[FR_WORD] };
    // SAFETY: as above; volatile, like the UART's own accesses.
    unsafe { fr.write_volatile(FR_BUSY) };
    let limit = crate::arch::counter_frequency() / 1000;
    let (drained_while_busy, waited, drained_when_idle) = {
        // SAFETY: ordinary memory standing in for the registers (the
        // accesses are volatile 32-bit loads and stores either way), owned
        // here; the UART does not outlive this block.
        let uart = unsafe { Pl011::new(block as usize, None) };
        let start = crate::arch::counter();
        let busy = uart.drain_within(limit);
        let waited = crate::arch::counter() - start;
        // SAFETY: as above.
        unsafe { fr.write_volatile(0) };
        (busy, waited, uart.drain_within(0))
    };
    // SAFETY: from `Box::into_raw` above; nothing refers to it any more.
    drop(unsafe { alloc::boxed::Box::from_raw(block) });
    check!(!drained_while_busy, "drain returned while FR.BUSY was set");
    check!(
        waited >= limit,
        "gave up after {waited} ticks, before {limit}"
    );
    check!(drained_when_idle, "drain did not see the idle UART");
    check!(crate::console::drain(), "the console UART did not drain");
    Ok(())
}

fn psci_answers_version() -> TestResult {
    let Some(conduit) = crate::power::psci() else {
        return Err(Failure::Skip("no PSCI on this platform"));
    };
    let version = conduit.version();
    check!(
        matches!(version, Ok((major, _)) if major >= 1),
        "PSCI_VERSION = {version:?}"
    );
    Ok(())
}

/// QEMU virt: a hypervisor (`hvc`) when the kernel is a guest at EL1; secure
/// firmware (`smc`) when the kernel owned EL2.
fn psci_conduit_follows_entry_level() -> TestResult {
    use crate::arch::power::Conduit;
    let Some(conduit) = boot_info().platform.psci else {
        return Err(Failure::Skip("no PSCI on this platform"));
    };
    let expected = if boot_info().entry_el == 2 {
        Conduit::Smc
    } else {
        Conduit::Hvc
    };
    check_eq!(conduit, expected);
    Ok(())
}
