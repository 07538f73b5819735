//! VMOs: `vmo_create`, `vmo_read`/`vmo_write`, sizes, `vmo_op_range`
//! (COMMIT, DECOMMIT, LOOKUP, the cache ops), and the same bytes seen through mappings.

use super::util::*;
use crate::harness::{Suite, TestResult};
use crate::{check, check_eq, ok, tests};
use zx::{
    AsHandleRef, Event, HandleBased, Rights, Status, VmarFlags, Vmo, VmoChildOptions, VmoOp,
    VmoOptions,
};

pub static SUITE: Suite = Suite {
    name: "vmo",
    tests: tests![
        create_rounds_size_up_to_a_page,
        create_of_size_zero_has_no_bytes,
        create_non_resizable_makes_set_size_unavailable,
        create_with_an_unknown_option_is_invalid_args,
        create_of_the_largest_size_is_ok_and_beyond_is_out_of_range,
        new_vmo_handle_has_the_default_rights,
        new_vmo_reads_zeros_and_commits_nothing,
        zero_byte_read_and_write_at_the_end_succeed,
        read_past_the_end_is_out_of_range,
        write_past_the_end_is_out_of_range_and_writes_nothing,
        overflowing_offset_plus_length_is_out_of_range,
        write_then_read_across_pages_round_trips,
        write_commits_only_the_pages_it_touches,
        set_size_grows_with_zero_pages,
        set_size_shrink_drops_data_and_frees_pages,
        set_size_rounds_up_to_a_page,
        set_size_beyond_the_largest_is_out_of_range,
        set_size_without_write_right_is_access_denied,
        get_size_needs_no_rights,
        read_without_read_right_is_access_denied,
        write_without_write_right_is_access_denied,
        commit_and_decommit_change_committed_bytes,
        decommitted_pages_read_zero,
        commit_and_decommit_without_write_right_are_access_denied,
        op_range_past_the_end_is_out_of_range,
        lookup_gives_distinct_page_aligned_addresses,
        lookup_of_a_page_nobody_has_is_no_memory,
        lookup_of_size_zero_is_invalid_args,
        lookup_past_the_end_is_out_of_range,
        lookup_into_a_small_buffer_is_buffer_too_small,
        lookup_without_read_right_is_access_denied,
        lookup_at_an_unaligned_offset_gives_the_containing_page,
        lock_and_unlock_are_not_supported,
        unknown_op_is_invalid_args,
        zero_length_commit_at_an_unaligned_offset_commits_nothing,
        zero_length_decommit_at_an_unaligned_offset_keeps_a_childs_page,
        zero_length_commit_and_decommit_are_ok_up_to_the_end_only,
        cache_ops_succeed_and_change_no_byte_and_commit_nothing,
        cache_ops_over_a_huge_sparse_range_succeed,
        decommit_and_shrink_of_the_largest_sparse_vmo_go_by_its_pages,
        cache_op_of_size_zero_is_invalid_args,
        cache_op_past_the_end_is_out_of_range,
        cache_ops_need_read_and_invalidate_needs_write,
        vmo_write_shows_through_a_mapping,
        store_through_a_mapping_shows_in_vmo_read,
        vmo_read_into_a_mapping_of_the_same_vmo_works,
        reading_through_a_mapping_commits_nothing,
        info_reports_size_resizability_and_rights,
        info_needs_no_right_and_reports_the_handles_own_rights,
        info_counts_mappings_and_children_as_they_come_and_go,
        op_range_ignores_the_buffer_but_for_lookup,
        op_range_checks_the_handle_then_the_right_then_the_op_size_and_range,
        set_size_checks_the_right_then_resizability_then_the_size,
        commit_of_more_than_the_task_may_hold_is_no_memory_and_commits_nothing,
    ],
};

fn create_rounds_size_up_to_a_page() -> TestResult {
    check_eq!(ok!(Vmo::create(1)).get_size(), Ok(PAGE));
    check_eq!(ok!(Vmo::create(PAGE + 1)).get_size(), Ok(2 * PAGE));
    check_eq!(ok!(Vmo::create(3 * PAGE)).get_size(), Ok(3 * PAGE));
    Ok(())
}

fn create_of_size_zero_has_no_bytes() -> TestResult {
    let vmo = ok!(Vmo::create(0));
    check_eq!(vmo.get_size(), Ok(0));
    check_eq!(vmo.read(&mut [], 0), Ok(()));
    check_eq!(vmo.read(&mut [0u8; 1], 0), Err(Status::OUT_OF_RANGE));
    Ok(())
}

fn create_non_resizable_makes_set_size_unavailable() -> TestResult {
    let vmo = ok!(Vmo::create_with_opts(VmoOptions::NON_RESIZABLE, PAGE));
    check_eq!(vmo.set_size(2 * PAGE), Err(Status::UNAVAILABLE));
    check_eq!(vmo.set_size(0), Err(Status::UNAVAILABLE));
    check_eq!(vmo.get_size(), Ok(PAGE));
    // Resizable is the default.
    let vmo = ok!(Vmo::create(PAGE));
    check_eq!(vmo.set_size(2 * PAGE), Ok(()));
    Ok(())
}

fn create_with_an_unknown_option_is_invalid_args() -> TestResult {
    for opts in [2, 4, 1 << 31, u32::MAX] {
        check_eq!(
            Vmo::create_with_opts(VmoOptions(opts), PAGE).map(drop),
            Err(Status::INVALID_ARGS)
        );
    }
    Ok(())
}

fn create_of_the_largest_size_is_ok_and_beyond_is_out_of_range() -> TestResult {
    let big = ok!(Vmo::create(abi::ZX_MAX_VMO_SIZE));
    check_eq!(big.get_size(), Ok(abi::ZX_MAX_VMO_SIZE));
    // Its last byte is there (and reads zero).
    check_eq!(byte_at(&big, abi::ZX_MAX_VMO_SIZE - 1), Ok(0));
    for size in [abi::ZX_MAX_VMO_SIZE + 1, u64::MAX - PAGE, u64::MAX] {
        check_eq!(Vmo::create(size).map(drop), Err(Status::OUT_OF_RANGE));
    }
    Ok(())
}

fn new_vmo_handle_has_the_default_rights() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let info = ok!(vmo.basic_info());
    check_eq!(info.rights, 0xD0FF);
    check_eq!(info.rights, abi::ZX_DEFAULT_VMO_RIGHTS);
    check_eq!(info.obj_type, abi::ZX_OBJ_TYPE_VMO);
    check!(info.koid != abi::ZX_KOID_INVALID);
    check_eq!(info.props, abi::ZX_OBJ_PROP_WAITABLE);
    Ok(())
}

fn new_vmo_reads_zeros_and_commits_nothing() -> TestResult {
    let vmo = ok!(Vmo::create(4 * PAGE));
    for page in 0..4 {
        check!(ok!(page_is(&vmo, page, 0)));
    }
    check_eq!(ok!(vmo.info()).committed_bytes, 0);
    Ok(())
}

fn zero_byte_read_and_write_at_the_end_succeed() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    check_eq!(vmo.read(&mut [], PAGE), Ok(()));
    check_eq!(vmo.write(&[], PAGE), Ok(()));
    check_eq!(vmo.read(&mut [], 0), Ok(()));
    // One past the end is out of range even for zero bytes.
    check_eq!(vmo.read(&mut [], PAGE + 1), Err(Status::OUT_OF_RANGE));
    check_eq!(vmo.write(&[], PAGE + 1), Err(Status::OUT_OF_RANGE));
    check_eq!(ok!(vmo.info()).committed_bytes, 0);
    Ok(())
}

fn read_past_the_end_is_out_of_range() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    check_eq!(vmo.read(&mut [0u8; 2], PAGE - 1), Err(Status::OUT_OF_RANGE));
    check_eq!(vmo.read(&mut [0u8; 1], PAGE), Err(Status::OUT_OF_RANGE));
    check_eq!(vmo.read(&mut [0u8; 1], u64::MAX), Err(Status::OUT_OF_RANGE));
    check_eq!(vmo.read(&mut [0u8; 1], PAGE - 1), Ok(()));
    Ok(())
}

fn write_past_the_end_is_out_of_range_and_writes_nothing() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    check_eq!(vmo.write(&[7u8; 2], PAGE - 1), Err(Status::OUT_OF_RANGE));
    check_eq!(byte_at(&vmo, PAGE - 1), Ok(0));
    check_eq!(ok!(vmo.info()).committed_bytes, 0);
    Ok(())
}

fn overflowing_offset_plus_length_is_out_of_range() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    check_eq!(
        vmo.read(&mut [0u8; 4], u64::MAX - 1),
        Err(Status::OUT_OF_RANGE)
    );
    check_eq!(
        vmo.write(&[0u8; 4], u64::MAX - 1),
        Err(Status::OUT_OF_RANGE)
    );
    Ok(())
}

fn write_then_read_across_pages_round_trips() -> TestResult {
    let vmo = ok!(Vmo::create(3 * PAGE));
    let mut data = [0u8; 6000];
    for (i, b) in data.iter_mut().enumerate() {
        *b = (i * 7 + 3) as u8;
    }
    ok!(vmo.write(&data, PAGE - 1000));
    let mut back = [0u8; 6000];
    ok!(vmo.read(&mut back, PAGE - 1000));
    check!(back == data);
    check_eq!(byte_at(&vmo, PAGE - 1001), Ok(0));
    check_eq!(byte_at(&vmo, PAGE + 5000), Ok(0));
    Ok(())
}

fn write_commits_only_the_pages_it_touches() -> TestResult {
    let vmo = ok!(Vmo::create(8 * PAGE));
    ok!(vmo.write(&[1], 2 * PAGE + 5));
    check_eq!(ok!(vmo.info()).committed_bytes, PAGE);
    ok!(vmo.write(&[1, 2], 5 * PAGE - 1));
    check_eq!(ok!(vmo.info()).committed_bytes, 3 * PAGE);
    Ok(())
}

fn set_size_grows_with_zero_pages() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    ok!(fill_page(&vmo, 0, 0xaa));
    ok!(vmo.set_size(3 * PAGE));
    check_eq!(vmo.get_size(), Ok(3 * PAGE));
    check!(ok!(page_is(&vmo, 0, 0xaa)));
    check!(ok!(page_is(&vmo, 1, 0)));
    check!(ok!(page_is(&vmo, 2, 0)));
    ok!(vmo.write(&[1], 3 * PAGE - 1));
    Ok(())
}

fn set_size_shrink_drops_data_and_frees_pages() -> TestResult {
    let vmo = ok!(Vmo::create(3 * PAGE));
    for p in 0..3 {
        ok!(fill_page(&vmo, p, 0x11));
    }
    check_eq!(ok!(vmo.info()).committed_bytes, 3 * PAGE);
    ok!(vmo.set_size(PAGE));
    check_eq!(ok!(vmo.info()).committed_bytes, PAGE);
    check_eq!(vmo.read(&mut [0u8; 1], PAGE), Err(Status::OUT_OF_RANGE));
    ok!(vmo.set_size(3 * PAGE));
    check!(ok!(page_is(&vmo, 0, 0x11)));
    check!(ok!(page_is(&vmo, 1, 0)));
    check!(ok!(page_is(&vmo, 2, 0)));
    Ok(())
}

fn set_size_rounds_up_to_a_page() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    ok!(vmo.set_size(PAGE + 1));
    check_eq!(vmo.get_size(), Ok(2 * PAGE));
    ok!(vmo.set_size(1));
    check_eq!(vmo.get_size(), Ok(PAGE));
    ok!(vmo.set_size(0));
    check_eq!(vmo.get_size(), Ok(0));
    Ok(())
}

fn set_size_beyond_the_largest_is_out_of_range() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    check_eq!(
        vmo.set_size(abi::ZX_MAX_VMO_SIZE + 1),
        Err(Status::OUT_OF_RANGE)
    );
    check_eq!(vmo.set_size(u64::MAX), Err(Status::OUT_OF_RANGE));
    check_eq!(vmo.get_size(), Ok(PAGE));
    Ok(())
}

fn set_size_without_write_right_is_access_denied() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let ro = ok!(vmo.duplicate(Rights(abi::ZX_DEFAULT_VMO_RIGHTS) - Rights::WRITE));
    check_eq!(ro.set_size(2 * PAGE), Err(Status::ACCESS_DENIED));
    check_eq!(vmo.get_size(), Ok(PAGE));
    Ok(())
}

fn get_size_needs_no_rights() -> TestResult {
    let vmo = ok!(Vmo::create(2 * PAGE));
    let none = ok!(vmo.duplicate(Rights::NONE));
    check_eq!(none.get_size(), Ok(2 * PAGE));
    Ok(())
}

fn read_without_read_right_is_access_denied() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let wo = ok!(vmo.duplicate(Rights::WRITE | Rights::DUPLICATE));
    check_eq!(wo.read(&mut [0u8; 1], 0), Err(Status::ACCESS_DENIED));
    check_eq!(wo.write(&[1], 0), Ok(()));
    Ok(())
}

fn write_without_write_right_is_access_denied() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let ro = ok!(vmo.duplicate(Rights::READ));
    check_eq!(ro.write(&[1], 0), Err(Status::ACCESS_DENIED));
    check_eq!(byte_at(&vmo, 0), Ok(0));
    check_eq!(ok!(vmo.info()).committed_bytes, 0);
    Ok(())
}

fn commit_and_decommit_change_committed_bytes() -> TestResult {
    let vmo = ok!(Vmo::create(8 * PAGE));
    ok!(vmo.op_range(VmoOp::COMMIT, PAGE, 3 * PAGE));
    check_eq!(ok!(vmo.info()).committed_bytes, 3 * PAGE);
    // Committing again commits nothing more.
    ok!(vmo.op_range(VmoOp::COMMIT, 0, 2 * PAGE));
    check_eq!(ok!(vmo.info()).committed_bytes, 4 * PAGE);
    ok!(vmo.op_range(VmoOp::DECOMMIT, 0, 8 * PAGE));
    check_eq!(ok!(vmo.info()).committed_bytes, 0);
    Ok(())
}

fn decommitted_pages_read_zero() -> TestResult {
    let vmo = ok!(Vmo::create(2 * PAGE));
    ok!(fill_page(&vmo, 0, 0x42));
    ok!(fill_page(&vmo, 1, 0x43));
    ok!(vmo.op_range(VmoOp::DECOMMIT, 0, PAGE));
    check!(ok!(page_is(&vmo, 0, 0)));
    check!(ok!(page_is(&vmo, 1, 0x43)));
    Ok(())
}

fn commit_and_decommit_without_write_right_are_access_denied() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let ro = ok!(vmo.duplicate(Rights::READ));
    check_eq!(
        ro.op_range(VmoOp::COMMIT, 0, PAGE),
        Err(Status::ACCESS_DENIED)
    );
    ok!(vmo.op_range(VmoOp::COMMIT, 0, PAGE));
    check_eq!(
        ro.op_range(VmoOp::DECOMMIT, 0, PAGE),
        Err(Status::ACCESS_DENIED)
    );
    check_eq!(ok!(vmo.info()).committed_bytes, PAGE);
    Ok(())
}

fn op_range_past_the_end_is_out_of_range() -> TestResult {
    let vmo = ok!(Vmo::create(2 * PAGE));
    for op in [VmoOp::COMMIT, VmoOp::DECOMMIT] {
        check_eq!(vmo.op_range(op, PAGE, 2 * PAGE), Err(Status::OUT_OF_RANGE));
        check_eq!(
            vmo.op_range(op, u64::MAX - PAGE + 1, 2 * PAGE),
            Err(Status::OUT_OF_RANGE)
        );
    }
    check_eq!(ok!(vmo.info()).committed_bytes, 0);
    Ok(())
}

fn lookup_gives_distinct_page_aligned_addresses() -> TestResult {
    let vmo = ok!(Vmo::create(4 * PAGE));
    ok!(vmo.op_range(VmoOp::COMMIT, 0, 4 * PAGE));
    let addrs = ok!(paddrs::<4>(&vmo, 0, 4 * PAGE));
    for (i, a) in addrs.iter().enumerate() {
        check!(*a != 0 && a % PAGE == 0, "page {i} at {a:#x}");
        check!(!addrs[..i].contains(a), "page {i} at {a:#x} twice");
    }
    // The same pages on a second look.
    let again = ok!(paddrs::<4>(&vmo, 0, 4 * PAGE));
    check_eq!(addrs, again);
    Ok(())
}

fn lookup_of_a_page_nobody_has_is_no_memory() -> TestResult {
    let vmo = ok!(Vmo::create(2 * PAGE));
    let mut addrs = [0u64; 2];
    check_eq!(vmo.lookup(0, 2 * PAGE, &mut addrs), Err(Status::NO_MEMORY));
    ok!(vmo.write(&[1], 0));
    check_eq!(vmo.lookup(0, 2 * PAGE, &mut addrs), Err(Status::NO_MEMORY));
    check_eq!(vmo.lookup(0, PAGE, &mut addrs), Ok(()));
    Ok(())
}

fn lookup_of_size_zero_is_invalid_args() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    ok!(vmo.op_range(VmoOp::COMMIT, 0, PAGE));
    check_eq!(vmo.lookup(0, 0, &mut [0u64; 1]), Err(Status::INVALID_ARGS));
    Ok(())
}

fn lookup_past_the_end_is_out_of_range() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    ok!(vmo.op_range(VmoOp::COMMIT, 0, PAGE));
    check_eq!(
        vmo.lookup(0, 2 * PAGE, &mut [0u64; 2]),
        Err(Status::OUT_OF_RANGE)
    );
    check_eq!(
        vmo.lookup(PAGE, PAGE, &mut [0u64; 1]),
        Err(Status::OUT_OF_RANGE)
    );
    Ok(())
}

fn lookup_into_a_small_buffer_is_buffer_too_small() -> TestResult {
    let vmo = ok!(Vmo::create(3 * PAGE));
    ok!(vmo.op_range(VmoOp::COMMIT, 0, 3 * PAGE));
    check_eq!(
        vmo.lookup(0, 3 * PAGE, &mut [0u64; 2]),
        Err(Status::BUFFER_TOO_SMALL)
    );
    check_eq!(
        vmo.lookup(0, 3 * PAGE, &mut []),
        Err(Status::BUFFER_TOO_SMALL)
    );
    Ok(())
}

fn lookup_without_read_right_is_access_denied() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    ok!(vmo.op_range(VmoOp::COMMIT, 0, PAGE));
    let wo = ok!(vmo.duplicate(Rights::WRITE));
    check_eq!(
        wo.lookup(0, PAGE, &mut [0u64; 1]),
        Err(Status::ACCESS_DENIED)
    );
    // Before a bad buffer pointer, too.
    // SAFETY: the kernel refuses the call before it writes anything.
    let st = unsafe {
        zx::sys::call(
            abi::Syscall::VmoOpRange,
            [
                u64::from(wo.raw_handle()),
                u64::from(abi::ZX_VMO_OP_LOOKUP),
                0,
                PAGE,
                8,
                8,
                0,
                0,
            ],
        )
    };
    check_eq!(Status(abi::Status(st as i32)), Status::ACCESS_DENIED);
    Ok(())
}

fn lookup_at_an_unaligned_offset_gives_the_containing_page() -> TestResult {
    let vmo = ok!(Vmo::create(3 * PAGE));
    ok!(vmo.op_range(VmoOp::COMMIT, 0, 3 * PAGE));
    let all = ok!(paddrs::<3>(&vmo, 0, 3 * PAGE));
    // Two bytes straddling the first page boundary: pages 0 and 1.
    let two = ok!(paddrs::<2>(&vmo, PAGE - 1, 2));
    check_eq!(two, [all[0], all[1]]);
    let one = ok!(paddrs::<1>(&vmo, 2 * PAGE + 100, 1));
    check_eq!(one[0], all[2]);
    Ok(())
}

fn lock_and_unlock_are_not_supported() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    for op in [abi::ZX_VMO_OP_LOCK, abi::ZX_VMO_OP_UNLOCK] {
        check_eq!(vmo.op_range(VmoOp(op), 0, PAGE), Err(Status::NOT_SUPPORTED));
    }
    Ok(())
}

fn unknown_op_is_invalid_args() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    for op in [0, 10, 100, u32::MAX] {
        check_eq!(vmo.op_range(VmoOp(op), 0, PAGE), Err(Status::INVALID_ARGS));
    }
    Ok(())
}

fn zero_length_commit_at_an_unaligned_offset_commits_nothing() -> TestResult {
    let vmo = ok!(Vmo::create(2 * PAGE));
    ok!(vmo.op_range(VmoOp::COMMIT, 0x10, 0));
    ok!(vmo.op_range(VmoOp::COMMIT, PAGE + 1, 0));
    check_eq!(ok!(vmo.info()).committed_bytes, 0);
    Ok(())
}

fn zero_length_decommit_at_an_unaligned_offset_keeps_a_childs_page() -> TestResult {
    let parent = ok!(Vmo::create(PAGE));
    ok!(parent.write(&[1], 0));
    let child = ok!(parent.create_child(zx::VmoChildOptions::COPY_ON_WRITE, 0, PAGE));
    ok!(child.write(&[2], 0));
    ok!(child.op_range(VmoOp::DECOMMIT, 0x10, 0));
    // Still the child's own copy, not the parent's page showing again.
    check_eq!(byte_at(&child, 0), Ok(2));
    check_eq!(ok!(child.info()).committed_bytes, PAGE);
    Ok(())
}

/// An empty range commits and decommits nothing; like a read of no bytes
/// it may start anywhere up to the end, and past it is out of range (as
/// the era's kernel, which checked `offset` against the size first).
fn zero_length_commit_and_decommit_are_ok_up_to_the_end_only() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    ok!(vmo.write(&[1], 0));
    for op in [VmoOp::COMMIT, VmoOp::DECOMMIT] {
        for offset in [0, 1, PAGE - 1, PAGE] {
            check_eq!(vmo.op_range(op, offset, 0), Ok(()), "{op:?} at {offset:#x}");
        }
        for offset in [PAGE + 1, 1 << 40, u64::MAX] {
            check_eq!(
                vmo.op_range(op, offset, 0),
                Err(Status::OUT_OF_RANGE),
                "{op:?} at {offset:#x}"
            );
        }
    }
    check_eq!(ok!(vmo.info()).committed_bytes, PAGE);
    Ok(())
}

const CACHE_OPS: [VmoOp; 4] = [
    VmoOp::CACHE_SYNC,
    VmoOp::CACHE_INVALIDATE,
    VmoOp::CACHE_CLEAN,
    VmoOp::CACHE_CLEAN_INVALIDATE,
];

fn cache_ops_succeed_and_change_no_byte_and_commit_nothing() -> TestResult {
    let vmo = ok!(Vmo::create(4 * PAGE));
    let addr = ok!(map_rw(&vmo, 4 * PAGE));
    for page in [0, 2, 3] {
        // SAFETY: the mapping is read-write.
        unsafe { poke(addr + page * PAGE + 5, 0x40 + page as u8) };
    }
    for op in CACHE_OPS {
        // Unaligned at both ends; page 1 was never committed.
        check_eq!(vmo.op_range(op, 3, 4 * PAGE - 7), Ok(()), "{op:?}");
        check_eq!(ok!(vmo.info()).committed_bytes, 3 * PAGE, "{op:?}");
        for page in [0, 2, 3] {
            check_eq!(byte_at(&vmo, page * PAGE + 5), Ok(0x40 + page as u8));
            // SAFETY: as above.
            check_eq!(unsafe { peek(addr + page * PAGE + 5) }, 0x40 + page as u8);
        }
    }
    Ok(())
}

fn cache_ops_over_a_huge_sparse_range_succeed() -> TestResult {
    let size = 1 << 36;
    let vmo = ok!(Vmo::create(size));
    for i in 0..40u64 {
        ok!(vmo.write(&[i as u8 + 1], (i * (size / 40)) & !(PAGE - 1)));
    }
    for op in CACHE_OPS {
        check_eq!(vmo.op_range(op, 0, size), Ok(()), "{op:?}");
    }
    check_eq!(ok!(vmo.info()).committed_bytes, 40 * PAGE);
    check_eq!(byte_at(&vmo, (39 * (size / 40)) & !(PAGE - 1)), Ok(40));
    Ok(())
}

/// A DECOMMIT or a shrink over 64 TiB costs what its pages cost: both go
/// in pieces of own pages, so neither steps through 2^34 empty pages (as
/// pieces of the range did, which never ended for a task).
fn decommit_and_shrink_of_the_largest_sparse_vmo_go_by_its_pages() -> TestResult {
    let size = abi::ZX_MAX_VMO_SIZE;
    let vmo = ok!(Vmo::create(size));
    let at = [0, 1000 * PAGE, size / 2, size - PAGE];
    let fill = |v: &Vmo| at.iter().try_for_each(|&a| v.write(&[7], a));
    ok!(fill(&vmo));
    check_eq!(ok!(vmo.info()).committed_bytes, 4 * PAGE);
    ok!(vmo.op_range(VmoOp::DECOMMIT, 0, size));
    check_eq!(ok!(vmo.info()).committed_bytes, 0);
    check_eq!(byte_at(&vmo, size / 2), Ok(0));
    ok!(fill(&vmo));
    ok!(vmo.set_size(PAGE));
    check_eq!(vmo.get_size(), Ok(PAGE));
    check_eq!(ok!(vmo.info()).committed_bytes, PAGE);
    check_eq!(byte_at(&vmo, 0), Ok(7));
    ok!(vmo.set_size(size));
    check_eq!(byte_at(&vmo, size - PAGE), Ok(0));
    Ok(())
}

fn cache_op_of_size_zero_is_invalid_args() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    for op in CACHE_OPS {
        check_eq!(vmo.op_range(op, 0, 0), Err(Status::INVALID_ARGS), "{op:?}");
    }
    Ok(())
}

fn cache_op_past_the_end_is_out_of_range() -> TestResult {
    let vmo = ok!(Vmo::create(2 * PAGE));
    for op in CACHE_OPS {
        check_eq!(vmo.op_range(op, PAGE, 2 * PAGE), Err(Status::OUT_OF_RANGE));
        check_eq!(vmo.op_range(op, u64::MAX, 2), Err(Status::OUT_OF_RANGE));
    }
    Ok(())
}

fn cache_ops_need_read_and_invalidate_needs_write() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let read_only = ok!(vmo.duplicate(Rights::READ));
    let write_only = ok!(vmo.duplicate(Rights::WRITE));
    for op in CACHE_OPS {
        let (ok_h, denied) = if op == VmoOp::CACHE_INVALIDATE {
            (&write_only, &read_only)
        } else {
            (&read_only, &write_only)
        };
        check_eq!(ok_h.op_range(op, 0, PAGE), Ok(()), "{op:?}");
        check_eq!(
            denied.op_range(op, 0, PAGE),
            Err(Status::ACCESS_DENIED),
            "{op:?}"
        );
    }
    Ok(())
}

fn vmo_write_shows_through_a_mapping() -> TestResult {
    let vmo = ok!(Vmo::create(2 * PAGE));
    let addr = ok!(map_rw(&vmo, 2 * PAGE));
    ok!(vmo.write(b"through", PAGE + 10));
    for (i, &b) in b"through".iter().enumerate() {
        // SAFETY: the mapping is readable and 2 pages long.
        check_eq!(unsafe { peek(addr + PAGE + 10 + i as u64) }, b);
    }
    // A later write shows at once through the same, already-faulted mapping.
    ok!(vmo.write(b"X", PAGE + 10));
    // SAFETY: as above.
    check_eq!(unsafe { peek(addr + PAGE + 10) }, b'X');
    ok!(unmap(addr, 2 * PAGE));
    Ok(())
}

fn store_through_a_mapping_shows_in_vmo_read() -> TestResult {
    let vmo = ok!(Vmo::create(2 * PAGE));
    let addr = ok!(map_rw(&vmo, 2 * PAGE));
    for i in 0..16u64 {
        // SAFETY: the mapping is writable and holds only this test's bytes.
        unsafe { poke(addr + PAGE - 8 + i, i as u8 + 1) };
    }
    let mut back = [0u8; 16];
    ok!(vmo.read(&mut back, PAGE - 8));
    for (i, &b) in back.iter().enumerate() {
        check_eq!(b, i as u8 + 1);
    }
    check_eq!(ok!(vmo.info()).committed_bytes, 2 * PAGE);
    ok!(unmap(addr, 2 * PAGE));
    Ok(())
}

fn vmo_read_into_a_mapping_of_the_same_vmo_works() -> TestResult {
    let vmo = ok!(Vmo::create(2 * PAGE));
    ok!(vmo.write(b"source", 0));
    let addr = ok!(map_rw(&vmo, 2 * PAGE));
    // SAFETY: the second page of the mapping is this test's scratch.
    let dst = unsafe { core::slice::from_raw_parts_mut((addr + PAGE) as *mut u8, 6) };
    check_eq!(vmo.read(dst, 0), Ok(()));
    check_eq!(&dst[..], b"source");
    // And the other way: vmo_write from the mapping into the same VMO.
    // SAFETY: the first page of the mapping is readable.
    let src = unsafe { core::slice::from_raw_parts(addr as *const u8, 6) };
    check_eq!(vmo.write(src, 100), Ok(()));
    check_eq!(ok!(bytes_at(&vmo, 100)), *b"source");
    ok!(unmap(addr, 2 * PAGE));
    Ok(())
}

fn reading_through_a_mapping_commits_nothing() -> TestResult {
    let vmo = ok!(Vmo::create(4 * PAGE));
    let addr = ok!(map_rw(&vmo, 4 * PAGE));
    for p in 0..4 {
        // SAFETY: the mapping is readable.
        check_eq!(unsafe { peek(addr + p * PAGE + 17) }, 0);
    }
    check_eq!(ok!(vmo.info()).committed_bytes, 0);
    ok!(unmap(addr, 4 * PAGE));
    Ok(())
}

fn info_reports_size_resizability_and_rights() -> TestResult {
    let vmo = ok!(Vmo::create(3 * PAGE));
    let info = ok!(vmo.info());
    check_eq!(info.size_bytes, 3 * PAGE);
    check_eq!(info.parent_koid, abi::ZX_KOID_INVALID);
    check_eq!(info.num_children, 0);
    check_eq!(info.num_mappings, 0);
    check_eq!(info.handle_rights, abi::ZX_DEFAULT_VMO_RIGHTS);
    check!(info.flags & abi::ZX_INFO_VMO_TYPE_PAGED != 0);
    check!(info.flags & abi::ZX_INFO_VMO_IS_COW_CLONE == 0);
    check_eq!(
        info.create_options & abi::ZX_INFO_VMO_CREATE_RESIZABLE,
        abi::ZX_INFO_VMO_CREATE_RESIZABLE
    );
    let fixed = ok!(Vmo::create_with_opts(VmoOptions::NON_RESIZABLE, PAGE));
    check_eq!(ok!(fixed.info()).create_options, 0);
    check_eq!(info.koid, ok!(vmo.basic_info()).koid);
    Ok(())
}

/// `ZX_INFO_VMO` asks only that the handle be a VMO (the get_info page's
/// RIGHTS), and reports that handle's own rights with `VIA_HANDLE`; a
/// VMO's `HANDLE_BASIC` names no related object.
fn info_needs_no_right_and_reports_the_handles_own_rights() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let koid = ok!(vmo.basic_info()).koid;
    let none = ok!(vmo.duplicate(Rights::NONE));
    let info = ok!(none.info());
    check_eq!(info.handle_rights, 0);
    check_eq!(info.koid, koid);
    check_eq!(info.size_bytes, PAGE);
    let flags = abi::ZX_INFO_VMO_TYPE_PAGED | abi::ZX_INFO_VMO_VIA_HANDLE;
    check_eq!(info.flags & flags, flags);
    check_eq!(info.flags & abi::ZX_INFO_VMO_IS_COW_CLONE, 0);
    check_eq!(info.cache_policy, abi::ZX_CACHE_POLICY_CACHED);
    check_eq!(info.num_children, 0);
    let some = Rights::READ | Rights::MAP;
    check_eq!(
        ok!(ok!(vmo.duplicate(some)).info()).handle_rights,
        some.bits()
    );
    let basic = ok!(none.basic_info());
    check_eq!(basic.rights, 0);
    check_eq!(basic.koid, koid);
    check_eq!(basic.related_koid, abi::ZX_KOID_INVALID);
    check_eq!(basic.obj_type, abi::ZX_OBJ_TYPE_VMO);
    Ok(())
}

/// `num_mappings` counts each mapping, `share_count` is non-zero while
/// one exists (one address space here), `num_children` counts live
/// children.
fn info_counts_mappings_and_children_as_they_come_and_go() -> TestResult {
    let vmo = ok!(Vmo::create(2 * PAGE));
    let a = ok!(map_rw(&vmo, 2 * PAGE));
    let b = ok!(map(&vmo, PAGE, VmarFlags::PERM_READ));
    let info = ok!(vmo.info());
    check_eq!(info.num_mappings, 2);
    check_eq!(info.share_count, 1);
    let c1 = ok!(vmo.create_child(VmoChildOptions::COPY_ON_WRITE, 0, PAGE));
    let c2 = ok!(vmo.create_child(VmoChildOptions::COPY_ON_WRITE, PAGE, PAGE));
    check_eq!(ok!(vmo.info()).num_children, 2);
    check_eq!(ok!(c1.info()).num_children, 0);
    drop(c1);
    check_eq!(ok!(vmo.info()).num_children, 1);
    drop(c2);
    ok!(unmap(a, 2 * PAGE));
    check_eq!(ok!(vmo.info()).num_mappings, 1);
    ok!(unmap(b, PAGE));
    let info = ok!(vmo.info());
    check_eq!(info.num_mappings, 0);
    check_eq!(info.share_count, 0);
    check_eq!(info.num_children, 0);
    Ok(())
}

/// "*buffer* and *buffer_size* are currently unused": COMMIT, DECOMMIT,
/// the cache ops, LOCK and UNLOCK never look at them, whatever they hold.
fn op_range_ignores_the_buffer_but_for_lookup() -> TestResult {
    let vmo = ok!(Vmo::create(2 * PAGE));
    let v = u64::from(vmo.raw_handle());
    let op_range = |op: u32, buf: u64, len: u64| {
        // SAFETY: none of these ops writes through the buffer.
        unsafe {
            raw(
                abi::Syscall::VmoOpRange,
                [v, u64::from(op), 0, 2 * PAGE, buf, len, 0, 0],
            )
        }
    };
    for buf in foreign_out_ptrs() {
        for len in [0, 8, u64::MAX] {
            check_eq!(op_range(abi::ZX_VMO_OP_COMMIT, buf, len), Status::OK);
            check_eq!(ok!(vmo.info()).committed_bytes, 2 * PAGE);
            for op in CACHE_OPS {
                check_eq!(op_range(op.0, buf, len), Status::OK, "{op:?}");
            }
            for op in [abi::ZX_VMO_OP_LOCK, abi::ZX_VMO_OP_UNLOCK] {
                check_eq!(op_range(op, buf, len), Status::NOT_SUPPORTED);
            }
            check_eq!(op_range(abi::ZX_VMO_OP_DECOMMIT, buf, len), Status::OK);
            check_eq!(ok!(vmo.info()).committed_bytes, 0);
        }
    }
    Ok(())
}

/// Several errors at once: the handle (bad, then its type) first, then the
/// op's right, then the op itself, a cache op's zero size, the range.
/// LOCK and UNLOCK need no right; an unknown op needs none to be refused.
fn op_range_checks_the_handle_then_the_right_then_the_op_size_and_range() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let event = ok!(Event::create());
    let none = ok!(vmo.duplicate(Rights::NONE));
    let ro = ok!(vmo.duplicate(Rights::READ));
    let wo = ok!(vmo.duplicate(Rights::WRITE));
    let past = |h: &Vmo, op: VmoOp| h.op_range(op, u64::MAX - 1, 4);
    for op in [VmoOp(abi::ZX_VMO_OP_LOCK), VmoOp(0), VmoOp(100)] {
        // SAFETY: no buffer.
        let bad = unsafe {
            raw(
                abi::Syscall::VmoOpRange,
                [
                    u64::from(abi::ZX_HANDLE_INVALID),
                    u64::from(op.0),
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                ],
            )
        };
        check_eq!(bad, Status::BAD_HANDLE, "{op:?}");
        // SAFETY: as above.
        let wrong = unsafe {
            raw(
                abi::Syscall::VmoOpRange,
                [
                    u64::from(event.raw_handle()),
                    u64::from(op.0),
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                ],
            )
        };
        check_eq!(wrong, Status::WRONG_TYPE, "{op:?}");
    }
    check_eq!(
        none.op_range(VmoOp(abi::ZX_VMO_OP_LOCK), 0, PAGE),
        Err(Status::NOT_SUPPORTED)
    );
    check_eq!(
        none.op_range(VmoOp(abi::ZX_VMO_OP_UNLOCK), u64::MAX, 0),
        Err(Status::NOT_SUPPORTED)
    );
    check_eq!(
        none.op_range(VmoOp(100), 0, PAGE),
        Err(Status::INVALID_ARGS)
    );
    // The right before the range, and before a cache op's zero size.
    for op in [VmoOp::COMMIT, VmoOp::DECOMMIT, VmoOp::CACHE_INVALIDATE] {
        check_eq!(past(&ro, op), Err(Status::ACCESS_DENIED), "{op:?}");
        check_eq!(ro.op_range(op, 0, 0), Err(Status::ACCESS_DENIED), "{op:?}");
    }
    for op in [
        VmoOp::CACHE_SYNC,
        VmoOp::CACHE_CLEAN,
        VmoOp::CACHE_CLEAN_INVALIDATE,
    ] {
        check_eq!(past(&wo, op), Err(Status::ACCESS_DENIED), "{op:?}");
        check_eq!(wo.op_range(op, 0, 0), Err(Status::ACCESS_DENIED), "{op:?}");
    }
    check_eq!(past(&wo, VmoOp::LOOKUP), Err(Status::ACCESS_DENIED));
    // A cache op's zero size before its range.
    for op in CACHE_OPS {
        check_eq!(
            vmo.op_range(op, 2 * PAGE, 0),
            Err(Status::INVALID_ARGS),
            "{op:?}"
        );
        check_eq!(past(&vmo, op), Err(Status::OUT_OF_RANGE), "{op:?}");
    }
    check_eq!(ok!(vmo.info()).committed_bytes, 0);
    Ok(())
}

/// `vmo_set_size` checks WRITE, then whether the VMO may change size
/// (`ZX_ERR_UNAVAILABLE`, even for its own size), then the size; a refused
/// size changes nothing.
fn set_size_checks_the_right_then_resizability_then_the_size() -> TestResult {
    let fixed = ok!(Vmo::create_with_opts(VmoOptions::NON_RESIZABLE, PAGE));
    let fixed_ro = ok!(fixed.duplicate(Rights::READ));
    check_eq!(fixed_ro.set_size(u64::MAX), Err(Status::ACCESS_DENIED));
    check_eq!(fixed.set_size(u64::MAX), Err(Status::UNAVAILABLE));
    check_eq!(fixed.set_size(PAGE), Err(Status::UNAVAILABLE));
    check_eq!(fixed.set_size(1), Err(Status::UNAVAILABLE));
    let vmo = ok!(Vmo::create(PAGE));
    ok!(vmo.write(&[3], 0));
    for size in [u64::MAX, u64::MAX - PAGE + 2, abi::ZX_MAX_VMO_SIZE + 1] {
        check_eq!(vmo.set_size(size), Err(Status::OUT_OF_RANGE), "{size:#x}");
        check_eq!(vmo.get_size(), Ok(PAGE));
    }
    check_eq!(byte_at(&vmo, 0), Ok(3));
    check_eq!(vmo.set_size(abi::ZX_MAX_VMO_SIZE), Ok(()));
    check_eq!(vmo.get_size(), Ok(abi::ZX_MAX_VMO_SIZE));
    check_eq!(ok!(vmo.info()).committed_bytes, PAGE);
    Ok(())
}

/// A COMMIT of more pages than the task may ever hold is NO_MEMORY at
/// once, with nothing committed (the era's kernel allocated a COMMIT's
/// pages together, so a failed one held none): the task goes on.
fn commit_of_more_than_the_task_may_hold_is_no_memory_and_commits_nothing() -> TestResult {
    let size = 1 << 40;
    let vmo = ok!(Vmo::create(size));
    ok!(vmo.write(&[5], PAGE));
    let child = ok!(vmo.create_child(VmoChildOptions::COPY_ON_WRITE, 0, size));
    // "At once": no page was filled and given back on the way (a count,
    // not a time: a loaded host can pause this CPU for any while).
    let filled = || zx::kernel_counters(&vmo).map(|c| c.pages_zero_filled + c.pages_copied);
    for v in [&vmo, &child] {
        let before = ok!(filled());
        check_eq!(v.op_range(VmoOp::COMMIT, 0, size), Err(Status::NO_MEMORY));
        check_eq!(ok!(filled()), before, "pages filled by the failed COMMIT");
    }
    check_eq!(ok!(vmo.info()).committed_bytes, PAGE);
    check_eq!(ok!(child.info()).committed_bytes, 0);
    let other = ok!(Vmo::create(16 * PAGE));
    let before = ok!(filled());
    ok!(other.op_range(VmoOp::COMMIT, 0, 16 * PAGE));
    // The count sees a COMMIT's pages, so the checks above could fail.
    check_eq!(ok!(filled()), before + 16);
    ok!(vmo.write(&[6], 2 * PAGE));
    ok!(child.write(&[7], 3 * PAGE));
    check_eq!(byte_at(&child, PAGE), Ok(5));
    Ok(())
}
