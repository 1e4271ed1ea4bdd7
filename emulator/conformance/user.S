/* SPDX-License-Identifier: GPL-2.0 */
/*
 * User-mode (CPL 3) code of the UINTR conformance image: the user-interrupt
 * handler, which records the delivery frame exactly as the CPU built it,
 * and the small instruction sequences each test runs at CPL 3.  Every
 * sequence ends with int $0x80, which returns to the test in the kernel.
 */

	.data
	.align 64
	.globl uh_mode, uh_count, uh_entry_rsp, uh_vector, uh_rip, uh_rflags
	.globl uh_rsp, uh_uif, uh_hflags, uh_vectors
	.globl ur_rsp, ur_rflags, ur_uif, ur_reached, u_arg, u_saved_rsp
	.globl ut_f0, ut_f1, ap_stop
uh_mode:	.quad 0		/* 0: UIRET; 1: int $0x80 after recording */
uh_count:	.quad 0
uh_entry_rsp:	.quad 0		/* RSP on entry to the handler */
uh_vector:	.quad 0		/* the frame, as found at entry */
uh_rip:		.quad 0
uh_rflags:	.quad 0
uh_rsp:		.quad 0
uh_uif:		.quad 0		/* TESTUI's CF inside the handler */
uh_hflags:	.quad 0		/* RFLAGS inside the handler */
uh_vectors:	.fill 8, 8, 0	/* vectors in delivery order */
ur_rsp:		.quad 0		/* state found after the probe resumed */
ur_rflags:	.quad 0
ur_uif:		.quad 0
ur_reached:	.quad 0
u_arg:		.quad 0		/* SENDUIPI index for the u_*senduipi* sequences */
u_saved_rsp:	.quad 0
ut_f0:		.quad 0
ut_f1:		.quad 0
ap_stop:	.quad 0		/* set by CPU 0 to end u_ap_wait */

	.text
	.align 16
	.globl uintr_handler
uintr_handler:
	movq %rsp, uh_entry_rsp(%rip)
	pushq %rax
	pushq %rbx
	pushfq
	popq %rax
	movq %rax, uh_hflags(%rip)
	movq 16(%rsp), %rax
	movq %rax, uh_vector(%rip)
	movq uh_count(%rip), %rbx
	cmpq $8, %rbx
	jae 1f
	leaq uh_vectors(%rip), %rbx
	addq uh_count(%rip), %rbx
	addq uh_count(%rip), %rbx
	addq uh_count(%rip), %rbx
	addq uh_count(%rip), %rbx
	addq uh_count(%rip), %rbx
	addq uh_count(%rip), %rbx
	addq uh_count(%rip), %rbx
	addq uh_count(%rip), %rbx
	movq %rax, (%rbx)
1:	movq 24(%rsp), %rax
	movq %rax, uh_rip(%rip)
	movq 32(%rsp), %rax
	movq %rax, uh_rflags(%rip)
	movq 40(%rsp), %rax
	movq %rax, uh_rsp(%rip)
	xorl %eax, %eax
	testui
	setc %al
	movq %rax, uh_uif(%rip)
	incq uh_count(%rip)
	cmpq $0, uh_mode(%rip)
	jne 2f
	popq %rbx
	popq %rax
	addq $8, %rsp			/* remove the vector */
	uiret
2:	int $0x80

/* Run to int $0x80 and nothing else. */
	.globl u_exit
u_exit:
	int $0x80

	.globl u_stui_exit
u_stui_exit:
	stui
	int $0x80

	.globl u_clui_exit
u_clui_exit:
	clui
	int $0x80

	.globl u_nops_exit
u_nops_exit:
	.rept 16
	nop
	.endr
	int $0x80

	.globl u_stui_nops_exit
u_stui_nops_exit:
	stui
	.rept 16
	nop
	.endr
	int $0x80

/*
 * The delivery probe: known RFLAGS, then STUI with a user interrupt
 * pending.  Delivery happens on the boundary after STUI, so the frame's
 * RIP must be probe_ret; when the handler returns with UIRET, execution
 * resumes there and the state found is recorded.
 */
	.globl u_probe, probe_ret
u_probe:
	pushq $0x2c7			/* IF SF ZF PF CF and bit 1 */
	popfq
	stui
probe_ret:
	movq %rsp, ur_rsp(%rip)
	pushfq
	popq ur_rflags(%rip)
	movq $0, ur_uif(%rip)
	testui
	setc ur_uif(%rip)
	movq $1, ur_reached(%rip)
	int $0x80

/* TESTUI: CF = UIF, OF SF ZF AF PF cleared. */
	.globl u_testui
u_testui:
	clui
	pushq $0xad7			/* OF IF SF ZF AF PF CF and bit 1 */
	popfq
	testui
	pushfq
	popq ut_f0(%rip)
	stui
	pushq $0xad6			/* the same without CF */
	popfq
	testui
	pushfq
	popq ut_f1(%rip)
	clui
	int $0x80

/* The receiver on the second CPU: UIF = 1, spin until the handler ran. */
	.globl u_ap_wait
u_ap_wait:
	stui
1:	cmpq $0, uh_count(%rip)
	jne 2f
	cmpq $0, ap_stop(%rip)
	jne 2f
	pause
	jmp 1b
2:	int $0x80

/*
 * SENDUIPI with the index in u_arg, from RAX.  Every other general
 * register but RSP holds the same index, so that these sequences test what
 * they are about even on an emulator that reads the operand from the wrong
 * register (the u_senduipi_<reg> sequences below test the operand itself).
 */
	.macro LOAD_INDEX
	movq u_arg(%rip), %rax
	.irp r, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15
	movq %rax, %\r
	.endr
	.endm

	.globl u_senduipi
u_senduipi:
	LOAD_INDEX
	senduipi %rax
	.rept 16
	nop
	.endr
	int $0x80

	.globl u_clui_senduipi
u_clui_senduipi:
	clui
	LOAD_INDEX
	senduipi %rax
	.rept 16
	nop
	.endr
	int $0x80

	.globl u_stui_senduipi
u_stui_senduipi:
	stui
	LOAD_INDEX
	senduipi %rax
	.rept 16
	nop
	.endr
	int $0x80

/*
 * SENDUIPI with each general register as the operand: every other
 * register holds index 1, the operand holds index 2, so the vector that
 * reaches the PIR tells which register the CPU used.
 */
	.macro SET_ALL_BUT skip
	.irp r, rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15
	.ifnc \r, \skip
	movq $1, %\r
	.endif
	.endr
	.endm

	.macro SENDUIPI_REG reg
	.globl u_senduipi_\reg
u_senduipi_\reg:
	movq %rsp, u_saved_rsp(%rip)
	SET_ALL_BUT \reg
	movq $2, %\reg
	senduipi %\reg
	movq u_saved_rsp(%rip), %rsp
	int $0x80
	.endm

	.irp r, rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp, r8, r9, r10, r11, r12, r13, r14, r15
	SENDUIPI_REG \r
	.endr

	.section .bss
	.align 4096
	.globl u_stack_top, alt_stack_top
	.space 16384
u_stack_top:
	.space 4096
alt_stack_top:
	.space 64

	.section .note.GNU-stack, "", @progbits
