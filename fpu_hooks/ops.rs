// SPDX-License-Identifier: GPL-2.0

//! The hooks the module registers with the kernel.
//!
//! The `struct uintr_ops` is the shim's (`uintr_shim.c`), which finds
//! component 14 in the XSAVE buffers the kernel passes.  Each function here
//! is a thin `extern "C"` trampoline it calls, which turns the raw
//! arguments into references and calls the hook in [`super`].

use crate::{
    cpu::CpuLocked,
    hw::xstate::UintrState, //
};
use kernel::{
    bindings,
    error::to_result,
    ffi::c_int,
    prelude::*, //
};

extern "C" {
    fn uintr_hooks_register() -> c_int;
    fn uintr_hooks_unregister();
}

/// # Safety
///
/// Called by the shim's `after_xsaves` hook with component 14 of the XSAVE
/// buffer the kernel just wrote, or NULL if it holds it in init state.
#[no_mangle]
unsafe extern "C" fn uintr_rust_after_xsaves(image: *mut UintrState) {
    // SAFETY: The kernel calls the save and restore hooks with the FPU
    // registers locked or interrupts disabled, and they do not nest.
    let mut cpu = unsafe { CpuLocked::new() };
    // SAFETY: The image is the one just written, and nothing else touches
    // it during the hook.
    super::after_xsaves(&mut cpu, unsafe { super::image_mut(image) });
}

/// # Safety
///
/// Called by the shim's `before_xrstors` hook with component 14 of the
/// buffer XRSTORS is about to load, or NULL.
#[no_mangle]
unsafe extern "C" fn uintr_rust_before_xrstors(image: *mut UintrState) {
    // SAFETY: As for `uintr_rust_after_xsaves`.
    let mut cpu = unsafe { CpuLocked::new() };
    // SAFETY: As for `uintr_rust_after_xsaves`; the image is only read.
    super::before_xrstors(&mut cpu, unsafe { super::image_mut(image) }.map(|i| &*i));
}

/// # Safety
///
/// Called by the shim's `exit_to_user` hook.
#[no_mangle]
unsafe extern "C" fn uintr_rust_exit_to_user(image: *mut UintrState) {
    // SAFETY: The kernel calls it with interrupts disabled.
    let mut cpu = unsafe { CpuLocked::new() };
    // SAFETY: NULL when the registers are live, else the current task's
    // component, present in the image that the following XRSTORS loads.
    super::exit_to_user(&mut cpu, unsafe { super::image_mut(image) });
}

/// # Safety
///
/// Called by the kernel as `uintr_ops.switch_out`.
#[no_mangle]
unsafe extern "C" fn uintr_rust_switch_out(prev: *mut bindings::task_struct) {
    // SAFETY: The kernel passes the task it switches out, with interrupts
    // disabled.
    unsafe { super::switch_out(prev) };
}

/// # Safety
///
/// Called by the kernel as `uintr_ops.task_release`, when the calling
/// thread exits or execs.
#[no_mangle]
unsafe extern "C" fn uintr_rust_task_release(_tsk: *mut bindings::task_struct) {
    super::task_gone();
}

/// The hooks, registered with the kernel for the lifetime of this value.
///
/// # Invariants
///
/// The shim's `struct uintr_ops` is registered with the kernel.
pub(crate) struct Registration(());

impl Registration {
    /// Registers the hooks; fails with `ENODEV` when the CPU or the kernel
    /// has no user interrupts.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: Registers the shim's static ops, which call the hooks above.
        to_result(unsafe { uintr_hooks_register() })?;
        super::set_registered(true);
        // INVARIANT: Registered above.
        Ok(Self(()))
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: By the type invariant, the ops are registered.  This
        // returns once no hook is running any more.
        unsafe { uintr_hooks_unregister() };
        super::set_registered(false);
    }
}
