// SPDX-License-Identifier: GPL-2.0
/*
 * The C side of the uintr module: the few things the Rust kernel crate has
 * no abstraction for.  Vector fds are anonymous-inode files whose
 * file_operations carry .owner so that an open fd pins the module, and an
 * open /dev/uintr gets the same treatment (Rust misc devices leave .owner
 * unset).
 * Everything here is called from Rust through one extern block
 * (shim.rs); the callbacks into Rust are declared below.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/hrtimer.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/sched/signal.h>
#include <asm/apic.h>

#include "uintr_shim.h"

static int uintr_vector_fop_release(struct inode *inode, struct file *file)
{
	uintr_rust_vector_release(file->private_data);
	return 0;
}

static const struct file_operations uintr_vector_fops = {
	.owner		= THIS_MODULE,
	.release	= uintr_vector_fop_release,
	.llseek		= noop_llseek,
};

/*
 * Install a new close-on-exec vector fd whose private data is @vector.  On
 * success the file owns @vector (released through uintr_rust_vector_release);
 * on failure the caller still does.
 */
int uintr_vector_fd_install(void *vector)
{
	return anon_inode_getfd("[uintr-vector]", &uintr_vector_fops, vector,
				O_RDWR | O_CLOEXEC);
}

/* The vector behind @file, or NULL if @file is not a vector fd. */
void *uintr_vector_of_file(struct file *file)
{
	if (file->f_op != &uintr_vector_fops)
		return NULL;
	return file->private_data;
}

static struct file_operations uintr_dev_fops;

/*
 * Make an open /dev/uintr pin the module.  Called from the device's ->open(),
 * which misc_open() runs under misc_mtx: that serializes opens with each
 * other and with misc_deregister(), so the copy below is made once and the
 * module cannot go away before the reference is taken.
 */
void uintr_dev_file_pin(struct file *file)
{
	if (!uintr_dev_fops.open) {
		uintr_dev_fops = *file->f_op;
		uintr_dev_fops.owner = THIS_MODULE;
	}
	__module_get(THIS_MODULE);
	replace_fops(file, &uintr_dev_fops);
}

/* Tasks with user-interrupt state attached pin the module. */
void uintr_module_get(void)
{
	__module_get(THIS_MODULE);
}

void uintr_module_put(void)
{
	module_put(THIS_MODULE);
}

/* The APIC ID of @cpu, and whether the local APICs run in x2APIC mode. */
u32 uintr_cpu_apicid(unsigned int cpu)
{
	return per_cpu(x86_cpu_to_apicid, cpu);
}

bool uintr_x2apic_mode(void)
{
	return x2apic_mode;
}

u64 uintr_task_size_max(void)
{
	return TASK_SIZE_MAX;
}

/*
 * Sleep until *@pir is non-zero, a signal is pending, or @timeout_ns (if not
 * negative) has passed.  The waker sets *@pir before it wakes the task, and
 * the check follows set_current_state(), so no wake-up is lost.
 */
int uintr_sleep_until_posted(const u64 *pir, s64 timeout_ns)
{
	ktime_t expires, *exp = NULL;
	bool expired = false;
	int ret = 0;

	if (timeout_ns >= 0) {
		expires = ktime_add_ns(ktime_get(), timeout_ns);
		exp = &expires;
	}
	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (READ_ONCE(*pir))
			break;
		if (signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		if (expired) {
			ret = -ETIMEDOUT;
			break;
		}
		expired = !schedule_hrtimeout(exp, HRTIMER_MODE_ABS);
	}
	__set_current_state(TASK_RUNNING);
	return ret;
}
