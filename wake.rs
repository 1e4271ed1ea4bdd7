// SPDX-License-Identifier: GPL-2.0

//! `UINTR_HANDLER_WAKE`: a post interrupts the system call its receiver
//! sleeps in, as a signal would.
//!
//! A receiver with the flag is in a CPU's list from its registration on,
//! like one with polled vectors.  When its thread leaves the CPU asleep
//! interruptibly (and entered the kernel with UIF set), the switch-out hook
//! marks it *wake-armed* and parks its UPID on the kernel vector
//! ([`crate::poll::park`]), so that a post reaches the kernel.  A post that
//! came earlier, after the system call began, is in PIR or in the UIRR the
//! switch's XSAVES saved: no kernel code saw it arrive, so the park looks
//! for both.  Either way the thread is *kicked* ([`kick_if_due`]): an
//! irq_work (the switch path holds the runqueue lock, the kernel-vector
//! handler a list lock that ranks below it) queues a task work with
//! `TWA_SIGNAL`, which wakes the thread as a signal does; its sleep ends
//! with one of the restart codes.  On the thread's way out, before the
//! signal code restarts the call, the task work gives the call the return
//! value [`crate::logic::wake`] chooses, and the exit-to-user hook replays
//! the post for the handler.
//!
//! At most one kick is made per stay of the thread in the kernel, and one
//! is on its way at a time, holding a reference on the receiver and, in
//! the C half, on its thread and on the module.  A kick that arrives after
//! the thread went back to user space (the post reached its handler
//! anyway) leaves the call it finds alone: the signal code restarts it.

use crate::{
    logic::wake,
    receiver::Receiver,
    stats,
    trace, //
};
use kernel::{
    ffi::{
        c_long,
        c_void, //
    },
    sync::{
        Arc,
        ArcBorrow, //
    },
};

/// Kicks the receiver at `owner` if its thread sleeps where a post should
/// wake it and a post waits for the handler.  Any context.
///
/// # Safety
///
/// `owner` is [`Arc::as_ptr`] of a receiver in a CPU's list, which the
/// caller keeps alive for the call.
pub(crate) unsafe fn kick_if_due(owner: *const c_void) {
    // SAFETY: Per the caller.
    let receiver = unsafe { &*owner.cast::<Receiver>() };
    // First: the marks below belong to this stay or a later one.
    let stay = receiver.stay();
    if !receiver.is_wake_armed() || receiver.is_dead() || !receiver.handler_pending() {
        return;
    }
    if !receiver.claim_kick(stay) {
        return;
    }
    // SAFETY: `owner` came from `Arc::as_ptr` and the receiver is live for
    // the call, per the caller.
    let held: Arc<Receiver> = unsafe { ArcBorrow::<Receiver>::from_raw(owner.cast()) }.into();
    // The kick's reference, given back in `uintr_rust_wake_done`.
    let _ = Arc::into_raw(held);
    // SAFETY: The receiver is in a list per the caller; the kick holds the
    // reference leaked above, and `claim_kick` rules out a second kick
    // until `uintr_rust_wake_done`.
    unsafe { receiver.queue().kick() };
}

/// The return value that the system call the kicked thread returns from,
/// which returned `ret`, should have: rewritten only if the handler runs
/// on this way out.  Called by the thread's task work, before the signal
/// code restarts the call.
///
/// # Safety
///
/// `owner` is a receiver on which the kick holds a reference.
#[no_mangle]
pub(crate) unsafe extern "C" fn uintr_rust_wake_return(owner: *mut c_void, ret: c_long) -> c_long {
    // SAFETY: Per the caller.
    let receiver = unsafe { &*owner.cast::<Receiver>() };
    let Some(mode) = receiver.wake_mode() else {
        return ret;
    };
    // A late kick, for a stay in the kernel that is over, or one whose
    // post another path took: the signal code restarts the call.  So do
    // the task work's runs outside a return from an interrupted call
    // (io_uring's own, an exiting thread's): no restart code there.
    if !wake::interrupted(ret as i64)
        || receiver.is_dead()
        || !receiver.kick_is_current()
        || !receiver.saved_uif()
        || !receiver.handler_pending()
    {
        return ret;
    }
    stats::WAKES.inc();
    // `c_long` is 64 bits wide on x86-64: the casts are exact.
    let now = wake::interrupted_return(mode, ret as i64);
    trace::wake(receiver.upid_addr(), ret as i64, now);
    now as c_long
}

/// The kick of the receiver at `owner` is over: its task work ran, or its
/// thread had ended.  Drops the kick's reference.  Any context.
///
/// # Safety
///
/// `owner` is a receiver whose kick holds a reference, given up here.
#[no_mangle]
pub(crate) unsafe extern "C" fn uintr_rust_wake_done(owner: *mut c_void) {
    // SAFETY: Per the caller.
    let receiver = unsafe { &*owner.cast::<Receiver>() };
    receiver.end_kick();
    // SAFETY: The kick's reference, leaked by `kick_if_due`.
    drop(unsafe { Arc::from_raw(owner.cast::<Receiver>()) });
}
