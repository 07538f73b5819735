#!/usr/bin/env python3
"""Where one benchmark's guest instructions go: `just profile <name>`.

Boots `mode=bench test=<name>` on virt-gicv2 (virt-gicv2-smp4 for the
`smp_` rows, where every CPU's instructions count) under `-icount shift=0` with
QEMU's `-d exec,nochain,in_asm` trace, keeps only the timed regions (from
the clock call before a batch to the one after it, as `bench.rs` times
them: the two EL0 call sites seen once per repetition), and prints instructions per operation: per function, or with
`--stages`, per stage of the page-fault path (each instruction attributed
through its inlining chain, which needs `llvm-symbolizer`), or with
`--lines`, per inlined function (the innermost frame, and its caller), or
with `--pcs`, per kernel instruction in address order (its disassembly and
innermost source line), to read a path instruction by instruction.

A translation block entered counts all its instructions, so EL0 code that
faults in the middle of a block is overcounted; kernel figures are exact.
"""

import bisect
import collections
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "target/aarch64-unknown-none-softfloat/release")
KERNEL = os.path.join(OUT, "kernel")

# Stages of the fault path: the first inlined frame (innermost first) whose
# function name contains one of the patterns names the stage.
STAGES = [
    ("zeroing / copying the page", ["page_zero", "page::zero", "page_copy", "page::copy",
                                    "FrameAllocator$GT$::zero", "FrameAllocator$GT$::copy"]),
    ("frame allocator", ["frame::alloc", "frame::take_zeroed", "Allocator::bump",
                         "FrameAllocator$GT$::alloc", "FrameAllocator$GT$::fault_frame",
                         "fault_frame_unlocked"]),
    ("page table", ["aarch64::mmu::", "with_page_table", "Mmu$GT$::map", "mmu_map"]),
    ("quota charge", ["ObjectSpace$LT$P$GT$::charge"]),
    ("page list: reserve, insert, growth", ["Mem::reserve", "talc", "raw_vec", "realloc",
                                            "memcpy", "insert_mut", "__rust_"]),
    ("anything else showing the page", ["Iterator$GT$::any", "changed_walk", "changed_except"]),
    ("the mapping: hint and claim", ["fault_claim", "Fault::claim", "find_mapping"]),
    ("page lookups (own, find, shown)", ["Vmo::find", "Vmo::own", "::shown"]),
    ("commit (the rest)", ["vmo_commit_one"]),
    ("mapping_fault (the rest)", ["mapping_fault"]),
    ("vmar_fault call", ["vmar_fault"]),
    ("decoding, fault counter, object lock", ["handle_el0_abort", "resolve_as", "try_with",
                                              "root_vmar", "objects::"]),
    ("vector, entry and exit", ["abort_entry", "exception_vectors", "svc_entry"]),
]


# Where the kernel's text starts (virt's RAM base plus the image offset).
KERNEL_BASE = 0x4008_0000


def tool(name):
    sysroot = subprocess.run(["rustc", "--print", "sysroot"], capture_output=True,
                             text=True, check=True).stdout.strip()
    host = re.search(r"host: (\S+)", subprocess.run(["rustc", "-vV"], capture_output=True,
                                                    text=True, check=True).stdout).group(1)
    return os.path.join(sysroot, "lib/rustlib", host, "bin", name)


def symbols(elfs):
    syms = []
    for elf in elfs:
        out = subprocess.run([tool("llvm-nm"), "-n", "-C", elf], capture_output=True,
                             text=True, check=True).stdout
        for line in out.splitlines():
            parts = line.split(None, 2)
            if len(parts) == 3 and parts[1] in "tTwW":
                syms.append((int(parts[0], 16), re.sub(r"::h[0-9a-f]{16}.*", "", parts[2])))
    syms.sort()
    return syms


def trace(name, config):
    """Runs the benchmark with QEMU's trace; returns (log path, bench line)."""
    args = subprocess.run(
        ["cargo", "run", "-q", "-p", "vmm-tests", "--bin", "vmm", "--", "qemu-args",
         config, "--image", os.path.join(OUT, "kernel.bin"),
         "--append", f"mode=bench exit=semihosting test={name}"],
        cwd=ROOT, capture_output=True, text=True, check=True).stdout
    log = os.path.join(tempfile.mkdtemp(prefix="profile-"), "exec.log")
    cmd = shlex.split(args) + ["-icount", "shift=0,sleep=off",
                               "-d", "exec,nochain,in_asm", "-D", log]
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    lines = [l for l in out.splitlines() if l.startswith(f"bench {name}")]
    if not lines:
        sys.exit(f"profile: no benchmark named like {name!r} ran:\n{out}")
    return log, lines[0]


TRACE = re.compile(r"Trace (\d+): 0x[0-9a-f]+ \[[0-9a-f]+/([0-9a-f]+)/")


def is_kernel(pc):
    """Whether `pc` is kernel code (identity-mapped RAM; EL0 code lies
    below it or above 1 TiB)."""
    return KERNEL_BASE <= pc < 1 << 40


def clock_callers(log, clock):
    """The EL0 block that made each clock call (the last one its CPU ran),
    in trace order."""
    callers, last = [], {}
    with open(log, errors="replace") as f:
        for line in f:
            m = TRACE.match(line)
            if m:
                cpu, pc = m.group(1), int(m.group(2), 16)
                if not is_kernel(pc):
                    last[cpu] = pc
                elif pc == clock:
                    callers.append(last.get(cpu))
    return callers


def region_marks(callers, reps, untimed):
    """Which clock calls start a timed region and which end one. A
    benchmark reads the clock at one place before its batch and at one
    after, `reps` times each; other calls (the boot time, a spin's
    timeout) come from elsewhere, so the two callers seen exactly `reps`
    times, the first of them first, are the start and the end. Callers
    `untimed` names (a sleep's deadline in `warm_pools`, which may also
    run once a batch) are not."""
    counts = collections.Counter(callers)
    pair = [c for c in dict.fromkeys(callers) if counts[c] == reps and not untimed(c)]
    if len(pair) != 2:
        return None
    return {i: pair[0] == c for i, c in enumerate(callers) if c in pair}


def timed_counts(log, clock, reps, untimed):
    """Executions per PC inside the timed regions."""
    marks = region_marks(clock_callers(log, clock), reps, untimed)
    blocks, counts, on = {}, collections.Counter(), False
    # Without a clear pair of callers: every other call, after the first
    # task's first (its boot time).
    entry_call = True
    start, pcs, calls = None, [], 0
    with open(log, errors="replace") as f:
        for line in f:
            if line.startswith("IN:"):
                start, pcs = None, []
                continue
            m = re.match(r"0x([0-9a-f]+):", line)
            if m:
                pc = int(m.group(1), 16)
                start = pc if start is None else start
                pcs.append(pc)
                blocks[start] = list(pcs)
                continue
            m = TRACE.match(line)
            if m:
                pc = int(m.group(2), 16)
                if pc == clock:
                    calls += 1
                    if marks is not None:
                        on = marks.get(calls - 1, on)
                    elif entry_call:
                        entry_call = False
                        continue
                    else:
                        on = not on
                if on:
                    for p in blocks.get(pc, [pc]):
                        counts[p] += 1
    return counts


def main():
    argv = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(argv) != 1:
        sys.exit("usage: profile.py <benchmark name> [--stages | --lines | --pcs]")
    tasks = glob.glob(os.path.join(
        OUT, "build/kernel-*/out/el0-target/aarch64-unknown-none/release/tasks"))
    elfs = [KERNEL] + sorted(tasks, key=os.path.getmtime)[-1:]
    syms = symbols(elfs)
    clock = next(a for a, n in syms if "sys_clock_get_monotonic" in n)
    # The `smp_` rows run where four CPUs do (`just bench` boots them on
    # the -smp 4 sibling); the trace holds every CPU's blocks.
    config = "virt-gicv2-smp4" if argv[0].startswith("smp_") or os.environ.get("PROFILE_SMP") else "virt-gicv2"
    log, line = trace(argv[0], config)
    m = re.search(r"ops=(\d+) reps=(\d+)", line)
    ops = int(m.group(1)) * int(m.group(2))
    addrs = [a for a, _ in syms]

    def untimed(caller):
        i = bisect.bisect_right(addrs, caller or 0) - 1
        return i >= 0 and "warm_pool" in syms[i][1]

    counts = timed_counts(log, clock, int(m.group(2)), untimed)
    print(line)
    if "--pcs" in sys.argv:
        print_pcs(counts, ops)
        os.remove(log)
        return
    by = collections.Counter()
    if "--stages" in sys.argv or "--lines" in sys.argv:
        if shutil.which("llvm-symbolizer") is None:
            sys.exit("profile: --stages needs llvm-symbolizer (Debian: apt-get install llvm)")
        pcs = sorted(p for p in counts if p < 1 << 40)  # kernel code only
        out = subprocess.run(["llvm-symbolizer", "--obj=" + KERNEL, "--inlining", "-C"],
                             input="\n".join(hex(p) for p in pcs), capture_output=True,
                             text=True, check=True).stdout.split("\n\n")
        for pc, block in zip(pcs, out):
            lines = block.strip().splitlines()
            if "--lines" in sys.argv:
                # The innermost inlined function, and the one it is inlined into.
                outer = lines[2] if len(lines) > 2 else ""
                name = lambda f: re.sub(r"::h[0-9a-f]{16}$", "", f)[-50:]
                by[f"{name(lines[0]):50}  in {name(outer)}"] += counts[pc]
                continue
            frames = lines[0::2]
            stage = next((s for f in frames for s, pats in STAGES
                          if any(p in f for p in pats)), "other")
            by[stage] += counts[pc]
    else:
        for pc, n in counts.items():
            i = bisect.bisect_right(addrs, pc) - 1
            by[syms[i][1] if i >= 0 else "?"] += n
    print(f"{sum(by.values()) / ops:8.1f}  in all, per operation")
    for what, n in by.most_common(int(os.environ.get("PROFILE_ROWS", "40"))):
        if n / ops >= float(os.environ.get("PROFILE_MIN", "0.5")):
            print(f"{n / ops:8.1f}  {what}")
    os.remove(log)


def print_pcs(counts, ops):
    """Each kernel instruction run at least PROFILE_MIN times per
    operation, in address order: executions per operation, address,
    disassembly, and the innermost source line."""
    least = float(os.environ.get("PROFILE_MIN", "0.5"))
    pcs = sorted(p for p in counts if is_kernel(p) and counts[p] / ops >= least)
    dis = {}
    out = subprocess.run([tool("llvm-objdump"), "-d", "--no-show-raw-insn", "-C", KERNEL],
                         capture_output=True, text=True, check=True).stdout
    for l in out.splitlines():
        m = re.match(r"\s*([0-9a-f]+):\s+(.*)", l)
        if m:
            dis[int(m.group(1), 16)] = re.sub(r"\s+", " ", m.group(2))[:48]
    where = subprocess.run(["llvm-symbolizer", "--obj=" + KERNEL, "-C"],
                           input="\n".join(hex(p) for p in pcs), capture_output=True,
                           text=True, check=True).stdout.split("\n\n")
    for pc, w in zip(pcs, where):
        lines = w.strip().splitlines()
        files = [re.sub(r":0$", "", l) for l in lines[1::2]]
        short = lambda f: re.sub(r".*/(src|library)/", "", f)
        # The innermost line, and the innermost of this project's own.
        own = next((f for f in files if "/unikernel/" in f), "")
        src = short(files[0]) if files else "?"
        if own and own != files[0]:
            src += "  < " + re.sub(r".*/unikernel/", "", own)
        print(f"{counts[pc] / ops:6.1f}  {pc:x}  {dis.get(pc, '?'):48}  {src}")


if __name__ == "__main__":
    main()
