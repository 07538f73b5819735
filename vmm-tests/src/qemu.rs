//! The named QEMU configurations and a headless boot with a timeout.

use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The QEMU binary every configuration runs.
pub const QEMU: &str = "qemu-system-aarch64";

/// Bootargs of a test run; extra words (`test=…`, `break=…`) are appended.
pub const TEST_BOOTARGS: &str = "mode=test exit=semihosting";

/// Bootargs of `vmm run` unless `--append` is given.
pub const RUN_BOOTARGS: &str = "mode=run exit=semihosting";

/// Timeout per boot unless `VMM_TIMEOUT_SECS` says otherwise: generous, so a
/// loaded 2-core machine running every configuration at once never cuts a
/// healthy run short (the raspi4b run took 60 s under load); a hang still ends.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// Which kernel image a configuration boots: the code is the same, the
/// link address differs (`just build` makes both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Board {
    /// QEMU virt: `kernel.bin`, linked at 0x4008_0000 (`VMM_IMAGE`).
    Virt,
    /// Raspberry Pi 4: `kernel8.img`, linked at 0x8_0000 (`VMM_RPI4_IMAGE`).
    Rpi4,
    /// QEMU virt entered at secure EL3 through our boot stub (`images/armstub`,
    /// `just armstub`; [`crate::armstub`]), which QEMU loads with `-kernel`,
    /// with `kernel.bin` loaded raw at [`ARMSTUB_IMAGE_LOAD`] for the stub to
    /// move to its link address (`VMM_IMAGE`).
    VirtArmstub,
}

/// Where the `VirtArmstub` configurations load the kernel's raw image: RAM
/// + 64 MiB, where `images/armstub` (`IMAGE_LOAD`) looks for it.
pub const ARMSTUB_IMAGE_LOAD: u64 = 0x4400_0000;

/// One named way of running the image under QEMU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// The public name (`virt-gicv2`, …): trial names, expected lists, CLI.
    pub name: &'static str,
    /// The `-M` value.
    pub machine: &'static str,
    /// The `-cpu` value.
    pub cpu: &'static str,
    /// The `-m` value.
    pub memory: &'static str,
    /// A device tree to pass with `-dtb`, relative to the workspace root.
    /// `virt` generates its own; `raspi4b` takes Debian's (QEMU patches it
    /// and puts `-append` in its `/chosen/bootargs`); without one, QEMU
    /// passes the Pi an ATAG list.
    pub dtb: Option<&'static str>,
    /// The image it boots.
    pub board: Board,
    /// `-smp`: how many CPUs (`None`: QEMU's default, one on `virt`; the
    /// `raspi4b` machine always has four).
    pub smp: Option<&'static str>,
}

/// Debian's Pi 4 device tree, fetched by `ci/setup` (see [`RPI4_FIRMWARE_DIR`]).
pub const RPI4_DTB: &str = ".cache/rpi4/bcm2711-rpi-4-b.dtb";

/// Where `ci/setup` puts the Pi's firmware and device tree (git-ignored),
/// relative to the workspace root.
pub const RPI4_FIRMWARE_DIR: &str = ".cache/rpi4";

/// A QEMU `virt` configuration `name` with `-M machine`: a Cortex-A72,
/// 256 MiB, QEMU's own device tree, `kernel.bin`, one CPU. The other
/// `virt` configurations in [`CONFIGS`] change a field of it.
const fn virt(name: &'static str, machine: &'static str) -> Config {
    Config {
        name,
        machine,
        cpu: "cortex-a72",
        memory: "256M",
        dtb: None,
        board: Board::Virt,
        smp: None,
    }
}

/// Every configuration the harness boots.
pub const CONFIGS: &[Config] = &[
    virt("virt-gicv2", "virt"),
    virt("virt-gicv3", "virt,gic-version=3"),
    virt("virt-el2", "virt,gic-version=3,virtualization=on"),
    // The GIC with its Security Extensions, as on a real Pi 4: our stub
    // (images/armstub) runs at secure EL3, puts every interrupt in Group 1
    // as the Pi firmware's armstub8 does and enters the kernel at
    // non-secure EL2, so the kernel sees the GIC's non-secure view. The tree
    // has secure RAM and a secure UART (disabled) and no PSCI.
    Config {
        board: Board::VirtArmstub,
        ..virt(
            "virt-secure",
            "virt,secure=on,virtualization=on,gic-version=2",
        )
    },
    // Entered at EL2 on core 0 (the others wait on the spin table), GIC-400
    // without Security Extensions, no PSCI.
    Config {
        name: "raspi4b",
        machine: "raspi4b",
        cpu: "cortex-a72",
        memory: "2G",
        dtb: Some(RPI4_DTB),
        board: Board::Rpi4,
        smp: None,
    },
    // Four CPUs (MTTCG): every suite, with tasks' threads spread over them.
    Config {
        smp: Some("4"),
        ..virt("virt-gicv2-smp4", "virt")
    },
    Config {
        smp: Some("4"),
        ..virt("virt-gicv3-smp4", "virt,gic-version=3")
    },
    // No semihosting (see WITHOUT_SEMIHOSTING): the run ends with PSCI
    // SYSTEM_OFF and the verdict comes from the console alone, as under KVM
    // or on a board. `-cpu max` has a 1 GHz counter (not 62.5 MHz) and the
    // newest architecture features; `pauth-impdef` keeps TCG's pointer
    // authentication cheap.
    Config {
        cpu: "max,pauth-impdef=on",
        ..virt("virt-nosemi", "virt,gic-version=3")
    },
];

/// Configurations booted without `-semihosting` and without
/// `exit=semihosting`: the kernel powers off through PSCI and the harness
/// judges the run by its console alone (KTAP and the kernel's
/// `run ended with status N` line).
pub const WITHOUT_SEMIHOSTING: &[&str] = &["virt-nosemi"];

/// What the kernel's last line says when a run ends without a semihosting
/// exit (`# run ended with status N`, a KTAP comment; `power::exit`).
pub const END_LINE: &str = "run ended with status ";

/// Bootargs of a test run without semihosting.
pub const TEST_BOOTARGS_NO_SEMIHOSTING: &str = "mode=test";

/// Which accelerator QEMU runs the guest on (`VMM_ACCEL`, `ACCEL=` in `just`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    /// QEMU's own emulator: every configuration, semihosting, `-icount`.
    Tcg,
    /// Linux KVM on an aarch64 host: `-accel kvm -cpu host`.
    Kvm,
    /// macOS Hypervisor.framework on Apple silicon: `-accel hvf -cpu host`.
    Hvf,
}

/// What [`Accel::resolve`] needs to know about the host, so it can be tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Host<'a> {
    /// `std::env::consts::OS`.
    pub os: &'a str,
    /// `std::env::consts::ARCH`.
    pub arch: &'a str,
    /// `/dev/kvm`, for KVM.
    pub kvm_device: &'a Path,
}

impl Host<'static> {
    /// This machine.
    pub fn this() -> Self {
        Host {
            os: std::env::consts::OS,
            arch: std::env::consts::ARCH,
            kvm_device: Path::new("/dev/kvm"),
        }
    }
}

impl Accel {
    /// The accelerators' names, for messages.
    pub const NAMES: &'static str = "tcg, kvm, hvf or auto";

    /// Its name, as `-accel` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Accel::Tcg => "tcg",
            Accel::Kvm => "kvm",
            Accel::Hvf => "hvf",
        }
    }

    /// Parses `tcg|kvm|hvf|auto` (empty is `tcg`) and checks that the host
    /// can run it: `auto` picks KVM or HVF where the host has it, else TCG;
    /// naming one the host lacks is an error that says why.
    pub fn resolve(text: &str, host: &Host) -> Result<Accel, String> {
        match text.trim() {
            "" | "tcg" => Ok(Accel::Tcg),
            "kvm" => host.kvm().map(|()| Accel::Kvm),
            "hvf" => host.hvf().map(|()| Accel::Hvf),
            "auto" => Ok(if host.kvm().is_ok() {
                Accel::Kvm
            } else if host.hvf().is_ok() {
                Accel::Hvf
            } else {
                Accel::Tcg
            }),
            other => Err(format!(
                "unknown accelerator `{other}` (expected {})",
                Accel::NAMES
            )),
        }
    }

    /// `VMM_ACCEL` resolved on this host (unset: TCG).
    pub fn from_env() -> Result<Accel, String> {
        let text = std::env::var("VMM_ACCEL").unwrap_or_default();
        Accel::resolve(&text, &Host::this())
    }

    /// Whether QEMU offers semihosting (it needs TCG: under KVM and HVF
    /// the `hlt` would be an undefined instruction in the guest).
    pub fn has_semihosting(self) -> bool {
        self == Accel::Tcg
    }
}

impl Host<'_> {
    /// Why KVM cannot run an aarch64 guest here, if it cannot.
    fn kvm(&self) -> Result<(), String> {
        let dev = self.kvm_device.display();
        if self.os != "linux" {
            return Err(format!(
                "ACCEL=kvm: KVM is Linux's; this host runs {} (use ACCEL=hvf on macOS, or ACCEL=tcg)",
                self.os
            ));
        }
        if self.arch != "aarch64" {
            return Err(format!(
                "ACCEL=kvm: KVM runs the guest on the host's own CPU, so it needs an aarch64 host; \
                 this one is {} (use ACCEL=tcg)",
                self.arch
            ));
        }
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(self.kvm_device)
        {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(format!(
                "ACCEL=kvm: {dev} does not exist: this host has no KVM (virtualization off in \
                 firmware, the kvm module not loaded, or a VM without nested virtualization); \
                 use ACCEL=tcg"
            )),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(format!(
                "ACCEL=kvm: no permission to open {dev} (add yourself to its group, usually `kvm`)"
            )),
            Err(e) => Err(format!("ACCEL=kvm: cannot open {dev}: {e}")),
        }
    }

    /// Why HVF cannot run an aarch64 guest here, if it cannot.
    fn hvf(&self) -> Result<(), String> {
        if self.os == "macos" && self.arch == "aarch64" {
            Ok(())
        } else {
            Err(format!(
                "ACCEL=hvf: Hypervisor.framework runs aarch64 guests only on Apple silicon macOS; \
                 this host is {} {} (use ACCEL=tcg)",
                self.os, self.arch
            ))
        }
    }
}

/// The configuration called `name`.
pub fn config(name: &str) -> Option<&'static Config> {
    CONFIGS.iter().find(|c| c.name == name)
}

/// The names of all configurations, for error messages.
pub fn config_names() -> String {
    CONFIGS
        .iter()
        .map(|c| c.name)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Config {
    /// Whether this configuration boots with semihosting when the
    /// accelerator offers it (see [`WITHOUT_SEMIHOSTING`]).
    pub fn semihosting(&self) -> bool {
        !WITHOUT_SEMIHOSTING.contains(&self.name)
    }

    /// Whether a boot on `accel` uses semihosting: `-semihosting` on QEMU's
    /// command line and `exit=semihosting` in the bootargs.
    pub fn uses_semihosting(&self, accel: Accel) -> bool {
        self.semihosting() && accel.has_semihosting()
    }

    /// Whether this configuration can run on `accel`, and if not why. A
    /// hardware accelerator runs the guest at EL1 on the host's CPU: `virt`
    /// without EL2 (`virtualization=on`) or EL3 (`secure=on`) only.
    pub fn runs_on(&self, accel: Accel) -> Result<(), String> {
        if accel == Accel::Tcg {
            return Ok(());
        }
        let mut options = self.machine.split(',');
        let board_ok = options.next() == Some("virt");
        let needs_el2_or_el3 = options.any(|o| o == "virtualization=on" || o == "secure=on");
        if board_ok && !needs_el2_or_el3 {
            Ok(())
        } else {
            Err(format!(
                "{} needs TCG: `-M {}` cannot run on {}",
                self.name,
                self.machine,
                accel.name()
            ))
        }
    }

    /// The bootargs of a test run of this configuration on `accel`, with
    /// `extra` words appended.
    pub fn test_bootargs(&self, accel: Accel, extra: &str) -> String {
        let base = if self.uses_semihosting(accel) {
            TEST_BOOTARGS
        } else {
            TEST_BOOTARGS_NO_SEMIHOSTING
        };
        match extra.trim() {
            "" => base.to_string(),
            extra => format!("{base} {extra}"),
        }
    }

    /// QEMU's arguments on `accel`: TCG's are [`Config::args`]; KVM and HVF
    /// take `-accel <name> -cpu host` and no `-semihosting`.
    pub fn args_on(&self, accel: Accel, image: &Path, bootargs: &str) -> Vec<OsString> {
        let mut args = self.args(image, bootargs);
        if accel != Accel::Tcg {
            if let Some(cpu) = args.iter().position(|a| a == "-cpu") {
                args[cpu + 1] = "host".into();
            }
            args.retain(|a| a != "-semihosting");
            args.splice(0..0, ["-accel", accel.name()].map(OsString::from));
        }
        args
    }

    /// [`Config::command`] on `accel`.
    pub fn command_on(&self, accel: Accel, image: &Path, bootargs: &str) -> Command {
        let mut command = Command::new(QEMU);
        command.args(self.args_on(accel, image, bootargs));
        command
    }

    /// [`Config::command_line`] on `accel`.
    pub fn command_line_on(&self, accel: Accel, image: &Path, bootargs: &str) -> String {
        std::iter::once(OsString::from(QEMU))
            .chain(self.args_on(accel, image, bootargs))
            .map(|a| shell_quote(&a.to_string_lossy()))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// QEMU's arguments (without the program) to boot `image` with `bootargs`
    /// under TCG.
    pub fn args(&self, image: &Path, bootargs: &str) -> Vec<OsString> {
        let mut args: Vec<OsString> = [
            "-M",
            self.machine,
            "-cpu",
            self.cpu,
            "-m",
            self.memory,
            "-display",
            "none",
            "-monitor",
            "none",
            "-serial",
            "stdio",
            // No network: the default NIC wants a ROM the kernel never uses.
            "-nic",
            "none",
            "-no-reboot",
            "-semihosting",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        if !self.semihosting() {
            args.retain(|a| a != "-semihosting");
        }
        if let Some(smp) = self.smp {
            args.push("-smp".into());
            args.push(smp.into());
        }
        if let Some(dtb) = self.dtb {
            args.push("-dtb".into());
            args.push(crate::workspace_root().join(dtb).into());
        }
        if self.board == Board::VirtArmstub {
            args.push("-kernel".into());
            args.push(crate::armstub().into());
            let mut loader = OsString::from("loader,file=");
            // QEMU's option syntax: a comma in a value is written twice.
            loader.push(image.to_string_lossy().replace(',', ",,"));
            loader.push(format!(",addr={ARMSTUB_IMAGE_LOAD:#x},force-raw=on"));
            args.push("-device".into());
            args.push(loader);
        } else {
            args.push("-kernel".into());
            args.push(image.into());
        }
        args.push("-append".into());
        args.push(bootargs.into());
        args
    }

    /// A command that boots `image` with `bootargs`; stdio is left to the caller.
    pub fn command(&self, image: &Path, bootargs: &str) -> Command {
        let mut command = Command::new(QEMU);
        command.args(self.args(image, bootargs));
        command
    }

    /// The command line as one shell-quoted string (for humans and `eval`).
    pub fn command_line(&self, image: &Path, bootargs: &str) -> String {
        std::iter::once(OsString::from(QEMU))
            .chain(self.args(image, bootargs))
            .map(|a| shell_quote(&a.to_string_lossy()))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Quotes `word` for a POSIX shell if it needs it.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=.,/:+@%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// How a boot ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// QEMU exited with this status (the semihosting exit status, or 0 for
    /// PSCI SYSTEM_OFF).
    Code(i32),
    /// QEMU was killed by a signal it did not send itself.
    Signal,
    /// QEMU did not exit within the timeout and was killed.
    TimedOut(Duration),
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(code) => write!(f, "QEMU exited with status {code}"),
            Exit::Signal => write!(f, "QEMU was killed by a signal"),
            Exit::TimedOut(after) => write!(f, "timed out after {} s", after.as_secs()),
        }
    }
}

/// Everything a boot printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript {
    /// The serial console (QEMU's stdout).
    pub stdout: String,
    /// QEMU's own messages.
    pub stderr: String,
    /// How it ended.
    pub exit: Exit,
    /// Wall time from launch to exit (or kill).
    pub elapsed: Duration,
}

/// Why a boot could not even start.
#[derive(Debug)]
pub enum BootError {
    /// The image file does not exist.
    ImageMissing(PathBuf),
    /// The configuration's device tree does not exist.
    DtbMissing(PathBuf),
    /// QEMU could not be started.
    Spawn(std::io::Error),
    /// Waiting for QEMU failed.
    Wait(std::io::Error),
}

impl fmt::Display for BootError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BootError::ImageMissing(path) => write!(
                f,
                "kernel image {} not found: run `just build` first (or point VMM_IMAGE / VMM_RPI4_IMAGE at an image)",
                path.display()
            ),
            BootError::DtbMissing(path) => write!(
                f,
                "device tree {} not found: run `ci/setup` (it fetches Debian's Pi 4 files)",
                path.display()
            ),
            BootError::Spawn(e) => write!(f, "could not start {QEMU}: {e} (run `ci/setup`)"),
            BootError::Wait(e) => write!(f, "waiting for {QEMU} failed: {e}"),
        }
    }
}

impl std::error::Error for BootError {}

/// Boots `image` under `config` headless with `bootargs`, capturing the
/// serial console, and kills QEMU if it runs longer than `timeout`.
pub fn boot(
    config: &Config,
    image: &Path,
    bootargs: &str,
    timeout: Duration,
) -> Result<Transcript, BootError> {
    boot_on(Accel::Tcg, config, image, bootargs, &[], timeout)
}

/// [`boot`] on the accelerator `accel` with extra QEMU arguments (e.g.
/// `-icount` for benchmarks, under [`Accel::Tcg`]).
pub fn boot_on(
    accel: Accel,
    config: &Config,
    image: &Path,
    bootargs: &str,
    extra: &[&str],
    timeout: Duration,
) -> Result<Transcript, BootError> {
    if !image.is_file() {
        return Err(BootError::ImageMissing(image.to_path_buf()));
    }
    if let Some(dtb) = config.dtb {
        let dtb = crate::workspace_root().join(dtb);
        if !dtb.is_file() {
            return Err(BootError::DtbMissing(dtb));
        }
    }
    let start = Instant::now();
    let mut child = config
        .command_on(accel, image, bootargs)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(BootError::Spawn)?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let exit = wait_with_timeout(&mut child, start, timeout);
    let elapsed = start.elapsed();
    // QEMU has exited or been killed, so both pipes reach end of file.
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    Ok(Transcript {
        stdout,
        stderr,
        exit: exit.map_err(BootError::Wait)?,
        elapsed,
    })
}

/// Reads a pipe to its end on a thread of its own, so QEMU never blocks on a
/// full pipe while we wait for it.
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            // A read error ends the transcript early; what came before stays.
            let _ = pipe.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

fn wait_with_timeout(
    child: &mut Child,
    start: Instant,
    timeout: Duration,
) -> std::io::Result<Exit> {
    const POLL: Duration = Duration::from_millis(10);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status.code().map_or(Exit::Signal, Exit::Code));
        }
        if start.elapsed() >= timeout {
            // It may exit between the check and the kill; either way, reap it.
            let _ = child.kill();
            child.wait()?;
            return Ok(Exit::TimedOut(timeout));
        }
        thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_names_are_unique() {
        for (i, c) in CONFIGS.iter().enumerate() {
            assert!(CONFIGS[i + 1..].iter().all(|d| d.name != c.name));
        }
    }

    #[test]
    fn command_line_matches_the_interface() {
        let c = config("virt-gicv3").unwrap();
        assert_eq!(
            c.command_line(Path::new("/k/kernel.bin"), TEST_BOOTARGS),
            "qemu-system-aarch64 -M virt,gic-version=3 -cpu cortex-a72 -m 256M \
             -display none -monitor none -serial stdio -nic none -no-reboot -semihosting \
             -kernel /k/kernel.bin -append 'mode=test exit=semihosting'"
        );
    }

    #[test]
    fn virt_secure_boots_the_kernel_through_the_stub() {
        let c = config("virt-secure").unwrap();
        assert_eq!(c.board, Board::VirtArmstub);
        let line = c.command_line(Path::new("/k/kernel.bin"), TEST_BOOTARGS);
        assert!(line.starts_with(
            "qemu-system-aarch64 -M virt,secure=on,virtualization=on,gic-version=2 \
             -cpu cortex-a72 -m 256M "
        ));
        let stub = crate::armstub();
        assert!(line.ends_with(&format!(
            " -kernel {} -device loader,file=/k/kernel.bin,addr=0x44000000,force-raw=on \
             -append 'mode=test exit=semihosting'",
            stub.display()
        )));
    }

    #[test]
    fn raspi4b_passes_the_pi_image_and_debian_dtb() {
        let c = config("raspi4b").unwrap();
        assert_eq!(c.board, Board::Rpi4);
        let line = c.command_line(Path::new("/k/kernel8.img"), TEST_BOOTARGS);
        assert!(line.starts_with("qemu-system-aarch64 -M raspi4b -cpu cortex-a72 -m 2G "));
        assert!(line.contains(" -semihosting -dtb "));
        assert!(line.ends_with(
            "/.cache/rpi4/bcm2711-rpi-4-b.dtb -kernel /k/kernel8.img -append 'mode=test exit=semihosting'"
        ));
    }

    #[test]
    fn shell_quote_escapes_quotes() {
        assert_eq!(shell_quote("a'b"), r"'a'\''b'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("virt,gic-version=3"), "virt,gic-version=3");
    }

    fn host<'a>(os: &'a str, arch: &'a str, kvm_device: &'a Path) -> Host<'a> {
        Host {
            os,
            arch,
            kvm_device,
        }
    }

    #[test]
    fn nosemi_runs_without_semihosting_and_with_cpu_max() {
        let c = config("virt-nosemi").unwrap();
        assert!(!c.semihosting() && !c.uses_semihosting(Accel::Tcg));
        assert_eq!(c.test_bootargs(Accel::Tcg, ""), "mode=test");
        assert_eq!(
            c.command_line(
                Path::new("/k/kernel.bin"),
                &c.test_bootargs(Accel::Tcg, "break=early")
            ),
            "qemu-system-aarch64 -M virt,gic-version=3 -cpu max,pauth-impdef=on -m 256M \
             -display none -monitor none -serial stdio -nic none -no-reboot \
             -kernel /k/kernel.bin -append 'mode=test break=early'"
        );
        // Every other configuration keeps semihosting under TCG.
        for c in CONFIGS.iter().filter(|c| c.name != "virt-nosemi") {
            assert!(c.uses_semihosting(Accel::Tcg), "{}", c.name);
            assert_eq!(c.test_bootargs(Accel::Tcg, ""), TEST_BOOTARGS);
        }
    }

    #[test]
    fn kvm_and_hvf_take_the_host_cpu_and_drop_semihosting() {
        let c = config("virt-gicv3").unwrap();
        let bootargs = c.test_bootargs(Accel::Kvm, "");
        assert_eq!(bootargs, "mode=test");
        assert_eq!(
            c.command_line_on(Accel::Kvm, Path::new("/k/kernel.bin"), &bootargs),
            "qemu-system-aarch64 -accel kvm -M virt,gic-version=3 -cpu host -m 256M \
             -display none -monitor none -serial stdio -nic none -no-reboot \
             -kernel /k/kernel.bin -append mode=test"
        );
        let line = c.command_line_on(Accel::Hvf, Path::new("/k/kernel.bin"), "mode=run");
        assert!(line.starts_with("qemu-system-aarch64 -accel hvf -M virt,gic-version=3 -cpu host "));
        assert!(!line.contains("semihosting"));
        // TCG is the plain command line.
        assert_eq!(
            c.command_line_on(Accel::Tcg, Path::new("/k/kernel.bin"), TEST_BOOTARGS),
            c.command_line(Path::new("/k/kernel.bin"), TEST_BOOTARGS)
        );
    }

    #[test]
    fn only_plain_virt_runs_on_a_hardware_accelerator() {
        let runs = |name: &str, accel| config(name).unwrap().runs_on(accel);
        for name in ["virt-gicv2", "virt-gicv3", "virt-nosemi"] {
            assert_eq!(runs(name, Accel::Kvm), Ok(()), "{name}");
            assert_eq!(runs(name, Accel::Hvf), Ok(()), "{name}");
        }
        for name in ["virt-el2", "virt-secure", "raspi4b"] {
            let why = runs(name, Accel::Kvm).unwrap_err();
            assert!(why.contains("needs TCG"), "{why}");
        }
        assert!(CONFIGS.iter().all(|c| c.runs_on(Accel::Tcg).is_ok()));
        let secure = Config {
            machine: "virt,secure=on,virtualization=on,gic-version=2",
            ..*config("virt-gicv2").unwrap()
        };
        assert!(secure.runs_on(Accel::Kvm).is_err());
    }

    #[test]
    fn accelerator_names_resolve() {
        let none = Path::new("/nonexistent/kvm");
        let pc = host("linux", "x86_64", none);
        assert_eq!(Accel::resolve("", &pc), Ok(Accel::Tcg));
        assert_eq!(Accel::resolve("tcg", &pc), Ok(Accel::Tcg));
        assert_eq!(Accel::resolve("auto", &pc), Ok(Accel::Tcg));
        assert!(Accel::resolve("whpx", &pc)
            .unwrap_err()
            .contains("tcg, kvm, hvf or auto"));
        let mac = host("macos", "aarch64", none);
        assert_eq!(Accel::resolve("hvf", &mac), Ok(Accel::Hvf));
        assert_eq!(Accel::resolve("auto", &mac), Ok(Accel::Hvf));
        assert!(Accel::resolve("kvm", &mac)
            .unwrap_err()
            .contains("ACCEL=hvf"));
        assert!(Accel::resolve("hvf", &pc)
            .unwrap_err()
            .contains("Apple silicon"));
    }

    #[test]
    fn kvm_without_dev_kvm_says_so() {
        let why = Accel::resolve(
            "kvm",
            &host("linux", "aarch64", Path::new("/nonexistent/kvm")),
        )
        .unwrap_err();
        assert!(
            why.contains("/nonexistent/kvm does not exist") && why.contains("ACCEL=tcg"),
            "{why}"
        );
        // An x86 host cannot run an aarch64 guest on KVM even with /dev/kvm.
        let why =
            Accel::resolve("kvm", &host("linux", "x86_64", Path::new("/dev/kvm"))).unwrap_err();
        assert!(
            why.contains("needs an aarch64 host") && why.contains("x86_64"),
            "{why}"
        );
        // An openable device on an aarch64 Linux host is taken (any file
        // stands in for it here).
        let dir = std::env::temp_dir().join(format!("vmm-kvm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fake = dir.join("kvm");
        std::fs::write(&fake, b"").unwrap();
        let arm = host("linux", "aarch64", &fake);
        assert_eq!(Accel::resolve("kvm", &arm), Ok(Accel::Kvm));
        assert_eq!(Accel::resolve("auto", &arm), Ok(Accel::Kvm));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_image_is_reported_with_the_fix() {
        let err = boot(
            &CONFIGS[0],
            Path::new("/nonexistent/kernel.bin"),
            TEST_BOOTARGS,
            DEFAULT_TIMEOUT,
        )
        .unwrap_err();
        assert!(err.to_string().contains("just build"));
    }
}
