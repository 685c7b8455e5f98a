//! The doctor's checks of this machine: free space in the store, key and secret files
//! readable by their owner only, recipients and identities that parse.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::config::Profile;

use crate::crypt::Identities;
use crate::secret::SecretRef;
use crate::store::ProfileStore;

use super::check::{Check, fail, fail_with, pass};

/// The recipients parse, and every key file is private; the restore identity loads.
pub(super) fn keys(p: &Profile) -> Vec<Check> {
    let mut out = Vec::new();
    out.push(match p.age_recipients.required(&p.name) {
        Ok(_) => pass(
            "age recipients",
            format!("{} recipient(s) parse", p.age_recipients.keys().len()),
        ),
        Err(e) => fail("age recipients", &e),
    });
    for (what, path) in [
        ("restore identity", p.restore.age_identity.as_deref()),
        (
            "sftp identity",
            p.sftp.as_ref().and_then(|s| s.identity_file.as_deref()),
        ),
        ("snapshot signing key", p.snapshot.signing_key.as_deref()),
        ("export signing key", p.export.signing_key.as_deref()),
    ] {
        if let Some(path) = path {
            out.push(private_file(what, path));
        }
    }
    if let Some(path) = p.restore.age_identity.as_deref()
        && let Err(e) = Identities::load(path)
    {
        out.push(fail("restore identity loads", &e));
    }
    out
}

/// Free space where snapshots go, against the last snapshot's size (twice: a new snapshot is
/// written before the old one is pruned).
pub(super) fn store_space(p: &Profile) -> Check {
    let dir = if p.store.exists() {
        p.store.clone()
    } else {
        p.store.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    let out = crate::process::command("df")
        .args(["-Pk"])
        .arg(&dir)
        .output();
    let free = out
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .nth(1)
                .and_then(|l| l.split_whitespace().nth(3)?.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024);
    let last = ProfileStore::existing(&p.store, &p.name)
        .ok()
        .and_then(|s| {
            s.latest()
                .and_then(|l| crate::snapshot::manifest::Manifest::read(&s.snapshot_dir(&l)).ok())
        })
        .map(|m| m.total_size());
    match (free, last) {
        (None, _) => fail_with(
            "snapshot store space",
            format!("cannot measure free space at {}", dir.display()),
            "create the store directory",
        ),
        (Some(f), Some(l)) if f < 2 * l => fail_with(
            "snapshot store space",
            format!(
                "{:.1} GB free at {}, the last snapshot was {:.1} GB",
                f as f64 / 1e9,
                dir.display(),
                l as f64 / 1e9
            ),
            "free space or lower snapshot.keep: a snapshot is written before the oldest is pruned",
        ),
        (Some(f), l) => pass(
            "snapshot store space",
            format!(
                "{:.1} GB free at {}{}",
                f as f64 / 1e9,
                dir.display(),
                l.map(|l| format!(", last snapshot {:.2} GB", l as f64 / 1e9))
                    .unwrap_or_default()
            ),
        ),
    }
}

fn private_file(what: &str, path: &Path) -> Check {
    match std::fs::metadata(path) {
        Err(e) => fail_with(
            what,
            format!("{}: {e}", path.display()),
            "check the path in the profile",
        ),
        Ok(m) if m.permissions().mode() & 0o077 != 0 => fail_with(
            what,
            format!(
                "{} has mode {:04o}",
                path.display(),
                m.permissions().mode() & 0o7777
            ),
            format!("chmod 600 {}", path.display()),
        ),
        Ok(_) => pass(what, format!("{} is private (0600)", path.display())),
    }
}

/// Secret files the profile names must not be readable by everyone.
pub(super) fn secret_files(p: &Profile) -> Vec<Check> {
    let mut refs: Vec<&SecretRef> = Vec::new();
    for db in [&p.production, &p.staging].into_iter().flatten() {
        refs.extend(db.password.iter());
    }
    if let Some(s) = &p.sftp {
        refs.extend(s.passphrase.iter());
    }
    if let Some(s) = &p.snowflake {
        refs.extend(s.password.iter());
        refs.extend(s.private_key_passphrase.iter());
    }
    let mut out = Vec::new();
    for r in refs {
        if let SecretRef::File(path) = r {
            match std::fs::metadata(path) {
                Ok(m) if m.permissions().mode() & 0o004 != 0 => out.push(fail_with(
                    "secret file",
                    format!(
                        "{} is readable by everyone (mode {:04o})",
                        path.display(),
                        m.permissions().mode() & 0o7777
                    ),
                    format!("chmod 600 {}", path.display()),
                )),
                Ok(_) => out.push(pass(
                    "secret file",
                    format!("{} is not world-readable", path.display()),
                )),
                Err(e) => out.push(fail_with(
                    "secret file",
                    format!("{}: {e}", path.display()),
                    "check the path in the profile",
                )),
            }
        }
    }
    out
}
