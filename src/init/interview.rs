//! The questions of `acc init`, in order, each checked as it is answered: names and keys on
//! their own, servers by logging in, the destination by reaching it.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::answers::{self, Answers, Connection, SftpLogin};
use super::probe;
use super::source::{Question, Source};
use crate::config::Sources;
use crate::env::Env;
use crate::error::Result;
use crate::schedule::region::Regions;

/// Asks (or reads from flags) every answer `acc.toml` needs; what the checks find is shown on
/// `out`.
pub fn interview(
    src: &mut impl Source,
    env: &Env,
    out: &mut dyn Write,
    profile: Option<&str>,
) -> Result<Answers> {
    let profile = src.answer(
        &q(
            "--profile",
            "profile name (one agency's environment)",
            Some(profile.unwrap_or("agency")),
        ),
        &mut |t| answers::profile_name(t),
    )?;
    let regions = Regions::load(&Sources::discover(env, None).config_dirs())?;
    let known = regions.names().join(", ");
    let prompt = format!("region ({known})");
    let region = src.answer(&q("--region", &prompt, Some("us-can")), &mut |t| {
        regions
            .get(t.trim())
            .map(|r| r.name.clone())
            .map_err(|e| format!("{}; known: {known}", e.message()))
    })?;
    let mut a = Answers {
        profile,
        region,
        production: None,
        staging: None,
        store: default_store(env),
        export_to: None,
        sftp: None,
        age_recipients: Vec::new(),
        reader_role: "staging_reader".into(),
    };
    for name in ["production", "staging"] {
        let prompt = format!(
            "{name} server (postgresql://user@host:port/db, service=NAME, or host=… port=… dbname=… user=…)"
        );
        let flag = format!("--{name}");
        let answer = src.answer(&q(&flag, &prompt, None), &mut |t| {
            let c = Connection::parse(t)?;
            let mut draft = a.clone();
            set(&mut draft, name, c.clone());
            probe::database(name, &draft, env, out)?;
            Ok(c)
        });
        set(&mut a, name, answer?);
    }
    let shown = a.store.display().to_string();
    a.store = src.answer(
        &q("--store", "where snapshots go (made 0700)", Some(&shown)),
        &mut |t| {
            let path = answers::store(t)?;
            probe::store(&path)?;
            Ok(path)
        },
    )?;
    destination(src, env, &mut a, out)?;
    a.age_recipients = src.answers(
        &q("--age-recipient", "age recipients: public keys (age1… or ssh-ed25519 …) that may read snapshots and exports", None),
        &mut |t| answers::recipient(t),
    )?;
    a.reader_role = src.answer(
        &q(
            "--reader-role",
            "the staging role care teams read as (acc creates it)",
            Some("staging_reader"),
        ),
        &mut |t| answers::role_name(t),
    )?;
    Ok(a)
}

/// Where exports go and, for SFTP, the login: reached before the answer stands.
fn destination(
    src: &mut impl Source,
    env: &Env,
    a: &mut Answers,
    out: &mut dyn Write,
) -> Result<()> {
    let home = env
        .get("HOME")
        .map_or_else(|| PathBuf::from("/root"), PathBuf::from);
    loop {
        let to = src.answer(
            &q(
                "--export-to",
                "where exports go (sftp://user@host:port/path, a directory, or none)",
                Some("none"),
            ),
            &mut |t| answers::export_to(t),
        )?;
        let Some(to) = to else {
            return Ok(());
        };
        let sftp = if answers::is_sftp(&to) {
            let key = home.join(".ssh/id_ed25519").display().to_string();
            let identity_file = src.answer(
                &q(
                    "--sftp-identity-file",
                    "the SSH key acc logs in with",
                    Some(&key),
                ),
                &mut |t| existing(t),
            )?;
            let hosts = home.join(".ssh/known_hosts").display().to_string();
            let known_hosts = src.answer(
                &q(
                    "--sftp-known-hosts",
                    "the known_hosts file that lists the server's key",
                    Some(&hosts),
                ),
                &mut |t| existing(t),
            )?;
            Some(SftpLogin {
                identity_file,
                known_hosts,
            })
        } else {
            None
        };
        let mut draft = a.clone();
        draft.export_to = Some(to.clone());
        draft.sftp = sftp.clone();
        match probe::destination(&draft, env, out) {
            Ok(()) => {
                a.export_to = Some(to);
                a.sftp = sftp;
                return Ok(());
            }
            Err(why) => src.refused("--export-to", &why)?,
        }
    }
}

fn existing(t: &str) -> std::result::Result<PathBuf, String> {
    let p = PathBuf::from(t.trim());
    if p.is_file() {
        Ok(p)
    } else {
        Err(format!("{} is not a file", p.display()))
    }
}

fn set(a: &mut Answers, name: &str, c: Connection) {
    if name == "production" {
        a.production = Some(c);
    } else {
        a.staging = Some(c);
    }
}

fn q<'a>(flag: &'a str, prompt: &'a str, default: Option<&str>) -> Question<'a> {
    Question {
        flag,
        prompt,
        default: default.map(str::to_string),
    }
}

/// `/var/lib/acc` for root (the package's home for acc), else `~/.local/share/acc`.
fn default_store(env: &Env) -> PathBuf {
    if crate::process::is_root() {
        return PathBuf::from("/var/lib/acc");
    }
    env.get("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| env.get("HOME").map(|h| Path::new(h).join(".local/share")))
        .map_or_else(|| PathBuf::from("/var/lib/acc"), |d| d.join("acc"))
}
