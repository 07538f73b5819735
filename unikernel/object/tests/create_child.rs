//! One test (or more) per sentence of reference/zx_vmo_create_child.md.

mod common;
use abi::*;
use common::*;

#[test]
fn create_child_makes_a_new_vmo_whose_parent_is_the_source() {
    let (mut s, t, p, c) = setup_child(2, 2 * PAGE);
    let (pi, ci) = (info(&mut s, t, p), info(&mut s, t, c));
    assert_ne!(pi.koid, ci.koid);
    assert_eq!(ci.parent_koid, pi.koid);
    assert_ne!(ci.flags & ZX_INFO_VMO_IS_COW_CLONE, 0);
    assert_eq!(pi.num_children, 1);
}

#[test]
fn create_child_returns_one_handle_of_the_requested_size() {
    let (mut s, t, _, c) = setup_child(2, 5 * PAGE);
    assert_eq!(s.task(t).vmo_get_size(c), Ok(5 * PAGE));
    assert_eq!(s.table(t).unwrap().len(), 2);
}

#[test]
fn options_without_a_child_type_are_invalid_args() {
    let (mut s, t, p) = setup_filled(1);
    assert_eq!(
        s.task(t).vmo_create_child(p, 0, 0, PAGE),
        Err(ZX_ERR_INVALID_ARGS)
    );
}

#[test]
fn non_resizeable_modifier_alone_is_invalid_args() {
    let (mut s, t, p) = setup_filled(1);
    assert_eq!(
        s.task(t)
            .vmo_create_child(p, ZX_VMO_CHILD_NON_RESIZEABLE, 0, PAGE),
        Err(ZX_ERR_INVALID_ARGS)
    );
}

#[test]
fn unknown_option_bits_are_invalid_args() {
    let (mut s, t, p) = setup_filled(1);
    assert_eq!(
        s.task(t)
            .vmo_create_child(p, ZX_VMO_CHILD_COPY_ON_WRITE | 1 << 7, 0, PAGE),
        Err(ZX_ERR_INVALID_ARGS)
    );
}

#[test]
fn cow_child_shows_what_the_parent_shows() {
    let (mut s, t, p) = setup_filled(3);
    let c = cow_child(&mut s, t, p, PAGE, 2 * PAGE);
    assert_eq!(read(&mut s, t, c, 0, 2 * PAGE as usize), {
        let mut v = vec![2u8; PAGE as usize];
        v.extend(vec![3u8; PAGE as usize]);
        v
    });
    assert_eq!(committed_pages(&mut s, t, c), 0);
}

#[test]
fn child_write_brings_in_a_copy_of_only_the_written_page() {
    let (mut s, t, _, c) = setup_child(3, 3 * PAGE);
    put(&mut s, t, c, PAGE + 10, 0xaa);
    assert_eq!(committed_pages(&mut s, t, c), 1);
    // The rest of the copied page is the parent's contents.
    assert_eq!(byte(&mut s, t, c, PAGE + 11), 2);
    assert_eq!(byte(&mut s, t, c, PAGE + 10), 0xaa);
}

#[test]
fn child_copy_diverges_from_parent_both_ways() {
    let (mut s, t, p, c) = setup_child(1, PAGE);
    put(&mut s, t, c, 0, 0xcc);
    assert_eq!(byte(&mut s, t, p, 0), 1);
    put(&mut s, t, p, 1, 0xdd);
    assert_eq!(byte(&mut s, t, c, 1), 1);
}

#[test]
fn child_reads_zeros_beyond_the_parent_size() {
    let (mut s, t, _, c) = setup_child(1, 3 * PAGE);
    assert_eq!(
        read(&mut s, t, c, PAGE, 2 * PAGE as usize),
        vec![0; 2 * PAGE as usize]
    );
}

#[test]
fn child_write_beyond_the_parent_size_allocates_a_zero_filled_page() {
    let (mut s, t, _, c) = setup_child(1, 2 * PAGE);
    put(&mut s, t, c, PAGE + 7, 9);
    assert_eq!(committed_pages(&mut s, t, c), 1);
    let page = read(&mut s, t, c, PAGE, PAGE as usize);
    assert_eq!(page.iter().filter(|&&b| b != 0).count(), 1);
}

#[test]
fn non_resizeable_child_cannot_change_size() {
    let (mut s, t, p) = setup_filled(1);
    let c = s
        .task(t)
        .vmo_create_child(
            p,
            ZX_VMO_CHILD_COPY_ON_WRITE | ZX_VMO_CHILD_NON_RESIZEABLE,
            0,
            PAGE,
        )
        .unwrap();
    assert_eq!(s.task(t).vmo_set_size(c, 2 * PAGE), Err(ZX_ERR_UNAVAILABLE));
    assert_eq!(
        info(&mut s, t, c).create_options & ZX_INFO_VMO_CREATE_RESIZABLE,
        0
    );
}

#[test]
fn child_of_a_non_resizable_vmo_is_resizable_by_default() {
    let (mut s, t) = setup();
    let p = s.task(t).vmo_create(PAGE, ZX_VMO_NON_RESIZABLE).unwrap();
    let c = cow_child(&mut s, t, p, 0, PAGE);
    assert_eq!(s.task(t).vmo_set_size(c, 4 * PAGE), Ok(()));
    assert_eq!(s.task(t).vmo_get_size(c), Ok(4 * PAGE));
}

#[test]
fn unaligned_offset_is_invalid_args() {
    let (mut s, t, p) = setup_filled(2);
    assert_eq!(
        s.task(t)
            .vmo_create_child(p, ZX_VMO_CHILD_COPY_ON_WRITE, 1, PAGE),
        Err(ZX_ERR_INVALID_ARGS)
    );
}

#[test]
fn offset_plus_size_overflowing_u64_is_out_of_range() {
    let (mut s, t, p) = setup_filled(1);
    assert_eq!(
        s.task(t)
            .vmo_create_child(p, ZX_VMO_CHILD_COPY_ON_WRITE, u64::MAX - PAGE + 1, 2 * PAGE),
        Err(ZX_ERR_OUT_OF_RANGE)
    );
}

#[test]
fn size_rounding_past_u64_is_out_of_range() {
    let (mut s, t, p) = setup_filled(1);
    assert_eq!(
        s.task(t)
            .vmo_create_child(p, ZX_VMO_CHILD_COPY_ON_WRITE, 0, u64::MAX),
        Err(ZX_ERR_OUT_OF_RANGE)
    );
}

#[test]
fn size_beyond_the_largest_vmo_is_out_of_range() {
    let (mut s, t, p) = setup_filled(1);
    assert_eq!(
        s.task(t)
            .vmo_create_child(p, ZX_VMO_CHILD_COPY_ON_WRITE, 0, ZX_MAX_VMO_SIZE + 1),
        Err(ZX_ERR_OUT_OF_RANGE)
    );
    assert!(s
        .task(t)
        .vmo_create_child(p, ZX_VMO_CHILD_COPY_ON_WRITE, 0, ZX_MAX_VMO_SIZE)
        .is_ok());
}

#[test]
fn child_may_start_beyond_the_parent_size_and_shows_zeros() {
    let (mut s, t, p) = setup_filled(1);
    let c = cow_child(&mut s, t, p, 10 * PAGE, PAGE);
    assert_eq!(read(&mut s, t, c, 0, PAGE as usize), vec![0; PAGE as usize]);
    // Growing the parent later does not open a window that was empty.
    s.task(t).vmo_set_size(p, 20 * PAGE).unwrap();
    put(&mut s, t, p, 10 * PAGE, 5);
    assert_eq!(byte(&mut s, t, c, 0), 0);
}

#[test]
fn child_may_extend_beyond_the_parent_size() {
    let (mut s, t, p) = setup_filled(2);
    let c = cow_child(&mut s, t, p, PAGE, 4 * PAGE);
    assert_eq!(byte(&mut s, t, c, 0), 2);
    assert_eq!(byte(&mut s, t, c, PAGE), 0);
    assert_eq!(s.task(t).vmo_get_size(c), Ok(4 * PAGE));
}

#[test]
fn child_size_is_rounded_up_to_a_page() {
    let (mut s, t, p, c) = setup_child(1, PAGE + 1);
    assert_eq!(s.task(t).vmo_get_size(c), Ok(2 * PAGE));
    let z = cow_child(&mut s, t, p, 0, 0);
    assert_eq!(s.task(t).vmo_get_size(z), Ok(0));
}

#[test]
fn child_rights_are_the_parent_handles_plus_write() {
    let (mut s, t, p) = setup_filled(1);
    let ro = dup(
        &mut s,
        t,
        p,
        ZX_RIGHT_DUPLICATE | ZX_RIGHT_READ | ZX_RIGHT_MAP,
    );
    let c = cow_child(&mut s, t, ro, 0, PAGE);
    let basic = s.task(t).object_get_info_handle_basic(c).unwrap();
    assert_eq!(
        basic.rights,
        ZX_RIGHT_DUPLICATE | ZX_RIGHT_READ | ZX_RIGHT_MAP | ZX_RIGHT_WRITE
    );
    assert_eq!(s.task(t).vmo_write(c, &[1], 0), Ok(()));
    let full = cow_child(&mut s, t, p, 0, PAGE);
    assert_eq!(
        s.task(t).object_get_info_handle_basic(full).unwrap().rights,
        ZX_DEFAULT_VMO_RIGHTS
    );
}

#[test]
fn creating_a_child_makes_zero_children_inactive() {
    let (mut s, t, p) = setup_filled(1);
    assert!(zero_children(&mut s, t, p));
    let _c = cow_child(&mut s, t, p, 0, PAGE);
    assert!(!zero_children(&mut s, t, p));
}

#[test]
fn zero_children_is_active_again_when_the_last_child_is_closed() {
    let (mut s, t, p, a) = setup_child(1, PAGE);
    let b = cow_child(&mut s, t, p, 0, PAGE);
    s.task(t).handle_close(a).unwrap();
    assert!(!zero_children(&mut s, t, p));
    s.task(t).handle_close(b).unwrap();
    assert!(zero_children(&mut s, t, p));
}

#[test]
fn zero_children_stays_inactive_while_a_child_is_mapped() {
    let (mut s, t, _, r) = setup_vmar();
    let p = filled_vmo(&mut s, t, 1);
    let c = cow_child(&mut s, t, p, 0, PAGE);
    let a = s
        .task(t)
        .vmar_map(r, ZX_VM_PERM_READ, 0, c, 0, PAGE)
        .unwrap();
    s.task(t).handle_close(c).unwrap();
    assert!(!zero_children(&mut s, t, p));
    s.task(t).vmar_unmap(r, a, PAGE).unwrap();
    assert!(zero_children(&mut s, t, p));
}

#[test]
fn commit_on_a_child_never_commits_the_parent() {
    let (mut s, t) = setup();
    let p = s.task(t).vmo_create(4 * PAGE, 0).unwrap();
    let c = cow_child(&mut s, t, p, 0, 4 * PAGE);
    op(&mut s, t, c, ZX_VMO_OP_COMMIT, 0, 4 * PAGE).unwrap();
    assert_eq!(committed_pages(&mut s, t, c), 4);
    assert_eq!(committed_pages(&mut s, t, p), 0);
}

#[test]
fn decommit_on_a_child_never_decommits_the_parent() {
    let (mut s, t, p, c) = setup_child(2, 2 * PAGE);
    put(&mut s, t, c, 0, 7);
    op(&mut s, t, c, ZX_VMO_OP_DECOMMIT, 0, 2 * PAGE).unwrap();
    assert_eq!(committed_pages(&mut s, t, c), 0);
    assert_eq!(committed_pages(&mut s, t, p), 2);
}

#[test]
fn decommitted_child_page_shows_the_parent_again_still_copy_on_write() {
    let (mut s, t, p, c) = setup_child(1, PAGE);
    put(&mut s, t, c, 0, 7);
    op(&mut s, t, c, ZX_VMO_OP_DECOMMIT, 0, PAGE).unwrap();
    assert_eq!(byte(&mut s, t, c, 0), 1);
    put(&mut s, t, c, 0, 8);
    assert_eq!(byte(&mut s, t, p, 0), 1);
    assert_eq!(byte(&mut s, t, c, 0), 8);
}

#[test]
fn commit_on_a_child_copies_the_parent_page() {
    let (mut s, t, p, c) = setup_child(1, PAGE);
    op(&mut s, t, c, ZX_VMO_OP_COMMIT, 0, PAGE).unwrap();
    assert_eq!(committed_pages(&mut s, t, c), 1);
    // A parent write is no longer visible: the child has its own copy.
    put(&mut s, t, p, 0, 0x55);
    assert_eq!(read(&mut s, t, c, 0, PAGE as usize), vec![1; PAGE as usize]);
}

#[test]
fn commit_on_a_child_without_a_parent_page_is_zero_filled() {
    let (mut s, t, p) = setup_vmo();
    let c = cow_child(&mut s, t, p, 0, PAGE);
    op(&mut s, t, c, ZX_VMO_OP_COMMIT, 0, PAGE).unwrap();
    put(&mut s, t, p, 0, 0x55);
    assert_eq!(read(&mut s, t, c, 0, PAGE as usize), vec![0; PAGE as usize]);
}

#[test]
fn lookup_on_a_child_shows_parent_pages_where_the_child_has_not_written() {
    let (mut s, t, p, c) = setup_child(2, 2 * PAGE);
    let mut parent_pages = [0u64; 2];
    s.task(t)
        .vmo_op_range(p, ZX_VMO_OP_LOOKUP, 0, 2 * PAGE, &mut parent_pages)
        .unwrap();
    put(&mut s, t, c, PAGE, 1);
    let mut child_pages = [0u64; 2];
    s.task(t)
        .vmo_op_range(c, ZX_VMO_OP_LOOKUP, 0, 2 * PAGE, &mut child_pages)
        .unwrap();
    assert_eq!(child_pages[0], parent_pages[0]);
    assert_ne!(child_pages[1], parent_pages[1]);
}

#[test]
fn create_child_without_duplicate_right_is_access_denied() {
    let (mut s, t, p) = setup_filled(1);
    let h = dup(&mut s, t, p, ZX_RIGHT_READ);
    assert_eq!(
        s.task(t)
            .vmo_create_child(h, ZX_VMO_CHILD_COPY_ON_WRITE, 0, PAGE),
        Err(ZX_ERR_ACCESS_DENIED)
    );
}

#[test]
fn create_child_without_read_right_is_access_denied() {
    let (mut s, t, p) = setup_filled(1);
    let h = dup(&mut s, t, p, ZX_RIGHT_DUPLICATE);
    assert_eq!(
        s.task(t)
            .vmo_create_child(h, ZX_VMO_CHILD_COPY_ON_WRITE, 0, PAGE),
        Err(ZX_ERR_ACCESS_DENIED)
    );
}

#[test]
fn create_child_of_a_non_vmo_is_wrong_type() {
    let (mut s, t) = setup();
    let e = s.task(t).event_create(0).unwrap();
    assert_eq!(
        s.task(t)
            .vmo_create_child(e, ZX_VMO_CHILD_COPY_ON_WRITE, 0, PAGE),
        Err(ZX_ERR_WRONG_TYPE)
    );
}

#[test]
fn create_child_of_a_bad_handle_is_bad_handle() {
    let (mut s, t) = setup();
    assert_eq!(
        s.task(t)
            .vmo_create_child(ZX_HANDLE_INVALID, ZX_VMO_CHILD_COPY_ON_WRITE, 0, PAGE),
        Err(ZX_ERR_BAD_HANDLE)
    );
}

#[test]
fn create_child_out_of_memory_is_no_memory_and_changes_nothing() {
    let (mut s, t, p) = setup_filled(1);
    for n in 0..3 {
        s.mem().fail_after(Some(n));
        let r = s
            .task(t)
            .vmo_create_child(p, ZX_VMO_CHILD_COPY_ON_WRITE, 0, PAGE);
        if s.mem().failure_pending() {
            s.mem().fail_after(None);
            assert!(r.is_ok());
            break;
        }
        assert_eq!(r, Err(ZX_ERR_NO_MEMORY));
        assert_eq!(s.table(t).unwrap().len(), 1);
        assert_eq!(s.vmo_count(), 1);
        assert!(zero_children(&mut s, t, p));
    }
}

#[test]
fn create_child_of_a_one_tib_sparse_parent_commits_nothing() {
    let (mut s, t) = setup();
    let p = s.task(t).vmo_create(1 << 40, 0).unwrap();
    put(&mut s, t, p, (1 << 40) - 1, 3);
    let allocs = s.platform().allocations.get();
    let c = cow_child(&mut s, t, p, 0, 1 << 40);
    assert_eq!(s.platform().allocations.get(), allocs);
    assert_eq!(byte(&mut s, t, c, (1 << 40) - 1), 3);
}
