// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * libuintr: the dispatcher, the extended-state sizing and the ioctl
 * helpers.  See include/uintr.h for the contract of each function.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "uintr.h"

#define HIDDEN __attribute__((visibility("hidden")))

/* The entry (entry.S) and what it reads. */
extern char uintr_entry[] HIDDEN;
HIDDEN uint64_t uintr_xsave_size;
HIDDEN uint64_t uintr_xsave_mask;
void uintr_dispatch(unsigned int vector, struct uintr_frame *frame) HIDDEN;

static uintr_handler_fn handlers[UINTR_MAX_VECTORS];
static uintr_handler_fn default_handler;
static int device = -1;
/* Whether the calling thread registered through the library. */
static __thread int receiving;

/* AMX tile configuration and data: not saved (see uintr.h). */
#define XFEATURE_MASK_AMX	((1ULL << 17) | (1ULL << 18))
/* The legacy area and the XSAVE header. */
#define XSAVE_BASE_SIZE		576
/* What an alternate stack must hold beyond one delivery, for the handler. */
#define UINTR_ALT_STACK_SLACK	8192

void uintr_dispatch(unsigned int vector, struct uintr_frame *frame)
{
	uintr_handler_fn fn = NULL;

	if (vector < UINTR_MAX_VECTORS)
		fn = __atomic_load_n(&handlers[vector], __ATOMIC_ACQUIRE);
	if (!fn)
		fn = __atomic_load_n(&default_handler, __ATOMIC_ACQUIRE);
	if (fn) {
		/* The interrupted code may be between a call and its errno check. */
		int saved = errno;

		fn(vector, frame);
		errno = saved;
	}
}

int uintr_set_handler(unsigned int vector, uintr_handler_fn fn)
{
	if (vector == UINTR_DEFAULT_HANDLER) {
		__atomic_store_n(&default_handler, fn, __ATOMIC_RELEASE);
		return 0;
	}
	if (vector >= UINTR_MAX_VECTORS) {
		errno = EINVAL;
		return -1;
	}
	__atomic_store_n(&handlers[vector], fn, __ATOMIC_RELEASE);
	return 0;
}

/*
 * The components the entry saves (those XCR0 enables, but AMX) and the
 * standard-format area that holds them.  Every thread computes the same
 * values, so racing first callers are harmless.
 */
static int xsave_init(void)
{
	unsigned int eax, ebx, ecx, edx, lo, hi;
	uint64_t mask, size = XSAVE_BASE_SIZE;
	int i;

	if (__atomic_load_n(&uintr_xsave_size, __ATOMIC_ACQUIRE))
		return 0;
	if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & bit_OSXSAVE)) {
		errno = EOPNOTSUPP;
		return -1;
	}
	__asm__ ("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	mask = ((uint64_t)hi << 32 | lo) & ~XFEATURE_MASK_AMX;
	for (i = 2; i < 63; i++) {
		if (!(mask & (1ULL << i)))
			continue;
		__cpuid_count(0xd, i, eax, ebx, ecx, edx);
		if ((uint64_t)ebx + eax > size)
			size = (uint64_t)ebx + eax;
	}
	__atomic_store_n(&uintr_xsave_mask, mask, __ATOMIC_RELAXED);
	__atomic_store_n(&uintr_xsave_size, size, __ATOMIC_RELEASE);
	return 0;
}

size_t uintr_frame_size(void)
{
	uint64_t size = __atomic_load_n(&uintr_xsave_size, __ATOMIC_ACQUIRE);

	/*
	 * Ten registers, the area and its alignment, the CPU's four words and
	 * its own alignment, the return address into the entry.
	 */
	return size ? size + 80 + 64 + 32 + 16 + 8 : 0;
}

int uintr_device(void)
{
	int fd = __atomic_load_n(&device, __ATOMIC_ACQUIRE), expected = -1;

	if (fd >= 0)
		return fd;
	fd = open("/dev/uintr", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (!__atomic_compare_exchange_n(&device, &expected, fd, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		close(fd);
		fd = expected;
	}
	return fd;
}

static int dev_ioctl(unsigned long cmd, unsigned long arg)
{
	int fd = uintr_device();

	if (fd < 0)
		return -1;
	return ioctl(fd, cmd, arg);
}

int uintr_register_receiver(void *stack, size_t size)
{
	return uintr_register_receiver_flags(stack, size, 0);
}

int uintr_register_receiver_flags(void *stack, size_t size, unsigned int flags)
{
	struct uintr_handler_args args = {
		.handler = (uintptr_t)uintr_entry,
		.flags = flags & ~UINTR_HANDLER_ALT_STACK,
	};

	if (xsave_init())
		return -1;
	if (stack) {
		if (size < uintr_frame_size() + UINTR_ALT_STACK_SLACK) {
			errno = EINVAL;
			return -1;
		}
		args.stack = ((uintptr_t)stack + size) & ~(uintptr_t)15;
		args.flags |= UINTR_HANDLER_ALT_STACK;
	}
	if (dev_ioctl(UINTR_REGISTER_HANDLER, (uintptr_t)&args) < 0)
		return -1;
	/* UIF outlives a receiver: a new one starts blocked whatever it was. */
	__asm__ __volatile__("clui" : : : "memory");
	receiving = 1;
	return 0;
}

int uintr_unregister_receiver(void)
{
	/* CLUI raises #UD where the kernel did not enable user interrupts. */
	if (receiving)
		__asm__ __volatile__("clui" : : : "memory");
	if (dev_ioctl(UINTR_UNREGISTER_HANDLER, 0) < 0)
		return -1;
	receiving = 0;
	return 0;
}

int uintr_vector_fd(unsigned int vector, unsigned int flags)
{
	struct uintr_vector_args args = { .vector = vector, .flags = flags };

	return dev_ioctl(UINTR_CREATE_VECTOR_FD, (uintptr_t)&args);
}

int uintr_register_sender(int vector_fd)
{
	struct uintr_sender_args args = { .fd = vector_fd };

	return dev_ioctl(UINTR_REGISTER_SENDER, (uintptr_t)&args);
}

int uintr_register_self(unsigned int vector)
{
	struct uintr_self_args args = { .vector = vector };

	return dev_ioctl(UINTR_REGISTER_SELF, (uintptr_t)&args);
}

int uintr_unregister_sender(int index)
{
	if (index < 0) {
		errno = EINVAL;
		return -1;
	}
	return dev_ioctl(UINTR_UNREGISTER_SENDER, (unsigned long)index) < 0 ? -1 : 0;
}

int uintr_wait(int64_t timeout_ns)
{
	struct uintr_wait_args args = { 0 };

	if (timeout_ns >= 0) {
		args.timeout_ns = timeout_ns;
		args.flags = UINTR_WAIT_TIMEOUT;
	}
	return dev_ioctl(UINTR_WAIT, (uintptr_t)&args) < 0 ? -1 : 0;
}

int uintr_read_count(int vector_fd, uint64_t *count)
{
	ssize_t n = read(vector_fd, count, sizeof(*count));

	if (n == sizeof(*count))
		return 1;
	if (n == 0)
		return 0;
	if (n > 0)
		errno = EIO;
	return -1;
}

int uintr_watch_fd(int source_fd, int vector_fd, uint32_t events)
{
	struct uintr_watch_args args = {
		.source_fd = source_fd,
		.vector_fd = vector_fd,
		.events = events,
	};

	return dev_ioctl(UINTR_WATCH_FD, (uintptr_t)&args);
}

int uintr_timer_create(int vector_fd, uint64_t initial_ns, uint64_t period_ns, int abs)
{
	struct uintr_timer_args args = {
		.vector_fd = vector_fd,
		.flags = abs ? UINTR_TIMER_ABSTIME : 0,
		.initial_ns = (int64_t)initial_ns,
		.period_ns = (int64_t)period_ns,
	};

	if (initial_ns > INT64_MAX || period_ns > INT64_MAX) {
		errno = EINVAL;
		return -1;
	}
	return dev_ioctl(UINTR_CREATE_TIMER, (uintptr_t)&args);
}

static void ns_to_timespec(uint64_t ns, struct timespec *ts)
{
	ts->tv_sec = (time_t)(ns / 1000000000);
	ts->tv_nsec = (long)(ns % 1000000000);
}

int uintr_timer_start(struct uintr_timer *t, int vector_fd, uint64_t initial_ns,
		      uint64_t period_ns, int abs)
{
	struct itimerspec its = { 0 };
	int saved;

	if (!t) {
		errno = EINVAL;
		return -1;
	}
	t->timer_fd = t->watch_fd = -1;
	if (!initial_ns) {
		errno = EINVAL;
		return -1;
	}
	t->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (t->timer_fd < 0) {
		t->timer_fd = -1;
		return -1;
	}
	t->watch_fd = uintr_watch_fd(t->timer_fd, vector_fd, EPOLLIN);
	if (t->watch_fd < 0)
		goto fail;
	ns_to_timespec(initial_ns, &its.it_value);
	ns_to_timespec(period_ns, &its.it_interval);
	if (timerfd_settime(t->timer_fd, abs ? TFD_TIMER_ABSTIME : 0, &its, NULL))
		goto fail;
	return 0;
fail:
	saved = errno;
	if (t->watch_fd >= 0)
		close(t->watch_fd);
	close(t->timer_fd);
	t->timer_fd = t->watch_fd = -1;
	errno = saved;
	return -1;
}

int64_t uintr_timer_ack(struct uintr_timer *t)
{
	uint64_t n;

	if (read(t->timer_fd, &n, sizeof(n)) == sizeof(n))
		return (int64_t)n;
	return errno == EAGAIN ? 0 : -1;
}

int uintr_timer_destroy(struct uintr_timer *t)
{
	int rc = 0;

	if (t->watch_fd >= 0 && close(t->watch_fd))
		rc = -1;
	if (t->timer_fd >= 0 && close(t->timer_fd))
		rc = -1;
	t->timer_fd = t->watch_fd = -1;
	return rc;
}
