// SPDX-License-Identifier: GPL-2.0

//! Pure UINTR decisions, shared by the kernel module and the host model.
//!
//! Every function here decides; none acts. A hook or a system call in the module asks one of
//! them what to do and executes the small action value it gets back (a WRMSR, a self-IPI, a new
//! UPID word for its compare-exchange loop, a component-14 image to install). The host model in
//! `model/` drives the same functions through a model of the SDM and of Linux's FPU paths and
//! checks the outcome.
//!
//! - [`fpu`]: the UINV state machine around XSAVES, XRSTORS and the return to user space.
//! - [`upid`]: the module's UPID transitions (resume, suspend) and the replay decision.
//! - [`uitt`]: building UITT entries.
//! - [`image`]: what registration writes into component 14, with argument validation.
//! - [`poll`]: taking the posts of polled vectors away from the handler for their vector fds.
//! - [`wake`]: how a post ends a system call the receiver sleeps in.
//!
//! Pure: depends on `core` and `hw` only, never panics and never allocates.

pub(crate) mod fpu;
pub(crate) mod image;
pub(crate) mod poll;
pub(crate) mod uitt;
pub(crate) mod upid;
pub(crate) mod wake;

/// Why a request was refused. The module reports every variant to user space as `EINVAL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Invalid {
    /// The handler is not a user-space address.
    Handler,
    /// The stack adjustment is not below the user-space limit.
    StackAdjust,
    /// A UPID address is null or not 64-byte aligned.
    UpidAddress,
    /// A UITT address is null or not 16-byte aligned.
    UittAddress,
    /// A UITT has no entry.
    UittSize,
    /// A user vector is not below 64.
    UserVector,
}
