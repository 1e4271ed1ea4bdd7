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
#include <linux/cpuhotplug.h>
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/hashtable.h>
#include <linux/hrtimer.h>
#include <linux/irq_work.h>
#include <linux/ktime.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/net.h>
#include <linux/percpu.h>
#include <linux/poll.h>
#include <linux/ptrace.h>
#include <linux/sched/task_stack.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/task_work.h>
#include <linux/time_namespace.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>
#include <net/sock.h>
#include <asm/apic.h>
#include <asm/fpu/api.h>
#include <asm/irq_vectors.h>
#include <asm/syscall.h>
#include <asm/uintr.h>

#include "uintr_shim.h"
#include "include/uapi/linux/uintr.h"

#define CREATE_TRACE_POINTS
#include "uintr_trace.h"

/*
 * The contract with the kernel series as hw/vectors.rs and hw/xstate.rs
 * state it: a mismatch fails the build here.
 */
static_assert(UINTR_NOTIFICATION_VECTOR == 0xea);
static_assert(UINTR_KERNEL_VECTOR == 0xe9);
static_assert(sizeof(struct uintr_state) == 48);
static_assert(offsetof(struct uintr_state, handler) == 0);
static_assert(offsetof(struct uintr_state, stack_adjust) == 8);
static_assert(offsetof(struct uintr_state, misc) == 16);
static_assert(offsetof(struct uintr_state, upid_addr) == 24);
static_assert(offsetof(struct uintr_state, uirr) == 32);
static_assert(offsetof(struct uintr_state, uitt_addr) == 40);

/*
 * The kernel's hooks, on the Rust side's terms: the component rather than
 * the XSAVE buffer, NULL when the buffer holds it in its init state.  On
 * the way to user space, the kernel has put it into the buffer that
 * XRSTORS loads, for the hook to arm UINV there.
 */
static void uintr_after_xsaves_hook(struct xregs_state *xsave)
{
	uintr_rust_after_xsaves(uintr_component(xsave));
}

static void uintr_before_xrstors_hook(struct xregs_state *xsave)
{
	uintr_rust_before_xrstors(uintr_component(xsave));
}

static void uintr_exit_to_user_hook(struct xregs_state *xsave)
{
	uintr_rust_exit_to_user(xsave ? uintr_component(xsave) : NULL);
}

static const struct uintr_ops uintr_hook_ops = {
	.after_xsaves	= uintr_after_xsaves_hook,
	.before_xrstors	= uintr_before_xrstors_hook,
	.exit_to_user	= uintr_exit_to_user_hook,
	.switch_out	= uintr_rust_switch_out,
	.task_release	= uintr_rust_task_release,
	.kernel_vector	= uintr_kernel_vector_this_cpu,
};

int uintr_hooks_register(void)
{
	return uintr_register_ops(&uintr_hook_ops);
}

void uintr_hooks_unregister(void)
{
	uintr_unregister_ops(&uintr_hook_ops);
}

void *uintr_task_data(struct task_struct *t)
{
	return READ_ONCE(t->thread.uintr);
}

/* The UINTR MSRs, and no other. */
static bool uintr_msr_valid(u32 msr)
{
	return !WARN_ON_ONCE(msr < MSR_IA32_UINTR_RR || msr > MSR_IA32_UINTR_TT);
}

u64 uintr_rdmsr(u32 msr)
{
	return uintr_msr_valid(msr) ? native_rdmsrq(msr) : 0;
}

void uintr_wrmsr(u32 msr, u64 val)
{
	if (uintr_msr_valid(msr))
		native_wrmsrq(msr, val);
}

void uintr_send_ipi_self(u32 vector)
{
	__apic_send_IPI_self(vector);
}

/* The tracepoints, for the Rust side. */
void uintr_trace_receiver(u64 upid, bool alive)
{
	trace_uintr_receiver(upid, alive);
}

void uintr_trace_kernel_post(u64 upid, u32 vector, u32 source, u32 how, u32 ndst)
{
	trace_uintr_kernel_post(upid, vector, source, how, ndst);
}

void uintr_trace_replay(u64 upid, u64 pir)
{
	trace_uintr_replay(upid, pir);
}

void uintr_trace_collect(u64 upid, u64 vectors, bool from_registers)
{
	trace_uintr_collect(upid, vectors, from_registers);
}

void uintr_trace_wake(u64 upid, long ret, long now)
{
	trace_uintr_wake(upid, ret, now);
}

/*
 * Deferred work: receivers can be dropped where nothing may sleep (the exit
 * hook runs under rcu_read_lock()), but a wait queue with an irq_work is
 * only freed after irq_work_sync().  That goes through this workqueue,
 * which module exit drains.
 */
static struct workqueue_struct *uintr_wq;

int uintr_deferred_init(void)
{
	uintr_wq = alloc_workqueue("uintr", WQ_UNBOUND, 0);
	return uintr_wq ? 0 : -ENOMEM;
}

/*
 * Called last on module exit: waits for the queued frees, each behind a
 * grace period.  The kfree_rcu() they end with runs no module code.
 */
void uintr_deferred_exit(void)
{
	/*
	 * The tails of kicks' irq_works (hard interrupts) after their task
	 * work ran elsewhere, and of the task works (run by the tasks,
	 * preemptibly) after their module_put().
	 */
	synchronize_rcu();
	synchronize_rcu_tasks();
	rcu_barrier();
	flush_workqueue(uintr_wq);
	rcu_barrier();
	destroy_workqueue(uintr_wq);
}

/*
 * The C half of a receiver: the wait queue its vector fds share, the
 * irq_work that wakes it from contexts that cannot take the wait-queue lock
 * (the scheduler's switch path, XSAVES in any context, the kernel-vector
 * handler), and its links into the per-CPU lists below.
 */
struct uintr_poll {
	wait_queue_head_t wq;
	/*
	 * Orders collections of the receiver's PIR into its counts with its
	 * death: a post made after the receiver died is never counted.
	 */
	raw_spinlock_t collect_lock;
	struct irq_work wake;
	struct rcu_work free_work;
	struct rcu_head rcu;
	/* The receiver (Rust), for the kernel-vector handler. */
	void *owner;
	/* Word 0 of the receiver's UPID: the handler acts only where ON is set. */
	const u64 *upid;
	/* In the polled list of CPU @poll_cpu, or -1 (see uintr_poll_claim()). */
	struct list_head poll_node;
	int poll_cpu;
	/* In the waiter list of CPU @wait_cpu while its thread is in UINTR_WAIT. */
	struct list_head wait_node;
	struct task_struct *wait_task;
	int wait_cpu;
	/*
	 * UINTR_HANDLER_WAKE: the receiver's thread (no reference: it is
	 * used only while the receiver is in a list, which the thread's end
	 * takes it out of), and the irq_work and task work that interrupt
	 * its system call; @kick_task holds a reference while they are queued.
	 */
	struct task_struct *task;
	struct task_struct *kick_task;
	struct irq_work kick;
	struct callback_head twork;
	struct work_struct kick_failed;
	/*
	 * The receiver's own thread sleeps in read() of one of the fds: the
	 * kernel vector wakes it directly and leaves the wait queue's other
	 * sleepers to it (@own_wake_pending), see uintr_poll_wake().
	 */
	bool own_reader;
	bool own_wake_pending;
	/*
	 * Someone other than the receiver's own reader polled or read one of
	 * the fds, so may sleep on @wq: the handler wakes them through the
	 * irq_work at once rather than leaving them to the reader, which may
	 * not get a CPU soon.  Set for good.
	 */
	bool others;
};

/*
 * Per CPU: the receivers whose UPID may name this CPU with the kernel
 * vector, so that its handler knows whom a notification is for.  A receiver
 * blocked in UINTR_WAIT is in @waiters while it sleeps; one with polled
 * vectors is in @polled until it dies.  The lists have no fixed size: each
 * entry lives in its receiver's struct uintr_poll, allocated with
 * __GFP_ACCOUNT and charged to whoever made the receiver.
 *
 * Lock order: @wait_lock is taken before a runqueue lock (the handler wakes
 * waiters); @poll_lock after one (the switch-out hook parks a receiver
 * under its runqueue lock).  Neither is taken under the other.
 */
struct uintr_cpu {
	raw_spinlock_t wait_lock;
	struct list_head waiters;
	raw_spinlock_t poll_lock;
	struct list_head polled;
};

static DEFINE_PER_CPU(struct uintr_cpu, uintr_cpus);
static enum cpuhp_state uintr_dead_state, uintr_online_state;

/*
 * The task waking the pollers of a receiver's fds on this CPU, if any.  A
 * watch (UINTR_WATCH_FD) ignores the wake-ups that run inside it: they are
 * the consequence of a post, through an epoll fd that holds a vector fd,
 * and a post must not cause another, or one write could make posts feed
 * themselves for ever, in interrupt context.  Such wake-ups run in the same
 * task, on this CPU, under the queue's lock; an unrelated wake-up that runs
 * meanwhile on this CPU runs in another task (PREEMPT_RT: the lock only
 * pins the task to the CPU) or not at all (interrupts are off).  Each task
 * takes a slot of its own and clears only that one, so wake-ups that
 * preempt each other on PREEMPT_RT may end in any order.  With every slot
 * taken (that many tasks preempted inside a wake-up on one CPU), the
 * wake-up runs unmarked.
 */
#define UINTR_WAKERS 8
static DEFINE_PER_CPU(struct task_struct *[UINTR_WAKERS], uintr_wakers);

static bool uintr_waking_here(void)
{
	struct task_struct *const *w = this_cpu_ptr(uintr_wakers);
	int i;

	for (i = 0; i < UINTR_WAKERS; i++)
		if (READ_ONCE(w[i]) == current)
			return true;
	return false;
}

static void uintr_poll_wake_all(struct uintr_poll *p)
{
	struct task_struct **slot = NULL, **w;
	unsigned long flags;
	int i;

	spin_lock_irqsave(&p->wq.lock, flags);
	w = this_cpu_ptr(uintr_wakers);
	for (i = 0; i < UINTR_WAKERS && !slot; i++)
		if (!cmpxchg(&w[i], NULL, current))
			slot = &w[i];
	wake_up_all_locked(&p->wq);
	if (slot)
		WRITE_ONCE(*slot, NULL);
	spin_unlock_irqrestore(&p->wq.lock, flags);
}

static void uintr_poll_wake_fn(struct irq_work *work)
{
	struct uintr_poll *p = container_of(work, struct uintr_poll, wake);

	uintr_poll_wake_all(p);
}

/*
 * UINTR_HANDLER_WAKE.  On the thread's way out of the interrupted call, in
 * get_signal() (before the signal code restarts the call): give the call
 * the return value the handler's running calls for, then drop what the
 * kick held.  The module reference is dropped last; module exit waits for
 * an RCU-tasks grace period, which this function's tail cannot span.  A
 * call that runs task works itself while it waits (io_uring_enter()) runs
 * this before it returns, with no return value yet: nothing is rewritten,
 * and no second kick comes before the thread's return to user space.
 * The cgroup freezer's trap runs it in get_signal() after the call
 * returned, as the signal code does: the value is rewritten there.
 */
static void uintr_wake_twork_fn(struct callback_head *cb)
{
	struct uintr_poll *p = container_of(cb, struct uintr_poll, twork);
	struct pt_regs *regs = task_pt_regs(current);

	if (syscall_get_nr(current, regs) >= 0) {
		long ret = syscall_get_error(current, regs);
		long now = uintr_rust_wake_return(p->owner, ret);

		if (now != ret)
			syscall_set_return_value(current, regs, now, 0);
	}
	uintr_rust_wake_done(p->owner);
	module_put(THIS_MODULE);
}

/*
 * Whether module exit can wait for a task preempted in the task work's
 * tail: RCU-tasks can, and without preemption an RCU grace period does.
 * UINTR_HANDLER_WAKE is refused where neither holds.
 */
bool uintr_wake_supported(void)
{
	return IS_ENABLED(CONFIG_TASKS_RCU) || !IS_ENABLED(CONFIG_PREEMPTION);
}

/*
 * A kick whose thread was gone: its references go from process context
 * (the receiver's last one may go with them), and module exit's flush of
 * the workqueue waits for this function.
 */
static void uintr_wake_kick_failed_fn(struct work_struct *work)
{
	struct uintr_poll *p = container_of(work, struct uintr_poll, kick_failed);

	uintr_rust_wake_done(p->owner);
	module_put(THIS_MODULE);
}

/*
 * Hard interrupt context, once the scheduler's locks are dropped: the
 * thread gets the task work and is woken as for a signal.  A thread past
 * exit_task_work() refuses it; then the kick ends on the workqueue.
 */
static void uintr_wake_kick_fn(struct irq_work *work)
{
	struct uintr_poll *p = container_of(work, struct uintr_poll, kick);
	struct task_struct *t = p->kick_task;
	int ret;

	init_task_work(&p->twork, uintr_wake_twork_fn);
	ret = task_work_add(t, &p->twork, TWA_SIGNAL);
	put_task_struct(t);
	if (ret)
		queue_work(uintr_wq, &p->kick_failed);
}

/*
 * Interrupt the system call @p's thread sleeps in.  Any context, the
 * switch path included (the irq_work runs once its locks are dropped).
 * The caller holds a reference on the receiver for the kick, and calls
 * this at most once until uintr_rust_wake_done(); @p is in a list, so its
 * thread has not passed its exit hook.
 */
void uintr_wake_kick(struct uintr_poll *p)
{
	p->kick_task = p->task;
	get_task_struct(p->kick_task);
	__module_get(THIS_MODULE);
	irq_work_queue(&p->kick);
}

/*
 * fpregs_lock(), and whether current's FPU registers are live: its UINTR
 * MSRs are then its UINTR state, and stay so (no XSAVES, no invalidation)
 * until uintr_fpregs_unlock().
 */
bool uintr_fpregs_lock_live(void)
{
	fpregs_lock();
	return !test_thread_flag(TIF_NEED_FPU_LOAD);
}

void uintr_fpregs_unlock(void)
{
	fpregs_unlock();
}

/* Whether @t, leaving its CPU, sleeps interruptibly. */
bool uintr_task_sleeps_interruptibly(struct task_struct *t)
{
	return READ_ONCE(t->__state) & TASK_INTERRUPTIBLE;
}

static void uintr_poll_free_fn(struct work_struct *work)
{
	struct uintr_poll *p = container_of(to_rcu_work(work), struct uintr_poll,
					    free_work);

	irq_work_sync(&p->wake);
	irq_work_sync(&p->kick);
	/* No fd is open any more, so no epoll entry should be left. */
	wake_up_pollfree(&p->wq);
	kfree_rcu(p, rcu);
}

struct uintr_poll *uintr_poll_new(void)
{
	struct uintr_poll *p = kzalloc(sizeof(*p), GFP_KERNEL_ACCOUNT);

	if (!p)
		return NULL;
	init_waitqueue_head(&p->wq);
	raw_spin_lock_init(&p->collect_lock);
	init_irq_work(&p->wake, uintr_poll_wake_fn);
	p->kick = IRQ_WORK_INIT_HARD(uintr_wake_kick_fn);
	INIT_WORK(&p->kick_failed, uintr_wake_kick_failed_fn);
	INIT_RCU_WORK(&p->free_work, uintr_poll_free_fn);
	INIT_LIST_HEAD(&p->poll_node);
	p->poll_cpu = -1;
	INIT_LIST_HEAD(&p->wait_node);
	p->wait_cpu = -1;
	return p;
}

/* Lock out other collections of @p's receiver's PIR.  Any context. */
unsigned long uintr_poll_collect_lock(struct uintr_poll *p)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&p->collect_lock, flags);
	return flags;
}

void uintr_poll_collect_unlock(struct uintr_poll *p, unsigned long flags)
{
	raw_spin_unlock_irqrestore(&p->collect_lock, flags);
}

/*
 * Threads the kernel-vector handler of this CPU wakes once it has dropped
 * its list locks, with a reference each: receivers' own threads asleep in
 * read() of their fds.  Only the handler uses it, with interrupts off.
 */
#define UINTR_KV_WAKES 8
struct uintr_kv_wakes {
	bool active;
	int n;
	struct task_struct *task[UINTR_KV_WAKES];
};
static DEFINE_PER_CPU(struct uintr_kv_wakes, uintr_kv_wakes);

/*
 * Wake everybody polling or reading @p's fds soon.  Any context.  In the
 * kernel-vector handler, a receiver's own thread asleep in read() is woken
 * directly once the handler dropped its list locks, and wakes the rest of
 * the wait queue itself when it leaves its read: no irq_work, which is a
 * second self-interrupt on the way to the reader.  If the reader stopped
 * reading meanwhile, the irq_work goes as usual.
 */
void uintr_poll_wake(struct uintr_poll *p)
{
	/* The handler runs in hard interrupt context; anything else queues. */
	struct uintr_kv_wakes *w = in_hardirq() ? this_cpu_ptr(&uintr_kv_wakes) : NULL;

	if (w && w->active && READ_ONCE(p->own_reader) && w->n < UINTR_KV_WAKES) {
		WRITE_ONCE(p->own_wake_pending, true);
		/* Pairs with the reader's barrier after it unmarks itself. */
		smp_mb();
		if (READ_ONCE(p->own_reader)) {
			get_task_struct(p->task);
			w->task[w->n++] = p->task;
			if (!READ_ONCE(p->others))
				return;
		}
	}
	irq_work_queue(&p->wake);
}

/*
 * A poller or another thread's reader is about to sleep on @p's wait
 * queue: from now on the kernel vector wakes the queue itself.  Before
 * the sleeper looks at the counts, as the handler counts before it looks
 * at @others.
 */
static void uintr_poll_mark_others(struct uintr_poll *p)
{
	if (!READ_ONCE(p->others)) {
		WRITE_ONCE(p->others, true);
		smp_mb();
	}
}

/*
 * read() of one of @p's fds (@vector) found nothing counted: sleep until
 * something is.  The receiver's own thread marks itself for
 * uintr_poll_wake(), and wakes the other sleepers whenever the kernel
 * vector left them to it, also when its own fd has nothing yet (the post
 * may be for another vector of the receiver).
 */
static int uintr_poll_read_wait(struct uintr_poll *p, void *vector)
{
	int ret;

	if (!uintr_rust_vector_own(vector)) {
		uintr_poll_mark_others(p);
		return wait_event_interruptible(p->wq, uintr_rust_vector_ready(vector));
	}
	WRITE_ONCE(p->own_reader, true);
	for (;;) {
		ret = wait_event_interruptible(p->wq, uintr_rust_vector_ready(vector) ||
					       READ_ONCE(p->own_wake_pending));
		if (xchg(&p->own_wake_pending, false))
			uintr_poll_wake_all(p);
		if (ret || uintr_rust_vector_ready(vector))
			break;
	}
	WRITE_ONCE(p->own_reader, false);
	/* Pairs with the barrier in uintr_poll_wake(). */
	smp_mb();
	if (xchg(&p->own_wake_pending, false))
		uintr_poll_wake_all(p);
	return ret;
}

void uintr_poll_wake_now(struct uintr_poll *p)
{
	uintr_poll_wake_all(p);
}

/* Free @p once its irq_work is idle.  Any context; once. */
void uintr_poll_free(struct uintr_poll *p)
{
	queue_rcu_work(uintr_wq, &p->free_work);
}

/* Lock the polled list @p is in; returns its CPU, or -1 if in none. */
static int uintr_poll_lock(struct uintr_poll *p, unsigned long *flags)
{
	int cpu;

	for (;;) {
		cpu = READ_ONCE(p->poll_cpu);
		if (cpu < 0)
			return -1;
		raw_spin_lock_irqsave(&per_cpu(uintr_cpus, cpu).poll_lock, *flags);
		if (p->poll_cpu == cpu)
			return cpu;
		raw_spin_unlock_irqrestore(&per_cpu(uintr_cpus, cpu).poll_lock, *flags);
	}
}

static void uintr_poll_unlock(int cpu, unsigned long flags)
{
	raw_spin_unlock_irqrestore(&per_cpu(uintr_cpus, cpu).poll_lock, flags);
}

/* Put @p into the polled list of @cpu.  @p is in none. */
static void uintr_poll_add(struct uintr_poll *p, int cpu)
{
	struct uintr_cpu *c = per_cpu_ptr(&uintr_cpus, cpu);
	unsigned long flags;

	raw_spin_lock_irqsave(&c->poll_lock, flags);
	list_add_tail(&p->poll_node, &c->polled);
	WRITE_ONCE(p->poll_cpu, cpu);
	raw_spin_unlock_irqrestore(&c->poll_lock, flags);
}

/*
 * Put @p, the C half of the receiver @owner whose UPID word 0 is at @upid,
 * into this CPU's polled list, once; true if it was in none.  The list
 * holds no reference: the receiver leaves it in uintr_poll_release() when
 * it dies, before it can be freed.  Called by the receiver's thread, which
 * a kick (uintr_wake_kick()) wakes.
 */
bool uintr_poll_claim(struct uintr_poll *p, void *owner, const u64 *upid)
{
	unsigned long flags;
	int cpu;

	cpu = uintr_poll_lock(p, &flags);
	if (cpu >= 0) {
		uintr_poll_unlock(cpu, flags);
		return false;
	}
	p->owner = owner;
	p->upid = upid;
	p->task = current;
	cpu = get_cpu();
	uintr_poll_add(p, cpu);
	put_cpu();
	return true;
}

/* Take @p out of its polled list; false if it was in none.  Any context. */
bool uintr_poll_release(struct uintr_poll *p)
{
	unsigned long flags;
	int cpu = uintr_poll_lock(p, &flags);

	if (cpu < 0)
		return false;
	list_del_init(&p->poll_node);
	WRITE_ONCE(p->poll_cpu, -1);
	uintr_poll_unlock(cpu, flags);
	return true;
}

/*
 * Call @fn(@owner, cpu) with @p's polled list locked, cpu being the CPU
 * whose list holds @p; returns false without calling it when @p is in no
 * list.  For the switch-out hook, which points the UPID at that CPU: the
 * lock keeps a CPU going offline from moving @p meanwhile.
 */
bool uintr_poll_locked(struct uintr_poll *p, void (*fn)(void *owner, u32 cpu))
{
	unsigned long flags;
	int cpu = uintr_poll_lock(p, &flags);

	if (cpu < 0)
		return false;
	fn(p->owner, cpu);
	uintr_poll_unlock(cpu, flags);
	return true;
}

/*
 * UINTR_WAIT: put @p, whose UPID word 0 is at @upid, into a waiter list and
 * return that list's CPU, which the caller names in the UPID with the
 * kernel vector.
 */
u32 uintr_wait_park(struct uintr_poll *p, const u64 *upid)
{
	struct uintr_cpu *c;
	unsigned long flags;
	int cpu = get_cpu();

	c = per_cpu_ptr(&uintr_cpus, cpu);
	p->wait_task = current;
	p->upid = upid;
	raw_spin_lock_irqsave(&c->wait_lock, flags);
	list_add_tail(&p->wait_node, &c->waiters);
	WRITE_ONCE(p->wait_cpu, cpu);
	raw_spin_unlock_irqrestore(&c->wait_lock, flags);
	put_cpu();
	return cpu;
}

/* Take @p out of its waiter list, if a CPU going offline did not. */
void uintr_wait_unpark(struct uintr_poll *p)
{
	unsigned long flags;
	int cpu;

	for (;;) {
		cpu = READ_ONCE(p->wait_cpu);
		if (cpu < 0)
			return;
		raw_spin_lock_irqsave(&per_cpu(uintr_cpus, cpu).wait_lock, flags);
		if (p->wait_cpu == cpu) {
			list_del_init(&p->wait_node);
			WRITE_ONCE(p->wait_cpu, -1);
		}
		raw_spin_unlock_irqrestore(&per_cpu(uintr_cpus, cpu).wait_lock, flags);
	}
}

/* ON, bit 0 of UPID word 0: a post notified and nobody has acted on it. */
static bool uintr_upid_on(struct uintr_poll *p)
{
	return READ_ONCE(*p->upid) & 1;
}

/*
 * The kernel vector arrived on this CPU: wake the waiters parked here and
 * let the polled receivers here collect, those whose UPID has ON set: a
 * post that notified set it, and parking cleared it.  Hard interrupt
 * context; the walk is as long as the lists (see Documentation/design.md,
 * "Limits"), and only the receivers a post was for get more than a look.
 */
void uintr_kernel_vector_this_cpu(void)
{
	struct uintr_kv_wakes *w = this_cpu_ptr(&uintr_kv_wakes);
	struct uintr_cpu *c = this_cpu_ptr(&uintr_cpus);
	struct uintr_poll *p;
	u32 woken = 0, kicked = 0;
	int i;

	raw_spin_lock(&c->wait_lock);
	list_for_each_entry(p, &c->waiters, wait_node)
		if (uintr_upid_on(p) && wake_up_process(p->wait_task))
			woken++;
	raw_spin_unlock(&c->wait_lock);

	w->active = true;
	raw_spin_lock(&c->poll_lock);
	list_for_each_entry(p, &c->polled, poll_node)
		if (uintr_upid_on(p) && uintr_rust_poll_kick(p->owner))
			kicked++;
	raw_spin_unlock(&c->poll_lock);
	w->active = false;
	/* After the list lock, which ranks below the runqueue locks. */
	for (i = 0; i < w->n; i++) {
		wake_up_process(w->task[i]);
		put_task_struct(w->task[i]);
	}
	w->n = 0;
	trace_uintr_kernel_vector(woken, kicked);
}

/*
 * @cpu is dead: nothing will take the kernel vector there any more.  Its
 * waiters are woken to park again elsewhere (uintr_wait_sleep() returns
 * -EAGAIN to them), and its polled receivers move to this CPU's list, where
 * the Rust side points a parked UPID at this CPU and collects what a
 * notification to the dead CPU left in PIR.
 */
static int uintr_cpu_dead(unsigned int cpu)
{
	struct uintr_cpu *c = per_cpu_ptr(&uintr_cpus, cpu);
	struct uintr_poll *p, *n;
	unsigned long flags;
	LIST_HEAD(moving);
	int to;

	raw_spin_lock_irqsave(&c->wait_lock, flags);
	list_for_each_entry_safe(p, n, &c->waiters, wait_node) {
		list_del_init(&p->wait_node);
		/*
		 * -1 first, or the waiter could check it before the store and
		 * sleep again.  Once it sees -1 it may return and exit, but its
		 * task_struct is freed after an RCU grace period, which this
		 * section, with interrupts off, holds off.
		 */
		WRITE_ONCE(p->wait_cpu, -1);
		wake_up_process(p->wait_task);
	}
	raw_spin_unlock_irqrestore(&c->wait_lock, flags);

	/*
	 * One at a time, holding both lists' locks, so that whoever waits for
	 * the old list's lock sees the new poll_cpu and follows it.
	 */
	to = get_cpu();
	for (;;) {
		raw_spin_lock_irqsave(&c->poll_lock, flags);
		p = list_first_entry_or_null(&c->polled, struct uintr_poll, poll_node);
		if (!p) {
			raw_spin_unlock_irqrestore(&c->poll_lock, flags);
			break;
		}
		list_del(&p->poll_node);
		raw_spin_lock_nested(&per_cpu(uintr_cpus, to).poll_lock,
				     SINGLE_DEPTH_NESTING);
		list_add_tail(&p->poll_node, &per_cpu(uintr_cpus, to).polled);
		WRITE_ONCE(p->poll_cpu, to);
		uintr_rust_poll_moved(p->owner, to);
		raw_spin_unlock(&per_cpu(uintr_cpus, to).poll_lock);
		raw_spin_unlock_irqrestore(&c->poll_lock, flags);
	}
	put_cpu();
	return 0;
}

/* @cpu came online: the module's record of its UINTR MSRs starts anew. */
static int uintr_cpu_up(unsigned int cpu)
{
	unsigned long flags;

	local_irq_save(flags);
	uintr_rust_cpu_online();
	local_irq_restore(flags);
	return 0;
}

int uintr_cpus_init(void)
{
	int cpu, ret;

	for_each_possible_cpu(cpu) {
		struct uintr_cpu *c = per_cpu_ptr(&uintr_cpus, cpu);

		raw_spin_lock_init(&c->wait_lock);
		INIT_LIST_HEAD(&c->waiters);
		raw_spin_lock_init(&c->poll_lock);
		INIT_LIST_HEAD(&c->polled);
	}
	ret = cpuhp_setup_state_nocalls(CPUHP_BP_PREPARE_DYN, "x86/uintr:dead",
					NULL, uintr_cpu_dead);
	if (ret < 0)
		return ret;
	uintr_dead_state = ret;
	ret = cpuhp_setup_state_nocalls(CPUHP_AP_ONLINE_DYN, "x86/uintr:online",
					uintr_cpu_up, NULL);
	if (ret < 0) {
		cpuhp_remove_state_nocalls(uintr_dead_state);
		return ret;
	}
	uintr_online_state = ret;
	return 0;
}

void uintr_cpus_exit(void)
{
	cpuhp_remove_state_nocalls(uintr_online_state);
	cpuhp_remove_state_nocalls(uintr_dead_state);
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

	if (pt && pt->_qproc)
		uintr_poll_mark_others(p);
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
		ret = uintr_poll_read_wait(uintr_rust_vector_queue(vector), vector);
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

/*
 * Watches (UINTR_WATCH_FD): a wait-queue entry on each wait queue the
 * source's ->poll() names, as epoll and KVM's irqfd hang theirs.  Two
 * queues cover the files that wait on separate queues for reading and
 * writing (pipes, ttys); a file with more is refused.
 *
 * An entry leaves its queue when the handle is released, or earlier from
 * its own wake function, under the queue's lock, on EPOLLHUP, on the end of
 * the receiver and on POLLFREE (signalfd's queue going away).  Its whead is
 * then NULL: the release skips it, with the same handshake as epoll's
 * ep_remove_wait_queue().  The watch holds the source file, so every queue
 * it is on lives as long as the watch; POLLFREE queues are freed after a
 * grace period.
 */
#define UINTR_WATCH_QUEUES 2

struct uintr_watch_entry {
	wait_queue_entry_t wait;
	wait_queue_head_t *whead;
	struct uintr_watch *watch;
};

struct uintr_watch {
	poll_table pt;
	struct file *source;
	__poll_t events;
	bool armed;		/* the handle exists: wake-ups post */
	bool ended;		/* EPOLLHUP seen or the receiver gone */
	int nqueues;
	bool too_many;
	struct uintr_watch_entry q[UINTR_WATCH_QUEUES];
	void *owner;		/* the Rust watch */
};

/* Leave the queue, from the entry's wake function (its lock held). */
static void uintr_watch_unhook(struct uintr_watch_entry *e)
{
	list_del_init(&e->wait.entry);
	/* The last access to @e: the release may free it from here on. */
	smp_store_release(&e->whead, NULL);
}

static int uintr_watch_wake(wait_queue_entry_t *wait, unsigned int mode,
			    int sync, void *key)
{
	struct uintr_watch_entry *e = container_of(wait, struct uintr_watch_entry,
						   wait);
	struct uintr_watch *w = e->watch;
	__poll_t mask = key_to_poll(key);

	if (mask & POLLFREE) {
		uintr_watch_unhook(e);
		return 0;
	}
	/* A wake-up without a key may carry anything. */
	if (mask && !(mask & (w->events | EPOLLERR | EPOLLHUP)))
		return 0;
	if (READ_ONCE(w->ended)) {
		uintr_watch_unhook(e);
		return 0;
	}
	if (!smp_load_acquire(&w->armed) || uintr_waking_here())
		return 0;
	if (!uintr_rust_watch_fire(w->owner) || (mask & EPOLLHUP)) {
		WRITE_ONCE(w->ended, true);
		uintr_watch_unhook(e);
	}
	return 0;
}

static void uintr_watch_queue(struct file *file, wait_queue_head_t *whead,
			      poll_table *pt)
{
	struct uintr_watch *w = container_of(pt, struct uintr_watch, pt);
	struct uintr_watch_entry *e;

	if (w->nqueues == UINTR_WATCH_QUEUES) {
		w->too_many = true;
		return;
	}
	e = &w->q[w->nqueues++];
	e->watch = w;
	init_waitqueue_func_entry(&e->wait, uintr_watch_wake);
	e->whead = whead;
	add_wait_queue(whead, &e->wait);
}

/*
 * Take every entry off its queue; after this no wake function runs.  Once
 * or more: an entry taken off is marked so.
 */
static void uintr_watch_detach(struct uintr_watch *w)
{
	wait_queue_head_t *whead;
	int i;

	rcu_read_lock();
	for (i = 0; i < w->nqueues; i++) {
		whead = smp_load_acquire(&w->q[i].whead);
		if (whead) {
			remove_wait_queue(whead, &w->q[i].wait);
			WRITE_ONCE(w->q[i].whead, NULL);
		}
	}
	rcu_read_unlock();
}

static void uintr_watch_free(struct uintr_watch *w)
{
	uintr_watch_detach(w);
	fput(w->source);
	kfree(w);
}

static int uintr_watch_fop_release(struct inode *inode, struct file *file)
{
	struct uintr_watch *w = file->private_data;
	void *owner = w->owner;

	uintr_watch_free(w);
	uintr_rust_watch_release(owner);
	return 0;
}

static const struct file_operations uintr_watch_fops = {
	.owner		= THIS_MODULE,
	.release	= uintr_watch_fop_release,
	.llseek		= noop_llseek,
};

/*
 * Files a watch refuses:
 * - those ->poll() cannot wait on;
 * - vector fds: their wake-ups are the consequence of posts;
 * - files that can hold other files, and so the watch's own handle, which
 *   holds its source: both would stay alive for ever.  AF_UNIX sockets
 *   carry files in SCM_RIGHTS messages, and an io_uring holds its
 *   registered files;
 * - perf event fds: one counting the module's own tracepoints would wake
 *   for each post and post again.
 * io_uring and perf event files are known by the names of their anonymous
 * inodes, as their file_operations are not exported.
 */
static bool uintr_watch_refused(struct file *file)
{
	struct socket *sock = sock_from_file(file);
	const unsigned char *name;

	if (!file_can_poll(file) || uintr_vector_of_file(file))
		return true;
	if (sock && sock->sk && sock->sk->sk_family == AF_UNIX)
		return true;
	name = file_dentry(file)->d_name.name;
	return !strcmp(name, "[io_uring]") || !strcmp(name, "[perf_event]");
}

/*
 * Attach a watch of @source_fd for @events, posting through @owner, and
 * install its close-on-exec handle fd.  On success the handle owns @owner
 * (released through uintr_rust_watch_release); on failure the caller
 * still does.
 */
int uintr_watch_install(unsigned int source_fd, u32 events, void *owner)
{
	struct uintr_watch *w;
	struct file *handle;
	__poll_t ready;
	int fd, ret;

	w = kzalloc(sizeof(*w), GFP_KERNEL_ACCOUNT);
	if (!w)
		return -ENOMEM;
	w->source = fget(source_fd);
	if (!w->source) {
		kfree(w);
		return -EBADF;
	}
	w->events = (__force __poll_t)events;
	w->owner = owner;
	init_poll_funcptr(&w->pt, uintr_watch_queue);
	ret = -EINVAL;
	if (uintr_watch_refused(w->source))
		goto free;
	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto free;
	}
	/* Hooked, but posting nothing until the handle exists. */
	vfs_poll(w->source, &w->pt);
	if (!w->nqueues || w->too_many)
		goto put_fd;
	handle = anon_inode_getfile("[uintr-watch]", &uintr_watch_fops, w,
				    O_RDWR | O_CLOEXEC);
	if (IS_ERR(handle)) {
		ret = PTR_ERR(handle);
		goto put_fd;
	}
	smp_store_release(&w->armed, true);
	/*
	 * A source that is ready now posts once.  A wake-up since the arming
	 * may post too: at least one post follows any readiness.
	 */
	ready = vfs_poll(w->source, NULL);
	if (ready & (w->events | EPOLLERR | EPOLLHUP)) {
		if (!uintr_rust_watch_fire(owner) || (ready & EPOLLHUP)) {
			WRITE_ONCE(w->ended, true);
			uintr_watch_detach(w);
		}
	}
	fd_install(fd, handle);
	return fd;

put_fd:
	put_unused_fd(fd);
free:
	uintr_watch_free(w);
	return ret;
}

/*
 * Timers (UINTR_CREATE_TIMER): an hrtimer that posts through its Rust
 * owner from its hard-interrupt callback and re-arms itself, with no
 * system call per period.  A timer costs interrupts, not only memory, so
 * each user (kuid) may have UINTR_TIMER_MAX_PER_USER of them whose
 * periods add up to at most UINTR_TIMER_MAX_RATE_PER_USER expiries a
 * second (a one-shot timer counts as none), whatever the fds and memory
 * allow: one user cannot keep a CPU in timer interrupts.
 */
struct uintr_timer_user {
	struct hlist_node node;
	kuid_t uid;
	unsigned int count;
	u64 rate;		/* expiries per second, summed */
};

static DEFINE_HASHTABLE(uintr_timer_users, 6);
static DEFINE_SPINLOCK(uintr_timer_users_lock);

struct uintr_timer {
	struct hrtimer timer;
	ktime_t period;
	u64 rate;
	struct uintr_timer_user *user;
	void *owner;		/* the Rust timer */
};

/* Count a timer of @rate expiries a second against the calling user. */
static struct uintr_timer_user *uintr_timer_charge(u64 rate, int *err)
{
	kuid_t uid = current_uid();
	struct uintr_timer_user *u, *fresh;

	fresh = kzalloc(sizeof(*fresh), GFP_KERNEL_ACCOUNT);
	spin_lock(&uintr_timer_users_lock);
	hash_for_each_possible(uintr_timer_users, u, node, __kuid_val(uid))
		if (uid_eq(u->uid, uid))
			goto found;
	u = fresh;
	fresh = NULL;
	if (!u) {
		*err = -ENOMEM;
		goto out;
	}
	u->uid = uid;
	hash_add(uintr_timer_users, &u->node, __kuid_val(uid));
found:
	if (u->count >= UINTR_TIMER_MAX_PER_USER ||
	    u->rate + rate > UINTR_TIMER_MAX_RATE_PER_USER) {
		*err = -EAGAIN;
		/* A fresh entry nobody else counts on goes again. */
		if (!u->count) {
			hash_del(&u->node);
			fresh = u;
		}
		u = NULL;
	} else {
		u->count++;
		u->rate += rate;
	}
out:
	spin_unlock(&uintr_timer_users_lock);
	kfree(fresh);
	return u;
}

static void uintr_timer_uncharge(struct uintr_timer_user *u, u64 rate)
{
	spin_lock(&uintr_timer_users_lock);
	u->rate -= rate;
	if (--u->count)
		u = NULL;
	else
		hash_del(&u->node);
	spin_unlock(&uintr_timer_users_lock);
	kfree(u);
}

static enum hrtimer_restart uintr_timer_fn(struct hrtimer *t)
{
	struct uintr_timer *ut = container_of(t, struct uintr_timer, timer);

	if (!uintr_rust_timer_fire(ut->owner) || !ut->period)
		return HRTIMER_NORESTART;
	/* Expiries missed meanwhile coalesce into this one post. */
	hrtimer_forward_now(t, ut->period);
	return HRTIMER_RESTART;
}

static int uintr_timer_fop_release(struct inode *inode, struct file *file)
{
	struct uintr_timer *ut = file->private_data;
	void *owner = ut->owner;

	/* After this the callback cannot run, nor be running. */
	hrtimer_cancel(&ut->timer);
	uintr_timer_uncharge(ut->user, ut->rate);
	kfree(ut);
	uintr_rust_timer_release(owner);
	return 0;
}

static const struct file_operations uintr_timer_fops = {
	.owner		= THIS_MODULE,
	.release	= uintr_timer_fop_release,
	.llseek		= noop_llseek,
};

/*
 * Start a timer posting through @owner and install its close-on-exec
 * handle fd.  On success the handle owns @owner (released through
 * uintr_rust_timer_release); on failure the caller still does.
 * The caller checked the arguments.
 */
int uintr_timer_install(s64 initial_ns, s64 period_ns, bool abs, void *owner)
{
	enum hrtimer_mode mode = abs ? HRTIMER_MODE_ABS_HARD : HRTIMER_MODE_REL_HARD;
	struct uintr_timer *ut;
	struct file *handle;
	int fd, ret = 0;

	ut = kzalloc(sizeof(*ut), GFP_KERNEL_ACCOUNT);
	if (!ut)
		return -ENOMEM;
	/* Periods are at least UINTR_TIMER_MIN_PERIOD_NS: no overflow. */
	ut->rate = period_ns ? DIV_ROUND_UP_ULL(NSEC_PER_SEC, period_ns) : 0;
	ut->user = uintr_timer_charge(ut->rate, &ret);
	if (!ut->user)
		goto free;
	ut->period = ns_to_ktime(period_ns);
	ut->owner = owner;
	hrtimer_setup(&ut->timer, uintr_timer_fn, CLOCK_MONOTONIC, mode);
	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto uncharge;
	}
	handle = anon_inode_getfile("[uintr-timer]", &uintr_timer_fops, ut,
				    O_RDWR | O_CLOEXEC);
	if (IS_ERR(handle)) {
		ret = PTR_ERR(handle);
		put_unused_fd(fd);
		goto uncharge;
	}
	/*
	 * Started on this CPU, where the receiver that made it runs now
	 * (unless the CPU is nohz_full: the hrtimer core then picks a
	 * housekeeping CPU).  An absolute time is the caller's
	 * CLOCK_MONOTONIC, which a time namespace may offset.
	 */
	hrtimer_start(&ut->timer,
		      abs ? timens_ktime_to_host(CLOCK_MONOTONIC, ns_to_ktime(initial_ns)) :
			    ns_to_ktime(initial_ns), mode);
	fd_install(fd, handle);
	return fd;

uncharge:
	uintr_timer_uncharge(ut->user, ut->rate);
free:
	kfree(ut);
	return ret;
}

/*
 * Drop a reference on @mm taken with mmgrab(), from any context: if it is
 * the last, __mmdrop() runs from the module's workqueue, as mmdrop_async()
 * does, because the UITT map drops its reference from the exec and exit
 * hooks, inside an RCU read-side section, and __mmdrop() may sleep.  The
 * work item is the mm's own async_put_work: nobody else uses it once the
 * count is zero.  Module exit drains the workqueue.
 */
static void uintr_mmdrop_fn(struct work_struct *work)
{
	__mmdrop(container_of(work, struct mm_struct, async_put_work));
}

void uintr_mmdrop_deferred(struct mm_struct *mm)
{
	if (unlikely(atomic_dec_and_test(&mm->mm_count))) {
		INIT_WORK(&mm->async_put_work, uintr_mmdrop_fn);
		queue_work(uintr_wq, &mm->async_put_work);
	}
}

static struct file_operations uintr_dev_fops;

/*
 * Make an open /dev/uintr pin the module, or fail with -ENODEV when it is
 * being removed.  Called from the device's ->open(), which misc_open() runs
 * under misc_mtx: that serializes opens with each other, so the copy below
 * is made once.
 */
int uintr_dev_file_pin(struct file *file)
{
	/*
	 * delete_module() may have dropped the last reference already and be
	 * waiting for misc_mtx in misc_deregister(): then the module is
	 * going, and this open must fail rather than pin nothing.
	 */
	if (!try_module_get(THIS_MODULE))
		return -ENODEV;
	if (!uintr_dev_fops.open) {
		uintr_dev_fops = *file->f_op;
		uintr_dev_fops.owner = THIS_MODULE;
	}
	replace_fops(file, &uintr_dev_fops);
	return 0;
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

void uintr_preempt_disable(void)
{
	preempt_disable();
}

void uintr_preempt_enable(void)
{
	preempt_enable();
}

/*
 * Whether the system call that current returns from is being restarted:
 * the signal code rewound it (-ERESTARTNOHAND with no handler to run) and
 * put the call number back.  For the exit-to-user hook, which runs after it.
 */
bool uintr_syscall_restarting(void)
{
	struct pt_regs *regs = current_pt_regs();

	return (long)regs->orig_ax >= 0 && regs->ax == regs->orig_ax;
}

/* The absolute expiry of a wait of @timeout_ns (< 0: none), saturated. */
s64 uintr_wait_deadline(s64 timeout_ns)
{
	if (timeout_ns < 0)
		return KTIME_MAX;
	return ktime_add_safe(ktime_get(), ns_to_ktime(timeout_ns));
}

/*
 * Sleep in UINTR_WAIT, parked with uintr_wait_park(), until *@pir is not 0
 * or *@seq is not @seq0 (something was posted), a signal is pending
 * (-ERESTARTNOHAND: a stop restarts the wait, a handler makes it fail with
 * EINTR; the freezer freezes the sleep in place), @expires (KTIME_MAX:
 * never) has passed (-ETIMEDOUT), or a CPU going offline took @p off its
 * list (-EAGAIN: park again).  Wakers change *@pir or *@seq before they wake the
 * task or @p's wait queue, and the checks follow prepare_to_wait(), so no
 * wake-up is lost.
 */
int uintr_wait_sleep(struct uintr_poll *p, const u64 *pir, const u64 *seq,
		     u64 seq0, s64 expires)
{
	ktime_t exp = expires;
	DEFINE_WAIT(wait);
	int ret = 0;

	for (;;) {
		prepare_to_wait(&p->wq, &wait, TASK_INTERRUPTIBLE | TASK_FREEZABLE);
		if (READ_ONCE(*pir) || READ_ONCE(*seq) != seq0)
			break;
		if (READ_ONCE(p->wait_cpu) < 0) {
			ret = -EAGAIN;
			break;
		}
		if (signal_pending(current)) {
			ret = -ERESTARTNOHAND;
			break;
		}
		if (expires != KTIME_MAX && ktime_compare(ktime_get(), exp) >= 0) {
			ret = -ETIMEDOUT;
			break;
		}
		schedule_hrtimeout(expires == KTIME_MAX ? NULL : &exp,
				   HRTIMER_MODE_ABS);
	}
	finish_wait(&p->wq, &wait);
	return ret;
}

/*
 * Send @vector to the CPU that @ndst, a UPID's NDST field, names, as
 * SENDUIPI does.  Any context.  A CPU that is not online gets nothing: its
 * parked receivers move to another CPU when it goes.
 */
void uintr_notify(u32 ndst, u32 vector)
{
	u32 apicid = x2apic_mode ? ndst : (ndst >> 8) & 0xff;
	int cpu;

	for_each_online_cpu(cpu) {
		if (per_cpu(x86_cpu_to_apicid, cpu) == apicid) {
			__apic_send_IPI_mask(cpumask_of(cpu), vector);
			return;
		}
	}
}
