//! `acc doctor`'s checks: can acc reach and use everything the profile names? Each check
//! says what it found and, when it fails, the fix.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde::Serialize;

use crate::config::{Database, Env, Profile, SecretRef, SslMode};
use crate::crypt::{Identities, Recipients};
use crate::delivery::{Delivery, Location};
use crate::error::Error;
use crate::pg::tls::PeerCert;
use crate::store::ProfileStore;

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    /// Passed, but weaker than it should be (a weak sslmode, a certificate about to expire).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub warning: bool,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

fn pass(name: &str, detail: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        ok: true,
        warning: false,
        detail: detail.into(),
        hint: None,
    }
}

fn warn(name: &str, detail: impl Into<String>, hint: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        ok: true,
        warning: true,
        detail: detail.into(),
        hint: Some(hint.into()),
    }
}

fn fail(name: &str, e: &Error) -> Check {
    Check {
        name: name.into(),
        ok: false,
        warning: false,
        detail: e.message().to_string(),
        hint: e.hint_text().map(str::to_string),
    }
}

fn fail_with(name: &str, detail: impl Into<String>, hint: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        ok: false,
        warning: false,
        detail: detail.into(),
        hint: Some(hint.into()),
    }
}

pub async fn run(p: &Profile, env: &Env) -> Vec<Check> {
    let mut out = Vec::new();
    let client_major = pg_dump_major();
    for (name, db) in [("production", &p.production), ("staging", &p.staging)] {
        let Some(db) = db else {
            out.push(fail_with(
                name,
                "not configured",
                format!("add [profiles.{}.{name}]", p.name),
            ));
            continue;
        };
        match crate::pg::open(db, env, "acc-doctor").await {
            Err(e) => out.push(fail(name, &e)),
            Ok(crate::pg::Connection { client, peer }) => {
                let version: i32 = client
                    .query_one("SELECT current_setting('server_version_num')::int", &[])
                    .await
                    .map(|r| r.get(0))
                    .unwrap_or(0);
                out.push(pass(
                    name,
                    format!(
                        "{} reached and logged in (server {})",
                        db.describe(),
                        version / 10000
                    ),
                ));
                match client_major {
                    Some(c) if c >= version / 10000 => {
                        out.push(pass(&format!("pg_dump for {name}"), format!("pg_dump {c} is at least server {}", version / 10000)))
                    }
                    Some(c) => out.push(fail_with(
                        &format!("pg_dump for {name}"),
                        format!("pg_dump {c} is older than server {}", version / 10000),
                        format!("install postgresql-client-{} (pg_dump must be the server's major version or newer)", version / 10000),
                    )),
                    None => out.push(fail_with(&format!("pg_dump for {name}"), "pg_dump is not installed", "install postgresql-client")),
                }
                out.extend(tls(name, db, &client, peer.as_ref()).await);
                if name == "staging" {
                    out.push(staging_rights(&client, db).await);
                    out.push(large_objects(&client, &p.restore.template).await);
                }
            }
        }
    }
    out.push(store_space(p));
    out.push(match Recipients::parse(&p.name, &p.age_recipients) {
        Ok(_) => pass(
            "age recipients",
            format!("{} recipient(s) parse", p.age_recipients.len()),
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
    out.extend(secret_files(p));
    if let Some(to) = &p.export_to {
        let (to, profile, env2) = (to.clone(), p.clone(), env.clone());
        let reached = tokio::task::spawn_blocking(move || {
            Location::parse(&to).and_then(|l| {
                Delivery::open(&l, profile.sftp.as_ref(), &env2).map(|_| l.describe())
            })
        })
        .await;
        out.push(match reached {
            Ok(Ok(where_)) => pass(
                "export destination",
                format!("{where_}: host key matches and login works"),
            ),
            Ok(Err(e)) => fail("export destination", &e),
            Err(e) => fail_with("export destination", e.to_string(), "this is a bug in acc"),
        });
    }
    if let Some(sf) = &p.snowflake {
        out.push(match crate::export::snowflake_login(sf, env).await {
            Ok(()) => pass(
                "snowflake",
                format!("logged in to {} as {}", sf.account, sf.user),
            ),
            Err(e) => fail("snowflake", &e),
        });
    }
    out
}

fn pg_dump_major() -> Option<i32> {
    let out = crate::process::command("pg_dump")
        .arg("--version")
        .output()
        .ok()?;
    // "pg_dump (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)"
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .nth(2)?
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// Certificates that expire sooner than this are warned about.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// What the server reports of this connection's TLS, the certificate it showed, and warnings
/// for a mode weaker than verify-full or a certificate close to expiry.
async fn tls(
    name: &str,
    db: &Database,
    client: &tokio_postgres::Client,
    peer: Option<&PeerCert>,
) -> Vec<Check> {
    let check = format!("{name} tls");
    let mut out = Vec::new();
    let row = client
        .query_one(
            "SELECT ssl, coalesce(version, ''), coalesce(cipher, '') FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await;
    let (on, version, cipher) = match row {
        Ok(r) => (
            r.get::<_, bool>(0),
            r.get::<_, String>(1),
            r.get::<_, String>(2),
        ),
        Err(e) => {
            out.push(fail_with(
                &check,
                format!("cannot read pg_stat_ssl: {e}"),
                "check the server",
            ));
            return out;
        }
    };
    if !on {
        out.push(fail_with(
            &check,
            format!(
                "the connection is not encrypted (sslmode \"{}\")",
                db.tls.mode.name()
            ),
            "turn on ssl at the server and set sslmode = \"verify-full\" with sslrootcert",
        ));
        return out;
    }
    let cert = peer.map_or_else(String::new, |c| {
        format!(
            ", certificate {} expires in {} days",
            c.subject,
            c.days_left(chrono::Utc::now())
        )
    });
    if db.tls.mode < SslMode::VerifyFull {
        out.push(warn(
            &check,
            format!("{version} {cipher} under sslmode \"{}\"{cert}", db.tls.mode.name()),
            if db.tls.checks_chain() {
                "the server's name is not checked: set sslmode = \"verify-full\""
            } else {
                "the server's certificate is not checked, so anyone on the path can pose as it: set sslmode = \"verify-full\" and sslrootcert"
            },
        ));
    } else {
        out.push(pass(
            &check,
            format!("{version} {cipher}, verify-full{cert}"),
        ));
    }
    if let Some(c) = peer {
        let days = c.days_left(chrono::Utc::now());
        if days < EXPIRY_WARNING_DAYS {
            out.push(warn(
                &format!("{name} certificate"),
                format!(
                    "{} expires in {days} days ({})",
                    c.subject,
                    c.not_after.to_rfc3339()
                ),
                "renew the server's certificate before it expires; acc will refuse an expired one",
            ));
        }
    }
    out
}

/// The large-object functions PostgreSQL 15 lets any login run, READ ONLY or not.
pub const LARGE_OBJECT_WRITERS: &str =
    "pg_catalog.lo_from_bytea(oid, bytea), pg_catalog.lo_create(oid), pg_catalog.lo_creat(integer)";

/// Whether readers can write large objects into staging: PostgreSQL 15 runs `lo_from_bytea`
/// and `lo_create` inside READ ONLY transactions for anyone, and only a superuser can revoke
/// them, in the database each night's copy is created from (`restore.template`).
async fn large_objects(client: &tokio_postgres::Client, template: &str) -> Check {
    let open = client
        .query_one(
            "SELECT has_function_privilege('public', 'pg_catalog.lo_from_bytea(oid, bytea)', 'EXECUTE')",
            &[],
        )
        .await
        .map(|r| r.get::<_, bool>(0));
    match open {
        Err(e) => fail_with(
            "staging large objects",
            e.to_string(),
            "check the staging role",
        ),
        Ok(false) => pass(
            "staging large objects",
            format!("PUBLIC cannot create large objects (copies are made from {template})"),
        ),
        Ok(true) => warn(
            "staging large objects",
            "any login can write large objects into the read-only staging copy (lo_from_bytea and lo_create ignore READ ONLY on PostgreSQL 15)",
            format!(
                "once, as a superuser on the staging server: CREATE DATABASE acc_template TEMPLATE template0; then connected to acc_template: REVOKE EXECUTE ON FUNCTION {LARGE_OBJECT_WRITERS} FROM PUBLIC; then set restore.template = \"acc_template\" (each night's copy inherits the revoke)"
            ),
        ),
    }
}

async fn staging_rights(client: &tokio_postgres::Client, db: &Database) -> Check {
    let sql = "SELECT r.rolcreatedb, r.rolcreaterole,
                      pg_has_role(current_user, 'pg_signal_backend', 'MEMBER'),
                      pg_has_role(current_user, 'pg_read_all_data', 'MEMBER'),
                      (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1) = current_user
               FROM pg_roles r WHERE r.rolname = current_user";
    match client.query_one(sql, &[&db.dbname]).await {
        Err(e) => fail_with("staging rights", e.to_string(), "check the staging role"),
        Ok(r) => {
            let missing: Vec<&str> = [
                (r.get::<_, bool>(0), "CREATEDB"),
                (r.get::<_, bool>(1), "CREATEROLE"),
                (r.get::<_, bool>(2), "pg_signal_backend"),
                (r.get::<_, bool>(3), "pg_read_all_data"),
                (
                    r.get::<_, Option<bool>>(4).unwrap_or(true),
                    "ownership of the staging database",
                ),
            ]
            .into_iter()
            .filter(|(has, _)| !has)
            .map(|(_, what)| what)
            .collect();
            if missing.is_empty() {
                pass(
                    "staging rights",
                    format!("{} may create, swap and lock down databases", db.user),
                )
            } else {
                fail_with(
                    "staging rights",
                    format!("{} lacks {}", db.user, missing.join(", ")),
                    format!(
                        "as a superuser: ALTER ROLE {0} CREATEDB CREATEROLE; GRANT pg_signal_backend, pg_read_all_data TO {0}; ALTER DATABASE {1} OWNER TO {0}",
                        db.user, db.dbname
                    ),
                )
            }
        }
    }
}

/// Free space where snapshots go, against the last snapshot's size (twice: a new snapshot is
/// written before the old one is pruned).
fn store_space(p: &Profile) -> Check {
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
fn secret_files(p: &Profile) -> Vec<Check> {
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
