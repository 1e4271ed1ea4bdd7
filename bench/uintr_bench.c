// SPDX-License-Identifier: GPL-2.0
/*
 * uintr_bench: what a user interrupt costs against the kernel's other ways
 * of waking a thread (eventfd, pipe, signal, futex, Unix socket), and what
 * the UINTR hooks cost context switches and system calls of everyone else.
 *
 * Ping-pong cases: two sides, pinned to CPU 0 and CPU 1, either two threads
 * of one process or two processes; side 0 sends, waits for the answer and
 * times the round trip with RDTSC; side 1 answers.  Context-switch cases
 * (lat_ctx style): the same pipe ping-pong with both sides on CPU 0, so
 * that every round trip is two context switches.  System-call cases: a
 * getppid() loop in a plain thread and in a receiver.
 *
 * Every case runs REPEATS times, each time with new threads or processes,
 * and prints one line "BENCH {json}" (the median of the runs' medians, and
 * p99, mean, min and max over all round trips, in TSC ticks; the ratio to
 * the spinning user-IPI case; the kernel entries per round trip) and a "#"
 * line for people.  Kernel
 * entries are counted this way: system calls at each call site in this
 * program (plus one rt_sigreturn per signal handled); page faults and
 * context switches from getrusage(RUSAGE_THREAD) deltas of both sides;
 * interrupts from /proc/interrupts deltas over all CPUs, with the local
 * timer tick reported apart.  UINTR cases are skipped, with a BENCH line
 * saying so, when the kernel or CPU has no user interrupts.
 *
 * Usage: uintr_bench [--only ctx|syscall|ipc]... [--state NAME]
 *                    [-n ROUNDTRIPS] [-r REPEATS]
 * Defaults come from the environment (the guest's kernel command line):
 * uintr_bench_n (1000), uintr_bench_reps (5), uintr_bench_machine (a
 * label for the BENCH lines).  --state names the module state the lines
 * carry; by default it is "loaded" or "unloaded" from /proc/modules.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <x86gprintrin.h>
#include <x86intrin.h>
#include <linux/uintr.h>

#define UINTR_DEV "/dev/uintr"
#define MAX_REPS 32

/* ------------------------------------------------------------------ */
/* Configuration and machine description                               */

static int opt_n = 1000;
static int opt_reps = 5;
static const char *opt_machine = "unknown";
static const char *opt_state;
static unsigned int opt_only;	/* bit set of ONLY_*; 0 = all */
#define ONLY_CTX	1u
#define ONLY_SYSCALL	2u
#define ONLY_IPC	4u

static int ncpus;
static bool have_uintr;		/* kernel and CPU: UINTR usable */
static char uintr_why[128] = "";	/* why not */
static char cpu_model[128] = "?";
static double cpu_mhz;
static char kernel_release[128] = "?";
static char module_state[32] = "?";

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "uintr_bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static bool cpuinfo_has_uintr(void)
{
	char line[4096];
	bool found = false;
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "model name", 10) && !strcmp(cpu_model, "?")) {
			char *p = strchr(line, ':');

			if (p) {
				snprintf(cpu_model, sizeof(cpu_model), "%s", p + 2);
				cpu_model[strcspn(cpu_model, "\n")] = 0;
			}
		}
		if (!strncmp(line, "cpu MHz", 7) && cpu_mhz == 0) {
			char *p = strchr(line, ':');

			if (p)
				cpu_mhz = atof(p + 1);
		}
		if (!strncmp(line, "flags", 5) && !found)
			found = strstr(line, " uintr ") || strstr(line, " uintr\n");
	}
	fclose(f);
	return found;
}

static bool module_loaded(void)
{
	char line[512];
	bool found = false;
	FILE *f = fopen("/proc/modules", "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "uintr ", 6))
			found = true;
	fclose(f);
	return found;
}

/*
 * A JSON string body: the values printed here never hold quotes.  The
 * result lives in one of eight buffers used in turn, so one printf() can
 * take up to eight of them.
 */
static const char *js(const char *s)
{
	static char buf[8][256];
	static int k;
	char *o = buf[k++ & 7];
	size_t j = 0;

	for (; *s && j < 250; s++)
		o[j++] = (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20) ? '_' : *s;
	o[j] = 0;
	return o;
}

/* ------------------------------------------------------------------ */
/* Timing and statistics                                               */

static inline uint64_t tsc(void)
{
	_mm_lfence();
	return __rdtsc();
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct stats {
	double median, p99, mean;
	uint64_t min, max;
};

static struct stats summarize(uint64_t *v, int n)
{
	struct stats s = { 0 };
	double sum = 0;
	int i99;

	qsort(v, n, sizeof(*v), cmp_u64);
	for (int i = 0; i < n; i++)
		sum += v[i];
	s.median = (v[(n - 1) / 2] + v[n / 2]) / 2.0;
	i99 = (int)((n * 99 + 99) / 100) - 1;	/* ceil(0.99 n) - 1 */
	s.p99 = v[i99 < 0 ? 0 : i99];
	s.mean = sum / n;
	s.min = v[0];
	s.max = v[n - 1];
	return s;
}

static double median_of(double *v, int n)
{
	double t[MAX_REPS];

	memcpy(t, v, n * sizeof(*v));
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && t[j - 1] > t[j]; j--) {
			double x = t[j];

			t[j] = t[j - 1];
			t[j - 1] = x;
		}
	return (t[(n - 1) / 2] + t[n / 2]) / 2.0;
}

/* ------------------------------------------------------------------ */
/* Kernel-entry accounting                                             */

#define IRQ_LINES 64

struct irqs {
	uint64_t all, loc, uin, uik;
	int lines;
	char label[IRQ_LINES][12];
	uint64_t count[IRQ_LINES];
};

/* Sums every line of /proc/interrupts over all CPUs. */
static void read_irqs(struct irqs *r)
{
	static char buf[65536];
	int fd = open("/proc/interrupts", O_RDONLY | O_CLOEXEC);
	ssize_t len = 0, k;
	char *line, *save;

	memset(r, 0, sizeof(*r));
	if (fd < 0)
		return;
	while ((k = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += k;
	close(fd);
	buf[len] = 0;
	line = strtok_r(buf, "\n", &save);	/* header: CPU0 CPU1 ... */
	while ((line = strtok_r(NULL, "\n", &save))) {
		char *p = strchr(line, ':'), *l = line;
		uint64_t sum = 0;

		if (!p)
			continue;
		while (*l == ' ')
			l++;
		*p++ = 0;
		for (int c = 0; c < ncpus; c++) {
			char *e;
			unsigned long long v = strtoull(p, &e, 10);

			if (e == p)
				break;
			sum += v;
			p = e;
		}
		r->all += sum;
		if (!strcmp(l, "LOC"))
			r->loc += sum;
		else if (!strcmp(l, "UIN"))
			r->uin += sum;
		else if (!strcmp(l, "UIK"))
			r->uik += sum;
		if (r->lines < IRQ_LINES) {
			snprintf(r->label[r->lines], sizeof(r->label[0]), "%s", l);
			r->count[r->lines++] = sum;
		}
	}
}

struct usage {
	uint64_t csw, faults;
};

static struct usage thread_usage(void)
{
	struct rusage ru;
	struct usage u = { 0 };

	if (!getrusage(RUSAGE_THREAD, &ru)) {
		u.csw = ru.ru_nvcsw + ru.ru_nivcsw;
		u.faults = ru.ru_minflt + ru.ru_majflt;
	}
	return u;
}

/* ------------------------------------------------------------------ */
/* Shared state of one case: in MAP_SHARED memory, so that it works for  */
/* threads and processes alike.                                        */

struct side_acct {
	uint64_t sys;		/* system calls made by the mechanism */
	struct usage u0, u1;
	char pad[64];
};

struct shared {
	volatile int ready;	/* sides that finished their set-up */
	volatile int go;	/* side 0 took its snapshots */
	volatile int done;	/* side 0 took its final snapshots */
	volatile int err;	/* first error, errno-like, with where */
	char where[64];
	char pad0[64];
	volatile uint32_t fut[2] __attribute__((aligned(64)));	/* futex words, one per direction */
	char pad1[64];
	volatile int vfd[2];	/* vector fds (threads: same fd table) */
	volatile int hs[2];	/* hand-shakes of the UINTR set-up (threads) */
	volatile pid_t tid[2];
	struct side_acct acct[2] __attribute__((aligned(64)));
	struct irqs irq0, irq1;
	uint64_t samples[];	/* round trips, by side 0 */
};

struct bcase;

/* A mechanism: how one side tells the other, and how it waits. */
struct mech {
	const char *name;
	const char *what;
	bool uintr;		/* needs user interrupts */
	bool spin;		/* both sides busy-wait: needs two CPUs */
	int (*setup)(struct bcase *c);		/* before the sides exist */
	int (*side_init)(struct bcase *c, int side);	/* in the side */
	void (*send)(struct bcase *c, int side);
	void (*wait)(struct bcase *c, int side);
	void (*side_fini)(struct bcase *c, int side);
	void (*teardown)(struct bcase *c);
};

struct bcase {
	const struct mech *m;
	bool procs;		/* two processes, else two threads */
	bool same_cpu;		/* both sides on CPU 0 */
	bool receivers;		/* both sides register a UINTR handler first */
	int n, warm;
	struct shared *sh;
	size_t sh_size;
	int fds[4];		/* mechanism fds made in setup() */
	int sp[2];		/* socketpair for passing vector fds */
	/* Per side, valid in that side only (threads: each its own slot). */
	int dev[2];
	int idx[2];		/* UITT index that reaches the other side */
	int pfd[2];		/* uipi_read: this side's polled vector fd */
	uint64_t expect[2];
};

static void fail(struct bcase *c, const char *where)
{
	if (!c->sh->err) {
		snprintf(c->sh->where, sizeof(c->sh->where), "%s", where);
		c->sh->err = errno ? errno : -1;
	}
}

static inline void count_sys(struct bcase *c, int side)
{
	c->sh->acct[side].sys++;
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* Wait for *flag >= want; yield so that sides sharing a CPU progress. */
static void await(volatile int *flag, int want, struct bcase *c)
{
	while (*flag < want && !c->sh->err)
		sched_yield();
}

/* ------------------------------------------------------------------ */
/* User interrupts                                                     */

struct __uintr_frame;
static volatile uint64_t uintr_got[UINTR_MAX_VECTORS];

static void __attribute__((interrupt, target("general-regs-only")))
uintr_handler(struct __uintr_frame *frame, unsigned long long vector)
{
	if (vector < UINTR_MAX_VECTORS)
		uintr_got[vector]++;
}

static int send_fd(int sock, int fd)
{
	char data = 'v';
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char data;
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(sock, &msg, 0) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/* Make this side a receiver: handler registered, UIF set. */
static int become_receiver(struct bcase *c, int side)
{
	struct uintr_handler_args h = { .handler = (uintptr_t)uintr_handler };

	c->dev[side] = open(UINTR_DEV, O_RDWR | O_CLOEXEC);
	if (c->dev[side] < 0) {
		fail(c, "open /dev/uintr");
		return -1;
	}
	if (ioctl(c->dev[side], UINTR_REGISTER_HANDLER, &h)) {
		fail(c, "UINTR_REGISTER_HANDLER");
		return -1;
	}
	_stui();
	return 0;
}

static void stop_receiver(struct bcase *c, int side)
{
	_clui();
	if (c->idx[side] >= 0)
		ioctl(c->dev[side], UINTR_UNREGISTER_SENDER, c->idx[side]);
	ioctl(c->dev[side], UINTR_UNREGISTER_HANDLER, 0);
	close(c->dev[side]);
}

/*
 * Side s receives vector s.  Each side makes a vector fd for itself, hands
 * it to the other side (threads: the shared fd table; processes: SCM_RIGHTS)
 * and registers as a sender with the one it gets.
 */
static int uipi_side_init_flags(struct bcase *c, int side, __u32 flags)
{
	struct uintr_vector_args v = { .vector = side, .flags = flags };
	struct uintr_sender_args s;
	int mine, other;

	c->idx[side] = -1;
	c->pfd[side] = -1;
	c->expect[side] = 0;
	uintr_got[side] = 0;
	if (become_receiver(c, side))
		return -1;
	mine = ioctl(c->dev[side], UINTR_CREATE_VECTOR_FD, &v);
	if (mine < 0) {
		fail(c, "UINTR_CREATE_VECTOR_FD");
		return -1;
	}
	if (c->procs) {
		if (send_fd(c->sp[side], mine)) {
			fail(c, "send vector fd");
			return -1;
		}
		other = recv_fd(c->sp[side]);
	} else {
		c->sh->vfd[side] = mine;
		__atomic_add_fetch(&c->sh->hs[0], 1, __ATOMIC_SEQ_CST);
		await(&c->sh->hs[0], 2, c);
		other = c->sh->vfd[1 - side];
	}
	if (other < 0) {
		fail(c, "receive vector fd");
		return -1;
	}
	s = (struct uintr_sender_args){ .fd = other };
	c->idx[side] = ioctl(c->dev[side], UINTR_REGISTER_SENDER, &s);
	if (c->idx[side] < 0) {
		fail(c, "UINTR_REGISTER_SENDER");
		return -1;
	}
	if (c->procs) {
		close(other);
	} else {
		/* One fd table: the other side may close only after both registered. */
		__atomic_add_fetch(&c->sh->hs[1], 1, __ATOMIC_SEQ_CST);
		await(&c->sh->hs[1], 2, c);
	}
	if (flags & UINTR_VECTOR_FD_POLL)
		c->pfd[side] = mine;
	else
		close(mine);
	return 0;
}

static int uipi_side_init(struct bcase *c, int side)
{
	return uipi_side_init_flags(c, side, 0);
}

static int uipi_read_side_init(struct bcase *c, int side)
{
	return uipi_side_init_flags(c, side, UINTR_VECTOR_FD_POLL);
}

static void uipi_send(struct bcase *c, int side)
{
	_senduipi(c->idx[side]);
}

static void uipi_spin_wait(struct bcase *c, int side)
{
	uint64_t want = ++c->expect[side];

	while (uintr_got[side] < want && !c->sh->err)
		_mm_pause();
}

/*
 * Blocked receiver.  UIF is cleared around the check so that an interrupt
 * arriving between the check and UINTR_WAIT stays pending in UIRR (the
 * wait then returns at once) instead of being delivered and then waited
 * for in vain.  STUI delivers what the wait found.
 */
static void uipi_block_wait(struct bcase *c, int side)
{
	uint64_t want = ++c->expect[side];
	struct uintr_wait_args w = { 0 };

	_clui();
	while (uintr_got[side] < want) {
		count_sys(c, side);
		if (ioctl(c->dev[side], UINTR_WAIT, &w) && errno != EINTR) {
			fail(c, "UINTR_WAIT");
			break;
		}
		_stui();
		_clui();
	}
	_stui();
}

/*
 * Receiver blocked in read() of its polled vector fd.  UIF is clear, so a
 * post that arrives while this side runs stays in UIRR, and the kernel
 * takes it for the fd at the XSAVES of the read's sleep: every post is
 * read, none reaches the handler.
 */
static void uipi_read_wait(struct bcase *c, int side)
{
	uint64_t want = ++c->expect[side];
	uint64_t n;

	_clui();
	while (uintr_got[side] < want) {
		count_sys(c, side);
		if (read(c->pfd[side], &n, sizeof(n)) == sizeof(n)) {
			uintr_got[side] += n;
		} else if (errno != EINTR) {
			fail(c, "read vector fd");
			break;
		}
	}
	_stui();
}

static void uipi_side_fini(struct bcase *c, int side)
{
	if (c->pfd[side] >= 0)
		close(c->pfd[side]);
	stop_receiver(c, side);
}

/* ------------------------------------------------------------------ */
/* eventfd                                                             */

static int efd_setup_flags(struct bcase *c, int flags)
{
	for (int i = 0; i < 2; i++) {
		c->fds[i] = eventfd(0, EFD_CLOEXEC | flags);
		if (c->fds[i] < 0)
			return -1;
	}
	return 0;
}

static int efd_setup(struct bcase *c)
{
	return efd_setup_flags(c, 0);
}

static int efd_setup_nb(struct bcase *c)
{
	return efd_setup_flags(c, EFD_NONBLOCK);
}

/* fds[s] wakes side s. */
static void efd_send(struct bcase *c, int side)
{
	uint64_t one = 1;

	count_sys(c, side);
	if (write(c->fds[1 - side], &one, sizeof(one)) != sizeof(one))
		fail(c, "eventfd write");
}

static void efd_wait(struct bcase *c, int side)
{
	uint64_t v;

	count_sys(c, side);
	if (read(c->fds[side], &v, sizeof(v)) != sizeof(v))
		fail(c, "eventfd read");
}

static void efd_poll_wait(struct bcase *c, int side)
{
	uint64_t v;

	for (;;) {
		count_sys(c, side);
		if (read(c->fds[side], &v, sizeof(v)) == sizeof(v))
			return;
		if (errno != EAGAIN) {
			fail(c, "eventfd read");
			return;
		}
	}
}

static void close_fds(struct bcase *c)
{
	for (int i = 0; i < 4; i++)
		if (c->fds[i] >= 0)
			close(c->fds[i]);
}

/* ------------------------------------------------------------------ */
/* Pipes and Unix sockets: fds[2 s] is read by side s, fds[2 s + 1]    */
/* written by the other side.                                          */

static int pipe_setup(struct bcase *c)
{
	int p[2];

	for (int i = 0; i < 2; i++) {
		if (pipe2(p, O_CLOEXEC))
			return -1;
		c->fds[2 * i] = p[0];
		c->fds[2 * i + 1] = p[1];
	}
	return 0;
}

static int sock_setup(struct bcase *c)
{
	int p[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p))
		return -1;
	/* One connection, both directions: side 0 holds p[0]. */
	c->fds[0] = p[0];
	c->fds[1] = p[1];
	c->fds[2] = -1;
	c->fds[3] = -1;
	return 0;
}

static void pipe_send(struct bcase *c, int side)
{
	char b = 'x';

	count_sys(c, side);
	if (write(c->fds[2 * (1 - side) + 1], &b, 1) != 1)
		fail(c, "pipe write");
}

static void pipe_wait(struct bcase *c, int side)
{
	char b;

	count_sys(c, side);
	if (read(c->fds[2 * side], &b, 1) != 1)
		fail(c, "pipe read");
}

static void sock_send(struct bcase *c, int side)
{
	char b = 'x';

	count_sys(c, side);
	if (write(c->fds[side], &b, 1) != 1)
		fail(c, "socket write");
}

static void sock_wait(struct bcase *c, int side)
{
	char b;

	count_sys(c, side);
	if (read(c->fds[side], &b, 1) != 1)
		fail(c, "socket read");
}

/* ------------------------------------------------------------------ */
/* Futex: fut[s] is the word side s waits on; each message increments it. */

static int futex_op(struct bcase *c, volatile uint32_t *w, int op, uint32_t val)
{
	if (!c->procs)
		op |= FUTEX_PRIVATE_FLAG;
	return syscall(SYS_futex, w, op, val, NULL, NULL, 0);
}

static void futex_send(struct bcase *c, int side)
{
	volatile uint32_t *w = &c->sh->fut[1 - side];

	__atomic_add_fetch(w, 1, __ATOMIC_SEQ_CST);
	count_sys(c, side);
	futex_op(c, w, FUTEX_WAKE, 1);
}

static void futex_wait(struct bcase *c, int side)
{
	volatile uint32_t *w = &c->sh->fut[side];
	uint32_t want = (uint32_t)++c->expect[side];
	uint32_t v;

	while ((v = __atomic_load_n(w, __ATOMIC_SEQ_CST)) != want) {
		count_sys(c, side);
		if (futex_op(c, w, FUTEX_WAIT, v) && errno != EAGAIN && errno != EINTR) {
			fail(c, "futex wait");
			return;
		}
	}
}

static int futex_side_init(struct bcase *c, int side)
{
	c->expect[side] = 0;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Signals: SIGUSR1 taken with sigwaitinfo() (blocked receiver), and    */
/* SIGUSR2 delivered to a handler while the receiver spins.            */

static __thread int sig_side;
static volatile uint64_t sig_got[2];
static uint64_t sig_seen[2];

static void sig_handler(int sig)
{
	sig_got[sig_side]++;
}

static int sig_side_init(struct bcase *c, int side)
{
	sigset_t set;

	c->sh->tid[side] = gettid();
	sig_side = side;
	c->expect[side] = 0;
	sig_got[side] = 0;
	sig_seen[side] = 0;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	return 0;
}

static void sig_send_signo(struct bcase *c, int side, int signo)
{
	int r;

	count_sys(c, side);
	if (c->procs)
		r = kill(c->sh->tid[1 - side], signo);
	else
		r = syscall(SYS_tgkill, getpid(), c->sh->tid[1 - side], signo);
	if (r)
		fail(c, "kill");
}

static void sigw_send(struct bcase *c, int side)
{
	sig_send_signo(c, side, SIGUSR1);
}

static void sigw_wait(struct bcase *c, int side)
{
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	count_sys(c, side);
	if (sigwait(&set, &sig))
		fail(c, "sigwait");
}

static int sigh_setup(struct bcase *c)
{
	struct sigaction sa = { .sa_handler = sig_handler, .sa_flags = SA_RESTART };

	sigemptyset(&sa.sa_mask);
	return sigaction(SIGUSR2, &sa, NULL);
}

static void sigh_send(struct bcase *c, int side)
{
	sig_send_signo(c, side, SIGUSR2);
}

static void sigh_wait(struct bcase *c, int side)
{
	uint64_t want = ++c->expect[side];

	while (sig_got[side] < want && !c->sh->err)
		_mm_pause();
	/* Each signal handled returned through rt_sigreturn. */
	c->sh->acct[side].sys += sig_got[side] - sig_seen[side];
	sig_seen[side] = sig_got[side];
}

static void sigh_teardown(struct bcase *c)
{
	signal(SIGUSR2, SIG_DFL);
}

/* ------------------------------------------------------------------ */

static const struct mech mechs[] = {
	{ "uipi_spin", "user IPI, receiver spinning", true, true,
	  NULL, uipi_side_init, uipi_send, uipi_spin_wait, uipi_side_fini, NULL },
	{ "uipi_wait", "user IPI, receiver blocked in UINTR_WAIT", true, false,
	  NULL, uipi_side_init, uipi_send, uipi_block_wait, uipi_side_fini, NULL },
	{ "uipi_read", "user IPI, receiver blocked in read() of a polled vector fd", true, false,
	  NULL, uipi_read_side_init, uipi_send, uipi_read_wait, uipi_side_fini, NULL },
	{ "eventfd", "eventfd, blocking read", false, false,
	  efd_setup, NULL, efd_send, efd_wait, NULL, NULL },
	{ "eventfd_poll", "eventfd, busy-polling non-blocking read", false, true,
	  efd_setup_nb, NULL, efd_send, efd_poll_wait, NULL, NULL },
	{ "pipe", "pipe, 1 byte", false, false,
	  pipe_setup, NULL, pipe_send, pipe_wait, NULL, NULL },
	{ "unix_socket", "Unix stream socket, 1 byte", false, false,
	  sock_setup, NULL, sock_send, sock_wait, NULL, NULL },
	{ "futex", "futex wake/wait", false, false,
	  NULL, futex_side_init, futex_send, futex_wait, NULL, NULL },
	{ "signal_wait", "signal, receiver blocked in sigwaitinfo", false, false,
	  NULL, sig_side_init, sigw_send, sigw_wait, NULL, NULL },
	{ "signal_handler", "signal, handler runs while the receiver spins", false, true,
	  sigh_setup, sig_side_init, sigh_send, sigh_wait, NULL, sigh_teardown },
};

/* The mechanism the context-switch cases ping-pong with. */
static const struct mech *ctx_mech(void)
{
	for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
		if (!strcmp(mechs[i].name, "pipe"))
			return &mechs[i];
	abort();
}

/* ------------------------------------------------------------------ */
/* Running a case                                                      */

static void side_run(struct bcase *c, int side)
{
	struct shared *sh = c->sh;
	const struct mech *m = c->m;
	int total = c->warm + c->n;

	pin(c->same_cpu ? 0 : side);
	c->dev[side] = -1;
	c->idx[side] = -1;
	if (c->receivers && become_receiver(c, side))
		goto out;
	if (m->side_init && m->side_init(c, side))
		goto out;
	/* No page fault inside the measurement: touch what it writes. */
	memset(&sh->acct[side], 0, sizeof(sh->acct[side]));
	if (side == 0)
		memset(sh->samples, 0, c->n * sizeof(sh->samples[0]));
	__atomic_add_fetch(&sh->ready, 1, __ATOMIC_SEQ_CST);
	await(&sh->ready, 2, c);
	if (sh->err)
		goto fini;

	if (side == 0) {
		for (int i = 0; i < total && !sh->err; i++) {
			uint64_t t0, t1;

			if (i == c->warm) {
				/* Snapshots, then release side 1's. */
				read_irqs(&sh->irq0);
				sh->acct[0].u0 = thread_usage();
				sh->acct[0].sys = 0;
				sh->go = 1;
			}
			t0 = tsc();
			m->send(c, 0);
			m->wait(c, 0);
			t1 = tsc();
			if (i >= c->warm)
				sh->samples[i - c->warm] = t1 - t0;
		}
		sh->acct[0].u1 = thread_usage();
		read_irqs(&sh->irq1);
		sh->done = 1;
	} else {
		for (int i = 0; i < total && !sh->err; i++) {
			if (i == c->warm) {
				while (!sh->go && !sh->err)
					_mm_pause();
				sh->acct[1].u0 = thread_usage();
				sh->acct[1].sys = 0;
			}
			m->wait(c, 1);
			m->send(c, 1);
		}
		sh->acct[1].u1 = thread_usage();
	}
fini:
	if (m->side_fini)
		m->side_fini(c, side);
	else if (c->receivers)
		stop_receiver(c, side);
out:
	if (sh->err) {
		/* Unstick the other side where it can be. */
		sh->go = 1;
		sh->ready = 100;
	}
}

struct thread_arg {
	struct bcase *c;
	int side;
};

static void *side_thread(void *p)
{
	struct thread_arg *a = p;

	side_run(a->c, a->side);
	return NULL;
}

/* One case run reps times: pooled samples, summed counts. */
struct result {
	int n, reps;
	uint64_t *pool;		/* n * reps round trips */
	double rep_median[MAX_REPS];
	uint64_t sys, faults, csw, loc, irqs, uin, uik;
	struct irqs lines;	/* per-line deltas, summed over the reps */
	double elapsed;		/* seconds of CLOCK_MONOTONIC for all reps */
	int err;
	char where[64];
	/* Filled in by finish(). */
	struct stats st;	/* median: of the reps' medians; the rest pooled */
	int slow;		/* round trips over 10 x the median */
	double per_rt_sys, per_rt_faults, per_rt_csw, per_rt_irqs, per_rt_timer;
	double per_rt_uin, per_rt_uik, per_rt_entries;
	char irq_json[512];
};

static void add_lines(struct irqs *acc, const struct irqs *a, const struct irqs *b)
{
	for (int i = 0; i < b->lines; i++) {
		uint64_t before = 0, d;
		int k;

		for (int j = 0; j < a->lines; j++)
			if (!strcmp(a->label[j], b->label[i]))
				before = a->count[j];
		d = b->count[i] - before;
		if (!d)
			continue;
		for (k = 0; k < acc->lines; k++)
			if (!strcmp(acc->label[k], b->label[i]))
				break;
		if (k == acc->lines) {
			if (k == IRQ_LINES)
				continue;
			snprintf(acc->label[k], sizeof(acc->label[0]), "%s", b->label[i]);
			acc->count[k] = 0;
			acc->lines++;
		}
		acc->count[k] += d;
	}
}

/* Runs one repetition of a case and adds it to r; 0 on success. */
static int run_case(struct bcase *c, struct result *r)
{
	struct thread_arg ta[2];
	pthread_t t[2];
	pid_t pid[2];
	double t0 = now();

	c->sh_size = sizeof(struct shared) + (size_t)c->n * sizeof(uint64_t);
	c->sh = mmap(NULL, c->sh_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (c->sh == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	for (int i = 0; i < 4; i++)
		c->fds[i] = -1;
	c->sp[0] = c->sp[1] = -1;
	if (c->m->setup && c->m->setup(c)) {
		r->err = errno;
		snprintf(r->where, sizeof(r->where), "set-up");
		goto out;
	}
	if (c->procs && c->m->uintr &&
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, c->sp))
		die("socketpair: %s", strerror(errno));

	if (c->procs) {
		for (int s = 0; s < 2; s++) {
			pid[s] = fork();
			if (pid[s] < 0)
				die("fork: %s", strerror(errno));
			if (pid[s] == 0) {
				side_run(c, s);
				_exit(0);
			}
			c->sh->tid[s] = pid[s];
		}
		for (int s = 0; s < 2; s++) {
			int status;

			waitpid(pid[s], &status, 0);
			if ((!WIFEXITED(status) || WEXITSTATUS(status)) && !c->sh->err) {
				c->sh->err = -1;
				snprintf(c->sh->where, sizeof(c->sh->where),
					 "side %d ended with status %#x", s, status);
			}
		}
	} else {
		for (int s = 0; s < 2; s++) {
			ta[s] = (struct thread_arg){ c, s };
			if (pthread_create(&t[s], NULL, side_thread, &ta[s]))
				die("pthread_create");
		}
		for (int s = 0; s < 2; s++)
			pthread_join(t[s], NULL);
	}

	if (c->sh->err) {
		r->err = c->sh->err;
		snprintf(r->where, sizeof(r->where), "%s", c->sh->where);
	} else {
		struct shared *sh = c->sh;
		struct side_acct *a = sh->acct;
		uint64_t *dst = r->pool + (size_t)r->reps * c->n;

		memcpy(dst, sh->samples, c->n * sizeof(uint64_t));
		r->rep_median[r->reps] = summarize(sh->samples, c->n).median;
		r->sys += a[0].sys + a[1].sys;
		r->faults += a[0].u1.faults - a[0].u0.faults + a[1].u1.faults - a[1].u0.faults;
		r->csw += a[0].u1.csw - a[0].u0.csw + a[1].u1.csw - a[1].u0.csw;
		r->loc += sh->irq1.loc - sh->irq0.loc;
		r->irqs += (sh->irq1.all - sh->irq0.all) - (sh->irq1.loc - sh->irq0.loc);
		r->uin += sh->irq1.uin - sh->irq0.uin;
		r->uik += sh->irq1.uik - sh->irq0.uik;
		add_lines(&r->lines, &sh->irq0, &sh->irq1);
		r->reps++;
	}
out:
	if (c->m->teardown)
		c->m->teardown(c);
	if (c->sp[0] >= 0) {
		close(c->sp[0]);
		close(c->sp[1]);
	}
	close_fds(c);
	munmap(c->sh, c->sh_size);
	r->elapsed += now() - t0;
	return r->err ? -1 : 0;
}

static void finish(struct result *r)
{
	double total = (double)r->n * r->reps;
	size_t o = 0;

	r->st = summarize(r->pool, r->n * r->reps);
	r->st.median = median_of(r->rep_median, r->reps);
	for (int i = 0; i < r->n * r->reps; i++)
		r->slow += r->pool[i] > 10 * r->st.median;
	r->per_rt_sys = r->sys / total;
	r->per_rt_faults = r->faults / total;
	r->per_rt_csw = r->csw / total;
	r->per_rt_irqs = r->irqs / total;
	r->per_rt_timer = r->loc / total;
	r->per_rt_uin = r->uin / total;
	r->per_rt_uik = r->uik / total;
	/* Timer ticks are background, not entries the mechanism causes. */
	r->per_rt_entries = r->per_rt_sys + r->per_rt_faults + r->per_rt_irqs;
	r->irq_json[0] = 0;
	for (int i = 0; i < r->lines.lines && o < sizeof(r->irq_json); i++)
		o += snprintf(r->irq_json + o, sizeof(r->irq_json) - o, "%s\"%s\":%llu",
			      o ? "," : "", js(r->lines.label[i]),
			      (unsigned long long)r->lines.count[i]);
}

/* Runs a case opt_reps times (fresh threads or processes each time). */
static int run_reps(const struct bcase *tmpl, struct result *r)
{
	memset(r, 0, sizeof(*r));
	r->n = tmpl->n;
	r->pool = calloc((size_t)tmpl->n * opt_reps, sizeof(uint64_t));
	if (!r->pool)
		die("out of memory");
	for (int k = 0; k < opt_reps; k++) {
		struct bcase c = *tmpl;

		if (run_case(&c, r))
			return -1;
	}
	finish(r);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Output                                                              */

static void print_machine(const char *state)
{
	printf("BENCH {\"kind\":\"machine\",\"machine\":\"%s\",\"cpu_model\":\"%s\","
	       "\"cpu_mhz\":%.3f,\"cpus\":%d,\"kernel\":\"%s\",\"uintr\":%s,"
	       "\"uintr_note\":\"%s\",\"module\":\"%s\",\"state\":\"%s\",\"n\":%d,\"reps\":%d,"
	       "\"unit\":\"TSC ticks\"}\n",
	       js(opt_machine), js(cpu_model), cpu_mhz, ncpus, js(kernel_release),
	       have_uintr ? "true" : "false", js(uintr_why), module_state, js(state),
	       opt_n, opt_reps);
}

static void print_skip(const char *kind, const char *name, const char *mode,
		       const char *state, const char *why)
{
	printf("BENCH {\"kind\":\"%s\",\"machine\":\"%s\",\"mech\":\"%s\",\"mode\":\"%s\","
	       "\"state\":\"%s\",\"skipped\":\"%s\"}\n", kind, js(opt_machine), name, mode,
	       js(state), js(why));
	printf("# %-15s %-9s %-14s skipped: %s\n", name, mode, state, why);
}

static void print_error(const char *kind, const char *name, const char *mode,
			const char *state, struct result *r)
{
	printf("BENCH {\"kind\":\"%s\",\"machine\":\"%s\",\"mech\":\"%s\",\"mode\":\"%s\","
	       "\"state\":\"%s\",\"error\":\"%s: %s\"}\n", kind, js(opt_machine), name, mode,
	       js(state), js(r->where), r->err > 0 ? strerror(r->err) : "failed");
	printf("# %-15s %-9s %-14s FAILED: %s: %s\n", name, mode, state, r->where,
	       r->err > 0 ? strerror(r->err) : "failed");
}

/* The members every ping-pong and context-switch line carries. */
static void print_common(struct result *r)
{
	printf("\"n\":%d,\"reps\":%d,\"median\":%.1f,\"p99\":%.0f,\"mean\":%.1f,"
	       "\"min\":%llu,\"max\":%llu,\"rep_medians\":[",
	       r->n, r->reps, r->st.median, r->st.p99, r->st.mean,
	       (unsigned long long)r->st.min, (unsigned long long)r->st.max);
	for (int k = 0; k < r->reps; k++)
		printf("%s%.1f", k ? "," : "", r->rep_median[k]);
	printf("],\"kernel_entries_per_rt\":%.3f,\"syscalls_per_rt\":%.3f,"
	       "\"faults_per_rt\":%.3f,\"irqs_per_rt\":%.3f,\"timer_irqs_per_rt\":%.3f,"
	       "\"uin_per_rt\":%.3f,\"uik_per_rt\":%.3f,\"ctxsw_per_rt\":%.3f,"
	       "\"slow_rts\":%d,\"irq_lines\":{%s},\"elapsed_s\":%.3f",
	       r->per_rt_entries, r->per_rt_sys, r->per_rt_faults, r->per_rt_irqs,
	       r->per_rt_timer, r->per_rt_uin, r->per_rt_uik, r->per_rt_csw, r->slow,
	       r->irq_json, r->elapsed);
}

static void print_ipc(const struct mech *m, const char *mode, const char *state,
		      struct result *r, double base)
{
	char ratio[32] = "null";

	if (base > 0)
		snprintf(ratio, sizeof(ratio), "%.3f", r->st.median / base);
	printf("BENCH {\"kind\":\"ipc\",\"machine\":\"%s\",\"mech\":\"%s\",\"what\":\"%s\","
	       "\"mode\":\"%s\",\"state\":\"%s\",\"ratio_to_uipi_spin\":%s,",
	       js(opt_machine), m->name, m->what, mode, js(state), ratio);
	print_common(r);
	printf("}\n");
	printf("# %-15s %-9s median %10.0f p99 %10.0f ratio %8s entries/rt %5.2f"
	       " (syscalls %.2f irqs %.2f faults %.2f) ctxsw/rt %.2f [%.1f s]\n",
	       m->name, mode, r->st.median, r->st.p99, ratio, r->per_rt_entries,
	       r->per_rt_sys, r->per_rt_irqs, r->per_rt_faults, r->per_rt_csw, r->elapsed);
	fflush(stdout);
}

/* ------------------------------------------------------------------ */
/* The three groups of cases                                           */

static void run_ipc(const char *state)
{
	static const char *const modes[] = { "threads", "processes" };

	for (int pm = 0; pm < 2; pm++) {
		double base = 0;

		for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
			const struct mech *m = &mechs[i];
			struct bcase c = { .m = m, .procs = pm, .n = opt_n, .warm = opt_n / 10 + 10 };
			struct result r;

			if (m->uintr && !have_uintr) {
				print_skip("ipc", m->name, modes[pm], state, uintr_why);
				continue;
			}
			if (m->spin && ncpus < 2) {
				print_skip("ipc", m->name, modes[pm], state,
					   "busy-waiting needs two CPUs");
				continue;
			}
			if (run_reps(&c, &r)) {
				print_error("ipc", m->name, modes[pm], state, &r);
			} else {
				if (!strcmp(m->name, "uipi_spin"))
					base = r.st.median;
				print_ipc(m, modes[pm], state, &r, base);
			}
			free(r.pool);
		}
	}
}

/* A receiver elsewhere in the system, blocked in UINTR_WAIT on its CPU. */
static void *background_receiver(void *arg)
{
	struct uintr_handler_args h = { .handler = (uintptr_t)uintr_handler };
	struct uintr_wait_args w = { 0 };
	int dev = open(UINTR_DEV, O_RDWR | O_CLOEXEC);

	pin((int)(intptr_t)arg);
	if (dev < 0 || ioctl(dev, UINTR_REGISTER_HANDLER, &h))
		return NULL;
	_stui();
	for (;;)
		ioctl(dev, UINTR_WAIT, &w);
	return NULL;
}

/* A process with one receiver per CPU, all blocked; killed afterwards. */
static pid_t start_background_receivers(void)
{
	int pipefd[2];
	pid_t pid;
	char b;

	if (pipe2(pipefd, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		pthread_t t;

		close(pipefd[0]);
		for (int i = 0; i < ncpus && i < 8; i++)
			pthread_create(&t, NULL, background_receiver, (void *)(intptr_t)i);
		/* Give every thread the time to block. */
		usleep(20000);
		if (write(pipefd[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(pipefd[1]);
	if (read(pipefd[0], &b, 1) != 1) {
		close(pipefd[0]);
		return -1;
	}
	close(pipefd[0]);
	return pid;
}

static void run_ctx_set(const char *state, bool receivers, bool procs)
{
	const char *mode = procs ? "processes" : "threads";
	const char *name = receivers ? "ctx_receivers" : "ctx_plain";
	struct bcase c = { .m = ctx_mech(), .procs = procs, .same_cpu = true,
			   .receivers = receivers, .n = opt_n, .warm = opt_n / 10 + 10 };
	struct result r;

	if (run_reps(&c, &r)) {
		print_error("ctx", name, mode, state, &r);
		free(r.pool);
		return;
	}
	printf("BENCH {\"kind\":\"ctx\",\"machine\":\"%s\",\"mech\":\"%s\",\"mode\":\"%s\","
	       "\"state\":\"%s\",\"per_switch\":%.1f,", js(opt_machine), name, mode,
	       js(state), r.st.median / 2);
	print_common(&r);
	printf("}\n");
	printf("# %-15s %-9s %-16s median %10.0f (per switch %.0f) p99 %10.0f ctxsw/rt %.2f"
	       " [%.1f s]\n", name, mode, state, r.st.median, r.st.median / 2, r.st.p99,
	       r.per_rt_csw, r.elapsed);
	fflush(stdout);
	free(r.pool);
}

static void run_ctx(void)
{
	const char *idle = opt_state;
	char active[64];
	pid_t bg;

	run_ctx_set(idle, false, false);
	run_ctx_set(idle, false, true);
	snprintf(active, sizeof(active), "%s+receivers", idle);
	if (!have_uintr) {
		for (int p = 0; p < 2; p++) {
			print_skip("ctx", "ctx_plain", p ? "processes" : "threads", active, uintr_why);
			print_skip("ctx", "ctx_receivers", p ? "processes" : "threads", idle,
				   uintr_why);
		}
		return;
	}
	bg = start_background_receivers();
	if (bg < 0) {
		for (int p = 0; p < 2; p++)
			print_skip("ctx", "ctx_plain", p ? "processes" : "threads", active,
				   "could not start the receivers");
	} else {
		run_ctx_set(active, false, false);
		run_ctx_set(active, false, true);
		kill(bg, SIGKILL);
		waitpid(bg, NULL, 0);
	}
	run_ctx_set(idle, true, false);
	run_ctx_set(idle, true, true);
}

/*
 * getppid() in a loop: the cost of one system call in a plain thread, in a
 * receiver, or in a sender.  A sender has the module's state attached and
 * so takes the same kernel path on its way out as a receiver, but it never
 * has UINV armed: the difference between the two is not the kernel's.
 */
enum syscall_role { ROLE_PLAIN, ROLE_RECEIVER, ROLE_SENDER };

struct sender_peer {
	int fd[2];	/* the receiver passes its vector fd, then waits for EOF */
	int done[2];
};

/* The receiver a sender registers with: in its own thread, idle. */
static void *sender_peer_thread(void *arg)
{
	struct sender_peer *p = arg;
	struct uintr_handler_args h = { .handler = (uintptr_t)uintr_handler };
	struct uintr_vector_args v = { .vector = 0 };
	int dev, vfd = -1;
	char c;

	dev = open(UINTR_DEV, O_RDWR | O_CLOEXEC);
	if (dev >= 0 && !ioctl(dev, UINTR_REGISTER_HANDLER, &h))
		vfd = ioctl(dev, UINTR_CREATE_VECTOR_FD, &v);
	if (write(p->fd[1], &vfd, sizeof(vfd)) != sizeof(vfd))
		die("sender peer: write");
	if (vfd >= 0 && read(p->done[0], &c, 1) < 0)
		die("sender peer: read");
	if (vfd >= 0)
		close(vfd);
	if (dev >= 0)
		close(dev);
	return NULL;
}

static void *syscall_thread(void *arg)
{
	enum syscall_role role = (enum syscall_role)(uintptr_t)arg;
	static const char *const names[] = {
		[ROLE_PLAIN] = "syscall_plain",
		[ROLE_RECEIVER] = "syscall_receiver",
		[ROLE_SENDER] = "syscall_sender",
	};
	const char *name = names[role];
	int n = opt_n, warm = opt_n / 10 + 10, dev = -1, vfd = -1;
	uint64_t *v = malloc(n * sizeof(*v));
	struct sender_peer peer = { .fd = { -1, -1 }, .done = { -1, -1 } };
	pthread_t peer_thread;
	bool ok = role != ROLE_SENDER;
	struct stats st;

	if (!v)
		die("out of memory");
	pin(0);
	if (role == ROLE_RECEIVER) {
		struct uintr_handler_args h = { .handler = (uintptr_t)uintr_handler };

		dev = open(UINTR_DEV, O_RDWR | O_CLOEXEC);
		if (dev < 0 || ioctl(dev, UINTR_REGISTER_HANDLER, &h)) {
			print_skip("syscall", name, "thread", opt_state, strerror(errno));
			free(v);
			return NULL;
		}
		_stui();
	} else if (role == ROLE_SENDER) {
		struct uintr_sender_args sa;

		if (pipe(peer.fd) || pipe(peer.done) ||
		    pthread_create(&peer_thread, NULL, sender_peer_thread, &peer))
			die("sender peer");
		if (read(peer.fd[0], &vfd, sizeof(vfd)) != sizeof(vfd))
			die("sender peer: read");
		sa = (struct uintr_sender_args){ .fd = vfd };
		dev = open(UINTR_DEV, O_RDWR | O_CLOEXEC);
		if (vfd < 0 || dev < 0 || ioctl(dev, UINTR_REGISTER_SENDER, &sa) < 0)
			print_skip("syscall", name, "thread", opt_state, strerror(errno));
		else
			ok = true;
	}
	for (int i = 0; ok && i < warm + n; i++) {
		uint64_t t0 = tsc();

		syscall(SYS_getppid);
		if (i >= warm)
			v[i - warm] = tsc() - t0;
	}
	if (role == ROLE_RECEIVER) {
		_clui();
		ioctl(dev, UINTR_UNREGISTER_HANDLER, 0);
	}
	if (role == ROLE_SENDER) {
		if (ok)
			ioctl(dev, UINTR_UNREGISTER_SENDER, 0);
		close(peer.done[1]);
		pthread_join(peer_thread, NULL);
		close(peer.fd[0]);
		close(peer.fd[1]);
		close(peer.done[0]);
	}
	if (dev >= 0)
		close(dev);
	if (!ok) {
		free(v);
		return NULL;
	}
	st = summarize(v, n);
	printf("BENCH {\"kind\":\"syscall\",\"machine\":\"%s\",\"mech\":\"%s\",\"mode\":\"thread\","
	       "\"state\":\"%s\",\"n\":%d,\"median\":%.1f,\"p99\":%.0f,\"mean\":%.1f,\"min\":%llu}\n",
	       js(opt_machine), name, js(opt_state), n, st.median, st.p99, st.mean,
	       (unsigned long long)st.min);
	printf("# %-15s %-9s %-14s median %10.0f p99 %10.0f\n", name, "thread", opt_state,
	       st.median, st.p99);
	fflush(stdout);
	free(v);
	return NULL;
}

static void run_syscall(enum syscall_role role)
{
	pthread_t t;

	if (pthread_create(&t, NULL, syscall_thread, (void *)(uintptr_t)role))
		die("pthread_create");
	pthread_join(t, NULL);
}

static void probe_uintr(void)
{
	struct uintr_handler_args h = { .handler = (uintptr_t)uintr_handler };
	int dev;

	if (!cpuinfo_has_uintr()) {
		snprintf(uintr_why, sizeof(uintr_why), "no uintr in /proc/cpuinfo");
		return;
	}
	dev = open(UINTR_DEV, O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		snprintf(uintr_why, sizeof(uintr_why), "%s: %s", UINTR_DEV, strerror(errno));
		return;
	}
	if (ioctl(dev, UINTR_REGISTER_HANDLER, &h)) {
		snprintf(uintr_why, sizeof(uintr_why), "UINTR_REGISTER_HANDLER: %s",
			 strerror(errno));
		close(dev);
		return;
	}
	ioctl(dev, UINTR_UNREGISTER_HANDLER, 0);
	close(dev);
	have_uintr = true;
}

static void usage(void)
{
	fprintf(stderr, "usage: uintr_bench [--only ctx|syscall|ipc]... [--state NAME]"
		" [-n ROUNDTRIPS] [-r REPEATS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *e;
	FILE *f;
	sigset_t none;

	if ((e = getenv("uintr_bench_n")))
		opt_n = atoi(e);
	if ((e = getenv("uintr_bench_reps")))
		opt_reps = atoi(e);
	if ((e = getenv("uintr_bench_machine")))
		opt_machine = e;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--only") && i + 1 < argc) {
			i++;
			if (!strcmp(argv[i], "ctx"))
				opt_only |= ONLY_CTX;
			else if (!strcmp(argv[i], "syscall"))
				opt_only |= ONLY_SYSCALL;
			else if (!strcmp(argv[i], "ipc"))
				opt_only |= ONLY_IPC;
			else
				usage();
		} else if (!strcmp(argv[i], "--state") && i + 1 < argc) {
			opt_state = argv[++i];
		} else if (!strcmp(argv[i], "-n") && i + 1 < argc) {
			opt_n = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "-r") && i + 1 < argc) {
			opt_reps = atoi(argv[++i]);
		} else {
			usage();
		}
	}
	if (opt_n < 10)
		opt_n = 10;
	if (opt_reps < 1)
		opt_reps = 1;
	if (opt_reps > MAX_REPS)
		opt_reps = MAX_REPS;
	if (!opt_only)
		opt_only = ONLY_CTX | ONLY_SYSCALL | ONLY_IPC;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	if ((f = fopen("/proc/sys/kernel/osrelease", "r"))) {
		if (fgets(kernel_release, sizeof(kernel_release), f))
			kernel_release[strcspn(kernel_release, "\n")] = 0;
		fclose(f);
	}
	snprintf(module_state, sizeof(module_state), "%s",
		 module_loaded() ? "loaded" : "unloaded");
	probe_uintr();
	if (!opt_state)
		opt_state = module_state;
	print_machine(opt_state);

	if (opt_only & ONLY_CTX)
		run_ctx();
	if (opt_only & ONLY_SYSCALL) {
		run_syscall(ROLE_PLAIN);
		if (have_uintr) {
			run_syscall(ROLE_RECEIVER);
			run_syscall(ROLE_SENDER);
		} else {
			print_skip("syscall", "syscall_receiver", "thread", opt_state, uintr_why);
			print_skip("syscall", "syscall_sender", "thread", opt_state, uintr_why);
		}
	}
	if (opt_only & ONLY_IPC)
		run_ipc(opt_state);
	printf("BENCH {\"kind\":\"end\",\"machine\":\"%s\"}\n", js(opt_machine));
	return 0;
}
