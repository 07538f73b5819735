//! Signals, events and the waiter (observer) interface.

mod common;
use abi::*;
use common::*;
use object::WaitStart;

#[test]
fn event_create_with_options_is_invalid_args() {
    let (mut s, t) = setup();
    assert_eq!(s.task(t).event_create(1), Err(ZX_ERR_INVALID_ARGS));
}

#[test]
fn new_event_has_no_signals() {
    let (mut s, t) = setup();
    let e = s.task(t).event_create(0).unwrap();
    assert_eq!(s.task(t).object_signals(e), Ok(0));
}

#[test]
fn signal_clears_then_sets() {
    let (mut s, t) = setup();
    let e = s.task(t).event_create(0).unwrap();
    s.task(t)
        .object_signal(e, 0, ZX_USER_SIGNAL_0 | ZX_USER_SIGNAL_1)
        .unwrap();
    s.task(t)
        .object_signal(
            e,
            ZX_USER_SIGNAL_0 | ZX_USER_SIGNAL_2,
            ZX_USER_SIGNAL_2 | ZX_EVENT_SIGNALED,
        )
        .unwrap();
    assert_eq!(
        s.task(t).object_signals(e),
        Ok(ZX_USER_SIGNAL_1 | ZX_USER_SIGNAL_2 | ZX_EVENT_SIGNALED)
    );
}

#[test]
fn user_signals_work_on_a_vmo_alongside_zero_children() {
    let (mut s, t, v) = setup_vmo();
    s.task(t).object_signal(v, 0, ZX_USER_SIGNAL_7).unwrap();
    assert_eq!(
        s.task(t).object_signals(v),
        Ok(ZX_USER_SIGNAL_7 | ZX_VMO_ZERO_CHILDREN)
    );
}

#[test]
fn signaling_a_non_user_bit_on_a_vmo_is_invalid_args() {
    let (mut s, t, v) = setup_vmo();
    assert_eq!(
        s.task(t).object_signal(v, ZX_VMO_ZERO_CHILDREN, 0),
        Err(ZX_ERR_INVALID_ARGS)
    );
    assert_eq!(
        s.task(t).object_signal(v, 0, 1 << 4),
        Err(ZX_ERR_INVALID_ARGS)
    );
}

#[test]
fn signal_without_the_signal_right_is_access_denied() {
    let (mut s, t) = setup();
    let e = s.task(t).event_create(0).unwrap();
    let d = dup(&mut s, t, e, ZX_RIGHT_WAIT);
    assert_eq!(
        s.task(t).object_signal(d, 0, ZX_USER_SIGNAL_0),
        Err(ZX_ERR_ACCESS_DENIED)
    );
}

#[test]
fn wait_on_an_active_signal_is_satisfied_at_once() {
    let (mut s, t, v) = setup_vmo();
    assert_eq!(
        s.task(t).object_wait_begin(v, ZX_VMO_ZERO_CHILDREN, 1),
        Ok(WaitStart::Satisfied(ZX_VMO_ZERO_CHILDREN))
    );
    assert!(s.platform().take_wakes().is_empty());
}

#[test]
fn pending_wait_is_woken_once_when_a_signal_is_set() {
    let (mut s, t) = setup();
    let e = s.task(t).event_create(0).unwrap();
    let w = s
        .task(t)
        .object_wait_begin(e, ZX_EVENT_SIGNALED, 7)
        .unwrap();
    assert!(matches!(w, WaitStart::Pending(_)));
    s.task(t).object_signal(e, 0, ZX_USER_SIGNAL_0).unwrap();
    assert!(s.platform().take_wakes().is_empty());
    s.task(t).object_signal(e, 0, ZX_EVENT_SIGNALED).unwrap();
    s.task(t)
        .object_signal(e, ZX_EVENT_SIGNALED, ZX_EVENT_SIGNALED)
        .unwrap();
    assert_eq!(
        s.platform().take_wakes(),
        vec![(7, ZX_USER_SIGNAL_0 | ZX_EVENT_SIGNALED)]
    );
}

#[test]
fn cancelled_wait_is_never_woken_and_reports_current_signals() {
    let (mut s, t) = setup();
    let e = s.task(t).event_create(0).unwrap();
    let WaitStart::Pending(token) = s
        .task(t)
        .object_wait_begin(e, ZX_EVENT_SIGNALED, 3)
        .unwrap()
    else {
        panic!("wait should pend");
    };
    s.task(t).object_signal(e, 0, ZX_USER_SIGNAL_1).unwrap();
    assert_eq!(s.wait_cancel(token), Some(ZX_USER_SIGNAL_1));
    s.task(t).object_signal(e, 0, ZX_EVENT_SIGNALED).unwrap();
    assert!(s.platform().take_wakes().is_empty());
    assert_eq!(s.wait_cancel(token), None);
}

#[test]
fn closing_the_waited_handle_wakes_with_handle_closed() {
    let (mut s, t) = setup();
    let e = s.task(t).event_create(0).unwrap();
    let d = dup(&mut s, t, e, ZX_RIGHT_SAME_RIGHTS);
    s.task(t)
        .object_wait_begin(d, ZX_EVENT_SIGNALED, 9)
        .unwrap();
    s.task(t)
        .object_wait_begin(e, ZX_EVENT_SIGNALED, 10)
        .unwrap();
    s.task(t).handle_close(d).unwrap();
    assert_eq!(
        s.platform().take_wakes(),
        vec![(9, ZX_SIGNAL_HANDLE_CLOSED)]
    );
}

#[test]
fn wait_for_zero_children_is_woken_when_the_last_child_goes() {
    let (mut s, t, v) = setup_vmo();
    let c = cow_child(&mut s, t, v, 0, PAGE);
    let g = cow_child(&mut s, t, c, 0, PAGE);
    s.task(t)
        .object_wait_begin(v, ZX_VMO_ZERO_CHILDREN, 5)
        .unwrap();
    s.task(t).handle_close(c).unwrap();
    assert!(s.platform().take_wakes().is_empty());
    s.task(t).handle_close(g).unwrap();
    assert_eq!(s.platform().take_wakes(), vec![(5, ZX_VMO_ZERO_CHILDREN)]);
}

#[test]
fn wait_without_the_wait_right_is_access_denied() {
    let (mut s, t) = setup();
    let e = s.task(t).event_create(0).unwrap();
    let d = dup(&mut s, t, e, ZX_RIGHT_SIGNAL);
    assert_eq!(
        s.task(t).object_wait_begin(d, ZX_EVENT_SIGNALED, 1),
        Err(ZX_ERR_ACCESS_DENIED)
    );
}

#[test]
fn closing_the_last_event_handle_destroys_it() {
    let (mut s, t) = setup();
    let e = s.task(t).event_create(0).unwrap();
    s.task(t).handle_close(e).unwrap();
    assert_eq!(s.event_count(), 0);
}

const TASK_RIGHTS: Rights = ZX_RIGHTS_BASIC | ZX_RIGHT_SIGNAL;

/// A space whose table `t` holds the one handle `h` to a kernel object
/// (see [`kernel_object`]), and how many events the space had before it:
/// `(s, t, before, task, h)`.
fn setup_kernel_object() -> (Space, object::TableId, usize, TestTask, Handle) {
    let (mut s, t) = setup();
    let before = s.event_count();
    let (task, h) = kernel_object(&mut s, t, TASK_RIGHTS);
    (s, t, before, task, h)
}

#[test]
fn kernel_object_handle_can_be_waited_on_until_the_kernel_signals_it() {
    let (mut s, t) = setup();
    let (task, h) = kernel_object(&mut s, t, TASK_RIGHTS);
    let start = s.wait_begin(t, h, ZX_TASK_TERMINATED, 7).unwrap();
    assert!(matches!(start, WaitStart::Pending(_)));
    s.kernel_signal(task.signals, 0, ZX_TASK_TERMINATED);
    assert_eq!(s.platform().take_wakes(), vec![(7, ZX_TASK_TERMINATED)]);
    assert_eq!(s.signals(t, h).unwrap(), ZX_TASK_TERMINATED);
}

#[test]
fn closing_a_waited_kernel_object_handle_cancels_the_wait() {
    let (mut s, t) = setup();
    let (_, h) = kernel_object(&mut s, t, TASK_RIGHTS);
    s.wait_begin(t, h, ZX_TASK_TERMINATED, 9).unwrap();
    let dropped = s.close(t, h).unwrap();
    assert!(dropped.is_some(), "the kernel gets its object back");
    assert_eq!(
        s.platform().take_wakes(),
        vec![(9, ZX_SIGNAL_HANDLE_CLOSED)]
    );
}

#[test]
fn kernel_object_signals_outlive_its_handles_until_the_kernel_releases_them() {
    let (mut s, t, before, task, h) = setup_kernel_object();
    s.close(t, h).unwrap();
    // The kernel still holds its reference: it can signal, and a new handle sees it.
    s.kernel_signal(task.signals, 0, ZX_TASK_TERMINATED);
    let h2 = s
        .install_kernel_object(t, task.clone(), TASK_RIGHTS)
        .unwrap();
    assert_eq!(s.signals(t, h2).unwrap(), ZX_TASK_TERMINATED);
    s.close(t, h2).unwrap();
    s.kernel_signals_release(task.signals);
    assert_eq!(s.event_count(), before);
}

#[test]
fn a_kernel_object_the_kernel_is_done_with_goes_with_its_last_handle() {
    let (mut s, t, before, task, h) = setup_kernel_object();
    s.platform().done_with.borrow_mut().push(task.koid);
    let dup = s.duplicate(t, h, ZX_RIGHT_SAME_RIGHTS).unwrap();
    s.close(t, h).unwrap();
    // Another handle still holds it: not asked, not gone.
    assert!(s.platform().asked_unreferenced.borrow().is_empty());
    assert_eq!(s.event_count(), before + 1);
    s.close(t, dup).unwrap();
    assert_eq!(*s.platform().asked_unreferenced.borrow(), vec![task.koid]);
    assert_eq!(s.event_count(), before);
}

#[test]
fn a_kernel_object_the_kernel_keeps_outlives_its_last_handle() {
    let (mut s, t, before, task, h) = setup_kernel_object();
    s.close(t, h).unwrap();
    assert_eq!(*s.platform().asked_unreferenced.borrow(), vec![task.koid]);
    assert_eq!(s.event_count(), before + 1);
    s.kernel_signals_release(task.signals);
    assert_eq!(s.event_count(), before);
}

#[test]
fn destroying_a_table_asks_about_the_kernel_objects_it_held() {
    let (mut s, _) = setup();
    let before = s.event_count();
    let t = s.create_table(object::Quota::default()).unwrap();
    let (task, _) = kernel_object(&mut s, t, TASK_RIGHTS);
    s.platform().done_with.borrow_mut().push(task.koid);
    s.destroy_table(t).unwrap();
    assert_eq!(*s.platform().asked_unreferenced.borrow(), vec![task.koid]);
    assert_eq!(s.event_count(), before);
}

#[test]
fn object_signal_on_a_kernel_object_allows_user_signals_only() {
    let (mut s, t) = setup();
    let (_, h) = kernel_object(&mut s, t, TASK_RIGHTS);
    s.object_signal(t, h, 0, ZX_USER_SIGNAL_0).unwrap();
    assert_eq!(s.signals(t, h).unwrap(), ZX_USER_SIGNAL_0);
    assert_eq!(
        s.object_signal(t, h, 0, ZX_TASK_TERMINATED),
        Err(ZX_ERR_INVALID_ARGS)
    );
}

#[test]
fn kernel_object_basic_info_reports_its_type_and_koid() {
    let (mut s, t) = setup();
    let (task, h) = kernel_object(&mut s, t, TASK_RIGHTS);
    let info = s.info_handle_basic(t, h).unwrap();
    assert_eq!(info.koid, task.koid);
    assert_eq!(info.obj_type, ZX_OBJ_TYPE_PROCESS);
    assert_eq!(info.rights, TASK_RIGHTS);
}

#[test]
fn kernel_payload_outlives_the_kernel_reference_while_a_handle_lives() {
    let (mut s, t) = setup();
    let (task, h) = kernel_object(&mut s, t, TASK_RIGHTS);
    s.kernel_set_payload(task.signals, [1, 2, 3, 4, 5]);
    s.kernel_signals_release(task.signals);
    assert_eq!(s.kernel_payload(task.signals), [1, 2, 3, 4, 5]);
    s.close(t, h).unwrap();
}
