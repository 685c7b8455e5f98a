//! `acc status`: is staging ready, are snapshots and exports fresh, what is frozen; with a
//! verdict, JSON, and a node_exporter textfile.

mod facts;
pub mod prometheus;
pub mod verdict;

pub use facts::{CutoffTimes, DeviceSync, ExportDay, Facts, Snapshot, Staging, gather};
pub use verdict::{Finding, NotReady, Severity, judge, overall, ready, within_stale};
