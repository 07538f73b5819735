//! Every CPU: the ones the device tree lists are up, each runs the thread
//! pinned to it, and a thread blocked on one CPU is woken from another.

use crate::arch::context::MAX_CPUS;
use crate::ktest::{Failure, Suite, TestResult};
use crate::sched;
use crate::{boot_info, check, check_eq, tests};
use alloc::format;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

pub static SUITE: Suite = Suite {
    name: "cpus",
    tests: tests![
        every_listed_cpu_is_up,
        a_thread_pinned_to_a_cpu_runs_there,
        a_thread_blocked_on_another_cpu_is_woken_from_here,
        no_thread_on_a_cpu_that_is_not_up,
        a_lock_s_holder_sees_another_cpu_wait_for_it,
    ],
};

/// How many CPUs should run: those the tree lists (with a way to start
/// them), up to `cpus=N` and the kernel's room.
fn expected_cpus() -> usize {
    let listed = boot_info().platform.cpus.iter().count().max(1);
    let limit = boot_info().args.cpus.unwrap_or(MAX_CPUS);
    listed.min(limit).min(MAX_CPUS)
}

/// When a wait for another CPU gives up: far past any wait's length on an
/// idle machine (microseconds), so a host busy with other work, which may
/// not run that CPU for a while, only makes the test longer. (A count of
/// spins was seen to run out on raspi4b with the host's load at 7 on 2
/// cores.)
fn give_up_at() -> crate::time::Time {
    crate::time::deadline_after(crate::time::msec(10_000))
}

fn every_listed_cpu_is_up() -> TestResult {
    check_eq!(sched::cpus_online() as usize, expected_cpus());
    check_eq!(
        sched::current_cpu(),
        0,
        "the boot path runs on the boot CPU"
    );
    Ok(())
}

fn a_thread_pinned_to_a_cpu_runs_there() -> TestResult {
    for cpu in 0..sched::cpus_online() as usize {
        let seen = Arc::new(AtomicUsize::new(usize::MAX));
        let out = seen.clone();
        let t = sched::spawn_on(cpu, "ktest-smp", move || {
            out.store(sched::current_cpu(), Ordering::SeqCst);
        })
        .map_err(|e| Failure::Fail(format!("spawn_on({cpu}): {e:?}")))?;
        t.join();
        check_eq!(seen.load(Ordering::SeqCst), cpu);
    }
    Ok(())
}

/// For each other CPU: a thread pinned there blocks in a wait; this thread
/// wakes it (the wake crosses CPUs by SGI), and it reports the signals it
/// saw from its own CPU. On one CPU there is nothing to cross.
fn a_thread_blocked_on_another_cpu_is_woken_from_here() -> TestResult {
    for cpu in 1..sched::cpus_online() as usize {
        let id = Arc::new(AtomicU64::new(0));
        let seen = Arc::new(AtomicU64::new(0));
        let (id_out, seen_out) = (id.clone(), seen.clone());
        let t = sched::spawn_on(cpu, "ktest-smp-wait", move || {
            let me = sched::wait_prepare(None);
            id_out.store(me.raw(), Ordering::SeqCst);
            let outcome = sched::wait_block();
            let signals = outcome.signals.map_or(0, u64::from);
            seen_out.store(
                signals | ((sched::current_cpu() as u64) << 32),
                Ordering::SeqCst,
            );
        })
        .map_err(|e| Failure::Fail(format!("spawn_on({cpu}): {e:?}")))?;
        // Wait until it has blocked on its CPU.
        let end = give_up_at();
        while id.load(Ordering::SeqCst) == 0
            || !sched::is_blocked(sched::ThreadId::from_raw(id.load(Ordering::SeqCst)))
        {
            check!(
                crate::time::now() < end,
                "the thread on CPU {cpu} never blocked"
            );
            core::hint::spin_loop();
        }
        let woken =
            sched::wake_with_signals(sched::ThreadId::from_raw(id.load(Ordering::SeqCst)), 0x40);
        check!(woken);
        t.join();
        check_eq!(seen.load(Ordering::SeqCst), 0x40 | ((cpu as u64) << 32));
    }
    Ok(())
}

fn no_thread_on_a_cpu_that_is_not_up() -> TestResult {
    let off = sched::cpus_online() as usize;
    if off < MAX_CPUS {
        let r = sched::spawn_on(off, "ktest-smp-off", || {});
        check_eq!(r.err(), Some(abi::ZX_ERR_INVALID_ARGS));
    }
    check_eq!(
        sched::spawn_on(MAX_CPUS, "ktest-smp-off", || {}).err(),
        Some(abi::ZX_ERR_INVALID_ARGS)
    );
    Ok(())
}

/// For each other CPU: while this thread holds a lock, a thread there
/// waits for it, and the holder sees that (`IrqSpinRaw::contended`, which
/// the fault path asks before it copies a page under the object lock);
/// once the waiter has the lock and let it go, nobody waits any more. On
/// one CPU nobody else can wait.
fn a_lock_s_holder_sees_another_cpu_wait_for_it() -> TestResult {
    static LOCK: crate::sync::IrqMutex<u64> = crate::sync::IrqMutex::new(0);
    // SAFETY: `raw` is only used to look at the lock's waiters.
    let raw = unsafe { LOCK.raw() };
    for cpu in 1..sched::cpus_online() as usize {
        let go = Arc::new(AtomicBool::new(false));
        let go_in = go.clone();
        let t = sched::spawn_on(cpu, "ktest-smp-lock", move || {
            while !go_in.load(Ordering::SeqCst) {
                core::hint::spin_loop();
            }
            *LOCK.lock() += 1;
        })
        .map_err(|e| Failure::Fail(format!("spawn_on({cpu}): {e:?}")))?;
        let before = {
            let held = LOCK.lock();
            check!(!raw.contended(), "nobody waits yet");
            go.store(true, Ordering::SeqCst);
            let end = give_up_at();
            while !raw.contended() {
                check!(
                    crate::time::now() < end,
                    "CPU {cpu} never waited for the lock"
                );
                core::hint::spin_loop();
            }
            *held
        };
        t.join();
        check_eq!(*LOCK.lock(), before + 1);
        check!(!raw.contended(), "the waiter still counts after it left");
    }
    Ok(())
}
