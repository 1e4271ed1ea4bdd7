// SPDX-License-Identifier: GPL-2.0

//! `UINTR_REGISTER_HANDLER` and `UINTR_UNREGISTER_HANDLER`.

use super::abi::{
    HandlerArgs,
    HANDLER_ALT_STACK,
    HANDLER_RESTART,
    HANDLER_WAKE, //
};
use crate::{
    cpu::XstateGuard,
    fpu_hooks,
    hw::vectors::NOTIFICATION_VECTOR,
    logic::{
        image::{
            self,
            Handler, //
        },
        wake::Mode,
    },
    receiver::Receiver,
    shim,
    task::{
        self,
        TaskState, //
    },
};
use kernel::prelude::*;

/// Bytes below the interrupted RSP the frame starts at by default: the
/// x86-64 red zone, which the interrupted code may be using.
const RED_ZONE: u64 = 128;

/// The `UINTR_HANDLER_WAKE` mode `flags` ask for.
fn wake_of(flags: u32) -> Result<Option<Mode>> {
    match (flags & HANDLER_WAKE != 0, flags & HANDLER_RESTART != 0) {
        (false, false) => Ok(None),
        (true, false) => Ok(Some(Mode::Eintr)),
        (true, true) => Ok(Some(Mode::Restart)),
        // Restart says how a wake ends a call; alone it means nothing.
        (false, true) => Err(EINVAL),
    }
}

/// The handler and IA32_UINTR_STACKADJUST value `args` asks for.
fn handler_of(args: &HandlerArgs) -> Result<Handler> {
    const KNOWN: u32 = HANDLER_ALT_STACK | HANDLER_WAKE | HANDLER_RESTART;
    if args.reserved != 0 || args.flags & !KNOWN != 0 {
        return Err(EINVAL);
    }
    let stack_adjust = if args.flags & HANDLER_ALT_STACK != 0 {
        // Bit 0 set: load RSP with the value instead of subtracting it.
        if args.stack == 0 {
            return Err(EINVAL);
        }
        args.stack | 1
    } else {
        if args.stack != 0 {
            return Err(EINVAL);
        }
        RED_ZONE
    };
    Handler::new(args.handler, stack_adjust, shim::task_size_max()).map_err(|_| EINVAL)
}

/// Makes the calling thread a receiver.
pub(crate) fn register(args: HandlerArgs) -> Result<isize> {
    let handler = handler_of(&args)?;
    let wake = wake_of(args.flags)?;
    if wake.is_some() && !shim::wake_supported() {
        return Err(super::eopnotsupp());
    }
    if task::current_receiver().is_some() {
        return Err(EBUSY);
    }
    let receiver = Receiver::new(NOTIFICATION_VECTOR, shim::this_cpu_ndst(), wake)?;
    if wake.is_some() {
        // The kernel vector must find it while it sleeps.
        receiver.enter_list();
    }
    let fresh = if task::has_state() {
        None
    } else {
        Some(TaskState::new()?)
    };

    let mut guard = XstateGuard::lock();
    image::install_receiver(guard.image(), handler, receiver.upid_addr()).map_err(|_| EINVAL)?;
    if let Some(state) = fresh {
        task::attach(&mut guard, state);
    }
    task::with_current_mut(&mut guard, |state| state.receiver = Some(receiver));
    Ok(0)
}

/// Ends the calling thread's receiver.
pub(crate) fn unregister(arg: usize) -> Result<isize> {
    if arg != 0 {
        return Err(EINVAL);
    }
    let mut guard = XstateGuard::lock();
    let (receiver, empty) =
        task::with_current_mut(&mut guard, |s| s.receiver.take().map(|r| (r, s.is_empty())))
            .flatten()
            .ok_or(EINVAL)?;
    image::remove_receiver(guard.image());
    // The registers were saved, which disarmed UINV; make sure before the
    // UPID can go.
    fpu_hooks::disarm_this_cpu(&mut guard.cpu());
    let emptied = if empty {
        task::detach(&mut guard)
    } else {
        None
    };
    drop(guard);

    receiver.kill();
    if let Some(state) = emptied {
        state.release();
    }
    Ok(0)
}
