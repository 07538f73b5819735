//! Handle rights (`zx_rights_t`), Zircon's values.

/// A set of rights.
pub type Rights = u32;

/// No rights.
pub const ZX_RIGHT_NONE: Rights = 0;
/// The handle may be duplicated.
pub const ZX_RIGHT_DUPLICATE: Rights = 1 << 0;
/// The handle may be transferred to another task.
pub const ZX_RIGHT_TRANSFER: Rights = 1 << 1;
/// Data may be read; mapping readable (with MAP).
pub const ZX_RIGHT_READ: Rights = 1 << 2;
/// Data may be written; mapping writable (with MAP).
pub const ZX_RIGHT_WRITE: Rights = 1 << 3;
/// Mapping executable (with MAP).
pub const ZX_RIGHT_EXECUTE: Rights = 1 << 4;
/// The VMO may be mapped.
pub const ZX_RIGHT_MAP: Rights = 1 << 5;
/// Properties may be read.
pub const ZX_RIGHT_GET_PROPERTY: Rights = 1 << 6;
/// Properties may be set.
pub const ZX_RIGHT_SET_PROPERTY: Rights = 1 << 7;
/// Child objects may be enumerated.
pub const ZX_RIGHT_ENUMERATE: Rights = 1 << 8;
/// A task may be killed.
pub const ZX_RIGHT_DESTROY: Rights = 1 << 9;
/// Policy may be set.
pub const ZX_RIGHT_SET_POLICY: Rights = 1 << 10;
/// Policy may be read.
pub const ZX_RIGHT_GET_POLICY: Rights = 1 << 11;
/// `object_signal` may be used.
pub const ZX_RIGHT_SIGNAL: Rights = 1 << 12;
/// `object_signal_peer` may be used.
pub const ZX_RIGHT_SIGNAL_PEER: Rights = 1 << 13;
/// The object may be waited on.
pub const ZX_RIGHT_WAIT: Rights = 1 << 14;
/// The object may be inspected with `object_get_info`.
pub const ZX_RIGHT_INSPECT: Rights = 1 << 15;
/// Asks `handle_duplicate` / `handle_replace` for the source handle's rights.
pub const ZX_RIGHT_SAME_RIGHTS: Rights = 1 << 31;

/// DUPLICATE, TRANSFER, WAIT and INSPECT.
pub const ZX_RIGHTS_BASIC: Rights =
    ZX_RIGHT_TRANSFER | ZX_RIGHT_DUPLICATE | ZX_RIGHT_WAIT | ZX_RIGHT_INSPECT;
/// READ and WRITE.
pub const ZX_RIGHTS_IO: Rights = ZX_RIGHT_READ | ZX_RIGHT_WRITE;
/// GET_PROPERTY and SET_PROPERTY.
pub const ZX_RIGHTS_PROPERTY: Rights = ZX_RIGHT_GET_PROPERTY | ZX_RIGHT_SET_PROPERTY;

/// Rights of a new VMO handle (the Dec-2018 header: 0xD0FF).
pub const ZX_DEFAULT_VMO_RIGHTS: Rights = ZX_RIGHTS_BASIC
    | ZX_RIGHTS_IO
    | ZX_RIGHTS_PROPERTY
    | ZX_RIGHT_EXECUTE
    | ZX_RIGHT_MAP
    | ZX_RIGHT_SIGNAL;
/// Rights every VMAR handle starts from: the basic rights without WAIT
/// (a VMAR is not waitable). A VMAR's handle adds READ / WRITE / EXECUTE
/// for each of its `ZX_VM_CAN_MAP_*` permissions.
pub const ZX_DEFAULT_VMAR_RIGHTS: Rights = ZX_RIGHTS_BASIC & !ZX_RIGHT_WAIT;
/// Rights of a new event handle: basic rights plus SIGNAL.
pub const ZX_DEFAULT_EVENT_RIGHTS: Rights = ZX_RIGHTS_BASIC | ZX_RIGHT_SIGNAL;
/// A new timer's rights (`ZX_DEFAULT_TIMER_RIGHTS` of the era's header).
pub const ZX_DEFAULT_TIMER_RIGHTS: Rights = ZX_RIGHTS_BASIC | ZX_RIGHT_WRITE | ZX_RIGHT_SIGNAL;

/// A new port's rights (`ZX_DEFAULT_PORT_RIGHTS` of the era's header:
/// basic rights without WAIT, a port is not waitable, plus READ and WRITE).
pub const ZX_DEFAULT_PORT_RIGHTS: Rights = (ZX_RIGHTS_BASIC & !ZX_RIGHT_WAIT) | ZX_RIGHTS_IO;
const _: () = assert!(ZX_DEFAULT_VMO_RIGHTS == 0xD0FF);
const _: () = assert!(ZX_DEFAULT_VMAR_RIGHTS == 0x8003);
