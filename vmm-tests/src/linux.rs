//! The Linux column of `just bench`, measured in the same run: Debian's own
//! arm64 kernel (the package `ci/setup` keeps in [`KERNEL_DIR`]) booted on
//! the same QEMU machine, CPU, memory and `-icount shift=0,sleep=off` as our
//! benchmarks, with an initramfs written here ([`initramfs`]) whose `/init`
//! is `vmm-tests/linux/init.c`, built static with Debian's
//! `aarch64-linux-gnu-gcc`. It prints `bench …` lines in our format
//! ([`crate::bench::parse`]) and powers off.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::bench::Measurement;

/// Where `ci/setup` keeps the kernel package, its `vmlinuz` and `PACKAGE`
/// (relative to the workspace root; git-ignored).
pub const KERNEL_DIR: &str = ".cache/linux";
/// The benchmark program, relative to the workspace root.
pub const INIT_SOURCE: &str = "vmm-tests/linux/init.c";
/// The cross compiler (Debian's `gcc-aarch64-linux-gnu`).
pub const CC: &str = "aarch64-linux-gnu-gcc";
/// The kernel command line. `norandmaps` fixes where mmap places things (so
/// faults and THP do not vary from run to run); QEMU's device-tree RNG seed
/// is kept (an unseeded CRNG costs every syscall thousands of instructions);
/// `panic=-1` with QEMU's `-no-reboot` ends a run whose /init dies.
pub const CMDLINE: &str = "console=ttyAMA0 norandmaps quiet panic=-1";

/// A Linux operation, and the row of ours it is the closest to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    /// The Linux program's name for it.
    pub linux: &'static str,
    /// Our operation it compares with.
    pub ours: &'static str,
    /// What is timed on Linux, in words.
    pub what: &'static str,
}

/// Every operation the Linux run must report, in its order. Where two
/// compare with the same row of ours, the first fills the table's column.
pub const ROWS: &[Row] = &[
    Row {
        linux: "boot_to_init",
        ours: "boot_to_first_task",
        what: "reset to the first instruction of /init",
    },
    Row {
        linux: "getppid",
        ours: "null_syscall",
        what: "getppid()",
    },
    Row {
        linux: "memcpy_4k",
        ours: "el0_neon_copy_4k",
        what: "glibc memcpy, 4 KiB",
    },
    Row {
        linux: "zero_fill_fault_thp_off",
        ours: "zero_fill_fault_empty",
        what: "first write to an anonymous page, MADV_NOHUGEPAGE",
    },
    Row {
        linux: "zero_fill_fault_thp_default",
        ours: "zero_fill_fault_empty",
        what: "the same with the kernel's THP default",
    },
    Row {
        linux: "cow_fault_after_fork",
        ours: "cow_fault",
        what: "child's first write to a page after fork",
    },
    Row {
        linux: "mmap_munmap_4k",
        ours: "vmar_map_unmap_4k",
        what: "anonymous mmap + munmap, 4 KiB",
    },
    Row {
        linux: "mmap_munmap_1g",
        ours: "vmar_map_unmap_1g",
        what: "anonymous mmap + munmap, 1 GiB",
    },
    Row {
        linux: "futex_wakeup",
        ours: "signal_wakeup",
        what: "FUTEX_WAKE of a thread in FUTEX_WAIT, per hand-over",
    },
    Row {
        linux: "nanosleep_1ms_lateness",
        ours: "nanosleep_1ms_lateness",
        what: "clock_nanosleep 1 ms (timer slack 1 ns), past the deadline",
    },
];

/// The Linux row that fills our row `ours`'s column, if any.
pub fn row_for(ours: &str) -> Option<&'static Row> {
    ROWS.iter().find(|r| r.ours == ours)
}

/// The kernel package, as `ci/setup` recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Package {
    /// Debian's package name, e.g. `linux-image-6.1.0-57-arm64`.
    pub name: String,
    /// Its version, e.g. `6.1.192-3`.
    pub version: String,
    /// The `.deb` file name.
    pub deb: String,
    /// The `.deb`'s SHA-256, hex.
    pub sha256: String,
}

impl Package {
    /// Parses `ci/setup`'s `PACKAGE` file (`key=value` lines).
    pub fn parse(text: &str) -> Result<Self, String> {
        let get = |key: &str| -> Result<String, String> {
            text.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("PACKAGE has no {key}="))
        };
        let (name, version, deb) = (get("package")?, get("version")?, get("deb")?);
        let sha256 = get("sha256")?;
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("PACKAGE: `{sha256}` is not a SHA-256"));
        }
        Ok(Package {
            name,
            version,
            deb,
            sha256,
        })
    }
}

/// A Linux run's figures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    /// The kernel package booted.
    pub package: Package,
    /// What the program said about the kernel (`linux-info key=value`):
    /// `release`, `thp`, `kpti`, `cmdline`.
    pub info: Vec<(String, String)>,
    /// Every operation of [`ROWS`], in run order.
    pub measurements: Vec<Measurement>,
}

impl Run {
    /// The figures of Linux operation `name`.
    pub fn measurement(&self, name: &str) -> Option<&Measurement> {
        self.measurements.iter().find(|m| m.name == name)
    }

    /// The value of `linux-info` key `key`.
    pub fn info(&self, key: &str) -> Option<&str> {
        self.info
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Why there is no Linux column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// Something it needs is not installed (`ci/setup` installs it): the
    /// bench still reports our column.
    NotSetUp(String),
    /// The boot or the program failed, or a row is missing: with the
    /// console's tail.
    Failed(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotSetUp(why) => write!(f, "not measured: {why}"),
            Error::Failed(why) => write!(f, "the Linux run failed: {why}"),
        }
    }
}

/// Parses the console of a Linux run: every row of [`ROWS`] exactly once,
/// no `linux-bench: failed` line, and the closing `linux-bench: done`.
pub fn parse(console: &str, package: Package) -> Result<Run, String> {
    let measurements = crate::bench::parse(console)?;
    let mut info = Vec::new();
    for line in console.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("linux-info ") {
            if let Some((k, v)) = rest.split_once('=') {
                info.push((k.to_string(), v.to_string()));
            }
        }
        if line.starts_with("linux-bench: failed") || line.contains("did not complete") {
            return Err(line.to_string());
        }
    }
    let missing: Vec<&str> = ROWS
        .iter()
        .map(|r| r.linux)
        .filter(|name| !measurements.iter().any(|m| m.name == *name))
        .collect();
    if !missing.is_empty() {
        return Err(format!("rows missing: {}", missing.join(", ")));
    }
    if let Some(extra) = measurements
        .iter()
        .find(|m| !ROWS.iter().any(|r| r.linux == m.name))
    {
        return Err(format!("unknown row `{}`", extra.name));
    }
    if !console
        .lines()
        .any(|l| l.trim() == "linux-bench: done, 0 failures")
    {
        return Err("no `linux-bench: done` line".to_string());
    }
    Ok(Run {
        package,
        info,
        measurements,
    })
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// One file or directory of a newc ("070701") cpio archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Path without a leading `/`.
    pub name: &'a str,
    /// `st_mode`: type and permission bits.
    pub mode: u32,
    /// File contents (empty for directories and device nodes).
    pub data: &'a [u8],
    /// Device number (major, minor) of a device node.
    pub rdev: (u32, u32),
}

/// `S_IFDIR`, `S_IFREG`, `S_IFCHR`.
pub const S_IFDIR: u32 = 0o040000;
/// A regular file.
pub const S_IFREG: u32 = 0o100000;
/// A character device.
pub const S_IFCHR: u32 = 0o020000;

/// A newc cpio archive of `entries` (owned by root, as the kernel unpacks
/// it), closed with the `TRAILER!!!` entry. Header and name are padded to 4
/// bytes, and so is each file's data.
pub fn cpio_newc(entries: &[Entry]) -> Vec<u8> {
    fn pad(out: &mut Vec<u8>) {
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
    }
    let trailer = Entry {
        name: "TRAILER!!!",
        mode: 0,
        data: &[],
        rdev: (0, 0),
    };
    let mut out = Vec::new();
    for (ino, e) in entries.iter().chain([&trailer]).enumerate() {
        let links = if e.mode & 0o170000 == S_IFDIR { 2 } else { 1 };
        let fields = [
            if e.name == trailer.name {
                0
            } else {
                ino as u32 + 1
            },
            e.mode,
            0, // uid
            0, // gid
            links,
            0, // mtime
            e.data.len() as u32,
            0, // dev major
            0, // dev minor
            e.rdev.0,
            e.rdev.1,
            e.name.len() as u32 + 1,
            0, // check
        ];
        out.extend_from_slice(b"070701");
        for f in fields {
            out.extend_from_slice(format!("{f:08X}").as_bytes());
        }
        out.extend_from_slice(e.name.as_bytes());
        out.push(0);
        pad(&mut out);
        out.extend_from_slice(e.data);
        pad(&mut out);
    }
    out
}

/// The initramfs: `/dev/console` (so the kernel gives /init a console),
/// mount points `/proc` and `/sys`, and `/init`.
pub fn initramfs(init: &[u8]) -> Vec<u8> {
    let dir = |name| Entry {
        name,
        mode: S_IFDIR | 0o755,
        data: &[],
        rdev: (0, 0),
    };
    cpio_newc(&[
        dir("dev"),
        Entry {
            name: "dev/console",
            mode: S_IFCHR | 0o600,
            data: &[],
            rdev: (5, 1),
        },
        dir("proc"),
        dir("sys"),
        Entry {
            name: "init",
            mode: S_IFREG | 0o755,
            data: init,
            rdev: (0, 0),
        },
    ])
}

/// Writes `bytes` to `path` through a file of this process's own beside it,
/// so runs at once (a test and `just bench`) never see half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| Error::Failed(format!("{}: {e}", path.display())))
}

/// Builds `/init` from [`INIT_SOURCE`] and the initramfs around it in
/// `dir`; returns the initramfs's path.
pub fn build_initramfs(dir: &Path) -> Result<PathBuf, Error> {
    let root = crate::workspace_root();
    std::fs::create_dir_all(dir).map_err(|e| Error::Failed(format!("{}: {e}", dir.display())))?;
    let init = dir.join(format!("init.{}", std::process::id()));
    let output = Command::new(CC)
        .args(["-static", "-O2", "-Wall", "-Wextra", "-Werror"])
        // The entry reads the counter, then jumps to glibc's _start.
        .arg("-Wl,-e,init_entry")
        .arg("-o")
        .arg(&init)
        .arg(root.join(INIT_SOURCE))
        .arg("-lpthread")
        .output()
        .map_err(|e| {
            Error::NotSetUp(format!(
                "{CC}: {e} (run `ci/setup`: it installs gcc-aarch64-linux-gnu)"
            ))
        })?;
    if !output.status.success() {
        return Err(Error::Failed(format!(
            "{CC} {INIT_SOURCE}: {}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    let bytes = std::fs::read(&init).map_err(|e| Error::Failed(format!("{e}")))?;
    let _ = std::fs::remove_file(&init);
    let cpio = dir.join("initramfs.cpio");
    write_atomically(&cpio, &initramfs(&bytes))?;
    Ok(cpio)
}

/// The kernel image and its package in [`KERNEL_DIR`], or why they are not there.
pub fn kernel() -> Result<(PathBuf, Package), Error> {
    kernel_in(&crate::workspace_root().join(KERNEL_DIR))
}

/// The kernel image and its package in `dir`, or why they are not there.
pub fn kernel_in(dir: &Path) -> Result<(PathBuf, Package), Error> {
    let vmlinuz = dir.join("vmlinuz");
    let package = dir.join("PACKAGE");
    if !vmlinuz.is_file() || !package.is_file() {
        return Err(Error::NotSetUp(format!(
            "Debian's arm64 kernel is not in {} (run `ci/setup`: it downloads the linux-image package)",
            dir.display()
        )));
    }
    let text = std::fs::read_to_string(&package)
        .map_err(|e| Error::NotSetUp(format!("{}: {e}", package.display())))?;
    let package = Package::parse(&text).map_err(Error::NotSetUp)?;
    Ok((vmlinuz, package))
}

/// Boots Debian's kernel on `config`'s machine, CPU and memory under
/// [`crate::bench::ICOUNT`] with the benchmark initramfs, and parses what it
/// reports. Only QEMU virt configurations have a Linux side.
pub fn boot_and_measure(
    config: &crate::qemu::Config,
    settings: &crate::Settings,
) -> Result<Run, Error> {
    if config.board != crate::qemu::Board::Virt {
        return Err(Error::NotSetUp(format!(
            "the Linux column is measured on QEMU virt only, not {}",
            config.name
        )));
    }
    let (vmlinuz, package) = kernel()?;
    let cpio = build_initramfs(&crate::workspace_root().join("target/linux-bench"))?;
    let cpio = cpio
        .to_str()
        .ok_or_else(|| Error::Failed(format!("{} is not UTF-8", cpio.display())))?;
    let mut extra: Vec<&str> = crate::bench::ICOUNT.to_vec();
    extra.extend(["-initrd", cpio]);
    let transcript = crate::qemu::boot_on(
        crate::qemu::Accel::Tcg,
        config,
        &vmlinuz,
        CMDLINE,
        &extra,
        settings.timeout,
    )
    .map_err(|e| Error::Failed(e.to_string()))?;
    let console_tail = || {
        format!(
            "\n--- Linux console (last 30 lines) ---\n{}\n{}",
            tail(&transcript.stdout, 30),
            tail(&transcript.stderr, 5)
        )
    };
    if transcript.exit != crate::qemu::Exit::Code(0) {
        return Err(Error::Failed(format!(
            "{}{}",
            transcript.exit,
            console_tail()
        )));
    }
    parse(&transcript.stdout, package).map_err(|e| Error::Failed(format!("{e}{}", console_tail())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package() -> Package {
        Package {
            name: "linux-image-6.1.0-57-arm64".into(),
            version: "6.1.192-3".into(),
            deb: "linux-image-6.1.0-57-arm64_6.1.192-3_arm64.deb".into(),
            sha256: "8301bd5b5b2cf8fd5e479832200c23e64eca0ae9ec45c487c5c318b1e44d4692".into(),
        }
    }

    /// A console as the program prints it, kernel noise included.
    fn console() -> String {
        let mut s = String::from("[    0.000000] Booting Linux\n");
        s.push_str("linux-info release=6.1.0-57-arm64\n");
        s.push_str("linux-info thp=always madvise [never]\n");
        for (i, row) in ROWS.iter().enumerate() {
            s.push_str(&format!(
                "bench {} ops=64 reps=7 min_ns={} median_ns={}\n",
                row.linux,
                1000 + i,
                1010 + i
            ));
        }
        s.push_str("linux-bench: done, 0 failures\n[    0.896516] reboot: Power down\n");
        s
    }

    #[test]
    fn parses_every_row_and_the_kernel_info() {
        let run = parse(&console(), package()).unwrap();
        assert_eq!(run.measurements.len(), ROWS.len());
        let cow = run.measurement("cow_fault_after_fork").unwrap();
        assert_eq!(
            (cow.ops, cow.reps, cow.min_ns, cow.median_ns),
            (64, 7, 1005, 1015)
        );
        assert_eq!(run.info("thp"), Some("always madvise [never]"));
        assert_eq!(run.info("release"), Some("6.1.0-57-arm64"));
    }

    #[test]
    fn a_missing_row_is_an_error_naming_it() {
        let text = console().replace("bench futex_wakeup ", "bench-not futex_wakeup ");
        let err = parse(&text, package()).unwrap_err();
        assert!(err.contains("futex_wakeup"), "{err}");
    }

    #[test]
    fn a_failure_line_or_a_missing_end_is_an_error() {
        let failed = console().replace(
            "linux-bench: done",
            "linux-bench: failed: mmap: Cannot allocate memory\nlinux-bench: done",
        );
        assert!(parse(&failed, package()).unwrap_err().contains("mmap"));
        let cut = console().replace("linux-bench: done, 0 failures\n", "");
        assert!(parse(&cut, package()).unwrap_err().contains("done"));
        let malformed = console().replace("bench getppid ops=64", "bench getppid ops=x");
        assert!(parse(&malformed, package()).is_err());
    }

    #[test]
    fn an_unknown_row_is_an_error() {
        let text = console() + "bench surprise ops=1 reps=1 min_ns=1 median_ns=1\n";
        assert!(parse(&text, package()).unwrap_err().contains("surprise"));
    }

    #[test]
    fn every_row_of_ours_has_at_most_one_column_figure_and_it_is_the_first() {
        assert_eq!(
            row_for("zero_fill_fault_empty").unwrap().linux,
            "zero_fill_fault_thp_off"
        );
        assert_eq!(row_for("create_child_4k"), None);
        for row in ROWS {
            assert!(
                crate::bench::OPERATIONS.contains(&row.ours),
                "{} compares with unknown {}",
                row.linux,
                row.ours
            );
        }
    }

    #[test]
    fn package_file_is_parsed_and_checked() {
        let text = "package=linux-image-6.1.0-57-arm64\nversion=6.1.192-3\n\
                    deb=linux-image-6.1.0-57-arm64_6.1.192-3_arm64.deb\n\
                    sha256=8301bd5b5b2cf8fd5e479832200c23e64eca0ae9ec45c487c5c318b1e44d4692\n";
        assert_eq!(Package::parse(text).unwrap(), package());
        assert!(Package::parse(&text.replace("sha256=8301", "sha256=zz01")).is_err());
        assert!(Package::parse("package=x\n")
            .unwrap_err()
            .contains("version"));
    }

    /// One entry read back: name, mode, rdev, data.
    type Read = (String, u32, (u32, u32), Vec<u8>);

    /// Reads a newc archive back.
    fn read_newc(mut bytes: &[u8]) -> Vec<Read> {
        let mut out = Vec::new();
        let total = bytes.len();
        loop {
            assert_eq!(&bytes[..6], b"070701");
            let field = |i: usize| {
                u32::from_str_radix(
                    std::str::from_utf8(&bytes[6 + 8 * i..14 + 8 * i]).unwrap(),
                    16,
                )
                .unwrap()
            };
            let (mode, size, rdev, namesize) =
                (field(1), field(6), (field(9), field(10)), field(11));
            let name_end = 110 + namesize as usize;
            assert_eq!(bytes[name_end - 1], 0, "name is NUL-terminated");
            let name = std::str::from_utf8(&bytes[110..name_end - 1])
                .unwrap()
                .to_string();
            let data_start = name_end.div_ceil(4) * 4;
            let data = bytes[data_start..data_start + size as usize].to_vec();
            let next = (data_start + size as usize).div_ceil(4) * 4;
            assert_eq!((total - bytes.len()) % 4, 0, "entries start 4-aligned");
            bytes = &bytes[next..];
            if name == "TRAILER!!!" {
                assert!(bytes.is_empty());
                return out;
            }
            out.push((name, mode, rdev, data));
        }
    }

    #[test]
    fn cpio_newc_round_trips_files_directories_and_devices() {
        let init = b"\x7fELF and five";
        let entries = read_newc(&initramfs(init));
        let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(names, ["dev", "dev/console", "proc", "sys", "init"]);
        assert_eq!(entries[1].1, S_IFCHR | 0o600);
        assert_eq!(entries[1].2, (5, 1));
        assert_eq!(entries[4].1, S_IFREG | 0o755);
        assert_eq!(entries[4].3, init);
        assert_eq!(entries[0].1, S_IFDIR | 0o755);
    }

    #[test]
    fn cpio_newc_header_is_exact() {
        let bytes = cpio_newc(&[Entry {
            name: "a",
            mode: S_IFREG | 0o644,
            data: b"xyz",
            rdev: (0, 0),
        }]);
        let header = std::str::from_utf8(&bytes[..110]).unwrap();
        let fields = [
            "00000001", // ino
            "000081A4", // mode: regular, 0644
            "00000000", // uid
            "00000000", // gid
            "00000001", // nlink
            "00000000", // mtime
            "00000003", // filesize
            "00000000", // devmajor
            "00000000", // devminor
            "00000000", // rdevmajor
            "00000000", // rdevminor
            "00000002", // namesize, with the NUL
            "00000000", // check
        ];
        assert_eq!(header, format!("070701{}", fields.concat()));
        // Header + "a\0" is 112 bytes (4-aligned); "xyz" pads to 4.
        assert_eq!(&bytes[110..116], b"a\0xyz\0");
        assert!(bytes.len().is_multiple_of(4));
    }

    #[test]
    fn a_missing_kernel_is_not_set_up_and_says_how_to_fix_it() {
        let dir = std::env::temp_dir().join(format!("no-linux-{}", std::process::id()));
        match kernel_in(&dir) {
            Err(Error::NotSetUp(why)) => assert!(why.contains("ci/setup"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    /// Boots Debian's kernel once (about 4 s under -icount) and checks every
    /// row has a figure. Needs `ci/setup` (the kernel package and the cross
    /// compiler).
    #[test]
    fn linux_boots_and_reports_every_row() {
        let config = crate::qemu::config("virt-gicv2").unwrap();
        let settings = crate::Settings::from_env().unwrap();
        let run = boot_and_measure(config, &settings).unwrap_or_else(|e| panic!("{e}"));
        for row in ROWS {
            let m = run.measurement(row.linux).unwrap();
            assert!(m.median_ns > 0 && m.min_ns <= m.median_ns, "{m:?}");
        }
        assert_eq!(run.info("cmdline"), Some(CMDLINE));
    }
}
