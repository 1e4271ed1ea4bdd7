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
    fn uintr_watch_install(source_fd: c_uint, events: u32, owner: *mut c_void) -> c_int;
    fn uintr_timer_install(initial_ns: i64, period_ns: i64, abs: bool, owner: *mut c_void)
        -> c_int;
    fn uintr_mmdrop_deferred(mm: *mut c_void);
    fn uintr_preempt_disable();
    fn uintr_preempt_enable();
    fn uintr_trace_receiver(upid: u64, alive: bool);
    fn uintr_trace_kernel_post(upid: u64, vector: u32, source: u32, how: u32, ndst: u32);
    fn uintr_trace_replay(upid: u64, pir: u64);
    fn uintr_trace_collect(upid: u64, vectors: u64, from_registers: bool);
    fn uintr_trace_wake(upid: u64, ret: core::ffi::c_long, now: core::ffi::c_long);
    fn uintr_dev_file_pin(file: *mut c_void) -> c_int;
    fn uintr_module_get();
    fn uintr_module_put();
    fn uintr_cpu_apicid(cpu: c_uint) -> u32;
    fn uintr_x2apic_mode() -> bool;
    fn uintr_wait_deadline(timeout_ns: i64) -> i64;
    fn uintr_wait_park(queue: *mut c_void, upid: *const u64) -> u32;
    fn uintr_syscall_restarting() -> bool;
    fn uintr_wait_sleep(
        queue: *mut c_void,
        pir: *const u64,
        seq: *const u64,
        seq0: u64,
        expires: i64,
    ) -> c_int;
    fn uintr_wait_unpark(queue: *mut c_void);
    fn uintr_notify(ndst: u32, vector: u32);
    fn uintr_task_size_max() -> u64;
    fn uintr_poll_new() -> *mut c_void;
    fn uintr_poll_collect_lock(queue: *mut c_void) -> core::ffi::c_ulong;
    fn uintr_poll_collect_unlock(queue: *mut c_void, flags: core::ffi::c_ulong);
    fn uintr_poll_wake(queue: *mut c_void);
    fn uintr_poll_wake_now(queue: *mut c_void);
    fn uintr_poll_free(queue: *mut c_void);
    fn uintr_poll_claim(queue: *mut c_void, owner: *mut c_void, upid: *const u64) -> bool;
    fn uintr_poll_release(queue: *mut c_void) -> bool;
    fn uintr_wake_kick(queue: *mut c_void);
    fn uintr_wake_supported() -> bool;
    fn uintr_task_sleeps_interruptibly(task: *mut c_void) -> bool;
    fn uintr_poll_locked(
        queue: *mut c_void,
        f: unsafe extern "C" fn(owner: *mut c_void, cpu: u32),
    ) -> bool;
    fn uintr_cpus_init() -> c_int;
    fn uintr_cpus_exit();
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

    /// Locks out other collections of the receiver's PIR, with interrupts
    /// off, until the guard goes.  Any context.
    pub(crate) fn collect_lock(&self) -> CollectGuard<'_> {
        // SAFETY: Live by the type invariant.
        let flags = unsafe { uintr_poll_collect_lock(self.0.as_ptr()) };
        CollectGuard { queue: self, flags }
    }

    /// Wakes the pollers and readers soon.  Any context, including hard
    /// interrupts and the scheduler's switch path.
    pub(crate) fn wake(&self) {
        // SAFETY: Live by the type invariant.
        unsafe { uintr_poll_wake(self.0.as_ptr()) }
    }

    /// Puts the queue, the C half of the receiver at `owner`, into this
    /// CPU's list of polled receivers, if it is in none yet.  The list holds
    /// no reference: the receiver calls [`Self::release`] before it can go.
    /// Returns whether it was in none.  `upid` is word 0 of the owner's
    /// UPID, which lives as long as the owner.
    pub(crate) fn claim(&self, owner: *const c_void, upid: &AtomicU64) -> bool {
        // SAFETY: Live by the type invariant; the C side only stores the
        // pointers, and reads `upid` while the owner is in its list.
        unsafe {
            uintr_poll_claim(
                self.0.as_ptr(),
                owner.cast_mut(),
                upid.as_ptr().cast_const(),
            )
        }
    }

    /// Takes the queue out of its CPU's list of polled receivers; returns
    /// whether it was in one.  Any context.
    pub(crate) fn release(&self) -> bool {
        // SAFETY: Live by the type invariant.
        unsafe { uintr_poll_release(self.0.as_ptr()) }
    }

    /// Interrupts the system call the receiver's thread sleeps in, soon: an
    /// irq_work queues a task work with `TWA_SIGNAL`, which wakes the
    /// thread as a signal does and runs `uintr_rust_wake_return` and then
    /// `uintr_rust_wake_done` on its way out.  Any context.
    ///
    /// # Safety
    ///
    /// The queue is in a CPU's list (so its thread has not passed its exit
    /// hook), and the caller gave the kick a reference on the owner, which
    /// `uintr_rust_wake_done` drops; no other kick is queued until then.
    pub(crate) unsafe fn kick(&self) {
        // SAFETY: Live by the type invariant; the rest per the caller.
        unsafe { uintr_wake_kick(self.0.as_ptr()) }
    }

    /// Calls `f` with the owner and the CPU whose polled list holds the
    /// queue, with that list locked; returns `false` if it is in none.
    pub(crate) fn with_poll_cpu(&self, f: unsafe extern "C" fn(*mut c_void, u32)) -> bool {
        // SAFETY: Live by the type invariant; `f` is called with the owner
        // stored by `claim`.
        unsafe { uintr_poll_locked(self.0.as_ptr(), f) }
    }

    /// Parks the calling thread, blocked in `UINTR_WAIT`, in a CPU's list of
    /// waiters; returns that CPU.  `upid` is word 0 of its UPID.
    pub(crate) fn wait_park(&self, upid: &AtomicU64) -> u32 {
        // SAFETY: Live by the type invariant; called by the receiver thread,
        // whose UPID outlives the wait, which leaves the list before it ends.
        unsafe { uintr_wait_park(self.0.as_ptr(), upid.as_ptr().cast_const()) }
    }

    /// Leaves the list of waiters.
    pub(crate) fn wait_unpark(&self) {
        // SAFETY: Live by the type invariant.
        unsafe { uintr_wait_unpark(self.0.as_ptr()) }
    }

    /// Sleeps, parked, until `pir` is not zero or `seq` is not `seq0`, a
    /// signal is pending (`ERESTARTNOHAND`), `expires` passed (`ETIMEDOUT`) or a
    /// CPU going offline unparked the thread (`EAGAIN`).
    pub(crate) fn wait_sleep(
        &self,
        pir: &AtomicU64,
        seq: &AtomicU64,
        seq0: u64,
        expires: i64,
    ) -> Result {
        // SAFETY: Live by the type invariant; the words are valid for the
        // call and only read.
        to_result(unsafe {
            uintr_wait_sleep(
                self.0.as_ptr(),
                pir.as_ptr().cast_const(),
                seq.as_ptr().cast_const(),
                seq0,
                expires,
            )
        })
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

/// A collection of a receiver's PIR in progress (see
/// [`PollQueue::collect_lock`]).
pub(crate) struct CollectGuard<'a> {
    queue: &'a PollQueue,
    flags: core::ffi::c_ulong,
}

impl Drop for CollectGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: Locked by `collect_lock` with these flags, on this CPU
        // (interrupts are off, so the guard cannot have moved).
        unsafe { uintr_poll_collect_unlock(self.queue.0.as_ptr(), self.flags) }
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

/// The absolute expiry, in `ktime` nanoseconds, of a wait of `timeout_ns`;
/// a negative timeout means none.  Saturates instead of overflowing.
pub(crate) fn wait_deadline(timeout_ns: i64) -> i64 {
    // SAFETY: Reads the clock.
    unsafe { uintr_wait_deadline(timeout_ns) }
}

/// Whether the system call the current thread returns from is being
/// restarted.  For the exit-to-user hook.
pub(crate) fn syscall_restarting() -> bool {
    // SAFETY: Reads the current task's saved registers.
    unsafe { uintr_syscall_restarting() }
}

/// Whether this kernel lets module exit wait for the tail of a kick's task
/// work (see `uintr_wake_supported()`).
pub(crate) fn wake_supported() -> bool {
    // SAFETY: Reads the configuration.
    unsafe { uintr_wake_supported() }
}

/// Whether `task`, which is leaving its CPU, sleeps interruptibly.
///
/// # Safety
///
/// `task` is the task being switched out.
pub(crate) unsafe fn task_sleeps_interruptibly(task: *mut bindings::task_struct) -> bool {
    // SAFETY: Per the caller, `task` is live; its state is read once.
    unsafe { uintr_task_sleeps_interruptibly(task.cast()) }
}

/// Sends `vector` to the CPU that `ndst`, a raw UPID NDST field, names in
/// the APIC mode the system runs in, as SENDUIPI does.  Any context.
pub(crate) fn notify(ndst: u32, vector: u8) {
    // SAFETY: Sends a fixed system vector; an ID that no online CPU has
    // sends nothing.
    unsafe { uintr_notify(ndst, vector.into()) }
}

/// The per-CPU lists of parked receivers and their CPU hotplug callbacks,
/// torn down on drop.
///
/// # Invariants
///
/// The hotplug states are registered while this value lives.
pub(crate) struct Cpus(());

impl Cpus {
    /// Sets up the lists and registers the hotplug callbacks.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: Called once, at module init.
        to_result(unsafe { uintr_cpus_init() })?;
        // INVARIANT: Registered above.
        Ok(Self(()))
    }
}

impl Drop for Cpus {
    fn drop(&mut self) {
        // SAFETY: Registered by the type invariant.
        unsafe { uintr_cpus_exit() }
    }
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

/// Attaches a watch of the file behind `source_fd` for `events` that posts
/// through `owner` (a [`crate::watch::Watch`]) and installs its handle fd.
/// On success the handle owns `owner`; on failure the caller still does.
pub(crate) fn watch_install(source_fd: u32, events: u32, owner: *mut c_void) -> Result<i32> {
    // SAFETY: `owner` is only passed back to the watch callbacks, which the
    // caller's type implements.
    let fd = unsafe { uintr_watch_install(source_fd, events, owner) };
    to_result(fd)?;
    Ok(fd)
}

/// Starts a timer that posts through `owner` (a [`crate::timer::Timer`])
/// at `initial_ns` (absolute if `abs`) and every `period_ns` (0: once),
/// and installs its handle fd.  On success the handle owns `owner`; on
/// failure the caller still does.
pub(crate) fn timer_install(
    initial_ns: i64,
    period_ns: i64,
    abs: bool,
    owner: *mut c_void,
) -> Result<i32> {
    // SAFETY: `owner` is only passed back to the timer callbacks, which the
    // caller's type implements.
    let fd = unsafe { uintr_timer_install(initial_ns, period_ns, abs, owner) };
    to_result(fd)?;
    Ok(fd)
}

/// Drops a reference on `mm` taken with `mmgrab()`; if it was the last, the
/// `mm` is freed later from process context.  Any context.
///
/// # Safety
///
/// The caller owns one `mmgrab()` reference on `mm` and gives it up.
pub(crate) unsafe fn mmdrop_deferred(mm: *mut kernel::bindings::mm_struct) {
    // SAFETY: Per the caller.
    unsafe { uintr_mmdrop_deferred(mm.cast()) }
}

/// Preemption off until the guard goes: for the few instructions between
/// setting ON in a UPID and sending its notification, during which no
/// other post notifies.
pub(crate) struct NoPreempt(());

impl NoPreempt {
    pub(crate) fn new() -> Self {
        // SAFETY: Paired with the enable in `drop`.
        unsafe { uintr_preempt_disable() };
        Self(())
    }
}

impl Drop for NoPreempt {
    fn drop(&mut self) {
        // SAFETY: Disabled in `new`.
        unsafe { uintr_preempt_enable() };
    }
}

/// The tracepoints of `uintr_trace.h`; see [`crate::trace`].
pub(crate) mod tracepoints {
    /// `uintr_receiver`.
    pub(crate) fn receiver(upid: u64, alive: bool) {
        // SAFETY: Plain values; any context.
        unsafe { super::uintr_trace_receiver(upid, alive) }
    }

    /// `uintr_kernel_post`.
    pub(crate) fn kernel_post(upid: u64, vector: u32, source: u32, how: u32, ndst: u32) {
        // SAFETY: Plain values; any context.
        unsafe { super::uintr_trace_kernel_post(upid, vector, source, how, ndst) }
    }

    /// `uintr_replay`.
    pub(crate) fn replay(upid: u64, pir: u64) {
        // SAFETY: Plain values; any context.
        unsafe { super::uintr_trace_replay(upid, pir) }
    }

    /// `uintr_collect`.
    pub(crate) fn collect(upid: u64, vectors: u64, from_registers: bool) {
        // SAFETY: Plain values; any context.
        unsafe { super::uintr_trace_collect(upid, vectors, from_registers) }
    }

    /// `uintr_wake`.
    pub(crate) fn wake(upid: u64, ret: i64, now: i64) {
        // SAFETY: Plain values; any context.
        unsafe { super::uintr_trace_wake(upid, ret, now) }
    }
}

/// The private data of `file` if it is a vector fd.
pub(crate) fn vector_of_file(file: &kernel::fs::LocalFile) -> Option<*mut c_void> {
    // SAFETY: `file` is a valid file for the duration of the call.
    let p = unsafe { uintr_vector_of_file(file.as_ptr().cast()) };
    (!p.is_null()).then_some(p)
}

/// Makes the open file `file` of `/dev/uintr` pin the module; fails with
/// `ENODEV` when the module is being removed.
///
/// # Safety
///
/// Must be called from the device's `open` callback, which `misc_open()`
/// runs under `misc_mtx`.
pub(crate) unsafe fn dev_file_pin(file: &kernel::fs::File) -> Result {
    // SAFETY: The caller guarantees the locking the shim relies on.
    to_result(unsafe { uintr_dev_file_pin(file.as_ptr().cast()) })
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
