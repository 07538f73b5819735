//! The frame allocator: alignment, zeroing, exhaustion, and what it never hands out.

use crate::devicetree::PhysRange;
use crate::ktest::{Failure, Suite, TestResult};
use crate::mm::frame::{self, Frame};
use crate::mm::PAGE_SIZE;
use crate::{boot_info, check, check_eq, layout, tests};

pub static SUITE: Suite = Suite {
    name: "frames",
    tests: tests![
        frames_are_aligned_and_distinct,
        zeroed_frame_is_zero,
        exhaustion_returns_none_and_frees_cleanly,
        never_hands_out_reserved_memory,
        pool_zeroes_a_dirty_frame_before_handing_it_out,
        idle_step_zeroes_a_few_dirty_frames_at_once,
        pool_frames_count_as_free_and_drain_back,
        a_cpu_s_cache_serves_its_next_allocation_and_overflows_losslessly,
        exhaustion_takes_the_pool_frames_too,
        exhaustion_takes_the_frames_other_cpus_cached,
    ],
};

fn frames_are_aligned_and_distinct() -> TestResult {
    let before = frame::free_frames();
    let a = frame::alloc();
    let b = frame::alloc();
    let (Some(a), Some(b)) = (a, b) else {
        return Err(crate::ktest::Failure::Fail("allocation failed".into()));
    };
    check!(a != b);
    check_eq!(a.addr() % PAGE_SIZE, 0);
    check_eq!(b.addr() % PAGE_SIZE, 0);
    check_eq!(frame::free_frames(), before - 2);
    // SAFETY: both were just allocated and are unused.
    unsafe {
        frame::free(a);
        frame::free(b);
    }
    check_eq!(frame::free_frames(), before);
    Ok(())
}

fn zeroed_frame_is_zero() -> TestResult {
    // Dirty a frame, free it, and get it back zeroed (freed frames are
    // reused first; with the pools empty it is zeroed on the spot).
    frame::drain_pools();
    let f = got(frame::alloc())?;
    dirty_and_free(f);
    let g = got(frame::alloc_zeroed())?;
    check_eq!(g, f);
    // SAFETY: the frame is ours and identity-mapped.
    let bytes = unsafe { core::slice::from_raw_parts(g.addr() as *const u8, PAGE_SIZE as usize) };
    let nonzero = bytes.iter().filter(|&&b| b != 0).count();
    // SAFETY: the frame is ours and no longer used.
    unsafe { frame::free(g) };
    check_eq!(nonzero, 0);
    Ok(())
}

/// Takes every free frame, chained through their first words, calls
/// `check` on each, then frees them all. Returns how many there were.
fn drain_all(mut check: impl FnMut(Frame)) -> usize {
    let mut head = 0u64;
    let mut count = 0;
    while let Some(f) = frame::alloc() {
        check(f);
        // SAFETY: the frame is ours; its first word links our private chain.
        unsafe { (f.addr() as *mut u64).write(head) };
        head = f.addr();
        count += 1;
    }
    while head != 0 {
        // SAFETY: `head` is a frame of the chain built above.
        let next = unsafe { (head as *const u64).read() };
        // SAFETY: every frame in the chain came from `alloc` and is unused.
        unsafe { frame::free(Frame::from_addr(head)) };
        head = next;
    }
    count
}

fn exhaustion_returns_none_and_frees_cleanly() -> TestResult {
    let free = frame::free_frames();
    let drained = drain_all(|_| {});
    check_eq!(drained, free);
    check_eq!(frame::free_frames(), free);
    // Everything came back: the allocator can hand out all of it again.
    check_eq!(drain_all(|_| {}), free);
    check!(frame::alloc().is_some_and(|f| {
        // SAFETY: just allocated, unused.
        unsafe { frame::free(f) };
        true
    }));
    Ok(())
}

fn never_hands_out_reserved_memory() -> TestResult {
    let boot = boot_info();
    let image = PhysRange {
        start: layout::image().start,
        end: layout::image().end,
    };
    let mut forbidden = alloc::vec![image, boot.platform.blob, boot.heap];
    forbidden.extend_from_slice(boot.platform.reserved.as_slice());
    let memory = boot.platform.memory.as_slice();
    let mut bad = None;
    let mut outside = None;
    drain_all(|f| {
        let page = PhysRange::new(f.addr(), PAGE_SIZE);
        if bad.is_none() && forbidden.iter().any(|r| r.overlaps(&page)) {
            bad = Some(f.addr());
        }
        if outside.is_none()
            && !memory
                .iter()
                .any(|m| m.contains(page.start) && m.contains(page.end - 1))
        {
            outside = Some(f.addr());
        }
    });
    check_eq!(bad, None);
    check_eq!(outside, None);
    Ok(())
}

/// The frame an allocation gave, or a failure.
fn got(frame: Option<Frame>) -> Result<Frame, Failure> {
    frame.ok_or_else(|| Failure::Fail("allocation failed".into()))
}

/// Fills `f`, a frame of ours no longer used, with 0xa5 and frees it.
fn dirty_and_free(f: Frame) {
    // SAFETY: the frame is ours.
    unsafe { core::ptr::write_bytes(f.addr() as *mut u8, 0xa5, PAGE_SIZE as usize) };
    // SAFETY: the frame is ours and no longer used.
    unsafe { frame::free(f) };
}

/// Whether every byte of the frame is zero.
fn all_zero(f: Frame) -> bool {
    // SAFETY: the caller owns the frame; it is identity-mapped RAM.
    let bytes = unsafe { core::slice::from_raw_parts(f.addr() as *const u8, PAGE_SIZE as usize) };
    bytes.iter().all(|&b| b == 0)
}

fn pool_zeroes_a_dirty_frame_before_handing_it_out() -> TestResult {
    frame::drain_pools();
    let f = got(frame::alloc())?;
    dirty_and_free(f);
    // The idle thread's step takes the freed frame (the top of this CPU's
    // cache) and zeroes it into this CPU's pool; the pool hands it out next.
    check!(frame::refill_step());
    check_eq!(frame::zeroed_frames(), 1);
    let g = got(frame::alloc_zeroed())?;
    let zero = all_zero(g);
    // SAFETY: the frame is ours and no longer used.
    unsafe { frame::free(g) };
    check_eq!(g, f);
    check_eq!(frame::zeroed_frames(), 0);
    check!(
        zero,
        "a pool frame was handed out with the bytes it had when freed"
    );
    Ok(())
}

/// The idle thread's step takes up to `REFILL_BATCH` frames, never more,
/// and zeroes every one of them.
fn idle_step_zeroes_a_few_dirty_frames_at_once() -> TestResult {
    frame::drain_pools();
    let mut dirty = alloc::vec::Vec::new();
    for _ in 0..frame::REFILL_BATCH {
        let Some(f) = frame::alloc() else {
            return Err(crate::ktest::Failure::Fail("allocation failed".into()));
        };
        // SAFETY: the frame is ours.
        unsafe { core::ptr::write_bytes(f.addr() as *mut u8, 0x5a, PAGE_SIZE as usize) };
        dirty.push(f);
    }
    for &f in &dirty {
        // SAFETY: the frame is ours and no longer used.
        unsafe { frame::free(f) };
    }
    // The freed frames are the top of this CPU's cache: one step takes
    // them all.
    check_eq!(frame::refill(usize::MAX), frame::REFILL_BATCH);
    check_eq!(frame::zeroed_frames(), frame::REFILL_BATCH);
    let mut taken = alloc::vec::Vec::new();
    for _ in 0..frame::REFILL_BATCH {
        let Some(f) = frame::alloc_zeroed() else {
            return Err(crate::ktest::Failure::Fail("allocation failed".into()));
        };
        taken.push(f);
    }
    let nonzero = taken.iter().filter(|&&f| !all_zero(f)).count();
    let same = taken.iter().all(|f| dirty.contains(f));
    for f in taken {
        // SAFETY: ours, unused.
        unsafe { frame::free(f) };
    }
    check!(same, "the step did not take the freed frames");
    check_eq!(nonzero, 0);
    Ok(())
}

fn pool_frames_count_as_free_and_drain_back() -> TestResult {
    frame::drain_pools();
    let free = frame::free_frames();
    let mut filled = 0;
    while filled < frame::POOL_FRAMES && frame::refill_step() {
        filled += 1;
        check_eq!(frame::free_frames(), free);
    }
    check_eq!(filled, frame::POOL_FRAMES.min(free));
    check_eq!(frame::zeroed_frames(), filled);
    // Full: a step does nothing.
    check!(!frame::refill_step());
    // Every pool frame is zero, and taking one is an allocation.
    let mut taken = alloc::vec::Vec::new();
    for _ in 0..filled {
        let f = got(frame::alloc_zeroed())?;
        taken.push(f);
    }
    check_eq!(frame::zeroed_frames(), 0);
    check_eq!(frame::free_frames(), free - filled);
    let nonzero = taken.iter().filter(|&&f| !all_zero(f)).count();
    for f in taken {
        // SAFETY: ours, unused.
        unsafe { frame::free(f) };
    }
    check_eq!(nonzero, 0);
    for _ in 0..8 {
        check!(frame::refill_step());
    }
    frame::drain_pools();
    check_eq!(frame::zeroed_frames(), 0);
    check_eq!(frame::free_frames(), free);
    Ok(())
}

fn exhaustion_takes_the_pool_frames_too() -> TestResult {
    frame::drain_pools();
    for _ in 0..16 {
        check!(frame::refill_step());
    }
    let free = frame::free_frames();
    // Every free frame, the pool's included, is handed out before `None`.
    check_eq!(drain_all(|_| {}), free);
    check_eq!(frame::zeroed_frames(), 0);
    check_eq!(frame::free_frames(), free);
    Ok(())
}

/// A frame this CPU frees is the next one it allocates (its cache, not
/// the allocator's lock); frees past the cache's room go back to the
/// allocator a batch at a time, allocations past what it holds come from
/// the allocator, and every frame counts as free throughout, each handed
/// out once.
fn a_cpu_s_cache_serves_its_next_allocation_and_overflows_losslessly() -> TestResult {
    let free = frame::free_frames();
    let f = got(frame::alloc())?;
    // SAFETY: ours, unused.
    unsafe { frame::free(f) };
    let g = got(frame::alloc())?;
    // SAFETY: ours, unused.
    unsafe { frame::free(g) };
    check_eq!(g, f);
    check_eq!(frame::free_frames(), free);
    let n = 2 * frame::CACHE_FRAMES + 3;
    let mut taken = alloc::vec::Vec::new();
    for _ in 0..n {
        taken.push(got(frame::alloc())?);
    }
    check_eq!(frame::free_frames(), free - n);
    for &f in &taken {
        // SAFETY: ours, unused.
        unsafe { frame::free(f) };
    }
    check_eq!(frame::free_frames(), free);
    let mut again = alloc::vec::Vec::new();
    for _ in 0..n {
        again.push(got(frame::alloc())?);
    }
    let mut sorted = again.clone();
    sorted.sort_unstable();
    sorted.dedup();
    let distinct = sorted.len();
    for f in again {
        // SAFETY: ours, unused.
        unsafe { frame::free(f) };
    }
    check_eq!(distinct, n);
    check_eq!(frame::free_frames(), free);
    Ok(())
}

/// Frames another CPU freed wait in its cache; when memory runs out here,
/// they are handed out too, so every free frame is reached before `None`
/// (and the per-CPU caches never make memory run out early). The other
/// CPU stays busy meanwhile, so its idle thread cannot move them into its
/// pool (which exhaustion would reach anyway). Skips on one CPU.
fn exhaustion_takes_the_frames_other_cpus_cached() -> TestResult {
    use alloc::sync::Arc;
    use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let cpus = crate::sched::cpus_online() as usize;
    if cpus < 2 {
        return Err(Failure::Skip("one CPU: no other CPU's cache"));
    }
    let other = cpus - 1;
    // The frames the other CPU's cache holds (+1, so 0 means not yet).
    let seen = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let (seen_there, done_there) = (seen.clone(), done.clone());
    let busy = crate::sched::spawn_on(other, "ktest-frames-cache", move || {
        // Allocations refill this CPU's cache a batch at a time from the
        // allocator; the frees then leave them all in the cache.
        let mut taken = [0u64; frame::CACHE_FRAMES / 2];
        for f in taken.iter_mut() {
            *f = frame::alloc().map_or(0, Frame::addr);
        }
        for &f in taken.iter().filter(|&&f| f != 0) {
            // SAFETY: allocated above and unused.
            unsafe { frame::free(Frame::from_addr(f)) };
        }
        let cached = frame::cached_frames_on(crate::sched::current_cpu());
        seen_there.store(cached + 1, Ordering::SeqCst);
        let end = crate::time::deadline_after(crate::time::msec(10_000));
        while !done_there.load(Ordering::SeqCst) && crate::time::now() < end {
            core::hint::spin_loop();
        }
    })
    .map_err(|e| Failure::Fail(alloc::format!("spawn_on({other}): {e:?}")))?;
    let end = crate::time::deadline_after(crate::time::msec(10_000));
    while seen.load(Ordering::SeqCst) == 0 && crate::time::now() < end {
        core::hint::spin_loop();
    }
    let cached = seen.load(Ordering::SeqCst).saturating_sub(1);
    let free = frame::free_frames();
    let drained = drain_all(|_| {});
    // Before the join, which frees the thread's stack.
    let after = frame::free_frames();
    done.store(true, Ordering::SeqCst);
    busy.join();
    check!(
        cached >= frame::CACHE_FRAMES / 2,
        "CPU {other}'s cache holds {cached} frames after its frees"
    );
    check_eq!(drained, free);
    check_eq!(after, free);
    Ok(())
}
