//! The `acc` binary: parse, run, exit with a documented code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    ExitCode::from(acc::run(acc::cli::Cli::parse()))
}
