//! Host fakes: heap-backed frames with failure injection and leak counting,
//! a recording MMU with a fake page table, and a recording waker.
#![allow(dead_code)]

use abi::*;
use object::*;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

/// The fake's shared zero page: outside the range frames come from.
pub const ZERO_PADDR: u64 = 0x1000_0000;

/// A platform whose frames are heap pages at made-up, never-reused addresses.
#[derive(Default)]
pub struct Fake {
    frames: RefCell<HashMap<u64, Box<[u8; PAGE_BYTES]>>>,
    next_paddr: Cell<u64>,
    /// Fails the allocation this many allocations from now (0: the next).
    fail_after: Cell<Option<u64>>,
    /// Most frames live at once.
    pub limit: Cell<Option<usize>>,
    pub allocations: Cell<u64>,
    pub unmaps: RefCell<Vec<(u64, u64)>>,
    pub maps: RefCell<Vec<(u64, u64, MapPerms)>>,
    /// The fake page table: page vaddr → (paddr, permissions).
    pub page_table: RefCell<BTreeMap<u64, (u64, MapPerms)>>,
    /// Fails the `Mmu::map` this many calls from now (0: the next).
    map_fail_after: Cell<Option<u64>>,
    pub wakes: RefCell<Vec<(WaiterId, Signals)>>,
    /// Cache maintenance asked for: (op, paddr + offset, len).
    pub cache_ops: RefCell<Vec<(CacheOp, u64, usize)>>,
    /// Koids of kernel objects the kernel is done with once unreferenced.
    pub done_with: RefCell<Vec<Koid>>,
    /// Koids the object layer asked about, in order.
    pub asked_unreferenced: RefCell<Vec<Koid>>,
    /// Hierarchy locks taken (`lock_hierarchy`), by key, in order.
    pub hierarchy_locks: RefCell<Vec<Koid>>,
    /// Whether a hierarchy lock is held now (a second one at once is a bug).
    pub hierarchy_held: Rc<Cell<bool>>,
    /// Charged table pages, modelled as one per 2 MiB that holds a
    /// translation (`tables_charged`), or none (the default).
    pub tables_charged: Cell<bool>,
    /// The next `fault_frame` says `FAULT_FRAME_LATER` (as a kernel with
    /// several CPUs does), and how many times it said so.
    pub fault_frame_later: Cell<bool>,
    pub fault_frames_deferred: Cell<u64>,
}

/// Bytes one modelled table page covers.
pub const TABLE_SPAN: u64 = 2 << 20;

impl Fake {
    pub fn live_frames(&self) -> usize {
        self.frames.borrow().len()
    }
    pub fn fail_after(&self, n: Option<u64>) {
        self.fail_after.set(n);
    }
    pub fn failure_pending(&self) -> bool {
        self.fail_after.get().is_some()
    }
    pub fn take_unmaps(&self) -> Vec<(u64, u64)> {
        let mut v = self.unmaps.take();
        v.sort();
        v
    }
    pub fn take_wakes(&self) -> Vec<(WaiterId, Signals)> {
        self.wakes.take()
    }
    pub fn take_maps(&self) -> Vec<(u64, u64, MapPerms)> {
        self.maps.take()
    }
    pub fn map_fail_after(&self, n: Option<u64>) {
        self.map_fail_after.set(n);
    }
    pub fn map_failure_pending(&self) -> bool {
        self.map_fail_after.get().is_some()
    }
    /// The translation of the page holding `vaddr`.
    pub fn pte(&self, vaddr: u64) -> Option<(u64, MapPerms)> {
        self.page_table
            .borrow()
            .get(&(vaddr & !(PAGE_SIZE - 1)))
            .copied()
    }
    /// Number of translations present.
    pub fn mapped_pages(&self) -> usize {
        self.page_table.borrow().len()
    }
    /// Whether a frame is live (allocated and not freed).
    pub fn frame_live(&self, paddr: u64) -> bool {
        self.frames.borrow().contains_key(&paddr)
    }
}

impl FrameAllocator for Fake {
    fn alloc(&self) -> Option<Frame> {
        match self.fail_after.get() {
            Some(0) => {
                self.fail_after.set(None);
                return None;
            }
            Some(n) => self.fail_after.set(Some(n - 1)),
            None => {}
        }
        if let Some(limit) = self.limit.get() {
            if self.live_frames() >= limit {
                return None;
            }
        }
        self.allocations.set(self.allocations.get() + 1);
        let paddr = 0x4000_0000 + self.next_paddr.get();
        self.next_paddr.set(self.next_paddr.get() + PAGE_SIZE);
        self.frames
            .borrow_mut()
            // Poison: the layer must copy or zero every frame it takes.
            .insert(paddr, Box::new([0xa5; PAGE_BYTES]));
        Some(Frame::new(paddr))
    }
    fn zero(&self, frame: Frame) {
        self.frames
            .borrow_mut()
            .get_mut(&frame.paddr())
            .expect("live frame")
            .fill(0);
    }
    fn free(&self, frame: Frame) {
        assert!(
            self.frames.borrow_mut().remove(&frame.paddr()).is_some(),
            "double free of {frame:?}"
        );
    }
    fn read(&self, frame: Frame, offset: usize, buf: &mut [u8]) {
        let frames = self.frames.borrow();
        let page = frames.get(&frame.paddr()).expect("read of a freed frame");
        buf.copy_from_slice(&page[offset..offset + buf.len()]);
    }
    fn write(&self, frame: Frame, offset: usize, data: &[u8]) {
        let mut frames = self.frames.borrow_mut();
        let page = frames
            .get_mut(&frame.paddr())
            .expect("write to a freed frame");
        page[offset..offset + data.len()].copy_from_slice(data);
    }
    fn zero_page(&self) -> Frame {
        Frame::new(ZERO_PADDR)
    }
    fn fault_frame(&self, src: Option<Frame>) -> Result<Frame, Status> {
        if self.fault_frame_later.take() {
            self.fault_frames_deferred
                .set(self.fault_frames_deferred.get() + 1);
            return Err(FAULT_FRAME_LATER);
        }
        let frame = self.alloc().ok_or(ZX_ERR_NO_MEMORY)?;
        match src {
            Some(src) => self.copy(src, frame),
            None => self.zero(frame),
        }
        Ok(frame)
    }
    fn cache_op(&self, op: CacheOp, frame: Frame, offset: usize, len: usize) {
        assert!(self.frame_live(frame.paddr()), "cache op on a freed frame");
        assert!(len > 0 && offset + len <= PAGE_BYTES);
        self.cache_ops
            .borrow_mut()
            .push((op, frame.paddr() + offset as u64, len));
    }
    fn copy(&self, src: Frame, dst: Frame) {
        let mut frames = self.frames.borrow_mut();
        let data = **frames.get(&src.paddr()).expect("copy from a freed frame");
        **frames.get_mut(&dst.paddr()).expect("copy to a freed frame") = data;
    }
}

impl Fake {
    /// Modelled table pages `[vaddr, end)`'s 2 MiB regions hold now.
    fn tables_in(&self, pt: &BTreeMap<u64, (u64, MapPerms)>, vaddr: u64, end: u64) -> u64 {
        if !self.tables_charged.get() {
            return 0;
        }
        let first = vaddr / TABLE_SPAN;
        let last = (end - 1) / TABLE_SPAN;
        (first..=last)
            .filter(|r| {
                pt.range(r * TABLE_SPAN..(r + 1) * TABLE_SPAN)
                    .next()
                    .is_some()
            })
            .count() as u64
    }
}

impl Mmu for Fake {
    fn unmap(&self, vaddr: u64, len: u64) -> u64 {
        assert!(vaddr.is_multiple_of(PAGE_SIZE) && len.is_multiple_of(PAGE_SIZE) && len > 0);
        self.unmaps.borrow_mut().push((vaddr, len));
        let mut pt = self.page_table.borrow_mut();
        let before = self.tables_in(&pt, vaddr, vaddr + len);
        let gone: Vec<u64> = pt.range(vaddr..vaddr + len).map(|(&va, _)| va).collect();
        for va in gone {
            pt.remove(&va);
        }
        before - self.tables_in(&pt, vaddr, vaddr + len)
    }
    fn unmap_some(&self, vaddr: u64, len: u64, max: usize) -> (u64, u64) {
        assert!(vaddr.is_multiple_of(PAGE_SIZE) && len.is_multiple_of(PAGE_SIZE) && len > 0);
        let end = vaddr + len;
        let mut pt = self.page_table.borrow_mut();
        let before = self.tables_in(&pt, vaddr, end);
        let gone: Vec<u64> = pt.range(vaddr..end).map(|(&va, _)| va).collect();
        let max = max.max(1);
        let stop = gone.get(max).copied().unwrap_or(end);
        if stop > vaddr {
            self.unmaps.borrow_mut().push((vaddr, stop - vaddr));
        }
        for va in gone.into_iter().take(max) {
            pt.remove(&va);
        }
        (stop, before - self.tables_in(&pt, vaddr, end))
    }
    fn map(&self, vaddr: u64, paddr: u64, perms: MapPerms) -> Result<(), Status> {
        self.map_with_tables(vaddr, paddr, perms, 0).map(drop)
    }
    fn map_with_tables(
        &self,
        vaddr: u64,
        paddr: u64,
        perms: MapPerms,
        tables: u64,
    ) -> Result<u64, Status> {
        assert!(vaddr.is_multiple_of(PAGE_SIZE) && paddr.is_multiple_of(PAGE_SIZE));
        let need = if self.tables_charged.get() {
            let region = vaddr / TABLE_SPAN * TABLE_SPAN;
            let pt = self.page_table.borrow();
            u64::from(pt.range(region..region + TABLE_SPAN).next().is_none())
        } else {
            0
        };
        if need > tables {
            return Err(MAP_NEEDS_TABLES);
        }
        match self.map_fail_after.get() {
            Some(0) => {
                self.map_fail_after.set(None);
                return Err(ZX_ERR_NO_MEMORY);
            }
            Some(n) => self.map_fail_after.set(Some(n - 1)),
            None => {}
        }
        assert!(
            paddr == ZERO_PADDR || self.frame_live(paddr),
            "map of a freed frame {paddr:#x}"
        );
        assert!(
            !(paddr == ZERO_PADDR && perms.write),
            "zero page mapped writable"
        );
        self.maps.borrow_mut().push((vaddr, paddr, perms));
        self.page_table.borrow_mut().insert(vaddr, (paddr, perms));
        Ok(need)
    }
}

impl Waker for Fake {
    fn wake(&self, waiter: WaiterId, observed: Signals) {
        self.wakes.borrow_mut().push((waiter, observed));
    }
}

/// A stand-in for a kernel-owned object (a task), for tests of kernel
/// object handles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestTask {
    pub koid: Koid,
    pub signals: object::SignalsId,
}

impl object::KernelObject for TestTask {
    fn obj_type(&self) -> ObjType {
        ZX_OBJ_TYPE_PROCESS
    }
    fn koid(&self) -> Koid {
        self.koid
    }
    fn signals(&self) -> object::SignalsId {
        self.signals
    }
}

/// Creates a kernel object and installs one handle to it in `t`.
pub fn kernel_object(space: &mut Space, t: TableId, rights: Rights) -> (TestTask, Handle) {
    let (signals, koid) = space.kernel_signals_create().unwrap();
    let task = TestTask { koid, signals };
    let h = space
        .install_kernel_object(t, task.clone(), rights)
        .unwrap();
    (task, h)
}

/// A held hierarchy lock of [`Fake`]: clears the mark when dropped.
pub struct FakeHold(Rc<Cell<bool>>);

impl Drop for FakeHold {
    fn drop(&mut self) {
        assert!(self.0.replace(false), "hierarchy lock released twice");
    }
}

impl Platform for Fake {
    type KernelObject = TestTask;
    type HierarchyHold = FakeHold;

    fn lock_hierarchy(&self, key: Koid) -> FakeHold {
        assert!(
            !self.hierarchy_held.replace(true),
            "two hierarchy locks held at once"
        );
        self.hierarchy_locks.borrow_mut().push(key);
        FakeHold(self.hierarchy_held.clone())
    }

    fn kernel_object_unreferenced(&self, object: &TestTask) -> bool {
        self.asked_unreferenced.borrow_mut().push(object.koid);
        self.done_with.borrow().contains(&object.koid)
    }
}

pub type Space = ObjectSpace<Fake>;

/// An object space with one task table.
pub fn setup() -> (Space, TableId) {
    let mut space = ObjectSpace::new(Fake::default(), 0x5eed);
    let t = space.create_table(Quota::default()).unwrap();
    (space, t)
}

/// An object space with one task table holding a one-page VMO.
pub fn setup_vmo() -> (Space, TableId, Handle) {
    let (mut space, t) = setup();
    let h = space.task(t).vmo_create(PAGE, 0).unwrap();
    (space, t, h)
}

/// An object space with one task table holding a [`filled_vmo`] of `pages`.
pub fn setup_filled(pages: u64) -> (Space, TableId, Handle) {
    let (mut space, t) = setup();
    let h = filled_vmo(&mut space, t, pages);
    (space, t, h)
}

/// A [`setup_filled`] parent of `pages` and a copy-on-write child of its
/// first `len` bytes: `(space, t, parent, child)`.
pub fn setup_child(pages: u64, len: u64) -> (Space, TableId, Handle, Handle) {
    let (mut space, t, p) = setup_filled(pages);
    let c = cow_child(&mut space, t, p, 0, len);
    (space, t, p, c)
}

/// A duplicate of `h` (in `t`) with `rights`.
pub fn dup(space: &mut Space, t: TableId, h: Handle, rights: Rights) -> Handle {
    space.task(t).handle_duplicate(h, rights).unwrap()
}

pub const PAGE: u64 = PAGE_SIZE;

/// Reads `len` bytes at `offset`.
pub fn read(space: &mut Space, t: TableId, h: Handle, offset: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    space.task(t).vmo_read(h, &mut buf, offset).unwrap();
    buf
}

/// Reads one byte.
pub fn byte(space: &mut Space, t: TableId, h: Handle, offset: u64) -> u8 {
    read(space, t, h, offset, 1)[0]
}

/// Writes one byte.
pub fn put(space: &mut Space, t: TableId, h: Handle, offset: u64, b: u8) {
    space.task(t).vmo_write(h, &[b], offset).unwrap();
}

/// A VMO of `pages` pages with page i filled with byte `i + 1`.
pub fn filled_vmo(space: &mut Space, t: TableId, pages: u64) -> Handle {
    let h = space.task(t).vmo_create(pages * PAGE, 0).unwrap();
    for i in 0..pages {
        space
            .task(t)
            .vmo_write(h, &[(i + 1) as u8; PAGE_BYTES], i * PAGE)
            .unwrap();
    }
    h
}

pub fn cow_child(space: &mut Space, t: TableId, h: Handle, offset: u64, size: u64) -> Handle {
    space
        .task(t)
        .vmo_create_child(h, ZX_VMO_CHILD_COPY_ON_WRITE, offset, size)
        .unwrap()
}

/// The physical address backing page `page` of `h` (`ZX_VMO_OP_LOOKUP`).
pub fn lookup(s: &mut Space, t: TableId, h: Handle, page: u64) -> u64 {
    let mut out = [0u64; 1];
    s.task(t)
        .vmo_op_range(h, ZX_VMO_OP_LOOKUP, page * PAGE, PAGE, &mut out)
        .unwrap();
    out[0]
}

pub fn info(space: &mut Space, t: TableId, h: Handle) -> ZxInfoVmo {
    space.task(t).object_get_info_vmo(h).unwrap()
}

pub fn committed_pages(space: &mut Space, t: TableId, h: Handle) -> u64 {
    info(space, t, h).committed_bytes / PAGE
}

pub fn zero_children(space: &mut Space, t: TableId, h: Handle) -> bool {
    space.task(t).object_signals(h).unwrap() & ZX_VMO_ZERO_CHILDREN != 0
}

pub fn op(
    space: &mut Space,
    t: TableId,
    h: Handle,
    op: u32,
    offset: u64,
    size: u64,
) -> Result<(), Status> {
    space.task(t).vmo_op_range(h, op, offset, size, &mut [])
}

pub const RW: u32 = ZX_VM_PERM_READ | ZX_VM_PERM_WRITE;
pub const RO: MapPerms = MapPerms {
    write: false,
    execute: false,
};
pub const RWP: MapPerms = MapPerms {
    write: true,
    execute: false,
};

/// An object space with one task table, a root VMAR over the usual range,
/// and a handle to it in the table with every VMAR right.
pub fn setup_vmar() -> (Space, TableId, VmarId, Handle) {
    let (mut s, t) = setup();
    let root = s
        .create_root_vmar(ROOT_VMAR_BASE, ROOT_VMAR_END - ROOT_VMAR_BASE)
        .unwrap();
    let rights = vmar_rights(ZX_VM_CAN_MAP_RWX);
    let h = s.install_vmar(t, root, rights).unwrap();
    (s, t, root, h)
}

/// A CPU access through the fake page table: uses a translation that
/// allows it, else faults (through `vmar_fault`) and retries once.
fn access(s: &mut Space, root: VmarId, va: u64, a: Access) -> Result<u64, Status> {
    let allows = |p: MapPerms| match a {
        Access::Read => true,
        Access::Write => p.write,
        Access::Execute => p.execute,
    };
    if let Some((pa, p)) = s.platform().pte(va) {
        if allows(p) {
            return Ok(pa);
        }
    }
    s.vmar_fault(root, va, a)?;
    let (pa, p) = s
        .platform()
        .pte(va)
        .expect("a resolved fault maps the page");
    assert!(
        allows(p),
        "a resolved fault maps the page with the access allowed"
    );
    Ok(pa)
}

/// Loads one byte at `va` as a task would.
pub fn load(s: &mut Space, root: VmarId, va: u64) -> Result<u8, Status> {
    let pa = access(s, root, va, Access::Read)?;
    if pa == ZERO_PADDR {
        return Ok(0);
    }
    let mut b = [0u8];
    s.platform()
        .read(Frame::new(pa), (va % PAGE_SIZE) as usize, &mut b);
    Ok(b[0])
}

/// Stores one byte at `va` as a task would.
pub fn store(s: &mut Space, root: VmarId, va: u64, v: u8) -> Result<(), Status> {
    let pa = access(s, root, va, Access::Write)?;
    s.platform()
        .write(Frame::new(pa), (va % PAGE_SIZE) as usize, &[v]);
    Ok(())
}

/// Maps `len` bytes of `vmo` from `vmo_offset` at `vaddr` (absolute) in the root VMAR.
#[allow(clippy::too_many_arguments)]
pub fn map_at(
    s: &mut Space,
    t: TableId,
    vmar: Handle,
    vaddr: u64,
    vmo: Handle,
    vmo_offset: u64,
    len: u64,
    perms: u32,
) -> u64 {
    s.task(t)
        .vmar_map(
            vmar,
            perms | ZX_VM_SPECIFIC,
            vaddr - ROOT_VMAR_BASE,
            vmo,
            vmo_offset,
            len,
        )
        .unwrap()
}

/// A new handle table with room for `max_handles` handles and
/// `max_committed_pages` committed pages (mappings as by default).
pub fn table_with(s: &mut Space, max_handles: u32, max_committed_pages: u64) -> TableId {
    s.create_table(Quota {
        max_handles,
        max_committed_pages,
        ..Quota::default()
    })
    .unwrap()
}

/// A `vmar_map` of `len` bytes of `vmo` from its start, at `vmar_offset`
/// in `vmar` (handles or ids).
pub fn map_args<R, O>(
    vmar: R,
    options: VmOptions,
    vmar_offset: u64,
    vmo: O,
    len: u64,
) -> MapArgs<R, O> {
    MapArgs {
        vmar,
        options,
        vmar_offset,
        vmo,
        vmo_offset: 0,
        len,
    }
}

/// Reads every page of `[va, va + len)` through the VMAR, so each gets a
/// translation (a mapping that was never touched has nothing to unmap).
pub fn touch(s: &mut Space, root: VmarId, va: u64, len: u64) {
    for page in (va..va + len).step_by(PAGE as usize) {
        load(s, root, page).unwrap();
    }
}
