//! The syscall fuzzer: a seeded PRNG drives random syscalls with random and
//! nearly-valid arguments (stale, forged and wrong-typed handles, rights
//! subsets, unaligned and huge offsets and sizes, pointers into kernel
//! memory, unmapped memory, the image, its own stack and mappings). Every
//! call must come back with a defined status. It runs in its own test task
//! with only its own handles; it never exits early, bounds every wait and
//! sleep to a short deadline, and aims destructive VMAR calls only at
//! regions it allocated itself, so it always reaches its count. At the end
//! it closes every handle it made and checks that the kernel still works.
//!
//! Two victim tasks live beside it, each with a page of a known pattern
//! mapped in its own sub-VMAR; the fuzzer aims pointers at those pages too
//! (protection domains, and the kernel's copy rules, must keep them out of
//! reach), and each victim checks its page when the run is over.
//!
//! The seed is the boot's `seed=` (a fixed default if none), so a run can
//! be replayed: `just run virt-gicv2 mode=test test=fuzz seed=N`.

use super::util::*;
use crate::harness::{Failure, Suite, TestResult};
use crate::out::format;
use crate::{check, check_eq, ok, println, tests};
use abi::Syscall;
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize};
use zx::{
    AsHandleRef, Duration, Event, Signals, Status, Time, Vmar, VmarFlags, Vmo, VmoChildOptions,
};

pub static SUITE: Suite = Suite {
    name: "fuzz",
    tests: tests![
        random_syscalls_return_defined_statuses,
        random_syscalls_from_every_cpu_at_once,
    ],
};

/// Calls per run.
const CALLS: u64 = 100_000;
/// The PRNG seed when the boot gives none.
const DEFAULT_SEED: u64 = 0x5eed_f022_0000_0001;
/// Live handles the fuzzer keeps.
const TABLE: usize = 40;
/// Scratch mapping: out-pointers and buffers the kernel may write.
const SCRATCH_PAGES: u64 = 4;
const SCRATCH_LEN: u64 = SCRATCH_PAGES * PAGE;
/// The arena: a sub-VMAR the fuzzer unmaps, protects and destroys freely.
const ARENA_LEN: u64 = 4096 * PAGE;
/// Every this many calls the arena and half the handles are recycled.
const RECYCLE_EVERY: u64 = 4096;

/// The statuses a call may return (Zircon's; never INTERNAL).
const DEFINED: &[Status] = &[
    Status::OK,
    Status::NOT_SUPPORTED,
    Status::NO_MEMORY,
    Status::INVALID_ARGS,
    Status::BAD_HANDLE,
    Status::WRONG_TYPE,
    Status::OUT_OF_RANGE,
    Status::BUFFER_TOO_SMALL,
    Status::BAD_STATE,
    Status::TIMED_OUT,
    Status::CANCELED,
    Status::NOT_FOUND,
    Status::SHOULD_WAIT,
    Status::UNAVAILABLE,
    Status::ACCESS_DENIED,
];

/// Whether the fuzzer makes `call`: all but the two that end the caller.
fn callable(call: Syscall) -> bool {
    !matches!(call, Syscall::TaskExit | Syscall::ThreadExit)
}

/// xorshift64*.
struct Rng(u64);

impl Rng {
    /// A generator whose whole state depends on every bit of `seed`
    /// (scrambled by splitmix64; xorshift's state must not be zero).
    fn from_seed(seed: u64) -> Rng {
        Rng(testkit::SplitMix64(seed).next_u64().max(1))
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// True one time in `n`.
    fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// The entry of tasks and threads the fuzzer starts: ends its task at once,
/// touching neither memory nor the stack (which may be garbage).
#[unsafe(naked)]
extern "C" fn exit_at_once(_: u64, _: u32, _: u32, _: u32, _: u32) -> ! {
    core::arch::naked_asm!(
        "mov x0, #0",
        "mov x16, #{n}",
        "svc #0",
        "b .",
        n = const Syscall::TaskExit as u64,
    )
}

/// What a call's out-pointer is, for harvesting what the kernel put there.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Out {
    /// Not a place the fuzzer reads back.
    Elsewhere,
    /// In the scratch mapping: readable afterwards.
    Scratch(u64),
}

/// Mappings remembered in the arena.
const MAPS: usize = 16;

/// What the fuzzing threads of a task share: the handles they made, the
/// arena and the mappings in it. One thread closes, replaces, moves or
/// destroys what another is using at that moment. Zeroed memory is an
/// empty pool.
#[repr(C)]
struct Pool {
    /// Handles made and still held (values; 0 = empty).
    table: [AtomicU32; TABLE],
    /// Addresses of mappings made in the arena.
    maps: [AtomicU64; MAPS],
    maps_at: AtomicUsize,
    arena: AtomicU32,
    arena_base: AtomicU64,
}

impl Pool {
    const fn new() -> Self {
        Pool {
            table: [const { AtomicU32::new(0) }; TABLE],
            maps: [const { AtomicU64::new(0) }; MAPS],
            maps_at: AtomicUsize::new(0),
            arena: AtomicU32::new(0),
            arena_base: AtomicU64::new(0),
        }
    }

    fn contains(&self, h: u32) -> bool {
        self.table.iter().any(|s| s.load(Relaxed) == h)
    }
}

struct Fuzz<'a> {
    rng: Rng,
    pool: &'a Pool,
    /// Handles it closed (or lost), for stale-handle arguments.
    stale: [u32; 16],
    stale_at: usize,
    /// Its own sub-VMAR: never unmapped, protected, destroyed, closed,
    /// duplicated, replaced or transferred.
    root: u32,
    root_base: u64,
    /// The victims' pattern pages (in other tasks' sub-VMARs).
    victims: [u64; VICTIMS],
    scratch: u64,
    /// A word on its stack: copy-in only.
    stack_word: u64,
    last_time: i64,
    made: u64,
    status_counts: [u64; 32],
}

impl Fuzz<'_> {
    // ---- handles -------------------------------------------------------

    fn keep(&mut self, h: u32) {
        if h == 0 {
            return;
        }
        self.made += 1;
        let pool = self.pool;
        if pool
            .table
            .iter()
            .any(|s| s.compare_exchange(0, h, Relaxed, Relaxed).is_ok())
        {
            return;
        }
        // Full: evict a random one to make room.
        let i = self.rng.below(TABLE as u64) as usize;
        let old = pool.table[i].swap(h, Relaxed);
        self.release(old);
    }

    /// Closes a handle it made (a VMAR is destroyed first, so no address
    /// space stays allocated behind a closed handle).
    fn release(&mut self, h: u32) {
        if h == 0 || h == self.root {
            return;
        }
        let handle = core::mem::ManuallyDrop::new(zx::Handle::from_raw(h));
        if handle
            .basic_info()
            .is_ok_and(|i| i.obj_type == abi::ZX_OBJ_TYPE_VMAR)
        {
            let vmar = core::mem::ManuallyDrop::new(Vmar::from(zx::Handle::from_raw(h)));
            let _ = vmar.destroy();
        }
        let _ = zx::Handle::from_raw(h).close();
        self.forget(h);
    }

    /// Records that `h` is gone (closed, replaced or moved away).
    fn forget(&mut self, h: u32) {
        for slot in &self.pool.table {
            let _ = slot.compare_exchange(h, 0, Relaxed, Relaxed);
        }
        self.stale[self.stale_at] = h;
        self.stale_at = (self.stale_at + 1) % self.stale.len();
    }

    /// Drops table entries that are no longer valid handles.
    fn revalidate(&mut self, h: u32) {
        if h != 0 && self.pool.contains(h) && !valid(h) {
            self.forget(h);
        }
    }

    fn live(&mut self) -> u32 {
        // A snapshot: other threads change the table meanwhile.
        let mut live = [0u32; TABLE];
        let mut n = 0;
        for slot in &self.pool.table {
            let h = slot.load(Relaxed);
            if h != 0 {
                live[n] = h;
                n += 1;
            }
        }
        if n == 0 {
            return 0;
        }
        live[self.rng.below(n as u64) as usize]
    }

    /// A handle argument: mostly live ones, else stale, forged, invalid,
    /// the arena, or (if `root_ok`) its own sub-VMAR.
    fn handle(&mut self, root_ok: bool) -> u32 {
        let h = match self.rng.below(20) {
            0..=10 => self.live(),
            11 | 12 => self.arena(),
            13 => self.rng.pick(&self.stale),
            // Forged: a live value with a bit flipped, or any value; one
            // that names a handle the fuzzer does not own (the victims',
            // the harness's) stays forged, so no call closes those.
            14 => {
                let h = self.live() ^ (1 << self.rng.below(32));
                self.forged(h)
            }
            15 => {
                let h = self.rng.next() as u32 | 3;
                self.forged(h)
            }
            16 => 0,
            17 => u32::MAX,
            _ if root_ok => self.root,
            _ => self.live(),
        };
        if h == self.root && !root_ok {
            FORGED_HANDLE
        } else {
            h
        }
    }

    /// `h`, unless it is a live handle of this task that is not the
    /// fuzzer's: then [`FORGED_HANDLE`].
    fn forged(&self, h: u32) -> u32 {
        let own = h == self.arena() || h == self.root || self.pool.contains(h);
        if !own && valid(h) {
            FORGED_HANDLE
        } else {
            h
        }
    }

    fn rights(&mut self) -> u64 {
        match self.rng.below(8) {
            0..=3 => u64::from(abi::ZX_RIGHT_SAME_RIGHTS),
            4..=6 => self.rng.next() & 0xf0ff,
            _ => self.rng.next() & 0xffff_ffff,
        }
    }

    // ---- numbers ---------------------------------------------------------

    fn size(&mut self) -> u64 {
        match self.rng.below(12) {
            0 => 0,
            1..=4 => self.rng.below(16 * PAGE),
            5..=7 => self.rng.below(64) * PAGE,
            8 => abi::ZX_MAX_VMO_SIZE,
            9 => abi::ZX_MAX_VMO_SIZE + self.rng.below(2) * PAGE + 1,
            10 => u64::MAX - self.rng.below(2 * PAGE),
            _ => self.rng.next(),
        }
    }

    fn offset(&mut self) -> u64 {
        match self.rng.below(10) {
            0..=2 => 0,
            3..=5 => self.rng.below(16) * PAGE,
            6 => self.rng.below(16 * PAGE),
            7 => abi::ZX_MAX_VMO_SIZE - self.rng.below(4) * PAGE,
            8 => u64::MAX - self.rng.below(2 * PAGE),
            _ => self.rng.next(),
        }
    }

    /// A byte count for buffers: small, a scratch's worth, or huge.
    fn len(&mut self) -> u64 {
        match self.rng.below(10) {
            0 => 0,
            1..=4 => self.rng.below(64),
            5..=7 => self.rng.below(SCRATCH_LEN),
            8 => self.rng.below(64) * PAGE,
            _ => self.rng.next() >> self.rng.below(64),
        }
    }

    // ---- pointers --------------------------------------------------------

    /// A place the kernel may write `size` bytes to: in the scratch mapping
    /// (aligned or not), or somewhere it must refuse.
    fn out_ptr(&mut self, size: u64, arena_ok: bool) -> (u64, Out) {
        let k = self.rng.below(20);
        match k {
            0..=9 => {
                let at = self.either(
                    4,
                    |f| f.rng.below(SCRATCH_LEN - size.min(SCRATCH_LEN)),
                    |f| f.rng.below(SCRATCH_LEN / 8 - 1) * 8,
                );
                (self.scratch + at, Out::Scratch(self.scratch + at))
            }
            10 | 11 if arena_ok => (self.arena_ptr(), Out::Elsewhere),
            _ => (self.foreign_ptr(), Out::Elsewhere),
        }
    }

    /// An out-pointer (see [`out_ptr`](Self::out_ptr), never the arena) for
    /// a value the step reads back after the call: `harvest` says where.
    fn harvested_out(&mut self, size: u64, harvest: &mut Out) -> u64 {
        let (p, out) = self.out_ptr(size, false);
        *harvest = out;
        p
    }

    /// One time in `n` what `rare` draws, else what `usual` draws.
    fn either(
        &mut self,
        n: u64,
        rare: impl FnOnce(&mut Self) -> u64,
        usual: impl FnOnce(&mut Self) -> u64,
    ) -> u64 {
        if self.rng.one_in(n) {
            rare(self)
        } else {
            usual(self)
        }
    }

    /// A place the kernel may read from: anything `out_ptr` gives, its own
    /// stack, the image's read-only part.
    fn in_ptr(&mut self) -> u64 {
        match self.rng.below(8) {
            0 => self.stack_word,
            1 => rodata_addr() + self.rng.below(32),
            2 => text_addr(),
            _ => self.out_ptr(0, true).0,
        }
    }

    fn arena_ptr(&mut self) -> u64 {
        if self.rng.one_in(2) {
            self.map() + self.rng.below(2 * PAGE)
        } else {
            self.arena_base() + self.rng.below(ARENA_LEN)
        }
    }

    /// Somewhere a copy-out must be refused.
    fn foreign_ptr(&mut self) -> u64 {
        match self.rng.below(10) {
            0 => 0,
            1 => 0x4000_0000 + self.rng.below(0x1000_0000),
            2 => KERNEL_ADDR,
            3 => NON_CANONICAL + self.rng.below(PAGE),
            4 => u64::MAX - self.rng.below(16),
            5 => text_addr() + self.rng.below(64),
            6 => rodata_addr(),
            7 => data_addr(),
            // Another task's range: a victim's pattern page, or just
            // below this task's sub-VMAR.
            8 if self.rng.one_in(2) => self.rng.pick(&self.victims) + self.rng.below(PAGE),
            8 => self.root_base - PAGE * (1 + self.rng.below(1024)),
            // This task's stack guard: inside its range, never mapped.
            _ => self.root_base + self.rng.below(PAGE),
        }
    }

    /// An entry for a task or thread: [`exit_at_once`], or an address that
    /// is not in the image's text (so nothing else of the image ever runs).
    fn entry(&mut self) -> u64 {
        let e = self.either(2, |_| exit_at_once as *const () as u64, |f| f.foreign_ptr());
        let text = text_addr();
        if e != exit_at_once as *const () as u64 && e.abs_diff(text) < 4096 {
            0
        } else {
            e
        }
    }

    /// An address for unmap/protect: in the arena, a mapping, or anything.
    fn vaddr(&mut self) -> u64 {
        match self.rng.below(4) {
            0 => self.map(),
            1 => self.arena_base() + self.rng.below(ARENA_LEN / PAGE) * PAGE,
            2 => self.arena_base() + self.rng.below(ARENA_LEN),
            _ => self.foreign_ptr(),
        }
    }

    fn deadline(&mut self) -> u64 {
        match self.rng.below(8) {
            0..=2 => 0,
            3 => (-(self.rng.below(1 << 40) as i64)) as u64,
            4 => Time::get_monotonic().into_nanos().saturating_sub(1000) as u64,
            // At most 100 µs ahead.
            _ => (Time::get_monotonic().into_nanos() + self.rng.below(100_000) as i64) as u64,
        }
    }

    /// The scratch word at `at` (a handle or an address the kernel wrote).
    fn read_scratch<T: Copy>(&self, out: Out) -> Option<T> {
        match out {
            // SAFETY: `at` lies in the scratch mapping, readable, and a `T`
            // fits before its end (`out_ptr` keeps room for it).
            Out::Scratch(at) if at + size_of::<T>() as u64 <= self.scratch + SCRATCH_LEN => {
                Some(unsafe { core::ptr::read_unaligned(at as *const T) })
            }
            _ => None,
        }
    }

    // ---- one call ----------------------------------------------------------

    /// Makes one random call; `Err` describes an undefined result.
    fn step(&mut self, i: u64) -> Result<(), crate::out::Line> {
        // One call in 32 is an unknown number.
        if self.rng.one_in(32) {
            let n = if self.rng.one_in(2) {
                loop {
                    let n = self.rng.below(64);
                    if abi::Syscall::from_number(n).is_none() {
                        break n;
                    }
                }
            } else {
                self.rng.next() | 64
            };
            let args: [u64; 8] = core::array::from_fn(|_| self.rng.next());
            // SAFETY: an unknown number: the kernel touches nothing.
            let r = unsafe { zx::sys::call_raw(n, args) } as i32;
            self.count(r);
            if r != Status::BAD_SYSCALL.into_raw() {
                return Err(format(format_args!(
                    "call {i}: unknown syscall {n:#x} returned {:?}",
                    Status(abi::Status(r))
                )));
            }
            return Ok(());
        }
        let call = loop {
            let call = self.rng.pick(&Syscall::ALL);
            if callable(call) {
                break call;
            }
        };
        let mut a = [0u64; 8];
        let mut harvest = Out::Elsewhere;
        let mut touched = [0u32; 5];
        match call {
            Syscall::Null => {
                for x in a.iter_mut() {
                    *x = self.rng.next();
                }
            }
            Syscall::HandleClose => {
                a[0] = u64::from(self.handle(false));
                touched[0] = a[0] as u32;
            }
            Syscall::HandleDuplicate | Syscall::HandleReplace => {
                a[0] = u64::from(self.handle(false));
                a[1] = self.rights();
                a[2] = self.harvested_out(4, &mut harvest);
                touched[0] = a[0] as u32;
            }
            Syscall::VmoCreate => {
                a[0] = self.size();
                a[1] = self.either(4, |f| f.rng.next() & 0xff, |f| f.rng.below(2));
                a[2] = self.harvested_out(4, &mut harvest);
            }
            Syscall::VmoCreateChild => {
                a[0] = u64::from(self.handle(true));
                a[1] = self.either(4, |f| f.rng.next() & 0xff, |f| 1 + 2 * f.rng.below(2));
                a[2] = self.offset();
                a[3] = self.size();
                a[4] = self.harvested_out(4, &mut harvest);
            }
            Syscall::VmoRead => {
                a[0] = u64::from(self.handle(true));
                a[3] = self.len();
                a[1] = self.out_ptr(a[3], true).0;
                a[2] = self.offset();
            }
            Syscall::VmoWrite => {
                a[0] = u64::from(self.handle(true));
                a[1] = self.in_ptr();
                a[2] = self.offset();
                a[3] = self.len();
            }
            Syscall::VmoGetSize => {
                a[0] = u64::from(self.handle(true));
                a[1] = self.out_ptr(8, true).0;
            }
            Syscall::VmoSetSize => {
                a[0] = u64::from(self.handle(true));
                a[1] = self.size();
            }
            Syscall::VmoOpRange => {
                a[0] = u64::from(self.handle(true));
                a[1] = self.either(8, |f| f.rng.next() & 0xffff_ffff, |f| f.rng.below(7));
                a[2] = self.offset();
                a[3] = self.either(2, |f| f.rng.below(8) * PAGE, |f| f.size().min(64 * PAGE));
                a[5] = self.len();
                a[4] = self.out_ptr(a[5], true).0;
            }
            Syscall::VmarMap => {
                a[1] = self.rng.next() & 0xfff;
                let overwrite = a[1] & u64::from(abi::ZX_VM_SPECIFIC_OVERWRITE) != 0;
                a[0] = u64::from(if overwrite {
                    self.handle(false)
                } else {
                    self.vmar_handle()
                });
                a[2] = self.rng.below(ARENA_LEN / PAGE) * PAGE
                    + self.rng.below(2) * self.rng.below(PAGE);
                a[3] = u64::from(self.handle(true));
                a[4] = self.offset();
                a[5] = self.either(4, |f| f.len(), |f| (1 + f.rng.below(8)) * PAGE);
                a[6] = self.harvested_out(8, &mut harvest);
            }
            Syscall::VmarUnmap => {
                a[0] = u64::from(self.vmar_handle());
                a[1] = self.vaddr();
                a[2] = self.len();
            }
            Syscall::VmarProtect => {
                a[0] = u64::from(self.vmar_handle());
                a[1] = self.rng.next() & 0x3ff;
                a[2] = self.vaddr();
                a[3] = self.len();
            }
            Syscall::VmarAllocate => {
                a[0] = u64::from(self.handle(true));
                a[1] = self.rng.next() & 0x3ff;
                a[2] = self.either(2, |_| 0, |f| f.rng.below(ARENA_LEN / PAGE) * PAGE);
                a[3] = self.either(4, |f| f.size(), |f| (1 + f.rng.below(16)) * PAGE);
                a[4] = self.harvested_out(4, &mut harvest);
                a[5] = self.out_ptr(8, false).0;
            }
            Syscall::VmarDestroy => {
                a[0] = u64::from(self.vmar_handle());
            }
            Syscall::ObjectGetInfo => {
                a[0] = u64::from(self.handle(true));
                // Every topic the kernel answers, and some it does not.
                a[1] = u64::from(self.rng.pick(&[
                    abi::ZX_INFO_HANDLE_VALID,
                    abi::ZX_INFO_HANDLE_BASIC,
                    abi::ZX_INFO_PROCESS,
                    abi::ZX_INFO_VMAR,
                    abi::ZX_INFO_THREAD,
                    abi::ZX_INFO_HANDLE_COUNT,
                    abi::ZX_INFO_VMO,
                    abi::ZX_INFO_TASK_END,
                    abi::ZX_INFO_KERNEL_COUNTERS,
                    0,
                    4,
                    0xffff_ffff,
                ]));
                a[3] = self.either(2, |f| f.rng.below(160), |f| f.len());
                a[2] = self.out_ptr(a[3], true).0;
                a[4] = self.either(3, |_| 0, |f| f.out_ptr(8, true).0);
                a[5] = self.either(3, |_| 0, |f| f.out_ptr(8, true).0);
            }
            Syscall::ObjectWaitOne => {
                a[0] = u64::from(self.handle(true));
                a[1] = self.either(
                    2,
                    |f| f.rng.next() & 0xffff_ffff,
                    |f| f.rng.next() & 0xff00_0008,
                );
                a[2] = self.deadline();
                a[3] = self.either(4, |_| 0, |f| f.out_ptr(4, true).0);
            }
            Syscall::ObjectSignal => {
                a[0] = u64::from(self.handle(true));
                let mask = self.either(4, |_| 0xffff_ffff, |_| 0xff00_0008);
                a[1] = self.rng.next() & mask;
                a[2] = self.rng.next() & mask;
            }
            Syscall::EventCreate => {
                a[0] = self.either(4, |f| f.rng.next(), |_| 0);
                a[1] = self.harvested_out(4, &mut harvest);
            }
            Syscall::Nanosleep => {
                a[0] = self.either(
                    2,
                    |f| (-(f.rng.below(1000) as i64)) as u64,
                    |f| (Time::get_monotonic().into_nanos() + f.rng.below(50_000) as i64) as u64,
                );
            }
            Syscall::ClockGetMonotonic | Syscall::SystemGetNumCpus => {}
            Syscall::TaskCreate => {
                a[0] = self.entry();
                a[1] = self.rng.next();
                // The handles to move: chosen values written to the scratch.
                let count = self.rng.below(6);
                let at = self.scratch + SCRATCH_LEN - 64;
                for (k, slot) in touched.iter_mut().enumerate().take(4) {
                    let h = self.handle(false);
                    *slot = h;
                    // SAFETY: the scratch mapping's last 64 bytes hold the list.
                    unsafe { core::ptr::write_volatile((at + 4 * k as u64) as *mut u32, h) };
                }
                a[2] = self.either(4, |f| f.foreign_ptr(), |_| at);
                a[3] = self.either(8, |f| f.rng.next(), |_| count);
                a[4] = self.harvested_out(4, &mut harvest);
            }
            Syscall::ThreadCreate => {
                a[0] = u64::from(self.handle(false));
                a[1] = self.either(4, |f| f.rng.next(), |_| 0);
                a[2] = self.harvested_out(4, &mut harvest);
            }
            Syscall::ThreadStart => {
                a[0] = u64::from(self.handle(false));
                a[1] = self.entry();
                a[2] = self.rng.next();
                a[3] = self.rng.next();
                a[4] = self.rng.next();
            }
            Syscall::ConsoleWrite => {
                // Never a readable string: a line could break the KTAP document.
                if self.rng.one_in(2) {
                    a[0] = self.foreign_ptr();
                    a[1] = 1 + self.rng.below(600);
                    if a[0] == rodata_addr() || (a[0] >= text_addr() && a[0] < text_addr() + 64) {
                        a[0] = 0;
                    }
                } else {
                    a[0] = self.stack_word;
                    a[1] = 513 + self.rng.below(1 << 20);
                }
            }
            Syscall::TaskKill => {
                // Any handle but the fuzzer's own task (that would end it).
                let h = self.handle(false);
                let own = zx::Task::self_handle().raw_handle();
                a[0] = u64::from(if h == own { FORGED_HANDLE } else { h });
            }
            Syscall::TimerCreate => {
                a[0] = self.either(3, |f| f.rng.next(), |f| f.rng.below(3));
                a[1] = self.either(3, |f| f.rng.next(), |_| 0);
                a[2] = self.harvested_out(4, &mut harvest);
            }
            Syscall::TimerSet => {
                a[0] = u64::from(self.handle(false));
                a[1] = self.deadline();
                a[2] = self.either(4, |f| f.rng.next(), |f| f.rng.below(100_000));
            }
            Syscall::TimerCancel => {
                a[0] = u64::from(self.handle(false));
            }
            Syscall::ObjectWaitMany => {
                // Items in the scratch mapping: live handles or junk.
                let count = self.either(8, |f| f.rng.next() & 0xffff, |f| f.rng.below(70));
                let (p, _) = self.out_ptr(12 * count.min(70), true);
                let end = p.checked_add(12 * count.min(64));
                if p >= self.scratch && end.is_some_and(|e| e <= self.scratch + SCRATCH_LEN - 64) {
                    for k in 0..count.min(64) {
                        let h = self.handle(true);
                        let w = self.rng.next() as u32;
                        // SAFETY: inside the scratch mapping (checked above).
                        unsafe {
                            core::ptr::write_volatile((p + 12 * k) as *mut u32, h);
                            core::ptr::write_volatile((p + 12 * k + 4) as *mut u32, w);
                        }
                    }
                }
                a[0] = p;
                a[1] = count;
                a[2] = self.deadline();
            }
            Syscall::ObjectWaitAsync => {
                a[0] = u64::from(self.handle(true));
                a[1] = u64::from(self.handle(true));
                a[2] = self.rng.below(4);
                a[3] = self.either(
                    2,
                    |f| f.rng.next() & 0xffff_ffff,
                    |f| f.rng.next() & 0xff00_0008,
                );
                a[4] = self.either(4, |f| f.rng.next(), |f| f.rng.below(2));
            }
            Syscall::PortCreate => {
                a[0] = self.either(4, |f| f.rng.next(), |_| 0);
                a[1] = self.harvested_out(4, &mut harvest);
            }
            Syscall::PortQueue => {
                a[0] = u64::from(self.handle(true));
                a[1] = self.either(2, |f| f.in_ptr(), |f| f.out_ptr(48, true).0);
            }
            Syscall::PortWait => {
                a[0] = u64::from(self.handle(true));
                a[1] = self.deadline();
                a[2] = self.out_ptr(48, true).0;
            }
            Syscall::PortCancel => {
                a[0] = u64::from(self.handle(true));
                a[1] = u64::from(self.handle(true));
                a[2] = self.rng.below(4);
            }
            Syscall::TaskExit | Syscall::ThreadExit => unreachable!("not callable"),
        }
        if call == Syscall::HandleClose || call == Syscall::HandleReplace {
            // Its own sub-VMAR is never among these (`handle(false)`).
            debug_assert!(a[0] as u32 != self.root);
        }
        // SAFETY: every pointer the kernel may write through is in the
        // scratch mapping, the arena (fuzzer junk only), or refused by it.
        let r = unsafe { zx::sys::call(call, a) };
        if call == Syscall::ClockGetMonotonic {
            let t = r as i64;
            self.count(0);
            if t <= 0 || t < self.last_time {
                return Err(format(format_args!(
                    "call {i}: clock went from {} to {t}",
                    self.last_time
                )));
            }
            self.last_time = t;
            return Ok(());
        }
        if call == Syscall::SystemGetNumCpus {
            self.count(0);
            // Fixed at boot, whatever the arguments.
            if r == 0 || r > 64 || r != u64::from(zx::system_get_num_cpus()) {
                return Err(format(format_args!("call {i}: {r} CPUs")));
            }
            return Ok(());
        }
        let st = Status(abi::Status(r as i32));
        self.count(st.into_raw());
        if !DEFINED.contains(&st) || r >> 32 != if st == Status::OK { 0 } else { 0xffff_ffff } {
            return Err(format(format_args!(
                "call {i}: {call:?}({:#x}, {:#x}, {:#x}, {:#x}, {:#x}, {:#x}, {:#x}) returned {r:#x}",
                a[0], a[1], a[2], a[3], a[4], a[5], a[6]
            )));
        }
        if st == Status::OK {
            match call {
                Syscall::HandleDuplicate
                | Syscall::HandleReplace
                | Syscall::VmoCreate
                | Syscall::VmoCreateChild
                | Syscall::VmarAllocate
                | Syscall::EventCreate
                | Syscall::PortCreate
                | Syscall::TaskCreate
                | Syscall::ThreadCreate => {
                    let Some(h) = self.read_scratch::<u32>(harvest) else {
                        return Err(format(format_args!(
                            "call {i}: {call:?} succeeded into an out-pointer outside the scratch ({:#x?})",
                            a
                        )));
                    };
                    self.keep(h);
                }
                Syscall::VmarMap => {
                    if let Some(addr) = self.read_scratch::<u64>(harvest) {
                        let at = self.pool.maps_at.fetch_add(1, Relaxed) % MAPS;
                        self.pool.maps[at].store(addr, Relaxed);
                    }
                }
                _ => {}
            }
        }
        for h in touched {
            self.revalidate(h);
        }
        if call == Syscall::VmarDestroy && a[0] as u32 == self.arena() && st == Status::OK {
            self.new_arena();
        }
        Ok(())
    }

    /// A VMAR handle for destructive calls: the arena, a VMAR it allocated,
    /// or anything else it holds (never its own sub-VMAR).
    fn vmar_handle(&mut self) -> u32 {
        if self.rng.one_in(2) {
            self.arena()
        } else {
            self.handle(false)
        }
    }

    fn count(&mut self, raw: i32) {
        let i = (-(raw.min(0) as i64)).min(31) as usize;
        self.status_counts[i] += 1;
    }

    /// The arena's handle now (0 while another thread renews it).
    fn arena(&self) -> u32 {
        self.pool.arena.load(Relaxed)
    }

    fn arena_base(&self) -> u64 {
        self.pool.arena_base.load(Relaxed)
    }

    /// One of the mappings remembered in the arena.
    fn map(&mut self) -> u64 {
        let i = self.rng.below(MAPS as u64) as usize;
        self.pool.maps[i].load(Relaxed)
    }

    /// Replaces the arena (destroyed, or recycled) with a fresh one. If
    /// another thread renews it at the same time, one new arena stays.
    fn new_arena(&mut self) {
        let old = self.pool.arena.swap(0, Relaxed);
        if old != 0 {
            let vmar = Vmar::from(zx::Handle::from_raw(old));
            let _ = vmar.destroy();
        }
        let flags = VmarFlags(
            abi::ZX_VM_CAN_MAP_READ
                | abi::ZX_VM_CAN_MAP_WRITE
                | abi::ZX_VM_CAN_MAP_EXECUTE
                | abi::ZX_VM_CAN_MAP_SPECIFIC,
        );
        let root = core::mem::ManuallyDrop::new(Vmar::from(zx::Handle::from_raw(self.root)));
        if let Ok((vmar, base)) = root.allocate(0, ARENA_LEN, flags) {
            let h = zx::Handle::from(vmar).into_raw();
            if self
                .pool
                .arena
                .compare_exchange(0, h, Relaxed, Relaxed)
                .is_ok()
            {
                self.pool.arena_base.store(base, Relaxed);
                for m in &self.pool.maps {
                    m.store(base, Relaxed);
                }
            } else {
                let vmar = Vmar::from(zx::Handle::from_raw(h));
                let _ = vmar.destroy();
            }
        }
    }

    /// Closes half the handles and renews the arena, so memory stays bounded.
    fn recycle(&mut self) {
        for i in 0..TABLE {
            if self.rng.one_in(2) {
                let h = self.pool.table[i].swap(0, Relaxed);
                self.release(h);
            }
        }
        self.new_arena();
    }
}

/// Victim tasks alive during the run.
const VICTIMS: usize = 2;
/// The victims' pattern byte at offset `i` of their page.
fn pattern(i: usize) -> u8 {
    (i as u8).wrapping_mul(31) ^ 0xa5
}
/// How a victim exits if its page changed.
const VICTIM_CORRUPTED: i64 = 77;

/// A victim: maps a page of [`pattern`], writes its address into the VMO
/// `h[0]`, signals `USER_0` on the event `h[1]`, waits for `USER_1` there,
/// then checks its page.
fn victim(h: [abi::Handle; 4]) {
    let report = Vmo::from(zx::Handle::from_raw(h[0]));
    let event = Event::from(zx::Handle::from_raw(h[1]));
    let Ok(page) = Vmo::create(PAGE) else { return };
    let Ok(addr) = map_rw(&page, PAGE) else {
        return;
    };
    // SAFETY: a fresh read-write mapping of one page, this task's own.
    let bytes = unsafe { core::slice::from_raw_parts_mut(addr as *mut u8, PAGE as usize) };
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = pattern(i);
    }
    if report.write(&addr.to_le_bytes(), 0).is_err()
        || event.signal_handle(Signals::NONE, Signals::USER_0).is_err()
    {
        return;
    }
    let _ = event.wait_handle(Signals::USER_1, Time::INFINITE);
    if bytes.iter().enumerate().any(|(i, &b)| b != pattern(i)) {
        zx::exit(VICTIM_CORRUPTED);
    }
}

/// Starts a victim; its task, the event that ends it, its page's address.
fn start_victim() -> Result<(zx::Task, Event, u64), Status> {
    let report = Vmo::create(8)?;
    let event = Event::create()?;
    let mut theirs: [zx::Handle; 2] = [
        report.duplicate_handle(zx::Rights::SAME_RIGHTS)?,
        event.duplicate_handle(zx::Rights::SAME_RIGHTS)?,
    ];
    let task = crate::harness::spawn_with(victim, &mut theirs)?;
    event.wait_handle(Signals::USER_0 | Signals::TASK_TERMINATED, Time::INFINITE)?;
    let mut addr = [0u8; 8];
    report.read(&mut addr, 0)?;
    Ok((task, event, u64::from_le_bytes(addr)))
}

/// The run's seed: the boot's, or [`DEFAULT_SEED`].
fn run_seed() -> u64 {
    match crate::harness::seed() {
        0 => DEFAULT_SEED,
        boot => boot,
    }
}

/// A fresh scratch mapping; only the mapping keeps its VMO (no handle to
/// resize it by).
fn new_scratch() -> Result<u64, Status> {
    let vmo = Vmo::create(SCRATCH_LEN)?;
    map_rw(&vmo, SCRATCH_LEN)
}

/// What one fuzzing thread did.
#[derive(Clone, Copy)]
struct Tally {
    calls: u64,
    made: u64,
    status_counts: [u64; 32],
}

impl Tally {
    const ZERO: Tally = Tally {
        calls: 0,
        made: 0,
        status_counts: [0; 32],
    };

    fn add(&mut self, other: &Tally) {
        self.calls += other.calls;
        self.made += other.made;
        for (a, b) in self.status_counts.iter_mut().zip(&other.status_counts) {
            *a += b;
        }
    }

    /// The `# fuzz:` diagnostic line (`what` names the run).
    fn print(&self, what: &str, seed: u64, elapsed_ms: i64) {
        if !crate::harness::diagnostics() {
            return;
        }
        let c = &self.status_counts;
        let named = c[0] + c[10] + c[11] + c[12] + c[30] + c[14] + c[13];
        println!(
            "    # fuzz: {what}seed {seed}, {} calls, {elapsed_ms} ms, {} handles; OK {}, INVALID_ARGS {}, BAD_HANDLE {}, WRONG_TYPE {}, ACCESS_DENIED {}, OUT_OF_RANGE {}, BAD_SYSCALL {}, other {}",
            self.calls,
            self.made,
            c[0],
            c[10],
            c[11],
            c[12],
            c[30],
            c[14],
            c[13],
            self.calls - named
        );
    }
}

impl<'a> Fuzz<'a> {
    /// A fuzzer drawing from `seed`, sharing `pool`, writing through
    /// `scratch` (its own), aiming at the victims' pages at `victims`.
    fn new(
        pool: &'a Pool,
        seed: u64,
        scratch: u64,
        victims: [u64; VICTIMS],
        stack_word: &'a u64,
    ) -> Result<Self, Status> {
        let root = Vmar::root_self();
        let root_info = root.info()?;
        Ok(Fuzz {
            rng: Rng::from_seed(seed),
            pool,
            stale: [FORGED_HANDLE; 16],
            stale_at: 0,
            root: root.raw_handle(),
            root_base: root_info.base,
            victims,
            scratch,
            stack_word: stack_word as *const u64 as u64,
            last_time: 0,
            made: 0,
            status_counts: [0; 32],
        })
    }

    /// Makes `calls` calls (recycling every [`RECYCLE_EVERY`]); what it
    /// did, and why it stopped early if it did.
    fn run(&mut self, calls: u64) -> (Tally, Option<crate::out::Line>) {
        let mut failure = None;
        let mut done = 0;
        while done < calls {
            if let Err(why) = self.step(done) {
                failure = Some(why);
                break;
            }
            done += 1;
            if done % RECYCLE_EVERY == 0 {
                self.recycle();
            }
        }
        let tally = Tally {
            calls: done,
            made: self.made,
            status_counts: self.status_counts,
        };
        (tally, failure)
    }

    /// Closes every handle in the pool and the arena (with no other thread
    /// fuzzing); the values it closed.
    fn close_all(&mut self) -> [u32; TABLE + 1] {
        let mut closed = [0u32; TABLE + 1];
        for (i, slot) in self.pool.table.iter().enumerate() {
            closed[i] = slot.swap(0, Relaxed);
        }
        closed[TABLE] = self.pool.arena.swap(0, Relaxed);
        for &h in &closed {
            self.release(h);
        }
        closed
    }
}

/// None of `closed` is a handle any more.
fn all_closed(closed: &[u32]) -> TestResult {
    for &h in closed {
        check!(h == 0 || !valid(h), "handle {h:#x} still open");
    }
    Ok(())
}

/// Tells the victims to check their pages and waits for them.
fn check_victims(v: &[(zx::Task, Event, u64); VICTIMS]) -> TestResult {
    for (task, event, addr) in v {
        ok!(event.signal_handle(Signals::NONE, Signals::USER_1));
        let end = ok!(task.join());
        check!(
            end != zx::TaskEnd::Exited(VICTIM_CORRUPTED),
            "the victim's page at {addr:#x} changed"
        );
    }
    Ok(())
}

fn random_syscalls_return_defined_statuses() -> TestResult {
    let seed = run_seed();
    let scratch = ok!(new_scratch());
    let word = 0u64;
    let v = [ok!(start_victim()), ok!(start_victim())];
    let pool = Pool::new();
    let mut f = ok!(Fuzz::new(&pool, seed, scratch, [v[0].2, v[1].2], &word));
    f.new_arena();
    check!(f.arena() != 0, "no arena");
    let start = Time::get_monotonic();
    let (tally, failure) = f.run(CALLS);
    let elapsed_ms = (Time::get_monotonic() - start).into_nanos() / 1_000_000;
    // Close everything it made; then none of those values is a handle.
    let closed = f.close_all();
    tally.print("", seed, elapsed_ms);
    if let Some(why) = failure {
        return Err(Failure::Fail(why));
    }
    check_eq!(tally.calls, CALLS);
    check_victims(&v)?;
    all_closed(&closed)?;
    // The kernel still works for this task.
    check!(valid(f.root), "the fuzzer lost its own sub-VMAR handle");
    let vmo = ok!(Vmo::create(2 * PAGE));
    ok!(vmo.write(b"after", PAGE));
    let child = ok!(vmo.create_child(VmoChildOptions::COPY_ON_WRITE, 0, 2 * PAGE));
    let addr = ok!(map_rw(&child, 2 * PAGE));
    // SAFETY: a fresh read-write mapping of this test's child VMO.
    check_eq!(unsafe { peek(addr + PAGE) }, b'a');
    check!(!zero_children(&vmo));
    ok!(unmap(addr, 2 * PAGE));
    drop(child);
    check!(zero_children(&vmo));
    let event = ok!(Event::create());
    ok!(event.signal_handle(Signals::NONE, Signals::USER_0));
    check_eq!(
        event.wait_handle(Signals::USER_0, Time::INFINITE_PAST),
        Ok(Signals::USER_0)
    );
    Ok(())
}

// ---- every CPU at once -------------------------------------------------

/// Threads of the concurrent run: one per CPU on the 4-CPU configurations
/// (on fewer CPUs they take turns, preempted mid-call).
const THREADS: usize = 4;
/// Calls of the concurrent run, over all its threads.
const SMP_CALLS: u64 = 100_000;
/// Stack bytes of each helper thread.
const THREAD_STACK: u64 = 16 * PAGE;
/// How long the run's task may take to end (the run takes seconds).
const SMP_DEADLINE_S: i64 = 300;

/// The memory the concurrent run's task shares with its threads and with
/// the test that started it: its first page is a [`Board`], then a stack
/// per helper thread.
const BOARD_LEN: u64 = PAGE + (THREADS as u64 - 1) * THREAD_STACK;

/// What one thread of the concurrent run reports (written once, when it
/// stops; read by the test after the run's task ended).
#[derive(Clone, Copy)]
#[repr(C)]
struct Report {
    tally: Tally,
    /// 1 if it stopped on an undefined result (`why` says which).
    failed: u64,
    why: crate::out::Line,
}

/// The first page of the concurrent run's shared memory. Zeroed memory is
/// a board before the run.
#[repr(C)]
struct Board {
    seed: u64,
    /// Calls over all the threads.
    calls: u64,
    victims: [u64; VICTIMS],
    /// Each thread's scratch mapping.
    scratch: [u64; THREADS],
    /// Set once every thread exists: then they start.
    go: AtomicU64,
    elapsed_ms: AtomicU64,
    pool: Pool,
    reports: [Report; THREADS],
}

const _: () = assert!(size_of::<Board>() as u64 <= PAGE);

/// The board at `base`.
///
/// # Safety
///
/// `base` is the start of a mapping of a [`BOARD_LEN`] VMO, mapped for as
/// long as the reference is used.
unsafe fn board(base: u64) -> &'static Board {
    // SAFETY: the caller's contract; a `Board` is atomics and plain words
    // (zeroed is valid), and `reports` is only written through
    // `write_report`.
    unsafe { &*(base as *const Board) }
}

/// Stores thread `n`'s report on the board at `base`.
fn write_report(base: u64, n: usize, report: Report) {
    let at = base + (core::mem::offset_of!(Board, reports) + n * size_of::<Report>()) as u64;
    // SAFETY: the board's mapping lives as long as the run's task; only
    // thread `n` writes `reports[n]`, and the test reads it after the task
    // ended.
    unsafe { core::ptr::write_volatile(at as *mut Report, report) };
}

/// Thread `n` of the concurrent run: its share of the calls with its own
/// seed (the run's, mixed with `n`), on the pool every thread shares.
fn fuzz_thread(base: u64, n: usize) {
    // SAFETY: the run's task keeps the board mapped until it ends.
    let b = unsafe { board(base) };
    while b.go.load(Acquire) == 0 {
        core::hint::spin_loop();
    }
    let word = 0u64;
    let seed = thread_seed(b.seed, n);
    let mut report = Report {
        tally: Tally::ZERO,
        failed: 0,
        why: crate::out::Line::new(),
    };
    match Fuzz::new(&b.pool, seed, b.scratch[n], b.victims, &word) {
        Ok(mut f) => {
            let (tally, failure) =
                f.run(b.calls / THREADS as u64 + (n == 0) as u64 * (b.calls % THREADS as u64));
            report.tally = tally;
            if let Some(why) = failure {
                report.failed = 1;
                report.why = why;
            }
        }
        Err(e) => {
            report.failed = 1;
            report.why = format(format_args!("no fuzzer: {e:?}"));
        }
    }
    write_report(base, n, report);
}

/// Thread `n`'s seed in a run seeded with `seed`.
fn thread_seed(seed: u64, n: usize) -> u64 {
    seed ^ (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

extern "C" fn fuzz_helper_entry(base: u64, n: u64) -> ! {
    fuzz_thread(base, n as usize);
    zx::Thread::exit()
}

/// The concurrent run's task: `h[0]` is the board's VMO. Makes every
/// handle it needs first (threads, scratch mappings, the arena), so
/// nothing but fuzzer junk is made while the threads fuzz; then runs
/// thread 0 itself, waits for the others, and closes what the pool holds.
/// Anything the threads lost track of the task's end closes.
fn fuzz_task(h: [abi::Handle; 4]) {
    let vmo = Vmo::from(zx::Handle::from_raw(h[0]));
    let Ok(base) = map_rw(&vmo, BOARD_LEN) else {
        return;
    };
    drop(vmo);
    // SAFETY: mapped just now, for the rest of this task.
    let b = unsafe { board(base) };
    let me = zx::Task::self_handle();
    let mut threads = [const { None }; THREADS];
    for (n, t) in threads.iter_mut().enumerate() {
        let Ok(scratch) = new_scratch() else { return };
        // SAFETY: thread `n` reads its scratch address only after `go`.
        unsafe { (&raw const b.scratch[n]).cast_mut().write_volatile(scratch) };
        if n > 0 {
            let Ok(thread) = zx::Thread::create(&me) else {
                return;
            };
            *t = Some(thread);
        }
    }
    let word = 0u64;
    let Ok(mut f0) = Fuzz::new(&b.pool, 0, b.scratch[0], b.victims, &word) else {
        return;
    };
    f0.new_arena();
    for (n, t) in threads.iter().enumerate() {
        if let Some(t) = t {
            let top = base + PAGE + n as u64 * THREAD_STACK;
            if t.start(fuzz_helper_entry, top, base, n as u64).is_err() {
                return;
            }
        }
    }
    let start = Time::get_monotonic();
    b.go.store(1, Release);
    fuzz_thread(base, 0);
    let deadline = Time::after(Duration::from_seconds(SMP_DEADLINE_S));
    for t in threads.iter().flatten() {
        if t.wait_handle(Signals::THREAD_TERMINATED, deadline).is_err() {
            // The test finds the report missing.
            return;
        }
    }
    let elapsed = (Time::get_monotonic() - start).into_nanos() / 1_000_000;
    b.elapsed_ms.store(elapsed as u64, Relaxed);
    let closed = f0.close_all();
    if let Err(Failure::Fail(why)) = all_closed(&closed) {
        // SAFETY: thread 0 (this one) wrote it; the others have ended.
        let mut r: Report = unsafe { core::ptr::read_volatile(&b.reports[0]) };
        r.failed = 1;
        r.why = why;
        write_report(base, 0, r);
    }
}

/// One concurrent run seeded with `seed`, its threads' pointers aimed at
/// the victims' pages too: what they did altogether, and how long it took.
fn concurrent_run(seed: u64, victims: [u64; VICTIMS], calls: u64) -> Result<(Tally, i64), Failure> {
    let vmo = ok!(Vmo::create(BOARD_LEN));
    let base = ok!(map_rw(&vmo, BOARD_LEN));
    let mut first = [0u8; 8 * (2 + VICTIMS)];
    first[..8].copy_from_slice(&seed.to_le_bytes());
    first[8..16].copy_from_slice(&calls.to_le_bytes());
    for (k, v) in victims.iter().enumerate() {
        first[16 + 8 * k..24 + 8 * k].copy_from_slice(&v.to_le_bytes());
    }
    ok!(vmo.write(&first, 0));
    let mut theirs = [ok!(vmo.duplicate_handle(zx::Rights::SAME_RIGHTS))];
    let task = ok!(crate::harness::spawn_with(fuzz_task, &mut theirs));
    let ended = task.wait_handle(
        Signals::TASK_TERMINATED,
        Time::after(Duration::from_seconds(SMP_DEADLINE_S + 10)),
    );
    if ended.is_err() {
        let _ = task.kill();
        return Err(Failure::Fail(format(format_args!(
            "seed {seed}: the run's task did not end"
        ))));
    }
    let end = ok!(task.end());
    check_eq!(end, zx::TaskEnd::Exited(0), "seed {seed}: the run's task");
    // SAFETY: mapped above until the unmap below; the run's task has ended.
    let b = unsafe { board(base) };
    let mut total = Tally::ZERO;
    let mut failure = None;
    for (n, r) in b.reports.iter().enumerate() {
        // SAFETY: written by the ended task's threads (or still zero).
        let r: Report = unsafe { core::ptr::read_volatile(r) };
        total.add(&r.tally);
        if r.failed != 0 && failure.is_none() {
            failure = Some(format(format_args!(
                "seed {seed} thread {n} (seed {}): {}",
                thread_seed(seed, n),
                r.why.as_str()
            )));
        }
    }
    let elapsed_ms = b.elapsed_ms.load(Relaxed) as i64;
    ok!(unmap(base, BOARD_LEN));
    if let Some(why) = failure {
        return Err(Failure::Fail(why));
    }
    check_eq!(total.calls, calls, "seed {seed}: calls made");
    Ok((total, elapsed_ms))
}

/// [`THREADS`] threads of one task, on as many CPUs, make 100,000 random
/// calls between them on handles, mappings and an arena they share: one
/// closes, replaces, moves or destroys what another is calling on. Every
/// call returns a defined status, every thread ends, the victims' pages
/// stay whole, and once the run's task has ended the kernel's heap and
/// free frames are back where they were.
///
/// A first run (same size, its own seed) grows the kernel's tables to what
/// such a run needs (they keep their capacity: the heap in use stays
/// higher after it, by some 200 KiB, and a frame); the run after it must
/// give back all it took. A run may still grow a table a step further
/// (up to three runs in a row after the warm-up, by 256 to 1,152 bytes;
/// 20 runs in one boot grew once, by 608 bytes, and stayed there), so up
/// to [`MEASURED_RUNS`] runs are made until one gives back all it took: a
/// leak shows in every run, growth to a high-water mark does not.
fn random_syscalls_from_every_cpu_at_once() -> TestResult {
    /// Runs after the warm-up, at most.
    const MEASURED_RUNS: usize = 5;
    let seed = run_seed();
    let v = [ok!(start_victim()), ok!(start_victim())];
    let victims = [v[0].2, v[1].2];
    let warm_up = thread_seed(seed, THREADS);
    concurrent_run(warm_up, victims, SMP_CALLS)?;
    let mut usage = ((0, 0), (0, 0));
    for attempt in 0..MEASURED_RUNS {
        let start = ok!(super::reaping::quiet_usage());
        let (tally, ms) = concurrent_run(seed, victims, SMP_CALLS)?;
        if attempt == 0 {
            tally.print("4 threads, ", seed, ms);
        }
        usage = (start, ok!(super::reaping::usage_back_to(start)));
        if usage.0 == usage.1 {
            break;
        }
        if crate::harness::diagnostics() {
            println!(
                "    # fuzz: run {attempt}: (heap bytes, free frames) {:?} -> {:?}",
                usage.0, usage.1
            );
        }
    }
    check_eq!(
        usage.1,
        usage.0,
        "seed {seed}: (heap bytes, free frames) after the run"
    );
    check_victims(&v)?;
    Ok(())
}
