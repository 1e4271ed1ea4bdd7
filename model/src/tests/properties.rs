// SPDX-License-Identifier: GPL-2.0

//! The real scheme against every property, on random schedules and on hand-picked ones.
//!
//! The properties, checked after every step and at the end of every run: no XRSTORS runs with UINV
//! armed; every receiver runs in user space with UINV equal to the notification vector, its own
//! handler and UPID, and a UPID whose NDST names its CPU with SN clear; no posted vector sits in
//! PIR while its receiver runs in user space without a notification on its way (a kernel post
//! between its PIR bit and its update of word 0 excepted); a non-receiver never runs in user space
//! with UINV armed; a sender keeps its UITT; no CPU keeps UINV armed on a freed UPID; every post to
//! a live receiver is delivered exactly once (none lost after the drain, none delivered twice, none
//! to another task).

use super::{env_number, replay, search, DEFAULT_SEED};
use crate::module::Scheme;
use crate::world::{Config, Event, KernelBugs, Role};

/// The real scheme keeps every property on random schedules of 1 to 3 CPUs, with SENDUIPI and
/// kernel posts.
#[test]
fn real_scheme_keeps_every_property() {
    let cases = env_number("UINTR_MODEL_CASES", 20_000) as u32;
    let seed = env_number("UINTR_MODEL_SEED", DEFAULT_SEED);
    let totals = match search(Scheme::Real, KernelBugs::default(), cases, seed) {
        Ok(totals) => totals,
        Err(cx) => panic!("the real scheme broke a property:\n{}", cx.report()),
    };
    println!("{cases} schedules, seed {seed:#x}: {totals:?}");
    // The schedules must reach every path, or the properties hold vacuously.
    let c = totals.counts;
    assert!(c.xsaves_armed > 0, "no XSAVES of an armed UINV");
    assert!(c.xrstors_arming > 0, "no XRSTORS arming UINV");
    assert!(c.wrmsr_arming > 0, "no WRMSR arming UINV");
    assert!(c.wrmsr_disarming > 0, "no WRMSR disarming UINV");
    assert!(c.notifications > 0, "no notification processed");
    assert!(c.idt_notifications > 0, "no notification through the IDT");
    assert!(
        totals.delivered > 1000,
        "too few deliveries: {}",
        totals.delivered
    );
    let k = totals.kernel;
    assert!(k.made > 1000, "too few kernel posts: {}", k.made);
    assert!(
        k.notified > 100,
        "too few notifying kernel posts: {}",
        k.notified
    );
    assert!(k.split > 0, "no kernel post in two events");
    assert!(k.raced > 0, "no kernel post inside another CPU's step");
}

/// With polled vectors, every post still arrives exactly once: at the handler, or counted for
/// the vector fds when the module finds it pending at an XSAVES or on the way to user space.
#[test]
fn polled_scheme_keeps_every_property() {
    let cases = env_number("UINTR_MODEL_CASES", 20_000) as u32;
    let seed = env_number("UINTR_MODEL_SEED", DEFAULT_SEED);
    let totals = match search(Scheme::Polled, KernelBugs::default(), cases, seed) {
        Ok(totals) => totals,
        Err(cx) => panic!("the polled scheme broke a property:\n{}", cx.report()),
    };
    println!("{cases} schedules, seed {seed:#x}: {totals:?}");
    let c = totals.counts;
    assert!(
        c.collected_uirr > 0,
        "no polled vector taken from a saved UIRR"
    );
    assert!(c.collected_pir > 0, "no polled vector taken from PIR");
    assert!(c.notifications > 0, "no notification processed");
    assert!(totals.kernel.made > 1000, "too few kernel posts");
}

/// Runs a hand-picked schedule under the real scheme and returns its trace.
fn passes(config: Config, events: Vec<Event>) -> Vec<String> {
    let cx = replay(config, events, Scheme::Real, KernelBugs::default());
    assert_eq!(
        cx.violation,
        "none (the replay passed)",
        "\n{}",
        cx.report()
    );
    cx.trace
}

/// One CPU, a receiver and a sender.
fn one_cpu() -> Config {
    Config {
        cpus: 1,
        x2apic: true,
        tasks: vec![Role::Receiver, Role::Sender],
    }
}

/// `fpu_sync_fpstate()` clears UINV behind live registers; the next return re-arms by WRMSR.
#[test]
fn sync_fpstate_is_rearmed_by_wrmsr() {
    let trace = passes(
        one_cpu(),
        vec![
            Event::Schedule { cpu: 0, task: 0 },
            Event::ReturnToUser { cpu: 0, race: None },
            Event::SyncFpstate { cpu: 0 },
            Event::ReturnToUser { cpu: 0, race: None },
        ],
    );
    assert!(trace
        .iter()
        .any(|l| l.contains("exit_to_user(registers live): MSR UINV 0xea")));
}

/// A receiver switched out and back onto the same CPU skips XRSTORS (lazy restore) and is
/// re-armed by WRMSR.
#[test]
fn lazy_restore_is_rearmed_by_wrmsr() {
    let trace = passes(
        one_cpu(),
        vec![
            Event::Schedule { cpu: 0, task: 0 },
            Event::ReturnToUser { cpu: 0, race: None },
            Event::Idle { cpu: 0 },
            Event::Schedule { cpu: 0, task: 0 },
            Event::ReturnToUser { cpu: 0, race: None },
        ],
    );
    assert!(trace.iter().any(|l| l.contains("no XRSTORS")));
}

/// A post made while the receiver is switched out is replayed on its return.
#[test]
fn post_while_switched_out_is_replayed() {
    let trace = passes(
        one_cpu(),
        vec![
            Event::Schedule { cpu: 0, task: 1 },
            Event::ReturnToUser { cpu: 0, race: None },
            Event::Send { cpu: 0, target: 0 },
            Event::Schedule { cpu: 0, task: 0 },
            Event::ReturnToUser { cpu: 0, race: None },
            Event::Uiret { cpu: 0 },
            Event::Interrupt { cpu: 0, race: None },
        ],
    );
    assert!(trace.iter().any(|l| l.contains("delivered to R0")));
}

/// A receiver that execs with UINV armed is disarmed before its UPID goes.
#[test]
fn exec_of_armed_receiver_disarms() {
    passes(
        one_cpu(),
        vec![
            Event::Schedule { cpu: 0, task: 0 },
            Event::ReturnToUser { cpu: 0, race: None },
            Event::Exec { cpu: 0 },
            Event::ReturnToUser { cpu: 0, race: None },
        ],
    );
}

/// A notification sent just before the receiver moved to another CPU goes through the IDT;
/// the post is replayed on the new CPU.
#[test]
fn notification_to_old_cpu_is_replayed() {
    let config = Config {
        cpus: 2,
        x2apic: false,
        tasks: vec![Role::Receiver, Role::Sender],
    };
    let trace = passes(
        config,
        vec![
            Event::Schedule { cpu: 0, task: 0 },
            Event::ReturnToUser { cpu: 0, race: None },
            Event::Schedule { cpu: 1, task: 1 },
            Event::ReturnToUser { cpu: 1, race: None },
            Event::Send { cpu: 1, target: 0 },
            Event::Idle { cpu: 0 },
            Event::Interrupt { cpu: 0, race: None },
            Event::Schedule { cpu: 1, task: 0 },
            Event::ReturnToUser { cpu: 1, race: None },
            Event::Uiret { cpu: 1 },
            Event::Interrupt { cpu: 1, race: None },
        ],
    );
    assert!(trace.iter().any(|l| l.contains("through the IDT")));
    assert!(trace
        .iter()
        .any(|l| l.contains("cpu1: user interrupt 0 delivered to R0")));
}

/// Returns whether a line of `trace` before the drain contains `text`.
fn before_drain(trace: &[String], text: &str) -> bool {
    trace
        .iter()
        .take_while(|l| l.as_str() != "drain:")
        .any(|l| l.contains(text))
}

/// A kernel post to a receiver running in user space on another CPU notifies that CPU (the xAPIC
/// ID taken from bits 15:8 of NDST), and the post is delivered.
#[test]
fn kernel_post_notifies_the_receiver_cpu() {
    let config = Config {
        cpus: 2,
        x2apic: false,
        tasks: vec![Role::Receiver],
    };
    let trace = passes(
        config,
        vec![
            Event::Schedule { cpu: 0, task: 0 },
            Event::ReturnToUser { cpu: 0, race: None },
            Event::KernelPost {
                cpu: 1,
                target: 3,
                split: false,
            },
            Event::Interrupt { cpu: 0, race: None },
        ],
    );
    assert!(before_drain(&trace, "vector 0xea sent to cpu0"));
    assert!(before_drain(
        &trace,
        "cpu0: user interrupt 3 delivered to R0"
    ));
}

/// A kernel post split around the receiver's switch-out: the PIR bit is set while the receiver
/// runs in user space, word 0 is updated after the switch-out set SN, so nothing is sent, and the
/// next return to user space replays the post.
#[test]
fn kernel_post_across_a_switch_out_is_replayed() {
    let config = Config {
        cpus: 2,
        x2apic: true,
        tasks: vec![Role::Receiver],
    };
    let trace = passes(
        config,
        vec![
            Event::Schedule { cpu: 0, task: 0 },
            Event::ReturnToUser { cpu: 0, race: None },
            Event::KernelPost {
                cpu: 1,
                target: 0,
                split: true,
            },
            Event::Idle { cpu: 0 },
            Event::KernelPostEnd { cpu: 0 },
            Event::Schedule { cpu: 0, task: 0 },
            Event::ReturnToUser { cpu: 0, race: None },
            Event::Interrupt { cpu: 0, race: None },
        ],
    );
    assert!(before_drain(&trace, "ends: no notification"));
    assert!(before_drain(&trace, "PIR not empty, self-IPI"));
    assert!(before_drain(
        &trace,
        "cpu0: user interrupt 0 delivered to R0"
    ));
}
