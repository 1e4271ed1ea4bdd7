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
//! switch-out, exit, exec).  The ioctls change it inside
//! [`crate::fpu_hooks::XstateGuard`], which disables preemption, so a hook
//! never observes a half-made change.

use crate::{
    receiver::Receiver,
    shim::ModuleRef,
    stats,
    uitt::{
        self,
        Uitt, //
    },
};
use kernel::{
    bindings,
    prelude::*,
    sync::Arc, //
};

/// The sender side of a thread: its process's table and the `mm` key.
pub(crate) struct Sender {
    pub(crate) uitt: Arc<Uitt>,
    pub(crate) mm: usize,
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
            GFP_KERNEL,
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
            let mm = s.mm;
            drop(s);
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
pub(crate) unsafe fn of_task<'a>(task: *mut bindings::task_struct) -> Option<&'a mut TaskState> {
    // SAFETY: `task` is valid per the caller.
    let p = unsafe { bindings::uintr_task_data(task) }.cast::<TaskState>();
    // SAFETY: A non-null pointer was attached by `attach` from a live
    // `KBox<TaskState>`, and only the task itself uses it (see the module
    // documentation).
    unsafe { p.as_mut() }
}

/// Runs `f` on the calling thread's state, if it has any.
///
/// The reference cannot outlive `f`, and `f` cannot detach the state, so it
/// never points to freed memory.
pub(crate) fn with_current<R>(f: impl FnOnce(&mut TaskState) -> R) -> Option<R> {
    // SAFETY: The current task, used by the current task for the duration
    // of `f` only.
    unsafe { of_task(bindings::get_current()) }.map(f)
}

/// Whether the calling thread has state attached.
pub(crate) fn has_state() -> bool {
    with_current(|_| ()).is_some()
}

/// The calling thread's receiver, if it registered a handler.
pub(crate) fn current_receiver() -> Option<Arc<Receiver>> {
    with_current(|s| s.receiver.clone()).flatten()
}

/// The calling process's table, if the calling thread is a sender.
pub(crate) fn current_uitt() -> Option<Arc<Uitt>> {
    with_current(|s| s.sender.as_ref().map(|s| s.uitt.clone())).flatten()
}

/// Attaches `state` to the calling thread, which must have none.
pub(crate) fn attach(state: KBox<TaskState>) {
    // SAFETY: The kernel keeps the pointer until `detach`.
    unsafe { bindings::uintr_task_attach(KBox::into_raw(state).cast()) };
}

/// Detaches and returns the calling thread's state.
pub(crate) fn detach() -> Option<KBox<TaskState>> {
    // SAFETY: Detaching the current task's own pointer.
    let p = unsafe { bindings::uintr_task_detach() }.cast::<TaskState>();
    // SAFETY: A non-null pointer came from `attach`.
    (!p.is_null()).then(|| unsafe { KBox::from_raw(p) })
}
