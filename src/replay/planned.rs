//! What production holds for the lines of a batch, and what a checked line would change:
//! the words that checking, planning, the ledger and applying share.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::read::RawLine;

/// How far from the visit's scheduled time a clock time may be before it is called a mistake.
pub const SLACK: i64 = 12;
/// The longest visit a clock-in and clock-out may span.
pub const LONGEST_VISIT: i64 = 16;

#[derive(Debug, Clone)]
pub struct Visit {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub employee: Option<String>,
    pub clock_in: Option<DateTime<Utc>>,
    pub clock_out: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct Task {
    pub id: i64,
    pub visit_id: i64,
    pub done: Option<bool>,
    pub comment: Option<String>,
}

/// What production says about the visits, tasks and employees a batch names.
#[derive(Debug, Default)]
pub struct Observed {
    pub visits: HashMap<i64, Visit>,
    pub tasks: HashMap<i64, Task>,
    pub tasks_of: HashMap<i64, Vec<i64>>,
    pub employees: HashMap<String, i64>,
}

/// Clock-in and clock-out, either of which may be unknown.
pub type ClockPair = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

#[derive(Debug, Clone, PartialEq)]
pub struct TaskChange {
    pub task_id: i64,
    pub done: bool,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NoteChange {
    pub author_id: i64,
    pub written_at: DateTime<Utc>,
    pub body: String,
}

/// One line's checked, exact changes.
#[derive(Debug, Clone)]
pub struct Planned {
    pub raw: RawLine,
    pub visit_id: i64,
    pub visit_start: DateTime<Utc>,
    pub clock: Option<ClockPair>,
    pub tasks: Vec<TaskChange>,
    pub note: Option<NoteChange>,
}
