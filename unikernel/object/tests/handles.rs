//! Handle tables: values, duplicate, replace, close, transfer, quotas.

mod common;
use abi::*;
use common::*;
use object::handle::CHUNK;
use object::{Quota, TableId, MAX_HANDLES_PER_TABLE};

#[test]
fn handle_values_have_the_fixed_low_bits_and_are_never_invalid() {
    let (mut s, t) = setup();
    for _ in 0..100 {
        let h = s.task(t).event_create(0).unwrap();
        assert_ne!(h, ZX_HANDLE_INVALID);
        assert_eq!(h & ZX_HANDLE_FIXED_BITS_MASK, ZX_HANDLE_FIXED_BITS_MASK);
    }
}

#[test]
fn a_closed_handle_value_is_not_reused_by_the_next_handle() {
    let (mut s, t) = setup();
    let a = s.task(t).event_create(0).unwrap();
    s.task(t).handle_close(a).unwrap();
    let b = s.task(t).event_create(0).unwrap();
    assert_ne!(a, b);
    assert_eq!(s.task(t).handle_close(a), Err(ZX_ERR_BAD_HANDLE));
}

#[test]
fn tables_with_different_secrets_give_different_values() {
    let (mut s, t) = setup();
    let u = s.create_table(Quota::default()).unwrap();
    let a = s.task(t).event_create(0).unwrap();
    let b = s.task(u).event_create(0).unwrap();
    assert_ne!(a, b);
    assert_eq!(
        s.task(u).object_get_info_handle_basic(a),
        Err(ZX_ERR_BAD_HANDLE)
    );
}

#[test]
fn closing_handle_invalid_is_ok() {
    let (mut s, t) = setup();
    assert_eq!(s.task(t).handle_close(ZX_HANDLE_INVALID), Ok(()));
}

#[test]
fn closing_a_handle_twice_is_bad_handle() {
    let (mut s, t, h) = setup_vmo();
    s.task(t).handle_close(h).unwrap();
    assert_eq!(s.task(t).handle_close(h), Err(ZX_ERR_BAD_HANDLE));
}

#[test]
fn duplicate_with_same_rights_names_the_same_object() {
    let (mut s, t, h) = setup_filled(1);
    let d = dup(&mut s, t, h, ZX_RIGHT_SAME_RIGHTS);
    let (bh, bd) = (
        s.task(t).object_get_info_handle_basic(h).unwrap(),
        s.task(t).object_get_info_handle_basic(d).unwrap(),
    );
    assert_eq!(bh.koid, bd.koid);
    assert_eq!(bh.rights, bd.rights);
    s.task(t).handle_close(h).unwrap();
    assert_eq!(byte(&mut s, t, d, 0), 1);
}

#[test]
fn duplicate_with_fewer_rights_gets_exactly_those() {
    let (mut s, t, h) = setup_vmo();
    let d = dup(&mut s, t, h, ZX_RIGHT_READ | ZX_RIGHT_DUPLICATE);
    assert_eq!(
        s.task(t).object_get_info_handle_basic(d).unwrap().rights,
        ZX_RIGHT_READ | ZX_RIGHT_DUPLICATE
    );
}

#[test]
fn duplicate_with_no_rights_is_allowed() {
    let (mut s, t, h) = setup_vmo();
    let d = dup(&mut s, t, h, 0);
    assert_eq!(s.task(t).object_get_info_handle_basic(d).unwrap().rights, 0);
}

#[test]
fn duplicate_asking_for_more_rights_is_invalid_args() {
    let (mut s, t, h) = setup_vmo();
    let d = dup(&mut s, t, h, ZX_RIGHT_DUPLICATE);
    assert_eq!(
        s.task(t)
            .handle_duplicate(d, ZX_RIGHT_DUPLICATE | ZX_RIGHT_READ),
        Err(ZX_ERR_INVALID_ARGS)
    );
}

#[test]
fn duplicate_without_the_duplicate_right_is_access_denied() {
    let (mut s, t, h) = setup_vmo();
    let d = dup(&mut s, t, h, ZX_RIGHT_READ);
    assert_eq!(
        s.task(t).handle_duplicate(d, ZX_RIGHT_READ),
        Err(ZX_ERR_ACCESS_DENIED)
    );
}

#[test]
fn replace_needs_no_right_and_invalidates_the_old_handle() {
    let (mut s, t, h) = setup_vmo();
    let none = dup(&mut s, t, h, 0);
    let r = s
        .task(t)
        .handle_replace(none, ZX_RIGHT_SAME_RIGHTS)
        .unwrap();
    assert_eq!(s.task(t).handle_close(none), Err(ZX_ERR_BAD_HANDLE));
    assert_eq!(s.task(t).object_get_info_handle_basic(r).unwrap().rights, 0);
}

#[test]
fn replace_with_fewer_rights_gets_exactly_those() {
    let (mut s, t, h) = setup_vmo();
    let r = s.task(t).handle_replace(h, ZX_RIGHT_READ).unwrap();
    assert_eq!(
        s.task(t).object_get_info_handle_basic(r).unwrap().rights,
        ZX_RIGHT_READ
    );
    assert_eq!(s.vmo_count(), 1);
}

#[test]
fn replace_asking_for_more_rights_is_invalid_args_and_invalidates_the_handle() {
    let (mut s, t, h) = setup_vmo();
    let d = dup(&mut s, t, h, ZX_RIGHT_READ);
    assert_eq!(
        s.task(t).handle_replace(d, ZX_RIGHT_WRITE),
        Err(ZX_ERR_INVALID_ARGS)
    );
    assert_eq!(s.task(t).handle_close(d), Err(ZX_ERR_BAD_HANDLE));
}

#[test]
fn transfer_moves_a_handle_to_another_table() {
    let (mut s, t) = setup();
    let u = s.create_table(Quota::default()).unwrap();
    let h = filled_vmo(&mut s, t, 1);
    let moved = s.task(t).handle_transfer(h, u).unwrap();
    assert_eq!(s.task(t).vmo_get_size(h), Err(ZX_ERR_BAD_HANDLE));
    assert_eq!(byte(&mut s, u, moved, 0), 1);
}

#[test]
fn transfer_needs_the_transfer_right() {
    let (mut s, t) = setup();
    let u = s.create_table(Quota::default()).unwrap();
    let h = s.task(t).vmo_create(PAGE, 0).unwrap();
    let d = dup(&mut s, t, h, ZX_RIGHT_READ);
    assert_eq!(s.task(t).handle_transfer(d, u), Err(ZX_ERR_ACCESS_DENIED));
}

#[test]
fn handle_quota_exhaustion_is_no_memory() {
    let (mut s, _) = setup();
    let t = table_with(&mut s, 2, 1);
    let h = s.task(t).vmo_create(PAGE, 0).unwrap();
    s.task(t).handle_duplicate(h, ZX_RIGHT_SAME_RIGHTS).unwrap();
    assert_eq!(
        s.task(t).handle_duplicate(h, ZX_RIGHT_SAME_RIGHTS),
        Err(ZX_ERR_NO_MEMORY)
    );
    assert_eq!(s.task(t).vmo_create(PAGE, 0), Err(ZX_ERR_NO_MEMORY));
    assert_eq!(s.vmo_count(), 1);
}

#[test]
fn destroying_a_table_closes_its_handles_and_frees_pages() {
    let (mut s, t, h) = setup_filled(2);
    let _c = cow_child(&mut s, t, h, 0, PAGE);
    s.task(t).event_create(0).unwrap();
    s.destroy_table(t).unwrap();
    assert_eq!(s.vmo_count(), 0);
    assert_eq!(s.event_count(), 0);
    assert_eq!(s.platform().live_frames(), 0);
}

#[test]
fn handle_basic_info_reports_koid_rights_and_type() {
    let (mut s, t) = setup();
    let e = s.task(t).event_create(0).unwrap();
    let b = s.task(t).object_get_info_handle_basic(e).unwrap();
    assert_eq!(b.obj_type, ZX_OBJ_TYPE_EVENT);
    assert_eq!(b.rights, ZX_DEFAULT_EVENT_RIGHTS);
    assert_ne!(b.koid, ZX_KOID_INVALID);
    assert_eq!(b.props, ZX_OBJ_PROP_WAITABLE);
}

#[test]
fn replace_works_with_the_handle_quota_full() {
    let (mut s, _) = setup();
    let t = table_with(&mut s, 1, 1);
    let h = s.task(t).vmo_create(PAGE, 0).unwrap();
    let r = s.task(t).handle_replace(h, ZX_RIGHT_READ).unwrap();
    assert_ne!(r, h);
    assert_eq!(s.task(t).vmo_get_size(r), Ok(PAGE));
}

// ---- chunks and teardown ----

fn big_table(s: &mut Space, max: u32) -> object::TableId {
    s.create_table(Quota {
        max_handles: max,
        ..Quota::default()
    })
    .unwrap()
}

#[test]
fn the_table_grows_one_chunk_at_a_time_and_reuses_freed_slots() {
    let (mut s, _) = setup();
    let t = big_table(&mut s, 4096);
    let e = s.task(t).event_create(0).unwrap();
    let mut hs = vec![e];
    for _ in 1..1000 {
        hs.push(s.task(t).handle_duplicate(e, ZX_RIGHT_SAME_RIGHTS).unwrap());
    }
    let table = s.table(t).unwrap();
    assert_eq!(
        (table.slot_count(), table.chunk_count()),
        (1000, 1000usize.div_ceil(CHUNK))
    );
    for h in hs.drain(1..) {
        s.task(t).handle_close(h).unwrap();
    }
    for _ in 1..1000 {
        hs.push(s.task(t).handle_duplicate(e, ZX_RIGHT_SAME_RIGHTS).unwrap());
    }
    let table = s.table(t).unwrap();
    assert_eq!((table.slot_count(), table.chunk_count()), (1000, 4));
    // Every value still names the event, in whichever chunk it lives.
    for &h in &hs {
        assert!(s.task(t).object_get_info_handle_basic(h).is_ok());
    }
    assert_eq!(s.table(t).unwrap().handles().count(), 1000);
}

#[test]
fn a_full_table_spans_its_chunks_and_every_value_is_distinct() {
    let (mut s, _) = setup();
    let t = big_table(&mut s, MAX_HANDLES_PER_TABLE);
    let e = s.task(t).event_create(0).unwrap();
    let mut hs = std::collections::HashSet::from([e]);
    loop {
        match s.task(t).handle_duplicate(e, ZX_RIGHT_SAME_RIGHTS) {
            Ok(h) => assert!(hs.insert(h)),
            Err(st) => {
                assert_eq!(st, ZX_ERR_NO_MEMORY);
                break;
            }
        }
    }
    assert_eq!(hs.len(), MAX_HANDLES_PER_TABLE as usize);
    let table = s.table(t).unwrap();
    assert_eq!(table.chunk_count(), MAX_HANDLES_PER_TABLE as usize / CHUNK);
    s.destroy_table(t).unwrap();
    assert_eq!(s.event_count(), 0);
}

#[test]
fn a_failed_chunk_allocation_changes_nothing() {
    let (mut s, _) = setup();
    let t = big_table(&mut s, 4096);
    let e = s.task(t).event_create(0).unwrap();
    for _ in 1..CHUNK {
        s.task(t).handle_duplicate(e, ZX_RIGHT_SAME_RIGHTS).unwrap();
    }
    // The next handle needs a second chunk.
    s.mem().fail_after(Some(0));
    assert_eq!(
        s.task(t).handle_duplicate(e, ZX_RIGHT_SAME_RIGHTS),
        Err(ZX_ERR_NO_MEMORY)
    );
    assert_eq!(s.table(t).unwrap().len(), CHUNK as u32);
    s.task(t).handle_duplicate(e, ZX_RIGHT_SAME_RIGHTS).unwrap();
    let table = s.table(t).unwrap();
    assert_eq!((table.len(), table.chunk_count()), (CHUNK as u32 + 1, 2));
}

#[test]
fn teardown_steps_visit_only_open_handles() {
    // A table that once held 4,000 handles and now holds 16 ends in 16
    // steps of one handle: the slots once used are not walked.
    let (mut s, _) = setup();
    let t = big_table(&mut s, 4096);
    let e = s.task(t).event_create(0).unwrap();
    let hs: Vec<_> = (1..4000)
        .map(|_| s.task(t).handle_duplicate(e, ZX_RIGHT_SAME_RIGHTS).unwrap())
        .collect();
    // Keep a spread of 15 duplicates plus the event itself.
    for (i, &h) in hs.iter().enumerate() {
        if i % 267 != 0 {
            s.task(t).handle_close(h).unwrap();
        }
    }
    assert_eq!(s.table(t).unwrap().len(), 16);
    for step in 0..16 {
        assert_eq!(s.destroy_table_step(t, 1), Ok(step == 15), "step {step}");
    }
    assert!(s.table(t).is_none());
    assert_eq!(s.event_count(), 0);
}

/// A call on a kernel-owned object checks the handle, then that it names
/// one, then the rights.
#[test]
fn kernel_object_checks_handle_type_then_rights() {
    let (mut s, t) = setup();
    let (task, h) = kernel_object(&mut s, t, ZX_RIGHT_INSPECT | ZX_RIGHT_WAIT);
    let (other, no_inspect) = kernel_object(&mut s, t, ZX_RIGHT_WAIT);
    let e = s.task(t).event_create(0).unwrap();
    let task_view = s.task(t);
    let koid = |r: Result<&TestTask, Status>| r.map(|k| k.koid);
    assert_eq!(
        koid(task_view.kernel_object(h ^ 0x40, ZX_RIGHT_INSPECT)),
        Err(ZX_ERR_BAD_HANDLE)
    );
    assert_eq!(
        koid(task_view.kernel_object(e, ZX_RIGHT_INSPECT)),
        Err(ZX_ERR_WRONG_TYPE)
    );
    assert_eq!(
        koid(task_view.kernel_object(no_inspect, ZX_RIGHT_INSPECT)),
        Err(ZX_ERR_ACCESS_DENIED)
    );
    assert_eq!(
        koid(task_view.kernel_object(h, ZX_RIGHT_INSPECT)),
        Ok(task.koid)
    );
    assert_eq!(koid(task_view.kernel_object(no_inspect, 0)), Ok(other.koid));
}

/// `ZX_INFO_HANDLE_COUNT` through `object_get_info`.
fn handle_count(s: &mut Space, t: TableId, h: Handle) -> Result<u32, Status> {
    let mut buf = [0u8; 4];
    s.task(t)
        .object_get_info(h, ZX_INFO_HANDLE_COUNT, &mut buf)?;
    Ok(u32::from_le_bytes(buf))
}

#[test]
fn handle_count_follows_duplicates_replacements_and_closes_in_every_table() {
    let (mut s, t, h) = setup_vmo();
    let u = s.create_table(Quota::default()).unwrap();
    assert_eq!(handle_count(&mut s, t, h), Ok(1));
    let d = dup(&mut s, t, h, ZX_RIGHT_SAME_RIGHTS);
    assert_eq!(handle_count(&mut s, t, h), Ok(2));
    let moved = s.transfer(t, d, u).unwrap();
    assert_eq!(handle_count(&mut s, t, h), Ok(2));
    assert_eq!(handle_count(&mut s, u, moved), Ok(2));
    let r = s.task(t).handle_replace(h, ZX_RIGHT_SAME_RIGHTS).unwrap();
    assert_eq!(handle_count(&mut s, t, r), Ok(2));
    s.task(u).handle_close(moved).unwrap();
    assert_eq!(handle_count(&mut s, t, r), Ok(1));
}

#[test]
fn handle_count_counts_handles_of_every_kind_not_mappings() {
    let (mut s, t, _, root) = setup_vmar();
    assert_eq!(handle_count(&mut s, t, root), Ok(1));
    let e = s.task(t).event_create(0).unwrap();
    let _e2 = dup(&mut s, t, e, ZX_RIGHT_SAME_RIGHTS);
    assert_eq!(handle_count(&mut s, t, e), Ok(2));
    let p = s.port_create(t, 0).unwrap();
    assert_eq!(handle_count(&mut s, t, p), Ok(1));
    let v = s.task(t).vmo_create(PAGE, 0).unwrap();
    s.task(t)
        .vmar_map(root, ZX_VM_PERM_READ, 0, v, 0, PAGE)
        .unwrap();
    assert_eq!(handle_count(&mut s, t, v), Ok(1));
}

#[test]
fn handle_count_needs_inspect_and_a_record_s_room() {
    let (mut s, t, h) = setup_vmo();
    let blind = dup(&mut s, t, h, ZX_RIGHT_READ);
    assert_eq!(handle_count(&mut s, t, blind), Err(ZX_ERR_ACCESS_DENIED));
    assert_eq!(
        s.task(t)
            .object_get_info(h, ZX_INFO_HANDLE_COUNT, &mut [0; 3]),
        Err(ZX_ERR_BUFFER_TOO_SMALL)
    );
    assert_eq!(handle_count(&mut s, t, 0x1234_5673), Err(ZX_ERR_BAD_HANDLE));
}
