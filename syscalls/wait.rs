// SPDX-License-Identifier: GPL-2.0

//! `UINTR_WAIT`.

use super::abi::{
    WaitArgs,
    WAIT_TIMEOUT, //
};
use crate::{
    receiver::WaitFrom,
    task,
    wait, //
};
use kernel::prelude::*;

/// Blocks the calling receiver until a user interrupt is pending for it;
/// `restart` is the stopped wait this call restarts, if it is one, and
/// `arg` the user address of `args`.
pub(crate) fn wait(args: WaitArgs, restart: Option<WaitFrom>, arg: usize) -> Result<isize> {
    if args.reserved != 0 || args.flags & !WAIT_TIMEOUT != 0 {
        return Err(EINVAL);
    }
    let timeout_ns = if args.flags & WAIT_TIMEOUT != 0 {
        if args.timeout_ns < 0 {
            return Err(EINVAL);
        }
        args.timeout_ns
    } else {
        -1
    };
    let receiver = task::current_receiver().ok_or(EINVAL)?;
    wait::wait(&receiver, timeout_ns, restart, arg)?;
    Ok(0)
}
