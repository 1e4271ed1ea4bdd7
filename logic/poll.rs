// SPDX-License-Identifier: GPL-2.0

//! Collecting the posts of polled vectors for their vector fds.
//!
//! A post to a polled vector that the kernel finds pending, in PIR or in the UIRR of a saved
//! image, is taken away from the handler and counted on the fds. Taking it must remove it from
//! every place the CPU could still deliver it from, or the handler receives it as well.

use super::fpu::MsrWrite;
use crate::hw::{
    msr::IA32_UINTR_RR,
    xstate::UintrState, //
};

/// Takes the vectors of `polled` pending in the UIRR of `image`, which XSAVES has just written
/// from this CPU's registers. Returns them, with the write that drops them from the live UIRR.
///
/// The registers can be used again without an XRSTORS of this image (a lazy restore after a
/// switch on the same CPU; `fpu_clone()` keeps the parent's registers), so clearing the image
/// alone would let the CPU deliver a counted post to the handler too. XSAVES cleared UINV, so no
/// notification processing changes UIRR before the write.
pub(crate) fn collect_saved(image: &mut UintrState, polled: u64) -> Option<(u64, MsrWrite)> {
    let taken = image.uirr & polled;
    if taken == 0 {
        return None;
    }
    image.uirr &= !taken;
    Some((
        taken,
        MsrWrite {
            msr: IA32_UINTR_RR,
            value: image.uirr,
        },
    ))
}

/// Returns the vectors of `polled` to take from `pir`, read after the UPID update of the return
/// to user space; the caller clears them with one locked operation and replays only the rest.
pub(crate) const fn collect_posted(pir: u64, polled: u64) -> u64 {
    pir & polled
}
