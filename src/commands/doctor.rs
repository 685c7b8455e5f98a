//! `acc doctor`: the resolved profile, every secret shown as ***.

use serde_json::json;

use super::block_on;
use crate::cli::DoctorArgs;
use crate::config::{Config, RawProfile};
use crate::error::{Error, Kind, Result};
use crate::pg::{Database, RootCert};
use crate::secret::SecretRef;
use crate::ui::output;

pub fn run(args: &DoctorArgs, config: &Config, profile: Option<&str>) -> Result<()> {
    let p = config.profile(profile, RawProfile::default())?;
    let mut v = View::default();
    general(&mut v, &p);
    settings(&mut v, &p);
    remotes(&mut v, &p);
    let checks = match args.no_checks {
        true => Vec::new(),
        false => block_on(crate::doctor::run(&p, config.env(), config.dirs()))?,
    };
    if args.json {
        output::emit_json(&json!({
            "profile": p.name,
            "settings": v.pairs.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>(),
            "checks": checks,
            "ok": checks.iter().all(|c| c.ok),
        }))?;
    } else {
        output::emit(&text(&p.name, &v, &checks, args.no_checks))?;
    }
    verdict(&checks)
}

/// The profile view, then the checks unless `--no-checks`.
fn text(name: &str, v: &View, checks: &[crate::doctor::Check], no_checks: bool) -> String {
    let mut out = format!("profile {name}\n{}", v.text);
    if no_checks {
        return out;
    }
    out.push_str("\nchecks\n");
    for c in checks {
        out.push_str(&c.line());
    }
    out
}

fn verdict(checks: &[crate::doctor::Check]) -> Result<()> {
    let failed = checks.iter().filter(|c| !c.ok).count();
    if failed > 0 {
        return Err(Error::new(
            Kind::Partial,
            format!("{failed} of {} checks failed", checks.len()),
        )
        .hint("each failed check above names its fix"));
    }
    Ok(())
}

fn database(db: Option<&Database>) -> String {
    db.map_or("(not set)".into(), |d| {
        format!("{} password {}", d.describe(), d.origin("password"))
    })
}

/// sslmode and the files it reads, each with where it was set.
fn tls_settings(d: &Database) -> String {
    let mut parts = vec![format!(
        "sslmode {} ({})",
        d.tls.mode.name(),
        d.origin("sslmode")
    )];
    let root = match &d.tls.root_cert {
        Some(RootCert::System) => Some("system".to_string()),
        Some(RootCert::File(f)) => Some(f.display().to_string()),
        None => None,
    };
    for (key, value) in [
        ("sslrootcert", root),
        (
            "sslcert",
            d.tls.cert.as_ref().map(|p| p.display().to_string()),
        ),
        (
            "sslkey",
            d.tls.key.as_ref().map(|p| p.display().to_string()),
        ),
        (
            "sslcrl",
            d.tls.crl.as_ref().map(|p| p.display().to_string()),
        ),
    ] {
        if let Some(v) = value {
            parts.push(format!("{key} {v} ({})", d.origin(key)));
        }
    }
    parts.join(", ")
}

/// Where host, port, dbname, user and the password came from.
fn origins(d: &Database) -> String {
    ["host", "hostaddr", "port", "dbname", "user"]
        .iter()
        .filter(|k| **k != "hostaddr" || d.hostaddr.is_some())
        .map(|k| format!("{k} {}", d.origin(k)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn secret(s: Option<&SecretRef>) -> String {
    s.map_or("(none)".into(), ToString::to_string)
}

/// The profile as doctor shows it, one `key  value` line at a time; for JSON the same pairs,
/// an indented key named after the line above it ("production tls").
#[derive(Default)]
struct View {
    text: String,
    pairs: Vec<(String, String)>,
    parent: String,
}

impl View {
    fn line(&mut self, k: &str, v: String) {
        self.text.push_str(&format!("  {k:<22} {v}\n"));
        let key = match k.strip_prefix("  ") {
            Some(child) => format!("{} {child}", self.parent),
            None => {
                self.parent = k.to_string();
                k.to_string()
            }
        };
        self.pairs.push((key, v));
    }
}

/// Where the profile came from, its region, store, destination, recipients and servers.
fn general(v: &mut View, p: &crate::config::Profile) {
    let r = &p.region;
    v.line("config files", p.origins.join(", "));
    v.line(
        "region",
        format!(
            "{} ({}; cutoff {}, deadline {} +{}d; from {})",
            r.name,
            r.anchor.name(),
            r.cutoff.format("%H:%M"),
            r.deadline.format("%H:%M"),
            r.deadline_day,
            r.origin
        ),
    );
    if !r.display.is_empty() {
        v.line(
            "display zones",
            r.display
                .iter()
                .map(|z| z.name())
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    v.line("store", p.store.display().to_string());
    v.line(
        "export to",
        match &p.export_to {
            None => "(not set)".into(),
            Some(Ok(l)) => l.describe(),
            Some(Err(bad)) => format!("(not a location: {bad})"),
        },
    );
    v.line(
        "age recipients",
        if p.age_recipients.keys().is_empty() {
            "(none)".into()
        } else {
            p.age_recipients.keys().join(", ")
        },
    );
    for (name, db) in [("production", &p.production), ("staging", &p.staging)] {
        v.line(name, database(db.as_ref()));
        if let Some(d) = db {
            v.line("  tls", tls_settings(d));
            v.line("  settings from", origins(d));
        }
    }
}

/// The snapshot, restore and export settings.
fn settings(v: &mut View, p: &crate::config::Profile) {
    let snap = &p.snapshot;
    v.line(
        "snapshot",
        format!(
            "jobs {}, keep {}, retry {}s",
            snap.jobs.map_or("(one per core)".into(), |j| j.to_string()),
            snap.keep.map_or("(all)".into(), |k| k.to_string()),
            snap.retry.as_secs()
        ),
    );
    if !snap.exclude_tables.is_empty() || !snap.only_schemas.is_empty() {
        v.line(
            "snapshot filters",
            format!(
                "exclude [{}], only schemas [{}]",
                snap.exclude_tables.join(", "),
                snap.only_schemas.join(", ")
            ),
        );
    }
    let path = |f: &Option<std::path::PathBuf>| shown(f.as_deref(), "(none)");
    v.line("snapshot signing key", path(&snap.signing_key));
    v.line("allowed signers", path(&snap.allowed_signers));
    let restore = &p.restore;
    v.line(
        "restore",
        format!(
            "reader role {}, jobs {}, preserve [{}]",
            restore.reader_role,
            restore
                .jobs
                .map_or("(one per core)".into(), |j| j.to_string()),
            restore.preserve_schemas.join(", ")
        ),
    );
    v.line("restore identity", path(&restore.age_identity));
    let export = &p.export;
    v.line(
        "export",
        format!(
            "source {}, {} days ahead, keep {}, bom {}",
            p.dashboard_source().name(),
            export.days,
            export
                .keep_days
                .map_or("all".into(), |d| format!("{d} days")),
            if export.bom { "on" } else { "off" }
        ),
    );
    v.line("export signing key", path(&export.signing_key));
}

/// SFTP and Snowflake, secrets as ***.
fn remotes(v: &mut View, p: &crate::config::Profile) {
    if let Some(s) = &p.sftp {
        v.line(
            "sftp identity",
            shown(s.identity_file.as_deref(), "(agent)"),
        );
        v.line(
            "sftp known_hosts",
            shown(s.known_hosts.as_deref(), "(not set)"),
        );
        v.line("sftp passphrase", secret(s.passphrase.as_ref()));
    }
    if let Some(s) = &p.snowflake {
        v.line(
            "snowflake",
            format!(
                "{}@{} {}",
                s.user,
                s.account,
                s.base_url.clone().unwrap_or_default()
            )
            .trim_end()
            .to_string(),
        );
        v.line(
            "snowflake database",
            format!(
                "{}.{}",
                s.database.as_deref().unwrap_or("-"),
                s.schema.as_deref().unwrap_or("-")
            ),
        );
        v.line("snowflake password", secret(s.password.as_ref()));
        if let Some(k) = &s.private_key_file {
            v.line(
                "snowflake key",
                format!(
                    "{} passphrase {}",
                    k.display(),
                    secret(s.private_key_passphrase.as_ref())
                ),
            );
        }
    }
}

/// A path as doctor shows it, or what stands in when none is set.
fn shown(path: Option<&std::path::Path>, none: &str) -> String {
    path.map_or(none.into(), |f| f.display().to_string())
}
