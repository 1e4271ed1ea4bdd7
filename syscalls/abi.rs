// SPDX-License-Identifier: GPL-2.0

//! The ioctl ABI of `/dev/uintr` in Rust.
//!
//! C header: [`include/uapi/linux/uintr.h`](../../include/uapi/linux/uintr.h)
//!
//! Each structure mirrors its C counterpart field by field; the size
//! assertions below and the selftests (which use the C header) keep the two
//! in step.

use kernel::{
    ioctl::{
        _IO,
        _IOW, //
    },
    transmute::FromBytes,
};

/// `struct uintr_handler_args`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct HandlerArgs {
    pub(crate) handler: u64,
    pub(crate) stack: u64,
    pub(crate) flags: u32,
    pub(crate) reserved: u32,
}

/// `struct uintr_vector_args` and `struct uintr_self_args`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct VectorArgs {
    pub(crate) vector: u32,
    pub(crate) flags: u32,
}

/// `struct uintr_sender_args`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct SenderArgs {
    pub(crate) fd: i32,
    pub(crate) flags: u32,
}

/// `struct uintr_wait_args`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct WaitArgs {
    pub(crate) timeout_ns: i64,
    pub(crate) flags: u32,
    pub(crate) reserved: u32,
}

/// `struct uintr_watch_args`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct WatchArgs {
    pub(crate) source_fd: i32,
    pub(crate) vector_fd: i32,
    pub(crate) events: u32,
    pub(crate) flags: u32,
}

/// `struct uintr_timer_args`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct TimerArgs {
    pub(crate) vector_fd: i32,
    pub(crate) flags: u32,
    pub(crate) initial_ns: i64,
    pub(crate) period_ns: i64,
}

const _: () = assert!(core::mem::size_of::<HandlerArgs>() == 24);
const _: () = assert!(core::mem::size_of::<TimerArgs>() == 24);
const _: () = assert!(core::mem::size_of::<VectorArgs>() == 8);
const _: () = assert!(core::mem::size_of::<SenderArgs>() == 8);
const _: () = assert!(core::mem::size_of::<WaitArgs>() == 16);
const _: () = assert!(core::mem::size_of::<WatchArgs>() == 16);

// SAFETY: All fields are integers, for which every bit pattern is valid, and
// the layout has no padding (checked by the size assertions above).
unsafe impl FromBytes for HandlerArgs {}
// SAFETY: As for `HandlerArgs`.
unsafe impl FromBytes for VectorArgs {}
// SAFETY: As for `HandlerArgs`.
unsafe impl FromBytes for SenderArgs {}
// SAFETY: As for `HandlerArgs`.
unsafe impl FromBytes for WaitArgs {}
// SAFETY: As for `HandlerArgs`.
unsafe impl FromBytes for WatchArgs {}
// SAFETY: As for `HandlerArgs`.
unsafe impl FromBytes for TimerArgs {}

/// `UINTR_HANDLER_ALT_STACK`.
pub(crate) const HANDLER_ALT_STACK: u32 = 1 << 0;
/// `UINTR_HANDLER_WAKE`.
pub(crate) const HANDLER_WAKE: u32 = 1 << 1;
/// `UINTR_HANDLER_RESTART`.
pub(crate) const HANDLER_RESTART: u32 = 1 << 2;
/// `UINTR_VECTOR_FD_POLL`.
pub(crate) const VECTOR_FD_POLL: u32 = 1 << 0;
/// `UINTR_WAIT_TIMEOUT`.
pub(crate) const WAIT_TIMEOUT: u32 = 1 << 0;
/// `UINTR_TIMER_ABSTIME`.
pub(crate) const TIMER_ABSTIME: u32 = 1 << 0;
/// `UINTR_TIMER_MIN_PERIOD_NS`.
pub(crate) const TIMER_MIN_PERIOD_NS: i64 = 10000;

const MAGIC: u32 = 0xE7;

const REGISTER_HANDLER: u32 = _IOW::<HandlerArgs>(MAGIC, 0x00);
const UNREGISTER_HANDLER: u32 = _IO(MAGIC, 0x01);
const CREATE_VECTOR_FD: u32 = _IOW::<VectorArgs>(MAGIC, 0x02);
const REGISTER_SENDER: u32 = _IOW::<SenderArgs>(MAGIC, 0x03);
const UNREGISTER_SENDER: u32 = _IO(MAGIC, 0x04);
const REGISTER_SELF: u32 = _IOW::<VectorArgs>(MAGIC, 0x05);
const WAIT: u32 = _IOW::<WaitArgs>(MAGIC, 0x06);
const WATCH_FD: u32 = _IOW::<WatchArgs>(MAGIC, 0x07);
const CREATE_TIMER: u32 = _IOW::<TimerArgs>(MAGIC, 0x08);

/// A decoded `/dev/uintr` command.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command {
    /// `UINTR_REGISTER_HANDLER`.
    RegisterHandler,
    /// `UINTR_UNREGISTER_HANDLER`.
    UnregisterHandler,
    /// `UINTR_CREATE_VECTOR_FD`.
    CreateVectorFd,
    /// `UINTR_REGISTER_SENDER`.
    RegisterSender,
    /// `UINTR_UNREGISTER_SENDER`.
    UnregisterSender,
    /// `UINTR_REGISTER_SELF`.
    RegisterSelf,
    /// `UINTR_WAIT`.
    Wait,
    /// `UINTR_WATCH_FD`.
    WatchFd,
    /// `UINTR_CREATE_TIMER`.
    CreateTimer,
}

impl Command {
    /// Decodes `cmd`, or `None` for a command this device does not know.
    pub(crate) fn decode(cmd: u32) -> Option<Self> {
        Some(match cmd {
            REGISTER_HANDLER => Self::RegisterHandler,
            UNREGISTER_HANDLER => Self::UnregisterHandler,
            CREATE_VECTOR_FD => Self::CreateVectorFd,
            REGISTER_SENDER => Self::RegisterSender,
            UNREGISTER_SENDER => Self::UnregisterSender,
            REGISTER_SELF => Self::RegisterSelf,
            WAIT => Self::Wait,
            WATCH_FD => Self::WatchFd,
            CREATE_TIMER => Self::CreateTimer,
            _ => return None,
        })
    }
}
