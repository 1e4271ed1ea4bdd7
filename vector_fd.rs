// SPDX-License-Identifier: GPL-2.0

//! Vector fds: the capability to send one user vector to one receiver.
//!
//! A vector fd is an anonymous-inode file (made by the C shim) whose private
//! data is a boxed [`VectorFd`].  It holds a reference on the receiver, so
//! the UPID outlives every fd; a dead receiver makes the fd useless for new
//! senders but keeps it valid.

use crate::{
    receiver::Receiver,
    shim,
    stats, //
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
}

impl VectorFd {
    /// Installs a new vector fd for `vector` of `receiver`; returns the fd.
    pub(crate) fn install(receiver: Arc<Receiver>, vector: u8) -> Result<i32> {
        let vfd = KBox::new(VectorFd { receiver, vector }, GFP_KERNEL)?;
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
