//! The swap: the live database becomes `__previous` and the incoming one takes its name, in
//! two renames; readers see the old copy or the new one, never a mixture.

use std::time::Duration;

use tokio_postgres::Client;

use super::target::Target;
use crate::config::Env;
use crate::error::{Error, Kind, Result};
use crate::pg::quote_ident;

/// How long sessions on the live database are given to end before the swap gives up.
const DRAIN: Duration = Duration::from_secs(20);

async fn exists(admin: &Client, name: &str) -> Result<bool> {
    Ok(admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .map_err(|e| Error::unavailable("cannot list the target's databases").source(e))?
        .is_some())
}

/// Closes `name` to new sessions, ends the ones it has, and renames it to `to`.
async fn retire(admin: &Client, name: &str, to: &str) -> Result<()> {
    let (q, qto) = (quote_ident(name), quote_ident(to));
    admin
        .batch_execute(&format!("ALTER DATABASE {q} ALLOW_CONNECTIONS false"))
        .await
        .map_err(|e| {
            Error::unavailable(format!("cannot close {name} to new sessions"))
                .source(e)
                .hint("the staging user must own the staging database")
        })?;
    let start = std::time::Instant::now();
    loop {
        let _ = admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&name],
            )
            .await;
        match admin
            .batch_execute(&format!("ALTER DATABASE {q} RENAME TO {qto}"))
            .await
        {
            Ok(()) => return Ok(()),
            Err(e) if start.elapsed() < DRAIN => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => {
                let _ = admin
                    .batch_execute(&format!("ALTER DATABASE {q} ALLOW_CONNECTIONS true"))
                    .await;
                return Err(Error::new(
                    Kind::Temporary,
                    format!("sessions on {name} did not end, so it was not swapped"),
                )
                .source(e)
                .hint("the run is safe to retry; sessions of superusers cannot be ended by acc"));
            }
        }
    }
}

/// Renames `from` to `live` and opens it to sessions.
async fn reinstate(
    admin: &Client,
    from: &str,
    live: &str,
) -> std::result::Result<(), tokio_postgres::Error> {
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {} RENAME TO {}; ALTER DATABASE {} ALLOW_CONNECTIONS true",
            quote_ident(from),
            quote_ident(live),
            quote_ident(live)
        ))
        .await
}

/// Undoes a swap cut short between its two renames (the live name missing while `__previous`
/// exists): the previous copy goes back in place, so staging is never left without a database.
pub async fn repair(target: &Target, env: &Env) -> Result<bool> {
    let admin = target.maintenance(env).await?;
    let (live, previous) = (target.name().to_string(), target.previous());
    if exists(&admin, &live).await? || !exists(&admin, &previous).await? {
        return Ok(false);
    }
    reinstate(&admin, &previous, &live)
        .await
        .map_err(|e| Error::unavailable("cannot put the previous staging copy back").source(e))?;
    Ok(true)
}

/// Puts the incoming database in place; the live one (if any) becomes `__previous`.
pub async fn swap_in(target: &Target, env: &Env) -> Result<()> {
    let admin = target.maintenance(env).await?;
    let (live, previous, incoming) = (
        target.name().to_string(),
        target.previous(),
        target.incoming(),
    );
    let fail = |e| Error::unavailable("the swap failed").source(e);
    admin
        .batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(&previous)
        ))
        .await
        .map_err(fail)?;
    let had_live = exists(&admin, &live).await?;
    if had_live {
        retire(&admin, &live, &previous).await?;
    }
    // acc's own loading sessions may still be closing; the same drain-and-rename applies
    if let Err(e) = retire(&admin, &incoming, &live).await {
        if had_live {
            let _ = reinstate(&admin, &previous, &live).await;
        }
        return Err(e);
    }
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS true",
            quote_ident(&live)
        ))
        .await
        .map_err(fail)
}

/// Swaps `__previous` back into place; the current copy becomes `__previous`.
pub async fn roll_back(target: &Target, env: &Env) -> Result<()> {
    let admin = target.maintenance(env).await?;
    let (live, previous) = (target.name().to_string(), target.previous());
    if !exists(&admin, &previous).await? {
        return Err(Error::new(
            Kind::BadInput,
            format!("there is no {previous} to roll back to"),
        ));
    }
    let parked = format!("{live}__rollback");
    let fail = |e| Error::unavailable("the rollback failed").source(e);
    if exists(&admin, &live).await? {
        retire(&admin, &live, &parked).await?;
    }
    reinstate(&admin, &previous, &live).await.map_err(fail)?;
    if exists(&admin, &parked).await? {
        admin
            .batch_execute(&format!(
                "ALTER DATABASE {} RENAME TO {}",
                quote_ident(&parked),
                quote_ident(&previous)
            ))
            .await
            .map_err(fail)?;
    }
    Ok(())
}
