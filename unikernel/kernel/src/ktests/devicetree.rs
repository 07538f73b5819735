//! Device-tree parsing: the live tree and fixtures of both GIC versions.

use crate::arch::power::Conduit;
use crate::devicetree::{parse, DtError, GicInfo, PhysRange, TimerInfo};
use crate::ktest::{Suite, Test, TestResult};
use crate::{boot_info, check, check_eq, layout};

/// `qemu-system-aarch64 -M virt,dumpdtb=… -cpu cortex-a72 -m 256M`, compacted by dtc.
static VIRT_GICV2: &[u8] = include_bytes!("../../fixtures/virt-gicv2.dtb");
/// The same with `gic-version=3,virtualization=on`.
static VIRT_EL2: &[u8] = include_bytes!("../../fixtures/virt-el2.dtb");

pub static SUITE: Suite = Suite {
    name: "devicetree",
    tests: &[
        Test {
            name: "parses_gicv2_regions",
            run: parses_gicv2_regions,
        },
        Test {
            name: "parses_gicv3_regions",
            run: parses_gicv3_regions,
        },
        Test {
            name: "parses_psci_conduit",
            run: parses_psci_conduit,
        },
        Test {
            name: "parses_memory_and_timer",
            run: parses_memory_and_timer,
        },
        Test {
            name: "parses_console_from_stdout_path",
            run: parses_console_from_stdout_path,
        },
        Test {
            name: "rejects_a_corrupt_blob",
            run: rejects_a_corrupt_blob,
        },
        Test {
            name: "live_gic_matches_cpu_features",
            run: live_gic_matches_cpu_features,
        },
        Test {
            name: "live_memory_holds_the_kernel",
            run: live_memory_holds_the_kernel,
        },
        Test {
            name: "live_bootargs_reach_the_kernel",
            run: live_bootargs_reach_the_kernel,
        },
    ],
};

const MIB: u64 = 1 << 20;

fn parses_gicv2_regions() -> TestResult {
    let p =
        parse(VIRT_GICV2, 0).map_err(|e| crate::ktest::Failure::Fail(alloc::format!("{e:?}")))?;
    check_eq!(
        p.gic,
        Some(GicInfo::V2 {
            distributor: PhysRange::new(0x0800_0000, 0x1_0000),
            cpu_interface: PhysRange::new(0x0801_0000, 0x1_0000),
        })
    );
    Ok(())
}

fn parses_gicv3_regions() -> TestResult {
    let p = parse(VIRT_EL2, 0).map_err(|e| crate::ktest::Failure::Fail(alloc::format!("{e:?}")))?;
    check_eq!(
        p.gic,
        Some(GicInfo::V3 {
            distributor: PhysRange::new(0x0800_0000, 0x1_0000),
            redistributors: PhysRange::new(0x080a_0000, 0xf6_0000),
        })
    );
    check_eq!(p.gic.map(|g| g.version()), Some(3));
    Ok(())
}

fn parses_psci_conduit() -> TestResult {
    check_eq!(
        parse(VIRT_GICV2, 0).ok().and_then(|p| p.psci),
        Some(Conduit::Hvc)
    );
    check_eq!(
        parse(VIRT_EL2, 0).ok().and_then(|p| p.psci),
        Some(Conduit::Smc)
    );
    Ok(())
}

fn parses_memory_and_timer() -> TestResult {
    let p = parse(VIRT_GICV2, 0x4400_0000)
        .map_err(|e| crate::ktest::Failure::Fail(alloc::format!("{e:?}")))?;
    check_eq!(
        p.memory.as_slice(),
        &[PhysRange::new(0x4000_0000, 256 * MIB)]
    );
    check_eq!(
        p.timer,
        Some(TimerInfo {
            physical_ppi: 14,
            virtual_ppi: 11
        })
    );
    check_eq!(p.blob, PhysRange::new(0x4400_0000, VIRT_GICV2.len() as u64));
    Ok(())
}

fn parses_console_from_stdout_path() -> TestResult {
    let p =
        parse(VIRT_GICV2, 0).map_err(|e| crate::ktest::Failure::Fail(alloc::format!("{e:?}")))?;
    check_eq!(p.stdout_path, Some("/pl011@9000000"));
    check_eq!(p.uart, Some(PhysRange::new(0x0900_0000, 0x1000)));
    Ok(())
}

fn rejects_a_corrupt_blob() -> TestResult {
    let mut bad = [0u8; 64];
    bad[..VIRT_GICV2.len().min(64)].copy_from_slice(&VIRT_GICV2[..64]);
    bad[0] ^= 0xff; // break the magic
    check_eq!(parse(&bad, 0).err(), Some(DtError::BadBlob));
    // A header that claims more bytes than there are.
    check_eq!(parse(&VIRT_GICV2[..64], 0).err(), Some(DtError::BadBlob));
    check_eq!(parse(&[], 0).err(), Some(DtError::BadBlob));
    Ok(())
}

/// The GIC the tree names is the one the CPU reports: GICv3 has the
/// system-register interface (`ID_AA64PFR0_EL1.GIC` ≠ 0), GICv2 does not.
fn live_gic_matches_cpu_features() -> TestResult {
    let Some(gic) = boot_info().platform.gic else {
        return Err(crate::ktest::Failure::Fail(
            "the live tree names no GIC".into(),
        ));
    };
    check_eq!(gic.version() == 3, crate::arch::gic_sysreg_interface());
    Ok(())
}

fn live_memory_holds_the_kernel() -> TestResult {
    let image = layout::image();
    let memory = boot_info().platform.memory.as_slice();
    check!(
        memory
            .iter()
            .any(|m| m.contains(image.start) && m.contains(image.end - 1)),
        "image {image:x?} not inside {memory:x?}"
    );
    Ok(())
}

fn live_bootargs_reach_the_kernel() -> TestResult {
    check!(boot_info()
        .platform
        .bootargs
        .split_ascii_whitespace()
        .any(|w| w == "mode=test"));
    Ok(())
}
