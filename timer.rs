// SPDX-License-Identifier: GPL-2.0

//! Timers: a user interrupt at a time and every period, from the kernel.
//!
//! A timer is an hrtimer in the C shim whose hard-interrupt callback
//! posts one user vector of one receiver and re-arms itself: unlike a
//! timerfd watched with `UINTR_WATCH_FD`, which runs on only once read, it
//! costs the receiver no system call per period.  The timer is the private
//! data of its handle fd and holds the receiver, so a post never reaches
//! freed memory; once the receiver is gone the next expiry stops the timer
//! instead of posting.  The handle's release cancels the hrtimer (waiting
//! for a running callback) before it drops the timer.

use crate::{
    receiver::Receiver,
    shim,
    stats,
    trace::PostSource, //
};
use kernel::{
    ffi::c_void,
    prelude::*,
    sync::Arc, //
};

/// The private data of a timer's handle fd.
pub(crate) struct Timer {
    receiver: Arc<Receiver>,
    vector: u8,
}

impl Timer {
    /// Starts a timer posting `vector` of `receiver` at `initial_ns`
    /// (absolute if `abs`) and every `period_ns` (0: once); returns its
    /// handle fd.  The caller checked the times.
    pub(crate) fn start(
        receiver: Arc<Receiver>,
        vector: u8,
        initial_ns: i64,
        period_ns: i64,
        abs: bool,
    ) -> Result<i32> {
        let timer = KBox::new(Timer { receiver, vector }, GFP_KERNEL_ACCOUNT)?;
        let raw = KBox::into_raw(timer);
        // Counted first: once installed, a close may release it at once.
        stats::TIMERS.inc();
        shim::timer_install(initial_ns, period_ns, abs, raw.cast()).inspect_err(|_| {
            // SAFETY: On failure nothing kept `raw`, which came from
            // `KBox::into_raw` above.
            drop(unsafe { KBox::from_raw(raw) });
            stats::TIMERS.dec();
        })
    }
}

/// The timer expired: posts the vector.  Returns false, posting nothing,
/// once the receiver is gone; the timer then stops.  Hard interrupt.
///
/// # Safety
///
/// `timer` is the private data of a timer whose handle is not released.
#[no_mangle]
pub(crate) unsafe extern "C" fn uintr_rust_timer_fire(timer: *mut c_void) -> bool {
    // SAFETY: Live until the release, which cancels the hrtimer first.
    let t = unsafe { &*timer.cast::<Timer>() };
    if t.receiver.is_dead() {
        return false;
    }
    t.receiver.post(t.vector, PostSource::Timer);
    stats::TIMER_POSTS.inc();
    true
}

/// Frees a timer once its hrtimer is cancelled.
///
/// # Safety
///
/// `timer` came from [`Timer::start`] and its callback cannot run any more.
#[no_mangle]
pub(crate) unsafe extern "C" fn uintr_rust_timer_release(timer: *mut c_void) {
    // SAFETY: Owned by the handle, which is being released, per the caller.
    drop(unsafe { KBox::from_raw(timer.cast::<Timer>()) });
    stats::TIMERS.dec();
}
