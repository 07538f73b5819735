//! What the object layer needs from the kernel: frames, the MMU and a way to
//! wake waiters. The kernel implements these over physical memory and page
//! tables; host tests implement them with heap pages and recording fakes.

use abi::{Koid, ObjType, Signals, Status, PAGE_SIZE};

/// Bytes in a page, as a `usize`.
pub const PAGE_BYTES: usize = PAGE_SIZE as usize;

/// A 4 KiB physical page frame, named by its physical address.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Frame(u64);

impl Frame {
    /// A frame at a page-aligned physical address.
    #[inline]
    pub const fn new(paddr: u64) -> Frame {
        assert!(
            paddr.is_multiple_of(PAGE_SIZE),
            "frame address must be page aligned"
        );
        Frame(paddr)
    }

    /// The frame's physical address.
    #[inline]
    pub const fn paddr(self) -> u64 {
        self.0
    }
}

/// Where VMO pages come from, and how their contents are reached.
///
/// Page contents are only touched through this trait, so the kernel can use
/// its identity map and the host fake can use heap pages.
pub trait FrameAllocator {
    /// A frame with unspecified contents, or `None` when memory is exhausted.
    fn alloc(&self) -> Option<Frame>;
    /// Fills `frame` with zeros.
    fn zero(&self, frame: Frame);
    /// A zero-filled frame, or `None` when memory is exhausted.
    fn alloc_zeroed(&self) -> Option<Frame> {
        let frame = self.alloc()?;
        self.zero(frame);
        Some(frame)
    }
    /// Gives a frame back. The object layer frees each frame it got exactly once.
    fn free(&self, frame: Frame);
    /// Copies `buf.len()` bytes from `frame` at `offset` (`offset + len <= 4096`).
    fn read(&self, frame: Frame, offset: usize, buf: &mut [u8]);
    /// Copies `data` into `frame` at `offset` (`offset + len <= 4096`).
    fn write(&self, frame: Frame, offset: usize, data: &[u8]);
    /// Copies the whole page `src` into `dst`.
    fn copy(&self, src: Frame, dst: Frame);
    /// The shared, always-zero frame mapped read-only wherever a VMO shows
    /// no page. The object layer never frees or writes it.
    fn zero_page(&self) -> Frame;
    /// Performs the cache maintenance `op` on bytes `[offset, offset + len)`
    /// of `frame` (`offset + len <= 4096`), with the barriers that make it
    /// complete before the call returns.
    fn cache_op(&self, op: CacheOp, frame: Frame, offset: usize, len: usize);
    /// The frame a fault commits: a copy of `src`, or zeros (`None`).
    /// `ZX_ERR_NO_MEMORY` when memory is exhausted, or
    /// [`FAULT_FRAME_LATER`]: the platform would rather fill the frame
    /// outside the object space's lock (a 4 KiB copy or zeroing is most of
    /// a fault on hardware, and other CPUs wait for that lock meanwhile).
    /// Then [`crate::ObjectSpace::vmar_fault`] returns that status with
    /// nothing changed, and its caller fills a frame unlocked and calls
    /// `vmar_fault` again, which gets it here if `src` is still the page
    /// to copy and nothing changed any frame since (the platform's to
    /// judge); else this fills one under the lock, and never says
    /// [`FAULT_FRAME_LATER`] twice for one fault.
    #[inline(always)]
    fn fault_frame(&self, src: Option<Frame>) -> Result<Frame, Status> {
        match src {
            Some(src) => {
                let frame = self.alloc().ok_or(abi::ZX_ERR_NO_MEMORY)?;
                self.copy(src, frame);
                Ok(frame)
            }
            None => self.alloc_zeroed().ok_or(abi::ZX_ERR_NO_MEMORY),
        }
    }
}

/// What [`FrameAllocator::fault_frame`] (and so
/// [`crate::ObjectSpace::vmar_fault`]) returns when the platform fills the
/// fault's frame outside the object space's lock first: nothing changed;
/// ask again. No other path returns it.
pub const FAULT_FRAME_LATER: Status = abi::ZX_ERR_UNAVAILABLE;

/// What [`crate::ObjectSpace::vmar_fault_shared`] returns for a fault it
/// leaves to [`crate::ObjectSpace::vmar_fault`] with the space held
/// exclusively: nothing changed; ask that. No other path returns it.
pub const FAULT_NEEDS_EXCLUSIVE: Status = abi::ZX_ERR_BAD_STATE;

/// A cache maintenance operation of `zx_vmo_op_range`, by what it must
/// guarantee once done.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CacheOp {
    /// `ZX_VMO_OP_CACHE_SYNC`: instruction fetches see the data (clean the
    /// data cache to the point of unification, invalidate the instruction cache).
    Sync,
    /// `ZX_VMO_OP_CACHE_INVALIDATE`: no cache holds the range afterwards.
    /// The kernel does it as a clean and invalidate, which drops no data: a
    /// task page is also reached through the kernel's own alias of it, and
    /// a dirty line dropped there could show the task a freed frame's old
    /// contents.
    Invalidate,
    /// `ZX_VMO_OP_CACHE_CLEAN`: memory (the point of coherency) holds the data.
    Clean,
    /// `ZX_VMO_OP_CACHE_CLEAN_INVALIDATE`: clean, then no cache holds the range.
    CleanInvalidate,
}

impl CacheOp {
    /// The operation `op` names, if it is one of the four cache ops.
    pub fn from_op(op: u32) -> Option<CacheOp> {
        match op {
            abi::ZX_VMO_OP_CACHE_SYNC => Some(CacheOp::Sync),
            abi::ZX_VMO_OP_CACHE_INVALIDATE => Some(CacheOp::Invalidate),
            abi::ZX_VMO_OP_CACHE_CLEAN => Some(CacheOp::Clean),
            abi::ZX_VMO_OP_CACHE_CLEAN_INVALIDATE => Some(CacheOp::CleanInvalidate),
            _ => None,
        }
    }

    /// The right the handle needs (the reference page): an invalidate may
    /// drop dirty lines, so it counts as a write; the others only read.
    pub fn right(self) -> abi::Rights {
        match self {
            CacheOp::Invalidate => abi::ZX_RIGHT_WRITE,
            _ => abi::ZX_RIGHT_READ,
        }
    }
}

/// Part of one committed page that a cache operation covers.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct CacheSpan {
    /// The page.
    pub frame: Frame,
    /// First byte in the page.
    pub offset: usize,
    /// Bytes from there (at least 1, to the page's end at most).
    pub len: usize,
}

/// Most pages one round of a cache operation hands out: the object lock is
/// held for one round's lookup only, so its length does not grow with the range.
pub const CACHE_ROUND_PAGES: usize = 16;

/// Permissions of one page translation (read is implied).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MapPerms {
    /// The translation allows stores.
    pub write: bool,
    /// The translation allows instruction fetches.
    pub execute: bool,
}

/// What [`Mmu::map`] returns when it would need more translation-table
/// pages than it was allowed: nothing was changed; the caller asks again
/// with the room its quota leaves ([`Mmu::map`]).
pub const MAP_NEEDS_TABLES: Status = abi::ZX_ERR_SHOULD_WAIT;

/// The MMU side of mapping bookkeeping.
///
/// The object layer calls this whenever the page a mapped VMO offset shows
/// changes identity (a parent's first write now visible in a child, a
/// child's first write, COMMIT, DECOMMIT, shrink): the translations for
/// exactly those virtual pages must go, so the next access faults and asks
/// [`crate::ObjectSpace::vmar_fault`] for the new page.
///
/// One-way copy-on-write never needs a downgrade to read-only: a writable
/// translation only ever maps a VMO's own page, and an own page changes only
/// by being removed (DECOMMIT, shrink, the VMO going), which unmaps it.
///
/// Translation-table pages a task's mappings need are charged to that task
/// (the quota of the table its VMAR is charged to, with its VMO pages):
/// `map` says how many it made, `unmap` and `unmap_some` how many they
/// freed. An MMU that keeps some translations in tables no task is charged
/// for (the kernel's) reports none made or freed there.
pub trait Mmu {
    /// Removes translations for `[vaddr, vaddr + len)` (page aligned), with
    /// the TLB maintenance that implies, before the call returns. Returns
    /// how many charged table pages went with them.
    fn unmap(&self, vaddr: u64, len: u64) -> u64;
    /// [`Self::unmap`] of at most `max` translations (at least one): returns
    /// where it stopped, `vaddr + len` once the range holds none, and how
    /// many charged table pages went. Its cost grows with the translations
    /// removed, not with `len`, so a caller can take a huge sparse range in
    /// bounded pieces.
    fn unmap_some(&self, vaddr: u64, len: u64, max: usize) -> (u64, u64);
    /// Maps the page at `vaddr` (page aligned) to `paddr`, replacing whatever
    /// translation is there, making no charged table page on the way:
    /// [`MAP_NEEDS_TABLES`] if it needs one (then
    /// [`Self::map_with_tables`]), `ZX_ERR_NO_MEMORY` if no frame was free
    /// for a table page; either way nothing changed.
    fn map(&self, vaddr: u64, paddr: u64, perms: MapPerms) -> Result<(), Status>;
    /// [`Self::map`] making at most `tables` charged table pages; returns
    /// how many it made ([`MAP_NEEDS_TABLES`] if it needed more).
    fn map_with_tables(
        &self,
        vaddr: u64,
        paddr: u64,
        perms: MapPerms,
        tables: u64,
    ) -> Result<u64, Status>;
}

/// Identifies a blocked thread to the kernel's scheduler.
pub type WaiterId = u64;

/// The scheduler side of signal observers.
pub trait Waker {
    /// A registered wait ended: `observed` holds the object's signals, plus
    /// `ZX_SIGNAL_HANDLE_CLOSED` if the waited-on handle was closed.
    fn wake(&self, waiter: WaiterId, observed: Signals);
}

/// An object the kernel owns (thread, task) that can sit in a handle
/// table next to the object layer's own VMOs and events.
pub trait KernelObject: Clone {
    /// Its Zircon object type.
    fn obj_type(&self) -> ObjType;
    /// Its koid (from [`crate::ObjectSpace::kernel_signals_create`]).
    fn koid(&self) -> Koid;
    /// Its signal state, kept by the object layer so handles to it can be
    /// waited on ([`crate::ObjectSpace::kernel_signals_create`]).
    fn signals(&self) -> crate::SignalsId;
}

/// No kernel-owned objects: what host tests use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoKernelObjects {}

impl KernelObject for NoKernelObjects {
    fn obj_type(&self) -> ObjType {
        match *self {}
    }
    fn koid(&self) -> Koid {
        match *self {}
    }
    fn signals(&self) -> crate::SignalsId {
        match *self {}
    }
}

/// Everything the object layer needs from its host, in one type.
pub trait Platform: FrameAllocator + Mmu + Waker {
    /// The kernel's own object type stored in handle tables.
    type KernelObject: KernelObject;

    /// A handle to `object` was closed and at most one reference to its
    /// signal state is left (perhaps the kernel's own, from
    /// [`crate::ObjectSpace::kernel_signals_create`]). Return true if the
    /// kernel is done with the object and gives up that reference too (a
    /// thread never started dies with its last handle). Called under the
    /// object space's lock; may be called when the one reference left is a
    /// handle's, so answer from the kernel's own records.
    fn kernel_object_unreferenced(&self, _object: &Self::KernelObject) -> bool {
        false
    }

    /// What holding a copy-on-write hierarchy's lock is: released when dropped.
    type HierarchyHold;

    /// Takes the lock of the copy-on-write hierarchy `key` names (the koid
    /// of its root VMO), for a fault resolved through a shared reference
    /// ([`crate::ObjectSpace::vmar_fault_shared`]): faults in one hierarchy
    /// resolve one at a time, faults in others at once. A fault holds one
    /// such lock at a time. Locks may be shared between hierarchies (a
    /// fixed set chosen by `key`), which only makes faults wait more.
    fn lock_hierarchy(&self, key: Koid) -> Self::HierarchyHold;

    /// The CPU making this call, to pick its own hint of the last fault's
    /// mapping (faults come in runs per thread, and each CPU runs its own)
    /// and its slot of the counters: below [`crate::HINT_SLOTS`], a
    /// different number on each CPU. One CPU: 0.
    #[inline(always)]
    fn cpu(&self) -> usize {
        0
    }
}
