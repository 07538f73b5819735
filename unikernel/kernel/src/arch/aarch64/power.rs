//! Power off and reset through PSCI, with the conduit the device tree names.

use smccc::{psci, Hvc, Smc};

/// How PSCI calls reach the firmware or hypervisor (`/psci` `method`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conduit {
    /// `hvc #0`: a hypervisor (QEMU virt entered at EL1).
    Hvc,
    /// `smc #0`: secure firmware (QEMU virt with `virtualization=on`).
    Smc,
}

impl Conduit {
    /// Parses the device tree's `method` property.
    pub fn from_method(method: &str) -> Option<Self> {
        match method {
            "hvc" => Some(Self::Hvc),
            "smc" => Some(Self::Smc),
            _ => None,
        }
    }

    /// `PSCI_VERSION` as (major, minor).
    pub fn version(self) -> Result<(u16, u16), psci::error::Error> {
        let v = match self {
            Self::Hvc => psci::version::<Hvc>(),
            Self::Smc => psci::version::<Smc>(),
        }?;
        Ok((v.major, v.minor))
    }

    /// `SYSTEM_OFF`; returns only if the call failed.
    pub fn system_off(self) -> psci::error::Error {
        let result = match self {
            Self::Hvc => psci::system_off::<Hvc>(),
            Self::Smc => psci::system_off::<Smc>(),
        };
        result.err().unwrap_or(psci::error::Error::InternalFailure)
    }

    /// `SYSTEM_RESET`; returns only if the call failed.
    pub fn system_reset(self) -> psci::error::Error {
        let result = match self {
            Self::Hvc => psci::system_reset::<Hvc>(),
            Self::Smc => psci::system_reset::<Smc>(),
        };
        result.err().unwrap_or(psci::error::Error::InternalFailure)
    }
}
