// SPDX-License-Identifier: GPL-2.0

//! `UINTR_REGISTER_SENDER`, `UINTR_UNREGISTER_SENDER` and
//! `UINTR_REGISTER_SELF`.

use super::abi::{
    SenderArgs,
    VectorArgs, //
};
use crate::{
    cpu::XstateGuard,
    logic::image,
    receiver::Receiver,
    stats,
    task::{
        self,
        Sender,
        TaskState, //
    },
    uitt::{self, Uitt},
    vector_fd::VectorFd,
};
use kernel::{
    fs::LocalFile,
    prelude::*,
    sync::Arc, //
};

/// Adds an entry for the receiver and vector behind `args.fd`.
pub(crate) fn register(args: SenderArgs) -> Result<isize> {
    if args.flags != 0 {
        return Err(EINVAL);
    }
    let fd = u32::try_from(args.fd).map_err(|_| EBADF)?;
    let file = LocalFile::fget(fd)?;
    let (receiver, vector) = VectorFd::with_file(&file, |v| (v.receiver().clone(), v.vector()))?;
    drop(file);
    add(receiver, vector)
}

/// Adds an entry that targets the calling receiver itself.
pub(crate) fn register_self(args: VectorArgs) -> Result<isize> {
    let vector = super::vector::user_vector(&args, 0)?;
    let receiver = task::current_receiver().ok_or(EINVAL)?;
    add(receiver, vector)
}

/// Removes entry `index` of the calling process's table.  The table
/// belongs to the process: any of its threads may remove any entry, also one
/// that never registered as a sender.
pub(crate) fn unregister(index: usize) -> Result<isize> {
    let uitt = task::current_uitt()
        .or_else(uitt::of_current)
        .ok_or(EINVAL)?;
    uitt.remove(index)?;
    Ok(0)
}

fn add(receiver: Arc<Receiver>, vector: u8) -> Result<isize> {
    if receiver.is_dead() {
        return Err(ESRCH);
    }
    let uitt = enable_sender()?;
    Ok(uitt.add(receiver, vector)?.try_into()?)
}

/// Makes the calling thread a sender on its process's table.
fn enable_sender() -> Result<Arc<Uitt>> {
    if let Some(uitt) = task::current_uitt() {
        return Ok(uitt);
    }
    let fresh = if task::has_state() {
        None
    } else {
        Some(TaskState::new()?)
    };
    let (table, mm) = uitt::get_for_current()?;

    let mut guard = XstateGuard::lock();
    if let Err(e) = image::install_sender(guard.image(), table.addr(), uitt::ENTRIES as u32) {
        drop(guard);
        uitt::put(mm);
        pr_warn!("cannot install the UITT: {:?}\n", e);
        return Err(EINVAL);
    }
    if let Some(state) = fresh {
        task::attach(&mut guard, state);
    }
    stats::SENDERS.inc();
    task::with_current_mut(&mut guard, |state| {
        state.sender = Some(Sender {
            uitt: table.clone(),
            mm,
        })
    });
    Ok(table)
}
