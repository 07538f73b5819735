//! VMARs from a task: its own sub-VMAR, `vmar_map`/`unmap`/`protect`/
//! `allocate`/`destroy` with the reference pages' errors, and what the
//! mappings do when touched.

use super::util::*;
use crate::harness::{run_in_task, run_in_task_arg, Suite, TestResult};
use crate::{check, check_eq, ok, tests};
use core::mem::ManuallyDrop;
use zx::{
    AsHandleRef, HandleBased, Rights, Signals, Status, TaskEnd, Time, Vmar, VmarFlags, Vmo,
    VmoOptions,
};

pub static SUITE: Suite = Suite {
    name: "vmar",
    tests: tests![
        own_sub_vmar_is_64_gib_inside_the_root_range,
        info_vmar_needs_inspect_and_a_vmar,
        own_sub_vmar_handle_is_a_vmar_with_map_rights,
        map_gives_a_page_aligned_address_inside_the_vmar,
        map_of_zero_length_is_invalid_args,
        map_of_unaligned_length_is_invalid_args,
        map_of_unaligned_vmo_offset_is_invalid_args,
        map_with_an_offset_but_not_specific_is_invalid_args,
        map_with_overflowing_vmo_offset_plus_length_is_invalid_args,
        map_larger_than_the_vmar_is_invalid_args,
        map_with_unknown_options_is_invalid_args,
        map_write_or_execute_without_read_is_invalid_args,
        map_specific_places_the_mapping_at_the_offset,
        map_specific_over_an_existing_mapping_is_no_memory,
        map_specific_outside_the_vmar_is_invalid_args,
        map_specific_without_can_map_specific_is_access_denied,
        map_specific_overwrite_replaces_the_mapping,
        map_specific_overwrite_of_a_populated_range_replaces_every_page_and_a_refused_one_none,
        map_specific_overwrite_with_map_range_is_invalid_args,
        map_without_map_right_is_access_denied,
        map_readable_without_vmo_read_right_is_access_denied,
        map_writable_without_vmo_write_right_is_access_denied,
        map_executable_without_vmo_execute_right_is_access_denied,
        map_beyond_the_vmars_permissions_is_access_denied,
        map_require_non_resizable_of_a_resizable_vmo_is_not_supported,
        map_range_maps_committed_pages_without_faults,
        mapping_keeps_the_vmo_alive_after_its_handle_closes,
        two_mappings_of_one_vmo_show_the_same_bytes,
        executable_mapping_runs_code,
        touching_past_the_vmo_end_faults,
        shrinking_a_mapped_vmo_makes_the_cut_pages_fault,
        unmap_removes_the_mapping_and_touching_it_faults,
        unmap_of_the_middle_splits_the_mapping,
        unmap_of_zero_or_unaligned_range_is_invalid_args,
        unmap_of_nothing_is_not_found,
        unmap_partly_covering_a_sub_vmar_is_invalid_args,
        unmap_covering_a_sub_vmar_destroys_it,
        protect_to_read_only_makes_stores_fault,
        protect_of_part_of_a_mapping_splits_it,
        protect_beyond_the_map_time_rights_is_access_denied,
        protect_of_an_unmapped_range_is_not_found,
        protect_write_without_read_is_invalid_args,
        protect_of_zero_or_unaligned_range_is_invalid_args,
        allocate_gives_a_sub_vmar_inside_the_parent,
        allocate_with_a_permission_the_parent_lacks_is_access_denied,
        allocate_of_zero_or_unaligned_size_is_invalid_args,
        allocate_with_an_offset_but_not_specific_is_invalid_args,
        allocate_specific_places_the_region_and_refuses_an_overlap,
        allocate_specific_without_can_map_specific_is_access_denied,
        allocate_may_ask_can_map_specific_of_a_parent_without_it,
        allocate_beyond_the_parent_is_invalid_args_and_a_full_parent_no_memory,
        allocate_needs_the_parent_handles_rights_for_its_permissions,
        map_into_a_full_vmar_is_no_memory,
        map_needs_the_vmar_handles_rights_for_its_permissions,
        protect_over_a_sub_vmar_is_invalid_args,
        protect_needs_the_vmar_handles_rights_and_its_permissions,
        destroy_unmaps_everything_inside,
        operations_on_a_destroyed_vmar_are_bad_state,
        closing_a_vmar_handle_keeps_the_region_and_its_mappings,
        vmar_cannot_be_waited_on,
        map_with_allocate_only_options_is_invalid_args,
        map_specific_at_the_top_of_the_vmar_fits_and_past_it_is_invalid_args,
        map_specific_at_an_unaligned_offset_is_invalid_args,
        map_specific_overwrite_without_can_map_specific_is_access_denied,
        map_specific_overwrite_over_a_sub_vmar_is_invalid_args_and_changes_nothing,
        map_specific_overwrite_over_free_space_and_parts_of_two_mappings,
        map_require_non_resizable_follows_a_childs_resizability,
        map_past_the_vmo_end_is_allowed,
        map_without_permissions_faults_on_every_access,
        execute_needs_the_vmar_handles_execute_right_and_can_map_execute,
        unmap_at_the_edges_of_the_vmar,
        unmap_and_destroy_need_no_rights,
        protect_with_other_options_or_execute_without_read_is_invalid_args,
        protect_at_the_edges_of_the_vmar,
        protect_over_adjacent_mappings_changes_each,
        allocate_options_are_compact_specific_and_can_map_only,
        allocate_specific_at_the_top_of_the_parent_fits_and_past_it_is_invalid_args,
        destroy_is_recursive_and_frees_the_range,
        the_last_page_of_the_tasks_own_vmar_maps_protects_and_unmaps,
        protect_is_bounded_by_the_vmar_handle_used_to_map,
        a_task_that_destroys_or_unmaps_its_own_vmar_faults_alone,
        errors_come_in_the_era_kernels_order,
        every_vmar_call_with_a_bad_handle_is_bad_handle,
        protect_needs_the_read_right_of_the_vmo_handle_used_to_map,
    ],
};

const R: VmarFlags = VmarFlags::PERM_READ;
const RW: VmarFlags = VmarFlags::RW;
const SPECIFIC: VmarFlags = VmarFlags::SPECIFIC;
const CAN_RW: VmarFlags = VmarFlags(abi::ZX_VM_CAN_MAP_READ | abi::ZX_VM_CAN_MAP_WRITE);
const CAN_RW_SPECIFIC: VmarFlags =
    VmarFlags(abi::ZX_VM_CAN_MAP_READ | abi::ZX_VM_CAN_MAP_WRITE | abi::ZX_VM_CAN_MAP_SPECIFIC);

fn me() -> core::mem::ManuallyDrop<Vmar> {
    Vmar::root_self()
}

/// A fresh sub-VMAR of `pages` pages that allows specific placement.
fn region(pages: u64) -> Result<(Vmar, u64), Status> {
    me().allocate(0, pages * PAGE, CAN_RW_SPECIFIC)
}

/// `ZX_INFO_VMAR` (zx_object_get_info.md, RIGHTS): a VMAR handle with
/// `ZX_RIGHT_INSPECT`; a sub-VMAR's own base and length.
fn info_vmar_needs_inspect_and_a_vmar() -> TestResult {
    let (sub, base) = ok!(me().allocate(0, 4 * PAGE, VmarFlags::CAN_MAP_READ));
    let info = ok!(sub.info());
    check_eq!((info.base, info.len), (base, 4 * PAGE));
    let all = ok!(sub.basic_info()).rights;
    let blind = ok!(sub.duplicate(Rights(all & !abi::ZX_RIGHT_INSPECT)));
    check_eq!(blind.info().map(|_| ()), Err(Status::ACCESS_DENIED));
    let vmo = ok!(Vmo::create(PAGE));
    let mut buf = [0u8; 16];
    check_eq!(
        vmo.get_info_raw(abi::ZX_INFO_VMAR, &mut buf).map(|_| ()),
        Err(Status::WRONG_TYPE)
    );
    ok!(sub.destroy());
    Ok(())
}

fn own_sub_vmar_is_64_gib_inside_the_root_range() -> TestResult {
    let info = ok!(me().info());
    check_eq!(info.len, 64 << 30);
    check!(info.base >= abi::ROOT_VMAR_BASE, "base {:#x}", info.base);
    check!(info.base + info.len <= abi::ROOT_VMAR_END);
    check_eq!(info.base % PAGE, 0);
    // This test's stack lies inside it.
    let local = 0u8;
    let sp = &raw const local as u64;
    check!(
        sp >= info.base && sp < info.base + info.len,
        "stack {sp:#x}"
    );
    Ok(())
}

fn own_sub_vmar_handle_is_a_vmar_with_map_rights() -> TestResult {
    let info = ok!(me().basic_info());
    check_eq!(info.obj_type, abi::ZX_OBJ_TYPE_VMAR);
    let want = abi::ZX_DEFAULT_VMAR_RIGHTS | abi::ZX_RIGHT_READ | abi::ZX_RIGHT_WRITE;
    check_eq!(info.rights & want, want);
    check_eq!(info.rights & abi::ZX_RIGHT_WAIT, 0);
    check_eq!(info.props, 0);
    Ok(())
}

fn map_gives_a_page_aligned_address_inside_the_vmar() -> TestResult {
    let vmo = ok!(Vmo::create(3 * PAGE));
    let info = ok!(me().info());
    let addr = ok!(map_rw(&vmo, 3 * PAGE));
    check!(addr != 0 && addr % PAGE == 0, "{addr:#x}");
    check!(addr >= info.base && addr + 3 * PAGE <= info.base + info.len);
    check_eq!(ok!(vmo.info()).num_mappings, 1);
    ok!(unmap(addr, 3 * PAGE));
    check_eq!(ok!(vmo.info()).num_mappings, 0);
    Ok(())
}

fn map_of_zero_length_is_invalid_args() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    check_eq!(me().map(0, &vmo, 0, 0, RW), Err(Status::INVALID_ARGS));
    Ok(())
}

fn map_of_unaligned_length_is_invalid_args() -> TestResult {
    let vmo = ok!(Vmo::create(2 * PAGE));
    check_eq!(
        me().map(0, &vmo, 0, PAGE + 1, RW),
        Err(Status::INVALID_ARGS)
    );
    check_eq!(ok!(vmo.info()).num_mappings, 0);
    Ok(())
}

fn map_of_unaligned_vmo_offset_is_invalid_args() -> TestResult {
    let vmo = ok!(Vmo::create(2 * PAGE));
    check_eq!(me().map(0, &vmo, 1, PAGE, RW), Err(Status::INVALID_ARGS));
    check_eq!(
        me().map(0, &vmo, PAGE / 2, PAGE, RW),
        Err(Status::INVALID_ARGS)
    );
    Ok(())
}

fn map_with_an_offset_but_not_specific_is_invalid_args() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    check_eq!(me().map(PAGE, &vmo, 0, PAGE, RW), Err(Status::INVALID_ARGS));
    Ok(())
}

fn map_with_overflowing_vmo_offset_plus_length_is_invalid_args() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    check_eq!(
        me().map(0, &vmo, u64::MAX - PAGE + 1, 2 * PAGE, RW),
        Err(Status::INVALID_ARGS)
    );
    Ok(())
}

fn map_larger_than_the_vmar_is_invalid_args() -> TestResult {
    let (sub, _) = ok!(region(4));
    let vmo = ok!(Vmo::create(8 * PAGE));
    check_eq!(sub.map(0, &vmo, 0, 8 * PAGE, RW), Err(Status::INVALID_ARGS));
    Ok(())
}

fn map_with_unknown_options_is_invalid_args() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    for bad in [1 << 12, 1 << 20, 1 << 31] {
        check_eq!(
            me().map(0, &vmo, 0, PAGE, RW | VmarFlags(bad)),
            Err(Status::INVALID_ARGS)
        );
    }
    Ok(())
}

fn map_write_or_execute_without_read_is_invalid_args() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    check_eq!(
        me().map(0, &vmo, 0, PAGE, VmarFlags::PERM_WRITE),
        Err(Status::INVALID_ARGS)
    );
    check_eq!(
        me().map(0, &vmo, 0, PAGE, VmarFlags::PERM_EXECUTE),
        Err(Status::INVALID_ARGS)
    );
    Ok(())
}

fn map_specific_places_the_mapping_at_the_offset() -> TestResult {
    let (sub, base) = ok!(region(8));
    let vmo = ok!(Vmo::create(2 * PAGE));
    let addr = ok!(sub.map(3 * PAGE, &vmo, 0, 2 * PAGE, RW | SPECIFIC));
    check_eq!(addr, base + 3 * PAGE);
    ok!(vmo.write(&[0x3c], PAGE));
    // SAFETY: the mapping is readable.
    check_eq!(unsafe { peek(addr + PAGE) }, 0x3c);
    Ok(())
}

fn map_specific_over_an_existing_mapping_is_no_memory() -> TestResult {
    let (sub, _) = ok!(region(8));
    let vmo = ok!(Vmo::create(4 * PAGE));
    ok!(sub.map(2 * PAGE, &vmo, 0, 2 * PAGE, RW | SPECIFIC));
    check_eq!(
        sub.map(3 * PAGE, &vmo, 0, 2 * PAGE, RW | SPECIFIC),
        Err(Status::NO_MEMORY)
    );
    check_eq!(
        sub.map(PAGE, &vmo, 0, 2 * PAGE, RW | SPECIFIC),
        Err(Status::NO_MEMORY)
    );
    check_eq!(ok!(vmo.info()).num_mappings, 1);
    Ok(())
}

fn map_specific_outside_the_vmar_is_invalid_args() -> TestResult {
    let (sub, _) = ok!(region(4));
    let vmo = ok!(Vmo::create(2 * PAGE));
    check_eq!(
        sub.map(3 * PAGE, &vmo, 0, 2 * PAGE, RW | SPECIFIC),
        Err(Status::INVALID_ARGS)
    );
    check_eq!(
        sub.map(u64::MAX - PAGE + 1, &vmo, 0, 2 * PAGE, RW | SPECIFIC),
        Err(Status::INVALID_ARGS)
    );
    Ok(())
}

fn map_specific_without_can_map_specific_is_access_denied() -> TestResult {
    let (sub, _) = ok!(me().allocate(0, 4 * PAGE, CAN_RW));
    let vmo = ok!(Vmo::create(PAGE));
    check_eq!(
        sub.map(PAGE, &vmo, 0, PAGE, RW | SPECIFIC),
        Err(Status::ACCESS_DENIED)
    );
    // Placement by the kernel still works.
    check!(sub.map(0, &vmo, 0, PAGE, RW).is_ok());
    Ok(())
}

fn map_specific_overwrite_replaces_the_mapping() -> TestResult {
    let (sub, base) = ok!(region(4));
    let a = ok!(Vmo::create(2 * PAGE));
    let b = ok!(Vmo::create(PAGE));
    ok!(a.write(&[0xaa], PAGE));
    ok!(b.write(&[0xbb], 0));
    ok!(sub.map(0, &a, 0, 2 * PAGE, RW | SPECIFIC));
    let addr = ok!(sub.map(PAGE, &b, 0, PAGE, RW | VmarFlags::SPECIFIC_OVERWRITE));
    check_eq!(addr, base + PAGE);
    // SAFETY: both pages are mapped readable.
    check_eq!(unsafe { peek(base + PAGE) }, 0xbb);
    check_eq!(ok!(a.info()).num_mappings, 1);
    check_eq!(ok!(b.info()).num_mappings, 1);
    Ok(())
}

/// Pages of each populated mapping the overwrite test replaces: several
/// of the kernel's 512-translation pieces.
const OVERWRITE_PAGES: u64 = 1536;

/// A committed VMO of `pages` pages, every byte `byte`, mapped populated
/// at `offset` of `sub`.
fn populated(sub: &Vmar, offset: u64, pages: u64, byte: u8) -> Result<Vmo, Status> {
    let vmo = Vmo::create(pages * PAGE)?;
    for p in 0..pages {
        vmo.write(&[byte; PAGE as usize], p * PAGE)?;
    }
    sub.map(
        offset,
        &vmo,
        0,
        pages * PAGE,
        RW | SPECIFIC | VmarFlags::MAP_RANGE,
    )?;
    Ok(vmo)
}

fn map_specific_overwrite_of_a_populated_range_replaces_every_page_and_a_refused_one_none(
) -> TestResult {
    let n = OVERWRITE_PAGES;
    let (sub, base) = ok!(region(2 * n));
    let a = ok!(populated(&sub, 0, n, 0xaa));
    let c = ok!(populated(&sub, n * PAGE, n, 0xcc));
    let b = ok!(Vmo::create((2 * n - 2) * PAGE));
    ok!(b.write(&[0xbb; PAGE as usize], 0));
    ok!(b.write(&[0xbb; PAGE as usize], (2 * n - 3) * PAGE));
    // Refused (b is resizable): every old page still shows, nothing changed.
    let overwrite = RW | VmarFlags::SPECIFIC_OVERWRITE;
    let strict = VmarFlags(overwrite.bits() | abi::ZX_VM_REQUIRE_NON_RESIZABLE);
    check_eq!(
        sub.map(PAGE, &b, 0, (2 * n - 2) * PAGE, strict),
        Err(Status::NOT_SUPPORTED)
    );
    // SAFETY: the region's pages are mapped readable throughout this test.
    let at = |page: u64| unsafe { peek(base + page * PAGE) };
    check_eq!(
        (at(0), at(n - 1), at(n), at(2 * n - 1)),
        (0xaa, 0xaa, 0xcc, 0xcc)
    );
    // All but the first and last page: both mappings split, the middle gone.
    let addr = ok!(sub.map(PAGE, &b, 0, (2 * n - 2) * PAGE, overwrite));
    check_eq!(addr, base + PAGE);
    check_eq!((at(0), at(2 * n - 1)), (0xaa, 0xcc));
    check_eq!((at(1), at(2 * n - 2)), (0xbb, 0xbb));
    for page in (2..2 * n - 2).step_by(61) {
        check_eq!(at(page), 0, "page {page} shows the new VMO's zeroes");
    }
    check_eq!(ok!(a.info()).num_mappings, 1);
    check_eq!(ok!(c.info()).num_mappings, 1);
    check_eq!(ok!(b.info()).num_mappings, 1);
    // The old VMOs keep their bytes.
    check_eq!(ok!(byte_at(&a, (n - 1) * PAGE)), 0xaa);
    check_eq!(ok!(byte_at(&c, 0)), 0xcc);
    ok!(sub.destroy());
    Ok(())
}

fn map_specific_overwrite_with_map_range_is_invalid_args() -> TestResult {
    let (sub, _) = ok!(region(4));
    let vmo = ok!(Vmo::create(PAGE));
    check_eq!(
        sub.map(
            0,
            &vmo,
            0,
            PAGE,
            RW | VmarFlags::SPECIFIC_OVERWRITE | VmarFlags::MAP_RANGE
        ),
        Err(Status::INVALID_ARGS)
    );
    Ok(())
}

fn map_without_map_right_is_access_denied() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let h = ok!(vmo.duplicate(Rights(abi::ZX_DEFAULT_VMO_RIGHTS) - Rights::MAP));
    check_eq!(me().map(0, &h, 0, PAGE, R), Err(Status::ACCESS_DENIED));
    check_eq!(ok!(vmo.info()).num_mappings, 0);
    Ok(())
}

fn map_readable_without_vmo_read_right_is_access_denied() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let h = ok!(vmo.duplicate(Rights::MAP | Rights::WRITE));
    check_eq!(me().map(0, &h, 0, PAGE, R), Err(Status::ACCESS_DENIED));
    Ok(())
}

fn map_writable_without_vmo_write_right_is_access_denied() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let h = ok!(vmo.duplicate(Rights::MAP | Rights::READ));
    check_eq!(me().map(0, &h, 0, PAGE, RW), Err(Status::ACCESS_DENIED));
    // Read-only is what it may have.
    let addr = ok!(me().map(0, &h, 0, PAGE, R));
    ok!(unmap(addr, PAGE));
    Ok(())
}

fn map_executable_without_vmo_execute_right_is_access_denied() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let h = ok!(vmo.duplicate(Rights::MAP | Rights::READ));
    check_eq!(
        me().map(0, &h, 0, PAGE, R | VmarFlags::PERM_EXECUTE),
        Err(Status::ACCESS_DENIED)
    );
    Ok(())
}

fn map_beyond_the_vmars_permissions_is_access_denied() -> TestResult {
    let (sub, _) = ok!(me().allocate(0, 4 * PAGE, VmarFlags::CAN_MAP_READ));
    let vmo = ok!(Vmo::create(PAGE));
    check_eq!(sub.map(0, &vmo, 0, PAGE, RW), Err(Status::ACCESS_DENIED));
    check_eq!(
        sub.map(0, &vmo, 0, PAGE, R | VmarFlags::PERM_EXECUTE),
        Err(Status::ACCESS_DENIED)
    );
    check!(sub.map(0, &vmo, 0, PAGE, R).is_ok());
    Ok(())
}

fn map_require_non_resizable_of_a_resizable_vmo_is_not_supported() -> TestResult {
    let flags = RW | VmarFlags(abi::ZX_VM_REQUIRE_NON_RESIZABLE);
    let vmo = ok!(Vmo::create(PAGE));
    check_eq!(
        me().map(0, &vmo, 0, PAGE, flags),
        Err(Status::NOT_SUPPORTED)
    );
    let fixed = ok!(Vmo::create_with_opts(VmoOptions::NON_RESIZABLE, PAGE));
    let addr = ok!(me().map(0, &fixed, 0, PAGE, flags));
    ok!(unmap(addr, PAGE));
    Ok(())
}

fn map_range_maps_committed_pages_without_faults() -> TestResult {
    let vmo = ok!(Vmo::create(4 * PAGE));
    for p in 0..4 {
        ok!(fill_page(&vmo, p, p as u8 + 1));
    }
    let addr = ok!(me().map(0, &vmo, 0, 4 * PAGE, R | VmarFlags::MAP_RANGE));
    let mut seen = [0u64; 5];
    seen[0] = ok!(zx::kernel_counters(&*me())).translation_faults;
    for p in 0..4 {
        // SAFETY: the mapping is readable.
        check_eq!(unsafe { peek(addr + p * PAGE + 9) }, p as u8 + 1);
        seen[p as usize + 1] = ok!(zx::kernel_counters(&*me())).translation_faults;
    }
    check_eq!(
        seen[4],
        seen[0],
        "touching a MAP_RANGE mapping took faults: {seen:?}"
    );
    ok!(unmap(addr, 4 * PAGE));
    Ok(())
}

fn mapping_keeps_the_vmo_alive_after_its_handle_closes() -> TestResult {
    let (vmo, addr) = ok!(mapped_page_with(b"alive", 0));
    drop(vmo);
    // SAFETY: the mapping is read-write test scratch.
    unsafe {
        check_eq!(peek(addr + 4), b'e');
        poke(addr + 5, b'!');
        check_eq!(peek(addr + 5), b'!');
    }
    ok!(unmap(addr, PAGE));
    Ok(())
}

fn two_mappings_of_one_vmo_show_the_same_bytes() -> TestResult {
    let vmo = ok!(Vmo::create(2 * PAGE));
    let a = ok!(map_rw(&vmo, 2 * PAGE));
    let b = ok!(me().map(0, &vmo, PAGE, PAGE, RW));
    check!(a != b);
    // SAFETY: both mappings are read-write test scratch.
    unsafe {
        poke(a + PAGE + 7, 0x17);
        check_eq!(peek(b + 7), 0x17);
        poke(b + 8, 0x18);
        check_eq!(peek(a + PAGE + 8), 0x18);
    }
    check_eq!(ok!(vmo.info()).num_mappings, 2);
    ok!(unmap(a, 2 * PAGE));
    ok!(unmap(b, PAGE));
    Ok(())
}

fn executable_mapping_runs_code() -> TestResult {
    // mov w0, #42; ret
    let code: [u32; 2] = [0x5280_0540, 0xd65f_03c0];
    let mut bytes = [0u8; 8];
    bytes[..4].copy_from_slice(&code[0].to_le_bytes());
    bytes[4..].copy_from_slice(&code[1].to_le_bytes());
    let vmo = ok!(Vmo::create(PAGE));
    ok!(vmo.write(&bytes, 0));
    let addr = ok!(me().map(0, &vmo, 0, PAGE, R | VmarFlags::PERM_EXECUTE));
    // SAFETY: the page holds a complete function of this signature.
    let f: extern "C" fn() -> u32 = unsafe { core::mem::transmute(addr as usize) };
    check_eq!(f(), 42);
    ok!(unmap(addr, PAGE));
    Ok(())
}

fn touching_past_the_vmo_end_faults() -> TestResult {
    let end = ok!(run_in_task(|| {
        let Ok(vmo) = Vmo::create(PAGE) else { return };
        let Ok(addr) = map_rw(&vmo, 2 * PAGE) else {
            return;
        };
        // SAFETY: the first page is inside the VMO; the second is past
        // its end, so this task faults there.
        unsafe {
            peek(addr);
            peek(addr + PAGE);
        }
    }));
    check_eq!(end.fault_class(), Some(0x24), "{end:?}");
    Ok(())
}

fn shrinking_a_mapped_vmo_makes_the_cut_pages_fault() -> TestResult {
    let end = ok!(run_in_task(|| {
        let Ok(vmo) = Vmo::create(2 * PAGE) else {
            return;
        };
        let Ok(addr) = map_rw(&vmo, 2 * PAGE) else {
            return;
        };
        // SAFETY: both pages are mapped and inside the VMO until the shrink;
        // after it the second page faults.
        unsafe {
            poke(addr + PAGE, 1);
            if vmo.set_size(PAGE).is_err() {
                return;
            }
            poke(addr, 2);
            peek(addr + PAGE);
        }
    }));
    check_eq!(end.fault_class(), Some(0x24), "{end:?}");
    Ok(())
}

fn unmap_removes_the_mapping_and_touching_it_faults() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let addr = ok!(map_rw(&vmo, PAGE));
    ok!(unmap(addr, PAGE));
    check_eq!(ok!(vmo.info()).num_mappings, 0);
    // The address is unmapped for every task (one address space); a helper
    // task touching it faults.
    let end = ok!(run_in_task_arg(
        |addr| {
            // SAFETY: the address was just unmapped: this task faults here.
            unsafe { peek(addr) };
        },
        addr
    ));
    check!(
        matches!(end, TaskEnd::Faulted { far, .. } if far == addr),
        "{end:?}"
    );
    Ok(())
}

fn unmap_of_the_middle_splits_the_mapping() -> TestResult {
    let vmo = ok!(Vmo::create(3 * PAGE));
    let addr = ok!(map_rw(&vmo, 3 * PAGE));
    ok!(unmap(addr + PAGE, PAGE));
    check_eq!(ok!(vmo.info()).num_mappings, 2);
    // SAFETY: the first and last pages are still mapped read-write.
    unsafe {
        poke(addr, 1);
        poke(addr + 2 * PAGE, 3);
    }
    check_eq!(byte_at(&vmo, 0), Ok(1));
    check_eq!(byte_at(&vmo, 2 * PAGE), Ok(3));
    // Unmapping the middle again finds nothing.
    check_eq!(unmap(addr + PAGE, PAGE), Err(Status::NOT_FOUND));
    ok!(unmap(addr, 3 * PAGE));
    check_eq!(ok!(vmo.info()).num_mappings, 0);
    Ok(())
}

fn unmap_of_zero_or_unaligned_range_is_invalid_args() -> TestResult {
    let vmo = ok!(Vmo::create(2 * PAGE));
    let addr = ok!(map_rw(&vmo, 2 * PAGE));
    check_eq!(unmap(addr, 0), Err(Status::INVALID_ARGS));
    check_eq!(unmap(addr + 1, PAGE), Err(Status::INVALID_ARGS));
    check_eq!(unmap(addr, PAGE + 1), Err(Status::INVALID_ARGS));
    check_eq!(unmap(addr, u64::MAX - PAGE + 1), Err(Status::INVALID_ARGS));
    check_eq!(ok!(vmo.info()).num_mappings, 1);
    ok!(unmap(addr, 2 * PAGE));
    Ok(())
}

fn unmap_of_nothing_is_not_found() -> TestResult {
    let (sub, base) = ok!(region(4));
    check_eq!(sub.unmap(base, 4 * PAGE), Err(Status::NOT_FOUND));
    Ok(())
}

fn unmap_partly_covering_a_sub_vmar_is_invalid_args() -> TestResult {
    let (sub, base) = ok!(region(8));
    let (_inner, inner_base) = ok!(sub.allocate(2 * PAGE, 2 * PAGE, CAN_RW_SPECIFIC | SPECIFIC));
    check_eq!(inner_base, base + 2 * PAGE);
    check_eq!(sub.unmap(base, 3 * PAGE), Err(Status::INVALID_ARGS));
    check_eq!(
        sub.unmap(base + 3 * PAGE, 2 * PAGE),
        Err(Status::INVALID_ARGS)
    );
    Ok(())
}

fn unmap_covering_a_sub_vmar_destroys_it() -> TestResult {
    let (sub, base) = ok!(region(8));
    let (inner, _) = ok!(sub.allocate(2 * PAGE, 2 * PAGE, CAN_RW_SPECIFIC | SPECIFIC));
    let vmo = ok!(Vmo::create(PAGE));
    ok!(inner.map(0, &vmo, 0, PAGE, RW));
    ok!(sub.unmap(base, 8 * PAGE));
    check_eq!(ok!(vmo.info()).num_mappings, 0);
    check_eq!(inner.map(0, &vmo, 0, PAGE, RW), Err(Status::BAD_STATE));
    // The range is free again.
    check!(sub.allocate(2 * PAGE, 2 * PAGE, CAN_RW | SPECIFIC).is_ok());
    Ok(())
}

fn protect_to_read_only_makes_stores_fault() -> TestResult {
    let end = ok!(run_in_task(|| {
        let Ok(vmo) = Vmo::create(PAGE) else { return };
        let Ok(addr) = map_rw(&vmo, PAGE) else { return };
        // SAFETY: writable until the protect; the second store faults.
        unsafe {
            poke(addr, 1);
            if me().protect(addr, PAGE, R).is_err() {
                return;
            }
            if peek(addr) != 1 {
                return;
            }
            poke(addr, 2);
        }
    }));
    check_eq!(end.fault_class(), Some(0x24), "{end:?}");
    Ok(())
}

fn protect_of_part_of_a_mapping_splits_it() -> TestResult {
    let vmo = ok!(Vmo::create(3 * PAGE));
    let addr = ok!(map_rw(&vmo, 3 * PAGE));
    ok!(me().protect(addr + PAGE, PAGE, R));
    check_eq!(ok!(vmo.info()).num_mappings, 3);
    // SAFETY: the outer pages stay read-write, the middle one readable.
    unsafe {
        poke(addr, 1);
        poke(addr + 2 * PAGE, 3);
        check_eq!(peek(addr + PAGE), 0);
    }
    ok!(me().protect(addr, 3 * PAGE, RW));
    // SAFETY: all three pages are read-write again.
    unsafe { poke(addr + PAGE, 2) };
    check_eq!(byte_at(&vmo, PAGE), Ok(2));
    ok!(unmap(addr, 3 * PAGE));
    Ok(())
}

fn protect_beyond_the_map_time_rights_is_access_denied() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let ro = ok!(vmo.duplicate(Rights::READ | Rights::MAP));
    let addr = ok!(me().map(0, &ro, 0, PAGE, R));
    drop(ro);
    check_eq!(me().protect(addr, PAGE, RW), Err(Status::ACCESS_DENIED));
    check_eq!(
        me().protect(addr, PAGE, R | VmarFlags::PERM_EXECUTE),
        Err(Status::ACCESS_DENIED)
    );
    ok!(unmap(addr, PAGE));
    Ok(())
}

fn protect_of_an_unmapped_range_is_not_found() -> TestResult {
    let (sub, base) = ok!(region(4));
    let vmo = ok!(Vmo::create(PAGE));
    check_eq!(sub.protect(base, PAGE, R), Err(Status::NOT_FOUND));
    ok!(sub.map(0, &vmo, 0, PAGE, RW | SPECIFIC));
    // Mapped, then a hole.
    check_eq!(sub.protect(base, 2 * PAGE, R), Err(Status::NOT_FOUND));
    Ok(())
}

fn protect_write_without_read_is_invalid_args() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let addr = ok!(map_rw(&vmo, PAGE));
    check_eq!(
        me().protect(addr, PAGE, VmarFlags::PERM_WRITE),
        Err(Status::INVALID_ARGS)
    );
    ok!(unmap(addr, PAGE));
    Ok(())
}

fn protect_of_zero_or_unaligned_range_is_invalid_args() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let addr = ok!(map_rw(&vmo, PAGE));
    check_eq!(me().protect(addr, 0, R), Err(Status::INVALID_ARGS));
    check_eq!(me().protect(addr + 8, PAGE, R), Err(Status::INVALID_ARGS));
    ok!(unmap(addr, PAGE));
    Ok(())
}

fn allocate_gives_a_sub_vmar_inside_the_parent() -> TestResult {
    let parent = ok!(me().info());
    let (sub, base) = ok!(me().allocate(0, 16 * PAGE, CAN_RW));
    check!(base != 0 && base % PAGE == 0);
    check!(base >= parent.base && base + 16 * PAGE <= parent.base + parent.len);
    let info = ok!(sub.info());
    check_eq!(info.base, base);
    check_eq!(info.len, 16 * PAGE);
    let rights = ok!(sub.basic_info()).rights;
    check_eq!(rights & abi::ZX_RIGHT_READ, abi::ZX_RIGHT_READ);
    check_eq!(rights & abi::ZX_RIGHT_EXECUTE, 0);
    Ok(())
}

fn allocate_with_a_permission_the_parent_lacks_is_access_denied() -> TestResult {
    let (sub, _) = ok!(me().allocate(0, 16 * PAGE, VmarFlags::CAN_MAP_READ));
    check_eq!(
        sub.allocate(0, 4 * PAGE, CAN_RW).map(drop),
        Err(Status::ACCESS_DENIED)
    );
    check!(sub.allocate(0, 4 * PAGE, VmarFlags::CAN_MAP_READ).is_ok());
    Ok(())
}

fn allocate_of_zero_or_unaligned_size_is_invalid_args() -> TestResult {
    check_eq!(
        me().allocate(0, 0, CAN_RW).map(drop),
        Err(Status::INVALID_ARGS)
    );
    check_eq!(
        me().allocate(0, PAGE + 1, CAN_RW).map(drop),
        Err(Status::INVALID_ARGS)
    );
    Ok(())
}

fn allocate_with_an_offset_but_not_specific_is_invalid_args() -> TestResult {
    let (sub, _) = ok!(region(8));
    check_eq!(
        sub.allocate(PAGE, PAGE, CAN_RW).map(drop),
        Err(Status::INVALID_ARGS)
    );
    Ok(())
}

fn destroy_unmaps_everything_inside() -> TestResult {
    let (sub, _) = ok!(region(8));
    let (inner, _) = ok!(sub.allocate(0, 2 * PAGE, CAN_RW));
    let vmo = ok!(Vmo::create(PAGE));
    let child = ok!(vmo.create_child(zx::VmoChildOptions::COPY_ON_WRITE, 0, PAGE));
    ok!(sub.map(0, &vmo, 0, PAGE, RW));
    ok!(inner.map(0, &child, 0, PAGE, RW));
    drop(child);
    check!(!zero_children(&vmo));
    ok!(sub.destroy());
    check_eq!(ok!(vmo.info()).num_mappings, 0);
    check!(zero_children(&vmo), "the child's mapping outlived destroy");
    Ok(())
}

fn operations_on_a_destroyed_vmar_are_bad_state() -> TestResult {
    let (sub, base) = ok!(region(8));
    let vmo = ok!(Vmo::create(PAGE));
    ok!(sub.destroy());
    check_eq!(sub.map(0, &vmo, 0, PAGE, RW), Err(Status::BAD_STATE));
    check_eq!(
        sub.allocate(0, PAGE, CAN_RW).map(drop),
        Err(Status::BAD_STATE)
    );
    check_eq!(sub.unmap(base, PAGE), Err(Status::BAD_STATE));
    check_eq!(sub.protect(base, PAGE, R), Err(Status::BAD_STATE));
    check_eq!(sub.destroy(), Err(Status::BAD_STATE));
    // The handle itself is still valid.
    check!(valid(sub.raw_handle()));
    Ok(())
}

fn closing_a_vmar_handle_keeps_the_region_and_its_mappings() -> TestResult {
    let (sub, base) = ok!(region(4));
    let vmo = ok!(Vmo::create(PAGE));
    let addr = ok!(sub.map(0, &vmo, 0, PAGE, RW | SPECIFIC));
    drop(sub);
    // SAFETY: the mapping outlives the VMAR handle.
    unsafe { poke(addr, 0x4d) };
    check_eq!(byte_at(&vmo, 0), Ok(0x4d));
    // The region still occupies its range in the parent.
    check_eq!(
        me().allocate(base - ok!(me().info()).base, PAGE, CAN_RW | SPECIFIC)
            .map(drop),
        Err(Status::NO_MEMORY)
    );
    Ok(())
}

fn vmar_cannot_be_waited_on() -> TestResult {
    let (sub, _) = ok!(region(1));
    check_eq!(
        sub.wait_handle(Signals(!0), Time::INFINITE_PAST),
        Err(Status::NOT_SUPPORTED)
    );
    Ok(())
}

/// A handle to `vmar` without `drop` among its rights.
fn without(vmar: &Vmar, drop: abi::Rights) -> Result<Vmar, Status> {
    let all = vmar.basic_info()?.rights;
    vmar.duplicate(Rights(all & !drop))
}

fn allocate_specific_places_the_region_and_refuses_an_overlap() -> TestResult {
    let (sub, base) = ok!(region(16));
    let (inner, at) = ok!(sub.allocate(4 * PAGE, 2 * PAGE, CAN_RW | SPECIFIC));
    check_eq!(at, base + 4 * PAGE);
    check_eq!(ok!(inner.info()).len, 2 * PAGE);
    // Overlapping it, or a mapping, is refused; beside it is fine.
    check!(sub.allocate(5 * PAGE, 2 * PAGE, CAN_RW | SPECIFIC).is_err());
    let vmo = ok!(Vmo::create(PAGE));
    ok!(sub.map(8 * PAGE, &vmo, 0, PAGE, RW | SPECIFIC));
    check!(sub.allocate(7 * PAGE, 2 * PAGE, CAN_RW | SPECIFIC).is_err());
    check_eq!(
        ok!(sub.allocate(6 * PAGE, PAGE, CAN_RW | SPECIFIC)).1,
        base + 6 * PAGE
    );
    // Unaligned, or past the parent's end.
    check_eq!(
        sub.allocate(PAGE + 1, PAGE, CAN_RW | SPECIFIC).map(drop),
        Err(Status::INVALID_ARGS)
    );
    check_eq!(
        sub.allocate(15 * PAGE, 2 * PAGE, CAN_RW | SPECIFIC)
            .map(drop),
        Err(Status::INVALID_ARGS)
    );
    ok!(sub.destroy());
    Ok(())
}

fn allocate_specific_without_can_map_specific_is_access_denied() -> TestResult {
    let (sub, _) = ok!(me().allocate(0, 16 * PAGE, CAN_RW));
    check_eq!(
        sub.allocate(4 * PAGE, PAGE, CAN_RW | SPECIFIC).map(drop),
        Err(Status::ACCESS_DENIED)
    );
    ok!(sub.destroy());
    Ok(())
}

/// "It is NOT an error if the parent does not have ZX_VM_CAN_MAP_SPECIFIC."
fn allocate_may_ask_can_map_specific_of_a_parent_without_it() -> TestResult {
    let (sub, _) = ok!(me().allocate(0, 16 * PAGE, CAN_RW));
    let (inner, at) = ok!(sub.allocate(0, 4 * PAGE, CAN_RW_SPECIFIC));
    let vmo = ok!(Vmo::create(PAGE));
    check_eq!(
        inner.map(2 * PAGE, &vmo, 0, PAGE, RW | SPECIFIC),
        Ok(at + 2 * PAGE)
    );
    ok!(sub.destroy());
    Ok(())
}

fn allocate_beyond_the_parent_is_invalid_args_and_a_full_parent_no_memory() -> TestResult {
    let (sub, _) = ok!(region(4));
    check_eq!(
        sub.allocate(0, 8 * PAGE, CAN_RW).map(drop),
        Err(Status::INVALID_ARGS)
    );
    let (_whole, _) = ok!(sub.allocate(0, 4 * PAGE, CAN_RW));
    check_eq!(
        sub.allocate(0, PAGE, CAN_RW).map(drop),
        Err(Status::NO_MEMORY)
    );
    ok!(sub.destroy());
    Ok(())
}

/// RIGHTS: CAN_MAP_READ / WRITE / EXECUTE need READ / WRITE / EXECUTE on
/// the parent handle.
fn allocate_needs_the_parent_handles_rights_for_its_permissions() -> TestResult {
    let (sub, _) = ok!(region(16));
    let no_write = ok!(without(&sub, abi::ZX_RIGHT_WRITE));
    check_eq!(
        no_write.allocate(0, PAGE, CAN_RW).map(drop),
        Err(Status::ACCESS_DENIED)
    );
    check!(no_write.allocate(0, PAGE, VmarFlags::CAN_MAP_READ).is_ok());
    let no_read = ok!(without(&sub, abi::ZX_RIGHT_READ));
    check_eq!(
        no_read.allocate(0, PAGE, VmarFlags::CAN_MAP_READ).map(drop),
        Err(Status::ACCESS_DENIED)
    );
    ok!(sub.destroy());
    Ok(())
}

fn map_into_a_full_vmar_is_no_memory() -> TestResult {
    let (sub, _) = ok!(region(4));
    let vmo = ok!(Vmo::create(4 * PAGE));
    ok!(sub.map(0, &vmo, 0, 4 * PAGE, RW));
    check_eq!(sub.map(0, &vmo, 0, PAGE, RW), Err(Status::NO_MEMORY));
    ok!(sub.destroy());
    Ok(())
}

/// vmar_map's RIGHTS: each permission needs the matching right on the
/// VMAR handle, as on the VMO handle.
fn map_needs_the_vmar_handles_rights_for_its_permissions() -> TestResult {
    let (sub, _) = ok!(region(16));
    let vmo = ok!(Vmo::create(PAGE));
    let no_write = ok!(without(&sub, abi::ZX_RIGHT_WRITE));
    check_eq!(
        no_write.map(0, &vmo, 0, PAGE, RW),
        Err(Status::ACCESS_DENIED)
    );
    check!(no_write.map(0, &vmo, 0, PAGE, R).is_ok());
    let no_read = ok!(without(&sub, abi::ZX_RIGHT_READ));
    check_eq!(no_read.map(0, &vmo, 0, PAGE, R), Err(Status::ACCESS_DENIED));
    check_eq!(ok!(vmo.info()).num_mappings, 1);
    ok!(sub.destroy());
    Ok(())
}

/// "some subrange of the requested range is occupied by a subregion".
fn protect_over_a_sub_vmar_is_invalid_args() -> TestResult {
    let (sub, base) = ok!(region(8));
    let vmo = ok!(Vmo::create(2 * PAGE));
    ok!(sub.map(0, &vmo, 0, 2 * PAGE, RW | SPECIFIC));
    let (_inner, _) = ok!(sub.allocate(2 * PAGE, 2 * PAGE, CAN_RW | SPECIFIC));
    check_eq!(sub.protect(base, 4 * PAGE, R), Err(Status::INVALID_ARGS));
    // The mapping kept its permissions: a store still works.
    // SAFETY: the first page is mapped read-write.
    unsafe { (base as *mut u8).write_volatile(1) };
    ok!(sub.destroy());
    Ok(())
}

fn protect_needs_the_vmar_handles_rights_and_its_permissions() -> TestResult {
    let (sub, base) = ok!(region(8));
    let vmo = ok!(Vmo::create(PAGE));
    ok!(sub.map(0, &vmo, 0, PAGE, R | SPECIFIC));
    let no_write = ok!(without(&sub, abi::ZX_RIGHT_WRITE));
    check_eq!(no_write.protect(base, PAGE, RW), Err(Status::ACCESS_DENIED));
    check!(sub.protect(base, PAGE, RW).is_ok());
    // A VMAR that may not map writable: "the VMAR itself does not allow".
    let (ro, ro_base) = ok!(me().allocate(0, 4 * PAGE, VmarFlags::CAN_MAP_READ));
    ok!(ro.map(0, &vmo, 0, PAGE, R));
    check_eq!(ro.protect(ro_base, PAGE, RW), Err(Status::ACCESS_DENIED));
    ok!(ro.destroy());
    ok!(sub.destroy());
    Ok(())
}

// The audit against the reference pages: each statement a test writer
// would try that the tests above leave open.

const OVERWRITE: VmarFlags = VmarFlags::SPECIFIC_OVERWRITE;

/// vmar_map's *options* lists SPECIFIC, SPECIFIC_OVERWRITE, PERM_*,
/// MAP_RANGE and REQUIRE_NON_RESIZABLE: COMPACT and the CAN_MAP_* bits
/// (vmar_allocate's) are not valid there ("*options* are not valid").
fn map_with_allocate_only_options_is_invalid_args() -> TestResult {
    let (sub, _) = ok!(region(4));
    let vmo = ok!(Vmo::create(PAGE));
    for bad in [
        abi::ZX_VM_COMPACT,
        abi::ZX_VM_CAN_MAP_SPECIFIC,
        abi::ZX_VM_CAN_MAP_READ,
        abi::ZX_VM_CAN_MAP_WRITE,
        abi::ZX_VM_CAN_MAP_EXECUTE,
    ] {
        check_eq!(
            sub.map(0, &vmo, 0, PAGE, RW | VmarFlags(bad)),
            Err(Status::INVALID_ARGS),
            "option {bad:#x}"
        );
    }
    check_eq!(ok!(vmo.info()).num_mappings, 0);
    ok!(sub.destroy());
    Ok(())
}

/// "*vmar_offset* and *len* describe an unsatisfiable allocation due to
/// exceeding the region bounds": the last page fits, one more does not,
/// and an offset plus length that wraps is refused, not wrapped.
fn map_specific_at_the_top_of_the_vmar_fits_and_past_it_is_invalid_args() -> TestResult {
    let (sub, base) = ok!(region(4));
    let vmo = ok!(Vmo::create(2 * PAGE));
    check_eq!(
        sub.map(3 * PAGE, &vmo, 0, PAGE, RW | SPECIFIC),
        Ok(base + 3 * PAGE)
    );
    for (offset, len) in [
        (4 * PAGE, PAGE),
        (2 * PAGE, 3 * PAGE),
        (u64::MAX - PAGE + 1, PAGE),
        (PAGE, u64::MAX - PAGE + 1),
    ] {
        check_eq!(
            sub.map(offset, &vmo, 0, len, RW | SPECIFIC),
            Err(Status::INVALID_ARGS),
            "offset {offset:#x} len {len:#x}"
        );
        check_eq!(
            sub.map(offset, &vmo, 0, len, RW | OVERWRITE),
            Err(Status::INVALID_ARGS),
            "overwrite at {offset:#x} len {len:#x}"
        );
    }
    // A length the size of the whole region fits an empty one; a huge
    // aligned one fits nowhere.
    let (whole, whole_base) = ok!(region(4));
    check_eq!(
        whole.map(0, &vmo, 0, u64::MAX - PAGE + 1, RW),
        Err(Status::INVALID_ARGS)
    );
    check_eq!(whole.map(0, &vmo, 0, 4 * PAGE, RW), Ok(whole_base));
    check_eq!(ok!(vmo.info()).num_mappings, 2);
    ok!(whole.destroy());
    ok!(sub.destroy());
    Ok(())
}

/// "*vmar_offset* ... not page-aligned" with SPECIFIC or SPECIFIC_OVERWRITE.
fn map_specific_at_an_unaligned_offset_is_invalid_args() -> TestResult {
    let (sub, _) = ok!(region(4));
    let vmo = ok!(Vmo::create(PAGE));
    for flags in [SPECIFIC, OVERWRITE] {
        check_eq!(
            sub.map(PAGE / 2, &vmo, 0, PAGE, RW | flags),
            Err(Status::INVALID_ARGS)
        );
        check_eq!(
            sub.map(PAGE + 8, &vmo, 0, PAGE, RW | flags),
            Err(Status::INVALID_ARGS)
        );
    }
    check_eq!(ok!(vmo.info()).num_mappings, 0);
    ok!(sub.destroy());
    Ok(())
}

/// SPECIFIC_OVERWRITE is "Same as ZX_VM_SPECIFIC": it needs
/// CAN_MAP_SPECIFIC too.
fn map_specific_overwrite_without_can_map_specific_is_access_denied() -> TestResult {
    let (sub, _) = ok!(me().allocate(0, 4 * PAGE, CAN_RW));
    let vmo = ok!(Vmo::create(PAGE));
    check_eq!(
        sub.map(PAGE, &vmo, 0, PAGE, RW | OVERWRITE),
        Err(Status::ACCESS_DENIED)
    );
    check_eq!(ok!(vmo.info()).num_mappings, 0);
    ok!(sub.destroy());
    Ok(())
}

/// "It is still an error to partially-overlap another VMAR": an overwrite
/// over a sub-VMAR (partly, or wholly: it replaces mappings, never
/// regions) is refused and changes nothing.
fn map_specific_overwrite_over_a_sub_vmar_is_invalid_args_and_changes_nothing() -> TestResult {
    let (sub, base) = ok!(region(8));
    let old = ok!(Vmo::create(2 * PAGE));
    ok!(old.write(&[0x11], 0));
    ok!(sub.map(0, &old, 0, 2 * PAGE, R | SPECIFIC));
    let (inner, _) = ok!(sub.allocate(4 * PAGE, 2 * PAGE, CAN_RW_SPECIFIC | SPECIFIC));
    let new = ok!(Vmo::create(8 * PAGE));
    for (offset, len) in [
        (0, 8 * PAGE),
        (PAGE, 4 * PAGE),
        (5 * PAGE, 2 * PAGE),
        (4 * PAGE, 2 * PAGE),
    ] {
        check_eq!(
            sub.map(offset, &new, 0, len, RW | OVERWRITE),
            Err(Status::INVALID_ARGS),
            "offset {offset:#x} len {len:#x}"
        );
    }
    check_eq!(ok!(new.info()).num_mappings, 0);
    check_eq!(ok!(old.info()).num_mappings, 1);
    // SAFETY: the old mapping is still there, readable.
    check_eq!(unsafe { peek(base) }, 0x11);
    // The sub-VMAR is still alive.
    check!(inner.map(0, &new, 0, PAGE, RW).is_ok());
    ok!(sub.destroy());
    Ok(())
}

/// SPECIFIC_OVERWRITE over free space maps as SPECIFIC does; over parts
/// of two mappings it splits both and replaces only the range; with
/// SPECIFIC also set it still overwrites.
fn map_specific_overwrite_over_free_space_and_parts_of_two_mappings() -> TestResult {
    let (sub, base) = ok!(region(8));
    let a = ok!(Vmo::create(3 * PAGE));
    let b = ok!(Vmo::create(3 * PAGE));
    let c = ok!(Vmo::create(2 * PAGE));
    for p in 0..3 {
        ok!(fill_page(&a, p, 0xa0 + p as u8));
        ok!(fill_page(&b, p, 0xb0 + p as u8));
    }
    ok!(fill_page(&c, 0, 0xc0));
    ok!(fill_page(&c, 1, 0xc1));
    check_eq!(sub.map(0, &a, 0, 3 * PAGE, R | OVERWRITE), Ok(base));
    ok!(sub.map(3 * PAGE, &b, 0, 3 * PAGE, R | SPECIFIC));
    // [a0 a1 a2 b0 b1 b2 . .] → [a0 a1 c0 c1 b1 b2 . .]
    check_eq!(
        sub.map(2 * PAGE, &c, 0, 2 * PAGE, R | SPECIFIC | OVERWRITE),
        Ok(base + 2 * PAGE)
    );
    let want = [0xa0, 0xa1, 0xc0, 0xc1, 0xb1, 0xb2];
    for (p, &byte) in want.iter().enumerate() {
        // SAFETY: the first six pages are mapped readable.
        check_eq!(unsafe { peek(base + p as u64 * PAGE) }, byte, "page {p}");
    }
    check_eq!(ok!(a.info()).num_mappings, 1);
    check_eq!(ok!(b.info()).num_mappings, 1);
    check_eq!(ok!(c.info()).num_mappings, 1);
    ok!(sub.destroy());
    Ok(())
}

/// REQUIRE_NON_RESIZABLE: "only if the VMO is non-resizable": a child
/// made with ZX_VMO_CHILD_NON_RESIZEABLE maps, a resizable child does not.
fn map_require_non_resizable_follows_a_childs_resizability() -> TestResult {
    let flags = R | VmarFlags(abi::ZX_VM_REQUIRE_NON_RESIZABLE);
    let vmo = ok!(Vmo::create(PAGE));
    let cow = zx::VmoChildOptions::COPY_ON_WRITE;
    let resizable = ok!(vmo.create_child(cow, 0, PAGE));
    check_eq!(
        me().map(0, &resizable, 0, PAGE, flags),
        Err(Status::NOT_SUPPORTED)
    );
    let fixed = ok!(vmo.create_child(cow | zx::VmoChildOptions::NON_RESIZEABLE, 0, PAGE));
    let addr = ok!(me().map(0, &fixed, 0, PAGE, flags));
    ok!(unmap(addr, PAGE));
    // A non-resizable VMO's own child is resizable unless it asks.
    let root = ok!(Vmo::create_with_opts(VmoOptions::NON_RESIZABLE, PAGE));
    let child = ok!(root.create_child(cow, 0, PAGE));
    check_eq!(
        me().map(0, &child, 0, PAGE, flags),
        Err(Status::NOT_SUPPORTED)
    );
    Ok(())
}

/// Nothing in vmar_map refuses a *vmo_offset* past the VMO's end (only
/// its alignment and overflow): the map succeeds, MAP_RANGE maps nothing
/// there, and touching it faults (touching_past_the_vmo_end_faults).
fn map_past_the_vmo_end_is_allowed() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let addr = ok!(me().map(0, &vmo, 4 * PAGE, 2 * PAGE, R));
    ok!(unmap(addr, 2 * PAGE));
    let addr = ok!(me().map(0, &vmo, PAGE, PAGE, R | VmarFlags::MAP_RANGE));
    ok!(unmap(addr, PAGE));
    check_eq!(ok!(vmo.info()).num_mappings, 0);
    Ok(())
}

/// No ZX_VM_PERM_* bit is a valid mapping that every access faults on;
/// protect can give it permissions later.
fn map_without_permissions_faults_on_every_access() -> TestResult {
    let end = ok!(run_in_task(|| {
        let Ok(vmo) = Vmo::create(PAGE) else { return };
        let Ok(addr) = me().map(0, &vmo, 0, PAGE, VmarFlags(0)) else {
            return;
        };
        // SAFETY: the mapping has no permissions: this task faults here.
        unsafe { peek(addr) };
    }));
    check_eq!(end.fault_class(), Some(0x24), "{end:?}");
    let vmo = ok!(Vmo::create(PAGE));
    ok!(vmo.write(&[0x5a], 0));
    let addr = ok!(me().map(0, &vmo, 0, PAGE, VmarFlags(0)));
    ok!(me().protect(addr, PAGE, R));
    // SAFETY: readable now.
    check_eq!(unsafe { peek(addr) }, 0x5a);
    ok!(unmap(addr, PAGE));
    Ok(())
}

/// ZX_VM_PERM_EXECUTE needs EXECUTE on the VMAR handle (map's and
/// protect's RIGHTS) and CAN_MAP_EXECUTE on the VMAR itself.
fn execute_needs_the_vmar_handles_execute_right_and_can_map_execute() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let rx = R | VmarFlags::PERM_EXECUTE;
    let flags = VmarFlags(abi::ZX_VM_CAN_MAP_READ | abi::ZX_VM_CAN_MAP_EXECUTE);
    let (sub, base) = ok!(me().allocate(0, 4 * PAGE, flags | VmarFlags::CAN_MAP_SPECIFIC));
    check_eq!(
        ok!(sub.basic_info()).rights & abi::ZX_RIGHT_EXECUTE,
        abi::ZX_RIGHT_EXECUTE
    );
    let no_exec = ok!(without(&sub, abi::ZX_RIGHT_EXECUTE));
    check_eq!(
        no_exec.map(0, &vmo, 0, PAGE, rx),
        Err(Status::ACCESS_DENIED)
    );
    check_eq!(ok!(sub.map(0, &vmo, 0, PAGE, R | SPECIFIC)), base);
    check_eq!(no_exec.protect(base, PAGE, rx), Err(Status::ACCESS_DENIED));
    ok!(sub.protect(base, PAGE, rx));
    // A region without CAN_MAP_EXECUTE: its handle has no EXECUTE, and
    // neither map nor protect reaches it.
    let (ro, ro_base) = ok!(me().allocate(0, 4 * PAGE, VmarFlags::CAN_MAP_READ));
    check_eq!(ok!(ro.basic_info()).rights & abi::ZX_RIGHT_EXECUTE, 0);
    check_eq!(ro.map(0, &vmo, 0, PAGE, rx), Err(Status::ACCESS_DENIED));
    ok!(ro.map(0, &vmo, 0, PAGE, R));
    check_eq!(ro.protect(ro_base, PAGE, rx), Err(Status::ACCESS_DENIED));
    ok!(ro.destroy());
    ok!(sub.destroy());
    Ok(())
}

/// Unmap's range must lie in the VMAR: a range crossing either end is
/// INVALID_ARGS, one ending at its top is fine; a range with mappings and
/// gaps removes what is there.
fn unmap_at_the_edges_of_the_vmar() -> TestResult {
    let (sub, base) = ok!(region(4));
    let vmo = ok!(Vmo::create(4 * PAGE));
    ok!(sub.map(PAGE, &vmo, 0, PAGE, RW | SPECIFIC));
    ok!(sub.map(3 * PAGE, &vmo, 0, PAGE, RW | SPECIFIC));
    check_eq!(sub.unmap(base - PAGE, 2 * PAGE), Err(Status::INVALID_ARGS));
    check_eq!(
        sub.unmap(base + 3 * PAGE, 2 * PAGE),
        Err(Status::INVALID_ARGS)
    );
    check_eq!(sub.unmap(base + 4 * PAGE, PAGE), Err(Status::INVALID_ARGS));
    check_eq!(ok!(vmo.info()).num_mappings, 2);
    ok!(sub.unmap(base + 3 * PAGE, PAGE));
    check_eq!(ok!(vmo.info()).num_mappings, 1);
    // Gap, mapping, gap.
    ok!(sub.unmap(base, 4 * PAGE));
    check_eq!(ok!(vmo.info()).num_mappings, 0);
    check_eq!(sub.unmap(base, 4 * PAGE), Err(Status::NOT_FOUND));
    ok!(sub.destroy());
    Ok(())
}

/// vmar_unmap and vmar_destroy name no right (RIGHTS: TODO): a handle
/// with none still does them, as the era's kernel did.
fn unmap_and_destroy_need_no_rights() -> TestResult {
    let (sub, base) = ok!(region(4));
    let vmo = ok!(Vmo::create(PAGE));
    ok!(sub.map(0, &vmo, 0, PAGE, RW | SPECIFIC));
    let bare = ok!(sub.duplicate(Rights(0)));
    ok!(bare.unmap(base, PAGE));
    check_eq!(ok!(vmo.info()).num_mappings, 0);
    ok!(bare.destroy());
    check_eq!(sub.destroy(), Err(Status::BAD_STATE));
    Ok(())
}

/// Protect's options are ZX_VM_PERM_* only; EXECUTE without READ is an
/// unsupported combination as WRITE without READ is. A failed protect
/// changes nothing.
fn protect_with_other_options_or_execute_without_read_is_invalid_args() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let addr = ok!(map_rw(&vmo, PAGE));
    for bad in [
        abi::ZX_VM_SPECIFIC,
        abi::ZX_VM_COMPACT,
        abi::ZX_VM_SPECIFIC_OVERWRITE,
        abi::ZX_VM_CAN_MAP_READ,
        abi::ZX_VM_MAP_RANGE,
        abi::ZX_VM_REQUIRE_NON_RESIZABLE,
        1 << 20,
        1 << 31,
    ] {
        check_eq!(
            me().protect(addr, PAGE, R | VmarFlags(bad)),
            Err(Status::INVALID_ARGS),
            "option {bad:#x}"
        );
    }
    check_eq!(
        me().protect(addr, PAGE, VmarFlags::PERM_EXECUTE),
        Err(Status::INVALID_ARGS)
    );
    check_eq!(
        me().protect(addr, PAGE, VmarFlags::PERM_WRITE | VmarFlags::PERM_EXECUTE),
        Err(Status::INVALID_ARGS)
    );
    // Still writable.
    // SAFETY: the mapping kept its read-write permissions.
    unsafe { poke(addr, 7) };
    ok!(unmap(addr, PAGE));
    Ok(())
}

/// "*len* must be page-aligned", and the range must lie in the VMAR: an
/// unaligned length, a range crossing either end, or one that wraps is
/// INVALID_ARGS; one ending at the top is fine.
fn protect_at_the_edges_of_the_vmar() -> TestResult {
    let (sub, base) = ok!(region(4));
    let vmo = ok!(Vmo::create(4 * PAGE));
    ok!(sub.map(0, &vmo, 0, 4 * PAGE, RW | SPECIFIC));
    check_eq!(sub.protect(base, PAGE + 1, R), Err(Status::INVALID_ARGS));
    check_eq!(sub.protect(base, PAGE / 2, R), Err(Status::INVALID_ARGS));
    check_eq!(
        sub.protect(base - PAGE, 2 * PAGE, R),
        Err(Status::INVALID_ARGS)
    );
    check_eq!(
        sub.protect(base + 3 * PAGE, 2 * PAGE, R),
        Err(Status::INVALID_ARGS)
    );
    check_eq!(
        sub.protect(base + PAGE, u64::MAX - PAGE + 1, R),
        Err(Status::INVALID_ARGS)
    );
    ok!(sub.protect(base + 3 * PAGE, PAGE, R));
    check_eq!(ok!(vmo.info()).num_mappings, 2);
    ok!(sub.destroy());
    Ok(())
}

/// A protect over several adjacent mappings (of different VMOs) changes
/// them all; to no permission, touching faults.
fn protect_over_adjacent_mappings_changes_each() -> TestResult {
    let end = ok!(run_in_task(|| {
        let Ok((sub, base)) = region(4) else { return };
        let (Ok(a), Ok(b)) = (Vmo::create(PAGE), Vmo::create(PAGE)) else {
            return;
        };
        if sub.map(0, &a, 0, PAGE, RW | SPECIFIC).is_err()
            || sub.map(PAGE, &b, 0, PAGE, RW | SPECIFIC).is_err()
            || sub.protect(base, 2 * PAGE, R).is_err()
        {
            return;
        }
        // SAFETY: both pages are readable; the protect to none then
        // makes the read of the second fault.
        unsafe {
            peek(base);
            peek(base + PAGE);
            if sub.protect(base, 2 * PAGE, VmarFlags(0)).is_err() {
                return;
            }
            peek(base + PAGE);
        }
    }));
    check!(
        matches!(end, TaskEnd::Faulted { .. }) && end.fault_class() == Some(0x24),
        "{end:?}"
    );
    // And a store after protecting both to read-only faults too.
    let end = ok!(run_in_task(|| {
        let Ok((sub, base)) = region(4) else { return };
        let (Ok(a), Ok(b)) = (Vmo::create(PAGE), Vmo::create(PAGE)) else {
            return;
        };
        if sub.map(0, &a, 0, PAGE, RW | SPECIFIC).is_err()
            || sub.map(PAGE, &b, 0, PAGE, RW | SPECIFIC).is_err()
            || sub.protect(base, 2 * PAGE, R).is_err()
        {
            return;
        }
        // SAFETY: read-only now: this task faults on the store.
        unsafe { poke(base + PAGE, 1) };
    }));
    check_eq!(end.fault_class(), Some(0x24), "{end:?}");
    Ok(())
}

/// vmar_allocate's *options*: COMPACT, SPECIFIC and the CAN_MAP_* bits;
/// any other (the PERM_* bits, SPECIFIC_OVERWRITE, MAP_RANGE,
/// REQUIRE_NON_RESIZABLE, unknown bits) is INVALID_ARGS.
fn allocate_options_are_compact_specific_and_can_map_only() -> TestResult {
    let (sub, _) = ok!(region(16));
    for bad in [
        abi::ZX_VM_PERM_READ,
        abi::ZX_VM_PERM_WRITE,
        abi::ZX_VM_PERM_EXECUTE,
        abi::ZX_VM_SPECIFIC_OVERWRITE,
        abi::ZX_VM_MAP_RANGE,
        abi::ZX_VM_REQUIRE_NON_RESIZABLE,
        1 << 20,
        1 << 31,
    ] {
        check_eq!(
            sub.allocate(0, PAGE, CAN_RW | VmarFlags(bad)).map(drop),
            Err(Status::INVALID_ARGS),
            "option {bad:#x}"
        );
    }
    let (compact, _) = ok!(sub.allocate(0, 4 * PAGE, CAN_RW | VmarFlags(abi::ZX_VM_COMPACT)));
    let vmo = ok!(Vmo::create(PAGE));
    check!(compact.map(0, &vmo, 0, PAGE, RW).is_ok());
    // No CAN_MAP bit at all: a region only inaccessible mappings go in,
    // whose handle has none of READ, WRITE, EXECUTE.
    let (bare, _) = ok!(sub.allocate(0, 4 * PAGE, VmarFlags(0)));
    let rwx = abi::ZX_RIGHT_READ | abi::ZX_RIGHT_WRITE | abi::ZX_RIGHT_EXECUTE;
    check_eq!(ok!(bare.basic_info()).rights & rwx, 0);
    check_eq!(bare.map(0, &vmo, 0, PAGE, R), Err(Status::ACCESS_DENIED));
    check!(bare.map(0, &vmo, 0, PAGE, VmarFlags(0)).is_ok());
    ok!(sub.destroy());
    Ok(())
}

/// "*offset* and *size* describe an unsatisfiable allocation due to
/// exceeding the region bounds": the last page fits, past it (or a sum
/// that wraps) does not.
fn allocate_specific_at_the_top_of_the_parent_fits_and_past_it_is_invalid_args() -> TestResult {
    let (sub, base) = ok!(region(4));
    for (offset, size) in [
        (4 * PAGE, PAGE),
        (3 * PAGE, 2 * PAGE),
        (u64::MAX - PAGE + 1, PAGE),
        (PAGE, u64::MAX - PAGE + 1),
    ] {
        check_eq!(
            sub.allocate(offset, size, CAN_RW | SPECIFIC).map(drop),
            Err(Status::INVALID_ARGS),
            "offset {offset:#x} size {size:#x}"
        );
    }
    check_eq!(
        sub.allocate(0, u64::MAX - PAGE + 1, CAN_RW).map(drop),
        Err(Status::INVALID_ARGS)
    );
    let (_top, at) = ok!(sub.allocate(3 * PAGE, PAGE, CAN_RW | SPECIFIC));
    check_eq!(at, base + 3 * PAGE);
    // The rest of the parent, by the kernel's choice: exactly what is left.
    let (_rest, at) = ok!(sub.allocate(0, 3 * PAGE, CAN_RW));
    check_eq!(at, base);
    ok!(sub.destroy());
    Ok(())
}

/// vmar_destroy "destroys all sub-regions of the region": handles to them
/// stay valid but every VMAR operation on them is BAD_STATE; the range the
/// region held is free in its parent again (NOTES: Deallocation).
fn destroy_is_recursive_and_frees_the_range() -> TestResult {
    let (outer, outer_base) = ok!(region(16));
    let (mid, mid_base) = ok!(outer.allocate(4 * PAGE, 8 * PAGE, CAN_RW_SPECIFIC | SPECIFIC));
    let (inner, inner_base) = ok!(mid.allocate(2 * PAGE, 2 * PAGE, CAN_RW_SPECIFIC | SPECIFIC));
    let vmo = ok!(Vmo::create(PAGE));
    ok!(inner.map(0, &vmo, 0, PAGE, RW | SPECIFIC));
    ok!(mid.map(0, &vmo, 0, PAGE, RW | SPECIFIC));
    check_eq!(ok!(vmo.info()).num_mappings, 2);
    ok!(mid.destroy());
    check_eq!(ok!(vmo.info()).num_mappings, 0);
    for v in [&mid, &inner] {
        check_eq!(v.map(0, &vmo, 0, PAGE, RW), Err(Status::BAD_STATE));
        check_eq!(
            v.allocate(0, PAGE, CAN_RW).map(drop),
            Err(Status::BAD_STATE)
        );
        check_eq!(v.destroy(), Err(Status::BAD_STATE));
        check!(valid(v.raw_handle()));
    }
    check_eq!(inner.unmap(inner_base, PAGE), Err(Status::BAD_STATE));
    check_eq!(inner.protect(inner_base, PAGE, R), Err(Status::BAD_STATE));
    // The parent lives on, with the range free again.
    let (_again, at) = ok!(outer.allocate(4 * PAGE, 8 * PAGE, CAN_RW | SPECIFIC));
    check_eq!(at, mid_base);
    check_eq!(at, outer_base + 4 * PAGE);
    ok!(outer.destroy());
    Ok(())
}

/// The last page of the task's own VMAR maps, SPECIFIC, and is usable;
/// protect and unmap reach it; a page further is outside.
fn the_last_page_of_the_tasks_own_vmar_maps_protects_and_unmaps() -> TestResult {
    let info = ok!(me().info());
    let top = info.len - PAGE;
    let vmo = ok!(Vmo::create(PAGE));
    let addr = ok!(me().map(top, &vmo, 0, PAGE, RW | SPECIFIC));
    check_eq!(addr, info.base + top);
    // SAFETY: the page was just mapped read-write.
    unsafe { poke(addr + PAGE - 1, 0x7e) };
    check_eq!(byte_at(&vmo, PAGE - 1), Ok(0x7e));
    check_eq!(
        me().map(info.len, &vmo, 0, PAGE, RW | SPECIFIC),
        Err(Status::INVALID_ARGS)
    );
    ok!(me().protect(addr, PAGE, R));
    check_eq!(me().protect(addr, 2 * PAGE, R), Err(Status::INVALID_ARGS));
    check_eq!(unmap(addr, 2 * PAGE), Err(Status::INVALID_ARGS));
    ok!(unmap(addr, PAGE));
    check_eq!(ok!(vmo.info()).num_mappings, 0);
    Ok(())
}

/// What protect may grant later is fixed at map time by both handles: a
/// mapping made through a VMAR handle without WRITE cannot be made
/// writable through one with it (the era's kernel: the mapping keeps
/// CAN_MAP_* for the rights both handles had).
fn protect_is_bounded_by_the_vmar_handle_used_to_map() -> TestResult {
    let (sub, base) = ok!(region(4));
    let vmo = ok!(Vmo::create(PAGE));
    let no_write = ok!(without(&sub, abi::ZX_RIGHT_WRITE));
    ok!(no_write.map(0, &vmo, 0, PAGE, R | SPECIFIC));
    check_eq!(sub.protect(base, PAGE, RW), Err(Status::ACCESS_DENIED));
    ok!(sub.protect(base, PAGE, R));
    ok!(sub.destroy());
    Ok(())
}

/// Hostile: a task that destroys its own VMAR (its stacks with it), or
/// unmaps all of it, ends on its next touch of the stack; the kernel and
/// this task go on.
fn a_task_that_destroys_or_unmaps_its_own_vmar_faults_alone() -> TestResult {
    let end = ok!(run_in_task(|| {
        let _ = me().destroy();
    }));
    check!(matches!(end, TaskEnd::Faulted { .. }), "{end:?}");
    let end = ok!(run_in_task(|| {
        if let Ok(info) = me().info() {
            let _ = me().unmap(info.base, info.len);
        }
    }));
    check!(matches!(end, TaskEnd::Faulted { .. }), "{end:?}");
    // Still here: a map and a touch.
    let (vmo, addr) = ok!(mapped_page_with(b"alive", 0));
    // SAFETY: mapped read-write test scratch.
    check_eq!(unsafe { peek(addr) }, b'a');
    ok!(unmap(addr, PAGE));
    drop(vmo);
    Ok(())
}

/// Where several errors apply (the pages give no order), the era's
/// kernel's order: handles first; for map the VMO's MAP right, the
/// permissions' rights, the other options, REQUIRE_NON_RESIZABLE, the VMO
/// offset, the VMAR's state, the length; for allocate the options and the
/// size's alignment, the state, a zero size; CAN_MAP_SPECIFIC before the
/// offset's alignment.
fn errors_come_in_the_era_kernels_order() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let ro = ok!(vmo.duplicate(Rights::MAP | Rights::READ));
    let bad_vmo = ManuallyDrop::new(Vmo::from(zx::Handle::from_raw(FORGED_HANDLE)));
    check_eq!(
        me().map(1, &bad_vmo, 1, 0, VmarFlags(1 << 20)),
        Err(Status::BAD_HANDLE)
    );
    check_eq!(
        me().map(0, &ro, 0, PAGE, RW | VmarFlags(1 << 20)),
        Err(Status::ACCESS_DENIED)
    );
    let nrs = VmarFlags(abi::ZX_VM_REQUIRE_NON_RESIZABLE);
    let (dead, _) = ok!(region(4));
    ok!(dead.destroy());
    check_eq!(
        dead.map(0, &vmo, 0, PAGE, R | nrs),
        Err(Status::NOT_SUPPORTED)
    );
    check_eq!(dead.map(0, &vmo, 1, PAGE, R), Err(Status::INVALID_ARGS));
    check_eq!(dead.map(0, &vmo, 0, 0, R), Err(Status::BAD_STATE));
    check_eq!(
        dead.allocate(0, PAGE + 1, CAN_RW).map(drop),
        Err(Status::INVALID_ARGS)
    );
    check_eq!(
        dead.allocate(0, 0, CAN_RW).map(drop),
        Err(Status::BAD_STATE)
    );
    check_eq!(dead.protect(0, 0, R), Err(Status::INVALID_ARGS));
    check_eq!(dead.unmap(0, 0), Err(Status::INVALID_ARGS));
    let (no_spec, _) = ok!(me().allocate(0, 4 * PAGE, CAN_RW));
    check_eq!(
        no_spec.map(1, &vmo, 0, PAGE, R | SPECIFIC),
        Err(Status::ACCESS_DENIED)
    );
    check_eq!(
        no_spec.map(8 * PAGE, &vmo, 0, PAGE, R | SPECIFIC),
        Err(Status::ACCESS_DENIED)
    );
    check_eq!(
        no_spec.allocate(1, PAGE, CAN_RW | SPECIFIC).map(drop),
        Err(Status::ACCESS_DENIED)
    );
    ok!(no_spec.destroy());
    Ok(())
}

/// ERRORS, BAD_HANDLE: "*handle* (or *vmo*) is not a valid handle", for
/// each VMAR call, with a stale, a forged and the invalid handle value.
fn every_vmar_call_with_a_bad_handle_is_bad_handle() -> TestResult {
    let stale = zx::Handle::from(ok!(Vmo::create(PAGE))).into_raw();
    ok!(zx::Handle::from_raw(stale).close());
    let vmo = ok!(Vmo::create(PAGE));
    let (sub, base) = ok!(region(4));
    let (mut child, mut addr) = (0 as abi::Handle, 0u64);
    let (c, a) = (&raw mut child as u64, &raw mut addr as u64);
    let (s, v) = (u64::from(sub.raw_handle()), u64::from(vmo.raw_handle()));
    let r = u64::from(abi::ZX_VM_PERM_READ);
    let can = u64::from(abi::ZX_VM_CAN_MAP_READ);
    for bad in [stale, FORGED_HANDLE, abi::ZX_HANDLE_INVALID] {
        let x = u64::from(bad);
        let cases = [
            (abi::Syscall::VmarMap, [x, r, 0, v, 0, PAGE, a, 0]),
            (abi::Syscall::VmarMap, [s, r, 0, x, 0, PAGE, a, 0]),
            (abi::Syscall::VmarUnmap, [x, base, PAGE, 0, 0, 0, 0, 0]),
            (abi::Syscall::VmarProtect, [x, r, base, PAGE, 0, 0, 0, 0]),
            (abi::Syscall::VmarAllocate, [x, can, 0, PAGE, c, a, 0, 0]),
            (abi::Syscall::VmarDestroy, [x, 0, 0, 0, 0, 0, 0, 0]),
        ];
        for (n, args) in cases {
            // SAFETY: the out-pointers are this frame's locals.
            check_eq!(
                unsafe { raw(n, args) },
                Status::BAD_HANDLE,
                "{n:?} with {bad:#x}"
            );
        }
    }
    check_eq!(ok!(vmo.info()).num_mappings, 0);
    ok!(sub.destroy());
    Ok(())
}

/// vmar_protect: "It is also an error if the VMO handle used to create
/// the mapping did not have the ZX_RIGHT_READ right": a mapping made
/// with no permission through a handle without READ stays unreadable.
fn protect_needs_the_read_right_of_the_vmo_handle_used_to_map() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let map_only = ok!(vmo.duplicate(Rights::MAP));
    let addr = ok!(me().map(0, &map_only, 0, PAGE, VmarFlags(0)));
    check_eq!(me().protect(addr, PAGE, R), Err(Status::ACCESS_DENIED));
    ok!(me().protect(addr, PAGE, VmarFlags(0)));
    ok!(unmap(addr, PAGE));
    Ok(())
}
