// QEMU virt (secure=on, virtualization=on, gic-version=2) as the Raspberry
// Pi 4's firmware leaves the core: what raspberrypi/tools armstubs/armstub8.S
// does, plus the loading the firmware itself does before it. Entered at
// secure EL3 with the MMU and caches off; every core runs it.
//
// 1. EL3 set-up: FP/SIMD not trapped (CPTR_EL3), the counter frequency
//    (CNTFRQ_EL0, writable only here), CNTVOFF_EL2 = 0, SCR_EL3 = the Pi
//    stub's value: EL2 is AArch64 (RW), HVC enabled (HCE), SMC disabled
//    (SMD), lower ELs non-secure (NS).
// 2. The GIC: distributor on for both groups (GICD_CTLR = 3), every
//    interrupt the distributor has in Group 1 (GICD_IGROUPR all ones; word 0
//    is banked per core), CPU interface on for both groups with the Pi's
//    bypass bits (GICC_CTLR = 0x1e7), priority mask open (GICC_PMR = 0xff).
//    From then on the kernel sees only the non-secure view.
// 3. Core 0 only: the device tree QEMU put at the base of RAM moves to
//    DTB_HOME (the kernel's link address lies inside the 1 MiB QEMU gives
//    it), then the arm64 Image QEMU's `-device loader` placed at
//    IMAGE_LOAD is copied to RAM + its header's text_offset, as the Pi
//    firmware loads kernel8.img at 0x8_0000.
// 4. Drop to non-secure EL2h, all exceptions masked, at the kernel's first
//    instruction with x0 = the device tree, x1-x3 = 0 (the arm64 boot
//    protocol). Other cores park in `wfe` (the tree names no PSCI and no
//    spin table: the kernel runs on core 0 alone here).

.section .text.boot, "ax"
.global _start
_start:
    msr     cptr_el3, xzr
    ldr     x0, ={CNTFRQ}
    msr     cntfrq_el0, x0
    msr     cntvoff_el2, xzr
    mov     x0, #{SCR}
    msr     scr_el3, x0
    isb

    // GIC distributor and this core's banked registers.
    ldr     x2, ={GICD}
    mov     w0, #3
    str     w0, [x2, #{GICD_CTLR}]
    ldr     w3, [x2, #{GICD_TYPER}]
    and     w3, w3, #{TYPER_ITLINES}    // words of IGROUPR, minus one
    add     x4, x2, #{GICD_IGROUPR}
    mov     w1, #-1
1:  str     w1, [x4, x3, lsl #2]
    subs    w3, w3, #1
    b.pl    1b
    ldr     x2, ={GICC}
    mov     w0, #{GICC_CTLR_VAL}
    str     w0, [x2, #{GICC_CTLR}]
    mov     w0, #0xff
    str     w0, [x2, #{GICC_PMR}]

    mrs     x0, mpidr_el1
    tst     x0, #{MPIDR_AFF_MASK}
    b.eq    primary
park:
    wfe
    b       park

primary:
    // The device tree: big-endian magic and total size in its header.
    ldr     x10, ={RAM_BASE}
    mov     x20, xzr                    // no tree: x0 = 0, the kernel says so
    ldr     w0, [x10]
    rev     w0, w0
    ldr     w1, ={FDT_MAGIC}
    cmp     w0, w1
    b.ne    image
    ldr     w2, [x10, #4]
    rev     w2, w2
    ldr     x20, ={DTB_HOME}
    mov     x0, x10
    mov     x1, x20
    bl      copy

image:
    // The arm64 Image header: text_offset at 8, image_size at 16 (BSS
    // included), "ARM\x64" at 0x38.
    ldr     x11, ={IMAGE_LOAD}
    ldr     w0, [x11, #0x38]
    ldr     w1, ={IMAGE_MAGIC}
    cmp     w0, w1
    b.ne    park
    ldr     x21, [x11, #8]
    add     x21, x21, x10               // entry = RAM + text_offset
    ldr     x2, [x11, #16]
    mov     x0, x11
    mov     x1, x21
    bl      copy
    // Code was written with data accesses: nothing stale may be fetched.
    dsb     sy
    ic      iallu
    dsb     sy
    isb

    ldr     x0, ={SCTLR_EL2_VAL}
    msr     sctlr_el2, x0
    mov     x0, #{SPSR_VAL}
    msr     spsr_el3, x0
    msr     elr_el3, x21
    mov     x0, x20
    mov     x1, xzr
    mov     x2, xzr
    mov     x3, xzr
    eret

// Copies x2 bytes (rounded up to 16) from x0 to x1, ascending (the
// destinations lie below or apart from their sources). MMU off: every
// access is Device memory, so only aligned pairs.
copy:
    add     x2, x2, #15
    bic     x2, x2, #15
    cbz     x2, 2f
1:  ldp     x4, x5, [x0], #16
    stp     x4, x5, [x1], #16
    subs    x2, x2, #16
    b.ne    1b
2:  ret

.ltorg
