//! `acc restore` against the sandbox's two real clusters: fidelity, atomic swaps under a
//! reading client, crash safety, rollback, targets and the guards.

mod support;

use std::process::Stdio;
use std::time::Duration;

use support::restores::*;
use support::{ROWS_HASH, Sandbox, StagingDb, acc, acc_command, schema_dump};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_staging_matches_production_schema_rows_and_sequences() {
    let s = setup("fidelity", "").await;
    // a materialized view over a plain view over the seed's materialized view, and one that
    // production never populated. Staging refreshes from the snapshot's rows, so production's
    // views are refreshed first (other tests' writes may have left the seed's one stale)
    s.prod
        .admin()
        .await
        .batch_execute(
            "REFRESH MATERIALIZED VIEW agency.client_visit_summary;
             CREATE VIEW agency.busy_clients AS
                 SELECT * FROM agency.client_visit_summary WHERE completed_visits > 10;
             CREATE MATERIALIZED VIEW agency.busy_client_count AS
                 SELECT count(*) AS clients FROM agency.busy_clients;
             CREATE MATERIALIZED VIEW agency.never_refreshed AS SELECT 1 AS x WITH NO DATA;
             ALTER TABLE agency.client_allergies ADD CONSTRAINT allergies_client_unchecked
                 FOREIGN KEY (client_id) REFERENCES agency.clients NOT VALID;",
        )
        .await
        .unwrap();
    s.snapshot();
    let run = s.restore(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    let summary = run.json();
    assert_eq!(summary["database"], s.staging.name.as_str());
    assert_eq!(summary["late"], false);

    let prod_url = format!("{}/{}", s.sb.var("ACC_PROD_URL"), s.prod.name);
    let staging_url = format!("{}/{}", s.sb.var("ACC_STAGING_URL"), s.staging.name);
    assert_eq!(
        schema_dump(&prod_url),
        schema_dump(&staging_url),
        "the schemas agree"
    );

    let (p, st) = (s.prod.admin().await, s.staging.admin(&s.staging.name).await);
    // every foreign key, the branches <-> employees cycle included, is as valid as production's;
    // the one production never validated stays unvalidated
    let keys = "SELECT conrelid::regclass::text || '.' || conname || '=' || convalidated FROM pg_constraint
                WHERE contype = 'f' AND connamespace = 'agency'::regnamespace ORDER BY 1";
    let first_column =
        |rows: Vec<tokio_postgres::Row>| rows.iter().map(|r| r.get(0)).collect::<Vec<String>>();
    let (a, b) = (
        first_column(p.query(keys, &[]).await.unwrap()),
        first_column(st.query(keys, &[]).await.unwrap()),
    );
    assert!(a.len() >= 20, "{a:?}");
    assert_eq!(a, b, "foreign keys and their validity");
    assert!(
        b.iter()
            .any(|k| k.ends_with("allergies_client_unchecked=false")),
        "{b:?}"
    );
    assert!(
        b.iter()
            .any(|k| k.starts_with("agency.branches.") && k.ends_with("=true")),
        "{b:?}"
    );
    let tables = p
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind = 'r' AND n.nspname = 'agency' ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    assert!(tables.len() >= 17);
    let mut rows = 0u64;
    for t in tables {
        let name: String = t.get(0);
        let sql = ROWS_HASH.replace("{}", &name);
        let a: String = p.query_one(&sql, &[]).await.unwrap().get(0);
        let b: String = st.query_one(&sql, &[]).await.unwrap().get(0);
        assert_eq!(a, b, "rows of {name}");
        rows += a.split(':').next().unwrap().parse::<u64>().unwrap();
    }
    assert_eq!(summary["rows"].as_u64().unwrap(), rows);
    // every table has statistics before the first reader plans a query
    let unanalyzed = first_column(
        st.query(
            "SELECT s.relname::text FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
             WHERE s.schemaname = 'agency' AND c.relkind = 'r' AND s.last_analyze IS NULL
             ORDER BY 1",
            &[],
        )
        .await
        .unwrap(),
    );
    assert!(unanalyzed.is_empty(), "never analyzed: {unanalyzed:?}");
    let seq = "SELECT schemaname || '.' || sequencename || '=' || coalesce(last_value::text, 'null') FROM pg_sequences WHERE schemaname = 'agency'";
    let sorted = |rows: Vec<tokio_postgres::Row>| {
        let mut v: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        v.sort();
        v
    };
    let a = sorted(p.query(seq, &[]).await.unwrap());
    let b = sorted(st.query(seq, &[]).await.unwrap());
    assert!(a.len() >= 17, "{a:?}");
    assert_eq!(a, b, "sequences match");

    // every materialized view is as populated as in production, with the same rows
    let views = p
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname), c.relispopulated FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'm' ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(views.len(), 3);
    for v in views {
        let (name, populated): (String, bool) = (v.get(0), v.get(1));
        let there: bool = st
            .query_one(
                "SELECT relispopulated FROM pg_class WHERE oid = $1::text::regclass",
                &[&name],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(there, populated, "{name} populated");
        if populated {
            let sql = ROWS_HASH.replace("{}", &name).replace("FROM ONLY", "FROM");
            let a: String = p.query_one(&sql, &[]).await.unwrap().get(0);
            let b: String = st.query_one(&sql, &[]).await.unwrap().get(0);
            assert_eq!(a, b, "rows of {name}");
            assert_ne!(a, "0:", "{name} has rows");
        }
    }
    assert!(
        run.stderr.contains("materialized views"),
        "the step log shows the refresh: {}",
        run.stderr
    );
}

/// The data phase builds each table's keys and indexes as soon as its data is in; a kill
/// while one builds leaves staging as it was, and the next run leaves it whole and current.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_killed_while_a_tables_indexes_build_keeps_staging_and_the_next_run_succeeds() {
    // every index production has, and valid
    let indexes = "SELECT string_agg(c.relname || '=' || i.indisvalid, ',' ORDER BY c.relname)
                   FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                   JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'agency'";
    // killed while pg_restore's files are in its private directory
    killed_mid_data_then_rerun("indexkill", "restore:table-indexes", indexes, true).await;
}

/// A key to a partitioned table goes in validated during the data phase, once the parent's
/// key is built from its partitions'; a kill while it scans, other keys in but `NOT VALID`,
/// leaves staging as it was, and the next run leaves every key as valid as production's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_killed_while_its_foreign_keys_are_validated_keeps_staging_and_the_next_run_succeeds()
 {
    let keys =
        "SELECT string_agg(conrelid::regclass::text || '.' || conname || '=' || convalidated, ','
                    ORDER BY conrelid::regclass::text, conname)
                FROM pg_constraint WHERE contype = 'f' AND connamespace = 'agency'::regnamespace";
    // the keys to the partitioned visits go in validated once its partitions' keys and its
    // own are in, while other tables load
    let point = "restore:key to a partitioned table during data";
    killed_mid_data_then_rerun("validatekill", point, keys, true).await;
}

/// Kills a restore at `point` of its data phase: staging keeps its copy, the next run puts
/// the new one in, and `catalog` reads the same there as on production. `leaves_files`: the
/// kill comes while a private directory is in use, which the next run must clear.
async fn killed_mid_data_then_rerun(tag: &str, point: &str, catalog: &str, leaves_files: bool) {
    let s = setup(tag, "").await;
    let first = s.snapshot();
    assert_eq!(s.restore(&[]).code, 0);
    let second = s.snapshot();
    restore_killed_at(&s.config, point);
    assert_eq!(
        s.staging_label().await,
        first,
        "staging keeps the first copy"
    );
    assert_eq!(
        !private_dirs_left(&s.config).is_empty(),
        leaves_files,
        "a kill leaves its private files behind when it comes while they are in use"
    );
    let run = s.restore(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(s.staging_label().await, second);
    assert_eq!(
        private_dirs_left(&s.config),
        Vec::<String>::new(),
        "the next run clears what the killed one left, password files included"
    );
    let p: String = s
        .prod
        .admin()
        .await
        .query_one(catalog, &[])
        .await
        .unwrap()
        .get(0);
    let st: String = s
        .staging
        .admin(&s.staging.name)
        .await
        .query_one(catalog, &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(p, st);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swap_killed_at_any_step_leaves_staging_readable_and_current_after_one_restore() {
    let s = setup("swapkill", "").await;
    s.snapshot();
    assert_eq!(s.restore(&[]).code, 0);
    let (login, reader_url) = reader_login(&s, "swapreader").await;
    let staging_admin = s.staging.admin("postgres").await;
    let points = [
        format!("swap:closed:{}", s.staging.name),
        "swap:live-renamed".to_string(),
        "swap:incoming-renamed".to_string(),
        "swap:reopened".to_string(),
    ];
    for point in &points {
        let label = s.snapshot();
        restore_killed_at(&s.config, point);
        if point.starts_with("swap:closed") {
            // what the reader and the operator see before the repair
            assert!(
                support::try_connect(&reader_url).await.is_none(),
                "{point}: staging is dark"
            );
            let status = s.acc(&["status", "--profile", "t", "--json"]);
            assert!(
                status
                    .stdout
                    .contains("refuses new sessions after an interrupted swap")
                    && status.stdout.contains("ALLOW_CONNECTIONS true"),
                "{point}: status names the fix: {}",
                status.stdout
            );
        }
        let run = s.restore(&[]);
        assert_eq!(run.code, 0, "{point}: {run:?}");
        let reader = support::try_connect(&reader_url)
            .await
            .unwrap_or_else(|| panic!("{point}: the reader cannot log in after one restore"));
        let held: String = reader
            .query_one("SELECT label FROM acc.staging_info", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(held, label, "{point}: staging is current");
        let n: i64 = reader
            .query_one("SELECT count(*) FROM agency.client_visit_summary", &[])
            .await
            .unwrap()
            .get(0);
        assert!(n > 0, "{point}: the reader can query the materialized view");
        let leftovers: i64 = staging_admin
            .query_one(
                "SELECT count(*) FROM pg_database WHERE datname = $1 OR datname = $2 AND NOT datallowconn",
                &[&format!("{}__incoming", s.staging.name), &s.staging.name],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(
            leftovers, 0,
            "{point}: no incoming copy and nothing closed is left"
        );
    }
    let _ = staging_admin
        .batch_execute(&format!("DROP ROLE IF EXISTS {login}"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_see_the_old_copy_or_the_new_never_a_mixture_and_kill_9_keeps_the_old() {
    let s = setup("atomic", "").await;
    let first = s.snapshot();
    assert_eq!(s.restore(&[]).code, 0);
    // make the second snapshot different and bigger, so a mixture would show
    s.prod
        .admin()
        .await
        .batch_execute(
            "INSERT INTO agency.visit_notes (visit_id, visit_start, author_id, written_at, body)
             SELECT visit_id, visit_start, author_id, written_at, body || ' (again)' FROM agency.visit_notes;
             CREATE TABLE agency.filler AS SELECT g AS id, repeat('x', 300) AS pad FROM generate_series(1, 800000) g;
             ALTER TABLE agency.filler OWNER TO agency_owner",
        )
        .await
        .unwrap();
    let second = s.snapshot();

    // kill -9 at several points: staging keeps the first copy, whole
    let mut killed_mid_run = 0;
    for pause in [300u64, 900, 1600] {
        let mut child = acc_command(&s.config)
            .args(["restore", "--profile", "t"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(pause));
        let finished = child.try_wait().unwrap().is_some();
        child.kill().unwrap();
        child.wait().unwrap();
        if !finished {
            killed_mid_run += 1;
            assert_eq!(
                s.staging_label().await,
                first,
                "killed after {pause}ms: staging still holds the first copy"
            );
        }
        if s.staging_label().await == second {
            break; // the restore finished before the kill; later points are moot
        }
    }
    assert!(
        killed_mid_run >= 2,
        "the restore was killed mid-run {killed_mid_run} times"
    );

    // a reader in a loop during a full restore
    let (url, name) = (
        s.sb.var("ACC_STAGING_URL").to_string(),
        s.staging.name.clone(),
    );
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(c) = support::try_connect(&format!("{url}/{name}")).await {
                    let r = c
                        .query_one(
                            "SELECT (SELECT label FROM acc.staging_info), (SELECT count(*) FROM agency.visit_notes)",
                            &[],
                        )
                        .await;
                    if let Ok(r) = r {
                        seen.push((r.get::<_, String>(0), r.get::<_, i64>(1)));
                    }
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            seen
        })
    };
    let config = s.config.clone();
    let run =
        tokio::task::spawn_blocking(move || acc(&config, &["restore", "--profile", "t", "--json"]))
            .await
            .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen = reader.await.unwrap();
    assert_eq!(run.code, 0, "{run:?}");
    let firsts: Vec<i64> = seen
        .iter()
        .filter(|(l, _)| *l == first)
        .map(|(_, n)| *n)
        .collect();
    let seconds: Vec<i64> = seen
        .iter()
        .filter(|(l, _)| *l == second)
        .map(|(_, n)| *n)
        .collect();
    assert!(
        !firsts.is_empty() && !seconds.is_empty(),
        "the reader saw both copies: {} reads",
        seen.len()
    );
    assert_eq!(
        firsts.len() + seconds.len(),
        seen.len(),
        "only the two labels were ever seen"
    );
    assert!(
        firsts.iter().all(|n| *n == firsts[0]) && seconds.iter().all(|n| *n == 2 * firsts[0]),
        "each label always came with its own data"
    );
    let admin = s.staging.admin("postgres").await;
    let left = incoming_copies(&admin, &s.staging.name).await;
    assert_eq!(left, 0, "no incoming copy is left behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_older_and_same_database_restores_are_refused() {
    let s = setup("guards", "").await;
    let first = s.snapshot();
    let second = s.snapshot();
    assert_eq!(s.restore(&["--snapshot", &second]).code, 0);
    let again = s.restore(&["--snapshot", &second]);
    assert_eq!(again.code, 0);
    assert_eq!(
        again.json()["already_current"],
        true,
        "restoring what staging holds does nothing"
    );

    // a swap cut short between its two renames: the next run puts the previous copy back
    let admin = s.staging.admin("postgres").await;
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {0} RENAME TO {0}__previous",
            s.staging.name
        ))
        .await
        .unwrap();
    drop(admin);
    let repaired = s.restore(&["--snapshot", &second]);
    assert_eq!(repaired.code, 0, "{repaired:?}");
    assert!(
        repaired.stderr.contains("previous copy is back"),
        "{repaired:?}"
    );
    assert_eq!(repaired.json()["already_current"], true);
    assert_eq!(s.staging_label().await, second);

    let older = s.restore(&["--snapshot", &first]);
    assert_eq!(older.code, 65, "{older:?}");
    assert!(older.stderr.contains("older"), "{older:?}");

    // one flipped byte and the snapshot is refused before anything is touched
    let dir = s._tmp.path().join("store/t").join(&first);
    let victim = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().contains(".copy."))
        .unwrap();
    let mut bytes = std::fs::read(&victim).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&victim, bytes).unwrap();
    let tampered = s.restore(&["--snapshot", &first, "--force"]);
    assert_eq!(tampered.code, 65, "{tampered:?}");
    assert!(
        tampered
            .stderr
            .contains(".copy.zst.age does not match its manifest entry"),
        "{tampered:?}"
    );
    assert_eq!(s.staging_label().await, second);

    // staging pointed at production itself
    let prod_port = s.sb.prod_port();
    let same = format!(
        "[profiles.t.staging]\nhost = \"127.0.0.1\"\nport = {prod_port}\ndbname = \"{}\"\nuser = \"acc\"\npassword_file = \"{}/secrets/pg_acc_password\"\nsslrootcert = \"{}/tls/ca.crt\"\n[profiles.t.restore]\nage_identity = \"{}\"\n",
        s.prod.name,
        s.sb.var("ACC_SANDBOX"),
        s.sb.var("ACC_SANDBOX"),
        s.sb.var("ACC_AGE_IDENTITY")
    );
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("store")).unwrap();
    let config = s.sb.write_profile(tmp.path(), &s.prod.name, None, &same);
    std::os::unix::fs::symlink(s._tmp.path().join("store/t"), tmp.path().join("store/t")).unwrap();
    let r = acc(
        &config,
        &["restore", "--profile", "t", "--snapshot", &second],
    );
    assert_eq!(r.code, 78, "{r:?}");
    assert!(r.stderr.contains("is production"), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_total_outage_restores_into_any_target_the_operator_names() {
    let s = setup("target", "").await;
    let label = s.snapshot();
    let laptop = StagingDb::new(&s.sb, "laptop");
    let port =
        s.sb.var("ACC_STAGING_URL")
            .rsplit(':')
            .next()
            .unwrap()
            .to_string();
    let password =
        std::fs::read_to_string(s.sb.path("ACC_SANDBOX").join("secrets/pg_acc_password")).unwrap();
    let out = acc_command(&s.config)
        .args(["restore", "--profile", "t", "--json", "--target"])
        .arg(format!(
            "postgres://acc@127.0.0.1:{port}/{}?sslrootcert={}/tls/ca.crt",
            laptop.name,
            s.sb.var("ACC_SANDBOX")
        ))
        .env("PGPASSWORD", password.trim())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c = laptop.admin(&laptop.name).await;
    let got: String = c
        .query_one("SELECT label FROM acc.staging_info", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(got, label);
    let bad = acc(
        &s.config,
        &[
            "restore",
            "--profile",
            "t",
            "--target",
            "postgres://acc:secret@127.0.0.1:1/x",
        ],
    );
    assert_eq!(
        bad.code, 2,
        "a password on the command line is refused: {bad:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_that_ends_after_the_deadline_completes_exits_3_and_records_it() {
    let s = setup("late", "").await;
    let label = s.snapshot();
    // the snapshot answers a cutoff long past: its staging-ready deadline has gone by
    let manifest = s
        ._tmp
        .path()
        .join("store/t")
        .join(&label)
        .join("manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace(
            "\"cutoff\": null",
            "\"cutoff\": \"2026-01-05T23:00:00-05:00\"",
        ),
    )
    .unwrap();
    let run = s.restore(&[]);
    assert_eq!(run.code, 3, "{run:?}");
    assert_eq!(run.json()["late"], true);
    assert_eq!(run.json()["deadline"], "2026-01-06T02:00:00-05:00");
    assert!(
        run.stderr.contains("after the staging-ready deadline"),
        "{run:?}"
    );
    let c = s.staging.admin(&s.staging.name).await;
    let (got, late): (String, bool) = {
        let r = c
            .query_one("SELECT label, late FROM acc.staging_info", &[])
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(
        (got.as_str(), late),
        (label.as_str(), true),
        "staging is current, and says it was late"
    );
}

#[test]
fn a_staging_name_too_long_for_its_copies_is_refused_with_78_naming_the_limit() {
    let sb = Sandbox::require();
    let dir = tempfile::tempdir().unwrap();
    let long = format!("acc_{}", "s".repeat(56)); // 60 bytes: 70 with __incoming
    let staging = StagingDb::new(&sb, "long")
        .sections(&sb)
        .replace(&format!("acc_s_long_{}", std::process::id()), &long);
    let config = sb.write_profile(dir.path(), "demo_us", None, &staging);
    let run = acc(&config, &["restore", "--profile", "t"]);
    assert_eq!(run.code, 78, "{run:?}");
    assert!(
        run.stderr.contains("63 bytes") && run.stderr.contains(&long),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_file_replaced_after_verification_is_caught_while_loading() {
    let s = setup("swapfile", "").await;
    let first = s.snapshot();
    assert_eq!(s.restore(&[]).code, 0);
    let second = s.snapshot();
    let store = s._tmp.path().join("store/t");
    let biggest = std::fs::read_dir(store.join(&second))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_str().unwrap().ends_with(".copy.zst.age"))
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let data = biggest.file_name().unwrap().to_str().unwrap().to_string();
    for victim in [
        data.as_str(),
        "schema-pre-data.pgdump.zst.age",
        "schema-post-data.pgdump.zst.age",
    ] {
        let target = store.join(&second).join(victim);
        let original = std::fs::read(&target).unwrap();
        let resume = s._tmp.path().join(format!("resume-{victim}"));
        let mut cmd = acc_command(&s.config);
        cmd.args(["restore", "--profile", "t", "--snapshot", &second]);
        let (child, mut stderr) = support::paused_at(&mut cmd, "restore:verified", Some(&resume));
        // the same file of the other snapshot: a valid sealed file, with other bytes
        std::fs::copy(store.join(&first).join(victim), &target).unwrap();
        std::fs::write(&resume, b"").unwrap();
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
        let status = {
            let mut child = child;
            child.wait().unwrap()
        };
        assert_eq!(status.code(), Some(65), "{victim}: {rest}");
        assert!(
            rest.contains(&format!("{victim} does not match its manifest entry")),
            "{victim}: {rest}"
        );
        assert_eq!(
            s.staging_label().await,
            first,
            "{victim}: staging is untouched"
        );
        let admin = s.staging.admin("postgres").await;
        let incoming = incoming_copies(&admin, &s.staging.name).await;
        assert_eq!(incoming, 0, "{victim}: the loaded copy is dropped");
        std::fs::write(&target, original).unwrap();
    }
    let run = s.restore(&["--snapshot", &second]);
    assert_eq!(run.code, 0, "the intact snapshot restores: {run:?}");
}

/// Prune and restore share one lock: a snapshot taken while a restore reads the one before it
/// keeps that one (and says so), and the restore finishes from its files; the next snapshot
/// prunes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_never_prunes_the_snapshot_a_restore_is_loading() {
    let s = setup("prune_lock", "").await;
    let first = s.snapshot();
    let resume = s._tmp.path().join("resume");
    let mut cmd = acc_command(&s.config);
    cmd.args(["restore", "--profile", "t", "--json"])
        .stdout(Stdio::piped());
    let (restore, _stderr) = support::paused_at(&mut cmd, "restore:verified", Some(&resume));
    std::thread::sleep(Duration::from_millis(1100));
    let kept = s.acc(&[
        "snapshot",
        "--profile",
        "t",
        "--now",
        "--keep",
        "1",
        "--json",
    ]);
    assert_eq!(kept.code, 0, "{kept:?}");
    assert_eq!(kept.json()["pruned"], serde_json::json!([]), "{kept:?}");
    assert!(kept.stderr.contains("not pruned"), "{}", kept.stderr);
    let store = s._tmp.path().join("store").join("t");
    assert!(
        store.join(&first).is_dir(),
        "the restore's snapshot is still there"
    );
    std::fs::write(&resume, b"").unwrap();
    let out = restore.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["label"],
        first.as_str(),
        "it restored what it had verified"
    );
    let later = s.snapshot_with(&["--keep", "1"]);
    assert!(
        !store.join(&first).exists(),
        "pruned once no restore reads it: {later:?}"
    );
}

/// A swap that fails (a superuser's session on the live copy cannot be ended, so 75) keeps
/// `__previous`: `--rollback` still brings back the copy before the live one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_swap_keeps_the_previous_copy_for_rollback() {
    let s = setup("swap_keeps_previous", "").await;
    let first = s.snapshot();
    assert_eq!(s.restore(&[]).code, 0);
    let second = s.snapshot();
    assert_eq!(s.restore(&[]).code, 0);
    s.snapshot();
    let blocker = s.staging.admin(&s.staging.name).await;
    let failed = s.restore(&[]);
    assert_eq!(failed.code, 75, "{failed:?}");
    drop(blocker);
    assert_eq!(s.staging_label().await, second, "the live copy stays");
    let rb = s.acc(&["restore", "--profile", "t", "--rollback"]);
    assert_eq!(rb.code, 0, "{rb:?}");
    assert_eq!(
        s.staging_label().await,
        first,
        "the copy before it came back"
    );
}

/// A snapshot of profile t copied into profile u's store is not u's: restoring it into u's
/// staging is refused (65) unless the operator names t on purpose.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_of_another_profile_is_refused_unless_named() {
    let s = setup("other_profile", "").await;
    let label = s.snapshot();
    let text = std::fs::read_to_string(&s.config).unwrap();
    std::fs::write(
        &s.config,
        format!("{text}\n{}", text.replace("[profiles.t", "[profiles.u")),
    )
    .unwrap();
    let store = s._tmp.path().join("store");
    std::fs::create_dir_all(store.join("u")).unwrap();
    let copied = std::process::Command::new("cp")
        .arg("-a")
        .arg(store.join("t").join(&label))
        .arg(store.join("u").join(&label))
        .status()
        .unwrap();
    assert!(copied.success());
    let restore_u = |extra: &[&str]| {
        let mut args = vec!["restore", "--profile", "u", "--snapshot", &label];
        args.extend_from_slice(extra);
        s.acc(&args)
    };
    let refused = restore_u(&[]);
    assert_eq!(refused.code, 65, "{refused:?}");
    assert!(
        refused.stderr.contains("taken for profile 't'"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("--from-profile t"),
        "{}",
        refused.stderr
    );
    let named = restore_u(&["--from-profile", "t"]);
    assert_eq!(named.code, 0, "{named:?}");
    assert_eq!(s.staging_label().await, label);
}
