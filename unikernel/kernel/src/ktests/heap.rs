//! The kernel heap: allocation, release, and failure as a status.

use crate::ktest::{Suite, TestResult};
use crate::mm::heap::stats;
use crate::{boot_info, check, check_eq, tests};
use alloc::boxed::Box;
use alloc::vec::Vec;

pub static SUITE: Suite = Suite {
    name: "heap",
    tests: tests![
        box_is_allocated_and_released,
        vec_grows_and_releases,
        many_small_allocations_are_released,
        oversized_try_reserve_fails_cleanly,
        allocations_lie_inside_the_heap,
    ],
};

fn box_is_allocated_and_released() -> TestResult {
    let before = stats();
    let b = Box::new([7u64; 64]);
    let during = stats();
    check!(during.allocated_bytes >= before.allocated_bytes + 512);
    check_eq!(during.allocation_count, before.allocation_count + 1);
    check_eq!(b.iter().sum::<u64>(), 7 * 64);
    drop(b);
    let after = stats();
    check_eq!(after.allocated_bytes, before.allocated_bytes);
    check_eq!(after.allocation_count, before.allocation_count);
    Ok(())
}

fn vec_grows_and_releases() -> TestResult {
    let before = stats();
    let mut v = Vec::new();
    for i in 0..10_000u32 {
        v.push(i);
    }
    check_eq!(v.iter().map(|&x| u64::from(x)).sum::<u64>(), 49_995_000);
    check!(stats().allocated_bytes >= before.allocated_bytes + 40_000);
    drop(v);
    check_eq!(stats().allocated_bytes, before.allocated_bytes);
    Ok(())
}

fn many_small_allocations_are_released() -> TestResult {
    let before = stats();
    let boxes: Vec<Box<u64>> = (0..1000).map(Box::new).collect();
    check_eq!(boxes.iter().map(|b| **b).sum::<u64>(), 499_500);
    drop(boxes);
    let after = stats();
    check_eq!(after.allocation_count, before.allocation_count);
    check_eq!(after.available_bytes, before.available_bytes);
    Ok(())
}

/// Asking for more than the heap holds is an error to handle, not an abort.
fn oversized_try_reserve_fails_cleanly() -> TestResult {
    let before = stats();
    let mut v: Vec<u8> = Vec::new();
    check!(v.try_reserve(1 << 40).is_err());
    check!(v.try_reserve(boot_info().heap.len() as usize).is_err());
    check_eq!(stats().allocated_bytes, before.allocated_bytes);
    check!(v.try_reserve(4096).is_ok());
    Ok(())
}

fn allocations_lie_inside_the_heap() -> TestResult {
    let heap = boot_info().heap;
    let b = Box::new(0u128);
    let addr = &*b as *const u128 as u64;
    check!(
        heap.contains(addr) && heap.contains(addr + 15),
        "{addr:#x} outside {heap:x?}"
    );
    Ok(())
}
