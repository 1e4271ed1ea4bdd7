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
//! (each has the table's address in its UINTR state).  The map entry holds
//! the `mm` with `mmgrab()`, so its address names this process for as long
//! as the entry exists, whatever the order in which exec or exit release the
//! old `mm`.  When the last thread using the table exits or execs, the table
//! leaves the map and is freed with its entries' references on their
//! receivers: no thread can execute SENDUIPI on it any more.
//!
//! # Entries change under running senders
//!
//! The SDM does not promise that SENDUIPI reads an entry's 16 bytes in one
//! access, so an entry never pairs a valid bit with a zero address or with
//! an address that another entry of the index had.  Unused entries point at
//! [`SINK`], a UPID with SN set that no one receives from.  Removal clears
//! the valid bit and points the entry at the sink, then waits for an RCU
//! grace period (every SENDUIPI that began before has completed: an
//! instruction completes before its CPU can report a quiescent state) and
//! only then drops the receiver reference and frees the index.  Adding
//! writes the new address before the valid bit.  A torn read therefore sees
//! either the old entry, the new one, or the sink paired with a valid bit:
//! a post that raced with its own entry's change lands in the sink.

use crate::{
    hw::{
        uitt::UittEntry,
        upid::Upid, //
    },
    logic,
    receiver::Receiver,
    shim,
    stats, //
};
use core::ptr::NonNull;
use kernel::{
    bindings,
    mm::Mm,
    prelude::*,
    rbtree::{
        RBTree,
        RBTreeNodeReservation, //
    },
    sync::{
        aref::ARef,
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

/// Where an unused entry points: notifications suppressed, posts ignored.
/// SENDUIPI writes PIR with a locked operation, so the sink is an atomic
/// like every UPID.
static SINK: Upid = Upid::new(logic::upid::SINK);

/// The address of [`SINK`].
fn sink_addr() -> u64 {
    core::ptr::from_ref(&SINK) as u64
}

/// What an index of a table is used for.
enum Target {
    /// Free for [`Uitt::add`].
    Free,
    /// Valid, posting to this receiver, which it keeps alive.
    Used { _receiver: Arc<Receiver> },
    /// Removed; free again after a grace period.
    Retiring,
}

/// The target behind each entry.
type Targets = KVec<Target>;

/// A process's table.
pub(crate) struct Uitt {
    /// The entries the hardware reads: exactly [`ENTRIES`] of them.
    raw: KVec<RawEntry>,
    /// The receiver each valid entry targets.
    targets: Pin<KBox<SpinLock<Targets>>>,
}

impl Uitt {
    fn new() -> Result<Arc<Self>> {
        let mut raw = KVec::with_capacity(ENTRIES, GFP_KERNEL_ACCOUNT)?;
        let mut targets = KVec::with_capacity(ENTRIES, GFP_KERNEL_ACCOUNT)?;
        for _ in 0..ENTRIES {
            raw.push(
                RawEntry {
                    control: Atomic::new(UittEntry::INVALID.flags),
                    upid: Atomic::new(sink_addr()),
                },
                GFP_KERNEL_ACCOUNT,
            )?;
            targets.push(Target::Free, GFP_KERNEL_ACCOUNT)?;
        }
        Ok(Arc::new(
            Self {
                raw,
                targets: KBox::pin_init(
                    kernel::new_spinlock!(targets, "uintr_uitt"),
                    GFP_KERNEL_ACCOUNT,
                )?,
            },
            GFP_KERNEL_ACCOUNT,
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
        let index = targets
            .iter()
            .position(|t| matches!(t, Target::Free))
            .ok_or(ENOSPC)?;
        let raw = self.raw.get(index).ok_or(EINVAL)?;
        let slot = targets.get_mut(index).ok_or(EINVAL)?;
        // The entry is invalid and points at the sink, and no SENDUIPI that
        // saw another address for it is still running (see the module
        // documentation).  It becomes valid only once the address is in
        // place.
        raw.upid.store(entry.upid_addr, Relaxed);
        raw.control.store(entry.flags, Release);
        *slot = Target::Used {
            _receiver: receiver,
        };
        stats::UITT_ENTRIES.inc();
        Ok(index)
    }

    /// Removes the entry at `index`: `EINVAL` if it is not in use.  May
    /// sleep (waits for a grace period).
    pub(crate) fn remove(&self, index: usize) -> Result {
        let old = {
            let mut targets = self.targets.lock();
            let slot = targets.get_mut(index).ok_or(EINVAL)?;
            if !matches!(slot, Target::Used { .. }) {
                return Err(EINVAL);
            }
            let raw = self.raw.get(index).ok_or(EINVAL)?;
            raw.control.store(UittEntry::INVALID.flags, Release);
            raw.upid.store(sink_addr(), Release);
            stats::UITT_ENTRIES.dec();
            core::mem::replace(slot, Target::Retiring)
        };
        // SAFETY: Called in process context without locks held.
        unsafe { bindings::synchronize_rcu() };
        // No SENDUIPI that read the old entry is still running: the UPID may
        // go, and the index may name another receiver.
        drop(old);
        if let Some(slot) = self.targets.lock().get_mut(index) {
            *slot = Target::Free;
        }
        Ok(())
    }
}

impl Drop for Uitt {
    fn drop(&mut self) {
        for t in self.targets.lock().iter() {
            if matches!(t, Target::Used { .. }) {
                stats::UITT_ENTRIES.dec();
            }
        }
    }
}

/// The map key of a process's table: the address of its `mm`.
pub(crate) type MmKey = usize;

/// A table in the map and the number of threads using it.
pub(crate) struct MmUitt {
    uitt: Arc<Uitt>,
    users: usize,
    /// Keeps the key's address from naming another process.
    _mm: GrabbedMm,
}

/// An `mmgrab()` reference that may be dropped where nothing may sleep: the
/// exec and exit hooks run inside an RCU read-side section, and the map's
/// reference may be the last (a kernel that releases the old `mm` earlier
/// in exec than 7.2 does), so the final `__mmdrop()` is deferred.
struct GrabbedMm(NonNull<bindings::mm_struct>);

// SAFETY: A reference count, usable from any thread.
unsafe impl Send for GrabbedMm {}

impl GrabbedMm {
    fn new(mm: &Mm) -> Self {
        Self(ARef::into_raw(ARef::<Mm>::from(mm)).cast())
    }
}

impl Drop for GrabbedMm {
    fn drop(&mut self) {
        // SAFETY: The reference taken in `new`, given up here.
        unsafe { shim::mmdrop_deferred(self.0.as_ptr()) };
    }
}

kernel::sync::global_lock! {
    // SAFETY: Initialized in module initialization before first use.
    pub(crate) unsafe(uninit) static UITTS: SpinLock<Option<RBTree<usize, MmUitt>>> = None;
}

/// The table of the calling process, created if needed, counting the
/// calling thread as one more user.  Returns it with its key.
pub(crate) fn get_for_current() -> Result<(Arc<Uitt>, MmKey)> {
    let task = kernel::current!();
    let mm_ref = task.mm().ok_or(EINVAL)?;
    let mm = core::ptr::from_ref(mm_ref) as usize;
    let grabbed = GrabbedMm::new(mm_ref);
    let fresh = Uitt::new()?;
    let node = RBTreeNodeReservation::new(GFP_KERNEL_ACCOUNT)?;
    let mut map = UITTS.lock();
    let tree = map.get_or_insert_with(RBTree::new);
    if let Some(entry) = tree.get_mut(&mm) {
        entry.users += 1;
        let uitt = entry.uitt.clone();
        drop(map);
        return Ok((uitt, mm));
    }
    tree.insert(node.into_node(
        mm,
        MmUitt {
            uitt: fresh.clone(),
            users: 1,
            _mm: grabbed,
        },
    ));
    Ok((fresh, mm))
}

/// The table of the calling process, if one of its threads is a sender.
pub(crate) fn of_current() -> Option<Arc<Uitt>> {
    let mm = current_mm().ok()?;
    let map = UITTS.lock();
    map.as_ref()?.get(&mm).map(|e| e.uitt.clone())
}

/// Drops one user of the table of `mm`.  Does not sleep.
pub(crate) fn put(mm: MmKey) {
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
fn current_mm() -> Result<MmKey> {
    let task = kernel::current!();
    let mm = task.mm().ok_or(EINVAL)?;
    Ok(core::ptr::from_ref(mm) as usize)
}
