//! `mode=bench` rows that need several CPUs (`just bench` runs them on the
//! `-smp 4` configuration, filtered by `test=smp_`): contention and
//! cross-CPU wake-up.
//!
//! # What the clock counts here
//!
//! Under `-icount shift=0,sleep=off` QEMU runs the vCPUs round-robin in
//! one thread, and the guest clock is the number of instructions *all*
//! of them have retired (one ns each). A vCPU keeps its turn until it
//! halts (`WFI`), yields (a `YIELD` or `WFE`) or its budget (the time to
//! QEMU's next timer, over the number of vCPUs) runs out. So an interval
//! read on one CPU counts every CPU's instructions in it, and nothing is
//! per CPU; the rows are built so that the interval holds the work being
//! measured and as little else as possible:
//!
//! - **Contention** (`smp_zero_fill_cpus{1,4}`, `smp_map_unmap_cpus{1,4}`):
//!   each of `k` threads, one per CPU, works on its own VMO in its own
//!   sub-VMAR. The interval runs from the moment every thread is ready
//!   (read just before `GO`) to the moment the last one finishes; every
//!   CPU is busy with the rows's work or a few-instruction spin for the
//!   whole of it (threads spin with `YIELD`, so a waiting CPU gives its
//!   turn away at once). The figure is the interval over the `k × n`
//!   operations: guest instructions per operation, spinning included.
//!   Each thread yields after each operation, so the CPUs take turns
//!   operation by operation; a thread can find another CPU's lock held
//!   only when that CPU's turn ended inside the critical section.
//! - **IPI wake-up** (`smp_ipi_wakeup`): a thread blocked in
//!   `object_wait_one` on one CPU (its CPU halted in `WFI`), an
//!   `object_signal` from another: from the signaller's clock read before
//!   the call to the waiter's clock read on return from its wait. The
//!   signaller spins with `YIELD` after the call, so its CPU gives the turn
//!   away as soon as the call returns: the interval is the whole signal
//!   call (including its part after the SGI, which real CPUs would overlap
//!   with the waiter's wake-up) and the waiter's CPU from the SGI to its
//!   first EL0 instruction.

use crate::println;
use core::arch::asm;
use core::mem::ManuallyDrop;
use core::sync::atomic::{AtomicU64, Ordering};
use zx::{
    AsHandleRef, Duration, Event, Handle, Signals, Status, Task, Thread, Time, Vmar, VmarFlags, Vmo,
};

const PAGE: u64 = abi::PAGE_SIZE;
/// Repetitions of each batch, as in `bench.rs`.
const REPS: usize = 7;
/// CPUs the contention rows use.
const CPUS: usize = 4;
/// Pages each thread faults in per batch.
const FAULTS: u64 = 64;
/// map + unmap pairs each thread makes per batch.
const MAPS: u64 = 200;
/// Wake-ups per batch of the IPI row.
const WAKEUPS: u64 = 200;
/// Stack bytes of each helper thread.
const STACK: u64 = 16 * PAGE;

fn now() -> i64 {
    Time::get_monotonic().into_nanos()
}

/// `YIELD`: under QEMU's round-robin TCG this vCPU's turn ends here.
fn cpu_yield() {
    // SAFETY: a hint instruction; no memory or register effects.
    unsafe { asm!("yield", options(nomem, nostack, preserves_flags)) }
}

/// Spins (yielding the vCPU each time) until `cond` holds; false after
/// 10 s of guest time. Every 1,024 spins it also yields the CPU to any
/// thread queued behind it (`nanosleep(0)`): a thread the scheduler put
/// on a busy CPU gets there without waiting for a time slice to end.
///
/// The clock is read only once it has spun 1,024 times (`just profile`
/// finds the timed regions by the clock calls).
fn spin_until(cond: impl Fn() -> bool) -> bool {
    let mut deadline = None;
    let mut spins = 0u32;
    while !cond() {
        cpu_yield();
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(1024) {
            let t = now();
            if t > *deadline.get_or_insert(t + 10_000_000_000) {
                return false;
            }
            Time::from_nanos(0).sleep();
        }
    }
    true
}

/// Words of the shared control page, by index.
const ARM: usize = 0;
const READY: usize = 1;
const GO: usize = 2;
const DONE: usize = 3;
const END: usize = 4;
const KIND: usize = 5;
const QUIT: usize = 6;
const FAILED: usize = 7;
/// The crew's start event (a handle every thread may use).
const EVENT_H: usize = 32;
/// Per thread `i`: its pages (zero-fill), its sub-VMAR and VMO handles (map + unmap).
const ADDR: usize = 8;
const VMAR_H: usize = 16;
const VMO_H: usize = 24;

const KIND_ZERO_FILL: u64 = 0;
const KIND_MAP_UNMAP: u64 = 1;

fn word(base: u64, i: usize) -> &'static AtomicU64 {
    // SAFETY: `base` is the control page of a `Crew`, mapped read-write
    // for as long as any of its threads runs.
    unsafe { &*((base + 8 * i as u64) as *const AtomicU64) }
}

/// Thread `i`'s part of batch `batch` of a crew of `k`: its operations,
/// then its count in `DONE` (the last to finish reads the clock), then a
/// spin until every thread is done (so no CPU idles, and no idle thread
/// zeroes frames, inside the interval). `DONE` and `READY` count over
/// every batch and are never reset, so a thread still spinning on the
/// last batch's count cannot miss it.
fn work(base: u64, i: usize, k: u64, batch: u64) {
    let ok = match word(base, KIND).load(Ordering::Acquire) {
        KIND_ZERO_FILL => {
            let mut page = word(base, ADDR + i).load(Ordering::Acquire);
            for _ in 0..FAULTS {
                // SAFETY: the page lies in this thread's own read-write
                // mapping, made for this batch.
                unsafe { core::ptr::write_volatile(page as *mut u8, 1) };
                page += PAGE;
                cpu_yield();
            }
            true
        }
        _ => {
            let vmar = ManuallyDrop::new(Vmar::from(Handle::from_raw(
                word(base, VMAR_H + i).load(Ordering::Acquire) as abi::Handle,
            )));
            let vmo = ManuallyDrop::new(Vmo::from(Handle::from_raw(
                word(base, VMO_H + i).load(Ordering::Acquire) as abi::Handle,
            )));
            let mut ok = true;
            for _ in 0..MAPS {
                match vmar.map(0, &vmo, 0, PAGE, VmarFlags::RW) {
                    Ok(addr) => ok &= vmar.unmap(addr, PAGE).is_ok(),
                    Err(_) => ok = false,
                }
                cpu_yield();
            }
            ok
        }
    };
    if !ok {
        word(base, FAILED).store(1, Ordering::Relaxed);
    }
    let all = k * batch;
    if word(base, DONE).fetch_add(1, Ordering::AcqRel) + 1 == all {
        word(base, END).store(now() as u64, Ordering::Release);
    } else if !spin_until(|| word(base, DONE).load(Ordering::Acquire) >= all) {
        word(base, FAILED).store(1, Ordering::Relaxed);
    }
}

/// A helper of a crew: for each batch (`ARM` counts them), says it is
/// ready, spins until `GO`, works; between batches it waits for the
/// crew's event to assert `USER_0` (so its CPU idles and refills its pool
/// of zeroed frames); `USER_1` ends it.
extern "C" fn helper(base: u64, i: u64) -> ! {
    let start = ManuallyDrop::new(Event::from(Handle::from_raw(
        word(base, EVENT_H).load(Ordering::Acquire) as abi::Handle,
    )));
    let mut batch = 0;
    loop {
        while word(base, ARM).load(Ordering::Acquire) == batch {
            let woke = start.wait_handle(Signals::USER_0 | Signals::USER_1, Time::INFINITE);
            if woke.is_err() || word(base, QUIT).load(Ordering::Acquire) != 0 {
                Thread::exit();
            }
        }
        batch += 1;
        word(base, READY).fetch_add(1, Ordering::AcqRel);
        if !spin_until(|| word(base, GO).load(Ordering::Acquire) == batch) {
            word(base, FAILED).store(1, Ordering::Relaxed);
        }
        work(base, i as usize, CPUS as u64, batch);
    }
}

/// `k` threads (this one and `k − 1` helpers, each on a CPU of its own),
/// each with its own VMO in its own sub-VMAR, and the page they share.
struct Crew {
    k: usize,
    _mem: Vmo,
    base: u64,
    start: Event,
    helpers: [Option<Thread>; CPUS - 1],
    regions: [Option<(Vmar, u64)>; CPUS],
    vmos: [Option<Vmo>; CPUS],
    batches: u64,
}

impl Crew {
    fn new(k: usize) -> Result<Self, Status> {
        let mem = Vmo::create(PAGE + CPUS as u64 * STACK)?;
        let base = Vmar::root_self().map(0, &mem, 0, PAGE + CPUS as u64 * STACK, VmarFlags::RW)?;
        let start = Event::create()?;
        word(base, EVENT_H).store(u64::from(start.raw_handle()), Ordering::Release);
        let mut crew = Self {
            k,
            start,
            _mem: mem,
            base,
            helpers: [const { None }; CPUS - 1],
            regions: [const { None }; CPUS],
            vmos: [const { None }; CPUS],
            batches: 0,
        };
        let flags = VmarFlags(crate::stress::CAN_MAP_RW.0);
        for i in 0..k {
            let vmo = Vmo::create(FAULTS * PAGE)?;
            let region = Vmar::root_self().allocate(0, 4 * FAULTS * PAGE, flags)?;
            word(base, VMAR_H + i).store(u64::from(region.0.raw_handle()), Ordering::Release);
            word(base, VMO_H + i).store(u64::from(vmo.raw_handle()), Ordering::Release);
            crew.regions[i] = Some(region);
            crew.vmos[i] = Some(vmo);
        }
        // Each started while the CPUs before it are busy: the scheduler
        // puts it on an idle one.
        for i in 1..k {
            let t = Thread::create(&Task::self_handle())?;
            t.start(helper, base + PAGE + i as u64 * STACK, base, i as u64)?;
            crew.helpers[i - 1] = Some(t);
        }
        Ok(crew)
    }

    /// One batch of `kind`: guest ns from `GO` until the last thread is done.
    fn batch(&mut self, kind: u64) -> Result<i64, Status> {
        let w = |i| word(self.base, i);
        w(KIND).store(kind, Ordering::Release);
        if kind == KIND_ZERO_FILL {
            for i in 0..self.k {
                let vmo = self.vmos[i].as_ref().ok_or(Status::INTERNAL)?;
                let (region, _) = self.regions[i].as_ref().ok_or(Status::INTERNAL)?;
                vmo.op_range(zx::VmoOp::DECOMMIT, 0, FAULTS * PAGE)?;
                let addr = region.map(0, vmo, 0, FAULTS * PAGE, VmarFlags::RW)?;
                w(ADDR + i).store(addr, Ordering::Release);
            }
        }
        // Every CPU's pool of zeroed frames full: each thread's faults take
        // frames zeroed ahead, as `zero_fill_fault_warm` does, and no idle
        // CPU zeroes frames (counted instructions) inside the interval.
        warm_pools()?;
        self.batches += 1;
        w(ARM).store(self.batches, Ordering::Release);
        self.start.signal_handle(Signals::NONE, Signals::USER_0)?;
        let helpers = (self.k as u64 - 1) * self.batches;
        if !spin_until(|| w(READY).load(Ordering::Acquire) == helpers) {
            return Err(Status::TIMED_OUT);
        }
        // Every helper is past its wait: the next one blocks again.
        self.start.signal_handle(Signals::USER_0, Signals::NONE)?;
        let start = now();
        w(GO).store(self.batches, Ordering::Release);
        work(self.base, 0, self.k as u64, self.batches);
        let took = w(END).load(Ordering::Acquire) as i64 - start;
        if kind == KIND_ZERO_FILL {
            for i in 0..self.k {
                let (region, _) = self.regions[i].as_ref().ok_or(Status::INTERNAL)?;
                region.unmap(w(ADDR + i).load(Ordering::Acquire), FAULTS * PAGE)?;
            }
        }
        if w(FAILED).load(Ordering::Acquire) != 0 {
            return Err(Status::INTERNAL);
        }
        Ok(took)
    }
}

impl Drop for Crew {
    fn drop(&mut self) {
        word(self.base, QUIT).store(1, Ordering::Release);
        let _ = self.start.signal_handle(Signals::NONE, Signals::USER_1);
        for t in self.helpers.iter().flatten() {
            let _ = t.wait_handle(Signals::THREAD_TERMINATED, Time::INFINITE);
        }
        for (region, _) in self.regions.iter().flatten() {
            let _ = region.destroy();
        }
        let _ = Vmar::root_self().unmap(self.base, PAGE + CPUS as u64 * STACK);
    }
}

/// Sleeps until every CPU's pool of pre-zeroed frames is full.
fn warm_pools() -> Result<(), Status> {
    let cpus = u64::from(zx::system_get_num_cpus());
    let mut last = u64::MAX;
    for _ in 0..1000 {
        let z = zx::kernel_counters(&*Vmar::root_self())?.zeroed_frames;
        if z >= cpus * POOL_FRAMES || z == last {
            return Ok(());
        }
        last = z;
        Duration::from_micros(200).sleep();
    }
    Err(Status::TIMED_OUT)
}

/// The kernel's per-CPU pool of zeroed frames (`mm::frame::POOL_FRAMES`).
const POOL_FRAMES: u64 = 512;

/// Prints `name`'s line from per-operation figures.
fn report(name: &str, ops: u64, per_op: &mut [u64; REPS]) {
    per_op.sort_unstable();
    println!(
        "bench {name} ops={ops} reps={REPS} min_ns={} median_ns={}",
        per_op[0],
        per_op[REPS / 2]
    );
}

/// The contention rows of `kind`, on 1 CPU and on [`CPUS`].
fn contention(filter: &str, name: &str, kind: u64, per_thread: u64) -> Result<(), Status> {
    for k in [1, CPUS] {
        let row = format_row(name, k);
        let row = row.as_str();
        if !row.contains(filter) {
            continue;
        }
        let mut crew = Crew::new(k)?;
        let ops = k as u64 * per_thread;
        let mut per_op = [0u64; REPS];
        for slot in per_op.iter_mut() {
            *slot = crew.batch(kind)?.max(0) as u64 / ops;
        }
        drop(crew);
        report(row, ops, &mut per_op);
    }
    Ok(())
}

/// A row name `<name>_cpus<k>` in a fixed buffer (the EL0 image has no heap).
struct RowName {
    buf: [u8; 48],
    len: usize,
}

impl RowName {
    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

fn format_row(name: &str, k: usize) -> RowName {
    let mut r = RowName {
        buf: [0; 48],
        len: 0,
    };
    for &b in name
        .as_bytes()
        .iter()
        .chain(b"_cpus")
        .chain(&[b'0' + k as u8])
    {
        if r.len < r.buf.len() {
            r.buf[r.len] = b;
            r.len += 1;
        }
    }
    r
}

/// The waiter of the IPI row: waits for `USER_0` on the event (`e`),
/// reads the clock, clears the signal and publishes the time in the
/// control page's `END` (`base`); a closed event ends it.
extern "C" fn waiter(base: u64, e: u64) -> ! {
    let e = ManuallyDrop::new(Event::from(Handle::from_raw(e as abi::Handle)));
    loop {
        if e.wait_handle(Signals::USER_0, Time::INFINITE).is_err() {
            Thread::exit();
        }
        let t = now();
        let _ = e.signal_handle(Signals::USER_0, Signals::NONE);
        word(base, END).store(t as u64, Ordering::Release);
    }
}

/// Signal on one CPU → the waiter running on another ([`waiter`]).
fn ipi_wakeup() -> Result<(), Status> {
    let mem = Vmo::create(PAGE + STACK)?;
    let base = Vmar::root_self().map(0, &mem, 0, PAGE + STACK, VmarFlags::RW)?;
    let event = Event::create()?;
    let theirs = event.duplicate_handle(zx::Rights::SAME_RIGHTS)?;
    let thread = Thread::create(&Task::self_handle())?;
    // This CPU is busy: the waiter starts on an idle one, blocks there, and
    // is woken there (the CPU it last ran on, idle).
    thread.start(
        waiter,
        base + PAGE + STACK,
        base,
        u64::from(theirs.raw_handle()),
    )?;
    warm_pools()?;
    let end = word(base, END);
    let mut per_op = [0u64; REPS];
    let mut result = Ok(());
    'reps: for slot in per_op.iter_mut() {
        let mut sum = 0;
        for _ in 0..WAKEUPS {
            end.store(0, Ordering::Release);
            let start = now();
            if let Err(e) = event.signal_handle(Signals::NONE, Signals::USER_0) {
                result = Err(e);
                break 'reps;
            }
            // The waiter publishes after its wait returned, cleared the
            // signal and (its CPU's turn ending only there) blocked again.
            if !spin_until(|| end.load(Ordering::Acquire) != 0) {
                result = Err(Status::TIMED_OUT);
                break 'reps;
            }
            sum += (end.load(Ordering::Acquire) as i64 - start).max(0) as u64;
        }
        *slot = sum / WAKEUPS;
    }
    drop(theirs);
    drop(event);
    thread.wait_handle(Signals::THREAD_TERMINATED, Time::INFINITE)?;
    Vmar::root_self().unmap(base, PAGE + STACK)?;
    result?;
    report("smp_ipi_wakeup", WAKEUPS, &mut per_op);
    Ok(())
}

/// Runs the rows whose names contain `filter`, when [`CPUS`] CPUs run
/// threads (on fewer, none: `just bench` runs them on its `-smp 4` boot).
pub fn run(filter: &str) -> Result<(), Status> {
    if (zx::system_get_num_cpus() as usize) < CPUS {
        return Ok(());
    }
    contention(filter, "smp_zero_fill", KIND_ZERO_FILL, FAULTS)?;
    contention(filter, "smp_map_unmap", KIND_MAP_UNMAP, MAPS)?;
    if "smp_ipi_wakeup".contains(filter) {
        ipi_wakeup()?;
    }
    Ok(())
}
