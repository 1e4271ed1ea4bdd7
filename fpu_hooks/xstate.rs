// SPDX-License-Identifier: GPL-2.0

//! Changing the calling thread's UINTR register state from an ioctl.

use super::CpuLocked;
use crate::hw::xstate::UintrState;
use kernel::bindings;

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
    image: *mut bindings::uintr_state,
}

impl XstateGuard {
    /// Locks the calling thread's FPU state.
    pub(crate) fn lock() -> Self {
        // SAFETY: Called from process context in an ioctl of the current task.
        let image = unsafe { bindings::uintr_xstate_lock() };
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
        // lock held, only this guard uses it; the layouts are the same
        // (asserted in `fpu_hooks`).
        unsafe { &mut *self.image.cast::<UintrState>() }
    }
}

impl Drop for XstateGuard {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the lock is held.
        unsafe { bindings::uintr_xstate_unlock() };
    }
}
