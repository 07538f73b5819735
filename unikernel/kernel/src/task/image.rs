//! The EL0 image: the built-in tasks' ELF, embedded at build time
//! (build.rs builds `unikernel/tasks`). Each loadable segment becomes a VMO,
//! mapped once at its link address in the root VMAR, outside every task's
//! sub-VMAR: text read+execute, rodata read-only, data and BSS read+write
//! (shared by all tasks, like a process's globals).

use crate::objects::{self, Space};
use crate::sync::IrqMutex;
use abi::*;
use object::{MapArgs, TableId};

static ELF: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/tasks.elf"));

/// The embedded EL0 ELF (its symbol table names EL0 code in reports).
pub fn elf() -> &'static [u8] {
    ELF
}

/// Where the loaded image lies.
#[derive(Clone, Copy, Debug, Default)]
pub struct Image {
    /// The entry of the first task.
    pub entry: u64,
    /// Executable text.
    pub text: (u64, u64),
    /// Everything the tasks may only read: text and rodata.
    pub readonly: (u64, u64),
    /// The whole image.
    pub all: (u64, u64),
}

impl Image {
    /// Whether `addr` lies in the image's text (a valid entry point).
    pub fn is_text(&self, addr: u64) -> bool {
        (self.text.0..self.text.1).contains(&addr)
    }

    /// Whether `[addr, addr + len)` lies in the image's read-only part.
    pub fn is_readonly(&self, addr: u64, len: u64) -> bool {
        addr.checked_add(len)
            .is_some_and(|end| addr >= self.readonly.0 && end <= self.readonly.1)
    }
}

static LOADED: IrqMutex<Option<Image>> = crate::sync::ranked(crate::sync::Rank::Image, None);

/// The loaded image.
pub fn get() -> Image {
    LOADED.lock().unwrap_or_default()
}

const PT_LOAD: u32 = 1;
const PF_X: u32 = 1;
const PF_W: u32 = 2;
const EM_AARCH64: u16 = 183;

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// One `PT_LOAD` program header.
struct Segment {
    offset: u64,
    vaddr: u64,
    filesz: u64,
    memsz: u64,
    flags: u32,
}

fn segments(elf: &[u8]) -> Result<(u64, impl Iterator<Item = Segment> + '_), &'static str> {
    if elf.get(..4) != Some(b"\x7fELF") || elf.get(4) != Some(&2) || elf.get(5) != Some(&1) {
        return Err("not a 64-bit little-endian ELF");
    }
    if u16_at(elf, 18) != Some(EM_AARCH64) {
        return Err("not an AArch64 ELF");
    }
    let entry = u64_at(elf, 24).ok_or("truncated header")?;
    let phoff = u64_at(elf, 32).ok_or("truncated header")? as usize;
    let phentsize = u16_at(elf, 54).ok_or("truncated header")? as usize;
    let phnum = u16_at(elf, 56).ok_or("truncated header")? as usize;
    let segs = (0..phnum).filter_map(move |i| {
        let ph = phoff + i * phentsize;
        (u32_at(elf, ph)? == PT_LOAD).then_some(())?;
        Some(Segment {
            flags: u32_at(elf, ph + 4)?,
            offset: u64_at(elf, ph + 8)?,
            vaddr: u64_at(elf, ph + 16)?,
            filesz: u64_at(elf, ph + 32)?,
            memsz: u64_at(elf, ph + 40)?,
        })
    });
    Ok((entry, segs))
}

/// Loads the image into VMOs held by the kernel's `table` and maps it.
pub fn load(table: TableId) -> Result<Image, &'static str> {
    let (entry, segs) = segments(ELF)?;
    let mut image = Image {
        entry,
        text: (u64::MAX, 0),
        readonly: (u64::MAX, 0),
        all: (u64::MAX, 0),
    };
    for seg in segs {
        let start = seg.vaddr & !(PAGE_SIZE - 1);
        let end = seg
            .vaddr
            .checked_add(seg.memsz)
            .ok_or("segment overflows")?
            .next_multiple_of(PAGE_SIZE);
        let data = ELF
            .get(seg.offset as usize..(seg.offset + seg.filesz) as usize)
            .ok_or("segment outside the file")?;
        let mut perms = ZX_VM_PERM_READ;
        if seg.flags & PF_W != 0 {
            perms |= ZX_VM_PERM_WRITE;
        }
        if seg.flags & PF_X != 0 {
            perms |= ZX_VM_PERM_EXECUTE;
        }
        objects::with(|s| map_segment(s, table, start, end, seg.vaddr - start, data, perms))
            .map_err(|_| "mapping a segment failed")?;
        image.all = (image.all.0.min(start), image.all.1.max(end));
        if perms & ZX_VM_PERM_WRITE == 0 {
            image.readonly = (image.readonly.0.min(start), image.readonly.1.max(end));
        }
        if perms & ZX_VM_PERM_EXECUTE != 0 {
            image.text = (image.text.0.min(start), image.text.1.max(end));
        }
    }
    if !(image.text.0..image.text.1).contains(&entry) {
        return Err("the entry is not in the text");
    }
    *LOADED.lock() = Some(image);
    Ok(image)
}

fn map_segment(
    s: &mut Space,
    table: TableId,
    start: u64,
    end: u64,
    skew: u64,
    data: &[u8],
    perms: VmOptions,
) -> Result<(), Status> {
    let mut t = s.task(table);
    let vmo = t.vmo_create(end - start, ZX_VMO_NON_RESIZABLE)?;
    t.vmo_write(vmo, data, skew)?;
    let id = s.vmo_of(table, vmo)?;
    let root = objects::root_vmar();
    let (base, _) = s.vmar_range(root).ok_or(ZX_ERR_BAD_STATE)?;
    let args = MapArgs {
        vmar: root,
        options: perms | ZX_VM_SPECIFIC,
        vmar_offset: start - base,
        vmo: id,
        vmo_offset: 0,
        len: end - start,
    };
    s.vmar_map_vmo(args, perms)?;
    // The mapping keeps the VMO alive.
    s.task(table).handle_close(vmo)
}
