//! VMARs: address regions holding sub-regions and mappings, sorted and
//! disjoint, with Zircon's `ZX_VM_CAN_MAP_*` permissions.
//!
//! A VMAR lives while its parent holds it (until `vmar_destroy`, or an
//! unmap covering it, destroys it) or while a handle names it; closing its
//! last handle does not destroy it. A destroyed VMAR has no children, is
//! gone from its parent, and fails every operation with
//! `ZX_ERR_BAD_STATE`; its slot goes with its last handle.
//!
//! Every operation reserves what it needs first (slab slots, child-list and
//! mapping-list capacity), then mutates infallibly: `ZX_ERR_NO_MEMORY`
//! leaves everything as it was. Removing a translation always happens
//! before the frames it showed can be freed.

use crate::handle::Object;
use crate::mapping::{Access, Fault, Mapping, MappingInfo};
use crate::mem::SlabId;
use crate::platform::{Frame, Platform};
use crate::regions::RegionTree;
use crate::space::{Counter, MappingId, ObjectSpace, TableId, VmoId};
use abi::*;

/// A VMAR's id inside the object space.
pub type VmarId = SlabId;

/// What occupies a range of a VMAR.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Child {
    Vmar(VmarId),
    Mapping(MappingId),
}

/// One child of a VMAR and the range it occupies.
pub(crate) type Region = crate::regions::Region<Child>;

/// Translations a `ZX_VM_SPECIFIC_OVERWRITE` drops in the map's own hold
/// (more are dropped before it, this many a hold: see
/// [`crate::TaskView::vmar_map_out_unpopulated`]).
pub const OVERWRITE_PIECE: usize = 512;

/// Pages a teardown step unmaps from a large populated mapping at once.
pub const TRIM_PAGES: u64 = 256;
/// Budget units such a trim costs beyond the one every removal takes.
const TRIM_COST: usize = 15;

/// The budget of a teardown done in one go.
const UNBOUNDED: usize = usize::MAX;

/// A `zx_vmar_unmap` under way: the part of the range still to empty
/// (see [`ObjectSpace::vmar_unmap_step`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Unmapping {
    vmar: VmarId,
    start: u64,
    end: u64,
}

/// A virtual memory address region.
pub(crate) struct Vmar {
    pub koid: Koid,
    pub base: u64,
    pub size: u64,
    /// `ZX_VM_CAN_MAP_{SPECIFIC,READ,WRITE,EXECUTE}`.
    pub flags: VmOptions,
    pub parent: Option<VmarId>,
    /// Sub-VMARs and mappings, sorted by base, disjoint.
    pub children: RegionTree<Child>,
    pub handles: u32,
    /// Gone from its parent, with nothing inside.
    pub destroyed: bool,
    /// Being torn down ([`ObjectSpace::vmar_destroy_step`]): it takes
    /// nothing new, and its children are leaving.
    pub dying: bool,
    /// Where a teardown of this VMAR stopped: the VMAR it was emptying.
    pub teardown_at: Option<VmarId>,
    /// The table its mappings are charged to (inherited by sub-VMARs).
    pub account: Option<TableId>,
}

impl Vmar {
    fn end(&self) -> u64 {
        self.base + self.size
    }

    /// The first child overlapping `[a, b)`.
    fn first_overlapping(&self, a: u64, b: u64) -> Option<Region> {
        self.children.first_ending_after(a).filter(|r| r.base < b)
    }

    /// The last child overlapping `[a, b)`.
    fn last_overlapping(&self, a: u64, b: u64) -> Option<Region> {
        self.children.last_before(b).filter(|r| r.end() > a)
    }

    /// The children overlapping `[a, b)`, in order (O(log n) each).
    fn overlapping(&self, a: u64, b: u64) -> impl Iterator<Item = Region> + '_ {
        core::iter::successors(self.first_overlapping(a, b), move |r| {
            self.first_overlapping(r.end(), b)
        })
    }
}

/// Options `vmar_allocate` accepts.
const ALLOCATE_OPTIONS: VmOptions =
    ZX_VM_COMPACT | ZX_VM_SPECIFIC | ZX_VM_CAN_MAP_SPECIFIC | ZX_VM_CAN_MAP_RWX;
/// Options `vmar_map` accepts: those its page lists (not `ZX_VM_COMPACT`,
/// a hint for `vmar_allocate` that the era's kernel refused on a map).
const MAP_OPTIONS: VmOptions = ZX_VM_PERM_MASK
    | ZX_VM_SPECIFIC
    | ZX_VM_SPECIFIC_OVERWRITE
    | ZX_VM_MAP_RANGE
    | ZX_VM_REQUIRE_NON_RESIZABLE;

/// The READ / WRITE / EXECUTE bits of `bits` that stand for read, write
/// and execute in the `(read, write, execute)` encoding `from`, moved to
/// the encoding `to` (rights, `ZX_VM_PERM_*` or `ZX_VM_CAN_MAP_*`).
fn translate_rwx(bits: u32, from: [u32; 3], to: [u32; 3]) -> u32 {
    from.iter()
        .zip(to)
        .filter(|(f, _)| bits & **f != 0)
        .fold(0, |acc, (_, t)| acc | t)
}

const RIGHTS_RWX: [u32; 3] = [ZX_RIGHT_READ, ZX_RIGHT_WRITE, ZX_RIGHT_EXECUTE];
const PERM_RWX: [u32; 3] = [ZX_VM_PERM_READ, ZX_VM_PERM_WRITE, ZX_VM_PERM_EXECUTE];
const CAN_MAP_RWX: [u32; 3] = [
    ZX_VM_CAN_MAP_READ,
    ZX_VM_CAN_MAP_WRITE,
    ZX_VM_CAN_MAP_EXECUTE,
];

/// The rights of a handle to a VMAR with `flags` (`ZX_VM_CAN_MAP_*`):
/// [`ZX_DEFAULT_VMAR_RIGHTS`] plus READ / WRITE / EXECUTE for each
/// CAN_MAP permission, as Zircon's VMAR dispatcher gives them.
pub fn vmar_rights(flags: VmOptions) -> Rights {
    ZX_DEFAULT_VMAR_RIGHTS | translate_rwx(flags, CAN_MAP_RWX, RIGHTS_RWX)
}

/// The `ZX_VM_PERM_*` bits a handle's READ / WRITE / EXECUTE rights allow.
pub(crate) fn perms_allowed_by(rights: Rights) -> VmOptions {
    translate_rwx(rights, RIGHTS_RWX, PERM_RWX)
}

/// The handle rights `ZX_VM_PERM_*` bits need on a VMAR handle.
pub(crate) fn rights_for_perms(perms: VmOptions) -> Rights {
    translate_rwx(perms, PERM_RWX, RIGHTS_RWX)
}

/// Writable or executable pages are always readable here (the MMU implies
/// read), so WRITE or EXECUTE without READ is an unsupported combination,
/// as in Zircon's `is_valid_mapping_protection`. No permission at all is a
/// valid (inaccessible) mapping.
fn perms_valid(perms: VmOptions) -> bool {
    perms & ZX_VM_PERM_READ != 0 || perms & (ZX_VM_PERM_WRITE | ZX_VM_PERM_EXECUTE) == 0
}

/// What a `zx_vmar_map` places, and where: on the task's handles
/// (`MapArgs<Handle, Handle>`, as the call passes them) or on the objects
/// they name (`MapArgs<VmarId, VmoId>`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MapArgs<R, O> {
    /// The VMAR the mapping goes in.
    pub vmar: R,
    /// `ZX_VM_*` permissions and placement options.
    pub options: VmOptions,
    /// With `ZX_VM_SPECIFIC*`: where in the VMAR.
    pub vmar_offset: u64,
    /// The VMO mapped.
    pub vmo: O,
    /// Where in the VMO the mapping starts (page aligned).
    pub vmo_offset: u64,
    /// The mapping's length in bytes (page aligned).
    pub len: u64,
}

impl<R, O> MapArgs<R, O> {
    /// The same placement of `vmo` in `vmar` (the objects this one's
    /// handles name).
    pub fn on<R2, O2>(&self, vmar: R2, vmo: O2) -> MapArgs<R2, O2> {
        MapArgs {
            vmar,
            options: self.options,
            vmar_offset: self.vmar_offset,
            vmo,
            vmo_offset: self.vmo_offset,
            len: self.len,
        }
    }
}

/// Where a call stores its result in task memory: `addr`, as seen under
/// the VMAR `root` (the one the task's faults are resolved in).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct OutPtr {
    /// The VMAR whose mappings (and sub-VMARs') the store goes through.
    pub root: VmarId,
    /// The address.
    pub addr: u64,
}

/// Where some of a stored result's bytes go: a frame, the offset in it,
/// and how many bytes.
type OutSlot = (Frame, usize, usize);

/// The mapping a `vmar_map` is about to put in place.
#[derive(Copy, Clone)]
struct NewMapping {
    base: u64,
    end: u64,
    vmo: VmoId,
    first_page: u64,
    perms: VmOptions,
}

fn aligned(x: u64) -> bool {
    x.is_multiple_of(PAGE_SIZE)
}

impl<P: Platform> ObjectSpace<P> {
    /// Creates a root VMAR over `[base, base + size)` with every CAN_MAP
    /// permission (the kernel's, once: `ROOT_VMAR_BASE..ROOT_VMAR_END`).
    pub fn create_root_vmar(&mut self, base: u64, size: u64) -> Result<VmarId, Status> {
        if base == 0 || size == 0 || !aligned(base) || !aligned(size) {
            return Err(ZX_ERR_INVALID_ARGS);
        }
        base.checked_add(size).ok_or(ZX_ERR_INVALID_ARGS)?;
        self.vmars.reserve(&self.mem)?;
        let koid = self.new_koid();
        Ok(self.vmars.insert_reserved(Vmar {
            koid,
            base,
            size,
            flags: ZX_VM_CAN_MAP_SPECIFIC | ZX_VM_CAN_MAP_RWX,
            parent: None,
            children: RegionTree::new(),
            handles: 0,
            destroyed: false,
            dying: false,
            teardown_at: None,
            account: None,
        }))
    }

    /// Puts a handle to `vmar` with `rights` in `table` (how the kernel
    /// gives a task its sub-VMAR; [`vmar_rights`] gives the usual rights).
    pub fn install_vmar(
        &mut self,
        table: TableId,
        vmar: VmarId,
        rights: Rights,
    ) -> Result<Handle, Status> {
        self.vmars.get(vmar).ok_or(ZX_ERR_NOT_FOUND)?;
        self.install(table, Object::Vmar(vmar), rights)
    }

    /// The VMAR a handle names, and the handle's rights.
    pub fn vmar_of(&self, table: TableId, handle: Handle) -> Result<(VmarId, Rights), Status> {
        let e = self.entry(table, handle)?;
        match e.object {
            Object::Vmar(id) => Ok((id, e.rights)),
            _ => Err(ZX_ERR_WRONG_TYPE),
        }
    }

    /// A VMAR's `(base, size)`, or `None` once it is gone or destroyed.
    pub fn vmar_range(&self, vmar: VmarId) -> Option<(u64, u64)> {
        self.vmars
            .get(vmar)
            .filter(|v| !v.destroyed && !v.dying)
            .map(|v| (v.base, v.size))
    }

    /// Charges the mappings made in `vmar` and in the sub-VMARs created in
    /// it from now on to `table`, against its [`crate::Quota::max_mappings`]
    /// (how the kernel bounds a task's mappings: its sub-VMAR's account).
    pub fn vmar_set_account(&mut self, vmar: VmarId, table: TableId) -> Result<(), Status> {
        self.tables.get(table).ok_or(ZX_ERR_BAD_STATE)?;
        let v = self.vmars.get_mut(vmar).ok_or(ZX_ERR_BAD_STATE)?;
        v.account = Some(table);
        Ok(())
    }

    /// The `ZX_VM_CAN_MAP_*` permissions of a VMAR that is still there.
    pub fn vmar_flags(&self, vmar: VmarId) -> Option<VmOptions> {
        self.vmars.get(vmar).map(|v| v.flags)
    }

    /// Number of VMAR records (live ones, and destroyed ones a handle still names).
    pub fn vmar_count(&self) -> usize {
        self.vmars.len()
    }

    /// Number of mapping records.
    pub fn mapping_count(&self) -> usize {
        self.mappings.len()
    }

    fn live_vmar(&self, vmar: VmarId) -> Result<&crate::vmar::Vmar, Status> {
        let v = self.vmars.get(vmar).ok_or(ZX_ERR_BAD_STATE)?;
        if v.destroyed || v.dying {
            return Err(ZX_ERR_BAD_STATE);
        }
        Ok(v)
    }

    /// Chooses where `size` bytes go in `vmar`: at `offset` if `specific`,
    /// else the lowest gap that fits (first fit, O(log n) through the
    /// gaps the region tree keeps). Returns the base.
    fn place(&self, vmar: VmarId, specific: bool, offset: u64, size: u64) -> Result<u64, Status> {
        let v = &self.vmars[vmar];
        if !specific {
            if offset != 0 || size > v.size {
                return Err(ZX_ERR_INVALID_ARGS);
            }
            return v
                .children
                .first_fit(v.base, v.end(), size)
                .ok_or(ZX_ERR_NO_MEMORY);
        }
        let base = self.specific_range(vmar, offset, size)?;
        if v.first_overlapping(base, base + size).is_some() {
            return Err(ZX_ERR_NO_MEMORY);
        }
        Ok(base)
    }

    /// Checks a `ZX_VM_SPECIFIC` request: the VMAR allows it, `offset` is
    /// aligned, and the range lies inside. Returns the absolute base.
    fn specific_range(&self, vmar: VmarId, offset: u64, size: u64) -> Result<u64, Status> {
        let v = &self.vmars[vmar];
        if v.flags & ZX_VM_CAN_MAP_SPECIFIC == 0 {
            return Err(ZX_ERR_ACCESS_DENIED);
        }
        if !aligned(offset) {
            return Err(ZX_ERR_INVALID_ARGS);
        }
        match offset.checked_add(size) {
            Some(end) if end <= v.size => Ok(v.base + offset),
            _ => Err(ZX_ERR_INVALID_ARGS),
        }
    }

    /// `zx_vmar_allocate` on a VMAR id (no handle rights checked): a new
    /// sub-VMAR of `size` bytes. Returns its id and base address.
    pub fn vmar_create_child(
        &mut self,
        parent: VmarId,
        options: VmOptions,
        offset: u64,
        size: u64,
    ) -> Result<(VmarId, u64), Status> {
        // The era's kernel's order: the options and the size's alignment,
        // the parent's state, then a zero size.
        if options & !ALLOCATE_OPTIONS != 0 || !aligned(size) {
            return Err(ZX_ERR_INVALID_ARGS);
        }
        let p = self.live_vmar(parent)?;
        if size == 0 {
            return Err(ZX_ERR_INVALID_ARGS);
        }
        if options & ZX_VM_CAN_MAP_RWX & !p.flags != 0 {
            return Err(ZX_ERR_ACCESS_DENIED);
        }
        let base = self.place(parent, options & ZX_VM_SPECIFIC != 0, offset, size)?;
        self.vmars.reserve(&self.mem)?;
        let mem = &self.mem;
        self.vmars[parent].children.reserve(mem, 1)?;
        let koid = self.new_koid();
        let account = self.vmars[parent].account;
        let id = self.vmars.insert_reserved(Vmar {
            koid,
            base,
            size,
            flags: options & (ZX_VM_CAN_MAP_SPECIFIC | ZX_VM_CAN_MAP_RWX),
            parent: Some(parent),
            children: RegionTree::new(),
            handles: 0,
            destroyed: false,
            dying: false,
            teardown_at: None,
            account,
        });
        self.vmars[parent]
            .children
            .insert_reserved(base, size, Child::Vmar(id));
        Ok((id, base))
    }

    /// `zx_vmar_map` on ids (handle rights already reduced to `max_perms`,
    /// the `ZX_VM_PERM_*` bits both the VMO and the VMAR handle allow).
    /// Returns the mapping's base address.
    pub fn vmar_map_vmo(
        &mut self,
        args: MapArgs<VmarId, VmoId>,
        max_perms: VmOptions,
    ) -> Result<u64, Status> {
        self.vmar_map_vmo_out(&args, max_perms, None)
    }

    /// [`Self::vmar_map_vmo`], also storing the mapping's address (8 bytes,
    /// little-endian) at `out` in task memory as a CPU store would: through
    /// the mapping there, giving its VMO its own page (copy-on-write), and
    /// through the new mapping where `out` lies in the range that a
    /// `ZX_VM_SPECIFIC_OVERWRITE` replaces. All in one step, so a call that
    /// fails changes nothing: `out` is resolved (its pages committed, the
    /// only effect, invisible to reads) before any mapping changes, and the
    /// store, after them, cannot fail. An `out` no mapping lets the task
    /// write, or past its VMO's end, is `ZX_ERR_INVALID_ARGS`.
    pub fn vmar_map_vmo_out(
        &mut self,
        args: &MapArgs<VmarId, VmoId>,
        max_perms: VmOptions,
        out: Option<OutPtr>,
    ) -> Result<u64, Status> {
        let (vmar, options, vmo, len) = (args.vmar, args.options, args.vmo, args.len);
        let first_page = args.vmo_offset / PAGE_SIZE;
        let perms = options & ZX_VM_PERM_MASK;
        let overwrite = options & ZX_VM_SPECIFIC_OVERWRITE != 0;
        self.map_checks(args, max_perms)?;
        let specific = overwrite || options & ZX_VM_SPECIFIC != 0;
        let (base, splits) = if overwrite {
            let base = self.specific_range(vmar, args.vmar_offset, len)?;
            self.check_no_vmar_in(vmar, base, base + len)?;
            (base, self.straddlers(vmar, base, base + len))
        } else {
            (
                self.place(vmar, specific, args.vmar_offset, len)?,
                [None, None],
            )
        };
        // Reserve for the new record and any splits, then change things.
        let n = 1 + splits.iter().flatten().count();
        self.mappings.reserve_n(&self.mem, n)?;
        let mem = &self.mem;
        self.vmars[vmar].children.reserve(mem, n)?;
        let split_vmos = splits.map(|m| m.map(|m| self.mappings[m].vmo));
        self.reserve_vmo_mappings(&[Some(vmo), split_vmos[0], split_vmos[1]])?;
        let new = NewMapping {
            base,
            end: base + len,
            vmo,
            first_page,
            perms,
        };
        // Filled in place: a result moved by value here was two 52-byte
        // copies per call.
        let mut slots: [Option<OutSlot>; 2] = [None, None];
        if let Some(out) = out {
            self.out_prepare(out, overwrite.then_some(new), &mut slots)?;
        }
        // The quota last: it is the one reservation that changes state.
        self.charge_mappings(vmar, n as u32)?;
        if overwrite {
            self.unmap_reserved(vmar, base, base + len);
        }
        let id = self.mappings.insert_reserved(Mapping {
            vmo,
            first_page,
            pages: len / PAGE_SIZE,
            vaddr: base,
            perms,
            max_perms,
            vmar,
            populated: false,
            vmo_slot: 0,
            hierarchy: self.vmos[vmo].hierarchy,
        });
        self.vmo_list_add(id);
        self.vmars[vmar]
            .children
            .insert_reserved(base, len, Child::Mapping(id));
        if options & ZX_VM_MAP_RANGE != 0 && perms != 0 {
            if let Err(e) = self.mapping_populate(id) {
                self.remove_mapping(id);
                return Err(e);
            }
        }
        let bytes = base.to_le_bytes();
        let mut done = 0;
        for &(frame, at, n) in slots.iter().flatten() {
            self.platform.write(frame, at, &bytes[done..done + n]);
            done += n;
        }
        Ok(base)
    }

    /// The checks of [`Self::vmar_map_vmo_out`] before it places anything,
    /// in the order of the era's kernel (`sys_vmar_map`, then the VMAR's
    /// `CreateVmMapping`): the permissions' combination, the handles'
    /// rights, the other options, `ZX_VM_REQUIRE_NON_RESIZABLE`, the VMO
    /// offset, the VMAR's state, the length, the VMAR's `ZX_VM_CAN_MAP_*`.
    #[inline(always)]
    fn map_checks(
        &self,
        args: &MapArgs<VmarId, VmoId>,
        max_perms: VmOptions,
    ) -> Result<(), Status> {
        let MapArgs {
            vmar,
            options,
            vmo,
            vmo_offset,
            len,
            ..
        } = *args;
        let perms = options & ZX_VM_PERM_MASK;
        let overwrite = options & ZX_VM_SPECIFIC_OVERWRITE != 0;
        if !perms_valid(perms) || (overwrite && options & ZX_VM_MAP_RANGE != 0) {
            return Err(ZX_ERR_INVALID_ARGS);
        }
        if perms & !max_perms != 0 {
            return Err(ZX_ERR_ACCESS_DENIED);
        }
        if options & !MAP_OPTIONS != 0 {
            return Err(ZX_ERR_INVALID_ARGS);
        }
        if options & ZX_VM_REQUIRE_NON_RESIZABLE != 0 && self.vmos[vmo].resizable {
            return Err(ZX_ERR_NOT_SUPPORTED);
        }
        if !aligned(vmo_offset) || vmo_offset.checked_add(len).is_none() {
            return Err(ZX_ERR_INVALID_ARGS);
        }
        let v = self.live_vmar(vmar)?;
        if len == 0 || !aligned(len) {
            return Err(ZX_ERR_INVALID_ARGS);
        }
        if (perms << ZX_VM_CAN_MAP_SHIFT) & !v.flags != 0 {
            return Err(ZX_ERR_ACCESS_DENIED);
        }
        Ok(())
    }

    /// For a `ZX_VM_SPECIFIC_OVERWRITE` map that passes the map's checks
    /// up to its placement: the range it replaces, if a mapping there has
    /// translations. The caller may drop them first, in bounded pieces
    /// ([`Self::unmap_translations_some`]; dropping one is always safe: the
    /// page faults back through what is mapped then), so that the map
    /// itself, all or nothing in one hold, finds (almost) none left.
    /// `None` otherwise (the map's own checks say why it fails, if it does).
    pub fn vmar_overwrite_range(
        &self,
        args: &MapArgs<VmarId, VmoId>,
        max_perms: VmOptions,
    ) -> Option<(u64, u64)> {
        if args.options & ZX_VM_SPECIFIC_OVERWRITE == 0 {
            return None;
        }
        self.map_checks(args, max_perms).ok()?;
        let vmar = args.vmar;
        let base = self.specific_range(vmar, args.vmar_offset, args.len).ok()?;
        let end = base + args.len;
        self.check_no_vmar_in(vmar, base, end).ok()?;
        let v = &self.vmars[vmar];
        v.overlapping(base, end)
            .any(|r| matches!(r.value, Child::Mapping(m) if self.mappings[m].populated))
            .then_some((base, end))
    }

    /// Resolves where the 8 bytes at `out` go, as a store there would after
    /// the call (`new` is the mapping a `ZX_VM_SPECIFIC_OVERWRITE` puts in
    /// place): checks every page first, then commits them. Fills `slots`
    /// with (frame, offset in it, bytes) for each of the one or two pages
    /// touched (on failure, what it holds is not to be used).
    fn out_prepare(
        &mut self,
        out: OutPtr,
        new: Option<NewMapping>,
        slots: &mut [Option<OutSlot>; 2],
    ) -> Result<(), Status> {
        const LEN: u64 = 8;
        let last = out.addr.checked_add(LEN - 1).ok_or(ZX_ERR_INVALID_ARGS)?;
        let mut pages: [Option<(VmoId, u64, usize, usize)>; 2] = [None, None];
        let mut at = out.addr;
        for slot in &mut pages {
            if at > last {
                break;
            }
            let n = (PAGE_SIZE - at % PAGE_SIZE).min(last - at + 1);
            let (vmo, page) = match new {
                Some(m) if m.base <= at && at < m.end => {
                    if m.perms & ZX_VM_PERM_WRITE == 0 {
                        return Err(ZX_ERR_INVALID_ARGS);
                    }
                    (m.vmo, m.first_page + (at - m.base) / PAGE_SIZE)
                }
                _ => {
                    let id = self.out_mapping(out.root, at).ok_or(ZX_ERR_INVALID_ARGS)?;
                    let m = &self.mappings[id];
                    if m.perms & ZX_VM_PERM_WRITE == 0 {
                        return Err(ZX_ERR_INVALID_ARGS);
                    }
                    (m.vmo, m.first_page + (at - m.vaddr) / PAGE_SIZE)
                }
            };
            if page >= self.vmos[vmo].size {
                return Err(ZX_ERR_INVALID_ARGS);
            }
            *slot = Some((vmo, page, (at % PAGE_SIZE) as usize, n as usize));
            at += n;
        }
        for (slot, &(vmo, page, off, n)) in slots.iter_mut().zip(pages.iter().flatten()) {
            // Usually the page is the VMO's own already (nothing to commit).
            let frame = match self.vmos[vmo].own(page) {
                Some(frame) => frame,
                None => {
                    self.vmo_commit_pages(vmo, page, page + 1)?;
                    self.vmos[vmo].own(page).expect("page just committed")
                }
            };
            *slot = Some((frame, off, n));
        }
        Ok(())
    }

    /// [`Self::find_mapping`] for a stored result, trying the mapping this
    /// CPU's last one went through first (valid as [`Self::fault_mapping`]'s
    /// hint is: a live mapping found under `root` once is under it still).
    fn out_mapping(&mut self, root: VmarId, vaddr: u64) -> Option<MappingId> {
        let slot = self.platform.cpu() % crate::HINT_SLOTS;
        let (r, id) = self.out_hints[slot];
        if r == root && self.mappings.get(id).is_some_and(|m| m.contains(vaddr)) {
            return Some(id);
        }
        let id = self.find_mapping(root, vaddr)?;
        self.out_hints[slot] = (root, id);
        Some(id)
    }

    /// `zx_vmar_unmap` on an id: removes mappings (splitting those partly
    /// inside) and destroys sub-VMARs in `[addr, addr + len)`, all at once
    /// ([`Self::vmar_unmap_begin`], then [`Self::vmar_unmap_step`] until done).
    pub fn vmar_unmap_range(&mut self, vmar: VmarId, addr: u64, len: u64) -> Result<(), Status> {
        let mut u = self.vmar_unmap_begin(vmar, addr, len)?;
        let mut all = UNBOUNDED;
        self.vmar_unmap_step(&mut u, &mut all);
        Ok(())
    }

    /// `vmar`, alive, and the end of `[addr, addr + len)`, a range of
    /// whole pages inside it: the checks unmap and protect share
    /// (`ZX_ERR_INVALID_ARGS` for a range that is not).
    #[inline(always)]
    fn range_in(&self, vmar: VmarId, addr: u64, len: u64) -> Result<(&Vmar, u64), Status> {
        if len == 0 || !aligned(addr) || !aligned(len) {
            return Err(ZX_ERR_INVALID_ARGS);
        }
        let v = self.live_vmar(vmar)?;
        let end = addr.checked_add(len).ok_or(ZX_ERR_INVALID_ARGS)?;
        if addr < v.base || end > v.end() {
            return Err(ZX_ERR_INVALID_ARGS);
        }
        Ok((v, end))
    }

    /// Starts a `zx_vmar_unmap`: checks the request (every error comes from
    /// here) and splits the mappings straddling its ends. What is left to
    /// remove is then taken away by [`Self::vmar_unmap_step`], in bounded
    /// steps between which the lock may be dropped.
    pub fn vmar_unmap_begin(
        &mut self,
        vmar: VmarId,
        addr: u64,
        len: u64,
    ) -> Result<Unmapping, Status> {
        let (v, end) = self.range_in(vmar, addr, len)?;
        let first = v.first_overlapping(addr, end).ok_or(ZX_ERR_NOT_FOUND)?;
        if first.base == addr && first.end() == end {
            // The usual case: one child, the whole range; nothing to split.
            return Ok(Unmapping {
                vmar,
                start: addr,
                end,
            });
        }
        for r in v.overlapping(addr, end) {
            if matches!(r.value, Child::Vmar(_)) && (r.base < addr || r.end() > end) {
                return Err(ZX_ERR_INVALID_ARGS);
            }
        }
        self.reserve_splits(vmar, addr, end)?;
        self.split_ends_reserved(vmar, addr, end);
        Ok(Unmapping {
            vmar,
            start: addr,
            end,
        })
    }

    /// Removes what is left of an unmap, last child first, taking one unit
    /// of `budget` per mapping removed or sub-VMAR step; `true` once done.
    /// The range shrinks from the top as children go, so between steps the
    /// objects may change: a child placed since the unmap began (in space
    /// that was free before it, or that this unmap freed) is left alone,
    /// and a VMAR torn down meanwhile ends the unmap.
    pub fn vmar_unmap_step(&mut self, u: &mut Unmapping, budget: &mut usize) -> bool {
        loop {
            if u.start >= u.end {
                return true;
            }
            let Some(v) = self.vmars.get(u.vmar) else {
                return true;
            };
            if v.destroyed {
                return true;
            }
            let Some(r) = v.last_overlapping(u.start, u.end) else {
                return true;
            };
            if r.base < u.start {
                // Placed since, across the start: nothing of ours is below it.
                return true;
            }
            if r.end() > u.end {
                // Placed since, across the part already done.
                u.end = r.base;
                continue;
            }
            if *budget == 0 {
                return false;
            }
            match r.value {
                Child::Mapping(m) => {
                    *budget -= 1;
                    if self.remove_mapping_step(m, budget) {
                        u.end = r.base;
                    }
                }
                Child::Vmar(c) => {
                    if self.vmar_destroy_step(c, budget) {
                        u.end = r.base;
                    }
                }
            }
        }
    }

    /// `zx_vmar_protect` on an id: sets the permissions of the mappings
    /// covering `[addr, addr + len)` (splitting at the ends). Every page of
    /// the range must be mapped, by mappings directly in this VMAR whose
    /// map-time rights allow `perms`.
    pub fn vmar_protect_range(
        &mut self,
        vmar: VmarId,
        perms: VmOptions,
        addr: u64,
        len: u64,
    ) -> Result<(), Status> {
        if self.vmar_protect_begin(vmar, perms, addr, len)? {
            self.mmu_unmap(vmar, addr, len);
        }
        Ok(())
    }

    /// [`Self::vmar_protect_range`] but for the translations: the checks,
    /// the splits and the new permissions; returns whether a mapping that
    /// may have translations changed, and then the caller unmaps
    /// `[addr, addr + len)` (pages fault back with the new permissions), in
    /// pieces if it likes: the range holds only the protected mappings, and
    /// dropping a translation is always safe.
    pub fn vmar_protect_begin(
        &mut self,
        vmar: VmarId,
        perms: VmOptions,
        addr: u64,
        len: u64,
    ) -> Result<bool, Status> {
        if perms & !ZX_VM_PERM_MASK != 0 || !perms_valid(perms) {
            return Err(ZX_ERR_INVALID_ARGS);
        }
        let (v, end) = self.range_in(vmar, addr, len)?;
        // What the VMAR itself allows ("the VMAR itself does not allow the
        // requested change"): checked with each mapping's own map-time
        // rights, which the era's kernel kept as the mapping's CAN_MAP_*.
        let allowed = (v.flags >> ZX_VM_CAN_MAP_SHIFT) & ZX_VM_PERM_MASK;
        // In address order, the first problem wins, as in Zircon.
        let mut cursor = addr;
        for r in v.overlapping(addr, end) {
            if r.base > cursor {
                return Err(ZX_ERR_NOT_FOUND);
            }
            let Child::Mapping(m) = r.value else {
                return Err(ZX_ERR_INVALID_ARGS);
            };
            if perms & !(self.mappings[m].max_perms & allowed) != 0 {
                return Err(ZX_ERR_ACCESS_DENIED);
            }
            cursor = r.end();
        }
        if cursor < end {
            return Err(ZX_ERR_NOT_FOUND);
        }
        self.reserve_splits(vmar, addr, end)?;
        self.split_ends_reserved(vmar, addr, end);
        let mut next = self.vmars[vmar].first_overlapping(addr, end);
        let mut unmap = false;
        while let Some(r) = next {
            next = self.vmars[vmar].first_overlapping(r.end(), end);
            let Child::Mapping(m) = r.value else {
                unreachable!("checked: only mappings in the range")
            };
            let rec = &mut self.mappings[m];
            if rec.perms != perms {
                rec.perms = perms;
                // Pages fault back with the new permissions.
                unmap |= rec.populated;
            }
        }
        Ok(unmap)
    }

    /// Drops at most `max` translations of `[vaddr, vaddr + len)` (counted
    /// as an unmap): what faults back in gets what its mapping says now.
    /// Returns where it stopped (`vaddr + len` once none is left), after a
    /// cost that grows with what it removed, not with `len`
    /// ([`crate::Mmu::unmap_some`]). The table pages that go are given
    /// back to the account of the VMAR holding `vaddr` under `root` (the
    /// caller's range lies in one task's VMARs, which share one account).
    pub fn unmap_translations_some(&self, root: VmarId, vaddr: u64, len: u64, max: usize) -> u64 {
        self.count(Counter::MmuUnmaps);
        let (stopped, freed) = self.platform.unmap_some(vaddr, len, max);
        if freed != 0 {
            self.uncharge_tables(self.vmar_at(root, vaddr), freed);
        }
        stopped
    }

    /// The innermost VMAR under `root` whose range holds `vaddr` (`root`
    /// itself if none below it does).
    fn vmar_at(&self, root: VmarId, vaddr: u64) -> VmarId {
        let mut cur = root;
        while let Some(r) = self
            .vmars
            .get(cur)
            .and_then(|v| v.children.containing(vaddr))
        {
            match r.value {
                Child::Vmar(c) => cur = c,
                Child::Mapping(_) => break,
            }
        }
        cur
    }

    /// `zx_vmar_destroy` on an id: every mapping and sub-VMAR inside goes
    /// (translations first), and the VMAR leaves its parent; all at once
    /// ([`Self::vmar_destroy_begin`], then [`Self::vmar_destroy_step`]).
    pub fn vmar_destroy_id(&mut self, vmar: VmarId) -> Result<(), Status> {
        self.vmar_destroy_begin(vmar)?;
        let mut all = UNBOUNDED;
        self.vmar_destroy_step(vmar, &mut all);
        Ok(())
    }

    /// Starts a `zx_vmar_destroy`: a VMAR that is not live is
    /// `ZX_ERR_BAD_STATE`; from now on it takes nothing new (every call on
    /// it is `ZX_ERR_BAD_STATE`) while [`Self::vmar_destroy_step`] empties it.
    pub fn vmar_destroy_begin(&mut self, vmar: VmarId) -> Result<(), Status> {
        self.live_vmar(vmar)?;
        self.vmars[vmar].dying = true;
        Ok(())
    }

    /// One bounded part of tearing down `top` and everything under it:
    /// deepest first, last child first, one unit of `budget` per mapping
    /// removed or VMAR entered or left, without recursion (nesting depth is
    /// the tasks' choice) and without allocating; `true` once `top` is
    /// destroyed and gone from its parent. Where it stopped is kept in
    /// `top`, so the next step goes on from there in O(1). Each VMAR is
    /// marked dying as the walk reaches it, so nothing new goes in after
    /// that; steps of several teardowns (a `vmar_destroy` and the task's
    /// end) may interleave, each finishing what it finds.
    pub fn vmar_destroy_step(&mut self, top: VmarId, budget: &mut usize) -> bool {
        let Some(t) = self.vmars.get_mut(top) else {
            return true;
        };
        if t.destroyed {
            return true;
        }
        t.dying = true;
        let resume = t.teardown_at.take();
        // A VMAR under `top` still being emptied (ids are generation-checked
        // and never change parent), else `top` itself.
        let mut cur = resume
            .filter(|&c| self.vmars.get(c).is_some_and(|v| v.dying && !v.destroyed))
            .unwrap_or(top);
        loop {
            if *budget == 0 {
                self.vmars[top].teardown_at = Some(cur);
                return false;
            }
            *budget -= 1;
            if let Some(r) = self.vmars[cur].children.last() {
                match r.value {
                    Child::Mapping(m) => {
                        self.remove_mapping_step(m, budget);
                    }
                    Child::Vmar(c) => {
                        self.vmars[c].dying = true;
                        cur = c;
                    }
                }
                continue;
            }
            let v = &mut self.vmars[cur];
            v.destroyed = true;
            v.dying = false;
            v.teardown_at = None;
            let parent = v.parent.take();
            let (base, handles) = (v.base, v.handles);
            if let Some(p) = parent {
                let gone = self.vmars[p].children.remove(base);
                debug_assert!(gone.is_some(), "child listed in its VMAR");
            }
            if handles == 0 {
                self.vmars.remove(cur);
            }
            match parent {
                Some(p) if cur != top => cur = p,
                _ => return true,
            }
        }
    }

    /// Resolves a translation fault at `vaddr` under the VMAR `root`: finds
    /// the innermost mapping containing it and maps what its VMO shows
    /// through [`crate::Mmu::map`] (see [`Access`] and DESIGN.md). Errors:
    /// no mapping → `ZX_ERR_NOT_FOUND`; the mapping forbids the access →
    /// `ZX_ERR_ACCESS_DENIED`; past the VMO's end → `ZX_ERR_OUT_OF_RANGE`;
    /// no frame, quota or table page → `ZX_ERR_NO_MEMORY` (nothing changed);
    /// the platform fills the frame outside the lock first →
    /// [`crate::FAULT_FRAME_LATER`] (nothing changed: ask again, see
    /// [`crate::FrameAllocator::fault_frame`]).
    pub fn vmar_fault(&mut self, root: VmarId, vaddr: u64, access: Access) -> Result<(), Status> {
        let (id, _) = self.fault_mapping(root, vaddr)?;
        let fault = Fault::claim(id, &mut self.mappings[id], vaddr, access)?;
        self.mapping_fault(fault, access)
    }

    /// [`Self::vmar_fault`] through a shared reference, so that faults on
    /// several CPUs resolve at once: each holds the lock of its VMO's
    /// copy-on-write hierarchy ([`crate::Platform::lock_hierarchy`]) while
    /// it changes that hierarchy's page lists, and touches nothing else of
    /// the space but atomics (quota charges, counters, its CPU's hint).
    /// The same results, and one more: [`crate::FAULT_NEEDS_EXCLUSIVE`],
    /// with nothing changed, for a fault only [`Self::vmar_fault`] may
    /// resolve: a mapping's first fault (it joins its VMO's populated
    /// mappings, which changes the mapping lists), or a map that needs new
    /// translation-table pages (charged against a quota one map at a time).
    ///
    /// # Safety
    ///
    /// While this runs, the space is used on other CPUs only through this
    /// function: no `&mut` to it exists and no other method runs on it
    /// (the kernel's read side of its lock is taken for faults only).
    #[allow(unsafe_code)]
    pub unsafe fn vmar_fault_shared(
        &self,
        root: VmarId,
        vaddr: u64,
        access: Access,
    ) -> Result<(), Status> {
        let (id, m) = self.fault_mapping(root, vaddr)?;
        let fault = Fault::check(id, m, vaddr, access)?;
        let _hold = self.platform.lock_hierarchy(m.hierarchy);
        // SAFETY: every shared user of the space is a fault (the caller's
        // promise), and each changes only the VMOs of the hierarchy whose
        // lock it holds: this one holds the lock of the fault's hierarchy,
        // and holds no reference to its VMOs.
        unsafe { self.fault_resolve(fault, access, true) }
    }

    /// Finds the mapping of a fault ([`Self::find_mapping`]), trying the
    /// last one this CPU's faults found first. The hint needs no
    /// invalidation: a mapping id is generation-checked, a live mapping
    /// never leaves its VMAR, a VMAR never changes parent, and destroying a
    /// VMAR removes every mapping under it; so a live mapping found under
    /// `root` once is under it still, and the one containing `vaddr` there
    /// is the one `find_mapping` would return. Reads only what no shared
    /// fault changes (VMAR trees; a mapping's place, VMO and permissions).
    #[inline(always)]
    fn fault_mapping(&self, root: VmarId, vaddr: u64) -> Result<(MappingId, &Mapping), Status> {
        let hint = &self.fault_hints[self.platform.cpu() % crate::HINT_SLOTS];
        let (r, id) = hint.get();
        if r == root {
            if let Some(m) = self.mappings.get(id).filter(|m| m.contains(vaddr)) {
                return Ok((id, m));
            }
        }
        let id = self.find_mapping(root, vaddr).ok_or(ZX_ERR_NOT_FOUND)?;
        hint.set((root, id));
        Ok((id, &self.mappings[id]))
    }

    /// The innermost mapping containing `vaddr` under `root`, for fault reports.
    pub fn vmar_lookup(&self, root: VmarId, vaddr: u64) -> Option<MappingInfo> {
        let m = &self.mappings[self.find_mapping(root, vaddr)?];
        Some(MappingInfo {
            base: m.vaddr,
            len: m.len(),
            perms: m.perms,
            vmo_koid: self.vmos[m.vmo].koid,
            vmo_offset: m.first_page * PAGE_SIZE,
            vmo_size: self.vmos[m.vmo].size * PAGE_SIZE,
        })
    }

    /// The mapping containing `vaddr`, descending through sub-VMARs.
    pub(crate) fn find_mapping(&self, root: VmarId, vaddr: u64) -> Option<MappingId> {
        let mut cur = root;
        loop {
            let v = self.vmars.get(cur)?;
            if vaddr < v.base || vaddr >= v.end() {
                return None;
            }
            let r = v.children.containing(vaddr)?;
            match r.value {
                Child::Mapping(m) => return Some(m),
                Child::Vmar(c) => cur = c,
            }
        }
    }

    /// The mapping child of `vmar` that has `x` strictly inside (so a split at `x`).
    fn straddler(&self, vmar: VmarId, x: u64) -> Option<MappingId> {
        let r = self.vmars[vmar].children.last_before(x)?;
        match r.value {
            Child::Mapping(m) if r.end() > x => Some(m),
            _ => None,
        }
    }

    /// The mappings a change to `[a, b)` must split, at `a` and at `b`.
    fn straddlers(&self, vmar: VmarId, a: u64, b: u64) -> [Option<MappingId>; 2] {
        [self.straddler(vmar, a), self.straddler(vmar, b)]
    }

    /// `ZX_ERR_INVALID_ARGS` if a sub-VMAR overlaps `[a, b)`.
    fn check_no_vmar_in(&self, vmar: VmarId, a: u64, b: u64) -> Result<(), Status> {
        let v = &self.vmars[vmar];
        if v.overlapping(a, b)
            .any(|r| matches!(r.value, Child::Vmar(_)))
        {
            return Err(ZX_ERR_INVALID_ARGS);
        }
        Ok(())
    }

    /// Reserves what splitting the mappings at `a` and `b` needs.
    fn reserve_splits(&mut self, vmar: VmarId, a: u64, b: u64) -> Result<(), Status> {
        let splits = self.straddlers(vmar, a, b);
        let n = splits.iter().flatten().count();
        if n == 0 {
            return Ok(());
        }
        self.mappings.reserve_n(&self.mem, n)?;
        let mem = &self.mem;
        self.vmars[vmar].children.reserve(mem, n)?;
        let vmos = splits.map(|m| m.map(|m| self.mappings[m].vmo));
        self.reserve_vmo_mappings(&[vmos[0], vmos[1]])?;
        // A split is one more mapping: charged last, as nothing can fail after.
        self.charge_mappings(vmar, n as u32)
    }

    /// Reserves one more mapping-list entry per listed VMO occurrence.
    fn reserve_vmo_mappings(&mut self, vmos: &[Option<VmoId>]) -> Result<(), Status> {
        for (i, v) in vmos.iter().enumerate() {
            let Some(v) = *v else { continue };
            if vmos[..i].contains(&Some(v)) {
                continue;
            }
            let n = vmos.iter().filter(|&&w| w == Some(v)).count();
            let mem = &self.mem;
            mem.reserve(&mut self.vmos[v].mappings, n)?;
        }
        Ok(())
    }

    /// Splits mapping `m` at `at` (strictly inside): `m` keeps the left
    /// part, a new record the right. No translation changes. Reserved by
    /// [`Self::reserve_splits`].
    fn split_reserved(&mut self, m: MappingId, at: u64) {
        let old = self.mappings[m];
        debug_assert!(old.vaddr < at && at < old.end() && aligned(at));
        let left = (at - old.vaddr) / PAGE_SIZE;
        let right = Mapping {
            first_page: old.first_page + left,
            pages: old.pages - left,
            vaddr: at,
            ..old
        };
        self.mappings[m].pages = left;
        let id = self.mappings.insert_reserved(right);
        // Within reserved capacity: the VMO stays mapped throughout.
        self.vmo_list_add(id);
        let children = &mut self.vmars[old.vmar].children;
        let listed = children.set_size(old.vaddr, left * PAGE_SIZE);
        debug_assert!(listed, "mapping listed in its VMAR");
        children.insert_reserved(at, right.len(), Child::Mapping(id));
    }

    /// Splits the mappings straddling `a` and `b`, so every child
    /// overlapping `[a, b)` lies inside it.
    fn split_ends_reserved(&mut self, vmar: VmarId, a: u64, b: u64) {
        for x in [a, b] {
            if let Some(m) = self.straddler(vmar, x) {
                self.split_reserved(m, x);
            }
        }
    }

    /// Removes every mapping and destroys every sub-VMAR in `[a, b)` of
    /// `vmar` (splits reserved; no sub-VMAR partly inside), in one go: each
    /// mapping whole, with one unmap of its range (the trims of
    /// [`Self::remove_mapping_step`] are for bounded steps, and cost a walk
    /// and a tree update per [`TRIM_PAGES`] where there are no translations
    /// left, as after a `ZX_VM_SPECIFIC_OVERWRITE` dropped them first).
    fn unmap_reserved(&mut self, vmar: VmarId, a: u64, b: u64) {
        self.split_ends_reserved(vmar, a, b);
        while let Some(r) = self.vmars[vmar].last_overlapping(a, b) {
            match r.value {
                Child::Mapping(m) => self.remove_mapping(m),
                Child::Vmar(c) => {
                    let mut all = UNBOUNDED;
                    self.vmar_destroy_step(c, &mut all);
                }
            }
        }
    }

    /// One bounded part of removing mapping `m` (one unit of `budget` was
    /// taken for it): a mapping with translations over more than
    /// [`TRIM_PAGES`] loses its last [`TRIM_PAGES`] pages (translations and
    /// record; that costs [`TRIM_COST`] more units), else it goes whole.
    /// `true` once it is gone. Unmapping a huge populated mapping at once
    /// would touch every one of its page-table entries with IRQs masked.
    fn remove_mapping_step(&mut self, m: MappingId, budget: &mut usize) -> bool {
        let rec = self.mappings[m];
        if !rec.populated || rec.pages <= TRIM_PAGES {
            self.remove_mapping(m);
            return true;
        }
        *budget = budget.saturating_sub(TRIM_COST);
        let keep = rec.pages - TRIM_PAGES;
        self.mmu_unmap(
            rec.vmar,
            rec.vaddr + keep * PAGE_SIZE,
            TRIM_PAGES * PAGE_SIZE,
        );
        self.mappings[m].pages = keep;
        let listed = self.vmars[rec.vmar]
            .children
            .set_size(rec.vaddr, keep * PAGE_SIZE);
        debug_assert!(listed, "mapping listed in its VMAR");
        false
    }

    /// Removes a mapping: its translations, its record, its VMAR entry,
    /// and its reference on the VMO (which may go with it).
    pub(crate) fn remove_mapping(&mut self, m: MappingId) {
        let rec = self.mappings.remove(m).expect("live mapping");
        if rec.populated {
            self.mmu_unmap(rec.vmar, rec.vaddr, rec.len());
        }
        let gone = self.vmars[rec.vmar].children.remove(rec.vaddr);
        debug_assert!(gone.is_some(), "mapping listed in its VMAR");
        debug_assert_eq!(self.vmos[rec.vmo].mappings[rec.vmo_slot as usize], m);
        self.vmo_list_remove(rec.vmo, rec.vmo_slot);
        self.uncharge_mapping(rec.vmar);
        self.vmo_maybe_destroy(rec.vmo);
    }

    /// A handle to a VMAR closed.
    pub(crate) fn vmar_release(&mut self, vmar: VmarId) {
        let v = &mut self.vmars[vmar];
        v.handles -= 1;
        if v.handles == 0 && v.destroyed {
            self.vmars.remove(vmar);
        }
    }

    /// The VMAR a handle names, if the handle has `rights`.
    pub(crate) fn vmar_handle(
        &self,
        table: TableId,
        handle: Handle,
        rights: Rights,
    ) -> Result<VmarId, Status> {
        let (id, have) = self.vmar_of(table, handle)?;
        if have & rights != rights {
            return Err(ZX_ERR_ACCESS_DENIED);
        }
        Ok(id)
    }

    /// Koid of a VMAR.
    pub(crate) fn vmar_koid(&self, vmar: VmarId) -> Koid {
        self.vmars[vmar].koid
    }
}
