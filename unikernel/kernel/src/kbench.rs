//! `mode=bench`, kernel side: the floors the task benchmarks are measured
//! against (the kernel's own page copy and zero), printed in the same
//! format as the EL0 benchmarks (`bench <name> ops=… reps=… min_ns=… median_ns=…`).

use crate::arch::page;
use crate::mm::frame;
use crate::println;
use crate::time;

const REPS: usize = 7;
const OPS: u64 = 1000;

fn bench(name: &str, mut op: impl FnMut()) {
    let mut per_op = [0u64; REPS];
    for slot in per_op.iter_mut() {
        let start = time::now();
        for _ in 0..OPS {
            op();
        }
        *slot = (time::now() - start).max(0) as u64 / OPS;
    }
    per_op.sort_unstable();
    println!(
        "bench {name} ops={OPS} reps={REPS} min_ns={} median_ns={}",
        per_op[0],
        per_op[REPS / 2]
    );
}

/// Runs the kernel's benchmarks.
pub fn run() {
    let (Some(src), Some(dst)) = (frame::alloc(), frame::alloc()) else {
        crate::power::fail("bench: no frames");
    };
    let (s, d) = (src.addr() as *mut u8, dst.addr() as *mut u8);
    // SAFETY: two frames of identity-mapped RAM this function owns.
    bench("kernel_page_copy_4k", || unsafe { page::copy(d, s) });
    // SAFETY: as above.
    bench("kernel_page_zero_4k", || unsafe { page::zero(d) });
    // SAFETY: both are ours and no longer used.
    unsafe {
        frame::free(src);
        frame::free(dst);
    }
}
