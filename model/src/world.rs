// SPDX-License-Identifier: GPL-2.0

//! The model's Linux and the properties it checks.
//!
//! Tasks, the per-CPU FPU register ownership (`fpu_fpregs_owner_ctx`, `last_cpu`,
//! `TIF_NEED_FPU_LOAD`), and the Linux 7.2 paths that save or restore component 14: context
//! switch with lazy restore, kernel FPU use in interrupts, `fpu_sync_fpstate()`, `fpu_clone()`,
//! signal delivery and return, exec, exit, the return to user space with live or stale
//! registers, and the notification vector's IDT handler. Each path calls the module's hooks where
//! the series puts them. Posts come from senders (SENDUIPI) and from the kernel itself
//! (`Receiver::post`), into one ledger. Random schedules of [`Event`]s drive it; every step is
//! checked.

use std::fmt;
use std::sync::atomic::Ordering;

use crate::hw::{uitt::UittEntry, xstate::UintrState};
use crate::logic::{image, uitt, upid};
use crate::module::{self, ndst, Module, Receiver, Scheme, NOTIFICATION_VECTOR};
use crate::sdm::{self, Accepted, Fault, Machine, UITT_BASE, UITT_STRIDE};

/// The user-space limit of the model's tasks (4-level paging).
pub(crate) const USER_LIMIT: u64 = 0x7fff_ffff_f000;
/// The most user tasks a run has; each has a receiver slot owning eight user vectors.
pub(crate) const MAX_USER_TASKS: usize = 8;
/// Entries in each sender's UITT: entry `n` posts user vector `n` to receiver slot `n / 8`.
const UITT_ENTRIES: u32 = 64;

/// What a task starts as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// A registered receiver.
    Receiver,
    /// A sender with a UITT naming every receiver.
    Sender,
    /// Both.
    Both,
    /// Neither.
    Plain,
}

/// The shape of a run.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    /// Number of CPUs.
    pub(crate) cpus: usize,
    /// Whether the local APICs are in x2APIC mode.
    pub(crate) x2apic: bool,
    /// The user tasks at the start.
    pub(crate) tasks: Vec<Role>,
}

/// Mistakes the kernel side could make, for negative controls of the series' contract.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct KernelBugs {
    /// `exit_to_user` gets the image whenever `TIF_NEED_FPU_LOAD` is set, even when the lazy
    /// restore then skips XRSTORS because the registers are still valid.
    pub(crate) image_when_need_load: bool,
    /// `fpu_clone()` leaves the parent's component 14 in the child instead of the init state.
    pub(crate) fork_copies_uintr: bool,
    /// `uintr_xstate_lock()` invalidates this CPU's registers (`__cpu_invalidate_fpregs_state()`)
    /// instead of the task's.
    pub(crate) xstate_lock_cpu_only: bool,
    /// The save and restore hooks are filtered on the `TIF_UINTR` of the task whose fpstate is
    /// written or read instead of current's (they differ in `fpu_clone()`).
    pub(crate) hooks_by_fpstate_task: bool,
    /// XSAVES of component 14 leaves the per-CPU `uintr_exit_done` mark in place, so that a
    /// return after `fpu_sync_fpstate()` (registers saved but still live) skips `exit_to_user`.
    pub(crate) exit_done_kept_by_xsaves: bool,
}

/// A post that runs on another CPU inside a window of a step: between the module's UPID update
/// and its read of PIR on the way to user space, or between the two locked steps of notification
/// processing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Race {
    /// A sender in user space on another CPU executes SENDUIPI; the number picks the sender and
    /// the UITT entry.
    Send(u8),
    /// The kernel posts, whole, from another CPU (as [`Event::KernelPost`]); the number picks the
    /// receiver and the vector.
    Kernel(u8),
}

/// One scheduling or execution event. Numbers are reduced modulo what exists; an event that does
/// not apply in the current state does nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// Switch `cpu` to user task `task`, counted among the tasks on no CPU (context switch; the
    /// task continues in the kernel).
    Schedule {
        /// The CPU.
        cpu: u8,
        /// The task.
        task: u8,
    },
    /// Switch `cpu` to its idle kernel thread.
    Idle {
        /// The CPU.
        cpu: u8,
    },
    /// The task on `cpu` returns to user space. With `race`, a post from another CPU lands
    /// between the module's UPID update and its read of PIR.
    ReturnToUser {
        /// The CPU.
        cpu: u8,
        /// Which post races, if any.
        race: Option<Race>,
    },
    /// An interrupt handler (softirq) on `cpu` uses the FPU: `kernel_fpu_begin()`.
    KernelFpu {
        /// The CPU.
        cpu: u8,
    },
    /// The task on `cpu` enters the kernel, which calls `fpu_sync_fpstate()` (ptrace, core dump).
    SyncFpstate {
        /// The CPU.
        cpu: u8,
    },
    /// The task on `cpu` forks: `fpu_clone()`.
    Fork {
        /// The CPU.
        cpu: u8,
    },
    /// A signal is delivered to the task on `cpu`.
    Signal {
        /// The CPU.
        cpu: u8,
    },
    /// The task on `cpu` returns from a signal handler; the frame is good or corrupt.
    Sigreturn {
        /// The CPU.
        cpu: u8,
        /// Whether the frame's FPU state is good.
        ok: bool,
    },
    /// The task on `cpu` execs.
    Exec {
        /// The CPU.
        cpu: u8,
    },
    /// The task on `cpu` exits.
    Exit {
        /// The CPU.
        cpu: u8,
    },
    /// The task on `cpu` registers a handler and becomes a receiver.
    Register {
        /// The CPU.
        cpu: u8,
    },
    /// The receiver on `cpu` unregisters.
    Unregister {
        /// The CPU.
        cpu: u8,
    },
    /// The sender on `cpu`, in user space, executes SENDUIPI towards a receiver slot.
    Send {
        /// The CPU.
        cpu: u8,
        /// Which receiver slot.
        target: u8,
    },
    /// `cpu` accepts its highest pending interrupt. With `race`, a post from another CPU lands in
    /// the middle of notification processing.
    Interrupt {
        /// The CPU.
        cpu: u8,
        /// Which post races, if any.
        race: Option<Race>,
    },
    /// The kernel posts a user vector of a live receiver itself (`Receiver::post`: the last
    /// counting fd of a polled vector closed, a kernel timer, a watched fd): it sets the PIR bit
    /// with a locked OR, then updates word 0 with `upid::post` in a compare-exchange and sends
    /// the notification `upid::post_notifies` asks for. The post runs on `cpu` in whatever
    /// context the CPU is in; when that is user space, it runs in an interrupt, which returns
    /// through the exit path. `target` picks the receiver and the vector. With `split` (and more
    /// than one CPU) only the first half, the PIR bit, runs now: the second half, the
    /// compare-exchange and the notification, waits for [`Event::KernelPostEnd`] on the same
    /// CPU, which does nothing else meanwhile, while the other CPUs go on.
    KernelPost {
        /// The CPU.
        cpu: u8,
        /// Which receiver and vector.
        target: u8,
        /// Whether the post stops after its first half.
        split: bool,
    },
    /// `cpu` finishes the kernel post it split: the update of word 0 and the notification.
    KernelPostEnd {
        /// The CPU.
        cpu: u8,
    },
    /// The task on `cpu`, in user space, executes UIRET or STUI.
    Uiret {
        /// The CPU.
        cpu: u8,
    },
}

/// A property the run broke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Violation(pub String);

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Fault> for Violation {
    fn from(fault: Fault) -> Self {
        Violation(match fault {
            Fault::XrstorsUinvArmed { uinv } => {
                format!("XRSTORS raised #GP: UINV {uinv:#x} armed in IA32_UINTR_MISC")
            }
            Fault::XrstorsBadImage(why) => format!("XRSTORS raised #GP: {why}"),
            Fault::Wrmsr { msr, value } => format!("WRMSR {msr:#x} <- {value:#x} raised #GP"),
            Fault::Senduipi(why) => format!("SENDUIPI raised #GP in a sender: {why}"),
            Fault::WildUpid { pd } => {
                format!("notification processing wrote to {pd:#x}, which is no UPID")
            }
        })
    }
}

/// A kernel post whose first half (the PIR bit) ran and whose second half (the update of word 0
/// and the notification) has not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct InFlight {
    /// The UPID's address.
    upid_addr: u64,
    /// The user vector.
    vector: u8,
    /// Whether the post interrupted user space, so that it returns through the exit path.
    from_user: bool,
}

/// How often the kernel posted, to show that the schedules reach every path.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct KernelPosts {
    /// Kernel posts to live receivers.
    pub(crate) made: usize,
    /// Kernel posts whose update of word 0 asked for a notification.
    pub(crate) notified: usize,
    /// Kernel posts made in two events ([`Event::KernelPost`] with `split`).
    pub(crate) split: usize,
    /// Kernel posts made inside a window of another CPU's step ([`Race::Kernel`]).
    pub(crate) raced: usize,
}

/// What a racing post does, once picked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RacePlan {
    /// SENDUIPI `index` by the sender on `cpu`.
    Send {
        /// The sender's CPU.
        cpu: usize,
        /// The UITT index.
        index: u64,
    },
    /// A kernel post of user vector `vector` to the UPID at `upid_addr`.
    Kernel {
        /// The UPID's address.
        upid_addr: u64,
        /// The user vector.
        vector: u8,
    },
}

/// A sender's UITT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Sender {
    /// Index of the table in the machine's memory.
    uitt: usize,
}

/// A task of the model's Linux.
#[derive(Clone, Debug)]
struct Task {
    /// The name traces use.
    name: String,
    /// Kernel threads own no FPU user state.
    kthread: bool,
    /// Cleared when the task exits.
    alive: bool,
    /// Whether the task runs in user space (only while on a CPU).
    user: bool,
    /// The CPU the task runs on.
    on_cpu: Option<usize>,
    /// `TIF_NEED_FPU_LOAD`.
    need_fpu_load: bool,
    /// `fpu->last_cpu`.
    last_cpu: Option<usize>,
    /// Component 14 in the task's fpstate; `None` is the init state.
    image: Option<UintrState>,
    /// `TIF_UINTR`: the module is attached.
    tif_uintr: bool,
    /// The receiver the module attached.
    receiver: Option<Receiver>,
    /// The sender state the module attached.
    sender: Option<Sender>,
    /// The receiver slot a registration uses.
    slot: Option<usize>,
}

/// The model's world: machine, kernel, module, and the ledger of posts.
pub(crate) struct World {
    /// The hardware.
    pub(crate) hw: Machine,
    /// The module.
    pub(crate) module: Module,
    /// Kernel-side mistakes to inject.
    pub(crate) bugs: KernelBugs,
    /// Tasks; the first `cpus` are the idle threads.
    tasks: Vec<Task>,
    /// `fpu_fpregs_owner_ctx` per CPU.
    owner: Vec<Option<usize>>,
    /// The current task per CPU.
    current: Vec<usize>,
    /// `uintr_exit_done` per CPU: the task whose return to user space skips `exit_to_user`
    /// there, as long as its registers are live.
    exit_done: Vec<Option<usize>>,
    /// Posted and not yet delivered user vectors of live receivers (bit = vector).
    pending: u64,
    /// A violation found where no `Result` can carry it (inside XSAVES), reported by the next
    /// check.
    broken: Option<Violation>,
    /// Number of user tasks created so far.
    user_tasks: usize,
    /// Trace lines, when tracing.
    pub(crate) trace: Option<Vec<String>>,
    /// Deliveries so far.
    pub(crate) delivered: usize,
    /// Posts to live receivers so far, SENDUIPI and kernel posts alike.
    pub(crate) posted: usize,
    /// The kernel's own posts so far.
    pub(crate) kernel: KernelPosts,
    /// The kernel post each CPU has split and not finished.
    in_flight: Vec<Option<InFlight>>,
    /// Events that applied so far.
    pub(crate) applied: usize,
}

/// Appends a formatted line to the world's trace, when it traces.
macro_rules! trace {
    ($w:expr, $($arg:tt)*) => {
        if $w.trace.is_some() {
            let line = format!($($arg)*);
            if let Some(trace) = $w.trace.as_mut() {
                trace.push(line);
            }
        }
    };
}

/// The eight user vectors of receiver `slot`.
fn slot_mask(slot: usize) -> u64 {
    0xff << (slot * 8)
}

/// The handler address of receiver `slot` (any user address does).
fn handler_addr(slot: usize) -> u64 {
    0x40_1000 + 0x100 * slot as u64
}

impl World {
    /// Builds the world at the start of a run.
    pub(crate) fn new(config: &Config, scheme: Scheme, bugs: KernelBugs) -> Self {
        let cpus = config.cpus;
        let mut w = World {
            hw: Machine::new(cpus, config.x2apic),
            module: Module::new(scheme, cpus),
            bugs,
            tasks: Vec::new(),
            owner: vec![None; cpus],
            current: (0..cpus).collect(),
            exit_done: vec![None; cpus],
            pending: 0,
            broken: None,
            user_tasks: 0,
            trace: None,
            delivered: 0,
            posted: 0,
            kernel: KernelPosts::default(),
            in_flight: vec![None; cpus],
            applied: 0,
        };
        for cpu in 0..cpus {
            w.tasks.push(Task {
                name: format!("idle{cpu}"),
                kthread: true,
                alive: true,
                user: false,
                on_cpu: Some(cpu),
                need_fpu_load: true,
                last_cpu: None,
                image: None,
                tif_uintr: false,
                receiver: None,
                sender: None,
                slot: None,
            });
        }
        for role in config.tasks.iter().take(MAX_USER_TASKS) {
            let t = w.new_user_task(match role {
                Role::Receiver => 'R',
                Role::Sender => 'S',
                Role::Both => 'B',
                Role::Plain => 'P',
            });
            if matches!(role, Role::Sender | Role::Both) {
                w.make_sender(t);
            }
        }
        for (t, role) in config.tasks.iter().take(MAX_USER_TASKS).enumerate() {
            if matches!(role, Role::Receiver | Role::Both) {
                // Registered earlier, set UIF, then switched out: the image holds the receiver.
                let task = cpus + t;
                let mut img = w.tasks[task].image.unwrap_or_default();
                img.misc |= sdm::IMAGE_UIF;
                let _ = w.register_into(task, &mut img, 0);
                w.tasks[task].image = Some(img);
            }
        }
        w
    }

    /// Creates a user task named after `kind`; returns its index.
    fn new_user_task(&mut self, kind: char) -> usize {
        let slot = self.user_tasks;
        self.user_tasks += 1;
        self.tasks.push(Task {
            name: format!("{kind}{slot}"),
            kthread: false,
            alive: true,
            user: false,
            on_cpu: None,
            need_fpu_load: true,
            last_cpu: None,
            image: None,
            tif_uintr: false,
            receiver: None,
            sender: None,
            slot: Some(slot),
        });
        self.tasks.len() - 1
    }

    /// Gives task `t` a UITT naming every live receiver (done before the run starts).
    fn make_sender(&mut self, t: usize) {
        self.hw
            .uitts
            .push(vec![UittEntry::INVALID; UITT_ENTRIES as usize]);
        let uitt = self.hw.uitts.len() - 1;
        let mut img = self.tasks[t].image.unwrap_or_default();
        let addr = UITT_BASE + UITT_STRIDE * uitt as u64;
        image::install_sender(&mut img, addr, UITT_ENTRIES).expect("valid UITT");
        self.tasks[t].image = Some(img);
        self.tasks[t].sender = Some(Sender { uitt });
        self.set_tif_uintr(t, true);
    }

    /// Whether `fpregs_state_valid(fpu, cpu)`: the registers on `cpu` are `t`'s.
    fn state_valid(&self, t: usize, cpu: usize) -> bool {
        self.owner[cpu] == Some(t) && self.tasks[t].last_cpu == Some(cpu)
    }

    /// XSAVES on `cpu` into the fpstate of `into`, then the `after_xsaves` hook.
    fn xsaves(&mut self, cpu: usize, into: usize) {
        let before = self.hw.cpus[cpu].uinv();
        let img = self.hw.xsaves(cpu);
        self.tasks[into].image = img;
        trace!(
            self,
            "    XSAVES into {}: saved UINV {before:#x}",
            self.tasks[into].name
        );
        // The registers saved are the current task's (for fork, the parent's, saved into the
        // child's fpstate).
        let owner = self.current[cpu];
        if !self.hooks_wanted(cpu, into) {
            trace!(self, "    (save hook skipped: no UINTR state here)");
            return;
        }
        if !self.bugs.exit_done_kept_by_xsaves {
            self.exit_done[cpu] = None;
        }
        let receiver = self.tasks[owner].receiver;
        let taken =
            self.module
                .after_xsaves(&mut self.hw, cpu, self.tasks[into].image.as_mut(), receiver);
        match taken {
            Ok(0) => {}
            Ok(bits) => {
                trace!(
                    self,
                    "    after_xsaves: UIRR {bits:#x} counted on the vector fds"
                );
                self.hw.counts.collected_uirr += bits.count_ones() as usize;
                if let Err(v) = self.collected(owner, bits) {
                    self.broken.get_or_insert(v);
                }
            }
            Err(fault) => {
                self.broken.get_or_insert(fault.into());
            }
        }
    }

    /// Books `bits`, taken for the vector fds of `t`'s receiver, against the posts.
    fn collected(&mut self, t: usize, bits: u64) -> Result<(), Violation> {
        let name = &self.tasks[t].name;
        let Some(r) = self.tasks[t].receiver else {
            return Err(Violation(format!(
                "user interrupts {bits:#x} counted for {name}, which is no receiver"
            )));
        };
        if bits & !slot_mask(r.slot) != 0 {
            return Err(Violation(format!(
                "user interrupts {bits:#x} counted for {name}, whose vectors they are not"
            )));
        }
        if bits & !self.pending != 0 {
            return Err(Violation(format!(
                "user interrupts {bits:#x} counted for {name} without posts of their own \
                 (twice, or stale)"
            )));
        }
        self.pending &= !bits;
        self.delivered += bits.count_ones() as usize;
        Ok(())
    }

    /// Whether the kernel calls the save and restore hooks on `cpu` for an XSAVES into, or an
    /// XRSTORS from, the fpstate of `task`: only while the current task has `TIF_UINTR`
    /// (`uintr_xstate_hooks_on()`).
    fn hooks_wanted(&self, cpu: usize, task: usize) -> bool {
        if self.bugs.hooks_by_fpstate_task {
            return self.tasks[task].tif_uintr;
        }
        self.tasks[self.current[cpu]].tif_uintr
    }

    /// The `before_xrstors` hook, then XRSTORS on `cpu` from the fpstate of `from`.
    fn xrstors(&mut self, cpu: usize, from: usize) -> Result<(), Violation> {
        let img = self.tasks[from].image;
        if self.hooks_wanted(cpu, from) {
            self.exit_done[cpu] = None;
            self.module
                .before_xrstors(&mut self.hw, cpu, img.as_ref())?;
        } else {
            trace!(self, "    (restore hook skipped: no UINTR state here)");
        }
        let armed = self.hw.cpus[cpu].uinv();
        let loads = img.map_or(0, |i| sdm::misc_uinv(i.misc));
        trace!(
            self,
            "    XRSTORS from {}: MSR UINV {armed:#x}, image UINV {loads:#x}",
            self.tasks[from].name
        );
        self.hw.xrstors(cpu, img.as_ref())?;
        Ok(())
    }

    /// `fpregs_restore_userregs()`.
    fn restore_userregs(&mut self, cpu: usize, t: usize) -> Result<(), Violation> {
        if !self.state_valid(t, cpu) {
            self.xrstors(cpu, t)?;
            self.owner[cpu] = Some(t);
            self.tasks[t].last_cpu = Some(cpu);
        } else {
            trace!(self, "    registers still valid: no XRSTORS");
        }
        self.tasks[t].need_fpu_load = false;
        Ok(())
    }

    /// `fpregs_mark_activate()`.
    fn mark_activate(&mut self, cpu: usize, t: usize) {
        self.owner[cpu] = Some(t);
        self.tasks[t].last_cpu = Some(cpu);
        self.tasks[t].need_fpu_load = false;
    }

    /// `switch_fpu()` for `prev` leaving `cpu`.
    fn switch_fpu(&mut self, cpu: usize, prev: usize) {
        if !self.tasks[prev].need_fpu_load && !self.tasks[prev].kthread {
            self.tasks[prev].need_fpu_load = true;
            self.xsaves(cpu, prev);
            self.tasks[prev].last_cpu = Some(cpu);
        }
    }

    /// The series' `uintr_xstate_lock()`: save and invalidate live registers, mark component 14
    /// present.
    ///
    /// The invalidation must be the task's (`__fpu_invalidate_fpregs_state()`, `last_cpu = -1`),
    /// not this CPU's: registers the task left on another CPU would otherwise still count as
    /// valid there, and a lazy restore would skip the XRSTORS that loads the change.
    fn xstate_lock(&mut self, cpu: usize, t: usize) {
        if !self.tasks[t].need_fpu_load {
            self.tasks[t].need_fpu_load = true;
            self.xsaves(cpu, t);
        }
        if self.bugs.xstate_lock_cpu_only {
            self.owner[cpu] = None;
        } else {
            self.tasks[t].last_cpu = None;
        }
        if self.tasks[t].image.is_none() {
            self.tasks[t].image = Some(UintrState::default());
        }
    }

    /// The module's registration of task `t` into `img`: allocates the UPID, installs the
    /// receiver and fills the senders' UITT entries. Returns whether it registered.
    fn register_into(&mut self, t: usize, img: &mut UintrState, cpu: usize) -> bool {
        let Some(slot) = self.tasks[t].slot else {
            return false;
        };
        let status = upid::initial(NOTIFICATION_VECTOR, ndst(&self.hw, cpu));
        let addr = self.hw.alloc_upid(status, slot);
        let handler =
            image::Handler::new(handler_addr(slot), 128, USER_LIMIT).expect("valid handler");
        image::install_receiver(img, handler, addr).expect("valid UPID");
        self.module.registered(img);
        for task in &self.tasks {
            if let (true, Some(s)) = (task.alive, task.sender) {
                for v in slot * 8..slot * 8 + 8 {
                    let entry = uitt::entry(v as u8, addr).expect("valid entry");
                    self.hw.uitts[s.uitt][v] = entry;
                }
            }
        }
        self.tasks[t].receiver = Some(Receiver {
            upid_addr: addr,
            slot,
        });
        self.set_tif_uintr(t, true);
        self.pending &= !slot_mask(slot);
        true
    }

    /// The module lets task `t`'s receiver go on `cpu` (exit, exec, unregister).
    fn release_receiver(&mut self, cpu: usize, t: usize) -> Result<(), Violation> {
        if let Some(r) = self.tasks[t].receiver.take() {
            self.module.release(&mut self.hw, cpu, r)?;
            self.hw.free_upid(r.upid_addr);
            trace!(
                self,
                "    module lets the UPID go: MSR UINV {:#x}, PD {:#x}",
                self.hw.cpus[cpu].uinv(),
                self.hw.cpus[cpu].pd
            );
            self.pending &= !slot_mask(r.slot);
        }
        self.set_tif_uintr(t, self.tasks[t].sender.is_some());
        Ok(())
    }

    /// Sets or clears `TIF_UINTR` of task `t` (`uintr_task_attach()`, `uintr_task_detach()`),
    /// which clears the `uintr_exit_done` mark of the CPU it runs on.
    fn set_tif_uintr(&mut self, t: usize, on: bool) {
        self.tasks[t].tif_uintr = on;
        if let Some(cpu) = self.tasks[t].on_cpu {
            self.exit_done[cpu] = None;
        }
    }

    /// Returns the current task of `cpu` if it is a live user task.
    fn current_user(&self, cpu: usize) -> Option<usize> {
        let t = self.current[cpu];
        (!self.tasks[t].kthread && self.tasks[t].alive).then_some(t)
    }

    /// Context switch on `cpu` to `next`.
    fn switch_to(&mut self, cpu: usize, next: usize) {
        let prev = self.current[cpu];
        trace!(
            self,
            "  cpu{cpu}: switch {} -> {}",
            self.tasks[prev].name,
            self.tasks[next].name
        );
        if self.tasks[prev].tif_uintr {
            if let Some(r) = self.tasks[prev].receiver {
                self.module.switch_out(&self.hw, r);
            }
        }
        self.switch_fpu(cpu, prev);
        self.tasks[prev].on_cpu = None;
        self.tasks[prev].user = false;
        self.current[cpu] = next;
        self.tasks[next].on_cpu = Some(cpu);
        self.tasks[next].user = false;
    }

    /// The return to user space of the current task of `cpu` (`exit_to_user_mode_prepare()`).
    fn return_to_user(&mut self, cpu: usize, race: Option<Race>) -> Result<(), Violation> {
        let Some(t) = self.current_user(cpu) else {
            return Ok(());
        };
        if self.tasks[t].user {
            return Ok(());
        }
        trace!(
            self,
            "  cpu{cpu}: {} returns to user space",
            self.tasks[t].name
        );
        if self.tasks[t].tif_uintr && self.tasks[t].receiver.is_some() {
            self.module.task_work(&mut self.hw, cpu)?;
            if self.module.scheme == Scheme::TaskWork {
                trace!(
                    self,
                    "    task_work: MSR UINV {:#x}",
                    self.hw.cpus[cpu].uinv()
                );
            }
        }
        // The common return: nothing saved or restored the registers since the last one.
        let skip = self.tasks[t].tif_uintr
            && !self.tasks[t].need_fpu_load
            && self.exit_done[cpu] == Some(t);
        if skip {
            trace!(self, "    exit_to_user skipped: uintr_exit_done names it");
        }
        if let (false, true, Some(r)) = (skip, self.tasks[t].tif_uintr, self.tasks[t].receiver) {
            let need = self.tasks[t].need_fpu_load;
            let live = if self.bugs.image_when_need_load {
                !need
            } else {
                !need || self.state_valid(t, cpu)
            };
            if !live && self.tasks[t].image.is_none() {
                self.tasks[t].image = Some(UintrState::default());
            }
            let plan = race.and_then(|race| self.race_plan(cpu, race));
            let mut race_result = Ok(None);
            let scheme = self.module.scheme;
            let pending = &mut self.pending;
            let posted = &mut self.posted;
            let kernel = &mut self.kernel;
            let mut racer = |hw: &mut Machine| {
                if let Some(plan) = plan {
                    race_result = race_post(hw, pending, posted, kernel, scheme, plan);
                }
            };
            let image = if live {
                None
            } else {
                self.tasks[t].image.as_mut()
            };
            let replays = self.hw.cpus[cpu].irr.contains(&NOTIFICATION_VECTOR);
            let taken = self
                .module
                .exit_to_user(&mut self.hw, cpu, r, image, need, &mut racer)?;
            let sent = race_result?;
            if taken != 0 {
                trace!(
                    self,
                    "    exit_to_user: PIR {taken:#x} counted on the vector fds"
                );
                self.hw.counts.collected_pir += taken.count_ones() as usize;
                self.collected(t, taken)?;
            }
            match plan {
                Some(RacePlan::Send { cpu: scpu, index }) => trace!(
                    self,
                    "    SENDUIPI {index} on cpu{scpu} races with exit_to_user"
                ),
                Some(RacePlan::Kernel { vector, .. }) => trace!(
                    self,
                    "    kernel post of user vector {vector} on another CPU races with \
                     exit_to_user: {}",
                    notification(sent)
                ),
                None => {}
            }
            if !replays && self.hw.cpus[cpu].irr.contains(&NOTIFICATION_VECTOR) {
                trace!(self, "    exit_to_user: PIR not empty, self-IPI");
            }
            if live {
                trace!(
                    self,
                    "    exit_to_user(registers live): MSR UINV {:#x}",
                    self.hw.cpus[cpu].uinv()
                );
            } else {
                let uinv = self.tasks[t].image.map_or(0, |i| sdm::misc_uinv(i.misc));
                trace!(self, "    exit_to_user(image): image UINV {uinv:#x}");
            }
        }
        if self.tasks[t].need_fpu_load {
            self.restore_userregs(cpu, t)?;
        }
        if self.tasks[t].tif_uintr {
            self.exit_done[cpu] = Some(t);
        }
        self.tasks[t].user = true;
        self.check_user(cpu)
    }

    /// Returns the CPU `event` happens on: its CPU number selects among the CPUs where the
    /// event can happen, so that few events are wasted. `None` when there is none.
    fn event_cpu(&self, event: Event) -> Option<usize> {
        let user_task = |c: usize| self.current_user(c);
        let in_user = |c: usize| user_task(c).is_some_and(|t| self.tasks[t].user);
        let (sel, can): (u8, Box<dyn Fn(usize) -> bool + '_>) = match event {
            Event::Schedule { cpu, .. }
            | Event::KernelFpu { cpu }
            | Event::KernelPost { cpu, .. } => (cpu, Box::new(|_| true)),
            Event::KernelPostEnd { cpu } => (cpu, Box::new(|c| self.in_flight[c].is_some())),
            Event::Idle { cpu } => (cpu, Box::new(|c| self.current[c] != c)),
            Event::ReturnToUser { cpu, .. } => {
                (cpu, Box::new(|c| user_task(c).is_some() && !in_user(c)))
            }
            Event::Send { cpu, .. } => (
                cpu,
                Box::new(|c| {
                    in_user(c) && user_task(c).is_some_and(|t| self.tasks[t].sender.is_some())
                }),
            ),
            Event::Interrupt { cpu, .. } => (cpu, Box::new(|c| !self.hw.cpus[c].irr.is_empty())),
            Event::Uiret { cpu } => (cpu, Box::new(|c| in_user(c) && !self.hw.cpus[c].uif)),
            Event::SyncFpstate { cpu }
            | Event::Fork { cpu }
            | Event::Signal { cpu }
            | Event::Sigreturn { cpu, .. }
            | Event::Exec { cpu }
            | Event::Exit { cpu }
            | Event::Register { cpu }
            | Event::Unregister { cpu } => (cpu, Box::new(|c| user_task(c).is_some())),
        };
        // A CPU in the middle of a kernel post does nothing else until it finishes.
        let busy =
            |c: usize| self.in_flight[c].is_some() && !matches!(event, Event::KernelPostEnd { .. });
        let cpus: Vec<usize> = (0..self.hw.cpus.len())
            .filter(|&c| can(c) && !busy(c))
            .collect();
        cpus.get(usize::from(sel) % cpus.len().max(1)).copied()
    }

    /// Applies one event.
    pub(crate) fn step(&mut self, event: Event) -> Result<(), Violation> {
        let Some(cpu) = self.event_cpu(event) else {
            return Ok(());
        };
        self.applied += 1;
        match event {
            Event::Schedule { task, .. } => {
                let runnable: Vec<usize> = (0..self.tasks.len())
                    .filter(|&t| {
                        let task = &self.tasks[t];
                        !task.kthread && task.alive && task.on_cpu.is_none()
                    })
                    .collect();
                if let Some(&next) = runnable.get(usize::from(task) % runnable.len().max(1)) {
                    self.switch_to(cpu, next);
                }
            }
            Event::Idle { .. } => {
                if self.current[cpu] != cpu {
                    self.switch_to(cpu, cpu);
                }
            }
            Event::ReturnToUser { race, .. } => self.return_to_user(cpu, race)?,
            Event::KernelFpu { .. } => {
                let t = self.current[cpu];
                trace!(
                    self,
                    "  cpu{cpu}: interrupt uses the FPU (kernel_fpu_begin)"
                );
                if !self.tasks[t].kthread && !self.tasks[t].need_fpu_load {
                    self.tasks[t].need_fpu_load = true;
                    self.xsaves(cpu, t);
                }
                self.owner[cpu] = None;
                if self.tasks[t].user {
                    // The interrupt returns to user space through the exit path.
                    self.tasks[t].user = false;
                    self.return_to_user(cpu, None)?;
                }
            }
            Event::SyncFpstate { .. } => {
                if let Some(t) = self.current_user(cpu) {
                    trace!(
                        self,
                        "  cpu{cpu}: {} in kernel: fpu_sync_fpstate",
                        self.tasks[t].name
                    );
                    self.tasks[t].user = false;
                    if !self.tasks[t].need_fpu_load {
                        self.xsaves(cpu, t);
                    }
                }
            }
            Event::Fork { .. } => self.fork(cpu)?,
            Event::Signal { .. } => {
                if let Some(t) = self.current_user(cpu) {
                    trace!(
                        self,
                        "  cpu{cpu}: signal delivery to {}",
                        self.tasks[t].name
                    );
                    self.tasks[t].user = false;
                    // copy_fpstate_to_sigframe(), then fpu__clear_user_states().
                    if self.tasks[t].need_fpu_load {
                        self.restore_userregs(cpu, t)?;
                    }
                    if !self.state_valid(t, cpu) {
                        self.xrstors(cpu, t)?;
                    }
                    self.mark_activate(cpu, t);
                }
            }
            Event::Sigreturn { ok, .. } => {
                if let Some(t) = self.current_user(cpu) {
                    trace!(
                        self,
                        "  cpu{cpu}: {} sigreturn (frame ok: {ok})",
                        self.tasks[t].name
                    );
                    self.tasks[t].user = false;
                    if ok {
                        // The user XRSTOR from the frame leaves component 14 alone; the
                        // supervisor state follows from the fpstate.
                        if self.tasks[t].need_fpu_load {
                            self.xrstors(cpu, t)?;
                        }
                    } else {
                        if self.tasks[t].need_fpu_load {
                            self.owner[cpu] = None;
                        }
                        if !self.state_valid(t, cpu) {
                            self.xrstors(cpu, t)?;
                        }
                    }
                    self.mark_activate(cpu, t);
                }
            }
            Event::Exec { .. } => {
                if let Some(t) = self.current_user(cpu) {
                    trace!(self, "  cpu{cpu}: {} execs", self.tasks[t].name);
                    self.tasks[t].user = false;
                    if self.tasks[t].tif_uintr {
                        self.release_receiver(cpu, t)?;
                        self.tasks[t].sender = None;
                        self.set_tif_uintr(t, false);
                    }
                    // fpu_flush_thread(): the image is reset, the registers invalidated.
                    self.tasks[t].image = None;
                    self.tasks[t].need_fpu_load = true;
                    self.tasks[t].last_cpu = None;
                }
            }
            Event::Exit { .. } => {
                if let Some(t) = self.current_user(cpu) {
                    trace!(self, "  cpu{cpu}: {} exits", self.tasks[t].name);
                    self.tasks[t].user = false;
                    // exit_thread(): the task_release hook, then fpu__drop().
                    if self.tasks[t].tif_uintr {
                        self.release_receiver(cpu, t)?;
                        self.tasks[t].sender = None;
                        self.set_tif_uintr(t, false);
                    }
                    if !self.tasks[t].need_fpu_load && self.owner[cpu] == Some(t) {
                        self.owner[cpu] = None;
                    }
                    // The final schedule.
                    self.switch_to(cpu, cpu);
                    self.tasks[t].alive = false;
                }
            }
            Event::Register { .. } => {
                if let Some(t) = self.current_user(cpu) {
                    if self.tasks[t].receiver.is_none() && self.tasks[t].slot.is_some() {
                        trace!(
                            self,
                            "  cpu{cpu}: {} registers a handler",
                            self.tasks[t].name
                        );
                        self.tasks[t].user = false;
                        self.xstate_lock(cpu, t);
                        let mut img = self.tasks[t].image.unwrap_or_default();
                        self.register_into(t, &mut img, cpu);
                        self.tasks[t].image = Some(img);
                    }
                }
            }
            Event::Unregister { .. } => {
                if let Some(t) = self.current_user(cpu) {
                    if self.tasks[t].receiver.is_some() {
                        trace!(
                            self,
                            "  cpu{cpu}: {} unregisters its handler",
                            self.tasks[t].name
                        );
                        self.tasks[t].user = false;
                        self.xstate_lock(cpu, t);
                        if let Some(img) = self.tasks[t].image.as_mut() {
                            image::remove_receiver(img);
                        }
                        self.release_receiver(cpu, t)?;
                    } else if self.tasks[t].sender.is_some() {
                        trace!(self, "  cpu{cpu}: {} gives up sending", self.tasks[t].name);
                        self.tasks[t].user = false;
                        self.xstate_lock(cpu, t);
                        if let Some(img) = self.tasks[t].image.as_mut() {
                            image::remove_sender(img);
                        }
                        self.tasks[t].sender = None;
                        self.set_tif_uintr(t, false);
                    }
                }
            }
            Event::Send { target, .. } => self.send(cpu, target)?,
            Event::Interrupt { race, .. } => self.interrupt(cpu, race)?,
            Event::KernelPost { target, split, .. } => self.kernel_post(cpu, target, split)?,
            Event::KernelPostEnd { .. } => self.kernel_post_end(cpu)?,
            Event::Uiret { .. } => {
                if self.current_user(cpu).is_some_and(|t| self.tasks[t].user) {
                    self.hw.uiret(cpu);
                }
            }
        }
        self.deliver_all()?;
        self.check_all()
    }

    /// Picks the post that races with a step on `cpu`: for [`Race::Send`], a sender in user
    /// space on another CPU and an index of its UITT; for [`Race::Kernel`], a receiver's vector,
    /// posted by another CPU that is not in the middle of a kernel post of its own.
    fn race_plan(&self, cpu: usize, race: Race) -> Option<RacePlan> {
        match race {
            Race::Send(pick) => self
                .send_race(cpu, pick)
                .map(|(cpu, index)| RacePlan::Send { cpu, index }),
            Race::Kernel(pick) => {
                let other =
                    (0..self.hw.cpus.len()).any(|c| c != cpu && self.in_flight[c].is_none());
                let (upid_addr, vector) = self.kernel_target(pick).filter(|_| other)?;
                Some(RacePlan::Kernel { upid_addr, vector })
            }
        }
    }

    /// Picks the receiver and the user vector of a kernel post: `pick` selects among the live
    /// receivers, then among their eight vectors. `None` when there is no receiver, or the vector
    /// has a post pending: the kernel, like a sender, posts it again only after its delivery, so
    /// that every delivery matches exactly one post.
    fn kernel_target(&self, pick: u8) -> Option<(u64, u8)> {
        let receivers: Vec<Receiver> = self
            .tasks
            .iter()
            .filter(|t| t.alive)
            .filter_map(|t| t.receiver)
            .collect();
        let r = receivers.get(usize::from(pick) % receivers.len().max(1))?;
        let vector = (r.slot * 8 + usize::from(pick) / receivers.len() % 8) as u8;
        (self.pending & 1 << vector == 0).then_some((r.upid_addr, vector))
    }

    /// A kernel post on `cpu` ([`Event::KernelPost`]).
    fn kernel_post(&mut self, cpu: usize, target: u8, split: bool) -> Result<(), Violation> {
        let Some((upid_addr, vector)) = self.kernel_target(target) else {
            return Ok(());
        };
        let t = self.current[cpu];
        let from_user = self.tasks[t].user;
        let split = split && self.hw.cpus.len() > 1;
        self.tasks[t].user = false;
        let sent = kernel_post_begin(
            &mut self.hw,
            &mut self.pending,
            &mut self.posted,
            &mut self.kernel,
            self.module.scheme,
            upid_addr,
            vector,
        );
        trace!(
            self,
            "  cpu{cpu}: kernel post of user vector {vector} ({}){}{}",
            if from_user {
                "interrupt from user space"
            } else {
                "kernel context"
            },
            if split { ", first half only" } else { "" },
            match sent {
                Some(_) => format!(": {}", notification(sent)),
                None => String::new(),
            }
        );
        self.in_flight[cpu] = Some(InFlight {
            upid_addr,
            vector,
            from_user,
        });
        if split {
            self.kernel.split += 1;
            return Ok(());
        }
        self.kernel_post_end(cpu)
    }

    /// The end of the kernel post on `cpu`: the update of word 0 and the notification, then the
    /// exit path if the post interrupted user space.
    fn kernel_post_end(&mut self, cpu: usize) -> Result<(), Violation> {
        let Some(p) = self.in_flight[cpu].take() else {
            return Ok(());
        };
        let sent = kernel_post_end(
            &mut self.hw,
            &mut self.kernel,
            self.module.scheme,
            p.upid_addr,
            p.vector,
        );
        trace!(
            self,
            "  cpu{cpu}: kernel post of user vector {} ends: {}",
            p.vector,
            notification(sent)
        );
        if p.from_user {
            self.return_to_user(cpu, None)?;
        }
        Ok(())
    }

    /// Picks the racing SENDUIPI of [`Race::Send`] on `cpu`: a sender in user space on another
    /// CPU, and an index of its UITT. Returns the sender's CPU and the index.
    fn send_race(&self, cpu: usize, pick: u8) -> Option<(usize, u64)> {
        let senders: Vec<(usize, Sender)> = (0..self.hw.cpus.len())
            .filter(|&c| c != cpu)
            .filter_map(|c| {
                let t = self.current[c];
                let task = &self.tasks[t];
                task.sender.filter(|_| task.user).map(|s| (c, s))
            })
            .collect();
        let (scpu, s) = *senders.get(usize::from(pick) % senders.len().max(1))?;
        let valid: Vec<usize> = (0..UITT_ENTRIES as usize)
            .filter(|&i| self.hw.uitts[s.uitt][i] != UittEntry::INVALID)
            .collect();
        let index = *valid.get(usize::from(pick) / senders.len() % valid.len().max(1))?;
        let uv = (self.hw.uitts[s.uitt][index].flags >> sdm::UITTE_UV_SHIFT) & 0x3f;
        (self.pending & 1 << uv == 0).then_some((scpu, index as u64))
    }

    /// `fpu_clone()` for the current task of `cpu`.
    fn fork(&mut self, cpu: usize) -> Result<(), Violation> {
        let Some(t) = self.current_user(cpu) else {
            return Ok(());
        };
        if self.user_tasks >= MAX_USER_TASKS {
            return Ok(());
        }
        trace!(self, "  cpu{cpu}: {} forks", self.tasks[t].name);
        self.tasks[t].user = false;
        let child = self.new_user_task('C');
        if self.tasks[t].need_fpu_load {
            self.restore_userregs(cpu, t)?;
        }
        // save_fpregs_to_fpstate(dst_fpu): the parent's registers stay valid.
        self.xsaves(cpu, child);
        if !self.bugs.fork_copies_uintr {
            self.tasks[child].image = None;
        }
        Ok(())
    }

    /// SENDUIPI by the current task of `cpu`.
    fn send(&mut self, cpu: usize, target: u8) -> Result<(), Violation> {
        let Some(t) = self.current_user(cpu) else {
            return Ok(());
        };
        let Some(s) = self.tasks[t].sender else {
            return Ok(());
        };
        if !self.tasks[t].user {
            return Ok(());
        }
        let valid: Vec<usize> = (0..UITT_ENTRIES as usize)
            .filter(|&i| self.hw.uitts[s.uitt][i] != UittEntry::INVALID)
            .collect();
        if valid.is_empty() {
            return Ok(());
        }
        let index = valid[usize::from(target) % valid.len()];
        // The sender waits until its previous post of this vector was handled, so that every
        // delivery matches exactly one post.
        let uv = (self.hw.uitts[s.uitt][index].flags >> sdm::UITTE_UV_SHIFT) & 0x3f;
        if self.pending & 1 << uv != 0 {
            return Ok(());
        }
        let before = self.pending;
        post(
            &mut self.hw,
            &mut self.pending,
            &mut self.posted,
            cpu,
            index as u64,
        )?;
        trace!(
            self,
            "  cpu{cpu}: {} SENDUIPI {index} (posted {before:#x} -> {:#x})",
            self.tasks[t].name,
            self.pending
        );
        Ok(())
    }

    /// `cpu` accepts its highest pending interrupt; `race` picks a post that runs in the middle
    /// of notification processing.
    fn interrupt(&mut self, cpu: usize, race: Option<Race>) -> Result<(), Violation> {
        let plan = race.and_then(|race| self.race_plan(cpu, race));
        let mut race_result = Ok(None);
        let scheme = self.module.scheme;
        let pending = &mut self.pending;
        let posted = &mut self.posted;
        let kernel = &mut self.kernel;
        let mut racer = |hw: &mut Machine| {
            if let Some(plan) = plan {
                race_result = race_post(hw, pending, posted, kernel, scheme, plan);
            }
        };
        let accepted = self.hw.accept_interrupt(cpu, &mut racer)?;
        let sent = race_result?;
        match accepted {
            Accepted::Nothing => {}
            Accepted::Notification { moved } => {
                match plan {
                    Some(RacePlan::Send { cpu: scpu, index }) => trace!(
                        self,
                        "  cpu{scpu}: SENDUIPI {index} between ON clear and PIR move"
                    ),
                    Some(RacePlan::Kernel { vector, .. }) => trace!(
                        self,
                        "  kernel post of user vector {vector} on another CPU between ON clear \
                         and PIR move: {}",
                        notification(sent)
                    ),
                    None => {}
                }
                trace!(
                    self,
                    "  cpu{cpu}: notification processing moved PIR {moved:#x} to UIRR"
                );
            }
            Accepted::Idt(vector) => {
                trace!(self, "  cpu{cpu}: vector {vector:#x} through the IDT");
                if vector != NOTIFICATION_VECTOR {
                    return Err(Violation(format!(
                        "unexpected interrupt vector {vector:#x}"
                    )));
                }
                let t = self.current[cpu];
                if self.tasks[t].user {
                    // The handler returns to user space through the exit path.
                    self.tasks[t].user = false;
                    self.return_to_user(cpu, None)?;
                }
            }
        }
        Ok(())
    }

    /// Delivers pending user interrupts on every CPU running in user space.
    fn deliver_all(&mut self) -> Result<(), Violation> {
        for cpu in 0..self.hw.cpus.len() {
            let t = self.current[cpu];
            if !self.tasks[t].user {
                continue;
            }
            if let Some(v) = self.hw.deliver(cpu) {
                trace!(
                    self,
                    "  cpu{cpu}: user interrupt {v} delivered to {}",
                    self.tasks[t].name
                );
                let bit = 1u64 << v;
                let owner_ok = self.tasks[t]
                    .receiver
                    .is_some_and(|r| r.slot == usize::from(v) / 8);
                if !owner_ok {
                    return Err(Violation(format!(
                        "user interrupt {v} delivered to {}, which is not its receiver",
                        self.tasks[t].name
                    )));
                }
                if self.pending & bit == 0 {
                    return Err(Violation(format!(
                        "user interrupt {v} delivered to {} without a post of its own (twice, or stale)",
                        self.tasks[t].name
                    )));
                }
                self.pending &= !bit;
                self.delivered += 1;
            }
        }
        Ok(())
    }

    /// Checks a task that has just entered, or runs in, user space on `cpu`.
    fn check_user(&self, cpu: usize) -> Result<(), Violation> {
        let t = self.current[cpu];
        let task = &self.tasks[t];
        let c = &self.hw.cpus[cpu];
        let name = &task.name;
        match task.receiver {
            Some(r) => {
                if c.uinv() != NOTIFICATION_VECTOR {
                    return Err(Violation(format!(
                        "receiver {name} runs in user space on cpu{cpu} with UINV {:#x}",
                        c.uinv()
                    )));
                }
                if c.pd != r.upid_addr || c.handler != handler_addr(r.slot) {
                    return Err(Violation(format!(
                        "receiver {name} runs on cpu{cpu} with another task's handler or UPID"
                    )));
                }
                let status = self
                    .hw
                    .upid(r.upid_addr)
                    .map_or(0, |cell| cell.upid.status.load(Ordering::SeqCst));
                if self.hw.ndst_cpu(status) != Some(cpu) || status & sdm::UPID_SN != 0 {
                    return Err(Violation(format!(
                        "receiver {name} runs on cpu{cpu} but its UPID says NDST {:?}, SN {}",
                        self.hw.ndst_cpu(status),
                        status & sdm::UPID_SN != 0
                    )));
                }
                let pir = self
                    .hw
                    .upid(r.upid_addr)
                    .map_or(0, |cell| cell.upid.pir.load(Ordering::SeqCst));
                // A kernel post between its PIR bit and its update of word 0 notifies, or finds a
                // notification on its way, when it ends.
                let in_flight = self
                    .in_flight
                    .iter()
                    .flatten()
                    .filter(|p| p.upid_addr == r.upid_addr)
                    .fold(0, |bits, p| bits | 1 << p.vector);
                if pir & !in_flight != 0 && !c.irr.contains(&NOTIFICATION_VECTOR) {
                    return Err(Violation(format!(
                        "receiver {name} runs on cpu{cpu} with PIR {pir:#x} posted and no \
                         notification on its way: the posts are stuck"
                    )));
                }
            }
            None => {
                if c.uinv() != 0 {
                    return Err(Violation(format!(
                        "non-receiver {name} runs in user space on cpu{cpu} with UINV {:#x}",
                        c.uinv()
                    )));
                }
            }
        }
        if let Some(s) = task.sender {
            let tt = UITT_BASE + UITT_STRIDE * s.uitt as u64 + sdm::TT_VALID;
            if c.tt != tt || c.uittsz() != u64::from(UITT_ENTRIES - 1) {
                return Err(Violation(format!(
                    "sender {name} runs on cpu{cpu} without its UITT (TT {:#x}, UITTSZ {})",
                    c.tt,
                    c.uittsz()
                )));
            }
        }
        Ok(())
    }

    /// The checks after every step.
    fn check_all(&self) -> Result<(), Violation> {
        if let Some(v) = &self.broken {
            return Err(v.clone());
        }
        for cpu in 0..self.hw.cpus.len() {
            if self.tasks[self.current[cpu]].user {
                self.check_user(cpu)?;
            }
            let c = &self.hw.cpus[cpu];
            if c.uinv() != 0 && self.hw.upid(c.pd).is_none_or(|cell| cell.owner.is_none()) {
                return Err(Violation(format!(
                    "cpu{cpu} has UINV armed with IA32_UINTR_PD {:#x}, a freed UPID",
                    c.pd
                )));
            }
        }
        Ok(())
    }

    /// Brings every live receiver to user space until nothing is pending, then checks that no
    /// post was lost.
    pub(crate) fn drain(&mut self) -> Result<(), Violation> {
        trace!(self, "drain:");
        let ncpu = self.hw.cpus.len();
        for cpu in 0..ncpu {
            self.kernel_post_end(cpu)?;
        }
        for _round in 0..2 {
            for cpu in 0..ncpu {
                for _ in 0..4 {
                    self.interrupt(cpu, None)?;
                    self.deliver_all()?;
                }
            }
            let receivers: Vec<usize> = (0..self.tasks.len())
                .filter(|&t| self.tasks[t].alive && self.tasks[t].receiver.is_some())
                .collect();
            for t in receivers {
                let cpu = match self.tasks[t].on_cpu {
                    Some(cpu) => cpu,
                    None => {
                        self.switch_to(0, t);
                        0
                    }
                };
                self.return_to_user(cpu, None)?;
                for _ in 0..130 {
                    self.hw.uiret(cpu);
                    self.deliver_all()?;
                    self.interrupt(cpu, None)?;
                    self.deliver_all()?;
                    self.check_all()?;
                    if self.hw.cpus[cpu].rr == 0 && self.hw.cpus[cpu].irr.is_empty() {
                        break;
                    }
                }
            }
        }
        if self.pending != 0 {
            return Err(Violation(format!(
                "posted user interrupts {:#x} were never delivered",
                self.pending
            )));
        }
        Ok(())
    }

    /// Runs `events` from the start state, then the drain.
    pub(crate) fn run(&mut self, events: &[Event]) -> Result<(), Violation> {
        for (i, &e) in events.iter().enumerate() {
            trace!(self, "{i}: {e:?}");
            self.step(e)?;
        }
        self.drain()
    }
}

/// SENDUIPI `index` on `cpu`, with the ledger of posts updated.
fn post(
    hw: &mut Machine,
    pending: &mut u64,
    posted: &mut usize,
    cpu: usize,
    index: u64,
) -> Result<(), Violation> {
    let (addr, uv, _target) = hw.senduipi(cpu, index)?;
    if hw.upid(addr).is_some_and(|cell| cell.owner.is_some()) {
        *pending |= 1 << uv;
        *posted += 1;
    }
    Ok(())
}

/// Runs the post `plan` picks inside a window of another CPU's step, with the ledger updated.
/// Returns what a kernel post sent.
fn race_post(
    hw: &mut Machine,
    pending: &mut u64,
    posted: &mut usize,
    kernel: &mut KernelPosts,
    scheme: Scheme,
    plan: RacePlan,
) -> Result<Option<(u8, Option<usize>)>, Violation> {
    match plan {
        RacePlan::Send { cpu, index } => post(hw, pending, posted, cpu, index).map(|()| None),
        RacePlan::Kernel { upid_addr, vector } => {
            kernel.raced += 1;
            let begun = kernel_post_begin(hw, pending, posted, kernel, scheme, upid_addr, vector);
            let ended = kernel_post_end(hw, kernel, scheme, upid_addr, vector);
            Ok(begun.or(ended))
        }
    }
}

/// The first half of a kernel post of user vector `vector` to the UPID at `upid_addr`, with the
/// ledger updated; returns what it sent.
fn kernel_post_begin(
    hw: &mut Machine,
    pending: &mut u64,
    posted: &mut usize,
    kernel: &mut KernelPosts,
    scheme: Scheme,
    upid_addr: u64,
    vector: u8,
) -> Option<(u8, Option<usize>)> {
    let sent = module::kernel_post_begin(scheme, hw, upid_addr, vector);
    if hw.upid(upid_addr).is_some_and(|cell| cell.owner.is_some()) {
        *pending |= 1 << vector;
        *posted += 1;
        kernel.made += 1;
    }
    if sent.is_some() {
        kernel.notified += 1;
    }
    sent
}

/// The second half of a kernel post, counted; returns what it sent.
fn kernel_post_end(
    hw: &mut Machine,
    kernel: &mut KernelPosts,
    scheme: Scheme,
    upid_addr: u64,
    vector: u8,
) -> Option<(u8, Option<usize>)> {
    let sent = module::kernel_post_end(scheme, hw, upid_addr, vector);
    if sent.is_some() {
        kernel.notified += 1;
    }
    sent
}

/// Describes what a kernel post sent, for traces.
fn notification(sent: Option<(u8, Option<usize>)>) -> String {
    match sent {
        None => "no notification".into(),
        Some((vector, Some(cpu))) => format!("vector {vector:#x} sent to cpu{cpu}"),
        Some((vector, None)) => format!("vector {vector:#x} sent to no CPU"),
    }
}
