// SPDX-License-Identifier: GPL-2.0
/*
 * Delivery of user interrupts: to self, between threads of one process,
 * with the receiver spinning or blocked in UINTR_WAIT.  Every interrupt
 * sent is received exactly once.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include "uintr_test.h"
#include "kselftest_harness.h"

static void spin_until(volatile uint64_t *counter, uint64_t want)
{
	/* Delivery is asynchronous but must happen before long. */
	for (long i = 0; i < 100000000L && *counter < want; i++)
		__builtin_ia32_pause();
}

FIXTURE(recv) {
	int dev;
};

FIXTURE_SETUP(recv)
{
	if (!uintr_kernel_supported())
		SKIP(return, "no user interrupts in this kernel or CPU");
	memset((void *)uintr_received, 0, sizeof(uintr_received));
	uintr_total = 0;
	self->dev = uintr_open();
	ASSERT_LE(0, self->dev);
	ASSERT_EQ(0, uintr_register(self->dev, uintr_count_handler));
	_stui();
}

FIXTURE_TEARDOWN(recv)
{
	if (self->dev >= 0) {
		_clui();
		ioctl(self->dev, UINTR_UNREGISTER_HANDLER, 0);
		close(self->dev);
	}
}

TEST_F(recv, self_ipi_is_received_once)
{
	struct uintr_self_args s = { .vector = 5 };
	int idx;

	idx = ioctl(self->dev, UINTR_REGISTER_SELF, &s);
	ASSERT_LE(0, idx);
	_senduipi(idx);
	spin_until(&uintr_total, 1);
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
	spin_until(&uintr_total, 1);
	EXPECT_EQ(1U, uintr_received[9]);
}

struct sender_ctx {
	int dev;
	int vfd;
	int count;
	int err;
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
		spin_until(&uintr_total, i + 1);
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
	spin_until(&uintr_total, ctx.count);
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, ctx.err);
	EXPECT_EQ((uint64_t)ctx.count, uintr_received[3]);
	EXPECT_EQ((uint64_t)ctx.count, uintr_total);
	close(ctx.vfd);
}

TEST_HARNESS_MAIN
