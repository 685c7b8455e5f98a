//! `acc export` and `acc pull` against the sandbox's real servers: the SFTP server, both
//! PostgreSQL clusters, the Snowflake emulator, and the Debian `age` CLI as the independent
//! reader of what acc wrote.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{
    Remote, Run, Sandbox, TestDb, acc, acc_command, age_decrypt, assert_no_plaintext,
    current_version, day_file, day_manifest, files_under, sftp_section,
};

/// A profile `t` reading the clone `db` as production, delivering to the sandbox's SFTP.
fn profile(sb: &Sandbox, dir: &Path, db: &str, extra: &str) -> PathBuf {
    sb.write_profile(dir, db, None, &format!("{}{extra}", sftp_section(sb)))
}

fn export(config: &Path, to: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "export",
        "--profile",
        "t",
        "--source",
        "production",
        "--to",
        to,
        "--json",
    ];
    args.extend_from_slice(extra);
    acc(config, &args)
}

fn records(csv: &[u8]) -> Vec<csv::StringRecord> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(csv)
        .records()
        .map(|r| r.expect("valid CSV"))
        .collect()
}

fn current_manifest(day: &Path) -> PathBuf {
    current_version(day).join("manifest.json")
}

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
    let window = acc::export::Period {
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
    assert_no_plaintext(&tmp);
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
                "--json",
            ],
        );
        assert_eq!(run.code, 0, "{source}: {}", run.stderr);
        let day = to
            .join("demo-us")
            .join(run.json()["date"].as_str().unwrap());
        plain.push(
            acc::export::NAMES
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
        let tmp = files_under(&remote.disk)
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

/// Makes an ed25519 key pair at `path` (no passphrase); returns the public key line.
fn ssh_key(path: &Path) -> String {
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "acc-test"])
        .arg("-f")
        .arg(path)
        .status()
        .unwrap();
    assert!(made.success());
    std::fs::read_to_string(path.with_extension("pub")).unwrap()
}

/// A profile that signs its exports, and the allowed_signers file that trusts its key.
fn signing_profile(sb: &Sandbox, dir: &Path, db: &str) -> (PathBuf, PathBuf) {
    let (key, signers) = signing_keys(dir);
    let extra = format!(
        "[profiles.t.export]\nsigning_key = \"{}\"\nallowed_signers = \"{}\"\n",
        key.display(),
        signers.display()
    );
    (profile(sb, dir, db, &extra), signers)
}

/// `ssh-keygen -Y verify` accepts the day's manifest signature under the export namespace.
fn assert_openssh_verifies(signers: &Path, day: &Path) {
    let verified = Command::new("ssh-keygen")
        .args([
            "-Y",
            "verify",
            "-n",
            "acc-export",
            "-I",
            "exports@agency.example",
            "-f",
        ])
        .arg(signers)
        .arg("-s")
        .arg(current_manifest(day).with_extension("json.sig"))
        .stdin(std::fs::File::open(current_manifest(day)).unwrap())
        .output()
        .unwrap();
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
}

/// An SSH signing key and an allowed_signers file that trusts it for export manifests.
fn signing_keys(dir: &Path) -> (PathBuf, PathBuf) {
    let key = dir.join("signer");
    let public = ssh_key(&key);
    let signers = dir.join("allowed_signers");
    let mut f = std::fs::File::create(&signers).unwrap();
    writeln!(
        f,
        "exports@agency.example namespaces=\"acc-export\" {}",
        public.trim()
    )
    .unwrap();
    (key, signers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_verifies_the_signed_manifest_and_refuses_a_modified_file_by_name() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "export_pull").await;
    let dir = tempfile::tempdir().unwrap();
    let (config, signers) = signing_profile(&sb, dir.path(), &db.name);
    let remote = Remote::new(&sb, "pull");
    let run = export(&config, &remote.url, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let day = remote.day();
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("store/t"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o700,
            "the export's store directory is private"
        );
    }

    // OpenSSH alone accepts the signature, under the export namespace
    assert_openssh_verifies(&signers, &day);

    let identity = sb.var("ACC_AGE_IDENTITY").to_string();
    let pull = |out: &Path, extra: &[&str]| {
        pull_from(&config, &remote.url, out, &[extra, &["--json"]].concat())
    };
    let good = dir.path().join("good");
    let run = pull(&good, &["--identity", &identity]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["signed_by"], "exports@agency.example");
    use std::os::unix::fs::PermissionsExt;
    let m = day_manifest(&day);
    for entry in m["dashboards"].as_array().unwrap() {
        let file = good.join(format!("{}.csv", entry["name"].as_str().unwrap()));
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let rows = records(&std::fs::read(&file).unwrap()).len() as u64 - 1;
        assert_eq!(rows, entry["rows"].as_u64().unwrap());
    }

    // --keep-encrypted keeps exactly what was delivered, still verified, and no plaintext
    let sealed = dir.path().join("sealed");
    let run = pull(&sealed, &["--keep-encrypted"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        std::fs::read(sealed.join("employee-list.csv.age")).unwrap(),
        std::fs::read(day_file(&day, "employee-list")).unwrap()
    );
    assert_no_plaintext(&sealed);

    // a signed day copied under another date is refused: an old day cannot pass for a new one
    use std::os::unix::fs::MetadataExt;
    let replayed = day.parent().unwrap().join("2020-01-01");
    let owner = std::fs::metadata(&day).unwrap();
    let own = |p: &Path| std::os::unix::fs::chown(p, Some(owner.uid()), Some(owner.gid())).unwrap();
    std::fs::create_dir(&replayed).unwrap();
    own(&replayed);
    for f in files_under(&day) {
        let copy = replayed.join(f.strip_prefix(&day).unwrap());
        if let Some(parent) = copy.parent().filter(|p| !p.exists()) {
            std::fs::create_dir(parent).unwrap();
            own(parent);
        }
        std::fs::copy(&f, &copy).unwrap();
        own(&copy);
    }
    let run = pull(
        &dir.path().join("replayed"),
        &["--identity", &identity, "--date", "2020-01-01"],
    );
    assert_eq!(run.code, 65, "{}", run.stderr);
    assert!(
        run.stderr.contains("not 't' for 2020-01-01"),
        "{}",
        run.stderr
    );
    assert!(!dir.path().join("replayed/employee-list.csv").exists());
    std::fs::remove_dir_all(&replayed).unwrap();

    // one flipped byte in one file: that file is refused by name, the others still land
    let target = day_file(&day, "client-medications");
    let mut bytes = std::fs::read(&target).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&target, &bytes).unwrap();
    let tampered = dir.path().join("tampered");
    let run = pull(&tampered, &["--identity", &identity]);
    assert_eq!(run.code, 65, "{}", run.stderr);
    assert!(
        run.stderr.contains("client-medications.csv.age"),
        "{}",
        run.stderr
    );
    assert!(!tampered.join("client-medications.csv").exists());
    assert!(
        !files_under(&tampered)
            .iter()
            .any(|f| f.to_str().unwrap().ends_with(".tmp"))
    );
    assert!(tampered.join("employee-list.csv").exists());

    // a day whose signature is gone is refused outright
    std::fs::remove_file(current_manifest(&day).with_extension("json.sig")).unwrap();
    let run = pull(&dir.path().join("unsigned"), &["--identity", &identity]);
    assert_eq!(run.code, 65, "{}", run.stderr);
    assert!(run.stderr.contains("not signed"), "{}", run.stderr);
    assert!(!dir.path().join("unsigned/employee-list.csv").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_days_removes_old_days_and_a_rerun_replaces_the_day() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "export_keep").await;
    let dir = tempfile::tempdir().unwrap();
    let config = profile(&sb, dir.path(), &db.name, "");
    let to = dir.path().join("out");
    for old in ["2020-01-01", "2020-01-02"] {
        std::fs::create_dir_all(to.join("t").join(old)).unwrap();
        std::fs::write(to.join("t").join(old).join("manifest.json"), "{}").unwrap();
    }
    let run = export(
        &config,
        to.to_str().unwrap(),
        &["--only", "employee-list", "--keep-days", "2"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let summary = run.json();
    assert_eq!(
        summary["removed_days"],
        serde_json::json!(["2020-01-01", "2020-01-02"])
    );
    let date = summary["date"].as_str().unwrap().to_string();
    assert_eq!(
        std::fs::read_to_string(to.join("t/latest")).unwrap().trim(),
        date
    );

    let first = day_manifest(&to.join("t").join(&date));
    let run = export(
        &config,
        to.to_str().unwrap(),
        &["--only", "employee-list,vacant-visits", "--keep-days", "2"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let entries: Vec<String> = std::fs::read_dir(to.join("t"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(entries.len(), 2, "one day and latest: {entries:?}");
    let second = day_manifest(&to.join("t").join(&date));
    assert_ne!(
        first["generated_at"], second["generated_at"],
        "the rerun replaced the day"
    );
    let day = to.join("t").join(&date);
    assert_eq!(
        run.json()["version"],
        2,
        "the rerun is the day's second version"
    );
    assert!(day_file(&day, "vacant-visits").ends_with("v2/vacant-visits.csv.age"));
    assert!(
        day.join("v1/employee-list.csv.age").exists(),
        "version 1's file stays: a later version never deletes one"
    );

    // a later run of one dashboard keeps the day's others, untouched and still listed
    let kept_file = day_file(&day, "employee-list");
    let kept = std::fs::read(&kept_file).unwrap();
    let run = export(&config, to.to_str().unwrap(), &["--only", "vacant-visits"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["carried"], serde_json::json!(["employee-list"]));
    assert_eq!(
        day_file(&day, "employee-list"),
        kept_file,
        "carried by reference"
    );
    assert_eq!(std::fs::read(&kept_file).unwrap(), kept);
    let third = day_manifest(&day);
    let names: Vec<&str> = third["dashboards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["employee-list", "vacant-visits"], "delivery order");
    assert_eq!(
        third["dashboards"][0]["carried_from"],
        second["generated_at"]
    );
    assert!(third["dashboards"][1]["carried_from"].is_null());

    // a carried file replaced at the destination is checked before the new manifest vouches
    // for it: it is dropped, reported, and its dashboard listed as failed
    let forged = age_encrypt_text(&sb, b"employee_number,name\r\nE000001,Forged Person\r\n");
    std::fs::write(&kept_file, &forged).unwrap();
    let run = export(&config, to.to_str().unwrap(), &["--only", "vacant-visits"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stderr
            .contains("v2/employee-list.csv.age was not carried")
            && run.stderr.contains("no longer matches its manifest entry"),
        "{}",
        run.stderr
    );
    let fourth = day_manifest(&day);
    let employees = fourth["dashboards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "employee-list")
        .expect("still listed");
    assert_eq!(employees["status"], "failed", "{employees}");
    assert!(employees["sha256"].is_null() && employees["file"].is_null());
    assert!(
        !day_manifest(&day)
            .to_string()
            .contains("v2/employee-list.csv.age"),
        "the forged file is listed by no version after it"
    );
}

/// Text encrypted to the sandbox recipient by the age CLI, as a forger with the public key would.
fn age_encrypt_text(sb: &Sandbox, plain: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = std::process::Command::new("age")
        .args(["-r", sb.var("ACC_AGE_RECIPIENT")])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(plain).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    out.stdout
}

/// A port nothing listens on (the listener that found it is closed again).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_source_exits_75_and_writes_nothing() {
    let sb = Sandbox::require();
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let config = sb.write_profile(dir.path(), "demo_us", Some(port), &sftp_section(&sb));
    let to = dir.path().join("out");
    let run = export(&config, to.to_str().unwrap(), &[]);
    assert_eq!(run.code, 75, "{}", run.stderr);
    assert!(
        files_under(&to).is_empty(),
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
    let port = closed_port();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_recipients_read_the_export_and_pull_takes_an_ssh_private_key() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "export_ssh").await;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("it_team");
    let public = ssh_key(&key);
    let config = profile(&sb, dir.path(), &db.name, "");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        &format!("age_recipients = [\"{}\"]", sb.var("ACC_AGE_RECIPIENT")),
        &format!(
            "age_recipients = [\"{}\", \"{}\"]",
            sb.var("ACC_AGE_RECIPIENT"),
            public.trim()
        ),
    );
    std::fs::write(&config, text).unwrap();
    let to = dir.path().join("out");
    let run = export(&config, to.to_str().unwrap(), &["--only", "employee-list"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let day = to.join("t").join(run.json()["date"].as_str().unwrap());
    // both recipients can read it: the age CLI with the ssh key, and the sandbox identity
    let by_ssh = Command::new("age")
        .args(["--decrypt", "--identity"])
        .arg(&key)
        .arg(day_file(&day, "employee-list"))
        .output()
        .unwrap();
    assert!(
        by_ssh.status.success(),
        "{}",
        String::from_utf8_lossy(&by_ssh.stderr)
    );
    assert_eq!(
        by_ssh.stdout,
        age_decrypt(&sb, &day_file(&day, "employee-list"))
    );
    let copy = dir.path().join("copy");
    let run = acc(
        &config,
        &[
            "pull",
            "--profile",
            "t",
            "--from",
            to.to_str().unwrap(),
            "--identity",
            key.to_str().unwrap(),
            "--out",
            copy.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        std::fs::read(copy.join("employee-list.csv")).unwrap(),
        by_ssh.stdout
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
    let cfg = acc::config::Config::load(acc::config::Env::from_process(), Some(config)).unwrap();
    let p = cfg
        .profile(Some("t"), acc::config::RawProfile::default())
        .unwrap();
    let req = acc::export::Request {
        source: acc::config::DashboardSource::Production,
        to: acc::delivery::Location::parse(&remote.url).unwrap(),
        only: acc::export::NAMES.to_vec(),
        keep_days: None,
        bom: false,
        spreadsheet_safe: false,
        dirs: Vec::new(),
        progress: acc::ui::progress::Mode::Lines,
    };
    let report = acc::export::export(&p, cfg.env(), &req, 1).await.unwrap();
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

/// A `.latest.tmp` that a run killed while moving `latest` left behind made every later export
/// exit 69 after publishing, so retention never ran again. The next run replaces it, and
/// leaves another host's work in progress alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_temporary_latest_a_killed_run_left_never_blocks_the_next_run_or_retention() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "export_leftover_tmp").await;
    let dir = tempfile::tempdir().unwrap();
    let config = profile(&sb, dir.path(), &db.name, "");
    let to = dir.path().join("out");
    let base = to.join("t");
    std::fs::create_dir_all(base.join("2020-01-01")).unwrap();
    std::fs::write(base.join("2020-01-01").join("manifest.json"), "{}").unwrap();
    std::fs::write(base.join(".latest.tmp"), "2020-01-01\n").unwrap();
    // a host that stopped delivering here long ago left its work: retention clears it
    let stale = base.join(".2020-01-01.partial-another_host-4242");
    std::fs::create_dir_all(&stale).unwrap();
    let run = export(
        &config,
        to.to_str().unwrap(),
        &["--only", "employee-list", "--keep-days", "2"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let summary = run.json();
    assert_eq!(summary["removed_days"], serde_json::json!(["2020-01-01"]));
    assert_eq!(
        std::fs::read_to_string(base.join("latest")).unwrap().trim(),
        summary["date"].as_str().unwrap()
    );
    assert!(!base.join(".latest.tmp").exists());
    assert!(!stale.exists(), "retention removes a dead host's old work");

    // another host delivering to the same destination today is mid-run: not ours to clear
    let theirs = base.join(format!(
        ".{}.partial-another_host-4242",
        summary["date"].as_str().unwrap()
    ));
    std::fs::create_dir_all(&theirs).unwrap();
    let run = export(
        &config,
        to.to_str().unwrap(),
        &["--only", "employee-list", "--keep-days", "2"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        theirs.is_dir(),
        "another host's work in progress is left alone"
    );
}

/// `acc pull --profile t --from <from> --out <out>` and `extra`.
fn pull_from(config: &Path, from: &str, out: &Path, extra: &[&str]) -> Run {
    let out = out.to_str().unwrap();
    let mut args = vec!["pull", "--profile", "t", "--from", from, "--out", out];
    args.extend_from_slice(extra);
    acc(config, &args)
}

/// Pulls the newest day from `from` (a directory or an SFTP URL); returns the dashboards pulled.
fn pulled(sb: &Sandbox, config: &Path, from: &str, out: &Path) -> Vec<String> {
    let identity = ["--identity", sb.var("ACC_AGE_IDENTITY"), "--json"];
    let run = pull_from(config, from, out, &identity);
    assert_eq!(run.code, 0, "{run:?}");
    let mut names: Vec<String> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".csv"))
        .collect();
    names.sort();
    names
}

/// `acc export --only <only>` to `to`, started with `ACC_PAUSE_AT=point`: returns it paused.
fn export_paused(
    config: &Path,
    to: &str,
    only: &str,
    point: &str,
    resume: Option<&Path>,
) -> (
    std::process::Child,
    std::io::BufReader<std::process::ChildStderr>,
) {
    let mut cmd = acc_command(config);
    cmd.args([
        "export",
        "--profile",
        "t",
        "--source",
        "production",
        "--to",
        to,
        "--only",
        only,
        "--json",
    ]);
    support::paused_at(&mut cmd, point, resume)
}

/// A same-day rerun of one dashboard that fails at signing, or is killed at any step of its
/// version going in, never costs the day a file it delivered: on a local directory and on
/// SFTP, `acc pull` gets all nine dashboards while the rerun waits at each step, after the
/// kill, and after the next run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_or_killed_rerun_never_loses_a_file_the_day_delivered() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "export_rerun_keeps").await;
    let dir = tempfile::tempdir().unwrap();
    let config = profile(&sb, dir.path(), &db.name, "");
    let remote = Remote::new(&sb, "rerun");
    let local = dir.path().join("out");
    let mut n = 0;
    let mut pull = |to: &str| {
        n += 1;
        pulled(&sb, &config, to, &dir.path().join(format!("pull-{n}")))
    };
    for to in [local.to_str().unwrap(), remote.url.as_str()] {
        let first = export(&config, to, &[]);
        assert_eq!(first.code, 0, "{first:?}");
        let all = pull(to);
        assert_eq!(all.len(), 9, "{all:?}");

        // a rerun whose signing fails publishes nothing, and the day keeps its nine files
        let garbage = dir.path().join("not-a-key");
        std::fs::write(&garbage, "not a key\n").unwrap();
        let bad = dir.path().join("bad");
        let _ = std::fs::create_dir(&bad);
        let unsigned = sb.write_profile(
            &bad,
            &db.name,
            None,
            &format!(
                "{}[profiles.t.export]\nsigning_key = \"{}\"\n",
                sftp_section(&sb),
                garbage.display()
            ),
        );
        let failed = export(&unsigned, to, &["--only", "client-list"]);
        assert_ne!(failed.code, 0, "{failed:?}");
        assert_eq!(pull(to), all, "{to}: after a failed signing");
        let ok = export(&config, to, &["--only", "client-list"]);
        assert_eq!(ok.code, 0, "{ok:?}");
        assert_eq!(pull(to), all);

        // kill -9 before and after the version goes in; readers see a whole day throughout
        for point in ["publish:version-ready", "publish:version-in-place"] {
            let (mut child, _) = export_paused(&config, to, "vacant-visits", point, None);
            assert_eq!(pull(to), all, "{to}: while a rerun waits at {point}");
            child.kill().unwrap();
            child.wait().unwrap();
            assert_eq!(pull(to), all, "{to}: after a kill at {point}");
            let next = export(&config, to, &["--only", "employee-list"]);
            assert_eq!(next.code, 0, "{to}: after a kill at {point}: {next:?}");
            assert_eq!(pull(to), all, "{to}: the run after a kill at {point}");
        }
    }
    let hidden: Vec<String> = std::fs::read_dir(local.join("t"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(
        hidden.is_empty(),
        "the runs after the kills cleared: {hidden:?}"
    );
}

/// Two hosts export the same day to one destination at the same moment (each with its own run
/// lock). Both aim at version 2: the one that gets there first publishes it, the other is told
/// to run again (75) and publishes nothing over it; its rerun carries the winner's files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_publishing_one_day_never_hide_each_others_files() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "export_two_hosts").await;
    let dir = tempfile::tempdir().unwrap();
    let config = profile(&sb, dir.path(), &db.name, "");
    let other = dir.path().join("other-host");
    std::fs::create_dir(&other).unwrap();
    let config_b = profile(&sb, &other, &db.name, "");
    let remote = Remote::new(&sb, "two-hosts");
    let first = export(&config, &remote.url, &["--only", "employee-list"]);
    assert_eq!(first.code, 0, "{first:?}");

    let resume = dir.path().join("resume");
    let (a, mut a_err) = export_paused(
        &config,
        &remote.url,
        "client-list",
        "publish:version-ready",
        Some(&resume),
    );
    let b = export(&config_b, &remote.url, &["--only", "vacant-visits"]);
    assert_eq!(b.code, 0, "{b:?}");
    assert_eq!(b.json()["version"], 2);
    std::fs::write(&resume, "").unwrap();
    let mut said = String::new();
    std::io::Read::read_to_string(&mut a_err, &mut said).unwrap();
    let a_done = a.wait_with_output().unwrap();
    assert_eq!(a_done.status.code(), Some(75), "{said}");
    assert!(said.contains("another run published version 2"), "{said}");
    let day = remote.day();
    let names = |m: &serde_json::Value| -> Vec<String> {
        m["dashboards"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(&day_manifest(&day)),
        ["employee-list", "vacant-visits"],
        "the version that went in first is the day"
    );
    let again = export(&config, &remote.url, &["--only", "client-list"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(again.json()["version"], 3);
    assert_eq!(
        names(&day_manifest(&day)),
        ["employee-list", "client-list", "vacant-visits"]
    );
}

/// Someone with write access to the destination adds an entry to the day's manifest, or
/// changes one's hash. The rerun checks the earlier manifest's signature against its own key
/// first: it fails, so nothing of that day is carried, the rerun reports what it dropped, and
/// its own signature covers only what it delivered and checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_entry_or_hash_in_the_days_manifest_is_never_carried_or_signed() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "export_forged").await;
    let dir = tempfile::tempdir().unwrap();
    let (config, signers) = signing_profile(&sb, dir.path(), &db.name);
    let to = dir.path().join("out");
    for forgery in ["an extra entry", "a changed hash"] {
        let full = export(&config, to.to_str().unwrap(), &[]);
        assert_eq!(full.code, 0, "{full:?}");
        let day = to.join("t").join(full.json()["date"].as_str().unwrap());
        let path = current_manifest(&day);
        let earlier = day_file(&day, "employee-list");
        let mut m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let entries = m["dashboards"].as_array_mut().unwrap();
        if forgery == "an extra entry" {
            let mut forged = entries[0].clone();
            let file = forged["file"].as_str().unwrap().to_string();
            forged["name"] = "forged-dashboard".into();
            forged["file"] = "forged-dashboard.csv.age".into();
            std::fs::copy(day.join(&file), day.join("forged-dashboard.csv.age")).unwrap();
            entries.push(forged);
        } else {
            let e = entries
                .iter_mut()
                .find(|e| e["name"] == "employee-list")
                .unwrap();
            e["sha256"] = "0".repeat(64).into();
        }
        std::fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();

        let rerun = export(&config, to.to_str().unwrap(), &["--only", "client-list"]);
        assert_eq!(rerun.code, 3, "{forgery}: {rerun:?}");
        assert!(
            rerun.stderr.contains("not carried"),
            "{forgery}: {}",
            rerun.stderr
        );
        assert_ne!(current_manifest(&day), path, "{forgery}: a new version");
        let m = day_manifest(&day);
        let ok: Vec<&str> = m["dashboards"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["status"] == "ok")
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            ok,
            ["client-list"],
            "{forgery}: only what this run checked is signed"
        );
        assert!(!m.to_string().contains("forged-dashboard"), "{forgery}");
        assert_openssh_verifies(&signers, &day);
        // the earlier files were not signed again, and not deleted either: they stay in their
        // version until retention removes the day
        assert!(
            earlier.exists(),
            "{forgery}: the earlier employee-list stays"
        );
    }
}

/// The day manifest records its kind, under the signature: a signed sheets manifest copied
/// over the same day's export is refused by pull (65). A signed day pulled by a profile with
/// no allowed signers says, every time, that nobody checked who wrote it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_refuses_a_sheets_manifest_over_an_export_day_and_warns_when_nothing_is_checked() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "pull_kind").await;
    let dir = tempfile::tempdir().unwrap();
    let (config, _signers) = signing_profile(&sb, dir.path(), &db.name);
    let to = dir.path().join("out");
    let run = export(&config, to.to_str().unwrap(), &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let date = run.json()["date"].as_str().unwrap().to_string();
    let pull = |config: &Path, out: &str| {
        let (from, out) = (to.to_str().unwrap(), dir.path().join(out));
        pull_from(config, from, &out, &["--keep-encrypted"])
    };
    // with no allowed signers, the signed day is pulled with a warning that nothing was checked
    let unchecked = dir.path().join("unchecked");
    std::fs::create_dir(&unchecked).unwrap();
    let plain = profile(&sb, &unchecked, &db.name, "");
    let warned = pull(&plain, "pull-unchecked");
    assert_eq!(warned.code, 0, "{warned:?}");
    assert!(
        warned.stderr.contains("signature was not checked"),
        "{}",
        warned.stderr
    );

    let sheets = acc(
        &config,
        &[
            "sheets",
            "--profile",
            "t",
            "--source",
            "production",
            "--date",
            &date,
            "--to",
            to.to_str().unwrap(),
            "--format",
            "csv",
        ],
    );
    assert_eq!(sheets.code, 0, "{sheets:?}");
    let (export_day, sheets_day) = (to.join("t").join(&date), to.join("t/sheets").join(&date));
    for f in ["manifest.json", "manifest.json.sig"] {
        std::fs::copy(
            current_version(&sheets_day).join(f),
            current_version(&export_day).join(f),
        )
        .unwrap();
    }
    let refused = pull(&config, "pull-swapped");
    assert_eq!(refused.code, 65, "{refused:?}");
    assert!(
        refused.stderr.contains("is a sheets day"),
        "{}",
        refused.stderr
    );
}

/// `latest` cannot take a reader back: once this host pulled a signed day, a `latest` that
/// names an older one is refused (65) unless `--date` names it on purpose.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_refuses_a_latest_older_than_a_signed_day_it_already_pulled() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "pull_rollback").await;
    let dir = tempfile::tempdir().unwrap();
    let (config, _signers) = signing_profile(&sb, dir.path(), &db.name);
    let to = dir.path().join("out");
    let run = export(&config, to.to_str().unwrap(), &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let date = run.json()["date"].as_str().unwrap().to_string();
    let pull = |out: &str, extra: &[&str]| {
        let (from, out) = (to.to_str().unwrap(), dir.path().join(out));
        pull_from(
            &config,
            from,
            &out,
            &[&["--keep-encrypted"], extra].concat(),
        )
    };
    assert_eq!(pull("first", &[]).code, 0);
    let newest = dir.path().join("store/t/.pulled-newest");
    assert_eq!(std::fs::read_to_string(&newest).unwrap().trim(), date);
    // as if this host had pulled the next day before the destination went back to today's
    let next = (chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d").unwrap()
        + chrono::Days::new(1))
    .to_string();
    std::fs::write(&newest, format!("{next}\n")).unwrap();
    let refused = pull("rolled-back", &[]);
    assert_eq!(refused.code, 65, "{refused:?}");
    assert!(refused.stderr.contains("rolled back"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains(&format!("--date {date}")),
        "{}",
        refused.stderr
    );
    let named = pull("named", &["--date", &date]);
    assert_eq!(named.code, 0, "{named:?}");
    assert_eq!(
        std::fs::read_to_string(&newest).unwrap().trim(),
        next,
        "never moves back"
    );
}

/// `pull.require_signature` is on once allowed signers are set: an unsigned day is refused.
/// Turned off, the day is taken with a warning; turned on with nothing to check against, pull
/// refuses to start (78).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_require_signature_refuses_what_it_cannot_check_unless_turned_off() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "pull_require_sig").await;
    let dir = tempfile::tempdir().unwrap();
    let (config, signers) = signing_profile(&sb, dir.path(), &db.name);
    let to = dir.path().join("out");
    let run = export(&config, to.to_str().unwrap(), &["--only", "employee-list"]);
    assert_eq!(run.code, 0, "{run:?}");
    let day = to.join("t").join(run.json()["date"].as_str().unwrap());
    std::fs::remove_file(current_manifest(&day).with_extension("json.sig")).unwrap();
    let pull = |config: &Path, out: &str| {
        let (from, out) = (to.to_str().unwrap(), dir.path().join(out));
        pull_from(
            config,
            from,
            &out,
            &["--identity", sb.var("ACC_AGE_IDENTITY")],
        )
    };
    let refused = pull(&config, "default");
    assert_eq!(refused.code, 65, "{refused:?}");
    assert!(refused.stderr.contains("not signed"), "{}", refused.stderr);

    let layer = |name: &str, extra: &str| {
        let d = dir.path().join(name);
        std::fs::create_dir(&d).unwrap();
        profile(&sb, &d, &db.name, extra)
    };
    let off = layer(
        "off",
        &format!(
            "[profiles.t.export]\nallowed_signers = \"{}\"\n[profiles.t.pull]\nrequire_signature = false\n",
            signers.display()
        ),
    );
    let taken = pull(&off, "off-out");
    assert_eq!(taken.code, 0, "{taken:?}");
    assert!(
        taken.stderr.contains("require_signature is off"),
        "{}",
        taken.stderr
    );
    assert!(dir.path().join("off-out/employee-list.csv").exists());

    let nothing = layer("nothing", "[profiles.t.pull]\nrequire_signature = true\n");
    let run = pull(&nothing, "nothing-out");
    assert_eq!(run.code, 78, "{run:?}");
    assert!(
        run.stderr.contains("pull.require_signature is on"),
        "{}",
        run.stderr
    );
    assert!(!dir.path().join("nothing-out").exists());
}
