//! Ports (`zx_port_create`, `zx_port_queue`, `zx_port_wait`,
//! `zx_port_cancel`) and their packets, shaped like fuchsia-zircon's.

use crate::handle::handle_type;
use crate::sys;
use crate::{AsHandleRef, Handle, Signals, Status, Time};
use abi::{PortPacket, Syscall};

handle_type!(
    /// A port: a queue of packets from `queue` and from async waits
    /// ([`AsHandleRef::wait_async_handle`]).
    Port
);

/// `zx_object_wait_async`'s options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitAsyncOpts {
    /// One packet, then the wait ends (`ZX_WAIT_ASYNC_ONCE`).
    Once,
    /// Packets until canceled, at most one queued (`ZX_WAIT_ASYNC_REPEATING`).
    Repeating,
}

impl WaitAsyncOpts {
    /// The option value.
    pub const fn into_raw(self) -> u32 {
        match self {
            WaitAsyncOpts::Once => abi::ZX_WAIT_ASYNC_ONCE,
            WaitAsyncOpts::Repeating => abi::ZX_WAIT_ASYNC_REPEATING,
        }
    }
}

/// The 32 bytes of a user packet (`zx_packet_user_t`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserPacket(pub [u64; 4]);

impl UserPacket {
    /// A user packet from its bytes.
    pub fn from_u8_array(bytes: [u8; 32]) -> UserPacket {
        UserPacket(core::array::from_fn(|i| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&bytes[i * 8..i * 8 + 8]);
            u64::from_ne_bytes(w)
        }))
    }

    /// Its bytes.
    pub fn as_u8_array(&self) -> [u8; 32] {
        core::array::from_fn(|i| self.0[i / 8].to_ne_bytes()[i % 8])
    }
}

/// A signal packet's contents (`zx_packet_signal_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignalPacket(PortPacket);

impl SignalPacket {
    /// The signals the wait was made for.
    pub fn trigger(&self) -> Signals {
        Signals(self.0.trigger())
    }
    /// The signals asserted when the packet was queued (ORed with later
    /// ones while a REPEATING packet waited in the queue).
    pub fn observed(&self) -> Signals {
        Signals(self.0.observed())
    }
    /// The count (1 for every object here).
    pub fn count(&self) -> u64 {
        self.0.count()
    }
}

/// What a packet holds, by its type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketContents {
    /// `ZX_PKT_TYPE_USER`.
    User(UserPacket),
    /// `ZX_PKT_TYPE_SIGNAL_ONE`.
    SignalOne(SignalPacket),
    /// `ZX_PKT_TYPE_SIGNAL_REP`.
    SignalRep(SignalPacket),
    /// Any other type (none exist here).
    Unknown(u32),
}

/// A port packet (`zx_port_packet_t`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Packet(pub PortPacket);

impl Packet {
    /// A user packet with `key`, `status` and `user` contents.
    pub fn from_user_packet(key: u64, status: i32, user: UserPacket) -> Packet {
        Packet(PortPacket {
            key,
            packet_type: abi::ZX_PKT_TYPE_USER,
            status,
            payload: user.0,
        })
    }
    /// The key.
    pub fn key(&self) -> u64 {
        self.0.key
    }
    /// The status field.
    pub fn status(&self) -> i32 {
        self.0.status
    }
    /// The contents, by type.
    pub fn contents(&self) -> PacketContents {
        match self.0.packet_type {
            abi::ZX_PKT_TYPE_USER => PacketContents::User(UserPacket(self.0.payload)),
            abi::ZX_PKT_TYPE_SIGNAL_ONE => PacketContents::SignalOne(SignalPacket(self.0)),
            abi::ZX_PKT_TYPE_SIGNAL_REP => PacketContents::SignalRep(SignalPacket(self.0)),
            t => PacketContents::Unknown(t),
        }
    }
}

impl Port {
    /// `zx_port_create(0)`.
    pub fn create() -> Result<Port, Status> {
        Port::create_raw(0)
    }

    /// `zx_port_create(options)` with any value.
    pub fn create_raw(options: u32) -> Result<Port, Status> {
        let mut out = 0;
        // SAFETY: `out` is a valid place for the handle.
        let st = unsafe {
            sys::status(
                Syscall::PortCreate,
                [u64::from(options), &raw mut out as u64, 0, 0, 0, 0, 0, 0],
            )
        };
        Status::ok(st).map(|()| Port(Handle::from_raw(out)))
    }

    /// `zx_port_queue`: the packet's type becomes `ZX_PKT_TYPE_USER`.
    pub fn queue(&self, packet: &Packet) -> Result<(), Status> {
        // SAFETY: `packet` is a readable 48-byte packet.
        Status::ok(unsafe {
            sys::status(
                Syscall::PortQueue,
                [
                    u64::from(self.raw_handle()),
                    &raw const packet.0 as u64,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                ],
            )
        })
    }

    /// `zx_port_wait`: the oldest packet, waiting until `deadline`.
    pub fn wait(&self, deadline: Time) -> Result<Packet, Status> {
        let mut packet = Packet::default();
        // SAFETY: `packet` is a writable 48-byte packet.
        let st = unsafe {
            sys::status(
                Syscall::PortWait,
                [
                    u64::from(self.raw_handle()),
                    deadline.into_nanos() as u64,
                    &raw mut packet.0 as u64,
                    0,
                    0,
                    0,
                    0,
                    0,
                ],
            )
        };
        Status::ok(st).map(|()| packet)
    }

    /// `zx_port_cancel`: ends the async waits made through `source` with
    /// `key` and removes their queued packets.
    pub fn cancel<H: AsHandleRef>(&self, source: &H, key: u64) -> Result<(), Status> {
        // SAFETY: only values are passed.
        Status::ok(unsafe {
            sys::status(
                Syscall::PortCancel,
                [
                    u64::from(self.raw_handle()),
                    u64::from(source.raw_handle()),
                    key,
                    0,
                    0,
                    0,
                    0,
                    0,
                ],
            )
        })
    }
}

/// `zx_object_wait_async` on a raw handle (any values).
pub fn object_wait_async_raw(
    handle: abi::Handle,
    port: abi::Handle,
    key: u64,
    signals: abi::Signals,
    options: u32,
) -> Result<(), Status> {
    // SAFETY: only values are passed.
    Status::ok(unsafe {
        sys::status(
            Syscall::ObjectWaitAsync,
            [
                u64::from(handle),
                u64::from(port),
                key,
                u64::from(signals),
                u64::from(options),
                0,
                0,
                0,
            ],
        )
    })
}
