// SPDX-License-Identifier: GPL-2.0

//! The host model of the uintr project: an executable model of the SDM's UINTR rules and of the
//! Linux paths that save and restore XSAVE component 14, driving the module's own decision code.
//!
//! `hw` and `logic` are the repository's top-level `hw.rs` and `logic.rs` (and their folders),
//! the very files the kernel module builds. They are included through an inline module whose
//! `#[path]` names the repository top, so that their own `mod` items resolve exactly as under the
//! module's crate root (`hw.rs` loads `hw/msr.rs`, not `msr.rs`). Re-exported at the crate root,
//! `crate::hw` and `crate::logic` mean here what they mean in the module.
//!
//! - [`sdm`]: the hardware, restated from the SDM.
//! - [`module`]: the module's hooks on top of `logic`, and the wrong schemes.
//! - [`world`]: the kernel's FPU paths, the events, the properties and the drain.
//!
//! Documentation/model.md describes what is modelled, what is abstracted away, and the
//! counterexamples the negative controls find.

// The crate exists for its tests; without them nothing reaches the model.
#![cfg_attr(not(test), allow(dead_code))]

#[path = "../.."]
mod shared {
    pub(crate) mod hw;
    pub(crate) mod logic;
}

pub(crate) use shared::{hw, logic};

mod module;
mod sdm;
mod world;

#[cfg(test)]
mod tests;
