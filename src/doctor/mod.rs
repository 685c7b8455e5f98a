//! `acc doctor`: whether each server, file and destination the profile names answers.

mod bucket;
mod check;
mod device_sync;
mod extensions;
mod local;
mod locale;
mod prepared;
mod run;
mod servers;
mod sheet_query;

pub use check::Check;
pub use run::{check_database, check_destination, run};
pub use servers::{EXPIRY_WARNING_DAYS, LARGE_OBJECT_WRITERS};
