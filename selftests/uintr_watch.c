// SPDX-License-Identifier: GPL-2.0
/*
 * UINTR_WATCH_FD: any pollable file as a source of user interrupts.  Each
 * wake-up of the source that carries a watched event posts the vector of a
 * vector fd once: to a spinning receiver, a receiver blocked in UINTR_WAIT
 * and a receiver asleep with a counting fd alike.  Closing the handle, the
 * source's hang-up and the receiver's end detach the watch.
 */
#include "uintr_test.h"
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <linux/perf_event.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include "kselftest_harness.h"

static int uintr_watch(int dev, int source, int vfd, uint32_t events)
{
	struct uintr_watch_args w = {
		.source_fd = source, .vector_fd = vfd, .events = events,
	};

	return ioctl(dev, UINTR_WATCH_FD, &w);
}

/* A software perf event fd, or -1. */
static int perf_fd(void)
{
	struct perf_event_attr pa = {
		.type = PERF_TYPE_SOFTWARE, .size = sizeof(pa),
		.config = PERF_COUNT_SW_DUMMY, .disabled = 1,
	};

	return (int)syscall(SYS_perf_event_open, &pa, 0, -1, -1, 0);
}

static void efd_write(int efd)
{
	uint64_t one = 1;

	if (write(efd, &one, sizeof(one)) != sizeof(one))
		abort();
}

/* Spin until @counter reaches @want or about 5 s pass; returns its value. */
static uint64_t spin_for(volatile uint64_t *counter, uint64_t want)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		if (*counter >= want)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (t.tv_sec - t0.tv_sec < 5);
	return *counter;
}

/* Let posts that are on their way arrive. */
static void settle(void)
{
	usleep(50000);
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

TEST_F(recv, each_eventfd_write_posts_once)
{
	int vfd = uintr_vector_fd(self->dev, 5);
	int efd = eventfd(0, EFD_NONBLOCK);
	int h;

	ASSERT_LE(0, vfd);
	ASSERT_LE(0, efd);
	h = uintr_watch(self->dev, efd, vfd, EPOLLIN);
	ASSERT_LE(0, h);
	EXPECT_EQ(FD_CLOEXEC, fcntl(h, F_GETFD) & FD_CLOEXEC);
	/* Not ready at attach: nothing yet. */
	settle();
	EXPECT_EQ(0U, uintr_received[5]);
	for (uint64_t i = 1; i <= 100; i++) {
		efd_write(efd);
		ASSERT_EQ(i, spin_for(&uintr_received[5], i));
	}
	settle();
	EXPECT_EQ(100U, uintr_received[5]);
	EXPECT_EQ(100U, uintr_total);
	/* Closed: writes post nothing. */
	close(h);
	efd_write(efd);
	settle();
	EXPECT_EQ(100U, uintr_received[5]);
	close(efd);
	close(vfd);
}

TEST_F(recv, a_source_ready_at_attach_posts_once)
{
	int vfd = uintr_vector_fd(self->dev, 6);
	int efd = eventfd(3, EFD_NONBLOCK);
	int h;

	ASSERT_LE(0, vfd);
	ASSERT_LE(0, efd);
	h = uintr_watch(self->dev, efd, vfd, EPOLLIN);
	ASSERT_LE(0, h);
	EXPECT_EQ(1U, spin_for(&uintr_received[6], 1));
	settle();
	EXPECT_EQ(1U, uintr_received[6]);
	close(h);
	close(efd);
	close(vfd);
}

/*
 * Hung up at attach: posts once and detaches at once; the close that
 * follows must not take the entry off its queue a second time.
 */
TEST_F(recv, a_source_hung_up_at_attach_posts_once_and_closes_cleanly)
{
	int vfd = uintr_vector_fd(self->dev, 13);
	long watches = uintr_stat("watches");
	int p[2], h;

	ASSERT_LE(0, vfd);
	for (int round = 0; round < 20; round++) {
		ASSERT_EQ(0, pipe(p));
		close(p[1]);
		h = uintr_watch(self->dev, p[0], vfd, EPOLLIN);
		ASSERT_LE(0, h);
		ASSERT_EQ((uint64_t)round + 1, spin_for(&uintr_received[13], round + 1));
		close(h);
		close(p[0]);
	}
	settle();
	EXPECT_EQ(20U, uintr_received[13]);
	if (watches >= 0)
		EXPECT_EQ(watches, uintr_stat("watches"));
	close(vfd);
}

TEST_F(recv, events_that_are_not_watched_post_nothing)
{
	int vfd = uintr_vector_fd(self->dev, 7);
	int efd = eventfd(0, EFD_NONBLOCK);
	uint64_t v;
	int h;

	ASSERT_LE(0, vfd);
	ASSERT_LE(0, efd);
	/* An eventfd is always writable; a read wakes writers with EPOLLOUT. */
	h = uintr_watch(self->dev, efd, vfd, EPOLLPRI);
	ASSERT_LE(0, h);
	efd_write(efd);
	ASSERT_EQ((ssize_t)sizeof(v), read(efd, &v, sizeof(v)));
	settle();
	EXPECT_EQ(0U, uintr_received[7]);
	close(h);
	close(efd);
	close(vfd);
}

/*
 * timerfd wakes from its hrtimer: posts from a hard interrupt.  A periodic
 * timerfd only runs on once it is read, so the consumer reads each time.
 */
TEST_F(recv, a_periodic_timerfd_posts_each_expiry)
{
	struct itimerspec its = {
		.it_value = { .tv_nsec = 20000000 },
		.it_interval = { .tv_nsec = 20000000 },
	};
	int vfd = uintr_vector_fd(self->dev, 8);
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	uint64_t expiries = 0, n;
	int h;

	ASSERT_LE(0, vfd);
	ASSERT_LE(0, tfd);
	h = uintr_watch(self->dev, tfd, vfd, EPOLLIN);
	ASSERT_LE(0, h);
	ASSERT_EQ(0, timerfd_settime(tfd, 0, &its, NULL));
	for (uint64_t i = 1; i <= 10; i++) {
		ASSERT_EQ(i, spin_for(&uintr_received[8], i));
		ASSERT_EQ((ssize_t)sizeof(n), read(tfd, &n, sizeof(n)));
		expiries += n;
	}
	close(h);
	settle();
	/* One post per wake-up, one wake-up per run of the timer. */
	EXPECT_EQ(10U, uintr_received[8]);
	EXPECT_LE(10U, expiries);
	close(tfd);
	close(vfd);
}

TEST_F(recv, a_pipe_posts_for_data_and_once_for_its_hang_up)
{
	int vfd = uintr_vector_fd(self->dev, 9);
	long watches = uintr_stat("watches"), posts;
	int p[2], h;

	ASSERT_LE(0, vfd);
	ASSERT_EQ(0, pipe(p));
	h = uintr_watch(self->dev, p[0], vfd, EPOLLIN);
	ASSERT_LE(0, h);
	if (watches >= 0)
		EXPECT_EQ(watches + 1, uintr_stat("watches"));
	ASSERT_EQ(1, write(p[1], "x", 1));
	EXPECT_EQ(1U, spin_for(&uintr_received[9], 1));
	/* The writer goes: EPOLLHUP posts once and detaches the watch. */
	close(p[1]);
	EXPECT_EQ(2U, spin_for(&uintr_received[9], 2));
	posts = uintr_stat("watch_posts");
	settle();
	EXPECT_EQ(2U, uintr_received[9]);
	EXPECT_EQ(posts, uintr_stat("watch_posts"));
	close(h);
	if (watches >= 0)
		EXPECT_EQ(watches, uintr_stat("watches"));
	close(p[0]);
	close(vfd);
}

struct waiter {
	int dev;
	int vfd;
	int counting;		/* UINTR_VECTOR_FD_POLL */
	volatile int ready;
	pid_t tid;
	long ret;		/* of UINTR_WAIT or read(), or -errno */
	uint64_t count;		/* read() of the counting fd */
	int err;
};

/* A receiver that blocks in UINTR_WAIT until one post arrives. */
static void *wait_thread(void *arg)
{
	struct waiter *w = arg;
	struct uintr_wait_args a = { .timeout_ns = 10000000000LL, .flags = UINTR_WAIT_TIMEOUT };

	if (uintr_register(w->dev, uintr_count_handler)) {
		w->err = errno;
		w->ready = 1;
		return NULL;
	}
	w->vfd = uintr_vector_fd(w->dev, 10);
	w->tid = gettid();
	_stui();
	w->ready = 1;
	w->ret = ioctl(w->dev, UINTR_WAIT, &a) ? -errno : 0;
	_clui();
	ioctl(w->dev, UINTR_UNREGISTER_HANDLER, 0);
	return NULL;
}

/* A receiver asleep in read() of its own counting fd. */
static void *read_thread(void *arg)
{
	struct waiter *w = arg;
	struct uintr_vector_args v = { .vector = 11, .flags = UINTR_VECTOR_FD_POLL };

	if (uintr_register(w->dev, uintr_count_handler)) {
		w->err = errno;
		w->ready = 1;
		return NULL;
	}
	w->counting = ioctl(w->dev, UINTR_CREATE_VECTOR_FD, &v);
	w->tid = gettid();
	_stui();
	w->ready = 1;
	w->ret = read(w->counting, &w->count, sizeof(w->count));
	if (w->ret < 0)
		w->ret = -errno;
	_clui();
	ioctl(w->dev, UINTR_UNREGISTER_HANDLER, 0);
	return NULL;
}

TEST_F(recv, a_receiver_blocked_in_uintr_wait_is_woken)
{
	struct waiter w = { .dev = self->dev, .vfd = -1 };
	int efd = eventfd(0, EFD_NONBLOCK), h;
	pthread_t t;

	ASSERT_LE(0, efd);
	ASSERT_EQ(0, pthread_create(&t, NULL, wait_thread, &w));
	while (!w.ready)
		sched_yield();
	ASSERT_EQ(0, w.err);
	ASSERT_LE(0, w.vfd);
	h = uintr_watch(self->dev, efd, w.vfd, EPOLLIN);
	ASSERT_LE(0, h);
	ASSERT_TRUE(uintr_await_sleeping(w.tid));
	efd_write(efd);
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, w.ret);
	EXPECT_EQ(1U, uintr_received[10]);
	/* The receiver is gone: the next wake-up detaches instead of posting. */
	efd_write(efd);
	settle();
	EXPECT_EQ(1U, uintr_received[10]);
	close(h);
	close(efd);
	close(w.vfd);
}

TEST_F(recv, a_receiver_asleep_in_read_counts_the_post)
{
	struct waiter w = { .dev = self->dev, .counting = -1 };
	int efd = eventfd(0, EFD_NONBLOCK), h;
	pthread_t t;

	ASSERT_LE(0, efd);
	ASSERT_EQ(0, pthread_create(&t, NULL, read_thread, &w));
	while (!w.ready)
		sched_yield();
	ASSERT_EQ(0, w.err);
	ASSERT_LE(0, w.counting);
	h = uintr_watch(self->dev, efd, w.counting, EPOLLIN);
	ASSERT_LE(0, h);
	ASSERT_TRUE(uintr_await_sleeping(w.tid));
	efd_write(efd);
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ((long)sizeof(uint64_t), w.ret);
	EXPECT_EQ(1U, w.count);
	EXPECT_EQ(0U, uintr_received[11]);
	close(h);
	close(efd);
	close(w.counting);
}

/*
 * A watch of an epoll fd that holds a counting fd, posting to the same
 * receiver: the count wakes the fd's pollers, epoll wakes its own, and
 * that wake-up must not post again, or posts would feed themselves.  A
 * vector fd cannot be watched directly.
 */
TEST_F(recv, posts_do_not_feed_themselves)
{
	struct waiter w = { .dev = self->dev, .counting = -1 };
	struct epoll_event ev = { .events = EPOLLIN };
	int efd = eventfd(0, EFD_NONBLOCK), ep = epoll_create1(0);
	int h[3];
	long posts;
	pthread_t t;

	ASSERT_LE(0, efd);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, pthread_create(&t, NULL, read_thread, &w));
	while (!w.ready)
		sched_yield();
	ASSERT_EQ(0, w.err);
	ASSERT_LE(0, w.counting);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, w.counting, &ev));
	h[0] = uintr_watch(self->dev, efd, w.counting, EPOLLIN);
	h[1] = uintr_watch(self->dev, w.counting, w.counting, EPOLLIN);
	EXPECT_EQ(EINVAL, errno);
	h[2] = uintr_watch(self->dev, ep, w.counting, EPOLLIN);
	ASSERT_LE(0, h[0]);
	ASSERT_EQ(-1, h[1]);
	ASSERT_LE(0, h[2]);
	ASSERT_TRUE(uintr_await_sleeping(w.tid));
	posts = uintr_stat("watch_posts");
	efd_write(efd);
	ASSERT_EQ(0, pthread_join(t, NULL));
	settle();
	EXPECT_EQ((long)sizeof(uint64_t), w.ret);
	EXPECT_EQ(1U, w.count);
	if (posts >= 0)
		EXPECT_EQ(posts + 1, uintr_stat("watch_posts"));
	close(h[0]);
	close(h[2]);
	close(ep);
	close(efd);
	close(w.counting);
}

TEST_F(recv, bad_arguments_have_their_errno)
{
	int vfd = uintr_vector_fd(self->dev, 12);
	int efd = eventfd(0, 0), sv[2], dead, idx, pfd;
	struct waiter w = { .dev = self->dev, .vfd = -1 };
	struct uintr_watch_args a = { .events = EPOLLIN, .flags = 1 };
	pthread_t t;

	ASSERT_LE(0, vfd);
	ASSERT_LE(0, efd);
	a.source_fd = efd;
	a.vector_fd = vfd;
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	EXPECT_EQ(-1, ioctl(self->dev, UINTR_WATCH_FD, &a));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, uintr_watch(self->dev, efd, vfd, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, uintr_watch(self->dev, efd, vfd, EPOLLIN | EPOLLET));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, uintr_watch(self->dev, -1, vfd, EPOLLIN));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, uintr_watch(self->dev, efd, -1, EPOLLIN));
	EXPECT_EQ(EBADF, errno);
	/* Not a vector fd. */
	EXPECT_EQ(-1, uintr_watch(self->dev, efd, efd, EPOLLIN));
	EXPECT_EQ(EINVAL, errno);
	/* Files that cannot be watched: no poll, a vector fd, an AF_UNIX socket. */
	EXPECT_EQ(-1, uintr_watch(self->dev, vfd, vfd, EPOLLIN));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, uintr_watch(self->dev, self->dev, vfd, EPOLLIN));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, uintr_watch(self->dev, sv[0], vfd, EPOLLIN));
	EXPECT_EQ(EINVAL, errno);
	/* A perf event fd, which could count the module's own tracepoints. */
	pfd = perf_fd();
	if (pfd >= 0) {
		EXPECT_EQ(-1, uintr_watch(self->dev, pfd, vfd, EPOLLIN));
		EXPECT_EQ(EINVAL, errno);
		close(pfd);
	}
	/* The receiver is gone. */
	ASSERT_EQ(0, pthread_create(&t, NULL, wait_thread, &w));
	while (!w.ready)
		sched_yield();
	dead = w.vfd;
	ASSERT_LE(0, dead);
	ASSERT_TRUE(uintr_await_sleeping(w.tid));
	idx = uintr_register_sender(self->dev, dead);
	ASSERT_LE(0, idx);
	_senduipi(idx);
	/* It returned from UINTR_WAIT and unregistered. */
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(-1, uintr_watch(self->dev, efd, dead, EPOLLIN));
	EXPECT_EQ(ESRCH, errno);
	close(dead);
	close(sv[0]);
	close(sv[1]);
	close(efd);
	close(vfd);
}

TEST(no_uintr_is_eopnotsupp)
{
	struct uintr_watch_args a = { .source_fd = 0, .vector_fd = 0, .events = EPOLLIN };
	int dev;

	if (uintr_kernel_supported())
		SKIP(return, "user interrupts are available");
	dev = open(UINTR_DEV, O_RDWR);
	if (dev < 0)
		SKIP(return, UINTR_DEV " missing");
	EXPECT_EQ(-1, ioctl(dev, UINTR_WATCH_FD, &a));
	EXPECT_EQ(EOPNOTSUPP, errno);
	close(dev);
}

TEST_HARNESS_MAIN
