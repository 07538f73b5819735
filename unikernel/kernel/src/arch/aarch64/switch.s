// Thread switch: save the callee-saved integer state, SP, and the whole
// FP/SIMD state of the running thread into `from`, load `to`'s, return into
// `to`. Caller-saved registers need no saving: this is a function call.
//
// The kernel is built soft-float and never touches V registers itself; they
// belong to the thread (EL0 code will use NEON), so they are switched here
// and nowhere else (not on exception entry).

.arch_extension fp
.arch_extension simd

.section .text.context_switch, "ax"
.global context_switch
// x0 = *mut Context (from), x1 = *const Context (to)
context_switch:
    mov     x9, sp
    stp     x19, x20, [x0, #{X19}]
    stp     x21, x22, [x0, #{X19} + 16]
    stp     x23, x24, [x0, #{X19} + 32]
    stp     x25, x26, [x0, #{X19} + 48]
    stp     x27, x28, [x0, #{X19} + 64]
    stp     x29, x30, [x0, #{X19} + 80]
    str     x9, [x0, #{SP}]
    mrs     x10, fpcr
    mrs     x11, fpsr
    stp     x10, x11, [x0, #{FPCR}]
    mrs     x10, tpidr_el0
    mrs     x11, tpidrro_el0
    stp     x10, x11, [x0, #{TPIDR}]
    add     x9, x0, #{Q}
    stp     q0, q1, [x9, #0]
    stp     q2, q3, [x9, #32]
    stp     q4, q5, [x9, #64]
    stp     q6, q7, [x9, #96]
    stp     q8, q9, [x9, #128]
    stp     q10, q11, [x9, #160]
    stp     q12, q13, [x9, #192]
    stp     q14, q15, [x9, #224]
    stp     q16, q17, [x9, #256]
    stp     q18, q19, [x9, #288]
    stp     q20, q21, [x9, #320]
    stp     q22, q23, [x9, #352]
    stp     q24, q25, [x9, #384]
    stp     q26, q27, [x9, #416]
    stp     q28, q29, [x9, #448]
    stp     q30, q31, [x9, #480]

    add     x9, x1, #{Q}
    ldp     q0, q1, [x9, #0]
    ldp     q2, q3, [x9, #32]
    ldp     q4, q5, [x9, #64]
    ldp     q6, q7, [x9, #96]
    ldp     q8, q9, [x9, #128]
    ldp     q10, q11, [x9, #160]
    ldp     q12, q13, [x9, #192]
    ldp     q14, q15, [x9, #224]
    ldp     q16, q17, [x9, #256]
    ldp     q18, q19, [x9, #288]
    ldp     q20, q21, [x9, #320]
    ldp     q22, q23, [x9, #352]
    ldp     q24, q25, [x9, #384]
    ldp     q26, q27, [x9, #416]
    ldp     q28, q29, [x9, #448]
    ldp     q30, q31, [x9, #480]
    ldp     x10, x11, [x1, #{FPCR}]
    msr     fpcr, x10
    msr     fpsr, x11
    ldp     x10, x11, [x1, #{TPIDR}]
    msr     tpidr_el0, x10
    msr     tpidrro_el0, x11
    ldp     x19, x20, [x1, #{X19}]
    ldp     x21, x22, [x1, #{X19} + 16]
    ldp     x23, x24, [x1, #{X19} + 32]
    ldp     x25, x26, [x1, #{X19} + 48]
    ldp     x27, x28, [x1, #{X19} + 64]
    ldp     x29, x30, [x1, #{X19} + 80]
    ldr     x9, [x1, #{SP}]
    mov     sp, x9
    ret

// A new thread's first return from `context_switch` lands here with its
// argument in x19 and its entry in x20. A zero frame pointer and link
// register end backtraces at the thread's first frame.
.global thread_trampoline
thread_trampoline:
    mov     x29, xzr
    mov     x30, xzr
    mov     x0, x19
    br      x20
