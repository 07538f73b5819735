//! The kernel's own test suites, run first in `mode=test`.

mod board;
mod boot;
mod cache;
mod devicetree;
mod domain;
mod exceptions;
mod frames;
mod gic;
mod heap;
mod lock_order;
mod mmu;
mod power;
mod sched;
mod smp;
mod time;
mod timer;
mod vm;
mod wait;

use crate::ktest::Suite;

/// Every kernel suite, in the order they run.
pub static SUITES: &[&Suite] = &[
    &boot::SUITE,
    &devicetree::SUITE,
    &board::SUITE,
    &exceptions::SUITE,
    &heap::SUITE,
    &lock_order::SUITE,
    &frames::SUITE,
    &mmu::SUITE,
    &domain::SUITE,
    &cache::SUITE,
    &vm::SUITE,
    &timer::SUITE,
    &gic::SUITE,
    &time::SUITE,
    &sched::SUITE,
    &smp::SUITE,
    &wait::SUITE,
    &power::SUITE,
];
