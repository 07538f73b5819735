//! The Exception Syndrome Register in words. Its class, `IL` and `ISS` are
//! aarch64-cpu's `ESR_EL1` fields; the abort syndrome's own fields inside
//! `ISS`, which aarch64-cpu does not name, are [`ABORT_ISS`] here.

use aarch64_cpu::registers::ESR_EL1;
use tock_registers::register_bitfields;

/// `ESR_ELx.EC`: why the exception was taken (aarch64-cpu's names).
pub use aarch64_cpu::registers::ESR_EL1::EC::Value as Class;

register_bitfields! {u64,
    /// The `ISS` of an instruction or data abort (`ESR_ELx` bits 24:0).
    pub ABORT_ISS [
        /// Data aborts: the access was a write (`WnR`).
        WNR OFFSET(6) NUMBITS(1) [],
        /// The fault status code (`DFSC`/`IFSC`) without its level: what
        /// kind of fault.
        FSC_KIND OFFSET(2) NUMBITS(4) [
            AddressSize = 0b0000,
            Translation = 0b0001,
            AccessFlag = 0b0010,
            Permission = 0b0011
        ],
        /// The fault status code's level bits (for the kinds that have one).
        FSC_LEVEL OFFSET(0) NUMBITS(2) [],
        /// The whole fault status code: kind and level, or one of the
        /// codes without a level.
        FSC OFFSET(0) NUMBITS(6) [],
    ]
}

/// The one `EC` bit in which a data abort differs from an instruction
/// abort taken from the same EL.
pub const EC_DATA_ABORT_BIT: u64 = Class::DataAbortLowerEL as u64 ^ Class::InstrAbortLowerEL as u64;
const _: () = assert!(
    EC_DATA_ABORT_BIT.is_power_of_two()
        && Class::DataAbortCurrentEL as u64 ^ Class::InstrAbortCurrentEL as u64
            == EC_DATA_ABORT_BIT
);

/// An `ESR_ELx` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Esr(pub u64);

impl Esr {
    /// The exception class, if it is one aarch64-cpu names.
    pub fn class(self) -> Option<Class> {
        ESR_EL1::EC.read_as_enum(self.0)
    }

    /// Whether the exception class is `class`: one compare, for the fault
    /// path ([`Self::class`] goes through aarch64-cpu's whole table).
    #[inline(always)]
    pub fn is(self, class: Class) -> bool {
        ESR_EL1::EC.read(self.0) == class as u64
    }

    /// The exception class as a number.
    pub fn class_bits(self) -> u8 {
        ESR_EL1::EC.read(self.0) as u8
    }

    /// The instruction-specific syndrome.
    pub fn iss(self) -> u32 {
        ESR_EL1::ISS.read(self.0) as u32
    }

    /// Whether the class is an instruction or data abort (so `ISS` is
    /// [`ABORT_ISS`]).
    pub fn is_abort(self) -> bool {
        self.is_instruction_abort() || self.is_data_abort()
    }

    /// Whether the class is an instruction abort (from any EL).
    #[inline(always)]
    pub fn is_instruction_abort(self) -> bool {
        self.is(Class::InstrAbortLowerEL) || self.is(Class::InstrAbortCurrentEL)
    }

    /// For an abort (unchecked): whether it was an instruction fetch. Tests
    /// the one bit ([`EC_DATA_ABORT_BIT`]) that tells the two aborts apart:
    /// the fault path's test.
    #[inline(always)]
    pub fn abort_is_fetch(self) -> bool {
        ESR_EL1::EC.read(self.0) & EC_DATA_ABORT_BIT == 0
    }

    /// Whether the class is an abort taken from a lower EL (a task's).
    pub fn is_abort_from_lower_el(self) -> bool {
        self.is(Class::InstrAbortLowerEL) || self.is(Class::DataAbortLowerEL)
    }

    /// Whether the class is a data abort (from any EL).
    #[inline(always)]
    pub fn is_data_abort(self) -> bool {
        self.is(Class::DataAbortLowerEL) || self.is(Class::DataAbortCurrentEL)
    }

    /// The fault status code of an abort (`DFSC`/`IFSC`).
    pub fn fault_status(self) -> Option<u8> {
        self.is_abort().then_some(ABORT_ISS::FSC.read(self.0) as u8)
    }

    /// For an abort (unchecked): its fault status code without the level,
    /// an `ABORT_ISS::FSC_KIND::Value` as a number (for a `match` on the
    /// fault path, which the enum's conversion would slow).
    #[inline(always)]
    pub fn fault_kind_bits(self) -> u64 {
        ABORT_ISS::FSC_KIND.read(self.0)
    }

    /// For a data abort: the `WnR` bit (the access was a write), unchecked.
    #[inline(always)]
    pub fn write_not_read(self) -> bool {
        ABORT_ISS::WNR.is_set(self.0)
    }

    /// For a data abort: whether the access was a write (`WnR`).
    pub fn is_write(self) -> bool {
        self.is_data_abort() && self.write_not_read()
    }

    /// The class in words.
    pub fn class_name(self) -> &'static str {
        let Some(class) = self.class() else {
            return "reserved or unhandled class";
        };
        match class {
            Class::Unknown => "unknown reason (undefined instruction)",
            Class::TrappedWFIorWFE => "trapped WFI/WFE",
            Class::TrappedFP => "trapped FP/SIMD access",
            Class::IllegalExecutionState => "illegal execution state",
            Class::SVC64 => "SVC from AArch64",
            Class::HVC64 => "HVC from AArch64",
            Class::SMC64 => "SMC from AArch64",
            Class::TrappedMsrMrs => "trapped MSR/MRS/system instruction",
            Class::InstrAbortLowerEL => "instruction abort from a lower EL",
            Class::InstrAbortCurrentEL => "instruction abort at the same EL",
            Class::PCAlignmentFault => "PC alignment fault",
            Class::DataAbortLowerEL => "data abort from a lower EL",
            Class::DataAbortCurrentEL => "data abort at the same EL",
            Class::SPAlignmentFault => "SP alignment fault",
            Class::TrappedFP64 => "trapped floating-point exception",
            Class::SError => "SError",
            Class::BreakpointLowerEL => "breakpoint from a lower EL",
            Class::BreakpointCurrentEL => "breakpoint at the same EL",
            Class::SoftwareStepLowerEL => "software step from a lower EL",
            Class::SoftwareStepCurrentEL => "software step at the same EL",
            Class::WatchpointLowerEL => "watchpoint from a lower EL",
            Class::WatchpointCurrentEL => "watchpoint at the same EL",
            Class::Brk64 => "BRK instruction",
            _ => "reserved or unhandled class",
        }
    }
}

/// A fault status code in words, with its translation level where it has one.
pub fn fault_status_name(fsc: u8) -> (&'static str, Option<u8>) {
    let level = Some(ABORT_ISS::FSC_LEVEL.read(u64::from(fsc)) as u8);
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
