//! Threads and the scheduler: the deadline queue, spawn and join, yield,
//! preemption, per-thread FP/SIMD state, sleepers waking in deadline order,
//! and many timer expirations without a lost interrupt.

use crate::arch::timer;
use crate::ktest::{Failure, Suite, TestResult};
use crate::sched::deadline::DeadlineQueue;
use crate::sched::{self, sleep};
use crate::sync::IrqMutex;
use crate::{boot_info, check, check_eq, tests, time};
use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub static SUITE: Suite = Suite {
    name: "sched",
    tests: tests![
        deadline_queue_pops_earliest_first,
        deadline_queue_breaks_ties_in_insertion_order,
        deadline_queue_cancel_removes_only_that_key,
        deadline_queue_reinsert_moves_the_deadline,
        deadline_queue_keeps_what_is_not_due,
        spawned_thread_runs_and_is_joined,
        each_thread_runs_on_its_own_stack,
        thread_ids_are_never_reused,
        yield_lets_a_waiting_thread_run,
        busy_thread_cannot_starve_another,
        a_thread_woken_behind_a_busy_woken_one_waits_no_whole_slice,
        fp_simd_state_is_per_thread,
        sleeping_thread_wakes_no_earlier_than_its_deadline,
        hundred_sleepers_wake_in_deadline_order,
        ten_thousand_timer_expirations_none_lost,
        exited_threads_free_their_resources,
        kill_ends_a_wait_without_deadline,
        a_killed_thread_s_later_waits_end_at_once,
        detached_prepared_thread_frees_slot_stack_and_heap,
    ],
};

fn fail(why: alloc::string::String) -> TestResult {
    Err(Failure::Fail(why))
}

/// A small deterministic generator (xorshift64).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// `ns` as microseconds with three decimals (guest time under
/// `-icount shift=0` is one nanosecond per instruction).
pub struct Micros(pub i64);

impl core::fmt::Display for Micros {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let ns = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:03}", ns / 1000, ns % 1000)
    }
}

/// Median and maximum of `samples` (sorted in place), for lateness reports.
pub fn median_max(samples: &mut [i64]) -> (Micros, Micros) {
    samples.sort_unstable();
    (
        Micros(samples[samples.len() / 2]),
        Micros(samples[samples.len() - 1]),
    )
}

fn seed() -> u64 {
    0x5eed_0000_d1ce_0000 ^ boot_info().args.seed
}

fn deadline_queue_pops_earliest_first() -> TestResult {
    let mut q = DeadlineQueue::new();
    check!(q.reserve(64).is_ok());
    let mut deadlines: Vec<u64> = (0..64).map(|i| 1000 + 10 * i).collect();
    Rng::new(seed()).shuffle(&mut deadlines);
    for (key, &d) in deadlines.iter().enumerate() {
        q.insert(key, d);
    }
    check_eq!(q.len(), 64);
    let mut last = 0;
    while let Some((key, d)) = q.pop_expired(u64::MAX) {
        check!(d >= last, "{d} popped after {last}");
        check_eq!(deadlines[key], d);
        last = d;
    }
    check!(q.is_empty());
    Ok(())
}

fn deadline_queue_breaks_ties_in_insertion_order() -> TestResult {
    let mut q = DeadlineQueue::new();
    check!(q.reserve(8).is_ok());
    for key in [5, 2, 7, 0] {
        q.insert(key, 500);
    }
    let order: Vec<usize> = core::iter::from_fn(|| q.pop_expired(500).map(|(k, _)| k)).collect();
    check_eq!(order, [5, 2, 7, 0]);
    Ok(())
}

fn deadline_queue_cancel_removes_only_that_key() -> TestResult {
    let mut q = DeadlineQueue::new();
    check!(q.reserve(16).is_ok());
    for key in 0..16 {
        q.insert(key, 100 * (16 - key as u64));
    }
    check!(q.cancel(7));
    check!(!q.cancel(7), "a second cancel finds nothing");
    check!(!q.contains(7));
    let keys: Vec<usize> =
        core::iter::from_fn(|| q.pop_expired(u64::MAX).map(|(k, _)| k)).collect();
    let expected: Vec<usize> = (0..16).rev().filter(|&k| k != 7).collect();
    check_eq!(keys, expected);
    Ok(())
}

fn deadline_queue_reinsert_moves_the_deadline() -> TestResult {
    let mut q = DeadlineQueue::new();
    check!(q.reserve(4).is_ok());
    q.insert(0, 10);
    q.insert(1, 20);
    q.insert(0, 30);
    check_eq!(q.len(), 2);
    check_eq!(q.peek(), Some((1, 20)));
    check_eq!(q.pop_expired(u64::MAX), Some((1, 20)));
    check_eq!(q.pop_expired(u64::MAX), Some((0, 30)));
    Ok(())
}

fn deadline_queue_keeps_what_is_not_due() -> TestResult {
    let mut q = DeadlineQueue::new();
    check!(q.reserve(2).is_ok());
    q.insert(0, 50);
    q.insert(1, 60);
    check_eq!(q.pop_expired(49), None);
    check_eq!(q.pop_expired(50), Some((0, 50)));
    check_eq!(q.pop_expired(59), None);
    check_eq!(q.len(), 1);
    Ok(())
}

fn spawned_thread_runs_and_is_joined() -> TestResult {
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    let me = sched::current_id();
    let other = Arc::new(AtomicU64::new(0));
    let other_w = other.clone();
    let t = sched::spawn("ktest-runs", move || {
        other_w.store(sched::current_id().raw(), Ordering::Relaxed);
        flag.store(true, Ordering::Relaxed);
    })
    .map_err(|e| Failure::Fail(format!("spawn: {e:?}")))?;
    let id = t.id();
    t.join();
    check!(ran.load(Ordering::Relaxed));
    check_eq!(other.load(Ordering::Relaxed), id.raw());
    check!(id != me);
    check_eq!(sched::current_id(), me);
    Ok(())
}

fn each_thread_runs_on_its_own_stack() -> TestResult {
    let seen = Arc::new(IrqMutex::new(None));
    let out = seen.clone();
    let t = sched::spawn("ktest-stack", move || {
        let local = 0u8;
        let at = core::hint::black_box(&raw const local) as u64;
        *out.lock() = Some((sched::current_name(), sched::current_stack(), at));
    })
    .map_err(|e| Failure::Fail(format!("{e:?}")))?;
    t.join();
    let Some((name, stack, local)) = seen.lock().take() else {
        return fail("the thread recorded nothing".into());
    };
    check_eq!(name, "ktest-stack");
    let Some(stack) = stack else {
        return fail("a spawned thread has no stack of its own".into());
    };
    check!(
        stack.contains(&local),
        "local at {local:#x} outside {stack:x?}"
    );
    check_eq!(crate::layout::kernel_stack_around(local), stack);
    let here = 0u8;
    let boot_stack =
        crate::layout::kernel_stack_around(core::hint::black_box(&raw const here) as u64);
    check!(!boot_stack.contains(&local));
    check_eq!(sched::current_name(), "boot");
    check_eq!(sched::current_stack(), None);
    Ok(())
}

fn thread_ids_are_never_reused() -> TestResult {
    let mut seen = Vec::new();
    for _ in 0..8 {
        let t = sched::spawn("ktest-id", || {}).map_err(|e| Failure::Fail(format!("{e:?}")))?;
        check!(!seen.contains(&t.id()), "id {:?} came back", t.id());
        seen.push(t.id());
        t.join();
    }
    Ok(())
}

fn yield_lets_a_waiting_thread_run() -> TestResult {
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    let t = sched::spawn("ktest-yield", move || flag.store(true, Ordering::Relaxed))
        .map_err(|e| Failure::Fail(format!("{e:?}")))?;
    // The new thread is queued behind this one: one yield runs it (unless
    // a preemption got there first, which is no less correct).
    let preemptions = sched::stats().preemptions;
    sched::yield_now();
    let after_one = ran.load(Ordering::Relaxed);
    let preempted = sched::stats().preemptions != preemptions;
    t.join();
    check!(
        after_one || preempted,
        "one yield did not run the other thread"
    );
    Ok(())
}

/// How long the busy thread may spin before the test gives up on it.
const STARVATION_LIMIT: time::Duration = time::msec(2_000);

fn busy_thread_cannot_starve_another() -> TestResult {
    let stop = Arc::new(AtomicBool::new(false));
    let spins = Arc::new(AtomicU64::new(0));
    let (stop_b, spins_b) = (stop.clone(), spins.clone());
    let preemptions = sched::stats().preemptions;
    let give_up = time::deadline_after(STARVATION_LIMIT);
    // Never yields, never sleeps: only the timer can take the CPU from it.
    let busy = sched::spawn("ktest-busy", move || {
        while !stop_b.load(Ordering::Relaxed) && time::now() < give_up {
            spins_b.fetch_add(1, Ordering::Relaxed);
        }
    })
    .map_err(|e| Failure::Fail(format!("{e:?}")))?;
    let done = Arc::new(AtomicBool::new(false));
    let (done_c, spins_c) = (done.clone(), spins.clone());
    let other = sched::spawn("ktest-starved", move || {
        // Runs only when the busy thread is preempted. A preemption can
        // land before the busy thread's first spin (a loaded host moves the
        // guest clock in jumps), so yield back until it has spun: only a
        // further preemption lets this thread see its spins.
        while spins_c.load(Ordering::Relaxed) == 0 && time::now() < give_up {
            sched::yield_now();
        }
        done_c.store(spins_c.load(Ordering::Relaxed) > 0, Ordering::Relaxed);
    })
    .map_err(|e| Failure::Fail(format!("{e:?}")))?;
    other.join();
    let in_time = time::now() < give_up;
    stop.store(true, Ordering::Relaxed);
    busy.join();
    check!(
        done.load(Ordering::Relaxed),
        "the second thread never saw the busy one spin"
    );
    check!(in_time, "the second thread waited out the busy thread");
    check!(
        sched::stats().preemptions > preemptions,
        "no preemption counted"
    );
    Ok(())
}

/// Two threads made ready one after the other (spawned: both count as
/// woken), the first of which never blocks: once this thread blocks, the
/// second runs when the first's `WAKE_GRACE` is over, not after its whole
/// slice (`reschedule` gives a woken thread with others woken behind it
/// the grace only; a sleeper behind a task's exit once woke 5 ms late).
/// Tried up to three times: a host that stalls the guest for a slice can
/// delay one try, but the whole slice came every time before.
fn a_thread_woken_behind_a_busy_woken_one_waits_no_whole_slice() -> TestResult {
    let mut waited = 0;
    for _ in 0..3 {
        let stop = Arc::new(AtomicBool::new(false));
        let other_at = Arc::new(AtomicU64::new(0));
        let (stop_b, other_at_c) = (stop.clone(), other_at.clone());
        let give_up = time::deadline_after(STARVATION_LIMIT);
        let busy = sched::spawn("ktest-busy-woken", move || {
            while !stop_b.load(Ordering::Relaxed) && time::now() < give_up {
                core::hint::spin_loop();
            }
        })
        .map_err(|e| Failure::Fail(format!("{e:?}")))?;
        let other = sched::spawn("ktest-woken-behind", move || {
            other_at_c.store(time::now() as u64, Ordering::Relaxed);
        })
        .map_err(|e| Failure::Fail(format!("{e:?}")))?;
        // Blocks this thread: the busy one runs first, the other behind it
        // (which may even start before the busy one's first spin: a
        // thread's start can outlast the grace).
        let blocked_at = time::now();
        other.join();
        stop.store(true, Ordering::Relaxed);
        busy.join();
        waited = other_at.load(Ordering::Relaxed) as i64 - blocked_at;
        if waited < sched::TIME_SLICE {
            return Ok(());
        }
    }
    fail(format!(
        "the thread behind waited {waited} ns after this one blocked (slice {} ns)",
        sched::TIME_SLICE
    ))
}

core::arch::global_asm!(
    ".arch_extension fp",
    ".arch_extension simd",
    ".section .text.ktest_fp, \"ax\"",
    // ktest_fp_fill(pattern, fpcr): q_i = { pattern + i, !(pattern + i) }.
    ".global ktest_fp_fill",
    "ktest_fp_fill:",
    "msr fpcr, x1",
    ".irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31",
    "add x2, x0, #\\i",
    "mvn x3, x2",
    "fmov d\\i, x2",
    "mov v\\i\\().d[1], x3",
    ".endr",
    "ret",
    // ktest_fp_check(pattern, fpcr) -> number of registers that differ.
    ".global ktest_fp_check",
    "ktest_fp_check:",
    "mov x4, #0",
    ".irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31",
    "add x2, x0, #\\i",
    "mvn x3, x2",
    "fmov x5, d\\i",
    "mov x6, v\\i\\().d[1]",
    "cmp x5, x2",
    "ccmp x6, x3, #0, eq",
    "cinc x4, x4, ne",
    ".endr",
    "mrs x5, fpcr",
    "cmp x5, x1",
    "cinc x4, x4, ne",
    "mov x0, x4",
    "ret",
);

unsafe extern "C" {
    fn ktest_fp_fill(pattern: u64, fpcr: u64);
    fn ktest_fp_check(pattern: u64, fpcr: u64) -> u64;
}

/// FPCR values with different rounding modes (bits 23:22) and FZ/DN.
const FPCR_ROUND_DOWN_FZ: u64 = (0b10 << 22) | (1 << 24);
const FPCR_ROUND_ZERO_DN: u64 = (0b11 << 22) | (1 << 25);
/// How long the spinning thread spins: a few time slices.
const FP_SPIN: time::Duration = time::msec(12);
/// How often the yielding thread yields.
const FP_YIELDS: usize = 50;

fn fp_simd_state_is_per_thread() -> TestResult {
    let mismatches = Arc::new([AtomicU64::new(u64::MAX), AtomicU64::new(u64::MAX)]);
    let m_a = mismatches.clone();
    let yielder = sched::spawn("ktest-fp-yield", move || {
        // SAFETY: writes only V registers and FPCR, which the kernel never uses.
        unsafe { ktest_fp_fill(0xa000_0000_0000_0000, FPCR_ROUND_DOWN_FZ) };
        for _ in 0..FP_YIELDS {
            sched::yield_now();
        }
        // SAFETY: reads V registers and FPCR only.
        let bad = unsafe { ktest_fp_check(0xa000_0000_0000_0000, FPCR_ROUND_DOWN_FZ) };
        m_a[0].store(bad, Ordering::Relaxed);
    })
    .map_err(|e| Failure::Fail(format!("{e:?}")))?;
    let m_b = mismatches.clone();
    let spinner = sched::spawn("ktest-fp-spin", move || {
        // SAFETY: as above.
        unsafe { ktest_fp_fill(0xb000_0000_0000_0000, FPCR_ROUND_ZERO_DN) };
        // Preempted (by the timer, in an IRQ) several times meanwhile.
        let end = time::deadline_after(FP_SPIN);
        while time::now() < end {
            core::hint::spin_loop();
        }
        // SAFETY: as above.
        let bad = unsafe { ktest_fp_check(0xb000_0000_0000_0000, FPCR_ROUND_ZERO_DN) };
        m_b[1].store(bad, Ordering::Relaxed);
    })
    .map_err(|e| Failure::Fail(format!("{e:?}")))?;
    yielder.join();
    spinner.join();
    check_eq!(mismatches[0].load(Ordering::Relaxed), 0);
    check_eq!(mismatches[1].load(Ordering::Relaxed), 0);
    Ok(())
}

fn sleeping_thread_wakes_no_earlier_than_its_deadline() -> TestResult {
    for us in [1, 50, 1000, 3000] {
        let deadline = time::deadline_after(time::usec(us));
        check_eq!(sleep::nanosleep(deadline), abi::ZX_OK);
        let now = time::now();
        check!(now >= deadline, "woke {} ns early", deadline - now);
        check!(sched::wait_outcome().timed_out);
    }
    Ok(())
}

/// Sleepers in the ordering test.
const SLEEPERS: usize = 100;
/// Distinct deadlines this far apart (many counter ticks on every board).
const SLEEPER_SPACING: time::Duration = time::usec(100);
/// The first deadline is this far after the test starts, so every sleeper
/// is asleep before any deadline passes.
const SLEEPER_START: time::Duration = time::msec(250);

#[derive(Clone, Copy, Default)]
struct Woken {
    deadline: time::Time,
    at: time::Time,
    seq: u64,
    timed_out: bool,
}

fn hundred_sleepers_wake_in_deadline_order() -> TestResult {
    let mut offsets: Vec<i64> = (0..SLEEPERS as i64).collect();
    Rng::new(seed()).shuffle(&mut offsets);
    // The deadlines are fixed once every sleeper exists (spawning is slow
    // under TCG on a loaded host): the sleepers wait for `BASE`.
    use core::sync::atomic::{AtomicI64, Ordering};
    static BASE: AtomicI64 = AtomicI64::new(0);
    BASE.store(0, Ordering::SeqCst);
    let results = Arc::new(IrqMutex::new(alloc::vec![Woken::default(); SLEEPERS]));
    let mut threads = Vec::new();
    for (i, &k) in offsets.iter().enumerate() {
        let results = results.clone();
        let t = sched::spawn("ktest-sleeper", move || {
            let base = loop {
                match BASE.load(Ordering::SeqCst) {
                    0 => sched::yield_now(),
                    base => break base,
                }
            };
            let deadline = base + k * SLEEPER_SPACING;
            let all_woken = base + SLEEPERS as i64 * SLEEPER_SPACING + SLEEPER_SPACING;
            sleep::nanosleep(deadline);
            let at = time::now();
            let outcome = sched::wait_outcome();
            results.lock()[i] = Woken {
                deadline,
                at,
                seq: outcome.wake_seq,
                timed_out: outcome.timed_out,
            };
            // Exit (and free the stack) only once every sleeper has woken,
            // so exits do not delay the wake-ups being measured.
            sleep::nanosleep(all_woken);
        });
        match t {
            Ok(t) => threads.push(t),
            Err(e) => {
                threads.into_iter().for_each(sched::JoinHandle::join);
                return fail(format!("spawn {i}: {e:?}"));
            }
        }
    }
    let start = time::now();
    let base = start + SLEEPER_START;
    BASE.store(base, Ordering::SeqCst);
    threads.into_iter().for_each(sched::JoinHandle::join);
    let mut woken = results.lock().clone();
    for w in &woken {
        check!(w.timed_out && w.seq != 0, "a sleeper did not sleep");
        check!(w.at >= w.deadline, "woke {} ns early", w.deadline - w.at);
    }
    woken.sort_by_key(|w| w.seq);
    for pair in woken.windows(2) {
        check!(
            pair[0].deadline < pair[1].deadline,
            "deadline {} woke after {}",
            pair[0].deadline,
            pair[1].deadline
        );
    }
    let mut late: Vec<i64> = woken.iter().map(|w| w.at - w.deadline).collect();
    let (median, max) = median_max(&mut late);
    crate::console::diag(format_args!(
        "{SLEEPERS} sleepers: wake-up lateness median {median} µs, max {max} µs"
    ));
    Ok(())
}

/// Timer expirations in the lost-interrupt test.
const EXPIRATIONS: u64 = 10_000;
/// Each sleep is this short, so the test stays quick.
const SHORT_SLEEP: time::Duration = time::usec(20);

fn ten_thousand_timer_expirations_none_lost() -> TestResult {
    let irqs = timer::expirations();
    let fired = sched::stats().deadline_expirations;
    let mut late = Vec::with_capacity(EXPIRATIONS as usize);
    for n in 0..EXPIRATIONS {
        let deadline = time::deadline_after(SHORT_SLEEP);
        sleep::nanosleep(deadline);
        let now = time::now();
        check!(
            now >= deadline,
            "sleep {n} woke {} ns early",
            deadline - now
        );
        late.push(now - deadline);
    }
    let irqs = timer::expirations() - irqs;
    let fired = sched::stats().deadline_expirations - fired;
    check_eq!(fired, EXPIRATIONS);
    check!(
        irqs >= EXPIRATIONS,
        "{irqs} timer interrupts for {EXPIRATIONS} deadlines"
    );
    let (median, max) = median_max(&mut late);
    crate::console::diag(format_args!(
        "{EXPIRATIONS} sleeps of {} µs: lateness median {median} µs, max {max} µs",
        Micros(SHORT_SLEEP)
    ));
    Ok(())
}

fn exited_threads_free_their_resources() -> TestResult {
    use core::sync::atomic::{AtomicBool, Ordering};
    // The batch waits for this, so none can exit before it is counted
    // (spawning is slow enough under TCG for a preempted batch to finish).
    static RELEASE: AtomicBool = AtomicBool::new(false);
    let live = sched::stats().live_threads;
    let frames = crate::mm::frame::free_frames();
    for _ in 0..3 {
        RELEASE.store(false, Ordering::SeqCst);
        let batch: Vec<_> = (0..20)
            .filter_map(|_| {
                sched::spawn("ktest-batch", || {
                    while !RELEASE.load(Ordering::SeqCst) {
                        sched::yield_now();
                    }
                })
                .ok()
            })
            .collect();
        let counted = sched::stats().live_threads;
        RELEASE.store(true, Ordering::SeqCst);
        let spawned = batch.len();
        batch.into_iter().for_each(sched::JoinHandle::join);
        check_eq!(spawned, 20);
        check_eq!(counted, live + 20);
    }
    // A detached thread frees itself when it exits.
    let detached =
        sched::spawn("ktest-detached", || {}).map_err(|e| Failure::Fail(format!("{e:?}")))?;
    drop(detached);
    sched::yield_now();
    check_eq!(sched::stats().live_threads, live);
    check_eq!(crate::mm::frame::free_frames(), frames);
    Ok(())
}

/// A wait that nothing will end (no deadline, no waker) ends when the
/// thread is killed, with `killed` in its outcome.
fn kill_ends_a_wait_without_deadline() -> TestResult {
    let outcome = Arc::new(IrqMutex::new(None));
    let out = outcome.clone();
    let t = sched::spawn("ktest-killed", move || {
        sched::wait_prepare(None);
        *out.lock() = Some(sched::wait_block());
    })
    .map_err(|e| Failure::Fail(format!("spawn: {e:?}")))?;
    let id = t.id();
    // Let it block.
    sched::yield_now();
    check!(sched::is_blocked(id), "the thread did not block");
    check!(sched::kill(id));
    t.join();
    let Some(outcome) = *outcome.lock() else {
        return fail("the wait never ended".into());
    };
    check!(outcome.killed);
    check!(!outcome.timed_out && outcome.signals.is_none());
    Ok(())
}

/// Once killed, a thread's every later wait ends at once, so a kill that
/// lands before the wait begins is not lost.
fn a_killed_thread_s_later_waits_end_at_once() -> TestResult {
    let outcomes = Arc::new(IrqMutex::new(Vec::new()));
    let out = outcomes.clone();
    let t = sched::spawn("ktest-killed-early", move || {
        sched::kill(sched::current_id());
        for _ in 0..2 {
            sched::wait_prepare(None);
            let o = sched::wait_block();
            out.lock().push(o.killed);
        }
        // A sleep ends at once too.
        sleep::nanosleep(time::ZX_TIME_INFINITE);
        out.lock().push(true);
    })
    .map_err(|e| Failure::Fail(format!("spawn: {e:?}")))?;
    t.join();
    check_eq!(outcomes.lock().as_slice(), &[true, true, true][..]);
    Ok(())
}

/// A detached thread started on a prepared stack holds no heap for its
/// entry, and its slot, stack and frames go when it exits.
fn detached_prepared_thread_frees_slot_stack_and_heap() -> TestResult {
    static TOP: AtomicU64 = AtomicU64::new(0);
    static SEEN: AtomicU64 = AtomicU64::new(0);
    fn entry() {
        let top = TOP.load(Ordering::SeqCst);
        // SAFETY: `prepare` wrote this word at the top of this thread's stack.
        let word = unsafe { ((top - 8) as *const u64).read_volatile() };
        SEEN.store(word, Ordering::SeqCst);
    }
    let spawn_one = || {
        sched::spawn_detached_prepared(
            "ktest-prepared",
            crate::vm::domain::KERNEL,
            |top| {
                TOP.store(top, Ordering::SeqCst);
                // SAFETY: the top reserve of the fresh stack is the caller's.
                unsafe { ((top - 8) as *mut u64).write_volatile(0x5eed) };
            },
            entry,
        )
        .map_err(|e| Failure::Fail(format!("spawn: {e:?}")))
    };
    // Each thread has run and gone before the next is made: `TOP` is one
    // word, and a thread still waiting to run (on another CPU, late) would
    // read the next one's stack after it was freed. It runs behind this
    // thread on one CPU, or on another CPU at once; the deadline only
    // bounds a failure.
    let live = sched::stats().live_threads;
    let run_one = || -> TestResult {
        SEEN.store(0, Ordering::SeqCst);
        spawn_one()?;
        let end = crate::time::deadline_after(crate::time::msec(10_000));
        while SEEN.load(Ordering::SeqCst) == 0 || sched::stats().live_threads != live {
            if crate::time::now() >= end {
                // Stop here: the thread may still read `TOP`, which is its own.
                return fail(format!(
                    "a prepared thread did not run and go within 10 s (seen {:#x})",
                    SEEN.load(Ordering::SeqCst)
                ));
            }
            sched::yield_now();
        }
        check_eq!(SEEN.load(Ordering::SeqCst), 0x5eed);
        Ok(())
    };
    // Warm up: the scheduler's tables reach their size.
    run_one()?;
    let frames = crate::mm::frame::free_frames();
    let heap = crate::mm::heap::stats().allocated_bytes;
    for _ in 0..16 {
        run_one()?;
    }
    check_eq!(sched::stats().live_threads, live);
    check_eq!(crate::mm::frame::free_frames(), frames);
    check_eq!(crate::mm::heap::stats().allocated_bytes, heap);
    Ok(())
}
