//! `acc sheets` and `acc replay` against the production cluster: sheets filled in and typed up
//! round-trip into production; kill -9 at several points and reruns apply everything exactly
//! once; conflicts are set aside; daylight-saving times; hostile files.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use support::{Run, Sandbox, TestDb, acc, acc_command, age_decrypt, day_file};

/// Yesterday's visits in the clone lose their clock times and task marks, as if the app had
/// been down: returns yesterday's local date.
async fn downtime(db: &TestDb, zone: &str) -> NaiveDate {
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
async fn outage(tag: &str) -> (Sandbox, TestDb, NaiveDate, tempfile::TempDir, PathBuf) {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", tag).await;
    let day = downtime(&db, "America/Toronto").await;
    let dir = tempfile::tempdir().unwrap();
    let config = sb.write_profile(dir.path(), &db.name, None, "");
    (sb, db, day, dir, config)
}

/// `2026-11-21 07:15:00-05` as PostgreSQL prints it.
fn pg_time(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_str(&format!("{s}00"), "%Y-%m-%d %H:%M:%S%z")
        .unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn replay(config: &Path, args: &[&str]) -> Run {
    let mut all = vec!["replay"];
    all.extend_from_slice(args);
    acc(config, &all)
}

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
async fn a_value_production_already_holds_is_a_conflict_and_never_overwritten_silently() {
    let (sb, db, day, dir, config) = outage("replay_conflict").await;
    let c = db.admin().await;
    let v = c
        .query_one(
            "SELECT id, scheduled_start, scheduled_end FROM agency.visits
             WHERE (scheduled_start AT TIME ZONE 'America/Toronto')::date = $1 AND status = 'scheduled' ORDER BY id LIMIT 1",
            &[&day],
        )
        .await
        .unwrap();
    let (id, start, end): (i64, DateTime<Utc>, DateTime<Utc>) = (v.get(0), v.get(1), v.get(2));
    // the mobile app's offline mode uploaded a clock-in after the outage
    let app = start + chrono::Duration::minutes(1);
    c.execute(
        "UPDATE agency.visits SET clock_in = $2 WHERE id = $1",
        &[&id, &app],
    )
    .await
    .unwrap();
    let paper = dir.path().join("att.csv");
    std::fs::write(
        &paper,
        format!(
            "visit_id,clock_in,clock_out\n{id},{},{}\n",
            (start + chrono::Duration::minutes(9)).to_rfc3339(),
            end.to_rfc3339()
        ),
    )
    .unwrap();
    let file = paper.to_str().unwrap();
    let run = replay(
        &config,
        &[
            "apply",
            "--profile",
            "t",
            "--operator",
            "ops",
            "--json",
            file,
        ],
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert_eq!(run.json()["conflict"], 1);
    let now: Option<DateTime<Utc>> = c
        .query_one("SELECT clock_in FROM agency.visits WHERE id = $1", &[&id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(now, Some(app), "production's value stands");
    let conflicts = age_decrypt(&sb, &dir.path().join("att.conflicts.csv.age"));
    let text = String::from_utf8(conflicts).unwrap();
    assert!(
        text.starts_with("visit_id,clock_in,clock_out,conflict\r\n")
            || text.starts_with("visit_id,clock_in,clock_out,conflict\n"),
        "{text}"
    );
    assert!(
        text.contains(&id.to_string()) && text.contains("production holds clock-in"),
        "{text}"
    );

    // the operator decides for paper: written, with production's value kept in the ledger
    let run = replay(
        &config,
        &[
            "apply",
            "--profile",
            "t",
            "--operator",
            "ops",
            "--prefer",
            "paper",
            "--json",
            file,
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["applied"], 1);
    let r = c
        .query_one(
            "SELECT outcome, before->>'clock_in' FROM acc_replay.ledger WHERE entry_key = $1",
            &[&format!("attendance/{id}")],
        )
        .await
        .unwrap();
    assert_eq!(r.get::<_, String>(0), "overwritten");
    assert!(r.get::<_, Option<String>>(1).is_some());
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
    let run = replay(
        &us_config,
        &[
            "apply",
            "--profile",
            "t",
            "--operator",
            "ops",
            "--json",
            &with_offset,
        ],
    );
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

#[test]
fn hostile_files_get_a_clear_reason_and_never_a_panic() {
    let sb = Sandbox::require();
    let dir = tempfile::tempdir().unwrap();
    let config = sb.write_profile(dir.path(), "demo_us", None, "");
    let big = "x".repeat(10 << 20);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "bom-crlf.csv",
            b"\xEF\xBB\xBFvisit_id,clock_in,clock_out\r\n999999999,08:00,09:00\r\n".to_vec(),
            ":2:1: visit 999999999 is not in production",
        ),
        (
            "ragged.csv",
            b"visit_id,clock_in,clock_out\n1,08:00\n".to_vec(),
            ":2:0: 2 fields where the header has 3",
        ),
        (
            "nul.csv",
            b"visit_id,author,written_at,body\n1,E000005,2026-11-01 08:00,a\0b\n".to_vec(),
            ":2:4: contains a NUL byte",
        ),
        (
            "huge.csv",
            format!("visit_id,author,written_at,body\n1,E000005,2026-11-01 08:00,{big}\n")
                .into_bytes(),
            ":2:4: a field of 10485760 bytes",
        ),
        (
            "latin1.csv",
            b"visit_id,author,written_at,body\n1,E000005,2026-11-01 08:00,caf\xE9\n".to_vec(),
            "not UTF-8 (byte 0xE9)",
        ),
        (
            "semicolon.csv",
            b"visit_id;clock_in;clock_out\n1;08:00;09:00\n".to_vec(),
            "looks ';'-separated",
        ),
        (
            "unknown.csv",
            b"visit_id,clock_in,clock_out,mood\n1,08:00,09:00,fine\n".to_vec(),
            ":1:4: unknown column 'mood'",
        ),
        (
            "missing.csv",
            b"visit_id,clock_in\n1,08:00\n".to_vec(),
            "needs a column 'clock_out'",
        ),
        (
            "badtime.csv",
            b"visit_id,clock_in,clock_out\n1,8h05,09:00\n".to_vec(),
            ":2:2: '8h05' is not a time",
        ),
        ("empty.csv", Vec::new(), "the file is empty"),
    ];
    for (name, bytes, says) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let run = replay(
            &config,
            &["check", "--profile", "t", path.to_str().unwrap()],
        );
        assert_eq!(run.code, 65, "{name}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stdout.contains(says),
            "{name}: expected '{says}' in {}",
            run.stdout
        );
        assert!(
            run.stdout.contains(&format!("{}:", path.display())),
            "{name}: the file is named"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_exits_65_on_a_file_it_cannot_read_as_check_does() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "unreadable").await;
    let dir = tempfile::tempdir().unwrap();
    let config = sb.write_profile(dir.path(), &db.name, None, "");
    let mut utf16 = vec![0xFF, 0xFE];
    for c in "visit_id,clock_in,clock_out\r\n1,08:00,09:00\r\n".encode_utf16() {
        utf16.extend(c.to_le_bytes());
    }
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "latin1.csv",
            b"visit_id,author,written_at,body\n1,E000005,2026-11-01 08:00,caf\xE9\n".to_vec(),
            "not UTF-8",
        ),
        ("empty.csv", Vec::new(), "the file is empty"),
        (
            "unknown-header.csv",
            b"when,who,what\n1,2,3\n".to_vec(),
            "cannot tell what this file holds",
        ),
        ("excel-unicode.txt", utf16, "the file is UTF-16"),
        (
            "twice.csv",
            b"visit_id,clock_in,Clock In,clock_out\n1,08:00,08:05,09:00\n".to_vec(),
            "names column 'clock_in' twice",
        ),
    ];
    for (name, bytes, says) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let run = replay(
            &config,
            &[
                "apply",
                "--profile",
                "t",
                "--operator",
                "tester",
                path.to_str().unwrap(),
            ],
        );
        assert_eq!(run.code, 65, "{name}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stdout.contains(says),
            "{name}: expected '{says}' in {}",
            run.stdout
        );
        assert!(
            run.stderr.contains("could not be read"),
            "{name}: {}",
            run.stderr
        );
    }
    let ledger: Option<String> = db
        .admin()
        .await
        .query_one("SELECT to_regclass('acc_replay.ledger')::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(ledger, None, "nothing was written");
}

/// A typed-up file with a header and no entries (or a sheet nobody filled in) is no batch: check
/// and apply say so; under `--require-entries`, as the runbook runs them, they exit 65.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_with_a_header_and_no_entries_is_named_and_refused_under_require_entries() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "no_entries").await;
    let dir = tempfile::tempdir().unwrap();
    let config = sb.write_profile(dir.path(), &db.name, None, "");
    let header = dir.path().join("header-only.csv");
    std::fs::write(&header, "visit_id,clock_in,clock_out\r\n").unwrap();
    let file = header.to_str().unwrap();
    for action in [
        vec!["check", "--profile", "t"],
        vec!["apply", "--profile", "t", "--operator", "tester"],
    ] {
        let warned = replay(&config, &[action.as_slice(), &[file]].concat());
        assert_eq!(warned.code, 0, "{warned:?}");
        assert!(
            warned.stderr.contains("header-only.csv: no entries"),
            "{}",
            warned.stderr
        );
        let refused = replay(
            &config,
            &[action.as_slice(), &["--require-entries", file]].concat(),
        );
        assert_eq!(refused.code, 65, "{refused:?}");
        assert!(
            refused.stderr.contains("header-only.csv: no entries"),
            "{}",
            refused.stderr
        );
    }
    let ledger: Option<String> = db
        .admin()
        .await
        .query_one("SELECT to_regclass('acc_replay.ledger')::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(ledger, None, "the refused apply wrote nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visit_moved_or_a_task_removed_after_the_check_is_a_conflict_not_applied() {
    let (_sb, db, day, dir, config) = outage("replay_vanish").await;
    let c = db.admin().await;
    let visits = c
        .query(
            "SELECT v.id, v.scheduled_start, v.scheduled_end, (SELECT min(t.id) FROM agency.visit_tasks t
                 WHERE t.visit_id = v.id AND t.visit_start = v.scheduled_start)
             FROM agency.visits v
             WHERE (v.scheduled_start AT TIME ZONE 'America/Toronto')::date = $1 AND v.status = 'scheduled'
               AND EXISTS (SELECT 1 FROM agency.visit_tasks t WHERE t.visit_id = v.id AND t.visit_start = v.scheduled_start)
             ORDER BY v.id LIMIT 3",
            &[&day],
        )
        .await
        .unwrap();
    let row = |i: usize| -> (i64, DateTime<Utc>, DateTime<Utc>, i64) {
        (
            visits[i].get(0),
            visits[i].get(1),
            visits[i].get(2),
            visits[i].get(3),
        )
    };
    let ((moved, m_start, m_end, _), (kept, k_start, k_end, _), (_, _, _, task)) =
        (row(0), row(1), row(2));
    let attendance = dir.path().join("attendance.csv");
    std::fs::write(
        &attendance,
        format!(
            "visit_id,clock_in,clock_out\n{moved},{},{}\n{kept},{},{}\n",
            m_start.to_rfc3339(),
            m_end.to_rfc3339(),
            k_start.to_rfc3339(),
            k_end.to_rfc3339()
        ),
    )
    .unwrap();
    let tasks = dir.path().join("tasks.csv");
    let task_visit: i64 = visits[2].get(0);
    std::fs::write(
        &tasks,
        format!("visit_id,task_id,done\n{task_visit},{task},yes\n"),
    )
    .unwrap();

    // apply stops after its check; production changes; then it goes on
    let resume = dir.path().join("resume");
    let mut cmd = support::acc_command(&config);
    cmd.args([
        "replay",
        "apply",
        "--profile",
        "t",
        "--operator",
        "ops",
        "--json",
    ])
    .arg(&attendance)
    .arg(&tasks)
    .stdout(std::process::Stdio::piped());
    let (child, _stderr) = support::paused_at(&mut cmd, "replay:checked", Some(&resume));
    c.batch_execute(&format!(
        "DELETE FROM agency.visit_tasks WHERE visit_id = {moved};
         DELETE FROM agency.visit_notes WHERE visit_id = {moved};
         UPDATE agency.visits SET scheduled_start = scheduled_start + interval '5 minutes',
                                  scheduled_end = scheduled_end + interval '5 minutes'
         WHERE id = {moved};
         DELETE FROM agency.visit_tasks WHERE id = {task};"
    ))
    .await
    .unwrap();
    std::fs::write(&resume, b"").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (report["applied"].as_u64(), report["conflict"].as_u64()),
        (Some(1), Some(2)),
        "{report}"
    );
    let why: Vec<String> = report["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["why"].as_str().unwrap().to_string())
        .collect();
    assert!(why.iter().any(|w| w.contains(&format!("visit {moved}")) && w.contains("no longer in production")), "{why:?}");
    assert!(
        why.iter()
            .any(|w| w.contains(&format!("task {task} is no longer in production"))),
        "{why:?}"
    );
    // the ledger records only what was written
    let keys: Vec<String> = c
        .query("SELECT entry_key FROM acc_replay.ledger ORDER BY 1", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(keys, vec![format!("attendance/{kept}")]);
    let clocked: Option<DateTime<Utc>> = c
        .query_one(
            "SELECT clock_in FROM agency.visits WHERE id = $1",
            &[&moved],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(clocked, None, "the moved visit was not written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_patient_text_reaches_the_output_or_the_logs_even_when_a_write_fails() {
    let (_sb, db, day, dir, config) = outage("replay_quiet").await;
    let c = db.admin().await;
    let r = c
        .query_one(
            "SELECT v.id, v.scheduled_end, e.employee_number, t.id FROM agency.visits v
             JOIN agency.employees e ON e.id = v.employee_id
             JOIN agency.visit_tasks t ON t.visit_id = v.id AND t.visit_start = v.scheduled_start
             WHERE (v.scheduled_start AT TIME ZONE 'America/Toronto')::date = $1 AND v.status = 'scheduled'
             ORDER BY v.id, t.id LIMIT 1",
            &[&day],
        )
        .await
        .unwrap();
    let (visit, end, who, task): (i64, DateTime<Utc>, String, i64) =
        (r.get(0), r.get(1), r.get(2), r.get(3));
    c.execute(
        "UPDATE agency.visit_tasks SET comment = 'SYNTH production comment' WHERE id = $1",
        &[&task],
    )
    .await
    .unwrap();
    // a dry run lists the change without production's comment or the paper's
    let tasks = dir.path().join("tasks.csv");
    std::fs::write(
        &tasks,
        format!("visit_id,task_id,done,comment\n{visit},{task},yes,SYNTH paper comment\n"),
    )
    .unwrap();
    let run = replay(
        &config,
        &[
            "apply",
            "--profile",
            "t",
            "--operator",
            "ops",
            "--dry-run",
            tasks.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains(&format!("task/{task}")),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("SYNTH") && !run.stderr.contains("SYNTH"),
        "{run:?}"
    );

    // a write the server refuses: its DETAIL quotes the failing row, which must not be printed
    c.batch_execute(
        "ALTER TABLE agency.visit_notes ADD CONSTRAINT test_refuses_forbidden CHECK (body NOT LIKE '%FORBIDDEN%') NOT VALID",
    )
    .await
    .unwrap();
    let notes = dir.path().join("notes.csv");
    std::fs::write(
        &notes,
        format!(
            "visit_id,author,written_at,body\n{visit},{who},{},SYNTH FORBIDDEN note\n",
            end.to_rfc3339()
        ),
    )
    .unwrap();
    for format in ["text", "json"] {
        let run = replay(
            &config,
            &[
                "apply",
                "--profile",
                "t",
                "--operator",
                "ops",
                notes.to_str().unwrap(),
            ],
        );
        let run = if format == "json" {
            acc(
                &config,
                &[
                    "--log-format",
                    "json",
                    "replay",
                    "apply",
                    "--profile",
                    "t",
                    "--operator",
                    "ops",
                    notes.to_str().unwrap(),
                ],
            )
        } else {
            run
        };
        assert_ne!(run.code, 0, "{format}: {run:?}");
        assert!(
            run.stderr.contains("test_refuses_forbidden"),
            "{format}: the constraint is named: {}",
            run.stderr
        );
        assert!(
            !run.stdout.contains("SYNTH") && !run.stderr.contains("SYNTH"),
            "{format}: {run:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infinite_timestamp_in_production_is_a_clear_error_not_a_panic() {
    let (_sb, db, day, dir, config) = outage("replay_infinity").await;
    let c = db.admin().await;
    let r = c
        .query_one(
            "SELECT id, scheduled_start, scheduled_end FROM agency.visits
             WHERE (scheduled_start AT TIME ZONE 'America/Toronto')::date = $1 AND status = 'scheduled'
             ORDER BY id LIMIT 1",
            &[&day],
        )
        .await
        .unwrap();
    let (id, start, end): (i64, DateTime<Utc>, DateTime<Utc>) = (r.get(0), r.get(1), r.get(2));
    // a schema nobody here wrote: an app that marks "never" with infinity
    c.execute(
        "UPDATE agency.visits SET clock_out = 'infinity' WHERE id = $1",
        &[&id],
    )
    .await
    .unwrap();
    let paper = dir.path().join("att.csv");
    std::fs::write(
        &paper,
        format!(
            "visit_id,clock_in,clock_out\n{id},{},{}\n",
            start.to_rfc3339(),
            end.to_rfc3339()
        ),
    )
    .unwrap();
    for action in ["check", "apply"] {
        let mut args = vec!["replay", action, "--profile", "t"];
        if action == "apply" {
            args.extend(["--operator", "ops"]);
        }
        args.push(paper.to_str().unwrap());
        let run = acc(&config, &args);
        assert_eq!(run.code, 65, "{action}: {run:?}");
        assert!(
            run.stderr
                .contains(&format!("clock_out of visit {id} cannot be read")),
            "{action}: {}",
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{action}: {}", run.stderr);
    }
}

/// A line refused by replay goes back to a person in its rejects file, to open in a
/// spreadsheet and fix: a cell that would run as a formula there keeps its guard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejects_file_keeps_the_spreadsheet_guard_on_the_cells_it_re_emits() {
    let (sb, _db, day, dir, config) = outage("replay_guard").await;
    let notes = dir.path().join("notes.csv");
    std::fs::write(
        &notes,
        format!(
            "visit_id,author,written_at,body\n999999999,E000005,{day} 09:00,\"'=HYPERLINK(\"\"http://example.invalid\"\",\"\"SYNTH\"\")\"\n"
        ),
    )
    .unwrap();
    let run = replay(
        &config,
        &[
            "apply",
            "--profile",
            "t",
            "--operator",
            "ops",
            notes.to_str().unwrap(),
        ],
    );
    assert_ne!(run.code, 0, "the line is refused: {run:?}");
    let rejects = age_decrypt(&sb, &dir.path().join("notes.rejects.csv.age"));
    let text = String::from_utf8(rejects).unwrap();
    assert!(text.contains("\"'=HYPERLINK("), "{text}");
    assert!(
        !text.contains(",=HYPERLINK(") && !text.contains(",\"=HYPERLINK("),
        "{text}"
    );
}
