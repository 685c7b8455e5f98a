//! `acc pull`: an IT team's daily copy. Downloads one exported day, checks every file against
//! the (optionally signed) manifest, and keeps it decrypted or still encrypted, in files only
//! their owner can read.

mod fetch;
mod private;
mod run;

pub use run::{PullReport, PullRequest, PullStatus, Pulled, pull};
