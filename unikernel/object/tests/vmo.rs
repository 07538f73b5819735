//! vmo_create / read / write / get_size / set_size / get_info behaviour.

mod common;
use abi::*;
use common::*;

#[test]
fn create_rounds_size_up_to_a_page() {
    let (mut s, t) = setup();
    let h = s.task(t).vmo_create(1, 0).unwrap();
    assert_eq!(s.task(t).vmo_get_size(h), Ok(PAGE));
}

#[test]
fn create_has_default_vmo_rights() {
    let (mut s, t, h) = setup_vmo();
    let basic = s.task(t).object_get_info_handle_basic(h).unwrap();
    assert_eq!(basic.rights, ZX_DEFAULT_VMO_RIGHTS);
    assert_eq!(basic.obj_type, ZX_OBJ_TYPE_VMO);
}

#[test]
fn create_with_unknown_options_is_invalid_args() {
    let (mut s, t) = setup();
    assert_eq!(s.task(t).vmo_create(PAGE, 2), Err(ZX_ERR_INVALID_ARGS));
}

#[test]
fn create_beyond_the_largest_vmo_is_out_of_range() {
    let (mut s, t) = setup();
    assert_eq!(
        s.task(t).vmo_create(ZX_MAX_VMO_SIZE + 1, 0),
        Err(ZX_ERR_OUT_OF_RANGE)
    );
    assert_eq!(s.task(t).vmo_create(u64::MAX, 0), Err(ZX_ERR_OUT_OF_RANGE));
}

#[test]
fn new_vmo_reads_zeros_and_commits_nothing() {
    let (mut s, t) = setup();
    let h = s.task(t).vmo_create(2 * PAGE, 0).unwrap();
    assert_eq!(
        read(&mut s, t, h, 0, 2 * PAGE as usize),
        vec![0; 2 * PAGE as usize]
    );
    assert_eq!(committed_pages(&mut s, t, h), 0);
}

#[test]
fn write_then_read_at_any_byte_offset_round_trips() {
    let (mut s, t) = setup();
    let h = s.task(t).vmo_create(3 * PAGE, 0).unwrap();
    let data: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
    s.task(t).vmo_write(h, &data, 4000).unwrap();
    assert_eq!(read(&mut s, t, h, 4000, 5000), data);
    assert_eq!(committed_pages(&mut s, t, h), 3);
}

#[test]
fn zero_length_read_and_write_at_the_end_succeed() {
    let (mut s, t, h) = setup_vmo();
    assert_eq!(s.task(t).vmo_read(h, &mut [], PAGE), Ok(()));
    assert_eq!(s.task(t).vmo_write(h, &[], PAGE), Ok(()));
    assert_eq!(committed_pages(&mut s, t, h), 0);
}

#[test]
fn zero_length_access_past_the_end_is_out_of_range() {
    let (mut s, t, h) = setup_vmo();
    assert_eq!(
        s.task(t).vmo_read(h, &mut [], PAGE + 1),
        Err(ZX_ERR_OUT_OF_RANGE)
    );
}

#[test]
fn access_crossing_the_end_is_out_of_range_and_writes_nothing() {
    let (mut s, t, h) = setup_vmo();
    assert_eq!(
        s.task(t).vmo_write(h, &[1, 2], PAGE - 1),
        Err(ZX_ERR_OUT_OF_RANGE)
    );
    assert_eq!(
        s.task(t).vmo_read(h, &mut [0; 2], PAGE - 1),
        Err(ZX_ERR_OUT_OF_RANGE)
    );
    assert_eq!(committed_pages(&mut s, t, h), 0);
}

#[test]
fn overflowing_offset_plus_length_is_out_of_range() {
    let (mut s, t, h) = setup_vmo();
    assert_eq!(
        s.task(t).vmo_read(h, &mut [0; 2], u64::MAX),
        Err(ZX_ERR_OUT_OF_RANGE)
    );
}

#[test]
fn read_needs_read_and_write_needs_write() {
    let (mut s, t, h) = setup_vmo();
    let ro = dup(&mut s, t, h, ZX_RIGHT_READ);
    let wo = dup(&mut s, t, h, ZX_RIGHT_WRITE);
    assert_eq!(s.task(t).vmo_write(ro, &[1], 0), Err(ZX_ERR_ACCESS_DENIED));
    assert_eq!(
        s.task(t).vmo_read(wo, &mut [0], 0),
        Err(ZX_ERR_ACCESS_DENIED)
    );
}

#[test]
fn vmo_ops_on_an_event_are_wrong_type() {
    let (mut s, t) = setup();
    let e = s.task(t).event_create(0).unwrap();
    assert_eq!(s.task(t).vmo_read(e, &mut [0], 0), Err(ZX_ERR_WRONG_TYPE));
    assert_eq!(s.task(t).vmo_get_size(e), Err(ZX_ERR_WRONG_TYPE));
    assert_eq!(s.task(t).object_get_info_vmo(e), Err(ZX_ERR_WRONG_TYPE));
}

#[test]
fn set_size_rounds_up_and_grows_with_zeros() {
    let (mut s, t, h) = setup_filled(1);
    s.task(t).vmo_set_size(h, PAGE + 1).unwrap();
    assert_eq!(s.task(t).vmo_get_size(h), Ok(2 * PAGE));
    assert_eq!(byte(&mut s, t, h, PAGE), 0);
}

#[test]
fn shrink_then_grow_reads_zeros_where_data_was() {
    let (mut s, t, h) = setup_filled(2);
    s.task(t).vmo_set_size(h, PAGE).unwrap();
    s.task(t).vmo_set_size(h, 2 * PAGE).unwrap();
    assert_eq!(byte(&mut s, t, h, PAGE), 0);
    assert_eq!(byte(&mut s, t, h, 0), 1);
}

#[test]
fn set_size_on_a_non_resizable_vmo_is_unavailable() {
    let (mut s, t) = setup();
    let h = s.task(t).vmo_create(PAGE, ZX_VMO_NON_RESIZABLE).unwrap();
    assert_eq!(s.task(t).vmo_set_size(h, 2 * PAGE), Err(ZX_ERR_UNAVAILABLE));
}

#[test]
fn set_size_needs_write() {
    let (mut s, t, h) = setup_vmo();
    let ro = dup(&mut s, t, h, ZX_RIGHT_READ);
    assert_eq!(
        s.task(t).vmo_set_size(ro, 2 * PAGE),
        Err(ZX_ERR_ACCESS_DENIED)
    );
}

#[test]
fn set_size_beyond_the_largest_vmo_is_out_of_range() {
    let (mut s, t, h) = setup_vmo();
    assert_eq!(
        s.task(t).vmo_set_size(h, ZX_MAX_VMO_SIZE + PAGE),
        Err(ZX_ERR_OUT_OF_RANGE)
    );
    assert_eq!(s.task(t).vmo_get_size(h), Ok(PAGE));
}

#[test]
fn info_vmo_reports_size_committed_children_and_rights() {
    let (mut s, t, h) = setup_filled(2);
    s.task(t).vmo_set_size(h, 5 * PAGE).unwrap();
    let _a = cow_child(&mut s, t, h, 0, PAGE);
    let _b = cow_child(&mut s, t, h, 0, PAGE);
    let ro = dup(&mut s, t, h, ZX_RIGHT_READ);
    let i = info(&mut s, t, ro);
    assert_eq!(i.size_bytes, 5 * PAGE);
    assert_eq!(i.committed_bytes, 2 * PAGE);
    assert_eq!(i.num_children, 2);
    assert_eq!(i.handle_rights, ZX_RIGHT_READ);
    assert_eq!(i.parent_koid, 0);
    assert_eq!(i.flags, ZX_INFO_VMO_TYPE_PAGED | ZX_INFO_VMO_VIA_HANDLE);
    assert_eq!(i.create_options, ZX_INFO_VMO_CREATE_RESIZABLE);
}

#[test]
fn get_info_copies_the_record_and_rejects_a_small_buffer() {
    let (mut s, t, h) = setup_filled(1);
    let mut buf = [0u8; 112];
    assert_eq!(
        s.task(t).object_get_info(h, ZX_INFO_VMO, &mut buf),
        Ok((1, 1, size_of::<ZxInfoVmo>()))
    );
    assert_eq!(&buf[88..96], &PAGE.to_ne_bytes());
    assert_eq!(
        s.task(t).object_get_info(h, ZX_INFO_VMO, &mut [0; 100]),
        Err(ZX_ERR_BUFFER_TOO_SMALL)
    );
    assert_eq!(
        s.task(t).object_get_info(h, 999, &mut buf),
        Err(ZX_ERR_NOT_SUPPORTED)
    );
}

#[test]
fn closing_the_last_handle_frees_every_page() {
    let (mut s, t, h) = setup_filled(3);
    assert_eq!(s.platform().live_frames(), 3);
    s.task(t).handle_close(h).unwrap();
    assert_eq!(s.platform().live_frames(), 0);
    assert_eq!(s.committed_pages(t), Some(0));
}

#[test]
fn write_out_of_frames_is_no_memory_and_writes_nothing() {
    let (mut s, t) = setup();
    let h = s.task(t).vmo_create(3 * PAGE, 0).unwrap();
    s.platform().limit.set(Some(2));
    assert_eq!(
        s.task(t).vmo_write(h, &[5; 3 * 4096], 0),
        Err(ZX_ERR_NO_MEMORY)
    );
    assert_eq!(committed_pages(&mut s, t, h), 0);
    assert_eq!(s.platform().live_frames(), 0);
}

/// Lookups try the entry after the last one found first; pages that come
/// and go around it must not confuse them.
#[test]
fn reads_find_the_right_pages_after_pages_around_the_last_one_found_go() {
    let (mut s, t, h) = setup_filled(6);
    assert_eq!(byte(&mut s, t, h, 2 * PAGE), 3);
    assert_eq!(byte(&mut s, t, h, 3 * PAGE), 4);
    s.task(t)
        .vmo_op_range(h, ZX_VMO_OP_DECOMMIT, PAGE, 3 * PAGE, &mut [])
        .unwrap();
    assert_eq!(byte(&mut s, t, h, 4 * PAGE), 5);
    assert_eq!(byte(&mut s, t, h, 3 * PAGE), 0);
    assert_eq!(byte(&mut s, t, h, 5 * PAGE), 6);
    assert_eq!(byte(&mut s, t, h, 0), 1);
    put(&mut s, t, h, 2 * PAGE, 9);
    assert_eq!(byte(&mut s, t, h, 2 * PAGE), 9);
    assert_eq!(byte(&mut s, t, h, 4 * PAGE), 5);
}

/// The checks the kernel makes before moving a `vmo_read`/`vmo_write` in
/// rounds, in Zircon's order: handle, type, right, then the range.
#[test]
fn vmo_check_range_reports_handle_type_right_then_range() {
    let (mut s, t) = setup();
    let v = s.task(t).vmo_create(2 * PAGE, 0).unwrap();
    let e = s.task(t).event_create(0).unwrap();
    let read_only = dup(&mut s, t, v, ZX_RIGHT_READ);
    let far = 3 * PAGE;
    let bad = v ^ 0x40;
    for (h, right, offset, len, want) in [
        (bad, ZX_RIGHT_WRITE, far, 1, Err(ZX_ERR_BAD_HANDLE)),
        (e, ZX_RIGHT_WRITE, far, 1, Err(ZX_ERR_WRONG_TYPE)),
        (read_only, ZX_RIGHT_WRITE, far, 1, Err(ZX_ERR_ACCESS_DENIED)),
        (read_only, ZX_RIGHT_READ, far, 1, Err(ZX_ERR_OUT_OF_RANGE)),
        (v, ZX_RIGHT_READ, 1, u64::MAX, Err(ZX_ERR_OUT_OF_RANGE)),
        (v, ZX_RIGHT_WRITE, PAGE, PAGE + 1, Err(ZX_ERR_OUT_OF_RANGE)),
        (v, ZX_RIGHT_WRITE, PAGE, PAGE, Ok(())),
        (v, ZX_RIGHT_READ, 2 * PAGE, 0, Ok(())),
    ] {
        assert_eq!(
            s.task(t).vmo_check_range(h, right, offset, len),
            want,
            "handle {h:#x}, right {right:#x}, {len:#x} bytes at {offset:#x}"
        );
    }
}
