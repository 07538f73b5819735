//! What the console says when a task faults: first in words (which task,
//! which access, which mapping, why it was not resolved), then the
//! registers and backtrace. Death tests fault on purpose, so the report is
//! shown only where a reader asks for detail: as KTAP diagnostics inside
//! the test that caused it (`mode=test`), or with `loglevel=debug`.

use crate::arch::esr::{Class, Esr};
use crate::arch::exception::{report, TrapFrame, Vector};
use crate::console::{diag, LineBuf};
use crate::vm::USER_REGION;
use abi::{ZX_VM_PERM_EXECUTE, ZX_VM_PERM_READ, ZX_VM_PERM_WRITE};

/// Prints the report of `frame`'s fault in task `task`, if reports are shown.
pub fn task_fault(task: u64, frame: &TrapFrame) {
    if !crate::console::detail_shown() {
        return;
    }
    diag(format_args!("{}", in_words(task, frame).as_str()));
    report(
        frame,
        Vector::LowerA64Sync,
        crate::vm::fault::describe(frame.far),
    );
}

/// The access an abort made.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
    Execute,
}

/// One line: `task 0x2 faulted: a read of 0x40080000 at pc 0x…: why; it is ended`.
fn in_words(task: u64, frame: &TrapFrame) -> LineBuf {
    let esr = Esr(frame.esr);
    let class = esr.class();
    let mut line = LineBuf::new();
    line.push_fmt(format_args!("task {task:#x} faulted: "));
    let access = match class {
        Some(Class::DataAbortLowerEL) if esr.is_write() => Access::Write,
        Some(Class::DataAbortLowerEL) => Access::Read,
        Some(Class::InstrAbortLowerEL) => Access::Execute,
        _ => {
            line.push_fmt(format_args!(
                "{} at pc {:#x}{}; it is ended",
                esr.class_name(),
                frame.elr,
                crate::symbols::Name::at(frame.elr)
            ));
            return line;
        }
    };
    let far = frame.far;
    match access {
        Access::Read => line.push_fmt(format_args!("a read of {far:#x}")),
        Access::Write => line.push_fmt(format_args!("a write to {far:#x}")),
        Access::Execute => line.push_fmt(format_args!("an instruction fetch from {far:#x}")),
    }
    line.push_fmt(format_args!(
        " at pc {:#x}{}: ",
        frame.elr,
        crate::symbols::Name::at(frame.elr)
    ));
    if far < USER_REGION.start {
        line.push_fmt(format_args!(
            "a kernel address (tasks live at and above {:#x})",
            USER_REGION.start
        ));
    } else if far >= USER_REGION.end {
        line.push_fmt(format_args!(
            "beyond the task range (it ends at {:#x})",
            USER_REGION.end
        ));
    } else if crate::vm::domain::belongs_to_another_task(far) {
        // Never described through the other task's mappings: a report
        // names the address, not what another task keeps there.
        line.push_fmt(format_args!(
            "it belongs to another task's region ({:#x}..{:#x}, not in this task's view)",
            far & !(crate::vm::domain::SLOT_SIZE - 1),
            (far & !(crate::vm::domain::SLOT_SIZE - 1)) + crate::vm::domain::SLOT_SIZE
        ));
    } else {
        match crate::vm::fault::describe(far) {
            None => line.push_fmt(format_args!("nothing is mapped there")),
            Some(m) => {
                let allowed = |perm| m.perms & perm != 0;
                let why = match access {
                    Access::Write if !allowed(ZX_VM_PERM_WRITE) => "a write to a read-only mapping",
                    Access::Execute if !allowed(ZX_VM_PERM_EXECUTE) => {
                        "execute of data (the mapping is not executable)"
                    }
                    Access::Read if !allowed(ZX_VM_PERM_READ) => {
                        "a read of a mapping without read permission"
                    }
                    _ if m.vmo_offset + (far - m.base) < m.vmo_size => {
                        "no memory for it (the task's quota of committed and table pages, or the free frames, ran out)"
                    }
                    _ => "the mapping's VMO has no page there (past its end)",
                };
                line.push_fmt(format_args!(
                    "{why}, {:#x}..{:#x} {}{}{} (VMO koid {})",
                    m.base,
                    m.base + m.len,
                    if allowed(ZX_VM_PERM_READ) { 'r' } else { '-' },
                    if allowed(ZX_VM_PERM_WRITE) { 'w' } else { '-' },
                    if allowed(ZX_VM_PERM_EXECUTE) {
                        'x'
                    } else {
                        '-'
                    },
                    m.vmo_koid
                ));
            }
        }
    }
    line.push_fmt(format_args!("; it is ended"));
    line
}
