/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The functions uintr_shim.c provides to the Rust side (declared there
 * again in shim.rs) and the one it calls back.
 */
#ifndef UINTR_SHIM_H
#define UINTR_SHIM_H

#include <linux/types.h>

struct file;
struct task_struct;
struct uintr_poll;
struct uintr_state;

int uintr_vector_fd_install(void *vector);
void *uintr_vector_of_file(struct file *file);
int uintr_watch_install(unsigned int source_fd, u32 events, void *owner);
int uintr_timer_install(s64 initial_ns, s64 period_ns, bool abs, void *owner);
void uintr_mmdrop_deferred(struct mm_struct *mm);
void uintr_preempt_disable(void);
void uintr_preempt_enable(void);
void uintr_trace_receiver(u64 upid, bool alive);
void uintr_trace_kernel_post(u64 upid, u32 vector, u32 source, u32 how, u32 ndst);
void uintr_trace_replay(u64 upid, u64 pir);
void uintr_trace_collect(u64 upid, u64 vectors, bool from_registers);
void uintr_trace_wake(u64 upid, long ret, long now);
int uintr_dev_file_pin(struct file *file);
void uintr_module_get(void);
void uintr_module_put(void);
u32 uintr_cpu_apicid(unsigned int cpu);
bool uintr_x2apic_mode(void);
u64 uintr_task_size_max(void);
s64 uintr_wait_deadline(s64 timeout_ns);
u32 uintr_wait_park(struct uintr_poll *p, const u64 *upid);
bool uintr_syscall_restarting(void);
int uintr_wait_sleep(struct uintr_poll *p, const u64 *pir, const u64 *seq,
		     u64 seq0, s64 expires);
void uintr_wait_unpark(struct uintr_poll *p);
void uintr_notify(u32 ndst, u32 vector);
struct uintr_poll *uintr_poll_new(void);
unsigned long uintr_poll_collect_lock(struct uintr_poll *p);
void uintr_poll_collect_unlock(struct uintr_poll *p, unsigned long flags);
void uintr_poll_wake(struct uintr_poll *p);
void uintr_poll_wake_now(struct uintr_poll *p);
void uintr_poll_free(struct uintr_poll *p);
bool uintr_poll_claim(struct uintr_poll *p, void *owner, const u64 *upid);
bool uintr_poll_release(struct uintr_poll *p);
void uintr_wake_kick(struct uintr_poll *p);
bool uintr_wake_supported(void);
bool uintr_fpregs_lock_live(void);
void uintr_fpregs_unlock(void);
bool uintr_task_sleeps_interruptibly(struct task_struct *t);
bool uintr_poll_locked(struct uintr_poll *p, void (*fn)(void *owner, u32 cpu));
int uintr_cpus_init(void);
void uintr_cpus_exit(void);
int uintr_deferred_init(void);
void uintr_deferred_exit(void);
/* The kernel vector's hook, in the ops that uintr_hooks_register() registers */
void uintr_kernel_vector_this_cpu(void);
int uintr_hooks_register(void);
void uintr_hooks_unregister(void);
void *uintr_task_data(struct task_struct *t);
u64 uintr_rdmsr(u32 msr);
void uintr_wrmsr(u32 msr, u64 val);
void uintr_send_ipi_self(u32 vector);

/*
 * The kernel's functions that the Rust side calls directly, repeated from
 * <asm/uintr.h> so that a change there fails this build.  The Rust
 * declarations (task.rs, cpu.rs, fpu_hooks.rs) are kept equal to these by
 * hand.
 */
void uintr_task_attach(void *data);
void *uintr_task_detach(void);
void uintr_need_exit_hook(void);
struct uintr_state *uintr_xstate_lock(void);

/* Implemented in Rust (receiver.rs, vector_fd.rs, fpu_hooks.rs, fpu_hooks/ops.rs). */
void uintr_rust_after_xsaves(struct uintr_state *image);
void uintr_rust_before_xrstors(struct uintr_state *image);
void uintr_rust_exit_to_user(struct uintr_state *image);
void uintr_rust_switch_out(struct task_struct *prev);
void uintr_rust_task_release(struct task_struct *tsk);
bool uintr_rust_poll_kick(void *receiver);
void uintr_rust_poll_moved(void *receiver, u32 cpu);
void uintr_rust_cpu_online(void);
void uintr_rust_vector_release(void *vector);
struct uintr_poll *uintr_rust_vector_queue(void *vector);
u32 uintr_rust_vector_poll(void *vector);
bool uintr_rust_vector_ready(void *vector);
int uintr_rust_vector_take(void *vector, u64 *count);
bool uintr_rust_vector_own(void *vector);
void uintr_rust_vector_untake(void *vector, u64 count);
bool uintr_rust_watch_fire(void *watch);
void uintr_rust_watch_release(void *watch);
bool uintr_rust_timer_fire(void *timer);
long uintr_rust_wake_return(void *receiver, long ret);
void uintr_rust_wake_done(void *receiver);
void uintr_rust_timer_release(void *timer);

#endif /* UINTR_SHIM_H */
