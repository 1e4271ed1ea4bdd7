// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
//! The ioctl ABI of `/dev/uintr`, mirrored from `include/uapi/linux/uintr.h`.

/// Number of user vectors (0..63).
pub const MAX_VECTORS: u32 = 64;
/// Entries of a process's target table.
pub const MAX_UITT_ENTRIES: u32 = 256;

pub(crate) const HANDLER_ALT_STACK: u32 = 1 << 0;
pub(crate) const HANDLER_WAKE: u32 = 1 << 1;
pub(crate) const HANDLER_RESTART: u32 = 1 << 2;
pub(crate) const VECTOR_FD_POLL: u32 = 1 << 0;
pub(crate) const WAIT_TIMEOUT: u32 = 1 << 0;

#[repr(C)]
#[derive(Default)]
pub(crate) struct HandlerArgs {
    pub(crate) handler: u64,
    pub(crate) stack: u64,
    pub(crate) flags: u32,
    pub(crate) reserved: u32,
}

#[repr(C)]
#[derive(Default)]
pub(crate) struct VectorArgs {
    pub(crate) vector: u32,
    pub(crate) flags: u32,
}

#[repr(C)]
#[derive(Default)]
pub(crate) struct SenderArgs {
    pub(crate) fd: i32,
    pub(crate) flags: u32,
}

#[repr(C)]
#[derive(Default)]
pub(crate) struct SelfArgs {
    pub(crate) vector: u32,
    pub(crate) flags: u32,
}

#[repr(C)]
#[derive(Default)]
pub(crate) struct WaitArgs {
    pub(crate) timeout_ns: i64,
    pub(crate) flags: u32,
    pub(crate) reserved: u32,
}

#[repr(C)]
#[derive(Default)]
pub(crate) struct WatchArgs {
    pub(crate) source_fd: i32,
    pub(crate) vector_fd: i32,
    pub(crate) events: u32,
    pub(crate) flags: u32,
}

#[repr(C)]
#[derive(Default)]
pub(crate) struct TimerArgs {
    pub(crate) vector_fd: i32,
    pub(crate) flags: u32,
    pub(crate) initial_ns: i64,
    pub(crate) period_ns: i64,
}

const MAGIC: u64 = 0xe7;

/// `_IO(MAGIC, nr)`.
const fn io(nr: u64) -> u64 {
    (MAGIC << 8) | nr
}

/// `_IOW(MAGIC, nr, size)`.
const fn iow(nr: u64, size: usize) -> u64 {
    (1 << 30) | ((size as u64) << 16) | (MAGIC << 8) | nr
}

pub(crate) const REGISTER_HANDLER: u64 = iow(0x00, core::mem::size_of::<HandlerArgs>());
pub(crate) const UNREGISTER_HANDLER: u64 = io(0x01);
pub(crate) const CREATE_VECTOR_FD: u64 = iow(0x02, core::mem::size_of::<VectorArgs>());
pub(crate) const REGISTER_SENDER: u64 = iow(0x03, core::mem::size_of::<SenderArgs>());
pub(crate) const UNREGISTER_SENDER: u64 = io(0x04);
pub(crate) const REGISTER_SELF: u64 = iow(0x05, core::mem::size_of::<SelfArgs>());
pub(crate) const WAIT: u64 = iow(0x06, core::mem::size_of::<WaitArgs>());
pub(crate) const WATCH_FD: u64 = iow(0x07, core::mem::size_of::<WatchArgs>());
pub(crate) const CREATE_TIMER: u64 = iow(0x08, core::mem::size_of::<TimerArgs>());

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn structs_have_the_c_layout() {
        assert_eq!(size_of::<HandlerArgs>(), 24);
        assert_eq!(offset_of!(HandlerArgs, stack), 8);
        assert_eq!(offset_of!(HandlerArgs, flags), 16);
        assert_eq!(offset_of!(HandlerArgs, reserved), 20);
        assert_eq!(size_of::<VectorArgs>(), 8);
        assert_eq!(size_of::<SenderArgs>(), 8);
        assert_eq!(size_of::<SelfArgs>(), 8);
        assert_eq!(size_of::<WaitArgs>(), 16);
        assert_eq!(offset_of!(WaitArgs, flags), 8);
        assert_eq!(size_of::<WatchArgs>(), 16);
        assert_eq!(size_of::<TimerArgs>(), 24);
        assert_eq!(offset_of!(TimerArgs, initial_ns), 8);
        assert_eq!(offset_of!(WatchArgs, events), 8);
    }

    /// The numbers as the C compiler computes them from the header.
    #[test]
    fn ioctl_numbers_match_the_c_header() {
        let dir = std::env::temp_dir().join(format!("uintr-abi-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = dir.join("abi.c");
        std::fs::write(
            &src,
            "#include <stdio.h>\n#include <linux/uintr.h>\nint main(void) {\n\
             printf(\"%lx %lx %lx %lx %lx %lx %lx %lx %lx\\n\",\n\
             (unsigned long)UINTR_REGISTER_HANDLER, (unsigned long)UINTR_UNREGISTER_HANDLER,\n\
             (unsigned long)UINTR_CREATE_VECTOR_FD, (unsigned long)UINTR_REGISTER_SENDER,\n\
             (unsigned long)UINTR_UNREGISTER_SENDER, (unsigned long)UINTR_REGISTER_SELF,\n\
             (unsigned long)UINTR_WAIT, (unsigned long)UINTR_WATCH_FD,\n\
             (unsigned long)UINTR_CREATE_TIMER);\n\
             return 0; }\n",
        )
        .unwrap();
        // Where cargo runs the test from now: a build reused from another
        // checkout keeps that checkout's path in `env!`.
        let dir_now = std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
        let include = format!("{dir_now}/../../include/uapi");
        let exe = dir.join("abi");
        let cc = std::process::Command::new("cc")
            .arg(format!("-I{include}"))
            .arg("-o")
            .arg(&exe)
            .arg(&src)
            .status()
            .expect("a C compiler");
        assert!(cc.success());
        let out = std::process::Command::new(&exe).output().unwrap();
        let got: Vec<u64> = String::from_utf8(out.stdout)
            .unwrap()
            .split_whitespace()
            .map(|w| u64::from_str_radix(w, 16).unwrap())
            .collect();
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(
            got,
            [
                REGISTER_HANDLER,
                UNREGISTER_HANDLER,
                CREATE_VECTOR_FD,
                REGISTER_SENDER,
                UNREGISTER_SENDER,
                REGISTER_SELF,
                WAIT,
                WATCH_FD,
                CREATE_TIMER
            ]
        );
    }

    #[test]
    fn ioctl_numbers_are_those_of_the_header() {
        // As the C preprocessor computes them from linux/uintr.h.
        assert_eq!(REGISTER_HANDLER, 0x4018_e700);
        assert_eq!(UNREGISTER_HANDLER, 0xe701);
        assert_eq!(CREATE_VECTOR_FD, 0x4008_e702);
        assert_eq!(REGISTER_SENDER, 0x4008_e703);
        assert_eq!(UNREGISTER_SENDER, 0xe704);
        assert_eq!(REGISTER_SELF, 0x4008_e705);
        assert_eq!(WAIT, 0x4010_e706);
        assert_eq!(WATCH_FD, 0x4010_e707);
    }
}
