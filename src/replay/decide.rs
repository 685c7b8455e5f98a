//! Deciding what each change of a planned line does, against what production and the ledger
//! hold now: write it, find it already there, skip it as applied before, or set the line
//! aside as a conflict. Pure, so every rule has a unit test; `apply` reads and writes.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::json;

use super::ledger::{Change, hash};
use super::planned::{ClockPair, Planned};

/// What production and the ledger hold for one chunk of lines, read under row locks.
#[derive(Default)]
pub(super) struct State {
    /// Ledger key -> (value hash, batch id).
    pub ledger: HashMap<String, (String, String)>,
    pub visits: HashMap<i64, ClockPair>,
    pub tasks: HashMap<i64, (Option<bool>, Option<String>)>,
    /// Ledger keys of the notes production holds.
    pub notes: HashSet<String>,
}

/// One change's verdict.
#[derive(Debug, PartialEq)]
pub(super) enum Verdict {
    Write {
        overwrite: bool,
        before: serde_json::Value,
    },
    Matched {
        before: serde_json::Value,
    },
    /// The ledger holds this very value: applied by an earlier run.
    Already,
    Conflict(String),
}

/// A change with its ledger key, its value and its verdict.
pub(super) struct Part<'a> {
    pub change: Change<'a>,
    pub key: String,
    pub after: serde_json::Value,
    pub verdict: Verdict,
}

/// Every change of `p` with its verdict, or the reason the whole line is a conflict.
pub(super) fn decide<'a>(
    p: &'a Planned,
    s: &State,
    prefer_paper: bool,
) -> Result<Vec<Part<'a>>, String> {
    vanished(p, s)?;
    let parts: Vec<Part> = Change::of(p)
        .into_iter()
        .map(|change| {
            let (key, after) = (change.key(), change.value());
            let verdict = ledger_says(s, &key, &after)
                .unwrap_or_else(|| against_production(&change, &key, s, prefer_paper));
            Part {
                change,
                key,
                after,
                verdict,
            }
        })
        .collect();
    match parts.iter().find_map(|part| match &part.verdict {
        Verdict::Conflict(why) => Some(why.clone()),
        _ => None,
    }) {
        Some(why) => Err(why),
        None => Ok(parts),
    }
}

/// The check ran in another transaction: a visit or task moved or removed since is a
/// conflict, never an "applied" that wrote nothing.
fn vanished(p: &Planned, s: &State) -> Result<(), String> {
    if (p.clock.is_some() || p.note.is_some()) && !s.visits.contains_key(&p.visit_id) {
        return Err(format!(
            "visit {} scheduled at {} is no longer in production: it was moved or removed after the check",
            p.visit_id,
            p.visit_start.to_rfc3339()
        ));
    }
    if let Some(t) = p.tasks.iter().find(|t| !s.tasks.contains_key(&t.task_id)) {
        return Err(format!(
            "task {} is no longer in production: it was removed after the check",
            t.task_id
        ));
    }
    Ok(())
}

/// What the ledger says of a key: applied before with this value, or with another.
fn ledger_says(s: &State, key: &str, after: &serde_json::Value) -> Option<Verdict> {
    s.ledger.get(key).map(|(h, batch)| {
        if *h == hash(after) {
            Verdict::Already
        } else {
            Verdict::Conflict(format!(
                "{key} was applied by batch {batch} with other values"
            ))
        }
    })
}

fn against_production(change: &Change, key: &str, s: &State, prefer_paper: bool) -> Verdict {
    match change {
        Change::Attendance { visit_id, clock } => {
            let prod = s.visits.get(visit_id).cloned().unwrap_or_default();
            attendance(*clock, prod, prefer_paper)
        }
        Change::Task(t) => {
            let (done, comment) = s.tasks.get(&t.task_id).cloned().unwrap_or_default();
            let before = json!({ "done": done, "comment": comment });
            match done {
                None => Verdict::Write {
                    overwrite: false,
                    before,
                },
                Some(d) if d == t.done && (t.comment.is_none() || t.comment == comment) => {
                    Verdict::Matched { before }
                }
                Some(_) if prefer_paper => Verdict::Write {
                    overwrite: true,
                    before,
                },
                Some(d) => Verdict::Conflict(format!(
                    "production marks task {} {}",
                    t.task_id,
                    if d { "done" } else { "not done" }
                )),
            }
        }
        Change::Note { .. } if s.notes.contains(key) => Verdict::Matched {
            before: serde_json::Value::Null,
        },
        Change::Note { .. } => Verdict::Write {
            overwrite: false,
            before: serde_json::Value::Null,
        },
    }
}

/// Paper clock times fill what production lacks; a different time already there is a
/// conflict unless the paper is preferred; a clock-out before the clock-in never lands.
fn attendance(paper: ClockPair, prod: ClockPair, prefer_paper: bool) -> Verdict {
    let ((cin, cout), (pin, pout)) = (paper, prod);
    let before = json!({ "clock_in": pin, "clock_out": pout });
    let same = |paper: Option<DateTime<Utc>>, prod: Option<DateTime<Utc>>| {
        paper.is_none() || paper == prod
    };
    let free = |paper: Option<DateTime<Utc>>, prod: Option<DateTime<Utc>>| {
        paper.is_none() || prod.is_none() || paper == prod
    };
    let backwards = matches!((cin.or(pin), cout.or(pout)), (Some(i), Some(o)) if o < i);
    if same(cin, pin) && same(cout, pout) {
        Verdict::Matched { before }
    } else if free(cin, pin) && free(cout, pout) && !backwards {
        Verdict::Write {
            overwrite: false,
            before,
        }
    } else if prefer_paper && !backwards {
        Verdict::Write {
            overwrite: true,
            before,
        }
    } else {
        Verdict::Conflict(format!(
            "production holds clock-in {} and clock-out {}",
            show(pin),
            show(pout)
        ))
    }
}

fn show(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(|| "nothing".into(), |t| t.to_rfc3339())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(h: u32) -> Option<DateTime<Utc>> {
        Some(Utc.with_ymd_and_hms(2026, 11, 21, h, 0, 0).unwrap())
    }

    #[test]
    fn paper_times_fill_what_production_lacks() {
        let v = attendance((at(9), at(10)), (None, None), false);
        assert!(matches!(
            v,
            Verdict::Write {
                overwrite: false,
                ..
            }
        ));
        let v = attendance((at(9), None), (at(9), at(10)), false);
        assert!(matches!(v, Verdict::Matched { .. }));
    }

    #[test]
    fn a_different_time_is_a_conflict_unless_the_paper_is_preferred() {
        let v = attendance((at(9), None), (at(8), None), false);
        assert!(matches!(v, Verdict::Conflict(ref w) if w.contains("clock-in")));
        let v = attendance((at(9), None), (at(8), None), true);
        assert!(matches!(
            v,
            Verdict::Write {
                overwrite: true,
                ..
            }
        ));
    }

    #[test]
    fn a_clock_out_before_the_clock_in_never_lands_even_when_preferred() {
        let v = attendance((None, at(7)), (at(8), None), true);
        assert!(matches!(v, Verdict::Conflict(_)));
    }

    #[test]
    fn the_ledger_decides_first_and_a_value_applied_before_is_skipped() {
        let value = json!({ "done": true, "comment": null });
        let mut s = State::default();
        s.ledger
            .insert("task/1".into(), (hash(&value), "b-1".into()));
        assert_eq!(ledger_says(&s, "task/1", &value), Some(Verdict::Already));
        let other = json!({ "done": false, "comment": null });
        assert!(
            matches!(ledger_says(&s, "task/1", &other), Some(Verdict::Conflict(w)) if w.contains("b-1"))
        );
        assert_eq!(ledger_says(&s, "task/2", &value), None);
    }
}
