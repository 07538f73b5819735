//! VMARs through the syscall façade: allocate, map, unmap, protect and
//! destroy with the errors of their reference pages, splits, placement,
//! rights, and what the fake page table shows after each operation.

mod common;
use abi::*;
use common::*;
use object::{Access, MapPerms};

const B: u64 = ROOT_VMAR_BASE;
const R: u32 = ZX_VM_PERM_READ;
const ALL_CAN: u32 = ZX_VM_CAN_MAP_RWX | ZX_VM_CAN_MAP_SPECIFIC;

fn vmo(s: &mut Space, t: object::TableId, pages: u64) -> Handle {
    s.task(t).vmo_create(pages * PAGE, 0).unwrap()
}

// ---- vmar_allocate ----

#[test]
fn allocate_returns_a_page_aligned_nonzero_base_inside_the_parent() {
    let (mut s, t, _, r) = setup_vmar();
    let (h, base) = s
        .task(t)
        .vmar_allocate(r, ZX_VM_CAN_MAP_READ, 0, 4 * PAGE)
        .unwrap();
    assert!(base >= B && base % PAGE == 0);
    let info = s.task(t).object_get_info_vmar(h).unwrap();
    assert_eq!((info.base, info.len), (base, 4 * PAGE));
}

#[test]
fn allocate_gives_rights_per_can_map_permission() {
    let (mut s, t, _, r) = setup_vmar();
    let (h, _) = s
        .task(t)
        .vmar_allocate(r, ZX_VM_CAN_MAP_READ | ZX_VM_CAN_MAP_WRITE, 0, PAGE)
        .unwrap();
    let basic = s.task(t).object_get_info_handle_basic(h).unwrap();
    assert_eq!(
        basic.rights,
        ZX_DEFAULT_VMAR_RIGHTS | ZX_RIGHT_READ | ZX_RIGHT_WRITE
    );
    assert_eq!(basic.obj_type, ZX_OBJ_TYPE_VMAR);
}

#[test]
fn allocate_with_a_bad_handle_is_bad_handle() {
    let (mut s, t, _, _) = setup_vmar();
    assert_eq!(
        s.task(t).vmar_allocate(0x7777_7773, 0, 0, PAGE),
        Err(ZX_ERR_BAD_HANDLE)
    );
}

#[test]
fn allocate_on_a_vmo_handle_is_wrong_type() {
    let (mut s, t, _, _) = setup_vmar();
    let v = vmo(&mut s, t, 1);
    assert_eq!(
        s.task(t).vmar_allocate(v, 0, 0, PAGE),
        Err(ZX_ERR_WRONG_TYPE)
    );
}

#[test]
fn allocate_on_a_destroyed_vmar_is_bad_state() {
    let (mut s, t, _, r) = setup_vmar();
    let (h, _) = s.task(t).vmar_allocate(r, 0, 0, PAGE).unwrap();
    s.task(t).vmar_destroy(h).unwrap();
    assert_eq!(
        s.task(t).vmar_allocate(h, 0, 0, PAGE),
        Err(ZX_ERR_BAD_STATE)
    );
}

#[test]
fn allocate_with_offset_but_not_specific_is_invalid_args() {
    let (mut s, t, _, r) = setup_vmar();
    assert_eq!(
        s.task(t).vmar_allocate(r, 0, PAGE, PAGE),
        Err(ZX_ERR_INVALID_ARGS)
    );
}

#[test]
fn allocate_of_size_zero_or_unaligned_is_invalid_args() {
    let (mut s, t, _, r) = setup_vmar();
    assert_eq!(
        s.task(t).vmar_allocate(r, 0, 0, 0),
        Err(ZX_ERR_INVALID_ARGS)
    );
    assert_eq!(
        s.task(t).vmar_allocate(r, 0, 0, PAGE + 1),
        Err(ZX_ERR_INVALID_ARGS)
    );
    assert_eq!(
        s.task(t).vmar_allocate(r, ZX_VM_SPECIFIC, 1, PAGE),
        Err(ZX_ERR_INVALID_ARGS)
    );
}

#[test]
fn allocate_exceeding_the_parent_is_invalid_args() {
    let (mut s, t, _, r) = setup_vmar();
    let (h, _) = s
        .task(t)
        .vmar_allocate(r, ZX_VM_CAN_MAP_SPECIFIC, 0, 4 * PAGE)
        .unwrap();
    assert_eq!(
        s.task(t)
            .vmar_allocate(h, ZX_VM_SPECIFIC, 3 * PAGE, 2 * PAGE),
        Err(ZX_ERR_INVALID_ARGS)
    );
    assert_eq!(
        s.task(t).vmar_allocate(h, 0, 0, 5 * PAGE),
        Err(ZX_ERR_INVALID_ARGS)
    );
    assert_eq!(
        s.task(t)
            .vmar_allocate(h, ZX_VM_SPECIFIC, !(PAGE - 1), PAGE),
        Err(ZX_ERR_INVALID_ARGS)
    );
}

#[test]
fn allocate_with_perm_or_unknown_options_is_invalid_args() {
    let (mut s, t, _, r) = setup_vmar();
    for bad in [
        ZX_VM_PERM_READ,
        ZX_VM_MAP_RANGE,
        ZX_VM_SPECIFIC_OVERWRITE,
        1 << 20,
    ] {
        assert_eq!(
            s.task(t).vmar_allocate(r, bad, 0, PAGE),
            Err(ZX_ERR_INVALID_ARGS),
            "{bad:#x}"
        );
    }
}

#[test]
fn allocate_can_map_without_the_parents_right_is_access_denied() {
    let (mut s, t, _, r) = setup_vmar();
    let weak = dup(&mut s, t, r, ZX_DEFAULT_VMAR_RIGHTS | ZX_RIGHT_READ);
    assert_eq!(
        s.task(t).vmar_allocate(weak, ZX_VM_CAN_MAP_WRITE, 0, PAGE),
        Err(ZX_ERR_ACCESS_DENIED)
    );
}

#[test]
fn allocate_can_map_the_parent_lacks_is_access_denied() {
    let (mut s, t, _, r) = setup_vmar();
    let (h, _) = s
        .task(t)
        .vmar_allocate(r, ZX_VM_CAN_MAP_READ, 0, 4 * PAGE)
        .unwrap();
    // The handle has READ only, so ask through the object: use the kernel call.
    let (id, _) = s.vmar_of(t, h).unwrap();
    assert_eq!(
        s.vmar_create_child(id, ZX_VM_CAN_MAP_WRITE, 0, PAGE),
        Err(ZX_ERR_ACCESS_DENIED)
    );
}

#[test]
fn allocate_can_map_specific_is_allowed_without_the_parent_having_it() {
    let (mut s, t, _, r) = setup_vmar();
    let (h, _) = s
        .task(t)
        .vmar_allocate(r, ZX_VM_CAN_MAP_READ, 0, 4 * PAGE)
        .unwrap();
    let (g, gbase) = s
        .task(t)
        .vmar_allocate(h, ZX_VM_CAN_MAP_SPECIFIC | ZX_VM_CAN_MAP_READ, 0, PAGE)
        .unwrap();
    let v = vmo(&mut s, t, 1);
    assert_eq!(
        s.task(t).vmar_map(g, R | ZX_VM_SPECIFIC, 0, v, 0, PAGE),
        Ok(gbase)
    );
}

#[test]
fn allocate_specific_without_can_map_specific_is_access_denied() {
    let (mut s, t, _, r) = setup_vmar();
    let (h, _) = s.task(t).vmar_allocate(r, 0, 0, 4 * PAGE).unwrap();
    assert_eq!(
        s.task(t).vmar_allocate(h, ZX_VM_SPECIFIC, 0, PAGE),
        Err(ZX_ERR_ACCESS_DENIED)
    );
}

#[test]
fn allocate_specific_overlapping_is_no_memory() {
    let (mut s, t, _, r) = setup_vmar();
    s.task(t)
        .vmar_allocate(r, ZX_VM_SPECIFIC, 2 * PAGE, 2 * PAGE)
        .unwrap();
    for off in [PAGE, 2 * PAGE, 3 * PAGE] {
        assert_eq!(
            s.task(t).vmar_allocate(r, ZX_VM_SPECIFIC, off, 2 * PAGE),
            Err(ZX_ERR_NO_MEMORY),
            "offset {off:#x}"
        );
    }
    // Adjacent on both sides is fine.
    s.task(t)
        .vmar_allocate(r, ZX_VM_SPECIFIC, 0, 2 * PAGE)
        .unwrap();
    s.task(t)
        .vmar_allocate(r, ZX_VM_SPECIFIC, 4 * PAGE, PAGE)
        .unwrap();
}

#[test]
fn allocate_with_no_gap_left_is_no_memory() {
    let (mut s, t, _, r) = setup_vmar();
    let (h, _) = s.task(t).vmar_allocate(r, 0, 0, 2 * PAGE).unwrap();
    s.task(t).vmar_allocate(h, 0, 0, PAGE).unwrap();
    s.task(t).vmar_allocate(h, 0, 0, PAGE).unwrap();
    assert_eq!(
        s.task(t).vmar_allocate(h, 0, 0, PAGE),
        Err(ZX_ERR_NO_MEMORY)
    );
}

#[test]
fn closing_the_last_handle_keeps_the_vmar_and_its_mappings() {
    let (mut s, t, root, r) = setup_vmar();
    let (h, base) = s
        .task(t)
        .vmar_allocate(r, ZX_VM_CAN_MAP_READ | ZX_VM_CAN_MAP_WRITE, 0, PAGE)
        .unwrap();
    let v = vmo(&mut s, t, 1);
    s.task(t).vmar_map(h, RW, 0, v, 0, PAGE).unwrap();
    s.task(t).handle_close(h).unwrap();
    store(&mut s, root, base, 7).unwrap();
    assert_eq!(byte(&mut s, t, v, 0), 7);
    // The range is still taken.
    assert_eq!(
        s.task(t).vmar_allocate(r, ZX_VM_SPECIFIC, base - B, PAGE),
        Err(ZX_ERR_NO_MEMORY)
    );
}

// ---- placement ----

#[test]
fn first_fit_fills_the_lowest_gap() {
    let (mut s, t, _, r) = setup_vmar();
    let v = vmo(&mut s, t, 1);
    let a: Vec<u64> = (0..4)
        .map(|_| s.task(t).vmar_map(r, R, 0, v, 0, PAGE).unwrap())
        .collect();
    assert_eq!(a, vec![B, B + PAGE, B + 2 * PAGE, B + 3 * PAGE]);
    s.task(t).vmar_unmap(r, a[1], PAGE).unwrap();
    s.task(t).vmar_unmap(r, a[2], PAGE).unwrap();
    // A two-page request fits the hole; a three-page one goes past the end.
    assert_eq!(
        s.task(t).vmar_map(r, R, 0, v, 0, 3 * PAGE),
        Ok(B + 4 * PAGE)
    );
    assert_eq!(s.task(t).vmar_map(r, R, 0, v, 0, 2 * PAGE), Ok(B + PAGE));
    assert_eq!(s.task(t).vmar_map(r, R, 0, v, 0, PAGE), Ok(B + 7 * PAGE));
}

#[test]
fn first_fit_skips_gaps_too_small_and_uses_exact_fits() {
    let (mut s, t, _, r) = setup_vmar();
    let (h, base) = s.task(t).vmar_allocate(r, ALL_CAN, 0, 10 * PAGE).unwrap();
    let v = vmo(&mut s, t, 1);
    // Occupy pages 1, 3-4, 7: gaps of 1, 1, 2, 2 pages.
    for (off, len) in [(1, 1), (3, 2), (7, 1)] {
        s.task(t)
            .vmar_map(h, R | ZX_VM_SPECIFIC, off * PAGE, v, 0, len * PAGE)
            .unwrap();
    }
    assert_eq!(
        s.task(t).vmar_map(h, R, 0, v, 0, 2 * PAGE),
        Ok(base + 5 * PAGE)
    );
    assert_eq!(s.task(t).vmar_map(h, R, 0, v, 0, PAGE), Ok(base));
    assert_eq!(s.task(t).vmar_map(h, R, 0, v, 0, PAGE), Ok(base + 2 * PAGE));
    assert_eq!(
        s.task(t).vmar_map(h, R, 0, v, 0, 2 * PAGE),
        Ok(base + 8 * PAGE)
    );
    assert_eq!(
        s.task(t).vmar_map(h, R, 0, v, 0, PAGE),
        Err(ZX_ERR_NO_MEMORY)
    );
}

#[test]
fn fragmented_vmar_accounts_every_page_after_random_map_and_unmap() {
    // A 64-page VMAR under many single-page maps and unmaps: free space
    // found by first fit always equals what is really free.
    let (mut s, t, _, r) = setup_vmar();
    let (h, base) = s.task(t).vmar_allocate(r, ALL_CAN, 0, 64 * PAGE).unwrap();
    let v = vmo(&mut s, t, 1);
    let mut used = [false; 64];
    let mut x = 12345u64;
    for _ in 0..2000 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let page = (x >> 33) % 64;
        let len = 1 + (x >> 20) % 3;
        if (x >> 40).is_multiple_of(2) {
            let got = s.task(t).vmar_map(h, R, 0, v, 0, len * PAGE);
            let want = (0..=64 - len).find(|&p| (p..p + len).all(|q| !used[q as usize]));
            match want {
                Some(p) => {
                    assert_eq!(got, Ok(base + p * PAGE));
                    (p..p + len).for_each(|q| used[q as usize] = true);
                }
                None => assert_eq!(got, Err(ZX_ERR_NO_MEMORY)),
            }
        } else {
            let end = (page + len).min(64);
            let got = s
                .task(t)
                .vmar_unmap(h, base + page * PAGE, (end - page) * PAGE);
            if (page..end).any(|q| used[q as usize]) {
                assert_eq!(got, Ok(()));
                (page..end).for_each(|q| used[q as usize] = false);
            } else {
                assert_eq!(got, Err(ZX_ERR_NOT_FOUND));
            }
        }
    }
}

// ---- vmar_map ----

#[test]
fn map_specific_places_at_the_offset() {
    let (mut s, t, _, r) = setup_vmar();
    let v = vmo(&mut s, t, 1);
    assert_eq!(
        s.task(t)
            .vmar_map(r, R | ZX_VM_SPECIFIC, 5 * PAGE, v, 0, PAGE),
        Ok(B + 5 * PAGE)
    );
}

#[test]
fn map_specific_overlapping_is_no_memory() {
    let (mut s, t, _, r) = setup_vmar();
    let v = vmo(&mut s, t, 4);
    map_at(&mut s, t, r, B + 2 * PAGE, v, 0, 2 * PAGE, R);
    assert_eq!(
        s.task(t)
            .vmar_map(r, R | ZX_VM_SPECIFIC, 3 * PAGE, v, 0, 2 * PAGE),
        Err(ZX_ERR_NO_MEMORY)
    );
    assert_eq!(
        s.task(t)
            .vmar_map(r, R | ZX_VM_SPECIFIC, PAGE, v, 0, 2 * PAGE),
        Err(ZX_ERR_NO_MEMORY)
    );
}

#[test]
fn map_specific_over_a_sub_vmar_is_no_memory() {
    let (mut s, t, _, r) = setup_vmar();
    s.task(t)
        .vmar_allocate(r, ZX_VM_SPECIFIC, PAGE, PAGE)
        .unwrap();
    let v = vmo(&mut s, t, 1);
    assert_eq!(
        s.task(t).vmar_map(r, R | ZX_VM_SPECIFIC, PAGE, v, 0, PAGE),
        Err(ZX_ERR_NO_MEMORY)
    );
}

#[test]
fn map_specific_without_can_map_specific_is_access_denied() {
    let (mut s, t, _, r) = setup_vmar();
    let (h, _) = s
        .task(t)
        .vmar_allocate(r, ZX_VM_CAN_MAP_READ, 0, 4 * PAGE)
        .unwrap();
    let v = vmo(&mut s, t, 1);
    assert_eq!(
        s.task(t).vmar_map(h, R | ZX_VM_SPECIFIC, 0, v, 0, PAGE),
        Err(ZX_ERR_ACCESS_DENIED)
    );
}

#[test]
fn map_past_the_vmar_end_is_invalid_args() {
    let (mut s, t, _, r) = setup_vmar();
    let (h, _) = s.task(t).vmar_allocate(r, ALL_CAN, 0, 4 * PAGE).unwrap();
    let v = vmo(&mut s, t, 8);
    assert_eq!(
        s.task(t)
            .vmar_map(h, R | ZX_VM_SPECIFIC, 3 * PAGE, v, 0, 2 * PAGE),
        Err(ZX_ERR_INVALID_ARGS)
    );
    assert_eq!(
        s.task(t).vmar_map(h, R, 0, v, 0, 5 * PAGE),
        Err(ZX_ERR_INVALID_ARGS)
    );
}

#[test]
fn map_with_offset_but_not_specific_is_invalid_args() {
    let (mut s, t, _, r) = setup_vmar();
    let v = vmo(&mut s, t, 1);
    assert_eq!(
        s.task(t).vmar_map(r, R, PAGE, v, 0, PAGE),
        Err(ZX_ERR_INVALID_ARGS)
    );
}

#[test]
fn map_with_unaligned_or_zero_arguments_is_invalid_args() {
    let (mut s, t, _, r) = setup_vmar();
    let v = vmo(&mut s, t, 2);
    let mut task = s.task(t);
    assert_eq!(task.vmar_map(r, R, 0, v, 0, 0), Err(ZX_ERR_INVALID_ARGS));
    assert_eq!(
        task.vmar_map(r, R, 0, v, 0, PAGE - 1),
        Err(ZX_ERR_INVALID_ARGS)
    );
    assert_eq!(task.vmar_map(r, R, 0, v, 1, PAGE), Err(ZX_ERR_INVALID_ARGS));
    assert_eq!(
        task.vmar_map(r, R | ZX_VM_SPECIFIC, 1, v, 0, PAGE),
        Err(ZX_ERR_INVALID_ARGS)
    );
    assert_eq!(
        task.vmar_map(r, R, 0, v, !(PAGE - 1), PAGE),
        Err(ZX_ERR_INVALID_ARGS)
    );
}

#[test]
fn map_with_invalid_options_is_invalid_args() {
    let (mut s, t, _, r) = setup_vmar();
    let v = vmo(&mut s, t, 1);
    let mut task = s.task(t);
    for bad in [
        ZX_VM_PERM_WRITE,
        ZX_VM_PERM_EXECUTE,
        R | ZX_VM_CAN_MAP_READ,
        R | ZX_VM_CAN_MAP_SPECIFIC,
        // vmar_allocate's hint; vmar_map's page does not list it.
        R | ZX_VM_COMPACT,
        R | 1 << 20,
        R | ZX_VM_SPECIFIC_OVERWRITE | ZX_VM_MAP_RANGE,
    ] {
        assert_eq!(
            task.vmar_map(r, bad, 0, v, 0, PAGE),
            Err(ZX_ERR_INVALID_ARGS),
            "{bad:#x}"
        );
    }
}

#[test]
fn map_with_bad_handles_is_bad_handle_or_wrong_type() {
    let (mut s, t, _, r) = setup_vmar();
    let v = vmo(&mut s, t, 1);
    let mut task = s.task(t);
    assert_eq!(
        task.vmar_map(0x1234_5673, R, 0, v, 0, PAGE),
        Err(ZX_ERR_BAD_HANDLE)
    );
    assert_eq!(
        task.vmar_map(r, R, 0, 0x1234_5673, 0, PAGE),
        Err(ZX_ERR_BAD_HANDLE)
    );
    assert_eq!(task.vmar_map(v, R, 0, v, 0, PAGE), Err(ZX_ERR_WRONG_TYPE));
    assert_eq!(task.vmar_map(r, R, 0, r, 0, PAGE), Err(ZX_ERR_WRONG_TYPE));
}

#[test]
fn map_on_a_destroyed_vmar_is_bad_state() {
    let (mut s, t, _, r) = setup_vmar();
    let (h, _) = s.task(t).vmar_allocate(r, ALL_CAN, 0, PAGE).unwrap();
    s.task(t).vmar_destroy(h).unwrap();
    let v = vmo(&mut s, t, 1);
    assert_eq!(
        s.task(t).vmar_map(h, R, 0, v, 0, PAGE),
        Err(ZX_ERR_BAD_STATE)
    );
}

#[test]
fn map_needs_the_vmar_to_allow_each_permission() {
    let (mut s, t, _, r) = setup_vmar();
    let (h, _) = s
        .task(t)
        .vmar_allocate(r, ZX_VM_CAN_MAP_READ, 0, 4 * PAGE)
        .unwrap();
    let v = vmo(&mut s, t, 1);
    assert_eq!(
        s.task(t).vmar_map(h, RW, 0, v, 0, PAGE),
        Err(ZX_ERR_ACCESS_DENIED)
    );
    assert_eq!(
        s.task(t).vmar_map(h, R | ZX_VM_PERM_EXECUTE, 0, v, 0, PAGE),
        Err(ZX_ERR_ACCESS_DENIED)
    );
    s.task(t).vmar_map(h, R, 0, v, 0, PAGE).unwrap();
}

#[test]
fn map_needs_the_vmar_handle_rights_for_each_permission() {
    let (mut s, t, _, r) = setup_vmar();
    let weak = dup(&mut s, t, r, ZX_DEFAULT_VMAR_RIGHTS | ZX_RIGHT_READ);
    let v = vmo(&mut s, t, 1);
    assert_eq!(
        s.task(t).vmar_map(weak, RW, 0, v, 0, PAGE),
        Err(ZX_ERR_ACCESS_DENIED)
    );
    s.task(t).vmar_map(weak, R, 0, v, 0, PAGE).unwrap();
}

#[test]
fn map_execute_needs_the_vmo_execute_right() {
    let (mut s, t, _, r) = setup_vmar();
    let v = vmo(&mut s, t, 1);
    let d = dup(&mut s, t, v, ZX_RIGHT_MAP | ZX_RIGHT_READ | ZX_RIGHT_WRITE);
    assert_eq!(
        s.task(t).vmar_map(r, R | ZX_VM_PERM_EXECUTE, 0, d, 0, PAGE),
        Err(ZX_ERR_ACCESS_DENIED)
    );
}

#[test]
fn map_require_non_resizable_of_a_resizable_vmo_is_not_supported() {
    let (mut s, t, _, r) = setup_vmar();
    let v = vmo(&mut s, t, 1);
    assert_eq!(
        s.task(t)
            .vmar_map(r, R | ZX_VM_REQUIRE_NON_RESIZABLE, 0, v, 0, PAGE),
        Err(ZX_ERR_NOT_SUPPORTED)
    );
    let n = s.task(t).vmo_create(PAGE, ZX_VMO_NON_RESIZABLE).unwrap();
    s.task(t)
        .vmar_map(r, R | ZX_VM_REQUIRE_NON_RESIZABLE, 0, n, 0, PAGE)
        .unwrap();
}

#[test]
fn map_specific_overwrite_replaces_mappings_in_the_range() {
    let (mut s, t, root, r) = setup_vmar();
    let a = filled_vmo(&mut s, t, 4);
    let b = filled_vmo(&mut s, t, 1);
    put(&mut s, t, b, 0, 0xbb);
    map_at(&mut s, t, r, B, a, 0, 4 * PAGE, RW);
    for p in 0..4 {
        load(&mut s, root, B + p * PAGE).unwrap();
    }
    s.task(t)
        .vmar_map(r, R | ZX_VM_SPECIFIC_OVERWRITE, PAGE, b, 0, PAGE)
        .unwrap();
    assert_eq!(s.platform().pte(B + PAGE), None);
    assert_eq!(load(&mut s, root, B), Ok(1));
    assert_eq!(load(&mut s, root, B + PAGE), Ok(0xbb));
    assert_eq!(load(&mut s, root, B + 2 * PAGE), Ok(3));
    assert_eq!(info(&mut s, t, a).num_mappings, 2);
}

#[test]
fn map_specific_overwrite_over_a_sub_vmar_is_invalid_args() {
    let (mut s, t, _, r) = setup_vmar();
    s.task(t)
        .vmar_allocate(r, ZX_VM_SPECIFIC, PAGE, PAGE)
        .unwrap();
    let v = vmo(&mut s, t, 2);
    assert_eq!(
        s.task(t)
            .vmar_map(r, R | ZX_VM_SPECIFIC_OVERWRITE, 0, v, 0, 2 * PAGE),
        Err(ZX_ERR_INVALID_ARGS)
    );
}

#[test]
fn map_range_maps_the_pages_the_vmo_shows_at_once() {
    let (mut s, t, _, r) = setup_vmar();
    let p = filled_vmo(&mut s, t, 3);
    op(&mut s, t, p, ZX_VMO_OP_DECOMMIT, PAGE, PAGE).unwrap();
    let c = cow_child(&mut s, t, p, 0, 4 * PAGE);
    put(&mut s, t, c, 2 * PAGE, 9);
    let a = s
        .task(t)
        .vmar_map(r, RW | ZX_VM_MAP_RANGE, 0, c, 0, 4 * PAGE)
        .unwrap();
    assert_eq!(s.platform().pte(a).map(|e| e.1), Some(RO));
    assert_eq!(s.platform().pte(a + PAGE), None);
    assert_eq!(s.platform().pte(a + 2 * PAGE).map(|e| e.1), Some(RWP));
    assert_eq!(s.platform().pte(a + 3 * PAGE), None);
}

#[test]
fn a_mapping_may_extend_past_the_vmo_end_and_faults_there_out_of_range() {
    let (mut s, t, root, r) = setup_vmar();
    let v = filled_vmo(&mut s, t, 1);
    let a = s.task(t).vmar_map(r, RW, 0, v, 0, 3 * PAGE).unwrap();
    assert_eq!(load(&mut s, root, a), Ok(1));
    assert_eq!(load(&mut s, root, a + PAGE), Err(ZX_ERR_OUT_OF_RANGE));
    assert_eq!(
        store(&mut s, root, a + 2 * PAGE, 1),
        Err(ZX_ERR_OUT_OF_RANGE)
    );
    // Growing the VMO makes the page reachable.
    s.task(t).vmo_set_size(v, 2 * PAGE).unwrap();
    assert_eq!(load(&mut s, root, a + PAGE), Ok(0));
}

// ---- faults ----

#[test]
fn a_fault_past_the_vmo_end_leaves_an_untouched_mapping_with_nothing_to_unmap() {
    let (mut s, t, root, r) = setup_vmar();
    let v = vmo(&mut s, t, 1);
    let a = s.task(t).vmar_map(r, RW, 0, v, 0, 4 * PAGE).unwrap();
    assert_eq!(load(&mut s, root, a + 2 * PAGE), Err(ZX_ERR_OUT_OF_RANGE));
    s.platform().take_unmaps();
    s.task(t).vmar_unmap(r, a, 4 * PAGE).unwrap();
    assert_eq!(s.platform().take_unmaps(), vec![]);
}

// The fault path tries the last fault's mapping first: these check that it
// never answers for a mapping that went, moved or changed.

#[test]
fn a_fault_after_unmap_and_remap_at_the_same_address_sees_the_new_vmo() {
    let (mut s, t, root, r) = setup_vmar();
    let a = B + 16 * PAGE;
    let first = filled_vmo(&mut s, t, 2);
    map_at(&mut s, t, r, a, first, 0, 2 * PAGE, RW);
    assert_eq!(load(&mut s, root, a), Ok(1));
    s.task(t).vmar_unmap(r, a, 2 * PAGE).unwrap();
    assert_eq!(load(&mut s, root, a + PAGE), Err(ZX_ERR_NOT_FOUND));
    let second = filled_vmo(&mut s, t, 3);
    map_at(&mut s, t, r, a, second, PAGE, 2 * PAGE, RW);
    assert_eq!(load(&mut s, root, a + PAGE), Ok(3));
    assert_eq!(load(&mut s, root, a), Ok(2));
}

#[test]
fn a_fault_after_protect_splits_the_last_faults_mapping_obeys_each_part() {
    let (mut s, t, root, r) = setup_vmar();
    let v = vmo(&mut s, t, 3);
    let a = s.task(t).vmar_map(r, RW, 0, v, 0, 3 * PAGE).unwrap();
    store(&mut s, root, a, 1).unwrap();
    s.task(t).vmar_protect(r, R, a + PAGE, PAGE).unwrap();
    assert_eq!(store(&mut s, root, a + PAGE, 1), Err(ZX_ERR_ACCESS_DENIED));
    store(&mut s, root, a + 2 * PAGE, 3).unwrap();
    // The part the hint named first keeps its own permissions, then loses them.
    s.task(t).vmar_protect(r, R, a, PAGE).unwrap();
    assert_eq!(load(&mut s, root, a), Ok(1));
    assert_eq!(store(&mut s, root, a, 2), Err(ZX_ERR_ACCESS_DENIED));
    assert_eq!(load(&mut s, root, a + 2 * PAGE), Ok(3));
}

#[test]
fn a_fault_after_the_last_faults_vmar_is_destroyed_is_not_found() {
    let (mut s, t, root, r) = setup_vmar();
    let (h, _) = s.task(t).vmar_allocate(r, ALL_CAN, 0, 4 * PAGE).unwrap();
    let v = filled_vmo(&mut s, t, 1);
    let a = s.task(t).vmar_map(h, R, 0, v, 0, PAGE).unwrap();
    assert_eq!(load(&mut s, root, a), Ok(1));
    s.task(t).vmar_destroy(h).unwrap();
    assert_eq!(s.vmar_fault(root, a, Access::Read), Err(ZX_ERR_NOT_FOUND));
}

#[test]
fn fault_outside_any_mapping_is_not_found() {
    let (mut s, t, root, r) = setup_vmar();
    let v = vmo(&mut s, t, 1);
    let a = s.task(t).vmar_map(r, R, 0, v, 0, PAGE).unwrap();
    assert_eq!(
        s.vmar_fault(root, a + PAGE, Access::Read),
        Err(ZX_ERR_NOT_FOUND)
    );
    assert_eq!(
        s.vmar_fault(root, 0x1000, Access::Read),
        Err(ZX_ERR_NOT_FOUND)
    );
}

#[test]
fn fault_inside_a_sub_vmar_finds_the_innermost_mapping() {
    let (mut s, t, root, r) = setup_vmar();
    let (h, _) = s.task(t).vmar_allocate(r, ALL_CAN, 0, 8 * PAGE).unwrap();
    let (g, _) = s.task(t).vmar_allocate(h, ALL_CAN, 0, 4 * PAGE).unwrap();
    let v = filled_vmo(&mut s, t, 2);
    let a = s.task(t).vmar_map(g, R, 0, v, PAGE, PAGE).unwrap();
    assert_eq!(load(&mut s, root, a + 17), Ok(2));
    let info = s.vmar_lookup(root, a + 17).unwrap();
    assert_eq!(
        (info.base, info.len, info.perms, info.vmo_offset),
        (a, PAGE, R, PAGE)
    );
    assert_eq!(info.vmo_koid, self::info(&mut s, t, v).koid);
    assert_eq!(s.vmar_lookup(root, a + PAGE), None);
}

#[test]
fn execute_fault_needs_an_executable_mapping_and_maps_executable() {
    let (mut s, t, root, r) = setup_vmar();
    let v = filled_vmo(&mut s, t, 1);
    let a = s.task(t).vmar_map(r, R, 0, v, 0, PAGE).unwrap();
    assert_eq!(
        s.vmar_fault(root, a, Access::Execute),
        Err(ZX_ERR_ACCESS_DENIED)
    );
    let x = s
        .task(t)
        .vmar_map(r, R | ZX_VM_PERM_EXECUTE, 0, v, 0, PAGE)
        .unwrap();
    s.vmar_fault(root, x, Access::Execute).unwrap();
    assert_eq!(
        s.platform().pte(x).unwrap().1,
        MapPerms {
            write: false,
            execute: true
        }
    );
}

#[test]
fn a_mapping_without_permissions_denies_every_access() {
    let (mut s, t, root, r) = setup_vmar();
    let v = vmo(&mut s, t, 1);
    let a = s.task(t).vmar_map(r, 0, 0, v, 0, PAGE).unwrap();
    for acc in [Access::Read, Access::Write, Access::Execute] {
        assert_eq!(s.vmar_fault(root, a, acc), Err(ZX_ERR_ACCESS_DENIED));
    }
}

#[test]
fn read_of_an_untouched_page_maps_the_zero_page_read_only() {
    let (mut s, t, root, r) = setup_vmar();
    let v = vmo(&mut s, t, 1);
    let a = s.task(t).vmar_map(r, RW, 0, v, 0, PAGE).unwrap();
    assert_eq!(load(&mut s, root, a), Ok(0));
    assert_eq!(s.platform().pte(a), Some((ZERO_PADDR, RO)));
    assert_eq!(s.platform().live_frames(), 0);
    assert_eq!(s.vm_counters().zero_page_maps, 1);
    // The first store then commits a zero-filled page, mapped writable.
    store(&mut s, root, a, 3).unwrap();
    assert_eq!(s.platform().pte(a).unwrap().1, RWP);
    assert_eq!(s.vm_counters().pages_zero_filled, 1);
    assert_eq!(byte(&mut s, t, v, 0), 3);
}

#[test]
fn own_page_in_a_read_only_mapping_is_mapped_read_only() {
    let (mut s, t, root, r) = setup_vmar();
    let v = filled_vmo(&mut s, t, 1);
    let a = s.task(t).vmar_map(r, R, 0, v, 0, PAGE).unwrap();
    assert_eq!(load(&mut s, root, a), Ok(1));
    assert_eq!(s.platform().pte(a).unwrap().1, RO);
}

#[test]
fn cow_child_shows_the_parent_page_read_only_and_a_write_copies_it() {
    let (mut s, t, root, r) = setup_vmar();
    let p = filled_vmo(&mut s, t, 1);
    let c = cow_child(&mut s, t, p, 0, PAGE);
    let pa = s.task(t).vmar_map(r, RW, 0, p, 0, PAGE).unwrap();
    let ca = s.task(t).vmar_map(r, RW, 0, c, 0, PAGE).unwrap();
    assert_eq!(load(&mut s, root, pa), Ok(1));
    assert_eq!(load(&mut s, root, ca), Ok(1));
    let parent_frame = s.platform().pte(pa).unwrap().0;
    assert_eq!(s.platform().pte(ca), Some((parent_frame, RO)));
    let before = s.vm_counters().pages_copied;
    store(&mut s, root, ca, 9).unwrap();
    let (child_frame, perms) = s.platform().pte(ca).unwrap();
    assert_ne!(child_frame, parent_frame);
    assert_eq!(perms, RWP);
    assert_eq!(s.vm_counters().pages_copied, before + 1);
    // The parent's mapping is unaffected.
    assert_eq!(s.platform().pte(pa), Some((parent_frame, RWP)));
    assert_eq!(load(&mut s, root, pa), Ok(1));
    assert_eq!(load(&mut s, root, ca), Ok(9));
}

#[test]
fn parent_first_write_after_child_read_refaults_the_child_to_the_new_page() {
    let (mut s, t, root, r) = setup_vmar();
    let p = vmo(&mut s, t, 1);
    let c = cow_child(&mut s, t, p, 0, PAGE);
    let pa = s.task(t).vmar_map(r, RW, 0, p, 0, PAGE).unwrap();
    let ca = s.task(t).vmar_map(r, R, 0, c, 0, PAGE).unwrap();
    assert_eq!(load(&mut s, root, ca), Ok(0));
    assert_eq!(s.platform().pte(ca).unwrap().0, ZERO_PADDR);
    store(&mut s, root, pa, 4).unwrap();
    assert_eq!(s.platform().pte(ca), None);
    assert_eq!(load(&mut s, root, ca), Ok(4));
    assert_eq!(
        s.platform().pte(ca).unwrap().0,
        s.platform().pte(pa).unwrap().0
    );
}

#[test]
fn decommit_on_a_child_removes_its_translation_and_the_parent_page_shows_again() {
    let (mut s, t, root, r) = setup_vmar();
    let p = filled_vmo(&mut s, t, 1);
    let c = cow_child(&mut s, t, p, 0, PAGE);
    let ca = s.task(t).vmar_map(r, RW, 0, c, 0, PAGE).unwrap();
    store(&mut s, root, ca, 9).unwrap();
    op(&mut s, t, c, ZX_VMO_OP_DECOMMIT, 0, PAGE).unwrap();
    assert_eq!(s.platform().pte(ca), None);
    assert_eq!(load(&mut s, root, ca), Ok(1));
    assert_eq!(s.platform().pte(ca).unwrap().1, RO);
}

#[test]
fn shrink_unmaps_mapped_pages_past_the_end_and_they_fault_out_of_range() {
    let (mut s, t, root, r) = setup_vmar();
    let v = filled_vmo(&mut s, t, 3);
    let a = s.task(t).vmar_map(r, RW, 0, v, 0, 3 * PAGE).unwrap();
    for p in 0..3 {
        store(&mut s, root, a + p * PAGE, 5).unwrap();
    }
    s.task(t).vmo_set_size(v, PAGE).unwrap();
    assert!(s.platform().pte(a).is_some());
    assert_eq!(s.platform().pte(a + PAGE), None);
    assert_eq!(s.platform().pte(a + 2 * PAGE), None);
    assert_eq!(load(&mut s, root, a + PAGE), Err(ZX_ERR_OUT_OF_RANGE));
    assert_eq!(s.platform().live_frames(), 1);
}

#[test]
fn zero_children_stays_inactive_while_a_handleless_child_is_mapped() {
    let (mut s, t, _, r) = setup_vmar();
    let p = filled_vmo(&mut s, t, 4);
    let c = cow_child(&mut s, t, p, 0, 4 * PAGE);
    let a = s.task(t).vmar_map(r, R, 0, c, 0, 4 * PAGE).unwrap();
    s.task(t).handle_close(c).unwrap();
    // Splitting the mapping keeps the child alive.
    s.task(t).vmar_unmap(r, a + PAGE, PAGE).unwrap();
    assert!(!zero_children(&mut s, t, p));
    s.task(t).vmar_unmap(r, a, PAGE).unwrap();
    assert!(!zero_children(&mut s, t, p));
    s.task(t).vmar_unmap(r, a + 2 * PAGE, 2 * PAGE).unwrap();
    assert!(zero_children(&mut s, t, p));
}

// ---- vmar_unmap ----

fn four_page_mapping() -> (Space, object::TableId, object::VmarId, Handle, Handle, u64) {
    let (mut s, t, root, r) = setup_vmar();
    let v = filled_vmo(&mut s, t, 4);
    let a = s.task(t).vmar_map(r, RW, 0, v, 0, 4 * PAGE).unwrap();
    for p in 0..4 {
        load(&mut s, root, a + p * PAGE).unwrap();
    }
    s.platform().take_unmaps();
    (s, t, root, r, v, a)
}

fn mapped(s: &mut Space, root: object::VmarId, a: u64) -> Vec<Option<u8>> {
    (0..4).map(|p| load(s, root, a + p * PAGE).ok()).collect()
}

#[test]
fn unmap_of_the_left_part_trims_the_mapping() {
    let (mut s, t, root, r, v, a) = four_page_mapping();
    s.task(t).vmar_unmap(r, a, PAGE).unwrap();
    assert_eq!(s.platform().take_unmaps(), vec![(a, PAGE)]);
    assert_eq!(
        mapped(&mut s, root, a),
        vec![None, Some(2), Some(3), Some(4)]
    );
    assert_eq!(info(&mut s, t, v).num_mappings, 1);
}

#[test]
fn unmap_of_the_right_part_trims_the_mapping() {
    let (mut s, t, root, r, v, a) = four_page_mapping();
    s.task(t).vmar_unmap(r, a + 2 * PAGE, 2 * PAGE).unwrap();
    assert_eq!(s.platform().take_unmaps(), vec![(a + 2 * PAGE, 2 * PAGE)]);
    assert_eq!(mapped(&mut s, root, a), vec![Some(1), Some(2), None, None]);
    assert_eq!(info(&mut s, t, v).num_mappings, 1);
}

#[test]
fn unmap_of_the_middle_splits_the_mapping_in_two() {
    let (mut s, t, root, r, v, a) = four_page_mapping();
    s.task(t).vmar_unmap(r, a + PAGE, 2 * PAGE).unwrap();
    assert_eq!(s.platform().take_unmaps(), vec![(a + PAGE, 2 * PAGE)]);
    assert_eq!(mapped(&mut s, root, a), vec![Some(1), None, None, Some(4)]);
    assert_eq!(info(&mut s, t, v).num_mappings, 2);
    // Writes through the right piece land at the right VMO offset.
    store(&mut s, root, a + 3 * PAGE + 1, 0x44).unwrap();
    assert_eq!(byte(&mut s, t, v, 3 * PAGE + 1), 0x44);
    // And the gap is free again.
    assert_eq!(
        s.task(t)
            .vmar_map(r, R | ZX_VM_SPECIFIC, a + PAGE - B, v, 0, 2 * PAGE),
        Ok(a + PAGE)
    );
}

#[test]
fn unmap_across_several_mappings_trims_both_ends() {
    let (mut s, t, root, r) = setup_vmar();
    let v = filled_vmo(&mut s, t, 4);
    let a = map_at(&mut s, t, r, B, v, 0, 2 * PAGE, R);
    map_at(&mut s, t, r, B + 3 * PAGE, v, 2 * PAGE, 2 * PAGE, R);
    s.task(t).vmar_unmap(r, B + PAGE, 3 * PAGE).unwrap();
    assert_eq!(load(&mut s, root, a), Ok(1));
    assert_eq!(load(&mut s, root, a + PAGE), Err(ZX_ERR_NOT_FOUND));
    assert_eq!(load(&mut s, root, a + 3 * PAGE), Err(ZX_ERR_NOT_FOUND));
    assert_eq!(load(&mut s, root, a + 4 * PAGE), Ok(4));
}

#[test]
fn unmap_destroys_sub_vmars_wholly_inside() {
    let (mut s, t, root, r) = setup_vmar();
    let (h, base) = s.task(t).vmar_allocate(r, ALL_CAN, 0, 2 * PAGE).unwrap();
    let v = filled_vmo(&mut s, t, 1);
    s.task(t).vmar_map(h, R, 0, v, 0, PAGE).unwrap();
    load(&mut s, root, base).unwrap();
    s.task(t).vmar_unmap(r, base, 2 * PAGE).unwrap();
    assert_eq!(s.platform().pte(base), None);
    assert_eq!(
        s.task(t).vmar_map(h, R, 0, v, 0, PAGE),
        Err(ZX_ERR_BAD_STATE)
    );
}

#[test]
fn unmap_partly_over_a_sub_vmar_is_invalid_args() {
    let (mut s, t, _, r) = setup_vmar();
    let (_, base) = s.task(t).vmar_allocate(r, 0, 0, 2 * PAGE).unwrap();
    assert_eq!(
        s.task(t).vmar_unmap(r, base, PAGE),
        Err(ZX_ERR_INVALID_ARGS)
    );
}

#[test]
fn unmap_of_an_empty_range_is_not_found() {
    let (mut s, t, _, r) = setup_vmar();
    assert_eq!(s.task(t).vmar_unmap(r, B, PAGE), Err(ZX_ERR_NOT_FOUND));
}

#[test]
fn unmap_with_unaligned_or_zero_arguments_is_invalid_args() {
    let (mut s, t, _, r) = setup_vmar();
    let mut task = s.task(t);
    assert_eq!(task.vmar_unmap(r, B + 1, PAGE), Err(ZX_ERR_INVALID_ARGS));
    assert_eq!(task.vmar_unmap(r, B, 0), Err(ZX_ERR_INVALID_ARGS));
    assert_eq!(task.vmar_unmap(r, B, PAGE + 1), Err(ZX_ERR_INVALID_ARGS));
}

#[test]
fn unmap_outside_the_vmar_is_invalid_args() {
    let (mut s, t, _, r) = setup_vmar();
    let (h, base) = s.task(t).vmar_allocate(r, ALL_CAN, 0, 2 * PAGE).unwrap();
    let v = vmo(&mut s, t, 1);
    s.task(t).vmar_map(h, R, 0, v, 0, PAGE).unwrap();
    assert_eq!(
        s.task(t).vmar_unmap(h, base, 3 * PAGE),
        Err(ZX_ERR_INVALID_ARGS)
    );
    assert_eq!(
        s.task(t).vmar_unmap(h, base - PAGE, PAGE),
        Err(ZX_ERR_INVALID_ARGS)
    );
}

#[test]
fn unmap_through_a_parent_cannot_split_a_mapping_inside_a_sub_vmar() {
    let (mut s, t, root, r) = setup_vmar();
    let (h, base) = s.task(t).vmar_allocate(r, ALL_CAN, 0, 2 * PAGE).unwrap();
    let v = filled_vmo(&mut s, t, 2);
    s.task(t).vmar_map(h, R, 0, v, 0, 2 * PAGE).unwrap();
    assert_eq!(
        s.task(t).vmar_unmap(r, base, PAGE),
        Err(ZX_ERR_INVALID_ARGS)
    );
    assert_eq!(load(&mut s, root, base), Ok(1));
}

#[test]
fn unmap_on_a_destroyed_vmar_is_bad_state() {
    let (mut s, t, _, r) = setup_vmar();
    let (h, base) = s.task(t).vmar_allocate(r, 0, 0, PAGE).unwrap();
    s.task(t).vmar_destroy(h).unwrap();
    assert_eq!(s.task(t).vmar_unmap(h, base, PAGE), Err(ZX_ERR_BAD_STATE));
}

#[test]
fn unmap_on_a_vmo_handle_is_wrong_type() {
    let (mut s, t, _, _) = setup_vmar();
    let v = vmo(&mut s, t, 1);
    assert_eq!(s.task(t).vmar_unmap(v, B, PAGE), Err(ZX_ERR_WRONG_TYPE));
}

// ---- vmar_protect ----

#[test]
fn protect_of_the_middle_splits_and_only_the_middle_changes() {
    let (mut s, t, root, r, v, a) = four_page_mapping();
    for p in 0..4 {
        store(&mut s, root, a + p * PAGE, 1).unwrap();
    }
    s.platform().take_unmaps();
    s.task(t).vmar_protect(r, R, a + PAGE, 2 * PAGE).unwrap();
    assert_eq!(s.platform().take_unmaps(), vec![(a + PAGE, 2 * PAGE)]);
    assert_eq!(info(&mut s, t, v).num_mappings, 3);
    assert_eq!(s.platform().pte(a).unwrap().1, RWP);
    assert_eq!(store(&mut s, root, a + PAGE, 2), Err(ZX_ERR_ACCESS_DENIED));
    assert_eq!(
        store(&mut s, root, a + 2 * PAGE, 2),
        Err(ZX_ERR_ACCESS_DENIED)
    );
    assert_eq!(load(&mut s, root, a + PAGE), Ok(1));
    assert_eq!(s.platform().pte(a + PAGE).unwrap().1, RO);
    store(&mut s, root, a + 3 * PAGE, 2).unwrap();
    let m = s.vmar_lookup(root, a + 3 * PAGE).unwrap();
    assert_eq!(
        (m.base, m.len, m.vmo_offset),
        (a + 3 * PAGE, PAGE, 3 * PAGE)
    );
}

#[test]
fn protect_up_to_the_map_time_rights_then_back() {
    let (mut s, t, root, r) = setup_vmar();
    let v = filled_vmo(&mut s, t, 1);
    let a = s.task(t).vmar_map(r, R, 0, v, 0, PAGE).unwrap();
    s.task(t).vmar_protect(r, RW, a, PAGE).unwrap();
    store(&mut s, root, a, 6).unwrap();
    assert_eq!(byte(&mut s, t, v, 0), 6);
}

#[test]
fn protect_beyond_the_vmo_rights_at_map_time_is_access_denied() {
    let (mut s, t, _, r) = setup_vmar();
    let v = filled_vmo(&mut s, t, 1);
    let ro = dup(&mut s, t, v, ZX_RIGHT_MAP | ZX_RIGHT_READ);
    let a = s.task(t).vmar_map(r, R, 0, ro, 0, PAGE).unwrap();
    // Closing the handle does not matter: the rights were kept at map time.
    s.task(t).handle_close(ro).unwrap();
    assert_eq!(
        s.task(t).vmar_protect(r, RW, a, PAGE),
        Err(ZX_ERR_ACCESS_DENIED)
    );
}

#[test]
fn protect_without_the_vmar_handle_right_is_access_denied() {
    let (mut s, t, _, r) = setup_vmar();
    let v = vmo(&mut s, t, 1);
    let a = s.task(t).vmar_map(r, RW, 0, v, 0, PAGE).unwrap();
    let weak = dup(&mut s, t, r, ZX_DEFAULT_VMAR_RIGHTS | ZX_RIGHT_READ);
    assert_eq!(
        s.task(t).vmar_protect(weak, RW, a, PAGE),
        Err(ZX_ERR_ACCESS_DENIED)
    );
    s.task(t).vmar_protect(weak, R, a, PAGE).unwrap();
}

#[test]
fn protect_beyond_the_vmar_can_map_is_access_denied() {
    let (mut s, t, _, r) = setup_vmar();
    let (h, _) = s
        .task(t)
        .vmar_allocate(r, ZX_VM_CAN_MAP_READ, 0, PAGE)
        .unwrap();
    let v = vmo(&mut s, t, 1);
    let a = s.task(t).vmar_map(h, R, 0, v, 0, PAGE).unwrap();
    let (id, _) = s.vmar_of(t, h).unwrap();
    assert_eq!(
        s.vmar_protect_range(id, RW, a, PAGE),
        Err(ZX_ERR_ACCESS_DENIED)
    );
}

#[test]
fn protect_with_write_but_not_read_is_invalid_args() {
    let (mut s, t, _, r) = setup_vmar();
    let v = vmo(&mut s, t, 1);
    let a = s.task(t).vmar_map(r, RW, 0, v, 0, PAGE).unwrap();
    assert_eq!(
        s.task(t).vmar_protect(r, ZX_VM_PERM_WRITE, a, PAGE),
        Err(ZX_ERR_INVALID_ARGS)
    );
}

#[test]
fn protect_with_unaligned_or_zero_arguments_is_invalid_args() {
    let (mut s, t, _, r) = setup_vmar();
    let v = vmo(&mut s, t, 1);
    let a = s.task(t).vmar_map(r, RW, 0, v, 0, PAGE).unwrap();
    let mut task = s.task(t);
    assert_eq!(
        task.vmar_protect(r, R, a + 1, PAGE),
        Err(ZX_ERR_INVALID_ARGS)
    );
    assert_eq!(task.vmar_protect(r, R, a, 0), Err(ZX_ERR_INVALID_ARGS));
}

#[test]
fn protect_over_a_gap_is_not_found_and_changes_nothing() {
    let (mut s, t, root, r) = setup_vmar();
    let v = filled_vmo(&mut s, t, 2);
    map_at(&mut s, t, r, B, v, 0, PAGE, RW);
    map_at(&mut s, t, r, B + 2 * PAGE, v, PAGE, PAGE, RW);
    assert_eq!(
        s.task(t).vmar_protect(r, R, B, 3 * PAGE),
        Err(ZX_ERR_NOT_FOUND)
    );
    store(&mut s, root, B, 1).unwrap();
    assert_eq!(info(&mut s, t, v).num_mappings, 2);
}

#[test]
fn protect_over_a_sub_vmar_is_invalid_args() {
    let (mut s, t, _, r) = setup_vmar();
    let v = vmo(&mut s, t, 1);
    map_at(&mut s, t, r, B, v, 0, PAGE, RW);
    s.task(t)
        .vmar_allocate(r, ZX_VM_SPECIFIC, PAGE, PAGE)
        .unwrap();
    assert_eq!(
        s.task(t).vmar_protect(r, R, B, 2 * PAGE),
        Err(ZX_ERR_INVALID_ARGS)
    );
}

#[test]
fn protect_on_a_destroyed_vmar_is_bad_state() {
    let (mut s, t, _, r) = setup_vmar();
    let (h, base) = s.task(t).vmar_allocate(r, ALL_CAN, 0, PAGE).unwrap();
    s.task(t).vmar_destroy(h).unwrap();
    assert_eq!(
        s.task(t).vmar_protect(h, R, base, PAGE),
        Err(ZX_ERR_BAD_STATE)
    );
}

// ---- vmar_destroy ----

#[test]
fn destroy_unmaps_everything_inside_recursively() {
    let (mut s, t, root, r) = setup_vmar();
    let (h, base) = s.task(t).vmar_allocate(r, ALL_CAN, 0, 16 * PAGE).unwrap();
    let (g, _) = s.task(t).vmar_allocate(h, ALL_CAN, 0, 4 * PAGE).unwrap();
    let v = filled_vmo(&mut s, t, 2);
    let a1 = s.task(t).vmar_map(h, RW, 0, v, 0, 2 * PAGE).unwrap();
    let a2 = s.task(t).vmar_map(g, RW, 0, v, 0, 2 * PAGE).unwrap();
    let outside = s.task(t).vmar_map(r, RW, 0, v, 0, PAGE).unwrap();
    for a in [a1, a1 + PAGE, a2, a2 + PAGE, outside] {
        load(&mut s, root, a).unwrap();
    }
    s.task(t).vmar_destroy(h).unwrap();
    assert_eq!(s.platform().mapped_pages(), 1);
    assert!(s.platform().pte(outside).is_some());
    assert_eq!(info(&mut s, t, v).num_mappings, 1);
    assert_eq!(
        s.task(t).vmar_map(g, R, 0, v, 0, PAGE),
        Err(ZX_ERR_BAD_STATE)
    );
    // The range is free in the parent again.
    assert_eq!(
        s.task(t)
            .vmar_allocate(r, ZX_VM_SPECIFIC, base - B, 16 * PAGE)
            .map(|x| x.1),
        Ok(base)
    );
}

#[test]
fn destroy_twice_is_bad_state() {
    let (mut s, t, _, r) = setup_vmar();
    let (h, _) = s.task(t).vmar_allocate(r, 0, 0, PAGE).unwrap();
    s.task(t).vmar_destroy(h).unwrap();
    assert_eq!(s.task(t).vmar_destroy(h), Err(ZX_ERR_BAD_STATE));
}

#[test]
fn destroy_on_a_vmo_handle_is_wrong_type() {
    let (mut s, t, _, _) = setup_vmar();
    let v = vmo(&mut s, t, 1);
    assert_eq!(s.task(t).vmar_destroy(v), Err(ZX_ERR_WRONG_TYPE));
    assert_eq!(s.task(t).vmar_destroy(0x1234_5673), Err(ZX_ERR_BAD_HANDLE));
}

#[test]
fn destroy_of_a_deep_nest_does_not_recurse() {
    let (mut s, t, _, r) = setup_vmar();
    let (top, _) = s.task(t).vmar_allocate(r, ALL_CAN, 0, 1 << 30).unwrap();
    let (mut cur, _) = s.vmar_of(t, top).unwrap();
    for _ in 0..10_000 {
        cur = s.vmar_create_child(cur, ALL_CAN, 0, PAGE).unwrap().0;
    }
    let v = vmo(&mut s, t, 1);
    let vid = s.vmo_of(t, v).unwrap();
    s.vmar_map_vmo(map_args(cur, R, 0, vid, PAGE), R).unwrap();
    s.task(t).vmar_destroy(top).unwrap();
    assert_eq!(s.mapping_count(), 0);
    s.task(t).handle_close(top).unwrap();
    // Only the root is left.
    assert_eq!(s.vmar_count(), 1);
}

#[test]
fn a_destroyed_vmar_goes_with_its_last_handle() {
    let (mut s, t, _, r) = setup_vmar();
    let (h, _) = s.task(t).vmar_allocate(r, 0, 0, PAGE).unwrap();
    let d = dup(&mut s, t, h, ZX_RIGHT_SAME_RIGHTS);
    s.task(t).vmar_destroy(h).unwrap();
    assert_eq!(s.vmar_count(), 2);
    s.task(t).handle_close(h).unwrap();
    assert_eq!(s.vmar_count(), 2);
    s.task(t).handle_close(d).unwrap();
    assert_eq!(s.vmar_count(), 1);
}

// ---- handles ----

#[test]
fn a_vmar_handle_moves_between_tables() {
    let (mut s, t, _, r) = setup_vmar();
    let u = s.create_table(object::Quota::default()).unwrap();
    let (h, _) = s.task(t).vmar_allocate(r, ALL_CAN, 0, 4 * PAGE).unwrap();
    let moved = s.task(t).handle_transfer(h, u).unwrap();
    let v = vmo(&mut s, u, 1);
    s.task(u).vmar_map(moved, RW, 0, v, 0, PAGE).unwrap();
    let narrowed = s
        .task(u)
        .handle_replace(moved, ZX_DEFAULT_VMAR_RIGHTS | ZX_RIGHT_READ)
        .unwrap();
    assert_eq!(
        s.task(u).vmar_map(narrowed, RW, 0, v, 0, PAGE),
        Err(ZX_ERR_ACCESS_DENIED)
    );
}

#[test]
fn a_vmar_is_not_waitable() {
    let (mut s, t, _, r) = setup_vmar();
    assert_eq!(s.task(t).object_signals(r), Err(ZX_ERR_NOT_SUPPORTED));
    assert_eq!(s.task(t).object_get_info_handle_basic(r).unwrap().props, 0);
}

// ---- leaks ----

#[test]
fn closing_everything_and_destroying_vmars_returns_every_frame() {
    let (mut s, t, root, r) = setup_vmar();
    let (h, _) = s.task(t).vmar_allocate(r, ALL_CAN, 0, 64 * PAGE).unwrap();
    let p = filled_vmo(&mut s, t, 4);
    let c = cow_child(&mut s, t, p, PAGE, 4 * PAGE);
    let a = s.task(t).vmar_map(h, RW, 0, c, 0, 4 * PAGE).unwrap();
    let b = s.task(t).vmar_map(h, RW, 0, p, 0, 4 * PAGE).unwrap();
    for i in 0..4 {
        store(&mut s, root, a + i * PAGE, 1).unwrap();
        load(&mut s, root, b + i * PAGE).unwrap();
    }
    s.task(t).vmar_unmap(h, a + PAGE, PAGE).unwrap();
    s.task(t).vmar_protect(h, R, b + PAGE, PAGE).unwrap();
    for x in [p, c] {
        s.task(t).handle_close(x).unwrap();
    }
    assert!(s.platform().live_frames() > 0);
    s.task(t).vmar_destroy(h).unwrap();
    s.task(t).handle_close(h).unwrap();
    assert_eq!(s.platform().live_frames(), 0);
    assert_eq!(s.platform().mapped_pages(), 0);
    assert_eq!(s.vmo_count(), 0);
    assert_eq!(s.mapping_count(), 0);
    assert_eq!(s.vmar_count(), 1);
    assert_eq!(s.committed_pages(t), Some(0));
}

// ---- failure injection ----

#[test]
fn fault_with_no_frame_is_no_memory_and_commits_nothing() {
    let (mut s, t, root, r) = setup_vmar();
    let p = filled_vmo(&mut s, t, 1);
    let c = cow_child(&mut s, t, p, 0, PAGE);
    let a = s.task(t).vmar_map(r, RW, 0, c, 0, PAGE).unwrap();
    s.platform().fail_after(Some(0));
    assert_eq!(s.vmar_fault(root, a, Access::Write), Err(ZX_ERR_NO_MEMORY));
    assert_eq!(committed_pages(&mut s, t, c), 0);
    assert_eq!(s.platform().pte(a), None);
}

#[test]
fn fault_with_no_table_page_is_no_memory_and_commits_nothing() {
    let (mut s, t, root, r) = setup_vmar();
    let p = filled_vmo(&mut s, t, 1);
    let c = cow_child(&mut s, t, p, 0, PAGE);
    let a = s.task(t).vmar_map(r, RW, 0, c, 0, PAGE).unwrap();
    let frames = s.platform().live_frames();
    s.platform().map_fail_after(Some(0));
    assert_eq!(s.vmar_fault(root, a, Access::Write), Err(ZX_ERR_NO_MEMORY));
    assert_eq!(committed_pages(&mut s, t, c), 0);
    assert_eq!(s.platform().live_frames(), frames);
    assert_eq!(s.platform().pte(a), None);
    store(&mut s, root, a, 2).unwrap();
    assert_eq!(byte(&mut s, t, p, 0), 1);
}

#[test]
fn fault_over_the_commit_quota_is_no_memory() {
    let (mut s, _, root, _) = setup_vmar();
    let u = table_with(&mut s, 16, 1);
    let ru = s
        .install_vmar(u, root, object::vmar_rights(ZX_VM_CAN_MAP_RWX))
        .unwrap();
    let v = s.task(u).vmo_create(2 * PAGE, 0).unwrap();
    let a = s.task(u).vmar_map(ru, RW, 0, v, 0, 2 * PAGE).unwrap();
    store(&mut s, root, a, 1).unwrap();
    assert_eq!(store(&mut s, root, a + PAGE, 1), Err(ZX_ERR_NO_MEMORY));
}

/// Runs `f` with the Nth object allocation failing, for every N until none
/// fires; each failing run must be NO_MEMORY and leave `snapshot` unchanged.
fn every_allocation_failure<T: PartialEq + std::fmt::Debug>(
    build: impl Fn() -> (Space, object::TableId, Handle, u64),
    snapshot: impl Fn(&mut Space, object::TableId) -> T,
    f: impl Fn(&mut Space, object::TableId, Handle, u64) -> Result<(), Status>,
) -> u64 {
    let mut n = 0;
    loop {
        let (mut s, t, r, a) = build();
        let before = snapshot(&mut s, t);
        s.mem().fail_after(Some(n));
        let got = f(&mut s, t, r, a);
        if !s.mem().failure_pending() {
            assert_eq!(got, Err(ZX_ERR_NO_MEMORY), "failure {n}");
            assert_eq!(snapshot(&mut s, t), before, "failure {n} changed state");
            n += 1;
        } else {
            s.mem().fail_after(None);
            assert_eq!(got, Ok(()));
            return n;
        }
    }
}

/// What a failed call must leave unchanged: each page's mapping, and record counts.
type Layout = (Vec<(u64, Option<(u64, u64, u32)>)>, usize, usize, usize);

fn layout(s: &mut Space, t: object::TableId) -> Layout {
    let root_handle = s.table(t).unwrap().handles().next().unwrap();
    let (root, _) = s.vmar_of(t, root_handle).unwrap();
    let pages: Vec<_> = (0..8)
        .map(|p| {
            let va = B + p * PAGE;
            (
                va,
                s.vmar_lookup(root, va).map(|m| (m.base, m.len, m.perms)),
            )
        })
        .collect();
    (
        pages,
        s.mapping_count(),
        s.vmar_count(),
        s.table(t).unwrap().len() as usize,
    )
}

fn built() -> (Space, object::TableId, Handle, u64) {
    let (mut s, t, _, r) = setup_vmar();
    let v = filled_vmo(&mut s, t, 4);
    let a = map_at(&mut s, t, r, B + 2 * PAGE, v, 0, 4 * PAGE, RW);
    s.task(t).handle_close(v).unwrap();
    (s, t, r, a)
}

#[test]
fn every_failing_allocation_in_unmap_is_no_memory_and_changes_nothing() {
    let n = every_allocation_failure(built, layout, |s, t, r, a| {
        s.task(t).vmar_unmap(r, a + PAGE, PAGE)
    });
    assert!(n >= 2, "{n}");
}

#[test]
fn every_failing_allocation_in_protect_is_no_memory_and_changes_nothing() {
    let n = every_allocation_failure(built, layout, |s, t, r, a| {
        s.task(t).vmar_protect(r, R, a + PAGE, PAGE)
    });
    assert!(n >= 2, "{n}");
}

#[test]
fn every_failing_allocation_in_map_is_no_memory_and_changes_nothing() {
    let n = every_allocation_failure(built, layout, |s, t, r, _| {
        let v = s.task(t).vmo_create(PAGE, 0)?;
        let got = s.task(t).vmar_map(r, R, 0, v, 0, PAGE).map(drop);
        s.task(t).handle_close(v)?;
        got
    });
    assert!(n >= 2, "{n}");
}

#[test]
fn every_failing_allocation_in_overwrite_is_no_memory_and_changes_nothing() {
    let n = every_allocation_failure(built, layout, |s, t, r, a| {
        let v = s.task(t).vmo_create(PAGE, 0)?;
        let got = s
            .task(t)
            .vmar_map(r, R | ZX_VM_SPECIFIC_OVERWRITE, a + PAGE - B, v, 0, PAGE)
            .map(drop);
        s.task(t).handle_close(v)?;
        got
    });
    assert!(n >= 2, "{n}");
}

#[test]
fn every_failing_allocation_in_allocate_is_no_memory_and_changes_nothing() {
    let n = every_allocation_failure(built, layout, |s, t, r, _| {
        s.task(t).vmar_allocate(r, 0, 0, PAGE).map(drop)
    });
    assert!(n >= 2, "{n}");
}

// ---- error precedence ----

/// A second handle to `h`'s VMAR with READ, WRITE and EXECUTE whatever
/// its CAN_MAP_* (as the kernel's own install may give), so that the
/// VMAR's permissions, not the handle's rights, are what refuse.
fn all_rights(s: &mut Space, t: object::TableId, h: Handle) -> Handle {
    let (id, _) = s.vmar_of(t, h).unwrap();
    s.install_vmar(t, id, object::vmar_rights(ZX_VM_CAN_MAP_RWX))
        .unwrap()
}
//
// The pages list errors without an order; where several apply these
// follow the era's kernel (`sys_vmar_map` / `sys_vmar_protect` /
// `sys_vmar_allocate`, then the VMAR's own checks).

#[test]
fn map_errors_come_in_the_era_kernels_order() {
    let (mut s, t, _, r) = setup_vmar();
    let v = vmo(&mut s, t, 1);
    let fixed = s.task(t).vmo_create(PAGE, ZX_VMO_NON_RESIZABLE).unwrap();
    let no_map = dup(&mut s, t, v, ZX_RIGHT_READ | ZX_RIGHT_WRITE);
    let ro = dup(&mut s, t, v, ZX_RIGHT_MAP | ZX_RIGHT_READ);
    let (dead, _) = s.task(t).vmar_allocate(r, ALL_CAN, 0, 4 * PAGE).unwrap();
    s.task(t).vmar_destroy(dead).unwrap();
    let (no_spec, _) = s
        .task(t)
        .vmar_allocate(r, ZX_VM_CAN_MAP_RWX, 0, 4 * PAGE)
        .unwrap();
    let (read_only, _) = s
        .task(t)
        .vmar_allocate(r, ZX_VM_CAN_MAP_READ | ZX_VM_CAN_MAP_SPECIFIC, 0, 4 * PAGE)
        .unwrap();
    let read_only = all_rights(&mut s, t, read_only);
    let nrs = ZX_VM_REQUIRE_NON_RESIZABLE;
    let mut task = s.task(t);
    let cases = [
        // The VMO's MAP right first, before any option.
        (
            r,
            ZX_VM_PERM_WRITE,
            0,
            no_map,
            0,
            PAGE,
            ZX_ERR_ACCESS_DENIED,
        ),
        // The permissions' combination, before the rights.
        (r, ZX_VM_PERM_WRITE, 0, ro, 0, PAGE, ZX_ERR_INVALID_ARGS),
        // The rights, before the other options.
        (r, RW | 1 << 20, 0, ro, 0, PAGE, ZX_ERR_ACCESS_DENIED),
        (r, RW | nrs, 0, ro, 0, PAGE, ZX_ERR_ACCESS_DENIED),
        // Other options, before REQUIRE_NON_RESIZABLE.
        (
            r,
            R | nrs | ZX_VM_COMPACT,
            0,
            v,
            0,
            PAGE,
            ZX_ERR_INVALID_ARGS,
        ),
        // REQUIRE_NON_RESIZABLE, before the VMO offset and the VMAR's state.
        (r, R | nrs, 0, v, 1, PAGE, ZX_ERR_NOT_SUPPORTED),
        (dead, R | nrs, 0, v, 0, PAGE, ZX_ERR_NOT_SUPPORTED),
        // The VMO offset, before the VMAR's state.
        (dead, R | nrs, 0, fixed, 1, PAGE, ZX_ERR_INVALID_ARGS),
        (
            dead,
            R,
            0,
            v,
            u64::MAX - PAGE + 1,
            2 * PAGE,
            ZX_ERR_INVALID_ARGS,
        ),
        // The state, before the length.
        (dead, R, 0, v, 0, 0, ZX_ERR_BAD_STATE),
        // The length, before the VMAR's CAN_MAP_*.
        (read_only, RW, 0, v, 0, 0, ZX_ERR_INVALID_ARGS),
        // CAN_MAP_*, before the placement.
        (read_only, RW, PAGE, v, 0, PAGE, ZX_ERR_ACCESS_DENIED),
        // CAN_MAP_SPECIFIC, before the offset's alignment and the range.
        (
            no_spec,
            R | ZX_VM_SPECIFIC,
            1,
            v,
            0,
            PAGE,
            ZX_ERR_ACCESS_DENIED,
        ),
        (
            no_spec,
            R | ZX_VM_SPECIFIC,
            8 * PAGE,
            v,
            0,
            PAGE,
            ZX_ERR_ACCESS_DENIED,
        ),
        (
            no_spec,
            R | ZX_VM_SPECIFIC_OVERWRITE,
            8 * PAGE,
            v,
            0,
            PAGE,
            ZX_ERR_ACCESS_DENIED,
        ),
    ];
    for (i, &(vmar, options, offset, vmo, vmo_offset, len, want)) in cases.iter().enumerate() {
        assert_eq!(
            task.vmar_map(vmar, options, offset, vmo, vmo_offset, len),
            Err(want),
            "case {i}"
        );
    }
}

#[test]
fn protect_errors_come_in_the_era_kernels_order() {
    let (mut s, t, root, _) = setup_vmar();
    // A handle with every right to a VMAR that may only map readable, so
    // the VMAR's own CAN_MAP_* is what refuses.
    let (child, base) = s
        .vmar_create_child(
            root,
            ZX_VM_CAN_MAP_READ | ZX_VM_CAN_MAP_SPECIFIC,
            0,
            8 * PAGE,
        )
        .unwrap();
    let h = s
        .install_vmar(t, child, object::vmar_rights(ZX_VM_CAN_MAP_RWX))
        .unwrap();
    let v = vmo(&mut s, t, 1);
    s.task(t)
        .vmar_map(h, R | ZX_VM_SPECIFIC, 2 * PAGE, v, 0, PAGE)
        .unwrap();
    let weak = dup(&mut s, t, h, ZX_DEFAULT_VMAR_RIGHTS | ZX_RIGHT_READ);
    let mut task = s.task(t);
    // The handle's rights, before the combination.
    assert_eq!(
        task.vmar_protect(weak, ZX_VM_PERM_WRITE, base, PAGE),
        Err(ZX_ERR_ACCESS_DENIED)
    );
    // The combination, before the range.
    assert_eq!(
        task.vmar_protect(h, ZX_VM_PERM_WRITE, base, 0),
        Err(ZX_ERR_INVALID_ARGS)
    );
    // The range's shape and place, before what the VMAR allows.
    assert_eq!(task.vmar_protect(h, RW, base, 0), Err(ZX_ERR_INVALID_ARGS));
    assert_eq!(
        task.vmar_protect(h, RW, base + 7 * PAGE, 2 * PAGE),
        Err(ZX_ERR_INVALID_ARGS)
    );
    // In address order: a gap before the mapping is NOT_FOUND, the
    // mapping itself ACCESS_DENIED.
    assert_eq!(
        task.vmar_protect(h, RW, base + PAGE, 2 * PAGE),
        Err(ZX_ERR_NOT_FOUND)
    );
    assert_eq!(
        task.vmar_protect(h, RW, base + 2 * PAGE, 2 * PAGE),
        Err(ZX_ERR_ACCESS_DENIED)
    );
    assert_eq!(
        task.vmar_protect(h, RW, base + 2 * PAGE, PAGE),
        Err(ZX_ERR_ACCESS_DENIED)
    );
    task.vmar_protect(h, R, base + 2 * PAGE, PAGE).unwrap();
    // Destroyed: the state, before what the VMAR allows.
    task.vmar_destroy(h).unwrap();
    assert_eq!(
        task.vmar_protect(h, RW, base + 2 * PAGE, PAGE),
        Err(ZX_ERR_BAD_STATE)
    );
}

#[test]
fn allocate_errors_come_in_the_era_kernels_order() {
    let (mut s, t, _, r) = setup_vmar();
    let (dead, _) = s.task(t).vmar_allocate(r, ALL_CAN, 0, 4 * PAGE).unwrap();
    s.task(t).vmar_destroy(dead).unwrap();
    let (no_spec, _) = s
        .task(t)
        .vmar_allocate(r, ZX_VM_CAN_MAP_READ, 0, 4 * PAGE)
        .unwrap();
    let no_spec = all_rights(&mut s, t, no_spec);
    let weak = dup(&mut s, t, r, ZX_DEFAULT_VMAR_RIGHTS | ZX_RIGHT_READ);
    let mut task = s.task(t);
    let cases = [
        // The handle's rights, before the options.
        (
            weak,
            ZX_VM_CAN_MAP_WRITE | ZX_VM_PERM_READ,
            0,
            PAGE,
            ZX_ERR_ACCESS_DENIED,
        ),
        // The options and the size's alignment, before the state.
        (dead, ZX_VM_PERM_READ, 0, PAGE, ZX_ERR_INVALID_ARGS),
        (dead, ZX_VM_CAN_MAP_READ, 0, PAGE + 1, ZX_ERR_INVALID_ARGS),
        // The state, before a zero size.
        (dead, ZX_VM_CAN_MAP_READ, 0, 0, ZX_ERR_BAD_STATE),
        // A zero size, before the parent's CAN_MAP_*.
        (no_spec, ZX_VM_CAN_MAP_WRITE, 0, 0, ZX_ERR_INVALID_ARGS),
        // CAN_MAP_*, before the placement.
        (
            no_spec,
            ZX_VM_CAN_MAP_WRITE,
            PAGE,
            PAGE,
            ZX_ERR_ACCESS_DENIED,
        ),
        // An offset without SPECIFIC, before CAN_MAP_SPECIFIC.
        (no_spec, ZX_VM_CAN_MAP_READ, PAGE, PAGE, ZX_ERR_INVALID_ARGS),
        // CAN_MAP_SPECIFIC, before the offset's alignment and the range.
        (no_spec, ZX_VM_SPECIFIC, 1, PAGE, ZX_ERR_ACCESS_DENIED),
        (
            no_spec,
            ZX_VM_SPECIFIC,
            8 * PAGE,
            PAGE,
            ZX_ERR_ACCESS_DENIED,
        ),
    ];
    for (i, &(parent, options, offset, size, want)) in cases.iter().enumerate() {
        assert_eq!(
            task.vmar_allocate(parent, options, offset, size).map(drop),
            Err(want),
            "case {i}"
        );
    }
}
