// SPDX-License-Identifier: GPL-2.0

//! Vector fds: the capability to send one user vector to one receiver.
//!
//! A vector fd is an anonymous-inode file (made by the C shim) whose private
//! data is a boxed [`VectorFd`].  It holds a reference on the receiver, so
//! the UPID outlives every fd; a dead receiver makes the fd useless for new
//! senders but keeps it valid.
//!
//! Every vector fd can be polled: it reports `EPOLLHUP` once the receiver is
//! gone.  One created with `UINTR_VECTOR_FD_POLL` makes its vector polled
//! (see [`crate::receiver`]) and also reports `EPOLLIN` while posts are
//! counted on it; `read()` returns that count as a `u64` and resets it.

use crate::{
    receiver::{
        Receiver,
        Wake, //
    },
    shim,
    stats,
    task, //
};
use kernel::{
    ffi::c_void,
    fs::LocalFile,
    prelude::*,
    sync::Arc, //
};

/// The private data of a vector fd.
pub(crate) struct VectorFd {
    receiver: Arc<Receiver>,
    vector: u8,
    /// Created with `UINTR_VECTOR_FD_POLL`.
    counting: bool,
}

impl VectorFd {
    /// Installs a new vector fd for `vector` of `receiver`; returns the fd.
    /// With `counting`, `vector` is polled while the fd is open.
    pub(crate) fn install(receiver: Arc<Receiver>, vector: u8, counting: bool) -> Result<i32> {
        if counting {
            receiver.get_polled(vector)?;
        }
        // From here on the `VectorFd` holds the counting reference: its drop
        // gives it back, also when the allocation or the file fails.
        let vfd = KBox::new(
            VectorFd {
                receiver,
                vector,
                counting,
            },
            GFP_KERNEL_ACCOUNT,
        )?;
        let raw = KBox::into_raw(vfd);
        match shim::vector_fd_install(raw.cast()) {
            Ok(fd) => {
                stats::VECTOR_FDS.inc();
                Ok(fd)
            }
            Err(e) => {
                // SAFETY: On failure the file was not made and `raw` is still
                // ours; it came from `KBox::into_raw` above.
                drop(unsafe { KBox::from_raw(raw) });
                Err(e)
            }
        }
    }

    /// Calls `f` with the vector fd behind `file`, or fails with `EINVAL`
    /// if `file` is not one.
    pub(crate) fn with_file<R>(file: &LocalFile, f: impl FnOnce(&VectorFd) -> R) -> Result<R> {
        let raw = shim::vector_of_file(file).ok_or(EINVAL)?;
        // SAFETY: The private data of a vector file is a `VectorFd` that
        // lives until the file is released, and the caller holds `file`.
        Ok(f(unsafe { &*raw.cast::<VectorFd>() }))
    }

    /// The receiver this fd sends to.
    pub(crate) fn receiver(&self) -> &Arc<Receiver> {
        &self.receiver
    }

    /// The user vector this fd sends.
    pub(crate) fn vector(&self) -> u8 {
        self.vector
    }
}

impl Drop for VectorFd {
    fn drop(&mut self) {
        if self.counting {
            self.receiver.put_polled(self.vector);
        }
    }
}

/// The vector fd behind a vector file's private data.
///
/// # Safety
///
/// `vector` is the private data of a vector file that is open for `'a`.
unsafe fn vfd<'a>(vector: *mut c_void) -> &'a VectorFd {
    // SAFETY: Per the caller, a live `VectorFd` from `install`.
    unsafe { &*vector.cast::<VectorFd>() }
}

impl VectorFd {
    /// Collects what the kernel can see and tells whether a read would
    /// return at once.
    fn ready(&self) -> bool {
        let r = &self.receiver;
        r.collect_pir(Wake::Now);
        !self.counting || r.is_sealed() || r.has_count(self.vector)
    }
}

/// The wait queue of a vector file.
///
/// # Safety
///
/// `vector` is the private data of an open vector file.
#[no_mangle]
pub(crate) unsafe extern "C" fn uintr_rust_vector_queue(vector: *mut c_void) -> *mut c_void {
    // SAFETY: Guaranteed by the caller.
    unsafe { vfd(vector) }.receiver.queue().as_ptr()
}

/// `poll()`: bit 0 for readable, bit 1 for hung up (the C side turns them
/// into `EPOLLIN | EPOLLRDNORM` and `EPOLLHUP`).
///
/// # Safety
///
/// `vector` is the private data of an open vector file.
#[no_mangle]
pub(crate) unsafe extern "C" fn uintr_rust_vector_poll(vector: *mut c_void) -> u32 {
    // SAFETY: Guaranteed by the caller.
    let v = unsafe { vfd(vector) };
    // Seen first: once sealed, the count read below is final.
    let gone = v.receiver.is_sealed();
    v.receiver.collect_pir(Wake::Now);
    let readable = v.counting && v.receiver.has_count(v.vector);
    u32::from(readable) | (u32::from(gone) << 1)
}

/// Whether a blocked `read()` may stop waiting.
///
/// # Safety
///
/// `vector` is the private data of an open vector file.
#[no_mangle]
pub(crate) unsafe extern "C" fn uintr_rust_vector_ready(vector: *mut c_void) -> bool {
    // SAFETY: Guaranteed by the caller.
    unsafe { vfd(vector) }.ready()
}

/// `read()`: takes the count into `*count`.  Returns 0 with a count, 0 with
/// a zero count once the receiver is gone and nothing is left, `-EAGAIN`
/// when nothing is counted yet, and `-EINVAL` for an fd made without
/// `UINTR_VECTOR_FD_POLL`.
///
/// # Safety
///
/// `vector` is the private data of an open vector file and `count` is
/// valid for writes.
#[no_mangle]
pub(crate) unsafe extern "C" fn uintr_rust_vector_take(
    vector: *mut c_void,
    count: *mut u64,
) -> i32 {
    // SAFETY: Guaranteed by the caller.
    let v = unsafe { vfd(vector) };
    if !v.counting {
        return EINVAL.to_errno();
    }
    // Seen before taking: once sealed, the count taken below is final.
    let dead = v.receiver.is_sealed();
    v.receiver.collect_pir(Wake::Now);
    let n = v.receiver.take_count(v.vector);
    if n == 0 && !dead {
        return EAGAIN.to_errno();
    }
    // SAFETY: Valid for writes per the caller.
    unsafe { count.write(n) };
    0
}

/// Whether a `read()` that is about to block is made by the receiver's
/// own thread, which the kernel vector then wakes directly.
///
/// # Safety
///
/// `vector` is the private data of an open vector file.
#[no_mangle]
pub(crate) unsafe extern "C" fn uintr_rust_vector_own(vector: *mut c_void) -> bool {
    // SAFETY: Guaranteed by the caller.
    let v = unsafe { vfd(vector) };
    task::with_current_receiver(|r| core::ptr::eq(r, &*v.receiver)).unwrap_or(false)
}

/// Gives back a count `read()` could not copy out.
///
/// # Safety
///
/// `vector` is the private data of an open vector file.
#[no_mangle]
pub(crate) unsafe extern "C" fn uintr_rust_vector_untake(vector: *mut c_void, count: u64) {
    // SAFETY: Guaranteed by the caller.
    let v = unsafe { vfd(vector) };
    v.receiver.untake_count(v.vector, count);
}

/// Releases a vector file's private data.
///
/// # Safety
///
/// `vector` is the private data of a vector file being released: a pointer
/// from `KBox::<VectorFd>::into_raw` that nothing uses afterwards.
#[no_mangle]
pub(crate) unsafe extern "C" fn uintr_rust_vector_release(vector: *mut c_void) {
    // SAFETY: Guaranteed by the caller.
    drop(unsafe { KBox::from_raw(vector.cast::<VectorFd>()) });
    stats::VECTOR_FDS.dec();
}
