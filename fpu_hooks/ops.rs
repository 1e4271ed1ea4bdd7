// SPDX-License-Identifier: GPL-2.0

//! The `struct uintr_ops` the module registers with the kernel.
//!
//! Each entry is a thin `extern "C"` trampoline that turns the raw
//! arguments into references and calls the hook in [`super`].

use crate::cpu::CpuLocked;
use kernel::{
    bindings,
    error::to_result,
    prelude::*, //
};

/// # Safety
///
/// Called by the kernel as `uintr_ops.after_xsaves`.
unsafe extern "C" fn after_xsaves(image: *mut bindings::uintr_state) {
    // SAFETY: The kernel calls the save and restore hooks with the FPU
    // registers locked or interrupts disabled, and they do not nest.
    let mut cpu = unsafe { CpuLocked::new() };
    // SAFETY: The kernel passes the component in the image it just wrote, or
    // NULL, and nothing else touches the image during the hook.
    super::after_xsaves(&mut cpu, unsafe { super::image_mut(image) });
}

/// # Safety
///
/// Called by the kernel as `uintr_ops.before_xrstors`.
unsafe extern "C" fn before_xrstors(image: *const bindings::uintr_state) {
    // SAFETY: As for `after_xsaves`.
    let mut cpu = unsafe { CpuLocked::new() };
    // SAFETY: As for `after_xsaves`; the image is only read.
    super::before_xrstors(
        &mut cpu,
        unsafe { super::image_mut(image.cast_mut()) }.map(|i| &*i),
    );
}

/// # Safety
///
/// Called by the kernel as `uintr_ops.exit_to_user`.
unsafe extern "C" fn exit_to_user(image: *mut bindings::uintr_state) {
    // SAFETY: The kernel calls it with interrupts disabled.
    let mut cpu = unsafe { CpuLocked::new() };
    // SAFETY: NULL when the registers are live, else the current task's
    // image that the following XRSTORS loads.
    super::exit_to_user(&mut cpu, unsafe { super::image_mut(image) });
}

/// # Safety
///
/// Called by the kernel as `uintr_ops.switch_out`.
unsafe extern "C" fn switch_out(prev: *mut bindings::task_struct) {
    // SAFETY: The kernel passes the task it switches out, with interrupts
    // disabled.
    unsafe { super::switch_out(prev) };
}

/// # Safety
///
/// Called by the kernel as `uintr_ops.task_exit`.
unsafe extern "C" fn task_exit(_tsk: *mut bindings::task_struct) {
    super::task_gone();
}

/// # Safety
///
/// Called by the kernel as `uintr_ops.task_exec`.
unsafe extern "C" fn task_exec(_tsk: *mut bindings::task_struct) {
    super::task_gone();
}

/// # Safety
///
/// Called by the kernel as `uintr_ops.kernel_vector`.
unsafe extern "C" fn kernel_vector() {
    crate::shim::kernel_vector_this_cpu();
}

static OPS: bindings::uintr_ops = bindings::uintr_ops {
    after_xsaves: Some(after_xsaves),
    before_xrstors: Some(before_xrstors),
    exit_to_user: Some(exit_to_user),
    switch_out: Some(switch_out),
    task_exit: Some(task_exit),
    task_exec: Some(task_exec),
    kernel_vector: Some(kernel_vector),
};

/// The hooks, registered with the kernel for the lifetime of this value.
///
/// # Invariants
///
/// `OPS` is registered with the kernel.
pub(crate) struct Registration(());

impl Registration {
    /// Registers the hooks; fails with `ENODEV` when the CPU or the kernel
    /// has no user interrupts.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: `OPS` is a static that outlives the registration.
        to_result(unsafe { bindings::uintr_register_ops(&OPS) })?;
        super::set_registered(true);
        // INVARIANT: Registered above.
        Ok(Self(()))
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: By the type invariant, `OPS` is registered.  This returns
        // once no hook is running any more.
        unsafe { bindings::uintr_unregister_ops(&OPS) };
        super::set_registered(false);
    }
}
