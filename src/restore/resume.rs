//! A restore cut short (kill -9, a reboot, a lost connection) is resumed by the next run of the
//! same snapshot, not started again. What is done is recorded in the incoming database itself,
//! in schema `acc_resume_v2`, by the transaction that did it: a data file's row is written in
//! its COPY's transaction, an index's in its build's, a table's in the transaction of the rest
//! of its keys and its ANALYZE, the post-data remainder's in its own. The record and the data can never disagree: a kill before a commit
//! loses both. The schema names the snapshot it belongs to (label, start and WAL position); an incoming database of another
//! snapshot, or one whose pre-data never finished, is dropped and made again, so a resumed
//! restore never mixes two snapshots. The schema goes in the lock-down's own transaction.

use std::collections::HashSet;

use chrono::{DateTime, FixedOffset};
use tokio_postgres::Client;

use super::target::Target;
use crate::env::Env;
use crate::error::Result;
use crate::pg::sqlstate::failure;
use crate::snapshot::manifest::{Manifest, TableEntry};

/// The schema of the record, dropped by the lock-down. Its name carries the record's format:
/// when what is recorded changes, so does the name, and an acc of another format starts over
/// instead of resuming (one that built keys as plain statements would meet the indexes this
/// one commits on their own, and fail on them every night).
pub const SCHEMA: &str = "acc_resume_v2";

pub const PRE_DATA: &str = "pre-data";
pub const POST_DATA: &str = "post-data";
pub const LARGE_OBJECTS: &str = "large objects";
pub const EXTENSION_ROWS: &str = "extension rows";

/// The steps a cut-short run of this snapshot committed; empty for a fresh load.
#[derive(Debug, Clone, Default)]
pub struct Done {
    steps: HashSet<String>,
}

impl Done {
    pub fn has(&self, step: &str) -> bool {
        self.steps.contains(step)
    }

    #[cfg(test)]
    pub fn of(steps: &[&str]) -> Done {
        Done {
            steps: steps.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Whether this run picks up where another left off.
    pub fn resumed(&self) -> bool {
        !self.steps.is_empty()
    }
}

/// The step of one data file.
pub fn file(name: &str) -> String {
    format!("file:{name}")
}

/// The step of one index build (a key's index among them), schema-qualified.
pub fn index(name: &str) -> String {
    format!("index:{name}")
}

/// The step of one table's own keys and indexes.
pub fn table(t: &TableEntry) -> String {
    format!("table:{}.{}", t.schema, t.name)
}

/// The step of a partitioned parent's own keys and indexes (named as pg_dump names it).
pub fn parent(name: &str) -> String {
    format!("parent:{name}")
}

/// The incoming database for snapshot `label`: the one a cut-short run of the same snapshot
/// left, with what it committed, or a new one made empty from `template`.
pub async fn open(target: &Target, env: &Env, template: &str, m: &Manifest) -> Result<Done> {
    if let Some(done) = left_for(target, env, m).await? {
        return Ok(done);
    }
    super::load::create_incoming(target, env, template, m.locale.as_ref()).await?;
    let c = target.connect(&target.incoming(), env).await?;
    c.batch_execute(&format!(
        "CREATE SCHEMA {SCHEMA};
         CREATE TABLE {SCHEMA}.snapshot (label text NOT NULL, started_at timestamptz NOT NULL, wal_lsn text NOT NULL);
         CREATE TABLE {SCHEMA}.done (step text PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())"
    ))
    .await
    .map_err(|e| {
        failure(
            "cannot record the restore's progress in the incoming database",
            e,
        )
    })?;
    c.execute(
        &format!("INSERT INTO {SCHEMA}.snapshot VALUES ($1, $2, $3)"),
        &[&m.label, &m.started_at, &m.wal_lsn],
    )
    .await
    .map_err(|e| {
        failure(
            "cannot record the restore's progress in the incoming database",
            e,
        )
    })?;
    Ok(Done::default())
}

/// What a run of snapshot `m` left in the incoming database, when it got past pre-data. A
/// snapshot is known by its label, when it was taken and where production's WAL stood: a
/// label taken again (a failed snapshot run again, one deleted and taken anew) is another
/// snapshot.
async fn left_for(target: &Target, env: &Env, m: &Manifest) -> Result<Option<Done>> {
    let admin = target.maintenance(env).await?;
    let open = admin
        .query_opt(
            "SELECT 1 FROM pg_database WHERE datname = $1 AND datallowconn",
            &[&target.incoming()],
        )
        .await
        .map_err(|e| failure("cannot list the target's databases", e))?;
    if open.is_none() {
        return Ok(None);
    }
    // an incoming database without the record (an older acc's, or one whose lock-down
    // committed) is not resumed; any other failure to read it is an error, not a reason to
    // drop what a cut-short run loaded
    let c = target.connect(&target.incoming(), env).await?;
    let theirs = match c
        .query_opt(
            &format!("SELECT label, started_at, wal_lsn FROM {SCHEMA}.snapshot"),
            &[],
        )
        .await
    {
        Ok(Some(row)) => row,
        Ok(None) => return Ok(None),
        Err(e) if no_record(&e) => {
            crate::events::info(&format!(
                "restore {}: {} holds no load this acc can resume (an older acc's record, or none); it is made again",
                m.label,
                target.incoming()
            ));
            return Ok(None);
        }
        Err(e) => return Err(failure("cannot read the restore's progress", e)),
    };
    let label: String = theirs.get(0);
    let same = label == m.label
        && theirs.get::<_, DateTime<FixedOffset>>(1) == m.started_at
        && theirs.get::<_, String>(2) == m.wal_lsn;
    if !same {
        crate::events::info(&format!(
            "restore {}: {} holds a cut-short load of another snapshot ({label}); it is made again",
            m.label,
            target.incoming()
        ));
        return Ok(None);
    }
    let steps: HashSet<String> = c
        .query(&format!("SELECT step FROM {SCHEMA}.done"), &[])
        .await
        .map_err(|e| failure("cannot read the restore's progress", e))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok(steps.contains(PRE_DATA).then_some(Done { steps }))
}

/// A load in the incoming database, as `acc status` tells it: a restore loading it now, or
/// the one a cut-short run kept for the next run of the same snapshot.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Kept {
    pub database: String,
    /// A session is on it: a restore is loading it (nothing more is read then).
    pub running: bool,
    /// What the cut-short run committed, when none is.
    pub label: Option<String>,
    pub files: i64,
    pub tables: i64,
}

/// The incoming database beside staging, if there is one with a resumable record. It is read
/// only while no session is on it, so a running restore is never disturbed.
pub async fn kept(target: &Target, env: &Env) -> Result<Option<Kept>> {
    let incoming = target.incoming();
    let admin = target.maintenance(env).await?;
    let sessions: Option<i64> = admin
        .query_opt(
            "SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = $1)
             FROM pg_database WHERE datname = $1 AND datallowconn",
            &[&incoming],
        )
        .await
        .map_err(|e| failure("cannot list the target's databases", e))?
        .map(|r| r.get(0));
    let mut kept = match sessions {
        None => return Ok(None),
        Some(n) => Kept {
            database: incoming.clone(),
            running: n > 0,
            label: None,
            files: 0,
            tables: 0,
        },
    };
    if kept.running {
        return Ok(Some(kept));
    }
    let c = target.connect(&incoming, env).await?;
    let row = c
        .query_opt(
            &format!(
                "SELECT s.label,
                        (SELECT count(*) FROM {SCHEMA}.done WHERE step LIKE 'file:%'),
                        (SELECT count(*) FROM {SCHEMA}.done WHERE step LIKE 'table:%')
                 FROM {SCHEMA}.snapshot s"
            ),
            &[],
        )
        .await;
    match row {
        Ok(Some(r)) => {
            kept.label = Some(r.get(0));
            kept.files = r.get(1);
            kept.tables = r.get(2);
            Ok(Some(kept))
        }
        Ok(None) => Ok(None),
        Err(e) if no_record(&e) => Ok(None),
        Err(e) => Err(failure("cannot read the restore's progress", e)),
    }
}

/// The record's schema or table is not there: the incoming database is not a resumable one.
fn no_record(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    matches!(
        e.code(),
        Some(c) if *c == SqlState::INVALID_SCHEMA_NAME || *c == SqlState::UNDEFINED_TABLE
    )
}

/// Records `step` done, in the transaction the caller opened for its work (or on its own).
pub async fn record(client: &Client, step: &str) -> Result<()> {
    client
        .execute(
            &format!("INSERT INTO {SCHEMA}.done (step) VALUES ($1)"),
            &[&step],
        )
        .await
        .map_err(|e| failure("cannot record the restore's progress", e))?;
    Ok(())
}

/// The statement the lock-down ends with: staging keeps no trace of the record.
pub fn forget() -> String {
    format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE;")
}

/// What the run skips, for the timeline and the log.
pub fn summary(done: &Done, files: usize, tables: usize) -> String {
    let count = |prefix: &str| done.steps.iter().filter(|s| s.starts_with(prefix)).count();
    let mut parts = vec![format!(
        "{} of {files} data files already loaded",
        count("file:")
    )];
    parts.push(format!(
        "{} of {tables} tables' keys and indexes kept",
        count("table:")
    ));
    let indexes = count("index:");
    if indexes > 0 {
        parts.push(format!("{indexes} index builds kept"));
    }
    let parents = count("parent:");
    if parents > 0 {
        parts.push(format!(
            "{parents} partitioned tables' keys and indexes kept"
        ));
    }
    if done.has(POST_DATA) {
        parts.push("the rest of post-data kept".into());
    }
    if done.has(EXTENSION_ROWS) {
        parts.push("extensions' configuration rows kept".into());
    }
    if done.has(LARGE_OBJECTS) {
        parts.push("large objects kept".into());
    }
    parts.join(", ")
}
