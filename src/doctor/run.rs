//! `acc doctor`'s checks: can acc reach and use everything the profile names? Each check
//! says what it found and, when it fails, the fix.

use crate::config::{Env, Profile};
use crate::delivery::{Delivery, Location};

use super::check::{Check, fail, fail_with, pass};
use super::local::{keys, secret_files, store_space};
use super::servers::{pg_dump_major, server};

pub async fn run(p: &Profile, env: &Env) -> Vec<Check> {
    let mut out = Vec::new();
    let client_major = pg_dump_major();
    for (name, db) in [("production", &p.production), ("staging", &p.staging)] {
        match db {
            None => out.push(fail_with(
                name,
                "not configured",
                format!("add [profiles.{}.{name}]", p.name),
            )),
            Some(db) => out.extend(server(name, db, p, env, client_major).await),
        }
    }
    out.push(store_space(p));
    out.extend(keys(p));
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
