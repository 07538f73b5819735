//! The vectors catch and report synchronous exceptions with the right class.

use crate::arch::esr::Class;
use crate::arch::exception::{catch, Caught};
use crate::ktest::{Failure, Suite, TestResult};
use crate::{check, check_eq, tests};

pub static SUITE: Suite = Suite {
    name: "exceptions",
    tests: tests![
        undefined_instruction_is_reported,
        data_abort_is_reported,
        brk_is_reported,
        svc_is_reported,
        execution_resumes_after_a_caught_exception,
        embedded_symbols_name_the_faulting_function,
    ],
};

/// A function of its own that faults, for the symbol table to name.
#[inline(never)]
/// What `f` raised, caught by the probe; a failure if it raised nothing.
fn caught(f: impl FnOnce()) -> Result<Caught, Failure> {
    catch(f).ok_or_else(|| Failure::Fail("no exception was caught".into()))
}

/// Out of line, so that the report can name it.
#[inline(never)]
fn undefined_instruction_here() {
    // SAFETY: `udf` traps; the probe skips it and execution continues.
    unsafe { core::arch::asm!("udf #0x43", options(nomem, nostack)) };
}

/// A report names the faulting function without the host: the kernel's
/// table (written after the link by `just image`) and the EL0 ELF's
/// symbol table.
fn embedded_symbols_name_the_faulting_function() -> TestResult {
    use crate::symbols::{kernel_table_present, Name};
    check!(
        kernel_table_present(),
        "no kernel symbol table: the image was not made by `just image`"
    );
    let c = caught(undefined_instruction_here)?;
    let mut named = crate::console::LineBuf::new();
    named.push_fmt(format_args!("{}", Name::at(c.elr)));
    check!(
        named
            .as_str()
            .starts_with(" <kernel::ktests::exceptions::undefined_instruction_here+0x"),
        "ELR {:#x} named `{}`",
        c.elr,
        named.as_str()
    );
    let entry = crate::task::image::get().entry;
    let mut named = crate::console::LineBuf::new();
    named.push_fmt(format_args!("{}", Name::at(entry + 4)));
    check_eq!(named.as_str(), " <_start+0x4>");
    Ok(())
}

fn undefined_instruction_is_reported() -> TestResult {
    let c = caught(|| {
        // SAFETY: `udf` traps; the probe skips it and execution continues.
        unsafe { core::arch::asm!("udf #0x42", options(nomem, nostack)) };
    })?;
    check_eq!(c.esr.class(), Some(Class::Unknown));
    check!(
        crate::layout::image().contains(&c.elr),
        "ELR {:#x} outside the kernel",
        c.elr
    );
    Ok(())
}

/// Beyond any physical address the CPU implements: with the MMU off this is
/// an address size fault, with it on a translation fault; a data abort
/// either way.
const UNBACKED: u64 = 1 << 52;

fn data_abort_is_reported() -> TestResult {
    let c = caught(|| {
        let _value: u64;
        // SAFETY: the load aborts; the probe skips it and execution continues.
        unsafe {
            core::arch::asm!("ldr {v}, [{a}]", a = in(reg) UNBACKED, v = out(reg) _value, options(nostack, readonly))
        };
    })?;
    check_eq!(c.esr.class(), Some(Class::DataAbortCurrentEL));
    check_eq!(c.far, UNBACKED);
    check!(!c.esr.is_write());
    check!(c.esr.fault_status().is_some());
    Ok(())
}

fn brk_is_reported() -> TestResult {
    let c = caught(|| {
        // SAFETY: `brk` traps; the probe skips it and execution continues.
        unsafe { core::arch::asm!("brk #0x77", options(nomem, nostack)) };
    })?;
    check_eq!(c.esr.class(), Some(Class::Brk64));
    check_eq!(c.esr.iss() & 0xffff, 0x77);
    Ok(())
}

fn svc_is_reported() -> TestResult {
    let c = caught(|| {
        // SAFETY: `svc` at EL1 traps to EL1's own vector; the probe returns past it.
        unsafe { core::arch::asm!("svc #0x5", options(nomem, nostack)) };
    })?;
    check_eq!(c.esr.class(), Some(Class::SVC64));
    check_eq!(c.esr.iss() & 0xffff, 5);
    Ok(())
}

/// Registers survive the trip through the vectors: values live across the
/// trapping instruction come back intact.
fn execution_resumes_after_a_caught_exception() -> TestResult {
    let (mut a, mut b) = (0x1111_2222_3333_4444u64, 0x5555_6666_7777_8888u64);
    let caught = catch(|| {
        // SAFETY: `udf` traps and is skipped; x9/x10 are declared in-out.
        unsafe {
            core::arch::asm!(
                "udf #1",
                "add x9, x9, #1",
                "add x10, x10, #2",
                inout("x9") a,
                inout("x10") b,
                options(nomem, nostack)
            )
        };
    });
    check!(caught.is_some());
    check_eq!(a, 0x1111_2222_3333_4445);
    check_eq!(b, 0x5555_6666_7777_888a);
    a = 0;
    b = 0;
    check_eq!(a + b, 0);
    Ok(())
}
