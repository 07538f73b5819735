//! The unikernel: a small Zircon for aarch64.
//!
//! `boot.s` enters [`kernel_entry`] at EL1 with the device tree's address.
//! From there: vectors, device tree, console, memory, then what the
//! bootargs ask for (`mode=run` or `mode=test`), then power off.

#![no_std]
#![no_main]

extern crate alloc;

mod arch;
mod board;
mod bootargs;
mod console;
mod devicetree;
mod drivers;
mod kbench;
mod ktest;
mod ktests;
// The checks and the registration macro tests use (`crate::check`, …).
use testkit::{check, check_eq, tests};
mod latency;
mod layout;
mod mm;
mod objects;
mod ports;
mod power;
mod sched;
mod smp;
mod symbols;
mod sync;
mod syscall;
mod task;
mod time;
mod timers;
mod trap;
mod vm;

use bootargs::{BootArgs, Mode};
use devicetree::{Hardware, PhysRange};

/// What boot found, for the rest of the kernel and its tests.
pub struct BootInfo {
    /// The platform from the device tree.
    pub platform: Hardware<'static>,
    /// The exception level the kernel was entered at (1 or 2).
    pub entry_el: u8,
    /// The kernel's command line.
    pub args: BootArgs<'static>,
    /// The kernel heap's memory.
    pub heap: PhysRange,
    /// Where the loader put the image; `boot.s` moved it to its link
    /// address if that differs.
    pub load_address: u64,
}

static BOOT: spin::Once<BootInfo> = spin::Once::new();

/// What boot found. Valid once the kernel has reached its mode.
pub fn boot_info() -> &'static BootInfo {
    BOOT.get().expect("boot info is set before anything runs")
}

/// The heap gets an eighth of RAM, within these bounds.
const HEAP_MIN: u64 = 1 << 20;
const HEAP_MAX: u64 = 64 << 20;

/// Rust entry from `boot.s`: MMU and caches off, interrupts masked, BSS
/// zeroed, on the boot stack, at EL1 with its system registers set
/// (`el1_setup`); `entry_el` says where the CPU started, `load_address`
/// where the loader put the image.
///
/// Until `vm::enable_mmu` returns, nothing may take a lock or do an atomic
/// read-modify-write (`sync`: real cores hang there): the steps before it
/// only read the device tree, program the console UART and build the
/// kernel's map in tables inside the image, and write the console without
/// its lock. A lock taken there stops the boot with a message.
#[unsafe(no_mangle)]
extern "C" fn kernel_entry(dtb: u64, entry_el: u64, load_address: u64) -> ! {
    arch::exception::install_vectors();
    arch::unmask_serror();

    // SAFETY: the boot protocol hands over the device tree's address in x0
    // (an ATAG list on a Pi booted without one); its header is checked
    // before use, and the kernel never writes it.
    let Some(platform) = (unsafe { board::discover(dtb) }) else {
        // Without a device tree there is no console to say so.
        arch::halt();
    };
    let (args, unknown) = BootArgs::parse(platform.bootargs);
    power::configure(platform.psci, args.exit_semihosting, args.reset_on_failure);
    // SAFETY: first use of the console UART (and the Pi's GPIO); the MMU is
    // off, so their registers are device memory.
    if let Some(uart) = unsafe { board::console(&platform) } {
        console::init(uart);
    }
    if let Some(level) = args.log_level {
        console::set_max_level(level);
    }
    if args.breakage == Some(bootargs::Break::PreMmu) {
        warn!("break=premmu: taking a lock before the MMU is on");
        sync::lock_before_mmu_on_purpose();
    }
    vm::enable_mmu(&platform, load_address != layout::image().start);
    // The MMU and caches are on: locks work from here.

    if let Some(word) = unknown {
        warn!("bootargs: ignoring `{word}`");
    }
    let heap = init_memory(&platform);
    vm::init();
    objects::init(arch::counter() ^ args.seed);
    BOOT.call_once(|| BootInfo {
        platform,
        entry_el: entry_el as u8,
        args,
        heap,
        load_address,
    });
    print_banner(boot_info());
    // From here on the boot path is thread 0, and interrupts are on.
    sched::init(&boot_info().platform);
    let cpus = smp::start_secondaries(&boot_info().platform, args.cpus);
    println!("  cpus:        {cpus} running");

    let el0_flags = if args.churn_full {
        abi::el0::FLAG_CHURN_FULL
    } else {
        0
    };
    task::boot::init(el0_flags);
    let status = match args.mode {
        Mode::Run => run_tasks(&args, abi::el0::MODE_RUN),
        Mode::Bench => {
            // The tasks first, so their boot_to_first_task is the boot alone.
            let status = run_tasks(&args, abi::el0::MODE_BENCH);
            kbench::run();
            status
        }
        Mode::Test => {
            let el0_suites = count_el0_suites(&args);
            let el0 = |first: u64| run_el0_suites(&args, first);
            if ktest::run(ktests::SUITES, &args, el0_suites, &el0) {
                power::EXIT_SUCCESS
            } else {
                power::EXIT_TESTS_FAILED
            }
        }
    };
    power::exit(status)
}

/// How many EL0 suites the test filter selects (the first task counts them).
fn count_el0_suites(args: &BootArgs) -> u64 {
    let filter = args.test_filter.unwrap_or("");
    match task::boot::run_first_task(abi::el0::MODE_COUNT, args.seed, filter, 0) {
        Ok(end) if end.state == abi::ZX_TASK_EXITED && end.code >= 0 => end.code as u64,
        Ok(end) => power::fail(&alloc::format!(
            "counting the EL0 suites: the task ended {end:?}"
        )),
        Err(e) => power::fail(&alloc::format!("counting the EL0 suites: {e:?}")),
    }
}

/// Runs the EL0 suites, numbered from `first`; true if all passed.
fn run_el0_suites(args: &BootArgs, first: u64) -> bool {
    let filter = args.test_filter.unwrap_or("");
    match task::boot::run_first_task(abi::el0::MODE_TEST, args.seed, filter, first) {
        Ok(end) => end.state == abi::ZX_TASK_EXITED && end.code == 0,
        Err(e) => {
            error!("running the EL0 suites: {e:?}");
            false
        }
    }
}

/// `mode=run` (the suites and the demo) or `mode=bench` in the first task;
/// `mode=run` ends with a one-line verdict.
fn run_tasks(args: &BootArgs, mode: u64) -> u32 {
    let status =
        match task::boot::run_first_task(mode, args.seed, args.test_filter.unwrap_or(""), 0) {
            Ok(end) if end.state == abi::ZX_TASK_EXITED && end.code == 0 => power::EXIT_SUCCESS,
            Ok(end) => {
                error!("the built-in tasks ended {end:?}");
                power::EXIT_TESTS_FAILED
            }
            Err(e) => {
                error!("starting the built-in tasks: {e:?}");
                power::EXIT_TESTS_FAILED
            }
        };
    if mode == abi::el0::MODE_RUN {
        let secs = arch::counter() / arch::counter_frequency().max(1);
        let millis = arch::counter() * 1000 / arch::counter_frequency().max(1) % 1000;
        match status {
            power::EXIT_SUCCESS => println!(
                "run: passed (every EL0 suite and the demo) in {secs}.{millis:03} s; powering off"
            ),
            _ => println!("run: FAILED (status {status}) in {secs}.{millis:03} s; powering off"),
        }
    }
    status
}

/// Splits free RAM between the heap and the frame allocator; returns the heap's range.
fn init_memory(platform: &Hardware) -> PhysRange {
    let image = PhysRange {
        start: layout::image().start,
        end: layout::image().end,
    };
    let free = mm::available_ram(platform, image);
    let total: u64 = free.as_slice().iter().map(PhysRange::len).sum();
    let want = (total / 8).clamp(HEAP_MIN, HEAP_MAX) & !(mm::PAGE_SIZE - 1);
    let Some(largest) = free.as_slice().iter().max_by_key(|r| r.len()).copied() else {
        power::fail("no free RAM");
    };
    if largest.len() < want {
        power::fail("no free range large enough for the heap");
    }
    let heap = PhysRange::new(largest.start, want);
    mm::frame::init(mm::subtract(&free, heap));
    // SAFETY: `heap` was cut out of free RAM and is given to nothing else.
    unsafe { mm::heap::init(heap) };
    heap
}

fn print_banner(boot: &BootInfo) {
    let p = &boot.platform;
    println!(
        "unikernel {} (aarch64): Zircon VMOs on stage-1 translation",
        env!("CARGO_PKG_VERSION")
    );
    println!("  board:       {}", p.model);
    println!(
        "  exception:   entered at EL{}, running at EL{}",
        boot.entry_el,
        arch::current_el()
    );
    for m in p.memory.as_slice() {
        println!(
            "  memory:      {:#012x}..{:#012x} ({} MiB)",
            m.start,
            m.end,
            m.len() >> 20
        );
    }
    for r in p.reserved.as_slice() {
        println!("  reserved:    {:#012x}..{:#012x}", r.start, r.end);
    }
    let image = layout::image();
    println!(
        "  kernel:      {:#012x}..{:#012x} ({} KiB)",
        image.start,
        image.end,
        (image.end - image.start) >> 10
    );
    if boot.load_address != image.start {
        println!(
            "  relocated:   loaded at {:#012x}, moved to {:#012x}",
            boot.load_address, image.start
        );
    }
    match board::source() {
        board::Source::DeviceTree => println!(
            "  devicetree:  {:#012x}..{:#012x}",
            p.blob.start, p.blob.end
        ),
        board::Source::Atags => println!(
            "  atags:       {:#012x}..{:#012x} (no device tree: built-in {:?} map)",
            p.blob.start,
            p.blob.end,
            board::current()
        ),
    }
    println!(
        "  heap:        {:#012x}..{:#012x} ({} MiB)",
        boot.heap.start,
        boot.heap.end,
        boot.heap.len() >> 20
    );
    println!(
        "  frames:      {} free of {} ({} MiB)",
        mm::frame::free_frames(),
        mm::frame::total_frames(),
        (mm::frame::total_frames() as u64 * mm::PAGE_SIZE) >> 20
    );
    match p.gic {
        Some(devicetree::GicInfo::V2 {
            distributor,
            cpu_interface,
        }) => println!(
            "  gic:         GICv2, GICD {:#x}, GICC {:#x}",
            distributor.start, cpu_interface.start
        ),
        Some(devicetree::GicInfo::V3 {
            distributor,
            redistributors,
        }) => println!(
            "  gic:         GICv3, GICD {:#x}, GICR {:#x}",
            distributor.start, redistributors.start
        ),
        None => println!("  gic:         none found"),
    }
    let freq = arch::counter_frequency();
    match p.timer {
        Some(t) => println!(
            "  timer:       {}.{:03} MHz, virtual PPI {} (INTID {})",
            freq / 1_000_000,
            freq % 1_000_000 / 1000,
            t.virtual_ppi,
            t.virtual_ppi + 16
        ),
        None => println!(
            "  timer:       {}.{:03} MHz, no timer node",
            freq / 1_000_000,
            freq % 1_000_000 / 1000
        ),
    }
    match p.psci.map(|c| (c, c.version())) {
        Some((c, Ok((major, minor)))) => println!("  psci:        {c:?}, version {major}.{minor}"),
        Some((c, Err(e))) => println!("  psci:        {c:?}, version call failed: {e:?}"),
        None => println!("  psci:        none"),
    }
    if let Some(uart) = p.uart {
        println!("  console:     PL011 at {:#x}", uart.start);
    }
    println!("  bootargs:    {}", p.bootargs);
}

static PANICKING: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    use core::sync::atomic::Ordering::Relaxed;
    // Before the MMU is on no read-modify-write may run (`sync`), and one
    // CPU runs: a load and a store do there.
    let again = if arch::mmu_and_caches_on() {
        PANICKING.swap(true, Relaxed)
    } else {
        PANICKING.load(Relaxed) || {
            PANICKING.store(true, Relaxed);
            false
        }
    };
    if again {
        // A panic while reporting a panic: no more reporting, just stop.
        power::exit(power::EXIT_FATAL);
    }
    console::break_lock();
    console::diag(format_args!("kernel panic: {}", info.message()));
    if let Some(loc) = info.location() {
        console::diag(format_args!(
            "  at {}:{}:{}",
            loc.file(),
            loc.line(),
            loc.column()
        ));
    }
    console::diag(format_args!("  backtrace:"));
    arch::backtrace::walk(
        arch::backtrace::current_fp(),
        layout::kernel_stack_around(arch::current_sp()),
        |depth, lr| {
            console::diag(format_args!(
                "    #{depth:<2} {lr:#018x}{}",
                symbols::Name::returning_to(lr)
            ));
        },
    );
    power::exit(power::EXIT_FATAL)
}
