//! Host benchmarks (harness = false): `cargo bench -p object`.
//! Prints ns per operation; frames come from the heap-backed test fake, so
//! page-touching numbers include its HashMap bookkeeping.

#[path = "../tests/common/mod.rs"]
mod common;

use abi::*;
use common::*;
use std::hint::black_box;
use std::time::Instant;

fn time(name: &str, iters: u32, mut f: impl FnMut()) -> f64 {
    for _ in 0..iters / 10 {
        f();
    }
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    let ns = start.elapsed().as_nanos() as f64 / iters as f64;
    println!("{name:<48} {ns:>10.1} ns/op");
    ns
}

fn create_child(parent_size: u64) -> f64 {
    let (mut s, t) = setup();
    let p = s.task(t).vmo_create(parent_size, 0).unwrap();
    put(&mut s, t, p, parent_size - 1, 1);
    time(
        &format!("create_child + close, parent {} bytes", parent_size),
        200_000,
        || {
            let c = s
                .task(t)
                .vmo_create_child(p, ZX_VMO_CHILD_COPY_ON_WRITE, 0, parent_size)
                .unwrap();
            s.task(t).handle_close(black_box(c)).unwrap();
        },
    )
}

fn read_through_chain(depth: u32) {
    let (mut s, t) = setup();
    let root = filled_vmo(&mut s, t, 1);
    let mut leaf = root;
    for _ in 0..depth {
        leaf = cow_child(&mut s, t, leaf, 0, PAGE);
    }
    let mut buf = vec![0u8; PAGE as usize];
    time(
        &format!("4 KiB vmo_read through a chain of depth {depth}"),
        200_000,
        || {
            s.task(t).vmo_read(leaf, black_box(&mut buf), 0).unwrap();
        },
    );
}

fn write_that_copies() {
    let (mut s, t) = setup();
    let p = filled_vmo(&mut s, t, 1);
    let c = cow_child(&mut s, t, p, 0, PAGE);
    time(
        "1-byte vmo_write that copies a page + DECOMMIT",
        200_000,
        || {
            s.task(t).vmo_write(c, &[1], 0).unwrap();
            s.task(t)
                .vmo_op_range(c, ZX_VMO_OP_DECOMMIT, 0, PAGE, &mut [])
                .unwrap();
        },
    );
    time(
        "1-byte vmo_write to an own page (no copy)",
        1_000_000,
        || {
            s.task(t).vmo_write(p, black_box(&[1]), 0).unwrap();
        },
    );
    time("DECOMMIT of a range with no own page", 1_000_000, || {
        s.task(t)
            .vmo_op_range(c, ZX_VMO_OP_DECOMMIT, 0, PAGE, &mut [])
            .unwrap();
    });
}

fn main() {
    println!("object layer host benchmarks");
    let small = create_child(PAGE);
    let huge = create_child(1 << 40);
    println!(
        "create_child cost ratio 1 TiB / 4 KiB parent: {:.2}",
        huge / small
    );
    for depth in [1, 8, 64] {
        read_through_chain(depth);
    }
    write_that_copies();
}
