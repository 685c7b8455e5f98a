//! Checking typed-up paper against production: every visit, task and employee exists, times
//! make sense for the visit in the region's zone, and nothing is claimed twice in one batch.
//! The result is a plan of exact changes, and the lines refused with their reasons.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio_postgres::Client;

use super::clock::Ambiguous;
use super::entry::{Record, TasksIn};
use super::planned::{Observed, Planned, Task, Visit};
use super::read::{Problem, RawLine};
use crate::error::{Error, Kind, Result};
use crate::pg::cell;

/// Reads the facts in three queries, whatever the batch's size.
pub async fn facts(client: &Client, records: &[Record]) -> Result<Observed> {
    let failed = |e: tokio_postgres::Error| {
        Error::new(Kind::Unavailable, "cannot read visits from production").source(e)
    };
    let mut visit_ids: Vec<i64> = records.iter().map(|r| r.visit_id).collect();
    visit_ids.sort_unstable();
    visit_ids.dedup();
    // only visits whose tasks a line speaks of need their tasks read
    let mut task_visits: Vec<i64> = records
        .iter()
        .filter(|r| r.tasks != TasksIn::Nothing)
        .map(|r| r.visit_id)
        .collect();
    task_visits.sort_unstable();
    task_visits.dedup();
    let mut numbers: Vec<String> = records
        .iter()
        .flat_map(|r| r.employee.iter().chain(r.note.iter().map(|n| &n.author)))
        .cloned()
        .collect();
    numbers.sort();
    numbers.dedup();
    let mut f = Observed::default();
    for row in client
        .query(
            "SELECT v.id, v.scheduled_start, v.scheduled_end, e.employee_number, v.clock_in, v.clock_out
             FROM agency.visits v LEFT JOIN agency.employees e ON e.id = v.employee_id
             WHERE v.id = ANY($1)",
            &[&visit_ids],
        )
        .await
        .map_err(failed)?
    {
        let id: i64 = cell(&row, 0, &|| "visit id".into())?;
        let what = |c: &'static str| move || format!("{c} of visit {id}");
        f.visits.insert(
            id,
            Visit {
                start: cell(&row, 1, &what("scheduled_start"))?,
                end: cell(&row, 2, &what("scheduled_end"))?,
                employee: cell(&row, 3, &what("employee_number"))?,
                clock_in: cell(&row, 4, &what("clock_in"))?,
                clock_out: cell(&row, 5, &what("clock_out"))?,
            },
        );
    }
    for row in client
        .query(
            "SELECT id, visit_id, done, comment FROM agency.visit_tasks WHERE visit_id = ANY($1) ORDER BY id",
            &[&task_visits],
        )
        .await
        .map_err(failed)?
    {
        let id: i64 = cell(&row, 0, &|| "task id".into())?;
        let what = |c: &'static str| move || format!("{c} of task {id}");
        let t = Task {
            id,
            visit_id: cell(&row, 1, &what("visit_id"))?,
            done: cell(&row, 2, &what("done"))?,
            comment: cell(&row, 3, &what("comment"))?,
        };
        f.tasks_of.entry(t.visit_id).or_default().push(t.id);
        f.tasks.insert(t.id, t);
    }
    for row in client
        .query(
            "SELECT employee_number, id FROM agency.employees WHERE employee_number = ANY($1)",
            &[&numbers],
        )
        .await
        .map_err(failed)?
    {
        f.employees.insert(
            cell(&row, 0, &|| "employee_number".into())?,
            cell(&row, 1, &|| "employee id".into())?,
        );
    }
    Ok(f)
}

pub struct Checked {
    pub planned: Vec<Planned>,
    pub rejected: Vec<(RawLine, Problem)>,
    pub blank: Vec<RawLine>,
}

/// Checks every record against the facts; the first claim on a key wins, repeats are refused.
pub fn check(
    records: Vec<Record>,
    facts: &Observed,
    zone: Tz,
    ambiguous: Ambiguous,
    now: DateTime<Utc>,
) -> Checked {
    let mut out = Checked {
        planned: Vec::new(),
        rejected: Vec::new(),
        blank: Vec::new(),
    };
    let mut first: HashMap<String, String> = HashMap::new();
    for r in records {
        if r.is_blank() {
            out.blank.push(r.raw);
            continue;
        }
        match super::plan::plan(&r, facts, zone, ambiguous, now) {
            Err(p) => out.rejected.push((r.raw, p)),
            Ok(p) => {
                let repeat = super::ledger::keys(&p)
                    .into_iter()
                    .find_map(|k| first.get(&k).map(|at| (k, at.clone())));
                if let Some((key, at)) = repeat {
                    let why = format!("{key} is already claimed by {at} in this batch");
                    out.rejected
                        .push((p.raw.clone(), p.raw.problem("visit_id", why)));
                    continue;
                }
                let here = format!("{}:{}", p.raw.file, p.raw.line);
                for k in super::ledger::keys(&p) {
                    first.insert(k, here.clone());
                }
                out.planned.push(p);
            }
        }
    }
    out
}
