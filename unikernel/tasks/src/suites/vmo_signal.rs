//! `ZX_VMO_ZERO_CHILDREN` (a child lives while it has a handle, a mapping
//! or a live child) and user signals on VMOs.

use super::util::*;
use crate::harness::{spawn_with, Suite, TestResult};
use crate::{check, check_eq, ok, tests};
use zx::{
    AsHandleRef, Duration, Event, Handle, HandleBased, Rights, Signals, Status, Time, Vmar,
    VmarFlags, Vmo, VmoChildOptions,
};

pub static SUITE: Suite = Suite {
    name: "vmo_signal",
    tests: tests![
        new_vmo_asserts_zero_children,
        create_child_clears_zero_children,
        closing_the_only_child_asserts_zero_children,
        closing_one_of_two_children_keeps_zero_children_inactive,
        closing_one_of_two_handles_to_the_child_keeps_zero_children_inactive,
        mapped_child_keeps_zero_children_inactive_after_its_handle_closes,
        unmapping_the_last_child_mapping_asserts_zero_children,
        live_grandchild_keeps_the_parent_inactive_after_the_middle_closes,
        closing_the_grandchild_asserts_zero_children_up_the_chain,
        child_has_its_own_zero_children_signal,
        failed_create_child_leaves_zero_children_asserted,
        wait_for_zero_children_times_out_while_a_child_lives,
        wait_for_zero_children_wakes_when_another_task_drops_the_child,
        user_signals_on_a_vmo_can_be_set_and_cleared,
        object_signal_clears_before_it_sets,
        object_signal_of_a_system_bit_on_a_vmo_is_invalid_args,
        object_signal_without_signal_right_is_access_denied,
        wait_without_wait_right_is_access_denied,
        observed_reports_zero_children_and_user_signals_together,
        user_signal_from_another_task_wakes_a_waiter,
        destroying_the_region_with_the_last_child_mapping_asserts_zero_children,
        a_child_mapped_by_another_task_counts_until_that_task_ends,
    ],
};

const COW: VmoChildOptions = VmoChildOptions::COPY_ON_WRITE;

fn new_vmo_asserts_zero_children() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    check_eq!(signals(&vmo), Signals::VMO_ZERO_CHILDREN);
    check_eq!(
        vmo.wait_handle(Signals::VMO_ZERO_CHILDREN, Time::INFINITE_PAST),
        Ok(Signals::VMO_ZERO_CHILDREN)
    );
    Ok(())
}

fn create_child_clears_zero_children() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let _child = ok!(vmo.create_child(COW, 0, PAGE));
    check!(!zero_children(&vmo));
    Ok(())
}

fn closing_the_only_child_asserts_zero_children() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let child = ok!(vmo.create_child(COW, 0, PAGE));
    check!(!zero_children(&vmo));
    drop(child);
    childless(&vmo, format_args!("children left"))
}

fn closing_one_of_two_children_keeps_zero_children_inactive() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let a = ok!(vmo.create_child(COW, 0, PAGE));
    let b = ok!(vmo.create_child(COW, 0, PAGE));
    drop(a);
    check!(!zero_children(&vmo));
    drop(b);
    check!(zero_children(&vmo));
    Ok(())
}

fn closing_one_of_two_handles_to_the_child_keeps_zero_children_inactive() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let child = ok!(vmo.create_child(COW, 0, PAGE));
    let dup = ok!(child.duplicate(Rights::SAME_RIGHTS));
    drop(child);
    check!(!zero_children(&vmo));
    drop(dup);
    check!(zero_children(&vmo));
    Ok(())
}

fn mapped_child_keeps_zero_children_inactive_after_its_handle_closes() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let child = ok!(vmo.create_child(COW, 0, PAGE));
    let addr = ok!(map_rw(&child, PAGE));
    drop(child);
    check!(!zero_children(&vmo), "the mapping keeps the child alive");
    // The mapping still shows the parent's page.
    ok!(vmo.write(&[0x61], 0));
    // SAFETY: the mapping is readable.
    check_eq!(unsafe { peek(addr) }, 0x61);
    ok!(unmap(addr, PAGE));
    Ok(())
}

fn unmapping_the_last_child_mapping_asserts_zero_children() -> TestResult {
    let vmo = ok!(Vmo::create(2 * PAGE));
    let child = ok!(vmo.create_child(COW, 0, 2 * PAGE));
    let a = ok!(map_rw(&child, 2 * PAGE));
    let b = ok!(map_rw(&child, PAGE));
    drop(child);
    ok!(unmap(a, PAGE));
    check!(!zero_children(&vmo));
    ok!(unmap(a + PAGE, PAGE));
    check!(!zero_children(&vmo));
    ok!(unmap(b, PAGE));
    check!(zero_children(&vmo));
    Ok(())
}

fn live_grandchild_keeps_the_parent_inactive_after_the_middle_closes() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let child = ok!(vmo.create_child(COW, 0, PAGE));
    let grandchild = ok!(child.create_child(COW, 0, PAGE));
    drop(child);
    check!(
        !zero_children(&vmo),
        "the grandchild keeps the middle alive"
    );
    check_eq!(ok!(vmo.info()).num_children, 1);
    drop(grandchild);
    check!(zero_children(&vmo));
    Ok(())
}

fn closing_the_grandchild_asserts_zero_children_up_the_chain() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let child = ok!(vmo.create_child(COW, 0, PAGE));
    let grandchild = ok!(child.create_child(COW, 0, PAGE));
    check!(!zero_children(&child));
    drop(grandchild);
    check!(zero_children(&child));
    check!(!zero_children(&vmo));
    drop(child);
    check!(zero_children(&vmo));
    Ok(())
}

fn child_has_its_own_zero_children_signal() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let child = ok!(vmo.create_child(COW, 0, PAGE));
    check!(zero_children(&child));
    check!(!zero_children(&vmo));
    Ok(())
}

fn failed_create_child_leaves_zero_children_asserted() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let weak = ok!(vmo.duplicate(Rights::READ | Rights::WAIT));
    let failures = [
        vmo.create_child(VmoChildOptions(0), 0, PAGE),
        vmo.create_child(COW, 1, PAGE),
        vmo.create_child(COW, PAGE, u64::MAX),
        weak.create_child(COW, 0, PAGE),
    ];
    for (i, f) in failures.iter().enumerate() {
        check!(f.is_err(), "case {i} made a child");
    }
    check!(zero_children(&vmo));
    check!(zero_children(&weak));
    Ok(())
}

fn wait_for_zero_children_times_out_while_a_child_lives() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let _child = ok!(vmo.create_child(COW, 0, PAGE));
    let start = Time::get_monotonic();
    let (st, observed) = vmo.wait_handle_observed(
        Signals::VMO_ZERO_CHILDREN,
        Time::after(Duration::from_millis(2)),
    );
    check_eq!(st, Err(Status::TIMED_OUT));
    check_eq!(observed, Signals::NONE);
    check!(Time::get_monotonic() - start >= Duration::from_millis(2));
    Ok(())
}

fn hold_then_exit(h: [abi::Handle; 4]) {
    // Keep the child (h[0]) a little while, then end: the task's handles close.
    let child = Handle::from_raw(h[0]);
    Duration::from_millis(3).sleep();
    core::mem::forget(child);
}

fn wait_for_zero_children_wakes_when_another_task_drops_the_child() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let child = ok!(vmo.create_child(COW, 0, PAGE));
    let task = ok!(spawn_with(hold_then_exit, &mut [child.into()]));
    check!(!zero_children(&vmo));
    let observed = ok!(vmo.wait_handle(
        Signals::VMO_ZERO_CHILDREN,
        Time::after(Duration::from_seconds(5))
    ));
    check!(observed.contains(Signals::VMO_ZERO_CHILDREN));
    check_eq!(ok!(task.join()), zx::TaskEnd::Exited(0));
    Ok(())
}

fn user_signals_on_a_vmo_can_be_set_and_cleared() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    ok!(vmo.signal_handle(Signals::NONE, Signals::USER_0 | Signals::USER_1));
    check_eq!(
        signals(&vmo),
        Signals::VMO_ZERO_CHILDREN | Signals::USER_0 | Signals::USER_1
    );
    ok!(vmo.signal_handle(Signals::USER_0, Signals::NONE));
    check_eq!(signals(&vmo), Signals::VMO_ZERO_CHILDREN | Signals::USER_1);
    ok!(vmo.signal_handle(Signals::USER_ALL, Signals::NONE));
    check_eq!(signals(&vmo), Signals::VMO_ZERO_CHILDREN);
    Ok(())
}

fn object_signal_clears_before_it_sets() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    ok!(vmo.signal_handle(Signals::USER_ALL, Signals::USER_1));
    check_eq!(signals(&vmo), Signals::VMO_ZERO_CHILDREN | Signals::USER_1);
    Ok(())
}

fn object_signal_of_a_system_bit_on_a_vmo_is_invalid_args() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let _child = ok!(vmo.create_child(COW, 0, PAGE));
    check_eq!(
        vmo.signal_handle(Signals::NONE, Signals::VMO_ZERO_CHILDREN),
        Err(Status::INVALID_ARGS)
    );
    check_eq!(
        vmo.signal_handle(Signals::NONE, Signals(1)),
        Err(Status::INVALID_ARGS)
    );
    check_eq!(
        vmo.signal_handle(Signals::HANDLE_CLOSED, Signals::NONE),
        Err(Status::INVALID_ARGS)
    );
    check!(!zero_children(&vmo));
    // Nothing was half done: a valid set in the same call did not happen.
    check_eq!(
        vmo.signal_handle(Signals::NONE, Signals::USER_0 | Signals::VMO_ZERO_CHILDREN),
        Err(Status::INVALID_ARGS)
    );
    check_eq!(signals(&vmo), Signals::NONE);
    Ok(())
}

fn object_signal_without_signal_right_is_access_denied() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let h = ok!(vmo.duplicate(Rights(abi::ZX_DEFAULT_VMO_RIGHTS) - Rights::SIGNAL));
    check_eq!(
        h.signal_handle(Signals::NONE, Signals::USER_0),
        Err(Status::ACCESS_DENIED)
    );
    check_eq!(signals(&vmo), Signals::VMO_ZERO_CHILDREN);
    Ok(())
}

fn wait_without_wait_right_is_access_denied() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let h = ok!(vmo.duplicate(Rights::READ));
    check_eq!(
        h.wait_handle(Signals::VMO_ZERO_CHILDREN, Time::INFINITE_PAST),
        Err(Status::ACCESS_DENIED)
    );
    Ok(())
}

fn observed_reports_zero_children_and_user_signals_together() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    ok!(vmo.signal_handle(Signals::NONE, Signals::USER_1));
    let observed = ok!(vmo.wait_handle(Signals::USER_1, Time::INFINITE_PAST));
    check_eq!(observed, Signals::VMO_ZERO_CHILDREN | Signals::USER_1);
    Ok(())
}

fn signal_after_a_while(h: [abi::Handle; 4]) {
    let vmo = Vmo::from(Handle::from_raw(h[0]));
    Duration::from_millis(2).sleep();
    let _ = vmo.signal_handle(Signals::NONE, Signals::USER_0);
}

fn user_signal_from_another_task_wakes_a_waiter() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let dup = ok!(vmo.duplicate_handle(Rights::SAME_RIGHTS));
    let task = ok!(spawn_with(signal_after_a_while, &mut [dup]));
    let observed = ok!(vmo.wait_handle(Signals::USER_0, Time::after(Duration::from_seconds(5))));
    check!(observed.contains(Signals::USER_0));
    check_eq!(ok!(task.join()), zx::TaskEnd::Exited(0));
    Ok(())
}

/// "no mappings of those clones into address spaces exist": a
/// `vmar_destroy` that takes the last mapping of a child with no handle
/// asserts the parent's ZERO_CHILDREN, as an unmap does.
fn destroying_the_region_with_the_last_child_mapping_asserts_zero_children() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let child = ok!(vmo.create_child(COW, 0, PAGE));
    let flags = VmarFlags::CAN_MAP_READ | VmarFlags::CAN_MAP_WRITE;
    let (region, _) = ok!(Vmar::root_self().allocate(0, 4 * PAGE, flags));
    ok!(region.map(0, &child, 0, PAGE, VmarFlags::PERM_READ));
    ok!(region.map(0, &child, 0, PAGE, VmarFlags::PERM_READ));
    drop(child);
    check!(!zero_children(&vmo));
    check_eq!(ok!(vmo.info()).num_children, 1);
    ok!(region.destroy());
    check!(zero_children(&vmo));
    check_eq!(ok!(vmo.info()).num_children, 0);
    Ok(())
}

fn map_close_then_exit(h: [abi::Handle; 4]) {
    // Map the child (h[0]), close its handle, tell the test (h[1]), and
    // end a little later: the task's end takes the mapping.
    let child = Vmo::from(Handle::from_raw(h[0]));
    let told = Event::from(Handle::from_raw(h[1]));
    if map(&child, PAGE, VmarFlags::PERM_READ).is_err() {
        zx::exit(1);
    }
    drop(child);
    if told.signal_handle(Signals::NONE, Signals::USER_0).is_err() {
        zx::exit(2);
    }
    Duration::from_millis(3).sleep();
}

/// A child another task maps and no longer has a handle to keeps the
/// parent's ZERO_CHILDREN inactive until that task ends.
fn a_child_mapped_by_another_task_counts_until_that_task_ends() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let child = ok!(vmo.create_child(COW, 0, PAGE));
    let event = ok!(Event::create());
    let theirs = ok!(event.duplicate_handle(Rights::SAME_RIGHTS));
    let task = ok!(spawn_with(map_close_then_exit, &mut [child.into(), theirs]));
    ok!(event.wait_handle(Signals::USER_0, Time::after(Duration::from_seconds(5))));
    check!(
        !zero_children(&vmo),
        "the other task's mapping keeps the child"
    );
    let observed = ok!(vmo.wait_handle(
        Signals::VMO_ZERO_CHILDREN,
        Time::after(Duration::from_seconds(5))
    ));
    check!(observed.contains(Signals::VMO_ZERO_CHILDREN));
    check_eq!(ok!(task.join()), zx::TaskEnd::Exited(0));
    check_eq!(ok!(vmo.info()).num_children, 0);
    Ok(())
}
