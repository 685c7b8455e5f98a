//! acc: keeps home-care agencies working when their cloud platform is down.
//!
//! The binary is a thin layer over this library: `cli` parses, `config` resolves profiles,
//! the domain modules do the work, `output` prints.

pub mod cli;
pub mod config;
pub mod crypt;
pub mod delivery;
pub mod doctor;
pub mod env;
pub mod error;
pub mod events;
pub mod export;
pub mod failpoint;
pub mod host;
pub mod init;
pub mod location;
pub mod metrics;
pub mod objects;
pub mod pg;
pub mod pool;
pub mod print;
pub mod process;
pub mod progress;
pub mod publish;
pub mod pull;
pub mod redact;
pub mod refresh;
pub mod replay;
pub mod restore;
pub mod schedule;
pub mod secret;
pub mod sheet_columns;
pub mod sheets;
pub mod snapshot;
pub mod status;
pub mod store;
pub mod timers;
pub mod ui;

mod commands;

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: cli::Cli) -> u8 {
    ui::output::set_verbosity(match (cli.quiet, cli.verbose) {
        (true, _) => ui::output::Verbosity::Quiet,
        (_, true) => ui::output::Verbosity::Verbose,
        _ => ui::output::Verbosity::Normal,
    });
    ui::output::install();
    if cli.log_format == cli::LogFormatArg::Json {
        ui::output::set_log_format(ui::output::LogFormat::Json);
    }
    match commands::run(cli, env::Env::from_process()) {
        Ok(code) => code,
        Err(err) => {
            ui::output::report(&err);
            err.exit_code()
        }
    }
}
