// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
//! Checks the crate against the real module, in TAP: handlers are entered
//! through the trampoline with the interrupted code's floating-point state
//! intact, senders in other threads, waiting, blocking.  Built static and
//! run in the emulated machine by the project's test suite; skips where
//! there are no user interrupts.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

static HITS: [AtomicU64; 64] = [const { AtomicU64::new(0) }; 64];
static DEFAULT_HITS: AtomicU64 = AtomicU64::new(0);
static HANDLER_SUM_OK: AtomicBool = AtomicBool::new(true);

fn count(vector: u8) {
    HITS[usize::from(vector)].fetch_add(1, Ordering::Relaxed);
}

fn count_default(_vector: u8) {
    DEFAULT_HITS.fetch_add(1, Ordering::Relaxed);
}

/// A handler that uses floating point and checks its own arithmetic.
fn float_handler(vector: u8) {
    let mut s = 0.0f64;
    for i in 1..=50 {
        s += f64::from(i).sqrt();
    }
    if (s - 239.0358_f64).abs() > 1e-3 {
        HANDLER_SUM_OK.store(false, Ordering::Relaxed);
    }
    count(vector);
}

fn spin_until(c: &AtomicU64, want: u64) -> bool {
    for _ in 0..200_000_000u64 {
        if c.load(Ordering::Relaxed) >= want {
            return true;
        }
        std::hint::spin_loop();
    }
    false
}

/// A floating-point computation whose registers stay live across interrupts.
fn crunch(n: u32) -> f64 {
    let (mut a, mut b, mut c) = (1.0f64, 0.5f64, 0.25f64);
    for i in 0..n {
        let x = f64::from(i % 97) * 1e-3;
        a = a * 0.999_9 + x;
        b = b * 1.000_1 - x * 0.5;
        c = (a * b).abs().sqrt() + c * 0.5;
    }
    std::hint::black_box(a + b + c)
}

struct Tap {
    n: u32,
    failed: u32,
}

impl Tap {
    fn check(&mut self, name: &str, ok: bool) {
        self.n += 1;
        if !ok {
            self.failed += 1;
        }
        println!(
            "{}ok {} uintr_rs: {}",
            if ok { "" } else { "not " },
            self.n,
            name
        );
    }
}

fn main() -> io::Result<()> {
    let mut tap = Tap { n: 0, failed: 0 };

    // SAFETY: The handlers only use atomics and the stack.
    unsafe {
        uintr::set_handler(3, Some(count))?;
        uintr::set_handler(9, Some(float_handler))?;
        uintr::set_handler(5, Some(count))?;
        uintr::set_handler(11, Some(count))?;
        uintr::set_default_handler(Some(count_default));
    }
    let receiver = match uintr::Receiver::register() {
        Ok(r) => r,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::Unsupported
            ) =>
        {
            println!("ok 1 uintr_rs: # SKIP no user interrupts here ({e})");
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    tap.check("a new receiver starts blocked", !receiver.unblocked());

    let me3 = receiver.sender_to_self(3)?;
    let me7 = receiver.sender_to_self(7)?;
    receiver.unblock();
    me3.send();
    me7.send();
    tap.check(
        "each vector reaches its handler, the others the default one",
        spin_until(&HITS[3], 1)
            && spin_until(&DEFAULT_HITS, 1)
            && HITS[7].load(Ordering::Relaxed) == 0,
    );

    // Blocking nests; the post waits for the outermost restore.
    let before = HITS[3].load(Ordering::Relaxed);
    receiver.critical(|| {
        receiver.critical(|| me3.send());
        thread::sleep(Duration::from_millis(1));
        assert_eq!(HITS[3].load(Ordering::Relaxed), before);
    });
    tap.check(
        "blocking nests and delivers at the end",
        spin_until(&HITS[3], before + 1),
    );

    // Another thread sends through the vector fd while this one computes
    // with live floating-point registers; handlers compute too.
    let want = receiver.critical(|| crunch(3_000_000));
    let vfd = receiver.vector_fd(9)?;
    let (tx, rx) = mpsc::channel();
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let sender_thread = thread::spawn(move || -> io::Result<u64> {
        let s = vfd.register_sender()?;
        tx.send(()).ok();
        let mut sent = 0;
        while !stop2.load(Ordering::Relaxed) {
            s.send();
            sent += 1;
            thread::sleep(Duration::from_micros(200));
        }
        Ok(sent)
    });
    rx.recv().ok();
    let got = crunch(3_000_000);
    stop.store(true, Ordering::Relaxed);
    let sent = sender_thread.join().expect("sender thread")?;
    tap.check(
        "floating-point state survives handlers that use it",
        got == want && HANDLER_SUM_OK.load(Ordering::Relaxed),
    );
    println!(
        "# {} posts sent, {} handled during the computation",
        sent,
        HITS[9].load(Ordering::Relaxed)
    );
    tap.check(
        "a sender in another thread interrupts",
        HITS[9].load(Ordering::Relaxed) > 0,
    );

    tap.check(
        "wait times out when nothing is pending",
        matches!(receiver.wait(Some(Duration::from_millis(5))), Ok(false)),
    );
    let before = HITS[3].load(Ordering::Relaxed);
    receiver.block();
    me3.send();
    let woke = receiver.wait(Some(Duration::from_secs(5)));
    receiver.unblock();
    tap.check(
        "wait returns for a pending post, delivered once unblocked",
        matches!(woke, Ok(true)) && spin_until(&HITS[3], before + 1),
    );
    tap.check("the frame is sized", uintr::frame_size() >= 576);

    // A kernel timer: every 1 ms, with no system call meanwhile.
    let tick = receiver.vector_fd(5)?;
    let before = HITS[5].load(Ordering::Relaxed);
    let timer = tick.timer(Duration::from_millis(1), Some(Duration::from_millis(1)))?;
    let ticked = spin_until(&HITS[5], before + 5);
    drop(timer);
    let at_drop = HITS[5].load(Ordering::Relaxed);
    thread::sleep(Duration::from_millis(20));
    tap.check(
        "a timer interrupts each period and stops when dropped",
        ticked && HITS[5].load(Ordering::Relaxed) <= at_drop + 1,
    );

    drop(me3);
    drop(me7);
    drop(receiver);
    let again = uintr::Receiver::register();
    tap.check(
        "a dropped receiver can be registered again, and starts blocked",
        again.as_ref().is_ok_and(|r| !r.unblocked()),
    );
    drop(again);
    let on_stack = uintr::Receiver::register_with_stack(64 * 1024)?;
    let me = on_stack.sender_to_self(3)?;
    let before = HITS[3].load(Ordering::Relaxed);
    on_stack.unblock();
    me.send();
    tap.check(
        "a receiver on an alternate stack receives",
        spin_until(&HITS[3], before + 1),
    );
    drop(me);
    drop(on_stack);

    // A post ends a sleep in read() of an empty socket: the handler runs,
    // then the call fails with EINTR.  A timer that fires before the read
    // sleeps is taken by the handler in user space, and the read then waits
    // out its timeout: that attempt is repeated.  A timeout without the
    // handler is a lost post.
    let waking = uintr::Receiver::register_waking(uintr::Wake::Interrupt)?;
    let ring = waking.vector_fd(11)?;
    let (mut quiet, _peer) = std::os::unix::net::UnixStream::pair()?;
    quiet.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut interrupted = false;
    for _ in 0..5 {
        let alarm = ring.timer(Duration::from_millis(20), None)?;
        let before = HITS[11].load(Ordering::Relaxed);
        waking.unblock();
        let mut byte = [0u8; 1];
        let read = std::io::Read::read(&mut quiet, &mut byte);
        let handled = HITS[11].load(Ordering::Relaxed) == before + 1;
        waking.block();
        drop(alarm);
        let early = handled
            && read
                .as_ref()
                .is_err_and(|e| e.kind() == io::ErrorKind::WouldBlock);
        if !early {
            interrupted = read.is_err_and(|e| e.kind() == io::ErrorKind::Interrupted) && handled;
            break;
        }
    }
    tap.check(
        "a post interrupts a waking receiver's read, after its handler",
        interrupted,
    );
    println!("1..{}", tap.n);
    std::process::exit(if tap.failed == 0 { 0 } else { 1 });
}
