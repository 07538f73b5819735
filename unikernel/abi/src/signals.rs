//! Signals (`zx_signals_t`), Zircon's values.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// A set of signals.
pub type Signals = u32;

/// No signals.
pub const ZX_SIGNAL_NONE: Signals = 0;
/// Synthetic: the handle being waited on was closed (only in wait results).
pub const ZX_SIGNAL_HANDLE_CLOSED: Signals = 1 << 23;
/// User signal 0.
pub const ZX_USER_SIGNAL_0: Signals = 1 << 24;
/// User signal 1.
pub const ZX_USER_SIGNAL_1: Signals = 1 << 25;
/// User signal 2.
pub const ZX_USER_SIGNAL_2: Signals = 1 << 26;
/// User signal 3.
pub const ZX_USER_SIGNAL_3: Signals = 1 << 27;
/// User signal 4.
pub const ZX_USER_SIGNAL_4: Signals = 1 << 28;
/// User signal 5.
pub const ZX_USER_SIGNAL_5: Signals = 1 << 29;
/// User signal 6.
pub const ZX_USER_SIGNAL_6: Signals = 1 << 30;
/// User signal 7.
pub const ZX_USER_SIGNAL_7: Signals = 1 << 31;
/// All eight user signals.
pub const ZX_USER_SIGNAL_ALL: Signals = 0xff00_0000;

/// An event is signaled (`ZX_OBJECT_SIGNAL_3`).
pub const ZX_EVENT_SIGNALED: Signals = 1 << 3;
/// The signals `object_signal` may change on an event.
pub const ZX_EVENT_SIGNAL_MASK: Signals = ZX_USER_SIGNAL_ALL | ZX_EVENT_SIGNALED;
/// A VMO has no live children (`ZX_OBJECT_SIGNAL_3`).
pub const ZX_VMO_ZERO_CHILDREN: Signals = 1 << 3;
/// A task or thread has ended (`ZX_TASK_TERMINATED`, `ZX_OBJECT_SIGNAL_3`).
pub const ZX_TASK_TERMINATED: Signals = 1 << 3;
/// A timer has fired (`ZX_TIMER_SIGNALED`, `ZX_OBJECT_SIGNAL_3`).
pub const ZX_TIMER_SIGNALED: Signals = 1 << 3;
/// A thread has ended (`ZX_THREAD_TERMINATED`: the same bit as
/// [`ZX_TASK_TERMINATED`], `ZX_OBJECT_SIGNAL_3`).
pub const ZX_THREAD_TERMINATED: Signals = ZX_TASK_TERMINATED;

/// Most items of one `zx_object_wait_many`: its page's 8 (the era's header
/// said 16, with a note to lower it again; later headers 64).
pub const ZX_WAIT_MANY_MAX_ITEMS: usize = 8;

/// `zx_wait_item_t`: one item of `zx_object_wait_many`.
#[repr(C)]
#[derive(
    Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct WaitItem {
    /// The handle to wait on.
    pub handle: crate::Handle,
    /// The signals to wait for.
    pub waitfor: Signals,
    /// Written back: the object's signals when the wait ended.
    pub pending: Signals,
}
