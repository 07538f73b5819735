//! Mapping bookkeeping: faults resolve to the right frame, and every change
//! to what a mapped page shows unmaps exactly the virtual pages that showed it.

mod common;
use abi::*;
use common::*;
use object::FaultResolution;

const VA: u64 = 1 << 40;
const VB: u64 = 2 << 40;
const RW: u32 = ZX_VM_PERM_READ | ZX_VM_PERM_WRITE;

fn lookup(s: &mut Space, t: object::TableId, h: Handle, page: u64) -> u64 {
    let mut out = [0u64; 1];
    s.task(t)
        .vmo_op_range(h, ZX_VMO_OP_LOOKUP, page * PAGE, PAGE, &mut out)
        .unwrap();
    out[0]
}

#[test]
fn mapping_needs_the_map_right() {
    let (mut s, t) = setup();
    let v = s.task(t).vmo_create(PAGE, 0).unwrap();
    let d = s
        .task(t)
        .handle_duplicate(v, ZX_RIGHT_READ | ZX_RIGHT_WRITE)
        .unwrap();
    assert_eq!(
        s.map_vmo(t, d, 0, PAGE, VA, ZX_VM_PERM_READ),
        Err(ZX_ERR_ACCESS_DENIED)
    );
}

#[test]
fn writable_mapping_needs_the_write_right() {
    let (mut s, t) = setup();
    let v = s.task(t).vmo_create(PAGE, 0).unwrap();
    let d = s
        .task(t)
        .handle_duplicate(v, ZX_RIGHT_READ | ZX_RIGHT_MAP)
        .unwrap();
    assert_eq!(s.map_vmo(t, d, 0, PAGE, VA, RW), Err(ZX_ERR_ACCESS_DENIED));
}

#[test]
fn read_fault_on_an_untouched_page_maps_the_zero_page_and_commits_nothing() {
    let (mut s, t) = setup();
    let v = s.task(t).vmo_create(PAGE, 0).unwrap();
    let m = s.map_vmo(t, v, 0, PAGE, VA, RW).unwrap();
    assert_eq!(s.fault(m, VA, false), Ok(FaultResolution::Zero));
    assert_eq!(committed_pages(&mut s, t, v), 0);
}

#[test]
fn read_fault_in_a_child_maps_the_parent_page_read_only() {
    let (mut s, t) = setup();
    let p = filled_vmo(&mut s, t, 2);
    let c = cow_child(&mut s, t, p, 0, 2 * PAGE);
    let m = s.map_vmo(t, c, 0, 2 * PAGE, VA, RW).unwrap();
    let paddr = lookup(&mut s, t, p, 1);
    assert_eq!(
        s.fault(m, VA + PAGE + 5, false),
        Ok(FaultResolution::Frame {
            paddr,
            writable: false
        })
    );
}

#[test]
fn write_fault_in_a_child_copies_and_maps_its_own_page_writable() {
    let (mut s, t) = setup();
    let p = filled_vmo(&mut s, t, 1);
    let c = cow_child(&mut s, t, p, 0, PAGE);
    let m = s.map_vmo(t, c, 0, PAGE, VA, RW).unwrap();
    let FaultResolution::Frame { paddr, writable } = s.fault(m, VA, true).unwrap() else {
        panic!("expected a frame");
    };
    assert!(writable);
    assert_ne!(paddr, lookup(&mut s, t, p, 0));
    assert_eq!(committed_pages(&mut s, t, c), 1);
    assert_eq!(byte(&mut s, t, c, 0), 1);
}

#[test]
fn write_fault_on_a_read_only_mapping_is_access_denied() {
    let (mut s, t) = setup();
    let v = s.task(t).vmo_create(PAGE, 0).unwrap();
    let m = s.map_vmo(t, v, 0, PAGE, VA, ZX_VM_PERM_READ).unwrap();
    assert_eq!(s.fault(m, VA, true), Err(ZX_ERR_ACCESS_DENIED));
}

#[test]
fn fault_past_the_vmo_end_is_out_of_range() {
    let (mut s, t) = setup();
    let v = s.task(t).vmo_create(2 * PAGE, 0).unwrap();
    let m = s.map_vmo(t, v, 0, 2 * PAGE, VA, RW).unwrap();
    s.task(t).vmo_set_size(v, PAGE).unwrap();
    assert_eq!(s.fault(m, VA + PAGE, false), Err(ZX_ERR_OUT_OF_RANGE));
}

#[test]
fn child_first_write_unmaps_that_page_in_every_mapping_of_the_child() {
    let (mut s, t) = setup();
    let p = filled_vmo(&mut s, t, 3);
    let c = cow_child(&mut s, t, p, 0, 3 * PAGE);
    s.map_vmo(t, c, 0, 3 * PAGE, VA, RW).unwrap();
    s.map_vmo(t, c, PAGE, 2 * PAGE, VB, ZX_VM_PERM_READ)
        .unwrap();
    s.platform().take_unmaps();
    put(&mut s, t, c, PAGE + 3, 9);
    assert_eq!(
        s.platform().take_unmaps(),
        vec![(VA + PAGE, PAGE), (VB, PAGE)]
    );
    // The parent's own page did not change: its mappings are untouched.
    put(&mut s, t, c, PAGE + 4, 9);
    assert!(s.platform().take_unmaps().is_empty());
}

#[test]
fn parent_first_write_unmaps_child_pages_that_showed_through() {
    let (mut s, t) = setup();
    let p = s.task(t).vmo_create(2 * PAGE, 0).unwrap();
    let c = cow_child(&mut s, t, p, 0, 2 * PAGE);
    let g = cow_child(&mut s, t, c, PAGE, PAGE);
    s.map_vmo(t, c, 0, 2 * PAGE, VA, RW).unwrap();
    s.map_vmo(t, g, 0, PAGE, VB, RW).unwrap();
    put(&mut s, t, c, 0, 1);
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
    let (mut s, t) = setup();
    let p = filled_vmo(&mut s, t, 1);
    let c = cow_child(&mut s, t, p, 0, PAGE);
    s.map_vmo(t, c, 0, PAGE, VA, RW).unwrap();
    s.platform().take_unmaps();
    put(&mut s, t, p, 0, 5);
    assert!(s.platform().take_unmaps().is_empty());
    assert_eq!(byte(&mut s, t, c, 0), 5);
}

#[test]
fn commit_unmaps_the_pages_it_gives_the_vmo() {
    let (mut s, t) = setup();
    let p = filled_vmo(&mut s, t, 2);
    let c = cow_child(&mut s, t, p, 0, 2 * PAGE);
    s.map_vmo(t, c, 0, 2 * PAGE, VA, RW).unwrap();
    put(&mut s, t, c, 0, 1);
    s.platform().take_unmaps();
    op(&mut s, t, c, ZX_VMO_OP_COMMIT, 0, 2 * PAGE).unwrap();
    assert_eq!(s.platform().take_unmaps(), vec![(VA + PAGE, PAGE)]);
}

#[test]
fn decommit_unmaps_the_vmo_and_descendants_showing_the_page() {
    let (mut s, t) = setup();
    let p = filled_vmo(&mut s, t, 2);
    let c = cow_child(&mut s, t, p, 0, 2 * PAGE);
    s.map_vmo(t, p, 0, 2 * PAGE, VA, RW).unwrap();
    s.map_vmo(t, c, 0, 2 * PAGE, VB, RW).unwrap();
    put(&mut s, t, c, PAGE, 1);
    s.platform().take_unmaps();
    op(&mut s, t, p, ZX_VMO_OP_DECOMMIT, 0, 2 * PAGE).unwrap();
    assert_eq!(s.platform().take_unmaps(), vec![(VA, 2 * PAGE), (VB, PAGE)]);
}

#[test]
fn shrink_unmaps_past_the_end_and_the_childrens_closed_window() {
    let (mut s, t) = setup();
    let p = filled_vmo(&mut s, t, 4);
    let c = cow_child(&mut s, t, p, PAGE, 3 * PAGE);
    s.map_vmo(t, p, 0, 4 * PAGE, VA, RW).unwrap();
    s.map_vmo(t, c, 0, 3 * PAGE, VB, RW).unwrap();
    put(&mut s, t, c, 2 * PAGE, 1);
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
    let (mut s, t) = setup();
    let v = filled_vmo(&mut s, t, 1);
    let m = s.map_vmo(t, v, 0, PAGE, VA, RW).unwrap();
    s.task(t).handle_close(v).unwrap();
    assert_eq!(s.vmo_count(), 1);
    assert!(matches!(
        s.fault(m, VA, false),
        Ok(FaultResolution::Frame { writable: true, .. })
    ));
    s.unmap_vmo(m).unwrap();
    assert_eq!(s.vmo_count(), 0);
    assert_eq!(s.platform().live_frames(), 0);
}

#[test]
fn info_counts_mappings() {
    let (mut s, t) = setup();
    let v = s.task(t).vmo_create(PAGE, 0).unwrap();
    s.map_vmo(t, v, 0, PAGE, VA, RW).unwrap();
    s.map_vmo(t, v, 0, PAGE, VB, RW).unwrap();
    assert_eq!(info(&mut s, t, v).num_mappings, 2);
}
