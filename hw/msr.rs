// SPDX-License-Identifier: GPL-2.0

//! IA32_UINTR_MISC: its MSR number and its layout.
//!
//! The module writes IA32_UINTR_MISC directly (to arm and disarm UINV), and IA32_UINTR_RR only
//! to drop vectors it collected for a vector fd from registers that stay live. The other UINTR
//! MSRs are reached through XSAVE state component 14, see [`super::xstate::UintrState`].

/// MSR number of IA32_UINTR_RR (UIRR, the pending user vectors).
pub(crate) const IA32_UINTR_RR: u32 = 0x985;

/// MSR number of IA32_UINTR_MISC.
pub(crate) const IA32_UINTR_MISC: u32 = 0x988;

/// UITTSZ, bits 31:0: the highest valid UITT index.
const UITTSZ_MASK: u64 = 0xffff_ffff;
/// UINV, bits 39:32: the user-interrupt notification vector, zero when not armed.
const UINV_SHIFT: u32 = 32;
/// The mask of UINV.
const UINV_MASK: u64 = 0xff << UINV_SHIFT;
/// Bits 62:40, reserved in the MSR and in the image.
const RESERVED_MASK: u64 = 0x7fff_ff00_0000_0000;
/// UIF, bit 63: present only in the `misc` field of component 14; reserved in the MSR.
const UIF_MASK: u64 = 1 << 63;
/// The bits WRMSR accepts.
const MSR_MASK: u64 = UITTSZ_MASK | UINV_MASK;

// The fields partition the 64 bits.
const _: () = assert!(UITTSZ_MASK & UINV_MASK == 0);
const _: () = assert!((UITTSZ_MASK | UINV_MASK) & (RESERVED_MASK | UIF_MASK) == 0);
const _: () = assert!(RESERVED_MASK & UIF_MASK == 0);
const _: () = assert!(UITTSZ_MASK | UINV_MASK | RESERVED_MASK | UIF_MASK == u64::MAX);
const _: () = assert!(!MSR_MASK == RESERVED_MASK | UIF_MASK);

/// A value of IA32_UINTR_MISC, or the `misc` field of component 14 (which adds UIF in bit 63).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Misc(u64);

impl Misc {
    /// The all-zero value: UITTSZ 0, UINV not armed, UIF clear. The MSR holds it after reset.
    pub(crate) const ZERO: Self = Self(0);

    /// Wraps a raw MSR value or image field.
    pub(crate) const fn from_raw(raw: u64) -> Self {
        Self(raw)
    }

    /// Returns the raw value.
    pub(crate) const fn raw(self) -> u64 {
        self.0
    }

    /// Returns UINV, the notification vector; zero means not armed.
    pub(crate) const fn uinv(self) -> u8 {
        // The mask keeps eight bits, so the truncation is exact.
        ((self.0 & UINV_MASK) >> UINV_SHIFT) as u8
    }

    /// Returns UIF (an image field's bit 63): user interrupts are delivered.
    pub(crate) const fn uif(self) -> bool {
        self.0 & UIF_MASK != 0
    }

    /// Returns the value with UINV replaced by `vector`.
    pub(crate) const fn with_uinv(self, vector: u8) -> Self {
        // `u64::from` is not const; widening a `u8` is lossless.
        let field = (vector as u64) << UINV_SHIFT;
        Self((self.0 & !UINV_MASK) | field)
    }

    /// Returns the value with UITTSZ (the highest valid UITT index) replaced by `highest`.
    pub(crate) const fn with_uittsz(self, highest: u32) -> Self {
        Self((self.0 & !UITTSZ_MASK) | highest as u64)
    }

    /// Returns the part of an image field that the MSR holds: UIF and reserved bits dropped.
    ///
    /// The result is a value WRMSR accepts.
    pub(crate) const fn msr_part(self) -> Self {
        Self(self.0 & MSR_MASK)
    }
}
