//! Links the kernel with its board's linker script: `UNIKERNEL_BOARD=virt`
//! (the default; QEMU virt, linked at 0x4008_0000) or `rpi4` (Raspberry Pi 4,
//! linked at 0x8_0000). The code is the same; only the link address differs.

use std::path::PathBuf;

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
}
