//! Long calls the kernel makes in bounded pieces, the object lock dropped
//! between them: a `vmo_set_size` shrink, a DECOMMIT and `ZX_VM_MAP_RANGE`'s
//! translations. Each piece's work follows what is there (own pages,
//! translations), not the length of the range, and the pieces together do
//! what the one call does.

mod common;
use abi::*;
use common::*;
use object::{OutPtr, Populate, TableId, VmarId};

/// A 64 TiB VMO with own pages at the given page indices.
fn sparse_vmo(s: &mut Space, t: TableId, at: &[u64]) -> Handle {
    let h = s.task(t).vmo_create(ZX_MAX_VMO_SIZE, 0).unwrap();
    for &p in at {
        put(s, t, h, p * PAGE, 1);
    }
    h
}

const FAR: u64 = (ZX_MAX_VMO_SIZE / PAGE) - 1;

#[test]
fn a_shrink_in_pieces_frees_at_most_n_own_pages_a_piece_and_skips_empty_stretches() {
    let (mut s, t) = setup();
    let h = sparse_vmo(&mut s, t, &[0, 1, 2, 1 << 20, FAR]);
    let mut committed = vec![committed_pages(&mut s, t, h)];
    while !s.task(t).vmo_set_size_piece(h, PAGE, 2).unwrap() {
        committed.push(committed_pages(&mut s, t, h));
    }
    committed.push(committed_pages(&mut s, t, h));
    // 64 TiB down to one page in two pieces of two own pages each: the top
    // two, 64 TiB apart, then pages 2 and 1.
    assert_eq!(committed, vec![5, 3, 1]);
    assert_eq!(s.task(t).vmo_get_size(h), Ok(PAGE));
}

#[test]
fn a_shrink_piece_checks_as_set_size_does() {
    let (mut s, t) = setup();
    let fixed = s.task(t).vmo_create(PAGE, ZX_VMO_NON_RESIZABLE).unwrap();
    assert_eq!(
        s.task(t).vmo_set_size_piece(fixed, 0, 1),
        Err(ZX_ERR_UNAVAILABLE)
    );
    let h = sparse_vmo(&mut s, t, &[0]);
    assert_eq!(
        s.task(t).vmo_set_size_piece(h, u64::MAX, 1),
        Err(ZX_ERR_OUT_OF_RANGE)
    );
    let ro = dup(&mut s, t, h, ZX_RIGHT_READ | ZX_RIGHT_TRANSFER);
    assert_eq!(
        s.task(t).vmo_set_size_piece(ro, 0, 1),
        Err(ZX_ERR_ACCESS_DENIED)
    );
    // A grow is one piece.
    s.task(t).vmo_set_size_piece(h, PAGE, 1).unwrap();
    assert_eq!(s.task(t).vmo_set_size_piece(h, 8 * PAGE, 1), Ok(true));
}

#[test]
fn a_shrink_in_pieces_unmaps_what_it_frees_before_each_piece_ends() {
    let (mut s, t, root, r) = setup_vmar();
    let h2 = s.task(t).vmo_create(4 * PAGE, 0).unwrap();
    for i in 0..4 {
        put(&mut s, t, h2, i * PAGE, 7);
    }
    let a = s.task(t).vmar_map(r, RW, 0, h2, 0, 4 * PAGE).unwrap();
    for i in 0..4 {
        assert_eq!(load(&mut s, root, a + i * PAGE), Ok(7));
    }
    assert!(!s.task(t).vmo_set_size_piece(h2, 0, 1).unwrap());
    // The top page went with its translation; the rest still shows.
    assert_eq!(s.platform().pte(a + 3 * PAGE), None);
    assert_eq!(load(&mut s, root, a + 3 * PAGE), Err(ZX_ERR_OUT_OF_RANGE));
    assert_eq!(load(&mut s, root, a + 2 * PAGE), Ok(7));
    while !s.task(t).vmo_set_size_piece(h2, 0, 1).unwrap() {}
    for i in 0..4 {
        assert_eq!(s.platform().pte(a + i * PAGE), None);
    }
}

#[test]
fn a_decommit_piece_ends_after_n_own_pages_however_far_apart() {
    let (mut s, t) = setup();
    let h = sparse_vmo(&mut s, t, &[3, 1 << 20, FAR]);
    let end = ZX_MAX_VMO_SIZE;
    let ends = |s: &mut Space, from: u64| s.task(t).vmo_decommit_piece_end(h, from, end, 2);
    assert_eq!(ends(&mut s, 0), Ok(FAR * PAGE));
    assert_eq!(ends(&mut s, 4 * PAGE), Ok(end));
    // An unaligned start, and the end of the range, count as the pages hold.
    assert_eq!(ends(&mut s, 3 * PAGE + 5), Ok(FAR * PAGE));
    assert_eq!(
        s.task(t).vmo_decommit_piece_end(h, 0, 100 * PAGE, 1),
        Ok(100 * PAGE)
    );
    let ro = dup(&mut s, t, h, ZX_RIGHT_READ | ZX_RIGHT_TRANSFER);
    assert_eq!(
        s.task(t).vmo_decommit_piece_end(ro, 0, end, 2),
        Err(ZX_ERR_ACCESS_DENIED)
    );
}

#[test]
fn a_commit_asks_first_how_many_pages_it_lacks_and_whether_they_fit_the_quota() {
    let (mut s, _) = setup();
    let t = s
        .create_table(object::Quota {
            max_committed_pages: 8,
            ..object::Quota::default()
        })
        .unwrap();
    let h = sparse_vmo(&mut s, t, &[1, 3]);
    let need = |s: &mut Space, h: Handle, offset: u64, size: u64| {
        s.task(t).vmo_commit_need(h, offset, size)
    };
    // Pages 0..4 lack 0 and 2; an unaligned range counts the pages it touches.
    assert_eq!(need(&mut s, h, 0, 4 * PAGE), Ok(2));
    assert_eq!(need(&mut s, h, PAGE - 1, 2), Ok(1));
    assert_eq!(need(&mut s, h, PAGE, PAGE), Ok(0));
    assert_eq!(need(&mut s, h, 5 * PAGE, 0), Ok(0));
    // Two held, six left: eight more do not fit, six do.
    assert_eq!(need(&mut s, h, 4 * PAGE, 8 * PAGE), Err(ZX_ERR_NO_MEMORY));
    assert_eq!(need(&mut s, h, 4 * PAGE, 6 * PAGE), Ok(6));
    assert_eq!(need(&mut s, h, 0, ZX_MAX_VMO_SIZE), Err(ZX_ERR_NO_MEMORY));
    // Asking commits nothing.
    assert_eq!(committed_pages(&mut s, t, h), 2);
    // The call's own checks come first.
    assert_eq!(
        need(&mut s, h, ZX_MAX_VMO_SIZE, PAGE),
        Err(ZX_ERR_OUT_OF_RANGE)
    );
    let ro = dup(&mut s, t, h, ZX_RIGHT_READ | ZX_RIGHT_TRANSFER);
    assert_eq!(need(&mut s, ro, 0, PAGE), Err(ZX_ERR_ACCESS_DENIED));
    let e = s.task(t).event_create(0).unwrap();
    assert_eq!(need(&mut s, e, 0, PAGE), Err(ZX_ERR_WRONG_TYPE));
    assert_eq!(need(&mut s, 0, 0, PAGE), Err(ZX_ERR_BAD_HANDLE));
}

/// A one-page VMO mapped read-write, for the map's out-pointer.
fn out_page(s: &mut Space, t: TableId, root: VmarId, r: Handle) -> OutPtr {
    let v = s.task(t).vmo_create(PAGE, 0).unwrap();
    let addr = s.task(t).vmar_map(r, RW, 0, v, 0, PAGE).unwrap();
    OutPtr { root, addr }
}

/// Maps `len` of `h` with MAP_RANGE left to pieces.
fn map_unpopulated(
    s: &mut Space,
    t: TableId,
    root: VmarId,
    r: Handle,
    h: Handle,
    len: u64,
) -> (u64, Populate) {
    let out = out_page(s, t, root, r);
    let (a, p) = s
        .task(t)
        .vmar_map_out_unpopulated(&map_args(r, RW | ZX_VM_MAP_RANGE, 0, h, len), out)
        .unwrap();
    (a, p.expect("MAP_RANGE left to the caller"))
}

#[test]
fn map_range_in_pieces_maps_what_map_range_maps_at_once() {
    let (mut s, t, root, r) = setup_vmar();
    // Grandparent pages 0-5, parent's own 1 and 4, child's own 2.
    let g = filled_vmo(&mut s, t, 6);
    op(&mut s, t, g, ZX_VMO_OP_DECOMMIT, 3 * PAGE, PAGE).unwrap();
    let p = cow_child(&mut s, t, g, 0, 6 * PAGE);
    put(&mut s, t, p, PAGE, 20);
    put(&mut s, t, p, 4 * PAGE, 21);
    let c = cow_child(&mut s, t, p, 0, 8 * PAGE);
    put(&mut s, t, c, 2 * PAGE, 30);
    let at_once = s
        .task(t)
        .vmar_map(r, RW | ZX_VM_MAP_RANGE, 0, c, 0, 8 * PAGE)
        .unwrap();
    let (a, mut pop) = map_unpopulated(&mut s, t, root, r, c, 8 * PAGE);
    for i in 0..8 {
        assert_eq!(s.platform().pte(a + i * PAGE), None, "page {i} before");
    }
    let mut pieces = 1;
    while !s.populate_step(root, &mut pop, 1).unwrap() {
        pieces += 1;
    }
    let shown = |s: &Space, base: u64| -> Vec<_> {
        (0..8).map(|i| s.platform().pte(base + i * PAGE)).collect()
    };
    assert_eq!(shown(&s, a), shown(&s, at_once));
    assert_eq!(shown(&s, a)[3], None, "a page nothing shows stays unmapped");
    // One own page looked at per piece: the child's one, the parent's two,
    // the grandparent's five; the last piece ends at the top of the chain.
    assert_eq!(pieces, 8);
}

#[test]
fn map_range_pieces_stop_when_the_mapping_goes() {
    let (mut s, t, root, r) = setup_vmar();
    let h = filled_vmo(&mut s, t, 4);
    let (a, mut pop) = map_unpopulated(&mut s, t, root, r, h, 4 * PAGE);
    assert!(!s.populate_step(root, &mut pop, 1).unwrap());
    assert!(s.platform().pte(a).is_some());
    s.task(t).vmar_unmap(r, a, 4 * PAGE).unwrap();
    // Another VMO mapped at the same place is not the one being populated.
    let other = filled_vmo(&mut s, t, 4);
    let b = s
        .task(t)
        .vmar_map(
            r,
            RW | ZX_VM_SPECIFIC,
            a - ROOT_VMAR_BASE,
            other,
            0,
            4 * PAGE,
        )
        .unwrap();
    assert_eq!(b, a);
    assert!(s.populate_step(root, &mut pop, 1).unwrap());
    for i in 0..4 {
        assert_eq!(s.platform().pte(a + i * PAGE), None);
    }
    assert!(s.populate_undo(root, &pop).is_none());
}

#[test]
fn a_failed_map_range_piece_can_take_its_mapping_away() {
    let (mut s, t, root, r) = setup_vmar();
    let h = filled_vmo(&mut s, t, 4);
    let (a, mut pop) = map_unpopulated(&mut s, t, root, r, h, 4 * PAGE);
    s.platform().map_fail_after(Some(1));
    assert_eq!(s.populate_step(root, &mut pop, 8), Err(ZX_ERR_NO_MEMORY));
    let mut u = s.populate_undo(root, &pop).expect("the mapping is there");
    let mut all = usize::MAX;
    while !s.vmar_unmap_step(&mut u, &mut all) {}
    assert_eq!(s.platform().pte(a), None);
    assert_eq!(load(&mut s, root, a), Err(ZX_ERR_NOT_FOUND));
}
