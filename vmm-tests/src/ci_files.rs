//! Tests of the CI files that cannot run here: the GitHub Actions workflow
//! (parsed as YAML and checked against [`crate::qemu::CONFIGS`]) and
//! `ci/apt-source`, which `ci/setup` uses to find the machine's own Debian
//! mirror (run over sample apt trees).

use std::path::{Path, PathBuf};
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

use crate::qemu::CONFIGS;

fn workflow() -> Yaml {
    let path = crate::workspace_root().join(".github/workflows/ci.yml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut docs = YamlLoader::load_from_str(&text).expect("the workflow is valid YAML");
    assert_eq!(docs.len(), 1);
    docs.remove(0)
}

/// The `run:` commands of a job's steps.
fn runs(job: &Yaml) -> Vec<String> {
    job["steps"]
        .as_vec()
        .expect("steps")
        .iter()
        .filter_map(|s| s["run"].as_str().map(str::to_string))
        .collect()
}

/// Where the step running `run` stands among `runs`.
fn step(runs: &[String], run: &str) -> usize {
    runs.iter()
        .position(|r| r == run)
        .unwrap_or_else(|| panic!("no step runs `{run}`"))
}

/// The `uses:` actions of a job's steps.
fn uses(job: &Yaml) -> Vec<&Yaml> {
    job["steps"]
        .as_vec()
        .expect("steps")
        .iter()
        .filter(|s| s["uses"].as_str().is_some())
        .collect()
}

#[test]
fn workflow_lints_once_on_debian() {
    let w = workflow();
    assert!(w["on"]["push"].is_null() && w["on"]["pull_request"].is_null());
    let lint = &w["jobs"]["lint"];
    assert_eq!(lint["container"].as_str(), Some("debian:bookworm"));
    let runs = runs(lint);
    let setup = step(&runs, "./ci/setup");
    let clippy = step(&runs, "just clippy");
    assert!(setup < clippy);
    assert!(runs.iter().any(|r| r.contains("rustup")));
}

#[test]
fn workflow_matrix_is_every_configuration_and_self() {
    let w = workflow();
    let guest = &w["jobs"]["guest"];
    assert_eq!(guest["container"].as_str(), Some("debian:bookworm"));
    assert_eq!(guest["strategy"]["fail-fast"].as_bool(), Some(false));
    let matrix: Vec<&str> = guest["strategy"]["matrix"]["config"]
        .as_vec()
        .expect("matrix.config")
        .iter()
        .map(|c| c.as_str().expect("a name"))
        .collect();
    let mut wanted: Vec<&str> = CONFIGS.iter().map(|c| c.name).collect();
    wanted.push("self");
    let (mut got, mut want) = (matrix.clone(), wanted.clone());
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(
        got, want,
        "the workflow's matrix must name every configuration in qemu::CONFIGS, and `self`"
    );

    let runs = runs(guest);
    let setup = step(&runs, "./ci/setup");
    let test = step(&runs, "just test ${{ matrix.config }}");
    assert!(setup < test);

    let upload = uses(guest)
        .into_iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .unwrap()
                .starts_with("actions/upload-artifact@")
        })
        .expect("an artifact upload");
    assert_eq!(upload["if"].as_str(), Some("always()"));
    let paths = upload["with"]["path"].as_str().expect("paths");
    assert!(paths.contains("target/vmm-tests/junit-*.xml"), "{paths}");
    assert!(paths.contains("target/vmm-tests/ktap-*.txt"), "{paths}");
    assert!(upload["with"]["name"]
        .as_str()
        .unwrap()
        .contains("${{ matrix.config }}"));
}

#[test]
fn just_test_accepts_every_matrix_entry() {
    // `just test <config>` filters the guest trials by `<config>::`; `self`
    // skips every configuration's. A name that is a prefix of another
    // would run both.
    for a in CONFIGS {
        for b in CONFIGS {
            assert!(
                a.name == b.name || !format!("{}::", b.name).contains(&format!("{}::", a.name)),
                "{} / {}",
                a.name,
                b.name
            );
        }
        assert_ne!(a.name, "self");
    }
    let justfile = std::fs::read_to_string(crate::workspace_root().join("justfile")).unwrap();
    assert!(justfile.contains("test only=\"\": build"), "{justfile}");
}

/// A scratch apt tree `<dir>/etc/apt` holding `files`.
fn apt_tree(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vmm-apt-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("etc/apt/sources.list.d")).unwrap();
    for (path, text) in files {
        std::fs::write(dir.join("etc/apt").join(path), text).unwrap();
    }
    dir
}

/// Runs `ci/apt-source` over a scratch tree holding `files` (see
/// [`apt_tree`]): its stdout, or its stderr if it failed.
fn apt_source(name: &str, files: &[(&str, &str)]) -> Result<String, String> {
    let root = apt_tree(name, files);
    let out = Command::new(crate::workspace_root().join("ci/apt-source"))
        .env("APT_ROOT", &root)
        .output()
        .expect("ci/apt-source runs");
    let _ = std::fs::remove_dir_all(&root);
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

const KEY: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

#[test]
fn apt_source_reads_deb822_stanzas() {
    let debian = "Types: deb\n\
        # a comment inside the stanza\n\
        URIs: http://mirror.example/debian\n\
        Suites: bookworm bookworm-updates\n\
        Components: main contrib\n\
        Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\
        \n\
        Types: deb\n\
        URIs: http://security.example/debian-security\n\
        Suites: bookworm-security\n\
        Components: main\n\
        Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n";
    assert_eq!(
        apt_source("deb822", &[("sources.list.d/debian.sources", debian)]),
        Ok(format!("http://mirror.example/debian\t{KEY}\n"))
    );
    // Only `bookworm` itself counts: a security-only machine has no mirror.
    let security_only = &debian[debian.find("\n\nTypes").unwrap() + 2..];
    let why = apt_source(
        "security",
        &[("sources.list.d/debian.sources", security_only)],
    )
    .unwrap_err();
    assert!(
        why.contains("no enabled 'deb' source for Debian bookworm"),
        "{why}"
    );
}

#[test]
fn apt_source_skips_disabled_and_source_only_stanzas() {
    let sources = "Types: deb-src\n\
        URIs: http://src.example/debian\n\
        Suites: bookworm\n\
        Components: main\n\
        \n\
        Types: deb\n\
        URIs: http://off.example/debian\n\
        Suites: bookworm\n\
        Components: main\n\
        Enabled: no\n\
        \n\
        Types: deb deb-src\n\
        URIs: https://on.example/debian http://second.example/debian\n\
        Suites: bookworm\n\
        Components: main\n";
    // No Signed-By: none is named in the backports source either.
    assert_eq!(
        apt_source("disabled", &[("sources.list.d/debian.sources", sources)]),
        Ok("https://on.example/debian\t\n".into())
    );
}

#[test]
fn apt_source_reads_one_line_sources() {
    let list = "# deb http://commented.example/debian bookworm main\n\
        deb-src http://src.example/debian bookworm main\n\
        deb http://security.example/debian-security bookworm-security main\n\
        deb [arch=amd64 signed-by=/etc/apt/keyrings/mirror.gpg] http://mirror.example/debian bookworm main non-free-firmware\n";
    assert_eq!(
        apt_source("one-line", &[("sources.list", list)]),
        Ok("http://mirror.example/debian\t/etc/apt/keyrings/mirror.gpg\n".into())
    );
    let plain = "deb http://plain.example/debian/ bookworm main\n";
    assert_eq!(
        apt_source("plain", &[("sources.list.d/extra.list", plain)]),
        Ok("http://plain.example/debian/\t\n".into())
    );
}

#[test]
fn apt_source_prefers_deb822_and_ignores_its_own_backports_file() {
    let ours = "Types: deb\nURIs: http://ours.example/debian\nSuites: bookworm\nComponents: non-free-firmware\n";
    let list = "deb http://list.example/debian bookworm main\n";
    let deb822 = "Types: deb\nURIs: http://deb822.example/debian\nSuites: bookworm\nComponents: main\nSigned-By: /k.gpg\n";
    assert_eq!(
        apt_source(
            "both",
            &[
                ("sources.list.d/project-backports.sources", ours),
                ("sources.list", list),
                ("sources.list.d/debian.sources", deb822),
            ],
        ),
        Ok("http://deb822.example/debian\t/k.gpg\n".into())
    );
    assert_eq!(
        apt_source(
            "ours-only",
            &[
                ("sources.list.d/project-backports.sources", ours),
                ("sources.list", list),
            ],
        ),
        Ok("http://list.example/debian\t\n".into())
    );
}

#[test]
fn apt_source_without_any_source_stops_with_a_reason() {
    let why = apt_source("empty", &[]).unwrap_err();
    assert!(
        why.contains("no enabled 'deb' source for Debian bookworm")
            && why.contains("add your mirror"),
        "{why}"
    );
    let inline = "Types: deb\nURIs: http://m.example/debian\nSuites: bookworm\nComponents: main\n\
        Signed-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n abc\n -----END PGP PUBLIC KEY BLOCK-----\n";
    let why = apt_source("inline", &[("sources.list.d/d.sources", inline)]).unwrap_err();
    assert!(why.contains("key inline"), "{why}");
}

/// Runs `ci/setup --sources-only` over `root` (without removing it).
fn setup_sources(root: &Path) -> std::process::Output {
    Command::new(crate::workspace_root().join("ci/setup"))
        .arg("--sources-only")
        .env("APT_ROOT", root)
        .output()
        .expect("ci/setup runs")
}

#[test]
fn setup_adds_backports_from_the_machines_mirror_once() {
    let list =
        "deb [signed-by=/etc/apt/keyrings/m.gpg] http://mirror.example/debian bookworm main\n";
    let root = apt_tree("setup", &[("sources.list", list)]);
    let out = setup_sources(&root);
    assert!(out.status.success(), "{out:?}");
    let written = root.join("etc/apt/sources.list.d/project-backports.sources");
    let text = std::fs::read_to_string(&written).unwrap();
    assert_eq!(
        text,
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm-backports\nComponents: main\n\
         Signed-By: /etc/apt/keyrings/m.gpg\n\n\
         Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\nComponents: non-free-firmware\n\
         Signed-By: /etc/apt/keyrings/m.gpg\n"
    );
    // Idempotent: a second run leaves the file alone, even if the machine's
    // sources changed since.
    std::fs::write(root.join("etc/apt/sources.list"), "").unwrap();
    let out = setup_sources(&root);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(std::fs::read_to_string(&written).unwrap(), text);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn setup_without_a_debian_source_stops_and_writes_nothing() {
    let root = apt_tree("setup-none", &[]);
    let out = setup_sources(&root);
    let _ = std::fs::remove_dir_all(&root);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no enabled 'deb' source for Debian bookworm"),
        "{stderr}"
    );
    assert!(stdout.contains("cannot add bookworm-backports"), "{stdout}");
    assert!(!root
        .join("etc/apt/sources.list.d/project-backports.sources")
        .exists());
}
