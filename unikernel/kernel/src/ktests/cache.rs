//! Cache maintenance by virtual address (`vmo_op_range`'s cache ops): every
//! line of a range is reached, and no op loses data.

use crate::arch::cache::{each_line, line_sizes, maintain};
use crate::ktest::{Failure, Suite, TestResult};
use crate::mm::{frame, PAGE_SIZE};
use crate::{check, check_eq, tests};
use object::CacheOp;

pub static SUITE: Suite = Suite {
    name: "cache",
    tests: tests![
        line_sizes_are_powers_of_two_of_at_least_four_words,
        each_line_reaches_every_line_an_unaligned_range_touches,
        no_cache_op_changes_a_byte,
    ],
};

fn line_sizes_are_powers_of_two_of_at_least_four_words() -> TestResult {
    let (d, i) = line_sizes();
    for line in [d, i] {
        check!(line.is_power_of_two() && (16..=2048).contains(&line));
    }
    Ok(())
}

/// The line addresses `each_line` visits for `[va, va + len)`.
fn lines(va: u64, len: u64, line: u64) -> alloc::vec::Vec<u64> {
    let seen = core::cell::RefCell::new(alloc::vec::Vec::new());
    each_line(va, len, line, |p| seen.borrow_mut().push(p));
    seen.into_inner()
}

fn each_line_reaches_every_line_an_unaligned_range_touches() -> TestResult {
    check_eq!(lines(0x1000, 1, 64), [0x1000]);
    check_eq!(lines(0x103c, 8, 64), [0x1000, 0x1040]);
    check_eq!(lines(0x1040, 64, 64), [0x1040]);
    check_eq!(lines(0x1fff, 1, 64), [0x1fc0]);
    check_eq!(lines(0x1001, 4095, 64).len(), 64);
    check_eq!(lines(0x1000, 0x1000, 128).len(), 32);
    Ok(())
}

fn no_cache_op_changes_a_byte() -> TestResult {
    let Some(f) = frame::alloc() else {
        return Err(Failure::Fail("no frame".into()));
    };
    let page = f.addr() as *mut u8;
    let fill = |seed: u8| {
        for i in 0..PAGE_SIZE as usize {
            // SAFETY: the frame is ours, identity-mapped RAM.
            unsafe { page.add(i).write_volatile(seed ^ i as u8) };
        }
    };
    let same = |seed: u8| {
        // SAFETY: as above.
        (0..PAGE_SIZE as usize).all(|i| unsafe { page.add(i).read_volatile() } == seed ^ i as u8)
    };
    let ops = [
        CacheOp::Sync,
        CacheOp::Invalidate,
        CacheOp::Clean,
        CacheOp::CleanInvalidate,
    ];
    let mut result = Ok(());
    for (k, op) in ops.into_iter().enumerate() {
        // Freshly written, so dirty in the cache where there is one: an
        // invalidate that dropped lines would lose these bytes.
        fill(k as u8 + 1);
        maintain(op, f.addr() + 3, PAGE_SIZE - 70);
        if !same(k as u8 + 1) {
            result = Err(Failure::Fail(alloc::format!("{op:?} changed the page")));
            break;
        }
    }
    // SAFETY: the frame is ours and no longer used.
    unsafe { frame::free(f) };
    result
}
