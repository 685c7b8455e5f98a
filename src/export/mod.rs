//! `acc export`: the nine continuity dashboards (and the optional device-sync), rendered as CSV, sealed with age and
//! delivered to SFTP or a directory, day by day, with a manifest written last.

pub(crate) mod csv_out;
pub mod dashboard;
pub mod device_sync;
mod flow;
pub(crate) mod pg_source;
pub(crate) mod reader;
pub(crate) mod run;
mod server_csv;
mod snowflake_source;
pub(crate) mod spreadsheet;

pub use dashboard::{Dashboard, Dialect, NAMES};
pub use run::{ExportReport, ExportRequest, export, period};
pub use snowflake_source::login as snowflake_login;
