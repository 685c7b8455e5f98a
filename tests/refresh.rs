//! `acc refresh` and `acc restore --follow`: the restore loads a snapshot while it is still
//! being taken, swaps only once it is published and signed, and drops what it loaded when the
//! snapshot fails or is killed; kill -9 at each stage leaves staging untouched and the next
//! refresh leaves it exact.

mod support;

use std::io::Read;
use std::time::{Duration, Instant};

use support::restores::*;
use support::{acc_command, paused_at};

/// The data files the incoming copy has recorded as loaded.
async fn loaded_files(s: &Setup) -> i64 {
    let incoming = format!("{}__incoming", s.staging.name);
    let Some(c) =
        support::try_connect(&format!("{}/{incoming}", s.sb.var("ACC_STAGING_URL"))).await
    else {
        return 0;
    };
    c.query_one(
        "SELECT count(*) FROM acc_resume.done WHERE step LIKE 'file:%'",
        &[],
    )
    .await
    .map(|r| r.get(0))
    .unwrap_or(0)
}

/// Waits until the incoming copy has loaded at least `n` files.
async fn until_loaded(s: &Setup, n: i64, why: &str) {
    let start = Instant::now();
    while loaded_files(s).await < n {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{why}: the restore never loaded {n} files"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn refresh_command(s: &Setup) -> std::process::Command {
    let mut cmd = acc_command(&s.config);
    cmd.env("TMPDIR", tmpdir_of(&s.config))
        .args(["refresh", "--profile", "t", "--now"]);
    cmd
}

/// The refresh loads every file while the snapshot has not yet written its manifest, then
/// swaps once it has; staging holds production exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_loads_while_the_snapshot_is_taken_and_swaps_once_it_is_published() {
    let s = setup("refresh", "").await;
    change_production(&s, 0).await;
    s.snapshot();
    let first = s.restore(&[]);
    assert_eq!(first.code, 0, "{first:?}");
    let before = s.staging_label().await;
    change_production(&s, 1).await;
    let resume = s._tmp.path().join("resume-refresh");
    let mut cmd = refresh_command(&s);
    // every file sealed, the manifest not yet written
    let (mut child, mut stderr) = paused_at(&mut cmd, "snapshot:files-sealed", Some(&resume));
    until_loaded(&s, 15, "before the manifest").await;
    assert_eq!(
        s.staging_label().await,
        before,
        "nothing is swapped before the snapshot is published"
    );
    std::fs::write(&resume, b"").unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{rest}");
    let label = s.staging_label().await;
    assert_ne!(label, before);
    assert!(
        s._tmp
            .path()
            .join("store/t")
            .join(&label)
            .join("manifest.json")
            .exists(),
        "the snapshot is published in the store"
    );
    assert!(
        !s._tmp
            .path()
            .join("store/t")
            .join(&label)
            .join("journal.jsonl")
            .exists(),
        "a published snapshot holds no journal"
    );
    assert_exact(&s, "a refresh").await;
    let verify = s.acc(&["verify", "--profile", "t", &label]);
    assert_eq!(verify.code, 0, "{verify:?}");
}

/// Kill -9 of a refresh at each stage: staging keeps its copy, and the next refresh (a new
/// snapshot, a fresh load) leaves it exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_killed_at_each_stage_leaves_staging_and_the_next_refresh_is_exact() {
    let s = setup("refreshkill", "").await;
    change_production(&s, 0).await;
    s.snapshot();
    let first = s.restore(&[]);
    assert_eq!(first.code, 0, "{first:?}");
    let points = [
        "snapshot:exported",
        "restore:pre-data",
        "restore:files-loaded:2",
        "snapshot:files-sealed",
        "restore:data-done",
        "restore:lock-down",
    ];
    for (round, point) in points.iter().enumerate() {
        let before = s.staging_label().await;
        change_production(&s, round + 1).await;
        let mut cmd = refresh_command(&s);
        let (mut child, _) = paused_at(&mut cmd, point, None);
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(
            s.staging_label().await,
            before,
            "{point}: staging is untouched"
        );
        std::thread::sleep(Duration::from_millis(1100)); // a new on-demand label
        let run = support::run(&mut refresh_command(&s));
        assert_eq!(run.code, 0, "{point}: {run:?}");
        assert_ne!(s.staging_label().await, before, "{point}");
        assert_exact(&s, point).await;
        let admin = s.staging.admin("postgres").await;
        assert_eq!(incoming_copies(&admin, &s.staging.name).await, 0, "{point}");
    }
}

/// `acc restore --follow` in its own process: a snapshot killed while it is followed fails the
/// restore (75) once its lock is free, the loaded copy is dropped, staging is untouched; a
/// journal changed under the restore fails it (65) before any swap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_followed_snapshot_that_dies_or_lies_fails_the_restore_and_staging_is_untouched() {
    let s = setup("follow", "").await;
    change_production(&s, 0).await;
    s.snapshot();
    let first = s.restore(&[]);
    assert_eq!(first.code, 0, "{first:?}");
    let before = s.staging_label().await;

    let nothing = s.restore(&["--follow"]);
    assert_eq!(nothing.code, 75, "{nothing:?}");
    assert!(
        nothing.stderr.contains("is being taken"),
        "{}",
        nothing.stderr
    );

    for lie in [false, true] {
        change_production(&s, 1).await;
        std::thread::sleep(Duration::from_millis(1100));
        let mut snap = acc_command(&s.config);
        snap.args(["snapshot", "--profile", "t", "--now"]);
        let (mut taking, _) = paused_at(&mut snap, "snapshot:files-sealed", None);
        let mut follow = acc_command(&s.config);
        follow
            .env("TMPDIR", tmpdir_of(&s.config))
            .args(["restore", "--profile", "t", "--follow"])
            .stderr(std::process::Stdio::piped());
        let mut following = follow.spawn().unwrap();
        until_loaded(&s, 15, "while followed").await;
        if lie {
            // another size for the first file the journal names: its chain breaks
            let store = s._tmp.path().join("store/t");
            let partial = std::fs::read_dir(&store)
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| p.to_string_lossy().ends_with(".partial"))
                .unwrap();
            let journal = partial.join("journal.jsonl");
            let text = std::fs::read_to_string(&journal).unwrap();
            let forged = text.replacen("\"size\":", "\"size\":1", 1);
            std::fs::write(&journal, forged).unwrap();
        } else {
            taking.kill().unwrap();
            taking.wait().unwrap();
        }
        let mut err = String::new();
        following
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let code = following.wait().unwrap().code();
        if lie {
            assert_eq!(code, Some(65), "{err}");
            assert!(err.contains("journal is broken"), "{err}");
            taking.kill().unwrap();
            taking.wait().unwrap();
        } else {
            assert_eq!(code, Some(75), "{err}");
            assert!(err.contains("ended without being published"), "{err}");
        }
        assert_eq!(
            s.staging_label().await,
            before,
            "lie {lie}: staging is untouched"
        );
        let admin = s.staging.admin("postgres").await;
        assert_eq!(
            incoming_copies(&admin, &s.staging.name).await,
            0,
            "lie {lie}: the loaded copy is dropped"
        );
    }
}

/// `acc restore --follow` finds a snapshot that died (its `.partial` left, no process taking
/// it): it fails at once with 75 and leaves alone the load a cut-short restore kept for its
/// resume, which the next plain restore then resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_snapshot_is_not_followed_and_a_kept_load_survives_it() {
    let s = setup("followdead", "").await;
    change_production(&s, 0).await;
    s.snapshot();
    let first = s.restore(&[]);
    assert_eq!(first.code, 0, "{first:?}");
    change_production(&s, 1).await;
    let cut = s.snapshot();
    restore_killed_at(&s.config, "restore:files-loaded:3");
    let admin = s.staging.admin("postgres").await;
    assert_eq!(incoming_copies(&admin, &s.staging.name).await, 1);

    std::thread::sleep(Duration::from_millis(1100));
    let mut snap = acc_command(&s.config);
    snap.args(["snapshot", "--profile", "t", "--now"]);
    let (mut taking, _) = paused_at(&mut snap, "snapshot:files-sealed", None);
    taking.kill().unwrap();
    taking.wait().unwrap();

    let started = Instant::now();
    let dead = s.restore(&["--follow"]);
    assert_eq!(dead.code, 75, "{dead:?}");
    assert!(
        dead.stderr.contains("ended without being published"),
        "{}",
        dead.stderr
    );
    assert!(
        !dead.stderr.contains("resuming"),
        "nothing was loaded for the dead snapshot: {}",
        dead.stderr
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(
        incoming_copies(&admin, &s.staging.name).await,
        1,
        "the kept load is still there"
    );
    let resumed = s.restore(&[]);
    assert_eq!(resumed.code, 0, "{resumed:?}");
    assert!(
        resumed.stderr.contains("already loaded"),
        "{}",
        resumed.stderr
    );
    assert_eq!(s.staging_label().await, cut);
    assert_exact(&s, "after the dead snapshot").await;
}

/// Where snapshots are signed, nothing of one may run before its signature is checked, and a
/// snapshot being taken has none yet: refresh and follow are refused (78) before any work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_profile_is_not_followed() {
    let signers = tempfile::tempdir().unwrap();
    let file = signers.path().join("allowed_signers");
    std::fs::write(&file, "ops@example.invalid ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGVkMjU1MTkgZmFrZSBrZXkgZm9yIHRlc3Rpbmcgb25seQ\n").unwrap();
    let extra = format!(
        "[profiles.t.snapshot]\nallowed_signers = \"{}\"\n",
        file.display()
    );
    let s = setup("followsigned", &extra).await;
    for args in [
        vec!["refresh", "--profile", "t", "--now"],
        vec!["restore", "--profile", "t", "--follow"],
    ] {
        let run = s.acc(&args);
        assert_eq!(run.code, 78, "{args:?}: {run:?}");
        assert!(
            run.stderr.contains("snapshot.allowed_signers"),
            "{args:?}: {}",
            run.stderr
        );
    }
    let store = s._tmp.path().join("store/t");
    let taken = std::fs::read_dir(&store)
        .map(|d| {
            d.filter(|e| e.as_ref().is_ok_and(|e| e.path().is_dir()))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(taken, 0, "no snapshot was taken");
}
