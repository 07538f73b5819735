//! The syscall layer: `svc #0` with the number in `x16`, arguments in
//! `x0`–`x7`, the status (or value) back in `x0`. Each handler decodes its
//! arguments, copies user memory in and out only where the task rules allow
//! (copy-out into the caller's sub-VMAR; copy-in from it or the EL0 image's
//! read-only part), with fault recovery and never under the object lock,
//! and makes one call into the object layer (or the scheduler).

use crate::arch::el0::UserRecord;
use crate::arch::exception::TrapFrame;
use crate::arch::usercopy;
use crate::objects;
use crate::sched;
use crate::task::{self, StartHandles, MAX_START_HANDLES};
use abi::*;
use object::TableId;

/// Who is calling: its handle table and where its memory is.
struct Caller {
    table: TableId,
    vmar: (u64, u64),
}

impl Caller {
    fn from_record(r: &UserRecord) -> Self {
        Self {
            table: r.table,
            vmar: r.vmar,
        }
    }

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
    fn put<T: Copy>(&self, addr: u64, value: T) -> Result<(), Status> {
        // SAFETY: `T` is plain data; its bytes are read for the copy.
        let bytes =
            unsafe { core::slice::from_raw_parts((&raw const value).cast::<u8>(), size_of::<T>()) };
        self.copy_out_bytes(addr, bytes)
    }

    /// Checks that `addr` can take a `T` before anything is done, so a
    /// call with a bad out-pointer has no effect.
    fn probe<T: Copy + Default>(&self, addr: u64) -> Result<(), Status> {
        self.put(addr, T::default())
    }

    /// [`Self::probe`] for a call on `handle`: a bad handle is reported
    /// before a bad pointer (Zircon looks the handle up first and writes
    /// its results last).
    fn probe_for<T: Copy + Default>(&self, handle: Handle, addr: u64) -> Result<(), Status> {
        self.probe::<T>(addr).map_err(|e| {
            match objects::with(|s| s.entry(self.table, handle).map(drop)) {
                Err(bad) => bad,
                Ok(()) => e,
            }
        })
    }

    /// Writes a new handle to `out`; if that fails, closes it, so a bad
    /// pointer leaves nothing behind.
    fn put_handle(&self, out: u64, handle: Handle) -> Result<(), Status> {
        self.put(out, handle).inspect_err(|_| {
            sched::wait::handle_close(self.table, handle);
        })
    }
}

/// Raw `x0` for a status.
fn status(s: Status) -> u64 {
    s.0 as i64 as u64
}

fn result(r: Result<(), Status>) -> u64 {
    status(r.err().unwrap_or(ZX_OK))
}

type Args = [u64; 8];
type Handler = fn(&Caller, &Args) -> u64;

/// Handlers by syscall number.
static HANDLERS: [Option<Handler>; 72] = {
    let mut t: [Option<Handler>; 72] = [None; 72];
    t[Syscall::Null as usize] = Some(sys_null);
    t[Syscall::HandleClose as usize] = Some(sys_handle_close);
    t[Syscall::HandleDuplicate as usize] = Some(sys_handle_duplicate);
    t[Syscall::HandleReplace as usize] = Some(sys_handle_replace);
    t[Syscall::VmoCreate as usize] = Some(sys_vmo_create);
    t[Syscall::VmoCreateChild as usize] = Some(sys_vmo_create_child);
    t[Syscall::VmoRead as usize] = Some(sys_vmo_read);
    t[Syscall::VmoWrite as usize] = Some(sys_vmo_write);
    t[Syscall::VmoGetSize as usize] = Some(sys_vmo_get_size);
    t[Syscall::VmoSetSize as usize] = Some(sys_vmo_set_size);
    t[Syscall::VmoOpRange as usize] = Some(sys_vmo_op_range);
    t[Syscall::VmarMap as usize] = Some(sys_vmar_map);
    t[Syscall::VmarUnmap as usize] = Some(sys_vmar_unmap);
    t[Syscall::VmarProtect as usize] = Some(sys_vmar_protect);
    t[Syscall::VmarAllocate as usize] = Some(sys_vmar_allocate);
    t[Syscall::VmarDestroy as usize] = Some(sys_vmar_destroy);
    t[Syscall::ObjectGetInfo as usize] = Some(sys_object_get_info);
    t[Syscall::ObjectWaitOne as usize] = Some(sys_object_wait_one);
    t[Syscall::ObjectWaitMany as usize] = Some(sys_object_wait_many);
    t[Syscall::ObjectSignal as usize] = Some(sys_object_signal);
    t[Syscall::EventCreate as usize] = Some(sys_event_create);
    t[Syscall::Nanosleep as usize] = Some(sys_nanosleep);
    t[Syscall::ClockGetMonotonic as usize] = Some(sys_clock_get_monotonic);
    t[Syscall::TaskCreate as usize] = Some(sys_task_create);
    t[Syscall::ThreadCreate as usize] = Some(sys_thread_create);
    t[Syscall::ThreadStart as usize] = Some(sys_thread_start);
    t[Syscall::TaskExit as usize] = Some(sys_task_exit);
    t[Syscall::ThreadExit as usize] = Some(sys_thread_exit);
    t[Syscall::ConsoleWrite as usize] = Some(sys_console_write);
    t[Syscall::TaskKill as usize] = Some(sys_task_kill);
    t[Syscall::TimerCreate as usize] = Some(sys_timer_create);
    t[Syscall::TimerSet as usize] = Some(sys_timer_set);
    t[Syscall::TimerCancel as usize] = Some(sys_timer_cancel);
    t[Syscall::ObjectWaitAsync as usize] = Some(sys_object_wait_async);
    t[Syscall::PortCreate as usize] = Some(sys_port_create);
    t[Syscall::PortQueue as usize] = Some(sys_port_queue);
    t[Syscall::PortWait as usize] = Some(sys_port_wait);
    t[Syscall::PortCancel as usize] = Some(sys_port_cancel);
    t
};

/// Handles `svc #0` from EL0: the result goes in the frame's `x0`.
pub fn dispatch(frame: &mut TrapFrame, record: &UserRecord) {
    let handler = usize::try_from(frame.x[16])
        .ok()
        .and_then(|n| HANDLERS.get(n).copied().flatten());
    let result = match (handler, frame.x.first_chunk::<8>()) {
        (Some(h), Some(args)) => h(&Caller::from_record(record), args),
        _ => status(ZX_ERR_BAD_SYSCALL),
    };
    frame.x[0] = result;
}

fn handle(a: u64) -> Handle {
    a as Handle
}

fn sys_null(_: &Caller, _: &Args) -> u64 {
    status(ZX_OK)
}

fn sys_handle_close(c: &Caller, a: &Args) -> u64 {
    let st = sched::wait::handle_close(c.table, handle(a[0]));
    // The last handle of a large VMO leaves its frames to free in steps.
    objects::reclaim();
    status(st)
}

fn sys_handle_duplicate(c: &Caller, a: &Args) -> u64 {
    result((|| {
        c.probe_for::<Handle>(handle(a[0]), a[2])?;
        let h = objects::with(|s| {
            s.task(c.table)
                .handle_duplicate(handle(a[0]), a[1] as Rights)
        })?;
        c.put_handle(a[2], h)
    })())
}

fn sys_handle_replace(c: &Caller, a: &Args) -> u64 {
    result((|| {
        // "handle is always invalidated": a bad `out` too closes it.
        c.probe_for::<Handle>(handle(a[0]), a[2]).inspect_err(|_| {
            sched::wait::handle_close(c.table, handle(a[0]));
        })?;
        let h = objects::with(|s| s.task(c.table).handle_replace(handle(a[0]), a[1] as Rights))?;
        c.put_handle(a[2], h)
    })())
}

fn sys_vmo_create(c: &Caller, a: &Args) -> u64 {
    result((|| {
        c.probe::<Handle>(a[2])?;
        let h = objects::with(|s| s.task(c.table).vmo_create(a[0], a[1] as u32))?;
        c.put_handle(a[2], h)
    })())
}

fn sys_vmo_create_child(c: &Caller, a: &Args) -> u64 {
    result((|| {
        c.probe_for::<Handle>(handle(a[0]), a[4])?;
        let h = objects::with(|s| {
            s.task(c.table)
                .vmo_create_child(handle(a[0]), a[1] as u32, a[2], a[3])
        })?;
        c.put_handle(a[4], h)
    })())
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

/// Checks a `vmo_read`/`vmo_write` range against the VMO's size and the
/// handle's right, so a failure comes before any byte moves.
fn check_rw(c: &Caller, h: Handle, offset: u64, len: u64, right: Rights) -> Result<(), Status> {
    objects::with(|s| {
        let e = s.entry(c.table, h)?;
        if !matches!(e.object, object::Object::Vmo(_)) {
            return Err(ZX_ERR_WRONG_TYPE);
        }
        if e.rights & right == 0 {
            return Err(ZX_ERR_ACCESS_DENIED);
        }
        let size = s.task(c.table).vmo_get_size(h)?;
        match offset.checked_add(len) {
            Some(end) if end <= size => Ok(()),
            _ => Err(ZX_ERR_OUT_OF_RANGE),
        }
    })
}

/// `vmo_read` and `vmo_write` move a chunk per round: the object lock is
/// held only to copy between the VMO and the bounce buffer, the copy to or
/// from task memory runs with IRQs masked only by the exception, and each
/// round ends at a preemption point. Each round checks again, so a VMO
/// shrunk, a handle closed or a buffer unmapped meanwhile fails the call
/// with that round's status; the reference pages leave the bytes moved by
/// a failed call undefined.
fn sys_vmo_read(c: &Caller, a: &Args) -> u64 {
    let (h, buf, offset, len) = (handle(a[0]), a[1], a[2], a[3]);
    result((|| {
        check_rw(c, h, offset, len, ZX_RIGHT_READ)?;
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
    })())
}

fn sys_vmo_write(c: &Caller, a: &Args) -> u64 {
    let (h, buf, offset, len) = (handle(a[0]), a[1], a[2], a[3]);
    result((|| {
        check_rw(c, h, offset, len, ZX_RIGHT_WRITE)?;
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
    })())
}

fn sys_vmo_get_size(c: &Caller, a: &Args) -> u64 {
    result((|| {
        c.probe_for::<u64>(handle(a[0]), a[1])?;
        let size = objects::with(|s| s.task(c.table).vmo_get_size(handle(a[0])))?;
        c.put(a[1], size)
    })())
}

fn sys_vmo_set_size(c: &Caller, a: &Args) -> u64 {
    let (h, size) = (handle(a[0]), a[1]);
    // A shrink goes down SHRINK_PIECE own pages per hold of the object
    // lock (an empty stretch at once), interrupts on and preemptible
    // between them: each piece is a whole resize to a size between, so
    // every state a piece leaves is one a resize could. A grow, or a call
    // the checks refuse, is the first piece.
    result((|| {
        while !objects::with(|s| s.task(c.table).vmo_set_size_piece(h, size, SHRINK_PIECE))? {
            crate::latency::preempt_point();
        }
        Ok(())
    })())
}

/// Own pages a `vmo_set_size` shrink frees per hold of the object lock.
const SHRINK_PIECE: usize = 512;

fn sys_vmo_op_range(c: &Caller, a: &Args) -> u64 {
    let (h, op, offset, size, buf, buf_size) = (handle(a[0]), a[1] as u32, a[2], a[3], a[4], a[5]);
    result((|| {
        if object::CacheOp::from_op(op).is_some() {
            return vmo_cache_op(c, h, op, offset, size);
        }
        if (op == ZX_VMO_OP_COMMIT || op == ZX_VMO_OP_DECOMMIT) && size > 0 {
            return op_range_in_pieces(c, h, op, offset, size);
        }
        if op != ZX_VMO_OP_LOOKUP {
            return objects::with(|s| s.task(c.table).vmo_op_range(h, op, offset, size, &mut []));
        }
        // As many entries as the range needs, or as the buffer holds if fewer.
        let pages = offset.checked_add(size).map_or(0, |end| {
            end.div_ceil(PAGE_SIZE).saturating_sub(offset / PAGE_SIZE)
        });
        let entries = (buf_size / 8).min(pages);
        if entries > 0 && !c.owns(buf, entries * 8) {
            return Err(ZX_ERR_INVALID_ARGS);
        }
        // The whole call's checks first (handle, right, size, range, then
        // a buffer too small for the range), with no buffer: a range that
        // passes them all reports BUFFER_TOO_SMALL here.
        match objects::with(|s| s.task(c.table).vmo_op_range(h, op, offset, size, &mut [])) {
            Err(ZX_ERR_BUFFER_TOO_SMALL) if entries == pages => {}
            r => return r,
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
            // SAFETY: a u64 slice viewed as bytes.
            let bytes =
                unsafe { core::slice::from_raw_parts(out.as_ptr().cast::<u8>(), out.len() * 8) };
            c.copy_out_bytes(buf + done * 8, bytes)?;
            done += n;
        }
        Ok(())
    })())
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
/// range is checked first (so a bad request changes nothing), then done a
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
    check_rw(c, h, offset, size, ZX_RIGHT_WRITE)?;
    let end = offset + size;
    let mut at = offset;
    while at < end {
        // A COMMIT piece is OP_PIECE of the range; a DECOMMIT piece frees
        // as many own pages, however far apart (a sparse 64 TiB range is
        // a few pieces, not 2^28).
        let next = objects::with(|s| {
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

fn sys_vmar_map(c: &Caller, a: &Args) -> u64 {
    let out = a[6];
    result((|| {
        if !c.owns(out, size_of::<u64>() as u64) {
            objects::with(|s| s.entry(c.table, handle(a[0])).map(drop))?;
            return Err(ZX_ERR_INVALID_ARGS);
        }
        // The address is stored through the object layer in the same step
        // as the mapping, as the task's own store would go: a failure, a
        // bad out-pointer's included, leaves every mapping as it was (even
        // one in the range a ZX_VM_SPECIFIC_OVERWRITE would replace).
        let out = object::OutPtr {
            root: objects::root_vmar(),
            addr: out,
        };
        let root = out.root;
        let (_, populate) = objects::with(|s| {
            s.task(c.table).vmar_map_out_unpopulated(
                handle(a[0]),
                a[1] as VmOptions,
                a[2],
                handle(a[3]),
                a[4],
                a[5],
                out,
            )
        })?;
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
    })())
}

/// Own pages of a `ZX_VM_MAP_RANGE` mapping's chain given translations per
/// hold of the object lock.
const POPULATE_PIECE: usize = 128;

/// `vmar_unmap` and `vmar_destroy` check and start under the lock, then
/// remove what the range or VMAR holds in bounded steps (see
/// `ObjectSpace::vmar_unmap_step`): however many mappings there are, the
/// lock is never held for more than one step.
fn sys_vmar_unmap(c: &Caller, a: &Args) -> u64 {
    result(objects::start_in_steps(
        |s| s.task(c.table).vmar_unmap_begin(handle(a[0]), a[1], a[2]),
        |s, u, budget| s.vmar_unmap_step(u, budget),
    ))
}

fn sys_vmar_protect(c: &Caller, a: &Args) -> u64 {
    let (h, options, addr, len) = (handle(a[0]), a[1] as VmOptions, a[2], a[3]);
    // The new permissions in one hold; the old translations go in pieces,
    // interrupts on and preemptible between them (a populated 256 MiB
    // range is 65,536 entries). Each piece drops PROTECT_PIECE entries,
    // however far apart: a huge sparse range is a few pieces, not one per
    // stretch of address. A page touched meanwhile faults back in with the
    // new permissions or keeps an old entry a later piece drops.
    let piece =
        |at: u64| objects::with(|s| s.unmap_translations_some(at, addr + len - at, PROTECT_PIECE));
    result((|| {
        if !objects::with(|s| s.task(c.table).vmar_protect_begin(h, options, addr, len))? {
            return Ok(());
        }
        let mut at = piece(addr);
        while at < addr + len {
            crate::latency::preempt_point();
            at = piece(at);
        }
        Ok(())
    })())
}

/// Translations `vmar_protect` drops per hold of the object lock.
const PROTECT_PIECE: usize = 512;

fn sys_vmar_allocate(c: &Caller, a: &Args) -> u64 {
    result((|| {
        c.probe_for::<Handle>(handle(a[0]), a[4])?;
        c.probe_for::<u64>(handle(a[0]), a[5])?;
        let (h, addr) = objects::with(|s| {
            s.task(c.table)
                .vmar_allocate(handle(a[0]), a[1] as VmOptions, a[2], a[3])
        })?;
        let undo = |_: &Status| {
            objects::with(|s| {
                s.task(c.table).vmar_destroy(h).ok();
                s.task(c.table).handle_close(h).ok();
            });
        };
        c.put(a[5], addr).inspect_err(undo)?;
        c.put(a[4], h).inspect_err(undo)
    })())
}

fn sys_vmar_destroy(c: &Caller, a: &Args) -> u64 {
    result(objects::start_in_steps(
        |s| s.task(c.table).vmar_destroy_begin(handle(a[0])),
        |s, vmar, budget| s.vmar_destroy_step(*vmar, budget),
    ))
}

fn sys_object_get_info(c: &Caller, a: &Args) -> u64 {
    let (h, topic, buf, buf_size, actual_out, avail_out) =
        (handle(a[0]), a[1] as InfoTopic, a[2], a[3], a[4], a[5]);
    result((|| {
        for out in [actual_out, avail_out] {
            if out != 0 {
                c.probe_for::<usize>(h, out)?;
            }
        }
        let mut kbuf = [0u8; 256];
        let want = (buf_size as usize).min(kbuf.len());
        let record = (|| match topic {
            ZX_INFO_TASK_END => {
                let info = objects::with(|s| {
                    let e = s.entry(c.table, h)?;
                    let object::Object::Kernel(k) = &e.object else {
                        return Err(ZX_ERR_WRONG_TYPE);
                    };
                    if e.rights & ZX_RIGHT_INSPECT == 0 {
                        return Err(ZX_ERR_ACCESS_DENIED);
                    }
                    Ok(task::end_info(s, object::KernelObject::signals(k)))
                })?;
                put_record(&mut kbuf[..want], info)
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
                put_record(&mut kbuf[..want], info)
            }
            _ => objects::with(|s| s.task(c.table).object_get_info(h, topic, &mut kbuf[..want])),
        })();
        let (actual, avail, len) = match record {
            // One record that does not fit: none returned, one available
            // (the page: "avail will be larger than actual").
            Err(ZX_ERR_BUFFER_TOO_SMALL) => {
                if actual_out != 0 {
                    c.put(actual_out, 0usize)?;
                }
                if avail_out != 0 {
                    c.put(avail_out, 1usize)?;
                }
                return Err(ZX_ERR_BUFFER_TOO_SMALL);
            }
            r => r?,
        };
        c.copy_out_bytes(buf, &kbuf[..len])?;
        if actual_out != 0 {
            c.put(actual_out, actual)?;
        }
        if avail_out != 0 {
            c.put(avail_out, avail)?;
        }
        Ok(())
    })())
}

/// Copies one record into `buf`: (actual, avail, bytes) or BUFFER_TOO_SMALL.
fn put_record<T: Copy>(buf: &mut [u8], record: T) -> Result<(usize, usize, usize), Status> {
    let n = size_of::<T>();
    let out = buf.get_mut(..n).ok_or(ZX_ERR_BUFFER_TOO_SMALL)?;
    // SAFETY: `T` is a plain `repr(C)` record; its bytes are read.
    out.copy_from_slice(unsafe {
        core::slice::from_raw_parts((&raw const record).cast::<u8>(), n)
    });
    Ok((1, 1, n))
}

fn sys_object_wait_one(c: &Caller, a: &Args) -> u64 {
    let (h, signals, deadline, observed_out) = (handle(a[0]), a[1] as Signals, a[2] as Time, a[3]);
    if observed_out != 0 {
        if let Err(e) = c.probe_for::<Signals>(h, observed_out) {
            return status(e);
        }
    }
    let (st, observed) = sched::wait::object_wait_one(c.table, h, signals, deadline);
    if observed_out != 0 {
        if let Err(e) = c.put(observed_out, observed) {
            return status(e);
        }
    }
    status(st)
}

fn sys_object_wait_many(c: &Caller, a: &Args) -> u64 {
    let (ptr, count, deadline) = (a[0], a[1], a[2] as Time);
    result((|| {
        if count > ZX_WAIT_MANY_MAX_ITEMS as u64 {
            return Err(ZX_ERR_OUT_OF_RANGE);
        }
        let count = count as usize;
        let mut items = [WaitItem::default(); ZX_WAIT_MANY_MAX_ITEMS];
        let items = &mut items[..count];
        let len = count * size_of::<WaitItem>();
        // SAFETY: `WaitItem` is a plain `repr(C)` record of three u32s.
        let bytes =
            unsafe { core::slice::from_raw_parts_mut(items.as_mut_ptr().cast::<u8>(), len) };
        c.copy_in_bytes(ptr, bytes)?;
        // The results go back to the same place: check it takes them now,
        // so a bad pointer fails before any wait.
        c.copy_out_bytes(ptr, bytes)?;
        let st = sched::wait::object_wait_many(c.table, items, deadline);
        if matches!(st, ZX_OK | ZX_ERR_TIMED_OUT | ZX_ERR_CANCELED) {
            // SAFETY: as above.
            let bytes = unsafe { core::slice::from_raw_parts(items.as_ptr().cast::<u8>(), len) };
            c.copy_out_bytes(ptr, bytes)?;
        }
        if st == ZX_OK {
            Ok(())
        } else {
            Err(st)
        }
    })())
}

fn sys_object_signal(c: &Caller, a: &Args) -> u64 {
    status(sched::wait::object_signal(
        c.table,
        handle(a[0]),
        a[1] as Signals,
        a[2] as Signals,
    ))
}

fn sys_event_create(c: &Caller, a: &Args) -> u64 {
    result((|| {
        c.probe::<Handle>(a[1])?;
        let h = sched::wait::event_create(c.table, a[0] as u32)?;
        c.put_handle(a[1], h)
    })())
}

fn sys_nanosleep(_: &Caller, a: &Args) -> u64 {
    status(sched::sleep::nanosleep(a[0] as Time))
}

fn sys_clock_get_monotonic(_: &Caller, _: &Args) -> u64 {
    sched::sleep::clock_get_monotonic() as u64
}

fn sys_task_create(c: &Caller, a: &Args) -> u64 {
    let (entry, arg, handles_ptr, count, out) = (a[0], a[1], a[2], a[3] as usize, a[4]);
    result((|| {
        if count > MAX_START_HANDLES {
            return Err(ZX_ERR_INVALID_ARGS);
        }
        c.probe::<Handle>(out)?;
        let mut raw = [0u8; MAX_START_HANDLES * 4];
        c.copy_in_bytes(handles_ptr, &mut raw[..count * 4])?;
        let mut from = [ZX_HANDLE_INVALID; MAX_START_HANDLES];
        for (i, h) in from.iter_mut().enumerate().take(count) {
            *h = u32::from_le_bytes([raw[i * 4], raw[i * 4 + 1], raw[i * 4 + 2], raw[i * 4 + 3]]);
        }
        let h = task::create(c.table, entry, arg, &StartHandles { count, from })?;
        c.put_handle(out, h)
    })())
}

fn sys_thread_create(c: &Caller, a: &Args) -> u64 {
    result((|| {
        c.probe_for::<Handle>(handle(a[0]), a[2])?;
        let h = task::thread_create(c.table, handle(a[0]), a[1] as u32)?;
        c.put_handle(a[2], h)
    })())
}

fn sys_thread_start(c: &Caller, a: &Args) -> u64 {
    result(task::thread_start(
        c.table,
        handle(a[0]),
        a[1],
        a[2],
        a[3],
        a[4],
    ))
}

/// `task_exit` and `thread_exit` run with IRQs masked, as they did before
/// syscalls ran unmasked: nothing may switch to a thread woken by the
/// task's end before the exiting thread is off the CPU for good (its
/// teardown steps still let interrupts in between them).
fn sys_task_exit(_: &Caller, a: &Args) -> u64 {
    crate::arch::irq_save();
    task::exit_current_task(a[0] as i64)
}

fn sys_thread_exit(_: &Caller, _: &Args) -> u64 {
    crate::arch::irq_save();
    task::exit_current_thread()
}

fn sys_task_kill(c: &Caller, a: &Args) -> u64 {
    result(task::kill(c.table, handle(a[0])))
}

fn sys_timer_create(c: &Caller, a: &Args) -> u64 {
    result((|| {
        c.probe::<Handle>(a[2])?;
        let h = crate::timers::create(c.table, a[0] as u32, a[1] as u32)?;
        c.put_handle(a[2], h)
    })())
}

fn sys_timer_set(c: &Caller, a: &Args) -> u64 {
    result(crate::timers::set(
        c.table,
        handle(a[0]),
        a[1] as Time,
        a[2] as i64,
    ))
}

fn sys_timer_cancel(c: &Caller, a: &Args) -> u64 {
    result(crate::timers::cancel(c.table, handle(a[0])))
}

fn sys_object_wait_async(c: &Caller, a: &Args) -> u64 {
    result(crate::ports::wait_async(
        c.table,
        handle(a[0]),
        handle(a[1]),
        a[2],
        a[3] as Signals,
        a[4] as u32,
    ))
}

fn sys_port_create(c: &Caller, a: &Args) -> u64 {
    result((|| {
        c.probe::<Handle>(a[1])?;
        let h = crate::ports::create(c.table, a[0] as u32)?;
        c.put_handle(a[1], h)
    })())
}

fn sys_port_queue(c: &Caller, a: &Args) -> u64 {
    result((|| {
        let mut packet = PortPacket::default();
        c.copy_in_bytes(a[1], packet.as_bytes_mut())?;
        crate::ports::queue(c.table, handle(a[0]), &packet)
    })())
}

/// The packet pointer is checked before the wait (a bad one fails with
/// nothing taken off the queue), written after it.
fn sys_port_wait(c: &Caller, a: &Args) -> u64 {
    let out = a[2];
    result((|| {
        c.probe::<PortPacket>(out)?;
        let mut packet = PortPacket::default();
        crate::ports::wait(c.table, handle(a[0]), a[1] as Time, &mut packet)?;
        c.copy_out_bytes(out, packet.as_bytes())
    })())
}

fn sys_port_cancel(c: &Caller, a: &Args) -> u64 {
    result(crate::ports::cancel(
        c.table,
        handle(a[0]),
        handle(a[1]),
        a[2],
    ))
}

/// The longest line a task may write at once.
const CONSOLE_LINE_MAX: usize = 512;

fn sys_console_write(c: &Caller, a: &Args) -> u64 {
    let (ptr, len) = (a[0], a[1] as usize);
    result((|| {
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
    })())
}
