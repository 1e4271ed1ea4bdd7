// SPDX-License-Identifier: GPL-2.0

//! The module's UPID transitions, as pure functions on the 64-bit words.
//!
//! SENDUIPI updates a UPID with one locked read-modify-write: it sets the PIR bit and, when ON
//! and SN are both clear, sets ON and sends the notification vector to NDST. Notification
//! processing clears ON and then moves PIR into UIRR. The module changes word 0 with a
//! compare-exchange loop around [`resume`], [`suspend`], [`park`] or [`unpark`] and reads PIR
//! afterwards; it never writes PIR.
//!
//! A notification that arrives while UINV is not armed (the receiver is switched out, or its
//! state was saved in the kernel) goes through the IDT instead: the posted bits stay in PIR, and
//! ON may stay set. The next [`resume`] clears ON so that the next SENDUIPI notifies again, and
//! [`replay_needed`] tells the module to send the notification vector to itself so that the
//! CPU processes the leftover bits once UINV is armed.

use crate::hw::upid::{
    Ndst,
    UpidStatus, //
};

/// Word 0 of the sink that unused UITT entries point at: notifications suppressed, so a post
/// that lands there only sets a PIR bit nobody reads.
pub(crate) const SINK: u64 = UpidStatus::ZERO.with_sn(true).raw();

/// Returns word 0 of a new UPID: notifications go to `ndst` with vector `vector`, suppressed
/// until the receiver's first return to user space.
pub(crate) const fn initial(vector: u8, ndst: Ndst) -> u64 {
    UpidStatus::ZERO
        .with_nv(vector)
        .with_ndst(ndst)
        .with_sn(true)
        .raw()
}

/// Returns word 0 for a receiver about to return to user space on the CPU `ndst` names.
///
/// NDST points at this CPU, SN is clear so that senders notify again, and ON is clear: a set ON
/// left behind by a notification that went through the IDT would otherwise stop every later
/// sender from notifying. The caller reads PIR after its compare-exchange succeeded and asks
/// [`replay_needed`]; reading it before would miss a vector posted in between.
pub(crate) const fn resume(status: u64, ndst: Ndst) -> u64 {
    UpidStatus::from_raw(status)
        .with_ndst(ndst)
        .with_sn(false)
        .with_on(false)
        .raw()
}

/// Returns word 0 for a receiver leaving its CPU, or leaving UINTR: senders stop notifying.
///
/// Posted vectors still collect in PIR; the next [`resume`] replays them.
pub(crate) const fn suspend(status: u64) -> u64 {
    UpidStatus::from_raw(status).with_sn(true).raw()
}

/// Returns word 0 for a receiver about to sleep in the kernel until something is posted.
///
/// Notifications carry `kernel_vector` to the CPU `ndst` names, where the kernel's handler wakes
/// the sleeper; SN and ON are clear so that the next SENDUIPI notifies. The caller checks PIR
/// after its compare-exchange succeeded and does not sleep when it is not empty.
pub(crate) const fn park(status: u64, kernel_vector: u8, ndst: Ndst) -> u64 {
    UpidStatus::from_raw(status)
        .with_nv(kernel_vector)
        .with_ndst(ndst)
        .with_sn(false)
        .with_on(false)
        .raw()
}

/// Returns word 0 for a receiver woken from [`park`]: notifications carry `vector` again and stay
/// suppressed until the next [`resume`], which replays whatever was posted.
pub(crate) const fn unpark(status: u64, vector: u8) -> u64 {
    UpidStatus::from_raw(status)
        .with_nv(vector)
        .with_sn(true)
        .with_on(false)
        .raw()
}

/// Returns word 0 with ON clear, for the kernel-vector handler of a receiver parked for its
/// pollers: the next SENDUIPI notifies again. The caller collects PIR after its compare-exchange
/// succeeded, so a post made before it is collected and one made after it notifies.
pub(crate) const fn renotify(status: u64) -> u64 {
    UpidStatus::from_raw(status).with_on(false).raw()
}

/// Returns word 0 after a post the kernel makes itself, by SENDUIPI's rule: ON is set when
/// neither ON nor SN was. The caller has set the PIR bit before its compare-exchange.
pub(crate) const fn post(status: u64) -> u64 {
    let s = UpidStatus::from_raw(status);
    if s.on() || s.sn() {
        status
    } else {
        s.with_on(true).raw()
    }
}

/// Returns the notification that a kernel post which replaced word 0 `old` must send, as NV and
/// the raw NDST field, or `None` when ON or SN was already set and the post stays in PIR.
pub(crate) const fn post_notifies(old: u64) -> Option<(u8, u32)> {
    let s = UpidStatus::from_raw(old);
    if s.on() || s.sn() {
        None
    } else {
        Some((s.nv(), s.ndst_raw()))
    }
}

/// Returns whether the module must send the notification vector to its own CPU after [`resume`],
/// given the PIR it read after the compare-exchange.
///
/// Sent with interrupts disabled on the way to user space, the self-IPI is taken once UINV is
/// armed, and the CPU's notification processing moves PIR into UIRR.
pub(crate) const fn replay_needed(pir: u64) -> bool {
    pir != 0
}
