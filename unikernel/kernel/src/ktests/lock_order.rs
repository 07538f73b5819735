//! The lock-order checker (`sync::order`): locks of their own, ranked like
//! the global ones, taken in the wrong order are caught (and named), in
//! the right order are not. Inside `order::catching`, so a violation is
//! returned rather than ending the run; the locks are the test's own, so
//! nothing waits for another CPU.

use crate::ktest::{Failure, Suite, TestResult};
use crate::sync::order::{self, Violation};
use crate::sync::{ranked, IrqMutex, IrqSpinRaw, Rank};
use crate::{check, check_eq, tests};
use alloc::vec::Vec;
use talc::lock_api::MutexGuard;

pub static SUITE: Suite = Suite {
    name: "lock_order",
    tests: tests![
        lock_order_wrong_order_is_caught,
        lock_order_right_order_passes,
        lock_order_same_rank_twice_is_caught,
        lock_order_try_lock_is_unchecked_but_held,
        lock_order_unranked_locks_are_not_checked,
        lock_order_object_space_then_page_tables_passes,
    ],
};

/// Ranked like the object space, the page tables and the frame pools.
static OBJECTS: IrqMutex<()> = ranked(Rank::Objects, ());
static TABLES: IrqMutex<()> = ranked(Rank::PageTables, ());
static POOL_A: IrqMutex<()> = ranked(Rank::FramePool, ());
static POOL_B: IrqMutex<()> = ranked(Rank::FramePool, ());

fn enabled() -> TestResult {
    if !order::ENABLED {
        return Err(Failure::Skip("built without the lock-order feature"));
    }
    // The test itself holds no lock: nothing is recorded as held.
    check_eq!(order::held().count(), 0);
    Ok(())
}

/// How a test takes a lock: waiting for it, or trying once.
#[derive(Clone, Copy)]
enum Take {
    Lock,
    Try,
}

/// Inside `order::catching`: takes `outer`, then `inner` (each as its
/// [`Take`] says), and releases them in reverse. Returns the violation
/// caught, if any, and the ranks recorded as held while both were.
fn nested(
    (outer, how_outer): (&IrqMutex<()>, Take),
    (inner, how_inner): (&IrqMutex<()>, Take),
) -> (Option<Violation>, Vec<Rank>) {
    let mut during = Vec::new();
    let caught = order::catching(|| {
        let _outer = take(outer, how_outer);
        let _inner = take(inner, how_inner);
        during.extend(order::held());
    });
    (caught, during)
}

/// `m` taken as `how` says (`None`: a `try_lock` that failed).
fn take(m: &IrqMutex<()>, how: Take) -> Option<MutexGuard<'_, IrqSpinRaw, ()>> {
    match how {
        Take::Lock => Some(m.lock()),
        Take::Try => m.try_lock(),
    }
}

/// The violation of taking `taken` while holding `held`.
fn violation(taken: Rank, held: Rank) -> Option<Violation> {
    Some(Violation { taken, held })
}

fn lock_order_wrong_order_is_caught() -> TestResult {
    enabled()?;
    let (caught, _) = nested((&TABLES, Take::Lock), (&OBJECTS, Take::Lock));
    check_eq!(caught, violation(Rank::Objects, Rank::PageTables));
    // Released: nothing is left recorded.
    check_eq!(order::held().count(), 0);
    Ok(())
}

fn lock_order_right_order_passes() -> TestResult {
    enabled()?;
    let (caught, during) = nested((&OBJECTS, Take::Lock), (&TABLES, Take::Lock));
    check_eq!(caught, None);
    check_eq!(during, [Rank::Objects, Rank::PageTables]);
    check_eq!(order::held().count(), 0);
    Ok(())
}

/// Two locks of one rank (two CPUs' frame pools) are never held together.
fn lock_order_same_rank_twice_is_caught() -> TestResult {
    enabled()?;
    let (caught, _) = nested((&POOL_A, Take::Lock), (&POOL_B, Take::Lock));
    check_eq!(caught, violation(Rank::FramePool, Rank::FramePool));
    Ok(())
}

/// A `try_lock` never waits, so it is not checked; what it got counts as
/// held for the locks taken after it.
fn lock_order_try_lock_is_unchecked_but_held() -> TestResult {
    enabled()?;
    let (caught, _) = nested((&TABLES, Take::Lock), (&OBJECTS, Take::Try));
    check_eq!(caught, None);
    let (caught, _) = nested((&TABLES, Take::Try), (&OBJECTS, Take::Lock));
    check_eq!(caught, violation(Rank::Objects, Rank::PageTables));
    check_eq!(order::held().count(), 0);
    Ok(())
}

fn lock_order_unranked_locks_are_not_checked() -> TestResult {
    enabled()?;
    let unranked = IrqMutex::new(());
    check!(rank_of(&unranked).is_none());
    check_eq!(rank_of(&TABLES), Some(Rank::PageTables));
    let (caught, during) = nested((&TABLES, Take::Lock), (&unranked, Take::Lock));
    check_eq!(caught, None);
    check_eq!(during, [Rank::PageTables]);
    Ok(())
}

/// The known order on the real locks: the object space, then the page
/// table's (a mapping made under the object space's lock).
fn lock_order_object_space_then_page_tables_passes() -> TestResult {
    enabled()?;
    let mut during = Vec::new();
    let caught = order::catching(|| {
        crate::objects::with(|_| {
            crate::vm::with_page_table(|_| during.extend(order::held()));
        });
    });
    check_eq!(caught, None);
    check_eq!(during, [Rank::Objects, Rank::PageTables]);
    check_eq!(order::held().count(), 0);
    Ok(())
}

/// The rank of `m`'s raw lock.
fn rank_of(m: &IrqMutex<()>) -> Option<Rank> {
    // SAFETY: the raw lock is only asked its rank, never locked or
    // unlocked through this reference.
    unsafe { m.raw() }.rank()
}
