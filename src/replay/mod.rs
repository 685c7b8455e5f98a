//! `acc replay`: paper-collected attendance, task completions and notes, checked and then
//! applied to production exactly once.

pub mod apply;
pub mod check;
pub mod clock;
mod decide;
pub mod entry;
#[cfg(test)]
mod fuzz_tests;
pub mod ledger;
mod plan;
mod planned;
pub mod read;
mod run;
mod stale;
mod writes;

pub use run::{ApplyOptions, ReplayReport, ReplayRequest, Tally, replay};
