//! `mode=run`: a short, human-readable demonstration of copy-on-write
//! through real mappings, with the kernel's fault and copy counters; then
//! the port demo ([`crate::port_demo`]).

use crate::println;
use zx::{AsHandleRef, Status, Vmar, VmarFlags, Vmo, VmoChildOptions};

const PAGES: u64 = 4;
const PAGE: u64 = abi::PAGE_SIZE;

fn counters(vmo: &Vmo) -> Result<abi::ZxInfoKernelCounters, Status> {
    zx::kernel_counters(vmo)
}

/// Kernel fault and copy counts over one step: (translation faults,
/// permission faults, pages copied).
#[derive(Clone, Copy, Default)]
struct Delta(u64, u64, u64);

impl core::ops::AddAssign for Delta {
    fn add_assign(&mut self, d: Delta) {
        *self = Delta(self.0 + d.0, self.1 + d.1, self.2 + d.2);
    }
}

/// The kernel's counts while `step` runs, and its result. The counters are
/// the whole kernel's: read right around the step, with no printing inside
/// (printing may touch a fresh page of this task's stack and count a
/// fault that is not the step's).
fn measured<R>(vmo: &Vmo, step: impl FnOnce() -> R) -> Result<(Delta, R), Status> {
    let before = counters(vmo)?;
    let r = step();
    let after = counters(vmo)?;
    let d = Delta(
        after.translation_faults - before.translation_faults,
        after.permission_faults - before.permission_faults,
        after.pages_copied - before.pages_copied,
    );
    Ok((d, r))
}

fn show_delta(what: &str, d: Delta) {
    println!(
        "demo: {what}: +{} translation faults, +{} permission faults, +{} pages copied",
        d.0, d.1, d.2
    );
}

/// Reads the first word of a page through a mapping.
fn peek(addr: u64) -> u64 {
    // SAFETY: `addr` lies in a live mapping this task made.
    unsafe { core::ptr::read_volatile(addr as *const u64) }
}

fn poke(addr: u64, value: u64) {
    // SAFETY: `addr` lies in a live writable mapping this task made.
    unsafe { core::ptr::write_volatile(addr as *mut u64, value) }
}

/// Runs the demo; prints what happens at each step.
pub fn run() -> Result<(), Status> {
    let vmar = Vmar::root_self();
    let parent = Vmo::create(PAGES * PAGE)?;
    for page in 0..PAGES {
        parent.write(&(0x1000 + page).to_le_bytes(), page * PAGE)?;
    }
    println!("demo: parent VMO of {PAGES} pages; page i holds 0x100i");
    let child = parent.create_child(VmoChildOptions::COPY_ON_WRITE, 0, PAGES * PAGE)?;
    let pmap = vmar.map(0, &parent, 0, PAGES * PAGE, VmarFlags::RW)?;
    let cmap = vmar.map(0, &child, 0, PAGES * PAGE, VmarFlags::RW)?;
    println!("demo: copy-on-write child mapped at {cmap:#x}, parent at {pmap:#x}");
    // The parent's own pages, mapped writable on first touch, before counting.
    for page in 0..PAGES {
        peek(pmap + page * PAGE);
    }

    let mut total = Delta::default();
    let mut seen = [0u64; PAGES as usize];
    let (d, ()) = measured(&parent, || {
        for (page, s) in seen.iter_mut().enumerate() {
            *s = peek(cmap + page as u64 * PAGE);
        }
    })?;
    total += d;
    println!("demo: the child reads {seen:x?}: the parent's pages, shared read-only");
    show_delta("reading 4 child pages", d);

    let (d, (c, p)) = measured(&parent, || {
        poke(cmap, 0xc0de);
        (peek(cmap), peek(pmap))
    })?;
    total += d;
    println!("demo: the child writes page 0: child sees {c:#x}, parent still {p:#x}");
    show_delta("first child write", d);

    let (d, c) = measured(&parent, || {
        poke(pmap + PAGE, 0xbeef);
        peek(cmap + PAGE)
    })?;
    total += d;
    println!(
        "demo: the parent writes page 1: child sees {c:#x} at once (it has not copied page 1)"
    );
    show_delta("parent write", d);

    let (d, ()) = measured(&parent, || poke(pmap, 0xfeed))?;
    total += d;
    println!(
        "demo: the parent writes page 0: child keeps its copy {:#x}, parent {:#x}",
        peek(cmap),
        peek(pmap)
    );
    let info = child.info()?;
    println!(
        "demo: the child owns {} page(s); the parent {}",
        info.committed_bytes / PAGE,
        parent.info()?.committed_bytes / PAGE
    );
    vmar.unmap(cmap, PAGES * PAGE)?;
    vmar.unmap(pmap, PAGES * PAGE)?;
    drop(child);
    let signals = parent.wait_handle(zx::Signals::VMO_ZERO_CHILDREN, zx::Time::INFINITE_PAST)?;
    println!(
        "demo: child closed and unmapped: parent signals ZERO_CHILDREN ({:#x})",
        signals.bits()
    );
    show_delta("the writes and reads above", total);
    crate::port_demo::run()
}
