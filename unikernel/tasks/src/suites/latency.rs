//! Bounded IRQs-masked time (issue 13): the worst calls run while a second
//! thread sleeps 1 ms at a time, and the kernel's longest masked interval
//! during each stays bounded; the per-task mapping quota.
//!
//! Without `-icount` the counter follows host time, and a host that
//! deschedules QEMU inside a masked interval makes it look long; so the
//! check here is relative: no masked interval may take a quarter of the call's
//! own time (a call done with IRQs masked throughout takes all of it), in
//! the best of three runs. `just bench` checks the absolute
//! targets (100 µs masked, 150 µs lateness) in exact guest time.

use crate::harness::{Suite, TestResult};
use crate::stress::{self, Figures, SMALL};
use crate::{check, check_eq, ok, tests};
use zx::{Status, Vmar, VmarFlags, Vmo};

pub static SUITE: Suite = Suite {
    name: "el0_latency",
    tests: tests![
        huge_vmo_write_keeps_irqs_masked_briefly,
        huge_vmo_read_keeps_irqs_masked_briefly,
        destroying_thousands_of_mappings_keeps_irqs_masked_briefly,
        a_task_ending_with_thousands_of_handles_keeps_irqs_masked_briefly,
        mapping_more_than_the_quota_is_no_memory,
    ],
};

/// Runs `call` up to three times and checks the best run against the
/// bound: a host that deschedules QEMU inside one masked interval spoils a
/// run, not three (a call that masks IRQs throughout fails every time).
fn check_bounded(call: fn() -> Result<Figures, Status>) -> TestResult {
    let mut best = (u64::MAX, 0);
    for _ in 0..3 {
        let f = ok!(call());
        // The sleeping thread got the CPU while the call ran.
        check!(f.sleeps > 0, "the sleeping thread never woke");
        if f.masked_ns.saturating_mul(best.1) < best.0.saturating_mul(f.call_ns) {
            best = (f.masked_ns, f.call_ns);
        }
        if best.0 * 4 < best.1 {
            break;
        }
    }
    check!(
        best.0 * 4 < best.1,
        "IRQs masked for {} ns at once in a call of {} ns",
        best.0,
        best.1
    );
    Ok(())
}

fn huge_vmo_write_keeps_irqs_masked_briefly() -> TestResult {
    check_bounded(|| stress::huge_write(SMALL.bytes))
}

fn huge_vmo_read_keeps_irqs_masked_briefly() -> TestResult {
    check_bounded(|| stress::huge_read(SMALL.bytes))
}

fn destroying_thousands_of_mappings_keeps_irqs_masked_briefly() -> TestResult {
    check_bounded(|| stress::destroy_many_mappings(SMALL.mappings))
}

fn a_task_ending_with_thousands_of_handles_keeps_irqs_masked_briefly() -> TestResult {
    check_bounded(|| stress::exit_with_many_handles(SMALL.handles))
}

/// A task's mappings (splits too) are capped, as its handles are.
const MAX_MAPPINGS: u64 = 1 << 15;

fn mapping_more_than_the_quota_is_no_memory() -> TestResult {
    let vmo = ok!(Vmo::create(abi::PAGE_SIZE));
    let (vmar, _) =
        ok!(Vmar::root_self().allocate(0, (MAX_MAPPINGS + 1) * abi::PAGE_SIZE, stress::CAN_MAP_RW));
    let mut made = 0u64;
    let last = loop {
        match vmar.map(0, &vmo, 0, abi::PAGE_SIZE, VmarFlags::RW) {
            Ok(_) => made += 1,
            Err(e) => break e,
        }
        check!(made <= MAX_MAPPINGS, "more mappings than the quota");
    };
    check_eq!(last, Status::NO_MEMORY);
    // The task's few other mappings (its stack) count too.
    check!(made + 16 >= MAX_MAPPINGS, "only {made} mappings");
    ok!(vmar.destroy());
    // Destroying them gives the quota back.
    let again = ok!(Vmar::root_self().map(0, &vmo, 0, abi::PAGE_SIZE, VmarFlags::RW));
    ok!(Vmar::root_self().unmap(again, abi::PAGE_SIZE));
    Ok(())
}
