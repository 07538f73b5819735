//! Ports and async waits (port.md, zx_port_create.md, zx_port_queue.md,
//! zx_port_wait.md, zx_port_cancel.md, zx_object_wait_async.md): every
//! status of each page, rights, options, deadlines, ONCE against
//! REPEATING, cancel with a packet queued, handles and ports closed with
//! waits armed, the bounds, and kill of a task blocked in `port_wait`.

use super::util::*;
use crate::harness::{Suite, TestResult};
use crate::{check, check_eq, ok, tests};
use abi::{PortPacket, Syscall};
use core::sync::atomic::{AtomicU32, Ordering};
use zx::{
    object_wait_async_raw, AsHandleRef, Duration, Event, Handle, Packet, PacketContents, Port,
    Rights, Signals, Status, Task, TaskEnd, Thread, Time, Timer, UserPacket, Vmo, VmoChildOptions,
    WaitAsyncOpts,
};

pub static SUITE: Suite = Suite {
    name: "ports",
    tests: tests![
        a_new_port_has_the_eras_rights_and_type,
        port_create_with_unknown_options_is_invalid_args,
        port_create_with_a_bad_out_pointer_is_invalid_args,
        user_packets_come_back_in_fifo_order_as_queued,
        port_queue_sets_the_type_to_user,
        port_queue_on_a_bad_handle_is_bad_handle,
        port_queue_on_a_non_port_is_wrong_type,
        port_queue_without_write_is_access_denied,
        port_queue_from_a_bad_pointer_is_invalid_args,
        a_full_port_should_wait_until_a_packet_is_read,
        port_wait_on_a_bad_handle_is_bad_handle,
        port_wait_without_read_is_access_denied,
        port_wait_into_a_bad_pointer_is_invalid_args_and_keeps_the_packet,
        port_wait_with_a_past_deadline_times_out_at_once,
        port_wait_with_a_past_deadline_takes_a_packet_already_there,
        port_wait_times_out_at_its_deadline,
        port_wait_forever_is_woken_by_a_queue_from_another_thread,
        one_waiting_thread_is_released_per_packet,
        closing_the_port_during_port_wait_is_canceled,
        wait_async_once_queues_one_packet,
        wait_async_on_an_asserted_signal_queues_a_packet_at_once,
        wait_async_repeating_keeps_one_packet_and_updates_observed,
        wait_async_repeating_queues_again_after_the_packet_is_read,
        wait_async_with_unknown_options_is_invalid_args,
        wait_async_with_bad_handles_is_bad_handle,
        wait_async_on_a_non_port_is_wrong_type,
        wait_async_without_the_rights_is_access_denied,
        wait_async_on_a_non_waitable_object_is_not_supported,
        a_port_cannot_wait_on_itself,
        port_cancel_with_a_packet_queued_removes_it,
        port_cancel_stops_an_armed_wait,
        port_cancel_with_nothing_matching_is_not_found,
        port_cancel_checks_its_handles,
        closing_the_handle_while_armed_ends_the_wait_and_keeps_the_packet,
        closing_the_port_with_waits_armed_leaves_nothing_behind,
        async_waits_are_bounded_per_object_and_per_task,
        timers_vmos_and_tasks_are_sources,
        kill_ends_a_task_blocked_in_port_wait,
    ],
};

fn after_ms(n: i64) -> Time {
    Time::after(Duration::from_millis(n))
}

fn user(key: u64, word: u64) -> Packet {
    Packet::from_user_packet(key, -3, UserPacket([word, 2, 3, 4]))
}

/// A packet in the image's read-only data: a helper thread queues it.
static LATER_PACKET: PortPacket = PortPacket {
    key: 0x1a7e,
    packet_type: abi::ZX_PKT_TYPE_USER,
    status: 0,
    payload: [1, 2, 3, 4],
};

later_entry!(
    /// Sleeps until the deadline in `x0`, then queues [`LATER_PACKET`] on the
    /// port in `x1`, then exits the thread.
    queue_later_entry,
    [
        "adrp x1, {packet}",
        "add x1, x1, :lo12:{packet}",
        "mov x16, #{queue}",
    ],
    queue = const Syscall::PortQueue as u64,
    packet = sym LATER_PACKET,
);

/// The packet `port_wait` returns at once, if any.
fn poll(port: &Port) -> Result<Packet, Status> {
    port.wait(Time::from_nanos(0))
}

fn signal_packet(p: &Packet) -> Option<(bool, Signals, Signals, u64)> {
    match p.contents() {
        PacketContents::SignalOne(s) => Some((false, s.trigger(), s.observed(), s.count())),
        PacketContents::SignalRep(s) => Some((true, s.trigger(), s.observed(), s.count())),
        _ => None,
    }
}

/// `zx_port_queue` with a raw packet pointer.
fn queue_raw(port: abi::Handle, ptr: u64) -> Status {
    // SAFETY: the kernel only reads through the pointer (or refuses it).
    unsafe { raw(Syscall::PortQueue, [u64::from(port), ptr, 0, 0, 0, 0, 0, 0]) }
}

/// `zx_port_wait` with a raw packet pointer.
fn wait_raw(port: abi::Handle, deadline: Time, ptr: u64) -> Status {
    // SAFETY: the pointers given are refused by the kernel.
    unsafe {
        raw(
            Syscall::PortWait,
            [
                u64::from(port),
                deadline.into_nanos() as u64,
                ptr,
                0,
                0,
                0,
                0,
                0,
            ],
        )
    }
}

fn cancel_raw(port: abi::Handle, source: abi::Handle, key: u64) -> Status {
    // SAFETY: only values are passed.
    unsafe {
        raw(
            Syscall::PortCancel,
            [u64::from(port), u64::from(source), key, 0, 0, 0, 0, 0],
        )
    }
}

fn a_new_port_has_the_eras_rights_and_type() -> TestResult {
    let port = ok!(Port::create());
    let info = ok!(port.basic_info());
    check_eq!(info.rights, abi::ZX_DEFAULT_PORT_RIGHTS);
    check_eq!(
        Rights(info.rights),
        Rights::TRANSFER | Rights::DUPLICATE | Rights::INSPECT | Rights::READ | Rights::WRITE
    );
    check_eq!(info.obj_type, abi::ZX_OBJ_TYPE_PORT);
    check_eq!(info.props, 0, "a port is not waitable");
    // Binding to interrupts is allowed (there are none to bind).
    ok!(Port::create_raw(abi::ZX_PORT_BIND_TO_INTERRUPT));
    Ok(())
}

fn port_create_with_unknown_options_is_invalid_args() -> TestResult {
    for options in [2u32, 0x8000_0000, u32::MAX] {
        check_eq!(Port::create_raw(options), Err(Status::INVALID_ARGS));
    }
    Ok(())
}

fn port_create_with_a_bad_out_pointer_is_invalid_args() -> TestResult {
    for p in foreign_out_ptrs() {
        // SAFETY: the kernel refuses the pointer.
        let st = unsafe { raw(Syscall::PortCreate, [0, p, 0, 0, 0, 0, 0, 0]) };
        check_eq!(st, Status::INVALID_ARGS);
    }
    Ok(())
}

fn user_packets_come_back_in_fifo_order_as_queued() -> TestResult {
    let port = ok!(Port::create());
    for i in 0..4 {
        ok!(port.queue(&user(100 + i, i)));
    }
    for i in 0..4 {
        let p = ok!(port.wait(Time::INFINITE));
        check_eq!(p.key(), 100 + i);
        check_eq!(p.status(), -3);
        check_eq!(p.contents(), PacketContents::User(UserPacket([i, 2, 3, 4])));
    }
    check_eq!(poll(&port), Err(Status::TIMED_OUT));
    Ok(())
}

fn port_queue_sets_the_type_to_user() -> TestResult {
    let port = ok!(Port::create());
    let mut p = user(1, 1);
    p.0.packet_type = abi::ZX_PKT_TYPE_SIGNAL_REP;
    ok!(port.queue(&p));
    check_eq!(ok!(poll(&port)).0.packet_type, abi::ZX_PKT_TYPE_USER);
    Ok(())
}

fn port_queue_on_a_bad_handle_is_bad_handle() -> TestResult {
    let p = user(0, 0);
    check_eq!(
        queue_raw(FORGED_HANDLE, &raw const p.0 as u64),
        Status::BAD_HANDLE
    );
    check_eq!(queue_raw(0, &raw const p.0 as u64), Status::BAD_HANDLE);
    Ok(())
}

fn port_queue_on_a_non_port_is_wrong_type() -> TestResult {
    let e = ok!(Event::create());
    let p = user(0, 0);
    check_eq!(
        queue_raw(e.raw_handle(), &raw const p.0 as u64),
        Status::WRONG_TYPE
    );
    Ok(())
}

fn port_queue_without_write_is_access_denied() -> TestResult {
    let port = ok!(Port::create());
    let ro = Port::from(ok!(port.duplicate_handle(Rights::READ)));
    check_eq!(ro.queue(&user(0, 0)), Err(Status::ACCESS_DENIED));
    Ok(())
}

fn port_queue_from_a_bad_pointer_is_invalid_args() -> TestResult {
    let port = ok!(Port::create());
    for p in foreign_in_ptrs() {
        check_eq!(queue_raw(port.raw_handle(), p), Status::INVALID_ARGS);
    }
    let (_vmar, unmapped) = ok!(unmapped_own_addr());
    check_eq!(queue_raw(port.raw_handle(), unmapped), Status::INVALID_ARGS);
    check_eq!(poll(&port), Err(Status::TIMED_OUT));
    // The handle's errors come first, as the era's kernel looked it up
    // before reading the packet.
    let e = ok!(Event::create());
    let ro = ok!(port.duplicate_handle(Rights::READ));
    check_eq!(queue_raw(FORGED_HANDLE, 0), Status::BAD_HANDLE);
    check_eq!(queue_raw(e.raw_handle(), 0), Status::WRONG_TYPE);
    check_eq!(queue_raw(ro.raw_handle(), 0), Status::ACCESS_DENIED);
    Ok(())
}

fn a_full_port_should_wait_until_a_packet_is_read() -> TestResult {
    let port = ok!(Port::create());
    let limit = abi::PORT_MAX_USER_PACKETS as u64;
    for i in 0..limit {
        ok!(port.queue(&user(i, 0)));
    }
    check_eq!(port.queue(&user(0, 0)), Err(Status::SHOULD_WAIT));
    check_eq!(ok!(poll(&port)).key(), 0);
    ok!(port.queue(&user(limit, 0)));
    check_eq!(port.queue(&user(0, 0)), Err(Status::SHOULD_WAIT));
    Ok(())
}

fn port_wait_on_a_bad_handle_is_bad_handle() -> TestResult {
    let mut p = PortPacket::default();
    check_eq!(
        wait_raw(FORGED_HANDLE, Time::INFINITE, &raw mut p as u64),
        Status::BAD_HANDLE
    );
    let e = ok!(Event::create());
    check_eq!(
        wait_raw(e.raw_handle(), Time::INFINITE, &raw mut p as u64),
        Status::WRONG_TYPE
    );
    Ok(())
}

fn port_wait_without_read_is_access_denied() -> TestResult {
    let port = ok!(Port::create());
    ok!(port.queue(&user(0, 0)));
    let wo = Port::from(ok!(port.duplicate_handle(Rights::WRITE)));
    check_eq!(wo.wait(Time::INFINITE), Err(Status::ACCESS_DENIED));
    Ok(())
}

fn port_wait_into_a_bad_pointer_is_invalid_args_and_keeps_the_packet() -> TestResult {
    let port = ok!(Port::create());
    ok!(port.queue(&user(9, 0)));
    for p in foreign_out_ptrs() {
        check_eq!(
            wait_raw(port.raw_handle(), Time::INFINITE, p),
            Status::INVALID_ARGS
        );
    }
    let (_vmar, unmapped) = ok!(unmapped_own_addr());
    check_eq!(
        wait_raw(port.raw_handle(), Time::INFINITE, unmapped),
        Status::INVALID_ARGS
    );
    check_eq!(ok!(poll(&port)).key(), 9);
    // The handle's errors come first.
    let e = ok!(Event::create());
    let wo = ok!(port.duplicate_handle(Rights::WRITE));
    check_eq!(
        wait_raw(FORGED_HANDLE, Time::from_nanos(0), 0),
        Status::BAD_HANDLE
    );
    check_eq!(
        wait_raw(e.raw_handle(), Time::from_nanos(0), 0),
        Status::WRONG_TYPE
    );
    check_eq!(
        wait_raw(wo.raw_handle(), Time::from_nanos(0), 0),
        Status::ACCESS_DENIED
    );
    Ok(())
}

fn port_wait_with_a_past_deadline_times_out_at_once() -> TestResult {
    let port = ok!(Port::create());
    for d in [0, -1, i64::MIN, Time::get_monotonic().into_nanos() - 1000] {
        check_eq!(port.wait(Time::from_nanos(d)), Err(Status::TIMED_OUT));
    }
    Ok(())
}

fn port_wait_with_a_past_deadline_takes_a_packet_already_there() -> TestResult {
    let port = ok!(Port::create());
    ok!(port.queue(&user(5, 0)));
    check_eq!(ok!(port.wait(Time::from_nanos(-1))).key(), 5);
    Ok(())
}

fn port_wait_times_out_at_its_deadline() -> TestResult {
    let port = ok!(Port::create());
    let deadline = after_ms(3);
    check_eq!(port.wait(deadline), Err(Status::TIMED_OUT));
    check!(Time::get_monotonic().into_nanos() >= deadline.into_nanos());
    Ok(())
}

fn port_wait_forever_is_woken_by_a_queue_from_another_thread() -> TestResult {
    let port = ok!(Port::create());
    let _t = ok!(helper_thread(
        queue_later_entry,
        after_ms(2),
        port.raw_handle()
    ));
    let p = ok!(port.wait(Time::INFINITE));
    check_eq!(p.key(), LATER_PACKET.key);
    check_eq!(p.0, LATER_PACKET);
    Ok(())
}

/// Threads of [`one_waiting_thread_is_released_per_packet`] that got a packet.
static RELEASED: AtomicU32 = AtomicU32::new(0);

/// Waits for one packet on the port in `x0`, counts it, exits the thread.
extern "C" fn reader_entry(port: u64, _: u64) -> ! {
    let port = core::mem::ManuallyDrop::new(Port::from(Handle::from_raw(port as abi::Handle)));
    if port.wait(Time::INFINITE).is_ok() {
        RELEASED.fetch_add(1, Ordering::SeqCst);
    }
    Thread::exit();
}

fn one_waiting_thread_is_released_per_packet() -> TestResult {
    RELEASED.store(0, Ordering::SeqCst);
    let port = ok!(Port::create());
    const STACK: u64 = 16 * PAGE;
    let stacks = ok!(Vmo::create(2 * STACK));
    let base = ok!(map_rw(&stacks, 2 * STACK));
    let mut threads = [const { None }; 2];
    for (i, slot) in threads.iter_mut().enumerate() {
        let t = ok!(Thread::create(&Task::self_handle()));
        ok!(t.start(
            reader_entry,
            base + (i as u64 + 1) * STACK,
            u64::from(port.raw_handle()),
            0
        ));
        *slot = Some(t);
    }
    Duration::from_millis(2).sleep();
    ok!(port.queue(&user(1, 0)));
    // One reader takes it (however slowly a loaded host runs us); then,
    // a while later, still only one has returned.
    let deadline = after_ms(5000);
    while RELEASED.load(Ordering::SeqCst) == 0 && Time::get_monotonic() < deadline {
        Duration::from_micros(100).sleep();
    }
    Duration::from_millis(5).sleep();
    check_eq!(RELEASED.load(Ordering::SeqCst), 1, "one packet, one thread");
    ok!(port.queue(&user(2, 0)));
    for t in threads.iter().flatten() {
        check!(
            t.wait_handle(Signals::THREAD_TERMINATED, after_ms(5000))
                .is_ok(),
            "a reader never got the second packet"
        );
    }
    check_eq!(RELEASED.load(Ordering::SeqCst), 2);
    ok!(unmap(base, 2 * STACK));
    Ok(())
}

fn closing_the_port_during_port_wait_is_canceled() -> TestResult {
    let st = super::util::wait_closed_meanwhile(|close_at| {
        let port = match Port::create() {
            Ok(port) => port,
            Err(e) => return e,
        };
        let raw_port = port.raw_handle();
        // The helper closes it: forget ours so it is not closed twice.
        core::mem::forget(port);
        if let Err(e) = helper_thread(close_later_entry, close_at, raw_port) {
            return e;
        }
        let mut p = PortPacket::default();
        wait_raw(raw_port, after_ms(5000), &raw mut p as u64)
    });
    check_eq!(st, Status::CANCELED);
    Ok(())
}

fn wait_async_once_queues_one_packet() -> TestResult {
    let port = ok!(Port::create());
    let e = ok!(Event::create());
    ok!(e.wait_async_handle(&port, 77, Signals::USER_0, WaitAsyncOpts::Once));
    check_eq!(poll(&port), Err(Status::TIMED_OUT));
    ok!(e.signal_handle(Signals::NONE, Signals::USER_0 | Signals::USER_1));
    let p = ok!(port.wait(Time::INFINITE));
    check_eq!(p.key(), 77);
    check_eq!(p.status(), 0);
    check_eq!(
        signal_packet(&p),
        Some((false, Signals::USER_0, Signals::USER_0 | Signals::USER_1, 1))
    );
    // Ended: later changes queue nothing.
    ok!(e.signal_handle(Signals::USER_0, Signals::NONE));
    ok!(e.signal_handle(Signals::NONE, Signals::USER_0));
    check_eq!(poll(&port), Err(Status::TIMED_OUT));
    Ok(())
}

fn wait_async_on_an_asserted_signal_queues_a_packet_at_once() -> TestResult {
    let port = ok!(Port::create());
    let e = ok!(Event::create());
    ok!(e.signal_handle(Signals::NONE, Signals::EVENT_SIGNALED));
    ok!(e.wait_async_handle(&port, 1, Signals::EVENT_SIGNALED, WaitAsyncOpts::Once));
    let p = ok!(poll(&port));
    check_eq!(
        signal_packet(&p),
        Some((false, Signals::EVENT_SIGNALED, Signals::EVENT_SIGNALED, 1))
    );
    Ok(())
}

fn wait_async_repeating_keeps_one_packet_and_updates_observed() -> TestResult {
    let port = ok!(Port::create());
    let e = ok!(Event::create());
    let both = Signals::USER_0 | Signals::USER_1;
    ok!(e.wait_async_handle(&port, 3, both, WaitAsyncOpts::Repeating));
    ok!(e.signal_handle(Signals::NONE, Signals::USER_0));
    ok!(e.signal_handle(Signals::USER_0, Signals::USER_1));
    let p = ok!(poll(&port));
    check_eq!(signal_packet(&p), Some((true, both, both, 1)));
    check_eq!(poll(&port), Err(Status::TIMED_OUT), "one packet per wait");
    Ok(())
}

fn wait_async_repeating_queues_again_after_the_packet_is_read() -> TestResult {
    let port = ok!(Port::create());
    let e = ok!(Event::create());
    ok!(e.wait_async_handle(&port, 3, Signals::USER_0, WaitAsyncOpts::Repeating));
    for round in 0..3 {
        ok!(e.signal_handle(Signals::NONE, Signals::USER_0));
        let p = ok!(port.wait(Time::INFINITE));
        check_eq!(
            signal_packet(&p),
            Some((true, Signals::USER_0, Signals::USER_0, 1)),
            "round {round}"
        );
        ok!(e.signal_handle(Signals::USER_0, Signals::NONE));
    }
    Ok(())
}

fn wait_async_with_unknown_options_is_invalid_args() -> TestResult {
    let port = ok!(Port::create());
    let e = ok!(Event::create());
    for options in [2u32, 3, u32::MAX] {
        check_eq!(
            object_wait_async_raw(e.raw_handle(), port.raw_handle(), 0, 1, options),
            Err(Status::INVALID_ARGS)
        );
    }
    Ok(())
}

fn wait_async_with_bad_handles_is_bad_handle() -> TestResult {
    let port = ok!(Port::create());
    let e = ok!(Event::create());
    check_eq!(
        object_wait_async_raw(FORGED_HANDLE, port.raw_handle(), 0, 1, 0),
        Err(Status::BAD_HANDLE)
    );
    check_eq!(
        object_wait_async_raw(e.raw_handle(), FORGED_HANDLE, 0, 1, 0),
        Err(Status::BAD_HANDLE)
    );
    Ok(())
}

fn wait_async_on_a_non_port_is_wrong_type() -> TestResult {
    let e = ok!(Event::create());
    let other = ok!(Event::create());
    check_eq!(
        object_wait_async_raw(e.raw_handle(), other.raw_handle(), 0, 1, 0),
        Err(Status::WRONG_TYPE)
    );
    Ok(())
}

fn wait_async_without_the_rights_is_access_denied() -> TestResult {
    let port = ok!(Port::create());
    let e = ok!(Event::create());
    let ro = Port::from(ok!(port.duplicate_handle(Rights::READ)));
    check_eq!(
        e.wait_async_handle(&ro, 0, Signals::USER_0, WaitAsyncOpts::Once),
        Err(Status::ACCESS_DENIED)
    );
    let no_wait = ok!(e.duplicate_handle(Rights::SIGNAL | Rights::DUPLICATE));
    check_eq!(
        no_wait.wait_async_handle(&port, 0, Signals::USER_0, WaitAsyncOpts::Once),
        Err(Status::ACCESS_DENIED)
    );
    Ok(())
}

fn wait_async_on_a_non_waitable_object_is_not_supported() -> TestResult {
    let port = ok!(Port::create());
    let vmar = zx::Vmar::root_self();
    check_eq!(
        vmar.wait_async_handle(&port, 0, Signals::USER_0, WaitAsyncOpts::Once),
        Err(Status::NOT_SUPPORTED)
    );
    Ok(())
}

/// The era's ports are not waitable (no WAIT right, no state a task can
/// wait for), so a port cannot be a source, not even of itself.
fn a_port_cannot_wait_on_itself() -> TestResult {
    let port = ok!(Port::create());
    check_eq!(
        port.wait_async_handle(&port, 0, Signals::USER_0, WaitAsyncOpts::Repeating),
        Err(Status::NOT_SUPPORTED)
    );
    check_eq!(port.cancel(&port, 0), Err(Status::NOT_SUPPORTED));
    check_eq!(
        port.wait_handle(Signals::USER_0, Time::from_nanos(0)),
        Err(Status::NOT_SUPPORTED)
    );
    Ok(())
}

fn port_cancel_with_a_packet_queued_removes_it() -> TestResult {
    let port = ok!(Port::create());
    let e = ok!(Event::create());
    ok!(e.wait_async_handle(&port, 8, Signals::USER_0, WaitAsyncOpts::Once));
    ok!(port.queue(&user(8, 0)));
    ok!(e.signal_handle(Signals::NONE, Signals::USER_0));
    ok!(port.cancel(&e, 8));
    // The user packet with the same key is not the wait's: it stays.
    let p = ok!(poll(&port));
    check!(matches!(p.contents(), PacketContents::User(_)));
    check_eq!(poll(&port), Err(Status::TIMED_OUT));
    Ok(())
}

fn port_cancel_stops_an_armed_wait() -> TestResult {
    let port = ok!(Port::create());
    let e = ok!(Event::create());
    ok!(e.wait_async_handle(&port, 4, Signals::USER_0, WaitAsyncOpts::Repeating));
    ok!(e.wait_async_handle(&port, 5, Signals::USER_0, WaitAsyncOpts::Repeating));
    ok!(port.cancel(&e, 4));
    ok!(e.signal_handle(Signals::NONE, Signals::USER_0));
    check_eq!(ok!(poll(&port)).key(), 5);
    check_eq!(poll(&port), Err(Status::TIMED_OUT));
    Ok(())
}

fn port_cancel_with_nothing_matching_is_not_found() -> TestResult {
    let port = ok!(Port::create());
    let e = ok!(Event::create());
    check_eq!(port.cancel(&e, 1), Err(Status::NOT_FOUND));
    ok!(e.wait_async_handle(&port, 1, Signals::USER_0, WaitAsyncOpts::Once));
    check_eq!(port.cancel(&e, 2), Err(Status::NOT_FOUND));
    // Through another handle to the same event: not this wait.
    let dup = ok!(e.duplicate_handle(Rights::SAME_RIGHTS));
    check_eq!(port.cancel(&dup, 1), Err(Status::NOT_FOUND));
    ok!(port.cancel(&e, 1));
    check_eq!(port.cancel(&e, 1), Err(Status::NOT_FOUND));
    Ok(())
}

/// The port needs WRITE (the page); the source needs WAIT, as the era's
/// kernel checked (the page's WRITE would refuse every event).
fn port_cancel_checks_its_handles() -> TestResult {
    let port = ok!(Port::create());
    let e = ok!(Event::create());
    check_eq!(
        cancel_raw(FORGED_HANDLE, e.raw_handle(), 0),
        Status::BAD_HANDLE
    );
    check_eq!(
        cancel_raw(port.raw_handle(), FORGED_HANDLE, 0),
        Status::BAD_HANDLE
    );
    check_eq!(
        cancel_raw(e.raw_handle(), e.raw_handle(), 0),
        Status::WRONG_TYPE
    );
    let ro = Port::from(ok!(port.duplicate_handle(Rights::READ)));
    check_eq!(ro.cancel(&e, 0), Err(Status::ACCESS_DENIED));
    let no_wait = ok!(e.duplicate_handle(Rights::SIGNAL));
    check_eq!(port.cancel(&no_wait, 0), Err(Status::ACCESS_DENIED));
    check_eq!(
        port.cancel(&*zx::Vmar::root_self(), 0),
        Err(Status::NOT_SUPPORTED)
    );
    Ok(())
}

fn closing_the_handle_while_armed_ends_the_wait_and_keeps_the_packet() -> TestResult {
    let port = ok!(Port::create());
    let e = ok!(Event::create());
    let watched = ok!(e.duplicate_handle(Rights::SAME_RIGHTS));
    ok!(watched.wait_async_handle(&port, 1, Signals::USER_0, WaitAsyncOpts::Repeating));
    ok!(watched.wait_async_handle(&port, 2, Signals::USER_1, WaitAsyncOpts::Repeating));
    ok!(e.signal_handle(Signals::NONE, Signals::USER_0));
    drop(watched);
    ok!(e.signal_handle(Signals::NONE, Signals::USER_1));
    let p = ok!(poll(&port));
    check_eq!(p.key(), 1, "the packet queued before the close stays");
    check_eq!(poll(&port), Err(Status::TIMED_OUT), "the waits ended");
    Ok(())
}

/// Waits armed on an event and a VMO, one packet queued: closing the port
/// frees them all, so the event takes its full 64 waits again, round after
/// round (the object layer's host tests count the items and the task's
/// charge directly).
fn closing_the_port_with_waits_armed_leaves_nothing_behind() -> TestResult {
    let e = ok!(Event::create());
    let vmo = ok!(Vmo::create(PAGE));
    let round = |n: u64| -> Result<(), Status> {
        let port = Port::create()?;
        for k in 0..abi::ASYNC_WAITS_PER_OBJECT_MAX as u64 {
            e.wait_async_handle(&port, k, Signals::USER_0, WaitAsyncOpts::Repeating)?;
        }
        vmo.wait_async_handle(&port, 99, Signals::USER_1, WaitAsyncOpts::Once)?;
        e.signal_handle(Signals::NONE, Signals::USER_0)?;
        port.queue(&user(n, 0))?;
        drop(port);
        e.signal_handle(Signals::USER_0, Signals::NONE)
    };
    for n in 0..4 {
        // Had any wait outlived its port, the per-object bound would
        // refuse the second round's waits.
        ok!(round(n));
    }
    Ok(())
}

fn async_waits_are_bounded_per_object_and_per_task() -> TestResult {
    let port = ok!(Port::create());
    let per_object = abi::ASYNC_WAITS_PER_OBJECT_MAX;
    let per_task = abi::ASYNC_WAITS_PER_TASK_MAX as usize;
    let arm = |e: &Event| e.wait_async_handle(&port, 0, Signals::USER_0, WaitAsyncOpts::Once);
    let first = ok!(Event::create());
    for _ in 0..per_object {
        ok!(arm(&first));
    }
    check_eq!(
        arm(&first),
        Err(Status::NO_MEMORY),
        "one wait too many on an object"
    );
    // The rest of the task's waits, 32 per event (the events stay open).
    const EXTRA: usize = 30;
    let mut events: [Option<Event>; EXTRA] = [const { None }; EXTRA];
    let mut made = per_object;
    for slot in events.iter_mut() {
        let e = ok!(Event::create());
        for _ in 0..32 {
            ok!(arm(&e));
            made += 1;
        }
        *slot = Some(e);
    }
    check_eq!(made, per_task);
    let fresh = ok!(Event::create());
    check_eq!(
        arm(&fresh),
        Err(Status::NO_MEMORY),
        "one wait too many in a task"
    );
    // A fired wait counts until its packet is read.
    ok!(first.signal_handle(Signals::NONE, Signals::USER_0));
    check_eq!(arm(&fresh), Err(Status::NO_MEMORY));
    ok!(poll(&port));
    ok!(arm(&fresh));
    Ok(())
}

fn exit_at_once(_: [abi::Handle; 4]) {
    zx::exit(3);
}

fn timers_vmos_and_tasks_are_sources() -> TestResult {
    let port = ok!(Port::create());
    let timer = ok!(Timer::create());
    ok!(timer.wait_async_handle(&port, 1, Signals::TIMER_SIGNALED, WaitAsyncOpts::Once));
    let deadline = after_ms(2);
    ok!(timer.set(deadline, Duration::from_nanos(0)));
    let p = ok!(port.wait(Time::INFINITE));
    check!(Time::get_monotonic().into_nanos() >= deadline.into_nanos());
    check_eq!(
        signal_packet(&p),
        Some((false, Signals::TIMER_SIGNALED, Signals::TIMER_SIGNALED, 1))
    );

    let vmo = ok!(Vmo::create(PAGE));
    let child = ok!(vmo.create_child(VmoChildOptions::COPY_ON_WRITE, 0, PAGE));
    ok!(vmo.wait_async_handle(&port, 2, Signals::VMO_ZERO_CHILDREN, WaitAsyncOpts::Once));
    check_eq!(poll(&port), Err(Status::TIMED_OUT));
    drop(child);
    check_eq!(ok!(poll(&port)).key(), 2);

    let task = ok!(crate::harness::spawn_with(exit_at_once, &mut []));
    ok!(task.wait_async_handle(&port, 3, Signals::TASK_TERMINATED, WaitAsyncOpts::Once));
    let p = ok!(port.wait(after_ms(5000)));
    check_eq!(p.key(), 3);
    check!(signal_packet(&p).is_some_and(|s| s.2.contains(Signals::TASK_TERMINATED)));
    check_eq!(ok!(task.join()), TaskEnd::Exited(3));
    Ok(())
}

fn port_wait_forever(hs: [abi::Handle; 4]) {
    let port = Port::from(Handle::from_raw(hs[0]));
    let _ = port.wait(Time::INFINITE);
    // Not reached when killed.
    zx::exit(9);
}

fn kill_ends_a_task_blocked_in_port_wait() -> TestResult {
    let port = ok!(Port::create());
    let reader = ok!(port.duplicate_handle(Rights::SAME_RIGHTS));
    kill_while_blocked(port_wait_forever, reader)?;
    // The killed reader took nothing: a packet queued now is ours.
    ok!(port.queue(&user(6, 0)));
    check_eq!(ok!(poll(&port)).key(), 6);
    Ok(())
}
