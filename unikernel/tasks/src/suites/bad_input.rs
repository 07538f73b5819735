//! Bad input gets the documented Zircon status and has no half effect:
//! bad handles, wrong types, missing rights, misaligned offsets,
//! overflowing ranges, and pointers the kernel must refuse (null, kernel
//! memory, unmapped memory, the image's text and data, another task's
//! memory). The kernel copies out only into the caller's sub-VMAR and in
//! only from it or from the image's read-only part (DESIGN.md).

use super::util::*;
use crate::harness::{spawn_with, Suite, TestResult};
use crate::{check, check_eq, ok, tests};
use abi::Syscall;
use zx::{
    AsHandleRef, Duration, Event, Handle, HandleBased, Rights, Signals, Status, Time, Vmar,
    VmarFlags, Vmo, VmoChildOptions, VmoOp,
};

pub static SUITE: Suite = Suite {
    name: "bad_input",
    tests: tests![
        vmo_create_with_a_refused_out_is_invalid_args,
        vmo_create_out_into_unmapped_own_memory_is_invalid_args,
        vmo_create_out_into_another_tasks_stack_is_invalid_args,
        vmo_create_out_straddling_the_end_of_the_own_range_is_invalid_args,
        create_child_with_a_bad_out_leaves_no_child,
        a_call_that_fails_leaves_its_out_pointers_as_they_were,
        vmo_read_into_refused_memory_is_invalid_args,
        vmo_read_into_another_tasks_stack_is_invalid_args,
        vmo_read_into_a_read_only_mapping_is_invalid_args,
        vmo_read_into_a_range_wrapping_the_address_space_is_invalid_args,
        vmo_write_from_refused_memory_is_invalid_args_and_writes_nothing,
        vmo_write_from_another_tasks_stack_is_invalid_args,
        vmo_write_from_the_images_read_only_part_works,
        get_size_with_a_bad_out_is_invalid_args,
        lookup_into_a_bad_buffer_is_invalid_args,
        wait_with_a_bad_observed_is_invalid_args,
        get_info_into_bad_pointers_is_invalid_args,
        get_info_into_a_small_buffer_says_one_record_is_available,
        get_info_writes_only_the_record_and_handle_valid_takes_a_null_buffer,
        a_bad_handle_is_reported_before_a_bad_out,
        a_wrong_type_missing_right_or_bad_argument_is_reported_before_a_bad_out,
        wrong_type_is_reported_before_a_missing_right,
        duplicate_and_replace_with_a_bad_out_are_invalid_args,
        event_create_with_a_bad_out_is_invalid_args,
        vmar_map_with_a_bad_out_leaves_no_mapping,
        vmar_map_overwrite_with_the_out_in_the_replaced_page_changes_nothing_when_it_fails,
        vmar_map_overwrite_with_the_out_in_the_replaced_page_stores_it_in_the_new_mapping,
        vmar_allocate_with_a_bad_out_leaves_no_region,
        task_create_with_a_bad_handle_list_moves_nothing,
        task_create_with_a_bad_out_starts_nothing_and_moves_nothing,
        task_create_with_an_entry_outside_the_text_is_invalid_args,
        task_create_with_more_than_four_handles_is_invalid_args,
        console_write_of_refused_or_bad_text_fails,
        forged_stale_and_invalid_handles_are_bad_handle,
        wrong_object_types_are_wrong_type,
        missing_rights_are_access_denied,
        misaligned_offsets_are_invalid_args,
        overflowing_ranges_are_refused,
        create_child_whose_size_rounds_up_past_64_bits_is_out_of_range,
        vmo_read_and_write_report_the_handle_right_and_range_before_a_bad_buffer,
        outs_into_a_read_only_mapping_are_invalid_args_and_unaligned_outs_work,
        create_child_reports_its_options_offset_and_size_before_a_bad_out,
    ],
};

/// A raw call's status.
fn call(n: Syscall, a: [u64; 8]) -> Status {
    // SAFETY: every test here passes pointers the kernel must refuse, or
    // pointers to this test's own locals sized for what the call writes.
    unsafe { raw(n, a) }
}

/// Fails unless `f(p)` is `ZX_ERR_INVALID_ARGS` for every `p` of `ptrs`
/// (`what` names the argument `p` stands for).
fn each_invalid_args(
    ptrs: impl IntoIterator<Item = u64>,
    what: &str,
    mut f: impl FnMut(u64) -> Status,
) -> TestResult {
    for p in ptrs {
        check_eq!(f(p), Status::INVALID_ARGS, "{what} {p:#x}");
    }
    Ok(())
}

/// `zx_task_create(entry, 0, handles, count, out)`, every argument raw.
fn task_create(entry: u64, handles: u64, count: u64, out: u64) -> Status {
    call(
        Syscall::TaskCreate,
        [entry, 0, handles, count, out, 0, 0, 0],
    )
}

fn h(x: &impl AsHandleRef) -> u64 {
    u64::from(x.raw_handle())
}

/// Out-pointers the kernel must refuse for a small record: the foreign
/// ones, unmapped own memory, and one straddling the own range's end.
fn refused_outs(unmapped: u64) -> Result<[u64; 8], Status> {
    let info = Vmar::root_self().info()?;
    let f = foreign_out_ptrs();
    Ok([
        f[0],
        f[1],
        f[2],
        f[3],
        f[4],
        f[5],
        unmapped,
        info.base + info.len - 2,
    ])
}

/// A helper task that keeps a stack word alive while `f` runs with its address.
fn with_another_tasks_stack(f: fn(u64) -> TestResult) -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let event = ok!(Event::create());
    let task = ok!(spawn_with(
        |hs| {
            let vmo = Vmo::from(Handle::from_raw(hs[0]));
            let event = Event::from(Handle::from_raw(hs[1]));
            let word = core::hint::black_box([0x5au8; 64]);
            let addr = word.as_ptr() as u64;
            if vmo.write(&addr.to_le_bytes(), 0).is_err() {
                return;
            }
            let _ = event.signal_handle(Signals::NONE, Signals::USER_0);
            let _ = event.wait_handle(Signals::USER_1, Time::after(Duration::from_seconds(10)));
            // The kernel did not write it on the other task's behalf (and
            // that task cannot reach it: protection domains).
            if core::hint::black_box(&word).iter().any(|&b| b != 0x5a) {
                zx::exit(1);
            }
        },
        &mut [
            ok!(vmo.duplicate_handle(Rights::SAME_RIGHTS)),
            ok!(event.duplicate_handle(Rights::SAME_RIGHTS)),
        ]
    ));
    ok!(event.wait_handle(Signals::USER_0, Time::after(Duration::from_seconds(10))));
    let addr = ok!(word_at(&vmo, 0));
    let own = ok!(Vmar::root_self().info());
    check!(
        addr < own.base || addr >= own.base + own.len,
        "{addr:#x} is mine"
    );
    let result = f(addr);
    ok!(event.signal_handle(Signals::NONE, Signals::USER_1));
    check_eq!(ok!(task.join()), zx::TaskEnd::Exited(0));
    result
}

fn vmo_create_with_a_refused_out_is_invalid_args() -> TestResult {
    each_invalid_args(foreign_out_ptrs(), "out", |p| {
        call(Syscall::VmoCreate, [PAGE, 0, p, 0, 0, 0, 0, 0])
    })?;
    // The image's data is unchanged (nothing was written there).
    check_eq!(
        DATA_WORD.load(core::sync::atomic::Ordering::Relaxed),
        0x5555
    );
    Ok(())
}

fn vmo_create_out_into_unmapped_own_memory_is_invalid_args() -> TestResult {
    let (_region, addr) = ok!(unmapped_own_addr());
    check_eq!(
        call(Syscall::VmoCreate, [PAGE, 0, addr, 0, 0, 0, 0, 0]),
        Status::INVALID_ARGS
    );
    Ok(())
}

fn vmo_create_out_into_another_tasks_stack_is_invalid_args() -> TestResult {
    with_another_tasks_stack(|addr| {
        check_eq!(
            call(Syscall::VmoCreate, [PAGE, 0, addr, 0, 0, 0, 0, 0]),
            Status::INVALID_ARGS
        );
        Ok(())
    })
}

fn vmo_create_out_straddling_the_end_of_the_own_range_is_invalid_args() -> TestResult {
    let info = ok!(Vmar::root_self().info());
    check_eq!(
        call(
            Syscall::VmoCreate,
            [PAGE, 0, info.base + info.len - 2, 0, 0, 0, 0, 0]
        ),
        Status::INVALID_ARGS
    );
    Ok(())
}

fn create_child_with_a_bad_out_leaves_no_child() -> TestResult {
    let parent = ok!(Vmo::create(PAGE));
    let (_region, unmapped) = ok!(unmapped_own_addr());
    for p in ok!(refused_outs(unmapped)) {
        check_eq!(
            call(
                Syscall::VmoCreateChild,
                [h(&parent), 1, 0, PAGE, p, 0, 0, 0]
            ),
            Status::INVALID_ARGS,
            "out {p:#x}"
        );
        childless(
            &parent,
            format_args!("a child was left behind (out {p:#x})"),
        )?;
    }
    Ok(())
}

/// Results are written only on success: a call that fails after its
/// out-pointer was checked (a right missing, a wait timed out, a handle
/// table full) leaves the memory there as it was.
fn a_call_that_fails_leaves_its_out_pointers_as_they_were() -> TestResult {
    let parent = ok!(Vmo::create(PAGE));
    let no_dup = ok!(parent.duplicate_handle(Rights::READ | Rights::MAP));
    let mut out: u32 = 0x5eed_cafe;
    check_eq!(
        call(
            Syscall::VmoCreateChild,
            [h(&no_dup), 1, 0, PAGE, &raw mut out as u64, 0, 0, 0]
        ),
        Status::ACCESS_DENIED
    );
    check_eq!(out, 0x5eed_cafe, "create_child's out");
    let event = ok!(Event::create());
    let mut observed: u32 = 0x0bad_f00d;
    check_eq!(
        call(
            Syscall::ObjectWaitOne,
            [
                h(&event),
                u64::from(Signals::USER_0.bits()),
                0,
                &raw mut observed as u64,
                0,
                0,
                0,
                0
            ]
        ),
        Status::TIMED_OUT
    );
    // wait_one reports the signals it saw even when it times out.
    check_eq!(observed, 0, "wait_one's observed");
    let port = ok!(zx::Port::create());
    let mut packet = [0xa5u8; 48];
    check_eq!(
        call(
            Syscall::PortWait,
            [h(&port), 0, packet.as_mut_ptr() as u64, 0, 0, 0, 0, 0]
        ),
        Status::TIMED_OUT
    );
    check!(
        packet.iter().all(|&b| b == 0xa5),
        "port_wait wrote its packet though it timed out"
    );
    Ok(())
}

fn vmo_read_into_refused_memory_is_invalid_args() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    ok!(vmo.write(&[1; 16], 0));
    let (_region, unmapped) = ok!(unmapped_own_addr());
    each_invalid_args(ok!(refused_outs(unmapped)), "buffer", |p| {
        call(Syscall::VmoRead, [h(&vmo), p, 0, 16, 0, 0, 0, 0])
    })?;
    Ok(())
}

fn vmo_read_into_another_tasks_stack_is_invalid_args() -> TestResult {
    with_another_tasks_stack(|addr| {
        let vmo = ok!(Vmo::create(PAGE));
        ok!(vmo.write(&[1; 16], 0));
        check_eq!(
            call(Syscall::VmoRead, [h(&vmo), addr, 0, 16, 0, 0, 0, 0]),
            Status::INVALID_ARGS
        );
        Ok(())
    })
}

fn vmo_read_into_a_read_only_mapping_is_invalid_args() -> TestResult {
    let src = ok!(Vmo::create(PAGE));
    ok!(src.write(&[9; 8], 0));
    let dst = ok!(Vmo::create(PAGE));
    let addr = ok!(map(&dst, PAGE, VmarFlags::PERM_READ));
    check_eq!(
        call(Syscall::VmoRead, [h(&src), addr, 0, 8, 0, 0, 0, 0]),
        Status::INVALID_ARGS
    );
    check_eq!(byte_at(&dst, 0), Ok(0));
    ok!(unmap(addr, PAGE));
    Ok(())
}

fn vmo_read_into_a_range_wrapping_the_address_space_is_invalid_args() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    check_eq!(
        call(Syscall::VmoRead, [h(&vmo), u64::MAX - 3, 0, 8, 0, 0, 0, 0]),
        Status::INVALID_ARGS
    );
    Ok(())
}

fn vmo_write_from_refused_memory_is_invalid_args_and_writes_nothing() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let (_region, unmapped) = ok!(unmapped_own_addr());
    let info = ok!(Vmar::root_self().info());
    let f = foreign_in_ptrs();
    each_invalid_args(
        [f[0], f[1], f[2], f[3], unmapped, info.base + info.len - 2],
        "buffer",
        |p| call(Syscall::VmoWrite, [h(&vmo), p, 0, 8, 0, 0, 0, 0]),
    )?;
    check_eq!(ok!(vmo.info()).committed_bytes, 0);
    Ok(())
}

fn vmo_write_from_another_tasks_stack_is_invalid_args() -> TestResult {
    with_another_tasks_stack(|addr| {
        let vmo = ok!(Vmo::create(PAGE));
        check_eq!(
            call(Syscall::VmoWrite, [h(&vmo), addr, 0, 16, 0, 0, 0, 0]),
            Status::INVALID_ARGS
        );
        check_eq!(byte_at(&vmo, 0), Ok(0));
        Ok(())
    })
}

fn vmo_write_from_the_images_read_only_part_works() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    check_eq!(
        call(
            Syscall::VmoWrite,
            [h(&vmo), rodata_addr(), 0, 32, 0, 0, 0, 0]
        ),
        Status::OK
    );
    check_eq!(ok!(word_at(&vmo, 0)), RODATA_WORDS[0]);
    // Text is read-only too.
    check_eq!(
        call(
            Syscall::VmoWrite,
            [h(&vmo), text_addr(), 64, 16, 0, 0, 0, 0]
        ),
        Status::OK
    );
    Ok(())
}

fn get_size_with_a_bad_out_is_invalid_args() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    each_invalid_args(foreign_out_ptrs(), "out", |p| {
        call(Syscall::VmoGetSize, [h(&vmo), p, 0, 0, 0, 0, 0, 0])
    })?;
    Ok(())
}

fn lookup_into_a_bad_buffer_is_invalid_args() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    ok!(vmo.op_range(VmoOp::COMMIT, 0, PAGE));
    each_invalid_args(foreign_out_ptrs(), "buffer", |p| {
        call(
            Syscall::VmoOpRange,
            [
                h(&vmo),
                u64::from(abi::ZX_VMO_OP_LOOKUP),
                0,
                PAGE,
                p,
                8,
                0,
                0,
            ],
        )
    })?;
    Ok(())
}

fn wait_with_a_bad_observed_is_invalid_args() -> TestResult {
    let event = ok!(Event::create());
    ok!(event.signal_handle(Signals::NONE, Signals::USER_0));
    each_invalid_args(foreign_out_ptrs().into_iter().skip(1), "observed", |p| {
        call(
            Syscall::ObjectWaitOne,
            [
                h(&event),
                u64::from(abi::ZX_USER_SIGNAL_0),
                0,
                p,
                0,
                0,
                0,
                0,
            ],
        )
    })?;
    // Null means "not wanted".
    check_eq!(
        call(
            Syscall::ObjectWaitOne,
            [
                h(&event),
                u64::from(abi::ZX_USER_SIGNAL_0),
                0,
                0,
                0,
                0,
                0,
                0
            ]
        ),
        Status::OK
    );
    Ok(())
}

fn get_info_into_bad_pointers_is_invalid_args() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let topic = u64::from(abi::ZX_INFO_HANDLE_BASIC);
    let mut actual = 0usize;
    let good = &raw mut actual as u64;
    for p in foreign_out_ptrs().into_iter().skip(1) {
        check_eq!(
            call(Syscall::ObjectGetInfo, [h(&vmo), topic, p, 32, 0, 0, 0, 0]),
            Status::INVALID_ARGS,
            "buffer {p:#x}"
        );
        let mut buf = [0u8; 32];
        let b = buf.as_mut_ptr() as u64;
        check_eq!(
            call(
                Syscall::ObjectGetInfo,
                [h(&vmo), topic, b, 32, p, good, 0, 0]
            ),
            Status::INVALID_ARGS,
            "actual {p:#x}"
        );
        check_eq!(
            call(
                Syscall::ObjectGetInfo,
                [h(&vmo), topic, b, 32, good, p, 0, 0]
            ),
            Status::INVALID_ARGS,
            "avail {p:#x}"
        );
    }
    Ok(())
}

fn duplicate_and_replace_with_a_bad_out_are_invalid_args() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    each_invalid_args(foreign_out_ptrs(), "out", |p| {
        call(
            Syscall::HandleDuplicate,
            [
                h(&vmo),
                u64::from(abi::ZX_RIGHT_SAME_RIGHTS),
                p,
                0,
                0,
                0,
                0,
                0,
            ],
        )
    })?;
    let dup = ok!(vmo.duplicate_handle(Rights::SAME_RIGHTS)).into_raw();
    check_eq!(
        call(
            Syscall::HandleReplace,
            [
                u64::from(dup),
                u64::from(abi::ZX_RIGHT_SAME_RIGHTS),
                0,
                0,
                0,
                0,
                0,
                0
            ]
        ),
        Status::INVALID_ARGS
    );
    // "handle is always invalidated", a bad `out` too.
    check_eq!(
        call(Syscall::HandleClose, [u64::from(dup), 0, 0, 0, 0, 0, 0, 0]),
        Status::BAD_HANDLE
    );
    Ok(())
}

/// The page: "If the buffer is insufficiently large, avail will be larger
/// than actual": a single-record topic into a too-small buffer reports
/// none returned, one available.
fn get_info_into_a_small_buffer_says_one_record_is_available() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let (mut actual, mut avail) = (77usize, 77usize);
    let mut buf = [0u8; 4];
    for topic in [abi::ZX_INFO_HANDLE_BASIC, abi::ZX_INFO_VMO] {
        check_eq!(
            call(
                Syscall::ObjectGetInfo,
                [
                    h(&vmo),
                    u64::from(topic),
                    buf.as_mut_ptr() as u64,
                    buf.len() as u64,
                    &raw mut actual as u64,
                    &raw mut avail as u64,
                    0,
                    0
                ]
            ),
            Status::BUFFER_TOO_SMALL,
            "topic {topic}"
        );
        check_eq!((actual, avail), (0, 1), "topic {topic}");
    }
    Ok(())
}

/// Bytes of the buffer past the record are the caller's: untouched. And
/// ZX_INFO_HANDLE_VALID returns no record: "buffer may be NULL".
fn get_info_writes_only_the_record_and_handle_valid_takes_a_null_buffer() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let mut buf = [0xaau8; 128];
    let (mut actual, mut avail) = (0usize, 0usize);
    check_eq!(
        call(
            Syscall::ObjectGetInfo,
            [
                h(&vmo),
                u64::from(abi::ZX_INFO_HANDLE_BASIC),
                buf.as_mut_ptr() as u64,
                buf.len() as u64,
                &raw mut actual as u64,
                &raw mut avail as u64,
                0,
                0
            ]
        ),
        Status::OK
    );
    check_eq!((actual, avail), (1, 1));
    let n = size_of::<abi::ZxInfoHandleBasic>();
    check!(
        buf[n..].iter().all(|&b| b == 0xaa),
        "bytes past the record written"
    );
    check_eq!(
        call(
            Syscall::ObjectGetInfo,
            [
                h(&vmo),
                u64::from(abi::ZX_INFO_HANDLE_VALID),
                0,
                64,
                0,
                0,
                0,
                0
            ]
        ),
        Status::OK
    );
    Ok(())
}

/// Zircon looks the handle up before it writes results: a bad handle with a
/// bad out-pointer is BAD_HANDLE.
fn a_bad_handle_is_reported_before_a_bad_out() -> TestResult {
    let bad = u64::from(abi::ZX_HANDLE_INVALID);
    let cases = [
        (
            Syscall::HandleDuplicate,
            [bad, u64::from(abi::ZX_RIGHT_SAME_RIGHTS), 0, 0, 0, 0, 0, 0],
        ),
        (
            Syscall::HandleReplace,
            [bad, u64::from(abi::ZX_RIGHT_SAME_RIGHTS), 0, 0, 0, 0, 0, 0],
        ),
        (Syscall::VmoCreateChild, [bad, 1, 0, PAGE, 0, 0, 0, 0]),
        (Syscall::VmoGetSize, [bad, 0, 0, 0, 0, 0, 0, 0]),
        (Syscall::VmarAllocate, [bad, 0, 0, PAGE, 0, 0, 0, 0]),
        (Syscall::VmarMap, [bad, 1, 0, bad, 0, PAGE, 0, 0]),
        (Syscall::ThreadCreate, [bad, 0, 0, 0, 0, 0, 0, 0]),
        (Syscall::ObjectWaitOne, [bad, 1, 0, 8, 0, 0, 0, 0]),
        (
            Syscall::ObjectGetInfo,
            [bad, u64::from(abi::ZX_INFO_VMO), 0, 0, 8, 0, 0, 0],
        ),
    ];
    for (n, a) in cases {
        check_eq!(call(n, a), Status::BAD_HANDLE, "{n:?}");
    }
    Ok(())
}

/// Zircon writes a call's results last: every other error of the call
/// (wrong type, missing right, a bad size, a bad second handle) comes
/// before the INVALID_ARGS of an out-pointer it cannot write, and the call
/// leaves nothing behind.
fn a_wrong_type_missing_right_or_bad_argument_is_reported_before_a_bad_out() -> TestResult {
    let event = ok!(Event::create());
    let vmo = ok!(Vmo::create(PAGE));
    let no_dup = ok!(vmo.duplicate_handle(Rights::READ | Rights::TRANSFER));
    let me = u64::from(Vmar::root_self().raw_handle());
    let bad = u64::from(abi::ZX_HANDLE_INVALID);
    let cases = [
        (
            Syscall::VmoGetSize,
            [h(&event), 0, 0, 0, 0, 0, 0, 0],
            Status::WRONG_TYPE,
        ),
        (
            Syscall::VmoCreateChild,
            [h(&event), 1, 0, PAGE, 0, 0, 0, 0],
            Status::WRONG_TYPE,
        ),
        (
            Syscall::VmoCreateChild,
            [h(&no_dup), 1, 0, PAGE, 0, 0, 0, 0],
            Status::ACCESS_DENIED,
        ),
        (
            Syscall::HandleDuplicate,
            [
                h(&no_dup),
                u64::from(abi::ZX_RIGHT_SAME_RIGHTS),
                0,
                0,
                0,
                0,
                0,
                0,
            ],
            Status::ACCESS_DENIED,
        ),
        (
            Syscall::VmoCreate,
            [u64::MAX, 0, 0, 0, 0, 0, 0, 0],
            Status::OUT_OF_RANGE,
        ),
        (
            Syscall::VmarMap,
            [me, 1, 0, bad, 0, PAGE, 0, 0],
            Status::BAD_HANDLE,
        ),
        (
            Syscall::VmarMap,
            [me, 1, 0, h(&event), 0, PAGE, 0, 0],
            Status::WRONG_TYPE,
        ),
        (
            Syscall::VmarAllocate,
            [h(&vmo), 0, 0, PAGE, 0, 0, 0, 0],
            Status::WRONG_TYPE,
        ),
        (
            Syscall::ObjectGetInfo,
            [h(&vmo), u64::from(abi::ZX_INFO_VMAR), 0, 0, 8, 0, 0, 0],
            Status::WRONG_TYPE,
        ),
    ];
    let before = ok!(vmo.info()).num_mappings;
    for (n, a, want) in cases {
        check_eq!(call(n, a), want, "{n:?}");
    }
    check_eq!(ok!(vmo.info()).num_mappings, before);
    // A good call with a bad out-pointer is still INVALID_ARGS, and leaves
    // no mapping.
    check_eq!(
        call(Syscall::VmoCreate, [PAGE, 0, 0, 0, 0, 0, 0, 0]),
        Status::INVALID_ARGS
    );
    check_eq!(
        call(Syscall::VmarMap, [me, 1, 0, h(&vmo), 0, PAGE, 0, 0]),
        Status::INVALID_ARGS
    );
    check_eq!(ok!(vmo.info()).num_mappings, before);
    Ok(())
}

/// Zircon's handle lookup: "wrong type takes precedence over access
/// denied": a thread call on a task handle without WRITE, and the reverse.
fn wrong_type_is_reported_before_a_missing_right() -> TestResult {
    let task = ok!(zx::Task::self_handle().duplicate_handle(Rights::DUPLICATE | Rights::TRANSFER));
    let thread = ok!(zx::Thread::create(&zx::Task::self_handle()));
    let thread = ok!(thread.duplicate_handle(Rights::DUPLICATE | Rights::TRANSFER));
    let mut out = 0u32;
    let o = &raw mut out as u64;
    check_eq!(
        call(
            Syscall::ThreadStart,
            [h(&task), text_addr(), 0, 0, 0, 0, 0, 0]
        ),
        Status::WRONG_TYPE
    );
    check_eq!(
        call(Syscall::ThreadCreate, [h(&thread), 0, o, 0, 0, 0, 0, 0]),
        Status::WRONG_TYPE
    );
    Ok(())
}

fn event_create_with_a_bad_out_is_invalid_args() -> TestResult {
    each_invalid_args(foreign_out_ptrs(), "out", |p| {
        call(Syscall::EventCreate, [0, p, 0, 0, 0, 0, 0, 0])
    })?;
    Ok(())
}

fn vmar_map_with_a_bad_out_leaves_no_mapping() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let (region, base) = ok!(Vmar::root_self().allocate(
        0,
        4 * PAGE,
        VmarFlags(abi::ZX_VM_CAN_MAP_READ | abi::ZX_VM_CAN_MAP_WRITE | abi::ZX_VM_CAN_MAP_SPECIFIC)
    ));
    let opts = u64::from(abi::ZX_VM_PERM_READ | abi::ZX_VM_SPECIFIC);
    for p in foreign_out_ptrs() {
        check_eq!(
            call(
                Syscall::VmarMap,
                [h(&region), opts, 0, h(&vmo), 0, PAGE, p, 0]
            ),
            Status::INVALID_ARGS,
            "out {p:#x}"
        );
        check_eq!(ok!(vmo.info()).num_mappings, 0);
    }
    // The place is still free.
    check_eq!(
        region.map(0, &vmo, 0, PAGE, VmarFlags::PERM_READ | VmarFlags::SPECIFIC),
        Ok(base)
    );
    Ok(())
}

/// A region of 4 pages, and a 2-page VMO holding 0xaa, 0xbb mapped
/// read-write at its start.
fn overwrite_setup() -> Result<(Vmar, u64, Vmo), Status> {
    let flags = abi::ZX_VM_CAN_MAP_READ | abi::ZX_VM_CAN_MAP_WRITE | abi::ZX_VM_CAN_MAP_SPECIFIC;
    let (region, base) = Vmar::root_self().allocate(0, 4 * PAGE, VmarFlags(flags))?;
    let old = Vmo::create(2 * PAGE)?;
    old.write(&[0xaa], 0)?;
    old.write(&[0xbb], PAGE)?;
    let rw = VmarFlags::PERM_READ | VmarFlags::PERM_WRITE | VmarFlags::SPECIFIC;
    region.map(0, &old, 0, 2 * PAGE, rw)?;
    Ok((region, base, old))
}

fn vmar_map_overwrite_with_the_out_in_the_replaced_page_changes_nothing_when_it_fails() -> TestResult
{
    let (region, base, old) = ok!(overwrite_setup());
    let new = ok!(Vmo::create(PAGE));
    // Read-only over the first page, the result to go in that very page:
    // the store would fault, so the call fails, and must change nothing.
    let opts = u64::from(abi::ZX_VM_PERM_READ | abi::ZX_VM_SPECIFIC_OVERWRITE);
    let args = [h(&region), opts, 0, h(&new), 0, PAGE, base + 16, 0];
    check_eq!(call(Syscall::VmarMap, args), Status::INVALID_ARGS);
    check_eq!(ok!(new.info()).num_mappings, 0);
    check_eq!(ok!(old.info()).num_mappings, 1);
    // SAFETY: the old mapping is still there, both pages read-write.
    unsafe {
        check_eq!(peek(base), 0xaa);
        check_eq!(peek(base + PAGE), 0xbb);
        poke(base + 1, 0xcc);
    }
    check_eq!(byte_at(&old, 1), Ok(0xcc));
    Ok(())
}

fn vmar_map_overwrite_with_the_out_in_the_replaced_page_stores_it_in_the_new_mapping() -> TestResult
{
    let (region, base, old) = ok!(overwrite_setup());
    let new = ok!(Vmo::create(PAGE));
    let opts =
        u64::from(abi::ZX_VM_PERM_READ | abi::ZX_VM_PERM_WRITE | abi::ZX_VM_SPECIFIC_OVERWRITE);
    let args = [h(&region), opts, 0, h(&new), 0, PAGE, base + 16, 0];
    check_eq!(call(Syscall::VmarMap, args), Status::OK);
    // Where a store after the call would have put it: in the new VMO.
    check_eq!(ok!(word_at(&new, 16)), base);
    check_eq!(byte_at(&old, 16), Ok(0));
    // SAFETY: the new mapping is readable.
    check_eq!(unsafe { peek(base + 16) }, base.to_le_bytes()[0]);
    Ok(())
}

fn vmar_allocate_with_a_bad_out_leaves_no_region() -> TestResult {
    let flags = abi::ZX_VM_CAN_MAP_READ | abi::ZX_VM_CAN_MAP_SPECIFIC;
    let (region, base) = ok!(Vmar::root_self().allocate(0, 4 * PAGE, VmarFlags(flags)));
    let opts = u64::from(flags | abi::ZX_VM_SPECIFIC);
    let mut child = 0u32;
    let mut addr = 0u64;
    for p in foreign_out_ptrs() {
        check_eq!(
            call(
                Syscall::VmarAllocate,
                [h(&region), opts, PAGE, PAGE, p, &raw mut addr as u64, 0, 0]
            ),
            Status::INVALID_ARGS,
            "child out {p:#x}"
        );
        check_eq!(
            call(
                Syscall::VmarAllocate,
                [h(&region), opts, PAGE, PAGE, &raw mut child as u64, p, 0, 0]
            ),
            Status::INVALID_ARGS,
            "addr out {p:#x}"
        );
    }
    // Nothing occupies the range.
    let (_sub, at) = ok!(region.allocate(PAGE, PAGE, VmarFlags(flags) | VmarFlags::SPECIFIC));
    check_eq!(at, base + PAGE);
    Ok(())
}

fn task_create_with_a_bad_handle_list_moves_nothing() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let mut out = 0u32;
    let entry = text_addr();
    each_invalid_args(foreign_in_ptrs(), "list", |p| {
        task_create(entry, p, 1, &raw mut out as u64)
    })?;
    check_eq!(out, 0);
    check!(valid(vmo.raw_handle()));
    Ok(())
}

fn task_create_with_a_bad_out_starts_nothing_and_moves_nothing() -> TestResult {
    let (parent, child) = ok!(page_and_child());
    let list = [child.raw_handle()];
    each_invalid_args(foreign_out_ptrs(), "out", |p| {
        task_create(text_addr(), list.as_ptr() as u64, 1, p)
    })?;
    check!(valid(child.raw_handle()), "the handle moved");
    drop(child);
    check!(zero_children(&parent));
    Ok(())
}

fn task_create_with_an_entry_outside_the_text_is_invalid_args() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let list = [vmo.raw_handle()];
    let mut out = 0u32;
    for entry in [0, KERNEL_ADDR, rodata_addr(), data_addr(), NON_CANONICAL] {
        check_eq!(
            task_create(entry, list.as_ptr() as u64, 1, &raw mut out as u64),
            Status::INVALID_ARGS,
            "entry {entry:#x}"
        );
    }
    check!(valid(vmo.raw_handle()));
    Ok(())
}

fn task_create_with_more_than_four_handles_is_invalid_args() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let list = [vmo.raw_handle(); 5];
    let mut out = 0u32;
    check_eq!(
        task_create(text_addr(), list.as_ptr() as u64, 5, &raw mut out as u64),
        Status::INVALID_ARGS
    );
    // The same handle twice is refused too.
    check_eq!(
        task_create(text_addr(), list.as_ptr() as u64, 2, &raw mut out as u64),
        Status::INVALID_ARGS
    );
    check!(valid(vmo.raw_handle()));
    Ok(())
}

fn console_write_of_refused_or_bad_text_fails() -> TestResult {
    each_invalid_args(foreign_in_ptrs(), "text", |p| {
        call(Syscall::ConsoleWrite, [p, 8, 0, 0, 0, 0, 0, 0])
    })?;
    let long = [b'#'; 600];
    check_eq!(
        call(
            Syscall::ConsoleWrite,
            [long.as_ptr() as u64, 513, 0, 0, 0, 0, 0, 0]
        ),
        Status::OUT_OF_RANGE
    );
    let bad_utf8 = [b'#', b' ', 0xff, 0xfe];
    check_eq!(
        call(
            Syscall::ConsoleWrite,
            [bad_utf8.as_ptr() as u64, 4, 0, 0, 0, 0, 0, 0]
        ),
        Status::INVALID_ARGS
    );
    let two_lines = *b"# a\n# b";
    check_eq!(
        call(
            Syscall::ConsoleWrite,
            [two_lines.as_ptr() as u64, 7, 0, 0, 0, 0, 0, 0]
        ),
        Status::INVALID_ARGS
    );
    Ok(())
}

fn forged_stale_and_invalid_handles_are_bad_handle() -> TestResult {
    let stale = Handle::from(ok!(Vmo::create(PAGE))).into_raw();
    // `into_raw` forgot it; close it so the value is stale.
    ok!(Handle::from_raw(stale).close());
    let mut out = 0u64;
    let o = &raw mut out as u64;
    let mut buf = [0u8; 16];
    let b = buf.as_mut_ptr() as u64;
    for bad in [stale, FORGED_HANDLE, 0, u32::MAX] {
        let x = u64::from(bad);
        let cases = [
            (Syscall::HandleClose, [x, 0, 0, 0, 0, 0, 0, 0]),
            (
                Syscall::HandleDuplicate,
                [x, u64::from(abi::ZX_RIGHT_SAME_RIGHTS), o, 0, 0, 0, 0, 0],
            ),
            (
                Syscall::HandleReplace,
                [x, u64::from(abi::ZX_RIGHT_SAME_RIGHTS), o, 0, 0, 0, 0, 0],
            ),
            (Syscall::VmoCreateChild, [x, 1, 0, PAGE, o, 0, 0, 0]),
            (Syscall::VmoRead, [x, b, 0, 16, 0, 0, 0, 0]),
            (Syscall::VmoWrite, [x, b, 0, 16, 0, 0, 0, 0]),
            (Syscall::VmoGetSize, [x, o, 0, 0, 0, 0, 0, 0]),
            (Syscall::VmoSetSize, [x, PAGE, 0, 0, 0, 0, 0, 0]),
            (Syscall::VmoOpRange, [x, 1, 0, PAGE, 0, 0, 0, 0]),
            (Syscall::VmarUnmap, [x, 0, PAGE, 0, 0, 0, 0, 0]),
            (Syscall::VmarDestroy, [x, 0, 0, 0, 0, 0, 0, 0]),
            (Syscall::ObjectGetInfo, [x, 2, b, 16, 0, 0, 0, 0]),
            (Syscall::ObjectWaitOne, [x, 1 << 24, 0, 0, 0, 0, 0, 0]),
            (Syscall::ObjectSignal, [x, 0, 1 << 24, 0, 0, 0, 0, 0]),
            (Syscall::ThreadCreate, [x, 0, o, 0, 0, 0, 0, 0]),
        ];
        for (n, a) in cases {
            let want = if n == Syscall::HandleClose && bad == 0 {
                Status::OK
            } else {
                Status::BAD_HANDLE
            };
            check_eq!(call(n, a), want, "{n:?} with handle {bad:#x}");
        }
    }
    Ok(())
}

fn wrong_object_types_are_wrong_type() -> TestResult {
    let event = ok!(Event::create());
    let vmo = ok!(Vmo::create(PAGE));
    let vmar = Vmar::root_self();
    let (e, v, r) = (h(&event), h(&vmo), h(&*vmar));
    let mut out = 0u64;
    let o = &raw mut out as u64;
    let mut buf = [0u8; 16];
    let b = buf.as_mut_ptr() as u64;
    let cases = [
        (Syscall::VmoCreateChild, [e, 1, 0, PAGE, o, 0, 0, 0]),
        (Syscall::VmoRead, [e, b, 0, 16, 0, 0, 0, 0]),
        (Syscall::VmoWrite, [r, b, 0, 16, 0, 0, 0, 0]),
        (Syscall::VmoGetSize, [e, o, 0, 0, 0, 0, 0, 0]),
        (Syscall::VmoSetSize, [r, PAGE, 0, 0, 0, 0, 0, 0]),
        (Syscall::VmoOpRange, [e, 1, 0, PAGE, 0, 0, 0, 0]),
        (Syscall::VmarMap, [v, 1, 0, v, 0, PAGE, o, 0]),
        (Syscall::VmarMap, [r, 1, 0, e, 0, PAGE, o, 0]),
        (Syscall::VmarUnmap, [v, 0, PAGE, 0, 0, 0, 0, 0]),
        (Syscall::VmarProtect, [e, 1, 0, PAGE, 0, 0, 0, 0]),
        (Syscall::VmarAllocate, [v, 0, 0, PAGE, o, b, 0, 0]),
        (Syscall::VmarDestroy, [e, 0, 0, 0, 0, 0, 0, 0]),
        (Syscall::ThreadCreate, [v, 0, o, 0, 0, 0, 0, 0]),
        (Syscall::ThreadStart, [e, text_addr(), 0, 0, 0, 0, 0, 0]),
        (
            Syscall::ObjectGetInfo,
            [e, u64::from(abi::ZX_INFO_VMO), b, 16, 0, 0, 0, 0],
        ),
    ];
    for (n, a) in cases {
        check_eq!(call(n, a), Status::WRONG_TYPE, "{n:?}({:#x}, ...)", a[0]);
    }
    Ok(())
}

fn missing_rights_are_access_denied() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let none = ok!(vmo.duplicate(Rights::NONE));
    let mut buf = [0u8; 8];
    check_eq!(none.read(&mut buf, 0), Err(Status::ACCESS_DENIED));
    check_eq!(none.write(&buf, 0), Err(Status::ACCESS_DENIED));
    check_eq!(none.set_size(0), Err(Status::ACCESS_DENIED));
    check_eq!(
        none.op_range(VmoOp::COMMIT, 0, PAGE),
        Err(Status::ACCESS_DENIED)
    );
    check_eq!(
        none.create_child(VmoChildOptions::COPY_ON_WRITE, 0, PAGE)
            .map(drop),
        Err(Status::ACCESS_DENIED)
    );
    check_eq!(
        none.duplicate_handle(Rights::SAME_RIGHTS).map(drop),
        Err(Status::ACCESS_DENIED)
    );
    check_eq!(
        none.signal_handle(Signals::NONE, Signals::USER_0),
        Err(Status::ACCESS_DENIED)
    );
    check_eq!(
        none.wait_handle(Signals::USER_0, Time::INFINITE_PAST),
        Err(Status::ACCESS_DENIED)
    );
    check_eq!(
        Vmar::root_self()
            .map(0, &none, 0, PAGE, VmarFlags::PERM_READ)
            .map(drop),
        Err(Status::ACCESS_DENIED)
    );
    check_eq!(ok!(vmo.info()).committed_bytes, 0);
    check!(zero_children(&vmo));
    Ok(())
}

fn misaligned_offsets_are_invalid_args() -> TestResult {
    let vmo = ok!(Vmo::create(4 * PAGE));
    let flags =
        VmarFlags(abi::ZX_VM_CAN_MAP_READ | abi::ZX_VM_CAN_MAP_WRITE | abi::ZX_VM_CAN_MAP_SPECIFIC);
    let (region, base) = ok!(Vmar::root_self().allocate(0, 8 * PAGE, flags));
    let r = VmarFlags::PERM_READ;
    check_eq!(
        vmo.create_child(VmoChildOptions::COPY_ON_WRITE, 100, PAGE)
            .map(drop),
        Err(Status::INVALID_ARGS)
    );
    check_eq!(
        region.map(100, &vmo, 0, PAGE, r | VmarFlags::SPECIFIC),
        Err(Status::INVALID_ARGS)
    );
    check_eq!(region.map(0, &vmo, 100, PAGE, r), Err(Status::INVALID_ARGS));
    check_eq!(region.unmap(base + 100, PAGE), Err(Status::INVALID_ARGS));
    check_eq!(
        region.protect(base + 100, PAGE, r),
        Err(Status::INVALID_ARGS)
    );
    check_eq!(
        region
            .allocate(100, PAGE, flags | VmarFlags::SPECIFIC)
            .map(drop),
        Err(Status::INVALID_ARGS)
    );
    check_eq!(ok!(vmo.info()).num_mappings, 0);
    check!(zero_children(&vmo));
    Ok(())
}

fn overflowing_ranges_are_refused() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let mut buf = [0u8; 16];
    let big = u64::MAX - 7;
    check_eq!(vmo.read(&mut buf, big), Err(Status::OUT_OF_RANGE));
    check_eq!(vmo.write(&buf, big), Err(Status::OUT_OF_RANGE));
    check_eq!(
        vmo.op_range(VmoOp::COMMIT, PAGE, u64::MAX),
        Err(Status::OUT_OF_RANGE)
    );
    check_eq!(
        vmo.create_child(VmoChildOptions::COPY_ON_WRITE, PAGE, u64::MAX - 100)
            .map(drop),
        Err(Status::OUT_OF_RANGE)
    );
    check_eq!(
        Vmar::root_self()
            .map(0, &vmo, !(PAGE - 1), 2 * PAGE, VmarFlags::PERM_READ)
            .map(drop),
        Err(Status::INVALID_ARGS)
    );
    check_eq!(
        Vmar::root_self().unmap(!(PAGE - 1), 2 * PAGE),
        Err(Status::INVALID_ARGS)
    );
    check_eq!(ok!(vmo.info()).committed_bytes, 0);
    check!(zero_children(&vmo));
    Ok(())
}

fn create_child_whose_size_rounds_up_past_64_bits_is_out_of_range() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    // offset + size fits in 64 bits; offset + size rounded up to a page does not.
    let offset = u64::MAX - PAGE + 1;
    let child = vmo.create_child(VmoChildOptions::COPY_ON_WRITE, offset, 1);
    check_eq!(child.map(drop), Err(Status::OUT_OF_RANGE));
    check!(zero_children(&vmo));
    Ok(())
}

/// `vmo_read`/`vmo_write` look the handle up, check its right and the
/// range before they touch the buffer: a bad buffer is INVALID_ARGS only
/// when nothing else is wrong, and no bytes means no buffer is needed.
fn vmo_read_and_write_report_the_handle_right_and_range_before_a_bad_buffer() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    ok!(vmo.write(&[4], 0));
    let event = ok!(Event::create());
    let ro = ok!(vmo.duplicate(Rights::READ));
    let wo = ok!(vmo.duplicate(Rights::WRITE));
    let bad = u64::from(abi::ZX_HANDLE_INVALID);
    for p in [0, KERNEL_ADDR, NON_CANONICAL] {
        for (n, denied) in [(Syscall::VmoRead, &wo), (Syscall::VmoWrite, &ro)] {
            let cases = [
                ([bad, p, 0, 16], Status::BAD_HANDLE),
                ([h(&event), p, 0, 16], Status::WRONG_TYPE),
                ([h(denied), p, 0, 16], Status::ACCESS_DENIED),
                ([h(&vmo), p, PAGE - 8, 16], Status::OUT_OF_RANGE),
                ([h(&vmo), p, u64::MAX, 16], Status::OUT_OF_RANGE),
                ([h(&vmo), p, 0, u64::MAX], Status::OUT_OF_RANGE),
                ([h(&vmo), p, 0, 16], Status::INVALID_ARGS),
                ([h(&vmo), p, 0, 0], Status::OK),
                ([h(&vmo), p, PAGE, 0], Status::OK),
            ];
            for ([x0, x1, x2, x3], want) in cases {
                check_eq!(
                    call(n, [x0, x1, x2, x3, 0, 0, 0, 0]),
                    want,
                    "{n:?} buffer {p:#x} offset {x2:#x} len {x3:#x}"
                );
            }
        }
    }
    check_eq!(byte_at(&vmo, 0), Ok(4));
    check_eq!(ok!(vmo.info()).committed_bytes, PAGE);
    Ok(())
}

/// An out-pointer into the caller's own memory mapped read-only is as bad
/// as an unmapped one: INVALID_ARGS, the page unchanged, no new handle or
/// child left behind. An unaligned out-pointer in writable memory is fine
/// (Zircon's user pointers ask no alignment).
fn outs_into_a_read_only_mapping_are_invalid_args_and_unaligned_outs_work() -> TestResult {
    let page = ok!(Vmo::create(PAGE));
    ok!(page.write(&[0xee; 16], 0));
    let ro = ok!(map(&page, PAGE, VmarFlags::PERM_READ));
    let vmo = ok!(Vmo::create(PAGE));
    ok!(vmo.op_range(VmoOp::COMMIT, 0, PAGE));
    let topic = u64::from(abi::ZX_INFO_VMO);
    let lookup = u64::from(abi::ZX_VMO_OP_LOOKUP);
    let mut info = [0u8; 256];
    let i = info.as_mut_ptr() as u64;
    let cases = [
        (
            Syscall::VmoOpRange,
            [h(&vmo), lookup, 0, PAGE, ro + 8, 8, 0, 0],
        ),
        (
            Syscall::ObjectGetInfo,
            [h(&vmo), topic, i, 256, ro, 0, 0, 0],
        ),
        (
            Syscall::ObjectGetInfo,
            [h(&vmo), topic, i, 256, 0, ro, 0, 0],
        ),
        (Syscall::VmoCreate, [PAGE, 0, ro + 4, 0, 0, 0, 0, 0]),
        (
            Syscall::VmoCreateChild,
            [h(&vmo), 1, 0, PAGE, ro + 4, 0, 0, 0],
        ),
        (Syscall::VmoGetSize, [h(&vmo), ro + 8, 0, 0, 0, 0, 0, 0]),
        (
            Syscall::ObjectGetInfo,
            [h(&vmo), topic, ro, 256, 0, 0, 0, 0],
        ),
        (
            Syscall::HandleDuplicate,
            [
                h(&vmo),
                u64::from(abi::ZX_RIGHT_SAME_RIGHTS),
                ro + 4,
                0,
                0,
                0,
                0,
                0,
            ],
        ),
    ];
    for (n, a) in cases {
        check_eq!(call(n, a), Status::INVALID_ARGS, "{n:?}");
    }
    check_eq!(ok!(bytes_at::<16>(&page, 0)), [0xee; 16]);
    childless(&vmo, format_args!("a child was left behind"))?;
    check_eq!(ok!(vmo.info()).num_mappings, 0);
    ok!(unmap(ro, PAGE));
    // Unaligned outs into writable memory.
    let mut buf = [0u8; 16];
    let b = buf.as_mut_ptr() as u64;
    check_eq!(
        call(Syscall::VmoCreate, [PAGE, 0, b + 1, 0, 0, 0, 0, 0]),
        Status::OK
    );
    let made = u32::from_le_bytes([buf[1], buf[2], buf[3], buf[4]]);
    check!(valid(made), "{made:#x}");
    ok!(Handle::from_raw(made).close());
    check_eq!(
        call(Syscall::VmoGetSize, [h(&vmo), b + 3, 0, 0, 0, 0, 0, 0]),
        Status::OK
    );
    check_eq!(ok!(word_from(&buf[3..11])), PAGE);
    Ok(())
}

fn word_from(bytes: &[u8]) -> Result<u64, Status> {
    let b: [u8; 8] = bytes.try_into().map_err(|_| Status::INTERNAL)?;
    Ok(u64::from_le_bytes(b))
}

/// Every error of `vmo_create_child` itself comes before the INVALID_ARGS
/// of an out-pointer it cannot write: a size past the largest VMO or an
/// overflowing `offset + size` is OUT_OF_RANGE whatever the out-pointer.
fn create_child_reports_its_options_offset_and_size_before_a_bad_out() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let v = h(&vmo);
    let (_region, unmapped) = ok!(unmapped_own_addr());
    for out in [0, KERNEL_ADDR, unmapped] {
        let cases = [
            ([v, 1, 0, u64::MAX], Status::OUT_OF_RANGE),
            ([v, 1, 0, abi::ZX_MAX_VMO_SIZE + 1], Status::OUT_OF_RANGE),
            ([v, 1, !(PAGE - 1), 2 * PAGE], Status::OUT_OF_RANGE),
            ([v, 0, 0, PAGE], Status::INVALID_ARGS),
            ([v, 1, 1, PAGE], Status::INVALID_ARGS),
            ([v, 1, 0, PAGE], Status::INVALID_ARGS),
        ];
        for ([x0, x1, x2, x3], want) in cases {
            check_eq!(
                call(Syscall::VmoCreateChild, [x0, x1, x2, x3, out, 0, 0, 0]),
                want,
                "options {x1} offset {x2:#x} size {x3:#x} out {out:#x}"
            );
        }
    }
    childless(&vmo, format_args!("a child was left behind"))
}
