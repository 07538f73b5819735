//! VMOs become memory: mappings of parents, children and grandchildren
//! through real translation tables, copy-on-write by permission fault, and
//! every change to what a page shows visible at once through every mapping.
//! The accesses are the kernel's own (EL1), until EL0 tasks exist.

use crate::arch::esr::Class;
use crate::arch::exception::{catch, probe_load, probe_store};
use crate::ktest::{Failure, Suite, TestResult};
use crate::mm::PAGE_SIZE;
use crate::vm::fault;
use crate::{arch, boot_info, check, check_eq, objects, tests, time};
use abi::*;
use alloc::format;
use alloc::vec;
use alloc::vec::Vec;
use object::{Quota, TableId};

pub static SUITE: Suite = Suite {
    name: "vm",
    tests: tests![
        mappings_agree_with_vmo_read_write_in_every_order,
        parent_write_shows_through_child_until_child_writes,
        child_decommit_shows_parent_page_through_existing_mapping,
        shrink_makes_mapped_pages_past_the_end_fault,
        mapped_child_keeps_zero_children_inactive,
        reading_child_pages_copies_nothing,
        writing_read_pages_takes_one_permission_fault_each,
        writing_untouched_pages_takes_one_translation_fault_and_copy_each,
        access_outside_any_mapping_faults,
        write_to_read_only_mapping_faults,
        mapping_past_the_vmo_end_faults,
        unmap_removes_translations,
        random_access_through_overlapping_clones_matches_vmo_read,
        frames_filled_outside_the_object_lock_are_used_only_while_still_right,
        copies_leave_the_object_lock_while_another_cpu_waits_for_it,
        faults_in_other_hierarchies_go_on_while_one_is_locked,
        a_long_operation_pauses_between_steps_while_a_cpu_waits,
    ],
};

const RW: VmOptions = ZX_VM_PERM_READ | ZX_VM_PERM_WRITE;

fn fail(what: &str, status: Status) -> Failure {
    Failure::Fail(format!("{what}: {status:?}"))
}

/// A handle table and a sub-VMAR for one test, torn down on drop.
struct Fixture {
    table: TableId,
    vmar: Handle,
}

impl Fixture {
    fn new() -> Result<Self, Failure> {
        objects::with(|s| {
            let table = s
                .create_table(Quota::default())
                .map_err(|e| fail("create_table", e))?;
            let root = s
                .install_vmar(
                    table,
                    objects::root_vmar(),
                    object::vmar_rights(ZX_VM_CAN_MAP_RWX | ZX_VM_CAN_MAP_SPECIFIC),
                )
                .map_err(|e| fail("install_vmar", e))?;
            let flags = ZX_VM_CAN_MAP_READ | ZX_VM_CAN_MAP_WRITE | ZX_VM_CAN_MAP_SPECIFIC;
            let (vmar, _) = s
                .task(table)
                .vmar_allocate(root, flags, 0, 1 << 30)
                .map_err(|e| fail("vmar_allocate", e))?;
            s.task(table)
                .handle_close(root)
                .map_err(|e| fail("close", e))?;
            Ok(Self { table, vmar })
        })
    }

    fn vmo(&self, pages: u64) -> Result<Handle, Failure> {
        objects::with(|s| s.task(self.table).vmo_create(pages * PAGE_SIZE, 0))
            .map_err(|e| fail("vmo_create", e))
    }

    fn child(&self, parent: Handle, pages: u64) -> Result<Handle, Failure> {
        objects::with(|s| {
            s.task(self.table).vmo_create_child(
                parent,
                ZX_VMO_CHILD_COPY_ON_WRITE,
                0,
                pages * PAGE_SIZE,
            )
        })
        .map_err(|e| fail("vmo_create_child", e))
    }

    fn map(&self, vmo: Handle, pages: u64, perms: VmOptions) -> Result<u64, Failure> {
        objects::with(|s| {
            s.task(self.table)
                .vmar_map(self.vmar, perms, 0, vmo, 0, pages * PAGE_SIZE)
        })
        .map_err(|e| fail("vmar_map", e))
    }

    /// A new VMO of `pages` pages mapped read-write, each page `i`
    /// written with `i + 1` through the mapping: the VMO and the address.
    fn mapped_and_written(&self, pages: u64) -> Result<(Handle, u64), Failure> {
        let v = self.vmo(pages)?;
        let m = self.map(v, pages, RW)?;
        for i in 0..pages {
            poke(m + i * PAGE_SIZE, i as u8 + 1);
        }
        Ok((v, m))
    }

    fn unmap(&self, addr: u64, pages: u64) -> Result<(), Failure> {
        objects::with(|s| {
            s.task(self.table)
                .vmar_unmap(self.vmar, addr, pages * PAGE_SIZE)
        })
        .map_err(|e| fail("vmar_unmap", e))
    }

    fn read_byte(&self, vmo: Handle, offset: u64) -> Result<u8, Failure> {
        let mut b = [0u8];
        objects::with(|s| s.task(self.table).vmo_read(vmo, &mut b, offset))
            .map_err(|e| fail("vmo_read", e))?;
        Ok(b[0])
    }

    fn write_byte(&self, vmo: Handle, offset: u64, value: u8) -> Result<(), Failure> {
        objects::with(|s| s.task(self.table).vmo_write(vmo, &[value], offset))
            .map_err(|e| fail("vmo_write", e))
    }

    fn close(&self, h: Handle) -> Result<(), Failure> {
        objects::with(|s| s.task(self.table).handle_close(h)).map_err(|e| fail("handle_close", e))
    }

    fn committed_pages(&self, vmo: Handle) -> Result<u64, Failure> {
        let info = objects::with(|s| s.task(self.table).object_get_info_vmo(vmo))
            .map_err(|e| fail("get_info", e))?;
        Ok(info.committed_bytes / PAGE_SIZE)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        objects::with(|s| {
            let _ = s.task(self.table).vmar_destroy(self.vmar);
            let _ = s.destroy_table(self.table);
        });
    }
}

fn peek(addr: u64) -> u8 {
    // SAFETY: `addr` lies in a live readable mapping; a fault there is
    // resolved by the kernel and the load retried.
    unsafe { (addr as *const u8).read_volatile() }
}

fn poke(addr: u64, value: u8) {
    // SAFETY: `addr` lies in a live writable mapping; faults are resolved
    // (copy-on-write) and the store retried.
    unsafe { (addr as *mut u8).write_volatile(value) }
}

/// Whether touching `addr` faults without being resolved.
fn faults(addr: u64, write: bool) -> Option<crate::arch::exception::Caught> {
    catch(|| {
        if write {
            probe_store(addr, 0xee);
        } else {
            probe_load(addr);
        }
    })
}

/// Fails unless reading `addr` takes a data abort at `addr` that nothing
/// resolves (`what` names the access in the failure).
fn read_faults_at(addr: u64, what: &str) -> TestResult {
    let c = faults(addr, false).ok_or_else(|| Failure::Fail(format!("{what}: no fault")))?;
    check_eq!(c.far, addr);
    check_eq!(c.esr.class(), Some(Class::DataAbortCurrentEL));
    Ok(())
}

/// Parent, child and grandchild, each mapped; in all six orders, each one
/// writes page `k` (alternately through its mapping and `vmo_write`); after
/// every write all three views, through mappings and `vmo_read`, match the
/// one-way model: a write shows in every descendant that has not written
/// that page itself.
fn mappings_agree_with_vmo_read_write_in_every_order() -> TestResult {
    const ORDERS: [[usize; 3]; 6] = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    let fx = Fixture::new()?;
    let pages = ORDERS.len() as u64;
    let p = fx.vmo(pages)?;
    let c = fx.child(p, pages)?;
    let g = fx.child(c, pages)?;
    let vmos = [p, c, g];
    let maps = [
        fx.map(p, pages, RW)?,
        fx.map(c, pages, RW)?,
        fx.map(g, pages, RW)?,
    ];
    for (k, order) in ORDERS.iter().enumerate() {
        let off = k as u64 * PAGE_SIZE + 17;
        // model[i] = what object i shows at `off`; own[i] = it has its own page.
        let mut model = [0u8; 3];
        let mut own = [false; 3];
        for (step, &writer) in order.iter().enumerate() {
            let value = (k * 16 + step + 1) as u8;
            if step % 2 == 0 {
                poke(maps[writer] + off, value);
            } else {
                fx.write_byte(vmos[writer], off, value)?;
            }
            own[writer] = true;
            model[writer] = value;
            for i in writer + 1..3 {
                if !own[i] {
                    model[i] = model[i - 1];
                }
            }
            for i in 0..3 {
                let via_map = peek(maps[i] + off);
                let via_read = fx.read_byte(vmos[i], off)?;
                check!(
                    via_map == model[i] && via_read == model[i],
                    "order {order:?} step {step}: object {i} shows {via_map} (map) / {via_read} (read), model {}",
                    model[i]
                );
            }
        }
    }
    Ok(())
}

fn parent_write_shows_through_child_until_child_writes() -> TestResult {
    let fx = Fixture::new()?;
    let p = fx.vmo(1)?;
    fx.write_byte(p, 0, 1)?;
    let c = fx.child(p, 1)?;
    let pm = fx.map(p, 1, RW)?;
    let cm = fx.map(c, 1, RW)?;
    check_eq!(peek(cm), 1);
    poke(pm, 2);
    check_eq!(peek(cm), 2);
    poke(cm, 3);
    check_eq!(peek(pm), 2);
    poke(pm, 4);
    check_eq!(peek(cm), 3);
    check_eq!(fx.read_byte(c, 0)?, 3);
    Ok(())
}

fn child_decommit_shows_parent_page_through_existing_mapping() -> TestResult {
    let fx = Fixture::new()?;
    let p = fx.vmo(2)?;
    fx.write_byte(p, PAGE_SIZE, 7)?;
    let c = fx.child(p, 2)?;
    let cm = fx.map(c, 2, RW)?;
    poke(cm + PAGE_SIZE, 9);
    check_eq!(peek(cm + PAGE_SIZE), 9);
    objects::with(|s| {
        s.task(fx.table)
            .vmo_op_range(c, ZX_VMO_OP_DECOMMIT, PAGE_SIZE, PAGE_SIZE, &mut [])
    })
    .map_err(|e| fail("decommit", e))?;
    check_eq!(peek(cm + PAGE_SIZE), 7);
    Ok(())
}

fn shrink_makes_mapped_pages_past_the_end_fault() -> TestResult {
    let fx = Fixture::new()?;
    let (v, m) = fx.mapped_and_written(4)?;
    objects::with(|s| s.task(fx.table).vmo_set_size(v, 2 * PAGE_SIZE))
        .map_err(|e| fail("set_size", e))?;
    check_eq!(peek(m + PAGE_SIZE), 2);
    for i in 2..4 {
        read_faults_at(m + i * PAGE_SIZE, &format!("page {i}"))?;
    }
    Ok(())
}

fn mapped_child_keeps_zero_children_inactive() -> TestResult {
    let fx = Fixture::new()?;
    let p = fx.vmo(1)?;
    let signals =
        |h| objects::with(|s| s.task(fx.table).object_signals(h)).map_err(|e| fail("signals", e));
    check!(signals(p)? & ZX_VMO_ZERO_CHILDREN != 0);
    let c = fx.child(p, 1)?;
    check!(signals(p)? & ZX_VMO_ZERO_CHILDREN == 0);
    let cm = fx.map(c, 1, RW)?;
    fx.close(c)?;
    check!(
        signals(p)? & ZX_VMO_ZERO_CHILDREN == 0,
        "the mapped child no longer counts"
    );
    poke(cm, 5);
    check_eq!(peek(cm), 5);
    fx.unmap(cm, 1)?;
    check!(signals(p)? & ZX_VMO_ZERO_CHILDREN != 0);
    Ok(())
}

const N: u64 = 16;

/// A parent with `N` written pages and a child of it, mapped.
fn parent_and_mapped_child(fx: &Fixture) -> Result<(Handle, Handle, u64), Failure> {
    let p = fx.vmo(N)?;
    for i in 0..N {
        fx.write_byte(p, i * PAGE_SIZE, i as u8 + 1)?;
    }
    let c = fx.child(p, N)?;
    let cm = fx.map(c, N, RW)?;
    Ok((p, c, cm))
}

fn reading_child_pages_copies_nothing() -> TestResult {
    let fx = Fixture::new()?;
    let (_, c, cm) = parent_and_mapped_child(&fx)?;
    let before = objects::with(|s| s.vm_counters());
    for i in 0..N {
        check_eq!(peek(cm + i * PAGE_SIZE), i as u8 + 1);
    }
    let after = objects::with(|s| s.vm_counters());
    check_eq!(after.pages_copied, before.pages_copied);
    check_eq!(fx.committed_pages(c)?, 0);
    Ok(())
}

/// Writes `value` into each of the `N` pages mapped at `cm`, logs the time
/// per page as `what`, and says what that took: permission faults,
/// translation faults and pages copied.
fn write_each_page(cm: u64, value: u8, what: &str) -> (u64, u64, u64) {
    let faults_before = fault::counts();
    let copies_before = objects::with(|s| s.vm_counters()).pages_copied;
    let start = crate::time::now();
    for i in 0..N {
        poke(cm + i * PAGE_SIZE + 1, value);
    }
    let per_fault = (crate::time::now() - start) as u64 / N;
    crate::info!("{what}: {per_fault} ns each");
    let faults_after = fault::counts();
    let copied = objects::with(|s| s.vm_counters()).pages_copied - copies_before;
    (
        faults_after.permission - faults_before.permission,
        faults_after.translation - faults_before.translation,
        copied,
    )
}

fn writing_read_pages_takes_one_permission_fault_each() -> TestResult {
    let fx = Fixture::new()?;
    let (_, c, cm) = parent_and_mapped_child(&fx)?;
    for i in 0..N {
        check_eq!(peek(cm + i * PAGE_SIZE), i as u8 + 1);
    }
    let label = "copy-on-write fault (permission fault, copy, remap)";
    // (permission faults, translation faults, pages copied)
    check_eq!(write_each_page(cm, 0xaa, label), (N, 0, N));
    check_eq!(fx.committed_pages(c)?, N);
    for i in 0..N {
        check_eq!(peek(cm + i * PAGE_SIZE), i as u8 + 1);
    }
    Ok(())
}

fn writing_untouched_pages_takes_one_translation_fault_and_copy_each() -> TestResult {
    let fx = Fixture::new()?;
    let (_, c, cm) = parent_and_mapped_child(&fx)?;
    let label = "copy-on-write fault (translation fault, copy, map)";
    // (permission faults, translation faults, pages copied)
    check_eq!(write_each_page(cm, 0xbb, label), (0, N, N));
    check_eq!(fx.committed_pages(c)?, N);
    Ok(())
}

fn access_outside_any_mapping_faults() -> TestResult {
    let fx = Fixture::new()?;
    let v = fx.vmo(1)?;
    let m = fx.map(v, 1, RW)?;
    fx.unmap(m, 1)?;
    read_faults_at(m, "the unmapped page")
}

fn write_to_read_only_mapping_faults() -> TestResult {
    let fx = Fixture::new()?;
    let v = fx.vmo(1)?;
    fx.write_byte(v, 0, 3)?;
    let m = fx.map(v, 1, ZX_VM_PERM_READ)?;
    check_eq!(peek(m), 3);
    let c = faults(m, true).ok_or_else(|| Failure::Fail("the write went through".into()))?;
    check!(c.esr.is_write());
    check_eq!(fx.read_byte(v, 0)?, 3);
    Ok(())
}

fn mapping_past_the_vmo_end_faults() -> TestResult {
    let fx = Fixture::new()?;
    let v = fx.vmo(1)?;
    let m = objects::with(|s| {
        s.task(fx.table)
            .vmar_map(fx.vmar, RW, 0, v, 0, 3 * PAGE_SIZE)
    })
    .map_err(|e| fail("vmar_map", e))?;
    poke(m, 1);
    check!(faults(m + PAGE_SIZE, false).is_some());
    check!(faults(m + 2 * PAGE_SIZE, true).is_some());
    Ok(())
}

fn unmap_removes_translations() -> TestResult {
    let fx = Fixture::new()?;
    let (_, m) = fx.mapped_and_written(4)?;
    fx.unmap(m + PAGE_SIZE, 2)?;
    check_eq!(peek(m), 1);
    check_eq!(peek(m + 3 * PAGE_SIZE), 4);
    check!(faults(m + PAGE_SIZE, false).is_some());
    check!(faults(m + 2 * PAGE_SIZE, false).is_some());
    let translated = crate::vm::with_page_table(|t| t.translate(m + PAGE_SIZE));
    check!(translated.is_none());
    Ok(())
}

/// A small deterministic generator (xorshift64*), seeded from the bootargs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Guest time the stress test runs for.
const STRESS_NS: u64 = 10_000_000_000;

/// For ten seconds of guest time: random byte reads and writes through
/// mappings of a parent and overlapping clones (children at offsets,
/// grandchildren), plus occasional writes through `vmo_write`; every read
/// through a mapping is checked against `vmo_read` of the same VMO.
fn random_access_through_overlapping_clones_matches_vmo_read() -> TestResult {
    const PAGES: u64 = 8;
    let fx = Fixture::new()?;
    let p = fx.vmo(PAGES)?;
    let c1 = fx.child(p, PAGES)?;
    let c2 = objects::with(|s| {
        s.task(fx.table).vmo_create_child(
            p,
            ZX_VMO_CHILD_COPY_ON_WRITE,
            2 * PAGE_SIZE,
            PAGES * PAGE_SIZE,
        )
    })
    .map_err(|e| fail("child at offset", e))?;
    let g = fx.child(c1, PAGES)?;
    let vmos = [p, c1, c2, g];
    let maps: Vec<u64> = vmos
        .iter()
        .map(|&v| fx.map(v, PAGES, RW))
        .collect::<Result<_, _>>()?;
    let mut rng = Rng(boot_info().args.seed | 1);
    let freq = arch::counter_frequency();
    let start = arch::counter();
    let deadline = start + (STRESS_NS as u128 * freq as u128 / 1_000_000_000) as u64;
    let mut ops = 0u64;
    let mut reads = vec![0u64; vmos.len()];
    while arch::counter() < deadline {
        for _ in 0..256 {
            let i = rng.below(vmos.len() as u64) as usize;
            let off = rng.below(PAGES * PAGE_SIZE);
            match rng.below(8) {
                0..=2 => poke(maps[i] + off, rng.next() as u8),
                3 => fx.write_byte(vmos[i], off, rng.next() as u8)?,
                _ => {
                    let via_map = peek(maps[i] + off);
                    let via_read = fx.read_byte(vmos[i], off)?;
                    check!(
                        via_map == via_read,
                        "after {ops} ops: VMO {i} at {off:#x}: map {via_map} vs read {via_read}"
                    );
                    reads[i] += 1;
                }
            }
            ops += 1;
        }
    }
    crate::info!("stress: {ops} operations, {reads:?} checked reads per VMO");
    check!(reads.iter().all(|&r| r > 0));
    Ok(())
}

/// A copy-on-write copy, and a zero-fill with this CPU's pool empty, are
/// filled outside the object space's lock and used; a copy whose source
/// may have changed meanwhile is not used (the fault copies again under
/// the lock) and its frame goes back.
fn frames_filled_outside_the_object_lock_are_used_only_while_still_right() -> TestResult {
    fault::set_unlocked_fills(true, false);
    let r = filled_outside_the_lock();
    fault::set_unlocked_fills(false, false);
    r
}

fn filled_outside_the_lock() -> TestResult {
    use crate::mm::frame;
    let fx = Fixture::new()?;
    let (p, _) = fx.mapped_and_written(2)?;
    fx.write_byte(p, 1, 0x11)?;
    fx.write_byte(p, PAGE_SIZE + 1, 0x22)?;
    let c = fx.child(p, 2)?;
    let cm = fx.map(c, 2, RW)?;
    let (filled, stale) = fault::unlocked_fill_counts();
    poke(cm, 0xcc);
    check_eq!(fault::unlocked_fill_counts(), (filled + 1, stale));
    check_eq!((peek(cm), peek(cm + 1)), (0xcc, 0x11));
    check_eq!(fx.read_byte(p, 0)?, 1);
    // Maps the parent's page (and any table page) first: the write below
    // then takes one frame, the copy's.
    check_eq!(peek(cm + PAGE_SIZE), 2);
    fault::set_unlocked_fills(true, true);
    let free = frame::free_frames();
    poke(cm + PAGE_SIZE, 0xdd);
    check_eq!(fault::unlocked_fill_counts(), (filled + 2, stale + 1));
    check_eq!(frame::free_frames(), free - 1);
    check_eq!(
        (peek(cm + PAGE_SIZE), peek(cm + PAGE_SIZE + 1)),
        (0xdd, 0x22)
    );
    check_eq!(fx.read_byte(p, PAGE_SIZE)?, 2);
    check_eq!(fx.committed_pages(c)?, 2);
    // A zero-fill fault with no pre-zeroed frame at hand.
    fault::set_unlocked_fills(true, false);
    frame::drain_pools();
    let v = fx.vmo(1)?;
    let vm = fx.map(v, 1, RW)?;
    poke(vm + 7, 5);
    check_eq!(fault::unlocked_fill_counts(), (filled + 3, stale + 1));
    check_eq!(
        (peek(vm), peek(vm + 7), peek(vm + PAGE_SIZE - 1)),
        (0, 5, 0)
    );
    check_eq!(fx.committed_pages(v)?, 1);
    Ok(())
}

/// With another CPU taking the object lock over and over, copy-on-write
/// faults here find it waiting and copy outside the lock; every copy is
/// still right. Rounds of faults (decommitted between rounds) go on until
/// one is seen or for 20 s, so a CPU the host seldom runs only makes the
/// test longer. On one CPU nobody else waits.
fn copies_leave_the_object_lock_while_another_cpu_waits_for_it() -> TestResult {
    use alloc::sync::Arc;
    use core::sync::atomic::{AtomicBool, Ordering};
    const PAGES: u64 = 16;
    if crate::sched::cpus_online() < 2 {
        return Ok(());
    }
    let fx = Fixture::new()?;
    let p = fx.vmo(PAGES)?;
    for i in 0..PAGES {
        fx.write_byte(p, i * PAGE_SIZE + 1, i as u8 + 0x40)?;
    }
    let c = fx.child(p, PAGES)?;
    let cm = fx.map(c, PAGES, RW)?;
    let stop = Arc::new(AtomicBool::new(false));
    let stop_in = stop.clone();
    let hammer = crate::sched::spawn_on(1, "ktest-vm-hammer", move || {
        while !stop_in.load(Ordering::Relaxed) {
            objects::with(|s| s.vmo_count());
        }
    })
    .map_err(|e| fail("spawn_on", e))?;
    let (filled, _) = fault::unlocked_fill_counts();
    let end = crate::time::deadline_after(crate::time::msec(20_000));
    let mut result = Ok(());
    let mut rounds = 0u64;
    while fault::unlocked_fill_counts().0 == filled && crate::time::now() < end {
        rounds += 1;
        for i in 0..PAGES {
            let va = cm + i * PAGE_SIZE;
            poke(va, rounds as u8);
            if (peek(va), peek(va + 1)) != (rounds as u8, i as u8 + 0x40) {
                result = Err(Failure::Fail(format!(
                    "page {i} of round {rounds} is wrong"
                )));
            }
        }
        let decommit = objects::with(|s| {
            s.task(fx.table)
                .vmo_op_range(c, ZX_VMO_OP_DECOMMIT, 0, PAGES * PAGE_SIZE, &mut [])
        });
        if let Err(e) = decommit {
            result = Err(fail("decommit", e));
        }
        if result.is_err() {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    hammer.join();
    result?;
    let copies = fault::unlocked_fill_counts().0 - filled;
    crate::info!("{copies} copies outside the lock in {rounds} rounds of {PAGES} faults");
    check!(
        copies > 0,
        "no copy left the lock in {rounds} rounds of {PAGES} faults"
    );
    Ok(())
}

/// Faults take the object space's read side and their copy-on-write
/// hierarchy's lock: while CPU 1 holds the lock of VMO `a`'s hierarchy, a
/// fault here on VMO `b` (another hierarchy, another lock) resolves at
/// once, and one on `a` waits until CPU 1 lets go. CPU 1 holds the lock
/// until told to go on (2 s at most, so a broken kernel fails rather than
/// hangs), then 100 ms more. Skips on one CPU.
fn faults_in_other_hierarchies_go_on_while_one_is_locked() -> TestResult {
    use alloc::sync::Arc;
    use core::sync::atomic::{AtomicU8, Ordering};
    if crate::sched::cpus_online() < 2 {
        return Ok(());
    }
    let fx = Fixture::new()?;
    let (a, b) = (fx.vmo(1)?, fx.vmo(1)?);
    let (ma, mb) = (fx.map(a, 1, RW)?, fx.map(b, 1, RW)?);
    // First faults populate the mappings (under the write side); after a
    // decommit the next write faults are zero-fill faults a shared fault
    // resolves.
    poke(ma, 1);
    poke(mb, 1);
    let koid = |h| {
        objects::with(|s| s.task(fx.table).object_get_info_vmo(h))
            .map(|info| info.koid)
            .map_err(|e| fail("get_info", e))
    };
    let (ka, kb) = (koid(a)?, koid(b)?);
    check!(
        objects::hierarchy_lock_index(ka) != objects::hierarchy_lock_index(kb),
        "two new VMOs share a hierarchy lock"
    );
    for h in [a, b] {
        objects::with(|s| {
            s.task(fx.table)
                .vmo_op_range(h, ZX_VMO_OP_DECOMMIT, 0, PAGE_SIZE, &mut [])
        })
        .map_err(|e| fail("decommit", e))?;
    }
    const START: u8 = 0;
    const HELD: u8 = 1;
    const GO_ON: u8 = 2;
    const RELEASED: u8 = 3;
    let state = Arc::new(AtomicU8::new(START));
    let there = state.clone();
    let holder = crate::sched::spawn_on(1, "ktest-vm-hierarchy", move || {
        // Masked without the masked-interval record: a test's long hold,
        // not a kernel path's.
        let daif = arch::irq_mask_save();
        let hold = objects::lock_hierarchy(ka);
        there.store(HELD, Ordering::SeqCst);
        let end = crate::time::deadline_after(crate::time::msec(2_000));
        while there.load(Ordering::SeqCst) != GO_ON && crate::time::now() < end {
            core::hint::spin_loop();
        }
        let end = crate::time::deadline_after(crate::time::msec(100));
        while crate::time::now() < end {
            core::hint::spin_loop();
        }
        there.store(RELEASED, Ordering::SeqCst);
        drop(hold);
        arch::irq_unmask_restore(daif);
    })
    .map_err(|e| fail("spawn_on", e))?;
    let end = crate::time::deadline_after(crate::time::msec(10_000));
    while state.load(Ordering::SeqCst) == START && crate::time::now() < end {
        core::hint::spin_loop();
    }
    let held = state.load(Ordering::SeqCst) == HELD;
    let faults = fault::counts();
    poke(mb, 2);
    let during = state.load(Ordering::SeqCst);
    state
        .compare_exchange(HELD, GO_ON, Ordering::SeqCst, Ordering::SeqCst)
        .ok();
    poke(ma, 2);
    let after = state.load(Ordering::SeqCst);
    holder.join();
    check!(held, "CPU 1 never took the hierarchy lock");
    check!(fault::counts() != faults, "no fault was taken");
    check_eq!(
        during,
        HELD,
        "a fault in another hierarchy waited for the held lock"
    );
    check_eq!(
        after,
        RELEASED,
        "a fault resolved under another CPU's hold of its hierarchy lock"
    );
    check_eq!((peek(ma), peek(mb)), (2, 2));
    Ok(())
}

/// Between two steps of a long operation, the object lock released, its
/// holder waits (a bounded while) as long as another CPU waits for the
/// lock, so the waiter takes it first (the lock is not fair); with nobody
/// waiting it goes straight on. A waiter is simulated by this CPU's own
/// count among the lock's waiters, which never leaves: the pause must
/// end at its bound.
fn a_long_operation_pauses_between_steps_while_a_cpu_waits() -> TestResult {
    use crate::objects::{as_a_waiter, let_waiters_in, HANDOFF_WAIT};
    let bound = time::duration_to_ticks(HANDOFF_WAIT);
    check!(!let_waiters_in(), "a pause with nobody waiting");
    let start = crate::arch::counter();
    check!(as_a_waiter(let_waiters_in), "no pause for a waiter");
    let paused = crate::arch::counter() - start;
    check!(
        paused >= bound,
        "paused {paused} ticks for a waiter, less than {bound}"
    );
    // Ended by its bound (a host pausing this CPU can only add).
    check!(
        paused < time::duration_to_ticks(time::msec(1_000)),
        "paused {paused} ticks"
    );
    Ok(())
}
