//! The ABI's numbers are Zircon's (DESIGN.md "Values") or, for syscalls, ours and distinct.

use abi::*;
use zerocopy::{FromBytes, IntoBytes};

#[test]
fn status_codes_have_zircon_values() {
    assert_eq!(ZX_OK.into_raw(), 0);
    assert_eq!(ZX_ERR_NO_MEMORY.into_raw(), -4);
    assert_eq!(ZX_ERR_INVALID_ARGS.into_raw(), -10);
    assert_eq!(ZX_ERR_BAD_HANDLE.into_raw(), -11);
    assert_eq!(ZX_ERR_WRONG_TYPE.into_raw(), -12);
    assert_eq!(ZX_ERR_OUT_OF_RANGE.into_raw(), -14);
    assert_eq!(ZX_ERR_BUFFER_TOO_SMALL.into_raw(), -15);
    assert_eq!(ZX_ERR_TIMED_OUT.into_raw(), -21);
    assert_eq!(ZX_ERR_CANCELED.into_raw(), -23);
    assert_eq!(ZX_ERR_UNAVAILABLE.into_raw(), -28);
    assert_eq!(ZX_ERR_ACCESS_DENIED.into_raw(), -30);
}

#[test]
fn rights_have_zircon_values() {
    let expected = [
        (ZX_RIGHT_DUPLICATE, 0x1),
        (ZX_RIGHT_TRANSFER, 0x2),
        (ZX_RIGHT_READ, 0x4),
        (ZX_RIGHT_WRITE, 0x8),
        (ZX_RIGHT_EXECUTE, 0x10),
        (ZX_RIGHT_MAP, 0x20),
        (ZX_RIGHT_GET_PROPERTY, 0x40),
        (ZX_RIGHT_SET_PROPERTY, 0x80),
        (ZX_RIGHT_SIGNAL, 0x1000),
        (ZX_RIGHT_WAIT, 0x4000),
        (ZX_RIGHT_INSPECT, 0x8000),
    ];
    for (right, value) in expected {
        assert_eq!(right, value);
    }
    assert_eq!(ZX_DEFAULT_VMO_RIGHTS, 0xD0FF);
}

#[test]
fn vmo_options_and_ops_have_zircon_values() {
    assert_eq!(ZX_VMO_CHILD_COPY_ON_WRITE, 1);
    assert_eq!(ZX_VMO_CHILD_NON_RESIZEABLE, 2);
    assert_eq!(ZX_VMO_NON_RESIZABLE, 1);
    assert_eq!(ZX_VMO_OP_COMMIT, 1);
    assert_eq!(ZX_VMO_OP_DECOMMIT, 2);
    assert_eq!(ZX_VMO_OP_LOOKUP, 5);
}

#[test]
fn signals_and_vm_options_have_zircon_values() {
    assert_eq!(ZX_VMO_ZERO_CHILDREN, 1 << 3);
    assert_eq!(ZX_EVENT_SIGNALED, 1 << 3);
    assert_eq!(ZX_SIGNAL_HANDLE_CLOSED, 1 << 23);
    let users = [
        ZX_USER_SIGNAL_0,
        ZX_USER_SIGNAL_1,
        ZX_USER_SIGNAL_2,
        ZX_USER_SIGNAL_3,
        ZX_USER_SIGNAL_4,
        ZX_USER_SIGNAL_5,
        ZX_USER_SIGNAL_6,
        ZX_USER_SIGNAL_7,
    ];
    for (i, s) in users.iter().enumerate() {
        assert_eq!(*s, 1 << (24 + i));
    }
    assert_eq!(ZX_VM_PERM_READ, 1);
    assert_eq!(ZX_VM_PERM_WRITE, 2);
    assert_eq!(ZX_VM_PERM_EXECUTE, 4);
    assert_eq!(ZX_VM_SPECIFIC, 1 << 4);
    assert_eq!(ZX_TIME_INFINITE, i64::MAX);
}

#[test]
fn info_topics_and_object_types_have_zircon_values() {
    assert_eq!(ZX_INFO_HANDLE_BASIC, 2);
    assert_eq!(ZX_INFO_VMO, 23);
    assert_eq!(ZX_OBJ_TYPE_VMO, 3);
    assert_eq!(ZX_OBJ_TYPE_EVENT, 5);
    assert_eq!(ZX_OBJ_TYPE_VMAR, 18);
}

#[test]
fn info_vmo_fields_sit_at_zircon_offsets() {
    let info = ZxInfoVmo {
        committed_bytes: 0x1122_3344_5566_7788,
        handle_rights: 0xAABB_CCDD,
        ..Default::default()
    };
    let bytes = info.as_bytes();
    assert_eq!(bytes.len(), 112);
    // koid 0, name 8, size 40, parent 48, children 56, mappings 64, share 72,
    // flags 80, committed 88, rights 96, create_options 100, cache_policy 104.
    assert_eq!(&bytes[88..96], &0x1122_3344_5566_7788u64.to_ne_bytes());
    assert_eq!(&bytes[96..100], &0xAABB_CCDDu32.to_ne_bytes());
}

#[test]
fn syscall_numbers_are_distinct_and_decode_back() {
    for (i, a) in Syscall::ALL.iter().enumerate() {
        assert_eq!(Syscall::from_number(a.number()), Some(*a));
        for b in &Syscall::ALL[i + 1..] {
            assert_ne!(a.number(), b.number());
        }
    }
    assert_eq!(Syscall::from_number(9999), None);
}

/// README, "Which Zircon": the numbers are ours (Zircon's were private to
/// its vDSO), and task binaries depend on them, so they never change.
#[test]
fn syscall_numbers_are_ours_and_fixed() {
    let numbers: Vec<(Syscall, u64)> = Syscall::ALL.iter().map(|s| (*s, s.number())).collect();
    let expected = [
        (Syscall::Null, 0),
        (Syscall::HandleClose, 1),
        (Syscall::HandleDuplicate, 2),
        (Syscall::HandleReplace, 3),
        (Syscall::VmoCreate, 10),
        (Syscall::VmoCreateChild, 11),
        (Syscall::VmoRead, 12),
        (Syscall::VmoWrite, 13),
        (Syscall::VmoGetSize, 14),
        (Syscall::VmoSetSize, 15),
        (Syscall::VmoOpRange, 16),
        (Syscall::VmarMap, 20),
        (Syscall::VmarUnmap, 21),
        (Syscall::VmarProtect, 22),
        (Syscall::VmarAllocate, 23),
        (Syscall::VmarDestroy, 24),
        (Syscall::ObjectGetInfo, 30),
        (Syscall::ObjectWaitOne, 31),
        (Syscall::ObjectSignal, 32),
        (Syscall::EventCreate, 33),
        (Syscall::Nanosleep, 40),
        (Syscall::ClockGetMonotonic, 41),
        (Syscall::TaskCreate, 50),
        (Syscall::ThreadCreate, 51),
        (Syscall::ThreadStart, 52),
        (Syscall::TaskExit, 53),
        (Syscall::ThreadExit, 54),
        (Syscall::TaskKill, 55),
        (Syscall::TimerCreate, 42),
        (Syscall::TimerSet, 43),
        (Syscall::TimerCancel, 44),
        (Syscall::ObjectWaitMany, 34),
        (Syscall::ConsoleWrite, 60),
        (Syscall::ObjectWaitAsync, 61),
        (Syscall::PortCreate, 62),
        (Syscall::PortQueue, 63),
        (Syscall::PortWait, 64),
        (Syscall::PortCancel, 65),
        (Syscall::SystemGetNumCpus, 45),
    ];
    // Every call of the first round keeps its number; new calls add numbers.
    for (call, number) in expected {
        assert!(
            numbers.contains(&(call, number)),
            "{call:?} is not {number}"
        );
    }
}

#[test]
fn max_vmo_size_is_64_tib_and_root_vmar_is_1_to_128_tib() {
    assert_eq!(ZX_MAX_VMO_SIZE, 64 << 40);
    assert_eq!((ROOT_VMAR_BASE, ROOT_VMAR_END), (1 << 40, 128 << 40));
}

#[test]
fn status_names_are_zircon_names() {
    assert_eq!(ZX_OK.name(), "ZX_OK");
    assert_eq!(ZX_ERR_INVALID_ARGS.name(), "ZX_ERR_INVALID_ARGS");
    assert_eq!(ZX_ERR_ACCESS_DENIED.name(), "ZX_ERR_ACCESS_DENIED");
    assert_eq!(ZX_ERR_BAD_SYSCALL.name(), "ZX_ERR_BAD_SYSCALL");
    assert_eq!(Status(-99).name(), "ZX_ERR_<unknown>");
}

/// `zx_port_packet_t` as the era lays it out: key 0, type 8, status 12,
/// the union at 16 (`zx_packet_signal_t`: trigger 16, observed 20, count 24).
#[test]
fn port_packet_layout_is_the_eras() {
    let p = PortPacket::signal(0x1122_3344_5566_7788, ZX_PKT_TYPE_SIGNAL_REP, 0xA, 0xB, 7);
    let b = p.as_bytes();
    assert_eq!(b.len(), 48);
    assert_eq!(&b[0..8], &0x1122_3344_5566_7788u64.to_ne_bytes());
    assert_eq!(&b[8..12], &ZX_PKT_TYPE_SIGNAL_REP.to_ne_bytes());
    assert_eq!(&b[12..16], &0i32.to_ne_bytes());
    assert_eq!(&b[16..20], &0xAu32.to_ne_bytes());
    assert_eq!(&b[20..24], &0xBu32.to_ne_bytes());
    assert_eq!(&b[24..32], &7u64.to_ne_bytes());
    assert_eq!(PortPacket::read_from_bytes(b).ok(), Some(p));
    assert_eq!((ZX_PKT_TYPE_USER, ZX_PKT_TYPE_SIGNAL_ONE), (0, 1));
    assert_eq!((ZX_WAIT_ASYNC_ONCE, ZX_WAIT_ASYNC_REPEATING), (0, 1));
    assert_eq!(ZX_DEFAULT_PORT_RIGHTS, 0x800F);
}
