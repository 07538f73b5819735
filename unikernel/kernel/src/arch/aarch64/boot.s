// Entry: the arm64 Linux `Image` header, then just enough to reach Rust:
// park secondary cores, move the image to its link address if the loader put
// it elsewhere, zero BSS, set the boot stack, leave EL2 if entered there,
// set the EL1 system registers (`el1_setup`).
// x0 holds the device tree's physical address throughout.
//
// Everything here runs with the MMU and data cache off: no exclusive
// loads or stores (real cores cannot use the exclusive monitor on the
// Device memory that all data accesses are then), no `DC ZVA` (it faults
// on Device memory). What is written here is read later with the caches
// on, so the range written (the whole image if it moves, else its data,
// BSS and stacks) is invalidated to the point of coherency first (no
// dirty line left by earlier software can be evicted over it later) and
// again before the MMU comes on (`mmu::enable`).

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
    msr     daifset, #0xf           // whatever the loader left: all masked
    mov     x19, x0                 // device tree
    mrs     x1, mpidr_el1
    and     x1, x1, {AFF_MASK}
    cbnz    x1, park

    // Where the loader put us (`adr`) against where we were linked. The Pi's
    // firmware loads an Image-headed kernel8.img at 0x20_0000 on some
    // versions, whatever its link address: until the copy below, this code
    // only uses PC-relative addressing.
    adr     x21, _start             // load address, reported to Rust
    ldr     x2, link_image_start
    ldr     x3, link_image_end
    // Drop whatever the caches hold for what is written below with the
    // caches off: clean lines would be stale once memory is written
    // directly, dirty ones would be written back over it. That is the
    // whole link range if the image moves; else only data, BSS and the
    // boot stack (the loader cleaned the image it loaded to the point of
    // coherency, as the arm64 boot protocol asks, and text and rodata are
    // never written).
    mrs     x4, ctr_el0
    ubfx    x4, x4, #16, #4         // DminLine: log2 of words per line
    mov     x5, #4
    lsl     x4, x5, x4              // line size in bytes
    cmp     x21, x2
    b.ne    5f
    // Data and BSS, and the boot stack (`layout::written_before_mmu`).
    ldr     x5, link_rodata_end
    ldr     x3, link_bss_end
    bl      dcache_inval_range
    ldr     x5, link_boot_stack_bottom
    ldr     x3, link_boot_stack_top
    bl      dcache_inval_range
    b       7f
5:  mov     x5, x2
    bl      dcache_inval_range
7:  dsb     sy
    cmp     x21, x2
    b.eq    relocated
    ldr     x3, link_bss_start
    sub     x3, x3, x2              // bytes the loader wrote: up to BSS, 16-aligned
    mov     x1, x21
    cmp     x2, x1
    b.hi    3f
    // Copy down (destination below source): forward, safe for the data
    // when the two overlap. But once the image is longer than the distance
    // it moves (1.5 MiB from 0x20_0000 to 0x8_0000), the copy reaches the
    // loaded image's first bytes, where this very code runs. So the bytes up
    // to the end of the loop go first, and the loop then carries on from
    // its copy at the link address, which the rest of the copy never
    // overwrites (it writes only beyond `copy_down_end`).
    adr     x6, copy_down_end
    sub     x6, x6, x21             // the image's bytes up to the loop's end
0:  ldp     x4, x5, [x1], #16
    stp     x4, x5, [x2], #16
    sub     x3, x3, #16
    subs    x6, x6, #16
    b.ne    0b
    dsb     sy                      // the copied loop is fetched from memory
    ic      iallu
    dsb     sy
    isb
    adr     x6, 1f
    sub     x6, x6, x21
    ldr     x7, link_image_start
    add     x6, x6, x7
    br      x6                      // to `1:` at its link address
1:  cbz     x3, 4f
    ldp     x4, x5, [x1], #16
    stp     x4, x5, [x2], #16
    sub     x3, x3, #16
    b       1b
    .balign 16
copy_down_end:
    // Copy up (destination above source): backward.
3:  add     x1, x1, x3
    add     x2, x2, x3
2:  cbz     x3, 4f
    ldp     x4, x5, [x1, #-16]!
    stp     x4, x5, [x2, #-16]!
    sub     x3, x3, #16
    b       2b
    // The copied code must be fetched from memory, not a stale I-cache.
4:  dsb     sy
    ic      iallu
    dsb     sy
    isb
    ldr     x1, link_relocated
    br      x1

relocated:
    adrp    x1, __bss_start
    add     x1, x1, :lo12:__bss_start
    adrp    x2, __bss_end
    add     x2, x2, :lo12:__bss_end
    // 64 bytes per iteration while that much is left, then 16 at a time.
    sub     x3, x2, #64
1:  cmp     x1, x3
    b.hi    6f
    stp     xzr, xzr, [x1]
    stp     xzr, xzr, [x1, #16]
    stp     xzr, xzr, [x1, #32]
    stp     xzr, xzr, [x1, #48]
    add     x1, x1, #64
    b       1b
6:  cmp     x1, x2
    b.hs    2f
    stp     xzr, xzr, [x1], #16
    b       6b

2:  adrp    x1, __boot_stack_top
    add     x1, x1, :lo12:__boot_stack_top
    msr     spsel, #1               // SP_ELx, whatever the loader chose
    mov     sp, x1
    mrs     x20, CurrentEL
    lsr     x20, x20, #2
    cmp     x20, #2
    b.ne    el1_entry
    adr     x0, el1_entry
    bl      el2_to_el1              // programs EL2 and SPSR/ELR_EL2/SP_EL1
    eret

el1_entry:
    bl      el1_setup               // every EL1 register the kernel relies on
    mov     x0, x19
    mov     x1, x20
    mov     x2, x21
    b       kernel_entry

park:
    wfe
    b       park

// A secondary CPU enters here (PSCI CPU_ON, or the spin table's jump), at
// EL2 or EL1, MMU and caches off, with nothing in its registers that it
// trusts. It finds its start slot by MPIDR (`smp::START`, which the boot
// CPU cleaned to the point of coherency), sets the EL1 registers as the
// boot CPU did, turns its MMU on with the kernel's table and continues on
// the guarded kernel stack of its idle thread. Until then it writes only
// its slot's small stack (the boot CPU invalidated it); no lock, no
// exclusive, as before the boot CPU's MMU was on.
.global secondary_entry
secondary_entry:
    msr     daifset, #0xf
    mrs     x1, mpidr_el1
    ldr     x2, mpidr_aff_mask
    and     x1, x1, x2
    adrp    x19, {START}
    add     x19, x19, :lo12:{START}
    mov     x20, #0
1:  ldr     x2, [x19, #{SLOT_MPIDR}]
    ldr     x3, [x19, #{SLOT_STACK}]
    cmp     x2, x1
    ccmp    x3, #0, #4, eq          // ours only if the boot CPU filled it in
    b.ne    2f
    add     x19, x19, #{SLOT_SIZE}
    add     x20, x20, #1
    cmp     x20, #{MAX_CPUS}
    b.lo    1b
    b       park                    // no slot names this CPU: stay parked
2:  add     x1, x19, #{SLOT_BOOT_STACK_TOP}
    msr     spsel, #1
    mov     sp, x1
    mrs     x21, CurrentEL
    lsr     x21, x21, #2
    cmp     x21, #2
    b.ne    3f
    adr     x0, 3f
    bl      el2_to_el1
    eret
3:  bl      el1_setup
    ldr     x0, [x19, #{SLOT_ROOT}]
    bl      secondary_mmu_on
    ldr     x1, [x19, #{SLOT_STACK}]
    mov     sp, x1
    mov     x0, x20
    b       secondary_main

    // `DC IVAC` of each line of [x5, x3), x4 the line size; clobbers x5.
dcache_inval_range:
8:  dc      ivac, x5
    add     x5, x5, x4
    cmp     x5, x3
    b.lo    8b
    ret

    // Link-time addresses, read PC-relatively before the image is in place.
    .balign 8
link_image_start:
    .quad   __image_start
link_image_end:
    .quad   __image_end
link_bss_start:
    .quad   __bss_start
link_rodata_end:
    .quad   __rodata_end
link_bss_end:
    .quad   __bss_end
link_boot_stack_bottom:
    .quad   __boot_stack_bottom
link_boot_stack_top:
    .quad   __boot_stack_top
link_relocated:
    .quad   relocated
mpidr_aff_mask:
    .quad   {MPIDR_AFF}
