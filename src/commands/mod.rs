//! One module per subcommand; each takes its arguments and the opened resources and returns
//! an exit code or an error.

mod completions;
mod doctor;
mod export;
mod freeze;
mod init;
mod pull;
mod refresh;
mod replay;
mod restore;
mod schedule;
mod sheets;
mod snapshot;
mod status;
mod verify;

use crate::cli::{Cli, Command};
use crate::config::Config;
use crate::env::Env;
use crate::error::{Result, code};

/// Runs the parsed command line. The configuration is loaded once, here.
pub fn run(cli: Cli, env: Env) -> Result<u8> {
    let Cli {
        config,
        profile,
        log_format: _,
        quiet: _,
        verbose: _,
        command,
    } = cli;
    // the shell and the manual need no configuration
    match &command {
        Command::Completions(a) => return completions::completions(a.shell).map(|()| code::OK),
        Command::Manpage(a) => return completions::manpages(&a.dir).map(|()| code::OK),
        // it writes the configuration
        Command::Init(a) => return init::run(a, config, profile, env),
        _ => {}
    }
    let config = match Config::load(env, config) {
        Ok(c) => c,
        // a monitoring plugin answers in its own terms even when acc cannot start
        Err(e) if matches!(&command, Command::Status(a) if a.nagios) => {
            return status::unknown(&e);
        }
        // completing a profile name must never print an error into the shell
        Err(_) if matches!(&command, Command::Profiles) => return Ok(code::OK),
        Err(e) => return Err(e),
    };
    let profile = profile.as_deref();
    match command {
        Command::Schedule(args) => schedule::run(&args, &config, profile),
        Command::Doctor(args) => doctor::run(&args, &config, profile),
        Command::Snapshot(args) => snapshot::run(&args, &config, profile),
        Command::Verify(args) => verify::run(&args, &config, profile),
        Command::Restore(args) => restore::run(&args, &config, profile),
        Command::Refresh(args) => refresh::run(&args, &config, profile),
        Command::Freeze(args) => freeze::run(&args, &config, profile),
        Command::Export(args) => export::run(&args, &config, profile),
        Command::Pull(args) => pull::run(&args, &config, profile),
        Command::Sheets(args) => sheets::run(&args, &config, profile),
        Command::Replay(args) => replay::run(&args, &config, profile),
        Command::Status(args) => return status::run(&args, &config, profile),
        Command::Profiles => completions::profiles(&config),
        Command::Completions(_) | Command::Manpage(_) | Command::Init(_) => {
            unreachable!("handled before the configuration")
        }
    }
    .map(|()| code::OK)
}

/// Runs async work on a runtime made for this one command.
fn block_on<F: std::future::Future>(future: F) -> Result<F::Output> {
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| crate::error::Error::internal("cannot start the async runtime").source(e))?;
    Ok(runtime.block_on(future))
}

/// `--to` or `--from`, checked before it becomes the profile's `export_to` layer, so that an
/// error names the flag rather than the profile's key.
fn check_location_flag(flag: &str, value: Option<&str>) -> Result<()> {
    if let Some(v) = value {
        crate::location::Location::parse(v).map_err(|e| {
            crate::error::Error::config(format!("{flag}: {}", e.message()))
                .hint(e.hint_text().unwrap_or_default())
        })?;
    }
    Ok(())
}

/// Runs one job with its metrics: the job's textfile is written as it ends, whether it
/// succeeded or failed (`metrics.textfile_dir`).
fn measured<T>(
    p: &crate::config::Profile,
    job: crate::metrics::Job,
    f: impl FnOnce(&mut crate::metrics::Run) -> Result<T>,
) -> Result<T> {
    let mut run = crate::metrics::Run::start(job, p);
    let result = f(&mut run);
    run.finish(match &result {
        Ok(_) => code::OK,
        Err(e) => e.exit_code(),
    });
    result
}
