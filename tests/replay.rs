//! `acc sheets` and `acc replay` against the production cluster: sheets filled in and typed up
//! round-trip into production; kill -9 at several points and reruns apply everything exactly
//! once; daylight-saving times. Conflicts are in `replay_conflicts.rs`, bad input in
//! `replay_input.rs`.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use support::replays::*;
use support::{Sandbox, TestDb, acc, acc_command, age_decrypt, day_file};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sheets_filled_in_on_paper_round_trip_through_replay_exactly_once() {
    let (sb, db, day, dir, config) = outage("replay_sheets").await;
    let out = dir.path().join("sheets");
    let run = acc(
        &config,
        &[
            "sheets",
            "--profile",
            "t",
            "--source",
            "production",
            "--date",
            &day.to_string(),
            "--to",
            out.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let summary = run.json();
    // the CSVs, to type up (the PDFs beside them are for printing)
    let sheets: Vec<&serde_json::Value> = summary["sheets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["format"] == "csv")
        .collect();
    assert_eq!(sheets[0]["name"], "all");
    let combined_rows = sheets[0]["rows"].as_u64().unwrap();
    let per_employee: u64 = sheets[1..]
        .iter()
        .map(|s| s["rows"].as_u64().unwrap())
        .sum();
    assert_eq!(
        per_employee, combined_rows,
        "every visit is on exactly one employee's sheet"
    );
    let sheet_dir = out.join(format!("t/sheets/{day}"));
    let first = sheets[1]["name"].as_str().unwrap();
    let plain = age_decrypt(&sb, &day_file(&sheet_dir, first));
    assert!(
        plain.windows(5).any(|w| w == b"SYNTH"),
        "client names are on the sheet"
    );

    // the worker fills in every visit but the last; the typist keeps the file encrypted
    let mut reader = csv::Reader::from_reader(&plain[..]);
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert!(rows.len() >= 2, "{first} has {} visits", rows.len());
    let mut typed = csv::Writer::from_writer(Vec::new());
    typed.write_record(&headers).unwrap();
    let mut expected = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let mut r: Vec<String> = row.iter().map(str::to_string).collect();
        if i + 1 < rows.len() {
            let start = pg_time(&row[col("Start")]);
            let end = pg_time(&row[col("End")]);
            let clock_in = start + chrono::Duration::minutes(3);
            r[col("Clock in")] = clock_in.format("%H:%M").to_string();
            r[col("Clock out")] = end.format("%Y-%m-%d %H:%M").to_string();
            let first_task = row[col("Tasks")].split(':').next().unwrap().to_string();
            r[col("Tasks done")] = first_task.clone();
            r[col("Note")] = format!("SYNTH paper note {i}, \"quoted\"\nsecond line");
            r[col("Initials")] = "VL".into();
            expected.push((
                row[col("Visit")].parse::<i64>().unwrap(),
                clock_in.with_timezone(&Utc),
                end.with_timezone(&Utc),
                first_task.parse::<i64>().unwrap(),
            ));
        }
        typed.write_record(&r).unwrap();
    }
    let input = dir.path().join(format!("{first}-typed.csv.age"));
    std::fs::write(
        &input,
        support::age_encrypt(&sb, &typed.into_inner().unwrap()),
    )
    .unwrap();
    let identity = sb.var("ACC_AGE_IDENTITY").to_string();
    let file = input.to_str().unwrap();

    let check = replay(
        &config,
        &["check", "--profile", "t", "--identity", &identity, file],
    );
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
    // a dry run lists every change and writes nothing, not even the ledger
    let apply = |extra: &[&str]| {
        let mut args = vec![
            "apply",
            "--profile",
            "t",
            "--operator",
            "night-ops",
            "--identity",
            &identity,
            "--json",
            file,
        ];
        args.extend_from_slice(extra);
        replay(&config, &args)
    };
    let dry = apply(&["--dry-run"]);
    assert_eq!(dry.code, 0, "{}{}", dry.stdout, dry.stderr);
    let changes = dry.json()["changes"].as_array().unwrap().len();
    assert!(
        changes >= expected.len() * 2,
        "clock times, tasks and notes listed: {changes}"
    );
    let c = db.admin().await;
    let ids: Vec<i64> = expected.iter().map(|e| e.0).collect();
    let untouched: i64 = c
        .query_one(
            "SELECT count(*) FROM agency.visits WHERE id = ANY($1) AND clock_in IS NULL",
            &[&ids],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(untouched as usize, expected.len());
    let ledger: Option<String> = c
        .query_one("SELECT to_regclass('acc_replay.ledger')::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(ledger, None, "the dry run left no ledger");

    let run = apply(&[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let t = run.json();
    let filled = expected.len() as u64;
    assert_eq!(
        (t["applied"].as_u64().unwrap(), t["blank"].as_u64().unwrap()),
        (filled, 1)
    );
    assert_eq!(t["total"].as_u64().unwrap(), rows.len() as u64);

    for (visit, clock_in, clock_out, task) in &expected {
        let r = c
            .query_one(
                "SELECT clock_in, clock_out, status::text FROM agency.visits WHERE id = $1",
                &[visit],
            )
            .await
            .unwrap();
        assert_eq!(
            (r.get::<_, DateTime<Utc>>(0), r.get::<_, DateTime<Utc>>(1)),
            (*clock_in, *clock_out),
            "visit {visit}"
        );
        assert_eq!(r.get::<_, String>(2), "completed");
        let tasks = c
            .query(
                "SELECT id, done FROM agency.visit_tasks WHERE visit_id = $1 ORDER BY id",
                &[visit],
            )
            .await
            .unwrap();
        for t in tasks {
            assert_eq!(
                t.get::<_, Option<bool>>(1),
                Some(t.get::<_, i64>(0) == *task),
                "visit {visit}"
            );
        }
        let notes: i64 = c
            .query_one("SELECT count(*) FROM agency.visit_notes WHERE visit_id = $1 AND body LIKE 'SYNTH paper note%'", &[visit])
            .await
            .unwrap()
            .get(0);
        assert_eq!(notes, 1);
    }
    let audit = c
        .query_one(
            "SELECT count(*), count(DISTINCT batch_id), min(operator), min(source), min(line) FROM acc_replay.ledger",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(audit.get::<_, String>(2), "night-ops");
    assert_eq!(audit.get::<_, String>(3), "downtime-paper");
    assert_eq!(audit.get::<_, i64>(1), 1);
    assert!(audit.get::<_, i64>(4) >= 2, "lines are the file's own");

    // the same file again: nothing applied twice
    let again = apply(&[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    let t = again.json();
    assert_eq!(
        (
            t["applied"].as_u64().unwrap(),
            t["duplicate"].as_u64().unwrap()
        ),
        (0, filled)
    );
    let notes: i64 = c
        .query_one(
            "SELECT count(*) FROM agency.visit_notes WHERE body LIKE 'SYNTH paper note%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(notes as u64, filled);
}

/// Attendance for `n` of yesterday's visits and one note each, as two files.
async fn big_batch(db: &TestDb, dir: &Path, day: NaiveDate, n: i64) -> (PathBuf, PathBuf, i64) {
    let c = db.admin().await;
    let rows = c
        .query(
            "SELECT v.id, v.scheduled_start, v.scheduled_end, e.employee_number
             FROM agency.visits v JOIN agency.employees e ON e.id = v.employee_id
             WHERE (v.scheduled_start AT TIME ZONE 'America/Toronto')::date = $1 AND v.status = 'scheduled'
             ORDER BY v.id LIMIT $2",
            &[&day, &n],
        )
        .await
        .unwrap();
    let mut att = String::from("visit_id,clock_in,clock_out\n");
    let mut notes = String::from("visit_id,author,written_at,body\n");
    for r in &rows {
        let (id, start, end, who): (i64, DateTime<Utc>, DateTime<Utc>, String) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        att.push_str(&format!(
            "{id},{},{}\n",
            start.to_rfc3339(),
            end.to_rfc3339()
        ));
        notes.push_str(&format!(
            "{id},{who},{},SYNTH kill test note {id}\n",
            end.to_rfc3339()
        ));
    }
    let (a, b) = (dir.join("attendance.csv"), dir.join("notes.csv"));
    std::fs::write(&a, att).unwrap();
    std::fs::write(&b, notes).unwrap();
    (a, b, rows.len() as i64)
}

async fn ledger_count(c: &tokio_postgres::Client) -> i64 {
    c.query_one("SELECT count(*) FROM acc_replay.ledger", &[])
        .await
        .map(|r| r.get(0))
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_several_points_then_reruns_apply_every_entry_exactly_once() {
    let (_sb, db, day, dir, config) = outage("replay_kill").await;
    let (att, notes, n) = big_batch(&db, dir.path(), day, 2500).await;
    assert!(n >= 1500, "enough visits yesterday: {n}");
    let args = [
        "replay",
        "apply",
        "--profile",
        "t",
        "--operator",
        "kill-test",
        att.to_str().unwrap(),
        notes.to_str().unwrap(),
    ];
    let c = db.admin().await;

    // kill points: early (likely before any commit), after the first chunk, past the middle
    let mut seen = Vec::new();
    for at_least in [0, 1, n] {
        let mut child = acc_command(&config)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        if at_least == 0 {
            tokio::time::sleep(Duration::from_millis(150)).await;
        } else {
            while ledger_count(&c).await < at_least
                && child.try_wait().unwrap().is_none()
                && Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        let finished_first = child.try_wait().unwrap().is_some();
        child.kill().ok();
        child.wait().unwrap();
        let count = ledger_count(&c).await;
        seen.push((at_least, count, finished_first));
        // whatever the moment, the ledger holds exactly what was changed
        let notes: i64 = c
            .query_one(
                "SELECT count(*) FROM agency.visit_notes WHERE body LIKE 'SYNTH kill test note%'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        let clocked: i64 = c
            .query_one(
                "SELECT count(*) FROM agency.visits WHERE clock_in IS NOT NULL AND (scheduled_start AT TIME ZONE 'America/Toronto')::date = $1",
                &[&day],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(
            count,
            notes + clocked,
            "ledger rows match the changes after a kill: {seen:?}"
        );
    }
    assert!(
        seen.iter()
            .any(|(_, c, done)| *c > 0 && *c < 2 * n && !done),
        "a kill landed mid-batch: {seen:?}"
    );

    let run = acc(&config, &[&args[..], &["--json"]].concat());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let t = run.json();
    let before = seen.last().unwrap().1;
    assert_eq!(t["total"].as_i64().unwrap(), 2 * n);
    assert_eq!(
        t["applied"].as_i64().unwrap() + t["duplicate"].as_i64().unwrap(),
        2 * n
    );
    assert_eq!(
        t["duplicate"].as_i64().unwrap(),
        before,
        "what the killed runs committed is not applied again"
    );
    let notes: i64 = c
        .query_one(
            "SELECT count(*), count(DISTINCT visit_id) FROM agency.visit_notes WHERE body LIKE 'SYNTH kill test note%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(notes, n, "each note exactly once");
    assert_eq!(ledger_count(&c).await, 2 * n);

    // a finished batch rerun applies nothing
    let run = acc(&config, &[&args[..], &["--json"]].concat());
    let t = run.json();
    assert_eq!(
        (
            t["applied"].as_i64().unwrap(),
            t["duplicate"].as_i64().unwrap()
        ),
        (0, 2 * n)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daylight_saving_times_are_refused_or_resolved_in_both_regions() {
    let sb = Sandbox::require();
    let us = TestDb::clone_of(&sb, "demo_us", "replay_dst_us").await;
    let au = TestDb::clone_of(&sb, "demo_au", "replay_dst_au").await;
    // a visit across the US fall-back hour (01:00-01:59 happens twice on 2026-11-01 in Toronto),
    // and one across the Sydney spring-forward gap (02:00-02:59 never happens on 2026-10-04)
    us.admin()
        .await
        .batch_execute(
            "INSERT INTO agency.visits (id, client_id, employee_id, service_id, scheduled_start, scheduled_end)
             VALUES (9000001, 1, 5, 1, '2026-11-01 04:45+00', '2026-11-01 07:00+00')",
        )
        .await
        .unwrap();
    au.admin()
        .await
        .batch_execute(
            "INSERT INTO agency.visits (id, client_id, employee_id, service_id, scheduled_start, scheduled_end)
             VALUES (9000002, 1, 5, 1, '2026-10-03 15:30+00', '2026-10-03 17:30+00')",
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let us_dir = dir.path().join("us");
    let au_dir = dir.path().join("au");
    std::fs::create_dir_all(&us_dir).unwrap();
    std::fs::create_dir_all(&au_dir).unwrap();
    let us_config = sb.write_profile(&us_dir, &us.name, None, "");
    let au_config = sb.write_profile(&au_dir, &au.name, None, "");
    let text = std::fs::read_to_string(&au_config)
        .unwrap()
        .replace("region = \"us-can\"", "region = \"aus-int\"");
    std::fs::write(&au_config, text).unwrap();

    let file = |dir: &Path, body: &str| {
        let p = dir.join(format!("att-{}.csv", body.len()));
        std::fs::write(&p, format!("visit_id,clock_in,clock_out\n{body}\n")).unwrap();
        p.to_str().unwrap().to_string()
    };
    // fall-back: 01:30 twice in Toronto
    let twice = file(&us_dir, "9000001,01:30,02:45");
    let run = replay(&us_config, &["check", "--profile", "t", &twice]);
    assert_eq!(run.code, 65, "{}", run.stdout);
    assert!(
        run.stdout
            .contains(":2:2: 2026-11-01 01:30 occurs twice in America/Toronto"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("01:30-04:00") && run.stdout.contains("01:30-05:00"),
        "{}",
        run.stdout
    );
    let run = replay(
        &us_config,
        &["check", "--profile", "t", "--ambiguous", "later", &twice],
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    let with_offset = file(
        &us_dir,
        "9000001,2026-11-01 01:30-04:00,2026-11-01 01:10-05:00",
    );
    let run = apply(&us_config, &["--json"], &with_offset);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let (cin, cout): (DateTime<Utc>, DateTime<Utc>) = {
        let r = us
            .admin()
            .await
            .query_one(
                "SELECT clock_in, clock_out FROM agency.visits WHERE id = 9000001",
                &[],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(cin.to_rfc3339(), "2026-11-01T05:30:00+00:00");
    assert_eq!(
        (cout - cin).num_minutes(),
        40,
        "01:10 EST is 40 minutes after 01:30 EDT"
    );

    // spring-forward: 02:30 does not exist in Sydney on 2026-10-04
    let gap = file(&au_dir, "9000002,2026-10-04 02:30,2026-10-04 03:30");
    let run = replay(
        &au_config,
        &["check", "--profile", "t", "--ambiguous", "earlier", &gap],
    );
    assert_eq!(run.code, 65, "{}", run.stdout);
    assert!(
        run.stdout
            .contains(":2:2: 2026-10-04 02:30 does not exist in Australia/Sydney"),
        "{}",
        run.stdout
    );
    let fine = file(&au_dir, "9000002,2026-10-04 01:35,2026-10-04 03:20");
    let run = replay(&au_config, &["check", "--profile", "t", &fine]);
    assert_eq!(run.code, 0, "{}", run.stdout);
}
