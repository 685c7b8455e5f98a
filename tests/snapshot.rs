//! `acc snapshot` and `acc verify` against the sandbox's real production cluster: exact row
//! counts, consistency under concurrent writes, files the Debian age CLI reads, no plaintext on
//! disk, crash safety, the lock, an unreachable server, filters and signatures.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Sandbox, TestDb, acc, acc_command};

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap()
}

fn rows_of(m: &serde_json::Value, table: &str) -> u64 {
    m["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == table)
        .unwrap_or_else(|| panic!("{table} is not in the manifest"))["rows"]
        .as_u64()
        .unwrap()
}

/// A test's own clone of demo_us and a profile `t` on it, its store in a temporary directory.
async fn case(tag: &str) -> (Sandbox, TestDb, tempfile::TempDir, PathBuf) {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", tag).await;
    let tmp = tempfile::tempdir().unwrap();
    let config = sb.write_profile(tmp.path(), &db.name, None, "");
    (sb, db, tmp, config)
}

/// Takes a snapshot now and returns its directory.
fn snapshot_now(config: &Path) -> PathBuf {
    let run = acc(config, &["snapshot", "--profile", "t", "--now", "--json"]);
    assert_eq!(run.code, 0, "{run:?}");
    PathBuf::from(run.json()["path"].as_str().unwrap())
}

fn store_of(dir: &Path) -> PathBuf {
    dir.join("store").join("t")
}

/// Decrypts with the Debian age CLI and decompresses with the zstd CLI, in a pipe.
fn age_cli_plaintext(sb: &Sandbox, file: &Path) -> Vec<u8> {
    let age = Command::new("age")
        .args(["-d", "-i"])
        .arg(sb.path("ACC_AGE_IDENTITY"))
        .arg(file)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the age CLI is installed");
    let mut age = age;
    let out = Command::new("zstd")
        .args(["-d", "-c"])
        .stdin(age.stdout.take().unwrap())
        .output()
        .expect("the zstd CLI is installed");
    assert!(
        age.wait().unwrap().success(),
        "age -d failed on {}",
        file.display()
    );
    assert!(
        out.status.success(),
        "{} does not decrypt and decompress",
        file.display()
    );
    out.stdout
}

/// A table big enough that a snapshot takes a few seconds, to interrupt it.
async fn add_filler(db: &TestDb, rows: u32) {
    db.admin()
        .await
        .batch_execute(&format!(
            "CREATE TABLE agency.filler AS SELECT g AS id, md5(g::text) || repeat('x', 200) AS pad
             FROM generate_series(1, {rows}) g; ALTER TABLE agency.filler OWNER TO agency_owner"
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn row_counts_match_count_star_and_every_file_decrypts_with_the_age_cli() {
    let (sb, db, tmp, config) = case("counts").await;

    let run = acc(&config, &["snapshot", "--profile", "t", "--now", "--json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let summary = run.json();
    let dir = PathBuf::from(summary["path"].as_str().unwrap());
    assert!(
        summary["label"].as_str().unwrap().contains("-now-"),
        "{summary}"
    );
    let m = manifest(&dir);
    assert_eq!(
        summary["rows"],
        m["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["rows"].as_u64().unwrap())
            .sum::<u64>()
    );

    let admin = db.admin().await;
    let mut checked = 0;
    for t in m["tables"].as_array().unwrap() {
        let sql = format!(
            "SELECT count(*) FROM ONLY \"{}\".\"{}\"",
            t["schema"].as_str().unwrap(),
            t["name"].as_str().unwrap()
        );
        let count: i64 = admin.query_one(&sql, &[]).await.unwrap().get(0);
        assert_eq!(t["rows"].as_u64().unwrap(), count as u64, "{sql}");
        checked += 1;
    }
    assert!(
        checked >= 17,
        "every agency table and partition is in the snapshot"
    );
    assert!(
        rows_of(&m, "visit_tasks") > 100_000,
        "the seed is really there"
    );

    // every file decrypts outside acc, and holds what the manifest says
    let mut saw_marker = false;
    for t in m["tables"].as_array().unwrap() {
        for f in t["files"].as_array().unwrap() {
            let plain = age_cli_plaintext(&sb, &dir.join(f["name"].as_str().unwrap()));
            assert_eq!(plain.len() as u64, f["plaintext_bytes"].as_u64().unwrap());
            assert!(plain.starts_with(b"PGCOPY\n\xff\r\n\0"), "binary COPY data");
            saw_marker |= plain.windows(5).any(|w| w == b"SYNTH");
        }
    }
    assert!(
        saw_marker,
        "the decrypted data holds the synthetic-name marker"
    );
    for f in ["pre_data", "post_data"] {
        let name = m["schema"][f]["name"].as_str().unwrap();
        let plain = age_cli_plaintext(&sb, &dir.join(name));
        assert!(
            plain.starts_with(b"PGDMP"),
            "{name} is a pg_dump custom-format archive"
        );
    }

    // no plaintext at rest: the marker appears nowhere in the store
    let grep = Command::new("grep")
        .args(["-r", "-a", "-l", "SYNTH"])
        .arg(tmp.path().join("store"))
        .output()
        .unwrap();
    assert_eq!(
        grep.status.code(),
        Some(1),
        "grep found plaintext: {}",
        String::from_utf8_lossy(&grep.stdout)
    );

    let verify = acc(
        &config,
        &[
            "verify",
            "--profile",
            "t",
            "--identity",
            sb.var("ACC_AGE_IDENTITY"),
            "--json",
        ],
    );
    assert_eq!(verify.code, 0, "{verify:?}");
    assert_eq!(verify.json()["contents_checked"], true);
}

#[tokio::test]
async fn writes_committed_during_the_snapshot_are_absent_and_tables_agree() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "writes").await;
    let admin = db.admin().await;
    // the writer commits to both probes in one transaction: a consistent snapshot sees the
    // same number of probe rows in each, whichever worker copies which table, and when
    admin
        .batch_execute(
            "CREATE TABLE agency.probe_big AS SELECT g AS id, 'filler' AS kind, repeat('x', 300) AS pad
               FROM generate_series(1, 500000) g;
             CREATE TABLE agency.probe_small (id int, kind text);
             ALTER TABLE agency.probe_big OWNER TO agency_owner;
             ALTER TABLE agency.probe_small OWNER TO agency_owner",
        )
        .await
        .unwrap();
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {} SET idle_in_transaction_session_timeout = '100ms'",
            db.name
        ))
        .await
        .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, w) = (stop.clone(), db.admin().await);
        tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                i += 1;
                w.batch_execute(&format!(
                    "BEGIN; INSERT INTO agency.probe_big VALUES ({i}, 'probe', ''); INSERT INTO agency.probe_small VALUES ({i}, 'probe'); COMMIT"
                ))
                .await
                .unwrap();
            }
            i
        })
    };
    // watches the exporting session: it must outlive the idle timeout many times over
    let watcher = {
        let (stop, w, name) = (stop.clone(), db.admin().await, db.name.clone());
        tokio::spawn(async move {
            let (mut first, mut last) = (None, None);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let n: i64 = w
                    .query_one(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'acc snapshot'",
                        &[&name],
                    )
                    .await
                    .unwrap()
                    .get(0);
                if n > 0 {
                    first.get_or_insert_with(Instant::now);
                    last = Some(Instant::now());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            last.zip(first).map(|(l, f)| l - f)
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before: i64 = admin
        .query_one("SELECT count(*) FROM agency.probe_small", &[])
        .await
        .unwrap()
        .get(0);
    let tmp = tempfile::tempdir().unwrap();
    let config = sb.write_profile(tmp.path(), &db.name, None, "");
    let started = Instant::now();
    let run = tokio::task::spawn_blocking(move || {
        acc(
            &config,
            &[
                "snapshot",
                "--profile",
                "t",
                "--now",
                "--jobs",
                "2",
                "--json",
            ],
        )
    })
    .await
    .unwrap();
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.await.unwrap();
    let exporter_lived = watcher
        .await
        .unwrap()
        .expect("the exporting session was seen");
    assert_eq!(
        run.code, 0,
        "the run survives a 100ms idle-in-transaction timeout: {run:?}"
    );
    // without its own guard the server ends the idle exporter about 100ms after it goes idle
    assert!(
        exporter_lived >= Duration::from_millis(400),
        "the exporting session stays alive through the run ({took:?}), despite the timeout: {exporter_lived:?}"
    );

    let m = manifest(Path::new(run.json()["path"].as_str().unwrap()));
    let small = rows_of(&m, "probe_small");
    let big_probes = rows_of(&m, "probe_big") - 500_000;
    assert_eq!(
        big_probes, small,
        "both probes come from one consistent snapshot"
    );
    assert!(
        small >= before as u64,
        "rows committed before the run are in it ({small} < {before})"
    );
    assert!(
        small < written,
        "rows committed during the run are absent ({small} of {written})"
    );
}

#[tokio::test]
async fn a_flipped_byte_a_deleted_file_or_an_edited_manifest_fails_verify() {
    let (_sb, _db, _tmp, config) = case("tamper").await;
    let dir = snapshot_now(&config);
    let verify = || acc(&config, &["verify", "--profile", "t"]);
    assert_eq!(verify().code, 0);

    let m = manifest(&dir);
    let files: Vec<String> = m["tables"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| {
            t["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["name"].as_str().unwrap().to_string())
        })
        .chain([m["schema"]["post_data"]["name"]
            .as_str()
            .unwrap()
            .to_string()])
        .collect();
    // a byte in the middle of a data file, and one at the very end of a schema file
    for (name, at_end) in [(&files[3], false), (files.last().unwrap(), true)] {
        let path = dir.join(name);
        let original = std::fs::read(&path).unwrap();
        let mut bytes = original.clone();
        let i = if at_end {
            bytes.len() - 1
        } else {
            bytes.len() / 2
        };
        bytes[i] ^= 0x01;
        std::fs::write(&path, &bytes).unwrap();
        let r = verify();
        assert_eq!(r.code, 65, "{r:?}");
        assert!(r.stdout.contains(&format!("failed: {name}")), "{r:?}");
        std::fs::write(&path, original).unwrap();
    }
    assert_eq!(verify().code, 0, "restored files verify again");

    let (a, b) = (&files[0], &files[1]);
    let saved_a = std::fs::read(dir.join(a)).unwrap();
    std::fs::remove_file(dir.join(a)).unwrap();
    std::fs::remove_file(dir.join(b)).unwrap();
    let r = verify();
    assert_eq!(r.code, 65);
    assert!(
        r.stdout.contains(&format!("failed: {a}")) && r.stdout.contains(&format!("failed: {b}")),
        "every failing file is named: {r:?}"
    );
    assert!(r.stderr.contains("2 problem(s)"), "{r:?}");
    std::fs::write(dir.join(a), saved_a).unwrap();

    let text = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    std::fs::write(
        dir.join("manifest.json"),
        text.replacen("\"rows\": ", "\"rows\": 1", 1),
    )
    .unwrap();
    assert_eq!(verify().code, 65, "an edited manifest is refused");
}

/// Runs a snapshot and SIGKILLs it once `ready` holds for its partial directory.
fn kill_when(config: &Path, partial_root: &Path, ready: impl Fn(&Path) -> bool) -> bool {
    let mut child = acc_command(config)
        .args(["snapshot", "--profile", "t", "--now", "--jobs", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let partial = std::fs::read_dir(partial_root).ok().and_then(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .find(|p| p.to_string_lossy().ends_with(".partial"))
        });
        if partial.is_some_and(|p| ready(&p)) {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            return true;
        }
        if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn complete_snapshots(store: &Path) -> Vec<String> {
    std::fs::read_dir(store)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.') && !n.ends_with(".partial"))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn kill_9_at_any_point_leaves_no_snapshot_and_the_next_run_succeeds() {
    let (_sb, db, tmp, config) = case("kill").await;
    add_filler(&db, 1_500_000).await;
    let store = store_of(tmp.path());
    let files = |p: &Path| std::fs::read_dir(p).map(|rd| rd.count()).unwrap_or(0);
    type Ready = Box<dyn Fn(&Path) -> bool>;
    let points: [(&str, Ready); 3] = [
        ("as the directory appears", Box::new(|_| true)),
        ("after the first files", Box::new(move |p| files(p) >= 3)),
        ("after most files", Box::new(move |p| files(p) >= 15)),
    ];
    for (when, ready) in points {
        assert!(
            kill_when(&config, &store, ready),
            "the run ended before it could be killed {when}"
        );
        assert_eq!(
            complete_snapshots(&store),
            Vec::<String>::new(),
            "killed {when}"
        );
        let v = acc(&config, &["verify", "--profile", "t"]);
        assert_ne!(v.code, 0, "nothing verifies after a kill {when}");
    }
    let run = acc(&config, &["snapshot", "--profile", "t", "--now", "--json"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        !run.json()["removed_partials"]
            .as_array()
            .unwrap()
            .is_empty(),
        "the leftover was cleared"
    );
    let names = std::fs::read_dir(&store)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect::<Vec<_>>();
    assert!(names.iter().all(|n| !n.ends_with(".partial")), "{names:?}");
    assert_eq!(acc(&config, &["verify", "--profile", "t"]).code, 0);
}

#[tokio::test]
async fn a_second_run_exits_75_and_names_the_first() {
    let (_sb, db, tmp, config) = case("lock").await;
    add_filler(&db, 1_000_000).await;
    let mut first = acc_command(&config)
        .args(["snapshot", "--profile", "t", "--now"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lock = store_of(tmp.path()).join(".lock");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&lock)
        .unwrap_or_default()
        .contains("pid")
    {
        assert!(
            Instant::now() < deadline,
            "the first run never took the lock"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let second = acc(&config, &["snapshot", "--profile", "t", "--now"]);
    let still_running = first.try_wait().unwrap().is_none();
    assert_eq!(second.code, 75, "{second:?}");
    assert!(
        second.stderr.contains(&format!("pid {}", first.id())),
        "{second:?}"
    );
    assert!(
        still_running,
        "the first run held the lock while the second was refused"
    );
    assert!(first.wait().unwrap().success());
}

#[test]
fn production_down_gives_75_after_the_bounded_retry_and_leaves_nothing() {
    let sb = Sandbox::require();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let tmp = tempfile::tempdir().unwrap();
    let config = sb.write_profile(
        tmp.path(),
        "demo_us",
        Some(port),
        "[profiles.t.snapshot]\nretry_seconds = 3\n",
    );
    let t0 = Instant::now();
    let run = acc(&config, &["snapshot", "--profile", "t", "--now"]);
    let took = t0.elapsed();
    assert_eq!(run.code, 75, "{run:?}");
    assert!(run.stderr.contains("retrying"), "it retried: {run:?}");
    assert!(run.stderr.contains("safe to retry"), "{run:?}");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(20),
        "bounded retry, took {took:?}"
    );
    let left: Vec<_> = std::fs::read_dir(store_of(tmp.path()))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        left.iter().all(|n| n == ".lock"),
        "nothing that looks like a snapshot: {left:?}"
    );
}

#[tokio::test]
async fn filters_leave_tables_out_of_data_and_schema_and_the_manifest_says_so() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "filter").await;
    let tmp = tempfile::tempdir().unwrap();
    let config = sb.write_profile(
        tmp.path(),
        &db.name,
        None,
        "[profiles.t.snapshot]\nexclude_tables = [\"visit_*\"]\n",
    );
    let run = acc(
        &config,
        &[
            "snapshot",
            "--profile",
            "t",
            "--now",
            "--exclude-table",
            "agency.visits",
            "--json",
        ],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let dir = PathBuf::from(run.json()["path"].as_str().unwrap());
    let m = manifest(&dir);
    let names: Vec<&str> = m["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"clients"), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("visit")), "{names:?}");
    let excluded: Vec<&str> = m["excluded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for t in ["visit_notes", "visit_tasks", "visits", "visits_2026_11"] {
        assert!(
            excluded.contains(&t),
            "{t} is recorded as left out: {excluded:?}"
        );
    }
    assert_eq!(
        m["filters"]["exclude_tables"],
        serde_json::json!(["visit_*", "agency.visits"])
    );
    // the schema dump leaves them out too, so a restore is coherent
    let plain = age_cli_plaintext(
        &sb,
        &dir.join(m["schema"]["pre_data"]["name"].as_str().unwrap()),
    );
    let mut list = Command::new("pg_restore")
        .arg("-l")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut list.stdin.take().unwrap(), &plain).unwrap();
    let toc = String::from_utf8(list.wait_with_output().unwrap().stdout).unwrap();
    assert!(toc.contains("TABLE agency clients"), "{toc}");
    assert!(!toc.contains("TABLE agency visit_notes"), "{toc}");
}

#[tokio::test]
async fn signed_manifests_pass_ssh_keygen_and_unsigned_or_edited_ones_are_refused() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "sign").await;
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("signing_ed25519");
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "acc-test", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(ok.success());
    let public = std::fs::read_to_string(tmp.path().join("signing_ed25519.pub")).unwrap();
    let signers = tmp.path().join("allowed_signers");
    std::fs::write(&signers, format!("snapshots@agency.example {public}")).unwrap();
    let extra = format!(
        "[profiles.t.snapshot]\nsigning_key = \"{}\"\nallowed_signers = \"{}\"\nkeep = 2\n",
        key.display(),
        signers.display()
    );
    let config = sb.write_profile(tmp.path(), &db.name, None, &extra);
    let dir = snapshot_now(&config);

    // OpenSSH itself accepts the signature
    let manifest_file = std::fs::File::open(dir.join("manifest.json")).unwrap();
    let check = Command::new("ssh-keygen")
        .args([
            "-Y",
            "verify",
            "-n",
            "acc-snapshot",
            "-I",
            "snapshots@agency.example",
            "-f",
        ])
        .arg(&signers)
        .arg("-s")
        .arg(dir.join("manifest.json.sig"))
        .stdin(manifest_file)
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");
    let v = acc(&config, &["verify", "--profile", "t", "--json"]);
    assert_eq!(v.code, 0, "{v:?}");
    assert_eq!(v.json()["signed_by"], "snapshots@agency.example");

    let text = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    std::fs::write(
        dir.join("manifest.json"),
        text.replace("\"zstd\"", "\"zstd \""),
    )
    .unwrap();
    let v = acc(&config, &["verify", "--profile", "t"]);
    assert_eq!(
        v.code, 65,
        "an edited manifest no longer matches its signature: {v:?}"
    );
    std::fs::write(dir.join("manifest.json"), &text).unwrap();
    std::fs::remove_file(dir.join("manifest.json.sig")).unwrap();
    let v = acc(&config, &["verify", "--profile", "t"]);
    assert_eq!(v.code, 65, "{v:?}");
    assert!(v.stdout.contains("not signed"), "{v:?}");
}

#[tokio::test]
async fn keep_prunes_the_oldest_snapshots_after_a_success() {
    let (_sb, _db, tmp, config) = case("keep").await;
    // a directory an operator put in the store: not acc's, so never pruned
    let mut labels = Vec::new();
    let foreign = store_of(tmp.path()).join("2020-01-01-kept-by-hand");
    for _ in 0..3 {
        let run = acc(
            &config,
            &[
                "snapshot",
                "--profile",
                "t",
                "--now",
                "--keep",
                "2",
                "--json",
            ],
        );
        assert_eq!(run.code, 0, "{run:?}");
        labels.push(run.json()["label"].as_str().unwrap().to_string());
        if !foreign.exists() {
            std::fs::create_dir(&foreign).unwrap();
            std::fs::write(foreign.join("notes.txt"), "an operator's own file").unwrap();
        }
        std::thread::sleep(Duration::from_millis(1100)); // on-demand labels have one-second resolution
    }
    assert!(
        foreign.join("notes.txt").exists(),
        "a directory without acc's manifest is never pruned"
    );
    let mut left = complete_snapshots(&store_of(tmp.path()));
    left.retain(|n| n != "latest" && !n.starts_with("2020-01-01"));
    left.sort();
    assert_eq!(left, labels[1..].to_vec());
    assert_eq!(
        std::fs::read_link(store_of(tmp.path()).join("latest")).unwrap(),
        Path::new(&labels[2])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_probes_the_exporting_session_so_a_dead_snapshot_host_frees_its_locks() {
    let (sb, db, _tmp, config) = case("keepalive").await;
    let mut cmd = support::acc_command(&config);
    cmd.args(["snapshot", "--profile", "t", "--now"]);
    let (mut child, _stderr) = support::paused_at(&mut cmd, "snapshot:exported", None);
    let admin = sb.admin("ACC_PROD_URL", "postgres").await;
    let port: i32 = admin
        .query_one(
            "SELECT client_port FROM pg_stat_activity WHERE application_name = 'acc snapshot' AND datname = $1",
            &[&db.name],
        )
        .await
        .unwrap()
        .get(0);
    // the server's end of the exporter's connection: its keepalive timer, as the kernel sees
    // it (while bytes are in flight the kernel shows the retransmit timer instead: look again)
    let mut text = String::new();
    for _ in 0..50 {
        let out = std::process::Command::new("ss")
            .args(["-tnoH", "state", "established"])
            .arg(format!(
                "( sport = :{} and dport = :{port} )",
                sb.prod_port()
            ))
            .output()
            .unwrap();
        text = String::from_utf8_lossy(&out.stdout).to_string();
        if text.contains("timer:(keepalive,") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let timer = text
        .split("timer:(keepalive,")
        .nth(1)
        .unwrap_or_else(|| panic!("no keepalive timer on the exporter's socket: {text}"));
    // ss writes durations such as 59sec, 1min59sec, 119min or 500ms
    let (mut secs, mut number) = (0.0, String::new());
    let text_timer = timer.split(',').next().unwrap();
    let mut rest = text_timer;
    while !rest.is_empty() {
        let c = rest.chars().next().unwrap();
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            rest = &rest[1..];
            continue;
        }
        let (unit, scale) = [
            ("min", 60.0),
            ("sec", 1.0),
            ("ms", 0.001),
            ("h", 3600.0),
            ("d", 86400.0),
        ]
        .into_iter()
        .find(|(u, _)| rest.starts_with(u))
        .unwrap_or_else(|| panic!("unreadable timer {text_timer}"));
        secs += number.parse::<f64>().unwrap() * scale;
        number.clear();
        rest = &rest[unit.len()..];
    }
    assert!(
        secs <= 60.0,
        "the server probes the exporter after {secs} s of silence, not the kernel's 2 h: {text}"
    );
}
