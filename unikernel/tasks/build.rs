//! Links the EL0 image at its fixed address range (images/el0/tasks.ld).

use std::path::PathBuf;

fn main() {
    if std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default() != "aarch64" {
        return;
    }
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let script = manifest.join("../../images/el0/tasks.ld");
    println!("cargo:rerun-if-changed={}", script.display());
    println!("cargo:rustc-link-arg-bins=-T{}", script.display());
    println!("cargo:rustc-link-arg-bins=-zmax-page-size=4096");
}
