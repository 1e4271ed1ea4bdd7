// SPDX-License-Identifier: GPL-2.0

//! An executable model of the SDM's UINTR rules: the CPUs' UINTR registers, XSAVES and XRSTORS of
//! component 14, WRMSR, SENDUIPI, interrupt acceptance with notification processing, delivery at
//! CPL 3 and UIRET.
//!
//! The bit positions here are restated from the SDM on purpose instead of taken from `hw`: the
//! model must not inherit a layout mistake from the code it checks. `tests::layout` cross-checks
//! the two.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

use crate::hw::{
    uitt::UittEntry,
    upid::Upid,
    xstate::UintrState, //
};

/// The MSR number of IA32_UINTR_MISC.
pub(crate) const MSR_MISC: u32 = 0x988;
/// IA32_UINTR_RR (UIRR).
pub(crate) const MSR_RR: u32 = 0x985;
/// IA32_UINTR_MISC: UITTSZ, bits 31:0.
pub(crate) const MISC_UITTSZ: u64 = 0xffff_ffff;
/// IA32_UINTR_MISC: UINV, bits 39:32.
pub(crate) const MISC_UINV_SHIFT: u32 = 32;
/// IA32_UINTR_MISC: bits 63:40 are reserved in the MSR.
pub(crate) const MISC_MSR_RESERVED: u64 = !0xff_ffff_ffff;
/// Component 14's `misc` field: UIF in bit 63, bits 62:40 reserved.
pub(crate) const IMAGE_UIF: u64 = 1 << 63;
/// UPID word 0: ON, bit 0.
pub(crate) const UPID_ON: u64 = 1;
/// UPID word 0: SN, bit 1.
pub(crate) const UPID_SN: u64 = 2;
/// UPID word 0: NV, bits 23:16.
pub(crate) const UPID_NV_SHIFT: u32 = 16;
/// UPID word 0: NDST, bits 63:32 (x2APIC).
pub(crate) const UPID_NDST_SHIFT: u32 = 32;
/// UPID word 0: the xAPIC ID sits in bits 47:40.
pub(crate) const UPID_NDST_XAPIC_SHIFT: u32 = 40;
/// UPID word 0: reserved bits 15:2 and 31:24.
pub(crate) const UPID_RESERVED: u64 = 0xff00_fffc;
/// UITT entry word 0: V, bit 0.
pub(crate) const UITTE_V: u64 = 1;
/// UITT entry word 0: UV, bits 15:8.
pub(crate) const UITTE_UV_SHIFT: u32 = 8;
/// IA32_UINTR_TT: bit 0 enables SENDUIPI; bits 3:1 are reserved.
pub(crate) const TT_VALID: u64 = 1;

/// Returns UINV from an IA32_UINTR_MISC value.
pub(crate) fn misc_uinv(misc: u64) -> u8 {
    ((misc >> MISC_UINV_SHIFT) & 0xff) as u8
}

/// Returns whether `addr` is canonical with 4-level paging (bits 63:47 all equal).
pub(crate) fn canonical(addr: u64) -> bool {
    let top = addr >> 47;
    top == 0 || top == (1 << 17) - 1
}

/// A fault the model's hardware raises.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// XRSTORS found UINV non-zero in IA32_UINTR_MISC before loading component 14.
    XrstorsUinvArmed {
        /// The armed vector.
        uinv: u8,
    },
    /// XRSTORS found an invalid value in component 14.
    XrstorsBadImage(&'static str),
    /// WRMSR of a value with a reserved bit set, or of an MSR the model does not implement.
    Wrmsr {
        /// The MSR number.
        msr: u32,
        /// The value.
        value: u64,
    },
    /// SENDUIPI raised #GP.
    Senduipi(&'static str),
    /// Notification processing found no UPID at IA32_UINTR_PD.
    WildUpid {
        /// The address in IA32_UINTR_PD.
        pd: u64,
    },
}

/// One logical processor's UINTR state.
#[derive(Clone, Debug, Default)]
pub(crate) struct Cpu {
    /// The local APIC ID.
    pub(crate) apic_id: u32,
    /// IA32_UINTR_HANDLER.
    pub(crate) handler: u64,
    /// IA32_UINTR_STACKADJUST.
    pub(crate) stack_adjust: u64,
    /// IA32_UINTR_MISC.
    pub(crate) misc: u64,
    /// IA32_UINTR_PD.
    pub(crate) pd: u64,
    /// IA32_UINTR_RR (UIRR).
    pub(crate) rr: u64,
    /// IA32_UINTR_TT.
    pub(crate) tt: u64,
    /// UIF.
    pub(crate) uif: bool,
    /// Vectors requested from the local APIC and not yet accepted (its IRR).
    pub(crate) irr: BTreeSet<u8>,
}

impl Cpu {
    /// Returns UINV.
    pub(crate) fn uinv(&self) -> u8 {
        misc_uinv(self.misc)
    }

    /// Returns UITTSZ.
    pub(crate) fn uittsz(&self) -> u64 {
        self.misc & MISC_UITTSZ
    }
}

/// A UPID in the model's memory, with the model's bookkeeping about who owns it.
pub(crate) struct UpidCell {
    /// The UPID as the module allocated it.
    pub(crate) upid: Upid,
    /// The receiver slot that owns it; `None` once the receiver let it go (freed).
    pub(crate) owner: Option<usize>,
}

/// Base address of the model's UPIDs (kernel memory).
pub(crate) const UPID_BASE: u64 = 0xffff_8880_0010_0000;
/// Base address of the model's UITTs (kernel memory).
pub(crate) const UITT_BASE: u64 = 0xffff_8880_0020_0000;
/// Distance between two UITTs.
pub(crate) const UITT_STRIDE: u64 = 0x1000;

/// What accepting an interrupt did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Accepted {
    /// Nothing was pending.
    Nothing,
    /// The vector equalled UINV: notification processing moved these PIR bits into UIRR.
    Notification {
        /// The bits moved.
        moved: u64,
    },
    /// The vector went through the IDT.
    Idt(u8),
}

/// How often the machine did what, to show that the schedules reach every path.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counts {
    /// XSAVES that saved UINV armed.
    pub(crate) xsaves_armed: usize,
    /// XRSTORS that loaded UINV armed.
    pub(crate) xrstors_arming: usize,
    /// WRMSR that armed UINV.
    pub(crate) wrmsr_arming: usize,
    /// WRMSR that disarmed UINV.
    pub(crate) wrmsr_disarming: usize,
    /// Notifications the hardware processed.
    pub(crate) notifications: usize,
    /// Notification vectors that went through the IDT.
    pub(crate) idt_notifications: usize,
    /// Polled vectors the module took from a saved UIRR.
    pub(crate) collected_uirr: usize,
    /// Polled vectors the module took from PIR.
    pub(crate) collected_pir: usize,
}

/// The model's machine: CPUs and the memory the UINTR instructions reach.
#[derive(Default)]
pub(crate) struct Machine {
    /// Counters.
    pub(crate) counts: Counts,
    /// The logical processors.
    pub(crate) cpus: Vec<Cpu>,
    /// Whether the local APICs are in x2APIC mode.
    pub(crate) x2apic: bool,
    /// UPIDs, at `UPID_BASE + 64 * index`.
    pub(crate) upids: Vec<UpidCell>,
    /// UITTs, at `UITT_BASE + UITT_STRIDE * index`.
    pub(crate) uitts: Vec<Vec<UittEntry>>,
}

impl Machine {
    /// Returns a machine with `cpus` CPUs whose UINTR MSRs hold their reset values.
    pub(crate) fn new(cpus: usize, x2apic: bool) -> Self {
        Self {
            cpus: (0..cpus)
                .map(|i| Cpu {
                    // APIC IDs differ from CPU numbers, so that mixing them up shows.
                    apic_id: 2 * i as u32 + 1,
                    ..Cpu::default()
                })
                .collect(),
            x2apic,
            ..Self::default()
        }
    }

    /// Returns the UPID at `addr`, if one is there.
    pub(crate) fn upid(&self, addr: u64) -> Option<&UpidCell> {
        let off = addr.checked_sub(UPID_BASE)?;
        if off % 64 != 0 {
            return None;
        }
        self.upids.get(usize::try_from(off / 64).ok()?)
    }

    /// Marks the UPID at `addr` freed: its receiver let it go.
    pub(crate) fn free_upid(&mut self, addr: u64) {
        let index = addr
            .checked_sub(UPID_BASE)
            .and_then(|off| usize::try_from(off / 64).ok());
        if let Some(cell) = index.and_then(|i| self.upids.get_mut(i)) {
            cell.owner = None;
        }
    }

    /// Allocates a UPID with word 0 `status`, owned by receiver slot `owner`; returns its address.
    pub(crate) fn alloc_upid(&mut self, status: u64, owner: usize) -> u64 {
        self.upids.push(UpidCell {
            upid: Upid::new(status),
            owner: Some(owner),
        });
        UPID_BASE + 64 * (self.upids.len() as u64 - 1)
    }

    /// XSAVES of component 14 on `cpu`: returns the image (`None` in the init state) and clears
    /// UINV afterwards.
    pub(crate) fn xsaves(&mut self, cpu: usize) -> Option<UintrState> {
        let c = &mut self.cpus[cpu];
        let image = UintrState {
            handler: c.handler,
            stack_adjust: c.stack_adjust,
            misc: c.misc | if c.uif { IMAGE_UIF } else { 0 },
            upid_addr: c.pd,
            uirr: c.rr,
            uitt_addr: c.tt,
        };
        if c.uinv() != 0 {
            self.counts.xsaves_armed += 1;
        }
        c.misc &= !(0xff << MISC_UINV_SHIFT);
        // The init optimisation: a component in its initial configuration is recorded as such.
        (image != UintrState::default()).then_some(image)
    }

    /// XRSTORS of component 14 on `cpu` from `image` (`None`: the init state).
    pub(crate) fn xrstors(&mut self, cpu: usize, image: Option<&UintrState>) -> Result<(), Fault> {
        let c = &mut self.cpus[cpu];
        if c.uinv() != 0 {
            return Err(Fault::XrstorsUinvArmed { uinv: c.uinv() });
        }
        let Some(img) = image else {
            let irr = std::mem::take(&mut c.irr);
            *c = Cpu {
                apic_id: c.apic_id,
                irr,
                ..Cpu::default()
            };
            return Ok(());
        };
        if !canonical(img.handler) {
            return Err(Fault::XrstorsBadImage("handler not canonical"));
        }
        if !canonical(img.stack_adjust) {
            return Err(Fault::XrstorsBadImage("stack adjust not canonical"));
        }
        if img.misc & MISC_MSR_RESERVED & !IMAGE_UIF != 0 {
            return Err(Fault::XrstorsBadImage("misc reserved bits set"));
        }
        if !canonical(img.upid_addr) || img.upid_addr & 0x3f != 0 {
            return Err(Fault::XrstorsBadImage("UPID address invalid"));
        }
        if !canonical(img.uitt_addr) || img.uitt_addr & 0xe != 0 {
            return Err(Fault::XrstorsBadImage("UITT address invalid"));
        }
        c.handler = img.handler;
        c.stack_adjust = img.stack_adjust;
        c.misc = img.misc & !IMAGE_UIF;
        c.uif = img.misc & IMAGE_UIF != 0;
        c.pd = img.upid_addr;
        c.rr = img.uirr;
        c.tt = img.uitt_addr;
        if c.uinv() != 0 {
            self.counts.xrstors_arming += 1;
        }
        Ok(())
    }

    /// WRMSR on `cpu`. Only IA32_UINTR_MISC is implemented: the module writes no other MSR.
    pub(crate) fn wrmsr(&mut self, cpu: usize, msr: u32, value: u64) -> Result<(), Fault> {
        if msr == MSR_RR {
            // Every value is valid; a change can make a user interrupt recognized.
            self.cpus[cpu].rr = value;
            return Ok(());
        }
        if msr != MSR_MISC || value & MISC_MSR_RESERVED != 0 {
            return Err(Fault::Wrmsr { msr, value });
        }
        if misc_uinv(value) != 0 {
            self.counts.wrmsr_arming += 1;
        } else if self.cpus[cpu].uinv() != 0 {
            self.counts.wrmsr_disarming += 1;
        }
        self.cpus[cpu].misc = value;
        Ok(())
    }

    /// Returns the CPU whose local APIC has the destination NDST names in UPID word 0 `status`.
    pub(crate) fn ndst_cpu(&self, status: u64) -> Option<usize> {
        let id = if self.x2apic {
            (status >> UPID_NDST_SHIFT) as u32
        } else {
            ((status >> UPID_NDST_XAPIC_SHIFT) & 0xff) as u32
        };
        self.cpus.iter().position(|c| c.apic_id == id)
    }

    /// Sends an interrupt with `vector` to the local APIC of `cpu`.
    pub(crate) fn ipi(&mut self, cpu: usize, vector: u8) {
        self.cpus[cpu].irr.insert(vector);
    }

    /// SENDUIPI `index` on `cpu` (at CPL 3). Returns the UPID address and user vector posted,
    /// and the CPU the notification went to, if one was sent.
    pub(crate) fn senduipi(
        &mut self,
        cpu: usize,
        index: u64,
    ) -> Result<(u64, u8, Option<usize>), Fault> {
        let c = &self.cpus[cpu];
        if c.tt & TT_VALID == 0 {
            return Err(Fault::Senduipi("IA32_UINTR_TT not valid"));
        }
        if index > c.uittsz() {
            return Err(Fault::Senduipi("index above UITTSZ"));
        }
        let base = c.tt & !0xf;
        let table = base
            .checked_sub(UITT_BASE)
            .filter(|off| off % UITT_STRIDE == 0)
            .and_then(|off| self.uitts.get(usize::try_from(off / UITT_STRIDE).ok()?))
            .ok_or(Fault::Senduipi("IA32_UINTR_TT names no UITT"))?;
        let entry = *usize::try_from(index)
            .ok()
            .and_then(|i| table.get(i))
            .ok_or(Fault::Senduipi("index beyond the UITT"))?;
        if entry.flags & UITTE_V == 0 {
            return Err(Fault::Senduipi("UITT entry not valid"));
        }
        if entry.flags & !(UITTE_V | 0xff << UITTE_UV_SHIFT) != 0 || entry.upid_addr & 0x3f != 0 {
            return Err(Fault::Senduipi("UITT entry reserved bits set"));
        }
        let uv = (entry.flags >> UITTE_UV_SHIFT) as u8;
        if uv >= 64 {
            return Err(Fault::Senduipi("UITT entry vector above 63"));
        }
        let cell = self
            .upid(entry.upid_addr)
            .ok_or(Fault::Senduipi("UITT entry names no UPID"))?;
        // One locked read-modify-write of the 16 bytes.
        let status = cell.upid.status.load(Ordering::SeqCst);
        if status & UPID_RESERVED != 0 {
            return Err(Fault::Senduipi("UPID reserved bits set"));
        }
        if !self.x2apic && status & 0xffff_00ff_0000_0000 != 0 {
            return Err(Fault::Senduipi("UPID NDST invalid in xAPIC mode"));
        }
        cell.upid.pir.fetch_or(1 << uv, Ordering::SeqCst);
        let notify = status & (UPID_ON | UPID_SN) == 0;
        if notify {
            cell.upid.status.store(status | UPID_ON, Ordering::SeqCst);
        }
        let target = if notify {
            let nv = (status >> UPID_NV_SHIFT) as u8;
            let target = self.ndst_cpu(status);
            if let Some(t) = target {
                self.ipi(t, nv);
            }
            target
        } else {
            None
        };
        Ok((entry.upid_addr, uv, target))
    }

    /// Accepts the highest pending interrupt on `cpu` (interrupts enabled, any CPL).
    ///
    /// Notification processing is two locked operations, and `race` runs between them: after ON
    /// was cleared and before PIR is read and cleared, as a SENDUIPI on another CPU may.
    pub(crate) fn accept_interrupt(
        &mut self,
        cpu: usize,
        race: &mut dyn FnMut(&mut Machine),
    ) -> Result<Accepted, Fault> {
        let Some(vector) = self.cpus[cpu].irr.pop_last() else {
            return Ok(Accepted::Nothing);
        };
        let c = &self.cpus[cpu];
        if vector == 0 || vector != c.uinv() {
            self.counts.idt_notifications += 1;
            return Ok(Accepted::Idt(vector));
        }
        self.counts.notifications += 1;
        // Notification processing: clear ON, then move PIR into UIRR.
        let pd = c.pd;
        let cell = self.upid(pd).ok_or(Fault::WildUpid { pd })?;
        cell.upid.status.fetch_and(!UPID_ON, Ordering::SeqCst);
        race(self);
        let cell = self.upid(pd).ok_or(Fault::WildUpid { pd })?;
        let moved = cell.upid.pir.swap(0, Ordering::SeqCst);
        self.cpus[cpu].rr |= moved;
        Ok(Accepted::Notification { moved })
    }

    /// Delivers the highest pending user interrupt on `cpu`, which runs at CPL 3, if UIF allows.
    pub(crate) fn deliver(&mut self, cpu: usize) -> Option<u8> {
        let c = &mut self.cpus[cpu];
        if !c.uif || c.rr == 0 {
            return None;
        }
        let vector = 63 - c.rr.leading_zeros() as u8;
        c.rr &= !(1 << vector);
        c.uif = false;
        Some(vector)
    }

    /// UIRET (or STUI) on `cpu`: sets UIF.
    pub(crate) fn uiret(&mut self, cpu: usize) {
        self.cpus[cpu].uif = true;
    }
}
