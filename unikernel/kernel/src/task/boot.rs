//! The kernel's side of the EL0 image's first task: it loads the image,
//! starts the task in a mode (count the EL0 suites, run them, run the demo)
//! with the boot parameters in a VMO, and waits for it to end.

use super::{image, StartHandles};
use crate::objects;
use abi::el0::{El0Boot, FILTER_MAX};
use abi::*;
use object::{Quota, TableId};
use zerocopy::IntoBytes;

static KERNEL_TABLE: spin::Once<TableId> = spin::Once::new();
/// `El0Boot::flags` of every run of the first task.
static FLAGS: spin::Once<u64> = spin::Once::new();

/// Creates the kernel's own handle table and loads the EL0 image; the
/// first task will be given `flags` (`abi::el0::FLAG_*`).
pub fn init(flags: u64) {
    FLAGS.call_once(|| flags);
    let table = match objects::with(|s| s.create_table(Quota::default())) {
        Ok(t) => t,
        Err(_) => crate::power::fail("no handle table for the kernel"),
    };
    KERNEL_TABLE.call_once(|| table);
    if let Err(why) = image::load(table) {
        crate::error!("EL0 image: {why}");
        crate::power::fail("could not load the EL0 image");
    }
}

/// Runs the first task in `mode` and waits for it; how it ended.
pub fn run_first_task(
    mode: u64,
    seed: u64,
    filter: &str,
    first_suite: u64,
) -> Result<ZxInfoTaskEnd, Status> {
    let table = *KERNEL_TABLE.get().ok_or(ZX_ERR_BAD_STATE)?;
    let mut boot = El0Boot {
        seed,
        first_suite,
        filter_len: 0,
        filter: [0; FILTER_MAX],
        flags: FLAGS.get().copied().unwrap_or(0),
    };
    let n = filter.len().min(FILTER_MAX);
    boot.filter[..n].copy_from_slice(&filter.as_bytes()[..n]);
    boot.filter_len = n as u64;
    let bytes = boot.as_bytes();
    let vmo = objects::with(|s| {
        let h = s.task(table).vmo_create(bytes.len() as u64, 0)?;
        s.task(table).vmo_write(h, bytes, 0).map(|()| h)
    })?;
    let mut from = [ZX_HANDLE_INVALID; super::MAX_START_HANDLES];
    from[0] = vmo;
    let task = match super::start_first(table, mode, &StartHandles { count: 1, from }) {
        Ok(h) => h,
        Err(e) => {
            objects::with(|s| s.task(table).handle_close(vmo)).ok();
            return Err(e);
        }
    };
    let (st, _) = objects::wait::object_wait_one(table, task, ZX_TASK_TERMINATED, ZX_TIME_INFINITE);
    let info = objects::with(|s| {
        let e = s.entry(table, task)?;
        let object::Object::Kernel(k) = &e.object else {
            return Err(ZX_ERR_WRONG_TYPE);
        };
        Ok(super::end_info(s, object::KernelObject::signals(k)))
    });
    objects::with(|s| s.task(table).handle_close(task)).ok();
    if st != ZX_OK {
        return Err(st);
    }
    info
}
