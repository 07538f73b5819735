//! Device-tree parsing: the live tree and fixtures of both GIC versions,
//! and of a tree written for TrustZone firmware (secure RAM and devices).

use crate::arch::power::Conduit;
use crate::devicetree::{parse, DtError, GicInfo, PhysRange, TimerInfo};
use crate::ktest::{Suite, TestResult};
use crate::{boot_info, check, check_eq, layout, tests};

/// `qemu-system-aarch64 -M virt,dumpdtb=… -cpu cortex-a72 -m 256M`, compacted by dtc.
static VIRT_GICV2: &[u8] = include_bytes!("../../fixtures/virt-gicv2.dtb");
/// The same with `gic-version=3,virtualization=on`.
static VIRT_EL2: &[u8] = include_bytes!("../../fixtures/virt-el2.dtb");
/// `-M virt,secure=on,virtualization=on,gic-version=2,dumpdtb=…`, compacted:
/// `secram@e000000` (16 MiB of memory), `pl011@9040000`, `pl061@90b0000`
/// and the gpio-poweroff/restart nodes are `status = "disabled"`,
/// `secure-status = "okay"`; no PSCI node.
static VIRT_SECURE: &[u8] = include_bytes!("../../fixtures/virt-secure.dtb");
/// The same through dtc with, added: `/memreserve/ 0x4000_0000 64 KiB`; a
/// `/reserved-memory` with `firmware@4f000000` (1 MiB, no-map),
/// `shared@4e000000` (2 MiB) and a disabled `unused@4d000000` (64 KiB); a
/// disabled memory node at 0x4c00_0000 (4 MiB) inside RAM; and
/// `/chosen/stdout-path` pointing at the disabled secure PL011.
static VIRT_SECURE_RESERVED: &[u8] = include_bytes!("../../fixtures/virt-secure-reserved.dtb");

pub static SUITE: Suite = Suite {
    name: "devicetree",
    tests: tests![
        parses_gicv2_regions,
        parses_gicv3_regions,
        parses_psci_conduit,
        parses_cpus_and_their_enable_method,
        parses_memory_and_timer,
        parses_console_from_stdout_path,
        disabled_memory_is_not_ram,
        disabled_memory_inside_ram_is_reserved,
        reserved_memory_children_are_reserved,
        disabled_uart_is_never_the_console,
        secure_tree_gives_gic_and_timer,
        rejects_a_corrupt_blob,
        live_gic_matches_cpu_features,
        live_memory_holds_the_kernel,
        live_bootargs_reach_the_kernel,
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

/// `virt` lists its one CPU (QEMU's default) without an enable method
/// (QEMU writes `enable-method = "psci"` only for more than one); the live
/// tree lists the CPU this runs on, and with several CPUs a way to start
/// each of the others.
fn parses_cpus_and_their_enable_method() -> TestResult {
    use crate::devicetree::{CpuNode, EnableMethod};
    for blob in [VIRT_GICV2, VIRT_EL2] {
        let p = parse(blob, 0).map_err(|e| crate::ktest::Failure::Fail(alloc::format!("{e:?}")))?;
        let cpus: alloc::vec::Vec<CpuNode> = p.cpus.iter().collect();
        check_eq!(
            cpus,
            [CpuNode {
                mpidr: 0,
                enable: EnableMethod::Unknown
            }]
        );
    }
    // The secure tree has no PSCI node: its CPUs start no other way.
    let p =
        parse(VIRT_SECURE, 0).map_err(|e| crate::ktest::Failure::Fail(alloc::format!("{e:?}")))?;
    check!(p
        .cpus
        .iter()
        .all(|c| c.enable != EnableMethod::Psci || p.psci.is_none()));
    let own = crate::arch::smp::own_mpidr();
    let live = &boot_info().platform.cpus;
    check!(live.iter().any(|c| c.mpidr == own));
    if live.iter().count() > 1 {
        check!(live.iter().all(|c| c.enable != EnableMethod::Unknown));
    }
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

fn parsed(blob: &[u8]) -> Result<crate::devicetree::Hardware<'_>, crate::ktest::Failure> {
    parse(blob, 0).map_err(|e| crate::ktest::Failure::Fail(alloc::format!("{e:?}")))
}

/// Secure RAM (`secram@e000000`, disabled) is not RAM, and reserves
/// nothing either: it lies outside every available memory node.
fn disabled_memory_is_not_ram() -> TestResult {
    let p = parsed(VIRT_SECURE)?;
    check_eq!(
        p.memory.as_slice(),
        &[PhysRange::new(0x4000_0000, 256 * MIB)]
    );
    check_eq!(p.reserved.as_slice(), &[]);
    Ok(())
}

/// A disabled memory node that overlaps available RAM is kept out of it.
fn disabled_memory_inside_ram_is_reserved() -> TestResult {
    let p = parsed(VIRT_SECURE_RESERVED)?;
    check_eq!(
        p.memory.as_slice(),
        &[PhysRange::new(0x4000_0000, 256 * MIB)]
    );
    check!(p
        .reserved
        .as_slice()
        .contains(&PhysRange::new(0x4c00_0000, 4 * MIB)));
    check!(!p
        .reserved
        .as_slice()
        .iter()
        .any(|r| r.contains(0x0e00_0000)));
    Ok(())
}

/// `/memreserve/` and every `/reserved-memory` child with a `reg`, `no-map`
/// or not, available or not, are reserved.
fn reserved_memory_children_are_reserved() -> TestResult {
    let p = parsed(VIRT_SECURE_RESERVED)?;
    check_eq!(
        p.reserved.as_slice(),
        &[
            PhysRange::new(0x4000_0000, 0x1_0000),
            PhysRange::new(0x4f00_0000, MIB),
            PhysRange::new(0x4e00_0000, 2 * MIB),
            PhysRange::new(0x4d00_0000, 0x1_0000),
            PhysRange::new(0x4c00_0000, 4 * MIB),
        ]
    );
    Ok(())
}

/// The secure PL011 (disabled, and first in tree order) is never the
/// console: not when stdout-path names it, not as the first PL011 when
/// there is no stdout-path.
fn disabled_uart_is_never_the_console() -> TestResult {
    let uart = Some(PhysRange::new(0x0900_0000, 0x1000));
    let p = parsed(VIRT_SECURE_RESERVED)?;
    check_eq!(p.stdout_path, Some("/pl011@9040000"));
    check_eq!(p.uart, uart);
    // The same tree without stdout-path: rename the property in the
    // strings block (same length, so the blob stays valid).
    let mut blob = alloc::vec::Vec::from(VIRT_SECURE);
    let name = b"stdout-path\0";
    let at = blob
        .windows(name.len())
        .position(|w| w == name)
        .ok_or_else(|| crate::ktest::Failure::Fail("no stdout-path string".into()))?;
    blob[at..at + name.len()].copy_from_slice(b"stdout-xxxx\0");
    let p = parsed(&blob)?;
    check_eq!(p.stdout_path, None);
    check_eq!(p.uart, uart);
    Ok(())
}

/// The secure tree's non-secure devices are found as in any virt tree; it
/// names no PSCI (QEMU leaves that to the EL3 firmware).
fn secure_tree_gives_gic_and_timer() -> TestResult {
    let p = parsed(VIRT_SECURE)?;
    gicv2_timer_and_no_psci(
        &p,
        PhysRange::new(0x0800_0000, 0x1_0000),
        PhysRange::new(0x0801_0000, 0x1_0000),
    )
}

/// Fails unless `p` names a GICv2 with these two frames, the architectural
/// timer PPIs (14 physical, 11 virtual) and no PSCI.
pub(super) fn gicv2_timer_and_no_psci(
    p: &crate::devicetree::Hardware,
    distributor: PhysRange,
    cpu_interface: PhysRange,
) -> TestResult {
    check_eq!(
        p.gic,
        Some(GicInfo::V2 {
            distributor,
            cpu_interface
        })
    );
    check_eq!(
        p.timer,
        Some(TimerInfo {
            physical_ppi: 14,
            virtual_ppi: 11
        })
    );
    check_eq!(p.psci, None);
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
