//! `acc replay`: paper-collected attendance, task completions and notes, checked and then
//! applied to production exactly once.

pub mod apply;
pub mod check;
pub mod clock;
mod decide;
pub mod entry;
pub mod ledger;
#[cfg(test)]
mod fuzz_tests;
pub mod read;
mod run;
mod writes;

pub use run::{ApplyOptions, Report, Request, Tally, replay};
