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
    cpu::{
        FpregsGuard,
        XstateGuard, //
    },
    fpu_hooks,
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
use kernel::prelude::*;

/// Makes the CPU leave posts to the calling thread's receiver in PIR,
/// where a sleeper can see them: disarms UINV and counts what reached UIRR
/// for polled vectors.  Returns whether UIRR holds a post for the handler.
///
/// Live registers stay live (UINV is disarmed by WRMSR, not by an XSAVES
/// that would invalidate them), so that the thread's return to user space
/// after its sleep can reuse them and arm UINV with a WRMSR instead of
/// loading everything with XRSTORS.  Saved ones are looked at in the image,
/// whose XSAVES disarmed UINV and counted the polled vectors already.
fn quiesce(receiver: &Receiver) -> bool {
    {
        let mut fpregs = FpregsGuard::lock();
        if fpregs.registers_live() {
            fpu_hooks::disarm_this_cpu(&mut fpregs.cpu());
            return fpu_hooks::collect_live_uirr(&mut fpregs.cpu(), receiver) != 0;
        }
    }
    XstateGuard::lock().image().uirr != 0
}

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
    if quiesce(receiver) {
        return Ok(());
    }
    let queue = receiver.queue();
    stats::WAITS.inc();
    receiver.set_waiting(true);
    // A switch-out before this may have parked the UPID for the pollers;
    // from now on the waiter list is where a post must find the thread.
    poll::unpark(receiver);
    let res = loop {
        let cpu = queue.wait_park(receiver.upid_status());
        let ndst = shim::cpu_ndst(cpu);
        receiver.update_upid(|s| logic::upid::park(s, KERNEL_VECTOR, ndst));
        let res = queue.wait_sleep(
            receiver.pir_word(),
            receiver.collections(),
            from.collections,
            from.expires,
        );
        receiver.update_upid(|s| logic::upid::unpark(s, NOTIFICATION_VECTOR));
        queue.wait_unpark();
        // EAGAIN: the CPU went offline; park again where the thread runs.
        if res != Err(EAGAIN) {
            break res;
        }
        stats::WAIT_MOVES.inc();
    };
    receiver.set_waiting(false);
    if res == Err(ERESTARTNOHAND) {
        receiver.arm_restart(&from, arg);
    }
    res
}
