//! Limits: creating objects until the kernel says `ZX_ERR_NO_MEMORY`
//! (frames, or a quota) leaves the kernel working, and closing them gives
//! everything back: the same objects fit again.

use super::util::*;
use crate::harness::Suite;
use crate::harness::TestResult;
use crate::{check, check_eq, ok, tests};
use zx::{AsHandleRef, Event, Signals, Status, Vmo, VmoOp};

pub static SUITE: Suite = Suite {
    name: "limits",
    tests: tests![
        committing_vmos_until_no_memory_then_closing_them_gives_every_frame_back,
        creating_vmos_until_the_handle_quota_then_closing_them_lets_as_many_be_made_again,
    ],
};

const PAGE: u64 = abi::PAGE_SIZE;
/// Most VMOs one round of the memory test holds (the guests have at most
/// 2 GiB, the table's committed-page quota is 1 GiB: 4 MiB VMOs reach
/// either in fewer than 512, and the 64 KiB ones fill what is left of one).
const MAX_HELD: usize = 640;

/// Commits VMOs of `size` bytes until that fails, keeping their handles in
/// `held` from `n` on; the new count, or the failure's status if it is not
/// `NO_MEMORY` (or there was no room left in `held`).
fn commit_until_no_memory(
    held: &mut [abi::Handle],
    mut n: usize,
    size: u64,
) -> Result<usize, Status> {
    loop {
        if n == held.len() {
            return Err(Status::BAD_STATE);
        }
        // The VMO's record may be what there is no memory for, or its pages.
        let vmo = match Vmo::create(size) {
            Ok(vmo) => vmo,
            Err(Status::NO_MEMORY) => return Ok(n),
            Err(e) => return Err(e),
        };
        match vmo.op_range(VmoOp::COMMIT, 0, size) {
            Ok(()) => {}
            Err(Status::NO_MEMORY) => return Ok(n),
            Err(e) => return Err(e),
        }
        held[n] = zx::Handle::from(vmo).into_raw();
        n += 1;
    }
}

/// One round: 4 MiB VMOs until no memory, then 64 KiB ones; all closed
/// after. The bytes committed.
fn round(held: &mut [abi::Handle]) -> Result<u64, Status> {
    let big = commit_until_no_memory(held, 0, 1 << 22)?;
    let all = commit_until_no_memory(held, big, 1 << 16)?;
    for h in held[..all].iter_mut() {
        zx::Handle::from_raw(core::mem::replace(h, 0)).close()?;
    }
    Ok(big as u64 * (1 << 22) + (all - big) as u64 * (1 << 16))
}

/// The kernel still does what it did: a VMO written, read and mapped,
/// an event signalled.
fn kernel_works() -> TestResult {
    let vmo = ok!(Vmo::create(2 * PAGE));
    ok!(vmo.write(&[7; 8], PAGE));
    check_eq!(ok!(byte_at(&vmo, PAGE)), 7);
    let addr = ok!(map_rw(&vmo, 2 * PAGE));
    // SAFETY: `addr` is a fresh read-write mapping of two pages.
    unsafe { core::ptr::write_volatile(addr as *mut u8, 9) };
    check_eq!(ok!(byte_at(&vmo, 0)), 9);
    ok!(unmap(addr, 2 * PAGE));
    let event = ok!(Event::create());
    ok!(event.signal_handle(Signals::NONE, Signals::USER_0));
    check!(signals(&event).contains(Signals::USER_0));
    Ok(())
}

fn committing_vmos_until_no_memory_then_closing_them_gives_every_frame_back() -> TestResult {
    let mut held = [0 as abi::Handle; MAX_HELD];
    let first = ok!(round(&mut held));
    check!(first >= 1 << 22, "only {first} bytes could be committed");
    kernel_works()?;
    // Every frame came back (the destroyed VMOs' frames are freed in steps
    // by the calls after): as many bytes fit again. What an earlier test
    // left ending (a killed task, a helper thread past its last call) may
    // still hold its kernel stack for a moment, so a short round is tried
    // again after a pause; a leak stays short every time.
    let mut second = 0;
    for _ in 0..3 {
        second = ok!(round(&mut held));
        if second >= first {
            break;
        }
        zx::Duration::from_millis(20).sleep();
    }
    check!(
        second >= first,
        "the first round committed {first} bytes, the second only {second} (three tries)"
    );
    kernel_works()
}

/// Handles a round of the handle-quota test may hold (a table's quota is 4096).
const MAX_VMOS: usize = 4096;

/// Creates empty VMOs until that fails, keeping their handles in `held`;
/// how many, and the status it stopped on.
fn create_until_refused(held: &mut [abi::Handle]) -> (usize, Option<Status>) {
    for (n, slot) in held.iter_mut().enumerate() {
        match Vmo::create(PAGE) {
            Ok(vmo) => *slot = zx::Handle::from(vmo).into_raw(),
            Err(e) => return (n, Some(e)),
        }
    }
    (held.len(), None)
}

fn creating_vmos_until_the_handle_quota_then_closing_them_lets_as_many_be_made_again() -> TestResult
{
    // The handles are kept in a VMO of their own (the stack is small).
    let store = ok!(Vmo::create(MAX_VMOS as u64 * 4));
    let addr = ok!(map_rw(&store, MAX_VMOS as u64 * 4));
    // SAFETY: the mapping is `MAX_VMOS` handles long, read-write, aligned,
    // and only this slice uses it until it is unmapped below.
    let held = unsafe { core::slice::from_raw_parts_mut(addr as *mut abi::Handle, MAX_VMOS) };
    let mut counts = [0usize; 2];
    for count in counts.iter_mut() {
        let (n, stop) = create_until_refused(held);
        check_eq!(stop, Some(Status::NO_MEMORY), "after {n} VMOs");
        check!(n > 1000, "only {n} VMOs");
        for h in held[..n].iter_mut() {
            ok!(zx::Handle::from_raw(core::mem::replace(h, 0)).close());
        }
        *count = n;
        kernel_works()?;
    }
    check_eq!(counts[0], counts[1], "as many VMOs fit again");
    ok!(unmap(addr, MAX_VMOS as u64 * 4));
    Ok(())
}
