//! The VMAR region tree against a sorted `Vec` model: random insertions
//! (first fit and at chosen places), removals, shrinks and every query,
//! with the tree's invariants checked after each change, up to thousands
//! of regions (several levels of nodes).

use object::mem::Mem;
use object::regions::{Region, RegionTree, B};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const LO: u64 = 0x1000;
const HI: u64 = 0x1000 + (1 << 28);

/// The model: regions sorted by base.
#[derive(Default)]
struct Model(Vec<Region<u32>>);

impl Model {
    fn last_before(&self, x: u64) -> Option<Region<u32>> {
        self.0.iter().rev().find(|r| r.base < x).copied()
    }
    fn containing(&self, x: u64) -> Option<Region<u32>> {
        self.0.iter().find(|r| r.base <= x && x < r.end()).copied()
    }
    fn first_ending_after(&self, x: u64) -> Option<Region<u32>> {
        self.0.iter().find(|r| r.end() > x).copied()
    }
    fn first_fit(&self, size: u64) -> Option<u64> {
        let mut prev = LO;
        for r in &self.0 {
            if r.base - prev >= size {
                return Some(prev);
            }
            prev = r.end();
        }
        (HI - prev >= size).then_some(prev)
    }
    fn free(&self, base: u64, size: u64) -> bool {
        base >= LO
            && base + size <= HI
            && self
                .0
                .iter()
                .all(|r| r.end() <= base || r.base >= base + size)
    }
    fn insert(&mut self, r: Region<u32>) {
        let at = self.0.partition_point(|x| x.base < r.base);
        self.0.insert(at, r);
    }
}

fn insert(t: &mut RegionTree<u32>, m: &mut Model, mem: &Mem, base: u64, size: u64, v: u32) {
    t.reserve(mem, 1).unwrap();
    t.insert_reserved(base, size, v);
    m.insert(Region {
        base,
        size,
        value: v,
    });
}

/// The tree answers the lookups at `x` as the model does.
fn lookups_agree(t: &RegionTree<u32>, m: &Model, x: u64) {
    assert_eq!(t.last_before(x), m.last_before(x), "last_before {x:#x}");
    assert_eq!(t.containing(x), m.containing(x), "containing {x:#x}");
    assert_eq!(
        t.first_ending_after(x),
        m.first_ending_after(x),
        "first_ending_after {x:#x}"
    );
}

fn same(t: &RegionTree<u32>, m: &Model, rng: &mut Rng) {
    t.check().unwrap();
    assert_eq!(t.len(), m.0.len());
    assert_eq!(t.last(), m.0.last().copied());
    for _ in 0..8 {
        let x = LO + rng.below(HI - LO + 0x2000) - 0x1000;
        lookups_agree(t, m, x);
        let size = 0x1000 << rng.below(12);
        assert_eq!(
            t.first_fit(LO, HI, size),
            m.first_fit(size),
            "fit {size:#x}"
        );
    }
    if let Some(r) = m.0.get(rng.below(m.0.len() as u64 + 1) as usize) {
        assert_eq!(t.containing(r.base), Some(*r));
        assert_eq!(t.last_before(r.end()), Some(*r));
    }
}

/// What a differential run starts from: its random numbers, the memory the
/// tree takes its nodes from, an empty tree and its empty model.
fn start(seed: u64) -> (Rng, Mem, RegionTree<u32>, Model) {
    (
        Rng(seed),
        Mem::default(),
        RegionTree::new(),
        Model::default(),
    )
}

/// Random changes at `max` regions at most, the model checked after each.
fn differential(seed: u64, steps: usize, max: usize) {
    let (mut rng, mem, mut t, mut m) = start(seed);
    let mut v = 0;
    for step in 0..steps {
        let grow = m.0.len() < max && (m.0.len() < max / 2 || rng.below(2) == 0);
        match rng.below(10) {
            0..=3 if grow => {
                // First fit, as a default placement.
                let size = 0x1000 * (1 + rng.below(3));
                if let Some(base) = m.first_fit(size) {
                    assert_eq!(t.first_fit(LO, HI, size), Some(base));
                    v += 1;
                    insert(&mut t, &mut m, &mem, base, size, v);
                }
            }
            4..=6 if grow => {
                // A chosen place, if free.
                let base = LO + rng.below((HI - LO) / 0x1000) * 0x1000;
                let size = 0x1000 * (1 + rng.below(4));
                if m.free(base, size) {
                    v += 1;
                    insert(&mut t, &mut m, &mem, base, size, v);
                }
            }
            7 if !m.0.is_empty() => {
                // Shrink one (its end moves down).
                let i = rng.below(m.0.len() as u64) as usize;
                let r = &mut m.0[i];
                if r.size > 0x1000 {
                    r.size -= 0x1000;
                    assert!(t.set_size(r.base, r.size));
                }
            }
            _ if !m.0.is_empty() => {
                let i = rng.below(m.0.len() as u64) as usize;
                let r = m.0.remove(i);
                assert_eq!(t.remove(r.base), Some(r));
                assert_eq!(t.remove(r.base), None);
            }
            _ => {}
        }
        if step % 7 == 0 || m.0.len() < 2 * B {
            same(&t, &m, &mut rng);
        }
    }
    same(&t, &m, &mut rng);
    assert!(t.iter().eq(m.0.iter().copied()));
    // Empty it from random places: the tree shrinks back to nothing.
    while !m.0.is_empty() {
        let i = rng.below(m.0.len() as u64) as usize;
        let r = m.0.remove(i);
        assert_eq!(t.remove(r.base), Some(r));
        if m.0.len() % 13 == 0 {
            same(&t, &m, &mut rng);
        }
    }
    t.check().unwrap();
    assert!(t.is_empty() && t.last().is_none() && t.first_fit(LO, HI, 0x1000) == Some(LO));
}

#[test]
fn random_changes_match_a_sorted_vec_with_few_regions() {
    for seed in 1..40 {
        differential(seed * 0x9E37_79B9, 600, 40);
    }
}

#[test]
fn random_changes_match_a_sorted_vec_with_thousands_of_regions() {
    differential(0xDEAD_BEEF, 20_000, 3000);
}

#[test]
fn packed_regions_placed_in_front_and_past_all() {
    let mem = Mem::default();
    let mut t = RegionTree::new();
    let n = 4096;
    // Packed from the second page up, the first left free.
    for i in 0..n {
        t.reserve(&mem, 1).unwrap();
        t.insert_reserved(LO + (i + 1) * 0x1000, 0x1000, i as u32);
    }
    t.check().unwrap();
    assert_eq!(t.first_fit(LO, HI, 0x1000), Some(LO));
    assert_eq!(t.first_fit(LO, HI, 0x2000), Some(LO + (n + 1) * 0x1000));
    t.reserve(&mem, 1).unwrap();
    t.insert_reserved(LO, 0x1000, 9999);
    assert_eq!(t.first_fit(LO, HI, 0x1000), Some(LO + (n + 1) * 0x1000));
    assert_eq!(t.remove(LO).map(|r| r.value), Some(9999));
    // Removing every other one leaves one-page gaps the summaries know.
    for i in (1..n).step_by(2) {
        assert!(t.remove(LO + (i + 1) * 0x1000).is_some());
    }
    t.check().unwrap();
    assert_eq!(t.first_fit(LO, HI, 0x2000), Some(LO + n * 0x1000));
    assert_eq!(t.first_fit(LO, HI, 0x1000), Some(LO));
}

#[test]
fn a_failed_reservation_is_reported_and_a_small_tree_needs_one_node() {
    let mem = Mem::default();
    let mut t: RegionTree<u32> = RegionTree::new();
    mem.fail_after(Some(0));
    assert!(t.reserve(&mem, 1).is_err());
    t.reserve(&mem, 1).unwrap();
    for i in 0..B as u64 {
        t.insert_reserved(LO + i * 0x1000, 0x1000, 0);
        // A leaf root with room needs nothing more.
        t.reserve(&mem, 0).unwrap();
    }
    t.check().unwrap();
}

/// Changes and lookups next to the last one, as a map and then the unmap
/// of the same place make them: the finger (the leaf of the last change)
/// answers most of them, and must never answer for a region removed or
/// moved to another leaf by a split or a merge. Every query is checked
/// against the model and the tree's invariants (the finger's path and
/// neighbours included) after every change.
fn differential_near(seed: u64, steps: usize, max: usize) {
    let (mut rng, mem, mut t, mut m) = start(seed);
    let mut v = 0;
    let mut at = LO;
    for _ in 0..steps {
        let grow = m.0.len() < max && (m.0.len() < max / 2 || rng.below(2) == 0);
        // A place near the last one (a few pages either side).
        let near = |rng: &mut Rng, at: u64| {
            let d = rng.below(64) * 0x1000;
            let x = if rng.below(2) == 0 {
                at + d
            } else {
                at.saturating_sub(d)
            };
            x.clamp(LO, HI - 0x1000)
        };
        match rng.below(8) {
            0..=2 if grow => {
                let base = near(&mut rng, at);
                let size = 0x1000 * (1 + rng.below(2));
                if m.free(base, size) {
                    v += 1;
                    insert(&mut t, &mut m, &mem, base, size, v);
                    at = base;
                }
            }
            3 if grow => {
                let size = 0x1000 * (1 + rng.below(2));
                if let Some(base) = m.first_fit(size) {
                    assert_eq!(t.first_fit(LO, HI, size), Some(base));
                    v += 1;
                    insert(&mut t, &mut m, &mem, base, size, v);
                    at = base;
                }
            }
            4 if !m.0.is_empty() => {
                let x = near(&mut rng, at);
                if let Some(r) = m.containing(x) {
                    let i = m.0.iter().position(|q| q.base == r.base).unwrap();
                    let r = &mut m.0[i];
                    if r.size > 0x1000 {
                        r.size -= 0x1000;
                        assert!(t.set_size(r.base, r.size));
                    }
                }
            }
            _ if !m.0.is_empty() => {
                // The region nearest a place near the last one goes.
                let x = near(&mut rng, at);
                let i = m.0.partition_point(|r| r.base < x).min(m.0.len() - 1);
                let r = m.0.remove(i);
                assert_eq!(t.remove(r.base), Some(r));
                assert_eq!(t.remove(r.base), None);
                at = r.base;
            }
            _ => {}
        }
        t.check().unwrap();
        for _ in 0..3 {
            let x = near(&mut rng, at) + rng.below(3) * 0x800;
            lookups_agree(&t, &m, x);
        }
        if rng.below(50) == 0 {
            same(&t, &m, &mut rng);
        }
    }
    same(&t, &m, &mut rng);
    assert!(t.iter().eq(m.0.iter().copied()));
}

#[test]
fn changes_and_lookups_next_to_the_last_change_match_a_sorted_vec() {
    for seed in 1..6 {
        differential_near(seed * 0x2545_F491, 8000, 1500);
    }
    for seed in 1..20 {
        differential_near(seed * 0x9E37_79B9, 1500, 100);
    }
}

#[test]
fn map_and_unmap_among_packed_regions_from_the_finger() {
    let mem = Mem::default();
    for front in [false, true] {
        let mut t = RegionTree::new();
        let mut m = Model::default();
        let n = 4096;
        let first = u64::from(front);
        for i in 0..n {
            insert(
                &mut t,
                &mut m,
                &mem,
                LO + (first + i) * 0x1000,
                0x1000,
                i as u32,
            );
        }
        let want = if front { LO } else { LO + n * 0x1000 };
        for k in 0..100u32 {
            let base = t.first_fit(LO, HI, 0x1000).unwrap();
            assert_eq!(base, want);
            insert(&mut t, &mut m, &mem, base, 0x1000, 10_000 + k);
            t.check().unwrap();
            let r = t.first_ending_after(base).unwrap();
            assert_eq!(r.value, 10_000 + k);
            assert_eq!(t.last_before(base + 0x1000), Some(r));
            assert_eq!(t.remove(base), Some(r));
            m.0.retain(|q| q.base != base);
            t.check().unwrap();
            assert_eq!(t.containing(base), None);
            let x = base + 0x800;
            assert_eq!(t.first_ending_after(x), m.first_ending_after(x));
            assert_eq!(t.last_before(x), m.last_before(x));
        }
        assert!(t.iter().eq(m.0.iter().copied()));
    }
}
