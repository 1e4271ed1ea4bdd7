// SPDX-License-Identifier: GPL-2.0

//! The model's tests, and the search machinery they share.
//!
//! [`search`] runs a scheme over random schedules with a fixed seed (so that a failure and its
//! minimal counterexample reproduce), shrinks the first failing schedule, and replays it with
//! tracing on. `UINTR_MODEL_CASES` and `UINTR_MODEL_SEED` change the number of schedules and the
//! seed of the positive property test.

mod controls;
mod layout;
mod properties;

use std::cell::RefCell;
use std::fmt::Write as _;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{
    Config as RunnerConfig, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner,
};

use crate::module::Scheme;
use crate::sdm::Counts;
use crate::world::{Config, Event, KernelBugs, KernelPosts, Race, Role, World};

/// The seed of every search unless `UINTR_MODEL_SEED` says otherwise.
const DEFAULT_SEED: u64 = 0x5549_4e54_525f_4d44;

/// Returns the number in environment variable `name`, or `default`.
fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The shapes of runs: 1 to 3 CPUs, 1 to 5 tasks of any role.
fn config() -> impl Strategy<Value = Config> {
    let role = prop_oneof![
        3 => Just(Role::Receiver),
        3 => Just(Role::Sender),
        2 => Just(Role::Both),
        1 => Just(Role::Plain),
    ];
    (1usize..=3, any::<bool>(), vec(role, 1..=5)).prop_map(|(cpus, x2apic, tasks)| Config {
        cpus,
        x2apic,
        tasks,
    })
}

/// A racing post: SENDUIPI more often than a kernel post.
fn race() -> impl Strategy<Value = Option<Race>> {
    let race = prop_oneof![
        3 => any::<u8>().prop_map(Race::Send),
        1 => any::<u8>().prop_map(Race::Kernel),
    ];
    proptest::option::weighted(0.3, race)
}

/// One event, weighted towards the common ones.
fn event() -> impl Strategy<Value = Event> {
    let cpu = || 0u8..3;
    prop_oneof![
        10 => (cpu(), any::<u8>()).prop_map(|(cpu, task)| Event::Schedule { cpu, task }),
        2 => cpu().prop_map(|cpu| Event::Idle { cpu }),
        14 => (cpu(), race()).prop_map(|(cpu, race)| Event::ReturnToUser { cpu, race }),
        4 => cpu().prop_map(|cpu| Event::KernelFpu { cpu }),
        3 => cpu().prop_map(|cpu| Event::SyncFpstate { cpu }),
        2 => cpu().prop_map(|cpu| Event::Fork { cpu }),
        2 => cpu().prop_map(|cpu| Event::Signal { cpu }),
        2 => (cpu(), any::<bool>()).prop_map(|(cpu, ok)| Event::Sigreturn { cpu, ok }),
        1 => cpu().prop_map(|cpu| Event::Exec { cpu }),
        1 => cpu().prop_map(|cpu| Event::Exit { cpu }),
        2 => cpu().prop_map(|cpu| Event::Register { cpu }),
        1 => cpu().prop_map(|cpu| Event::Unregister { cpu }),
        16 => (cpu(), any::<u8>()).prop_map(|(cpu, target)| Event::Send { cpu, target }),
        12 => (cpu(), race()).prop_map(|(cpu, race)| Event::Interrupt { cpu, race }),
        5 => (cpu(), any::<u8>(), proptest::bool::weighted(0.25))
            .prop_map(|(cpu, target, split)| Event::KernelPost { cpu, target, split }),
        3 => cpu().prop_map(|cpu| Event::KernelPostEnd { cpu }),
        10 => cpu().prop_map(|cpu| Event::Uiret { cpu }),
    ]
}

/// A run: its shape and up to 100 events.
fn schedule() -> impl Strategy<Value = (Config, Vec<Event>)> {
    (config(), vec(event(), 1..100))
}

/// A failing schedule, shrunk, with its violation and its trace.
pub(crate) struct Counterexample {
    /// The run's shape.
    config: Config,
    /// The events.
    events: Vec<Event>,
    /// What broke.
    violation: String,
    /// The replay's trace.
    trace: Vec<String>,
}

impl Counterexample {
    /// Formats the counterexample for a test's output.
    fn report(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "violation: {}", self.violation);
        let _ = writeln!(
            s,
            "config: {} cpu(s), {}, tasks {:?}",
            self.config.cpus,
            if self.config.x2apic {
                "x2APIC"
            } else {
                "xAPIC"
            },
            self.config.tasks
        );
        let _ = writeln!(s, "events: {:?}", self.events);
        let _ = writeln!(s, "trace:");
        for line in &self.trace {
            let _ = writeln!(s, "  {line}");
        }
        s
    }
}

/// Runs one schedule; returns the world afterwards.
fn run(
    config: &Config,
    events: &[Event],
    scheme: Scheme,
    bugs: KernelBugs,
) -> (World, Result<(), String>) {
    let mut world = World::new(config, scheme, bugs);
    let result = world.run(events).map_err(|v| v.0);
    (world, result)
}

/// Replays a schedule with tracing on.
fn replay(config: Config, events: Vec<Event>, scheme: Scheme, bugs: KernelBugs) -> Counterexample {
    let mut world = World::new(&config, scheme, bugs);
    world.trace = Some(Vec::new());
    let violation = match world.run(&events) {
        Ok(()) => "none (the replay passed)".into(),
        Err(v) => v.0,
    };
    Counterexample {
        config,
        events,
        violation,
        trace: world.trace.unwrap_or_default(),
    }
}

/// Returns `race` with its number set to zero.
fn zeroed_race(race: Race) -> Race {
    match race {
        Race::Send(_) => Race::Send(0),
        Race::Kernel(_) => Race::Kernel(0),
    }
}

/// Returns `event` with its numbers set to zero, or `None` when they already are.
fn zeroed(event: Event) -> Option<Event> {
    let z = match event {
        Event::Schedule { .. } => Event::Schedule { cpu: 0, task: 0 },
        Event::Idle { .. } => Event::Idle { cpu: 0 },
        Event::ReturnToUser { race, .. } => Event::ReturnToUser {
            cpu: 0,
            race: race.map(zeroed_race),
        },
        Event::KernelFpu { .. } => Event::KernelFpu { cpu: 0 },
        Event::SyncFpstate { .. } => Event::SyncFpstate { cpu: 0 },
        Event::Fork { .. } => Event::Fork { cpu: 0 },
        Event::Signal { .. } => Event::Signal { cpu: 0 },
        Event::Sigreturn { ok, .. } => Event::Sigreturn { cpu: 0, ok },
        Event::Exec { .. } => Event::Exec { cpu: 0 },
        Event::Exit { .. } => Event::Exit { cpu: 0 },
        Event::Register { .. } => Event::Register { cpu: 0 },
        Event::Unregister { .. } => Event::Unregister { cpu: 0 },
        Event::Send { .. } => Event::Send { cpu: 0, target: 0 },
        Event::Interrupt { race, .. } => Event::Interrupt {
            cpu: 0,
            race: race.map(zeroed_race),
        },
        Event::KernelPost { split, .. } => Event::KernelPost {
            cpu: 0,
            target: 0,
            split,
        },
        Event::KernelPostEnd { .. } => Event::KernelPostEnd { cpu: 0 },
        Event::Uiret { .. } => Event::Uiret { cpu: 0 },
    };
    (z != event).then_some(z)
}

/// Shrinks a failing schedule further than proptest does, until removing any event, pair of
/// events, CPU or task, or zeroing any event's numbers, makes it pass.
fn minimize(
    mut config: Config,
    mut events: Vec<Event>,
    scheme: Scheme,
    bugs: KernelBugs,
) -> (Config, Vec<Event>) {
    let fails = |c: &Config, e: &[Event]| run(c, e, scheme, bugs).1.is_err();
    loop {
        let mut changed = false;
        for i in (0..events.len()).rev() {
            let mut shorter = events.clone();
            shorter.remove(i);
            if fails(&config, &shorter) {
                events = shorter;
                changed = true;
            }
        }
        // Events select tasks and CPUs relative to the state, so some only go in pairs.
        for i in (0..events.len()).rev() {
            for j in (i + 1..events.len()).rev() {
                if j < events.len() {
                    let mut shorter = events.clone();
                    shorter.remove(j);
                    shorter.remove(i);
                    if fails(&config, &shorter) {
                        events = shorter;
                        changed = true;
                        break;
                    }
                }
            }
        }
        if config.cpus > 1 {
            let fewer = Config {
                cpus: config.cpus - 1,
                ..config.clone()
            };
            if fails(&fewer, &events) {
                config = fewer;
                changed = true;
            }
        }
        for i in (0..config.tasks.len()).rev() {
            if config.tasks.len() > 1 {
                let mut fewer = config.clone();
                fewer.tasks.remove(i);
                if fails(&fewer, &events) {
                    config = fewer;
                    changed = true;
                }
            }
        }
        for i in 0..events.len() {
            if let Some(z) = zeroed(events[i]) {
                let mut simpler = events.clone();
                simpler[i] = z;
                if fails(&config, &simpler) {
                    events = simpler;
                    changed = true;
                }
            }
        }
        if !changed {
            return (config, events);
        }
    }
}

/// What a passing search saw, summed over its runs.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    /// Hardware counters.
    counts: Counts,
    /// Posts to live receivers, SENDUIPI and kernel posts alike.
    posted: usize,
    /// The kernel's own posts.
    kernel: KernelPosts,
    /// Deliveries.
    delivered: usize,
    /// Events that applied.
    applied: usize,
    /// Events generated.
    events: usize,
}

/// Runs `scheme` over `cases` random schedules from `seed`. Returns the totals, or the shrunk
/// first counterexample.
fn search(
    scheme: Scheme,
    bugs: KernelBugs,
    cases: u32,
    seed: u64,
) -> Result<Totals, Counterexample> {
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = RunnerConfig {
        cases,
        failure_persistence: None,
        ..RunnerConfig::default()
    };
    let mut runner = TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    );
    let totals = RefCell::new(Totals::default());
    let result = runner.run(&schedule(), |(config, events)| {
        let (world, result) = run(&config, &events, scheme, bugs);
        let mut t = totals.borrow_mut();
        let c = world.hw.counts;
        t.counts.xsaves_armed += c.xsaves_armed;
        t.counts.xrstors_arming += c.xrstors_arming;
        t.counts.wrmsr_arming += c.wrmsr_arming;
        t.counts.wrmsr_disarming += c.wrmsr_disarming;
        t.counts.notifications += c.notifications;
        t.counts.idt_notifications += c.idt_notifications;
        t.counts.collected_uirr += c.collected_uirr;
        t.counts.collected_pir += c.collected_pir;
        t.posted += world.posted;
        t.kernel.made += world.kernel.made;
        t.kernel.notified += world.kernel.notified;
        t.kernel.split += world.kernel.split;
        t.kernel.raced += world.kernel.raced;
        t.delivered += world.delivered;
        t.applied += world.applied;
        t.events += events.len();
        result.map_err(TestCaseError::fail)
    });
    match result {
        Ok(()) => Ok(totals.into_inner()),
        Err(TestError::Fail(_, (config, events))) => {
            let (config, events) = minimize(config, events, scheme, bugs);
            Err(replay(config, events, scheme, bugs))
        }
        Err(TestError::Abort(why)) => panic!("search aborted: {why}"),
    }
}
