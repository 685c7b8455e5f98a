//! What each kind of file says, line by line: the columns each kind has, and the values
//! parsed from them. Nothing here knows production; `check` does that.

use super::clock::{self, Written};
use super::read::{Parsed, Problem, RawLine};
use crate::sheet_columns::Column;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaperKind {
    Attendance,
    Tasks,
    Notes,
    /// A downtime sheet from `acc sheets`, filled in.
    Sheet,
}

/// Required columns, then optional ones, per kind (normalised names).
pub fn columns(kind: PaperKind) -> (&'static [&'static str], &'static [&'static str]) {
    match kind {
        PaperKind::Attendance => (&["visit_id", "clock_in", "clock_out"], &["employee_number"]),
        PaperKind::Tasks => (&["visit_id", "task_id", "done"], &["comment"]),
        PaperKind::Notes => (&["visit_id", "author", "written_at", "body"], &[]),
        PaperKind::Sheet => (&SHEET_READ, &SHEET_PRINTED),
    }
}

/// A sheet's columns replay reads back: whose visit it is, and what was written on paper.
const SHEET_READ: [&str; 7] = [
    Column::EmployeeNumber.key(),
    Column::Visit.key(),
    Column::ClockIn.key(),
    Column::ClockOut.key(),
    Column::TasksDone.key(),
    Column::Note.key(),
    Column::Initials.key(),
];

/// Printed on the sheet for the worker; not read back (`visit_start` is an older sheet's).
const SHEET_PRINTED: [&str; 10] = [
    Column::Employee.key(),
    "visit_start",
    Column::ClientNumber.key(),
    Column::Client.key(),
    Column::Address.key(),
    Column::Phone.key(),
    Column::Start.key(),
    Column::End.key(),
    Column::Tasks.key(),
    Column::AllergiesAndRisks.key(),
];

/// A column a rejects file adds; ignored on the way back in.
pub const REJECT_REASON: &str = "reject_reason";

/// Tasks a line reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TasksIn {
    Nothing,
    /// From a tasks file: one task, done or not, with an optional comment.
    One {
        task_id: i64,
        done: bool,
        comment: Option<String>,
    },
    /// From a sheet: every task of the visit done.
    All,
    /// From a sheet: these tasks done, the visit's others not (`none` lists nothing).
    Listed(Vec<i64>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteIn {
    pub author: String,
    /// `None` on a sheet: the note is dated by the clock-out (or clock-in, or the visit's end).
    pub written_at: Option<Written>,
    pub body: String,
}

/// One line's claims about one visit.
#[derive(Debug, Clone)]
pub struct Record {
    pub raw: RawLine,
    pub kind: PaperKind,
    pub visit_id: i64,
    pub employee: Option<String>,
    pub clock_in: Option<Written>,
    pub clock_out: Option<Written>,
    pub tasks: TasksIn,
    pub note: Option<NoteIn>,
}

impl Record {
    /// A sheet line nobody filled in: no claim at all.
    pub fn is_blank(&self) -> bool {
        self.clock_in.is_none()
            && self.clock_out.is_none()
            && self.tasks == TasksIn::Nothing
            && self.note.is_none()
    }
}

/// Works out a file's kind from its header; a problem names what is unknown or missing.
pub fn kind_of(p: &Parsed) -> Result<PaperKind, Problem> {
    let has = |c: &str| p.headers.iter().any(|h| h == c);
    let kind = if has(Column::TasksDone.key()) || has(Column::Initials.key()) {
        PaperKind::Sheet
    } else if has("task_id") {
        PaperKind::Tasks
    } else if has("body") {
        PaperKind::Notes
    } else if has("clock_in") || has("clock_out") {
        PaperKind::Attendance
    } else {
        return Err(header_problem(
            p,
            0,
            "cannot tell what this file holds: attendance needs visit_id,clock_in,clock_out; tasks visit_id,task_id,done; notes visit_id,author,written_at,body; or a sheet from acc sheets".into(),
        ));
    };
    let (required, optional) = columns(kind);
    for (i, h) in p.headers.iter().enumerate() {
        if !required.contains(&h.as_str()) && !optional.contains(&h.as_str()) && h != REJECT_REASON
        {
            return Err(header_problem(
                p,
                i + 1,
                format!(
                    "unknown column '{}' for a {} file; its columns are {}",
                    p.written_headers[i],
                    name(kind),
                    required
                        .iter()
                        .chain(optional)
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    if let Some(missing) = required.iter().find(|r| !has(r)) {
        return Err(header_problem(
            p,
            0,
            format!("a {} file needs a column '{missing}'", name(kind)),
        ));
    }
    Ok(kind)
}

pub fn name(kind: PaperKind) -> &'static str {
    match kind {
        PaperKind::Attendance => "attendance",
        PaperKind::Tasks => "tasks",
        PaperKind::Notes => "notes",
        PaperKind::Sheet => "sheet",
    }
}

fn header_problem(p: &Parsed, column: usize, reason: String) -> Problem {
    Problem {
        file: p.file.clone(),
        line: 1,
        column,
        reason,
    }
}

/// Reads one line as a record of `kind`.
pub fn record(raw: RawLine, kind: PaperKind) -> Result<Record, Problem> {
    let visit_id = id(&raw, "visit_id")?;
    let time = |col: &str| time(&raw, col);
    let (clock_in, clock_out) = match kind {
        PaperKind::Attendance | PaperKind::Sheet => (time("clock_in")?, time("clock_out")?),
        _ => (None, None),
    };
    let employee = raw.get("employee_number").map(str::to_string);
    let (tasks, note) = match kind {
        PaperKind::Attendance => {
            if clock_in.is_none() && clock_out.is_none() {
                return Err(raw.problem("clock_in", "neither clock-in nor clock-out is written"));
            }
            (TasksIn::Nothing, None)
        }
        PaperKind::Tasks => {
            let task_id = id(&raw, "task_id")?;
            let done = flag(&raw, "done")?;
            (
                TasksIn::One {
                    task_id,
                    done,
                    comment: raw.get("comment").map(str::to_string),
                },
                None,
            )
        }
        PaperKind::Notes => (TasksIn::Nothing, Some(note_line(&raw)?)),
        PaperKind::Sheet => {
            let tasks = tasks_done(&raw)?;
            let note = raw.get(Column::Note.key()).map(|body| NoteIn {
                author: employee.clone().unwrap_or_default(),
                written_at: None,
                body: body.into(),
            });
            (tasks, note)
        }
    };
    let rec = Record {
        kind,
        visit_id,
        employee,
        clock_in,
        clock_out,
        tasks,
        note,
        raw,
    };
    if kind == PaperKind::Sheet {
        if rec.employee.is_none() {
            return Err(rec
                .raw
                .problem("employee_number", "the sheet's employee number is missing"));
        }
        if !rec.is_blank() && rec.raw.get(Column::Initials.key()).is_none() {
            return Err(rec.raw.problem(
                Column::Initials.key(),
                "filled in but not initialled by the worker",
            ));
        }
    }
    Ok(rec)
}

fn time(raw: &RawLine, col: &str) -> Result<Option<Written>, Problem> {
    raw.get(col)
        .map(|t| clock::parse(t).map_err(|why| raw.problem(col, why)))
        .transpose()
}

/// A line of a notes file: author, time and body are all required.
fn note_line(raw: &RawLine) -> Result<NoteIn, Problem> {
    let author = raw
        .get("author")
        .ok_or_else(|| raw.problem("author", "the author's employee number is missing"))?;
    let written_at = time(raw, "written_at")?
        .ok_or_else(|| raw.problem("written_at", "when the note was written is missing"))?;
    let body = raw
        .get("body")
        .ok_or_else(|| raw.problem("body", "the note is empty"))?;
    Ok(NoteIn {
        author: author.into(),
        written_at: Some(written_at),
        body: body.into(),
    })
}

/// A sheet's `tasks_done`: `all`, `none`, or the task numbers, separated loosely as people
/// write them.
fn tasks_done(raw: &RawLine) -> Result<TasksIn, Problem> {
    Ok(match raw.get(Column::TasksDone.key()) {
        None => TasksIn::Nothing,
        Some(t) if t.eq_ignore_ascii_case("all") => TasksIn::All,
        Some(t) if t.eq_ignore_ascii_case("none") => TasksIn::Listed(Vec::new()),
        Some(t) => TasksIn::Listed(
            t.split([';', ' ', ',', '/'])
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.trim().parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                        raw.problem(Column::TasksDone.key(), format!("'{s}' is not a task number: write the numbers from the Tasks column, all, or none"))
                    })
                })
                .collect::<Result<_, _>>()?,
        ),
    })
}

fn id(raw: &RawLine, col: &str) -> Result<i64, Problem> {
    let text = raw
        .get(col)
        .ok_or_else(|| raw.problem(col, format!("{col} is missing")))?;
    text.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| raw.problem(col, format!("'{text}' is not a {col}")))
}

fn flag(raw: &RawLine, col: &str) -> Result<bool, Problem> {
    let text = raw
        .get(col)
        .ok_or_else(|| raw.problem(col, format!("{col} is missing: write yes or no")))?;
    match text.to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" | "t" | "1" | "done" | "x" => Ok(true),
        "no" | "n" | "false" | "f" | "0" | "not done" => Ok(false),
        _ => Err(raw.problem(col, format!("'{text}' is not yes or no"))),
    }
}
