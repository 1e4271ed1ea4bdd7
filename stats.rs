// SPDX-License-Identifier: GPL-2.0

//! Counters for maintainers, in debugfs under `uintr/stats/`.
//!
//! Live objects (`receivers`, `senders`, `uitt_entries`, `vector_fds`,
//! `polled`) go up and down; events (`replays`, `waits`, `wait_moves`,
//! `poll_parks`, `collected`, `kernel_posts`, `poll_idle_kicks`) only go
//! up.  Updates
//! are relaxed atomic additions, cheap enough for the hooks.

use kernel::{
    debugfs::{
        Dir,
        Scope, //
    },
    prelude::*,
    sync::atomic::{
        ordering::Relaxed,
        Atomic, //
    },
};

/// One counter.
pub(crate) struct Counter(Atomic<usize>);

impl Counter {
    const fn new() -> Self {
        Self(Atomic::new(0))
    }

    /// Counts one more.
    pub(crate) fn inc(&self) {
        self.0.add(1, Relaxed);
    }

    /// Counts one less.
    pub(crate) fn dec(&self) {
        let _ = self.0.fetch_sub(1, Relaxed);
    }
}

/// Threads with a handler registered.
pub(crate) static RECEIVERS: Counter = Counter::new();
/// Threads with SENDUIPI enabled.
pub(crate) static SENDERS: Counter = Counter::new();
/// UITT entries in use, over all processes.
pub(crate) static UITT_ENTRIES: Counter = Counter::new();
/// Open vector fds.
pub(crate) static VECTOR_FDS: Counter = Counter::new();
/// Returns to user space that replayed posts made while the receiver was away.
pub(crate) static REPLAYS: Counter = Counter::new();
/// `UINTR_WAIT` calls that blocked.
pub(crate) static WAITS: Counter = Counter::new();
/// `UINTR_WAIT` calls that parked again because their CPU went offline.
pub(crate) static WAIT_MOVES: Counter = Counter::new();
/// Posts the kernel made itself that sent a notification (counts given
/// back to the handler).
pub(crate) static KERNEL_POSTS: Counter = Counter::new();
/// Kernel-vector interrupts that found nothing to collect for a parked
/// polled receiver (posts to its vectors that are not polled).
pub(crate) static POLL_IDLE_KICKS: Counter = Counter::new();
/// Receivers in a CPU's list: those with polled vectors or
/// `UINTR_HANDLER_WAKE`.
pub(crate) static POLLED: Counter = Counter::new();
/// Switch-outs that pointed a polled receiver's UPID at the kernel vector.
pub(crate) static POLL_PARKS: Counter = Counter::new();
/// Posts counted on vector fds instead of reaching the handler.
pub(crate) static COLLECTED: Counter = Counter::new();
/// Open `UINTR_WATCH_FD` handles.
pub(crate) static WATCHES: Counter = Counter::new();
/// Posts made by watched files' wake-ups.
pub(crate) static WATCH_POSTS: Counter = Counter::new();
/// Open `UINTR_CREATE_TIMER` handles.
pub(crate) static TIMERS: Counter = Counter::new();
/// Posts made by timers' expiries.
pub(crate) static TIMER_POSTS: Counter = Counter::new();
/// System calls that a post interrupted (`UINTR_HANDLER_WAKE`): kicks
/// that reached the call they were made for, with the handler to run.
pub(crate) static WAKES: Counter = Counter::new();

/// Creates `uintr/stats/` with one read-only file per counter.
pub(crate) fn debugfs() -> Result<Pin<KBox<Scope<()>>>> {
    let dir = Dir::new(c"uintr");
    KBox::pin_init(
        dir.scope((), c"stats", |(), d| {
            d.read_only_file(c"receivers", &RECEIVERS.0);
            d.read_only_file(c"senders", &SENDERS.0);
            d.read_only_file(c"uitt_entries", &UITT_ENTRIES.0);
            d.read_only_file(c"vector_fds", &VECTOR_FDS.0);
            d.read_only_file(c"replays", &REPLAYS.0);
            d.read_only_file(c"waits", &WAITS.0);
            d.read_only_file(c"wait_moves", &WAIT_MOVES.0);
            d.read_only_file(c"kernel_posts", &KERNEL_POSTS.0);
            d.read_only_file(c"poll_idle_kicks", &POLL_IDLE_KICKS.0);
            d.read_only_file(c"polled", &POLLED.0);
            d.read_only_file(c"poll_parks", &POLL_PARKS.0);
            d.read_only_file(c"collected", &COLLECTED.0);
            d.read_only_file(c"watches", &WATCHES.0);
            d.read_only_file(c"watch_posts", &WATCH_POSTS.0);
            d.read_only_file(c"timers", &TIMERS.0);
            d.read_only_file(c"timer_posts", &TIMER_POSTS.0);
            d.read_only_file(c"wakes", &WAKES.0);
        }),
        GFP_KERNEL,
    )
}
