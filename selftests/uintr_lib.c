// SPDX-License-Identifier: GPL-2.0
/*
 * libuintr: handlers are plain C functions that find and leave the
 * interrupted code's registers, extended state and flags as they were;
 * per-vector dispatch, nestable blocking, waiting, timers, and errno on
 * every failure.  Linked with lib/libuintr.a, as a user of the library
 * would be; built without -muintr's interrupt attribute.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <uintr.h>

#include "kselftest_harness.h"
#include "uintr_proc.h"

static volatile uint64_t hits[UINTR_MAX_VECTORS];
static volatile uint64_t default_hits;
static volatile int seen;
static volatile unsigned int handler_mxcsr;
static volatile unsigned short handler_fpucw;
static volatile uint64_t handler_rflags;
static volatile uint64_t frame_rsp;
static volatile uintptr_t handler_local;
static volatile double handler_sum;

/* Starts the calling thread as a receiver, or says why it cannot. */
static int start(void *stack, size_t size)
{
	if (uintr_register_receiver(stack, size))
		return errno;
	return 0;
}

#define START_OR_SKIP(stack, size)						\
	do {									\
		int __e = start(stack, size);					\
		if (__e == EOPNOTSUPP || __e == ENOENT || __e == ENODEV)	\
			SKIP(return, "no user interrupts here (%s)", strerror(__e)); \
		ASSERT_EQ(0, __e);						\
	} while (0)

static void count(unsigned int vector, struct uintr_frame *frame)
{
	hits[vector]++;
}

static void count_default(unsigned int vector, struct uintr_frame *frame)
{
	default_hits++;
}

static bool spin_until(volatile uint64_t *c, uint64_t want)
{
	for (long i = 0; i < 100000000L && *c < want; i++)
		__builtin_ia32_pause();
	return *c >= want;
}

TEST(each_vector_reaches_its_handler_and_the_rest_the_default)
{
	int i3, i7;

	ASSERT_EQ(0, uintr_set_handler(3, count));
	ASSERT_EQ(0, uintr_set_handler(UINTR_DEFAULT_HANDLER, count_default));
	START_OR_SKIP(NULL, 0);
	i3 = uintr_register_self(3);
	i7 = uintr_register_self(7);
	ASSERT_LE(0, i3);
	ASSERT_LE(0, i7);
	uintr_unblock();
	/* One at a time: two posts of a vector still pending merge into one. */
	uintr_send(i3);
	ASSERT_TRUE(spin_until(&hits[3], 1));
	uintr_send(i7);
	ASSERT_TRUE(spin_until(&default_hits, 1));
	uintr_send(i3);
	ASSERT_TRUE(spin_until(&hits[3], 2));
	EXPECT_EQ(0UL, hits[7]);
	EXPECT_EQ(2UL, hits[3]);
	EXPECT_EQ(1UL, default_hits);
	ASSERT_EQ(0, uintr_unregister_receiver());
}

/*
 * The handler uses every vector register, the x87 stack and a different
 * MXCSR, and looks at the flags it runs with.
 */
static void clobber(unsigned int vector, struct uintr_frame *frame)
{
	double sum = 0;
	unsigned int mxcsr;
	uint64_t flags;

	unsigned short cw;

	__asm__ __volatile__("stmxcsr %0" : "=m"(mxcsr));
	handler_mxcsr = mxcsr;
	__asm__ __volatile__("fnstcw %0" : "=m"(cw));
	handler_fpucw = cw;
	__asm__ __volatile__("pushfq; popq %0" : "=r"(flags));
	handler_rflags = flags;
	frame_rsp = frame->rsp;
	for (int i = 1; i <= 100; i++)
		sum += sqrt((double)i);
	handler_sum = sum;
	__asm__ __volatile__(
		"vpcmpeqd %%ymm0, %%ymm0, %%ymm0\n\t"
		"vmovdqa %%ymm0, %%ymm1\n\t" "vmovdqa %%ymm0, %%ymm2\n\t"
		"vmovdqa %%ymm0, %%ymm3\n\t" "vmovdqa %%ymm0, %%ymm4\n\t"
		"vmovdqa %%ymm0, %%ymm5\n\t" "vmovdqa %%ymm0, %%ymm6\n\t"
		"vmovdqa %%ymm0, %%ymm7\n\t" "vmovdqa %%ymm0, %%ymm8\n\t"
		"vmovdqa %%ymm0, %%ymm9\n\t" "vmovdqa %%ymm0, %%ymm10\n\t"
		"vmovdqa %%ymm0, %%ymm11\n\t" "vmovdqa %%ymm0, %%ymm12\n\t"
		"vmovdqa %%ymm0, %%ymm13\n\t" "vmovdqa %%ymm0, %%ymm14\n\t"
		"vmovdqa %%ymm0, %%ymm15\n\t"
		"fldz\n\t" "fldz\n\t" "fldz\n\t"
		"ldmxcsr %0\n\t"
		: : "m"((unsigned int){ 0x3f80 })
		: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
		  "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
		  "xmm15", "st", "st(1)", "st(2)", "memory");
	seen = 1;
}

struct snapshot {
	uint8_t ymm_in[16][32];
	uint8_t ymm_out[16][32];
	uint64_t gpr_out[9];
	uint64_t rsp_before;
	uint64_t rflags_out;
	uint32_t mxcsr_out;
	uint16_t fpucw_out;
	uint16_t pad;
	double st0_out;
};

/*
 * Loads every vector register, the caller-saved general registers, the x87
 * stack, MXCSR and DF with known values, sends a self-interrupt, spins
 * until the handler ran, and stores what is left.
 */
static void interrupted(struct snapshot *s, unsigned int index)
{
	register volatile int *flag __asm__("r12") = &seen;
	unsigned int mxcsr_in = 0x7f80;	/* round toward zero, exceptions masked */
	unsigned short cw_in = 0x027f;	/* x87 at double precision */

	__asm__ __volatile__(
		"ldmxcsr %[mx]\n\t"
		"fldcw %[cw]\n\t"
		"fldpi\n\t"
		"vmovdqu 0(%%rbx), %%ymm0\n\t"   "vmovdqu 32(%%rbx), %%ymm1\n\t"
		"vmovdqu 64(%%rbx), %%ymm2\n\t"  "vmovdqu 96(%%rbx), %%ymm3\n\t"
		"vmovdqu 128(%%rbx), %%ymm4\n\t" "vmovdqu 160(%%rbx), %%ymm5\n\t"
		"vmovdqu 192(%%rbx), %%ymm6\n\t" "vmovdqu 224(%%rbx), %%ymm7\n\t"
		"vmovdqu 256(%%rbx), %%ymm8\n\t" "vmovdqu 288(%%rbx), %%ymm9\n\t"
		"vmovdqu 320(%%rbx), %%ymm10\n\t" "vmovdqu 352(%%rbx), %%ymm11\n\t"
		"vmovdqu 384(%%rbx), %%ymm12\n\t" "vmovdqu 416(%%rbx), %%ymm13\n\t"
		"vmovdqu 448(%%rbx), %%ymm14\n\t" "vmovdqu 480(%%rbx), %%ymm15\n\t"
		"movq $0x1111111111111111, %%rcx\n\t"
		"movq $0x2222222222222222, %%rdx\n\t"
		"movq $0x3333333333333333, %%rsi\n\t"
		"movq $0x4444444444444444, %%rdi\n\t"
		"movq $0x8888888888888888, %%r8\n\t"
		"movq $0x9999999999999999, %%r9\n\t"
		"movq $0xaaaaaaaaaaaaaaaa, %%r10\n\t"
		"movq $0xbbbbbbbbbbbbbbbb, %%r11\n\t"
		"movq %%rsp, 1096(%%rbx)\n\t"
		"std\n\t"
		"senduipi %%rax\n\t"
		"1: cmpl $0, (%%r12)\n\t"
		"je 1b\n\t"
		"pushfq\n\t"
		"popq 1104(%%rbx)\n\t"
		"cld\n\t"
		"vmovdqu %%ymm0, 512(%%rbx)\n\t"   "vmovdqu %%ymm1, 544(%%rbx)\n\t"
		"vmovdqu %%ymm2, 576(%%rbx)\n\t"   "vmovdqu %%ymm3, 608(%%rbx)\n\t"
		"vmovdqu %%ymm4, 640(%%rbx)\n\t"   "vmovdqu %%ymm5, 672(%%rbx)\n\t"
		"vmovdqu %%ymm6, 704(%%rbx)\n\t"   "vmovdqu %%ymm7, 736(%%rbx)\n\t"
		"vmovdqu %%ymm8, 768(%%rbx)\n\t"   "vmovdqu %%ymm9, 800(%%rbx)\n\t"
		"vmovdqu %%ymm10, 832(%%rbx)\n\t"  "vmovdqu %%ymm11, 864(%%rbx)\n\t"
		"vmovdqu %%ymm12, 896(%%rbx)\n\t"  "vmovdqu %%ymm13, 928(%%rbx)\n\t"
		"vmovdqu %%ymm14, 960(%%rbx)\n\t"  "vmovdqu %%ymm15, 992(%%rbx)\n\t"
		"movq %%rcx, 1024(%%rbx)\n\t"
		"movq %%rdx, 1032(%%rbx)\n\t"
		"movq %%rsi, 1040(%%rbx)\n\t"
		"movq %%rdi, 1048(%%rbx)\n\t"
		"movq %%r8, 1056(%%rbx)\n\t"
		"movq %%r9, 1064(%%rbx)\n\t"
		"movq %%r10, 1072(%%rbx)\n\t"
		"movq %%r11, 1080(%%rbx)\n\t"
		"movq %%rax, 1088(%%rbx)\n\t"
		"stmxcsr 1112(%%rbx)\n\t"
		"fnstcw 1116(%%rbx)\n\t"
		"fstpl 1120(%%rbx)\n\t"
		"vzeroupper\n\t"
		: "+r"(flag)
		: "b"(s), "a"((uint64_t)index), [mx] "m"(mxcsr_in), [cw] "m"(cw_in)
		: "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11",
		  "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
		  "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
		  "xmm15", "cc", "memory");
	/* Back to the defaults for the C code that follows. */
	__asm__ __volatile__("ldmxcsr %0" : : "m"((unsigned int){ 0x1f80 }));
	__asm__ __volatile__("fldcw %0" : : "m"((unsigned short){ 0x037f }));
}

_Static_assert(offsetof(struct snapshot, ymm_out) == 512, "layout");
_Static_assert(offsetof(struct snapshot, gpr_out) == 1024, "layout");
_Static_assert(offsetof(struct snapshot, rsp_before) == 1096, "layout");
_Static_assert(offsetof(struct snapshot, rflags_out) == 1104, "layout");
_Static_assert(offsetof(struct snapshot, mxcsr_out) == 1112, "layout");
_Static_assert(offsetof(struct snapshot, fpucw_out) == 1116, "layout");
_Static_assert(offsetof(struct snapshot, st0_out) == 1120, "layout");

static bool gprs_kept(const struct snapshot *s, unsigned int index)
{
	static const uint64_t want[9] = {
		0x1111111111111111, 0x2222222222222222, 0x3333333333333333,
		0x4444444444444444, 0x8888888888888888, 0x9999999999999999,
		0xaaaaaaaaaaaaaaaa, 0xbbbbbbbbbbbbbbbb, 0,
	};

	for (int i = 0; i < 8; i++)
		if (s->gpr_out[i] != want[i])
			return false;
	return s->gpr_out[8] == index;
}

TEST(a_handler_may_use_any_register_and_the_interrupted_code_never_knows)
{
	static struct snapshot s;
	double want = 0;
	int idx;

	if (!__builtin_cpu_supports("avx"))
		SKIP(return, "no AVX");
	for (int i = 1; i <= 100; i++)
		want += sqrt((double)i);
	for (int r = 0; r < 16; r++)
		for (int b = 0; b < 32; b++)
			s.ymm_in[r][b] = (uint8_t)(r * 32 + b + 1);
	ASSERT_EQ(0, uintr_set_handler(9, clobber));
	START_OR_SKIP(NULL, 0);
	idx = uintr_register_self(9);
	ASSERT_LE(0, idx);
	uintr_unblock();
	interrupted(&s, (unsigned int)idx);

	EXPECT_EQ(0, memcmp(s.ymm_in, s.ymm_out, sizeof(s.ymm_in)));
	EXPECT_TRUE(gprs_kept(&s, (unsigned int)idx));
	/* DF set before, still set after; clear inside the handler. */
	EXPECT_EQ(0x400UL, s.rflags_out & 0x400);
	EXPECT_EQ(0UL, handler_rflags & 0x400);
	EXPECT_EQ(0x7f80U, s.mxcsr_out & 0xffff);
	EXPECT_EQ(0x1f80U, handler_mxcsr & 0xffff);
	EXPECT_EQ(0x027f, s.fpucw_out);
	EXPECT_EQ(0x037f, handler_fpucw);
	EXPECT_EQ(M_PI, s.st0_out);
	EXPECT_EQ(want, handler_sum);
	/* The frame's RSP is the interrupted one. */
	EXPECT_EQ(s.rsp_before, frame_rsp);
	EXPECT_NE(0UL, uintr_frame_size());
}

/* Overwrites the AVX-512 state the SSE/AVX test does not reach. */
static void __attribute__((target("avx512f,avx512bw")))
clobber_avx512(unsigned int vector, struct uintr_frame *frame)
{
	__asm__ __volatile__("vpternlogd $0xff, %%zmm16, %%zmm16, %%zmm16\n\t"
			     "vpternlogd $0xff, %%zmm31, %%zmm31, %%zmm31\n\t"
			     "kxnorq %%k1, %%k1, %%k1\n\t"
			     "vpternlogd $0xff, %%zmm5, %%zmm5, %%zmm5\n\t"
			     : : : "xmm16", "xmm31", "xmm5", "k1", "memory");
	seen = 1;
}

/*
 * zmm16 and zmm31 (Hi16_ZMM), the upper half of zmm5 (ZMM_Hi256) and k1
 * (opmask) loaded, a self-interrupt taken, and what is left stored.
 */
static uint64_t __attribute__((target("avx512f,avx512bw")))
interrupted_avx512(uint8_t in[3][64], uint8_t out[3][64], uint64_t k_in, unsigned int index)
{
	register volatile int *flag __asm__("r12") = &seen;
	uint64_t k_out;

	__asm__ __volatile__(
		"vmovdqu64 0(%%rsi), %%zmm16\n\t"
		"vmovdqu64 64(%%rsi), %%zmm31\n\t"
		"vmovdqu64 128(%%rsi), %%zmm5\n\t"
		"kmovq %[k], %%k1\n\t"
		"senduipi %%rax\n\t"
		"1: cmpl $0, (%%r12)\n\t"
		"je 1b\n\t"
		"vmovdqu64 %%zmm16, 0(%%rdi)\n\t"
		"vmovdqu64 %%zmm31, 64(%%rdi)\n\t"
		"vmovdqu64 %%zmm5, 128(%%rdi)\n\t"
		"kmovq %%k1, %[ko]\n\t"
		"vzeroupper\n\t"
		: "+r"(flag), [ko] "=m"(k_out)
		: "S"(in), "D"(out), "a"((uint64_t)index), [k] "m"(k_in)
		: "xmm16", "xmm31", "xmm5", "k1", "cc", "memory");
	return k_out;
}

TEST(a_handler_keeps_the_interrupted_avx512_state)
{
	static uint8_t in[3][64], out[3][64];
	uint64_t k_in = 0x0123456789abcdefULL, k_out;
	int idx;

	if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw"))
		SKIP(return, "no AVX-512");
	for (int r = 0; r < 3; r++)
		for (int b = 0; b < 64; b++)
			in[r][b] = (uint8_t)(r * 64 + b + 7);
	ASSERT_EQ(0, uintr_set_handler(10, clobber_avx512));
	START_OR_SKIP(NULL, 0);
	idx = uintr_register_self(10);
	ASSERT_LE(0, idx);
	seen = 0;
	uintr_unblock();
	k_out = interrupted_avx512(in, out, k_in, (unsigned int)idx);
	EXPECT_EQ(0, memcmp(in, out, sizeof(in)));
	EXPECT_EQ(k_in, k_out);
}

/* UIF outlives a receiver; the library still starts each one blocked. */
TEST(a_receiver_registered_again_starts_blocked)
{
	START_OR_SKIP(NULL, 0);
	uintr_unblock();
	EXPECT_EQ(1, uintr_unblocked());
	ASSERT_EQ(0, uintr_unregister_receiver());
	ASSERT_EQ(0, uintr_register_receiver(NULL, 0));
	EXPECT_EQ(0, uintr_unblocked());
	ASSERT_EQ(0, uintr_unregister_receiver());
}

static void note_stack(unsigned int vector, struct uintr_frame *frame)
{
	int local;

	handler_local = (uintptr_t)&local;
	hits[vector]++;
}

TEST(handlers_run_on_the_alternate_stack)
{
	static char stack[64 * 1024] __attribute__((aligned(64)));
	int idx;

	ASSERT_EQ(0, uintr_set_handler(1, note_stack));
	START_OR_SKIP(stack, sizeof(stack));
	idx = uintr_register_self(1);
	ASSERT_LE(0, idx);
	uintr_unblock();
	uintr_send(idx);
	ASSERT_TRUE(spin_until(&hits[1], 1));
	EXPECT_LE((uintptr_t)stack, handler_local);
	EXPECT_GT((uintptr_t)stack + sizeof(stack), handler_local);
}

TEST(blocking_nests_and_the_outermost_restore_delivers)
{
	int idx, outer, inner;

	ASSERT_EQ(0, uintr_set_handler(2, count));
	START_OR_SKIP(NULL, 0);
	idx = uintr_register_self(2);
	ASSERT_LE(0, idx);
	/* A new receiver starts blocked. */
	EXPECT_EQ(0, uintr_unblocked());
	uintr_unblock();
	outer = uintr_block();
	inner = uintr_block();
	EXPECT_EQ(1, outer);
	EXPECT_EQ(0, inner);
	uintr_send(idx);
	for (int i = 0; i < 100000; i++)
		__builtin_ia32_pause();
	uintr_restore(inner);
	EXPECT_EQ(0UL, hits[2]);
	EXPECT_EQ(0, uintr_unblocked());
	uintr_restore(outer);
	EXPECT_TRUE(spin_until(&hits[2], 1));
	EXPECT_EQ(1, uintr_unblocked());
}

static struct uintr_timer timer;
static volatile int64_t expiries;

/* A periodic timer runs on once acked: the handler does it each time. */
static void tick(unsigned int vector, struct uintr_frame *frame)
{
	int64_t n = uintr_timer_ack(&timer);

	hits[vector]++;
	if (n > 0)
		expiries += n;
}

TEST(a_library_timer_interrupts_periodically_and_wait_returns_for_it)
{
	int vfd;

	ASSERT_EQ(0, uintr_set_handler(5, tick));
	START_OR_SKIP(NULL, 0);
	vfd = uintr_vector_fd(5, 0);
	ASSERT_LE(0, vfd);
	ASSERT_EQ(0, uintr_timer_start(&timer, vfd, 2000000, 2000000, 0));
	uintr_unblock();
	while (hits[5] < 3)
		ASSERT_EQ(0, uintr_wait(2000000000LL));
	EXPECT_LE(3, expiries);
	uintr_block();
	ASSERT_EQ(0, uintr_timer_destroy(&timer));
	EXPECT_EQ(-1, timer.timer_fd);
	close(vfd);
}

struct poster {
	pid_t reader;
	int vfd;
	int rc;
};

/* Sends once, when the reader sleeps in read() of its counting fd. */
static void *post_when_asleep(void *arg)
{
	struct poster *p = arg;
	int idx = uintr_register_sender(p->vfd);

	if (idx < 0) {
		p->rc = errno;
		return NULL;
	}
	for (int i = 0; i < 200000 && uintr_thread_state(p->reader) != 'S'; i++)
		usleep(100);
	uintr_send((unsigned int)idx);
	p->rc = 0;
	return NULL;
}

TEST(a_counting_fd_reads_through_the_library)
{
	struct poster p = { .reader = gettid() };
	pthread_t th;
	uint64_t c = 0;

	START_OR_SKIP(NULL, 0);
	p.vfd = uintr_vector_fd(6, UINTR_VECTOR_FD_POLL);
	ASSERT_LE(0, p.vfd);
	ASSERT_EQ(0, pthread_create(&th, NULL, post_when_asleep, &p));
	EXPECT_EQ(1, uintr_read_count(p.vfd, &c));
	EXPECT_EQ(1UL, c);
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(0, p.rc);
	ASSERT_EQ(0, uintr_unregister_receiver());
	/* The receiver is gone and nothing is left: end of file. */
	EXPECT_EQ(0, uintr_read_count(p.vfd, &c));
	close(p.vfd);
}

/* UINTR_HANDLER_WAKE through the library: a timer interrupts a read(). */
TEST(a_waking_receiver_is_interrupted_in_read)
{
	int fds[2], vfd, e;
	char c;

	ASSERT_EQ(0, uintr_set_handler(9, count));
	hits[9] = 0;
	e = uintr_register_receiver_flags(NULL, 0, UINTR_HANDLER_WAKE) ? errno : 0;
	if (e == EOPNOTSUPP || e == ENOENT || e == ENODEV)
		SKIP(return, "no user interrupts here (%s)", strerror(e));
	ASSERT_EQ(0, e);
	ASSERT_EQ(0, pipe(fds));
	vfd = uintr_vector_fd(9, 0);
	ASSERT_LE(0, vfd);
	ASSERT_EQ(0, uintr_timer_start(&timer, vfd, 20000000, 0, 0));
	uintr_unblock();
	EXPECT_EQ(-1, read(fds[0], &c, 1));
	EXPECT_EQ(EINTR, errno);
	EXPECT_EQ(1UL, hits[9]);
	uintr_block();
	ASSERT_EQ(0, uintr_timer_destroy(&timer));
	ASSERT_EQ(0, uintr_unregister_receiver());
	/* RESTART alone means nothing. */
	EXPECT_EQ(-1, uintr_register_receiver_flags(NULL, 0, UINTR_HANDLER_RESTART));
	EXPECT_EQ(EINVAL, errno);
	close(vfd);
	close(fds[0]);
	close(fds[1]);
}

TEST(every_failure_is_an_errno)
{
	struct uintr_timer t;
	uint64_t c;

	errno = 0;
	EXPECT_EQ(-1, uintr_set_handler(64, count));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, uintr_unregister_sender(-1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, uintr_timer_start(&t, 0, 0, 0, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, uintr_register_receiver((void *)4096, 16));
	EXPECT_TRUE(errno == EINVAL || errno == EOPNOTSUPP);
	EXPECT_EQ(-1, uintr_read_count(-1, &c));
	EXPECT_EQ(EBADF, errno);
	if (uintr_device() < 0)
		SKIP(return, "no /dev/uintr: %s", strerror(errno));
	/* Not a receiver. */
	EXPECT_EQ(-1, uintr_wait(0));
	EXPECT_TRUE(errno == EINVAL || errno == EOPNOTSUPP);
	EXPECT_EQ(-1, uintr_vector_fd(1, 0));
	EXPECT_TRUE(errno == EINVAL || errno == EOPNOTSUPP);
	EXPECT_EQ(-1, uintr_unregister_receiver());
	EXPECT_TRUE(errno == EINVAL || errno == EOPNOTSUPP);
	EXPECT_EQ(-1, uintr_register_sender(0));
	EXPECT_TRUE(errno == EINVAL || errno == EOPNOTSUPP);
	EXPECT_EQ(-1, uintr_watch_fd(0, 0, 0));
	EXPECT_TRUE(errno == EINVAL || errno == EOPNOTSUPP);
}

TEST_HARNESS_MAIN
