//! Staging is an exact copy of a production built the way application teams build theirs
//! (`tests/fixtures/fidelity.sql`: row-level security, large objects, extension types without
//! binary I/O, inheritance, every partitioning kind, dropped and generated columns, domains,
//! ranges and multiranges, NaN and infinities, unlogged tables, unused sequences, statistics,
//! triggers and comments), or acc refuses before writing anything and names the fix.

mod support;

use std::path::{Path, PathBuf};

use support::restores::restore_killed_at;
use support::{ROWS_HASH, Run, Sandbox, StagingDb, TestDb, acc, check_named, schema_dump};

const FIXTURE: &str = "fixtures/fidelity.sql";

struct Setup {
    sb: Sandbox,
    // the role guard drops after the database that holds its table
    prod: TestDb,
    _role: Option<RoleGuard>,
    staging: StagingDb,
    tmp: tempfile::TempDir,
    config: PathBuf,
}

/// A role of its own on the production cluster, dropped with the guard.
struct RoleGuard {
    name: String,
    url: String,
}

impl Drop for RoleGuard {
    fn drop(&mut self) {
        let out = std::process::Command::new("psql")
            .args(["-q", "-X", "-c"])
            .arg(format!("DROP ROLE IF EXISTS {}", self.name))
            .arg(format!("{}/postgres", self.url))
            .output();
        let _ = out;
    }
}

async fn setup(tag: &str, extra: &str) -> Setup {
    let sb = Sandbox::require();
    let prod = TestDb::from_script(&sb, FIXTURE, tag).await;
    let staging = StagingDb::new(&sb, tag);
    let tmp = tempfile::tempdir().unwrap();
    let sections = format!("{}{extra}", staging.sections(&sb));
    let config = sb.write_profile(tmp.path(), &prod.name, None, &sections);
    Setup {
        sb,
        prod,
        _role: None,
        staging,
        tmp,
        config,
    }
}

impl Setup {
    fn acc(&self, args: &[&str]) -> Run {
        acc(&self.config, args)
    }

    /// The fix the refusal names for managed services: acc's user becomes a member of the
    /// RLS table's owner (a role of its own here, so no other test sees the grant). A FORCE
    /// table binds its owner too, so it is left out by the profile's filter.
    async fn let_acc_own_the_rls_table(&mut self, tag: &str) {
        let role = format!("acc_t_{tag}_owner_{}", std::process::id());
        self.add_role(
            &format!("CREATE ROLE {role} NOLOGIN; GRANT {role} TO acc"),
            &role,
        )
        .await;
        self.prod
            .admin()
            .await
            .batch_execute(&format!("ALTER TABLE app.rls_notes OWNER TO {role}"))
            .await
            .unwrap();
        let text = std::fs::read_to_string(&self.config).unwrap();
        let text =
            format!("{text}\n[profiles.t.snapshot]\nexclude_tables = [\"app.forced_audit\"]\n");
        std::fs::write(&self.config, text).unwrap();
    }

    /// The first fix the refusal names: production's user has BYPASSRLS. A login of its own
    /// (a superuser made it), so no other test runs as a user that bypasses policies.
    async fn snapshot_as_a_bypassrls_user(&mut self, tag: &str) {
        let role = format!("acc_t_{tag}_bypass_{}", std::process::id());
        let password = "synthetic-bypass-password";
        self.add_role(
            &format!(
                "CREATE ROLE {role} LOGIN BYPASSRLS PASSWORD '{password}' IN ROLE pg_read_all_data;
                 GRANT CONNECT ON DATABASE {} TO {role}",
                self.prod.name
            ),
            &role,
        )
        .await;
        let file = self.tmp.path().join("bypass_password");
        std::fs::write(&file, password).unwrap();
        let text = std::fs::read_to_string(&self.config).unwrap();
        let from = format!(
            "user = \"acc\"\npassword_file = \"{}/secrets/pg_acc_password\"",
            self.sb.var("ACC_SANDBOX")
        );
        assert!(text.contains(&from), "{text}");
        let to = format!("user = \"{role}\"\npassword_file = \"{}\"", file.display());
        std::fs::write(&self.config, text.replacen(&from, &to, 1)).unwrap();
    }

    async fn add_role(&mut self, sql: &str, role: &str) {
        self.sb
            .admin("ACC_PROD_URL", "postgres")
            .await
            .batch_execute(&format!("DROP ROLE IF EXISTS {role}; {sql}"))
            .await
            .unwrap();
        self._role = Some(RoleGuard {
            name: role.to_string(),
            url: self.sb.var("ACC_PROD_URL").to_string(),
        });
    }

    fn snapshot(&self) -> Run {
        self.acc(&["snapshot", "--profile", "t", "--now", "--json"])
    }

    fn store(&self) -> PathBuf {
        self.tmp.path().join("store").join("t")
    }

    async fn staging(&self) -> tokio_postgres::Client {
        self.staging.admin(&self.staging.name).await
    }
}

/// Every entry under the profile's store, hidden ones (the run lock) left out.
fn snapshot_dirs(store: &Path) -> Vec<String> {
    std::fs::read_dir(store)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with(".lock"))
                .collect()
        })
        .unwrap_or_default()
}

async fn column(c: &tokio_postgres::Client, sql: &str) -> Vec<String> {
    c.query(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_whose_row_security_hides_rows_stops_the_snapshot_with_78_naming_it() {
    let s = setup("rlsrefused", "").await;
    let run = s.snapshot();
    assert_eq!(run.code, 78, "{run:?}");
    assert!(
        run.stderr.contains("app.rls_notes (owner agency_owner)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("app.forced_audit (owner agency_owner, forced)"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("BYPASSRLS"), "{}", run.stderr);
    assert!(
        run.stderr.contains("GRANT agency_owner TO acc"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("safe to retry"), "{}", run.stderr);
    // nothing was written: no snapshot and no partial directory
    let left = snapshot_dirs(&s.store());
    assert!(left.is_empty(), "{left:?}");
    // the doctor fails the same check, naming the table
    let doctor = s.acc(&["doctor", "--profile", "t", "--json"]);
    assert_ne!(doctor.code, 0, "{doctor:?}");
    let rls = check_named(&doctor, "production row-level security");
    assert_eq!(rls["ok"], false, "{rls}");
    assert!(
        rls["detail"].as_str().unwrap().contains("app.rls_notes"),
        "{rls}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deliberate_filtered_copy_is_recorded_in_the_manifest_and_shown_by_status() {
    let s = setup(
        "rlsfiltered",
        "[profiles.t.snapshot]\nenable_row_security = true\n",
    )
    .await;
    let run = s.snapshot();
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains("app.rls_notes"),
        "warned: {}",
        run.stderr
    );
    let label = run.json()["label"].as_str().unwrap().to_string();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(s.store().join(&label).join("manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        manifest["filtered_by_row_security"],
        serde_json::json!([{"schema": "app", "name": "forced_audit"}, {"schema": "app", "name": "rls_notes"}])
    );
    let rls = manifest["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "rls_notes")
        .unwrap();
    assert_eq!(rls["rows"], 0, "the policy hides every row from acc");
    let status = s.acc(&["status", "--profile", "t", "--json"]);
    assert!(
        status.stdout.contains("rls_notes"),
        "status shows the filtered table: {status:?}"
    );
    let doctor = s.acc(&["doctor", "--profile", "t", "--json"]);
    let rls = check_named(&doctor, "production row-level security");
    assert_eq!(
        (rls["ok"].clone(), rls["warning"].clone()),
        (true.into(), true.into()),
        "{rls}"
    );
    assert!(
        rls["detail"].as_str().unwrap().contains("app.rls_notes"),
        "{rls}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_schema_with_every_object_kind_comes_back_exact() {
    let mut s = setup("fidelity_kinds", "").await;
    s.snapshot_as_a_bypassrls_user("fidelity_kinds").await;
    // production's sessions default to settings that change how values print as text: money
    // among them, in a locale with no digits after the point (the sandbox makes it)
    s.sb.admin("ACC_PROD_URL", "postgres")
        .await
        .batch_execute(&format!(
            "ALTER DATABASE {0} SET DateStyle = 'SQL, DMY'; ALTER DATABASE {0} SET extra_float_digits = 0;
             ALTER DATABASE {0} SET IntervalStyle = 'sql_standard';
             ALTER DATABASE {0} SET lc_monetary = 'ja_JP.UTF-8'",
            s.prod.name
        ))
        .await
        .unwrap();
    let run = s.snapshot();
    assert_eq!(run.code, 0, "{run:?}");
    let label = run.json()["label"].as_str().unwrap().to_string();

    // the tables with an isn or seg type, at any depth, went by text COPY, the rest binary
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(s.store().join(&label).join("manifest.json")).unwrap(),
    )
    .unwrap();
    let mut text: Vec<String> = manifest["tables"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["files"][0]["format"] == "text")
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    text.sort();
    assert_eq!(
        text,
        [
            "book_codes",
            "book_snapshots",
            "books",
            "code_lists",
            "editions",
            "plain_refs",
            "shelf_entries",
            "shelf_layouts",
            "shelf_spans",
            "span_sets",
            "text_edges",
        ]
    );
    assert_eq!(manifest["large_objects"]["objects"]["rows"], 6);

    // every file decrypts and holds the rows the manifest says, in either format
    let verify = s.acc(&[
        "verify",
        "--profile",
        "t",
        "--identity",
        s.sb.var("ACC_AGE_IDENTITY"),
        "--json",
    ]);
    assert_eq!(verify.code, 0, "{verify:?}");
    assert_eq!(verify.json()["contents_checked"], true);

    // while the tables load, autovacuum is off on every one production left alone; production's
    // own storage options stand as production set them
    restore_killed_at(&s.config, "restore:data-done");
    let options = "SELECT c.relname || ':' || coalesce(c.reloptions::text, '') || ':'
                          || coalesce(t.reloptions::text, '')
                   FROM pg_class c LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
                   WHERE c.relnamespace = 'app'::regnamespace AND c.relkind = 'r' ORDER BY 1";
    let loading = column(
        &s.staging
            .admin(&format!("{}__incoming", s.staging.name))
            .await,
        options,
    )
    .await;
    for expected in [
        "books:{autovacuum_enabled=false}:{autovacuum_enabled=false}",
        "tuned_queue:{autovacuum_enabled=false}:{autovacuum_enabled=false}",
        "tuned_log:{fillfactor=70,autovacuum_enabled=false}:{autovacuum_enabled=true}",
    ] {
        assert!(
            loading.contains(&expected.to_string()),
            "{expected}: {loading:?}"
        );
    }
    // the next run resumes that load and gives every table production's options back
    let restore = s.acc(&["restore", "--profile", "t", "--json"]);
    assert_eq!(restore.code, 0, "{restore:?}");
    assert!(restore.stderr.contains("resuming"), "{restore:?}");
    let (p, st) = (s.prod.admin().await, s.staging().await);
    assert_eq!(
        column(&p, options).await,
        column(&st, options).await,
        "storage options"
    );

    let prod_url = format!("{}/{}", s.sb.var("ACC_PROD_URL"), s.prod.name);
    let staging_url = format!("{}/{}", s.sb.var("ACC_STAGING_URL"), s.staging.name);
    assert_eq!(
        schema_dump(&prod_url),
        schema_dump(&staging_url),
        "the schemas agree: types, domains, partitions, inheritance, generated columns, \
         statistics, triggers, comments, policies"
    );
    // every constraint as valid, and every index as valid, as production's: partitioned
    // parents' keys (built from their partitions') and the keys that reference them included
    let validity = "SELECT c.conrelid::regclass || '.' || c.conname || '=' || c.convalidated
                    FROM pg_constraint c WHERE c.connamespace = 'app'::regnamespace
                    UNION ALL
                    SELECT i.indexrelid::regclass || '=' || i.indisvalid || i.indisready
                    FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
                    WHERE t.relnamespace = 'app'::regnamespace ORDER BY 1";
    let valid = column(&p, validity).await;
    assert!(
        valid.contains(&"app.reading_flags.reading_flags_reading_id_taken_kind_fkey=true".into())
            && valid.contains(&"app.sessions_token_idx=truetrue".into()),
        "{valid:?}"
    );
    assert_eq!(
        valid,
        column(&st, validity).await,
        "constraint and index validity"
    );
    // both sides print values alike for the comparison
    for c in [&p, &st] {
        c.batch_execute(
            "SET DateStyle = ISO; SET extra_float_digits = 3; SET IntervalStyle = postgres;
             SET lc_monetary = 'C'",
        )
        .await
        .unwrap();
    }

    // every table's rows, partitions, inheritance children and unlogged tables included
    let tables = column(
        &p,
        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind = 'r' AND n.nspname = 'app' ORDER BY 1",
    )
    .await;
    assert!(tables.len() >= 30, "{tables:?}");
    for name in &tables {
        let sql = ROWS_HASH.replace("{}", name);
        let a: String = p.query_one(&sql, &[]).await.unwrap().get(0);
        let b: String = st.query_one(&sql, &[]).await.unwrap().get(0);
        assert_eq!(a, b, "rows of {name}");
        assert!(!a.starts_with("0:"), "{name} has rows to compare");
    }

    // every large object, byte for byte, with its OID (an empty and a sparse one among them)
    let objects = "SELECT oid::text || ':' || md5(lo_get(oid)) || ':' || length(lo_get(oid))
                   FROM pg_largeobject_metadata ORDER BY oid";
    let a = column(&p, objects).await;
    assert_eq!(a.len(), 6, "{a:?}");
    assert_eq!(a, column(&st, objects).await, "large objects");

    // sequences with is_called, the one never called included
    let sequences = column(
        &p,
        "SELECT format('%I.%I', schemaname, sequencename) FROM pg_sequences
         WHERE schemaname = 'app' ORDER BY 1",
    )
    .await;
    assert!(
        sequences.iter().any(|q| q == "app.never_used"),
        "{sequences:?}"
    );
    for q in &sequences {
        let sql = format!("SELECT last_value::text || ':' || is_called FROM {q}");
        let a: String = p.query_one(&sql, &[]).await.unwrap().get(0);
        let b: String = st.query_one(&sql, &[]).await.unwrap().get(0);
        assert_eq!(a, b, "sequence {q}");
    }
    let never: String = st
        .query_one("SELECT is_called::text FROM app.never_used", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(never, "false");

    // row-level security flags and policies
    let rls = "SELECT c.relname || ':' || c.relrowsecurity || ':' || c.relforcerowsecurity
               FROM pg_class c WHERE c.relnamespace = 'app'::regnamespace AND c.relkind IN ('r', 'p')
               ORDER BY 1";
    assert_eq!(column(&p, rls).await, column(&st, rls).await, "RLS flags");
    let policies = "SELECT tablename || ':' || policyname || ':' || permissive || ':' || cmd || ':'
                       || coalesce(qual, '') || ':' || coalesce(with_check, '')
                    FROM pg_policies WHERE schemaname = 'app' ORDER BY 1";
    let a = column(&p, policies).await;
    assert!(!a.is_empty());
    assert_eq!(a, column(&st, policies).await, "policies");

    // every constraint's validity, the NOT VALID key included
    let keys = "SELECT conrelid::regclass::text || '.' || conname || '=' || convalidated
                FROM pg_constraint WHERE connamespace = 'app'::regnamespace ORDER BY 1";
    let a = column(&p, keys).await;
    assert!(a.iter().any(|k| k.ends_with("=false")), "{a:?}");
    assert_eq!(a, column(&st, keys).await, "constraints and their validity");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_objects_arrive_and_the_reader_can_read_but_never_write_them() {
    let mut s = setup("lo_reader", "").await;
    s.let_acc_own_the_rls_table("lo_reader").await;
    assert_eq!(s.snapshot().code, 0);
    let restore = s.acc(&["restore", "--profile", "t"]);
    assert_eq!(restore.code, 0, "{restore:?}");
    let (login, url) = s.staging.reader_login(&s.sb, "lo_reader").await;
    let reader = support::connect(&url, "staging as the reader").await;
    let text: Vec<u8> = reader
        .query_one("SELECT lo_get(910002)", &[])
        .await
        .unwrap()
        .get(0);
    assert!(!text.is_empty(), "the reader reads a large object");
    // lo_open for reading (INV_READ) works too, inside a transaction
    reader
        .batch_execute("BEGIN; SELECT lo_open(910003, 262144); COMMIT")
        .await
        .expect("the reader opens a large object for reading");
    // even with the session default turned back to read-write, no write of any kind lands
    reader
        .batch_execute("SET default_transaction_read_only = off")
        .await
        .unwrap();
    for write in [
        "SELECT lo_put(910002, 0, 'forged')",
        "SELECT lo_unlink(910002)",
        "SELECT lo_create(920001)",
        "SELECT lo_from_bytea(920002, 'forged')",
        "SELECT lo_open(910003, 131072)", // INV_WRITE
    ] {
        let r = reader
            .batch_execute(&format!("BEGIN; {write}; COMMIT"))
            .await;
        assert!(r.is_err(), "{write} must be refused");
        let _ = reader.batch_execute("ROLLBACK").await;
    }
    let still: i64 = s
        .staging()
        .await
        .query_one("SELECT count(*) FROM pg_largeobject_metadata", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(still, 6);
    s.staging
        .admin("postgres")
        .await
        .batch_execute(&format!("DROP ROLE IF EXISTS {login}"))
        .await
        .unwrap();
}
