//! Timer objects (`zx_timer_create`, `zx_timer_set`, `zx_timer_cancel`).

use crate::handle::handle_type;
use crate::sys;
use crate::{AsHandleRef, Duration, Handle, Status, Time};
use abi::Syscall;

handle_type!(
    /// A timer: asserts `TIMER_SIGNALED` once its deadline (within its
    /// slack) has passed.
    Timer
);

/// How a timer may be coalesced with others (`zx_timer_create`'s options).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerSlack {
    /// Fires within `deadline ± slack` (`ZX_TIMER_SLACK_CENTER`, 0).
    Center,
    /// Fires within `deadline - slack ..= deadline` (`ZX_TIMER_SLACK_EARLY`).
    Early,
    /// Fires within `deadline ..= deadline + slack` (`ZX_TIMER_SLACK_LATE`).
    Late,
}

impl TimerSlack {
    /// The option value.
    pub const fn into_raw(self) -> u32 {
        match self {
            TimerSlack::Center => abi::ZX_TIMER_SLACK_CENTER,
            TimerSlack::Early => abi::ZX_TIMER_SLACK_EARLY,
            TimerSlack::Late => abi::ZX_TIMER_SLACK_LATE,
        }
    }
}

impl Timer {
    /// A monotonic timer with `ZX_TIMER_SLACK_CENTER`.
    pub fn create() -> Result<Timer, Status> {
        Timer::create_raw(abi::ZX_TIMER_SLACK_CENTER, abi::ZX_CLOCK_MONOTONIC)
    }

    /// A monotonic timer with the given slack mode.
    pub fn create_with_slack(slack: TimerSlack) -> Result<Timer, Status> {
        Timer::create_raw(slack.into_raw(), abi::ZX_CLOCK_MONOTONIC)
    }

    /// `zx_timer_create(options, clock_id)` with any values.
    pub fn create_raw(options: u32, clock_id: u32) -> Result<Timer, Status> {
        let mut out = 0;
        // SAFETY: `out` is a valid place for the handle.
        let st = unsafe {
            sys::status(
                Syscall::TimerCreate,
                [
                    u64::from(options),
                    u64::from(clock_id),
                    &raw mut out as u64,
                    0,
                    0,
                    0,
                    0,
                    0,
                ],
            )
        };
        Status::ok(st).map(|()| Timer(Handle::from_raw(out)))
    }

    /// `zx_timer_set`: fires once `deadline` passes, within `slack`.
    pub fn set(&self, deadline: Time, slack: Duration) -> Result<(), Status> {
        // SAFETY: only values are passed.
        Status::ok(unsafe {
            sys::status(
                Syscall::TimerSet,
                [
                    u64::from(self.raw_handle()),
                    deadline.into_nanos() as u64,
                    slack.into_nanos() as u64,
                    0,
                    0,
                    0,
                    0,
                    0,
                ],
            )
        })
    }

    /// `zx_timer_cancel`: disarms it and de-asserts `TIMER_SIGNALED`.
    pub fn cancel(&self) -> Result<(), Status> {
        // SAFETY: only a value is passed.
        Status::ok(unsafe {
            sys::status(
                Syscall::TimerCancel,
                [u64::from(self.raw_handle()), 0, 0, 0, 0, 0, 0, 0],
            )
        })
    }
}
