# The front door. `just --list` shows every recipe.

target := "aarch64-unknown-none-softfloat"
out := "target" / target / "release"
image := out / "kernel.bin"

# List the recipes.
default:
    @just --list

# Build the kernel: the ELF (for gdb) and the raw arm64 Image beside it.
build:
    cargo build -q -p kernel --release --target {{target}}
    "$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/llvm-objcopy" -O binary {{out}}/kernel {{image}}
    @echo "built {{image}} ($(stat -c %s {{image}}) bytes) and {{out}}/kernel (ELF)"

# Boot under QEMU (virt-gicv2, virt-gicv3 or virt-el2), console on this terminal; ends on its own.
run config="virt-gicv2" *bootargs="mode=run": build
    cargo run -q -p vmm-tests --bin vmm -- run {{config}} --image {{image}} --append "{{bootargs}} exit=semihosting"

# Host tests (abi, object, harness), then every guest test on every QEMU configuration.
test: build
    VMM_IMAGE="{{justfile_directory()}}/{{image}}" cargo test --workspace --exclude kernel

# Rewrite the checked-in lists of guest tests each configuration must run.
bless: build
    VMM_IMAGE="{{justfile_directory()}}/{{image}}" cargo run -q -p vmm-tests --bin vmm -- bless

# Boot halted with a gdb server on :1234; prints how to attach.
debug config="virt-gicv2" *bootargs="mode=run": build
    @echo "QEMU waits for a debugger; attach from another terminal with:"
    @echo "  gdb-multiarch {{out}}/kernel -ex 'target remote :1234'"
    cargo run -q -p vmm-tests --bin vmm -- run {{config}} --image {{image}} --append "{{bootargs}} exit=semihosting" -- -s -S

# Lints: rustfmt, and clippy with warnings denied for host and target crates.
clippy:
    cargo fmt --all -- --check
    cargo clippy -q --workspace --exclude kernel --all-targets -- -D warnings
    cargo clippy -q -p kernel -p abi -p object --release --target {{target}} -- -D warnings
