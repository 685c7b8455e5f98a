//! Metrics for Prometheus: the text format, and each job's own textfile.

mod job;
pub mod text;

pub use job::{Job, Run};
