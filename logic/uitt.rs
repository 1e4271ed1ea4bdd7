// SPDX-License-Identifier: GPL-2.0

//! Building UITT entries.
//!
//! A sender's table entries hold a user vector and the address of the receiver's UPID. SENDUIPI
//! raises #GP in the sender for an entry with a reserved bit set, so entries are only built here,
//! from checked values.

use super::Invalid;
use crate::hw::{
    uitt::{
        UittEntry,
        UserVector, //
    },
    upid::UPID_ALIGN,
};

/// Returns whether `addr` can be a UPID address: non-null and 64-byte aligned.
pub(crate) const fn upid_address_valid(addr: u64) -> bool {
    addr != 0 && addr & (UPID_ALIGN - 1) == 0
}

/// Returns a valid entry that posts user vector `vector` to the UPID at `upid_addr`.
pub(crate) const fn entry(vector: u8, upid_addr: u64) -> Result<UittEntry, Invalid> {
    let Some(vector) = UserVector::new(vector) else {
        return Err(Invalid::UserVector);
    };
    if !upid_address_valid(upid_addr) {
        return Err(Invalid::UpidAddress);
    }
    Ok(UittEntry::valid(vector, upid_addr))
}
