//! Regional timing: cutoffs, deadlines and daylight-saving rules.

mod cutoff;
pub mod region;
pub mod timers;
mod wall_clock;

pub use wall_clock::{Reading, resolve};
pub use cutoff::Cutoff;

#[cfg(test)]
mod tests;
