// SPDX-License-Identifier: GPL-2.0
/*
 * A seeded, multi-process fuzzer of the whole /dev/uintr interface, whose
 * oracle is that every user interrupt sent through a valid UITT entry to a
 * live receiver arrives exactly once, at the handler or as a count read
 * from a polled vector fd, and that every call gets a result
 * Documentation/uapi.md allows.
 *
 *   uintr_fuzz [--seed N] [--seconds S] [--procs P] [--hotplug] [--trace]
 *
 * Worker processes run threads that pick operations at random: every
 * ioctl with valid and invalid arguments, vector fds (plain and polled),
 * senders, SENDUIPI through valid, stale and out-of-range indices (the
 * faults are caught with sigsetjmp), UINTR_WAIT, poll, epoll and read on
 * polled fds, close, dup and SCM_RIGHTS passing, thread creation and exit,
 * fork, exec of this program, signals (also SIGSTOP and SIGCONT to a
 * waiter), CLUI/STUI, and with --hotplug CPU 1 going offline and online.
 * Every decision is drawn from a stream that depends only on the seed, the
 * logical id of the thread (derived from its creator's) and its step
 * number, so a seed replays the same decisions; only their outcomes
 * depend on timing.
 *
 * The accounting is exact because posts cannot coalesce: a sender takes a
 * token for (receiver, vector) before SENDUIPI and whoever receives the
 * post (the handler, or a reader of a counting fd) gives it back, so at
 * most one post per vector is ever outstanding.  A receiver that ends
 * first stops new sends, then waits until its tokens are back (other
 * processes read the counting fds they hold for it meanwhile); a token
 * still out after DRAIN_SECONDS is a lost interrupt, a post that finds no
 * token is a duplicate.  Receivers of processes that may be killed are not
 * counted exactly (nobody drains them), only checked for duplicates.  Posts
 * through entries whose receiver is gone must not fault and must never be
 * received, not even as a count on one of its counting fds.
 *
 * The defaults come from the environment (uintr_fuzz_seed,
 * uintr_fuzz_seconds, uintr_fuzz_procs, uintr_fuzz_hotplug), which the
 * guest's kernel command line sets: 60 seconds with two CPUs or more, 30
 * with one.
 */
#include "uintr_fuzz.h"
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

#define NV			UINTR_MAX_VECTORS
#define NE			UINTR_MAX_UITT_ENTRIES
#define MAX_SLOTS		8192	/* receivers over the whole run */
#define MAX_PROCS		8192	/* processes over the whole run */
#define MAX_TRECS		1024	/* threads alive at once */
#define MAX_WORKERS		16
#define MAX_THREADS		4	/* per process */
#define MAX_FDS			96	/* tracked per process */
#define MAX_CHILDREN		4	/* per process */
#define MAX_DEPTH		2	/* workers' grandchildren make none */
#define MAX_LIVE_PER_WORKER	4	/* forked processes alive at once */
#define MAX_KINDS		64	/* distinct failure messages summed up */
#define REPORTS_PER_KIND	3	/* printed as they happen */
#define DRAIN_SECONDS		30.0
#define END_SECONDS		180.0	/* for the workers to end after the deadline */
#define ALT_STACK_SIZE		16384
#define FAR_FD			900	/* never open: the table stays far below */

/* ---- Shared state -------------------------------------------------------- */

enum { SL_FREE, SL_LIVE, SL_DYING, SL_EXITED, SL_DEAD };
enum { PR_FREE, PR_ALIVE, PR_DOOMED, PR_GONE };

/* A receiver, for its whole life; slots are never reused. */
struct slot {
	int state;
	int proc;		/* owning process record */
	int tracked;		/* counted exactly (its process cannot be killed) */
	int ever_polled;	/* a counting fd was made for it */
	int inflight;		/* senders between the state check and SENDUIPI's end */
	int draining;		/* counted in shm.ndying */
	uint8_t token[NV];	/* a post is outstanding */
	uint32_t sent[NV], handled[NV], readc[NV];
};

struct prec {
	int state;
	int killable;
	pid_t pid;
};

/* A thread, for signals. */
struct trec {
	int state;		/* 0 free, 1 in use */
	int in_wait;		/* blocked in UINTR_WAIT, or about to */
	int op;			/* the operation under way, for a hang's report */
	pid_t pid, tid;
};

enum {
	OP_REGISTER_HANDLER,
	OP_UNREGISTER_HANDLER,
	OP_CREATE_VECTOR_FD,
	OP_REGISTER_SENDER,
	OP_REGISTER_SELF,
	OP_UNREGISTER_SENDER,
	OP_SEND,
	OP_SEND_STALE,
	OP_BAD_IOCTL,
	OP_WAIT,
	OP_WAIT_SIGNAL,
	OP_READ,
	OP_READ_BLOCKING,
	OP_POLL,
	OP_EPOLL,
	OP_CLOSE,
	OP_DUP,
	OP_PASS,
	OP_RECV,
	OP_OPEN_DEV,
	OP_THREAD_CREATE,
	OP_THREAD_EXIT,
	OP_FORK,
	OP_EXEC,
	OP_REAP,
	OP_KILL_CHILD,
	OP_SIGNAL,
	OP_STOP_CONT,
	OP_UIF,
	OP_SPIN,
	OP_YIELD,
	OP_AFFINITY,
	OP_WATCH,
	NOPS,
};

/* The operations and how often each is picked. */
static const struct {
	const char *name;
	unsigned int weight;
} ops[NOPS] = {
	[OP_REGISTER_HANDLER] = { "REGISTER_HANDLER", 6 },
	[OP_UNREGISTER_HANDLER] = { "UNREGISTER_HANDLER", 3 },
	[OP_CREATE_VECTOR_FD] = { "CREATE_VECTOR_FD", 8 },
	[OP_REGISTER_SENDER] = { "REGISTER_SENDER", 8 },
	[OP_REGISTER_SELF] = { "REGISTER_SELF", 4 },
	[OP_UNREGISTER_SENDER] = { "UNREGISTER_SENDER", 5 },
	[OP_SEND] = { "SEND", 30 },
	[OP_SEND_STALE] = { "SEND_STALE", 3 },
	[OP_BAD_IOCTL] = { "BAD_IOCTL", 6 },
	[OP_WAIT] = { "WAIT", 6 },
	[OP_WAIT_SIGNAL] = { "WAIT_SIGNAL", 2 },
	[OP_READ] = { "READ", 8 },
	[OP_READ_BLOCKING] = { "READ_BLOCKING", 2 },
	[OP_POLL] = { "POLL", 5 },
	[OP_EPOLL] = { "EPOLL", 4 },
	[OP_CLOSE] = { "CLOSE", 5 },
	[OP_DUP] = { "DUP", 3 },
	[OP_PASS] = { "PASS", 4 },
	[OP_RECV] = { "RECV", 4 },
	[OP_OPEN_DEV] = { "OPEN_DEV", 1 },
	[OP_THREAD_CREATE] = { "THREAD_CREATE", 2 },
	[OP_THREAD_EXIT] = { "THREAD_EXIT", 1 },
	[OP_FORK] = { "FORK", 1 },
	[OP_EXEC] = { "EXEC", 1 },
	[OP_REAP] = { "REAP", 2 },
	[OP_KILL_CHILD] = { "KILL_CHILD", 1 },
	[OP_SIGNAL] = { "SIGNAL", 2 },
	[OP_STOP_CONT] = { "STOP_CONT", 1 },
	[OP_UIF] = { "UIF", 3 },
	[OP_SPIN] = { "SPIN", 4 },
	[OP_YIELD] = { "YIELD", 2 },
	[OP_AFFINITY] = { "AFFINITY", 1 },
	[OP_WATCH] = { "WATCH", 3 },
};

enum {
	EV_SENT,
	EV_WATCH_POSTS,
	EV_HANDLED,
	EV_READ,
	EV_SEND_BUSY,
	EV_SENT_GONE,
	EV_SEND_DEAD,
	EV_SIGSEGV,
	EV_SIGILL,
	EV_STRAY,
	EV_WAIT_POSTED,
	EV_WAIT_TIMEDOUT,
	EV_WAIT_EINTR,
	EV_READ_EINTR,
	EV_RECEIVERS,
	EV_UNREGISTERED,
	EV_VECTOR_FDS,
	EV_POLLED_FDS,
	EV_ENTRIES,
	EV_EINVAL_CALLS,
	EV_PASSED,
	EV_RECEIVED,
	EV_THREADS,
	EV_FORKS,
	EV_EXECS,
	EV_KILLS,
	EV_SIGNALS,
	EV_STOPS,
	EV_HOTPLUG,
	EV_NO_SLOT,
	NEVENTS,
};

static const char *const ev_desc[NEVENTS] = {
	[EV_SENT] = "posts sent to live receivers",
	[EV_WATCH_POSTS] = "of them by a watched eventfd",
	[EV_HANDLED] = "posts received by handlers",
	[EV_READ] = "posts read from counting fds",
	[EV_SEND_BUSY] = "sends skipped: a post outstanding",
	[EV_SENT_GONE] = "posts sent to receivers that are gone",
	[EV_SEND_DEAD] = "sends skipped: receiver ending",
	[EV_SIGSEGV] = "SENDUIPI #GP caught (stale, out of range)",
	[EV_SIGILL] = "SENDUIPI #UD caught (not a sender)",
	[EV_STRAY] = "handler runs without a receiver",
	[EV_WAIT_POSTED] = "UINTR_WAIT returned 0",
	[EV_WAIT_TIMEDOUT] = "UINTR_WAIT timed out",
	[EV_WAIT_EINTR] = "UINTR_WAIT interrupted",
	[EV_READ_EINTR] = "blocking reads interrupted",
	[EV_RECEIVERS] = "receivers",
	[EV_UNREGISTERED] = "receivers unregistered",
	[EV_VECTOR_FDS] = "vector fds made",
	[EV_POLLED_FDS] = "of them counting",
	[EV_ENTRIES] = "UITT entries made",
	[EV_EINVAL_CALLS] = "calls that got EINVAL",
	[EV_PASSED] = "fds passed with SCM_RIGHTS",
	[EV_RECEIVED] = "fds received",
	[EV_THREADS] = "threads started",
	[EV_FORKS] = "processes forked",
	[EV_EXECS] = "images executed",
	[EV_KILLS] = "processes killed",
	[EV_SIGNALS] = "signals sent",
	[EV_STOPS] = "SIGSTOP/SIGCONT pairs",
	[EV_HOTPLUG] = "CPU 1 offline/online changes",
	[EV_NO_SLOT] = "receivers refused: no slot left",
};

enum {
	F_RESULT,		/* a call's result is not the documented one */
	F_FAULT,		/* SENDUIPI faulted, or did not, wrongly */
	F_ONCE,			/* a post lost, duplicated or miscounted */
	F_AFTER,		/* a post to a receiver that was gone arrived */
	F_PROCESS,		/* a process crashed or hung */
	NFAILS,
};

static const char *const fail_names[] = { "result", "fault", "once", "after-end", "process" };

struct shm {
	uint64_t seed;
	double deadline;
	int stop;
	int hotplug;
	int nworkers;
	int trace;
	int ndying;		/* receivers waiting for their posts */
	int nlive;		/* processes forked and not reaped yet */
	int nslots, nprocs;
	int reports;
	struct {
		uint64_t key;
		int fail;
		unsigned long count;
		char sample[400];
	} kinds[MAX_KINDS];
	unsigned long ops[NOPS];
	unsigned long ev[NEVENTS];
	unsigned long fails[NFAILS];
	int mbox_rx[MAX_WORKERS], mbox_tx[MAX_WORKERS];
	struct trec trecs[MAX_TRECS];
	struct prec procs[MAX_PROCS];
	struct slot slots[MAX_SLOTS];
};

#define LOAD(x)		__atomic_load_n(&(x), __ATOMIC_SEQ_CST)
#define STORE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_SEQ_CST)
#define ADD(x, v)	__atomic_add_fetch(&(x), (v), __ATOMIC_SEQ_CST)
#define XCHG(x, v)	__atomic_exchange_n(&(x), (v), __ATOMIC_SEQ_CST)

static struct shm *S;
static int shm_fd = -1;
static struct fz_arena arena;	/* bad pointers */

/* ---- Per-process state ----------------------------------------------- */

enum { FD_DEV = 1, FD_VEC = 2 };

struct fdrec {
	int used;
	int fd;
	int kind;
	int slot, vector, polled, nb;
	int busy;		/* operations using it; only closed at 0 */
	unsigned int gen;
};

enum { E_FREE, E_VALID, E_REMOVING };

struct entry {
	int state;
	int slot, vector;
	int users;		/* senders using it */
};

struct child {
	pid_t pid;
	int rec;
	int killable;
};

static struct {
	pthread_mutex_t lock;	/* fds, uitt, children */
	pthread_rwlock_t uitt_rw;	/* write: no registration in progress */
	uint64_t id;
	int rec;
	int killable;
	int depth;		/* 0 for a worker, its children 1... */
	int mailbox;		/* receive end, or -1 */
	int dev;		/* /dev/uintr, never closed */
	int stopping;
	int running;		/* threads other than the main one */
	int nthreads;
	struct fdrec fds[MAX_FDS];
	struct entry uitt[NE];
	int uitt_used, uitt_pending;
	/*
	 * The kernel frees the table when the last thread that is a sender
	 * exits, in its last steps, after pthread code sees it gone.  users
	 * counts this process's senders; the last of them to end decides,
	 * with uitt_rw held for writing (no registration or removal under
	 * way), that the table goes, and names itself in drain_tid until a
	 * later registration or removal has seen it leave the kernel.
	 */
	int users;
	pid_t drain_tid;
	struct child children[MAX_CHILDREN];
	int nchildren, reserved;
} P;

/* ---- Per-thread state ------------------------------------------------ */

struct thr {
	uint64_t id, step;
	long max_steps;
	int rec;		/* trecs[] */
	int slot;		/* receiver, or -1 */
	bool sender;		/* SENDUIPI enabled */
	bool main;
	bool leave;		/* THREAD_EXIT */
	int epfd;
	timer_t timer;
	bool has_timer;
	uint64_t spawned, forked;	/* children made, for their ids */
	int op;			/* the operation under way, or -1 */
	bool alt;		/* the handler runs on alt_top */
	bool wake;		/* registered with UINTR_HANDLER_WAKE */
	char *alt_top;
};

static __thread struct thr *self;
static __thread int tls_slot = -1;
static __thread volatile unsigned long tls_handled;
static __thread volatile unsigned long tls_sig_restart, tls_sig_norestart;
static __thread sigjmp_buf *tls_jmp;	/* set while SENDUIPI may fault */
static __thread volatile int tls_fault;
static __thread volatile int tls_dup_vector = -1;

/* The top of an alternate stack in @buf, aligned for the frame. */
static char *stack_top(char *buf, size_t len)
{
	return (char *)(((uintptr_t)buf + len) & ~(uintptr_t)63);
}

static uint64_t R(unsigned int k)
{
	return fz_rand(S->seed, self->id, self->step, k);
}

/* ---- Reports --------------------------------------------------------- */

static void out(const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(1, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= n;
	}
}

static void __printf(1, 2) msg(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	out(buf, n);
}

/*
 * Count a failure under its message with the numbers left out; returns how
 * many times that message came before.  Without a lock: a process can be
 * killed anywhere.
 */
static unsigned long fail_kind(int kind, const char *text)
{
	uint64_t key = fz_mix(kind) | 1;

	for (const char *c = text; *c; c++)
		if (*c < '0' || *c > '9')
			key = fz_mix(key ^ (unsigned char)*c) | 1;
	for (int i = 0; i < MAX_KINDS; i++) {
		uint64_t cur = LOAD(S->kinds[i].key);

		if (!cur) {
			if (__atomic_compare_exchange_n(&S->kinds[i].key, &cur, key, false,
							__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
				/* A new message: describe it. */
				S->kinds[i].fail = kind;
				snprintf(S->kinds[i].sample, sizeof(S->kinds[i].sample), "%s", text);
				return ADD(S->kinds[i].count, 1) - 1;
			}
			/* cur is now what another process put there. */
		}
		if (cur == key)
			return ADD(S->kinds[i].count, 1) - 1;
	}
	return 0;
}

static void __printf(2, 3) fail(int kind, const char *fmt, ...)
{
	char buf[400];
	va_list ap;

	ADD(S->fails[kind], 1);
	ADD(S->reports, 1);
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (fail_kind(kind, buf) >= REPORTS_PER_KIND)
		return;
	msg("# FAIL %s: seed %llu id %016llx step %llu pid %d: %s", fail_names[kind],
	    (unsigned long long)S->seed, self ? (unsigned long long)self->id : 0ULL,
	    self ? (unsigned long long)self->step : 0ULL, getpid(), buf);
}

static const char *ename(int e)
{
	return e ? strerrorname_np(e) ?: "?" : "success";
}

/* Check a result against the allowed set; returns whether it succeeded. */
static bool expect(const char *what, long ret, int err, const struct fz_errset *allow)
{
	if (ret < 0 && err == EINVAL)
		ADD(S->ev[EV_EINVAL_CALLS], 1);
	if (!fz_allowed(allow, ret < 0 ? err : FZ_OK)) {
		char set[200];

		fz_errset_str(allow, set, sizeof(set));
		fail(F_RESULT, "%s: got %s (%ld), allowed: %s", what,
		     ename(ret < 0 ? err : 0), ret, set);
	}
	return ret >= 0;
}

static bool expect1(const char *what, long ret, int err, int allowed)
{
	struct fz_errset allow = { 0 };

	fz_allow(&allow, allowed);
	return expect(what, ret, err, &allow);
}

/* Duplicates the handler saw, reported from the thread. */
static void report_handler(void)
{
	int v = tls_dup_vector;

	if (v >= 0) {
		tls_dup_vector = -1;
		fail(F_ONCE, "the handler of receiver %d got vector %d with no post outstanding",
		     tls_slot, v);
	}
}

/* ---- The handler and signals -------------------------------------------- */

struct __uintr_frame;

static void __attribute__((interrupt, target("general-regs-only")))
fuzz_handler(struct __uintr_frame *frame, unsigned long long vector)
{
	int s = tls_slot;

	tls_handled++;
	if (s < 0 || vector >= NV) {
		ADD(S->ev[EV_STRAY], 1);
		return;
	}
	ADD(S->slots[s].handled[vector], 1);
	ADD(S->ev[EV_HANDLED], 1);
	if (!XCHG(S->slots[s].token[vector], 0))
		tls_dup_vector = (int)vector;	/* reported by the thread */
}

static void on_usr1(int sig)
{
	tls_sig_restart++;
}

static void on_usr2(int sig)
{
	tls_sig_norestart++;
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	sigjmp_buf *jb = LOAD(tls_jmp);
	ucontext_t *ctx = uc;

	if (jb) {
		tls_fault = sig;
		siglongjmp(*jb, 1);
	}
	/* A crash: say where, for the report, and die of it. */
	msg("# FAIL process: seed %llu id %016llx step %llu pid %d tid %d: signal %d code %d addr %p rip %#llx rsp %#llx during %s; receiver %d, %s stack, top %p",
	    (unsigned long long)S->seed, self ? (unsigned long long)self->id : 0ULL,
	    self ? (unsigned long long)self->step : 0ULL, getpid(), gettid(), sig,
	    si->si_code, si->si_addr, (unsigned long long)ctx->uc_mcontext.gregs[REG_RIP],
	    (unsigned long long)ctx->uc_mcontext.gregs[REG_RSP],
	    self && self->op >= 0 ? ops[self->op].name : "-", tls_slot,
	    self && self->alt ? "alternate" : "interrupted", self ? self->alt_top : NULL);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_RESTART };
	sigset_t set;

	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_usr2;
	sa.sa_flags = 0;		/* interrupts system calls: EINTR */
	sigaction(SIGUSR2, &sa, NULL);
	sa.sa_handler = NULL;
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_NODEFER | SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGILL, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
}

/* SENDUIPI @index; returns the signal it raised, or 0. */
static int send_catch(uint64_t index)
{
	sigjmp_buf jb;

	tls_fault = 0;
	STORE(tls_jmp, &jb);
	if (!sigsetjmp(jb, 1))
		_senduipi(index);
	STORE(tls_jmp, NULL);
	return tls_fault;
}

/*
 * SIGUSR2 to this thread after @us microseconds and every @us from then on
 * (0: disarm).  Periodic, so that a call it is meant to end is ended even
 * if the first expiry came before the call began.
 */
static void arm_timer(long us)
{
	struct itimerspec its = { 0 };

	if (!self->has_timer) {
		struct sigevent sev = {
			.sigev_notify = SIGEV_THREAD_ID,
			.sigev_signo = SIGUSR2,
		};

		sev.sigev_notify_thread_id = gettid();
		if (timer_create(CLOCK_MONOTONIC, &sev, &self->timer))
			return;
		self->has_timer = true;
	}
	its.it_value.tv_sec = us / 1000000;
	its.it_value.tv_nsec = us % 1000000 * 1000;
	its.it_interval = its.it_value;
	timer_settime(self->timer, 0, &its, NULL);
}

/* ---- Records --------------------------------------------------------- */

static bool doomed(int slot)
{
	struct slot *s = &S->slots[slot];

	return LOAD(S->procs[s->proc].state) >= PR_DOOMED;
}

/* The receiver is, or may be, gone in the kernel. */
static bool maybe_gone(int slot)
{
	return LOAD(S->slots[slot].state) >= SL_DYING || doomed(slot);
}

/* The receiver is certainly gone in the kernel. */
static bool surely_gone(int slot)
{
	return LOAD(S->slots[slot].state) == SL_DEAD;
}

static void trec_free(int i);

static int proc_alloc(int killable)
{
	int rec = ADD(S->nprocs, 1) - 1;

	if (rec >= MAX_PROCS)
		return -1;
	S->procs[rec].killable = killable;
	STORE(S->procs[rec].state, PR_ALIVE);
	return rec;
}

/* A process is gone (reaped): its receivers are dead for sure. */
static void proc_gone(int rec)
{
	int n = LOAD(S->nslots);

	STORE(S->procs[rec].state, PR_GONE);
	for (int i = 0; i < n && i < MAX_SLOTS; i++) {
		struct slot *s = &S->slots[i];

		if (s->proc != rec || LOAD(s->state) == SL_FREE)
			continue;
		STORE(s->state, SL_DEAD);
		/* Killed while it waited for its posts. */
		if (XCHG(s->draining, 0))
			ADD(S->ndying, -1);
	}
	for (int i = 0; i < MAX_TRECS; i++)
		if (S->trecs[i].pid == S->procs[rec].pid)
			trec_free(i);
}

static int trec_alloc(void)
{
	for (int i = 0; i < MAX_TRECS; i++) {
		int zero = 0;

		if (__atomic_compare_exchange_n(&S->trecs[i].state, &zero, 1, false,
						__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
			S->trecs[i].pid = getpid();
			S->trecs[i].tid = gettid();
			S->trecs[i].in_wait = 0;
			S->trecs[i].op = -1;
			return i;
		}
	}
	return -1;
}

static void trec_free(int i)
{
	if (i >= 0) {
		S->trecs[i].tid = 0;
		STORE(S->trecs[i].state, 0);
	}
}

/*
 * Make room in a table that is nearly full: close an fd nobody uses,
 * preferably one of a receiver that is gone.  P.lock held.
 */
static void fd_trim(void)
{
	int used = 0, victim = -1;

	for (int i = 0; i < MAX_FDS; i++) {
		struct fdrec *f = &P.fds[i];

		if (!f->used)
			continue;
		used++;
		if (f->busy)
			continue;
		if (victim < 0 || (f->kind == FD_VEC && maybe_gone(f->slot)))
			victim = i;
	}
	if (used >= MAX_FDS - 8 && victim >= 0) {
		close(P.fds[victim].fd);
		P.fds[victim].used = 0;
	}
}

/* fds: stable indices; an fd is closed only when nobody uses it. */
static int fd_add(int fd, int kind, int slot, int vector, int polled)
{
	int i;

	pthread_mutex_lock(&P.lock);
	fd_trim();
	for (i = 0; i < MAX_FDS; i++)
		if (!P.fds[i].used)
			break;
	if (i == MAX_FDS) {
		pthread_mutex_unlock(&P.lock);
		close(fd);
		return -1;
	}
	P.fds[i] = (struct fdrec){
		.used = 1, .fd = fd, .kind = kind, .slot = slot, .vector = vector,
		.polled = polled, .nb = !!(fcntl(fd, F_GETFL) & O_NONBLOCK),
		.gen = P.fds[i].gen + 1,
	};
	pthread_mutex_unlock(&P.lock);
	return i;
}

/*
 * Pick a tracked fd of one of @kinds (counting ones only if @counting),
 * starting at a random place; returns its index with a use held, or -1.
 */
static int fd_pick(uint64_t r, int kinds, bool counting)
{
	int start = (int)fz_below(r, MAX_FDS), found = -1;

	pthread_mutex_lock(&P.lock);
	for (int n = 0; n < MAX_FDS; n++) {
		struct fdrec *f = &P.fds[(start + n) % MAX_FDS];

		if (!f->used || !(f->kind & kinds) || (counting && !f->polled))
			continue;
		f->busy++;
		found = (start + n) % MAX_FDS;
		break;
	}
	pthread_mutex_unlock(&P.lock);
	return found;
}

static void fd_put(int i)
{
	pthread_mutex_lock(&P.lock);
	P.fds[i].busy--;
	pthread_mutex_unlock(&P.lock);
}

/* Close fd @i unless someone else uses it; drops the use held either way. */
static void fd_close(int i)
{
	pthread_mutex_lock(&P.lock);
	if (P.fds[i].busy == 1) {
		close(P.fds[i].fd);
		P.fds[i].used = 0;
	}
	P.fds[i].busy--;
	pthread_mutex_unlock(&P.lock);
}

/* A /dev/uintr fd for an ioctl: the process's own or a tracked one. */
static int dev_pick(uint64_t r, int *held)
{
	*held = -1;
	if (fz_below(r, 4) == 0) {
		*held = fd_pick(r >> 2, FD_DEV, false);
		if (*held >= 0)
			return P.fds[*held].fd;
	}
	return P.dev;
}

static void dev_put(int held)
{
	if (held >= 0)
		fd_put(held);
}

/* Whether this process may read the counts of @slot (see KILL_CHILD). */
static bool may_read(int slot)
{
	return !P.killable || !S->slots[slot].tracked;
}

/* ---- Accounting of posts ------------------------------------------------- */

static void account_read(const struct fdrec *f, uint64_t count)
{
	struct slot *s = &S->slots[f->slot];

	bool gone = surely_gone(f->slot);

	ADD(S->ev[EV_READ], count);
	ADD(s->readc[f->vector], (uint32_t)count);
	if (XCHG(s->token[f->vector], 0) && count == 1)
		return;
	if (gone)
		fail(F_AFTER, "a counting fd of receiver %d vector %d read %llu posts made after the receiver was gone",
		     f->slot, f->vector, (unsigned long long)count);
	else
		fail(F_ONCE, "a counting fd of receiver %d vector %d read %llu posts, at most 1 was outstanding",
		     f->slot, f->vector, (unsigned long long)count);
}

/*
 * read() fd @i (a use held) into a good or bad buffer of @len bytes,
 * bounded by a timer if it may block; account and check the result.
 * Returns the bytes read or -errno.
 */
static long read_vec(int i, int bad_kind, size_t len, uint64_t r)
{
	struct fdrec f = P.fds[i];
	struct fz_errset allow = { 0 };
	unsigned long sig0 = tls_sig_norestart, handled0 = tls_handled;
	bool dead0 = surely_gone(f.slot);
	uint64_t buf[2] = { 0 };
	void *p = buf;
	char what[128];
	long ret;
	int err;

	if (f.polled && !may_read(f.slot))
		return -EPERM;
	if (bad_kind)
		p = fz_ptr(&arena, bad_kind, 8, r);
	if (!f.nb)
		arm_timer(1000 + (long)fz_below(r, 20000));
	ret = read(f.fd, p, len);
	err = errno;
	if (!f.nb)
		arm_timer(0);
	if (ret == 8 && !bad_kind)
		account_read(&f, buf[0]);
	if (!f.polled || len < 8) {
		fz_allow(&allow, EINVAL);
	} else {
		/* A count, or 0 bytes once the receiver is gone (checked below) */
		fz_allow(&allow, FZ_OK);
		if (f.nb && !dead0)
			fz_allow(&allow, EAGAIN);
		/* A signal handler ran, or a post to a waking receiver. */
		if (!f.nb && (tls_sig_norestart != sig0 ||
			      (self->wake && tls_handled != handled0)))
			fz_allow(&allow, EINTR);
	}
	if (bad_kind)
		fz_allow(&allow, EFAULT);	/* the VFS checks the range first */
	snprintf(what, sizeof(what), "read(%s %s vector fd of receiver %d, %zu bytes%s)",
		 f.nb ? "non-blocking" : "blocking", f.polled ? "counting" : "plain",
		 f.slot, len, bad_kind ? ", bad buffer" : "");
	expect(what, ret, err, &allow);
	if (ret == 0 && !maybe_gone(f.slot))
		fail(F_RESULT, "%s: end of file while the receiver lives", what);
	if (ret == 8 && bad_kind)
		fail(F_RESULT, "%s: read into an unwritable buffer", what);
	if (ret < 0 && err == EINTR)
		ADD(S->ev[EV_READ_EINTR], 1);
	return ret < 0 ? -err : ret;
}

static void recv_passed(bool all);

/* Read every count this process holds for receivers that are ending. */
static void service(bool force)
{
	if (!force && !LOAD(S->ndying))
		return;
	if (P.mailbox >= 0)
		recv_passed(true);
	for (int i = 0; i < MAX_FDS; i++) {
		struct fdrec *f = &P.fds[i];
		int slot;

		pthread_mutex_lock(&P.lock);
		if (!f->used || f->kind != FD_VEC || !f->polled || f->busy ||
		    LOAD(S->slots[f->slot].state) < SL_DYING) {
			pthread_mutex_unlock(&P.lock);
			continue;
		}
		f->busy++;
		slot = f->slot;
		pthread_mutex_unlock(&P.lock);
		if (may_read(slot)) {
			struct pollfd pfd = { .fd = f->fd, .events = POLLIN };

			if (f->nb || poll(&pfd, 1, 0) == 1)
				read_vec(i, 0, 8, 0);
		}
		fd_put(i);
	}
}

/* ---- Receivers --------------------------------------------------------- */

static int slot_alloc(void)
{
	int i = ADD(S->nslots, 1) - 1;
	struct slot *s;

	if (i >= MAX_SLOTS) {
		ADD(S->ev[EV_NO_SLOT], 1);
		return -1;
	}
	s = &S->slots[i];
	s->proc = P.rec;
	s->tracked = !P.killable;
	return i;
}

/*
 * Stop new sends to this thread's receiver and wait until every post sent
 * to it has arrived; check the counts.  The receiver stays registered.
 */
static void retire(void)
{
	struct slot *s = &S->slots[self->slot];
	double end = fz_now() + DRAIN_SECONDS;
	bool tokens = true;

	if (!s->tracked)
		end = fz_now() + 2;	/* nobody may be reading for it */
	STORE(s->state, SL_DYING);
	if (!XCHG(s->draining, 1))
		ADD(S->ndying, 1);
	while (LOAD(s->inflight) && fz_now() < end)
		sched_yield();
	_stui();
	while (fz_now() < end) {
		struct uintr_wait_args w = { .timeout_ns = 2000000, .flags = UINTR_WAIT_TIMEOUT };

		tokens = false;
		for (int v = 0; v < NV && !tokens; v++)
			tokens = LOAD(s->token[v]);
		if (!tokens)
			break;
		service(true);
		ioctl(P.dev, UINTR_WAIT, &w);
	}
	report_handler();
	if (LOAD(s->inflight) && s->tracked)
		fail(F_ONCE, "receiver %d: a send never finished", self->slot);
	for (int v = 0; v < NV; v++) {
		if (LOAD(s->token[v]) && s->tracked) {
			fail(F_ONCE, "receiver %d vector %d: a post was lost (%u sent, %u handled, %u read%s)",
			     self->slot, v, s->sent[v], s->handled[v], s->readc[v],
			     s->ever_polled ? ", polled" : "");
		} else if (s->tracked && s->sent[v] != s->handled[v] + s->readc[v]) {
			fail(F_ONCE, "receiver %d vector %d: %u sent, %u handled, %u read",
			     self->slot, v, s->sent[v], s->handled[v], s->readc[v]);
		}
	}
	if (XCHG(s->draining, 0))
		ADD(S->ndying, -1);
}

/* End this thread's receiver: drain, then unregister or leave it to exit. */
static void end_receiver(bool unregister)
{
	int slot = self->slot;
	long ret;
	int err;

	if (slot < 0)
		return;
	retire();
	if (unregister) {
		ret = ioctl(P.dev, UINTR_UNREGISTER_HANDLER, 0);
		err = errno;
		if (expect1("UNREGISTER_HANDLER", ret, err, FZ_OK)) {
			STORE(S->slots[slot].state, SL_DEAD);
			ADD(S->ev[EV_UNREGISTERED], 1);
		}
	} else {
		/* The kernel ends it when the thread exits. */
		STORE(S->slots[slot].state, SL_EXITED);
	}
	tls_slot = -1;
	self->slot = -1;
	self->wake = false;
}

/* ---- Operations: the handler ------------------------------------------- */

static void op_register_handler(void)
{
	struct fz_errset allow = { 0 };
	struct uintr_handler_args h;
	int held, dev = dev_pick(R(1), &held), slot;
	char what[160];
	long ret;
	int err;

	if (fz_below(R(2), 4) == 0) {
		/* Invalid arguments. */
		fz_handler_args(&h, R(3), R(4), (uintptr_t)fuzz_handler,
				(uintptr_t)self->alt_top, self->slot >= 0, &allow);
		if (fz_allowed(&allow, FZ_OK))
			goto out;
		ret = ioctl(dev, UINTR_REGISTER_HANDLER, &h);
		err = errno;
		snprintf(what, sizeof(what),
			 "REGISTER_HANDLER handler %#llx stack %#llx flags %#x reserved %#x",
			 (unsigned long long)h.handler, (unsigned long long)h.stack, h.flags,
			 h.reserved);
		expect(what, ret, err, &allow);
		goto out;
	}
	h = (struct uintr_handler_args){ .handler = (uintptr_t)fuzz_handler };
	if (fz_below(R(3), 2)) {
		h.flags = UINTR_HANDLER_ALT_STACK;
		h.stack = (uintptr_t)self->alt_top;
	}
	/* Posts interrupt its system calls, with or without restarts. */
	if (fz_below(R(6), 3) == 0)
		h.flags |= UINTR_HANDLER_WAKE |
			   (fz_below(R(7), 2) ? UINTR_HANDLER_RESTART : 0);
	if (self->slot >= 0) {
		ret = ioctl(dev, UINTR_REGISTER_HANDLER, &h);
		err = errno;
		expect1("REGISTER_HANDLER twice", ret, err, EBUSY);
		goto out;
	}
	slot = slot_alloc();
	if (slot < 0)
		goto out;
	tls_slot = slot;
	ret = ioctl(dev, UINTR_REGISTER_HANDLER, &h);
	err = errno;
	if (!expect1("REGISTER_HANDLER", ret, err, FZ_OK)) {
		tls_slot = -1;
		STORE(S->slots[slot].state, SL_DEAD);
		goto out;
	}
	self->slot = slot;
	self->alt = h.flags & UINTR_HANDLER_ALT_STACK;
	self->wake = h.flags & UINTR_HANDLER_WAKE;
	STORE(S->slots[slot].state, SL_LIVE);
	ADD(S->ev[EV_RECEIVERS], 1);
	if (fz_below(R(5), 4))
		_stui();
out:
	dev_put(held);
}

static void op_unregister_handler(void)
{
	int held, dev = dev_pick(R(1), &held);
	unsigned long arg = fz_below(R(2), 4) ? 0 : R(3) | 1;
	long ret;
	int err;

	if (arg || self->slot < 0) {
		ret = ioctl(dev, UINTR_UNREGISTER_HANDLER, arg);
		err = errno;
		expect1(arg ? "UNREGISTER_HANDLER with an argument" :
			"UNREGISTER_HANDLER without a handler", ret, err, EINVAL);
	} else {
		end_receiver(true);
	}
	dev_put(held);
}

/* ---- Operations: vector fds ----------------------------------------- */

static void op_create_vector_fd(void)
{
	struct uintr_vector_args v = {
		.vector = (uint32_t)fz_below(R(1), NV),
		.flags = fz_below(R(2), 2) ? UINTR_VECTOR_FD_POLL : 0,
	};
	int held, dev = dev_pick(R(3), &held);
	char what[96];
	long ret;
	int err;

	if (fz_below(R(4), 5) == 0) {
		v.vector = fz_vector(R(5));
		v.flags = fz_flags(R(6), UINTR_VECTOR_FD_POLL);
	}
	snprintf(what, sizeof(what), "CREATE_VECTOR_FD vector %u flags %#x", v.vector, v.flags);
	if (self->slot < 0 || v.vector >= NV || v.flags & ~UINTR_VECTOR_FD_POLL) {
		ret = ioctl(dev, UINTR_CREATE_VECTOR_FD, &v);
		err = errno;
		expect1(what, ret, err, EINVAL);
		if (ret >= 0)
			close((int)ret);
		goto out;
	}
	if (v.flags)
		STORE(S->slots[self->slot].ever_polled, 1);
	ret = ioctl(dev, UINTR_CREATE_VECTOR_FD, &v);
	err = errno;
	if (!expect1(what, ret, err, FZ_OK))
		goto out;
	if (!(fcntl((int)ret, F_GETFD) & FD_CLOEXEC))
		fail(F_RESULT, "%s: the fd is not close-on-exec", what);
	if (fz_below(R(7), 4))
		fcntl((int)ret, F_SETFL, O_NONBLOCK);
	ADD(S->ev[EV_VECTOR_FDS], 1);
	if (v.flags)
		ADD(S->ev[EV_POLLED_FDS], 1);
	fd_add((int)ret, FD_VEC, self->slot, (int)v.vector, !!v.flags);
out:
	dev_put(held);
}

/* ---- Operations: the UITT ------------------------------------------------ */

/* Record a new entry @idx for @slot/@vector. */
static void entry_add(long idx, int slot, int vector, const char *what)
{
	ADD(S->ev[EV_ENTRIES], 1);
	pthread_mutex_lock(&P.lock);
	/* The kernel may hand out an index whose removal is being recorded. */
	while (idx < NE && P.uitt[idx].state == E_REMOVING) {
		pthread_mutex_unlock(&P.lock);
		sched_yield();
		pthread_mutex_lock(&P.lock);
	}
	if (idx >= NE || P.uitt[idx].state != E_FREE) {
		pthread_mutex_unlock(&P.lock);
		fail(F_RESULT, "%s returned index %ld, which is in use", what, idx);
		return;
	}
	P.uitt[idx] = (struct entry){ .state = E_VALID, .slot = slot, .vector = vector };
	P.uitt_used++;
	pthread_mutex_unlock(&P.lock);
}

/*
 * With P.lock held: if the last sender ended, wait until it left the
 * kernel, which took the table and every entry with it.
 */
static void uitt_settle(void)
{
	char path[64];

	while (P.drain_tid) {
		snprintf(path, sizeof(path), "/proc/self/task/%d", P.drain_tid);
		if (access(path, F_OK)) {
			P.drain_tid = 0;
			for (int i = 0; i < NE; i++) {
				if (P.uitt[i].state == E_VALID) {
					P.uitt[i].state = E_FREE;
					P.uitt_used--;
				}
			}
			break;
		}
		pthread_mutex_unlock(&P.lock);
		usleep(1000);
		pthread_mutex_lock(&P.lock);
	}
}

/* A thread that is a sender ends; the last one takes the table. */
static void sender_end(void)
{
	if (!self->sender)
		return;
	pthread_rwlock_wrlock(&P.uitt_rw);
	pthread_mutex_lock(&P.lock);
	if (--P.users == 0)
		P.drain_tid = gettid();
	pthread_mutex_unlock(&P.lock);
	pthread_rwlock_unlock(&P.uitt_rw);
	self->sender = false;
}

/*
 * Begin and end a registration; returns whether the UITT may be full.
 * Holding uitt_rw for reading keeps the last sender from ending under way.
 */
static bool reg_begin(void)
{
	bool full;

	pthread_rwlock_rdlock(&P.uitt_rw);
	pthread_mutex_lock(&P.lock);
	uitt_settle();
	full = P.uitt_used + P.uitt_pending >= NE;
	P.uitt_pending++;
	pthread_mutex_unlock(&P.lock);
	return full;
}

/* The kernel made the caller a sender if the call got as far as the table. */
static void reg_end(long ret, int err)
{
	pthread_mutex_lock(&P.lock);
	P.uitt_pending--;
	if ((ret >= 0 || err == ENOSPC) && !self->sender) {
		self->sender = true;
		P.users++;
	}
	pthread_mutex_unlock(&P.lock);
	pthread_rwlock_unlock(&P.uitt_rw);
}

static void op_register_sender(void)
{
	struct uintr_sender_args s = { 0 };
	struct fz_errset allow = { 0 };
	int held, dev = dev_pick(R(1), &held), i = -1, slot = -1;
	char what[128];
	bool full;
	long ret;
	int err;

	if (fz_below(R(2), 6)) {
		i = fd_pick(R(3), FD_VEC, false);
		if (i < 0)
			goto out;
		s.fd = P.fds[i].fd;
		slot = P.fds[i].slot;
	} else {
		/* Not a vector fd. */
		switch (fz_below(R(3), 4)) {
		case 0:
			s.fd = P.dev;
			fz_allow(&allow, EINVAL);
			break;
		case 1:
			s.fd = shm_fd;
			fz_allow(&allow, EINVAL);
			break;
		case 2:
			s.fd = -1 - (int)fz_below(R(4), 1000);
			fz_allow(&allow, EBADF);
			break;
		default:
			s.fd = FAR_FD + (int)fz_below(R(4), 100);
			fz_allow(&allow, EBADF);
			break;
		}
	}
	if (fz_below(R(5), 8) == 0) {
		s.flags = fz_flags(R(6), 0) | 1;
		fz_allow(&allow, EINVAL);
	}
	full = reg_begin();
	if (full)
		fz_allow(&allow, ENOSPC);
	/* Gone before the call: ESRCH for sure; gone after: maybe. */
	if (slot >= 0 && !s.flags && !surely_gone(slot))
		fz_allow(&allow, FZ_OK);
	ret = ioctl(dev, UINTR_REGISTER_SENDER, &s);
	err = errno;
	if (slot >= 0 && maybe_gone(slot))
		fz_allow(&allow, ESRCH);
	snprintf(what, sizeof(what), "REGISTER_SENDER fd %d (%s of receiver %d) flags %#x", s.fd,
		 slot >= 0 ? "vector fd" : "not a vector fd", slot, s.flags);
	if (expect(what, ret, err, &allow) && slot >= 0)
		entry_add(ret, slot, P.fds[i].vector, what);
	reg_end(ret, err);
	if (i >= 0)
		fd_put(i);
out:
	dev_put(held);
}

static void op_register_self(void)
{
	struct uintr_self_args a = { .vector = (uint32_t)fz_below(R(1), NV) };
	struct fz_errset allow = { 0 };
	int held, dev = dev_pick(R(2), &held);
	char what[96];
	long ret;
	int err;

	if (fz_below(R(3), 5) == 0) {
		a.vector = fz_vector(R(4));
		a.flags = fz_flags(R(5), 0);
	}
	if (self->slot < 0 || a.vector >= NV || a.flags)
		fz_allow(&allow, EINVAL);
	else
		fz_allow(&allow, FZ_OK);
	if (reg_begin())
		fz_allow(&allow, ENOSPC);
	snprintf(what, sizeof(what), "REGISTER_SELF vector %u flags %#x", a.vector, a.flags);
	ret = ioctl(dev, UINTR_REGISTER_SELF, &a);
	err = errno;
	if (expect(what, ret, err, &allow))
		entry_add(ret, self->slot, (int)a.vector, what);
	reg_end(ret, err);
	dev_put(held);
}

static void op_unregister_sender(void)
{
	int held, dev = dev_pick(R(1), &held);
	int start = (int)fz_below(R(2), NE), idx = -1;
	bool dead_first = fz_below(R(3), 2);
	char what[96];
	long ret;
	int err;

	if (fz_below(R(4), 4) == 0) {
		/* An index not in use: nothing may register meanwhile. */
		unsigned long bad;

		pthread_rwlock_wrlock(&P.uitt_rw);
		if (fz_below(R(5), 2)) {
			bad = NE + fz_below(R(6), 1000);
			if (fz_below(R(7), 4) == 0)
				bad = R(6) | (1ULL << 63);
		} else {
			bad = ~0UL;
			pthread_mutex_lock(&P.lock);
			for (int n = 0; n < NE; n++) {
				if (P.uitt[(start + n) % NE].state == E_FREE) {
					bad = (start + n) % NE;
					break;
				}
			}
			pthread_mutex_unlock(&P.lock);
		}
		ret = ioctl(dev, UINTR_UNREGISTER_SENDER, bad);
		err = errno;
		snprintf(what, sizeof(what), "UNREGISTER_SENDER of unused index %#lx", bad);
		expect1(what, ret, err, EINVAL);
		pthread_rwlock_unlock(&P.uitt_rw);
		goto out;
	}
	/*
	 * An entry in use, made by any thread: wait for its senders.  The
	 * last sender cannot end meanwhile (uitt_rw), so the table stays.
	 */
	pthread_rwlock_rdlock(&P.uitt_rw);
	pthread_mutex_lock(&P.lock);
	uitt_settle();
	for (int pass = 0; pass < 2 && idx < 0; pass++) {
		for (int n = 0; n < NE; n++) {
			struct entry *e = &P.uitt[(start + n) % NE];

			if (e->state != E_VALID)
				continue;
			if (pass == 0 && dead_first && !maybe_gone(e->slot))
				continue;
			idx = (start + n) % NE;
			e->state = E_REMOVING;
			break;
		}
	}
	pthread_mutex_unlock(&P.lock);
	if (idx < 0) {
		pthread_rwlock_unlock(&P.uitt_rw);
		goto out;
	}
	while (LOAD(P.uitt[idx].users))
		sched_yield();
	ret = ioctl(dev, UINTR_UNREGISTER_SENDER, (unsigned long)idx);
	err = errno;
	snprintf(what, sizeof(what), "UNREGISTER_SENDER of index %d in use (%s)", idx,
		 self->sender ? "by a sender" : "by a thread that is no sender");
	pthread_mutex_lock(&P.lock);
	if (expect1(what, ret, err, FZ_OK)) {
		P.uitt[idx].state = E_FREE;
		P.uitt_used--;
	} else {
		P.uitt[idx].state = E_VALID;
	}
	pthread_mutex_unlock(&P.lock);
	pthread_rwlock_unlock(&P.uitt_rw);
out:
	dev_put(held);
}

/* ---- Operations: sending ------------------------------------------------- */

/*
 * Take a use of a valid entry, starting at a random place, mostly one of
 * a live receiver; -1 if none.
 */
static int entry_pick(uint64_t r)
{
	int start = (int)fz_below(r, NE), idx = -1;
	bool live = fz_below(r >> 8, 8) != 0;

	pthread_mutex_lock(&P.lock);
	for (int pass = live ? 0 : 1; pass < 2 && idx < 0; pass++) {
		for (int n = 0; n < NE; n++) {
			struct entry *e = &P.uitt[(start + n) % NE];

			if (e->state != E_VALID || (pass == 0 && maybe_gone(e->slot)))
				continue;
			idx = (start + n) % NE;
			e->users++;
			break;
		}
	}
	pthread_mutex_unlock(&P.lock);
	return idx;
}

static void entry_put(int idx)
{
	pthread_mutex_lock(&P.lock);
	P.uitt[idx].users--;
	pthread_mutex_unlock(&P.lock);
}

/* One post through valid entry @idx (a use held). */
static void send_one(int idx)
{
	struct entry e = P.uitt[idx];
	struct slot *s = &S->slots[e.slot];
	int sig;

	if (!self->sender) {
		/* The process has the entry, this thread never registered. */
		sig = send_catch(idx);
		if (sig != SIGILL)
			fail(F_FAULT, "SENDUIPI %d by a thread that is no sender: signal %d, not SIGILL",
			     idx, sig);
		else
			ADD(S->ev[EV_SIGILL], 1);
		return;
	}
	if (surely_gone(e.slot)) {
		/* Harmless: nobody listens to that UPID any more. */
		sig = send_catch(idx);
		if (sig)
			fail(F_FAULT, "SENDUIPI %d to gone receiver %d: signal %d", idx, e.slot,
			     sig);
		else
			ADD(S->ev[EV_SENT_GONE], 1);
		return;
	}
	if (P.killable && s->tracked)
		return;		/* a killed sender would leave its token out */
	ADD(s->inflight, 1);
	if (LOAD(s->state) != SL_LIVE || doomed(e.slot)) {
		ADD(s->inflight, -1);
		ADD(S->ev[EV_SEND_DEAD], 1);
		return;
	}
	if (XCHG(s->token[e.vector], 1)) {
		/* One is outstanding; a second would coalesce with it. */
		ADD(s->inflight, -1);
		ADD(S->ev[EV_SEND_BUSY], 1);
		return;
	}
	ADD(s->sent[e.vector], 1);
	sig = send_catch(idx);
	if (sig) {
		fail(F_FAULT, "SENDUIPI %d through a valid entry (receiver %d vector %d): signal %d",
		     idx, e.slot, e.vector, sig);
		ADD(s->sent[e.vector], -1);
		STORE(s->token[e.vector], 0);
	} else {
		ADD(S->ev[EV_SENT], 1);
	}
	ADD(s->inflight, -1);
}

static void op_send(void)
{
	int n = 1 + (int)fz_below(R(1), 4);

	/* A thread that is no sender mostly becomes one first. */
	if (!self->sender && fz_below(R(6), 4)) {
		if (fz_below(R(7), 4) && self->slot >= 0)
			op_register_self();
		else
			op_register_sender();
		return;
	}

	for (int k = 0; k < n; k++) {
		int idx = entry_pick(R(2 + k));

		if (idx < 0)
			return;
		send_one(idx);
		entry_put(idx);
	}
}

/*
 * One post to @slot/@vector by writing @efd, which a watch of @vector's
 * fd watches: the same accounting as a SENDUIPI.  With @detached, the
 * watch's handle is closed: the write must post nothing.
 */
static void watch_post(int slot, int vector, int efd, bool detached)
{
	struct slot *s = &S->slots[slot];
	uint64_t one = 1;

	if (detached || surely_gone(slot)) {
		/* Nothing may arrive: no watch, or nobody listening. */
		if (write(efd, &one, sizeof(one)) != sizeof(one))
			fail(F_RESULT, "write of a watched eventfd: %s", ename(errno));
		return;
	}
	if (P.killable && s->tracked)
		return;		/* a killed writer would leave its token out */
	ADD(s->inflight, 1);
	if (LOAD(s->state) != SL_LIVE || doomed(slot)) {
		ADD(s->inflight, -1);
		ADD(S->ev[EV_SEND_DEAD], 1);
		return;
	}
	if (XCHG(s->token[vector], 1)) {
		/* One is outstanding; a second would coalesce with it. */
		ADD(s->inflight, -1);
		ADD(S->ev[EV_SEND_BUSY], 1);
		return;
	}
	ADD(s->sent[vector], 1);
	if (write(efd, &one, sizeof(one)) != sizeof(one)) {
		fail(F_RESULT, "write of a watched eventfd: %s", ename(errno));
		ADD(s->sent[vector], -1);
		STORE(s->token[vector], 0);
	} else {
		ADD(S->ev[EV_SENT], 1);
		ADD(S->ev[EV_WATCH_POSTS], 1);
	}
	ADD(s->inflight, -1);
}

/*
 * UINTR_WATCH_FD: an eventfd watched for a vector fd's vector, written a
 * few times, each write one post; then the handle is closed and the
 * eventfd written once more, which must post nothing.
 */
static void op_watch(void)
{
	struct fz_errset allow = { 0 };
	struct uintr_watch_args w = { .events = EPOLLIN };
	int held, dev = dev_pick(R(1), &held), i, efd, h, err;
	struct fdrec f;
	char what[96];

	i = fd_pick(R(2), FD_VEC, false);
	if (i < 0)
		goto out;
	f = P.fds[i];
	efd = eventfd(0, EFD_CLOEXEC);
	if (efd < 0) {
		fd_put(i);
		goto out;
	}
	w.source_fd = efd;
	w.vector_fd = f.fd;
	if (!surely_gone(f.slot))
		fz_allow(&allow, FZ_OK);
	/* No fork may copy the handle: its close must detach the watch. */
	pthread_mutex_lock(&P.lock);
	h = ioctl(dev, UINTR_WATCH_FD, &w);
	err = errno;
	if (maybe_gone(f.slot))
		fz_allow(&allow, ESRCH);
	snprintf(what, sizeof(what), "WATCH_FD of receiver %d vector %d", f.slot, f.vector);
	if (expect(what, h, err, &allow) && h >= 0) {
		int n = 1 + (int)fz_below(R(3), 3);

		struct slot *s = &S->slots[f.slot];

		for (int k = 0; k < n; k++)
			watch_post(f.slot, f.vector, efd, false);
		close(h);
		pthread_mutex_unlock(&P.lock);
		/*
		 * Once the last post is taken, a stray one could not merge
		 * with it: it would arrive with no post outstanding.
		 */
		for (int t = 0; t < 50 && LOAD(s->token[f.vector]); t++)
			usleep(1000);
		watch_post(f.slot, f.vector, efd, true);
	} else {
		if (h >= 0)
			close(h);
		pthread_mutex_unlock(&P.lock);
	}
	close(efd);
	fd_put(i);
out:
	dev_put(held);
}

static void op_send_stale(void)
{
	uint64_t idx = NE + fz_below(R(1), 1000);
	int sig, want = self->sender ? SIGSEGV : SIGILL;

	switch (fz_below(R(2), 4)) {
	case 0:
		idx = R(3) | (1ULL << 63);
		break;
	case 1:
		idx = ~0ULL;
		break;
	default:
		/* An unused index, while nothing registers. */
		pthread_rwlock_wrlock(&P.uitt_rw);
		pthread_mutex_lock(&P.lock);
		for (int n = 0, start = (int)fz_below(R(4), NE); n < NE; n++) {
			if (P.uitt[(start + n) % NE].state == E_FREE) {
				idx = (start + n) % NE;
				break;
			}
		}
		pthread_mutex_unlock(&P.lock);
		sig = send_catch(idx);
		pthread_rwlock_unlock(&P.uitt_rw);
		goto check;
	}
	sig = send_catch(idx);
check:
	if (sig != want)
		fail(F_FAULT, "SENDUIPI %#llx (no valid entry, %s): signal %d, not %d",
		     (unsigned long long)idx, self->sender ? "a sender" : "no sender", sig, want);
	else
		ADD(S->ev[sig == SIGSEGV ? EV_SIGSEGV : EV_SIGILL], 1);
}

/* ---- Operations: bad ioctls -------------------------------------------- */

static void op_bad_ioctl(void)
{
	static const size_t sizes[] = { 24, 0, 8, 8, 0, 8, 16, 16, 24 };

	_Static_assert(ARRAY_SIZE(sizes) == FZ_NCMDS, "one size per command");
	struct fz_errset allow = { 0 };
	int which = (int)fz_below(R(1), 5), c = (int)fz_below(R(2), FZ_NCMDS), i = -1;
	unsigned long cmd = fz_cmds[c];
	void *arg;
	char what[128];
	long ret;
	int err;

	arg = fz_ptr(&arena, 1 + (int)fz_below(R(3), FZ_PTR_KINDS - 1), sizes[c] ?: 8, R(4));
	switch (which) {
	case 0:			/* an unknown command */
		cmd = fz_random_cmd(R(5), R(6));
		fz_allow(&allow, ENOTTY);
		ret = ioctl(P.dev, cmd, arg);
		err = errno;
		break;
	case 1:			/* a device command on a vector fd */
		i = fd_pick(R(5), FD_VEC, false);
		if (i < 0)
			return;
		fz_allow(&allow, ENOTTY);
		ret = ioctl(P.fds[i].fd, cmd, arg);
		err = errno;
		fd_put(i);
		break;
	case 2:			/* on no file */
		fz_allow(&allow, EBADF);
		ret = ioctl(FAR_FD + (int)fz_below(R(5), 100), cmd, arg);
		err = errno;
		break;
	default:		/* an unreadable argument */
		if (!sizes[c])
			return;
		fz_allow(&allow, EFAULT);
		if (cmd == UINTR_REGISTER_HANDLER && self->slot >= 0)
			fz_allow(&allow, EBUSY);
		if (self->slot < 0 && (cmd == UINTR_CREATE_VECTOR_FD ||
				       cmd == UINTR_REGISTER_SELF || cmd == UINTR_WAIT))
			fz_allow(&allow, EINVAL);
		ret = ioctl(P.dev, cmd, arg);
		err = errno;
		break;
	}
	snprintf(what, sizeof(what), "bad ioctl (%d) %#lx arg %p", which, cmd, arg);
	expect(what, ret, err, &allow);
}

/* ---- Operations: waiting ------------------------------------------------- */

/*
 * UINTR_WAIT with @w, the thread marked as waiting for the signallers;
 * check the result.
 */
static void do_wait(struct uintr_wait_args *w, bool valid, const char *what)
{
	struct fz_errset allow = { 0 };
	unsigned long handled0 = tls_handled;
	unsigned long sig0 = tls_sig_norestart + tls_sig_restart;
	bool uif = _testui(), polled;
	long ret;
	int err;

	STORE(S->trecs[self->rec].in_wait, 1);
	ret = ioctl(P.dev, UINTR_WAIT, w);
	err = errno;
	STORE(S->trecs[self->rec].in_wait, 0);
	report_handler();
	if (!valid || self->slot < 0) {
		expect1(what, ret, err, EINVAL);
		return;
	}
	fz_allow(&allow, FZ_OK);
	if (w->flags & UINTR_WAIT_TIMEOUT)
		fz_allow(&allow, ETIMEDOUT);
	/*
	 * EINTR only when a signal handler ran, with or without SA_RESTART
	 * (uapi.md: a wait with a deadline is not restarted after a handler,
	 * as epoll_wait() and nanosleep() are not); a stop restarts it.
	 */
	if (tls_sig_norestart + tls_sig_restart != sig0)
		fz_allow(&allow, EINTR);
	expect(what, ret, err, &allow);
	polled = LOAD(S->slots[self->slot].ever_polled);
	if (ret == 0) {
		ADD(S->ev[EV_WAIT_POSTED], 1);
		/* A post not counted on a fd reaches the handler before we go on. */
		if (uif && !polled && tls_handled == handled0)
			fail(F_RESULT, "%s returned 0 but the handler did not run", what);
	} else if (err == ETIMEDOUT) {
		ADD(S->ev[EV_WAIT_TIMEDOUT], 1);
	} else if (err == EINTR) {
		ADD(S->ev[EV_WAIT_EINTR], 1);
	}
}

static void op_wait(void)
{
	struct uintr_wait_args w = {
		.timeout_ns = (int64_t)fz_below(R(1), 20000000),
		.flags = UINTR_WAIT_TIMEOUT,
	};
	bool valid = true, blocks;

	if (fz_below(R(2), 6) == 0) {
		valid = fz_wait_args(&w, R(3), 20000000, &blocks);
		if (valid && blocks)
			return;
	}
	do_wait(&w, valid, "UINTR_WAIT");
}

/* Wait without a timeout; a timer signal without SA_RESTART ends it. */
static void op_wait_signal(void)
{
	struct uintr_wait_args w = { 0 };

	if (self->slot < 0)
		return;
	arm_timer(1000 + (long)fz_below(R(1), 30000));
	do_wait(&w, true, "UINTR_WAIT without a timeout");
	arm_timer(0);
}

/* ---- Operations: reading and polling ----------------------------------- */

static void op_read(bool blocking)
{
	int i = fd_pick(R(1), FD_VEC, fz_below(R(2), 4) != 0);
	size_t len = 8;
	int bad = 0;

	if (i < 0)
		return;
	if (blocking != !P.fds[i].nb)
		goto out;
	switch (fz_below(R(3), 8)) {
	case 0:
		len = fz_below(R(4), 8);
		break;
	case 1:
		len = 9 + fz_below(R(4), 64);
		break;
	case 2:
		bad = 1 + (int)fz_below(R(4), FZ_PTR_KINDS - 1);
		break;
	default:
		break;
	}
	read_vec(i, bad, len, R(5));
out:
	fd_put(i);
}

static void op_poll(void)
{
	struct pollfd pfd[4];
	int idx[4], n = 0, ret;
	bool dead0[4];

	for (int k = 0; k < 4; k++) {
		int i = fd_pick(R(1 + k), FD_VEC, false);

		if (i < 0)
			break;
		for (int j = 0; j < n; j++) {
			if (idx[j] == i) {
				fd_put(i);
				i = -1;
				break;
			}
		}
		if (i < 0)
			continue;
		idx[n] = i;
		dead0[n] = surely_gone(P.fds[i].slot);
		pfd[n++] = (struct pollfd){ .fd = P.fds[i].fd, .events = POLLIN };
	}
	if (!n)
		return;
	ret = poll(pfd, n, (int)fz_below(R(5), 10));
	for (int k = 0; ret >= 0 && k < n; k++) {
		struct fdrec *f = &P.fds[idx[k]];

		if (pfd[k].revents & POLLIN && !f->polled)
			fail(F_RESULT, "poll: POLLIN on a plain vector fd of receiver %d", f->slot);
		if (pfd[k].revents & POLLHUP && !maybe_gone(f->slot))
			fail(F_RESULT, "poll: POLLHUP while receiver %d lives", f->slot);
		if (!(pfd[k].revents & POLLHUP) && dead0[k])
			fail(F_RESULT, "poll: no POLLHUP though receiver %d is gone", f->slot);
		if (pfd[k].revents & ~(POLLIN | POLLRDNORM | POLLHUP))
			fail(F_RESULT, "poll: revents %#x", pfd[k].revents);
		if (pfd[k].revents & POLLIN && f->polled)
			read_vec(idx[k], 0, 8, R(6));
	}
	for (int k = 0; k < n; k++)
		fd_put(idx[k]);
}

static void op_epoll(void)
{
	struct epoll_event ev[4];
	int n;

	if (self->epfd < 0)
		self->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (self->epfd < 0)
		return;
	if (fz_below(R(1), 3) == 0) {
		int i = fd_pick(R(2), FD_VEC, true);
		struct epoll_event e = { .events = EPOLLIN };

		if (i < 0)
			return;
		e.data.u64 = (uint64_t)i << 32 | P.fds[i].gen;
		if (epoll_ctl(self->epfd, EPOLL_CTL_ADD, P.fds[i].fd, &e) && errno != EEXIST)
			fail(F_RESULT, "epoll_ctl(ADD) of a counting fd: %s", ename(errno));
		fd_put(i);
		return;
	}
	n = epoll_wait(self->epfd, ev, 4, (int)fz_below(R(3), 10));
	for (int k = 0; k < n; k++) {
		int i = (int)(ev[k].data.u64 >> 32);
		bool same;

		pthread_mutex_lock(&P.lock);
		same = P.fds[i].used && P.fds[i].gen == (uint32_t)ev[k].data.u64;
		if (same)
			P.fds[i].busy++;
		pthread_mutex_unlock(&P.lock);
		if (!same)
			continue;	/* closed here, still open elsewhere */
		if (ev[k].events & EPOLLIN)
			read_vec(i, 0, 8, R(4 + k));
		fd_put(i);
	}
}

/* ---- Operations: fds ---------------------------------------------------- */

static void op_close(void)
{
	int i = fd_pick(R(1), FD_VEC | FD_DEV, false);

	if (i >= 0)
		fd_close(i);
}

static void op_dup(void)
{
	int i = fd_pick(R(1), FD_VEC | FD_DEV, false), fd;
	struct fdrec f;

	if (i < 0)
		return;
	f = P.fds[i];
	fd = fz_below(R(2), 2) ? fcntl(f.fd, F_DUPFD_CLOEXEC, 3) : dup(f.fd);
	if (fd >= 0)
		fd_add(fd, f.kind, f.slot, f.vector, f.polled);
	fd_put(i);
}

struct passed {
	int kind, slot, vector, polled;
};

static void op_pass(void)
{
	int w = (int)fz_below(R(1), S->nworkers);
	int i = fd_pick(R(2), FD_VEC | FD_DEV, false);
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct passed m;
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	if (i < 0)
		return;
	m = (struct passed){ P.fds[i].kind, P.fds[i].slot, P.fds[i].vector, P.fds[i].polled };
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &P.fds[i].fd, sizeof(int));
	if (sendmsg(S->mbox_tx[w], &mh, MSG_DONTWAIT) == sizeof(m)) {
		ADD(S->ev[EV_PASSED], 1);
		/* Sometimes it goes: the message may hold the only reference. */
		if (fz_below(R(3), 3) == 0) {
			fd_close(i);
			return;
		}
	}
	fd_put(i);
}

static void recv_passed(bool all)
{
	do {
		char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
		struct passed m;
		struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
		};
		struct cmsghdr *c;
		int fd;

		if (recvmsg(P.mailbox, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) != sizeof(m))
			return;
		c = CMSG_FIRSTHDR(&mh);
		if (!c || c->cmsg_type != SCM_RIGHTS)
			continue;
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
		ADD(S->ev[EV_RECEIVED], 1);
		fd_add(fd, m.kind, m.slot, m.vector, m.polled);
	} while (all);
}

static void op_open_dev(void)
{
	int fd = open(UINTR_DEV, O_RDWR | (fz_below(R(1), 2) ? O_CLOEXEC : 0));

	if (fd < 0)
		fail(F_RESULT, "open " UINTR_DEV ": %s", ename(errno));
	else
		fd_add(fd, FD_DEV, -1, -1, 0);
}

/* ---- Threads and processes ------------------------------------------ */

static void thread_loop(void);
static void thread_end(bool unregister);
static __noreturn void process_end(void);
static void thread_setup(struct thr *t);

static void *thread_main(void *arg)
{
	char alt[ALT_STACK_SIZE];
	struct thr *t = arg;

	t->alt_top = stack_top(alt, sizeof(alt));
	thread_setup(t);
	thread_loop();
	thread_end(fz_below(R(0), 2));
	sender_end();
	free(t);
	ADD(P.running, -1);
	return NULL;
}

static void op_thread_create(void)
{
	struct thr *t;
	pthread_attr_t attr;
	pthread_t th;

	if (LOAD(P.running) + 1 >= MAX_THREADS)
		return;
	t = calloc(1, sizeof(*t));
	if (!t)
		return;
	t->id = fz_child_id(self->id, 't', self->spawned++);
	ADD(P.running, 1);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	if (pthread_create(&th, &attr, thread_main, t)) {
		ADD(P.running, -1);
		free(t);
	} else {
		ADD(S->ev[EV_THREADS], 1);
	}
	pthread_attr_destroy(&attr);
}

/* The state a new process (fork child or new image) starts from. */
static void process_reset(uint64_t id, int rec, int killable, int depth)
{
	pthread_mutex_init(&P.lock, NULL);
	pthread_rwlock_init(&P.uitt_rw, NULL);
	P.id = id;
	P.rec = rec;
	P.killable = killable;
	P.depth = depth;
	P.stopping = 0;
	P.running = 0;
	memset(P.uitt, 0, sizeof(P.uitt));
	P.uitt_used = 0;
	P.uitt_pending = 0;
	P.users = 0;
	P.drain_tid = 0;
	P.nchildren = 0;
	P.reserved = 0;
	for (int i = 0; i < MAX_FDS; i++)
		P.fds[i].busy = 0;
	S->procs[rec].pid = getpid();
}

/*
 * What a new process checks first: it inherits no receiver and no UITT
 * (fork), or exec dropped them.
 */
static void check_no_state(const char *how, long idx)
{
	struct uintr_wait_args w = { .flags = UINTR_WAIT_TIMEOUT };
	long ret = ioctl(P.dev, UINTR_WAIT, &w);
	int err = errno, sig;

	expect1(how, ret, err, EINVAL);
	sig = send_catch(idx);
	if (sig != SIGILL)
		fail(F_FAULT, "%s: SENDUIPI %ld raised signal %d, not SIGILL", how, idx, sig);
}

/*
 * Reserve room for a child, if it may be made: room in the table, not too
 * many processes.  add_child() or child_unreserve() ends the reservation.
 */
static bool child_room(void)
{
	bool room;

	if (LOAD(S->nprocs) >= MAX_PROCS - 1 ||
	    LOAD(S->nlive) >= MAX_LIVE_PER_WORKER * S->nworkers)
		return false;
	pthread_mutex_lock(&P.lock);
	room = P.nchildren + P.reserved < MAX_CHILDREN && !P.killable && P.depth < MAX_DEPTH;
	if (room)
		P.reserved++;
	pthread_mutex_unlock(&P.lock);
	return room;
}

static void child_unreserve(void)
{
	pthread_mutex_lock(&P.lock);
	P.reserved--;
	pthread_mutex_unlock(&P.lock);
}

static void add_child(pid_t pid, int rec, int killable)
{
	pthread_mutex_lock(&P.lock);
	P.reserved--;
	P.children[P.nchildren++] = (struct child){ pid, rec, killable };
	pthread_mutex_unlock(&P.lock);
	ADD(S->nlive, 1);
}

static void op_fork(void)
{
	int killable = fz_below(R(1), 3) == 0, rec;
	uint64_t id = fz_child_id(self->id, 'f', self->forked++);
	long steps = 5 + (long)fz_below(R(2), 60);
	long idx = (long)fz_below(R(3), NE);
	pid_t pid;

	if (!child_room())
		return;
	rec = proc_alloc(killable);
	if (rec < 0) {
		child_unreserve();
		return;
	}
	pthread_mutex_lock(&P.lock);
	pid = fork();
	pthread_mutex_unlock(&P.lock);
	if (pid < 0) {
		STORE(S->procs[rec].state, PR_GONE);
		child_unreserve();
		return;
	}
	if (pid == 0) {
		/* This thread, alone, without receiver or UITT. */
		process_reset(id, rec, killable, P.depth + 1);
		if (P.mailbox >= 0)
			close(P.mailbox);
		P.mailbox = -1;
		tls_slot = -1;
		self->slot = -1;
		self->sender = false;
		self->main = true;
		self->max_steps = steps;
		self->step = 0;
		self->id = id;
		if (self->epfd >= 0)
			close(self->epfd);
		self->epfd = -1;
		self->has_timer = false;
		self->rec = trec_alloc();
		check_no_state("UINTR_WAIT in a forked child", idx);
		thread_loop();
		process_end();
	}
	S->procs[rec].pid = pid;
	ADD(S->ev[EV_FORKS], 1);
	add_child(pid, rec, killable);
}

static char self_exe[256];

static void op_exec(void)
{
	uint64_t id = fz_child_id(self->id, 'x', self->forked++);
	long steps = 5 + (long)fz_below(R(1), 40);
	int rec, vi = -1, keep_slot = -1, vfd = -1;
	long self_idx = -1;
	struct fdrec f = { 0 };
	pid_t pid;

	if (!child_room())
		return;
	rec = proc_alloc(0);
	if (rec < 0) {
		child_unreserve();
		return;
	}
	vi = fd_pick(R(2), FD_VEC, false);
	if (vi >= 0)
		f = P.fds[vi];
	pthread_mutex_lock(&P.lock);
	pid = fork();
	pthread_mutex_unlock(&P.lock);
	if (pid == 0) {
		char args[10][48], *argv[12];
		sigset_t set;
		int n = 0;

		process_reset(id, rec, 0, P.depth + 1);
		if (P.mailbox >= 0)
			close(P.mailbox);
		P.mailbox = -1;
		tls_slot = -1;
		self->slot = -1;
		self->sender = false;
		self->rec = trec_alloc();
		/* A receiver with an entry and posts, that exec ends. */
		if (fz_below(R(3), 2)) {
			struct uintr_handler_args h = { .handler = (uintptr_t)fuzz_handler };
			struct uintr_self_args a = { .vector = (uint32_t)fz_below(R(4), NV) };

			long ret = -1;
			int err = 0;

			keep_slot = slot_alloc();
			tls_slot = keep_slot;
			if (keep_slot >= 0) {
				ret = ioctl(P.dev, UINTR_REGISTER_HANDLER, &h);
				err = errno;
			}
			if (keep_slot >= 0 &&
			    expect1("REGISTER_HANDLER before exec", ret, err, FZ_OK)) {
				self->slot = keep_slot;
				STORE(S->slots[keep_slot].state, SL_LIVE);
				ADD(S->ev[EV_RECEIVERS], 1);
				_stui();
				self_idx = ioctl(P.dev, UINTR_REGISTER_SELF, &a);
				err = errno;
				if (expect1("REGISTER_SELF before exec", self_idx, err,
					    FZ_OK)) {
					self->sender = true;
					P.uitt[self_idx] = (struct entry){
						.state = E_VALID, .slot = keep_slot,
						.vector = (int)a.vector,
					};
					send_one((int)self_idx);
				}
				retire();
			}
		}
		if (vi >= 0) {
			vfd = f.fd;
			fcntl(vfd, F_SETFD, 0);
		}
		fcntl(P.dev, F_SETFD, 0);
		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		sigaddset(&set, SIGUSR2);
		sigprocmask(SIG_BLOCK, &set, NULL);
		trec_free(self->rec);
		snprintf(args[n++], 48, "uintr_fuzz");
		snprintf(args[n++], 48, "--exec-child");
		snprintf(args[n++], 48, "%d", shm_fd);
		snprintf(args[n++], 48, "%d", rec);
		snprintf(args[n++], 48, "%llu", (unsigned long long)id);
		snprintf(args[n++], 48, "%ld", steps);
		snprintf(args[n++], 48, "%d", keep_slot);
		snprintf(args[n++], 48, "%ld", self_idx < 0 ? (long)fz_below(R(5), NE) : self_idx);
		snprintf(args[n++], 48, "%d", P.dev);
		snprintf(args[n++], 48, "%d:%d:%d:%d", vfd, f.slot, f.vector, f.polled);
		for (int k = 0; k < n; k++)
			argv[k] = args[k];
		argv[n] = NULL;
		execv(self_exe, argv);
		fail(F_PROCESS, "exec %s: %s", self_exe, ename(errno));
		_exit(1);
	}
	if (vi >= 0)
		fd_put(vi);
	if (pid < 0) {
		STORE(S->procs[rec].state, PR_GONE);
		child_unreserve();
		return;
	}
	S->procs[rec].pid = pid;
	ADD(S->ev[EV_EXECS], 1);
	add_child(pid, rec, 0);
}

/* Check how child @c ended. */
static void child_ended(struct child *c, int status)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		goto gone;
	if (c->killable && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL &&
	    LOAD(S->procs[c->rec].state) == PR_DOOMED)
		goto gone;
	fail(F_PROCESS, "process %d (%s) ended with status %#x", c->pid,
	     c->killable ? "killable" : "not killable", status);
gone:
	proc_gone(c->rec);
	ADD(S->nlive, -1);
}

/* Reap the children that ended; with @wait, all of them, serving meanwhile. */
static void reap(bool wait)
{
	for (;;) {
		int n;

		pthread_mutex_lock(&P.lock);
		for (int k = 0; k < P.nchildren; k++) {
			struct child c = P.children[k];
			int status;

			if (waitpid(c.pid, &status, WNOHANG) != c.pid)
				continue;
			P.children[k--] = P.children[--P.nchildren];
			pthread_mutex_unlock(&P.lock);
			child_ended(&c, status);
			pthread_mutex_lock(&P.lock);
		}
		n = P.nchildren;
		pthread_mutex_unlock(&P.lock);
		if (!wait || !n)
			return;
		service(true);
		usleep(2000);
	}
}

/* Kill a killable child, or with @all every one of them. */
static void kill_child(uint64_t r, bool all)
{
	pthread_mutex_lock(&P.lock);
	for (int k = 0; k < P.nchildren; k++) {
		struct child *c = &P.children[(k + (int)fz_below(r, P.nchildren)) % P.nchildren];

		if (!c->killable || c->pid <= 1 || LOAD(S->procs[c->rec].state) != PR_ALIVE)
			continue;
		STORE(S->procs[c->rec].state, PR_DOOMED);
		kill(c->pid, SIGKILL);
		ADD(S->ev[EV_KILLS], 1);
		if (!all)
			break;
	}
	pthread_mutex_unlock(&P.lock);
}

/* A thread of another process (or any), preferring one in UINTR_WAIT. */
static int pick_trec(uint64_t r, bool other_process)
{
	int start = (int)fz_below(r, MAX_TRECS), any = -1;

	for (int n = 0; n < MAX_TRECS; n++) {
		struct trec *t = &S->trecs[(start + n) % MAX_TRECS];

		if (!LOAD(t->state) || !t->tid || (other_process && t->pid == getpid()))
			continue;
		if (LOAD(t->in_wait))
			return (start + n) % MAX_TRECS;
		if (any < 0)
			any = (start + n) % MAX_TRECS;
	}
	return any;
}

static void op_signal(void)
{
	int i = pick_trec(R(1), false);
	struct trec t;

	if (i < 0)
		return;
	t = S->trecs[i];
	if (t.pid > 0 && t.tid > 0 &&
	    !syscall(SYS_tgkill, t.pid, t.tid, fz_below(R(2), 2) ? SIGUSR1 : SIGUSR2))
		ADD(S->ev[EV_SIGNALS], 1);
}

static void op_stop_cont(void)
{
	int i = pick_trec(R(1), true);
	pid_t pid;

	if (i < 0 || P.killable)
		return;
	pid = S->trecs[i].pid;
	if (pid <= 1 || pid == getpid())
		return;
	if (kill(pid, SIGSTOP))
		return;
	usleep(1000 + (long)fz_below(R(2), 20000));
	kill(pid, SIGCONT);
	ADD(S->ev[EV_STOPS], 1);
}

static void op_uif(void)
{
	_clui();
	if (_testui())
		fail(F_RESULT, "TESTUI is 1 after CLUI");
	if (fz_below(R(1), 2))
		for (long k = (long)fz_below(R(2), 20000); k > 0; k--)
			__builtin_ia32_pause();
	else
		getppid();
	if (fz_below(R(3), 8) == 0)
		return;		/* UIF stays clear for a while */
	_stui();
	if (!_testui())
		fail(F_RESULT, "TESTUI is 0 after STUI");
}

static void op_affinity(void)
{
	cpu_set_t set;
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);

	CPU_ZERO(&set);
	switch (fz_below(R(1), 3)) {
	case 0:
		CPU_SET((int)fz_below(R(2), ncpu > 0 ? ncpu : 1), &set);
		break;
	default:
		for (int c = 0; c < ncpu && c < CPU_SETSIZE; c++)
			CPU_SET(c, &set);
		break;
	}
	sched_setaffinity(0, sizeof(set), &set);	/* an offline CPU: EINVAL */
}

/* ---- The loop --------------------------------------------------------- */

static int pick_op(uint64_t r)
{
	static unsigned int total;
	unsigned int x;

	if (!total)
		for (int i = 0; i < NOPS; i++)
			total += ops[i].weight;
	x = (unsigned int)fz_below(r, total);
	for (int i = 0; i < NOPS; i++) {
		if (x < ops[i].weight)
			return i;
		x -= ops[i].weight;
	}
	return OP_YIELD;
}

static void do_op(int op)
{
	switch (op) {
	case OP_REGISTER_HANDLER:
		op_register_handler();
		break;
	case OP_UNREGISTER_HANDLER:
		op_unregister_handler();
		break;
	case OP_CREATE_VECTOR_FD:
		op_create_vector_fd();
		break;
	case OP_REGISTER_SENDER:
		if (LOAD(P.uitt_used) > NE * 3 / 4 && fz_below(R(9), 2))
			op_unregister_sender();
		else
			op_register_sender();
		break;
	case OP_REGISTER_SELF:
		op_register_self();
		break;
	case OP_UNREGISTER_SENDER:
		op_unregister_sender();
		break;
	case OP_SEND:
		op_send();
		break;
	case OP_WATCH:
		op_watch();
		break;
	case OP_SEND_STALE:
		op_send_stale();
		break;
	case OP_BAD_IOCTL:
		op_bad_ioctl();
		break;
	case OP_WAIT:
		op_wait();
		break;
	case OP_WAIT_SIGNAL:
		op_wait_signal();
		break;
	case OP_READ:
		op_read(false);
		break;
	case OP_READ_BLOCKING:
		op_read(true);
		break;
	case OP_POLL:
		op_poll();
		break;
	case OP_EPOLL:
		op_epoll();
		break;
	case OP_CLOSE:
		op_close();
		break;
	case OP_DUP:
		op_dup();
		break;
	case OP_PASS:
		op_pass();
		break;
	case OP_RECV:
		if (P.mailbox >= 0)
			recv_passed(false);
		break;
	case OP_OPEN_DEV:
		op_open_dev();
		break;
	case OP_THREAD_CREATE:
		op_thread_create();
		break;
	case OP_THREAD_EXIT:
		if (!self->main)
			self->leave = true;
		break;
	case OP_FORK:
		op_fork();
		break;
	case OP_EXEC:
		op_exec();
		break;
	case OP_REAP:
		reap(false);
		break;
	case OP_KILL_CHILD:
		kill_child(R(1), false);
		break;
	case OP_SIGNAL:
		op_signal();
		break;
	case OP_STOP_CONT:
		op_stop_cont();
		break;
	case OP_UIF:
		op_uif();
		break;
	case OP_SPIN:
		for (long k = (long)fz_below(R(1), 50000); k > 0; k--)
			__builtin_ia32_pause();
		break;
	case OP_YIELD:
		if (fz_below(R(1), 2))
			sched_yield();
		else
			usleep((useconds_t)fz_below(R(2), 2000));
		break;
	case OP_AFFINITY:
		op_affinity();
		break;
	}
}

static bool should_stop(void)
{
	return LOAD(S->stop) || LOAD(P.stopping) || self->leave ||
	       (self->max_steps && (long)self->step >= self->max_steps) ||
	       fz_now() >= S->deadline;
}

static void thread_setup(struct thr *t)
{
	self = t;
	tls_slot = -1;
	t->slot = -1;
	t->epfd = -1;
	t->op = -1;
	t->rec = trec_alloc();
}

static void thread_loop(void)
{
	while (!should_stop()) {
		int op = pick_op(R(0));

		service(false);
		if (S->trace)
			msg("# trace %016llx %llu %s", (unsigned long long)self->id,
			    (unsigned long long)self->step, ops[op].name);
		self->op = op;
		if (self->rec >= 0)
			STORE(S->trecs[self->rec].op, op);
		do_op(op);
		self->op = -1;
		report_handler();
		ADD(S->ops[op], 1);
		self->step++;
	}
	if (self->rec >= 0)
		STORE(S->trecs[self->rec].op, NOPS);	/* ending */
}

/* A thread ends: its receiver drained, then unregistered or left to exit. */
static void thread_end(bool unregister)
{
	end_receiver(unregister);
	if (self->has_timer)
		timer_delete(self->timer);
	if (self->epfd >= 0)
		close(self->epfd);
	trec_free(self->rec);
}

/* The main thread ends the process once the others are gone. */
static void process_end(void)
{
	STORE(P.stopping, 1);
	while (LOAD(P.running) > 0) {
		service(true);
		usleep(2000);
	}
	kill_child(0, true);
	reap(true);
	thread_end(fz_below(R(0), 2));
	fflush(stdout);
	_exit(0);
}

/* ---- Entry points ---------------------------------------------------- */

static void run_worker(int w)
{
	struct thr t = { .id = fz_child_id(S->seed, 'w', w), .main = true };
	char alt[ALT_STACK_SIZE];
	int rec = proc_alloc(0);

	process_reset(t.id, rec, 0, 0);
	P.mailbox = S->mbox_rx[w];
	for (int k = 0; k < S->nworkers; k++)
		if (k != w)
			close(S->mbox_rx[k]);
	P.dev = uintr_open();
	if (P.dev < 0) {
		fail(F_PROCESS, "open " UINTR_DEV ": %s", ename(errno));
		_exit(1);
	}
	install_signals();
	if (fz_arena_init(&arena))
		_exit(1);
	t.alt_top = stack_top(alt, sizeof(alt));
	thread_setup(&t);
	thread_loop();
	process_end();
}

/* The image a child executed: check that exec dropped everything, then fuzz. */
static int run_exec_child(char **argv)
{
	char alt[ALT_STACK_SIZE];
	struct thr t = { .main = true };
	int rec, old_slot, vfd, vslot, vvec, vpolled;
	long idx;

	shm_fd = atoi(argv[2]);
	S = mmap(NULL, sizeof(*S), PROT_READ | PROT_WRITE, MAP_SHARED, shm_fd, 0);
	if (S == MAP_FAILED)
		return 2;
	rec = atoi(argv[3]);
	t.id = strtoull(argv[4], NULL, 0);
	t.max_steps = atol(argv[5]);
	old_slot = atoi(argv[6]);
	idx = atol(argv[7]);
	P.dev = atoi(argv[8]);
	if (sscanf(argv[9], "%d:%d:%d:%d", &vfd, &vslot, &vvec, &vpolled) != 4)
		return 2;
	process_reset(t.id, rec, 0, MAX_DEPTH);
	P.mailbox = -1;
	install_signals();
	if (fz_arena_init(&arena))
		return 2;
	t.alt_top = stack_top(alt, sizeof(alt));
	thread_setup(&t);
	/* The receiver and the UITT of the old image are gone. */
	if (old_slot >= 0)
		STORE(S->slots[old_slot].state, SL_DEAD);
	check_no_state("UINTR_WAIT after exec", idx);
	fcntl(P.dev, F_SETFD, FD_CLOEXEC);
	if (vfd >= 0) {
		fcntl(vfd, F_SETFD, FD_CLOEXEC);
		fd_add(vfd, FD_VEC, vslot, vvec, vpolled);
	}
	thread_loop();
	process_end();
}

static unsigned long env_or(const char *name, unsigned long def)
{
	const char *v = getenv(name);

	return v && *v ? strtoul(v, NULL, 0) : def;
}

static void *hotplug_thread(void *arg)
{
	const char *path = "/sys/devices/system/cpu/cpu1/online";
	struct thr t = { .id = fz_child_id(S->seed, 'h', 0) };
	int online = 1;

	self = &t;
	while (!LOAD(S->stop)) {
		int fd;

		usleep(200000 + (useconds_t)fz_below(R(0), 2000000));
		t.step++;
		fd = open(path, O_WRONLY);
		if (fd < 0)
			break;
		online = !online;
		if (write(fd, online ? "1" : "0", 1) == 1)
			ADD(S->ev[EV_HOTPLUG], 1);
		else
			online = !online;
		close(fd);
	}
	if (!online) {
		int fd = open(path, O_WRONLY);

		if (fd >= 0 && write(fd, "1", 1) != 1)
			msg("# cannot bring CPU 1 back online: %s", ename(errno));
		if (fd >= 0)
			close(fd);
	}
	return NULL;
}

static void print_counts(double seconds)
{
	unsigned long total = 0;
	char line[4096];
	size_t n = 0;

	for (int i = 0; i < NOPS; i++)
		total += S->ops[i];
	ksft_print_msg("ops: %lu in %.1f s (%.0f/s)\n", total, seconds,
		       seconds > 0 ? total / seconds : 0.0);
	for (int i = 0; i < NOPS; i++) {
		n += snprintf(line + n, sizeof(line) - n, " %s %lu", ops[i].name, S->ops[i]);
		if (n > 70 || i == NOPS - 1) {
			ksft_print_msg("ops:%s\n", line);
			n = 0;
		}
	}
	for (int i = 0; i < NEVENTS; i++)
		ksft_print_msg("%-44s %lu\n", ev_desc[i], S->ev[i]);
	ksft_print_msg("sends %lu, receives %lu (handler %lu, read %lu)\n", S->ev[EV_SENT],
		       S->ev[EV_HANDLED] + S->ev[EV_READ], S->ev[EV_HANDLED], S->ev[EV_READ]);
}

/* Processes that are still there when they should not be. */
static void dump_state(void)
{
	for (int i = 0; i < LOAD(S->nprocs) && i < MAX_PROCS; i++)
		if (LOAD(S->procs[i].state) == PR_ALIVE || LOAD(S->procs[i].state) == PR_DOOMED)
			ksft_print_msg("process %d (record %d) state %d\n", S->procs[i].pid, i,
				       S->procs[i].state);
	for (int i = 0; i < LOAD(S->nslots) && i < MAX_SLOTS; i++) {
		struct slot *s = &S->slots[i];

		if (LOAD(s->state) == SL_LIVE || LOAD(s->state) == SL_DYING)
			ksft_print_msg("receiver %d state %d process record %d inflight %d\n", i,
				       s->state, s->proc, s->inflight);
	}
	for (int i = 0; i < MAX_TRECS; i++) {
		struct trec *t = &S->trecs[i];
		char path[64], buf[512] = "";
		int op = LOAD(t->op), fd;
		ssize_t n;

		if (!LOAD(t->state) || !t->tid || kill(t->pid, 0))
			continue;
		/* Where it sleeps in the kernel, if it does. */
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stack", t->pid, t->tid);
		fd = open(path, O_RDONLY);
		n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
		if (fd >= 0)
			close(fd);
		buf[n > 0 ? n : 0] = 0;
		for (char *c = buf; *c; c++)
			if (*c == '\n')
				*c = ' ';
		ksft_print_msg("thread %d of %d: %s%s; %s\n", t->tid, t->pid,
			       op >= 0 && op < NOPS ? ops[op].name :
			       op == NOPS ? "ending" : "between operations",
			       LOAD(t->in_wait) ? " (in UINTR_WAIT)" : "", buf);
	}
}

/* The verdicts, one per kind of failure. */
static const char *const test_names[] = {
	"every_call_gets_a_documented_result",
	"senduipi_faults_exactly_when_no_valid_entry_or_no_sender",
	"every_post_to_a_live_receiver_arrives_exactly_once",
	"no_post_to_a_receiver_that_is_gone_arrives",
	"every_process_ends_cleanly",
	"live_objects_return_to_zero",
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "seconds", required_argument, NULL, 't' },
		{ "procs", required_argument, NULL, 'p' },
		{ "hotplug", no_argument, NULL, 'h' },
		{ "trace", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	long ncpus = sysconf(_SC_NPROCESSORS_ONLN), zero[FZ_NLIVE] = { 0 }, live[FZ_NLIVE];
	unsigned long seconds, procs, hotplug;
	pid_t workers[MAX_WORKERS];
	bool ended = true, stats;
	pthread_t hp;
	uint64_t seed;
	double t0, end, next_cont = 0;
	int c;

	if (argc == 10 && !strcmp(argv[1], "--exec-child"))
		return run_exec_child(argv);

	seed = env_or("uintr_fuzz_seed", 1);
	seconds = env_or("uintr_fuzz_seconds", ncpus >= 2 ? 60 : 30);
	procs = env_or("uintr_fuzz_procs", 3);
	hotplug = env_or("uintr_fuzz_hotplug", 0);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 't':
			seconds = strtoul(optarg, NULL, 0);
			break;
		case 'p':
			procs = strtoul(optarg, NULL, 0);
			break;
		case 'h':
			hotplug = 1;
			break;
		case 'v':
			setenv("uintr_fuzz_trace", "1", 1);
			break;
		default:
			fprintf(stderr,
				"usage: %s [--seed N] [--seconds S] [--procs P] [--hotplug] [--trace]\n",
				argv[0]);
			return KSFT_FAIL;
		}
	}
	if (procs < 1 || procs > MAX_WORKERS)
		procs = 3;

	ksft_print_header();
	ksft_print_msg("uintr_fuzz: seed %llu seconds %lu procs %lu cpus %ld hotplug %lu\n",
		       (unsigned long long)seed, seconds, procs, ncpus, hotplug);
	ksft_set_plan(ARRAY_SIZE(test_names));
	if (!uintr_kernel_supported() || access(UINTR_DEV, R_OK | W_OK)) {
		/* Skipped, which is no failure of the program. */
		for (unsigned int i = 0; i < ARRAY_SIZE(test_names); i++)
			ksft_test_result_skip("%s: %s\n", test_names[i],
					      uintr_kernel_supported() ? UINTR_DEV " missing" :
					      "no user interrupts in this kernel or CPU");
		ksft_finished();
	}
	if (readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1) < 0)
		ksft_exit_fail_perror("readlink /proc/self/exe");

	/* Shared with every process, also across exec. */
	shm_fd = memfd_create("uintr_fuzz", 0);
	if (shm_fd < 0 || ftruncate(shm_fd, sizeof(*S)))
		ksft_exit_fail_perror("memfd");
	S = mmap(NULL, sizeof(*S), PROT_READ | PROT_WRITE, MAP_SHARED, shm_fd, 0);
	if (S == MAP_FAILED)
		ksft_exit_fail_perror("mmap");
	S->seed = seed;
	S->nworkers = (int)procs;
	S->hotplug = hotplug && !access("/sys/devices/system/cpu/cpu1/online", W_OK);
	S->trace = !!getenv("uintr_fuzz_trace");
	stats = fz_live_read(live);
	if (stats)
		for (unsigned int i = 0; i < FZ_NLIVE; i++)
			if (live[i])
				ksft_print_msg("before: %s is %ld\n", fz_live_names[i], live[i]);
	for (int w = 0; w < S->nworkers; w++) {
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv))
			ksft_exit_fail_perror("socketpair");
		S->mbox_rx[w] = sv[0];
		S->mbox_tx[w] = sv[1];
	}

	t0 = fz_now();
	S->deadline = t0 + seconds;
	fflush(stdout);
	for (int w = 0; w < S->nworkers; w++) {
		workers[w] = fork();
		if (workers[w] == 0)
			run_worker(w);
		if (workers[w] < 0)
			ksft_exit_fail_perror("fork");
	}
	for (int w = 0; w < S->nworkers; w++)
		close(S->mbox_rx[w]);
	if (S->hotplug && pthread_create(&hp, NULL, hotplug_thread, NULL))
		S->hotplug = 0;

	/* Wait for the deadline, then for the workers to end. */
	end = S->deadline + END_SECONDS;
	for (int left = S->nworkers; left > 0;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid > 0) {
			for (int w = 0; w < S->nworkers; w++) {
				if (workers[w] != pid)
					continue;
				left--;
				workers[w] = 0;
				if (!WIFEXITED(status) || WEXITSTATUS(status))
					fail(F_PROCESS, "worker %d ended with status %#x", w, status);
			}
			continue;
		}
		if (fz_now() >= S->deadline) {
			STORE(S->stop, 1);
			/* A process that died between SIGSTOP and SIGCONT left one stopped. */
			if (fz_now() >= next_cont) {
				for (int i = 0; i < LOAD(S->nprocs) && i < MAX_PROCS; i++)
					if (S->procs[i].pid > 1 && LOAD(S->procs[i].state) != PR_GONE)
						kill(S->procs[i].pid, SIGCONT);
				next_cont = fz_now() + 1;
			}
		}
		if (fz_now() > end) {
			fail(F_PROCESS, "%d workers did not end within %.0f s", left, END_SECONDS);
			dump_state();
			ended = false;
			for (int i = 0; i < LOAD(S->nprocs) && i < MAX_PROCS; i++)
				if (S->procs[i].pid > 0 && LOAD(S->procs[i].state) != PR_GONE)
					kill(S->procs[i].pid, SIGKILL);
			while (waitpid(-1, NULL, 0) > 0)
				;
			break;
		}
		usleep(20000);
	}
	STORE(S->stop, 1);
	if (S->hotplug)
		pthread_join(hp, NULL);
	for (int w = 0; w < S->nworkers; w++)
		close(S->mbox_tx[w]);

	print_counts(fz_now() - t0);
	ksft_test_result(!S->fails[F_RESULT], "%s\n", test_names[0]);
	ksft_test_result(!S->fails[F_FAULT], "%s\n", test_names[1]);
	ksft_test_result(!S->fails[F_ONCE] && S->ev[EV_SENT], "%s\n", test_names[2]);
	ksft_test_result(!S->fails[F_AFTER], "%s\n", test_names[3]);
	ksft_test_result(!S->fails[F_PROCESS] && ended, "%s\n", test_names[4]);
	if (!stats) {
		ksft_test_result_skip("%s: no debugfs\n", test_names[5]);
	} else if (fz_live_settle(zero, live, 10)) {
		ksft_test_result_pass("%s\n", test_names[5]);
	} else {
		for (unsigned int i = 0; i < FZ_NLIVE; i++)
			ksft_print_msg("after: %s is %ld\n", fz_live_names[i], live[i]);
		ksft_test_result_fail("%s\n", test_names[5]);
	}
	for (int i = 0; i < MAX_KINDS && S->kinds[i].key; i++)
		ksft_print_msg("%lu x %s: %s\n", S->kinds[i].count, fail_names[S->kinds[i].fail],
			       S->kinds[i].sample);
	if (S->reports)
		ksft_print_msg("%d failures; replay with --seed %llu --seconds %lu --procs %d\n",
			       S->reports, (unsigned long long)seed, seconds, S->nworkers);
	ksft_finished();
}
