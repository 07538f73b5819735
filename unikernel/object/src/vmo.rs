//! VMO semantics: sparse page storage and the one-way copy-on-write tree
//! (DESIGN.md, "Copy-on-write is one-way").
//!
//! Sizes, offsets and windows are kept in pages. A child records its parent,
//! its offset in the parent and its *window* `L`: child pages `[0, L)` show
//! the parent where the child has no page of its own. Creating a child
//! touches no page, so it costs the same for a 4 KiB or a 1 TiB parent.

use crate::handle::HandleTable;
use crate::platform::{CacheSpan, Frame, Platform, CACHE_ROUND_PAGES, PAGE_BYTES};
use crate::signals::{WaitToken, Waitable};
use crate::space::{Counter, MappingId, ObjectSpace, TableId, VmoId};
use abi::*;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};

/// Deepest chain of children (a root VMO has depth 0). Invalidation walks
/// descendants recursively, so the depth bounds kernel stack use; a deeper
/// `vmo_create_child` fails with `ZX_ERR_NO_MEMORY`.
pub const MAX_CHAIN_DEPTH: u32 = 128;

/// Entries a VMO's page list has room for when the fault path first makes
/// it (at most the VMO's size).
const FIRST_PAGE_LIST: usize = 16;

#[derive(Copy, Clone, Debug)]
pub(crate) struct ParentLink {
    pub id: VmoId,
    /// Offset in the parent, in pages.
    pub offset: u64,
    /// The window `L`, in pages: only ever shrinks.
    pub window: u64,
}

/// A VMO node.
pub(crate) struct Vmo {
    pub koid: Koid,
    /// Size in pages.
    pub size: u64,
    pub resizable: bool,
    /// Own pages, sorted by page index: sparse, and grown with `try_reserve`.
    pub pages: Vec<(u64, Frame)>,
    /// Where in `pages` [`Vmo::own`] last found a page (a hint only: it
    /// may point anywhere after pages come and go). An atomic only to be
    /// shareable: like `pages`, it is changed by one CPU at a time (see
    /// [`ObjectSpace::vmar_fault_shared`]).
    pub finger: AtomicUsize,
    /// The copy-on-write hierarchy the VMO belongs to: its root's koid
    /// (a root's own), for ever (parent links never change). A fault
    /// through a shared reference holds this hierarchy's lock
    /// ([`crate::Platform::lock_hierarchy`]).
    pub hierarchy: Koid,
    pub parent: Option<ParentLink>,
    pub parent_koid: Koid,
    pub depth: u32,
    /// Live children (each exists only while it has a handle, a mapping or
    /// a child). The first [`Vmo::watched_children`] are the *watched*
    /// ones; each child knows its place ([`Vmo::parent_slot`]), so it
    /// leaves the list in O(1).
    pub children: Vec<VmoId>,
    /// How many of `children` (at its front) are watched: some translation
    /// may show their pages ([`Vmo::watched`]).
    pub watched_children: u32,
    /// Where this VMO is in its parent's `children`.
    pub parent_slot: u32,
    pub handles: u32,
    /// Mappings of the VMO; the first [`Vmo::populated_mappings`] are the
    /// populated ones (the only ones that can hold a translation). Each
    /// mapping knows its place (`Mapping::vmo_slot`).
    pub mappings: Vec<MappingId>,
    /// How many of `mappings` (at its front) are populated.
    pub populated_mappings: u32,
    pub user_signals: Signals,
    pub waiters: Vec<WaitToken>,
    /// The table charged for this VMO's committed pages.
    pub account: TableId,
    /// Destroyed, its pages waiting for [`ObjectSpace::reclaim_step`]; the
    /// next VMO on that list.
    pub dead: bool,
    pub next_dead: Option<VmoId>,
}

impl Vmo {
    #[inline]
    pub(crate) fn own(&self, page: u64) -> Option<Frame> {
        if self.pages.is_empty() {
            return None;
        }
        // Runs of faults and reads walk a VMO's pages in order: the entry
        // after the last one found, or that one again, is tried first.
        let f = self.finger.load(Ordering::Relaxed);
        for i in [f + 1, f] {
            if let Some(&(p, frame)) = self.pages.get(i) {
                if p == page {
                    self.finger.store(i, Ordering::Relaxed);
                    return Some(frame);
                }
            }
        }
        let i = self.find(page).ok()?;
        self.finger.store(i, Ordering::Relaxed);
        Some(self.pages[i].1)
    }

    /// Where `page` is in `pages` (`Ok`), or where it would go (`Err`).
    /// Pages past the last own page, as a run of faults through a mapping
    /// brings them, are found without a search.
    #[inline]
    pub(crate) fn find(&self, page: u64) -> Result<usize, usize> {
        match self.pages.last() {
            None => Err(0),
            Some(&(last, _)) if last < page => Err(self.pages.len()),
            Some(_) => self.pages.binary_search_by_key(&page, |&(p, _)| p),
        }
    }

    /// Whether a translation may show this VMO's pages: it has a populated
    /// mapping, or a watched child. A commit needs to tell only these.
    #[inline]
    pub(crate) fn watched(&self) -> bool {
        self.populated_mappings > 0 || self.watched_children > 0
    }

    /// Whether anything but mapping `except` (populated, of this VMO, when
    /// given) can have a translation of this VMO's pages: another populated
    /// mapping, or a watched child. O(1), whatever the number of mappings
    /// and children.
    #[inline]
    pub(crate) fn seen_elsewhere(&self, except: Option<MappingId>) -> bool {
        self.watched_children > 0 || self.populated_mappings > u32::from(except.is_some())
    }

    /// The end of a piece of `[from, end)` that holds at most `n` (at least
    /// one) own pages: past `from`, and `end` when the rest holds no more.
    /// Bounds the work of a piece of DECOMMIT however sparse the range.
    pub(crate) fn piece_after(&self, from: u64, end: u64, n: usize) -> u64 {
        let i = self.pages.partition_point(|&(p, _)| p < from);
        match self.pages.get(i.saturating_add(n.max(1))) {
            Some(&(p, _)) if p < end => p,
            _ => end,
        }
    }

    /// The start of a piece of `[lo, end)` that ends at `end` and holds at
    /// most `n` (at least one) own pages: `lo` when the range holds no more.
    /// Bounds the frames a piece of a shrink frees however sparse the VMO.
    pub(crate) fn piece_before(&self, lo: u64, end: u64, n: usize) -> u64 {
        let hi = self.pages.partition_point(|&(p, _)| p < end);
        match hi.checked_sub(n.max(1)) {
            Some(i) => self.pages[i].0.max(lo),
            None => lo,
        }
    }

    /// Indices into `pages` of own pages in `[a, b)`.
    pub(crate) fn owned_range(&self, a: u64, b: u64) -> core::ops::Range<usize> {
        let lo = self.pages.partition_point(|&(p, _)| p < a);
        let hi = self.pages.partition_point(|&(p, _)| p < b);
        lo..hi
    }
}

/// The task a syscall acts for ([`ObjectSpace::task`] sets it): whom a VMO
/// is charged to once the table that created it has gone
/// ([`ObjectSpace::charge_vmo`]). A fault names its mapping instead, so the
/// fault path stores nothing for this.
pub(crate) type Actor = Option<TableId>;

impl<P: Platform> ObjectSpace<P> {
    /// Charges `pages` new pages of VMO `id` to the table that created it.
    /// Once that table has gone, the table the call or fault acts for
    /// ([`Actor`]) takes the VMO over, charged for the pages it holds as
    /// well: a VMO that outlives its creator is no way around a quota.
    /// `ZX_ERR_NO_MEMORY` past the quota, or with no live table to charge.
    /// `account` is the VMO's, as the caller has it at hand (after an
    /// adoption the VMO's `account` is the heir: undo through that);
    /// `fault` is the mapping a fault came through (its task is the heir),
    /// `None` in a syscall (the caller is).
    #[inline(always)]
    pub(crate) fn charge_vmo(
        &mut self,
        id: VmoId,
        account: TableId,
        pages: u64,
        fault: Option<MappingId>,
    ) -> Result<(), Status> {
        let held = self.vmos[id].pages.len() as u64;
        if let Some(heir) = self.charge_account(account, held, pages, fault, false)? {
            self.vmos[id].account = heir;
        }
        Ok(())
    }

    /// [`Self::charge_vmo`] for a VMO whose `account` and `held` (own
    /// pages) the caller has at hand, through `&self` and touching no VMO:
    /// `Ok(Some(heir))` when the VMO is to be adopted (the caller sets its
    /// `account`). `shared`: faults on other CPUs may charge the same
    /// table at once.
    #[inline(always)]
    pub(crate) fn charge_account(
        &self,
        account: TableId,
        held: u64,
        pages: u64,
        fault: Option<MappingId>,
        shared: bool,
    ) -> Result<Option<TableId>, Status> {
        match self.tables.get(account) {
            Some(t) => {
                charge_pages(t, pages, shared)?;
                Ok(None)
            }
            None => self.adoption(held, pages, fault, shared).map(Some),
        }
    }

    /// The heir of a VMO whose table has gone, charged for its `held`
    /// pages and `pages` more (see [`Self::charge_vmo`]).
    #[cold]
    #[inline(never)]
    fn adoption(
        &self,
        held: u64,
        pages: u64,
        fault: Option<MappingId>,
        shared: bool,
    ) -> Result<TableId, Status> {
        let heir = match fault {
            None => self.actor,
            Some(m) => self
                .mappings
                .get(m)
                .and_then(|m| self.vmars.get(m.vmar))
                .and_then(|v| v.account),
        }
        .ok_or(ZX_ERR_NO_MEMORY)?;
        let t = self.tables.get(heir).ok_or(ZX_ERR_NO_MEMORY)?;
        if t.closing {
            return Err(ZX_ERR_NO_MEMORY);
        }
        let pages = held.checked_add(pages).ok_or(ZX_ERR_NO_MEMORY)?;
        charge_pages(t, pages, shared)?;
        Ok(heir)
    }
}

/// Adds `pages` to table `t`'s committed pages, up to its quota; else
/// `ZX_ERR_NO_MEMORY`. `shared`: faults on other CPUs may charge it at
/// once.
#[inline(always)]
pub(crate) fn charge_pages<K>(t: &HandleTable<K>, pages: u64, shared: bool) -> Result<(), Status> {
    let (committed, max) = (&t.committed_pages, t.quota.max_committed_pages);
    let charged = |held: u64| held.checked_add(pages).filter(|&total| total <= max);
    if !shared {
        // The space is held exclusively: nothing charges the table
        // meanwhile, so a plain load and store do.
        let total = charged(committed.load(Ordering::Relaxed)).ok_or(ZX_ERR_NO_MEMORY)?;
        committed.store(total, Ordering::Relaxed);
        return Ok(());
    }
    // In one step: faults on other CPUs may charge the table at once.
    committed
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, charged)
        .map(|_| ())
        .map_err(|_| ZX_ERR_NO_MEMORY)
}

/// Most frames a destroyed VMO frees at once when frees are deferred
/// ([`ObjectSpace::set_deferred_frees`]); more wait for `reclaim_step`.
pub const FREE_INLINE: usize = 64;

/// Rounds a byte size up to whole pages; `None` on overflow.
pub(crate) fn pages_for(bytes: u64) -> Option<u64> {
    Some(bytes.checked_add(PAGE_SIZE - 1)? / PAGE_SIZE)
}

/// Checks a size against the largest VMO, in pages.
pub(crate) fn checked_size_pages(bytes: u64) -> Result<u64, Status> {
    let pages = pages_for(bytes).ok_or(ZX_ERR_OUT_OF_RANGE)?;
    if pages > ZX_MAX_VMO_SIZE / PAGE_SIZE {
        return Err(ZX_ERR_OUT_OF_RANGE);
    }
    Ok(pages)
}

impl<P: Platform> ObjectSpace<P> {
    /// A VMO's signals: its user signals, and ZERO_CHILDREN when it has no live child.
    pub(crate) fn vmo_signals(&self, id: VmoId) -> Signals {
        let v = &self.vmos[id];
        let zero = if v.children.is_empty() {
            ZX_VMO_ZERO_CHILDREN
        } else {
            0
        };
        v.user_signals | zero
    }

    pub(crate) fn vmo_reserve_new(&mut self) -> Result<(), Status> {
        self.vmos.reserve(&self.mem)
    }

    /// Inserts a root VMO after [`Self::vmo_reserve_new`].
    pub(crate) fn vmo_insert_root(
        &mut self,
        pages: u64,
        resizable: bool,
        account: TableId,
    ) -> VmoId {
        let koid = self.new_koid();
        self.vmos.insert_reserved(Vmo {
            koid,
            size: pages,
            resizable,
            pages: Vec::new(),
            finger: AtomicUsize::new(0),
            hierarchy: koid,
            parent: None,
            parent_koid: ZX_KOID_INVALID,
            depth: 0,
            children: Vec::new(),
            watched_children: 0,
            parent_slot: 0,
            handles: 0,
            mappings: Vec::new(),
            populated_mappings: 0,
            user_signals: 0,
            waiters: Vec::new(),
            account,
            dead: false,
            next_dead: None,
        })
    }

    /// Reserves what [`Self::vmo_insert_child`] needs.
    pub(crate) fn vmo_reserve_child(&mut self, parent: VmoId) -> Result<(), Status> {
        let p = &mut self.vmos[parent];
        if p.depth + 1 > MAX_CHAIN_DEPTH {
            return Err(ZX_ERR_NO_MEMORY);
        }
        self.mem.reserve(&mut p.children, 1)?;
        self.vmos.reserve(&self.mem)
    }

    /// Creates a one-way copy-on-write child: O(1), no page work.
    pub(crate) fn vmo_insert_child(
        &mut self,
        parent: VmoId,
        offset_pages: u64,
        size_pages: u64,
        resizable: bool,
        account: TableId,
    ) -> VmoId {
        let koid = self.new_koid();
        let p = &self.vmos[parent];
        let window = size_pages.min(p.size.saturating_sub(offset_pages));
        let (parent_koid, depth, hierarchy) = (p.koid, p.depth + 1, p.hierarchy);
        // A new child is not watched: it goes at the end of the list.
        let slot = p.children.len() as u32;
        let id = self.vmos.insert_reserved(Vmo {
            koid,
            size: size_pages,
            resizable,
            pages: Vec::new(),
            finger: AtomicUsize::new(0),
            hierarchy,
            parent: Some(ParentLink {
                id: parent,
                offset: offset_pages,
                window,
            }),
            parent_koid,
            depth,
            children: Vec::new(),
            watched_children: 0,
            parent_slot: slot,
            handles: 0,
            mappings: Vec::new(),
            populated_mappings: 0,
            user_signals: 0,
            waiters: Vec::new(),
            account,
            dead: false,
            next_dead: None,
        });
        // Within the capacity reserved by `vmo_reserve_child`.
        self.vmos[parent].children.push(id);
        id
    }

    /// The frame a VMO shows at `page`: its own, else through its window the
    /// nearest ancestor's; `None` means zeros.
    pub(crate) fn shown(&self, mut id: VmoId, mut page: u64) -> Option<Frame> {
        loop {
            let v = &self.vmos[id];
            if let Some(f) = v.own(page) {
                return Some(f);
            }
            match v.parent {
                Some(link) if page < link.window => {
                    page += link.offset;
                    id = link.id;
                }
                _ => return None,
            }
        }
    }

    /// Checks `[offset, offset + len)` lies within the VMO.
    pub(crate) fn check_range(&self, id: VmoId, offset: u64, len: u64) -> Result<(), Status> {
        let end = offset.checked_add(len).ok_or(ZX_ERR_OUT_OF_RANGE)?;
        if end > self.vmos[id].size * PAGE_SIZE {
            return Err(ZX_ERR_OUT_OF_RANGE);
        }
        Ok(())
    }

    /// Reads bytes; never commits or copies a page.
    pub(crate) fn vmo_read_bytes(
        &self,
        id: VmoId,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<(), Status> {
        self.check_range(id, offset, buf.len() as u64)?;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let in_page = (pos % PAGE_SIZE) as usize;
            let n = (PAGE_BYTES - in_page).min(buf.len() - done);
            let out = &mut buf[done..done + n];
            match self.shown(id, pos / PAGE_SIZE) {
                Some(f) => self.platform.read(f, in_page, out),
                None => out.fill(0),
            }
            done += n;
        }
        Ok(())
    }

    /// Writes bytes, first giving the VMO its own copy of every page touched.
    pub(crate) fn vmo_write_bytes(
        &mut self,
        id: VmoId,
        offset: u64,
        data: &[u8],
    ) -> Result<(), Status> {
        self.check_range(id, offset, data.len() as u64)?;
        if data.is_empty() {
            return Ok(());
        }
        let first = offset / PAGE_SIZE;
        let last = offset + data.len() as u64;
        let end = last.div_ceil(PAGE_SIZE);
        // Pages the write covers whole need no zeros or copy first.
        let whole = offset.div_ceil(PAGE_SIZE)..last / PAGE_SIZE;
        self.vmo_commit_pages_filling(id, first, end, None, whole)?;
        let mut done = 0usize;
        while done < data.len() {
            let pos = offset + done as u64;
            let in_page = (pos % PAGE_SIZE) as usize;
            let n = (PAGE_BYTES - in_page).min(data.len() - done);
            let f = self.vmos[id]
                .own(pos / PAGE_SIZE)
                .expect("page just committed");
            self.platform.write(f, in_page, &data[done..done + n]);
            done += n;
        }
        Ok(())
    }

    /// Gives the VMO its own page for every page in `[a, b)` it lacks: a copy
    /// of what it showed (an ancestor's page, or zeros). All or nothing:
    /// on `ZX_ERR_NO_MEMORY` nothing has changed.
    pub(crate) fn vmo_commit_pages(&mut self, id: VmoId, a: u64, b: u64) -> Result<(), Status> {
        self.vmo_commit_pages_except(id, a, b, None)
    }

    /// [`Self::vmo_commit_pages_filling`] with every new page filled.
    pub(crate) fn vmo_commit_pages_except(
        &mut self,
        id: VmoId,
        a: u64,
        b: u64,
        except: Option<MappingId>,
    ) -> Result<(), Status> {
        self.vmo_commit_pages_filling(id, a, b, except, 0..0)
    }

    /// [`Self::vmo_commit_pages`], leaving the translations of mapping
    /// `except` alone (a fault is about to replace them), and leaving the
    /// new pages in `unfilled` as they come from the allocator: the caller
    /// overwrites them whole in the same lock hold (a `vmo_write`), so
    /// nobody sees them before.
    pub(crate) fn vmo_commit_pages_filling(
        &mut self,
        id: VmoId,
        a: u64,
        b: u64,
        except: Option<MappingId>,
        unfilled: core::ops::Range<u64>,
    ) -> Result<(), Status> {
        let v = &self.vmos[id];
        let have = v.owned_range(a, b).len() as u64;
        let need = (b - a) - have;
        if need == 0 {
            return Ok(());
        }
        let need_usize = usize::try_from(need).map_err(|_| ZX_ERR_NO_MEMORY)?;
        self.charge_vmo(id, v.account, need, None)?;
        // One page (a fault) needs no list on the heap.
        let mut one = [(0, Frame::new(0))];
        let mut many: Vec<(u64, Frame)> = Vec::new();
        let reserved = if need_usize > 1 {
            self.mem.reserve(&mut many, need_usize)
        } else {
            Ok(())
        }
        .and_then(|()| self.mem.reserve(&mut self.vmos[id].pages, need_usize));
        if let Err(e) = reserved {
            self.uncharge(self.vmos[id].account, need);
            return Err(e);
        }
        // Allocate a frame for each gap page, copying what the VMO showed.
        let v = &self.vmos[id];
        let owned = &v.pages[v.owned_range(a, b)];
        let mut next_owned = owned.iter().map(|&(p, _)| p).peekable();
        let mut page = a;
        while page < b {
            if next_owned.peek() == Some(&page) {
                next_owned.next();
                page += 1;
                continue;
            }
            match self.platform.alloc() {
                Some(f) if need_usize == 1 => one[0] = (page, f),
                Some(f) => many.push((page, f)),
                None => {
                    for &(_, f) in &many {
                        self.platform.free(f);
                    }
                    self.uncharge(self.vmos[id].account, need);
                    return Err(ZX_ERR_NO_MEMORY);
                }
            }
            page += 1;
        }
        let fresh: &[(u64, Frame)] = if need_usize == 1 { &one } else { &many };
        for &(p, f) in fresh {
            if unfilled.contains(&p) {
                continue;
            }
            if let Some(src) = self.shown(id, p) {
                self.platform.copy(src, f);
                self.count(Counter::PagesCopied);
            } else {
                self.platform.zero(f);
                self.count(Counter::PagesZeroFilled);
            }
        }
        // Mappings that showed the old pages must fault again.
        let mut i = 0;
        while i < fresh.len() {
            let start = fresh[i].0;
            let mut j = i + 1;
            while j < fresh.len() && fresh[j].0 == fresh[j - 1].0 + 1 {
                j += 1;
            }
            self.changed_except(id, start, fresh[j - 1].0 + 1, except);
            i = j;
        }
        let pages = &mut self.vmos[id].pages;
        if let [(p, f)] = fresh[..] {
            // The common copy-on-write case: one page, no re-sort.
            let at = pages.partition_point(|&(q, _)| q < p);
            pages.insert(at, (p, f));
        } else if pages.last().is_none_or(|&(q, _)| q < fresh[0].0) {
            // All past the last own page (a commit in pieces, front to
            // back): already in order, and no O(n) pass over the list.
            pages.extend_from_slice(fresh);
        } else {
            pages.extend_from_slice(fresh);
            pages.sort_unstable_by_key(|&(p, _)| p);
        }
        Ok(())
    }

    /// Gives the VMO its own page `page`, which it lacks and which would sit
    /// at index `at` of its page list: a copy of what it showed, or zeros.
    /// The fault path's [`Self::vmo_commit_pages_except`], with one lookup.
    /// All or nothing, as that is. `cpu` is this CPU's
    /// ([`crate::Platform::cpu`]); `shared` as in [`Self::charge_account`].
    ///
    /// # Safety
    ///
    /// The caller may change the VMOs of `id`'s hierarchy
    /// ([`Self::vmo_mut`]) and holds no reference to any of them.
    #[allow(unsafe_code)]
    #[inline(always)]
    pub(crate) unsafe fn vmo_commit_one(
        &self,
        id: VmoId,
        page: u64,
        at: usize,
        except: Option<MappingId>,
        (cpu, shared): (usize, bool),
    ) -> Result<Frame, Status> {
        // Room in the page list first: nothing to undo if there is none. A
        // first list takes room for 16 pages (a Zircon page-list node's
        // worth) or the whole VMO if smaller: faults come in runs, and the
        // list's first doublings cost more than the faults they serve.
        // SAFETY: the caller may change VMO `id` (see `vmo_mut`); `v` is
        // the only reference to it until its last use below.
        let v = unsafe { self.vmo_mut(id) };
        let room = match v.pages.capacity() {
            0 => (v.size as usize).clamp(1, FIRST_PAGE_LIST),
            _ => 1,
        };
        self.mem.reserve(&mut v.pages, room)?;
        // Whether any other translation can show the page: usually not.
        let others = v.seen_elsewhere(except);
        let held = v.pages.len() as u64;
        if let Some(heir) = self.charge_account(v.account, held, 1, except, shared)? {
            v.account = heir;
        }
        // The VMO has no page here: it showed its ancestors' (other VMOs
        // than `v`).
        let shown = match v.parent {
            Some(link) if page < link.window => self.shown(link.id, page + link.offset),
            _ => None,
        };
        // A copy of the page shown, or zeros (the platform may have a page
        // zeroed ahead of time, or one filled before this lock hold).
        let frame = match self.platform.fault_frame(shown) {
            Ok(frame) => frame,
            Err(e) => {
                self.uncharge(v.account, 1);
                return Err(e);
            }
        };
        // Faults mostly come in ascending order: then the page goes last,
        // where no other entry moves (the room is reserved above).
        if at == v.pages.len() {
            v.pages.push((page, frame));
        } else {
            v.pages.insert(at, (page, frame));
        }
        match shown {
            Some(_) => self.count_on(cpu, Counter::PagesCopied),
            None => self.count_on(cpu, Counter::PagesZeroFilled),
        }
        // Mappings that showed the old page must fault again (`v` is not
        // used past here).
        if others {
            self.changed_except(id, page, page + 1, except);
        }
        Ok(frame)
    }

    /// Undoes [`Self::vmo_commit_one`] of `page`, whose frame nothing has
    /// mapped yet (the fault's map failed): what the VMO showed there
    /// before shows again, through translations made by later faults.
    ///
    /// # Safety
    ///
    /// As for [`Self::vmo_commit_one`].
    #[allow(unsafe_code)]
    pub(crate) unsafe fn vmo_uncommit_one(&self, id: VmoId, page: u64) {
        // SAFETY: the caller changes VMO `id` (see `vmo_mut`); this is the
        // only reference to it while it lives.
        let v = unsafe { self.vmo_mut(id) };
        let Ok(i) = v.find(page) else {
            return;
        };
        let (_, frame) = v.pages.remove(i);
        let account = v.account;
        self.platform.free(frame);
        self.uncharge(account, 1);
    }

    /// VMO `id`, to change through `&self`: the fault path, which changes
    /// only the page list (and the account, on an adoption) of the VMOs of
    /// one copy-on-write hierarchy, and reads nothing else of theirs.
    ///
    /// # Safety
    ///
    /// The caller may change VMO `id`: it holds the space exclusively (a
    /// `&mut self` method up the stack), or it runs in
    /// [`Self::vmar_fault_shared`] holding the lock of `id`'s hierarchy,
    /// which every shared user of the VMO holds. No other reference to the
    /// VMO lives while the returned one does.
    #[allow(unsafe_code, clippy::mut_from_ref)]
    #[inline(always)]
    pub(crate) unsafe fn vmo_mut(&self, id: VmoId) -> &mut Vmo {
        // SAFETY: the caller's promise above.
        match unsafe { self.vmos.get_exclusive(id) } {
            Some(v) => v,
            None => panic!("no VMO {id:?}"),
        }
    }

    /// Drops the VMO's own pages in `[a, b)`; what the parent shows shows through again.
    pub(crate) fn vmo_decommit_pages(&mut self, id: VmoId, a: u64, b: u64) {
        let range = self.vmos[id].owned_range(a, b);
        if range.is_empty() {
            return;
        }
        // Unmap before the frames can be reused.
        let mut i = range.start;
        while i < range.end {
            let start = self.vmos[id].pages[i].0;
            let mut j = i + 1;
            while j < range.end && self.vmos[id].pages[j].0 == self.vmos[id].pages[j - 1].0 + 1 {
                j += 1;
            }
            let end = self.vmos[id].pages[j - 1].0 + 1;
            self.changed(id, start, end);
            i = j;
        }
        let n = range.len() as u64;
        let v = &mut self.vmos[id];
        let account = v.account;
        for (_, f) in v.pages.drain(range) {
            self.platform.free(f);
        }
        self.uncharge(account, n);
    }

    /// Sets the size in pages. A shrink frees pages past the end and narrows
    /// the windows of this VMO (if a child) and of its children.
    pub(crate) fn vmo_resize(&mut self, id: VmoId, new: u64) {
        let old = self.vmos[id].size;
        if new < old {
            // Everything this VMO showed past `new` changes, and through the
            // children's current windows, what they showed from there.
            self.changed(id, new, old);
            self.vmo_free_from(id, new);
            let v = &mut self.vmos[id];
            if let Some(link) = v.parent.as_mut() {
                link.window = link.window.min(new);
            }
            let children = core::mem::take(&mut self.vmos[id].children);
            for &c in &children {
                let link = self.vmos[c].parent.as_mut().expect("child has a parent");
                link.window = link.window.min(new.saturating_sub(link.offset));
            }
            self.vmos[id].children = children;
        }
        self.vmos[id].size = new;
    }

    /// Frees the VMO's own pages at and past `from` (already unmapped).
    fn vmo_free_from(&mut self, id: VmoId, from: u64) {
        let v = &mut self.vmos[id];
        let range = v.owned_range(from, u64::MAX);
        let n = range.len() as u64;
        let account = v.account;
        for (_, f) in v.pages.drain(range) {
            self.platform.free(f);
        }
        self.uncharge(account, n);
    }

    /// The page `[a, b)` of `id` now shows something else: unmap it from the
    /// VMO's mappings, and from each descendant that showed it through.
    pub(crate) fn changed(&self, id: VmoId, a: u64, b: u64) {
        self.changed_except(id, a, b, None);
    }

    /// [`Self::changed`], leaving mapping `except` of VMO `id` alone.
    pub(crate) fn changed_except(&self, id: VmoId, a: u64, b: u64, except: Option<MappingId>) {
        let v = &self.vmos[id];
        // Only populated mappings and watched children can show anything:
        // the rest of either list is never looked at.
        for &m in &v.mappings[..v.populated_mappings as usize] {
            if Some(m) != except {
                self.mappings[m].unmap_pages(self, a, b);
            }
        }
        for &c in &v.children[..v.watched_children as usize] {
            let cv = &self.vmos[c];
            let link = cv.parent.expect("child has a parent");
            let ca = a.saturating_sub(link.offset);
            let cb = b.saturating_sub(link.offset).min(link.window);
            if ca >= cb {
                continue;
            }
            // The child's own pages hide the change.
            let mut cur = ca;
            for &(p, _) in &cv.pages[cv.owned_range(ca, cb)] {
                if p > cur {
                    self.changed(c, cur, p);
                }
                cur = p + 1;
            }
            if cur < cb {
                self.changed(c, cur, cb);
            }
        }
    }

    /// One round of a cache operation over bytes `[from, end)` of VMO `id`:
    /// fills `out` with the parts of the VMO's own committed pages there,
    /// in order, at most [`CACHE_ROUND_PAGES`] of them. Returns how many,
    /// and where the next round starts if pages remain. Pages the VMO only
    /// shows (an ancestor's, the zero page) are not its to maintain: a
    /// child's handle carries WRITE whatever its parent's handle had, so
    /// reaching through to a parent's page would let it invalidate memory
    /// it may not write. Costs O(log pages + one round).
    pub(crate) fn vmo_cache_round(
        &self,
        id: VmoId,
        from: u64,
        end: u64,
        out: &mut [CacheSpan; CACHE_ROUND_PAGES],
    ) -> (usize, Option<u64>) {
        let v = &self.vmos[id];
        let end = end.min(v.size * PAGE_SIZE);
        if from >= end {
            return (0, None);
        }
        let range = v.owned_range(from / PAGE_SIZE, end.div_ceil(PAGE_SIZE));
        let own = &v.pages[range];
        let mut n = 0;
        for (slot, &(page, frame)) in out.iter_mut().zip(own) {
            let start = (page * PAGE_SIZE).max(from);
            let stop = ((page + 1) * PAGE_SIZE).min(end);
            *slot = CacheSpan {
                frame,
                offset: (start % PAGE_SIZE) as usize,
                len: (stop - start) as usize,
            };
            n += 1;
        }
        let next = (own.len() > n).then(|| own[n].0 * PAGE_SIZE);
        (n, next)
    }

    /// Physical addresses of the pages shown in `[first, end)`.
    pub(crate) fn vmo_lookup_pages(
        &self,
        id: VmoId,
        first: u64,
        out: &mut [u64],
    ) -> Result<(), Status> {
        for (i, slot) in out.iter_mut().enumerate() {
            *slot = self
                .shown(id, first + i as u64)
                .ok_or(ZX_ERR_NO_MEMORY)?
                .paddr();
        }
        Ok(())
    }

    /// Destroys VMOs that nothing keeps alive, walking up the chain.
    pub(crate) fn vmo_maybe_destroy(&mut self, mut id: VmoId) {
        loop {
            let v = &self.vmos[id];
            if v.handles > 0 || !v.mappings.is_empty() || !v.children.is_empty() {
                return;
            }
            debug_assert!(v.waiters.is_empty(), "waits go with their handles");
            debug_assert!(!v.watched());
            let (account, committed, parent, slot) =
                (v.account, v.pages.len(), v.parent, v.parent_slot);
            self.uncharge(account, committed as u64);
            if self.defer_frees && committed > FREE_INLINE {
                // Too many frames to free now: the VMO is gone for everyone,
                // its pages go in steps (`reclaim_step`).
                let next = self.dead_vmos.replace(id);
                let v = &mut self.vmos[id];
                v.dead = true;
                v.next_dead = next;
                self.dead_count += 1;
            } else {
                let v = self.vmos.remove(id).expect("live VMO");
                for &(_, f) in &v.pages {
                    self.platform.free(f);
                }
            }
            let Some(link) = parent else { return };
            // Out of the parent's list in O(1): the child was not watched
            // (no mapping, no child), so it sits past the watched ones, and
            // so does the last entry that takes its place.
            let parent = &mut self.vmos[link.id];
            debug_assert_eq!(parent.children[slot as usize], id);
            debug_assert!(slot >= parent.watched_children);
            parent.children.swap_remove(slot as usize);
            match parent.children.get(slot as usize) {
                Some(&moved) => self.vmos[moved].parent_slot = slot,
                None if parent.children.is_empty() => self.notify(Waitable::Vmo(link.id)),
                None => {}
            }
            id = link.id;
        }
    }

    /// Frees the frames of destroyed VMOs ([`Self::set_deferred_frees`]):
    /// one unit of `budget` per 8 frames; `true` once none is left.
    pub fn reclaim_step(&mut self, budget: &mut usize) -> bool {
        while let Some(id) = self.dead_vmos {
            if *budget == 0 {
                return false;
            }
            *budget -= 1;
            let v = &mut self.vmos[id];
            for _ in 0..8 {
                let Some((_, f)) = v.pages.pop() else { break };
                self.platform.free(f);
            }
            if v.pages.is_empty() {
                self.dead_vmos = v.next_dead;
                self.vmos.remove(id);
                self.dead_count -= 1;
            }
        }
        true
    }

    /// Whether destroyed VMOs still hold frames.
    pub fn reclaim_pending(&self) -> bool {
        self.dead_vmos.is_some()
    }

    /// From now on, a destroyed VMO with more than [`FREE_INLINE`] pages
    /// keeps them until [`Self::reclaim_step`] frees them, so closing a
    /// handle or unmapping never frees an unbounded number of frames in
    /// one go (the kernel does; host tests mostly do not).
    pub fn set_deferred_frees(&mut self, on: bool) {
        self.defer_frees = on;
    }

    /// Swaps entries `i` and `j` of `parent`'s child list, keeping each
    /// child's `parent_slot` true.
    fn children_swap(&mut self, parent: VmoId, i: u32, j: u32) {
        if i == j {
            return;
        }
        let list = &mut self.vmos[parent].children;
        list.swap(i as usize, j as usize);
        let (a, b) = (list[i as usize], list[j as usize]);
        self.vmos[a].parent_slot = i;
        self.vmos[b].parent_slot = j;
    }

    /// Swaps entries `i` and `j` of `vmo`'s mapping list, keeping each
    /// mapping's `vmo_slot` true.
    pub(crate) fn mappings_swap(&mut self, vmo: VmoId, i: u32, j: u32) {
        if i == j {
            return;
        }
        let list = &mut self.vmos[vmo].mappings;
        list.swap(i as usize, j as usize);
        let (a, b) = (list[i as usize], list[j as usize]);
        // One of them may be a record just removed (`vmo_list_remove`).
        for (m, slot) in [(a, i), (b, j)] {
            if let Some(r) = self.mappings.get_mut(m) {
                r.vmo_slot = slot;
            }
        }
    }

    /// After VMO `id`'s populated mappings or watched children changed
    /// (it was watched before iff `was`): moves it across the watched line
    /// of its parent's child list if it crossed, and so on up the chain.
    /// O(1) per level, and only levels whose watched state changes.
    pub(crate) fn vmo_watch_update(&mut self, mut id: VmoId, mut was: bool) {
        loop {
            let v = &self.vmos[id];
            let now = v.watched();
            if now == was {
                return;
            }
            let Some(link) = v.parent else { return };
            let slot = v.parent_slot;
            let p = &self.vmos[link.id];
            let parent_was = p.watched();
            let line = p.watched_children;
            if now {
                self.children_swap(link.id, slot, line);
                self.vmos[link.id].watched_children = line + 1;
            } else {
                self.children_swap(link.id, slot, line - 1);
                self.vmos[link.id].watched_children = line - 1;
            }
            id = link.id;
            was = parent_was;
        }
    }

    /// Whether every VMO's child list holds exactly its live children, each
    /// at the slot it names, with the watched ones first (for tests).
    pub fn child_lists_consistent(&self) -> bool {
        self.vmos.ids().all(|id| {
            let v = &self.vmos[id];
            if v.dead {
                return true;
            }
            let parent_ok = match v.parent {
                None => true,
                Some(link) => self.vmos.get(link.id).is_some_and(|p| {
                    let slot = v.parent_slot as usize;
                    p.children.get(slot) == Some(&id)
                        && (slot < p.watched_children as usize) == v.watched()
                }),
            };
            parent_ok
                && v.watched_children as usize <= v.children.len()
                && v.children.iter().all(|&c| {
                    self.vmos
                        .get(c)
                        .is_some_and(|cv| cv.parent.is_some_and(|l| l.id == id))
                })
        })
    }

    /// `ZX_INFO_VMO` for a VMO seen through a handle with `rights`.
    pub(crate) fn vmo_info(&self, id: VmoId, rights: Rights) -> ZxInfoVmo {
        let v = &self.vmos[id];
        let mut flags = ZX_INFO_VMO_TYPE_PAGED | ZX_INFO_VMO_VIA_HANDLE;
        if v.parent_koid != ZX_KOID_INVALID {
            flags |= ZX_INFO_VMO_IS_COW_CLONE;
        }
        ZxInfoVmo {
            koid: v.koid,
            name: [0; ZX_MAX_NAME_LEN],
            size_bytes: v.size * PAGE_SIZE,
            parent_koid: v.parent_koid,
            num_children: v.children.len() as u64,
            num_mappings: v.mappings.len() as u64,
            share_count: u64::from(!v.mappings.is_empty()),
            flags,
            padding1: 0,
            committed_bytes: v.pages.len() as u64 * PAGE_SIZE,
            handle_rights: rights,
            create_options: if v.resizable {
                ZX_INFO_VMO_CREATE_RESIZABLE
            } else {
                0
            },
            cache_policy: ZX_CACHE_POLICY_CACHED,
            padding2: 0,
        }
    }
}
