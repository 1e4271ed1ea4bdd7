/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * The user-interrupt entry of libuintr.
 *
 * On entry the CPU has pushed, on a 16-byte aligned stack: the vector,
 * then (above it) the interrupted RIP, RFLAGS and RSP, which UIRET pops
 * once the vector is removed.  Delivery has cleared UIF, so nothing
 * interrupts the entry until UIRET.
 *
 * The entry saves what the interrupted code may have live and a C
 * function may change: the caller-saved general registers (the C code
 * preserves the others) and, with XSAVE into a 64-byte aligned area on
 * the stack, the extended state of every component in uintr_xsave_mask.
 * RFLAGS is restored by UIRET.  The area is on the stack, not per thread,
 * so that a handler may switch to another context and be interrupted
 * again there before it returns (a user-level scheduler does).
 */

	.text
	.globl	uintr_entry
	.hidden	uintr_entry
	.type	uintr_entry, @function
	.p2align 4
uintr_entry:
	pushq	%rax
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	pushq	%rbp
	movq	%rsp, %rbp
	/* 80(%rbp): the vector; 88(%rbp): struct uintr_frame. */

	subq	uintr_xsave_size(%rip), %rsp
	andq	$-64, %rsp
	/* XSAVE writes XSTATE_BV only; XRSTOR wants the rest of the header 0. */
	xorl	%eax, %eax
	movq	%rax, 512(%rsp)
	movq	%rax, 520(%rsp)
	movq	%rax, 528(%rsp)
	movq	%rax, 536(%rsp)
	movq	%rax, 544(%rsp)
	movq	%rax, 552(%rsp)
	movq	%rax, 560(%rsp)
	movq	%rax, 568(%rsp)
	movl	uintr_xsave_mask(%rip), %eax
	movl	uintr_xsave_mask+4(%rip), %edx
	xsave64	(%rsp)

	/* What the ABI promises a called function. */
	cld
	ldmxcsr	uintr_mxcsr_default(%rip)
	fninit

	movl	80(%rbp), %edi
	leaq	88(%rbp), %rsi
	call	uintr_dispatch

	movl	uintr_xsave_mask(%rip), %eax
	movl	uintr_xsave_mask+4(%rip), %edx
	xrstor64 (%rsp)

	movq	%rbp, %rsp
	popq	%rbp
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%rcx
	popq	%rax
	addq	$8, %rsp
	uiret
	.size	uintr_entry, . - uintr_entry

	.section .rodata
	.p2align 2
uintr_mxcsr_default:
	.long	0x1f80

	.section .note.GNU-stack, "", @progbits
