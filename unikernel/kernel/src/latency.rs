//! Bounded IRQs-masked time (DESIGN.md, "Bounded latency"): the longest
//! interval this CPU ran with IRQs masked, and the preemption points long
//! operations take between their bounded steps.
//!
//! An interval starts where IRQs go from unmasked to masked (an exception
//! from EL0 or from unmasked kernel code, [`crate::arch::irq_save`] from an
//! unmasked state) and ends where they are unmasked again (a return to
//! EL0 or to unmasked kernel code, [`crate::arch::irq_restore`],
//! [`crate::arch::irq_enable`], a preemption point). A thread switch
//! inside an interval keeps it going: the CPU stays masked across it.

use crate::arch;
use crate::sched::MAX_CPUS;
use core::sync::atomic::{AtomicU64, Ordering};

/// Per CPU: when IRQs were last masked (counter ticks).
static SINCE: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

/// The longest interval since [`longest_ns`] last read it, in ticks. One
/// word for all CPUs: a plain load and store keep the hot paths short; two
/// CPUs ending intervals at once could lose one update (secondary cores
/// are parked today, so none is lost).
static RECENT: AtomicU64 = AtomicU64::new(0);

/// The longest interval before the last read, in ticks.
static LONGEST: AtomicU64 = AtomicU64::new(0);

#[inline(always)]
fn since() -> &'static AtomicU64 {
    &SINCE[arch::context::cpu_index() % MAX_CPUS]
}

/// IRQs were just masked (they were not).
#[inline(always)]
pub fn masked_begin() {
    since().store(arch::counter(), Ordering::Relaxed);
}

/// IRQs are about to be unmasked: the interval that began at the last
/// [`masked_begin`] ends.
#[inline(always)]
pub fn masked_end() {
    masked_since(since().load(Ordering::Relaxed));
}

/// An interval that began at counter value `start` ends now (for a path
/// that keeps its start in a register instead of [`masked_begin`]).
#[inline(always)]
pub fn masked_since(start: u64) {
    let took = arch::counter().wrapping_sub(start);
    if took > RECENT.load(Ordering::Relaxed) {
        RECENT.store(took, Ordering::Relaxed);
    }
}

/// The longest IRQs-masked interval since boot, and the longest since the
/// previous call, in nanoseconds (the second is reset by the call).
pub fn longest_ns() -> (u64, u64) {
    let recent = RECENT.swap(0, Ordering::Relaxed);
    let all = LONGEST.fetch_max(recent, Ordering::Relaxed).max(recent);
    let ns = |ticks| crate::time::ticks_to_ns(ticks, arch::counter_frequency());
    (ns(all), ns(recent))
}

/// Lets a pending interrupt in (and the scheduler switch threads) if the
/// caller runs with IRQs masked only because it came in through an
/// exception: a long operation calls this between its bounded steps,
/// holding no lock. Where IRQs are unmasked already, it does nothing.
#[inline]
pub fn preempt_point() {
    if !arch::irqs_masked() {
        return;
    }
    masked_end();
    arch::irq_window();
    masked_begin();
}
