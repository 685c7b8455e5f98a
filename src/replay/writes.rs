//! One chunk's writes to production, gathered so each table gets one statement, and the
//! ledger rows recording them, in the chunk's transaction; every row count is checked.

use chrono::{DateTime, Utc};

use super::ledger::Change;
use super::planned::Planned;
use crate::error::{Error, Kind, Result};

/// Every write says where it came from.
pub const SOURCE: &str = "downtime-paper";
/// Who applies a batch, and how conflicts are settled.
pub struct Batch {
    pub id: String,
    pub operator: String,
    pub prefer_paper: bool,
    pub dry_run: bool,
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

/// The chunk's writes, gathered so each table gets one statement.
#[derive(Default)]
pub(super) struct Writes {
    pub(super) visit_ids: Vec<i64>,
    pub(super) visit_starts: Vec<DateTime<Utc>>,
    pub(super) clock_in: Vec<Option<DateTime<Utc>>>,
    pub(super) clock_out: Vec<Option<DateTime<Utc>>>,
    pub(super) task_ids: Vec<i64>,
    pub(super) task_done: Vec<bool>,
    pub(super) task_comment: Vec<Option<String>>,
    pub(super) note_visit: Vec<i64>,
    pub(super) note_start: Vec<DateTime<Utc>>,
    pub(super) note_author: Vec<i64>,
    pub(super) note_at: Vec<DateTime<Utc>>,
    pub(super) note_body: Vec<String>,
    pub(super) ledger: Vec<LedgerRow>,
}

pub(super) struct LedgerRow {
    pub(super) key: String,
    pub(super) hash: String,
    pub(super) outcome: &'static str,
    pub(super) file: String,
    pub(super) line: i64,
    pub(super) before: serde_json::Value,
    pub(super) after: serde_json::Value,
}

impl Writes {
    /// Adds one change of line `p` to the chunk's statements.
    pub(super) fn add(&mut self, p: &Planned, change: &Change) {
        match change {
            Change::Attendance { clock, .. } => {
                self.visit_ids.push(p.visit_id);
                self.visit_starts.push(p.visit_start);
                self.clock_in.push(clock.0);
                self.clock_out.push(clock.1);
            }
            Change::Task(t) => {
                self.task_ids.push(t.task_id);
                self.task_done.push(t.done);
                self.task_comment.push(t.comment.clone());
            }
            Change::Note { note, .. } => {
                self.note_visit.push(p.visit_id);
                self.note_start.push(p.visit_start);
                self.note_author.push(note.author_id);
                self.note_at.push(note.written_at);
                self.note_body.push(note.body.clone());
            }
        }
    }

    pub(super) async fn run(
        self,
        tx: &tokio_postgres::Transaction<'_>,
        batch: &Batch,
    ) -> Result<()> {
        let failed = db("cannot write the paper entries");
        // the rows were locked when read, so every write must land; if one did not, the whole
        // chunk rolls back rather than the ledger recording a change that did not happen
        let landed = |what: &str, wrote: u64, meant: usize| {
            if wrote == meant as u64 {
                Ok(())
            } else {
                Err(Error::new(
                    crate::error::Kind::Temporary,
                    format!("{what}: {wrote} of {meant} rows changed, so nothing of this chunk was written"),
                )
                .hint("production changed under the apply; run it again: the ledger keeps what landed"))
            }
        };
        if !self.visit_ids.is_empty() {
            let wrote = tx.execute(
                "UPDATE agency.visits v
                 SET clock_in = COALESCE(u.cin, v.clock_in), clock_out = COALESCE(u.cout, v.clock_out),
                     status = CASE WHEN COALESCE(u.cout, v.clock_out) IS NOT NULL
                                    AND v.status IN ('scheduled', 'in_progress', 'missed')
                                   THEN 'completed'::agency.visit_status ELSE v.status END
                 FROM unnest($1::bigint[], $2::timestamptz[], $3::timestamptz[], $4::timestamptz[]) AS u(id, start, cin, cout)
                 WHERE v.id = u.id AND v.scheduled_start = u.start",
                &[&self.visit_ids, &self.visit_starts, &self.clock_in, &self.clock_out],
            )
            .await
            .map_err(&failed)?;
            landed("visits", wrote, self.visit_ids.len())?;
        }
        if !self.task_ids.is_empty() {
            let wrote = tx.execute(
                "UPDATE agency.visit_tasks t SET done = u.done, comment = COALESCE(u.comment, t.comment)
                 FROM unnest($1::bigint[], $2::boolean[], $3::text[]) AS u(id, done, comment)
                 WHERE t.id = u.id",
                &[&self.task_ids, &self.task_done, &self.task_comment],
            )
            .await
            .map_err(&failed)?;
            landed("visit tasks", wrote, self.task_ids.len())?;
        }
        if !self.note_visit.is_empty() {
            let wrote = tx.execute(
                "INSERT INTO agency.visit_notes (visit_id, visit_start, author_id, written_at, body)
                 SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::bigint[], $4::timestamptz[], $5::text[])",
                &[&self.note_visit, &self.note_start, &self.note_author, &self.note_at, &self.note_body],
            )
            .await
            .map_err(&failed)?;
            landed("visit notes", wrote, self.note_visit.len())?;
        }
        if !self.ledger.is_empty() {
            let col =
                |f: fn(&LedgerRow) -> String| self.ledger.iter().map(f).collect::<Vec<String>>();
            let keys = col(|r| r.key.clone());
            let hashes = col(|r| r.hash.clone());
            let outcomes = col(|r| r.outcome.to_string());
            let files = col(|r| r.file.clone());
            let lines: Vec<i64> = self.ledger.iter().map(|r| r.line).collect();
            let before: Vec<serde_json::Value> =
                self.ledger.iter().map(|r| r.before.clone()).collect();
            let after: Vec<serde_json::Value> =
                self.ledger.iter().map(|r| r.after.clone()).collect();
            tx.execute(
                "INSERT INTO acc_replay.ledger (entry_key, value_hash, outcome, source, operator, batch_id, file, line, before, after)
                 SELECT k, h, o, $4, $5, $6, f, l, b, a
                 FROM unnest($1::text[], $2::text[], $3::text[], $7::text[], $8::bigint[], $9::jsonb[], $10::jsonb[])
                      AS u(k, h, o, f, l, b, a)",
                &[&keys, &hashes, &outcomes, &SOURCE, &batch.operator, &batch.id, &files, &lines, &before, &after],
            )
            .await
            .map_err(&failed)?;
        }
        Ok(())
    }
}
