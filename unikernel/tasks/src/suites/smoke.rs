//! The trap and the simplest calls work from EL0.

use super::util::bytes_at;
use crate::harness::{run_in_task, Suite, Test, TestResult};
use crate::{check, check_eq, ok};
use zx::{AsHandleRef, Status, TaskEnd, Vmo};

pub static SUITE: Suite = Suite {
    name: "el0_smoke",
    tests: &[
        Test {
            name: "null_syscall_returns_ok",
            run: null_syscall_returns_ok,
        },
        Test {
            name: "unknown_syscall_is_bad_syscall",
            run: unknown_syscall_is_bad_syscall,
        },
        Test {
            name: "an_unnamed_number_inside_the_table_is_bad_syscall",
            run: an_unnamed_number_inside_the_table_is_bad_syscall,
        },
        Test {
            name: "out_parameters_land_exactly_at_every_alignment",
            run: out_parameters_land_exactly_at_every_alignment,
        },
        Test {
            name: "vmo_write_then_read_round_trips",
            run: vmo_write_then_read_round_trips,
        },
        Test {
            name: "clock_advances",
            run: clock_advances,
        },
        Test {
            name: "touching_kernel_memory_ends_the_task",
            run: touching_kernel_memory_ends_the_task,
        },
        Test {
            name: "a_report_with_a_line_break_prints_as_one_line",
            run: a_report_with_a_line_break_prints_as_one_line,
        },
    ],
};

fn null_syscall_returns_ok() -> TestResult {
    check_eq!(zx::null_syscall(), Status::OK);
    Ok(())
}

fn unknown_syscall_is_bad_syscall() -> TestResult {
    // SAFETY: no pointers are passed.
    let r = unsafe { zx::sys::call_raw(0xdead, [0; 8]) } as i32;
    check_eq!(Status(abi::Status(r)), Status::BAD_SYSCALL);
    Ok(())
}

fn an_unnamed_number_inside_the_table_is_bad_syscall() -> TestResult {
    // 4..9 lie between HandleReplace (3) and VmoCreate (10): the table's
    // gaps answer BAD_SYSCALL as a number past its end does.
    for n in 4..10 {
        // SAFETY: no pointers are passed.
        let r = unsafe { zx::sys::call_raw(n, [0; 8]) } as i32;
        check_eq!(Status(abi::Status(r)), Status::BAD_SYSCALL);
    }
    Ok(())
}

/// A 4-byte (`object_wait_one`'s observed signals) and an 8-byte
/// (`vmo_get_size`'s size) out-parameter written at every offset of a
/// buffer: aligned ones take the kernel's one-store copy, the others its
/// byte loop; each writes exactly its bytes, little-endian.
fn out_parameters_land_exactly_at_every_alignment() -> TestResult {
    let event = ok!(zx::Event::create());
    ok!(event.signal_handle(zx::Signals::NONE, zx::Signals::USER_0));
    let vmo = ok!(Vmo::create(0x0102_3000));
    #[repr(align(16))]
    struct Buf([u8; 32]);
    for (len, number, args) in [
        (
            4usize,
            abi::Syscall::ObjectWaitOne,
            [u64::from(abi::ZX_USER_SIGNAL_0), 0],
        ),
        (8, abi::Syscall::VmoGetSize, [0, 0]),
    ] {
        for offset in 0..16 {
            let mut buf = Buf([0xa5; 32]);
            let out = buf.0.as_mut_ptr().wrapping_add(offset) as u64;
            let call = match number {
                abi::Syscall::ObjectWaitOne => {
                    [event.raw_handle() as u64, args[0], args[1], out, 0, 0, 0, 0]
                }
                _ => [vmo.raw_handle() as u64, out, 0, 0, 0, 0, 0, 0],
            };
            // SAFETY: `out` points into `buf` with at least `len` bytes
            // after it.
            let r = unsafe { zx::sys::call_raw(number as u64, call) } as i32;
            check_eq!(r, 0);
            let buf = core::hint::black_box(&buf.0);
            let want: u64 = if len == 4 {
                u64::from(abi::ZX_USER_SIGNAL_0)
            } else {
                0x0102_3000
            };
            for (i, &b) in buf.iter().enumerate() {
                let expected = if (offset..offset + len).contains(&i) {
                    want.to_le_bytes()[i - offset]
                } else {
                    0xa5
                };
                check_eq!(b, expected);
            }
        }
    }
    Ok(())
}

fn vmo_write_then_read_round_trips() -> TestResult {
    let vmo = ok!(Vmo::create(8192));
    ok!(vmo.write(b"hello", 4094));
    check_eq!(ok!(bytes_at(&vmo, 4094)), *b"hello");
    Ok(())
}

fn clock_advances() -> TestResult {
    let a = zx::Time::get_monotonic();
    zx::Duration::from_millis(1).sleep();
    let b = zx::Time::get_monotonic();
    check!(
        b.into_nanos() >= a.into_nanos() + 1_000_000,
        "{a:?} then {b:?}"
    );
    Ok(())
}

fn touching_kernel_memory_ends_the_task() -> TestResult {
    let end = ok!(run_in_task(|| {
        // SAFETY: deliberately reads kernel memory; the kernel ends this task.
        unsafe { core::ptr::read_volatile(0x4008_0000 as *const u64) };
    }));
    check_eq!(end.fault_class(), Some(0x24));
    check!(matches!(
        end,
        TaskEnd::Faulted {
            far: 0x4008_0000,
            ..
        }
    ));
    Ok(())
}

/// A failure text with a line break in it (`stringify!` wraps long
/// expressions) must still reach the console: it refuses a break inside a line.
fn a_report_with_a_line_break_prints_as_one_line() -> TestResult {
    let line = crate::out::format(format_args!("# {}", "left\nright\r"));
    check_eq!(line.as_str(), "# left right ");
    // Printed only where tests' diagnostics are (not in mode=run's story).
    if crate::harness::diagnostics() {
        check_eq!(
            zx::console_write(line.as_str()),
            Ok(()),
            "the console takes it"
        );
    }
    check_eq!(
        zx::console_write("# left\nright"),
        Err(Status::INVALID_ARGS),
        "raw"
    );
    Ok(())
}
