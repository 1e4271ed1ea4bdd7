// SPDX-License-Identifier: GPL-2.0

//! `UINTR_CREATE_VECTOR_FD`.

use super::abi::VectorArgs;
use crate::{
    hw::uitt::UserVector,
    task,
    vector_fd::VectorFd, //
};
use kernel::prelude::*;

/// The user vector `args` names, or `EINVAL`.
pub(crate) fn user_vector(args: &VectorArgs) -> Result<u8> {
    if args.flags != 0 {
        return Err(EINVAL);
    }
    let vector = u8::try_from(args.vector).map_err(|_| EINVAL)?;
    Ok(UserVector::new(vector).ok_or(EINVAL)?.get())
}

/// A new vector fd for `args.vector` of the calling receiver.
pub(crate) fn create(args: VectorArgs) -> Result<isize> {
    let vector = user_vector(&args)?;
    let receiver = task::current_receiver().ok_or(EINVAL)?;
    Ok(VectorFd::install(receiver, vector)?.try_into()?)
}
