//! `zx_object_wait_many` (zx_object_wait_many.md): up to
//! `ZX_WAIT_MANY_MAX_ITEMS` (8, its page's value) items, `pending` written back for every
//! item, `ZX_ERR_CANCELED` when a handle is closed during the wait,
//! deadlines as `wait_one`, errors with no partial state.

use super::util::{close_later_entry, helper_thread, kill_while_blocked, later_entry};
use crate::harness::{Suite, TestResult};
use crate::{check, check_eq, ok, tests};
use abi::Syscall;
use zx::{
    object_wait_many, object_wait_many_raw, AsHandleRef, Duration, Event, Handle, HandleBased,
    Rights, Signals, Status, Time, Timer, WaitItem,
};

pub static SUITE: Suite = Suite {
    name: "wait_many",
    tests: tests![
        an_item_already_signalled_returns_at_once_with_every_pending,
        a_signal_during_the_wait_ends_it,
        a_timer_firing_ends_it,
        the_deadline_ends_it_with_pending_written,
        a_past_or_zero_deadline_polls,
        no_items_wait_until_the_deadline,
        closing_a_handle_during_the_wait_is_canceled,
        the_most_items_with_the_last_signalled,
        more_than_the_most_items_is_out_of_range,
        bad_item_pointers_are_invalid_args,
        read_only_items_are_invalid_args_before_any_wait,
        a_bad_handle_fails_with_no_pending_written,
        an_item_without_wait_is_access_denied,
        an_item_that_cannot_be_waited_on_is_not_supported,
        a_failed_call_leaves_no_registration,
        kill_ends_a_task_blocked_in_wait_many,
    ],
};

fn none(h: &dyn AsHandleRef, waitfor: Signals) -> WaitItem<'_> {
    WaitItem {
        handle: h,
        waitfor,
        pending: Signals::NONE,
    }
}

fn after_ms(n: i64) -> Time {
    Time::after(Duration::from_millis(n))
}

fn an_item_already_signalled_returns_at_once_with_every_pending() -> TestResult {
    let a = ok!(Event::create());
    let b = ok!(Event::create());
    let c = ok!(Event::create());
    ok!(b.signal_handle(Signals::NONE, Signals::USER_0));
    ok!(c.signal_handle(Signals::NONE, Signals::USER_1));
    let mut items = [
        none(&a, Signals::USER_0),
        none(&b, Signals::USER_0),
        none(&c, Signals::USER_0),
    ];
    check_eq!(object_wait_many(&mut items, Time::INFINITE), Ok(false));
    check_eq!(items[0].pending, Signals::NONE);
    check_eq!(items[1].pending, Signals::USER_0);
    check_eq!(items[2].pending, Signals::USER_1);
    Ok(())
}

later_entry!(
    /// Sleeps until the deadline in `x0`, then signals `USER_0` on the handle
    /// in `x1`, then exits the thread.
    signal_later_entry,
    ["mov x1, #0", "mov x2, #{user0}", "mov x16, #{signal}"],
    signal = const Syscall::ObjectSignal as u64,
    user0 = const abi::ZX_USER_SIGNAL_0,
);

fn a_signal_during_the_wait_ends_it() -> TestResult {
    let a = ok!(Event::create());
    let b = ok!(Event::create());
    let _t = ok!(helper_thread(
        signal_later_entry,
        after_ms(2),
        b.raw_handle()
    ));
    let mut items = [none(&a, Signals::USER_0), none(&b, Signals::USER_0)];
    check_eq!(object_wait_many(&mut items, after_ms(5000)), Ok(false));
    check_eq!(items[0].pending, Signals::NONE);
    check_eq!(items[1].pending, Signals::USER_0);
    Ok(())
}

fn a_timer_firing_ends_it() -> TestResult {
    let e = ok!(Event::create());
    let t = ok!(Timer::create());
    let d = Time::after(Duration::from_millis(3));
    ok!(t.set(d, Duration::from_nanos(0)));
    let mut items = [none(&e, Signals::USER_0), none(&t, Signals::TIMER_SIGNALED)];
    check_eq!(object_wait_many(&mut items, Time::INFINITE), Ok(false));
    check!(Time::get_monotonic().into_nanos() >= d.into_nanos());
    check_eq!(items[1].pending, Signals::TIMER_SIGNALED);
    Ok(())
}

fn the_deadline_ends_it_with_pending_written() -> TestResult {
    let a = ok!(Event::create());
    ok!(a.signal_handle(Signals::NONE, Signals::USER_1));
    let b = ok!(Event::create());
    let deadline = after_ms(3);
    let mut items = [none(&a, Signals::USER_0), none(&b, Signals::USER_0)];
    items[1].pending = Signals(0xdead);
    check_eq!(
        object_wait_many(&mut items, deadline),
        Err(Status::TIMED_OUT)
    );
    check!(Time::get_monotonic().into_nanos() >= deadline.into_nanos());
    check_eq!(items[0].pending, Signals::USER_1);
    check_eq!(items[1].pending, Signals::NONE);
    Ok(())
}

fn a_past_or_zero_deadline_polls() -> TestResult {
    let a = ok!(Event::create());
    for d in [0, -1, i64::MIN, Time::get_monotonic().into_nanos() - 1000] {
        let mut items = [none(&a, Signals::USER_0)];
        check_eq!(
            object_wait_many(&mut items, Time::from_nanos(d)),
            Err(Status::TIMED_OUT)
        );
    }
    ok!(a.signal_handle(Signals::NONE, Signals::USER_0));
    let mut items = [none(&a, Signals::USER_0)];
    check_eq!(object_wait_many(&mut items, Time::from_nanos(0)), Ok(false));
    Ok(())
}

fn no_items_wait_until_the_deadline() -> TestResult {
    let deadline = after_ms(2);
    check_eq!(object_wait_many(&mut [], deadline), Err(Status::TIMED_OUT));
    check!(Time::get_monotonic().into_nanos() >= deadline.into_nanos());
    Ok(())
}

fn closing_a_handle_during_the_wait_is_canceled() -> TestResult {
    let a = ok!(Event::create());
    let mut raw = [abi::WaitItem {
        handle: a.raw_handle(),
        waitfor: abi::ZX_USER_SIGNAL_0,
        pending: 0,
    }; 2];
    let st = super::util::wait_closed_meanwhile(|close_at| {
        let b = match Event::create() {
            Ok(b) => b,
            Err(e) => return e,
        };
        let raw_b = b.raw_handle();
        // The helper closes it: forget ours so it is not closed twice.
        core::mem::forget(b);
        if let Err(e) = helper_thread(close_later_entry, close_at, raw_b) {
            return e;
        }
        raw[0].pending = 0;
        raw[1] = abi::WaitItem {
            handle: raw_b,
            waitfor: abi::ZX_USER_SIGNAL_0,
            pending: 0,
        };
        // SAFETY: two records the kernel reads and writes.
        unsafe { object_wait_many_raw(raw.as_mut_ptr() as u64, 2, after_ms(5000)) }
    });
    check_eq!(st, Status::CANCELED);
    check!(raw[1].pending & abi::ZX_SIGNAL_HANDLE_CLOSED != 0);
    check_eq!(raw[0].pending & abi::ZX_SIGNAL_HANDLE_CLOSED, 0);
    Ok(())
}

fn the_most_items_with_the_last_signalled() -> TestResult {
    const N: usize = abi::ZX_WAIT_MANY_MAX_ITEMS;
    let mut slots: [Option<Event>; N] = [const { None }; N];
    for e in slots.iter_mut() {
        *e = Some(ok!(Event::create()));
    }
    let invalid = Handle::invalid();
    let events: [&dyn AsHandleRef; N] = core::array::from_fn(|i| {
        slots[i]
            .as_ref()
            .map_or(&invalid as &dyn AsHandleRef, |e| e)
    });
    let _t = ok!(helper_thread(
        signal_later_entry,
        after_ms(2),
        events[N - 1].raw_handle()
    ));
    let mut items: [WaitItem<'_>; N] = core::array::from_fn(|i| none(events[i], Signals::USER_0));
    check_eq!(object_wait_many(&mut items, after_ms(5000)), Ok(false));
    for (i, item) in items.iter().enumerate() {
        let want = if i == N - 1 {
            Signals::USER_0
        } else {
            Signals::NONE
        };
        check_eq!(item.pending, want);
    }
    Ok(())
}

fn more_than_the_most_items_is_out_of_range() -> TestResult {
    check_eq!(abi::ZX_WAIT_MANY_MAX_ITEMS, 8, "the page's limit");
    let mut raw = [abi::WaitItem::default(); 17];
    for count in [9u64, 16, 17, 65, 1000, u64::MAX] {
        // SAFETY: the kernel refuses the count before reading.
        let st = unsafe { object_wait_many_raw(raw.as_mut_ptr() as u64, count, Time::INFINITE) };
        check_eq!(st, Status::OUT_OF_RANGE);
    }
    Ok(())
}

fn bad_item_pointers_are_invalid_args() -> TestResult {
    for p in [0u64, 8, 0xffff_0000_0000_0000, 0x4008_0000] {
        // SAFETY: the kernel refuses the pointer.
        let st = unsafe { object_wait_many_raw(p, 1, Time::INFINITE) };
        check_eq!(st, Status::INVALID_ARGS);
    }
    Ok(())
}

static RO_ITEMS: [abi::WaitItem; 1] = [abi::WaitItem {
    handle: 0,
    waitfor: 1,
    pending: 0,
}];

fn read_only_items_are_invalid_args_before_any_wait() -> TestResult {
    // Readable (the image's read-only part) but not writable: refused
    // before waiting, so an infinite deadline returns at once.
    // SAFETY: the kernel refuses to write there.
    let st = unsafe { object_wait_many_raw(RO_ITEMS.as_ptr() as u64, 1, Time::INFINITE) };
    check_eq!(st, Status::INVALID_ARGS);
    Ok(())
}

fn a_bad_handle_fails_with_no_pending_written() -> TestResult {
    let a = ok!(Event::create());
    ok!(a.signal_handle(Signals::NONE, Signals::USER_0));
    let mut raw = [
        abi::WaitItem {
            handle: a.raw_handle(),
            waitfor: abi::ZX_USER_SIGNAL_0,
            pending: 0x5a5a,
        },
        abi::WaitItem {
            handle: 0x1234_5673,
            waitfor: abi::ZX_USER_SIGNAL_0,
            pending: 0x5a5a,
        },
    ];
    // SAFETY: two records the kernel reads and writes.
    let st = unsafe { object_wait_many_raw(raw.as_mut_ptr() as u64, 2, Time::INFINITE) };
    check_eq!(st, Status::BAD_HANDLE);
    check_eq!(raw[0].pending, 0x5a5a);
    check_eq!(raw[1].pending, 0x5a5a);
    Ok(())
}

/// `object_wait_many` without a deadline on `USER_0` of a new event and of
/// `second`.
fn wait_for_a_new_event_and(second: &dyn AsHandleRef) -> Result<bool, Status> {
    let a = Event::create()?;
    object_wait_many(
        &mut [none(&a, Signals::USER_0), none(second, Signals::USER_0)],
        Time::INFINITE,
    )
}

fn an_item_without_wait_is_access_denied() -> TestResult {
    let b = ok!(Event::create());
    let no_wait = ok!(b.duplicate(Rights::DUPLICATE | Rights::TRANSFER | Rights::SIGNAL));
    check_eq!(
        wait_for_a_new_event_and(&no_wait),
        Err(Status::ACCESS_DENIED)
    );
    Ok(())
}

fn an_item_that_cannot_be_waited_on_is_not_supported() -> TestResult {
    check_eq!(
        wait_for_a_new_event_and(&*zx::Vmar::root_self()),
        Err(Status::NOT_SUPPORTED)
    );
    Ok(())
}

fn a_failed_call_leaves_no_registration() -> TestResult {
    // The first item registers, the second fails: the first's registration
    // must go (else a later signal would wake this thread's next wait).
    let a = ok!(Event::create());
    let bad = Handle::from_raw(0x1234_5673);
    let mut items = [none(&a, Signals::USER_0), none(&bad, Signals::USER_0)];
    check_eq!(
        object_wait_many(&mut items, Time::INFINITE),
        Err(Status::BAD_HANDLE)
    );
    core::mem::forget(bad);
    let other = ok!(Event::create());
    let _t = ok!(helper_thread(
        signal_later_entry,
        after_ms(1),
        a.raw_handle()
    ));
    // A wait on another object must run to its deadline.
    let deadline = after_ms(10);
    check_eq!(
        other.wait_handle(Signals::USER_0, deadline),
        Err(Status::TIMED_OUT)
    );
    check!(Time::get_monotonic().into_nanos() >= deadline.into_nanos());
    Ok(())
}

fn wait_many_forever(hs: [abi::Handle; 4]) {
    let e = Event::from(Handle::from_raw(hs[0]));
    let mut items = [none(&e, Signals::USER_0)];
    let _ = object_wait_many(&mut items, Time::INFINITE);
    // Not reached when killed.
    zx::exit(9);
}

fn kill_ends_a_task_blocked_in_wait_many() -> TestResult {
    let e = ok!(Event::create());
    kill_while_blocked(
        wait_many_forever,
        ok!(e.duplicate_handle(Rights::SAME_RIGHTS)),
    )
}
