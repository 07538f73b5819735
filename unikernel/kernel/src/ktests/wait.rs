//! Waiting on signals with deadlines: `object_wait_one` against events and
//! VMOs, woken by signals, deadlines and closed handles, with no lost
//! wake-ups; `nanosleep`; `event_create` and `object_signal`.

use crate::ktest::{Failure, Suite, TestResult};
use crate::objects::wait;
use crate::sched::{self, sleep};
use crate::time::{self, Time, ZX_TIME_INFINITE, ZX_TIME_INFINITE_PAST};
use crate::{check, check_eq, objects, tests};
use abi::*;
use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};
use object::{Quota, TableId, WaitStart};

pub static SUITE: Suite = Suite {
    name: "wait",
    tests: tests![
        wait_with_a_10ms_deadline_times_out_no_earlier,
        active_signal_satisfies_the_wait_at_once,
        infinite_past_polls,
        zero_children_wakes_the_waiter_before_its_deadline,
        closing_the_waited_handle_cancels_the_wait,
        wait_without_the_wait_right_is_access_denied,
        wait_on_a_bad_handle_is_bad_handle,
        signal_wakes_only_waiters_whose_mask_matches,
        event_signaled_ends_an_infinite_wait,
        object_signal_rejects_bits_it_does_not_own,
        wake_between_registering_and_blocking_is_not_lost,
        nanosleep_without_a_future_deadline_only_yields,
        timed_out_waits_report_their_lateness,
    ],
};

/// A deadline far enough away that reaching it means a wake-up was lost.
const LONG: time::Duration = time::msec(5_000);
/// How long a thread pauses so that another gets to block first.
const PAUSE: time::Duration = time::msec(2);

fn failed(what: &str, status: Status) -> Failure {
    Failure::Fail(format!("{what}: {status:?}"))
}

/// `zx_object_signal` as the syscall makes it: one call into the object layer.
fn signal(table: TableId, handle: Handle, clear: Signals, set: Signals) -> Status {
    objects::with(|s| s.task(table).object_signal(handle, clear, set))
        .err()
        .unwrap_or(ZX_OK)
}

/// `zx_handle_close`, likewise.
fn close(table: TableId, handle: Handle) -> Status {
    objects::with(|s| s.task(table).handle_close(handle))
        .err()
        .unwrap_or(ZX_OK)
}

/// `zx_event_create`, likewise.
fn event_create(table: TableId, options: u32) -> Result<Handle, Status> {
    objects::with(|s| s.task(table).event_create(options))
}

/// A handle table for one test (like a task's); closing it closes every
/// handle in it.
struct Table(TableId);

impl Table {
    fn new() -> Result<Self, Failure> {
        objects::with(|s| s.create_table(Quota::default()))
            .map(Self)
            .map_err(|e| failed("create_table", e))
    }

    fn event(&self) -> Result<Handle, Failure> {
        event_create(self.0, 0).map_err(|e| failed("event_create", e))
    }

    /// A duplicate of `h` with `rights`.
    fn duplicate(&self, h: Handle, rights: Rights) -> Result<Handle, Failure> {
        objects::with(|s| s.task(self.0).handle_duplicate(h, rights))
            .map_err(|s| failed("duplicate", s))
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        let _ = objects::with(|s| s.destroy_table(self.0));
    }
}

/// What a waiter thread saw.
#[derive(Clone, Copy, Debug, Default)]
struct Seen {
    status: Option<Status>,
    observed: Signals,
    at: Time,
}

/// Starts a thread that waits on `handle` and records what it saw.
fn waiter(
    table: TableId,
    handle: Handle,
    signals: Signals,
    deadline: Time,
) -> Result<(sched::JoinHandle, Arc<crate::sync::IrqMutex<Seen>>), Failure> {
    let seen = Arc::new(crate::sync::IrqMutex::new(Seen::default()));
    let out = seen.clone();
    let t = sched::spawn("ktest-waiter", move || {
        let (status, observed) = wait::object_wait_one(table, handle, signals, deadline);
        *out.lock() = Seen {
            status: Some(status),
            observed,
            at: time::now(),
        };
    })
    .map_err(|e| failed("spawn", e))?;
    Ok((t, seen))
}

fn wait_with_a_10ms_deadline_times_out_no_earlier() -> TestResult {
    let t = Table::new()?;
    let e = t.event()?;
    check_eq!(signal(t.0, e, 0, ZX_USER_SIGNAL_2), ZX_OK);
    let deadline = time::deadline_after(time::msec(10));
    let (status, observed) = wait::object_wait_one(t.0, e, ZX_EVENT_SIGNALED, deadline);
    let now = time::now();
    check_eq!(status, ZX_ERR_TIMED_OUT);
    check_eq!(observed, ZX_USER_SIGNAL_2);
    check!(now >= deadline, "returned {} ns early", deadline - now);
    Ok(())
}

fn active_signal_satisfies_the_wait_at_once() -> TestResult {
    let t = Table::new()?;
    let e = t.event()?;
    check_eq!(signal(t.0, e, 0, ZX_USER_SIGNAL_0), ZX_OK);
    let switches = sched::stats().switches;
    let (status, observed) = wait::object_wait_one(
        t.0,
        e,
        ZX_USER_SIGNAL_0 | ZX_USER_SIGNAL_1,
        ZX_TIME_INFINITE,
    );
    check_eq!(status, ZX_OK);
    check_eq!(observed, ZX_USER_SIGNAL_0);
    check_eq!(sched::stats().switches, switches);
    Ok(())
}

fn infinite_past_polls() -> TestResult {
    let t = Table::new()?;
    let e = t.event()?;
    check_eq!(signal(t.0, e, 0, ZX_USER_SIGNAL_3), ZX_OK);
    let (status, observed) = wait::object_wait_one(t.0, e, ZX_USER_SIGNAL_0, ZX_TIME_INFINITE_PAST);
    check_eq!(status, ZX_ERR_TIMED_OUT);
    check_eq!(observed, ZX_USER_SIGNAL_3);
    // The registration is gone: a later signal wakes nobody.
    check_eq!(signal(t.0, e, 0, ZX_USER_SIGNAL_0), ZX_OK);
    let (status, observed) = wait::object_wait_one(t.0, e, ZX_USER_SIGNAL_0, ZX_TIME_INFINITE_PAST);
    check_eq!(status, ZX_OK);
    check_eq!(observed, ZX_USER_SIGNAL_0 | ZX_USER_SIGNAL_3);
    Ok(())
}

/// A thread waits for ZERO_CHILDREN on a parent while another sleeps, then
/// closes the last child: the waiter wakes with the signal, before its
/// deadline.
fn zero_children_wakes_the_waiter_before_its_deadline() -> TestResult {
    let t = Table::new()?;
    let (parent, child) = objects::with(|s| {
        let mut task = s.task(t.0);
        let parent = task.vmo_create(PAGE_SIZE, 0)?;
        let child = task.vmo_create_child(parent, ZX_VMO_CHILD_COPY_ON_WRITE, 0, PAGE_SIZE)?;
        Ok((parent, child))
    })
    .map_err(|e| failed("vmo", e))?;
    let deadline = time::deadline_after(LONG);
    let (w, seen) = waiter(t.0, parent, ZX_VMO_ZERO_CHILDREN, deadline)?;
    let table = t.0;
    let closer = sched::spawn("ktest-closer", move || {
        sleep::nanosleep(time::deadline_after(PAUSE));
        close(table, child);
    })
    .map_err(|e| failed("spawn", e))?;
    closer.join();
    w.join();
    let seen = *seen.lock();
    check_eq!(seen.status, Some(ZX_OK));
    check!(
        seen.observed & ZX_VMO_ZERO_CHILDREN != 0,
        "observed {:#x}",
        seen.observed
    );
    check!(seen.at < deadline, "woke at the deadline");
    Ok(())
}

fn closing_the_waited_handle_cancels_the_wait() -> TestResult {
    let t = Table::new()?;
    let e = t.event()?;
    let d = t.duplicate(e, ZX_RIGHT_SAME_RIGHTS)?;
    check_eq!(signal(t.0, e, 0, ZX_USER_SIGNAL_5), ZX_OK);
    let deadline = time::deadline_after(LONG);
    let (w, seen) = waiter(t.0, d, ZX_EVENT_SIGNALED, deadline)?;
    // Close only once the waiter waits (on a loaded host it may not have
    // run yet after a pause; then the wait would see a bad handle).
    let mut pauses = 0;
    while !sched::is_blocked(w.id()) && pauses < 2500 {
        sleep::nanosleep(time::deadline_after(PAUSE));
        pauses += 1;
    }
    check_eq!(close(t.0, d), ZX_OK);
    w.join();
    let seen = *seen.lock();
    check_eq!(seen.status, Some(ZX_ERR_CANCELED));
    check_eq!(seen.observed, ZX_SIGNAL_HANDLE_CLOSED | ZX_USER_SIGNAL_5);
    check!(seen.at < deadline);
    // The object lives on through the other handle.
    let (status, _) = wait::object_wait_one(t.0, e, ZX_USER_SIGNAL_5, ZX_TIME_INFINITE_PAST);
    check_eq!(status, ZX_OK);
    Ok(())
}

fn wait_without_the_wait_right_is_access_denied() -> TestResult {
    let t = Table::new()?;
    let e = t.event()?;
    let d = t.duplicate(e, ZX_RIGHT_SIGNAL)?;
    let (status, _) = wait::object_wait_one(t.0, d, ZX_EVENT_SIGNALED, time::deadline_after(PAUSE));
    check_eq!(status, ZX_ERR_ACCESS_DENIED);
    Ok(())
}

fn wait_on_a_bad_handle_is_bad_handle() -> TestResult {
    let t = Table::new()?;
    let e = t.event()?;
    check_eq!(close(t.0, e), ZX_OK);
    let (status, _) = wait::object_wait_one(t.0, e, ZX_EVENT_SIGNALED, ZX_TIME_INFINITE);
    check_eq!(status, ZX_ERR_BAD_HANDLE);
    Ok(())
}

fn signal_wakes_only_waiters_whose_mask_matches() -> TestResult {
    let t = Table::new()?;
    let e = t.event()?;
    let deadline = time::deadline_after(LONG);
    let (a, seen_a) = waiter(t.0, e, ZX_USER_SIGNAL_0, deadline)?;
    let (b, seen_b) = waiter(t.0, e, ZX_USER_SIGNAL_1, deadline)?;
    sleep::nanosleep(time::deadline_after(PAUSE));
    check_eq!(signal(t.0, e, 0, ZX_USER_SIGNAL_0), ZX_OK);
    a.join();
    // Give the other waiter every chance to (wrongly) finish.
    sleep::nanosleep(time::deadline_after(PAUSE));
    let b_early = seen_b.lock().status;
    check_eq!(signal(t.0, e, 0, ZX_USER_SIGNAL_1), ZX_OK);
    b.join();
    let (seen_a, seen_b) = (*seen_a.lock(), *seen_b.lock());
    check_eq!(seen_a.status, Some(ZX_OK));
    check_eq!(seen_a.observed, ZX_USER_SIGNAL_0);
    check_eq!(b_early, None);
    check_eq!(seen_b.status, Some(ZX_OK));
    check_eq!(seen_b.observed, ZX_USER_SIGNAL_0 | ZX_USER_SIGNAL_1);
    Ok(())
}

fn event_signaled_ends_an_infinite_wait() -> TestResult {
    let t = Table::new()?;
    let e = t.event()?;
    let (w, seen) = waiter(t.0, e, ZX_EVENT_SIGNALED, ZX_TIME_INFINITE)?;
    sleep::nanosleep(time::deadline_after(PAUSE));
    check_eq!(signal(t.0, e, 0, ZX_EVENT_SIGNALED), ZX_OK);
    w.join();
    let seen = *seen.lock();
    check_eq!(seen.status, Some(ZX_OK));
    check_eq!(seen.observed, ZX_EVENT_SIGNALED);
    Ok(())
}

fn object_signal_rejects_bits_it_does_not_own() -> TestResult {
    let t = Table::new()?;
    let e = t.event()?;
    check_eq!(
        signal(t.0, e, 0, ZX_SIGNAL_HANDLE_CLOSED),
        ZX_ERR_INVALID_ARGS
    );
    check_eq!(signal(t.0, e, 1 << 4, 0), ZX_ERR_INVALID_ARGS);
    check_eq!(event_create(t.0, 1), Err(ZX_ERR_INVALID_ARGS));
    Ok(())
}

/// The window a lost wake-up would fall into, opened on purpose: the
/// waiter registers with the object layer, then yields before blocking; the
/// signaller signals in that window. The block must return at once.
fn wake_between_registering_and_blocking_is_not_lost() -> TestResult {
    let t = Table::new()?;
    let e = t.event()?;
    let table = t.0;
    let result = Arc::new(crate::sync::IrqMutex::new(None));
    let out = result.clone();
    let registered = Arc::new(AtomicBool::new(false));
    let reg = registered.clone();
    let w = sched::spawn("ktest-racer", move || {
        let me = sched::wait_prepare(time::deadline_to_ticks(time::deadline_after(LONG)));
        let start = objects::with(|s| s.wait_begin(table, e, ZX_USER_SIGNAL_4, me.raw()));
        reg.store(true, Ordering::Relaxed);
        // Let the signaller run before this thread blocks.
        sched::yield_now();
        let outcome = sched::wait_block();
        let cancelled = match start {
            Ok(WaitStart::Pending(token)) => objects::with(|s| s.wait_cancel(token)),
            _ => None,
        };
        sched::wait_abandon();
        *out.lock() = Some((start.is_ok(), outcome, cancelled));
    })
    .map_err(|e| failed("spawn", e))?;
    // The racer runs first (this thread yields to it), registers, and yields back.
    while !registered.load(Ordering::Relaxed) {
        sched::yield_now();
    }
    check_eq!(signal(t.0, e, 0, ZX_USER_SIGNAL_4), ZX_OK);
    w.join();
    let Some((registered_ok, outcome, cancelled)) = *result.lock() else {
        return Err(Failure::Fail("the racer recorded nothing".into()));
    };
    check!(registered_ok);
    check_eq!(outcome.signals, Some(ZX_USER_SIGNAL_4));
    check!(!outcome.timed_out);
    check_eq!(cancelled, None);
    Ok(())
}

fn nanosleep_without_a_future_deadline_only_yields() -> TestResult {
    let fired = sched::stats().deadline_expirations;
    check_eq!(sleep::nanosleep(0), ZX_OK);
    check_eq!(sleep::nanosleep(-1), ZX_OK);
    check_eq!(sleep::nanosleep(ZX_TIME_INFINITE_PAST), ZX_OK);
    check_eq!(sched::stats().deadline_expirations, fired);
    Ok(())
}

/// Timed-out waits in the lateness report.
const LATENESS_SAMPLES: usize = 200;
/// Each waits this long.
const LATENESS_WAIT: time::Duration = time::usec(500);

fn timed_out_waits_report_their_lateness() -> TestResult {
    let t = Table::new()?;
    let e = t.event()?;
    let mut late = Vec::with_capacity(LATENESS_SAMPLES);
    for _ in 0..LATENESS_SAMPLES {
        let deadline = time::deadline_after(LATENESS_WAIT);
        let (status, _) = wait::object_wait_one(t.0, e, ZX_EVENT_SIGNALED, deadline);
        let now = time::now();
        check_eq!(status, ZX_ERR_TIMED_OUT);
        check!(now >= deadline, "returned {} ns early", deadline - now);
        late.push(now - deadline);
    }
    let (median, max) = super::sched::median_max(&mut late);
    crate::console::diag(format_args!(
        "{LATENESS_SAMPLES} waits of {} µs timed out: lateness median {median} µs, max {max} µs",
        super::sched::Micros(LATENESS_WAIT)
    ));
    Ok(())
}
