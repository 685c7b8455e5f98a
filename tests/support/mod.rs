//! Shared helpers for integration tests that need the sandbox's real servers.
//!
//! A test that needs a server calls `Sandbox::require()`: when the sandbox is not up it fails
//! with the command to run, never skips.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use acc::config::Config;

use acc::env::Env;

pub mod buckets;
mod delivery;
pub mod exports;
pub mod printed;
pub mod replays;
pub mod restores;
pub mod templates;
#[allow(unused_imports)]
pub use delivery::{
    Remote, assert_no_plaintext, current_version, day_file, day_manifest, files_under, sftp_section,
};

pub struct Sandbox {
    vars: BTreeMap<String, String>,
}

impl Sandbox {
    /// The sandbox's variables, from `$ACC_SANDBOX/env` or `.sandbox/env` in the work tree.
    pub fn require() -> Sandbox {
        let dir = std::env::var("ACC_SANDBOX")
            .map(PathBuf::from)
            .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join(".sandbox"));
        let file = dir.join("env");
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| {
            panic!("this test needs the sandbox servers, but {} is unreadable ({e}); run scripts/sandbox up && scripts/sandbox seed, or scripts/test", file.display())
        });
        let vars = text
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .flat_map(|l| l.split(' ').filter_map(|kv| kv.split_once('=')))
            .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
            .collect();
        Sandbox { vars }
    }

    pub fn var(&self, key: &str) -> &str {
        self.vars.get(key).unwrap_or_else(|| {
            panic!("the sandbox env file has no {key}; rerun scripts/sandbox up")
        })
    }

    pub fn path(&self, key: &str) -> PathBuf {
        PathBuf::from(self.var(key))
    }

    /// The sandbox's acc.toml, loaded as acc would load it, with no system or user layers.
    pub fn config(&self) -> Config {
        let env = Env::from_pairs([
            ("ACC_SYSTEM_CONFIG_DIR", "/nonexistent"),
            ("HOME", "/nonexistent"),
        ]);
        Config::load(env, Some(self.path("ACC_CONFIG"))).expect("the sandbox acc.toml loads")
    }

    /// An admin connection to a cluster (`ACC_PROD_URL` or `ACC_STAGING_URL`) and database.
    pub async fn admin(&self, url_var: &str, db: &str) -> tokio_postgres::Client {
        connect(&format!("{}/{db}", self.var(url_var)), url_var).await
    }
}

/// A connection to `url` over TLS, the server's certificate checked against the sandbox CA
/// (the sandbox admits only TLS) and the SCRAM login bound to the TLS channel (which proves
/// acc's connector provides the binding), its connection task spawned; `None` when the server
/// refuses.
pub async fn try_connect(url: &str) -> Option<tokio_postgres::Client> {
    let mut cfg: tokio_postgres::Config = url.parse().ok()?;
    cfg.ssl_mode(tokio_postgres::config::SslMode::Require);
    cfg.channel_binding(tokio_postgres::config::ChannelBinding::Require);
    let tls = acc::pg::Tls {
        mode: acc::pg::SslMode::VerifyFull,
        root_cert: Some(acc::pg::RootCert::File(
            Sandbox::require().path("ACC_TLS_DIR").join("ca.crt"),
        )),
        cert: None,
        key: None,
        crl: None,
    };
    let connector = acc::pg::tls::connector(&tls, "the sandbox").expect("the sandbox CA loads");
    let (client, conn) = cfg.connect(connector.make).await.ok()?;
    tokio::spawn(conn);
    Some(client)
}

/// A connection to `url`, or a failure naming `what`.
pub async fn connect(url: &str, what: &str) -> tokio_postgres::Client {
    try_connect(url)
        .await
        .unwrap_or_else(|| panic!("cannot reach {what}; is the sandbox up? run scripts/sandbox up"))
}

/// Runs cleanup from `Drop`, which cannot be async: a short-lived runtime on its own thread.
fn clean_up<F: std::future::Future<Output = ()> + Send + 'static>(work: F) {
    let _ = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(work)
    })
    .join();
}

/// A production database of its own for one test, cloned from a seeded demo database and
/// dropped when the guard goes.
pub struct TestDb {
    pub name: String,
    admin_url: String,
}

impl TestDb {
    /// Clones `template` (e.g. `demo_us`) on the production cluster as `acc_t_<tag>_<pid>`.
    pub async fn clone_of(sb: &Sandbox, template: &str, tag: &str) -> TestDb {
        let name = format!("acc_t_{tag}_{}", std::process::id());
        let admin = sb.admin("ACC_PROD_URL", "postgres").await;
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
            .unwrap();
        // another test may be reading the template for a moment; cloning needs it idle
        let mut tries = 0;
        loop {
            let r = admin
                .batch_execute(&format!(
                    "CREATE DATABASE {name} TEMPLATE {template} OWNER agency_owner"
                ))
                .await;
            match r {
                Ok(()) => break,
                Err(e) if tries < 100 && format!("{e:?}").contains("being accessed") => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot clone {template} into {name}: {e:?}"),
            }
        }
        admin
            .batch_execute(&format!(
                "GRANT CONNECT, CREATE, TEMPORARY ON DATABASE {name} TO acc"
            ))
            .await
            .unwrap();
        // the drill replays into the sandbox's own databases; each test starts without a ledger
        connect(&format!("{}/{name}", sb.var("ACC_PROD_URL")), &name)
            .await
            .batch_execute("DROP SCHEMA IF EXISTS acc_replay CASCADE")
            .await
            .unwrap();
        TestDb {
            name,
            admin_url: sb.var("ACC_PROD_URL").to_string(),
        }
    }

    pub async fn admin(&self) -> tokio_postgres::Client {
        connect(&format!("{}/{}", self.admin_url, self.name), &self.name).await
    }

    /// A new, empty production database `acc_t_<tag>_<pid>` in the libc locale `locale`,
    /// owned by `agency_owner`, which acc may connect to.
    pub async fn in_locale(sb: &Sandbox, locale: &str, tag: &str) -> TestDb {
        let name = format!("acc_t_{tag}_{}", std::process::id());
        let admin = sb.admin("ACC_PROD_URL", "postgres").await;
        for sql in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!(
                "CREATE DATABASE {name} TEMPLATE template0 LOCALE '{locale}' OWNER agency_owner"
            ),
            format!("GRANT CONNECT, CREATE, TEMPORARY ON DATABASE {name} TO acc"),
        ] {
            admin.batch_execute(&sql).await.unwrap();
        }
        TestDb {
            name,
            admin_url: sb.var("ACC_PROD_URL").to_string(),
        }
    }

    /// A new, empty production database `acc_t_<tag>_<pid>` owned by `agency_owner`, built
    /// by running `script` (under `tests/`) with psql as the superuser, the way an application
    /// team builds theirs.
    pub async fn from_script(sb: &Sandbox, script: &str, tag: &str) -> TestDb {
        let name = format!("acc_t_{tag}_{}", std::process::id());
        let admin = sb.admin("ACC_PROD_URL", "postgres").await;
        for sql in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name} OWNER agency_owner"),
            format!("GRANT CONNECT, CREATE, TEMPORARY ON DATABASE {name} TO acc"),
        ] {
            admin.batch_execute(&sql).await.unwrap();
        }
        let db = TestDb {
            name,
            admin_url: sb.var("ACC_PROD_URL").to_string(),
        };
        let out = std::process::Command::new("psql")
            .args(["-q", "-X", "-v", "ON_ERROR_STOP=1", "-f"])
            .arg(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests")
                    .join(script),
            )
            .arg(format!("{}/{}", db.admin_url, db.name))
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        db
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (url, name) = (format!("{}/postgres", self.admin_url), self.name.clone());
        clean_up(async move {
            if let Some(c) = try_connect(&url).await {
                let _ = c
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
            }
        });
    }
}

/// An order-independent hash of every row of a table.
pub const ROWS_HASH: &str = "SELECT count(*)::text || ':' || coalesce(md5(string_agg(h, '' ORDER BY h)), '') FROM (SELECT md5(t::text) AS h FROM ONLY {} t) s";

/// `pg_dump --schema-only` of `url` without owners, privileges and acc's own schema.
pub fn schema_dump(url: &str) -> String {
    let out = std::process::Command::new("pg_dump")
        .args(["--schema-only", "--no-owner", "--no-privileges", url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    // entries start with a "-- Name: ...; Type: ...; Schema: ...;" header; acc's own objects
    // and pg_dump's per-run \restrict keys are not part of the comparison
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
        .collect::<Vec<_>>()
        .join("\n");
    text.split("\n--\n-- Name: ")
        .filter(|entry| !entry.contains("Schema: acc;") && !entry.starts_with("acc; Type: SCHEMA"))
        .collect::<Vec<_>>()
        .join("\n--\n-- Name: ")
}

/// What one run of the acc binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }
}

/// The acc binary with a given config file and nothing from the developer's environment.
pub fn acc_command(config: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_acc"));
    for (k, _) in std::env::vars() {
        if k.starts_with("ACC_") || k == "CREDENTIALS_DIRECTORY" {
            cmd.env_remove(k);
        }
    }
    cmd.env("ACC_SYSTEM_CONFIG_DIR", "/nonexistent/acc-system")
        .env("XDG_CONFIG_HOME", "/nonexistent/acc-user")
        .env("ACC_CONFIG", config)
        .env("NO_PROXY", "127.0.0.1,localhost");
    cmd
}

/// Runs acc to completion.
pub fn acc(config: &Path, args: &[&str]) -> Run {
    run(acc_command(config).args(args))
}

/// Runs a prepared command to completion.
pub fn run(cmd: &mut std::process::Command) -> Run {
    let out = cmd.output().expect("the acc binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl Sandbox {
    /// The production cluster's port, from its admin URL.
    pub fn prod_port(&self) -> u16 {
        self.var("ACC_PROD_URL")
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }

    /// An acc.toml with one profile `t` (us-can) whose production is `db` on the production
    /// cluster (or `port`), its store under `dir`; `extra` is appended verbatim.
    pub fn write_profile(&self, dir: &Path, db: &str, port: Option<u16>, extra: &str) -> PathBuf {
        let production = self.production_keys(db, port.unwrap_or_else(|| self.prod_port()));
        self.write_profile_with(dir, &production, extra)
    }

    /// The keys of a production section for `db` on the cluster at `port`, as acc logs in.
    pub fn production_keys(&self, db: &str, port: u16) -> String {
        format!(
            "host = \"127.0.0.1\"\nport = {port}\ndbname = \"{db}\"\nuser = \"acc\"\n\
             password_file = \"{sandbox}/secrets/pg_acc_password\"\nsslrootcert = \"{sandbox}/tls/ca.crt\"",
            sandbox = self.var("ACC_SANDBOX"),
        )
    }

    /// An acc.toml in `dir` with one profile `t` whose production section is `production`
    /// verbatim, then `extra`.
    pub fn write_profile_with(&self, dir: &Path, production: &str, extra: &str) -> PathBuf {
        let path = dir.join("acc.toml");
        let text = format!(
            "[profiles.t]\nregion = \"us-can\"\nstore = \"{store}\"\nage_recipients = [\"{recipient}\"]\n\n\
             [profiles.t.production]\n{production}\n{extra}\n",
            store = dir.join("store").display(),
            recipient = self.var("ACC_AGE_RECIPIENT"),
        );
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// A staging database name of its own for one test; the guard drops it, its `__previous` and
/// `__incoming` copies, and its freeze row.
pub struct StagingDb {
    pub name: String,
    admin_url: String,
}

/// `acc doctor`'s check named `name`, from its JSON.
pub fn doctor_check(config: &Path, name: &str) -> serde_json::Value {
    check_named(&acc(config, &["doctor", "--profile", "t", "--json"]), name)
}

/// The check named `name` of a run of `acc doctor --json`.
pub fn check_named(run: &Run, name: &str) -> serde_json::Value {
    run.json()["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {run:?}"))
        .clone()
}

impl StagingDb {
    /// The staging server's databases whose names start with this one's (the incoming and
    /// previous copies included).
    pub async fn databases(&self) -> Vec<String> {
        let rows = (self.admin("postgres").await)
            .query(
                "SELECT datname::text FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1",
                &[&self.name],
            )
            .await
            .unwrap();
        rows.iter().map(|r| r.get(0)).collect()
    }

    pub fn new(sb: &Sandbox, tag: &str) -> StagingDb {
        StagingDb {
            name: format!("acc_s_{tag}_{}", std::process::id()),
            admin_url: sb.var("ACC_STAGING_URL").to_string(),
        }
    }

    /// Profile sections: staging on the staging cluster, and the sandbox identity for restore.
    pub fn sections(&self, sb: &Sandbox) -> String {
        let port: u16 = sb
            .var("ACC_STAGING_URL")
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        format!(
            "[profiles.t.staging]\nhost = \"127.0.0.1\"\nport = {port}\ndbname = \"{}\"\nuser = \"acc\"\n\
             password_file = \"{}/secrets/pg_acc_password\"\nsslrootcert = \"{}/tls/ca.crt\"\n\n\
             [profiles.t.restore]\nage_identity = \"{}\"\npreserve_schemas = [\"data_exploration\"]\ntemplate = \"acc_template\"\n",
            self.name,
            sb.var("ACC_SANDBOX"),
            sb.var("ACC_SANDBOX"),
            sb.var("ACC_AGE_IDENTITY"),
        )
    }

    /// A login `acc_t_<tag>_<pid>` in the reader role on the staging cluster, and its URL to
    /// this staging database.
    pub async fn reader_login(&self, sb: &Sandbox, tag: &str) -> (String, String) {
        let login = format!("acc_t_{tag}_{}", std::process::id());
        self.admin("postgres")
            .await
            .batch_execute(&format!(
                "DROP ROLE IF EXISTS {login}; CREATE ROLE {login} LOGIN PASSWORD 'synthetic-reader' IN ROLE staging_reader"
            ))
            .await
            .unwrap();
        let port = sb.var("ACC_STAGING_URL").rsplit(':').next().unwrap();
        let url = format!(
            "postgres://{login}:synthetic-reader@127.0.0.1:{port}/{}",
            self.name
        );
        (login, url)
    }

    /// An admin connection to the live staging database (or another on the staging cluster).
    pub async fn admin(&self, db: &str) -> tokio_postgres::Client {
        connect(&format!("{}/{db}", self.admin_url), db).await
    }
}

impl Drop for StagingDb {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        clean_up(async move {
            if let Some(c) = try_connect(&format!("{url}/postgres")).await {
                for suffix in ["", "__previous", "__incoming", "__rollback", "__older"] {
                    let _ = c
                        .batch_execute(&format!(
                            "DROP DATABASE IF EXISTS {name}{suffix} WITH (FORCE)"
                        ))
                        .await;
                }
            }
            if let Some(c) = try_connect(&format!("{url}/acc_control")).await {
                let _ = c
                    .execute("DELETE FROM staging_freeze WHERE database = $1", &[&name])
                    .await;
            }
        });
    }
}

/// Decrypts a file with the Debian age CLI and the sandbox identity: never with acc.
pub fn age_decrypt(sb: &Sandbox, file: &Path) -> Vec<u8> {
    let out = std::process::Command::new("age")
        .args(["--decrypt", "--identity"])
        .arg(sb.path("ACC_AGE_IDENTITY"))
        .arg(file)
        .output()
        .expect("the age CLI runs");
    assert!(
        out.status.success(),
        "age -d {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `plain` encrypted to the sandbox recipient by the age CLI, as an operator (or a forger with
/// the public key) would.
pub fn age_encrypt(sb: &Sandbox, plain: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = std::process::Command::new("age")
        .args(["--encrypt", "--recipient", sb.var("ACC_AGE_RECIPIENT")])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(plain).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "age --encrypt");
    out.stdout
}

/// A port on 127.0.0.1 nobody listens on (for now).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `cmd` with `ACC_PAUSE_AT=point` (and `ACC_RESUME_FILE=resume` when given) and
/// returns once acc says it is paused there, with the rest of its stderr to read.
pub fn paused_at(
    cmd: &mut std::process::Command,
    point: &str,
    resume: Option<&Path>,
) -> (
    std::process::Child,
    std::io::BufReader<std::process::ChildStderr>,
) {
    use std::io::BufRead;
    cmd.env("ACC_PAUSE_AT", point)
        .stderr(std::process::Stdio::piped());
    if let Some(r) = resume {
        cmd.env("ACC_RESUME_FILE", r);
    }
    let mut child = cmd.spawn().expect("acc starts");
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let (mut line, mut seen) = (String::new(), String::new());
    while !line.contains(&format!("paused at {point}")) {
        seen.push_str(&line);
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "acc ended before reaching {point}: {seen}"
        );
    }
    (child, stderr)
}

/// A throwaway PostgreSQL 15 cluster with TLS off, for what a server without TLS makes acc do;
/// stopped and removed when dropped. It holds no data and listens on 127.0.0.1 only.
pub struct ScratchCluster {
    pub port: u16,
    dir: PathBuf,
}

impl ScratchCluster {
    pub fn start(sb: &Sandbox, tag: &str) -> ScratchCluster {
        Self::start_with(sb, tag, None)
    }

    /// The same with TLS on, serving a certificate for 127.0.0.1 from the sandbox CA that is
    /// valid for `days` from now (0: it has expired by the time anyone connects).
    pub fn start_with_certificate(sb: &Sandbox, tag: &str, days: u32) -> ScratchCluster {
        Self::start_with(sb, tag, Some(days))
    }

    fn start_with(sb: &Sandbox, tag: &str, tls_days: Option<u32>) -> ScratchCluster {
        let dir = sb
            .path("ACC_SANDBOX")
            .join("pg")
            .join(format!("scratch-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let bin = Path::new("/usr/lib/postgresql/15/bin");
        let run = |cmd: &mut std::process::Command| {
            let out = cmd.output().expect("runs");
            assert!(
                out.status.success(),
                "{cmd:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(std::process::Command::new("install")
            .args(["-d", "-o", "postgres", "-g", "postgres", "-m", "700"])
            .arg(&dir));
        run(std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(bin.join("initdb"))
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "-D",
            ])
            .arg(&dir));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut conf = format!(
            "listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{}'\nfsync = off\n",
            dir.display()
        );
        match tls_days {
            None => conf.push_str("ssl = off\n"),
            Some(days) => {
                let ca = sb.path("ACC_TLS_DIR");
                let (key, csr, crt, ext) = (
                    dir.join("server.key"),
                    dir.join("server.csr"),
                    dir.join("server.crt"),
                    dir.join("ext.cnf"),
                );
                std::fs::write(
                    &ext,
                    "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
                )
                .unwrap();
                run(std::process::Command::new("openssl")
                    .args([
                        "req",
                        "-newkey",
                        "ec",
                        "-pkeyopt",
                        "ec_paramgen_curve:P-256",
                        "-nodes",
                        "-subj",
                        "/CN=scratch",
                        "-keyout",
                    ])
                    .arg(&key)
                    .arg("-out")
                    .arg(&csr));
                run(std::process::Command::new("openssl")
                    .args(["x509", "-req", "-sha256", "-days", &days.to_string(), "-in"])
                    .arg(&csr)
                    .arg("-CA")
                    .arg(ca.join("ca.crt"))
                    .arg("-CAkey")
                    .arg(ca.join("ca.key"))
                    .args(["-set_serial", "4242", "-extfile"])
                    .arg(&ext)
                    .arg("-out")
                    .arg(&crt));
                run(std::process::Command::new("chown")
                    .args(["postgres:postgres"])
                    .arg(&key)
                    .arg(&crt));
                conf.push_str(&format!(
                    "ssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\n",
                    crt.display(),
                    key.display()
                ));
            }
        }
        let mut text = std::fs::read_to_string(dir.join("postgresql.conf")).unwrap();
        text.push_str(&conf);
        std::fs::write(dir.join("postgresql.conf"), text).unwrap();
        std::fs::write(dir.join("pg_hba.conf"), "host all all 127.0.0.1/32 trust\n").unwrap();
        run(std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(bin.join("pg_ctl"))
            .args(["-w", "-t", "30", "-l"])
            .arg(dir.join("log"))
            .arg("-D")
            .arg(&dir)
            .arg("start"));
        ScratchCluster { port, dir }
    }
}

impl Drop for ScratchCluster {
    fn drop(&mut self) {
        let _ = std::process::Command::new("runuser")
            .args([
                "-u",
                "postgres",
                "--",
                "/usr/lib/postgresql/15/bin/pg_ctl",
                "-m",
                "immediate",
                "-D",
            ])
            .arg(&self.dir)
            .arg("stop")
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
