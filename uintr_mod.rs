// SPDX-License-Identifier: GPL-2.0

//! User interrupts (Intel UINTR) for Linux.
//!
//! The crate root: the module declaration, the list of modules and the
//! registration of `/dev/uintr`.  A kernel or CPU without user interrupts
//! still loads the module; every ioctl then fails with `EOPNOTSUPP`.
//!
//! Dependencies run one way: `syscalls` turns requests into calls on the
//! state objects, which use the pure `hw` and `logic` code.

use kernel::{
    miscdevice::{
        MiscDeviceOptions,
        MiscDeviceRegistration, //
    },
    prelude::*,
};

mod syscalls;

module! {
    type: UintrModule,
    name: "uintr",
    authors: ["The uintr developers"],
    description: "User interrupts: /dev/uintr receivers, senders and waits",
    license: "GPL",
}

#[pin_data]
struct UintrModule {
    #[pin]
    _miscdev: MiscDeviceRegistration<syscalls::UintrDevice>,
}

impl kernel::InPlaceModule for UintrModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        if !syscalls::hw_available() {
            pr_info!(
                "no user interrupts in this CPU or kernel; every ioctl fails with EOPNOTSUPP\n"
            );
        }
        try_pin_init!(Self {
            _miscdev <- MiscDeviceRegistration::register(MiscDeviceOptions { name: c"uintr" }),
        })
    }
}
