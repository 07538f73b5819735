// Entry: the arm64 Linux `Image` header, then just enough to reach Rust:
// park secondary cores, zero BSS, set the boot stack, leave EL2 if entered
// there. x0 holds the device tree's physical address throughout.

.section .text.boot, "ax"
.global _start
_start:
    b       primary_entry           // code0
    .long   0                       // code1
    .quad   {TEXT_OFFSET}           // text_offset
    .quad   __image_size            // image_size, BSS and boot stack included
    .quad   {IMAGE_FLAGS}           // flags: little-endian, 4 KiB pages
    .quad   0, 0, 0                 // res2..res4
    .ascii  "ARM\x64"               // magic
    .long   0                       // res5 (no PE header)

primary_entry:
    mov     x19, x0                 // device tree
    mrs     x1, mpidr_el1
    and     x1, x1, {AFF_MASK}
    cbnz    x1, park

    adrp    x1, __bss_start
    add     x1, x1, :lo12:__bss_start
    adrp    x2, __bss_end
    add     x2, x2, :lo12:__bss_end
1:  cmp     x1, x2
    b.hs    2f
    stp     xzr, xzr, [x1], #16
    b       1b

2:  adrp    x1, __boot_stack_top
    add     x1, x1, :lo12:__boot_stack_top
    mov     sp, x1
    mrs     x20, CurrentEL
    lsr     x20, x20, #2
    cmp     x20, #2
    b.ne    el1_entry
    adr     x0, el1_entry
    bl      el2_to_el1              // programs EL2 and SPSR/ELR_EL2/SP_EL1
    eret

el1_entry:
    mov     x0, x19
    mov     x1, x20
    b       kernel_entry

park:
    wfe
    b       park
