// SPDX-License-Identifier: GPL-2.0
/*
 * A fast fuzzer of the argument checking of /dev/uintr: random commands
 * (the device's seven, the same numbers with other sizes and directions,
 * any number), random argument structures and random pointers (NULL,
 * unmapped, PROT_NONE, straddling into PROT_NONE, kernel, non-canonical),
 * on /dev/uintr and on files that are not it.  Every call must fail or
 * succeed exactly as Documentation/uapi.md says.
 *
 * Without user interrupts (QEMU) every command of the device fails with
 * EOPNOTSUPP and every other one with ENOTTY, whatever the argument.  With
 * them, a first phase makes only calls that must fail and checks that the
 * debugfs counters of live objects did not move; a second phase, in a
 * child process, mixes valid calls in: it keeps a model of the thread's
 * receiver, vector fds and UITT and predicts every result, and once the
 * child is gone the counters must be back where they were.
 *
 *   uintr_argfuzz [--seed N] [--calls N] [--phase2-calls N]
 *
 * The environment variables uintr_argfuzz_seed and uintr_argfuzz_calls
 * (from the kernel command line in the guest) set the defaults.
 */
#include "uintr_fuzz.h"
#include <getopt.h>
#include <sys/epoll.h>
#include <sys/wait.h>

#define MAX_REPORTS	20

static uint64_t seed = 1;
static struct fz_arena arena;
static bool hw;
static int dev = -1;
static int pipefd[2] = { -1, -1 };
/* A number no fd ever gets here: far above the lowest free ones. */
static const int closed_fd = 700;

/* Calls per command family, those that succeeded, and mismatches. */
static unsigned long calls, per_cmd[FZ_NCMDS + 2], succeeded, bad;

static void __attribute__((interrupt, target("general-regs-only")))
argfuzz_handler(struct __uintr_frame *frame, unsigned long long vector)
{
}

static char alt_stack[16384];

/* Report one call whose result is not among those allowed. */
static void mismatch(uint64_t step, const char *what, long ret, int err,
		     const struct fz_errset *allow)
{
	char set[256];

	bad++;
	if (bad > MAX_REPORTS)
		return;
	fz_errset_str(allow, set, sizeof(set));
	ksft_print_msg("seed %llu call %llu: %s: got %s (ret %ld), allowed: %s\n",
		       (unsigned long long)seed, (unsigned long long)step, what,
		       ret < 0 ? strerrorname_np(err) ?: "?" : "success", ret, set);
}

/* Check the result of a call against @allow; returns whether it succeeded. */
static bool check(uint64_t step, const char *what, long ret, int err,
		  const struct fz_errset *allow)
{
	if (!fz_allowed(allow, ret < 0 ? err : FZ_OK))
		mismatch(step, what, ret, err, allow);
	if (ret >= 0)
		succeeded++;
	return ret >= 0;
}

/* ---- Phase 1: calls that must fail ----------------------------------- */

/*
 * An fd for REGISTER_SENDER that is not a vector fd: /dev/uintr, a pipe,
 * a closed one, -1 or a huge number.  Adds the errno it must get.
 */
static int non_vector_fd(uint64_t r, struct fz_errset *allow)
{
	int fd;

	switch (fz_below(r, 6)) {
	case 0:
		fd = dev;
		break;
	case 1:
		fd = pipefd[0];
		break;
	case 2:
		fd = closed_fd;
		break;
	case 3:
		fd = -1 - (int)fz_below(r >> 8, 100);
		break;
	case 4:
		fd = INT32_MAX - (int)fz_below(r >> 8, 100);
		break;
	default:
		fd = 1000 + (int)fz_below(r >> 8, 1000);
		break;
	}
	fz_allow(allow, fcntl(fd, F_GETFD) < 0 ? EBADF : EINVAL);
	return fd;
}

/*
 * One call that must fail, made by a thread that is neither a receiver
 * nor a sender, and its check.
 */
static void invalid_call(uint64_t step)
{
	uint64_t r[8];
	struct fz_errset allow = { 0 };
	union {
		struct uintr_handler_args h;
		struct uintr_vector_args v;
		struct uintr_sender_args s;
		struct uintr_self_args self;
		struct uintr_wait_args w;
		struct uintr_watch_args wf;
		struct uintr_timer_args t;
		char raw[64];
	} a;
	unsigned long cmd, arg;
	size_t len = 0;
	int kind, fd = dev, fam, err;
	bool blocks;
	long ret;

	for (int i = 0; i < 8; i++)
		r[i] = fz_rand(seed, 1, step, i);
	memset(&a, 0, sizeof(a));
	/* Which file: mostly /dev/uintr, sometimes a pipe or no file. */
	switch (fz_below(r[0], 32)) {
	case 0:
		fd = pipefd[1];
		break;
	case 1:
		fd = closed_fd;
		break;
	default:
		break;
	}
	fam = (int)fz_below(r[1], FZ_NCMDS + 1);
	kind = fz_below(r[2], 2) ? FZ_PTR_OK : (int)fz_below(r[2] >> 1, FZ_PTR_KINDS);
	if (fam == FZ_NCMDS) {
		cmd = fz_random_cmd(r[3], r[4]);
		arg = kind == FZ_PTR_OK ? (unsigned long)r[5] :
		      (unsigned long)fz_ptr(&arena, kind, 16, r[5]);
		fz_allow(&allow, ENOTTY);
		goto call;
	}
	cmd = fz_cmds[fam];
	switch (cmd) {
	case UINTR_REGISTER_HANDLER:
		len = sizeof(a.h);
		fz_handler_args(&a.h, r[3], r[4], (uintptr_t)argfuzz_handler,
				(uintptr_t)(alt_stack + sizeof(alt_stack)), false, &allow);
		if (fz_allowed(&allow, FZ_OK)) {
			/* It would succeed: spoil one field. */
			memset(&allow, 0, sizeof(allow));
			fz_allow(&allow, EINVAL);
			if (fz_below(r[6], 2))
				a.h.reserved = 1 + (uint32_t)fz_below(r[6] >> 1, 0xffffffff);
			else
				a.h.flags |= 8U << fz_below(r[6] >> 1, 29);
		}
		break;
	case UINTR_UNREGISTER_HANDLER:
		/* No handler: EINVAL whatever the argument. */
		fz_allow(&allow, EINVAL);
		break;
	case UINTR_CREATE_VECTOR_FD:
		len = sizeof(a.v);
		a.v.vector = fz_vector(r[3]);
		a.v.flags = fz_flags(r[4], UINTR_VECTOR_FD_POLL);
		fz_allow(&allow, EINVAL);
		break;
	case UINTR_REGISTER_SENDER:
		len = sizeof(a.s);
		a.s.flags = fz_flags(r[4], 0);
		a.s.fd = non_vector_fd(r[3], &allow);
		if (a.s.flags)
			fz_allow(&allow, EINVAL);
		break;
	case UINTR_UNREGISTER_SENDER:
		fz_allow(&allow, EINVAL);
		break;
	case UINTR_REGISTER_SELF:
		len = sizeof(a.self);
		a.self.vector = fz_vector(r[3]);
		a.self.flags = fz_flags(r[4], 0);
		fz_allow(&allow, EINVAL);
		break;
	case UINTR_WAIT:
		len = sizeof(a.w);
		fz_wait_args(&a.w, r[3], 0, &blocks);
		fz_allow(&allow, EINVAL);
		break;
	case UINTR_WATCH_FD:
		/* This thread has no vector fd: a bad one, or bad flags first. */
		len = sizeof(a.wf);
		a.wf.flags = fz_flags(r[4], 0);
		a.wf.events = fz_below(r[6], 4) ? EPOLLIN : (uint32_t)(r[6] >> 8);
		a.wf.source_fd = fz_below(r[6] >> 40, 2) ? pipefd[0] : (int32_t)(r[6] >> 44);
		a.wf.vector_fd = non_vector_fd(r[3], &allow);
		fz_allow(&allow, EINVAL);
		fz_allow(&allow, EBADF);
		break;
	case UINTR_CREATE_TIMER:
		/* This thread has no vector fd either. */
		len = sizeof(a.t);
		a.t.flags = fz_flags(r[4], UINTR_TIMER_ABSTIME);
		a.t.initial_ns = (int64_t)r[6] >> fz_below(r[6], 64);
		a.t.period_ns = (int64_t)r[7] >> fz_below(r[7], 64);
		a.t.vector_fd = non_vector_fd(r[3], &allow);
		fz_allow(&allow, EINVAL);
		fz_allow(&allow, EBADF);
		break;
	}
	if (len) {
		char *p = fz_ptr(&arena, kind, len, r[5]);

		if (kind == FZ_PTR_OK || kind == FZ_PTR_STRADDLE)
			memcpy(p, &a, kind == FZ_PTR_OK ? len : (size_t)(arena.none - p));
		arg = (unsigned long)p;
		if (kind != FZ_PTR_OK) {
			/*
			 * Unreadable: only what needs no argument may come
			 * first, here the lack of a handler.
			 */
			bool needs_handler = cmd == UINTR_CREATE_VECTOR_FD ||
					     cmd == UINTR_REGISTER_SELF || cmd == UINTR_WAIT;

			memset(&allow, 0, sizeof(allow));
			fz_allow(&allow, EFAULT);
			if (needs_handler)
				fz_allow(&allow, EINVAL);
		}
	} else {
		/* _IO commands take the value itself. */
		arg = fz_below(r[6], 4) ? fz_below(r[7], 300) : (unsigned long)r[7];
	}
call:
	if (fd == closed_fd) {
		memset(&allow, 0, sizeof(allow));
		fz_allow(&allow, EBADF);
	} else if (fd != dev) {
		memset(&allow, 0, sizeof(allow));
		fz_allow(&allow, ENOTTY);
	} else if (!hw) {
		memset(&allow, 0, sizeof(allow));
		fz_allow(&allow, fam == FZ_NCMDS ? ENOTTY : EOPNOTSUPP);
	}
	per_cmd[fam]++;
	calls++;
	ret = ioctl(fd, cmd, arg);
	err = errno;
	if (ret >= 0)
		succeeded++;
	if (!fz_allowed(&allow, ret < 0 ? err : FZ_OK)) {
		char what[128];

		snprintf(what, sizeof(what), "fd %d cmd %s (%#lx) arg %#lx (%s)", fd,
			 fz_cmd_name(cmd), cmd, arg, len ? fz_ptr_name(kind) : "value");
		mismatch(step, what, ret, err, &allow);
	}
}

/* ---- Phase 2: a model of one thread's state ------------------------------ */

#define MAX_VFDS	48

struct vfd {
	int fd;
	int generation;		/* the receiver it belongs to */
	bool polled;
};

static struct model {
	bool handler;
	int generation;		/* of the current (or last) receiver */
	bool uitt[UINTR_MAX_UITT_ENTRIES];
	int used;
	struct vfd vfds[MAX_VFDS];
	int nvfds;
} m;

static bool receiver_alive(int generation)
{
	return m.handler && generation == m.generation;
}

static void drop_vfd(int i)
{
	close(m.vfds[i].fd);
	m.vfds[i] = m.vfds[--m.nvfds];
}

/* One call, valid or not, predicted from the model; updates it. */
static void model_call(uint64_t step)
{
	uint64_t r[8];
	struct fz_errset allow = { 0 };
	char what[160];
	int kind, op;
	long ret;
	int err;

	for (int i = 0; i < 8; i++)
		r[i] = fz_rand(seed, 2, step, i);
	kind = fz_below(r[0], 8) ? FZ_PTR_OK : (int)fz_below(r[0] >> 3, FZ_PTR_KINDS);
	op = (int)fz_below(r[1], FZ_NCMDS + 2);
	_Static_assert(FZ_NCMDS == 9, "one size per command below");
	if (kind != FZ_PTR_OK && op != 1 && op != 4 && op < (int)FZ_NCMDS) {
		/* An unreadable structure. */
		static const size_t sizes[] = { 24, 0, 8, 8, 0, 8, 16, 16, 24 };
		void *p = fz_ptr(&arena, kind, sizes[op], r[2]);

		fz_allow(&allow, EFAULT);
		if (m.handler && op == 0)
			fz_allow(&allow, EBUSY);
		if (!m.handler && (op == 2 || op == 5 || op == 6))
			fz_allow(&allow, EINVAL);
		ret = ioctl(dev, fz_cmds[op], p);
		err = errno;
		snprintf(what, sizeof(what), "%s with a %s pointer", fz_cmd_name(fz_cmds[op]),
			 fz_ptr_name(kind));
		check(step, what, ret, err, &allow);
		per_cmd[op]++;
		calls++;
		return;
	}
	calls++;
	per_cmd[op < (int)FZ_NCMDS ? (unsigned int)op : FZ_NCMDS + 1]++;
	switch (op) {
	case 0: {		/* REGISTER_HANDLER */
		struct uintr_handler_args h;

		fz_handler_args(&h, r[2], r[3], (uintptr_t)argfuzz_handler,
				(uintptr_t)(alt_stack + sizeof(alt_stack)), m.handler, &allow);
		ret = ioctl(dev, UINTR_REGISTER_HANDLER, &h);
		err = errno;
		snprintf(what, sizeof(what),
			 "REGISTER_HANDLER handler %#llx stack %#llx flags %#x reserved %#x",
			 (unsigned long long)h.handler, (unsigned long long)h.stack, h.flags,
			 h.reserved);
		if (check(step, what, ret, err, &allow)) {
			m.handler = true;
			m.generation++;
		}
		break;
	}
	case 1: {		/* UNREGISTER_HANDLER */
		unsigned long arg = fz_below(r[2], 4) ? 0 : r[3];

		if (arg || !m.handler)
			fz_allow(&allow, EINVAL);
		else
			fz_allow(&allow, FZ_OK);
		ret = ioctl(dev, UINTR_UNREGISTER_HANDLER, arg);
		err = errno;
		snprintf(what, sizeof(what), "UNREGISTER_HANDLER %#lx", arg);
		if (check(step, what, ret, err, &allow))
			m.handler = false;
		break;
	}
	case 2: {		/* CREATE_VECTOR_FD */
		struct uintr_vector_args v = {
			.vector = fz_vector(r[2]),
			.flags = fz_flags(r[3], UINTR_VECTOR_FD_POLL),
		};
		bool ok = m.handler && v.vector < UINTR_MAX_VECTORS &&
			  !(v.flags & ~UINTR_VECTOR_FD_POLL);

		if (m.nvfds == MAX_VFDS)
			drop_vfd((int)fz_below(r[4], m.nvfds));
		fz_allow(&allow, ok ? FZ_OK : EINVAL);
		ret = ioctl(dev, UINTR_CREATE_VECTOR_FD, &v);
		err = errno;
		snprintf(what, sizeof(what), "CREATE_VECTOR_FD vector %u flags %#x", v.vector,
			 v.flags);
		if (check(step, what, ret, err, &allow)) {
			if (!(fcntl((int)ret, F_GETFD) & FD_CLOEXEC)) {
				allow = (struct fz_errset){ 0 };
				mismatch(step, "a vector fd without FD_CLOEXEC", ret, 0, &allow);
			}
			fcntl((int)ret, F_SETFL, O_NONBLOCK);
			m.vfds[m.nvfds++] = (struct vfd){
				.fd = (int)ret,
				.generation = m.generation,
				.polled = v.flags & UINTR_VECTOR_FD_POLL,
			};
		}
		break;
	}
	case 3: {		/* REGISTER_SENDER */
		struct uintr_sender_args s = { .flags = fz_flags(r[3], 0) };
		int vi = -1;

		if (m.nvfds && fz_below(r[2], 4)) {
			vi = (int)fz_below(r[2] >> 2, m.nvfds);
			s.fd = m.vfds[vi].fd;
			if (!receiver_alive(m.vfds[vi].generation))
				fz_allow(&allow, ESRCH);
			if (m.used == UINTR_MAX_UITT_ENTRIES)
				fz_allow(&allow, ENOSPC);
			if (s.flags)
				fz_allow(&allow, EINVAL);
			if (!allow.w[0] && !allow.w[1] && !allow.w[2])
				fz_allow(&allow, FZ_OK);
		} else {
			s.fd = non_vector_fd(r[2] >> 2, &allow);
			if (s.flags)
				fz_allow(&allow, EINVAL);
		}
		ret = ioctl(dev, UINTR_REGISTER_SENDER, &s);
		err = errno;
		snprintf(what, sizeof(what), "REGISTER_SENDER fd %d (%s) flags %#x", s.fd,
			 vi < 0 ? "not a vector fd" : "vector fd", s.flags);
		if (check(step, what, ret, err, &allow)) {
			if (ret >= UINTR_MAX_UITT_ENTRIES || m.uitt[ret]) {
				allow = (struct fz_errset){ 0 };
				mismatch(step, "REGISTER_SENDER returned an index in use", ret, 0,
					 &allow);
				break;
			}
			m.uitt[ret] = true;
			m.used++;
		}
		break;
	}
	case 4: {		/* UNREGISTER_SENDER */
		unsigned long idx;

		switch (fz_below(r[2], 4)) {
		case 0:
			idx = r[3];
			break;
		case 1:
			idx = UINTR_MAX_UITT_ENTRIES + fz_below(r[3], 16);
			break;
		default:
			idx = fz_below(r[3], UINTR_MAX_UITT_ENTRIES);
			break;
		}
		fz_allow(&allow, idx < UINTR_MAX_UITT_ENTRIES && m.uitt[idx] ? FZ_OK : EINVAL);
		ret = ioctl(dev, UINTR_UNREGISTER_SENDER, idx);
		err = errno;
		snprintf(what, sizeof(what), "UNREGISTER_SENDER %#lx", idx);
		if (check(step, what, ret, err, &allow)) {
			m.uitt[idx] = false;
			m.used--;
		}
		break;
	}
	case 5: {		/* REGISTER_SELF */
		struct uintr_self_args s = {
			.vector = fz_vector(r[2]),
			.flags = fz_flags(r[3], 0),
		};

		if (!m.handler || s.vector >= UINTR_MAX_VECTORS || s.flags)
			fz_allow(&allow, EINVAL);
		if (m.used == UINTR_MAX_UITT_ENTRIES)
			fz_allow(&allow, ENOSPC);
		if (!allow.w[0] && !allow.w[1] && !allow.w[2])
			fz_allow(&allow, FZ_OK);
		ret = ioctl(dev, UINTR_REGISTER_SELF, &s);
		err = errno;
		snprintf(what, sizeof(what), "REGISTER_SELF vector %u flags %#x", s.vector,
			 s.flags);
		if (check(step, what, ret, err, &allow)) {
			if (ret >= UINTR_MAX_UITT_ENTRIES || m.uitt[ret]) {
				allow = (struct fz_errset){ 0 };
				mismatch(step, "REGISTER_SELF returned an index in use", ret, 0,
					 &allow);
				break;
			}
			m.uitt[ret] = true;
			m.used++;
		}
		break;
	}
	case 6: {		/* WAIT: nothing is ever sent, so it times out */
		struct uintr_wait_args w;
		bool blocks;

		if (!fz_wait_args(&w, r[2], 100000, &blocks) || !m.handler) {
			fz_allow(&allow, EINVAL);
		} else {
			if (blocks) {
				w.flags = UINTR_WAIT_TIMEOUT;
				w.timeout_ns = (int64_t)fz_below(r[3], 100000);
			}
			fz_allow(&allow, ETIMEDOUT);
		}
		ret = ioctl(dev, UINTR_WAIT, &w);
		err = errno;
		snprintf(what, sizeof(what), "WAIT timeout %lld flags %#x reserved %#x",
			 (long long)w.timeout_ns, w.flags, w.reserved);
		check(step, what, ret, err, &allow);
		break;
	}
	case 7: {		/* read() of a vector fd: nothing was ever posted */
		struct vfd *v;
		uint64_t buf[2];
		void *p = buf;
		size_t len = 8;

		if (!m.nvfds)
			break;
		v = &m.vfds[fz_below(r[2], m.nvfds)];
		if (fz_below(r[3], 4) == 0)
			len = fz_below(r[3] >> 2, 8);
		else if (fz_below(r[3], 4) == 1)
			len = 8 + fz_below(r[3] >> 2, 8);
		if (fz_below(r[4], 4) == 0)
			p = fz_ptr(&arena, 1 + (int)fz_below(r[4] >> 2, FZ_PTR_KINDS - 1), 8,
				   r[5]);
		if (!v->polled || len < 8)
			fz_allow(&allow, EINVAL);
		else if (receiver_alive(v->generation))
			fz_allow(&allow, EAGAIN);
		else
			fz_allow(&allow, FZ_OK);	/* 0 bytes: the receiver is gone */
		/* The VFS checks the range first; the module when it copies. */
		if (p != buf)
			fz_allow(&allow, EFAULT);
		ret = read(v->fd, p, len);
		err = errno;
		snprintf(what, sizeof(what), "read(%s vector fd, %zu bytes%s)",
			 v->polled ? "counting" : "plain", len, p == buf ? "" : ", bad buffer");
		if (check(step, what, ret, err, &allow) && ret != 0) {
			allow = (struct fz_errset){ 0 };
			mismatch(step, "read() of a vector fd returned a count", ret, 0, &allow);
		}
		break;
	}
	default:		/* close a vector fd */
		if (m.nvfds)
			drop_vfd((int)fz_below(r[2], m.nvfds));
		break;
	}
}

/* ---- main --------------------------------------------------------------- */

static unsigned long env_or(const char *name, unsigned long def)
{
	const char *v = getenv(name);

	return v && *v ? strtoul(v, NULL, 0) : def;
}

static void print_counts(const char *phase, double seconds)
{
	ksft_print_msg("%s: %lu calls in %.2f s (%.0f/s):", phase, calls, seconds,
		       seconds > 0 ? calls / seconds : 0.0);
	for (unsigned int i = 0; i < FZ_NCMDS; i++)
		printf(" %s %lu", fz_cmd_name(fz_cmds[i]), per_cmd[i]);
	printf(" other-cmd %lu", per_cmd[FZ_NCMDS]);
	if (per_cmd[FZ_NCMDS + 1])
		printf(" read/close %lu", per_cmd[FZ_NCMDS + 1]);
	printf("; %lu succeeded\n", succeeded);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "calls", required_argument, NULL, 'n' },
		{ "phase2-calls", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long n1, n2;
	long before[FZ_NLIVE], now[FZ_NLIVE];
	bool stats;
	double t0;
	int c;

	seed = env_or("uintr_argfuzz_seed", 1);
	hw = uintr_kernel_supported();
	/* The emulated CPU runs some 50 million instructions a second. */
	n1 = env_or("uintr_argfuzz_calls", hw ? 20000 : 1000000);
	n2 = hw ? n1 : 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'n':
			n1 = strtoul(optarg, NULL, 0);
			n2 = hw ? n1 : 0;
			break;
		case 'm':
			n2 = strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: %s [--seed N] [--calls N] [--phase2-calls N]\n",
				argv[0]);
			return KSFT_FAIL;
		}
	}

	ksft_print_header();
	ksft_print_msg("uintr_argfuzz: seed %llu calls %lu phase2-calls %lu uintr %s\n",
		       (unsigned long long)seed, n1, n2, hw ? "yes" : "no");
	ksft_set_plan(4);
	dev = uintr_open();
	if (dev < 0) {
		ksft_print_msg(UINTR_DEV ": %s\n", strerror(errno));
		for (int i = 0; i < 4; i++)
			ksft_test_result_skip("no " UINTR_DEV "\n");
		ksft_finished();
	}
	if (fz_arena_init(&arena) || pipe(pipefd))
		ksft_exit_fail_perror("set-up");
	close(closed_fd);
	stats = fz_live_read(before);

	t0 = fz_now();
	for (uint64_t i = 0; i < n1; i++)
		invalid_call(i);
	print_counts("phase 1", fz_now() - t0);
	ksft_test_result(!bad, "invalid_calls_get_their_documented_errno\n");
	if (stats && fz_live_read(now))
		ksft_test_result(!memcmp(before, now, sizeof(now)),
				 "invalid_calls_leave_no_live_object\n");
	else
		ksft_test_result_skip("invalid_calls_leave_no_live_object: no debugfs\n");

	if (hw && n2) {
		unsigned long bad1 = bad;
		int status = 0;
		pid_t pid;

		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			calls = 0;
			succeeded = 0;
			memset(per_cmd, 0, sizeof(per_cmd));
			t0 = fz_now();
			for (uint64_t i = 0; i < n2; i++)
				model_call(i);
			print_counts("phase 2", fz_now() - t0);
			_exit(bad > 255 ? 255 : (int)bad);
		}
		if (pid < 0 || waitpid(pid, &status, 0) != pid)
			ksft_exit_fail_perror("fork");
		bad = bad1 + (WIFEXITED(status) ? WEXITSTATUS(status) : 1000);
		ksft_test_result(bad == bad1 && WIFEXITED(status),
				 "valid_and_invalid_calls_get_what_the_model_predicts\n");
		if (stats && fz_live_settle(before, now, 10)) {
			ksft_test_result_pass("a_process_state_goes_with_it\n");
		} else if (stats) {
			ksft_print_msg("live counters after the child:");
			for (unsigned int i = 0; i < FZ_NLIVE; i++)
				printf(" %s %ld (was %ld)", fz_live_names[i], now[i], before[i]);
			printf("\n");
			ksft_test_result_fail("a_process_state_goes_with_it\n");
		} else {
			ksft_test_result_skip("a_process_state_goes_with_it: no debugfs\n");
		}
	} else {
		ksft_test_result_skip("valid_and_invalid_calls_get_what_the_model_predicts: %s\n",
				      hw ? "no calls" : "no user interrupts");
		ksft_test_result_skip("a_process_state_goes_with_it: %s\n",
				      hw ? "no calls" : "no user interrupts");
	}
	if (bad)
		ksft_print_msg("%lu mismatches; replay with --seed %llu\n", bad,
			       (unsigned long long)seed);
	ksft_finished();
}
