//! What the kernel learns from the flattened device tree: memory, reserved
//! ranges, `/chosen`, the console UART, the GIC, the timer's interrupts and
//! PSCI. Parsed into fixed-size structures, because it runs before the heap
//! exists (the heap's place comes from here).

use crate::arch::power::Conduit;
use fdt::node::FdtNode;
use fdt::Fdt;

/// A physical address range `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PhysRange {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

impl PhysRange {
    /// The range of `size` bytes at `start` (saturating at the top).
    pub fn new(start: u64, size: u64) -> Self {
        Self {
            start,
            end: start.saturating_add(size),
        }
    }

    /// Its length in bytes.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Whether it holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// Whether the two ranges share a byte.
    pub fn overlaps(&self, other: &PhysRange) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// Whether `addr` lies inside.
    pub fn contains(&self, addr: u64) -> bool {
        (self.start..self.end).contains(&addr)
    }
}

/// A list of ranges with room for `N`.
#[derive(Clone, Debug)]
pub struct RangeList<const N: usize> {
    items: [PhysRange; N],
    len: usize,
}

impl<const N: usize> RangeList<N> {
    /// An empty list.
    pub const fn new() -> Self {
        Self {
            items: [PhysRange { start: 0, end: 0 }; N],
            len: 0,
        }
    }

    /// Appends a range; fails when the list is full.
    pub fn push(&mut self, range: PhysRange) -> Result<(), DtError> {
        let slot = self.items.get_mut(self.len).ok_or(DtError::TooManyRanges)?;
        *slot = range;
        self.len += 1;
        Ok(())
    }

    /// The ranges.
    pub fn as_slice(&self) -> &[PhysRange] {
        &self.items[..self.len]
    }
}

impl<const N: usize> Default for RangeList<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// The interrupt controller and where its registers are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GicInfo {
    /// GICv2: distributor and CPU interface.
    V2 {
        /// GICD.
        distributor: PhysRange,
        /// GICC.
        cpu_interface: PhysRange,
    },
    /// GICv3: distributor and redistributors (CPU interface via `ICC_*`).
    V3 {
        /// GICD.
        distributor: PhysRange,
        /// GICR, all CPUs' frames.
        redistributors: PhysRange,
    },
}

impl GicInfo {
    /// The architecture version, 2 or 3.
    pub fn version(&self) -> u8 {
        match self {
            Self::V2 { .. } => 2,
            Self::V3 { .. } => 3,
        }
    }
}

/// The generic timer's interrupts, as PPI numbers (INTID = 16 + PPI).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerInfo {
    /// Non-secure EL1 physical timer.
    pub physical_ppi: u32,
    /// Virtual timer.
    pub virtual_ppi: u32,
}

/// Why a device tree could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DtError {
    /// The blob is not a valid flattened device tree.
    BadBlob,
    /// It describes no memory.
    NoMemory,
    /// More ranges than the kernel keeps.
    TooManyRanges,
}

/// The platform as the device tree describes it.
#[derive(Clone, Debug)]
pub struct Platform<'a> {
    /// The board's model string.
    pub model: &'a str,
    /// RAM.
    pub memory: RangeList<8>,
    /// `/memreserve/` entries and `/reserved-memory` children.
    pub reserved: RangeList<16>,
    /// `/chosen/bootargs`.
    pub bootargs: &'a str,
    /// `/chosen/stdout-path`, options cut off.
    pub stdout_path: Option<&'a str>,
    /// The PL011 to use as console: stdout-path's if it is a PL011, else the first.
    pub uart: Option<PhysRange>,
    /// The GIC.
    pub gic: Option<GicInfo>,
    /// The generic timer's interrupts.
    pub timer: Option<TimerInfo>,
    /// How to reach PSCI.
    pub psci: Option<Conduit>,
    /// The blob itself.
    pub blob: PhysRange,
}

const GICV2_COMPATIBLE: &[&str] = &["arm,gic-400", "arm,cortex-a15-gic", "arm,cortex-a9-gic"];
const GICV3_COMPATIBLE: &[&str] = &["arm,gic-v3"];
const TIMER_COMPATIBLE: &[&str] = &["arm,armv8-timer", "arm,armv7-timer"];
const PL011_COMPATIBLE: &str = "arm,pl011";

/// Parses the device tree whose blob starts at physical address `addr`.
///
/// # Safety
/// `addr` must point at readable memory holding a device tree (its header
/// is checked), which stays untouched for the kernel's lifetime.
pub unsafe fn parse_at(addr: u64) -> Result<Platform<'static>, DtError> {
    // SAFETY: the caller vouches that a header is readable at `addr`.
    let fdt = unsafe { Fdt::from_ptr(addr as *const u8) }.map_err(|_| DtError::BadBlob)?;
    // SAFETY: the header checked out; the blob is `total_size` bytes long.
    let blob = unsafe { core::slice::from_raw_parts(addr as *const u8, fdt.total_size()) };
    parse(blob, addr)
}

/// Parses a device tree blob that lives at physical address `addr`.
pub fn parse(blob: &[u8], addr: u64) -> Result<Platform<'_>, DtError> {
    let fdt = Fdt::new(blob).map_err(|_| DtError::BadBlob)?;

    let mut memory = RangeList::new();
    for node in fdt.all_nodes() {
        let is_memory = node.property("device_type").and_then(|p| p.as_str()) == Some("memory");
        if is_memory {
            for region in node.reg().into_iter().flatten() {
                memory.push(PhysRange::new(
                    region.starting_address as u64,
                    region.size.unwrap_or(0) as u64,
                ))?;
            }
        }
    }
    if memory.as_slice().iter().all(PhysRange::is_empty) {
        return Err(DtError::NoMemory);
    }

    let mut reserved = RangeList::new();
    for r in fdt.memory_reservations() {
        reserved.push(PhysRange::new(r.address() as u64, r.size() as u64))?;
    }
    if let Some(node) = fdt.find_node("/reserved-memory") {
        for child in node.children() {
            for region in child.reg().into_iter().flatten() {
                reserved.push(PhysRange::new(
                    region.starting_address as u64,
                    region.size.unwrap_or(0) as u64,
                ))?;
            }
        }
    }

    let chosen = fdt.find_node("/chosen");
    let chosen_str = |name: &str| {
        chosen
            .and_then(|c| c.property(name))
            .and_then(|p| p.as_str())
    };
    let bootargs = chosen_str("bootargs").unwrap_or("");
    let stdout_path = chosen_str("stdout-path").map(|p| p.split(':').next().unwrap_or(p));

    let is_pl011 = |n: &FdtNode| {
        n.compatible()
            .is_some_and(|c| c.all().any(|s| s == PL011_COMPATIBLE))
    };
    let uart_node = stdout_path
        .and_then(|path| fdt.find_node(path))
        .filter(is_pl011)
        .or_else(|| fdt.find_compatible(&[PL011_COMPATIBLE]));
    let uart = uart_node.and_then(|n| first_reg(&n, 0));

    let gic = if let Some(node) = fdt.find_compatible(GICV3_COMPATIBLE) {
        Some(GicInfo::V3 {
            distributor: first_reg(&node, 0).ok_or(DtError::BadBlob)?,
            redistributors: first_reg(&node, 1).ok_or(DtError::BadBlob)?,
        })
    } else if let Some(node) = fdt.find_compatible(GICV2_COMPATIBLE) {
        Some(GicInfo::V2 {
            distributor: first_reg(&node, 0).ok_or(DtError::BadBlob)?,
            cpu_interface: first_reg(&node, 1).ok_or(DtError::BadBlob)?,
        })
    } else {
        None
    };

    let timer = fdt
        .find_compatible(TIMER_COMPATIBLE)
        .and_then(|node| timer_ppis(&node));

    let psci = fdt
        .find_node("/psci")
        .and_then(|n| n.property("method"))
        .and_then(|p| p.as_str())
        .and_then(Conduit::from_method);

    let model = fdt
        .root()
        .property("model")
        .and_then(|p| p.as_str())
        .unwrap_or("unknown");

    Ok(Platform {
        model,
        memory,
        reserved,
        bootargs,
        stdout_path,
        uart,
        gic,
        timer,
        psci,
        blob: PhysRange::new(addr, fdt.total_size() as u64),
    })
}

/// The `index`th `reg` entry of `node` as a range.
fn first_reg(node: &FdtNode, index: usize) -> Option<PhysRange> {
    let region = node.reg()?.nth(index)?;
    Some(PhysRange::new(
        region.starting_address as u64,
        region.size.unwrap_or(0) as u64,
    ))
}

/// The timer node lists four interrupts, each `<type number flags>`: secure
/// physical, non-secure physical, virtual, hypervisor physical.
fn timer_ppis(node: &FdtNode) -> Option<TimerInfo> {
    const CELLS: usize = 3;
    const NONSECURE_PHYSICAL: usize = 1;
    const VIRTUAL: usize = 2;
    let value = node.property("interrupts")?.value;
    let cell = |i: usize| -> Option<u32> {
        let bytes = value.get(i * 4..i * 4 + 4)?;
        Some(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    };
    Some(TimerInfo {
        physical_ppi: cell(NONSECURE_PHYSICAL * CELLS + 1)?,
        virtual_ppi: cell(VIRTUAL * CELLS + 1)?,
    })
}
