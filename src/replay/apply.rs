//! Applying a checked plan to production, exactly once. Each chunk of lines is one transaction
//! holding both the changes and their ledger rows (`acc_replay.ledger`, keyed by what was
//! changed), so a crash at any point leaves each line either wholly applied and recorded, or
//! not at all; a rerun skips what the ledger holds.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::json;
use tokio_postgres::Client;

use super::decide::{State, Verdict, decide};
use super::ledger::{Change, hash, note_key};
use super::planned::Planned;
use super::writes::{Batch, LedgerRow, Writes, db};
use crate::error::{Error, Kind, Result};
use crate::pg::cell;

/// Lines per transaction.
pub const CHUNK: usize = 1000;

const LEDGER: &str = "
CREATE SCHEMA IF NOT EXISTS acc_replay;
CREATE TABLE IF NOT EXISTS acc_replay.ledger (
    entry_key   text PRIMARY KEY,
    value_hash  text NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('applied', 'matched', 'overwritten')),
    source      text NOT NULL,
    operator    text NOT NULL,
    batch_id    text NOT NULL,
    file        text NOT NULL,
    line        bigint NOT NULL,
    before      jsonb,
    after       jsonb,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE acc_replay.ledger IS 'acc replay: every paper entry applied to production, once';";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineOutcome {
    Applied,
    Duplicate,
    Conflict,
}

/// A line's outcome, with what production held when it conflicts.
#[derive(Debug, Clone)]
pub struct Done {
    pub index: usize,
    pub outcome: LineOutcome,
    pub conflict: Option<String>,
    /// What was (or, in a dry run, would be) changed.
    pub changes: Vec<String>,
}

/// Lines the ledger already holds whole, found in one read: a rerun needs no transaction for
/// them. Ledger rows are never changed once committed, so no lock is needed.
async fn already_applied(client: &Client, plan: &[Planned]) -> Result<Vec<bool>> {
    let exists: bool = client
        .query_one("SELECT to_regclass('acc_replay.ledger') IS NOT NULL", &[])
        .await
        .map_err(db("cannot look for the ledger"))?
        .get(0);
    if !exists {
        return Ok(vec![false; plan.len()]);
    }
    let parts: Vec<Vec<(String, serde_json::Value)>> = plan
        .iter()
        .map(|p| Change::of(p).iter().map(|c| (c.key(), c.value())).collect())
        .collect();
    let keys: Vec<&str> = parts.iter().flatten().map(|(k, _)| k.as_str()).collect();
    let mut held = HashMap::new();
    for r in client
        .query(
            "SELECT entry_key, value_hash FROM acc_replay.ledger WHERE entry_key = ANY($1)",
            &[&keys],
        )
        .await
        .map_err(db("cannot read the ledger"))?
    {
        held.insert(r.get::<_, String>(0), r.get::<_, String>(1));
    }
    Ok(parts
        .iter()
        .map(|c| !c.is_empty() && c.iter().all(|(k, after)| held.get(k) == Some(&hash(after))))
        .collect())
}

/// Applies the plan chunk by chunk; returns each line's outcome, in plan order.
pub async fn apply(
    client: &mut Client,
    plan: &[Planned],
    batch: &Batch,
    mut progress: impl FnMut(usize),
) -> Result<Vec<Done>> {
    let mut done = Vec::with_capacity(plan.len());
    let held = already_applied(client, plan).await?;
    let mut todo = Vec::with_capacity(plan.len());
    for (i, p) in plan.iter().enumerate() {
        if held[i] {
            done.push(Done {
                index: i,
                outcome: LineOutcome::Duplicate,
                conflict: None,
                changes: Vec::new(),
            });
        } else {
            todo.push((i, p.clone()));
        }
    }
    for chunk in todo.chunks(CHUNK) {
        let indexes: Vec<usize> = chunk.iter().map(|(i, _)| *i).collect();
        let chunk: Vec<Planned> = chunk.iter().map(|(_, p)| p.clone()).collect();
        let chunk = chunk.as_slice();
        let tx = client
            .transaction()
            .await
            .map_err(db("cannot start a transaction"))?;
        // one replay at a time per database: two operators cannot apply the same line twice
        tx.batch_execute("SELECT pg_advisory_xact_lock(hashtext('acc_replay'))")
            .await
            .map_err(db("cannot take the replay lock"))?;
        // inside the transaction: a dry run leaves no trace, not even the ledger
        tx.batch_execute(LEDGER).await.map_err(|e| {
            Error::new(Kind::Permission, "cannot create the replay ledger acc_replay.ledger in production")
                .source(e)
                .hint("the replay role needs CREATE on the database (once), and UPDATE on agency.visits and agency.visit_tasks, INSERT on agency.visit_notes")
        })?;
        let state = State::read(&tx, chunk).await?;
        let mut writes = Writes::default();
        for (i, p) in chunk.iter().enumerate() {
            done.push(settle(indexes[i], p, &state, batch, &mut writes));
        }
        writes.run(&tx, batch).await?;
        if batch.dry_run {
            tx.rollback()
                .await
                .map_err(db("cannot roll back the dry run"))?;
        } else {
            tx.commit().await.map_err(db("cannot commit"))?;
        }
        progress(done.len());
    }
    Ok(done)
}

/// Production's current values for a chunk, read under row locks.
impl State {
    async fn read(tx: &tokio_postgres::Transaction<'_>, chunk: &[Planned]) -> Result<State> {
        let keys: Vec<String> = chunk.iter().flat_map(super::ledger::keys).collect();
        let visits: Vec<i64> = chunk.iter().map(|p| p.visit_id).collect();
        let starts: Vec<DateTime<Utc>> = chunk.iter().map(|p| p.visit_start).collect();
        let tasks: Vec<i64> = chunk
            .iter()
            .flat_map(|p| p.tasks.iter().map(|t| t.task_id))
            .collect();
        let mut s = State::default();
        let failed = db("cannot read production's current values");
        for r in tx
            .query("SELECT entry_key, value_hash, batch_id FROM acc_replay.ledger WHERE entry_key = ANY($1)", &[&keys])
            .await
            .map_err(&failed)?
        {
            s.ledger.insert(r.get(0), (r.get(1), r.get(2)));
        }
        for r in tx
            .query(
                "SELECT v.id, v.clock_in, v.clock_out FROM agency.visits v
                 JOIN unnest($1::bigint[], $2::timestamptz[]) AS u(id, start)
                   ON v.id = u.id AND v.scheduled_start = u.start
                 FOR UPDATE OF v",
                &[&visits, &starts],
            )
            .await
            .map_err(&failed)?
        {
            let id: i64 = cell(&r, 0, &|| "visit id".into())?;
            s.visits.insert(
                id,
                (
                    cell(&r, 1, &|| format!("clock_in of visit {id}"))?,
                    cell(&r, 2, &|| format!("clock_out of visit {id}"))?,
                ),
            );
        }
        for r in tx
            .query(
                "SELECT id, done, comment FROM agency.visit_tasks WHERE id = ANY($1) FOR UPDATE",
                &[&tasks],
            )
            .await
            .map_err(&failed)?
        {
            let id: i64 = cell(&r, 0, &|| "task id".into())?;
            s.tasks.insert(
                id,
                (
                    cell(&r, 1, &|| format!("done of task {id}"))?,
                    cell(&r, 2, &|| format!("comment of task {id}"))?,
                ),
            );
        }
        for r in tx
            .query(
                "SELECT visit_id, author_id, written_at, body FROM agency.visit_notes WHERE visit_id = ANY($1)",
                &[&visits],
            )
            .await
            .map_err(&failed)?
        {
            let visit: i64 = cell(&r, 0, &|| "note's visit id".into())?;
            let what = |c: &'static str| move || format!("{c} of a note of visit {visit}");
            let n = super::planned::NoteChange {
                author_id: cell(&r, 1, &what("author_id"))?,
                written_at: cell(&r, 2, &what("written_at"))?,
                body: cell(&r, 3, &what("body"))?,
            };
            s.notes.insert(note_key(visit, &n));
        }
        Ok(s)
    }
}

/// Settles one line: a conflict writes nothing; otherwise its changes join the chunk's
/// writes, each with its ledger row.
fn settle(index: usize, p: &Planned, s: &State, batch: &Batch, w: &mut Writes) -> Done {
    let parts = match decide(p, s, batch.prefer_paper) {
        Ok(parts) => parts,
        Err(why) => {
            return Done {
                index,
                outcome: LineOutcome::Conflict,
                conflict: Some(why),
                changes: Vec::new(),
            };
        }
    };
    let mut changes = Vec::new();
    let mut wrote = false;
    for part in parts {
        let (outcome, before) = match part.verdict {
            Verdict::Write { overwrite, before } => {
                wrote = true;
                changes.push(format!(
                    "{}: {} -> {}",
                    part.key,
                    shown(&before),
                    shown(&part.after)
                ));
                (if overwrite { "overwritten" } else { "applied" }, before)
            }
            Verdict::Matched { before } => ("matched", before),
            Verdict::Already | Verdict::Conflict(_) => continue,
        };
        if outcome != "matched" {
            w.add(p, &part.change);
        }
        w.ledger.push(LedgerRow {
            hash: hash(&part.after),
            key: part.key,
            outcome,
            file: p.raw.file.to_string(),
            line: p.raw.line as i64,
            before,
            after: part.after,
        });
    }
    Done {
        index,
        outcome: if wrote {
            LineOutcome::Applied
        } else {
            LineOutcome::Duplicate
        },
        conflict: None,
        changes,
    }
}

/// A value as a dry run prints it: free text (a task's comment, production's or the paper's)
/// is patient data, so only its length is shown.
fn shown(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.iter()
                .map(|(k, x)| match x {
                    serde_json::Value::String(s) if k == "comment" || k == "body" => {
                        (k.clone(), json!(format!("<{} chars>", s.chars().count())))
                    }
                    _ => (k.clone(), x.clone()),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}
