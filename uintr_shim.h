/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The functions uintr_shim.c provides to the Rust side (declared there
 * again in shim.rs) and the one it calls back.
 */
#ifndef UINTR_SHIM_H
#define UINTR_SHIM_H

#include <linux/types.h>

struct file;
struct uintr_poll;

int uintr_vector_fd_install(void *vector);
void *uintr_vector_of_file(struct file *file);
void uintr_dev_file_pin(struct file *file);
void uintr_module_get(void);
void uintr_module_put(void);
u32 uintr_cpu_apicid(unsigned int cpu);
bool uintr_x2apic_mode(void);
u64 uintr_task_size_max(void);
bool uintr_cpu_online(unsigned int cpu);
int uintr_sleep_until_posted(const u64 *pir, s64 timeout_ns);
struct uintr_poll *uintr_poll_new(void);
void uintr_poll_wake(struct uintr_poll *p);
void uintr_poll_wake_now(struct uintr_poll *p);
void uintr_poll_free(struct uintr_poll *p);
void uintr_poll_put_later(struct uintr_poll *p, void *owner);
int uintr_deferred_init(void);
void uintr_deferred_exit(void);

/* Implemented in Rust (receiver.rs, vector_fd.rs). */
void uintr_rust_receiver_put(void *receiver);
void uintr_rust_vector_release(void *vector);
struct uintr_poll *uintr_rust_vector_queue(void *vector);
u32 uintr_rust_vector_poll(void *vector);
bool uintr_rust_vector_ready(void *vector);
int uintr_rust_vector_take(void *vector, u64 *count);
void uintr_rust_vector_untake(void *vector, u64 count);

#endif /* UINTR_SHIM_H */
