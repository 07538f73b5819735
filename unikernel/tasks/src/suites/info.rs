//! `zx_object_get_info` on tasks and threads: `ZX_INFO_PROCESS` (a task is
//! Zircon's process here) and `ZX_INFO_THREAD`, each needing INSPECT and
//! its own object type, as the reference page's RIGHTS say.

use super::kill::spin_entry;
use super::reaping::{gated, sleep_entry, start_in, terminated, wait_self_entry};
use super::util::stackless_entry;
use crate::harness::{spawn_arg, spawn_with, Suite, TestResult};
use crate::{check, check_eq, ok, tests};
use abi::*;
use zx::{
    info_record, AsHandleRef, Duration, Event, HandleBased, Port, Rights, Status, Task, Thread, Vmo,
};

pub static SUITE: Suite = Suite {
    name: "info",
    tests: tests![
        a_running_task_has_started_and_not_exited,
        an_exited_task_reports_its_return_code,
        a_killed_or_faulted_task_reports_minus_one,
        process_info_needs_a_task_and_inspect,
        a_thread_not_started_is_new_and_an_exited_one_dead,
        a_spinning_thread_is_running,
        a_blocked_thread_says_which_call_it_is_blocked_in,
        thread_info_needs_a_thread_and_inspect,
    ],
};

fn process(task: &Task) -> Result<ZxInfoProcess, Status> {
    info_record(task)
}

fn thread_state(thread: &Thread) -> Result<u32, Status> {
    info_record::<ZxInfoThread>(thread).map(|i| i.state)
}

/// Polls `thread`'s state (a millisecond at a time, up to a second) until
/// it is `want`; the state last seen.
fn state_becomes(thread: &Thread, want: u32) -> Result<u32, Status> {
    let mut now = thread_state(thread)?;
    for _ in 0..1000 {
        if now == want {
            break;
        }
        Duration::from_millis(1).sleep();
        now = thread_state(thread)?;
    }
    Ok(now)
}

fn a_running_task_has_started_and_not_exited() -> TestResult {
    let (gate, task) = ok!(gated());
    let info = ok!(process(&task));
    check_eq!((info.started, info.exited, info.return_code), (1, 0, 0));
    check_eq!(info.debugger_attached, 0);
    super::reaping::open_gate(&gate, &task)
}

fn exit_with(code: u64) {
    zx::exit(code as i64)
}

fn an_exited_task_reports_its_return_code() -> TestResult {
    for code in [0u64, 7, u64::MAX] {
        let task = ok!(spawn_arg(exit_with, code));
        ok!(task.join());
        let info = ok!(process(&task));
        check_eq!((info.started, info.exited), (1, 1));
        check_eq!(info.return_code, code as i64);
    }
    Ok(())
}

fn fault_now(_: [abi::Handle; 4]) {
    // SAFETY: none needed: the read faults on purpose (nothing of a task
    // is mapped at 0x1000), ending this task.
    unsafe { core::ptr::read_volatile(0x1000 as *const u64) };
}

fn a_killed_or_faulted_task_reports_minus_one() -> TestResult {
    let (_gate, killed) = ok!(gated());
    ok!(killed.kill());
    ok!(killed.join());
    let info = ok!(process(&killed));
    check_eq!((info.exited, info.return_code), (1, -1));
    let faulted = ok!(spawn_with(fault_now, &mut []));
    ok!(faulted.join());
    let info = ok!(process(&faulted));
    check_eq!((info.exited, info.return_code), (1, -1));
    Ok(())
}

fn process_info_needs_a_task_and_inspect() -> TestResult {
    let (gate, task) = ok!(gated());
    let blind = ok!(task.duplicate(Rights::WAIT | Rights::DUPLICATE));
    check_eq!(process(&blind).err(), Some(Status::ACCESS_DENIED));
    let vmo = ok!(Vmo::create(PAGE));
    check_eq!(
        info_record::<ZxInfoProcess>(&vmo).err(),
        Some(Status::WRONG_TYPE)
    );
    let thread = ok!(Thread::create(&Task::self_handle()));
    check_eq!(
        info_record::<ZxInfoProcess>(&thread).err(),
        Some(Status::WRONG_TYPE)
    );
    super::reaping::open_gate(&gate, &task)
}

const PAGE: u64 = 4096;

fn a_thread_not_started_is_new_and_an_exited_one_dead() -> TestResult {
    let me = Task::self_handle();
    let thread = ok!(Thread::create(&me));
    check_eq!(thread_state(&thread), Ok(ZX_THREAD_STATE_NEW));
    ok!(thread.start(super::reaping::exit_entry, 0, 0, 0));
    check!(terminated(&thread, Duration::from_seconds(1)));
    check_eq!(thread_state(&thread), Ok(ZX_THREAD_STATE_DEAD));
    Ok(())
}

fn a_spinning_thread_is_running() -> TestResult {
    let (gate, task) = ok!(gated());
    let spinner = ok!(start_in(&task, spin_entry, 0));
    check_eq!(thread_state(&spinner), Ok(ZX_THREAD_STATE_RUNNING));
    ok!(task.kill());
    check!(terminated(&spinner, Duration::from_seconds(1)));
    check_eq!(thread_state(&spinner), Ok(ZX_THREAD_STATE_DEAD));
    drop(gate);
    Ok(())
}

stackless_entry!(
    /// `zx_port_wait` on the port in `x0` with no deadline, the packet to
    /// `x1` (in this task's own memory, as every out-parameter); exits the
    /// thread if it returns.
    port_wait_entry:
    "mov x2, x1",
    "mov x1, #{infinite}",
    "mov x16, #{port_wait}",
    "svc #0",
    "b {exit}",
    infinite = const i64::MAX as u64,
    port_wait = const Syscall::PortWait as u64,
    exit = sym super::reaping::exit_entry,
);

fn a_blocked_thread_says_which_call_it_is_blocked_in() -> TestResult {
    let me = Task::self_handle();
    let port = ok!(Port::create());
    let port_arg = u64::from(ok!(port.duplicate_handle(Rights::SAME_RIGHTS)).into_raw());
    let cases: [(zx::ThreadEntry, u64, u32); 3] = [
        (
            sleep_entry,
            i64::MAX as u64,
            ZX_THREAD_STATE_BLOCKED_SLEEPING,
        ),
        (
            wait_self_entry,
            i64::MAX as u64,
            ZX_THREAD_STATE_BLOCKED_WAIT_ONE,
        ),
        (port_wait_entry, port_arg, ZX_THREAD_STATE_BLOCKED_PORT),
    ];
    // The packet's room for the port wait.
    let room = ok!(Vmo::create(PAGE));
    let packet = ok!(zx::Vmar::root_self().map(0, &room, 0, PAGE, zx::VmarFlags::RW));
    for (entry, arg, want) in cases {
        let thread = ok!(Thread::create(&me));
        ok!(thread.start(entry, 0, arg, packet));
        let seen = ok!(state_becomes(&thread, want));
        ok!(thread.kill());
        check!(terminated(&thread, Duration::from_seconds(1)));
        check_eq!(seen, want, "{want:#x}");
        check_eq!(thread_state(&thread), Ok(ZX_THREAD_STATE_DEAD));
    }
    // The duplicate the port waits went through (their thread is gone).
    drop(zx::Handle::from_raw(port_arg as abi::Handle));
    ok!(zx::Vmar::root_self().unmap(packet, PAGE));
    Ok(())
}

fn thread_info_needs_a_thread_and_inspect() -> TestResult {
    let thread = ok!(Thread::create(&Task::self_handle()));
    let blind = ok!(thread.duplicate(Rights::WAIT | Rights::DUPLICATE));
    check_eq!(thread_state(&blind), Err(Status::ACCESS_DENIED));
    check_eq!(
        info_record::<ZxInfoThread>(&*Task::self_handle()).err(),
        Some(Status::WRONG_TYPE)
    );
    let event = ok!(Event::create());
    check_eq!(
        info_record::<ZxInfoThread>(&event).err(),
        Some(Status::WRONG_TYPE)
    );
    Ok(())
}
