//! Protection domains: tasks' tables under their own ASIDs, ASID
//! generations (a tiny ASID space forced here), and no stale translation
//! of an ASID's previous owner visible to its next one.

use crate::arch::asid;
use crate::arch::exception::{catch, probe_load};
use crate::ktest::{Failure, Suite, TestResult};
use crate::mm::{frame, PAGE_SIZE};
use crate::vm::domain::{self, DomainId};
use crate::{arch, check, check_eq, tests};
use alloc::format;

pub static SUITE: Suite = Suite {
    name: "domain",
    tests: tests![
        a_thousand_domains_roll_asids_over_in_a_tiny_space,
        an_unmapped_page_faults_at_once_under_the_same_asid,
        a_reused_asid_never_shows_its_previous_owners_pages,
        a_domains_tables_are_freed_with_it,
    ],
};

fn fail(what: &str) -> Failure {
    Failure::Fail(what.into())
}

/// Puts the ASID space back to the CPU's width when a test ends.
struct Limit;

impl Limit {
    fn set(limit: u32) -> Self {
        asid::set_limit_for_test(Some(limit));
        Limit
    }
}

impl Drop for Limit {
    fn drop(&mut self) {
        asid::set_limit_for_test(None);
    }
}

/// Runs `f` on domain `id`'s table with IRQs masked (no switch can put
/// this kernel thread back on the kernel's table meanwhile), then returns
/// to the kernel's table.
fn in_domain<R>(id: DomainId, f: impl FnOnce() -> R) -> R {
    let daif = arch::irq_save();
    domain::switch_to(id);
    let r = f();
    domain::switch_to(domain::KERNEL);
    arch::irq_restore(daif);
    r
}

const LIVE: usize = 3;

fn a_thousand_domains_roll_asids_over_in_a_tiny_space() -> TestResult {
    let free_before = frame::free_frames();
    let rollovers_before;
    let mut live: [Option<DomainId>; LIVE] = [None; LIVE];
    {
        // ASIDs 1 and 2 for three live domains: switching among them rolls
        // the generation over again and again.
        let _limit = Limit::set(3);
        rollovers_before = asid::stats().rollovers;
        for i in 0..1000 {
            let k = i % LIVE;
            if let Some(old) = live[k].take() {
                domain::destroy(old);
            }
            let id = new_domain()?;
            live[k] = Some(id);
            // Run each live domain once, as a scheduler would switch among them.
            for &d in live.iter().flatten() {
                let ctx = in_domain(d, || domain::context_of(d));
                let ctx = ctx.ok_or_else(|| fail("a live domain has no context"))?;
                let a = ctx & 0xffff;
                check!((1..3).contains(&a), "domain {d:#x} got ASID {a} of 1..=2");
            }
            // Live domains of the current generation never share an ASID.
            let stats = asid::stats();
            let mut seen = [false; 3];
            for &d in live.iter().flatten() {
                let ctx = domain::context_of(d).unwrap_or(0);
                if ctx >> 16 == stats.generation {
                    let a = (ctx & 0xffff) as usize;
                    check!(!seen[a], "two live domains share ASID {a} at step {i}");
                    seen[a] = true;
                }
            }
        }
        for d in live.iter_mut().filter_map(Option::take) {
            domain::destroy(d);
        }
        let rolled = asid::stats().rollovers - rollovers_before;
        // Three domains run in turn on two ASIDs: a rollover at least
        // every step.
        check!(rolled >= 1000, "only {rolled} rollovers");
    }
    check_eq!(frame::free_frames(), free_before);
    Ok(())
}

/// A new domain, not running.
fn new_domain() -> Result<DomainId, Failure> {
    domain::create(|_| false)
        .map(|(id, _)| id)
        .map_err(|e| fail(&format!("create: {e:?}")))
}

/// Maps frame `f` at `va` (writable or not) in the table of the domain
/// whose slot holds `va`.
fn map_frame(va: u64, f: &frame::Frame, write: bool) -> Result<(), Failure> {
    crate::vm::with_table_for(va, |t| {
        t.map_user_page_charged(va, f.addr(), write, false, u64::MAX)
    })
    .map(drop)
    .map_err(|e| fail(&format!("map: {e:?}")))
}

/// A slot's address a test maps at (page 16 of the slot).
fn va_in(id: DomainId) -> Result<u64, Failure> {
    let ctx_known = domain::context_of(id).is_some();
    check!(ctx_known, "domain {id:#x} is not live");
    let slot = (id & 0xfff) as usize - 1;
    Ok(domain::slot_base(slot) + 16 * PAGE_SIZE)
}

const MAGIC: u64 = 0x5157_a1e0_dead_beef;

/// A frame holding [`MAGIC`].
fn magic_frame() -> Result<frame::Frame, Failure> {
    let f = frame::alloc_zeroed().ok_or_else(|| fail("no frame"))?;
    // SAFETY: a fresh frame of identity-mapped RAM.
    unsafe { (f.addr() as *mut u64).write_volatile(MAGIC) };
    Ok(f)
}

fn an_unmapped_page_faults_at_once_under_the_same_asid() -> TestResult {
    let f = magic_frame()?;
    let id = new_domain()?;
    let va = va_in(id)?;
    map_frame(va, &f, true)?;
    let (seen, caught) = in_domain(id, || {
        // The translation is in the TLB under this domain's ASID now...
        let seen = probe_load(va);
        // ...and the unmap's invalidation by that ASID removes it.
        crate::vm::with_table_for(va, |t| t.unmap(va, PAGE_SIZE));
        (
            seen,
            catch(|| {
                probe_load(va);
            }),
        )
    });
    domain::destroy(id);
    // SAFETY: the frame is unmapped and its domain gone.
    unsafe { frame::free(f) };
    check_eq!(seen, MAGIC);
    check!(caught.is_some(), "a stale translation survived the unmap");
    Ok(())
}

fn a_reused_asid_never_shows_its_previous_owners_pages() -> TestResult {
    // One ASID only: the second domain is given the first one's.
    let _limit = Limit::set(2);
    let f = magic_frame()?;
    let first = new_domain()?;
    let va = va_in(first)?;
    map_frame(va, &f, true)?;
    let seen = in_domain(first, || probe_load(va));
    let first_asid = domain::context_of(first).unwrap_or(0) & 0xffff;
    // It ends without unmapping: its table goes whole, its ASID is
    // invalidated and given back.
    domain::destroy(first);
    let second = new_domain()?;
    let same_va = va_in(second)? == va;
    let caught = in_domain(second, || {
        catch(|| {
            probe_load(va);
        })
    });
    let second_asid = domain::context_of(second).unwrap_or(0) & 0xffff;
    domain::destroy(second);
    // SAFETY: the frame's only translation went with its domain.
    unsafe { frame::free(f) };
    check_eq!(seen, MAGIC);
    check!(same_va, "the second domain did not reuse the slot");
    check_eq!(second_asid, first_asid);
    check!(
        caught.is_some(),
        "the second domain read the first one's page through a stale translation"
    );
    Ok(())
}

fn a_domains_tables_are_freed_with_it() -> TestResult {
    let free_before = frame::free_frames();
    let id = new_domain()?;
    check_eq!(domain::table_pages_of(id), Some(1));
    let va = va_in(id)?;
    let f = magic_frame()?;
    map_frame(va, &f, false)?;
    // Root, level 1, 2 and 3 of its own.
    check_eq!(domain::table_pages_of(id), Some(4));
    check_eq!(domain::destroy(id), 4);
    // SAFETY: its translation went with its domain.
    unsafe { frame::free(f) };
    check_eq!(frame::free_frames(), free_before);
    Ok(())
}
