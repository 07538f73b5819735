//! Decoding of the Exception Syndrome Register into words.

/// `ESR_ELx.EC`: why the exception was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExceptionClass(pub u8);

impl ExceptionClass {
    /// An instruction the CPU does not know (e.g. `udf`).
    pub const UNKNOWN: Self = Self(0x00);
    /// `svc` from AArch64.
    pub const SVC64: Self = Self(0x15);
    /// Instruction abort from a lower exception level.
    pub const INSTRUCTION_ABORT_LOWER: Self = Self(0x20);
    /// Instruction abort at the same exception level.
    pub const INSTRUCTION_ABORT_SAME: Self = Self(0x21);
    /// Data abort from a lower exception level.
    pub const DATA_ABORT_LOWER: Self = Self(0x24);
    /// Data abort at the same exception level.
    pub const DATA_ABORT_SAME: Self = Self(0x25);
    /// `brk` from AArch64.
    pub const BRK64: Self = Self(0x3c);

    /// The class in words.
    pub fn name(self) -> &'static str {
        match self.0 {
            0x00 => "unknown reason (undefined instruction)",
            0x01 => "trapped WFI/WFE",
            0x07 => "trapped FP/SIMD access",
            0x0e => "illegal execution state",
            0x15 => "SVC from AArch64",
            0x16 => "HVC from AArch64",
            0x17 => "SMC from AArch64",
            0x18 => "trapped MSR/MRS/system instruction",
            0x20 => "instruction abort from a lower EL",
            0x21 => "instruction abort at the same EL",
            0x22 => "PC alignment fault",
            0x24 => "data abort from a lower EL",
            0x25 => "data abort at the same EL",
            0x26 => "SP alignment fault",
            0x2c => "trapped floating-point exception",
            0x2f => "SError",
            0x30 => "breakpoint from a lower EL",
            0x31 => "breakpoint at the same EL",
            0x32 => "software step from a lower EL",
            0x33 => "software step at the same EL",
            0x34 => "watchpoint from a lower EL",
            0x35 => "watchpoint at the same EL",
            0x3c => "BRK instruction",
            _ => "reserved or unhandled class",
        }
    }

    /// Whether `ISS` holds a fault status code (instruction and data aborts).
    pub fn is_abort(self) -> bool {
        matches!(self.0, 0x20 | 0x21 | 0x24 | 0x25)
    }
}

/// A decoded `ESR_ELx` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Esr(pub u64);

impl Esr {
    /// The exception class.
    pub fn class(self) -> ExceptionClass {
        ExceptionClass(((self.0 >> 26) & 0x3f) as u8)
    }

    /// The instruction-specific syndrome.
    pub fn iss(self) -> u32 {
        (self.0 & 0x1ff_ffff) as u32
    }

    /// The fault status code of an abort (`DFSC`/`IFSC`).
    pub fn fault_status(self) -> Option<u8> {
        self.class().is_abort().then_some((self.0 & 0x3f) as u8)
    }

    /// For an abort: the fault status code (ISS bits 5:0), unchecked.
    pub fn abort_status(self) -> u8 {
        (self.0 & 0x3f) as u8
    }

    /// For a data abort: the `WnR` bit (the access was a write), unchecked.
    pub fn write_not_read(self) -> bool {
        (self.0 >> 6) & 1 == 1
    }

    /// For a data abort: whether the access was a write (`WnR`).
    pub fn is_write(self) -> bool {
        self.class().0 & !1 == ExceptionClass::DATA_ABORT_LOWER.0 && (self.0 >> 6) & 1 == 1
    }
}

/// A fault status code in words, with its translation level where it has one.
pub fn fault_status_name(fsc: u8) -> (&'static str, Option<u8>) {
    let level = Some(fsc & 0b11);
    match fsc {
        0b00_0000..=0b00_0011 => ("address size fault", level),
        0b00_0100..=0b00_0111 => ("translation fault", level),
        0b00_1001..=0b00_1011 => ("access flag fault", level),
        0b00_1101..=0b00_1111 => ("permission fault", level),
        0b01_0000 => ("synchronous external abort", None),
        0b01_0001 => ("synchronous tag check fault", None),
        0b01_0100..=0b01_0111 => ("synchronous external abort on table walk", level),
        0b01_1000 => ("synchronous parity or ECC error", None),
        0b10_0001 => ("alignment fault", None),
        0b11_0000 => ("TLB conflict abort", None),
        0b11_0001 => ("unsupported atomic hardware update fault", None),
        _ => ("reserved fault status", None),
    }
}
