// SPDX-License-Identifier: GPL-2.0
/*
 * Delivery of user interrupts: to self, between threads of one process,
 * with the receiver spinning or blocked in UINTR_WAIT.  Every interrupt
 * sent is received exactly once.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include "uintr_test.h"
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
		switch (round++ % 3) {
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
