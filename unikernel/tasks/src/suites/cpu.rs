//! What EL0 may do with the CPU itself, the same on every board and entry
//! path (the kernel sets `SCTLR_EL1`, `CNTKCTL_EL1`, `PMUSERENR_EL0`
//! explicitly; reset values differ between QEMU's EL1 entry and a drop
//! from EL2): `WFE`, the virtual counter, unaligned loads, `DC ZVA` and
//! cache maintenance of its own code run; `WFI`, the physical counter, the
//! timers, the PMU and the interrupt mask end the task. The kernel's own
//! page and bulk copies use `q` registers and must leave the task's intact.

use super::util::vregs_kept_across;
use crate::harness::{run_in_task, Suite, TestResult};
use crate::{check, check_eq, ok, tests};
use core::arch::asm;
use zx::{AsHandleRef, Status, TaskEnd, Vmar, VmarFlags, Vmo, VmoChildOptions};

pub static SUITE: Suite = Suite {
    name: "el0_cpu",
    tests: tests![
        system_get_num_cpus_counts_the_cpus_running,
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
        simd_registers_survive_kernel_page_and_large_copies,
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

/// Reads the system register `$reg` in a task: fails unless the kernel
/// traps the read and ends the task (`EC_SYSREG`).
macro_rules! reading_ends_the_task {
    ($reg:literal) => {
        ends_with_class(
            || {
                // SAFETY: a register read; the kernel traps it.
                unsafe { asm!(concat!("mrs {}, ", $reg), out(reg) _, options(nomem, nostack)) }
            },
            EC_SYSREG,
        )
    };
}

fn physical_counter_ends_the_task() -> TestResult {
    reading_ends_the_task!("cntpct_el0")
}

fn virtual_timer_registers_end_the_task() -> TestResult {
    reading_ends_the_task!("cntv_ctl_el0")
}

fn performance_counters_end_the_task() -> TestResult {
    reading_ends_the_task!("pmccntr_el0")
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

const PAGE: u64 = abi::PAGE_SIZE;

/// The 32 `q` registers' worth of bytes.
#[repr(C, align(16))]
struct VRegs([u8; 512]);

/// With v0–v31 holding a pattern, one asm block takes a copy-on-write
/// fault (the kernel's page copy), a 4 KiB `vmo_write` and a `vmo_read`
/// that faults half-way into an unmapped page (the kernel's `q`-register
/// usercopy, and its fault exit), then stores v0–v31: they must be as loaded.
fn simd_registers_survive_kernel_page_and_large_copies() -> TestResult {
    let vmar = Vmar::root_self();
    // A copy-on-write child of a written page, mapped: its first write copies.
    let parent = ok!(Vmo::create(PAGE));
    ok!(parent.write(&[0x5a; PAGE as usize], 0));
    let child = ok!(parent.create_child(VmoChildOptions::COPY_ON_WRITE, 0, PAGE));
    let cow = ok!(vmar.map(0, &child, 0, PAGE, VmarFlags::RW));
    // Two pages of buffer, then a hole where a third was.
    let buf_vmo = ok!(Vmo::create(3 * PAGE));
    let buf = ok!(vmar.map(0, &buf_vmo, 0, 3 * PAGE, VmarFlags::RW));
    ok!(vmar.unmap(buf + 2 * PAGE, PAGE));
    for i in 0..PAGE {
        // SAFETY: the first page of `buf` is mapped read-write and ours.
        unsafe { ((buf + i) as *mut u8).write_volatile((i * 13 + 1) as u8) };
    }
    let io = ok!(Vmo::create(2 * PAGE));
    let mut pattern = VRegs([0; 512]);
    for (i, b) in pattern.0.iter_mut().enumerate() {
        *b = (i * 7 + 3) as u8 | 1;
    }
    let mut seen = VRegs([0; 512]);
    let (written, read): (u64, u64);
    // SAFETY: loads and stores 512 bytes of our own buffers; the store to
    // `cow` hits our read-write mapping; the syscalls get our handle and
    // buffers (the read's tail is unmapped on purpose: the kernel fails
    // it). Every register the block changes is declared.
    unsafe {
        vregs_kept_across!(
            load = pattern.0.as_ptr(),
            store = seen.0.as_mut_ptr(),
            [
                "strb {one:w}, [{cow}]",
                "mov x0, {h}",
                "mov x1, {buf}",
                "mov x2, #0",
                "mov x3, #4096",
                "mov x16, #{nr_write}",
                "svc #0",
                "mov {written}, x0",
                "mov x0, {h}",
                "add x1, {buf}, #1, lsl #12",
                "add x1, x1, #2048",
                "mov x2, #0",
                "mov x3, #4096",
                "mov x16, #{nr_read}",
                "svc #0",
                "mov {read}, x0",
            ],
            one = in(reg) 1u64,
            cow = in(reg) cow,
            h = in(reg) io.raw_handle() as u64,
            buf = in(reg) buf,
            nr_write = const abi::Syscall::VmoWrite as u64,
            nr_read = const abi::Syscall::VmoRead as u64,
            written = out(reg) written,
            read = out(reg) read,
            out("x0") _, out("x1") _, out("x2") _, out("x3") _, out("x16") _,
        );
    }
    let seen = core::hint::black_box(&seen);
    let differ = (0..32)
        .filter(|r| seen.0[r * 16..r * 16 + 16] != pattern.0[r * 16..r * 16 + 16])
        .count();
    check_eq!(differ, 0);
    // The copies did their work: the child's page, the written data.
    check_eq!(Status(abi::Status(written as i32)), Status::OK);
    check!(
        Status(abi::Status(read as i32)) != Status::OK,
        "a read into a hole succeeded"
    );
    let mut page = [0u8; 2];
    ok!(child.read(&mut page, 0));
    check_eq!(page, [1, 0x5a]);
    let mut back = [0u8; PAGE as usize];
    ok!(io.read(&mut back, 0));
    let wrong = (0..PAGE as usize)
        .filter(|&i| back[i] != (i * 13 + 1) as u8)
        .count();
    check_eq!(wrong, 0);
    ok!(vmar.unmap(cow, PAGE));
    ok!(vmar.unmap(buf, 2 * PAGE));
    Ok(())
}

/// `zx_system_get_num_cpus` (it cannot fail): at least the one running
/// this, no more than the kernel brings up, the same on every call, and
/// arguments change nothing.
fn system_get_num_cpus_counts_the_cpus_running() -> TestResult {
    let n = zx::system_get_num_cpus();
    check!((1..=4).contains(&n), "{n} CPUs");
    // SAFETY: the call takes no arguments and writes nothing.
    let junk = unsafe { zx::sys::call(abi::Syscall::SystemGetNumCpus, [u64::MAX; 8]) };
    check_eq!(junk, u64::from(n));
    check_eq!(zx::system_get_num_cpus(), n);
    Ok(())
}
