//! `zx_vmo_create_child` with `ZX_VMO_CHILD_COPY_ON_WRITE`: every sentence
//! of the seed page, and DESIGN.md's one-way copy-on-write rules, through
//! `vmo_read`/`vmo_write`, `vmo_op_range` and mappings.

use super::util::*;
use crate::harness::{Suite, TestResult};
use crate::{check, check_eq, ok, tests};
use zx::{
    AsHandleRef, Event, HandleBased, Rights, Status, Vmo, VmoChildOptions, VmoOp, VmoOptions,
};

pub static SUITE: Suite = Suite {
    name: "vmo_clone",
    tests: tests![
        create_child_reports_its_parent,
        create_child_has_the_requested_size,
        create_child_size_rounds_up_to_a_page,
        create_child_without_a_type_is_invalid_args,
        create_child_with_unknown_options_is_invalid_args,
        create_child_of_non_page_aligned_offset_is_invalid_args,
        create_child_with_overflowing_offset_plus_size_is_out_of_range,
        create_child_larger_than_the_largest_vmo_is_out_of_range,
        create_child_of_an_event_is_wrong_type,
        create_child_of_a_bad_handle_is_bad_handle,
        create_child_without_duplicate_right_is_access_denied,
        create_child_without_read_right_is_access_denied,
        create_child_with_a_null_out_is_invalid_args,
        create_child_at_a_full_handle_table_is_no_memory,
        child_rights_are_the_parents_plus_write,
        child_of_a_default_handle_has_the_default_rights,
        child_shows_the_parents_contents,
        child_write_copies_the_page_and_leaves_the_parent_alone,
        parent_write_shows_in_the_child_until_the_child_writes_that_page,
        child_starting_beyond_the_parent_reads_zeros,
        child_reads_zeros_beyond_the_parents_size,
        child_writes_beyond_the_parents_size_get_zero_filled_pages,
        child_at_an_offset_shows_the_parent_from_there,
        non_resizeable_child_set_size_is_unavailable,
        child_is_resizable_by_default_even_of_a_non_resizable_parent,
        child_commit_copies_what_the_parent_shows,
        child_commit_where_no_ancestor_has_a_page_is_zero_filled,
        child_commit_and_decommit_leave_the_parents_pages_alone,
        child_decommit_shows_the_parents_page_again_still_copy_on_write,
        child_lookup_shows_the_parents_pages_where_unmodified,
        child_lookup_of_a_page_nobody_shows_is_no_memory,
        grandchild_shows_the_grandparents_page,
        reading_a_child_commits_and_copies_nothing,
        parent_shrink_closes_the_window_for_good,
        child_shrink_closes_its_window_for_good,
        parent_without_handles_still_shows_through_the_child,
        parent_write_shows_through_an_existing_child_mapping,
        store_through_a_child_mapping_leaves_the_parent_mapping_alone,
        vmo_read_into_a_child_mapping_copies_the_page,
        child_decommit_shows_the_parent_through_the_child_mapping,
        create_child_checks_the_handle_and_rights_before_its_arguments,
        child_info_counts_only_its_own_pages_and_reports_its_options,
        child_of_no_bytes_at_the_last_page_offset_of_64_bits_is_ok,
        a_grandchilds_parent_is_the_child_and_it_gets_write_again,
        parent_decommit_shows_zeros_where_the_child_did_not_copy,
    ],
};

const COW: VmoChildOptions = VmoChildOptions::COPY_ON_WRITE;

/// A parent of `pages` pages, page `p` filled with `p + 1`.
fn parent(pages: u64) -> Result<Vmo, Status> {
    let vmo = Vmo::create(pages * PAGE)?;
    for p in 0..pages {
        fill_page(&vmo, p, p as u8 + 1)?;
    }
    Ok(vmo)
}

fn create_child_reports_its_parent() -> TestResult {
    let p = ok!(parent(1));
    let c = ok!(p.create_child(COW, 0, PAGE));
    let info = ok!(c.info());
    check_eq!(info.parent_koid, ok!(p.basic_info()).koid);
    check!(info.flags & abi::ZX_INFO_VMO_IS_COW_CLONE != 0);
    check!(ok!(c.basic_info()).koid != ok!(p.basic_info()).koid);
    check_eq!(ok!(p.info()).num_children, 1);
    Ok(())
}

fn create_child_has_the_requested_size() -> TestResult {
    let p = ok!(parent(2));
    check_eq!(ok!(p.create_child(COW, 0, PAGE)).get_size(), Ok(PAGE));
    check_eq!(
        ok!(p.create_child(COW, 0, 5 * PAGE)).get_size(),
        Ok(5 * PAGE)
    );
    check_eq!(ok!(p.create_child(COW, PAGE, 0)).get_size(), Ok(0));
    Ok(())
}

fn create_child_size_rounds_up_to_a_page() -> TestResult {
    let p = ok!(parent(2));
    check_eq!(ok!(p.create_child(COW, 0, 1)).get_size(), Ok(PAGE));
    check_eq!(
        ok!(p.create_child(COW, 0, PAGE + 1)).get_size(),
        Ok(2 * PAGE)
    );
    Ok(())
}

fn create_child_without_a_type_is_invalid_args() -> TestResult {
    let p = ok!(parent(1));
    for opts in [0, abi::ZX_VMO_CHILD_NON_RESIZEABLE] {
        check_eq!(
            p.create_child(VmoChildOptions(opts), 0, PAGE).map(drop),
            Err(Status::INVALID_ARGS)
        );
    }
    check!(zero_children(&p));
    Ok(())
}

fn create_child_with_unknown_options_is_invalid_args() -> TestResult {
    let p = ok!(parent(1));
    for opts in [1 << 2, 1 << 4, 1 << 31] {
        check_eq!(
            p.create_child(
                VmoChildOptions(abi::ZX_VMO_CHILD_COPY_ON_WRITE | opts),
                0,
                PAGE
            )
            .map(drop),
            Err(Status::INVALID_ARGS)
        );
    }
    check!(zero_children(&p));
    Ok(())
}

fn create_child_of_non_page_aligned_offset_is_invalid_args() -> TestResult {
    let p = ok!(parent(2));
    for offset in [1, PAGE - 1, PAGE + 8, PAGE / 2] {
        check_eq!(
            p.create_child(COW, offset, PAGE).map(drop),
            Err(Status::INVALID_ARGS)
        );
    }
    check!(zero_children(&p));
    Ok(())
}

fn create_child_with_overflowing_offset_plus_size_is_out_of_range() -> TestResult {
    let p = ok!(parent(1));
    check_eq!(
        p.create_child(COW, u64::MAX - PAGE + 1, 2 * PAGE).map(drop),
        Err(Status::OUT_OF_RANGE)
    );
    check_eq!(
        p.create_child(COW, PAGE, u64::MAX).map(drop),
        Err(Status::OUT_OF_RANGE)
    );
    check!(zero_children(&p));
    Ok(())
}

fn create_child_larger_than_the_largest_vmo_is_out_of_range() -> TestResult {
    let p = ok!(parent(1));
    check_eq!(
        p.create_child(COW, 0, abi::ZX_MAX_VMO_SIZE + PAGE)
            .map(drop),
        Err(Status::OUT_OF_RANGE)
    );
    // The largest size itself is fine.
    check_eq!(
        ok!(p.create_child(COW, 0, abi::ZX_MAX_VMO_SIZE)).get_size(),
        Ok(abi::ZX_MAX_VMO_SIZE)
    );
    Ok(())
}

fn create_child_of_an_event_is_wrong_type() -> TestResult {
    let e = ok!(Event::create());
    let mut out = 0u32;
    // SAFETY: `out` is a valid place for a handle.
    let st = unsafe {
        raw(
            abi::Syscall::VmoCreateChild,
            [
                e.raw_handle() as u64,
                1,
                0,
                PAGE,
                &raw mut out as u64,
                0,
                0,
                0,
            ],
        )
    };
    check_eq!(st, Status::WRONG_TYPE);
    check_eq!(out, 0);
    let vmar = zx::Vmar::root_self();
    // SAFETY: as above.
    let st = unsafe {
        raw(
            abi::Syscall::VmoCreateChild,
            [
                vmar.raw_handle() as u64,
                1,
                0,
                PAGE,
                &raw mut out as u64,
                0,
                0,
                0,
            ],
        )
    };
    check_eq!(st, Status::WRONG_TYPE);
    Ok(())
}

fn create_child_of_a_bad_handle_is_bad_handle() -> TestResult {
    let p = ok!(parent(1));
    let stale = ok!(p.duplicate(Rights::SAME_RIGHTS));
    let stale_raw = stale.raw_handle();
    drop(stale);
    for h in [0, stale_raw, FORGED_HANDLE] {
        let mut out = 0u32;
        // SAFETY: `out` is a valid place for a handle.
        let st = unsafe {
            raw(
                abi::Syscall::VmoCreateChild,
                [h as u64, 1, 0, PAGE, &raw mut out as u64, 0, 0, 0],
            )
        };
        check_eq!(st, Status::BAD_HANDLE, "handle {h:#x}");
    }
    check!(zero_children(&p));
    Ok(())
}

fn create_child_without_duplicate_right_is_access_denied() -> TestResult {
    let p = ok!(parent(1));
    let h = ok!(p.duplicate(Rights(abi::ZX_DEFAULT_VMO_RIGHTS) - Rights::DUPLICATE));
    check_eq!(
        h.create_child(COW, 0, PAGE).map(drop),
        Err(Status::ACCESS_DENIED)
    );
    check!(zero_children(&p));
    Ok(())
}

fn create_child_without_read_right_is_access_denied() -> TestResult {
    let p = ok!(parent(1));
    let h = ok!(p.duplicate(Rights(abi::ZX_DEFAULT_VMO_RIGHTS) - Rights::READ));
    check_eq!(
        h.create_child(COW, 0, PAGE).map(drop),
        Err(Status::ACCESS_DENIED)
    );
    check!(zero_children(&p));
    Ok(())
}

fn create_child_with_a_null_out_is_invalid_args() -> TestResult {
    let p = ok!(parent(1));
    // SAFETY: a null out pointer; the kernel must refuse it.
    let st = unsafe {
        raw(
            abi::Syscall::VmoCreateChild,
            [p.raw_handle() as u64, 1, 0, PAGE, 0, 0, 0, 0],
        )
    };
    check_eq!(st, Status::INVALID_ARGS);
    childless(&p, format_args!("a child was left behind"))
}

fn create_child_at_a_full_handle_table_is_no_memory() -> TestResult {
    let p = ok!(parent(1));
    // Fill the task's handle table (its quota); the handles close when
    // the test task ends.
    let mut n = 0;
    let status = loop {
        match p.duplicate_handle(Rights::SAME_RIGHTS) {
            Ok(h) => {
                core::mem::forget(h);
                n += 1;
            }
            Err(e) => break e,
        }
        if n > 100_000 {
            return Err(crate::harness::Failure::Skip("no handle quota found"));
        }
    };
    check_eq!(status, Status::NO_MEMORY);
    check_eq!(
        p.create_child(COW, 0, PAGE).map(drop),
        Err(Status::NO_MEMORY)
    );
    childless(&p, format_args!("a child was left behind"))
}

fn child_rights_are_the_parents_plus_write() -> TestResult {
    let p = ok!(parent(1));
    let base = Rights::READ | Rights::DUPLICATE | Rights::MAP | Rights::WAIT;
    let h = ok!(p.duplicate(base));
    let c = ok!(h.create_child(COW, 0, PAGE));
    check_eq!(ok!(c.basic_info()).rights, (base | Rights::WRITE).bits());
    // WRITE is usable: the child takes writes, the parent is unchanged.
    ok!(c.write(&[9], 0));
    check_eq!(byte_at(&p, 0), Ok(1));
    Ok(())
}

fn child_of_a_default_handle_has_the_default_rights() -> TestResult {
    let p = ok!(parent(1));
    let c = ok!(p.create_child(COW, 0, PAGE));
    check_eq!(ok!(c.basic_info()).rights, abi::ZX_DEFAULT_VMO_RIGHTS);
    check_eq!(ok!(c.basic_info()).obj_type, abi::ZX_OBJ_TYPE_VMO);
    Ok(())
}

fn child_shows_the_parents_contents() -> TestResult {
    let p = ok!(parent(3));
    let c = ok!(p.create_child(COW, 0, 3 * PAGE));
    for page in 0..3 {
        check!(ok!(page_is(&c, page, page as u8 + 1)), "page {page}");
    }
    Ok(())
}

fn child_write_copies_the_page_and_leaves_the_parent_alone() -> TestResult {
    let p = ok!(parent(2));
    let c = ok!(p.create_child(COW, 0, 2 * PAGE));
    ok!(c.write(&[0xee], 10));
    check_eq!(byte_at(&c, 10), Ok(0xee));
    check_eq!(byte_at(&p, 10), Ok(1));
    // The rest of the copied page is what the parent showed.
    check_eq!(byte_at(&c, 11), Ok(1));
    check_eq!(byte_at(&c, PAGE - 1), Ok(1));
    check_eq!(ok!(c.info()).committed_bytes, PAGE);
    Ok(())
}

fn parent_write_shows_in_the_child_until_the_child_writes_that_page() -> TestResult {
    let p = ok!(parent(2));
    let c = ok!(p.create_child(COW, 0, 2 * PAGE));
    ok!(p.write(&[0x77], 5));
    check_eq!(byte_at(&c, 5), Ok(0x77));
    ok!(c.write(&[0x66], 6));
    // The child's page has diverged: later parent writes stay in the parent.
    ok!(p.write(&[0x55], 5));
    check_eq!(byte_at(&c, 5), Ok(0x77));
    check_eq!(byte_at(&c, 6), Ok(0x66));
    // The page the child never wrote still follows the parent.
    ok!(p.write(&[0x44], PAGE + 5));
    check_eq!(byte_at(&c, PAGE + 5), Ok(0x44));
    Ok(())
}

fn child_starting_beyond_the_parent_reads_zeros() -> TestResult {
    let p = ok!(parent(1));
    let c = ok!(p.create_child(COW, 4 * PAGE, 2 * PAGE));
    check!(ok!(page_is(&c, 0, 0)));
    check!(ok!(page_is(&c, 1, 0)));
    // Growing the parent over that range does not open a window.
    ok!(p.set_size(8 * PAGE));
    ok!(fill_page(&p, 4, 0x99));
    check!(ok!(page_is(&c, 0, 0)));
    Ok(())
}

fn child_reads_zeros_beyond_the_parents_size() -> TestResult {
    let p = ok!(parent(2));
    let c = ok!(p.create_child(COW, 0, 4 * PAGE));
    check!(ok!(page_is(&c, 1, 2)));
    check!(ok!(page_is(&c, 2, 0)));
    check!(ok!(page_is(&c, 3, 0)));
    Ok(())
}

fn child_writes_beyond_the_parents_size_get_zero_filled_pages() -> TestResult {
    let p = ok!(parent(1));
    let c = ok!(p.create_child(COW, 0, 3 * PAGE));
    ok!(c.write(&[0x31], 2 * PAGE + 7));
    check_eq!(byte_at(&c, 2 * PAGE + 7), Ok(0x31));
    let mut page = [0xffu8; PAGE as usize];
    ok!(c.read(&mut page, 2 * PAGE));
    check!(page
        .iter()
        .enumerate()
        .all(|(i, &b)| b == if i == 7 { 0x31 } else { 0 }));
    check_eq!(ok!(c.info()).committed_bytes, PAGE);
    check_eq!(p.get_size(), Ok(PAGE));
    Ok(())
}

fn child_at_an_offset_shows_the_parent_from_there() -> TestResult {
    let p = ok!(parent(4));
    let c = ok!(p.create_child(COW, 2 * PAGE, 2 * PAGE));
    check!(ok!(page_is(&c, 0, 3)));
    check!(ok!(page_is(&c, 1, 4)));
    ok!(c.write(&[0], 0));
    check!(ok!(page_is(&p, 2, 3)));
    Ok(())
}

fn non_resizeable_child_set_size_is_unavailable() -> TestResult {
    let p = ok!(parent(1));
    let c = ok!(p.create_child(COW | VmoChildOptions::NON_RESIZEABLE, 0, PAGE));
    check_eq!(c.set_size(2 * PAGE), Err(Status::UNAVAILABLE));
    check_eq!(c.get_size(), Ok(PAGE));
    check_eq!(ok!(c.info()).create_options, 0);
    Ok(())
}

fn child_is_resizable_by_default_even_of_a_non_resizable_parent() -> TestResult {
    let p = ok!(Vmo::create_with_opts(VmoOptions::NON_RESIZABLE, PAGE));
    let c = ok!(p.create_child(COW, 0, PAGE));
    check_eq!(c.set_size(3 * PAGE), Ok(()));
    check_eq!(c.get_size(), Ok(3 * PAGE));
    check_eq!(p.set_size(3 * PAGE), Err(Status::UNAVAILABLE));
    Ok(())
}

fn child_commit_copies_what_the_parent_shows() -> TestResult {
    let p = ok!(parent(2));
    let c = ok!(p.create_child(COW, 0, 2 * PAGE));
    ok!(c.op_range(VmoOp::COMMIT, 0, PAGE));
    check_eq!(ok!(c.info()).committed_bytes, PAGE);
    check!(ok!(page_is(&c, 0, 1)));
    // The committed page is the child's own: parent writes no longer show.
    ok!(fill_page(&p, 0, 0x50));
    check!(ok!(page_is(&c, 0, 1)));
    check!(ok!(page_is(&c, 1, 2)));
    Ok(())
}

fn child_commit_where_no_ancestor_has_a_page_is_zero_filled() -> TestResult {
    let p = ok!(Vmo::create(2 * PAGE));
    let c = ok!(p.create_child(COW, 0, 2 * PAGE));
    ok!(c.op_range(VmoOp::COMMIT, PAGE, PAGE));
    check!(ok!(page_is(&c, 1, 0)));
    check_eq!(ok!(c.info()).committed_bytes, PAGE);
    check_eq!(ok!(p.info()).committed_bytes, 0);
    // Own page: a later parent write does not show there.
    ok!(fill_page(&p, 1, 0x21));
    check!(ok!(page_is(&c, 1, 0)));
    Ok(())
}

fn child_commit_and_decommit_leave_the_parents_pages_alone() -> TestResult {
    let p = ok!(parent(2));
    let before = ok!(p.info()).committed_bytes;
    let c = ok!(p.create_child(COW, 0, 2 * PAGE));
    ok!(c.op_range(VmoOp::COMMIT, 0, 2 * PAGE));
    check_eq!(ok!(p.info()).committed_bytes, before);
    ok!(c.op_range(VmoOp::DECOMMIT, 0, 2 * PAGE));
    check_eq!(ok!(p.info()).committed_bytes, before);
    check!(ok!(page_is(&p, 0, 1)));
    check!(ok!(page_is(&p, 1, 2)));
    Ok(())
}

fn child_decommit_shows_the_parents_page_again_still_copy_on_write() -> TestResult {
    let p = ok!(parent(1));
    let c = ok!(p.create_child(COW, 0, PAGE));
    ok!(fill_page(&c, 0, 0xcc));
    ok!(c.op_range(VmoOp::DECOMMIT, 0, PAGE));
    check_eq!(ok!(c.info()).committed_bytes, 0);
    check!(ok!(page_is(&c, 0, 1)));
    // Still copy-on-write: parent writes show, a child write copies again.
    ok!(p.write(&[0x10], 0));
    check_eq!(byte_at(&c, 0), Ok(0x10));
    ok!(c.write(&[0x20], 1));
    check_eq!(byte_at(&p, 1), Ok(1));
    check_eq!(byte_at(&c, 0), Ok(0x10));
    Ok(())
}

fn child_lookup_shows_the_parents_pages_where_unmodified() -> TestResult {
    let p = ok!(parent(2));
    let pa = ok!(paddrs::<2>(&p, 0, 2 * PAGE));
    let c = ok!(p.create_child(COW, 0, 2 * PAGE));
    let ca = ok!(paddrs::<2>(&c, 0, 2 * PAGE));
    check_eq!(ca, pa);
    ok!(c.write(&[1], PAGE));
    let ca = ok!(paddrs::<2>(&c, 0, 2 * PAGE));
    check_eq!(ca[0], pa[0]);
    check!(ca[1] != pa[1] && ca[1] != 0 && ca[1] % PAGE == 0);
    Ok(())
}

fn child_lookup_of_a_page_nobody_shows_is_no_memory() -> TestResult {
    let p = ok!(parent(1));
    let c = ok!(p.create_child(COW, 0, 2 * PAGE));
    check_eq!(c.lookup(PAGE, PAGE, &mut [0u64; 1]), Err(Status::NO_MEMORY));
    check_eq!(c.lookup(0, PAGE, &mut [0u64; 1]), Ok(()));
    Ok(())
}

fn grandchild_shows_the_grandparents_page() -> TestResult {
    let g = ok!(parent(2));
    let c = ok!(g.create_child(COW, 0, 2 * PAGE));
    ok!(c.write(&[0x77], PAGE));
    let gc = ok!(c.create_child(COW, 0, 2 * PAGE));
    check!(ok!(page_is(&gc, 0, 1)));
    check_eq!(byte_at(&gc, PAGE), Ok(0x77));
    // A grandparent write shows through both levels.
    ok!(g.write(&[0x12], 3));
    check_eq!(byte_at(&gc, 3), Ok(0x12));
    let mut ga = [0u64; 1];
    let mut gca = [0u64; 1];
    ok!(g.lookup(0, PAGE, &mut ga));
    ok!(gc.lookup(0, PAGE, &mut gca));
    check_eq!(ga, gca);
    Ok(())
}

fn reading_a_child_commits_and_copies_nothing() -> TestResult {
    let p = ok!(parent(2));
    let c = ok!(p.create_child(COW, 0, 4 * PAGE));
    let mut buf = [0u8; 64];
    for page in 0..4 {
        ok!(c.read(&mut buf, page * PAGE));
    }
    let addr = ok!(map_rw(&c, 4 * PAGE));
    for page in 0..4 {
        // SAFETY: the mapping is readable.
        let _ = unsafe { peek(addr + page * PAGE) };
    }
    check_eq!(ok!(c.info()).committed_bytes, 0);
    ok!(unmap(addr, 4 * PAGE));
    Ok(())
}

fn parent_shrink_closes_the_window_for_good() -> TestResult {
    let p = ok!(parent(3));
    let c = ok!(p.create_child(COW, 0, 3 * PAGE));
    ok!(p.set_size(PAGE));
    check!(ok!(page_is(&c, 0, 1)));
    check!(ok!(page_is(&c, 1, 0)));
    // Growing the parent again does not re-open the window.
    ok!(p.set_size(3 * PAGE));
    ok!(fill_page(&p, 2, 0x33));
    check!(ok!(page_is(&c, 2, 0)));
    check_eq!(c.get_size(), Ok(3 * PAGE));
    Ok(())
}

fn child_shrink_closes_its_window_for_good() -> TestResult {
    let p = ok!(parent(3));
    let c = ok!(p.create_child(COW, 0, 3 * PAGE));
    ok!(c.set_size(PAGE));
    ok!(c.set_size(3 * PAGE));
    check!(ok!(page_is(&c, 0, 1)));
    check!(ok!(page_is(&c, 1, 0)));
    check!(ok!(page_is(&c, 2, 0)));
    ok!(fill_page(&p, 1, 0x44));
    check!(ok!(page_is(&c, 1, 0)));
    Ok(())
}

fn parent_without_handles_still_shows_through_the_child() -> TestResult {
    let p = ok!(parent(2));
    let c = ok!(p.create_child(COW, 0, 2 * PAGE));
    let gc = ok!(c.create_child(COW, 0, 2 * PAGE));
    drop(p);
    drop(c);
    check!(ok!(page_is(&gc, 0, 1)));
    check!(ok!(page_is(&gc, 1, 2)));
    let a = ok!(paddrs::<2>(&gc, 0, 2 * PAGE));
    check!(a[0] != 0 && a[1] != 0);
    Ok(())
}

fn parent_write_shows_through_an_existing_child_mapping() -> TestResult {
    let p = ok!(parent(2));
    let c = ok!(p.create_child(COW, 0, 2 * PAGE));
    let addr = ok!(map_rw(&c, 2 * PAGE));
    // SAFETY: the mapping is readable; this read maps the parent's page.
    check_eq!(unsafe { peek(addr + 100) }, 1);
    ok!(p.write(&[0xab], 100));
    // SAFETY: as above.
    check_eq!(unsafe { peek(addr + 100) }, 0xab);
    ok!(unmap(addr, 2 * PAGE));
    Ok(())
}

fn store_through_a_child_mapping_leaves_the_parent_mapping_alone() -> TestResult {
    let p = ok!(parent(2));
    let c = ok!(p.create_child(COW, 0, 2 * PAGE));
    let pa = ok!(map_rw(&p, 2 * PAGE));
    let ca = ok!(map_rw(&c, 2 * PAGE));
    // SAFETY: both mappings are read-write and hold only this test's bytes.
    unsafe {
        check_eq!(peek(ca + PAGE + 1), 2);
        poke(ca + PAGE + 1, 0x5a);
        check_eq!(peek(ca + PAGE + 1), 0x5a);
        check_eq!(peek(pa + PAGE + 1), 2);
        // A store through the parent mapping shows in the child's page
        // that was never written, not in the one that was.
        poke(pa + 1, 0x6b);
        poke(pa + PAGE + 2, 0x7c);
        check_eq!(peek(ca + 1), 0x6b);
        check_eq!(peek(ca + PAGE + 2), 2);
    }
    check_eq!(byte_at(&c, PAGE + 1), Ok(0x5a));
    check_eq!(byte_at(&p, PAGE + 1), Ok(2));
    check_eq!(byte_at(&c, 1), Ok(0x6b));
    check_eq!(ok!(c.info()).committed_bytes, PAGE);
    ok!(unmap(pa, 2 * PAGE));
    ok!(unmap(ca, 2 * PAGE));
    Ok(())
}

fn vmo_read_into_a_child_mapping_copies_the_page() -> TestResult {
    let p = ok!(parent(1));
    let c = ok!(p.create_child(COW, 0, PAGE));
    let src = ok!(Vmo::create(PAGE));
    ok!(src.write(b"copied", 0));
    let ca = ok!(map_rw(&c, PAGE));
    // SAFETY: reading first maps the parent's page read-only, so the
    // kernel's copy-out below has to take the copy-on-write path.
    check_eq!(unsafe { peek(ca) }, 1);
    // SAFETY: the child mapping is read-write test scratch.
    let dst = unsafe { core::slice::from_raw_parts_mut(ca as *mut u8, 6) };
    check_eq!(src.read(dst, 0), Ok(()));
    check_eq!(&dst[..], b"copied");
    check_eq!(byte_at(&p, 0), Ok(1));
    check_eq!(byte_at(&c, 0), Ok(b'c'));
    ok!(unmap(ca, PAGE));
    Ok(())
}

fn child_decommit_shows_the_parent_through_the_child_mapping() -> TestResult {
    let p = ok!(parent(1));
    let c = ok!(p.create_child(COW, 0, PAGE));
    let ca = ok!(map_rw(&c, PAGE));
    // SAFETY: the child mapping is read-write test scratch.
    unsafe { poke(ca + 3, 0x99) };
    check_eq!(byte_at(&c, 3), Ok(0x99));
    ok!(c.op_range(VmoOp::DECOMMIT, 0, PAGE));
    // SAFETY: as above.
    check_eq!(unsafe { peek(ca + 3) }, 1);
    ok!(p.write(&[0x42], 3));
    // SAFETY: as above.
    check_eq!(unsafe { peek(ca + 3) }, 0x42);
    ok!(unmap(ca, PAGE));
    Ok(())
}

/// Several errors at once: the handle and its rights come before the
/// options, the offset and the size (the options before the size).
fn create_child_checks_the_handle_and_rights_before_its_arguments() -> TestResult {
    let p = ok!(parent(1));
    let no_read = ok!(p.duplicate(Rights::DUPLICATE | Rights::WRITE));
    for (opts, offset, size) in [(0, 0, PAGE), (u32::MAX, 1, u64::MAX), (1, 1, PAGE)] {
        check_eq!(
            no_read
                .create_child(VmoChildOptions(opts), offset, size)
                .map(drop),
            Err(Status::ACCESS_DENIED),
            "{opts:#x} {offset:#x} {size:#x}"
        );
    }
    for opts in [0, 1 << 2] {
        check_eq!(
            p.create_child(VmoChildOptions(opts), 0, u64::MAX).map(drop),
            Err(Status::INVALID_ARGS),
            "{opts:#x}"
        );
    }
    check!(zero_children(&p));
    Ok(())
}

/// `ZX_INFO_VMO` of a child: its size, its parent, `IS_COW_CLONE`, only
/// the pages it has of its own in `committed_bytes` (not what it shows of
/// its parent), and `kResizable` unless it was made NON_RESIZEABLE.
fn child_info_counts_only_its_own_pages_and_reports_its_options() -> TestResult {
    let p = ok!(parent(2));
    let c = ok!(p.create_child(COW, 0, 3 * PAGE));
    let info = ok!(c.info());
    check_eq!(info.size_bytes, 3 * PAGE);
    check_eq!(info.parent_koid, ok!(p.basic_info()).koid);
    let flags =
        abi::ZX_INFO_VMO_TYPE_PAGED | abi::ZX_INFO_VMO_IS_COW_CLONE | abi::ZX_INFO_VMO_VIA_HANDLE;
    check_eq!(info.flags & flags, flags);
    check_eq!(info.committed_bytes, 0);
    check_eq!(info.create_options, abi::ZX_INFO_VMO_CREATE_RESIZABLE);
    ok!(c.write(&[9], PAGE));
    check_eq!(ok!(c.info()).committed_bytes, PAGE);
    // Past the parent's end: a zero-filled page of its own.
    ok!(c.write(&[9], 2 * PAGE));
    check_eq!(ok!(c.info()).committed_bytes, 2 * PAGE);
    check_eq!(ok!(p.info()).committed_bytes, 2 * PAGE);
    let fixed = ok!(p.create_child(COW | VmoChildOptions::NON_RESIZEABLE, PAGE, PAGE));
    check_eq!(ok!(fixed.info()).create_options, 0);
    check_eq!(ok!(p.info()).num_children, 2);
    Ok(())
}

/// "Both offset and size may start or extend beyond the original VMO's
/// size", up to 64 bits: a child of no bytes at the last page-aligned
/// offset is fine, shows nothing of its parent, and can grow (zeros).
fn child_of_no_bytes_at_the_last_page_offset_of_64_bits_is_ok() -> TestResult {
    let p = ok!(parent(1));
    let c = ok!(p.create_child(COW, !(PAGE - 1), 0));
    check_eq!(c.get_size(), Ok(0));
    check_eq!(c.read(&mut [], 0), Ok(()));
    check_eq!(c.read(&mut [0u8; 1], 0), Err(Status::OUT_OF_RANGE));
    ok!(c.set_size(PAGE));
    check!(ok!(page_is(&c, 0, 0)));
    check!(!zero_children(&p));
    Ok(())
}

/// A child of a child: its parent is the child (not the root), and it has
/// the rights of the handle it was made from plus WRITE again.
fn a_grandchilds_parent_is_the_child_and_it_gets_write_again() -> TestResult {
    let p = ok!(parent(1));
    let c = ok!(p.create_child(COW, 0, PAGE));
    let base = Rights::READ | Rights::DUPLICATE;
    let g = ok!(ok!(c.duplicate(base)).create_child(COW, 0, PAGE));
    check_eq!(ok!(g.info()).parent_koid, ok!(c.basic_info()).koid);
    check_eq!(ok!(g.basic_info()).rights, (base | Rights::WRITE).bits());
    check_eq!(ok!(p.info()).num_children, 1);
    check_eq!(ok!(c.info()).num_children, 1);
    check_eq!(byte_at(&g, 0), Ok(1));
    ok!(g.write(&[7], 0));
    check_eq!(byte_at(&c, 0), Ok(1));
    Ok(())
}

/// What a child sees of its parent is the parent's pages now: a DECOMMIT
/// of the parent shows zeros in the child where the child has no copy;
/// the pages it copied stay its own.
fn parent_decommit_shows_zeros_where_the_child_did_not_copy() -> TestResult {
    let p = ok!(parent(2));
    let c = ok!(p.create_child(COW, 0, 2 * PAGE));
    ok!(c.write(&[9], PAGE));
    ok!(p.op_range(VmoOp::DECOMMIT, 0, 2 * PAGE));
    check!(ok!(page_is(&c, 0, 0)));
    check_eq!(byte_at(&c, PAGE), Ok(9));
    check_eq!(byte_at(&c, PAGE + 1), Ok(2));
    check_eq!(ok!(c.info()).committed_bytes, PAGE);
    Ok(())
}
