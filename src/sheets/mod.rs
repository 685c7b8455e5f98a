//! `acc sheets`: each employee's downtime visit sheet.

mod run;

pub use run::{COMBINED, Outcome, Request, sheets};
