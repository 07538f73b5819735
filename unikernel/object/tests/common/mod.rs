//! Host fakes: heap-backed frames with failure injection and leak counting,
//! a recording MMU and a recording waker.
#![allow(dead_code)]

use abi::*;
use object::*;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;

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
    pub wakes: RefCell<Vec<(WaiterId, Signals)>>,
}

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
}

impl FrameAllocator for Fake {
    fn alloc_zeroed(&self) -> Option<Frame> {
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
            .insert(paddr, Box::new([0; PAGE_BYTES]));
        Some(Frame::new(paddr))
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
    fn copy(&self, src: Frame, dst: Frame) {
        let mut frames = self.frames.borrow_mut();
        let data = **frames.get(&src.paddr()).expect("copy from a freed frame");
        **frames.get_mut(&dst.paddr()).expect("copy to a freed frame") = data;
    }
}

impl Mmu for Fake {
    fn unmap(&self, vaddr: u64, len: u64) {
        self.unmaps.borrow_mut().push((vaddr, len));
    }
}

impl Waker for Fake {
    fn wake(&self, waiter: WaiterId, observed: Signals) {
        self.wakes.borrow_mut().push((waiter, observed));
    }
}

impl Platform for Fake {
    type KernelObject = NoKernelObjects;
}

pub type Space = ObjectSpace<Fake>;

/// An object space with one task table.
pub fn setup() -> (Space, TableId) {
    let mut space = ObjectSpace::new(Fake::default(), 0x5eed);
    let t = space.create_table(Quota::default()).unwrap();
    (space, t)
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
