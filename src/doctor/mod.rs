//! `acc doctor`: what the profile resolves to, and whether each server answers.

mod run;

pub use run::*;
