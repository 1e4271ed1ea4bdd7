// SPDX-License-Identifier: GPL-2.0

//! Proofs about the current CPU and thread that the hooks and the ioctls
//! share: [`CpuLocked`], for the per-CPU UINTR record, [`XstateGuard`],
//! for changing the calling thread's UINTR register state from an ioctl,
//! and [`FpregsGuard`], for looking at it where it is.
//! Below the state objects, so that both [`crate::fpu_hooks`] and
//! [`crate::task`] can take them without importing each other.

use crate::hw::xstate::UintrState;
use core::marker::PhantomData;

extern "C" {
    fn uintr_fpregs_lock_live() -> bool;
    fn uintr_fpregs_unlock();
    fn uintr_xstate_lock() -> *mut UintrState;
}

/// Proof that, while it lives, no other code on this CPU can reach the
/// module's per-CPU UINTR record or the current thread's UINTR state: the
/// holder runs with interrupts disabled, or with preemption and softirqs
/// disabled (`fpregs_lock()`), where no hook can nest because kernel FPU use
/// is refused in a hard interrupt that hit such a section.
///
/// # Invariants
///
/// One of those conditions holds for `'a`, on the CPU that made the token.
pub(crate) struct CpuLocked<'a>(PhantomData<*mut &'a ()>);

impl CpuLocked<'_> {
    /// Vouches for the current context.
    ///
    /// # Safety
    ///
    /// Interrupts are disabled, or preemption and softirqs are, until the
    /// token is dropped, and no other token of this CPU is in use meanwhile.
    pub(crate) unsafe fn new() -> Self {
        // INVARIANT: Guaranteed by the caller.
        Self(PhantomData)
    }
}

/// The calling thread's component 14, locked for modification.
///
/// The kernel saves and invalidates live FPU registers first, so whatever
/// is written here is what XRSTORS loads on the way back to user space.
/// Preemption is disabled while the guard lives: no sleeping, no
/// allocation.
///
/// # Invariants
///
/// `image` points to the current task's component 14 and the kernel's
/// `uintr_xstate_lock()` is held.
pub(crate) struct XstateGuard {
    image: *mut UintrState,
}

impl XstateGuard {
    /// Locks the calling thread's FPU state.
    pub(crate) fn lock() -> Self {
        // SAFETY: Called from process context in an ioctl of the current task.
        let image = unsafe { uintr_xstate_lock() };
        // INVARIANT: The lock is held and `image` is current's component.
        Self { image }
    }

    /// The token for the module's per-CPU and per-thread state: with the
    /// FPU registers locked, preemption and softirqs are off.
    pub(crate) fn cpu(&mut self) -> CpuLocked<'_> {
        // SAFETY: `uintr_xstate_lock()` holds `fpregs_lock()`, and the
        // mutable borrow of the guard makes this the only token from it.
        unsafe { CpuLocked::new() }
    }

    /// The component, for reading and writing.
    pub(crate) fn image(&mut self) -> &mut UintrState {
        // SAFETY: By the type invariant the pointer is valid and, with the
        // lock held, only this guard uses it; the layout is the kernel's
        // (checked by `uintr_shim.c`).
        unsafe { &mut *self.image }
    }
}

impl Drop for XstateGuard {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the lock is held.
        unsafe { uintr_fpregs_unlock() };
    }
}

/// The calling thread's FPU state locked where it is (`fpregs_lock()`):
/// unlike [`XstateGuard`], live registers are neither saved nor
/// invalidated, so the return to user space can reuse them without an
/// XRSTORS.  Preemption and softirqs are off while the guard lives.
///
/// # Invariants
///
/// `fpregs_lock()` is held; `live` says whether the registers were the
/// thread's when it was taken, which nothing changes while it is held.
pub(crate) struct FpregsGuard {
    live: bool,
    _not_send: PhantomData<*mut ()>,
}

impl FpregsGuard {
    /// Locks the calling thread's FPU state.
    pub(crate) fn lock() -> Self {
        // SAFETY: Process context; paired with the unlock in `drop`.
        let live = unsafe { uintr_fpregs_lock_live() };
        // INVARIANT: Locked above.
        Self {
            live,
            _not_send: PhantomData,
        }
    }

    /// Whether the thread's UINTR state is in this CPU's registers (else
    /// in its saved image).
    pub(crate) fn registers_live(&self) -> bool {
        self.live
    }

    /// The token for the module's per-CPU and per-thread state.
    pub(crate) fn cpu(&mut self) -> CpuLocked<'_> {
        // SAFETY: `fpregs_lock()` is held by the type invariant, and the
        // mutable borrow of the guard makes this the only token from it.
        unsafe { CpuLocked::new() }
    }
}

impl Drop for FpregsGuard {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the lock is held.
        unsafe { uintr_fpregs_unlock() };
    }
}
