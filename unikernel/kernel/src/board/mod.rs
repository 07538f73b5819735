//! Per-board code, behind one interface: which board this is (from the
//! device tree's root `compatible`, or an ATAG list where the Pi's loader
//! passed no device tree), how its console comes up, the MMIO only board
//! code drives, and how it resets without PSCI. Everything else in the
//! kernel is generic and learns the board from the [`Hardware`].

pub mod rpi4;

use crate::devicetree::{self, Hardware, PhysRange};
use crate::drivers::pl011::Pl011;
use core::sync::atomic::{AtomicU8, Ordering};

/// The boards the kernel knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Board {
    /// Anything its device tree fully describes (QEMU `virt`).
    Generic,
    /// Raspberry Pi 4 Model B (BCM2711), real or QEMU `raspi4b`.
    Rpi4,
}

/// How the platform description reached the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A flattened device tree.
    DeviceTree,
    /// An ATAG list (the Pi without a device tree): the known BCM2711 map.
    Atags,
}

const GENERIC: u8 = 0;
const RPI4: u8 = 1;

static BOARD: AtomicU8 = AtomicU8::new(GENERIC);
static FROM_ATAGS: AtomicU8 = AtomicU8::new(0);

/// The `x0` handoff's first word, big-endian, when it is a device tree.
const FDT_MAGIC: u32 = 0xd00d_feed;

/// The board a platform describes.
pub fn identify(platform: &Hardware) -> Board {
    if rpi4::COMPATIBLE.iter().any(|c| platform.is_compatible(c)) {
        Board::Rpi4
    } else {
        Board::Generic
    }
}

/// Finds the platform from the boot handoff in `x0`: a device tree, or an
/// ATAG list (QEMU `raspi4b` without `-dtb`), for which the Pi's known map
/// stands in. Records the board for [`current`]. `None` if `x0` holds neither.
///
/// # Safety
/// `handoff` must be the boot loader's `x0`, with the MMU off: readable
/// memory holding what the loader left there, which the kernel never writes.
pub unsafe fn discover(handoff: u64) -> Option<Hardware<'static>> {
    let ptr = handoff as *const u32;
    // SAFETY: the caller vouches that x0 points at readable memory; the
    // first word tells a device tree from an ATAG list.
    let magic = u32::from_be(unsafe { ptr.read_volatile() });
    let (platform, source) = if magic == FDT_MAGIC {
        // SAFETY: a device tree header starts here (checked again by the parser).
        let platform = unsafe { devicetree::parse_at(handoff) }.ok()?;
        (platform, Source::DeviceTree)
    } else {
        // SAFETY: as above; the ATAG reader checks the list's first tag.
        (
            unsafe { rpi4::platform_from_atags_at(handoff) }?,
            Source::Atags,
        )
    };
    let board = if source == Source::Atags {
        Board::Rpi4
    } else {
        identify(&platform)
    };
    BOARD.store(
        match board {
            Board::Generic => GENERIC,
            Board::Rpi4 => RPI4,
        },
        Ordering::Relaxed,
    );
    FROM_ATAGS.store((source == Source::Atags) as u8, Ordering::Relaxed);
    Some(platform)
}

/// The board [`discover`] found.
pub fn current() -> Board {
    match BOARD.load(Ordering::Relaxed) {
        RPI4 => Board::Rpi4,
        _ => Board::Generic,
    }
}

/// Where the platform description came from.
pub fn source() -> Source {
    if FROM_ATAGS.load(Ordering::Relaxed) != 0 {
        Source::Atags
    } else {
        Source::DeviceTree
    }
}

/// Brings up the console on the platform's PL011: as the firmware left it
/// on generic boards; on the Pi, routed to GPIO 14/15 and set to 115200 8N1.
///
/// # Safety
/// Runs once, before anything else drives the UART or the Pi's GPIO, with
/// their registers reachable as device memory (MMU off, or mapped).
pub unsafe fn console(platform: &Hardware) -> Option<Pl011> {
    let uart = platform.uart?;
    match current() {
        // SAFETY: the caller's contract, for the UART the platform names.
        Board::Rpi4 => Some(unsafe { rpi4::console(uart.start as usize) }),
        // SAFETY: the device tree names this PL011 as the console.
        Board::Generic => Some(unsafe { Pl011::new(uart.start as usize, None) }),
    }
}

/// MMIO that board code drives beyond the device tree's console and GIC,
/// for the kernel's map (device memory).
pub fn devices() -> impl Iterator<Item = PhysRange> {
    let ranges: &[PhysRange] = match current() {
        Board::Rpi4 => &rpi4::DEVICES,
        Board::Generic => &[],
    };
    ranges.iter().copied()
}

/// Resets the board by its own means (no PSCI); returns if it has none.
pub fn reset() {
    if current() == Board::Rpi4 {
        rpi4::watchdog_reset();
    }
}
