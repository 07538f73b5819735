//! What EL0 may do with the CPU itself, the same on every board and entry
//! path (the kernel sets `SCTLR_EL1`, `CNTKCTL_EL1`, `PMUSERENR_EL0`
//! explicitly; reset values differ between QEMU's EL1 entry and a drop
//! from EL2): `WFE`, the virtual counter, unaligned loads, `DC ZVA` and
//! cache maintenance of its own code run; `WFI`, the physical counter, the
//! timers, the PMU and the interrupt mask end the task.

use crate::harness::{run_in_task, Suite, TestResult};
use crate::{check, check_eq, ok, tests};
use core::arch::asm;
use zx::TaskEnd;

pub static SUITE: Suite = Suite {
    name: "el0_cpu",
    tests: tests![
        wfi_ends_the_task,
        wfe_runs,
        virtual_counter_is_readable,
        physical_counter_ends_the_task,
        virtual_timer_registers_end_the_task,
        performance_counters_end_the_task,
        masking_interrupts_ends_the_task,
        unaligned_load_works,
        dc_zva_zeroes_a_block,
        cache_maintenance_of_own_code_runs,
    ],
};

/// `WFx` trapped (ESR exception class).
const EC_WFX: u8 = 0x01;
/// `MSR`/`MRS`/system instruction trapped.
const EC_SYSREG: u8 = 0x18;

/// A helper task that runs `f` ended with exception class `ec`, at `f`'s
/// own instruction (not some fault of the test's making).
fn ends_with_class(f: fn(), ec: u8) -> TestResult {
    let end = ok!(run_in_task(f));
    check_eq!(end.fault_class(), Some(ec));
    Ok(())
}

/// A helper task that runs `f` exited normally (`f` exits non-zero itself
/// if what it saw was wrong).
fn runs_to_the_end(f: fn()) -> TestResult {
    let end = ok!(run_in_task(f));
    check_eq!(end, TaskEnd::Exited(0));
    Ok(())
}

fn wfi_ends_the_task() -> TestResult {
    ends_with_class(
        || {
            // SAFETY: WFI has no effect on memory; the kernel traps it.
            unsafe { asm!("wfi", options(nomem, nostack)) }
        },
        EC_WFX,
    )
}

/// `WFE` after `SEVL` completes at EL0 without ending the task. (The
/// architecture traps a `WFE` only when it would wait, and QEMU never
/// waits or traps on one, so this cannot tell `nTWE` apart; it checks the
/// instruction stays usable as a spin-wait hint.)
fn wfe_runs() -> TestResult {
    runs_to_the_end(|| {
        // SAFETY: SEVL sets this CPU's event register, so the WFE that
        // follows returns at once (if it is not trapped).
        unsafe { asm!("sevl", "wfe", options(nomem, nostack)) }
    })
}

fn virtual_counter_is_readable() -> TestResult {
    runs_to_the_end(|| {
        let (a, b, freq): (u64, u64, u64);
        // SAFETY: reading the virtual counter and its frequency has no effect.
        unsafe {
            asm!(
                "mrs {a}, cntvct_el0",
                "isb",
                "mrs {b}, cntvct_el0",
                "mrs {f}, cntfrq_el0",
                a = out(reg) a, b = out(reg) b, f = out(reg) freq,
                options(nomem, nostack),
            )
        };
        if b < a || freq == 0 {
            zx::exit(1);
        }
    })
}

fn physical_counter_ends_the_task() -> TestResult {
    ends_with_class(
        || {
            // SAFETY: a register read; the kernel traps it.
            unsafe { asm!("mrs {}, cntpct_el0", out(reg) _, options(nomem, nostack)) }
        },
        EC_SYSREG,
    )
}

fn virtual_timer_registers_end_the_task() -> TestResult {
    ends_with_class(
        || {
            // SAFETY: a register read; the kernel traps it.
            unsafe { asm!("mrs {}, cntv_ctl_el0", out(reg) _, options(nomem, nostack)) }
        },
        EC_SYSREG,
    )
}

fn performance_counters_end_the_task() -> TestResult {
    ends_with_class(
        || {
            // SAFETY: a register read; the kernel traps it.
            unsafe { asm!("mrs {}, pmccntr_el0", out(reg) _, options(nomem, nostack)) }
        },
        EC_SYSREG,
    )
}

fn masking_interrupts_ends_the_task() -> TestResult {
    ends_with_class(
        || {
            // SAFETY: would mask IRQs at EL0; the kernel traps it.
            unsafe { asm!("msr daifset, #2", options(nomem, nostack)) }
        },
        EC_SYSREG,
    )
}

/// A cache line's worth of bytes, aligned to it.
#[repr(C, align(64))]
struct Line([u8; 64]);

fn unaligned_load_works() -> TestResult {
    let mut line = Line([0; 64]);
    for (i, b) in line.0.iter_mut().enumerate() {
        *b = i as u8;
    }
    let addr = line.0.as_ptr() as u64 + 3;
    let word: u64;
    // SAFETY: reads bytes 3..11 of `line`, which is ours; one LDR, whatever
    // the compiler would make of an unaligned read.
    unsafe {
        asm!("ldr {w}, [{a}]", a = in(reg) addr, w = out(reg) word, options(readonly, nostack))
    };
    check_eq!(word, u64::from_le_bytes([3, 4, 5, 6, 7, 8, 9, 10]));
    Ok(())
}

/// Room for the largest `DC ZVA` block (2 KiB), aligned to it.
#[repr(C, align(2048))]
struct Block([u8; 2048]);

fn dc_zva_zeroes_a_block() -> TestResult {
    let dczid: u64;
    // SAFETY: DCZID_EL0 is always readable at EL0.
    unsafe { asm!("mrs {}, dczid_el0", out(reg) dczid, options(nomem, nostack)) };
    check!(
        dczid & (1 << 4) == 0,
        "DC ZVA prohibited: DCZID_EL0 {dczid:#x}"
    );
    let size = 4usize << (dczid & 0xf);
    check!(size <= 2048, "DC ZVA block of {size} bytes");
    let mut block = Block([0xa5; 2048]);
    let addr = block.0.as_mut_ptr() as u64;
    // SAFETY: zeroes `size` bytes at `addr`, inside `block`, which is ours.
    unsafe { asm!("dc zva, {}", in(reg) addr, options(nostack)) };
    let block = core::hint::black_box(&block);
    check!(block.0[..size].iter().all(|&b| b == 0), "block not zeroed");
    check!(
        block.0[size..].iter().all(|&b| b == 0xa5),
        "zeroed past the block"
    );
    Ok(())
}

fn cache_maintenance_of_own_code_runs() -> TestResult {
    runs_to_the_end(|| {
        let code = cache_maintenance_of_own_code_runs as *const () as u64;
        let ctr: u64;
        // SAFETY: reads CTR_EL0, then cleans and invalidates the caches for
        // this task's own (readable) code: no visible effect.
        unsafe {
            asm!(
                "mrs {ctr}, ctr_el0",
                "dc cvau, {a}",
                "dsb ish",
                "ic ivau, {a}",
                "dsb ish",
                "isb",
                ctr = out(reg) ctr, a = in(reg) code,
                options(nostack),
            )
        };
        if ctr == 0 {
            zx::exit(1);
        }
    })
}
