// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
//! The user-interrupt entry: an assembly trampoline that saves what the
//! interrupted code may have live, and the dispatcher it calls.
//!
//! On entry the CPU has pushed, on a 16-byte aligned stack, the vector and
//! above it the interrupted RIP, RFLAGS and RSP, which `UIRET` pops once the
//! vector is removed; delivery has cleared UIF.  The trampoline saves the
//! caller-saved general registers and, with `XSAVE` into a 64-byte aligned
//! area on the stack, every extended state component the kernel enables but
//! AMX, resets MXCSR and the x87 control word, clears DF, calls
//! [`dispatch`], restores everything and executes `UIRET`.  The area is on
//! the stack, not per thread, so a handler may switch to another context
//! and be interrupted again there.

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::abi::MAX_VECTORS;

/// Bytes of the standard-format XSAVE area for [`XSAVE_MASK`]; 0 until sized.
static XSAVE_SIZE: AtomicU64 = AtomicU64::new(0);
/// The components the trampoline saves.
static XSAVE_MASK: AtomicU64 = AtomicU64::new(0);
/// MXCSR as the ABI promises a called function.
static MXCSR_DEFAULT: u32 = 0x1f80;

/// One handler per vector, as `fn(u8)` pointers; 0 for none.
static HANDLERS: [AtomicUsize; MAX_VECTORS as usize] =
    [const { AtomicUsize::new(0) }; MAX_VECTORS as usize];
static DEFAULT_HANDLER: AtomicUsize = AtomicUsize::new(0);

core::arch::global_asm!(
    ".pushsection .text.uintr_rs_entry, \"ax\", @progbits",
    ".globl uintr_rs_entry",
    ".hidden uintr_rs_entry",
    ".type uintr_rs_entry, @function",
    ".p2align 4",
    "uintr_rs_entry:",
    "pushq %rax",
    "pushq %rcx",
    "pushq %rdx",
    "pushq %rsi",
    "pushq %rdi",
    "pushq %r8",
    "pushq %r9",
    "pushq %r10",
    "pushq %r11",
    "pushq %rbp",
    "movq %rsp, %rbp",
    // 80(%rbp): the vector.
    "subq {size}(%rip), %rsp",
    "andq $-64, %rsp",
    // XSAVE writes XSTATE_BV only; XRSTOR wants the rest of the header 0.
    "xorl %eax, %eax",
    "movq %rax, 512(%rsp)",
    "movq %rax, 520(%rsp)",
    "movq %rax, 528(%rsp)",
    "movq %rax, 536(%rsp)",
    "movq %rax, 544(%rsp)",
    "movq %rax, 552(%rsp)",
    "movq %rax, 560(%rsp)",
    "movq %rax, 568(%rsp)",
    "movl {mask}(%rip), %eax",
    "movl {mask}+4(%rip), %edx",
    "xsave64 (%rsp)",
    "cld",
    "ldmxcsr {mxcsr}(%rip)",
    "fninit",
    "movq 80(%rbp), %rdi",
    "call {dispatch}",
    "movl {mask}(%rip), %eax",
    "movl {mask}+4(%rip), %edx",
    "xrstor64 (%rsp)",
    "movq %rbp, %rsp",
    "popq %rbp",
    "popq %r11",
    "popq %r10",
    "popq %r9",
    "popq %r8",
    "popq %rdi",
    "popq %rsi",
    "popq %rdx",
    "popq %rcx",
    "popq %rax",
    "addq $8, %rsp",
    "uiret",
    ".size uintr_rs_entry, . - uintr_rs_entry",
    ".popsection",
    size = sym XSAVE_SIZE,
    mask = sym XSAVE_MASK,
    mxcsr = sym MXCSR_DEFAULT,
    dispatch = sym dispatch,
    options(att_syntax)
);

extern "C" {
    fn uintr_rs_entry();
}

/// The address the kernel enters the receiver at.
pub(crate) fn entry_address() -> u64 {
    uintr_rs_entry as *const () as usize as u64
}

extern "C" {
    fn __errno_location() -> *mut i32;
}

/// Called by the trampoline with the vector the CPU pushed.
extern "C" fn dispatch(vector: u64) {
    let mut f = 0;
    if vector < u64::from(MAX_VECTORS) {
        f = HANDLERS[vector as usize].load(Ordering::Acquire);
    }
    if f == 0 {
        f = DEFAULT_HANDLER.load(Ordering::Acquire);
    }
    if f == 0 {
        return;
    }
    // SAFETY: Only `set_handler` stores into the table, and only `fn(u8)`
    // pointers cast to `usize`.
    let handler = unsafe { core::mem::transmute::<usize, fn(u8)>(f) };
    // The interrupted code may be between a call and its errno check.
    // SAFETY: glibc's and musl's errno location of the calling thread.
    let errno = unsafe { __errno_location() };
    // SAFETY: The pointer is the thread's own errno, valid while it runs.
    let saved = unsafe { errno.read() };
    // Unwinding cannot cross the trampoline.
    if std::panic::catch_unwind(|| handler(vector as u8)).is_err() {
        std::process::abort();
    }
    // SAFETY: As above.
    unsafe { errno.write(saved) };
}

/// Stores `handler` for `vector`, or for the vectors without one of their own.
pub(crate) fn store(vector: Option<u8>, handler: Option<fn(u8)>) {
    let f = handler.map_or(0, |h| h as usize);
    match vector {
        Some(v) => HANDLERS[usize::from(v)].store(f, Ordering::Release),
        None => DEFAULT_HANDLER.store(f, Ordering::Release),
    }
}

/// AMX tile configuration and data, which the trampoline does not save.
const XFEATURE_MASK_AMX: u64 = (1 << 17) | (1 << 18);

/// Sizes the XSAVE area once; false if the CPU or the kernel has no XSAVE.
pub(crate) fn size_xsave() -> bool {
    use core::arch::x86_64::{__cpuid, __cpuid_count};

    if XSAVE_SIZE.load(Ordering::Acquire) != 0 {
        return true;
    }
    // SAFETY: CPUID leaf 1 exists on every x86-64 CPU (older compilers
    // still mark the intrinsic unsafe).
    #[allow(unused_unsafe)]
    let leaf1 = unsafe { __cpuid(1) };
    // OSXSAVE: the kernel enabled XSAVE and XGETBV.
    if leaf1.ecx & (1 << 27) == 0 {
        return false;
    }
    let (lo, hi): (u32, u32);
    // SAFETY: XGETBV of XCR0 is allowed at CPL 3 once OSXSAVE is set.
    unsafe {
        core::arch::asm!("xgetbv", in("ecx") 0, out("eax") lo, out("edx") hi,
                         options(nomem, nostack, preserves_flags));
    }
    let mask = ((u64::from(hi) << 32) | u64::from(lo)) & !XFEATURE_MASK_AMX;
    let mut size = 576u64;
    for i in 2..63 {
        if mask & (1 << i) != 0 {
            // SAFETY: Leaf 0xd exists once XSAVE is enabled.
            #[allow(unused_unsafe)]
            let c = unsafe { __cpuid_count(0xd, i) };
            size = size.max(u64::from(c.ebx) + u64::from(c.eax));
        }
    }
    XSAVE_MASK.store(mask, Ordering::Relaxed);
    XSAVE_SIZE.store(size, Ordering::Release);
    true
}

/// Stack bytes one delivery takes in the trampoline; 0 before sizing.
pub(crate) fn frame_size() -> usize {
    match XSAVE_SIZE.load(Ordering::Acquire) {
        0 => 0,
        // Ten registers, the area and its alignment, the CPU's four words
        // and its own alignment, the return address into the trampoline.
        size => size as usize + 80 + 64 + 32 + 16 + 8,
    }
}
