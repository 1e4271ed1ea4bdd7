/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the uintr selftests: opening /dev/uintr, telling
 * whether the kernel runs with user interrupts, and a user-interrupt
 * handler that counts what it receives.
 */
#ifndef UINTR_TEST_H
#define UINTR_TEST_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <x86gprintrin.h>
#include <linux/uintr.h>

#include "uintr_proc.h"

#define UINTR_DEV "/dev/uintr"

/* The kernel enumerates UINTR in /proc/cpuinfo only when it enabled it. */
static inline bool uintr_kernel_supported(void)
{
	char line[4096];
	bool found = false;
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5))
			continue;
		found = strstr(line, " uintr ") || strstr(line, " uintr\n");
		break;
	}
	fclose(f);
	return found;
}

static inline int uintr_open(void)
{
	return open(UINTR_DEV, O_RDWR | O_CLOEXEC);
}

/* Counts per user vector, written by the handler. */
static volatile uint64_t uintr_received[UINTR_MAX_VECTORS];
static volatile uint64_t uintr_total;

struct __uintr_frame;

static void __attribute__((interrupt, target("general-regs-only"), unused))
uintr_count_handler(struct __uintr_frame *frame, unsigned long long vector)
{
	/* Handlers of several threads can interleave: count atomically. */
	if (vector < UINTR_MAX_VECTORS)
		__atomic_fetch_add(&uintr_received[vector], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&uintr_total, 1, __ATOMIC_RELAXED);
}

static inline int uintr_register(int dev, void *handler)
{
	struct uintr_handler_args args = {
		.handler = (uintptr_t)handler,
	};

	return ioctl(dev, UINTR_REGISTER_HANDLER, &args);
}

/*
 * Make the calling thread a receiver with uintr_count_handler, the
 * UINTR_HANDLER_* @flags and UIF set, counters cleared.  Returns the
 * /dev/uintr fd, or -1.
 */
static inline int uintr_receiver_start_flags(uint32_t flags)
{
	struct uintr_handler_args args = {
		.handler = (uintptr_t)uintr_count_handler,
		.flags = flags,
	};
	int dev;

	memset((void *)uintr_received, 0, sizeof(uintr_received));
	uintr_total = 0;
	dev = uintr_open();
	if (dev < 0)
		return -1;
	if (ioctl(dev, UINTR_REGISTER_HANDLER, &args)) {
		close(dev);
		return -1;
	}
	_stui();
	return dev;
}

static inline int uintr_receiver_start(void)
{
	return uintr_receiver_start_flags(0);
}

static inline void uintr_receiver_stop(int dev)
{
	if (dev < 0)
		return;
	_clui();
	ioctl(dev, UINTR_UNREGISTER_HANDLER, 0);
	close(dev);
}

static inline int uintr_vector_fd(int dev, unsigned int vector)
{
	struct uintr_vector_args v = { .vector = vector };

	return ioctl(dev, UINTR_CREATE_VECTOR_FD, &v);
}

static inline int uintr_register_sender(int dev, int vfd)
{
	struct uintr_sender_args s = { .fd = vfd };

	return ioctl(dev, UINTR_REGISTER_SENDER, &s);
}

/* Spin until *counter reaches want; delivery is asynchronous but quick. */
static inline void uintr_spin_until(volatile uint64_t *counter, uint64_t want)
{
	for (long i = 0; i < 200000000L && *counter < want; i++)
		__builtin_ia32_pause();
}

/* A counter of /sys/kernel/debug/uintr/stats, or -1 if it cannot be read. */
static inline long uintr_stat(const char *name)
{
	char path[128], buf[32];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/uintr/stats/%s", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, 10);
	fclose(f);
	return v;
}

/*
 * The interrupts of the /proc/interrupts line @name (e.g. "IWI", irq_work)
 * summed over all CPUs, or -1 if there is no such line.
 */
static inline long uintr_irq_count(const char *name)
{
	char line[4096], *p, *end;
	size_t len = strlen(name);
	long sum = -1, v;
	FILE *f = fopen("/proc/interrupts", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		for (p = line; *p == ' '; p++)
			;
		if (strncmp(p, name, len) || p[len] != ':')
			continue;
		sum = 0;
		for (p += len + 1;; p = end) {
			v = strtol(p, &end, 10);
			if (end == p)
				break;
			sum += v;
		}
		break;
	}
	fclose(f);
	return sum;
}

/*
 * Wait until some thread blocked in UINTR_WAIT since the "waits" counter
 * read @before, so that a post or a signal sent next finds it waiting.
 * Falls back to a fixed delay without debugfs.
 */
static inline void uintr_await_waiter(long before)
{
	if (before < 0) {
		usleep(20000);
		return;
	}
	for (int i = 0; i < 100000 && uintr_stat("waits") <= before; i++)
		usleep(100);
	/* It counts itself just before it sleeps. */
	usleep(1000);
}

/*
 * Wait until thread @tid sleeps (state S), so that what comes next finds it
 * blocked rather than in user space.  Returns false after about 20 s.
 */
static inline bool uintr_await_sleeping(pid_t tid)
{
	for (int i = 0; i < 200000; i++) {
		if (uintr_thread_state(tid) == 'S')
			return true;
		usleep(100);
	}
	return false;
}

#endif /* UINTR_TEST_H */
