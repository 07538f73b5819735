//! Guest tests as host tests.
//!
//! For every configuration in `qemu::CONFIGS`: one trial per line of its
//! expected list, named `<config>::<suite>::<test>`, and one trial
//! `<config>::ktap_document` for the run as a whole. Each configuration
//! boots at most once per process, lazily, when the first of its trials
//! runs, so `cargo test -p vmm-tests -- virt-gicv3` boots only that one.
//!
//! A configuration entered through our boot stub (`virt-secure`) also gets
//! `<config>::banner_shows_no_secure_ram`, read from the same boot.
//!
//! `harness::*` trials boot deliberately broken runs (`break=panic|hang|early|overflow`)
//! and check that each is judged a failure that shows the transcript's tail;
//! `break=premmu` takes a lock before the MMU is on, which must stop the
//! boot with the lock check's message; `break=lockorder` takes two locks in
//! the wrong order, which must stop the run naming both.
//!
//! `harness::nosemi_*` trials do the same on `virt-nosemi`, which runs
//! without semihosting: there QEMU exits 0 however the run went (PSCI
//! SYSTEM_OFF), so only the console can tell.
//!
//! Each configuration's boot also writes `target/vmm-tests/junit-<config>.xml`
//! and `ktap-<config>.txt` (`vmm_tests::junit`). `VMM_ACCEL=kvm|hvf` boots on
//! a hardware accelerator; configurations that need TCG are then ignored.
//!
//! `rpi4::*` trials check what the `raspi4b` test run cannot: the image
//! moves itself when loaded at 0x20_0000, it boots from ATAGs without a
//! device tree, and the SD card image holds the right files.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use vmm_tests::expected;
use vmm_tests::qemu::{self, Accel, Config, Exit, CONFIGS};
use vmm_tests::verdict::{Run, TestVerdict};
use vmm_tests::Settings;

/// The timeout of the deliberately hanging run.
const HANG_TIMEOUT: Duration = Duration::from_secs(10);

/// The configuration the harness self-tests boot.
const SELF_TEST_CONFIG: &str = "virt-gicv2";

/// The configuration whose broken runs prove that a run without
/// semihosting is still judged by its console.
const NO_SEMIHOSTING_CONFIG: &str = "virt-nosemi";
/// The EL0 churn test, run at its full size (`churn=full`) on
/// [`SELF_TEST_CONFIG`] alone; every configuration runs it at a fiftieth.
const CHURN_TEST: &str = "reaping.churn_of_threads_and_tasks_returns_heap_and_frames";
/// The full-size churn's boot may take this long (about 45 s under TCG).
const CHURN_TIMEOUT: Duration = Duration::from_secs(240);

/// One configuration's boot, done by whichever trial needs it first.
struct LazyRun {
    config: &'static Config,
    run: OnceLock<Result<Run, String>>,
}

impl LazyRun {
    fn get(&self) -> Result<&Run, Failed> {
        self.run
            .get_or_init(|| {
                let settings = Settings::from_env()?;
                let run = Run::boot(self.config, &settings, "").map_err(|e| e.to_string());
                // A list that cannot be read fails `ktap_document`; the
                // report then judges against an empty one.
                let ids = expected::read(self.config.name).unwrap_or_default();
                let report = match &run {
                    Ok(run) => vmm_tests::junit::write_run(run, &ids),
                    Err(e) => vmm_tests::junit::write_error(self.config.name, &ids, e),
                };
                if let Err(e) = report {
                    eprintln!("{}: cannot write the JUnit report: {e}", self.config.name);
                }
                run
            })
            .as_ref()
            .map_err(|e| Failed::from(format!("{}: {e}", self.config.name)))
    }
}

fn main() {
    let args = Arguments::from_args();
    let accel = match Accel::from_env() {
        Ok(accel) => accel,
        Err(why) => {
            eprintln!("error: {why}");
            std::process::exit(2);
        }
    };
    let mut documents = Vec::new();
    let mut guest = Vec::new();
    let mut self_test_run = None;
    for config in CONFIGS {
        let lazy = Arc::new(LazyRun {
            config,
            run: OnceLock::new(),
        });
        if config.name == SELF_TEST_CONFIG {
            self_test_run = Some(Arc::clone(&lazy));
        }
        let (ids, list_error) = match expected::read(config.name) {
            Ok(ids) => (ids, None),
            Err(e) => (
                Vec::new(),
                Some(format!(
                    "cannot read {}: {e}",
                    expected::path(config.name).display()
                )),
            ),
        };
        documents.push(Trial::test(format!("{}::ktap_document", config.name), {
            let lazy = Arc::clone(&lazy);
            let ids = ids.clone();
            move || {
                if let Some(e) = list_error {
                    return Err(e.into());
                }
                lazy.get()?.document_verdict(&ids).map_err(Failed::from)
            }
        }));
        if config.board == qemu::Board::VirtArmstub {
            documents.push(Trial::test(
                format!("{}::banner_shows_no_secure_ram", config.name),
                {
                    let lazy = Arc::clone(&lazy);
                    move || non_secure_banner(lazy.get()?)
                },
            ));
        }
        documents.push(Trial::test(
            format!(
                "{}::a_killed_task_s_threads_leave_without_a_fault_report",
                config.name
            ),
            {
                let lazy = Arc::clone(&lazy);
                move || killed_threads_leave_quietly(lazy.get()?)
            },
        ));
        for id in ids {
            let lazy = Arc::clone(&lazy);
            guest.push(Trial::ignorable_test(
                trial_name(config.name, &id),
                move || match lazy.get()?.test_verdict(&id) {
                    TestVerdict::Pass => Ok(Completion::Completed),
                    TestVerdict::Skip(reason) => Ok(Completion::ignored_with(reason)),
                    TestVerdict::Fail(message) => Err(message.into()),
                },
            ));
        }
    }
    // A configuration the accelerator cannot run: its trials are listed as
    // ignored, and say why once.
    for config in CONFIGS {
        if let Err(why) = config.runs_on(accel) {
            eprintln!("note: {why}; its trials are ignored (ACCEL=tcg runs them)");
            let prefix = format!("{}::", config.name);
            let ignore = |t: Trial| {
                if t.name().starts_with(&prefix) {
                    t.with_ignored_flag(true)
                } else {
                    t
                }
            };
            documents = documents.into_iter().map(ignore).collect();
            guest = guest.into_iter().map(ignore).collect();
        }
    }
    // Whole-run trials first, so parallel test threads start the boots of
    // different configurations instead of queueing behind one.
    let mut trials = documents;
    trials.push(Trial::test("harness::panic_is_a_failure", || {
        broken_run("break=panic", None, |run| match run.transcript.exit {
            Exit::Code(0) => Err("a panicking guest exited with status 0".into()),
            // The panic's backtrace in the failure message has names.
            _ if !run.context().contains(" (unikernel/kernel/src/ktest.rs:") => {
                Err("the panic's backtrace frames are not symbolized in the failure message".into())
            }
            _ => Ok(()),
        })
    }));
    trials.push(Trial::test(
        "harness::run_mode_tells_a_story",
        run_mode_tells_a_story,
    ));
    if let Some(lazy) = self_test_run.clone() {
        trials.push(Trial::test(
            "harness::death_test_report_is_a_ktap_diagnostic_of_its_test",
            move || death_test_report_is_a_diagnostic(lazy.get()?),
        ));
    }
    trials.push(Trial::test("harness::hang_is_a_failure", || {
        broken_run("break=hang", Some(HANG_TIMEOUT), |run| {
            match run.transcript.exit {
                Exit::TimedOut(_) => Ok(()),
                exit => Err(format!("a hanging guest was not killed: {exit}")),
            }
        })
    }));
    trials.push(Trial::test("harness::early_stop_is_a_failure", || {
        broken_run("break=early", None, |run| match run.transcript.exit {
            Exit::Code(0) => Ok(()),
            exit => Err(format!(
                "a guest that powers off early should exit with status 0, not: {exit}"
            )),
        })
    }));
    trials.push(Trial::test("harness::stack_overflow_is_reported", || {
        broken_run("break=overflow", None, |run| {
            if !run.transcript.stdout.contains("kernel stack overflow") {
                return Err("the guest did not report the overflow".into());
            }
            match run.transcript.exit {
                Exit::Code(0) => Err("an overflowing guest exited with status 0".into()),
                _ => Ok(()),
            }
        })
    }));
    trials.push(Trial::test("harness::nosemi_panic_is_a_failure", || {
        // The kernel ends the run with status 3 on the console and powers off.
        broken_run_on(NO_SEMIHOSTING_CONFIG, "break=panic", None, |run| {
            match (run.transcript.exit, run.end_status()) {
                (Exit::Code(0), Ok(3)) => Ok(()),
                (exit, said) => Err(format!(
                    "expected a power-off after `run ended with status 3`: {exit}, {said:?}"
                )),
            }
        })
    }));
    trials.push(Trial::test("harness::nosemi_hang_is_a_failure", || {
        broken_run_on(
            NO_SEMIHOSTING_CONFIG,
            "break=hang",
            Some(HANG_TIMEOUT),
            |run| match run.transcript.exit {
                Exit::TimedOut(_) => Ok(()),
                exit => Err(format!("a hanging guest was not killed: {exit}")),
            },
        )
    }));
    trials.push(Trial::test(
        "harness::nosemi_early_stop_is_a_failure",
        || {
            // PSCI SYSTEM_OFF mid-run: QEMU exits 0 and no end line was printed.
            broken_run_on(NO_SEMIHOSTING_CONFIG, "break=early", None, |run| {
                match (run.transcript.exit, run.end_status()) {
                    (Exit::Code(0), Err(why)) if why.contains("stopped before the end") => Ok(()),
                    (exit, said) => Err(format!(
                        "expected a power-off without an end line: {exit}, {said:?}"
                    )),
                }
            })
        },
    ));
    let plain: [PlainTrial; 7] = [
        (
            "harness::lock_before_mmu_stops_the_boot",
            lock_before_mmu_stops_the_boot,
        ),
        (
            "harness::lock_order_violation_stops_the_run",
            lock_order_violation_stops_the_run,
        ),
        ("churn::full_size", churn_full_size),
        (
            "rpi4::image_loaded_at_2mib_moves_to_its_link_address",
            rpi4_relocates,
        ),
        (
            "rpi4::boots_from_atags_without_a_device_tree",
            rpi4_boots_from_atags,
        ),
        ("rpi4::sdcard_image_has_the_boot_files", rpi4_sdcard),
        (
            "rpi4::failed_run_resets_through_the_watchdog",
            rpi4_watchdog_reset,
        ),
    ];
    trials.extend(plain.map(|(name, run)| Trial::test(name, run)));
    trials.push(Trial::test(
        "bench::every_operation_is_measured_under_icount",
        || {
            let config =
                qemu::config(SELF_TEST_CONFIG).ok_or("self-test configuration is missing")?;
            let settings = Settings::from_env()?;
            let mut report = vmm_tests::bench::boot_and_report(config, &settings)?;
            // And the rows that need four CPUs, on the -smp 4 sibling.
            let smp = vmm_tests::bench::smp_config(config.name)
                .ok_or("the self-test configuration has no -smp 4 sibling")?;
            report = report.with_smp(vmm_tests::bench::boot_smp(smp, &settings)?);
            if !report.has_smp() {
                return Err("the smp_ rows are missing".into());
            }
            if let Some(m) = report
                .measurements
                .iter()
                .find(|m| m.median_ns == 0 || m.min_ns > m.median_ns)
            {
                return Err(format!("implausible figures for {}: {m:?}", m.name).into());
            }
            Ok(())
        },
    ));
    trials.extend(guest);
    libtest_mimic::run(&args, trials).exit();
}

/// `mode=run` shows what the system does: the banner, one line per EL0
/// suite with its counts, the demo and a one-line verdict; no KTAP and no
/// register dumps (the death tests' fault reports stay hidden).
fn run_mode_tells_a_story() -> Result<(), Failed> {
    let config = qemu::config(SELF_TEST_CONFIG).ok_or("self-test configuration is missing")?;
    let settings = Settings::from_env()?;
    let bootargs = qemu::RUN_BOOTARGS;
    let run = boot_run(config, settings.image_for(config), bootargs, &settings)?;
    let fail = |why: String| Failed::from(format!("mode=run: {why}\n{}", run.context()));
    let out = &run.transcript.stdout;
    let lines: Vec<&str> = out.lines().collect();
    if run.transcript.exit != Exit::Code(0) {
        return Err(fail(format!("{}", run.transcript.exit)));
    }
    // Every EL0 suite of the expected list, as one summary line.
    let expected_ids = expected::read(config.name).map_err(|e| fail(e.to_string()))?;
    let mut suites: Vec<&str> = Vec::new();
    for id in &expected_ids {
        let suite = id.split_once('.').map_or(id.as_str(), |(s, _)| s);
        if !suites.contains(&suite) {
            suites.push(suite);
        }
    }
    let summary = |suite: &str| {
        lines.iter().any(|l| {
            let mut words = l.split_whitespace();
            l.starts_with("  ")
                && words.next() == Some(suite)
                && words.next().is_some_and(|n| n.parse::<u32>().is_ok())
                && words.next().is_some_and(|w| w.starts_with("passed"))
        })
    };
    let el0_suites: Vec<&str> = suites.iter().copied().filter(|s| summary(s)).collect();
    if !el0_suites.contains(&"el0_smoke") || !el0_suites.contains(&"fuzz") {
        return Err(fail("no summary line for el0_smoke or fuzz".into()));
    }
    let wanted = [
        "EL0 suites, each test in a fresh task",
        " 0 failed, ",
        "demo: the child writes page 0: child sees 0xc0de, parent still 0x1000",
        "demo: child closed and unmapped: parent signals ZERO_CHILDREN",
        "us timer tick 4 (observed 0x8)",
        "us event from another task (observed 0x1000000)",
        "us the other task ended (observed 0x8)",
        "demo: port: 4 ticks, the event and the task's end, all through one port_wait loop",
    ];
    if let Some(missing) = wanted.iter().find(|w| !out.contains(*w)) {
        return Err(fail(format!("no `{missing}`")));
    }
    let last = lines.last().copied().unwrap_or("");
    if !last.starts_with("run: passed") {
        return Err(fail(format!("the last line is not the verdict: `{last}`")));
    }
    let unwanted = [
        "KTAP version",
        "x30 ",
        "ELR ",
        "backtrace:",
        "faulted",
        "    ok ",
    ];
    if let Some(found) = unwanted.iter().find(|u| out.contains(*u)) {
        return Err(fail(format!("`{found}` in mode=run's output")));
    }
    if lines.len() > 60 {
        return Err(fail(format!(
            "{} lines; a passing run prints at most 60",
            lines.len()
        )));
    }
    Ok(())
}

/// In `mode=test` a death test's fault report is printed as KTAP `#`
/// diagnostics inside the test that expected it: in words first, then the
/// registers.
fn death_test_report_is_a_diagnostic(run: &Run) -> Result<(), Failed> {
    let id = "el0_smoke.touching_kernel_memory_ends_the_task";
    let (_, test) = run
        .parsed
        .document
        .find(id)
        .ok_or_else(|| format!("{id} is not in the transcript\n{}", run.context()))?;
    let diagnostics = test.diagnostics.join("\n");
    let wanted = [
        "faulted: a read of 0x40080000 at pc 0x",
        "a kernel address",
        "ELR 0x",
        "x30 0x",
        "(faulting instruction)",
    ];
    match wanted.iter().find(|w| !diagnostics.contains(*w)) {
        None => Ok(()),
        Some(missing) => Err(format!(
            "{id}'s diagnostics lack `{missing}`:\n{diagnostics}\n{}",
            run.context()
        )
        .into()),
    }
}

/// On several CPUs a killed task's threads still running elsewhere may
/// touch memory its end has already unmapped before the kick reaches them:
/// they leave without a fault report (the task's end is its kill's).
fn killed_threads_leave_quietly(run: &Run) -> Result<(), Failed> {
    let id = "smp.a_killed_task_s_threads_on_other_cpus_stop";
    let (_, test) = run
        .parsed
        .document
        .find(id)
        .ok_or_else(|| format!("{id} is not in the transcript\n{}", run.context()))?;
    match test.diagnostics.iter().find(|d| d.contains("faulted")) {
        None => Ok(()),
        Some(line) => Err(format!("{id} printed a fault report: `{line}`").into()),
    }
}

/// 100,000 threads and 20,000 tasks come and go; heap and frames return.
fn churn_full_size() -> Result<(), Failed> {
    let config = qemu::config(SELF_TEST_CONFIG).ok_or("self-test configuration is missing")?;
    let mut settings = Settings::from_env()?;
    settings.timeout = settings.timeout.max(CHURN_TIMEOUT);
    let run = Run::boot(config, &settings, &format!("test={CHURN_TEST} churn=full"))?;
    match run.test_verdict(CHURN_TEST) {
        TestVerdict::Pass => Ok(()),
        TestVerdict::Skip(reason) => Err(format!("skipped: {reason}").into()),
        TestVerdict::Fail(message) => Err(message.into()),
    }
}

/// Boots `image` on `config` in `mode=run`; checks it ends with status 0
/// and printed `wanted`.
fn boot_and_expect(config: &Config, image: &Path, wanted: &str) -> Result<(), Failed> {
    let settings = Settings::from_env()?;
    let bootargs = qemu::RUN_BOOTARGS;
    let run = boot_run(config, image, bootargs, &settings)?;
    if run.transcript.exit != Exit::Code(0) || !run.transcript.stdout.contains(wanted) {
        return Err(format!("expected `{wanted}` and status 0\n{}", run.context()).into());
    }
    Ok(())
}

/// A trial that is one function: its name and the function.
type PlainTrial = (&'static str, fn() -> Result<(), Failed>);

/// Boots `image` on `config` with `bootargs` (within `settings.timeout`).
fn boot_run(
    config: &Config,
    image: &Path,
    bootargs: &str,
    settings: &Settings,
) -> Result<Run, Failed> {
    let t = qemu::boot(config, image, bootargs, settings.timeout)?;
    Ok(Run::new(config.name, bootargs, t))
}

fn raspi4b() -> Result<&'static Config, Failed> {
    Ok(qemu::config("raspi4b").ok_or("no raspi4b configuration")?)
}

/// A scratch directory under the target directory, emptied first.
fn scratch(name: &str) -> Result<PathBuf, Failed> {
    let dir = vmm_tests::workspace_root()
        .join("target/vmm-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

/// The stub's run, as its banner and the GIC's log line tell it: entered at
/// non-secure EL2, the GIC seen through its non-secure view (what the suites
/// ran against), RAM is
/// the 256 MiB the tree makes available and nothing of the secure RAM at
/// 0x0e00_0000 (`status = "disabled"`) shows as memory or reserved.
fn non_secure_banner(run: &Run) -> Result<(), Failed> {
    let stdout = &run.transcript.stdout;
    let banner = |prefix: &str| {
        stdout
            .lines()
            .filter(|l| l.trim_start().starts_with(prefix))
            .collect::<Vec<_>>()
    };
    let memory = banner("memory:");
    let wanted = ["  memory:      0x0040000000..0x0050000000 (256 MiB)"];
    let secure = |l: &&str| l.contains("0x000e") || l.contains("0x000f000000");
    if memory != wanted || banner("reserved:").iter().any(secure) {
        return Err(format!(
            "banner memory {memory:?}, wanted {wanted:?}\n{}",
            run.context()
        )
        .into());
    }
    for wanted in [
        "exception:   entered at EL2, running at EL1",
        "gic:         GICv2, GICD 0x8000000, GICC 0x8010000",
        "gic: non-secure view (Security Extensions): Group 1 only",
    ] {
        if !stdout.contains(wanted) {
            return Err(format!("no `{wanted}` in the banner\n{}", run.context()).into());
        }
    }
    Ok(())
}

/// The Pi's firmware loads an Image-headed kernel8.img at 0x20_0000 on some
/// versions. QEMU loads an arm64 Image at its header's `text_offset`, so a
/// copy whose header says 0x20_0000 is loaded there: `boot.s` must notice
/// (`adr` ≠ link address), copy the image to 0x8_0000 and run on.
fn rpi4_relocates() -> Result<(), Failed> {
    const TEXT_OFFSET: std::ops::Range<usize> = 8..16;
    let settings = Settings::from_env()?;
    let config = raspi4b()?;
    let mut image = std::fs::read(settings.image_for(config))
        .map_err(|e| format!("{}: {e}", settings.image_for(config).display()))?;
    image
        .get_mut(TEXT_OFFSET)
        .ok_or("image too short")?
        .copy_from_slice(&0x20_0000u64.to_le_bytes());
    let path = scratch("relocation")?.join("kernel8-at-2mib.img");
    std::fs::write(&path, &image).map_err(|e| e.to_string())?;
    boot_and_expect(
        config,
        &path,
        "relocated:   loaded at 0x0000200000, moved to 0x0000080000",
    )
}

/// Without `-dtb`, QEMU passes the Pi an ATAG list in x0: the kernel falls
/// back to the built-in BCM2711 map (memory and bootargs from the ATAGs).
fn rpi4_boots_from_atags() -> Result<(), Failed> {
    let config = Config {
        dtb: None,
        ..*raspi4b()?
    };
    let settings = Settings::from_env()?;
    boot_and_expect(
        &config,
        settings.image_for(&config),
        "no device tree: built-in Rpi4 map",
    )
}

/// No PSCI on the Pi: with `fatal=reset` and no semihosting exit, a failed
/// run resets through the BCM2711 watchdog (PM_WDOG/PM_RSTC), which QEMU
/// (`-no-reboot`) turns into its exit. Without the reset the board would
/// halt and the run time out.
fn rpi4_watchdog_reset() -> Result<(), Failed> {
    let config = raspi4b()?;
    let settings = Settings::from_env()?.with_timeout_at_most(HANG_TIMEOUT);
    // `boot` selects two quick suites (boot, mmu.boot_stack_…): the break
    // comes after the first.
    let bootargs = "mode=test test=boot break=panic fatal=reset";
    let run = boot_run(config, settings.image_for(config), bootargs, &settings)?;
    let said = run.transcript.stdout.contains("run ended with status 3");
    match run.transcript.exit {
        Exit::Code(_) if said => Ok(()),
        _ => Err(format!(
            "expected a watchdog reset after the failed run\n{}",
            run.context()
        )
        .into()),
    }
}

/// `images/rpi4/mksdcard` (what `just sdcard` runs) builds a card whose MBR
/// holds one bootable FAT32 partition with the firmware, the device tree,
/// config.txt and the kernel, byte for byte.
fn rpi4_sdcard() -> Result<(), Failed> {
    let root = vmm_tests::workspace_root();
    let settings = Settings::from_env()?;
    let kernel = settings.image_for(raspi4b()?).to_path_buf();
    let firmware = root.join(qemu::RPI4_FIRMWARE_DIR);
    let card = scratch("sdcard")?.join("sdcard.img");
    let run = |cmd: &mut Command| -> Result<Vec<u8>, Failed> {
        let out = cmd
            .env("MTOOLS_SKIP_CHECK", "1")
            .output()
            .map_err(|e| format!("{cmd:?}: {e} (run ci/setup)"))?;
        if !out.status.success() {
            return Err(format!(
                "{cmd:?} failed: {}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        Ok(out.stdout)
    };
    run(Command::new(root.join("images/rpi4/mksdcard"))
        .arg(&kernel)
        .arg(&firmware)
        .arg(&card))?;

    let table = String::from_utf8_lossy(&run(Command::new("sfdisk").arg("--dump").arg(&card))?)
        .into_owned();
    let partitions: Vec<&str> = table.lines().filter(|l| l.contains("start=")).collect();
    let [partition] = partitions[..] else {
        return Err(format!("expected one partition:\n{table}").into());
    };
    if !table.contains("label: dos") {
        return Err(format!("not an MBR (dos) label:\n{table}").into());
    }
    // One bootable W95 FAT32 (LBA) partition at 1 MiB.
    for want in ["start=        2048", "type=c", "bootable"] {
        if !partition.contains(want) {
            return Err(format!("partition lacks `{want}`: {partition}").into());
        }
    }
    // mtools addresses the partition inside the image by its byte offset.
    let fat = format!("{}@@1M", card.display());
    let listing =
        String::from_utf8_lossy(&run(Command::new("minfo").arg("-i").arg(&fat).arg("::"))?)
            .into_owned();
    // The boot sector's file system type field.
    if !listing.contains("disk type=\"FAT32") {
        return Err(format!("not a FAT32 file system:\n{listing}").into());
    }
    let files = [
        ("start4.elf", firmware.join("start4.elf")),
        ("fixup4.dat", firmware.join("fixup4.dat")),
        ("bcm2711-rpi-4-b.dtb", firmware.join("bcm2711-rpi-4-b.dtb")),
        ("config.txt", root.join("images/rpi4/config.txt")),
        ("cmdline.txt", root.join("images/rpi4/cmdline.txt")),
        ("kernel8.img", kernel.clone()),
    ];
    for (name, source) in &files {
        let on_card = run(Command::new("mtype")
            .arg("-i")
            .arg(&fat)
            .arg(format!("::/{name}")))?;
        let expected = std::fs::read(source).map_err(|e| format!("{}: {e}", source.display()))?;
        if on_card != expected {
            return Err(format!("{name} on the card differs from {}", source.display()).into());
        }
    }
    let config = String::from_utf8_lossy(&run(Command::new("mtype")
        .arg("-i")
        .arg(&fat)
        .arg("::/config.txt"))?)
    .into_owned();
    for line in [
        "arm_64bit=1",
        "enable_uart=1",
        "kernel=kernel8.img",
        "init_uart_clock=48000000",
        "enable_gic=1",
    ] {
        if !config.lines().any(|l| l.trim() == line) {
            return Err(format!("config.txt lacks `{line}`:\n{config}").into());
        }
    }
    Ok(())
}

/// What the kernel's lock check says when a lock is taken before the MMU
/// and data cache are on (`unikernel/kernel/src/sync.rs`).
const LOCK_BEFORE_MMU: &str = "lock taken before the MMU and data cache are on";
/// The kernel's exit status for a fatal error (`power::EXIT_FATAL`).
const EXIT_FATAL: i32 = 3;

/// `break=premmu`: a lock taken before the MMU is on (which would hang a
/// real Pi 4 without a word) stops the boot at once, saying why, with the
/// fatal status, before any test runs; and the run is judged a failure.
fn lock_before_mmu_stops_the_boot() -> Result<(), Failed> {
    let config = qemu::config(SELF_TEST_CONFIG).ok_or("self-test configuration is missing")?;
    let settings = Settings::from_env()?;
    let run = Run::boot(config, &settings, "break=premmu")?;
    let fail = |why: &str| Failed::from(format!("`break=premmu`: {why}\n{}", run.context()));
    if !run.transcript.stdout.contains(LOCK_BEFORE_MMU) {
        return Err(fail(
            "the guest did not say a lock was taken before the MMU",
        ));
    }
    if run.transcript.exit != Exit::Code(EXIT_FATAL) {
        return Err(fail("the guest did not stop with the fatal status"));
    }
    if !run.parsed.document.test_ids().is_empty() {
        return Err(fail("tests ran: the boot should have stopped before them"));
    }
    let expected_ids = expected::read(config.name).map_err(|e| fail(&e.to_string()))?;
    if run.document_verdict(&expected_ids).is_ok() {
        return Err(fail("the run was judged a success"));
    }
    Ok(())
}

/// What the kernel's lock-order check says for `break=lockorder`
/// (`unikernel/kernel/src/sync.rs`): both locks, by name and rank.
const LOCK_ORDER_BROKEN: &str = "lock order broken: taking object space (objects::SPACE) (rank 2) \
     while holding page tables (vm::SPACE) (rank 7)";

/// `break=lockorder`: two ranked locks taken in the wrong order in the
/// middle of the test run end it at once, naming both locks, with the
/// fatal status; and the run is judged a failure.
fn lock_order_violation_stops_the_run() -> Result<(), Failed> {
    let config = qemu::config(SELF_TEST_CONFIG).ok_or("self-test configuration is missing")?;
    let settings = Settings::from_env()?;
    let run = Run::boot(config, &settings, "break=lockorder")?;
    let fail = |why: &str| Failed::from(format!("`break=lockorder`: {why}\n{}", run.context()));
    if !run.transcript.stdout.contains(LOCK_ORDER_BROKEN) {
        return Err(fail(
            "the guest did not name both locks of the broken order",
        ));
    }
    if run.transcript.exit != Exit::Code(EXIT_FATAL) {
        return Err(fail("the guest did not stop with the fatal status"));
    }
    let expected_ids = expected::read(config.name).map_err(|e| fail(&e.to_string()))?;
    if run.document_verdict(&expected_ids).is_ok() {
        return Err(fail("the run was judged a success"));
    }
    Ok(())
}

/// `<config>::<suite>::<test>` for the guest test `<suite>.<test>`.
fn trial_name(config: &str, id: &str) -> String {
    match id.split_once('.') {
        Some((suite, test)) => format!("{config}::{suite}::{test}"),
        None => format!("{config}::{id}"),
    }
}

/// Boots the self-test configuration with `extra` bootargs and checks that
/// the run is judged a failure within its timeout, whose message (and that
/// of every expected test that did not report) shows the transcript's tail;
/// `check` checks how the run ended.
fn broken_run(
    extra: &str,
    timeout_cap: Option<Duration>,
    check: impl FnOnce(&Run) -> Result<(), String>,
) -> Result<(), Failed> {
    broken_run_on(SELF_TEST_CONFIG, extra, timeout_cap, check)
}

/// [`broken_run`] on the configuration called `name`: on TCG if it uses
/// semihosting (what its checks expect), else on `VMM_ACCEL`.
fn broken_run_on(
    name: &str,
    extra: &str,
    timeout_cap: Option<Duration>,
    check: impl FnOnce(&Run) -> Result<(), String>,
) -> Result<(), Failed> {
    let config = qemu::config(name).ok_or_else(|| format!("no configuration `{name}`"))?;
    let mut settings = Settings::from_env()?;
    if config.semihosting() {
        settings.accel = Accel::Tcg;
    }
    if let Some(cap) = timeout_cap {
        settings = settings.with_timeout_at_most(cap);
    }
    judge_broken_run(config, &settings, extra, check)
}

/// Boots `config` with `extra` bootargs under `settings` and judges it as
/// [`broken_run`] says.
fn judge_broken_run(
    config: &Config,
    settings: &Settings,
    extra: &str,
    check: impl FnOnce(&Run) -> Result<(), String>,
) -> Result<(), Failed> {
    let run = Run::boot(config, settings, extra)?;
    let fail = |why: String| Failed::from(format!("`{extra}`: {why}\n{}", run.context()));

    check(&run).map_err(fail)?;
    if run.transcript.elapsed > settings.timeout + Duration::from_secs(5) {
        return Err(fail(format!(
            "judging took {:.1} s, beyond the {} s timeout",
            run.transcript.elapsed.as_secs_f64(),
            settings.timeout.as_secs()
        )));
    }
    let last_line = run
        .transcript
        .stdout
        .lines()
        .rev()
        .map(str::trim_end)
        .find(|l| !l.is_empty())
        .ok_or_else(|| fail("the guest printed nothing, so nothing shows it broke mid-run".into()))?
        .to_string();
    // Failure messages show the tail with its code addresses named.
    let last_line = vmm_tests::symbolize::annotate_for_config(config.name, &last_line);
    if run.parsed.document.test_ids().is_empty() {
        return Err(fail(
            "no test reported before the break: it should come mid-run".into(),
        ));
    }
    let expected_ids = expected::read(config.name).map_err(|e| fail(e.to_string()))?;
    let message = match run.document_verdict(&expected_ids) {
        Ok(()) => return Err(fail("the broken run was judged a success".into())),
        Err(message) => message,
    };
    if !message.contains(&last_line) {
        return Err(fail(format!(
            "the run's failure message lacks the transcript tail:\n{message}"
        )));
    }
    if let Exit::TimedOut(after) = run.transcript.exit {
        let said = format!("timed out after {} s", after.as_secs());
        if !message.contains(&said) {
            return Err(fail(format!("the failure message does not say `{said}`")));
        }
    }
    // Expected tests the broken run never reached fail too, with the tail.
    for id in &expected_ids {
        if run.parsed.document.find(id).is_some() {
            continue;
        }
        match run.test_verdict(id) {
            TestVerdict::Fail(m) if m.contains(&last_line) => {}
            other => {
                return Err(fail(format!(
                    "unreached test {id} was judged {other:?}, not a failure showing the tail"
                )))
            }
        }
    }
    Ok(())
}
