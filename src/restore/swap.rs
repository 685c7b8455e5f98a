//! The swap: the live database becomes `__previous` and the incoming one takes its name, in
//! two renames; readers see the old copy or the new one, never a mixture.
//!
//! A run can die at any step (kill -9, a systemd timeout, a dropped link). The states it can
//! leave, and what `repair` does with each at the start of the next run:
//! - live closed to new sessions (`ALLOW_CONNECTIONS false`), not yet renamed: reopened;
//! - live renamed to `__previous`, nothing under the live name: `__previous` is put back;
//! - incoming renamed in but still closed: reopened (it is the complete new copy);
//! - a leftover `__incoming`, closed or not: dropped by the load that follows;
//! - `__older`, the copy before `__previous`, set aside while a swap runs: dropped when
//!   `__previous` is in place, else renamed back to `__previous` (so a failed swap keeps the
//!   copy `--rollback` needs).

use std::time::Duration;

use tokio_postgres::Client;

use super::target::Target;
use crate::env::Env;
use crate::error::{Error, Kind, Result};
use crate::pg::quote_ident;

/// How long sessions on the live database are given to end before the swap gives up.
const DRAIN: Duration = Duration::from_secs(20);

async fn exists(admin: &Client, name: &str) -> Result<bool> {
    Ok(admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .map_err(|e| crate::pg::sqlstate::failure("cannot list the target's databases", e))?
        .is_some())
}

/// Closes `name` to new sessions, ends the ones it has, and renames it to `to`.
async fn retire(admin: &Client, name: &str, to: &str) -> Result<()> {
    let (q, qto) = (quote_ident(name), quote_ident(to));
    admin
        .batch_execute(&format!("ALTER DATABASE {q} ALLOW_CONNECTIONS false"))
        .await
        .map_err(|e| {
            crate::pg::sqlstate::failure(format!("cannot close {name} to new sessions"), e)
                .hint("the staging user must own the staging database")
        })?;
    crate::failpoint::pause(&format!("swap:closed:{name}")).await;
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

/// What `repair` found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repair {
    Nothing,
    /// The live name was missing after the first rename; `__previous` is back in place.
    PreviousPutBack,
    /// The live database refused new sessions; it accepts them again.
    Reopened,
}

/// Whether `name` exists and accepts new sessions.
async fn state(admin: &Client, name: &str) -> Result<Option<bool>> {
    Ok(admin
        .query_opt(
            "SELECT datallowconn FROM pg_database WHERE datname = $1",
            &[&name],
        )
        .await
        .map_err(|e| crate::pg::sqlstate::failure("cannot list the target's databases", e))?
        .map(|r| r.get(0)))
}

/// Undoes whatever a swap cut short left (see the module's list), so staging is never left
/// without a database or refusing its readers.
pub async fn repair(target: &Target, env: &Env) -> Result<Repair> {
    let admin = target.maintenance(env).await?;
    let (live, previous) = (target.name().to_string(), target.previous());
    let repaired = put_live_back(&admin, &live, &previous).await?;
    settle_older(&admin, &previous, &target.older()).await?;
    Ok(repaired)
}

/// Reopens a live copy left closed, or puts `__previous` back when the live name is missing.
async fn put_live_back(admin: &Client, live: &str, previous: &str) -> Result<Repair> {
    match state(admin, live).await? {
        Some(true) => Ok(Repair::Nothing),
        Some(false) => {
            admin
                .batch_execute(&format!(
                    "ALTER DATABASE {} ALLOW_CONNECTIONS true",
                    quote_ident(live)
                ))
                .await
                .map_err(|e| {
                    crate::pg::sqlstate::failure(format!("cannot reopen {live} to sessions"), e)
                })?;
            Ok(Repair::Reopened)
        }
        None if state(admin, previous).await?.is_some() => {
            reinstate(admin, previous, live).await.map_err(|e| {
                crate::pg::sqlstate::failure("cannot put the previous staging copy back", e)
            })?;
            Ok(Repair::PreviousPutBack)
        }
        None => Ok(Repair::Nothing),
    }
}

/// What an operator should run now about a staging database that refuses sessions or is
/// missing after an interrupted swap, or `None` when it is fine.
pub async fn advice(target: &Target, env: &Env) -> Option<String> {
    let admin = target.maintenance(env).await.ok()?;
    let (live, previous) = (target.name().to_string(), target.previous());
    match state(&admin, &live).await.ok()? {
        Some(true) => None,
        Some(false) => Some(format!(
            "{live} refuses new sessions after an interrupted swap: the next acc restore reopens it, \
             or now, as its owner: ALTER DATABASE {} ALLOW_CONNECTIONS true",
            quote_ident(&live)
        )),
        None if state(&admin, &previous).await.ok()?.is_some() => Some(format!(
            "{live} is missing after an interrupted swap: the next acc restore puts {previous} back"
        )),
        None => None,
    }
}

/// Puts the incoming database in place; the live one (if any) becomes `__previous`.
pub async fn swap_in(target: &Target, env: &Env) -> Result<()> {
    let admin = target.maintenance(env).await?;
    let (live, previous, incoming) = (
        target.name().to_string(),
        target.previous(),
        target.incoming(),
    );
    let older = target.older();
    let fail = |e| crate::pg::sqlstate::failure("the swap failed", e);
    // the copy before this one waits aside until the new one is in place: a swap that fails
    // keeps it, so --rollback stays possible
    settle_older(&admin, &previous, &older).await?;
    if exists(&admin, &previous).await? {
        rename(&admin, &previous, &older).await.map_err(fail)?;
    }
    let had_live = exists(&admin, &live).await?;
    if had_live {
        if let Err(e) = retire(&admin, &live, &previous).await {
            let _ = settle_older(&admin, &previous, &older).await;
            return Err(e);
        }
        crate::failpoint::pause("swap:live-renamed").await;
    }
    // acc's own loading sessions may still be closing; the same drain-and-rename applies
    if let Err(e) = retire(&admin, &incoming, &live).await {
        if had_live {
            let _ = reinstate(&admin, &previous, &live).await;
        }
        let _ = settle_older(&admin, &previous, &older).await;
        return Err(e);
    }
    crate::failpoint::pause("swap:incoming-renamed").await;
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS true",
            quote_ident(&live)
        ))
        .await
        .map_err(fail)?;
    crate::failpoint::pause("swap:reopened").await;
    settle_older(&admin, &previous, &older).await
}

async fn rename(
    admin: &Client,
    from: &str,
    to: &str,
) -> std::result::Result<(), tokio_postgres::Error> {
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {} RENAME TO {}",
            quote_ident(from),
            quote_ident(to)
        ))
        .await
}

/// `__older` is the copy before `__previous`, set aside while a swap runs: with `__previous`
/// in place it is no longer needed and is dropped; without one (the swap failed, or was killed,
/// before the live copy took that name) it becomes `__previous` again.
async fn settle_older(admin: &Client, previous: &str, older: &str) -> Result<()> {
    if !exists(admin, older).await? {
        return Ok(());
    }
    let fail = |e| crate::pg::sqlstate::failure(format!("cannot settle {older}"), e);
    if exists(admin, previous).await? {
        admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quote_ident(older)
            ))
            .await
            .map_err(fail)
    } else {
        rename(admin, older, previous).await.map_err(fail)
    }
}

/// Swaps `__previous` back into place; the current copy becomes `__previous`.
pub async fn roll_back(target: &Target, env: &Env) -> Result<()> {
    let admin = target.maintenance(env).await?;
    let (live, previous) = (target.name().to_string(), target.previous());
    // a swap killed while `__previous` waited aside as `__older` left it there
    settle_older(&admin, &previous, &target.older()).await?;
    if !exists(&admin, &previous).await? {
        return Err(Error::new(
            Kind::BadInput,
            format!("there is no {previous} to roll back to"),
        ));
    }
    let parked = format!("{live}__rollback");
    let fail = |e| crate::pg::sqlstate::failure("the rollback failed", e);
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
