// SPDX-License-Identifier: GPL-2.0

//! The user-interrupt target table (UITT): its entries and the IA32_UINTR_TT value.
//!
//! SENDUIPI `reg` reads entry `reg` of the table IA32_UINTR_TT points to. An entry is 16 bytes:
//! bit 0 V (valid), bits 15:8 UV (the user vector to post, below 64), bits 127:64 the UPID
//! address (64-byte aligned, so its bits 5:0 are zero). Every other bit is reserved and must be zero,
//! or SENDUIPI raises #GP.

/// V, bit 0 of the first word: the entry is valid.
const VALID: u64 = 1 << 0;
/// UV, bits 15:8 of the first word: the user vector.
const UV_SHIFT: u32 = 8;
/// The number of user vectors; UV and PIR bit numbers are below it.
pub(crate) const USER_VECTORS: u8 = 64;
/// IA32_UINTR_TT bit 0: SENDUIPI is enabled and bits 63:4 hold the table address.
const TT_VALID: u64 = 1 << 0;
/// The alignment IA32_UINTR_TT requires of the table (bits 3:1 are reserved).
pub(crate) const UITT_ALIGN: u64 = 16;

const _: () = assert!(UITT_ALIGN.is_power_of_two());
// The valid bit sits below the table alignment, so it never collides with the address.
const _: () = assert!(UITT_ALIGN > TT_VALID);

/// One UITT entry as it sits in memory.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct UittEntry {
    /// V in bit 0 and UV in bits 15:8; everything else reserved.
    pub(crate) flags: u64,
    /// The UPID address, 64-byte aligned.
    pub(crate) upid_addr: u64,
}

const _: () = assert!(core::mem::size_of::<UittEntry>() == 16);
const _: () = assert!(core::mem::offset_of!(UittEntry, upid_addr) == 8);

/// A user vector, below [`USER_VECTORS`].
///
/// # Invariants
///
/// The value is below [`USER_VECTORS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct UserVector(u8);

impl UserVector {
    /// Returns the user vector `vector`, or `None` when it is not below [`USER_VECTORS`].
    pub(crate) const fn new(vector: u8) -> Option<Self> {
        if vector < USER_VECTORS {
            // INVARIANT: checked just above.
            Some(Self(vector))
        } else {
            None
        }
    }

    /// Returns the vector number.
    pub(crate) const fn get(self) -> u8 {
        self.0
    }
}

impl UittEntry {
    /// An invalid entry: SENDUIPI with its index raises #GP.
    pub(crate) const INVALID: Self = Self {
        flags: 0,
        upid_addr: 0,
    };

    /// Returns a valid entry posting `vector` to the UPID at `upid_addr`.
    ///
    /// The caller checks the UPID address; see `logic::uitt::entry`.
    pub(crate) const fn valid(vector: UserVector, upid_addr: u64) -> Self {
        Self {
            flags: VALID | ((vector.get() as u64) << UV_SHIFT),
            upid_addr,
        }
    }
}

/// Returns the IA32_UINTR_TT value for a table at `uitt_addr`: the address with bit 0 set.
///
/// The caller checks the alignment; see `logic::receiver::install_sender`.
pub(crate) const fn tt_value(uitt_addr: u64) -> u64 {
    uitt_addr | TT_VALID
}
