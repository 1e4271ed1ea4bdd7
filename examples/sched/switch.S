/* SPDX-License-Identifier: GPL-2.0 */
/*
 * void sched_switch(void **save, void *next): save the callee-saved
 * registers on the current stack, store the stack pointer in *save, and
 * continue on the stack @next (which holds what an earlier sched_switch
 * saved, or a new task's first frame).
 */
	.text
	.globl	sched_switch
	.type	sched_switch, @function
	.p2align 4
sched_switch:
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.size	sched_switch, . - sched_switch

	.section .note.GNU-stack, "", @progbits
