//! TLS and libpq's conventions against the sandbox's real clusters, which admit acc's roles
//! only over TLS (`hostssl`): refusals exit 77 and name the setting to change, the client
//! certificate login, `pg_stat_ssl` during a real snapshot and restore, the three ways of
//! naming a database, and what reaches the environment of `pg_dump`.

mod support;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use acc::config::Config;

use acc::env::Env;
use support::{Sandbox, ScratchCluster, StagingDb, TestDb, acc, acc_command};

/// An acc.toml with one profile `t` whose production section is `production` verbatim.
fn profile(sb: &Sandbox, dir: &Path, production: &str, extra: &str) -> PathBuf {
    sb.write_profile_with(dir, production, extra)
}

fn password_file(sb: &Sandbox) -> String {
    format!("{}/secrets/pg_acc_password", sb.var("ACC_SANDBOX"))
}

fn ca(sb: &Sandbox, name: &str) -> String {
    format!("{}/{name}", sb.var("ACC_TLS_DIR"))
}

/// The production section for `db` as user acc, with `tls` lines added.
fn keys(sb: &Sandbox, db: &str, tls: &str) -> String {
    format!(
        "host = \"127.0.0.1\"\nport = {}\ndbname = \"{db}\"\nuser = \"acc\"\npassword_file = \"{}\"\n{tls}",
        sb.prod_port(),
        password_file(sb)
    )
}

fn snapshot(config: &Path) -> support::Run {
    acc(config, &["snapshot", "--profile", "t", "--now", "--json"])
}

#[test]
fn cleartext_is_refused_by_the_server_and_acc_exits_77_naming_tls() {
    let sb = Sandbox::require();
    let dir = tempfile::tempdir().unwrap();
    let config = profile(
        &sb,
        dir.path(),
        &keys(&sb, "demo_us", "sslmode = \"disable\"\n"),
        "",
    );
    let run = snapshot(&config);
    assert_eq!(run.code, 77, "{run:?}");
    assert!(
        run.stderr.contains("accepts only TLS connections")
            && run.stderr.contains("sslmode = \"verify-full\""),
        "{}",
        run.stderr
    );
    assert!(
        !dir.path().join("store/t/latest").exists(),
        "nothing was captured"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_for_another_name_is_refused_under_verify_full_and_accepted_under_verify_ca()
{
    let sb = Sandbox::require();
    let prod = TestDb::clone_of(&sb, "demo_us", "tlsname").await;
    let dir = tempfile::tempdir().unwrap();
    // the name asked for is db.example.org; the address is the sandbox's, whose certificate is
    // for 127.0.0.1 and localhost
    let section = |mode: &str| {
        format!(
            "host = \"db.example.org\"\nhostaddr = \"127.0.0.1\"\nport = {}\ndbname = \"{}\"\nuser = \"acc\"\n\
             password_file = \"{}\"\nsslrootcert = \"{}\"\nsslmode = \"{mode}\"\n",
            sb.prod_port(),
            prod.name,
            password_file(&sb),
            ca(&sb, "ca.crt")
        )
    };
    let config = profile(&sb, dir.path(), &section("verify-full"), "");
    let run = snapshot(&config);
    assert_eq!(run.code, 77, "{run:?}");
    assert!(
        run.stderr
            .contains("the certificate is for 127.0.0.1, localhost, not db.example.org"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("verify-ca"),
        "the hint names the setting: {}",
        run.stderr
    );

    // verify-ca checks the chain only, in acc and in pg_dump (given hostaddr too)
    let config = profile(&sb, dir.path(), &section("verify-ca"), "");
    let run = snapshot(&config);
    assert_eq!(run.code, 0, "{run:?}");
}

#[test]
fn a_certificate_from_another_ca_is_refused_under_verify_ca() {
    let sb = Sandbox::require();
    let dir = tempfile::tempdir().unwrap();
    let other = ca(&sb, "other-ca.crt");
    let config = profile(
        &sb,
        dir.path(),
        &keys(
            &sb,
            "demo_us",
            &format!("sslmode = \"verify-ca\"\nsslrootcert = \"{other}\"\n"),
        ),
        "",
    );
    let run = snapshot(&config);
    assert_eq!(run.code, 77, "{run:?}");
    assert!(
        run.stderr
            .contains(&format!("the certificate is not signed by a CA in {other}")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("sslrootcert"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_client_certificate_login_works_and_a_key_others_can_read_is_refused_before_connecting()
{
    let sb = Sandbox::require();
    let prod = TestDb::clone_of(&sb, "demo_us", "tlscert").await;
    prod.admin()
        .await
        .batch_execute(&format!(
            "GRANT CONNECT ON DATABASE {} TO acc_cert",
            prod.name
        ))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let section = |port: u16, key: &str| {
        format!(
            "host = \"127.0.0.1\"\nport = {port}\ndbname = \"{}\"\nuser = \"acc_cert\"\n\
             sslrootcert = \"{}\"\nsslcert = \"{}\"\nsslkey = \"{key}\"\n",
            prod.name,
            ca(&sb, "ca.crt"),
            ca(&sb, "client-acc_cert.crt"),
        )
    };
    // no password anywhere: the certificate is the login, for acc and for its pg_dump
    let config = profile(
        &sb,
        dir.path(),
        &section(sb.prod_port(), &ca(&sb, "client-acc_cert.key")),
        "",
    );
    let run = snapshot(&config);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.json()["label"].is_string());

    // a readable copy of the key, and a port nobody listens on: were a connection attempted,
    // the run would exit 75 (unreachable), not 77
    let loose = dir.path().join("loose.key");
    std::fs::copy(ca(&sb, "client-acc_cert.key"), &loose).unwrap();
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
    // a store of its own: the first run's label may still be this second's
    let second = dir.path().join("loose");
    std::fs::create_dir_all(&second).unwrap();
    let config = profile(
        &sb,
        &second,
        &section(support::free_port(), loose.to_str().unwrap()),
        "[profiles.t.snapshot]\nretry_seconds = 0\n",
    );
    let run = snapshot(&config);
    assert_eq!(run.code, 77, "{run:?}");
    assert!(
        run.stderr.contains("is readable by others (mode 644)") && run.stderr.contains("chmod 600"),
        "{}",
        run.stderr
    );
}

/// Every backend on either cluster whose application_name starts with "acc", and whether it
/// is on TLS, sampled until `stop`.
async fn watch_backends(
    sb: &Sandbox,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> BTreeSet<(String, bool)> {
    let prod = sb.admin("ACC_PROD_URL", "postgres").await;
    let staging = sb.admin("ACC_STAGING_URL", "postgres").await;
    let sql =
        "SELECT a.application_name, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
               WHERE a.application_name LIKE 'acc%'";
    let mut seen = BTreeSet::new();
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        for c in [&prod, &staging] {
            for r in c.query(sql, &[]).await.unwrap() {
                seen.insert((r.get::<_, String>(0), r.get::<_, bool>(1)));
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    seen
}

#[tokio::test(flavor = "multi_thread")]
async fn every_backend_acc_and_its_pg_dump_and_pg_restore_open_is_on_tls() {
    let sb = Sandbox::require();
    let prod = TestDb::clone_of(&sb, "demo_us", "tlsstat").await;
    let staging = StagingDb::new(&sb, "tlsstat");
    let dir = tempfile::tempdir().unwrap();
    let config = sb.write_profile(dir.path(), &prod.name, None, &staging.sections(&sb));

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (sb, stop) = (Sandbox::require(), stop.clone());
        tokio::spawn(async move { watch_backends(&sb, stop).await })
    };
    let config2 = config.clone();
    let runs = tokio::task::spawn_blocking(move || {
        let snap = acc(
            &config2,
            &["snapshot", "--profile", "t", "--now", "--jobs", "2"],
        );
        let restore = acc(&config2, &["restore", "--profile", "t", "--jobs", "2"]);
        (snap, restore)
    })
    .await
    .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen = watcher.await.unwrap();
    assert_eq!(runs.0.code, 0, "{:?}", runs.0);
    assert_eq!(runs.1.code, 0, "{:?}", runs.1);
    let apps: BTreeSet<&str> = seen.iter().map(|(a, _)| a.as_str()).collect();
    for wanted in ["acc pg_dump", "acc pg_restore", "acc restore"] {
        assert!(apps.contains(wanted), "{wanted} never seen among {apps:?}");
    }
    assert!(
        apps.iter().any(|a| a.starts_with("acc snapshot")),
        "no snapshot session among {apps:?}"
    );
    let clear: Vec<_> = seen.iter().filter(|(_, ssl)| !ssl).collect();
    assert!(clear.is_empty(), "backends without TLS: {clear:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_profile_by_url_by_service_and_pgpass_and_by_keys_reach_the_same_database_as_the_same_user()
 {
    let sb = Sandbox::require();
    let dir = tempfile::tempdir().unwrap();
    let port = sb.prod_port();
    let root = ca(&sb, "ca.crt");
    let services = dir.path().join("pg_service.conf");
    std::fs::write(
        &services,
        format!(
            "# a service as an ops engineer writes one\n[agency-prod]\nhost=127.0.0.1\nport={port}\n\
             dbname=demo_us\nuser=acc\nsslmode=verify-full\nsslrootcert={root}\n"
        ),
    )
    .unwrap();
    let pgpass = dir.path().join("pgpass");
    let password = std::fs::read_to_string(password_file(&sb)).unwrap();
    std::fs::write(
        &pgpass,
        format!("127.0.0.1:{port}:demo_us:acc:{}\n", password.trim()),
    )
    .unwrap();
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let text = format!(
        "[defaults]\nregion = \"us-can\"\nstore = \"{store}\"\n\
         [profiles.keys.production]\n{keys}\n\
         [profiles.url.production]\nurl = \"postgresql://acc@127.0.0.1:{port}/demo_us?sslmode=verify-full&sslrootcert={root}\"\n\
         password_file = \"{pw}\"\n\
         [profiles.svc.production]\nservice = \"agency-prod\"\n",
        store = dir.path().join("store").display(),
        keys = keys(&sb, "demo_us", &format!("sslrootcert = \"{root}\"\n")),
        pw = password_file(&sb),
    );
    let file = dir.path().join("acc.toml");
    std::fs::write(&file, text).unwrap();
    let env = Env::from_pairs([
        ("ACC_SYSTEM_CONFIG_DIR", "/nonexistent"),
        ("HOME", "/nonexistent"),
        ("PGSERVICEFILE", services.to_str().unwrap()),
        ("PGPASSFILE", pgpass.to_str().unwrap()),
    ]);
    let config = Config::load(env, Some(file.clone())).unwrap();
    let mut seen = Vec::new();
    for name in ["keys", "url", "svc"] {
        let p = config.profile(Some(name), Default::default()).unwrap();
        let c = acc::pg::connect(p.production().unwrap(), config.env(), "acc test")
            .await
            .unwrap_or_else(|e| panic!("{name}: {} ({:?})", e.message(), e.hint_text()));
        let r = c
            .query_one(
                "SELECT current_user::text, current_database()::text, inet_server_port(), s.ssl
                 FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()",
                &[],
            )
            .await
            .unwrap();
        seen.push((
            r.get::<_, String>(0),
            r.get::<_, String>(1),
            r.get::<_, i32>(2),
            r.get::<_, bool>(3),
        ));
    }
    let want = (
        "acc".to_string(),
        "demo_us".to_string(),
        i32::from(port),
        true,
    );
    assert!(seen.iter().all(|s| *s == want), "{seen:?}");

    // doctor shows where each setting came from, and never the password
    let out = acc_command(&file)
        .env("PGSERVICEFILE", &services)
        .env("PGPASSFILE", &pgpass)
        .args(["doctor", "--profile", "svc", "--no-checks"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "host service agency-prod in {}",
            services.display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("from the password file {}", pgpass.display())),
        "{stdout}"
    );
    assert!(!stdout.contains(password.trim()), "{stdout}");

    // libpq's rule: a password file others can read is not used
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o644)).unwrap();
    let p = config.profile(Some("svc"), Default::default()).unwrap();
    let err = acc::pg::connect(p.production().unwrap(), config.env(), "acc test")
        .await
        .map(|_| ())
        .expect_err("a readable .pgpass is refused");
    assert_eq!(err.exit_code(), 78);
    assert!(
        err.message().contains("readable by group or others"),
        "{}",
        err.message()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pg_dump_gets_no_pgpassword_and_no_secret_of_another_section() {
    let sb = Sandbox::require();
    let prod = TestDb::clone_of(&sb, "demo_us", "tlsenv").await;
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let log = dir.path().join("env");
    // a pg_dump first on PATH that records its environment and the modes of its password
    // file, then runs the real one
    std::fs::write(
        bin.join("pg_dump"),
        format!(
            "#!/bin/sh\nn=$$\nenv > {log}.$n\nstat -c '%a' \"$PGPASSFILE\" \"$(dirname \"$PGPASSFILE\")\" > {log}.$n.modes\n\
             exec /usr/bin/pg_dump \"$@\"\n",
            log = log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(bin.join("pg_dump"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let prod_pw = std::fs::read_to_string(password_file(&sb))
        .unwrap()
        .trim()
        .to_string();
    let marker = format!("staging-secret-{}", std::process::id());
    let config = profile(
        &sb,
        dir.path(),
        &format!(
            "host = \"127.0.0.1\"\nport = {}\ndbname = \"{}\"\nuser = \"acc\"\npassword_env = \"ACC_T_PROD_PW\"\nsslrootcert = \"{}\"\n",
            sb.prod_port(),
            prod.name,
            ca(&sb, "ca.crt")
        ),
        "[profiles.t.staging]\nhost = \"127.0.0.1\"\ndbname = \"x\"\nuser = \"acc\"\npassword_env = \"ACC_T_STAGING_PW\"\n\
         [profiles.t.snowflake]\naccount = \"a\"\nuser = \"u\"\npassword_env = \"ACC_T_SNOWFLAKE_PW\"\n",
    );
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = acc_command(&config)
        .args(["snapshot", "--profile", "t", "--now"])
        .env("PATH", path)
        .env("ACC_T_PROD_PW", &prod_pw)
        .env("ACC_T_STAGING_PW", &marker)
        .env("ACC_T_SNOWFLAKE_PW", format!("{marker}-sf"))
        .env("PGPASSWORD", format!("{marker}-pgpassword"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut runs = 0;
    let allowed_extra = [
        "PGAPPNAME",
        "PGCONNECT_TIMEOUT",
        "PGSSLMODE",
        "PGSSLROOTCERT",
        "PGPASSFILE",
        // what the recording shell itself adds
        "PWD",
        "SHLVL",
        "_",
        "OLDPWD",
    ];
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if !name.starts_with("env.") || name.ends_with(".modes") {
            continue;
        }
        runs += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains(&marker),
            "another section's secret reached pg_dump:\n{text}"
        );
        assert!(
            !text.contains(&prod_pw),
            "the password itself reached pg_dump's environment"
        );
        let vars: Vec<(&str, &str)> = text.lines().filter_map(|l| l.split_once('=')).collect();
        for (k, _) in &vars {
            assert!(
                acc::process::ALLOWED.contains(k) || allowed_extra.contains(k),
                "{k} reached pg_dump"
            );
        }
        let get = |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
        assert_eq!(get("PGSSLMODE"), Some("verify-full"));
        assert_eq!(get("PGSSLROOTCERT"), Some(ca(&sb, "ca.crt").as_str()));
        let passfile = get("PGPASSFILE").expect("a password file");
        assert!(
            !Path::new(passfile).exists(),
            "{passfile} is removed after the run"
        );
        let modes = std::fs::read_to_string(format!("{}.modes", path.display())).unwrap();
        assert_eq!(modes.split_whitespace().collect::<Vec<_>>(), ["600", "700"]);
    }
    assert_eq!(runs, 2, "pg_dump runs twice: pre-data and post-data");
}

#[test]
fn a_server_without_tls_is_refused_under_require_and_above() {
    let sb = Sandbox::require();
    let scratch = ScratchCluster::start(&sb, "notls");
    let dir = tempfile::tempdir().unwrap();
    for mode in ["require", "verify-ca", "verify-full"] {
        let config = profile(
            &sb,
            dir.path(),
            &format!(
                "host = \"127.0.0.1\"\nport = {}\ndbname = \"postgres\"\nuser = \"postgres\"\n\
                 sslmode = \"{mode}\"\nsslrootcert = \"{}\"\n",
                scratch.port,
                ca(&sb, "ca.crt")
            ),
            "",
        );
        let run = snapshot(&config);
        assert_eq!(run.code, 77, "{mode}: {run:?}");
        assert!(
            run.stderr.contains("the server does not offer TLS")
                && run
                    .stderr
                    .contains(&format!("sslmode \"{mode}\" never falls back to cleartext")),
            "{mode}: {}",
            run.stderr
        );
    }
}

#[test]
fn doctor_shows_the_protocol_and_certificate_and_warns_under_a_weaker_mode() {
    let sb = Sandbox::require();
    let dir = tempfile::tempdir().unwrap();
    let prom = dir.path().join("acc.prom");
    for (mode, level) in [("verify-full", "ok"), ("require", "WARN")] {
        let config = profile(
            &sb,
            dir.path(),
            &keys(
                &sb,
                "demo_us",
                &format!(
                    "sslmode = \"{mode}\"\nsslrootcert = \"{}\"\n",
                    ca(&sb, "ca.crt")
                ),
            ),
            "",
        );
        let run = acc(&config, &["doctor", "--profile", "t"]);
        let line = run
            .stdout
            .lines()
            .find(|l| l.contains("production tls"))
            .unwrap_or_else(|| panic!("no tls check: {run:?}"));
        assert!(line.trim_start().starts_with(level), "{mode}: {line}");
        assert!(line.contains("TLSv1."), "{line}");
        assert!(
            line.contains("certificate CN=localhost expires in 82"),
            "{line}"
        );
        if mode == "require" {
            assert!(
                run.stdout.contains("verify-full"),
                "the warning names the fix: {}",
                run.stdout
            );
        }
        let status = acc(
            &config,
            &[
                "status",
                "--profile",
                "t",
                "--prometheus",
                prom.to_str().unwrap(),
            ],
        );
        let text = std::fs::read_to_string(&prom).unwrap_or_else(|e| panic!("{e}: {status:?}"));
        let expires: i64 = text
            .lines()
            .find_map(|l| {
                l.strip_prefix(
                    "acc_tls_certificate_expiry_timestamp_seconds{profile=\"t\",server=\"production\"} ",
                )
            })
            .unwrap_or_else(|| panic!("no expiry metric:\n{text}"))
            .parse()
            .unwrap();
        let days = (expires - chrono::Utc::now().timestamp()) / 86_400;
        assert!((800..=825).contains(&days), "{days}");
    }
}

/// A CRL from the sandbox CA: empty, or revoking the sandbox's server certificate.
fn crl(sb: &Sandbox, dir: &Path, revoke_server: bool) -> PathBuf {
    let base = dir.join(if revoke_server { "revoked" } else { "empty" });
    std::fs::create_dir_all(&base).unwrap();
    std::fs::write(base.join("index.txt"), "").unwrap();
    std::fs::write(base.join("crlnumber"), "01\n").unwrap();
    let cnf = base.join("ca.cnf");
    std::fs::write(
        &cnf,
        format!(
            "[ca]\ndefault_ca = d\n[d]\ndatabase = {0}/index.txt\ncrlnumber = {0}/crlnumber\ndefault_md = sha256\ndefault_crl_days = 30\n",
            base.display()
        ),
    )
    .unwrap();
    let tls = sb.path("ACC_TLS_DIR");
    let openssl = |extra: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(["ca", "-config", cnf.to_str().unwrap(), "-keyfile"])
            .arg(tls.join("ca.key"))
            .arg("-cert")
            .arg(tls.join("ca.crt"))
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    if revoke_server {
        openssl(&["-revoke", tls.join("server.crt").to_str().unwrap()]);
    }
    let out = base.join("crl.pem");
    openssl(&["-gencrl", "-out", out.to_str().unwrap()]);
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_server_certificate_is_refused_under_sslcrl() {
    let sb = Sandbox::require();
    let prod = TestDb::clone_of(&sb, "demo_us", "tlscrl").await;
    let dir = tempfile::tempdir().unwrap();
    for (revoked, code) in [(false, 0), (true, 77)] {
        // a store of its own each time: two on-demand snapshots in one second share a label,
        // and the second would find it complete without connecting
        let case = dir.path().join(if revoked {
            "revoked-case"
        } else {
            "empty-case"
        });
        std::fs::create_dir_all(&case).unwrap();
        let list = crl(&sb, &case, revoked);
        let config = profile(
            &sb,
            &case,
            &keys(
                &sb,
                &prod.name,
                &format!(
                    "sslrootcert = \"{}\"\nsslcrl = \"{}\"\n",
                    ca(&sb, "ca.crt"),
                    list.display()
                ),
            ),
            "",
        );
        let run = snapshot(&config);
        assert_eq!(run.code, code, "revoked {revoked}: {run:?}");
        if revoked {
            assert!(
                run.stderr.contains("the certificate is revoked"),
                "{}",
                run.stderr
            );
        }
    }
}

#[test]
fn a_certificate_near_expiry_is_warned_about_and_an_expired_one_refused() {
    let sb = Sandbox::require();
    let dir = tempfile::tempdir().unwrap();
    let section = |port: u16| {
        format!(
            "host = \"127.0.0.1\"\nport = {port}\ndbname = \"postgres\"\nuser = \"postgres\"\nsslrootcert = \"{}\"\n",
            ca(&sb, "ca.crt")
        )
    };
    let soon = ScratchCluster::start_with_certificate(&sb, "soon", 10);
    let config = profile(&sb, dir.path(), &section(soon.port), "");
    let run = acc(&config, &["doctor", "--profile", "t"]);
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains("production certificate"))
        .unwrap_or_else(|| panic!("no expiry warning: {run:?}"));
    assert!(line.trim_start().starts_with("WARN"), "{line}");
    assert!(
        line.contains("CN=scratch expires in 9 days")
            || line.contains("CN=scratch expires in 10 days"),
        "{line}"
    );
    drop(soon);

    let gone = ScratchCluster::start_with_certificate(&sb, "gone", 0);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let config = profile(&sb, dir.path(), &section(gone.port), "");
    let run = snapshot(&config);
    assert_eq!(run.code, 77, "{run:?}");
    assert!(
        run.stderr.contains("the certificate expired at"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("renewed"), "{}", run.stderr);
}
