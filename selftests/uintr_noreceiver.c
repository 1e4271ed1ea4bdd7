// SPDX-License-Identifier: GPL-2.0
/*
 * The module loaded and no receivers anywhere: context switches, signals,
 * fork and exec keep every task's FPU and vector state intact and the
 * kernel quiet (the pipeline fails the run on any #GP, WARN or splat in the
 * kernel log).  This exercises the save and restore hooks for tasks that
 * never used user interrupts.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include "uintr_test.h"
#include "kselftest_harness.h"

#define ROUNDS 500

static volatile int stop;
static volatile unsigned long signals;

static void on_usr1(int sig)
{
	/* Clobber vector state inside the handler; sigreturn restores it. */
	volatile double x = 3.0;

	x = x * x + 1.0;
	signals++;
}

struct pinger {
	int in, out;
	int bad;
};

/* Ping-pong over pipes while keeping a running FP value in registers. */
static void *pinger(void *arg)
{
	struct pinger *p = arg;
	double acc = 1.0, expect = 1.0;
	char c = 0;

	for (int i = 0; i < ROUNDS; i++) {
		acc = acc * 1.0000001 + 0.5;
		if (write(p->out, &c, 1) != 1 || read(p->in, &c, 1) != 1) {
			p->bad = -1;
			break;
		}
		expect = expect * 1.0000001 + 0.5;
		if (acc != expect)
			p->bad++;
	}
	return NULL;
}

static void *signaller(void *arg)
{
	sigset_t usr1;

	/* Signal the other threads; a signal to this one would cut its sleep. */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	while (!stop) {
		kill(getpid(), SIGUSR1);
		usleep(1000);
	}
	return NULL;
}

FIXTURE(load) {
	int unused;
};

FIXTURE_SETUP(load)
{
}

FIXTURE_TEARDOWN(load)
{
}

/* Generous: with one emulated CPU everything here runs in turn. */
TEST_F_TIMEOUT(load, switches_signals_fork_exec_keep_state, 300)
{
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_RESTART };
	int ab[2], ba[2];
	struct pinger a, b;
	pthread_t ta, tb, ts;

	if (access(UINTR_DEV, F_OK))
		SKIP(return, "the module is not loaded");
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	ASSERT_EQ(0, pipe(ab));
	ASSERT_EQ(0, pipe(ba));
	a = (struct pinger){ .in = ba[0], .out = ab[1] };
	b = (struct pinger){ .in = ab[0], .out = ba[1] };
	ASSERT_EQ(0, pthread_create(&ts, NULL, signaller, NULL));
	ASSERT_EQ(0, pthread_create(&ta, NULL, pinger, &a));
	ASSERT_EQ(0, pthread_create(&tb, NULL, pinger, &b));

	/* Meanwhile: fork and exec, with FP state live in the parent. */
	for (int i = 0; i < 10; i++) {
		double before = 2.5 * i;
		int status;
		pid_t pid = fork();

		ASSERT_LE(0, pid);
		if (pid == 0) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		EXPECT_EQ(2.5 * i, before);
	}

	ASSERT_EQ(0, pthread_join(ta, NULL));
	ASSERT_EQ(0, pthread_join(tb, NULL));
	stop = 1;
	ASSERT_EQ(0, pthread_join(ts, NULL));
	EXPECT_EQ(0, a.bad);
	EXPECT_EQ(0, b.bad);
	EXPECT_LT(0UL, signals);
}

TEST_HARNESS_MAIN
