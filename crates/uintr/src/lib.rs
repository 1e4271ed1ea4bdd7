// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
//! User interrupts (Intel UINTR) from safe Rust, through `/dev/uintr`.
//!
//! A thread becomes a receiver with [`Receiver::register`]; the guard it
//! gets back unregisters on drop and cannot leave the thread (a receiver
//! is a thread).  Interrupts enter plain `fn(u8)` handlers set per vector
//! with [`set_handler`]: an assembly trampoline saves the interrupted
//! code's registers and extended state first, so handlers may use floating
//! point.  A [`VectorFd`] is the capability to send one vector of one
//! receiver; it is an owned file descriptor that can cross `fork()` or a
//! Unix socket.  [`VectorFd::register_sender`] turns it into a [`Sender`],
//! whose [`Sender::send`] is one `SENDUIPI` instruction.
//!
//! ```no_run
//! use std::sync::atomic::{AtomicU64, Ordering};
//!
//! static HITS: AtomicU64 = AtomicU64::new(0);
//!
//! fn on_interrupt(_vector: u8) {
//!     HITS.fetch_add(1, Ordering::Relaxed);
//! }
//!
//! # fn main() -> std::io::Result<()> {
//! // SAFETY: `on_interrupt` only touches an atomic.
//! unsafe { uintr::set_handler(3, Some(on_interrupt))? };
//! let receiver = uintr::Receiver::register()?;
//! let sender = receiver.sender_to_self(3)?;
//! receiver.unblock();
//! sender.send();
//! while HITS.load(Ordering::Relaxed) == 0 {}
//! # Ok(())
//! # }
//! ```
//!
//! See `Documentation/uapi.md` and `man7/uintr.7` for the semantics.

#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod abi;
mod entry;

use std::fs::File;
use std::io::{self, Read};
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;
use std::time::Duration;

pub use abi::{MAX_UITT_ENTRIES, MAX_VECTORS};

/// Epoll event bits for [`VectorFd::watch`].
pub mod events {
    /// The source is readable.
    pub const IN: u32 = 0x001;
    /// Urgent data.
    pub const PRI: u32 = 0x002;
    /// The source is writable.
    pub const OUT: u32 = 0x004;
    /// An error (always counts).
    pub const ERR: u32 = 0x008;
    /// Hang-up (always counts; detaches the watch).
    pub const HUP: u32 = 0x010;
    /// The peer closed its writing end.
    pub const RDHUP: u32 = 0x2000;
}

/// Marks a type as bound to the thread that made it.
type NotSend = PhantomData<*const ()>;

extern "C" {
    fn ioctl(fd: RawFd, request: u64, ...) -> i32;
    fn mmap(addr: *mut u8, len: usize, prot: i32, flags: i32, fd: i32, off: i64) -> *mut u8;
    fn munmap(addr: *mut u8, len: usize) -> i32;
}

const PAGE: usize = 4096;
const PROT_READ_WRITE: i32 = 0x3;
const MAP_PRIVATE_ANONYMOUS_NORESERVE: i32 = 0x02 | 0x20 | 0x4000;
const MAP_FAILED: *mut u8 = usize::MAX as *mut u8;

extern "C" {
    fn mprotect(addr: *mut u8, len: usize, prot: i32) -> i32;
}

static DEVICE: OnceLock<OwnedFd> = OnceLock::new();

/// The process's `/dev/uintr` file, opened on first use.
fn device() -> io::Result<BorrowedFd<'static>> {
    if let Some(fd) = DEVICE.get() {
        return Ok(fd.as_fd());
    }
    let file = File::options().read(true).write(true).open("/dev/uintr")?;
    // A racing thread may have stored its own; either is fine.
    let fd = DEVICE.get_or_init(|| file.into());
    Ok(fd.as_fd())
}

/// Issues `request` on the device with `arg`; returns the non-negative result.
fn dev_ioctl(request: u64, arg: u64) -> io::Result<i32> {
    let dev = device()?;
    // SAFETY: Every request of the device takes either a pointer to its
    // argument struct, alive for the call, or an integer.
    let rc = unsafe { ioctl(dev.as_raw_fd(), request, arg) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what.to_owned())
}

fn check_vector(vector: u8) -> io::Result<u32> {
    let v = u32::from(vector);
    if v < MAX_VECTORS {
        Ok(v)
    } else {
        Err(invalid("user vectors are 0..63"))
    }
}

/// Makes a new file from the descriptor an ioctl returned.
fn owned(fd: i32) -> OwnedFd {
    // SAFETY: The kernel just returned `fd` as a new descriptor that
    // nothing else owns.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Sets the handler of `vector` for every receiver of the process (`None`
/// resets it).  Takes effect at the next delivery; a handler may call it.
///
/// # Safety
///
/// `handler` runs between any two instructions of a receiver thread, as a
/// signal handler does, and must be async-signal-safe: no allocation, no
/// lock, no `RefCell` or `thread_local!` the interrupted code may be using,
/// no panic (a panic aborts the process, but the panic machinery may
/// allocate first and deadlock).  Atomics, `Sender::send` and system calls
/// are fine.  Like `sigaction`, this cannot be checked by the compiler.
/// Stack overflow is not a concern of this contract: the interrupted
/// stack's guard page, or that of [`Receiver::register_with_stack`],
/// turns it into `SIGSEGV`.
pub unsafe fn set_handler(vector: u8, handler: Option<fn(u8)>) -> io::Result<()> {
    check_vector(vector)?;
    entry::store(Some(vector), handler);
    Ok(())
}

/// Sets the handler of the vectors that have none of their own (by
/// default they are ignored).
///
/// # Safety
///
/// As for [`set_handler`].
pub unsafe fn set_default_handler(handler: Option<fn(u8)>) {
    entry::store(None, handler);
}

/// Stack bytes one delivery takes before the handler's own use; 0 before
/// the first registration.
pub fn frame_size() -> usize {
    entry::frame_size()
}

/// How a post ends a system call that a [`Receiver::register_waking`]
/// receiver sleeps in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// The call fails with `EINTR` where a signal handler would make it.
    Interrupt,
    /// The call is restarted where `SA_RESTART` would restart it.
    Restart,
}

/// The calling thread as a receiver of user interrupts.
///
/// Dropping it blocks delivery and unregisters the thread.  It is neither
/// `Send` nor `Sync`: what it does acts on the thread that made it.
///
/// ```compile_fail
/// fn needs_send<T: Send>(_: T) {}
/// let r = uintr::Receiver::register().unwrap();
/// needs_send(r);
/// ```
pub struct Receiver {
    /// The alternate stack deliveries start at the top of, if any.
    alt_stack: Option<core::ops::Range<usize>>,
    _thread: NotSend,
}

impl Receiver {
    /// Registers the calling thread; handlers run below the interrupted
    /// stack's red zone.  Delivery stays blocked until [`Self::unblock`].
    ///
    /// Errors: `NotFound` without the module, `Unsupported`
    /// (`EOPNOTSUPP`) without user interrupts, `ResourceBusy` if the
    /// thread already is a receiver.
    pub fn register() -> io::Result<Self> {
        Self::register_inner(None, 0)
    }

    /// As [`Self::register`], and a post interrupts a system call the
    /// thread sleeps in interruptibly, as a signal with a handler does,
    /// while delivery is unblocked: the handler runs first, then the call
    /// fails with `Interrupted` or, with [`Wake::Restart`], is restarted
    /// where `SA_RESTART` would restart it (`UINTR_HANDLER_WAKE`).
    pub fn register_waking(wake: Wake) -> io::Result<Self> {
        let flags = match wake {
            Wake::Interrupt => abi::HANDLER_WAKE,
            Wake::Restart => abi::HANDLER_WAKE | abi::HANDLER_RESTART,
        };
        Self::register_inner(None, flags)
    }

    /// As [`Self::register`], with handlers on an alternate stack of
    /// `size` bytes (rounded up to pages), at least [`frame_size`] plus
    /// 8 KiB, with an inaccessible guard page below it: a handler that
    /// overflows it gets `SIGSEGV`, not someone else's memory.
    ///
    /// Every delivery starts at the stack's top, so while a handler runs
    /// on it [`Self::unblock`] does nothing (a second delivery would
    /// overwrite the first).  Once registered, the stack is never freed: a
    /// handler may be running on it when the receiver is dropped.
    pub fn register_with_stack(size: usize) -> io::Result<Self> {
        if !entry::size_xsave() {
            return Err(io::Error::from_raw_os_error(95)); // EOPNOTSUPP
        }
        if size < frame_size() + 8192 {
            return Err(invalid("the alternate stack is too small"));
        }
        let size = size.div_ceil(PAGE) * PAGE;
        // SAFETY: A new private anonymous mapping; nothing else uses it.
        let base = unsafe {
            mmap(
                core::ptr::null_mut(),
                size + PAGE,
                PROT_READ_WRITE,
                MAP_PRIVATE_ANONYMOUS_NORESERVE,
                -1,
                0,
            )
        };
        if base == MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: The lowest page of the mapping just made.
        if unsafe { mprotect(base, PAGE, 0) } != 0 {
            let e = io::Error::last_os_error();
            // SAFETY: The mapping just made, unused.
            unsafe { munmap(base, size + PAGE) };
            return Err(e);
        }
        let stack = base as usize + PAGE..base as usize + PAGE + size;
        Self::register_inner(Some(stack.clone()), 0).inspect_err(|_| {
            // SAFETY: Registration failed, so no delivery can use it.
            unsafe { munmap(base, size + PAGE) };
        })
    }

    fn register_inner(stack: Option<core::ops::Range<usize>>, flags: u32) -> io::Result<Self> {
        if !entry::size_xsave() {
            return Err(io::Error::from_raw_os_error(95)); // EOPNOTSUPP
        }
        let mut args = abi::HandlerArgs {
            handler: entry::entry_address(),
            flags,
            ..Default::default()
        };
        if let Some(s) = &stack {
            args.stack = s.end as u64 & !15;
            args.flags |= abi::HANDLER_ALT_STACK;
        }
        dev_ioctl(abi::REGISTER_HANDLER, &args as *const _ as u64)?;
        let receiver = Self {
            alt_stack: stack,
            _thread: PhantomData,
        };
        // UIF outlives a receiver: a new one starts blocked whatever it was.
        receiver.block();
        Ok(receiver)
    }

    /// Unblocks delivery (`STUI`); does nothing inside a handler of a
    /// receiver with an alternate stack.
    pub fn unblock(&self) {
        if let Some(stack) = &self.alt_stack {
            let sp: usize;
            // SAFETY: Reads the stack pointer.
            unsafe { core::arch::asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack)) };
            // On the alternate stack only a handler runs.
            if stack.contains(&sp) {
                return;
            }
        }
        // SAFETY: STUI only sets UIF; the thread is a receiver.  No
        // `nomem`: this orders memory accesses like a compiler barrier.
        unsafe { core::arch::asm!("stui", options(nostack)) };
    }

    /// Blocks delivery (`CLUI`); returns whether it was unblocked.
    pub fn block(&self) -> bool {
        let uif: u8;
        // SAFETY: TESTUI and CLUI only read and clear UIF.  No `nomem`:
        // this orders memory accesses like a compiler barrier.
        unsafe {
            core::arch::asm!("testui", "setc {0}", "clui", out(reg_byte) uif,
                             options(nostack));
        }
        uif != 0
    }

    /// Whether delivery is unblocked (`TESTUI`).
    pub fn unblocked(&self) -> bool {
        let uif: u8;
        // SAFETY: TESTUI only reads UIF.
        unsafe {
            core::arch::asm!("testui", "setc {0}", out(reg_byte) uif,
                             options(nostack));
        }
        uif != 0
    }

    /// Runs `f` with delivery blocked, then puts back what was; nests.
    /// Posts made meanwhile are delivered when delivery is unblocked.
    pub fn critical<R>(&self, f: impl FnOnce() -> R) -> R {
        /// Puts delivery back, also when `f` unwinds.
        struct Restore<'a>(&'a Receiver, bool);
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                if self.1 {
                    self.0.unblock();
                }
            }
        }
        let _restore = Restore(self, self.block());
        f()
    }

    /// A vector fd for `vector`: the capability to send it.
    pub fn vector_fd(&self, vector: u8) -> io::Result<VectorFd> {
        self.make_fd(vector, 0).map(|file| VectorFd { file })
    }

    /// A vector fd that also counts the posts the kernel finds pending
    /// while the receiver is not running (`UINTR_VECTOR_FD_POLL`).
    pub fn counting_fd(&self, vector: u8) -> io::Result<CountingFd> {
        self.make_fd(vector, abi::VECTOR_FD_POLL)
            .map(|file| CountingFd(VectorFd { file }))
    }

    fn make_fd(&self, vector: u8, flags: u32) -> io::Result<File> {
        let args = abi::VectorArgs {
            vector: check_vector(vector)?,
            flags,
        };
        let fd = dev_ioctl(abi::CREATE_VECTOR_FD, &args as *const _ as u64)?;
        Ok(File::from(owned(fd)))
    }

    /// A sender that interrupts this receiver itself with `vector`.
    pub fn sender_to_self(&self, vector: u8) -> io::Result<Sender> {
        let args = abi::SelfArgs {
            vector: check_vector(vector)?,
            flags: 0,
        };
        let index = dev_ioctl(abi::REGISTER_SELF, &args as *const _ as u64)?;
        Ok(Sender::new(index))
    }

    /// Sleeps until an interrupt is pending, which is delivered (once
    /// delivery is unblocked) before this returns `Ok(true)`; `Ok(false)`
    /// when `timeout` passed first.  `Interrupted` if a signal handler ran.
    pub fn wait(&self, timeout: Option<Duration>) -> io::Result<bool> {
        let mut args = abi::WaitArgs::default();
        if let Some(t) = timeout {
            args.timeout_ns = i64::try_from(t.as_nanos()).unwrap_or(i64::MAX);
            args.flags = abi::WAIT_TIMEOUT;
        }
        match dev_ioctl(abi::WAIT, &args as *const _ as u64) {
            Ok(_) => Ok(true),
            Err(e) if e.raw_os_error() == Some(110) => Ok(false), // ETIMEDOUT
            Err(e) => Err(e),
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.block();
        // Nothing to do if it fails: the thread is not a receiver then.
        let _ = dev_ioctl(abi::UNREGISTER_HANDLER, 0);
    }
}

/// The capability to send one vector of one receiver.
///
/// An owned file descriptor (close-on-exec): pass it to another process
/// with `SCM_RIGHTS` and rebuild it there with [`VectorFd::from`].
#[derive(Debug)]
pub struct VectorFd {
    file: File,
}

impl VectorFd {
    /// Makes the calling thread a sender and adds a target-table entry for
    /// this fd's receiver and vector.
    ///
    /// Errors: `ESRCH` once the receiver is gone, `ENOSPC` with all 256
    /// entries in use, `EINVAL` if the fd is not a vector fd.
    pub fn register_sender(&self) -> io::Result<Sender> {
        let args = abi::SenderArgs {
            fd: self.file.as_raw_fd(),
            flags: 0,
        };
        let index = dev_ioctl(abi::REGISTER_SENDER, &args as *const _ as u64)?;
        Ok(Sender::new(index))
    }

    /// Posts this fd's vector whenever `source` wakes its pollers with one
    /// of `events` (see [`events`]); dropping the [`Watch`] detaches it.
    /// The caller consumes the source itself.
    pub fn watch(&self, source: impl AsFd, events: u32) -> io::Result<Watch> {
        let args = abi::WatchArgs {
            source_fd: source.as_fd().as_raw_fd(),
            vector_fd: self.file.as_raw_fd(),
            events,
            flags: 0,
        };
        let fd = dev_ioctl(abi::WATCH_FD, &args as *const _ as u64)?;
        Ok(Watch(owned(fd)))
    }
}

impl VectorFd {
    /// Starts a kernel timer (`UINTR_CREATE_TIMER`) that posts this fd's
    /// vector after `first` and then every `period` (`None`: once), with
    /// no system call per period; dropping the [`Timer`] cancels it.
    ///
    /// Errors: `InvalidInput` for a zero `first` or a period under 10 us
    /// (before any system call); `EAGAIN` beyond the per-user limits,
    /// `ESRCH` once the receiver is gone.
    pub fn timer(&self, first: Duration, period: Option<Duration>) -> io::Result<Timer> {
        let ns = |d: Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        let period_ns = period.map_or(0, ns);
        if first.is_zero() || (period.is_some() && period_ns < 10_000) {
            return Err(invalid(
                "timers need a first expiry and a period of at least 10 us",
            ));
        }
        let args = abi::TimerArgs {
            vector_fd: self.file.as_raw_fd(),
            flags: 0,
            initial_ns: ns(first),
            period_ns,
        };
        let fd = dev_ioctl(abi::CREATE_TIMER, &args as *const _ as u64)?;
        Ok(Timer(owned(fd)))
    }
}

impl AsFd for VectorFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

impl AsRawFd for VectorFd {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

impl From<OwnedFd> for VectorFd {
    /// Takes a descriptor received from elsewhere; the kernel checks that
    /// it is a vector fd when it is used.
    fn from(fd: OwnedFd) -> Self {
        Self {
            file: File::from(fd),
        }
    }
}

impl From<VectorFd> for OwnedFd {
    fn from(v: VectorFd) -> Self {
        v.file.into()
    }
}

/// A vector fd that counts posts (`UINTR_VECTOR_FD_POLL`); poll it with
/// epoll, or read it with [`CountingFd::read_count`].
#[derive(Debug)]
pub struct CountingFd(VectorFd);

impl CountingFd {
    /// The posts counted since the last read, reset to 0; blocks while
    /// there are none.  `None` once the receiver is gone and nothing is left.
    pub fn read_count(&self) -> io::Result<Option<u64>> {
        let mut buf = [0u8; 8];
        let n = (&self.0.file).read(&mut buf)?;
        match n {
            0 => Ok(None),
            8 => Ok(Some(u64::from_ne_bytes(buf))),
            _ => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "short count")),
        }
    }

    /// The vector fd itself (to register senders or watches).
    pub fn vector_fd(&self) -> &VectorFd {
        &self.0
    }
}

impl AsFd for CountingFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// A target-table entry the calling thread sends through.
///
/// Neither `Send` nor `Sync`: `SENDUIPI` works in threads that registered
/// as senders, and this one did.  Dropping it removes the entry.
///
/// ```compile_fail
/// fn needs_send<T: Send>(_: T) {}
/// fn give_away(s: uintr::Sender) { needs_send(s) }
/// ```
#[derive(Debug)]
pub struct Sender {
    index: u32,
    _thread: NotSend,
}

impl Sender {
    fn new(index: i32) -> Self {
        Self {
            index: index as u32,
            _thread: PhantomData,
        }
    }

    /// The entry's index in the process's target table.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// Sends the interrupt (`SENDUIPI`).
    ///
    /// Faults as the instruction does: `SIGSEGV` if another thread removed
    /// the entry meanwhile, `SIGILL` in a thread that is not a sender (a
    /// `fork()` child).
    pub fn send(&self) {
        // SAFETY: SENDUIPI reads only the UITT and UPID the kernel manages
        // and writes none of this process's memory; when it cannot send it
        // faults, which is a signal, not undefined behaviour.
        unsafe {
            core::arch::asm!("senduipi {0}", in(reg) u64::from(self.index),
                             options(nostack));
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        let _ = dev_ioctl(abi::UNREGISTER_SENDER, u64::from(self.index));
    }
}

/// A timer made by [`VectorFd::timer`]; dropping it cancels it.
#[derive(Debug)]
pub struct Timer(OwnedFd);

impl AsFd for Timer {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// A watch made by [`VectorFd::watch`]; dropping it detaches it.
#[derive(Debug)]
pub struct Watch(OwnedFd);

impl AsFd for Watch {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_beyond_63_are_refused_before_any_system_call() {
        // SAFETY: No handler is installed.
        unsafe {
            assert_eq!(
                set_handler(64, None).unwrap_err().kind(),
                io::ErrorKind::InvalidInput
            );
            assert!(set_handler(63, None).is_ok());
        }
    }

    #[test]
    fn a_small_alternate_stack_is_refused() {
        let e = Receiver::register_with_stack(100).err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn without_the_device_registration_fails_cleanly() {
        if std::path::Path::new("/dev/uintr").exists() {
            return;
        }
        let e = Receiver::register().err().unwrap();
        assert!(matches!(
            e.kind(),
            io::ErrorKind::NotFound | io::ErrorKind::Unsupported
        ));
    }

    #[test]
    fn the_frame_is_sized_from_cpuid() {
        if entry::size_xsave() {
            // The legacy area and header plus registers, and the AVX
            // component (256 bytes at offset 576) where there is AVX.
            let avx = if std::arch::is_x86_feature_detected!("avx") {
                256
            } else {
                0
            };
            assert!(frame_size() >= 576 + avx + 80);
        }
    }
}
