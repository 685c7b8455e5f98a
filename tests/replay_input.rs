//! What replay does with input it cannot take: hostile files, a file apply cannot read, a
//! file with no entries, an infinite timestamp in production, and the spreadsheet guard on
//! the cells a rejects file re-emits.

mod support;

use chrono::{DateTime, Utc};
use support::replays::*;
use support::{Sandbox, TestDb, acc, age_decrypt};

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
    let run = apply(&config, &[], notes.to_str().unwrap());
    assert_ne!(run.code, 0, "the line is refused: {run:?}");
    let rejects = age_decrypt(&sb, &dir.path().join("notes.rejects.csv.age"));
    let text = String::from_utf8(rejects).unwrap();
    assert!(text.contains("\"'=HYPERLINK("), "{text}");
    assert!(
        !text.contains(",=HYPERLINK(") && !text.contains(",\"=HYPERLINK("),
        "{text}"
    );
}
