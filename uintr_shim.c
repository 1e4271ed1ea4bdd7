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
#include <linux/irq_work.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>
#include <asm/apic.h>

#include "uintr_shim.h"

/*
 * Deferred work: receivers can be dropped where nothing may sleep (the exit
 * hook runs under rcu_read_lock()), but a wait queue with an irq_work is
 * only freed after irq_work_sync(), and a receiver in a slot of the module's
 * per-CPU tables must outlive an RCU grace period after it left the slot.
 * Both go through this workqueue, which module exit drains.
 */
static struct workqueue_struct *uintr_wq;

int uintr_deferred_init(void)
{
	uintr_wq = alloc_workqueue("uintr", WQ_UNBOUND, 0);
	return uintr_wq ? 0 : -ENOMEM;
}

/*
 * Called last on module exit.  A queued put can end in a queued free, each
 * behind a grace period: two rounds drain everything that runs module code.
 */
void uintr_deferred_exit(void)
{
	rcu_barrier();
	flush_workqueue(uintr_wq);
	rcu_barrier();
	destroy_workqueue(uintr_wq);
}

/*
 * A receiver's wait queue, shared by all its vector fds, and the irq_work
 * that wakes it: the Rust side collects posts in contexts that cannot take
 * the wait-queue lock safely (the scheduler's switch path, XSAVES in any
 * context); those wake-ups go through the irq_work.
 */
struct uintr_poll {
	wait_queue_head_t wq;
	struct irq_work wake;
	void *owner;			/* the reference put_work drops */
	struct rcu_work put_work;
	struct rcu_work free_work;
	struct rcu_head rcu;
};

static void uintr_poll_wake_fn(struct irq_work *work)
{
	struct uintr_poll *p = container_of(work, struct uintr_poll, wake);

	wake_up_all(&p->wq);
}

static void uintr_poll_put_fn(struct work_struct *work)
{
	struct uintr_poll *p = container_of(to_rcu_work(work), struct uintr_poll,
					    put_work);

	/* May drop the last reference, which frees @p through free_work. */
	uintr_rust_receiver_put(p->owner);
}

static void uintr_poll_free_fn(struct work_struct *work)
{
	struct uintr_poll *p = container_of(to_rcu_work(work), struct uintr_poll,
					    free_work);

	irq_work_sync(&p->wake);
	/* No fd is open any more, so no epoll entry should be left. */
	wake_up_pollfree(&p->wq);
	kfree_rcu(p, rcu);
}

struct uintr_poll *uintr_poll_new(void)
{
	struct uintr_poll *p = kzalloc(sizeof(*p), GFP_KERNEL);

	if (!p)
		return NULL;
	init_waitqueue_head(&p->wq);
	init_irq_work(&p->wake, uintr_poll_wake_fn);
	INIT_RCU_WORK(&p->put_work, uintr_poll_put_fn);
	INIT_RCU_WORK(&p->free_work, uintr_poll_free_fn);
	return p;
}

/* Wake everybody polling or reading @p's fds soon.  Any context. */
void uintr_poll_wake(struct uintr_poll *p)
{
	irq_work_queue(&p->wake);
}

/* Wake them now.  Process context only. */
void uintr_poll_wake_now(struct uintr_poll *p)
{
	wake_up_all(&p->wq);
}

/*
 * Hand @owner, a receiver reference, to uintr_rust_receiver_put() after an
 * RCU grace period.  Any context; at most once per @p.
 */
void uintr_poll_put_later(struct uintr_poll *p, void *owner)
{
	p->owner = owner;
	queue_rcu_work(uintr_wq, &p->put_work);
}

/* Free @p once its irq_work is idle.  Any context; once. */
void uintr_poll_free(struct uintr_poll *p)
{
	queue_rcu_work(uintr_wq, &p->free_work);
}

static int uintr_vector_fop_release(struct inode *inode, struct file *file)
{
	uintr_rust_vector_release(file->private_data);
	return 0;
}

static __poll_t uintr_vector_fop_poll(struct file *file, poll_table *pt)
{
	struct uintr_poll *p = uintr_rust_vector_queue(file->private_data);
	u32 state;

	poll_wait(file, &p->wq, pt);
	state = uintr_rust_vector_poll(file->private_data);
	return (state & 1 ? EPOLLIN | EPOLLRDNORM : 0) |
	       (state & 2 ? EPOLLHUP : 0);
}

/*
 * read(): the number of posts counted on the fd since the last read, as a
 * u64; 0 (end of file) once the receiver is gone and nothing is left.
 */
static ssize_t uintr_vector_fop_read(struct file *file, char __user *buf,
				     size_t len, loff_t *ppos)
{
	void *vector = file->private_data;
	u64 count;
	int ret;

	if (len < sizeof(count))
		return -EINVAL;
	for (;;) {
		ret = uintr_rust_vector_take(vector, &count);
		if (ret != -EAGAIN || (file->f_flags & O_NONBLOCK))
			break;
		ret = wait_event_interruptible(uintr_rust_vector_queue(vector)->wq,
					       uintr_rust_vector_ready(vector));
		if (ret)
			return ret;
	}
	if (ret < 0)
		return ret;
	if (!count)
		return 0;
	if (copy_to_user(buf, &count, sizeof(count))) {
		uintr_rust_vector_untake(vector, count);
		return -EFAULT;
	}
	return sizeof(count);
}

static const struct file_operations uintr_vector_fops = {
	.owner		= THIS_MODULE,
	.release	= uintr_vector_fop_release,
	.poll		= uintr_vector_fop_poll,
	.read		= uintr_vector_fop_read,
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

bool uintr_cpu_online(unsigned int cpu)
{
	return cpu < nr_cpu_ids && cpu_online(cpu);
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
