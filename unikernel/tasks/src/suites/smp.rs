//! Every CPU at once: threads of one task on different CPUs racing on the
//! same memory, faults, unmaps and protects, waits and wake-ups, and a
//! task ended while its threads run elsewhere. On one CPU the same tests
//! run (and pass) with the threads taking turns; with several they race
//! for real, and each repeats enough times that a missing TLB invalidation
//! or lock shows.

use super::util::{map_rw, page_is, unmap, vregs_kept_across, PAGE};
use crate::harness::{spawn_with, Suite, TestResult};
use crate::{check, check_eq, ok, tests};
use core::sync::atomic::{AtomicU64, Ordering};
use zx::{
    AsHandleRef, Duration, Event, Handle, Signals, Status, Task, TaskEnd, Thread, Time, Vmar,
    VmarFlags, Vmo, VmoChildOptions,
};

pub static SUITE: Suite = Suite {
    name: "smp",
    tests: tests![
        threads_on_every_cpu_count_exactly_through_one_lock,
        concurrent_copy_on_write_faults_on_one_page_make_one_copy,
        concurrent_zero_fill_faults_on_one_page_make_one_page,
        an_unmapped_page_is_never_read_after_its_frame_is_reused,
        protect_to_read_only_stops_a_writer_on_another_cpu,
        wait_on_one_cpu_and_signal_from_another,
        simd_registers_survive_moving_between_cpus,
        a_killed_task_s_threads_on_other_cpus_stop,
        a_kill_racing_the_last_handle_close_and_the_last_thread_exit,
    ],
};

/// Threads per test beside the test's own: one per other CPU, at least one.
fn helpers() -> usize {
    (zx::system_get_num_cpus() as usize).clamp(2, 4) - 1
}

/// Stack bytes for each helper thread.
const STACK: u64 = 16 * PAGE;

/// Memory the test's threads share: a page of control words and a stack
/// per helper, mapped here; the VMO keeps it alive.
struct Shared {
    _vmo: Vmo,
    base: u64,
}

impl Shared {
    fn new() -> Result<Self, Status> {
        let vmo = Vmo::create(PAGE + 4 * STACK)?;
        let base = map_rw(&vmo, PAGE + 4 * STACK)?;
        Ok(Self { _vmo: vmo, base })
    }

    /// The control words at the start of the first page.
    fn control(&self) -> &'static Control {
        control(self.base)
    }

    /// Starts helper `n` of this task at `entry(base, n)` on its own stack.
    fn start(&self, entry: zx::ThreadEntry, n: usize) -> Result<Thread, Status> {
        let thread = Thread::create(&Task::self_handle())?;
        let top = self.base + PAGE + (n as u64 + 1) * STACK;
        thread.start(entry, top, self.base, n as u64)?;
        Ok(thread)
    }

    /// Starts one helper per other CPU, helper `n` at `entry(base, n)`.
    fn start_helpers(&self, entry: zx::ThreadEntry) -> Result<[Option<Thread>; 3], Status> {
        let mut threads = [const { None }; 3];
        for (n, t) in threads.iter_mut().enumerate().take(helpers()) {
            *t = Some(self.start(entry, n)?);
        }
        Ok(threads)
    }
}

/// The words at the start of a [`Shared`] page, through which a test and
/// its helpers agree.
#[repr(C)]
struct Control {
    /// The fault race's current round: its helpers may write.
    go: AtomicU64,
    /// How many helpers have written in this round.
    done: AtomicU64,
    /// The fault race's page; the atomically counted total; the ping event.
    target: AtomicU64,
    /// The total counted under the lock; the pong event.
    count: AtomicU64,
    /// The lock of `count`.
    lock: AtomicU64,
    /// Set, or counted, by a helper that saw something wrong.
    bad: AtomicU64,
}

/// The [`Control`] words of the `Shared` page at `base`.
fn control(base: u64) -> &'static Control {
    // SAFETY: `base` is a `Shared` page, mapped read-write while its
    // helpers run, and its first bytes hold only these words.
    unsafe { &*(base as *const Control) }
}

/// Word `i` of the page at `base` (the helper-task tests' counters).
fn word(base: u64, i: usize) -> &'static AtomicU64 {
    // SAFETY: `base` is a page mapped read-write while the threads that
    // use it run, and `i` is within it.
    unsafe { &*((base + 8 * i as u64) as *const AtomicU64) }
}

/// Waits until `cond` holds, yielding now and then; false after 10 s.
fn spin_until(cond: impl Fn() -> bool) -> bool {
    let deadline = Time::after(Duration::from_seconds(10));
    let mut spins = 0u32;
    while !cond() {
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(1024) {
            if Time::get_monotonic() > deadline {
                return false;
            }
            // Let a helper that shares this CPU run.
            Time::from_nanos(0).sleep();
        }
        core::hint::spin_loop();
    }
    true
}

/// Waits for every helper thread to end.
fn join<'a>(threads: impl IntoIterator<Item = &'a Option<Thread>>) -> TestResult {
    for t in threads.into_iter().flatten() {
        ok!(t.wait_handle(
            Signals::THREAD_TERMINATED,
            Time::after(Duration::from_seconds(10))
        ));
    }
    Ok(())
}

fn exit_thread() -> ! {
    Thread::exit()
}

const LOCKED_ROUNDS: u64 = 20_000;

/// A test-and-set lock built from the exclusive monitor.
fn with_lock(lock: &AtomicU64, f: impl FnOnce()) {
    while lock
        .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        core::hint::spin_loop();
    }
    f();
    lock.store(0, Ordering::Release);
}

extern "C" fn count_entry(base: u64, _: u64) -> ! {
    count_rounds(base);
    exit_thread()
}

/// Adds `LOCKED_ROUNDS` to the count, one read-modify-write of plain loads
/// and stores at a time under the lock, and as many atomic increments.
fn count_rounds(base: u64) {
    let ctl = control(base);
    for _ in 0..LOCKED_ROUNDS {
        with_lock(&ctl.lock, || {
            let c = &ctl.count;
            c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        });
        ctl.target.fetch_add(1, Ordering::Relaxed);
    }
}

/// Every CPU increments one counter under a lock made of exclusives, and
/// another with atomic adds: none is lost (the exclusive monitor and the
/// barriers work across CPUs; QEMU's exclusives are real atomics with
/// MTTCG).
fn threads_on_every_cpu_count_exactly_through_one_lock() -> TestResult {
    let shared = ok!(Shared::new());
    let n = helpers();
    let threads = ok!(shared.start_helpers(count_entry));
    count_rounds(shared.base);
    join(&threads)?;
    let all = (n as u64 + 1) * LOCKED_ROUNDS;
    check_eq!(shared.control().count.load(Ordering::SeqCst), all);
    check_eq!(shared.control().target.load(Ordering::SeqCst), all);
    Ok(())
}

/// Rounds of the fault races.
const FAULT_ROUNDS: u64 = 40;

/// Pages raced for in a round, one after the other: the helpers stay
/// close to lockstep, so most pages are faulted on by several at once.
const RACE_PAGES: u64 = 16;

/// Helper `n` of a fault race: for each round, waits for `go`, writes its
/// byte into each of the [`RACE_PAGES`] pages at `target`, and counts
/// itself `done`.
extern "C" fn fault_entry(base: u64, n: u64) -> ! {
    for round in 1..=FAULT_ROUNDS {
        if !spin_until(|| control(base).go.load(Ordering::Acquire) >= round) {
            control(base).bad.store(1, Ordering::Relaxed);
            break;
        }
        let first = control(base).target.load(Ordering::Acquire);
        for page in (0..RACE_PAGES).map(|i| first + i * PAGE) {
            // SAFETY: `target` holds this round's pages, mapped read-write
            // until every helper has counted itself done.
            unsafe { ((page + 1 + n) as *mut u8).write_volatile(0xc0 + n as u8) };
        }
        control(base).done.fetch_add(1, Ordering::AcqRel);
    }
    exit_thread()
}

/// Runs the fault race: each round `fresh` gives [`RACE_PAGES`] + 1 pages
/// (their VMO and their mapping), every thread writes its own byte of
/// each of the first [`RACE_PAGES`] at the same moment, and `check` looks
/// at the VMO afterwards. In every other round the last page is read
/// first: the mapping is populated then, and
/// the race is between faults resolved at once under their hierarchy's
/// lock (the kernel's shared fault path) rather than under the object
/// space's write side (a mapping's first fault).
fn fault_race(
    fresh: impl Fn() -> Result<(Vmo, Option<Vmo>, u64), Status>,
    check_round: impl Fn(&Vmo, Option<&Vmo>) -> TestResult,
) -> TestResult {
    let shared = ok!(Shared::new());
    let n = helpers();
    let threads = ok!(shared.start_helpers(fault_entry));
    for round in 1..=FAULT_ROUNDS {
        let (vmo, parent, page) = ok!(fresh());
        if round % 2 == 0 {
            // SAFETY: `fresh` mapped `RACE_PAGES + 1` pages readable at `page`.
            unsafe { super::util::peek(page + RACE_PAGES * PAGE) };
        }
        shared.control().target.store(page, Ordering::Release);
        shared.control().done.store(0, Ordering::Release);
        shared.control().go.store(round, Ordering::Release);
        check!(
            spin_until(|| shared.control().done.load(Ordering::Acquire) == n as u64),
            "round {round}: the helpers did not finish"
        );
        ok!(unmap(page, (RACE_PAGES + 1) * PAGE));
        check_round(&vmo, parent.as_ref())?;
    }
    join(&threads)?;
    check_eq!(shared.control().bad.load(Ordering::SeqCst), 0);
    Ok(())
}

/// Every helper's byte, and nothing else changed, in each of `vmo`'s
/// first [`RACE_PAGES`] pages (which held `fill`).
fn all_bytes_there(vmo: &Vmo, fill: u8) -> TestResult {
    let mut page = [0u8; PAGE as usize];
    for p in 0..RACE_PAGES {
        ok!(vmo.read(&mut page, p * PAGE));
        for n in 0..helpers() {
            check_eq!(page[1 + n], 0xc0 + n as u8, "page {p}: helper {n}'s write");
        }
        let others = page
            .iter()
            .enumerate()
            .filter(|&(i, &b)| !(1..=helpers()).contains(&i) && b != fill)
            .count();
        check_eq!(others, 0, "page {p}: bytes nobody wrote");
    }
    Ok(())
}

/// Threads on several CPUs write one page of a copy-on-write child at
/// once: one copy is made, every write lands in it, the parent keeps its
/// bytes.
fn concurrent_copy_on_write_faults_on_one_page_make_one_copy() -> TestResult {
    fault_race(
        || {
            let len = (RACE_PAGES + 1) * PAGE;
            let parent = Vmo::create(len)?;
            for i in 0..RACE_PAGES {
                super::util::fill_page(&parent, i, 0x11)?;
            }
            let child = parent.create_child(VmoChildOptions::COPY_ON_WRITE, 0, len)?;
            let page = map_rw(&child, len)?;
            Ok((child, Some(parent), page))
        },
        |child, parent| {
            all_bytes_there(child, 0x11)?;
            for p in 0..RACE_PAGES {
                check!(
                    ok!(page_is(parent.unwrap(), p, 0x11)),
                    "the parent's page {p} changed"
                );
            }
            Ok(())
        },
    )
}

/// Threads on several CPUs write one untouched page at once: one zeroed
/// frame is committed and every write lands in it.
fn concurrent_zero_fill_faults_on_one_page_make_one_page() -> TestResult {
    fault_race(
        || {
            let len = (RACE_PAGES + 1) * PAGE;
            let vmo = Vmo::create(len)?;
            let page = map_rw(&vmo, len)?;
            Ok((vmo, None, page))
        },
        |vmo, _| all_bytes_there(vmo, 0),
    )
}

/// Tasks run by the two tests below, each one round.
const TLB_ROUNDS: usize = 12;

/// A thread of the helper task that reads the page at `page` until the
/// task ends, counting its reads in the word at `alive`: a byte that is
/// not the page's own ends the task with 1.
extern "C" fn reader_entry(page: u64, alive: u64) -> ! {
    let alive = word(alive, 0);
    loop {
        // SAFETY: the page is mapped until the task's main thread unmaps
        // it; after that this read faults, which ends the task (the
        // test's expectation).
        let b = unsafe { (page as *const u8).read_volatile() };
        if b != 0xaa {
            zx::exit(1);
        }
        alive.fetch_add(1, Ordering::Relaxed);
    }
}

/// A thread of the helper task that writes the page at `page` until the
/// task ends, counting its writes in the word at `alive`.
extern "C" fn writer_entry(page: u64, alive: u64) -> ! {
    let alive = word(alive, 0);
    let mut i = 0u64;
    loop {
        i = i.wrapping_add(1);
        // SAFETY: writable until the main thread protects it read-only;
        // the write after that faults, which ends the task (expected).
        unsafe { (page as *mut u64).write_volatile(i) };
        alive.fetch_add(1, Ordering::Relaxed);
    }
}

/// Maps a page holding 0xaa, starts `entry(page, alive)` on a stack of its
/// own in this task and waits until it has been round its loop (`alive`,
/// the first word of a page of its own, counts): the page's VMO, the page
/// and the memory that keeps the rest alive.
fn page_and_thread(entry: zx::ThreadEntry) -> Result<(Vmo, u64, Vmo), Status> {
    let vmo = Vmo::create(PAGE)?;
    super::util::fill_page(&vmo, 0, 0xaa)?;
    let page = map_rw(&vmo, PAGE)?;
    let own = Vmo::create(PAGE + STACK)?;
    let base = map_rw(&own, PAGE + STACK)?;
    let thread = Thread::create(&Task::self_handle())?;
    thread.start(entry, base + PAGE + STACK, page, base)?;
    // The thread holds the task alive; its handle may go.
    drop(thread);
    if !spin_until(|| word(base, 0).load(Ordering::Relaxed) > 0) {
        return Err(Status::TIMED_OUT);
    }
    Ok((vmo, page, own))
}

/// Waits up to a second for the helper thread to fault (which ends the
/// task), checking `still` every millisecond: exits 1 if it fails.
fn await_the_fault(still: impl Fn() -> bool) -> ! {
    for _ in 0..1000 {
        Duration::from_millis(1).sleep();
        if !still() {
            zx::exit(1);
        }
    }
    // The helper never faulted: it was not running, or nothing stopped it.
    zx::exit(0)
}

/// In a helper task: a thread reads a page in a loop while the main
/// thread unmaps it, closes the VMO (its frame is free) and writes 64
/// fresh pages with another byte (likely reusing the frame). Once the
/// unmap has returned the reader must fault, never read the new owner's
/// byte (a TLB entry left on its CPU would show it).
fn unmap_then_reuse(_: [abi::Handle; 4]) {
    let Ok((vmo, page, _own)) = page_and_thread(reader_entry) else {
        zx::exit(2);
    };
    if unmap(page, PAGE).is_err() {
        zx::exit(3);
    }
    drop(vmo);
    if let Ok(other) = Vmo::create(64 * PAGE) {
        for p in 0..64 {
            let _ = super::util::fill_page(&other, p, 0xbb);
        }
    }
    // The reader ends the task with 1 itself if it reads a wrong byte.
    await_the_fault(|| true)
}

/// Runs `body` in a helper task `TLB_ROUNDS` times: each time the task
/// must end by its helper thread's (the `who`'s) fault.
fn ends_by_the_helper_s_fault(body: fn([abi::Handle; 4]), who: &str) -> TestResult {
    for round in 0..TLB_ROUNDS {
        let task = ok!(spawn_with(body, &mut []));
        let end = ok!(task.join());
        check!(
            matches!(end, TaskEnd::Faulted { .. }),
            "round {round}: the task ended {end:?}, not by the {who}'s fault"
        );
    }
    Ok(())
}

fn an_unmapped_page_is_never_read_after_its_frame_is_reused() -> TestResult {
    ends_by_the_helper_s_fault(unmap_then_reuse, "reader")
}

/// In a helper task: a thread writes a page in a loop while the main
/// thread protects it read-only, then watches the page: once protect has
/// returned no write may land (the writer faults instead).
fn protect_under_a_writer(_: [abi::Handle; 4]) {
    let Ok((_vmo, page, _own)) = page_and_thread(writer_entry) else {
        zx::exit(2);
    };
    if Vmar::root_self()
        .protect(page, PAGE, VmarFlags::PERM_READ)
        .is_err()
    {
        zx::exit(3);
    }
    // SAFETY: the page stays mapped readable.
    let read = || unsafe { (page as *const u64).read_volatile() };
    let before = read();
    await_the_fault(|| read() == before)
}

fn protect_to_read_only_stops_a_writer_on_another_cpu() -> TestResult {
    ends_by_the_helper_s_fault(protect_under_a_writer, "writer")
}

/// Ping-pong rounds across CPUs.
const PING_PONGS: u64 = 2_000;

/// Helper of the ping-pong: waits on event `ping` (handle in
/// `target`), signals `pong` (`count`), `PING_PONGS` times; odd rounds
/// wait with a far deadline, even ones with none.
extern "C" fn pong_entry(base: u64, _: u64) -> ! {
    let ping = control(base).target.load(Ordering::Acquire) as abi::Handle;
    let pong = control(base).count.load(Ordering::Acquire) as abi::Handle;
    let ping = core::mem::ManuallyDrop::new(Event::from(Handle::from_raw(ping)));
    let pong = core::mem::ManuallyDrop::new(Event::from(Handle::from_raw(pong)));
    for i in 0..PING_PONGS {
        let deadline = if i % 2 == 1 {
            Time::after(Duration::from_seconds(10))
        } else {
            Time::INFINITE
        };
        if ping.wait_handle(Signals::USER_0, deadline).is_err()
            || ping.signal_handle(Signals::USER_0, Signals::NONE).is_err()
            || pong.signal_handle(Signals::NONE, Signals::USER_0).is_err()
        {
            control(base).bad.store(1, Ordering::Relaxed);
            break;
        }
    }
    exit_thread()
}

/// Two threads hand a signal back and forth thousands of times, waiting
/// with and without deadlines: with one on each CPU every wake-up crosses
/// CPUs, and none is lost (a lost one hangs the test until its deadline).
/// A wait nobody satisfies still ends at its deadline.
fn wait_on_one_cpu_and_signal_from_another() -> TestResult {
    let shared = ok!(Shared::new());
    let ping = ok!(Event::create());
    let pong = ok!(Event::create());
    shared
        .control()
        .target
        .store(u64::from(ping.raw_handle()), Ordering::Release);
    shared
        .control()
        .count
        .store(u64::from(pong.raw_handle()), Ordering::Release);
    let helper = ok!(shared.start(pong_entry, 0));
    for i in 0..PING_PONGS {
        ok!(ping.signal_handle(Signals::NONE, Signals::USER_0));
        let deadline = if i % 2 == 0 {
            Time::after(Duration::from_seconds(10))
        } else {
            Time::INFINITE
        };
        check!(
            pong.wait_handle(Signals::USER_0, deadline).is_ok(),
            "round {i}: no pong"
        );
        ok!(pong.signal_handle(Signals::USER_0, Signals::NONE));
    }
    join(&[Some(helper)])?;
    check_eq!(shared.control().bad.load(Ordering::SeqCst), 0);
    // Nobody signals this one: its deadline ends it.
    let start = Time::get_monotonic();
    check_eq!(
        ping.wait_handle(Signals::USER_1, Time::after(Duration::from_millis(2)))
            .err(),
        Some(Status::TIMED_OUT)
    );
    check!(Time::get_monotonic() >= start + Duration::from_millis(2));
    Ok(())
}

/// Rounds of load, sleep, compare in the SIMD test.
const SIMD_ROUNDS: u64 = 200;

/// Loads v0–v31 with a pattern of its own (`seed`), then sleeps and
/// yields many times (a wake-up may land it on any CPU) and compares the
/// registers with the pattern each round; a difference counts in `bad`.
extern "C" fn simd_entry(base: u64, seed: u64) -> ! {
    simd_rounds(base, seed);
    exit_thread()
}

fn simd_rounds(base: u64, seed: u64) {
    let mut pattern = [0u8; 512];
    for (i, b) in pattern.iter_mut().enumerate() {
        *b = (i as u64 * 31 + seed * 97 + 5) as u8;
    }
    for round in 0..SIMD_ROUNDS {
        let mut seen = [0u8; 512];
        // SAFETY: loads and stores 512 bytes of the two local buffers; the
        // syscall in between is a sleep (x0: its deadline); every register
        // the block changes is declared.
        unsafe {
            vregs_kept_across!(
                load = pattern.as_ptr(),
                store = seen.as_mut_ptr(),
                ["mov x0, {deadline}", "mov x16, #{nanosleep}", "svc #0"],
                // Odd rounds sleep a moment, even ones only yield.
                deadline = in(reg) if round % 2 == 1 {
                    Time::after(Duration::from_micros(50)).into_nanos() as u64
                } else {
                    0
                },
                nanosleep = const abi::Syscall::Nanosleep as u64,
                out("x0") _, out("x16") _,
            );
        }
        if core::hint::black_box(&seen)[..] != pattern[..] {
            control(base).bad.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Threads with different v0–v31 sleep and wake hundreds of times each
/// (and so move between CPUs): each finds its own registers every time.
fn simd_registers_survive_moving_between_cpus() -> TestResult {
    let shared = ok!(Shared::new());
    let threads = ok!(shared.start_helpers(simd_entry));
    simd_rounds(shared.base, 7);
    join(&threads)?;
    check_eq!(shared.control().bad.load(Ordering::SeqCst), 0);
    Ok(())
}

/// Helper-task thread: adds one to its own word of the shared VMO mapped
/// at `counters` forever.
extern "C" fn spinner_entry(counters: u64, n: u64) -> ! {
    let c = word(counters, n as usize);
    loop {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// In a helper task: maps the VMO `h0` (counters), starts a spinner per
/// other CPU, each on its own stack, and spins too.
fn spinners(hs: [abi::Handle; 4]) {
    let vmo = Vmo::from(Handle::from_raw(hs[0]));
    let Ok(counters) = map_rw(&vmo, PAGE + 4 * STACK) else {
        zx::exit(2);
    };
    for n in 0..helpers() {
        let Ok(t) = Thread::create(&Task::self_handle()) else {
            zx::exit(3);
        };
        let top = counters + PAGE + (n as u64 + 1) * STACK;
        if t.start(spinner_entry, top, counters, n as u64 + 1).is_err() {
            zx::exit(4);
        }
    }
    spinner_entry(counters, 0)
}

/// A task whose threads spin on every CPU is killed: once it is seen
/// terminated none of them runs task code again (their counters, in a VMO
/// this test also maps, stand still).
fn a_killed_task_s_threads_on_other_cpus_stop() -> TestResult {
    for _ in 0..4 {
        let vmo = ok!(Vmo::create(PAGE + 4 * STACK));
        let here = ok!(map_rw(&vmo, PAGE));
        let dup = ok!(vmo.duplicate_handle(zx::Rights::SAME_RIGHTS));
        let task = ok!(spawn_with(spinners, &mut [dup]));
        let n = helpers() + 1;
        let counter = |i: usize| word(here, i).load(Ordering::Relaxed);
        check!(
            spin_until(|| (0..n).all(|i| counter(i) > 0)),
            "the spinners did not all start"
        );
        ok!(task.kill());
        check_eq!(ok!(task.join()), TaskEnd::Killed);
        let before: [u64; 4] = core::array::from_fn(|i| if i < n { counter(i) } else { 0 });
        Duration::from_millis(5).sleep();
        let after: [u64; 4] = core::array::from_fn(|i| if i < n { counter(i) } else { 0 });
        check_eq!(before, after, "counters moved after the task ended");
        ok!(unmap(here, PAGE));
    }
    Ok(())
}

/// Rounds of the kill race below.
const KILL_ROUNDS: u64 = 300;
/// The words of that race's shared page: the round's spin count, the
/// round the helper task reached.
const SPINS: usize = 7;
const RUNNING: usize = 8;

/// In a helper task: maps the VMO `h0` (the test's control page), says it
/// runs, spins as long as it was told, and exits (its only thread: the
/// task ends).
fn exit_after_spinning(hs: [abi::Handle; 4]) {
    let vmo = Vmo::from(Handle::from_raw(hs[0]));
    let Ok(base) = map_rw(&vmo, PAGE) else {
        zx::exit(2);
    };
    let spins = word(base, SPINS).load(Ordering::Acquire);
    word(base, RUNNING).fetch_add(1, Ordering::AcqRel);
    for _ in 0..spins {
        core::hint::spin_loop();
    }
    Thread::exit()
}

/// The closer of the kill race: each round, waits for `GO`, closes the
/// handle in `TARGET`, and counts itself `DONE`.
extern "C" fn closer_entry(base: u64, _: u64) -> ! {
    for round in 1..=KILL_ROUNDS {
        if !spin_until(|| control(base).go.load(Ordering::Acquire) >= round) {
            control(base).bad.store(1, Ordering::Relaxed);
            break;
        }
        let h = control(base).target.load(Ordering::Acquire) as abi::Handle;
        if Handle::from_raw(h).close().is_err() {
            control(base).bad.store(2, Ordering::Relaxed);
        }
        control(base).done.store(round, Ordering::Release);
    }
    exit_thread()
}

/// One CPU kills a task while another closes the last handle to it and
/// the task's last thread exits by itself on a third: the kill ends the
/// task, whichever comes first, and the task's record and signals go only
/// once every one of them is done with it (the fuzzer found the kill
/// reaching for signals already freed).
fn a_kill_racing_the_last_handle_close_and_the_last_thread_exit() -> TestResult {
    let shared = ok!(Shared::new());
    let closer = ok!(shared.start(closer_entry, 0));
    for round in 1..=KILL_ROUNDS {
        // Spins of a few µs to a few hundred, so the exit falls before,
        // during and after the kill.
        word(shared.base, SPINS).store((round * 7919) % 40_000, Ordering::Release);
        let dup = ok!(shared._vmo.duplicate_handle(zx::Rights::SAME_RIGHTS));
        let task = ok!(spawn_with(exit_after_spinning, &mut [dup]));
        check!(
            spin_until(|| word(shared.base, RUNNING).load(Ordering::Acquire) == round),
            "round {round}: the helper task did not start"
        );
        let h = Handle::from(task).into_raw();
        shared
            .control()
            .target
            .store(u64::from(h), Ordering::Release);
        shared.control().go.store(round, Ordering::Release);
        // The closer owns the handle now: this only borrows its value.
        let killed = core::mem::ManuallyDrop::new(Task::from(Handle::from_raw(h))).kill();
        check!(
            matches!(killed, Ok(()) | Err(Status::BAD_HANDLE)),
            "round {round}: the kill returned {killed:?}"
        );
        check!(
            spin_until(|| shared.control().done.load(Ordering::Acquire) == round),
            "round {round}: the closer did not finish"
        );
    }
    join(&[Some(closer)])?;
    check_eq!(shared.control().bad.load(Ordering::SeqCst), 0);
    Ok(())
}
