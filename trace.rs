// SPDX-License-Identifier: GPL-2.0

//! Tracepoints: where a user interrupt the kernel had a hand in went.
//!
//! The events are defined in C (`uintr_trace.h`, system `uintr`) and
//! fired through the shim; the kernel vector's event is fired by the C
//! handler itself.  Each call is one function call when the event is off.

use crate::{
    hw::{
        self,
        upid::UpidStatus, //
    },
    shim::tracepoints, //
};

/// Who made a kernel post.
#[derive(Clone, Copy)]
pub(crate) enum PostSource {
    /// The unread count of a vector whose last counting fd closed.
    GiveBack = 0,
    /// A watched file woke up (`UINTR_WATCH_FD`).
    Watch = 1,
    /// A timer expired (`UINTR_CREATE_TIMER`).
    Timer = 2,
}

/// A thread became a receiver (`alive`) or stopped being one.
pub(crate) fn receiver(upid: u64, alive: bool) {
    tracepoints::receiver(upid, alive);
}

/// The kernel posted `vector` to the UPID at `upid`, whose status word was
/// `old` before; `notified` is the notification it sent, if any (vector
/// and NDST), and `dead` whether the receiver is gone.
pub(crate) fn kernel_post(
    upid: u64,
    vector: u8,
    source: PostSource,
    old: u64,
    notified: Option<(u8, u32)>,
    dead: bool,
) {
    let how = match notified {
        _ if dead => 3,
        None => 0,
        Some((nv, _)) if nv == hw::vectors::KERNEL_VECTOR => 2,
        Some(_) => 1,
    };
    let ndst = UpidStatus::from_raw(old).ndst_raw();
    tracepoints::kernel_post(upid, vector.into(), source as u32, how, ndst);
}

/// The receiver's exit to user space replayed `pir`.
pub(crate) fn replay(upid: u64, pir: u64) {
    tracepoints::replay(upid, pir);
}

/// Posts to `vectors` were counted on their fds, taken from PIR or, with
/// `from_registers`, from the saved UIRR.
pub(crate) fn collect(upid: u64, vectors: u64, from_registers: bool) {
    tracepoints::collect(upid, vectors, from_registers);
}

/// A post interrupted the system call of the receiver at `upid`, which
/// returned `ret` and now returns `now`.
pub(crate) fn wake(upid: u64, ret: i64, now: i64) {
    tracepoints::wake(upid, ret, now);
}
