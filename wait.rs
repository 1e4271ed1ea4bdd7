// SPDX-License-Identifier: GPL-2.0

//! Blocking receivers: `UINTR_WAIT` and the kernel vector that wakes them.
//!
//! A receiver about to block parks its task pointer in a slot of one CPU's
//! small, fixed waiter table and points its UPID at that CPU with the
//! kernel vector and notifications allowed.  A SENDUIPI then interrupts
//! that CPU, whose handler wakes the tasks parked in its own table: no
//! global list, and a bounded walk in interrupt context.  A woken receiver
//! restores the notification vector; its next exit to user space replays
//! what was posted into UIRR.
//!
//! Task structures are freed after an RCU grace period, and the handler
//! runs with interrupts disabled, so a task pointer read from a slot stays
//! valid for the wake-up even if the task is exiting.

use crate::{
    fpu_hooks::{
        XstateGuard,
        KERNEL_VECTOR,
        NOTIFICATION_VECTOR, //
    },
    logic,
    receiver::Receiver,
    shim,
    stats, //
};
use kernel::{
    bindings,
    prelude::*,
    sync::atomic::{
        ordering::{
            Full,
            Relaxed,
            Release, //
        },
        Atomic,
    },
};

/// Waiters one CPU's table holds.
const SLOTS: usize = 16;
const CPUS: usize = bindings::CONFIG_NR_CPUS as usize;

type Slot = Atomic<*mut bindings::task_struct>;

static WAITERS: [[Slot; SLOTS]; CPUS] =
    [const { [const { Atomic::new(core::ptr::null_mut()) }; SLOTS] }; CPUS];

/// A claimed slot, released on drop.
struct Parked {
    slot: &'static Slot,
    cpu: u32,
}

impl Parked {
    /// Parks the current task in a free slot of this CPU's table.
    fn new() -> Result<Self> {
        // SAFETY: Always safe to call.
        let cpu = unsafe { bindings::raw_smp_processor_id() };
        // SAFETY: Always safe to call.
        let me = unsafe { bindings::get_current() };
        for slot in WAITERS.get(cpu as usize).into_iter().flatten() {
            if slot.cmpxchg(core::ptr::null_mut(), me, Full).is_ok() {
                return Ok(Self { slot, cpu });
            }
        }
        Err(EAGAIN)
    }
}

impl Drop for Parked {
    fn drop(&mut self) {
        self.slot.store(core::ptr::null_mut(), Release);
    }
}

/// Blocks until a user interrupt is pending for `receiver`, the calling
/// thread's receiver.  `timeout_ns` < 0 means no timeout.
pub(crate) fn wait(receiver: &Receiver, timeout_ns: i64) -> Result {
    // Saving the registers disarms UINV, so from here on posts stay in the
    // PIR, and tells whether something already reached UIRR.
    {
        let mut guard = XstateGuard::lock();
        if guard.image().uirr != 0 {
            return Ok(());
        }
    }
    let parked = Parked::new()?;
    let ndst = shim::cpu_ndst(parked.cpu);
    stats::WAITS.inc();
    receiver.set_waiting(true);
    receiver.update_upid(|s| logic::upid::park(s, KERNEL_VECTOR, ndst));
    let res = shim::sleep_until_posted(receiver.pir_word(), timeout_ns);
    receiver.update_upid(|s| logic::upid::unpark(s, NOTIFICATION_VECTOR));
    receiver.set_waiting(false);
    drop(parked);
    res
}

/// The kernel vector arrived on this CPU: wake whoever is parked here.
///
/// Runs in hard interrupt context; the walk is bounded by [`SLOTS`].
pub(crate) fn wake_this_cpu() {
    // SAFETY: Always safe to call; interrupts are disabled.
    let cpu = unsafe { bindings::raw_smp_processor_id() } as usize;
    for slot in WAITERS.get(cpu).into_iter().flatten() {
        let task = slot.load(Relaxed);
        if !task.is_null() {
            // SAFETY: The task was parked and is freed only after an RCU
            // grace period, which cannot end while interrupts are off here.
            if unsafe { bindings::wake_up_process(task) } != 0 {
                stats::WAKEUPS.inc();
            }
        }
    }
}
