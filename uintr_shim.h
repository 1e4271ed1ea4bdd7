/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The functions uintr_shim.c provides to the Rust side (declared there
 * again in shim.rs) and the one it calls back.
 */
#ifndef UINTR_SHIM_H
#define UINTR_SHIM_H

#include <linux/types.h>

struct file;

int uintr_vector_fd_install(void *vector);
void *uintr_vector_of_file(struct file *file);
void uintr_dev_file_pin(struct file *file);
void uintr_module_get(void);
void uintr_module_put(void);
u32 uintr_cpu_apicid(unsigned int cpu);
bool uintr_x2apic_mode(void);
u64 uintr_task_size_max(void);
int uintr_sleep_until_posted(const u64 *pir, s64 timeout_ns);

/* Implemented in Rust (vector_fd.rs). */
void uintr_rust_vector_release(void *vector);

#endif /* UINTR_SHIM_H */
