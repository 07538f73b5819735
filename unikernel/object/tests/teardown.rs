//! Teardown in bounded steps and O(1) mapping removal: a VMO's mapping
//! list, VMAR destroy and unmap in steps (objects changing between them),
//! handle tables closed in steps, and the per-task mapping quota.

mod common;

use abi::*;
use common::*;
use object::*;

const SUB_FLAGS: u32 = ZX_VM_CAN_MAP_RWX | ZX_VM_CAN_MAP_SPECIFIC;

/// A task-like table `u` with `quota`, and a sub-VMAR of the root charged
/// to it, with a handle to the sub-VMAR in `u`.
fn task_vmar(s: &mut Space, root: VmarId, quota: Quota) -> (TableId, VmarId, Handle, u64) {
    let u = s.create_table(quota).unwrap();
    let (sub, base) = s.vmar_create_child(root, SUB_FLAGS, 0, 1 << 32).unwrap();
    s.vmar_set_account(sub, u).unwrap();
    let h = s.install_vmar(u, sub, vmar_rights(SUB_FLAGS)).unwrap();
    (u, sub, h, base)
}

/// A space, its root VMAR, a task-like table `u` with a sub-VMAR `sub`
/// (see [`task_vmar`], under the default quota: its handle `h` and base),
/// and a one-page VMO in `u`: `(s, root, u, sub, h, base, vmo)`.
fn task_vmar_and_vmo() -> (Space, VmarId, TableId, VmarId, Handle, u64, Handle) {
    let (mut s, _, root, _) = setup_vmar();
    let (u, sub, h, base) = task_vmar(&mut s, root, Quota::default());
    let vmo = s.task(u).vmo_create(PAGE, 0).unwrap();
    (s, root, u, sub, h, base, vmo)
}

/// Maps page `i` of nothing in particular: one page of `vmo` at page `i` of `vmar`.
fn map_page(s: &mut Space, t: TableId, vmar: Handle, vmo: Handle, i: u64) -> Result<u64, Status> {
    s.task(t)
        .vmar_map(vmar, RW | ZX_VM_SPECIFIC, i * PAGE, vmo, 0, PAGE)
}

/// A sub-VMAR of `parent` (a handle in `t`) at `offset`, `pages` long,
/// that can map anything: its handle and base.
fn sub_vmar(s: &mut Space, t: TableId, parent: Handle, offset: u64, pages: u64) -> (Handle, u64) {
    s.task(t)
        .vmar_allocate(parent, SUB_FLAGS | ZX_VM_SPECIFIC, offset, pages * PAGE)
        .unwrap()
}

fn mappings_charged(s: &Space, t: TableId) -> u32 {
    s.table(t).unwrap().mapping_count()
}

#[test]
fn mapping_list_stays_consistent_whatever_the_removal_order() {
    let (mut s, t, _root, vmar) = setup_vmar();
    let vmo = s.task(t).vmo_create(PAGE, 0).unwrap();
    let n = 600u64;
    for i in 0..n {
        map_page(&mut s, t, vmar, vmo, 2 * i).unwrap();
    }
    assert!(s.mapping_lists_consistent());
    // Unmap in a scrambled order (a full-period step through 0..n).
    let mut left = n;
    for k in 0..n {
        let i = (k * 367) % n;
        s.task(t)
            .vmar_unmap(vmar, ROOT_VMAR_BASE + 2 * i * PAGE, PAGE)
            .unwrap();
        left -= 1;
        assert!(s.mapping_lists_consistent(), "after unmapping {i}");
        assert_eq!(info(&mut s, t, vmo).num_mappings, left);
    }
}

#[test]
fn splitting_and_trimming_keep_the_mapping_list_consistent() {
    let (mut s, t, root, vmar) = setup_vmar();
    let vmo = s.task(t).vmo_create(16 * PAGE, 0).unwrap();
    let va = map_at(&mut s, t, vmar, ROOT_VMAR_BASE, vmo, 0, 16 * PAGE, RW);
    touch(&mut s, root, va, 16 * PAGE);
    // Protect splits in three, unmap punches holes: five records of one VMO.
    s.task(t)
        .vmar_protect(vmar, ZX_VM_PERM_READ, va + 4 * PAGE, 4 * PAGE)
        .unwrap();
    s.task(t).vmar_unmap(vmar, va + 10 * PAGE, PAGE).unwrap();
    s.task(t).vmar_unmap(vmar, va + 12 * PAGE, PAGE).unwrap();
    assert!(s.mapping_lists_consistent());
    assert_eq!(info(&mut s, t, vmo).num_mappings, 5);
    store(&mut s, root, va + 15 * PAGE, 9).unwrap();
    assert_eq!(byte(&mut s, t, vmo, 15 * PAGE), 9);
    s.task(t).vmar_unmap(vmar, va, 16 * PAGE).unwrap();
    assert!(s.mapping_lists_consistent());
    assert_eq!(info(&mut s, t, vmo).num_mappings, 0);
}

/// Seconds to destroy a sub-VMAR holding `n` one-page mappings of one VMO.
fn destroy_many_mappings_of_one_vmo(n: u64) -> f64 {
    let (mut s, t, root, _) = setup_vmar();
    let vmo = s.task(t).vmo_create(PAGE, 0).unwrap();
    let (sub, _) = s.vmar_create_child(root, SUB_FLAGS, 0, 1 << 30).unwrap();
    let h = s.install_vmar(t, sub, vmar_rights(SUB_FLAGS)).unwrap();
    for i in 0..n {
        map_page(&mut s, t, h, vmo, i).unwrap();
    }
    let start = std::time::Instant::now();
    s.vmar_destroy_id(sub).unwrap();
    let took = start.elapsed().as_secs_f64();
    assert_eq!(info(&mut s, t, vmo).num_mappings, 0);
    took
}

#[test]
fn removing_mappings_of_a_much_mapped_vmo_costs_the_same_per_mapping() {
    // With a linear search of the VMO's list, 16x the mappings cost 16x per
    // mapping; with O(1) removal the same (the margin is for timer noise).
    // The two sizes take turns, best of seven each, so a loaded host (the
    // guest tests run beside this) slows both alike rather than one.
    let (mut small, mut large) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..7 {
        small = small.min(destroy_many_mappings_of_one_vmo(2048) / 2048.0);
        large = large.min(destroy_many_mappings_of_one_vmo(32768) / 32768.0);
    }
    assert!(
        large < 4.0 * small,
        "per mapping: {:.0} ns with 32768, {:.0} ns with 2048",
        large * 1e9,
        small * 1e9
    );
}

#[test]
fn vmar_destroy_steps_do_at_most_their_budget() {
    let (mut s, root, u, sub, h, base, vmo) = task_vmar_and_vmo();
    // Mappings directly in the sub-VMAR, and in nested sub-VMARs.
    for i in 0..40 {
        let va = map_page(&mut s, u, h, vmo, 1000 + i).unwrap();
        touch(&mut s, root, va, PAGE);
    }
    let mut inner = h;
    for d in 0..5u64 {
        let size = 256 - 20 * d;
        let (c, addr) = sub_vmar(&mut s, u, inner, 0, size);
        for i in 0..10 {
            let va = map_page(&mut s, u, c, vmo, size - 20 + i).unwrap();
            touch(&mut s, root, va, PAGE);
        }
        assert_eq!(addr, base);
        inner = c;
    }
    assert_eq!(mappings_charged(&s, u), 90);
    s.task(u).vmar_destroy_begin(h).unwrap();
    s.platform().take_unmaps();
    let mut steps = 0;
    loop {
        let mut budget = 7;
        let done = s.vmar_destroy_step(sub, &mut budget);
        assert!(s.platform().take_unmaps().len() <= 7);
        assert!(s.mapping_lists_consistent());
        steps += 1;
        if done {
            break;
        }
        assert_eq!(
            budget, 0,
            "a step that is not the last uses its whole budget"
        );
    }
    // 90 mappings plus entering and leaving six VMARs: at least 14 steps.
    assert!(steps >= 14, "{steps} steps");
    assert_eq!(mappings_charged(&s, u), 0);
    assert_eq!(s.platform().mapped_pages(), 0);
    assert_eq!(info(&mut s, u, vmo).num_mappings, 0);
    assert_eq!(s.vmar_range(sub), None);
}

#[test]
fn a_vmar_being_destroyed_takes_nothing_new() {
    let (mut s, _, u, _, h, _, vmo) = task_vmar_and_vmo();
    for i in 0..4 {
        map_page(&mut s, u, h, vmo, i).unwrap();
    }
    s.task(u).vmar_destroy_begin(h).unwrap();
    assert_eq!(map_page(&mut s, u, h, vmo, 10), Err(ZX_ERR_BAD_STATE));
    assert_eq!(
        s.task(u).vmar_allocate(h, SUB_FLAGS, 0, PAGE).map(|_| ()),
        Err(ZX_ERR_BAD_STATE)
    );
    assert_eq!(s.task(u).vmar_destroy(h), Err(ZX_ERR_BAD_STATE));
    assert_eq!(
        s.task(u).vmar_unmap(h, ROOT_VMAR_BASE, PAGE),
        Err(ZX_ERR_BAD_STATE)
    );
}

#[test]
fn mappings_made_between_steps_in_a_part_not_yet_reached_go_too() {
    let (mut s, _, u, sub, h, _, vmo) = task_vmar_and_vmo();
    let (low, _) = sub_vmar(&mut s, u, h, 0, 64);
    let (high, _) = sub_vmar(&mut s, u, h, 1 << 20, 64);
    for i in 0..8 {
        map_page(&mut s, u, high, vmo, i).unwrap();
    }
    s.task(u).vmar_destroy_begin(h).unwrap();
    let mut budget = 3;
    assert!(!s.vmar_destroy_step(sub, &mut budget));
    // The walk goes down the last child first: `low` is not reached yet and
    // still takes mappings; they go with the rest.
    for i in 0..5 {
        map_page(&mut s, u, low, vmo, i).unwrap();
    }
    assert_eq!(mappings_charged(&s, u), 5 + 8 - 2);
    while !s.vmar_destroy_step(sub, &mut 2) {}
    assert_eq!(mappings_charged(&s, u), 0);
    assert_eq!(info(&mut s, u, vmo).num_mappings, 0);
    assert!(s.mapping_lists_consistent());
}

#[test]
fn interleaved_teardowns_of_nested_vmars_both_finish() {
    let (mut s, _, u, sub, h, _, vmo) = task_vmar_and_vmo();
    let (inner, _) = sub_vmar(&mut s, u, h, 0, 64);
    for i in 0..20 {
        map_page(&mut s, u, inner, vmo, i).unwrap();
        map_page(&mut s, u, h, vmo, 100 + i).unwrap();
    }
    // A `vmar_destroy` of the inner VMAR stops part-way (its thread was
    // preempted); the task ends and tears down the whole sub-VMAR.
    let inner_id = s.vmar_of(u, inner).unwrap().0;
    s.task(u).vmar_destroy_begin(inner).unwrap();
    assert!(!s.vmar_destroy_step(inner_id, &mut 5));
    s.vmar_destroy_begin(sub).unwrap();
    assert!(!s.vmar_destroy_step(sub, &mut 30));
    // The first teardown goes on with what is left and finishes.
    while !s.vmar_destroy_step(inner_id, &mut 4) {}
    while !s.vmar_destroy_step(sub, &mut 4) {}
    assert_eq!(mappings_charged(&s, u), 0);
    assert_eq!(info(&mut s, u, vmo).num_mappings, 0);
    assert!(s.mapping_lists_consistent());
    // Both VMAR records are kept only by their handles now.
    assert_eq!(s.vmar_range(inner_id), None);
    s.destroy_table(u).unwrap();
    assert_eq!(s.vmar_count(), 1, "only the root is left");
}

#[test]
fn unmap_steps_leave_mappings_placed_since_alone() {
    let (mut s, t, _root, vmar) = setup_vmar();
    let vmo = s.task(t).vmo_create(PAGE, 0).unwrap();
    for i in 0..10 {
        map_page(&mut s, t, vmar, vmo, i).unwrap();
    }
    let mut u = s
        .task(t)
        .vmar_unmap_begin(vmar, ROOT_VMAR_BASE, 10 * PAGE)
        .unwrap();
    assert!(!s.vmar_unmap_step(&mut u, &mut 3));
    assert_eq!(info(&mut s, t, vmo).num_mappings, 7);
    // Page 8 was freed by this unmap; a mapping placed there now is not its.
    let kept = map_page(&mut s, t, vmar, vmo, 8).unwrap();
    while !s.vmar_unmap_step(&mut u, &mut 2) {}
    assert_eq!(info(&mut s, t, vmo).num_mappings, 1);
    assert_eq!(
        s.vmar_lookup(s.vmar_of(t, vmar).unwrap().0, kept)
            .map(|m| m.base),
        Some(kept)
    );
    assert!(s.mapping_lists_consistent());
}

#[test]
fn table_teardown_steps_visit_each_slot_once_and_take_no_new_handle() {
    let (mut s, _t) = setup();
    let u = s.create_table(Quota::default()).unwrap();
    let ev = s.event_create(u, 0).unwrap();
    for _ in 0..999 {
        s.duplicate(u, ev, ZX_RIGHT_SAME_RIGHTS).unwrap();
    }
    assert_eq!(s.table(u).unwrap().len(), 1000);
    let mut steps = 0;
    while !s.destroy_table_step(u, 10).unwrap() {
        steps += 1;
        assert_eq!(s.event_create(u, 0), Err(ZX_ERR_BAD_STATE));
        assert_eq!(s.table(u).unwrap().len(), 1000 - 10 * steps);
    }
    assert_eq!(steps, 99, "1000 slots, 10 a step, the last step finishes");
    assert!(s.table(u).is_none());
    assert_eq!(s.event_count(), 0);
}

#[test]
fn mapping_quota_bounds_mappings_and_splits() {
    let (mut s, _t, root) = {
        let (s, t, root, _) = setup_vmar();
        (s, t, root)
    };
    let quota = Quota {
        max_mappings: 4,
        ..Quota::default()
    };
    let (u, sub, h, base) = task_vmar(&mut s, root, quota);
    let vmo = s.task(u).vmo_create(4 * PAGE, 0).unwrap();
    s.task(u)
        .vmar_map(h, RW | ZX_VM_SPECIFIC, 0, vmo, 0, 3 * PAGE)
        .unwrap();
    for i in 10..13 {
        map_page(&mut s, u, h, vmo, i).unwrap();
    }
    assert_eq!(mappings_charged(&s, u), 4);
    assert_eq!(map_page(&mut s, u, h, vmo, 20), Err(ZX_ERR_NO_MEMORY));
    // A split is one more mapping: refused, and nothing changed.
    assert_eq!(
        s.task(u).vmar_protect(h, ZX_VM_PERM_READ, base, PAGE),
        Err(ZX_ERR_NO_MEMORY)
    );
    assert_eq!(
        s.task(u).vmar_unmap(h, base + PAGE, PAGE),
        Err(ZX_ERR_NO_MEMORY)
    );
    assert_eq!(info(&mut s, u, vmo).num_mappings, 4);
    // Unmapping a whole mapping gives its place back.
    s.task(u).vmar_unmap(h, base + 10 * PAGE, PAGE).unwrap();
    assert_eq!(mappings_charged(&s, u), 3);
    s.task(u)
        .vmar_protect(h, ZX_VM_PERM_READ, base, PAGE)
        .unwrap();
    assert_eq!(mappings_charged(&s, u), 4);
    // Sub-VMARs are charged to the same table.
    let (c, _) = s.task(u).vmar_allocate(h, SUB_FLAGS, 0, 16 * PAGE).unwrap();
    assert_eq!(
        s.task(u).vmar_map(c, RW, 0, vmo, 0, PAGE),
        Err(ZX_ERR_NO_MEMORY)
    );
    s.vmar_destroy_id(sub).unwrap();
    assert_eq!(mappings_charged(&s, u), 0);
}

#[test]
fn a_large_populated_mapping_is_unmapped_in_pieces() {
    let (mut s, t, root, vmar) = setup_vmar();
    let pages = 4 * object::vmar::TRIM_PAGES + 3;
    let vmo = s.task(t).vmo_create(pages * PAGE, 0).unwrap();
    let va = map_at(&mut s, t, vmar, ROOT_VMAR_BASE, vmo, 0, pages * PAGE, RW);
    touch(&mut s, root, va, pages * PAGE);
    let mut u = s.task(t).vmar_unmap_begin(vmar, va, pages * PAGE).unwrap();
    s.platform().take_unmaps();
    let mut steps = 0;
    // Each step here has room for one piece: each unmaps at most TRIM_PAGES.
    while !s.vmar_unmap_step(&mut u, &mut 16) {
        steps += 1;
        let unmaps = s.platform().take_unmaps();
        assert!(unmaps
            .iter()
            .all(|&(_, len)| len <= object::vmar::TRIM_PAGES * PAGE));
        // The part still mapped still works.
        assert_eq!(load(&mut s, root, va).unwrap(), 0);
    }
    assert_eq!(steps, 4);
    assert_eq!(s.platform().mapped_pages(), 0);
    assert_eq!(info(&mut s, t, vmo).num_mappings, 0);
}

#[test]
fn a_destroyed_vmo_frees_many_frames_in_steps_when_deferred() {
    let (mut s, t) = setup();
    s.set_deferred_frees(true);
    let small = s
        .task(t)
        .vmo_create(object::vmo::FREE_INLINE as u64 * PAGE, 0)
        .unwrap();
    op(
        &mut s,
        t,
        small,
        ZX_VMO_OP_COMMIT,
        0,
        object::vmo::FREE_INLINE as u64 * PAGE,
    )
    .unwrap();
    let big = s.task(t).vmo_create(1000 * PAGE, 0).unwrap();
    op(&mut s, t, big, ZX_VMO_OP_COMMIT, 0, 1000 * PAGE).unwrap();
    let frames = s.platform().live_frames();
    // A small VMO's frames go at once.
    s.task(t).handle_close(small).unwrap();
    assert_eq!(
        s.platform().live_frames(),
        frames - object::vmo::FREE_INLINE
    );
    assert!(!s.reclaim_pending());
    // A large one is gone at once (count, quota), its frames in steps.
    s.task(t).handle_close(big).unwrap();
    assert_eq!(s.vmo_count(), 0);
    assert_eq!(s.committed_pages(t), Some(0));
    assert!(s.reclaim_pending());
    let mut left = 1000;
    while !s.reclaim_step(&mut 5) {
        let now = s.platform().live_frames() - (frames - object::vmo::FREE_INLINE - 1000);
        assert!(left - now <= 40, "at most 8 frames a unit");
        left = now;
    }
    assert_eq!(
        s.platform().live_frames(),
        frames - object::vmo::FREE_INLINE - 1000
    );
    assert!(!s.reclaim_pending());
}
