//! Whether staging can take production's extensions: the check a restore makes before
//! pre-data (an extension staging's server lacks, one only a superuser may create, or one the
//! restore template has in another schema stops it with 78), made ahead from production's
//! catalog and the template, so the first night does not find out. What only a snapshot
//! tells (the user's rows in configuration tables, the template's sequences) the restore
//! checks itself.

use crate::config::Profile;
use crate::env::Env;
use crate::pg::Database;

use super::check::{Check, fail, fail_with, pass};

const NAME: &str = "staging extensions";

/// `None` when either server cannot be reached (their own checks say why).
pub(super) async fn check(p: &Profile, env: &Env) -> Option<Check> {
    let (prod, staging) = (p.production.as_ref()?, p.staging.as_ref()?);
    if !p.snapshot.only_schemas.is_empty() {
        // pg_dump --schema dumps no extension, so a restore creates none
        return Some(pass(
            NAME,
            "not checked: with snapshot.only_schemas, snapshots carry no extension",
        ));
    }
    let production = crate::pg::open(prod, env, "acc-doctor").await.ok()?;
    let rows = production
        .client
        .query(
            "SELECT e.extname::text, n.nspname::text FROM pg_extension e
             JOIN pg_namespace n ON n.oid = e.extnamespace
             WHERE e.extname <> 'plpgsql' ORDER BY 1",
            &[],
        )
        .await;
    let extensions: Vec<(String, String)> = match rows {
        Ok(rows) => rows.iter().map(|r| (r.get(0), r.get(1))).collect(),
        Err(e) => return Some(fail_with(NAME, e.to_string(), "check production's role")),
    };
    let template = &p.restore.template;
    let on = |dbname: &str| Database {
        dbname: dbname.into(),
        ..staging.clone()
    };
    let server = crate::pg::open(&on("postgres"), env, "acc-doctor")
        .await
        .ok()?;
    let allows = server
        .client
        .query_opt(
            "SELECT datallowconn FROM pg_database WHERE datname = $1",
            &[template],
        )
        .await;
    let (client, connected) = match allows {
        Err(e) => return Some(fail_with(NAME, e.to_string(), "check the staging role")),
        Ok(None) => {
            return Some(fail_with(
                NAME,
                format!("restore.template {template} does not exist on staging's server"),
                "create it (see docs/restore.md), or set restore.template to a database that exists",
            ));
        }
        // one that takes no connections (template0) holds what template0 holds
        Ok(Some(row)) if !row.get::<_, bool>(0) => (server, false),
        Ok(Some(_)) => match crate::pg::open(&on(template), env, "acc-doctor").await {
            Ok(c) => (c, true),
            Err(e) => return Some(fail(NAME, &e)),
        },
    };
    let count = extensions.len();
    let user = &staging.user;
    let refusal =
        crate::restore::extensions_refusal(&client.client, connected, extensions, template, user);
    Some(match refusal.await {
        Err(e) => fail(NAME, &e),
        Ok(Some(e)) => fail(NAME, &e),
        Ok(None) => pass(
            NAME,
            format!(
                "staging can take production's {count} extension(s) (template {template}); their configuration rows and sequences are checked by each restore"
            ),
        ),
    })
}
