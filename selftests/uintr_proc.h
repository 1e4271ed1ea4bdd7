/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Scheduler states from /proc, for the selftests that wait until another
 * thread or process sleeps.  Apart from uintr_test.h, so that tests built
 * on libuintr (whose names uintr_test.h's helpers share) can use it too.
 */
#ifndef UINTR_PROC_H
#define UINTR_PROC_H

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* The state letter in the stat file at @path, or 0. */
static inline char uintr_stat_state(const char *path)
{
	char buf[256], *p;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/* The scheduler state letter of thread @tid of this process, or 0. */
static inline char uintr_thread_state(pid_t tid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	return uintr_stat_state(path);
}

/* The scheduler state letter of process @pid, or 0. */
static inline char uintr_proc_state(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	return uintr_stat_state(path);
}

#endif /* UINTR_PROC_H */
