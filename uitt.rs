// SPDX-License-Identifier: GPL-2.0

//! The user-interrupt target table (UITT) of a process.
//!
//! One table per `mm`, shared by every thread of the process that
//! registered as a sender.  The table is one page holding the architectural
//! maximum of 256 entries; UITTSZ always covers all of them and unused
//! entries are invalid, so the table never moves and never grows under a
//! running SENDUIPI.
//!
//! # Lifetime
//!
//! [`UITTS`] maps an `mm` to its table and counts the threads using it
//! (each has the table's address in its UINTR state).  When the last of them
//! exits or execs, the table leaves the map and is freed with its entries'
//! references on their receivers: no thread can execute SENDUIPI on it any
//! more.  Unregistering one entry waits for an RCU grace period before it
//! drops the receiver reference, so that a SENDUIPI that read the entry
//! just before it was cleared has finished with the UPID.

use crate::{
    hw::uitt::UittEntry,
    logic,
    receiver::Receiver,
    stats, //
};
use kernel::{
    bindings,
    prelude::*,
    rbtree::{
        RBTree,
        RBTreeNodeReservation, //
    },
    sync::{
        atomic::{
            ordering::{
                Relaxed,
                Release, //
            },
            Atomic,
        },
        Arc, SpinLock,
    },
};

/// Entries per table: the architectural maximum (UITTSZ = 255).
pub(crate) const ENTRIES: usize = 256;

const _: () = assert!(core::mem::size_of::<RawEntry>() == 16);

/// One UITT entry as the hardware reads it.
#[repr(C, align(16))]
struct RawEntry {
    /// V (bit 0) and UV (bits 15:8).
    control: Atomic<u64>,
    /// The target UPID's address.
    upid: Atomic<u64>,
}

/// The receiver behind each entry, `None` for an unused one.
type Targets = KVec<Option<Arc<Receiver>>>;

/// A process's table.
pub(crate) struct Uitt {
    /// The entries the hardware reads: exactly [`ENTRIES`] of them.
    raw: KVec<RawEntry>,
    /// The receiver each valid entry targets.
    targets: Pin<KBox<SpinLock<Targets>>>,
}

impl Uitt {
    fn new() -> Result<Arc<Self>> {
        let mut raw = KVec::with_capacity(ENTRIES, GFP_KERNEL)?;
        let mut targets = KVec::with_capacity(ENTRIES, GFP_KERNEL)?;
        for _ in 0..ENTRIES {
            raw.push(
                RawEntry {
                    control: Atomic::new(0),
                    upid: Atomic::new(0),
                },
                GFP_KERNEL,
            )?;
            targets.push(None, GFP_KERNEL)?;
        }
        Ok(Arc::new(
            Self {
                raw,
                targets: KBox::pin_init(kernel::new_spinlock!(targets, "uintr_uitt"), GFP_KERNEL)?,
            },
            GFP_KERNEL,
        )?)
    }

    /// The table's address, for IA32_UINTR_TT.
    pub(crate) fn addr(&self) -> u64 {
        self.raw.as_ptr() as u64
    }

    /// Adds an entry that posts `vector` to `receiver`; returns its index.
    pub(crate) fn add(&self, receiver: Arc<Receiver>, vector: u8) -> Result<usize> {
        let entry = logic::uitt::entry(vector, receiver.upid_addr()).map_err(|_| EINVAL)?;
        let mut targets = self.targets.lock();
        let index = targets.iter().position(Option::is_none).ok_or(ENOSPC)?;
        let raw = self.raw.get(index).ok_or(EINVAL)?;
        raw.upid.store(entry.upid_addr, Relaxed);
        // The entry becomes valid only once the UPID address is in place.
        raw.control.store(entry.flags, Release);
        if let Some(slot) = targets.get_mut(index) {
            *slot = Some(receiver);
        }
        stats::UITT_ENTRIES.inc();
        Ok(index)
    }

    /// Removes the entry at `index`.  May sleep (waits for a grace period).
    pub(crate) fn remove(&self, index: usize) -> Result {
        let old = {
            let mut targets = self.targets.lock();
            let slot = targets.get_mut(index).ok_or(EINVAL)?;
            let old = slot.take().ok_or(EINVAL)?;
            if let Some(raw) = self.raw.get(index) {
                raw.control.store(UittEntry::INVALID.flags, Release);
                raw.upid.store(UittEntry::INVALID.upid_addr, Relaxed);
            }
            stats::UITT_ENTRIES.dec();
            old
        };
        // SAFETY: Called in process context without locks held.
        unsafe { bindings::synchronize_rcu() };
        drop(old);
        Ok(())
    }
}

impl Drop for Uitt {
    fn drop(&mut self) {
        for _ in self.targets.lock().iter().flatten() {
            stats::UITT_ENTRIES.dec();
        }
    }
}

/// A table in the map and the number of threads using it.
pub(crate) struct MmUitt {
    uitt: Arc<Uitt>,
    users: usize,
}

kernel::sync::global_lock! {
    // SAFETY: Initialized in module initialization before first use.
    pub(crate) unsafe(uninit) static UITTS: SpinLock<Option<RBTree<usize, MmUitt>>> = None;
}

/// The table of the calling process, created if needed, counting the
/// calling thread as one more user.
pub(crate) fn get_for_current() -> Result<Arc<Uitt>> {
    let mm = current_mm()?;
    let fresh = Uitt::new()?;
    let node = RBTreeNodeReservation::new(GFP_KERNEL)?;
    let mut map = UITTS.lock();
    let tree = map.get_or_insert_with(RBTree::new);
    if let Some(entry) = tree.get_mut(&mm) {
        entry.users += 1;
        return Ok(entry.uitt.clone());
    }
    tree.insert(node.into_node(
        mm,
        MmUitt {
            uitt: fresh.clone(),
            users: 1,
        },
    ));
    Ok(fresh)
}

/// Drops one user of the table of `mm`.  Does not sleep.
pub(crate) fn put(mm: usize) {
    let removed = {
        let mut map = UITTS.lock();
        let Some(tree) = map.as_mut() else {
            return;
        };
        match tree.get_mut(&mm) {
            Some(entry) if entry.users > 1 => {
                entry.users -= 1;
                None
            }
            Some(_) => tree.remove(&mm),
            None => None,
        }
    };
    // Freed outside the lock.
    drop(removed);
}

/// The calling process's `mm` as a map key.
pub(crate) fn current_mm() -> Result<usize> {
    let task = kernel::current!();
    let mm = task.mm().ok_or(EINVAL)?;
    Ok(core::ptr::from_ref(mm) as usize)
}
