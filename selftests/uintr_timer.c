// SPDX-License-Identifier: GPL-2.0
/*
 * UINTR_CREATE_TIMER: one-shot and periodic timers, relative and absolute,
 * delivered as a vector of the receiver with no system call per period;
 * closing the handle cancels, the end of the receiver stops; the period
 * floor, the per-user limits and the errno of each bad argument.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>

#include "uintr_test.h"
#include "kselftest_harness.h"

#define VEC 4

static int64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int make_timer(int dev, int vfd, uint32_t flags, int64_t initial, int64_t period)
{
	struct uintr_timer_args a = {
		.vector_fd = vfd, .flags = flags, .initial_ns = initial, .period_ns = period,
	};

	return ioctl(dev, UINTR_CREATE_TIMER, &a);
}

/* Spin in user space for @ns nanoseconds. */
static void spin_ns(int64_t ns)
{
	int64_t end = now_ns() + ns;

	while (now_ns() < end)
		__builtin_ia32_pause();
}

/*
 * Spins until @vec goes @quiet_ns without a post, for at most @bound_ns;
 * returns whether it did.
 */
static bool quiet_within(int vec, int64_t quiet_ns, int64_t bound_ns)
{
	int64_t end = now_ns() + bound_ns;
	uint64_t seen;

	do {
		seen = uintr_received[vec];
		spin_ns(quiet_ns);
		if (uintr_received[vec] == seen)
			return true;
	} while (now_ns() < end);
	return false;
}

FIXTURE(timer)
{
	int dev;
	int vfd;
};

FIXTURE_SETUP(timer)
{
	self->dev = uintr_receiver_start();
	if (self->dev < 0)
		SKIP(return, "no user interrupts in this kernel or CPU");
	self->vfd = uintr_vector_fd(self->dev, VEC);
	ASSERT_LE(0, self->vfd);
}

FIXTURE_TEARDOWN(timer)
{
	if (self->dev < 0)
		return;
	close(self->vfd);
	uintr_receiver_stop(self->dev);
}

TEST_F(timer, a_one_shot_timer_fires_once)
{
	int t = make_timer(self->dev, self->vfd, 0, 2000000, 0);

	ASSERT_LE(0, t);
	uintr_spin_until(&uintr_received[VEC], 1);
	spin_ns(20000000);
	EXPECT_EQ(1UL, uintr_received[VEC]);
	close(t);
}

/*
 * 1 ms for 200 ms of CLOCK_MONOTONIC while the receiver spins: each expiry
 * reaches the handler, none is lost and none doubled.
 */
TEST_F(timer, a_periodic_timer_fires_once_per_period)
{
	int64_t start;
	uint64_t got;
	int t;

	start = now_ns();
	t = make_timer(self->dev, self->vfd, UINTR_TIMER_ABSTIME, start + 1000000, 1000000);
	ASSERT_LE(0, t);
	spin_ns(start + 200500000 - now_ns());
	got = uintr_received[VEC];
	close(t);
	ksft_print_msg("%lu expiries in 200 ms at a 1 ms period\n", (unsigned long)got);
	EXPECT_LE(180UL, got);
	EXPECT_GE(200UL, got);
}

TEST_F(timer, closing_the_handle_cancels)
{
	int t = make_timer(self->dev, self->vfd, 0, 1000000, 1000000);
	uint64_t at_close;

	ASSERT_LE(0, t);
	uintr_spin_until(&uintr_received[VEC], 3);
	close(t);
	at_close = uintr_received[VEC];
	spin_ns(20000000);
	/* One may have been on its way when the handle closed. */
	EXPECT_GE(at_close + 1, uintr_received[VEC]);
}

/* The receiver sleeps in UINTR_WAIT well before the expiry, which wakes it. */
TEST_F(timer, a_timer_wakes_a_receiver_in_uintr_wait)
{
	struct uintr_wait_args w = { .flags = UINTR_WAIT_TIMEOUT, .timeout_ns = 5000000000LL };
	int64_t start = now_ns(), slept;
	int t = make_timer(self->dev, self->vfd, 0, 100000000, 0);

	ASSERT_LE(0, t);
	ASSERT_EQ(0, ioctl(self->dev, UINTR_WAIT, &w));
	slept = now_ns() - start;
	uintr_spin_until(&uintr_received[VEC], 1);
	EXPECT_EQ(1UL, uintr_received[VEC]);
	/* Woken by the expiry at 100 ms, not before and not by the timeout. */
	EXPECT_LE(90000000LL, slept);
	EXPECT_GT(1000000000LL, slept);
	close(t);
}

TEST_F(timer, bad_arguments_get_their_errno)
{
	int efd = eventfd(0, EFD_CLOEXEC);

	errno = 0;
	EXPECT_EQ(-1, make_timer(self->dev, self->vfd, 2, 1000000, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, make_timer(self->dev, self->vfd, 0, 0, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, make_timer(self->dev, self->vfd, 0, -1, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, make_timer(self->dev, self->vfd, UINTR_TIMER_ABSTIME, -1, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, make_timer(self->dev, self->vfd, 0, 1000000, -1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, make_timer(self->dev, self->vfd, 0, 1000000,
				 UINTR_TIMER_MIN_PERIOD_NS - 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, make_timer(self->dev, -1, 0, 1000000, 0));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, make_timer(self->dev, efd, 0, 1000000, 0));
	EXPECT_EQ(EINVAL, errno);
	close(efd);
}

static void *make_vector_fd_and_leave(void *arg)
{
	int *vfd = arg;
	int dev = uintr_open();

	if (dev < 0 || uintr_register(dev, uintr_count_handler))
		return NULL;
	*vfd = uintr_vector_fd(dev, VEC);
	ioctl(dev, UINTR_UNREGISTER_HANDLER, 0);
	close(dev);
	return NULL;
}

TEST_F(timer, a_gone_receiver_gets_no_timer)
{
	int vfd = -1;
	pthread_t th;

	ASSERT_EQ(0, pthread_create(&th, NULL, make_vector_fd_and_leave, &vfd));
	ASSERT_EQ(0, pthread_join(th, NULL));
	ASSERT_LE(0, vfd);
	errno = 0;
	EXPECT_EQ(-1, make_timer(self->dev, vfd, 0, 1000000, 0));
	EXPECT_EQ(ESRCH, errno);
	close(vfd);
}

/* A timer whose receiver unregisters stops at its next expiry. */
TEST_F(timer, the_end_of_the_receiver_stops_the_timer)
{
	long posts;
	int t;

	if (uintr_stat("timer_posts") < 0)
		SKIP(return, "no debugfs counters");
	t = make_timer(self->dev, self->vfd, 0, 1000000, 1000000);
	ASSERT_LE(0, t);
	uintr_spin_until(&uintr_received[VEC], 2);
	_clui();
	ASSERT_EQ(0, ioctl(self->dev, UINTR_UNREGISTER_HANDLER, 0));
	spin_ns(5000000);
	posts = uintr_stat("timer_posts");
	spin_ns(20000000);
	EXPECT_EQ(posts, uintr_stat("timer_posts"));
	close(t);
	/* A receiver again, for the teardown. */
	ASSERT_EQ(0, uintr_register(self->dev, uintr_count_handler));
}

TEST_F(timer, one_user_may_have_a_bounded_number_of_timers)
{
	int t[UINTR_TIMER_MAX_PER_USER + 1], n = 0, extra;
	long before = uintr_stat("timers");

	for (n = 0; n < UINTR_TIMER_MAX_PER_USER; n++) {
		t[n] = make_timer(self->dev, self->vfd, 0, 3600000000000LL, 0);
		if (t[n] < 0)
			break;
	}
	/* Other tests' timers are closed, so all of them fit. */
	EXPECT_EQ(UINTR_TIMER_MAX_PER_USER, n);
	errno = 0;
	extra = make_timer(self->dev, self->vfd, 0, 3600000000000LL, 0);
	EXPECT_EQ(-1, extra);
	EXPECT_EQ(EAGAIN, errno);
	close(t[0]);
	t[0] = make_timer(self->dev, self->vfd, 0, 3600000000000LL, 0);
	EXPECT_LE(0, t[0]);
	while (n--)
		close(t[n]);
	if (before >= 0)
		EXPECT_EQ(before, uintr_stat("timers"));
}

/* The periods of one user's timers add up to a bounded rate. */
TEST_F(timer, one_user_has_a_bounded_rate_of_expiries)
{
	int64_t min = UINTR_TIMER_MIN_PERIOD_NS, far = 3600000000000LL;
	int fast, slow;

	/* 100,000 a second: the whole budget, far in the future. */
	fast = make_timer(self->dev, self->vfd, 0, far, min);
	ASSERT_LE(0, fast);
	errno = 0;
	EXPECT_EQ(-1, make_timer(self->dev, self->vfd, 0, far, 1000000));
	EXPECT_EQ(EAGAIN, errno);
	/* A one-shot timer costs no rate. */
	slow = make_timer(self->dev, self->vfd, 0, far, 0);
	EXPECT_LE(0, slow);
	close(slow);
	close(fast);
	slow = make_timer(self->dev, self->vfd, 0, far, 1000000);
	EXPECT_LE(0, slow);
	close(slow);
}

/*
 * A fork child holds a copy of the handle: the timer runs until the last
 * copy closes, here the child's, at its exit.
 */
TEST_F(timer, the_last_copy_of_the_handle_cancels)
{
	int t = make_timer(self->dev, self->vfd, 0, 1000000, 1000000);
	uint64_t before, at_exit;
	pid_t child;
	int status;

	ASSERT_LE(0, t);
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		usleep(100000);
		_exit(0);
	}
	close(t);
	before = uintr_received[VEC];
	spin_ns(30000000);
	/* The child's copy keeps it going. */
	EXPECT_LT(before + 10, uintr_received[VEC]);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	at_exit = uintr_received[VEC];
	spin_ns(20000000);
	EXPECT_GE(at_exit + 1, uintr_received[VEC]);
}

/* The handle is close-on-exec: a child that execs drops its copy. */
TEST_F(timer, exec_drops_the_handle)
{
	int t = make_timer(self->dev, self->vfd, 0, 1000000, 1000000);
	uint64_t after_exec;
	int status, sync[2];
	pid_t child;
	char c;

	ASSERT_LE(0, t);
	/* Its write end, close-on-exec too, closes in the same exec. */
	ASSERT_EQ(0, pipe2(sync, O_CLOEXEC));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		execl("/bin/sleep", "sleep", "10", (char *)NULL);
		_exit(127);
	}
	close(t);
	close(sync[1]);
	/* End of file: the child has exec'd and lives on. */
	EXPECT_EQ(0, read(sync[0], &c, 1));
	close(sync[0]);
	/*
	 * The files the exec closed are released by the child's task work
	 * on its way to user space, in no order this side can see: the pipe
	 * may reach end of file before the timer's release has run, and on
	 * one CPU the child may not run again for a while.  So wait, within
	 * a bound, for 5 periods without an expiry; a timer the exec did
	 * not drop fires in every one of them for as long as the child lives.
	 */
	EXPECT_TRUE(quiet_within(VEC, 5000000, 2000000000));
	after_exec = uintr_received[VEC];
	spin_ns(20000000);
	EXPECT_EQ(after_exec, uintr_received[VEC]);
	EXPECT_EQ(0, kill(child, SIGKILL));
	ASSERT_EQ(child, waitpid(child, &status, 0));
	/* The child lived on in the exec'd program: its exit closed nothing. */
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

/*
 * Teardown in every order, many times, with timers firing on both CPUs:
 * the handle closed first, the receiver gone first (its thread exits with
 * the timer running), a forked child holding the last copy, an exec'd
 * child dropping its copy.  Afterwards no timer and no receiver is left.
 */
struct churn {
	int order;
	int err;
};

static void *churn_thread(void *arg)
{
	struct churn *c = arg;
	int dev = uintr_open(), vfd, t, status;
	struct uintr_handler_args h = { .handler = (uintptr_t)uintr_count_handler };
	pid_t child;

	if (dev < 0 || ioctl(dev, UINTR_REGISTER_HANDLER, &h)) {
		c->err = errno;
		return NULL;
	}
	_stui();
	vfd = uintr_vector_fd(dev, VEC);
	t = make_timer(dev, vfd, 0, 500000, 500000);
	if (vfd < 0 || t < 0) {
		c->err = errno;
		return NULL;
	}
	spin_ns(1000000);
	switch (c->order) {
	case 0:		/* the handle first, then the receiver */
		close(t);
		break;
	case 1:		/* the receiver first: the thread ends, the timer runs */
		break;
	case 2:		/* a child holds the last copy for a while */
		child = fork();
		if (child == 0) {
			usleep(2000);
			_exit(0);
		}
		close(t);
		if (child < 0 || waitpid(child, &status, 0) != child)
			c->err = ECHILD;
		break;
	case 3:		/* a child's exec drops its copy */
		child = fork();
		if (child == 0) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		close(t);
		if (child < 0 || waitpid(child, &status, 0) != child)
			c->err = ECHILD;
		break;
	}
	_clui();
	close(vfd);
	close(dev);
	/* Order 1 leaves the handle open: the caller closes it after exit. */
	return c->order == 1 ? (void *)(intptr_t)(t + 1) : NULL;
}

TEST(teardown_in_every_order_under_load)
{
	long timers0 = uintr_stat("timers"), receivers0 = uintr_stat("receivers");
	int64_t t0 = now_ns();

	if (!uintr_kernel_supported())
		SKIP(return, "no user interrupts in this kernel or CPU");
	for (int i = 0; i < 16; i++) {
		struct churn c[2] = { { .order = i % 4 }, { .order = (i + 1) % 4 } };
		pthread_t th[2];
		void *left;

		for (int k = 0; k < 2; k++)
			ASSERT_EQ(0, pthread_create(&th[k], NULL, churn_thread, &c[k]));
		for (int k = 0; k < 2; k++) {
			ASSERT_EQ(0, pthread_join(th[k], &left));
			ASSERT_EQ(0, c[k].err);
			if (left)
				close((int)(intptr_t)left - 1);
		}
	}
	TH_LOG("16 rounds of two receivers in %lld ms", (long long)(now_ns() - t0) / 1000000);
	if (timers0 < 0)
		return;
	/* The last receivers end in their threads' last steps. */
	for (int i = 0; i < 100 && uintr_stat("receivers") != receivers0; i++)
		usleep(10000);
	EXPECT_EQ(timers0, uintr_stat("timers"));
	EXPECT_EQ(receivers0, uintr_stat("receivers"));
}

TEST_HARNESS_MAIN
