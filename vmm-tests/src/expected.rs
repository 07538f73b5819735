//! The checked-in lists of guest tests each configuration must run:
//! `vmm-tests/expected/<config>.txt`, one `<suite>.<test>` per line, sorted.
//! `just bless` (`vmm bless`) rewrites them from a clean transcript.

use std::io;
use std::path::PathBuf;

/// The directory holding the lists.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("expected")
}

/// The list file of configuration `config`.
pub fn path(config: &str) -> PathBuf {
    dir().join(format!("{config}.txt"))
}

/// The list file of `config` as shown to people: relative to the workspace.
pub fn display_path(config: &str) -> String {
    let path = path(config);
    path.strip_prefix(crate::workspace_root())
        .unwrap_or(&path)
        .display()
        .to_string()
}

/// Parses a list: one id per line; blank lines and `#` comments are ignored.
pub fn parse(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// Renders ids as a list file: sorted, deduplicated, one per line.
pub fn render(ids: &[String]) -> String {
    let mut ids = ids.to_vec();
    ids.sort();
    ids.dedup();
    ids.iter().map(|id| format!("{id}\n")).collect()
}

/// Reads the list of `config`; a missing file is an empty list (so every
/// test the guest prints is "not in the expected list: run `just bless`").
pub fn read(config: &str) -> io::Result<Vec<String>> {
    match std::fs::read_to_string(path(config)) {
        Ok(text) => Ok(parse(&text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Writes the list of `config`.
pub fn write(config: &str, ids: &[String]) -> io::Result<()> {
    std::fs::create_dir_all(dir())?;
    std::fs::write(path(config), render(ids))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_sorts_and_deduplicates() {
        let ids = ["b.x", "a.y", "b.x"].map(String::from);
        assert_eq!(render(&ids), "a.y\nb.x\n");
    }

    #[test]
    fn parse_skips_blanks_and_comments() {
        assert_eq!(parse("# list\n\na.b\r\n  c.d  \n"), ["a.b", "c.d"]);
    }

    #[test]
    fn render_then_parse_round_trips() {
        let ids = ["heap.box", "vmo.create"].map(String::from);
        assert_eq!(parse(&render(&ids)), ids);
    }
}
