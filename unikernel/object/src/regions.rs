//! An ordered set of disjoint regions (a VMAR's children): a B+tree with
//! nodes of [`B`] entries kept in one slab per tree, where every entry of
//! an inner node carries its subtree's first base, last end and largest
//! gap between consecutive regions. Lookups, insertion, removal and
//! first-fit placement are O(log n), each level a scan of one node.
//!
//! A tree of up to [`B`] regions is one leaf: a sorted array, as cheap as
//! the sorted `Vec` it replaces. The tree keeps a finger: the leaf of the
//! last change, its path, the regions just outside it and the entry the
//! change made, so a change or lookup next to the last one (the unmap right
//! after a map) starts there instead of at the root; any change of the
//! tree's shape drops it. A node keeps room on both sides of its entries,
//! so an insertion or removal moves only the entries on its shorter side. Nodes come from the tree's slab (a freed
//! node goes on its free list), and growth is reserved before a change
//! ([`RegionTree::reserve`]), so an insertion never allocates and a
//! removal never needs memory.

use crate::mem::Mem;
use abi::Status;
use alloc::vec::Vec;
use core::mem::MaybeUninit;

/// Entries per node.
pub const B: usize = 32;
/// Fewest entries of a node other than the root.
const MIN: usize = B / 2;
const NONE: u32 = u32::MAX;
/// Deepest tree: with at least [`MIN`] entries per inner node, 2^32
/// regions fit in 11 levels.
const MAX_DEPTH: usize = 12;

/// One region: `[base, base + size)` and what occupies it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Region<V> {
    /// First address.
    pub base: u64,
    /// Length in bytes (not zero).
    pub size: u64,
    /// What is there.
    pub value: V,
}

impl<V> Region<V> {
    /// One past the last address.
    pub fn end(&self) -> u64 {
        self.base + self.size
    }
}

#[derive(Copy, Clone)]
enum Link<V> {
    Value(V),
    Node(u32),
}

/// An entry: a region (in a leaf) or a subtree (in an inner node: its
/// first base, last end, and largest gap between two of its regions).
#[derive(Copy, Clone)]
struct Item<V> {
    lo: u64,
    hi: u64,
    gap: u64,
    link: Link<V>,
}

impl<V: Copy> Item<V> {
    const FILLER: Item<V> = Item {
        lo: 0,
        hi: 0,
        gap: 0,
        link: Link::Node(NONE),
    };

    fn node(&self) -> u32 {
        match self.link {
            Link::Node(n) => n,
            Link::Value(_) => unreachable!("inner entry without a node"),
        }
    }

    fn region(&self) -> Region<V> {
        match self.link {
            Link::Value(value) => Region {
                base: self.lo,
                size: self.hi - self.lo,
                value,
            },
            Link::Node(_) => unreachable!("leaf entry without a value"),
        }
    }
}

/// A node: its entries are `slots[start..start + len]`, with room on
/// either side, so an entry goes in or out by moving the entries on the
/// shorter side only (none at either end once there is room there: a
/// mapping placed in front of all the others moves nothing). A free node
/// keeps the next free node's index in `len`.
struct Node<V> {
    start: u32,
    len: u32,
    slots: [Item<V>; B],
}

impl<V: Copy> Node<V> {
    #[inline]
    fn items(&self) -> &[Item<V>] {
        let s = self.start as usize;
        &self.slots[s..s + self.len as usize]
    }

    #[inline]
    fn items_mut(&mut self) -> &mut [Item<V>] {
        let s = self.start as usize;
        &mut self.slots[s..s + self.len as usize]
    }

    /// Moves the entries to the front of `slots` (before a merge appends).
    fn pack_to_start(&mut self) {
        let s = self.start as usize;
        self.slots.copy_within(s..s + self.len as usize, 0);
        self.start = 0;
    }

    /// The summary entry of this node as a child `me`: its first base,
    /// last end, and largest gap inside.
    fn summary(&self, me: u32) -> Item<V> {
        let items = self.items();
        let mut gap = 0;
        let mut prev = items[0].lo;
        for it in items {
            gap = gap.max(it.gap).max(it.lo - prev);
            prev = it.hi;
        }
        Item {
            lo: items[0].lo,
            hi: prev,
            gap,
            link: Link::Node(me),
        }
    }

    #[inline(always)]
    fn insert(&mut self, at: usize, item: Item<V>) {
        let (s, n) = (self.start as usize, self.len as usize);
        debug_assert!(n < B && at <= n);
        let slot = if s > 0 && (at < n - at || s + n == B) {
            // The entries before `at` move down one.
            if at > 0 {
                self.slots.copy_within(s..s + at, s - 1);
            }
            self.start -= 1;
            s - 1 + at
        } else {
            // The entries from `at` move up one.
            if at < n {
                self.slots.copy_within(s + at..s + n, s + at + 1);
            }
            s + at
        };
        // Field by field: a whole-entry copy here was a `memcpy` call.
        let slot = &mut self.slots[slot];
        slot.lo = item.lo;
        slot.hi = item.hi;
        slot.gap = item.gap;
        slot.link = item.link;
        self.len += 1;
    }

    #[inline(always)]
    fn remove(&mut self, at: usize) -> Item<V> {
        let (s, n) = (self.start as usize, self.len as usize);
        let slot = &self.slots[s + at];
        let item = Item {
            lo: slot.lo,
            hi: slot.hi,
            gap: slot.gap,
            link: slot.link,
        };
        if at < n - 1 - at {
            // The entries before `at` move up one.
            if at > 0 {
                self.slots.copy_within(s..s + at, s + 1);
            }
            self.start += 1;
        } else if at + 1 < n {
            // The entries after `at` move down one.
            self.slots.copy_within(s + at + 1..s + n, s + at);
        }
        self.len -= 1;
        item
    }
}

/// The regions of one VMAR, sorted by base and disjoint.
pub struct RegionTree<V> {
    nodes: Vec<Node<V>>,
    free: u32,
    free_count: usize,
    root: u32,
    /// The largest gap between two regions (the root's summary).
    root_gap: u64,
    /// Inner levels above the leaves (0: the root is a leaf).
    height: usize,
    len: usize,
    /// The finger: the leaf the last change went to (`NONE` after a
    /// change of the tree's shape), so that the next change or lookup
    /// nearby (the unmap right after a map) starts there, not at the root.
    finger: Finger,
    /// The path from the root to the finger's leaf (levels below
    /// `height`), written by [`Self::descend`]; the leaf's index in its
    /// parent and the parents' indices only change with the tree's shape.
    path: Path,
}

/// The leaf of the last change, and the regions just outside it.
#[derive(Copy, Clone)]
struct Finger {
    /// The leaf, or `NONE`.
    leaf: u32,
    /// The end of the last region before the leaf (0: none, as no region
    /// ends at 0).
    prev_hi: u64,
    /// The base of the first region after the leaf (`u64::MAX`: none).
    next_lo: u64,
    /// The index in the leaf of the entry the last change inserted or
    /// resized (`NONE` after a removal): the lookups of the unmap right
    /// after a map find their region there without a search.
    at: u32,
}

const NO_FINGER: Finger = Finger {
    leaf: NONE,
    prev_hi: 0,
    next_lo: u64::MAX,
    at: NONE,
};

impl Finger {
    /// The whole of a tree that is one leaf, `at` its last change.
    fn root(leaf: u32, at: usize) -> Finger {
        Finger {
            leaf,
            prev_hi: 0,
            next_lo: u64::MAX,
            at: at as u32,
        }
    }
}

impl<V: Copy> Default for RegionTree<V> {
    fn default() -> Self {
        Self::new()
    }
}

/// What changed in a node, so its summary is updated in O(1) unless the
/// largest gap may have shrunk (then the node is scanned).
#[derive(Copy, Clone)]
enum Change {
    /// Entry `at` is new.
    Inserted { at: usize },
    /// The entry at `at` was `(lo, hi, gap)`, and went.
    Removed { at: usize, old: (u64, u64, u64) },
    /// Entry `at` was `(lo, hi, gap)` before.
    Updated { at: usize, old: (u64, u64, u64) },
    /// Entries moved (a split, a merge): scan.
    Rebuilt,
}

/// Where a descent went: the inner node and the entry taken, per level
/// (levels below the tree's height are written; left uninitialized, as
/// zeroing it cost a `memset` per change).
type Path = [MaybeUninit<(u32, u32)>; MAX_DEPTH];

const NO_PATH: Path = [const { MaybeUninit::uninit() }; MAX_DEPTH];

/// Level `d` of a path [`RegionTree::descend`] wrote.
#[allow(unsafe_code)]
fn step(path: &Path, d: usize) -> (u32, usize) {
    // SAFETY: callers read only levels below the height, after a
    // `descend` at that height (which wrote each of them): a change either
    // descends first or uses the finger, which `descend` set and every
    // change of the height (`grow`, the root's collapse) clears.
    let (n, i) = unsafe { path[d].assume_init() };
    (n, i as usize)
}

impl<V: Copy> RegionTree<V> {
    /// An empty tree (allocates nothing).
    pub const fn new() -> Self {
        RegionTree {
            nodes: Vec::new(),
            free: NONE,
            free_count: 0,
            root: NONE,
            height: 0,
            root_gap: 0,
            len: 0,
            finger: NO_FINGER,
            path: NO_PATH,
        }
    }

    /// Number of regions.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is no region.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Ensures the next `inserts` calls of [`Self::insert_reserved`]
    /// (with any removals between them) cannot allocate.
    pub fn reserve(&mut self, mem: &Mem, inserts: usize) -> Result<(), Status> {
        // A leaf root with room splits nothing (only an empty tree takes
        // its first node); otherwise each insertion splits at most one
        // node per level and may add a root level.
        let need = if self.height == 0 && self.len + inserts <= B {
            usize::from(self.root == NONE && inserts > 0)
        } else {
            inserts * (self.height + 2 + inserts)
        };
        mem.reserve(&mut self.nodes, need.saturating_sub(self.free_count))
    }

    fn alloc(&mut self) -> u32 {
        if self.free != NONE {
            let n = self.free;
            self.free = self.nodes[n as usize].len;
            self.free_count -= 1;
            self.nodes[n as usize].len = 0;
            self.nodes[n as usize].start = 0;
            return n;
        }
        debug_assert!(
            self.nodes.len() < self.nodes.capacity(),
            "node not reserved"
        );
        self.nodes.push(Node {
            start: 0,
            len: 0,
            slots: [Item::FILLER; B],
        });
        (self.nodes.len() - 1) as u32
    }

    fn release(&mut self, n: u32) {
        self.nodes[n as usize].len = self.free;
        self.free = n;
        self.free_count += 1;
    }

    #[inline]
    fn node(&self, n: u32) -> &Node<V> {
        &self.nodes[n as usize]
    }

    #[inline]
    fn node_mut(&mut self, n: u32) -> &mut Node<V> {
        &mut self.nodes[n as usize]
    }

    /// Descends to the leaf where a region with base `key` is or would
    /// go, recording the path in `self.path`; the leaf becomes the finger,
    /// and is returned.
    fn descend(&mut self, key: u64) -> u32 {
        let mut n = self.root;
        let (mut prev_hi, mut next_lo) = (0, u64::MAX);
        for slot in self.path.iter_mut().take(self.height) {
            let items = self.nodes[n as usize].items();
            // The last entry starting at or below `key`, else the first.
            let i = items[1..].partition_point(|it| it.lo <= key);
            // The nearest subtrees on either side are the deepest ones.
            if i > 0 {
                prev_hi = items[i - 1].hi;
            }
            if let Some(next) = items.get(i + 1) {
                next_lo = next.lo;
            }
            slot.write((n, i as u32));
            n = items[i].node();
        }
        self.finger = Finger {
            leaf: n,
            prev_hi,
            next_lo,
            at: NONE,
        };
        n
    }

    /// The finger's leaf if a region `[base, end)` would lie in it (every
    /// region starting in `[base, end)` is there, and one put there keeps
    /// the order); `end == base` asks only for a region starting at `base`.
    #[inline]
    fn fingered(&self, base: u64, end: u64) -> Option<u32> {
        let f = &self.finger;
        (f.leaf != NONE && f.prev_hi <= base && base < f.next_lo && end <= f.next_lo)
            .then_some(f.leaf)
    }

    /// The finger's entry, if there is one.
    #[inline]
    fn finger_entry(&self) -> Option<&Item<V>> {
        let f = &self.finger;
        if f.at == NONE {
            return None;
        }
        self.node(f.leaf).items().get(f.at as usize)
    }

    /// The index of the finger's entry in its leaf if it starts at `base`.
    #[inline]
    fn finger_at(&self, base: u64) -> Option<usize> {
        self.finger_entry()
            .filter(|it| it.lo == base)
            .map(|_| self.finger.at as usize)
    }

    /// The leaf for a change at `[base, end)`: the finger's, else a
    /// descent (which moves the finger there).
    #[inline]
    fn leaf_for(&mut self, base: u64, end: u64) -> u32 {
        match self.fingered(base, end) {
            Some(leaf) => leaf,
            None => self.descend(base),
        }
    }

    /// Sets entry `i` of `parent` to the summary of its child `child`.
    fn refresh(&mut self, parent: u32, i: usize, child: u32) {
        let s = self.node(child).summary(child);
        self.node_mut(parent).items_mut()[i] = s;
    }

    /// Sets entry `i` of `parent` to the summary of `child` after `change`
    /// in it; `change` becomes the change this makes in `parent`.
    /// Returns whether the entry changed (if not, nothing above does).
    #[inline(always)]
    fn update(&mut self, parent: u32, i: usize, child: u32, change: &mut Change) -> bool {
        let slot = self.node(parent).start as usize + i;
        let e = &self.node(parent).slots[slot];
        let old = (e.lo, e.hi, e.gap);
        let c = self.node(child);
        let items = c.items();
        let (lo, hi) = (items[0].lo, items[items.len() - 1].hi);
        let gap = match c.gap_after(old.2, change) {
            Some(gap) => gap,
            None => c.summary(child).gap,
        };
        // Only the bounds and the gap: the link stays.
        let e = &mut self.node_mut(parent).slots[slot];
        e.lo = lo;
        e.hi = hi;
        e.gap = gap;
        *change = Change::Updated { at: i, old };
        (lo, hi, gap) != old
    }

    /// After a change at the root: its largest gap, kept for first fit
    /// above one leaf (a leaf root is scanned whole anyway).
    fn update_root(&mut self, change: &Change) {
        let root = self.root;
        if self.height == 0 {
            return;
        }
        let node = self.node(root);
        self.root_gap = match node.gap_after(self.root_gap, change) {
            Some(gap) => gap,
            None => node.summary(root).gap,
        };
    }
}

impl<V: Copy> Node<V> {
    /// This node's largest gap after `change`, given the one before
    /// (`g`), if the change cannot have shrunk it (else `None`: scan).
    #[inline]
    fn gap_after(&self, g: u64, change: &Change) -> Option<u64> {
        let items = self.items();
        let n = items.len();
        let gap_at = |j: usize| items[j].lo - items[j - 1].hi;
        match *change {
            Change::Inserted { at } => {
                let mut new = items[at].gap;
                if at > 0 {
                    new = new.max(gap_at(at));
                }
                if at + 1 < n {
                    new = new.max(gap_at(at + 1));
                }
                // An entry inside splits the gap it went into.
                let split = at > 0 && at + 1 < n && items[at + 1].lo - items[at - 1].hi == g;
                (!split || new >= g).then_some(g.max(new))
            }
            Change::Removed {
                at,
                old: (lo, hi, inner),
            } => {
                if at > 0 && at < n {
                    // The merged gap holds every gap that went.
                    Some(g.max(gap_at(at)))
                } else {
                    let gone = match at {
                        0 => inner.max(items[0].lo - hi),
                        _ => inner.max(lo - items[n - 1].hi),
                    };
                    (gone < g || g == 0).then_some(g)
                }
            }
            Change::Updated {
                at,
                old: (lo, hi, inner),
            } => {
                let it = items[at];
                let mut new = it.gap;
                let mut lost = inner == g && it.gap < inner;
                if at > 0 {
                    let (was, now) = (lo - items[at - 1].hi, gap_at(at));
                    new = new.max(now);
                    lost |= was == g && now < was;
                }
                if at + 1 < n {
                    let (was, now) = (items[at + 1].lo - hi, gap_at(at + 1));
                    new = new.max(now);
                    lost |= was == g && now < was;
                }
                (!lost).then_some(g.max(new))
            }
            Change::Rebuilt => None,
        }
    }
}

impl<V: Copy> RegionTree<V> {
    /// Inserts `item` at `at` in node `n`, splitting a full node: then
    /// returns the summary entry of the new right half.
    #[inline]
    fn insert_in(&mut self, n: u32, at: usize, item: Item<V>) -> Option<Item<V>> {
        if (self.node(n).len as usize) < B {
            self.node_mut(n).insert(at, item);
            return None;
        }
        let r = self.alloc();
        // A full node starts at its first slot.
        let upper = self.node(n).slots;
        let right = self.node_mut(r);
        right.slots[..B - MIN].copy_from_slice(&upper[MIN..]);
        right.len = (B - MIN) as u32;
        self.node_mut(n).len = MIN as u32;
        if at <= MIN {
            self.node_mut(n).insert(at, item);
        } else {
            self.node_mut(r).insert(at - MIN, item);
        }
        Some(self.node(r).summary(r))
    }

    /// Inserts `[base, base + size)` (disjoint from every region) after
    /// a [`Self::reserve`].
    pub fn insert_reserved(&mut self, base: u64, size: u64, value: V) {
        debug_assert!(size > 0);
        let item = Item {
            lo: base,
            hi: base + size,
            gap: 0,
            link: Link::Value(value),
        };
        self.len += 1;
        if self.root == NONE {
            let n = self.alloc();
            self.node_mut(n).insert(0, item);
            self.root = n;
            self.height = 0;
            self.finger = Finger::root(n, 0);
            return;
        }
        if self.height == 0 {
            // One leaf (a small VMAR): a sorted array.
            let root = self.root;
            let at = self.node(root).items().partition_point(|it| it.lo < base);
            if let Some(right) = self.insert_in(root, at, item) {
                self.grow(right);
                self.update_root(&Change::Rebuilt);
            } else {
                self.finger = Finger::root(root, at);
            }
            return;
        }
        let leaf = self.leaf_for(base, base + size);
        let at = self.node(leaf).items().partition_point(|it| it.lo < base);
        let mut carry = self.insert_in(leaf, at, item);
        let mut change = match carry {
            None => {
                self.finger.at = at as u32;
                Change::Inserted { at }
            }
            Some(_) => {
                // A split: the paths to leaves change.
                self.finger = NO_FINGER;
                Change::Rebuilt
            }
        };
        let mut child = leaf;
        for d in (0..self.height).rev() {
            let (p, i) = step(&self.path, d);
            let changed = self.update(p, i, child, &mut change);
            if let Some(right) = carry {
                carry = self.insert_in(p, i + 1, right);
                change = Change::Rebuilt;
            } else if !changed {
                // Nothing above changes.
                return;
            }
            child = p;
        }
        if let Some(right) = carry {
            self.grow(right);
        }
        self.update_root(&change);
    }

    /// The root split, `right` its new right half: a new root above both.
    fn grow(&mut self, right: Item<V>) {
        let old = self.root;
        let left = self.node(old).summary(old);
        let r = self.alloc();
        self.finger = NO_FINGER;
        let root = self.node_mut(r);
        root.slots[0] = left;
        root.slots[1] = right;
        root.len = 2;
        self.root = r;
        self.height += 1;
    }

    /// Removes the region starting at `base`, if there is one.
    pub fn remove(&mut self, base: u64) -> Option<Region<V>> {
        if self.root == NONE {
            return None;
        }
        if self.height == 0 {
            // One leaf (a small VMAR): a sorted array.
            let root = self.root;
            let at = match self.finger_at(base) {
                Some(at) => at,
                None => self
                    .node(root)
                    .items()
                    .iter()
                    .position(|it| it.lo == base)?,
            };
            let gone = self.node_mut(root).remove(at).region();
            self.len -= 1;
            self.finger = Finger::root(root, NONE as usize);
            if self.len == 0 {
                self.release(root);
                self.root = NONE;
                self.finger = NO_FINGER;
            }
            return Some(gone);
        }
        let at = match self.finger_at(base) {
            Some(at) => at,
            None => {
                let leaf = self.leaf_for(base, base);
                let items = self.node(leaf).items();
                let at = items.partition_point(|it| it.lo < base);
                if items.get(at)?.lo != base {
                    return None;
                }
                at
            }
        };
        let leaf = self.finger.leaf;
        self.finger.at = NONE;
        let item = self.node_mut(leaf).remove(at);
        let gone = item.region();
        self.len -= 1;
        let mut change = Change::Removed {
            at,
            old: (item.lo, item.hi, item.gap),
        };
        let mut child = leaf;
        for d in (0..self.height).rev() {
            let (p, i) = step(&self.path, d);
            if (self.node(child).len as usize) < MIN {
                // Entries move between nodes: the paths to leaves change.
                self.finger = NO_FINGER;
                self.rebalance(p, i);
                change = Change::Rebuilt;
            } else if !self.update(p, i, child, &mut change) {
                // Nothing above changes (no node above lost an entry).
                return Some(gone);
            }
            child = p;
        }
        let root = self.root;
        if self.node(root).len == 1 {
            // An inner root with one entry: its child is the root.
            self.root = self.node(root).items()[0].node();
            self.height -= 1;
            self.release(root);
            self.finger = NO_FINGER;
            change = Change::Rebuilt;
        }
        self.update_root(&change);
        Some(gone)
    }

    /// Entry `i` of `p` has too few entries: takes one from a sibling, or
    /// merges with it, and refreshes the summaries in `p`.
    fn rebalance(&mut self, p: u32, i: usize) {
        let li = if i > 0 { i - 1 } else { 0 };
        let (l, r) = {
            let items = self.node(p).items();
            (items[li].node(), items[li + 1].node())
        };
        let (ln, rn) = (self.node(l).len as usize, self.node(r).len as usize);
        if ln + rn <= B {
            let (moved, rs) = (self.node(r).slots, self.node(r).start as usize);
            let left = self.node_mut(l);
            left.pack_to_start();
            left.slots[ln..ln + rn].copy_from_slice(&moved[rs..rs + rn]);
            left.len = (ln + rn) as u32;
            self.release(r);
            self.node_mut(p).remove(li + 1);
            self.refresh(p, li, l);
            return;
        }
        if ln < rn {
            let first = self.node_mut(r).remove(0);
            self.node_mut(l).insert(ln, first);
        } else {
            let last = self.node_mut(l).remove(ln - 1);
            self.node_mut(r).insert(0, last);
        }
        self.refresh(p, li, l);
        self.refresh(p, li + 1, r);
    }

    /// Changes the size of the region starting at `base`; `false` if there
    /// is none. The caller keeps the regions disjoint.
    pub fn set_size(&mut self, base: u64, size: u64) -> bool {
        if self.root == NONE {
            return false;
        }
        let leaf = self.leaf_for(base, base);
        let items = self.node(leaf).items();
        let at = items.partition_point(|it| it.lo < base);
        if items.get(at).is_none_or(|it| it.lo != base) {
            return false;
        }
        self.finger.at = at as u32;
        let old = self.node(leaf).items()[at];
        self.node_mut(leaf).items_mut()[at].hi = base + size;
        let mut change = Change::Updated {
            at,
            old: (old.lo, old.hi, old.gap),
        };
        let mut child = leaf;
        for d in (0..self.height).rev() {
            let (p, i) = step(&self.path, d);
            if !self.update(p, i, child, &mut change) {
                return true;
            }
            child = p;
        }
        self.update_root(&change);
        true
    }

    /// The last region whose base `before` accepts (a prefix of the order).
    #[inline]
    fn last_where(&self, before: impl Fn(u64) -> bool) -> Option<Region<V>> {
        if self.root == NONE {
            return None;
        }
        if let Some(it) = self.finger_entry() {
            // The last change's entry, if the next region is not accepted.
            if before(it.lo) && !before(it.hi) {
                return Some(it.region());
            }
        }
        let f = &self.finger;
        if f.leaf != NONE && (f.next_lo == u64::MAX || !before(f.next_lo)) {
            // Nothing after the finger's leaf is accepted: the answer is in
            // it, or (if none of it is) before it, or there is none.
            let items = self.node(f.leaf).items();
            match items.partition_point(|it| before(it.lo)) {
                0 if f.prev_hi == 0 => return None,
                0 => {}
                c => return Some(items[c - 1].region()),
            }
        }
        let mut n = self.root;
        for _ in 0..self.height {
            let items = self.node(n).items();
            let c = items.partition_point(|it| before(it.lo));
            n = items[c.checked_sub(1)?].node();
        }
        let items = self.node(n).items();
        let c = items.partition_point(|it| before(it.lo));
        Some(items[c.checked_sub(1)?].region())
    }

    /// The region with the greatest base below `x`.
    #[inline]
    pub fn last_before(&self, x: u64) -> Option<Region<V>> {
        self.last_where(|lo| lo < x)
    }

    /// The region containing `x`.
    #[inline]
    pub fn containing(&self, x: u64) -> Option<Region<V>> {
        self.last_where(|lo| lo <= x).filter(|r| x < r.end())
    }

    /// The first region ending above `x` (the first one at or after `x`).
    #[inline]
    pub fn first_ending_after(&self, x: u64) -> Option<Region<V>> {
        if self.root == NONE {
            return None;
        }
        if let Some(it) = self.finger_entry() {
            // The last change's entry, if it holds `x`.
            if it.lo <= x && x < it.hi {
                return Some(it.region());
            }
        }
        let f = &self.finger;
        if f.leaf != NONE && f.prev_hi <= x {
            // Nothing before the finger's leaf ends above `x`: the answer
            // is in it, or (if none of it does) after it, or there is none.
            let items = self.node(f.leaf).items();
            let c = items.partition_point(|it| it.hi <= x);
            if let Some(it) = items.get(c) {
                return Some(it.region());
            }
            if f.next_lo == u64::MAX {
                return None;
            }
        }
        let mut n = self.root;
        for _ in 0..self.height {
            let items = self.node(n).items();
            let c = items.partition_point(|it| it.hi <= x);
            n = items.get(c)?.node();
        }
        let items = self.node(n).items();
        let c = items.partition_point(|it| it.hi <= x);
        items.get(c).map(Item::region)
    }

    /// The region with the greatest base.
    pub fn last(&self) -> Option<Region<V>> {
        self.last_where(|_| true)
    }

    /// The first region (lowest base).
    pub fn first(&self) -> Option<Region<V>> {
        // Every region ends above 0 (none is empty).
        self.first_ending_after(0)
    }

    /// The lowest address in `[lo, hi)` where `size` bytes fit between the
    /// regions (all of which lie in `[lo, hi)`): first fit, O(log n), as
    /// each inner entry knows the largest gap under it.
    pub fn first_fit(&self, lo: u64, hi: u64, size: u64) -> Option<u64> {
        let mut prev = lo;
        let mut n = self.root;
        if n == NONE {
            return (hi - lo >= size).then_some(lo);
        }
        let root = self.node(n).items();
        let last = root[root.len() - 1].hi;
        if self.height > 0 && root[0].lo - lo < size && self.root_gap < size {
            // No gap inside fits: only the one past the last region may.
            return (hi - last >= size).then_some(last);
        }
        let mut depth = 0;
        'descend: loop {
            let inner = depth < self.height;
            for it in self.node(n).items() {
                if it.lo - prev >= size {
                    return Some(prev);
                }
                if inner && it.gap >= size {
                    // A gap that fits is inside: go down once per level.
                    n = it.node();
                    depth += 1;
                    continue 'descend;
                }
                prev = it.hi;
            }
            break;
        }
        // Only the root's scan gets here (a subtree entered has the gap).
        debug_assert_eq!(depth, 0);
        (depth == 0 && hi - prev >= size).then_some(prev)
    }

    /// Every region in order (O(n log n): for checks and tests).
    pub fn iter(&self) -> impl Iterator<Item = Region<V>> + '_ {
        core::iter::successors(self.first(), |r| self.first_ending_after(r.end()))
    }

    /// Checks the tree's invariants (sorted, disjoint, summaries exact,
    /// nodes filled, every leaf at one depth); for tests.
    pub fn check(&self) -> Result<(), &'static str> {
        if self.root == NONE {
            return if self.len == 0 {
                Ok(())
            } else {
                Err("empty root, regions counted")
            };
        }
        let mut count = 0;
        self.check_node(self.root, 0, &mut count)?;
        if count != self.len {
            return Err("count differs");
        }
        if self.height > 0 && self.node(self.root).len < 2 {
            return Err("inner root with one entry");
        }
        if self.height > 0 && self.node(self.root).summary(self.root).gap != self.root_gap {
            return Err("stale root gap");
        }
        if self.finger.leaf != NONE {
            // The path leads to the finger's leaf, whose neighbours are
            // the ones recorded.
            let (mut n, mut prev_hi, mut next_lo) = (self.root, 0, u64::MAX);
            for d in 0..self.height {
                let (p, i) = step(&self.path, d);
                let items = self.node(p).items();
                if p != n || i >= items.len() {
                    return Err("finger path");
                }
                if i > 0 {
                    prev_hi = items[i - 1].hi;
                }
                if let Some(next) = items.get(i + 1) {
                    next_lo = next.lo;
                }
                n = items[i].node();
            }
            if n != self.finger.leaf
                || prev_hi != self.finger.prev_hi
                || next_lo != self.finger.next_lo
            {
                return Err("stale finger");
            }
            let at = self.finger.at;
            if at != NONE && at >= self.node(n).len {
                return Err("finger entry");
            }
        }
        Ok(())
    }

    fn check_node(&self, n: u32, depth: usize, count: &mut usize) -> Result<(), &'static str> {
        let node = self.node(n);
        let len = node.len as usize;
        if len == 0 || node.start as usize + len > B || (n != self.root && len < MIN) {
            return Err("node fill");
        }
        let items = node.items();
        for w in items.windows(2) {
            if w[0].hi > w[1].lo {
                return Err("entries overlap or out of order");
            }
        }
        for it in items {
            if it.lo >= it.hi {
                return Err("empty entry");
            }
            if depth == self.height {
                if !matches!(it.link, Link::Value(_)) || it.gap != 0 {
                    return Err("leaf entry");
                }
                *count += 1;
            } else {
                let c = it.node();
                let s = self.node(c).summary(c);
                if (s.lo, s.hi, s.gap) != (it.lo, it.hi, it.gap) {
                    return Err("stale summary");
                }
                self.check_node(c, depth + 1, count)?;
            }
        }
        Ok(())
    }
}
