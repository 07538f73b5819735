//! Board support: the Pi 4's device tree (bus addresses through `ranges`,
//! GIC-400, the mini UART in `stdout-path`), the ATAG fallback, and the
//! live board: detection, relocation, console pins, board MMIO in the map.

use crate::arch::mmu::Attrs;
use crate::board::{self, rpi4, Board, Source};
use crate::devicetree::{parse, GicInfo, PhysRange};
use crate::ktest::{Failure, Suite, TestResult};
use crate::vm::with_page_table;
use crate::{boot_info, check, check_eq, layout, tests};

/// QEMU `raspi4b`'s tree from Debian's `bcm2711-rpi-4-b.dtb`
/// (`-M raspi4b,dumpdtb=…`), compacted by dtc.
static RPI4B: &[u8] = include_bytes!("../../fixtures/rpi4b.dtb");
/// QEMU virt (GICv2).
static VIRT_GICV2: &[u8] = include_bytes!("../../fixtures/virt-gicv2.dtb");

pub static SUITE: Suite = Suite {
    name: "board",
    tests: tests![
        rpi4_tree_translates_bus_addresses,
        rpi4_tree_names_gic400_and_no_psci,
        rpi4_console_is_uart0_not_the_mini_uart,
        rpi4_memreserve_keeps_the_spin_table,
        rpi4_tree_lists_four_cpus_on_the_spin_table,
        identifies_boards_by_root_compatible,
        atag_fallback_uses_the_bcm2711_map,
        atag_reader_rejects_other_data,
        live_board_matches_the_tree,
        live_image_runs_at_its_link_address,
        live_board_mmio_is_device_memory,
        live_console_pins_are_uart0,
    ],
};

fn rpi4() -> Result<crate::devicetree::Hardware<'static>, Failure> {
    parse(RPI4B, 0x0800_0000).map_err(|e| Failure::Fail(alloc::format!("{e:?}")))
}

/// The tree's peripherals sit at bus 0x7e00_0000 and the ARM-local ones at
/// bus 0x4000_0000; `/soc`'s `ranges` put them at 0xfe00_0000 / 0xff80_0000.
/// The Pi's four cores, MPIDR 0–3, each released through its spin-table
/// word (0xd8 + 8 × core), as the ATAG fallback also assumes.
fn rpi4_tree_lists_four_cpus_on_the_spin_table() -> TestResult {
    use crate::devicetree::{CpuNode, EnableMethod};
    let p = rpi4()?;
    let cpus: alloc::vec::Vec<CpuNode> = p.cpus.iter().collect();
    let want: alloc::vec::Vec<CpuNode> = (0..4)
        .map(|core| CpuNode {
            mpidr: core,
            enable: EnableMethod::SpinTable {
                release_addr: 0xd8 + 8 * core,
            },
        })
        .collect();
    check_eq!(cpus, want);
    check_eq!(p.cpus.left_out, 0);
    let bytes: alloc::vec::Vec<u8> = atag_list().iter().flat_map(|w| w.to_le_bytes()).collect();
    let atags = rpi4::platform_from_atags(&bytes, 0x100)
        .ok_or_else(|| Failure::Fail("ATAG list rejected".into()))?;
    check_eq!(atags.cpus.iter().collect::<alloc::vec::Vec<_>>(), want);
    Ok(())
}

fn rpi4_tree_translates_bus_addresses() -> TestResult {
    let p = rpi4()?;
    check_eq!(p.uart, Some(PhysRange::new(0xfe20_1000, 0x200)));
    check_eq!(p.memory.as_slice(), &[PhysRange::new(0, 0x3c00_0000)]);
    Ok(())
}

fn rpi4_tree_names_gic400_and_no_psci() -> TestResult {
    let p = rpi4()?;
    super::devicetree::gicv2_timer_and_no_psci(
        &p,
        PhysRange::new(0xff84_1000, 0x1000),
        PhysRange::new(0xff84_2000, 0x2000),
    )
}

/// `stdout-path` names the mini UART (alias `serial1`); the kernel's console
/// is the PL011 (UART0) instead.
fn rpi4_console_is_uart0_not_the_mini_uart() -> TestResult {
    let p = rpi4()?;
    check_eq!(p.stdout_path, Some("serial1"));
    check_eq!(p.uart.map(|u| u.start), Some(0xfe20_1000));
    Ok(())
}

fn rpi4_memreserve_keeps_the_spin_table() -> TestResult {
    let p = rpi4()?;
    check!(
        p.reserved
            .as_slice()
            .iter()
            .any(|r| r.contains(0) && r.contains(0xf7)),
        "page 0 not reserved: {:x?}",
        p.reserved.as_slice()
    );
    Ok(())
}

fn identifies_boards_by_root_compatible() -> TestResult {
    check_eq!(board::identify(&rpi4()?), Board::Rpi4);
    let virt = parse(VIRT_GICV2, 0).map_err(|e| Failure::Fail(alloc::format!("{e:?}")))?;
    check_eq!(board::identify(&virt), Board::Generic);
    Ok(())
}

/// Words in [`atag_list`]: CORE 5, MEM 4, CMDLINE 8, NONE 2.
const ATAG_WORDS: usize = 19;

/// An ATAG list as QEMU `raspi4b` writes it at 0x100 without `-dtb`.
fn atag_list() -> [u32; ATAG_WORDS] {
    let mut list = [0u32; ATAG_WORDS];
    let cmdline = *b"mode=test seed=7";
    // ATAG_CORE: 5 words (flags, page size, root device).
    list[..5].copy_from_slice(&[5, 0x5441_0001, 1, 4096, 0]);
    // ATAG_MEM: size, start.
    list[5..9].copy_from_slice(&[4, 0x5441_0002, 0x3c00_0000, 0]);
    // ATAG_CMDLINE: 2 + 6 words (16 bytes, then NUL padding to list[17]).
    list[9..11].copy_from_slice(&[8, 0x5441_0009]);
    for (i, chunk) in cmdline.chunks(4).enumerate() {
        list[11 + i] = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    }
    // ATAG_NONE: list[17..19], all zero.
    list
}

fn atag_fallback_uses_the_bcm2711_map() -> TestResult {
    let words = atag_list();
    let bytes: alloc::vec::Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    let p = rpi4::platform_from_atags(&bytes, 0x100)
        .ok_or_else(|| Failure::Fail("ATAG list rejected".into()))?;
    check_eq!(board::identify(&p), Board::Rpi4);
    check_eq!(p.memory.as_slice(), &[PhysRange::new(0, 0x3c00_0000)]);
    check_eq!(p.bootargs, "mode=test seed=7");
    check_eq!(p.uart, Some(PhysRange::new(0xfe20_1000, 0x200)));
    check_eq!(
        p.gic,
        Some(GicInfo::V2 {
            distributor: PhysRange::new(0xff84_1000, 0x1000),
            cpu_interface: PhysRange::new(0xff84_2000, 0x2000),
        })
    );
    check_eq!(p.psci, None);
    check!(p.reserved.as_slice().iter().any(|r| r.contains(0xd8)));
    check_eq!(p.blob, PhysRange::new(0x100, ATAG_WORDS as u64 * 4));
    Ok(())
}

fn atag_reader_rejects_other_data() -> TestResult {
    check!(rpi4::platform_from_atags(&[0; 64], 0).is_none());
    check!(rpi4::platform_from_atags(&RPI4B[..64], 0).is_none());
    check!(rpi4::platform_from_atags(&[], 0).is_none());
    Ok(())
}

fn live_board_matches_the_tree() -> TestResult {
    let p = &boot_info().platform;
    check_eq!(board::current(), board::identify(p));
    if board::source() == Source::Atags {
        check_eq!(board::current(), Board::Rpi4);
    }
    Ok(())
}

/// After `boot.s`, the code runs where it was linked, wherever the loader
/// put it (the Pi's firmware may load kernel8.img at 0x20_0000).
fn live_image_runs_at_its_link_address() -> TestResult {
    let pc: u64;
    // SAFETY: `adr` only reads the PC.
    unsafe { core::arch::asm!("adr {}, .", out(reg) pc, options(nomem, nostack)) };
    let image = layout::image();
    check!(
        layout::text().contains(&pc),
        "running at {pc:#x}, outside the linked text {image:x?}"
    );
    let load = boot_info().load_address;
    check!(
        load == image.start || !image.contains(&load),
        "loaded at {load:#x} inside the image {image:x?} but not at its start"
    );
    Ok(())
}

fn live_board_mmio_is_device_memory() -> TestResult {
    for device in board::devices() {
        let attrs = with_page_table(|t| t.translate(device.start)).map(|(_, a)| a);
        check_eq!(attrs, Some(Attrs::DEVICE));
    }
    if board::current() == Board::Generic {
        check_eq!(board::devices().count(), 0);
    }
    Ok(())
}

fn live_console_pins_are_uart0() -> TestResult {
    if board::current() != Board::Rpi4 {
        return Err(Failure::Skip(
            "not a Raspberry Pi: the console needs no pin routing",
        ));
    }
    check!(rpi4::console_pins_are_uart0());
    Ok(())
}
