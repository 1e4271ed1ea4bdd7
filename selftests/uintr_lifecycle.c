// SPDX-License-Identifier: GPL-2.0
/*
 * Lifetimes: vector fds, UITT entries and receivers across close, exit,
 * fork, exec and SCM_RIGHTS; the faults SENDUIPI raises without a valid
 * entry; and the module staying loaded while anything uses it.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <pthread.h>
#include "uintr_test.h"
#include "kselftest_harness.h"

FIXTURE(recv) {
	int dev;
};

FIXTURE_SETUP(recv)
{
	self->dev = -1;
	if (!uintr_kernel_supported())
		SKIP(return, "no user interrupts in this kernel or CPU");
	self->dev = uintr_receiver_start();
	ASSERT_LE(0, self->dev);
}

FIXTURE_TEARDOWN(recv)
{
	uintr_receiver_stop(self->dev);
}

TEST_F(recv, vector_fd_is_cloexec_and_survives_close_of_dev)
{
	int vfd = uintr_vector_fd(self->dev, 2);
	int dev2, idx;

	ASSERT_LE(0, vfd);
	EXPECT_EQ(FD_CLOEXEC, fcntl(vfd, F_GETFD) & FD_CLOEXEC);
	/* Any /dev/uintr file serves; the state is the thread's. */
	dev2 = uintr_open();
	ASSERT_LE(0, dev2);
	idx = uintr_register_sender(dev2, vfd);
	ASSERT_LE(0, idx);
	close(vfd);
	/* The entry keeps working after the fd is gone. */
	_senduipi(idx);
	uintr_spin_until(&uintr_total, 1);
	EXPECT_EQ(1U, uintr_received[2]);
	EXPECT_EQ(0, ioctl(dev2, UINTR_UNREGISTER_SENDER, idx));
	EXPECT_EQ(-1, ioctl(dev2, UINTR_UNREGISTER_SENDER, idx));
	EXPECT_EQ(EINVAL, errno);
	close(dev2);
}

struct unregister_ctx {
	int dev;
	int idx;
	int res[2];		/* 0 or errno, per call */
};

static void *unregister_thread(void *arg)
{
	struct unregister_ctx *c = arg;

	for (int i = 0; i < 2; i++)
		c->res[i] = ioctl(c->dev, UINTR_UNREGISTER_SENDER, c->idx) ? errno : 0;
	return NULL;
}

/*
 * The UITT belongs to the process: a thread that never registered as a
 * sender removes an entry another thread made; the entry is then not in
 * use, so a second removal is EINVAL.
 */
TEST_F(recv, any_thread_of_the_process_unregisters_an_entry)
{
	struct uintr_self_args s = { .vector = 6 };
	struct unregister_ctx c = { .dev = self->dev };
	pthread_t t;

	c.idx = ioctl(self->dev, UINTR_REGISTER_SELF, &s);
	ASSERT_LE(0, c.idx);
	ASSERT_EQ(0, pthread_create(&t, NULL, unregister_thread, &c));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, c.res[0]);
	EXPECT_EQ(EINVAL, c.res[1]);
	/* Gone for this thread too. */
	EXPECT_EQ(-1, ioctl(self->dev, UINTR_UNREGISTER_SENDER, c.idx));
	EXPECT_EQ(EINVAL, errno);
}

struct sender_ctx {
	int dev, vfd, count;
	int idx[2];
	int go[2];		/* a pipe: the thread ends when it is closed */
	pid_t tid;
};

static void *sender_thread(void *arg)
{
	struct sender_ctx *c = arg;
	char b;

	c->tid = (pid_t)syscall(SYS_gettid);
	for (int i = 0; i < c->count; i++)
		__atomic_store_n(&c->idx[i], uintr_register_sender(c->dev, c->vfd),
				 __ATOMIC_RELEASE);
	if (c->go[0] >= 0)
		while (read(c->go[0], &b, 1) > 0)
			;
	return NULL;
}

/* Whether @tid left the kernel within 5 s of its pthread_join(). */
static bool task_gone(pid_t tid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d", tid);
	for (int ms = 0; ms < 5000; ms++) {
		if (access(path, F_OK))
			return true;
		usleep(1000);
	}
	return false;
}

/*
 * The table lives while one thread of the process is a sender: entries a
 * thread made outlive it while another sender lives, and go with the last
 * sender; the next registration starts an empty table.
 */
TEST_F(recv, the_uitt_lives_as_long_as_one_thread_is_a_sender)
{
	struct sender_ctx a = { .dev = self->dev, .count = 2, .go = { -1, -1 } };
	struct sender_ctx b = { .dev = self->dev, .count = 1, .idx = { -2, -2 } };
	pthread_t ta, tb;

	a.vfd = b.vfd = uintr_vector_fd(self->dev, 3);
	ASSERT_LE(0, a.vfd);
	ASSERT_EQ(0, pipe(b.go));
	ASSERT_EQ(0, pthread_create(&tb, NULL, sender_thread, &b));
	while (__atomic_load_n(&b.idx[0], __ATOMIC_ACQUIRE) == -2)
		usleep(1000);
	ASSERT_EQ(0, b.idx[0]);
	/* A's entries stay while B is a sender, which A is not any more. */
	ASSERT_EQ(0, pthread_create(&ta, NULL, sender_thread, &a));
	ASSERT_EQ(0, pthread_join(ta, NULL));
	EXPECT_EQ(1, a.idx[0]);
	EXPECT_EQ(2, a.idx[1]);
	ASSERT_TRUE(task_gone(a.tid));
	EXPECT_EQ(0, ioctl(self->dev, UINTR_UNREGISTER_SENDER, 2));
	/* B, the last sender, takes the table with it. */
	close(b.go[1]);
	ASSERT_EQ(0, pthread_join(tb, NULL));
	close(b.go[0]);
	ASSERT_TRUE(task_gone(b.tid));
	EXPECT_EQ(-1, ioctl(self->dev, UINTR_UNREGISTER_SENDER, 1));
	EXPECT_EQ(EINVAL, errno);
	/* A new table, and it works. */
	ASSERT_EQ(0, uintr_register_sender(self->dev, a.vfd));
	_senduipi(0);
	uintr_spin_until(&uintr_total, 1);
	EXPECT_EQ(1U, uintr_received[3]);
	close(a.vfd);
}

TEST_F(recv, sender_after_unregister_is_esrch)
{
	int vfd = uintr_vector_fd(self->dev, 4);

	ASSERT_LE(0, vfd);
	ASSERT_EQ(0, ioctl(self->dev, UINTR_UNREGISTER_HANDLER, 0));
	EXPECT_EQ(-1, uintr_register_sender(self->dev, vfd));
	EXPECT_EQ(ESRCH, errno);
	close(vfd);
}

TEST_F(recv, uitt_holds_256_entries_and_the_257th_is_enospc)
{
	struct uintr_self_args s = { .vector = 1 };
	int i, idx;

	for (i = 0; i < UINTR_MAX_UITT_ENTRIES; i++) {
		idx = ioctl(self->dev, UINTR_REGISTER_SELF, &s);
		ASSERT_EQ(i, idx);
	}
	EXPECT_EQ(-1, ioctl(self->dev, UINTR_REGISTER_SELF, &s));
	EXPECT_EQ(ENOSPC, errno);
	/* A freed slot is reused. */
	EXPECT_EQ(0, ioctl(self->dev, UINTR_UNREGISTER_SENDER, 17));
	EXPECT_EQ(17, ioctl(self->dev, UINTR_REGISTER_SELF, &s));
	/* The last index works. */
	_senduipi(255);
	uintr_spin_until(&uintr_total, 1);
	EXPECT_EQ(1U, uintr_received[1]);
}

static sigjmp_buf fault_jmp;
static volatile int fault_sig;

static void on_fault(int sig)
{
	fault_sig = sig;
	siglongjmp(fault_jmp, 1);
}

static int senduipi_signal(unsigned long index)
{
	struct sigaction sa = { .sa_handler = on_fault }, old_ill, old_segv;

	fault_sig = 0;
	sigaction(SIGILL, &sa, &old_ill);
	sigaction(SIGSEGV, &sa, &old_segv);
	if (!sigsetjmp(fault_jmp, 1))
		_senduipi(index);
	sigaction(SIGILL, &old_ill, NULL);
	sigaction(SIGSEGV, &old_segv, NULL);
	return fault_sig;
}

TEST(senduipi_without_sender_registration_is_sigill)
{
	if (!uintr_kernel_supported())
		SKIP(return, "no user interrupts in this kernel or CPU");
	EXPECT_EQ(SIGILL, senduipi_signal(0));
}

TEST_F(recv, senduipi_with_unused_or_huge_index_is_sigsegv)
{
	struct uintr_self_args s = { .vector = 1 };

	ASSERT_EQ(0, ioctl(self->dev, UINTR_REGISTER_SELF, &s));
	EXPECT_EQ(SIGSEGV, senduipi_signal(1));
	EXPECT_EQ(SIGSEGV, senduipi_signal(256));
	EXPECT_EQ(SIGSEGV, senduipi_signal(~0UL));
	EXPECT_EQ(0U, uintr_total);
}

static int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	char byte = 'u';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &msg, 0) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

#define PROC_POSTS 50

TEST_F(recv, process_to_process_over_scm_rights)
{
	int sv[2], vfd, status;
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int dev = uintr_open(), fd, idx;
		char go;

		fd = recv_fd(sv[1]);
		if (dev < 0 || fd < 0)
			_exit(10);
		idx = uintr_register_sender(dev, fd);
		if (idx < 0)
			_exit(11);
		for (int i = 0; i < PROC_POSTS; i++) {
			_senduipi(idx);
			/* The parent acknowledges each one. */
			if (read(sv[1], &go, 1) != 1)
				_exit(12);
		}
		_exit(0);
	}
	vfd = uintr_vector_fd(self->dev, 6);
	ASSERT_LE(0, vfd);
	ASSERT_EQ(0, send_fd(sv[0], vfd));
	close(vfd);
	for (int i = 1; i <= PROC_POSTS; i++) {
		uintr_spin_until(&uintr_received[6], i);
		ASSERT_EQ((uint64_t)i, uintr_received[6]);
		ASSERT_EQ(1, write(sv[0], "k", 1));
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ((uint64_t)PROC_POSTS, uintr_total);
}

TEST_F(recv, fork_child_inherits_no_receiver_and_no_uitt)
{
	struct uintr_self_args s = { .vector = 3 };
	int idx, status;
	pid_t pid;

	idx = ioctl(self->dev, UINTR_REGISTER_SELF, &s);
	ASSERT_LE(0, idx);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct uintr_wait_args w = { 0 };

		/* No handler: the child is not a receiver. */
		if (ioctl(self->dev, UINTR_WAIT, &w) != -1 || errno != EINVAL)
			_exit(1);
		/* No UITT: SENDUIPI is not enabled. */
		if (senduipi_signal(idx) != SIGILL)
			_exit(2);
		/* And the child can become a receiver of its own. */
		if (uintr_register(self->dev, uintr_count_handler))
			_exit(3);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* The parent's receiver and table are untouched. */
	_senduipi(idx);
	uintr_spin_until(&uintr_total, 1);
	EXPECT_EQ(1U, uintr_received[3]);
}

TEST_F(recv, exec_drops_receiver_and_uitt)
{
	struct uintr_self_args s = { .vector = 3 };
	int status;
	pid_t pid;

	ASSERT_LE(0, ioctl(self->dev, UINTR_REGISTER_SELF, &s));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		/* The child registers and then execs itself in probe mode. */
		char *argv[] = { "/proc/self/exe", "--exec-probe", NULL };

		if (uintr_register(self->dev, uintr_count_handler))
			_exit(20);
		if (ioctl(self->dev, UINTR_REGISTER_SELF, &s) < 0)
			_exit(21);
		execv(argv[0], argv);
		_exit(22);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

struct exiting_receiver {
	int dev;
	int vfd;
	volatile pid_t tid;
	volatile int registered;
};

/*
 * pthread_join() returns once the thread's TID is cleared, which the kernel
 * does before the thread's last steps (where the receiver dies).  The task
 * leaves /proc only after those.
 */
static void wait_task_gone(pid_t tid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d", tid);
	for (int i = 0; i < 10000 && access(path, F_OK) == 0; i++)
		usleep(1000);
}

static void *receiver_then_exit(void *arg)
{
	struct exiting_receiver *r = arg;

	if (uintr_register(r->dev, uintr_count_handler))
		return NULL;
	r->vfd = uintr_vector_fd(r->dev, 8);
	r->tid = syscall(SYS_gettid);
	_stui();
	r->registered = 1;
	/* Exit with the handler registered: the kernel must clean up. */
	for (volatile int i = 0; i < 100000; i++)
		;
	return NULL;
}

TEST_F(recv, receiver_exits_while_sender_keeps_sending)
{
	struct exiting_receiver r = { .dev = self->dev, .vfd = -1 };
	uint64_t before;
	pthread_t t;
	int idx;

	ASSERT_EQ(0, pthread_create(&t, NULL, receiver_then_exit, &r));
	while (!r.registered)
		sched_yield();
	ASSERT_LE(0, r.vfd);
	idx = uintr_register_sender(self->dev, r.vfd);
	ASSERT_LE(0, idx);
	for (int i = 0; i < 2000; i++)
		_senduipi(idx);
	ASSERT_EQ(0, pthread_join(t, NULL));
	wait_task_gone(r.tid);
	before = uintr_total;
	/* Still harmless after the receiver is gone, and delivered nowhere. */
	for (int i = 0; i < 2000; i++)
		_senduipi(idx);
	/* New registrations are refused. */
	EXPECT_EQ(-1, uintr_register_sender(self->dev, r.vfd));
	EXPECT_EQ(ESRCH, errno);
	EXPECT_EQ(0, ioctl(self->dev, UINTR_UNREGISTER_SENDER, idx));
	close(r.vfd);
	for (volatile int i = 0; i < 100000; i++)
		;
	EXPECT_EQ(before, uintr_total);
}

TEST(open_file_pins_the_module)
{
	int dev = uintr_open();

	if (dev < 0)
		SKIP(return, UINTR_DEV " is not there");
	EXPECT_EQ(-1, syscall(SYS_delete_module, "uintr", O_NONBLOCK));
	EXPECT_EQ(EWOULDBLOCK, errno);
	close(dev);
}

TEST_F(recv, registered_task_pins_the_module)
{
	/* No /dev/uintr file open, only this thread's receiver. */
	close(self->dev);
	self->dev = -1;
	EXPECT_EQ(-1, syscall(SYS_delete_module, "uintr", O_NONBLOCK));
	EXPECT_EQ(EWOULDBLOCK, errno);
	self->dev = uintr_open();
	ASSERT_LE(0, self->dev);
}

TEST_F(recv, debugfs_counts_live_objects)
{
	long recv0 = uintr_stat("receivers"), fds0 = uintr_stat("vector_fds");
	long ent0 = uintr_stat("uitt_entries"), snd0 = uintr_stat("senders");
	struct uintr_self_args s = { .vector = 1 };
	int vfd, idx;

	if (recv0 < 0)
		SKIP(return, "debugfs is not mounted");
	/* This thread is a receiver already (fixture). */
	EXPECT_LE(1, recv0);
	vfd = uintr_vector_fd(self->dev, 5);
	ASSERT_LE(0, vfd);
	EXPECT_EQ(fds0 + 1, uintr_stat("vector_fds"));
	idx = ioctl(self->dev, UINTR_REGISTER_SELF, &s);
	ASSERT_LE(0, idx);
	EXPECT_EQ(ent0 + 1, uintr_stat("uitt_entries"));
	EXPECT_EQ(snd0 + 1, uintr_stat("senders"));
	close(vfd);
	EXPECT_EQ(fds0, uintr_stat("vector_fds"));
	EXPECT_EQ(0, ioctl(self->dev, UINTR_UNREGISTER_SENDER, idx));
	EXPECT_EQ(ent0, uintr_stat("uitt_entries"));
	EXPECT_EQ(0, ioctl(self->dev, UINTR_UNREGISTER_HANDLER, 0));
	EXPECT_EQ(recv0 - 1, uintr_stat("receivers"));
}

static int exec_probe(void)
{
	int dev = uintr_open();
	struct uintr_wait_args w = { 0 };

	/* After exec: no handler, and SENDUIPI is not enabled. */
	if (dev < 0)
		return 30;
	if (ioctl(dev, UINTR_WAIT, &w) != -1 || errno != EINVAL)
		return 31;
	if (senduipi_signal(0) != SIGILL)
		return 32;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--exec-probe"))
		return exec_probe();
	return test_harness_run(argc, argv);
}
