//! The generic timer's virtual timer (`CNTV_*`), one-shot: programmed with
//! an absolute compare value in counter ticks, disabled when nothing is due.
//! Its PPI comes from the device tree's timer node (INTID 27 = PPI 11 on
//! every board we run; what every hypervisor gives a guest).
//!
//! The interrupt is level-triggered: it stays asserted while the counter is
//! past the compare value, so the handler turns the timer off before calling
//! the kernel, which programs the next deadline (or leaves it off).

use super::gic::{self, IntId, Trigger};
use aarch64_cpu::registers::{CNTVCT_EL0, CNTV_CTL_EL0, CNTV_CVAL_EL0};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use tock_registers::interfaces::{Readable, Writeable};

/// What the kernel runs when the timer fires (IRQs masked).
pub type ExpiryHandler = fn();

static EXPIRATIONS: AtomicU64 = AtomicU64::new(0);
static INTID: AtomicU32 = AtomicU32::new(0);
/// The kernel's [`ExpiryHandler`].
static ON_EXPIRY: spin::Once<ExpiryHandler> = spin::Once::new();

/// Routes the virtual timer's PPI `ppi` through the GIC to `on_expiry`. The
/// timer starts disabled.
pub fn init(ppi: u32, on_expiry: ExpiryHandler) {
    disable();
    let intid = IntId::ppi(ppi);
    INTID.store(intid.raw_value(), Ordering::Relaxed);
    ON_EXPIRY.call_once(|| on_expiry);
    gic::set_handler(intid, Some(handle));
    gic::configure(intid, gic::DEFAULT_PRIORITY, Trigger::Level);
    gic::enable(intid);
}

/// The virtual counter now.
#[inline]
pub fn now() -> u64 {
    // The ISB keeps the read from being hoisted above earlier instructions,
    // so time never appears to run backwards relative to program order.
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
    CNTVCT_EL0.get()
}

/// Fires the timer interrupt once the counter reaches `ticks` (at once if
/// it already has).
pub fn program(ticks: u64) {
    CNTV_CVAL_EL0.set(ticks);
    CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::SET + CNTV_CTL_EL0::IMASK::CLEAR);
}

/// Turns the timer off: no interrupt until the next [`program`].
pub fn disable() {
    CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::CLEAR);
}

/// The compare value last programmed, if the timer is on.
#[inline]
pub fn programmed() -> Option<u64> {
    CNTV_CTL_EL0
        .is_set(CNTV_CTL_EL0::ENABLE)
        .then(|| CNTV_CVAL_EL0.get())
}

/// Timer interrupts taken since boot.
pub fn expirations() -> u64 {
    EXPIRATIONS.load(Ordering::Relaxed)
}

/// The INTID the timer interrupts with (0 before [`init`]).
pub fn intid() -> u32 {
    INTID.load(Ordering::Relaxed)
}

fn handle(_intid: IntId) {
    disable();
    EXPIRATIONS.fetch_add(1, Ordering::Relaxed);
    if let Some(f) = ON_EXPIRY.get() {
        f();
    }
}
