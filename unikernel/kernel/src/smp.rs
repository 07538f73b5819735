//! Every CPU: the secondary CPUs the device tree lists are started one at
//! a time after the scheduler runs on the boot CPU, each by its node's
//! `enable-method` (PSCI `CPU_ON` on QEMU `virt`, the spin table on the
//! Pi 4), at most `cpus=N` in all. Each comes up on the guarded kernel
//! stack of its own idle thread ([`sched::prepare_cpu`]), brings up its GIC
//! interface, kick SGI and timer ([`sched::cpu_online`]) and then idles
//! until the scheduler gives it threads. A CPU that does not answer within
//! [`START_TIMEOUT`] is reported and left out; the others go on.

use crate::arch::context::MAX_CPUS;
use crate::arch::smp::{self, Start};
use crate::devicetree::{EnableMethod, Hardware};
use crate::sched;
use crate::time;
use core::sync::atomic::{AtomicU8, Ordering};

/// How long the boot CPU waits for a started CPU to say it is up.
pub const START_TIMEOUT: time::Duration = time::msec(500);

/// Per CPU: where its start is.
static STATE: [AtomicU8; MAX_CPUS] = [const { AtomicU8::new(IDLE) }; MAX_CPUS];
/// Not started.
const IDLE: u8 = 0;
/// Started; not yet arrived.
const STARTING: u8 = 1;
/// Arrived in Rust with its MMU on, coming up.
const ARRIVED: u8 = 2;
/// Taking threads.
const ONLINE: u8 = 3;
/// Given up on by the boot CPU: if it arrives late it parks.
const ABANDONED: u8 = 4;

/// Starts the secondary CPUs, up to `limit` CPUs in all (the boot CPU
/// included; `None`: every one listed). Returns how many CPUs run.
pub fn start_secondaries(platform: &Hardware, limit: Option<usize>) -> usize {
    let own = smp::own_mpidr();
    let limit = limit.unwrap_or(MAX_CPUS).min(MAX_CPUS);
    let Some(timer) = platform.timer else {
        return sched::cpus_online() as usize;
    };
    if platform.cpus.left_out > 0 {
        crate::warn!(
            "smp: {} CPUs beyond the {} the kernel keeps are left out",
            platform.cpus.left_out,
            crate::devicetree::MAX_CPU_NODES
        );
    }
    TIMER_PPI.store(timer.virtual_ppi as u8, Ordering::Relaxed);
    let mut index = 1;
    for cpu in platform.cpus.iter().filter(|c| c.mpidr != own) {
        if index >= limit {
            if limit < MAX_CPUS {
                crate::info!("smp: cpus={limit}: CPU {:#x} stays off", cpu.mpidr);
            } else {
                crate::warn!(
                    "smp: CPU {:#x} left out: room for {MAX_CPUS} CPUs",
                    cpu.mpidr
                );
            }
            continue;
        }
        let how = match cpu.enable {
            EnableMethod::Psci => match platform.psci {
                Some(conduit) => Start::Psci(conduit),
                None => {
                    crate::warn!("smp: CPU {:#x} wants PSCI, and there is none", cpu.mpidr);
                    continue;
                }
            },
            EnableMethod::SpinTable { release_addr } => Start::SpinTable(release_addr),
            EnableMethod::Unknown => {
                crate::warn!(
                    "smp: CPU {:#x} has no enable method the kernel knows",
                    cpu.mpidr
                );
                continue;
            }
        };
        if start_one(index, cpu.mpidr, how) {
            index += 1;
        }
    }
    sched::cpus_online() as usize
}

/// The virtual timer's PPI, for the secondaries' own timers.
static TIMER_PPI: AtomicU8 = AtomicU8::new(0);

/// Starts the CPU with affinity `mpidr` as CPU `index`; true once it runs.
fn start_one(index: usize, mpidr: u64, how: Start) -> bool {
    let stack_top = match sched::prepare_cpu(index) {
        Ok(top) => top,
        Err(e) => {
            crate::warn!("smp: no idle thread for CPU {mpidr:#x}: {e:?}");
            return false;
        }
    };
    STATE[index].store(STARTING, Ordering::SeqCst);
    // SAFETY: the stack is the fresh idle thread's, used by nothing else;
    // the root is the kernel's table; a release address comes from the
    // device tree (or the Pi's known spin table), in RAM the kernel maps.
    let started = unsafe {
        smp::start_cpu(
            index,
            mpidr,
            crate::vm::domain::kernel_root(),
            stack_top,
            how,
        )
    };
    if let Err(e) = started {
        crate::warn!("smp: CPU {mpidr:#x} did not start: {e:?}");
        STATE[index].store(ABANDONED, Ordering::SeqCst);
        return false;
    }
    let deadline = crate::arch::counter().saturating_add(time::duration_to_ticks(START_TIMEOUT));
    loop {
        match STATE[index].load(Ordering::Acquire) {
            ONLINE => return true,
            // Arrived: it finishes coming up however long that takes.
            ARRIVED => {}
            // Still not arrived: give up on it, unless it arrives now. Its
            // idle thread and stack stay: it may still arrive, on that
            // stack, and park.
            _ if crate::arch::counter() >= deadline
                && STATE[index]
                    .compare_exchange(STARTING, ABANDONED, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok() =>
            {
                crate::warn!(
                    "smp: CPU {mpidr:#x} did not come up within {} ms; going on without it",
                    START_TIMEOUT / time::msec(1)
                );
                return false;
            }
            _ => {}
        }
        core::hint::spin_loop();
    }
}

/// Where a secondary CPU's Rust begins (`secondary_entry`), on its idle
/// thread's stack, MMU and caches on, IRQs masked.
#[unsafe(no_mangle)]
extern "C" fn secondary_main(index: usize) -> ! {
    // Which CPU this is, before anything asks.
    crate::arch::context::init_cpu(index);
    crate::arch::exception::install_vectors();
    crate::arch::unmask_serror();
    let arrived = STATE[index]
        .compare_exchange(STARTING, ARRIVED, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok();
    if !arrived {
        // The boot CPU gave up on this one: stay out of everything.
        crate::arch::halt();
    }
    sched::cpu_online(index, u32::from(TIMER_PPI.load(Ordering::Relaxed)));
    STATE[index].store(ONLINE, Ordering::Release);
    sched::run_idle()
}
