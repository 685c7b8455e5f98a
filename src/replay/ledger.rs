//! The ledger's vocabulary: each change a paper line makes, the key it is recorded under in
//! `acc_replay.ledger`, and the value hashed there. The key is built here and only here, and
//! code that acts on a change matches on the change, never on its key's text.

use serde_json::json;
use sha2::{Digest as _, Sha256};

use super::planned::{ClockPair, NoteChange, Planned, TaskChange};
use crate::crypt::hex;

/// One change to production.
#[derive(Debug, Clone, Copy)]
pub enum Change<'a> {
    /// A visit's clock-in and clock-out.
    Attendance { visit_id: i64, clock: ClockPair },
    /// A task marked done or not, with its comment.
    Task(&'a TaskChange),
    /// A progress note added to a visit.
    Note { visit_id: i64, note: &'a NoteChange },
}

impl<'a> Change<'a> {
    /// A line's changes, in the order they are decided and recorded.
    pub fn of(p: &'a Planned) -> Vec<Change<'a>> {
        let mut out = Vec::new();
        if let Some(clock) = p.clock {
            out.push(Change::Attendance {
                visit_id: p.visit_id,
                clock,
            });
        }
        out.extend(p.tasks.iter().map(Change::Task));
        if let Some(note) = &p.note {
            out.push(Change::Note {
                visit_id: p.visit_id,
                note,
            });
        }
        out
    }

    /// The ledger key: `attendance/<visit>`, `task/<task>`, `note/<visit>/<digest>`. A note
    /// has no id of its own, so its key is a digest of who wrote what when.
    pub fn key(&self) -> String {
        match self {
            Change::Attendance { visit_id, .. } => format!("attendance/{visit_id}"),
            Change::Task(t) => format!("task/{}", t.task_id),
            Change::Note { visit_id, note } => note_key(*visit_id, note),
        }
    }

    /// The value the ledger hashes. A note's body is patient data: only its size is kept.
    pub fn value(&self) -> serde_json::Value {
        match self {
            Change::Attendance { clock, .. } => {
                json!({ "clock_in": clock.0, "clock_out": clock.1 })
            }
            Change::Task(t) => json!({ "done": t.done, "comment": t.comment }),
            Change::Note { note, .. } => json!({
                "author_id": note.author_id,
                "written_at": note.written_at,
                "chars": note.body.chars().count(),
            }),
        }
    }
}

/// The key of a note, whether on paper or already in production.
/// The ledger keys of a line's changes: one per visit's clock times, per task, per note.
pub fn keys(p: &Planned) -> Vec<String> {
    Change::of(p).iter().map(Change::key).collect()
}

pub fn note_key(visit_id: i64, n: &NoteChange) -> String {
    let mut h = Sha256::new();
    h.update(n.author_id.to_be_bytes());
    h.update(n.written_at.timestamp_micros().to_be_bytes());
    h.update(n.body.as_bytes());
    let d = h.finalize();
    format!("note/{visit_id}/{}", hex(&d[..12]))
}

/// The ledger's value hash.
pub fn hash(v: &serde_json::Value) -> String {
    hex(&Sha256::digest(v.to_string().as_bytes())[..16])
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn keys_name_the_visit_the_task_and_the_note() {
        let task = TaskChange {
            task_id: 7,
            done: true,
            comment: None,
        };
        let note = NoteChange {
            author_id: 3,
            written_at: Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap(),
            body: "fine".into(),
        };
        let a = Change::Attendance {
            visit_id: 42,
            clock: (None, None),
        };
        assert_eq!(a.key(), "attendance/42");
        assert_eq!(Change::Task(&task).key(), "task/7");
        let n = Change::Note {
            visit_id: 42,
            note: &note,
        };
        assert!(n.key().starts_with("note/42/"));
        assert_eq!(n.key(), note_key(42, &note), "paper and production agree");
        assert!(
            !n.value().to_string().contains("fine"),
            "no note text in the ledger"
        );
    }
}
