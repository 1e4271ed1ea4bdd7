// SPDX-License-Identifier: GPL-2.0

//! `hw` and `logic` against the SDM restatement in `sdm`, value by value.
//!
//! The compile-time asserts in `hw` pin sizes and offsets; these tests pin the bit fields, the
//! argument checks and the single-step behaviour of the UINV state machine, and check that a
//! kernel post leaves a UPID and the local APICs as SENDUIPI does.

use std::sync::atomic::Ordering;

use proptest::prelude::*;

use crate::hw::{
    msr::Misc,
    uitt::{UittEntry, UserVector},
    upid::{Ndst, UpidStatus},
    xstate::UintrState,
};
use crate::logic::{fpu::CpuMisc, image, uitt, upid, wake, Invalid};
use crate::module::Scheme;
use crate::sdm::{self, Machine};
use crate::world::USER_LIMIT;

proptest! {
    /// UINV and UITTSZ sit where the SDM puts them; the MSR part drops UIF and reserved bits.
    #[test]
    fn misc_fields_match_the_sdm(raw in any::<u64>(), v in any::<u8>(), n in any::<u32>()) {
        let m = Misc::from_raw(raw);
        prop_assert_eq!(m.uinv(), sdm::misc_uinv(raw));
        let w = m.with_uinv(v).raw();
        prop_assert_eq!(sdm::misc_uinv(w), v);
        prop_assert_eq!(w & !(0xff << 32), raw & !(0xff << 32));
        let u = m.with_uittsz(n).raw();
        prop_assert_eq!(u & sdm::MISC_UITTSZ, u64::from(n));
        prop_assert_eq!(u & !sdm::MISC_UITTSZ, raw & !sdm::MISC_UITTSZ);
        let p = m.msr_part().raw();
        prop_assert_eq!(p & sdm::MISC_MSR_RESERVED, 0);
        prop_assert_eq!(p, raw & !sdm::MISC_MSR_RESERVED);
    }

    /// UPID word 0 transitions change only their own fields.
    #[test]
    fn upid_transitions_match_the_sdm(raw in any::<u64>(), id in any::<u32>(), v in any::<u8>()) {
        let x2 = upid::resume(raw, Ndst::X2apic(id));
        prop_assert_eq!(x2 >> sdm::UPID_NDST_SHIFT, u64::from(id));
        prop_assert_eq!(x2 & (sdm::UPID_ON | sdm::UPID_SN), 0);
        prop_assert_eq!(x2 & 0xffff_fffc, raw & 0xffff_fffc);
        let xa = upid::resume(raw, Ndst::Xapic(id as u8));
        prop_assert_eq!(xa >> 32, u64::from(id as u8) << 8);
        let s = upid::suspend(raw);
        prop_assert_eq!(s, raw | sdm::UPID_SN);
        let i = upid::initial(v, Ndst::X2apic(id));
        prop_assert_eq!((i >> sdm::UPID_NV_SHIFT) as u8, v);
        prop_assert_eq!(i & sdm::UPID_RESERVED, 0);
        prop_assert_eq!(i & (sdm::UPID_ON | sdm::UPID_SN), sdm::UPID_SN);
        prop_assert_eq!(UpidStatus::ZERO.with_on(true).raw(), sdm::UPID_ON);
    }

    /// The module's NDST names the CPU the SDM's notification goes to, in both APIC modes.
    #[test]
    fn ndst_routes_to_the_right_cpu(x2apic in any::<bool>(), cpu in 0usize..3) {
        let hw = Machine::new(3, x2apic);
        let status = upid::initial(0xea, crate::module::ndst(&hw, cpu));
        prop_assert_eq!(hw.ndst_cpu(status), Some(cpu));
    }

    /// UITT entries hold V, UV and the address where the SDM puts them, and nothing else.
    #[test]
    fn uitt_entries_match_the_sdm(v in 0u8..64, addr in any::<u64>()) {
        let addr = addr & !0x3f;
        prop_assume!(addr != 0);
        let e = uitt::entry(v, addr).expect("valid entry");
        prop_assert_eq!(e.flags, sdm::UITTE_V | u64::from(v) << sdm::UITTE_UV_SHIFT);
        prop_assert_eq!(e.upid_addr, addr);
    }

    /// After XSAVES the image holds UINV clear and everything else as saved.
    #[test]
    fn after_xsaves_clears_only_uinv(misc in any::<u64>(), rr in any::<u64>()) {
        let mut cpu = CpuMisc::new();
        let saved = UintrState { misc, uirr: rr, ..UintrState::default() };
        let mut img = saved;
        cpu.after_xsaves(Some(&mut img));
        prop_assert_eq!(sdm::misc_uinv(img.misc), 0);
        prop_assert_eq!(img.misc & !(0xff << 32), misc & !(0xff << 32));
        prop_assert_eq!(UintrState { misc: saved.misc, ..img }, saved);
        prop_assert!(!cpu.armed());
    }
}

/// Disarming happens exactly when UINV is armed, and leaves the rest of the MSR alone.
#[test]
fn before_xrstors_disarms_only_when_armed() {
    let mut cpu = CpuMisc::new();
    assert_eq!(cpu.before_xrstors(None), None);
    let img = UintrState {
        misc: Misc::ZERO.with_uittsz(7).with_uinv(0xea).raw() | sdm::IMAGE_UIF,
        ..UintrState::default()
    };
    assert_eq!(cpu.before_xrstors(Some(&img)), None);
    assert!(cpu.armed());
    let w = cpu.before_xrstors(None).expect("armed, so disarmed");
    assert_eq!((w.msr, w.value), (sdm::MSR_MISC, 7));
    assert_eq!(
        cpu.arm_for_user(None, 0xea).map(|w| w.value),
        Some(0xea << 32)
    );
    assert_eq!(cpu.arm_for_user(None, 0xea), None);
    assert!(cpu.disarm().is_some());
    assert_eq!(cpu.disarm(), None);
}

/// A system call that a post interrupted returns what it would return after a signal handler,
/// with `SA_RESTART` for [`wake::Mode::Restart`]: `handle_signal()` in
/// arch/x86/kernel/signal.c, restated. A code left alone is restarted by the signal code's
/// no-handler path, `ERESTARTNOINTR` always; anything that is not a restart code stays.
#[test]
fn an_interrupted_call_returns_what_a_signal_handler_leaves() {
    const RESTART: i64 = -1; // "left for the signal code to restart"
    let table: [(i64, i64, i64); 7] = [
        // (returned, without SA_RESTART, with SA_RESTART)
        (-512, -4, RESTART),      // ERESTARTSYS
        (-513, RESTART, RESTART), // ERESTARTNOINTR
        (-514, -4, -4),           // ERESTARTNOHAND
        (-516, -4, -4),           // ERESTART_RESTARTBLOCK
        (-4, -4, -4),             // EINTR, as epoll_wait() returns it
        (0, 0, 0),                // the call completed meanwhile
        (4096, 4096, 4096),       // a short write
    ];
    for (ret, _, _) in table {
        assert_eq!(
            wake::interrupted(ret),
            matches!(ret, -512 | -513 | -514 | -516 | -4)
        );
    }
    assert!(!wake::interrupted(-38)); // ENOSYS: a task work run inside a call
    for (ret, eintr, restart) in table {
        for (mode, want) in [(wake::Mode::Eintr, eintr), (wake::Mode::Restart, restart)] {
            let want = if want == RESTART { ret } else { want };
            assert_eq!(wake::interrupted_return(mode, ret), want, "{ret} {mode:?}");
        }
    }
}

/// UIF is bit 63 of the image's misc field, and only an interruptible sleep with it set is woken.
#[test]
fn only_an_interruptible_sleep_with_uif_is_woken() {
    assert!(Misc::from_raw(1 << 63).uif());
    assert!(!Misc::from_raw(!(1 << 63)).uif());
    assert!(wake::wakeable(true, true));
    assert!(!wake::wakeable(true, false));
    assert!(!wake::wakeable(false, true));
}

/// Handler and stack-adjust values outside user space are refused.
#[test]
fn handler_checks_refuse_kernel_and_non_canonical_addresses() {
    assert!(image::Handler::new(0x40_1000, 128, USER_LIMIT).is_ok());
    assert_eq!(
        image::Handler::new(0, 128, USER_LIMIT),
        Err(Invalid::Handler)
    );
    assert_eq!(
        image::Handler::new(USER_LIMIT, 0, USER_LIMIT),
        Err(Invalid::Handler)
    );
    assert_eq!(
        image::Handler::new(1 << 56, 0, u64::MAX),
        Err(Invalid::Handler)
    );
    assert_eq!(
        image::Handler::new(0x40_1000, u64::MAX, USER_LIMIT),
        Err(Invalid::StackAdjust)
    );
    assert_eq!(
        image::Handler::new(0x40_1000, 0xffff_8000_0000_0001, USER_LIMIT),
        Err(Invalid::StackAdjust)
    );
    for addr in [0x40_1000, USER_LIMIT - 1] {
        assert!(sdm::canonical(addr));
    }
}

/// UPID and UITT addresses and user vectors are checked.
#[test]
fn uitt_and_upid_checks_refuse_bad_values() {
    assert_eq!(uitt::entry(64, 0x1000), Err(Invalid::UserVector));
    assert_eq!(uitt::entry(1, 0x1008), Err(Invalid::UpidAddress));
    assert_eq!(uitt::entry(1, 0), Err(Invalid::UpidAddress));
    assert_eq!(UserVector::new(63).map(UserVector::get), Some(63));
    assert_eq!(UittEntry::INVALID.flags & sdm::UITTE_V, 0);
    let mut img = UintrState::default();
    let h = image::Handler::new(0x40_1000, 0, USER_LIMIT).expect("valid");
    assert_eq!(
        image::install_receiver(&mut img, h, 0x1010),
        Err(Invalid::UpidAddress)
    );
    assert_eq!(
        image::install_sender(&mut img, 0x1008, 4),
        Err(Invalid::UittAddress)
    );
    assert_eq!(
        image::install_sender(&mut img, 0x1000, 0),
        Err(Invalid::UittSize)
    );
    assert_eq!(image::install_sender(&mut img, 0x1000, 4), Ok(()));
    assert_eq!(img.uitt_addr, 0x1001);
    assert_eq!(img.misc & sdm::MISC_UITTSZ, 3);
    image::remove_sender(&mut img);
    assert_eq!((img.uitt_addr, img.misc), (0, 0));
}

proptest! {
    /// Parking points notifications at the kernel vector and this CPU; unparking restores the
    /// notification vector and suppresses notifications until the next resume.
    #[test]
    fn park_and_unpark_match_the_sdm(raw in any::<u64>(), id in any::<u32>(), kv in any::<u8>()) {
        let p = upid::park(raw, kv, Ndst::X2apic(id));
        prop_assert_eq!((p >> sdm::UPID_NV_SHIFT) as u8, kv);
        prop_assert_eq!(p >> sdm::UPID_NDST_SHIFT, u64::from(id));
        prop_assert_eq!(p & (sdm::UPID_ON | sdm::UPID_SN), 0);
        prop_assert_eq!(p & sdm::UPID_RESERVED, raw & sdm::UPID_RESERVED);
        let u = upid::unpark(p, 0xea);
        prop_assert_eq!((u >> sdm::UPID_NV_SHIFT) as u8, 0xea);
        prop_assert_eq!(u & (sdm::UPID_ON | sdm::UPID_SN), sdm::UPID_SN);
        prop_assert_eq!(u >> sdm::UPID_NDST_SHIFT, u64::from(id));
    }
}

proptest! {
    /// The kernel-vector handler of a polled receiver clears ON and nothing else, so that the
    /// next SENDUIPI notifies again.
    #[test]
    fn renotify_clears_only_on(raw in any::<u64>()) {
        let r = upid::renotify(raw);
        prop_assert_eq!(r & sdm::UPID_ON, 0);
        prop_assert_eq!(r | sdm::UPID_ON, raw | sdm::UPID_ON);
    }
}

/// Returns a machine with a UPID holding word 0 `status`, and a UITT on cpu0 whose entry 0 posts
/// user vector `uv` to it; returns the UPID's address too.
fn one_upid(x2apic: bool, status: u64, uv: u8) -> (Machine, u64) {
    let mut hw = Machine::new(3, x2apic);
    let addr = hw.alloc_upid(status, 0);
    hw.uitts
        .push(vec![uitt::entry(uv, addr).expect("valid entry")]);
    hw.cpus[0].tt = sdm::UITT_BASE + sdm::TT_VALID;
    (hw, addr)
}

/// Returns word 0, PIR and every CPU's requested vectors.
fn upid_and_irrs(hw: &Machine, addr: u64) -> (u64, u64, Vec<Vec<u8>>) {
    let cell = hw.upid(addr).expect("a UPID");
    (
        cell.upid.status.load(Ordering::SeqCst),
        cell.upid.pir.load(Ordering::SeqCst),
        hw.cpus
            .iter()
            .map(|c| c.irr.iter().copied().collect())
            .collect(),
    )
}

proptest! {
    /// A kernel post (`upid::post` in the compare-exchange, then the notification
    /// `upid::post_notifies` asks for, sent as `uintr_notify()` decodes NDST) leaves the UPID and
    /// the local APICs as SENDUIPI does, in both APIC modes.
    #[test]
    fn kernel_post_matches_senduipi(
        x2apic in any::<bool>(),
        cpu in 0usize..3,
        on in any::<bool>(),
        sn in any::<bool>(),
        nv in any::<u8>(),
        uv in 0u8..64,
        pir in any::<u64>(),
    ) {
        let status = UpidStatus::ZERO
            .with_nv(nv)
            .with_ndst(crate::module::ndst(&Machine::new(3, x2apic), cpu))
            .with_on(on)
            .with_sn(sn)
            .raw();
        let (mut by_sdm, addr) = one_upid(x2apic, status, uv);
        let (mut by_module, _) = one_upid(x2apic, status, uv);
        for hw in [&by_sdm, &by_module] {
            hw.upid(addr).expect("a UPID").upid.pir.store(pir, Ordering::SeqCst);
        }
        let (_, _, target) = by_sdm.senduipi(0, 0).expect("a valid post");
        let begun = crate::module::kernel_post_begin(Scheme::Real, &mut by_module, addr, uv);
        prop_assert_eq!(begun, None);
        let sent = crate::module::kernel_post_end(Scheme::Real, &mut by_module, addr, uv);
        prop_assert_eq!(upid_and_irrs(&by_module, addr), upid_and_irrs(&by_sdm, addr));
        prop_assert_eq!(sent.map(|(_, cpu)| cpu), target.map(Some));
        prop_assert_eq!(sent.map(|(vector, _)| vector), target.map(|_| nv));
        prop_assert_eq!(target.is_some(), !on && !sn);
    }

    /// `CpuMisc::from_msr` tracks the MSR it was read from: armed exactly when UINV is, and the
    /// disarming write keeps everything else.
    #[test]
    fn cpu_misc_from_msr_tracks_the_msr(raw in any::<u64>()) {
        let mut cpu = CpuMisc::from_msr(raw);
        prop_assert_eq!(cpu.armed(), sdm::misc_uinv(raw) != 0);
        let write = cpu.disarm();
        prop_assert_eq!(write.is_some(), sdm::misc_uinv(raw) != 0);
        if let Some(w) = write {
            prop_assert_eq!(w.msr, sdm::MSR_MISC);
            prop_assert_eq!(w.value, raw & !sdm::MISC_MSR_RESERVED & !(0xff << 32));
        }
        prop_assert!(!cpu.armed());
    }
}

/// A post through a UITT entry that names the sink sets a PIR bit and notifies nobody, by
/// SENDUIPI and by the kernel alike.
#[test]
fn posts_to_the_sink_notify_nobody() {
    for x2apic in [false, true] {
        let (mut hw, addr) = one_upid(x2apic, upid::SINK, 5);
        hw.senduipi(0, 0).expect("a valid post");
        assert_eq!(
            crate::module::kernel_post_begin(Scheme::Real, &mut hw, addr, 6),
            None
        );
        assert_eq!(
            crate::module::kernel_post_end(Scheme::Real, &mut hw, addr, 6),
            None
        );
        assert_eq!(
            upid_and_irrs(&hw, addr),
            (upid::SINK, 0x60, vec![vec![]; 3])
        );
    }
}

/// The contract's vectors: distinct, and below the kernel's system vectors
/// (0xeb and up in 7.2), where the series reserves them.
#[test]
fn the_reserved_vectors_sit_below_the_system_vectors() {
    use crate::hw::vectors::{KERNEL_VECTOR, NOTIFICATION_VECTOR};
    const FIRST_SYSTEM_VECTOR_72: u8 = 0xeb;
    assert_ne!(KERNEL_VECTOR, NOTIFICATION_VECTOR);
    assert!(KERNEL_VECTOR < FIRST_SYSTEM_VECTOR_72);
    assert!(NOTIFICATION_VECTOR < FIRST_SYSTEM_VECTOR_72);
}
