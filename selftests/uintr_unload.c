// SPDX-License-Identifier: GPL-2.0
/*
 * Removing the module while other processes open /dev/uintr: an open that
 * races with delete_module() either fails or pins the module, so no file
 * is ever left open on a module that is gone.  Needs the module file, by
 * default /uintr.ko (UINTR_KO overrides it), and leaves the module loaded.
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include "uintr_test.h"
#include "kselftest_harness.h"

static const char *module_path(void)
{
	const char *p = getenv("UINTR_KO");

	return p ? p : "/uintr.ko";
}

static int load(void)
{
	int fd = open(module_path(), O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -1;
	ret = syscall(SYS_finit_module, fd, "", 0);
	close(fd);
	return ret;
}

static int unload(void)
{
	return syscall(SYS_delete_module, "uintr", O_NONBLOCK);
}

/* What the openers saw, shared with them. */
struct tally {
	long opens;
	long failed_opens;
	long bad;		/* an ioctl on an open fd gave an unexpected errno */
	long last_errno;
};

/*
 * Open, use and close /dev/uintr until killed.  Each file is held and each
 * gap lasts a random 0-20 ms, so the module is sometimes free to go and
 * sometimes removed while a file is open or being opened.
 */
static void opener(struct tally *t, unsigned int seed)
{
	for (;;) {
		int fd = uintr_open();

		if (fd < 0) {
			__atomic_fetch_add(&t->failed_opens, 1, __ATOMIC_RELAXED);
			usleep(rand_r(&seed) % 20000);
			continue;
		}
		__atomic_fetch_add(&t->opens, 1, __ATOMIC_RELAXED);
		/* A file stranded on a removed module would be used after it. */
		usleep(rand_r(&seed) % 20000);
		/* An unknown command: the module answers while the file pins it. */
		if (ioctl(fd, _IO(0xE7, 0x7f), 0) != -1 || errno != ENOTTY) {
			__atomic_fetch_add(&t->bad, 1, __ATOMIC_RELAXED);
			t->last_errno = errno;
		}
		close(fd);
		usleep(rand_r(&seed) % 20000);
	}
}

/* Enough rounds to race often, few enough for an emulated CPU. */
#define UNLOADS 10
#define SECONDS 20

FIXTURE(module) {
};

FIXTURE_SETUP(module)
{
}

FIXTURE_TEARDOWN(module)
{
}

TEST_F_TIMEOUT(module, unload_racing_with_open_never_strands_a_file, 600)
{
	struct tally *t;
	pid_t kids[2];
	long unloaded = 0;
	time_t end;

	if (access(module_path(), R_OK))
		SKIP(return, "no module file at %s", module_path());
	if (access(UINTR_DEV, F_OK))
		SKIP(return, "the module is not loaded");
	t = mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, t);
	for (int i = 0; i < 2; i++) {
		kids[i] = fork();
		ASSERT_LE(0, kids[i]);
		if (!kids[i])
			opener(t, i + 1);
	}
	end = time(NULL) + SECONDS;
	while (unloaded < UNLOADS && time(NULL) < end) {
		if (unload()) {
			ASSERT_TRUE(errno == EBUSY || errno == EAGAIN || errno == EWOULDBLOCK)
				TH_LOG("delete_module: errno %d", errno);
			continue;
		}
		unloaded++;
		if (load())
			ASSERT_TRUE(errno == EEXIST || errno == EBUSY)
				TH_LOG("finit_module: errno %d", errno);
	}
	for (int i = 0; i < 2; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
	/* Whatever state the last round left, end loaded. */
	if (load())
		ASSERT_EQ(EEXIST, errno);
	TH_LOG("%ld opens, %ld failed, %ld unloads", t->opens, t->failed_opens, unloaded);
	EXPECT_EQ(0, t->bad) TH_LOG("last unexpected errno %ld", t->last_errno);
	EXPECT_LT(0, t->opens);
	EXPECT_LT(0, unloaded);
	munmap(t, sizeof(*t));
}

TEST_HARNESS_MAIN
