//! Snapshots in the sandbox's S3-compatible object store (moto's server): two "hosts", each
//! with its own configuration file, cache, HOME and TMPDIR, sharing nothing but the bucket;
//! the lease that keeps two of them from running one profile's job at once, and its takeover
//! after a holder is killed.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use support::buckets::{bucket_keys, flip_a_byte, prefix, remove_object, s3_section};
use support::{
    ROWS_HASH, Run, Sandbox, StagingDb, TestDb, acc_command, files_under, paused_at, schema_dump,
};

/// One host: a directory with its configuration, cache, HOME and TMPDIR.
struct Host {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Host {
    /// A host whose profile `t` keeps snapshots in the bucket under `prefix`; `extra` adds
    /// sections (production, staging); `s3` the s3 section's lines.
    fn new(sb: &Sandbox, prefix: &str, s3: &str, extra: &str) -> Host {
        let dir = tempfile::tempdir().unwrap();
        for d in ["home", "tmp", "cache"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        let config = dir.path().join("acc.toml");
        std::fs::write(
            &config,
            format!(
                "[profiles.t]\nregion = \"us-can\"\nstore = \"s3://{bucket}/{prefix}\"\ncache = \"{cache}\"\n\
                 age_recipients = [\"{recipient}\"]\n\n[profiles.t.s3]\n{s3}\n\n{extra}\n",
                bucket = sb.var("ACC_S3_BUCKET"),
                cache = dir.path().join("cache").display(),
                recipient = sb.var("ACC_AGE_RECIPIENT"),
            ),
        )
        .unwrap();
        Host { dir, config }
    }

    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = acc_command(&self.config);
        cmd.env("HOME", self.dir.path().join("home"))
            .env("TMPDIR", self.dir.path().join("tmp"))
            .args(args);
        cmd
    }

    fn acc(&self, args: &[&str]) -> Run {
        support::run(&mut self.command(args))
    }

    fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }
}

/// The production section of `sb.write_profile`, for a database of the production cluster.
fn production_section(sb: &Sandbox, db: &str) -> String {
    format!(
        "[profiles.t.production]\n{}\n",
        sb.production_keys(db, sb.prod_port())
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_one_night_share_nothing_but_the_bucket_and_staging_comes_out_exact() {
    let sb = Sandbox::require();
    let prod = TestDb::clone_of(&sb, "demo_us", "s3_two_hosts").await;
    let staging = StagingDb::new(&sb, "s3_two_hosts");
    let prefix = prefix("two-hosts");
    let s3 = s3_section(&sb, 60);
    // near production: it snapshots; near staging: it restores
    let a = Host::new(&sb, &prefix, &s3, &production_section(&sb, &prod.name));
    let b = Host::new(&sb, &prefix, &s3, &staging.sections(&sb));

    let nothing = b.acc(&["restore", "--profile", "t"]);
    assert_eq!(nothing.code, 78, "an empty bucket: {}", nothing.stderr);
    assert!(
        nothing.stderr.contains("holds no snapshot"),
        "{}",
        nothing.stderr
    );

    let snap = a.acc(&["snapshot", "--profile", "t", "--now", "--json"]);
    assert_eq!(snap.code, 0, "{}", snap.stderr);
    let label = snap.json()["label"].as_str().unwrap().to_string();

    let run = b.acc(&["restore", "--profile", "t", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["label"], label.as_str());

    // staging is production's: the schema, and every table's rows
    let prod_url = format!("{}/{}", sb.var("ACC_PROD_URL"), prod.name);
    let staging_url = format!("{}/{}", sb.var("ACC_STAGING_URL"), staging.name);
    assert_eq!(schema_dump(&prod_url), schema_dump(&staging_url));
    let (p, s) = (prod.admin().await, staging.admin(&staging.name).await);
    let tables: Vec<String> = p
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'agency' AND c.relkind = 'r' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(tables.len() >= 15, "{tables:?}");
    for t in &tables {
        let q = ROWS_HASH.replace("{}", t);
        let (x, y): (String, String) = (
            p.query_one(&q, &[]).await.unwrap().get(0),
            s.query_one(&q, &[]).await.unwrap().get(0),
        );
        assert_eq!(x, y, "{t}");
    }

    // the restoring host streamed every file from the bucket into COPY: nothing of the
    // snapshot on its disk, in its cache or its TMPDIR
    for dir in [b.cache(), b.dir.path().join("tmp")] {
        let kept: Vec<_> = files_under(&dir)
            .into_iter()
            .filter(|f| !f.to_string_lossy().contains(".lock"))
            .collect();
        assert!(kept.is_empty(), "{kept:?}");
    }
    assert!(a.cache().join("t").join(&label).is_dir());
    assert!(!a.dir.path().join("store").exists() && !b.dir.path().join("store").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_race_for_one_lease_exactly_one_runs_and_a_killed_holders_expires() {
    let sb = Sandbox::require();
    let prod = TestDb::clone_of(&sb, "demo_us", "s3_lease").await;
    let prefix = prefix("lease");
    let s3 = s3_section(&sb, 6);
    let production = production_section(&sb, &prod.name);
    let a = Host::new(&sb, &prefix, &s3, &production);
    let b = Host::new(&sb, &prefix, &s3, &production);

    // A holds the snapshot lease and stays inside it
    let mut cmd = a.command(&["snapshot", "--profile", "t", "--now"]);
    let (mut holder, _stderr) = paused_at(&mut cmd, "objects:leased", None);
    let refused = b.acc(&["snapshot", "--profile", "t", "--now"]);
    assert_eq!(refused.code, 75, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("holds the lease")
            && refused.stderr.contains("a snapshot of profile 't'"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains(&format!("pid {}", holder.id())),
        "names the holder: {}",
        refused.stderr
    );
    // the lease is renewed while A lives: past one and a half lease periods, B is still refused
    std::thread::sleep(Duration::from_secs(9));
    assert_eq!(b.acc(&["snapshot", "--profile", "t", "--now"]).code, 75);

    // kill -9: nobody releases the lease; it expires by itself and B takes over
    let killed = Instant::now();
    holder.kill().unwrap();
    holder.wait().unwrap();
    let mut taken = None;
    while killed.elapsed() < Duration::from_secs(30) {
        let run = b.acc(&["snapshot", "--profile", "t", "--now", "--json"]);
        if run.code == 0 {
            taken = Some(run);
            break;
        }
        assert_eq!(run.code, 75, "{}", run.stderr);
        std::thread::sleep(Duration::from_millis(500));
    }
    let run = taken.expect("B took over within 30 s");
    assert!(
        killed.elapsed() >= Duration::from_secs(2),
        "not before the killed holder's lease ran out"
    );
    assert!(
        run.stderr.contains("took over the expired lease"),
        "{}",
        run.stderr
    );
    // B released its lease at the end: A runs at once
    let again = a.acc(&["snapshot", "--profile", "t", "--now"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
}

#[test]
fn a_plain_http_endpoint_is_refused_unless_allowed_and_a_bad_url_is_named() {
    let sb = Sandbox::require();
    let prefix = prefix("http");
    let host = Host::new(
        &sb,
        &prefix,
        &format!(
            "endpoint = \"{}\"\npath_style = true",
            sb.var("ACC_S3_ENDPOINT")
        ),
        "",
    );
    let run = host.acc(&["restore", "--profile", "t"]);
    assert_eq!(run.code, 78, "{}", run.stderr);
    assert!(run.stderr.contains("allow_http"), "{}", run.stderr);

    let bad = Host::new(&sb, "", &s3_section(&sb, 60), "");
    let text = std::fs::read_to_string(&bad.config).unwrap().replace(
        &format!("s3://{}/", sb.var("ACC_S3_BUCKET")),
        "s3://Not_A_Bucket/",
    );
    std::fs::write(&bad.config, text).unwrap();
    let run = bad.acc(&["snapshot", "--profile", "t", "--now"]);
    assert_eq!(run.code, 78, "{}", run.stderr);
    assert!(
        run.stderr.contains("does not name a bucket"),
        "{}",
        run.stderr
    );
}

#[test]
fn doctor_lists_writes_and_reads_the_bucket_says_where_its_keys_come_from_and_fails_a_missing_one()
{
    let sb = Sandbox::require();
    let host = Host::new(&sb, &prefix("doctor"), &s3_section(&sb, 60), "");
    let line = |run: &Run| {
        run.stdout
            .lines()
            .find(|l| l.contains("object store"))
            .unwrap_or_else(|| panic!("an object store check: {}", run.stdout))
            .to_string()
    };
    let run = host.acc(&["doctor", "--profile", "t"]);
    let ok = line(&run);
    assert!(ok.contains(" ok "), "{}", run.stdout);
    assert!(
        ok.contains("keys from the environment (AWS_ACCESS_KEY_ID)")
            && ok.contains("(s3.endpoint)")
            && ok.contains("us-east-1 (AWS_REGION)"),
        "{ok}"
    );
    assert!(
        !run.stdout.contains(sb.var("AWS_SECRET_ACCESS_KEY")),
        "no secret in the output"
    );

    let text = std::fs::read_to_string(&host.config).unwrap().replace(
        &format!("s3://{}/", sb.var("ACC_S3_BUCKET")),
        "s3://acc-no-such-bucket/",
    );
    std::fs::write(&host.config, text).unwrap();
    let run = host.acc(&["doctor", "--profile", "t"]);
    assert_ne!(run.code, 0);
    let failed = line(&run);
    assert!(
        !failed.contains(" ok ") && failed.contains("acc-no-such-bucket"),
        "{failed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_killed_at_each_step_of_its_publish_leaves_the_previous_one_what_readers_get() {
    let sb = Sandbox::require();
    let prod = TestDb::clone_of(&sb, "demo_us", "s3_kill").await;
    let staging = StagingDb::new(&sb, "s3_kill");
    let prefix = prefix("kill");
    let s3 = s3_section(&sb, 5);
    let a = Host::new(
        &sb,
        &prefix,
        &s3,
        &format!(
            "{}\n[profiles.t.snapshot]\nkeep = 1\n",
            production_section(&sb, &prod.name)
        ),
    );
    let b = Host::new(&sb, &prefix, &s3, &staging.sections(&sb));
    let first = a.acc(&["snapshot", "--profile", "t", "--now", "--json"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let first = first.json()["label"].as_str().unwrap().to_string();

    // a snapshot that retries until the killed holder's lease has expired
    let snapshot_when_free = |host: &Host| {
        let start = Instant::now();
        loop {
            let run = host.acc(&["snapshot", "--profile", "t", "--now", "--json"]);
            if run.code != 75 || start.elapsed() > Duration::from_secs(30) {
                return run;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    };
    // the data files of the run whose prefix names `pid`, and whether its manifest is there
    let sent_by = |pid: u32| {
        let keys = bucket_keys(&sb, &format!("{prefix}/t/snapshots/"));
        let mine: Vec<String> = keys
            .into_iter()
            .filter(|k| k.contains(&format!("-{pid}-")))
            .collect();
        let data = mine.iter().filter(|k| k.ends_with(".copy.zst.age")).count();
        (data, mine.iter().any(|k| k.ends_with("/manifest.json")))
    };
    let first_files = bucket_keys(&sb, &format!("{prefix}/t/snapshots/"))
        .iter()
        .filter(|k| k.ends_with(".copy.zst.age"))
        .count();
    for point in [
        "objects:leased",
        "objects:file-uploaded",
        "snapshot:files-sealed",
        "objects:before-pointer",
    ] {
        // the killed run before this one holds the lease until it expires (5 s)
        std::thread::sleep(Duration::from_secs(8));
        let mut cmd = a.command(&["snapshot", "--profile", "t", "--now"]);
        let (mut child, _) = paused_at(&mut cmd, point, None);
        if point == "snapshot:files-sealed" {
            // each data file went up as it was sealed: all are there before the capture has
            // written its manifest
            let start = Instant::now();
            let mut sent = sent_by(child.id());
            while sent.0 < first_files && start.elapsed() < Duration::from_secs(20) {
                std::thread::sleep(Duration::from_millis(200));
                sent = sent_by(child.id());
            }
            assert_eq!(sent, (first_files, false), "sent while capturing");
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // readers follow the pointer: still the first snapshot, whole
        let run = b.acc(&["restore", "--profile", "t", "--json", "--force"]);
        assert_eq!(run.code, 0, "{point}: {}", run.stderr);
        assert_eq!(run.json()["label"], first.as_str(), "{point}");
    }
    let keys = bucket_keys(&sb, &format!("{prefix}/t/snapshots/"));
    let dirs: std::collections::BTreeSet<&str> = keys
        .iter()
        .filter_map(|k| k.split('/').rev().nth(1))
        .collect();
    assert!(
        dirs.len() >= 3,
        "the killed runs left unfinished snapshots: {dirs:?}"
    );

    // the next snapshot waits out the dead holder's lease, publishes, and prunes everything the
    // killed runs left
    std::thread::sleep(Duration::from_millis(1100));
    let run = snapshot_when_free(&a);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let last = run.json()["label"].as_str().unwrap().to_string();
    let keys = bucket_keys(&sb, &format!("{prefix}/t/snapshots/"));
    let dirs: std::collections::BTreeSet<&str> = keys
        .iter()
        .filter_map(|k| k.split('/').rev().nth(1))
        .collect();
    // keep = 1 keeps the pointer's and the one it named before (the first), whole
    assert_eq!(dirs.len(), 2, "{dirs:?}");
    assert!(
        dirs.iter().any(|d| d.starts_with(&format!("{last}."))),
        "{dirs:?}"
    );
    assert!(
        dirs.iter().any(|d| d.starts_with(&format!("{first}."))),
        "{dirs:?}"
    );
    let run = b.acc(&["restore", "--profile", "t", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["label"], last.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_writes_are_contested_and_exactly_one_of_two_racing_leases_is_taken() {
    use acc::objects::{Bucket, Lease, bucket::Lost};
    let sb = Sandbox::require();
    let config = sb.config();
    let profile = config
        .profile(Some("demo-us"), acc::config::RawProfile::default())
        .unwrap();
    let url = acc::location::S3Url {
        bucket: sb.var("ACC_S3_BUCKET").to_string(),
        prefix: prefix("conditional"),
    };
    let bucket = std::sync::Arc::new(Bucket::open(&url, &profile.s3, config.env()).unwrap());
    let first = bucket.put_if("k", b"one".to_vec(), None).await.unwrap();
    let etag = first.expect("the first create-only write is taken");
    assert_eq!(
        bucket.put_if("k", b"two".to_vec(), None).await.unwrap(),
        Err(Lost),
        "a second create-only write is refused"
    );
    let moved = bucket
        .put_if("k", b"three".to_vec(), etag.clone())
        .await
        .unwrap()
        .expect("replace-if-unchanged with the current ETag");
    assert_ne!(moved, etag);
    assert_eq!(
        bucket.put_if("k", b"four".to_vec(), etag).await.unwrap(),
        Err(Lost),
        "a stale ETag is refused"
    );
    assert_eq!(&bucket.get("k").await.unwrap().unwrap().0[..], b"three");

    // two runs race for one lease at the same moment: exactly one holds it
    let ttl = Duration::from_secs(30);
    let (a, b) = tokio::join!(
        Lease::take(bucket.clone(), "lease.json", "a race", ttl),
        Lease::take(bucket.clone(), "lease.json", "a race", ttl)
    );
    assert!(
        a.is_ok() != b.is_ok(),
        "exactly one: {:?} {:?}",
        a.as_ref().err().map(|e| e.message().to_string()),
        b.as_ref().err().map(|e| e.message().to_string())
    );
    let (held, refused) = if a.is_ok() { (a, b) } else { (b, a) };
    assert_eq!(refused.err().unwrap().exit_code(), 75);
    let held = held.unwrap();
    held.check().await.unwrap();
    held.release().await;
    let again = Lease::take(bucket.clone(), "lease.json", "a race", ttl)
        .await
        .unwrap();
    again.release().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_restore_refuses_a_file_changed_or_gone_in_the_bucket_and_staging_keeps_its_copy()
 {
    let sb = Sandbox::require();
    let prod = TestDb::clone_of(&sb, "demo_us", "s3_tamper").await;
    let staging = StagingDb::new(&sb, "s3_tamper");
    let prefix = prefix("tamper");
    let s3 = s3_section(&sb, 30);
    let a = Host::new(&sb, &prefix, &s3, &production_section(&sb, &prod.name));
    let b = Host::new(&sb, &prefix, &s3, &staging.sections(&sb));
    let label_of = |run: &Run| run.json()["label"].as_str().unwrap().to_string();
    let first = a.acc(&["snapshot", "--profile", "t", "--now", "--json"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let run = b.acc(&["restore", "--profile", "t", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let restored = label_of(&run);

    // the next snapshot is published, then one of its data files is changed in the bucket,
    // keeping its size: only the SHA-256 computed while it streams into COPY can tell
    std::thread::sleep(Duration::from_millis(1100));
    let second = a.acc(&["snapshot", "--profile", "t", "--now", "--json"]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    let keys = bucket_keys(&sb, &format!("{prefix}/t/snapshots/"));
    let data = |keys: &[String]| -> String {
        keys.iter()
            .filter(|k| k.contains(&format!("/{}.", label_of(&second))))
            .find(|k| k.ends_with(".copy.zst.age"))
            .cloned()
            .unwrap_or_else(|| panic!("no data file: {keys:?}"))
    };
    let changed = data(&keys);
    flip_a_byte(&sb, &changed);
    let run = b.acc(&["restore", "--profile", "t", "--json"]);
    assert_eq!(run.code, 65, "{}", run.stderr);
    assert!(
        run.stderr.contains("does not match its manifest entry") && run.stderr.contains("s3://"),
        "{}",
        run.stderr
    );
    let c = staging.admin(&staging.name).await;
    let label: String = c
        .query_one("SELECT label FROM acc.staging_info", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(label, restored, "staging kept its copy");

    // a file gone (pruned under the restore, say): named, safe to retry, staging untouched
    remove_object(&sb, &changed);
    let run = b.acc(&["restore", "--profile", "t", "--json"]);
    assert_eq!(run.code, 75, "{}", run.stderr);
    assert!(run.stderr.contains("is not in s3://"), "{}", run.stderr);
    let label: String = c
        .query_one("SELECT label FROM acc.staging_info", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(label, restored, "staging kept its copy");

    // a whole snapshot published after it restores
    drop(c); // a superuser's session would keep the swap waiting
    std::thread::sleep(Duration::from_millis(1100));
    let third = a.acc(&["snapshot", "--profile", "t", "--now", "--json"]);
    assert_eq!(third.code, 0, "{}", third.stderr);
    let run = b.acc(&["restore", "--profile", "t", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(label_of(&run), label_of(&third));
}
