//! `mode=run`, second part: one thread serves three sources through one
//! port — a periodic timer, an event another task signals, and that
//! task's end — printing each packet as it arrives and when.

use crate::println;
use zx::{
    AsHandleRef, Duration, Event, Handle, PacketContents, Port, Rights, Signals, Status, Time,
    Timer, WaitAsyncOpts,
};

const TIMER_KEY: u64 = 1;
const EVENT_KEY: u64 = 2;
const TASK_KEY: u64 = 3;
/// The timer's period.
const PERIOD: Duration = Duration::from_millis(2);
/// Timer ticks to serve before the demo may end.
const TICKS: u32 = 4;

/// The other task: signals the event after 5 ms, ends 2 ms later.
fn signaller(hs: [abi::Handle; 4]) {
    let event = Event::from(Handle::from_raw(hs[0]));
    Duration::from_millis(5).sleep();
    let _ = event.signal_handle(Signals::NONE, Signals::USER_0);
    Duration::from_millis(2).sleep();
    zx::exit(0);
}

/// Runs the port demo.
pub fn run() -> Result<(), Status> {
    let port = Port::create()?;
    let timer = Timer::create()?;
    let event = Event::create()?;
    timer.wait_async_handle(
        &port,
        TIMER_KEY,
        Signals::TIMER_SIGNALED,
        WaitAsyncOpts::Repeating,
    )?;
    event.wait_async_handle(&port, EVENT_KEY, Signals::USER_0, WaitAsyncOpts::Once)?;
    let start = Time::get_monotonic();
    timer.set(Time::after(PERIOD), Duration::from_nanos(0))?;
    let task = crate::harness::spawn_with(
        signaller,
        &mut [event.duplicate_handle(Rights::SAME_RIGHTS)?],
    )?;
    task.wait_async_handle(
        &port,
        TASK_KEY,
        Signals::TASK_TERMINATED,
        WaitAsyncOpts::Once,
    )?;
    println!(
        "demo: port: one thread serves a {} ms timer, an event signalled by another task and that task's end",
        PERIOD.into_nanos() / 1_000_000
    );
    let (mut ticks, mut event_seen, mut ended) = (0, false, false);
    let give_up = Time::after(Duration::from_seconds(2));
    while ticks < TICKS || !event_seen || !ended {
        let packet = port.wait(give_up)?;
        let at_us = (Time::get_monotonic().into_nanos() - start.into_nanos()) / 1000;
        let observed = match packet.contents() {
            PacketContents::SignalOne(s) | PacketContents::SignalRep(s) => s.observed(),
            _ => Signals::NONE,
        };
        match packet.key() {
            TIMER_KEY => {
                ticks += 1;
                println!(
                    "demo: port: +{at_us} us timer tick {ticks} (observed {:#x})",
                    observed.bits()
                );
                // Periodic: set again (de-asserts the signal until the next deadline).
                timer.set(Time::after(PERIOD), Duration::from_nanos(0))?;
            }
            EVENT_KEY => {
                event_seen = true;
                println!(
                    "demo: port: +{at_us} us event from another task (observed {:#x})",
                    observed.bits()
                );
            }
            TASK_KEY => {
                ended = true;
                println!(
                    "demo: port: +{at_us} us the other task ended (observed {:#x})",
                    observed.bits()
                );
            }
            key => println!("demo: port: +{at_us} us unexpected key {key}"),
        }
    }
    timer.cancel()?;
    port.cancel(&timer, TIMER_KEY)?;
    println!(
        "demo: port: {ticks} ticks, the event and the task's end, all through one port_wait loop"
    );
    Ok(())
}
