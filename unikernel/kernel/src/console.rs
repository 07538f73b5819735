//! The kernel console: `print!`/`println!`, a levelled log, and KTAP
//! diagnostics. Every write goes whole into one ring under one lock, so
//! concurrent writers never interleave inside a line and the KTAP document
//! parses; the UART is fed from the ring a byte at a time, never waited
//! for with interrupts masked.

use crate::drivers::pl011::Pl011;
use crate::sync::IrqMutex;
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

static CONSOLE: IrqMutex<Console> = crate::sync::ranked(
    crate::sync::Rank::Console,
    Console {
        uart: None,
        ring: [0; RING],
        head: 0,
        len: 0,
    },
);

/// Bytes of console output the kernel holds before the UART takes them.
/// At 115200 baud (a real Pi 4) the UART sends ~11.5 bytes a millisecond:
/// a writer that waited for it under the console lock would keep
/// interrupts masked for ~44 ms per 512-byte line. Writers append whole
/// lines here under the lock instead (microseconds) and then feed the UART
/// a byte per lock hold, with interrupts on between bytes.
const RING: usize = 8192;

/// Room a writer makes (feeding the UART with interrupts on) before it
/// takes the lock for its line: lines up to this long never wait for the
/// UART under the lock, unless other writers filled the ring meanwhile.
const ROOM: usize = RING / 2;

struct Console {
    uart: Option<Pl011>,
    ring: [u8; RING],
    /// Oldest byte not yet sent.
    head: usize,
    len: usize,
}

impl Console {
    /// Sends the oldest held byte if the UART has room; whether it did.
    fn send_one(&mut self) -> bool {
        let Some(uart) = self.uart.as_ref() else {
            return false;
        };
        if self.len == 0 || !uart.try_write_byte(self.ring[self.head]) {
            return false;
        }
        self.head = (self.head + 1) % RING;
        self.len -= 1;
        true
    }

    fn push(&mut self, byte: u8) {
        if self.len == RING {
            // Output outran the UART by a whole ring: wait for it here
            // (the line must stay whole) — rare, and bounded by the line.
            while !self.send_one() {
                core::hint::spin_loop();
            }
        }
        self.ring[(self.head + self.len) % RING] = byte;
        self.len += 1;
    }
}

impl Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for byte in s.bytes() {
            if byte == b'\n' {
                self.push(b'\r');
            }
            self.push(byte);
        }
        Ok(())
    }
}

/// Makes `uart` the console. Called once, before the MMU is on, so
/// without the lock (see [`write_fmt`]).
pub fn init(uart: Pl011) {
    debug_assert!(!crate::arch::mmu_and_caches_on());
    // SAFETY: before the MMU is on one CPU runs, with interrupts masked,
    // and nothing has taken the console lock (no lock can be taken yet).
    unsafe { (*CONSOLE.data_ptr()).uart = Some(uart) };
}

/// Writes formatted text as one piece (concurrent writers never
/// interleave inside it); dropped before a console exists. Before the MMU
/// is on it writes straight to the UART without the lock: no lock can be
/// taken then (`sync`), and none is needed (one CPU runs, interrupts
/// masked).
pub fn write_fmt(args: fmt::Arguments) {
    if !crate::arch::mmu_and_caches_on() {
        // SAFETY: as above; nothing else touches the console meanwhile.
        if let Some(uart) = unsafe { (*CONSOLE.data_ptr()).uart.as_mut() } {
            let _ = uart.write_fmt(args);
        }
        return;
    }
    pump_until(|c| RING - c.len >= ROOM);
    let _ = CONSOLE.lock().write_fmt(args);
    pump_until(|c| c.len == 0);
}

/// Feeds the UART until `done` (or there is no UART), taking the console
/// lock per burst of what the FIFO has room for: interrupts are on between
/// bursts if the caller's were.
fn pump_until(done: impl Fn(&Console) -> bool) {
    loop {
        let mut c = CONSOLE.lock();
        if c.uart.is_none() || done(&c) {
            return;
        }
        // As many bytes as the FIFO takes now, at most a FIFO's worth per
        // hold: none of them waits, so the hold stays short.
        let mut sent = 0;
        while sent < BURST && c.send_one() {
            sent += 1;
        }
        if sent == 0 {
            drop(c);
            core::hint::spin_loop();
        }
    }
}

/// Bytes fed to the UART per hold of the console lock at most: the PL011's
/// transmit FIFO depth.
const BURST: usize = 32;

/// Frees the console lock if this CPU was interrupted while holding it
/// (a panic in the middle of a line), so the report can still be printed.
pub fn break_lock() {
    if !crate::arch::mmu_and_caches_on() {
        // No lock is ever taken before the MMU is on.
        return;
    }
    if CONSOLE.try_lock().is_none() {
        // SAFETY: the holder is the code this panic interrupted on this CPU,
        // which will never run again; other CPUs are not started.
        unsafe { CONSOLE.force_unlock() };
    }
}

/// How long [`drain`] waits for the UART to take a byte before it gives
/// up. A full 32-byte FIFO at 115200 baud empties in under 3 ms.
const DRAIN_LIMIT_MS: u64 = 20;

/// Sends every held byte and waits until the console UART has sent
/// everything, so a reset or power-off right after does not cut the last
/// line off; gives up once the UART takes nothing for [`DRAIN_LIMIT_MS`]
/// (a disabled UART never drains), and at once if the console lock is
/// held (by the writer a panic interrupted). Returns whether it drained.
pub fn drain() -> bool {
    let ticks = crate::arch::counter_frequency() * DRAIN_LIMIT_MS / 1000;
    let mut since = crate::arch::counter();
    loop {
        let Some(mut c) = CONSOLE.try_lock() else {
            return false;
        };
        let Some(uart) = c.uart.as_ref() else {
            return true;
        };
        if c.len == 0 {
            return uart.drain_within(ticks);
        }
        if c.send_one() {
            since = crate::arch::counter();
        } else if crate::arch::counter().wrapping_sub(since) >= ticks {
            return false;
        }
    }
}

/// Prints to the console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::console::write_fmt(format_args!($($arg)*)) };
}

/// Prints a line to the console.
#[macro_export]
macro_rules! println {
    () => { $crate::console::write_fmt(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::console::write_fmt(format_args!("{}\n", format_args!($($arg)*))) };
}

/// KTAP nesting depth of the test document being printed (0 outside tests).
static KTAP_DEPTH: AtomicUsize = AtomicUsize::new(0);
/// Whether a KTAP document is being printed: logs become diagnostics.
static KTAP_ACTIVE: AtomicU8 = AtomicU8::new(0);

/// Sets the KTAP nesting depth; `None` ends the document.
pub fn set_ktap_depth(depth: Option<usize>) {
    KTAP_ACTIVE.store(depth.is_some() as u8, Ordering::Relaxed);
    KTAP_DEPTH.store(depth.unwrap_or(0), Ordering::Relaxed);
}

/// The indentation of the current KTAP level.
pub fn ktap_indent() -> &'static str {
    const SPACES: &str = "                                ";
    &SPACES[..(KTAP_DEPTH.load(Ordering::Relaxed) * 4).min(SPACES.len())]
}

/// Prints a diagnostic line: a KTAP `# ` line during a test run, a plain
/// line otherwise.
pub fn diag(args: fmt::Arguments) {
    if KTAP_ACTIVE.load(Ordering::Relaxed) != 0 {
        write_fmt(format_args!("{}# {}\n", ktap_indent(), args));
    } else {
        write_fmt(format_args!("{args}\n"));
    }
}

/// Log levels, most severe first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    /// Something failed.
    Error = 1,
    /// Something is off but the kernel goes on.
    Warn = 2,
    /// Milestones.
    Info = 3,
    /// Detail for developers.
    Debug = 4,
}

impl Level {
    /// Parses a `loglevel=` bootarg.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "error" => Some(Self::Error),
            "warn" => Some(Self::Warn),
            "info" => Some(Self::Info),
            "debug" => Some(Self::Debug),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Error => "ERROR",
            Self::Warn => "WARN ",
            Self::Info => "INFO ",
            Self::Debug => "DEBUG",
        }
    }
}

static MAX_LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);

/// Sets the most verbose level that is printed.
pub fn set_max_level(level: Level) {
    MAX_LEVEL.store(level as u8, Ordering::Relaxed);
}

/// Whether detail that only a reader who asked for it wants (a task's
/// fault report, expected in death tests) is printed: during a KTAP test
/// run (as diagnostics inside the test) or with `loglevel=debug`.
pub fn detail_shown() -> bool {
    KTAP_ACTIVE.load(Ordering::Relaxed) != 0
        || MAX_LEVEL.load(Ordering::Relaxed) >= Level::Debug as u8
}

/// Logs one line at `level`, stamped with the time since boot.
pub fn log(level: Level, args: fmt::Arguments) {
    if level as u8 > MAX_LEVEL.load(Ordering::Relaxed) {
        return;
    }
    let ticks = crate::arch::counter();
    let freq = crate::arch::counter_frequency().max(1);
    let micros = ticks as u128 * 1_000_000 / freq as u128;
    diag(format_args!(
        "[{:>4}.{:06} {}] {}",
        micros / 1_000_000,
        micros % 1_000_000,
        level.name(),
        args
    ));
}

/// Logs at error level.
#[macro_export]
macro_rules! error { ($($arg:tt)*) => { $crate::console::log($crate::console::Level::Error, format_args!($($arg)*)) }; }
/// Logs at warning level.
#[macro_export]
macro_rules! warn { ($($arg:tt)*) => { $crate::console::log($crate::console::Level::Warn, format_args!($($arg)*)) }; }
/// Logs at info level.
#[macro_export]
macro_rules! info { ($($arg:tt)*) => { $crate::console::log($crate::console::Level::Info, format_args!($($arg)*)) }; }
/// Logs at debug level.
#[macro_export]
macro_rules! debug { ($($arg:tt)*) => { $crate::console::log($crate::console::Level::Debug, format_args!($($arg)*)) }; }

/// A fixed-size line buffer for building a line without allocating
/// (exception reports run when the heap may be the thing that broke).
pub struct LineBuf {
    buf: [u8; 256],
    len: usize,
}

impl LineBuf {
    /// An empty line.
    pub const fn new() -> Self {
        Self {
            buf: [0; 256],
            len: 0,
        }
    }

    /// Appends formatted text, cutting what does not fit.
    pub fn push_fmt(&mut self, args: fmt::Arguments) {
        let _ = self.write_fmt(args);
    }

    /// The text so far.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("<invalid utf-8>")
    }
}

impl Default for LineBuf {
    fn default() -> Self {
        Self::new()
    }
}

impl Write for LineBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        // Cut on a character boundary.
        let n = (0..=n).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}
