//! What the replay tests share: a production clone whose yesterday lost its clock times and
//! task marks as if the app had been down, PostgreSQL's times, and running `acc replay`.

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, NaiveDate};

use super::{Run, Sandbox, TestDb, acc};

/// Yesterday's visits in the clone lose their clock times and task marks, as if the app had
/// been down: returns yesterday's local date.
pub async fn downtime(db: &TestDb, zone: &str) -> NaiveDate {
    let c = db.admin().await;
    let day: NaiveDate = c
        .query_one(
            &format!("SELECT (now() AT TIME ZONE '{zone}')::date - 1"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    c.batch_execute(&format!(
        "UPDATE agency.visit_tasks t SET done = NULL, comment = NULL FROM agency.visits v
         WHERE t.visit_id = v.id AND t.visit_start = v.scheduled_start
           AND (v.scheduled_start AT TIME ZONE '{zone}')::date = '{day}';
         UPDATE agency.visits SET clock_in = NULL, clock_out = NULL, status = 'scheduled'
         WHERE (scheduled_start AT TIME ZONE '{zone}')::date = '{day}' AND status <> 'cancelled';"
    ))
    .await
    .unwrap();
    day
}

/// A production clone of demo_us whose yesterday (Toronto) is wiped as if the app had been
/// down, with a profile `t` on it in a directory of its own.
pub async fn outage(tag: &str) -> (Sandbox, TestDb, NaiveDate, tempfile::TempDir, PathBuf) {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", tag).await;
    let day = downtime(&db, "America/Toronto").await;
    let dir = tempfile::tempdir().unwrap();
    let config = sb.write_profile(dir.path(), &db.name, None, "");
    (sb, db, day, dir, config)
}

/// `2026-11-21 07:15:00-05` as PostgreSQL prints it.
pub fn pg_time(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_str(&format!("{s}00"), "%Y-%m-%d %H:%M:%S%z")
        .unwrap_or_else(|e| panic!("{s}: {e}"))
}

pub fn replay(config: &Path, args: &[&str]) -> Run {
    let mut all = vec!["replay"];
    all.extend_from_slice(args);
    acc(config, &all)
}

/// `acc replay apply --profile t --operator ops`, then `extra`, then `file`.
pub fn apply(config: &Path, extra: &[&str], file: &str) -> Run {
    let mut args = vec!["apply", "--profile", "t", "--operator", "ops"];
    args.extend_from_slice(extra);
    args.push(file);
    replay(config, &args)
}
