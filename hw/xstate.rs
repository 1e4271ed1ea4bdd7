// SPDX-License-Identifier: GPL-2.0

//! XSAVE state component 14 (UINTR state), as XSAVES writes it and XRSTORS reads it.
//!
//! C header: the series' `arch/x86/include/asm/uintr.h` (`struct uintr_state`), which this mirrors
//! field by field. The component is a supervisor component of 48 bytes. XSAVES of the component
//! saves UINV and then clears it in IA32_UINTR_MISC; XRSTORS raises #GP when UINV is non-zero in
//! the MSR before it loads the component. Those two rules are the reason `logic::fpu` exists.

/// XSAVE state component 14.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct UintrState {
    /// IA32_UINTR_HANDLER (MSR 0x986): the handler's linear address, canonical.
    pub(crate) handler: u64,
    /// IA32_UINTR_STACKADJUST (MSR 0x987): bit 0 set loads RSP with the value, clear subtracts it.
    pub(crate) stack_adjust: u64,
    /// IA32_UINTR_MISC (MSR 0x988) plus UIF in bit 63, see [`super::msr::Misc`].
    pub(crate) misc: u64,
    /// IA32_UINTR_PD (MSR 0x989): the UPID address, 64-byte aligned.
    pub(crate) upid_addr: u64,
    /// IA32_UINTR_RR (MSR 0x985): UIRR, the pending user vectors.
    pub(crate) uirr: u64,
    /// IA32_UINTR_TT (MSR 0x98a): the UITT address with bit 0 as the SENDUIPI enable.
    pub(crate) uitt_addr: u64,
}

/// The size of component 14 (CPUID.(EAX=0xD,ECX=14):EAX).
pub(crate) const UINTR_STATE_SIZE: usize = 48;

const _: () = assert!(core::mem::size_of::<UintrState>() == UINTR_STATE_SIZE);
const _: () = assert!(core::mem::offset_of!(UintrState, handler) == 0);
const _: () = assert!(core::mem::offset_of!(UintrState, stack_adjust) == 8);
const _: () = assert!(core::mem::offset_of!(UintrState, misc) == 16);
const _: () = assert!(core::mem::offset_of!(UintrState, upid_addr) == 24);
const _: () = assert!(core::mem::offset_of!(UintrState, uirr) == 32);
const _: () = assert!(core::mem::offset_of!(UintrState, uitt_addr) == 40);
