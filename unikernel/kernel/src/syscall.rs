//! The syscall layer: `svc #0` with the number in `x16`, arguments in
//! `x0`–`x7`, the status (or value) back in `x0`. Each handler takes the
//! syscall's arguments named and typed (the table converts the registers)
//! and returns a `Result`, turned into `x0` in one place; it copies user
//! memory in and out only where the task rules allow (copy-out into the
//! caller's sub-VMAR; copy-in from it or the EL0 image's read-only part),
//! with fault recovery and never under the object lock, and makes one call
//! into the object layer (or the scheduler), which checks handles and
//! rights.

use crate::arch::el0::UserRecord;
use crate::arch::exception::TrapFrame;
use crate::arch::usercopy;
use crate::objects;
use crate::sched;
use crate::task::{self, StartHandles, MAX_START_HANDLES};
use abi::*;
use object::{KernelObject, MapArgs};
use zerocopy::{Immutable, IntoBytes};

/// Who is calling: its handle table (`table`) and where its memory is
/// (`vmar`). The thread's own record, borrowed where it lies (at the top
/// of its kernel stack), not copied: a handler reads only what it needs.
type Caller = UserRecord;

impl Caller {
    /// Whether `[addr, addr + len)` lies in the caller's sub-VMAR.
    fn owns(&self, addr: u64, len: u64) -> bool {
        let (base, size) = self.vmar;
        addr.checked_add(len)
            .is_some_and(|end| addr >= base && end <= base + size)
    }

    fn copy_out_bytes(&self, addr: u64, data: &[u8]) -> Result<(), Status> {
        if data.is_empty() {
            return Ok(());
        }
        if !self.owns(addr, data.len() as u64) {
            return Err(ZX_ERR_INVALID_ARGS);
        }
        // SAFETY: the destination is the caller's own memory (checked);
        // faults there are recovered.
        if unsafe { usercopy::copy(addr as *mut u8, data.as_ptr(), data.len()) } {
            Ok(())
        } else {
            Err(ZX_ERR_INVALID_ARGS)
        }
    }

    fn copy_in_bytes(&self, addr: u64, buf: &mut [u8]) -> Result<(), Status> {
        if buf.is_empty() {
            return Ok(());
        }
        let len = buf.len() as u64;
        if !self.owns(addr, len) && !task::image::get().is_readonly(addr, len) {
            return Err(ZX_ERR_INVALID_ARGS);
        }
        // SAFETY: the source is the caller's memory or the image's read-only
        // part (checked); faults there are recovered.
        if unsafe { usercopy::copy(buf.as_mut_ptr(), addr as *const u8, buf.len()) } {
            Ok(())
        } else {
            Err(ZX_ERR_INVALID_ARGS)
        }
    }

    /// Writes a plain value (an integer or a `repr(C)` record) to `addr`.
    fn put<T: IntoBytes + Immutable>(&self, addr: u64, value: T) -> Result<(), Status> {
        self.copy_out_bytes(addr, value.as_bytes())
    }

    /// Checks that `addr` can take a `T` before anything is done, so a
    /// call with a bad out-pointer has no effect: writes back what is there,
    /// so a call that then fails leaves the caller's memory as it was
    /// (Zircon writes results only on success).
    fn probe<T>(&self, addr: u64) -> Result<(), Status> {
        let len = size_of::<T>();
        if !self.owns(addr, len as u64) {
            return Err(ZX_ERR_INVALID_ARGS);
        }
        // SAFETY: the caller's own memory (checked); faults there are
        // recovered. Copied onto itself, each piece is loaded before it is
        // stored, so the memory is read and written and stays as it was.
        if unsafe { usercopy::copy(addr as *mut u8, addr as *const u8, len) } {
            Ok(())
        } else {
            Err(ZX_ERR_INVALID_ARGS)
        }
    }

    /// [`Self::probe`] for a call on `handle`: a bad handle is reported
    /// before a bad pointer (Zircon looks the handle up first and writes
    /// its results last).
    fn probe_for<T>(&self, handle: Handle, addr: u64) -> Result<(), Status> {
        self.probe::<T>(addr)
            .map_err(|e| self.checks_first(e, |s| s.entry(self.table, handle).map(drop)))
    }

    /// The status of a call whose pointer failed with `e`: the call's own
    /// `checks` (its handle, type, rights) come first when one fails, as
    /// Zircon looks the handle up before it copies anything.
    fn checks_first(
        &self,
        e: Status,
        checks: impl FnOnce(&mut objects::Space) -> Result<(), Status>,
    ) -> Status {
        objects::with(checks).err().unwrap_or(e)
    }

    /// Closes one of the caller's handles, whatever it names (an undo).
    fn close(&self, handle: Handle) {
        objects::with(|s| s.task(self.table).handle_close(handle)).ok();
    }

    /// Writes a new handle to `out`; if that fails, closes it, so a bad
    /// pointer leaves nothing behind.
    fn put_handle(&self, out: u64, handle: Handle) -> Result<(), Status> {
        self.put(out, handle).inspect_err(|_| self.close(handle))
    }
}

/// Raw `x0` for a status.
fn status(s: Status) -> u64 {
    s.0 as i64 as u64
}

/// `Ok` for `ZX_OK`, else the status as an error.
fn ok_or_status(s: Status) -> Result<(), Status> {
    if s == ZX_OK {
        Ok(())
    } else {
        Err(s)
    }
}

/// A syscall's argument registers, `x0`–`x7`.
type Args = [u64; 8];

/// One argument register as the type a handler's parameter declares: the
/// ABI's 32-bit types (handles, rights, signals, options) take the
/// register's low half, as Zircon's C ABI does.
trait FromReg {
    fn from_reg(r: u64) -> Self;
}

impl FromReg for u64 {
    #[inline(always)]
    fn from_reg(r: u64) -> Self {
        r
    }
}

impl FromReg for u32 {
    #[inline(always)]
    fn from_reg(r: u64) -> Self {
        r as u32
    }
}

impl FromReg for i64 {
    #[inline(always)]
    fn from_reg(r: u64) -> Self {
        r as i64
    }
}

impl FromReg for usize {
    #[inline(always)]
    fn from_reg(r: u64) -> Self {
        r as usize
    }
}

/// What a handler returns, as `x0`: a status, or the value of the one
/// call that returns a value instead (`clock_get_monotonic`).
trait IntoX0 {
    fn into_x0(self) -> u64;
}

impl IntoX0 for Result<(), Status> {
    #[inline(always)]
    fn into_x0(self) -> u64 {
        status(self.err().unwrap_or(ZX_OK))
    }
}

impl IntoX0 for u32 {
    #[inline(always)]
    fn into_x0(self) -> u64 {
        u64::from(self)
    }
}

impl IntoX0 for Time {
    #[inline(always)]
    fn into_x0(self) -> u64 {
        self as u64
    }
}

/// A handler as the table holds it: the registers in, `x0` out.
type Entry = fn(&Caller, &Args) -> u64;

/// The table of handlers by syscall number: `Call => handler(registers)`
/// passes those argument registers, each converted to the type of the
/// handler's parameter in its place, and turns the result into `x0`. Each
/// handler is inlined into its entry, so a syscall costs one indirect
/// call, as when the table held the handlers themselves.
macro_rules! handlers {
    ($($call:ident => $handler:ident($($reg:literal),*);)*) => {
        /// Handlers by syscall number; a number no call has gets
        /// [`bad_syscall`] (so dispatch tests the bound only).
        static HANDLERS: [Entry; Syscall::COUNT] = {
            let mut t: [Entry; Syscall::COUNT] = [bad_syscall; Syscall::COUNT];
            $(
                t[Syscall::$call as usize] = {
                    #[allow(unused_variables)] // by the calls without arguments
                    fn entry(c: &Caller, a: &Args) -> u64 {
                        $handler(c, $(FromReg::from_reg(a[$reg])),*).into_x0()
                    }
                    entry
                };
            )*
            t
        };
    };
}

handlers! {
    Null => sys_null();
    HandleClose => sys_handle_close(0);
    HandleDuplicate => sys_handle_duplicate(0, 1, 2);
    HandleReplace => sys_handle_replace(0, 1, 2);
    VmoCreate => sys_vmo_create(0, 1, 2);
    VmoCreateChild => sys_vmo_create_child(0, 1, 2, 3, 4);
    VmoRead => sys_vmo_read(0, 1, 2, 3);
    VmoWrite => sys_vmo_write(0, 1, 2, 3);
    VmoGetSize => sys_vmo_get_size(0, 1);
    VmoSetSize => sys_vmo_set_size(0, 1);
    VmoOpRange => sys_vmo_op_range(0, 1, 2, 3, 4, 5);
    VmarMap => sys_vmar_map(0, 1, 2, 3, 4, 5, 6);
    VmarUnmap => sys_vmar_unmap(0, 1, 2);
    VmarProtect => sys_vmar_protect(0, 1, 2, 3);
    VmarAllocate => sys_vmar_allocate(0, 1, 2, 3, 4, 5);
    VmarDestroy => sys_vmar_destroy(0);
    ObjectGetInfo => sys_object_get_info(0, 1, 2, 3, 4, 5);
    ObjectWaitOne => sys_object_wait_one(0, 1, 2, 3);
    ObjectWaitMany => sys_object_wait_many(0, 1, 2);
    ObjectSignal => sys_object_signal(0, 1, 2);
    EventCreate => sys_event_create(0, 1);
    Nanosleep => sys_nanosleep(0);
    ClockGetMonotonic => sys_clock_get_monotonic();
    TaskCreate => sys_task_create(0, 1, 2, 3, 4);
    ThreadCreate => sys_thread_create(0, 1, 2);
    ThreadStart => sys_thread_start(0, 1, 2, 3, 4);
    TaskExit => sys_task_exit(0);
    ThreadExit => sys_thread_exit();
    ConsoleWrite => sys_console_write(0, 1);
    TaskKill => sys_task_kill(0);
    TimerCreate => sys_timer_create(0, 1, 2);
    TimerSet => sys_timer_set(0, 1, 2);
    TimerCancel => sys_timer_cancel(0);
    ObjectWaitAsync => sys_object_wait_async(0, 1, 2, 3, 4);
    PortCreate => sys_port_create(0, 1);
    PortQueue => sys_port_queue(0, 1);
    PortWait => sys_port_wait(0, 1, 2);
    PortCancel => sys_port_cancel(0, 1, 2);
    SystemGetNumCpus => sys_system_get_num_cpus();
}

/// The table's entry for a number that names no call.
fn bad_syscall(_: &Caller, _: &Args) -> u64 {
    status(ZX_ERR_BAD_SYSCALL)
}

/// Handles `svc #0` from EL0: the result goes in the frame's `x0`.
#[inline(always)]
pub fn dispatch(frame: &mut TrapFrame, record: &UserRecord) {
    let handler = usize::try_from(frame.x[16])
        .ok()
        .and_then(|n| HANDLERS.get(n).copied())
        .unwrap_or(bad_syscall);
    frame.x[0] = match frame.x.first_chunk::<8>() {
        Some(args) => handler(record, args),
        None => status(ZX_ERR_BAD_SYSCALL),
    };
}

fn sys_null(_: &Caller) -> Result<(), Status> {
    Ok(())
}

fn sys_handle_close(c: &Caller, h: Handle) -> Result<(), Status> {
    let closed = objects::with(move |s| s.task(c.table).handle_close(h));
    // The last handle of a large VMO leaves its frames to free in steps.
    objects::reclaim();
    closed
}

fn sys_handle_duplicate(c: &Caller, h: Handle, rights: Rights, out: u64) -> Result<(), Status> {
    let dup = objects::with(move |s| s.task(c.table).handle_duplicate(h, rights))?;
    c.put_handle(out, dup)
}

fn sys_handle_replace(c: &Caller, h: Handle, rights: Rights, out: u64) -> Result<(), Status> {
    // "handle is always invalidated": a bad `out` too closes it.
    c.probe_for::<Handle>(h, out).inspect_err(|_| c.close(h))?;
    let new = objects::with(move |s| s.task(c.table).handle_replace(h, rights))?;
    c.put_handle(out, new)
}

fn sys_vmo_create(c: &Caller, size: u64, options: u32, out: u64) -> Result<(), Status> {
    let h = objects::with(move |s| s.task(c.table).vmo_create(size, options))?;
    c.put_handle(out, h)
}

fn sys_vmo_create_child(
    c: &Caller,
    h: Handle,
    options: u32,
    offset: u64,
    size: u64,
    out: u64,
) -> Result<(), Status> {
    // The out-pointer is checked before the child exists (making and then
    // closing one would toggle the parent's ZX_VMO_ZERO_CHILDREN), but the
    // call's own errors (the handle, its type and rights, the options,
    // offset and size) are reported before it, as Zircon writes results last.
    c.probe::<Handle>(out).map_err(|e| {
        c.checks_first(e, |s| {
            s.task(c.table)
                .vmo_create_child_checks(h, options, offset, size)
        })
    })?;
    let child = objects::with(move |s| s.task(c.table).vmo_create_child(h, options, offset, size))?;
    c.put_handle(out, child)
}

/// Bytes moved per round of `vmo_read`/`vmo_write` through the kernel.
const CHUNK: usize = 4096;

/// The buffers `vmo_read`/`vmo_write` move data through: static, so a call
/// does not zero 4 KiB of stack first (each is always filled before use).
/// They mask no interrupts: a call holds one across its rounds and may be
/// preempted between them; with all in use, a caller yields until one is
/// free (their holders are runnable: a round never blocks).
static BOUNCE: [spin::Mutex<[u8; CHUNK]>; 4] = [const { spin::Mutex::new([0; CHUNK]) }; 4];

fn bounce() -> spin::MutexGuard<'static, [u8; CHUNK]> {
    loop {
        if let Some(b) = BOUNCE.iter().find_map(|b| b.try_lock()) {
            return b;
        }
        sched::yield_now();
    }
}

/// Checks a `vmo_read`/`vmo_write` (or COMMIT/DECOMMIT) call before any
/// byte moves: the object layer's handle, type, right and range checks.
fn check_range(c: &Caller, h: Handle, right: Rights, offset: u64, len: u64) -> Result<(), Status> {
    objects::with(move |s| s.task(c.table).vmo_check_range(h, right, offset, len))
}

/// `vmo_read` and `vmo_write` move a chunk per round: the object lock is
/// held only to copy between the VMO and the bounce buffer, the copy to or
/// from task memory runs with IRQs masked only by the exception, and each
/// round ends at a preemption point. Each round checks again, so a VMO
/// shrunk, a handle closed or a buffer unmapped meanwhile fails the call
/// with that round's status; the reference pages leave the bytes moved by
/// a failed call undefined.
fn sys_vmo_read(c: &Caller, h: Handle, buf: u64, offset: u64, len: u64) -> Result<(), Status> {
    check_range(c, h, ZX_RIGHT_READ, offset, len)?;
    if len > 0 && !c.owns(buf, len) {
        return Err(ZX_ERR_INVALID_ARGS);
    }
    let mut bounce = bounce();
    let mut done = 0;
    while done < len {
        let n = (len - done).min(CHUNK as u64) as usize;
        objects::with(|s| s.task(c.table).vmo_read(h, &mut bounce[..n], offset + done))?;
        c.copy_out_bytes(buf + done, &bounce[..n])?;
        done += n as u64;
        crate::latency::preempt_point();
    }
    Ok(())
}

fn sys_vmo_write(c: &Caller, h: Handle, buf: u64, offset: u64, len: u64) -> Result<(), Status> {
    check_range(c, h, ZX_RIGHT_WRITE, offset, len)?;
    let mut bounce = bounce();
    let mut done = 0;
    while done < len {
        let n = (len - done).min(CHUNK as u64) as usize;
        c.copy_in_bytes(buf + done, &mut bounce[..n])?;
        objects::with(|s| s.task(c.table).vmo_write(h, &bounce[..n], offset + done))?;
        done += n as u64;
        crate::latency::preempt_point();
    }
    Ok(())
}

fn sys_vmo_get_size(c: &Caller, h: Handle, out: u64) -> Result<(), Status> {
    let size = objects::with(move |s| s.task(c.table).vmo_get_size(h))?;
    c.put(out, size)
}

fn sys_vmo_set_size(c: &Caller, h: Handle, size: u64) -> Result<(), Status> {
    // A shrink goes down SHRINK_PIECE own pages per hold of the object
    // lock (an empty stretch at once), interrupts on and preemptible
    // between them: each piece is a whole resize to a size between, so
    // every state a piece leaves is one a resize could. A grow, or a call
    // the checks refuse, is the first piece.
    while !objects::with(move |s| s.task(c.table).vmo_set_size_piece(h, size, SHRINK_PIECE))? {
        crate::latency::preempt_point();
    }
    Ok(())
}

/// Own pages a `vmo_set_size` shrink frees per hold of the object lock.
const SHRINK_PIECE: usize = 512;

fn sys_vmo_op_range(
    c: &Caller,
    h: Handle,
    op: u32,
    offset: u64,
    size: u64,
    buf: u64,
    buf_size: u64,
) -> Result<(), Status> {
    if object::CacheOp::from_op(op).is_some() {
        return vmo_cache_op(c, h, op, offset, size);
    }
    if (op == ZX_VMO_OP_COMMIT || op == ZX_VMO_OP_DECOMMIT) && size > 0 {
        return op_range_in_pieces(c, h, op, offset, size);
    }
    if op != ZX_VMO_OP_LOOKUP {
        return objects::with(move |s| s.task(c.table).vmo_op_range(h, op, offset, size, &mut []));
    }
    // As many entries as the range needs, or as the buffer holds if fewer.
    let pages = offset.checked_add(size).map_or(0, |end| {
        end.div_ceil(PAGE_SIZE).saturating_sub(offset / PAGE_SIZE)
    });
    let entries = (buf_size / 8).min(pages);
    // The whole call's checks first (handle, right, size, range, then
    // a buffer too small for the range), with no buffer: a range that
    // passes them all reports BUFFER_TOO_SMALL here. Then the buffer's
    // address.
    match objects::with(move |s| s.task(c.table).vmo_op_range(h, op, offset, size, &mut [])) {
        Err(ZX_ERR_BUFFER_TOO_SMALL) if entries == pages => {}
        r => return r,
    }
    if !c.owns(buf, entries * 8) {
        return Err(ZX_ERR_INVALID_ARGS);
    }
    // Then in rounds of LOOKUP_ROUND pages, each under the object lock
    // once and copied out after it: neither the lock hold nor any
    // kernel allocation grows with the range.
    let first = offset / PAGE_SIZE;
    let mut round = [0u64; LOOKUP_ROUND];
    let mut done = 0;
    while done < pages {
        let n = (pages - done).min(LOOKUP_ROUND as u64);
        let out = &mut round[..n as usize];
        let at = (first + done) * PAGE_SIZE;
        objects::with(|s| s.task(c.table).vmo_op_range(h, op, at, n * PAGE_SIZE, out))?;
        c.copy_out_bytes(buf + done * 8, out.as_bytes())?;
        done += n;
    }
    Ok(())
}

/// Pages `ZX_VMO_OP_LOOKUP` looks up per hold of the object lock.
const LOOKUP_ROUND: usize = 256;

/// A cache op of `zx_vmo_op_range`, in bounded rounds: each round finds
/// a few committed pages under the object lock, and the maintenance runs
/// after it is dropped (interrupts on, preemptible), so neither grows with
/// the range. Safe on a page freed or reused meanwhile: every op only
/// writes dirty lines back, never drops one (`arch::cache`).
fn vmo_cache_op(c: &Caller, h: Handle, op: u32, offset: u64, size: u64) -> Result<(), Status> {
    let cache = object::CacheOp::from_op(op).ok_or(ZX_ERR_INVALID_ARGS)?;
    let mut spans = [object::CacheSpan {
        frame: object::Frame::new(0),
        offset: 0,
        len: 0,
    }; object::CACHE_ROUND_PAGES];
    let mut from = offset;
    loop {
        let (n, next) = objects::with(|s| {
            s.task(c.table)
                .vmo_cache_round(h, op, offset, size, from, &mut spans)
        })?;
        for span in &spans[..n] {
            crate::arch::cache::maintain(
                cache,
                span.frame.paddr() + span.offset as u64,
                span.len as u64,
            );
        }
        match next {
            Some(f) => from = f,
            None => return Ok(()),
        }
        crate::latency::preempt_point();
    }
}

/// Pages COMMIT or DECOMMIT handles per lock hold.
const OP_PIECE: u64 = 64 * PAGE_SIZE;

/// COMMIT and DECOMMIT of `[offset, offset + size)`, `size > 0`: the whole
/// range is checked first (so a bad request changes nothing; a COMMIT
/// whose missing pages cannot fit is `ZX_ERR_NO_MEMORY` then), then done a
/// piece at a time, each its own lock hold (the syscall runs with IRQs
/// unmasked between them). A piece that fails (memory ran out, or the VMO
/// shrank meanwhile) ends the call with its status; the pieces before it
/// stay done, as a failed COMMIT may leave some pages committed.
fn op_range_in_pieces(
    c: &Caller,
    h: Handle,
    op: u32,
    offset: u64,
    size: u64,
) -> Result<(), Status> {
    if op == ZX_VMO_OP_COMMIT {
        // The checks, and whether the pages it lacks could fit at all: in
        // the task's quota (the object layer) and in the free frames. One
        // that cannot fails now, with nothing committed, as the era's
        // kernel's COMMIT (all pages allocated together) did.
        let need = objects::with(move |s| s.task(c.table).vmo_commit_need(h, offset, size))?;
        if need > crate::mm::frame::free_frames() as u64 {
            return Err(ZX_ERR_NO_MEMORY);
        }
    } else {
        check_range(c, h, ZX_RIGHT_WRITE, offset, size)?;
    }
    let end = offset + size;
    let mut at = offset;
    while at < end {
        // A COMMIT piece is OP_PIECE of the range; a DECOMMIT piece frees
        // as many own pages, however far apart (a sparse 64 TiB range is
        // a few pieces, not 2^28).
        let next = objects::with(move |s| {
            let mut t = s.task(c.table);
            let next = if op == ZX_VMO_OP_DECOMMIT {
                t.vmo_decommit_piece_end(h, at, end, (OP_PIECE / PAGE_SIZE) as usize)?
            } else {
                ((at / OP_PIECE + 1) * OP_PIECE).min(end)
            };
            t.vmo_op_range(h, op, at, next - at, &mut [])?;
            Ok::<_, Status>(next)
        })?;
        at = next;
        crate::latency::preempt_point();
    }
    if op == ZX_VMO_OP_DECOMMIT {
        objects::reclaim();
    }
    Ok(())
}

/// The handler has the syscall's seven arguments.
#[allow(clippy::too_many_arguments)]
fn sys_vmar_map(
    c: &Caller,
    vmar: Handle,
    options: VmOptions,
    vmar_offset: u64,
    vmo: Handle,
    vmo_offset: u64,
    len: u64,
    out: u64,
) -> Result<(), Status> {
    let args = MapArgs {
        vmar,
        options,
        vmar_offset,
        vmo,
        vmo_offset,
        len,
    };
    // The address is stored through the object layer in the same step
    // as the mapping, as the task's own store would go: a failure, a
    // bad out-pointer's included, leaves every mapping as it was (even
    // one in the range a ZX_VM_SPECIFIC_OVERWRITE would replace). An
    // out-pointer outside the caller's own sub-VMAR goes in as address 0,
    // which nothing maps: the map's own checks come first (as Zircon
    // writes its result last), then that is INVALID_ARGS.
    let out = object::OutPtr {
        root: objects::root_vmar(),
        addr: if c.owns(out, size_of::<u64>() as u64) {
            out
        } else {
            0
        },
    };
    let root = out.root;
    // A ZX_VM_SPECIFIC_OVERWRITE replaces what it covers all at once, in
    // one hold (no other map, unmap or protect, and no fault, sees it half
    // done). The old mappings' translations are what can be many: the map
    // drops at most OVERWRITE_PIECE of them in its hold and is
    // ZX_ERR_SHOULD_WAIT, nothing else changed, if more are left; they go
    // then, OVERWRITE_PIECE a hold, interrupts on and preemptible between
    // (dropping one is always safe: a page touched meanwhile faults back
    // through the old mapping), and the map is made again.
    let (_, populate) = loop {
        match objects::with(|s| s.task(c.table).vmar_map_out_unpopulated(&args, out)) {
            Err(ZX_ERR_SHOULD_WAIT) => drop_overwritten(c, &args),
            mapped => break mapped?,
        }
    };
    // ZX_VM_MAP_RANGE's translations come after the map, POPULATE_PIECE
    // own pages of the VMO chain per hold, interrupts on and
    // preemptible between them (64 MiB in one hold masked IRQs for
    // 5.5 ms). One that fails takes the mapping away again, as a map
    // that fails leaves none.
    let Some(mut p) = populate else {
        return Ok(());
    };
    loop {
        match objects::with(|s| s.populate_step(root, &mut p, POPULATE_PIECE)) {
            Ok(true) => return Ok(()),
            Ok(false) => crate::latency::preempt_point(),
            Err(e) => {
                let mut undo = objects::with(|s| s.populate_undo(root, &p));
                if let Some(u) = undo.as_mut() {
                    objects::in_steps(|s, budget| s.vmar_unmap_step(u, budget));
                }
                return Err(e);
            }
        }
    }
}

/// Drops the translations of what a `ZX_VM_SPECIFIC_OVERWRITE` (its
/// handles, options, offsets and length) replaces, in pieces of
/// `object::OVERWRITE_PIECE` a hold, preemptible between.
#[cold]
#[inline(never)]
fn drop_overwritten(c: &Caller, args: &MapArgs<Handle, Handle>) {
    let root = objects::root_vmar();
    let range = objects::with(|s| s.task(c.table).vmar_overwrite_range(args));
    let Some((mut at, end)) = range else { return };
    while at < end {
        at = objects::with(|s| {
            s.unmap_translations_some(root, at, end - at, object::OVERWRITE_PIECE)
        });
        crate::latency::preempt_point();
    }
}

/// Own pages of a `ZX_VM_MAP_RANGE` mapping's chain given translations per
/// hold of the object lock.
const POPULATE_PIECE: usize = 128;

/// `vmar_unmap` and `vmar_destroy` check and start under the lock, then
/// remove what the range or VMAR holds in bounded steps (see
/// `ObjectSpace::vmar_unmap_step`): however many mappings there are, the
/// lock is never held for more than one step.
fn sys_vmar_unmap(c: &Caller, vmar: Handle, addr: u64, len: u64) -> Result<(), Status> {
    objects::start_in_steps(
        move |s| s.task(c.table).vmar_unmap_begin(vmar, addr, len),
        |s, u, budget| s.vmar_unmap_step(u, budget),
    )
}

fn sys_vmar_protect(
    c: &Caller,
    vmar: Handle,
    options: VmOptions,
    addr: u64,
    len: u64,
) -> Result<(), Status> {
    // The new permissions in one hold; the old translations go in pieces,
    // interrupts on and preemptible between them (a populated 256 MiB
    // range is 65,536 entries). Each piece drops PROTECT_PIECE entries,
    // however far apart: a huge sparse range is a few pieces, not one per
    // stretch of address. A page touched meanwhile faults back in with the
    // new permissions or keeps an old entry a later piece drops.
    let root = objects::root_vmar();
    let piece = |at: u64| {
        objects::with(|s| s.unmap_translations_some(root, at, addr + len - at, PROTECT_PIECE))
    };
    if !objects::with(move |s| s.task(c.table).vmar_protect_begin(vmar, options, addr, len))? {
        return Ok(());
    }
    let mut at = piece(addr);
    while at < addr + len {
        crate::latency::preempt_point();
        at = piece(at);
    }
    Ok(())
}

/// Translations `vmar_protect` drops per hold of the object lock.
const PROTECT_PIECE: usize = 512;

fn sys_vmar_allocate(
    c: &Caller,
    parent: Handle,
    options: VmOptions,
    offset: u64,
    size: u64,
    child_out: u64,
    addr_out: u64,
) -> Result<(), Status> {
    let (h, addr) =
        objects::with(move |s| s.task(c.table).vmar_allocate(parent, options, offset, size))?;
    let undo = |_: &Status| {
        objects::with(|s| {
            s.task(c.table).vmar_destroy(h).ok();
            s.task(c.table).handle_close(h).ok();
        });
    };
    c.put(addr_out, addr).inspect_err(undo)?;
    c.put(child_out, h).inspect_err(undo)
}

fn sys_vmar_destroy(c: &Caller, vmar: Handle) -> Result<(), Status> {
    objects::start_in_steps(
        move |s| s.task(c.table).vmar_destroy_begin(vmar),
        |s, vmar, budget| s.vmar_destroy_step(*vmar, budget),
    )
}

fn sys_object_get_info(
    c: &Caller,
    h: Handle,
    topic: InfoTopic,
    buf: u64,
    buf_size: usize,
    actual_out: u64,
    avail_out: u64,
) -> Result<(), Status> {
    let mut kbuf = [0u8; 256];
    let want = buf_size.min(kbuf.len());
    let (actual, avail, len) = match info_record(c, h, topic, &mut kbuf[..want]) {
        // One record that does not fit: none returned, one available
        // (the page: "avail will be larger than actual").
        Err(ZX_ERR_BUFFER_TOO_SMALL) => (0, 1, None),
        r => {
            let (actual, avail, len) = r?;
            (actual, avail, Some(len))
        }
    };
    if let Some(len) = len {
        c.copy_out_bytes(buf, &kbuf[..len])?;
    }
    if actual_out != 0 {
        c.put(actual_out, actual)?;
    }
    if avail_out != 0 {
        c.put(avail_out, avail)?;
    }
    len.map(drop).ok_or(ZX_ERR_BUFFER_TOO_SMALL)
}

/// `topic`'s record for `h` in `buf`: (actual, avail, bytes written), or
/// `ZX_ERR_BUFFER_TOO_SMALL`. The kernel's own topics here, the object
/// layer's there.
fn info_record(
    c: &Caller,
    h: Handle,
    topic: InfoTopic,
    buf: &mut [u8],
) -> Result<(usize, usize, usize), Status> {
    match topic {
        ZX_INFO_TASK_END => {
            let info = objects::with(|s| {
                let signals = s
                    .task(c.table)
                    .kernel_object(h, ZX_RIGHT_INSPECT)?
                    .signals();
                Ok::<_, Status>(task::end_info(s, signals))
            })?;
            object::put_record(buf, &info)
        }
        ZX_INFO_PROCESS => {
            let info = inspect_kernel(c, h, ZX_OBJ_TYPE_PROCESS, |s, k| {
                task::process_info(s, k.signals())
            })?;
            object::put_record(buf, &info)
        }
        ZX_INFO_THREAD => {
            let thread = inspect_kernel(c, h, ZX_OBJ_TYPE_THREAD, |_, k| match k {
                task::KObject::Thread { id, .. } => Some(*id),
                _ => None,
            })?
            .ok_or(ZX_ERR_WRONG_TYPE)?;
            // Outside the object lock: it takes the thread table's and the
            // scheduler's.
            object::put_record(buf, &task::thread_info(thread))
        }
        ZX_INFO_KERNEL_COUNTERS => {
            let counters = objects::with(|s| {
                s.entry(c.table, h)?;
                Ok::<_, Status>(s.vm_counters())
            })?;
            let faults = crate::vm::fault::counts();
            let (masked_longest, masked_recent) = crate::latency::longest_ns();
            let info = ZxInfoKernelCounters {
                translation_faults: faults.translation,
                permission_faults: faults.permission,
                pages_copied: counters.pages_copied,
                pages_zero_filled: counters.pages_zero_filled,
                heap_in_use: crate::mm::heap::stats().allocated_bytes as u64,
                free_frames: crate::mm::frame::free_frames() as u64,
                irq_masked_longest_ns: masked_longest,
                irq_masked_recent_ns: masked_recent,
                zeroed_frames: crate::mm::frame::zeroed_frames() as u64,
            };
            object::put_record(buf, &info)
        }
        _ => objects::with(|s| s.task(c.table).object_get_info(h, topic, buf)),
    }
}

/// `f` on the kernel object `h` names, under the object lock: it must be
/// of `obj_type` (else `ZX_ERR_WRONG_TYPE`) and `h` must have INSPECT (else
/// `ZX_ERR_ACCESS_DENIED`), as the reference page's RIGHTS say.
fn inspect_kernel<R>(
    c: &Caller,
    h: Handle,
    obj_type: ObjType,
    f: impl FnOnce(&objects::Space, &task::KObject) -> R,
) -> Result<R, Status> {
    objects::with(|s| {
        let e = s.entry(c.table, h)?;
        let object::Object::Kernel(k) = &e.object else {
            return Err(ZX_ERR_WRONG_TYPE);
        };
        if k.obj_type() != obj_type {
            return Err(ZX_ERR_WRONG_TYPE);
        }
        if e.rights & ZX_RIGHT_INSPECT == 0 {
            return Err(ZX_ERR_ACCESS_DENIED);
        }
        Ok(f(s, k))
    })
}

fn sys_object_wait_one(
    c: &Caller,
    h: Handle,
    signals: Signals,
    deadline: Time,
    observed_out: u64,
) -> Result<(), Status> {
    if observed_out != 0 {
        c.probe_for::<Signals>(h, observed_out)?;
    }
    let (st, observed) = objects::wait::object_wait_one(c.table, h, signals, deadline);
    if observed_out != 0 {
        c.put(observed_out, observed)?;
    }
    ok_or_status(st)
}

fn sys_object_wait_many(c: &Caller, ptr: u64, count: u64, deadline: Time) -> Result<(), Status> {
    if count > ZX_WAIT_MANY_MAX_ITEMS as u64 {
        return Err(ZX_ERR_OUT_OF_RANGE);
    }
    let mut items = [WaitItem::default(); ZX_WAIT_MANY_MAX_ITEMS];
    let items = &mut items[..count as usize];
    c.copy_in_bytes(ptr, items.as_mut_bytes())?;
    // The results go back to the same place: check it takes them now,
    // so a bad pointer fails before any wait.
    c.copy_out_bytes(ptr, items.as_bytes())?;
    let st = objects::wait::object_wait_many(c.table, items, deadline);
    if matches!(st, ZX_OK | ZX_ERR_TIMED_OUT | ZX_ERR_CANCELED) {
        c.copy_out_bytes(ptr, items.as_bytes())?;
    }
    ok_or_status(st)
}

fn sys_object_signal(c: &Caller, h: Handle, clear: Signals, set: Signals) -> Result<(), Status> {
    objects::with(move |s| s.task(c.table).object_signal(h, clear, set))
}

fn sys_event_create(c: &Caller, options: u32, out: u64) -> Result<(), Status> {
    c.probe::<Handle>(out)?;
    let h = objects::with(move |s| s.task(c.table).event_create(options))?;
    c.put_handle(out, h)
}

fn sys_nanosleep(_: &Caller, deadline: Time) -> Result<(), Status> {
    ok_or_status(sched::sleep::nanosleep(deadline))
}

/// Kept out of line: `just profile` (ci/profile.py) cuts the timed regions
/// of a benchmark at this symbol.
#[inline(never)]
fn sys_clock_get_monotonic(_: &Caller) -> Time {
    sched::sleep::clock_get_monotonic()
}

/// `zx_system_get_num_cpus`: the CPUs the kernel runs on (it cannot fail).
fn sys_system_get_num_cpus(_: &Caller) -> u32 {
    sched::cpus_online()
}

fn sys_task_create(
    c: &Caller,
    entry: u64,
    arg: u64,
    handles: u64,
    count: usize,
    out: u64,
) -> Result<(), Status> {
    if count > MAX_START_HANDLES {
        return Err(ZX_ERR_INVALID_ARGS);
    }
    c.probe::<Handle>(out)?;
    let mut from = [ZX_HANDLE_INVALID; MAX_START_HANDLES];
    c.copy_in_bytes(handles, from[..count].as_mut_bytes())?;
    let h = task::create(c.table, entry, arg, &StartHandles { count, from })?;
    c.put_handle(out, h)
}

fn sys_thread_create(c: &Caller, task: Handle, options: u32, out: u64) -> Result<(), Status> {
    let h = task::thread_create(c.table, task, options)?;
    c.put_handle(out, h)
}

fn sys_thread_start(
    c: &Caller,
    thread: Handle,
    entry: u64,
    stack: u64,
    arg1: u64,
    arg2: u64,
) -> Result<(), Status> {
    task::thread_start(c.table, thread, entry, stack, arg1, arg2)
}

/// `task_exit` and `thread_exit` run with IRQs masked, as they did before
/// syscalls ran unmasked: nothing may switch to a thread woken by the
/// task's end before the exiting thread is off the CPU for good (its
/// teardown steps still let interrupts in between them).
fn sys_task_exit(_: &Caller, code: i64) -> Result<(), Status> {
    crate::arch::irq_save();
    task::exit_current_task(code)
}

fn sys_thread_exit(_: &Caller) -> Result<(), Status> {
    crate::arch::irq_save();
    task::exit_current_thread()
}

fn sys_task_kill(c: &Caller, h: Handle) -> Result<(), Status> {
    task::kill(c.table, h)
}

fn sys_timer_create(c: &Caller, options: u32, clock_id: u32, out: u64) -> Result<(), Status> {
    c.probe::<Handle>(out)?;
    let h = crate::timers::create(c.table, options, clock_id)?;
    c.put_handle(out, h)
}

fn sys_timer_set(c: &Caller, h: Handle, deadline: Time, slack: i64) -> Result<(), Status> {
    crate::timers::set(c.table, h, deadline, slack)
}

fn sys_timer_cancel(c: &Caller, h: Handle) -> Result<(), Status> {
    crate::timers::cancel(c.table, h)
}

fn sys_object_wait_async(
    c: &Caller,
    h: Handle,
    port: Handle,
    key: u64,
    signals: Signals,
    options: u32,
) -> Result<(), Status> {
    crate::ports::wait_async(c.table, h, port, key, signals, options)
}

fn sys_port_create(c: &Caller, options: u32, out: u64) -> Result<(), Status> {
    c.probe::<Handle>(out)?;
    let h = crate::ports::create(c.table, options)?;
    c.put_handle(out, h)
}

fn sys_port_queue(c: &Caller, port: Handle, packet: u64) -> Result<(), Status> {
    let mut p = PortPacket::default();
    c.copy_in_bytes(packet, p.as_mut_bytes())
        .map_err(|e| c.checks_first(e, |s| s.port_check(c.table, port, ZX_RIGHT_WRITE)))?;
    crate::ports::queue(c.table, port, &p)
}

/// The packet pointer is checked before the wait (a bad one fails with
/// nothing taken off the queue), written after it.
fn sys_port_wait(c: &Caller, port: Handle, deadline: Time, out: u64) -> Result<(), Status> {
    c.probe::<PortPacket>(out)
        .map_err(|e| c.checks_first(e, |s| s.port_check(c.table, port, ZX_RIGHT_READ)))?;
    let mut packet = PortPacket::default();
    crate::ports::wait(c.table, port, deadline, &mut packet)?;
    c.copy_out_bytes(out, packet.as_bytes())
}

fn sys_port_cancel(c: &Caller, port: Handle, source: Handle, key: u64) -> Result<(), Status> {
    crate::ports::cancel(c.table, port, source, key)
}

/// The longest line a task may write at once.
const CONSOLE_LINE_MAX: usize = 512;

fn sys_console_write(c: &Caller, ptr: u64, len: usize) -> Result<(), Status> {
    if len > CONSOLE_LINE_MAX {
        return Err(ZX_ERR_OUT_OF_RANGE);
    }
    let mut buf = [0u8; CONSOLE_LINE_MAX];
    c.copy_in_bytes(ptr, &mut buf[..len])?;
    let text = buf[..len].strip_suffix(b"\n").unwrap_or(&buf[..len]);
    let line = core::str::from_utf8(text).map_err(|_| ZX_ERR_INVALID_ARGS)?;
    if line.contains('\n') {
        return Err(ZX_ERR_INVALID_ARGS);
    }
    crate::println!("{line}");
    Ok(())
}
