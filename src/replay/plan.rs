//! One line's plan: the exact changes a checked record makes, or the problem that refuses it.
//! A visit must exist and be the named employee's, every time must fall near the visit on its
//! local day, and every task must be one of that visit's.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use super::clock::{self, Ambiguous};
use super::entry::{Record, TasksIn};
use super::planned::{LONGEST_VISIT, NoteChange, Observed, Planned, SLACK, TaskChange, Visit};
use super::read::Problem;

pub(super) fn plan(
    r: &Record,
    f: &Observed,
    zone: Tz,
    ambiguous: Ambiguous,
    now: DateTime<Utc>,
) -> Result<Planned, Problem> {
    let raw = &r.raw;
    let visit = f.visits.get(&r.visit_id).ok_or_else(|| {
        raw.problem(
            "visit_id",
            format!("visit {} is not in production", r.visit_id),
        )
    })?;
    assigned(r, f, visit)?;
    let times = Times::around(r, visit, zone, ambiguous, now);
    let clock_in = times.at("clock_in", r.clock_in)?;
    let clock_out = times.at("clock_out", r.clock_out)?;
    if let (Some(i), Some(o)) = (clock_in, clock_out) {
        if o < i {
            return Err(raw.problem("clock_out", "clock-out is before clock-in"));
        }
        if o - i > Duration::hours(LONGEST_VISIT) {
            return Err(raw.problem(
                "clock_out",
                format!("a visit of more than {LONGEST_VISIT} hours"),
            ));
        }
    }
    let tasks = tasks(r, f)?;
    // a note without its own time was written when the visit ended
    let note_default = clock_out.or(clock_in).unwrap_or(visit.end);
    let note = note(r, f, &times, note_default)?;
    let clock = (clock_in.is_some() || clock_out.is_some()).then_some((clock_in, clock_out));
    Ok(Planned {
        raw: raw.clone(),
        visit_id: r.visit_id,
        visit_start: visit.start,
        clock,
        tasks,
        note,
    })
}

/// A named employee must exist and be the one the visit is assigned to.
fn assigned(r: &Record, f: &Observed, visit: &Visit) -> Result<(), Problem> {
    let Some(e) = &r.employee else {
        return Ok(());
    };
    if !f.employees.contains_key(e) {
        return Err(r.raw.problem(
            "employee_number",
            format!("employee {e} is not in production"),
        ));
    }
    if visit.employee.as_deref() != Some(e.as_str()) {
        return Err(r.raw.problem(
            "employee_number",
            format!(
                "visit {} is assigned to {}, not {e}",
                r.visit_id,
                visit.employee.as_deref().unwrap_or("nobody")
            ),
        ));
    }
    Ok(())
}

/// Reads the times written on a line: on the visit's local day, and near the visit.
struct Times<'a> {
    r: &'a Record,
    visit: &'a Visit,
    zone: Tz,
    ambiguous: Ambiguous,
    earliest: DateTime<Utc>,
    latest: DateTime<Utc>,
}

impl<'a> Times<'a> {
    fn around(
        r: &'a Record,
        visit: &'a Visit,
        zone: Tz,
        ambiguous: Ambiguous,
        now: DateTime<Utc>,
    ) -> Times<'a> {
        Times {
            r,
            visit,
            zone,
            ambiguous,
            earliest: visit.start - Duration::hours(SLACK),
            latest: (visit.end + Duration::hours(SLACK)).min(now + Duration::minutes(5)),
        }
    }

    fn at(&self, col: &str, w: Option<clock::Written>) -> Result<Option<DateTime<Utc>>, Problem> {
        let Some(w) = w else { return Ok(None) };
        let (zone, visit) = (self.zone, self.visit);
        let day = visit.start.with_timezone(&zone).date_naive();
        let t = clock::resolve(w, day, zone, self.ambiguous)
            .map_err(|why| self.r.raw.problem(col, why))?;
        if t < self.earliest || t > self.latest {
            return Err(self.r.raw.problem(
                col,
                format!(
                    "{} is far from visit {} ({} to {}); check the date and time",
                    t.with_timezone(&zone).format("%Y-%m-%d %H:%M %Z"),
                    self.r.visit_id,
                    visit.start.with_timezone(&zone).format("%Y-%m-%d %H:%M"),
                    visit.end.with_timezone(&zone).format("%H:%M %Z")
                ),
            ));
        }
        Ok(Some(t))
    }
}

/// The task changes a line asks for, each a task of its visit.
fn tasks(r: &Record, f: &Observed) -> Result<Vec<TaskChange>, Problem> {
    let raw = &r.raw;
    let tasks_of = f
        .tasks_of
        .get(&r.visit_id)
        .map(Vec::as_slice)
        .unwrap_or_default();
    Ok(match &r.tasks {
        TasksIn::Nothing => Vec::new(),
        TasksIn::One {
            task_id,
            done,
            comment,
        } => {
            let t = f
                .tasks
                .get(task_id)
                .filter(|t| t.visit_id == r.visit_id)
                .ok_or_else(|| {
                    raw.problem(
                        "task_id",
                        format!("task {task_id} is not a task of visit {}", r.visit_id),
                    )
                })?;
            vec![TaskChange {
                task_id: t.id,
                done: *done,
                comment: comment.clone(),
            }]
        }
        TasksIn::All => tasks_of
            .iter()
            .map(|&id| TaskChange {
                task_id: id,
                done: true,
                comment: None,
            })
            .collect(),
        TasksIn::Listed(ids) => {
            if let Some(bad) = ids.iter().find(|id| !tasks_of.contains(id)) {
                return Err(raw.problem(
                    "tasks_done",
                    format!("task {bad} is not a task of visit {}", r.visit_id),
                ));
            }
            tasks_of
                .iter()
                .map(|id| TaskChange {
                    task_id: *id,
                    done: ids.contains(id),
                    comment: None,
                })
                .collect()
        }
    })
}

/// The note a line adds: its author must exist; its time, when written, is checked like a
/// clock time, else it is `default`.
fn note(
    r: &Record,
    f: &Observed,
    times: &Times,
    default: DateTime<Utc>,
) -> Result<Option<NoteChange>, Problem> {
    let Some(n) = &r.note else {
        return Ok(None);
    };
    let author_id = *f.employees.get(&n.author).ok_or_else(|| {
        r.raw.problem(
            "author",
            format!("employee {} is not in production", n.author),
        )
    })?;
    let written_at = times.at("written_at", n.written_at)?.unwrap_or(default);
    Ok(Some(NoteChange {
        author_id,
        written_at,
        body: n.body.clone(),
    }))
}
