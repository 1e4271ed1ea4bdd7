// SPDX-License-Identifier: GPL-2.0
/*
 * The demonstration the README promises: a receiver thread on one CPU
 * registers a user-interrupt handler and spins in user space; a sender
 * thread on another CPU sends it interrupts with SENDUIPI.  The program
 * prints who sent and who received on which CPU, and how many system calls
 * and context switches the receiver made while the interrupts arrived: the
 * kernel set things up, then stayed out of the way.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include "uintr_test.h"

#define VECTOR 7
#define COUNT 5

static int dev, vfd;
static volatile int sender_cpu = -1, sender_tid;

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void *sender(void *arg)
{
	struct uintr_sender_args s = { .fd = vfd };
	int idx;

	pin(1);
	sender_cpu = sched_getcpu();
	sender_tid = gettid();
	idx = ioctl(dev, UINTR_REGISTER_SENDER, &s);
	if (idx < 0) {
		perror("UINTR_REGISTER_SENDER");
		exit(1);
	}
	printf("sender:   thread %d on CPU %d, UITT index %d for vector %d\n",
	       sender_tid, sender_cpu, idx, VECTOR);
	for (int i = 1; i <= COUNT; i++) {
		_senduipi(idx);
		while (uintr_received[VECTOR] < (uint64_t)i)
			__builtin_ia32_pause();
	}
	return NULL;
}

static long switches(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_nvcsw + ru.ru_nivcsw;
}

int main(void)
{
	struct uintr_vector_args v = { .vector = VECTOR };
	long before, after;
	pthread_t t;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!uintr_kernel_supported()) {
		printf("demo: this CPU or kernel has no user interrupts\n");
		return 1;
	}
	pin(0);
	dev = uintr_open();
	if (dev < 0 || uintr_register(dev, uintr_count_handler)) {
		perror("UINTR_REGISTER_HANDLER");
		return 1;
	}
	vfd = ioctl(dev, UINTR_CREATE_VECTOR_FD, &v);
	if (vfd < 0) {
		perror("UINTR_CREATE_VECTOR_FD");
		return 1;
	}
	_stui();
	printf("receiver: thread %d on CPU %d, handler registered, vector fd %d, UIF set\n",
	       gettid(), sched_getcpu(), vfd);
	before = switches();
	pthread_create(&t, NULL, sender, NULL);
	/* No system call from here until every interrupt has arrived. */
	for (long i = 0; uintr_received[VECTOR] < COUNT && i < 2000000000L; i++)
		__builtin_ia32_pause();
	after = switches();
	pthread_join(t, NULL);
	printf("receiver: handler ran %llu times for vector %d (sent %d) on CPU %d\n",
	       (unsigned long long)uintr_received[VECTOR], VECTOR, COUNT, sched_getcpu());
	printf("demo: thread %d on CPU %d sent %d user interrupts with SENDUIPI; thread %d on "
	       "CPU %d ran its handler %llu times while spinning in user space, with 0 system "
	       "calls and %ld context switches meanwhile\n",
	       sender_tid, sender_cpu, COUNT, gettid(), sched_getcpu(),
	       (unsigned long long)uintr_received[VECTOR], after - before);
	return uintr_received[VECTOR] == COUNT ? 0 : 1;
}
