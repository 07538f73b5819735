//! Helpers the suites share: signal polls, reads and lookups, mappings, raw calls, stack-free
//! thread entries, helper threads that act later, and handles and addresses the kernel must
//! refuse.

use crate::harness::TestResult;
use crate::{check, check_eq, ok};
use abi::Syscall;
use core::sync::atomic::AtomicU64;
use zx::{
    AsHandleRef, Duration, Signals, Status, Task, TaskEnd, Thread, Time, Vmar, VmarFlags, Vmo,
};

/// An address in kernel memory (the QEMU `virt` kernel image's start).
pub const KERNEL_ADDR: u64 = 0x4008_0000;
/// An address no translation ever covers (above the 48-bit TTBR0 range).
pub const NON_CANONICAL: u64 = 0xffff_0000_0000_1000;
/// A page.
pub const PAGE: u64 = abi::PAGE_SIZE;

/// A word in the EL0 image's read-only data (copy-in from it is allowed).
pub static RODATA_WORDS: [u64; 4] = [0x0102_0304_0506_0708, 2, 3, 4];
/// A word in the EL0 image's `.data`, shared by every task: outside each
/// task's sub-VMAR, so the kernel copies neither in from it nor out to it.
pub static DATA_WORD: AtomicU64 = AtomicU64::new(0x5555);

/// Address of [`RODATA_WORDS`].
pub fn rodata_addr() -> u64 {
    RODATA_WORDS.as_ptr() as u64
}

/// Address of [`DATA_WORD`].
pub fn data_addr() -> u64 {
    DATA_WORD.as_ptr() as u64
}

/// Address of some code in the image's text.
pub fn text_addr() -> u64 {
    text_addr as *const () as u64
}

/// Closes `object`: its handle value, now stale.
pub fn closed(object: impl AsHandleRef) -> abi::Handle {
    let h = object.raw_handle();
    drop(object);
    h
}

/// Fails unless `call` refuses with `BAD_HANDLE` the handle values no task
/// holds (0, `u32::MAX`, a forged one) and `stale`, one it held and closed.
pub fn refuses_bad_handles(
    call: impl Fn(abi::Handle) -> Result<(), Status>,
    stale: abi::Handle,
) -> TestResult {
    for h in [0, u32::MAX, 0x1234_5673, stale] {
        check_eq!(call(h), Err(Status::BAD_HANDLE), "handle {h:#x}");
    }
    Ok(())
}

/// The signals active on `h` now (needs WAIT).
pub fn signals(h: &impl AsHandleRef) -> Signals {
    h.wait_handle_observed(Signals(!0), Time::INFINITE_PAST).1
}

/// Whether `ZX_VMO_ZERO_CHILDREN` is active on `vmo`.
pub fn zero_children(vmo: &Vmo) -> bool {
    signals(vmo).contains(Signals::VMO_ZERO_CHILDREN)
}

/// Fails, saying `why`, unless `vmo` has no children: both its
/// `ZERO_CHILDREN` signal and its info's `num_children` say so.
pub fn childless(vmo: &Vmo, why: core::fmt::Arguments) -> TestResult {
    check!(zero_children(vmo), "{why}");
    check_eq!(ok!(vmo.info()).num_children, 0, "{why}");
    Ok(())
}

/// Maps `len` bytes of `vmo` from offset 0 in the task's own sub-VMAR.
pub fn map(vmo: &Vmo, len: u64, flags: VmarFlags) -> Result<u64, Status> {
    Vmar::root_self().map(0, vmo, 0, len, flags)
}

/// A one-page VMO holding `bytes` at `offset`, mapped read-write here: the
/// VMO and the mapping's address.
pub fn mapped_page_with(bytes: &[u8], offset: u64) -> Result<(Vmo, u64), Status> {
    let vmo = Vmo::create(PAGE)?;
    vmo.write(bytes, offset)?;
    let addr = map_rw(&vmo, PAGE)?;
    Ok((vmo, addr))
}

/// Maps `len` bytes of `vmo` read-write.
pub fn map_rw(vmo: &Vmo, len: u64) -> Result<u64, Status> {
    map(vmo, len, VmarFlags::RW)
}

/// Unmaps `[addr, addr + len)` from the task's own sub-VMAR.
pub fn unmap(addr: u64, len: u64) -> Result<(), Status> {
    Vmar::root_self().unmap(addr, len)
}

/// Reads a byte through a pointer.
///
/// # Safety
/// `addr` must be mapped readable (or the test expects the task to fault).
pub unsafe fn peek(addr: u64) -> u8 {
    // SAFETY: forwarded to the caller.
    unsafe { core::ptr::read_volatile(addr as *const u8) }
}

/// Calls the code at `addr` as an `extern "C" fn()`.
///
/// # Safety
/// `addr` must hold such a function, executable here (or the test expects
/// the task to fault).
pub unsafe fn call(addr: u64) {
    // SAFETY: forwarded to the caller.
    let f: extern "C" fn() = unsafe { core::mem::transmute(addr as usize) };
    f();
}

/// Writes a byte through a pointer.
///
/// # Safety
/// `addr` must be mapped writable and hold nothing the task relies on
/// (or the test expects the task to fault).
pub unsafe fn poke(addr: u64, value: u8) {
    // SAFETY: forwarded to the caller.
    unsafe { core::ptr::write_volatile(addr as *mut u8, value) }
}

/// One byte of `vmo` at `offset`, through `vmo_read`.
pub fn byte_at(vmo: &Vmo, offset: u64) -> Result<u8, Status> {
    Ok(bytes_at::<1>(vmo, offset)?[0])
}

/// The `N` bytes of `vmo` at `offset`.
pub fn bytes_at<const N: usize>(vmo: &Vmo, offset: u64) -> Result<[u8; N], Status> {
    let mut b = [0u8; N];
    vmo.read(&mut b, offset)?;
    Ok(b)
}

/// The physical addresses of the `N` pages of `vmo` that `len` bytes at
/// `offset` touch (`ZX_VMO_OP_LOOKUP`).
pub fn paddrs<const N: usize>(vmo: &Vmo, offset: u64, len: u64) -> Result<[u64; N], Status> {
    let mut addrs = [0u64; N];
    vmo.lookup(offset, len, &mut addrs)?;
    Ok(addrs)
}

/// The little-endian word of `vmo` at `offset`.
pub fn word_at(vmo: &Vmo, offset: u64) -> Result<u64, Status> {
    Ok(u64::from_le_bytes(bytes_at(vmo, offset)?))
}

/// A one-page VMO and a copy-on-write child of all of it.
pub fn page_and_child() -> Result<(Vmo, Vmo), Status> {
    let parent = Vmo::create(PAGE)?;
    let child = parent.create_child(zx::VmoChildOptions::COPY_ON_WRITE, 0, PAGE)?;
    Ok((parent, child))
}

/// Fills the page of `vmo` at `page` with `value` through `vmo_write`.
pub fn fill_page(vmo: &Vmo, page: u64, value: u8) -> Result<(), Status> {
    vmo.write(&[value; PAGE as usize], page * PAGE)
}

/// Whether every byte of the page of `vmo` at `page` is `value`.
pub fn page_is(vmo: &Vmo, page: u64, value: u8) -> Result<bool, Status> {
    let mut buf = [0u8; PAGE as usize];
    vmo.read(&mut buf, page * PAGE)?;
    Ok(buf.iter().all(|&b| b == value))
}

/// A raw syscall's status.
///
/// # Safety
/// As for [`zx::sys::call`]: the kernel may write the caller's memory
/// through pointer arguments that lie in its sub-VMAR.
pub unsafe fn raw(n: abi::Syscall, a: [u64; 8]) -> Status {
    // SAFETY: forwarded to the caller.
    Status(unsafe { zx::sys::status(n, a) })
}

/// A handle value this task never had (right shape, nothing behind it).
pub const FORGED_HANDLE: abi::Handle = 0x7fff_fff3;

/// Addresses a kernel copy-out must refuse: none lies in the caller's
/// sub-VMAR (null, kernel memory, beyond any translation, the image's
/// text, read-only data and shared data).
pub fn foreign_out_ptrs() -> [u64; 6] {
    [
        0,
        KERNEL_ADDR,
        NON_CANONICAL,
        text_addr(),
        rodata_addr(),
        data_addr(),
    ]
}

/// Addresses a kernel copy-in must refuse: not in the caller's sub-VMAR
/// nor in the image's read-only part.
pub fn foreign_in_ptrs() -> [u64; 4] {
    [0, KERNEL_ADDR, NON_CANONICAL, data_addr()]
}

/// An address in the caller's sub-VMAR with nothing mapped: the base of a
/// fresh, empty sub-region (kept alive by the returned handle).
pub fn unmapped_own_addr() -> Result<(Vmar, u64), Status> {
    let flags = VmarFlags::CAN_MAP_READ | VmarFlags::CAN_MAP_WRITE;
    Vmar::root_self().allocate(0, 16 * PAGE, flags)
}

/// Whether `h` is a valid handle in this task (`ZX_INFO_HANDLE_VALID`).
pub fn valid(h: abi::Handle) -> bool {
    let handle = core::mem::ManuallyDrop::new(zx::Handle::from_raw(h));
    handle
        .get_info_raw(abi::ZX_INFO_HANDLE_VALID, &mut [])
        .is_ok()
}

/// Defines `extern "C" fn $name(u64, u64) -> !`, a thread entry written as
/// a naked function's instructions and operands. It must touch no stack, so
/// that a thread can run it in any task, one with no stack mapped included.
macro_rules! stackless_entry {
    ($(#[$doc:meta])* $vis:vis $name:ident: $($asm:tt)+) => {
        $(#[$doc])*
        #[unsafe(naked)]
        $vis extern "C" fn $name(_: u64, _: u64) -> ! {
            core::arch::naked_asm!($($asm)+)
        }
    };
}
pub(crate) use stackless_entry;

/// Defines a thread entry `fn(deadline, handle)` that sleeps until
/// `deadline`, makes one syscall with `handle` in `x0` (the given
/// instructions set the rest and `x16`), then exits the thread. It needs no
/// stack: a helper thread of a test, acting on the test's objects later.
macro_rules! later_entry {
    ($(#[$doc:meta])* $name:ident, [$($call:literal),+ $(,)?] $(, $($operand:tt)+)?) => {
        $(#[$doc])*
        #[unsafe(naked)]
        pub extern "C" fn $name(_deadline: u64, _handle: u64) -> ! {
            core::arch::naked_asm!(
                "mov x19, x1",
                "mov x16, #{nanosleep}",
                "svc #0",
                "mov x0, x19",
                $($call,)+
                "svc #0",
                "mov x16, #{thread_exit}",
                "svc #0",
                "b .",
                nanosleep = const abi::Syscall::Nanosleep as u64,
                thread_exit = const abi::Syscall::ThreadExit as u64,
                $($($operand)+)?
            )
        }
    };
}
pub(crate) use later_entry;

/// One `asm!` block that loads v0–v31 from the 512 bytes at `load`, runs
/// the given instructions, then stores v0–v31 to the 512 bytes at `store`:
/// whatever the instructions make the kernel do, the stored registers must
/// equal the loaded ones. Every `v` register is declared changed; the
/// caller declares the rest and wraps the block in `unsafe`.
macro_rules! vregs_kept_across {
    (load = $load:expr, store = $store:expr, [$($insn:literal),+ $(,)?], $($operand:tt)+) => {
        core::arch::asm!(
            "ld1 {{v0.16b, v1.16b, v2.16b, v3.16b}}, [{vregs_load}], #64",
            "ld1 {{v4.16b, v5.16b, v6.16b, v7.16b}}, [{vregs_load}], #64",
            "ld1 {{v8.16b, v9.16b, v10.16b, v11.16b}}, [{vregs_load}], #64",
            "ld1 {{v12.16b, v13.16b, v14.16b, v15.16b}}, [{vregs_load}], #64",
            "ld1 {{v16.16b, v17.16b, v18.16b, v19.16b}}, [{vregs_load}], #64",
            "ld1 {{v20.16b, v21.16b, v22.16b, v23.16b}}, [{vregs_load}], #64",
            "ld1 {{v24.16b, v25.16b, v26.16b, v27.16b}}, [{vregs_load}], #64",
            "ld1 {{v28.16b, v29.16b, v30.16b, v31.16b}}, [{vregs_load}], #64",
            $($insn,)+
            "st1 {{v0.16b, v1.16b, v2.16b, v3.16b}}, [{vregs_store}], #64",
            "st1 {{v4.16b, v5.16b, v6.16b, v7.16b}}, [{vregs_store}], #64",
            "st1 {{v8.16b, v9.16b, v10.16b, v11.16b}}, [{vregs_store}], #64",
            "st1 {{v12.16b, v13.16b, v14.16b, v15.16b}}, [{vregs_store}], #64",
            "st1 {{v16.16b, v17.16b, v18.16b, v19.16b}}, [{vregs_store}], #64",
            "st1 {{v20.16b, v21.16b, v22.16b, v23.16b}}, [{vregs_store}], #64",
            "st1 {{v24.16b, v25.16b, v26.16b, v27.16b}}, [{vregs_store}], #64",
            "st1 {{v28.16b, v29.16b, v30.16b, v31.16b}}, [{vregs_store}], #64",
            vregs_load = inout(reg) $load => _,
            vregs_store = inout(reg) $store => _,
            $($operand)+
            out("v0") _, out("v1") _, out("v2") _, out("v3") _,
            out("v4") _, out("v5") _, out("v6") _, out("v7") _,
            out("v8") _, out("v9") _, out("v10") _, out("v11") _,
            out("v12") _, out("v13") _, out("v14") _, out("v15") _,
            out("v16") _, out("v17") _, out("v18") _, out("v19") _,
            out("v20") _, out("v21") _, out("v22") _, out("v23") _,
            out("v24") _, out("v25") _, out("v26") _, out("v27") _,
            out("v28") _, out("v29") _, out("v30") _, out("v31") _,
            options(nostack),
        )
    };
}
pub(crate) use vregs_kept_across;

later_entry!(
    /// Sleeps until the deadline in `x0`, then closes the handle in `x1`.
    close_later_entry,
    ["mov x16, #{close}"],
    close = const Syscall::HandleClose as u64,
);

/// A thread of this task running `entry(deadline, handle)` (an entry like
/// [`close_later_entry`], acting on `handle` once `deadline` has passed).
pub fn helper_thread(
    entry: zx::ThreadEntry,
    deadline: Time,
    h: abi::Handle,
) -> Result<Thread, Status> {
    let t = Thread::create(&Task::self_handle())?;
    t.start(entry, 0, deadline.into_nanos() as u64, u64::from(h))?;
    Ok(t)
}

/// Runs `attempt(deadline)`, a wait on a handle a helper closes at
/// `deadline` ([`close_later_entry`]), until the wait began before the
/// close: an attempt that saw `BAD_HANDLE` had its handle closed first (a
/// loaded host may not run this thread for milliseconds), so it goes again
/// with a later deadline (2, 20, 200, 2,000 ms from now). The status of the
/// first attempt whose wait began in time, else `BAD_HANDLE`.
pub fn wait_closed_meanwhile(mut attempt: impl FnMut(Time) -> Status) -> Status {
    for ms in [2, 20, 200, 2000] {
        let st = attempt(Time::after(zx::Duration::from_millis(ms)));
        if st != Status::BAD_HANDLE {
            return st;
        }
    }
    Status::BAD_HANDLE
}

/// Starts `f(handle)` in a helper task, lets it block for 2 ms, and kills
/// it: fails unless it was still running then and ends killed.
pub fn kill_while_blocked(f: fn([abi::Handle; 4]), handle: zx::Handle) -> TestResult {
    let task = ok!(crate::harness::spawn_with(f, &mut [handle]));
    Duration::from_millis(2).sleep();
    check_eq!(ok!(task.end()), TaskEnd::Running);
    kill_and_join(&task)
}

/// Kills `task`: fails unless the kill succeeds and the task ends killed.
pub fn kill_and_join(task: &Task) -> TestResult {
    ok!(task.kill());
    check_eq!(ok!(task.join()), TaskEnd::Killed);
    Ok(())
}
