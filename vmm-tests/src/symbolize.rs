//! Names for the code addresses in a guest's reports: every backtrace
//! frame, ELR, `pc`, x30 and other register holding a code address becomes
//! `function+offset (file:line)` beside the original address, resolved
//! through the ELFs' symbol tables and DWARF (`addr2line` over `gimli`).
//!
//! Two ELFs share the guest's address space: the kernel (linked at
//! 0x4008_0000 on virt, 0x8_0000 on the Pi) and the EL0 image (linked at
//! 1 TiB). An address belongs to the one whose `.text` holds it; anything
//! else is left as it is. `just build` leaves each kernel ELF beside its
//! image (`kernel` for `kernel.bin`, `kernel-rpi4` for `kernel8.img`) and
//! the EL0 ELF beside that as `<kernel ELF>-el0` (the kernel's build.rs).

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

type Reader = gimli::EndianArcSlice<gimli::RunTimeEndian>;

/// One ELF's code: its text range, function symbols and line tables.
pub struct Elf {
    path: PathBuf,
    text: Range<u64>,
    /// Function symbols sorted by start: (start, size, mangled name).
    functions: Vec<(u64, u64, String)>,
    dwarf: Option<addr2line::Context<Reader>>,
}

/// The ELFs of one image: the kernel's and the EL0 image's.
#[derive(Default)]
pub struct Symbolizer {
    elves: Vec<Elf>,
}

impl Symbolizer {
    /// Loads the ELFs that exist among `paths` (a missing or unreadable one
    /// is skipped: its addresses stay unnamed).
    pub fn load(paths: &[PathBuf]) -> Self {
        Symbolizer {
            elves: paths.iter().filter_map(|p| Elf::load(p).ok()).collect(),
        }
    }

    /// The symbolizer for a bootable image (`kernel.bin` or `kernel8.img`).
    pub fn for_image(image: &Path) -> Self {
        Self::load(&elf_paths(image))
    }

    /// The ELFs it loaded.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.elves.iter().map(|e| e.path.as_path())
    }

    /// `function+offset (file:line)` for a code address; `return_address`
    /// looks up the call before it (a backtrace frame's or x30's value).
    pub fn describe(&self, addr: u64, return_address: bool) -> Option<String> {
        let elf = self.elves.iter().find(|e| e.text.contains(&addr))?;
        elf.describe(addr, return_address)
    }

    /// `text` with every code address in a report named (see [`annotate_line`]).
    pub fn annotate(&self, text: &str) -> String {
        if self.elves.is_empty() {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        for line in text.split_inclusive('\n') {
            let (body, end) = match line.strip_suffix('\n') {
                Some(body) => (body, "\n"),
                None => (line, ""),
            };
            out.push_str(&annotate_line(self, body));
            out.push_str(end);
        }
        out
    }
}

/// The kernel ELF and EL0 ELF that `just build` leaves beside `image`.
pub fn elf_paths(image: &Path) -> Vec<PathBuf> {
    let kernel = match image.file_name().and_then(|n| n.to_str()) {
        Some("kernel.bin") => image.with_file_name("kernel"),
        Some("kernel8.img") => image.with_file_name("kernel-rpi4"),
        _ => image.with_extension(""),
    };
    let mut el0 = kernel.clone().into_os_string();
    el0.push("-el0");
    vec![kernel, PathBuf::from(el0)]
}

/// [`Symbolizer::annotate`] with the ELFs of `image`, loaded once per
/// process and image.
pub fn annotate_for_image(image: &Path, text: &str) -> String {
    if !text.lines().any(has_candidate) {
        return text.to_string();
    }
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Arc<Mutex<Symbolizer>>>>> = OnceLock::new();
    let symbolizer = {
        let mut cache = CACHE
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        Arc::clone(
            cache
                .entry(image.to_path_buf())
                .or_insert_with(|| Arc::new(Mutex::new(Symbolizer::for_image(image)))),
        )
    };
    let symbolizer = symbolizer.lock().unwrap_or_else(|e| e.into_inner());
    symbolizer.annotate(text)
}

/// [`annotate_for_image`] for the image the configuration `config` boots
/// (from `VMM_IMAGE` / `VMM_RPI4_IMAGE`); `text` as it is if there is none.
pub fn annotate_for_config(config: &str, text: &str) -> String {
    let image = crate::qemu::config(config)
        .zip(crate::Settings::from_env().ok())
        .map(|(c, s)| s.image_for(c).to_path_buf());
    match image {
        Some(image) => annotate_for_image(&image, text),
        None => text.to_string(),
    }
}

/// Words after which a hex number is a code address.
const CODE_LABELS: &[&str] = &["ELR", "pc", "PC", "lr", "LR"];

/// A hex number in a line: where it is and its value.
struct Token {
    end: usize,
    value: u64,
    /// The word before it (`ELR`, `x30`…).
    label: String,
}

fn tokens(line: &str) -> Vec<Token> {
    let bytes = line.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i + 2 < bytes.len() {
        let starts_word = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        if starts_word && bytes[i] == b'0' && bytes[i + 1] == b'x' {
            let digits = bytes[i + 2..]
                .iter()
                .take_while(|b| b.is_ascii_hexdigit())
                .count();
            let end = i + 2 + digits;
            let ends_word = bytes.get(end).is_none_or(|b| !b.is_ascii_alphanumeric());
            if (1..=16).contains(&digits) && ends_word {
                if let Ok(value) = u64::from_str_radix(&line[i + 2..end], 16) {
                    let label = line[..i]
                        .split_whitespace()
                        .next_back()
                        .unwrap_or("")
                        .to_string();
                    found.push(Token { end, value, label });
                }
            }
            i = end;
        } else {
            i += 1;
        }
    }
    found
}

/// Whether `label` names a general-purpose register (`x0`…`x30`).
fn is_register(label: &str) -> bool {
    label
        .strip_prefix('x')
        .and_then(|n| n.parse::<u8>().ok())
        .is_some_and(|n| n <= 30)
}

/// A backtrace frame line (`#3  0x…`), and whether its address is a return
/// address (every frame but a report's faulting instruction).
fn frame_line(line: &str) -> Option<bool> {
    let rest = line.trim_start().trim_start_matches("# ").trim_start();
    let rest = rest.strip_prefix('#')?;
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    if digits == 0 || !rest[digits..].trim_start().starts_with("0x") {
        return None;
    }
    Some(!line.contains("(faulting instruction)"))
}

/// Whether the line may hold a code address worth naming.
fn has_candidate(line: &str) -> bool {
    frame_line(line).is_some()
        || tokens(line)
            .iter()
            .any(|t| CODE_LABELS.contains(&t.label.as_str()) || is_register(&t.label))
}

/// `line` with `function+offset (file:line)` after each code address it
/// shows: a backtrace frame's address, and any number after `ELR`, `pc`,
/// `lr` or a register name (`x30`, or another register holding a code
/// address). Numbers elsewhere (a banner's ranges, a fault address) and
/// addresses outside both ELFs' text stay as they are.
pub fn annotate_line(symbolizer: &Symbolizer, line: &str) -> String {
    let frame = frame_line(line);
    let mut out = String::with_capacity(line.len());
    let mut copied = 0;
    for (n, token) in tokens(line).into_iter().enumerate() {
        let label = token.label.as_str();
        let return_address = match frame {
            Some(ret) if n == 0 => ret,
            _ if label == "x30" || label == "lr" || label == "LR" => true,
            _ if CODE_LABELS.contains(&label) || is_register(label) => false,
            _ => continue,
        };
        if let Some(name) = symbolizer.describe(token.value, return_address) {
            out.push_str(&line[copied..token.end]);
            out.push(' ');
            out.push_str(&name);
            // The guest's own ` <name+off>` (symbols.rs) says less: drop it.
            copied = token.end + guest_name_len(&line[token.end..]);
        }
    }
    out.push_str(&line[copied..]);
    out
}

/// The length of a guest-side ` <name+0xoff>` at the start of `rest`
/// (its brackets balanced: names hold `<T as Trait>`), or 0.
fn guest_name_len(rest: &str) -> usize {
    if !rest.starts_with(" <") {
        return 0;
    }
    let mut depth = 0usize;
    for (i, c) in rest.char_indices().skip(1) {
        match c {
            '<' => depth += 1,
            '>' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    0
}

impl Elf {
    /// Reads the ELF at `path`: its `.text`, function symbols and DWARF.
    pub fn load(path: &Path) -> Result<Elf, String> {
        let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let file =
            ElfFile::parse(&data).ok_or_else(|| format!("{}: not an ELF64", path.display()))?;
        let text = file
            .section(".text")
            .map(|s| s.addr..s.addr + s.size)
            .ok_or_else(|| format!("{}: no .text", path.display()))?;
        let functions = file.functions();
        let endian = gimli::RunTimeEndian::Little;
        let dwarf = gimli::Dwarf::load(|id| -> Result<Reader, gimli::Error> {
            let bytes = file.section_data(id.name()).unwrap_or(&[]);
            Ok(gimli::EndianArcSlice::new(Arc::from(bytes), endian))
        })
        .ok()
        .and_then(|d| addr2line::Context::from_dwarf(d).ok());
        Ok(Elf {
            path: path.to_path_buf(),
            text,
            functions,
            dwarf,
        })
    }

    /// The function symbol holding `addr`: its start and demangled name.
    fn symbol(&self, addr: u64) -> Option<(u64, Cow<'_, str>)> {
        let i = self.functions.partition_point(|f| f.0 <= addr);
        let (start, size, name) = self.functions.get(i.checked_sub(1)?)?;
        (size == &0 || addr < start + size).then(|| {
            let name = addr2line::demangle_auto(Cow::Borrowed(name.as_str()), None);
            (*start, name)
        })
    }

    fn describe(&self, addr: u64, return_address: bool) -> Option<String> {
        let probe = if return_address {
            addr.saturating_sub(4)
        } else {
            addr
        };
        // Innermost first: (function, file:line).
        let mut frames: Vec<(Option<String>, Option<String>)> = Vec::new();
        if let Some(ctx) = &self.dwarf {
            if let Ok(mut iter) = ctx.find_frames(probe).skip_all_loads() {
                while let Ok(Some(frame)) = iter.next() {
                    let function = frame
                        .function
                        .as_ref()
                        .and_then(|f| f.demangle().ok().map(|n| n.into_owned()));
                    let place = frame.location.as_ref().and_then(place);
                    frames.push((function, place));
                }
            }
        }
        let outer = frames.last();
        // A call that never returns may end its function: the return
        // address is then the next function's first instruction.
        let mut text = match self.symbol(probe) {
            Some((start, name)) => format!("{name}+{:#x}", addr - start),
            None => outer.and_then(|f| f.0.clone())?,
        };
        if let Some(place) = outer.and_then(|f| f.1.as_ref()) {
            text.push_str(&format!(" ({place})"));
        }
        // Of the functions inlined there, the innermost of our own code
        // (else the innermost): `read_volatile` says less than the test
        // closure it was inlined into.
        let ours = |f: &&(Option<String>, Option<String>)| {
            f.1.as_deref().is_some_and(|p| p.starts_with("unikernel/"))
        };
        let inner = frames.len().checked_sub(1).and_then(|outer| {
            let inlined = &frames[..outer];
            inlined.iter().find(ours).or(inlined.first())
        });
        if let Some((Some(function), place)) = inner {
            text.push_str(&format!(" [inlined {function}"));
            if let Some(place) = place {
                text.push_str(&format!(" ({place})"));
            }
            text.push(']');
        }
        Some(text)
    }
}

/// `file:line`, the file shortened to the workspace, a crate or the
/// standard library.
fn place(location: &addr2line::Location) -> Option<String> {
    let file = short_path(location.file?);
    Some(match location.line {
        Some(line) => format!("{file}:{line}"),
        None => file.to_string(),
    })
}

fn short_path(file: &str) -> &str {
    let root = crate::workspace_root();
    if let Some(root) = root.to_str() {
        if let Some(rest) = file.strip_prefix(root) {
            return rest.trim_start_matches('/');
        }
    }
    // A dependency (`…/registry/src/<index>/spin-0.12.3/src/…`), the
    // standard library (`/rustc/<hash>/library/core/…`), or another
    // checkout of this workspace (`…/unikernel/kernel/src/…`).
    for marker in ["/registry/src/", "/rustc/"] {
        if let Some(at) = file.find(marker) {
            // Past the index's or the compiler hash's directory.
            if let Some((_, tail)) = file[at + marker.len()..].split_once('/') {
                return tail;
            }
        }
    }
    for marker in ["/unikernel/", "/vmm-tests/"] {
        if let Some(at) = file.find(marker) {
            return &file[at + 1..];
        }
    }
    file
}

/// The kernel's embedded symbol table (`unikernel/kernel/src/symbols.rs`):
/// the array the kernel reserves for it.
const KERNEL_TABLE_SYMBOL: &str = "KERNEL_SYMBOLS";
/// Longest name kept in the kernel's table (the end of a longer one is kept).
const KERNEL_NAME_MAX: usize = 64;

/// Writes the kernel's compact symbol table (function starts and demangled
/// names) into the array it reserves for it in the kernel ELF at `path`,
/// before the image is cut from the ELF; says how full it is.
pub fn embed_kernel_symbols(path: &Path) -> Result<String, String> {
    let mut data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (table_at, table_len, bytes) = {
        let file =
            ElfFile::parse(&data).ok_or_else(|| format!("{}: not an ELF64", path.display()))?;
        let text = file
            .section(".text")
            .ok_or_else(|| format!("{}: no .text", path.display()))?;
        let (value, size) = file
            .symbol(KERNEL_TABLE_SYMBOL)
            .ok_or_else(|| format!("{}: no {KERNEL_TABLE_SYMBOL}", path.display()))?;
        let holder = file
            .sections
            .iter()
            .find(|s| s.kind != SHT_NOBITS && s.addr <= value && value + size <= s.addr + s.size)
            .ok_or_else(|| format!("{KERNEL_TABLE_SYMBOL} is in no loaded section"))?;
        let functions: Vec<(u64, String)> = file
            .functions()
            .into_iter()
            .filter(|f| (text.addr..text.addr + text.size).contains(&f.0))
            .map(|(start, _, name)| {
                let name = addr2line::demangle_auto(Cow::Borrowed(&name), None).into_owned();
                (start, name)
            })
            .collect();
        let table = kernel_table(text.addr, &functions);
        (
            usize::try_from(holder.offset + (value - holder.addr)).map_err(|e| e.to_string())?,
            usize::try_from(size).map_err(|e| e.to_string())?,
            table,
        )
    };
    if bytes.len() > table_len {
        return Err(format!(
            "the kernel's symbol table needs {} bytes, {table_len} are reserved: raise TABLE_BYTES in unikernel/kernel/src/symbols.rs",
            bytes.len()
        ));
    }
    let slot = &mut data[table_at..table_at + table_len];
    slot.fill(0);
    slot[..bytes.len()].copy_from_slice(&bytes);
    std::fs::write(path, &data).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(format!(
        "{}: {} function names embedded ({} of {table_len} bytes)",
        path.display(),
        u32::from_le_bytes(bytes[4..8].try_into().unwrap_or_default()),
        bytes.len()
    ))
}

/// The table's bytes: `KSYM`, count, base, (offset, name offset) pairs,
/// NUL-terminated names.
fn kernel_table(base: u64, functions: &[(u64, String)]) -> Vec<u8> {
    let mut entries = Vec::new();
    let mut names = Vec::new();
    let mut count = 0u32;
    for (start, name) in functions {
        let Ok(offset) = u32::try_from(start - base) else {
            continue;
        };
        let mut cut = name.len().saturating_sub(KERNEL_NAME_MAX);
        while !name.is_char_boundary(cut) {
            cut += 1;
        }
        entries.extend_from_slice(&offset.to_le_bytes());
        entries.extend_from_slice(&(names.len() as u32).to_le_bytes());
        names.extend_from_slice(&name.as_bytes()[cut..]);
        names.push(0);
        count += 1;
    }
    let mut table = b"KSYM".to_vec();
    table.extend_from_slice(&count.to_le_bytes());
    table.extend_from_slice(&base.to_le_bytes());
    table.extend_from_slice(&entries);
    table.extend_from_slice(&names);
    table
}

/// Just enough of a little-endian ELF64 file: its sections and symbols.
struct ElfFile<'a> {
    data: &'a [u8],
    sections: Vec<Section>,
    names: &'a [u8],
}

#[derive(Clone, Copy)]
struct Section {
    name: u32,
    kind: u32,
    addr: u64,
    offset: u64,
    size: u64,
    link: u32,
}

const SHT_SYMTAB: u32 = 2;
const SHT_NOBITS: u32 = 8;
const STT_FUNC: u8 = 2;

fn read<const N: usize>(data: &[u8], at: usize) -> Option<[u8; N]> {
    data.get(at..at.checked_add(N)?)?.try_into().ok()
}
fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    read(data, at).map(u16::from_le_bytes)
}
fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    read(data, at).map(u32::from_le_bytes)
}
fn u64_at(data: &[u8], at: usize) -> Option<u64> {
    read(data, at).map(u64::from_le_bytes)
}

impl<'a> ElfFile<'a> {
    fn parse(data: &'a [u8]) -> Option<Self> {
        // ELFCLASS64, ELFDATA2LSB.
        if data.get(..6)? != b"\x7fELF\x02\x01" {
            return None;
        }
        let shoff = usize::try_from(u64_at(data, 0x28)?).ok()?;
        let shentsize = usize::from(u16_at(data, 0x3a)?);
        let shnum = usize::from(u16_at(data, 0x3c)?);
        let shstrndx = usize::from(u16_at(data, 0x3e)?);
        let sections = (0..shnum)
            .map(|i| {
                let at = shoff.checked_add(i.checked_mul(shentsize)?)?;
                Some(Section {
                    name: u32_at(data, at)?,
                    kind: u32_at(data, at + 4)?,
                    addr: u64_at(data, at + 0x10)?,
                    offset: u64_at(data, at + 0x18)?,
                    size: u64_at(data, at + 0x20)?,
                    link: u32_at(data, at + 0x28)?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let mut file = ElfFile {
            data,
            sections,
            names: &[],
        };
        file.names = file.bytes(*file.sections.get(shstrndx)?)?;
        Some(file)
    }

    fn bytes(&self, s: Section) -> Option<&'a [u8]> {
        if s.kind == SHT_NOBITS {
            return Some(&[]);
        }
        let start = usize::try_from(s.offset).ok()?;
        let end = start.checked_add(usize::try_from(s.size).ok()?)?;
        self.data.get(start..end)
    }

    fn section(&self, name: &str) -> Option<Section> {
        self.sections
            .iter()
            .copied()
            .find(|s| c_str(self.names, s.name as usize) == Some(name))
    }

    fn section_data(&self, name: &str) -> Option<&'a [u8]> {
        self.bytes(self.section(name)?)
    }

    /// The address and size of the symbol called `name`.
    fn symbol(&self, name: &str) -> Option<(u64, u64)> {
        let mut found = None;
        self.each_symbol(|sym_name, _, value, size| {
            if sym_name == name {
                found = Some((value, size));
            }
        });
        found
    }

    /// Every function symbol with an address, sorted by address.
    fn functions(&self) -> Vec<(u64, u64, String)> {
        let mut functions = Vec::new();
        self.each_symbol(|name, kind, value, size| {
            if kind == STT_FUNC && value != 0 {
                functions.push((value, size, name.to_string()));
            }
        });
        functions.sort();
        functions.dedup_by_key(|f| f.0);
        functions
    }

    /// Calls `visit(name, type, value, size)` for each symbol.
    fn each_symbol(&self, mut visit: impl FnMut(&str, u8, u64, u64)) {
        for symtab in self.sections.iter().filter(|s| s.kind == SHT_SYMTAB) {
            let (Some(symbols), Some(strings)) = (
                self.bytes(*symtab),
                self.sections
                    .get(symtab.link as usize)
                    .and_then(|s| self.bytes(*s)),
            ) else {
                continue;
            };
            for sym in symbols.chunks_exact(24) {
                let (Some(name), Some(info), Some(value), Some(size)) =
                    (u32_at(sym, 0), sym.get(4), u64_at(sym, 8), u64_at(sym, 16))
                else {
                    continue;
                };
                if let Some(name) = c_str(strings, name as usize) {
                    visit(name, info & 0xf, value, size);
                }
            }
        }
    }
}

/// The NUL-terminated string at `at` in a string table.
fn c_str(table: &[u8], at: usize) -> Option<&str> {
    let bytes = table.get(at..)?;
    let len = bytes.iter().position(|&b| b == 0)?;
    std::str::from_utf8(&bytes[..len]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ELFs `just build` made (`just test` builds first).
    fn built() -> Symbolizer {
        let image = crate::default_image();
        let symbolizer = Symbolizer::for_image(&image);
        assert_eq!(
            symbolizer.paths().count(),
            2,
            "the kernel and EL0 ELFs beside {} (run `just build`)",
            image.display()
        );
        symbolizer
    }

    /// The address of the function whose demangled name is `name`.
    /// Checks that the return address `addr` is code described as
    /// `prefix` followed by the rest of its source line.
    fn assert_describes(s: &Symbolizer, addr: u64, prefix: &str) {
        let named = s.describe(addr, true).expect("a code address");
        assert!(named.starts_with(prefix), "{named}");
    }

    fn address_of(symbolizer: &Symbolizer, name: &str) -> u64 {
        symbolizer
            .elves
            .iter()
            .flat_map(|e| e.functions.iter())
            .find(|f| addr2line::demangle_auto(Cow::Borrowed(&f.2), None) == name)
            .map(|f| f.0)
            .unwrap_or_else(|| panic!("no function {name}"))
    }

    /// A task fault report as `mode=test` prints it (recorded from a run of
    /// el0_smoke.touching_kernel_memory_ends_the_task), with this build's
    /// addresses of the functions it names.
    fn recorded_report(pc: u64, x30: u64, kernel_frame: u64) -> String {
        format!(
            "    # task 0x2 faulted: a read of 0x40080000 at pc {pc:#x}: a kernel address (tasks live at and above 0x10000000000); it is ended
    # exception: synchronous from lower EL (AArch64): data abort from a lower EL (EC 0x24, ISS 0xf)
    #   FAR 0x0000000040080000  ELR {pc:#018x}  SPSR 0x00000000  ESR 0x9200000f
    #   x0  0x0000000000001234  x1  0x0000000000000000  x2  0x0000000000000000  x3  0x0000000000000000
    #   x28 0x0000000000000000  x29 0x0000000000000000  x30 {x30:#018x}  sp_el0 0x000001200009dff0
    #   backtrace:
    #     #0  {pc:#018x} (faulting instruction)
    #     #1  {kernel_frame:#018x}
    ok 1 touching_kernel_memory_ends_the_task
"
        )
    }

    #[test]
    fn a_kernel_return_address_resolves_to_its_function_and_line() {
        let s = built();
        let entry = address_of(&s, "kernel_entry");
        assert_describes(
            &s,
            entry + 0x40,
            "kernel_entry+0x40 (unikernel/kernel/src/main.rs:",
        );
    }

    #[test]
    fn an_el0_address_resolves_through_the_el0_elf() {
        let s = built();
        let helper = address_of(&s, "tasks::harness::helper_entry");
        assert!(helper >= 1 << 40, "the EL0 image is linked at 1 TiB");
        assert_describes(
            &s,
            helper + 8,
            "tasks::harness::helper_entry+0x8 (unikernel/tasks/src/harness.rs:",
        );
    }

    #[test]
    fn a_recorded_report_gets_names_and_lines_beside_its_addresses() {
        let s = built();
        let pc = address_of(
            &s,
            "tasks::suites::smoke::touching_kernel_memory_ends_the_task",
        ) + 4;
        let x30 = address_of(&s, "tasks::harness::helper_entry") + 8;
        let kernel = address_of(&s, "kernel_entry") + 0x40;
        let report = recorded_report(pc, x30, kernel);
        let out = s.annotate(&report);
        let lines: Vec<&str> = out.lines().collect();
        let smoke = "tasks::suites::smoke::touching_kernel_memory_ends_the_task+0x4 (unikernel/tasks/src/suites/smoke.rs:";
        // The words line's pc, ELR, x30 and both frames; the address stays.
        let says = |i: usize, what: &str| assert!(lines[i].contains(what), "{}", lines[i]);
        says(0, &format!("at pc {pc:#x} {smoke}"));
        says(2, &format!("ELR {pc:#018x} {smoke}"));
        says(
            4,
            &format!(
                "x30 {x30:#018x} tasks::harness::helper_entry+0x8 (unikernel/tasks/src/harness.rs:"
            ),
        );
        says(6, &format!("#0  {pc:#018x} {smoke}"));
        assert!(lines[6].ends_with("(faulting instruction)"), "{}", lines[6]);
        says(7, "#1  ");
        says(7, " kernel_entry+0x40 (unikernel/kernel/src/main.rs:");
        // Not code addresses, or no code there: unchanged.
        for i in [1, 3, 5, 8] {
            assert_eq!(lines[i], report.lines().nth(i).unwrap());
        }
    }

    #[test]
    fn addresses_outside_both_elves_and_unlabelled_numbers_stay_as_they_are() {
        let s = built();
        let entry = address_of(&s, "kernel_entry");
        for line in [
            "  ELR 0x0000000000001234  SPSR 0x00000000",
            "    #2  0x00000000deadbeef",
            "  x30 0x00000200000000f0",
            // A number without a code label, though it is a code address.
            &format!("  kernel:      {entry:#012x}..0x0040200000 (1536 KiB)"),
            &format!("  FAR {entry:#018x}"),
        ] {
            assert_eq!(annotate_line(&s, line), line);
        }
    }

    #[test]
    fn the_guests_own_name_gives_way_to_the_hosts() {
        let s = built();
        let entry = address_of(&s, "kernel_entry");
        let line = format!(
            "    #1  {:#018x} <kernel_entry+0x40> (called)",
            entry + 0x40
        );
        let out = annotate_line(&s, &line);
        assert!(
            out.contains(" kernel_entry+0x40 (unikernel/kernel/src/main.rs:"),
            "{out}"
        );
        assert!(
            !out.contains("<kernel_entry") && out.ends_with(" (called)"),
            "{out}"
        );
        assert_eq!(guest_name_len(" <<T as core::Tr>::f+0x4> x"), 25);
        assert_eq!(guest_name_len(" (faulting instruction)"), 0);
    }

    #[test]
    fn the_kernel_table_holds_sorted_starts_and_names() {
        let t = kernel_table(0x1000, &[(0x1000, "a".into()), (0x1010, "x".repeat(70))]);
        assert_eq!(&t[..4], b"KSYM");
        assert_eq!(u32_at(&t, 4), Some(2));
        assert_eq!(u64_at(&t, 8), Some(0x1000));
        assert_eq!((u32_at(&t, 16), u32_at(&t, 20)), (Some(0), Some(0)));
        assert_eq!((u32_at(&t, 24), u32_at(&t, 28)), (Some(0x10), Some(2)));
        assert_eq!(c_str(&t[32..], 0), Some("a"));
        // A long name keeps its end.
        assert_eq!(c_str(&t[32..], 2).map(str::len), Some(KERNEL_NAME_MAX));
    }

    #[test]
    fn a_frame_of_a_faulting_instruction_is_not_a_return_address() {
        assert_eq!(
            frame_line("    #     #0  0x1 (faulting instruction)"),
            Some(false)
        );
        assert_eq!(frame_line("#     #3  0x10"), Some(true));
        assert_eq!(frame_line("    #1 0x40080000"), Some(true));
        assert_eq!(frame_line("    # fuzz: seed 1"), None);
        assert_eq!(frame_line("ok 1 el0_smoke"), None);
    }

    #[test]
    fn without_elves_text_passes_through() {
        let none = Symbolizer::for_image(Path::new("/nonexistent/kernel.bin"));
        assert_eq!(none.paths().count(), 0);
        let text = "  ELR 0x0000000040080000\n#0 0x40080000\n";
        assert_eq!(none.annotate(text), text);
    }

    #[test]
    fn elf_paths_follow_just_build() {
        assert_eq!(
            elf_paths(Path::new("/t/kernel.bin")),
            [PathBuf::from("/t/kernel"), PathBuf::from("/t/kernel-el0")]
        );
        assert_eq!(
            elf_paths(Path::new("/t/kernel8.img")),
            [
                PathBuf::from("/t/kernel-rpi4"),
                PathBuf::from("/t/kernel-rpi4-el0")
            ]
        );
    }

    #[test]
    fn paths_are_shortened_to_the_workspace_a_crate_or_the_library() {
        let root = crate::workspace_root();
        let ours = format!("{}/unikernel/kernel/src/main.rs", root.display());
        assert_eq!(short_path(&ours), "unikernel/kernel/src/main.rs");
        assert_eq!(
            short_path("/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/spin-0.12.3/src/mutex.rs"),
            "spin-0.12.3/src/mutex.rs"
        );
        assert_eq!(
            short_path(
                "/rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/core/src/ptr/mod.rs"
            ),
            "library/core/src/ptr/mod.rs"
        );
        assert_eq!(
            short_path("/elsewhere/wt/unikernel/tasks/src/main.rs"),
            "unikernel/tasks/src/main.rs"
        );
    }
}
