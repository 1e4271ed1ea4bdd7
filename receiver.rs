// SPDX-License-Identifier: GPL-2.0

//! A receiver: the thread that registered a handler, and its UPID.
//!
//! # Lifetime
//!
//! A [`Receiver`] is reference counted.  The thread holds one reference
//! (through its [`crate::task::TaskState`]), each vector fd holds one, and each
//! UITT entry that targets it holds one.  The UPID is embedded in the
//! receiver, so it stays valid for SENDUIPI as long as any entry can still
//! reach it.  When the thread exits, execs or unregisters, the receiver is
//! marked dead and its notifications are suppressed; the memory goes when
//! the last reference does.

use crate::{
    hw::upid::{
        Ndst,
        Upid, //
    },
    logic, stats,
};
use core::sync::atomic::{
    AtomicU64,
    Ordering, //
};
use kernel::{
    prelude::*,
    sync::{
        atomic::{
            ordering::{
                Acquire,
                Full,
                Release, //
            },
            AtomicFlag,
        },
        Arc,
    },
};

impl Drop for Receiver {
    fn drop(&mut self) {
        // A receiver that never went live (registration failed) still
        // counts until here.
        self.kill();
    }
}

/// A thread that receives user interrupts.
///
/// The UPID is shared with the hardware, which changes it with locked
/// read-modify-write operations (SENDUIPI, notification processing); this
/// module changes it the same way, computing each new word with
/// [`logic::upid`].
pub(crate) struct Receiver {
    upid: Upid,
    /// Set once the thread exited, exec'd or unregistered.
    dead: AtomicFlag,
    /// Set while the thread is blocked in `UINTR_WAIT`.
    waiting: AtomicFlag,
}

impl Receiver {
    /// A new live receiver whose UPID notifies `vector` at `ndst`,
    /// suppressed until the thread's next exit to user space.
    pub(crate) fn new(vector: u8, ndst: Ndst) -> Result<Arc<Self>> {
        let receiver = Arc::new(
            Self {
                upid: Upid::new(logic::upid::initial(vector, ndst)),
                dead: AtomicFlag::new(false),
                waiting: AtomicFlag::new(false),
            },
            GFP_KERNEL,
        )?;
        stats::RECEIVERS.inc();
        Ok(receiver)
    }

    /// The address the hardware uses for this receiver's UPID.
    pub(crate) fn upid_addr(&self) -> u64 {
        core::ptr::from_ref(&self.upid) as u64
    }

    /// Applies `f` to UPID word 0 atomically.
    pub(crate) fn update_upid(&self, f: impl Fn(u64) -> u64) {
        let status = &self.upid.status;
        let mut old = status.load(Ordering::Relaxed);
        loop {
            let new = f(old);
            if new == old {
                return;
            }
            match status.compare_exchange_weak(old, new, Ordering::SeqCst, Ordering::Relaxed) {
                Ok(_) => return,
                Err(cur) => old = cur,
            }
        }
    }

    /// The posted requests not yet moved to UIRR.
    pub(crate) fn pir(&self) -> u64 {
        self.upid.pir.load(Ordering::SeqCst)
    }

    /// The PIR word itself, for sleeping on.
    pub(crate) fn pir_word(&self) -> &AtomicU64 {
        &self.upid.pir
    }

    /// Whether the thread stopped receiving.
    pub(crate) fn is_dead(&self) -> bool {
        self.dead.load(Acquire)
    }

    /// Whether the thread is blocked in `UINTR_WAIT`.
    pub(crate) fn is_waiting(&self) -> bool {
        self.waiting.load(Acquire)
    }

    /// Marks the thread as blocked in `UINTR_WAIT` or not.
    pub(crate) fn set_waiting(&self, waiting: bool) {
        self.waiting.store(waiting, Release);
    }

    /// Stops receiving: new senders are refused and notifications are
    /// suppressed.  Posts through existing UITT entries stay harmless.
    pub(crate) fn kill(&self) {
        if !self.dead.xchg(true, Full) {
            stats::RECEIVERS.dec();
        }
        self.update_upid(logic::upid::suspend);
    }
}
