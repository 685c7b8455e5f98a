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
        "SELECT count(*) FROM acc_resume_v2.done WHERE step LIKE 'file:%'",
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

/// `acc snapshot` paused at `point`, and `acc restore --follow` in its own process once it
/// has loaded 15 files of it.
async fn followed_at(s: &Setup, point: &str) -> (std::process::Child, std::process::Child) {
    std::thread::sleep(Duration::from_millis(1100));
    let mut snap = acc_command(&s.config);
    snap.args(["snapshot", "--profile", "t", "--now"]);
    let (taking, _) = paused_at(&mut snap, point, None);
    let mut follow = acc_command(&s.config);
    follow
        .env("TMPDIR", tmpdir_of(&s.config))
        .args(["restore", "--profile", "t", "--follow"])
        .stderr(std::process::Stdio::piped());
    let following = follow.spawn().unwrap();
    until_loaded(s, 15, "while followed").await;
    (taking, following)
}

/// `acc refresh` paused at a point until told to go on.
struct Paused {
    child: std::process::Child,
    stderr: std::io::BufReader<std::process::ChildStderr>,
    resume: std::path::PathBuf,
}

impl Paused {
    fn refresh(s: &Setup, point: &str) -> Paused {
        let resume = s
            ._tmp
            .path()
            .join(format!("resume-{}", point.replace(':', "-")));
        let (child, stderr) = paused_at(&mut refresh_command(s), point, Some(&resume));
        Paused {
            child,
            stderr,
            resume,
        }
    }

    /// Reads its stderr until a line holds `text`.
    fn until_said(&mut self, text: &str) {
        use std::io::BufRead;
        let mut line = String::new();
        while !line.contains(text) {
            line.clear();
            assert!(
                self.stderr.read_line(&mut line).unwrap() > 0,
                "acc ended before saying {text}"
            );
        }
    }

    /// Lets it go on; it must succeed.
    fn finishes(mut self) {
        std::fs::write(&self.resume, b"").unwrap();
        let mut rest = String::new();
        self.stderr.read_to_string(&mut rest).unwrap();
        assert_eq!(self.child.wait().unwrap().code(), Some(0), "{rest}");
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
    // every file sealed, the manifest not yet written
    let paused = Paused::refresh(&s, "snapshot:files-sealed");
    until_loaded(&s, 15, "before the manifest").await;
    assert_eq!(
        s.staging_label().await,
        before,
        "nothing is swapped before the snapshot is published"
    );
    paused.finishes();
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
        let (mut taking, mut following) = followed_at(&s, "snapshot:files-sealed").await;
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
    // acc status tells of the kept load, and what becomes of it
    let status = s.acc(&["status", "--profile", "t", "--json"]);
    let incoming = &status.json()[0]["incoming"];
    assert_eq!(incoming["label"], cut.as_str(), "{status:?}");
    assert_eq!(incoming["running"], false);
    assert!(incoming["files"].as_i64().unwrap() >= 3, "{incoming}");
    let text = s.acc(&["status", "--profile", "t"]);
    assert!(
        text.stdout.contains("kept by a cut-short restore") && text.stdout.contains("resumes it"),
        "{text:?}"
    );

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
    let status = s.acc(&["status", "--profile", "t", "--json"]);
    assert!(status.json()[0]["incoming"].is_null(), "{status:?}");
}

/// Where snapshots are signed, a follower runs nothing its signer did not write: the
/// journal is signed line by line, so a signed refresh loads while the snapshot is taken and
/// comes out exact; a journal signed by a key the profile does not trust is refused (65)
/// before anything is loaded; a profile that checks signatures but signs nothing is refused
/// (78) before any snapshot is taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_snapshot_is_followed_through_its_signed_journal_and_no_other() {
    let keys = tempfile::tempdir().unwrap();
    let (ours, theirs) = (keys.path().join("ours"), keys.path().join("theirs"));
    let public = support::exports::ssh_key(&ours);
    support::exports::ssh_key(&theirs);
    let signers = keys.path().join("allowed_signers");
    std::fs::write(&signers, format!("snapshots@agency.example {public}")).unwrap();
    let signing = |key: &std::path::Path| format!("signing_key = \"{}\"\n", key.display());
    let trust = format!("allowed_signers = \"{}\"\n", signers.display());
    let extra = format!("[profiles.t.snapshot]\n{}{trust}", signing(&ours));
    let s = setup("followsigned", &extra).await;
    change_production(&s, 0).await;
    s.snapshot();
    let first = s.restore(&[]);
    assert_eq!(first.code, 0, "{first:?}");
    let before = s.staging_label().await;
    let text = std::fs::read_to_string(&s.config).unwrap();
    let variant = |name: &str, text: String| {
        let path = s.config.with_file_name(name);
        std::fs::write(&path, text).unwrap();
        path
    };

    // checks signatures, signs nothing: refused before a snapshot is taken
    let unsigned = variant("unsigned.toml", text.replace(&signing(&ours), ""));
    let store = s._tmp.path().join("store/t");
    let dirs = || std::fs::read_dir(&store).unwrap().count();
    let taken = dirs();
    // signs with a key its own allowed_signers does not trust: refused the same way
    let mistrusted = variant(
        "mistrusted.toml",
        text.replace(&signing(&ours), &signing(&theirs)),
    );
    for (config, says) in [
        (&unsigned, "snapshot.signing_key"),
        (&mistrusted, "does not trust"),
    ] {
        let refused = support::run(
            acc_command(config)
                .env("TMPDIR", tmpdir_of(&s.config))
                .args(["refresh", "--profile", "t", "--now"]),
        );
        assert_eq!(refused.code, 78, "{refused:?}");
        assert!(refused.stderr.contains(says), "{}", refused.stderr);
        assert_eq!(dirs(), taken, "no snapshot was taken");
    }

    // a snapshot signed by a key the profile does not trust: refused before any load
    change_production(&s, 1).await;
    std::thread::sleep(Duration::from_millis(1100));
    let other = variant(
        "other.toml",
        text.replace(&signing(&ours), &signing(&theirs))
            .replace(&trust, ""),
    );
    let mut snap = acc_command(&other);
    snap.args(["snapshot", "--profile", "t", "--now"]);
    let (mut taking, _) = paused_at(&mut snap, "snapshot:files-sealed", None);
    let forged = s.restore(&["--follow"]);
    taking.kill().unwrap();
    taking.wait().unwrap();
    assert_eq!(forged.code, 65, "{forged:?}");
    assert!(
        forged.stderr.contains("not its signer's"),
        "{}",
        forged.stderr
    );
    assert_eq!(loaded_files(&s).await, 0, "nothing was loaded");
    assert!(
        !forged.stderr.contains("parts"),
        "the restore never began loading: {}",
        forged.stderr
    );
    let admin = s.staging.admin("postgres").await;
    assert_eq!(incoming_copies(&admin, &s.staging.name).await, 0);
    assert_eq!(s.staging_label().await, before, "staging is untouched");

    // signed as it is taken: followed, loaded before the manifest, exact
    change_production(&s, 2).await;
    std::thread::sleep(Duration::from_millis(1100));
    let paused = Paused::refresh(&s, "snapshot:files-sealed");
    until_loaded(&s, 15, "a signed snapshot before its manifest").await;
    assert_eq!(s.staging_label().await, before);
    paused.finishes();
    let label = s.staging_label().await;
    assert_ne!(label, before);
    assert_exact(&s, "a signed refresh").await;
    let verify = s.acc(&["verify", "--profile", "t", &label]);
    assert_eq!(verify.code, 0, "{verify:?}");
}

/// The pointer the bucket under `prefix` holds for profile `t`: the label it names.
fn pointed_label(s: &Setup, prefix: &str) -> String {
    let body = support::buckets::boto3(
        &s.sb,
        "print(s3.get_object(Bucket=bucket, Key=args[0])['Body'].read().decode())",
        &[&format!("{prefix}/t/latest.json")],
    );
    let pointer: serde_json::Value = serde_json::from_str(&body).unwrap();
    pointer["label"].as_str().unwrap().to_string()
}

/// With an object store, the refresh follows the capture in this host's cache: it loads while
/// the snapshot is still going up, swaps only once the bucket's pointer names it, and prunes
/// the bucket afterwards. `acc restore --follow` of a snapshot killed after its local publish
/// fails (75) once the killed run's lease has expired, and staging is untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_object_store_the_refresh_swaps_once_the_pointer_moves_and_prunes_the_bucket() {
    let s = setup("refreshs3", "[profiles.t.snapshot]\nkeep = 1\n").await;
    let prefix = support::buckets::prefix("refresh");
    let text = std::fs::read_to_string(&s.config).unwrap();
    let store = format!("store = \"{}\"", s._tmp.path().join("store").display());
    assert!(text.contains(&store), "{text}");
    let text = text.replace(
        &store,
        &format!(
            "store = \"s3://{}/{prefix}\"\ncache = \"{}\"",
            s.sb.var("ACC_S3_BUCKET"),
            s._tmp.path().join("cache").display()
        ),
    );
    let lease = 6;
    std::fs::write(
        &s.config,
        format!(
            "{text}\n[profiles.t.s3]\n{}\n",
            support::buckets::s3_section(&s.sb, lease)
        ),
    )
    .unwrap();
    change_production(&s, 0).await;
    let first = s.snapshot();
    let restored = s.restore(&[]);
    assert_eq!(restored.code, 0, "{restored:?}");
    let before = s.staging_label().await;
    assert_eq!(before, first);

    // loaded from the cache while the pointer has not moved; swapped once it has
    change_production(&s, 1).await;
    std::thread::sleep(Duration::from_millis(1100));
    let mut paused = Paused::refresh(&s, "objects:before-pointer");
    until_loaded(&s, 15, "before the pointer moved").await;
    // everything done but the swap, which waits for the pointer
    paused.until_said("the swap waits for");
    assert_eq!(pointed_label(&s, &prefix), first);
    assert_eq!(
        s.staging_label().await,
        before,
        "nothing is swapped before the bucket's pointer names the snapshot"
    );
    paused.finishes();
    let second = s.staging_label().await;
    assert_ne!(second, before);
    assert_eq!(pointed_label(&s, &prefix), second);
    assert_exact(&s, "a refresh through the bucket").await;

    // a snapshot killed after its local publish, before the pointer moved: the follower waits
    // out its lease, then fails, and staging keeps its copy
    change_production(&s, 2).await;
    let (mut taking, mut following) = followed_at(&s, "objects:before-pointer").await;
    taking.kill().unwrap();
    taking.wait().unwrap();
    let killed = Instant::now();
    let mut err = String::new();
    following
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(following.wait().unwrap().code(), Some(75), "{err}");
    assert!(err.contains("ended without being published"), "{err}");
    assert!(killed.elapsed() < Duration::from_secs(60), "{err}");
    assert_eq!(s.staging_label().await, second, "staging is untouched");
    let admin = s.staging.admin("postgres").await;
    assert_eq!(incoming_copies(&admin, &s.staging.name).await, 0);

    // once the dead run's lease is gone, a refresh publishes and keeps one snapshot and the
    // one before it in the bucket: the first is pruned
    let mut last = None;
    while killed.elapsed() < Duration::from_secs(lease * 5) {
        let run = s.acc(&["refresh", "--profile", "t", "--now"]);
        if run.code == 0 {
            last = Some(run);
            break;
        }
        assert_eq!(run.code, 75, "{run:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(last.is_some(), "the refresh ran once the lease expired");
    let third = s.staging_label().await;
    assert_eq!(pointed_label(&s, &prefix), third);
    assert_exact(&s, "the last refresh").await;
    let keys = support::buckets::bucket_keys(&s.sb, &format!("{prefix}/t/snapshots/"));
    assert!(
        !keys.iter().any(|k| k.contains(&format!("/{first}."))),
        "the first snapshot is pruned: {keys:?}"
    );
    assert!(
        keys.iter().any(|k| k.contains(&format!("/{second}."))),
        "the one the pointer named before is kept: {keys:?}"
    );
}
