//! Stage-1 translation: the kernel's W^X map, guards, and page-table
//! map / unmap / protect with the TLB kept right.

use crate::arch::esr::Class;
use crate::arch::exception::{catch, probe_load, probe_store};
use crate::arch::mmu::{Attrs, MapError};
use crate::ktest::{Failure, Suite, TestResult};
use crate::mm::{frame, PAGE_SIZE};
use crate::vm::kstack::KernelStack;
use crate::vm::{with_page_table, USER_REGION};
use crate::{boot_info, check, check_eq, layout, tests};

pub static SUITE: Suite = Suite {
    name: "mmu",
    tests: tests![
        kernel_text_is_read_only_and_executable,
        rodata_is_read_only_and_never_executed,
        data_and_heap_are_never_executed,
        writing_kernel_text_faults,
        executing_data_faults,
        boot_stack_guard_is_unmapped,
        all_ram_is_identity_mapped,
        console_is_device_memory,
        kernel_pages_are_never_user_accessible,
        map_then_unmap_frees_table_pages,
        unmapped_page_faults_at_its_address,
        protect_changes_permissions,
        bounded_unmap_stops_at_its_budget_and_skips_holes,
        large_unmap_invalidates_every_page,
        map_over_a_mapping_fails_without_effect,
        kernel_stack_has_an_unmapped_guard,
        map_page_after_its_table_went_builds_a_new_one,
        user_page_descriptors_match_their_attributes,
    ],
};

/// A test address at the top of the task region, where the first-fit VMAR
/// allocator reaches last: mapped here for EL1 only, unmapped after.
const SCRATCH: u64 = USER_REGION.end - (1 << 30);

fn attrs_at(va: u64) -> Option<Attrs> {
    with_page_table(|t| t.translate(va)).map(|(_, a)| a)
}

fn fail(msg: &str) -> Failure {
    Failure::Fail(msg.into())
}

#[inline(never)]
fn victim() -> u64 {
    core::hint::black_box(42)
}

fn kernel_text_is_read_only_and_executable() -> TestResult {
    let f = victim as *const () as u64;
    check!(layout::text().contains(&f));
    check_eq!(attrs_at(f), Some(Attrs::KERNEL_TEXT));
    Ok(())
}

static RODATA_WORD: u64 = 0x0123_4567_89ab_cdef;

fn rodata_is_read_only_and_never_executed() -> TestResult {
    let va = &raw const RODATA_WORD as u64;
    check!(layout::rodata().contains(&va), "{va:#x} not in rodata");
    check_eq!(attrs_at(va), Some(Attrs::KERNEL_RODATA));
    Ok(())
}

static mut DATA_WORD: u64 = 7;

fn data_and_heap_are_never_executed() -> TestResult {
    let data = &raw const DATA_WORD as u64;
    check_eq!(attrs_at(data), Some(Attrs::KERNEL_DATA));
    let heap = alloc::boxed::Box::new(0u64);
    check_eq!(
        attrs_at(&*heap as *const u64 as u64),
        Some(Attrs::KERNEL_DATA)
    );
    Ok(())
}

fn writing_kernel_text_faults() -> TestResult {
    let target = victim as *const () as *mut u32;
    // The store must fault (text is read-only); if it did not, only `victim`,
    // which is not called afterwards, would change.
    let caught = catch(|| probe_store(target as u64, 0));
    let c = caught.ok_or_else(|| fail("the write to text did not fault"))?;
    check_eq!(c.esr.class(), Some(Class::DataAbortCurrentEL));
    check!(c.esr.is_write());
    check_eq!(c.esr.fault_status().map(|f| f & !3), Some(0b00_1100)); // permission fault
    check_eq!(c.far, target as u64);
    check_eq!(victim(), 42);
    Ok(())
}

/// `ret`, in writable data: it must not run.
static mut DATA_CODE: [u32; 2] = [0xd65f_03c0, 0xd65f_03c0];

fn executing_data_faults() -> TestResult {
    let target = &raw mut DATA_CODE as u64;
    let caught = catch(|| {
        // SAFETY: the branch faults (data is never executable) and the probe
        // returns to the caller through x30; all caller-saved registers are
        // declared clobbered.
        unsafe { core::arch::asm!("blr {t}", t = in(reg) target, clobber_abi("C")) };
    });
    let c = caught.ok_or_else(|| fail("the branch into data did not fault"))?;
    check_eq!(c.esr.class(), Some(Class::InstrAbortCurrentEL));
    check_eq!(c.esr.fault_status().map(|f| f & !3), Some(0b00_1100));
    check_eq!(c.far, target);
    Ok(())
}

fn boot_stack_guard_is_unmapped() -> TestResult {
    for guard in layout::stack_guards() {
        check_eq!(attrs_at(guard.start), None);
        check_eq!(attrs_at(guard.end - 1), None);
        check_eq!(attrs_at(guard.end), Some(Attrs::KERNEL_DATA));
    }
    Ok(())
}

fn all_ram_is_identity_mapped() -> TestResult {
    for m in boot_info().platform.memory.as_slice() {
        for va in [m.start, m.start + m.len() / 2, m.end - 1] {
            let pa = with_page_table(|t| t.translate(va)).map(|(pa, _)| pa);
            check_eq!(pa, Some(va));
        }
    }
    Ok(())
}

fn console_is_device_memory() -> TestResult {
    let uart = boot_info().platform.uart.ok_or_else(|| fail("no UART"))?;
    check_eq!(attrs_at(uart.start), Some(Attrs::DEVICE));
    Ok(())
}

fn kernel_pages_are_never_user_accessible() -> TestResult {
    let image = layout::image();
    let mut va = image.start;
    while va < image.end {
        if let Some(a) = attrs_at(va) {
            check!(!a.user, "{va:#x} is EL0-accessible");
            check!(
                !(a.write && a.execute),
                "{va:#x} is writable and executable"
            );
        }
        va += PAGE_SIZE;
    }
    // Nothing of the kernel's reaches into the task region from either side.
    check_eq!(attrs_at(USER_REGION.start - PAGE_SIZE), None);
    check_eq!(attrs_at(USER_REGION.end), None);
    Ok(())
}

/// Maps one fresh frame at `va` for EL1 with `attrs`.
fn map_scratch(va: u64, attrs: Attrs) -> Result<frame::Frame, Failure> {
    let f = frame::alloc_zeroed().ok_or_else(|| fail("out of frames"))?;
    with_page_table(|t| t.map(va, f.addr(), PAGE_SIZE, attrs, false))
        .map_err(|e| fail(&alloc::format!("{e:?}")))?;
    Ok(f)
}

/// Unmaps `va` and frees `f`.
fn unmap_scratch(va: u64, f: frame::Frame) {
    with_page_table(|t| t.unmap(va, PAGE_SIZE));
    // SAFETY: `f` was mapped only at `va`, which is unmapped now.
    unsafe { frame::free(f) };
}

fn map_then_unmap_frees_table_pages() -> TestResult {
    let tables = with_page_table(|t| t.table_pages());
    let free = frame::free_frames();
    let f = map_scratch(SCRATCH, Attrs::KERNEL_DATA)?;
    check!(with_page_table(|t| t.table_pages()) > tables);
    // SAFETY: SCRATCH is mapped to `f`, readable and writable at EL1.
    unsafe { (SCRATCH as *mut u64).write_volatile(0xfeed_f00d) };
    // SAFETY: the frame is identity-mapped RAM.
    check_eq!(
        unsafe { (f.addr() as *const u64).read_volatile() },
        0xfeed_f00d
    );
    unmap_scratch(SCRATCH, f);
    check_eq!(attrs_at(SCRATCH), None);
    check_eq!(with_page_table(|t| t.table_pages()), tables);
    check_eq!(frame::free_frames(), free);
    Ok(())
}

fn unmapped_page_faults_at_its_address() -> TestResult {
    let f = map_scratch(SCRATCH, Attrs::KERNEL_DATA)?;
    unmap_scratch(SCRATCH, f);
    let caught = catch(|| {
        probe_load(SCRATCH);
    });
    let c = caught.ok_or_else(|| fail("no fault after unmap"))?;
    check_eq!(c.esr.class(), Some(Class::DataAbortCurrentEL));
    check_eq!(c.esr.fault_status().map(|f| f & !3), Some(0b00_0100)); // translation fault
    check_eq!(c.far, SCRATCH);
    Ok(())
}

fn write_faults(va: u64) -> bool {
    // `va` is mapped readable: the store either lands or faults and is skipped.
    catch(|| probe_store(va, 1)).is_some()
}

fn protect_changes_permissions() -> TestResult {
    let f = map_scratch(SCRATCH, Attrs::KERNEL_DATA)?;
    let result = (|| {
        check!(!write_faults(SCRATCH));
        check_eq!(
            with_page_table(|t| t.protect(SCRATCH, PAGE_SIZE, Attrs::KERNEL_RODATA)),
            1
        );
        check!(write_faults(SCRATCH));
        // SAFETY: still mapped, readable.
        check_eq!(unsafe { (SCRATCH as *const u64).read_volatile() }, 1);
        with_page_table(|t| t.protect(SCRATCH, PAGE_SIZE, Attrs::KERNEL_DATA));
        check!(!write_faults(SCRATCH));
        Ok(())
    })();
    unmap_scratch(SCRATCH, f);
    result
}

/// `unmap_some` stops at its leaf budget and says where, passes over
/// absent tables whatever their span, and frees tables it empties.
fn bounded_unmap_stops_at_its_budget_and_skips_holes() -> TestResult {
    // Pages 0-2, then one 2 MiB table and one 1 GiB table further on.
    const AT: [u64; 5] = [0, 1, 2, 600, 5000];
    let len = 1 << 30;
    let free = frame::free_frames();
    let frames: alloc::vec::Vec<_> = AT
        .iter()
        .map(|i| map_scratch(SCRATCH + i * PAGE_SIZE, Attrs::KERNEL_DATA))
        .collect::<Result<_, _>>()?;
    let end = SCRATCH + len;
    let mut stops = alloc::vec::Vec::new();
    let mut at = SCRATCH;
    while at < end && stops.len() < AT.len() {
        at = with_page_table(|t| t.unmap_some(at, end - at, 2));
        stops.push(at);
    }
    for f in frames {
        // SAFETY: its mapping is gone (checked below).
        unsafe { frame::free(f) };
    }
    let page = |i: u64| SCRATCH + i * PAGE_SIZE;
    check_eq!(stops, alloc::vec![page(2), page(5000), end]);
    for i in AT {
        check!(attrs_at(page(i)).is_none(), "page {i} still mapped");
    }
    check_eq!(frame::free_frames(), free);
    Ok(())
}

fn large_unmap_invalidates_every_page() -> TestResult {
    const PAGES: u64 = 100;
    let free = frame::free_frames();
    let frames: alloc::vec::Vec<_> = (0..PAGES)
        .map(|i| map_scratch(SCRATCH + i * PAGE_SIZE, Attrs::KERNEL_DATA))
        .collect::<Result<_, _>>()?;
    for i in 0..PAGES {
        // SAFETY: every page of the range is mapped writable.
        unsafe { ((SCRATCH + i * PAGE_SIZE) as *mut u64).write_volatile(i) };
    }
    check_eq!(
        with_page_table(|t| t.unmap(SCRATCH, PAGES * PAGE_SIZE)),
        PAGES as usize
    );
    for f in frames {
        // SAFETY: its mapping is gone.
        unsafe { frame::free(f) };
    }
    for i in [0, PAGES / 2, PAGES - 1] {
        let va = SCRATCH + i * PAGE_SIZE;
        let c = catch(|| {
            probe_load(va);
        });
        check_eq!(c.map(|c| c.far), Some(va));
    }
    check_eq!(frame::free_frames(), free);
    Ok(())
}

fn map_over_a_mapping_fails_without_effect() -> TestResult {
    let free = frame::free_frames();
    let f = map_scratch(SCRATCH + PAGE_SIZE, Attrs::KERNEL_DATA)?;
    // Three pages starting one below the mapped one: the second collides.
    let result = with_page_table(|t| {
        t.map(
            SCRATCH,
            f.addr(),
            3 * PAGE_SIZE,
            Attrs::KERNEL_RODATA,
            false,
        )
    });
    check_eq!(result, Err(MapError::AlreadyMapped));
    check_eq!(attrs_at(SCRATCH), None);
    check_eq!(attrs_at(SCRATCH + PAGE_SIZE), Some(Attrs::KERNEL_DATA));
    check_eq!(attrs_at(SCRATCH + 2 * PAGE_SIZE), None);
    unmap_scratch(SCRATCH + PAGE_SIZE, f);
    check_eq!(frame::free_frames(), free);
    Ok(())
}

fn kernel_stack_has_an_unmapped_guard() -> TestResult {
    let free = frame::free_frames();
    let stack = KernelStack::new().map_err(|_| fail("no stack"))?;
    check_eq!(attrs_at(stack.top() - 8), Some(Attrs::KERNEL_DATA));
    check_eq!(attrs_at(stack.bottom()), Some(Attrs::KERNEL_DATA));
    check_eq!(attrs_at(stack.guard().start), None);
    check_eq!(attrs_at(stack.guard().end - 1), None);
    // SAFETY: the stack's lowest word is mapped and ours.
    unsafe { (stack.bottom() as *mut u64).write_volatile(5) };
    let guard = stack.guard().end - 8;
    // SAFETY: the store faults and is skipped.
    let c = catch(|| probe_store(guard, 5));
    check_eq!(c.map(|c| c.far), Some(guard));
    drop(stack);
    check_eq!(frame::free_frames(), free);
    Ok(())
}

/// `map_page` remembers the level-3 table it last used; an unmap that frees
/// that table must make it forget, or the next map would write into a page
/// no longer hooked into the hierarchy.
fn map_page_after_its_table_went_builds_a_new_one() -> TestResult {
    let tables = with_page_table(|t| t.table_pages());
    let f = frame::alloc_zeroed().ok_or_else(|| fail("out of frames"))?;
    let map = || with_page_table(|t| t.map_page(SCRATCH, f.addr(), Attrs::KERNEL_DATA));
    map().map_err(|e| fail(&alloc::format!("{e:?}")))?;
    with_page_table(|t| t.unmap(SCRATCH, PAGE_SIZE));
    check_eq!(with_page_table(|t| t.table_pages()), tables);
    map().map_err(|e| fail(&alloc::format!("{e:?}")))?;
    check_eq!(
        with_page_table(|t| t.translate(SCRATCH)).map(|(pa, _)| pa),
        Some(f.addr())
    );
    // SAFETY: SCRATCH is mapped to `f`, readable and writable at EL1.
    unsafe { (SCRATCH as *mut u64).write_volatile(0x5ca1_ab1e) };
    // SAFETY: the frame is identity-mapped RAM.
    check_eq!(
        unsafe { (f.addr() as *const u64).read_volatile() },
        0x5ca1_ab1e
    );
    unmap_scratch(SCRATCH, f);
    check_eq!(with_page_table(|t| t.table_pages()), tables);
    Ok(())
}

/// The fault path's task-page descriptors, built at compile time, say what
/// `Attrs::user` says.
fn user_page_descriptors_match_their_attributes() -> TestResult {
    let f = frame::alloc_zeroed().ok_or_else(|| fail("out of frames"))?;
    for (write, execute) in [(false, false), (false, true), (true, false), (true, true)] {
        with_page_table(|t| t.map_user_page(SCRATCH, f.addr(), write, execute))
            .map_err(|e| fail(&alloc::format!("{e:?}")))?;
        check_eq!(
            with_page_table(|t| t.translate(SCRATCH)),
            Some((f.addr(), Attrs::user(write, execute)))
        );
        with_page_table(|t| t.unmap(SCRATCH, PAGE_SIZE));
    }
    // SAFETY: the frame is no longer mapped anywhere.
    unsafe { frame::free(f) };
    Ok(())
}
