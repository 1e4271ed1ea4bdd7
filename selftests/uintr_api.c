// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/uintr ioctl interface: every invalid argument is rejected with its
 * documented errno and changes nothing; without UINTR every ioctl fails
 * with EOPNOTSUPP.
 */
#include <sys/mman.h>
#include "uintr_test.h"
#include "kselftest_harness.h"

static const unsigned long all_cmds[] = {
	UINTR_REGISTER_HANDLER, UINTR_UNREGISTER_HANDLER, UINTR_CREATE_VECTOR_FD,
	UINTR_REGISTER_SENDER, UINTR_UNREGISTER_SENDER, UINTR_REGISTER_SELF,
	UINTR_WAIT, UINTR_WATCH_FD,
};

FIXTURE(dev) {
	int fd;
};

FIXTURE_SETUP(dev)
{
	self->fd = uintr_open();
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, UINTR_DEV " does not exist (module not loaded)");
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(dev)
{
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(dev, unknown_ioctl_is_enotty)
{
	EXPECT_EQ(-1, ioctl(self->fd, _IO(UINTR_IOC_MAGIC, 0x7f), 0));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->fd, _IOW('x', 0x00, struct uintr_handler_args), 0));
	EXPECT_EQ(ENOTTY, errno);
}

TEST_F(dev, no_uintr_every_ioctl_is_eopnotsupp)
{
	struct uintr_handler_args args = { .handler = (uintptr_t)uintr_count_handler };
	unsigned int i;

	if (uintr_kernel_supported())
		SKIP(return, "the kernel runs with user interrupts");
	for (i = 0; i < sizeof(all_cmds) / sizeof(all_cmds[0]); i++) {
		EXPECT_EQ(-1, ioctl(self->fd, all_cmds[i], &args)) {
			TH_LOG("cmd %#lx", all_cmds[i]);
		}
		EXPECT_EQ(EOPNOTSUPP, errno);
	}
}

FIXTURE(recv) {
	int fd;
};

FIXTURE_SETUP(recv)
{
	if (!uintr_kernel_supported())
		SKIP(return, "no user interrupts in this kernel or CPU");
	self->fd = uintr_open();
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(recv)
{
	if (self->fd >= 0) {
		ioctl(self->fd, UINTR_UNREGISTER_HANDLER, 0);
		close(self->fd);
	}
}

TEST_F(recv, register_then_unregister)
{
	ASSERT_EQ(0, uintr_register(self->fd, uintr_count_handler));
	EXPECT_EQ(0, ioctl(self->fd, UINTR_UNREGISTER_HANDLER, 0));
	/* Registering again after unregistering works. */
	EXPECT_EQ(0, uintr_register(self->fd, uintr_count_handler));
}

TEST_F(recv, register_handler_twice_is_ebusy)
{
	ASSERT_EQ(0, uintr_register(self->fd, uintr_count_handler));
	EXPECT_EQ(-1, uintr_register(self->fd, uintr_count_handler));
	EXPECT_EQ(EBUSY, errno);
}

TEST_F(recv, unregister_without_handler_is_einval)
{
	EXPECT_EQ(-1, ioctl(self->fd, UINTR_UNREGISTER_HANDLER, 0));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(recv, register_handler_bad_pointer_is_efault)
{
	void *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, none);
	EXPECT_EQ(-1, ioctl(self->fd, UINTR_REGISTER_HANDLER, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->fd, UINTR_REGISTER_HANDLER, none));
	EXPECT_EQ(EFAULT, errno);
	munmap(none, 4096);
	/* Nothing was registered. */
	EXPECT_EQ(-1, ioctl(self->fd, UINTR_UNREGISTER_HANDLER, 0));
	EXPECT_EQ(EINVAL, errno);
}

FIXTURE_VARIANT(bad_handler) {
	uint64_t handler;
	uint64_t stack;
	uint32_t flags;
	uint32_t reserved;
};

FIXTURE(bad_handler) {
	int fd;
};

FIXTURE_VARIANT_ADD(bad_handler, null_handler) { .handler = 0 };
FIXTURE_VARIANT_ADD(bad_handler, kernel_handler) { .handler = 0xffffffff81000000ULL };
FIXTURE_VARIANT_ADD(bad_handler, noncanonical_handler) { .handler = 0x0000800000000000ULL };
FIXTURE_VARIANT_ADD(bad_handler, unknown_flag) { .handler = 0x401000, .flags = 1U << 31 };
FIXTURE_VARIANT_ADD(bad_handler, reserved_set) { .handler = 0x401000, .reserved = 1 };
FIXTURE_VARIANT_ADD(bad_handler, stack_without_flag) { .handler = 0x401000, .stack = 0x7fff0000 };
FIXTURE_VARIANT_ADD(bad_handler, alt_stack_null) {
	.handler = 0x401000, .flags = UINTR_HANDLER_ALT_STACK, .stack = 0 };
FIXTURE_VARIANT_ADD(bad_handler, alt_stack_kernel) {
	.handler = 0x401000, .flags = UINTR_HANDLER_ALT_STACK, .stack = 0xffff888000000000ULL };

FIXTURE_SETUP(bad_handler)
{
	if (!uintr_kernel_supported())
		SKIP(return, "no user interrupts in this kernel or CPU");
	self->fd = uintr_open();
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(bad_handler)
{
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(bad_handler, is_einval_and_registers_nothing)
{
	struct uintr_handler_args args = {
		.handler = variant->handler,
		.stack = variant->stack,
		.flags = variant->flags,
		.reserved = variant->reserved,
	};

	EXPECT_EQ(-1, ioctl(self->fd, UINTR_REGISTER_HANDLER, &args));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->fd, UINTR_UNREGISTER_HANDLER, 0));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(recv, vector_fd_bad_vector_is_einval)
{
	struct uintr_vector_args v = { .vector = UINTR_MAX_VECTORS };

	ASSERT_EQ(0, uintr_register(self->fd, uintr_count_handler));
	EXPECT_EQ(-1, ioctl(self->fd, UINTR_CREATE_VECTOR_FD, &v));
	EXPECT_EQ(EINVAL, errno);
	v.vector = 0;
	v.flags = 1U << 1;
	EXPECT_EQ(-1, ioctl(self->fd, UINTR_CREATE_VECTOR_FD, &v));
	EXPECT_EQ(EINVAL, errno);
	v.flags = UINTR_VECTOR_FD_POLL | (1U << 31);
	EXPECT_EQ(-1, ioctl(self->fd, UINTR_CREATE_VECTOR_FD, &v));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(recv, self_entry_poll_flag_is_einval)
{
	struct uintr_self_args s = { .vector = 1, .flags = UINTR_VECTOR_FD_POLL };

	ASSERT_EQ(0, uintr_register(self->fd, uintr_count_handler));
	EXPECT_EQ(-1, ioctl(self->fd, UINTR_REGISTER_SELF, &s));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(recv, vector_fd_without_handler_is_einval)
{
	struct uintr_vector_args v = { .vector = 1 };

	EXPECT_EQ(-1, ioctl(self->fd, UINTR_CREATE_VECTOR_FD, &v));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(recv, sender_bad_fd_is_ebadf)
{
	struct uintr_sender_args s = { .fd = 999 };

	EXPECT_EQ(-1, ioctl(self->fd, UINTR_REGISTER_SENDER, &s));
	EXPECT_EQ(EBADF, errno);
	s.fd = -1;
	EXPECT_EQ(-1, ioctl(self->fd, UINTR_REGISTER_SENDER, &s));
	EXPECT_EQ(EBADF, errno);
}

TEST_F(recv, sender_non_uintr_fd_is_einval)
{
	struct uintr_sender_args s = { .fd = self->fd };

	/* /dev/uintr itself is not a vector fd. */
	EXPECT_EQ(-1, ioctl(self->fd, UINTR_REGISTER_SENDER, &s));
	EXPECT_EQ(EINVAL, errno);
	s.fd = STDIN_FILENO;
	EXPECT_EQ(-1, ioctl(self->fd, UINTR_REGISTER_SENDER, &s));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(recv, unregister_unused_sender_index_is_einval)
{
	EXPECT_EQ(-1, ioctl(self->fd, UINTR_UNREGISTER_SENDER, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->fd, UINTR_UNREGISTER_SENDER, UINTR_MAX_UITT_ENTRIES));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(recv, wait_without_handler_is_einval)
{
	struct uintr_wait_args w = { 0 };

	EXPECT_EQ(-1, ioctl(self->fd, UINTR_WAIT, &w));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(recv, wait_bad_args_are_einval)
{
	struct uintr_wait_args w = { .flags = UINTR_WAIT_TIMEOUT, .timeout_ns = -1 };

	ASSERT_EQ(0, uintr_register(self->fd, uintr_count_handler));
	EXPECT_EQ(-1, ioctl(self->fd, UINTR_WAIT, &w));
	EXPECT_EQ(EINVAL, errno);
	w.timeout_ns = 0;
	w.flags = 1U << 7;
	EXPECT_EQ(-1, ioctl(self->fd, UINTR_WAIT, &w));
	EXPECT_EQ(EINVAL, errno);
	w.flags = 0;
	w.reserved = 1;
	EXPECT_EQ(-1, ioctl(self->fd, UINTR_WAIT, &w));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(recv, wait_times_out)
{
	struct uintr_wait_args w = { .flags = UINTR_WAIT_TIMEOUT, .timeout_ns = 1000000 };

	ASSERT_EQ(0, uintr_register(self->fd, uintr_count_handler));
	EXPECT_EQ(-1, ioctl(self->fd, UINTR_WAIT, &w));
	EXPECT_EQ(ETIMEDOUT, errno);
}

TEST_HARNESS_MAIN
