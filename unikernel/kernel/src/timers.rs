//! Timer objects (`zx_timer_create`, `zx_timer_set`, `zx_timer_cancel`):
//! kernel-owned objects whose signal state lives in the object space, like
//! a task's. Each armed timer has a window `[earliest, latest]` in counter
//! ticks from its deadline, slack and slack mode (CENTER: deadline ± slack,
//! EARLY: deadline − slack..deadline, LATE: deadline..deadline + slack).
//!
//! Armed timers wait in one [`DeadlineQueue`] keyed by timer slot, ordered
//! by `latest`: the virtual timer is programmed for the earliest `latest`
//! (besides the scheduler's own deadlines, [`next_due`]). The interrupt
//! fires every timer whose `latest` has passed and then, coalescing, the
//! next timers in that order whose window has opened (`earliest` ≤ now):
//! timers whose windows overlap the one that triggered it fire in the same
//! interrupt. Each interrupt fires at most [`FIRE_PER_IRQ`] timers and
//! examines one more; any left due re-arm the timer at once, so the
//! IRQs-masked time is bounded whatever the number of timers.
//!
//! Lock order: the object space's lock, then this one, then the
//! scheduler's (a fired timer's signal wakes waiters).

use crate::objects;
use crate::sched::deadline::DeadlineQueue;
use crate::sync::IrqMutex;
use crate::time::{self, Time};
use abi::*;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use object::SignalsId;

/// Most timers fired by one interrupt.
pub const FIRE_PER_IRQ: usize = 16;

/// A timer handle's rights: the era's `ZX_DEFAULT_TIMER_RIGHTS` plus READ,
/// which `zx_timer_create.md` lists ("DUPLICATE, TRANSFER, READ and
/// WRITE") and the era's header leaves out: the page wins.
pub const TIMER_RIGHTS: Rights = ZX_DEFAULT_TIMER_RIGHTS | ZX_RIGHT_READ;

/// The counter value at which the next armed timer must fire (`u64::MAX`:
/// none). Read by the scheduler when it programs the virtual timer.
static NEXT: AtomicU64 = AtomicU64::new(u64::MAX);

/// Which timer: a slot and its generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, align(8))]
pub struct TimerId {
    slot: u32,
    generation: u32,
}

struct Timer {
    generation: u32,
    signals: SignalsId,
    options: u32,
    /// The window's opening, in ticks, while armed.
    earliest: u64,
}

struct Timers {
    slots: Vec<Option<Timer>>,
    generations: Vec<u32>,
    free: Vec<u32>,
    queue: DeadlineQueue,
}

static TIMERS: IrqMutex<Timers> = crate::sync::ranked(
    crate::sync::Rank::Timers,
    Timers {
        slots: Vec::new(),
        generations: Vec::new(),
        free: Vec::new(),
        queue: DeadlineQueue::new(),
    },
);

impl Timers {
    fn get(&mut self, id: TimerId) -> Option<&mut Timer> {
        self.slots
            .get_mut(id.slot as usize)?
            .as_mut()
            .filter(|t| t.generation == id.generation)
    }

    /// Takes a slot for a new timer; room to queue every slot is reserved,
    /// so arming one never allocates.
    fn insert(&mut self, signals: SignalsId, options: u32) -> Result<TimerId, Status> {
        let no_memory = |_| ZX_ERR_NO_MEMORY;
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                let n = self.slots.len();
                self.slots.try_reserve(1).map_err(no_memory)?;
                self.generations.try_reserve(1).map_err(no_memory)?;
                self.free.try_reserve(n + 1).map_err(no_memory)?;
                self.queue.reserve(n + 1).map_err(no_memory)?;
                self.slots.push(None);
                self.generations.push(0);
                n as u32
            }
        };
        let generation = self.generations[slot as usize].wrapping_add(1);
        self.generations[slot as usize] = generation;
        self.slots[slot as usize] = Some(Timer {
            generation,
            signals,
            options,
            earliest: 0,
        });
        Ok(TimerId { slot, generation })
    }

    fn remove(&mut self, id: TimerId) {
        if self.get(id).is_some() {
            self.queue.cancel(id.slot as usize);
            self.slots[id.slot as usize] = None;
            self.free.push(id.slot);
            self.publish();
        }
    }

    /// Publishes the next `latest` for the scheduler.
    fn publish(&self) {
        let next = self.queue.peek().map_or(u64::MAX, |(_, d)| d);
        NEXT.store(next, Ordering::Release);
    }
}

/// The counter value at which the next armed timer must fire, if any.
pub fn next_due() -> Option<u64> {
    match NEXT.load(Ordering::Acquire) {
        u64::MAX => None,
        t => Some(t),
    }
}

/// `[earliest, latest]` in ns of a timer set to `deadline` with `slack`
/// (≥ 0) under `options`.
pub fn window(options: u32, deadline: Time, slack: i64) -> (Time, Time) {
    let early = deadline.saturating_sub(slack);
    let late = deadline.saturating_add(slack);
    match options {
        ZX_TIMER_SLACK_EARLY => (early, deadline),
        ZX_TIMER_SLACK_LATE => (deadline, late),
        _ => (early, late),
    }
}

/// `zx_timer_create`: `options` one of the SLACK modes, `clock_id`
/// `ZX_CLOCK_MONOTONIC`. The timer is a kernel object in `table`.
pub fn create(table: object::TableId, options: u32, clock_id: u32) -> Result<Handle, Status> {
    if !matches!(
        options,
        ZX_TIMER_SLACK_CENTER | ZX_TIMER_SLACK_EARLY | ZX_TIMER_SLACK_LATE
    ) || clock_id != ZX_CLOCK_MONOTONIC
    {
        return Err(ZX_ERR_INVALID_ARGS);
    }
    objects::with(|s| {
        let (signals, koid) = s.kernel_signals_create()?;
        let id = match TIMERS.lock().insert(signals, options) {
            Ok(id) => id,
            Err(e) => {
                s.kernel_signals_release(signals);
                return Err(e);
            }
        };
        let object = crate::task::KObject::Timer { id, koid, signals };
        s.install_kernel_object(table, object, TIMER_RIGHTS)
            .inspect_err(|_| {
                TIMERS.lock().remove(id);
                s.kernel_signals_release(signals);
            })
    })
}

/// The timer `handle` names, with WRITE checked.
fn timer_of(s: &objects::Space, table: object::TableId, handle: Handle) -> Result<TimerId, Status> {
    let e = s.entry(table, handle)?;
    let object::Object::Kernel(crate::task::KObject::Timer { id, .. }) = &e.object else {
        return Err(ZX_ERR_WRONG_TYPE);
    };
    if e.rights & ZX_RIGHT_WRITE == 0 {
        return Err(ZX_ERR_ACCESS_DENIED);
    }
    Ok(*id)
}

/// `zx_timer_set`: (re-)arms the timer for `deadline` with `slack`,
/// de-asserting `ZX_TIMER_SIGNALED`; a deadline at or before now (0 or
/// less included) fires it at once; `ZX_TIME_INFINITE` never fires.
pub fn set(
    table: object::TableId,
    handle: Handle,
    deadline: Time,
    slack: i64,
) -> Result<(), Status> {
    // Before the handle, as the era's kernel checked it.
    if slack < 0 {
        return Err(ZX_ERR_OUT_OF_RANGE);
    }
    objects::with(|s| {
        let id = timer_of(s, table, handle)?;
        let mut timers = TIMERS.lock();
        let Some(t) = timers.get(id) else {
            return Err(ZX_ERR_BAD_HANDLE);
        };
        let (signals, options) = (t.signals, t.options);
        let (earliest, latest) = window(options, deadline, slack);
        let earliest = time::deadline_to_ticks(earliest).unwrap_or(u64::MAX);
        t.earliest = earliest;
        timers.queue.cancel(id.slot as usize);
        s.kernel_signal(signals, ZX_TIMER_SIGNALED, 0);
        let now = crate::arch::timer::now();
        match time::deadline_to_ticks(latest) {
            None => {}
            Some(at) if at <= now || deadline <= 0 => {
                s.kernel_signal(signals, 0, ZX_TIMER_SIGNALED);
            }
            Some(at) => timers.queue.insert(id.slot as usize, at),
        }
        timers.publish();
        Ok(())
    })?;
    crate::sched::reprogram_timer();
    Ok(())
}

/// `zx_timer_cancel`: disarms the timer and de-asserts `ZX_TIMER_SIGNALED`
/// (before any `zx_timer_set` it has no effect).
pub fn cancel(table: object::TableId, handle: Handle) -> Result<(), Status> {
    objects::with(|s| {
        let id = timer_of(s, table, handle)?;
        let mut timers = TIMERS.lock();
        let Some(t) = timers.get(id) else {
            return Err(ZX_ERR_BAD_HANDLE);
        };
        let signals = t.signals;
        timers.queue.cancel(id.slot as usize);
        timers.publish();
        s.kernel_signal(signals, ZX_TIMER_SIGNALED, 0);
        Ok(())
    })
}

/// The last handle to timer `id` closed: it is disarmed and its slot freed
/// (called under the object space's lock).
pub fn unreferenced(id: TimerId) {
    TIMERS.lock().remove(id);
}

/// From the timer interrupt (the scheduler's lock released): fires the
/// timers due at `now` and coalesces those whose window has opened, at
/// most [`FIRE_PER_IRQ`]; true if it changed what is armed (program the
/// timer again: at once, if some are still due).
pub fn on_interrupt(now: u64) -> bool {
    if NEXT.load(Ordering::Acquire) > now {
        return false;
    }
    objects::with(|s| {
        let mut timers = TIMERS.lock();
        let mut fired = 0;
        while fired < FIRE_PER_IRQ {
            let Some((slot, latest)) = timers.queue.peek() else {
                break;
            };
            let Some(t) = timers.slots[slot].as_ref() else {
                timers.queue.cancel(slot);
                continue;
            };
            // Due, or its window open (coalesced with the ones due).
            if latest > now && t.earliest > now {
                break;
            }
            let signals = t.signals;
            timers.queue.cancel(slot);
            s.kernel_signal(signals, 0, ZX_TIMER_SIGNALED);
            fired += 1;
        }
        timers.publish();
    });
    true
}
