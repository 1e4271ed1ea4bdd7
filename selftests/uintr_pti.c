// SPDX-License-Identifier: GPL-2.0
/*
 * A kernel booted with page-table isolation (pti=on) must refuse UINTR:
 * SENDUIPI and notification processing read the UITT and the UPID with
 * supervisor accesses through the user page tables, which do not map them.
 * Not a selftest of the normal runs: /init runs it in uintr_guest=pti mode,
 * with uintr.ko loaded.  It checks that
 *  - the kernel runs with page-table isolation ("pti" in /proc/cpuinfo);
 *  - /proc/cpuinfo has no "uintr" flag;
 *  - the kernel log says why, exactly once, when the CPU enumerates UINTR
 *    (CPUID.(EAX=7,ECX=0):EDX[5]), and says nothing about it otherwise;
 *  - every /dev/uintr ioctl fails with EOPNOTSUPP.
 */
#include <cpuid.h>
#include <sys/klog.h>
#include "uintr_test.h"
#include "kselftest_harness.h"

/* The boot message of patches/0001 (arch/x86/kernel/uintr.c). */
#define REFUSAL "x86/cpu: User Interrupts (UINTR) disabled: page-table isolation is enabled"
/* A refusal, whatever its reason, and the message of an enabled UINTR. */
#define ANY_REFUSAL "User Interrupts (UINTR) disabled:"
#define ACTIVATED "User Interrupts (UINTR) activated"

#define SYSLOG_ACTION_READ_ALL 3
#define SYSLOG_ACTION_SIZE_BUFFER 10

static const unsigned long all_cmds[] = {
	UINTR_REGISTER_HANDLER, UINTR_UNREGISTER_HANDLER, UINTR_CREATE_VECTOR_FD,
	UINTR_REGISTER_SENDER, UINTR_UNREGISTER_SENDER, UINTR_REGISTER_SELF,
	UINTR_WAIT, UINTR_WATCH_FD,
};

static bool cpu_enumerates_uintr(void)
{
	unsigned int eax, ebx, ecx, edx;

	if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx))
		return false;
	return edx & (1U << 5);
}

/* Whether the "flags" line of /proc/cpuinfo has the flag @name. */
static bool cpuinfo_flag(const char *name)
{
	char line[8192], *tok, *save;
	bool found = false;
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5))
			continue;
		for (tok = strtok_r(line, " \t\n:", &save); tok && !found;
		     tok = strtok_r(NULL, " \t\n:", &save))
			found = !strcmp(tok, name);
		break;
	}
	fclose(f);
	return found;
}

/* Lines of the kernel log that contain @needle. */
static int klog_count(const char *needle)
{
	int size = klogctl(SYSLOG_ACTION_SIZE_BUFFER, NULL, 0);
	char *buf, *p;
	int len, n = 0;

	if (size <= 0)
		return -1;
	buf = malloc(size + 1);
	if (!buf)
		return -1;
	len = klogctl(SYSLOG_ACTION_READ_ALL, buf, size);
	if (len < 0) {
		free(buf);
		return -1;
	}
	buf[len] = '\0';
	for (p = buf; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	free(buf);
	return n;
}

TEST(kernel_runs_with_pti)
{
	EXPECT_TRUE(cpuinfo_flag("pti")) {
		TH_LOG("no \"pti\" flag in /proc/cpuinfo: boot with pti=on");
	}
}

TEST(cpuinfo_has_no_uintr)
{
	EXPECT_FALSE(cpuinfo_flag("uintr"));
	EXPECT_FALSE(uintr_kernel_supported());
}

TEST(boot_log_says_why_once)
{
	int want = cpu_enumerates_uintr() ? 1 : 0;

	TH_LOG("the CPU %s UINTR", want ? "enumerates" : "does not enumerate");
	EXPECT_EQ(want, klog_count(REFUSAL));
	EXPECT_EQ(want, klog_count(ANY_REFUSAL));
	EXPECT_EQ(0, klog_count(ACTIVATED));
}

TEST(every_ioctl_is_eopnotsupp)
{
	struct uintr_handler_args args = { .handler = (uintptr_t)uintr_count_handler };
	unsigned int i;
	int fd = uintr_open();

	ASSERT_LE(0, fd) {
		TH_LOG("cannot open " UINTR_DEV ": %s (is uintr.ko loaded?)", strerror(errno));
	}
	for (i = 0; i < sizeof(all_cmds) / sizeof(all_cmds[0]); i++) {
		errno = 0;
		EXPECT_EQ(-1, ioctl(fd, all_cmds[i], &args)) {
			TH_LOG("cmd %#lx", all_cmds[i]);
		}
		EXPECT_EQ(EOPNOTSUPP, errno) {
			TH_LOG("cmd %#lx", all_cmds[i]);
		}
	}
	close(fd);
}

TEST_HARNESS_MAIN
