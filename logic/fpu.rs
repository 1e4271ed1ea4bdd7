// SPDX-License-Identifier: GPL-2.0

//! The UINV state machine: what the module does around XSAVES, XRSTORS and the return to user
//! space.
//!
//! Two hardware rules drive it. XSAVES of component 14 saves UINV and then clears it in
//! IA32_UINTR_MISC. XRSTORS raises #GP when UINV is non-zero in the MSR before it loads the
//! component. Linux saves and restores FPU state in many places (context switch, kernel FPU use
//! in interrupts, fork, ptrace, signals), and `TIF_NEED_FPU_LOAD` does not tell whether UINV was
//! cleared: `fpu_clone()` and `fpu_sync_fpstate()` save without invalidating the registers. So
//! the module tracks the MSR itself, per CPU, in a [`CpuMisc`], and every hook keeps it exact:
//!
//! - after XSAVES ([`CpuMisc::after_xsaves`]) the MSR's UINV is zero, and the saved copy is
//!   cleared as well, so that no XRSTORS arms UINV except the one the return to user space
//!   prepares;
//! - before XRSTORS ([`CpuMisc::before_xrstors`]) the module disarms if UINV is armed; afterwards
//!   the MSR holds what the image holds;
//! - on the final way to user space ([`CpuMisc::arm_for_user`]) the module arms UINV with WRMSR
//!   when the registers are live, or writes the vector into the image the following XRSTORS
//!   loads;
//! - when a receiver exits, execs or unregisters ([`CpuMisc::disarm`]) the module disarms, because
//!   its UPID is about to be freed and an armed CPU would write to it.

use crate::hw::{
    msr::{
        Misc,
        IA32_UINTR_MISC, //
    },
    xstate::UintrState,
};

/// A WRMSR the caller must execute before it does anything else with UINTR state.
#[must_use = "the MSR write must be executed"]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MsrWrite {
    /// The MSR number.
    pub(crate) msr: u32,
    /// The value to write; WRMSR accepts it (no reserved bit is set).
    pub(crate) value: u64,
}

impl MsrWrite {
    /// Returns the write that sets IA32_UINTR_MISC to `misc`.
    const fn misc(misc: Misc) -> Self {
        Self {
            msr: IA32_UINTR_MISC,
            value: misc.msr_part().raw(),
        }
    }
}

/// What the module knows about one CPU's IA32_UINTR_MISC.
///
/// One lives in a per-CPU variable. Every hook that runs on the CPU updates it, with preemption
/// or interrupts disabled, before it returns; no other code writes the MSR.
///
/// # Invariants
///
/// Between hooks, the tracked value equals the MSR's value. It starts as [`Misc::ZERO`] (the
/// reset value, which no kernel without the module changes), and each method below accounts for
/// the instruction its hook surrounds and for the write it returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CpuMisc {
    /// The tracked MSR value; never has UIF or a reserved bit set.
    misc: Misc,
}

impl CpuMisc {
    /// Returns the state of a CPU whose MSR has its reset value (UINV not armed).
    pub(crate) const fn new() -> Self {
        // INVARIANT: the MSR is zero after reset and nothing but the module writes it.
        Self { misc: Misc::ZERO }
    }

    /// Returns the state of a CPU whose MSR was just read as `raw` (a CPU that came online: its
    /// reset, or whatever it ran before it went offline, decided the value).
    pub(crate) const fn from_msr(raw: u64) -> Self {
        // INVARIANT: the value is the MSR's, minus bits the MSR never holds.
        Self {
            misc: Misc::from_raw(raw).msr_part(),
        }
    }

    /// Returns whether UINV is armed in the MSR.
    pub(crate) const fn armed(self) -> bool {
        self.misc.uinv() != 0
    }

    /// Accounts for an XSAVES that saved component 14 into `image`, and clears UINV in the image.
    ///
    /// `image` is `None` when the component was saved in its init state. Hook `after_xsaves`:
    /// preemption or interrupts disabled, FPU registers locked.
    pub(crate) fn after_xsaves(&mut self, image: Option<&mut UintrState>) {
        self.misc = match image {
            Some(image) => {
                let saved = Misc::from_raw(image.misc).with_uinv(0);
                // The image must not arm UINV when a later XRSTORS loads it: only the return
                // to user space arms, and only for the task that owns the UPID.
                image.misc = saved.raw();
                // INVARIANT: XSAVES cleared UINV and left the rest of the MSR as saved.
                saved.msr_part()
            }
            // INVARIANT: the init state has every field zero, so the MSR was zero.
            None => Misc::ZERO,
        };
    }

    /// Decides what must happen before an XRSTORS that loads component 14 from `image`.
    ///
    /// `image` is `None` when XRSTORS loads the init state. Returns the write that disarms UINV
    /// when it is armed (XRSTORS would raise #GP otherwise); afterwards the tracked value is what
    /// XRSTORS loads. Hook `before_xrstors`: preemption or interrupts disabled, FPU registers
    /// locked.
    #[must_use = "the disarming write must be executed before XRSTORS"]
    pub(crate) fn before_xrstors(&mut self, image: Option<&UintrState>) -> Option<MsrWrite> {
        let disarm = self.disarm();
        // INVARIANT: XRSTORS loads the MSR from the image, or zeroes it for the init state.
        self.misc = match image {
            Some(image) => Misc::from_raw(image.misc).msr_part(),
            None => Misc::ZERO,
        };
        disarm
    }

    /// Arms UINV with `vector` for the return to user space of the current receiver.
    ///
    /// `image` is `None` when the FPU registers are live and final: the returned WRMSR arms the
    /// MSR, or nothing is returned when it is already armed with `vector`. Otherwise `image` is
    /// the state the following XRSTORS loads: the vector goes into it and
    /// [`CpuMisc::before_xrstors`] accounts for the load. Hook `exit_to_user`: interrupts
    /// disabled, the last kernel code before user space besides that XRSTORS.
    #[must_use = "the arming write must be executed"]
    pub(crate) fn arm_for_user(
        &mut self,
        image: Option<&mut UintrState>,
        vector: u8,
    ) -> Option<MsrWrite> {
        match image {
            Some(image) => {
                image.misc = Misc::from_raw(image.misc).with_uinv(vector).raw();
                None
            }
            None if self.misc.uinv() == vector => None,
            None => {
                // INVARIANT: the caller executes the returned write.
                self.misc = self.misc.with_uinv(vector);
                Some(MsrWrite::misc(self.misc))
            }
        }
    }

    /// Disarms UINV if it is armed.
    ///
    /// Called when a receiver exits, execs or unregisters on this CPU, before its UPID is freed:
    /// an armed CPU would otherwise write to the freed UPID when a notification arrives. Needs
    /// preemption disabled.
    #[must_use = "the disarming write must be executed"]
    pub(crate) fn disarm(&mut self) -> Option<MsrWrite> {
        if self.armed() {
            // INVARIANT: the caller executes the returned write.
            self.misc = self.misc.with_uinv(0);
            Some(MsrWrite::misc(self.misc))
        } else {
            None
        }
    }
}
