// SPDX-License-Identifier: GPL-2.0

//! `UINTR_CREATE_VECTOR_FD`.

use super::abi::{
    VectorArgs,
    VECTOR_FD_POLL, //
};
use crate::{
    hw::uitt::UserVector,
    task,
    vector_fd::VectorFd, //
};
use kernel::prelude::*;

/// The user vector `args` names, or `EINVAL`; `flags` are the flags the
/// command accepts.
pub(crate) fn user_vector(args: &VectorArgs, flags: u32) -> Result<u8> {
    if args.flags & !flags != 0 {
        return Err(EINVAL);
    }
    let vector = u8::try_from(args.vector).map_err(|_| EINVAL)?;
    Ok(UserVector::new(vector).ok_or(EINVAL)?.get())
}

/// A new vector fd for `args.vector` of the calling receiver.
///
/// With `UINTR_VECTOR_FD_POLL` the vector is polled while the fd is open:
/// posts the kernel sees count on it.  The first such fd puts the receiver
/// into this CPU's list of polled receivers.
pub(crate) fn create(args: VectorArgs) -> Result<isize> {
    let vector = user_vector(&args, VECTOR_FD_POLL)?;
    let receiver = task::current_receiver().ok_or(EINVAL)?;
    let counting = args.flags & VECTOR_FD_POLL != 0;
    Ok(VectorFd::install(receiver, vector, counting)?.try_into()?)
}
