//! Links the kernel with its board's linker script: `UNIKERNEL_BOARD=virt`
//! (the default; QEMU virt, linked at 0x4008_0000) or `rpi4` (Raspberry Pi 4,
//! linked at 0x8_0000). The code is the same; only the link address differs.
//!
//! It also builds the EL0 image (`unikernel/tasks`, for
//! `aarch64-unknown-none`) with a nested cargo into its own target
//! directory, so the kernel always embeds a fresh one (DESIGN.md).

use std::path::{Path, PathBuf};
use std::process::Command;

const BOARDS: &[&str] = &["virt", "rpi4"];

fn main() {
    println!("cargo:rerun-if-env-changed=UNIKERNEL_BOARD");
    let target_arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if target_arch != "aarch64" {
        return;
    }
    let board = std::env::var("UNIKERNEL_BOARD").unwrap_or_else(|_| "virt".to_string());
    assert!(
        BOARDS.contains(&board.as_str()),
        "UNIKERNEL_BOARD={board}: expected one of {BOARDS:?}"
    );
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let script = manifest.join(format!("../../images/{board}/kernel.ld"));
    println!("cargo:rerun-if-changed={}", script.display());
    println!("cargo:rustc-link-arg-bins=-T{}", script.display());
    println!("cargo:rustc-link-arg-bins=-zmax-page-size=4096");
    build_el0_image(&manifest);
}

/// Builds the tasks crate and copies its ELF to `$OUT_DIR/tasks.elf`.
fn build_el0_image(manifest: &Path) {
    let unikernel = manifest.join("..");
    for dir in ["tasks", "zx", "abi"] {
        println!("cargo:rerun-if-changed={}", unikernel.join(dir).display());
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    let target_dir = out.join("el0-target");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(unikernel.join("tasks"))
        .args([
            "build",
            "--release",
            "-p",
            "tasks",
            "--target",
            "aarch64-unknown-none",
            "--target-dir",
        ])
        .arg(&target_dir);
    // A plain build: not clippy's wrapper, not the kernel's flags or target.
    for var in [
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_MAKEFLAGS",
    ] {
        cmd.env_remove(var);
    }
    // The image is embedded: no debug info in it (the tasks ELF keeps none).
    cmd.env("CARGO_PROFILE_RELEASE_DEBUG", "false");
    let status = cmd.status().expect("running cargo for the EL0 image");
    assert!(
        status.success(),
        "building the EL0 image (unikernel/tasks) failed"
    );
    let elf = target_dir.join("aarch64-unknown-none/release/tasks");
    std::fs::copy(&elf, out.join("tasks.elf")).expect("copying the EL0 image");
}
