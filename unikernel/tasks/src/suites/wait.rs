//! Waiting and time from EL0: `object_wait_one` with deadlines, events and
//! `object_signal`, `nanosleep`, the monotonic clock, task termination,
//! and a wait cancelled by closing its handle (from a second thread).

use super::reaping::gated;
use super::util::*;
use crate::harness::{spawn_with, Suite, TestResult};
use crate::{check, check_eq, ok, tests};
use abi::Syscall;
use zx::{AsHandleRef, Duration, Event, Handle, Rights, Signals, Status, Task, TaskEnd, Time, Vmo};

pub static SUITE: Suite = Suite {
    name: "el0_wait",
    tests: tests![
        wait_on_an_active_signal_returns_at_once_with_all_signals,
        wait_with_a_past_deadline_polls_and_times_out,
        wait_times_out_no_earlier_than_its_deadline,
        event_signal_from_another_task_wakes_the_waiter,
        event_create_with_options_is_invalid_args,
        new_event_has_basic_rights_plus_signal_and_no_signals,
        event_signaled_can_be_set_and_cleared,
        object_signal_of_other_bits_on_an_event_is_invalid_args,
        task_handle_is_signalled_terminated_when_it_ends,
        closing_the_handle_cancels_a_wait,
        nanosleep_sleeps_until_its_deadline,
        nanosleep_without_a_future_deadline_returns_at_once,
        clock_is_monotonic,
    ],
};

fn wait_on_an_active_signal_returns_at_once_with_all_signals() -> TestResult {
    let event = ok!(Event::create());
    ok!(event.signal_handle(Signals::NONE, Signals::USER_0 | Signals::USER_1));
    let observed = ok!(event.wait_handle(Signals::USER_1, Time::INFINITE));
    check_eq!(observed, Signals::USER_0 | Signals::USER_1);
    Ok(())
}

fn wait_with_a_past_deadline_polls_and_times_out() -> TestResult {
    let event = ok!(Event::create());
    ok!(event.signal_handle(Signals::NONE, Signals::USER_1));
    for deadline in [
        Time::INFINITE_PAST,
        Time::from_nanos(1),
        Time::from_nanos(-5),
    ] {
        let (st, observed) = event.wait_handle_observed(Signals::USER_0, deadline);
        check_eq!(st, Err(Status::TIMED_OUT));
        check_eq!(observed, Signals::USER_1);
    }
    Ok(())
}

fn wait_times_out_no_earlier_than_its_deadline() -> TestResult {
    let event = ok!(Event::create());
    let deadline = Time::after(Duration::from_millis(5));
    let (st, _) = event.wait_handle_observed(Signals::USER_0, deadline);
    check_eq!(st, Err(Status::TIMED_OUT));
    let now = Time::get_monotonic();
    check!(now >= deadline, "woke at {now:?}, deadline {deadline:?}");
    Ok(())
}

fn event_signal_from_another_task_wakes_the_waiter() -> TestResult {
    let event = ok!(Event::create());
    let task = ok!(spawn_with(
        |hs| {
            let event = Event::from(Handle::from_raw(hs[0]));
            Duration::from_millis(3).sleep();
            let _ = event.signal_handle(Signals::NONE, Signals::EVENT_SIGNALED);
        },
        &mut [ok!(event.duplicate_handle(Rights::SAME_RIGHTS))]
    ));
    let start = Time::get_monotonic();
    let observed = ok!(event.wait_handle(
        Signals::EVENT_SIGNALED,
        Time::after(Duration::from_seconds(10))
    ));
    check!(observed.contains(Signals::EVENT_SIGNALED));
    check!(Time::get_monotonic() - start < Duration::from_seconds(5));
    check_eq!(ok!(task.join()), TaskEnd::Exited(0));
    Ok(())
}

fn event_create_with_options_is_invalid_args() -> TestResult {
    let mut out = 0u32;
    for opts in [1u64, 0x8000_0000] {
        // SAFETY: `out` is a valid place for a handle.
        let st = unsafe {
            raw(
                Syscall::EventCreate,
                [opts, &raw mut out as u64, 0, 0, 0, 0, 0, 0],
            )
        };
        check_eq!(st, Status::INVALID_ARGS);
    }
    check_eq!(out, 0);
    Ok(())
}

fn new_event_has_basic_rights_plus_signal_and_no_signals() -> TestResult {
    let event = ok!(Event::create());
    let info = ok!(event.basic_info());
    check_eq!(info.rights, abi::ZX_RIGHTS_BASIC | abi::ZX_RIGHT_SIGNAL);
    check_eq!(info.obj_type, abi::ZX_OBJ_TYPE_EVENT);
    check_eq!(signals(&event), Signals::NONE);
    Ok(())
}

fn event_signaled_can_be_set_and_cleared() -> TestResult {
    let event = ok!(Event::create());
    ok!(event.signal_handle(Signals::NONE, Signals::EVENT_SIGNALED | Signals::USER_ALL));
    check_eq!(signals(&event), Signals::EVENT_SIGNALED | Signals::USER_ALL);
    ok!(event.signal_handle(Signals::EVENT_SIGNALED | Signals::USER_0, Signals::NONE));
    check_eq!(
        signals(&event),
        Signals(abi::ZX_USER_SIGNAL_ALL & !abi::ZX_USER_SIGNAL_0)
    );
    Ok(())
}

fn object_signal_of_other_bits_on_an_event_is_invalid_args() -> TestResult {
    let event = ok!(Event::create());
    for bad in [1u32, 1 << 2, 1 << 4, 1 << 23] {
        check_eq!(
            event.signal_handle(Signals::NONE, Signals(bad)),
            Err(Status::INVALID_ARGS)
        );
        check_eq!(
            event.signal_handle(Signals(bad), Signals::NONE),
            Err(Status::INVALID_ARGS)
        );
    }
    check_eq!(signals(&event), Signals::NONE);
    Ok(())
}

fn task_handle_is_signalled_terminated_when_it_ends() -> TestResult {
    let (gate, task) = ok!(gated());
    check_eq!(
        task.wait_handle(Signals::TASK_TERMINATED, Time::INFINITE_PAST),
        Err(Status::TIMED_OUT)
    );
    check_eq!(ok!(task.end()), TaskEnd::Running);
    ok!(gate.signal_handle(Signals::NONE, Signals::USER_0));
    let observed = ok!(task.wait_handle(
        Signals::TASK_TERMINATED,
        Time::after(Duration::from_seconds(10))
    ));
    check!(observed.contains(Signals::TASK_TERMINATED));
    check_eq!(ok!(task.end()), TaskEnd::Exited(0));
    Ok(())
}

/// Second thread of the helper task below: closes the handle `h` of its
/// task's table after a moment, then exits.
extern "C" fn close_later(h: u64, _: u64) -> ! {
    Duration::from_millis(3).sleep();
    let _ = Handle::from_raw(h as abi::Handle).close();
    // SAFETY: ends only this thread.
    unsafe { zx::sys::call(Syscall::ThreadExit, [0; 8]) };
    unreachable!("thread_exit returned")
}

fn closing_the_handle_cancels_a_wait() -> TestResult {
    // The helper task waits on its event `h0` with an infinite deadline and
    // reports how the wait ended in its exit code; this test starts a second
    // thread in that task (on a stack it maps) which closes the handle.
    let event = ok!(Event::create());
    let go = ok!(Event::create());
    let vmo = ok!(Vmo::create(16));
    let task: Task = ok!(spawn_with(
        |hs| {
            let event = core::mem::ManuallyDrop::new(Event::from(Handle::from_raw(hs[0])));
            let go = Event::from(Handle::from_raw(hs[1]));
            let vmo = Vmo::from(Handle::from_raw(hs[2]));
            // Tell the test which value the event has here, and where a
            // stack for a second thread lies in this task's own memory (the
            // test's memory is not in this task's view).
            let _ = vmo.write(&u64::from(hs[0]).to_le_bytes(), 0);
            let top = Vmo::create(16 * PAGE)
                .and_then(|stack| map_rw(&stack, 16 * PAGE))
                .map_or(0, |addr| addr + 16 * PAGE);
            let _ = vmo.write(&top.to_le_bytes(), 8);
            let _ = go.signal_handle(Signals::NONE, Signals::USER_0);
            let (st, observed) = event.wait_handle_observed(Signals::USER_0, Time::INFINITE);
            let code = match st {
                Err(Status::CANCELED) if observed.contains(Signals::HANDLE_CLOSED) => 0,
                Err(Status::CANCELED) => 2,
                _ => 3,
            };
            zx::exit(code);
        },
        &mut [
            ok!(event.duplicate_handle(Rights::SAME_RIGHTS)),
            ok!(go.duplicate_handle(Rights::SAME_RIGHTS)),
            ok!(vmo.duplicate_handle(Rights::SAME_RIGHTS)),
        ]
    ));
    ok!(go.wait_handle(Signals::USER_0, Time::after(Duration::from_seconds(10))));
    let value = ok!(word_at(&vmo, 0));
    let stack_top = ok!(word_at(&vmo, 8));
    check!(stack_top != 0, "the helper could not map a stack");
    let mut thread = 0u32;
    // SAFETY: `thread` is a valid place for a handle.
    let st = unsafe {
        raw(
            Syscall::ThreadCreate,
            [
                u64::from(task.raw_handle()),
                0,
                &raw mut thread as u64,
                0,
                0,
                0,
                0,
                0,
            ],
        )
    };
    check_eq!(st, Status::OK);
    let thread = Handle::from_raw(thread);
    // `zx_thread_start` of the thread at `close_later(arg)` on that stack.
    let start = |arg: u64| {
        // SAFETY: the entry is this image's code; the stack is mapped and
        // unused (a second start is refused before it is touched).
        unsafe {
            raw(
                Syscall::ThreadStart,
                [
                    u64::from(thread.raw_handle()),
                    close_later as *const () as u64,
                    stack_top,
                    arg,
                    0,
                    0,
                    0,
                    0,
                ],
            )
        }
    };
    check_eq!(start(value), Status::OK);
    let end = ok!(task.join());
    check_eq!(
        end,
        TaskEnd::Exited(0),
        "2: no HANDLE_CLOSED, 3: not CANCELED"
    );
    // Starting the thread again is refused.
    check_eq!(start(0), Status::BAD_STATE);
    Ok(())
}

fn nanosleep_sleeps_until_its_deadline() -> TestResult {
    let deadline = Time::after(Duration::from_millis(4));
    // SAFETY: only a value is passed.
    let st = unsafe {
        raw(
            Syscall::Nanosleep,
            [deadline.into_nanos() as u64, 0, 0, 0, 0, 0, 0, 0],
        )
    };
    check_eq!(st, Status::OK);
    check!(Time::get_monotonic() >= deadline);
    Ok(())
}

fn nanosleep_without_a_future_deadline_returns_at_once() -> TestResult {
    let start = Time::get_monotonic();
    for d in [0i64, -1, 1, start.into_nanos() - 1] {
        // SAFETY: only a value is passed.
        let st = unsafe { raw(Syscall::Nanosleep, [d as u64, 0, 0, 0, 0, 0, 0, 0]) };
        check_eq!(st, Status::OK);
    }
    check!(Time::get_monotonic() - start < Duration::from_millis(500));
    Ok(())
}

fn clock_is_monotonic() -> TestResult {
    let mut last = Time::get_monotonic();
    check!(last.into_nanos() > 0);
    for _ in 0..1000 {
        let now = Time::get_monotonic();
        check!(now >= last, "{now:?} after {last:?}");
        last = now;
    }
    let before = Time::get_monotonic();
    Duration::from_millis(2).sleep();
    check!(Time::get_monotonic() - before >= Duration::from_millis(2));
    Ok(())
}
