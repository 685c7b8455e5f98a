//! What only a superuser may create, and production's own disks, on staging
//! (`tests/fixtures/extensions.sql`: pg_stat_statements and pg_partman, pg_partman's
//! configuration table, which holds the user's rows, publications of all tables and of a
//! schema, an event trigger; and a table and an index in a tablespace of production's): staging refuses with 78 before loading anything and names what a
//! superuser runs once, or, from a template that has them, comes back exact, the
//! configuration rows included and never added twice; a template whose configuration table
//! already holds a row of the user's is refused with 78 once the data is in, and the run
//! resumes once the named DELETE ran. The superuser-only publications and event trigger are
//! left out by name; the tablespace's table and index go in staging's default tablespace.

mod support;

use support::restores::restore_killed_at;
use support::templates::Template;
use support::{ROWS_HASH, Sandbox, StagingDb, TestDb, acc, doctor_check, schema_dump};

const FIXTURE: &str = "fixtures/extensions.sql";

struct Setup {
    sb: Sandbox,
    prod: TestDb,
    staging: StagingDb,
    _tmp: tempfile::TempDir,
    config: std::path::PathBuf,
}

async fn setup(tag: &str) -> Setup {
    let sb = Sandbox::require();
    let prod = TestDb::from_script(&sb, FIXTURE, tag).await;
    let staging = StagingDb::new(&sb, tag);
    let tmp = tempfile::tempdir().unwrap();
    let config = sb.write_profile(tmp.path(), &prod.name, None, &staging.sections(&sb));
    Setup {
        sb,
        prod,
        staging,
        _tmp: tmp,
        config,
    }
}

impl Setup {
    fn acc(&self, args: &[&str]) -> support::Run {
        acc(&self.config, args)
    }
}

/// A tablespace of production's own in a private directory, dropped with the guard (after
/// the database that uses it, so made before it).
struct Tablespace {
    name: String,
    url: String,
    _dir: tempfile::TempDir,
}

impl Tablespace {
    async fn new(sb: &Sandbox, tag: &str) -> Tablespace {
        let name = format!("acc_t_{tag}_ts_{}", std::process::id());
        let dir = tempfile::tempdir().unwrap();
        // the server's own user owns its tablespace's directory, as its data directory
        let data = sb.path("ACC_SANDBOX").join("pg").join("production");
        let owner = std::fs::metadata(&data).unwrap();
        use std::os::unix::fs::MetadataExt;
        std::os::unix::fs::chown(dir.path(), Some(owner.uid()), Some(owner.gid())).unwrap();
        sb.admin("ACC_PROD_URL", "postgres")
            .await
            .batch_execute(&format!(
                "CREATE TABLESPACE {name} LOCATION '{}'",
                dir.path().display()
            ))
            .await
            .unwrap();
        Tablespace {
            name,
            url: sb.var("ACC_PROD_URL").to_string(),
            _dir: dir,
        }
    }
}

impl Drop for Tablespace {
    fn drop(&mut self) {
        let _ = std::process::Command::new("psql")
            .args(["-q", "-X", "-c"])
            .arg(format!("DROP TABLESPACE IF EXISTS {}", self.name))
            .arg(format!("{}/postgres", self.url))
            .output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extensions_only_a_superuser_creates_are_refused_with_78_then_come_back_exact_from_the_template_the_hint_names()
 {
    let tablespace = Tablespace::new(&Sandbox::require(), "extensions").await;
    let s = setup("extensions").await;
    // a table and an index on production's own disk, which staging's cluster does not have
    s.prod
        .admin()
        .await
        .batch_execute(&format!(
            "CREATE TABLE app.hot_visits (id int, note text) TABLESPACE {0};
             CREATE INDEX hot_visits_id ON app.hot_visits (id) TABLESPACE {0};
             INSERT INTO app.hot_visits SELECT g, 'synthetic ' || g FROM generate_series(1, 50) g;
             GRANT SELECT ON app.hot_visits TO acc",
            tablespace.name
        ))
        .await
        .unwrap();
    let run = s.acc(&["snapshot", "--profile", "t", "--now", "--json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let label = run.json()["label"].as_str().unwrap().to_string();
    let store = s.config.with_file_name("store").join("t").join(&label);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.join("manifest.json")).unwrap()).unwrap();
    let config: Vec<String> = manifest["extension_tables"]
        .as_array()
        .unwrap_or_else(|| panic!("the manifest lists the configuration tables: {manifest}"))
        .iter()
        .map(|t| {
            format!(
                "{}:{}.{}={}",
                t["extension"].as_str().unwrap(),
                t["table"]["schema"].as_str().unwrap(),
                t["table"]["name"].as_str().unwrap(),
                t["table"]["rows"]
            )
        })
        .collect();
    assert!(
        config.contains(&"pg_partman:partman.part_config=1".to_string()),
        "{config:?}"
    );

    // the sandbox's template has neither extension, and acc's staging user is no superuser
    let refused = s.acc(&["restore", "--profile", "t"]);
    assert_eq!(refused.code, 78, "{refused:?}");
    for named in [
        "extension pg_partman can only be created by a superuser",
        "extension pg_stat_statements can only be created by a superuser",
        "in database acc_template (restore.template)",
        "CREATE SCHEMA IF NOT EXISTS \"partman\" AUTHORIZATION \"acc\";",
        "CREATE EXTENSION \"pg_partman\" SCHEMA \"partman\";",
        "GRANT USAGE ON SCHEMA \"partman\" TO \"acc\"; GRANT SELECT, INSERT ON \"partman\".\"part_config\" TO \"acc\";",
        "CREATE EXTENSION \"pg_stat_statements\" SCHEMA \"public\";",
    ] {
        assert!(
            refused.stderr.contains(named),
            "{named}: {}",
            refused.stderr
        );
    }
    assert!(
        !refused.stderr.contains("safe to retry"),
        "{}",
        refused.stderr
    );
    assert!(
        refused
            .stderr
            .contains("tables in production's tablespace(s) acc_t_extensions_ts_"),
        "{}",
        refused.stderr
    );
    // nothing was loaded, and nothing is left to resume
    assert_eq!(s.staging.databases().await, Vec::<String>::new());
    // the doctor says so ahead, from production's catalog and the template
    let doctor = doctor_check(&s.config, "staging extensions");
    assert_eq!(doctor["ok"], false, "{doctor}");
    assert!(
        doctor["detail"]
            .as_str()
            .unwrap()
            .contains("extension pg_partman can only be created by a superuser"),
        "{doctor}"
    );

    // a template made as the hint says; a run killed once the configuration rows are in
    let hint = refused.stderr.split("hint: ").nth(1).unwrap_or_default();
    let template = Template::made_as_the_hint_says(&s.sb, "extensions", hint).await;
    template.set_in(&s.config);
    let doctor = doctor_check(&s.config, "staging extensions");
    assert_eq!(doctor["ok"], true, "{doctor}");
    // the template also holds a row of the user's in part_config: production's would be added
    // beside it, so the run refuses once the data is in, naming the DELETE for the template
    // and for the incoming database it keeps to resume
    s.sb.admin("ACC_STAGING_URL", &template.name)
        .await
        .batch_execute(
            "INSERT INTO partman.part_config (parent_table, control, partition_interval, partition_type)
             VALUES ('app.leftover_events', 'at', '1 day', 'native')",
        )
        .await
        .unwrap();
    let mixed = s.acc(&["restore", "--profile", "t"]);
    assert_eq!(mixed.code, 78, "{mixed:?}");
    let incoming = format!("{}__incoming", s.staging.name);
    for named in [
        "partman.part_config on staging already holds rows of the user's",
        "DELETE FROM ONLY \"partman\".\"part_config\" ;",
        incoming.as_str(),
    ] {
        assert!(mixed.stderr.contains(named), "{named}: {}", mixed.stderr);
    }
    for db in [template.name.as_str(), incoming.as_str()] {
        s.sb.admin("ACC_STAGING_URL", db)
            .await
            .batch_execute("DELETE FROM ONLY partman.part_config")
            .await
            .unwrap();
    }
    restore_killed_at(&s.config, "restore:large-objects");
    let restore = s.acc(&["restore", "--profile", "t"]);
    assert_eq!(restore.code, 0, "{restore:?}");

    // the configuration rows, every partition's rows and the schema, as production has them
    let p = s.prod.admin().await;
    let st = s.staging.admin(&s.staging.name).await;
    let tables: Vec<String> = p
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind = 'r' AND n.nspname IN ('app', 'partman') ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        tables.contains(&"partman.part_config".to_string()),
        "{tables:?}"
    );
    for name in &tables {
        let sql = ROWS_HASH.replace("{}", name);
        let a: String = p.query_one(&sql, &[]).await.unwrap().get(0);
        let b: String = st.query_one(&sql, &[]).await.unwrap().get(0);
        assert_eq!(a, b, "rows of {name}");
    }
    // the schema, but for what only a superuser may create and a read-only copy has no use
    // for, each named in the log: the publication of all tables (and its comment), the
    // publication's schema, and the event trigger (and its comment); the publication of one
    // table stays, with its table. (acc's own table on staging comes first and moves
    // pg_dump's one access-method setting.)
    // (production's tablespace is left out: staging's cluster has its own disks)
    let superuser_only = [
        "cdc_everything; Type: PUBLICATION;",
        "PUBLICATION cdc_everything; Type: COMMENT;",
        "app_schema app; Type: PUBLICATION TABLES IN SCHEMA;",
        "audit_ddl; Type: EVENT TRIGGER;",
        "EVENT TRIGGER audit_ddl; Type: COMMENT;",
    ];
    let with = |db: &str, url: &str| {
        let dump = schema_dump(&format!("{url}/{db}"))
            .replace("SET default_table_access_method = heap;\n\n", "")
            .replace(
                &format!("SET default_tablespace = {};\n\n", tablespace.name),
                "",
            )
            .replace(&format!("; Tablespace: {}\n", tablespace.name), "\n")
            .replace("SET default_tablespace = '';\n\n", "")
            .replace("--\n-- PostgreSQL database dump complete\n--\n", "");
        let (kept, left): (Vec<&str>, Vec<&str>) = dump
            .split("\n--\n-- Name: ")
            .partition(|e| !superuser_only.iter().any(|s| e.starts_with(s)));
        let kept: Vec<&str> = kept.into_iter().map(str::trim_end).collect();
        (kept.join("\n--\n-- Name: "), left.len())
    };
    let (production, found) = with(&s.prod.name, s.sb.var("ACC_PROD_URL"));
    let (staging, left) = with(&s.staging.name, s.sb.var("ACC_STAGING_URL"));
    assert_eq!((found, left), (superuser_only.len(), 0));
    assert_eq!(production, staging, "schema");
    assert!(
        staging.contains("CREATE PUBLICATION visits_only"),
        "{staging}"
    );
    for named in [
        "publication cdc_everything (FOR ALL TABLES) is left out",
        "publication app_schema's schema app (FOR TABLES IN SCHEMA) is left out",
        "event trigger audit_ddl is left out",
        "indexes in production's tablespace(s) acc_t_extensions_ts_",
    ] {
        assert!(
            restore.stderr.contains(named),
            "{named}: {}",
            restore.stderr
        );
    }
    assert!(
        restore
            .stderr
            .contains("extensions' configuration rows kept"),
        "the rerun adds them once: {}",
        restore.stderr
    );
}
