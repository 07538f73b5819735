//! The built-in tasks: the EL0 image the kernel embeds. The kernel starts
//! its first task at `_start(mode, boot_vmo)`; by mode it counts or runs the
//! EL0 test suites, runs the demo, or the benchmarks.

#![no_std]
#![no_main]
// The EL0 image has no heap: a failure's text travels on the stack, in a
// fixed line buffer, so test results are larger than clippy likes.
#![allow(clippy::result_large_err, clippy::large_enum_variant)]

mod bench;
mod bench_smp;
mod demo;
mod harness;
mod out;
mod port_demo;
mod stress;
mod suites;

// The checks and the registration macro suites use (`crate::check`, …).
use testkit::{check, check_eq, ok, tests};

use abi::el0::{El0Boot, MODE_BENCH, MODE_COUNT, MODE_RUN, MODE_TEST};
use zx::{Handle, Vmo};

/// Entry of the first task.
#[unsafe(no_mangle)]
#[unsafe(link_section = ".text.entry")]
pub extern "C" fn _start(
    mode: u64,
    boot: abi::Handle,
    _: abi::Handle,
    _: abi::Handle,
    _: abi::Handle,
) -> ! {
    // Boot to the first task's first instruction (the bench's
    // `boot_to_first_task`): one syscall in, before anything else
    // (`just profile` skips this first clock call).
    let entered = (mode == MODE_BENCH).then(zx::Time::get_monotonic);
    let boot_vmo = Vmo::from(Handle::from_raw(boot));
    let mut raw = [0u8; core::mem::size_of::<El0Boot>()];
    let params = match boot_vmo.read(&mut raw, 0) {
        // SAFETY: El0Boot is plain old data of exactly these bytes.
        Ok(()) => unsafe { core::ptr::read_unaligned(raw.as_ptr().cast::<El0Boot>()) },
        Err(_) => zx::exit(-1),
    };
    drop(boot_vmo);
    harness::set_seed(params.seed);
    harness::set_flags(params.flags);
    let filter = params.filter();
    match mode {
        MODE_COUNT => zx::exit(testkit::selected_suites(suites::SUITES, filter) as i64),
        MODE_TEST => {
            let ok = harness::run(suites::SUITES, filter, params.first_suite);
            zx::exit(if ok { 0 } else { 1 })
        }
        MODE_RUN => {
            // What the system does, not the test transcript: one line per
            // suite, then the demo (`mode=test` prints every test as KTAP).
            harness::set_diagnostics(false);
            println!("EL0 suites, each test in a fresh task (mode=test lists every test):");
            let t = harness::summarize(suites::SUITES);
            println!(
                "EL0 suites: {} tests in {} suites: {} passed, {} failed, {} skipped",
                t.passed + t.failed + t.skipped,
                t.suites,
                t.passed,
                t.failed,
                t.skipped
            );
            let demo = demo::run();
            if let Err(e) = demo {
                println!("demo: failed: {e:?}");
            }
            zx::exit(if t.failed == 0 && demo.is_ok() { 0 } else { 1 })
        }
        MODE_BENCH => match bench::boot(filter, entered).and_then(|()| bench::run(filter)) {
            Ok(()) => zx::exit(0),
            Err(e) => {
                println!("bench: failed: {e:?}");
                zx::exit(1)
            }
        },
        _ => zx::exit(-1),
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    println!("    # EL0 panic: {}", info.message());
    if let Some(loc) = info.location() {
        println!("    #   at {}:{}", loc.file(), loc.line());
    }
    zx::exit(101)
}
