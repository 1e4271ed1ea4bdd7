// SPDX-License-Identifier: GPL-2.0

//! Negative controls: wrong schemes, and wrong kernel sides, that the model must catch.
//!
//! Each test searches random schedules until one breaks a property, shrinks it, and prints the
//! minimal counterexample with its trace (`cargo test -- --nocapture` shows it). A control that
//! finds nothing fails: the model would then be too weak to trust its passes.

use super::{replay, search, Counterexample};
use crate::module::Scheme;
use crate::world::{Config, Event, KernelBugs, Role};

/// How many schedules a control may try before it gives up.
const CONTROL_CASES: u32 = 20_000;

/// The seed of the controls; fixed so that Documentation/model.md can quote their output.
const CONTROL_SEED: u64 = 1;

/// Searches for a counterexample to `scheme` with `bugs`; prints and returns it.
fn counterexample(name: &str, scheme: Scheme, bugs: KernelBugs) -> Counterexample {
    match search(scheme, bugs, CONTROL_CASES, CONTROL_SEED) {
        Ok(totals) => panic!("{name}: no counterexample in {CONTROL_CASES} schedules: {totals:?}"),
        Err(cx) => {
            println!("{name}: minimal counterexample\n{}", cx.report());
            cx
        }
    }
}

/// Taking a polled vector from the saved image but not from the registers, which a lazy restore
/// or fork's `fpu_clone()` keeps using, is caught: the handler receives the counted post too.
#[test]
fn collecting_from_the_image_only_is_caught() {
    let cx = counterexample(
        "collecting from the image only",
        Scheme::PolledImageOnly,
        KernelBugs::default(),
    );
    assert!(
        cx.violation.contains("without a post of its own"),
        "{}",
        cx.violation
    );
}

/// Filtering the save and restore hooks on the `TIF_UINTR` of the fpstate's task rather than
/// current's is caught: `fpu_clone()` saves the parent's registers into the child's fpstate, and
/// the module would miss that XSAVES cleared UINV.
#[test]
fn hooks_filtered_by_fpstate_task_are_caught() {
    let cx = counterexample(
        "hooks filtered by the fpstate's task",
        Scheme::Real,
        KernelBugs {
            hooks_by_fpstate_task: true,
            ..KernelBugs::default()
        },
    );
    assert!(cx.violation.contains("with UINV 0x0"), "{}", cx.violation);
}

/// A per-CPU exit mark that survives an XSAVES of component 14 is caught: `fpu_sync_fpstate()`
/// saves the registers without invalidating them, XSAVES clears UINV, and the next return would
/// skip `exit_to_user`, which arms it again.
#[test]
fn exit_mark_kept_by_xsaves_is_caught() {
    let cx = counterexample(
        "exit mark kept by XSAVES",
        Scheme::Real,
        KernelBugs {
            exit_done_kept_by_xsaves: true,
            ..KernelBugs::default()
        },
    );
    assert!(cx.violation.contains("with UINV 0x0"), "{}", cx.violation);
}

/// Keeping UINV in the image like any other register is caught.
#[test]
fn naive_scheme_is_caught() {
    counterexample("naive scheme", Scheme::Naive, KernelBugs::default());
}

/// Arming UINV from task_work, before the FPU registers are restored, is caught.
#[test]
fn arming_in_task_work_is_caught() {
    let cx = counterexample("task_work arming", Scheme::TaskWork, KernelBugs::default());
    assert!(
        cx.violation.contains("XRSTORS raised #GP"),
        "{}",
        cx.violation
    );
}

/// Trusting `TIF_NEED_FPU_LOAD` instead of tracking the MSR per CPU is caught.
#[test]
fn trusting_need_fpu_load_is_caught() {
    let cx = counterexample(
        "trusting TIF_NEED_FPU_LOAD",
        Scheme::TrustNeedFpuLoad,
        KernelBugs::default(),
    );
    assert!(cx.violation.contains("with UINV 0x0"), "{}", cx.violation);
}

/// Reading PIR before the UPID compare-exchange on the way to user space is caught.
#[test]
fn reading_pir_before_resume_is_caught() {
    let cx = counterexample(
        "PIR read before resume",
        Scheme::PirBeforeResume,
        KernelBugs::default(),
    );
    assert!(cx.violation.contains("stuck"), "{}", cx.violation);
}

/// Leaving a stale ON set on the way to user space is caught: a notification that raced with
/// notification processing and then went through the IDT leaves ON set and PIR empty, and no
/// later SENDUIPI notifies.
#[test]
fn keeping_on_on_resume_is_caught() {
    let cx = counterexample("ON kept on resume", Scheme::KeepOn, KernelBugs::default());
    assert!(cx.violation.contains("stuck"), "{}", cx.violation);
}

/// A kernel that hands the image to `exit_to_user` although the lazy restore then skips XRSTORS
/// is caught.
#[test]
fn kernel_passing_image_to_lazy_restore_is_caught() {
    let bugs = KernelBugs {
        image_when_need_load: true,
        ..KernelBugs::default()
    };
    let cx = counterexample("image passed to a lazy restore", Scheme::Real, bugs);
    assert!(cx.violation.contains("with UINV 0x0"), "{}", cx.violation);
}

/// A kernel whose `fpu_clone()` copies component 14 into the child is caught.
#[test]
fn kernel_copying_uintr_state_on_fork_is_caught() {
    let bugs = KernelBugs {
        fork_copies_uintr: true,
        ..KernelBugs::default()
    };
    let cx = counterexample("component 14 copied on fork", Scheme::Real, bugs);
    assert!(
        cx.violation.contains("not its receiver"),
        "{}",
        cx.violation
    );
}

/// A kernel whose `uintr_xstate_lock()` invalidates only this CPU's registers is caught: the
/// registers the task left valid on another CPU let the lazy restore there skip the XRSTORS that
/// would load the registration. Random schedules rarely build this, so the schedule is given.
#[test]
fn kernel_invalidating_only_this_cpu_is_caught() {
    let bugs = KernelBugs {
        xstate_lock_cpu_only: true,
        ..KernelBugs::default()
    };
    let config = Config {
        cpus: 2,
        x2apic: true,
        tasks: vec![Role::Plain],
    };
    // Event CPU numbers select among the CPUs where the event can happen.
    let events = vec![
        Event::Schedule { cpu: 1, task: 0 },
        Event::ReturnToUser { cpu: 0, race: None },
        Event::Idle { cpu: 0 },
        Event::Schedule { cpu: 0, task: 0 },
        Event::Register { cpu: 0 },
        Event::Idle { cpu: 0 },
        Event::Schedule { cpu: 1, task: 0 },
    ];
    let good = replay(
        config.clone(),
        events.clone(),
        Scheme::Real,
        KernelBugs::default(),
    );
    assert_eq!(
        good.violation,
        "none (the replay passed)",
        "\n{}",
        good.report()
    );
    let cx = replay(config, events, Scheme::Real, bugs);
    println!("xstate lock invalidating one CPU\n{}", cx.report());
    assert!(
        cx.violation.contains("another task's handler"),
        "{}",
        cx.violation
    );
}

/// The naive scheme also leaves UINV armed on a UPID that exec just freed; the XRSTORS of the
/// new program's init state would raise #GP next.
#[test]
fn naive_scheme_keeps_uinv_armed_through_exec() {
    let config = Config {
        cpus: 1,
        x2apic: true,
        tasks: vec![Role::Receiver],
    };
    let events = vec![
        Event::Schedule { cpu: 0, task: 0 },
        Event::ReturnToUser { cpu: 0, race: None },
        Event::Exec { cpu: 0 },
    ];
    let cx = replay(config, events, Scheme::Naive, KernelBugs::default());
    println!("naive scheme through exec\n{}", cx.report());
    assert!(cx.violation.contains("a freed UPID"), "{}", cx.violation);
}

/// A kernel post that sets the PIR bit and nothing else, as the module's first `Receiver::post`
/// did, is caught: a receiver running in user space on another CPU keeps the post in PIR with no
/// notification on its way, a lost wake-up.
#[test]
fn kernel_post_without_notification_is_caught() {
    let cx = counterexample(
        "kernel post without notification",
        Scheme::PostPirOnly,
        KernelBugs::default(),
    );
    assert!(cx.violation.contains("stuck"), "{}", cx.violation);
}

/// A kernel post whose notification carries the posted user vector instead of NV is caught. The
/// shortest schedule posts from an interrupt on the receiver's own CPU: the exit path replays the
/// post, but the user vector arrives through the IDT, where nothing sends it. A receiver running
/// in user space on another CPU keeps the post in PIR.
#[test]
fn kernel_post_notifying_the_user_vector_is_caught() {
    let cx = counterexample(
        "kernel post notifying the user vector",
        Scheme::PostUserVector,
        KernelBugs::default(),
    );
    assert!(
        cx.violation.contains("stuck") || cx.violation.contains("unexpected interrupt vector"),
        "{}",
        cx.violation
    );
    // With the receiver on another CPU than the post's, the post itself is stuck.
    let config = Config {
        cpus: 2,
        x2apic: true,
        tasks: vec![Role::Receiver],
    };
    let events = vec![
        Event::Schedule { cpu: 0, task: 0 },
        Event::ReturnToUser { cpu: 0, race: None },
        Event::KernelPost {
            cpu: 1,
            target: 0,
            split: false,
        },
    ];
    let cx = replay(
        config,
        events,
        Scheme::PostUserVector,
        KernelBugs::default(),
    );
    println!(
        "kernel post notifying the user vector, from another CPU\n{}",
        cx.report()
    );
    assert!(cx.violation.contains("stuck"), "{}", cx.violation);
}

/// A kernel post that reads an xAPIC NDST as an x2APIC ID is caught: the notification goes to
/// no CPU, and the post stays in PIR.
#[test]
fn kernel_post_reading_xapic_ndst_as_x2apic_is_caught() {
    let cx = counterexample(
        "kernel post reading an xAPIC NDST as x2APIC",
        Scheme::PostNdstAsX2apic,
        KernelBugs::default(),
    );
    assert!(cx.violation.contains("stuck"), "{}", cx.violation);
    assert!(!cx.config.x2apic, "{}", cx.report());
}

/// A kernel post that updates word 0 and notifies before it sets the PIR bit is caught, through
/// a post split in two events: in between, the receiver returns to user space and reads PIR
/// empty (or takes the notification with PIR empty), and the bit set afterwards waits with no
/// notification on its way.
#[test]
fn kernel_post_setting_pir_last_is_caught() {
    let cx = counterexample(
        "kernel post setting PIR last",
        Scheme::PostPirLast,
        KernelBugs::default(),
    );
    assert!(cx.violation.contains("stuck"), "{}", cx.violation);
    assert!(
        cx.events
            .iter()
            .any(|e| matches!(e, Event::KernelPost { split: true, .. })),
        "{}",
        cx.report()
    );
}
