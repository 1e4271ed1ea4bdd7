/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * User interrupts (UINTR): the ioctl interface of /dev/uintr.
 *
 * A thread becomes a receiver by registering a handler; it then hands out
 * vector file descriptors, each of which is the capability to send one user
 * vector to it.  A sender turns a vector fd into an index in its process's
 * user-interrupt target table and sends with SENDUIPI.  See
 * Documentation/uapi.md for the semantics and the errno of every case.
 */
#ifndef _UAPI_LINUX_UINTR_H
#define _UAPI_LINUX_UINTR_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define UINTR_MAX_VECTORS	64	/* user vectors 0..63 */
#define UINTR_MAX_UITT_ENTRIES	256	/* per process */

/* struct uintr_handler_args.flags */
#define UINTR_HANDLER_ALT_STACK	(1U << 0)	/* deliver on @stack, not below RSP */
/*
 * A post interrupts a system call the thread sleeps in interruptibly, as a
 * signal does, if user interrupts were enabled (UIF) when it entered the
 * kernel; the handler runs on the way out.  The call fails with EINTR ...
 */
#define UINTR_HANDLER_WAKE	(1U << 1)
/* ... or, with WAKE, is restarted where SA_RESTART would restart it. */
#define UINTR_HANDLER_RESTART	(1U << 2)

/*
 * UINTR_REGISTER_HANDLER: make the calling thread a receiver.
 * @handler:	user-space address of the handler (canonical, below the
 *		user address limit).
 * @stack:	with UINTR_HANDLER_ALT_STACK, the top of the alternate stack
 *		the handler runs on; otherwise must be 0 and the frame is built
 *		128 bytes below the interrupted RSP (the red zone is kept).
 * @flags:	UINTR_HANDLER_*; unknown bits are rejected.
 * @reserved:	must be 0.
 */
struct uintr_handler_args {
	__u64 handler;
	__u64 stack;
	__u32 flags;
	__u32 reserved;
};

/* struct uintr_vector_args.flags */
#define UINTR_VECTOR_FD_POLL	(1U << 0)	/* count posts on the fd */

/*
 * UINTR_CREATE_VECTOR_FD: a new file descriptor (O_CLOEXEC) for user
 * vector @vector of the calling receiver.  Returns the fd.  Every vector
 * fd polls EPOLLHUP once the receiver is gone.  With UINTR_VECTOR_FD_POLL
 * the vector becomes polled: posts to it that the kernel finds pending
 * while the receiver is not running in user space are counted on the fd
 * instead of reaching the handler; poll() reports EPOLLIN while the count
 * is not zero and read() of a __u64 returns it and resets it (blocking
 * unless O_NONBLOCK; 0 bytes once the receiver is gone and nothing is left).
 */
struct uintr_vector_args {
	__u32 vector;
	__u32 flags;		/* 0 or UINTR_VECTOR_FD_POLL */
};

/*
 * UINTR_REGISTER_SENDER: add a UITT entry of the calling process that
 * targets the receiver and vector behind @fd.  Returns the index for
 * SENDUIPI.  Enables SENDUIPI for the calling thread.
 */
struct uintr_sender_args {
	__s32 fd;
	__u32 flags;		/* must be 0 */
};

/*
 * UINTR_REGISTER_SELF: add a UITT entry that targets the calling receiver
 * itself with @vector.  Returns the index for SENDUIPI.
 */
struct uintr_self_args {
	__u32 vector;
	__u32 flags;		/* must be 0 */
};

/* struct uintr_wait_args.flags */
#define UINTR_WAIT_TIMEOUT	(1U << 0)	/* @timeout_ns is valid */

/*
 * UINTR_WAIT: block until a user interrupt is pending for the calling
 * receiver.  Returns 0 once one is pending (it is delivered to the handler
 * before user code continues), -ETIMEDOUT when the relative timeout
 * expires, -EINTR when a signal arrives.
 */
struct uintr_wait_args {
	__s64 timeout_ns;
	__u32 flags;
	__u32 reserved;		/* must be 0 */
};

/*
 * UINTR_WATCH_FD: post a user vector whenever a file wakes its pollers.
 * @vector_fd names the receiver and vector (the capability to send it);
 * @source_fd is any pollable file (eventfd, timerfd, pipe, socket other
 * than AF_UNIX, signalfd, pidfd, ...).  Each wake-up of the source that
 * carries one of @events (EPOLLIN, EPOLLOUT, ...; EPOLLERR and EPOLLHUP
 * always count) posts the vector once, from whatever context the wake-up
 * runs in; so does attaching a source that is ready already.  The caller
 * consumes the source itself (read the eventfd, the timerfd...).  Returns
 * a close-on-exec handle fd; closing it detaches the watch.  EPOLLHUP of
 * the source and the end of the receiver detach it too.
 */
struct uintr_watch_args {
	__s32 source_fd;
	__s32 vector_fd;
	__u32 events;		/* EPOLL* bits, not 0 */
	__u32 flags;		/* must be 0 */
};

/* struct uintr_timer_args.flags */
#define UINTR_TIMER_ABSTIME	(1U << 0)	/* @initial_ns is a CLOCK_MONOTONIC time */

#define UINTR_TIMER_MIN_PERIOD_NS 10000		/* the shortest period */
#define UINTR_TIMER_MAX_PER_USER 64		/* timers one user may have */
#define UINTR_TIMER_MAX_RATE_PER_USER 100000	/* their expiries per second */

/*
 * UINTR_CREATE_TIMER: post the vector of @vector_fd at @initial_ns
 * (relative, > 0; with UINTR_TIMER_ABSTIME an absolute CLOCK_MONOTONIC
 * time) and then every @period_ns (0: once, else at least
 * UINTR_TIMER_MIN_PERIOD_NS), from the timer's interrupt, with no system
 * call per period.  Expiries the receiver has not taken yet coalesce, as
 * any posts do.  Returns a close-on-exec handle fd; its last close cancels
 * the timer, and the end of the receiver stops it.
 */
struct uintr_timer_args {
	__s32 vector_fd;
	__u32 flags;
	__s64 initial_ns;
	__s64 period_ns;
};

#define UINTR_IOC_MAGIC		0xE7

#define UINTR_REGISTER_HANDLER	_IOW(UINTR_IOC_MAGIC, 0x00, struct uintr_handler_args)
#define UINTR_UNREGISTER_HANDLER _IO(UINTR_IOC_MAGIC, 0x01)
#define UINTR_CREATE_VECTOR_FD	_IOW(UINTR_IOC_MAGIC, 0x02, struct uintr_vector_args)
#define UINTR_REGISTER_SENDER	_IOW(UINTR_IOC_MAGIC, 0x03, struct uintr_sender_args)
/* The argument is the index returned by UINTR_REGISTER_SENDER/_SELF. */
#define UINTR_UNREGISTER_SENDER	_IO(UINTR_IOC_MAGIC, 0x04)
#define UINTR_REGISTER_SELF	_IOW(UINTR_IOC_MAGIC, 0x05, struct uintr_self_args)
#define UINTR_WAIT		_IOW(UINTR_IOC_MAGIC, 0x06, struct uintr_wait_args)
#define UINTR_WATCH_FD		_IOW(UINTR_IOC_MAGIC, 0x07, struct uintr_watch_args)
#define UINTR_CREATE_TIMER	_IOW(UINTR_IOC_MAGIC, 0x08, struct uintr_timer_args)

#endif /* _UAPI_LINUX_UINTR_H */
