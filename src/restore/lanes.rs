//! The statements of a restore's last step (foreign keys, their validations, ANALYZE) on a
//! pool of connections, ordered so that no connection sits waiting on a lock. Each statement
//! names the tables it locks in a mode that conflicts with itself and with the others' modes
//! here (SHARE UPDATE EXCLUSIVE for VALIDATE CONSTRAINT and ANALYZE, SHARE ROW EXCLUSIVE for
//! ADD FOREIGN KEY); two that share a table never run at once, since one would only hold a
//! connection idle until the other ends. The ROW SHARE lock a validation takes on the table it
//! references conflicts with none of these, and is left out.
//!
//! Statements that conflict run one after another whatever the order, so the one with the
//! most such work around it goes first: its chain is the night's critical path, and the
//! statements that do not touch it fill the other connections meanwhile. The model only
//! orders; PostgreSQL's own locks keep the statements correct, and a deadlock it did not
//! foresee is retried.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;
use tokio::task::JoinSet;

use super::target::Target;
use super::timeline::Timeline;
use crate::env::Env;
use crate::error::{Error, Result};

/// A lock on every table: a statement whose extent is not known runs alone.
pub const EVERY_TABLE: &str = "*";
/// Deadlocks tolerated per statement before the restore gives up.
const ATTEMPTS: u32 = 5;
/// A statement slower than this is logged (with -v), for the night that runs long.
const SLOW: f64 = 0.5;

/// What a statement reads, which is what it costs.
#[derive(Debug, Clone, PartialEq)]
pub enum Scan {
    Nothing,
    /// The whole table, named as pg_dump names it.
    Whole(String),
}

impl Scan {
    fn table(&self) -> Option<&str> {
        match self {
            Scan::Nothing => None,
            Scan::Whole(t) => Some(t),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sql: String,
    /// The step it belongs to, as the timeline names it.
    pub step: &'static str,
    /// The tables it locks in a self-conflicting mode, or [`EVERY_TABLE`].
    pub locks: Vec<String>,
    pub scan: Scan,
}

/// Runs `statements` on up to `jobs` connections to the incoming copy, each after the session
/// settings `header`; the first failure stops the others and is returned. Each step's span,
/// from its first statement's start to its last one's end, goes to the timeline.
pub async fn run(
    target: &Target,
    env: &Env,
    header: &str,
    statements: Vec<Statement>,
    jobs: usize,
    timeline: &Timeline,
) -> Result<()> {
    if statements.is_empty() {
        return Ok(());
    }
    let sizes = sizes(target, env, &statements).await?;
    let queue = order(statements, &sizes);
    let workers = jobs.clamp(1, queue.len());
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            queue,
            held: HashSet::new(),
            failed: false,
            spans: BTreeMap::new(),
        }),
        wake: Notify::new(),
    });
    let mut set = JoinSet::new();
    for _ in 0..workers {
        let client = target.connect(&target.incoming(), env).await?;
        {
            let settings = format!("{header}\n{}", super::pipeline::SESSION_MEMORY);
            client.batch_execute(&settings).await.map_err(|e| {
                crate::pg::sqlstate::failure("cannot set up a session on the incoming copy", e)
            })?;
        }
        let shared = Arc::clone(&shared);
        set.spawn(async move { shared.work(&client).await });
    }
    let mut first = None;
    while let Some(joined) = set.join_next().await {
        match joined.map_err(|e| Error::internal("a restore worker panicked").source(e)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) | Err(e) => {
                first.get_or_insert(e);
            }
        }
    }
    let spans = std::mem::take(&mut shared.state.lock().expect("lanes lock").spans);
    for (step, (from, to)) in spans {
        timeline.between(step, from, to);
    }
    first.map_or(Ok(()), Err)
}

struct Shared {
    state: Mutex<State>,
    /// Rung when a statement ends, for the workers waiting for its tables.
    wake: Notify,
}

struct State {
    queue: Vec<Statement>,
    held: HashSet<String>,
    failed: bool,
    spans: BTreeMap<&'static str, (Instant, Instant)>,
}

impl Shared {
    async fn work(&self, client: &tokio_postgres::Client) -> Result<()> {
        while let Some(statement) = self.take().await {
            crate::failpoint::pause(&format!("restore:{}", statement.step)).await;
            let started = Instant::now();
            let result = execute(client, &statement.sql, statement.step).await;
            self.done(&statement, started, result.is_err());
            result?;
        }
        Ok(())
    }

    /// The next statement whose tables no running one holds, waiting while there is none;
    /// `None` once the queue is empty or a statement failed.
    async fn take(&self) -> Option<Statement> {
        loop {
            // registered before the look, so a statement ending in between still wakes us
            let woken = self.wake.notified();
            {
                let mut s = self.state.lock().expect("lanes lock");
                if s.failed || s.queue.is_empty() {
                    return None;
                }
                if let Some(i) = runnable(&s.queue, &s.held) {
                    let statement = s.queue.remove(i);
                    s.held.extend(statement.locks.iter().cloned());
                    return Some(statement);
                }
            }
            woken.await;
        }
    }

    fn done(&self, statement: &Statement, started: Instant, failed: bool) {
        let mut s = self.state.lock().expect("lanes lock");
        for table in &statement.locks {
            s.held.remove(table);
        }
        s.failed |= failed;
        let span = s.spans.entry(statement.step).or_insert((started, started));
        span.0 = span.0.min(started);
        span.1 = Instant::now();
        drop(s);
        self.wake.notify_waiters();
    }
}

/// The first statement in `queue` that locks none of the `held` tables.
fn runnable(queue: &[Statement], held: &HashSet<String>) -> Option<usize> {
    if held.contains(EVERY_TABLE) {
        return None;
    }
    queue
        .iter()
        .position(|s| match s.locks.iter().any(|t| t == EVERY_TABLE) {
            true => held.is_empty(),
            false => !s.locks.iter().any(|t| held.contains(t)),
        })
}

/// The statements, those with the most work that cannot overlap them first: their own cost
/// and that of every statement they conflict with, which must run before or after them, never
/// beside. Then the statement that locks the most tables, then the costliest.
fn order(statements: Vec<Statement>, sizes: &HashMap<String, u64>) -> Vec<Statement> {
    let size = |s: &Statement| {
        s.scan
            .table()
            .and_then(|t| sizes.get(t))
            .copied()
            .unwrap_or(0)
    };
    let costs: Vec<u64> = statements.iter().map(size).collect();
    let keys: Vec<_> = statements
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let apart: u64 = statements
                .iter()
                .enumerate()
                .filter(|&(j, t)| j != i && conflict(s, t))
                .map(|(j, _)| costs[j])
                .sum();
            (
                std::cmp::Reverse(costs[i] + apart),
                std::cmp::Reverse(s.locks.len()),
                std::cmp::Reverse(costs[i]),
                i,
            )
        })
        .collect();
    let mut keyed: Vec<_> = keys.into_iter().zip(statements).collect();
    keyed.sort_by_key(|k| k.0);
    keyed.into_iter().map(|(_, s)| s).collect()
}

/// Whether `a` and `b` lock a table in common, so that one waits for the other.
fn conflict(a: &Statement, b: &Statement) -> bool {
    let every = |s: &Statement| s.locks.iter().any(|t| t == EVERY_TABLE);
    every(a) || every(b) || a.locks.iter().any(|t| b.locks.contains(t))
}

/// The size of every table a statement scans, by the name it is given.
async fn sizes(
    target: &Target,
    env: &Env,
    statements: &[Statement],
) -> Result<HashMap<String, u64>> {
    let names: Vec<String> = statements
        .iter()
        .filter_map(|s| s.scan.table().map(str::to_string))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if names.is_empty() {
        return Ok(HashMap::new());
    }
    let c = target.connect(&target.incoming(), env).await?;
    let rows = c
        .query(
            "SELECT t, coalesce(pg_relation_size(to_regclass(t)), 0) FROM unnest($1::text[]) t",
            &[&names],
        )
        .await
        .map_err(|e| crate::pg::sqlstate::failure("cannot read the tables' sizes", e))?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get::<_, i64>(1).max(0) as u64))
        .collect())
}

/// Runs one statement, retrying it when it deadlocks.
pub async fn execute(client: &tokio_postgres::Client, sql: &str, step: &str) -> Result<()> {
    let one_line = || sql.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut attempt = 0;
    loop {
        attempt += 1;
        let started = Instant::now();
        match client.batch_execute(sql).await {
            Ok(()) => {
                let took = started.elapsed().as_secs_f64();
                if took >= SLOW {
                    crate::events::detail(&format!("{step} took {took:.1}s: {}", one_line()));
                }
                return Ok(());
            }
            Err(e) if deadlock(&e) && attempt < ATTEMPTS => {
                crate::events::detail(&format!(
                    "{step} deadlocked (attempt {attempt}); retrying: {}",
                    one_line()
                ));
                tokio::time::sleep(std::time::Duration::from_millis(50 * u64::from(attempt))).await;
            }
            Err(e) => {
                return Err(crate::pg::sqlstate::failure(
                    format!("{step} failed: {}", one_line()),
                    e,
                ));
            }
        }
    }
}

fn deadlock(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&tokio_postgres::error::SqlState::T_R_DEADLOCK_DETECTED)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statement(sql: &str, locks: &[&str], scan: Scan) -> Statement {
        Statement {
            sql: sql.to_string(),
            step: "validate",
            locks: locks.iter().map(|t| t.to_string()).collect(),
            scan,
        }
    }

    fn whole(t: &str) -> Scan {
        Scan::Whole(t.to_string())
    }

    #[test]
    fn the_statement_with_the_most_work_it_cannot_overlap_goes_first() {
        let sizes: HashMap<String, u64> = [("tasks", 1000), ("notes", 350), ("visits_1", 400)]
            .into_iter()
            .map(|(t, n)| (t.to_string(), n << 20))
            .collect();
        let ordered = order(
            vec![
                statement("validate notes", &["notes"], whole("notes")),
                statement("validate visits_1", &["visits_1"], whole("visits_1")),
                statement("validate tasks", &["tasks"], whole("tasks")),
                statement(
                    "add tasks",
                    &["tasks", "visits", "visits_1"],
                    whole("tasks"),
                ),
                statement(
                    "add notes",
                    &["notes", "visits", "visits_1"],
                    whole("notes"),
                ),
                statement("add clients", &["clients"], Scan::Nothing),
            ],
            &sizes,
        );
        let sql: Vec<&str> = ordered.iter().map(|s| s.sql.as_str()).collect();
        // add tasks: 1000 + 1000 + 350 + 400; add notes: 350 + 350 + 1000 + 400;
        // validate tasks: 1000 + 1000; validate visits_1: 400 + 1350; validate notes: 700
        assert_eq!(
            sql,
            [
                "add tasks",
                "add notes",
                "validate tasks",
                "validate visits_1",
                "validate notes",
                "add clients"
            ]
        );
        assert!(conflict(&ordered[0], &ordered[1]), "both lock the visits");
        assert!(!conflict(&ordered[2], &ordered[1]));
    }

    #[test]
    fn a_statement_waits_while_another_holds_one_of_its_tables() {
        let queue = vec![
            statement("a", &["tasks", "visits"], Scan::Nothing),
            statement("b", &["visits_1"], Scan::Nothing),
            statement("c", &["notes"], Scan::Nothing),
        ];
        let held = |t: &[&str]| t.iter().map(|t| t.to_string()).collect::<HashSet<_>>();
        assert_eq!(runnable(&queue, &held(&[])), Some(0));
        assert_eq!(runnable(&queue, &held(&["visits"])), Some(1));
        assert_eq!(runnable(&queue, &held(&["visits", "visits_1"])), Some(2));
        assert_eq!(
            runnable(&queue, &held(&["visits", "visits_1", "notes"])),
            None
        );
        assert_eq!(
            runnable(&queue, &held(&[EVERY_TABLE])),
            None,
            "one runs alone"
        );
        let alone = vec![statement("d", &[EVERY_TABLE], Scan::Nothing)];
        assert_eq!(runnable(&alone, &held(&["notes"])), None);
        assert_eq!(runnable(&alone, &held(&[])), Some(0));
    }
}
