// SPDX-License-Identifier: GPL-2.0

//! Blocking receivers: `UINTR_WAIT`.
//!
//! A receiver about to block puts itself into the list of waiters of the
//! CPU it runs on (C side: `struct uintr_cpu` in `uintr_shim.c`) and points
//! its UPID at that CPU with the kernel vector and notifications allowed.
//! A post then interrupts that CPU, whose handler wakes the waiters in its
//! own list.  A woken receiver restores the notification vector; its next
//! exit to user space replays what was posted into UIRR.
//!
//! The list entry lives in the receiver's C half, so there is no fixed
//! number of waiters.  If the CPU goes offline, its waiters are woken and
//! park again on the CPU they then run on.

use crate::{
    cpu::XstateGuard,
    hw::vectors::{
        KERNEL_VECTOR,
        NOTIFICATION_VECTOR, //
    },
    logic,
    poll,
    receiver::{
        Receiver,
        WaitFrom, //
    },
    shim,
    stats, //
};
use core::sync::atomic::Ordering;
use kernel::prelude::*;

/// Blocks until a user interrupt is pending for `receiver`, the calling
/// thread's receiver, or a post to it was counted on a polled fd.
/// `timeout_ns` < 0 means no timeout.
///
/// Fails with `ETIMEDOUT`, or `ERESTARTNOHAND` when a signal is pending: a
/// handler makes the wait fail with `EINTR`, a stop restarts it.  The
/// restart keeps the deadline, and returns at once if the handler ran on
/// the way out and back: a post made during the stop is replayed then,
/// before the call is made again.
pub(crate) fn wait(
    receiver: &Receiver,
    timeout_ns: i64,
    restart: Option<WaitFrom>,
    arg: usize,
) -> Result {
    let from = receiver.wait_from(restart, || shim::wait_deadline(timeout_ns));
    if receiver.replayed_since(&from) {
        return Ok(());
    }
    // Saving the registers disarms UINV, so from here on posts stay in the
    // PIR, and tells whether something already reached UIRR.
    {
        let mut guard = XstateGuard::lock();
        if guard.image().uirr != 0 {
            return Ok(());
        }
    }
    stats::WAITS.inc();
    let res = parked_sleep(receiver, u64::MAX, from.collections, from.expires);
    if res == Err(ERESTARTNOHAND) {
        receiver.arm_restart(&from, arg);
    }
    res
}

/// Sleeps in the waiter list until PIR holds a vector of `mask` or a post
/// was counted (the receiver's collections are no longer `collections`),
/// a signal is pending (`ERESTARTNOHAND`) or `expires` passed
/// (`ETIMEDOUT`).  The registers are saved, so posts stay in PIR.
fn parked_sleep(receiver: &Receiver, mask: u64, collections: u64, expires: i64) -> Result {
    let queue = receiver.queue();
    receiver.set_waiting(true);
    // A switch-out before this may have parked the UPID for the pollers;
    // from now on the waiter list is where a post must find the thread.
    poll::unpark(receiver);
    let res = loop {
        let cpu = queue.wait_park(receiver.upid_status());
        let ndst = shim::cpu_ndst(cpu);
        // Parking clears ON: the next post notifies.
        receiver.update_upid(|s| logic::upid::park(s, KERNEL_VECTOR, ndst));
        let res = queue.wait_sleep(
            receiver.pir_word(),
            mask,
            receiver.collections(),
            collections,
            expires,
        );
        receiver.update_upid(|s| logic::upid::unpark(s, NOTIFICATION_VECTOR));
        queue.wait_unpark();
        match res {
            // The CPU went offline; park again where the thread runs.
            Err(EAGAIN) => stats::WAIT_MOVES.inc(),
            // A post outside `mask` (for the handler) set ON.
            Ok(())
                if receiver.pir() & mask == 0
                    && receiver.collections().load(Ordering::SeqCst) == collections => {}
            _ => break res,
        }
    };
    receiver.set_waiting(false);
    res
}

/// A blocking `read()` of a counting fd of `vector` by the receiver's own
/// thread found nothing counted: sleeps as [`wait`] does, woken by the
/// kernel vector directly (the wait queue of the fds can only be woken
/// from it through an irq_work), until a polled vector is posted or a post
/// was counted.  The caller takes the count again.
///
/// Fails with `ERESTARTSYS` when a signal is pending, as a read of a pipe
/// does.
pub(crate) fn wait_for_count(receiver: &Receiver, vector: u8) -> Result {
    // Saving the registers disarms UINV, so from here on posts stay in
    // PIR; the save counts what reached UIRR for polled vectors.
    let collections = {
        let _guard = XstateGuard::lock();
        receiver.collections().load(Ordering::SeqCst)
    };
    if receiver.has_count(vector) {
        return Ok(());
    }
    match parked_sleep(receiver, receiver.polled(), collections, i64::MAX) {
        Err(ERESTARTNOHAND) => Err(ERESTARTSYS),
        res => res,
    }
}
