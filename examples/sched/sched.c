// SPDX-License-Identifier: GPL-2.0
/*
 * A preemptive user-level scheduler on one CPU, preempted by user
 * interrupts: the experiment of Shinjuku and LibPreemptible.
 *
 * Green tasks, each with its own stack, run on one worker thread.  Tasks
 * arrive at a fixed mean rate (Poisson, fixed seed): 90% short, 10% long,
 * 200 times longer (the 5 us and 1 ms of the Shinjuku experiment).  The
 * defaults are 50 us and 10 ms: the emulated CPU runs 50 million
 * instructions per emulated second, so 5 us there are 250 instructions,
 * and a kernel timer tick on the debug test kernel costs the worker about
 * 0.5 ms; quanta of 2 and 5 ms keep that cost a minority of a quantum, as
 * it is on hardware.  Without preemption a short task that
 * arrives behind a long one waits for all of it; with preemption every
 * quantum, a task that has run at least half a quantum when a tick comes
 * goes to the back of the queue.  The tick comes from, per --preempt:
 *
 *   none    no tick: run to completion
 *   uipi    a timer thread on another CPU that executes SENDUIPI each quantum
 *   utimer  the kernel: a periodic timerfd watched with UINTR_WATCH_FD
 *           (libuintr's uintr_timer_start), acked by the handler
 *   ktimer  the kernel: a UINTR_CREATE_TIMER timer (uintr_timer_create),
 *           no system call per period
 *   signal  setitimer(ITIMER_REAL) and a SIGALRM handler (the scheduler
 *           blocks SIGALRM for itself, unblocks it for each new task)
 *
 * The handler switches from the interrupted task to the scheduler on the
 * task's own stack; libuintr saved the task's registers and extended state
 * there, so resuming the task later returns through the handler and UIRET.
 *
 * Output: one line per run with short-task latency p50/p99, long-task p50,
 * the number of preemptions and ticks, and what a preemption costs the
 * task (medians): in_us from its last loop iteration to the handler's decision
 * (delivery, the kernel's part for timers and signals, state saving, for
 * utimer the ack), out_us from getting the CPU back to the next loop
 * iteration (restore and UIRET, or sigreturn).  busy_ratio is the time in
 * tasks against run to completion ("none", run first on the same
 * arrivals).  Times are in microseconds of the TSC, calibrated against
 * CLOCK_MONOTONIC.  --check exits 1 unless every source preempts, and 3
 * if only SENDUIPI's short-task p99 is not below run to completion's.
 *
 *   uintr_sched [--preempt MODE]... [--quantum US]... [--tasks N]
 *               [--load PERCENT] [--short US] [--long US] [--check]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>
#include <uintr.h>

#define TICK_VECTOR	1
#define STACK_SIZE	(16 * 1024)
#define LONG_PERMILLE	100

enum mode { NONE, UIPI, UTIMER, KTIMER, SIGNAL, MODES };
static const char *const mode_name[MODES] = { "none", "uipi", "utimer", "ktimer", "signal" };

/* Whether @m takes its ticks as user interrupts. */
static bool uses_uintr(enum mode m)
{
	return m == UIPI || m == UTIMER || m == KTIMER;
}

struct task {
	void *sp;
	void *stack;
	uint64_t arrival;	/* TSC */
	uint64_t iters;		/* work, in loop iterations */
	uint64_t done;		/* TSC at completion, 0 while not */
	bool is_long;
	bool started;
	struct task *next;
};

/* The run in progress; the handlers read it. */
static struct task *volatile current;
static void *sched_sp;
static volatile int in_sched = 1;
static volatile uint64_t slice_start;
static uint64_t quantum_tsc;
static volatile uint64_t preemptions, ticks;
static enum mode run_mode;
static struct uintr_timer utimer;

/* Whether a second CPU runs the timer thread (uipi) or a spinner. */
static bool two_cpus;
static double tsc_per_us;
static double iters_per_us;
/* Service times (see the top of the file for the defaults). */
static unsigned int short_us = 50, long_us = 10000;
/* Every task's stack, made and faulted in once for all runs. */
static char *stacks;

void sched_switch(void **save, void *next);

static uint64_t now(void)
{
	return __rdtsc();
}

/*
 * The TSC at the running task's latest loop iteration, and when preempt()
 * got the CPU back: what a tick costs the task on the way in (delivery,
 * state saving, the handler up to the switch) and on the way out (back
 * through the handler and UIRET or sigreturn) is measured from them.
 */
static volatile uint64_t progress, resumed_at;
/* Per preemption; the medians are reported (the kernel may take the CPU). */
#define MAX_SAMPLES	65536
static uint64_t in_samples[MAX_SAMPLES], out_samples[MAX_SAMPLES];
static size_t n_in, n_out;

static void burn(uint64_t iters)
{
	for (uint64_t i = 0; i < iters; i++) {
		uint64_t back = resumed_at, t = now();

		/* A tick between the two reads leaves back 0 or older. */
		if (back && t > back) {
			if (n_out < MAX_SAMPLES)
				out_samples[n_out++] = t - back;
			resumed_at = 0;
		}
		progress = t;
	}
}

/* TSC ticks and loop iterations per microsecond. */
static void calibrate(void)
{
	struct timespec a, b;
	uint64_t t0, t1, n = 2000000;
	double ns;

	clock_gettime(CLOCK_MONOTONIC, &a);
	t0 = now();
	burn(n);
	t1 = now();
	clock_gettime(CLOCK_MONOTONIC, &b);
	ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
	tsc_per_us = (t1 - t0) / (ns / 1000);
	iters_per_us = n / (ns / 1000);
}

/*
 * Called by every tick handler on the interrupted task's stack: switch to
 * the scheduler if the task has had at least half a quantum, and come back
 * here when the scheduler resumes it.
 */
static void preempt(void)
{
	struct task *t = current;
	uint64_t entered = now();

	ticks++;
	if (in_sched || !t)
		return;
	/* A tick that nests from here on returns at once. */
	in_sched = 1;
	if (entered - slice_start < quantum_tsc / 2) {
		in_sched = 0;
		return;
	}
	preemptions++;
	if (n_in < MAX_SAMPLES)
		in_samples[n_in++] = entered - progress;
	sched_switch(&t->sp, sched_sp);
	/* Resumed. */
	in_sched = 0;
	resumed_at = now();
}

static void uintr_tick(unsigned int vector, struct uintr_frame *frame)
{
	if (run_mode == UTIMER)
		uintr_timer_ack(&utimer);
	preempt();
}

static void signal_tick(int sig)
{
	preempt();
}

/*
 * Ticks reach tasks only: the scheduler runs with them blocked.  It is
 * entered from a tick handler, where the CPU blocked user interrupts and
 * the kernel blocked SIGALRM (no SA_NODEFER), or from a finished task,
 * which blocks them itself; a preempted task gets them back through UIRET
 * or sigreturn, a new one here.
 */
static void ticks_blocked(bool blocked)
{
	sigset_t alrm;

	if (uses_uintr(run_mode)) {
		if (blocked)
			uintr_block();
		else
			uintr_unblock();
	} else if (run_mode == SIGNAL) {
		sigemptyset(&alrm);
		sigaddset(&alrm, SIGALRM);
		sigprocmask(blocked ? SIG_BLOCK : SIG_UNBLOCK, &alrm, NULL);
	}
}

/* The first frame of every task. */
static void __attribute__((noreturn)) task_main(void)
{
	struct task *t = current;

	in_sched = 0;
	ticks_blocked(false);
	burn(t->iters);
	ticks_blocked(true);
	in_sched = 1;
	t->done = now();
	sched_switch(&t->sp, sched_sp);
	abort();
}

static void task_prepare(struct task *t)
{
	uint64_t *top = (uint64_t *)((char *)t->stack + STACK_SIZE);

	*--top = 0;			/* task_main's return address */
	*--top = (uint64_t)task_main;	/* sched_switch returns here */
	for (int i = 0; i < 6; i++)
		*--top = 0;		/* rbp, rbx, r12..r15 */
	t->sp = top;
}

struct timer_thread {
	pthread_t thread;
	int index;
	volatile int stop;
	int cpu;
	int rc;
	int vfd;
};

/*
 * The second CPU's thread.  In uipi mode it executes SENDUIPI to the
 * worker every quantum, spinning on the TSC; in the other modes it only
 * spins, so that every mode runs with the second CPU equally busy (the
 * emulator's clock advances differently per instruction when a second CPU
 * is busy, which would otherwise skew the comparison).
 */
static void *timer_main(void *arg)
{
	struct timer_thread *tt = arg;
	cpu_set_t set;
	uint64_t next;

	CPU_ZERO(&set);
	CPU_SET(tt->cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
	if (tt->vfd < 0) {
		while (!tt->stop)
			__builtin_ia32_pause();
		return NULL;
	}
	tt->index = uintr_register_sender(tt->vfd);
	if (tt->index < 0) {
		tt->rc = errno;
		tt->stop = 1;
		return NULL;
	}
	next = now() + quantum_tsc;
	while (!tt->stop) {
		if (now() < next) {
			__builtin_ia32_pause();
			continue;
		}
		uintr_send((unsigned int)tt->index);
		next += quantum_tsc;
	}
	uintr_unregister_sender(tt->index);
	return NULL;
}

/* Starts @tt's thread with every signal blocked: SIGALRM is the worker's. */
static int spawn(struct timer_thread *tt)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&tt->thread, NULL, timer_main, tt);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

static uint64_t rng = 88172645463325252ULL;

static double uniform(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (rng >> 11) * (1.0 / 9007199254740992.0);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct(uint64_t *v, size_t n, double p)
{
	size_t i;

	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	i = (size_t)ceil(p / 100.0 * n);
	return v[i ? i - 1 : 0] / tsc_per_us;
}

struct result {
	double short_p50, short_p99, long_p50;
	uint64_t busy;		/* TSC between dispatching a task and getting back */
	uint64_t elapsed;	/* TSC not spent idle */
	uint64_t preemptions, ticks;
	/* Median cost of a preemption on the way in and out, us. */
	double in_us, out_us;
	size_t tasks;
};

/* One run: @n tasks of the fixed arrival sequence under @mode. */
static int run(enum mode mode, unsigned int quantum_us, size_t n, unsigned int load,
	       struct result *r)
{
	struct task *tasks = calloc(n, sizeof(*tasks)), *head = NULL, *tail = NULL;
	uint64_t *lat_short = calloc(n, sizeof(uint64_t)), *lat_long = calloc(n, sizeof(uint64_t));
	size_t ns = 0, nl = 0, admitted = 0, finished = 0;
	double mean_us = (short_us * (1000.0 - LONG_PERMILLE) + (double)long_us * LONG_PERMILLE) / 1000;
	double gap_us = mean_us * 100.0 / load, t_us = 0;
	struct timer_thread tt = { .cpu = 1, .vfd = -1 };
	uint64_t start, idle = 0, end, in_tasks = 0;
	int vfd = -1, rc = 0, ktimer = -1;

	if (!tasks || !lat_short || !lat_long) {
		rc = -ENOMEM;
		goto out_free;
	}
	rng = 88172645463325252ULL;
	for (size_t i = 0; i < n; i++) {
		tasks[i].is_long = uniform() * 1000 < LONG_PERMILLE;
		tasks[i].iters = (uint64_t)((tasks[i].is_long ? long_us : short_us) * iters_per_us);
		t_us += -log(1 - uniform()) * gap_us;
		tasks[i].arrival = (uint64_t)(t_us * tsc_per_us);
		tasks[i].stack = stacks + i * STACK_SIZE;
		task_prepare(&tasks[i]);
	}

	run_mode = mode;
	quantum_tsc = (uint64_t)(quantum_us * tsc_per_us);
	preemptions = ticks = 0;
	n_in = n_out = 0;
	resumed_at = 0;
	in_sched = 1;
	if (uses_uintr(mode)) {
		if (uintr_set_handler(TICK_VECTOR, uintr_tick) ||
		    uintr_register_receiver(NULL, 0)) {
			rc = -errno;
			goto out_free;
		}
		vfd = uintr_vector_fd(TICK_VECTOR, 0);
		if (vfd < 0) {
			rc = -errno;
			goto out_receiver;
		}
	}
	if (mode == UIPI)
		tt.vfd = vfd;
	if (two_cpus && spawn(&tt)) {
		rc = -EAGAIN;
		goto out_receiver;
	}
	if (mode == SIGNAL) {
		struct sigaction sa = { .sa_handler = signal_tick, .sa_flags = SA_RESTART };
		struct itimerval it = {
			{ quantum_us / 1000000, quantum_us % 1000000 },
			{ quantum_us / 1000000, quantum_us % 1000000 },
		};

		/* The scheduler runs with ticks blocked from the start. */
		ticks_blocked(true);
		sigaction(SIGALRM, &sa, NULL);
		setitimer(ITIMER_REAL, &it, NULL);
	}
	if (mode == KTIMER) {
		ktimer = uintr_timer_create(vfd, quantum_us * 1000ULL, quantum_us * 1000ULL, 0);
		if (ktimer < 0) {
			rc = -errno;
			tt.stop = 1;
			if (two_cpus)
				pthread_join(tt.thread, NULL);
			goto out_receiver;
		}
	}
	if (mode == UTIMER &&
	    uintr_timer_start(&utimer, vfd, quantum_us * 1000ULL, quantum_us * 1000ULL, 0)) {
		rc = -errno;
		tt.stop = 1;
		if (two_cpus)
			pthread_join(tt.thread, NULL);
		goto out_receiver;
	}

	start = now();
	for (size_t i = 0; i < n; i++)
		tasks[i].arrival += start;
	while (finished < n) {
		struct task *t;
		uint64_t tnow = now();

		while (admitted < n && tasks[admitted].arrival <= tnow) {
			struct task *a = &tasks[admitted++];

			a->next = NULL;
			if (tail)
				tail->next = a;
			else
				head = a;
			tail = a;
		}
		if (!head) {
			uint64_t until = tasks[admitted].arrival;

			while (now() < until)
				__builtin_ia32_pause();
			idle += now() - tnow;
			continue;
		}
		t = head;
		head = t->next;
		if (!head)
			tail = NULL;
		current = t;
		slice_start = now();
		sched_switch(&sched_sp, t->sp);
		current = NULL;
		in_tasks += now() - slice_start;
		if (t->done) {
			uint64_t lat = t->done - t->arrival;

			if (t->is_long)
				lat_long[nl++] = lat;
			else
				lat_short[ns++] = lat;
			finished++;
		} else {
			t->next = NULL;
			if (tail)
				tail->next = t;
			else
				head = t;
			tail = t;
		}
	}
	end = now();

	if (mode == SIGNAL) {
		struct itimerval off = { 0 };

		setitimer(ITIMER_REAL, &off, NULL);
		signal(SIGALRM, SIG_IGN);
		ticks_blocked(false);
	}
	tt.stop = 1;
	if (two_cpus)
		pthread_join(tt.thread, NULL);
	if (tt.rc)
		rc = -tt.rc;
	if (mode == UTIMER)
		uintr_timer_destroy(&utimer);
	if (mode == KTIMER)
		close(ktimer);

	r->short_p50 = pct(lat_short, ns, 50);
	r->short_p99 = pct(lat_short, ns, 99);
	r->long_p50 = pct(lat_long, nl, 50);
	r->busy = in_tasks;
	r->elapsed = end - start - idle;
	r->preemptions = preemptions;
	r->in_us = pct(in_samples, n_in, 50);
	r->out_us = pct(out_samples, n_out, 50);
	r->ticks = ticks;
	r->tasks = n;
out_receiver:
	if (uses_uintr(mode)) {
		if (vfd >= 0)
			close(vfd);
		uintr_unregister_receiver();
	}
out_free:
	free(tasks);
	free(lat_short);
	free(lat_long);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "preempt", required_argument, NULL, 'p' },
		{ "quantum", required_argument, NULL, 'q' },
		{ "tasks", required_argument, NULL, 'n' },
		{ "load", required_argument, NULL, 'l' },
		{ "short", required_argument, NULL, 's' },
		{ "long", required_argument, NULL, 'L' },
		{ "check", no_argument, NULL, 'c' },
		{ 0 }
	};
	unsigned int quanta[8], nq = 0, load = 70;
	bool want[MODES] = { false }, any = false, check = false;
	size_t n = 2000;
	struct result base;
	cpu_set_t set;
	int c, failures = 0, slow = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			for (int m = 0; m < MODES; m++)
				if (!strcmp(optarg, mode_name[m]))
					want[m] = any = true;
			break;
		case 'q':
			if (nq < 8)
				quanta[nq++] = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'n':
			n = strtoul(optarg, NULL, 0);
			break;
		case 'l':
			load = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 's':
			short_us = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'L':
			long_us = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'c':
			check = true;
			break;
		default:
			fprintf(stderr, "usage: %s [--preempt none|uipi|utimer|ktimer|signal]... "
				"[--quantum US]... [--tasks N] [--load PERCENT] [--short US] [--long US] [--check]\n",
				argv[0]);
			return 2;
		}
	}
	if (!any)
		for (int m = 0; m < MODES; m++)
			want[m] = true;
	if (!nq) {
		quanta[nq++] = 2000;
		quanta[nq++] = 5000;
	}
	if (!n || !load || load >= 100 || !short_us || long_us < short_us) {
		fprintf(stderr, "--tasks must be > 0, --load in 1..99, 0 < --short <= --long\n");
		return 2;
	}
	stacks = mmap(NULL, n * STACK_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (stacks == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* The worker on CPU 0; the uipi timer thread takes CPU 1. */
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	sched_setaffinity(0, sizeof(set), &set);
	two_cpus = sysconf(_SC_NPROCESSORS_ONLN) >= 2;
	if (two_cpus) {
		struct timer_thread spin = { .cpu = 1, .vfd = -1 };

		/* Calibrated with the second CPU busy, as every run is. */
		if (spawn(&spin))
			return 1;
		calibrate();
		spin.stop = 1;
		pthread_join(spin.thread, NULL);
	} else {
		calibrate();
	}
	printf("sched: tsc_per_us=%.1f tasks=%zu load=%u%% short_us=%u long_us=%u long_permille=%d\n",
	       tsc_per_us, n, load, short_us, long_us, LONG_PERMILLE);

	c = run(NONE, quanta[0], n, load, &base);
	if (c) {
		printf("sched: mode=none failed: %s\n", strerror(-c));
		return 1;
	}
	printf("sched: mode=none quantum_us=0 tasks=%zu short_p50_us=%.1f short_p99_us=%.1f "
	       "long_p50_us=%.1f preemptions=0 ticks=0 in_us=0 out_us=0 busy_ratio=1\n",
	       base.tasks, base.short_p50, base.short_p99, base.long_p50);
	for (int m = UIPI; m < MODES; m++) {
		if (!want[m])
			continue;
		if (m == UIPI && !two_cpus) {
			printf("sched: mode=uipi skipped: the timer thread needs a second CPU\n");
			continue;
		}
		for (unsigned int q = 0; q < nq; q++) {
			struct result r;

			printf("sched: running mode=%s quantum_us=%u\n", mode_name[m], quanta[q]);
			c = run(m, quanta[q], n, load, &r);
			if (c == -EOPNOTSUPP || c == -ENOENT) {
				printf("sched: mode=%s skipped: %s\n", mode_name[m], strerror(-c));
				/* --check is about user interrupts: their absence fails it. */
				failures += check;
				break;
			}
			if (c) {
				printf("sched: mode=%s quantum_us=%u failed: %s\n", mode_name[m],
				       quanta[q], strerror(-c));
				failures++;
				continue;
			}
			printf("sched: mode=%s quantum_us=%u tasks=%zu short_p50_us=%.1f "
			       "short_p99_us=%.1f long_p50_us=%.1f preemptions=%lu ticks=%lu "
			       "in_us=%.1f out_us=%.1f busy_ratio=%.3f\n",
			       mode_name[m], quanta[q], r.tasks, r.short_p50, r.short_p99,
			       r.long_p50, (unsigned long)r.preemptions, (unsigned long)r.ticks,
			       r.in_us, r.out_us, (double)r.busy / (double)base.busy);
			/*
			 * --check: every source preempts; SENDUIPI, the cheapest,
			 * also shortens the short tasks' tail (those stuck behind
			 * a long task), a factor of 3 in the runs so far.
			 */
			if (check && !r.preemptions) {
				printf("sched: mode=%s quantum_us=%u: check failed: no preemption\n",
				       mode_name[m], quanta[q]);
				failures++;
			} else if (check && m == UIPI && r.short_p99 >= base.short_p99) {
				printf("sched: mode=%s quantum_us=%u: check failed: short_p99_us not below none's\n",
				       mode_name[m], quanta[q]);
				slow++;
			}
		}
	}
	/* 3: only a latency was off, which other work on the CPU can cause. */
	return failures ? 1 : slow ? 3 : 0;
}
