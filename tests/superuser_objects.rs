//! Objects outside extensions that only a superuser may create
//! (`tests/fixtures/superuser_objects.sql`: a JDBC cast, an operator class behind a hash
//! index, a function in language internal behind an expression index, a foreign-data
//! wrapper of the application's, and a postgres_fdw server with a user mapping and a foreign
//! table): staging's user, no superuser, is refused with 78 before anything loads, with the
//! archive's own statements for the template; from a template made as the hint says, staging
//! comes back exact, each object the template holds named in the log.

mod support;

use support::templates::Template;
use support::{ROWS_HASH, Sandbox, StagingDb, TestDb, acc, doctor_check, schema_dump};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_only_a_superuser_creates_are_refused_with_78_and_their_statements_then_come_back_exact_from_the_template()
 {
    let sb = Sandbox::require();
    let tenant = Role::on_production(&sb, "superuser").await;
    let prod = TestDb::from_script(&sb, "fixtures/superuser_objects.sql", "superuser").await;
    // a policy and a user mapping for a role of production's that staging's cluster lacks
    prod.admin()
        .await
        .batch_execute(&format!(
            "CREATE POLICY tenant_rows ON app.clients AS RESTRICTIVE FOR SELECT TO {0}
                 USING (code LIKE 'CL-%');
             CREATE USER MAPPING FOR {0} SERVER billing OPTIONS (user 'tenant_ro', password 'synthetic-only')",
            tenant.name
        ))
        .await
        .unwrap();
    let staging = StagingDb::new(&sb, "superuser");
    let tmp = tempfile::tempdir().unwrap();
    let config = sb.write_profile(tmp.path(), &prod.name, None, &staging.sections(&sb));
    // pg_dump would write the user mapping without the options only the server's owner
    // reads: the snapshot stops first, unless told to copy it without them
    let refused = acc(&config, &["snapshot", "--profile", "t", "--now"]);
    assert_eq!(refused.code, 78, "{refused:?}");
    assert!(
        refused
            .stderr
            .contains("user mapping for PUBLIC on server billing"),
        "{}",
        refused.stderr
    );
    assert!(
        refused
            .stderr
            .contains("snapshot.user_mappings_without_options = true"),
        "{}",
        refused.stderr
    );
    // the doctor says so ahead, and warns once the profile copies them without on purpose
    let check = doctor_check(&config, "production user mappings");
    assert_eq!(
        (check["ok"].as_bool(), check["warning"].as_bool()),
        (Some(false), None),
        "{check}"
    );
    assert!(
        check["detail"]
            .as_str()
            .unwrap()
            .contains("user mapping for PUBLIC on server billing"),
        "{check}"
    );
    let text = std::fs::read_to_string(&config).unwrap();
    let text = format!("{text}\n[profiles.t.snapshot]\nuser_mappings_without_options = true\n");
    std::fs::write(&config, text).unwrap();
    let check = doctor_check(&config, "production user mappings");
    assert_eq!(
        (check["ok"].as_bool(), check["warning"].as_bool()),
        (Some(true), Some(true)),
        "{check}"
    );
    let run = acc(&config, &["snapshot", "--profile", "t", "--now"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr
            .contains("user mapping for PUBLIC on server billing is copied without its options"),
        "{}",
        run.stderr
    );

    let refused = acc(&config, &["restore", "--profile", "t"]);
    assert_eq!(refused.code, 78, "{refused:?}");
    for named in [
        "cast (character varying AS jsonb) can only be created by a superuser",
        "operator family app.text_hash_ops can only be created by a superuser",
        "operator class app.text_hash_ops can only be created by a superuser",
        "function app.code_hash(text) can only be created by a superuser",
        "function app.Code Hash(text) can only be created by a superuser",
        "function app.archive_handler() can only be created by a superuser",
        "foreign data wrapper archive_fdw can only be created by a superuser",
        "may not use foreign-data wrapper postgres_fdw (server billing)",
        "extension postgres_fdw can only be created by a superuser",
        // the statements, as the archive has them, for the template
        "CREATE SCHEMA IF NOT EXISTS \"app\" AUTHORIZATION \"acc\";",
        "CREATE CAST (character varying AS jsonb) WITH INOUT AS IMPLICIT;",
        "COMMENT ON CAST (character varying AS jsonb) IS 'lets the application bind text to jsonb columns';",
        "LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE",
        "GRANT USAGE ON FOREIGN DATA WRAPPER \"postgres_fdw\" TO \"acc\";",
    ] {
        assert!(
            refused.stderr.contains(named),
            "{named}: {}",
            refused.stderr
        );
    }
    // nothing was loaded, and nothing is left to resume
    assert_eq!(staging.databases().await, Vec::<String>::new());

    let hint = refused.stderr.split("hint: ").nth(1).unwrap_or_default();
    let template = Template::made_as_the_hint_says(&sb, "superuser", hint).await;
    template.set_in(&config);
    let restore = acc(&config, &["restore", "--profile", "t"]);
    assert_eq!(restore.code, 0, "{restore:?}");
    for named in [
        &format!(
            "role {}, which production's user mapping on server billing, policy tenant_rows on app.clients name(s), is created NOLOGIN",
            tenant.name
        ),
        "cast (character varying AS jsonb) comes from the restore template",
        "operator class app.text_hash_ops comes from the restore template",
        "function app.code_hash(text) comes from the restore template",
        "function app.Code Hash(text) comes from the restore template",
        "function app.archive_handler() comes from the restore template",
        "operator family app.text_hash_ops comes from the restore template",
        "foreign data wrapper archive_fdw comes from the restore template",
    ] {
        assert!(
            restore.stderr.contains(named),
            "{named}: {}",
            restore.stderr
        );
    }

    // the rows, and the whole schema (indexes on the template's operator class and
    // function, the server, its user mapping and foreign table), as production has them
    let p = prod.admin().await;
    let st = staging.admin(&staging.name).await;
    let sql = ROWS_HASH.replace("{}", "app.clients");
    let a: String = p.query_one(&sql, &[]).await.unwrap().get(0);
    let b: String = st.query_one(&sql, &[]).await.unwrap().get(0);
    assert_eq!(a, b, "rows of app.clients");
    let production = schema_dump(&format!("{}/{}", sb.var("ACC_PROD_URL"), prod.name));
    let restored = schema_dump(&format!("{}/{}", sb.var("ACC_STAGING_URL"), staging.name));
    let strip = |d: &str| d.replace("SET default_table_access_method = heap;\n\n", "");
    // but for the mapping's options, which acc could not read, as the restore said
    let production = production
        .replace(
            "SERVER billing OPTIONS (\n    \"user\" 'billing_ro'\n);",
            "SERVER billing;",
        )
        .replace(
            "SERVER billing OPTIONS (\n    password 'synthetic-only',\n    \"user\" 'tenant_ro'\n);",
            "SERVER billing;",
        );
    assert_eq!(strip(&production), strip(&restored), "schema");
    assert!(
        restore.stderr.contains(
            "staging's user mapping for PUBLIC on server billing has none of production's options"
        ),
        "{}",
        restore.stderr
    );
    for kept in [
        "CREATE USER MAPPING FOR public SERVER billing",
        "CREATE POLICY tenant_rows ON app.clients AS RESTRICTIVE FOR SELECT TO",
        "CREATE FOREIGN TABLE app.invoices",
        "USING hash (code app.text_hash_ops)",
    ] {
        assert!(restored.contains(kept), "{kept}: {restored}");
    }
    let valid: i64 = st
        .query_one(
            "SELECT count(*) FROM pg_index WHERE indisvalid
             AND indexrelid IN ('app.clients_code_hash'::regclass, 'app.clients_code_fast'::regclass)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(valid, 2);
    // the role staging lacked is there now, unable to log in
    let login: bool = st
        .query_one(
            "SELECT rolcanlogin FROM pg_roles WHERE rolname = $1",
            &[&tenant.name],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!login);
    // the reader reads the copy, not the billing server through the foreign table
    let reads: Vec<bool> = st
        .query_one(
            "SELECT has_table_privilege('staging_reader', 'app.clients', 'SELECT'),
                    has_table_privilege('staging_reader', 'app.invoices', 'SELECT')",
            &[],
        )
        .await
        .map(|r| vec![r.get(0), r.get(1)])
        .unwrap();
    assert_eq!(reads, [true, false]);
}

/// A role of production's own, which staging's cluster lacks, dropped from both clusters
/// with the guard (after the databases that name it, so made before them).
struct Role {
    name: String,
    urls: [String; 2],
}

impl Role {
    async fn on_production(sb: &Sandbox, tag: &str) -> Role {
        let name = format!("acc_t_{tag}_tenant_{}", std::process::id());
        sb.admin("ACC_PROD_URL", "postgres")
            .await
            .batch_execute(&format!(
                "DROP ROLE IF EXISTS {name}; CREATE ROLE {name} NOLOGIN"
            ))
            .await
            .unwrap();
        Role {
            name,
            urls: ["ACC_PROD_URL", "ACC_STAGING_URL"].map(|v| sb.var(v).to_string()),
        }
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        for url in &self.urls {
            let _ = std::process::Command::new("psql")
                .args(["-q", "-X", "-c"])
                .arg(format!("DROP ROLE IF EXISTS {}", self.name))
                .arg(format!("{url}/postgres"))
                .output();
        }
    }
}
