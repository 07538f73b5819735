//! Ports and async waits: the queue, ONCE and REPEATING, cancel, handles
//! closed while waits are armed, and the bounds.

mod common;
use abi::*;
use common::*;
use object::{
    PortStart, MAX_ASYNC_WAITS_PER_OBJECT, MAX_ASYNC_WAITS_PER_TABLE, MAX_PORT_USER_PACKETS,
};

fn user(key: u64, word: u64) -> PortPacket {
    PortPacket {
        key,
        packet_type: 77,
        status: -5,
        payload: [word, 2, 3, 4],
    }
}

/// The oldest packet, if any (no waiter registered).
fn take(s: &mut Space, t: object::TableId, port: Handle) -> Option<PortPacket> {
    let mut p = PortPacket::default();
    match s.port_wait_begin(t, port, &mut p, || None).unwrap() {
        PortStart::Packet => Some(p),
        PortStart::Empty => None,
        PortStart::Pending(_) => panic!("no waiter was given"),
    }
}

fn event(s: &mut Space, t: object::TableId) -> Handle {
    s.task(t).event_create(0).unwrap()
}

#[test]
fn port_create_gives_the_eras_rights_and_rejects_unknown_options() {
    let (mut s, t) = setup();
    assert_eq!(s.port_create(t, 2), Err(ZX_ERR_INVALID_ARGS));
    let p = s.port_create(t, 0).unwrap();
    let info = s.info_handle_basic(t, p).unwrap();
    assert_eq!(info.rights, ZX_DEFAULT_PORT_RIGHTS);
    assert_eq!(info.obj_type, ZX_OBJ_TYPE_PORT);
    assert_eq!(info.props, 0);
    assert!(s.port_create(t, ZX_PORT_BIND_TO_INTERRUPT).is_ok());
}

#[test]
fn user_packets_come_out_in_fifo_order_with_type_user() {
    let (mut s, t) = setup();
    let p = s.port_create(t, 0).unwrap();
    for i in 0..3 {
        s.port_queue(t, p, &user(i, 10 + i)).unwrap();
    }
    for i in 0..3 {
        let got = take(&mut s, t, p).unwrap();
        assert_eq!(got.key, i);
        assert_eq!(got.packet_type, ZX_PKT_TYPE_USER);
        assert_eq!(got.status, -5);
        assert_eq!(got.payload, [10 + i, 2, 3, 4]);
    }
    assert_eq!(take(&mut s, t, p), None);
}

#[test]
fn user_and_signal_packets_share_one_fifo_order() {
    let (mut s, t) = setup();
    let p = s.port_create(t, 0).unwrap();
    let e = event(&mut s, t);
    s.wait_async(t, e, p, 10, ZX_USER_SIGNAL_0, ZX_WAIT_ASYNC_ONCE)
        .unwrap();
    s.port_queue(t, p, &user(1, 0)).unwrap();
    s.task(t).object_signal(e, 0, ZX_USER_SIGNAL_0).unwrap();
    s.port_queue(t, p, &user(2, 0)).unwrap();
    let keys: Vec<u64> = (0..3).map(|_| take(&mut s, t, p).unwrap().key).collect();
    assert_eq!(keys, [1, 10, 2]);
}

#[test]
fn port_queue_and_wait_check_handle_type_and_rights() {
    let (mut s, t) = setup();
    let p = s.port_create(t, 0).unwrap();
    let e = event(&mut s, t);
    assert_eq!(
        s.port_queue(t, 0x7fff_fff3, &user(0, 0)),
        Err(ZX_ERR_BAD_HANDLE)
    );
    assert_eq!(s.port_queue(t, e, &user(0, 0)), Err(ZX_ERR_WRONG_TYPE));
    let ro = s.duplicate(t, p, ZX_RIGHT_READ).unwrap();
    assert_eq!(s.port_queue(t, ro, &user(0, 0)), Err(ZX_ERR_ACCESS_DENIED));
    let wo = s.duplicate(t, p, ZX_RIGHT_WRITE).unwrap();
    assert_eq!(
        s.port_wait_begin(t, wo, &mut PortPacket::default(), || None),
        Err(ZX_ERR_ACCESS_DENIED)
    );
    assert_eq!(
        s.port_wait_begin(t, e, &mut PortPacket::default(), || None),
        Err(ZX_ERR_WRONG_TYPE)
    );
}

#[test]
fn a_full_port_queue_should_wait_until_a_packet_is_read() {
    let (mut s, t) = setup();
    let p = s.port_create(t, 0).unwrap();
    for i in 0..MAX_PORT_USER_PACKETS as u64 {
        s.port_queue(t, p, &user(i, 0)).unwrap();
    }
    assert_eq!(s.port_queue(t, p, &user(0, 0)), Err(ZX_ERR_SHOULD_WAIT));
    take(&mut s, t, p).unwrap();
    assert_eq!(s.port_queue(t, p, &user(0, 0)), Ok(()));
}

#[test]
fn a_registered_reader_is_woken_once_per_packet_oldest_first() {
    let (mut s, t) = setup();
    let p = s.port_create(t, 0).unwrap();
    assert!(matches!(
        s.port_wait_begin(t, p, &mut PortPacket::default(), || Some(1)),
        Ok(PortStart::Pending(_))
    ));
    assert!(matches!(
        s.port_wait_begin(t, p, &mut PortPacket::default(), || Some(2)),
        Ok(PortStart::Pending(_))
    ));
    s.port_queue(t, p, &user(0, 0)).unwrap();
    assert_eq!(s.platform().take_wakes(), vec![(1, 0)]);
    s.port_queue(t, p, &user(0, 0)).unwrap();
    assert_eq!(s.platform().take_wakes(), vec![(2, 0)]);
}

#[test]
fn a_canceled_reader_that_was_woken_passes_the_wake_up_on() {
    let (mut s, t) = setup();
    let p = s.port_create(t, 0).unwrap();
    let Ok(PortStart::Pending(first)) =
        s.port_wait_begin(t, p, &mut PortPacket::default(), || Some(1))
    else {
        panic!("registered")
    };
    s.port_wait_begin(t, p, &mut PortPacket::default(), || Some(2))
        .unwrap();
    s.port_queue(t, p, &user(0, 0)).unwrap();
    s.platform().take_wakes();
    s.port_wait_cancel(first);
    assert_eq!(s.platform().take_wakes(), vec![(2, 0)]);
}

#[test]
fn closing_the_port_handle_a_reader_waits_through_wakes_it_with_handle_closed() {
    let (mut s, t) = setup();
    let p = s.port_create(t, 0).unwrap();
    s.port_wait_begin(t, p, &mut PortPacket::default(), || Some(9))
        .unwrap();
    s.task(t).handle_close(p).unwrap();
    assert_eq!(
        s.platform().take_wakes(),
        vec![(9, ZX_SIGNAL_HANDLE_CLOSED)]
    );
    assert_eq!(s.port_count(), 0);
}

#[test]
fn wait_async_on_an_asserted_signal_queues_a_packet_at_once() {
    let (mut s, t) = setup();
    let p = s.port_create(t, 0).unwrap();
    let e = event(&mut s, t);
    s.task(t)
        .object_signal(e, 0, ZX_USER_SIGNAL_1 | ZX_EVENT_SIGNALED)
        .unwrap();
    s.wait_async(t, e, p, 42, ZX_EVENT_SIGNALED, ZX_WAIT_ASYNC_ONCE)
        .unwrap();
    let got = take(&mut s, t, p).unwrap();
    assert_eq!(got.key, 42);
    assert_eq!(got.packet_type, ZX_PKT_TYPE_SIGNAL_ONE);
    assert_eq!(got.status, 0);
    assert_eq!(got.trigger(), ZX_EVENT_SIGNALED);
    assert_eq!(got.observed(), ZX_USER_SIGNAL_1 | ZX_EVENT_SIGNALED);
    assert_eq!(got.count(), 1);
    assert_eq!(s.port_item_count(), 0);
    assert_eq!(s.async_waits_of(t), Some(0));
}

#[test]
fn a_once_wait_queues_one_packet_then_ends() {
    let (mut s, t) = setup();
    let p = s.port_create(t, 0).unwrap();
    let e = event(&mut s, t);
    s.wait_async(t, e, p, 1, ZX_USER_SIGNAL_0, ZX_WAIT_ASYNC_ONCE)
        .unwrap();
    assert_eq!(take(&mut s, t, p), None);
    s.task(t).object_signal(e, 0, ZX_USER_SIGNAL_0).unwrap();
    s.task(t).object_signal(e, ZX_USER_SIGNAL_0, 0).unwrap();
    s.task(t).object_signal(e, 0, ZX_USER_SIGNAL_0).unwrap();
    assert_eq!(take(&mut s, t, p).unwrap().observed(), ZX_USER_SIGNAL_0);
    assert_eq!(take(&mut s, t, p), None);
    assert_eq!(s.async_waits_of(t), Some(0));
}

#[test]
fn a_repeating_wait_keeps_one_packet_queued_and_ors_observed_into_it() {
    let (mut s, t) = setup();
    let p = s.port_create(t, 0).unwrap();
    let e = event(&mut s, t);
    let both = ZX_USER_SIGNAL_0 | ZX_USER_SIGNAL_1;
    s.wait_async(t, e, p, 7, both, ZX_WAIT_ASYNC_REPEATING)
        .unwrap();
    s.task(t).object_signal(e, 0, ZX_USER_SIGNAL_0).unwrap();
    s.task(t)
        .object_signal(e, ZX_USER_SIGNAL_0, ZX_USER_SIGNAL_1)
        .unwrap();
    let got = take(&mut s, t, p).unwrap();
    assert_eq!(got.packet_type, ZX_PKT_TYPE_SIGNAL_REP);
    assert_eq!(got.observed(), both);
    assert_eq!(take(&mut s, t, p), None);
    // Still armed: the next change queues a new packet with the signals then.
    s.task(t)
        .object_signal(e, ZX_USER_SIGNAL_1, ZX_USER_SIGNAL_0)
        .unwrap();
    assert_eq!(take(&mut s, t, p).unwrap().observed(), ZX_USER_SIGNAL_0);
    assert_eq!(s.async_waits_of(t), Some(1));
}

#[test]
fn port_cancel_disarms_and_removes_the_queued_packet() {
    let (mut s, t) = setup();
    let p = s.port_create(t, 0).unwrap();
    let e = event(&mut s, t);
    s.wait_async(t, e, p, 5, ZX_USER_SIGNAL_0, ZX_WAIT_ASYNC_REPEATING)
        .unwrap();
    s.port_queue(t, p, &user(5, 0)).unwrap();
    s.task(t).object_signal(e, 0, ZX_USER_SIGNAL_0).unwrap();
    assert_eq!(s.port_cancel(t, p, e, 6), Err(ZX_ERR_NOT_FOUND));
    assert_eq!(s.port_cancel(t, p, e, 5), Ok(()));
    // The user packet with the same key is not the wait's.
    assert_eq!(take(&mut s, t, p).unwrap().packet_type, ZX_PKT_TYPE_USER);
    assert_eq!(take(&mut s, t, p), None);
    s.task(t).object_signal(e, ZX_USER_SIGNAL_0, 0).unwrap();
    s.task(t).object_signal(e, 0, ZX_USER_SIGNAL_0).unwrap();
    assert_eq!(take(&mut s, t, p), None);
    assert_eq!(s.port_cancel(t, p, e, 5), Err(ZX_ERR_NOT_FOUND));
    assert_eq!(s.async_waits_of(t), Some(0));
    assert_eq!(s.port_item_count(), 0);
}

#[test]
fn port_cancel_checks_both_handles() {
    let (mut s, t) = setup();
    let p = s.port_create(t, 0).unwrap();
    let e = event(&mut s, t);
    let ro = s.duplicate(t, p, ZX_RIGHT_READ).unwrap();
    assert_eq!(s.port_cancel(t, ro, e, 0), Err(ZX_ERR_ACCESS_DENIED));
    assert_eq!(s.port_cancel(t, e, e, 0), Err(ZX_ERR_WRONG_TYPE));
    assert_eq!(s.port_cancel(t, p, 0x7fff_fff3, 0), Err(ZX_ERR_BAD_HANDLE));
    let nowait = s.duplicate(t, e, ZX_RIGHT_SIGNAL).unwrap();
    assert_eq!(s.port_cancel(t, p, nowait, 0), Err(ZX_ERR_ACCESS_DENIED));
    assert_eq!(s.port_cancel(t, p, p, 0), Err(ZX_ERR_NOT_SUPPORTED));
}

#[test]
fn wait_async_checks_options_port_and_handle() {
    let (mut s, t) = setup();
    let p = s.port_create(t, 0).unwrap();
    let e = event(&mut s, t);
    assert_eq!(s.wait_async(t, e, p, 0, 1, 2), Err(ZX_ERR_INVALID_ARGS));
    assert_eq!(s.wait_async(t, e, e, 0, 1, 0), Err(ZX_ERR_WRONG_TYPE));
    assert_eq!(
        s.wait_async(t, 0x7fff_fff3, p, 0, 1, 0),
        Err(ZX_ERR_BAD_HANDLE)
    );
    let ro = s.duplicate(t, p, ZX_RIGHT_READ).unwrap();
    assert_eq!(s.wait_async(t, e, ro, 0, 1, 0), Err(ZX_ERR_ACCESS_DENIED));
    let nowait = s.duplicate(t, e, ZX_RIGHT_SIGNAL).unwrap();
    assert_eq!(
        s.wait_async(t, nowait, p, 0, 1, 0),
        Err(ZX_ERR_ACCESS_DENIED)
    );
    // A port is not waitable: not even on itself.
    assert_eq!(s.wait_async(t, p, p, 0, 1, 0), Err(ZX_ERR_NOT_SUPPORTED));
    assert_eq!(s.async_waits_of(t), Some(0));
}

#[test]
fn closing_the_watched_handle_ends_the_wait_but_keeps_its_queued_packet() {
    let (mut s, t) = setup();
    let p = s.port_create(t, 0).unwrap();
    let e = event(&mut s, t);
    let e2 = s.duplicate(t, e, ZX_RIGHT_SAME_RIGHTS).unwrap();
    s.wait_async(t, e, p, 1, ZX_USER_SIGNAL_0, ZX_WAIT_ASYNC_REPEATING)
        .unwrap();
    s.wait_async(t, e, p, 2, ZX_USER_SIGNAL_1, ZX_WAIT_ASYNC_ONCE)
        .unwrap();
    s.task(t).object_signal(e, 0, ZX_USER_SIGNAL_0).unwrap();
    s.task(t).handle_close(e).unwrap();
    assert_eq!(
        s.async_waits_of(t),
        Some(1),
        "only the queued packet's item is left"
    );
    s.task(t).object_signal(e2, 0, ZX_USER_SIGNAL_1).unwrap();
    assert_eq!(take(&mut s, t, p).unwrap().key, 1);
    assert_eq!(take(&mut s, t, p), None);
    assert_eq!(s.async_waits_of(t), Some(0));
    assert_eq!(s.port_item_count(), 0);
}

#[test]
fn closing_the_port_with_waits_armed_and_queued_frees_them_all() {
    let (mut s, t) = setup();
    let p = s.port_create(t, 0).unwrap();
    let e = event(&mut s, t);
    let v = s.task(t).vmo_create(PAGE, 0).unwrap();
    s.wait_async(t, e, p, 1, ZX_USER_SIGNAL_0, ZX_WAIT_ASYNC_REPEATING)
        .unwrap();
    s.wait_async(t, e, p, 2, ZX_USER_SIGNAL_1, ZX_WAIT_ASYNC_ONCE)
        .unwrap();
    s.wait_async(t, v, p, 3, ZX_VMO_ZERO_CHILDREN, ZX_WAIT_ASYNC_REPEATING)
        .unwrap();
    s.port_queue(t, p, &user(4, 0)).unwrap();
    s.task(t).object_signal(e, 0, ZX_USER_SIGNAL_0).unwrap();
    assert_eq!((s.port_count(), s.port_item_count()), (1, 3));
    s.task(t).handle_close(p).unwrap();
    assert_eq!(s.port_count(), 0);
    assert_eq!(s.port_item_count(), 0);
    assert_eq!(s.async_waits_of(t), Some(0));
    // No observer is left behind: signalling and closing are quiet.
    s.task(t).object_signal(e, 0, ZX_USER_SIGNAL_1).unwrap();
    s.task(t).handle_close(e).unwrap();
    s.task(t).handle_close(v).unwrap();
    assert_eq!(s.event_count(), 0);
}

#[test]
fn vmo_zero_children_and_kernel_object_signals_are_sources() {
    let (mut s, t) = setup();
    let p = s.port_create(t, 0).unwrap();
    let v = s.task(t).vmo_create(PAGE, 0).unwrap();
    let child = cow_child(&mut s, t, v, 0, PAGE);
    s.wait_async(t, v, p, 1, ZX_VMO_ZERO_CHILDREN, ZX_WAIT_ASYNC_ONCE)
        .unwrap();
    assert_eq!(take(&mut s, t, p), None);
    s.task(t).handle_close(child).unwrap();
    assert_eq!(take(&mut s, t, p).unwrap().key, 1);
    let (task, h) = kernel_object(&mut s, t, ZX_RIGHTS_BASIC);
    s.wait_async(t, h, p, 2, ZX_TASK_TERMINATED, ZX_WAIT_ASYNC_ONCE)
        .unwrap();
    s.kernel_signal(task.signals, 0, ZX_TASK_TERMINATED);
    let got = take(&mut s, t, p).unwrap();
    assert_eq!((got.key, got.observed()), (2, ZX_TASK_TERMINATED));
}

#[test]
fn async_waits_are_bounded_per_object_and_per_table() {
    let (mut s, t) = setup();
    let p = s.port_create(t, 0).unwrap();
    let e = event(&mut s, t);
    for k in 0..MAX_ASYNC_WAITS_PER_OBJECT as u64 {
        s.wait_async(t, e, p, k, ZX_USER_SIGNAL_0, ZX_WAIT_ASYNC_ONCE)
            .unwrap();
    }
    assert_eq!(
        s.wait_async(t, e, p, 0, ZX_USER_SIGNAL_0, ZX_WAIT_ASYNC_ONCE),
        Err(ZX_ERR_NO_MEMORY)
    );
    let mut made = MAX_ASYNC_WAITS_PER_OBJECT as u32;
    while made < MAX_ASYNC_WAITS_PER_TABLE {
        let e = event(&mut s, t);
        for _ in 0..32 {
            s.wait_async(t, e, p, 0, ZX_USER_SIGNAL_0, ZX_WAIT_ASYNC_ONCE)
                .unwrap();
            made += 1;
        }
    }
    let e = event(&mut s, t);
    assert_eq!(
        s.wait_async(t, e, p, 0, ZX_USER_SIGNAL_0, ZX_WAIT_ASYNC_ONCE),
        Err(ZX_ERR_NO_MEMORY)
    );
    s.task(t).handle_close(p).unwrap();
    assert_eq!(s.async_waits_of(t), Some(0));
}

#[test]
fn wait_async_out_of_memory_changes_nothing() {
    let (mut s, t) = setup();
    let p = s.port_create(t, 0).unwrap();
    let e = event(&mut s, t);
    for n in 0..3 {
        s.mem().fail_after(Some(n));
        assert_eq!(
            s.wait_async(t, e, p, 0, ZX_USER_SIGNAL_0, ZX_WAIT_ASYNC_ONCE),
            Err(ZX_ERR_NO_MEMORY)
        );
        assert_eq!(s.port_item_count(), 0);
        assert_eq!(s.async_waits_of(t), Some(0));
    }
    s.mem().fail_after(None);
}

#[test]
fn destroying_a_table_with_waits_on_another_tables_port_leaves_no_observer() {
    let (mut s, t) = setup();
    let other = s.create_table(object::Quota::default()).unwrap();
    let p = s.port_create(t, 0).unwrap();
    let e = event(&mut s, t);
    let ev_other = s.duplicate(t, e, ZX_RIGHT_SAME_RIGHTS).unwrap();
    let moved = s.transfer(t, ev_other, other).unwrap();
    let port_other = s.duplicate(t, p, ZX_RIGHT_SAME_RIGHTS).unwrap();
    let port_moved = s.transfer(t, port_other, other).unwrap();
    s.wait_async(
        other,
        moved,
        port_moved,
        1,
        ZX_USER_SIGNAL_0,
        ZX_WAIT_ASYNC_REPEATING,
    )
    .unwrap();
    s.destroy_table(other).unwrap();
    s.task(t).object_signal(e, 0, ZX_USER_SIGNAL_0).unwrap();
    assert_eq!(take(&mut s, t, p), None);
    assert_eq!(s.port_item_count(), 0);
}
