// SPDX-License-Identifier: GPL-2.0
/*
 * The demonstration the README promises: one thread registers a user
 * interrupt handler, another thread sends it interrupts with SENDUIPI, and
 * the program prints what was sent and what the handler received.
 */
#include <pthread.h>
#include <stdlib.h>
#include "uintr_test.h"

#define VECTOR 7
#define COUNT 5

static int dev, vfd;

static void *sender(void *arg)
{
	struct uintr_sender_args s = { .fd = vfd };
	int idx = ioctl(dev, UINTR_REGISTER_SENDER, &s);

	if (idx < 0) {
		perror("UINTR_REGISTER_SENDER");
		exit(1);
	}
	printf("sender: UITT index %d for vector %d\n", idx, VECTOR);
	for (int i = 1; i <= COUNT; i++) {
		printf("sender: SENDUIPI %d\n", i);
		fflush(stdout);
		_senduipi(idx);
		while (uintr_received[VECTOR] < (uint64_t)i)
			__builtin_ia32_pause();
	}
	return NULL;
}

int main(void)
{
	struct uintr_vector_args v = { .vector = VECTOR };
	pthread_t t;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!uintr_kernel_supported()) {
		printf("demo: this CPU or kernel has no user interrupts\n");
		return 1;
	}
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
	printf("receiver: handler registered, vector fd %d, UIF set\n", vfd);
	pthread_create(&t, NULL, sender, NULL);
	/*
	 * A user interrupt reaches a thread in user space, or one blocked in
	 * UINTR_WAIT; a thread blocked elsewhere (pthread_join, say) gets it
	 * when it returns.  So wait for each one with UINTR_WAIT.
	 */
	while (uintr_received[VECTOR] < COUNT) {
		struct uintr_wait_args w = { .flags = UINTR_WAIT_TIMEOUT,
					     .timeout_ns = 5000000000LL };

		if (ioctl(dev, UINTR_WAIT, &w)) {
			perror("UINTR_WAIT");
			return 1;
		}
		printf("receiver: back from UINTR_WAIT, handler has run %llu times\n",
		       (unsigned long long)uintr_received[VECTOR]);
	}
	pthread_join(t, NULL);
	printf("receiver: handler ran %llu times for vector %d (sent %d)\n",
	       (unsigned long long)uintr_received[VECTOR], VECTOR, COUNT);
	return uintr_received[VECTOR] == COUNT ? 0 : 1;
}
