//! The interrupt controller: dispatch through the handler table, enable and
//! disable by INTID, spurious reads ignored.

use crate::arch::gic::{self, IntId, Trigger};
use crate::arch::{self, timer};
use crate::ktest::{Failure, Suite, TestResult};
use crate::{boot_info, check, check_eq, tests, time};
use aarch64_cpu::registers::{CNTP_CTL_EL0, CNTP_CVAL_EL0};
use core::sync::atomic::{AtomicU64, Ordering};
use tock_registers::interfaces::Writeable;

pub static SUITE: Suite = Suite {
    name: "gic",
    tests: tests![
        version_matches_the_device_tree,
        virtual_timer_is_routed_to_intid_27,
        sgi_reaches_its_handler_once,
        disabled_interrupt_waits_until_enabled,
        interrupt_without_handler_is_counted,
        nothing_pending_dispatches_nothing,
        setting_a_priority_keeps_its_neighbours,
    ],
};

/// How long a test waits for an interrupt that should arrive at once.
const DELIVERY_TIMEOUT: time::Duration = time::msec(500);
/// How long a test waits to be sure an interrupt does not arrive.
const QUIET_PERIOD: time::Duration = time::msec(2);
/// An SGI no one else uses.
const TEST_SGI: IntId = IntId::sgi(3);
/// An SGI that never gets a handler.
const ORPHAN_SGI: IntId = IntId::sgi(5);

/// Four SPIs that share one `GICD_IPRIORITYR` word (INTIDs 40–43) and that
/// no device of either board raises while the kernel runs.
const PRIORITY_WORD: [IntId; 4] = [IntId::spi(8), IntId::spi(9), IntId::spi(10), IntId::spi(11)];

/// Spins (interrupts on) until `cond` holds or `timeout` passes.
fn wait_until(timeout: time::Duration, cond: impl Fn() -> bool) -> bool {
    let end = time::deadline_after(timeout);
    while time::now() < end {
        if cond() {
            return true;
        }
        core::hint::spin_loop();
    }
    cond()
}

fn version_matches_the_device_tree() -> TestResult {
    let Some(info) = boot_info().platform.gic else {
        return Err(Failure::Skip("no GIC in the device tree"));
    };
    check_eq!(gic::version(), info.version());
    Ok(())
}

fn virtual_timer_is_routed_to_intid_27() -> TestResult {
    check_eq!(timer::intid(), IntId::ppi(11).raw_value());
    Ok(())
}

static SGI_HITS: AtomicU64 = AtomicU64::new(0);

fn count_sgi(_: IntId) {
    SGI_HITS.fetch_add(1, Ordering::Relaxed);
}

fn sgi_reaches_its_handler_once() -> TestResult {
    SGI_HITS.store(0, Ordering::Relaxed);
    gic::set_handler(TEST_SGI, Some(count_sgi));
    gic::configure(TEST_SGI, gic::DEFAULT_PRIORITY, Trigger::Edge);
    gic::enable(TEST_SGI);
    let before = gic::acknowledged();
    gic::send_sgi_to_self(TEST_SGI);
    let arrived = wait_until(DELIVERY_TIMEOUT, || SGI_HITS.load(Ordering::Relaxed) > 0);
    // Any second delivery would come at once.
    wait_until(QUIET_PERIOD, || false);
    gic::set_handler(TEST_SGI, None);
    check!(arrived, "the SGI never reached its handler");
    check_eq!(SGI_HITS.load(Ordering::Relaxed), 1);
    check!(gic::acknowledged() > before);
    Ok(())
}

static PHYS_HITS: AtomicU64 = AtomicU64::new(0);

/// The EL1 physical timer's handler: turn the (level) source off, count.
fn physical_timer_fired(_: IntId) {
    CNTP_CTL_EL0.write(CNTP_CTL_EL0::ENABLE::CLEAR);
    PHYS_HITS.fetch_add(1, Ordering::Relaxed);
}

/// The physical timer's PPI (unused by the kernel) asserted while disabled
/// in the GIC is not delivered; enabling it delivers it.
fn disabled_interrupt_waits_until_enabled() -> TestResult {
    let Some(t) = boot_info().platform.timer else {
        return Err(Failure::Skip("no timer node"));
    };
    let intid = IntId::ppi(t.physical_ppi);
    PHYS_HITS.store(0, Ordering::Relaxed);
    gic::set_handler(intid, Some(physical_timer_fired));
    gic::configure(intid, gic::DEFAULT_PRIORITY, Trigger::Level);
    gic::disable(intid);
    // A compare value of 0 has passed: the timer asserts its line now.
    CNTP_CVAL_EL0.set(0);
    CNTP_CTL_EL0.write(CNTP_CTL_EL0::ENABLE::SET + CNTP_CTL_EL0::IMASK::CLEAR);
    wait_until(QUIET_PERIOD, || false);
    let while_disabled = PHYS_HITS.load(Ordering::Relaxed);
    gic::enable(intid);
    let arrived = wait_until(DELIVERY_TIMEOUT, || PHYS_HITS.load(Ordering::Relaxed) > 0);
    gic::disable(intid);
    CNTP_CTL_EL0.write(CNTP_CTL_EL0::ENABLE::CLEAR);
    gic::set_handler(intid, None);
    check_eq!(while_disabled, 0);
    check!(arrived, "enabling the interrupt did not deliver it");
    check_eq!(PHYS_HITS.load(Ordering::Relaxed), 1);
    Ok(())
}

fn interrupt_without_handler_is_counted() -> TestResult {
    gic::set_handler(ORPHAN_SGI, None);
    gic::enable(ORPHAN_SGI);
    let before = gic::unhandled();
    gic::send_sgi_to_self(ORPHAN_SGI);
    let seen = wait_until(DELIVERY_TIMEOUT, || gic::unhandled() > before);
    check!(seen, "the orphan SGI was not acknowledged");
    check_eq!(gic::unhandled(), before + 1);
    Ok(())
}

/// With IRQs masked and nothing pending, the IRQ path reads the spurious
/// INTID 1023 and returns without acknowledging anything.
fn nothing_pending_dispatches_nothing() -> TestResult {
    let daif = arch::irq_save();
    let timer_armed = timer::programmed().is_some();
    let before = gic::acknowledged();
    gic::handle_irq();
    let after = gic::acknowledged();
    arch::irq_restore(daif);
    if timer_armed {
        return Err(Failure::Skip("the scheduler's timer is armed"));
    }
    check_eq!(after, before);
    Ok(())
}

/// Each INTID's priority is its own byte: setting one leaves the other three
/// of its register word as they were (arm-gic's GICv2 call wrote the whole
/// word, zeroing them). The values survive every view: low bits clear for
/// GICs with five priority bits, and a Non-secure read gives back what a
/// Non-secure write stored.
fn setting_a_priority_keeps_its_neighbours() -> TestResult {
    const VALUES: [u8; 4] = [0xa0, 0xb0, 0xc0, 0xd0];
    let before = PRIORITY_WORD.map(gic::spi_priority);
    for (&intid, priority) in PRIORITY_WORD.iter().zip(VALUES) {
        gic::configure(intid, priority, Trigger::Level);
    }
    let after = PRIORITY_WORD.map(gic::spi_priority);
    for (&intid, priority) in PRIORITY_WORD.iter().zip(before) {
        gic::configure(intid, priority, Trigger::Level);
    }
    check_eq!(after, VALUES);
    Ok(())
}
