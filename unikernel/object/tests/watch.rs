//! Differential test of what a commit tells: a VMO lists its populated
//! mappings and its *watched* children (those under which some populated
//! mapping lies) first, and a commit visits only those. Random sequences
//! over trees with many mappings and children (maps, unmaps, loads and
//! stores through mappings, writes, commits, decommits, children created
//! and closed) are checked after every step against the naive rule that
//! every translation in the page table shows what its VMO shows now: each
//! write puts a fresh value in the page, so a translation a commit forgot
//! shows an old one. Loads are made only by the sequence, never by the
//! check, so most mappings stay unpopulated and most children unwatched,
//! and the lists' order and slots are checked after every step too.

mod common;
use abi::*;
use common::*;
use object::FrameAllocator;

/// A seeded generator: sequences are reproducible from their seed.
use testkit::SplitMix64 as Rng;

const PAGES: u64 = 8;

struct Vmo {
    handle: Handle,
    /// Whether the handle is still open (the VMO may live on through
    /// mappings or children).
    open: bool,
}

struct Map {
    vmo: usize,
    addr: u64,
    first: u64,
    pages: u64,
}

/// Every translation shows what its VMO shows now (first 8 bytes of the page).
fn check(s: &mut Space, t: TableId, vmos: &[Vmo], maps: &[Map], what: &dyn Fn() -> String) {
    assert!(s.mapping_lists_consistent(), "lists: {}", what());
    for m in maps {
        let v = &vmos[m.vmo];
        for p in 0..m.pages {
            let va = m.addr + p * PAGE;
            let Some((pa, _)) = s.platform().pte(va) else {
                continue;
            };
            if !v.open {
                continue;
            }
            let mut got = [0u8; 8];
            if pa != ZERO_PADDR {
                s.platform().read(object::Frame::new(pa), 0, &mut got);
            }
            let mut want = [0u8; 8];
            s.task(t)
                .vmo_read(v.handle, &mut want, (m.first + p) * PAGE)
                .unwrap();
            assert_eq!(
                got,
                want,
                "stale translation at {va:#x} (vmo {}, page {}): {}",
                m.vmo,
                m.first + p,
                what()
            );
        }
    }
}

use object::TableId;

fn run(seed: u64, steps: usize) {
    let (mut s, t, root, root_h) = setup_vmar();
    let mut rng = Rng(seed);
    let mut vmos: Vec<Vmo> = Vec::new();
    let mut maps: Vec<Map> = Vec::new();
    let mut counter: u64 = 1;
    for _ in 0..3 {
        let handle = s.task(t).vmo_create(PAGES * PAGE, 0).unwrap();
        vmos.push(Vmo { handle, open: true });
    }
    let mut log = Vec::new();
    for step in 0..steps {
        let open: Vec<usize> = (0..vmos.len()).filter(|&i| vmos[i].open).collect();
        let pick = |rng: &mut Rng| open[rng.below(open.len() as u64) as usize];
        let kind = rng.below(100);
        match kind {
            0..=9 if vmos.len() < 80 && !open.is_empty() => {
                let p = pick(&mut rng);
                let offset = rng.below(3) * PAGE;
                let handle = s
                    .task(t)
                    .vmo_create_child(
                        vmos[p].handle,
                        ZX_VMO_CHILD_COPY_ON_WRITE,
                        offset,
                        PAGES * PAGE,
                    )
                    .unwrap();
                log.push(format!("child of {p} at {offset:#x} -> {}", vmos.len()));
                vmos.push(Vmo { handle, open: true });
            }
            10..=29 if maps.len() < 300 && !open.is_empty() => {
                let v = pick(&mut rng);
                let first = rng.below(PAGES);
                let pages = 1 + rng.below(PAGES - first);
                let addr = s
                    .task(t)
                    .vmar_map(root_h, RW, 0, vmos[v].handle, first * PAGE, pages * PAGE)
                    .unwrap();
                log.push(format!("map {v} [{first}, +{pages}) at {addr:#x}"));
                maps.push(Map {
                    vmo: v,
                    addr,
                    first,
                    pages,
                });
            }
            30..=37 if !maps.is_empty() => {
                let i = rng.below(maps.len() as u64) as usize;
                let m = maps.swap_remove(i);
                log.push(format!("unmap {:#x}", m.addr));
                s.task(t)
                    .vmar_unmap(root_h, m.addr, m.pages * PAGE)
                    .unwrap();
            }
            38..=59 if !maps.is_empty() => {
                let m = &maps[rng.below(maps.len() as u64) as usize];
                let va = m.addr + rng.below(m.pages) * PAGE;
                log.push(format!("load {va:#x}"));
                load(&mut s, root, va).unwrap();
            }
            60..=74 if !maps.is_empty() => {
                let m = &maps[rng.below(maps.len() as u64) as usize];
                let va = m.addr + rng.below(m.pages) * PAGE;
                counter += 1;
                let b = (counter % 255 + 1) as u8;
                log.push(format!("store {b} at {va:#x}"));
                store(&mut s, root, va, b).unwrap();
            }
            75..=86 if !open.is_empty() => {
                let v = pick(&mut rng);
                let page = rng.below(PAGES);
                counter += 1;
                log.push(format!("write {counter} to {v} page {page}"));
                s.task(t)
                    .vmo_write(vmos[v].handle, &counter.to_le_bytes(), page * PAGE)
                    .unwrap();
            }
            87..=94 if !open.is_empty() => {
                let (what, code) = if kind <= 90 {
                    ("commit", ZX_VMO_OP_COMMIT)
                } else {
                    ("decommit", ZX_VMO_OP_DECOMMIT)
                };
                let v = pick(&mut rng);
                let a = rng.below(PAGES);
                let n = 1 + rng.below(PAGES - a);
                log.push(format!("{what} {v} [{a}, +{n})"));
                op(&mut s, t, vmos[v].handle, code, a * PAGE, n * PAGE).unwrap();
            }
            95..=99 if open.len() > 3 => {
                let v = pick(&mut rng);
                log.push(format!("close {v}"));
                s.task(t).handle_close(vmos[v].handle).unwrap();
                vmos[v].open = false;
            }
            _ => continue,
        }
        check(&mut s, t, &vmos, &maps, &|| {
            format!("seed {seed} step {step}: {}", log.join("; "))
        });
    }
    for m in maps.drain(..) {
        s.task(t)
            .vmar_unmap(root_h, m.addr, m.pages * PAGE)
            .unwrap();
    }
    for v in &vmos {
        if v.open {
            s.task(t).handle_close(v.handle).unwrap();
        }
    }
    assert!(s.mapping_lists_consistent());
    assert_eq!(s.platform().mapped_pages(), 0, "seed {seed}");
    assert_eq!(s.platform().live_frames(), 0, "seed {seed}");
    assert_eq!(s.vmo_count(), 0, "seed {seed}");
}

#[test]
fn commits_leave_no_stale_translation_with_many_mappings_and_children() {
    for seed in 0..200 {
        run(seed, 400);
    }
}

/// Many unpopulated mappings and unwatched children of one VMO: a fault
/// in it tells none of them (no unmap at all), and one touched mapping
/// among them is told.
#[test]
fn a_fault_tells_only_populated_mappings_and_watched_children() {
    let (mut s, t, root, root_h) = setup_vmar();
    let h = s.task(t).vmo_create(4 * PAGE, 0).unwrap();
    let mut addrs = Vec::new();
    for _ in 0..500 {
        addrs.push(s.task(t).vmar_map(root_h, RW, 0, h, 0, 4 * PAGE).unwrap());
    }
    let mut children = Vec::new();
    for _ in 0..500 {
        children.push(cow_child(&mut s, t, h, 0, 4 * PAGE));
    }
    s.platform().take_unmaps();
    store(&mut s, root, addrs[0], 1).unwrap();
    assert!(
        s.platform().take_unmaps().is_empty(),
        "nothing else to tell"
    );
    // A child that is mapped and touched becomes watched: a commit in the
    // parent unmaps that child's translation of the page.
    let ca = s
        .task(t)
        .vmar_map(root_h, RW, 0, children[250], 0, 4 * PAGE)
        .unwrap();
    load(&mut s, root, ca + PAGE).unwrap();
    assert!(s.mapping_lists_consistent());
    store(&mut s, root, addrs[0] + PAGE, 2).unwrap();
    assert_eq!(s.platform().take_unmaps(), vec![(ca + PAGE, PAGE)]);
    assert_eq!(load(&mut s, root, ca + PAGE), Ok(2));
    // Closing children (watched or not) takes each out in O(1), in any order.
    for (i, c) in children.iter().enumerate().rev().step_by(3) {
        s.task(t).handle_close(*c).unwrap();
        assert!(s.mapping_lists_consistent(), "after closing child {i}");
    }
    s.task(t).vmar_unmap(root_h, ca, 4 * PAGE).unwrap();
    assert!(s.mapping_lists_consistent());
}
