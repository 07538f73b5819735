//! The letter of the reference pages where a call could fail half done or
//! read its arguments loosely (issue 13, items 6–9): `vmar_map`'s result
//! stored in the same step as the mapping, `vmo_create_child`'s rounded
//! size, zero-length `op_range`, and the cache ops.

mod common;
use abi::*;
use common::*;
use object::{CacheOp, CacheSpan, OutPtr, CACHE_ROUND_PAGES, PAGE_BYTES};

const B: u64 = ROOT_VMAR_BASE;

fn out(root: object::VmarId, addr: u64) -> OutPtr {
    OutPtr { root, addr }
}

/// The 8 bytes at `va`, read as the task would.
fn load_u64(s: &mut Space, root: object::VmarId, va: u64) -> u64 {
    let mut b = [0u8; 8];
    for (i, x) in b.iter_mut().enumerate() {
        *x = load(s, root, va + i as u64).unwrap();
    }
    u64::from_le_bytes(b)
}

// --- 6: a failed `vmar_map` changes nothing ---

#[test]
fn map_overwrite_with_the_out_pointer_in_the_replaced_page_and_a_read_only_map_changes_nothing() {
    let (mut s, t, root, r) = setup_vmar();
    let old = filled_vmo(&mut s, t, 2);
    let new = filled_vmo(&mut s, t, 1);
    map_at(&mut s, t, r, B + 4 * PAGE, old, 0, 2 * PAGE, RW);
    // The result would land in the page being replaced, now read-only.
    let got = s.task(t).vmar_map_out(
        &map_args(
            r,
            ZX_VM_PERM_READ | ZX_VM_SPECIFIC_OVERWRITE,
            4 * PAGE,
            new,
            PAGE,
        ),
        out(root, B + 4 * PAGE + 16),
    );
    assert_eq!(got, Err(ZX_ERR_INVALID_ARGS));
    // The old mapping is whole: both its pages, writable, showing `old`.
    assert_eq!(load(&mut s, root, B + 4 * PAGE), Ok(1));
    assert_eq!(load(&mut s, root, B + 5 * PAGE), Ok(2));
    assert_eq!(store(&mut s, root, B + 4 * PAGE, 7), Ok(()));
    assert_eq!(byte(&mut s, t, old, 0), 7);
    assert_eq!(info(&mut s, t, old).num_mappings, 1);
    assert_eq!(info(&mut s, t, new).num_mappings, 0);
}

#[test]
fn map_overwrite_with_the_out_pointer_past_the_new_vmo_end_changes_nothing() {
    let (mut s, t, root, r) = setup_vmar();
    let old = filled_vmo(&mut s, t, 2);
    let new = filled_vmo(&mut s, t, 1);
    map_at(&mut s, t, r, B + 4 * PAGE, old, 0, 2 * PAGE, RW);
    // Mapped over both pages, but the new VMO has one: the store would fault.
    let got = s.task(t).vmar_map_out(
        &map_args(r, RW | ZX_VM_SPECIFIC_OVERWRITE, 4 * PAGE, new, 2 * PAGE),
        out(root, B + 5 * PAGE + 8),
    );
    assert_eq!(got, Err(ZX_ERR_INVALID_ARGS));
    assert_eq!(load(&mut s, root, B + 5 * PAGE), Ok(2));
    assert_eq!(info(&mut s, t, new).num_mappings, 0);
    assert_eq!(committed_pages(&mut s, t, new), 1);
}

#[test]
fn map_overwrite_with_the_out_pointer_in_the_replaced_page_stores_through_the_new_mapping() {
    let (mut s, t, root, r) = setup_vmar();
    let old = filled_vmo(&mut s, t, 1);
    let new = s.task(t).vmo_create(PAGE, 0).unwrap();
    map_at(&mut s, t, r, B + 4 * PAGE, old, 0, PAGE, RW);
    let got = s.task(t).vmar_map_out(
        &map_args(r, RW | ZX_VM_SPECIFIC_OVERWRITE, 4 * PAGE, new, PAGE),
        out(root, B + 4 * PAGE + 16),
    );
    assert_eq!(got, Ok(B + 4 * PAGE));
    // As a store after the call would: into the new VMO, the old untouched.
    assert_eq!(load_u64(&mut s, root, B + 4 * PAGE + 16), B + 4 * PAGE);
    assert_eq!(
        read(&mut s, t, new, 16, 8),
        (B + 4 * PAGE).to_le_bytes().to_vec()
    );
    assert_eq!(read(&mut s, t, old, 16, 8), vec![1; 8]);
}

#[test]
fn map_stores_the_address_across_a_page_boundary_outside_the_range() {
    let (mut s, t, root, r) = setup_vmar();
    let buf = s.task(t).vmo_create(2 * PAGE, 0).unwrap();
    let v = s.task(t).vmo_create(PAGE, 0).unwrap();
    map_at(&mut s, t, r, B, buf, 0, 2 * PAGE, RW);
    let at = B + PAGE - 3;
    let got = s.task(t).vmar_map_out(
        &map_args(r, ZX_VM_PERM_READ | ZX_VM_SPECIFIC, 8 * PAGE, v, PAGE),
        out(root, at),
    );
    assert_eq!(got, Ok(B + 8 * PAGE));
    assert_eq!(load_u64(&mut s, root, at), B + 8 * PAGE);
}

#[test]
fn map_with_the_out_pointer_in_read_only_memory_maps_nothing() {
    let (mut s, t, root, r) = setup_vmar();
    let ro = filled_vmo(&mut s, t, 1);
    let v = s.task(t).vmo_create(PAGE, 0).unwrap();
    map_at(&mut s, t, r, B, ro, 0, PAGE, ZX_VM_PERM_READ);
    for options in [ZX_VM_PERM_READ, ZX_VM_PERM_READ | ZX_VM_SPECIFIC] {
        let offset = if options & ZX_VM_SPECIFIC != 0 {
            8 * PAGE
        } else {
            0
        };
        assert_eq!(
            s.task(t)
                .vmar_map_out(&map_args(r, options, offset, v, PAGE), out(root, B + 8)),
            Err(ZX_ERR_INVALID_ARGS)
        );
    }
    // Nor unmapped memory.
    assert_eq!(
        s.task(t).vmar_map_out(
            &map_args(r, ZX_VM_PERM_READ, 0, v, PAGE),
            out(root, B + 64 * PAGE)
        ),
        Err(ZX_ERR_INVALID_ARGS)
    );
    assert_eq!(info(&mut s, t, v).num_mappings, 0);
    assert_eq!(load(&mut s, root, B + 8), Ok(1));
}

#[test]
fn map_out_of_memory_for_the_out_page_maps_nothing() {
    let (mut s, t, root, r) = setup_vmar();
    let old = s.task(t).vmo_create(2 * PAGE, 0).unwrap();
    let new = s.task(t).vmo_create(PAGE, 0).unwrap();
    map_at(&mut s, t, r, B, old, 0, 2 * PAGE, RW);
    store(&mut s, root, B, 5).unwrap();
    // The out page (the old mapping's second page) needs a frame: none.
    s.platform().fail_after(Some(0));
    assert_eq!(
        s.task(t).vmar_map_out(
            &map_args(r, RW | ZX_VM_SPECIFIC_OVERWRITE, 0, new, PAGE),
            out(root, B + PAGE + 8)
        ),
        Err(ZX_ERR_NO_MEMORY)
    );
    assert_eq!(load(&mut s, root, B), Ok(5));
    assert_eq!(info(&mut s, t, new).num_mappings, 0);
}

// --- 7: offset + size, the size rounded up, fits in 64 bits ---

#[test]
fn create_child_whose_rounded_size_overflows_the_offset_is_out_of_range() {
    let (mut s, t, p) = setup_vmo();
    let opts = ZX_VMO_CHILD_COPY_ON_WRITE;
    // 2^64 - 4096 + 1 fits; rounded up to a page it does not.
    assert_eq!(
        s.task(t).vmo_create_child(p, opts, u64::MAX - PAGE + 1, 1),
        Err(ZX_ERR_OUT_OF_RANGE)
    );
    assert_eq!(
        s.task(t)
            .vmo_create_child(p, opts, u64::MAX - 2 * PAGE + 1, PAGE + 1),
        Err(ZX_ERR_OUT_OF_RANGE)
    );
    // Rounded up to exactly 2^64 - 4096 + 4096 - 4096: fits.
    assert!(s
        .task(t)
        .vmo_create_child(p, opts, u64::MAX - 2 * PAGE + 1, 1)
        .is_ok());
    assert_eq!(s.vmo_count(), 2);
}

#[test]
fn sizes_that_round_up_past_64_bits_are_out_of_range() {
    let (mut s, t) = setup();
    assert_eq!(s.task(t).vmo_create(u64::MAX, 0), Err(ZX_ERR_OUT_OF_RANGE));
    let h = s.task(t).vmo_create(PAGE, 0).unwrap();
    assert_eq!(
        s.task(t).vmo_set_size(h, u64::MAX),
        Err(ZX_ERR_OUT_OF_RANGE)
    );
    assert_eq!(s.task(t).vmo_get_size(h), Ok(PAGE));
    for op_ in [ZX_VMO_OP_COMMIT, ZX_VMO_OP_DECOMMIT, ZX_VMO_OP_CACHE_CLEAN] {
        assert_eq!(
            op(&mut s, t, h, op_, PAGE, u64::MAX),
            Err(ZX_ERR_OUT_OF_RANGE)
        );
    }
    assert_eq!(
        s.task(t).vmo_read(h, &mut [0; 2], u64::MAX),
        Err(ZX_ERR_OUT_OF_RANGE)
    );
}

// --- 8: a zero-length COMMIT or DECOMMIT does nothing ---

#[test]
fn zero_length_decommit_at_an_unaligned_offset_keeps_the_childs_page() {
    let (mut s, t, _, c) = setup_child(2, 2 * PAGE);
    put(&mut s, t, c, 0, 0xc0);
    assert_eq!(op(&mut s, t, c, ZX_VMO_OP_DECOMMIT, 0x10, 0), Ok(()));
    assert_eq!(byte(&mut s, t, c, 0), 0xc0);
    assert_eq!(committed_pages(&mut s, t, c), 1);
}

#[test]
fn zero_length_commit_at_an_unaligned_offset_commits_nothing() {
    let (mut s, t) = setup();
    let h = s.task(t).vmo_create(2 * PAGE, 0).unwrap();
    assert_eq!(op(&mut s, t, h, ZX_VMO_OP_COMMIT, 0x10, 0), Ok(()));
    assert_eq!(op(&mut s, t, h, ZX_VMO_OP_COMMIT, PAGE + 1, 0), Ok(()));
    assert_eq!(committed_pages(&mut s, t, h), 0);
}

#[test]
fn zero_length_commit_and_decommit_are_ok_up_to_the_end_only() {
    // The era's kernel (`TrimRange`): an offset past the size is out of
    // range whatever the length; an empty range up to the end does nothing.
    let (mut s, t, h) = setup_filled(1);
    for op_ in [ZX_VMO_OP_COMMIT, ZX_VMO_OP_DECOMMIT] {
        for offset in [0, 1, PAGE] {
            assert_eq!(op(&mut s, t, h, op_, offset, 0), Ok(()), "{op_} {offset}");
        }
        for offset in [PAGE + 1, 1 << 40, u64::MAX] {
            assert_eq!(
                op(&mut s, t, h, op_, offset, 0),
                Err(ZX_ERR_OUT_OF_RANGE),
                "{op_} {offset}"
            );
        }
    }
    assert_eq!(committed_pages(&mut s, t, h), 1);
}

#[test]
fn zero_length_op_range_still_checks_the_handle_and_right() {
    let (mut s, t, h) = setup_vmo();
    let ro = dup(&mut s, t, h, ZX_RIGHT_READ);
    assert_eq!(
        op(&mut s, t, ro, ZX_VMO_OP_DECOMMIT, 0, 0),
        Err(ZX_ERR_ACCESS_DENIED)
    );
    assert_eq!(
        op(&mut s, t, 12345, ZX_VMO_OP_COMMIT, 0, 0),
        Err(ZX_ERR_BAD_HANDLE)
    );
}

// --- 9: the cache ops ---

const CACHE_OPS: [(u32, CacheOp); 4] = [
    (ZX_VMO_OP_CACHE_SYNC, CacheOp::Sync),
    (ZX_VMO_OP_CACHE_INVALIDATE, CacheOp::Invalidate),
    (ZX_VMO_OP_CACHE_CLEAN, CacheOp::Clean),
    (ZX_VMO_OP_CACHE_CLEAN_INVALIDATE, CacheOp::CleanInvalidate),
];

#[test]
fn cache_ops_cover_exactly_the_committed_bytes_of_the_range() {
    let (mut s, t) = setup();
    let h = s.task(t).vmo_create(4 * PAGE, 0).unwrap();
    put(&mut s, t, h, 0, 1);
    put(&mut s, t, h, 2 * PAGE, 1);
    put(&mut s, t, h, 3 * PAGE, 1);
    let (p0, p2, p3) = (
        lookup(&mut s, t, h, 0),
        lookup(&mut s, t, h, 2),
        lookup(&mut s, t, h, 3),
    );
    for (code, cache) in CACHE_OPS {
        s.platform().cache_ops.take();
        // From the middle of page 0 to the middle of page 3; page 1 is not committed.
        assert_eq!(op(&mut s, t, h, code, 100, 3 * PAGE), Ok(()));
        assert_eq!(
            s.platform().cache_ops.take(),
            vec![
                (cache, p0 + 100, PAGE_BYTES - 100),
                (cache, p2, PAGE_BYTES),
                (cache, p3, 100),
            ]
        );
    }
    // Nothing was committed or changed on the way.
    assert_eq!(committed_pages(&mut s, t, h), 3);
    assert_eq!(byte(&mut s, t, h, 2 * PAGE), 1);
}

#[test]
fn cache_ops_leave_the_pages_a_child_only_shows_alone() {
    let (mut s, t, _, c) = setup_child(2, 2 * PAGE);
    put(&mut s, t, c, PAGE, 9);
    let own = lookup(&mut s, t, c, 1);
    for (code, cache) in CACHE_OPS {
        assert_eq!(op(&mut s, t, c, code, 0, 2 * PAGE), Ok(()));
        assert_eq!(
            s.platform().cache_ops.take(),
            vec![(cache, own, PAGE_BYTES)]
        );
    }
    assert_eq!(committed_pages(&mut s, t, c), 1);
}

#[test]
fn cache_op_of_size_zero_is_invalid_args() {
    let (mut s, t, h) = setup_filled(1);
    for (code, _) in CACHE_OPS {
        assert_eq!(op(&mut s, t, h, code, 0, 0), Err(ZX_ERR_INVALID_ARGS));
    }
    assert!(s.platform().cache_ops.take().is_empty());
}

#[test]
fn cache_op_past_the_end_is_out_of_range_and_does_nothing() {
    let (mut s, t, h) = setup_filled(2);
    for (code, _) in CACHE_OPS {
        assert_eq!(
            op(&mut s, t, h, code, PAGE, 2 * PAGE),
            Err(ZX_ERR_OUT_OF_RANGE)
        );
        assert_eq!(
            op(&mut s, t, h, code, u64::MAX - 1, 4),
            Err(ZX_ERR_OUT_OF_RANGE)
        );
    }
    assert!(s.platform().cache_ops.take().is_empty());
}

#[test]
fn cache_ops_need_the_rights_the_page_names() {
    let (mut s, t, h) = setup_filled(1);
    let read_only = dup(&mut s, t, h, ZX_RIGHT_READ);
    let write_only = dup(&mut s, t, h, ZX_RIGHT_WRITE);
    for (code, _) in CACHE_OPS {
        let (ok, denied) = if code == ZX_VMO_OP_CACHE_INVALIDATE {
            (write_only, read_only)
        } else {
            (read_only, write_only)
        };
        assert_eq!(op(&mut s, t, ok, code, 0, PAGE), Ok(()), "{code}");
        assert_eq!(
            op(&mut s, t, denied, code, 0, PAGE),
            Err(ZX_ERR_ACCESS_DENIED),
            "{code}"
        );
    }
    let ev = s.task(t).event_create(0).unwrap();
    assert_eq!(
        op(&mut s, t, ev, ZX_VMO_OP_CACHE_CLEAN, 0, PAGE),
        Err(ZX_ERR_WRONG_TYPE)
    );
}

#[test]
fn cache_op_rounds_are_bounded_and_resume_where_they_stopped() {
    let (mut s, t) = setup();
    let pages = 2 * CACHE_ROUND_PAGES as u64 + 3;
    let h = s.task(t).vmo_create(pages * PAGE, 0).unwrap();
    op(&mut s, t, h, ZX_VMO_OP_COMMIT, 0, pages * PAGE).unwrap();
    let mut spans = [CacheSpan {
        frame: object::Frame::new(0),
        offset: 0,
        len: 0,
    }; CACHE_ROUND_PAGES];
    let (size, mut from, mut rounds, mut seen) = (pages * PAGE, 0, 0, 0);
    loop {
        let (n, next) = s
            .task(t)
            .vmo_cache_round(h, ZX_VMO_OP_CACHE_CLEAN, 0, size, from, &mut spans)
            .unwrap();
        assert!(n <= CACHE_ROUND_PAGES);
        seen += n;
        rounds += 1;
        match next {
            Some(f) => from = f,
            None => break,
        }
        // The VMO shrinks between rounds: later rounds stop at its new end.
        if rounds == 1 {
            s.task(t)
                .vmo_set_size(h, (CACHE_ROUND_PAGES as u64 + 2) * PAGE)
                .unwrap();
        }
    }
    assert_eq!((rounds, seen), (2, CACHE_ROUND_PAGES + 2));
}
