//! `zx_task_kill` (zx_task_kill.md): on a task or a thread handle with
//! `ZX_RIGHT_DESTROY`; blocked threads wake and never return to task code,
//! a thread spinning in EL0 stops at its next interrupt, the task's end
//! says it was killed, killing an ended task is `ZX_OK`, killing yourself
//! does not return.

use super::reaping::{
    check_blockers_ended, check_none_returned, gated, none_returned_yet, open_gate, settle,
    start_blockers, start_in, terminated, wait_returned, BLOCKERS,
};
use super::util::{closed, kill_and_join, refuses_bad_handles, stackless_entry};
use crate::harness::{Suite, TestResult};
use crate::{check, check_eq, ok, tests};
use abi::Syscall;
use zx::{AsHandleRef, Duration, Event, HandleBased, Rights, Status, Task, TaskEnd, Thread, Vmo};

pub static SUITE: Suite = Suite {
    name: "kill",
    tests: tests![
        kill_ends_a_task_blocked_in_every_wait,
        kill_stops_a_thread_spinning_in_el0,
        killing_an_ended_task_is_ok_and_keeps_its_end,
        killing_a_task_twice_is_ok,
        a_task_killing_itself_does_not_return,
        kill_of_a_blocked_thread_ends_only_that_thread,
        kill_of_a_spinning_thread_stops_it,
        kill_of_a_thread_never_started_ends_it,
        a_thread_killing_itself_does_not_return,
        kill_on_a_non_task_is_wrong_type,
        kill_on_a_bad_handle_is_bad_handle,
        kill_without_destroy_is_access_denied,
        task_and_thread_handles_carry_destroy,
    ],
};

stackless_entry!(
    /// Spins in EL0 forever, touching neither memory nor the stack.
    pub(super) spin_entry:
    "1:",
    "add x1, x1, #1",
    "b 1b",
);

stackless_entry!(
    /// `zx_task_kill(x0)`; if it returns, notes it and exits the thread.
    kill_self_entry:
    "mov x16, #{kill}",
    "svc #0",
    "b {returned}",
    kill = const Syscall::TaskKill as u64,
    returned = sym wait_returned,
);

/// `zx_task_kill` on a raw handle value.
fn task_kill(h: abi::Handle) -> Result<(), Status> {
    // SAFETY: only a value is passed.
    Status::ok(unsafe { zx::sys::status(Syscall::TaskKill, [u64::from(h), 0, 0, 0, 0, 0, 0, 0]) })
}

fn kill_ends_a_task_blocked_in_every_wait() -> TestResult {
    none_returned_yet();
    // Its first thread waits on the gate (wait_one on an event), which
    // nobody opens; the others sleep and wait, finite and infinite.
    let (_gate, task) = ok!(gated());
    let threads = ok!(start_blockers(&task));
    check_eq!(ok!(task.end()), TaskEnd::Running);
    kill_and_join(&task)?;
    check_blockers_ended(&threads)
}

fn kill_stops_a_thread_spinning_in_el0() -> TestResult {
    let (_gate, task) = ok!(gated());
    let spinner = ok!(start_in(&task, spin_entry, 0));
    settle();
    check!(!terminated(&spinner, Duration::from_millis(0)));
    kill_and_join(&task)?;
    check!(
        terminated(&spinner, Duration::from_millis(100)),
        "a thread spinning in EL0 went on after its task was killed"
    );
    Ok(())
}

fn killing_an_ended_task_is_ok_and_keeps_its_end() -> TestResult {
    let (gate, task) = ok!(gated());
    open_gate(&gate, &task)?;
    ok!(task.kill());
    check_eq!(ok!(task.end()), TaskEnd::Exited(0));
    Ok(())
}

fn killing_a_task_twice_is_ok() -> TestResult {
    let (_gate, task) = ok!(gated());
    ok!(task.kill());
    kill_and_join(&task)
}

fn a_task_killing_itself_does_not_return() -> TestResult {
    fn body(_: [abi::Handle; 4]) {
        let _ = Task::self_handle().kill();
        // Not reached: the kill does not return.
        zx::exit(7);
    }
    let end = ok!(crate::harness::run_in_task_with(body, &mut []));
    check_eq!(end, TaskEnd::Killed);
    Ok(())
}

fn kill_of_a_blocked_thread_ends_only_that_thread() -> TestResult {
    none_returned_yet();
    let (_gate, task) = ok!(gated());
    for (entry, arg) in BLOCKERS {
        let victim = ok!(start_in(&task, entry, arg));
        let other = ok!(start_in(&task, entry, arg));
        settle();
        ok!(victim.kill());
        check!(
            terminated(&victim, Duration::from_millis(100)),
            "a killed blocked thread never ended"
        );
        check!(
            !terminated(&other, Duration::from_millis(1)),
            "its sibling ended too"
        );
        check_eq!(ok!(task.end()), TaskEnd::Running);
        // Killing it again, ended, is OK.
        ok!(victim.kill());
    }
    check_none_returned("a killed wait")?;
    kill_and_join(&task)
}

fn kill_of_a_spinning_thread_stops_it() -> TestResult {
    let (gate, task) = ok!(gated());
    let spinner = ok!(start_in(&task, spin_entry, 0));
    settle();
    ok!(spinner.kill());
    check!(
        terminated(&spinner, Duration::from_millis(100)),
        "a killed thread spinning in EL0 went on"
    );
    check_eq!(ok!(task.end()), TaskEnd::Running);
    // The task goes on: its first thread still waits at the gate.
    open_gate(&gate, &task)
}

fn kill_of_a_thread_never_started_ends_it() -> TestResult {
    let (_gate, task) = ok!(gated());
    let thread = ok!(Thread::create(&task));
    check!(!terminated(&thread, Duration::from_millis(0)));
    ok!(thread.kill());
    check!(
        terminated(&thread, Duration::from_millis(0)),
        "it did not end at once"
    );
    check_eq!(
        thread.start(spin_entry, 0, 0, 0).err(),
        Some(Status::BAD_STATE)
    );
    ok!(task.kill());
    Ok(())
}

fn a_thread_killing_itself_does_not_return() -> TestResult {
    none_returned_yet();
    // A thread of this very task, given its own handle.
    let me = Task::self_handle();
    let thread = ok!(Thread::create(&me));
    ok!(thread.start(kill_self_entry, 0, u64::from(thread.raw_handle()), 0));
    check!(
        terminated(&thread, Duration::from_millis(100)),
        "a thread that killed itself did not end"
    );
    check_none_returned("task_kill on the caller's own thread")
}

fn kill_on_a_non_task_is_wrong_type() -> TestResult {
    let event = ok!(Event::create());
    let vmo = ok!(Vmo::create(4096));
    for h in [event.raw_handle(), vmo.raw_handle()] {
        let r = task_kill(h);
        check_eq!(r, Err(Status::WRONG_TYPE));
    }
    // The root VMAR handle of this task too.
    let r = task_kill(zx::Vmar::root_self().raw_handle());
    check_eq!(r, Err(Status::WRONG_TYPE));
    Ok(())
}

fn kill_on_a_bad_handle_is_bad_handle() -> TestResult {
    refuses_bad_handles(task_kill, closed(ok!(Event::create())))
}

fn kill_without_destroy_is_access_denied() -> TestResult {
    let (_gate, task) = ok!(gated());
    let all = ok!(task.basic_info()).rights;
    let weak = ok!(task.duplicate(Rights(all) - Rights::DESTROY));
    check_eq!(weak.kill(), Err(Status::ACCESS_DENIED));
    check_eq!(ok!(task.end()), TaskEnd::Running);
    let thread = ok!(Thread::create(&task));
    let weak_thread = ok!(thread.duplicate(Rights(all) - Rights::DESTROY));
    check_eq!(weak_thread.kill(), Err(Status::ACCESS_DENIED));
    check!(!terminated(&thread, Duration::from_millis(0)));
    kill_and_join(&task)
}

fn task_and_thread_handles_carry_destroy() -> TestResult {
    let (_gate, task) = ok!(gated());
    let thread = ok!(Thread::create(&task));
    check!(Rights(ok!(task.basic_info()).rights).contains(Rights::DESTROY));
    check!(Rights(ok!(thread.basic_info()).rights).contains(Rights::DESTROY));
    ok!(task.kill());
    Ok(())
}
