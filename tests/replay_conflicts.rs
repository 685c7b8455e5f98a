//! Replay never overwrites what production already holds: a value that differs, a visit
//! moved or a task removed after the check are conflicts set aside, and no patient text
//! reaches the output or the logs, even when a write fails.

mod support;

use chrono::{DateTime, Utc};
use support::replays::*;
use support::{acc, age_decrypt};

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
    let run = apply(&config, &["--json"], file);
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
    let run = apply(&config, &["--prefer", "paper", "--json"], file);
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
    let run = apply(&config, &["--dry-run"], tasks.to_str().unwrap());
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
        let run = apply(&config, &[], notes.to_str().unwrap());
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
