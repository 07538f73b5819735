//! What the kernel learns from the flattened device tree: memory, reserved
//! ranges, `/chosen`, the console UART, the GIC, the timer's interrupts and
//! PSCI. Parsed into fixed-size structures, because it runs before the heap
//! exists (the heap's place comes from here).
//!
//! Device addresses are bus addresses of the node's parent bus; they are
//! translated to CPU physical addresses through the `ranges` of every
//! ancestor (the Pi's peripherals sit at bus 0x7e00_0000, CPU 0xfe00_0000).
//!
//! A node is the kernel's only if it and its ancestors are available:
//! `status` absent, `"okay"` or `"ok"` (DTSpec 2.3.4). `secure-status` is
//! for the secure world and ignored: a tree from TrustZone firmware (QEMU
//! `virt,secure=on`, boards with secure memory) describes secure RAM and
//! secure-only devices as `status = "disabled"`. RAM in a disabled memory
//! node is never handed out, nor anything `/memreserve/` or a
//! `/reserved-memory` child names (`no-map` or not, available or not).
//!
//! The `fdt` crate checks the header and reads `/memreserve/`; the
//! structure block is walked here, because `fdt` 0.1.5 stops at (or panics
//! on) nodes replaced by `FDT_NOP` tokens, which QEMU's patched `raspi4b`
//! tree and the Pi firmware's edits contain.

use crate::arch::power::Conduit;
use core::ops::ControlFlow;
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

/// How a secondary CPU is started (its node's `enable-method`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnableMethod {
    /// PSCI `CPU_ON` through the `/psci` conduit (QEMU `virt`).
    Psci,
    /// The spin table: write the entry to `cpu-release-addr`, then `sev`
    /// (the Pi 4's firmware, QEMU `raspi4b`).
    SpinTable {
        /// Where the CPU waits for its entry address (physical).
        release_addr: u64,
    },
    /// None the kernel knows (or none given): the CPU stays off.
    Unknown,
}

/// One `/cpus/cpu@…` node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuNode {
    /// Its `reg`: the MPIDR affinity fields (Aff3 in bits 39:32).
    pub mpidr: u64,
    /// How to start it.
    pub enable: EnableMethod,
}

/// The CPUs the device tree lists, in its order (at most [`MAX_CPU_NODES`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuList {
    nodes: [Option<CpuNode>; MAX_CPU_NODES],
    /// Available CPU nodes beyond [`MAX_CPU_NODES`], left out.
    pub left_out: usize,
}

/// How many CPU nodes the kernel keeps.
pub const MAX_CPU_NODES: usize = 8;

impl CpuList {
    /// Adds a CPU after those listed (counted in `left_out` if full).
    pub fn push(&mut self, node: CpuNode) {
        match self.nodes.iter_mut().find(|n| n.is_none()) {
            Some(slot) => *slot = Some(node),
            None => self.left_out += 1,
        }
    }

    /// The CPU nodes, in device-tree order.
    pub fn iter(&self) -> impl Iterator<Item = CpuNode> + '_ {
        self.nodes.iter().map_while(|n| *n)
    }
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
pub struct Hardware<'a> {
    /// The board's model string.
    pub model: &'a str,
    /// The root's `compatible` strings, NUL-separated (see [`Hardware::is_compatible`]).
    pub compatible: &'a str,
    /// RAM: the available memory nodes.
    pub memory: RangeList<8>,
    /// `/memreserve/` entries, `/reserved-memory` children, and disabled
    /// memory nodes that overlap [`Hardware::memory`].
    pub reserved: RangeList<16>,
    /// `/chosen/bootargs`.
    pub bootargs: &'a str,
    /// `/chosen/stdout-path`, options cut off.
    pub stdout_path: Option<&'a str>,
    /// The PL011 to use as console: stdout-path's if it is an available
    /// PL011, else the first available one.
    pub uart: Option<PhysRange>,
    /// The GIC.
    pub gic: Option<GicInfo>,
    /// The generic timer's interrupts.
    pub timer: Option<TimerInfo>,
    /// How to reach PSCI.
    pub psci: Option<Conduit>,
    /// The available CPU nodes.
    pub cpus: CpuList,
    /// The blob itself.
    pub blob: PhysRange,
}

impl Hardware<'_> {
    /// Whether the root node lists `compatible` among its compatible strings.
    pub fn is_compatible(&self, compatible: &str) -> bool {
        self.compatible
            .split('\0')
            .any(|c| !c.is_empty() && c == compatible)
    }
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
pub unsafe fn parse_at(addr: u64) -> Result<Hardware<'static>, DtError> {
    // SAFETY: the caller vouches that a header is readable at `addr`.
    let fdt = unsafe { Fdt::from_ptr(addr as *const u8) }.map_err(|_| DtError::BadBlob)?;
    // SAFETY: the header checked out; the blob is `total_size` bytes long.
    let blob = unsafe { core::slice::from_raw_parts(addr as *const u8, fdt.total_size()) };
    parse(blob, addr)
}

/// Parses a device tree blob that lives at physical address `addr`.
pub fn parse(blob: &[u8], addr: u64) -> Result<Hardware<'_>, DtError> {
    let fdt = Fdt::new(blob).map_err(|_| DtError::BadBlob)?;
    let blob = blob.get(..fdt.total_size()).ok_or(DtError::BadBlob)?;

    let mut memory = RangeList::new();
    let mut reserved = RangeList::new();
    // Memory nodes that are not ours (secure RAM): kept out of `memory`,
    // and reserved wherever an available node overlaps them.
    let mut withheld = RangeList::<8>::new();
    for r in fdt.memory_reservations().filter(|r| r.size() > 0) {
        reserved.push(PhysRange::new(r.address() as u64, r.size() as u64))?;
    }

    let mut error = None;
    let mut root = None;
    let mut chosen = None;
    let mut psci = None;
    let mut gic_v2 = None;
    let mut gic_v3 = None;
    let mut timer = None;
    let mut first_pl011 = None;
    let mut aliases = None;
    let mut cpus = CpuList::default();
    let walked = nodes(blob, |chain| {
        let node = &chain[chain.len() - 1];
        let mut keep = |list: Result<(), DtError>| {
            if let Err(e) = list {
                error.get_or_insert(e);
            }
        };
        let available = node.available;
        match (chain.len(), node.name) {
            (1, _) => root = Some(*node),
            (2, b"chosen") => chosen = Some(*node),
            (2, b"aliases") => aliases = Some(*node),
            (2, b"psci") if available => psci = Some(*node),
            _ => {}
        }
        if node
            .known
            .device_type
            .is_some_and(|t| t.split(|&b| b == 0).next() == Some(b"memory"))
        {
            let list = if available {
                &mut memory
            } else {
                &mut withheld
            };
            for region in reg(chain) {
                keep(list.push(region));
            }
        }
        if chain.len() == 3 && chain[1].name == b"reserved-memory" {
            // Firmware fills some in (the Pi's `nvram@0`); empty ones reserve nothing.
            for region in reg(chain).filter(|r| !r.is_empty()) {
                keep(reserved.push(region));
            }
        }
        if !available {
            return ControlFlow::Continue(());
        }
        if chain.len() == 3 && chain[1].name == b"cpus" {
            if let Some(cpu) = cpu_node(chain) {
                cpus.push(cpu);
            }
        }
        // One pass over the node's compatible strings for all four.
        let [is_gic_v3, is_gic_v2, is_timer, is_pl011] = node.compatible_with([
            GICV3_COMPATIBLE,
            GICV2_COMPATIBLE,
            TIMER_COMPATIBLE,
            &[PL011_COMPATIBLE],
        ]);
        if gic_v3.is_none() && is_gic_v3 {
            gic_v3 = Some((reg(chain).next(), reg(chain).nth(1)));
        }
        if gic_v2.is_none() && is_gic_v2 {
            gic_v2 = Some((reg(chain).next(), reg(chain).nth(1)));
        }
        if timer.is_none() && is_timer {
            timer = timer_ppis(node);
        }
        if first_pl011.is_none() && is_pl011 {
            first_pl011 = reg(chain).next();
        }
        ControlFlow::<()>::Continue(())
    });
    if walked.is_some() {
        // Only a malformed block stops the walk early.
        return Err(DtError::BadBlob);
    }
    if let Some(e) = error {
        return Err(e);
    }
    if memory.as_slice().iter().all(PhysRange::is_empty) {
        return Err(DtError::NoMemory);
    }
    let root = root.ok_or(DtError::BadBlob)?;
    for w in withheld.as_slice() {
        if memory.as_slice().iter().any(|m| m.overlaps(w)) {
            reserved.push(*w)?;
        }
    }

    let bootargs = chosen.and_then(|c| c.prop_str("bootargs")).unwrap_or("");
    let stdout_path = chosen
        .and_then(|c| c.prop_str("stdout-path"))
        .map(|p| p.split(':').next().unwrap_or(p));
    let stdout_uart = stdout_path.and_then(|path| {
        let path = if path.starts_with('/') {
            path
        } else {
            // An alias, e.g. the Pi's `serial1`.
            aliases?.prop_str(path)?
        };
        at_path(blob, path, |chain| {
            (chain[chain.len() - 1].is_compatible(&[PL011_COMPATIBLE])
                && chain[chain.len() - 1].available)
                .then(|| reg(chain).next())
                .flatten()
        })
    });
    let uart = stdout_uart.or(first_pl011);

    let gic = match (gic_v3, gic_v2) {
        (Some((distributor, redistributors)), _) => Some(GicInfo::V3 {
            distributor: distributor.ok_or(DtError::BadBlob)?,
            redistributors: redistributors.ok_or(DtError::BadBlob)?,
        }),
        (None, Some((distributor, cpu_interface))) => Some(GicInfo::V2 {
            distributor: distributor.ok_or(DtError::BadBlob)?,
            cpu_interface: cpu_interface.ok_or(DtError::BadBlob)?,
        }),
        (None, None) => None,
    };

    let psci = psci
        .and_then(|n| n.prop_str("method"))
        .and_then(Conduit::from_method);
    let model = root.prop_str("model").unwrap_or("unknown");
    let compatible = root
        .prop("compatible")
        .and_then(|v| core::str::from_utf8(v).ok())
        .unwrap_or("");

    Ok(Hardware {
        model,
        compatible,
        memory,
        reserved,
        bootargs,
        stdout_path,
        uart,
        gic,
        timer,
        psci,
        cpus,
        blob: PhysRange::new(addr, fdt.total_size() as u64),
    })
}

/// How deep a node may sit for the kernel to look at it.
const MAX_DEPTH: usize = 8;

/// Flattened device tree structure tokens (DTSpec 5.4.1).
const FDT_BEGIN_NODE: u32 = 1;
const FDT_END_NODE: u32 = 2;
const FDT_PROP: u32 = 3;
const FDT_NOP: u32 = 4;
/// Header offsets of the structure and strings blocks.
const OFF_DT_STRUCT: usize = 8;
const OFF_DT_STRINGS: usize = 12;

/// A node of the structure block: its name, where its properties start,
/// and the properties the kernel reads from most nodes, found in the one
/// pass over them that the walk makes anyway ([`scan_props`]). (Before
/// the MMU is on every load goes to memory: looking each property up
/// again, for every node and each of its ancestors, was most of the boot.)
#[derive(Clone, Copy)]
struct Node<'a> {
    blob: &'a [u8],
    /// The name, unit address included.
    name: &'a [u8],
    /// Offset of the first token after the name.
    props: usize,
    /// Its commonly read properties.
    known: Known<'a>,
    /// Whether it and every ancestor are available (DTSpec 2.3.4).
    available: bool,
}

/// The properties [`scan_props`] keeps, by name.
#[derive(Clone, Copy, Default)]
struct Known<'a> {
    status: Option<&'a [u8]>,
    device_type: Option<&'a [u8]>,
    compatible: Option<&'a [u8]>,
    reg: Option<&'a [u8]>,
    ranges: Option<&'a [u8]>,
    interrupts: Option<&'a [u8]>,
    address_cells: Option<&'a [u8]>,
    size_cells: Option<&'a [u8]>,
}

/// The names of [`Known`]'s fields, in a property's `kind` order.
const KNOWN_NAMES: [&[u8]; 8] = [
    b"status",
    b"device_type",
    b"compatible",
    b"reg",
    b"ranges",
    b"interrupts",
    b"#address-cells",
    b"#size-cells",
];
/// A property name that is none of [`KNOWN_NAMES`].
const UNKNOWN: u8 = u8::MAX;

/// Which of [`KNOWN_NAMES`] the name at each strings-block offset is:
/// trees share one copy of each name, so a walk compares each distinct
/// name once. Direct-mapped; an entry is (offset + 1, kind), 0 when empty.
struct NameKinds([(u32, u8); 64]);

impl NameKinds {
    fn new() -> Self {
        Self([(0, 0); 64])
    }

    /// The kind of the property named at `nameoff` in the strings block.
    fn kind(&mut self, blob: &[u8], strings: usize, nameoff: u32) -> Option<u8> {
        let slot = &mut self.0[(nameoff as usize ^ (nameoff as usize >> 6)) % 64];
        if slot.0 == nameoff.wrapping_add(1) {
            return Some(slot.1);
        }
        let name = c_str(blob, strings + nameoff as usize)?;
        let kind = KNOWN_NAMES
            .iter()
            .position(|&k| k == name)
            .map_or(UNKNOWN, |k| k as u8);
        *slot = (nameoff.wrapping_add(1), kind);
        Some(kind)
    }
}

/// One pass over the properties starting at `at`: fills in `k` with the
/// [`Known`] ones (the first of each name); returns where they end.
fn scan_props<'a>(
    blob: &'a [u8],
    mut at: usize,
    strings: usize,
    kinds: &mut NameKinds,
    k: &mut Known<'a>,
) -> Option<usize> {
    *k = Known::default();
    loop {
        match be32(blob, at)? {
            FDT_NOP => at += 4,
            FDT_PROP => {
                let len = be32(blob, at + 4)? as usize;
                let kind = kinds.kind(blob, strings, be32(blob, at + 8)?)?;
                let value = blob.get(at + 12..at + 12 + len)?;
                let field = match kind {
                    0 => &mut k.status,
                    1 => &mut k.device_type,
                    2 => &mut k.compatible,
                    3 => &mut k.reg,
                    4 => &mut k.ranges,
                    5 => &mut k.interrupts,
                    6 => &mut k.address_cells,
                    7 => &mut k.size_cells,
                    _ => {
                        at = (at + 12 + len).next_multiple_of(4);
                        continue;
                    }
                };
                field.get_or_insert(value);
                at = (at + 12 + len).next_multiple_of(4);
            }
            // Properties come before child nodes.
            _ => return Some(at),
        }
    }
}

/// Whether a `status` value (or its absence) means available: absent,
/// `"okay"` or `"ok"`. `"disabled"`, `"reserved"`, `"fail"` and
/// `"fail-sss"` are not.
fn status_available(status: Option<&[u8]>) -> bool {
    match status {
        None => true,
        Some(value) => {
            let value = value.strip_suffix(&[0]).unwrap_or(value);
            value == b"okay" || value == b"ok"
        }
    }
}

/// Big-endian 32-bit word at `at`.
fn be32(blob: &[u8], at: usize) -> Option<u32> {
    let b = blob.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// The NUL-terminated string at `at`, without its NUL.
fn c_str(blob: &[u8], at: usize) -> Option<&[u8]> {
    let rest = blob.get(at..)?;
    Some(&rest[..rest.iter().position(|&b| b == 0)?])
}

impl<'a> Node<'a> {
    /// The value of property `name`.
    fn prop(&self, name: &str) -> Option<&'a [u8]> {
        let strings = be32(self.blob, OFF_DT_STRINGS)? as usize;
        let mut at = self.props;
        loop {
            match be32(self.blob, at)? {
                FDT_NOP => at += 4,
                FDT_PROP => {
                    let len = be32(self.blob, at + 4)? as usize;
                    let prop = c_str(self.blob, strings + be32(self.blob, at + 8)? as usize)?;
                    if prop == name.as_bytes() {
                        return self.blob.get(at + 12..at + 12 + len);
                    }
                    at = (at + 12 + len).next_multiple_of(4);
                }
                // Properties come before child nodes.
                _ => return None,
            }
        }
    }

    /// Property `name` as a string (up to its first NUL).
    fn prop_str(&self, name: &str) -> Option<&'a str> {
        let value = self.prop(name)?;
        let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
        core::str::from_utf8(&value[..end]).ok()
    }

    /// Whether `compatible` lists one of `any`.
    fn is_compatible(&self, any: &[&str]) -> bool {
        let [hit] = self.compatible_with([any]);
        hit
    }

    /// For each list of `lists`, whether `compatible` names one of its
    /// strings: one pass over the node's strings for all of them.
    fn compatible_with<const N: usize>(&self, lists: [&[&str]; N]) -> [bool; N] {
        let mut hits = [false; N];
        let Some(compatible) = self.known.compatible else {
            return hits;
        };
        for c in compatible.split(|&b| b == 0).filter(|c| !c.is_empty()) {
            for (hit, list) in hits.iter_mut().zip(lists) {
                *hit |= list.iter().any(|a| a.as_bytes() == c);
            }
        }
        hits
    }

    /// A one-cell property's value, or `default` (DTSpec 2.3.5: two
    /// address cells, one size cell).
    fn cells(value: Option<&[u8]>, default: usize) -> usize {
        value
            .and_then(|v| v.try_into().ok())
            .map_or(default, |v| u32::from_be_bytes(v) as usize)
    }

    fn address_cells(&self) -> usize {
        Self::cells(self.known.address_cells, 2)
    }

    fn size_cells(&self) -> usize {
        Self::cells(self.known.size_cells, 1)
    }
}

/// Calls `visit` with each node's chain (root first, the node last) in
/// tree order, until it breaks; `None` if the block ends first. Nodes
/// deeper than [`MAX_DEPTH`] are not visited.
fn nodes<'a, R>(blob: &'a [u8], mut visit: impl FnMut(&[Node<'a>]) -> ControlFlow<R>) -> Option<R> {
    let mut chain = [Node {
        blob,
        name: &[],
        props: 0,
        known: Known::default(),
        available: true,
    }; MAX_DEPTH];
    let mut kinds = NameKinds::new();
    let strings = be32(blob, OFF_DT_STRINGS)? as usize;
    let mut open = 0usize;
    let mut at = be32(blob, OFF_DT_STRUCT)? as usize;
    loop {
        let token = be32(blob, at)?;
        at += 4;
        match token {
            FDT_BEGIN_NODE => {
                let name = c_str(blob, at)?;
                at = (at + name.len() + 1).next_multiple_of(4);
                if open < MAX_DEPTH {
                    // Filled in where it lies: a node is too big to copy
                    // around for every node of the tree.
                    let parent_available = open.checked_sub(1).is_none_or(|p| chain[p].available);
                    let node = &mut chain[open];
                    node.name = name;
                    node.props = at;
                    at = scan_props(blob, at, strings, &mut kinds, &mut node.known)?;
                    node.available = parent_available && status_available(node.known.status);
                    if let ControlFlow::Break(result) = visit(&chain[..=open]) {
                        return Some(result);
                    }
                } else {
                    at = scan_props(blob, at, strings, &mut kinds, &mut Known::default())?;
                }
                open += 1;
            }
            FDT_END_NODE => open = open.checked_sub(1)?,
            FDT_PROP => {
                let len = be32(blob, at)? as usize;
                at = (at + 8 + len).next_multiple_of(4);
            }
            FDT_NOP => {}
            // FDT_END, or garbage.
            _ => return None,
        }
    }
}

/// `f` applied to the chain of the node at `path`.
fn at_path<'a, R>(blob: &'a [u8], path: &str, f: impl Fn(&[Node<'a>]) -> Option<R>) -> Option<R> {
    let wanted = || path.split('/').filter(|c| !c.is_empty());
    let depth = wanted().count() + 1;
    nodes(blob, |chain| {
        let hit = chain.len() == depth
            && chain[1..]
                .iter()
                .zip(wanted())
                .all(|(node, c)| name_matches(node.name, c));
        if hit {
            ControlFlow::Break(f(chain))
        } else {
            ControlFlow::Continue(())
        }
    })
    .flatten()
}

/// Whether a node called `name` matches the path component `component`:
/// exactly, or by name alone when the component has no unit address.
fn name_matches(name: &[u8], component: &str) -> bool {
    let component = component.as_bytes();
    name == component
        || (!component.contains(&b'@') && name.split(|&b| b == b'@').next() == Some(component))
}

/// The `reg` entries of the last node of `chain`, as CPU physical ranges:
/// decoded with the parent's cells, translated through the ancestors'
/// `ranges`. Entries that do not translate are left out.
fn reg<'c>(chain: &'c [Node<'_>]) -> impl Iterator<Item = PhysRange> + 'c {
    let node = chain[chain.len() - 1];
    let parent = chain.len().checked_sub(2).map(|i| chain[i]);
    let address_cells = parent.map_or(2, |p| p.address_cells());
    let size_cells = parent.map_or(1, |p| p.size_cells());
    let entry = (address_cells + size_cells) * 4;
    let value = node.known.reg.unwrap_or(&[]);
    let chunks = if entry == 0 {
        [].chunks_exact(1)
    } else {
        value.chunks_exact(entry)
    };
    chunks.filter_map(move |e| {
        let (address, size) = e.split_at(address_cells * 4);
        let start = translate(chain, cells(address)?)?;
        Some(PhysRange::new(start, cells(size)?))
    })
}

/// Translates `addr`, an address on the parent bus of `chain`'s last node,
/// to a CPU physical address through the `ranges` of each ancestor below
/// the root (DTSpec 2.3.8). `None` if an ancestor has no `ranges` (its bus
/// is not memory mapped) or none of its entries covers `addr`.
fn translate(chain: &[Node], addr: u64) -> Option<u64> {
    let mut addr = addr;
    for level in (1..chain.len().saturating_sub(1)).rev() {
        addr = through_ranges(&chain[level], &chain[level - 1], addr)?;
    }
    Some(addr)
}

/// Maps `addr` on `bus`'s child address space to `parent`'s through `bus`'s
/// `ranges`: entries of (child address, parent address, size); an empty
/// `ranges` is the identity.
fn through_ranges(bus: &Node, parent: &Node, addr: u64) -> Option<u64> {
    let ranges = bus.known.ranges?;
    if ranges.is_empty() {
        return Some(addr);
    }
    let child_cells = bus.address_cells();
    let size_cells = bus.size_cells();
    let parent_cells = parent.address_cells();
    let entry_cells = child_cells + parent_cells + size_cells;
    if entry_cells == 0 {
        return None;
    }
    for entry in ranges.chunks_exact(entry_cells * 4) {
        let (child, rest) = entry.split_at(child_cells * 4);
        let (parent_addr, size) = rest.split_at(parent_cells * 4);
        let (child, parent_addr, size) = (cells(child)?, cells(parent_addr)?, cells(size)?);
        if addr >= child && addr - child < size {
            return Some(parent_addr + (addr - child));
        }
    }
    None
}

/// A big-endian number of at most two 32-bit cells.
fn cells(bytes: &[u8]) -> Option<u64> {
    if bytes.len() > 8 {
        return None;
    }
    Some(bytes.chunks_exact(4).fold(0, |acc, c| {
        (acc << 32) | u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
    }))
}

/// A `/cpus` child whose `device_type` is `cpu`: its MPIDR (`reg`, in the
/// parent's address cells) and enable method.
fn cpu_node(chain: &[Node]) -> Option<CpuNode> {
    let node = &chain[2];
    let is_cpu = node
        .known
        .device_type
        .is_some_and(|t| t.split(|&b| b == 0).next() == Some(b"cpu"));
    if !is_cpu {
        return None;
    }
    let address_cells = chain[1].address_cells();
    let mpidr = cells(node.known.reg?.get(..address_cells * 4)?)?;
    let enable = match node.prop_str("enable-method") {
        Some("psci") => EnableMethod::Psci,
        Some("spin-table") => match node.prop("cpu-release-addr").and_then(cells) {
            Some(release_addr) => EnableMethod::SpinTable { release_addr },
            None => EnableMethod::Unknown,
        },
        _ => EnableMethod::Unknown,
    };
    Some(CpuNode { mpidr, enable })
}

/// The timer node lists four interrupts, each `<type number flags>`: secure
/// physical, non-secure physical, virtual, hypervisor physical.
fn timer_ppis(node: &Node) -> Option<TimerInfo> {
    const CELLS: usize = 3;
    const NONSECURE_PHYSICAL: usize = 1;
    const VIRTUAL: usize = 2;
    let value = node.known.interrupts?;
    let cell = |i: usize| -> Option<u32> {
        let bytes = value.get(i * 4..i * 4 + 4)?;
        Some(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    };
    Some(TimerInfo {
        physical_ppi: cell(NONSECURE_PHYSICAL * CELLS + 1)?,
        virtual_ppi: cell(VIRTUAL * CELLS + 1)?,
    })
}
