//! Whether staging can take production's extensions: the check a restore makes before
//! pre-data (an extension staging's server lacks, one only a superuser may create, or one the
//! restore template has in another schema stops it with 78), made ahead from production's
//! catalog and the template, so the first night does not find out.

use crate::config::Profile;
use crate::env::Env;
use crate::pg::Database;

use super::check::{Check, fail, pass};

const NAME: &str = "staging extensions";

/// `None` when either server cannot be reached (their own checks say why).
pub(super) async fn check(p: &Profile, env: &Env) -> Option<Check> {
    let (prod, staging) = (p.production.as_ref()?, p.staging.as_ref()?);
    let production = crate::pg::open(prod, env, "acc-doctor").await.ok()?;
    let rows = production
        .client
        .query(
            "SELECT e.extname::text, n.nspname::text FROM pg_extension e
             JOIN pg_namespace n ON n.oid = e.extnamespace
             WHERE e.extname <> 'plpgsql' ORDER BY 1",
            &[],
        )
        .await
        .ok()?;
    let extensions: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let template = &p.restore.template;
    let on = |dbname: &str| Database {
        dbname: dbname.into(),
        ..staging.clone()
    };
    let (client, connected) = match crate::pg::open(&on(template), env, "acc-doctor").await {
        Ok(c) => (c, true),
        Err(_) => (
            crate::pg::open(&on("postgres"), env, "acc-doctor")
                .await
                .ok()?,
            false,
        ),
    };
    let count = extensions.len();
    let refusal = crate::restore::extensions_refusal(
        &client.client,
        connected,
        extensions,
        template,
        &staging.user,
    )
    .await;
    Some(match refusal {
        Err(e) => fail(NAME, &e),
        Ok(Some(e)) => fail(NAME, &e),
        Ok(None) => pass(
            NAME,
            format!("staging can take production's {count} extension(s) (template {template})"),
        ),
    })
}
