//! Handles and rights: close, duplicate, replace, what `ZX_INFO_HANDLE_BASIC`
//! says, and moving handles into a new task (the only transfer we have).

use super::util::*;
use crate::harness::{run_in_task_arg, run_in_task_with, Suite, TestResult};
use crate::{check, check_eq, ok, tests};
use zx::{AsHandleRef, Event, Handle, HandleBased, Rights, Status, Task, TaskEnd, Vmar, Vmo};

pub static SUITE: Suite = Suite {
    name: "handles",
    tests: tests![
        closing_the_invalid_handle_is_ok,
        closing_a_handle_twice_is_bad_handle,
        handle_values_are_distinct_and_have_the_fixed_bits,
        duplicate_with_same_rights_names_the_same_object,
        duplicate_with_fewer_rights_has_exactly_those,
        duplicate_with_more_rights_is_invalid_args,
        duplicate_without_duplicate_right_is_access_denied,
        replace_invalidates_the_original_and_keeps_the_object,
        replace_needs_no_right,
        replace_with_more_rights_is_invalid_args_and_still_invalidates,
        basic_info_names_each_object_type,
        closing_one_handle_keeps_the_object_for_the_others,
        task_create_moves_handles_into_the_new_task,
        task_create_without_transfer_right_is_access_denied_and_moves_nothing,
        handle_values_mean_nothing_in_another_task,
        handle_count_follows_duplicates_moves_and_closes,
        handle_count_needs_inspect,
    ],
};

fn closing_the_invalid_handle_is_ok() -> TestResult {
    check_eq!(Handle::invalid().close(), Ok(()));
    Ok(())
}

fn closing_a_handle_twice_is_bad_handle() -> TestResult {
    let raw = Handle::from(ok!(Vmo::create(PAGE))).into_raw();
    check_eq!(Handle::from_raw(raw).close(), Ok(()));
    check_eq!(Handle::from_raw(raw).close(), Err(Status::BAD_HANDLE));
    Ok(())
}

fn handle_values_are_distinct_and_have_the_fixed_bits() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let mut values = [0u32; 16];
    let mut keep: [Option<Handle>; 16] = Default::default();
    for (i, slot) in keep.iter_mut().enumerate() {
        let h = ok!(vmo.duplicate_handle(Rights::SAME_RIGHTS));
        values[i] = h.raw_handle();
        *slot = Some(h);
    }
    for (i, v) in values.iter().enumerate() {
        check!(*v != abi::ZX_HANDLE_INVALID);
        check_eq!(
            v & abi::ZX_HANDLE_FIXED_BITS_MASK,
            abi::ZX_HANDLE_FIXED_BITS_MASK,
            "{v:#x}"
        );
        check!(!values[..i].contains(v), "{v:#x} twice");
        check!(*v != vmo.raw_handle());
    }
    Ok(())
}

fn duplicate_with_same_rights_names_the_same_object() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let dup = ok!(vmo.duplicate(Rights::SAME_RIGHTS));
    check!(dup.raw_handle() != vmo.raw_handle());
    let (a, b) = (ok!(vmo.basic_info()), ok!(dup.basic_info()));
    check_eq!(a.koid, b.koid);
    check_eq!(a.rights, b.rights);
    ok!(dup.write(b"x", 0));
    check_eq!(byte_at(&vmo, 0), Ok(b'x'));
    Ok(())
}

fn duplicate_with_fewer_rights_has_exactly_those() -> TestResult {
    let event = ok!(Event::create());
    let want = Rights::WAIT | Rights::DUPLICATE;
    let dup = ok!(event.duplicate(want));
    check_eq!(ok!(dup.basic_info()).rights, want.bits());
    let none = ok!(event.duplicate(Rights::NONE));
    check_eq!(ok!(none.basic_info()).rights, 0);
    Ok(())
}

fn duplicate_with_more_rights_is_invalid_args() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let ro = ok!(vmo.duplicate(Rights::READ | Rights::DUPLICATE));
    check_eq!(
        ro.duplicate(Rights::READ | Rights::DUPLICATE | Rights::WRITE)
            .map(drop),
        Err(Status::INVALID_ARGS)
    );
    Ok(())
}

fn duplicate_without_duplicate_right_is_access_denied() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let h = ok!(vmo.duplicate(Rights::READ));
    check_eq!(
        h.duplicate(Rights::READ).map(drop),
        Err(Status::ACCESS_DENIED)
    );
    check_eq!(
        h.duplicate(Rights::SAME_RIGHTS).map(drop),
        Err(Status::ACCESS_DENIED)
    );
    Ok(())
}

fn replace_invalidates_the_original_and_keeps_the_object() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let koid = ok!(vmo.basic_info()).koid;
    let old = vmo.raw_handle();
    let new = ok!(vmo.replace_handle(Rights::READ | Rights::WRITE));
    check!(!valid(old));
    check_eq!(ok!(new.basic_info()).koid, koid);
    check_eq!(
        ok!(new.basic_info()).rights,
        (Rights::READ | Rights::WRITE).bits()
    );
    ok!(new.write(b"y", 0));
    Ok(())
}

fn replace_needs_no_right() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let none = ok!(vmo.duplicate(Rights::NONE));
    let again = ok!(none.replace_handle(Rights::NONE));
    check_eq!(ok!(again.basic_info()).rights, 0);
    let same = ok!(again.replace_handle(Rights::SAME_RIGHTS));
    check_eq!(ok!(same.basic_info()).koid, ok!(vmo.basic_info()).koid);
    Ok(())
}

fn replace_with_more_rights_is_invalid_args_and_still_invalidates() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let ro = ok!(vmo.duplicate(Rights::READ));
    let raw = ro.raw_handle();
    check_eq!(
        ro.replace_handle(Rights::READ | Rights::WRITE).map(drop),
        Err(Status::INVALID_ARGS)
    );
    check!(
        !valid(raw),
        "zx_handle_replace: handle is always invalidated"
    );
    Ok(())
}

fn basic_info_names_each_object_type() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let event = ok!(Event::create());
    let vmar = Vmar::root_self();
    let task: Task = ok!(Task::create(exit_now, 0, &mut []));
    check_eq!(ok!(vmo.basic_info()).obj_type, abi::ZX_OBJ_TYPE_VMO);
    check_eq!(ok!(event.basic_info()).obj_type, abi::ZX_OBJ_TYPE_EVENT);
    check_eq!(ok!(vmar.basic_info()).obj_type, abi::ZX_OBJ_TYPE_VMAR);
    check_eq!(ok!(task.basic_info()).obj_type, abi::ZX_OBJ_TYPE_PROCESS);
    let koids = [
        ok!(vmo.basic_info()).koid,
        ok!(event.basic_info()).koid,
        ok!(vmar.basic_info()).koid,
        ok!(task.basic_info()).koid,
    ];
    for (i, k) in koids.iter().enumerate() {
        check!(*k != abi::ZX_KOID_INVALID && !koids[..i].contains(k));
    }
    check_eq!(ok!(task.join()), TaskEnd::Exited(0));
    Ok(())
}

extern "C" fn exit_now(_: u64, _: u32, _: u32, _: u32, _: u32) -> ! {
    zx::exit(0)
}

fn closing_one_handle_keeps_the_object_for_the_others() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    ok!(vmo.write(b"kept", 0));
    let dup = ok!(vmo.duplicate(Rights::SAME_RIGHTS));
    drop(vmo);
    check_eq!(ok!(bytes_at(&dup, 0)), *b"kept");
    Ok(())
}

fn task_create_moves_handles_into_the_new_task() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let dup = ok!(vmo.duplicate_handle(Rights::SAME_RIGHTS));
    let moved = dup.raw_handle();
    let end = ok!(run_in_task_with(
        |hs| {
            let vmo = Vmo::from(Handle::from_raw(hs[0]));
            let code = match vmo.write(b"moved", 0) {
                Ok(()) => 0,
                Err(_) => 5,
            };
            zx::exit(code)
        },
        &mut [dup]
    ));
    check_eq!(end, TaskEnd::Exited(0));
    check!(!valid(moved), "the moved handle is still here");
    check_eq!(ok!(bytes_at(&vmo, 0)), *b"moved");
    Ok(())
}

fn task_create_without_transfer_right_is_access_denied_and_moves_nothing() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let h = ok!(vmo.duplicate_handle(Rights::READ | Rights::WRITE));
    let raw = h.raw_handle();
    let mut list = [h];
    check_eq!(
        Task::create(exit_now, 0, &mut list).map(drop),
        Err(Status::ACCESS_DENIED)
    );
    check!(valid(raw));
    Ok(())
}

fn handle_values_mean_nothing_in_another_task() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let end = ok!(run_in_task_arg(
        |value| {
            let h = core::mem::ManuallyDrop::new(Vmo::from(Handle::from_raw(value as u32)));
            let code = match h.get_size() {
                Err(Status::BAD_HANDLE) => 0,
                _ => 6,
            };
            zx::exit(code)
        },
        u64::from(vmo.raw_handle())
    ));
    check_eq!(end, TaskEnd::Exited(0));
    Ok(())
}

/// `ZX_INFO_HANDLE_COUNT` on `h`.
fn handle_count(h: &impl AsHandleRef) -> Result<u32, Status> {
    zx::info_record::<abi::ZxInfoHandleCount>(h).map(|c| c.handle_count)
}

fn handle_count_follows_duplicates_moves_and_closes() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    check_eq!(handle_count(&vmo), Ok(1));
    let dup = ok!(vmo.duplicate_handle(Rights::SAME_RIGHTS));
    check_eq!(handle_count(&vmo), Ok(2));
    // Moved into a gated task: still two handles, one in each task.
    let gate = ok!(Event::create());
    let task = ok!(crate::harness::spawn_with(
        super::reaping::wait_then_exit,
        &mut [ok!(gate.duplicate_handle(Rights::SAME_RIGHTS)), dup]
    ));
    check_eq!(handle_count(&vmo), Ok(2));
    // Task handles count too (the task holds its own, besides ours).
    let before = ok!(handle_count(&task));
    let task_dup = ok!(task.duplicate_handle(Rights::SAME_RIGHTS));
    check_eq!(handle_count(&task), Ok(before + 1));
    drop(task_dup);
    check_eq!(handle_count(&task), Ok(before));
    check_eq!(handle_count(&gate), Ok(2));
    super::reaping::open_gate(&gate, &task)?;
    // The task's handles closed with it.
    check_eq!(handle_count(&vmo), Ok(1));
    check_eq!(handle_count(&gate), Ok(1));
    // A mapping is no handle.
    let at = ok!(Vmar::root_self().map(0, &vmo, 0, PAGE, zx::VmarFlags::PERM_READ));
    check_eq!(handle_count(&vmo), Ok(1));
    ok!(Vmar::root_self().unmap(at, PAGE));
    Ok(())
}

fn handle_count_needs_inspect() -> TestResult {
    let event = ok!(Event::create());
    let blind = ok!(event.duplicate(Rights::WAIT | Rights::DUPLICATE));
    check_eq!(handle_count(&blind), Err(Status::ACCESS_DENIED));
    check_eq!(handle_count(&event), Ok(2));
    Ok(())
}
