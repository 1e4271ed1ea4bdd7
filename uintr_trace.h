/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of the uintr module: where a user interrupt the kernel had a
 * hand in went.  Enable them with
 * /sys/kernel/tracing/events/uintr/enable or perf trace -e 'uintr:*'.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM uintr

#if !defined(UINTR_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define UINTR_TRACE_H

#include <linux/tracepoint.h>

/* How a kernel post left the UPID (uintr_kernel_post's @how). */
#define UINTR_POST_PENDING	0	/* ON or SN was set: no notification */
#define UINTR_POST_NOTIFY	1	/* notification vector to NDST */
#define UINTR_POST_WAKE		2	/* kernel vector: the receiver sleeps */
#define UINTR_POST_DEAD		3	/* the receiver is gone: nobody gets it */

/* Who posted (uintr_kernel_post's @source). */
#define UINTR_SRC_GIVE_BACK	0	/* an unread count, its last fd closed */
#define UINTR_SRC_WATCH		1	/* a watched file woke up */
#define UINTR_SRC_TIMER		2	/* a timer expired (UINTR_CREATE_TIMER) */

TRACE_EVENT(uintr_receiver,
	TP_PROTO(u64 upid, bool alive),
	TP_ARGS(upid, alive),
	TP_STRUCT__entry(
		__field(unsigned long, upid)
		__field(bool, alive)
	),
	TP_fast_assign(
		__entry->upid = (unsigned long)upid;
		__entry->alive = alive;
	),
	TP_printk("upid=%p %s", (void *)__entry->upid,
		  __entry->alive ? "registered" : "gone")
);

TRACE_EVENT(uintr_kernel_post,
	TP_PROTO(u64 upid, u32 vector, u32 source, u32 how, u32 ndst),
	TP_ARGS(upid, vector, source, how, ndst),
	TP_STRUCT__entry(
		__field(unsigned long, upid)
		__field(u32, vector)
		__field(u32, source)
		__field(u32, how)
		__field(u32, ndst)
	),
	TP_fast_assign(
		__entry->upid = (unsigned long)upid;
		__entry->vector = vector;
		__entry->source = source;
		__entry->how = how;
		__entry->ndst = ndst;
	),
	TP_printk("upid=%p vector=%u source=%s %s ndst=%#x", (void *)__entry->upid,
		  __entry->vector,
		  __print_symbolic(__entry->source,
				   { UINTR_SRC_GIVE_BACK, "give-back" },
				   { UINTR_SRC_WATCH, "watch" },
				   { UINTR_SRC_TIMER, "timer" }),
		  __print_symbolic(__entry->how,
				   { UINTR_POST_PENDING, "pending" },
				   { UINTR_POST_NOTIFY, "notify" },
				   { UINTR_POST_WAKE, "wake" },
				   { UINTR_POST_DEAD, "dead" }),
		  __entry->ndst)
);

TRACE_EVENT(uintr_kernel_vector,
	TP_PROTO(u32 woken, u32 kicked),
	TP_ARGS(woken, kicked),
	TP_STRUCT__entry(
		__field(u32, woken)
		__field(u32, kicked)
	),
	TP_fast_assign(
		__entry->woken = woken;
		__entry->kicked = kicked;
	),
	TP_printk("waiters_woken=%u polled_kicked=%u", __entry->woken,
		  __entry->kicked)
);

TRACE_EVENT(uintr_replay,
	TP_PROTO(u64 upid, u64 pir),
	TP_ARGS(upid, pir),
	TP_STRUCT__entry(
		__field(unsigned long, upid)
		__field(u64, pir)
	),
	TP_fast_assign(
		__entry->upid = (unsigned long)upid;
		__entry->pir = pir;
	),
	TP_printk("upid=%p pir=%#llx", (void *)__entry->upid, __entry->pir)
);

TRACE_EVENT(uintr_collect,
	TP_PROTO(u64 upid, u64 vectors, bool from_registers),
	TP_ARGS(upid, vectors, from_registers),
	TP_STRUCT__entry(
		__field(unsigned long, upid)
		__field(u64, vectors)
		__field(bool, from_registers)
	),
	TP_fast_assign(
		__entry->upid = (unsigned long)upid;
		__entry->vectors = vectors;
		__entry->from_registers = from_registers;
	),
	TP_printk("upid=%p vectors=%#llx from=%s", (void *)__entry->upid,
		  __entry->vectors, __entry->from_registers ? "uirr" : "pir")
);

/*
 * A post interrupted the system call of a receiver with
 * UINTR_HANDLER_WAKE: the call returned @ret and returns @now (-EINTR, or
 * a restart code the signal code restarts).
 */
TRACE_EVENT(uintr_wake,
	TP_PROTO(u64 upid, long ret, long now),
	TP_ARGS(upid, ret, now),
	TP_STRUCT__entry(
		__field(unsigned long, upid)
		__field(long, ret)
		__field(long, now)
	),
	TP_fast_assign(
		__entry->upid = (unsigned long)upid;
		__entry->ret = ret;
		__entry->now = now;
	),
	TP_printk("upid=%p ret=%ld now=%ld", (void *)__entry->upid,
		  __entry->ret, __entry->now)
);

#endif /* UINTR_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE uintr_trace
#include <trace/define_trace.h>
