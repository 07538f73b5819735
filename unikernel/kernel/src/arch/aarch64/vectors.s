// The exception vector table: 16 slots of 128 bytes. Each slot saves
// x0/x1, puts its index in x0 and branches to the common path, which saves
// a whole `TrapFrame`, calls `handle_exception(frame, vector)` and restores
// the frame (the handler may change ELR, SPSR and registers) before `eret`.
// Synchronous exceptions from EL0 take shorter ways for `svc` and aborts.
//
// Every offset into the frame is a `const` operand from `offset_of!` on
// `TrapFrame` (exception.rs), every Rust handler a `sym` operand; each slot
// begins with `.org` at its own place, so a slot that grew past 128 bytes
// fails to assemble instead of shifting the slots after it.

.macro VECTOR kind
    .org    \kind * 0x80
    sub     sp, sp, #{FRAME_SIZE}
    stp     x0, x1, [sp, #{X}]
    mov     x0, #\kind
    b       exception_common
.endm

// Exceptions taken on SP_ELx at the current EL first check that SP is still
// inside its stack. Kernel stacks sit in the upper half of a slot twice their
// size, so bit STACK_SHIFT of a valid SP is set, and clear once SP has run
// into the guard below. The test needs a register: SP and x0 are swapped by
// arithmetic, tested, and swapped back.
.macro VECTOR_SPX kind
    .org    \kind * 0x80
    sub     sp, sp, #{FRAME_SIZE}
    add     sp, sp, x0              // sp = sp + x0
    sub     x0, sp, x0              // x0 = sp
    tbz     x0, #{STACK_SHIFT}, stack_overflow
    sub     x0, sp, x0              // x0 = x0
    sub     sp, sp, x0              // sp = sp
    stp     x0, x1, [sp, #{X}]
    mov     x0, #\kind
    b       exception_common
.endm

// Synchronous exceptions from EL0 check for `svc` and aborts (data, then
// instruction: one way for both) first: both are handled by Rust
// code that preserves the callee-saved registers (x19–x29), so these are
// neither saved nor restored (a syscall is a function call as far as the
// task is concerned; a resolved fault is invisible to it).
.macro VECTOR_EL0_SYNC kind
    .org    \kind * 0x80
    sub     sp, sp, #{FRAME_SIZE}
    stp     x0, x1, [sp, #{X}]
    mrs     x0, esr_el1
    ubfx    x0, x0, #{EC_SHIFT}, #{EC_BITS}
    cmp     x0, #{EC_SVC64}
    b.eq    svc_entry
    cmp     x0, #{EC_DABT_LOWER}
    b.eq    abort_entry
    cmp     x0, #{EC_IABT_LOWER}
    b.eq    abort_entry
    mov     x0, #\kind
    b       exception_common
.endm

// The table must start its section: `.org` counts from the section's start.
.section .text.vectors, "ax"
.balign 0x800
.global exception_vectors
exception_vectors:
    VECTOR 0    // current EL, SP_EL0: sync
    VECTOR 1    //                      IRQ
    VECTOR 2    //                      FIQ
    VECTOR 3    //                      SError
    VECTOR_SPX 4 // current EL, SP_ELx: sync
    VECTOR_SPX 5 //                      IRQ
    VECTOR_SPX 6 //                      FIQ
    VECTOR_SPX 7 //                      SError
    VECTOR_EL0_SYNC 8 // lower EL, AArch64: sync
    VECTOR 9    //                      IRQ
    VECTOR 10   //                      FIQ
    VECTOR 11   //                      SError
    VECTOR 12   // lower EL, AArch32:  sync
    VECTOR 13   //                      IRQ
    VECTOR 14   //                      FIQ
    VECTOR 15   //                      SError
    .org    16 * 0x80

// SP ran into a guard (x0 holds the overflowed SP, sp holds SP + x0). Restore
// both, keep the overflowed SP and x0 in the EL0 thread registers (the run is
// ending), and report from this CPU's share of the emergency stack.
stack_overflow:
    sub     x0, sp, x0              // x0 = x0
    sub     sp, sp, x0              // sp = overflowed sp
    msr     tpidrro_el0, x0
    mov     x0, sp
    msr     tpidr_el0, x0
    adrp    x0, __emergency_stack_top
    add     x0, x0, :lo12:__emergency_stack_top
    mov     sp, x0
    mrs     x0, tpidr_el1           // this CPU's index: its own share of it
    and     x0, x0, #{CPU_MASK}
    lsl     x0, x0, #{EMERGENCY_SHIFT}
    sub     sp, sp, x0
    mrs     x0, tpidrro_el0
    sub     sp, sp, #{FRAME_SIZE}
    stp     x0, x1, [sp, #{X}]
    mov     x0, #{STACK_OVERFLOW}
    b       exception_common

// The frame is filled and emptied in parts, so each way in saves only what
// it must: x2–x18 (x0/x1 are saved by the vector), x19–x29 (preserved by
// the Rust handlers, so only a frame someone reads needs them), and x30
// with the interrupted context's SP_EL0, ELR and SPSR. Register xN sits at
// X + 8 * N, and `XREGS op, a, b, ...` stores or loads that list (`stp` or
// `ldp` taking registers two at a time).
.macro XREGS op, a, b, rest:vararg
    \op     x\a, x\b, [sp, #{X} + 8 * \a]
.ifnb \rest
    XREGS \op, \rest
.endif
.endm

.macro SAVE_X2_X18
    XREGS   stp, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17
    str     x18, [sp, #{X} + 8 * 18]
.endm

.macro RESTORE_X0_X18
    ldr     x18, [sp, #{X} + 8 * 18]
    XREGS   ldp, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17
.endm

.macro SAVE_X19_X29
    str     x19, [sp, #{X} + 8 * 19]
    XREGS   stp, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29
.endm

.macro RESTORE_X19_X29
    XREGS   ldp, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29
    ldr     x19, [sp, #{X} + 8 * 19]
.endm

// Uses x2 and x3 (saved already).
.macro SAVE_X30_AND_CONTEXT
    mrs     x2, sp_el0
    stp     x30, x2, [sp, #{X30}]
    mrs     x2, elr_el1
    mrs     x3, spsr_el1
    stp     x2, x3, [sp, #{ELR}]
.endm

// Uses x2 and x3 (restored after).
.macro RESTORE_X30_AND_CONTEXT
    ldp     x2, x3, [sp, #{ELR}]
    msr     elr_el1, x2
    msr     spsr_el1, x3
    ldp     x30, x2, [sp, #{X30}]
    msr     sp_el0, x2
.endm

// An abort from EL0, data or instruction: most are resolved (a page is
// mapped) and the task goes on. Resolving one neither blocks nor switches threads and takes no
// exception (interrupts stay masked), so SP_EL0, ELR and SPSR still hold
// the task's values afterwards and are not saved. One that is not resolved
// ends the task with a full report, so the rest of the frame is filled in
// first: x19–x29 still hold the task's values, as the handler preserved
// them, and so do the system registers.
abort_entry:
    SAVE_X2_X18
    str     x30, [sp, #{X30}]
    mrs     x0, esr_el1
    mrs     x1, far_el1
    stp     x0, x1, [sp, #{ESR}]
    bl      {HANDLE_EL0_ABORT}
    tbnz    w0, #0, 1f          // Resolution::NotResolved
    ldr     x30, [sp, #{X30}]
    RESTORE_X0_X18
    add     sp, sp, #{FRAME_SIZE}
    eret
1:  SAVE_X19_X29
    ldr     x30, [sp, #{X30}]
    SAVE_X30_AND_CONTEXT
    mov     x0, sp
    bl      {EL0_ABORT_UNRESOLVED}
    brk     #0                      // not reached: the task's thread is gone

svc_entry:
    SAVE_X2_X18
    SAVE_X30_AND_CONTEXT
    mov     x0, sp
    bl      {HANDLE_SYSCALL}
    RESTORE_X30_AND_CONTEXT
    RESTORE_X0_X18
    add     sp, sp, #{FRAME_SIZE}
    eret

exception_common:
    SAVE_X2_X18
    SAVE_X19_X29
    SAVE_X30_AND_CONTEXT
    mrs     x2, esr_el1
    mrs     x3, far_el1
    stp     x2, x3, [sp, #{ESR}]

    mov     x1, x0
    mov     x0, sp
    bl      {HANDLE_EXCEPTION}

.global exception_return
exception_return:
    RESTORE_X30_AND_CONTEXT
    RESTORE_X19_X29
    RESTORE_X0_X18
    add     sp, sp, #{FRAME_SIZE}
    eret
