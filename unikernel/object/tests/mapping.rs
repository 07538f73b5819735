//! Mapping bookkeeping: faults resolve to the right frame, and every change
//! to what a mapped page shows unmaps exactly the virtual pages that showed it.

mod common;
use abi::*;
use common::*;
use object::{Access, MapPerms, FAULT_FRAME_LATER, FAULT_NEEDS_EXCLUSIVE};

const VA: u64 = 1 << 40;
const VB: u64 = 2 << 40;

#[test]
fn mapping_needs_the_map_right() {
    let (mut s, t, _, r) = setup_vmar();
    let v = s.task(t).vmo_create(PAGE, 0).unwrap();
    let d = dup(&mut s, t, v, ZX_RIGHT_READ | ZX_RIGHT_WRITE);
    assert_eq!(
        s.task(t).vmar_map(r, ZX_VM_PERM_READ, 0, d, 0, PAGE),
        Err(ZX_ERR_ACCESS_DENIED)
    );
}

#[test]
fn writable_mapping_needs_the_write_right() {
    let (mut s, t, _, r) = setup_vmar();
    let v = s.task(t).vmo_create(PAGE, 0).unwrap();
    let d = dup(&mut s, t, v, ZX_RIGHT_READ | ZX_RIGHT_MAP);
    assert_eq!(
        s.task(t).vmar_map(r, RW, 0, d, 0, PAGE),
        Err(ZX_ERR_ACCESS_DENIED)
    );
}

#[test]
fn read_fault_on_an_untouched_page_maps_the_zero_page_and_commits_nothing() {
    let (mut s, t, root, r) = setup_vmar();
    let v = s.task(t).vmo_create(PAGE, 0).unwrap();
    map_at(&mut s, t, r, VA, v, 0, PAGE, RW);
    s.vmar_fault(root, VA, Access::Read).unwrap();
    assert_eq!(s.platform().pte(VA), Some((ZERO_PADDR, RO)));
    assert_eq!(committed_pages(&mut s, t, v), 0);
}

#[test]
fn read_fault_in_a_child_maps_the_parent_page_read_only() {
    let (mut s, t, root, r) = setup_vmar();
    let p = filled_vmo(&mut s, t, 2);
    let c = cow_child(&mut s, t, p, 0, 2 * PAGE);
    map_at(&mut s, t, r, VA, c, 0, 2 * PAGE, RW);
    let paddr = lookup(&mut s, t, p, 1);
    s.vmar_fault(root, VA + PAGE + 5, Access::Read).unwrap();
    assert_eq!(s.platform().pte(VA + PAGE), Some((paddr, RO)));
}

#[test]
fn write_fault_in_a_child_copies_and_maps_its_own_page_writable() {
    let (mut s, t, root, r) = setup_vmar();
    let p = filled_vmo(&mut s, t, 1);
    let c = cow_child(&mut s, t, p, 0, PAGE);
    map_at(&mut s, t, r, VA, c, 0, PAGE, RW);
    s.vmar_fault(root, VA, Access::Write).unwrap();
    let (paddr, perms) = s.platform().pte(VA).unwrap();
    assert_eq!(perms, RWP);
    assert_ne!(paddr, lookup(&mut s, t, p, 0));
    assert_eq!(paddr, lookup(&mut s, t, c, 0));
    assert_eq!(committed_pages(&mut s, t, c), 1);
    assert_eq!(byte(&mut s, t, c, 0), 1);
}

#[test]
fn a_fault_whose_frame_is_filled_later_changes_nothing_until_asked_again() {
    let (mut s, t, root, r) = setup_vmar();
    let p = filled_vmo(&mut s, t, 2);
    let c = cow_child(&mut s, t, p, 0, 2 * PAGE);
    map_at(&mut s, t, r, VA, c, 0, 2 * PAGE, RW);
    s.vmar_fault(root, VA + PAGE, Access::Read).unwrap();
    let before = (s.platform().live_frames(), s.platform().pte(VA + PAGE));
    let charged = s.committed_pages(t);
    for va in [VA, VA + PAGE] {
        // A copy-on-write fault (the page shows the parent's).
        s.platform().fault_frame_later.set(true);
        assert_eq!(
            s.vmar_fault(root, va, Access::Write),
            Err(FAULT_FRAME_LATER)
        );
        assert_eq!(committed_pages(&mut s, t, c), 0);
        assert_eq!(s.committed_pages(t), charged);
        assert_eq!(
            (s.platform().live_frames(), s.platform().pte(VA + PAGE)),
            before
        );
    }
    // A zero-fill fault in a VMO of its own.
    let v = s.task(t).vmo_create(PAGE, 0).unwrap();
    map_at(&mut s, t, r, VB, v, 0, PAGE, RW);
    s.platform().fault_frame_later.set(true);
    assert_eq!(
        s.vmar_fault(root, VB, Access::Write),
        Err(FAULT_FRAME_LATER)
    );
    assert_eq!(committed_pages(&mut s, t, v), 0);
    assert_eq!(s.platform().fault_frames_deferred.get(), 3);
    // Asked again, each fault is resolved as it would have been at once.
    for va in [VA, VA + PAGE, VB] {
        s.vmar_fault(root, va, Access::Write).unwrap();
        assert_eq!(s.platform().pte(va).map(|(_, perms)| perms), Some(RWP));
    }
    assert_eq!(committed_pages(&mut s, t, c), 2);
    assert_eq!(committed_pages(&mut s, t, v), 1);
    assert_eq!(byte(&mut s, t, c, PAGE), 2);
    assert_eq!(byte(&mut s, t, v, 0), 0);
}

#[test]
fn write_fault_on_a_read_only_mapping_is_access_denied() {
    let (mut s, t, root, r) = setup_vmar();
    let v = s.task(t).vmo_create(PAGE, 0).unwrap();
    map_at(&mut s, t, r, VA, v, 0, PAGE, ZX_VM_PERM_READ);
    assert_eq!(
        s.vmar_fault(root, VA, Access::Write),
        Err(ZX_ERR_ACCESS_DENIED)
    );
    assert_eq!(s.platform().mapped_pages(), 0);
}

#[test]
fn fault_past_the_vmo_end_is_out_of_range() {
    let (mut s, t, root, r) = setup_vmar();
    let v = s.task(t).vmo_create(2 * PAGE, 0).unwrap();
    map_at(&mut s, t, r, VA, v, 0, 2 * PAGE, RW);
    s.task(t).vmo_set_size(v, PAGE).unwrap();
    assert_eq!(
        s.vmar_fault(root, VA + PAGE, Access::Read),
        Err(ZX_ERR_OUT_OF_RANGE)
    );
}

#[test]
fn child_first_write_unmaps_that_page_in_every_mapping_of_the_child() {
    let (mut s, t, root, r) = setup_vmar();
    let p = filled_vmo(&mut s, t, 3);
    let c = cow_child(&mut s, t, p, 0, 3 * PAGE);
    map_at(&mut s, t, r, VA, c, 0, 3 * PAGE, RW);
    map_at(&mut s, t, r, VB, c, PAGE, 2 * PAGE, ZX_VM_PERM_READ);
    touch(&mut s, root, VA, 3 * PAGE);
    touch(&mut s, root, VB, 2 * PAGE);
    s.platform().take_unmaps();
    put(&mut s, t, c, PAGE + 3, 9);
    assert_eq!(
        s.platform().take_unmaps(),
        vec![(VA + PAGE, PAGE), (VB, PAGE)]
    );
    // The child's own page did not change: its mappings are untouched.
    put(&mut s, t, c, PAGE + 4, 9);
    assert!(s.platform().take_unmaps().is_empty());
}

#[test]
fn parent_first_write_unmaps_child_pages_that_showed_through() {
    let (mut s, t, root, r) = setup_vmar();
    let p = s.task(t).vmo_create(2 * PAGE, 0).unwrap();
    let c = cow_child(&mut s, t, p, 0, 2 * PAGE);
    let g = cow_child(&mut s, t, c, PAGE, PAGE);
    map_at(&mut s, t, r, VA, c, 0, 2 * PAGE, RW);
    map_at(&mut s, t, r, VB, g, 0, PAGE, RW);
    put(&mut s, t, c, 0, 1);
    touch(&mut s, root, VA, 2 * PAGE);
    touch(&mut s, root, VB, PAGE);
    s.platform().take_unmaps();
    put(&mut s, t, p, 0, 5);
    put(&mut s, t, p, PAGE, 6);
    // Child page 0 is its own: untouched. Page 1 showed through to c and g.
    assert_eq!(
        s.platform().take_unmaps(),
        vec![(VA + PAGE, PAGE), (VB, PAGE)]
    );
}

#[test]
fn parent_write_to_its_own_page_needs_no_unmap() {
    let (mut s, t, _, r) = setup_vmar();
    let p = filled_vmo(&mut s, t, 1);
    let c = cow_child(&mut s, t, p, 0, PAGE);
    map_at(&mut s, t, r, VA, c, 0, PAGE, RW);
    s.platform().take_unmaps();
    put(&mut s, t, p, 0, 5);
    assert!(s.platform().take_unmaps().is_empty());
    assert_eq!(byte(&mut s, t, c, 0), 5);
}

#[test]
fn commit_unmaps_the_pages_it_gives_the_vmo() {
    let (mut s, t, root, r) = setup_vmar();
    let p = filled_vmo(&mut s, t, 2);
    let c = cow_child(&mut s, t, p, 0, 2 * PAGE);
    map_at(&mut s, t, r, VA, c, 0, 2 * PAGE, RW);
    put(&mut s, t, c, 0, 1);
    touch(&mut s, root, VA, 2 * PAGE);
    s.platform().take_unmaps();
    op(&mut s, t, c, ZX_VMO_OP_COMMIT, 0, 2 * PAGE).unwrap();
    assert_eq!(s.platform().take_unmaps(), vec![(VA + PAGE, PAGE)]);
}

#[test]
fn decommit_unmaps_the_vmo_and_descendants_showing_the_page() {
    let (mut s, t, root, r) = setup_vmar();
    let p = filled_vmo(&mut s, t, 2);
    let c = cow_child(&mut s, t, p, 0, 2 * PAGE);
    map_at(&mut s, t, r, VA, p, 0, 2 * PAGE, RW);
    map_at(&mut s, t, r, VB, c, 0, 2 * PAGE, RW);
    put(&mut s, t, c, PAGE, 1);
    touch(&mut s, root, VA, 2 * PAGE);
    touch(&mut s, root, VB, 2 * PAGE);
    s.platform().take_unmaps();
    op(&mut s, t, p, ZX_VMO_OP_DECOMMIT, 0, 2 * PAGE).unwrap();
    assert_eq!(s.platform().take_unmaps(), vec![(VA, 2 * PAGE), (VB, PAGE)]);
}

#[test]
fn shrink_unmaps_past_the_end_and_the_childrens_closed_window() {
    let (mut s, t, root, r) = setup_vmar();
    let p = filled_vmo(&mut s, t, 4);
    let c = cow_child(&mut s, t, p, PAGE, 3 * PAGE);
    map_at(&mut s, t, r, VA, p, 0, 4 * PAGE, RW);
    map_at(&mut s, t, r, VB, c, 0, 3 * PAGE, RW);
    put(&mut s, t, c, 2 * PAGE, 1);
    touch(&mut s, root, VA, 4 * PAGE);
    touch(&mut s, root, VB, 3 * PAGE);
    s.platform().take_unmaps();
    s.task(t).vmo_set_size(p, 2 * PAGE).unwrap();
    // Parent pages 2..4 go; the child's page 1 showed parent page 2, page 2 is its own.
    assert_eq!(
        s.platform().take_unmaps(),
        vec![(VA + 2 * PAGE, 2 * PAGE), (VB + PAGE, PAGE)]
    );
}

#[test]
fn a_mapping_keeps_a_handleless_vmo_and_its_pages_alive() {
    let (mut s, t, root, r) = setup_vmar();
    let v = filled_vmo(&mut s, t, 1);
    map_at(&mut s, t, r, VA, v, 0, PAGE, RW);
    s.task(t).handle_close(v).unwrap();
    assert_eq!(s.vmo_count(), 1);
    assert_eq!(load(&mut s, root, VA), Ok(1));
    assert_eq!(
        s.platform().pte(VA).map(|(_, p)| p),
        Some(MapPerms {
            write: true,
            execute: false
        })
    );
    s.task(t).vmar_unmap(r, VA, PAGE).unwrap();
    assert_eq!(s.vmo_count(), 0);
    assert_eq!(s.platform().live_frames(), 0);
}

#[test]
fn info_counts_mappings() {
    let (mut s, t, _, r) = setup_vmar();
    let v = s.task(t).vmo_create(PAGE, 0).unwrap();
    map_at(&mut s, t, r, VA, v, 0, PAGE, RW);
    map_at(&mut s, t, r, VB, v, 0, PAGE, RW);
    assert_eq!(info(&mut s, t, v).num_mappings, 2);
}

#[test]
fn unmapping_a_mapping_never_touched_needs_no_translation_change() {
    let (mut s, t, _, r) = setup_vmar();
    let v = s.task(t).vmo_create(1 << 30, 0).unwrap();
    map_at(&mut s, t, r, VA, v, 0, 1 << 30, RW);
    s.platform().take_unmaps();
    s.task(t).vmar_unmap(r, VA, 1 << 30).unwrap();
    assert!(s.platform().take_unmaps().is_empty());
}

#[test]
fn a_write_fault_replaces_the_faulting_translation_without_unmapping_it() {
    let (mut s, t, root, r) = setup_vmar();
    let p = filled_vmo(&mut s, t, 1);
    let c = cow_child(&mut s, t, p, 0, PAGE);
    map_at(&mut s, t, r, VA, c, 0, PAGE, RW);
    touch(&mut s, root, VA, PAGE);
    s.platform().take_unmaps();
    store(&mut s, root, VA, 7).unwrap();
    assert!(s.platform().take_unmaps().is_empty());
    let (paddr, perms) = s.platform().pte(VA).unwrap();
    assert!(perms.write, "the private copy is mapped writable");
    assert!(s.platform().frame_live(paddr));
    assert_eq!(byte(&mut s, t, p, 0), 1, "the parent keeps its page");
    assert_eq!(load(&mut s, root, VA).unwrap(), 7);
}

#[test]
fn unmapping_a_map_range_mapping_removes_its_translations() {
    let (mut s, t, _, r) = setup_vmar();
    let v = filled_vmo(&mut s, t, 2);
    let base = s.vmar_range(r_id(&s, t, r)).unwrap().0;
    let addr = s
        .task(t)
        .vmar_map(r, RW | ZX_VM_MAP_RANGE, 0, v, 0, 2 * PAGE)
        .unwrap();
    assert!(addr >= base);
    assert!(s.platform().pte(addr).is_some(), "MAP_RANGE maps at once");
    s.platform().take_unmaps();
    s.task(t).vmar_unmap(r, addr, 2 * PAGE).unwrap();
    assert_eq!(s.platform().take_unmaps(), vec![(addr, 2 * PAGE)]);
    assert!(s.platform().pte(addr).is_none());
}

fn r_id(s: &Space, t: object::TableId, r: Handle) -> object::VmarId {
    s.vmar_of(t, r).unwrap().0
}

#[test]
#[allow(unsafe_code)]
fn a_shared_fault_resolves_under_its_hierarchy_lock_or_leaves_the_fault_to_the_exclusive_path() {
    let (mut s, t, root, r) = setup_vmar();
    s.platform().tables_charged.set(true);
    let p = filled_vmo(&mut s, t, 2);
    let c = cow_child(&mut s, t, p, 0, 2 * PAGE);
    map_at(&mut s, t, r, VA, c, 0, 2 * PAGE, RW);
    let other = s.task(t).vmo_create(2 * PAGE, 0).unwrap();
    // Its two pages lie in two 2 MiB regions: two table pages.
    let vc = VB + (2 << 20) - PAGE;
    map_at(&mut s, t, r, vc, other, 0, 2 * PAGE, RW);
    let held = |s: &Space| {
        (
            s.platform().live_frames(),
            s.committed_pages(t),
            s.platform().pte(VA),
            s.platform().pte(VA + PAGE),
            s.platform().pte(vc + PAGE),
        )
    };
    // SAFETY (of every shared fault here): one thread, no other use of the
    // space while it runs.
    let shared = |s: &Space, va, access| unsafe { s.vmar_fault_shared(root, va, access) };

    // A mapping's first fault changes the mapping lists: not here.
    let before = held(&s);
    assert_eq!(shared(&s, VA, Access::Read), Err(FAULT_NEEDS_EXCLUSIVE));
    assert_eq!(held(&s), before);
    assert!(s.platform().hierarchy_locks.borrow().is_empty());
    s.vmar_fault(root, VA, Access::Read).unwrap();
    s.vmar_fault(root, vc, Access::Write).unwrap();

    // Populated: a copy-on-write fault, resolved as the exclusive one would.
    shared(&s, VA + PAGE, Access::Write).unwrap();
    assert_eq!(
        s.platform().pte(VA + PAGE).map(|(_, perms)| perms),
        Some(RWP)
    );
    assert_eq!(committed_pages(&mut s, t, c), 1);
    assert_eq!(byte(&mut s, t, c, PAGE), 2);
    shared(&s, VA, Access::Write).unwrap();
    assert_eq!(committed_pages(&mut s, t, c), 2);
    // The other page too: its read-only translation of the parent's page
    // is replaced by a writable one of the child's own.
    assert_eq!(s.platform().pte(VA).map(|(_, perms)| perms), Some(RWP));

    // A map that needs a table page is charged one at a time: not here.
    let before = held(&s);
    assert_eq!(
        shared(&s, vc + PAGE, Access::Write),
        Err(FAULT_NEEDS_EXCLUSIVE)
    );
    assert_eq!(held(&s), before);
    assert_eq!(committed_pages(&mut s, t, other), 1);
    s.vmar_fault(root, vc + PAGE, Access::Write).unwrap();
    assert_eq!(committed_pages(&mut s, t, other), 2);

    // Every shared fault that looked at a VMO held its hierarchy's lock:
    // the child's is its parent's; the other VMO's is its own.
    let keys = s.platform().hierarchy_locks.borrow().clone();
    assert_eq!(keys.len(), 3);
    assert_eq!(keys[0], keys[1]);
    assert_ne!(keys[2], keys[0]);
    assert!(!s.platform().hierarchy_held.get(), "released");
    assert!(s.mapping_lists_consistent());
}
