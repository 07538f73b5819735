//! `vmm`: run, bless and describe the QEMU configurations (used by `just`).

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};

use vmm_tests::qemu::{self, Accel, Config, Exit, Host, CONFIGS};
use vmm_tests::symbolize::Symbolizer;
use vmm_tests::verdict::Run;
use vmm_tests::{expected, Settings};

const USAGE: &str = "\
usage:
  vmm run <config> [--append <bootargs>] [--image <path>] [--accel <accel>] [-- <qemu args>...]
      boot with the console on this terminal; exit with QEMU's status
      (default bootargs `mode=run`; `exit=semihosting` is added where the
      configuration and accelerator have semihosting)
  vmm bless [<config>...]
      boot each configuration (default: all) in test mode and rewrite
      vmm-tests/expected/<config>.txt from its transcript
  vmm bench [<config>]
      boot `mode=bench` under -icount shift=0,sleep=off (default virt-gicv2),
      and Debian's arm64 Linux with our benchmark /init beside it (the Linux
      column), print the table and write target/bench/<config>.json
  vmm qemu-args <config> [--append <bootargs>] [--image <path>] [--accel <accel>]
      print the QEMU command line, shell-quoted
  vmm list
      print the configuration names
  vmm embed-symbols <kernel ELF>
      write the kernel's compact symbol table into the ELF (`just image` does)
  vmm symbolize [<config>] [--image <path>]
      copy stdin to stdout, naming every code address in a report
      (a Pi's serial log: `picocom -b 115200 /dev/ttyUSB0 | vmm symbolize raspi4b`)
  vmm accel [tcg|kvm|hvf|auto]
      print the accelerator that name resolves to on this host, or why the
      host cannot run it

accelerators: tcg (default; every configuration), kvm (aarch64 Linux host),
              hvf (Apple silicon macOS), auto (kvm or hvf if the host has
              it, else tcg); kvm and hvf take `-cpu host` and have no semihosting

environment: VMM_IMAGE (virt image), VMM_RPI4_IMAGE (raspi4b image),
             VMM_TIMEOUT_SECS (bless, per boot), VMM_ACCEL (default accelerator)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("bless") => bless(&args[1..]),
        Some("qemu-args") => qemu_args(&args[1..]),
        Some("bench") => bench(&args[1..]),
        Some("symbolize") => symbolize(&args[1..]),
        Some("embed-symbols") => match args.get(1) {
            Some(elf) => {
                vmm_tests::symbolize::embed_kernel_symbols(std::path::Path::new(elf)).map(|said| {
                    println!("{said}");
                    ExitCode::SUCCESS
                })
            }
            None => Err(format!("embed-symbols needs the kernel ELF\n{USAGE}")),
        },
        Some("accel") => {
            let name = args.get(1).cloned().unwrap_or_default();
            Accel::resolve(&name, &Host::this()).map(|accel| {
                println!("{}", accel.name());
                ExitCode::SUCCESS
            })
        }
        Some("list") => {
            CONFIGS.iter().for_each(|c| println!("{}", c.name));
            Ok(ExitCode::SUCCESS)
        }
        Some("help" | "-h" | "--help") => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        _ => Err(format!("expected a subcommand\n{USAGE}")),
    };
    result.unwrap_or_else(|e| {
        eprintln!("vmm: {e}");
        ExitCode::from(2)
    })
}

/// The options `run` and `qemu-args` share.
struct BootOptions {
    config: &'static Config,
    bootargs: String,
    image: PathBuf,
    accel: Accel,
    /// Extra QEMU arguments after `--` (e.g. `-s -S` for a debugger).
    qemu_extra: Vec<OsString>,
}

fn parse_boot_options(args: &[String]) -> Result<BootOptions, String> {
    let mut config = None;
    let mut bootargs = "mode=run".to_string();
    let mut image = None;
    let mut accel_name = std::env::var("VMM_ACCEL").unwrap_or_default();
    let mut qemu_extra = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--append" => bootargs = iter.next().ok_or("--append needs a value")?.clone(),
            "--image" => image = Some(PathBuf::from(iter.next().ok_or("--image needs a value")?)),
            "--accel" => accel_name = iter.next().ok_or("--accel needs a value")?.clone(),
            "--" => {
                qemu_extra.extend(iter.by_ref().map(OsString::from));
            }
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}\n{USAGE}")),
            name if config.is_none() => {
                config = Some(qemu::config(name).ok_or_else(|| {
                    format!(
                        "unknown configuration `{name}` (known: {})",
                        qemu::config_names()
                    )
                })?);
            }
            extra => return Err(format!("unexpected argument `{extra}`\n{USAGE}")),
        }
    }
    let config = config
        .ok_or_else(|| format!("which configuration? ({})\n{USAGE}", qemu::config_names()))?;
    let accel = Accel::resolve(&accel_name, &Host::this())?;
    config.runs_on(accel)?;
    // The run ends with a semihosting exit carrying its status where there
    // is semihosting; elsewhere it powers off and the console says how it went.
    if config.uses_semihosting(accel)
        && !bootargs.split_whitespace().any(|w| w.starts_with("exit="))
    {
        bootargs.push_str(" exit=semihosting");
    }
    let image = match image {
        Some(image) => image,
        None => Settings::from_env()?.image_for(config).to_path_buf(),
    };
    Ok(BootOptions {
        config,
        bootargs,
        image,
        accel,
        qemu_extra,
    })
}

fn run(args: &[String]) -> Result<ExitCode, String> {
    let opts = parse_boot_options(args)?;
    if !opts.image.is_file() {
        return Err(qemu::BootError::ImageMissing(opts.image).to_string());
    }
    // The console passes through the symbolizer, a line at a time.
    let symbolizer = Symbolizer::for_image(&opts.image);
    let mut child = opts
        .config
        .command_on(opts.accel, &opts.image, &opts.bootargs)
        .args(&opts.qemu_extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| qemu::BootError::Spawn(e).to_string())?;
    if let Some(console) = child.stdout.take() {
        copy_symbolized(&symbolizer, BufReader::new(console));
    }
    let status = child
        .wait()
        .map_err(|e| qemu::BootError::Wait(e).to_string())?;
    Ok(match status.code() {
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => {
            eprintln!("vmm: QEMU was killed by a signal");
            ExitCode::FAILURE
        }
    })
}

/// Copies `input` to stdout line by line, each code address named.
fn copy_symbolized(symbolizer: &Symbolizer, mut input: impl BufRead) {
    let mut stdout = std::io::stdout().lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line);
        let text = symbolizer.annotate(&text);
        if stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
            .is_err()
        {
            return;
        }
    }
}

fn symbolize(args: &[String]) -> Result<ExitCode, String> {
    let mut image = None;
    let mut config = None;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--image" => image = Some(PathBuf::from(iter.next().ok_or("--image needs a value")?)),
            name if config.is_none() && !name.starts_with('-') => {
                config = Some(
                    qemu::config(name).ok_or_else(|| format!("unknown configuration `{name}`"))?,
                );
            }
            extra => return Err(format!("unexpected argument `{extra}`\n{USAGE}")),
        }
    }
    let image = match image {
        Some(image) => image,
        None => Settings::from_env()?
            .image_for(config.unwrap_or(&CONFIGS[0]))
            .to_path_buf(),
    };
    let symbolizer = Symbolizer::for_image(&image);
    if symbolizer.paths().next().is_none() {
        eprintln!(
            "vmm: no ELF beside {} (run `just build`); addresses stay unnamed",
            image.display()
        );
    }
    copy_symbolized(&symbolizer, std::io::stdin().lock());
    Ok(ExitCode::SUCCESS)
}

fn qemu_args(args: &[String]) -> Result<ExitCode, String> {
    let opts = parse_boot_options(args)?;
    let mut line = opts
        .config
        .command_line_on(opts.accel, &opts.image, &opts.bootargs);
    for extra in &opts.qemu_extra {
        line.push(' ');
        line.push_str(&qemu::shell_quote(&extra.to_string_lossy()));
    }
    println!("{line}");
    Ok(ExitCode::SUCCESS)
}

fn bless(args: &[String]) -> Result<ExitCode, String> {
    let configs: Vec<&'static Config> = if args.is_empty() {
        CONFIGS.iter().collect()
    } else {
        args.iter()
            .map(|name| {
                qemu::config(name).ok_or_else(|| {
                    format!(
                        "unknown configuration `{name}` (known: {})",
                        qemu::config_names()
                    )
                })
            })
            .collect::<Result<_, _>>()?
    };
    let settings = Settings::from_env()?;
    if let Some(why) = configs.iter().find_map(|c| c.runs_on(settings.accel).err()) {
        return Err(format!("cannot bless: {why} (bless under ACCEL=tcg)"));
    }
    // Boot them all at once; each is one QEMU process.
    let runs: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = configs
            .iter()
            .map(|config| scope.spawn(|| Run::boot(config, &settings, "")))
            .collect();
        handles.into_iter().map(|h| h.join()).collect()
    });
    let mut refused = false;
    for (config, run) in configs.iter().zip(runs) {
        let run = match run {
            Ok(Ok(run)) => run,
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err(format!("{}: boot thread panicked", config.name)),
        };
        match bless_one(config, &run) {
            Ok(summary) => println!("{summary}"),
            Err(why) => {
                refused = true;
                eprintln!("{}: not blessed: {why}\n{}", config.name, run.context());
            }
        }
    }
    Ok(if refused {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Rewrites the expected list of `config` from `run`, or says why not.
fn bless_one(config: &Config, run: &Run) -> Result<String, String> {
    if let Some(error) = &run.parsed.error {
        return Err(format!("malformed or incomplete KTAP document: {error}"));
    }
    if let Exit::TimedOut(_) | Exit::Signal = run.transcript.exit {
        return Err(run.transcript.exit.to_string());
    }
    let old = expected::read(config.name).map_err(|e| e.to_string())?;
    let new = run.parsed.document.test_ids();
    expected::write(config.name, &new).map_err(|e| e.to_string())?;
    let added = new.iter().filter(|id| !old.contains(id)).count();
    let removed = old.iter().filter(|id| !new.contains(id)).count();
    let mut summary = format!(
        "{}: {} tests (+{added} -{removed}) written to {}",
        config.name,
        new.len(),
        expected::display_path(config.name)
    );
    if run.transcript.exit != Exit::Code(0) {
        let failed: Vec<String> = run
            .parsed
            .document
            .suites
            .iter()
            .flat_map(|s| {
                s.tests
                    .iter()
                    .filter(|t| matches!(t.outcome, vmm_tests::ktap::Outcome::Fail(_)))
                    .map(move |t| format!("{}.{}", s.name, t.name))
            })
            .collect();
        summary.push_str(&format!(
            " (note: {}; some tests fail: {})",
            run.transcript.exit,
            failed.join(", ")
        ));
    }
    Ok(summary)
}

fn bench(args: &[String]) -> Result<ExitCode, String> {
    let name = args.first().map_or("virt-gicv2", String::as_str);
    let config = qemu::config(name).ok_or_else(|| format!("unknown configuration `{name}`"))?;
    let settings = Settings::from_env()?;
    if settings.accel != Accel::Tcg {
        return Err(format!(
            "benchmarks run under TCG's -icount (guest ns that repeat exactly); {} has none: use ACCEL=tcg",
            settings.accel.name()
        ));
    }
    // Ours and Linux's side (vmm_tests::linux) boot at once, one QEMU each.
    let (report, linux) = std::thread::scope(|scope| {
        let linux = scope.spawn(|| vmm_tests::linux::boot_and_measure(config, &settings));
        let ours = vmm_tests::bench::boot_and_report(config, &settings);
        let linux = linux.join().unwrap_or_else(|_| {
            Err(vmm_tests::linux::Error::Failed(
                "the Linux boot thread panicked".to_string(),
            ))
        });
        (ours, linux)
    });
    // A failed Linux run fails the bench, after our column is shown; a
    // Linux side that is not set up only says so.
    let linux_failed = matches!(linux, Err(vmm_tests::linux::Error::Failed(_)));
    let mut report = report?.with_linux(linux);
    // The rows that need several CPUs, from the -smp 4 sibling's own boot.
    match vmm_tests::bench::smp_config(name) {
        Some(smp) => report = report.with_smp(vmm_tests::bench::boot_smp(smp, &settings)?),
        None => println!("{name} has no -smp 4 configuration: no smp_ rows"),
    }
    print!("{}", report.table());
    let dir = vmm_tests::workspace_root().join("target/bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, report.json(name)).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("\nwrote {}", path.display());
    Ok(if linux_failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
