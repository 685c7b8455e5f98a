//! `acc sheets`: each employee's downtime visit sheet for the coming days, one sealed CSV and
//! one sealed PDF per employee plus combined ones, published like an export's day. Filled in
//! on paper and typed up, the CSV is the input of `acc replay`.

mod chunks;
pub mod pdf;
mod printed;
mod run;
mod split;
pub mod visit;

pub use run::{SheetsReport, SheetsRequest, sheet_query, sheets};
pub use visit::COMBINED;
