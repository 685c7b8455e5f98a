//! `acc export` against the sandbox's real servers: the SFTP server, both PostgreSQL clusters,
//! the Snowflake emulator, and the Debian `age` CLI as the independent reader of what acc wrote.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::exports::*;
use support::{
    Remote, Sandbox, TestDb, acc, acc_command, age_decrypt, assert_no_plaintext, day_file,
    day_manifest, files_under, sftp_section,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_file_decrypts_with_the_age_cli_and_holds_the_rows_its_query_counts() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "export_interop").await;
    let dir = tempfile::tempdir().unwrap();
    let config = profile(&sb, dir.path(), &db.name, "");
    let remote = Remote::new(&sb, "interop");
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();

    let out = acc_command(&config)
        .env("TMPDIR", &tmp)
        .args([
            "export",
            "--profile",
            "t",
            "--source",
            "production",
            "--to",
            &remote.url,
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["destination"], remote.url.as_str());
    let day = remote.day();
    assert_eq!(
        day.file_name().unwrap().to_str().unwrap(),
        summary["date"].as_str().unwrap()
    );
    let m = day_manifest(&day);
    assert_eq!(m["source"], "production");

    // the same window the export used, to count each query's rows independently
    let window = acc::schedule::Period {
        today: m["date"].as_str().unwrap().parse().unwrap(),
        start: m["window_start"].as_str().unwrap().parse().unwrap(),
        end: m["window_end"].as_str().unwrap().parse().unwrap(),
    };
    let queries = acc::export::dashboard::load(
        &acc::export::NAMES,
        &[],
        acc::export::Dialect::Postgres,
        &window,
    )
    .unwrap();
    let pg = db.admin().await;
    let entries = m["dashboards"].as_array().unwrap();
    assert_eq!(entries.len(), 9);
    for (q, entry) in queries.iter().zip(entries) {
        assert_eq!(entry["name"], q.name);
        let expected: i64 = pg
            .query_one(&format!("SELECT count(*) FROM ({}) q", q.sql), &[])
            .await
            .unwrap()
            .get(0);
        assert!(expected > 0, "{} has rows in the seed", q.name);
        let file = day_file(&day, q.name);
        let plain = age_decrypt(&sb, &file);
        let rows = records(&plain);
        assert_eq!(
            rows.len() as i64 - 1,
            expected,
            "{}: CSV records against count(*)",
            q.name
        );
        assert_eq!(
            entry["rows"].as_i64().unwrap(),
            expected,
            "{}: manifest rows",
            q.name
        );
        assert_eq!(
            entry["size"].as_u64().unwrap(),
            std::fs::metadata(&file).unwrap().len()
        );
        let sha = Command::new("sha256sum").arg(&file).output().unwrap();
        assert!(
            String::from_utf8_lossy(&sha.stdout).starts_with(entry["sha256"].as_str().unwrap()),
            "{}",
            q.name
        );
    }
    // the data really is there, encrypted: decrypted client names carry the marker
    assert!(
        age_decrypt(&sb, &day_file(&day, "client-list"))
            .windows(5)
            .any(|w| w == b"SYNTH")
    );
    // and nothing anywhere on disk holds it in the clear
    assert_no_plaintext(&remote.disk);
    assert_eq!(
        files_under(&tmp),
        Vec::<PathBuf>::new(),
        "nothing left in TMPDIR"
    );
    assert_no_plaintext(dir.path());
    // no working directory is left, and every file is private to the sftp user
    let names: Vec<String> = std::fs::read_dir(remote.disk.join("t"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "the day and latest only: {names:?}");
    use std::os::unix::fs::PermissionsExt;
    for f in files_under(&day) {
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o077,
            0,
            "{}",
            f.display()
        );
    }
}

fn remote_port(sb: &Sandbox) -> u16 {
    url::Url::parse(sb.var("ACC_SFTP_URL"))
        .unwrap()
        .port()
        .unwrap()
}

#[test]
fn snowflake_and_postgresql_give_byte_identical_csv() {
    let sb = Sandbox::require();
    let dir = tempfile::tempdir().unwrap();
    let config = sb.path("ACC_CONFIG");
    // the nine and the optional device-sync: the Snowflake side has the device table too
    let every = acc::export::dashboard::KNOWN.join(",");
    let mut plain = Vec::new();
    for source in ["snowflake", "production"] {
        let to = dir.path().join(source);
        let run = acc(
            &config,
            &[
                "export",
                "--profile",
                "demo-us",
                "--source",
                source,
                "--to",
                to.to_str().unwrap(),
                "--only",
                &every,
                "--json",
            ],
        );
        assert_eq!(run.code, 0, "{source}: {}", run.stderr);
        let day = to
            .join("demo-us")
            .join(run.json()["date"].as_str().unwrap());
        plain.push(
            acc::export::dashboard::KNOWN
                .iter()
                .map(|n| (n.to_string(), age_decrypt(&sb, &day_file(&day, n))))
                .collect::<Vec<_>>(),
        );
    }
    let (snowflake, postgres) = (&plain[0], &plain[1]);
    for ((name, a), (_, b)) in snowflake.iter().zip(postgres) {
        assert!(records(a).len() > 1, "{name} has rows");
        assert!(
            a == b,
            "{name}: Snowflake and PostgreSQL differ:\n{}\n---\n{}",
            first_diff(a, b).0,
            first_diff(a, b).1
        );
    }
    // the byte-identical output covers the rules that differ most between engines
    let schedules = String::from_utf8(
        postgres
            .iter()
            .find(|(n, _)| n == "employee-schedules")
            .unwrap()
            .1
            .clone(),
    )
    .unwrap();
    let line = schedules.lines().nth(1).unwrap();
    assert!(
        line.contains(":00-05,") || line.contains(":00-04,"),
        "local time with offset: {line}"
    );
    let clients = String::from_utf8(
        postgres
            .iter()
            .find(|(n, _)| n == "client-list")
            .unwrap()
            .1
            .clone(),
    )
    .unwrap();
    assert!(
        clients.lines().skip(1).any(|l| l.contains(".50,")),
        "exact decimals (hours_per_week)"
    );
}

fn first_diff(a: &[u8], b: &[u8]) -> (String, String) {
    let (a, b) = (String::from_utf8_lossy(a), String::from_utf8_lossy(b));
    for (x, y) in a.lines().zip(b.lines()) {
        if x != y {
            return (x.to_string(), y.to_string());
        }
    }
    (
        format!("{} lines", a.lines().count()),
        format!("{} lines", b.lines().count()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commas_quotes_newlines_emoji_and_empty_versus_null_survive_the_round_trip() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "export_csv").await;
    let first = "Zoë \"Zed\", the 🙂";
    let last = "O'Neil-SYNTH\r\nsecond line";
    db.admin()
        .await
        .execute(
            "INSERT INTO agency.clients (branch_id, client_number, first_name, last_name, date_of_birth, phone,
                                         address_line, city, province, postal_code)
             VALUES (1, 'C9999999', $1, $2, '1940-02-29', NULL, '', 'Maple Hollow', 'ON', 'K0A 0A0')",
            &[&first, &last],
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = profile(&sb, dir.path(), &db.name, "");
    let to = dir.path().join("out");
    let run = export(
        &config,
        to.to_str().unwrap(),
        &["--only", "client-list", "--bom"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let day = to.join("t").join(run.json()["date"].as_str().unwrap());
    let plain = age_decrypt(&sb, &day_file(&day, "client-list"));
    assert!(
        plain.starts_with(b"\xEF\xBB\xBF"),
        "--bom starts the file with a byte-order mark"
    );
    let csv = &plain[3..];
    let row = records(csv)
        .into_iter()
        .find(|r| &r[0] == "C9999999")
        .expect("the new client is exported");
    assert_eq!(&row[1], last);
    assert_eq!(&row[2], first);
    assert_eq!(&row[3], "1940-02-29");
    // NULL phone is an empty field; the empty address is a quoted empty string
    let text = String::from_utf8(csv.to_vec()).unwrap();
    let start = text.find("C9999999").unwrap();
    let raw = &text[start..];
    assert!(
        raw.contains("\"Zoë \"\"Zed\"\", the 🙂\",1940-02-29,,\"\",Maple Hollow"),
        "{}",
        &raw[..200.min(raw.len())]
    );
    assert!(text.contains("\r\n"), "records end with CRLF");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_dashboard_query_still_delivers_the_other_eight_and_exits_3() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "export_isolation").await;
    let dir = tempfile::tempdir().unwrap();
    let config = profile(&sb, dir.path(), &db.name, "");
    std::fs::create_dir(dir.path().join("dashboards")).unwrap();
    std::fs::write(
        dir.path().join("dashboards/vacant-visits.sql"),
        "SELECT v.no_such_column AS \"Visit\" FROM agency.visits v",
    )
    .unwrap();
    let remote = Remote::new(&sb, "isolation");
    let run = export(&config, &remote.url, &[]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("vacant-visits"), "{}", run.stderr);
    let summary = run.json();
    let statuses: Vec<(String, String)> = summary["dashboards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap().to_string(),
                d["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        statuses.iter().filter(|(_, s)| s == "ok").count(),
        8,
        "{statuses:?}"
    );
    assert!(statuses.contains(&("vacant-visits".into(), "failed".into())));
    let day = remote.day();
    let delivered: Vec<PathBuf> = files_under(&day)
        .into_iter()
        .filter(|f| f.to_str().unwrap().ends_with(".csv.age"))
        .collect();
    assert_eq!(delivered.len(), 8);
    assert!(
        !files_under(&day)
            .iter()
            .any(|f| f.to_str().unwrap().ends_with("vacant-visits.csv.age"))
    );
    let m = day_manifest(&day);
    let failed = m["dashboards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "vacant-visits")
        .unwrap();
    assert_eq!(failed["status"], "failed");
    assert!(
        failed["error"].as_str().unwrap().contains("no_such_column"),
        "{failed}"
    );
    assert!(
        failed["query"]
            .as_str()
            .unwrap()
            .ends_with("dashboards/vacant-visits.sql")
    );

    // once the day has a good file, a failing rerun keeps it (and still says it failed)
    let broken = std::fs::read(dir.path().join("dashboards/vacant-visits.sql")).unwrap();
    std::fs::remove_file(dir.path().join("dashboards/vacant-visits.sql")).unwrap();
    let good = export(&config, &remote.url, &[]);
    assert_eq!(good.code, 0, "{}", good.stderr);
    std::fs::write(dir.path().join("dashboards/vacant-visits.sql"), broken).unwrap();
    let run = export(&config, &remote.url, &[]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert_eq!(run.json()["failed"], serde_json::json!(["vacant-visits"]));
    let day = remote.day();
    assert!(
        day_file(&day, "vacant-visits").exists(),
        "the earlier file stays"
    );
    let m = day_manifest(&day);
    let vacant = m["dashboards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "vacant-visits")
        .unwrap();
    assert_eq!(vacant["status"], "ok");
    assert!(vacant["carried_from"].is_string(), "{vacant}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_or_unknown_host_key_is_refused_before_anything_is_sent() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "export_hostkey").await;
    let dir = tempfile::tempdir().unwrap();
    let remote = Remote::new(&sb, "hostkey");
    // a real ed25519 key, but not the server's
    let other = dir.path().join("other");
    let public = ssh_key(&other);
    let wrong = dir.path().join("known_hosts_wrong");
    let key: Vec<&str> = public.split_whitespace().take(2).collect();
    std::fs::write(
        &wrong,
        format!("[127.0.0.1]:{} {} {}\n", remote_port(&sb), key[0], key[1]),
    )
    .unwrap();
    let empty = dir.path().join("known_hosts_empty");
    std::fs::write(&empty, "").unwrap();
    // the server's own pinned line, and the same key marked @revoked (libssh2 alone reads
    // "@revoked" as a host name and accepted the key)
    let pinned = std::fs::read_to_string(sb.path("ACC_KNOWN_HOSTS")).unwrap();
    let server_key: Vec<&str> = pinned
        .lines()
        .find(|l| l.contains("ssh-ed25519"))
        .unwrap()
        .split_whitespace()
        .skip(1)
        .take(2)
        .collect();
    let revoked = dir.path().join("known_hosts_revoked");
    std::fs::write(
        &revoked,
        format!(
            "{pinned}\n@revoked * {} {} retired\n",
            server_key[0], server_key[1]
        ),
    )
    .unwrap();
    // a host certificate authority instead of the key: acc does not check certificates
    let authority = dir.path().join("known_hosts_authority");
    std::fs::write(
        &authority,
        format!("@cert-authority * {} {}\n", key[0], key[1]),
    )
    .unwrap();
    for (known, says) in [
        (&wrong, "does not match"),
        (&empty, "is not in"),
        (&revoked, "marked @revoked"),
        (&authority, "does not accept host certificates"),
    ] {
        let extra = format!(
            "[profiles.t.sftp]\nidentity_file = \"{}\"\nknown_hosts = \"{}\"\n",
            sb.path("ACC_SFTP_KEY").display(),
            known.display()
        );
        let config = sb.write_profile(dir.path(), &db.name, None, &extra);
        let run = export(&config, &remote.url, &[]);
        assert_eq!(run.code, 77, "{}", run.stderr);
        assert!(run.stderr.contains(says), "{}", run.stderr);
        assert!(run.stderr.contains("hint:"), "{}", run.stderr);
        assert!(
            !remote.disk.exists(),
            "nothing was created on a server that was not authenticated"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_upload_leaves_no_published_day_and_the_rerun_completes() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "export_kill").await;
    let dir = tempfile::tempdir().unwrap();
    let config = profile(&sb, dir.path(), &db.name, "");
    // the second dashboard's query holds the run for a while, its file open for writing
    std::fs::create_dir(dir.path().join("dashboards")).unwrap();
    let slow = dir.path().join("dashboards/client-list.sql");
    std::fs::write(&slow, "SELECT 1 AS \"n\" FROM (SELECT pg_sleep(30)) s").unwrap();
    let remote = Remote::new(&sb, "kill");
    let mut child = acc_command(&config)
        .args([
            "export",
            "--profile",
            "t",
            "--source",
            "production",
            "--to",
            &remote.url,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let in_flight = loop {
        let seen = match remote.disk.exists() {
            true => files_under(&remote.disk),
            false => Vec::new(),
        };
        let tmp = seen
            .into_iter()
            .find(|f| f.to_str().unwrap().ends_with("client-list.csv.age.tmp"));
        if let Some(t) = tmp {
            break t;
        }
        assert!(Instant::now() < deadline, "the upload never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let t = remote.disk.join("t");
    assert!(
        in_flight.exists(),
        "the killed upload is still there, under its temporary name"
    );
    let visible: Vec<String> = std::fs::read_dir(&t)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert!(
        visible.is_empty(),
        "no day and no latest after the kill: {visible:?}"
    );

    std::fs::remove_file(&slow).unwrap();
    let run = export(&config, &remote.url, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["removed_leftovers"].as_array().unwrap().len(), 1);
    let day = remote.day();
    assert_eq!(
        files_under(&day)
            .iter()
            .filter(|f| f.to_str().unwrap().ends_with(".csv.age"))
            .count(),
        9
    );
    let hidden: Vec<PathBuf> = files_under(&t)
        .into_iter()
        .filter(|f| f.to_str().unwrap().contains("/."))
        .collect();
    assert!(hidden.is_empty(), "leftovers removed: {hidden:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_source_exits_75_and_writes_nothing() {
    let sb = Sandbox::require();
    let dir = tempfile::tempdir().unwrap();
    let port = support::free_port();
    let config = sb.write_profile(dir.path(), "demo_us", Some(port), &sftp_section(&sb));
    let to = dir.path().join("out");
    let run = export(&config, to.to_str().unwrap(), &[]);
    assert_eq!(run.code, 75, "{}", run.stderr);
    assert!(
        !to.exists() || files_under(&to).is_empty(),
        "nothing written: {:?}",
        files_under(&to)
    );
}

/// The first query starts while the SSH login is under way: a server that never answers
/// must still fail the run as temporary, naming the server, with the source left as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sftp_server_that_is_down_exits_75_naming_it_after_the_first_query_started() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "export_sftp_down").await;
    let dir = tempfile::tempdir().unwrap();
    let port = support::free_port();
    let config = sb.write_profile(dir.path(), &db.name, None, &sftp_section(&sb));
    let url = format!("sftp://accsftp@127.0.0.1:{port}/upload/down");
    let run = export(&config, &url, &[]);
    assert_eq!(run.code, 75, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("127.0.0.1:{port}")),
        "names the server: {}",
        run.stderr
    );
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    // the source is untouched and a run to a reachable server then succeeds
    let remote = Remote::new(&sb, "sftp-down");
    let again = export(&config, &remote.url, &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(
        day_manifest(&remote.day())["dashboards"]
            .as_array()
            .unwrap()
            .len(),
        9
    );
}

/// Library callers choose their runtime: blocking work goes through the delivery's async face,
/// so a current-thread runtime runs a whole export (it used to panic in `block_in_place`).
#[tokio::test(flavor = "current_thread")]
async fn export_runs_as_a_library_call_on_a_current_thread_runtime() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "export_current_thread").await;
    let dir = tempfile::tempdir().unwrap();
    let config = profile(&sb, dir.path(), &db.name, "");
    let remote = Remote::new(&sb, "current-thread");
    let cfg = acc::config::Config::load(acc::env::Env::from_process(), Some(config)).unwrap();
    // the settings come in one layer, as a command's flags do
    let flags = acc::config::RawProfile {
        export_to: Some(remote.url.clone()),
        export: Some(acc::config::RawExport {
            source: Some("production".into()),
            days: Some(1),
            spreadsheet_safe: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    };
    let p = cfg.profile(Some("t"), flags).unwrap();
    let req = acc::export::ExportRequest {
        only: acc::export::NAMES.to_vec(),
        dirs: Vec::new(),
        progress: acc::progress::Watch::silent(),
    };
    let report = acc::export::export(&p, cfg.env(), &req).await.unwrap();
    assert_eq!(report.manifest.delivered(), 9, "{:?}", report.failures);
    let m = day_manifest(&remote.day());
    assert_eq!(m["dashboards"].as_array().unwrap().len(), 9);
    assert_no_plaintext(&remote.disk);
}

/// Sheets are published by the same writer as exports, so a profile that signs its exports
/// signs its sheets too, and OpenSSH alone accepts the signature.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sheets_are_signed_like_exports_and_verify_with_ssh_keygen() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "sheets_signed").await;
    let dir = tempfile::tempdir().unwrap();
    let (config, signers) = signing_profile(&sb, dir.path(), &db.name);
    let out = dir.path().join("sheets-out");
    let run = acc(
        &config,
        &[
            "sheets",
            "--profile",
            "t",
            "--source",
            "production",
            "--to",
            out.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let base = out.join("t/sheets");
    let latest = std::fs::read_to_string(base.join("latest")).unwrap();
    let day = base.join(latest.trim());
    assert_openssh_verifies(&signers, &day);
    assert_no_plaintext(&out);
}

/// Runs acc with stderr in a file, optionally telling it (as systemd does, through
/// JOURNAL_STREAM) that the file is the journal; returns the exit code and stderr.
fn run_logged(config: &Path, args: &[&str], journal: bool) -> (i32, String) {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stderr");
    let file = std::fs::File::create(&path).unwrap();
    let meta = file.metadata().unwrap();
    let mut cmd = acc_command(config);
    cmd.args(args).stdout(Stdio::null()).stderr(file);
    if journal {
        cmd.env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()));
    } else {
        cmd.env_remove("JOURNAL_STREAM");
    }
    let status = cmd.status().unwrap();
    (
        status.code().unwrap(),
        std::fs::read_to_string(&path).unwrap(),
    )
}

/// What reaches stderr follows -q and -v, and under journald every line carries its
/// priority, so `journalctl -p err` finds acc's errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_verbose_and_journald_priorities_shape_stderr() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "export_logs").await;
    let dir = tempfile::tempdir().unwrap();
    let config = profile(&sb, dir.path(), &db.name, "");
    let out = dir.path().join("out");
    let to = out.to_str().unwrap();
    let export = |flag: Option<&str>, journal: bool| {
        let mut args = vec![
            "export",
            "--profile",
            "t",
            "--source",
            "production",
            "--to",
            to,
            "--only",
            "employee-list",
        ];
        args.extend(flag);
        run_logged(&config, &args, journal)
    };

    let (code, normal) = export(None, false);
    assert_eq!(code, 0, "{normal}");
    assert!(normal.contains("acc: export employee-list:"), "{normal}");
    assert!(!normal.contains("took"), "detail only with -v: {normal}");

    let (code, quiet) = export(Some("-q"), false);
    assert_eq!(code, 0, "{quiet}");
    assert_eq!(quiet, "", "-q keeps warnings and errors only");

    let (code, verbose) = export(Some("-v"), false);
    assert_eq!(code, 0, "{verbose}");
    assert!(verbose.contains("query, seal and upload took"), "{verbose}");

    let (code, journal) = export(Some("-v"), true);
    assert_eq!(code, 0, "{journal}");
    assert!(
        journal.lines().all(|l| l.starts_with('<')),
        "every line has its priority: {journal}"
    );
    assert!(
        journal.contains("<6>acc: export employee-list:"),
        "{journal}"
    );
    assert!(
        journal.contains("<7>acc: export employee-list: query"),
        "{journal}"
    );

    // an error, and its hint, are priority 3
    let (code, failed) = run_logged(&dir.path().join("absent.toml"), &["schedule"], true);
    assert_eq!(code, 78);
    assert!(failed.starts_with("<3>acc: error: "), "{failed}");
    assert!(failed.lines().all(|l| l.starts_with("<3>")), "{failed}");
}

/// `--spreadsheet-safe` guards formula-like free text the same way whatever the source, so
/// Snowflake and PostgreSQL stay byte-identical; without it the text is as stored.
#[test]
fn spreadsheet_safe_guards_formulas_alike_from_snowflake_and_postgresql() {
    let sb = Sandbox::require();
    let dir = tempfile::tempdir().unwrap();
    let config = sb.path("ACC_CONFIG");
    let export_one = |source: &str, flag: &str| {
        let to = dir.path().join(format!("{source}{flag}"));
        // a store of its own: the byte-identity test exports demo-us at the same time
        let out = acc_command(&config)
            .env("ACC_STORE", dir.path().join("store"))
            .args([
                "export",
                "--profile",
                "demo-us",
                "--source",
                source,
                "--only",
                "client-risks-allergies",
                "--to",
                to.to_str().unwrap(),
                "--json",
                flag,
            ])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{source} {flag}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let run_date = summary["date"].as_str().unwrap().to_string();
        let day = to.join("demo-us").join(run_date);
        let m = day_manifest(&day);
        (
            age_decrypt(&sb, &day_file(&day, "client-risks-allergies")),
            m["spreadsheet_safe"].as_bool().unwrap(),
        )
    };
    let (snowflake, sf_flag) = export_one("snowflake", "--spreadsheet-safe");
    let (postgres, pg_flag) = export_one("production", "--spreadsheet-safe");
    assert!(sf_flag && pg_flag, "the manifest records the setting");
    assert!(
        snowflake == postgres,
        "Snowflake and PostgreSQL differ:\n{}\n---\n{}",
        first_diff(&snowflake, &postgres).0,
        first_diff(&snowflake, &postgres).1
    );
    let text = String::from_utf8(postgres).unwrap();
    assert!(
        text.contains("\"'=HYPERLINK(\"\"http://example.invalid\"\",\"\"SYNTH\"\")\""),
        "a quoted formula is guarded inside its quotes"
    );
    assert!(
        text.contains(",'-see the care plan,"),
        "an unquoted one in front"
    );

    let (plain, off) = export_one("production", "--no-spreadsheet-safe");
    assert!(!off);
    let plain = String::from_utf8(plain).unwrap();
    assert!(
        plain.contains(",-see the care plan,"),
        "left as stored when off"
    );
    assert!(!plain.contains("'-see"));
}
