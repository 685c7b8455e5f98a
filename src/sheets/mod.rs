//! `acc sheets`: each employee's downtime visit sheet for the coming days, one sealed CSV
//! per employee plus one combined, published like an export's day. Filled in on paper and
//! typed up, the same CSV is the input of `acc replay`.

mod run;
mod split;

pub use run::{Request, SheetsReport, sheets};
pub use split::COMBINED;
