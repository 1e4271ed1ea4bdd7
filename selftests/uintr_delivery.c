// SPDX-License-Identifier: GPL-2.0
/*
 * Delivery of user interrupts: to self, between threads of one process,
 * with the receiver spinning or blocked in UINTR_WAIT.  Every interrupt
 * sent is received exactly once.
 */
#include "uintr_test.h"
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include "kselftest_harness.h"

/* Yield until *counter reaches want or ms milliseconds passed. */
static bool wait_count(volatile uint64_t *counter, uint64_t want, long ms)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (*counter < want) {
		sched_yield();
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 > ms)
			return false;
	}
	return true;
}

FIXTURE(recv) {
	int dev;
};

FIXTURE_SETUP(recv)
{
	self->dev = -1;
	if (!uintr_kernel_supported())
		SKIP(return, "no user interrupts in this kernel or CPU");
	self->dev = uintr_receiver_start();
	ASSERT_LE(0, self->dev);
}

FIXTURE_TEARDOWN(recv)
{
	uintr_receiver_stop(self->dev);
}

TEST_F(recv, self_ipi_is_received_once)
{
	struct uintr_self_args s = { .vector = 5 };
	int idx;

	idx = ioctl(self->dev, UINTR_REGISTER_SELF, &s);
	ASSERT_LE(0, idx);
	_senduipi(idx);
	uintr_spin_until(&uintr_total, 1);
	EXPECT_EQ(1U, uintr_received[5]);
	EXPECT_EQ(1U, uintr_total);
}

TEST_F(recv, self_ipi_held_while_uif_clear)
{
	struct uintr_self_args s = { .vector = 9 };
	int idx;

	idx = ioctl(self->dev, UINTR_REGISTER_SELF, &s);
	ASSERT_LE(0, idx);
	_clui();
	_senduipi(idx);
	for (volatile int i = 0; i < 100000; i++)
		;
	EXPECT_EQ(0U, uintr_total);
	_stui();
	uintr_spin_until(&uintr_total, 1);
	EXPECT_EQ(1U, uintr_received[9]);
}

struct sender_ctx {
	int dev;
	int vfd;
	int count;
	int err;
	long waits;
};

static void *sender_thread(void *arg)
{
	struct sender_ctx *ctx = arg;
	struct uintr_sender_args s = { .fd = ctx->vfd };
	int idx = ioctl(ctx->dev, UINTR_REGISTER_SENDER, &s);

	if (idx < 0) {
		ctx->err = errno;
		return NULL;
	}
	for (int i = 0; i < ctx->count; i++) {
		_senduipi(idx);
		/* Wait for it so that posts do not coalesce. */
		uintr_spin_until(&uintr_total, i + 1);
	}
	return NULL;
}

TEST_F(recv, thread_to_thread_spinning_receiver)
{
	struct uintr_vector_args v = { .vector = 3 };
	struct sender_ctx ctx = { .dev = self->dev, .count = 100 };
	pthread_t t;

	ctx.vfd = ioctl(self->dev, UINTR_CREATE_VECTOR_FD, &v);
	ASSERT_LE(0, ctx.vfd);
	ASSERT_EQ(0, pthread_create(&t, NULL, sender_thread, &ctx));
	uintr_spin_until(&uintr_total, ctx.count);
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, ctx.err);
	EXPECT_EQ((uint64_t)ctx.count, uintr_received[3]);
	EXPECT_EQ((uint64_t)ctx.count, uintr_total);
	close(ctx.vfd);
}

static void *post_later(void *arg)
{
	struct sender_ctx *ctx = arg;
	struct uintr_sender_args s = { .fd = ctx->vfd };
	int idx = ioctl(ctx->dev, UINTR_REGISTER_SENDER, &s);

	if (idx < 0) {
		ctx->err = errno;
		return NULL;
	}
	uintr_await_waiter(ctx->waits);
	_senduipi(idx);
	return NULL;
}

TEST_F(recv, blocked_receiver_wakes_and_handler_ran_before_return)
{
	struct uintr_vector_args v = { .vector = 11 };
	struct uintr_wait_args w = { 0 };
	struct sender_ctx ctx = { .dev = self->dev, .waits = uintr_stat("waits") };
	pthread_t t;

	ctx.vfd = ioctl(self->dev, UINTR_CREATE_VECTOR_FD, &v);
	ASSERT_LE(0, ctx.vfd);
	ASSERT_EQ(0, pthread_create(&t, NULL, post_later, &ctx));
	ASSERT_EQ(0, ioctl(self->dev, UINTR_WAIT, &w));
	/* Delivered on the way out of the ioctl, before this line. */
	EXPECT_EQ(1U, uintr_received[11]);
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, ctx.err);
	close(ctx.vfd);
}

TEST_F(recv, wait_returns_at_once_when_already_pending)
{
	struct uintr_self_args s = { .vector = 12 };
	struct uintr_wait_args w = { .flags = UINTR_WAIT_TIMEOUT, .timeout_ns = 5000000000LL };
	int idx;

	idx = ioctl(self->dev, UINTR_REGISTER_SELF, &s);
	ASSERT_LE(0, idx);
	_clui();
	_senduipi(idx);
	EXPECT_EQ(0, ioctl(self->dev, UINTR_WAIT, &w));
	EXPECT_EQ(0U, uintr_total);
	_stui();
	uintr_spin_until(&uintr_total, 1);
	EXPECT_EQ(1U, uintr_received[12]);
	/*
	 * The wait disarmed UINV without leaving the CPU; the way out armed
	 * it again, and system calls that follow keep it armed: the post is
	 * delivered at once, not at the next context switch.
	 */
	_senduipi(idx);
	for (int i = 0; i < 3; i++)
		syscall(SYS_getppid);
	for (int i = 0; i < 20000 && uintr_total < 2; i++)
		__builtin_ia32_pause();
	EXPECT_EQ(2U, uintr_received[12]);
}

static void on_usr1(int sig)
{
}

struct signal_ctx {
	pthread_t target;
	long waits;
};

static void *signal_later(void *arg)
{
	struct signal_ctx *ctx = arg;

	uintr_await_waiter(ctx->waits);
	pthread_kill(ctx->target, SIGUSR1);
	return NULL;
}

TEST_F(recv, wait_is_interrupted_by_a_signal)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct uintr_wait_args w = { 0 };
	struct signal_ctx ctx = { .target = pthread_self(), .waits = uintr_stat("waits") };
	pthread_t t;

	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	ASSERT_EQ(0, pthread_create(&t, NULL, signal_later, &ctx));
	EXPECT_EQ(-1, ioctl(self->dev, UINTR_WAIT, &w));
	EXPECT_EQ(EINTR, errno);
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0U, uintr_total);
}

static volatile int usr1_ran;

static void on_usr1_count(int sig)
{
	usr1_ran++;
}

/*
 * Any handler that runs ends the wait with EINTR, SA_RESTART or not: a
 * periodic signal (a profiler's SIGPROF) cannot keep a timed wait from
 * expiring by restarting it again and again.
 */
TEST_F(recv, wait_fails_with_eintr_after_a_sa_restart_handler)
{
	struct sigaction sa = { .sa_handler = on_usr1_count, .sa_flags = SA_RESTART };
	struct uintr_wait_args w = { .timeout_ns = 500000000LL, .flags = UINTR_WAIT_TIMEOUT };
	struct signal_ctx ctx = { .target = pthread_self(), .waits = uintr_stat("waits") };
	pthread_t t;

	usr1_ran = 0;
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	ASSERT_EQ(0, pthread_create(&t, NULL, signal_later, &ctx));
	EXPECT_EQ(-1, ioctl(self->dev, UINTR_WAIT, &w));
	EXPECT_EQ(EINTR, errno);
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(1, usr1_ran);
	signal(SIGUSR1, SIG_DFL);
}

/*
 * Being stopped and continued runs no handler: UINTR_WAIT restarts instead
 * of failing with EINTR, and ends at its timeout.
 */
TEST(wait_restarts_after_stop_and_continue)
{
	int ready[2], status;
	pid_t child;

	if (!uintr_kernel_supported())
		SKIP(return, "no user interrupts in this kernel or CPU");
	ASSERT_EQ(0, pipe(ready));
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		struct uintr_wait_args w = { .timeout_ns = 2000000000LL,
					     .flags = UINTR_WAIT_TIMEOUT };
		int dev = uintr_receiver_start();

		if (dev < 0 || write(ready[1], "x", 1) != 1)
			_exit(100);
		if (!ioctl(dev, UINTR_WAIT, &w))
			_exit(101);
		_exit(errno == ETIMEDOUT ? 0 : errno);
	}
	ASSERT_EQ(1, read(ready[0], &(char){ 0 }, 1));
	for (int i = 0; i < 200000 && uintr_proc_state(child) != 'S'; i++)
		usleep(100);
	ASSERT_EQ('S', uintr_proc_state(child));
	ASSERT_EQ(0, kill(child, SIGSTOP));
	ASSERT_EQ(child, waitpid(child, &status, WUNTRACED));
	ASSERT_TRUE(WIFSTOPPED(status));
	usleep(100000);
	ASSERT_EQ(0, kill(child, SIGCONT));
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("the wait ended with errno %d",
						 WEXITSTATUS(status));
	close(ready[0]);
	close(ready[1]);
}

/*
 * A restart that no wait takes is forgotten: here the restarted call finds
 * its arguments changed while it was stopped and fails with EINVAL before
 * it waits.  The next wait is a new one, with its own timeout, and does not
 * inherit the old deadline (which has passed by then).
 */
TEST(a_restart_that_fails_leaves_nothing_behind)
{
	struct uintr_wait_args *w;
	int ready[2], status;
	pid_t child;

	if (!uintr_kernel_supported())
		SKIP(return, "no user interrupts in this kernel or CPU");
	w = mmap(NULL, sizeof(*w), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, w);
	*w = (struct uintr_wait_args){ .timeout_ns = 300000000LL, .flags = UINTR_WAIT_TIMEOUT };
	ASSERT_EQ(0, pipe(ready));
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		struct uintr_wait_args again = { .timeout_ns = 1000000000LL,
						 .flags = UINTR_WAIT_TIMEOUT };
		struct timespec t0, t1;
		int dev = uintr_receiver_start();
		long ms;

		if (dev < 0 || write(ready[1], "x", 1) != 1)
			_exit(100);
		if (!ioctl(dev, UINTR_WAIT, w) || errno != EINVAL)
			_exit(101);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (!ioctl(dev, UINTR_WAIT, &again) || errno != ETIMEDOUT)
			_exit(102);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
		_exit(ms >= 900 ? 0 : 103);
	}
	ASSERT_EQ(1, read(ready[0], &(char){ 0 }, 1));
	for (int i = 0; i < 200000 && uintr_proc_state(child) != 'S'; i++)
		usleep(100);
	ASSERT_EQ('S', uintr_proc_state(child));
	ASSERT_EQ(0, kill(child, SIGSTOP));
	ASSERT_EQ(child, waitpid(child, &status, WUNTRACED));
	ASSERT_TRUE(WIFSTOPPED(status));
	/* Past the first deadline, and the restarted call will refuse these. */
	usleep(400000);
	w->reserved = 1;
	ASSERT_EQ(0, kill(child, SIGCONT));
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("exit %d: 101 the restart did not fail, "
						 "102 no timeout, 103 the old deadline",
						 WEXITSTATUS(status));
	munmap(w, sizeof(*w));
	close(ready[0]);
	close(ready[1]);
}

/*
 * In a child: once process @me sleeps, stop it, post through entry @idx
 * while it is stopped, and continue it.
 */
static void stop_post_continue(pid_t me, int idx)
{
	while (uintr_proc_state(me) != 'S')
		usleep(1000);
	kill(me, SIGSTOP);
	while (uintr_proc_state(me) != 'T')
		usleep(1000);
	_senduipi(idx);
	usleep(100000);
	kill(me, SIGCONT);
}

/* The /dev/uintr fd the ioctl handler uses. */
static int ioctl_handler_dev = -1;
static volatile unsigned long ioctl_handler_runs;

/*
 * A handler that makes a /dev/uintr ioctl of its own (removing an index
 * that is not in use, EINVAL), with a raw system call: a handler built
 * with general registers only must not call into the C library.
 */
static void __attribute__((interrupt, target("general-regs-only")))
ioctl_handler(struct __uintr_frame *frame, unsigned long long vector)
{
	long ret;

	asm volatile("syscall" : "=a"(ret)
		     : "a"(SYS_ioctl), "D"(ioctl_handler_dev), "S"(UINTR_UNREGISTER_SENDER),
		       "d"(255UL)
		     : "rcx", "r11", "memory");
	ioctl_handler_runs++;
}

/*
 * The restart of a stopped wait belongs to the wait: a post during the
 * stop runs the handler first, and an ioctl the handler makes must not
 * take the restart, or the restarted wait would sleep its whole new
 * timeout although the handler already ran.
 */
TEST(a_handler_ioctl_before_the_restart_does_not_take_it)
{
	struct uintr_wait_args w = { .timeout_ns = 5000000000LL, .flags = UINTR_WAIT_TIMEOUT };
	struct timespec t0, t1;
	int dev, vfd, status, ret;
	pid_t me = getpid(), child;
	long ms;

	if (!uintr_kernel_supported())
		SKIP(return, "no user interrupts in this kernel or CPU");
	dev = uintr_open();
	ASSERT_LE(0, dev);
	ioctl_handler_dev = dev;
	ASSERT_EQ(0, uintr_register(dev, ioctl_handler));
	vfd = uintr_vector_fd(dev, 2);
	ASSERT_LE(0, vfd);
	_stui();
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		int idx = uintr_register_sender(dev, vfd);

		if (idx < 0)
			_exit(1);
		stop_post_continue(me, idx);
		_exit(0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = ioctl(dev, UINTR_WAIT, &w);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	EXPECT_EQ(0, ret) TH_LOG("errno %d after %ld ms", errno, ms);
	EXPECT_GT(3000, ms);
	EXPECT_EQ(1U, ioctl_handler_runs);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	_clui();
	close(vfd);
	close(dev);
}

/*
 * A post made while the waiting process is stopped reaches the handler on
 * the way back, before the wait is made again: the restarted wait returns
 * at once instead of sleeping on with nothing left to wait for.
 */
TEST_F(recv, a_post_during_a_stop_ends_the_restarted_wait)
{
	struct uintr_wait_args w = { .timeout_ns = 5000000000LL, .flags = UINTR_WAIT_TIMEOUT };
	struct timespec t0, t1;
	int vfd, status, ret;
	pid_t me = getpid(), child;
	long ms;

	vfd = uintr_vector_fd(self->dev, 2);
	ASSERT_LE(0, vfd);
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		int idx = uintr_register_sender(self->dev, vfd);

		if (idx < 0)
			_exit(1);
		stop_post_continue(me, idx);
		_exit(0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = ioctl(self->dev, UINTR_WAIT, &w);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	EXPECT_EQ(0, ret) TH_LOG("errno %d after %ld ms", errno, ms);
	EXPECT_GT(3000, ms);
	EXPECT_EQ(1U, uintr_received[2]);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	close(vfd);
}

/*
 * There is no fixed number of waiters per CPU: far more than the 16 per
 * CPU an earlier design allowed block in UINTR_WAIT on one CPU, and each
 * wakes for its post.
 */
#define MANY_WAITERS 40

struct many_waiter {
	int dev;
	int vfd;
	volatile int ready;
	volatile int res;	/* -1 while waiting, then 0 or errno */
};

static void *many_waiter_thread(void *arg)
{
	struct uintr_wait_args w = { .timeout_ns = 30000000000LL, .flags = UINTR_WAIT_TIMEOUT };
	struct many_waiter *m = arg;

	m->res = -1;
	if (uintr_register(m->dev, uintr_count_handler)) {
		m->res = errno;
		m->ready = 1;
		return NULL;
	}
	m->vfd = uintr_vector_fd(m->dev, 3);
	_stui();
	m->ready = 1;
	m->res = ioctl(m->dev, UINTR_WAIT, &w) ? errno : 0;
	for (int i = 0; i < 100000; i++)
		__builtin_ia32_pause();
	_clui();
	ioctl(m->dev, UINTR_UNREGISTER_HANDLER, 0);
	return NULL;
}

TEST_F_TIMEOUT(recv, waiters_are_not_limited_per_cpu, 300)
{
	struct many_waiter m[MANY_WAITERS];
	pthread_t t[MANY_WAITERS];
	int idx[MANY_WAITERS];
	long waits = uintr_stat("waits");
	cpu_set_t one, old;

	CPU_ZERO(&one);
	CPU_SET(0, &one);
	ASSERT_EQ(0, sched_getaffinity(0, sizeof(old), &old));
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(one), &one));
	for (int i = 0; i < MANY_WAITERS; i++) {
		m[i] = (struct many_waiter){ .dev = self->dev, .vfd = -1 };
		ASSERT_EQ(0, pthread_create(&t[i], NULL, many_waiter_thread, &m[i]));
		while (!m[i].ready)
			sched_yield();
		ASSERT_LE(0, m[i].vfd);
		idx[i] = uintr_register_sender(self->dev, m[i].vfd);
		ASSERT_LE(0, idx[i]);
	}
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(old), &old));
	/* Every one of them blocks, none fails (given 10 s to get there). */
	for (int i = 0; i < 1000 && waits >= 0 &&
	     uintr_stat("waits") < waits + MANY_WAITERS; i++)
		usleep(10000);
	usleep(20000);
	for (int i = 0; i < MANY_WAITERS; i++) {
		EXPECT_EQ(-1, m[i].res) TH_LOG("waiter %d: errno %d", i, m[i].res);
	}
	for (int i = 0; i < MANY_WAITERS; i++)
		_senduipi(idx[i]);
	for (int i = 0; i < MANY_WAITERS; i++) {
		ASSERT_EQ(0, pthread_join(t[i], NULL));
		EXPECT_EQ(0, m[i].res) TH_LOG("waiter %d: errno %d", i, m[i].res);
		ioctl(self->dev, UINTR_UNREGISTER_SENDER, idx[i]);
		close(m[i].vfd);
	}
	EXPECT_EQ((uint64_t)MANY_WAITERS, uintr_received[3]);
}

/*
 * Several receivers (more threads than CPUs), each spinning, yielding or
 * blocked in UINTR_WAIT in turn, and senders posting to all of them: every
 * interrupt sent is received exactly once.
 */
#define STRESS_RECEIVERS 4
#define STRESS_POSTS 200

struct stress {
	int dev;
	int vfd[STRESS_RECEIVERS];
	volatile int ready;
	volatile int stop;
	int err;
};

struct stress_receiver {
	struct stress *st;
	int n;
};

static void *stress_receiver(void *arg)
{
	struct stress_receiver *r = arg;
	struct stress *st = r->st;
	struct uintr_vector_args v = { .vector = 20 + r->n };
	struct uintr_wait_args w = { .flags = UINTR_WAIT_TIMEOUT, .timeout_ns = 2000000 };
	unsigned int round = 0;

	if (uintr_register(st->dev, uintr_count_handler)) {
		st->err = errno;
		return NULL;
	}
	st->vfd[r->n] = ioctl(st->dev, UINTR_CREATE_VECTOR_FD, &v);
	_stui();
	__atomic_add_fetch(&st->ready, 1, __ATOMIC_SEQ_CST);
	while (!st->stop) {
		switch (round++ % 4) {
		case 0:
			for (int i = 0; i < 2000; i++)
				__builtin_ia32_pause();
			break;
		case 1:
			sched_yield();
			break;
		case 2:
			if (ioctl(st->dev, UINTR_WAIT, &w) && errno != ETIMEDOUT)
				st->err = errno;
			break;
		case 3:		/* posts arrive in the kernel, UINV armed */
			for (int i = 0; i < 50; i++)
				syscall(SYS_getppid);
			break;
		}
	}
	_clui();
	ioctl(st->dev, UINTR_UNREGISTER_HANDLER, 0);
	return NULL;
}

TEST_F(recv, stress_every_post_received_exactly_once)
{
	struct stress st = { .dev = self->dev };
	struct stress_receiver r[STRESS_RECEIVERS];
	pthread_t t[STRESS_RECEIVERS];
	int idx[STRESS_RECEIVERS];

	for (int i = 0; i < STRESS_RECEIVERS; i++) {
		r[i] = (struct stress_receiver){ .st = &st, .n = i };
		ASSERT_EQ(0, pthread_create(&t[i], NULL, stress_receiver, &r[i]));
	}
	while (st.ready < STRESS_RECEIVERS)
		sched_yield();
	ASSERT_EQ(0, st.err);
	for (int i = 0; i < STRESS_RECEIVERS; i++) {
		struct uintr_sender_args s = { .fd = st.vfd[i] };

		ASSERT_LE(0, st.vfd[i]);
		idx[i] = ioctl(self->dev, UINTR_REGISTER_SENDER, &s);
		ASSERT_LE(0, idx[i]);
	}
	for (int n = 1; n <= STRESS_POSTS; n++) {
		for (int i = 0; i < STRESS_RECEIVERS; i++) {
			_senduipi(idx[i]);
			/* One at a time per receiver, so that none coalesce. */
			ASSERT_TRUE(wait_count(&uintr_received[20 + i], n, 10000)) {
				TH_LOG("receiver %d: post %d of %d lost", i, n, STRESS_POSTS);
				st.stop = 1;
			}
		}
	}
	st.stop = 1;
	for (int i = 0; i < STRESS_RECEIVERS; i++) {
		ASSERT_EQ(0, pthread_join(t[i], NULL));
		EXPECT_EQ((uint64_t)STRESS_POSTS, uintr_received[20 + i]);
		close(st.vfd[i]);
	}
	EXPECT_EQ(0, st.err);
	/* Nothing arrived at this thread. */
	EXPECT_EQ((uint64_t)STRESS_POSTS * STRESS_RECEIVERS, uintr_total);
}

TEST_HARNESS_MAIN
