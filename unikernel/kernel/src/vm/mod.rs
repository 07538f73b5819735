//! The one address space: the kernel's identity map of RAM with W^X for its
//! own image, the MMIO it uses as device memory, kernel stacks with guards,
//! and the root VMAR for tasks, disjoint from all of them. Each task sees
//! it through its own table ([`domain`]).

pub mod domain;
pub mod fault;
pub mod kstack;

use crate::arch::mmu::{self, Attrs, MapError, PageTable};
use crate::devicetree::{GicInfo, Hardware, PhysRange};
use crate::layout;
use crate::mm::PAGE_SIZE;
use crate::sync::IrqMutex;
use alloc::vec::Vec;
use core::ops::Range;

/// The root VMAR: the only range tasks may use, `[1 TiB, 128 TiB)`, above
/// any RAM or MMIO of either board (DESIGN.md).
pub const USER_REGION: Range<u64> = (1 << 40)..(128 << 40);
/// Where kernel thread stacks are mapped, each in its own guarded slot.
pub const KERNEL_STACK_REGION: Range<u64> = (256 << 30)..(257 << 30);

/// Every translation table: the kernel's and each live task's.
pub struct Tables {
    kernel: PageTable,
    /// By slot ([`domain::SLOTS`]); empty until [`init`].
    domains: Vec<Option<PageTable>>,
}

static SPACE: IrqMutex<Option<Tables>> = crate::sync::ranked(crate::sync::Rank::PageTables, None);

#[inline(always)]
fn with_tables<R>(f: impl FnOnce(&mut Tables) -> R) -> R {
    let mut space = SPACE.lock();
    let Some(tables) = space.as_mut() else {
        crate::power::fail("the page table is used before the MMU is on");
    };
    f(tables)
}

/// Runs `f` on the kernel's page table, with interrupts masked.
#[inline(always)]
pub fn with_page_table<R>(f: impl FnOnce(&mut PageTable) -> R) -> R {
    with_tables(|t| f(&mut t.kernel))
}

/// Runs `f` on the table that holds translations for task address `va`
/// (its task's, or the kernel's: [`domain`]), with interrupts masked.
#[inline(always)]
pub fn with_table_for<R>(va: u64, f: impl FnOnce(&mut PageTable) -> R) -> R {
    // No closure of its own: the fault path's map stays inlined.
    let mut space = SPACE.lock();
    let Some(tables) = space.as_mut() else {
        crate::power::fail("the page table is used before the MMU is on");
    };
    f(domain::table_for(tables, va))
}

/// [`with_table_for`] with IRQs masked already: the object layer's
/// platform calls (the lock taken with [`crate::sync::lock_masked`]).
#[inline(always)]
pub fn with_table_masked<R>(va: u64, f: impl FnOnce(&mut PageTable) -> R) -> R {
    let mut space = crate::sync::lock_masked(&SPACE);
    let Some(tables) = space.as_mut() else {
        crate::power::fail("the page table is used before the MMU is on");
    };
    f(domain::table_for(tables, va))
}

/// Builds the kernel's translation tables and turns the MMU and caches on.
///
/// Runs before the MMU is on, so it takes no lock: the tables come from
/// the boot pool inside the image ([`PageTable::new_boot`]), not the frame
/// allocator, and the table is published only once the MMU is on.
/// `relocated`: `boot.s` moved the image (so all of it was written with
/// the caches off).
pub fn enable_mmu(platform: &Hardware, relocated: bool) {
    let Some(mut table) = PageTable::new_boot() else {
        crate::power::fail("no boot pool page for the root translation table");
    };
    let result = map_kernel(&mut table, platform);
    if let Err(e) = result {
        crate::error!(
            "kernel map: {e:?} ({} boot table pages)",
            mmu::BOOT_TABLE_PAGES
        );
        crate::power::fail("could not build the kernel's translation tables");
    }
    // SAFETY: `table` identity-maps all RAM (the image, its stack and the
    // heap included) and the console, so execution continues unchanged;
    // the MMU is still off.
    unsafe { mmu::enable(&table, relocated) };
    domain::set_kernel_root(table.root());
    // Locks work from here on.
    *SPACE.lock() = Some(Tables {
        kernel: table,
        domains: Vec::new(),
    });
}

/// Once the frame allocator and the heap exist: later table pages come
/// from the frames, and tasks' tables can be made.
pub fn init() {
    let mut domains = Vec::new();
    if domains.try_reserve_exact(domain::SLOTS).is_err() {
        crate::power::fail("no memory for the task table slots");
    }
    domains.resize_with(domain::SLOTS, || None);
    with_tables(|t| {
        t.kernel.take_tables_from_frames();
        // The image's level-1 table exists before any task's table copies
        // the level-0 entry that names it.
        if t.kernel.ensure_level1(domain::IMAGE_RANGE.start).is_err() {
            crate::power::fail("no frame for the EL0 image's level-1 table");
        }
        t.kernel.share_level0(domain::SHARED_L0);
        t.domains = domains;
    });
}

fn map_kernel(table: &mut PageTable, platform: &Hardware) -> Result<(), MapError> {
    let image = layout::image();
    for m in platform.memory.as_slice() {
        let start = m.start & !(PAGE_SIZE - 1);
        let end = m.end.next_multiple_of(PAGE_SIZE);
        // RAM around the image: the linear map, data only.
        for piece in [start..end.min(image.start), start.max(image.end)..end] {
            if piece.start < piece.end {
                table.map(
                    piece.start,
                    piece.start,
                    piece.end - piece.start,
                    Attrs::KERNEL_DATA,
                    true,
                )?;
            }
        }
    }
    // The image itself: W^X, and nothing under each stack.
    let text = layout::text();
    let rodata = layout::rodata();
    table.map(
        text.start,
        text.start,
        text.end - text.start,
        Attrs::KERNEL_TEXT,
        false,
    )?;
    table.map(
        rodata.start,
        rodata.start,
        rodata.end - rodata.start,
        Attrs::KERNEL_RODATA,
        false,
    )?;
    let mut data = layout::data().start;
    for guard in layout::stack_guards() {
        table.map(data, data, guard.start - data, Attrs::KERNEL_DATA, false)?;
        data = guard.end;
    }
    table.map(data, data, image.end - data, Attrs::KERNEL_DATA, false)?;

    for device in devices(platform) {
        let start = device.start & !(PAGE_SIZE - 1);
        let end = device.end.next_multiple_of(PAGE_SIZE);
        table.map(start, start, end - start, Attrs::DEVICE, true)?;
    }
    Ok(())
}

/// The MMIO ranges the kernel drives: the device tree's console and GIC,
/// and what board code drives (the Pi's GPIO and watchdog).
fn devices(platform: &Hardware) -> impl Iterator<Item = PhysRange> {
    let gic = match platform.gic {
        Some(GicInfo::V2 {
            distributor,
            cpu_interface,
        }) => [Some(distributor), Some(cpu_interface)],
        Some(GicInfo::V3 {
            distributor,
            redistributors,
        }) => [Some(distributor), Some(redistributors)],
        None => [None, None],
    };
    [platform.uart]
        .into_iter()
        .chain(gic)
        .flatten()
        .chain(crate::board::devices())
        .filter(|r| !r.is_empty())
}
