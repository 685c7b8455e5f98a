//! Applying a checked plan to production, exactly once. Each chunk of lines is one transaction
//! holding both the changes and their ledger rows (`acc_replay.ledger`, keyed by what was
//! changed), so a crash at any point leaves each line either wholly applied and recorded, or
//! not at all; a rerun skips what the ledger holds.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::json;
use sha2::{Digest as _, Sha256};
use tokio_postgres::Client;

use super::check::{ClockPair, Planned, note_key};
use super::writes::{LedgerRow, Writes};
use crate::error::{Error, Kind, Result};
use crate::pg::cell;

/// Every write says where it came from.
pub const SOURCE: &str = "downtime-paper";
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

/// Who applies a batch, and how conflicts are settled.
pub struct Batch {
    pub id: String,
    pub operator: String,
    pub prefer_paper: bool,
    pub dry_run: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Applied,
    Duplicate,
    Conflict,
}

/// A line's outcome, with what production held when it conflicts.
#[derive(Debug, Clone)]
pub struct Done {
    pub index: usize,
    pub outcome: Outcome,
    pub conflict: Option<String>,
    /// What was (or, in a dry run, would be) changed.
    pub changes: Vec<String>,
}

/// Each change a line makes, keyed as in the ledger, with the value hashed there.
fn components(p: &Planned) -> Vec<(String, serde_json::Value)> {
    let mut out = Vec::new();
    if let Some((cin, cout)) = p.clock {
        out.push((
            format!("attendance/{}", p.visit_id),
            json!({ "clock_in": cin, "clock_out": cout }),
        ));
    }
    for t in &p.tasks {
        out.push((
            format!("task/{}", t.task_id),
            json!({ "done": t.done, "comment": t.comment }),
        ));
    }
    if let Some(n) = &p.note {
        // the body is patient data: the ledger keeps its size, never its text
        out.push((
            note_key(p.visit_id, n),
            json!({ "author_id": n.author_id, "written_at": n.written_at, "chars": n.body.chars().count() }),
        ));
    }
    out
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
    let parts: Vec<Vec<(String, serde_json::Value)>> = plan.iter().map(components).collect();
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
                outcome: Outcome::Duplicate,
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
            done.push(decide(indexes[i], p, &state, batch, &mut writes));
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

pub(super) fn db(what: &'static str) -> impl Fn(tokio_postgres::Error) -> Error {
    move |e| {
        let kind = if e.is_closed() {
            Kind::Temporary
        } else {
            Kind::Unavailable
        };
        Error::new(kind, format!("{what} (production)")).source(e)
    }
}

/// Production's current values for a chunk, read under row locks.
#[derive(Default)]
struct State {
    ledger: HashMap<String, (String, String)>,
    visits: HashMap<i64, ClockPair>,
    tasks: HashMap<i64, (Option<bool>, Option<String>)>,
    notes: std::collections::HashSet<String>,
}

impl State {
    async fn read(tx: &tokio_postgres::Transaction<'_>, chunk: &[Planned]) -> Result<State> {
        let keys: Vec<String> = chunk.iter().flat_map(Planned::keys).collect();
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
            let n = super::check::NoteChange {
                author_id: cell(&r, 1, &what("author_id"))?,
                written_at: cell(&r, 2, &what("written_at"))?,
                body: cell(&r, 3, &what("body"))?,
            };
            s.notes.insert(note_key(visit, &n));
        }
        Ok(s)
    }
}

fn hash(v: &serde_json::Value) -> String {
    let d = Sha256::digest(v.to_string().as_bytes());
    d[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// One component's verdict.
enum Verdict {
    Write {
        overwrite: bool,
        before: serde_json::Value,
    },
    Matched {
        before: serde_json::Value,
    },
    Already,
    Conflict(String),
}

fn decide(index: usize, p: &Planned, s: &State, batch: &Batch, w: &mut Writes) -> Done {
    let mut parts: Vec<(String, serde_json::Value, Verdict)> = Vec::new();
    let mut shapes = components(p).into_iter();
    let ledger_says = |key: &str, after: &serde_json::Value| -> Option<Verdict> {
        s.ledger.get(key).map(|(h, b)| {
            if *h == hash(after) {
                Verdict::Already
            } else {
                Verdict::Conflict(format!("{key} was applied by batch {b} with other values"))
            }
        })
    };
    // the check ran in another transaction: a visit moved or removed since is a conflict,
    // never an "applied" that wrote nothing
    if (p.clock.is_some() || p.note.is_some()) && !s.visits.contains_key(&p.visit_id) {
        return Done {
            index,
            outcome: Outcome::Conflict,
            conflict: Some(format!(
                "visit {} scheduled at {} is no longer in production: it was moved or removed after the check",
                p.visit_id,
                p.visit_start.to_rfc3339()
            )),
            changes: Vec::new(),
        };
    }
    if let Some(t) = p.tasks.iter().find(|t| !s.tasks.contains_key(&t.task_id)) {
        return Done {
            index,
            outcome: Outcome::Conflict,
            conflict: Some(format!(
                "task {} is no longer in production: it was removed after the check",
                t.task_id
            )),
            changes: Vec::new(),
        };
    }
    if let Some((cin, cout)) = p.clock {
        let (key, after) = shapes.next().expect("an attendance component");
        let (pin, pout) = s.visits.get(&p.visit_id).cloned().unwrap_or_default();
        let before = json!({ "clock_in": pin, "clock_out": pout });
        let verdict = ledger_says(&key, &after).unwrap_or_else(|| {
            let same = |paper: Option<DateTime<Utc>>, prod: Option<DateTime<Utc>>| {
                paper.is_none() || paper == prod
            };
            let free = |paper: Option<DateTime<Utc>>, prod: Option<DateTime<Utc>>| {
                paper.is_none() || prod.is_none() || paper == prod
            };
            let (new_in, new_out) = (cin.or(pin), cout.or(pout));
            if same(cin, pin) && same(cout, pout) {
                Verdict::Matched {
                    before: before.clone(),
                }
            } else if free(cin, pin)
                && free(cout, pout)
                && !matches!((new_in, new_out), (Some(i), Some(o)) if o < i)
            {
                Verdict::Write {
                    overwrite: false,
                    before: before.clone(),
                }
            } else if batch.prefer_paper
                && !matches!((cin.or(pin), cout.or(pout)), (Some(i), Some(o)) if o < i)
            {
                Verdict::Write {
                    overwrite: true,
                    before: before.clone(),
                }
            } else {
                Verdict::Conflict(format!(
                    "production holds clock-in {} and clock-out {}",
                    show(pin),
                    show(pout)
                ))
            }
        });
        parts.push((key, after, verdict));
    }
    for t in &p.tasks {
        let (key, after) = shapes.next().expect("a task component");
        let (pdone, pcomment) = s.tasks.get(&t.task_id).cloned().unwrap_or_default();
        let before = json!({ "done": pdone, "comment": pcomment });
        let verdict = ledger_says(&key, &after).unwrap_or_else(|| match pdone {
            None => Verdict::Write {
                overwrite: false,
                before: before.clone(),
            },
            Some(d) if d == t.done && (t.comment.is_none() || t.comment == pcomment) => {
                Verdict::Matched {
                    before: before.clone(),
                }
            }
            Some(_) if batch.prefer_paper => Verdict::Write {
                overwrite: true,
                before: before.clone(),
            },
            Some(d) => Verdict::Conflict(format!(
                "production marks task {} {}",
                t.task_id,
                if d { "done" } else { "not done" }
            )),
        });
        parts.push((key, after, verdict));
    }
    if p.note.is_some() {
        let (key, after) = shapes.next().expect("a note component");
        let verdict = ledger_says(&key, &after).unwrap_or_else(|| {
            if s.notes.contains(&key) {
                Verdict::Matched {
                    before: serde_json::Value::Null,
                }
            } else {
                Verdict::Write {
                    overwrite: false,
                    before: serde_json::Value::Null,
                }
            }
        });
        parts.push((key, after, verdict));
    }

    if let Some(why) = parts.iter().find_map(|(_, _, v)| match v {
        Verdict::Conflict(w) => Some(w.clone()),
        _ => None,
    }) {
        return Done {
            index,
            outcome: Outcome::Conflict,
            conflict: Some(why),
            changes: Vec::new(),
        };
    }
    let mut changes = Vec::new();
    let mut wrote = false;
    for (key, after, verdict) in parts {
        let (outcome, before) = match verdict {
            Verdict::Write { overwrite, before } => {
                wrote = true;
                changes.push(format!("{key}: {} -> {}", shown(&before), shown(&after)));
                (if overwrite { "overwritten" } else { "applied" }, before)
            }
            Verdict::Matched { before } => ("matched", before),
            Verdict::Already | Verdict::Conflict(_) => continue,
        };
        if outcome != "matched" {
            if key.starts_with("attendance/") {
                let (cin, cout) = p.clock.expect("an attendance key has clock times");
                w.visit_ids.push(p.visit_id);
                w.visit_starts.push(p.visit_start);
                w.clock_in.push(cin);
                w.clock_out.push(cout);
            } else if let Some(id) = key.strip_prefix("task/") {
                let t = p
                    .tasks
                    .iter()
                    .find(|t| t.task_id.to_string() == id)
                    .expect("a task key has its task");
                w.task_ids.push(t.task_id);
                w.task_done.push(t.done);
                w.task_comment.push(t.comment.clone());
            } else if let Some(n) = &p.note {
                w.note_visit.push(p.visit_id);
                w.note_start.push(p.visit_start);
                w.note_author.push(n.author_id);
                w.note_at.push(n.written_at);
                w.note_body.push(n.body.clone());
            }
        }
        w.ledger.push(LedgerRow {
            hash: hash(&after),
            key,
            outcome,
            file: p.raw.file.to_string(),
            line: p.raw.line as i64,
            before,
            after,
        });
    }
    Done {
        index,
        outcome: if wrote {
            Outcome::Applied
        } else {
            Outcome::Duplicate
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

fn show(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(|| "nothing".into(), |t| t.to_rfc3339())
}
