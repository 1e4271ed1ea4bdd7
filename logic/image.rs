// SPDX-License-Identifier: GPL-2.0

//! What registration writes into XSAVE state component 14, with the argument checks.
//!
//! The module changes a task's UINTR registers only through its saved image (the series'
//! `uintr_xstate_lock()` saves and invalidates the live registers first), and XRSTORS raises
//! #GP in the kernel for a non-canonical address or a misaligned UPID or UITT address. So every
//! value from user space is checked here before it reaches the image. UINV is never written
//! here: [`super::fpu::CpuMisc::arm_for_user`] arms it on the way to user space.

use super::{
    uitt::upid_address_valid,
    Invalid, //
};
use crate::hw::{
    msr::Misc,
    uitt::{
        tt_value,
        UITT_ALIGN, //
    },
    xstate::UintrState,
};

/// The highest user-space limit any paging mode has: the lower canonical half with 5-level
/// paging. Addresses below it and below the task's limit are canonical.
const USER_LIMIT_MAX: u64 = 1 << 56;

/// Returns whether `addr` lies below `user_limit` (the task's `TASK_SIZE_MAX`), and so is a
/// canonical user-space address.
pub(crate) const fn user_address(addr: u64, user_limit: u64) -> bool {
    addr < user_limit && addr < USER_LIMIT_MAX
}

/// A receiver's handler configuration, checked.
///
/// # Invariants
///
/// `handler` and `stack_adjust` are below the user-space limit they were checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Handler {
    /// The handler's address.
    handler: u64,
    /// The stack adjustment: bit 0 set loads RSP with the value, clear subtracts it from RSP.
    stack_adjust: u64,
}

impl Handler {
    /// Checks a handler address and a stack adjustment from user space.
    ///
    /// The handler must be a user-space address. The stack adjustment must be below the
    /// user-space limit as well: with bit 0 set it is the new stack pointer, with bit 0 clear
    /// it is subtracted from the interrupted one, and both IA32_UINTR_STACKADJUST and XRSTORS
    /// require a canonical value.
    pub(crate) const fn new(
        handler: u64,
        stack_adjust: u64,
        user_limit: u64,
    ) -> Result<Self, Invalid> {
        if handler == 0 || !user_address(handler, user_limit) {
            return Err(Invalid::Handler);
        }
        if !user_address(stack_adjust, user_limit) {
            return Err(Invalid::StackAdjust);
        }
        // INVARIANT: both values were checked just above.
        Ok(Self {
            handler,
            stack_adjust,
        })
    }
}

/// Makes `image` the state of a receiver whose UPID is at `upid_addr`.
///
/// UINV stays clear and UIRR empty; the sender part (UITT address and UITTSZ) and UIF are kept.
pub(crate) fn install_receiver(
    image: &mut UintrState,
    handler: Handler,
    upid_addr: u64,
) -> Result<(), Invalid> {
    if !upid_address_valid(upid_addr) {
        return Err(Invalid::UpidAddress);
    }
    image.handler = handler.handler;
    image.stack_adjust = handler.stack_adjust;
    image.upid_addr = upid_addr;
    image.uirr = 0;
    image.misc = Misc::from_raw(image.misc).with_uinv(0).raw();
    Ok(())
}

/// Removes the receiver part from `image`: handler, stack adjustment, UPID address, UINV and
/// UIRR are cleared, so nothing posted to the old UPID can be delivered later.
///
/// The sender part and UIF are kept.
pub(crate) fn remove_receiver(image: &mut UintrState) {
    image.handler = 0;
    image.stack_adjust = 0;
    image.upid_addr = 0;
    image.uirr = 0;
    image.misc = Misc::from_raw(image.misc).with_uinv(0).raw();
}

/// Makes `image` the state of a sender whose UITT is at `uitt_addr` with `entries` entries.
///
/// SENDUIPI accepts indexes up to UITTSZ, the highest valid index, so `entries` must not be zero.
pub(crate) fn install_sender(
    image: &mut UintrState,
    uitt_addr: u64,
    entries: u32,
) -> Result<(), Invalid> {
    if uitt_addr == 0 || uitt_addr & (UITT_ALIGN - 1) != 0 {
        return Err(Invalid::UittAddress);
    }
    let Some(highest) = entries.checked_sub(1) else {
        return Err(Invalid::UittSize);
    };
    image.uitt_addr = tt_value(uitt_addr);
    image.misc = Misc::from_raw(image.misc).with_uittsz(highest).raw();
    Ok(())
}

/// Removes the sender part from `image`: SENDUIPI raises #GP afterwards.
pub(crate) fn remove_sender(image: &mut UintrState) {
    image.uitt_addr = 0;
    image.misc = Misc::from_raw(image.misc).with_uittsz(0).raw();
}
