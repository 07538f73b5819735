//! Stage-1 translation for the EL1&0 regime: 4 KiB granule, 48-bit virtual
//! addresses, four levels, TTBR0 only (TTBR1 walks disabled), 16-bit
//! ASIDs where the CPU has them (else 8). The kernel's table (ASID 0, every
//! entry global) serves kernel threads; each task has its own table
//! (`vm::domain`, DESIGN.md: one address space, a view per task) whose
//! level-0 entries for the kernel and the EL0 image point at the kernel
//! table's own subtrees, and whose task entries are not global (tagged
//! with the task's ASID).
//!
//! The kernel's own tables are built before the MMU is on, before any lock
//! exists, from a pool of pages inside the image ([`PageTable::new_boot`]);
//! every later table page comes from the frame allocator. Either way
//! tables are reached through the identity map, so a table's physical
//! address is also its address.

use super::context::{cpu_index, MAX_CPUS};
use super::tlb::{self, TlbBatch};
use crate::mm::frame::{self, Frame};
use aarch64_cpu::asm::barrier;
use aarch64_cpu::registers::{ID_AA64MMFR0_EL1, MAIR_EL1, SCTLR_EL1, TCR_EL1, TTBR0_EL1};
use abi::{PAGE_SHIFT, PAGE_SIZE};
use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::register_bitfields;
use tock_registers::registers::InMemoryRegister;

register_bitfields! {u64,
    /// A stage-1 descriptor: table (levels 0–2), block (levels 1–2) or page (level 3).
    pub DESC [
        /// Unprivileged (EL0) execute-never.
        UXN OFFSET(54) NUMBITS(1) [],
        /// Privileged (EL1) execute-never.
        PXN OFFSET(53) NUMBITS(1) [],
        /// Output address bits 47:12: the next table, or the page or block.
        OUTPUT OFFSET(12) NUMBITS(36) [],
        /// Not global: tagged with the ASID (a task's own pages).
        NG OFFSET(11) NUMBITS(1) [],
        /// Access flag; set, so no access-flag faults.
        AF OFFSET(10) NUMBITS(1) [],
        /// Shareability.
        SH OFFSET(8) NUMBITS(2) [InnerShareable = 0b11],
        /// Access permissions.
        AP OFFSET(6) NUMBITS(2) [
            ReadWriteEl1 = 0b00,
            ReadWriteEl1El0 = 0b01,
            ReadOnlyEl1 = 0b10,
            ReadOnlyEl1El0 = 0b11
        ],
        /// Index into MAIR_EL1.
        ATTR OFFSET(2) NUMBITS(3) [Normal = 0, Device = 1],
        /// Block (levels 1–2) or table/page.
        TYPE OFFSET(1) NUMBITS(1) [Block = 0, TableOrPage = 1],
        /// Valid.
        VALID OFFSET(0) NUMBITS(1) [],
    ]
}

const ENTRIES: usize = 512;
/// Bits of VA each level's index takes (`ENTRIES` = 2^9).
const INDEX_BITS: u32 = ENTRIES.trailing_zeros();
/// VA bit where each level's index starts, level 0 first.
const LEVEL_SHIFT: [u32; 4] = [
    PAGE_SHIFT + 3 * INDEX_BITS,
    PAGE_SHIFT + 2 * INDEX_BITS,
    PAGE_SHIFT + INDEX_BITS,
    PAGE_SHIFT,
];
const _: () = assert!(
    DESC::OUTPUT.shift == PAGE_SHIFT as usize,
    "descriptors hold page frame numbers"
);
/// Bytes one entry spans at each level.
const fn span(level: usize) -> u64 {
    1 << LEVEL_SHIFT[level]
}
/// Virtual addresses are 48 bits: T0SZ = 64 − 48.
const VA_BITS: u64 = 48;

/// What a mapping is: memory type and permissions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attrs {
    /// Device-nGnRE rather than normal write-back memory.
    pub device: bool,
    /// Writable.
    pub write: bool,
    /// Executable (by EL1 for kernel mappings, by EL0 for user ones).
    pub execute: bool,
    /// Accessible from EL0. Kernel mappings never are.
    pub user: bool,
}

impl Attrs {
    /// Kernel text: read and execute.
    pub const KERNEL_TEXT: Self = Self {
        device: false,
        write: false,
        execute: true,
        user: false,
    };
    /// Kernel read-only data.
    pub const KERNEL_RODATA: Self = Self {
        device: false,
        write: false,
        execute: false,
        user: false,
    };
    /// Kernel data, heap, stacks, page tables: read and write, never executed.
    pub const KERNEL_DATA: Self = Self {
        device: false,
        write: true,
        execute: false,
        user: false,
    };
    /// MMIO.
    pub const DEVICE: Self = Self {
        device: true,
        write: true,
        execute: false,
        user: false,
    };

    /// A task mapping.
    pub const fn user(write: bool, execute: bool) -> Self {
        Self {
            device: false,
            write,
            execute,
            user: true,
        }
    }

    /// The leaf descriptor for `pa` with these attributes (a `const fn`, so
    /// hot paths can pick a precomputed one).
    const fn leaf(self, pa: u64, level: usize) -> u64 {
        let ap = match (self.user, self.write) {
            (false, true) => DESC::AP::ReadWriteEl1,
            (false, false) => DESC::AP::ReadOnlyEl1,
            (true, true) => DESC::AP::ReadWriteEl1El0,
            (true, false) => DESC::AP::ReadOnlyEl1El0,
        };
        let kind = if level == 3 {
            DESC::TYPE::TableOrPage
        } else {
            DESC::TYPE::Block
        };
        let attr = if self.device {
            DESC::ATTR::Device
        } else {
            DESC::ATTR::Normal
        };
        // EL1 never executes task memory; EL0 never executes kernel memory.
        let pxn = if self.execute && !self.user {
            DESC::PXN::CLEAR
        } else {
            DESC::PXN::SET
        };
        let uxn = if self.execute && self.user {
            DESC::UXN::CLEAR
        } else {
            DESC::UXN::SET
        };
        DESC::VALID::SET.value
            | kind.value
            | attr.value
            | ap.value
            | DESC::SH::InnerShareable.value
            | DESC::AF::SET.value
            | pxn.value
            | uxn.value
            | DESC::OUTPUT.val(pa >> PAGE_SHIFT).value
    }

    /// The attributes a leaf descriptor encodes.
    pub fn of_leaf(desc: u64) -> Self {
        let d: InMemoryRegister<u64, DESC::Register> = InMemoryRegister::new(desc);
        let (user, write) = match d.read_as_enum(DESC::AP) {
            Some(DESC::AP::Value::ReadWriteEl1) => (false, true),
            Some(DESC::AP::Value::ReadOnlyEl1) => (false, false),
            Some(DESC::AP::Value::ReadWriteEl1El0) => (true, true),
            Some(DESC::AP::Value::ReadOnlyEl1El0) | None => (true, false),
        };
        Self {
            device: d.matches_all(DESC::ATTR::Device),
            write,
            execute: if user {
                !d.is_set(DESC::UXN)
            } else {
                !d.is_set(DESC::PXN)
            },
            user,
        }
    }
}

fn table_descriptor(pa: u64) -> u64 {
    let d: InMemoryRegister<u64, DESC::Register> = InMemoryRegister::new(0);
    d.write(DESC::VALID::SET + DESC::TYPE::TableOrPage + DESC::OUTPUT.val(pa >> PAGE_SHIFT));
    d.get()
}

fn is_valid(desc: u64) -> bool {
    DESC::VALID.is_set(desc)
}

fn is_table(desc: u64, level: usize) -> bool {
    level < 3
        && is_valid(desc)
        && DESC::TYPE.read_as_enum(desc) == Some(DESC::TYPE::Value::TableOrPage)
}

fn output(desc: u64) -> u64 {
    DESC::OUTPUT.read(desc) << PAGE_SHIFT
}

fn index(va: u64, level: usize) -> usize {
    ((va >> LEVEL_SHIFT[level]) as usize) & (ENTRIES - 1)
}

/// The entry for `va` in the table at `table_pa`.
fn entry(table_pa: u64, va: u64, level: usize) -> *mut u64 {
    (table_pa as *mut u64).wrapping_add(index(va, level))
}

fn read(e: *mut u64) -> u64 {
    // SAFETY: `e` points into a live table page, reached through the identity map.
    unsafe { e.read_volatile() }
}

fn write(e: *mut u64, value: u64) {
    // SAFETY: `e` points into a live table page owned by the caller's `PageTable`.
    unsafe { e.write_volatile(value) }
}

/// Why a mapping could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// No frame for a table page.
    NoMemory,
    /// Something is mapped there already.
    AlreadyMapped,
    /// A task's table would need more new table pages than the map was
    /// allowed (its quota): nothing was changed.
    NeedsTables,
}

/// How many table pages the kernel's boot map may take: the root, one
/// level-1 table, a level-2 table per GiB that RAM or MMIO touches, a
/// level-3 table per 2 MiB that the image, a RAM edge or a device range
/// only partly covers. QEMU virt needs 9, the Pi 4 with 8 GiB about 20.
pub const BOOT_TABLE_PAGES: usize = 32;

/// One table page.
#[repr(C, align(4096))]
struct TablePage([u64; ENTRIES]);
const _: () = assert!(
    align_of::<TablePage>() as u64 == PAGE_SIZE && size_of::<TablePage>() as u64 == PAGE_SIZE
);

/// The boot map's table pages. Not in BSS: `boot.s` would zero (and
/// invalidate) all of them, and the boot map takes about a quarter (QEMU
/// virt 8 or 9 of the 32), so [`boot_pool_page`] readies each page it hands
/// out instead ([`ready_boot_page`]), some 15,000 instructions less boot.
struct BootPool(core::cell::UnsafeCell<core::mem::MaybeUninit<[TablePage; BOOT_TABLE_PAGES]>>);

// SAFETY: the pool is handed out page by page through `BOOT_POOL_USED`,
// before the MMU is on, by the one CPU then running; each page belongs to
// the table that took it.
unsafe impl Sync for BootPool {}

// In `.noinit` (the linker scripts): neither loaded nor zeroed.
#[link_section = ".noinit"]
static BOOT_POOL: BootPool =
    BootPool(core::cell::UnsafeCell::new(core::mem::MaybeUninit::uninit()));
/// Pages of [`BOOT_POOL`] handed out. Plain loads and stores only, never a
/// read-modify-write: it is used before the MMU is on.
static BOOT_POOL_USED: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// The next page of the boot pool, zeroed, if any is left.
fn boot_pool_page() -> Option<u64> {
    use core::sync::atomic::Ordering::Relaxed;
    let used = BOOT_POOL_USED.load(Relaxed);
    if used == BOOT_TABLE_PAGES {
        return None;
    }
    BOOT_POOL_USED.store(used + 1, Relaxed);
    let page = BOOT_POOL.0.get() as u64 + (used * PAGE_SIZE as usize) as u64;
    // SAFETY: the page was handed out just now, to this caller only.
    unsafe { ready_boot_page(page) };
    Some(page)
}

/// Makes the boot pool page at `page` zero, whether the data cache is on
/// or not (the kernel's table takes its pages from the pool before the MMU
/// is on and after): first drops every line a cache holds for it (a line
/// from before the kernel ran would be stale once memory is written with
/// the cache off, and a dirty one could later be written back over the
/// table), then zeroes it with plain stores, 64 bytes an iteration (not
/// `DC ZVA`, which faults on the Device memory that all data is with the
/// MMU off). Nothing was ever written to the page before: the lines it
/// drops hold nothing of the kernel's.
///
/// # Safety
/// `page` is a boot pool page nobody else uses.
unsafe fn ready_boot_page(page: u64) {
    let (line, _) = super::cache::line_sizes();
    let end = page + PAGE_SIZE;
    // SAFETY: `[page, end)` is the caller's page, identity-mapped (or the
    // MMU is off); invalidating its lines loses nothing (see above), and
    // the stores are 16-byte aligned, as Device memory needs.
    unsafe {
        core::arch::asm!(
            "mov {p}, {page}",
            "1: dc ivac, {p}",
            "add {p}, {p}, {line}",
            "cmp {p}, {end}",
            "b.lo 1b",
            "dsb sy",
            "mov {p}, {page}",
            "2: stp xzr, xzr, [{p}]",
            "stp xzr, xzr, [{p}, #16]",
            "stp xzr, xzr, [{p}, #32]",
            "stp xzr, xzr, [{p}, #48]",
            "add {p}, {p}, #64",
            "cmp {p}, {end}",
            "b.lo 2b",
            page = in(reg) page,
            end = in(reg) end,
            line = in(reg) line,
            p = out(reg) _,
            options(nostack),
        );
    }
}

/// Whether `page` is one of the boot pool's (they are never freed).
fn in_boot_pool(page: u64) -> bool {
    let start = BOOT_POOL.0.get() as u64;
    (start..start + (BOOT_TABLE_PAGES as u64) * PAGE_SIZE).contains(&page)
}

/// How many boot pool pages the kernel's map took.
pub fn boot_table_pages_used() -> usize {
    BOOT_POOL_USED.load(core::sync::atomic::Ordering::Relaxed)
}

/// Where a [`PageTable`] takes new table pages from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TableSource {
    /// The boot pool: before the MMU is on, no lock may be taken.
    BootPool,
    /// The frame allocator (it takes a lock).
    Frames,
}

/// A translation table hierarchy.
pub struct PageTable {
    root: u64,
    source: TableSource,
    /// Table pages owned, the root included.
    table_pages: usize,
    /// Per CPU, the last level-3 table [`Self::map_page`] walked to, as
    /// (`va` >> 21 of the 2 MiB it covers, its address); [`NO_HINT`] when
    /// none. Faults come in runs through one region, so most walks end here
    /// at once; each CPU's threads fault through their own. All cleared
    /// whenever a table page is unhooked.
    l3_hints: [(u64, u64); MAX_CPUS],
    /// OR-ed into every leaf: `DESC::NG` in a task's table, else 0.
    ng: u64,
    /// A task's table: its ASID context (`vm::domain`), whose low 16 bits
    /// tag its TLB entries; `None` for the kernel's (global entries).
    asid: Option<&'static core::sync::atomic::AtomicU64>,
    /// Level-0 entries below this index are shared between the kernel's
    /// table and every task's: never unhooked, never freed by a task's.
    shared_l0: usize,
}

/// [`PageTable::l3_hints`] when there is none (no VA has these top bits).
const NO_HINT: (u64, u64) = (u64::MAX, 0);

/// Level-3 descriptors of task pages without their address, by
/// `2 * write + execute`.
const USER_PAGE: [u64; 4] = [
    Attrs::user(false, false).leaf(0, 3),
    Attrs::user(false, true).leaf(0, 3),
    Attrs::user(true, false).leaf(0, 3),
    Attrs::user(true, true).leaf(0, 3),
];

/// The first half of break-before-make for the leaf entry `e` of `va`: the
/// entry is cleared and the TLB forgets it.
#[cold]
#[inline(never)]
fn break_leaf(e: *mut u64, va: u64, asid: Option<&'static core::sync::atomic::AtomicU64>) {
    write(e, 0);
    let mut tlb = batch_for(asid);
    tlb.leaf(va);
    tlb.flush();
}

/// A batch of invalidations for a table whose ASID context is `asid`
/// (`None`: the kernel's, global).
#[inline(always)]
fn batch_for(asid: Option<&'static core::sync::atomic::AtomicU64>) -> TlbBatch {
    match asid {
        Some(ctx) => TlbBatch::for_context(ctx),
        None => TlbBatch::new(),
    }
}

impl PageTable {
    /// An empty table whose pages come from the boot pool in the image,
    /// taking no lock: for the kernel's map, built before the MMU is on.
    /// `None` if the pool is used up.
    pub fn new_boot() -> Option<Self> {
        Some(Self {
            root: boot_pool_page()?,
            source: TableSource::BootPool,
            table_pages: 1,
            l3_hints: [NO_HINT; MAX_CPUS],
            ng: 0,
            asid: None,
            shared_l0: 0,
        })
    }

    /// A task's table: a fresh level-0 table whose first `shared_l0`
    /// entries are `kernel`'s (the kernel and the EL0 image: the subtrees
    /// are shared, not copied, so later changes below them show in both),
    /// with task pages tagged by the ASID in `asid`'s low 16 bits. `None`
    /// if no frame is free. `kernel` must hold a table for each of those
    /// entries that will ever be used (the kernel's are never unhooked).
    pub fn new_domain(
        kernel: &PageTable,
        shared_l0: usize,
        asid: &'static core::sync::atomic::AtomicU64,
    ) -> Option<Self> {
        let root = frame::alloc_zeroed()?.addr();
        for i in 0..shared_l0 {
            let k = (kernel.root as *mut u64).wrapping_add(i);
            write((root as *mut u64).wrapping_add(i), read(k));
        }
        // The copies reach memory before TTBR0 can name this table.
        barrier::dsb(barrier::ISHST);
        Some(Self {
            root,
            source: TableSource::Frames,
            table_pages: 1,
            l3_hints: [NO_HINT; MAX_CPUS],
            ng: DESC::NG::SET.value,
            asid: Some(asid),
            shared_l0,
        })
    }

    /// Makes sure the level-1 table covering `va` exists (so a task's
    /// table made later shares it).
    pub fn ensure_level1(&mut self, va: u64) -> Result<(), MapError> {
        self.table_for(va, 1).map(|_| ())
    }

    /// Level-0 entries below `n` are shared with tasks' tables from now
    /// on: their level-1 tables are never unhooked.
    pub fn share_level0(&mut self, n: usize) {
        self.shared_l0 = n;
    }

    /// A batch of invalidations for this table's entries.
    #[inline(always)]
    fn tlb(&self) -> TlbBatch {
        batch_for(self.asid)
    }

    /// Frees a task's table: every table page below its own level-0
    /// entries, and the root. The caller has invalidated its ASID on every
    /// CPU and no CPU's TTBR0 names it any more. Returns the pages freed.
    pub fn free_domain(self) -> usize {
        debug_assert!(self.asid.is_some());
        fn free_below(table: u64, level: usize) -> usize {
            let mut n = 0;
            for i in 0..ENTRIES {
                let d = read((table as *mut u64).wrapping_add(i));
                if is_table(d, level) {
                    n += free_below(output(d), level + 1);
                    // SAFETY: a table page of this hierarchy (none is
                    // shared below a task's own level-0 entries), unreachable
                    // now and flushed from every TLB.
                    unsafe { frame::free(Frame::from_addr(output(d))) };
                    n += 1;
                }
            }
            n
        }
        let mut n = 0;
        for i in self.shared_l0..ENTRIES {
            let d = read((self.root as *mut u64).wrapping_add(i));
            if is_table(d, 0) {
                n += free_below(output(d), 1);
                // SAFETY: as above.
                unsafe { frame::free(Frame::from_addr(output(d))) };
                n += 1;
            }
        }
        // SAFETY: as above: the root, named by no TTBR0.
        unsafe { frame::free(Frame::from_addr(self.root)) };
        n + 1
    }

    /// From now on new table pages come from the frame allocator (once it
    /// exists, with the MMU on). Pool pages already in use stay, for good.
    pub fn take_tables_from_frames(&mut self) {
        self.source = TableSource::Frames;
    }

    /// A zeroed page for a new table.
    fn new_table_page(&mut self) -> Option<u64> {
        match self.source {
            TableSource::BootPool => boot_pool_page(),
            TableSource::Frames => frame::alloc_zeroed().map(Frame::addr),
        }
    }

    /// The root table's physical address, for TTBR0.
    pub fn root(&self) -> u64 {
        self.root
    }

    /// How many table pages it holds, the root included.
    pub fn table_pages(&self) -> usize {
        self.table_pages
    }

    /// Whether its table pages are charged to a task: a task's table's
    /// are (the task's quota, through the object layer), the kernel's not.
    fn charged(&self) -> bool {
        self.asid.is_some()
    }

    /// How many charged table pages went since it held `before`
    /// ([`Self::table_pages`]): 0 for the kernel's table.
    pub fn charged_freed_since(&self, before: usize) -> u64 {
        if self.charged() {
            before.saturating_sub(self.table_pages) as u64
        } else {
            0
        }
    }

    /// Maps `[va, va + len)` to `[pa, pa + len)`, with 2 MiB blocks where
    /// both sides allow and `blocks` is set. Nothing may be mapped there
    /// yet. On failure nothing of the range stays mapped.
    pub fn map(
        &mut self,
        va: u64,
        pa: u64,
        len: u64,
        attrs: Attrs,
        blocks: bool,
    ) -> Result<(), MapError> {
        debug_assert!(
            va.is_multiple_of(PAGE_SIZE)
                && pa.is_multiple_of(PAGE_SIZE)
                && len.is_multiple_of(PAGE_SIZE)
        );
        let mut done = 0;
        while done < len {
            let (v, p) = (va + done, pa + done);
            let block = span(2);
            let result = if blocks && v % block == 0 && p % block == 0 && len - done >= block {
                self.map_one(v, p, 2, attrs).map(|()| block)
            } else {
                // Pages up to the end of this level-3 table: one walk for
                // all of them (the boot map's pages around the image).
                let run = (len - done).min(block - v % block);
                self.map_run(v, p, run, attrs)
            };
            match result {
                Ok(mapped) => done += mapped,
                Err(e) => {
                    self.unmap(va, done);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Maps `len` bytes of pages at `va`, all in one level-3 table; says
    /// how many it mapped (all of them, or none on an error).
    fn map_run(&mut self, va: u64, pa: u64, len: u64, attrs: Attrs) -> Result<u64, MapError> {
        let table = self.table_for(va, 3)?;
        let mut done = 0;
        while done < len {
            let e = entry(table, va + done, 3);
            if is_valid(read(e)) {
                self.unmap(va, done);
                return Err(MapError::AlreadyMapped);
            }
            write(e, attrs.leaf(pa + done, 3));
            done += PAGE_SIZE;
        }
        Ok(len)
    }

    /// Maps one page (level 3) or block (level 2) at `va`.
    fn map_one(&mut self, va: u64, pa: u64, level: usize, attrs: Attrs) -> Result<(), MapError> {
        let table = self.table_for(va, level)?;
        let e = entry(table, va, level);
        if is_valid(read(e)) {
            return Err(MapError::AlreadyMapped);
        }
        write(e, attrs.leaf(pa, level) | self.ng);
        Ok(())
    }

    /// Maps one page where nothing is mapped, or replaces what is mapped at
    /// `va` (break-before-make), then makes the change visible. In a task's
    /// table it makes no table page ([`MapError::NeedsTables`]).
    pub fn map_page(&mut self, va: u64, pa: u64, attrs: Attrs) -> Result<(), MapError> {
        self.set_page(va, attrs.leaf(pa, 3) | self.ng)
    }

    /// [`Self::map_page`] for a task page: the descriptor comes from a
    /// table built at compile time (this is the fault path's map). In a
    /// task's table it makes no table page: one that needs some is
    /// [`MapError::NeedsTables`], with nothing changed
    /// ([`Self::map_user_page_charged`] then).
    #[inline]
    pub fn map_user_page(
        &mut self,
        va: u64,
        pa: u64,
        write: bool,
        execute: bool,
    ) -> Result<(), MapError> {
        let template = USER_PAGE[2 * write as usize + execute as usize];
        self.set_page(
            va,
            template | self.ng | DESC::OUTPUT.val(pa >> PAGE_SHIFT).value,
        )
    }

    /// [`Self::map_user_page`] making at most `tables` new table pages in
    /// a task's table (its quota's room; the kernel's table takes any):
    /// returns how many it made there, or [`MapError::NeedsTables`] with
    /// nothing changed.
    pub fn map_user_page_charged(
        &mut self,
        va: u64,
        pa: u64,
        write: bool,
        execute: bool,
        tables: u64,
    ) -> Result<u64, MapError> {
        // The tables first (remembered in the hint, which the map finds).
        let (_, made) = self.l3_table(va, tables)?;
        self.map_user_page(va, pa, write, execute)?;
        Ok(made)
    }

    /// Writes the level-3 descriptor `desc` for `va` (break-before-make if
    /// something is there), then makes it visible.
    #[inline]
    fn set_page(&mut self, va: u64, desc: u64) -> Result<(), MapError> {
        let region = va >> LEVEL_SHIFT[2];
        let hint = self.l3_hints[cpu_index() % MAX_CPUS];
        let table = if hint.0 == region {
            hint.1
        } else {
            self.l3_table(va, 0)?.0
        };
        let e = entry(table, va, 3);
        let old = read(e);
        if is_valid(old) {
            if old == desc {
                // Another CPU's fault on the page made this very entry: no
                // break-before-make (its TLB entries stay right).
                return Ok(());
            }
            // Its DSBs also order the page's contents before the new entry.
            break_leaf(e, va, self.asid);
        } else {
            // The page's contents (a frame this CPU zeroed or copied just
            // now) before the entry that shows it: else another CPU's walk
            // could find the entry first and read the frame's old bytes.
            barrier::dmb(barrier::ISHST);
        }
        write(e, desc);
        // The new entry is visible to later walks once the store completes.
        barrier::dsb(barrier::ISHST);
        barrier::isb(barrier::SY);
        Ok(())
    }

    /// The level-3 table for `va`, created if need be; remembered in the
    /// hint. In a task's table at most `tables` new pages, all or none:
    /// their frames are taken before any is hooked. Returns the table and
    /// how many charged pages it made.
    #[cold]
    #[inline(never)]
    fn l3_table(&mut self, va: u64, tables: u64) -> Result<(u64, u64), MapError> {
        let (table, made) = if self.charged() {
            let missing = self.missing_tables(va, 3)?;
            if missing as u64 > tables {
                return Err(MapError::NeedsTables);
            }
            let mut pages = [0u64; 3];
            for i in 0..missing {
                let Some(page) = frame::alloc_zeroed() else {
                    for &page in &pages[..i] {
                        // SAFETY: a frame just taken and never hooked.
                        unsafe { frame::free(Frame::from_addr(page)) };
                    }
                    return Err(MapError::NoMemory);
                };
                pages[i] = page.addr();
            }
            (self.hook_tables(va, &pages[..missing]), missing as u64)
        } else {
            (self.table_for(va, 3)?, 0)
        };
        self.l3_hints[cpu_index() % MAX_CPUS] = (va >> LEVEL_SHIFT[2], table);
        Ok((table, made))
    }

    /// The level-3 table for `va`, hooking `pages` (zeroed, as many as
    /// [`Self::missing_tables`] said) as the tables missing on the way.
    fn hook_tables(&mut self, va: u64, pages: &[u64]) -> u64 {
        let mut table = self.root;
        let mut pages = pages.iter();
        for l in 0..3 {
            let e = entry(table, va, l);
            let d = read(e);
            table = if is_table(d, l) {
                output(d)
            } else {
                let page = *pages.next().expect("a page for each missing table");
                self.table_pages += 1;
                // As in `table_for`: the zeroes first.
                barrier::dsb(barrier::ISHST);
                write(e, table_descriptor(page));
                page
            };
        }
        table
    }

    /// How many tables [`Self::table_for`] would create for `va` at
    /// `level`.
    fn missing_tables(&self, va: u64, level: usize) -> Result<usize, MapError> {
        let mut table = self.root;
        for l in 0..level {
            let d = read(entry(table, va, l));
            if is_table(d, l) {
                table = output(d);
            } else if is_valid(d) {
                return Err(MapError::AlreadyMapped);
            } else {
                return Ok(level - l);
            }
        }
        Ok(0)
    }

    /// The table at `level` whose entries cover `va`, creating the tables
    /// on the way.
    fn table_for(&mut self, va: u64, level: usize) -> Result<u64, MapError> {
        let mut table = self.root;
        for l in 0..level {
            let e = entry(table, va, l);
            let d = read(e);
            table = if is_table(d, l) {
                output(d)
            } else if is_valid(d) {
                return Err(MapError::AlreadyMapped);
            } else {
                let page = self.new_table_page().ok_or(MapError::NoMemory)?;
                self.table_pages += 1;
                // The zeroes must reach memory before the descriptor that
                // makes a walker (speculative ones included) read them.
                barrier::dsb(barrier::ISHST);
                write(e, table_descriptor(page));
                page
            };
        }
        Ok(table)
    }

    /// The leaf descriptor mapping `va` and its level, if any.
    pub fn lookup(&self, va: u64) -> Option<(u64, usize)> {
        let mut table = self.root;
        for level in 0..4 {
            let d = read(entry(table, va, level));
            if !is_valid(d) {
                return None;
            }
            if !is_table(d, level) {
                return Some((d, level));
            }
            table = output(d);
        }
        None
    }

    /// The physical address `va` translates to, and the mapping's attributes.
    pub fn translate(&self, va: u64) -> Option<(u64, Attrs)> {
        let (d, level) = self.lookup(va)?;
        Some((output(d) + (va & (span(level) - 1)), Attrs::of_leaf(d)))
    }

    /// Unmaps every page in `[va, va + len)` (blocks must lie wholly inside
    /// or outside it), frees table pages left empty, and invalidates the
    /// TLB. Returns how many leaf entries went.
    pub fn unmap(&mut self, va: u64, len: u64) -> usize {
        let end = va.saturating_add(len);
        let mut left = usize::MAX;
        self.unmap_leaves(va, end, &mut left);
        usize::MAX - left
    }

    /// [`Self::unmap`] of at most `max` leaf entries (at least one): returns
    /// where it stopped, `va + len` once the range holds no leaf. Its cost
    /// grows with the leaves removed and the tables it passes through, not
    /// with the length of the range, so a huge sparse range goes in few
    /// calls.
    pub fn unmap_some(&mut self, va: u64, len: u64, max: usize) -> u64 {
        let mut left = max.max(1);
        self.unmap_leaves(va, va.saturating_add(len), &mut left)
    }

    /// Unmaps leaves of `[va, end)` while `left` lasts; returns where it
    /// stopped (`end` if it did not).
    fn unmap_leaves(&mut self, va: u64, end: u64, left: &mut usize) -> u64 {
        let mut tlb = self.tlb();
        let mut freed = FreedTables::new();
        let stopped = self.visit(
            self.root,
            0,
            va,
            end,
            left,
            &mut tlb,
            &mut freed,
            &mut |_, _| None,
        );
        tlb.flush();
        // Table pages go back only after no walker can still hold them.
        self.table_pages -= freed.release();
        stopped
    }

    /// Changes the attributes of every page mapped in `[va, va + len)`
    /// (break-before-make). Returns how many entries changed.
    pub fn protect(&mut self, va: u64, len: u64, attrs: Attrs) -> usize {
        let mut tlb = self.tlb();
        let mut freed = FreedTables::new();
        let ng = self.ng;
        let mut left = usize::MAX;
        self.visit(
            self.root,
            0,
            va,
            va.saturating_add(len),
            &mut left,
            &mut tlb,
            &mut freed,
            &mut |d, level| Some(attrs.leaf(output(d), level) | ng),
        );
        tlb.flush();
        self.table_pages -= freed.release();
        usize::MAX - left
    }

    /// Walks the leaves of `[start, end)` below `table` (at `level`). Each
    /// valid leaf is cleared, while `left` (counted down per leaf) lasts;
    /// `replace` may give a new descriptor for it, written after the TLB
    /// invalidation (break-before-make). Tables left empty are unhooked and
    /// queued for freeing. Returns where it stopped: `end`, or the first
    /// leaf it found with `left` at zero.
    #[allow(clippy::too_many_arguments)]
    fn visit(
        &mut self,
        table: u64,
        level: usize,
        start: u64,
        end: u64,
        left: &mut usize,
        tlb: &mut TlbBatch,
        freed: &mut FreedTables,
        replace: &mut dyn FnMut(u64, usize) -> Option<u64>,
    ) -> u64 {
        let mut stopped = end;
        let mut va = start;
        let mut rewrites: [(u64, u64); 8] = [(0, 0); 8];
        let mut pending = 0;
        while va < end {
            let next = ((va >> LEVEL_SHIFT[level]) + 1) << LEVEL_SHIFT[level];
            let e = entry(table, va, level);
            let d = read(e);
            if is_table(d, level) {
                let child = output(d);
                let at = self.visit(
                    child,
                    level + 1,
                    va,
                    end.min(next),
                    left,
                    tlb,
                    freed,
                    replace,
                );
                if at < end.min(next) {
                    stopped = at;
                }
                // Level-1 tables the kernel's table shares with every
                // task's stay.
                if (level > 0 || index(va, 0) >= self.shared_l0) && table_is_empty(child) {
                    self.l3_hints = [NO_HINT; MAX_CPUS];
                    write(e, 0);
                    tlb.table(va);
                    freed.push(child, tlb);
                }
                if stopped < end {
                    break;
                }
            } else if is_valid(d) {
                if *left == 0 {
                    stopped = va;
                    break;
                }
                *left -= 1;
                write(e, 0);
                tlb.leaf(va);
                if let Some(new) = replace(d, level) {
                    if pending == rewrites.len() {
                        tlb.flush();
                        for &(at, desc) in &rewrites {
                            write(at as *mut u64, desc);
                        }
                        pending = 0;
                    }
                    rewrites[pending] = (e as u64, new);
                    pending += 1;
                }
            }
            if next == 0 {
                break;
            }
            va = next;
        }
        if pending > 0 {
            tlb.flush();
            for &(at, desc) in &rewrites[..pending] {
                write(at as *mut u64, desc);
            }
            barrier::dsb(barrier::ISHST);
            barrier::isb(barrier::SY);
        }
        stopped
    }
}

fn table_is_empty(table: u64) -> bool {
    (0..ENTRIES).all(|i| !is_valid(read((table as *mut u64).wrapping_add(i))))
}

/// Table pages unhooked during one operation, freed after the TLB flush.
struct FreedTables {
    pages: [u64; 16],
    count: usize,
    total: usize,
}

impl FreedTables {
    fn new() -> Self {
        Self {
            pages: [0; 16],
            count: 0,
            total: 0,
        }
    }

    fn push(&mut self, page: u64, tlb: &mut TlbBatch) {
        if self.count == self.pages.len() {
            tlb.flush();
            self.total += self.release();
        }
        self.pages[self.count] = page;
        self.count += 1;
    }

    /// Frees the queued pages (the TLB has been flushed); returns how many.
    fn release(&mut self) -> usize {
        let n = self.count;
        for &page in &self.pages[..n] {
            if in_boot_pool(page) {
                // Not the frame allocator's: kept, never reused.
                continue;
            }
            // SAFETY: the page was a table of this hierarchy, now unhooked and
            // flushed from every TLB and walk cache.
            unsafe { frame::free(Frame::from_addr(page)) };
        }
        self.count = 0;
        let total = self.total + n;
        self.total = 0;
        total
    }
}

/// MAIR_EL1 index 0: normal memory, write-back, read/write-allocate.
/// Index 1: Device-nGnRE. Must match `DESC::ATTR`.
fn mair() -> u64 {
    let m: InMemoryRegister<u64, MAIR_EL1::Register> = InMemoryRegister::new(0);
    m.write(
        MAIR_EL1::Attr0_Normal_Outer::WriteBack_NonTransient_ReadWriteAlloc
            + MAIR_EL1::Attr0_Normal_Inner::WriteBack_NonTransient_ReadWriteAlloc
            + MAIR_EL1::Attr1_Device::nonGathering_nonReordering_EarlyWriteAck,
    );
    m.get()
}

/// Whether translation (and so normal, cacheable memory) is on.
pub static ENABLED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Invalidates `range` in the data caches to the point of coherency, so
/// that what was written there with the caches off is what cacheable reads
/// see: no stale line, loaded before or speculatively since, survives.
/// Only for memory written with the caches off (a dirty line is dropped).
fn invalidate_dcache_to_poc(range: core::ops::Range<u64>) {
    let (line, _) = tlb::cache_lines();
    barrier::dsb(barrier::SY);
    let mut p = range.start & !(line - 1);
    while p < range.end {
        // SAFETY: the caller's range holds nothing newer in the caches than
        // in memory (the caches are off); dropping lines loses nothing.
        unsafe { core::arch::asm!("dc ivac, {}", in(reg) p, options(nostack)) };
        p += line;
    }
    barrier::dsb(barrier::SY);
}

/// The ASIDs this CPU has: 16 bits if `ID_AA64MMFR0_EL1.ASIDBits` says so
/// (Cortex-A72), else 8.
pub fn asid_bits() -> u32 {
    if ID_AA64MMFR0_EL1.matches_all(ID_AA64MMFR0_EL1::ASIDBits::Bits_16) {
        16
    } else {
        8
    }
}

/// Makes `root` (with `asid` tagging its non-global entries) this CPU's
/// translation table. No TLB maintenance: entries of other ASIDs stay
/// and cannot match.
#[inline(always)]
pub fn set_ttbr0(root: u64, asid: u16) {
    TTBR0_EL1.write(TTBR0_EL1::BADDR.val(root >> 1) + TTBR0_EL1::ASID.val(u64::from(asid)));
    barrier::isb(barrier::SY);
}

/// Turns on translation with `table` as TTBR0, and the caches.
///
/// Everything the kernel wrote before (data, BSS, the boot stack, the boot
/// map's tables: `layout::written_before_mmu`; the whole image if `boot.s`
/// moved it, `relocated`) was written with the caches off, straight to
/// memory: those ranges are invalidated first, so no stale line
/// (speculatively loaded meanwhile, or left where a hypervisor made the
/// accesses cacheable) hides them from the cacheable accesses and table
/// walks that follow. Text and rodata of an image that did not move were
/// never written: the loader cleaned them to the point of coherency (the
/// arm64 boot protocol), so any line still cached matches memory; the
/// emergency stack and the guards are never touched with the caches off.
/// The device tree
/// was written by the loader, which cleaned it, and is never written by
/// the kernel.
///
/// # Safety
/// `table` must map the code, stack and data the kernel is using at their
/// current (identity) addresses; the MMU and caches must be off.
pub unsafe fn enable(table: &PageTable, relocated: bool) {
    if relocated {
        invalidate_dcache_to_poc(crate::layout::image());
    } else {
        for range in crate::layout::written_before_mmu() {
            invalidate_dcache_to_poc(range);
        }
    }
    // SAFETY: as this function's own contract.
    unsafe { turn_on(table.root()) };
}

/// Turns a secondary CPU's MMU and caches on with the kernel's table,
/// whose root is `root`, set up as [`enable`] set up the boot CPU's.
///
/// # Safety
/// As [`enable`], on a secondary CPU entered with the MMU off, after the
/// boot CPU enabled its own (the table is complete and written back).
/// Runs before this CPU's MMU is on: no lock, no atomic read-modify-write.
pub unsafe fn enable_secondary(root: u64) {
    // SAFETY: the caller upholds `turn_on`'s contract.
    unsafe { turn_on(root) };
}

/// The translation registers, then the MMU and caches, as on every CPU.
///
/// # Safety
/// `root` identity-maps the code running and its stack; the MMU is off.
unsafe fn turn_on(root: u64) {
    MAIR_EL1.set(mair());
    let ips = ID_AA64MMFR0_EL1.read(ID_AA64MMFR0_EL1::PARange);
    TCR_EL1.write(
        TCR_EL1::T0SZ.val(64 - VA_BITS)
            + TCR_EL1::TG0::KiB_4
            + TCR_EL1::SH0::Inner
            + TCR_EL1::ORGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable
            + TCR_EL1::IRGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable
            + TCR_EL1::EPD1::DisableTTBR1Walks
            + TCR_EL1::A1::TTBR0
            + if asid_bits() == 16 {
                TCR_EL1::AS::ASID16Bits
            } else {
                TCR_EL1::AS::ASID8Bits
            }
            + TCR_EL1::IPS.val(ips),
    );
    TTBR0_EL1.set_baddr(root);
    barrier::dsb(barrier::ISH);
    barrier::isb(barrier::SY);
    tlb::invalidate_all_local();
    // Instruction fetches were non-cacheable: nothing stale may hit once
    // the instruction cache is on.
    // SAFETY: invalidating the instruction cache only drops cached copies.
    unsafe { core::arch::asm!("ic iallu", options(nostack)) };
    barrier::dsb(barrier::NSH);
    SCTLR_EL1.set(super::boot::sctlr_el1_mmu_on());
    barrier::isb(barrier::SY);
    ENABLED.store(true, core::sync::atomic::Ordering::Relaxed);
}
