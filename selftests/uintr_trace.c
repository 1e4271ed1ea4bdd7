// SPDX-License-Identifier: GPL-2.0
/*
 * The module's tracepoints (system "uintr"): a receiver registering and
 * going, a kernel post (here by a watched eventfd), the kernel vector
 * waking a waiter, an exit to user space replaying a post and a count
 * collected for a counting fd each leave their event in the trace.
 */
#include "uintr_test.h"
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/epoll.h>
#include "kselftest_harness.h"

static const char *const tracing_dirs[] = {
	"/sys/kernel/tracing", "/sys/kernel/debug/tracing",
};

/* The tracefs directory with the uintr events, or NULL. */
static const char *tracing_dir(void)
{
	static char path[128];

	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/events/uintr", tracing_dirs[i]);
		if (!access(path, F_OK))
			return tracing_dirs[i];
	}
	if (!mount("tracefs", tracing_dirs[0], "tracefs", 0, NULL)) {
		snprintf(path, sizeof(path), "%s/events/uintr", tracing_dirs[0]);
		if (!access(path, F_OK))
			return tracing_dirs[0];
	}
	return NULL;
}

static int write_file(const char *dir, const char *name, const char *s)
{
	char path[160];
	int fd, ret;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd < 0)
		return -1;
	ret = write(fd, s, strlen(s)) == (ssize_t)strlen(s) ? 0 : -1;
	close(fd);
	return ret;
}

/* Turn the uintr events on, with an empty buffer; 0 or -1. */
static int trace_start(const char *dir)
{
	if (write_file(dir, "events/uintr/enable", "1") ||
	    write_file(dir, "tracing_on", "1"))
		return -1;
	return write_file(dir, "trace", "");
}

/* The trace so far, NUL-terminated, in a buffer the caller frees. */
static char *read_trace(const char *dir)
{
	size_t size = 1 << 20, len = 0;
	char path[160], *buf = malloc(size);
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/trace", dir);
	fd = open(path, O_RDONLY);
	if (!buf || fd < 0) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while (len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += n;
	buf[len] = 0;
	close(fd);
	return buf;
}

/* Print the uintr events of @trace, for the log. */
static void print_events(const char *trace)
{
	char *copy = strdup(trace);

	for (char *line = copy ? strtok(copy, "\n") : NULL; line; line = strtok(NULL, "\n"))
		if (strstr(line, "uintr_"))
			ksft_print_msg("%s\n", line);
	free(copy);
}

struct waiter {
	int dev, vfd, counting, mode;	/* mode 0: UINTR_WAIT, 1: read(), 2: sleep */
	volatile int ready;
	pid_t tid;
	int err;
	int go[2];
};

static void *receiver_thread(void *arg)
{
	struct uintr_wait_args a = { .timeout_ns = 10000000000LL, .flags = UINTR_WAIT_TIMEOUT };
	struct uintr_vector_args v = { .vector = 21, .flags = UINTR_VECTOR_FD_POLL };
	struct waiter *w = arg;
	uint64_t count;
	char c;

	if (uintr_register(w->dev, uintr_count_handler)) {
		w->err = errno;
		w->ready = 1;
		return NULL;
	}
	w->vfd = uintr_vector_fd(w->dev, 20);
	w->counting = ioctl(w->dev, UINTR_CREATE_VECTOR_FD, &v);
	w->tid = gettid();
	_stui();
	w->ready = 1;
	switch (w->mode) {
	case 0:
		if (ioctl(w->dev, UINTR_WAIT, &a))
			w->err = errno;
		break;
	case 1:
		if (read(w->counting, &count, sizeof(count)) != sizeof(count))
			w->err = errno;
		break;
	default:
		if (read(w->go[0], &c, 1) != 1)
			w->err = errno;
		break;
	}
	_clui();
	ioctl(w->dev, UINTR_UNREGISTER_HANDLER, 0);
	return NULL;
}

/* Start a receiver in @mode, post to it once it sleeps, let it end. */
static int post_to_sleeping(int dev, int mode, bool counting)
{
	struct waiter w = { .dev = dev, .vfd = -1, .counting = -1, .mode = mode };
	pthread_t t;
	int idx, ret = -1;

	if (pipe(w.go) || pthread_create(&t, NULL, receiver_thread, &w))
		return -1;
	while (!w.ready)
		sched_yield();
	if (w.err || w.vfd < 0 || w.counting < 0)
		goto out;
	idx = uintr_register_sender(dev, counting ? w.counting : w.vfd);
	if (idx < 0 || !uintr_await_sleeping(w.tid))
		goto out;
	_senduipi(idx);
	usleep(20000);
	ret = 0;
out:
	if (write(w.go[1], "x", 1) != 1)
		ret = -1;
	pthread_join(t, NULL);
	close(w.go[0]);
	close(w.go[1]);
	if (w.vfd >= 0)
		close(w.vfd);
	if (w.counting >= 0)
		close(w.counting);
	return ret ? ret : -w.err;
}

TEST(each_event_shows_where_a_post_went)
{
	struct uintr_watch_args wa = { .events = EPOLLIN };
	const char *dir;
	uint64_t one = 1;
	char *trace;
	int dev, vfd, efd, h;

	if (!uintr_kernel_supported())
		SKIP(return, "no user interrupts in this kernel or CPU");
	dir = tracing_dir();
	if (!dir)
		SKIP(return, "no tracefs with uintr events");
	ASSERT_EQ(0, trace_start(dir));

	dev = uintr_receiver_start();
	ASSERT_LE(0, dev);
	/* A kernel post: a watched eventfd, to this running receiver. */
	vfd = uintr_vector_fd(dev, 5);
	efd = eventfd(0, 0);
	ASSERT_LE(0, vfd);
	ASSERT_LE(0, efd);
	wa.source_fd = efd;
	wa.vector_fd = vfd;
	h = ioctl(dev, UINTR_WATCH_FD, &wa);
	ASSERT_LE(0, h);
	ASSERT_EQ((ssize_t)sizeof(one), write(efd, &one, sizeof(one)));
	uintr_spin_until(&uintr_received[5], 1);
	close(h);
	close(efd);
	close(vfd);
	/* The kernel vector wakes a waiter; a replay; a collection. */
	EXPECT_EQ(0, post_to_sleeping(dev, 0, false));
	EXPECT_EQ(0, post_to_sleeping(dev, 2, false));
	EXPECT_EQ(0, post_to_sleeping(dev, 1, true));
	uintr_receiver_stop(dev);

	write_file(dir, "events/uintr/enable", "0");
	trace = read_trace(dir);
	ASSERT_NE(NULL, trace);
	print_events(trace);
	EXPECT_NE(NULL, strstr(trace, "uintr_receiver: upid=")) {
		TH_LOG("%s", trace);
	}
	EXPECT_NE(NULL, strstr(trace, " registered"));
	EXPECT_NE(NULL, strstr(trace, " gone"));
	EXPECT_NE(NULL, strstr(trace, "uintr_kernel_post: upid="));
	EXPECT_NE(NULL, strstr(trace, "vector=5 source=watch"));
	EXPECT_NE(NULL, strstr(trace, "uintr_kernel_vector: waiters_woken=1"));
	EXPECT_NE(NULL, strstr(trace, "uintr_replay: upid="));
	EXPECT_NE(NULL, strstr(trace, "uintr_collect: upid="));
	EXPECT_NE(NULL, strstr(trace, "vectors=0x200000 from=pir"));
	free(trace);
}

/* A timer's post interrupts a waking receiver's read(): uintr_wake says so. */
TEST(a_wake_shows_the_return_value_it_changed)
{
	struct uintr_timer_args t = { .initial_ns = 20 * 1000 * 1000 };
	const char *dir;
	char *trace, c;
	int dev, fds[2], timer;

	if (!uintr_kernel_supported())
		SKIP(return, "no user interrupts in this kernel or CPU");
	dir = tracing_dir();
	if (!dir)
		SKIP(return, "no tracefs with uintr events");
	ASSERT_EQ(0, trace_start(dir));
	dev = uintr_receiver_start_flags(UINTR_HANDLER_WAKE);
	ASSERT_LE(0, dev);
	ASSERT_EQ(0, pipe(fds));
	t.vector_fd = uintr_vector_fd(dev, 4);
	ASSERT_LE(0, t.vector_fd);
	timer = ioctl(dev, UINTR_CREATE_TIMER, &t);
	ASSERT_LE(0, timer);
	EXPECT_EQ(-1, read(fds[0], &c, 1));
	EXPECT_EQ(EINTR, errno);
	uintr_receiver_stop(dev);
	write_file(dir, "events/uintr/enable", "0");
	trace = read_trace(dir);
	ASSERT_NE(NULL, trace);
	/* A pipe read interrupted: ERESTARTSYS (512) becomes EINTR. */
	EXPECT_NE(NULL, strstr(trace, "uintr_wake: upid=")) {
		TH_LOG("%s", trace);
	}
	EXPECT_NE(NULL, strstr(trace, "ret=-512 now=-4"));
	free(trace);
	close(timer);
	close(t.vector_fd);
	close(fds[0]);
	close(fds[1]);
}

TEST_HARNESS_MAIN
