//! The kernel image's layout, from the linker script's symbols.

use core::ops::Range;

unsafe extern "C" {
    static __image_start: u8;
    static __image_end: u8;
    static __text_end: u8;
    static __rodata_end: u8;
    static __bss_end: u8;
    static __boot_stack_guard: u8;
    static __boot_stack_bottom: u8;
    static __emergency_stack_guard: u8;
    static __emergency_stack_bottom: u8;
}

/// Bytes in a kernel stack. A stack occupies the upper half of a slot of
/// twice this size, aligned to it; the lower half is never mapped.
pub const KERNEL_STACK_SIZE: u64 = 1 << KERNEL_STACK_SHIFT;
/// log2 of [`KERNEL_STACK_SIZE`]: the SP bit the exception entry tests.
pub const KERNEL_STACK_SHIFT: u32 = 16;

/// log2 of each CPU's share of the emergency stack, from its top down:
/// a quarter of it each ([`crate::arch::context::MAX_CPUS`] = 4).
pub const EMERGENCY_SHARE_SHIFT: u32 = KERNEL_STACK_SHIFT - 2;
const _: () = assert!(
    (crate::arch::context::MAX_CPUS as u64) << EMERGENCY_SHARE_SHIFT <= KERNEL_STACK_SIZE,
    "every CPU has its own share of the emergency stack"
);

fn addr(symbol: *const u8) -> u64 {
    symbol as u64
}

/// The whole image in memory: text, rodata, data, BSS and the boot stack.
pub fn image() -> Range<u64> {
    addr(&raw const __image_start)..addr(&raw const __image_end)
}

/// Kernel text: read and execute.
pub fn text() -> Range<u64> {
    addr(&raw const __image_start)..addr(&raw const __text_end)
}

/// Read-only data.
pub fn rodata() -> Range<u64> {
    addr(&raw const __text_end)..addr(&raw const __rodata_end)
}

/// Data, BSS and the stacks with their guards: read and write.
pub fn data() -> Range<u64> {
    addr(&raw const __rodata_end)..addr(&raw const __image_end)
}

/// What the kernel writes before the MMU is on, with the caches off (so
/// what must be invalidated before cacheable accesses read it, `boot.s`
/// and `mmu::enable`), in an image that has not moved: data and BSS (the
/// boot map's tables among them), and the boot stack. Text and rodata are
/// never written; the emergency stack is only used with the MMU on.
pub fn written_before_mmu() -> [Range<u64>; 2] {
    [
        addr(&raw const __rodata_end)..addr(&raw const __bss_end),
        addr(&raw const __boot_stack_bottom)..addr(&raw const __emergency_stack_guard),
    ]
}

/// The unmapped guard regions below the boot and emergency stacks.
pub fn stack_guards() -> [Range<u64>; 2] {
    [
        addr(&raw const __boot_stack_guard)..addr(&raw const __boot_stack_bottom),
        addr(&raw const __emergency_stack_guard)..addr(&raw const __emergency_stack_bottom),
    ]
}

/// The kernel stack that `addr` would lie in: every kernel stack is the
/// upper half of a slot of twice its size, aligned to it.
pub fn kernel_stack_around(addr: u64) -> Range<u64> {
    let slot = addr & !(2 * KERNEL_STACK_SIZE - 1);
    slot + KERNEL_STACK_SIZE..slot + 2 * KERNEL_STACK_SIZE
}
