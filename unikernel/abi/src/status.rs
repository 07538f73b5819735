//! Status codes (`zx_status_t`), Zircon's values.

/// A Zircon status code. `ZX_OK` is zero, errors are negative.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct Status(pub i32);

impl Status {
    /// The raw value as returned in `x0`.
    pub const fn into_raw(self) -> i32 {
        self.0
    }

    /// Turns a raw value back into a status.
    pub const fn from_raw(raw: i32) -> Self {
        Status(raw)
    }

    /// Whether this is `ZX_OK`.
    pub const fn is_ok(self) -> bool {
        self.0 == 0
    }

    /// The status's Zircon name, e.g. `ZX_ERR_INVALID_ARGS`.
    pub const fn name(self) -> &'static str {
        match self.0 {
            0 => "ZX_OK",
            -1 => "ZX_ERR_INTERNAL",
            -2 => "ZX_ERR_NOT_SUPPORTED",
            -3 => "ZX_ERR_NO_RESOURCES",
            -4 => "ZX_ERR_NO_MEMORY",
            -10 => "ZX_ERR_INVALID_ARGS",
            -11 => "ZX_ERR_BAD_HANDLE",
            -12 => "ZX_ERR_WRONG_TYPE",
            -13 => "ZX_ERR_BAD_SYSCALL",
            -14 => "ZX_ERR_OUT_OF_RANGE",
            -15 => "ZX_ERR_BUFFER_TOO_SMALL",
            -20 => "ZX_ERR_BAD_STATE",
            -21 => "ZX_ERR_TIMED_OUT",
            -22 => "ZX_ERR_SHOULD_WAIT",
            -23 => "ZX_ERR_CANCELED",
            -24 => "ZX_ERR_PEER_CLOSED",
            -25 => "ZX_ERR_NOT_FOUND",
            -26 => "ZX_ERR_ALREADY_EXISTS",
            -28 => "ZX_ERR_UNAVAILABLE",
            -30 => "ZX_ERR_ACCESS_DENIED",
            _ => "ZX_ERR_<unknown>",
        }
    }
}

/// Success.
pub const ZX_OK: Status = Status(0);
/// An internal error.
pub const ZX_ERR_INTERNAL: Status = Status(-1);
/// The operation is not implemented, supported or enabled.
pub const ZX_ERR_NOT_SUPPORTED: Status = Status(-2);
/// The system ran out of a resource other than memory.
pub const ZX_ERR_NO_RESOURCES: Status = Status(-3);
/// The system ran out of memory (or a quota was exceeded).
pub const ZX_ERR_NO_MEMORY: Status = Status(-4);
/// An argument is invalid.
pub const ZX_ERR_INVALID_ARGS: Status = Status(-10);
/// A handle is not valid.
pub const ZX_ERR_BAD_HANDLE: Status = Status(-11);
/// The object is of the wrong type for the operation (the seed page's "ERR_BAD_TYPE").
pub const ZX_ERR_WRONG_TYPE: Status = Status(-12);
/// The syscall number is not valid.
pub const ZX_ERR_BAD_SYSCALL: Status = Status(-13);
/// An argument is outside the valid range.
pub const ZX_ERR_OUT_OF_RANGE: Status = Status(-14);
/// A caller-provided buffer is too small.
pub const ZX_ERR_BUFFER_TOO_SMALL: Status = Status(-15);
/// The operation failed because of the object's current state.
pub const ZX_ERR_BAD_STATE: Status = Status(-20);
/// The deadline passed.
pub const ZX_ERR_TIMED_OUT: Status = Status(-21);
/// The operation would block.
pub const ZX_ERR_SHOULD_WAIT: Status = Status(-22);
/// The operation was canceled (e.g. the waited-on handle was closed).
pub const ZX_ERR_CANCELED: Status = Status(-23);
/// The other end is closed.
pub const ZX_ERR_PEER_CLOSED: Status = Status(-24);
/// The requested entity was not found.
pub const ZX_ERR_NOT_FOUND: Status = Status(-25);
/// The entity already exists.
pub const ZX_ERR_ALREADY_EXISTS: Status = Status(-26);
/// The subject is unavailable (e.g. `set_size` on a non-resizable VMO).
pub const ZX_ERR_UNAVAILABLE: Status = Status(-28);
/// The handle lacks the rights for the operation.
pub const ZX_ERR_ACCESS_DENIED: Status = Status(-30);
