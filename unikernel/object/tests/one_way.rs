//! DESIGN.md's one-way copy-on-write semantics, one point per test.

mod common;
use abi::*;
use common::*;

#[test]
fn window_is_limited_by_the_parent_size_at_creation() {
    let (mut s, t, p) = setup_filled(2);
    let c = cow_child(&mut s, t, p, PAGE, 3 * PAGE);
    // Child pages [0, 1) show the parent; growing the parent does not widen it.
    s.task(t).vmo_set_size(p, 4 * PAGE).unwrap();
    put(&mut s, t, p, 2 * PAGE, 9);
    assert_eq!(byte(&mut s, t, c, 0), 2);
    assert_eq!(byte(&mut s, t, c, PAGE), 0);
}

#[test]
fn parent_shrink_narrows_the_window_and_regrowth_does_not_reopen_it() {
    let (mut s, t, p, c) = setup_child(3, 3 * PAGE);
    s.task(t).vmo_set_size(p, PAGE).unwrap();
    assert_eq!(byte(&mut s, t, c, 2 * PAGE), 0);
    s.task(t).vmo_set_size(p, 3 * PAGE).unwrap();
    put(&mut s, t, p, 2 * PAGE, 8);
    assert_eq!(byte(&mut s, t, c, 2 * PAGE), 0);
    assert_eq!(byte(&mut s, t, c, 0), 1);
}

#[test]
fn child_shrink_closes_its_window_for_good() {
    let (mut s, t, _, c) = setup_child(2, 2 * PAGE);
    s.task(t).vmo_set_size(c, PAGE).unwrap();
    s.task(t).vmo_set_size(c, 2 * PAGE).unwrap();
    assert_eq!(byte(&mut s, t, c, PAGE), 0);
    assert_eq!(byte(&mut s, t, c, 0), 1);
}

#[test]
fn grandparent_page_shows_through_a_chain() {
    let (mut s, t, g) = setup_filled(3);
    let p = cow_child(&mut s, t, g, PAGE, 2 * PAGE);
    let c = cow_child(&mut s, t, p, PAGE, PAGE);
    assert_eq!(byte(&mut s, t, c, 0), 3);
    put(&mut s, t, g, 2 * PAGE, 0x42);
    assert_eq!(byte(&mut s, t, c, 0), 0x42);
}

#[test]
fn middle_page_hides_the_grandparent_page() {
    let (mut s, t, g) = setup_filled(1);
    let p = cow_child(&mut s, t, g, 0, PAGE);
    let c = cow_child(&mut s, t, p, 0, PAGE);
    put(&mut s, t, p, 0, 0x11);
    put(&mut s, t, g, 0, 0x22);
    assert_eq!(byte(&mut s, t, c, 0), 0x11);
}

#[test]
fn reads_never_commit_or_copy() {
    let (mut s, t, _, c) = setup_child(2, 4 * PAGE);
    let frames = s.platform().live_frames();
    read(&mut s, t, c, 0, 4 * PAGE as usize);
    assert_eq!(committed_pages(&mut s, t, c), 0);
    assert_eq!(s.platform().live_frames(), frames);
}

#[test]
fn parent_writes_are_visible_at_once_in_children_that_have_not_copied() {
    let (mut s, t) = setup();
    let p = s.task(t).vmo_create(2 * PAGE, 0).unwrap();
    let a = cow_child(&mut s, t, p, 0, 2 * PAGE);
    let b = cow_child(&mut s, t, p, 0, 2 * PAGE);
    put(&mut s, t, b, 0, 1);
    put(&mut s, t, p, 0, 7);
    put(&mut s, t, p, PAGE, 8);
    assert_eq!(byte(&mut s, t, a, 0), 7);
    assert_eq!(byte(&mut s, t, b, 0), 1);
    assert_eq!(byte(&mut s, t, b, PAGE), 8);
}

#[test]
fn child_keeps_showing_a_parent_that_has_no_handles() {
    let (mut s, t, p, c) = setup_child(2, 2 * PAGE);
    s.task(t).handle_close(p).unwrap();
    assert_eq!(s.vmo_count(), 2);
    assert_eq!(byte(&mut s, t, c, PAGE), 2);
}

#[test]
fn closing_the_last_child_of_a_handleless_parent_frees_both() {
    let (mut s, t, p, c) = setup_child(2, 2 * PAGE);
    put(&mut s, t, c, 0, 1);
    s.task(t).handle_close(p).unwrap();
    assert_eq!(s.platform().live_frames(), 3);
    s.task(t).handle_close(c).unwrap();
    assert_eq!(s.platform().live_frames(), 0);
    assert_eq!(s.vmo_count(), 0);
}

#[test]
fn shrink_frees_pages_past_the_end_at_once() {
    let (mut s, t, p, _c) = setup_child(4, 4 * PAGE);
    s.task(t).vmo_set_size(p, PAGE).unwrap();
    assert_eq!(s.platform().live_frames(), 1);
    assert_eq!(committed_pages(&mut s, t, p), 1);
}

#[test]
fn decommit_frees_pages_at_once() {
    let (mut s, t, p) = setup_filled(4);
    op(&mut s, t, p, ZX_VMO_OP_DECOMMIT, PAGE, 2 * PAGE).unwrap();
    assert_eq!(s.platform().live_frames(), 2);
    assert_eq!(byte(&mut s, t, p, PAGE), 0);
}

#[test]
fn decommit_on_a_root_vmo_reads_back_zeros() {
    let (mut s, t, p) = setup_filled(1);
    op(&mut s, t, p, ZX_VMO_OP_DECOMMIT, 0, PAGE).unwrap();
    assert_eq!(read(&mut s, t, p, 0, PAGE as usize), vec![0; PAGE as usize]);
}

#[test]
fn closing_a_middle_clone_keeps_zero_children_inactive_while_the_grandchild_lives() {
    let (mut s, t, p, m) = setup_child(1, PAGE);
    let g = cow_child(&mut s, t, m, 0, PAGE);
    s.task(t).handle_close(m).unwrap();
    assert!(!zero_children(&mut s, t, p));
    s.task(t).handle_close(g).unwrap();
    assert!(zero_children(&mut s, t, p));
}

#[test]
fn commit_gives_the_nearest_ancestors_page() {
    let (mut s, t, g) = setup_filled(1);
    let p = cow_child(&mut s, t, g, 0, PAGE);
    let c = cow_child(&mut s, t, p, 0, PAGE);
    op(&mut s, t, c, ZX_VMO_OP_COMMIT, 0, PAGE).unwrap();
    put(&mut s, t, g, 0, 0x77);
    assert_eq!(byte(&mut s, t, c, 0), 1);
}

#[test]
fn commit_and_decommit_need_write() {
    let (mut s, t, p) = setup_filled(1);
    let ro = dup(&mut s, t, p, ZX_RIGHT_READ);
    assert_eq!(
        op(&mut s, t, ro, ZX_VMO_OP_COMMIT, 0, PAGE),
        Err(ZX_ERR_ACCESS_DENIED)
    );
    assert_eq!(
        op(&mut s, t, ro, ZX_VMO_OP_DECOMMIT, 0, PAGE),
        Err(ZX_ERR_ACCESS_DENIED)
    );
}

#[test]
fn lookup_needs_read() {
    let (mut s, t, p) = setup_filled(1);
    let wo = dup(&mut s, t, p, ZX_RIGHT_WRITE);
    let mut out = [0u64; 1];
    assert_eq!(
        s.task(t)
            .vmo_op_range(wo, ZX_VMO_OP_LOOKUP, 0, PAGE, &mut out),
        Err(ZX_ERR_ACCESS_DENIED)
    );
}

#[test]
fn lookup_returns_page_aligned_physical_addresses_of_committed_pages() {
    let (mut s, t, p) = setup_filled(2);
    let mut out = [0u64; 2];
    s.task(t)
        .vmo_op_range(p, ZX_VMO_OP_LOOKUP, 10, PAGE, &mut out)
        .unwrap();
    assert!(out.iter().all(|a| a % PAGE == 0 && *a != 0));
    assert_ne!(out[0], out[1]);
}

#[test]
fn lookup_of_a_page_shown_by_none_is_no_memory() {
    let (mut s, t, p) = setup_vmo();
    let mut out = [0u64; 1];
    assert_eq!(
        s.task(t)
            .vmo_op_range(p, ZX_VMO_OP_LOOKUP, 0, PAGE, &mut out),
        Err(ZX_ERR_NO_MEMORY)
    );
}

#[test]
fn lookup_of_zero_bytes_is_invalid_args() {
    let (mut s, t, p) = setup_filled(1);
    let mut out = [0u64; 1];
    assert_eq!(
        s.task(t).vmo_op_range(p, ZX_VMO_OP_LOOKUP, 0, 0, &mut out),
        Err(ZX_ERR_INVALID_ARGS)
    );
}

#[test]
fn lookup_past_the_end_is_out_of_range() {
    let (mut s, t, p) = setup_filled(1);
    let mut out = [0u64; 2];
    assert_eq!(
        s.task(t)
            .vmo_op_range(p, ZX_VMO_OP_LOOKUP, 0, 2 * PAGE, &mut out),
        Err(ZX_ERR_OUT_OF_RANGE)
    );
}

#[test]
fn lookup_into_a_too_small_buffer_is_buffer_too_small() {
    let (mut s, t, p) = setup_filled(2);
    let mut out = [0u64; 1];
    assert_eq!(
        s.task(t)
            .vmo_op_range(p, ZX_VMO_OP_LOOKUP, 0, 2 * PAGE, &mut out),
        Err(ZX_ERR_BUFFER_TOO_SMALL)
    );
}

#[test]
fn lock_and_unlock_are_not_supported() {
    let (mut s, t, p) = setup_filled(1);
    assert_eq!(
        op(&mut s, t, p, ZX_VMO_OP_LOCK, 0, PAGE),
        Err(ZX_ERR_NOT_SUPPORTED)
    );
    assert_eq!(
        op(&mut s, t, p, ZX_VMO_OP_UNLOCK, 0, PAGE),
        Err(ZX_ERR_NOT_SUPPORTED)
    );
}

#[test]
fn unknown_op_is_invalid_args() {
    let (mut s, t, p) = setup_filled(1);
    assert_eq!(op(&mut s, t, p, 42, 0, PAGE), Err(ZX_ERR_INVALID_ARGS));
}

#[test]
fn commit_past_the_end_is_out_of_range() {
    let (mut s, t, p) = setup_vmo();
    assert_eq!(
        op(&mut s, t, p, ZX_VMO_OP_COMMIT, 0, 2 * PAGE),
        Err(ZX_ERR_OUT_OF_RANGE)
    );
    assert_eq!(committed_pages(&mut s, t, p), 0);
}

#[test]
fn commit_beyond_the_quota_is_no_memory_and_commits_nothing() {
    let (mut s, _) = setup();
    let t = small_table(&mut s, 3);
    let p = s.task(t).vmo_create(4 * PAGE, 0).unwrap();
    assert_eq!(
        op(&mut s, t, p, ZX_VMO_OP_COMMIT, 0, 4 * PAGE),
        Err(ZX_ERR_NO_MEMORY)
    );
    assert_eq!(committed_pages(&mut s, t, p), 0);
    assert_eq!(op(&mut s, t, p, ZX_VMO_OP_COMMIT, 0, 3 * PAGE), Ok(()));
}

#[test]
fn commit_of_a_huge_sparse_range_fails_cleanly() {
    let (mut s, t) = setup();
    let p = s.task(t).vmo_create(1 << 40, 0).unwrap();
    assert_eq!(
        op(&mut s, t, p, ZX_VMO_OP_COMMIT, 0, 1 << 40),
        Err(ZX_ERR_NO_MEMORY)
    );
    assert_eq!(s.platform().live_frames(), 0);
}

/// A table whose VMOs may commit `pages` pages.
fn small_table(s: &mut Space, pages: u64) -> object::TableId {
    table_with(s, 16, pages)
}

#[test]
fn a_vmo_outliving_its_creator_is_charged_to_the_task_that_grows_it() {
    let (mut s, _) = setup();
    let creator = small_table(&mut s, 8);
    let heir = small_table(&mut s, 4);
    let v = s.task(creator).vmo_create(16 * PAGE, 0).unwrap();
    put(&mut s, creator, v, 0, 1);
    let theirs = s.task(creator).handle_transfer(v, heir).unwrap();
    s.destroy_table(creator).unwrap();
    // The heir pays for the page it takes over and the ones it adds: four
    // in all, its whole quota, and no more.
    assert_eq!(
        op(&mut s, heir, theirs, ZX_VMO_OP_COMMIT, PAGE, 3 * PAGE),
        Ok(())
    );
    assert_eq!(
        op(&mut s, heir, theirs, ZX_VMO_OP_COMMIT, 4 * PAGE, PAGE),
        Err(ZX_ERR_NO_MEMORY)
    );
    assert_eq!(committed_pages(&mut s, heir, theirs), 4);
    // Its own VMOs share that quota now; freeing pages gives it back.
    let own = s.task(heir).vmo_create(PAGE, 0).unwrap();
    assert_eq!(
        op(&mut s, heir, own, ZX_VMO_OP_COMMIT, 0, PAGE),
        Err(ZX_ERR_NO_MEMORY)
    );
    op(&mut s, heir, theirs, ZX_VMO_OP_DECOMMIT, 0, 16 * PAGE).unwrap();
    assert_eq!(op(&mut s, heir, own, ZX_VMO_OP_COMMIT, 0, PAGE), Ok(()));
}

#[test]
fn a_vmo_outliving_its_creator_is_charged_for_faults_to_the_faulting_task() {
    let (mut s, _, root, _) = setup_vmar();
    let creator = small_table(&mut s, 8);
    let heir = small_table(&mut s, 2);
    let rights = object::vmar_rights(ZX_VM_CAN_MAP_RWX);
    let r = s.install_vmar(heir, root, rights).unwrap();
    s.vmar_set_account(root, heir).unwrap();
    let v = s.task(creator).vmo_create(4 * PAGE, 0).unwrap();
    let theirs = s.task(creator).handle_transfer(v, heir).unwrap();
    s.destroy_table(creator).unwrap();
    let a = s
        .task(heir)
        .vmar_map(r, RW, 0, theirs, 0, 4 * PAGE)
        .unwrap();
    // The last call was another task's: the faults are still the heir's.
    let bystander = small_table(&mut s, 64);
    s.task(bystander).vmo_create(PAGE, 0).unwrap();
    store(&mut s, root, a, 1).unwrap();
    store(&mut s, root, a + PAGE, 1).unwrap();
    assert_eq!(store(&mut s, root, a + 2 * PAGE, 1), Err(ZX_ERR_NO_MEMORY));
    assert_eq!(committed_pages(&mut s, heir, theirs), 2);
}
