//! A restore cut short by kill -9 is resumed by the next run of the same snapshot, from what
//! the incoming database recorded in the transactions that loaded it; a new snapshot starts
//! over. Every rerun must leave staging exactly production's.

mod support;

use support::restores::*;

/// The data files of snapshot `label`, as its manifest lists them.
fn data_files(s: &Setup, label: &str) -> usize {
    let path = s
        ._tmp
        .path()
        .join("store/t")
        .join(label)
        .join("manifest.json");
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    m["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["files"].as_array().unwrap().len())
        .sum()
}

/// How many data files a resumed run said were already loaded, if it resumed.
fn already_loaded(stderr: &str) -> Option<usize> {
    let at = stderr.find(" data files already loaded")?;
    let head = &stderr[..at];
    let of = head.rfind(" of ")?;
    let n = head[..of].rsplit(' ').next()?;
    n.parse().ok()
}

/// Kill -9 at each step of a restore; each rerun resumes from what the killed run committed
/// (no data file loaded twice, a table's indexes kept), finishes, and leaves staging exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_killed_at_each_step_is_resumed_by_the_next_run_and_staging_is_exact() {
    let s = setup("resume", "").await;
    change_production(&s, 0).await;
    s.snapshot();
    let first = s.restore(&[]);
    assert_eq!(first.code, 0, "{first:?}");
    let probe = s.snapshot();
    let files = data_files(&s, &probe);
    assert!(files >= 15, "the agency has many tables: {files}");
    let most = files * 8 / 10;
    // (kill points, in order, for one snapshot; the fewest data files the rerun must find
    // already loaded; None: the rerun starts over)
    let plans: Vec<(Vec<String>, Option<usize>)> = vec![
        (vec!["restore:verified".into()], None),
        (vec!["restore:pre-data".into()], Some(0)),
        (vec!["restore:files-loaded:1".into()], Some(1)),
        (vec![format!("restore:files-loaded:{most}")], Some(most)),
        (vec!["restore:indexes-built:2".into()], Some(1)),
        (vec!["restore:table-indexes".into()], Some(1)),
        (vec!["restore:foreign key during data".into()], Some(1)),
        (vec!["restore:validate during data".into()], Some(1)),
        (vec!["restore:data-done".into()], Some(files)),
        (vec!["restore:post-data".into()], Some(files)),
        (vec!["restore:large-objects".into()], Some(files)),
        (
            vec!["restore:foreign key on partitions".into()],
            Some(files),
        ),
        (
            vec!["restore:key to a partitioned table during data".into()],
            Some(1),
        ),
        (vec![format!("restore:files-loaded:{files}")], Some(files)),
        (vec!["restore:lock-down".into()], Some(files)),
        // killed twice: the second run resumes the first's work and adds its own
        (
            vec![
                "restore:files-loaded:2".into(),
                "restore:files-loaded:2".into(),
            ],
            Some(4),
        ),
    ];
    for (round, (kills, expected)) in plans.iter().enumerate() {
        let why = kills.join(" then ");
        let before = s.staging_label().await;
        change_production(&s, round + 1).await;
        let label = s.snapshot();
        for point in kills {
            restore_killed_at(&s.config, point);
            assert_eq!(
                s.staging_label().await,
                before,
                "{why}: staging is untouched"
            );
        }
        let run = s.restore(&[]);
        assert_eq!(run.code, 0, "{why}: {run:?}");
        assert_eq!(s.staging_label().await, label, "{why}");
        match (expected, already_loaded(&run.stderr)) {
            (None, None) => {}
            (Some(least), Some(n)) => assert!(
                n >= *least && n <= files,
                "{why}: {n} files were already loaded, at least {least} expected: {}",
                run.stderr
            ),
            (e, n) => panic!(
                "{why}: expected {e:?} loaded, the rerun said {n:?}: {}",
                run.stderr
            ),
        }
        if kills[0] == "restore:indexes-built:2" {
            assert!(
                run.stderr.contains(" index builds kept"),
                "{why}: {}",
                run.stderr
            );
        }
        if ["restore:post-data", "restore:foreign key on partitions"].contains(&kills[0].as_str()) {
            assert!(
                run.stderr.contains("the rest of post-data kept"),
                "{why}: {}",
                run.stderr
            );
        }
        assert_exact(&s, &why).await;
        let admin = s.staging.admin("postgres").await;
        assert_eq!(incoming_copies(&admin, &s.staging.name).await, 0, "{why}");
    }
}

/// A cut-short restore of one snapshot is never resumed by a restore of another, nor one an
/// acc of another record format left: a fresh incoming database is made, the run says why,
/// and staging holds the new snapshot's data alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_snapshot_never_resumes_another_snapshots_load() {
    let s = setup("resumenew", "").await;
    change_production(&s, 0).await;
    s.snapshot();
    let first = s.restore(&[]);
    assert_eq!(first.code, 0, "{first:?}");
    change_production(&s, 1).await;
    let cut = s.snapshot();
    restore_killed_at(&s.config, "restore:files-loaded:3");
    let admin = s.staging.admin("postgres").await;
    assert_eq!(
        incoming_copies(&admin, &s.staging.name).await,
        1,
        "the killed run's load is kept for its resume"
    );
    let kept = s
        .staging
        .admin(&format!("{}__incoming", s.staging.name))
        .await;
    let recorded: String = kept
        .query_one("SELECT label FROM acc_resume_v2.snapshot", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(recorded, cut);
    let loaded: i64 = kept
        .query_one(
            "SELECT count(*) FROM acc_resume_v2.done WHERE step LIKE 'file:%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(loaded >= 3, "{loaded}");
    drop(kept);
    change_production(&s, 2).await;
    let next = s.snapshot();
    let run = s.restore(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        !run.stderr.contains("resuming")
            && run.stderr.contains(&format!("another snapshot ({cut})")),
        "another snapshot starts over, and says so: {}",
        run.stderr
    );
    assert_eq!(s.staging_label().await, next);
    assert_exact(&s, "after another snapshot").await;

    // the same label, taken again (a failed scheduled snapshot run again): another snapshot;
    // and a load an acc of the older record format left (schema acc_resume), never resumed
    // since it built keys as plain statements: each made again, and said so
    let cases = [
        (
            "UPDATE acc_resume_v2.snapshot SET wal_lsn = '0/1'",
            "holds a cut-short load of another snapshot",
            "the same label taken again",
        ),
        (
            "ALTER SCHEMA acc_resume_v2 RENAME TO acc_resume",
            "holds no load this acc can resume",
            "an older acc's load",
        ),
    ];
    for (round, (change, says, why)) in cases.into_iter().enumerate() {
        change_production(&s, 3 + round).await;
        let label = s.snapshot();
        restore_killed_at(&s.config, "restore:files-loaded:3");
        s.staging
            .admin(&format!("{}__incoming", s.staging.name))
            .await
            .batch_execute(change)
            .await
            .unwrap();
        let run = s.restore(&[]);
        assert_eq!(run.code, 0, "{why}: {run:?}");
        assert!(
            !run.stderr.contains("resuming") && run.stderr.contains(says),
            "{why}: starts over, and says so: {}",
            run.stderr
        );
        assert_eq!(s.staging_label().await, label, "{why}");
        assert_exact(&s, &format!("after {why}")).await;
    }
}
