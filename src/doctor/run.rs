//! `acc doctor`'s checks: can acc reach and use everything the profile names? Each check
//! says what it found and, when it fails, the fix.

use crate::config::Profile;

use crate::delivery::{Delivery, Reach};
use crate::location::Location;

use crate::env::Env;

use super::check::{Check, fail, fail_with, pass};
use super::local::{keys, secret_files, store_space};
use super::servers::{pg_dump_major, server};

/// Every check; `dirs` are the configuration directories that may hold query overrides.
pub async fn run(p: &Profile, env: &Env, dirs: &[std::path::PathBuf]) -> Vec<Check> {
    let mut out = Vec::new();
    for name in ["production", "staging"] {
        out.extend(check_database(name, p, env).await);
    }
    out.extend(super::extensions::check(p, env).await);
    out.extend(super::locale::check(p, env).await);
    out.push(store_space(p));
    out.extend(super::bucket::check(p, env).await);
    out.extend(keys(p));
    out.extend(secret_files(p));
    out.extend(check_destination(p, env).await);
    out.extend(super::sheet_query::check(p, env, dirs).await);
    out.extend(super::device_sync::check(p, env, dirs).await);
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

/// The checks of `production` or `staging`: login first (with the server's version), then
/// pg_dump, TLS and the rights acc needs there.
pub async fn check_database(name: &str, p: &Profile, env: &Env) -> Vec<Check> {
    let db = if name == "production" {
        &p.production
    } else {
        &p.staging
    };
    match db {
        None => vec![fail_with(
            name,
            "not configured",
            format!("add [profiles.{}.{name}]", p.name),
        )],
        Some(db) => server(name, db, p, env, pg_dump_major()).await,
    }
}

/// Whether the export destination answers: the SFTP server's host key and the login.
pub async fn check_destination(p: &Profile, env: &Env) -> Vec<Check> {
    let to = match &p.export_to {
        None => return Vec::new(),
        Some(Ok(to)) => to,
        Some(Err(bad)) => {
            return vec![fail_with(
                "export destination",
                bad.message.clone(),
                bad.hint.as_deref().unwrap_or_default(),
            )];
        }
    };
    if let Location::Bucket(url) = to {
        return vec![super::bucket::checked("export destination", url, p, env).await];
    }
    let (to, profile, env2) = (to.clone(), p.clone(), env.clone());
    let reached = crate::pool::run(move || {
        Delivery::open(&to, &Reach::of(&profile), &env2).map(|_| to.describe())
    })
    .await;
    vec![match reached {
        Ok(Ok(where_)) => pass(
            "export destination",
            format!("{where_}: host key matches and login works"),
        ),
        Ok(Err(e)) => fail("export destination", &e),
        Err(e) => fail_with("export destination", e.to_string(), "this is a bug in acc"),
    }]
}
