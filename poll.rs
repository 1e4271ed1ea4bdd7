// SPDX-License-Identifier: GPL-2.0

//! Polled receivers: how a post wakes the pollers of a vector fd while the
//! receiver is off its CPU.
//!
//! A receiver with polled vectors is in one CPU's list of polled receivers
//! (C side: `struct uintr_cpu` in `uintr_shim.c`) from its first counting
//! fd until it dies.  When its thread leaves a CPU, the switch-out hook
//! points its UPID at that list's CPU with the kernel vector instead of
//! suppressing notifications; a SENDUIPI then interrupts that CPU, whose
//! handler walks its own list, collects the polled vectors' posts of the
//! parked receivers and wakes their fds' pollers.
//!
//! The lists have no fixed size: an entry lives in the receiver's C half,
//! allocated with the receiver and charged to its creator's memory cgroup.
//! A list holds no reference on its receivers: a receiver leaves its list
//! under the list's lock when it dies, and is freed only after that.  When
//! a CPU goes offline, its receivers move to another CPU's list, and the
//! parked ones are pointed at that CPU (see [`moved`]).

use crate::{
    hw::vectors::{
        KERNEL_VECTOR,
        NOTIFICATION_VECTOR, //
    },
    logic,
    receiver::{
        Receiver,
        Wake, //
    },
    shim,
    stats,
    wake, //
};
use kernel::ffi::c_void;

/// The receiver's thread leaves its CPU: let a post interrupt the CPU of
/// its list.  `wake` says whether a post should interrupt the system call
/// the thread sleeps in ([`crate::wake`]).  Returns `false` if neither
/// that nor a polled vector needs the kernel to see posts.
///
/// Called from the switch-out hook, with interrupts disabled.
pub(crate) fn park(receiver: &Receiver, wake: bool) -> bool {
    // Before the UPID is parked: the kernel vector's handler reads it
    // once it sees a post.
    receiver.set_wake_armed(wake);
    if !receiver.has_polled() && !wake {
        return false;
    }
    receiver.queue().with_poll_cpu(park_locked)
}

/// [`park`] with the receiver's list locked.
///
/// # Safety
///
/// `owner` is a live receiver in the list of `cpu`, which is locked.
unsafe extern "C" fn park_locked(owner: *mut c_void, cpu: u32) {
    // SAFETY: A receiver leaves its list before it is freed, and the list
    // is locked.
    let receiver = unsafe { &*owner.cast::<Receiver>() };
    receiver.set_poll_parked();
    repark(receiver, cpu);
    stats::POLL_PARKS.inc();
    // A post since the system call began is in PIR or the saved UIRR.
    // SAFETY: In the list, which is locked.
    unsafe { wake::kick_if_due(owner) };
}

/// Points a parked receiver's UPID at `cpu` with the kernel vector and
/// collects the posts whose notification went elsewhere or nowhere.
fn repark(receiver: &Receiver, cpu: u32) {
    let ndst = shim::cpu_ndst(cpu);
    receiver.update_upid(|s| logic::upid::park(s, KERNEL_VECTOR, ndst));
    // Parking clears SN.  A receiver that died meanwhile (it is still in
    // the list until `kill` takes it out) stays suppressed: `kill` marks it
    // dead before it suppresses it, and both updates are full barriers, so
    // either its suppression comes after the park or this sees it dead.
    core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
    if receiver.is_dead() {
        receiver.update_upid(logic::upid::suspend);
        return;
    }
    receiver.collect_pir(Wake::Deferred);
}

/// The receiver's thread is on its way back to user space: notifications
/// carry the notification vector again, so that the CPU delivers posts to the
/// handler while the thread runs.  The caller resumes the UPID next.
///
/// Under the list's lock, so that a CPU going offline cannot park the UPID
/// again behind the thread's back ([`uintr_rust_poll_moved`]).
pub(crate) fn unpark(receiver: &Receiver) {
    if receiver.is_poll_parked() {
        receiver.queue().with_poll_cpu(unpark_locked);
    }
}

/// [`unpark`] with the receiver's list locked.
///
/// # Safety
///
/// `owner` is a live receiver in the list of a CPU, which is locked.
unsafe extern "C" fn unpark_locked(owner: *mut c_void, _cpu: u32) {
    // SAFETY: A receiver leaves its list before it is freed, and the list
    // is locked.
    let receiver = unsafe { &*owner.cast::<Receiver>() };
    if receiver.take_poll_parked() {
        receiver.update_upid(|s| logic::upid::unpark(s, NOTIFICATION_VECTOR));
    }
}

/// The kernel vector arrived on the CPU whose list holds `owner`: collect
/// for it if it is parked.  Returns whether it was.
///
/// # Safety
///
/// `owner` is a live receiver in this CPU's list, which is locked; hard
/// interrupt context.
#[no_mangle]
pub(crate) unsafe extern "C" fn uintr_rust_poll_kick(owner: *mut c_void) -> bool {
    // SAFETY: Per the caller.
    let receiver = unsafe { &*owner.cast::<Receiver>() };
    if !receiver.is_poll_parked() {
        return false;
    }
    // Clear ON first, so that the next post notifies again; a post made
    // in between is collected below and notifies once more, harmlessly.
    receiver.update_upid(logic::upid::renotify);
    // A system vector is never threaded: a wait queue's spinlock_t is not
    // for this context (PREEMPT_RT, lockdep's raw nesting check).
    if !receiver.collect_pir(Wake::Deferred) && !receiver.is_wake_armed() {
        stats::POLL_IDLE_KICKS.inc();
    }
    // SAFETY: In this CPU's list, which is locked.
    unsafe { wake::kick_if_due(owner) };
    true
}

/// The CPU of `owner`'s list went offline and `owner` is now in the list of
/// `cpu`, which is locked: a parked receiver follows.
///
/// # Safety
///
/// `owner` is a live receiver in the list of `cpu`, which is locked.
#[no_mangle]
pub(crate) unsafe extern "C" fn uintr_rust_poll_moved(owner: *mut c_void, cpu: u32) {
    // SAFETY: Per the caller.
    let receiver = unsafe { &*owner.cast::<Receiver>() };
    // A receiver in `UINTR_WAIT` is found through the waiter list.
    if receiver.is_poll_parked() && !receiver.is_waiting() {
        repark(receiver, cpu);
        // SAFETY: In the list of `cpu`, which is locked.
        unsafe { wake::kick_if_due(owner) };
    }
}
