/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the two fuzzers of /dev/uintr share: a counter-based random stream
 * (a decision is a pure function of the seed, a logical id, a step and a
 * draw number, never of timing), sets of allowed errno values, bad
 * pointers of every kind, random argument structures together with the
 * errno Documentation/uapi.md gives for them, and the debugfs counters of
 * live objects.
 */
#ifndef UINTR_FUZZ_H
#define UINTR_FUZZ_H

#include "uintr_test.h"
#include <sys/mman.h>
#include <time.h>
#include "kselftest.h"

/* ---- Random numbers ---------------------------------------------------- */

static inline uint64_t fz_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* The logical id of a child of @parent: its @kind ('t'hread, 'f'ork...) and number. */
static inline uint64_t fz_child_id(uint64_t parent, int kind, uint64_t n)
{
	return fz_mix(parent ^ fz_mix(((uint64_t)kind << 56) ^ n));
}

/* Draw @k of step @step of the stream of @id. */
static inline uint64_t fz_rand(uint64_t seed, uint64_t id, uint64_t step, unsigned int k)
{
	return fz_mix(fz_mix(seed ^ fz_mix(id)) ^ fz_mix(step * 64 + k));
}

/*
 * A value below @n from the low bits of @r, so that @r >> k gives another
 * value for the bits above.
 */
static inline uint64_t fz_below(uint64_t r, uint64_t n)
{
	return n ? r % n : 0;
}

/* ---- Sets of errno values --------------------------------------------- */

struct fz_errset {
	uint64_t w[3];		/* errno 1..191 */
};

#define FZ_OK	0		/* "success" in an errset */

static inline void fz_allow(struct fz_errset *s, int e)
{
	if (e >= 0 && e < 192)
		s->w[e / 64] |= 1ULL << (e % 64);
}

static inline bool fz_allowed(const struct fz_errset *s, int e)
{
	return e >= 0 && e < 192 && (s->w[e / 64] >> (e % 64) & 1);
}

static inline void fz_errset_str(const struct fz_errset *s, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = 0;
	for (int e = 0; e < 192 && n < len; e++) {
		if (!fz_allowed(s, e))
			continue;
		n += snprintf(buf + n, len - n, "%s%s", n ? "," : "",
			      e ? strerrorname_np(e) ?: "?" : "success");
	}
}

/* ---- Commands ----------------------------------------------------------- */

static const unsigned long fz_cmds[] = {
	UINTR_REGISTER_HANDLER, UINTR_UNREGISTER_HANDLER, UINTR_CREATE_VECTOR_FD,
	UINTR_REGISTER_SENDER, UINTR_UNREGISTER_SENDER, UINTR_REGISTER_SELF,
	UINTR_WAIT, UINTR_WATCH_FD, UINTR_CREATE_TIMER,
};

#define FZ_NCMDS	ARRAY_SIZE(fz_cmds)

static inline const char *fz_cmd_name(unsigned long cmd)
{
	switch (cmd) {
	case UINTR_REGISTER_HANDLER: return "REGISTER_HANDLER";
	case UINTR_UNREGISTER_HANDLER: return "UNREGISTER_HANDLER";
	case UINTR_CREATE_VECTOR_FD: return "CREATE_VECTOR_FD";
	case UINTR_REGISTER_SENDER: return "REGISTER_SENDER";
	case UINTR_UNREGISTER_SENDER: return "UNREGISTER_SENDER";
	case UINTR_REGISTER_SELF: return "REGISTER_SELF";
	case UINTR_WAIT: return "WAIT";
	case UINTR_WATCH_FD: return "WATCH_FD";
	case UINTR_CREATE_TIMER: return "CREATE_TIMER";
	}
	return "other";
}

static inline bool fz_is_uintr_cmd(unsigned long cmd)
{
	for (unsigned int i = 0; i < FZ_NCMDS; i++)
		if (fz_cmds[i] == cmd)
			return true;
	return false;
}

/*
 * Whether the VFS answers @cmd before the driver sees it (FIOCLEX,
 * FIONBIO, FIFREEZE, FS_IOC_* and their kin): such commands are left
 * out of the random ones, as they are not the device's.
 */
static inline bool fz_vfs_cmd(unsigned int cmd)
{
	switch (_IOC_TYPE(cmd)) {
	case 0x00:		/* FIGETBSZ */
	case 0x15:		/* FS_IOC_GETFSUUID, FS_IOC_GETFSSYSFSPATH */
	case 'T':		/* FIOCLEX, FIONBIO, FIOASYNC, FIOQSIZE, FIONREAD */
	case 'X':		/* FIFREEZE, FITHAW, FS_IOC_FS[GS]ETXATTR */
	case 'f':		/* FS_IOC_FIEMAP, FS_IOC_[GS]ETFLAGS */
	case 0x94:		/* FICLONE, FICLONERANGE, FIDEDUPERANGE */
		return true;
	}
	return false;
}

/*
 * A random command number other than the device's eight: one of them with
 * another direction or size, another number of the device's type, or any
 * 32-bit value.
 */
static inline unsigned int fz_random_cmd(uint64_t r, uint64_t r2)
{
	unsigned int cmd;

	do {
		switch (fz_below(r, 4)) {
		case 0:
			cmd = fz_cmds[fz_below(r2, FZ_NCMDS)];
			cmd = _IOC(fz_below(r2 >> 8, 4), UINTR_IOC_MAGIC, _IOC_NR(cmd),
				   (r2 >> 16) % 64);
			break;
		case 1:
			cmd = _IOC(fz_below(r2, 4), UINTR_IOC_MAGIC, (r2 >> 8) & 0xff,
				   (r2 >> 16) & 0x3fff);
			break;
		case 2:
			cmd = _IOC(fz_below(r2, 4), (r2 >> 8) & 0xff, (r2 >> 16) & 0xff,
				   (r2 >> 24) & 0x3fff);
			break;
		default:
			cmd = (unsigned int)r2;
			break;
		}
		r = fz_mix(r);
		r2 = fz_mix(r2);
	} while (fz_is_uintr_cmd(cmd) || fz_vfs_cmd(cmd));
	return cmd;
}

/* ---- Addresses ------------------------------------------------------- */

/*
 * TASK_SIZE_MAX: the top of user space, a page below 2^47, or below 2^56
 * when the kernel runs with five-level paging (it shows la57 then).
 */
static inline uint64_t fz_user_limit(void)
{
	static uint64_t limit;
	char line[4096];
	FILE *f;

	if (limit)
		return limit;
	limit = (1ULL << 47) - 4096;
	f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return limit;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5))
			continue;
		if (strstr(line, " la57 ") || strstr(line, " la57\n"))
			limit = (1ULL << 56) - 4096;
		break;
	}
	fclose(f);
	return limit;
}

/*
 * Where argument structures go: a readable page followed by a PROT_NONE
 * page, and an address nothing is mapped at.
 */
struct fz_arena {
	char *ok;		/* one page, read-write */
	char *none;		/* the next page, PROT_NONE */
	char *unmapped;
};

static inline int fz_arena_init(struct fz_arena *a)
{
	char *p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	if (mprotect(p + 4096, 4096, PROT_NONE) || munmap(p + 2 * 4096, 4096))
		return -1;
	a->ok = p;
	a->none = p + 4096;
	a->unmapped = p + 2 * 4096;
	return 0;
}

enum fz_ptr_kind {
	FZ_PTR_OK,		/* readable */
	FZ_PTR_NULL,
	FZ_PTR_LOW,		/* the first page */
	FZ_PTR_UNMAPPED,
	FZ_PTR_NONE,		/* PROT_NONE */
	FZ_PTR_STRADDLE,	/* begins readable, ends in PROT_NONE */
	FZ_PTR_KERNEL,
	FZ_PTR_NONCANON,
	FZ_PTR_TOP,		/* the last user page: never mapped */
	FZ_PTR_KINDS,
};

static inline const char *fz_ptr_name(int kind)
{
	static const char *const names[] = {
		"ok", "null", "low", "unmapped", "prot_none", "straddle", "kernel",
		"noncanonical", "top",
	};

	return kind >= 0 && kind < FZ_PTR_KINDS ? names[kind] : "?";
}

/*
 * A pointer of @kind for a structure of @len bytes.  An FZ_PTR_OK pointer
 * is @len bytes below the PROT_NONE page, so that a read of more than @len
 * would fault.
 */
static inline void *fz_ptr(const struct fz_arena *a, int kind, size_t len, uint64_t r)
{
	switch (kind) {
	case FZ_PTR_OK:
		return a->none - len;
	case FZ_PTR_NULL:
		return NULL;
	case FZ_PTR_LOW:
		return (void *)(uintptr_t)(1 + fz_below(r, 4095));
	case FZ_PTR_UNMAPPED:
		return a->unmapped + fz_below(r, 4096 - len);
	case FZ_PTR_NONE:
		return a->none + fz_below(r, 4096 - len);
	case FZ_PTR_STRADDLE:
		return a->none - len + 1 + fz_below(r, len - 1);
	case FZ_PTR_KERNEL: {
		static const uint64_t kaddr[] = {
			0xffffffff81000000ULL, 0xffff888000000000ULL,
			0xffffffffff600000ULL, 0xfffffffffffff000ULL,
		};

		return (void *)(uintptr_t)(kaddr[fz_below(r, 4)] + ((r >> 32) & 0xff8));
	}
	case FZ_PTR_NONCANON:
		return (void *)(uintptr_t)(0x8000000000000000ULL | (r & 0x7fffffffffff8ULL));
	default:
		return (void *)(uintptr_t)(fz_user_limit() + fz_below(r, 4096 - len));
	}
}

/*
 * A random address for a handler or a stack: 0, @good, a random user
 * address, one around the top of user space, a kernel or a non-canonical
 * one.  *@valid says whether it is a user address (below TASK_SIZE_MAX).
 */
static inline uint64_t fz_addr(uint64_t r, uint64_t good, bool *valid)
{
	uint64_t limit = fz_user_limit(), a;

	switch (fz_below(r, 8)) {
	case 0:
		a = 0;
		break;
	case 1:
	case 2:
		a = good;
		break;
	case 3:
		a = 1 + fz_below(r >> 8, limit - 1);
		break;
	case 4:
		a = limit - 8 + fz_below(r >> 8, 16);
		break;
	case 5:
		a = 0xffffffff81000000ULL + (r >> 40);
		break;
	case 6:
		a = 0x0000800000000000ULL + (r >> 20);
		break;
	default:
		a = r;
		break;
	}
	*valid = a < limit;
	return a;
}

/* ---- Argument structures and what they must get ------------------------- */

/*
 * Fill @h at random, with @good a real handler and @stack_top a real
 * stack, and add the errno values it may get to @allow, @has_handler
 * saying whether the thread already is a receiver.  Returns whether the
 * arguments themselves are valid.
 */
static inline bool fz_handler_args(struct uintr_handler_args *h, uint64_t r1, uint64_t r2,
				   uint64_t good, uint64_t stack_top, bool has_handler,
				   struct fz_errset *allow)
{
	bool hvalid, svalid, ok;

	memset(h, 0, sizeof(*h));
	h->handler = fz_addr(r1, good, &hvalid);
	hvalid = hvalid && h->handler;
	switch (fz_below(r2, 8)) {
	case 0:
		h->flags = (uint32_t)(r2 >> 8);
		break;
	case 1:
	case 2:
		h->flags = UINTR_HANDLER_ALT_STACK;
		break;
	case 3:
		h->flags = UINTR_HANDLER_WAKE | (uint32_t)(r2 >> 40 & 7);
		break;
	default:
		break;
	}
	if (fz_below(r2 >> 3, 8) == 0)
		h->reserved = (uint32_t)(r2 >> 32) | 1;
	if (fz_below(r2 >> 6, 4) == 0 || h->flags & UINTR_HANDLER_ALT_STACK)
		h->stack = fz_addr(fz_mix(r2), stack_top, &svalid);
	else
		svalid = true;
	ok = hvalid && !h->reserved &&
	     !(h->flags & ~(UINTR_HANDLER_ALT_STACK | UINTR_HANDLER_WAKE |
			    UINTR_HANDLER_RESTART)) &&
	     (h->flags & UINTR_HANDLER_WAKE || !(h->flags & UINTR_HANDLER_RESTART));
	if (h->flags & UINTR_HANDLER_ALT_STACK)
		ok = ok && h->stack && svalid;
	else
		ok = ok && !h->stack;
	if (!ok)
		fz_allow(allow, EINVAL);
	if (has_handler)
		fz_allow(allow, EBUSY);
	if (ok && !has_handler)
		fz_allow(allow, FZ_OK);
	return ok;
}

/* A random vector: mostly 0..63, sometimes just beyond or anything. */
static inline uint32_t fz_vector(uint64_t r)
{
	switch (fz_below(r, 16)) {
	case 0:
		return UINTR_MAX_VECTORS + fz_below(r >> 8, 4);
	case 1:
		return (uint32_t)(r >> 32);
	case 2:
		return 0x100 | (r >> 8 & 0x3f);	/* a u8 cast would fold it */
	default:
		return fz_below(r >> 8, UINTR_MAX_VECTORS);
	}
}

/* Random flags: mostly 0, sometimes @valid, sometimes anything. */
static inline uint32_t fz_flags(uint64_t r, uint32_t valid)
{
	switch (fz_below(r, 8)) {
	case 0:
		return (uint32_t)(r >> 32);
	case 1:
		return 1U << fz_below(r >> 8, 32);
	case 2:
	case 3:
		return valid;
	default:
		return 0;
	}
}

/* A random timeout: negative, 0, short or long. */
static inline int64_t fz_timeout(uint64_t r)
{
	switch (fz_below(r, 8)) {
	case 0:
		return -1 - (int64_t)fz_below(r >> 8, 1000);
	case 1:
		return INT64_MIN + (int64_t)fz_below(r >> 8, 1000);
	case 2:
		return 0;
	case 3:
		return INT64_MAX - (int64_t)fz_below(r >> 8, 1000);
	default:
		return (int64_t)fz_below(r >> 8, 2000000);
	}
}

/*
 * UINTR_WAIT arguments: returns whether they are valid, and sets *@blocks
 * when they ask to wait without a timeout or longer than @max_ns.
 */
static inline bool fz_wait_args(struct uintr_wait_args *w, uint64_t r, int64_t max_ns,
				bool *blocks)
{
	memset(w, 0, sizeof(*w));
	w->flags = fz_flags(r, UINTR_WAIT_TIMEOUT);
	if (fz_below(r >> 4, 4) != 0)
		w->flags |= UINTR_WAIT_TIMEOUT;
	w->timeout_ns = fz_timeout(fz_mix(r));
	if (fz_below(r >> 12, 8) == 0)
		w->reserved = (uint32_t)(r >> 32) | 1;
	*blocks = !(w->flags & UINTR_WAIT_TIMEOUT) || w->timeout_ns > max_ns;
	if (w->reserved || w->flags & ~UINTR_WAIT_TIMEOUT)
		return false;
	return !(w->flags & UINTR_WAIT_TIMEOUT) || w->timeout_ns >= 0;
}

/* ---- debugfs ---------------------------------------------------------- */

/* The counters of /sys/kernel/debug/uintr/stats that count live objects. */
static const char *const fz_live_names[] = {
	"receivers", "senders", "uitt_entries", "vector_fds", "polled",
};

#define FZ_NLIVE	ARRAY_SIZE(fz_live_names)

/* Read them into @v; returns false without debugfs. */
static inline bool fz_live_read(long v[FZ_NLIVE])
{
	for (unsigned int i = 0; i < FZ_NLIVE; i++) {
		v[i] = uintr_stat(fz_live_names[i]);
		if (v[i] < 0)
			return false;
	}
	return true;
}

static inline double fz_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Wait up to @seconds for the live counters to equal @want (objects are
 * freed after an RCU grace period or from a work item); returns whether
 * they did, with the last values in @v.
 */
static inline bool fz_live_settle(const long want[FZ_NLIVE], long v[FZ_NLIVE], double seconds)
{
	double end = fz_now() + seconds;

	for (;;) {
		bool same = fz_live_read(v);

		for (unsigned int i = 0; same && i < FZ_NLIVE; i++)
			same = v[i] == want[i];
		if (same)
			return true;
		if (fz_now() > end)
			return false;
		usleep(10000);
	}
}

#endif /* UINTR_FUZZ_H */
