// SPDX-License-Identifier: GPL-2.0

//! Polled receivers: how a post wakes the pollers of a vector fd while the
//! receiver is off its CPU.
//!
//! A receiver with polled vectors holds a slot in one CPU's fixed table
//! until it dies.  When its thread leaves a CPU, the switch-out hook points
//! its UPID at the slot's CPU with the kernel vector instead of suppressing
//! notifications; a SENDUIPI then interrupts that CPU, whose handler walks
//! its own table, collects the polled vectors' posts of the parked receivers
//! and wakes their fds' pollers.  No global list, and a bounded walk in
//! interrupt context, as for [`crate::wait`].
//!
//! A slot holds a reference on its receiver.  The receiver empties its slot
//! when it dies and drops that reference only after an RCU grace period, so
//! the handler, which runs with interrupts disabled, never sees it freed.

use crate::{
    fpu_hooks::{
        KERNEL_VECTOR,
        NOTIFICATION_VECTOR, //
    },
    logic,
    receiver::{
        Receiver,
        Wake, //
    },
    shim,
    stats, //
};
use kernel::{
    bindings,
    prelude::*,
    sync::atomic::{
        ordering::{
            Acquire,
            Full, //
        },
        Atomic,
    },
    sync::Arc,
};

/// Polled receivers one CPU's table holds.
const SLOTS: usize = 32;
const CPUS: usize = bindings::CONFIG_NR_CPUS as usize;

type Slot = Atomic<*mut Receiver>;

static POLLED: [[Slot; SLOTS]; CPUS] =
    [const { [const { Atomic::new(core::ptr::null_mut()) }; SLOTS] }; CPUS];

/// A slot in a CPU's table.
#[derive(Clone, Copy)]
pub(crate) struct PollSlot {
    cpu: u32,
    index: u32,
}

impl PollSlot {
    /// The raw value of no slot.
    pub(crate) const NONE: u32 = u32::MAX;

    /// The slot a raw value names, if any.
    pub(crate) fn from_raw(raw: u32) -> Option<Self> {
        (raw != Self::NONE).then(|| Self {
            cpu: raw / SLOTS as u32,
            index: raw % SLOTS as u32,
        })
    }

    /// The raw value for an atomic.
    pub(crate) fn into_raw(self) -> u32 {
        self.cpu * SLOTS as u32 + self.index
    }

    /// The CPU whose table holds the slot.
    pub(crate) fn cpu(self) -> u32 {
        self.cpu
    }

    fn get(self) -> Option<&'static Slot> {
        POLLED.get(self.cpu as usize)?.get(self.index as usize)
    }
}

// Every slot has a raw value other than `NONE`.
const _: () = assert!((CPUS * SLOTS) < u32::MAX as usize);

/// Puts `receiver` into a free slot: on this CPU if it has one, else on the
/// first online CPU that has.  Fails with `ENOSPC` when every table is full.
pub(crate) fn claim(receiver: Arc<Receiver>) -> Result<PollSlot> {
    let me = Arc::into_raw(receiver).cast_mut();
    // SAFETY: Always safe to call.
    let this = unsafe { bindings::raw_smp_processor_id() };
    let others = (0..CPUS as u32).filter(|&cpu| cpu != this && shim::cpu_online(cpu));
    for cpu in Iterator::chain(core::iter::once(this), others) {
        for (index, slot) in POLLED.get(cpu as usize).into_iter().flatten().enumerate() {
            if slot.cmpxchg(core::ptr::null_mut(), me, Full).is_ok() {
                stats::POLLED.inc();
                return Ok(PollSlot {
                    cpu,
                    index: index as u32,
                });
            }
        }
    }
    // SAFETY: From `Arc::into_raw` above, and no slot took it.
    drop(unsafe { Arc::from_raw(me) });
    Err(ENOSPC)
}

/// Empties `slot` if it still holds `receiver`, and returns the reference it
/// held (from `Arc::into_raw`), which the caller must drop only after an RCU
/// grace period.
pub(crate) fn release(slot: PollSlot, receiver: &Receiver) -> Option<*const Receiver> {
    let me = core::ptr::from_ref(receiver).cast_mut();
    let s = slot.get()?;
    s.cmpxchg(me, core::ptr::null_mut(), Full).ok()?;
    stats::POLLED.dec();
    Some(me.cast_const())
}

/// The receiver's thread leaves its CPU: let a post interrupt the CPU of
/// its slot.  Returns `false` if the receiver has no polled vector.
///
/// Called from the switch-out hook, with interrupts disabled.
pub(crate) fn park(receiver: &Receiver) -> bool {
    let Some(cpu) = receiver.poll_cpu() else {
        return false;
    };
    let ndst = shim::cpu_ndst(cpu);
    receiver.set_poll_parked();
    receiver.update_upid(|s| logic::upid::park(s, KERNEL_VECTOR, ndst));
    stats::POLL_PARKS.inc();
    // Posts made before the park, whose notification went nowhere.
    receiver.collect_pir(Wake::Deferred);
    true
}

/// The receiver's thread is on its way back to user space: notifications
/// carry the notification vector again, so that the CPU delivers posts to the
/// handler while the thread runs.  The caller resumes the UPID next.
pub(crate) fn unpark(receiver: &Receiver) {
    if receiver.take_poll_parked() {
        receiver.update_upid(|s| logic::upid::unpark(s, NOTIFICATION_VECTOR));
    }
}

/// The kernel vector arrived on this CPU: collect for the parked receivers
/// in this CPU's table.
///
/// Runs in hard interrupt context; the walk is bounded by [`SLOTS`].
pub(crate) fn collect_this_cpu() {
    // SAFETY: Always safe to call; interrupts are disabled.
    let cpu = unsafe { bindings::raw_smp_processor_id() } as usize;
    for slot in POLLED.get(cpu).into_iter().flatten() {
        let p = slot.load(Acquire);
        // SAFETY: A slot's reference is dropped only an RCU grace period
        // after the slot was emptied, and a grace period cannot end while
        // interrupts are disabled here.
        let Some(receiver) = (unsafe { p.as_ref() }) else {
            continue;
        };
        if !receiver.is_poll_parked() {
            continue;
        }
        // Clear ON first, so that the next post notifies again; a post made
        // in between is collected below and notifies once more, harmlessly.
        receiver.update_upid(logic::upid::renotify);
        // A system vector is never threaded: a wait queue's spinlock_t is
        // not for this context (PREEMPT_RT, lockdep's raw nesting check).
        receiver.collect_pir(Wake::Deferred);
    }
}
