//! `mode=bench`: operations timed in guest nanoseconds (under
//! `-icount shift=0,sleep=off`, one per instruction), each as the minimum
//! and median over [`REPS`] repetitions of a batch of operations. One line
//! per operation: `bench <name> ops=<n> reps=<r> min_ns=<x> median_ns=<y>`.

use crate::println;
use zx::{
    AsHandleRef, Event, Signals, Status, Task, Thread, Time, Vmar, VmarFlags, Vmo, VmoChildOptions,
};

/// Repetitions of each batch.
const REPS: usize = 7;
const PAGE: u64 = abi::PAGE_SIZE;

fn now() -> i64 {
    Time::get_monotonic().into_nanos()
}

/// Runs `batch` `REPS` times (it returns the guest ns its `ops` took) and
/// prints the per-operation minimum and median.
fn bench(
    name: &str,
    ops: u64,
    mut batch: impl FnMut() -> Result<i64, Status>,
) -> Result<(), Status> {
    let mut per_op = [0u64; REPS];
    for slot in per_op.iter_mut() {
        *slot = batch()?.max(0) as u64 / ops;
    }
    per_op.sort_unstable();
    println!(
        "bench {name} ops={ops} reps={REPS} min_ns={} median_ns={}",
        per_op[0],
        per_op[REPS / 2]
    );
    Ok(())
}

/// Times `ops` calls of `op`.
fn timed(ops: u64, mut op: impl FnMut() -> Result<(), Status>) -> Result<i64, Status> {
    let start = now();
    for _ in 0..ops {
        op()?;
    }
    Ok(now() - start)
}

fn poke(addr: u64) {
    // SAFETY: `addr` lies in a writable mapping made by the benchmark.
    unsafe { core::ptr::write_volatile(addr as *mut u8, 1) }
}

fn peek(addr: u64) -> u8 {
    // SAFETY: `addr` lies in a readable mapping made by the benchmark.
    unsafe { core::ptr::read_volatile(addr as *const u8) }
}

#[repr(C, align(64))]
struct PageBuf([u8; PAGE as usize]);

/// Copies a page with NEON: 256 bytes per iteration in q-register pairs.
fn neon_copy(dst: &mut PageBuf, src: &PageBuf) {
    // SAFETY: both buffers are 4 KiB; the loop touches exactly those bytes.
    unsafe {
        core::arch::asm!(
            "mov {n}, #16",
            "2:",
            "ldp q0, q1, [{s}, #0]",
            "ldp q2, q3, [{s}, #32]",
            "ldp q4, q5, [{s}, #64]",
            "ldp q6, q7, [{s}, #96]",
            "stp q0, q1, [{d}, #0]",
            "stp q2, q3, [{d}, #32]",
            "stp q4, q5, [{d}, #64]",
            "stp q6, q7, [{d}, #96]",
            "ldp q0, q1, [{s}, #128]",
            "ldp q2, q3, [{s}, #160]",
            "ldp q4, q5, [{s}, #192]",
            "ldp q6, q7, [{s}, #224]",
            "stp q0, q1, [{d}, #128]",
            "stp q2, q3, [{d}, #160]",
            "stp q4, q5, [{d}, #192]",
            "stp q6, q7, [{d}, #224]",
            "add {s}, {s}, #256",
            "add {d}, {d}, #256",
            "subs {n}, {n}, #1",
            "b.ne 2b",
            s = inout(reg) src.0.as_ptr() => _,
            d = inout(reg) dst.0.as_mut_ptr() => _,
            n = out(reg) _,
            out("v0") _, out("v1") _, out("v2") _, out("v3") _,
            out("v4") _, out("v5") _, out("v6") _, out("v7") _,
            options(nostack),
        );
    }
}

/// Pages touched per fault batch.
const FAULT_PAGES: u64 = 64;

/// A parent with every page written, a copy-on-write child of it, the
/// child mapped: for the copy-on-write and read-through faults.
fn mapped_child() -> Result<(Vmo, Vmo, u64), Status> {
    let parent = Vmo::create(FAULT_PAGES * PAGE)?;
    for i in 0..FAULT_PAGES {
        parent.write(&[1], i * PAGE)?;
    }
    let child = parent.create_child(VmoChildOptions::COPY_ON_WRITE, 0, FAULT_PAGES * PAGE)?;
    let addr = Vmar::root_self().map(0, &child, 0, FAULT_PAGES * PAGE, VmarFlags::RW)?;
    Ok((parent, child, addr))
}

/// Times one `touch` of each of the [`FAULT_PAGES`] pages mapped at
/// `addr` (each takes one fault), then unmaps them.
fn touch_each_page(addr: u64, touch: fn(u64)) -> Result<i64, Status> {
    let mut page = addr;
    let t = timed(FAULT_PAGES, || {
        touch(page);
        page += PAGE;
        Ok(())
    });
    unmap(addr, FAULT_PAGES * PAGE)?;
    t
}

/// Frames the kernel's idle threads have zeroed ahead of time, now.
fn zeroed_frames() -> Result<u64, Status> {
    Ok(zx::kernel_counters(&*Vmar::root_self())?.zeroed_frames)
}

/// Sleeps (so the idle thread runs and zeroes frames) until at least
/// `want` frames are pre-zeroed.
fn warm_pool(want: u64) -> Result<(), Status> {
    for _ in 0..1000 {
        if zeroed_frames()? >= want {
            return Ok(());
        }
        Time::after(zx::Duration::from_micros(100)).sleep();
    }
    Err(Status::TIMED_OUT)
}

/// Most pages the drain before [`zero_fill_pool_empty`]'s timed faults
/// may take.
const DRAIN_PAGES: u64 = 4096;

/// Zero-fill faults with no pre-zeroed frame left (faults outrunning the
/// idle thread): untimed faults empty the pools first, without sleeping,
/// then [`FAULT_PAGES`] more are timed.
fn zero_fill_pool_empty() -> Result<i64, Status> {
    let pages = DRAIN_PAGES + FAULT_PAGES;
    let vmo = Vmo::create(pages * PAGE)?;
    let addr = Vmar::root_self().map(0, &vmo, 0, pages * PAGE, VmarFlags::RW)?;
    let mut page = addr;
    let end = addr + DRAIN_PAGES * PAGE;
    loop {
        let left = zeroed_frames()?;
        if left == 0 {
            break;
        }
        for _ in 0..left {
            if page == end {
                return Err(Status::BAD_STATE);
            }
            poke(page);
            page += PAGE;
        }
    }
    let t = timed(FAULT_PAGES, || {
        poke(page);
        page += PAGE;
        Ok(())
    });
    unmap(addr, pages * PAGE)?;
    t
}

fn unmap(addr: u64, len: u64) -> Result<(), Status> {
    Vmar::root_self().unmap(addr, len)
}

/// The thread of the wake-up benchmark: waits for `USER_0` on the event
/// `e`, then clears it and sets `USER_1` in one call, forever (closing the
/// event ends its wait, and it exits).
extern "C" fn ponger(e: u64, _: u64) -> ! {
    let e = core::mem::ManuallyDrop::new(Event::from(zx::Handle::from_raw(e as abi::Handle)));
    loop {
        if e.wait_handle(Signals::USER_0, Time::INFINITE).is_err() {
            Thread::exit();
        }
        let _ = e.signal_handle(Signals::USER_0, Signals::USER_1);
    }
}

/// Boot to the first task's first instruction: the monotonic clock (the
/// counter from reset) read there, one sample (a boot happens once).
pub fn boot(filter: &str, entered: Option<Time>) -> Result<(), Status> {
    let entered = entered.ok_or(Status::BAD_STATE)?;
    if "boot_to_first_task".contains(filter) {
        let ns = entered.into_nanos();
        println!("bench boot_to_first_task ops=1 reps=1 min_ns={ns} median_ns={ns}");
    }
    Ok(())
}

/// Runs every benchmark whose name contains `filter`.
pub fn run(filter: &str) -> Result<(), Status> {
    let bench = |name: &str, ops: u64, batch: &mut dyn FnMut() -> Result<i64, Status>| {
        if name.contains(filter) {
            bench(name, ops, batch)
        } else {
            Ok(())
        }
    };
    bench("null_syscall", 2000, &mut || {
        timed(2000, || Status::ok(zx::null_syscall().0))
    })?;

    let src = PageBuf([7; PAGE as usize]);
    let mut dst = PageBuf([0; PAGE as usize]);
    bench("el0_neon_copy_4k", 500, &mut || {
        timed(500, || {
            neon_copy(&mut dst, &src);
            Ok(())
        })
    })?;

    bench("zero_fill_fault_warm", FAULT_PAGES, &mut || {
        // The idle thread zeroes frames ahead while this task sleeps.
        warm_pool(2 * FAULT_PAGES)?;
        let vmo = Vmo::create(FAULT_PAGES * PAGE)?;
        let addr = Vmar::root_self().map(0, &vmo, 0, FAULT_PAGES * PAGE, VmarFlags::RW)?;
        touch_each_page(addr, poke)
    })?;

    bench(
        "zero_fill_fault_empty",
        FAULT_PAGES,
        &mut zero_fill_pool_empty,
    )?;

    bench("cow_fault", FAULT_PAGES, &mut || {
        let (_parent, _child, addr) = mapped_child()?;
        touch_each_page(addr, poke)
    })?;

    bench("read_fault_through_child", FAULT_PAGES, &mut || {
        let (_parent, _child, addr) = mapped_child()?;
        touch_each_page(addr, |a| {
            core::hint::black_box(peek(a));
        })
    })?;

    scale(filter, &bench)?;

    for (name, size) in [
        ("create_child_4k", PAGE),
        ("create_child_1g", 1 << 30),
        ("create_child_1t", 1 << 40),
    ] {
        let parent = Vmo::create(size)?;
        parent.write(&[1], 0)?;
        bench(name, 200, &mut || {
            timed(200, || {
                parent
                    .create_child(VmoChildOptions::COPY_ON_WRITE, 0, size)
                    .map(drop)
            })
        })?;
    }

    for (name, depth) in [
        ("vmo_read_4k_chain_1", 1),
        ("vmo_read_4k_chain_8", 8),
        ("vmo_read_4k_chain_64", 64),
    ] {
        let root = Vmo::create(PAGE)?;
        root.write(&[3; PAGE as usize], 0)?;
        // The chain is held on the stack: each link keeps its parent's view.
        let mut chain: [Option<Vmo>; 64] = [const { None }; 64];
        for d in 0..depth {
            let parent = if d == 0 {
                &root
            } else {
                chain[d - 1].as_ref().ok_or(Status::INTERNAL)?
            };
            chain[d] = Some(parent.create_child(VmoChildOptions::COPY_ON_WRITE, 0, PAGE)?);
        }
        let leaf = chain[depth - 1].as_ref().ok_or(Status::INTERNAL)?;
        let mut buf = PageBuf([0; PAGE as usize]);
        bench(name, 200, &mut || timed(200, || leaf.read(&mut buf.0, 0)))?;
    }

    for (name, size) in [("vmar_map_unmap_4k", PAGE), ("vmar_map_unmap_1g", 1 << 30)] {
        let vmo = Vmo::create(size)?;
        let vmar = Vmar::root_self();
        bench(name, 200, &mut || {
            timed(200, || {
                let addr = vmar.map(0, &vmo, 0, size, VmarFlags::RW)?;
                vmar.unmap(addr, size)
            })
        })?;
    }

    // Placement among many mappings: the same map+unmap in a sub-VMAR
    // already holding `n` one-page mappings (of another VMO), the new one
    // going past all of them, or into the free first page in front.
    for (name, n, front) in [
        ("vmar_map_unmap_4k_n1", 1, false),
        ("vmar_map_unmap_4k_n4096", 4096, false),
        ("vmar_map_front_4k_n1", 1, true),
        ("vmar_map_front_4k_n4096", 4096, true),
    ] {
        if name.contains(filter) {
            map_among(name, n, front)?;
        }
    }

    for (name, h) in [("task_exit_h16", 16), ("task_exit_h4094", 4094)] {
        if name.contains(filter) {
            bench(name, h, &mut || task_exit_with(h))?;
        }
    }

    let event = Event::create()?;
    event.signal_handle(Signals::NONE, Signals::EVENT_SIGNALED)?;
    bench("wait_one_signaled_event", 2000, &mut || {
        timed(2000, || {
            event
                .wait_handle(Signals::EVENT_SIGNALED, Time::INFINITE)
                .map(drop)
        })
    })?;

    if "signal_wakeup".contains(filter) {
        wake_up()?;
    }
    let port = zx::Port::create()?;
    let packet = zx::Packet::from_user_packet(1, 0, zx::UserPacket::default());
    bench("port_queue_wait", 2000, &mut || {
        timed(2000, || {
            port.queue(&packet)?;
            port.wait(Time::INFINITE).map(drop)
        })
    })?;
    drop(port);
    if "signal_port_wait".contains(filter) {
        signal_to_port_wait()?;
    }
    if "signal_wakeup_across_tasks".contains(filter) {
        wake_up_across_tasks()?;
    }
    if "nanosleep_1ms_lateness".contains(filter) {
        sleep_lateness()?;
    }
    if "irq_masked_max_stress sleep_1ms_late_stress".contains(filter) {
        under_stress()?;
    }
    // Rows that need several CPUs (none on one).
    crate::bench_smp::run(filter)
}

/// A benchmark as [`run`] filters it.
type Bench<'a> =
    dyn Fn(&str, u64, &mut dyn FnMut() -> Result<i64, Status>) -> Result<(), Status> + 'a;

/// Other mappings of the faulting VMO (never touched) in the `_m` row.
const SCALE_MAPPINGS: u64 = 4096;
/// Copy-on-write children of the faulting VMO (never mapped) in the `_c` row,
/// and siblings of the child created and closed in `create_child_close_c2048`.
const SCALE_CHILDREN: usize = 2048;

/// Costs that must not grow with unrelated state (each against the same
/// operation measured the same way without it, `…_m0` or the plain row):
/// a zero-fill fault in a VMO with [`SCALE_MAPPINGS`] other mappings or
/// [`SCALE_CHILDREN`] children; create_child + close beside
/// [`SCALE_CHILDREN`] siblings; map + unmap of a VMO mapped
/// [`SCALE_MAPPINGS`] times elsewhere. The faulting VMO is reused (its
/// pages decommitted before each batch, outside the timing) in all three
/// zero-fill rows alike, so they take frames the same way.
fn scale(filter: &str, bench: &Bench) -> Result<(), Status> {
    let want = |name: &str| name.contains(filter);
    let root = Vmar::root_self();
    let vmo = Vmo::create(FAULT_PAGES * PAGE)?;
    let zero_fill = |name: &str| {
        bench(name, FAULT_PAGES, &mut || {
            vmo.op_range(zx::VmoOp::DECOMMIT, 0, FAULT_PAGES * PAGE)?;
            let addr = root.map(0, &vmo, 0, FAULT_PAGES * PAGE, VmarFlags::RW)?;
            touch_each_page(addr, poke)
        })
    };
    zero_fill("zero_fill_fault_m0")?;
    // The other mappings sit in a sub-VMAR of their own, so the root VMAR
    // the faults and the map + unmap rows use holds one more entry only:
    // these rows measure the VMO's lists, not the VMAR's (its own rows).
    let others = |vmo: &Vmo, len: u64| -> Result<Vmar, Status> {
        let flags = VmarFlags(abi::ZX_VM_CAN_MAP_READ | abi::ZX_VM_CAN_MAP_WRITE);
        let (region, _) = root.allocate(0, SCALE_MAPPINGS * len, flags)?;
        for _ in 0..SCALE_MAPPINGS {
            region.map(0, vmo, 0, len, VmarFlags::RW)?;
        }
        Ok(region)
    };
    if want("zero_fill_fault_m4096") {
        let region = others(&vmo, FAULT_PAGES * PAGE)?;
        zero_fill("zero_fill_fault_m4096")?;
        region.destroy()?;
    }
    if want("zero_fill_fault_c2048") || want("create_child_close_c2048") {
        let mut children = [0 as abi::Handle; SCALE_CHILDREN];
        for slot in children.iter_mut() {
            let c = vmo.create_child(VmoChildOptions::COPY_ON_WRITE, 0, FAULT_PAGES * PAGE)?;
            *slot = zx::Handle::from(c).into_raw();
        }
        zero_fill("zero_fill_fault_c2048")?;
        // create_child + close beside the siblings, as `create_child_4k`
        // does beside none (a parent of one written page, a 4 KiB child).
        let parent = Vmo::create(PAGE)?;
        parent.write(&[1], 0)?;
        for slot in children.iter_mut() {
            drop(Vmo::from(zx::Handle::from_raw(*slot)));
            let c = parent.create_child(VmoChildOptions::COPY_ON_WRITE, 0, PAGE)?;
            *slot = zx::Handle::from(c).into_raw();
        }
        bench("create_child_close_c2048", 200, &mut || {
            timed(200, || {
                parent
                    .create_child(VmoChildOptions::COPY_ON_WRITE, 0, PAGE)
                    .map(drop)
            })
        })?;
        for &h in &children {
            drop(Vmo::from(zx::Handle::from_raw(h)));
        }
    }
    if want("vmar_map_unmap_4k_vmo_n4096") {
        let one = Vmo::create(PAGE)?;
        let region = others(&one, PAGE)?;
        bench("vmar_map_unmap_4k_vmo_n4096", 200, &mut || {
            timed(200, || {
                let addr = root.map(0, &one, 0, PAGE, VmarFlags::RW)?;
                root.unmap(addr, PAGE)
            })
        })?;
        region.destroy()?;
    }
    Ok(())
}

/// The worst calls at full size (see [`crate::stress`]), each while a
/// thread sleeps 1 ms at a time: the longest IRQs-masked interval the
/// kernel saw during them, and how late a sleep woke meanwhile (the worst
/// of them, and each call's own as `…_write`, `…_read`, `…_commit`,
/// `…_protect`, `…_shrink`, `…_map_range`, `…_overwrite`, `…_unmap`,
/// `…_exit`).
fn under_stress() -> Result<(), Status> {
    use crate::stress::{self, FULL};
    type Call<'a> = &'a dyn Fn() -> Result<stress::Figures, Status>;
    let parts: [(&str, Call); 9] = [
        ("write", &|| stress::huge_write(FULL)),
        ("read", &|| stress::huge_read(FULL)),
        ("commit", &|| stress::huge_commit(FULL)),
        // Too short for the EL0 suite's wake-up count on a loaded host
        // (~0.7 ms); exact here.
        ("protect", &|| stress::huge_protect(FULL)),
        ("shrink", &|| stress::huge_shrink(FULL)),
        ("map_range", &|| stress::huge_map_range(FULL)),
        ("overwrite", &|| stress::huge_overwrite(FULL)),
        ("unmap", &|| stress::destroy_many_mappings(FULL)),
        ("exit", &|| stress::exit_with_many_handles(FULL)),
    ];
    let (mut masked, mut late) = (0, 0);
    for (part, work) in parts {
        let f = work()?;
        let l = f.lateness_ns.max(0) as u64;
        println!(
            "bench irq_masked_{part} ops=1 reps=1 min_ns={0} median_ns={0}",
            f.masked_ns
        );
        println!("bench sleep_late_{part} ops=1 reps=1 min_ns={l} median_ns={l}");
        masked = masked.max(f.masked_ns);
        late = late.max(l);
    }
    for (name, ns) in [
        ("irq_masked_max_stress", masked),
        ("sleep_1ms_late_stress", late),
    ] {
        println!("bench {name} ops=1 reps=1 min_ns={ns} median_ns={ns}");
    }
    Ok(())
}
/// Signal → wake-up of a waiting thread: two threads of this task take
/// turns through two user signals of one event; each hand-over is one
/// `object_signal` (clear mine, set yours) waking the other thread from
/// `object_wait_one`, a context switch each way.
fn wake_up() -> Result<(), Status> {
    let event = Event::create()?;
    let stack = Vmo::create(16 * PAGE)?;
    let stack_addr = Vmar::root_self().map(0, &stack, 0, 16 * PAGE, VmarFlags::RW)?;
    let thread = Thread::create(&Task::self_handle())?;
    let other = event.duplicate_handle(zx::Rights::SAME_RIGHTS)?;
    thread.start(ponger, stack_addr + 16 * PAGE, other.raw_handle() as u64, 0)?;
    const ROUND_TRIPS: u64 = 200;
    bench("signal_wakeup", 2 * ROUND_TRIPS, &mut || {
        timed(ROUND_TRIPS, || {
            event.signal_handle(Signals::USER_1, Signals::USER_0)?;
            event.wait_handle(Signals::USER_1, Time::INFINITE).map(drop)
        })
    })?;
    // Closing the handle the thread waits on ends its wait and the thread.
    drop(other);
    thread.wait_handle(Signals::TASK_TERMINATED, Time::INFINITE)?;
    drop(event);
    Vmar::root_self().unmap(stack_addr, 16 * PAGE)
}

/// The thread of the port benchmark: takes a packet from its port (the
/// first handle), then clears `USER_0` and sets `USER_1` on the event (the
/// second), forever; a closed port ends it.
extern "C" fn port_ponger(port: u64, e: u64) -> ! {
    let port =
        core::mem::ManuallyDrop::new(zx::Port::from(zx::Handle::from_raw(port as abi::Handle)));
    let e = core::mem::ManuallyDrop::new(Event::from(zx::Handle::from_raw(e as abi::Handle)));
    loop {
        if port.wait(Time::INFINITE).is_err() {
            Thread::exit();
        }
        let _ = e.signal_handle(Signals::USER_0, Signals::USER_1);
    }
}

/// Signal → packet → `port_wait` return in another thread: as
/// [`wake_up`], but each thread waits in `port_wait` on its own port,
/// which a REPEATING async wait on the shared event feeds (`USER_0` to the
/// other thread's port, `USER_1` to ours).
fn signal_to_port_wait() -> Result<(), Status> {
    use zx::{Port, WaitAsyncOpts};
    let event = Event::create()?;
    let (mine, theirs) = (Port::create()?, Port::create()?);
    event.wait_async_handle(&mine, 1, Signals::USER_1, WaitAsyncOpts::Repeating)?;
    event.wait_async_handle(&theirs, 0, Signals::USER_0, WaitAsyncOpts::Repeating)?;
    let stack = Vmo::create(16 * PAGE)?;
    let stack_addr = Vmar::root_self().map(0, &stack, 0, 16 * PAGE, VmarFlags::RW)?;
    let thread = Thread::create(&Task::self_handle())?;
    thread.start(
        port_ponger,
        stack_addr + 16 * PAGE,
        theirs.raw_handle() as u64,
        event.raw_handle() as u64,
    )?;
    const ROUND_TRIPS: u64 = 200;
    bench("signal_port_wait", 2 * ROUND_TRIPS, &mut || {
        timed(ROUND_TRIPS, || {
            event.signal_handle(Signals::USER_1, Signals::USER_0)?;
            mine.wait(Time::INFINITE).map(drop)
        })
    })?;
    // Closing the port the thread waits on ends its wait and the thread.
    drop(theirs);
    thread.wait_handle(Signals::TASK_TERMINATED, Time::INFINITE)?;
    Vmar::root_self().unmap(stack_addr, 16 * PAGE)
}

/// [`wake_up`] with the other thread in another task: each hand-over also
/// switches translation tables (`TTBR0_EL1` with the other task's ASID).
fn wake_up_across_tasks() -> Result<(), Status> {
    let event = Event::create()?;
    let other = event.duplicate_handle(zx::Rights::SAME_RIGHTS)?;
    let task = crate::harness::spawn_with(
        |hs| {
            let e = Event::from(zx::Handle::from_raw(hs[0]));
            // Killed when the benchmark is over.
            while e.wait_handle(Signals::USER_0, Time::INFINITE).is_ok() {
                let _ = e.signal_handle(Signals::USER_0, Signals::USER_1);
            }
        },
        &mut [other],
    )?;
    const ROUND_TRIPS: u64 = 200;
    bench("signal_wakeup_across_tasks", 2 * ROUND_TRIPS, &mut || {
        timed(ROUND_TRIPS, || {
            event.signal_handle(Signals::USER_1, Signals::USER_0)?;
            event.wait_handle(Signals::USER_1, Time::INFINITE).map(drop)
        })
    })?;
    task.kill()?;
    task.wait_handle(Signals::TASK_TERMINATED, Time::INFINITE)?;
    Ok(())
}

/// How late a 1 ms `nanosleep` wakes, past its deadline.
fn sleep_lateness() -> Result<(), Status> {
    bench("nanosleep_1ms_lateness", 1, &mut || {
        let deadline = Time::after(zx::Duration::from_millis(1));
        deadline.sleep();
        Ok(now() - deadline.into_nanos())
    })
}

/// map+unmap of one page by default placement in a sub-VMAR holding `n`
/// one-page mappings packed from its second page (`front`: the first page
/// is free, so the new mapping goes in front of all) or from its first.
fn map_among(name: &str, n: u64, front: bool) -> Result<(), Status> {
    let filler = Vmo::create(PAGE)?;
    let vmo = Vmo::create(PAGE)?;
    let flags = VmarFlags(crate::stress::CAN_MAP_RW.0 | abi::ZX_VM_CAN_MAP_SPECIFIC);
    let (vmar, base) = Vmar::root_self().allocate(0, (n + 2) * PAGE, flags)?;
    let specific = VmarFlags(VmarFlags::RW.0 | abi::ZX_VM_SPECIFIC);
    let first = u64::from(front);
    for i in 0..n {
        vmar.map((first + i) * PAGE, &filler, 0, PAGE, specific)?;
    }
    let expect = if front { 0 } else { n * PAGE };
    let result = bench(name, 200, &mut || {
        timed(200, || {
            let addr = vmar.map(0, &vmo, 0, PAGE, VmarFlags::RW)?;
            if addr - base != expect {
                return Err(Status::INTERNAL);
            }
            vmar.unmap(addr, PAGE)
        })
    });
    vmar.destroy()?;
    result
}

/// Guest ns for a task holding `h` handles to end: from telling it to
/// exit until it is joined (its handle table torn down on the way).
fn task_exit_with(h: u64) -> Result<i64, Status> {
    let ready = Event::create()?;
    let theirs = ready.duplicate_handle(zx::Rights::SAME_RIGHTS)?;
    let task = Task::create(holder, h, &mut [theirs])?;
    ready.wait_handle(Signals::USER_0 | Signals::TASK_TERMINATED, Time::INFINITE)?;
    let start = now();
    ready.signal_handle(Signals::NONE, Signals::USER_1)?;
    task.join()?;
    let took = now() - start;
    if task.end()? != zx::TaskEnd::Exited(0) {
        return Err(Status::INTERNAL);
    }
    Ok(took)
}

/// A task that holds `h` handles (its VMAR and itself, the event `h0`,
/// and duplicates of that event), signals `USER_0`, waits for `USER_1`,
/// and exits.
extern "C" fn holder(h: u64, h0: abi::Handle, _: abi::Handle, _: u32, _: u32) -> ! {
    let ready = Event::from(zx::Handle::from_raw(h0));
    let run = || -> Result<(), Status> {
        for _ in 3..h {
            core::mem::forget(ready.duplicate_handle(zx::Rights::SAME_RIGHTS)?);
        }
        ready.signal_handle(Signals::NONE, Signals::USER_0)?;
        ready.wait_handle(Signals::USER_1, Time::INFINITE)?;
        Ok(())
    };
    let code = if run().is_ok() { 0 } else { 1 };
    let _ = ready.signal_handle(Signals::NONE, Signals::USER_0);
    zx::exit(code)
}
