//! Regional timing: cutoffs, deadlines and daylight-saving rules.

mod cutoff;
mod period;
pub mod region;
mod wall_clock;

pub use cutoff::Cutoff;
pub use period::Period;
pub use wall_clock::{Reading, resolve};

#[cfg(test)]
mod tests;
