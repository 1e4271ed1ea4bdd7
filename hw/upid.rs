// SPDX-License-Identifier: GPL-2.0

//! The user posted-interrupt descriptor (UPID).
//!
//! Sixteen architectural bytes, 64-byte aligned. Word 0 holds ON (bit 0, outstanding
//! notification), SN (bit 1, suppress notification), NV (bits 23:16, notification vector) and
//! NDST (bits 63:32, the x2APIC ID; in xAPIC mode the APIC ID sits in bits 47:40); word 1 is PIR,
//! one bit per user vector. SENDUIPI and notification processing change it with locked
//! read-modify-write operations, so the module changes it only with atomic operations too.

use core::sync::atomic::AtomicU64;

/// ON, bit 0: a notification is outstanding.
const ON: u64 = 1 << 0;
/// SN, bit 1: senders set PIR bits without sending notifications.
const SN: u64 = 1 << 1;
/// NV, bits 23:16: the vector of the notification interrupt.
const NV_SHIFT: u32 = 16;
/// The mask of NV.
const NV_MASK: u64 = 0xff << NV_SHIFT;
/// NDST, bits 63:32: the notification destination (x2APIC ID).
const NDST_SHIFT: u32 = 32;
/// The mask of NDST.
const NDST_MASK: u64 = 0xffff_ffff << NDST_SHIFT;
/// Where an xAPIC ID sits inside NDST: bits 47:40 of the word.
const NDST_XAPIC_SHIFT: u32 = 40;
/// Bits 15:2 and 31:24, reserved: SENDUIPI raises #GP when one is set.
const RESERVED_MASK: u64 = 0xff00_fffc;

// The fields partition word 0.
const _: () = assert!(ON & SN == 0 && (ON | SN) & (NV_MASK | NDST_MASK | RESERVED_MASK) == 0);
const _: () = assert!(NV_MASK & NDST_MASK == 0 && (NV_MASK | NDST_MASK) & RESERVED_MASK == 0);
const _: () = assert!(ON | SN | NV_MASK | NDST_MASK | RESERVED_MASK == u64::MAX);

/// A UPID as it sits in memory.
///
/// IA32_UINTR_PD and UITT entries hold its address; the hardware reads and writes it with
/// supervisor accesses at any time while an armed CPU or a sender can reach it.
#[repr(C, align(64))]
pub(crate) struct Upid {
    /// Word 0: ON, SN, NV and NDST, see [`UpidStatus`].
    pub(crate) status: AtomicU64,
    /// Word 1: PIR, the posted user vectors (bit `n` is user vector `n`).
    pub(crate) pir: AtomicU64,
}

/// The architectural size of a UPID.
pub(crate) const UPID_SIZE: usize = 16;

/// The alignment IA32_UINTR_PD and UITT entries require of a UPID address.
pub(crate) const UPID_ALIGN: u64 = 64;

const _: () = assert!(UPID_ALIGN.is_power_of_two());
const _: () = assert!(core::mem::offset_of!(Upid, status) == 0);
const _: () = assert!(core::mem::offset_of!(Upid, pir) == 8);
const _: () = assert!(core::mem::align_of::<Upid>() as u64 == UPID_ALIGN);
const _: () = assert!(core::mem::size_of::<Upid>() >= UPID_SIZE);

impl Upid {
    /// Returns a UPID with word 0 set to `status` and no posted vector.
    pub(crate) const fn new(status: u64) -> Self {
        Self {
            status: AtomicU64::new(status),
            pir: AtomicU64::new(0),
        }
    }
}

/// A notification destination, encoded into NDST according to the local APIC's mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ndst {
    /// An x2APIC ID: NDST holds all 32 bits.
    X2apic(u32),
    /// An xAPIC ID: bits 47:40 of word 0 hold it, the rest of NDST is zero.
    Xapic(u8),
}

impl Ndst {
    /// Returns the NDST bits of word 0 for this destination.
    const fn field(self) -> u64 {
        match self {
            Self::X2apic(id) => (id as u64) << NDST_SHIFT,
            Self::Xapic(id) => (id as u64) << NDST_XAPIC_SHIFT,
        }
    }
}

/// Word 0 of a UPID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct UpidStatus(u64);

impl UpidStatus {
    /// The all-zero word: no notification outstanding, not suppressed, no vector, destination 0.
    pub(crate) const ZERO: Self = Self(0);

    /// Wraps a raw word 0.
    pub(crate) const fn from_raw(raw: u64) -> Self {
        Self(raw)
    }

    /// Returns the raw word.
    pub(crate) const fn raw(self) -> u64 {
        self.0
    }

    /// Returns ON.
    pub(crate) const fn on(self) -> bool {
        self.0 & ON != 0
    }

    /// Returns SN.
    pub(crate) const fn sn(self) -> bool {
        self.0 & SN != 0
    }

    /// Returns NV.
    pub(crate) const fn nv(self) -> u8 {
        // The mask keeps eight bits, so the truncation is exact.
        ((self.0 & NV_MASK) >> NV_SHIFT) as u8
    }

    /// Returns the raw NDST field, bits 63:32 (an xAPIC ID sits in its bits
    /// 15:8).
    pub(crate) const fn ndst_raw(self) -> u32 {
        // The shift leaves 32 bits, so the truncation is exact.
        (self.0 >> NDST_SHIFT) as u32
    }

    /// Returns the word with ON set to `on`.
    pub(crate) const fn with_on(self, on: bool) -> Self {
        Self(if on { self.0 | ON } else { self.0 & !ON })
    }

    /// Returns the word with SN set to `sn`.
    pub(crate) const fn with_sn(self, sn: bool) -> Self {
        Self(if sn { self.0 | SN } else { self.0 & !SN })
    }

    /// Returns the word with NV set to `vector`.
    pub(crate) const fn with_nv(self, vector: u8) -> Self {
        Self((self.0 & !NV_MASK) | ((vector as u64) << NV_SHIFT))
    }

    /// Returns the word with NDST set to `ndst` (all 32 NDST bits are rewritten).
    pub(crate) const fn with_ndst(self, ndst: Ndst) -> Self {
        Self((self.0 & !NDST_MASK) | ndst.field())
    }
}
