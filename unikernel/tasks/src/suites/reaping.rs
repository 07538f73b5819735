//! Everything a thread or task holds comes back when it ends: a task's end
//! reaps its blocked threads, a thread never started dies with its last
//! handle or its task, an ended thread leaves no kernel heap, and a churn
//! of threads and tasks brings heap-in-use and free frames back to where
//! they started (`ZX_INFO_KERNEL_COUNTERS`).

use super::util::stackless_entry;
use crate::harness::{Suite, TestResult};
use crate::{check, check_eq, ok, tests};
use abi::Syscall;
use core::sync::atomic::{AtomicBool, Ordering};
use zx::{
    AsHandleRef, Duration, Event, Handle, Rights, Signals, Status, Task, TaskEnd, Thread, Time,
};

pub static SUITE: Suite = Suite {
    name: "reaping",
    tests: tests![
        a_task_end_ends_its_thread_sleeping_forever,
        a_task_end_ends_threads_blocked_in_every_wait,
        a_thread_never_started_dies_with_its_last_handle,
        a_thread_never_started_dies_with_its_task,
        thread_create_in_an_ended_task_is_bad_state,
        ended_threads_and_tasks_leave_no_kernel_heap,
        churn_of_threads_and_tasks_returns_heap_and_frames,
        one_task_taking_its_most_threads_leaves_others_theirs,
    ],
};

/// Set by a blocking entry if its wait ever returns to task code.
static WAIT_RETURNED: AtomicBool = AtomicBool::new(false);

stackless_entry!(
    /// A thread entry that sleeps until the deadline in `x0`. Like every
    /// entry here, a thread can run it in another task (it needs no stack);
    /// if the call returns, it notes it and exits.
    pub(super) sleep_entry:
    "mov x16, #{nanosleep}",
    "svc #0",
    "b {returned}",
    nanosleep = const Syscall::Nanosleep as u64,
    returned = sym wait_returned,
);

stackless_entry!(
    /// `object_wait_one` on its own task's handle for `USER_0`, which nobody
    /// asserts, until the deadline in `x0` (`ZX_TIME_INFINITE` or far).
    pub(super) wait_self_entry:
    "mov x2, x0",
    "mrs x0, tpidrro_el0",
    "lsr x0, x0, #32",
    "mov x1, #{user0}",
    "mov x3, #0",
    "mov x16, #{wait_one}",
    "svc #0",
    "b {returned}",
    user0 = const abi::ZX_USER_SIGNAL_0,
    wait_one = const Syscall::ObjectWaitOne as u64,
    returned = sym wait_returned,
);

stackless_entry!(
    /// Notes that a wait returned to task code, then exits the thread.
    pub(super) wait_returned:
    "adrp x9, {flag}",
    "mov w10, #1",
    "strb w10, [x9, :lo12:{flag}]",
    "b {exit}",
    flag = sym WAIT_RETURNED,
    exit = sym exit_entry,
);

stackless_entry!(
    /// Exits the thread at once.
    pub(super) exit_entry:
    "mov x16, #{thread_exit}",
    "svc #0",
    "b .",
    thread_exit = const Syscall::ThreadExit as u64,
);

const FAR: u64 = (i64::MAX as u64) >> 1;
const INFINITE: u64 = i64::MAX as u64;

/// The blocked threads a churn task gets: entry and first argument.
pub(super) const BLOCKERS: [(zx::ThreadEntry, u64); 4] = [
    (sleep_entry, INFINITE),
    (sleep_entry, FAR),
    (wait_self_entry, INFINITE),
    (wait_self_entry, FAR),
];

/// A helper task's first thread: waits for `USER_0` on the event it was
/// given, then exits (so threads can be added to it first).
pub(super) fn wait_then_exit(hs: [abi::Handle; 4]) {
    let event = Event::from(Handle::from_raw(hs[0]));
    let _ = event.wait_handle(Signals::USER_0, Time::INFINITE);
}

/// A task that ends once `gate` has `USER_0`.
pub(super) fn gated_task(gate: &Event) -> Result<Task, Status> {
    crate::harness::spawn_with(
        wait_then_exit,
        &mut [gate.duplicate_handle(Rights::SAME_RIGHTS)?],
    )
}

/// A new gate and a [`gated_task`] waiting at it.
pub(super) fn gated() -> Result<(Event, Task), Status> {
    let gate = Event::create()?;
    let task = gated_task(&gate)?;
    Ok((gate, task))
}

/// Opens `gate`, which lets a [`gated_task`] exit: fails unless it ends
/// with status 0.
pub(super) fn open_gate(gate: &Event, task: &Task) -> TestResult {
    ok!(gate.signal_handle(Signals::NONE, Signals::USER_0));
    check_eq!(ok!(task.join()), TaskEnd::Exited(0));
    Ok(())
}

/// Starts a thread of `task` at `entry(arg)` with no stack.
pub(super) fn start_in(task: &Task, entry: zx::ThreadEntry, arg: u64) -> Result<Thread, Status> {
    let thread = Thread::create(task)?;
    thread.start(entry, 0, arg, 0)?;
    Ok(thread)
}

pub(super) fn terminated(h: &impl AsHandleRef, within: Duration) -> bool {
    h.wait_handle(Signals::THREAD_TERMINATED, Time::after(within))
        .is_ok()
}

/// One thread of `task` per kind of wait in [`BLOCKERS`], each blocked in it.
pub(super) fn start_blockers(task: &Task) -> Result<[Thread; BLOCKERS.len()], Status> {
    let mut threads = [const { None }; BLOCKERS.len()];
    for (slot, (entry, arg)) in threads.iter_mut().zip(BLOCKERS) {
        *slot = Some(start_in(task, entry, arg)?);
    }
    settle();
    Ok(threads.map(|t| t.expect("every slot was filled")))
}

/// The first of [`start_blockers`]' threads that has not ended within 100 ms.
fn blocker_not_ended(threads: &[Thread]) -> Option<usize> {
    threads
        .iter()
        .position(|t| !terminated(t, Duration::from_millis(100)))
}

/// Forgets any earlier call that returned to task code (a test's start).
pub(super) fn none_returned_yet() {
    WAIT_RETURNED.store(false, Ordering::SeqCst);
}

/// Fails if, since [`none_returned_yet`], a call (`what`) that should have
/// ended its thread returned to task code instead.
pub(super) fn check_none_returned(what: &str) -> TestResult {
    check!(
        !WAIT_RETURNED.load(Ordering::SeqCst),
        "{what} returned to task code"
    );
    Ok(())
}

/// Fails unless every one of [`start_blockers`]' threads ended without
/// its wait returning to task code.
pub(super) fn check_blockers_ended(threads: &[Thread]) -> TestResult {
    let stuck = blocker_not_ended(threads);
    check!(stuck.is_none(), "blocker {stuck:?} never ended");
    check_none_returned("a killed wait")
}

/// Gives threads that are on their way out the CPU.
pub(super) fn settle() {
    Duration::from_millis(1).sleep();
}

/// Lets every thread ready now run until it blocks or ends (a zero
/// deadline yields: this thread goes behind them).
fn yield_now() {
    Time::from_nanos(0).sleep();
}

/// A task entry that exits at once.
extern "C" fn exit_now_entry(
    _: u64,
    _: abi::Handle,
    _: abi::Handle,
    _: abi::Handle,
    _: abi::Handle,
) -> ! {
    zx::exit(0)
}

fn a_task_end_ends_its_thread_sleeping_forever() -> TestResult {
    none_returned_yet();
    let (gate, task) = ok!(gated());
    let thread = ok!(start_in(&task, sleep_entry, INFINITE));
    settle();
    check!(!terminated(&thread, Duration::from_millis(0)));
    open_gate(&gate, &task)?;
    check!(
        terminated(&thread, Duration::from_millis(100)),
        "the sleeping thread of an ended task never ended"
    );
    check_none_returned("a killed wait")
}

fn a_task_end_ends_threads_blocked_in_every_wait() -> TestResult {
    none_returned_yet();
    let (gate, task) = ok!(gated());
    let threads = ok!(start_blockers(&task));
    open_gate(&gate, &task)?;
    check_blockers_ended(&threads)
}

/// Kernel heap in use and free frames (`ZX_INFO_KERNEL_COUNTERS`).
fn usage() -> Result<(u64, u64), Status> {
    let c = zx::kernel_counters(&*Task::self_handle())?;
    Ok((c.heap_in_use, c.free_frames))
}

/// The usage once it holds still (five readings 5 ms apart agree, within
/// two seconds): threads of earlier tests may still be giving their stacks
/// back on other CPUs, and an ended task's table waits for every CPU to
/// leave it; a start taken mid-way would not be come back to. One pair of
/// readings was seen to agree while a CPU the host had not run for a
/// while still held some 48 frames of an ended task (raspi4b, a loaded
/// machine).
pub(super) fn quiet_usage() -> Result<(u64, u64), Status> {
    const AGREEING: u32 = 5;
    let mut last = usage()?;
    let mut same = 1;
    for _ in 0..400 {
        Duration::from_millis(5).sleep();
        let now = usage()?;
        if now == last {
            same += 1;
            if same == AGREEING {
                break;
            }
        } else {
            same = 1;
        }
        last = now;
    }
    Ok(last)
}

/// Waits (a millisecond at a time, up to a second: on a loaded machine the
/// CPUs that ran the threads may give their stacks back late) for the
/// usage to come back to `start` while threads on their way out finish;
/// the usage last seen.
pub(super) fn usage_back_to(start: (u64, u64)) -> Result<(u64, u64), Status> {
    usage_until(|now| now == start)
}

/// [`usage_back_to`] for any condition on the usage.
fn usage_until(done: impl Fn((u64, u64)) -> bool) -> Result<(u64, u64), Status> {
    let mut now = usage()?;
    for _ in 0..1000 {
        if done(now) {
            break;
        }
        settle();
        now = usage()?;
    }
    Ok(now)
}

/// Runs `round` `n` times: fails unless kernel heap in use and free frames
/// come back to where they were before.
fn usage_unchanged_by(n: usize, mut round: impl FnMut() -> Result<(), Status>) -> TestResult {
    let start = ok!(quiet_usage());
    for _ in 0..n {
        ok!(round());
    }
    check_eq!(
        ok!(usage_back_to(start)),
        start,
        "(heap bytes, free frames)"
    );
    Ok(())
}

fn a_thread_never_started_dies_with_its_last_handle() -> TestResult {
    let me = Task::self_handle();
    let round = || -> Result<(), Status> {
        let thread = Thread::create(&me)?;
        drop(thread.duplicate_handle(Rights::SAME_RIGHTS)?);
        Ok(())
    };
    // Warm up: the tables reach the size this test needs, whatever the
    // threads of earlier tests still hold while they finish.
    settle();
    for _ in 0..200 {
        ok!(round());
    }
    usage_unchanged_by(2000, round)
}

fn a_thread_never_started_dies_with_its_task() -> TestResult {
    let (gate, task) = ok!(gated());
    let thread = ok!(Thread::create(&task));
    open_gate(&gate, &task)?;
    check!(
        terminated(&thread, Duration::from_millis(0)),
        "a thread never started outlived its task"
    );
    check_eq!(thread.start(exit_entry, 0, 0, 0), Err(Status::BAD_STATE));
    Ok(())
}

fn thread_create_in_an_ended_task_is_bad_state() -> TestResult {
    let (gate, task) = ok!(gated());
    open_gate(&gate, &task)?;
    check_eq!(Thread::create(&task).map(drop), Err(Status::BAD_STATE));
    Ok(())
}

fn ended_threads_and_tasks_leave_no_kernel_heap() -> TestResult {
    let me = Task::self_handle();
    let round = || -> Result<(), Status> {
        let thread = start_in(&me, exit_entry, 0)?;
        thread.wait_handle(Signals::THREAD_TERMINATED, Time::INFINITE)?;
        let task = Task::create(exit_now_entry, 0, &mut [])?;
        task.wait_handle(Signals::TASK_TERMINATED, Time::INFINITE)?;
        Ok(())
    };
    settle();
    for _ in 0..20 {
        ok!(round());
    }
    settle();
    usage_unchanged_by(200, round)
}

/// Threads and tasks alive at once in the churn.
const BATCH: usize = 16;
/// The churn's full size (`churn=full`): threads (half started, half never
/// started) and tasks. `just test` runs it on one configuration.
const CHURN_THREADS: usize = 100_000;
const CHURN_TASKS: usize = 20_000;
/// The default size is this fraction of it (every configuration, quick).
const CHURN_DEFAULT_DIVISOR: usize = 50;

/// One churn batch: `BATCH / 2` started threads that exit, `BATCH / 2`
/// threads never started, and, if `tasks`, `BATCH / 4` tasks, one of every
/// four ending with threads blocked in every kind of wait (and one never
/// started).
fn churn_batch(tasks: bool, round: usize) -> Result<(), Status> {
    let me = Task::self_handle();
    let mut started: [Option<Thread>; BATCH / 2] = Default::default();
    for slot in started.iter_mut() {
        *slot = Some(start_in(&me, exit_entry, 0)?);
    }
    for _ in 0..BATCH / 2 {
        drop(Thread::create(&me)?);
    }
    for t in started.iter().flatten() {
        t.wait_handle(Signals::THREAD_TERMINATED, Time::INFINITE)?;
    }
    if !tasks {
        return Ok(());
    }
    let gate = Event::create()?;
    let mut live: [Option<(Task, [Option<Thread>; BLOCKERS.len()])>; BATCH / 4] =
        Default::default();
    for (i, slot) in live.iter_mut().enumerate() {
        let task = gated_task(&gate)?;
        let mut blocked: [Option<Thread>; BLOCKERS.len()] = Default::default();
        if (round + i).is_multiple_of(4) {
            for (b, (entry, arg)) in blocked.iter_mut().zip(BLOCKERS) {
                *b = Some(start_in(&task, entry, arg)?);
            }
            // And one never started, which dies with the task.
            drop(Thread::create(&task)?);
        }
        *slot = Some((task, blocked));
    }
    // The blockers block before the tasks end.
    yield_now();
    gate.signal_handle(Signals::NONE, Signals::USER_0)?;
    for (task, blocked) in live.iter().flatten() {
        task.wait_handle(Signals::TASK_TERMINATED, Time::INFINITE)?;
        for t in blocked.iter().flatten() {
            t.wait_handle(
                Signals::THREAD_TERMINATED,
                Time::after(Duration::from_seconds(1)),
            )?;
        }
    }
    Ok(())
}

fn churn_of_threads_and_tasks_returns_heap_and_frames() -> TestResult {
    none_returned_yet();
    // Warm-up batches: every table reaches the size the churn needs.
    settle();
    for round in 0..4 {
        ok!(churn_batch(true, round));
    }
    settle();
    let start = ok!(quiet_usage());
    let divisor = if crate::harness::churn_full() {
        1
    } else {
        CHURN_DEFAULT_DIVISOR
    };
    let batches = CHURN_THREADS / divisor / BATCH;
    let task_batches = CHURN_TASKS / divisor / (BATCH / 4);
    for round in 0..batches {
        ok!(churn_batch(round < task_batches, round));
    }
    check_none_returned("a killed wait")?;
    let threads = (batches * BATCH) as u64;
    let back = |now: (u64, u64)| now.1 == start.1 && now.0 >= start.0 && now.0 - start.0 < threads;
    let end = ok!(usage_until(back));
    crate::println!(
        "    # churn: {} threads, {} tasks; heap {} -> {} bytes, free frames {} -> {}",
        batches * BATCH,
        task_batches * (BATCH / 4),
        start.0,
        end.0,
        start.1,
        end.1
    );
    // Every frame comes back. The heap may keep a little more: with
    // several CPUs, how many threads are alive at once (the size the
    // scheduler's tables grow to, and keep) is up to timing, and a churn
    // may reach a new peak after the warm-up. Less than a byte per thread
    // churned: no leak per thread or per task fits in that.
    check_eq!(end.1, start.1, "free frames");
    check!(
        end.0 >= start.0 && end.0 - start.0 < threads,
        "heap bytes {} -> {}: more than the tables' growth",
        start.0,
        end.0
    );
    Ok(())
}

/// The kernel's per-task thread limit (`MAX_THREADS_PER_TASK`).
const MAX_THREADS_PER_TASK: usize = 256;

/// A task that creates threads until the kernel refuses gets
/// `ZX_ERR_NO_MEMORY` at its own limit, not at the system's: another task
/// can still create and run threads meanwhile, and closing them gives the
/// limit back.
fn one_task_taking_its_most_threads_leaves_others_theirs() -> TestResult {
    let me = Task::self_handle();
    let mut held: [Option<Thread>; MAX_THREADS_PER_TASK] = [const { None }; MAX_THREADS_PER_TASK];
    let mut n = 0;
    let last = loop {
        check!(n < MAX_THREADS_PER_TASK, "more threads than the limit");
        match Thread::create(&me) {
            Ok(t) => held[n] = Some(t),
            Err(e) => break e,
        }
        n += 1;
    };
    check_eq!(last, Status::NO_MEMORY);
    // This test's own thread counts too.
    check_eq!(n, MAX_THREADS_PER_TASK - 1);
    let other = ok!(crate::harness::run_in_task(|| {
        let t = Thread::create(&Task::self_handle());
        zx::exit(if t.is_ok() { 0 } else { 1 })
    }));
    check_eq!(
        other,
        TaskEnd::Exited(0),
        "another task could not create a thread"
    );
    held[n - 1] = None;
    check!(
        Thread::create(&me).is_ok(),
        "a closed thread did not give its place back"
    );
    Ok(())
}
