// SPDX-License-Identifier: GPL-2.0
/*
 * CPU hotplug: a receiver parked on a CPU (blocked in UINTR_WAIT, or with
 * polled vectors while it is off its CPU) still gets every post when that
 * CPU goes offline, and the CPU can come back with receivers running.
 * Needs CPU 1 and /sys/devices/system/cpu/cpu1/online.
 */
#include "uintr_test.h"
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include "kselftest_harness.h"

#define CPU1_ONLINE "/sys/devices/system/cpu/cpu1/online"

static int set_cpu1(bool online)
{
	int fd = open(CPU1_ONLINE, O_WRONLY);
	int ret;

	if (fd < 0)
		return -1;
	ret = write(fd, online ? "1" : "0", 1) == 1 ? 0 : -1;
	close(fd);
	return ret;
}

static int pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

static long long read_count(int fd)
{
	uint64_t count = 0;
	ssize_t n = read(fd, &count, sizeof(count));

	if (n < 0)
		return -errno;
	return n == sizeof(count) ? (long long)count : 0;
}

FIXTURE(cpu1) {
	int dev;
};

FIXTURE_SETUP(cpu1)
{
	self->dev = -1;
	if (!uintr_kernel_supported())
		SKIP(return, "no user interrupts in this kernel or CPU");
	if (access(CPU1_ONLINE, W_OK) || sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "CPU 1 cannot go offline here");
	ASSERT_EQ(0, pin_to(0));
	self->dev = uintr_open();
	ASSERT_LE(0, self->dev);
}

FIXTURE_TEARDOWN(cpu1)
{
	set_cpu1(true);
	if (self->dev >= 0)
		close(self->dev);
}

/* A receiver on CPU 1 that blocks in UINTR_WAIT or in read() of a fd. */
struct parked {
	int dev;
	bool polled;		/* block in read() of a counting fd */
	int vfd;		/* counting fd (polled) */
	int plain;		/* for the sender */
	pid_t tid;
	volatile int ready;
	volatile int res;	/* -1 while blocked, then 0 or errno */
	long long count;
	long ms;		/* how long it was blocked */
};

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *parked_thread(void *arg)
{
	struct uintr_wait_args w = { .timeout_ns = 10000000000LL, .flags = UINTR_WAIT_TIMEOUT };
	struct uintr_vector_args v = { .vector = 7, .flags = UINTR_VECTOR_FD_POLL };
	struct parked *p = arg;
	long t0;

	p->res = -1;
	if (pin_to(1) || uintr_register(p->dev, uintr_count_handler)) {
		p->res = errno;
		p->ready = 1;
		return NULL;
	}
	/* A counting fd made on CPU 1 puts the receiver into CPU 1's list. */
	if (p->polled)
		p->vfd = ioctl(p->dev, UINTR_CREATE_VECTOR_FD, &v);
	p->plain = uintr_vector_fd(p->dev, 7);
	p->tid = gettid();
	_stui();
	p->ready = 1;
	t0 = now_ms();
	if (p->polled) {
		struct pollfd pf = { .fd = p->vfd, .events = POLLIN };

		p->res = poll(&pf, 1, 10000) == 1 ? 0 : ETIMEDOUT;
		p->count = read_count(p->vfd);
	} else {
		p->res = ioctl(p->dev, UINTR_WAIT, &w) ? errno : 0;
	}
	p->ms = now_ms() - t0;
	for (int i = 0; i < 100000; i++)
		__builtin_ia32_pause();
	_clui();
	ioctl(p->dev, UINTR_UNREGISTER_HANDLER, 0);
	return NULL;
}

static void parked_run(struct __test_metadata *_metadata, int dev, bool polled)
{
	struct parked p = { .dev = dev, .polled = polled, .vfd = -1, .plain = -1 };
	pthread_t t;
	int idx;

	memset((void *)uintr_received, 0, sizeof(uintr_received));
	ASSERT_EQ(0, pthread_create(&t, NULL, parked_thread, &p));
	while (!p.ready)
		sched_yield();
	ASSERT_LE(0, p.plain);
	idx = uintr_register_sender(dev, p.plain);
	ASSERT_LE(0, idx);
	ASSERT_TRUE(uintr_await_sleeping(p.tid));
	/* The thread moves to CPU 0; its UPID still names CPU 1. */
	ASSERT_EQ(0, set_cpu1(false));
	_senduipi(idx);
	ASSERT_EQ(0, pthread_join(t, NULL));
	/*
	 * Woken by the post, not found at the end of its 10 s: a wait that
	 * times out still sees the post in PIR and returns 0.
	 */
	EXPECT_EQ(0, p.res);
	EXPECT_GT(5000, p.ms) TH_LOG("blocked %ld ms; %ld waits moved", p.ms,
				     uintr_stat("wait_moves"));
	if (polled) {
		EXPECT_EQ(1, p.count);
	} else {
		EXPECT_EQ(1U, uintr_received[7]);
	}
	ASSERT_EQ(0, set_cpu1(true));
	ioctl(dev, UINTR_UNREGISTER_SENDER, idx);
	close(p.plain);
	if (p.vfd >= 0)
		close(p.vfd);
}

TEST_F_TIMEOUT(cpu1, a_waiter_parked_on_an_offline_cpu_wakes_for_its_post, 120)
{
	parked_run(_metadata, self->dev, false);
}

TEST_F_TIMEOUT(cpu1, a_polled_receiver_on_an_offline_cpu_wakes_its_reader, 120)
{
	parked_run(_metadata, self->dev, true);
}

/* A receiver that spins, yields and waits in turn, on any CPU. */
struct roamer {
	int dev;
	int plain;
	volatile int ready;
	volatile int stop;
	int err;
};

static void *roamer_thread(void *arg)
{
	struct uintr_wait_args w = { .timeout_ns = 2000000LL, .flags = UINTR_WAIT_TIMEOUT };
	struct roamer *r = arg;

	if (uintr_register(r->dev, uintr_count_handler)) {
		r->err = errno;
		r->ready = 1;
		return NULL;
	}
	r->plain = uintr_vector_fd(r->dev, 4);
	_stui();
	r->ready = 1;
	for (unsigned int i = 0; !r->stop; i++) {
		if (i % 3 == 0)
			ioctl(r->dev, UINTR_WAIT, &w);
		else if (i % 3 == 1)
			sched_yield();
		else
			for (int j = 0; j < 2000; j++)
				__builtin_ia32_pause();
	}
	/* Whatever is still in flight arrives before the handler goes. */
	for (int i = 0; i < 200000; i++)
		__builtin_ia32_pause();
	_clui();
	ioctl(r->dev, UINTR_UNREGISTER_HANDLER, 0);
	return NULL;
}

/*
 * CPU 1 goes offline and online again and again while a receiver roams
 * over both CPUs and this thread sends: nothing is lost, nothing hangs.
 */
#define HOTPLUG_ROUNDS 6
#define POSTS_PER_ROUND 20

TEST_F_TIMEOUT(cpu1, offline_and_online_while_posting_loses_nothing, 600)
{
	struct roamer r = { .dev = self->dev, .plain = -1 };
	uint64_t sent = 0;
	pthread_t t;
	int idx;

	memset((void *)uintr_received, 0, sizeof(uintr_received));
	uintr_total = 0;
	ASSERT_EQ(0, pthread_create(&t, NULL, roamer_thread, &r));
	while (!r.ready)
		sched_yield();
	ASSERT_EQ(0, r.err);
	idx = uintr_register_sender(self->dev, r.plain);
	ASSERT_LE(0, idx);
	for (int round = 0; round < HOTPLUG_ROUNDS; round++) {
		for (int i = 0; i < POSTS_PER_ROUND; i++) {
			_senduipi(idx);
			sent++;
			if (i == POSTS_PER_ROUND / 2)
				ASSERT_EQ(0, set_cpu1(round % 2));
			/*
			 * Posts of one vector coalesce in PIR: send the next
			 * only once this one arrived, or give up on it.
			 */
			for (int ms = 0; ms < 5000 && uintr_received[4] < sent; ms++)
				usleep(1000);
			ASSERT_EQ(sent, uintr_received[4])
				TH_LOG("post %lu of round %d not received", (unsigned long)sent, round);
		}
	}
	ASSERT_EQ(0, set_cpu1(true));
	r.stop = 1;
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(sent, uintr_received[4]);
	ioctl(self->dev, UINTR_UNREGISTER_SENDER, idx);
	close(r.plain);
}

TEST_HARNESS_MAIN
