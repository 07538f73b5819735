//! PSCI, through the conduit the device tree names.

use crate::ktest::{Failure, Suite, Test, TestResult};
use crate::{boot_info, check, check_eq};

pub static SUITE: Suite = Suite {
    name: "power",
    tests: &[
        Test {
            name: "psci_answers_version",
            run: psci_answers_version,
        },
        Test {
            name: "psci_conduit_follows_entry_level",
            run: psci_conduit_follows_entry_level,
        },
    ],
};

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
