//! The doctor's checks of each PostgreSQL server: login, pg_dump's version, TLS and the
//! certificate, and on staging the reader's rights and the large-object functions.

use crate::config::Profile;

use crate::pg::{Database, SslMode};

use crate::env::Env;
use crate::pg::tls::PeerCert;

use super::check::{Check, fail, fail_with, pass, warn};

/// Connects to one server as the profile says and checks what acc needs of it: login, a
/// pg_dump at least as new, TLS, and for staging the reader's rights and large objects.
pub(super) async fn server(
    name: &str,
    db: &Database,
    p: &Profile,
    env: &Env,
    client_major: Option<i32>,
) -> Vec<Check> {
    let mut out = Vec::new();
    let mut opened = crate::pg::open(db, env, "acc-doctor").await;
    let mut not_yet = None;
    if name == "staging" && opened.as_ref().is_err_and(crate::pg::database_missing) {
        // a first night's staging: the server is what matters, the database comes with restore
        let maintenance = Database {
            dbname: "postgres".into(),
            ..db.clone()
        };
        if let Ok(c) = crate::pg::open(&maintenance, env, "acc-doctor").await {
            opened = Ok(c);
            not_yet = Some(pass(
                "staging database",
                format!(
                    "{} does not exist yet: the first acc restore creates it",
                    db.dbname
                ),
            ));
        }
    }
    match opened {
        Err(e) => out.push(fail(name, &e)),
        Ok(crate::pg::Connection { client, peer }) => {
            let version: i32 = client
                .query_one("SELECT current_setting('server_version_num')::int", &[])
                .await
                .map(|r| r.get(0))
                .unwrap_or(0);
            out.push(pass(
                name,
                format!(
                    "{} reached and logged in (server {})",
                    db.describe(),
                    version / 10000
                ),
            ));
            match client_major {
                Some(c) if c >= version / 10000 => {
                    out.push(pass(&format!("pg_dump for {name}"), format!("pg_dump {c} is at least server {}", version / 10000)))
                }
                Some(c) => out.push(fail_with(
                    &format!("pg_dump for {name}"),
                    format!("pg_dump {c} is older than server {}", version / 10000),
                    format!("install postgresql-client-{} (pg_dump must be the server's major version or newer)", version / 10000),
                )),
                None => out.push(fail_with(&format!("pg_dump for {name}"), "pg_dump is not installed", "install postgresql-client")),
            }
            out.extend(not_yet);
            out.extend(tls(name, db, &client, peer.as_ref()).await);
            if name == "production" {
                out.push(row_security(&client, db, p).await);
                out.push(user_mappings(&client, db, p).await);
            }
            if name == "staging" {
                out.push(staging_rights(&client, db).await);
                out.push(large_objects(&client, &p.restore.template).await);
                out.push(large_object_restore(&client, db).await);
            }
        }
    }
    out
}

pub(super) fn pg_dump_major() -> Option<i32> {
    let out = crate::process::command("pg_dump")
        .arg("--version")
        .output()
        .ok()?;
    // "pg_dump (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)"
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .nth(2)?
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// Certificates that expire sooner than this are warned about.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// What the server reports of this connection's TLS, the certificate it showed, and warnings
/// for a mode weaker than verify-full or a certificate close to expiry.
async fn tls(
    name: &str,
    db: &Database,
    client: &tokio_postgres::Client,
    peer: Option<&PeerCert>,
) -> Vec<Check> {
    let check = format!("{name} tls");
    let mut out = Vec::new();
    let row = client
        .query_one(
            "SELECT ssl, coalesce(version, ''), coalesce(cipher, '') FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await;
    let (on, version, cipher) = match row {
        Ok(r) => (
            r.get::<_, bool>(0),
            r.get::<_, String>(1),
            r.get::<_, String>(2),
        ),
        Err(e) => {
            out.push(fail_with(
                &check,
                format!("cannot read pg_stat_ssl: {e}"),
                "check the server",
            ));
            return out;
        }
    };
    if !on {
        out.push(fail_with(
            &check,
            format!(
                "the connection is not encrypted (sslmode \"{}\")",
                db.tls.mode.name()
            ),
            "turn on ssl at the server and set sslmode = \"verify-full\" with sslrootcert",
        ));
        return out;
    }
    let cert = peer.map_or_else(String::new, |c| {
        format!(
            ", certificate {} expires in {} days",
            c.subject,
            c.days_left(chrono::Utc::now())
        )
    });
    if db.tls.mode < SslMode::VerifyFull {
        out.push(warn(
            &check,
            format!("{version} {cipher} under sslmode \"{}\"{cert}", db.tls.mode.name()),
            if db.tls.checks_chain() {
                "the server's name is not checked: set sslmode = \"verify-full\""
            } else {
                "the server's certificate is not checked, so anyone on the path can pose as it: set sslmode = \"verify-full\" and sslrootcert"
            },
        ));
    } else {
        out.push(pass(
            &check,
            format!("{version} {cipher}, verify-full{cert}"),
        ));
    }
    if let Some(c) = peer {
        let days = c.days_left(chrono::Utc::now());
        if days < EXPIRY_WARNING_DAYS {
            out.push(warn(
                &format!("{name} certificate"),
                format!(
                    "{} expires in {days} days ({})",
                    c.subject,
                    c.not_after.to_rfc3339()
                ),
                "renew the server's certificate before it expires; acc will refuse an expired one",
            ));
        }
    }
    out
}

/// The large-object functions PostgreSQL 15 lets any login run, READ ONLY or not.
pub const LARGE_OBJECT_WRITERS: &str =
    "pg_catalog.lo_from_bytea(oid, bytea), pg_catalog.lo_create(oid), pg_catalog.lo_creat(integer)";

/// Whether readers can write large objects into staging: PostgreSQL 15 runs `lo_from_bytea`
/// and `lo_create` inside READ ONLY transactions for anyone, and only a superuser can revoke
/// them, in the database each night's copy is created from (`restore.template`).
async fn large_objects(client: &tokio_postgres::Client, template: &str) -> Check {
    let open = client
        .query_one(
            "SELECT has_function_privilege('public', 'pg_catalog.lo_from_bytea(oid, bytea)', 'EXECUTE')",
            &[],
        )
        .await
        .map(|r| r.get::<_, bool>(0));
    match open {
        Err(e) => fail_with(
            "staging large objects",
            e.to_string(),
            "check the staging role",
        ),
        Ok(false) => pass(
            "staging large objects",
            format!("PUBLIC cannot create large objects (copies are made from {template})"),
        ),
        Ok(true) => warn(
            "staging large objects",
            "any login can write large objects into the read-only staging copy (lo_from_bytea and lo_create ignore READ ONLY on PostgreSQL 15)",
            format!(
                "once, as a superuser on the staging server: CREATE DATABASE acc_template TEMPLATE template0; then connected to acc_template: REVOKE EXECUTE ON FUNCTION {LARGE_OBJECT_WRITERS} FROM PUBLIC; then set restore.template = \"acc_template\" (each night's copy inherits the revoke)"
            ),
        ),
    }
}

/// Whether production's row-level security would hide rows from acc's user: a snapshot would
/// stop (78) on those tables, or copy them filtered when `snapshot.enable_row_security` says so.
async fn row_security(client: &tokio_postgres::Client, db: &Database, p: &Profile) -> Check {
    const NAME: &str = "production row-level security";
    let filter = crate::snapshot::TableFilter {
        exclude_tables: p.snapshot.exclude_tables.clone(),
        only_schemas: p.snapshot.only_schemas.clone(),
    };
    let hidden = match crate::snapshot::hidden_for(client, &filter).await {
        Err(e) => return fail(NAME, &e),
        Ok(h) => h,
    };
    if hidden.is_empty() {
        return pass(
            NAME,
            format!("no table's policies hide rows from {}", db.user),
        );
    }
    let refusal = crate::snapshot::row_security_refusal(&hidden, &db.user);
    if p.snapshot.enable_row_security {
        let names: Vec<String> = hidden
            .iter()
            .map(crate::snapshot::describe_hidden)
            .collect();
        warn(
            NAME,
            format!(
                "copied filtered on purpose (snapshot.enable_row_security): {}",
                names.join(", ")
            ),
            "staging holds only the rows these policies show acc; unset snapshot.enable_row_security once acc can read every row",
        )
    } else {
        fail(NAME, &refusal)
    }
}

/// Whether acc's production user may read every user mapping's options: a snapshot would
/// stop (78) on those it may not, or copy them without when
/// `snapshot.user_mappings_without_options` says so.
async fn user_mappings(client: &tokio_postgres::Client, db: &Database, p: &Profile) -> Check {
    const NAME: &str = "production user mappings";
    if !p.snapshot.only_schemas.is_empty() {
        return pass(
            NAME,
            "snapshot.only_schemas: pg_dump carries no user mapping",
        );
    }
    let hidden = match crate::snapshot::hidden_user_mappings(client).await {
        Err(e) => return fail(NAME, &e),
        Ok(h) => h,
    };
    match (hidden.is_empty(), p.snapshot.user_mappings_without_options) {
        (true, _) => pass(
            NAME,
            format!("{} may read every user mapping's options", db.user),
        ),
        (false, true) => warn(
            NAME,
            format!(
                "copied without their options on purpose (snapshot.user_mappings_without_options): {}",
                hidden.join(", ")
            ),
            "on staging these mappings connect without production's remote user and password",
        ),
        (false, false) => fail(
            NAME,
            &crate::snapshot::user_mappings_refusal(&hidden, &db.user),
        ),
    }
}

/// Whether acc's staging user may recreate production's large objects with their OIDs: PUBLIC
/// must not run `lo_create` (see `large_objects`), so the staging user needs its own grant.
async fn large_object_restore(client: &tokio_postgres::Client, db: &Database) -> Check {
    const NAME: &str = "staging large-object restore";
    let sql = "SELECT has_function_privilege('pg_catalog.lo_create(oid)', 'EXECUTE')";
    match client
        .query_one(sql, &[])
        .await
        .map(|r| r.get::<_, bool>(0))
    {
        Err(e) => fail_with(NAME, e.to_string(), "check the staging role"),
        Ok(true) => pass(
            NAME,
            format!("{} can recreate large objects with their OIDs", db.user),
        ),
        Ok(false) => warn(
            NAME,
            format!(
                "{} cannot run lo_create, so a snapshot with large objects will not restore",
                db.user
            ),
            format!(
                "once, as a superuser, in the database restore.template names: GRANT EXECUTE ON FUNCTION pg_catalog.lo_create(oid) TO {}",
                crate::pg::quote_ident(&db.user)
            ),
        ),
    }
}

async fn staging_rights(client: &tokio_postgres::Client, db: &Database) -> Check {
    let sql = "SELECT r.rolcreatedb, r.rolcreaterole,
                      pg_has_role(current_user, 'pg_signal_backend', 'MEMBER'),
                      pg_has_role(current_user, 'pg_read_all_data', 'MEMBER'),
                      (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1) = current_user
               FROM pg_roles r WHERE r.rolname = current_user";
    match client.query_one(sql, &[&db.dbname]).await {
        Err(e) => fail_with("staging rights", e.to_string(), "check the staging role"),
        Ok(r) => {
            let missing: Vec<&str> = [
                (r.get::<_, bool>(0), "CREATEDB"),
                (r.get::<_, bool>(1), "CREATEROLE"),
                (r.get::<_, bool>(2), "pg_signal_backend"),
                (r.get::<_, bool>(3), "pg_read_all_data"),
                (
                    r.get::<_, Option<bool>>(4).unwrap_or(true),
                    "ownership of the staging database",
                ),
            ]
            .into_iter()
            .filter(|(has, _)| !has)
            .map(|(_, what)| what)
            .collect();
            if missing.is_empty() {
                pass(
                    "staging rights",
                    format!("{} may create, swap and lock down databases", db.user),
                )
            } else {
                fail_with(
                    "staging rights",
                    format!("{} lacks {}", db.user, missing.join(", ")),
                    format!(
                        "as a superuser: ALTER ROLE {0} CREATEDB CREATEROLE; GRANT pg_signal_backend, pg_read_all_data TO {0}; ALTER DATABASE {1} OWNER TO {0}",
                        db.user, db.dbname
                    ),
                )
            }
        }
    }
}
