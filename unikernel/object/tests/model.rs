//! Differential test: random sequences of VMO syscalls over trees of VMOs,
//! checked after every step against a naive model in which every VMO is a
//! flat byte array and a write is *pushed* down to every descendant that
//! still shows the page (the implementation instead *pulls* through the
//! parent chain on reads). Also: a leak check after every sequence, and
//! allocation-failure injection at every allocation along a sequence.
//!
//! VMOs are also mapped into a root VMAR, partly unmapped (splitting the
//! mappings) and stored to through their mappings; after every step every
//! mapped page is loaded through the fake page table (faulting where no
//! translation is left) and must show exactly the model's bytes, so a stale
//! translation or a wrongly writable one is caught.

mod common;
use abi::*;
use common::*;
use object::{FrameAllocator, TableId, VmarId};

const PB: usize = PAGE_SIZE as usize;
const MAX_PAGES: u64 = 4;

/// A seeded generator: sequences are reproducible from their seed.
use testkit::SplitMix64 as Rng;

#[derive(Clone, Debug)]
enum Op {
    Create {
        pages: u64,
        resizable: bool,
    },
    CreateChild {
        h: usize,
        offset_pages: u64,
        size_pages: u64,
        resizable: bool,
    },
    Write {
        h: usize,
        offset: u64,
        len: usize,
        value: u8,
    },
    Read {
        h: usize,
        offset: u64,
        len: usize,
    },
    SetSize {
        h: usize,
        pages: u64,
    },
    Commit {
        h: usize,
        offset: u64,
        len: u64,
    },
    Decommit {
        h: usize,
        offset: u64,
        len: u64,
    },
    Close {
        h: usize,
    },
    Duplicate {
        h: usize,
    },
    Map {
        h: usize,
        offset_pages: u64,
        pages: u64,
        writable: bool,
    },
    /// Unmaps `pages` pages from page `first` of mapping `m` (normalised by `rebase`).
    Unmap {
        m: usize,
        first: u64,
        pages: u64,
    },
    /// Stores through mapping `m` at byte `offset` of it (normalised by `rebase`).
    Store {
        m: usize,
        offset: u64,
        value: u8,
    },
}

/// Byte offsets that exercise page starts, ends and boundaries.
fn byte_offset(rng: &mut Rng) -> u64 {
    let page = rng.below(MAX_PAGES + 1);
    let within = [0, 1, 7, 2048, 4090, 4095][rng.below(6) as usize];
    page * PAGE_SIZE + within
}

fn gen_op(rng: &mut Rng, handles: usize) -> Op {
    let raw = rng.below(1 << 20) as usize;
    match rng.below(136) {
        100..=111 if handles > 0 => {
            return Op::Map {
                h: raw % handles,
                offset_pages: rng.below(3),
                pages: 1 + rng.below(MAX_PAGES + 1),
                writable: rng.below(4) != 0,
            }
        }
        112..=115 => {
            return Op::Unmap {
                m: raw,
                first: rng.below(64),
                pages: rng.below(64),
            }
        }
        116..=135 => {
            return Op::Store {
                m: raw,
                offset: byte_offset(rng),
                value: 1 + rng.below(255) as u8,
            }
        }
        _ => {}
    }
    let h = if handles == 0 {
        0
    } else {
        rng.below(handles as u64) as usize
    };
    if handles == 0 {
        return Op::Create {
            pages: rng.below(MAX_PAGES + 1),
            resizable: rng.below(4) != 0,
        };
    }
    match rng.below(100) {
        0..=5 => Op::Create {
            pages: rng.below(MAX_PAGES + 1),
            resizable: rng.below(4) != 0,
        },
        6..=29 => Op::CreateChild {
            h,
            offset_pages: rng.below(MAX_PAGES + 2),
            size_pages: rng.below(MAX_PAGES + 1),
            resizable: rng.below(4) != 0,
        },
        30..=54 => Op::Write {
            h,
            offset: byte_offset(rng),
            len: 1 + rng.below(12) as usize,
            value: 1 + rng.below(255) as u8,
        },
        55..=59 => Op::Read {
            h,
            offset: byte_offset(rng),
            len: rng.below(20) as usize,
        },
        60..=69 => Op::SetSize {
            h,
            pages: rng.below(MAX_PAGES + 1),
        },
        70..=76 => Op::Commit {
            h,
            offset: byte_offset(rng),
            len: rng.below(3 * PAGE_SIZE),
        },
        77..=86 => Op::Decommit {
            h,
            offset: byte_offset(rng),
            len: rng.below(3 * PAGE_SIZE),
        },
        87..=93 => Op::Close { h },
        _ => Op::Duplicate { h },
    }
}

#[derive(Clone)]
struct MVmo {
    bytes: Vec<u8>,
    own: Vec<bool>,
    /// (parent, offset in pages, window in pages)
    parent: Option<(usize, u64, u64)>,
    children: Vec<usize>,
    handles: u32,
    /// Mapping records of this VMO (each keeps it alive).
    mappings: u32,
    resizable: bool,
}

/// A mapping in the model: `pages` pages of `vmo` from `first_page` at `addr`.
#[derive(Clone, Debug)]
struct MMap {
    addr: u64,
    vmo: usize,
    first_page: u64,
    pages: u64,
    writable: bool,
}

#[derive(Clone, Default)]
struct Model {
    vmos: Vec<MVmo>,
    /// Open handles: (model VMO, real handle value).
    handles: Vec<(usize, Handle)>,
    /// Live mappings, in creation order.
    maps: Vec<MMap>,
}

impl Model {
    fn size(&self, v: usize) -> u64 {
        self.vmos[v].own.len() as u64
    }

    fn alive(&self, v: usize) -> bool {
        self.vmos[v].handles > 0
            || self.vmos[v].mappings > 0
            || self.vmos[v].children.iter().any(|&c| self.alive(c))
    }

    fn zero_children(&self, v: usize) -> bool {
        !self.vmos[v].children.iter().any(|&c| self.alive(c))
    }

    fn committed_total(&self) -> usize {
        (0..self.vmos.len())
            .filter(|&v| self.alive(v))
            .map(|v| self.vmos[v].own.iter().filter(|&&o| o).count())
            .sum()
    }

    fn page(&self, v: usize, p: u64) -> &[u8] {
        &self.vmos[v].bytes[p as usize * PB..(p as usize + 1) * PB]
    }

    /// What a VMO without its own page at `p` shows there (pull, one level).
    fn inherited(&self, v: usize, p: u64) -> Vec<u8> {
        match self.vmos[v].parent {
            Some((parent, off, window)) if p < window => self.page(parent, p + off).to_vec(),
            _ => vec![0; PB],
        }
    }

    /// Pushes page `p` of `v` to every descendant still showing it.
    fn push(&mut self, v: usize, p: u64) {
        let content = self.page(v, p).to_vec();
        for c in self.vmos[v].children.clone() {
            let (_, off, window) = self.vmos[c].parent.unwrap();
            if p < off || p - off >= window || self.vmos[c].own[(p - off) as usize] {
                continue;
            }
            let cp = (p - off) as usize;
            self.vmos[c].bytes[cp * PB..(cp + 1) * PB].copy_from_slice(&content);
            self.push(c, p - off);
        }
    }

    fn range(&self, v: usize, offset: u64, len: u64) -> Result<(), Status> {
        match offset.checked_add(len) {
            Some(end) if end <= self.size(v) * PAGE_SIZE => Ok(()),
            _ => Err(ZX_ERR_OUT_OF_RANGE),
        }
    }

    fn set_page(&mut self, v: usize, p: u64, content: &[u8]) {
        self.vmos[v].bytes[p as usize * PB..(p as usize + 1) * PB].copy_from_slice(content);
    }

    fn resize(&mut self, v: usize, new: u64) {
        let old = self.size(v);
        if new < old {
            self.vmos[v].bytes.truncate(new as usize * PB);
            self.vmos[v].own.truncate(new as usize);
            if let Some((p, off, window)) = self.vmos[v].parent {
                self.vmos[v].parent = Some((p, off, window.min(new)));
            }
            for c in self.vmos[v].children.clone() {
                let (p, off, window) = self.vmos[c].parent.unwrap();
                let new_window = window.min(new.saturating_sub(off));
                self.vmos[c].parent = Some((p, off, new_window));
                for cp in new_window..window {
                    if !self.vmos[c].own[cp as usize] {
                        self.set_page(c, cp, &[0; PB]);
                        self.push(c, cp);
                    }
                }
            }
        } else {
            self.vmos[v].bytes.resize(new as usize * PB, 0);
            self.vmos[v].own.resize(new as usize, false);
        }
    }
}

/// Applies `op` to the model; returns the expected result (a handle result
/// is Ok(0) here: handle values are the implementation's).
fn model_apply(m: &mut Model, op: &Op) -> Result<(), Status> {
    match *op {
        Op::Create { pages, resizable } => {
            m.vmos.push(MVmo {
                bytes: vec![0; pages as usize * PB],
                own: vec![false; pages as usize],
                parent: None,
                children: vec![],
                handles: 1,
                mappings: 0,
                resizable,
            });
            Ok(())
        }
        Op::CreateChild {
            h,
            offset_pages,
            size_pages,
            resizable,
        } => {
            let parent = m.handles[h].0;
            let window = size_pages.min(m.size(parent).saturating_sub(offset_pages));
            let mut bytes = vec![0; size_pages as usize * PB];
            for p in 0..window {
                bytes[p as usize * PB..(p as usize + 1) * PB]
                    .copy_from_slice(m.page(parent, p + offset_pages));
            }
            let id = m.vmos.len();
            m.vmos.push(MVmo {
                bytes,
                own: vec![false; size_pages as usize],
                parent: Some((parent, offset_pages, window)),
                children: vec![],
                handles: 1,
                mappings: 0,
                resizable,
            });
            m.vmos[parent].children.push(id);
            Ok(())
        }
        Op::Write {
            h,
            offset,
            len,
            value,
        } => {
            let v = m.handles[h].0;
            m.range(v, offset, len as u64)?;
            for pos in offset..offset + len as u64 {
                m.vmos[v].own[(pos / PAGE_SIZE) as usize] = true;
                m.vmos[v].bytes[pos as usize] = value;
            }
            for p in offset / PAGE_SIZE..(offset + len as u64).div_ceil(PAGE_SIZE) {
                m.push(v, p);
            }
            Ok(())
        }
        Op::Read { h, offset, len } => m.range(m.handles[h].0, offset, len as u64),
        Op::SetSize { h, pages } => {
            let v = m.handles[h].0;
            if !m.vmos[v].resizable {
                return Err(ZX_ERR_UNAVAILABLE);
            }
            m.resize(v, pages);
            Ok(())
        }
        Op::Commit { h, offset, len } | Op::Decommit { h, offset, len } => {
            let v = m.handles[h].0;
            if len == 0 {
                // An empty range does nothing, if it starts by the end.
                return m.range(v, offset, 0);
            }
            m.range(v, offset, len)?;
            let commit = matches!(*op, Op::Commit { .. });
            for p in offset / PAGE_SIZE..(offset + len).div_ceil(PAGE_SIZE) {
                if commit {
                    m.vmos[v].own[p as usize] = true;
                } else if m.vmos[v].own[p as usize] {
                    m.vmos[v].own[p as usize] = false;
                    let shown = m.inherited(v, p);
                    m.set_page(v, p, &shown);
                    m.push(v, p);
                }
            }
            Ok(())
        }
        Op::Close { h } => {
            let (v, _) = m.handles.remove(h);
            m.vmos[v].handles -= 1;
            Ok(())
        }
        Op::Duplicate { h } => {
            let v = m.handles[h].0;
            m.vmos[v].handles += 1;
            Ok(())
        }
        Op::Map {
            h,
            offset_pages,
            pages,
            writable,
        } => {
            let v = m.handles[h].0;
            m.vmos[v].mappings += 1;
            m.maps.push(MMap {
                addr: 0,
                vmo: v,
                first_page: offset_pages,
                pages,
                writable,
            });
            Ok(())
        }
        Op::Unmap { m: i, first, pages } => {
            let mm = m.maps.remove(i);
            let mut pieces = 0;
            if first > 0 {
                m.maps.push(MMap {
                    pages: first,
                    ..mm.clone()
                });
                pieces += 1;
            }
            if first + pages < mm.pages {
                m.maps.push(MMap {
                    addr: mm.addr + (first + pages) * PAGE_SIZE,
                    first_page: mm.first_page + first + pages,
                    pages: mm.pages - first - pages,
                    ..mm.clone()
                });
                pieces += 1;
            }
            m.vmos[mm.vmo].mappings = m.vmos[mm.vmo].mappings + pieces - 1;
            Ok(())
        }
        Op::Store {
            m: i,
            offset,
            value,
        } => {
            let mm = m.maps[i].clone();
            if !mm.writable {
                return Err(ZX_ERR_ACCESS_DENIED);
            }
            let pos = mm.first_page * PAGE_SIZE + offset;
            if pos >= m.size(mm.vmo) * PAGE_SIZE {
                return Err(ZX_ERR_OUT_OF_RANGE);
            }
            let v = mm.vmo;
            m.vmos[v].own[(pos / PAGE_SIZE) as usize] = true;
            m.vmos[v].bytes[pos as usize] = value;
            m.push(v, pos / PAGE_SIZE);
            Ok(())
        }
    }
}

/// The root VMAR the model maps into: its id and a handle to it.
#[derive(Copy, Clone)]
struct Root {
    id: VmarId,
    handle: Handle,
}

/// Applies `op` to the implementation; a new handle or mapping address is
/// returned as `Some`.
fn real_apply(
    s: &mut Space,
    t: TableId,
    root: Root,
    m: &Model,
    op: &Op,
) -> Result<Option<u64>, Status> {
    let handles = &m.handles;
    match *op {
        Op::Map {
            h,
            offset_pages,
            pages,
            writable,
        } => {
            let perms = ZX_VM_PERM_READ | if writable { ZX_VM_PERM_WRITE } else { 0 };
            return s
                .task(t)
                .vmar_map(
                    root.handle,
                    perms,
                    0,
                    handles[h].1,
                    offset_pages * PAGE_SIZE,
                    pages * PAGE_SIZE,
                )
                .map(Some);
        }
        Op::Unmap { m: i, first, pages } => {
            let mm = &m.maps[i];
            return s
                .task(t)
                .vmar_unmap(root.handle, mm.addr + first * PAGE_SIZE, pages * PAGE_SIZE)
                .map(|()| None);
        }
        Op::Store {
            m: i,
            offset,
            value,
        } => {
            return store(s, root.id, m.maps[i].addr + offset, value).map(|()| None);
        }
        _ => {}
    }
    let mut task = s.task(t);
    let handle = |r: Result<Handle, Status>| r.map(|h| Some(u64::from(h)));
    match *op {
        Op::Create { pages, resizable } => {
            let opts = if resizable { 0 } else { ZX_VMO_NON_RESIZABLE };
            // An unaligned size checks the rounding too.
            let size = if pages == 0 { 0 } else { pages * PAGE_SIZE - 1 };
            handle(task.vmo_create(size, opts))
        }
        Op::CreateChild {
            h,
            offset_pages,
            size_pages,
            resizable,
        } => {
            let opts = ZX_VMO_CHILD_COPY_ON_WRITE
                | if resizable {
                    0
                } else {
                    ZX_VMO_CHILD_NON_RESIZEABLE
                };
            handle(task.vmo_create_child(
                handles[h].1,
                opts,
                offset_pages * PAGE_SIZE,
                size_pages * PAGE_SIZE,
            ))
        }
        Op::Write {
            h,
            offset,
            len,
            value,
        } => task
            .vmo_write(handles[h].1, &vec![value; len], offset)
            .map(|()| None),
        Op::Read { h, offset, len } => task
            .vmo_read(handles[h].1, &mut vec![0; len], offset)
            .map(|()| None),
        Op::SetSize { h, pages } => task
            .vmo_set_size(handles[h].1, pages * PAGE_SIZE)
            .map(|()| None),
        Op::Commit { h, offset, len } => task
            .vmo_op_range(handles[h].1, ZX_VMO_OP_COMMIT, offset, len, &mut [])
            .map(|()| None),
        Op::Decommit { h, offset, len } => task
            .vmo_op_range(handles[h].1, ZX_VMO_OP_DECOMMIT, offset, len, &mut [])
            .map(|()| None),
        Op::Close { h } => task.handle_close(handles[h].1).map(|()| None),
        Op::Duplicate { h } => handle(task.handle_duplicate(handles[h].1, ZX_RIGHT_SAME_RIGHTS)),
        Op::Map { .. } | Op::Unmap { .. } | Op::Store { .. } => unreachable!(),
    }
}

/// Every observable the model defines, for every open handle and mapping.
fn check(s: &mut Space, t: TableId, root: Root, m: &Model, context: &dyn Fn() -> String) {
    assert!(
        s.mapping_lists_consistent(),
        "mapping and child lists: {}",
        context()
    );
    for mm in &m.maps {
        let size = m.size(mm.vmo);
        for p in 0..mm.pages {
            let va = mm.addr + p * PAGE_SIZE;
            let vp = mm.first_page + p;
            if vp >= size {
                assert_eq!(
                    load(s, root.id, va),
                    Err(ZX_ERR_OUT_OF_RANGE),
                    "load past the end of vmo {} at {va:#x}: {}",
                    mm.vmo,
                    context()
                );
                continue;
            }
            load(s, root.id, va).unwrap();
            let (pa, perms) = s.platform().pte(va).unwrap();
            let mut got = vec![0u8; PB];
            if pa != ZERO_PADDR {
                s.platform().read(object::Frame::new(pa), 0, &mut got);
            }
            assert!(
                got == m.page(mm.vmo, vp),
                "page {vp} of vmo {} through mapping {va:#x} differs: {}",
                mm.vmo,
                context()
            );
            assert!(
                !perms.write || (mm.writable && m.vmos[mm.vmo].own[vp as usize]),
                "writable translation of a page not the VMO's own: {}",
                context()
            );
        }
    }
    for &(v, h) in &m.handles {
        let size = m.size(v) * PAGE_SIZE;
        assert_eq!(
            s.task(t).vmo_get_size(h),
            Ok(size),
            "size of vmo {v}: {}",
            context()
        );
        let got = read(s, t, h, 0, size as usize);
        if got != m.vmos[v].bytes {
            let at = got
                .iter()
                .zip(&m.vmos[v].bytes)
                .position(|(a, b)| a != b)
                .unwrap();
            panic!(
                "contents of vmo {v} differ at byte {at}: got {} want {}: {}",
                got[at],
                m.vmos[v].bytes[at],
                context()
            );
        }
        let own = m.vmos[v].own.iter().filter(|&&o| o).count() as u64;
        assert_eq!(
            info(s, t, h).committed_bytes,
            own * PAGE_SIZE,
            "committed bytes of vmo {v}: {}",
            context()
        );
        assert_eq!(
            zero_children(s, t, h),
            m.zero_children(v),
            "ZERO_CHILDREN of vmo {v}: {}",
            context()
        );
    }
    assert_eq!(
        s.platform().live_frames(),
        m.committed_total(),
        "frames held: {}",
        context()
    );
}

fn sequence(seed: u64, steps: usize) -> Vec<Op> {
    let mut rng = Rng(seed);
    let mut m = Model::default();
    let mut ops = Vec::new();
    for _ in 0..steps {
        let Some(op) = rebase(&gen_op(&mut rng, m.handles.len()), &m) else {
            continue;
        };
        // Keep the model's handle list in step, as the generator depends on it.
        let r = model_apply(&mut m, &op);
        if r.is_ok()
            && matches!(
                op,
                Op::Create { .. } | Op::CreateChild { .. } | Op::Duplicate { .. }
            )
        {
            let v = match op {
                Op::Duplicate { h } => m.handles[h].0,
                _ => m.vmos.len() - 1,
            };
            m.handles.push((v, 0));
        }
        ops.push(op);
    }
    ops
}

/// Runs a sequence, checking after every step. With `fail_frame` /
/// `fail_mem`, the Nth frame / object allocation fails: the call doing it
/// must return `ZX_ERR_NO_MEMORY` and change nothing. Returns
/// (whether an injected failure fired, VMOs created).
fn run(
    seed: u64,
    ops: &[Op],
    fail_frame: Option<u64>,
    fail_mem: Option<u64>,
) -> (bool, usize, usize) {
    let (mut s, t, root_id, root_handle) = setup_vmar();
    let root = Root {
        id: root_id,
        handle: root_handle,
    };
    let mut m = Model::default();
    s.platform().fail_after(fail_frame);
    s.mem().fail_after(fail_mem);
    let mut fired = false;
    let mut stores = 0;
    for (i, op) in ops.iter().enumerate() {
        // After an injected failure the handle list differs from the
        // generator's: wrap handle indices, and skip handle ops with none open.
        let Some(op) = &rebase(op, &m) else {
            continue;
        };
        let context = || {
            format!(
                "seed {seed} step {i} {op:?} (fail {fail_frame:?}/{fail_mem:?}) after {:?}",
                &ops[..i]
            )
        };
        let pending = s.platform().failure_pending() || s.mem().failure_pending();
        let got = real_apply(&mut s, t, root, &m, op);
        let fired_now = pending && !(s.platform().failure_pending() || s.mem().failure_pending());
        if fired_now {
            fired = true;
            assert_eq!(got, Err(ZX_ERR_NO_MEMORY), "{}", context());
        } else {
            let mut next = m.clone();
            let want = model_apply(&mut next, op);
            assert_eq!(got.map(|_| ()), want, "{}", context());
            if got.is_ok() && matches!(op, Op::Store { .. }) {
                stores += 1;
            }
            match (got, op) {
                (Ok(Some(addr)), Op::Map { .. }) => next.maps.last_mut().unwrap().addr = addr,
                (Ok(Some(h)), _) => {
                    let v = match *op {
                        Op::Duplicate { h } => m.handles[h].0,
                        _ => next.vmos.len() - 1,
                    };
                    next.handles.push((v, h as Handle));
                }
                _ => {}
            }
            m = next;
        }
        check(&mut s, t, root, &m, &context);
    }
    for mm in std::mem::take(&mut m.maps) {
        s.task(t)
            .vmar_unmap(root.handle, mm.addr, mm.pages * PAGE_SIZE)
            .unwrap();
    }
    assert_eq!(
        s.platform().mapped_pages(),
        0,
        "translations left: seed {seed}"
    );
    // Leak check: every handle closed → every frame back, every VMO gone.
    for (_, h) in std::mem::take(&mut m.handles) {
        s.task(t).handle_close(h).unwrap();
    }
    assert_eq!(s.platform().live_frames(), 0, "frames leaked: seed {seed}");
    assert_eq!(s.vmo_count(), 0, "VMOs leaked: seed {seed}");
    assert_eq!(s.committed_pages(t), Some(0), "charge leaked: seed {seed}");
    (fired, m.vmos.len(), stores)
}

/// `op` with its handle or mapping index wrapped to what is open in `m`,
/// and an unmap range fitted inside its mapping.
fn rebase(op: &Op, m: &Model) -> Option<Op> {
    let handles = m.handles.len();
    let mut op = op.clone();
    match &mut op {
        Op::Unmap { m: i, first, pages } => {
            if m.maps.is_empty() {
                return None;
            }
            *i %= m.maps.len();
            let n = m.maps[*i].pages;
            *first %= n;
            *pages = 1 + *pages % (n - *first);
        }
        Op::Store { m: i, offset, .. } => {
            if m.maps.is_empty() {
                return None;
            }
            *i %= m.maps.len();
            *offset %= m.maps[*i].pages * PAGE_SIZE;
        }
        Op::Map { h, .. } => {
            if handles == 0 {
                return None;
            }
            *h %= handles;
        }
        Op::Create { .. } => {}
        Op::CreateChild { h, .. }
        | Op::Write { h, .. }
        | Op::Read { h, .. }
        | Op::SetSize { h, .. }
        | Op::Commit { h, .. }
        | Op::Decommit { h, .. }
        | Op::Close { h }
        | Op::Duplicate { h } => {
            if handles == 0 {
                return None;
            }
            *h %= handles;
        }
    }
    Some(op)
}

const SEQUENCES: u64 = 10_000;
const STEPS: usize = 48;
const SHARDS: u64 = 4;

fn shard(k: u64) {
    let mut big_trees = 0;
    let mut stored = 0;
    let n = SEQUENCES / SHARDS;
    for seed in k * n..(k + 1) * n {
        let ops = sequence(seed, STEPS);
        let (_, vmos, stores) = run(seed, &ops, None, None);
        if stores > 0 {
            stored += 1;
        }
        if vmos >= 8 {
            big_trees += 1;
        }
    }
    // Most sequences must really store through a mapping.
    assert!(
        stored * 2 >= n,
        "only {stored} of {n} sequences stored through a mapping"
    );
    // The generator must really build trees of at least 8 VMOs.
    assert!(
        big_trees * 10 >= n * 9,
        "only {big_trees} of {n} sequences built 8+ VMOs"
    );
}

#[test]
fn implementation_matches_model_sequences_0_to_2499() {
    shard(0);
}
#[test]
fn implementation_matches_model_sequences_2500_to_4999() {
    shard(1);
}
#[test]
fn implementation_matches_model_sequences_5000_to_7499() {
    shard(2);
}
#[test]
fn implementation_matches_model_sequences_7500_to_9999() {
    shard(3);
}

/// Runs 40 sequences from `first_seed` with the `n`th allocation of one
/// kind failed (`fail(n)` says which), for every `n` until a run gets
/// through without reaching it; checks that this failed over 100
/// allocations in all (`what` names the kind).
fn fail_each_allocation(
    first_seed: u64,
    what: &str,
    fail: impl Fn(u64) -> (Option<u64>, Option<u64>),
) {
    let mut failures = 0;
    for seed in first_seed..first_seed + 40 {
        let ops = sequence(seed, STEPS);
        let mut n = 0;
        while {
            let (frame, object) = fail(n);
            run(seed, &ops, frame, object).0
        } {
            n += 1;
        }
        failures += n;
    }
    assert!(
        failures > 100,
        "only {failures} {what} allocations were failed"
    );
}

#[test]
fn every_failing_frame_allocation_is_no_memory_and_changes_nothing() {
    fail_each_allocation(100_000, "frame", |n| (Some(n), None));
}

#[test]
fn every_failing_object_allocation_is_no_memory_and_changes_nothing() {
    fail_each_allocation(200_000, "object", |n| (None, Some(n)));
}
