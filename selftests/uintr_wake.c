// SPDX-License-Identifier: GPL-2.0
/*
 * UINTR_HANDLER_WAKE: a post to a receiver that sleeps interruptibly in any
 * system call interrupts the call the way a signal does.  The handler runs
 * on the way out; the call then fails with EINTR or, with
 * UINTR_HANDLER_RESTART, is restarted where SA_RESTART would restart it.
 * Without the flag, the post waits until the call returns.
 */
#include "uintr_test.h"
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>
#include "kselftest_harness.h"

/* Milliseconds since @t0. */
static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/*
 * The sender: posts vector fd @vfd's vector @posts times, each time once
 * thread @tid sleeps and after the previous post was handled; then, if
 * @then is set, calls it once @tid sleeps again.
 */
struct poster {
	int dev;
	int vfd;
	pid_t tid;
	int posts;
	void (*then)(struct poster *);
	int pipe_w;
	uint32_t *futex_word;
	/* Each post interrupts the call: wait for its handler. */
	bool handled_each;
	bool failed;
};

static void *poster_fn(void *arg)
{
	struct poster *p = arg;
	int idx = uintr_register_sender(p->dev, p->vfd);

	p->failed = idx < 0;
	for (int i = 0; i < p->posts && !p->failed; i++) {
		if (!uintr_await_sleeping(p->tid)) {
			p->failed = true;
			break;
		}
		_senduipi(idx);
		if (!p->handled_each)
			continue;
		uintr_spin_until(&uintr_total, (uint64_t)i + 1);
		p->failed = uintr_total != (uint64_t)i + 1;
	}
	/* Also after a failure: the thread must not stay blocked. */
	if (p->then) {
		if (!uintr_await_sleeping(p->tid))
			p->failed = true;
		p->then(p);
	}
	return NULL;
}

static void write_a_byte(struct poster *p)
{
	if (write(p->pipe_w, "x", 1) != 1)
		p->failed = true;
}

static void futex_wake_one(struct poster *p)
{
	__atomic_store_n(p->futex_word, 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, p->futex_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static long futex_wait(uint32_t *word, uint32_t val)
{
	return syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

FIXTURE(wake) {
	int dev;
	int vfd;
	pthread_t thread;
	struct poster poster;
	bool started;
};

FIXTURE_VARIANT(wake) {
	uint32_t flags;
};

FIXTURE_VARIANT_ADD(wake, eintr) {
	.flags = UINTR_HANDLER_WAKE,
};

FIXTURE_VARIANT_ADD(wake, restart) {
	.flags = UINTR_HANDLER_WAKE | UINTR_HANDLER_RESTART,
};

FIXTURE_VARIANT_ADD(wake, off) {
	.flags = 0,
};

FIXTURE_SETUP(wake)
{
	self->dev = -1;
	self->started = false;
	if (!uintr_kernel_supported())
		SKIP(return, "no user interrupts in this kernel or CPU");
	self->dev = uintr_receiver_start_flags(variant->flags);
	ASSERT_LE(0, self->dev);
	self->vfd = uintr_vector_fd(self->dev, 7);
	ASSERT_LE(0, self->vfd);
	self->poster = (struct poster){
		.dev = self->dev, .vfd = self->vfd, .tid = gettid(), .posts = 1,
		.handled_each = variant->flags & UINTR_HANDLER_WAKE,
	};
}

FIXTURE_TEARDOWN(wake)
{
	if (self->started)
		pthread_join(self->thread, NULL);
	if (self->dev >= 0)
		close(self->vfd);
	uintr_receiver_stop(self->dev);
}

static void start_poster(struct __test_metadata *_metadata,
			 FIXTURE_DATA(wake) *self)
{
	ASSERT_EQ(0, pthread_create(&self->thread, NULL, poster_fn, &self->poster));
	self->started = true;
}

static void join_poster(struct __test_metadata *_metadata,
			FIXTURE_DATA(wake) *self)
{
	ASSERT_EQ(0, pthread_join(self->thread, NULL));
	self->started = false;
	EXPECT_FALSE(self->poster.failed);
}

TEST_F(wake, nanosleep)
{
	struct timespec t0, req = { .tv_sec = 1, .tv_nsec = 500000000 }, rem = {};
	long ret, ms;

	start_poster(_metadata, self);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = nanosleep(&req, &rem);
	ms = ms_since(&t0);
	/* The handler ran before the call returned to its caller. */
	EXPECT_EQ(1U, uintr_received[7]);
	if (variant->flags & UINTR_HANDLER_WAKE) {
		/*
		 * Restarting means going through the restart block, which the
		 * handler's own calls could overwrite: EINTR either way, as
		 * after a signal handler with SA_RESTART.
		 */
		EXPECT_EQ(-1, ret);
		EXPECT_EQ(EINTR, errno);
		EXPECT_GT(1200, ms);
		EXPECT_TRUE(rem.tv_sec || rem.tv_nsec);
	} else {
		EXPECT_EQ(0, ret);
		EXPECT_LE(1500, ms);
	}
	join_poster(_metadata, self);
}

TEST_F(wake, read_of_an_empty_pipe)
{
	struct timespec t0;
	int fds[2];
	char c;
	long ret;

	ASSERT_EQ(0, pipe(fds));
	self->poster.pipe_w = fds[1];
	/* Unblocks the read where it is not interrupted, or restarted. */
	self->poster.then = write_a_byte;
	start_poster(_metadata, self);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = read(fds[0], &c, 1);
	EXPECT_EQ(1U, uintr_received[7]);
	if ((variant->flags & UINTR_HANDLER_WAKE) &&
	    !(variant->flags & UINTR_HANDLER_RESTART)) {
		EXPECT_EQ(-1, ret);
		EXPECT_EQ(EINTR, errno);
		/* The byte comes later; the next read takes it. */
		ASSERT_EQ(1, read(fds[0], &c, 1));
	} else {
		/* Restarted, or never interrupted: it returns the byte. */
		EXPECT_EQ(1, ret);
	}
	join_poster(_metadata, self);
	close(fds[0]);
	close(fds[1]);
}

TEST_F(wake, futex_wait)
{
	static uint32_t word;
	long ret;

	word = 0;
	self->poster.futex_word = &word;
	self->poster.then = futex_wake_one;
	start_poster(_metadata, self);
	ret = futex_wait(&word, 0);
	EXPECT_EQ(1U, uintr_received[7]);
	if ((variant->flags & UINTR_HANDLER_WAKE) &&
	    !(variant->flags & UINTR_HANDLER_RESTART)) {
		EXPECT_EQ(-1, ret);
		EXPECT_EQ(EINTR, errno);
		/* The wake-up comes later. */
		while (!__atomic_load_n(&word, __ATOMIC_SEQ_CST))
			futex_wait(&word, 0);
	} else {
		/* Restarted, the wait sleeps again until the wake-up. */
		EXPECT_EQ(0, ret);
	}
	join_poster(_metadata, self);
}

TEST_F(wake, epoll_wait)
{
	struct epoll_event ev;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int fds[2];
	long ret;

	ASSERT_LE(0, ep);
	ASSERT_EQ(0, pipe(fds));
	ev = (struct epoll_event){ .events = EPOLLIN };
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, fds[0], &ev));
	self->poster.pipe_w = fds[1];
	self->poster.then = write_a_byte;
	start_poster(_metadata, self);
	ret = epoll_wait(ep, &ev, 1, -1);
	EXPECT_EQ(1U, uintr_received[7]);
	if (variant->flags & UINTR_HANDLER_WAKE) {
		/* Never restarted after a handler, as with signals. */
		EXPECT_EQ(-1, ret);
		EXPECT_EQ(EINTR, errno);
		ret = epoll_wait(ep, &ev, 1, -1);
	}
	EXPECT_EQ(1, ret);
	join_poster(_metadata, self);
	close(ep);
	close(fds[0]);
	close(fds[1]);
}

/* The receiver's own counting fd: a post to its vector ends the read. */
static int counting_fd(int dev, unsigned int vector)
{
	struct uintr_vector_args v = { .vector = vector, .flags = UINTR_VECTOR_FD_POLL };

	return ioctl(dev, UINTR_CREATE_VECTOR_FD, &v);
}

TEST_F(wake, read_of_its_own_counting_fd)
{
	uint64_t count = 0;
	int cfd = counting_fd(self->dev, 8);

	ASSERT_LE(0, cfd);
	/* The post is counted, not handled: do not wait for a handler. */
	self->poster.vfd = cfd;
	self->poster.handled_each = false;
	start_poster(_metadata, self);
	EXPECT_EQ((ssize_t)sizeof(count), read(cfd, &count, sizeof(count)));
	EXPECT_EQ(1U, count);
	EXPECT_EQ(0U, uintr_total);
	join_poster(_metadata, self);
	close(cfd);
}

/* A post for the handler ends a read of its own counting fd like any call. */
struct two_vectors {
	int dev, handler_vfd, counted_vfd;
	pid_t tid;
	bool wake;
	int err;
};

static void *post_handler_then_counted(void *arg)
{
	struct two_vectors *t = arg;
	int h = uintr_register_sender(t->dev, t->handler_vfd);
	int c = uintr_register_sender(t->dev, t->counted_vfd);

	if (h < 0 || c < 0) {
		t->err = errno;
		return NULL;
	}
	if (!uintr_await_sleeping(t->tid))
		t->err = ETIMEDOUT;
	_senduipi(h);
	if (t->wake) {
		/* Interrupted: the handler runs before anything else. */
		uintr_spin_until(&uintr_total, 1);
		if (uintr_total != 1)
			t->err = EPROTO;
	}
	/* Sleeping again (restarted, or never woken): the count ends it. */
	if (!uintr_await_sleeping(t->tid))
		t->err = ETIMEDOUT;
	_senduipi(c);
	return NULL;
}

TEST_F(wake, a_post_for_the_handler_in_a_read_of_its_own_counting_fd)
{
	struct two_vectors t = {
		.dev = self->dev, .handler_vfd = self->vfd, .tid = gettid(),
		.wake = variant->flags & UINTR_HANDLER_WAKE,
	};
	uint64_t count = 0;
	pthread_t th;
	ssize_t n;

	t.counted_vfd = counting_fd(self->dev, 8);
	ASSERT_LE(0, t.counted_vfd);
	ASSERT_EQ(0, pthread_create(&th, NULL, post_handler_then_counted, &t));
	n = read(t.counted_vfd, &count, sizeof(count));
	if ((variant->flags & UINTR_HANDLER_WAKE) &&
	    !(variant->flags & UINTR_HANDLER_RESTART)) {
		EXPECT_EQ(-1, n);
		EXPECT_EQ(EINTR, errno);
		EXPECT_EQ(1U, uintr_received[7]);
		n = read(t.counted_vfd, &count, sizeof(count));
	}
	EXPECT_EQ((ssize_t)sizeof(count), n);
	EXPECT_EQ(1U, count);
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(0, t.err);
	/* Without the flag the handler ran when the read returned. */
	EXPECT_EQ(1U, uintr_received[7]);
	close(t.counted_vfd);
}

/* UINTR_WAIT returns for a post as always: a wake-up is not an EINTR. */
TEST_F(wake, uintr_wait_returns_for_a_post)
{
	struct uintr_wait_args w = { 0 };

	self->poster.handled_each = false;
	start_poster(_metadata, self);
	EXPECT_EQ(0, ioctl(self->dev, UINTR_WAIT, &w));
	EXPECT_EQ(1U, uintr_received[7]);
	join_poster(_metadata, self);
}

/* With UIF clear the post waits, as a blocked signal does. */
TEST_F(wake, not_while_user_interrupts_are_blocked)
{
	struct timespec req = { .tv_nsec = 400000000 };
	int idx = uintr_register_sender(self->dev, self->vfd);

	ASSERT_LE(0, idx);
	_clui();
	/* Post to ourselves: it waits in UIRR. */
	_senduipi(idx);
	EXPECT_EQ(0, nanosleep(&req, NULL));
	EXPECT_EQ(0U, uintr_total);
	_stui();
	EXPECT_EQ(1U, uintr_received[7]);
}

/*
 * The post arrives after the call began and before the thread sleeps: here
 * the thread makes it itself.  Its write fills a one-page pipe, whose
 * read end is watched: the first page wakes the read end, which posts, and
 * then the write waits for room.  The post is in the thread's UIRR by
 * then, where no kernel code saw it arrive.
 */
static void *drain_later(void *arg)
{
	int fd = *(int *)arg;
	char buf[4096];

	sleep(3);
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	return NULL;
}

TEST_F(wake, a_post_between_the_call_and_its_sleep)
{
	static char page[2 * 4096];
	struct uintr_watch_args w = { .vector_fd = self->vfd, .events = EPOLLIN };
	struct timespec t0;
	pthread_t drainer;
	int fds[2], watch;
	long ret, ms;

	ASSERT_EQ(0, pipe2(fds, O_CLOEXEC));
	ASSERT_EQ(4096, fcntl(fds[1], F_SETPIPE_SZ, 4096));
	w.source_fd = fds[0];
	watch = ioctl(self->dev, UINTR_WATCH_FD, &w);
	ASSERT_LE(0, watch);
	ASSERT_EQ(0, pthread_create(&drainer, NULL, drain_later, &fds[0]));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = write(fds[1], page, sizeof(page));
	ms = ms_since(&t0);
	if (variant->flags & UINTR_HANDLER_WAKE) {
		/* Interrupted after the first page: a short write. */
		EXPECT_EQ(4096, ret);
		EXPECT_GT(2500, ms);
	} else {
		EXPECT_EQ((long)sizeof(page), ret);
	}
	EXPECT_LE(1U, uintr_received[7]);
	close(fds[1]);
	pthread_join(drainer, NULL);
	close(watch);
	close(fds[0]);
}

/* Exact counts: every post interrupts one read and runs the handler once. */
TEST_F(wake, each_post_interrupts_once)
{
	int fds[2], interrupted = 0;
	char c;

	if (variant->flags != UINTR_HANDLER_WAKE)
		SKIP(return, "counts EINTRs");
	ASSERT_EQ(0, pipe(fds));
	self->poster.posts = 50;
	self->poster.pipe_w = fds[1];
	self->poster.then = write_a_byte;
	start_poster(_metadata, self);
	for (;;) {
		if (read(fds[0], &c, 1) == 1)
			break;
		ASSERT_EQ(EINTR, errno);
		interrupted++;
		ASSERT_EQ((uint64_t)interrupted, uintr_received[7]);
	}
	EXPECT_EQ(50, interrupted);
	EXPECT_EQ(50U, uintr_received[7]);
	join_poster(_metadata, self);
	close(fds[0]);
	close(fds[1]);
}

/* The receiver's own one-shot timer ends its sleep: a preemption tick. */
TEST_F(wake, its_own_timer_ends_a_sleep)
{
	struct uintr_timer_args a = {
		.vector_fd = self->vfd, .initial_ns = 100 * 1000 * 1000,
	};
	struct timespec t0, req = { .tv_sec = 3 };
	int t;
	long ret, ms;

	t = ioctl(self->dev, UINTR_CREATE_TIMER, &a);
	ASSERT_LE(0, t);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = nanosleep(&req, NULL);
	ms = ms_since(&t0);
	EXPECT_EQ(1U, uintr_received[7]);
	if (variant->flags & UINTR_HANDLER_WAKE) {
		EXPECT_EQ(-1, ret);
		EXPECT_GT(2000, ms);
	} else {
		EXPECT_EQ(0, ret);
	}
	close(t);
}

TEST(flags_are_checked)
{
	struct uintr_handler_args args = {
		.handler = (uintptr_t)uintr_count_handler,
	};
	int dev;

	if (!uintr_kernel_supported())
		SKIP(return, "no user interrupts in this kernel or CPU");
	dev = uintr_open();
	ASSERT_LE(0, dev);
	/* RESTART says how WAKE ends a call: alone it means nothing. */
	args.flags = UINTR_HANDLER_RESTART;
	EXPECT_EQ(-1, ioctl(dev, UINTR_REGISTER_HANDLER, &args));
	EXPECT_EQ(EINVAL, errno);
	args.flags = 1U << 3;
	EXPECT_EQ(-1, ioctl(dev, UINTR_REGISTER_HANDLER, &args));
	EXPECT_EQ(EINVAL, errno);
	args.flags = UINTR_HANDLER_WAKE | UINTR_HANDLER_RESTART;
	EXPECT_EQ(0, ioctl(dev, UINTR_REGISTER_HANDLER, &args));
	EXPECT_EQ(0, ioctl(dev, UINTR_UNREGISTER_HANDLER, 0));
	close(dev);
}

TEST_HARNESS_MAIN
