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

/* The scheduler state letter of thread @tid of this process, or 0. */
static char thread_state(pid_t tid)
{
	char path[64], buf[256], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/*
 * Wait until thread @tid sleeps (state S), so that what comes next finds it
 * blocked rather than in user space.  Returns false after about 20 s.
 */
static bool await_sleeping(pid_t tid)
{
	for (int i = 0; i < 200000; i++) {
		if (thread_state(tid) == 'S')
			return true;
		usleep(100);
	}
	return false;
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
		if (!await_sleeping(p->target)) {
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

/* A receiver thread that hands out fds, then sleeps on a pipe. */
struct sleeper {
	int dev;
	int vfd;		/* UINTR_VECTOR_FD_POLL */
	int plain;		/* for sending */
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
	*s = (struct sleeper){ .dev = dev, .vfd = -1, .plain = -1, .idx = -1 };
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
	close(s->pipe[0]);
	close(s->pipe[1]);
}

TEST_F(recv, another_thread_reads_while_the_receiver_sleeps)
{
	struct pollfd p[2];
	struct sleeper s;
	pthread_t t;

	ASSERT_EQ(0, start_sleeper(&s, self->dev, &t));
	ASSERT_TRUE(await_sleeping(s.tid));
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
	ASSERT_TRUE(await_sleeping(s.tid));
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
	ASSERT_TRUE(await_sleeping(s.tid));
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
	ASSERT_TRUE(await_sleeping(s.tid));
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

/* Receivers with counting fds, each holding a slot, until told to stop. */
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
 * Every CPU's table holds 32 polled receivers: the next one gets ENOSPC,
 * and a slot is free again as soon as its receiver is gone.
 */
TEST_F_TIMEOUT(recv, slots_run_out_with_enospc_and_come_back, 120)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	long polled = uintr_stat("polled");
	int slots = 32 * (int)cpus;
	struct holder h[slots + 1];
	pthread_t t[slots + 1];
	int stop[2], vfd;

	ASSERT_LE(1, cpus);
	ASSERT_EQ(0, pipe(stop));
	for (int i = 0; i <= slots; i++) {
		h[i] = (struct holder){ .dev = self->dev, .stop = stop[0] };
		ASSERT_EQ(0, pthread_create(&t[i], NULL, holder_thread, &h[i]));
		while (!h[i].done)
			sched_yield();
		if (i < slots) {
			ASSERT_EQ(1, h[i].done) TH_LOG("receiver %d: errno %d", i, h[i].err);
		} else {
			EXPECT_EQ(2, h[i].done);
			EXPECT_EQ(ENOSPC, h[i].err);
		}
	}
	if (polled >= 0)
		EXPECT_EQ(polled + slots, uintr_stat("polled"));
	/* The fixture's receiver has no slot yet: it cannot get one either. */
	EXPECT_EQ(-1, uintr_poll_fd(self->dev, 2));
	EXPECT_EQ(ENOSPC, errno);
	for (int i = 0; i <= slots; i++)
		ASSERT_EQ(1, write(stop[1], "x", 1));
	for (int i = 0; i <= slots; i++)
		ASSERT_EQ(0, pthread_join(t[i], NULL));
	close(stop[0]);
	close(stop[1]);
	if (polled >= 0)
		EXPECT_EQ(polled, uintr_stat("polled"));
	vfd = uintr_poll_fd(self->dev, 2);
	EXPECT_LE(0, vfd);
	close(vfd);
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
