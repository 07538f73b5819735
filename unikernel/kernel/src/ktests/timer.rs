//! The generic timer's counter, as the kernel reads it.

use crate::arch;
use crate::ktest::{Suite, TestResult};
use crate::{boot_info, check, check_eq, tests};

pub static SUITE: Suite = Suite {
    name: "timer",
    tests: tests![
        frequency_is_known,
        counter_advances,
        virtual_timer_ppi_is_11,
    ],
};

fn frequency_is_known() -> TestResult {
    let hz = arch::counter_frequency();
    // 1 MHz to 1 GHz covers every board and model we run on.
    check!(
        (1_000_000..=1_000_000_000).contains(&hz),
        "CNTFRQ_EL0 = {hz}"
    );
    Ok(())
}

fn counter_advances() -> TestResult {
    let start = arch::counter();
    let mut now = start;
    for _ in 0..1_000_000 {
        now = arch::counter();
        if now > start {
            break;
        }
    }
    check!(now > start, "counter stuck at {start}");
    Ok(())
}

fn virtual_timer_ppi_is_11() -> TestResult {
    let timer = boot_info().platform.timer;
    check_eq!(timer.map(|t| t.virtual_ppi), Some(11));
    Ok(())
}
