//! What a person or a log reader sees: results on stdout, messages and progress on stderr.

pub mod output;
pub mod progress;
pub mod units;
