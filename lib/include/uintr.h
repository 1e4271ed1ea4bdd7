/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libuintr: user interrupts from C without raw ioctls or interrupt
 * attributes.
 *
 * Handlers are ordinary C functions, one per user vector (0..63) and a
 * default one.  The library's entry saves the interrupted code's general
 * registers and its whole extended state (x87, SSE, AVX, AVX-512; AMX is
 * not saved) on the interrupted stack, resets MXCSR and the x87 control
 * word, calls the handler with the direction flag clear and the stack
 * aligned, restores everything (errno included) and returns with UIRET.
 * Handlers may therefore use floating point and vector registers, and call
 * any function that is safe to call from a signal handler.
 *
 * Every function that can fail returns -1 and sets errno; none aborts.
 * Every function is thread-safe, acts on the calling thread and is
 * async-signal-safe (a system call or a few instructions); each may be
 * called from a handler, which runs with delivery blocked.  See
 * man/man3/libuintr.3 and Documentation/uapi.md.
 */
#ifndef UINTR_LIB_H
#define UINTR_LIB_H

#include <stdint.h>
#include <sys/types.h>
#include <linux/uintr.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * What the CPU pushed when it delivered the interrupt: the interrupted
 * instruction pointer, flags and stack pointer, restored by UIRET.  A
 * handler may read them, and may change them to resume elsewhere.
 */
struct uintr_frame {
	uint64_t rip;
	uint64_t rflags;
	uint64_t rsp;
};

/* A handler: @vector is the user vector (0..63). */
typedef void (*uintr_handler_fn)(unsigned int vector, struct uintr_frame *frame);

/*
 * Set the handler of @vector (0..63) for every receiver thread of the
 * process, or with @vector UINTR_DEFAULT_HANDLER the one for vectors
 * without their own; NULL resets it.  The default default handler ignores
 * the interrupt.  Takes effect for the next delivery; may be called from a
 * handler.  EINVAL: @vector out of range.
 */
#define UINTR_DEFAULT_HANDLER	(~0U)
int uintr_set_handler(unsigned int vector, uintr_handler_fn fn);

/*
 * Make the calling thread a receiver whose interrupts enter the library's
 * dispatcher, with delivery blocked until uintr_unblock().
 *
 * Without an alternate stack (@stack NULL), each delivery saves its state
 * below the interrupted stack pointer's red zone, so deliveries nest: a
 * handler may switch to another context that unblocks delivery and is
 * interrupted in turn (a user-level scheduler).  With one (@stack, @size
 * bytes, at least uintr_frame_size() plus 8 KiB), every delivery starts
 * at its top: a handler then must not unblock delivery, nor switch to a
 * context that does, before it returns.
 *
 * Errors: those of UINTR_REGISTER_HANDLER and of opening /dev/uintr
 * (ENOENT without the module, EOPNOTSUPP without user interrupts);
 * EINVAL for an alternate stack too small.
 */
int uintr_register_receiver(void *stack, size_t size);

/*
 * uintr_register_receiver() with UINTR_REGISTER_HANDLER flags:
 * UINTR_HANDLER_WAKE makes a post interrupt a system call the thread
 * sleeps in (EINTR), with UINTR_HANDLER_RESTART too restarting it where
 * SA_RESTART would (Documentation/uapi.md, "Interrupting system calls").
 * UINTR_HANDLER_ALT_STACK is implied by @stack.
 */
int uintr_register_receiver_flags(void *stack, size_t size, unsigned int flags);

/*
 * Stop receiving; blocks delivery first, so that a later registration
 * starts blocked.  EINVAL: not a receiver.
 */
int uintr_unregister_receiver(void);

/*
 * A vector fd for @vector of the calling receiver: the capability to send
 * it (pass it to other processes with SCM_RIGHTS).  @flags: 0 or
 * UINTR_VECTOR_FD_POLL.  Close-on-exec.
 */
int uintr_vector_fd(unsigned int vector, unsigned int flags);

/* A UITT index for SENDUIPI to the receiver and vector behind @vector_fd. */
int uintr_register_sender(int vector_fd);

/* A UITT index that targets the calling receiver itself with @vector. */
int uintr_register_self(unsigned int vector);

/* Remove UITT entry @index (any thread of the process). */
int uintr_unregister_sender(int index);

/*
 * SENDUIPI through UITT entry @index of the process.  An index that is
 * not registered raises SIGSEGV, and a thread that never registered as a
 * sender gets SIGILL, as the instruction does.  Async-signal-safe and
 * usable from a handler.
 */
static inline void uintr_send(unsigned int index)
{
	__asm__ __volatile__("senduipi %0" : : "r"((uint64_t)index) : "memory");
}

/*
 * Blocking interrupts, nestable: uintr_block() blocks delivery to the
 * calling thread and returns whether it was unblocked before;
 * uintr_restore() puts that back.  Interrupts posted meanwhile are
 * delivered at the restore that unblocks.  uintr_unblock() unblocks
 * unconditionally.  Async-signal-safe, usable from a handler (which runs
 * blocked), a few instructions each.
 */
static inline int uintr_block(void)
{
	unsigned char uif;

	__asm__ __volatile__("testui; setc %0; clui" : "=r"(uif) : : "cc", "memory");
	return uif;
}

static inline void uintr_restore(int unblocked)
{
	if (unblocked)
		__asm__ __volatile__("stui" : : : "memory");
}

static inline void uintr_unblock(void)
{
	__asm__ __volatile__("stui" : : : "memory");
}

/* Whether interrupts are unblocked for the calling thread. */
static inline int uintr_unblocked(void)
{
	unsigned char uif;

	__asm__ __volatile__("testui; setc %0" : "=r"(uif) : : "cc");
	return uif;
}

/*
 * Sleep until an interrupt is pending for the calling receiver; it is
 * delivered (with interrupts unblocked) before this returns 0.
 * @timeout_ns < 0 waits for ever.  ETIMEDOUT, EINTR (a signal handler
 * ran), EINVAL (not a receiver).
 */
int uintr_wait(int64_t timeout_ns);

/*
 * Read and reset the count of a vector fd made with UINTR_VECTOR_FD_POLL
 * into *@count.  Returns 1 with a count, 0 when the receiver is gone and
 * nothing is left; blocks unless the fd is O_NONBLOCK (then EAGAIN).
 */
int uintr_read_count(int vector_fd, uint64_t *count);

/*
 * Post the vector behind @vector_fd whenever @source_fd wakes its pollers
 * with one of @events (EPOLLIN, ...).  Returns a handle fd; closing it
 * detaches the watch.  The caller consumes the source itself.
 */
int uintr_watch_fd(int source_fd, int vector_fd, uint32_t events);

/*
 * A kernel timer (UINTR_CREATE_TIMER) that posts the vector behind
 * @vector_fd after @initial_ns (an absolute CLOCK_MONOTONIC time with
 * @abs) and then every @period_ns (0: once, else at least 10 us), with no
 * system call per period.  Returns its handle fd; closing it cancels the
 * timer.  Prefer it to uintr_timer_start(), which needs an ack per period.
 */
int uintr_timer_create(int vector_fd, uint64_t initial_ns, uint64_t period_ns, int abs);

/*
 * A timer that posts the vector behind @vector_fd after @initial_ns and
 * then every @period_ns (0: once), on CLOCK_MONOTONIC: a timerfd watched
 * with uintr_watch_fd().  @abs: @initial_ns is an absolute
 * CLOCK_MONOTONIC time.  uintr_timer_ack() returns how many expiries
 * passed since the last call (0 if none, never blocks) and lets a periodic
 * timer run on: like a read timerfd, it fires again only once acked, so
 * the handler acks each expiry.  A handler may call it.
 * uintr_timer_destroy() cancels the timer and closes its fds.
 */
struct uintr_timer {
	int timer_fd;
	int watch_fd;
};

int uintr_timer_start(struct uintr_timer *t, int vector_fd, uint64_t initial_ns,
		      uint64_t period_ns, int abs);
int64_t uintr_timer_ack(struct uintr_timer *t);
int uintr_timer_destroy(struct uintr_timer *t);

/*
 * The /dev/uintr fd the library uses (opened on first use, close-on-exec,
 * shared by the process's threads), or -1 with errno.
 */
int uintr_device(void);

/*
 * Bytes of stack one delivery takes in the library's entry (registers,
 * extended state, alignment, the CPU's frame and the dispatcher's call),
 * as sized from CPUID; without an alternate stack the CPU also skips the
 * 128-byte red zone.  The handler's own use comes on top.  0 before the
 * first registration attempt.
 */
size_t uintr_frame_size(void);

#ifdef __cplusplus
}
#endif

#endif /* UINTR_LIB_H */
