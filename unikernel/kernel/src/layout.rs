//! The kernel image's layout, from the linker script's symbols.

use core::ops::Range;

unsafe extern "C" {
    static __image_start: u8;
    static __image_end: u8;
    static __boot_stack_bottom: u8;
    static __boot_stack_top: u8;
}

fn addr(symbol: *const u8) -> u64 {
    symbol as u64
}

/// The whole image in memory: text, rodata, data, BSS and the boot stack.
pub fn image() -> Range<u64> {
    addr(&raw const __image_start)..addr(&raw const __image_end)
}

/// The boot stack.
pub fn boot_stack() -> Range<u64> {
    addr(&raw const __boot_stack_bottom)..addr(&raw const __boot_stack_top)
}
