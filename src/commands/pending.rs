//! Subcommands that later work builds: they say so, with the documented exit code 69.

use crate::error::{Error, Result};

pub fn run(command: &str) -> Result<()> {
    Err(
        Error::unavailable(format!("`acc {command}` is not built yet")).hint(
            "this release provides schedule, snapshot, verify, restore, freeze, export, pull, sheets, replay and doctor; see README for what each command will do",
        ),
    )
}
