//! A task that touches kernel memory, touches unmapped memory, writes a
//! read-only mapping or executes data is ended with a fault; the kernel and
//! other tasks go on, and its handles close and its mappings go. A task
//! that touches another live task's stack or mappings by address (one
//! address space: it can know them) faults too, and the other task's data
//! is unchanged (protection domains: each task has its own view); what two
//! tasks share is what each maps itself, and the image.

use super::util::*;
use crate::harness::{
    run_in_task, run_in_task_arg, run_in_task_with, spawn_with, Suite, TestResult,
};
use crate::{check, check_eq, ok, tests};
use abi::Syscall;
use core::sync::atomic::{AtomicBool, Ordering};
use zx::{
    AsHandleRef, Duration, Event, Handle, Rights, Signals, Task, TaskEnd, Thread, Time, Vmar,
    VmarFlags, Vmo, VmoChildOptions,
};

pub static SUITE: Suite = Suite {
    name: "isolation",
    tests: tests![
        reading_kernel_memory_faults,
        writing_kernel_memory_faults,
        touching_unmapped_own_memory_faults,
        writing_below_the_stack_hits_the_guard,
        writing_a_read_only_mapping_faults,
        writing_the_images_text_faults,
        writing_the_images_read_only_data_faults,
        executing_a_data_mapping_faults,
        executing_the_images_data_faults,
        executing_kernel_memory_faults,
        an_undefined_instruction_ends_the_task,
        reading_another_tasks_mapping_faults,
        writing_another_tasks_mapping_faults,
        executing_another_tasks_mapping_faults,
        reading_another_tasks_stack_faults,
        writing_another_tasks_stack_faults,
        a_task_still_reads_the_shared_image,
        a_vmo_mapped_by_two_tasks_shows_the_same_bytes,
        a_copy_on_write_child_mapped_in_another_task_stays_private,
        a_finished_tasks_addresses_fault_in_the_next_task,
        exit_code_is_reported,
        faulted_task_handles_close_so_zero_children_fires,
        faulted_task_mappings_go,
        other_tasks_go_on_across_a_fault,
        a_thread_started_just_before_its_task_exits_never_runs,
    ],
};

/// Data abort from EL0.
const DATA_ABORT: u8 = 0x24;
/// Instruction abort from EL0.
const INSTRUCTION_ABORT: u8 = 0x20;

fn faulted_at(end: TaskEnd, class: u8, addr: u64) -> bool {
    end.fault_class() == Some(class) && matches!(end, TaskEnd::Faulted { far, .. } if far == addr)
}

/// Runs `f(addr)` in a helper task; fails unless the task faulted there,
/// with exception class `class`.
fn faults_at(f: fn(u64), addr: u64, class: u8) -> TestResult {
    let end = ok!(run_in_task_arg(f, addr));
    check!(faulted_at(end, class, addr), "{end:?}");
    Ok(())
}

/// In a helper task: reads the byte at `addr` and exits with it.
fn read_at(addr: u64) {
    // SAFETY: the test expects the read to fault.
    let b = unsafe { peek(addr) };
    zx::exit(i64::from(b));
}

/// In a helper task: writes 0x77 to the byte at `addr`.
fn write_at(addr: u64) {
    // SAFETY: the test expects the write to fault.
    unsafe { poke(addr, 0x77) };
}

/// In a helper task: calls the code at `addr`.
fn call_at(addr: u64) {
    // SAFETY: the test expects the instruction fetch to fault.
    unsafe { call(addr) };
}

fn reading_kernel_memory_faults() -> TestResult {
    let end = ok!(run_in_task(|| {
        // SAFETY: deliberately reads kernel memory; the kernel ends this task.
        unsafe { peek(KERNEL_ADDR + 64) };
    }));
    check!(faulted_at(end, DATA_ABORT, KERNEL_ADDR + 64), "{end:?}");
    Ok(())
}

fn writing_kernel_memory_faults() -> TestResult {
    let end = ok!(run_in_task(|| {
        // SAFETY: deliberately writes kernel memory; the kernel ends this task.
        unsafe { poke(0x4000_1000, 1) };
    }));
    check!(faulted_at(end, DATA_ABORT, 0x4000_1000), "{end:?}");
    Ok(())
}

fn touching_unmapped_own_memory_faults() -> TestResult {
    let (region, addr) = ok!(unmapped_own_addr());
    let end = ok!(run_in_task_arg(
        |addr| {
            // SAFETY: nothing is mapped there; the kernel ends this task.
            unsafe { peek(addr + 8) };
        },
        addr
    ));
    drop(region);
    check!(faulted_at(end, DATA_ABORT, addr + 8), "{end:?}");
    Ok(())
}

fn writing_below_the_stack_hits_the_guard() -> TestResult {
    let end = ok!(run_in_task(|| {
        let info = match Vmar::root_self().info() {
            Ok(i) => i,
            Err(_) => return,
        };
        // The first thread's stack sits above a guard gap at the base of
        // the task's sub-VMAR: its last byte is unmapped.
        // SAFETY: deliberately writes the guard; the kernel ends this task.
        unsafe { poke(info.base + 64 * 1024 - 1, 1) };
    }));
    check_eq!(end.fault_class(), Some(DATA_ABORT), "{end:?}");
    Ok(())
}

fn writing_a_read_only_mapping_faults() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    let addr = ok!(map(&vmo, PAGE, VmarFlags::PERM_READ));
    // The mapping is read-only; the store faults.
    faults_at(write_at, addr, DATA_ABORT)?;
    check_eq!(byte_at(&vmo, 0), Ok(0));
    Ok(())
}

fn writing_the_images_text_faults() -> TestResult {
    let end = ok!(run_in_task(|| {
        // SAFETY: the image's text is read-only; the store faults.
        unsafe { poke(text_addr(), 0) };
    }));
    check!(faulted_at(end, DATA_ABORT, text_addr()), "{end:?}");
    Ok(())
}

fn writing_the_images_read_only_data_faults() -> TestResult {
    let end = ok!(run_in_task(|| {
        // SAFETY: the image's rodata is read-only; the store faults.
        unsafe { poke(rodata_addr(), 0) };
    }));
    check!(faulted_at(end, DATA_ABORT, rodata_addr()), "{end:?}");
    check_eq!(RODATA_WORDS[0], 0x0102_0304_0506_0708);
    Ok(())
}

/// `ret`.
const RET: [u8; 4] = 0xd65f_03c0u32.to_le_bytes();

fn executing_a_data_mapping_faults() -> TestResult {
    let (_vmo, addr) = ok!(mapped_page_with(&RET, 0));
    // The mapping has no execute permission: the instruction fetch faults.
    faults_at(call_at, addr, INSTRUCTION_ABORT)?;
    Ok(())
}

fn executing_the_images_data_faults() -> TestResult {
    let end = ok!(run_in_task(|| {
        // SAFETY: deliberately jumps into the image's data (never executable).
        unsafe { call(data_addr()) };
    }));
    check!(faulted_at(end, INSTRUCTION_ABORT, data_addr()), "{end:?}");
    Ok(())
}

fn executing_kernel_memory_faults() -> TestResult {
    let end = ok!(run_in_task(|| {
        // SAFETY: deliberately jumps into kernel text; EL0 may not fetch there.
        unsafe { call(KERNEL_ADDR) };
    }));
    check!(faulted_at(end, INSTRUCTION_ABORT, KERNEL_ADDR), "{end:?}");
    Ok(())
}

fn an_undefined_instruction_ends_the_task() -> TestResult {
    let end = ok!(run_in_task(|| {
        // SAFETY: a permanently undefined instruction; the kernel ends this task.
        unsafe { core::arch::asm!("udf #0") };
    }));
    check_eq!(end.fault_class(), Some(0x00), "{end:?}");
    Ok(())
}

fn reading_another_tasks_mapping_faults() -> TestResult {
    let (_vmo, addr) = ok!(mapped_page_with(&[0x2a], 5));
    // Touched here first: this task's table has the translation.
    // SAFETY: this task's own read-write mapping.
    check_eq!(unsafe { peek(addr + 5) }, 0x2a);
    // Another task's mapping: the read faults.
    faults_at(read_at, addr + 5, DATA_ABORT)?;
    // SAFETY: as above.
    check_eq!(unsafe { peek(addr + 5) }, 0x2a);
    Ok(())
}

fn writing_another_tasks_mapping_faults() -> TestResult {
    let (vmo, addr) = ok!(mapped_page_with(&[0x11], 0));
    // SAFETY: this task's own read-write mapping.
    check_eq!(unsafe { peek(addr) }, 0x11);
    // Another task's mapping: the write faults.
    faults_at(write_at, addr, DATA_ABORT)?;
    check_eq!(byte_at(&vmo, 0), Ok(0x11));
    // SAFETY: as above.
    check_eq!(unsafe { peek(addr) }, 0x11);
    Ok(())
}

fn executing_another_tasks_mapping_faults() -> TestResult {
    let vmo = ok!(Vmo::create(PAGE));
    ok!(vmo.write(&RET, 0));
    let addr = ok!(map(
        &vmo,
        PAGE,
        VmarFlags::PERM_READ | VmarFlags::PERM_EXECUTE
    ));
    // SAFETY: this task's own executable mapping holding `ret`.
    unsafe { call(addr) };
    // Another task's code: the instruction fetch faults.
    faults_at(call_at, addr, INSTRUCTION_ABORT)?;
    // SAFETY: as above: it still runs here.
    unsafe { call(addr) };
    Ok(())
}

fn reading_another_tasks_stack_faults() -> TestResult {
    let word = core::hint::black_box([0x5au8; 64]);
    let addr = word.as_ptr() as u64;
    // Another task's stack: the read faults.
    faults_at(read_at, addr, DATA_ABORT)?;
    check!(core::hint::black_box(&word).iter().all(|&b| b == 0x5a));
    Ok(())
}

fn writing_another_tasks_stack_faults() -> TestResult {
    let word = core::hint::black_box([0x5au8; 64]);
    let addr = word.as_ptr() as u64 + 8;
    // Another task's stack: the write faults.
    faults_at(write_at, addr, DATA_ABORT)?;
    check!(
        core::hint::black_box(&word).iter().all(|&b| b == 0x5a),
        "the other task wrote this task's stack"
    );
    Ok(())
}

fn a_task_still_reads_the_shared_image() -> TestResult {
    let end = ok!(run_in_task(|| {
        // SAFETY: the image's read-only data is in every task's view.
        let b = unsafe { peek(rodata_addr()) };
        zx::exit(i64::from(b));
    }));
    // RODATA_WORDS[0] is 0x0102_0304_0506_0708, little-endian.
    check_eq!(end, TaskEnd::Exited(0x08));
    Ok(())
}

/// In a helper task: maps the VMO `hs[0]` read-write in the task's own
/// sub-VMAR (exits with 1 if it cannot), reads its first byte, then writes
/// `value` there; the VMO, the mapping's address and the byte read.
fn swap_first_byte(hs: [abi::Handle; 4], value: u8) -> (Vmo, u64, u8) {
    let vmo = Vmo::from(Handle::from_raw(hs[0]));
    let Ok(mine) = map_rw(&vmo, PAGE) else {
        zx::exit(1);
    };
    // SAFETY: this task's own read-write mapping.
    let b = unsafe { peek(mine) };
    // SAFETY: as above.
    unsafe { poke(mine, value) };
    (vmo, mine, b)
}

fn a_vmo_mapped_by_two_tasks_shows_the_same_bytes() -> TestResult {
    let (vmo, addr) = ok!(mapped_page_with(&[0x11], 0));
    // SAFETY: this task's own mapping.
    check_eq!(unsafe { peek(addr) }, 0x11);
    let end = ok!(run_in_task_with(
        |hs| {
            let (_vmo, _, b) = swap_first_byte(hs, 0x22);
            zx::exit(i64::from(b));
        },
        &mut [ok!(vmo.duplicate_handle(Rights::SAME_RIGHTS))]
    ));
    check_eq!(end, TaskEnd::Exited(0x11));
    // The other task's write, through this task's own mapping.
    // SAFETY: this task's own mapping.
    check_eq!(unsafe { peek(addr) }, 0x22);
    Ok(())
}

fn a_copy_on_write_child_mapped_in_another_task_stays_private() -> TestResult {
    let (parent, addr) = ok!(mapped_page_with(&[0x11], 0));
    // SAFETY: this task's own mapping.
    check_eq!(unsafe { peek(addr) }, 0x11);
    let child = ok!(parent.create_child(VmoChildOptions::COPY_ON_WRITE, 0, PAGE));
    let end = ok!(run_in_task_with(
        |hs| {
            // The write copies the child's page.
            let (_child, mine, b) = swap_first_byte(hs, 0x33);
            // SAFETY: this task's own mapping of the child.
            let after = unsafe { peek(mine) };
            zx::exit(i64::from(b) | (i64::from(after) << 8));
        },
        &mut [ok!(child.duplicate_handle(Rights::SAME_RIGHTS))]
    ));
    // The child showed the parent's page, then its own copy.
    check_eq!(end, TaskEnd::Exited(0x3311));
    // SAFETY: this task's own mapping.
    check_eq!(unsafe { peek(addr) }, 0x11);
    check_eq!(byte_at(&child, 0), Ok(0x33));
    Ok(())
}

/// A task maps and touches a page, then ends; the next task (which takes
/// the same slot and, freed, the same ASID) reads that address: it faults
/// (nothing of its own is mapped there), never seeing the first task's page
/// through a stale translation.
fn a_finished_tasks_addresses_fault_in_the_next_task() -> TestResult {
    let note = ok!(Vmo::create(8));
    let end = ok!(run_in_task_with(
        |hs| {
            let note = Vmo::from(Handle::from_raw(hs[0]));
            let Ok(vmo) = Vmo::create(PAGE) else {
                zx::exit(1)
            };
            let Ok(addr) = map_rw(&vmo, PAGE) else {
                zx::exit(1)
            };
            // SAFETY: this task's own mapping.
            unsafe { poke(addr, 0x44) };
            // SAFETY: as above.
            if unsafe { peek(addr) } != 0x44 || note.write(&addr.to_le_bytes(), 0).is_err() {
                zx::exit(1);
            }
        },
        &mut [ok!(note.duplicate_handle(Rights::SAME_RIGHTS))]
    ));
    check_eq!(end, TaskEnd::Exited(0));
    let addr = ok!(word_at(&note, 0));
    // Nothing of this task is mapped there: the read faults.
    faults_at(read_at, addr, DATA_ABORT)?;
    Ok(())
}

fn exit_code_is_reported() -> TestResult {
    check_eq!(ok!(run_in_task(|| zx::exit(-7))), TaskEnd::Exited(-7));
    check_eq!(ok!(run_in_task(|| {})), TaskEnd::Exited(0));
    Ok(())
}

fn faulted_task_handles_close_so_zero_children_fires() -> TestResult {
    let (parent, child) = ok!(page_and_child());
    let end = ok!(run_in_task_with(
        |_| {
            // SAFETY: deliberately reads kernel memory while holding the child.
            unsafe { peek(KERNEL_ADDR) };
        },
        &mut [child.into()]
    ));
    check_eq!(end.fault_class(), Some(DATA_ABORT));
    childless(
        &parent,
        format_args!("the ended task's child handle stayed open"),
    )
}

fn faulted_task_mappings_go() -> TestResult {
    let (parent, child) = ok!(page_and_child());
    let end = ok!(run_in_task_with(
        |hs| {
            let child = Vmo::from(Handle::from_raw(hs[0]));
            let Ok(addr) = map_rw(&child, PAGE) else {
                return;
            };
            // Only the mapping keeps the child now.
            drop(child);
            // SAFETY: the mapping is read-write, then the kernel's memory
            // is read, which ends this task.
            unsafe {
                poke(addr, 1);
                peek(KERNEL_ADDR);
            }
        },
        &mut [child.into()]
    ));
    check_eq!(end.fault_class(), Some(DATA_ABORT));
    check!(zero_children(&parent), "the ended task's mapping stayed");
    Ok(())
}

fn other_tasks_go_on_across_a_fault() -> TestResult {
    let event = ok!(Event::create());
    let survivor = ok!(spawn_with(
        |hs| {
            let event = Event::from(Handle::from_raw(hs[0]));
            // Wait for the go-ahead, then answer.
            if event
                .wait_handle(Signals::USER_0, Time::after(Duration::from_seconds(10)))
                .is_ok()
            {
                let _ = event.signal_handle(Signals::USER_0, Signals::USER_1);
            }
        },
        &mut [ok!(event.duplicate_handle(Rights::SAME_RIGHTS))]
    ));
    let end = ok!(run_in_task(|| {
        // SAFETY: deliberately writes kernel memory; the kernel ends this task.
        unsafe { poke(KERNEL_ADDR, 0) };
    }));
    check_eq!(end.fault_class(), Some(DATA_ABORT));
    ok!(event.signal_handle(Signals::NONE, Signals::USER_0));
    ok!(event.wait_handle(Signals::USER_1, Time::after(Duration::from_seconds(10))));
    check_eq!(ok!(survivor.join()), TaskEnd::Exited(0));
    // And this task still works.
    let vmo = ok!(Vmo::create(PAGE));
    ok!(vmo.write(b"ok", 0));
    check_eq!(byte_at(&vmo, 1), Ok(b'k'));
    check!(vmo.raw_handle() != 0);
    Ok(())
}

/// Set by the helper task just before it exits.
static EXITING: AtomicBool = AtomicBool::new(false);
/// Set by [`late_entry`] if it runs once its task is exiting.
static RAN_LATE: AtomicBool = AtomicBool::new(false);

stackless_entry!(
    /// A thread's entry that notes whether it ran after its task began to
    /// exit, then exits; it touches no stack, so it runs to the end even in a
    /// task whose memory is gone (the image's data is shared by all tasks).
    late_entry:
    "adrp x9, {exiting}",
    "ldrb w10, [x9, :lo12:{exiting}]",
    "cbz w10, 1f",
    "adrp x9, {ran_late}",
    "mov w10, #1",
    "strb w10, [x9, :lo12:{ran_late}]",
    "1: mov x16, #{thread_exit}",
    "svc #0",
    "b .",
    exiting = sym EXITING,
    ran_late = sym RAN_LATE,
    thread_exit = const Syscall::ThreadExit as u64,
);

/// A thread started just before its task exits has not run yet (starting
/// does not switch to it): it must never reach task code once the task has
/// ended. Preemption between the start and the exit could let it run
/// earlier, harmlessly: it then sees `EXITING` unset.
fn a_thread_started_just_before_its_task_exits_never_runs() -> TestResult {
    // A preemption between the helper's EXITING store and its exit lets
    // the thread run legitimately, task alive: rare, but a loaded host
    // made it happen once. A thread that runs after its task ended runs
    // every time, so only three in a row fail.
    let mut ran_late = 0;
    for _ in 0..3 {
        if !start_just_before_exit()? {
            return Ok(());
        }
        ran_late += 1;
    }
    check!(
        ran_late < 3,
        "a thread of an ended task ran task code (three times in a row)"
    );
    Ok(())
}

/// One try of the case above: whether the late thread ran task code once
/// its task was exiting.
fn start_just_before_exit() -> Result<bool, crate::harness::Failure> {
    EXITING.store(false, Ordering::SeqCst);
    RAN_LATE.store(false, Ordering::SeqCst);
    let end = ok!(run_in_task(|| {
        let Ok(stack) = Vmo::create(PAGE) else { return };
        let Ok(sp) = map_rw(&stack, PAGE) else { return };
        let Ok(thread) = Thread::create(&Task::self_handle()) else {
            return;
        };
        if thread.start(late_entry, sp + PAGE, 0, 0).is_err() {
            return;
        }
        EXITING.store(true, Ordering::SeqCst);
        zx::exit(5)
    }));
    check_eq!(end, TaskEnd::Exited(5));
    // The left-behind thread is ready now: give it the CPU.
    Duration::from_millis(2).sleep();
    Ok(RAN_LATE.load(Ordering::SeqCst))
}
