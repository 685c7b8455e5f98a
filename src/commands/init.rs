//! `acc init`: the questions (or flags), the file, the doctor's checks, the next commands.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use super::block_on;
use crate::cli::InitArgs;
use crate::config::{Config, RawProfile};
use crate::env::Env;
use crate::error::{Error, Kind, Result, code};
use crate::init::{self, Flags, Terminal};
use crate::ui::output;

pub fn run(
    args: &InitArgs,
    config: Option<PathBuf>,
    profile: Option<String>,
    env: Env,
) -> Result<u8> {
    let explicit = config.is_some();
    let path = init::target(config.as_deref(), &env)?;
    init::check_free(&path, args.force)?;
    let answers = if !args.any_answer() && std::io::stdin().is_terminal() {
        // each server's findings are shown as it is answered
        let mut terminal = Terminal::new(std::io::stdin().lock(), std::io::stderr());
        init::interview(
            &mut terminal,
            &env,
            &mut std::io::stderr(),
            profile.as_deref(),
        )?
    } else {
        // the doctor's checks after the file is written show the same findings once
        let mut flags = Flags::new(given(args, profile));
        init::interview(&mut flags, &env, &mut std::io::sink(), None)?
    };
    let text = init::render(&answers, chrono::Local::now().date_naive());
    init::write(&path, &text, args.force)?;
    let config = Config::load(env, Some(path.clone()))?;
    let p = config.profile(Some(&answers.profile), RawProfile::default())?;
    let checks = block_on(crate::doctor::run(&p, config.env(), config.dirs()))?;
    let mut out = format!("wrote {} (0600)\n\nchecks\n", path.display());
    for c in &checks {
        out.push_str(&c.line());
    }
    let identity = p.restore.age_identity.is_none();
    out.push_str(&next_steps(
        &p.name,
        &config_flag(explicit, &path),
        identity,
    ));
    output::emit(&out)?;
    let failed = checks.iter().filter(|c| !c.ok).count();
    if failed > 0 {
        return Err(Error::new(
            Kind::Partial,
            format!(
                "{} written; {failed} of {} checks failed",
                path.display(),
                checks.len()
            ),
        )
        .hint("each failed check above names its fix; `acc doctor` checks again"));
    }
    Ok(code::OK)
}

/// Every answer given as a flag, by the flag's name.
fn given(args: &InitArgs, profile: Option<String>) -> BTreeMap<String, Vec<String>> {
    let one = |flag: &str, v: &Option<String>| v.clone().map(|v| (flag.to_string(), vec![v]));
    [
        one("--profile", &profile),
        one("--region", &args.region),
        one("--production", &args.production),
        one("--staging", &args.staging),
        one("--store", &args.store),
        one("--export-to", &args.export_to),
        one("--sftp-identity-file", &args.sftp_identity_file),
        one("--sftp-known-hosts", &args.sftp_known_hosts),
        one("--reader-role", &args.reader_role),
        Some(("--age-recipient".to_string(), args.age_recipient.clone())),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// ` --config FILE` when the file is not one acc reads by itself.
fn config_flag(explicit: bool, path: &Path) -> String {
    if explicit {
        format!(" --config {}", path.display())
    } else {
        String::new()
    }
}

fn next_steps(profile: &str, config: &str, identity: bool) -> String {
    let identity = if identity {
        " --identity FILE   # or set restore.age_identity"
    } else {
        ""
    };
    format!(
        "\nnext, the first night:\n\
         \x20 acc{config} snapshot --profile {profile} --now\n\
         \x20 acc{config} restore --profile {profile}{identity}\n\
         \x20 acc{config} schedule --profile {profile} --systemd --template --install /etc/systemd/system \\\n\
         \x20     && systemctl daemon-reload && systemctl enable --now acc-{{snapshot,restore,export}}@{profile}.timer\n"
    )
}
