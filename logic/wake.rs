// SPDX-License-Identifier: GPL-2.0

//! How a post ends a system call that a receiver with `UINTR_HANDLER_WAKE` sleeps in.
//!
//! The module wakes the thread as a signal would (`TIF_NOTIFY_SIGNAL`), so the call returns one
//! of the kernel's restart codes. With no signal handler to run, the kernel's signal code would
//! restart every one of them; but the user-interrupt handler does run before the thread goes on,
//! so the module first rewrites the code the way `handle_signal()` does for a signal handler:
//! what a handler without `SA_RESTART` turns into `EINTR` fails with `EINTR`, and with
//! [`Mode::Restart`] only what `SA_RESTART` restarts is restarted. A call restarted through its
//! restart block (nanosleep, futex and poll with a timeout) fails with `EINTR` in both modes:
//! the handler's own system calls may overwrite the block before the restart uses it.

/// `EINTR`.
pub(crate) const EINTR: i64 = 4;
/// `ERESTARTSYS`: restarted after a handler with `SA_RESTART`, else `EINTR`.
pub(crate) const ERESTARTSYS: i64 = 512;
/// `ERESTARTNOINTR`: always restarted.
pub(crate) const ERESTARTNOINTR: i64 = 513;
/// `ERESTARTNOHAND`: restarted only if no handler runs.
pub(crate) const ERESTARTNOHAND: i64 = 514;
/// `ERESTART_RESTARTBLOCK`: continued through the restart block only if no handler runs.
pub(crate) const ERESTART_RESTARTBLOCK: i64 = 516;

/// What `UINTR_HANDLER_RESTART` chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Interrupted calls fail with `EINTR` (`UINTR_HANDLER_WAKE` alone).
    Eintr,
    /// Interrupted calls are restarted as after a signal handler with `SA_RESTART`.
    Restart,
}

/// Returns the return value a system call interrupted by a post should have, given the value
/// `ret` it returned, when the handler is about to run: a restart code becomes `-EINTR` where a
/// signal handler would make it so; everything else, `ERESTARTNOINTR` (always restarted)
/// included, is left as it is.
pub(crate) const fn interrupted_return(mode: Mode, ret: i64) -> i64 {
    match ret {
        r if r == -ERESTARTNOHAND || r == -ERESTART_RESTARTBLOCK => -EINTR,
        r if r == -ERESTARTSYS => match mode {
            Mode::Eintr => -EINTR,
            Mode::Restart => ret,
        },
        _ => ret,
    }
}

/// Returns whether `ret`, a system call's return value, says that a signal's wake-up ended it:
/// a restart code or `EINTR`.
pub(crate) const fn interrupted(ret: i64) -> bool {
    ret == -EINTR
        || ret == -ERESTARTSYS
        || ret == -ERESTARTNOINTR
        || ret == -ERESTARTNOHAND
        || ret == -ERESTART_RESTARTBLOCK
}

/// Returns whether a thread leaving its CPU should be woken by a post: it sleeps interruptibly
/// (`TASK_INTERRUPTIBLE`, so not stopped, traced, frozen or in a killable sleep) and its saved
/// UIF lets the handler run, as a signal that is not blocked.
pub(crate) const fn wakeable(sleeps_interruptibly: bool, uif: bool) -> bool {
    sleeps_interruptibly && uif
}
