//! What makes the new copy staging: preserved schemas carried over, `acc.staging_info`, a
//! reader role that may only SELECT, and `default_transaction_read_only`.

use chrono::{DateTime, Utc};
use tokio_postgres::Client;

use super::target::Target;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::pg::quote_ident;
use crate::pg::tools as pg_tools;
use crate::snapshot::manifest::Manifest;

/// What staging holds, as recorded by the restore that made it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StagingInfo {
    pub label: String,
    pub data_as_of: DateTime<Utc>,
    pub restored_at: DateTime<Utc>,
    pub late: bool,
}

/// Reads `acc.staging_info` from the target's live database; `None` when it does not exist
/// or was not made by acc.
pub async fn read_info(target: &Target, env: &Env) -> Result<Option<StagingInfo>> {
    let admin = target.maintenance(env).await?;
    let exists = admin
        .query_opt(
            "SELECT 1 FROM pg_database WHERE datname = $1",
            &[&target.name()],
        )
        .await
        .map_err(|e| crate::pg::sqlstate::failure("cannot list the target's databases", e))?
        .is_some();
    if !exists {
        return Ok(None);
    }
    let c = target.connect(target.name(), env).await?;
    let row = c
        .query_opt(
            "SELECT label, data_as_of, restored_at, late FROM acc.staging_info
             WHERE to_regclass('acc.staging_info') IS NOT NULL",
            &[],
        )
        .await;
    // a database acc never restored has no acc schema: the query fails, and that means "none"
    Ok(row.ok().flatten().map(|r| StagingInfo {
        label: r.get(0),
        data_as_of: r.get(1),
        restored_at: r.get(2),
        late: r.get(3),
    }))
}

/// Copies `schemas` from the live database into the incoming one, replacing any schema of the
/// same name the snapshot brought; pg_dump pipes straight into pg_restore.
pub async fn preserve(target: &Target, env: &Env, schemas: &[String]) -> Result<Vec<String>> {
    if schemas.is_empty() {
        return Ok(Vec::new());
    }
    let live = target.connect(target.name(), env).await;
    let Ok(live) = live else {
        return Ok(Vec::new()); // no staging yet: nothing to carry over
    };
    let present: Vec<String> = live
        .query(
            "SELECT nspname::text FROM pg_namespace WHERE nspname = ANY($1)",
            &[&schemas],
        )
        .await
        .map_err(|e| crate::pg::sqlstate::failure("cannot list staging's schemas", e))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if present.is_empty() {
        return Ok(present);
    }
    let incoming = target.connect(&target.incoming(), env).await?;
    for s in &present {
        incoming
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", quote_ident(s)))
            .await
            .map_err(|e| {
                crate::pg::sqlstate::failure(format!("cannot make room for schema {s}"), e)
            })?;
    }
    let mut dump = pg_tools::command("pg_dump", &target.db, target.name(), env, "")?;
    dump.args(["--format=custom", "--no-owner", "--no-privileges"]);
    for s in &present {
        dump.arg(format!("--schema={}", quote_ident(s)));
    }
    let mut dump = pg_tools::spawn(dump, "pg_dump")?;
    let dump_errors = pg_tools::stderr_of(&mut dump);
    let pipe: std::process::Stdio = dump
        .stdout
        .take()
        .expect("piped")
        .try_into()
        .map_err(|e| Error::internal("cannot pipe pg_dump into pg_restore").source(e))?;
    let mut load = target.pg_restore(env)?;
    load.stdin(pipe);
    let mut load = pg_tools::spawn(load, "pg_restore")?;
    let load_errors = pg_tools::stderr_of(&mut load);
    pg_tools::finish(dump, dump_errors, "pg_dump (preserved schemas)")
        .await
        .map_err(|e| e.hint("the staging user must be able to read the preserved schemas (pg_read_all_data on staging)"))?;
    pg_tools::finish(load, load_errors, "pg_restore (preserved schemas)").await?;
    Ok(present)
}

/// A role the reader must never have the rights of, as a condition on `r` (pg_roles):
/// checked before loading, taken back after it, and checked again before the swap.
const RISKY: &str = "(r.rolsuper OR r.rolbypassrls OR r.rolcreaterole OR r.rolcreatedb
    OR r.rolname = current_user
    OR r.rolname IN ('pg_write_all_data', 'pg_write_server_files', 'pg_execute_server_program'))";

/// Refuses (78) a reader role that could write or escape read-only: a superuser, BYPASSRLS,
/// CREATEROLE or CREATEDB, the staging user itself, or a member of a role that is any of these.
/// A role that does not exist yet is created NOLOGIN later, which is safe.
pub async fn check_reader(target: &Target, env: &Env, reader: &str) -> Result<()> {
    let admin = target.maintenance(env).await?;
    let rows = admin
        .query(
            &format!(
                "SELECT r.rolname::text, r.rolsuper, r.rolbypassrls, r.rolcreaterole, r.rolcreatedb,
                    r.rolname = current_user
             FROM pg_roles r, pg_roles me
             WHERE me.rolname = $1 AND pg_has_role(me.oid, r.oid, 'MEMBER')
               AND {RISKY}"
            ),
            &[&reader],
        )
        .await
        .map_err(|e| crate::pg::sqlstate::failure("cannot look up the reader role", e))?;
    let Some(r) = rows.first() else {
        return Ok(());
    };
    let via: String = r.get(0);
    let what: Vec<&str> = [
        (r.get::<_, bool>(5), "the staging user itself"),
        (r.get::<_, bool>(1), "a superuser"),
        (r.get::<_, bool>(2), "BYPASSRLS"),
        (r.get::<_, bool>(3), "CREATEROLE"),
        (r.get::<_, bool>(4), "CREATEDB"),
    ]
    .into_iter()
    .filter(|(has, _)| *has)
    .map(|(_, w)| w)
    .collect();
    let through = if via == reader {
        String::new()
    } else {
        format!(" through its membership in {via}")
    };
    let what = if what.is_empty() {
        format!("a member of {via}")
    } else {
        what.join(", ") + &through
    };
    Err(Error::config(format!(
        "restore.reader_role '{reader}' is {what}: staging's readers must not be able to write"
    ))
    .hint(format!(
        "set restore.reader_role to a role of its own (acc creates it NOLOGIN), or as a superuser: ALTER ROLE {} NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB",
        quote_ident(&via)
    )))
}

/// Records what the new copy holds, grants the reader role SELECT and nothing more, and makes
/// every session read-only by default. Runs on the incoming database, as acc. Long on
/// purpose: one ordered list of statements, each of which the reader's safety depends on.
pub async fn lock_down(
    client: &Client,
    target: &Target,
    reader: &str,
    m: &Manifest,
    late: bool,
) -> Result<()> {
    record_info(client, m, late).await?;
    ensure_role(client, reader).await?;
    let (role, db) = (quote_ident(reader), quote_ident(&target.incoming()));
    // whatever the load ran (production's CHECK functions and materialized views run as acc)
    // may have granted: everything is revoked from PUBLIC and the reader, then read is granted
    let mut sql = read_only_grants(client, &db, &role).await?;
    grant_large_objects(client, &role).await?;
    // the resume record goes with the grants, in one transaction: a copy locked down is one
    // no later run resumes
    sql.push_str(&format!(
        "ALTER DATABASE {db} SET default_transaction_read_only = on;
         ALTER ROLE {role} SET default_transaction_read_only = on;
         {}",
        super::resume::forget()
    ));
    changing_roles(client, &sql)
        .await
        .map_err(fail("grant the reader role read-only access"))?;
    take_back_roles(client, reader).await?;
    no_write_left(client, reader).await
}

/// Runs `sql`, one transaction, again when another restore on this server changed the
/// reader role at the same moment. Roles are the whole cluster's, so two profiles restoring
/// side by side update its catalog rows at once, and the loser fails with "tuple concurrently
/// updated". Every statement here sets a state, so running it again is safe.
async fn changing_roles(
    client: &Client,
    sql: &str,
) -> std::result::Result<(), tokio_postgres::Error> {
    let mut tries = 0;
    loop {
        match client.batch_execute(sql).await {
            Err(e) if tries < 5 && concurrently_updated(&e) => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(50 * tries)).await;
            }
            done => return done,
        }
    }
}

fn concurrently_updated(e: &tokio_postgres::Error) -> bool {
    e.as_db_error().is_some_and(|db| {
        *db.code() == tokio_postgres::error::SqlState::INTERNAL_ERROR
            && db.message().contains("concurrently updated")
    })
}

/// The one text column of each row `sql` returns.
async fn names(client: &Client, sql: &str, what: &'static str) -> Result<Vec<String>> {
    let rows = client.query(sql, &[]).await.map_err(fail(what))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

fn fail(what: &'static str) -> impl Fn(tokio_postgres::Error) -> crate::error::Error {
    move |e| crate::pg::sqlstate::failure(format!("cannot {what}"), e)
}

/// `acc.staging_info`: what this copy holds, for readers and for the next restore.
async fn record_info(client: &Client, m: &Manifest, late: bool) -> Result<()> {
    client
        .batch_execute(
            "CREATE SCHEMA IF NOT EXISTS acc;
             DROP TABLE IF EXISTS acc.staging_info;
             CREATE TABLE acc.staging_info (
                 label text NOT NULL, profile text NOT NULL, data_as_of timestamptz NOT NULL,
                 cutoff timestamptz, restored_at timestamptz NOT NULL, late boolean NOT NULL,
                 acc_version text NOT NULL, wal_lsn text NOT NULL);
             COMMENT ON TABLE acc.staging_info IS 'What this read-only staging copy holds: the previous night''s data, as of data_as_of.'",
        )
        .await
        .map_err(fail("create acc.staging_info"))?;
    client
        .execute(
            "INSERT INTO acc.staging_info VALUES ($1, $2, $3, $4, now(), $5, $6, $7)",
            &[
                &m.label,
                &m.profile,
                &m.started_at,
                &m.cutoff,
                &late,
                &env!("CARGO_PKG_VERSION"),
                &m.wal_lsn,
            ],
        )
        .await
        .map_err(fail("record acc.staging_info"))?;
    Ok(())
}

/// Creates the reader role when it is missing.
async fn ensure_role(client: &Client, reader: &str) -> Result<()> {
    let exists = client
        .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&reader])
        .await
        .map_err(fail("look up the reader role"))?
        .is_some();
    if exists {
        return Ok(());
    }
    // another restore on this server may create it at the same moment
    let created = client
        .batch_execute(&format!("CREATE ROLE {} NOLOGIN", quote_ident(reader)))
        .await;
    created
        .or_else(|e| {
            if crate::pg::lost_race(&e) {
                Ok(())
            } else {
                Err(e)
            }
        })
        .map_err(|e| {
            crate::pg::sqlstate::failure(format!("cannot create the reader role {reader}"), e)
                .hint("the staging user needs CREATEROLE, or create the role beforehand")
        })
}

/// The statements that revoke everything from PUBLIC and the reader on the database, every
/// schema, table, sequence and SECURITY DEFINER routine, and grant read back.
async fn read_only_grants(client: &Client, db: &str, role: &str) -> Result<String> {
    let schemas: Vec<String> = names(
        client,
        "SELECT nspname::text FROM pg_namespace
             WHERE nspname <> 'information_schema' AND nspname NOT LIKE 'pg\\_%'",
        "list schemas",
    )
    .await?;
    let mut sql = format!(
        "REVOKE ALL ON DATABASE {db} FROM PUBLIC, {role}; GRANT CONNECT ON DATABASE {db} TO {role};
         REVOKE CREATE ON SCHEMA public FROM PUBLIC;"
    );
    for s in &schemas {
        let s = quote_ident(s);
        sql.push_str(&format!(
            "REVOKE ALL ON SCHEMA {s} FROM PUBLIC, {role}; GRANT USAGE ON SCHEMA {s} TO {role};
             REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM PUBLIC, {role};
             REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM PUBLIC, {role};
             GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {role};
             GRANT SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {role};"
        ));
    }
    // a foreign table reads a remote server live, with production's user mapping: the reader
    // reads the copy, not the systems production reaches
    let foreign: Vec<String> = names(
        client,
        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'f'",
        "list foreign tables",
    )
    .await?;
    for t in &foreign {
        sql.push_str(&format!("REVOKE SELECT ON {t} FROM {role};"));
    }
    if !foreign.is_empty() {
        crate::events::info(&format!(
            "restore: the reader may not read foreign table(s) {}: they read production's remote servers live, not the copy",
            foreign.join(", ")
        ));
    }
    // --no-owner made acc own every SECURITY DEFINER routine the snapshot brought: run by a
    // reader, one would write as acc
    let definers: Vec<String> = names(
        client,
        "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE p.prosecdef AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'",
        "list SECURITY DEFINER routines",
    )
    .await?;
    for f in &definers {
        sql.push_str(&format!(
            "REVOKE EXECUTE ON ROUTINE {f} FROM PUBLIC, {role};"
        ));
    }
    Ok(sql)
}

/// The large objects restore made belong to acc; readers may read each and nothing more
/// (writing one needs UPDATE on it, unlinking one its ownership).
async fn grant_large_objects(client: &Client, role: &str) -> Result<()> {
    let objects: Vec<String> = client
        .query("SELECT oid::text FROM pg_largeobject_metadata", &[])
        .await
        .map_err(fail("list large objects"))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for chunk in objects.chunks(1000) {
        let grants: String = chunk
            .iter()
            .map(|oid| {
                format!(
                    "REVOKE ALL ON LARGE OBJECT {oid} FROM PUBLIC, {role}; GRANT SELECT ON LARGE OBJECT {oid} TO {role};"
                )
            })
            .collect();
        client
            .batch_execute(&grants)
            .await
            .map_err(fail("grant the reader role SELECT on large objects"))?;
    }
    Ok(())
}

/// Roles and attributes the load may have given the reader (acc has CREATEROLE, so code that
/// production's schema ran as acc could grant `pg_write_all_data`): taken back, cluster-wide.
async fn take_back_roles(client: &Client, reader: &str) -> Result<()> {
    let fail =
        |e| crate::pg::sqlstate::failure("cannot take back the reader role's memberships", e);
    let granted: Vec<String> = client
        .query(
            &format!(
                "SELECT r.rolname::text FROM pg_auth_members m
             JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles me ON me.oid = m.member
             WHERE me.rolname = $1
               AND {RISKY}"
            ),
            &[&reader],
        )
        .await
        .map_err(fail)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let role = quote_ident(reader);
    let mut sql = format!("ALTER ROLE {role} NOCREATEDB NOCREATEROLE;");
    for g in &granted {
        sql.push_str(&format!("REVOKE {} FROM {role};", quote_ident(g)));
    }
    changing_roles(client, &sql).await.map_err(fail)
}

/// The reader's write privileges on any relation of the new copy, counted after the lock-down:
/// any at all stops the restore before the swap.
async fn no_write_left(client: &Client, reader: &str) -> Result<()> {
    let writable: Vec<String> = client
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
               AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
               AND (has_table_privilege($1, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
                    OR has_any_column_privilege($1, c.oid, 'INSERT, UPDATE, REFERENCES'))
             ORDER BY 1 LIMIT 10",
            &[&reader],
        )
        .await
        .map_err(|e| crate::pg::sqlstate::failure("cannot check the reader role's rights", e))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let fail = |e| crate::pg::sqlstate::failure("cannot check the reader role's rights", e);
    // an object the reader owns, or owns through a role it belongs to, it could alter or drop;
    // a risky role reached through another membership, it acts as
    let owned: i64 = client
        .query_one(
            "SELECT count(*) FROM (
                 SELECT c.relowner AS o FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
                 UNION ALL SELECT nspowner FROM pg_namespace
                 WHERE nspname <> 'information_schema' AND nspname NOT LIKE 'pg\\_%'
                 UNION ALL SELECT p.proowner FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                 WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
                 UNION ALL SELECT lomowner FROM pg_largeobject_metadata
                 UNION ALL SELECT datdba FROM pg_database WHERE datname = current_database()
             ) x WHERE pg_has_role($1, x.o, 'USAGE')",
            &[&reader],
        )
        .await
        .map_err(fail)?
        .get(0);
    let reached: Vec<String> = client
        .query(
            &format!(
                "SELECT r.rolname::text FROM pg_roles r
             WHERE r.rolname <> $1 AND pg_has_role($1, r.oid, 'MEMBER')
               AND {RISKY}
             ORDER BY 1"
            ),
            &[&reader],
        )
        .await
        .map_err(fail)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if writable.is_empty() && owned == 0 && reached.is_empty() {
        return Ok(());
    }
    let mut what = writable;
    if owned > 0 {
        what.push(format!("{owned} object(s) it owns"));
    }
    if !reached.is_empty() {
        what.push(format!("the rights of {}", reached.join(", ")));
    }
    Err(Error::config(format!(
        "after the lock-down, restore.reader_role '{reader}' could still write: {}; staging was not swapped",
        what.join(", ")
    ))
    .hint("a role the reader belongs to grants it, or the loaded schema's code gave it; give the reader a role of its own (acc creates it NOLOGIN) and check production's functions that GRANT or ALTER ... OWNER"))
}
