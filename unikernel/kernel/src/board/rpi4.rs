//! Raspberry Pi 4 Model B (BCM2711): the console on GPIO 14/15, the
//! watchdog reset, and the known memory map for a boot without a device
//! tree (QEMU `raspi4b` without `-dtb` passes an ATAG list in `x0`).
//!
//! The firmware gives GPIO 14/15 to the mini UART and names it in
//! `stdout-path`; the PL011 (UART0) is the better console (its clock does not
//! follow the VPU's), so the kernel takes the pins for it (ALT0) and
//! programs its divisors from `init_uart_clock=48000000` (config.txt).

use crate::devicetree::{
    CpuList, CpuNode, EnableMethod, GicInfo, Hardware, PhysRange, RangeList, TimerInfo,
};
use crate::drivers::pl011::{LineConfig, Pl011};
use tock_registers::interfaces::{ReadWriteable, Readable, Writeable};
use tock_registers::registers::ReadWrite;
use tock_registers::{register_bitfields, register_structs};

/// The root `compatible` strings that name this board.
pub const COMPATIBLE: &[&str] = &["raspberrypi,4-model-b", "brcm,bcm2711"];

/// The model string of a boot without a device tree.
const FALLBACK_MODEL: &str = "Raspberry Pi 4 Model B (ATAG boot: built-in BCM2711 map)";
/// The root `compatible` of a boot without a device tree.
const FALLBACK_COMPATIBLE: &str = "raspberrypi,4-model-b\0brcm,bcm2711";

/// Main peripherals as the ARM cores see them (bus address 0x7e00_0000).
const PERIPHERALS: u64 = 0xfe00_0000;
/// The power-management block with the watchdog.
const PM_BASE: u64 = PERIPHERALS + 0x10_0000;
/// The GPIO block.
const GPIO_BASE: u64 = PERIPHERALS + 0x20_0000;
/// UART0, the PL011.
const UART0_BASE: u64 = PERIPHERALS + 0x20_1000;
/// A PL011's register block.
const UART0_SIZE: u64 = 0x200;
/// GIC-400 distributor and CPU interface (ARM local peripherals).
const GICD_BASE: u64 = 0xff84_1000;
const GICD_SIZE: u64 = 0x1000;
const GICC_BASE: u64 = 0xff84_2000;
const GICC_SIZE: u64 = 0x2000;
/// One page per block the kernel maps.
const BLOCK_SIZE: u64 = 0x1000;

/// The generic timer's PPIs (the Pi's device tree: physical 14, virtual 11).
const TIMER: TimerInfo = TimerInfo {
    physical_ppi: 14,
    virtual_ppi: 11,
};
/// RAM below the VPU's share when the ATAGs name none: the low 960 MiB that
/// both the 1 GiB board and QEMU `raspi4b` give the ARM.
const FALLBACK_RAM: PhysRange = PhysRange {
    start: 0,
    end: 0x3c00_0000,
};
/// Page 0: the firmware's spin table (release addresses 0xd8..0xf0) and the ATAGs.
const SPIN_TABLE_PAGE: PhysRange = PhysRange {
    start: 0,
    end: 0x1000,
};

/// MMIO only this board's code drives: GPIO (console pins) and PM (watchdog).
pub const DEVICES: [PhysRange; 2] = [
    PhysRange {
        start: GPIO_BASE,
        end: GPIO_BASE + BLOCK_SIZE,
    },
    PhysRange {
        start: PM_BASE,
        end: PM_BASE + BLOCK_SIZE,
    },
];

/// The UART's reference clock, fixed by `init_uart_clock` in config.txt.
pub const UART_CLOCK_HZ: u32 = 48_000_000;
/// The console's baud rate.
pub const BAUD: u32 = 115_200;

register_bitfields! {u32,
    /// GPIO function select 1: pins 10–19, three bits each.
    GPFSEL1 [
        /// GPIO 15 (RXD0 in ALT0).
        FSEL15 OFFSET(15) NUMBITS(3) [Input = 0b000, Alt0 = 0b100],
        /// GPIO 14 (TXD0 in ALT0).
        FSEL14 OFFSET(12) NUMBITS(3) [Input = 0b000, Alt0 = 0b100],
    ],
    /// BCM2711 pull-up/down control 0: pins 0–15, two bits each.
    GPIO_PUP_PDN_CNTRL_REG0 [
        /// GPIO 15's resistor.
        GPIO_PUP_PDN_CNTRL15 OFFSET(30) NUMBITS(2) [None = 0b00, PullUp = 0b01],
        /// GPIO 14's resistor.
        GPIO_PUP_PDN_CNTRL14 OFFSET(28) NUMBITS(2) [None = 0b00, PullUp = 0b01],
    ],
    /// PM reset control.
    PM_RSTC [
        /// Must hold the password for a write to take.
        PASSWD OFFSET(24) NUMBITS(8) [Password = 0x5a],
        /// What the watchdog does when it expires.
        WRCFG OFFSET(4) NUMBITS(2) [Clear = 0b00, FullReset = 0b10],
    ],
    /// PM watchdog.
    PM_WDOG [
        /// Must hold the password for a write to take.
        PASSWD OFFSET(24) NUMBITS(8) [Password = 0x5a],
        /// Ticks (of 1/65536 s) until it expires.
        TIME OFFSET(0) NUMBITS(20) [],
    ],
}

register_structs! {
    /// The BCM2711 GPIO block (the part the kernel uses).
    GpioRegisters {
        (0x00 => _gpfsel0),
        (0x04 => gpfsel1: ReadWrite<u32, GPFSEL1::Register>),
        (0x08 => _reserved0),
        (0xe4 => pup_pdn0: ReadWrite<u32, GPIO_PUP_PDN_CNTRL_REG0::Register>),
        (0xe8 => @END),
    },
    /// The power-management block's reset and watchdog registers.
    PmRegisters {
        (0x00 => _reserved0),
        (0x1c => rstc: ReadWrite<u32, PM_RSTC::Register>),
        (0x20 => _rsts),
        (0x24 => wdog: ReadWrite<u32, PM_WDOG::Register>),
        (0x28 => @END),
    }
}

/// Watchdog ticks before the reset: 10 / 65536 s, as Linux uses.
const WATCHDOG_RESET_TICKS: u32 = 10;

/// Routes GPIO 14/15 to UART0 (ALT0, no pulls) and returns the PL011 set
/// to 115200 8N1 from the known clock.
///
/// # Safety
/// `uart0` must be the PL011's address; the GPIO block and the UART must be
/// reachable as device memory, and nothing else may drive either.
pub unsafe fn console(uart0: usize) -> Pl011 {
    // SAFETY: GPIO_BASE is the BCM2711's GPIO block, reachable per the
    // caller's contract; only this function touches it.
    let gpio = unsafe { &*(GPIO_BASE as *const GpioRegisters) };
    gpio.gpfsel1
        .modify(GPFSEL1::FSEL14::Alt0 + GPFSEL1::FSEL15::Alt0);
    gpio.pup_pdn0.modify(
        GPIO_PUP_PDN_CNTRL_REG0::GPIO_PUP_PDN_CNTRL14::None
            + GPIO_PUP_PDN_CNTRL_REG0::GPIO_PUP_PDN_CNTRL15::None,
    );
    let line = LineConfig {
        clock_hz: UART_CLOCK_HZ,
        baud: BAUD,
    };
    // SAFETY: the caller vouches for the UART at `uart0`.
    unsafe { Pl011::new(uart0, Some(line)) }
}

/// Resets the board through the BCM2711 watchdog (PM_WDOG, then PM_RSTC
/// with a full reset), as the stock firmware offers no PSCI. The reset
/// comes a few microseconds later; the caller halts meanwhile.
pub fn watchdog_reset() {
    // SAFETY: PM_BASE is the power-management block, identity-mapped as
    // device memory by the kernel's map (or reached with the MMU off).
    let pm = unsafe { &*(PM_BASE as *const PmRegisters) };
    pm.wdog
        .write(PM_WDOG::PASSWD::Password + PM_WDOG::TIME.val(WATCHDOG_RESET_TICKS));
    pm.rstc
        .modify(PM_RSTC::PASSWD::Password + PM_RSTC::WRCFG::FullReset);
}

/// ATAG tags (Linux `Documentation/arch/arm/booting.rst`).
const ATAG_NONE: u32 = 0;
const ATAG_CORE: u32 = 0x5441_0001;
const ATAG_MEM: u32 = 0x5441_0002;
const ATAG_CMDLINE: u32 = 0x5441_0009;
/// How far the kernel reads an ATAG list: the rest of its page at most.
const ATAG_SPAN: u64 = 0x1000;

/// The platform of an ATAG boot: memory and command line from the tags,
/// the rest from the known BCM2711 map.
///
/// # Safety
/// `addr` must point at readable memory, up to the end of its 4 KiB page,
/// that nothing writes for the kernel's lifetime.
pub unsafe fn platform_from_atags_at(addr: u64) -> Option<Hardware<'static>> {
    let len = ATAG_SPAN - (addr % ATAG_SPAN);
    // SAFETY: the caller vouches for the bytes up to the end of the page.
    let bytes = unsafe { core::slice::from_raw_parts(addr as *const u8, len as usize) };
    platform_from_atags(bytes, addr)
}

/// Parses the ATAG list in `bytes` (at physical `addr`); `None` unless it
/// starts with `ATAG_CORE`.
pub fn platform_from_atags(bytes: &[u8], addr: u64) -> Option<Hardware<'_>> {
    let word = |at: usize| -> Option<u32> {
        let b = bytes.get(at..at + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    if word(4)? != ATAG_CORE {
        return None;
    }
    let mut memory = RangeList::new();
    let mut bootargs = "";
    let mut at = 0;
    loop {
        let words = word(at)? as usize;
        let tag = word(at + 4)?;
        if tag == ATAG_NONE || words < 2 {
            break;
        }
        match tag {
            ATAG_MEM => {
                let size = word(at + 8)?;
                let start = word(at + 12)?;
                memory
                    .push(PhysRange::new(u64::from(start), u64::from(size)))
                    .ok()?;
            }
            ATAG_CMDLINE => {
                let text = bytes.get(at + 8..at + words * 4)?;
                let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
                bootargs = core::str::from_utf8(&text[..end]).ok()?;
            }
            _ => {}
        }
        at += words * 4;
    }
    if memory.as_slice().iter().all(PhysRange::is_empty) {
        memory = RangeList::new();
        memory.push(FALLBACK_RAM).ok()?;
    }
    let mut reserved = RangeList::new();
    reserved.push(SPIN_TABLE_PAGE).ok()?;
    Some(Hardware {
        model: FALLBACK_MODEL,
        compatible: FALLBACK_COMPATIBLE,
        memory,
        reserved,
        bootargs,
        stdout_path: None,
        uart: Some(PhysRange::new(UART0_BASE, UART0_SIZE)),
        gic: Some(GicInfo::V2 {
            distributor: PhysRange::new(GICD_BASE, GICD_SIZE),
            cpu_interface: PhysRange::new(GICC_BASE, GICC_SIZE),
        }),
        timer: Some(TIMER),
        psci: None,
        cpus: pi4_cpus(),
        // The list itself, up to and including ATAG_NONE.
        blob: PhysRange::new(addr, at as u64 + 8),
    })
}

/// The Pi 4's four cores as its device tree lists them: MPIDR 0–3, each
/// waiting on its spin-table word (0xd8 + 8 × core) for an entry address.
fn pi4_cpus() -> CpuList {
    const SPIN_TABLE: u64 = 0xd8;
    let mut cpus = CpuList::default();
    for core in 0..4 {
        cpus.push(CpuNode {
            mpidr: core,
            enable: EnableMethod::SpinTable {
                release_addr: SPIN_TABLE + 8 * core,
            },
        });
    }
    cpus
}

/// Whether GPIO 14 and 15 are routed to UART0 (ALT0), as [`console`] leaves them.
pub fn console_pins_are_uart0() -> bool {
    // SAFETY: GPIO_BASE is mapped as device memory on the Pi (DEVICES);
    // reading the function select has no effect.
    let gpio = unsafe { &*(GPIO_BASE as *const GpioRegisters) };
    gpio.gpfsel1
        .matches_all(GPFSEL1::FSEL14::Alt0 + GPFSEL1::FSEL15::Alt0)
}
