//! How a run ends: with a status through semihosting when the bootargs ask
//! for it (`exit=semihosting`, under QEMU only), otherwise through PSCI; on
//! boards without PSCI (the Pi 4's stock firmware) power-off halts in `wfe`
//! with interrupts masked and reset goes through the board's watchdog.

use crate::arch::power::Conduit;
use core::sync::atomic::{AtomicU8, Ordering};

/// Exit status of a run whose tests all passed.
pub const EXIT_SUCCESS: u32 = 0;
/// Exit status of a run with a failed test.
pub const EXIT_TESTS_FAILED: u32 = 1;
/// Exit status of a run that died: a panic or an unexpected exception.
pub const EXIT_FATAL: u32 = 3;

const NO_PSCI: u8 = 0;
const PSCI_HVC: u8 = 1;
const PSCI_SMC: u8 = 2;

static PSCI: AtomicU8 = AtomicU8::new(NO_PSCI);
static SEMIHOSTING_EXIT: AtomicU8 = AtomicU8::new(0);
static RESET_ON_FAILURE: AtomicU8 = AtomicU8::new(0);

/// Records how to power off: the PSCI conduit, whether the host asked for a
/// semihosting exit, and whether a failed run resets instead.
pub fn configure(psci: Option<Conduit>, semihosting_exit: bool, reset_on_failure: bool) {
    RESET_ON_FAILURE.store(reset_on_failure as u8, Ordering::Relaxed);
    let psci = match psci {
        None => NO_PSCI,
        Some(Conduit::Hvc) => PSCI_HVC,
        Some(Conduit::Smc) => PSCI_SMC,
    };
    PSCI.store(psci, Ordering::Relaxed);
    SEMIHOSTING_EXIT.store(semihosting_exit as u8, Ordering::Relaxed);
}

/// The PSCI conduit, if the platform has PSCI.
pub fn psci() -> Option<Conduit> {
    match PSCI.load(Ordering::Relaxed) {
        PSCI_HVC => Some(Conduit::Hvc),
        PSCI_SMC => Some(Conduit::Smc),
        _ => None,
    }
}

/// Ends the run with `status`.
pub fn exit(status: u32) -> ! {
    if SEMIHOSTING_EXIT.load(Ordering::Relaxed) != 0 {
        crate::arch::semihosting::exit(status);
    }
    // Without semihosting the console carries the status (PSCI SYSTEM_OFF
    // has none): the host harness reads it from this last line. It is a
    // KTAP comment, so it may follow the document, and no log level hides it.
    crate::console::write_fmt(format_args!("# run ended with status {status}\n"));
    if status != EXIT_SUCCESS && RESET_ON_FAILURE.load(Ordering::Relaxed) != 0 {
        reset();
    }
    power_off()
}

/// Ends the run with failure after saying why.
pub fn fail(reason: &str) -> ! {
    crate::error!("fatal: {reason}");
    exit(EXIT_FATAL)
}

/// Powers the machine off through PSCI (which carries no status), or halts.
pub fn power_off() -> ! {
    crate::console::drain();
    if let Some(conduit) = psci() {
        let err = conduit.system_off();
        crate::error!("PSCI SYSTEM_OFF failed: {err:?}");
    }
    crate::arch::halt()
}

/// Resets the machine through PSCI, else by the board's own means (the
/// Pi's watchdog), or halts if it cannot.
pub fn reset() -> ! {
    // The watchdog resets the UART too: let the last line out first.
    crate::console::drain();
    if let Some(conduit) = psci() {
        let err = conduit.system_reset();
        crate::error!("PSCI SYSTEM_RESET failed: {err:?}");
    }
    crate::board::reset();
    crate::arch::halt()
}
