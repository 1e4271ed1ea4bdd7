// SPDX-License-Identifier: GPL-2.0

//! The module's hooks as the model runs them: the real scheme, built on `logic` exactly the way
//! the kernel module calls it, and the wrong schemes the negative controls must catch.
//!
//! A hook gets the model's [`Machine`] to act on (WRMSR, self-IPI, UPID compare-exchange), the
//! CPU it runs on, and what the kernel hands it. The glue here is as thin as the module's: every
//! decision comes from `logic`, except in the wrong schemes, where the difference is the point.

use std::sync::atomic::Ordering;

use crate::hw::{
    msr::{Misc, IA32_UINTR_MISC},
    upid::Ndst,
    xstate::UintrState,
};
use crate::logic::{
    fpu::{CpuMisc, MsrWrite},
    poll, upid,
};
use crate::sdm::{Fault, Machine};

pub(crate) use crate::hw::vectors::NOTIFICATION_VECTOR;

/// A receiver, as the module attaches it to a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Receiver {
    /// The UPID's address.
    pub(crate) upid_addr: u64,
    /// The receiver slot (which user vectors belong to it).
    pub(crate) slot: usize,
}

/// The hooks' schemes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// The project's scheme, built on `logic`.
    Real,
    /// UINV is kept in the image like any other register: registration writes it there with the
    /// handler, nothing clears the saved copy, nothing disarms, and live registers are trusted to
    /// still hold UINV.
    Naive,
    /// UINV is armed with WRMSR from task_work, which runs before the FPU registers are restored;
    /// XRSTORS is trusted to find UINV clear because XSAVES cleared it.
    TaskWork,
    /// Like the real scheme, but live registers are trusted to still hold UINV unless
    /// `TIF_NEED_FPU_LOAD` was set, instead of tracking the MSR per CPU.
    TrustNeedFpuLoad,
    /// Like the real scheme, but PIR is read before the UPID compare-exchange on the way to user
    /// space.
    PirBeforeResume,
    /// Like the real scheme, but the UPID update on the way to user space leaves ON as it is.
    KeepOn,
    /// The real scheme with polled vectors ([`POLLED`]): their posts found pending at an XSAVES
    /// or on the way to user space are taken for the vector fds instead of the handler.
    Polled,
    /// Like [`Scheme::Polled`], but a collection at XSAVES clears UIRR in the image only, not in
    /// the registers the kernel may keep using.
    PolledImageOnly,
    /// Like the real scheme, but a kernel post only sets the PIR bit: no look at ON and SN, no
    /// update of word 0 and no notification.
    PostPirOnly,
    /// Like the real scheme, but a kernel post's notification carries the posted user vector
    /// instead of NV.
    PostUserVector,
    /// Like the real scheme, but a kernel post's destination is taken as an x2APIC ID in xAPIC
    /// mode too, without extracting the ID from bits 15:8 of NDST.
    PostNdstAsX2apic,
    /// Like the real scheme, but a kernel post updates word 0 and notifies first, and sets the
    /// PIR bit afterwards.
    PostPirLast,
}

/// The polled user vectors under the polling schemes: the upper four of each receiver's eight.
pub(crate) const POLLED: u64 = 0xf0f0_f0f0_f0f0_f0f0;

/// The module: its scheme and its per-CPU state.
pub(crate) struct Module {
    /// The scheme the hooks follow.
    pub(crate) scheme: Scheme,
    /// Per-CPU tracking of IA32_UINTR_MISC.
    pub(crate) cpus: Vec<CpuMisc>,
    /// The polled user vectors of every receiver.
    pub(crate) polled: u64,
}

/// Returns the notification destination of `cpu`, as the module computes it.
pub(crate) fn ndst(hw: &Machine, cpu: usize) -> Ndst {
    let id = hw.cpus[cpu].apic_id;
    if hw.x2apic {
        Ndst::X2apic(id)
    } else {
        Ndst::Xapic(id as u8)
    }
}

/// Executes a WRMSR the logic asked for.
fn wrmsr(hw: &mut Machine, cpu: usize, write: Option<MsrWrite>) -> Result<(), Fault> {
    match write {
        Some(w) => hw.wrmsr(cpu, w.msr, w.value),
        None => Ok(()),
    }
}

/// Runs the module's compare-exchange loop on UPID word 0.
fn upid_update(hw: &Machine, addr: u64, f: impl Fn(u64) -> u64) {
    if let Some(cell) = hw.upid(addr) {
        // The closure never fails, so the loop always ends with a write.
        let _ = cell
            .upid
            .status
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |s| Some(f(s)));
    }
}

/// Runs the module's compare-exchange loop on UPID word 0; returns the word it replaced.
fn upid_exchange(hw: &Machine, addr: u64, f: impl Fn(u64) -> u64) -> Option<u64> {
    let cell = hw.upid(addr)?;
    // As above: the loop always ends with a write, so `Err` never happens.
    let old = cell
        .upid
        .status
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |s| Some(f(s)));
    Some(old.unwrap_or_else(|s| s))
}

/// `uintr_notify()`: sends `vector` to the CPU whose APIC ID the raw NDST field `ndst` names (in
/// xAPIC mode the ID is its bits 15:8). An ID that no CPU has sends nothing. Returns the CPU.
fn notify(hw: &mut Machine, ndst: u32, vector: u8, xapic_decode: bool) -> Option<usize> {
    let id = if hw.x2apic || !xapic_decode {
        ndst
    } else {
        (ndst >> 8) & 0xff
    };
    let cpu = hw.cpus.iter().position(|c| c.apic_id == id)?;
    hw.ipi(cpu, vector);
    Some(cpu)
}

/// Sets the PIR bit of user vector `vector` in the UPID at `addr`, with a locked OR.
fn post_pir(hw: &Machine, addr: u64, vector: u8) {
    if let Some(cell) = hw.upid(addr) {
        cell.upid.pir.fetch_or(1 << vector, Ordering::SeqCst);
    }
}

/// Updates word 0 of the UPID at `addr` for a kernel post of user vector `vector` under `scheme`,
/// with `upid::post` in the compare-exchange loop, and sends the notification
/// `upid::post_notifies` asks for.
fn post_notify(
    scheme: Scheme,
    hw: &mut Machine,
    addr: u64,
    vector: u8,
) -> Option<(u8, Option<usize>)> {
    let (nv, ndst) = match scheme {
        Scheme::PostPirOnly => return None,
        _ => upid::post_notifies(upid_exchange(hw, addr, upid::post)?)?,
    };
    let sent = if scheme == Scheme::PostUserVector {
        vector
    } else {
        nv
    };
    let cpu = notify(hw, ndst, sent, scheme != Scheme::PostNdstAsX2apic);
    Some((sent, cpu))
}

/// The first half of a kernel post (`Receiver::post`) of user vector `vector` to the UPID at
/// `addr`, under `scheme`: the PIR bit. Returns the vector sent and the CPU it went to (`None`
/// when no CPU has the destination), or `None` when this half sent nothing.
pub(crate) fn kernel_post_begin(
    scheme: Scheme,
    hw: &mut Machine,
    addr: u64,
    vector: u8,
) -> Option<(u8, Option<usize>)> {
    if scheme == Scheme::PostPirLast {
        return post_notify(scheme, hw, addr, vector);
    }
    post_pir(hw, addr, vector);
    None
}

/// The second half of a kernel post, as [`kernel_post_begin`]: the compare-exchange of word 0
/// with `upid::post`, then the notification `upid::post_notifies` asks for, sent as
/// `uintr_notify()` sends it.
pub(crate) fn kernel_post_end(
    scheme: Scheme,
    hw: &mut Machine,
    addr: u64,
    vector: u8,
) -> Option<(u8, Option<usize>)> {
    if scheme == Scheme::PostPirLast {
        post_pir(hw, addr, vector);
        return None;
    }
    post_notify(scheme, hw, addr, vector)
}

/// Reads PIR.
fn upid_pir(hw: &Machine, addr: u64) -> u64 {
    hw.upid(addr)
        .map_or(0, |cell| cell.upid.pir.load(Ordering::SeqCst))
}

impl Module {
    /// Returns the module, loaded on a machine with `cpus` CPUs.
    pub(crate) fn new(scheme: Scheme, cpus: usize) -> Self {
        let polled = match scheme {
            Scheme::Polled | Scheme::PolledImageOnly => POLLED,
            _ => 0,
        };
        Self {
            scheme,
            cpus: vec![CpuMisc::new(); cpus],
            polled,
        }
    }

    /// Hook `after_xsaves`, with the receiver whose registers were saved, if any. Returns the
    /// polled vectors it took from the image for the vector fds.
    pub(crate) fn after_xsaves(
        &mut self,
        hw: &mut Machine,
        cpu: usize,
        mut image: Option<&mut UintrState>,
        receiver: Option<Receiver>,
    ) -> Result<u64, Fault> {
        let mut taken = 0;
        if let (Some(img), Some(_)) = (image.as_deref_mut(), receiver) {
            if let Some((bits, write)) = poll::collect_saved(img, self.polled) {
                taken = bits;
                if self.scheme != Scheme::PolledImageOnly {
                    hw.wrmsr(cpu, write.msr, write.value)?;
                }
            }
        }
        match self.scheme {
            Scheme::Naive => {}
            _ => self.cpus[cpu].after_xsaves(image),
        }
        Ok(taken)
    }

    /// Hook `before_xrstors`.
    pub(crate) fn before_xrstors(
        &mut self,
        hw: &mut Machine,
        cpu: usize,
        image: Option<&UintrState>,
    ) -> Result<(), Fault> {
        match self.scheme {
            Scheme::Naive => Ok(()),
            Scheme::TaskWork => {
                // XSAVES cleared UINV, so only the tracking is brought up to date.
                let _ = self.cpus[cpu].before_xrstors(image);
                Ok(())
            }
            _ => {
                let write = self.cpus[cpu].before_xrstors(image);
                wrmsr(hw, cpu, write)
            }
        }
    }

    /// The task_work callback of the `TaskWork` scheme: runs on the way to user space before the
    /// FPU registers are restored.
    pub(crate) fn task_work(&mut self, hw: &mut Machine, cpu: usize) -> Result<(), Fault> {
        if self.scheme != Scheme::TaskWork {
            return Ok(());
        }
        let write = self.cpus[cpu].arm_for_user(None, NOTIFICATION_VECTOR);
        wrmsr(hw, cpu, write)
    }

    /// Hook `exit_to_user` for a receiver. `image` is `None` when the registers are live and
    /// final; `need_fpu_load` is the task's `TIF_NEED_FPU_LOAD` when the hook runs. `race` runs
    /// between the UPID compare-exchange and the read of PIR, standing for a sender on another
    /// CPU. Returns the polled vectors it took from PIR for the vector fds.
    pub(crate) fn exit_to_user(
        &mut self,
        hw: &mut Machine,
        cpu: usize,
        receiver: Receiver,
        image: Option<&mut UintrState>,
        need_fpu_load: bool,
        race: &mut dyn FnMut(&mut Machine),
    ) -> Result<u64, Fault> {
        let dest = ndst(hw, cpu);
        let pir = if self.scheme == Scheme::PirBeforeResume {
            let pir = upid_pir(hw, receiver.upid_addr);
            race(hw);
            upid_update(hw, receiver.upid_addr, |s| upid::resume(s, dest));
            pir
        } else if self.scheme == Scheme::KeepOn {
            upid_update(hw, receiver.upid_addr, |s| {
                upid::resume(s, dest) | (s & crate::sdm::UPID_ON)
            });
            race(hw);
            upid_pir(hw, receiver.upid_addr)
        } else {
            upid_update(hw, receiver.upid_addr, |s| upid::resume(s, dest));
            race(hw);
            upid_pir(hw, receiver.upid_addr)
        };
        // Polled vectors go to the fds; the replay carries the rest.
        let mut taken = 0;
        let pir = if poll::collect_posted(pir, self.polled) != 0 {
            let old = hw.upid(receiver.upid_addr).map_or(0, |cell| {
                cell.upid.pir.fetch_and(!self.polled, Ordering::SeqCst)
            });
            taken = poll::collect_posted(old, self.polled);
            old & !taken
        } else {
            pir
        };
        if upid::replay_needed(pir) {
            hw.ipi(cpu, NOTIFICATION_VECTOR);
        }
        let v = NOTIFICATION_VECTOR;
        match (self.scheme, image) {
            (Scheme::TaskWork, _) => Ok(()),
            (Scheme::Naive, Some(image)) => {
                let _ = self.cpus[cpu].arm_for_user(Some(image), v);
                Ok(())
            }
            (Scheme::Naive, None) => Ok(()),
            (Scheme::TrustNeedFpuLoad, None) if !need_fpu_load => Ok(()),
            (Scheme::TrustNeedFpuLoad, None) => {
                // The registers were saved, so UINV is clear; the rest of the MSR is read back.
                let misc = Misc::from_raw(hw.cpus[cpu].misc).with_uinv(v);
                hw.wrmsr(cpu, IA32_UINTR_MISC, misc.raw())
            }
            (_, image) => {
                let write = self.cpus[cpu].arm_for_user(image, v);
                wrmsr(hw, cpu, write)
            }
        }?;
        Ok(taken)
    }

    /// The end of the register call, with the image about to be loaded on the way back.
    pub(crate) fn registered(&self, image: &mut UintrState) {
        if self.scheme == Scheme::Naive {
            // UINV is part of the receiver's state, like the handler.
            image.misc = Misc::from_raw(image.misc)
                .with_uinv(NOTIFICATION_VECTOR)
                .raw();
        }
    }

    /// Hook `switch_out` for a receiver.
    pub(crate) fn switch_out(&mut self, hw: &Machine, receiver: Receiver) {
        upid_update(hw, receiver.upid_addr, upid::suspend);
    }

    /// A receiver lets its UPID go (hook `task_release`, on exit and exec, and the unregister call).
    pub(crate) fn release(
        &mut self,
        hw: &mut Machine,
        cpu: usize,
        receiver: Receiver,
    ) -> Result<(), Fault> {
        upid_update(hw, receiver.upid_addr, upid::suspend);
        match self.scheme {
            Scheme::Naive => Ok(()),
            _ => {
                let write = self.cpus[cpu].disarm();
                wrmsr(hw, cpu, write)
            }
        }
    }
}
