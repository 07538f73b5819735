//! Names for code addresses without the host (a Pi on a serial cable): the
//! nearest function start below an address, for kernel and EL0 code.
//!
//! Kernel names come from a compact table that `vmm embed-symbols` writes
//! into [`KERNEL_SYMBOLS`] after the link (the justfile's `image` recipe),
//! so it costs no second link: function starts and demangled names only.
//! EL0 names come from the symbol table of the embedded EL0 ELF (kept when
//! its debug sections are stripped). A kernel built without that step (a
//! plain `cargo build`) names only EL0 code.

use core::fmt;

/// Bytes reserved for the kernel's table (it adds exactly this much to the image).
pub const TABLE_BYTES: usize = 64 << 10;

/// The table: `KSYM`, count (u32), base (u64), then `count` entries of
/// (offset from base, offset of the name in the names area) as u32 pairs
/// sorted by offset, then the NUL-terminated names. All zeros until
/// `vmm embed-symbols` fills it.
#[unsafe(no_mangle)]
#[unsafe(link_section = ".rodata.kernel_symbols")]
static KERNEL_SYMBOLS: [u8; TABLE_BYTES] = [0; TABLE_BYTES];

const MAGIC: &[u8; 4] = b"KSYM";
const HEADER: usize = 16;

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}
fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}
fn c_str(b: &[u8], at: usize) -> Option<&str> {
    let bytes = b.get(at..)?;
    let len = bytes.iter().position(|&c| c == 0)?;
    core::str::from_utf8(&bytes[..len]).ok()
}

/// The nearest function at or below `addr`, and how far past its start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Symbol {
    /// Its name: demangled (kernel) or mangled (EL0, shown demangled).
    pub name: &'static str,
    /// `addr` minus the function's start.
    pub offset: u64,
}

/// Names `addr` if it lies in kernel or EL0 text.
pub fn lookup(addr: u64) -> Option<Symbol> {
    if crate::layout::text().contains(&addr) {
        kernel(addr)
    } else if crate::task::image::get().is_text(addr) {
        el0(addr)
    } else {
        None
    }
}

/// Whether the kernel's table was filled after the link.
pub fn kernel_table_present() -> bool {
    table().get(..4) == Some(MAGIC)
}

fn table() -> &'static [u8] {
    // The compiler sees zeros; the real bytes are written after the link.
    core::hint::black_box(&KERNEL_SYMBOLS)
}

fn kernel(addr: u64) -> Option<Symbol> {
    let t = table();
    if t.get(..4)? != MAGIC {
        return None;
    }
    let count = u32_at(t, 4)? as usize;
    let base = u64_at(t, 8)?;
    let names = HEADER.checked_add(count.checked_mul(8)?)?;
    let offset = u32::try_from(addr.checked_sub(base)?).ok()?;
    // The last entry starting at or below `offset`.
    let (mut lo, mut hi) = (0usize, count);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if u32_at(t, HEADER + mid * 8)? <= offset {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    let i = lo.checked_sub(1)?;
    let start = u32_at(t, HEADER + i * 8)?;
    let name = c_str(
        t,
        names.checked_add(u32_at(t, HEADER + i * 8 + 4)? as usize)?,
    )?;
    Some(Symbol {
        name,
        offset: u64::from(offset - start),
    })
}

const SHT_SYMTAB: u32 = 2;
const STT_FUNC: u8 = 2;

/// The EL0 ELF's function symbol holding `addr` (a linear scan: reports are rare).
fn el0(addr: u64) -> Option<Symbol> {
    let elf = crate::task::image::elf();
    let shoff = u64_at(elf, 0x28)? as usize;
    let shentsize = u32::from(u16::from_le_bytes(elf.get(0x3a..0x3c)?.try_into().ok()?)) as usize;
    let shnum = u16::from_le_bytes(elf.get(0x3c..0x3e)?.try_into().ok()?) as usize;
    let section = |i: usize| {
        let at = shoff.checked_add(i.checked_mul(shentsize)?)?;
        let kind = u32_at(elf, at + 4)?;
        let offset = u64_at(elf, at + 0x18)? as usize;
        let size = u64_at(elf, at + 0x20)? as usize;
        let link = u32_at(elf, at + 0x28)? as usize;
        Some((kind, elf.get(offset..offset.checked_add(size)?)?, link))
    };
    for i in 0..shnum {
        let Some((SHT_SYMTAB, symbols, link)) = section(i) else {
            continue;
        };
        let (_, strings, _) = section(link)?;
        for sym in symbols.chunks_exact(24) {
            let value = u64_at(sym, 8)?;
            let size = u64_at(sym, 16)?;
            if sym[4] & 0xf == STT_FUNC && value <= addr && addr < value.saturating_add(size) {
                return Some(Symbol {
                    name: c_str(strings, u32_at(sym, 0)? as usize)?,
                    offset: addr - value,
                });
            }
        }
    }
    None
}

/// ` <name+0xoff>` for a code address, or nothing: for report lines.
pub struct Name {
    addr: u64,
    /// The address to look up (a return address's call).
    probe: u64,
}

impl Name {
    /// The function `addr` lies in.
    pub fn at(addr: u64) -> Self {
        Name { addr, probe: addr }
    }

    /// The function whose call returns to `lr` (a call that never returns
    /// may be its function's last instruction).
    pub fn returning_to(lr: u64) -> Self {
        Name {
            addr: lr,
            probe: lr.wrapping_sub(4),
        }
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match lookup(self.probe) {
            Some(sym) => {
                let offset = sym.offset + (self.addr - self.probe);
                write!(f, " <{}+{offset:#x}>", Demangled(sym.name))
            }
            None => Ok(()),
        }
    }
}

/// A Rust legacy-mangled name (`_ZN…17h<hash>E`) shown as a path without
/// its hash; any other name as it is.
pub struct Demangled<'a>(pub &'a str);

impl fmt::Display for Demangled<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(mut rest) = self.0.strip_prefix("_ZN") else {
            return f.write_str(self.0);
        };
        let mut first = true;
        loop {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let Ok(len) = rest[..digits].parse::<usize>() else {
                // `E`, maybe followed by `.llvm.…`: the end.
                return Ok(());
            };
            let Some(ident) = rest.get(digits..digits + len) else {
                return Ok(());
            };
            rest = &rest[digits + len..];
            let is_hash = ident.len() == 17
                && ident.starts_with('h')
                && ident[1..].bytes().all(|b| b.is_ascii_hexdigit());
            if is_hash && rest.starts_with('E') {
                return Ok(());
            }
            if !first {
                f.write_str("::")?;
            }
            first = false;
            write_ident(f, ident)?;
        }
    }
}

/// One path component, its `$…$` escapes and `..` decoded.
fn write_ident(f: &mut fmt::Formatter<'_>, ident: &str) -> fmt::Result {
    // A leading `$` escape is written `_$`.
    let mut s = if ident.starts_with("_$") {
        &ident[1..]
    } else {
        ident
    };
    while !s.is_empty() {
        if let Some(r) = s.strip_prefix("..") {
            f.write_str("::")?;
            s = r;
        } else if let Some(r) = s.strip_prefix('$') {
            let Some(end) = r.find('$') else {
                return f.write_str(s);
            };
            let decoded = match &r[..end] {
                "LT" => "<",
                "GT" => ">",
                "RF" => "&",
                "BP" => "*",
                "C" => ",",
                "SP" => "@",
                "u20" => " ",
                "u27" => "'",
                "u5b" => "[",
                "u5d" => "]",
                "u7b" => "{",
                "u7d" => "}",
                "u7e" => "~",
                other => other,
            };
            f.write_str(decoded)?;
            s = &r[end + 1..];
        } else {
            let n = s.find(['.', '$']).unwrap_or(s.len()).max(1);
            f.write_str(&s[..n])?;
            s = &s[n..];
        }
    }
    Ok(())
}
