// SPDX-License-Identifier: GPL-2.0
/*
 * Pollable vector fds: a receiver that blocks in epoll_wait(), poll() or
 * read() is woken by a post to a vector whose fd was created with
 * UINTR_VECTOR_FD_POLL, and read() returns how many posts were counted.
 * Every post still arrives exactly once, at the handler or on the fd.
 */
#include "uintr_test.h"
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <time.h>
#include "kselftest_harness.h"

static int uintr_poll_fd(int dev, unsigned int vector)
{
	struct uintr_vector_args v = { .vector = vector, .flags = UINTR_VECTOR_FD_POLL };

	return ioctl(dev, UINTR_CREATE_VECTOR_FD, &v);
}

/* Not mapped in any process. */
static void *volatile bad_address = (void *)8;

/* Read one count from @fd: the count, 0 at end of file, -errno on error. */
static long long read_count(int fd)
{
	uint64_t count = 0;
	ssize_t n = read(fd, &count, sizeof(count));

	if (n < 0)
		return -errno;
	if (n == 0)
		return 0;
	return n == sizeof(count) ? (long long)count : -EIO;
}

/* A count read without blocking: 0 if nothing is counted. */
static long long read_count_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	long long n;

	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	n = read_count(fd);
	fcntl(fd, F_SETFL, fl);
	return n == -EAGAIN ? 0 : n;
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

TEST_F(recv, plain_fd_cannot_be_read_and_is_not_readable)
{
	struct pollfd p = { .events = POLLIN };
	uint64_t count;

	p.fd = uintr_vector_fd(self->dev, 2);
	ASSERT_LE(0, p.fd);
	EXPECT_EQ(-1, read(p.fd, &count, sizeof(count)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, poll(&p, 1, 0));
	close(p.fd);
}

TEST_F(recv, read_checks_size_and_nonblocking_read_is_eagain)
{
	struct pollfd p = { .events = POLLIN };
	uint32_t small;

	p.fd = uintr_poll_fd(self->dev, 4);
	ASSERT_LE(0, p.fd);
	EXPECT_EQ(-1, read(p.fd, &small, sizeof(small)));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, fcntl(p.fd, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-EAGAIN, read_count(p.fd));
	EXPECT_EQ(0, poll(&p, 1, 0));
	close(p.fd);
}

struct poster {
	int dev;
	int vfd;
	pid_t target;		/* the thread that must be asleep first */
	int rounds;
	volatile int acked;	/* rounds the target finished */
	int err;
};

/* Post once per round, each time once the target sleeps again. */
static void *poster_thread(void *arg)
{
	struct poster *p = arg;
	int idx = uintr_register_sender(p->dev, p->vfd);

	if (idx < 0) {
		p->err = errno;
		return NULL;
	}
	for (int i = 0; i < p->rounds; i++) {
		while (p->acked < i)
			sched_yield();
		if (!uintr_await_sleeping(p->target)) {
			p->err = ETIMEDOUT;
			return NULL;
		}
		_senduipi(idx);
	}
	return NULL;
}

TEST_F(recv, epoll_wakes_the_blocked_receiver_and_counts_each_post)
{
	struct poster p = { .dev = self->dev, .target = gettid(), .rounds = 10 };
	struct epoll_event ev = { .events = EPOLLIN };
	long collected = uintr_stat("collected");
	int ep = epoll_create1(EPOLL_CLOEXEC);
	pthread_t t;

	ASSERT_LE(0, ep);
	p.vfd = uintr_poll_fd(self->dev, 7);
	ASSERT_LE(0, p.vfd);
	ev.data.fd = p.vfd;
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, p.vfd, &ev));
	ASSERT_EQ(0, pthread_create(&t, NULL, poster_thread, &p));
	for (int i = 0; i < p.rounds; i++) {
		memset(&ev, 0, sizeof(ev));
		ASSERT_EQ(1, epoll_wait(ep, &ev, 1, 30000)) {
			TH_LOG("round %d: no wake-up", i);
			p.acked = p.rounds;
			pthread_join(t, NULL);
		}
		EXPECT_EQ(p.vfd, ev.data.fd);
		EXPECT_NE(0U, ev.events & EPOLLIN);
		EXPECT_EQ(1, read_count(p.vfd));
		p.acked = i + 1;
	}
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, p.err);
	/* Counted on the fd, not delivered to the handler. */
	EXPECT_EQ(0U, uintr_received[7]);
	if (collected >= 0)
		EXPECT_LE(collected + p.rounds, uintr_stat("collected"));
	close(ep);
	close(p.vfd);
}

TEST_F(recv, blocking_read_by_the_receiver_returns_the_count)
{
	struct poster p = { .dev = self->dev, .target = gettid(), .rounds = 5 };
	pthread_t t;

	p.vfd = uintr_poll_fd(self->dev, 8);
	ASSERT_LE(0, p.vfd);
	ASSERT_EQ(0, pthread_create(&t, NULL, poster_thread, &p));
	for (int i = 0; i < p.rounds; i++) {
		EXPECT_EQ(1, read_count(p.vfd));
		p.acked = i + 1;
	}
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, p.err);
	EXPECT_EQ(0U, uintr_received[8]);
	close(p.vfd);
}

/*
 * The receiver's own blocking read() is woken by the kernel vector
 * directly: no irq_work (a second self-interrupt) per wake-up, which
 * waking the fds' wait queue from the kernel vector needs.
 */
TEST_F(recv, the_receivers_own_read_is_woken_without_an_irq_work)
{
	struct poster p = { .dev = self->dev, .target = gettid(), .rounds = 30 };
	long iwi0 = uintr_irq_count("IWI"), iwi;
	pthread_t t;

	if (iwi0 < 0)
		SKIP(return, "no irq_work line in /proc/interrupts");
	p.vfd = uintr_poll_fd(self->dev, 8);
	ASSERT_LE(0, p.vfd);
	ASSERT_EQ(0, pthread_create(&t, NULL, poster_thread, &p));
	for (int i = 0; i < p.rounds; i++) {
		EXPECT_EQ(1, read_count(p.vfd));
		p.acked = i + 1;
	}
	ASSERT_EQ(0, pthread_join(t, NULL));
	iwi = uintr_irq_count("IWI") - iwi0;
	EXPECT_EQ(0, p.err);
	/* Other irq_work users may add a few; one per wake-up is the bug. */
	EXPECT_GT(p.rounds / 3, iwi);
	TH_LOG("%d wake-ups, %ld irq_work interrupts", p.rounds, iwi);
	close(p.vfd);
}

/*
 * The kernel vector wakes the receiver's own reader directly and leaves the
 * fds' other sleepers to it: a poller of another vector's fd of the same
 * receiver must still be woken while the reader sleeps on.
 */
struct other_poller {
	int fd;
	pid_t tid;
	volatile int started;
	volatile int done;
	int ret;
	short revents;
};

static void *poll_other(void *arg)
{
	struct other_poller *o = arg;
	struct pollfd pfd = { .fd = o->fd, .events = POLLIN };

	o->tid = gettid();
	o->started = 1;
	o->ret = poll(&pfd, 1, 10000);
	o->revents = pfd.revents;
	o->done = 1;
	return NULL;
}

struct two_posts {
	int dev, vfd_other, vfd_own;
	pid_t reader;
	struct other_poller *o;
	long iwi;
	int err;
};

static void *post_other_then_own(void *arg)
{
	struct two_posts *t = arg;
	int other = uintr_register_sender(t->dev, t->vfd_other);
	int own = uintr_register_sender(t->dev, t->vfd_own);

	if (other < 0 || own < 0) {
		t->err = errno;
		return NULL;
	}
	while (!t->o->started)
		sched_yield();
	if (!uintr_await_sleeping(t->reader) || !uintr_await_sleeping(t->o->tid)) {
		t->err = ETIMEDOUT;
		return NULL;
	}
	t->iwi = uintr_irq_count("IWI");
	_senduipi(other);
	/* The poller returns while the reader still sleeps. */
	for (int i = 0; i < 50000 && !t->o->done; i++)
		usleep(100);
	t->iwi = uintr_irq_count("IWI") - t->iwi;
	if (!t->o->done)
		t->err = ETIMEDOUT;
	else if (!uintr_await_sleeping(t->reader))
		t->err = EAGAIN;
	_senduipi(own);
	return NULL;
}

TEST_F(recv, a_poller_beside_the_receivers_own_read_is_woken)
{
	struct other_poller o = { 0 };
	struct two_posts t = { .dev = self->dev, .reader = gettid(), .o = &o };
	pthread_t pt, st;

	t.vfd_own = uintr_poll_fd(self->dev, 11);
	t.vfd_other = uintr_poll_fd(self->dev, 12);
	ASSERT_LE(0, t.vfd_own);
	ASSERT_LE(0, t.vfd_other);
	o.fd = t.vfd_other;
	ASSERT_EQ(0, pthread_create(&pt, NULL, poll_other, &o));
	ASSERT_EQ(0, pthread_create(&st, NULL, post_other_then_own, &t));
	EXPECT_EQ(1, read_count(t.vfd_own));
	ASSERT_EQ(0, pthread_join(st, NULL));
	ASSERT_EQ(0, pthread_join(pt, NULL));
	EXPECT_EQ(0, t.err);
	EXPECT_EQ(1, o.ret);
	EXPECT_TRUE(o.revents & POLLIN);
	EXPECT_EQ(1, read_count(t.vfd_other));
	TH_LOG("%ld irq_work interrupts until the poller returned", t.iwi);
	close(t.vfd_own);
	close(t.vfd_other);
}

/* A receiver thread that hands out fds, then sleeps on a pipe. */
struct sleeper {
	int dev;
	int vfd;		/* UINTR_VECTOR_FD_POLL */
	int plain;		/* for sending */
	int other;		/* vector 10, not polled */
	int idx;		/* the caller's UITT entry for @plain */
	int pipe[2];
	pid_t tid;
	volatile int ready;
	int err;
};

static void *sleeper_thread(void *arg)
{
	struct sleeper *s = arg;
	char c;

	if (uintr_register(s->dev, uintr_count_handler)) {
		s->err = errno;
		s->ready = 1;
		return NULL;
	}
	s->vfd = uintr_poll_fd(s->dev, 9);
	s->plain = uintr_vector_fd(s->dev, 9);
	s->other = uintr_vector_fd(s->dev, 10);
	s->tid = gettid();
	_stui();
	s->ready = 1;
	if (read(s->pipe[0], &c, 1) != 1)
		s->err = errno;
	/* Back in user space: whatever reached PIR is delivered now. */
	for (int i = 0; i < 100000; i++)
		__builtin_ia32_pause();
	_clui();
	ioctl(s->dev, UINTR_UNREGISTER_HANDLER, 0);
	return NULL;
}

/*
 * Start a sleeper and make the caller a sender to it (s->idx).  The sleeper
 * sleeps until stop_sleeper().
 */
static int start_sleeper(struct sleeper *s, int dev, pthread_t *t)
{
	*s = (struct sleeper){ .dev = dev, .vfd = -1, .plain = -1, .other = -1, .idx = -1 };
	if (pipe(s->pipe))
		return -1;
	if (pthread_create(t, NULL, sleeper_thread, s))
		return -1;
	while (!s->ready)
		sched_yield();
	if (s->err || s->vfd < 0 || s->plain < 0)
		return -1;
	s->idx = uintr_register_sender(dev, s->plain);
	return s->idx < 0 ? -1 : 0;
}

/* Wake the sleeper; it returns to user space, unregisters and exits. */
static int stop_sleeper(struct sleeper *s, pthread_t t)
{
	if (write(s->pipe[1], "x", 1) != 1)
		return -1;
	return pthread_join(t, NULL);
}

static void close_sleeper(struct sleeper *s)
{
	if (s->vfd >= 0)
		close(s->vfd);
	close(s->plain);
	if (s->other >= 0)
		close(s->other);
	close(s->pipe[0]);
	close(s->pipe[1]);
}

TEST_F(recv, another_thread_reads_while_the_receiver_sleeps)
{
	struct pollfd p[2];
	struct sleeper s;
	pthread_t t;

	ASSERT_EQ(0, start_sleeper(&s, self->dev, &t));
	ASSERT_TRUE(uintr_await_sleeping(s.tid));
	_senduipi(s.idx);
	/* This thread is not the receiver; the post wakes it all the same. */
	EXPECT_EQ(1, read_count(s.vfd));
	ASSERT_EQ(0, stop_sleeper(&s, t));
	EXPECT_EQ(0, s.err);
	EXPECT_EQ(0U, uintr_received[9]);
	/* The receiver is gone: hung up, nothing left to read. */
	p[0] = (struct pollfd){ .fd = s.vfd, .events = POLLIN };
	p[1] = (struct pollfd){ .fd = s.plain, .events = POLLIN };
	EXPECT_EQ(2, poll(p, 2, 0));
	EXPECT_EQ(POLLHUP, p[0].revents);
	EXPECT_EQ(POLLHUP, p[1].revents);
	EXPECT_EQ(0, read_count(s.vfd));
	close_sleeper(&s);
}

TEST_F(recv, counts_outlive_the_receiver)
{
	struct pollfd p;
	struct sleeper s;
	pthread_t t;

	ASSERT_EQ(0, start_sleeper(&s, self->dev, &t));
	ASSERT_TRUE(uintr_await_sleeping(s.tid));
	_senduipi(s.idx);
	/* Counted while it sleeps: the fd turns readable. */
	p = (struct pollfd){ .fd = s.vfd, .events = POLLIN };
	EXPECT_EQ(1, poll(&p, 1, 30000));
	EXPECT_EQ(POLLIN, p.revents);
	ASSERT_EQ(0, stop_sleeper(&s, t));
	EXPECT_EQ(0U, uintr_received[9]);
	/* A count that cannot be copied out stays. */
	EXPECT_EQ(-1, read(s.vfd, bad_address, sizeof(uint64_t)));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(1, read_count(s.vfd));
	EXPECT_EQ(0, read_count(s.vfd));
	close_sleeper(&s);
}

/*
 * A post through an entry whose receiver is gone lands in a UPID nobody
 * listens to: the counting fd reads what was counted before the end, then
 * end of file, and never a post made after it.
 */
TEST_F(recv, posts_after_the_receiver_is_gone_are_not_counted)
{
	struct sleeper s;
	pthread_t t;

	ASSERT_EQ(0, start_sleeper(&s, self->dev, &t));
	ASSERT_TRUE(uintr_await_sleeping(s.tid));
	_senduipi(s.idx);
	ASSERT_EQ(0, stop_sleeper(&s, t));
	/* The entry stays valid: these land in the dead receiver's UPID. */
	_senduipi(s.idx);
	_senduipi(s.idx);
	EXPECT_EQ(1, read_count(s.vfd));
	EXPECT_EQ(0, read_count(s.vfd));
	_senduipi(s.idx);
	EXPECT_EQ(0, read_count(s.vfd));
	EXPECT_EQ(0U, uintr_received[9]);
	close_sleeper(&s);
}

/*
 * Posts to a vector that is not polled, while the receiver is parked for
 * its pollers, cost at most one kernel-vector interrupt each (counted in
 * poll_idle_kicks), never more, and wake nobody: they reach the handler
 * at the receiver's next return to user space.
 */
TEST_F(recv, posts_to_a_vector_that_is_not_polled_cost_at_most_one_kick_each)
{
	long kicks = uintr_stat("poll_idle_kicks");
	struct sleeper s;
	pthread_t t;
	int idx;

	if (kicks < 0)
		SKIP(return, "no debugfs");
	ASSERT_EQ(0, start_sleeper(&s, self->dev, &t));
	ASSERT_LE(0, s.other);
	idx = uintr_register_sender(self->dev, s.other);
	ASSERT_LE(0, idx);
	ASSERT_TRUE(uintr_await_sleeping(s.tid));
	for (int i = 0; i < 20; i++) {
		_senduipi(idx);
		usleep(1000);
	}
	usleep(50000);
	EXPECT_GE(kicks + 20, uintr_stat("poll_idle_kicks"));
	EXPECT_EQ(0, read_count_nonblock(s.vfd));
	EXPECT_EQ(0U, uintr_received[10]);
	ASSERT_EQ(0, stop_sleeper(&s, t));
	EXPECT_LE(1U, uintr_received[10]);
	close_sleeper(&s);
}

TEST_F(recv, a_forked_child_reads_the_count)
{
	struct sleeper s;
	int status;
	pthread_t t;
	pid_t child;

	ASSERT_EQ(0, start_sleeper(&s, self->dev, &t));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0)
		_exit(read_count(s.vfd) == 1 ? 0 : 1);
	/* The child blocks in read() in another process; the post wakes it. */
	ASSERT_TRUE(uintr_await_sleeping(s.tid));
	_senduipi(s.idx);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(0, stop_sleeper(&s, t));
	EXPECT_EQ(0, s.err);
	EXPECT_EQ(0U, uintr_received[9]);
	close_sleeper(&s);
}

TEST_F(recv, closing_the_last_counting_fd_gives_posts_back_to_the_handler)
{
	struct pollfd p;
	struct sleeper s;
	pthread_t t;

	ASSERT_EQ(0, start_sleeper(&s, self->dev, &t));
	ASSERT_TRUE(uintr_await_sleeping(s.tid));
	_senduipi(s.idx);
	p = (struct pollfd){ .fd = s.vfd, .events = POLLIN };
	EXPECT_EQ(1, poll(&p, 1, 30000));
	/* Unread, and the fd goes: the post must reach the handler instead. */
	close(s.vfd);
	s.vfd = -1;
	ASSERT_EQ(0, stop_sleeper(&s, t));
	EXPECT_EQ(0, s.err);
	EXPECT_EQ(1U, uintr_received[9]);
	close_sleeper(&s);
}

/* Receivers with counting fds, each in a CPU's list, until told to stop. */
struct holder {
	int dev;
	volatile int done;	/* 1: fd made, 2: failed (err set) */
	int stop;		/* read end of a pipe: a byte means stop */
	int err;
};

static void *holder_thread(void *arg)
{
	struct holder *h = arg;
	int vfd;

	if (uintr_register(h->dev, uintr_count_handler)) {
		h->err = errno;
		h->done = 2;
		return NULL;
	}
	vfd = uintr_poll_fd(h->dev, 1);
	h->err = vfd < 0 ? errno : 0;
	h->done = vfd < 0 ? 2 : 1;
	if (read(h->stop, &(char){ 0 }, 1) != 1)
		h->err = errno;
	if (vfd >= 0)
		close(vfd);
	ioctl(h->dev, UINTR_UNREGISTER_HANDLER, 0);
	return NULL;
}

/*
 * There is no fixed number of polled receivers per CPU: far more than the
 * 32 per CPU an earlier design allowed all get counting fds, on one CPU,
 * and the count of polled receivers goes back when they are gone.
 */
#define MANY_POLLED 100

TEST_F_TIMEOUT(recv, polled_receivers_are_not_limited_per_cpu, 300)
{
	long polled = uintr_stat("polled");
	struct holder h[MANY_POLLED];
	pthread_t t[MANY_POLLED];
	cpu_set_t one, old;
	int stop[2];

	CPU_ZERO(&one);
	CPU_SET(0, &one);
	ASSERT_EQ(0, sched_getaffinity(0, sizeof(old), &old));
	/* Threads inherit the affinity: every receiver claims on CPU 0. */
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(one), &one));
	ASSERT_EQ(0, pipe(stop));
	for (int i = 0; i < MANY_POLLED; i++) {
		h[i] = (struct holder){ .dev = self->dev, .stop = stop[0] };
		ASSERT_EQ(0, pthread_create(&t[i], NULL, holder_thread, &h[i]));
		while (!h[i].done)
			sched_yield();
		ASSERT_EQ(1, h[i].done) TH_LOG("receiver %d: errno %d", i, h[i].err);
	}
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(old), &old));
	if (polled >= 0)
		EXPECT_EQ(polled + MANY_POLLED, uintr_stat("polled"));
	for (int i = 0; i < MANY_POLLED; i++)
		ASSERT_EQ(1, write(stop[1], "x", 1));
	for (int i = 0; i < MANY_POLLED; i++)
		ASSERT_EQ(0, pthread_join(t[i], NULL));
	close(stop[0]);
	close(stop[1]);
	if (polled >= 0)
		EXPECT_EQ(polled, uintr_stat("polled"));
}

/*
 * A receiver that waits in UINTR_WAIT (2 s timeout each time) and records
 * each wait's result and duration.
 */
struct waiter {
	int dev;
	int vfd;		/* UINTR_VECTOR_FD_POLL */
	int plain;
	int idx;		/* the caller's UITT entry for @plain */
	pid_t tid;
	int rounds;
	volatile int done;	/* waits finished */
	int res[8];		/* 0 or errno */
	long ms[8];
	volatile int ready;
	int err;
};

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *waiter_thread(void *arg)
{
	struct uintr_wait_args w = { .timeout_ns = 2000000000LL, .flags = UINTR_WAIT_TIMEOUT };
	struct waiter *wt = arg;

	if (uintr_register(wt->dev, uintr_count_handler)) {
		wt->err = errno;
		wt->ready = 1;
		return NULL;
	}
	wt->vfd = uintr_poll_fd(wt->dev, 9);
	wt->plain = uintr_vector_fd(wt->dev, 9);
	wt->tid = gettid();
	_stui();
	wt->ready = 1;
	for (int i = 0; i < wt->rounds; i++) {
		long t0 = now_ms();

		wt->res[i] = ioctl(wt->dev, UINTR_WAIT, &w) ? errno : 0;
		wt->ms[i] = now_ms() - t0;
		wt->done = i + 1;
	}
	for (int i = 0; i < 100000; i++)
		__builtin_ia32_pause();
	_clui();
	ioctl(wt->dev, UINTR_UNREGISTER_HANDLER, 0);
	return NULL;
}

static int start_waiter(struct waiter *wt, int dev, int rounds, pthread_t *t)
{
	*wt = (struct waiter){ .dev = dev, .vfd = -1, .plain = -1, .idx = -1,
			       .rounds = rounds };
	if (pthread_create(t, NULL, waiter_thread, wt))
		return -1;
	while (!wt->ready)
		sched_yield();
	if (wt->err || wt->vfd < 0 || wt->plain < 0)
		return -1;
	wt->idx = uintr_register_sender(dev, wt->plain);
	return wt->idx < 0 ? -1 : 0;
}

/*
 * A post counted on a fd but never read goes back to the handler when the
 * last counting fd is closed.  That is a post like any other: a receiver
 * blocked in UINTR_WAIT wakes for it at once, not at its timeout.
 */
TEST_F(recv, giving_a_count_back_wakes_a_waiting_receiver)
{
	struct waiter wt;
	pthread_t t;

	ASSERT_EQ(0, start_waiter(&wt, self->dev, 2, &t));
	ASSERT_TRUE(uintr_await_sleeping(wt.tid));
	/* Wakes the first wait; the exit to user space counts it on the fd. */
	_senduipi(wt.idx);
	while (wt.done < 1)
		usleep(1000);
	ASSERT_TRUE(uintr_await_sleeping(wt.tid));
	close(wt.vfd);
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, wt.res[0]);
	EXPECT_EQ(0, wt.res[1]) TH_LOG("second wait: errno %d after %ld ms",
				       wt.res[1], wt.ms[1]);
	EXPECT_GT(1000, wt.ms[1]);
	EXPECT_EQ(1U, uintr_received[9]);
	close(wt.plain);
}

struct spin_reader {
	int vfd;
	volatile int stop;
	volatile uint64_t total;
};

/* Another thread of the process takes the counts as soon as they exist. */
static void *spin_reader_thread(void *arg)
{
	struct spin_reader *r = arg;

	while (!r->stop) {
		long long n = read_count(r->vfd);

		if (n > 0)
			r->total += n;
	}
	return NULL;
}

/*
 * UINTR_WAIT returns for every post, also for one that another thread took
 * off PIR into a fd's count before the waiter woke up to look.
 */
TEST_F_TIMEOUT(recv, a_reader_taking_the_count_does_not_strand_a_waiter, 120)
{
	struct spin_reader r = { 0 };
	struct waiter wt;
	pthread_t t, rt;
	int rounds = 5;
	uint64_t sent = 0;

	ASSERT_EQ(0, start_waiter(&wt, self->dev, rounds, &t));
	r.vfd = wt.vfd;
	ASSERT_EQ(0, fcntl(r.vfd, F_SETFL, O_NONBLOCK));
	ASSERT_EQ(0, pthread_create(&rt, NULL, spin_reader_thread, &r));
	for (int i = 0; i < rounds && wt.done < rounds; i++) {
		ASSERT_TRUE(uintr_await_sleeping(wt.tid));
		_senduipi(wt.idx);
		sent++;
		while (wt.done < i + 1)
			usleep(1000);
	}
	ASSERT_EQ(0, pthread_join(t, NULL));
	r.stop = 1;
	ASSERT_EQ(0, pthread_join(rt, NULL));
	/* What the receiver's last exit to user space counted. */
	if (read_count(r.vfd) > 0)
		r.total++;
	for (int i = 0; i < rounds; i++) {
		EXPECT_EQ(0, wt.res[i]) TH_LOG("wait %d: errno %d after %ld ms",
					       i, wt.res[i], wt.ms[i]);
	}
	/*
	 * A count the reader took just before the waiter's previous return can
	 * end the next wait early: then fewer posts were sent, each once.
	 */
	EXPECT_EQ(sent, r.total + uintr_received[9]);
	close(wt.vfd);
	close(wt.plain);
}

/* A receiver that spins in user space with a counting fd open. */
struct spinner {
	int dev;
	int vfd;
	volatile int ready;
	volatile int stop;
	int err;
};

/* Run the calling thread on @cpu only. */
static int pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

static void *spinner_thread(void *arg)
{
	struct spinner *sp = arg;

	/* A CPU of its own: a post must find it in user space. */
	if (pin_to(1)) {
		sp->err = errno;
		sp->ready = 1;
		return NULL;
	}
	if (uintr_register(sp->dev, uintr_count_handler)) {
		sp->err = errno;
		sp->ready = 1;
		return NULL;
	}
	sp->vfd = uintr_poll_fd(sp->dev, 41);
	if (sp->vfd < 0)
		sp->err = errno;
	_stui();
	/* Block once: the UPID is parked while the thread sleeps. */
	usleep(1000);
	sp->ready = 1;
	while (!sp->stop)
		__builtin_ia32_pause();
	_clui();
	ioctl(sp->dev, UINTR_UNREGISTER_HANDLER, 0);
	return NULL;
}

#define SPIN_POSTS 20

TEST_F_TIMEOUT(recv, a_receiver_in_user_space_gets_posts_at_its_handler, 120)
{
	struct spinner sp = { .dev = self->dev, .vfd = -1 };
	struct timespec start, now;
	long long counted;
	pthread_t t;
	int idx;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "the sender needs a CPU of its own");
	ASSERT_EQ(0, pin_to(0));
	ASSERT_EQ(0, pthread_create(&t, NULL, spinner_thread, &sp));
	while (!sp.ready)
		sched_yield();
	ASSERT_EQ(0, sp.err);
	idx = uintr_register_sender(self->dev, sp.vfd);
	ASSERT_LE(0, idx);
	for (uint64_t n = 1; n <= SPIN_POSTS; n++) {
		_senduipi(idx);
		clock_gettime(CLOCK_MONOTONIC, &start);
		do {
			sched_yield();
			clock_gettime(CLOCK_MONOTONIC, &now);
		} while (uintr_received[41] < n && now.tv_sec - start.tv_sec < 1);
	}
	sp.stop = 1;
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(0, fcntl(sp.vfd, F_SETFL, O_NONBLOCK));
	counted = read_count(sp.vfd);
	if (counted == -EAGAIN)
		counted = 0;
	ASSERT_LE(0, counted);
	/*
	 * The fd only gets what the kernel saw first (a post that met a timer
	 * interrupt, say); the CPU delivers the rest while the thread spins.
	 */
	EXPECT_EQ(SPIN_POSTS, (long long)uintr_received[41] + counted);
	EXPECT_LE(SPIN_POSTS / 2, (long long)uintr_received[41]);
	TH_LOG("%d posts: %llu at the handler, %lld on the fd", SPIN_POSTS,
	       (unsigned long long)uintr_received[41], counted);
	close(sp.vfd);
}

/*
 * The receiver alternates between spinning in user space, yielding and
 * blocking in epoll_wait(): every post arrives exactly once, at the handler
 * or on the fd, whichever saw it first.
 */
#define STRESS_POSTS 300

struct mixed {
	int dev;
	int vfd;
	volatile uint64_t read_total;
	volatile int ready;
	volatile int stop;
	int err;
};

static void *mixed_receiver(void *arg)
{
	struct mixed *m = arg;
	struct epoll_event ev = { .events = EPOLLIN };
	unsigned int round = 0;
	int ep;

	if (uintr_register(m->dev, uintr_count_handler)) {
		m->err = errno;
		m->ready = 1;
		return NULL;
	}
	m->vfd = uintr_poll_fd(m->dev, 40);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (m->vfd < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, m->vfd, &ev) ||
	    fcntl(m->vfd, F_SETFL, O_NONBLOCK)) {
		m->err = errno;
		m->ready = 1;
		return NULL;
	}
	_stui();
	m->ready = 1;
	while (!m->stop) {
		long long n;

		switch (round++ % 3) {
		case 0:
			for (int i = 0; i < 20000; i++)
				__builtin_ia32_pause();
			break;
		case 1:
			sched_yield();
			break;
		case 2:
			if (epoll_wait(ep, &ev, 1, 2) < 0)
				m->err = errno;
			break;
		}
		n = read_count(m->vfd);
		if (n > 0)
			__atomic_add_fetch(&m->read_total, n, __ATOMIC_SEQ_CST);
		else if (n != -EAGAIN)
			m->err = n ? (int)-n : EIO;
	}
	_clui();
	close(ep);
	ioctl(m->dev, UINTR_UNREGISTER_HANDLER, 0);
	return NULL;
}

TEST_F_TIMEOUT(recv, stress_every_post_arrives_exactly_once, 300)
{
	struct mixed m = { .dev = self->dev, .vfd = -1 };
	struct timespec start, now;
	pthread_t t;
	int idx;

	ASSERT_EQ(0, pthread_create(&t, NULL, mixed_receiver, &m));
	while (!m.ready)
		sched_yield();
	ASSERT_EQ(0, m.err);
	idx = uintr_register_sender(self->dev, m.vfd);
	ASSERT_LE(0, idx);
	for (uint64_t n = 1; n <= STRESS_POSTS; n++) {
		/* Land in every phase of the receiver's loop. */
		for (uint64_t i = 0; i < n * 7919 % 30000; i++)
			__builtin_ia32_pause();
		_senduipi(idx);
		/* One at a time, so that none coalesce. */
		clock_gettime(CLOCK_MONOTONIC, &start);
		while (uintr_received[40] + m.read_total < n) {
			sched_yield();
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec - start.tv_sec > 20)
				break;
		}
		ASSERT_EQ(n, uintr_received[40] + m.read_total) {
			TH_LOG("post %llu: handler %llu, fd %llu", (unsigned long long)n,
			       (unsigned long long)uintr_received[40],
			       (unsigned long long)m.read_total);
			m.stop = 1;
			pthread_join(t, NULL);
		}
	}
	m.stop = 1;
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, m.err);
	EXPECT_EQ((uint64_t)STRESS_POSTS, uintr_received[40] + m.read_total);
	TH_LOG("%d posts: %llu at the handler, %llu read from the fd", STRESS_POSTS,
	       (unsigned long long)uintr_received[40], (unsigned long long)m.read_total);
	close(m.vfd);
}

TEST_HARNESS_MAIN
