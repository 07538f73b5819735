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

fn show_delta(what: &str, before: &abi::ZxInfoKernelCounters, after: &abi::ZxInfoKernelCounters) {
    println!(
        "demo: {what}: +{} translation faults, +{} permission faults, +{} pages copied",
        after.translation_faults - before.translation_faults,
        after.permission_faults - before.permission_faults,
        after.pages_copied - before.pages_copied
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

    let c0 = counters(&parent)?;
    let mut seen = [0u64; PAGES as usize];
    for (page, s) in seen.iter_mut().enumerate() {
        *s = peek(cmap + page as u64 * PAGE);
    }
    let c1 = counters(&parent)?;
    println!("demo: the child reads {seen:x?}: the parent's pages, shared read-only");
    show_delta("reading 4 child pages", &c0, &c1);

    poke(cmap, 0xc0de);
    let c2 = counters(&parent)?;
    let (c, p) = (peek(cmap), peek(pmap));
    println!("demo: the child writes page 0: child sees {c:#x}, parent still {p:#x}");
    show_delta("first child write", &c1, &c2);

    poke(pmap + PAGE, 0xbeef);
    let c3 = counters(&parent)?;
    let c = peek(cmap + PAGE);
    println!(
        "demo: the parent writes page 1: child sees {c:#x} at once (it has not copied page 1)"
    );
    show_delta("parent write", &c2, &c3);

    poke(pmap, 0xfeed);
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
    let total = counters(&parent)?;
    show_delta("whole demo", &c0, &total);
    crate::port_demo::run()
}
