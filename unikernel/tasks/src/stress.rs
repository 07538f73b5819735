//! The worst calls for interrupt latency (issue 13): huge `vmo_read` and
//! `vmo_write`, destroying tens of thousands of mappings, a task ending
//! with thousands of handles and mappings. Each runs while a second thread
//! of the task sleeps (1 ms at full size) and records how late it wakes; the
//! kernel's longest IRQs-masked interval during the call comes from
//! `ZX_INFO_KERNEL_COUNTERS`. The EL0 suite runs them small, `just bench`
//! full size.

use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use zx::{
    AsHandleRef, Duration, Event, Handle, Rights, Signals, Status, Task, Thread, Time, Vmar,
    VmarFlags, Vmo,
};

const PAGE: u64 = abi::PAGE_SIZE;

/// A sub-VMAR's flags for read-write mappings.
pub const CAN_MAP_RW: VmarFlags = VmarFlags(abi::ZX_VM_CAN_MAP_READ | abi::ZX_VM_CAN_MAP_WRITE);

/// How big each worst call is.
#[derive(Copy, Clone, Debug)]
pub struct Size {
    /// Bytes of the `vmo_write` and the `vmo_read`.
    pub bytes: u64,
    /// One-page mappings destroyed with their VMAR.
    pub mappings: u64,
    /// Handles the ending task holds (and four times as many one-page
    /// mappings).
    pub handles: u64,
    /// How long the sleeping thread sleeps each time (ns).
    pub sleep_ns: i64,
}

/// The EL0 suite's size: seconds under TCG on every configuration.
pub const SMALL: Size = Size {
    bytes: 16 << 20,
    mappings: 16_000,
    handles: 2000,
    // Short: without `-icount` a loaded host runs QEMU in slices, and each
    // slice must hold several wake-ups for the suite to see the thread run
    // during a call (it failed so in CI at 1 ms).
    sleep_ns: 200_000,
};

/// `just bench`'s size.
pub const FULL: Size = Size {
    bytes: 64 << 20,
    mappings: 16_000,
    handles: 4000,
    sleep_ns: 1_000_000,
};

/// What a run measured.
#[derive(Copy, Clone, Debug, Default)]
pub struct Figures {
    /// The kernel's longest IRQs-masked interval during the calls (guest ns).
    pub masked_ns: u64,
    /// The latest a 1 ms sleep woke during the calls, past its deadline (ns).
    pub lateness_ns: i64,
    /// Sleeps the timer thread completed while the call ran: with IRQs
    /// masked throughout the call, at most the one that came due during it.
    pub sleeps: u64,
    /// How long the call took (ns).
    pub call_ns: u64,
}

/// What the sleeping thread shares with the caller (on the caller's stack;
/// both threads are in one task).
struct Shared {
    stop: AtomicBool,
    worst: AtomicI64,
    sleeps: AtomicU64,
}

extern "C" fn sleeper(shared: u64, sleep_ns: u64) -> ! {
    // SAFETY: `measure` keeps the record alive until this thread has ended.
    let shared = unsafe { &*(shared as *const Shared) };
    while !shared.stop.load(Ordering::Acquire) {
        let deadline = Time::after(Duration::from_nanos(sleep_ns as i64));
        deadline.sleep();
        let late = Time::get_monotonic().into_nanos() - deadline.into_nanos();
        shared.worst.fetch_max(late, Ordering::Relaxed);
        shared.sleeps.fetch_add(1, Ordering::Relaxed);
    }
    Thread::exit()
}

/// The kernel's longest masked interval since the previous read.
fn masked_recent() -> Result<u64, Status> {
    Ok(zx::kernel_counters(&*Vmar::root_self())?.irq_masked_recent_ns)
}

/// The sleeping thread, started by [`measure`].
struct Sleeper {
    thread: Thread,
    stack_addr: u64,
}

impl Sleeper {
    fn start(shared: &Shared, sleep_ns: i64) -> Result<Self, Status> {
        let stack = Vmo::create(16 * PAGE)?;
        let stack_addr = Vmar::root_self().map(0, &stack, 0, 16 * PAGE, VmarFlags::RW)?;
        let thread = Thread::create(&Task::self_handle())?;
        thread.start(
            sleeper,
            stack_addr + 16 * PAGE,
            shared as *const Shared as u64,
            sleep_ns as u64,
        )?;
        Ok(Sleeper { thread, stack_addr })
    }

    fn stop(self, shared: &Shared) -> Result<(), Status> {
        shared.stop.store(true, Ordering::Release);
        self.thread
            .wait_handle(Signals::TASK_TERMINATED, Time::INFINITE)?;
        Vmar::root_self().unmap(self.stack_addr, 16 * PAGE)
    }
}

/// Runs `call` (one of the worst calls; what it needs is made before)
/// with the sleeping thread going: the longest masked interval and the
/// worst lateness during it.
pub fn measure(size: Size, call: impl FnOnce() -> Result<(), Status>) -> Result<Figures, Status> {
    let shared = Shared {
        stop: AtomicBool::new(false),
        worst: AtomicI64::new(0),
        sleeps: AtomicU64::new(0),
    };
    let sleeper = Sleeper::start(&shared, size.sleep_ns)?;
    // Let it start its first sleep, then open the window.
    Duration::from_millis(1).sleep();
    masked_recent()?;
    let start = Time::get_monotonic().into_nanos();
    let sleeps_before = shared.sleeps.load(Ordering::Relaxed);
    let result = call();
    let sleeps = shared.sleeps.load(Ordering::Relaxed) - sleeps_before;
    let call_ns = (Time::get_monotonic().into_nanos() - start).max(0) as u64;
    let masked_ns = masked_recent()?;
    // One more sleep ends after the call: its lateness counts too.
    Duration::from_millis(2).sleep();
    sleeper.stop(&shared)?;
    result?;
    Ok(Figures {
        masked_ns,
        lateness_ns: shared.worst.load(Ordering::Relaxed),
        sleeps,
        call_ns,
    })
}

/// A `vmo_write` of `bytes` from a mapped buffer (`read`: a `vmo_read` of
/// them back into it), measured.
fn huge_copy(size: Size, read: bool) -> Result<Figures, Status> {
    let bytes = size.bytes;
    let buf_vmo = Vmo::create(bytes)?;
    let root = Vmar::root_self();
    let buf = root.map(0, &buf_vmo, 0, bytes, VmarFlags::RW)?;
    // SAFETY: the mapping is `bytes` long, readable and writable, and ours.
    let slice = unsafe { core::slice::from_raw_parts_mut(buf as *mut u8, bytes as usize) };
    slice[0] = 0x5a;
    let vmo = Vmo::create(bytes)?;
    let f = if read {
        vmo.write(slice, 0)
            .and_then(|()| measure(size, || vmo.read(slice, 0)))
    } else {
        measure(size, || vmo.write(slice, 0))
    };
    root.unmap(buf, bytes)?;
    f
}

/// A `vmo_write` of `bytes` from a mapped buffer, measured.
pub fn huge_write(size: Size) -> Result<Figures, Status> {
    huge_copy(size, false)
}

/// A `vmo_read` of `bytes` into a mapped buffer, measured.
pub fn huge_read(size: Size) -> Result<Figures, Status> {
    huge_copy(size, true)
}

/// A COMMIT of `bytes` of a fresh VMO, measured.
pub fn huge_commit(size: Size) -> Result<Figures, Status> {
    let bytes = size.bytes;
    let vmo = Vmo::create(bytes)?;
    measure(size, || vmo.op_range(zx::VmoOp::COMMIT, 0, bytes))
}

/// A fresh VMO of `bytes`, every page committed.
fn committed_vmo(bytes: u64) -> Result<Vmo, Status> {
    let vmo = Vmo::create(bytes)?;
    vmo.op_range(zx::VmoOp::COMMIT, 0, bytes)?;
    Ok(vmo)
}

/// Read-write, every translation made by the map (`ZX_VM_MAP_RANGE`).
const RW_RANGE: VmarFlags = VmarFlags(VmarFlags::RW.0 | abi::ZX_VM_MAP_RANGE);

/// Maps all of a committed VMO of `size.bytes` populated, then measures
/// `call(vmo, address)`; unmaps after.
fn on_populated(
    size: Size,
    call: impl FnOnce(&Vmo, u64) -> Result<(), Status>,
) -> Result<Figures, Status> {
    let vmo = committed_vmo(size.bytes)?;
    let root = Vmar::root_self();
    let addr = root.map(0, &vmo, 0, size.bytes, RW_RANGE)?;
    let f = measure(size, || call(&vmo, addr));
    root.unmap(addr, size.bytes)?;
    f
}

/// Protects a populated mapping read-only (measured): every translation
/// goes.
pub fn huge_protect(size: Size) -> Result<Figures, Status> {
    on_populated(size, |_, addr| {
        Vmar::root_self().protect(addr, size.bytes, VmarFlags::PERM_READ)
    })
}

/// Sets a populated mapping's VMO's size to 0 (measured): every
/// translation and frame goes.
pub fn huge_shrink(size: Size) -> Result<Figures, Status> {
    on_populated(size, |vmo, _| vmo.set_size(0))
}

/// Maps a fresh VMO with `ZX_VM_SPECIFIC_OVERWRITE` over a populated
/// mapping (measured): every old translation goes.
pub fn huge_overwrite(size: Size) -> Result<Figures, Status> {
    on_populated(size, |_, addr| {
        let root = Vmar::root_self();
        let base = root.info()?.base;
        let fresh = Vmo::create(size.bytes)?;
        let flags = VmarFlags(VmarFlags::RW.0 | abi::ZX_VM_SPECIFIC_OVERWRITE);
        let at = root.map(addr - base, &fresh, 0, size.bytes, flags)?;
        if at != addr {
            return Err(Status::BAD_STATE);
        }
        Ok(())
    })
}

/// Maps a committed VMO populated (MAP_RANGE: every translation made by
/// the call, measured).
pub fn huge_map_range(size: Size) -> Result<Figures, Status> {
    let bytes = size.bytes;
    let vmo = committed_vmo(bytes)?;
    let root = Vmar::root_self();
    let mut addr = 0;
    let f = measure(size, || {
        addr = root.map(0, &vmo, 0, bytes, RW_RANGE)?;
        Ok(())
    });
    if addr != 0 {
        root.unmap(addr, bytes)?;
    }
    f
}

/// Maps one page `n` times in a fresh sub-VMAR, then destroys the VMAR
/// (measured). The mappings go at given offsets: default placement is a
/// first-fit scan of the VMAR (O(n) per map until issue 14's gap tree).
pub fn destroy_many_mappings(size: Size) -> Result<Figures, Status> {
    let n = size.mappings;
    let vmo = Vmo::create(PAGE)?;
    let flags = VmarFlags(CAN_MAP_RW.0 | abi::ZX_VM_CAN_MAP_SPECIFIC);
    let (vmar, _) = Vmar::root_self().allocate(0, n * PAGE, flags)?;
    let specific = VmarFlags(VmarFlags::RW.0 | abi::ZX_VM_SPECIFIC);
    for i in 0..n {
        vmar.map(i * PAGE, &vmo, 0, PAGE, specific)?;
    }
    measure(size, || vmar.destroy())
}

/// Starts a task that opens `n` handles and maps a page `4 n` times, then
/// exits when told; its exit is measured, until it has ended.
pub fn exit_with_many_handles(size: Size) -> Result<Figures, Status> {
    let n = size.handles;
    let count = Vmo::create(8)?;
    count.write(&n.to_le_bytes(), 0)?;
    let ready = Event::create()?;
    let theirs = ready.duplicate_handle(Rights::SAME_RIGHTS)?;
    let task = Task::create(hoarder, 0, &mut [count.into(), theirs])?;
    // It signals USER_0 once it holds everything, then waits for USER_1.
    ready.wait_handle(Signals::USER_0 | Signals::TASK_TERMINATED, Time::INFINITE)?;
    let f = measure(size, || {
        ready.signal_handle(Signals::NONE, Signals::USER_1)?;
        task.join().map(drop)
    })?;
    if task.end()? != zx::TaskEnd::Exited(0) {
        return Err(Status::INTERNAL);
    }
    Ok(f)
}

extern "C" fn hoarder(_: u64, h0: abi::Handle, h1: abi::Handle, _: u32, _: u32) -> ! {
    let ready = Event::from(Handle::from_raw(h1));
    let run = || -> Result<(), Status> {
        let mut n = [0u8; 8];
        Vmo::from(Handle::from_raw(h0)).read(&mut n, 0)?;
        let n = u64::from_le_bytes(n);
        let event = Event::create()?;
        let vmo = Vmo::create(PAGE)?;
        let root = Vmar::root_self();
        for _ in 0..n {
            core::mem::forget(event.duplicate_handle(Rights::SAME_RIGHTS)?);
        }
        // At given places: default placement scans the VMAR (see above).
        let (vmar, _) = root.allocate(
            0,
            4 * n * PAGE,
            VmarFlags(CAN_MAP_RW.0 | abi::ZX_VM_CAN_MAP_SPECIFIC),
        )?;
        let specific = VmarFlags(VmarFlags::RW.0 | abi::ZX_VM_SPECIFIC);
        for i in 0..4 * n {
            vmar.map(i * PAGE, &vmo, 0, PAGE, specific)?;
        }
        ready.signal_handle(Signals::NONE, Signals::USER_0)?;
        ready.wait_handle(Signals::USER_1, Time::INFINITE)?;
        Ok(())
    };
    let code = if run().is_ok() { 0 } else { 1 };
    let _ = ready.signal_handle(Signals::NONE, Signals::USER_0);
    zx::exit(code)
}
