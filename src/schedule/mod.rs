//! Regional timing: cutoffs, deadlines and daylight-saving rules.

pub mod crontab;
mod cutoff;
pub mod region;
pub mod timers;
mod wall_clock;

pub use cutoff::Cutoff;
pub use wall_clock::{Reading, resolve};

#[cfg(test)]
mod tests;
