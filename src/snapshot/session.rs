//! The consistent view of production: one exporting transaction kept alive for the whole run,
//! and worker connections that import its snapshot.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset};
use tokio::task::JoinHandle;
use tokio_postgres::Client;

use crate::pg::Database;

use crate::env::Env;
use crate::error::{Error, Kind, Result};
use crate::pg::{self, sqlstate};

/// Session settings that would end a long snapshot early on a server that sets them.
const NO_TIMEOUTS: &str = "SET idle_in_transaction_session_timeout = 0; SET statement_timeout = 0; SET lock_timeout = '5min';
    SET tcp_keepalives_idle = 60; SET tcp_keepalives_interval = 10; SET tcp_keepalives_count = 6; SET tcp_user_timeout = 120000";
// The last line: production probes the exporter's link, so a snapshot host that crashed or lost
// its link releases its ACCESS SHARE locks within about two minutes, not hours.
/// `row_security = off`, as pg_dump sets it: a table whose policies would hide rows from acc's
/// role is an error, never a silent subset. `on` only when a filtered copy was asked for.
fn settings(filtered: bool) -> String {
    let rls = if filtered { "on" } else { "off" };
    format!(
        "{NO_TIMEOUTS}; {}; SET row_security = {rls}",
        pg::copy_format::portable_text(false)
    )
}

/// The exporting session runs a query this often, as a second guard against idle timeouts.
const KEEPALIVE: Duration = Duration::from_secs(20);

pub struct Exporter {
    client: Arc<Client>,
    keepalive: JoinHandle<()>,
    pub snapshot_id: String,
    pub started_at: DateTime<FixedOffset>,
    pub wal_lsn: String,
    pub server_version: String,
}

impl Exporter {
    /// Connects (retrying an unreachable server for up to `retry`), starts a REPEATABLE READ,
    /// READ ONLY transaction and exports its snapshot.
    pub async fn open(
        db: &Database,
        env: &Env,
        retry: Duration,
        filtered: bool,
    ) -> Result<Exporter> {
        let client = connect_with_retry(db, env, retry, "acc snapshot").await?;
        let fail = |e| sqlstate::failure("cannot start the snapshot transaction on production", e);
        client
            .batch_execute(&settings(filtered))
            .await
            .map_err(fail)?;
        client
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await
            .map_err(fail)?;
        let row = client
            .query_one(
                "SELECT pg_export_snapshot(), now(),
                        (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
                              ELSE pg_current_wal_lsn() END)::text,
                        current_setting('server_version')",
                &[],
            )
            .await
            .map_err(fail)?;
        let client = Arc::new(client);
        let pinger = Arc::clone(&client);
        let keepalive = tokio::spawn(async move {
            loop {
                tokio::time::sleep(KEEPALIVE).await;
                if pinger.simple_query("SELECT 1").await.is_err() {
                    return;
                }
            }
        });
        Ok(Exporter {
            client,
            keepalive,
            snapshot_id: row.get(0),
            started_at: row.get::<_, DateTime<chrono::Utc>>(1).fixed_offset(),
            wal_lsn: row.get(2),
            server_version: row.get(3),
        })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Takes ACCESS SHARE locks, as pg_dump does, so that no table is dropped or truncated
    /// under the snapshot; ordinary writes go on.
    pub async fn lock(&self, qualified: &[String]) -> Result<()> {
        for chunk in qualified.chunks(500) {
            let sql = format!("LOCK TABLE {} IN ACCESS SHARE MODE", chunk.join(", "));
            let what = "cannot lock production's tables for the snapshot";
            self.client.batch_execute(&sql).await.map_err(|e| {
                // a table acc may not read is no passing lock: the grant is the fix
                match crate::pg::sqlstate::kind_of(&e) {
                    Kind::Permission => crate::pg::sqlstate::failure(what, e),
                    _ => Error::new(Kind::Temporary, what).source(e).hint(
                        "a migration or maintenance job may hold them; the run is safe to retry",
                    ),
                }
            })?;
        }
        Ok(())
    }

    /// Ends the transaction; the snapshot is released.
    pub async fn close(self) {
        self.keepalive.abort();
        let _ = self.client.batch_execute("COMMIT").await;
    }
}

/// A worker connection inside the exported snapshot.
pub async fn worker(db: &Database, env: &Env, snapshot_id: &str, filtered: bool) -> Result<Client> {
    let client = pg::connect(db, env, "acc snapshot worker").await?;
    let sql = format!(
        "{}; BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT '{}'",
        settings(filtered),
        snapshot_id.replace('\'', "")
    );
    client.batch_execute(&sql).await.map_err(|e| {
        let e = sqlstate::failure("a worker could not join the snapshot on production", e);
        // the exporting session is gone, so its snapshot is (invalid snapshot identifier, or
        // a snapshot that no longer exists): the next run exports a new one
        let gone = matches!(
            std::error::Error::source(&e)
                .and_then(|c| c.downcast_ref::<tokio_postgres::Error>())
                .and_then(|c| c.code())
                .map(|c| c.code()),
            Some("22023" | "55000")
        );
        if gone {
            Error::new(Kind::Temporary, e.message().to_string())
                .hint("the snapshot's exporting session ended mid-run; the run is safe to retry")
        } else {
            e
        }
    })?;
    Ok(client)
}

/// Retries only what may pass (an unreachable server), with backoff, within `bound`.
async fn connect_with_retry(
    db: &Database,
    env: &Env,
    bound: Duration,
    app: &str,
) -> Result<Client> {
    let start = Instant::now();
    let mut delay = Duration::from_secs(1);
    loop {
        let remaining = bound.saturating_sub(start.elapsed());
        match pg::connect(db, env, app).await {
            Err(e) if e.kind() == Kind::Temporary && !remaining.is_zero() => {
                let pause = delay.min(remaining);
                crate::events::warning(&format!(
                    "production {} is unreachable; retrying in {:.0}s",
                    db.describe(),
                    pause.as_secs_f64().ceil()
                ));
                tokio::time::sleep(pause).await;
                delay = (delay * 2).min(Duration::from_secs(60));
            }
            Err(e) if e.kind() == Kind::Temporary => {
                return Err(e.hint(format!(
                    "retried for {}s (snapshot.retry_seconds); the run is safe to retry",
                    bound.as_secs()
                )));
            }
            other => return other,
        }
    }
}
