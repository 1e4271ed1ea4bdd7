// SPDX-License-Identifier: GPL-2.0

//! The interrupt vectors of the contract with the kernel series, which
//! reserves them below the system vectors
//! (`arch/x86/include/asm/irq_vectors.h`); the module checks these values
//! against the kernel's at build time.

/// The vector a UPID names for user-interrupt notifications: taken at any
/// CPL, the CPU moves the posts into UIRR instead of the IDT.
pub(crate) const NOTIFICATION_VECTOR: u8 = 0xea;

/// The vector a UPID names while its receiver sleeps in the kernel or is
/// parked for its pollers: an ordinary interrupt, whose handler wakes it.
pub(crate) const KERNEL_VECTOR: u8 = 0xe9;
