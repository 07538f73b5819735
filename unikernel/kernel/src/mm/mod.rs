//! Physical memory: the frame allocator and the kernel heap, both carved
//! from the RAM the device tree describes.

pub mod frame;
pub mod heap;

use crate::devicetree::{Hardware, PhysRange, RangeList};

/// The translation granule and the unit of physical allocation: the ABI's
/// page, the one page size everything uses.
pub use abi::PAGE_SIZE;

/// The most free ranges RAM splits into around the holes cut from it.
pub const MAX_FREE_RANGES: usize = 32;

/// RAM that nobody else claims: the device tree's memory minus the kernel
/// image, the device tree blob and every reserved range, cut to whole pages.
pub fn available_ram(platform: &Hardware, image: PhysRange) -> RangeList<MAX_FREE_RANGES> {
    let mut free = RangeList::<MAX_FREE_RANGES>::new();
    for m in platform.memory.as_slice() {
        let start = m.start.next_multiple_of(PAGE_SIZE);
        let end = m.end & !(PAGE_SIZE - 1);
        if start < end {
            // A full list only loses RAM, never hands out what is not free.
            let _ = free.push(PhysRange { start, end });
        }
    }
    let holes = [image, platform.blob]
        .into_iter()
        .chain(platform.reserved.as_slice().iter().copied());
    for hole in holes {
        free = subtract(&free, hole);
    }
    free
}

/// `ranges` without the pages that `hole` touches.
pub fn subtract<const N: usize>(ranges: &RangeList<N>, hole: PhysRange) -> RangeList<N> {
    let hole = PhysRange {
        start: hole.start & !(PAGE_SIZE - 1),
        end: hole.end.next_multiple_of(PAGE_SIZE),
    };
    let mut out = RangeList::new();
    for r in ranges.as_slice() {
        if !r.overlaps(&hole) {
            let _ = out.push(*r);
            continue;
        }
        if r.start < hole.start {
            let _ = out.push(PhysRange {
                start: r.start,
                end: hole.start,
            });
        }
        if hole.end < r.end {
            let _ = out.push(PhysRange {
                start: hole.end,
                end: r.end,
            });
        }
    }
    out
}
