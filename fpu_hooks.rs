// SPDX-License-Identifier: GPL-2.0

//! The functions the patched kernel calls on the FPU save and restore paths
//! and on the way back to user space.
//!
//! C header: `arch/x86/include/asm/uintr.h` (the `uintr_ops` contract,
//! described in `Documentation/hook-contract.md`).
//!
//! Every hook here runs with preemption or interrupts disabled, never
//! allocates and never takes a lock.  The decisions are made by
//! [`crate::logic`], shared with the host model: this side keeps the
//! per-CPU record of IA32_UINTR_MISC, asks the decision, and carries out
//! what it returns (an MSR write, an image write, a self-IPI).

use crate::{
    hw::xstate::UintrState,
    logic::{
        self,
        fpu::{
            CpuMisc,
            MsrWrite, //
        },
        image,
    },
    poll,
    receiver::{
        Receiver,
        Wake, //
    },
    shim,
    stats,
    task, //
};
use core::cell::UnsafeCell;
use kernel::bindings;

mod ops;
mod xstate;

pub(crate) use ops::Registration;
pub(crate) use xstate::XstateGuard;

/// The vector the kernel reserved for user-interrupt notifications.
pub(crate) const NOTIFICATION_VECTOR: u8 = bindings::UINTR_NOTIFICATION_VECTOR as u8;
/// The vector the kernel reserved for waking blocked receivers.
pub(crate) const KERNEL_VECTOR: u8 = bindings::UINTR_KERNEL_VECTOR as u8;

const _: () = assert!(bindings::UINTR_NOTIFICATION_VECTOR <= 0xff);
const _: () = assert!(bindings::UINTR_KERNEL_VECTOR <= 0xff);
const _: () =
    assert!(core::mem::size_of::<UintrState>() == core::mem::size_of::<bindings::uintr_state>());

const CPUS: usize = bindings::CONFIG_NR_CPUS as usize;

/// Per CPU: what IA32_UINTR_MISC holds right now.
struct PerCpuMisc([UnsafeCell<CpuMisc>; CPUS]);

// SAFETY: Each slot is only accessed by its own CPU with preemption or
// interrupts disabled (see `with_cpu_misc`), so no two accesses overlap.
unsafe impl Sync for PerCpuMisc {}

static MISC: PerCpuMisc = PerCpuMisc([const { UnsafeCell::new(CpuMisc::new()) }; CPUS]);

/// Runs `f` on this CPU's record.
///
/// Callers run with preemption or interrupts disabled: every hook does, and
/// so does code under [`XstateGuard`].
fn with_cpu_misc<R>(f: impl FnOnce(&mut CpuMisc) -> R) -> Option<R> {
    // SAFETY: Always safe to call.
    let cpu = unsafe { bindings::raw_smp_processor_id() } as usize;
    let cell = MISC.0.get(cpu)?;
    // SAFETY: Only this CPU touches its slot and it cannot be preempted or
    // interrupted by another user of the slot meanwhile: hooks do not nest
    // within one CPU's access (see `PerCpuMisc`).
    Some(f(unsafe { &mut *cell.get() }))
}

fn execute(write: Option<MsrWrite>) {
    if let Some(w) = write {
        // SAFETY: `logic` only writes IA32_UINTR_MISC and IA32_UINTR_RR with
        // values the MSRs accept (every UIRR value is valid), and the hooks
        // are registered only on CPUs with UINTR.
        unsafe { bindings::uintr_wrmsr(w.msr, w.value) };
    }
}

/// The image passed by the kernel, viewed as the shared layout.
///
/// # Safety
///
/// `image` is NULL or points to component 14 of an XSAVE buffer that
/// nothing else accesses for `'a`.
unsafe fn image_mut<'a>(image: *mut bindings::uintr_state) -> Option<&'a mut UintrState> {
    // SAFETY: Same size (asserted above), both all-`u64` `repr(C)` structs;
    // validity and exclusivity per the caller.
    unsafe { image.cast::<UintrState>().as_mut() }
}

/// After an XSAVES that saved component 14 into `image`.
fn after_xsaves(mut image: Option<&mut UintrState>) {
    if let Some(img) = image.as_deref_mut() {
        // The image is the current thread's: posts to its polled vectors
        // that reached UIRR while it was in the kernel count on the fds.
        task::with_current(|state| {
            if let Some(receiver) = state.receiver.as_ref() {
                // The registers may be used again without an XRSTORS of the
                // image, so the live UIRR drops the collected vectors too.
                execute(receiver.collect_image(img));
            }
        });
    }
    with_cpu_misc(|m| m.after_xsaves(image));
}

/// Before an XRSTORS that loads component 14 from `image`.
fn before_xrstors(image: Option<&UintrState>) {
    execute(with_cpu_misc(|m| m.before_xrstors(image)).flatten());
}

/// On the way to user space of a thread with state attached; `image` is
/// what the following XRSTORS loads, or `None` if the registers are live.
fn exit_to_user(image: Option<&mut UintrState>) {
    task::with_current(|state| {
        if let Some(receiver) = state.receiver.as_ref() {
            arm_receiver(receiver, image);
        }
    });
}

/// Arms `receiver`, the current thread's, for its return to user space.
fn arm_receiver(receiver: &Receiver, image: Option<&mut UintrState>) {
    let ndst = shim::this_cpu_ndst();
    poll::unpark(receiver);
    receiver.update_upid(|s| logic::upid::resume(s, ndst));
    // Read after the UPID update: a post that saw SN set is in PIR now.
    // Posts to polled vectors count on their fds; the rest is replayed.
    receiver.collect_pir(Wake::Deferred);
    let replay = logic::upid::replay_needed(receiver.pir());
    execute(with_cpu_misc(|m| m.arm_for_user(image, NOTIFICATION_VECTOR)).flatten());
    if replay {
        stats::REPLAYS.inc();
        // With UINV armed, the CPU turns this into notification
        // processing: PIR moves to UIRR and is delivered in user space.
        // SAFETY: Sending a fixed system vector to this CPU.
        unsafe { bindings::uintr_send_ipi_self(NOTIFICATION_VECTOR.into()) };
    }
}

/// A thread with state attached leaves the CPU.
fn switch_out(prev: *mut bindings::task_struct) {
    // SAFETY: `prev` is the task being switched out, on its own behalf.
    let state = unsafe { task::of_task(prev) };
    if let Some(receiver) = state.and_then(|s| s.receiver.as_ref()) {
        // A blocked receiver keeps notifications on: they wake it.  One
        // with polled vectors sends them to the kernel vector: they wake
        // the pollers of its fds.
        if !receiver.is_waiting() && !poll::park(receiver) {
            receiver.update_upid(logic::upid::suspend);
        }
    }
}

/// Disarms UINV on this CPU if it is armed.  For code that is about to
/// make the receiver's UPID unreachable.
///
/// Callers run with preemption disabled.
pub(crate) fn disarm_this_cpu() {
    execute(with_cpu_misc(CpuMisc::disarm).flatten());
}

/// The calling thread exits or execs: nothing of it may stay armed, and its
/// state goes.
fn task_gone() {
    {
        // Saving the registers disarms UINV; `disarm_this_cpu` makes sure.
        // The image keeps no address of what is about to be freed.
        let mut guard = XstateGuard::lock();
        disarm_this_cpu();
        image::remove_receiver(guard.image());
        image::remove_sender(guard.image());
    }
    if let Some(state) = task::detach() {
        state.release();
    }
}
