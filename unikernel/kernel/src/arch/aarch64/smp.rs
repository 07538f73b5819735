//! Starting secondary CPUs: the start slots `boot.s`'s `secondary_entry`
//! reads with its MMU off, and the two ways a CPU is started (PSCI
//! `CPU_ON`; the spin table's release address and `sev`).
//!
//! What a CPU reads or writes before its MMU is on goes straight to memory
//! while the boot CPU's accesses are cached: the boot CPU cleans its slot to
//! the point of coherency after filling it in, and cleans and invalidates
//! the slot's small boot stack, so no dirty line is written back over what
//! the new CPU writes there and no stale one is read later.

use super::context::MAX_CPUS;
use super::power::Conduit;
use core::mem::offset_of;
use core::sync::atomic::{AtomicU64, Ordering};
use smccc::{psci, Hvc, Smc};

/// Bytes of stack a secondary CPU uses before its MMU is on
/// (`el2_to_el1`, `el1_setup`, [`secondary_mmu_on`]).
const BOOT_STACK: usize = 2048;

/// One secondary CPU's start: filled in by the boot CPU, read by the CPU
/// itself in `secondary_entry`.
#[repr(C, align(64))]
pub struct Slot {
    /// The MPIDR affinity fields of the CPU this slot is for.
    mpidr: AtomicU64,
    /// The kernel table's root, for its TTBR0.
    root: AtomicU64,
    /// The top of its idle thread's kernel stack; 0 while the slot is unused.
    stack: AtomicU64,
    _pad: [u64; 5],
    /// Its stack until the MMU is on.
    boot_stack: [u8; BOOT_STACK],
}

/// The start slots, by CPU index (slot 0, the boot CPU's, is never used).
#[unsafe(no_mangle)]
pub static START: [Slot; MAX_CPUS] = [const {
    Slot {
        mpidr: AtomicU64::new(0),
        root: AtomicU64::new(0),
        stack: AtomicU64::new(0),
        _pad: [0; 5],
        boot_stack: [0; BOOT_STACK],
    }
}; MAX_CPUS];

/// MPIDR's affinity fields: Aff3 (bits 39:32) and Aff2..Aff0.
pub const MPIDR_AFF: u64 = 0xff_00ff_ffff;

/// The operands of `secondary_entry` in `boot.s`.
pub mod layout {
    use super::*;
    /// `Slot::mpidr`'s offset.
    pub const SLOT_MPIDR: usize = offset_of!(Slot, mpidr);
    /// `Slot::root`'s offset.
    pub const SLOT_ROOT: usize = offset_of!(Slot, root);
    /// `Slot::stack`'s offset.
    pub const SLOT_STACK: usize = offset_of!(Slot, stack);
    /// Where the boot stack ends (its top), from the slot's start.
    pub const SLOT_BOOT_STACK_TOP: usize = offset_of!(Slot, boot_stack) + BOOT_STACK;
    /// A slot's size (an `add` immediate).
    pub const SLOT_SIZE: usize = size_of::<Slot>();
    const _: () = assert!(SLOT_SIZE < 4096 && SLOT_BOOT_STACK_TOP.is_multiple_of(16));
}

/// The MPIDR affinity of the CPU this runs on.
pub fn own_mpidr() -> u64 {
    use tock_registers::interfaces::Readable;
    aarch64_cpu::registers::MPIDR_EL1.get() & MPIDR_AFF
}

unsafe extern "C" {
    fn secondary_entry();
}

/// How a CPU is started.
#[derive(Clone, Copy, Debug)]
pub enum Start {
    /// PSCI `CPU_ON` through this conduit.
    Psci(Conduit),
    /// Write the entry to this (physical, identity-mapped) spin-table word, then `sev`.
    SpinTable(u64),
}

/// Why a CPU could not be started (reported through `Debug`).
#[derive(Clone, Copy, Debug)]
#[allow(dead_code, reason = "the fields are read through Debug, in reports")]
pub enum StartError {
    /// PSCI `CPU_ON` failed.
    Psci(psci::error::Error),
    /// The release address is not 8-byte aligned.
    BadReleaseAddress(u64),
}

/// Fills in CPU `index`'s slot (its MPIDR, the kernel table's `root`, the
/// top of the stack it continues on) and starts it.
///
/// # Safety
/// `stack_top` ends a mapped kernel stack nothing else uses; `root` is the
/// kernel's table; a spin-table release address is the CPU's own word,
/// identity-mapped, and the CPU waits there.
pub unsafe fn start_cpu(
    index: usize,
    mpidr: u64,
    root: u64,
    stack_top: u64,
    how: Start,
) -> Result<(), StartError> {
    let slot = &START[index];
    slot.mpidr.store(mpidr & MPIDR_AFF, Ordering::Relaxed);
    slot.root.store(root, Ordering::Relaxed);
    slot.stack.store(stack_top, Ordering::Relaxed);
    // Out to memory, where the CPU reads it with its MMU off; its boot
    // stack out of every cache, so no line is written back over it.
    let base = slot as *const Slot as u64;
    super::cache::maintain(
        object::CacheOp::CleanInvalidate,
        base,
        size_of::<Slot>() as u64,
    );
    let entry = secondary_entry as *const () as u64;
    match how {
        Start::Psci(conduit) => {
            let r = match conduit {
                Conduit::Hvc => psci::cpu_on::<Hvc>(mpidr, entry, index as u64),
                Conduit::Smc => psci::cpu_on::<Smc>(mpidr, entry, index as u64),
            };
            r.map_err(StartError::Psci)
        }
        Start::SpinTable(release) => {
            if !release.is_multiple_of(8) {
                return Err(StartError::BadReleaseAddress(release));
            }
            // SAFETY: the caller vouches the word is the CPU's release
            // address, identity-mapped; the CPU reads it with its caches
            // off, so it is cleaned to memory before the event.
            unsafe { (release as *mut u64).write_volatile(entry) };
            super::cache::maintain(object::CacheOp::CleanInvalidate, release, 8);
            aarch64_cpu::asm::sev();
            Ok(())
        }
    }
}

/// `secondary_entry`'s step from its boot stack to its MMU: translation
/// with the kernel's table whose root is `root`, caches on.
#[unsafe(no_mangle)]
extern "C" fn secondary_mmu_on(root: u64) {
    // SAFETY: the kernel's table identity-maps the image (this code, the
    // slots) and the idle thread's stack; this CPU's MMU is off, and the
    // boot CPU enabled its own with the same table long before.
    unsafe { super::mmu::enable_secondary(root) };
}
