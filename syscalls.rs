// SPDX-License-Identifier: GPL-2.0

//! The ioctls of `/dev/uintr`.
//!
//! This file decodes the command, refuses everything with `EOPNOTSUPP` when
//! user interrupts are unavailable, reads the argument and hands the
//! request to its family: handler registration, vector fds, senders and
//! waits.  The argument structures mirror `include/uapi/linux/uintr.h` in
//! [`abi`].

use kernel::{
    bindings,
    fs::File,
    miscdevice::{
        MiscDevice,
        MiscDeviceRegistration, //
    },
    prelude::*,
    sync::atomic::{
        ordering::{
            Acquire,
            Release, //
        },
        AtomicFlag,
    },
    transmute::FromBytes,
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

mod abi;
mod handler;
mod sender;
mod timer;
mod vector;
mod wait;
mod watch;

use abi::Command;

/// `EOPNOTSUPP`, which the kernel crate does not name.
pub(crate) fn eopnotsupp() -> Error {
    Error::from_errno(-(bindings::EOPNOTSUPP as i32))
}

static AVAILABLE: AtomicFlag = AtomicFlag::new(false);

/// Whether this kernel and CPU run with user interrupts.
pub(crate) fn hw_available() -> bool {
    AVAILABLE.load(Acquire)
}

/// Records whether the hooks could be registered.
pub(crate) fn set_hw_available(available: bool) {
    AVAILABLE.store(available, Release);
}

/// An open `/dev/uintr`.
///
/// The file carries no state of its own: receivers belong to threads and the
/// sender table to the process, whichever file they came through.
pub(crate) struct UintrDevice;

fn read_arg<T: FromBytes>(arg: usize) -> Result<T> {
    UserSlice::new(UserPtr::from_addr(arg), core::mem::size_of::<T>())
        .reader()
        .read::<T>()
}

#[vtable]
impl MiscDevice for UintrDevice {
    type Ptr = KBox<Self>;

    fn open(file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
        let dev = KBox::new(UintrDevice, GFP_KERNEL)?;
        // SAFETY: This is the device's open callback.
        unsafe { crate::shim::dev_file_pin(file) }?;
        Ok(dev)
    }

    fn ioctl(_me: &UintrDevice, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        let cmd = Command::decode(cmd).ok_or(ENOTTY)?;
        if !hw_available() {
            return Err(eopnotsupp());
        }
        // Whatever the command changes, the way back to user space looks.
        crate::fpu_hooks::need_exit_hook();
        // Before anything can fail: a stopped wait's restart is this call
        // or no call.
        let restart = crate::task::current_receiver().and_then(|r| r.take_restart(arg));
        match cmd {
            Command::RegisterHandler => handler::register(read_arg(arg)?),
            Command::UnregisterHandler => handler::unregister(arg),
            Command::CreateVectorFd => vector::create(read_arg(arg)?),
            Command::RegisterSender => sender::register(read_arg(arg)?),
            Command::UnregisterSender => sender::unregister(arg),
            Command::RegisterSelf => sender::register_self(read_arg(arg)?),
            Command::Wait => wait::wait(read_arg(arg)?, restart, arg),
            Command::WatchFd => watch::watch(read_arg(arg)?),
            Command::CreateTimer => timer::create(read_arg(arg)?),
        }
    }
}
