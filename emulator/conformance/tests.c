// SPDX-License-Identifier: GPL-2.0
/*
 * UINTR conformance tests: run inside the emulator on bare metal and check
 * the user-interrupt instructions and state machine against the SDM,
 * without any of the project's kernel code.  Results go to COM1 as TAP;
 * the machine ends itself through the Bochs shutdown port.
 */

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long u64;
typedef long s64;

#define NULL ((void *)0)

/* ------------------------------------------------------------------ */
/* Architectural constants                                             */

#define MSR_APIC_BASE		0x1b
#define MSR_X2APIC_ID		0x802
#define MSR_X2APIC_EOI		0x80b
#define MSR_X2APIC_SVR		0x80f
#define MSR_X2APIC_IRR0		0x820
#define MSR_X2APIC_ICR		0x830
#define MSR_UINTR_RR		0x985
#define MSR_UINTR_HANDLER	0x986
#define MSR_UINTR_STACKADJUST	0x987
#define MSR_UINTR_MISC		0x988
#define MSR_UINTR_PD		0x989
#define MSR_UINTR_TT		0x98a
#define MSR_XSS			0xda0

#define CR4_OSFXSR	(1ul << 9)
#define CR4_OSXMMEXCPT	(1ul << 10)
#define CR4_OSXSAVE	(1ul << 18)
#define CR4_UINTR	(1ul << 25)

#define XFEATURE_UINTR	14
#define XCOMP_COMPACTED	(1ul << 63)

#define LAPIC_BASE	0xfee00000ul

#define UINV		0xe0	/* the notification vector the tests arm */
#define OTHER_VECTOR	0xe1	/* an ordinary vector for comparison */
#define TEST_VECTOR	0x40	/* fixed IPI used by the x2APIC tests */
#define SPURIOUS	0xff

#define VEC_UD		6
#define VEC_GP		13
#define USER_EXIT	0x80	/* run_user() result of int $0x80 */
#define USER_FAULT	0x100	/* run_user() result flag: exception */

#define RFLAGS_USER	0x202ul	/* IF and bit 1 */

/* ------------------------------------------------------------------ */
/* Symbols from boot.S and user.S                                      */

extern u64 gdt[];
extern u8 ap_trampoline[], ap_trampoline_end[];
extern u64 ap_boot_rsp;
extern u8 isr_stubs[];
extern u64 run_user(void (*entry)(void), u64 rsp, u64 rflags);

extern void uintr_handler(void), u_exit(void), u_stui_exit(void);
extern void u_clui_exit(void), u_nops_exit(void), u_stui_nops_exit(void);
extern void u_probe(void), probe_ret(void), u_testui(void);
extern void u_senduipi(void), u_clui_senduipi(void), u_stui_senduipi(void);
extern u8 u_stack_top[], alt_stack_top[];

extern volatile u64 uh_mode, uh_count, uh_entry_rsp, uh_vector, uh_rip;
extern volatile u64 uh_rflags, uh_rsp, uh_uif, uh_hflags, uh_vectors[8];
extern volatile u64 ur_rsp, ur_rflags, ur_uif, ur_reached, u_arg;
extern volatile u64 ut_f0, ut_f1;

#define REGS(X) X(rax) X(rbx) X(rcx) X(rdx) X(rsi) X(rdi) X(rbp) X(rsp) \
		X(r8) X(r9) X(r10) X(r11) X(r12) X(r13) X(r14) X(r15)
#define DECLARE_SENDUIPI(r) extern void u_senduipi_##r(void);
REGS(DECLARE_SENDUIPI)

/* ------------------------------------------------------------------ */
/* Port I/O, serial console, formatting                                */

static inline void outb(u16 port, u8 v)
{
	asm volatile("outb %0, %1" :: "a"(v), "Nd"(port));
}

static inline u8 inb(u16 port)
{
	u8 v;
	asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

#define COM1 0x3f8

static void serial_init(void)
{
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x80);
	outb(COM1 + 0, 0x01);	/* 115200 baud */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03);	/* 8n1 */
	outb(COM1 + 2, 0xc7);
	outb(COM1 + 4, 0x03);
}

static void putc(char c)
{
	if (c == '\n')
		putc('\r');
	while (!(inb(COM1 + 5) & 0x20))
		;
	outb(COM1, c);
}

static void puts(const char *s)
{
	while (*s)
		putc(*s++);
}

typedef __builtin_va_list va_list;
#define va_start(ap, last) __builtin_va_start(ap, last)
#define va_arg(ap, type) __builtin_va_arg(ap, type)
#define va_end(ap) __builtin_va_end(ap)

struct buf {
	char *p;
	u64 len, cap;
};

static void bput(struct buf *b, char c)
{
	if (b->len + 1 < b->cap)
		b->p[b->len++] = c;
	b->p[b->len] = 0;
}

static void bnum(struct buf *b, u64 v, unsigned base, int neg)
{
	char tmp[24];
	int n = 0;

	if (neg)
		bput(b, '-');
	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (n)
		bput(b, tmp[--n]);
}

/* %s %d %u %x %lx %ld %lu %c; enough for the messages here */
static void vformat(struct buf *b, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		int lng = 0;

		if (*fmt != '%') {
			bput(b, *fmt);
			continue;
		}
		fmt++;
		while (*fmt == 'l') {
			lng = 1;
			fmt++;
		}
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			while (s && *s)
				bput(b, *s++);
			break;
		}
		case 'c':
			bput(b, (char)va_arg(ap, int));
			break;
		case 'd': {
			s64 v = lng ? va_arg(ap, s64) : va_arg(ap, int);
			bnum(b, v < 0 ? -(u64)v : (u64)v, 10, v < 0);
			break;
		}
		case 'u':
			bnum(b, lng ? va_arg(ap, u64) : va_arg(ap, u32), 10, 0);
			break;
		case 'x':
			bput(b, '0');
			bput(b, 'x');
			bnum(b, lng ? va_arg(ap, u64) : va_arg(ap, u32), 16, 0);
			break;
		case '%':
			bput(b, '%');
			break;
		default:
			bput(b, '?');
		}
	}
}

static void printf(const char *fmt, ...)
{
	char out[512];
	struct buf b = { out, 0, sizeof(out) };
	va_list ap;

	out[0] = 0;
	va_start(ap, fmt);
	vformat(&b, fmt, ap);
	va_end(ap);
	puts(out);
}

static char detail[400];

#define SKIP 2

/* Record why a test failed; returns 0 so that "return fail(...)" reads well. */
static int fail(const char *fmt, ...)
{
	struct buf b = { detail, 0, sizeof(detail) };
	va_list ap;

	detail[0] = 0;
	va_start(ap, fmt);
	vformat(&b, fmt, ap);
	va_end(ap);
	return 0;
}

static void *memset(void *d, int c, u64 n)
{
	u8 *p = d;

	while (n--)
		*p++ = (u8)c;
	return d;
}

/* ------------------------------------------------------------------ */
/* Ending the machine                                                  */

static void __attribute__((noreturn)) shutdown(void)
{
	static const char cmd[] = "Shutdown";
	struct { u16 limit; u64 base; } __attribute__((packed)) null_idt = { 0, 0 };

	/* let the UART finish sending before the machine goes away */
	for (int i = 0; i < 1000000 && !(inb(COM1 + 5) & 0x40); i++)
		;
	for (const char *p = cmd; *p; p++)
		outb(0x8900, *p);
	/* Not Bochs?  A triple fault ends it with reset_on_triple_fault=0. */
	asm volatile("lidt %0; int3" :: "m"(null_idt));
	for (;;)
		asm volatile("cli; hlt");
}

/* ------------------------------------------------------------------ */
/* CPU access                                                          */

static inline u64 rdmsr(u32 msr)
{
	u32 lo, hi;

	asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((u64)hi << 32) | lo;
}

static inline void wrmsr(u32 msr, u64 v)
{
	asm volatile("wrmsr" :: "c"(msr), "a"((u32)v), "d"((u32)(v >> 32)) : "memory");
}

static inline void cpuid(u32 leaf, u32 sub, u32 *a, u32 *b, u32 *c, u32 *d)
{
	asm volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}

static inline u64 read_cr0(void)
{
	u64 v;

	asm volatile("mov %%cr0, %0" : "=r"(v));
	return v;
}

static inline void write_cr0(u64 v)
{
	asm volatile("mov %0, %%cr0" :: "r"(v) : "memory");
}

static inline u64 read_cr4(void)
{
	u64 v;

	asm volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}

static inline void write_cr4(u64 v)
{
	asm volatile("mov %0, %%cr4" :: "r"(v) : "memory");
}

static inline void xsetbv(u32 idx, u64 v)
{
	asm volatile("xsetbv" :: "c"(idx), "a"((u32)v), "d"((u32)(v >> 32)));
}

/*
 * Kernel-mode fault catching: the instruction is followed by a label whose
 * address is put in fault_resume; an exception taken at CPL 0 while it is
 * set resumes there with fault_vec holding the vector.
 */
volatile u64 fault_resume;
volatile s64 fault_vec;
volatile u64 fault_err;

static s64 wrmsr_safe(u32 msr, u64 v)
{
	fault_vec = -1;
	asm volatile("leaq 1f(%%rip), %%r11\n\t"
		     "movq %%r11, fault_resume(%%rip)\n\t"
		     "wrmsr\n"
		     "1:\tmovq $0, fault_resume(%%rip)"
		     :: "c"(msr), "a"((u32)v), "d"((u32)(v >> 32)) : "r11", "memory");
	return fault_vec;
}

static void xsaves(void *area, u64 rfbm)
{
	asm volatile("xsaves64 (%0)" :: "r"(area), "a"((u32)rfbm), "d"((u32)(rfbm >> 32)) : "memory");
}

static s64 xrstors_safe(void *area, u64 rfbm)
{
	fault_vec = -1;
	asm volatile("leaq 1f(%%rip), %%r11\n\t"
		     "movq %%r11, fault_resume(%%rip)\n\t"
		     "xrstors64 (%0)\n"
		     "1:\tmovq $0, fault_resume(%%rip)"
		     :: "r"(area), "a"((u32)rfbm), "d"((u32)(rfbm >> 32)) : "r11", "memory");
	return fault_vec;
}

/* ------------------------------------------------------------------ */
/* Descriptor tables and interrupt dispatch                            */

struct frame {
	u64 rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15;
	u64 vec, err, rip, cs, rflags, rsp, ss;
};

struct idt_entry {
	u16 off0, sel;
	u8 ist, type;
	u16 off1;
	u32 off2, zero;
} __attribute__((packed));

static struct idt_entry idt[256] __attribute__((aligned(16)));
static u8 tss[2][104] __attribute__((aligned(16)));
static u8 intr_stack[2][16384] __attribute__((aligned(16)));

/* Per-CPU data, reached through GS (never swapped: user code leaves GS alone). */
struct percpu {
	u64 kernel_rsp;		/* run_user()'s stack, at %gs:0 */
	u64 cpu;		/* at %gs:8 */
	u64 x2apic;		/* this CPU's local APIC is in x2APIC mode */
};
static struct percpu percpu[2];

#define MSR_GS_BASE 0xc0000101

static volatile u64 irq_count[256];
static volatile u64 last_user_vec, last_user_err, last_user_rip;
static int x2apic;

static void lapic_write(u32 reg, u32 v)
{
	*(volatile u32 *)(LAPIC_BASE + reg) = v;
}

static u32 lapic_read(u32 reg)
{
	return *(volatile u32 *)(LAPIC_BASE + reg);
}

static struct percpu *this_cpu(void)
{
	u64 c;

	asm volatile("movq %%gs:8, %0" : "=r"(c));
	return &percpu[c];
}

static void eoi(void)
{
	if (this_cpu()->x2apic)
		wrmsr(MSR_X2APIC_EOI, 0);
	else
		lapic_write(0xb0, 0);
}

static void __attribute__((noreturn)) bail(const char *what, struct frame *f)
{
	printf("Bail out! %s: vector %u error %lx at %lx (cs %lx rsp %lx)\n",
	       what, (u32)f->vec, f->err, f->rip, f->cs, f->rsp);
	shutdown();
}

u64 isr_dispatch(struct frame *f)
{
	if ((f->cs & 3) == 0) {
		if (f->vec < 32) {
			if (!fault_resume)
				bail("unexpected exception in the test kernel", f);
			fault_vec = (s64)f->vec;
			fault_err = f->err;
			f->rip = fault_resume;
			fault_resume = 0;
			return 0;
		}
		irq_count[f->vec]++;
		if (f->vec != SPURIOUS)
			eoi();
		return 0;
	}

	/* From CPL 3 */
	last_user_vec = f->vec;
	last_user_err = f->err;
	last_user_rip = f->rip;
	if (f->vec == USER_EXIT)
		return USER_EXIT;
	if (f->vec < 32)
		return USER_FAULT | f->vec;
	irq_count[f->vec]++;
	if (f->vec != SPURIOUS)
		eoi();
	return 0;
}

static void load_idt(void)
{
	struct { u16 limit; u64 base; } __attribute__((packed)) idtr;

	idtr.limit = sizeof(idt) - 1;
	idtr.base = (u64)idt;
	asm volatile("lidt %0" :: "m"(idtr));
}

/* TSS (RSP0 = this CPU's interrupt stack), GS base, and TR for CPU 'cpu'. */
static void setup_cpu_tables(unsigned cpu)
{
	u8 *t = tss[cpu];
	u64 base = (u64)t;
	unsigned slot = 5 + 2 * cpu;

	memset(t, 0, sizeof(tss[cpu]));
	*(u64 *)(t + 4) = (u64)(intr_stack[cpu] + sizeof(intr_stack[cpu]));	/* RSP0 */
	*(u16 *)(t + 102) = sizeof(tss[cpu]);					/* no I/O bitmap */
	gdt[slot] = (sizeof(tss[cpu]) - 1) | ((base & 0xffffff) << 16) | (0x89ul << 40) |
		    (((base >> 24) & 0xff) << 56);
	gdt[slot + 1] = base >> 32;
	asm volatile("ltr %w0" :: "r"(slot * 8));
	percpu[cpu].cpu = cpu;
	wrmsr(MSR_GS_BASE, (u64)&percpu[cpu]);
}

static void setup_descriptors(void)
{
	for (int v = 0; v < 256; v++) {
		u64 a = (u64)(isr_stubs + 16 * v);

		idt[v].off0 = (u16)a;
		idt[v].sel = 0x08;
		idt[v].ist = 0;
		idt[v].type = (v == USER_EXIT) ? 0xee : 0x8e;	/* int gate, DPL 3 for 0x80 */
		idt[v].off1 = (u16)(a >> 16);
		idt[v].off2 = (u32)(a >> 32);
		idt[v].zero = 0;
	}
	load_idt();
	setup_cpu_tables(0);
}

/* ------------------------------------------------------------------ */
/* Platform setup                                                      */

static u64 xcr0_mask, xss_mask;
static u32 apic_id;

/* FPU/SSE/XSAVE enabling, XCR0, IA32_XSS and the local APIC of this CPU. */
static void setup_local_cpu(void)
{
	u32 a, b, c, d;
	u64 cr0 = read_cr0();

	cr0 &= ~((1ul << 2) | (1ul << 3));	/* EM, TS */
	cr0 |= 1ul << 1;			/* MP */
	write_cr0(cr0);
	write_cr4(read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_OSXSAVE);

	cpuid(0xd, 0, &a, &b, &c, &d);
	/* x87, SSE, AVX, the AVX-512 components and PKRU; no AMX */
	xcr0_mask = a & 0x2e7;
	xsetbv(0, xcr0_mask);
	cpuid(0xd, 1, &a, &b, &c, &d);
	/* CET user, CET supervisor, UINTR */
	xss_mask = c & ((1u << 11) | (1u << 12) | (1u << XFEATURE_UINTR));
	wrmsr(MSR_XSS, xss_mask);

	/* xAPIC mode, software-enabled, spurious vector 0xff */
	wrmsr(MSR_APIC_BASE, (rdmsr(MSR_APIC_BASE) & ~(1ul << 10)) | (1ul << 11));
	lapic_write(0xf0, 0x100 | SPURIOUS);
	lapic_write(0x80, 0);		/* TPR */
}

static void setup_cpu(void)
{
	setup_local_cpu();
	/* Legacy PICs masked: the only interrupts are the ones tests send. */
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
	apic_id = lapic_read(0x20) >> 24;
}

static u32 local_enter_x2apic(void)
{
	wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | (1ul << 10) | (1ul << 11));
	this_cpu()->x2apic = 1;
	wrmsr(MSR_X2APIC_SVR, 0x100 | SPURIOUS);
	return (u32)rdmsr(MSR_X2APIC_ID);
}

static void ap_enter_x2apic(void);

/* Both CPUs switch together, so that every IPI finds the mode it expects. */
static void enter_x2apic(void)
{
	apic_id = local_enter_x2apic();
	x2apic = 1;
	ap_enter_x2apic();
}

/* ------------------------------------------------------------------ */
/* The second CPU: started by INIT-SIPI-SIPI, then driven by commands.  */

enum { AP_IDLE, AP_RECEIVE, AP_X2APIC };

u64 ap_boot_rsp;			/* read by boot.S */
extern volatile u64 ap_stop;		/* in user.S: ends u_ap_wait */
extern void u_ap_wait(void);
static volatile u64 ap_alive, ap_cmd, ap_stage, ap_arg, ap_res_run, ap_res_uirr, ap_res_id;
static u32 ap_apic_id;
static int ap_up;
static u8 ap_stack[16384] __attribute__((aligned(16)));
static u8 ap_user_stack[16384] __attribute__((aligned(16)));

static inline void cpu_relax(void)
{
	asm volatile("pause" ::: "memory");
}

static int wait_for(volatile u64 *p, u64 want, u64 spins)
{
	while (*p != want && spins--)
		cpu_relax();
	return *p == want;
}

static void delay(u64 spins)
{
	while (spins--)
		cpu_relax();
}

/* AP: run as a user-interrupt receiver with its UPID at ap_arg until the
 * handler has run once or ap_stop is set. */
static void ap_receive(void)
{
	wrmsr(MSR_UINTR_HANDLER, (u64)uintr_handler);
	wrmsr(MSR_UINTR_STACKADJUST, 128);
	wrmsr(MSR_UINTR_PD, ap_arg);
	wrmsr(MSR_UINTR_MISC, (u64)UINV << 32);
	wrmsr(MSR_UINTR_RR, 0);
	ap_stage = 1;
	ap_res_run = run_user(u_ap_wait, (u64)(ap_user_stack + sizeof(ap_user_stack)), RFLAGS_USER);
	ap_res_uirr = rdmsr(MSR_UINTR_RR);
	wrmsr(MSR_UINTR_MISC, 0);
	wrmsr(MSR_UINTR_RR, 0);
	wrmsr(MSR_UINTR_PD, 0);
	wrmsr(MSR_UINTR_HANDLER, 0);
}

void ap_main(void)
{
	load_idt();
	setup_cpu_tables(1);
	setup_local_cpu();
	write_cr4(read_cr4() | CR4_UINTR);
	ap_res_id = lapic_read(0x20) >> 24;
	ap_alive = 1;
	for (;;) {
		while (ap_cmd == AP_IDLE)
			cpu_relax();
		switch (ap_cmd) {
		case AP_RECEIVE:
			ap_receive();
			break;
		case AP_X2APIC:
			ap_res_id = local_enter_x2apic();
			break;
		}
		ap_cmd = AP_IDLE;
	}
}

static void icr_xapic(u32 dest, u32 lo)
{
	lapic_write(0x310, dest << 24);
	lapic_write(0x300, lo);
}

/* Start the CPU with APIC ID 1 (Bochs numbers them 0..N-1), if there is one. */
static void start_ap(void)
{
	u64 len = (u64)(ap_trampoline_end - ap_trampoline);
	u8 *dst = (u8 *)0x8000;

	if (apic_id != 0)
		return;
	ap_apic_id = 1;
	for (u64 i = 0; i < len; i++)
		dst[i] = ap_trampoline[i];
	ap_boot_rsp = (u64)(ap_stack + sizeof(ap_stack));
	icr_xapic(ap_apic_id, 0x4500);		/* INIT */
	delay(100000);
	for (int n = 0; n < 2 && !ap_alive; n++) {
		icr_xapic(ap_apic_id, 0x4608);	/* SIPI, vector 0x08: 0x8000 */
		wait_for(&ap_alive, 1, 2000000);
	}
	ap_up = ap_alive != 0;
}

static void ap_enter_x2apic(void)
{
	if (!ap_up)
		return;
	ap_cmd = AP_X2APIC;
	wait_for(&ap_cmd, AP_IDLE, 10000000);
	ap_apic_id = (u32)ap_res_id;
}

/* ------------------------------------------------------------------ */
/* UINTR state: set-up and inspection                                  */

struct upid {
	volatile u64 ctl;	/* ON 0, SN 1, NV 23:16, NDST 63:32 */
	volatile u64 pir;
} __attribute__((aligned(64)));

struct uitte {
	u64 ctl;		/* V 0, UV 15:8 */
	u64 upid;
};

static struct upid upids[4];
static struct uitte uitt[8] __attribute__((aligned(16)));
static u8 xarea[16384] __attribute__((aligned(64)));

#define UPID_ON	1ul
#define UPID_SN	2ul

static u64 ndst_self(void)
{
	return x2apic ? apic_id : (u64)(apic_id & 0xff) << 8;
}

static u64 upid_ctl(u64 flags, u64 nv, u64 ndst)
{
	return flags | (nv << 16) | (ndst << 32);
}

static u64 user(void (*fn)(void))
{
	return run_user(fn, (u64)u_stack_top, RFLAGS_USER);
}

static const char *result_name(u64 r)
{
	static char b[40];
	struct buf bb = { b, 0, sizeof(b) };

	if (r == USER_EXIT)
		return "normal exit";
	b[0] = 0;
	if (r & USER_FAULT) {
		bput(&bb, 'v');
		bput(&bb, 'e');
		bput(&bb, 'c');
		bput(&bb, ' ');
		bnum(&bb, r & 0xff, 10, 0);
		bput(&bb, ' ');
		bput(&bb, '@');
		bnum(&bb, last_user_rip, 16, 0);
		return b;
	}
	return "?";
}

/* All UINTR MSRs 0, UIF 0, records cleared, CR4.UINTR 1. */
static void uintr_reset(void)
{
	write_cr4(read_cr4() | CR4_UINTR);
	wrmsr(MSR_UINTR_HANDLER, 0);
	wrmsr(MSR_UINTR_STACKADJUST, 0);
	wrmsr(MSR_UINTR_MISC, 0);
	wrmsr(MSR_UINTR_PD, 0);
	wrmsr(MSR_UINTR_TT, 0);
	wrmsr(MSR_UINTR_RR, 0);
	user(u_clui_exit);
	uh_mode = 1;
	uh_count = uh_entry_rsp = uh_vector = uh_rip = uh_rflags = uh_rsp = 0;
	uh_uif = uh_hflags = 0;
	for (int i = 0; i < 8; i++)
		uh_vectors[i] = 0;
	ur_rsp = ur_rflags = ur_uif = ur_reached = 0;
	memset(upids, 0, sizeof(upids));
	memset(uitt, 0, sizeof(uitt));
	for (int i = 0; i < 256; i++)
		irq_count[i] = 0;
}

/* A receiver that takes notifications on UINV with handler uintr_handler. */
static void arm_receiver(u64 stack_adjust)
{
	wrmsr(MSR_UINTR_HANDLER, (u64)uintr_handler);
	wrmsr(MSR_UINTR_STACKADJUST, stack_adjust);
	wrmsr(MSR_UINTR_PD, (u64)&upids[0]);
}

/* UITT: entries 0..n-1 with vectors, all targeting upids[0]. */
static void arm_sender(const u8 *vectors, int n, u64 upid0)
{
	for (int i = 0; i < n; i++) {
		uitt[i].ctl = 1 | ((u64)vectors[i] << 8);
		uitt[i].upid = (u64)&upids[0];
	}
	upids[0].ctl = upid0;
	wrmsr(MSR_UINTR_TT, (u64)uitt | 1);
	wrmsr(MSR_UINTR_MISC, ((u64)UINV << 32) | (u64)(n - 1));
}

/* SDM Vol. 1 13.4.3: offset of component i in the compacted format. */
static u64 compacted_offset(u64 xcomp_bv, int feature)
{
	u64 off = 576;
	u32 a, b, c, d;

	for (int i = 2; i <= feature; i++) {
		if (!(xcomp_bv & (1ul << i)))
			continue;
		cpuid(0xd, i, &a, &b, &c, &d);
		if (c & 2)
			off = (off + 63) & ~63ul;
		if (i == feature)
			return off;
		off += a;
	}
	return off;
}

struct uintr_img {
	u64 handler, stack_adjust, misc, upid, uirr, uitt;
};

static void read_uintr_msrs(struct uintr_img *s)
{
	s->handler = rdmsr(MSR_UINTR_HANDLER);
	s->stack_adjust = rdmsr(MSR_UINTR_STACKADJUST);
	s->misc = rdmsr(MSR_UINTR_MISC);
	s->upid = rdmsr(MSR_UINTR_PD);
	s->uirr = rdmsr(MSR_UINTR_RR);
	s->uitt = rdmsr(MSR_UINTR_TT);
}

static void write_uintr_msrs(const struct uintr_img *s)
{
	wrmsr(MSR_UINTR_HANDLER, s->handler);
	wrmsr(MSR_UINTR_STACKADJUST, s->stack_adjust);
	wrmsr(MSR_UINTR_MISC, s->misc);
	wrmsr(MSR_UINTR_PD, s->upid);
	wrmsr(MSR_UINTR_TT, s->uitt);
	wrmsr(MSR_UINTR_RR, s->uirr);
}

static int same_msrs(const struct uintr_img *a, const struct uintr_img *b, const char *what)
{
	if (a->handler != b->handler || a->stack_adjust != b->stack_adjust ||
	    a->misc != b->misc || a->upid != b->upid || a->uirr != b->uirr ||
	    a->uitt != b->uitt)
		return fail("%s: handler %lx/%lx stackadj %lx/%lx misc %lx/%lx upid %lx/%lx uirr %lx/%lx uitt %lx/%lx (got/want)",
			    what, a->handler, b->handler, a->stack_adjust, b->stack_adjust,
			    a->misc, b->misc, a->upid, b->upid, a->uirr, b->uirr, a->uitt, b->uitt);
	return 1;
}

/* A compacted image with only the UINTR component, from explicit values. */
static void make_uintr_image(u8 *area, const struct uintr_img *s, int uif, int present)
{
	u64 *hdr = (u64 *)(area + 512);
	u64 *c = (u64 *)(area + 576);

	memset(area, 0, 1024);
	hdr[0] = present ? 1ul << XFEATURE_UINTR : 0;		/* XSTATE_BV */
	hdr[1] = XCOMP_COMPACTED | (1ul << XFEATURE_UINTR);	/* XCOMP_BV */
	c[0] = s->handler;
	c[1] = s->stack_adjust;
	c[2] = s->misc | ((u64)(uif != 0) << 63);
	c[3] = s->upid;
	c[4] = s->uirr;
	c[5] = s->uitt;
}

static const struct uintr_img sample_a = {
	.handler = 0x0000000000401000ul,
	.stack_adjust = 0x80,
	.misc = 0x3ul,			/* UITTSZ 3, UINV 0 */
	.upid = 0x0000000000500040ul,
	.uirr = 0x0000000000010001ul,
	.uitt = 0x0000000000600001ul,
};

static const struct uintr_img sample_b = {
	.handler = 0x00007fffdead0000ul,
	.stack_adjust = 0x1001,
	.misc = ((u64)UINV << 32) | 7,
	.upid = 0x0000000000700080ul,
	.uirr = 0x8000000000000010ul,
	.uitt = 0x0000000000800011ul,
};

/* Fill every vector and opmask register so that their components are in use. */
static void fill_vector_state(u64 pattern)
{
	u64 p = pattern;

	if (xcr0_mask & 0xe0) {
		asm volatile(
			".irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n\t"
			"vpbroadcastq %0, %%zmm\\n\n\t"
			".endr\n\t"
			".irp n,1,2,3,4,5,6,7\n\t"
			"kmovq %0, %%k\\n\n\t"
			".endr"
			:: "m"(p));
	} else {
		asm volatile(
			".irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n\t"
			"vpbroadcastq %0, %%ymm\\n\n\t"
			".endr" :: "m"(p));
	}
}

/* ------------------------------------------------------------------ */
/* The tests                                                           */

static int t_cpuid(void)
{
	u32 a, b, c, d;

	cpuid(7, 0, &a, &b, &c, &d);
	if (!(d & (1u << 5)))
		return fail("CPUID.(7,0):EDX[5] (UINTR) is clear");
	cpuid(0xd, 1, &a, &b, &c, &d);
	if (!(c & (1u << XFEATURE_UINTR)))
		return fail("CPUID.(0xd,1):ECX[14] is clear: IA32_XSS cannot hold UINTR");
	cpuid(0xd, XFEATURE_UINTR, &a, &b, &c, &d);
	if (a != 48 || !(c & 1))
		return fail("CPUID.(0xd,14): size %u ecx %x, want 48 and supervisor", a, c);
	return 1;
}

static int t_cr4_ud(void)
{
	u64 r;

	write_cr4(read_cr4() & ~CR4_UINTR);
	r = user(u_stui_exit);
	write_cr4(read_cr4() | CR4_UINTR);
	if (r != (USER_FAULT | VEC_UD))
		return fail("STUI with CR4.UINTR=0: %s, want #UD", result_name(r));
	return 1;
}

/* WRMSR applies the rules XRSTORS must apply to the same values. */
static int t_wrmsr_rules(void)
{
	static const struct { u32 msr; u64 v; const char *what; } bad[] = {
		{ MSR_UINTR_HANDLER, 0x0000800000000000ul, "non-canonical handler" },
		{ MSR_UINTR_STACKADJUST, 0x8000000000000000ul, "non-canonical stack adjustment" },
		{ MSR_UINTR_MISC, 1ul << 40, "MISC bit 40" },
		{ MSR_UINTR_PD, 0x1008, "UPID address bit 3" },
		{ MSR_UINTR_TT, 0x1002, "UITT address bit 1" },
	};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s64 v = wrmsr_safe(bad[i].msr, bad[i].v);

		if (v != VEC_GP)
			return fail("WRMSR %x with %s: %s", bad[i].msr, bad[i].what,
				    v < 0 ? "accepted" : "wrong exception");
	}
	if (wrmsr_safe(MSR_UINTR_MISC, ((u64)UINV << 32) | 0xffffffffu) != -1)
		return fail("WRMSR MISC with UINV and UITTSZ 0xffffffff rejected");
	return 1;
}

static int t_testui(void)
{
	u64 r = user(u_testui);

	if (r != USER_EXIT)
		return fail("%s", result_name(r));
	if ((ut_f0 & 0x8d5) != 0)
		return fail("TESTUI with UIF=0: flags %lx, want OF SF ZF AF PF CF clear", ut_f0);
	if ((ut_f1 & 0x8d5) != 1)
		return fail("TESTUI with UIF=1: flags %lx, want CF only", ut_f1);
	return 1;
}

/* Deliver one interrupt at probe_ret with the handler recording the frame. */
static int check_frame(u64 stack_adjust, u64 rsp, u64 want_entry, unsigned vector)
{
	u64 r;

	arm_receiver(stack_adjust);
	wrmsr(MSR_UINTR_RR, 1ul << vector);
	uh_mode = 1;
	r = run_user(u_probe, rsp, RFLAGS_USER);
	if (uh_count != 1)
		return fail("handler ran %lu times (%s)", uh_count, result_name(r));
	if (uh_entry_rsp != want_entry)
		return fail("handler entered with RSP %lx, want %lx", uh_entry_rsp, want_entry);
	if (uh_vector != vector)
		return fail("vector %lx pushed, want %u", uh_vector, vector);
	if (uh_rip != (u64)probe_ret)
		return fail("RIP %lx pushed, want %lx", uh_rip, (u64)probe_ret);
	if (uh_rflags != 0x2c7)
		return fail("RFLAGS %lx pushed, want 0x2c7", uh_rflags);
	if (uh_rsp != rsp)
		return fail("RSP %lx pushed, want %lx", uh_rsp, rsp);
	if (uh_uif != 0)
		return fail("UIF is 1 in the handler");
	if (uh_hflags & (1ul << 8 | 1ul << 16))
		return fail("TF or RF set in the handler: %lx", uh_hflags);
	if (rdmsr(MSR_UINTR_RR) != 0)
		return fail("UIRR %lx after delivery, want 0", rdmsr(MSR_UINTR_RR));
	return 1;
}

static int t_frame_subtract(void)
{
	/* RSP misaligned by 8; subtract 128 then align down to 16 */
	u64 rsp = (u64)u_stack_top - 72;
	u64 want = ((rsp - 128) & ~15ul) - 32;

	return check_frame(128, rsp, want, 37);
}

static int t_frame_subtract_odd(void)
{
	/* an odd adjustment is still subtracted (bit 0 clear selects subtract) */
	u64 rsp = (u64)u_stack_top - 256;
	u64 want = ((rsp - 0x32) & ~15ul) - 32;

	return check_frame(0x32, rsp, want, 0);
}

static int t_frame_load(void)
{
	/* bit 0 set: RSP is loaded with the value, then aligned down */
	u64 rsp = (u64)u_stack_top - 8;
	u64 adj = ((u64)alt_stack_top + 8) | 1;
	u64 want = (adj & ~15ul) - 32;

	return check_frame(adj, rsp, want, 63);
}

static int t_priority(void)
{
	static const unsigned want[3] = { 63, 37, 5 };

	arm_receiver(128);
	wrmsr(MSR_UINTR_RR, (1ul << 5) | (1ul << 37) | (1ul << 63));
	uh_mode = 1;
	for (int i = 0; i < 3; i++) {
		u64 r = user(u_probe);

		if (uh_count != (u64)i + 1)
			return fail("delivery %d did not happen (%s)", i + 1, result_name(r));
		if (uh_vectors[i] != want[i])
			return fail("delivery %d: vector %lu, want %u", i + 1, uh_vectors[i], want[i]);
	}
	if (rdmsr(MSR_UINTR_RR) != 0)
		return fail("UIRR %lx after three deliveries", rdmsr(MSR_UINTR_RR));
	return 1;
}

static int t_uiret(void)
{
	u64 rsp = (u64)u_stack_top - 24;
	u64 r;

	arm_receiver(256);
	wrmsr(MSR_UINTR_RR, 1ul << 20);
	uh_mode = 0;
	r = run_user(u_probe, rsp, RFLAGS_USER);
	if (uh_count != 1)
		return fail("handler ran %lu times (%s)", uh_count, result_name(r));
	if (r != USER_EXIT)
		return fail("after UIRET: %s (RIP, RFLAGS and RSP must come from RSP, RSP+8, RSP+16)",
			    result_name(r));
	if (!ur_reached)
		return fail("did not resume at the interrupted instruction");
	if (ur_rsp != rsp)
		return fail("RSP %lx after UIRET, want %lx", ur_rsp, rsp);
	if ((ur_rflags & 0xfd5) != 0x2c5)
		return fail("RFLAGS %lx after UIRET, want 0x2c7", ur_rflags);
	if (ur_uif != 1)
		return fail("UIF is 0 after UIRET");
	return 1;
}

/* SENDUIPI with register R: index 2 (vector 17) in R, index 1 (vector 9) elsewhere. */
static int senduipi_reg(void (*fn)(void), const char *reg)
{
	static const u8 vec[3] = { 3, 9, 17 };
	u64 r;

	arm_receiver(128);
	arm_sender(vec, 3, upid_ctl(UPID_SN, UINV, ndst_self()));
	r = user(fn);
	if (r != USER_EXIT)
		return fail("senduipi %%%s with %%%s=2: %s", reg, reg, result_name(r));
	if (upids[0].pir != 1ul << 17)
		return fail("PIR %lx after senduipi %%%s, want bit 17 (index 2 from %%%s)%s",
			    upids[0].pir, reg, reg,
			    upids[0].pir == 1ul << 9 ? ": the index came from another register" : "");
	return 1;
}

#define SENDUIPI_TEST(r) static int t_senduipi_##r(void) { return senduipi_reg(u_senduipi_##r, #r); }
REGS(SENDUIPI_TEST)

/* SENDUIPI through index idx of a table prepared by the caller; returns run_user's result. */
static u64 send_index(u64 idx, void (*fn)(void))
{
	u_arg = idx;
	return user(fn);
}

static int t_index_limit(void)
{
	static const u8 vec[3] = { 3, 9, 17 };
	u64 r;

	arm_receiver(128);
	arm_sender(vec, 3, upid_ctl(UPID_SN, UINV, ndst_self()));
	r = send_index(2, u_senduipi);
	if (r != USER_EXIT || upids[0].pir != 1ul << 17)
		return fail("index 2 = UITTSZ: %s, PIR %lx", result_name(r), upids[0].pir);
	r = send_index(3, u_senduipi);
	if (r != (USER_FAULT | VEC_GP))
		return fail("index 3 > UITTSZ 2: %s, want #GP", result_name(r));
	r = send_index(1ul << 32, u_senduipi);
	if (r != (USER_FAULT | VEC_GP))
		return fail("index 2^32 > UITTSZ 2: %s, want #GP", result_name(r));
	return 1;
}

/* An entry or UPID that SENDUIPI must reject with #GP. */
static int bad_entry(u64 ctl, u64 upid_addr, u64 upid_lo, const char *what)
{
	static const u8 vec[1] = { 3 };
	u64 r;

	arm_receiver(128);
	arm_sender(vec, 1, upid_ctl(UPID_SN, UINV, ndst_self()));
	uitt[0].ctl = ctl;
	uitt[0].upid = upid_addr;
	upids[0].ctl = upid_lo;
	r = send_index(0, u_senduipi);
	if (r != (USER_FAULT | VEC_GP))
		return fail("%s: %s, want #GP", what, result_name(r));
	if (upids[0].pir != 0)
		return fail("%s: PIR %lx changed", what, upids[0].pir);
	return 1;
}

static int t_uitt_not_valid(void)
{
	return bad_entry(3 << 8, (u64)&upids[0], upid_ctl(UPID_SN, UINV, ndst_self()), "V=0");
}

static int t_uitt_rsvd_7_1(void)
{
	return bad_entry(1 | 0x10 | (3 << 8), (u64)&upids[0], upid_ctl(UPID_SN, UINV, ndst_self()),
			 "UITT bit 4 set");
}

static int t_uitt_rsvd_63_16(void)
{
	return bad_entry(1 | (3 << 8) | (1ul << 40), (u64)&upids[0],
			 upid_ctl(UPID_SN, UINV, ndst_self()), "UITT bit 40 set");
}

static int t_uitt_uv_64(void)
{
	return bad_entry(1 | (64 << 8), (u64)&upids[0], upid_ctl(UPID_SN, UINV, ndst_self()),
			 "UV=64");
}

static int t_uitt_upid_align(void)
{
	return bad_entry(1 | (3 << 8), (u64)&upids[0] + 0x20, upid_ctl(UPID_SN, UINV, ndst_self()),
			 "UPID address not 64-byte aligned");
}

static int t_upid_rsvd(void)
{
	if (!bad_entry(1 | (3 << 8), (u64)&upids[0], upid_ctl(UPID_SN | 0x100, UINV, ndst_self()),
		       "UPID bit 8 set"))
		return 0;
	return bad_entry(1 | (3 << 8), (u64)&upids[0], upid_ctl(UPID_SN | (1ul << 28), UINV, ndst_self()),
			 "UPID bit 28 set");
}

static int t_senduipi_disabled(void)
{
	static const u8 vec[1] = { 3 };
	u64 r;

	arm_receiver(128);
	arm_sender(vec, 1, upid_ctl(UPID_SN, UINV, ndst_self()));
	wrmsr(MSR_UINTR_TT, (u64)uitt);		/* bit 0 clear */
	r = send_index(0, u_senduipi);
	if (r != (USER_FAULT | VEC_UD))
		return fail("IA32_UINTR_TT[0]=0: %s, want #UD", result_name(r));
	return 1;
}

static int t_sn_suppresses(void)
{
	static const u8 vec[1] = { 12 };
	u64 r;

	arm_receiver(128);
	arm_sender(vec, 1, upid_ctl(UPID_SN, UINV, ndst_self()));
	r = send_index(0, u_stui_senduipi);
	if (r != USER_EXIT)
		return fail("%s", result_name(r));
	if (upids[0].pir != 1ul << 12)
		return fail("PIR %lx, want bit 12", upids[0].pir);
	if (upids[0].ctl & UPID_ON)
		return fail("ON set although SN was set");
	if (irq_count[UINV] || uh_count || rdmsr(MSR_UINTR_RR))
		return fail("a notification was sent: IDT %lu, handler %lu, UIRR %lx",
			    irq_count[UINV], uh_count, rdmsr(MSR_UINTR_RR));
	return 1;
}

static int t_on_suppresses(void)
{
	static const u8 vec[1] = { 12 };
	u64 r;

	arm_receiver(128);
	arm_sender(vec, 1, upid_ctl(UPID_ON, UINV, ndst_self()));
	upids[0].pir = 1ul << 2;
	r = send_index(0, u_stui_senduipi);
	if (r != USER_EXIT)
		return fail("%s", result_name(r));
	if (upids[0].pir != ((1ul << 12) | (1ul << 2)))
		return fail("PIR %lx, want bits 12 and 2", upids[0].pir);
	if (!(upids[0].ctl & UPID_ON))
		return fail("ON cleared");
	if (irq_count[UINV] || uh_count || rdmsr(MSR_UINTR_RR))
		return fail("a notification was sent: IDT %lu, handler %lu, UIRR %lx",
			    irq_count[UINV], uh_count, rdmsr(MSR_UINTR_RR));
	return 1;
}

/* ON=SN=0: SENDUIPI notifies; notification processing moves PIR to UIRR. */
static int notify_self(u64 ndst, const char *what)
{
	static const u8 vec[1] = { 17 };
	u64 r;

	arm_receiver(128);
	arm_sender(vec, 1, upid_ctl(0, UINV, ndst));
	upids[0].pir = 1ul << 40;
	r = send_index(0, u_clui_senduipi);
	if (r != USER_EXIT)
		return fail("%s: %s", what, result_name(r));
	if (irq_count[UINV])
		return fail("%s: the notification vector went through the IDT", what);
	if (rdmsr(MSR_UINTR_RR) != ((1ul << 17) | (1ul << 40)))
		return fail("%s: UIRR %lx, want bits 17 and 40 (PIR %lx, UPID %lx)", what,
			    rdmsr(MSR_UINTR_RR), upids[0].pir, upids[0].ctl);
	if (upids[0].pir != 0)
		return fail("%s: PIR %lx after notification processing, want 0", what, upids[0].pir);
	if (upids[0].ctl & UPID_ON)
		return fail("%s: ON still set after notification processing", what);
	if (uh_count)
		return fail("%s: delivered with UIF=0", what);
	return 1;
}

static int t_notification(void)
{
	return notify_self(ndst_self(), "NDST = own APIC ID");
}

static int t_other_vector(void)
{
	static const u8 vec[1] = { 17 };
	u64 r;

	arm_receiver(128);
	arm_sender(vec, 1, upid_ctl(0, OTHER_VECTOR, ndst_self()));
	r = send_index(0, u_clui_senduipi);
	if (r != USER_EXIT)
		return fail("%s", result_name(r));
	if (irq_count[OTHER_VECTOR] != 1)
		return fail("NV != UINV: IDT vector %x taken %lu times, want once",
			    OTHER_VECTOR, irq_count[OTHER_VECTOR]);
	if (rdmsr(MSR_UINTR_RR) != 0 || upids[0].pir != 1ul << 17 || !(upids[0].ctl & UPID_ON))
		return fail("NV != UINV processed as a notification: UIRR %lx PIR %lx UPID %lx",
			    rdmsr(MSR_UINTR_RR), upids[0].pir, upids[0].ctl);
	return 1;
}

static void send_self_ipi(u8 vector)
{
	/* fixed, physical, destination shorthand "self" */
	if (x2apic) {
		wrmsr(MSR_X2APIC_ICR, (1ul << 18) | vector);
	} else {
		lapic_write(0x310, 0);
		lapic_write(0x300, (1u << 18) | vector);
	}
}

/* Take whatever interrupt is pending, at CPL 0. */
static void open_interrupt_window(void)
{
	asm volatile("sti; nop; nop; nop; cli" ::: "memory");
}

/* Notification processing does not need CPL 3: at CPL 0 it fills UIRR,
 * and delivery waits for CPL 3 with UIF = 1. */
static int t_notification_cpl0(void)
{
	u64 r;

	arm_receiver(128);
	wrmsr(MSR_UINTR_MISC, (u64)UINV << 32);
	upids[0].ctl = upid_ctl(UPID_ON, UINV, ndst_self());
	upids[0].pir = 1ul << 21;
	send_self_ipi(UINV);
	open_interrupt_window();
	if (irq_count[UINV])
		return fail("the notification vector went through the IDT at CPL 0");
	if (rdmsr(MSR_UINTR_RR) != 1ul << 21 || upids[0].pir || (upids[0].ctl & UPID_ON))
		return fail("at CPL 0: UIRR %lx PIR %lx UPID %lx, want UIRR bit 21, PIR 0, ON 0",
			    rdmsr(MSR_UINTR_RR), upids[0].pir, upids[0].ctl);
	if (uh_count)
		return fail("delivered at CPL 0");
	uh_mode = 1;
	r = user(u_stui_nops_exit);
	if (uh_count != 1 || uh_vector != 21)
		return fail("at CPL 3 with UIF=1: handler %lu, vector %lu (%s)",
			    uh_count, uh_vector, result_name(r));
	return 1;
}

/* XSAVES clears UINV: the old notification vector is an ordinary interrupt. */
static int t_old_uinv_via_idt(void)
{
	arm_receiver(128);
	wrmsr(MSR_UINTR_MISC, (u64)UINV << 32);
	upids[0].ctl = upid_ctl(UPID_ON, UINV, ndst_self());
	upids[0].pir = 1ul << 21;
	memset(xarea, 0, 4096);
	xsaves(xarea, 1ul << XFEATURE_UINTR);
	send_self_ipi(UINV);
	open_interrupt_window();
	if (irq_count[UINV] != 1)
		return fail("vector %x after XSAVES: taken %lu times through the IDT, want once",
			    UINV, irq_count[UINV]);
	if (rdmsr(MSR_UINTR_RR) != 0 || upids[0].pir != 1ul << 21 || !(upids[0].ctl & UPID_ON))
		return fail("processed as a notification: UIRR %lx PIR %lx UPID %lx",
			    rdmsr(MSR_UINTR_RR), upids[0].pir, upids[0].ctl);
	return 1;
}

static int t_end_to_end(void)
{
	static const u8 vec[1] = { 17 };
	u64 r;

	arm_receiver(128);
	arm_sender(vec, 1, upid_ctl(0, UINV, ndst_self()));
	uh_mode = 0;
	r = send_index(0, u_stui_senduipi);
	if (uh_count != 1 || uh_vector != 17)
		return fail("handler ran %lu times, vector %lu (%s)", uh_count, uh_vector, result_name(r));
	if (r != USER_EXIT)
		return fail("after UIRET: %s", result_name(r));
	return 1;
}

static int t_xapic_ndst(void)
{
	/* xAPIC mode: only NDST[15:8] is the destination; 7:0 and 31:16 are ignored */
	return notify_self(0xabcd0012ul | ((u64)(apic_id & 0xff) << 8), "NDST = 0xabcd..12 around the APIC ID");
}

/*
 * SENDUIPI on CPU 0 to a receiver running at CPL 3 on CPU 1: the IPI
 * reaches the other CPU, whose notification processing fills its UIRR
 * and delivers.
 */
static int cross_cpu(u64 ndst, const char *what)
{
	static const u8 vec[1] = { 17 };
	u64 r;

	if (!ap_up) {
		fail("one CPU only (run with --cpus 2)");
		return SKIP;
	}
	arm_sender(vec, 1, upid_ctl(0, UINV, ndst));
	ap_arg = (u64)&upids[0];
	ap_stop = 0;
	ap_stage = 0;
	ap_cmd = AP_RECEIVE;
	if (!wait_for(&ap_stage, 1, 10000000))
		return fail("%s: CPU 1 did not start receiving", what);
	r = send_index(0, u_senduipi);
	if (!wait_for(&ap_cmd, AP_IDLE, 20000000)) {
		ap_stop = 1;
		wait_for(&ap_cmd, AP_IDLE, 20000000);
		return fail("%s: CPU 1 got no user interrupt (sender %s, UPID %lx, PIR %lx, CPU 1 UIRR %lx)",
			    what, result_name(r), upids[0].ctl, upids[0].pir, ap_res_uirr);
	}
	if (r != USER_EXIT)
		return fail("%s: sender %s", what, result_name(r));
	if (ap_res_run != USER_EXIT || uh_count != 1 || uh_vector != 17)
		return fail("%s: receiver %s, handler %lu, vector %lu", what,
			    result_name(ap_res_run), uh_count, uh_vector);
	if (upids[0].pir || (upids[0].ctl & UPID_ON))
		return fail("%s: PIR %lx UPID %lx after the notification", what,
			    upids[0].pir, upids[0].ctl);
	return 1;
}

static int t_cross_xapic(void)
{
	return cross_cpu((u64)(ap_apic_id & 0xff) << 8, "xAPIC, NDST[15:8] = 1");
}

static int t_cross_xapic_high(void)
{
	return cross_cpu(0x5a5a0000ul | ((u64)(ap_apic_id & 0xff) << 8) | 0x77,
			 "xAPIC, NDST = 0x5a5a..77 around APIC ID 1");
}

static int t_cross_x2apic(void)
{
	if (ap_up && !x2apic)
		enter_x2apic();
	return cross_cpu(ap_apic_id, "x2APIC, NDST = 1");
}

static int t_xsaves_clears_uinv(void)
{
	u64 *c = (u64 *)(xarea + 576);
	u64 *hdr = (u64 *)(xarea + 512);

	write_uintr_msrs(&sample_b);
	memset(xarea, 0, 4096);
	xsaves(xarea, 1ul << XFEATURE_UINTR);
	if (hdr[1] != (XCOMP_COMPACTED | (1ul << XFEATURE_UINTR)) ||
	    !(hdr[0] & (1ul << XFEATURE_UINTR)))
		return fail("header XSTATE_BV %lx XCOMP_BV %lx", hdr[0], hdr[1]);
	if (c[0] != sample_b.handler || c[1] != sample_b.stack_adjust ||
	    (c[2] & ~(1ul << 63)) != sample_b.misc || c[3] != sample_b.upid ||
	    c[4] != sample_b.uirr || c[5] != sample_b.uitt)
		return fail("image %lx %lx %lx %lx %lx %lx", c[0], c[1], c[2], c[3], c[4], c[5]);
	if (rdmsr(MSR_UINTR_MISC) != (sample_b.misc & 0xffffffffu))
		return fail("MISC %lx after XSAVES, want UINV cleared (%lx)",
			    rdmsr(MSR_UINTR_MISC), sample_b.misc & 0xffffffffu);
	return 1;
}

static int t_xrstors_uinv_armed(void)
{
	struct uintr_img before, after;

	make_uintr_image(xarea, &sample_a, 0, 1);
	write_uintr_msrs(&sample_b);		/* UINV armed */
	read_uintr_msrs(&before);
	if (xrstors_safe(xarea, 1ul << XFEATURE_UINTR) != VEC_GP)
		return fail("XRSTORS with UINV=%x armed: no #GP", UINV);
	read_uintr_msrs(&after);
	return same_msrs(&after, &before, "state after the #GP");
}

static int t_xrstors_uinv_armed_init(void)
{
	struct uintr_img before, after;

	make_uintr_image(xarea, &sample_a, 0, 0);	/* XSTATE_BV[14] = 0: initialise */
	write_uintr_msrs(&sample_b);
	read_uintr_msrs(&before);
	if (xrstors_safe(xarea, 1ul << XFEATURE_UINTR) != VEC_GP)
		return fail("XRSTORS (init form) with UINV=%x armed: no #GP", UINV);
	read_uintr_msrs(&after);
	return same_msrs(&after, &before, "state after the #GP");
}

static int t_xrstors_valid(void)
{
	struct uintr_img after;

	make_uintr_image(xarea, &sample_b, 1, 1);
	write_uintr_msrs(&sample_a);
	if (xrstors_safe(xarea, 1ul << XFEATURE_UINTR) != -1)
		return fail("valid image: #%ld", fault_vec);
	read_uintr_msrs(&after);
	return same_msrs(&after, &sample_b, "loaded state");
}

/* An image with one invalid field: #GP and nothing loaded. */
static int bad_image(int field, u64 value, const char *what)
{
	struct uintr_img img = sample_b, before, after;
	u64 *f = (u64 *)&img;

	img.misc &= 0xffffffffu;		/* UINV 0 in the image: not the point */
	f[field] = value;
	make_uintr_image(xarea, &img, 0, 1);
	write_uintr_msrs(&sample_a);
	read_uintr_msrs(&before);
	if (xrstors_safe(xarea, 1ul << XFEATURE_UINTR) != VEC_GP) {
		read_uintr_msrs(&after);
		return fail("%s = %lx: no #GP (handler %lx misc %lx upid %lx uitt %lx afterwards)",
			    what, value, after.handler, after.misc, after.upid, after.uitt);
	}
	read_uintr_msrs(&after);
	return same_msrs(&after, &before, what);
}

static int t_bad_handler(void) { return bad_image(0, 0x0000800000000000ul, "handler not canonical"); }
static int t_bad_stackadj(void) { return bad_image(1, 0x8000000000000001ul, "stack adjust not canonical"); }
static int t_bad_misc40(void) { return bad_image(2, (1ul << 40) | 3, "MISC bit 40"); }
static int t_bad_misc62(void) { return bad_image(2, (1ul << 62) | 3, "MISC bit 62"); }
static int t_bad_upid_canon(void) { return bad_image(3, 0x00f0000000000000ul, "UPID address not canonical"); }
static int t_bad_upid_align(void) { return bad_image(3, 0x0000000000700088ul, "UPID address bit 3"); }
static int t_bad_uitt_canon(void) { return bad_image(5, 0x4000000000000001ul, "UITT address not canonical"); }
static int t_bad_uitt_rsvd(void) { return bad_image(5, 0x0000000000800003ul, "UITT address bit 1"); }

/* XSAVES of everything: the UINTR component sits where XCOMP_BV says. */
static int t_xsaves_layout(void)
{
	u64 rfbm = xcr0_mask | xss_mask;
	u64 *hdr = (u64 *)(xarea + 512);
	u64 off = compacted_offset(rfbm, XFEATURE_UINTR);
	u64 *c = (u64 *)(xarea + off);

	fill_vector_state(0x5a5a5a5a5a5a5a5aul);
	write_uintr_msrs(&sample_b);
	memset(xarea, 0, sizeof(xarea));
	xsaves(xarea, rfbm);
	if (hdr[1] != (XCOMP_COMPACTED | rfbm))
		return fail("XCOMP_BV %lx, want %lx", hdr[1], XCOMP_COMPACTED | rfbm);
	if (c[0] != sample_b.handler || c[4] != sample_b.uirr || c[5] != sample_b.uitt)
		return fail("UINTR component not at offset %lu: %lx %lx %lx", off, c[0], c[4], c[5]);
	return 1;
}

/* Save everything, change UINTR, restore only (some) components. */
static int partial_restore(u64 extra, const char *what)
{
	u64 rfbm = xcr0_mask | xss_mask;
	struct uintr_img after;

	if ((extra & rfbm) != extra)
		return fail("%s: component not enabled here", what);
	fill_vector_state(0xfedcba9876543210ul);
	write_uintr_msrs(&sample_b);
	memset(xarea, 0, sizeof(xarea));
	xsaves(xarea, rfbm);			/* clears UINV */
	write_uintr_msrs(&sample_a);
	if (xrstors_safe(xarea, extra | (1ul << XFEATURE_UINTR)) != -1)
		return fail("%s: XRSTORS raised #%ld", what, fault_vec);
	read_uintr_msrs(&after);
	return same_msrs(&after, &sample_b, what);
}

static int t_partial_uintr(void) { return partial_restore(0, "RFBM = UINTR"); }
static int t_partial_sse(void) { return partial_restore(2, "RFBM = SSE|UINTR"); }
static int t_partial_cet(void) { return partial_restore(1ul << 12, "RFBM = CET_S|UINTR"); }

/* After XRSTORS of the init state (UIRR = 0), no user interrupt is pending. */
static int t_init_no_delivery(void)
{
	u64 r;

	arm_receiver(128);
	wrmsr(MSR_UINTR_RR, 1ul << 7);		/* pending, masked at CPL 0 */
	make_uintr_image(xarea, &sample_a, 0, 0);
	if (xrstors_safe(xarea, 1ul << XFEATURE_UINTR) != -1)
		return fail("XRSTORS of the init state raised #%ld", fault_vec);
	if (rdmsr(MSR_UINTR_RR) != 0 || rdmsr(MSR_UINTR_HANDLER) != 0)
		return fail("init state not loaded: UIRR %lx handler %lx",
			    rdmsr(MSR_UINTR_RR), rdmsr(MSR_UINTR_HANDLER));
	arm_receiver(128);
	uh_mode = 1;
	r = user(u_stui_nops_exit);
	if (uh_count)
		return fail("user interrupt delivered with UIRR = 0 (vector %lx)", uh_vector);
	if (r != USER_EXIT)
		return fail("%s", result_name(r));
	return 1;
}

/* Clearing CR4.UINTR withdraws a pending user interrupt. */
static int t_cr4_clear(void)
{
	u64 r;

	arm_receiver(128);
	user(u_stui_exit);			/* UIF = 1 */
	wrmsr(MSR_UINTR_RR, 1ul << 9);		/* pending */
	write_cr4(read_cr4() & ~CR4_UINTR);
	uh_mode = 1;
	r = user(u_nops_exit);
	write_cr4(read_cr4() | CR4_UINTR);
	if (uh_count)
		return fail("user interrupt delivered with CR4.UINTR = 0 (vector %lx)", uh_vector);
	if (r == (USER_FAULT | VEC_UD) && last_user_rip >= (u64)uintr_handler &&
	    last_user_rip < (u64)u_exit)
		return fail("user interrupt delivered with CR4.UINTR = 0 (the handler's TESTUI raised #UD)");
	if (r != USER_EXIT)
		return fail("%s", result_name(r));
	return 1;
}

/* Setting CR4.UINTR with UIRR != 0 makes the interrupt pending. */
static int t_cr4_set(void)
{
	u64 r;

	arm_receiver(128);
	write_cr4(read_cr4() & ~CR4_UINTR);
	wrmsr(MSR_UINTR_RR, 1ul << 11);		/* not pending: CR4.UINTR = 0 */
	write_cr4(read_cr4() | CR4_UINTR);
	uh_mode = 1;
	r = user(u_stui_nops_exit);
	if (uh_count != 1 || uh_vector != 11)
		return fail("no delivery after CR4.UINTR was set with UIRR %lx (handler %lu, %s)",
			    rdmsr(MSR_UINTR_RR), uh_count, result_name(r));
	return 1;
}

/* CR4.UINTR off, UIRR emptied by XRSTORS, CR4.UINTR on: nothing pending. */
static int t_cr4_set_empty(void)
{
	u64 r;

	arm_receiver(128);
	wrmsr(MSR_UINTR_RR, 1ul << 13);
	write_cr4(read_cr4() & ~CR4_UINTR);
	make_uintr_image(xarea, &sample_a, 0, 0);
	if (xrstors_safe(xarea, 1ul << XFEATURE_UINTR) != -1) {
		write_cr4(read_cr4() | CR4_UINTR);
		return fail("XRSTORS of the init state raised #%ld", fault_vec);
	}
	write_cr4(read_cr4() | CR4_UINTR);
	arm_receiver(128);
	uh_mode = 1;
	r = user(u_stui_nops_exit);
	if (uh_count)
		return fail("user interrupt delivered with UIRR = 0 (vector %lx)", uh_vector);
	if (r != USER_EXIT)
		return fail("%s", result_name(r));
	return 1;
}

static int t_x2apic_notification(void)
{
	if (!x2apic)
		enter_x2apic();
	return notify_self(ndst_self(), "x2APIC, NDST = own x2APIC ID");
}

static int t_x2apic_icr(void)
{
	/* a fixed IPI to a non-existent x2APIC ID; the ICR keeps the value */
	u64 icr = (0x00000005ul << 32) | TEST_VECTOR;
	u64 got;

	if (!x2apic)
		enter_x2apic();
	wrmsr(MSR_X2APIC_ICR, icr);
	got = rdmsr(MSR_X2APIC_ICR);
	if ((got & ~(1ul << 12)) != icr)
		return fail("ICR reads %lx after writing %lx", got, icr);
	return 1;
}

static int t_x2apic_ff(void)
{
	u64 irr;

	if (!x2apic)
		enter_x2apic();
	if (apic_id == 0xff)
		return fail("own x2APIC ID is 0xff: test not applicable");
	irq_count[TEST_VECTOR] = 0;
	wrmsr(MSR_X2APIC_ICR, (0xfful << 32) | TEST_VECTOR);
	irr = rdmsr(MSR_X2APIC_IRR0 + TEST_VECTOR / 32);
	asm volatile("sti; nop; nop; cli" ::: "memory");
	if ((irr >> (TEST_VECTOR % 32)) & 1 || irq_count[TEST_VECTOR])
		return fail("physical IPI to x2APIC ID 0xff reached APIC %x (broadcast)", apic_id);
	return 1;
}

/*
 * A test that checks a rule one of emulator/patches/ restores carries that
 * fix's tag; scripts/run-conformance.sh --both checks that every tag fails
 * somewhere on the unpatched emulator and nothing fails on the patched one.
 */
struct test {
	const char *name;
	int (*fn)(void);
	const char *tag;
};

#define SENDUIPI_ENTRY(r) { "SENDUIPI takes the UITT index from %" #r, t_senduipi_##r, "senduipi-operand" },

static const struct test tests[] = {
	{ "CPUID enumerates UINTR and XSAVE component 14", t_cpuid },
	{ "STUI raises #UD with CR4.UINTR=0", t_cr4_ud },
	{ "WRMSR rejects invalid UINTR MSR values", t_wrmsr_rules },
	{ "TESTUI sets CF to UIF and clears OF SF ZF AF PF", t_testui },
	{ "delivery frame: subtract mode, misaligned RSP", t_frame_subtract },
	{ "delivery frame: subtract mode, odd adjustment", t_frame_subtract_odd },
	{ "delivery frame: load mode (STACKADJUST bit 0 set)", t_frame_load },
	{ "delivery takes the highest UIRR bit first and clears it", t_priority },
	{ "UIRET restores RIP, RFLAGS, RSP and sets UIF", t_uiret, "uiret-frame" },
	REGS(SENDUIPI_ENTRY)
	{ "SENDUIPI index beyond UITTSZ raises #GP", t_index_limit },
	{ "SENDUIPI on an invalid UITT entry raises #GP", t_uitt_not_valid },
	{ "SENDUIPI on UITT reserved bits 7:1 raises #GP", t_uitt_rsvd_7_1 },
	{ "SENDUIPI on UITT reserved bits 63:16 raises #GP", t_uitt_rsvd_63_16 },
	{ "SENDUIPI on a user vector >= 64 raises #GP", t_uitt_uv_64 },
	{ "SENDUIPI on a misaligned UPID address raises #GP", t_uitt_upid_align },
	{ "SENDUIPI on UPID reserved bits raises #GP", t_upid_rsvd },
	{ "SENDUIPI with IA32_UINTR_TT[0]=0 raises #UD", t_senduipi_disabled },
	{ "UPID.SN suppresses the notification", t_sn_suppresses },
	{ "UPID.ON suppresses the notification", t_on_suppresses },
	{ "notification processing moves PIR to UIRR and clears ON", t_notification },
	{ "a notification vector other than UINV goes through the IDT", t_other_vector },
	{ "notification processing at CPL 0; delivery waits for CPL 3", t_notification_cpl0 },
	{ "after XSAVES cleared UINV the old vector goes through the IDT", t_old_uinv_via_idt },
	{ "SENDUIPI to self delivers the user interrupt", t_end_to_end, "uiret-frame" },
	{ "xAPIC: notification goes to NDST[15:8] only", t_xapic_ndst, "apic-dest" },
	{ "xAPIC: SENDUIPI to a receiver on the other CPU", t_cross_xapic },
	{ "xAPIC: other CPU, NDST bits 31:16 and 7:0 ignored", t_cross_xapic_high, "apic-dest" },
	{ "XSAVES saves component 14 and clears UINV", t_xsaves_clears_uinv },
	{ "XRSTORS raises #GP while UINV is armed", t_xrstors_uinv_armed },
	{ "XRSTORS of the init state raises #GP while UINV is armed", t_xrstors_uinv_armed_init, "xrstors-gp" },
	{ "XRSTORS loads a valid UINTR image", t_xrstors_valid },
	{ "XRSTORS #GP: non-canonical handler", t_bad_handler, "xrstors-gp" },
	{ "XRSTORS #GP: non-canonical stack adjustment", t_bad_stackadj, "xrstors-gp" },
	{ "XRSTORS #GP: MISC reserved bit 40", t_bad_misc40, "xrstors-gp" },
	{ "XRSTORS #GP: MISC reserved bit 62", t_bad_misc62, "xrstors-gp" },
	{ "XRSTORS #GP: non-canonical UPID address", t_bad_upid_canon, "xrstors-gp" },
	{ "XRSTORS #GP: misaligned UPID address", t_bad_upid_align, "xrstors-gp" },
	{ "XRSTORS #GP: non-canonical UITT address", t_bad_uitt_canon, "xrstors-gp" },
	{ "XRSTORS #GP: UITT address reserved bits 3:1", t_bad_uitt_rsvd, "xrstors-gp" },
	{ "XSAVES puts component 14 at its compacted offset", t_xsaves_layout },
	{ "XRSTORS with RFBM = UINTR reads it at its XCOMP_BV offset", t_partial_uintr, "xrstors-offsets" },
	{ "XRSTORS with RFBM = SSE|UINTR reads it at its XCOMP_BV offset", t_partial_sse, "xrstors-offsets" },
	{ "XRSTORS with RFBM = CET_S|UINTR reads it at its XCOMP_BV offset", t_partial_cet, "xrstors-offsets" },
	{ "no delivery with UIRR = 0 after XRSTORS of the init state", t_init_no_delivery, "pending-reeval" },
	{ "clearing CR4.UINTR withdraws the pending user interrupt", t_cr4_clear, "pending-reeval" },
	{ "setting CR4.UINTR with UIRR != 0 recognises the interrupt", t_cr4_set, "pending-reeval" },
	{ "no delivery with UIRR = 0 after a CR4.UINTR write", t_cr4_set_empty, "pending-reeval" },
	{ "x2APIC: notification to own x2APIC ID", t_x2apic_notification },
	{ "x2APIC: ICR reads back the value written", t_x2apic_icr, "apic-dest" },
	{ "x2APIC: physical destination 0xff is not a broadcast", t_x2apic_ff, "apic-dest" },
	{ "x2APIC: SENDUIPI to a receiver on the other CPU", t_cross_x2apic },
};

#define NTESTS (sizeof(tests) / sizeof(tests[0]))

void kmain(void)
{
	unsigned failed = 0, skipped = 0;

	serial_init();
	setup_descriptors();
	setup_cpu();
	start_ap();

	printf("# UINTR conformance suite, APIC ID %u, XCR0 %lx, XSS %lx, %s\n",
	       apic_id, xcr0_mask, xss_mask, ap_up ? "second CPU up" : "one CPU");
	printf("1..%u\n", (unsigned)NTESTS);
	for (unsigned i = 0; i < NTESTS; i++) {
		int ok;

		detail[0] = 0;
		uintr_reset();
		ok = tests[i].fn();
		printf("%s %u - %s", ok ? "ok" : "not ok", i + 1, tests[i].name);
		if (tests[i].tag)
			printf(" [%s]", tests[i].tag);
		if (ok == SKIP) {
			skipped++;
			printf(" # SKIP %s", detail);
		} else if (!ok) {
			failed++;
			printf(" # %s", detail);
		}
		printf("\n");
	}
	uintr_reset();
	printf("# %u passed, %u failed, %u skipped\n",
	       (unsigned)NTESTS - failed - skipped, failed, skipped);
	shutdown();
}
