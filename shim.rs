// SPDX-License-Identifier: GPL-2.0

//! The module's own C, reached through one extern block.
//!
//! C side: `uintr_shim.c`.  It holds what the Rust kernel crate has no
//! abstraction for: anonymous-inode vector files and module pinning by open
//! files and attached tasks.

use crate::hw::upid::Ndst;
use core::{
    ptr::NonNull,
    sync::atomic::AtomicU64, //
};
use kernel::{
    bindings,
    error::to_result,
    ffi::{
        c_int,
        c_uint,
        c_void, //
    },
    prelude::*,
};

extern "C" {
    fn uintr_vector_fd_install(vector: *mut c_void) -> c_int;
    fn uintr_vector_of_file(file: *mut c_void) -> *mut c_void;
    fn uintr_dev_file_pin(file: *mut c_void);
    fn uintr_module_get();
    fn uintr_module_put();
    fn uintr_cpu_apicid(cpu: c_uint) -> u32;
    fn uintr_x2apic_mode() -> bool;
    fn uintr_sleep_until_posted(pir: *const u64, timeout_ns: i64) -> c_int;
    fn uintr_task_size_max() -> u64;
    fn uintr_cpu_online(cpu: c_uint) -> bool;
    fn uintr_poll_new() -> *mut c_void;
    fn uintr_poll_wake(queue: *mut c_void);
    fn uintr_poll_wake_now(queue: *mut c_void);
    fn uintr_poll_free(queue: *mut c_void);
    fn uintr_poll_put_later(queue: *mut c_void, owner: *mut c_void);
    fn uintr_deferred_init() -> c_int;
    fn uintr_deferred_exit();
}

/// The module's deferred work (C side: `uintr_wq`), drained on drop.
///
/// # Invariants
///
/// The workqueue exists while this value does.
pub(crate) struct Deferred(());

impl Deferred {
    /// Creates the workqueue.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: Called once, at module init.
        to_result(unsafe { uintr_deferred_init() })?;
        // INVARIANT: Created above.
        Ok(Self(()))
    }
}

impl Drop for Deferred {
    fn drop(&mut self) {
        // SAFETY: The workqueue exists by the type invariant; the module is
        // being unloaded, so nothing queues new work.
        unsafe { uintr_deferred_exit() }
    }
}

/// Whether `cpu` is online.
pub(crate) fn cpu_online(cpu: u32) -> bool {
    // SAFETY: Reads the online mask; any `cpu` value is accepted.
    unsafe { uintr_cpu_online(cpu) }
}

/// A receiver's wait queue for its vector fds (C: `struct uintr_poll`),
/// with the irq_work that wakes it from any context.
///
/// # Invariants
///
/// `0` is a live `struct uintr_poll` owned by this value.
pub(crate) struct PollQueue(NonNull<c_void>);

// SAFETY: The C object is used from any CPU: its wait queue and irq_work
// have their own locking.
unsafe impl Send for PollQueue {}
// SAFETY: As above.
unsafe impl Sync for PollQueue {}

impl PollQueue {
    /// A new, empty queue.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: Always safe to call.
        let p = unsafe { uintr_poll_new() };
        // INVARIANT: A non-null result is a new object we own.
        Ok(Self(NonNull::new(p).ok_or(ENOMEM)?))
    }

    /// Wakes the pollers and readers soon.  Any context, including hard
    /// interrupts and the scheduler's switch path.
    pub(crate) fn wake(&self) {
        // SAFETY: Live by the type invariant.
        unsafe { uintr_poll_wake(self.0.as_ptr()) }
    }

    /// Hands `owner`, a reference from `Arc::into_raw`, to
    /// `uintr_rust_receiver_put` after an RCU grace period.  Any context; at
    /// most once per queue.
    pub(crate) fn put_later(&self, owner: *const c_void) {
        // SAFETY: Live by the type invariant; the C side only stores `owner`.
        unsafe { uintr_poll_put_later(self.0.as_ptr(), owner.cast_mut()) }
    }

    /// Wakes the pollers and readers now.  Process context only.
    pub(crate) fn wake_now(&self) {
        // SAFETY: Live by the type invariant.
        unsafe { uintr_poll_wake_now(self.0.as_ptr()) }
    }

    /// The C object, for the file operations.
    pub(crate) fn as_ptr(&self) -> *mut c_void {
        self.0.as_ptr()
    }
}

impl Drop for PollQueue {
    fn drop(&mut self) {
        // SAFETY: Owned by the type invariant.  The receiver that owns this
        // is being freed, so nothing queues the wake-up any more; the C side
        // waits for one still running before it frees.
        unsafe { uintr_poll_free(self.0.as_ptr()) }
    }
}

/// The end of the user address space (`TASK_SIZE_MAX`).
pub(crate) fn task_size_max() -> u64 {
    // SAFETY: Reads a boot-time constant.
    unsafe { uintr_task_size_max() }
}

/// The UPID destination for `cpu` in the APIC mode the system runs in.
pub(crate) fn cpu_ndst(cpu: u32) -> Ndst {
    // SAFETY: Reads per-CPU data set at boot; `cpu` is a possible CPU.
    let id = unsafe { uintr_cpu_apicid(cpu) };
    // SAFETY: Reads a variable set at boot.
    if unsafe { uintr_x2apic_mode() } {
        Ndst::X2apic(id)
    } else {
        // xAPIC IDs are eight bits wide.
        Ndst::Xapic(id as u8)
    }
}

/// The UPID destination for the CPU this runs on.
pub(crate) fn this_cpu_ndst() -> Ndst {
    // SAFETY: Always safe to call.
    cpu_ndst(unsafe { bindings::raw_smp_processor_id() })
}

/// Sleeps until the word at `pir` is non-zero, a signal is pending
/// (`EINTR`) or `timeout_ns` passed (`ETIMEDOUT`); a negative timeout means
/// none.
pub(crate) fn sleep_until_posted(pir: &AtomicU64, timeout_ns: i64) -> Result {
    // SAFETY: `pir` is valid for the call; the C side only reads it.
    to_result(unsafe { uintr_sleep_until_posted(pir.as_ptr().cast_const(), timeout_ns) })
}

/// Installs a new close-on-exec vector fd owning `vector`.
///
/// Returns the fd.  On success the file owns `vector` and gives it back
/// through `uintr_rust_vector_release`; on failure the caller still owns it.
pub(crate) fn vector_fd_install(vector: *mut c_void) -> Result<i32> {
    // SAFETY: `vector` is only stored as the file's private data.
    let fd = unsafe { uintr_vector_fd_install(vector) };
    to_result(fd)?;
    Ok(fd)
}

/// The private data of `file` if it is a vector fd.
pub(crate) fn vector_of_file(file: &kernel::fs::LocalFile) -> Option<*mut c_void> {
    // SAFETY: `file` is a valid file for the duration of the call.
    let p = unsafe { uintr_vector_of_file(file.as_ptr().cast()) };
    (!p.is_null()).then_some(p)
}

/// Makes the open file `file` of `/dev/uintr` pin the module.
///
/// # Safety
///
/// Must be called from the device's `open` callback, which `misc_open()`
/// runs under `misc_mtx`.
pub(crate) unsafe fn dev_file_pin(file: &kernel::fs::File) {
    // SAFETY: The caller guarantees the locking the shim relies on.
    unsafe { uintr_dev_file_pin(file.as_ptr().cast()) }
}

/// A reference on the module, held by each task with state attached.
///
/// # Invariants
///
/// Holds one reference on this module, dropped with the value.
pub(crate) struct ModuleRef(());

impl ModuleRef {
    /// Takes a reference on the module, which is live while its code runs.
    pub(crate) fn get() -> Self {
        // SAFETY: The module is live: this code is running in it.
        unsafe { uintr_module_get() };
        // INVARIANT: The reference was taken above.
        Self(())
    }
}

impl Drop for ModuleRef {
    fn drop(&mut self) {
        // SAFETY: By the type invariant, a reference is held.
        unsafe { uintr_module_put() };
    }
}
