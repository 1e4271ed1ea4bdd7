// SPDX-License-Identifier: GPL-2.0

//! `UINTR_CREATE_TIMER`.

use super::abi::{
    TimerArgs,
    TIMER_ABSTIME,
    TIMER_MIN_PERIOD_NS, //
};
use crate::{
    timer::Timer,
    vector_fd::VectorFd, //
};
use kernel::{
    fs::LocalFile,
    prelude::*, //
};

/// Starts a timer posting the vector of `args.vector_fd`; returns its
/// handle fd.
pub(crate) fn create(args: TimerArgs) -> Result<isize> {
    let abs = args.flags & TIMER_ABSTIME != 0;
    if args.flags & !TIMER_ABSTIME != 0
        || args.initial_ns < 0
        || (!abs && args.initial_ns == 0)
        || args.period_ns < 0
        || (args.period_ns != 0 && args.period_ns < TIMER_MIN_PERIOD_NS)
    {
        return Err(EINVAL);
    }
    let vfd = u32::try_from(args.vector_fd).map_err(|_| EBADF)?;
    let file = LocalFile::fget(vfd)?;
    let (receiver, vector) = VectorFd::with_file(&file, |v| (v.receiver().clone(), v.vector()))?;
    drop(file);
    if receiver.is_dead() {
        return Err(ESRCH);
    }
    Ok(Timer::start(receiver, vector, args.initial_ns, args.period_ns, abs)?.try_into()?)
}
