//! `acc pull`: an IT team's daily copy of an exported day.

mod run;

pub use run::{Outcome, Pulled, Request, pull};
