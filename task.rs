// SPDX-License-Identifier: GPL-2.0

//! The user-interrupt state attached to a thread.
//!
//! The patched kernel keeps one pointer per thread (`thread.uintr`) and
//! flags the thread with `TIF_UINTR` so that its hooks run for it.  The
//! pointer is a [`TaskState`]: the thread's receiver, if it registered a
//! handler, and its process's UITT, if it registered as a sender.
//!
//! # Concurrency
//!
//! A thread's state is only ever read or written by the thread itself: in
//! its ioctls and in the hooks that run on its behalf (exit to user space,
//! switch-out, XSAVES, exit, exec).  A hook can interrupt an ioctl (a
//! softirq's kernel FPU use saves the registers through `after_xsaves`), so
//! readers only get shared references, for the length of a closure that
//! clones what it needs.  Changes need the thread's
//! [`crate::cpu::XstateGuard`]: under it preemption and softirqs are
//! off and no hook can run on this CPU, so no reader sees a half-made change
//! and no shared reference coexists with the mutable one.
//!
//! # Lifetime of the sender side
//!
//! A sender holds its process's `mm_struct` with `mmgrab()` for as long as
//! it uses the table, and the table map is keyed by that `mm`: the address
//! cannot be reused by a new process while any thread still has the entry,
//! whatever the order in which exec releases the old `mm`.

use crate::{
    cpu::XstateGuard,
    receiver::Receiver,
    shim::ModuleRef,
    stats,
    uitt::{
        self,
        MmKey,
        Uitt, //
    },
};
use kernel::{
    bindings,
    ffi::c_void,
    prelude::*,
    sync::Arc, //
};

extern "C" {
    fn uintr_task_data(task: *mut c_void) -> *mut c_void;
    fn uintr_task_attach(data: *mut c_void);
    fn uintr_task_detach() -> *mut c_void;
}

/// The sender side of a thread: its process's table and the `mm` it is
/// kept under.
pub(crate) struct Sender {
    pub(crate) uitt: Arc<Uitt>,
    pub(crate) mm: MmKey,
}

/// What a thread with user-interrupt state carries.
pub(crate) struct TaskState {
    pub(crate) receiver: Option<Arc<Receiver>>,
    pub(crate) sender: Option<Sender>,
    /// The module stays loaded while any thread has state attached.
    _module: ModuleRef,
}

impl TaskState {
    /// Fresh, empty state.
    pub(crate) fn new() -> Result<KBox<Self>> {
        Ok(KBox::new(
            Self {
                receiver: None,
                sender: None,
                _module: ModuleRef::get(),
            },
            GFP_KERNEL_ACCOUNT,
        )?)
    }

    /// Whether nothing is left to keep.
    pub(crate) fn is_empty(&self) -> bool {
        self.receiver.is_none() && self.sender.is_none()
    }

    /// Ends everything the thread had: the receiver dies, the thread stops
    /// using its process's table.  Does not sleep.
    pub(crate) fn release(mut self: KBox<Self>) {
        if let Some(r) = self.receiver.take() {
            r.kill();
        }
        if let Some(s) = self.sender.take() {
            let Sender { uitt, mm } = s;
            drop(uitt);
            uitt::put(mm);
            stats::SENDERS.dec();
        }
    }
}

/// The state of `task`, if any.
///
/// # Safety
///
/// `task` is the current task or a task whose hooks are running on its
/// behalf, and the returned reference is not kept beyond that.
pub(crate) unsafe fn of_task<'a>(task: *mut bindings::task_struct) -> Option<&'a TaskState> {
    // SAFETY: `task` is valid per the caller.
    let p = unsafe { uintr_task_data(task.cast()) }.cast::<TaskState>();
    // SAFETY: A non-null pointer was attached by `attach` from a live
    // `KBox<TaskState>`; it is changed only through `with_current_mut`,
    // which no reader can overlap (see the module documentation).
    unsafe { p.as_ref() }
}

/// Runs `f` on the calling thread's state, if it has any.
///
/// The reference cannot outlive `f`, and `f` cannot detach the state, so it
/// never points to freed memory.  `f` only reads; it must not lock the FPU
/// state, which is why this stays private to the accessors below.
fn with_current<R>(f: impl FnOnce(&TaskState) -> R) -> Option<R> {
    // SAFETY: The current task, used by the current task for the duration
    // of `f` only.
    unsafe { of_task(bindings::get_current()) }.map(f)
}

/// Runs `f` on the calling thread's state for a change; `_guard` proves
/// that no hook, hence no reader, runs on this CPU meanwhile.
pub(crate) fn with_current_mut<R>(
    _guard: &mut XstateGuard,
    f: impl FnOnce(&mut TaskState) -> R,
) -> Option<R> {
    // SAFETY: The current task's state, attached from a `KBox`.
    let p = unsafe { uintr_task_data(bindings::get_current().cast()) }.cast::<TaskState>();
    // SAFETY: Only the current task uses its state, readers only inside
    // `with_current` and hooks, none of which can run while the guard is
    // held (see the module documentation).
    unsafe { p.as_mut() }.map(f)
}

/// Whether the calling thread has state attached.
pub(crate) fn has_state() -> bool {
    with_current(|_| ()).is_some()
}

/// The calling thread's receiver, if it registered a handler.
pub(crate) fn current_receiver() -> Option<Arc<Receiver>> {
    with_current(|s| s.receiver.clone()).flatten()
}

/// Runs `f` on the calling thread's receiver, if it registered a handler,
/// without taking a reference: for the hooks.  `f` must not lock the FPU
/// state.
pub(crate) fn with_current_receiver<R>(f: impl FnOnce(&Receiver) -> R) -> Option<R> {
    with_current(|s| s.receiver.as_deref().map(f)).flatten()
}

/// The calling process's table, if the calling thread is a sender.
pub(crate) fn current_uitt() -> Option<Arc<Uitt>> {
    with_current(|s| s.sender.as_ref().map(|s| s.uitt.clone())).flatten()
}

/// Attaches `state` to the calling thread, which must have none.
pub(crate) fn attach(_guard: &mut XstateGuard, state: KBox<TaskState>) {
    // SAFETY: The kernel keeps the pointer until `detach`.
    unsafe { uintr_task_attach(KBox::into_raw(state).cast()) };
}

/// Detaches and returns the calling thread's state.
pub(crate) fn detach(_guard: &mut XstateGuard) -> Option<KBox<TaskState>> {
    // SAFETY: Detaching the current task's own pointer.
    let p = unsafe { uintr_task_detach() }.cast::<TaskState>();
    // SAFETY: A non-null pointer came from `attach`.
    (!p.is_null()).then(|| unsafe { KBox::from_raw(p) })
}
