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
//! polled vectors is in one CPU's list ([`crate::poll`]) until it dies, so
//! that while it is off its CPU its UPID can name that CPU with the kernel
//! vector and a post wakes the fds' pollers.  It leaves the list in
//! [`Receiver::kill`], which runs before its last reference can go.
//!
//! # Posts by the kernel
//!
//! Posts that the kernel makes itself (a count given back to the handler)
//! go through [`Receiver::post`], which follows SENDUIPI's rule: set the PIR
//! bit, and notify NDST with NV if ON and SN were both clear.  A receiver
//! blocked in `UINTR_WAIT` is woken like by any other post; one parked for
//! its pollers gets a post to a vector that is not polled at its next
//! return to user space, as it would get one from SENDUIPI.

use crate::{
    hw::{
        msr::Misc,
        upid::{
            Ndst,
            Upid, //
        },
        xstate::UintrState,
    },
    logic::{
        self,
        fpu::MsrWrite,
        wake::Mode, //
    },
    shim::{
        self,
        PollQueue, //
    },
    stats,
    trace::{
        self,
        PostSource, //
    },
};
use core::sync::atomic::{
    AtomicBool,
    AtomicI64,
    AtomicU32,
    AtomicU64,
    AtomicUsize,
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

/// User vectors 0..63.
const VECTORS: usize = 64;

/// The part of a `UINTR_WAIT` that outlives a restart: it continues with
/// the same deadline, and returns at once if the handler ran on the way
/// out and back (a post during the stop is replayed then, before the call
/// is made again).
pub(crate) struct WaitRestart {
    /// [`WaitRestart::NONE`], [`WaitRestart::ARMED`] or
    /// [`WaitRestart::RESTARTING`].
    state: AtomicU32,
    /// The user address of the wait's arguments: the restarted call is
    /// the same ioctl with the same argument.
    arg: AtomicUsize,
    expires: AtomicI64,
    collections: AtomicU64,
    replays: AtomicU64,
}

/// What a restarted `UINTR_WAIT` continues from.
pub(crate) struct WaitFrom {
    /// Its absolute expiry.
    pub(crate) expires: i64,
    /// [`Receiver::collections`] when it began.
    pub(crate) collections: u64,
    /// The receiver's replays when it began.
    pub(crate) replays: u64,
}

impl WaitRestart {
    const NONE: u32 = 0;
    /// The wait returned `ERESTARTNOHAND`; the exit to user space tells
    /// whether it is being restarted.
    const ARMED: u32 = 1;
    /// It is: the thread's next ioctl on the device is the restart, and
    /// takes it (see [`Receiver::take_restart`]).
    const RESTARTING: u32 = 2;

    const fn new() -> Self {
        Self {
            state: AtomicU32::new(Self::NONE),
            arg: AtomicUsize::new(0),
            expires: AtomicI64::new(0),
            collections: AtomicU64::new(0),
            replays: AtomicU64::new(0),
        }
    }
}

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
    /// Set under the collection lock by the receiver's last collection of
    /// PIR ([`Self::kill`]); no collection counts anything after it.
    sealed: AtomicBool,
    /// Set while the thread is blocked in `UINTR_WAIT`.
    waiting: AtomicFlag,
    /// The polled vectors, one bit per user vector; bits are only added.
    polled: AtomicU64,
    /// Posts collected for each polled vector and not read yet.
    counts: [AtomicU64; VECTORS],
    /// Open counting fds of each vector.
    fds: [AtomicU32; VECTORS],
    /// Posts collected into counts so far: `UINTR_WAIT` returns when it
    /// changes, also when a reader took the count meanwhile.
    collections: AtomicU64,
    /// Returns to user space that replayed PIR, so that the handler ran.
    replays: AtomicU64,
    /// A `UINTR_WAIT` that a stop interrupted, and what its restart
    /// continues from.  Only the receiver thread uses it.
    restart: WaitRestart,
    /// Set while the thread is off its CPU with the UPID pointing at the
    /// slot's CPU and the kernel vector.
    poll_parked: AtomicFlag,
    /// Where pollers and readers of the fds sleep.
    queue: PollQueue,
    /// `UINTR_HANDLER_WAKE`: how a post ends a system call the thread
    /// sleeps in, if it does.
    wake: Option<Mode>,
    /// What the thread's last XSAVES saved: [`Self::SAVED_UIF`] and
    /// [`Self::SAVED_UIRR`].  Written on the thread's own CPU.
    saved: AtomicU32,
    /// Set while the thread is off its CPU, asleep in a system call a post
    /// should interrupt ([`crate::wake`]).
    wake_armed: AtomicFlag,
    /// Set while a kick is on its way, which holds a reference.
    kick_busy: AtomicFlag,
    /// The thread's returns to user space: its stays in the kernel are
    /// numbered by the count at their start.
    returns: AtomicU64,
    /// The stay the last kick was made for, plus one (0: none).  One kick
    /// per stay is enough, and a call that runs the kick's task work
    /// itself and sleeps on (`io_uring_enter()`) must not be kicked again
    /// and again; a kick that comes late, for a stay that is over,
    /// rewrites nothing.
    kicked_stay: AtomicU64,
}

impl Receiver {
    /// The saved UIF was set.
    const SAVED_UIF: u32 = 1 << 0;
    /// The saved UIRR held vectors for the handler.
    const SAVED_UIRR: u32 = 1 << 1;

    /// A new live receiver whose UPID notifies `vector` at `ndst`,
    /// suppressed until the thread's next exit to user space; `wake` is
    /// its `UINTR_HANDLER_WAKE` mode.
    pub(crate) fn new(vector: u8, ndst: Ndst, wake: Option<Mode>) -> Result<Arc<Self>> {
        // Born dead, so that a failed allocation's drop counts nothing.
        let receiver = Arc::new(
            Self {
                upid: Upid::new(logic::upid::initial(vector, ndst)),
                dead: AtomicFlag::new(true),
                sealed: AtomicBool::new(false),
                waiting: AtomicFlag::new(false),
                polled: AtomicU64::new(0),
                counts: [const { AtomicU64::new(0) }; VECTORS],
                fds: [const { AtomicU32::new(0) }; VECTORS],
                collections: AtomicU64::new(0),
                replays: AtomicU64::new(0),
                restart: WaitRestart::new(),
                poll_parked: AtomicFlag::new(false),
                queue: PollQueue::new()?,
                wake,
                saved: AtomicU32::new(0),
                wake_armed: AtomicFlag::new(false),
                kick_busy: AtomicFlag::new(false),
                returns: AtomicU64::new(0),
                kicked_stay: AtomicU64::new(0),
            },
            GFP_KERNEL_ACCOUNT,
        )?;
        receiver.dead.store(false, Release);
        stats::RECEIVERS.inc();
        // Paired with the `gone` of `kill`, also when the registration
        // fails after this and the receiver is dropped.
        trace::receiver(receiver.upid_addr(), true);
        Ok(receiver)
    }

    /// The address the hardware uses for this receiver's UPID.
    pub(crate) fn upid_addr(&self) -> u64 {
        core::ptr::from_ref(&self.upid) as u64
    }

    /// Applies `f` to UPID word 0 atomically; returns the word it replaced.
    pub(crate) fn update_upid(&self, f: impl Fn(u64) -> u64) -> u64 {
        let status = &self.upid.status;
        let mut old = status.load(Ordering::SeqCst);
        loop {
            let new = f(old);
            if new == old {
                return old;
            }
            match status.compare_exchange_weak(old, new, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => return old,
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

    /// The number of collections so far, for sleeping on.
    pub(crate) fn collections(&self) -> &AtomicU64 {
        &self.collections
    }

    /// The UPID's word 0, for the C side's look at ON.
    pub(crate) fn upid_status(&self) -> &AtomicU64 {
        &self.upid.status
    }

    /// The calling thread's exit to user space replayed PIR.
    pub(crate) fn count_replay(&self) {
        self.replays.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes the restart of a stopped `UINTR_WAIT`, at the start of any
    /// ioctl of the receiver's thread: the call being restarted is the
    /// first ioctl the thread makes once back in user space, with the same
    /// argument address.  Whatever that call turns out to be (another
    /// command, arguments that no longer validate, another address), the
    /// restart ends here, so that no later wait inherits its deadline.
    pub(crate) fn take_restart(&self, arg: usize) -> Option<WaitFrom> {
        let r = &self.restart;
        if r.state.load(Ordering::Relaxed) != WaitRestart::RESTARTING {
            return None;
        }
        r.state.store(WaitRestart::NONE, Ordering::Relaxed);
        (r.arg.load(Ordering::Relaxed) == arg).then(|| WaitFrom {
            expires: r.expires.load(Ordering::Relaxed),
            collections: r.collections.load(Ordering::Relaxed),
            replays: r.replays.load(Ordering::Relaxed),
        })
    }

    /// Where a new `UINTR_WAIT` starts from: `restart`, the wait a stop
    /// interrupted, or a fresh start with `expires`.
    pub(crate) fn wait_from(
        &self,
        restart: Option<WaitFrom>,
        expires: impl FnOnce() -> i64,
    ) -> WaitFrom {
        restart.unwrap_or_else(|| WaitFrom {
            expires: expires(),
            collections: self.collections.load(Ordering::SeqCst),
            replays: self.replays.load(Ordering::Relaxed),
        })
    }

    /// Whether the handler ran since `from` began.
    pub(crate) fn replayed_since(&self, from: &WaitFrom) -> bool {
        self.replays.load(Ordering::Relaxed) != from.replays
    }

    /// A wait with its arguments at `arg` returns `ERESTARTNOHAND`: keep
    /// where it was, for its restart.
    pub(crate) fn arm_restart(&self, from: &WaitFrom, arg: usize) {
        let r = &self.restart;
        r.arg.store(arg, Ordering::Relaxed);
        r.expires.store(from.expires, Ordering::Relaxed);
        r.collections.store(from.collections, Ordering::Relaxed);
        r.replays.store(from.replays, Ordering::Relaxed);
        r.state.store(WaitRestart::ARMED, Ordering::Relaxed);
    }

    /// On the receiver's exit to user space: an armed restart is kept only
    /// if the call is being restarted (no handler ran; else it failed with
    /// `EINTR` and the next wait is a new one).  A kept one stays across
    /// the exits of interrupts that come before the call is made again
    /// (the handler may run first); the call takes it.
    pub(crate) fn settle_restart(&self) {
        let r = &self.restart;
        if r.state.load(Ordering::Relaxed) == WaitRestart::ARMED {
            let next = if shim::syscall_restarting() {
                WaitRestart::RESTARTING
            } else {
                WaitRestart::NONE
            };
            r.state.store(next, Ordering::Relaxed);
        }
    }

    /// Posts `vector` the way SENDUIPI does: sets its PIR bit and, if
    /// neither ON nor SN was set, sets ON and sends NV to NDST.  Any context.
    pub(crate) fn post(&self, vector: u8, source: PostSource) {
        let Some(bit) = 1u64.checked_shl(vector.into()) else {
            return;
        };
        // Not preempted between setting ON and notifying: meanwhile no
        // other post notifies (PREEMPT_RT runs watches preemptibly).
        let _no_preempt = shim::NoPreempt::new();
        self.upid.pir.fetch_or(bit, Ordering::SeqCst);
        let old = self.update_upid(logic::upid::post);
        let notified = logic::upid::post_notifies(old);
        trace::kernel_post(
            self.upid_addr(),
            vector,
            source,
            old,
            notified,
            self.is_dead(),
        );
        if let Some((nv, ndst)) = notified {
            stats::KERNEL_POSTS.inc();
            shim::notify(ndst, nv);
        }
    }

    /// Whether the receiver's last collection is done: its counts are
    /// final and nothing posted to it will be counted.
    pub(crate) fn is_sealed(&self) -> bool {
        self.sealed.load(Ordering::Acquire)
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
        // Death, suppression and the last collection in one step under the
        // collection lock: what was posted to polled vectors until now is
        // counted; what is posted from now on is not, whoever reads, and a
        // reader that saw the receiver sealed saw its last count.
        {
            let _collecting = self.queue.collect_lock();
            if !self.dead.xchg(true, Full) {
                stats::RECEIVERS.dec();
                trace::receiver(self.upid_addr(), false);
            }
            self.update_upid(logic::upid::suspend);
            if !self.sealed.load(Ordering::Relaxed) {
                self.take_pir(self.polled.load(Ordering::Acquire));
                self.sealed.store(true, Ordering::Release);
            }
        }
        // The kernel-vector handler uses the receiver under the list's
        // lock; once out of the list, nothing reaches it from there.
        if self.queue.release() {
            stats::POLLED.dec();
        }
        self.queue.wake();
    }

    /// Makes `vector` polled for one more counting fd.  Puts the receiver
    /// into this CPU's list of polled receivers the first time.
    ///
    /// Called by the receiver thread itself, in its ioctl.
    pub(crate) fn get_polled(self: &Arc<Self>, vector: u8) -> Result {
        let fds = self.fds.get(usize::from(vector)).ok_or(EINVAL)?;
        // The hooks read `polled` first and then the list.
        self.enter_list();
        fds.fetch_add(1, Ordering::SeqCst);
        self.sync_polled(vector);
        Ok(())
    }

    /// Puts the receiver into this CPU's list, if it is in none yet, so
    /// that the kernel vector finds it while it is parked.
    ///
    /// Called by the receiver thread itself, in its ioctl.
    pub(crate) fn enter_list(self: &Arc<Self>) {
        if self
            .queue
            .claim(Arc::as_ptr(self).cast(), &self.upid.status)
        {
            stats::POLLED.inc();
        }
    }

    /// The `UINTR_HANDLER_WAKE` mode.
    pub(crate) fn wake_mode(&self) -> Option<Mode> {
        self.wake
    }

    /// Records what an XSAVES of the thread's registers saved in `image`
    /// (`None`: the component in its init state), after the polled
    /// vectors were collected from it.
    pub(crate) fn note_saved(&self, image: Option<&UintrState>) {
        let saved = image.map_or(0, |img| {
            let uif = if Misc::from_raw(img.misc).uif() {
                Self::SAVED_UIF
            } else {
                0
            };
            let uirr = if img.uirr != 0 { Self::SAVED_UIRR } else { 0 };
            uif | uirr
        });
        self.saved.store(saved, Ordering::Relaxed);
    }

    /// Whether the thread entered the kernel with user interrupts enabled,
    /// as its last XSAVES saw.
    pub(crate) fn saved_uif(&self) -> bool {
        self.saved.load(Ordering::Relaxed) & Self::SAVED_UIF != 0
    }

    /// Whether a post waits for the handler: in PIR (not for a polled
    /// vector), or in the UIRR the thread's last XSAVES saved.
    pub(crate) fn handler_pending(&self) -> bool {
        let polled = self.polled.load(Ordering::Acquire);
        self.pir() & !polled != 0 || self.saved.load(Ordering::Relaxed) & Self::SAVED_UIRR != 0
    }

    /// Marks the thread as asleep where a post should wake it, or not.
    pub(crate) fn set_wake_armed(&self, armed: bool) {
        self.wake_armed.store(armed, Release);
    }

    /// Whether the thread is asleep where a post should wake it.
    pub(crate) fn is_wake_armed(&self) -> bool {
        self.wake_armed.load(Acquire)
    }

    /// The number of the thread's current stay in the kernel, for
    /// [`Self::claim_kick`]: read before anything the kick decides on.
    pub(crate) fn stay(&self) -> u64 {
        self.returns.load(Ordering::SeqCst)
    }

    /// Claims the kick of the stay `stay`; false if it was made already or
    /// the last kick is still on its way.  If the thread has left that
    /// stay meanwhile, the kick is late and rewrites nothing
    /// ([`Self::kick_is_current`]), and the next stay can still be kicked.
    pub(crate) fn claim_kick(&self, stay: u64) -> bool {
        let prev = self.kicked_stay.load(Ordering::SeqCst);
        if prev == stay + 1 || self.kick_busy.xchg(true, Full) {
            return false;
        }
        if self
            .kicked_stay
            .compare_exchange(prev, stay + 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            self.kick_busy.store(false, Release);
            return false;
        }
        true
    }

    /// Whether the kick being run was made for the thread's current stay
    /// in the kernel.
    pub(crate) fn kick_is_current(&self) -> bool {
        self.kicked_stay.load(Ordering::SeqCst) == self.returns.load(Ordering::SeqCst) + 1
    }

    /// The kick is over.
    pub(crate) fn end_kick(&self) {
        self.kick_busy.store(false, Release);
    }

    /// The thread returns to user space: wake marks and what its last
    /// XSAVES saw are over, and a new stay in the kernel begins with the
    /// next entry.  Only the thread itself.
    ///
    /// The kernel skips the hook that calls this on returns after which
    /// nothing saved or restored the registers: such a stay keeps the
    /// number of the last, which is harmless, since it never left its CPU
    /// and so was neither parked nor kicked.
    pub(crate) fn returning_to_user(&self) {
        self.set_wake_armed(false);
        self.saved.store(0, Ordering::Relaxed);
        self.returns.fetch_add(1, Ordering::SeqCst);
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

    /// Posts counted for `vector`, which is no longer polled, go back to
    /// the handler as one post.
    fn return_counts(&self, vector: u8) {
        let Some(count) = self.counts.get(usize::from(vector)) else {
            return;
        };
        if count.swap(0, Ordering::SeqCst) != 0 {
            self.post(vector, PostSource::GiveBack);
        }
    }

    /// Whether some vector is polled now.
    pub(crate) fn has_polled(&self) -> bool {
        self.polled.load(Ordering::Acquire) != 0
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
        let any = {
            let _collecting = self.queue.collect_lock();
            // After the receiver's last collection ([`Self::kill`]), posts
            // land in a UPID nobody listens to.
            if self.sealed.load(Ordering::Relaxed) {
                return false;
            }
            self.take_pir(polled)
        };
        if any {
            match wake {
                Wake::Now => self.queue.wake_now(),
                Wake::Deferred => self.queue.wake(),
            }
        }
        any
    }

    /// Counts the posts to the `polled` vectors pending in PIR and takes
    /// them out of it.  With the collection lock held.
    fn take_pir(&self, polled: u64) -> bool {
        // Counted before PIR is taken, so that a `UINTR_WAIT` that begins
        // after the take sees the count it would be woken for already in
        // its starting value, and one that began before sees PIR or this.
        self.collections.fetch_add(1, Ordering::SeqCst);
        let taken =
            logic::poll::collect_posted(self.upid.pir.fetch_and(!polled, Ordering::SeqCst), polled);
        if taken != 0 {
            trace::collect(self.upid_addr(), taken, false);
        }
        self.count(taken)
    }

    /// Moves the polled vectors pending in the UIRR of `image`, just saved
    /// from the receiver's registers, into their counts, and wakes the
    /// pollers if there were any.  Returns the write that drops them from
    /// the live UIRR too ([`logic::poll::collect_saved`]).  Any context.
    pub(crate) fn collect_image(&self, image: &mut UintrState) -> Option<MsrWrite> {
        let polled = self.polled.load(Ordering::Acquire);
        let (taken, write) = logic::poll::collect_saved(image, polled)?;
        trace::collect(self.upid_addr(), taken, true);
        self.collections.fetch_add(1, Ordering::SeqCst);
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
