// SPDX-License-Identifier: GPL-2.0

//! `UINTR_WATCH_FD`.

use super::abi::WatchArgs;
use crate::{
    vector_fd::VectorFd,
    watch::Watch, //
};
use kernel::{
    fs::LocalFile,
    prelude::*, //
};

/// The events a watch may ask for, as in `include/uapi/linux/eventpoll.h`
/// (bindgen does not see the `__poll_t` constants): `EPOLLIN`, `EPOLLPRI`,
/// `EPOLLOUT`, `EPOLLERR`, `EPOLLHUP`, `EPOLLRDNORM`, `EPOLLRDBAND`,
/// `EPOLLWRNORM`, `EPOLLWRBAND`, `EPOLLMSG` and `EPOLLRDHUP`; not the
/// epoll-only flags in the high bits.
const EVENTS: u32 = 0x0001
    | 0x0002
    | 0x0004
    | 0x0008
    | 0x0010
    | 0x0040
    | 0x0080
    | 0x0100
    | 0x0200
    | 0x0400
    | 0x2000;

/// Attaches a watch of `args.source_fd` that posts the vector of
/// `args.vector_fd`; returns the watch's handle fd.
pub(crate) fn watch(args: WatchArgs) -> Result<isize> {
    if args.flags != 0 || args.events == 0 || args.events & !EVENTS != 0 {
        return Err(EINVAL);
    }
    let vfd = u32::try_from(args.vector_fd).map_err(|_| EBADF)?;
    let source = u32::try_from(args.source_fd).map_err(|_| EBADF)?;
    let file = LocalFile::fget(vfd)?;
    let (receiver, vector) = VectorFd::with_file(&file, |v| (v.receiver().clone(), v.vector()))?;
    drop(file);
    if receiver.is_dead() {
        return Err(ESRCH);
    }
    Ok(Watch::install(receiver, vector, source, args.events)?.try_into()?)
}
