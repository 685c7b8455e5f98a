//! Whether staging's copy can be made in production's encoding and locale: from template0 acc
//! names them itself; another template must already be in them, or each restore stops with
//! 78 before anything is made. Checked ahead from both servers.

use crate::config::Profile;
use crate::env::Env;
use crate::pg::Database;
use crate::pg::locale::{DatabaseLocale, of_database};
use crate::pg::quote_literal;

use super::check::{Check, fail, fail_with, pass};

const NAME: &str = "staging locale";

/// `None` when either server cannot be reached (their own checks say why).
pub(super) async fn check(p: &Profile, env: &Env) -> Option<Check> {
    let (prod, staging) = (p.production.as_ref()?, p.staging.as_ref()?);
    let production = crate::pg::open(prod, env, "acc-doctor").await.ok()?;
    let want = match of_database(&production.client, None).await {
        Ok(w) => w?,
        Err(e) => return Some(fail(NAME, &e)),
    };
    let on = Database {
        dbname: "postgres".into(),
        ..staging.clone()
    };
    let server = crate::pg::open(&on, env, "acc-doctor").await.ok()?;
    let template = &p.restore.template;
    let has = match of_database(&server.client, Some(template)).await {
        Err(e) => return Some(fail(NAME, &e)),
        Ok(None) => {
            return Some(fail_with(
                NAME,
                format!("restore.template {template} does not exist on staging's server"),
                "create it (see docs/restore.md), or set restore.template = \"template0\"",
            ));
        }
        Ok(Some(h)) => h,
    };
    Some(
        match crate::restore::locale_refusal(template, &has, &want) {
            Some(e) => fail(NAME, &e),
            None if crate::restore::same_locale(&has, &want) => pass(
                NAME,
                format!("production and {template} are both in {want}"),
            ),
            None => match installed(&server.client, &want).await {
                Ok(()) => pass(
                    NAME,
                    format!("each night's copy is made from template0 in production's {want}"),
                ),
                Err(e) => fail_with(
                    NAME,
                    format!("staging's server lacks production's locale ({want}): {e}"),
                    "install it on the staging server (Debian: add it to /etc/locale.gen, run locale-gen, restart PostgreSQL); each restore stops with 78 until then",
                ),
            },
        },
    )
}

/// Whether staging's server has production's libc locales (ICU and builtin ones are checked
/// by the restore itself), tried as a temporary collation that is rolled back.
async fn installed(client: &tokio_postgres::Client, want: &DatabaseLocale) -> Result<(), String> {
    if want.provider != "libc" {
        return Ok(());
    }
    let probe = format!(
        "BEGIN; CREATE COLLATION pg_temp.acc_probe (provider = libc, lc_collate = {}, lc_ctype = {})",
        quote_literal(&want.collate),
        quote_literal(&want.ctype)
    );
    let tried = client.batch_execute(&probe).await;
    let _ = client.batch_execute("ROLLBACK").await;
    tried.map_err(|e| {
        e.as_db_error()
            .map_or(e.to_string(), |d| d.message().to_string())
    })
}
