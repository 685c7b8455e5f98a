//! One module per subcommand; each takes its arguments and the opened resources and returns
//! an exit code or an error.

mod doctor;
mod pending;
mod schedule;

use crate::cli::{Cli, Command};
use crate::config::{Config, Env};
use crate::error::{Result, code};

/// Runs the parsed command line. The configuration is loaded once, here.
pub fn run(cli: Cli, env: Env) -> Result<u8> {
    let Cli {
        config,
        profile,
        command,
    } = cli;
    let config = Config::load(env, config)?;
    let profile = profile.as_deref();
    match command {
        Command::Schedule(args) => schedule::run(&args, &config, profile),
        Command::Doctor(_) => doctor::run(&config, profile),
        Command::Snapshot(_) => pending::run("snapshot"),
        Command::Verify(_) => pending::run("verify"),
        Command::Restore(_) => pending::run("restore"),
        Command::Freeze(_) => pending::run("freeze"),
        Command::Export(_) => pending::run("export"),
        Command::Pull(_) => pending::run("pull"),
        Command::Sheets(_) => pending::run("sheets"),
        Command::Replay(_) => pending::run("replay"),
        Command::Status(_) => pending::run("status"),
    }
    .map(|()| code::OK)
}
