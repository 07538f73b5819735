//! Handles that close on drop, rights and signals.

use crate::sys;
use crate::{Status, Time};
use abi::Syscall;

/// A set of bits: a newtype over a mask with `bits`, `contains` and `|`.
macro_rules! bit_set {
    ($(#[$doc:meta])* $name:ident($raw:ty)) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name(pub $raw);

        impl $name {
            /// The raw bits.
            pub const fn bits(self) -> $raw {
                self.0
            }

            /// Whether every bit of `other` is set here.
            pub const fn contains(self, other: $name) -> bool {
                self.0 & other.0 == other.0
            }
        }

        impl core::ops::BitOr for $name {
            type Output = $name;
            fn bitor(self, rhs: $name) -> $name {
                $name(self.0 | rhs.0)
            }
        }
    };
}
pub(crate) use bit_set;

/// `pub const NAME: T = T(abi::ABI_NAME);` for each `NAME = ABI_NAME`,
/// documented by the `abi` name: the values a wrapper type takes from
/// `abi` as they are. Used inside the type's `impl`.
macro_rules! abi_consts {
    ($ty:ident; $($name:ident = $abi:ident),* $(,)?) => {
        $(
            #[doc = concat!("`", stringify!($abi), "`.")]
            pub const $name: $ty = $ty(abi::$abi);
        )*
    };
}
pub(crate) use abi_consts;

bit_set!(
    /// Handle rights (`ZX_RIGHT_*`).
    Rights(abi::Rights)
);

impl Rights {
    /// No rights.
    pub const NONE: Rights = Rights(0);
    abi_consts! {
        Rights;
        DUPLICATE = ZX_RIGHT_DUPLICATE,
        TRANSFER = ZX_RIGHT_TRANSFER,
        READ = ZX_RIGHT_READ,
        WRITE = ZX_RIGHT_WRITE,
        EXECUTE = ZX_RIGHT_EXECUTE,
        MAP = ZX_RIGHT_MAP,
        GET_PROPERTY = ZX_RIGHT_GET_PROPERTY,
        SET_PROPERTY = ZX_RIGHT_SET_PROPERTY,
        SIGNAL = ZX_RIGHT_SIGNAL,
        WAIT = ZX_RIGHT_WAIT,
        INSPECT = ZX_RIGHT_INSPECT,
    }
    /// `ZX_RIGHT_DESTROY` (`zx_task_kill`).
    pub const DESTROY: Rights = Rights(abi::ZX_RIGHT_DESTROY);
    /// `ZX_RIGHT_SAME_RIGHTS`.
    pub const SAME_RIGHTS: Rights = Rights(abi::ZX_RIGHT_SAME_RIGHTS);
}

impl core::ops::Sub for Rights {
    type Output = Rights;
    fn sub(self, rhs: Rights) -> Rights {
        Rights(self.0 & !rhs.0)
    }
}

bit_set!(
    /// Object signals (`ZX_*_SIGNAL*`).
    Signals(abi::Signals)
);

impl Signals {
    /// No signals.
    pub const NONE: Signals = Signals(0);
    abi_consts! {
        Signals;
        VMO_ZERO_CHILDREN = ZX_VMO_ZERO_CHILDREN,
        EVENT_SIGNALED = ZX_EVENT_SIGNALED,
        HANDLE_CLOSED = ZX_SIGNAL_HANDLE_CLOSED,
    }
    /// `ZX_TASK_TERMINATED`: the task has ended.
    pub const TASK_TERMINATED: Signals = Signals(abi::ZX_TASK_TERMINATED);
    /// `ZX_THREAD_TERMINATED`: the thread has ended (the same bit).
    pub const THREAD_TERMINATED: Signals = Signals(abi::ZX_THREAD_TERMINATED);
    abi_consts! {
        Signals;
        TIMER_SIGNALED = ZX_TIMER_SIGNALED,
        USER_0 = ZX_USER_SIGNAL_0,
        USER_1 = ZX_USER_SIGNAL_1,
        USER_ALL = ZX_USER_SIGNAL_ALL,
    }
}

/// The record of one `zx_object_get_info` topic.
///
/// # Safety
/// The type must be plain old data: integers (or arrays of them) with no
/// padding, so that any bytes the kernel writes make a valid value.
pub unsafe trait InfoRecord: Default {
    /// Its topic.
    const TOPIC: abi::InfoTopic;
}

macro_rules! info_records {
    ($($record:ty = $topic:expr),* $(,)?) => {$(
        // SAFETY: an abi info struct: `repr(C)` integers without padding.
        unsafe impl InfoRecord for $record {
            const TOPIC: abi::InfoTopic = $topic;
        }
    )*};
}

info_records!(
    abi::ZxInfoHandleBasic = abi::ZX_INFO_HANDLE_BASIC,
    abi::ZxInfoVmar = abi::ZX_INFO_VMAR,
    abi::ZxInfoHandleCount = abi::ZX_INFO_HANDLE_COUNT,
    abi::ZxInfoProcess = abi::ZX_INFO_PROCESS,
    abi::ZxInfoThread = abi::ZX_INFO_THREAD,
    abi::ZxInfoVmo = abi::ZX_INFO_VMO,
    abi::ZxInfoTaskEnd = abi::ZX_INFO_TASK_END,
    abi::ZxInfoKernelCounters = abi::ZX_INFO_KERNEL_COUNTERS,
);

/// `zx_object_get_info` on `h` for the topic whose record is `T`.
pub fn info_record<T: InfoRecord>(h: &(impl AsHandleRef + ?Sized)) -> Result<T, Status> {
    let mut info = T::default();
    // SAFETY: `T` is plain old data (`InfoRecord`'s contract), so its
    // bytes may be viewed and written as bytes.
    let buf = unsafe {
        core::slice::from_raw_parts_mut((&raw mut info).cast::<u8>(), core::mem::size_of::<T>())
    };
    h.get_info_raw(T::TOPIC, buf)?;
    Ok(info)
}

/// An owned handle; closed when dropped.
#[derive(Debug, PartialEq, Eq)]
pub struct Handle(abi::Handle);

impl Handle {
    /// `ZX_HANDLE_INVALID`.
    pub const fn invalid() -> Handle {
        Handle(abi::ZX_HANDLE_INVALID)
    }

    /// Takes ownership of a raw handle value.
    pub const fn from_raw(raw: abi::Handle) -> Handle {
        Handle(raw)
    }

    /// Gives up ownership, returning the raw value (not closed).
    pub fn into_raw(self) -> abi::Handle {
        let raw = self.0;
        core::mem::forget(self);
        raw
    }

    /// Whether this is `ZX_HANDLE_INVALID`.
    pub fn is_invalid(&self) -> bool {
        self.0 == abi::ZX_HANDLE_INVALID
    }

    /// `zx_handle_close`, reporting its status.
    pub fn close(self) -> Result<(), Status> {
        let raw = self.into_raw();
        // SAFETY: only a handle value is passed.
        Status::ok(unsafe { sys::status(Syscall::HandleClose, [raw as u64, 0, 0, 0, 0, 0, 0, 0]) })
    }

    /// `zx_handle_replace`: this handle goes, one with `rights` comes.
    pub fn replace(self, rights: Rights) -> Result<Handle, Status> {
        let raw = self.into_raw();
        let mut out: abi::Handle = 0;
        // SAFETY: `out` is a valid place for the new handle.
        let st = unsafe {
            sys::status(
                Syscall::HandleReplace,
                [
                    raw as u64,
                    rights.0 as u64,
                    &raw mut out as u64,
                    0,
                    0,
                    0,
                    0,
                    0,
                ],
            )
        };
        Status::ok(st).map(|()| Handle(out))
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if self.0 != abi::ZX_HANDLE_INVALID {
            // SAFETY: only a handle value is passed.
            unsafe { sys::call(Syscall::HandleClose, [self.0 as u64, 0, 0, 0, 0, 0, 0, 0]) };
        }
    }
}

/// Operations on anything that has a handle.
pub trait AsHandleRef {
    /// The raw handle value (still owned by `self`).
    fn raw_handle(&self) -> abi::Handle;

    /// `zx_object_wait_one`: waits until one of `signals` is active or
    /// `deadline` passes; the signals observed.
    fn wait_handle(&self, signals: Signals, deadline: Time) -> Result<Signals, Status> {
        let mut observed: abi::Signals = 0;
        // SAFETY: `observed` is a valid place for the signals.
        let st = unsafe {
            sys::status(
                Syscall::ObjectWaitOne,
                [
                    self.raw_handle() as u64,
                    signals.0 as u64,
                    deadline.into_nanos() as u64,
                    &raw mut observed as u64,
                    0,
                    0,
                    0,
                    0,
                ],
            )
        };
        match Status::ok(st) {
            Ok(()) => Ok(Signals(observed)),
            Err(e) => Err(e),
        }
    }

    /// `zx_object_wait_one` that also returns the observed signals on a time-out.
    fn wait_handle_observed(
        &self,
        signals: Signals,
        deadline: Time,
    ) -> (Result<(), Status>, Signals) {
        let mut observed: abi::Signals = 0;
        // SAFETY: `observed` is a valid place for the signals.
        let st = unsafe {
            sys::status(
                Syscall::ObjectWaitOne,
                [
                    self.raw_handle() as u64,
                    signals.0 as u64,
                    deadline.into_nanos() as u64,
                    &raw mut observed as u64,
                    0,
                    0,
                    0,
                    0,
                ],
            )
        };
        (Status::ok(st), Signals(observed))
    }

    /// `zx_object_wait_async`: a packet with `key` on `port` when one of
    /// `signals` is asserted (now or later).
    fn wait_async_handle(
        &self,
        port: &crate::Port,
        key: u64,
        signals: Signals,
        options: crate::WaitAsyncOpts,
    ) -> Result<(), Status> {
        crate::object_wait_async_raw(
            self.raw_handle(),
            port.raw_handle(),
            key,
            signals.0,
            options.into_raw(),
        )
    }

    /// `zx_object_signal`: clears then sets user signals.
    fn signal_handle(&self, clear: Signals, set: Signals) -> Result<(), Status> {
        // SAFETY: only values are passed.
        Status::ok(unsafe {
            sys::status(
                Syscall::ObjectSignal,
                [
                    self.raw_handle() as u64,
                    clear.0 as u64,
                    set.0 as u64,
                    0,
                    0,
                    0,
                    0,
                    0,
                ],
            )
        })
    }

    /// `zx_object_get_info` into `buf`; returns (actual, avail).
    fn get_info_raw(
        &self,
        topic: abi::InfoTopic,
        buf: &mut [u8],
    ) -> Result<(usize, usize), Status> {
        let (mut actual, mut avail) = (0usize, 0usize);
        // SAFETY: `buf`, `actual` and `avail` are valid places of the stated sizes.
        let st = unsafe {
            sys::status(
                Syscall::ObjectGetInfo,
                [
                    self.raw_handle() as u64,
                    topic as u64,
                    buf.as_mut_ptr() as u64,
                    buf.len() as u64,
                    &raw mut actual as u64,
                    &raw mut avail as u64,
                    0,
                    0,
                ],
            )
        };
        Status::ok(st).map(|()| (actual, avail))
    }

    /// `ZX_INFO_HANDLE_BASIC`.
    fn basic_info(&self) -> Result<abi::ZxInfoHandleBasic, Status> {
        info_record(self)
    }

    /// `zx_handle_duplicate` with `rights`.
    fn duplicate_handle(&self, rights: Rights) -> Result<Handle, Status> {
        let mut out: abi::Handle = 0;
        // SAFETY: `out` is a valid place for the new handle.
        let st = unsafe {
            sys::status(
                Syscall::HandleDuplicate,
                [
                    self.raw_handle() as u64,
                    rights.0 as u64,
                    &raw mut out as u64,
                    0,
                    0,
                    0,
                    0,
                    0,
                ],
            )
        };
        Status::ok(st).map(|()| Handle(out))
    }
}

impl AsHandleRef for Handle {
    fn raw_handle(&self) -> abi::Handle {
        self.0
    }
}

/// A typed handle that converts to and from a plain one.
pub trait HandleBased: AsHandleRef + From<Handle> + Into<Handle> {
    /// Duplicates with `rights`, keeping the type.
    fn duplicate(&self, rights: Rights) -> Result<Self, Status> {
        self.duplicate_handle(rights).map(Self::from)
    }

    /// Replaces with `rights`, keeping the type.
    fn replace_handle(self, rights: Rights) -> Result<Self, Status> {
        let h: Handle = self.into();
        h.replace(rights).map(Self::from)
    }
}

/// Declares a typed handle wrapper.
macro_rules! handle_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, PartialEq, Eq)]
        pub struct $name(pub(crate) $crate::Handle);

        impl $crate::AsHandleRef for $name {
            fn raw_handle(&self) -> abi::Handle {
                self.0.raw_handle()
            }
        }

        impl From<$crate::Handle> for $name {
            fn from(h: $crate::Handle) -> Self {
                $name(h)
            }
        }

        impl From<$name> for $crate::Handle {
            fn from(x: $name) -> $crate::Handle {
                x.0
            }
        }

        impl $crate::HandleBased for $name {}
    };
}
pub(crate) use handle_type;
