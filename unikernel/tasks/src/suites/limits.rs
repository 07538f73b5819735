//! Limits: creating objects until the kernel says `ZX_ERR_NO_MEMORY`
//! (frames, or a quota) leaves the kernel working, and closing them gives
//! everything back: the same objects fit again.

use super::util::*;
use crate::harness::Suite;
use crate::harness::TestResult;
use crate::{check, check_eq, ok, tests};
use zx::{
    AsHandleRef, Event, Handle, HandleBased, Rights, Signals, Status, Task, TaskEnd, Time, Vmar,
    VmarFlags, Vmo, VmoOp,
};

pub static SUITE: Suite = Suite {
    name: "limits",
    tests: tests![
        committing_vmos_until_no_memory_then_closing_them_gives_every_frame_back,
        creating_vmos_until_the_handle_quota_then_closing_them_lets_as_many_be_made_again,
        a_tasks_translation_tables_count_against_its_quota,
        at_a_full_quota_writes_that_need_a_page_are_no_memory_and_write_nothing,
        a_task_at_its_child_limit_gets_no_memory_others_still_create_and_ended_children_give_slots_back,
    ],
};

const PAGE: u64 = abi::PAGE_SIZE;
/// Most VMOs one round of the memory test holds (the guests have at most
/// 2 GiB, the table's committed-page quota is 1 GiB: 4 MiB VMOs reach
/// either in fewer than 512, and the 64 KiB ones fill what is left of one).
const MAX_HELD: usize = 640;

/// Commits VMOs of `size` bytes until that fails, keeping their handles in
/// `held` from `n` on; the new count, or the failure's status if it is not
/// `NO_MEMORY` (or there was no room left in `held`).
fn commit_until_no_memory(
    held: &mut [abi::Handle],
    mut n: usize,
    size: u64,
) -> Result<usize, Status> {
    loop {
        if n == held.len() {
            return Err(Status::BAD_STATE);
        }
        // The VMO's record may be what there is no memory for, or its pages.
        let vmo = match Vmo::create(size) {
            Ok(vmo) => vmo,
            Err(Status::NO_MEMORY) => return Ok(n),
            Err(e) => return Err(e),
        };
        match vmo.op_range(VmoOp::COMMIT, 0, size) {
            Ok(()) => {}
            Err(Status::NO_MEMORY) => return Ok(n),
            Err(e) => return Err(e),
        }
        held[n] = zx::Handle::from(vmo).into_raw();
        n += 1;
    }
}

/// One round: 4 MiB VMOs until no memory, then 64 KiB ones; all closed
/// after. The bytes committed.
fn round(held: &mut [abi::Handle]) -> Result<u64, Status> {
    let big = commit_until_no_memory(held, 0, 1 << 22)?;
    let all = commit_until_no_memory(held, big, 1 << 16)?;
    for h in held[..all].iter_mut() {
        zx::Handle::from_raw(core::mem::replace(h, 0)).close()?;
    }
    Ok(big as u64 * (1 << 22) + (all - big) as u64 * (1 << 16))
}

/// The kernel still does what it did: a VMO written, read and mapped,
/// an event signalled.
fn kernel_works() -> TestResult {
    let vmo = ok!(Vmo::create(2 * PAGE));
    ok!(vmo.write(&[7; 8], PAGE));
    check_eq!(ok!(byte_at(&vmo, PAGE)), 7);
    let addr = ok!(map_rw(&vmo, 2 * PAGE));
    // SAFETY: `addr` is a fresh read-write mapping of two pages.
    unsafe { core::ptr::write_volatile(addr as *mut u8, 9) };
    check_eq!(ok!(byte_at(&vmo, 0)), 9);
    ok!(unmap(addr, 2 * PAGE));
    let event = ok!(Event::create());
    ok!(event.signal_handle(Signals::NONE, Signals::USER_0));
    check!(signals(&event).contains(Signals::USER_0));
    Ok(())
}

fn committing_vmos_until_no_memory_then_closing_them_gives_every_frame_back() -> TestResult {
    let mut held = [0 as abi::Handle; MAX_HELD];
    let first = ok!(round(&mut held));
    check!(first >= 1 << 22, "only {first} bytes could be committed");
    kernel_works()?;
    // Every frame came back (the destroyed VMOs' frames are freed in steps
    // by the calls after): as many bytes fit again. What an earlier test
    // left ending (a killed task, a helper thread past its last call) may
    // still hold its kernel stack for a moment, so a short round is tried
    // again after a pause; a leak stays short every time.
    let mut second = 0;
    for _ in 0..3 {
        second = ok!(round(&mut held));
        if second >= first {
            break;
        }
        zx::Duration::from_millis(20).sleep();
    }
    check!(
        second >= first,
        "the first round committed {first} bytes, the second only {second} (three tries)"
    );
    kernel_works()
}

/// Handles a round of the handle-quota test may hold (a table's quota is 4096).
const MAX_VMOS: usize = 4096;

/// Creates empty VMOs until that fails, keeping their handles in `held`;
/// how many, and the status it stopped on.
fn create_until_refused(held: &mut [abi::Handle]) -> (usize, Option<Status>) {
    for (n, slot) in held.iter_mut().enumerate() {
        match Vmo::create(PAGE) {
            Ok(vmo) => *slot = zx::Handle::from(vmo).into_raw(),
            Err(e) => return (n, Some(e)),
        }
    }
    (held.len(), None)
}

fn creating_vmos_until_the_handle_quota_then_closing_them_lets_as_many_be_made_again() -> TestResult
{
    // The handles are kept in a VMO of their own (the stack is small).
    let store = ok!(Vmo::create(MAX_VMOS as u64 * 4));
    let addr = ok!(map_rw(&store, MAX_VMOS as u64 * 4));
    // SAFETY: the mapping is `MAX_VMOS` handles long, read-write, aligned,
    // and only this slice uses it until it is unmapped below.
    let held = unsafe { core::slice::from_raw_parts_mut(addr as *mut abi::Handle, MAX_VMOS) };
    let mut counts = [0usize; 2];
    for count in counts.iter_mut() {
        let (n, stop) = create_until_refused(held);
        check_eq!(stop, Some(Status::NO_MEMORY), "after {n} VMOs");
        check!(n > 1000, "only {n} VMOs");
        for h in held[..n].iter_mut() {
            ok!(zx::Handle::from_raw(core::mem::replace(h, 0)).close());
        }
        *count = n;
        kernel_works()?;
    }
    check_eq!(counts[0], counts[1], "as many VMOs fit again");
    ok!(unmap(addr, MAX_VMOS as u64 * 4));
    Ok(())
}

/// Where the table-quota helper maps: 1 GiB-aligned offsets of its
/// sub-VMAR far from anything else there, so each first map needs two
/// new table pages (level 2 and level 3; the level-1 table exists).
const FRESH: [u64; 3] = [16 << 30, 17 << 30, 18 << 30];
/// A task's sub-VMAR (and so the offsets within one).
const SLOT: u64 = 64 << 30;

/// Commits pages of `vmo` from `at` on, `chunk` bytes at a time, until
/// that fails with NO_MEMORY; where the first failing chunk began.
fn commit_chunks(vmo: &Vmo, mut at: u64, chunk: u64) -> Result<u64, Status> {
    loop {
        match vmo.op_range(VmoOp::COMMIT, at, chunk) {
            Ok(()) => at += chunk,
            Err(Status::NO_MEMORY) => return Ok(at),
            Err(e) => return Err(e),
        }
    }
}

/// Exit codes of the helper: which step went wrong.
const STEP_FILL: i64 = 10;
const STEP_MAP_REFUSED: i64 = 11;
const STEP_MAP_FITS: i64 = 12;
const STEP_GIVEN_BACK: i64 = 13;
const STEP_FAULT: i64 = 14;

/// In a helper task: fills its quota with committed pages to the last
/// page, then shows that table pages count against it. Ends by faulting
/// on a page that needs table pages it cannot have.
fn table_quota_helper() {
    // The stack pages this runs on are committed first (a fault on a new
    // one would not fit either).
    let mut probe = [0u8; 16 << 10];
    for b in probe.iter_mut().step_by(PAGE as usize) {
        // SAFETY: a local array's byte.
        unsafe { core::ptr::write_volatile(b, 1) };
    }
    core::hint::black_box(&probe);
    let fail = |code| -> ! { zx::exit(code) };
    let Ok(vmo) = Vmo::create(1 << 28) else {
        fail(STEP_FILL)
    };
    let mut at = 0;
    for chunk in [1 << 22, 1 << 16, PAGE] {
        at = match commit_chunks(&vmo, at, chunk) {
            Ok(at) => at,
            Err(_) => fail(STEP_FILL),
        };
    }
    // Full to the page. It is the quota, not memory, that said no.
    let free = zx::kernel_counters(&vmo).map_or(0, |c| c.free_frames);
    if free < 4096 {
        fail(STEP_FILL);
    }
    let vmar = Vmar::root_self();
    let map = |offset: u64, extra: VmarFlags| {
        vmar.map(
            offset,
            &vmo,
            0,
            PAGE,
            VmarFlags::PERM_READ | VmarFlags::SPECIFIC | extra,
        )
    };
    let decommit_last = |n: u64| vmo.op_range(VmoOp::DECOMMIT, at - n * PAGE, n * PAGE);
    // Room for one page: a map that needs two table pages is refused.
    if decommit_last(1).is_err() || map(FRESH[0], VmarFlags::MAP_RANGE) != Err(Status::NO_MEMORY) {
        fail(STEP_MAP_REFUSED);
    }
    // Room for two: it fits.
    let Ok(addr) = decommit_last(2).and_then(|()| map(FRESH[0], VmarFlags::MAP_RANGE)) else {
        fail(STEP_MAP_FITS)
    };
    // Its unmap gives both table pages back: two pages commit, a third not.
    if vmar.unmap(addr, PAGE).is_err()
        || vmo
            .op_range(VmoOp::COMMIT, at - 2 * PAGE, 2 * PAGE)
            .is_err()
        || vmo.op_range(VmoOp::COMMIT, at, PAGE) != Err(Status::NO_MEMORY)
    {
        fail(STEP_GIVEN_BACK);
    }
    // Room for one again: a read fault that needs two table pages ends
    // this task with a report.
    let Ok(addr) = decommit_last(1).and_then(|()| map(FRESH[1], VmarFlags::PERM_READ)) else {
        fail(STEP_FAULT)
    };
    // SAFETY: the test expects the read to fault.
    unsafe { peek(addr) };
    fail(STEP_FAULT);
}

fn a_tasks_translation_tables_count_against_its_quota() -> TestResult {
    let end = ok!(crate::harness::run_in_task(table_quota_helper));
    check!(
        matches!(end, TaskEnd::Faulted { far, .. } if far % SLOT == FRESH[1]),
        "the helper should fault at offset {:#x} of its sub-VMAR: {end:?}",
        FRESH[1]
    );
    kernel_works()
}

/// In a helper task: fills its quota to the page, then checks that each
/// write needing a new page is `ZX_ERR_NO_MEMORY` and changes nothing
/// (vmo_write's page: "Failure to allocate system memory to complete
/// write"), while writes into pages already held still work. Exits 0, or
/// with the number of the step that went wrong.
fn full_quota_write_helper() {
    let mut probe = [0u8; 16 << 10];
    for b in probe.iter_mut().step_by(PAGE as usize) {
        // SAFETY: a local array's byte.
        unsafe { core::ptr::write_volatile(b, 1) };
    }
    core::hint::black_box(&probe);
    let fail = |code| -> ! { zx::exit(code) };
    // Made before the quota fills: a parent with one page, its child, a
    // fresh VMO.
    let (Ok(fill), Ok(parent), Ok(fresh)) = (
        Vmo::create(1 << 28),
        Vmo::create(2 * PAGE),
        Vmo::create(2 * PAGE),
    ) else {
        fail(1)
    };
    let Ok(child) = parent
        .write(&[0x33], 0)
        .and_then(|()| parent.create_child(zx::VmoChildOptions::COPY_ON_WRITE, 0, 2 * PAGE))
    else {
        fail(2)
    };
    let mut at = 0;
    for chunk in [1 << 22, 1 << 16, PAGE] {
        at = match commit_chunks(&fill, at, chunk) {
            Ok(at) => at,
            Err(_) => fail(3),
        };
    }
    // No page to spare: a write to a page nobody holds, a copy-on-write
    // write in the child, a COMMIT.
    if fresh.write(&[1], PAGE + 5) != Err(Status::NO_MEMORY) {
        fail(4);
    }
    if child.write(&[2], 0) != Err(Status::NO_MEMORY) {
        fail(5);
    }
    if fresh.op_range(VmoOp::COMMIT, 0, PAGE) != Err(Status::NO_MEMORY) {
        fail(6);
    }
    // Nothing changed, and a write into a page held still works.
    let nothing = fresh.info().map(|i| i.committed_bytes) == Ok(0)
        && child.info().map(|i| i.committed_bytes) == Ok(0)
        && byte_at(&fresh, PAGE + 5) == Ok(0)
        && byte_at(&child, 0) == Ok(0x33);
    if !nothing {
        fail(7);
    }
    if parent.write(&[0x44], 1).is_err() || byte_at(&child, 1) != Ok(0x44) {
        fail(8);
    }
    // One page given back: one write that needs it fits, the next not.
    if fill.op_range(VmoOp::DECOMMIT, at - PAGE, PAGE).is_err()
        || child.write(&[2], 0).is_err()
        || byte_at(&child, 0) != Ok(2)
        || fresh.write(&[1], 0) != Err(Status::NO_MEMORY)
    {
        fail(9);
    }
}

fn at_a_full_quota_writes_that_need_a_page_are_no_memory_and_write_nothing() -> TestResult {
    let end = ok!(crate::harness::run_in_task(full_quota_write_helper));
    check_eq!(end, TaskEnd::Exited(0));
    kernel_works()
}

/// Most children the child-limit test holds (the limit, with room over).
const MAX_CHILDREN: usize = abi::TASK_MAX_LIVE_CHILDREN as usize + 8;

/// In a child task: waits until the event in `hs[0]` is signalled, exits.
fn wait_then_exit(hs: [abi::Handle; 4]) {
    let go = Event::from(Handle::from_raw(hs[0]));
    let _ = go.wait_handle(Signals::USER_0, Time::INFINITE);
}

/// In a helper task: once the event in `hs[0]` is signalled, creates one
/// child (which exits at once) and exits with 0 if that worked, else the
/// status.
fn create_one_when_told(hs: [abi::Handle; 4]) {
    let go = Event::from(Handle::from_raw(hs[0]));
    let _ = go.wait_handle(Signals::USER_0, Time::INFINITE);
    let code = match crate::harness::run_in_task(|| {}) {
        Ok(TaskEnd::Exited(0)) => 0,
        Ok(_) => 1,
        Err(e) => i64::from(e.into_raw()),
    };
    zx::exit(code)
}

/// Creates children waiting on `go` into `held` until that fails; how
/// many, and the status it stopped on.
fn children_until_refused(
    held: &mut [Option<Task>; MAX_CHILDREN],
    go: &Event,
) -> Result<(usize, Option<Status>), Status> {
    for (n, slot) in held.iter_mut().enumerate() {
        let dup = go.duplicate(Rights::SAME_RIGHTS)?;
        match crate::harness::spawn_with(wait_then_exit, &mut [dup.into()]) {
            Ok(task) => *slot = Some(task),
            Err(e) => return Ok((n, Some(e))),
        }
    }
    Ok((held.len(), None))
}

/// Lets every held child go and waits for each to end; closes them.
fn end_children(held: &mut [Option<Task>; MAX_CHILDREN], go: &Event) -> TestResult {
    ok!(go.signal_handle(Signals::NONE, Signals::USER_0));
    for task in held.iter_mut().filter_map(Option::take) {
        check_eq!(ok!(task.join()), TaskEnd::Exited(0));
    }
    ok!(go.signal_handle(Signals::USER_0, Signals::NONE));
    Ok(())
}

fn a_task_at_its_child_limit_gets_no_memory_others_still_create_and_ended_children_give_slots_back(
) -> TestResult {
    let limit = abi::TASK_MAX_LIVE_CHILDREN as usize;
    let go = ok!(Event::create());
    let tell = ok!(Event::create());
    // Another task, made first (it counts among this one's children).
    let other = ok!(crate::harness::spawn_with(
        create_one_when_told,
        &mut [ok!(tell.duplicate(Rights::SAME_RIGHTS)).into()]
    ));
    let mut held: [Option<Task>; MAX_CHILDREN] = [const { None }; MAX_CHILDREN];
    let (n, stop) = ok!(children_until_refused(&mut held, &go));
    check_eq!(stop, Some(Status::NO_MEMORY), "after {n} children");
    check_eq!(n + 1, limit, "children besides the other task");
    // At its limit, this task takes no child; the other task still can.
    ok!(tell.signal_handle(Signals::NONE, Signals::USER_0));
    check_eq!(ok!(other.join()), TaskEnd::Exited(0));
    drop(other);
    // The other task has ended: one child may come in its place.
    let dup = ok!(go.duplicate(Rights::SAME_RIGHTS));
    held[n] = Some(ok!(crate::harness::spawn_with(
        wait_then_exit,
        &mut [dup.into()]
    )));
    let dup = ok!(go.duplicate(Rights::SAME_RIGHTS));
    check_eq!(
        crate::harness::spawn_with(wait_then_exit, &mut [dup.into()]).err(),
        Some(Status::NO_MEMORY)
    );
    end_children(&mut held, &go)?;
    // Ended and closed, they give every slot back: as many again.
    let (again, stop) = ok!(children_until_refused(&mut held, &go));
    check_eq!(stop, Some(Status::NO_MEMORY));
    check_eq!(again, limit);
    end_children(&mut held, &go)?;
    kernel_works()
}
