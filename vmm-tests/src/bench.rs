//! Benchmarks under deterministic time: boot `mode=bench` with
//! `-icount shift=0,sleep=off` (guest time advances one nanosecond per
//! guest instruction), parse the guest's `bench …` lines, relate each
//! operation to its floor measured in the same run, and check the targets.

use std::fmt::Write as _;

/// QEMU arguments for deterministic guest time.
pub const ICOUNT: &[&str] = &["-icount", "shift=0,sleep=off"];
/// Bootargs of a benchmark run.
pub const BENCH_BOOTARGS: &str = "mode=bench exit=semihosting";

/// Boots `config`'s image in `mode=bench` under deterministic time and
/// reports the figures; any failure of the run is an error.
pub fn boot_and_report(
    config: &crate::qemu::Config,
    settings: &crate::Settings,
) -> Result<Report, String> {
    let transcript = crate::qemu::boot_on(
        crate::qemu::Accel::Tcg,
        config,
        settings.image_for(config),
        BENCH_BOOTARGS,
        ICOUNT,
        settings.timeout,
    )
    .map_err(|e| e.to_string())?;
    if transcript.exit != crate::qemu::Exit::Code(0) {
        return Err(format!(
            "the benchmark run failed ({}):\n{}",
            transcript.exit,
            crate::symbolize::annotate_for_image(settings.image_for(config), &transcript.stdout)
        ));
    }
    parse(&transcript.stdout).and_then(Report::new)
}

/// One operation's figures, in guest ns per operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Measurement {
    /// The operation.
    pub name: String,
    /// Operations per repetition.
    pub ops: u64,
    /// Repetitions.
    pub reps: u64,
    /// Fastest repetition, per operation.
    pub min_ns: u64,
    /// Median repetition, per operation.
    pub median_ns: u64,
}

/// Every operation a benchmark run must report.
pub const OPERATIONS: &[&str] = &[
    "kernel_page_copy_4k",
    "kernel_page_zero_4k",
    "null_syscall",
    "el0_neon_copy_4k",
    "zero_fill_fault_warm",
    "zero_fill_fault_empty",
    "cow_fault",
    "read_fault_through_child",
    "create_child_4k",
    "create_child_1g",
    "create_child_1t",
    "vmo_read_4k_chain_1",
    "vmo_read_4k_chain_8",
    "vmo_read_4k_chain_64",
    "vmar_map_unmap_4k",
    "vmar_map_unmap_1g",
    "vmar_map_unmap_4k_n1",
    "vmar_map_unmap_4k_n4096",
    "vmar_map_front_4k_n1",
    "vmar_map_front_4k_n4096",
    "task_exit_h16",
    "task_exit_h4094",
    "wait_one_signaled_event",
    "signal_wakeup",
    "port_queue_wait",
    "signal_port_wait",
    "signal_wakeup_across_tasks",
    "nanosleep_1ms_lateness",
    "boot_to_first_task",
    "irq_masked_max_stress",
    "sleep_1ms_late_stress",
    "zero_fill_fault_m0",
    "zero_fill_fault_m4096",
    "zero_fill_fault_c2048",
    "create_child_close_c2048",
    "vmar_map_unmap_4k_vmo_n4096",
];

/// The rows that need several CPUs (`unikernel/tasks/src/bench_smp.rs`),
/// measured on the `-smp 4` sibling of the configuration ([`smp_config`]).
pub const SMP_OPERATIONS: &[&str] = &[
    "smp_zero_fill_cpus1",
    "smp_zero_fill_cpus4",
    "smp_map_unmap_cpus1",
    "smp_map_unmap_cpus4",
    "smp_ipi_wakeup",
];

/// Bootargs of the `-smp 4` benchmark run: the `smp_` rows only.
pub const SMP_BENCH_BOOTARGS: &str = "mode=bench test=smp_ exit=semihosting";

/// The `-smp 4` configuration whose boot gives `config`'s `smp_` rows, if
/// there is one (`virt-gicv2` → `virt-gicv2-smp4`; an smp4 one is its own).
pub fn smp_config(config: &str) -> Option<&'static crate::qemu::Config> {
    let name = if config.ends_with("-smp4") {
        config.to_string()
    } else {
        format!("{config}-smp4")
    };
    crate::qemu::config(&name).filter(|c| c.smp == Some("4"))
}

/// Boots `config` (an `-smp 4` one) in `mode=bench test=smp_` under
/// deterministic time and returns its `smp_` rows; each of
/// [`SMP_OPERATIONS`] must be there.
pub fn boot_smp(
    config: &crate::qemu::Config,
    settings: &crate::Settings,
) -> Result<Vec<Measurement>, String> {
    let transcript = crate::qemu::boot_on(
        crate::qemu::Accel::Tcg,
        config,
        settings.image_for(config),
        SMP_BENCH_BOOTARGS,
        ICOUNT,
        settings.timeout,
    )
    .map_err(|e| e.to_string())?;
    if transcript.exit != crate::qemu::Exit::Code(0) {
        return Err(format!(
            "the -smp 4 benchmark run failed ({}):\n{}",
            transcript.exit,
            crate::symbolize::annotate_for_image(settings.image_for(config), &transcript.stdout)
        ));
    }
    smp_rows(&transcript.stdout)
}

/// The `smp_` rows of a transcript; every one of [`SMP_OPERATIONS`] must be there.
pub fn smp_rows(transcript: &str) -> Result<Vec<Measurement>, String> {
    let rows: Vec<Measurement> = parse(transcript)?
        .into_iter()
        .filter(|m| m.name.starts_with("smp_"))
        .collect();
    let missing: Vec<&str> = SMP_OPERATIONS
        .iter()
        .copied()
        .filter(|op| !rows.iter().any(|m| m.name == *op))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "operations missing from the -smp 4 run: {}",
            missing.join(", ")
        ));
    }
    Ok(rows)
}

/// Parses the `bench <name> ops=… reps=… min_ns=… median_ns=…` lines of a transcript.
pub fn parse(transcript: &str) -> Result<Vec<Measurement>, String> {
    let mut out = Vec::new();
    for line in transcript.lines().map(str::trim) {
        let Some(rest) = line.strip_prefix("bench ") else {
            continue;
        };
        let mut words = rest.split_whitespace();
        let name = words
            .next()
            .ok_or_else(|| format!("no name: `{line}`"))?
            .to_string();
        let mut field = |key: &str| -> Result<u64, String> {
            let word = words
                .next()
                .ok_or_else(|| format!("missing {key}: `{line}`"))?;
            word.strip_prefix(key)
                .and_then(|v| v.strip_prefix('='))
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("bad {key}: `{line}`"))
        };
        let m = Measurement {
            name,
            ops: field("ops")?,
            reps: field("reps")?,
            min_ns: field("min_ns")?,
            median_ns: field("median_ns")?,
        };
        if out.iter().any(|o: &Measurement| o.name == m.name) {
            return Err(format!("{} reported twice", m.name));
        }
        out.push(m);
    }
    Ok(out)
}

/// A target from the issue, checked against a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// What is compared, in words.
    pub what: String,
    /// The measured value (guest ns, or a ratio).
    pub value: f64,
    /// The limit it must not exceed.
    pub limit: f64,
}

impl Target {
    /// Whether the value is within the limit.
    pub fn met(&self) -> bool {
        self.value <= self.limit
    }
}

/// The figures of a run, by name.
#[derive(Debug)]
pub struct Report {
    /// Everything measured, in run order.
    pub measurements: Vec<Measurement>,
    /// The Linux side measured in the same run ([`crate::linux`]), or why
    /// it was not.
    pub linux: Result<crate::linux::Run, crate::linux::Error>,
}

impl Report {
    /// A report of `measurements`; every operation in [`OPERATIONS`] must be there.
    pub fn new(measurements: Vec<Measurement>) -> Result<Self, String> {
        let missing: Vec<&str> = OPERATIONS
            .iter()
            .copied()
            .filter(|op| !measurements.iter().any(|m| m.name == *op))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "operations missing from the run: {}",
                missing.join(", ")
            ));
        }
        Ok(Self {
            measurements,
            linux: Err(crate::linux::Error::NotSetUp(
                "no Linux run was attached".to_string(),
            )),
        })
    }

    /// This report with the `smp_` rows of the `-smp 4` run
    /// ([`boot_smp`]) after its own.
    pub fn with_smp(mut self, rows: Vec<Measurement>) -> Self {
        self.measurements
            .retain(|m| !SMP_OPERATIONS.contains(&m.name.as_str()));
        self.measurements.extend(rows);
        self
    }

    /// Whether the report holds the `smp_` rows.
    pub fn has_smp(&self) -> bool {
        SMP_OPERATIONS
            .iter()
            .all(|op| self.measurements.iter().any(|m| m.name == *op))
    }

    /// This report with the Linux side of the same run.
    pub fn with_linux(mut self, linux: Result<crate::linux::Run, crate::linux::Error>) -> Self {
        self.linux = linux;
        self
    }

    /// The Linux figure that fills our row `name`'s column: the Linux
    /// operation and its figures, and ours over Linux (medians).
    pub fn linux_for(&self, name: &str) -> Option<(&Measurement, f64)> {
        let run = self.linux.as_ref().ok()?;
        let linux = run.measurement(crate::linux::row_for(name)?.linux)?;
        Some((linux, self.median(name) / linux.median_ns as f64))
    }

    /// The median of `name`, in guest ns.
    pub fn median(&self, name: &str) -> f64 {
        self.measurements
            .iter()
            .find(|m| m.name == name)
            .map_or(f64::NAN, |m| m.median_ns as f64)
    }

    /// The floor an operation is measured against, and its value.
    pub fn floor(&self, name: &str) -> (&'static str, f64) {
        let trap = self.median("null_syscall");
        match name {
            "null_syscall"
            | "boot_to_first_task"
            | "kernel_page_copy_4k"
            | "kernel_page_zero_4k"
            | "nanosleep_1ms_lateness"
            | "irq_masked_max_stress"
            | "sleep_1ms_late_stress" => ("-", f64::NAN),
            _ if name.starts_with("irq_masked_") || name.starts_with("sleep_late_") => {
                ("-", f64::NAN)
            }
            "el0_neon_copy_4k" => ("kernel copy", self.median("kernel_page_copy_4k")),
            "cow_fault" => ("trap + copy", trap + self.median("kernel_page_copy_4k")),
            // A warm pool hands out a zeroed frame: the fault's floor is the trap.
            "zero_fill_fault_warm" => ("trap", trap),
            "zero_fill_fault_empty" => ("trap + zero", trap + self.median("kernel_page_zero_4k")),
            "create_child_1g" | "create_child_1t" => {
                ("create_child_4k", self.median("create_child_4k"))
            }
            "vmar_map_unmap_1g" | "vmar_map_unmap_4k_vmo_n4096" => {
                ("map_unmap_4k", self.median("vmar_map_unmap_4k"))
            }
            "zero_fill_fault_m0" => ("trap + zero", trap + self.median("kernel_page_zero_4k")),
            // Measured the same way as their floor, without the other
            // mappings or children.
            "zero_fill_fault_m4096" | "zero_fill_fault_c2048" => {
                ("zero_fill_m0", self.median("zero_fill_fault_m0"))
            }
            "create_child_close_c2048" => ("create_child_4k", self.median("create_child_4k")),
            "vmar_map_unmap_4k_n4096" => ("same, n=1", self.median("vmar_map_unmap_4k_n1")),
            "vmar_map_front_4k_n4096" => ("same, n=1", self.median("vmar_map_front_4k_n1")),
            "task_exit_h4094" => ("same, h=16", self.median("task_exit_h16")),
            // The same work on one CPU, in the same -smp 4 run.
            "smp_zero_fill_cpus4" => ("same, 1 CPU", self.median("smp_zero_fill_cpus1")),
            "smp_map_unmap_cpus4" => ("same, 1 CPU", self.median("smp_map_unmap_cpus1")),
            "smp_zero_fill_cpus1" => ("zero_fill_warm", self.median("zero_fill_fault_warm")),
            "smp_map_unmap_cpus1" => ("map_unmap_4k", self.median("vmar_map_unmap_4k")),
            "smp_ipi_wakeup" => ("signal_wakeup", self.median("signal_wakeup")),
            _ => ("trap", trap),
        }
    }

    /// The targets, checked.
    pub fn targets(&self) -> Vec<Target> {
        let m = |n: &str| self.median(n);
        let trap = m("null_syscall");
        let t = |what: &str, value: f64, limit: f64| Target {
            what: what.to_string(),
            value,
            limit,
        };
        let mut targets = vec![
            // Issue 14's limits. The earlier "1.5 x (trap + copy/zero)" rows
            // are gone: their floors fell (SIMD copy, pre-zeroed frames) while
            // the fault's bookkeeping did not; the table's ratio column
            // still shows each fault against the floor it pays (README).
            t("copy-on-write fault, guest ns", m("cow_fault"), 750.0),
            t(
                "zero-fill fault, pool warm, guest ns",
                m("zero_fill_fault_warm"),
                450.0,
            ),
            t(
                "zero-fill fault, pool empty, guest ns",
                m("zero_fill_fault_empty"),
                640.0,
            ),
            t(
                "boot to the first EL0 instruction, guest ns",
                m("boot_to_first_task"),
                400_000.0,
            ),
            t("null syscall, guest ns", trap, 100.0),
            t(
                "kernel 4 KiB copy, guest ns",
                m("kernel_page_copy_4k"),
                600.0,
            ),
            t(
                "create_child 1 TiB / 4 KiB parent",
                m("create_child_1t") / m("create_child_4k"),
                1.1,
            ),
            t(
                "map+unmap 1 GiB / 4 KiB",
                m("vmar_map_unmap_1g") / m("vmar_map_unmap_4k"),
                1.1,
            ),
            t(
                "map+unmap 4 KiB, n=4096 mappings / n=1",
                m("vmar_map_unmap_4k_n4096") / m("vmar_map_unmap_4k_n1"),
                1.3,
            ),
            t(
                "same, in front of all n=4096 / n=1",
                m("vmar_map_front_4k_n4096") / m("vmar_map_front_4k_n1"),
                1.3,
            ),
            t(
                "task exit per handle, h=4094 / h=16",
                m("task_exit_h4094") / m("task_exit_h16"),
                1.2,
            ),
            t(
                "zero-fill, 4096 other mappings / none",
                m("zero_fill_fault_m4096") / m("zero_fill_fault_m0"),
                1.2,
            ),
            t(
                "zero-fill, parent of 2048 children / none",
                m("zero_fill_fault_c2048") / m("zero_fill_fault_m0"),
                1.2,
            ),
            t(
                "create_child+close, 2048 siblings / none",
                m("create_child_close_c2048") / m("create_child_4k"),
                1.2,
            ),
            t(
                "map+unmap 4K, VMO mapped 4096x / once",
                m("vmar_map_unmap_4k_vmo_n4096") / m("vmar_map_unmap_4k"),
                1.3,
            ),
            t("signal -> wake-up, guest ns", m("signal_wakeup"), 1500.0),
            t(
                "port_queue + port_wait round trip, guest ns",
                m("port_queue_wait"),
                1000.0,
            ),
            t(
                "signal -> packet -> port_wait return, guest ns",
                m("signal_port_wait"),
                1500.0,
            ),
            t(
                "wake-up across tasks / within a task",
                m("signal_wakeup_across_tasks") / m("signal_wakeup"),
                1.1,
            ),
            t(
                "1 ms nanosleep lateness, guest ns",
                m("nanosleep_1ms_lateness"),
                1500.0,
            ),
            t(
                "longest IRQs-masked interval, stress, ns",
                m("irq_masked_max_stress"),
                100_000.0,
            ),
            t(
                "1 ms sleep lateness during stress, ns",
                m("sleep_1ms_late_stress"),
                150_000.0,
            ),
        ];
        // Issue 15's, from the -smp 4 run when there was one.
        if self.has_smp() {
            targets.extend([
                t(
                    "zero-fill fault, 4 CPUs at once / 1 CPU",
                    m("smp_zero_fill_cpus4") / m("smp_zero_fill_cpus1"),
                    1.3,
                ),
                t(
                    "map+unmap 4K, 4 CPUs at once / 1 CPU",
                    m("smp_map_unmap_cpus4") / m("smp_map_unmap_cpus1"),
                    1.3,
                ),
                t(
                    "signal -> waiter on another CPU, guest ns",
                    m("smp_ipi_wakeup"),
                    2000.0,
                ),
            ]);
        }
        targets
    }

    /// The table a person reads.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<26} {:>10} {:>10}  {:<16} {:>7} {:>10} {:>10}",
            "operation", "median ns", "min ns", "floor", "ratio", "Linux", "ours/Linux"
        );
        for m in &self.measurements {
            let (floor, value) = self.floor(&m.name);
            let ratio = if value.is_nan() {
                "-".to_string()
            } else {
                format!("{:.2}", m.median_ns as f64 / value)
            };
            let (linux, vs) = self
                .linux_for(&m.name)
                .map_or(("-".to_string(), "-".to_string()), |(l, r)| {
                    (l.median_ns.to_string(), ratio_text(r))
                });
            let _ = writeln!(
                s,
                "{:<26} {:>10} {:>10}  {:<16} {:>7} {:>10} {:>10}",
                m.name, m.median_ns, m.min_ns, floor, ratio, linux, vs
            );
        }
        s.push('\n');
        s.push_str(&self.linux_table());
        let _ = writeln!(s, "\ntargets:");
        for t in self.targets() {
            let verdict = if t.met() { "met" } else { "MISSED" };
            let _ = writeln!(
                s,
                "  {:<44} {:>10.2} <= {:<10.2} {verdict}",
                t.what, t.value, t.limit
            );
        }
        s
    }

    /// The same as JSON.
    pub fn json(&self, config: &str) -> String {
        let num = |v: f64| {
            if v.is_finite() {
                format!("{v:.3}")
            } else {
                "null".to_string()
            }
        };
        let mut s = String::new();
        let _ = write!(s, "{{\n  \"config\": \"{config}\",\n  \"clock\": \"-icount shift=0,sleep=off (1 guest ns per instruction)\",\n  \"operations\": [\n");
        for (i, m) in self.measurements.iter().enumerate() {
            let (floor, value) = self.floor(&m.name);
            let ratio = m.median_ns as f64 / value;
            let linux = self.linux_for(&m.name).map_or(
                "\"linux_operation\": null, \"linux_min_ns\": null, \"linux_median_ns\": null, \"ours_over_linux\": null".to_string(),
                |(l, r)| {
                    format!(
                        "\"linux_operation\": \"{}\", \"linux_min_ns\": {}, \"linux_median_ns\": {}, \"ours_over_linux\": {}",
                        l.name,
                        l.min_ns,
                        l.median_ns,
                        json_ratio(r)
                    )
                },
            );
            let _ = writeln!(
                s,
                "    {{\"name\": \"{}\", \"ops\": {}, \"reps\": {}, \"min_ns\": {}, \"median_ns\": {}, \"floor\": \"{}\", \"ratio\": {}, {}}}{}",
                m.name,
                m.ops,
                m.reps,
                m.min_ns,
                m.median_ns,
                floor,
                num(ratio),
                linux,
                if i + 1 < self.measurements.len() { "," } else { "" }
            );
        }
        let _ = write!(s, "  ],\n  \"targets\": [\n");
        let targets = self.targets();
        for (i, t) in targets.iter().enumerate() {
            let _ = writeln!(
                s,
                "    {{\"what\": \"{}\", \"value\": {}, \"limit\": {}, \"met\": {}}}{}",
                t.what,
                num(t.value),
                num(t.limit),
                t.met(),
                if i + 1 < targets.len() { "," } else { "" }
            );
        }
        s.push_str("  ],\n");
        let _ = writeln!(s, "  \"linux\": {}", self.linux_json());
        s.push_str("}\n");
        s
    }

    /// The Linux side, for the table: where its figures come from, and
    /// each Linux operation beside the row of ours it compares with.
    fn linux_table(&self) -> String {
        let mut s = String::new();
        let run = match &self.linux {
            Ok(run) => run,
            Err(e) => {
                let _ = writeln!(s, "Linux column: {e}");
                return s;
            }
        };
        let p = &run.package;
        let info = |k| run.info(k).unwrap_or("unknown");
        let _ = writeln!(
            s,
            "Linux column, measured in this run: Debian's {} {} (kernel {}; {} SHA-256 {}),\n\
             same machine, CPU, memory and -icount; command line `{}`; THP `{}`; KPTI: {}.\n\
             /init is {} (static, {}), timed as ours: batches, min and median of 7.",
            p.name,
            p.version,
            info("release"),
            p.deb,
            p.sha256,
            info("cmdline"),
            info("thp"),
            info("kpti"),
            crate::linux::INIT_SOURCE,
            crate::linux::CC
        );
        let _ = writeln!(
            s,
            "{:<28} {:>10} {:>10}  {:<24} {:>10}  what",
            "linux operation", "median ns", "min ns", "compared with", "ours/Linux"
        );
        for row in crate::linux::ROWS {
            let Some(l) = run.measurement(row.linux) else {
                continue;
            };
            let vs = self.median(row.ours) / l.median_ns as f64;
            let _ = writeln!(
                s,
                "{:<28} {:>10} {:>10}  {:<24} {:>10}  {}",
                l.name,
                l.median_ns,
                l.min_ns,
                row.ours,
                ratio_text(vs),
                row.what
            );
        }
        s
    }

    /// The Linux side as a JSON object: the package and every operation,
    /// or `{"error": …}`.
    fn linux_json(&self) -> String {
        let run = match &self.linux {
            Ok(run) => run,
            Err(e) => return format!("{{\"error\": {}}}", json_string(&e.to_string())),
        };
        let p = &run.package;
        let mut s = format!(
            "{{\"package\": {}, \"version\": {}, \"deb\": {}, \"sha256\": {}, \"release\": {}, \"cmdline\": {}, \"thp\": {}, \"kpti\": {}, \"operations\": [\n",
            json_string(&p.name),
            json_string(&p.version),
            json_string(&p.deb),
            json_string(&p.sha256),
            json_string(run.info("release").unwrap_or("")),
            json_string(run.info("cmdline").unwrap_or("")),
            json_string(run.info("thp").unwrap_or("")),
            json_string(run.info("kpti").unwrap_or("")),
        );
        let rows = crate::linux::ROWS;
        for (i, row) in rows.iter().enumerate() {
            let Some(l) = run.measurement(row.linux) else {
                continue;
            };
            let vs = self.median(row.ours) / l.median_ns as f64;
            let _ = writeln!(
                s,
                "    {{\"name\": \"{}\", \"what\": {}, \"ops\": {}, \"reps\": {}, \"min_ns\": {}, \"median_ns\": {}, \"ours\": \"{}\", \"ours_over_linux\": {}}}{}",
                l.name,
                json_string(row.what),
                l.ops,
                l.reps,
                l.min_ns,
                l.median_ns,
                row.ours,
                json_ratio(vs),
                if i + 1 < rows.len() { "," } else { "" }
            );
        }
        s.push_str("  ]}");
        s
    }
}

/// A ratio with two decimals, or two significant digits below 0.1 (our
/// boot is a small fraction of Linux's).
pub fn ratio_text(r: f64) -> String {
    if !r.is_finite() {
        return "-".to_string();
    }
    if r >= 0.1 || r <= 0.0 {
        return format!("{r:.2}");
    }
    let decimals = (-r.log10()).ceil() as usize + 1;
    format!("{r:.decimals$}")
}

/// A ratio for JSON: six decimals, or null.
fn json_ratio(r: f64) -> String {
    if r.is_finite() {
        format!("{r:.6}")
    } else {
        "null".to_string()
    }
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    let mut s = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(s, "\\u{:04x}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transcript() -> String {
        let mut s = String::from("banner\n");
        for (i, op) in OPERATIONS.iter().enumerate() {
            s.push_str(&format!(
                "bench {op} ops=10 reps=7 min_ns={} median_ns={}\n",
                100 + i,
                110 + i
            ));
        }
        s
    }

    #[test]
    fn parses_every_bench_line_and_ignores_the_rest() {
        let m = parse(&transcript()).unwrap();
        assert_eq!(m.len(), OPERATIONS.len());
        assert_eq!(m[2].name, "null_syscall");
        assert_eq!(
            (m[2].ops, m[2].reps, m[2].min_ns, m[2].median_ns),
            (10, 7, 102, 112)
        );
    }

    #[test]
    fn malformed_line_is_an_error() {
        assert!(parse("bench cow_fault ops=1 reps=x min_ns=1 median_ns=1").is_err());
        assert!(parse("bench cow_fault ops=1").is_err());
    }

    #[test]
    fn duplicate_operation_is_an_error() {
        assert!(parse(
            "bench a ops=1 reps=1 min_ns=1 median_ns=1\nbench a ops=1 reps=1 min_ns=1 median_ns=1"
        )
        .is_err());
    }

    #[test]
    fn missing_operation_is_an_error() {
        let mut m = parse(&transcript()).unwrap();
        m.retain(|m| m.name != "cow_fault");
        assert!(Report::new(m).unwrap_err().contains("cow_fault"));
    }

    #[test]
    fn targets_compare_against_floors_of_the_same_run() {
        let r = Report::new(parse(&transcript()).unwrap()).unwrap();
        let cow = r
            .targets()
            .into_iter()
            .find(|t| t.what.starts_with("copy-on-write fault,"))
            .unwrap();
        assert_eq!(cow.limit, 750.0);
        assert!(cow.met());
        // The warm zero-fill fault's floor is the trap alone; the empty
        // one's the trap and the kernel's zeroing (null 112 + zero 111).
        assert_eq!(r.floor("zero_fill_fault_warm"), ("trap", 112.0));
        assert_eq!(
            r.floor("zero_fill_fault_empty"),
            ("trap + zero", 112.0 + 111.0)
        );
        let boot = r
            .targets()
            .into_iter()
            .find(|t| t.what.starts_with("boot to the first EL0"))
            .unwrap();
        assert_eq!(boot.limit, 400_000.0);
        assert!(r.json("virt-gicv2").contains("\"name\": \"cow_fault\""));
        assert!(r.table().contains("targets:"));
    }

    /// A Linux run whose every operation's median is 1,000 ns more than
    /// its place in [`crate::linux::ROWS`].
    fn linux_run() -> crate::linux::Run {
        let mut console = String::from("linux-info thp=always madvise [never]\n");
        for (i, row) in crate::linux::ROWS.iter().enumerate() {
            console.push_str(&format!(
                "bench {} ops=1 reps=7 min_ns={} median_ns={}\n",
                row.linux,
                1000 + i,
                1000 + i
            ));
        }
        console.push_str("linux-bench: done, 0 failures\n");
        let package = crate::linux::Package {
            name: "linux-image-6.1.0-57-arm64".into(),
            version: "6.1.192-3".into(),
            deb: "linux-image-6.1.0-57-arm64_6.1.192-3_arm64.deb".into(),
            sha256: "8301bd5b5b2cf8fd5e479832200c23e64eca0ae9ec45c487c5c318b1e44d4692".into(),
        };
        crate::linux::parse(&console, package).unwrap()
    }

    #[test]
    fn stress_figures_are_rows_with_their_targets() {
        let r = Report::new(parse(&transcript()).unwrap()).unwrap();
        let table = r.table();
        assert!(table
            .lines()
            .any(|l| l.starts_with("irq_masked_max_stress ")));
        let masked = table
            .lines()
            .find(|l| l.contains("longest IRQs-masked interval"))
            .unwrap();
        assert!(
            masked.contains("100000.00") && masked.ends_with("met"),
            "{masked}"
        );
        assert!(table
            .lines()
            .any(|l| l.contains("1 ms sleep lateness during stress")));
    }

    #[test]
    fn linux_figures_of_the_same_run_sit_beside_ours_with_ratios() {
        let r = Report::new(parse(&transcript()).unwrap())
            .unwrap()
            .with_linux(Ok(linux_run()));
        let table = r.table();
        // cow_fault: ours 110 + 6 (its place in OPERATIONS); Linux
        // cow_fault_after_fork is ROWS[5]: 1005.
        let cow = table.lines().find(|l| l.starts_with("cow_fault ")).unwrap();
        assert!(cow.ends_with(" 1005       0.12"), "{cow}");
        let create = table
            .lines()
            .find(|l| l.starts_with("create_child_4k "))
            .unwrap();
        assert!(create.ends_with(" -          -"), "{create}");
        assert!(table.contains("zero_fill_fault_thp_default"), "{table}");
        assert!(table.contains("8301bd5b5b2cf8fd5e479832200c23e64eca0ae9ec45c487c5c318b1e44d4692"));
        let json = r.json("virt-gicv2");
        let zero = json
            .lines()
            .find(|l| l.contains("\"name\": \"zero_fill_fault_empty\""))
            .unwrap();
        assert!(
            zero.contains("\"linux_operation\": \"zero_fill_fault_thp_off\", \"linux_min_ns\": 1003, \"linux_median_ns\": 1003"),
            "{zero}"
        );
        let read = json
            .lines()
            .find(|l| l.contains("\"name\": \"vmo_read_4k_chain_1\""))
            .unwrap();
        assert!(read.contains("\"linux_median_ns\": null"), "{read}");
        assert!(json.contains("\"version\": \"6.1.192-3\""), "{json}");
        assert!(json.contains("\"name\": \"futex_wakeup\""), "{json}");
    }

    /// A `-smp 4` transcript: the five `smp_` rows (medians 400, 500,
    /// 2000, 2400, 1500) among a kernel floor it also prints.
    fn smp_transcript() -> String {
        let mut s = String::from("bench kernel_page_copy_4k ops=1 reps=7 min_ns=1 median_ns=1\n");
        for (op, ns) in SMP_OPERATIONS.iter().zip([400, 500, 2000, 2400, 1500]) {
            s.push_str(&format!(
                "bench {op} ops=64 reps=7 min_ns={ns} median_ns={ns}\n"
            ));
        }
        s
    }

    #[test]
    fn smp_rows_join_the_report_with_their_targets() {
        let rows = smp_rows(&smp_transcript()).unwrap();
        assert_eq!(rows.len(), SMP_OPERATIONS.len());
        let r = Report::new(parse(&transcript()).unwrap()).unwrap();
        assert!(!r.has_smp());
        assert!(!r.targets().iter().any(|t| t.what.contains("4 CPUs")));
        let r = r.with_smp(rows);
        assert!(r.has_smp());
        assert_eq!(r.floor("smp_zero_fill_cpus4"), ("same, 1 CPU", 400.0));
        let targets = r.targets();
        let zero = targets
            .iter()
            .find(|t| t.what.starts_with("zero-fill fault, 4 CPUs"))
            .unwrap();
        assert_eq!((zero.value, zero.met()), (1.25, true));
        let map = targets
            .iter()
            .find(|t| t.what.starts_with("map+unmap 4K, 4 CPUs"))
            .unwrap();
        assert_eq!((map.value, map.met()), (1.2, true));
        let ipi = targets
            .iter()
            .find(|t| t.what.contains("another CPU"))
            .unwrap();
        assert_eq!((ipi.value, ipi.limit, ipi.met()), (1500.0, 2000.0, true));
        let table = r.table();
        assert!(
            table.lines().any(|l| l.starts_with("smp_ipi_wakeup ")),
            "{table}"
        );
        assert!(r
            .json("virt-gicv2")
            .contains("\"name\": \"smp_map_unmap_cpus4\""));
    }

    #[test]
    fn an_smp_run_missing_a_row_is_an_error() {
        let t = smp_transcript().replace("smp_ipi_wakeup", "smp_other");
        assert!(smp_rows(&t).unwrap_err().contains("smp_ipi_wakeup"));
    }

    #[test]
    fn each_one_cpu_virt_configuration_has_an_smp4_sibling() {
        assert_eq!(smp_config("virt-gicv2").unwrap().name, "virt-gicv2-smp4");
        assert_eq!(smp_config("virt-gicv3").unwrap().name, "virt-gicv3-smp4");
        assert_eq!(
            smp_config("virt-gicv2-smp4").unwrap().name,
            "virt-gicv2-smp4"
        );
        assert!(smp_config("virt-el2").is_none());
    }

    #[test]
    fn small_ratios_keep_two_significant_digits() {
        assert_eq!(ratio_text(0.4912), "0.49");
        assert_eq!(ratio_text(0.0366), "0.037");
        assert_eq!(ratio_text(0.000557), "0.00056");
        assert_eq!(ratio_text(f64::NAN), "-");
    }

    #[test]
    fn without_linux_the_table_says_why_and_keeps_our_column() {
        let why = crate::linux::Error::NotSetUp("no \"kernel\"\nhere".to_string());
        let r = Report::new(parse(&transcript()).unwrap())
            .unwrap()
            .with_linux(Err(why));
        let table = r.table();
        assert!(
            table.contains("Linux column: not measured: no \"kernel\""),
            "{table}"
        );
        let null = table
            .lines()
            .find(|l| l.starts_with("null_syscall "))
            .unwrap();
        assert!(null.contains(" 112 "), "{null}");
        let json = r.json("virt-gicv2");
        assert!(
            json.contains("\"linux\": {\"error\": \"not measured: no \\\"kernel\\\"\\nhere\"}"),
            "{json}"
        );
    }
}
