# The front door. `just --list` shows every recipe.

target := "aarch64-unknown-none-softfloat"
out := "target" / target / "release"
# QEMU virt: linked at 0x4008_0000; its ELF is cargo's `kernel`.
image := out / "kernel.bin"
# Raspberry Pi 4: linked at 0x8_0000, built in its own target dir (the link
# script differs, the code does not); its ELF is copied to `kernel-rpi4`.
# Beside each kernel ELF, `<elf>-el0` is the EL0 image's ELF with debug info
# (the harness names addresses in reports through both).
rpi4_image := out / "kernel8.img"
rpi4_elf := out / "kernel-rpi4"
rpi4_target_dir := "target/rpi4"
# Debian's Pi 4 firmware and device tree (ci/setup).
rpi4_files := ".cache/rpi4"
sdcard_image := out / "sdcard.img"
# QEMU's accelerator for `run`, `test` and `debug`: tcg (default), kvm
# (aarch64 Linux), hvf (Apple silicon macOS) or auto: `ACCEL=kvm just run`.
accel := env("ACCEL", "tcg")
vmm := "cargo run -q -p vmm-tests --bin vmm --"

# List the recipes.
default:
    @just --list

# Build the kernel for both boards: ELFs (for gdb) and raw arm64 Images beside them; and the secure configuration's boot stub.
build: (image "virt") (image "rpi4") armstub

# The boot stub `virt-secure` enters at EL3 (images/armstub, its own crate; an ELF QEMU loads).
armstub:
    cargo build -q --manifest-path images/armstub/Cargo.toml --release --target aarch64-unknown-none --target-dir target/armstub

# Build one board's image: `just image board=rpi4` → kernel8.img, `just image virt` → kernel.bin; then any extra flags for cargo (`just image virt --no-default-features`).
image board="rpi4" *cargo="":
    #!/usr/bin/env bash
    set -euo pipefail
    board="{{board}}"; board="${board#board=}"
    objcopy="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/llvm-objcopy"
    case "$board" in
      virt)
        env -u UNIKERNEL_BOARD cargo build -q -p kernel --release --target {{target}} {{cargo}}
        elf={{out}}/kernel img={{image}} ;;
      rpi4)
        UNIKERNEL_BOARD=rpi4 cargo build -q -p kernel --release --target {{target}} --target-dir {{rpi4_target_dir}} {{cargo}}
        elf={{rpi4_elf}} img={{rpi4_image}}
        mkdir -p {{out}}
        cp {{rpi4_target_dir}}/{{target}}/release/kernel "$elf"
        cp {{rpi4_target_dir}}/{{target}}/release/kernel-el0 "$elf-el0" ;;
      *) echo "unknown board '$board' (virt or rpi4)" >&2; exit 2 ;;
    esac
    # Function names for reports printed without the host (symbols.rs).
    cargo run -q -p vmm-tests --bin vmm -- embed-symbols "$elf"
    "$objcopy" -O binary "$elf" "$img"
    echo "built $img ($(stat -c %s "$img") bytes) and $elf (ELF)"

# Boot under QEMU (`vmm list` names the configurations: virt-gicv2, virt-gicv3, virt-el2, virt-secure, raspi4b, virt-gicv2-smp4, virt-gicv3-smp4, virt-nosemi), console on this terminal; ends on its own. `ACCEL=kvm just run`.
run config="virt-gicv2" *bootargs="mode=run": build
    {{vmm}} run {{config}} --accel {{accel}} --append "{{bootargs}}"

# Host tests (abi, object, harness, SD card), then every guest test on every QEMU configuration.
# `just test <config>`: host tests, then that configuration's guest tests only; `just test self`:
# host tests, then the harness's own trials (harness::, rpi4::, bench::). One CI job each.
test only="": build
    #!/usr/bin/env bash
    set -euo pipefail
    export VMM_IMAGE="{{justfile_directory()}}/{{image}}" VMM_RPI4_IMAGE="{{justfile_directory()}}/{{rpi4_image}}"
    # Resolved once (auto → kvm, hvf or tcg), and stops here if the host lacks it.
    accel=$({{vmm}} accel {{accel}})
    export VMM_ACCEL="$accel"
    only="{{only}}"
    if [ -z "$only" ]; then
        exec cargo test --workspace --exclude kernel --exclude zx --exclude tasks
    fi
    filter=()
    # Read once: `vmm list | grep -q` could stop reading before vmm wrote
    # everything, and vmm's broken pipe then failed the pipeline.
    configs=$({{vmm}} list)
    if [ "$only" = self ]; then
        for config in $configs; do filter+=(--skip "$config::"); done
    elif grep -qx -- "$only" <<<"$configs"; then
        filter=("$only::")
    else
        echo "just test: \`$only\` is neither a configuration ($(paste -sd' ' <<<"$configs")) nor \`self\`" >&2
        exit 2
    fi
    cargo test --workspace --exclude kernel --exclude zx --exclude tasks --exclude vmm-tests
    cargo test -p vmm-tests --lib --bins
    cargo test -p vmm-tests --test guest -- "${filter[@]}"

# `build` without the lock-order check (the kernel's `lock-order` feature, a few instructions per lock), for `bench` and `profile`; it overwrites `build`'s images, and `build` (so `test`, `run`, `bless`) puts the check back.
build-bench: (image "virt" "--no-default-features") (image "rpi4" "--no-default-features") armstub

# Benchmarks under -icount shift=0,sleep=off: a table, and JSON under target/bench/; the smp_ rows from a second boot on the config's -smp 4 sibling.
bench config="virt-gicv2": build-bench
    VMM_IMAGE="{{justfile_directory()}}/{{image}}" VMM_RPI4_IMAGE="{{justfile_directory()}}/{{rpi4_image}}" cargo run -q -p vmm-tests --bin vmm -- bench {{config}}

# Where one benchmark's guest instructions go, per function or (`--stages`) per fault stage: `just profile zero_fill --stages`.
profile name *flags: build-bench
    python3 ci/profile.py {{name}} {{flags}}

# Rewrite the checked-in lists of guest tests each configuration must run.
bless: build
    VMM_IMAGE="{{justfile_directory()}}/{{image}}" VMM_RPI4_IMAGE="{{justfile_directory()}}/{{rpi4_image}}" cargo run -q -p vmm-tests --bin vmm -- bless

# Boot halted with a gdb server on :1234; prints how to attach.
debug config="virt-gicv2" *bootargs="mode=run": build
    @echo "QEMU waits for a debugger; attach from another terminal with:"
    @echo "  gdb-multiarch {{ if config =~ '^raspi' { rpi4_elf } else { out / 'kernel' } }} -ex 'target remote :1234'"
    {{vmm}} run {{config}} --accel {{accel}} --append "{{bootargs}}" -- -s -S

# Raspberry Pi 4 SD card image (MBR, FAT32 boot partition; no root needed); prints its files and checksums.
sdcard: (image "rpi4")
    images/rpi4/mksdcard {{rpi4_image}} {{rpi4_files}} {{sdcard_image}}

# Write the SD card image to DEVICE (a whole removable disk); asks first, verifies after. `force` allows > 256 GiB.
flash DEVICE *force: sdcard
    images/rpi4/flash {{sdcard_image}} {{DEVICE}} {{force}}

# Lints: rustfmt, and clippy with warnings denied for host and target crates.
clippy:
    cargo fmt --all -- --check
    cargo clippy -q --workspace --exclude kernel --exclude zx --exclude tasks --all-targets -- -D warnings
    cargo clippy -q -p kernel -p abi -p object --release --target {{target}} -- -D warnings
    cargo clippy -q -p kernel --release --target {{target}} --no-default-features -- -D warnings
    cargo clippy -q -p tasks -p zx --release --target aarch64-unknown-none -- -D warnings
    cargo fmt --manifest-path images/armstub/Cargo.toml -- --check
    cargo clippy -q --manifest-path images/armstub/Cargo.toml --release --target aarch64-unknown-none --target-dir target/armstub -- -D warnings
