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

mod cpu;
mod fpu_hooks;
mod hw;
mod logic;
mod poll;
mod receiver;
mod shim;
mod stats;
mod syscalls;
mod task;
mod timer;
mod trace;
mod uitt;
mod vector_fd;
mod wait;
mod wake;
mod watch;

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
    /// The hooks, when the CPU and the kernel have user interrupts.  Dropped
    /// after the device is gone; no task can still be using them because
    /// every task with state attached pins the module.
    _hooks: Option<fpu_hooks::Registration>,
    /// The per-CPU lists of parked receivers and their CPU hotplug
    /// callbacks; made before the hooks and dropped after them.
    _cpus: shim::Cpus,
    /// `uintr/stats/` in debugfs.
    _stats: Pin<KBox<kernel::debugfs::Scope<()>>>,
    /// Deferred frees; dropped last, which drains them.
    _deferred: shim::Deferred,
}

impl kernel::InPlaceModule for UintrModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        // SAFETY: Called once, before anything uses the table map.
        unsafe { uitt::UITTS.init() };
        try_pin_init!(Self {
            _deferred: shim::Deferred::new()?,
            _cpus: shim::Cpus::new()?,
            _hooks: register_hooks()?,
            _stats: stats::debugfs()?,
            _miscdev <- MiscDeviceRegistration::register(MiscDeviceOptions { name: c"uintr" }),
        })
    }
}

/// Registers the hooks, or finds that there is nothing to hook.
fn register_hooks() -> Result<Option<fpu_hooks::Registration>> {
    let hooks = match fpu_hooks::Registration::new() {
        Ok(hooks) => Some(hooks),
        Err(e) if e == ENODEV => {
            pr_info!(
                "no user interrupts in this CPU or kernel; every ioctl fails with EOPNOTSUPP\n"
            );
            None
        }
        Err(e) => return Err(e),
    };
    syscalls::set_hw_available(hooks.is_some());
    Ok(hooks)
}
