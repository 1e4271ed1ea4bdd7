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
//!
//! # Pollable vectors
//!
//! Vectors whose fds were created with `UINTR_VECTOR_FD_POLL` are *polled*:
//! the posts to them that the kernel finds pending, in PIR or in the UIRR of
//! a saved image, are collected into per-vector counts that `read()` on the
//! fds returns, instead of being left for the handler.  A receiver with
//! polled vectors holds a slot in one CPU's table ([`crate::poll`]) until it
//! dies, so that while it is off its CPU its UPID can name that CPU with the
//! kernel vector and a post wakes the fds' pollers.  The slot holds a
//! reference, dropped an RCU grace period after the slot is emptied.

use crate::{
    hw::{
        upid::{
            Ndst,
            Upid, //
        },
        xstate::UintrState,
    },
    logic::{
        self,
        fpu::MsrWrite, //
    },
    poll::{
        self,
        PollSlot, //
    },
    shim::PollQueue,
    stats,
};
use core::sync::atomic::{
    AtomicU32,
    AtomicU64,
    Ordering, //
};
use kernel::{
    ffi::c_void,
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

/// User vectors 0..63.
const VECTORS: usize = 64;

/// How a collection wakes the pollers.
#[derive(Clone, Copy)]
pub(crate) enum Wake {
    /// Directly: process context (`poll()`, `read()`).
    Now,
    /// Through the irq_work: the switch path (runqueue lock held), the
    /// hooks that run in any context, and the kernel-vector handler (a
    /// system vector, where a wait queue's `spinlock_t` may not be taken).
    Deferred,
}

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
    /// The polled vectors, one bit per user vector; bits are only added.
    polled: AtomicU64,
    /// Posts collected for each polled vector and not read yet.
    counts: [AtomicU64; VECTORS],
    /// Open counting fds of each vector.
    fds: [AtomicU32; VECTORS],
    /// The slot in a CPU's table of polled receivers, once there is one.
    /// ([`PollSlot::into_raw`]).
    slot: AtomicU32,
    /// Set while the thread is off its CPU with the UPID pointing at the
    /// slot's CPU and the kernel vector.
    poll_parked: AtomicFlag,
    /// Where pollers and readers of the fds sleep.
    queue: PollQueue,
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
                polled: AtomicU64::new(0),
                counts: [const { AtomicU64::new(0) }; VECTORS],
                fds: [const { AtomicU32::new(0) }; VECTORS],
                slot: AtomicU32::new(PollSlot::NONE),
                poll_parked: AtomicFlag::new(false),
                queue: PollQueue::new()?,
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
    /// Pollers of the fds see the end.
    pub(crate) fn kill(&self) {
        if !self.dead.xchg(true, Full) {
            stats::RECEIVERS.dec();
        }
        self.update_upid(logic::upid::suspend);
        if let Some(slot) = PollSlot::from_raw(self.slot.load(Ordering::Acquire)) {
            if let Some(owner) = poll::release(slot, self) {
                // The handler may still use the pointer it read from the
                // slot; it runs with interrupts off, so the slot's reference
                // goes after a grace period.
                self.queue.put_later(owner.cast());
            }
        }
        self.queue.wake();
    }

    /// Makes `vector` polled for one more counting fd.  Takes a slot in a
    /// CPU's table the first time (`ENOSPC` when all are taken).
    ///
    /// Called by the receiver thread itself, in its ioctl.
    pub(crate) fn get_polled(self: &Arc<Self>, vector: u8) -> Result {
        let fds = self.fds.get(usize::from(vector)).ok_or(EINVAL)?;
        if PollSlot::from_raw(self.slot.load(Ordering::Acquire)).is_none() {
            let slot = poll::claim(self.clone())?;
            // The hooks read `polled` first and then the slot.
            self.slot.store(slot.into_raw(), Ordering::Release);
        }
        fds.fetch_add(1, Ordering::SeqCst);
        self.sync_polled(vector);
        Ok(())
    }

    /// One counting fd of `vector` is gone.  When it was the last, posts to
    /// `vector` reach the handler again, and those counted but never read
    /// go back to PIR, for the handler at the receiver's next return to
    /// user space.
    pub(crate) fn put_polled(&self, vector: u8) {
        if let Some(fds) = self.fds.get(usize::from(vector)) {
            fds.fetch_sub(1, Ordering::SeqCst);
            self.sync_polled(vector);
        }
    }

    /// Makes the bit of `vector` in `polled` say whether a counting fd of
    /// it is open.
    ///
    /// Concurrent callers each write the bit and then check that the fd
    /// count did not change meanwhile, so the last writer wrote the right
    /// value.
    fn sync_polled(&self, vector: u8) {
        let Some(fds) = self.fds.get(usize::from(vector)) else {
            return;
        };
        let bit = 1u64 << vector;
        loop {
            let n = fds.load(Ordering::SeqCst);
            if n > 0 {
                self.polled.fetch_or(bit, Ordering::SeqCst);
            } else {
                self.polled.fetch_and(!bit, Ordering::SeqCst);
                self.return_counts(vector);
            }
            if fds.load(Ordering::SeqCst) == n {
                return;
            }
        }
    }

    /// Posts counted for `vector`, which is no longer polled, go back to PIR.
    fn return_counts(&self, vector: u8) {
        let Some(count) = self.counts.get(usize::from(vector)) else {
            return;
        };
        if count.swap(0, Ordering::SeqCst) != 0 {
            self.upid.pir.fetch_or(1 << vector, Ordering::SeqCst);
        }
    }

    /// The CPU whose table holds this receiver, if it has polled vectors.
    pub(crate) fn poll_cpu(&self) -> Option<u32> {
        if self.polled.load(Ordering::Acquire) == 0 {
            return None;
        }
        PollSlot::from_raw(self.slot.load(Ordering::Acquire)).map(PollSlot::cpu)
    }

    /// Whether the thread is off its CPU with the UPID on the kernel vector
    /// for its pollers.
    pub(crate) fn is_poll_parked(&self) -> bool {
        self.poll_parked.load(Acquire)
    }

    /// Marks the thread as parked for its pollers.
    pub(crate) fn set_poll_parked(&self) {
        self.poll_parked.store(true, Release);
    }

    /// Clears the parked mark; returns whether it was set.
    pub(crate) fn take_poll_parked(&self) -> bool {
        self.poll_parked.xchg(false, Full)
    }

    /// Counts one post for each polled vector in `bits`; returns whether
    /// there was any.
    fn count(&self, bits: u64) -> bool {
        let mut rest = bits;
        while rest != 0 {
            let vector = rest.trailing_zeros() as usize;
            rest &= rest - 1;
            if let Some(c) = self.counts.get(vector) {
                c.fetch_add(1, Ordering::SeqCst);
                stats::COLLECTED.inc();
                // The last counting fd may have closed since `polled` was
                // read: then nobody reads this count.
                if self.polled.load(Ordering::SeqCst) & (1 << vector) == 0 {
                    self.return_counts(vector as u8);
                }
            }
        }
        bits != 0
    }

    /// Moves the polled vectors posted in PIR into their counts and wakes
    /// the pollers if there were any, as `wake` says.  Any context.
    ///
    /// Clearing a PIR bit is a locked operation like the CPU's own, so a
    /// post goes either here or into UIRR, never both.
    pub(crate) fn collect_pir(&self, wake: Wake) -> bool {
        let polled = self.polled.load(Ordering::Acquire);
        if logic::poll::collect_posted(self.pir(), polled) == 0 {
            return false;
        }
        let taken =
            logic::poll::collect_posted(self.upid.pir.fetch_and(!polled, Ordering::SeqCst), polled);
        let any = self.count(taken);
        if any {
            match wake {
                Wake::Now => self.queue.wake_now(),
                Wake::Deferred => self.queue.wake(),
            }
        }
        any
    }

    /// Moves the polled vectors pending in the UIRR of `image`, just saved
    /// from the receiver's registers, into their counts, and wakes the
    /// pollers if there were any.  Returns the write that drops them from
    /// the live UIRR too ([`logic::poll::collect_saved`]).  Any context.
    pub(crate) fn collect_image(&self, image: &mut UintrState) -> Option<MsrWrite> {
        let polled = self.polled.load(Ordering::Acquire);
        let (taken, write) = logic::poll::collect_saved(image, polled)?;
        self.count(taken);
        self.queue.wake();
        Some(write)
    }

    /// Whether posts to `vector` wait to be read.
    pub(crate) fn has_count(&self, vector: u8) -> bool {
        self.counts
            .get(usize::from(vector))
            .is_some_and(|c| c.load(Ordering::SeqCst) != 0)
    }

    /// Takes the count of `vector`, leaving zero.
    pub(crate) fn take_count(&self, vector: u8) -> u64 {
        self.counts
            .get(usize::from(vector))
            .map_or(0, |c| c.swap(0, Ordering::SeqCst))
    }

    /// Gives back `count` posts to `vector` that could not be handed over.
    pub(crate) fn untake_count(&self, vector: u8, count: u64) {
        if let Some(c) = self.counts.get(usize::from(vector)) {
            c.fetch_add(count, Ordering::SeqCst);
            self.queue.wake();
        }
    }

    /// The wait queue of the fds.
    pub(crate) fn queue(&self) -> &PollQueue {
        &self.queue
    }
}

/// Drops a receiver reference a slot held (see [`Receiver::kill`]).
///
/// # Safety
///
/// `receiver` came from `Arc::into_raw` and is not used afterwards.
#[no_mangle]
pub(crate) unsafe extern "C" fn uintr_rust_receiver_put(receiver: *mut c_void) {
    // SAFETY: Guaranteed by the caller.
    drop(unsafe { Arc::from_raw(receiver.cast::<Receiver>()) });
}
