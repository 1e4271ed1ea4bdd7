// SPDX-License-Identifier: GPL-2.0

//! The functions the patched kernel calls on the FPU save and restore paths
//! and on the way back to user space.
//!
//! C header: `arch/x86/include/asm/uintr.h` (the `uintr_ops` contract,
//! described in `Documentation/hook-contract.md`).
//!
//! Every hook here runs with preemption or interrupts disabled and never
//! allocates.  The only locks they take are the raw spinlocks of the
//! per-CPU lists of parked receivers (`uintr_shim.c`), for receivers with
//! polled vectors, and the kernel-vector handler's.  The decisions are made by
//! [`crate::logic`], shared with the host model: this side keeps the
//! per-CPU record of IA32_UINTR_MISC, asks the decision, and carries out
//! what it returns (an MSR write, an image write, a self-IPI).

use crate::{
    cpu::{
        CpuLocked,
        XstateGuard, //
    },
    hw::{
        self,
        vectors::NOTIFICATION_VECTOR,
        xstate::UintrState, //
    },
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
use kernel::{
    bindings,
    sync::atomic::{
        ordering::{
            Acquire,
            Release, //
        },
        AtomicFlag,
    },
};

mod ops;

pub(crate) use ops::Registration;

// The kernel's vectors are those of the contract in `hw`: `uintr_shim.c`
// checks them against the kernel's at build time.

extern "C" {
    fn uintr_rdmsr(msr: u32) -> u64;
    fn uintr_wrmsr(msr: u32, val: u64);
    fn uintr_send_ipi_self(vector: u32);
    fn uintr_need_exit_hook();
}

const CPUS: usize = bindings::CONFIG_NR_CPUS as usize;

/// Per CPU: what IA32_UINTR_MISC holds right now.
struct PerCpuMisc([UnsafeCell<CpuMisc>; CPUS]);

// SAFETY: Each slot is only accessed by its own CPU while a `CpuLocked`
// token of that CPU lives (see `with_cpu_misc`), so no two accesses overlap.
unsafe impl Sync for PerCpuMisc {}

static MISC: PerCpuMisc = PerCpuMisc([const { UnsafeCell::new(CpuMisc::new()) }; CPUS]);

/// Whether the hooks are registered (the CPUs have UINTR).
static REGISTERED: AtomicFlag = AtomicFlag::new(false);

/// Runs `f` on this CPU's record; `_cpu` proves that nothing else on this
/// CPU uses it meanwhile.
fn with_cpu_misc<R>(_cpu: &mut CpuLocked<'_>, f: impl FnOnce(&mut CpuMisc) -> R) -> Option<R> {
    // SAFETY: Always safe to call; the token keeps the task on this CPU.
    let cpu = unsafe { bindings::raw_smp_processor_id() } as usize;
    let cell = MISC.0.get(cpu)?;
    // SAFETY: Only this CPU touches its slot, and the token rules out any
    // other use of it on this CPU while `f` runs.
    Some(f(unsafe { &mut *cell.get() }))
}

/// A CPU came online: its record starts from what its IA32_UINTR_MISC
/// holds, whatever the CPU's reset or the last user left there.
///
/// # Safety
///
/// Called by the CPU itself with interrupts disabled.
#[no_mangle]
pub(crate) unsafe extern "C" fn uintr_rust_cpu_online() {
    if !REGISTERED.load(Acquire) {
        return;
    }
    // SAFETY: Interrupts are disabled, per the caller.
    let mut cpu = unsafe { CpuLocked::new() };
    // SAFETY: The hooks are registered only on CPUs with UINTR, which have
    // this MSR.
    let raw = unsafe { uintr_rdmsr(crate::hw::msr::IA32_UINTR_MISC) };
    with_cpu_misc(&mut cpu, |m| *m = CpuMisc::from_msr(raw));
}

fn execute(write: Option<MsrWrite>) {
    if let Some(w) = write {
        // SAFETY: `logic` only writes IA32_UINTR_MISC and IA32_UINTR_RR with
        // values the MSRs accept (every UIRR value is valid), and the hooks
        // are registered only on CPUs with UINTR.
        unsafe { uintr_wrmsr(w.msr, w.value) };
    }
}

/// The image passed by the kernel, viewed as the shared layout.
///
/// # Safety
///
/// `image` is NULL or points to component 14 of an XSAVE buffer that
/// nothing else accesses for `'a`.
unsafe fn image_mut<'a>(image: *mut UintrState) -> Option<&'a mut UintrState> {
    // SAFETY: The layout is the kernel's `struct uintr_state` (checked by
    // `uintr_shim.c`); validity and exclusivity per the caller.
    unsafe { image.as_mut() }
}

/// After an XSAVES that saved component 14 into `image`.
fn after_xsaves(cpu: &mut CpuLocked<'_>, mut image: Option<&mut UintrState>) {
    // The image is the current thread's: posts to its polled vectors
    // that reached UIRR while it was in the kernel count on the fds.
    // The registers may be used again without an XRSTORS of the image,
    // so the live UIRR drops the collected vectors too.  What is left
    // tells the switch-out hook whether a post waits for the handler.
    task::with_current_receiver(|receiver| {
        if let Some(img) = image.as_deref_mut() {
            execute(receiver.collect_image(img));
        }
        receiver.note_saved(image.as_deref());
    });
    with_cpu_misc(cpu, |m| m.after_xsaves(image));
}

/// Before an XRSTORS that loads component 14 from `image`.
fn before_xrstors(cpu: &mut CpuLocked<'_>, image: Option<&UintrState>) {
    execute(with_cpu_misc(cpu, |m| m.before_xrstors(image)).flatten());
}

/// On the way to user space of a thread with state attached; `image` is
/// what the following XRSTORS loads, or `None` if the registers are live.
fn exit_to_user(cpu: &mut CpuLocked<'_>, image: Option<&mut UintrState>) {
    task::with_current_receiver(|receiver| arm_receiver(cpu, receiver, image));
}

/// Arms `receiver`, the current thread's, for its return to user space.
fn arm_receiver(cpu: &mut CpuLocked<'_>, receiver: &Receiver, image: Option<&mut UintrState>) {
    let ndst = shim::this_cpu_ndst();
    receiver.settle_restart();
    receiver.returning_to_user();
    poll::unpark(receiver);
    receiver.update_upid(|s| logic::upid::resume(s, ndst));
    // Read after the UPID update: a post that saw SN set is in PIR now.
    // Posts to polled vectors count on their fds; the rest is replayed.
    receiver.collect_pir(Wake::Deferred);
    let pir = receiver.pir();
    let replay = logic::upid::replay_needed(pir);
    if replay {
        // Before UINV is armed: nothing but the self-IPI after it.
        crate::trace::replay(receiver.upid_addr(), pir);
    }
    execute(with_cpu_misc(cpu, |m| m.arm_for_user(image, NOTIFICATION_VECTOR)).flatten());
    if replay {
        stats::REPLAYS.inc();
        receiver.count_replay();
        // With UINV armed, the CPU turns this into notification
        // processing: PIR moves to UIRR and is delivered in user space.
        // SAFETY: Sending a fixed system vector to this CPU.
        unsafe { uintr_send_ipi_self(NOTIFICATION_VECTOR.into()) };
    }
}

/// A thread with state attached leaves the CPU.
///
/// # Safety
///
/// `prev` is the task being switched out, with interrupts disabled.
unsafe fn switch_out(prev: *mut bindings::task_struct) {
    // SAFETY: `prev` is the task being switched out, on its own behalf.
    let state = unsafe { task::of_task(prev) };
    if let Some(receiver) = state.and_then(|s| s.receiver.as_ref()) {
        // A blocked receiver keeps notifications on: they wake it.  One
        // with polled vectors sends them to the kernel vector: they wake
        // the pollers of its fds.  So does one asleep in a system call
        // that a post should interrupt.
        if receiver.is_waiting() {
            return;
        }
        let wake = receiver.wake_mode().is_some()
            && logic::wake::wakeable(
                // SAFETY: `prev` is the task being switched out.
                unsafe { shim::task_sleeps_interruptibly(prev) },
                receiver.saved_uif(),
            );
        if !poll::park(receiver, wake) {
            receiver.update_upid(logic::upid::suspend);
        }
    }
}

/// Takes the posts to polled vectors out of the live UIRR, which holds
/// `receiver`'s state, into their counts; returns what is left there for
/// the handler.
pub(crate) fn collect_live_uirr(_cpu: &mut CpuLocked<'_>, receiver: &Receiver) -> u64 {
    // SAFETY: The hooks are registered only on CPUs with UINTR, which have
    // this MSR.
    let uirr = unsafe { uintr_rdmsr(hw::msr::IA32_UINTR_RR) };
    let mut live = UintrState {
        uirr,
        ..UintrState::default()
    };
    execute(receiver.collect_image(&mut live));
    live.uirr
}

/// Disarms UINV on this CPU if it is armed.  For code that is about to
/// make the receiver's UPID unreachable, or to block.
pub(crate) fn disarm_this_cpu(cpu: &mut CpuLocked<'_>) {
    execute(with_cpu_misc(cpu, CpuMisc::disarm).flatten());
}

/// Makes the calling thread's next return to user space run
/// [`exit_to_user`], which the kernel skips while nothing saved or
/// restored its registers since the last one.  Every ioctl calls it, so
/// that what the hook acts on (UINV disarmed by a WRMSR, a stopped wait's
/// restart) may change anywhere in one.
pub(crate) fn need_exit_hook() {
    // SAFETY: Clears this CPU's mark, for the calling thread in process
    // context.
    unsafe { uintr_need_exit_hook() };
}

/// The calling thread exits or execs: nothing of it may stay armed, and its
/// state goes.
fn task_gone() {
    let state = {
        // Saving the registers disarms UINV; `disarm_this_cpu` makes sure.
        // The image keeps no address of what is about to be freed.
        let mut guard = XstateGuard::lock();
        disarm_this_cpu(&mut guard.cpu());
        image::remove_receiver(guard.image());
        image::remove_sender(guard.image());
        task::detach(&mut guard)
    };
    if let Some(state) = state {
        state.release();
    }
}

/// Records that the hooks are registered, for the CPU hotplug callback.
fn set_registered(registered: bool) {
    REGISTERED.store(registered, Release);
}
