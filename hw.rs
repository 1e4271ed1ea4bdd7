// SPDX-License-Identifier: GPL-2.0

//! The UINTR hardware contract, declared once.
//!
//! MSR numbers and the bit layouts of IA32_UINTR_MISC, the user posted-interrupt descriptor
//! (UPID), the user-interrupt target table (UITT) entry and XSAVE state component 14, as the
//! Intel SDM (user interrupts chapter) defines them. Sizes and offsets are checked at compile
//! time; bit fields are reached through typed accessors so that no shift appears in `logic`.
//!
//! Pure: depends on `core` only. The kernel module builds this file with `mod hw;` from its crate
//! root and the host model in `model/` builds the very same files, so every decision the model
//! checks runs on the layouts the module uses.

pub(crate) mod msr;
pub(crate) mod uitt;
pub(crate) mod upid;
pub(crate) mod vectors;
pub(crate) mod xstate;
