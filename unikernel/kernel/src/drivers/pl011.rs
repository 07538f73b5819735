//! The Arm PL011 UART (ARM DDI 0183), transmit side.

use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};
use tock_registers::{register_bitfields, register_structs};

register_bitfields! {u32,
    /// Flag register.
    FR [
        /// Transmit FIFO full.
        TXFF OFFSET(5) NUMBITS(1) [],
        /// UART busy transmitting.
        BUSY OFFSET(3) NUMBITS(1) [],
    ],
    /// Line control register.
    LCR_H [
        /// Word length.
        WLEN OFFSET(5) NUMBITS(2) [EightBit = 0b11],
        /// FIFOs enabled.
        FEN OFFSET(4) NUMBITS(1) [],
    ],
    /// Control register.
    CR [
        /// Receive enable.
        RXE OFFSET(9) NUMBITS(1) [],
        /// Transmit enable.
        TXE OFFSET(8) NUMBITS(1) [],
        /// UART enable.
        UARTEN OFFSET(0) NUMBITS(1) [],
    ],
}

register_structs! {
    /// The PL011 register block.
    Registers {
        (0x00 => dr: ReadWrite<u32>),
        (0x04 => _reserved0),
        (0x18 => fr: ReadOnly<u32, FR::Register>),
        (0x1c => _reserved1),
        (0x24 => ibrd: WriteOnly<u32>),
        (0x28 => fbrd: WriteOnly<u32>),
        (0x2c => lcr_h: WriteOnly<u32, LCR_H::Register>),
        (0x30 => cr: ReadWrite<u32, CR::Register>),
        (0x34 => _reserved2),
        (0x44 => icr: WriteOnly<u32>),
        (0x48 => @END),
    }
}

/// A PL011 at a fixed MMIO address.
pub struct Pl011 {
    regs: &'static Registers,
}

/// Line settings, for UARTs that firmware has not set up.
#[derive(Clone, Copy, Debug)]
pub struct LineConfig {
    /// The UART's reference clock in Hz.
    pub clock_hz: u32,
    /// The baud rate.
    pub baud: u32,
}

// SAFETY: the registers are MMIO owned by whoever owns the `Pl011`; moving
// that ownership to another CPU is sound (access is serialised by its owner).
unsafe impl Send for Pl011 {}

impl Pl011 {
    /// Takes the UART at `base` and enables it, programming 8N1 at
    /// `line`'s rate if given (otherwise the rate already set is kept).
    ///
    /// # Safety
    /// `base` must be the address of a PL011's registers, mapped as device
    /// memory, and nothing else may drive that UART.
    pub unsafe fn new(base: usize, line: Option<LineConfig>) -> Self {
        // SAFETY: the caller vouches for the register block at `base`.
        let regs = unsafe { &*(base as *const Registers) };
        let uart = Self { regs };
        if let Some(line) = line {
            uart.flush();
            uart.regs.cr.set(0);
            uart.regs.icr.set(0x7ff);
            // Divisor = clock / (16 × baud), in 16.6 fixed point, rounded.
            let divisor_x64 =
                (u64::from(line.clock_hz) * 4 + u64::from(line.baud) / 2) / u64::from(line.baud);
            uart.regs.ibrd.set((divisor_x64 >> 6) as u32);
            uart.regs.fbrd.set((divisor_x64 & 0x3f) as u32);
            uart.regs
                .lcr_h
                .write(LCR_H::WLEN::EightBit + LCR_H::FEN::SET);
        }
        // QEMU resets CR with TXE/RXE set but UARTEN clear.
        uart.regs
            .cr
            .write(CR::UARTEN::SET + CR::TXE::SET + CR::RXE::SET);
        uart
    }

    /// Sends one byte, waiting while the transmit FIFO is full.
    pub fn write_byte(&self, byte: u8) {
        while self.regs.fr.is_set(FR::TXFF) {
            core::hint::spin_loop();
        }
        self.regs.dr.set(u32::from(byte));
    }

    /// Sends one byte if the transmit FIFO has room; returns whether it did.
    pub fn try_write_byte(&self, byte: u8) -> bool {
        if self.regs.fr.is_set(FR::TXFF) {
            return false;
        }
        self.regs.dr.set(u32::from(byte));
        true
    }

    /// Waits until everything queued has left the UART.
    pub fn flush(&self) {
        while self.regs.fr.is_set(FR::BUSY) {
            core::hint::spin_loop();
        }
    }

    /// Waits until everything queued has left the UART (FIFO empty and the
    /// last stop bit sent), or until `ticks` of the system counter have
    /// passed, as a UART that was disabled with bytes queued never drains;
    /// returns whether it drained.
    pub fn drain_within(&self, ticks: u64) -> bool {
        let start = crate::arch::counter();
        while self.regs.fr.is_set(FR::BUSY) {
            if crate::arch::counter().wrapping_sub(start) >= ticks {
                return false;
            }
            core::hint::spin_loop();
        }
        true
    }
}

impl core::fmt::Write for Pl011 {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for byte in s.bytes() {
            if byte == b'\n' {
                self.write_byte(b'\r');
            }
            self.write_byte(byte);
        }
        Ok(())
    }
}
