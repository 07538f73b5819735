//! Which Zircon you get: one test per row of README's "Which Zircon" table.
//!
//! We follow the late-2018 ABI (the pages in the project's shared
//! reference). Where today's Zircon, or another page of the same era, says
//! otherwise, the test here pins what *we* promise, so the table cannot
//! drift from the code. Each test names the row it pins.

use super::util::*;
use crate::harness::{Suite, TestResult};
use crate::{check, check_eq, ok, tests};
use zx::{
    AsHandleRef, Event, HandleBased, Rights, Signals, Status, Task, Vmo, VmoChildOptions, VmoOp,
    VmoOptions,
};

pub static SUITE: Suite = Suite {
    name: "which_zircon",
    tests: tests![
        child_bit_0_is_one_way_copy_on_write_not_a_snapshot,
        child_options_of_todays_zircon_are_invalid_args,
        children_resize_by_default_and_bit_1_opts_out,
        vmos_resize_by_default_bit_0_opts_out_bit_1_is_invalid,
        default_vmo_rights_include_execute_and_no_resize_bit,
        a_copy_on_write_child_keeps_execute,
        set_size_needs_write_not_a_resize_right,
        op_5_is_lookup,
        decommit_on_a_child_shows_the_parent_again,
        object_signal_works_on_any_object_with_the_signal_right,
        vmar_map_needs_the_map_right,
        timer_handles_have_read_as_the_page_says,
        tasks_report_the_process_type,
        wait_many_takes_at_most_eight_items,
        thread_create_needs_write_on_the_task,
    ],
};

const PAGE: u64 = abi::PAGE_SIZE;

/// Today's Zircon's `zx_vmo_create_child` option bits (none of them ours).
const TODAY_CHILD_RESIZABLE: u32 = 1 << 2;
const TODAY_CHILD_SLICE: u32 = 1 << 3;
const TODAY_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE: u32 = 1 << 4;
const TODAY_CHILD_NO_WRITE: u32 = 1 << 5;
const TODAY_CHILD_REFERENCE: u32 = 1 << 6;
const TODAY_CHILD_SNAPSHOT_MODIFIED: u32 = 1 << 7;
/// Today's `ZX_VMO_RESIZABLE` (`zx_vmo_create`).
const TODAY_VMO_RESIZABLE: u32 = 1 << 1;
/// Today's `ZX_RIGHT_RESIZE`; no right has this bit in the era.
const TODAY_RIGHT_RESIZE: u32 = 1 << 22;

/// A one-page VMO holding `value` in its first byte.
fn page_holding(value: u8) -> Result<Vmo, Status> {
    let vmo = Vmo::create(PAGE)?;
    vmo.write(&[value], 0)?;
    Ok(vmo)
}

/// Row "create_child bit 0": a child sees the parent's later writes to pages
/// it has not copied (a snapshot would keep showing the old bytes), and the
/// parent never sees the child's writes.
fn child_bit_0_is_one_way_copy_on_write_not_a_snapshot() -> TestResult {
    check_eq!(abi::ZX_VMO_CHILD_COPY_ON_WRITE, 1);
    check_eq!(
        VmoChildOptions::COPY_ON_WRITE_ONE_WAY,
        VmoChildOptions::COPY_ON_WRITE
    );
    let parent = ok!(page_holding(1));
    let child = ok!(parent.create_child(VmoChildOptions::COPY_ON_WRITE_ONE_WAY, 0, PAGE));
    ok!(parent.write(&[2], 0));
    check_eq!(byte_at(&child, 0), Ok(2), "a snapshot would still show 1");
    ok!(child.write(&[3], 0));
    check_eq!(byte_at(&parent, 0), Ok(2));
    ok!(parent.write(&[4], 0));
    check_eq!(byte_at(&child, 0), Ok(3), "the child's copy is its own");
    Ok(())
}

/// Row "other child options": today's SNAPSHOT_AT_LEAST_ON_WRITE, SLICE,
/// RESIZABLE, NO_WRITE, REFERENCE and SNAPSHOT_MODIFIED bits are unknown
/// here, alone or beside bit 0.
fn child_options_of_todays_zircon_are_invalid_args() -> TestResult {
    let parent = ok!(page_holding(1));
    for bit in [
        TODAY_CHILD_RESIZABLE,
        TODAY_CHILD_SLICE,
        TODAY_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE,
        TODAY_CHILD_NO_WRITE,
        TODAY_CHILD_REFERENCE,
        TODAY_CHILD_SNAPSHOT_MODIFIED,
    ] {
        for opts in [bit, bit | abi::ZX_VMO_CHILD_COPY_ON_WRITE] {
            check_eq!(
                parent
                    .create_child(VmoChildOptions(opts), 0, PAGE)
                    .map(drop),
                Err(Status::INVALID_ARGS),
                "options {opts:#x}"
            );
        }
    }
    Ok(())
}

/// Row "child resizability": children resize unless created with bit 1
/// (`ZX_VMO_CHILD_NON_RESIZEABLE`); today children are fixed-size unless
/// created with `ZX_VMO_CHILD_RESIZABLE` (bit 2), and bit 1 is unused.
fn children_resize_by_default_and_bit_1_opts_out() -> TestResult {
    check_eq!(abi::ZX_VMO_CHILD_NON_RESIZEABLE, 1 << 1);
    let parent = ok!(page_holding(1));
    let child = ok!(parent.create_child(VmoChildOptions::COPY_ON_WRITE, 0, PAGE));
    ok!(child.set_size(4 * PAGE));
    check_eq!(child.get_size(), Ok(4 * PAGE));
    let fixed = ok!(parent.create_child(
        VmoChildOptions::COPY_ON_WRITE | VmoChildOptions::NON_RESIZEABLE,
        0,
        PAGE
    ));
    check_eq!(fixed.set_size(4 * PAGE), Err(Status::UNAVAILABLE));
    Ok(())
}

/// Row "vmo_create options": VMOs resize by default and option 1
/// (`ZX_VMO_NON_RESIZABLE`) opts out; today's `ZX_VMO_RESIZABLE` (bit 1) is
/// unknown here. (The era's own page says any non-zero option is invalid;
/// its header has `ZX_VMO_NON_RESIZABLE`, which we follow.)
fn vmos_resize_by_default_bit_0_opts_out_bit_1_is_invalid() -> TestResult {
    check_eq!(abi::ZX_VMO_NON_RESIZABLE, 1);
    let default = ok!(Vmo::create(PAGE));
    ok!(default.set_size(2 * PAGE));
    let fixed = ok!(Vmo::create_with_opts(VmoOptions::NON_RESIZABLE, PAGE));
    check_eq!(fixed.set_size(2 * PAGE), Err(Status::UNAVAILABLE));
    check_eq!(
        Vmo::create_with_opts(VmoOptions(TODAY_VMO_RESIZABLE), PAGE).map(drop),
        Err(Status::INVALID_ARGS)
    );
    Ok(())
}

/// Row "default VMO rights": 0xD0FF, EXECUTE included (the Dec 2018
/// header; from 2019 EXECUTE needs `zx_vmo_replace_as_executable`), and no
/// RESIZE right exists.
fn default_vmo_rights_include_execute_and_no_resize_bit() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let rights = ok!(vmo.basic_info()).rights;
    check_eq!(rights, 0xD0FF);
    check!(rights & abi::ZX_RIGHT_EXECUTE != 0, "rights {rights:#x}");
    check_eq!(rights & TODAY_RIGHT_RESIZE, 0);
    Ok(())
}

/// Row "child rights": the parent handle's rights plus WRITE; EXECUTE stays
/// (today a copy-on-write child loses EXECUTE).
fn a_copy_on_write_child_keeps_execute() -> TestResult {
    let parent = ok!(page_holding(1));
    let child = ok!(parent.create_child(VmoChildOptions::COPY_ON_WRITE, 0, PAGE));
    let rights = ok!(child.basic_info()).rights;
    check!(rights & abi::ZX_RIGHT_EXECUTE != 0, "rights {rights:#x}");
    check!(rights & abi::ZX_RIGHT_WRITE != 0, "rights {rights:#x}");
    Ok(())
}

/// Row "set_size rights": WRITE is enough (today a resizable VMO also needs
/// `ZX_RIGHT_RESIZE`).
fn set_size_needs_write_not_a_resize_right() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let write_only = ok!(vmo.duplicate(Rights::WRITE));
    ok!(write_only.set_size(3 * PAGE));
    check_eq!(vmo.get_size(), Ok(3 * PAGE));
    let read_only = ok!(vmo.duplicate(Rights::READ));
    check_eq!(read_only.set_size(PAGE), Err(Status::ACCESS_DENIED));
    Ok(())
}

/// Row "op 5": `ZX_VMO_OP_LOOKUP` (the seed page; gone from Zircon in
/// April 2018, op 5 is invalid today) returns each page's physical address.
fn op_5_is_lookup() -> TestResult {
    check_eq!(VmoOp::LOOKUP, VmoOp(5));
    let vmo = ok!(Vmo::create(2 * PAGE));
    ok!(vmo.op_range(VmoOp::COMMIT, 0, 2 * PAGE));
    let addrs = ok!(paddrs::<2>(&vmo, 0, 2 * PAGE));
    for a in addrs {
        check!(a != 0 && a % PAGE == 0, "address {a:#x}");
    }
    check!(addrs[0] != addrs[1], "{addrs:x?}");
    Ok(())
}

/// Row "DECOMMIT on a child": drops the child's copies and the parent shows
/// through again (today: `ZX_ERR_NOT_SUPPORTED` on snapshot children).
fn decommit_on_a_child_shows_the_parent_again() -> TestResult {
    let parent = ok!(page_holding(1));
    let child = ok!(parent.create_child(VmoChildOptions::COPY_ON_WRITE, 0, PAGE));
    ok!(child.write(&[9], 0));
    check_eq!(byte_at(&child, 0), Ok(9));
    ok!(child.op_range(VmoOp::DECOMMIT, 0, PAGE));
    check_eq!(byte_at(&child, 0), Ok(1));
    Ok(())
}

/// Row "object_signal": any object whose handle has SIGNAL takes user
/// signals (the era's page says "must be of type ZX_OBJ_TYPE_PROCESS", a
/// generator error; its description and today's Zircon agree with us).
fn object_signal_works_on_any_object_with_the_signal_right() -> TestResult {
    let event = ok!(Event::create());
    ok!(event.signal_handle(Signals::NONE, Signals::USER_0));
    check!(signals(&event).contains(Signals::USER_0), "event");
    let vmo = ok!(Vmo::create(PAGE));
    ok!(vmo.signal_handle(Signals::NONE, Signals::USER_1));
    check!(signals(&vmo).contains(Signals::USER_1), "vmo");
    // A VMAR handle never has SIGNAL: the page's ACCESS_DENIED.
    check_eq!(
        zx::Vmar::root_self().signal_handle(Signals::NONE, Signals::USER_0),
        Err(Status::ACCESS_DENIED)
    );
    Ok(())
}

/// Row "timer rights": a new timer's handle has the page's DUPLICATE,
/// TRANSFER, READ and WRITE, and the era's header's default set (which
/// lacks READ) besides.
fn timer_handles_have_read_as_the_page_says() -> TestResult {
    let t = ok!(zx::Timer::create());
    let rights = ok!(t.basic_info()).rights;
    let page =
        abi::ZX_RIGHT_DUPLICATE | abi::ZX_RIGHT_TRANSFER | abi::ZX_RIGHT_READ | abi::ZX_RIGHT_WRITE;
    check_eq!(rights & page, page);
    check_eq!(rights, abi::ZX_DEFAULT_TIMER_RIGHTS | abi::ZX_RIGHT_READ);
    Ok(())
}

/// Row "mapping rights": `vmar_map` needs `ZX_RIGHT_MAP` besides the
/// permission rights (rights.md; the era's vmar_map page does not say so).
fn vmar_map_needs_the_map_right() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let no_map = ok!(vmo.duplicate(Rights::READ | Rights::WRITE));
    check_eq!(map_rw(&no_map, PAGE).map(drop), Err(Status::ACCESS_DENIED));
    let addr = ok!(map_rw(&vmo, PAGE));
    ok!(unmap(addr, PAGE));
    Ok(())
}

/// Row "tasks": a task is ours, not a Zircon process (a handle table and a
/// sub-VMAR in one address space); its handle reports
/// `ZX_OBJ_TYPE_PROCESS`.
fn tasks_report_the_process_type() -> TestResult {
    let me = Task::self_handle();
    check_eq!(ok!(me.basic_info()).obj_type, abi::ZX_OBJ_TYPE_PROCESS);
    let h = ok!(me.duplicate_handle(Rights::SAME_RIGHTS));
    check_eq!(ok!(h.basic_info()).obj_type, abi::ZX_OBJ_TYPE_PROCESS);
    Ok(())
}

/// Row "wait_many items": the page's `ZX_WAIT_MANY_MAX_ITEMS` of 8, not the
/// era's header's 16 or today's 64: eight items wait, nine are refused.
fn wait_many_takes_at_most_eight_items() -> TestResult {
    check_eq!(abi::ZX_WAIT_MANY_MAX_ITEMS, 8);
    let events: [Event; 9] = core::array::from_fn(|_| Event::create().expect("an event"));
    ok!(events[7].signal_handle(Signals::NONE, Signals::USER_0));
    let mut raw: [abi::WaitItem; 9] = core::array::from_fn(|i| abi::WaitItem {
        handle: events[i].raw_handle(),
        waitfor: abi::ZX_USER_SIGNAL_0,
        pending: 0,
    });
    for (count, want) in [
        (8u64, Status::OK),
        (9, Status::OUT_OF_RANGE),
        (16, Status::OUT_OF_RANGE),
    ] {
        // SAFETY: `raw` holds nine items, readable and writable.
        let st =
            unsafe { zx::object_wait_many_raw(raw.as_mut_ptr() as u64, count, zx::Time::INFINITE) };
        check_eq!(st, want, "{count} items");
    }
    check_eq!(
        raw[7].pending & abi::ZX_USER_SIGNAL_0,
        abi::ZX_USER_SIGNAL_0
    );
    Ok(())
}

/// Row "thread_create rights": WRITE on the task handle (thread_start's
/// page and the era's kernel; thread_create's page names
/// `ZX_RIGHT_MANAGE_THREAD`, which rights.md calls not yet implemented).
fn thread_create_needs_write_on_the_task() -> TestResult {
    let me = Task::self_handle();
    let all = ok!(me.basic_info()).rights;
    let no_write = ok!(me.duplicate_handle(Rights(all & !abi::ZX_RIGHT_WRITE)));
    let no_write = Task::from(no_write);
    check_eq!(
        zx::Thread::create(&no_write).map(drop),
        Err(Status::ACCESS_DENIED)
    );
    check!(zx::Thread::create(&me).is_ok());
    Ok(())
}
