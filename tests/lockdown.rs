//! Staging stays read-only: the reader role can select and nothing more, a reader that could
//! write is refused before loading, and nothing production's code runs during the load leaves
//! the reader a write.

mod support;

use support::acc;
use support::restores::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reader_role_can_select_and_nothing_more() {
    let s = setup("readonly", "").await;
    // a SECURITY DEFINER routine that writes: on staging acc owns it (--no-owner)
    s.prod
        .admin()
        .await
        .batch_execute(
            "CREATE FUNCTION agency.definer_write() RETURNS void LANGUAGE sql SECURITY DEFINER
                 AS $$ INSERT INTO agency.branches (id, name, time_zone, phone, address)
                       VALUES (997, 'definer', 'UTC', '555-0100', 'nowhere') $$;",
        )
        .await
        .unwrap();
    s.snapshot();
    assert_eq!(s.restore(&[]).code, 0);
    let (login, url) = reader_login(&s, "reader").await;
    let admin = s.staging.admin("postgres").await;
    let setting: Vec<String> = admin
        .query_one(
            "SELECT coalesce(setconfig, '{}') FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole
             WHERE r.rolname = 'staging_reader' AND s.setdatabase = 0",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        setting.contains(&"default_transaction_read_only=on".to_string()),
        "{setting:?}"
    );
    let c = support::connect(&url, "staging as the reader").await;
    let n: i64 = c
        .query_one("SELECT count(*) FROM agency.clients", &[])
        .await
        .unwrap()
        .get(0);
    assert!(n > 0, "the reader can SELECT");
    let info: String = c
        .query_one("SELECT label FROM acc.staging_info", &[])
        .await
        .unwrap()
        .get(0);
    assert!(!info.is_empty(), "the reader can see what staging holds");
    // the strongest reader: every session default turned back to read-write first, each
    // statement on its own (a SET in the same simple query would not apply to the write)
    for set in [
        "SET default_transaction_read_only = off",
        "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
    ] {
        c.batch_execute(set).await.unwrap();
    }
    let writes = [
        "INSERT INTO agency.branches (id, name, time_zone, phone, address) VALUES (999, 'x', 'UTC', '555-0100', 'a')",
        "UPDATE agency.clients SET first_name = 'x'",
        "DELETE FROM agency.visit_notes",
        "TRUNCATE agency.visit_notes",
        "COPY agency.branches (id, name) FROM PROGRAM 'true'",
        "SELECT * FROM agency.clients FOR UPDATE",
        "BEGIN READ WRITE; LOCK TABLE agency.clients IN ACCESS EXCLUSIVE MODE",
        "SELECT nextval(pg_get_serial_sequence('agency.visit_notes', 'id'))",
        "SELECT setval('agency.invoice_number_seq', 1)",
        "CREATE TABLE agency.mine (id int)",
        "CREATE TABLE public.mine (id int)",
        "CREATE TEMP TABLE t (id int)",
        "CREATE SCHEMA mine",
        "CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "ALTER TABLE agency.clients ADD COLUMN x int",
        "DROP TABLE agency.visit_notes",
        "REFRESH MATERIALIZED VIEW agency.client_visit_summary",
        "SELECT agency.definer_write()",
        "CREATE INDEX ON agency.clients (id)",
        "SELECT lo_from_bytea(0, 'written by a reader')",
        "SELECT lo_create(0)",
    ];
    for sql in writes {
        let err = c
            .batch_execute(sql)
            .await
            .err()
            .unwrap_or_else(|| panic!("the reader could run: {sql}"));
        c.batch_execute("ROLLBACK").await.unwrap();
        // refused for want of rights or because the transaction is read-only, never for a
        // reason that would let a better-formed write through
        let code = err.code().map(|c| c.code().to_string()).unwrap_or_default();
        assert!(
            ["42501", "25006"].contains(&code.as_str()),
            "{sql}: refused with {code}: {err:?}"
        );
    }
    let branches: i64 = c
        .query_one(
            "SELECT count(*) FROM agency.branches WHERE id IN (997, 999)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(branches, 0);
    drop(c);

    // doctor reports a staging server where PUBLIC may still write large objects (here the
    // cluster's own postgres database, made at initdb without acc's template)
    let dir = tempfile::tempdir().unwrap();
    let open = s.staging.sections(&s.sb).replace(
        &format!("dbname = \"{}\"", s.staging.name),
        "dbname = \"postgres\"",
    );
    let config = s.sb.write_profile(dir.path(), &s.prod.name, None, &open);
    let run = acc(&config, &["doctor", "--profile", "t"]);
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains("staging large objects"))
        .unwrap_or_else(|| panic!("{run:?}"));
    assert!(line.trim_start().starts_with("WARN"), "{line}");
    assert!(
        run.stdout
            .contains("REVOKE EXECUTE ON FUNCTION pg_catalog.lo_from_bytea"),
        "{}",
        run.stdout
    );
    let run = s.acc(&["doctor", "--profile", "t"]);
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains("staging large objects"))
        .unwrap_or_else(|| panic!("{run:?}"));
    assert!(line.trim_start().starts_with("ok"), "{line}");

    let _ = admin
        .batch_execute(&format!(
            "DROP OWNED BY {login}; DROP ROLE IF EXISTS {login}"
        ))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_role_that_could_write_is_refused_with_78_before_loading() {
    let s0 = setup("badreader", "").await;
    let bad = format!("acc_t_badreader_{}", std::process::id());
    let admin = s0.staging.admin("postgres").await;
    admin
        .batch_execute(&format!(
            "DROP ROLE IF EXISTS {bad}; CREATE ROLE {bad} NOLOGIN CREATEDB"
        ))
        .await
        .unwrap();
    s0.snapshot();
    for (role, says) in [
        (bad.as_str(), "CREATEDB"),
        ("acc", "the staging user itself"),
    ] {
        let config = std::fs::read_to_string(&s0.config).unwrap().replace(
            "[profiles.t.restore]\n",
            &format!("[profiles.t.restore]\nreader_role = \"{role}\"\n"),
        );
        std::fs::write(&s0.config, config).unwrap();
        let run = s0.restore(&[]);
        assert_eq!(run.code, 78, "{role}: {run:?}");
        assert!(run.stderr.contains(says), "{role}: {}", run.stderr);
        let incoming = incoming_copies(&admin, &s0.staging.name).await;
        assert_eq!(incoming, 0, "nothing was loaded");
        let restored = std::fs::read_to_string(&s0.config)
            .unwrap()
            .replace(&format!("reader_role = \"{role}\"\n"), "");
        std::fs::write(&s0.config, restored).unwrap();
    }
    let _ = admin
        .batch_execute(&format!("DROP ROLE IF EXISTS {bad}"))
        .await;
}

/// COPY into staging runs production's CHECK functions as acc. One that grants the reader
/// UPDATE on a table and membership in pg_write_all_data gets nothing past the lock-down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_survives_what_the_load_runs() {
    let reader = format!("acc_t_load_reader_{}", std::process::id());
    // another role the function grants to, which the lock-down leaves alone: proof it ran
    let marker = format!("acc_t_load_marker_{}", std::process::id());
    let s = setup("load_grants", &format!("reader_role = \"{reader}\"\n")).await;
    s.prod
        .admin()
        .await
        .batch_execute(&format!(
            "CREATE FUNCTION agency.granting_check(id bigint) RETURNS boolean LANGUAGE plpgsql AS $$
             BEGIN
                 IF pg_catalog.current_database() LIKE '%\\_\\_incoming' THEN
                     EXECUTE 'GRANT UPDATE, DELETE ON agency.clients TO {reader}';
                     EXECUTE 'GRANT pg_write_all_data TO {reader}';
                     EXECUTE 'GRANT SELECT ON agency.clients TO {marker}';
                 END IF;
                 RETURN true;
             END $$;
             ALTER TABLE agency.branches ADD CONSTRAINT branches_granting
                 CHECK (agency.granting_check(id::bigint));"
        ))
        .await
        .unwrap();
    s.staging
        .admin("postgres")
        .await
        .batch_execute(&format!(
            "CREATE ROLE {reader} NOLOGIN; CREATE ROLE {marker} NOLOGIN"
        ))
        .await
        .unwrap();
    s.snapshot();
    let run = s.restore(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    let admin = s.staging.admin(&s.staging.name).await;
    let (update, member): (bool, bool) = admin
        .query_one(
            "SELECT has_table_privilege($1, 'agency.clients', 'UPDATE'),
                    pg_has_role($1, 'pg_write_all_data', 'MEMBER')",
            &[&reader],
        )
        .await
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert!(!update, "UPDATE granted during the load survived");
    assert!(
        !member,
        "pg_write_all_data granted during the load survived"
    );
    let select: bool = admin
        .query_one(
            "SELECT has_table_privilege($1, 'agency.clients', 'SELECT')",
            &[&reader],
        )
        .await
        .unwrap()
        .get(0);
    assert!(select, "the reader still reads");
    let ran: bool = admin
        .query_one(
            "SELECT has_table_privilege($1, 'agency.clients', 'SELECT')",
            &[&marker],
        )
        .await
        .unwrap()
        .get(0);
    assert!(ran, "the CHECK function ran during the load");
    drop(admin);
    let cluster = s.staging.admin("postgres").await;
    for db in [
        s.staging.name.clone(),
        format!("{}__previous", s.staging.name),
    ] {
        let _ = cluster
            .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .await;
    }
    let _ = cluster
        .batch_execute(&format!(
            "DROP ROLE IF EXISTS {reader}; DROP ROLE IF EXISTS {marker}"
        ))
        .await;
}
