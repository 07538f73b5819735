//! Translation-table pages are charged to the task whose VMAR the mapping
//! is in, against the same quota as its VMO pages: a map or fault that
//! would need more is `ZX_ERR_NO_MEMORY` with nothing changed, and every
//! unmap gives back what it freed. The fake MMU models one table page per
//! 2 MiB that holds a translation.

mod common;
use abi::*;
use common::*;
use object::{Access, Quota, TableId, VmarId};

/// A space whose fake MMU charges table pages; a task table `u` with a
/// quota of `pages`, and a 1 GiB sub-VMAR charged to it (handle `hv`).
fn task(pages: u64) -> (Space, VmarId, TableId, Handle, u64) {
    let (mut s, _, root, _) = setup_vmar();
    s.platform().tables_charged.set(true);
    let u = s
        .create_table(Quota {
            max_committed_pages: pages,
            ..Quota::default()
        })
        .unwrap();
    let flags = ZX_VM_CAN_MAP_RWX | ZX_VM_CAN_MAP_SPECIFIC;
    let (v, base) = s.vmar_create_child(root, flags, 0, 1 << 30).unwrap();
    s.vmar_set_account(v, u).unwrap();
    let hv = s.install_vmar(u, v, object::vmar_rights(flags)).unwrap();
    (s, root, u, hv, base)
}

/// Maps `vmo` (one page) at `offset` in the sub-VMAR.
fn map(
    s: &mut Space,
    u: TableId,
    hv: Handle,
    vmo: Handle,
    offset: u64,
    extra: u32,
) -> Result<u64, Status> {
    s.task(u)
        .vmar_map(hv, RW | ZX_VM_SPECIFIC | extra, offset, vmo, 0, PAGE)
}

/// A new one-page VMO mapped twice in the sub-VMAR, at `a` in its first
/// 2 MiB and at `b` in the next, neither touched yet: `(vmo, a, b)`.
fn map_twice(s: &mut Space, u: TableId, hv: Handle) -> (Handle, u64, u64) {
    let vmo = s.task(u).vmo_create(PAGE, 0).unwrap();
    let a = map(s, u, hv, vmo, 0, 0).unwrap();
    let b = map(s, u, hv, vmo, TABLE_SPAN, 0).unwrap();
    (vmo, a, b)
}

#[test]
fn faults_charge_table_pages_and_unmaps_give_them_back() {
    let (mut s, root, u, hv, _) = task(100);
    let (_, a, b) = map_twice(&mut s, u, hv);
    assert_eq!(s.committed_pages(u), Some(0));
    store(&mut s, root, a, 1).unwrap();
    // The VMO's page and the table page of the first 2 MiB.
    assert_eq!((s.committed_pages(u), s.table_pages(u)), (Some(2), Some(1)));
    assert_eq!(load(&mut s, root, b), Ok(1));
    assert_eq!((s.committed_pages(u), s.table_pages(u)), (Some(3), Some(2)));
    s.task(u).vmar_unmap(hv, b, PAGE).unwrap();
    assert_eq!((s.committed_pages(u), s.table_pages(u)), (Some(2), Some(1)));
    s.task(u).vmar_unmap(hv, a, PAGE).unwrap();
    assert_eq!((s.committed_pages(u), s.table_pages(u)), (Some(1), Some(0)));
}

#[test]
fn a_fault_that_cannot_have_its_table_page_is_no_memory_and_maps_nothing() {
    let (mut s, root, u, hv, _) = task(2);
    let (vmo, a, b) = map_twice(&mut s, u, hv);
    store(&mut s, root, a, 7).unwrap();
    // The quota is full: the page and one table page.
    assert_eq!(s.committed_pages(u), Some(2));
    assert_eq!(s.vmar_fault(root, b, Access::Read), Err(ZX_ERR_NO_MEMORY));
    assert_eq!(s.platform().pte(b), None);
    assert_eq!(s.committed_pages(u), Some(2));
    // A decommit gives back the page and, its translation gone, the
    // table page of its 2 MiB: the fault fits now.
    s.task(u)
        .vmo_op_range(vmo, ZX_VMO_OP_DECOMMIT, 0, PAGE, &mut [])
        .unwrap();
    assert_eq!((s.committed_pages(u), s.table_pages(u)), (Some(0), Some(0)));
    assert_eq!(load(&mut s, root, b), Ok(0));
    assert_eq!((s.committed_pages(u), s.table_pages(u)), (Some(1), Some(1)));
}

#[test]
fn map_range_past_the_quota_is_no_memory_and_leaves_no_mapping() {
    let (mut s, _, u, hv, base) = task(2);
    let vmo = s.task(u).vmo_create(PAGE, 0).unwrap();
    s.task(u)
        .vmo_op_range(vmo, ZX_VMO_OP_COMMIT, 0, PAGE, &mut [])
        .unwrap();
    map(&mut s, u, hv, vmo, 0, ZX_VM_MAP_RANGE).unwrap();
    assert_eq!(s.committed_pages(u), Some(2));
    let mappings = s.mapping_count();
    assert_eq!(
        map(&mut s, u, hv, vmo, TABLE_SPAN, ZX_VM_MAP_RANGE),
        Err(ZX_ERR_NO_MEMORY)
    );
    assert_eq!(s.mapping_count(), mappings);
    assert_eq!(s.platform().pte(base + TABLE_SPAN), None);
    assert_eq!(s.committed_pages(u), Some(2));
}

#[test]
fn a_protect_piece_and_a_decommit_give_back_the_tables_they_free() {
    let (mut s, root, u, hv, _) = task(100);
    let vmo = s.task(u).vmo_create(PAGE, 0).unwrap();
    let a = map(&mut s, u, hv, vmo, 0, 0).unwrap();
    store(&mut s, root, a, 1).unwrap();
    assert_eq!(s.table_pages(u), Some(1));
    // vmar_protect's pieces (the syscall's way).
    assert!(s
        .task(u)
        .vmar_protect_begin(hv, ZX_VM_PERM_READ, a, PAGE)
        .unwrap());
    assert_eq!(s.unmap_translations_some(root, a, PAGE, 16), a + PAGE);
    assert_eq!(s.table_pages(u), Some(0));
    assert_eq!(load(&mut s, root, a), Ok(1));
    assert_eq!(s.table_pages(u), Some(1));
    // A decommit unmaps the page from every mapping of it.
    s.task(u)
        .vmo_op_range(vmo, ZX_VMO_OP_DECOMMIT, 0, PAGE, &mut [])
        .unwrap();
    assert_eq!((s.committed_pages(u), s.table_pages(u)), (Some(0), Some(0)));
    assert_eq!(s.platform().pte(a), None);
}

#[test]
fn destroying_the_vmar_gives_back_every_table_page() {
    let (mut s, root, u, hv, _) = task(1000);
    let vmo = s.task(u).vmo_create(PAGE, 0).unwrap();
    for i in 0..64 {
        let a = map(&mut s, u, hv, vmo, i * TABLE_SPAN + i * PAGE, 0).unwrap();
        load(&mut s, root, a).unwrap();
    }
    assert_eq!(s.table_pages(u), Some(64));
    s.task(u).vmar_destroy(hv).unwrap();
    assert_eq!((s.committed_pages(u), s.table_pages(u)), (Some(0), Some(0)));
    assert_eq!(s.platform().mapped_pages(), 0);
}
