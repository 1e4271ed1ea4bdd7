// SPDX-License-Identifier: GPL-2.0

//! Watches: any pollable file as a source of user interrupts.
//!
//! A watch hangs a wait-queue entry (made by the C shim) on the wait queues
//! a file's `poll()` names, the way epoll and KVM's irqfd do, and posts one
//! user vector of one receiver on each wake-up that carries the events it
//! asked for.  Wake-ups run in any context, hard interrupts included
//! (timerfd wakes from its hrtimer): [`Receiver::post`] is the same post as
//! SENDUIPI makes, with no lock and no sleep.
//!
//! The watch is the private data of its handle fd.  It holds the receiver,
//! so a post never reaches freed memory; once the receiver is gone the next
//! wake-up detaches the watch instead of posting.  The C side holds the
//! source file and detaches the entry before the handle's release drops
//! the watch: after that no wake-up can run [`uintr_rust_watch_fire`].

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

/// The private data of a watch's handle fd.
pub(crate) struct Watch {
    receiver: Arc<Receiver>,
    vector: u8,
}

impl Watch {
    /// Attaches a watch of the file behind `source` for `events`, posting
    /// `vector` of `receiver`; returns the handle fd.
    pub(crate) fn install(
        receiver: Arc<Receiver>,
        vector: u8,
        source: u32,
        events: u32,
    ) -> Result<i32> {
        let watch = KBox::new(Watch { receiver, vector }, GFP_KERNEL_ACCOUNT)?;
        let raw = KBox::into_raw(watch);
        // Counted first: once installed, a close may release it at once.
        stats::WATCHES.inc();
        shim::watch_install(source, events, raw.cast()).inspect_err(|_| {
            // SAFETY: On failure nothing kept `raw`, which came from
            // `KBox::into_raw` above.
            drop(unsafe { KBox::from_raw(raw) });
            stats::WATCHES.dec();
        })
    }
}

/// A wake-up of the watched file carried a watched event: posts the vector.
/// Returns false, posting nothing, once the receiver is gone; the caller
/// then detaches the watch.  Any context.
///
/// # Safety
///
/// `watch` is the private data of a watch whose handle is not released.
#[no_mangle]
pub(crate) unsafe extern "C" fn uintr_rust_watch_fire(watch: *mut c_void) -> bool {
    // SAFETY: Live until the release, per the caller.
    let w = unsafe { &*watch.cast::<Watch>() };
    if w.receiver.is_dead() {
        return false;
    }
    w.receiver.post(w.vector, PostSource::Watch);
    stats::WATCH_POSTS.inc();
    true
}

/// Frees a watch once its entry is off every wait queue.
///
/// # Safety
///
/// `watch` came from [`Watch::install`] and no wake-up can reach it any
/// more.
#[no_mangle]
pub(crate) unsafe extern "C" fn uintr_rust_watch_release(watch: *mut c_void) {
    // SAFETY: Owned by the handle, which is being released, per the caller.
    drop(unsafe { KBox::from_raw(watch.cast::<Watch>()) });
    stats::WATCHES.dec();
}
