//! Regional timing: cutoffs, deadlines and daylight-saving rules.

mod wall_clock;
mod window;

pub use wall_clock::{Reading, resolve};
pub use window::Window;

#[cfg(test)]
mod tests;
