//! Host-side test harness for the unikernel.
//!
//! Boots the kernel image under each named QEMU configuration
//! ([`qemu::CONFIGS`]) headless with a timeout, captures the serial
//! transcript, parses its KTAP document strictly ([`ktap`]), and judges the
//! run and each guest test against the checked-in list of tests the
//! configuration must run ([`expected`], [`verdict`]). The `guest` test
//! target turns every guest test into one host test result; the `vmm` binary
//! runs, blesses and describes configurations for `just`.
//!
//! Environment: `VMM_IMAGE` (the virt image; default [`default_image`]),
//! `VMM_RPI4_IMAGE` (the Pi image; default [`default_rpi4_image`]),
//! `VMM_ARMSTUB` (the secure configuration's boot stub; default [`armstub`]),
//! `VMM_TIMEOUT_SECS` (per boot; default 300) and `VMM_ACCEL`
//! (`tcg|kvm|hvf|auto`, default `tcg`; see [`qemu::Accel`]). Each
//! configuration's console transcript and a JUnit XML report of its guest
//! tests are written under `target/vmm-tests/` ([`junit`]).

pub mod bench;
pub mod expected;
pub mod junit;
pub mod ktap;
pub mod linux;
pub mod qemu;
pub mod symbolize;
pub mod verdict;

#[cfg(test)]
mod ci_files;

use std::path::PathBuf;
use std::time::Duration;

/// The workspace root (this crate's parent directory).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map_or(manifest.clone(), PathBuf::from)
}

/// Where `just build` puts the bootable image.
pub fn default_image() -> PathBuf {
    workspace_root().join("target/aarch64-unknown-none-softfloat/release/kernel.bin")
}

/// Where `just build` puts the Raspberry Pi 4 image.
pub fn default_rpi4_image() -> PathBuf {
    workspace_root().join("target/aarch64-unknown-none-softfloat/release/kernel8.img")
}

/// The boot stub of the secure configurations (`images/armstub`, an ELF
/// built by `just armstub`): `VMM_ARMSTUB`, else where `just` puts it.
pub fn armstub() -> PathBuf {
    std::env::var_os("VMM_ARMSTUB")
        .filter(|v| !v.is_empty())
        .map_or_else(
            || workspace_root().join("target/armstub/aarch64-unknown-none/release/armstub"),
            PathBuf::from,
        )
}

/// What a boot needs from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The virt image (`VMM_IMAGE`, else [`default_image`]).
    pub image: PathBuf,
    /// The Pi image (`VMM_RPI4_IMAGE`, else [`default_rpi4_image`]).
    pub rpi4_image: PathBuf,
    /// How long one boot may take (`VMM_TIMEOUT_SECS`, else 300 s).
    pub timeout: Duration,
    /// The accelerator test boots run on (`VMM_ACCEL`, else TCG).
    pub accel: qemu::Accel,
}

impl Settings {
    /// Reads `VMM_IMAGE` and `VMM_TIMEOUT_SECS`.
    pub fn from_env() -> Result<Self, String> {
        let image = std::env::var_os("VMM_IMAGE")
            .filter(|v| !v.is_empty())
            .map_or_else(default_image, PathBuf::from);
        let rpi4_image = std::env::var_os("VMM_RPI4_IMAGE")
            .filter(|v| !v.is_empty())
            .map_or_else(default_rpi4_image, PathBuf::from);
        let timeout = match std::env::var("VMM_TIMEOUT_SECS") {
            Ok(v) => parse_timeout(&v)?,
            Err(std::env::VarError::NotPresent) => qemu::DEFAULT_TIMEOUT,
            Err(e) => return Err(format!("VMM_TIMEOUT_SECS: {e}")),
        };
        Ok(Settings {
            image,
            rpi4_image,
            timeout,
            accel: qemu::Accel::from_env()?,
        })
    }

    /// The image `config` boots.
    pub fn image_for(&self, config: &qemu::Config) -> &std::path::Path {
        match config.board {
            qemu::Board::Virt | qemu::Board::VirtArmstub => &self.image,
            qemu::Board::Rpi4 => &self.rpi4_image,
        }
    }

    /// These settings with the timeout capped at `limit`.
    pub fn with_timeout_at_most(&self, limit: Duration) -> Self {
        Settings {
            image: self.image.clone(),
            rpi4_image: self.rpi4_image.clone(),
            timeout: self.timeout.min(limit),
            accel: self.accel,
        }
    }
}

/// Parses a timeout in whole seconds (at least 1).
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    match text.trim().parse::<u64>() {
        Ok(secs) if secs > 0 => Ok(Duration::from_secs(secs)),
        _ => Err(format!(
            "VMM_TIMEOUT_SECS must be a positive number of seconds, not `{text}`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_must_be_positive_seconds() {
        assert_eq!(parse_timeout("15"), Ok(Duration::from_secs(15)));
        assert!(parse_timeout("0").is_err());
        assert!(parse_timeout("1.5").is_err());
        assert!(parse_timeout("").is_err());
    }

    #[test]
    fn default_image_is_under_the_workspace_target() {
        assert!(
            default_image().ends_with("target/aarch64-unknown-none-softfloat/release/kernel.bin")
        );
        assert!(workspace_root().join("vmm-tests").is_dir());
    }
}
