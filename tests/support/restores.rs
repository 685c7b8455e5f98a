//! What the restore, lock-down and freeze tests share: a production clone and a staging
//! database of their own with a profile for both, and ways to take snapshots, restore, kill a
//! restore at a failpoint and run SQL on a scratch cluster.

use std::path::PathBuf;
use std::time::Duration;

use super::{Run, Sandbox, StagingDb, TestDb, acc_command};

pub struct Setup {
    pub sb: Sandbox,
    pub prod: TestDb,
    pub staging: StagingDb,
    pub _tmp: tempfile::TempDir,
    pub config: PathBuf,
}

pub async fn setup(tag: &str, extra: &str) -> Setup {
    let sb = Sandbox::require();
    let prod = TestDb::clone_of(&sb, "demo_us", tag).await;
    let staging = StagingDb::new(&sb, tag);
    let tmp = tempfile::tempdir().unwrap();
    let sections = format!("{}{extra}", staging.sections(&sb));
    let config = sb.write_profile(tmp.path(), &prod.name, None, &sections);
    Setup {
        sb,
        prod,
        staging,
        _tmp: tmp,
        config,
    }
}

impl Setup {
    pub fn acc(&self, args: &[&str]) -> Run {
        super::run(
            acc_command(&self.config)
                .env("TMPDIR", tmpdir_of(&self.config))
                .args(args),
        )
    }

    /// Takes an on-demand snapshot and returns its label; labels have one-second resolution.
    pub fn snapshot(&self) -> String {
        std::thread::sleep(Duration::from_millis(1100));
        let run = self.acc(&["snapshot", "--profile", "t", "--now", "--json"]);
        assert_eq!(run.code, 0, "{run:?}");
        run.json()["label"].as_str().unwrap().to_string()
    }

    /// Takes an on-demand snapshot with extra flags; returns its JSON summary.
    pub fn snapshot_with(&self, extra: &[&str]) -> serde_json::Value {
        std::thread::sleep(Duration::from_millis(1100));
        let mut args = vec!["snapshot", "--profile", "t", "--now", "--json"];
        args.extend_from_slice(extra);
        let run = self.acc(&args);
        assert_eq!(run.code, 0, "{run:?}");
        run.json()
    }

    pub fn restore(&self, extra: &[&str]) -> Run {
        let mut args = vec!["restore", "--profile", "t", "--json"];
        args.extend_from_slice(extra);
        self.acc(&args)
    }

    pub async fn staging_label(&self) -> String {
        let c = self.staging.admin(&self.staging.name).await;
        c.query_one("SELECT label FROM acc.staging_info", &[])
            .await
            .unwrap()
            .get(0)
    }
}

/// How many `<name>__incoming` databases the staging cluster holds (0 or 1).
pub async fn incoming_copies(admin: &tokio_postgres::Client, name: &str) -> i64 {
    admin
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname = $1",
            &[&format!("{name}__incoming")],
        )
        .await
        .unwrap()
        .get(0)
}

/// Starts `acc restore`, waits until it is paused at failpoint `point`, and kills it with
/// SIGKILL.
pub fn restore_killed_at(config: &std::path::Path, point: &str) {
    let mut cmd = acc_command(config);
    cmd.env("TMPDIR", tmpdir_of(config))
        .args(["restore", "--profile", "t"]);
    let (mut child, _) = super::paused_at(&mut cmd, point, None);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

/// The TMPDIR of every run of a setup: its own directory, so that a test sees what a killed
/// run left there.
pub fn tmpdir_of(config: &std::path::Path) -> PathBuf {
    let dir = config.with_file_name("tmp");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The private directories acc's runs left in the setup's TMPDIR.
pub fn private_dirs_left(config: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(tmpdir_of(config))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("acc-"))
        .collect()
}

/// A login in the reader role on the staging cluster, and its URL to the staging database.
pub async fn reader_login(s: &Setup, tag: &str) -> (String, String) {
    s.staging.reader_login(&s.sb, tag).await
}

/// Runs SQL with psql as the superuser on a scratch cluster (trust logins), in `db`.
pub fn scratch_sql(port: u16, db: &str, user: &str, sql: &str) {
    let out = std::process::Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p"])
        .arg(port.to_string())
        .args(["-U", user, "-d", db, "-c", sql])
        .env("PGSSLMODE", "disable")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Production changes before each snapshot, so two snapshots never hold the same data.
pub async fn change_production(s: &Setup, round: usize) {
    s.prod
        .admin()
        .await
        .batch_execute(&format!(
            "UPDATE agency.clients SET last_name = 'Round{round}' WHERE id = (SELECT min(id) FROM agency.clients);
             SELECT lo_from_bytea(0, 'synthetic scan, round {round}');"
        ))
        .await
        .unwrap();
}

/// Staging holds what production holds: the schema, every table's rows, every foreign key's
/// validity and every large object, byte for byte.
pub async fn assert_exact(s: &Setup, why: &str) {
    let prod_url = format!("{}/{}", s.sb.var("ACC_PROD_URL"), s.prod.name);
    let staging_url = format!("{}/{}", s.sb.var("ACC_STAGING_URL"), s.staging.name);
    assert_eq!(
        super::schema_dump(&prod_url),
        super::schema_dump(&staging_url),
        "{why}: the schemas agree"
    );
    let (p, st) = (s.prod.admin().await, s.staging.admin(&s.staging.name).await);
    let one = |rows: Vec<tokio_postgres::Row>| {
        rows.iter()
            .map(|r| r.get::<_, String>(0))
            .collect::<Vec<_>>()
    };
    let catalog = [
        "SELECT conrelid::regclass::text || '.' || conname || '=' || convalidated FROM pg_constraint
         WHERE connamespace = 'agency'::regnamespace ORDER BY 1",
        "SELECT indexrelid::regclass::text || '=' || indisvalid FROM pg_index
         WHERE indrelid::regclass::text LIKE 'agency.%' ORDER BY 1",
        "SELECT oid::text || ':' || md5(lo_get(oid)) FROM pg_largeobject_metadata ORDER BY oid",
    ];
    for sql in catalog {
        let (a, b) = (
            one(p.query(sql, &[]).await.unwrap()),
            one(st.query(sql, &[]).await.unwrap()),
        );
        assert!(!a.is_empty(), "{why}: {sql}");
        assert_eq!(a, b, "{why}: {sql}");
    }
    let tables = one(p
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind = 'r' AND n.nspname = 'agency' ORDER BY 1",
            &[],
        )
        .await
        .unwrap());
    for t in tables {
        let sql = super::ROWS_HASH.replace("{}", &t);
        let a: String = p.query_one(&sql, &[]).await.unwrap().get(0);
        let b: String = st.query_one(&sql, &[]).await.unwrap().get(0);
        assert_eq!(a, b, "{why}: rows of {t}");
    }
    let left: i64 = st
        .query_one(
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'acc_resume_v2'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        left, 0,
        "{why}: staging keeps no trace of the resume record"
    );
}
