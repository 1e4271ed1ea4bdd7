/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Bare-metal runtime of the UINTR conformance image: a multiboot (v1)
 * header with the address fields, the switch from 32-bit protected mode
 * to long mode with identity-mapped memory (page 0 left unmapped so that
 * a stray jump to a small address faults), the GDT/IDT entry stubs, and
 * the way into and out of CPL 3 for the user-mode parts of the tests.
 */

#define MB_MAGIC	0x1BADB002
#define MB_FLAGS	0x00010002	/* memory info, address fields valid */

#define KERNEL_CS	0x08
#define KERNEL_DS	0x10

	.section .multiboot, "a"
	.align 4
mb_header:
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)
	.long mb_header			/* header_addr */
	.long _load_start		/* load_addr */
	.long _load_end			/* load_end_addr */
	.long _bss_end			/* bss_end_addr */
	.long _start32			/* entry_addr */

/* ------------------------------------------------------------------ */
/* Page tables, built statically: 4 GiB identity map with 2 MiB pages,  */
/* except the first 2 MiB, which use 4 KiB pages with page 0 absent.   */
/* Every entry has U/S set: user and kernel share the address space.   */

	.section .data.pagetables, "aw"
	.align 4096
pml4:
	.quad pdpt + 0x7
	.fill 511, 8, 0
pdpt:
	.quad pd0 + 0x7
	.quad pd1 + 0x7
	.quad pd2 + 0x7
	.quad pd3 + 0x7
	.fill 508, 8, 0
pd0:
	.quad pt0 + 0x7
	.set addr, 0x200000
	.rept 511
	.quad addr + 0x87
	.set addr, addr + 0x200000
	.endr
pd1:
	.rept 512
	.quad addr + 0x87
	.set addr, addr + 0x200000
	.endr
pd2:
	.rept 512
	.quad addr + 0x87
	.set addr, addr + 0x200000
	.endr
pd3:
	.rept 512
	.quad addr + 0x9f		/* PCD|PWT: MMIO lives up here */
	.set addr, addr + 0x200000
	.endr
pt0:
	.quad 0				/* page 0: not present */
	.set addr, 0x1000
	.rept 511
	.quad addr + 0x7
	.set addr, addr + 0x1000
	.endr

/* ------------------------------------------------------------------ */
/* GDT: null, kernel code64, kernel data, user data, user code64, TSS  */

	.section .data, "aw"
	.align 16
	.globl gdt
gdt:
	.quad 0
	.quad 0x00af9a000000ffff	/* 0x08 kernel code, L=1 */
	.quad 0x00cf92000000ffff	/* 0x10 kernel data */
	.quad 0x00cff2000000ffff	/* 0x18 user data, DPL 3 */
	.quad 0x00affa000000ffff	/* 0x20 user code, L=1, DPL 3 */
	.quad 0, 0			/* 0x28 TSS of CPU 0, filled in by C */
	.quad 0, 0			/* 0x38 TSS of CPU 1, filled in by C */
	.quad 0x00cf9a000000ffff	/* 0x48 32-bit code, for the AP start */
gdt_end:
gdt_ptr:
	.word gdt_end - gdt - 1
	.quad gdt

	.section .bss
	.align 16
	.globl mb_info_addr
mb_info_addr:
	.quad 0
	.align 4096
boot_stack:
	.space 16384
boot_stack_top:

/* ------------------------------------------------------------------ */

	.section .text.boot, "ax"
	.code32
	.globl _start32
_start32:
	cli
	movl $boot_stack_top, %esp
	movl %ebx, mb_info_addr

	/* CR4.PAE */
	movl %cr4, %eax
	orl $(1 << 5), %eax
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	/* EFER.LME */
	movl $0xc0000080, %ecx
	rdmsr
	orl $(1 << 8), %eax
	wrmsr
	/* CR0.PG | PE | WP */
	movl %cr0, %eax
	orl $0x80010001, %eax
	movl %eax, %cr0

	lgdt gdt_ptr
	ljmp $KERNEL_CS, $long_entry

	.code64
long_entry:
	movw $KERNEL_DS, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	xorw %ax, %ax
	movw %ax, %fs
	movw %ax, %gs
	movabsq $boot_stack_top, %rsp
	xorl %ebp, %ebp
	call kmain
1:	cli
	hlt
	jmp 1b

/* ------------------------------------------------------------------ */
/* Interrupt and exception entry.  Every vector gets a stub that pushes */
/* a dummy error code where the CPU pushes none, then the vector, and   */
/* jumps to the common path, which calls isr_dispatch(frame).  A non-   */
/* zero return value abandons the user-mode run that was interrupted    */
/* and returns that value from run_user().                              */

	.text
	.macro ISR vec
	.align 16
isr_\vec:
	.if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	.else
	pushq $0
	.endif
	pushq $\vec
	jmp isr_common
	.endm

	/* Each stub fits in 16 bytes: stub n is at isr_stubs + 16 * n. */
	.globl isr_stubs
	.align 16
isr_stubs:
	.altmacro
	.set vec, 0
	.rept 256
	ISR %vec
	.set vec, vec + 1
	.endr
	.noaltmacro

isr_common:
	pushq %r15
	pushq %r14
	pushq %r13
	pushq %r12
	pushq %r11
	pushq %r10
	pushq %r9
	pushq %r8
	pushq %rbp
	pushq %rdi
	pushq %rsi
	pushq %rdx
	pushq %rcx
	pushq %rbx
	pushq %rax
	cld
	movq %rsp, %rdi
	call isr_dispatch
	testq %rax, %rax
	jnz user_abort
	popq %rax
	popq %rbx
	popq %rcx
	popq %rdx
	popq %rsi
	popq %rdi
	popq %rbp
	popq %r8
	popq %r9
	popq %r10
	popq %r11
	popq %r12
	popq %r13
	popq %r14
	popq %r15
	addq $16, %rsp
	iretq

/* ------------------------------------------------------------------ */
/* u64 run_user(void (*entry)(void), u64 user_rsp, u64 rflags)          */
/* Enter CPL 3 at entry with the given stack and RFLAGS.  Returns when  */
/* an interrupt or exception taken from CPL 3 makes isr_dispatch()      */
/* return non-zero (int $0x80 is the normal way back).                  */

	.globl run_user
run_user:
	pushq %rbx
	pushq %rbp
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, %gs:0		/* per-CPU: the kernel stack to come back to */
	pushq $0x1b			/* SS: user data, RPL 3 */
	pushq %rsi			/* RSP */
	pushq %rdx			/* RFLAGS */
	pushq $0x23			/* CS: user code, RPL 3 */
	pushq %rdi			/* RIP */
	xorl %eax, %eax
	xorl %ebx, %ebx
	xorl %ecx, %ecx
	xorl %edx, %edx
	xorl %esi, %esi
	xorl %edi, %edi
	xorl %ebp, %ebp
	xorl %r8d, %r8d
	xorl %r9d, %r9d
	xorl %r10d, %r10d
	xorl %r11d, %r11d
	xorl %r12d, %r12d
	xorl %r13d, %r13d
	xorl %r14d, %r14d
	xorl %r15d, %r15d
	iretq

user_abort:
	movq %gs:0, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbp
	popq %rbx
	ret

/* ------------------------------------------------------------------ */
/* Start of the second CPU.  The 16-bit part is copied to 0x8000 and    */
/* started by INIT-SIPI-SIPI with vector 0x08 (CS 0x0800, IP 0); it     */
/* enters protected mode with the common GDT and jumps to ap_entry32,    */
/* which enables long mode with the common page tables.                 */

	.section .rodata
	.code16
	.globl ap_trampoline, ap_trampoline_end
ap_trampoline:
	cli
	movw %cs, %ax
	movw %ax, %ds
	lgdtl ap_gdtr - ap_trampoline
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $0x48, $ap_entry32
	.align 4
ap_gdtr:
	.word gdt_end - gdt - 1
	.long gdt
ap_trampoline_end:

	.text
	.code32
ap_entry32:
	movw $KERNEL_DS, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl %cr4, %eax
	orl $(1 << 5), %eax
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $0xc0000080, %ecx
	rdmsr
	orl $(1 << 8), %eax
	wrmsr
	movl %cr0, %eax
	orl $0x80010001, %eax
	movl %eax, %cr0
	ljmp $KERNEL_CS, $ap_long

	.code64
ap_long:
	movw $KERNEL_DS, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movq ap_boot_rsp(%rip), %rsp
	xorl %ebp, %ebp
	call ap_main
1:	cli
	hlt
	jmp 1b

	.section .note.GNU-stack, "", @progbits
