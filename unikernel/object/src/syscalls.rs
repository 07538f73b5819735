//! The syscall-shaped façade: one method per syscall, on one task's handle
//! table. The kernel's syscall dispatch decodes arguments, copies user
//! memory, and calls these; host tests call them like Zircon's core tests.

use crate::handle::Object;
use crate::mapping::Populate;
use crate::platform::{CacheOp, CacheSpan, CACHE_ROUND_PAGES};
use crate::platform::{Platform, WaiterId};
use crate::signals::WaitStart;
use crate::space::{ObjectSpace, TableId, VmoId};
use crate::vmar::{
    perms_allowed_by, rights_for_perms, vmar_rights, MapArgs, OutPtr, Unmapping, VmarId,
};
use crate::vmo::{checked_size_pages, pages_for};
use abi::*;
use core::sync::atomic::Ordering;
use zerocopy::{Immutable, IntoBytes};

/// A task's view of the object space: its handle table.
pub struct TaskView<'a, P: Platform> {
    space: &'a mut ObjectSpace<P>,
    table: TableId,
}

impl<P: Platform> ObjectSpace<P> {
    /// The façade for the task owning `table`.
    pub fn task(&mut self, table: TableId) -> TaskView<'_, P> {
        self.actor = Some(table);
        TaskView { space: self, table }
    }
}

impl<P: Platform> TaskView<'_, P> {
    /// The table this view acts on.
    pub fn table(&self) -> TableId {
        self.table
    }

    /// The object space behind the view.
    pub fn space(&mut self) -> &mut ObjectSpace<P> {
        self.space
    }

    /// `zx_handle_close`. Closing `ZX_HANDLE_INVALID` is OK.
    pub fn handle_close(&mut self, handle: Handle) -> Result<(), Status> {
        if handle == ZX_HANDLE_INVALID {
            return Ok(());
        }
        // A kernel object's last reference is the kernel's to drop.
        self.space.close(self.table, handle).map(drop)
    }

    /// `zx_handle_duplicate`: needs DUPLICATE; `rights` a subset or `ZX_RIGHT_SAME_RIGHTS`.
    pub fn handle_duplicate(&mut self, handle: Handle, rights: Rights) -> Result<Handle, Status> {
        self.space.duplicate(self.table, handle, rights)
    }

    /// `zx_handle_replace`: needs no right; `rights` a subset or `ZX_RIGHT_SAME_RIGHTS`.
    pub fn handle_replace(&mut self, handle: Handle, rights: Rights) -> Result<Handle, Status> {
        self.space.replace(self.table, handle, rights)
    }

    /// `zx_vmo_create`: `size` rounded up to pages; `options` 0 or `ZX_VMO_NON_RESIZABLE`.
    pub fn vmo_create(&mut self, size: u64, options: u32) -> Result<Handle, Status> {
        if options & !ZX_VMO_NON_RESIZABLE != 0 {
            return Err(ZX_ERR_INVALID_ARGS);
        }
        let pages = checked_size_pages(size)?;
        let table = self.table;
        self.space.reserve_handle(table)?;
        self.space.vmo_reserve_new()?;
        let id = self
            .space
            .vmo_insert_root(pages, options & ZX_VMO_NON_RESIZABLE == 0, table);
        Ok(self
            .space
            .install_reserved(table, Object::Vmo(id), ZX_DEFAULT_VMO_RIGHTS))
    }

    /// `zx_vmo_create_child`: exactly one child type (`ZX_VMO_CHILD_COPY_ON_WRITE`)
    /// plus optionally `ZX_VMO_CHILD_NON_RESIZEABLE`; needs DUPLICATE and READ;
    /// the child's rights are the parent handle's plus WRITE.
    pub fn vmo_create_child(
        &mut self,
        handle: Handle,
        options: u32,
        offset: u64,
        size: u64,
    ) -> Result<Handle, Status> {
        let (parent, rights, size_pages) = self.child_args(handle, options, offset, size)?;
        let table = self.table;
        self.space.reserve_handle(table)?;
        self.space.vmo_reserve_child(parent)?;
        let child = self.space.vmo_insert_child(
            parent,
            offset / PAGE_SIZE,
            size_pages,
            options & ZX_VMO_CHILD_NON_RESIZEABLE == 0,
            table,
        );
        Ok(self
            .space
            .install_reserved(table, Object::Vmo(child), rights | ZX_RIGHT_WRITE))
    }

    /// The checks of a [`Self::vmo_create_child`], in its order (the handle,
    /// its type and rights, the options, the offset, the size), with
    /// nothing made: for a caller that must report them before a bad
    /// out-pointer.
    pub fn vmo_create_child_checks(
        &self,
        handle: Handle,
        options: u32,
        offset: u64,
        size: u64,
    ) -> Result<(), Status> {
        self.child_args(handle, options, offset, size).map(drop)
    }

    /// A `vmo_create_child`'s parent, the rights of its handle and the
    /// child's size in pages, once its arguments pass the checks.
    fn child_args(
        &self,
        handle: Handle,
        options: u32,
        offset: u64,
        size: u64,
    ) -> Result<(VmoId, Rights, u64), Status> {
        let (parent, rights) =
            self.space
                .vmo_handle(self.table, handle, ZX_RIGHT_DUPLICATE | ZX_RIGHT_READ)?;
        const TYPES: u32 = ZX_VMO_CHILD_COPY_ON_WRITE;
        const MODIFIERS: u32 = ZX_VMO_CHILD_NON_RESIZEABLE;
        if (options & TYPES).count_ones() != 1 || options & !(TYPES | MODIFIERS) != 0 {
            return Err(ZX_ERR_INVALID_ARGS);
        }
        if !offset.is_multiple_of(PAGE_SIZE) {
            return Err(ZX_ERR_INVALID_ARGS);
        }
        // The size is rounded up to the page first, and `offset` plus that
        // rounded size must fit in 64 bits (the seed page).
        let size_pages = checked_size_pages(size)?;
        offset
            .checked_add(size_pages * PAGE_SIZE)
            .ok_or(ZX_ERR_OUT_OF_RANGE)?;
        Ok((parent, rights, size_pages))
    }

    /// `zx_vmo_read`: exactly `buffer.len()` bytes at `offset`; needs READ.
    pub fn vmo_read(
        &mut self,
        handle: Handle,
        buffer: &mut [u8],
        offset: u64,
    ) -> Result<(), Status> {
        let (id, _) = self.space.vmo_handle(self.table, handle, ZX_RIGHT_READ)?;
        self.space.vmo_read_bytes(id, offset, buffer)
    }

    /// `zx_vmo_write`: exactly `buffer.len()` bytes at `offset`; needs WRITE.
    pub fn vmo_write(&mut self, handle: Handle, buffer: &[u8], offset: u64) -> Result<(), Status> {
        let (id, _) = self.space.vmo_handle(self.table, handle, ZX_RIGHT_WRITE)?;
        self.space.vmo_write_bytes(id, offset, buffer)
    }

    /// The checks of a `zx_vmo_read` or `zx_vmo_write` of `len` bytes at
    /// `offset` (or of a COMMIT or DECOMMIT of that range), for a caller
    /// that moves the bytes in rounds after them: the handle, its type,
    /// `right`, then the range within the VMO's size.
    pub fn vmo_check_range(
        &self,
        handle: Handle,
        right: Rights,
        offset: u64,
        len: u64,
    ) -> Result<(), Status> {
        let (id, _) = self.space.vmo_handle(self.table, handle, right)?;
        match offset.checked_add(len) {
            Some(end) if end <= self.space.vmos[id].size * PAGE_SIZE => Ok(()),
            _ => Err(ZX_ERR_OUT_OF_RANGE),
        }
    }

    /// The kernel-owned object `handle` names, with the checks of a call
    /// on one: bad handle, wrong type, then `rights` (access denied).
    pub fn kernel_object(
        &self,
        handle: Handle,
        rights: Rights,
    ) -> Result<&P::KernelObject, Status> {
        let e = self.space.entry(self.table, handle)?;
        let Object::Kernel(k) = &e.object else {
            return Err(ZX_ERR_WRONG_TYPE);
        };
        if e.rights & rights != rights {
            return Err(ZX_ERR_ACCESS_DENIED);
        }
        Ok(k)
    }

    /// `zx_vmo_get_size`.
    pub fn vmo_get_size(&self, handle: Handle) -> Result<u64, Status> {
        let (id, _) = self.space.vmo_handle(self.table, handle, 0)?;
        Ok(self.space.vmos[id].size * PAGE_SIZE)
    }

    /// `zx_vmo_set_size`: rounded up to pages; needs WRITE; a shrink frees pages.
    pub fn vmo_set_size(&mut self, handle: Handle, size: u64) -> Result<(), Status> {
        while !self.vmo_set_size_piece(handle, size, usize::MAX)? {}
        Ok(())
    }

    /// A piece of `zx_vmo_set_size`: all of a grow or of a call that fails;
    /// a shrink goes down from the top by at most `own` (at least one) own
    /// pages per piece (an empty stretch in one). `Ok(true)` once the size
    /// is `size`: each piece is a whole `vmo_set_size` to a size between,
    /// so a caller may drop the lock between pieces.
    pub fn vmo_set_size_piece(
        &mut self,
        handle: Handle,
        size: u64,
        own: usize,
    ) -> Result<bool, Status> {
        let (id, _) = self.space.vmo_handle(self.table, handle, ZX_RIGHT_WRITE)?;
        if !self.space.vmos[id].resizable {
            return Err(ZX_ERR_UNAVAILABLE);
        }
        let pages = checked_size_pages(size)?;
        let v = &self.space.vmos[id];
        let next = if pages < v.size {
            v.piece_before(pages, v.size, own)
        } else {
            pages
        };
        self.space.vmo_resize(id, next);
        Ok(next == pages)
    }

    /// The pages a COMMIT of bytes `[offset, offset + size)` would add (the
    /// ones the VMO lacks there), after the call's checks (the handle,
    /// WRITE, the range): `ZX_ERR_NO_MEMORY` if they are more than the
    /// table charged for them may still hold. A caller that commits in
    /// pieces asks first, so a COMMIT that can never fit fails at once with
    /// nothing committed, as in the era's kernel, which allocated a
    /// COMMIT's pages together; O(log pages).
    pub fn vmo_commit_need(&self, handle: Handle, offset: u64, size: u64) -> Result<u64, Status> {
        let (id, _) = self.space.vmo_handle(self.table, handle, ZX_RIGHT_WRITE)?;
        self.space.check_range(id, offset, size)?;
        if size == 0 {
            return Ok(0);
        }
        let v = &self.space.vmos[id];
        let (a, b) = (offset / PAGE_SIZE, (offset + size).div_ceil(PAGE_SIZE));
        let need = (b - a) - v.owned_range(a, b).len() as u64;
        // The VMO's table; once that has gone, the caller's, which takes
        // the VMO over with the pages it holds (`charge_vmo`).
        let (table, charge) = match self.space.tables.get(v.account) {
            Some(t) => (Some(t), need),
            None => (
                self.space.tables.get(self.table),
                need.saturating_add(v.pages.len() as u64),
            ),
        };
        let room = table.map_or(0, |t| {
            t.quota
                .max_committed_pages
                .saturating_sub(t.committed_pages.load(Ordering::Relaxed))
        });
        if need > 0 && charge > room {
            return Err(ZX_ERR_NO_MEMORY);
        }
        Ok(need)
    }

    /// Where a piece of a DECOMMIT of bytes `[from, end)` of the VMO should
    /// end so it frees at most `own` (at least one) own pages: past `from`,
    /// at most `end`. A piece's work then grows with what it frees, not with
    /// its length. Needs WRITE, as the DECOMMIT does.
    pub fn vmo_decommit_piece_end(
        &self,
        handle: Handle,
        from: u64,
        end: u64,
        own: usize,
    ) -> Result<u64, Status> {
        let (id, _) = self.space.vmo_handle(self.table, handle, ZX_RIGHT_WRITE)?;
        let last = pages_for(end).ok_or(ZX_ERR_OUT_OF_RANGE)?;
        let piece = self.space.vmos[id].piece_after(from / PAGE_SIZE, last, own);
        Ok(piece.saturating_mul(PAGE_SIZE).min(end))
    }

    /// `zx_vmo_op_range`: COMMIT, DECOMMIT (need WRITE; a zero size does
    /// nothing, whatever the offset), LOOKUP (needs READ; fills `buffer`
    /// with one physical address per page; a zero size is INVALID_ARGS, as
    /// DESIGN.md says), and the cache ops (see [`Self::vmo_cache_round`]),
    /// done here through [`crate::FrameAllocator::cache_op`] all at once.
    pub fn vmo_op_range(
        &mut self,
        handle: Handle,
        op: u32,
        offset: u64,
        size: u64,
        buffer: &mut [u64],
    ) -> Result<(), Status> {
        if let Some(cache) = CacheOp::from_op(op) {
            let mut spans = [CacheSpan {
                frame: crate::Frame::new(0),
                offset: 0,
                len: 0,
            }; CACHE_ROUND_PAGES];
            let mut from = offset;
            loop {
                let (n, next) = self.vmo_cache_round(handle, op, offset, size, from, &mut spans)?;
                for s in &spans[..n] {
                    self.space
                        .platform
                        .cache_op(cache, s.frame, s.offset, s.len);
                }
                match next {
                    Some(f) => from = f,
                    None => return Ok(()),
                }
            }
        }
        let need = match op {
            ZX_VMO_OP_COMMIT | ZX_VMO_OP_DECOMMIT => ZX_RIGHT_WRITE,
            ZX_VMO_OP_LOOKUP => ZX_RIGHT_READ,
            ZX_VMO_OP_LOCK | ZX_VMO_OP_UNLOCK => {
                self.space.vmo_handle(self.table, handle, 0)?;
                return Err(ZX_ERR_NOT_SUPPORTED);
            }
            _ => {
                self.space.vmo_handle(self.table, handle, 0)?;
                return Err(ZX_ERR_INVALID_ARGS);
            }
        };
        let (id, _) = self.space.vmo_handle(self.table, handle, need)?;
        if size == 0 {
            // An empty range holds no page: nothing to commit or decommit
            // (the page at `offset` is not in it), but it must start inside
            // the VMO or at its end, as for a read of no bytes.
            return match op {
                ZX_VMO_OP_LOOKUP => Err(ZX_ERR_INVALID_ARGS),
                _ if offset > self.space.vmos[id].size * PAGE_SIZE => Err(ZX_ERR_OUT_OF_RANGE),
                _ => Ok(()),
            };
        }
        self.space.check_range(id, offset, size)?;
        let first = offset / PAGE_SIZE;
        // In range, so this cannot overflow.
        let end = pages_for(offset + size).ok_or(ZX_ERR_OUT_OF_RANGE)?;
        match op {
            ZX_VMO_OP_COMMIT => self.space.vmo_commit_pages(id, first, end),
            ZX_VMO_OP_DECOMMIT => {
                self.space.vmo_decommit_pages(id, first, end);
                Ok(())
            }
            _ => {
                let n = (end - first) as usize;
                let out = buffer.get_mut(..n).ok_or(ZX_ERR_BUFFER_TOO_SMALL)?;
                self.space.vmo_lookup_pages(id, first, out)
            }
        }
    }

    /// One bounded round of a `zx_vmo_op_range` cache op (`ZX_VMO_OP_CACHE_*`)
    /// over `[offset, offset + size)`, from byte `from` on (`offset` in the
    /// first round, then what the last round returned): checks the handle,
    /// its right (READ; WRITE for INVALIDATE, which may drop dirty lines),
    /// a zero size (INVALID_ARGS) and, in the first round, the range
    /// (OUT_OF_RANGE); then fills `out` with the VMO's own committed pages
    /// in the range, and returns how many and where the next round starts.
    /// The caller does the maintenance, and may drop the object lock
    /// between rounds: if the VMO shrinks meanwhile, later rounds stop at
    /// its new end; if the handle goes, they fail as a call would.
    pub fn vmo_cache_round(
        &mut self,
        handle: Handle,
        op: u32,
        offset: u64,
        size: u64,
        from: u64,
        out: &mut [CacheSpan; CACHE_ROUND_PAGES],
    ) -> Result<(usize, Option<u64>), Status> {
        let Some(cache) = CacheOp::from_op(op) else {
            self.space.vmo_handle(self.table, handle, 0)?;
            return Err(ZX_ERR_INVALID_ARGS);
        };
        let (id, _) = self.space.vmo_handle(self.table, handle, cache.right())?;
        if size == 0 {
            return Err(ZX_ERR_INVALID_ARGS);
        }
        let end = offset.checked_add(size).ok_or(ZX_ERR_OUT_OF_RANGE)?;
        if from == offset {
            self.space.check_range(id, offset, size)?;
        } else if from < offset || from > end {
            return Err(ZX_ERR_INVALID_ARGS);
        }
        Ok(self.space.vmo_cache_round(id, from, end, out))
    }

    /// `zx_object_get_info(ZX_INFO_VMO)`.
    pub fn object_get_info_vmo(&self, handle: Handle) -> Result<ZxInfoVmo, Status> {
        let (id, rights) = self.space.vmo_handle(self.table, handle, 0)?;
        Ok(self.space.vmo_info(id, rights))
    }

    /// `zx_object_get_info(ZX_INFO_HANDLE_BASIC)`.
    pub fn object_get_info_handle_basic(
        &self,
        handle: Handle,
    ) -> Result<ZxInfoHandleBasic, Status> {
        self.space.info_handle_basic(self.table, handle)
    }

    /// `zx_object_get_info` for `topic`, copied into `buffer` as the task
    /// sees it; returns (actual, avail) record counts and the bytes written
    /// (only the record's: the rest of `buffer` is not the caller's to lose).
    pub fn object_get_info(
        &self,
        handle: Handle,
        topic: InfoTopic,
        buffer: &mut [u8],
    ) -> Result<(usize, usize, usize), Status> {
        match topic {
            ZX_INFO_HANDLE_VALID => self.space.entry(self.table, handle).map(|_| (0, 0, 0)),
            ZX_INFO_HANDLE_BASIC => put_record(buffer, &self.object_get_info_handle_basic(handle)?),
            ZX_INFO_VMO => put_record(buffer, &self.object_get_info_vmo(handle)?),
            ZX_INFO_VMAR => put_record(buffer, &self.object_get_info_vmar(handle)?),
            ZX_INFO_HANDLE_COUNT => {
                put_record(buffer, &self.space.info_handle_count(self.table, handle)?)
            }
            _ => {
                self.space.entry(self.table, handle)?;
                Err(ZX_ERR_NOT_SUPPORTED)
            }
        }
    }

    /// `zx_object_signal`: user signals (and `ZX_EVENT_SIGNALED` on events); needs SIGNAL.
    pub fn object_signal(
        &mut self,
        handle: Handle,
        clear_mask: Signals,
        set_mask: Signals,
    ) -> Result<(), Status> {
        self.space
            .object_signal(self.table, handle, clear_mask, set_mask)
    }

    /// `zx_event_create`: `options` must be 0; rights are basic plus SIGNAL.
    pub fn event_create(&mut self, options: u32) -> Result<Handle, Status> {
        self.space.event_create(self.table, options)
    }

    /// The first half of `zx_object_wait_one` (needs WAIT): either already
    /// satisfied, or a registered waiter the scheduler blocks on.
    pub fn object_wait_begin(
        &mut self,
        handle: Handle,
        signals: Signals,
        waiter: WaiterId,
    ) -> Result<WaitStart, Status> {
        self.space.wait_begin(self.table, handle, signals, waiter)
    }

    /// The current signals of the object `handle` names.
    pub fn object_signals(&self, handle: Handle) -> Result<Signals, Status> {
        self.space.signals(self.table, handle)
    }

    /// Moves `handle` to the table `to` (needs TRANSFER); returns its new value there.
    pub fn handle_transfer(&mut self, handle: Handle, to: TableId) -> Result<Handle, Status> {
        self.space.transfer(self.table, handle, to)
    }

    /// `zx_vmar_allocate`: a sub-VMAR of `parent` with the `ZX_VM_CAN_MAP_*`
    /// permissions in `options` (READ / WRITE / EXECUTE need the matching
    /// right on `parent`); returns its handle and base address.
    pub fn vmar_allocate(
        &mut self,
        parent: Handle,
        options: VmOptions,
        offset: u64,
        size: u64,
    ) -> Result<(Handle, u64), Status> {
        let need = rights_for_perms(options >> ZX_VM_CAN_MAP_SHIFT);
        let parent = self.space.vmar_handle(self.table, parent, need)?;
        let table = self.table;
        // The handle slot first, so a full table leaves no orphan VMAR.
        self.space.reserve_handle(table)?;
        let (child, base) = self
            .space
            .vmar_create_child(parent, options, offset, size)?;
        let rights = vmar_rights(options);
        Ok((
            self.space
                .install_reserved(table, Object::Vmar(child), rights),
            base,
        ))
    }

    /// `zx_vmar_map`: maps `len` bytes of `vmo` from `vmo_offset`; needs MAP
    /// on the VMO, and READ / WRITE / EXECUTE on both handles for the
    /// `ZX_VM_PERM_*` bits asked. Returns the mapping's address.
    pub fn vmar_map(
        &mut self,
        vmar: Handle,
        options: VmOptions,
        vmar_offset: u64,
        vmo: Handle,
        vmo_offset: u64,
        len: u64,
    ) -> Result<u64, Status> {
        let args = MapArgs {
            vmar,
            options,
            vmar_offset,
            vmo,
            vmo_offset,
            len,
        };
        let (ids, max_perms) = self.map_handles(&args)?;
        self.space.vmar_map_vmo_out(&ids, max_perms, None)
    }

    /// The VMAR and VMO a `vmar_map` names (the VMO handle needs MAP), and
    /// the permissions both handles allow: what protect may grant later is
    /// fixed now.
    fn map_handles(
        &self,
        args: &MapArgs<Handle, Handle>,
    ) -> Result<(MapArgs<VmarId, VmoId>, VmOptions), Status> {
        let (vmar, vmar_rights) = self.space.vmar_of(self.table, args.vmar)?;
        let (vmo, vmo_rights) = self.space.vmo_handle(self.table, args.vmo, 0)?;
        if vmo_rights & ZX_RIGHT_MAP == 0 {
            return Err(ZX_ERR_ACCESS_DENIED);
        }
        Ok((
            args.on(vmar, vmo),
            perms_allowed_by(vmo_rights & vmar_rights),
        ))
    }

    /// [`Self::vmar_map`] that also stores the address at `out` in task
    /// memory, in the same step (see [`ObjectSpace::vmar_map_vmo_out`]): a
    /// failure, the store's included, changes no mapping.
    pub fn vmar_map_out(
        &mut self,
        args: &MapArgs<Handle, Handle>,
        out: OutPtr,
    ) -> Result<u64, Status> {
        let (ids, max_perms) = self.map_handles(args)?;
        self.space.vmar_map_vmo_out(&ids, max_perms, Some(out))
    }

    /// Whether a `ZX_VM_SPECIFIC_OVERWRITE` may be made in this hold: it
    /// drops at most [`crate::OVERWRITE_PIECE`] translations of what it
    /// replaces, and says no if more are left (the caller drops them in
    /// bounded pieces, [`Self::vmar_overwrite_range`], and asks again).
    #[cold]
    #[inline(never)]
    fn overwrite_ready(&self, args: &MapArgs<Handle, Handle>) -> bool {
        let Some((base, end)) = self.vmar_overwrite_range(args) else {
            return true;
        };
        let Ok((id, _)) = self.space.vmar_of(self.table, args.vmar) else {
            return true;
        };
        self.space
            .unmap_translations_some(id, base, end - base, crate::OVERWRITE_PIECE)
            >= end
    }

    /// [`ObjectSpace::vmar_overwrite_range`] of a `zx_vmar_map` (no error:
    /// `None` where the map itself would fail).
    pub fn vmar_overwrite_range(&self, args: &MapArgs<Handle, Handle>) -> Option<(u64, u64)> {
        if args.options & ZX_VM_SPECIFIC_OVERWRITE == 0 {
            return None;
        }
        let (ids, max_perms) = self.map_handles(args).ok()?;
        self.space.vmar_overwrite_range(&ids, max_perms)
    }

    /// [`Self::vmar_map_out`] that leaves a `ZX_VM_MAP_RANGE`'s translations
    /// to the caller: with them, it gives where they start, for
    /// [`ObjectSpace::populate_step`] to make in bounded pieces after the
    /// call (the lock may be dropped between them; the mapping is whole and
    /// usable from the start, as a fault would make any of them).
    /// A `ZX_VM_SPECIFIC_OVERWRITE` over more than [`crate::OVERWRITE_PIECE`]
    /// translations is `ZX_ERR_SHOULD_WAIT` with nothing changed (some of
    /// them dropped, which is always safe): the caller drops the rest in
    /// bounded pieces ([`Self::vmar_overwrite_range`],
    /// [`ObjectSpace::unmap_translations_some`]) and asks again.
    pub fn vmar_map_out_unpopulated(
        &mut self,
        args: &MapArgs<Handle, Handle>,
        out: OutPtr,
    ) -> Result<(u64, Option<Populate>), Status> {
        let options = args.options;
        // With ZX_VM_SPECIFIC_OVERWRITE, or no permission, the option stays
        // for the map's own checks (which refuse the one, ignore the other).
        let later = options & ZX_VM_MAP_RANGE != 0
            && options & ZX_VM_SPECIFIC_OVERWRITE == 0
            && options & ZX_VM_PERM_MASK != 0;
        let without_range;
        let args = if later {
            without_range = MapArgs {
                options: options & !ZX_VM_MAP_RANGE,
                ..*args
            };
            &without_range
        } else {
            args
        };
        if options & ZX_VM_SPECIFIC_OVERWRITE != 0 && !self.overwrite_ready(args) {
            return Err(ZX_ERR_SHOULD_WAIT);
        }
        let base = self.vmar_map_out(args, out)?;
        // The handle was good for the map, in this same lock hold.
        let (id, _) = self.space.vmo_handle(self.table, args.vmo, 0)?;
        Ok((base, later.then(|| Populate::at(base, id))))
    }

    /// `zx_vmar_unmap`: removes mappings (splitting partial ones) and
    /// destroys sub-VMARs in `[addr, addr + len)`.
    pub fn vmar_unmap(&mut self, vmar: Handle, addr: u64, len: u64) -> Result<(), Status> {
        let vmar = self.space.vmar_handle(self.table, vmar, 0)?;
        self.space.vmar_unmap_range(vmar, addr, len)
    }

    /// `zx_vmar_protect`: new `ZX_VM_PERM_*` for `[addr, addr + len)`; the
    /// handle needs the matching rights.
    pub fn vmar_protect(
        &mut self,
        vmar: Handle,
        options: VmOptions,
        addr: u64,
        len: u64,
    ) -> Result<(), Status> {
        let need = rights_for_perms(options);
        let vmar = self.space.vmar_handle(self.table, vmar, need)?;
        self.space.vmar_protect_range(vmar, options, addr, len)
    }

    /// `zx_vmar_protect` but for dropping the translations, which the
    /// caller does (see [`ObjectSpace::vmar_protect_begin`]): whether
    /// `[addr, addr + len)` needs it.
    pub fn vmar_protect_begin(
        &mut self,
        vmar: Handle,
        options: VmOptions,
        addr: u64,
        len: u64,
    ) -> Result<bool, Status> {
        let need = rights_for_perms(options);
        let vmar = self.space.vmar_handle(self.table, vmar, need)?;
        self.space.vmar_protect_begin(vmar, options, addr, len)
    }

    /// `zx_vmar_destroy`: unmaps and destroys everything inside; the
    /// handle stays valid, but operations on it fail with `ZX_ERR_BAD_STATE`.
    pub fn vmar_destroy(&mut self, vmar: Handle) -> Result<(), Status> {
        let vmar = self.space.vmar_handle(self.table, vmar, 0)?;
        self.space.vmar_destroy_id(vmar)
    }

    /// `zx_vmar_destroy` in bounded steps: the checks, then the VMAR to pass
    /// to [`ObjectSpace::vmar_destroy_step`] until it is done.
    pub fn vmar_destroy_begin(&mut self, vmar: Handle) -> Result<VmarId, Status> {
        let vmar = self.space.vmar_handle(self.table, vmar, 0)?;
        self.space.vmar_destroy_begin(vmar)?;
        Ok(vmar)
    }

    /// `zx_vmar_unmap` in bounded steps: the checks and splits, then what
    /// to pass to [`ObjectSpace::vmar_unmap_step`] until it is done.
    pub fn vmar_unmap_begin(
        &mut self,
        vmar: Handle,
        addr: u64,
        len: u64,
    ) -> Result<Unmapping, Status> {
        let vmar = self.space.vmar_handle(self.table, vmar, 0)?;
        self.space.vmar_unmap_begin(vmar, addr, len)
    }

    /// `zx_object_get_info(ZX_INFO_VMAR)`.
    pub fn object_get_info_vmar(&self, handle: Handle) -> Result<ZxInfoVmar, Status> {
        let vmar = self
            .space
            .vmar_handle(self.table, handle, ZX_RIGHT_INSPECT)?;
        let v = &self.space.vmars[vmar];
        Ok(ZxInfoVmar {
            base: v.base,
            len: v.size,
        })
    }
}

/// Copies one `zx_object_get_info` record into `buffer`: (actual, avail,
/// bytes written) or `ZX_ERR_BUFFER_TOO_SMALL`.
pub fn put_record<T: IntoBytes + Immutable>(
    buffer: &mut [u8],
    record: &T,
) -> Result<(usize, usize, usize), Status> {
    let bytes = record.as_bytes();
    let out = buffer
        .get_mut(..bytes.len())
        .ok_or(ZX_ERR_BUFFER_TOO_SMALL)?;
    out.copy_from_slice(bytes);
    Ok((1, 1, bytes.len()))
}
