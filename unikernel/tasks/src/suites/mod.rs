//! The EL0 suites, Zircon-style: one behaviour per test, run through the
//! public syscall surface.

mod bad_input;
mod cpu;
mod fuzz;
mod handles;
mod info;
mod isolation;
mod kill;
mod latency;
mod limits;
mod ports;
mod reaping;
mod smoke;
mod smp;
mod timer;
mod util;
mod vmar;
mod vmo;
mod vmo_clone;
mod vmo_signal;
mod wait;
mod wait_many;
mod which_zircon;

use crate::harness::{Suite, Test};

/// Every EL0 suite, in the order they run.
pub static SUITES: &[&Suite] = &[
    &smoke::SUITE,
    &vmo::SUITE,
    &vmo_clone::SUITE,
    &vmo_signal::SUITE,
    &vmar::SUITE,
    &wait::SUITE,
    &handles::SUITE,
    &info::SUITE,
    &bad_input::SUITE,
    &isolation::SUITE,
    &which_zircon::SUITE,
    &cpu::SUITE,
    &reaping::SUITE,
    &latency::SUITE,
    &kill::SUITE,
    &timer::SUITE,
    &wait_many::SUITE,
    &ports::SUITE,
    &fuzz::SUITE,
    &limits::SUITE,
    &smp::SUITE,
];

/// The `index`th test over all suites, in order.
pub fn nth_test(index: u64) -> Option<&'static Test> {
    SUITES
        .iter()
        .flat_map(|s| s.tests.iter())
        .nth(index as usize)
}
