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
    for dir in ["tasks", "zx", "abi", "testkit"] {
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
    // With debug info (the workspace's release profile), for the host's
    // symbolizer; the embedded copy has it stripped. Debug info does not
    // change the code.
    let status = cmd.status().expect("running cargo for the EL0 image");
    assert!(
        status.success(),
        "building the EL0 image (unikernel/tasks) failed"
    );
    let elf = target_dir.join("aarch64-unknown-none/release/tasks");
    strip_debug(&elf, &out.join("tasks.elf"));
    copy_beside_kernel(&elf, &out);
}

/// Writes `elf` without its debug sections to `to` (what the kernel
/// embeds), with the toolchain's `llvm-objcopy` (the `llvm-tools`
/// component that rust-toolchain.toml installs).
fn strip_debug(elf: &Path, to: &Path) {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .expect("running rustc --print sysroot");
    let sysroot = String::from_utf8(sysroot.stdout).expect("a UTF-8 sysroot path");
    let host = std::env::var("HOST").expect("cargo sets HOST");
    let objcopy = PathBuf::from(sysroot.trim())
        .join("lib/rustlib")
        .join(host)
        .join("bin/llvm-objcopy");
    let status = Command::new(&objcopy)
        .arg("--strip-debug")
        .arg(elf)
        .arg(to)
        .status()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (rustup component add llvm-tools)",
                objcopy.display()
            )
        });
    assert!(status.success(), "stripping the EL0 image failed");
}

/// Copies the EL0 ELF, debug info and all, next to the kernel's ELF as
/// `kernel-el0`, where the host harness (`vmm-tests`) finds it to name EL0
/// addresses in reports. `OUT_DIR` is `<profile dir>/build/kernel-<hash>/out`.
fn copy_beside_kernel(elf: &Path, out: &Path) {
    let Some(profile_dir) = out.ancestors().nth(3) else {
        return;
    };
    // The kernel's own link step writes `kernel` there after this script.
    std::fs::copy(elf, profile_dir.join("kernel-el0")).expect("copying the EL0 ELF");
}
