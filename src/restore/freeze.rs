//! The freeze switch, kept on the staging server itself (database `acc_control`), so every
//! host that runs acc for a profile sees the same state.

use chrono::{DateTime, Utc};
use tokio_postgres::Client;

use super::target::Target;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::pg;

const CONTROL_DB: &str = "acc_control";

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FreezeState {
    pub database: String,
    pub frozen_by: String,
    pub frozen_at: DateTime<Utc>,
    pub reason: String,
    pub auto_off_at: Option<DateTime<Utc>>,
}

/// Refuses (78) an `acc_control` that acc's staging user does not own: any role with CREATEDB
/// could have made it first, with a trigger on the freeze table that runs as whoever writes it.
async fn owned_by_acc(admin: &Client) -> Result<()> {
    let row = admin
        .query_one(
            "SELECT pg_get_userbyid(datdba)::text, current_user::text,
                    has_database_privilege('public', datname, 'CONNECT')
             FROM pg_database WHERE datname = $1",
            &[&CONTROL_DB],
        )
        .await
        .map_err(|e| {
            crate::pg::sqlstate::failure(format!("cannot read who owns {CONTROL_DB}"), e)
        })?;
    let (owner, me, open): (String, String, bool) = (row.get(0), row.get(1), row.get(2));
    if owner != me {
        return Err(Error::config(format!(
            "the {CONTROL_DB} database on the staging server belongs to {owner}, not to acc's user {me}; refusing to read or write the freeze state there"
        ))
        .hint(format!(
            "someone else created it, perhaps to plant code that runs as acc; as a superuser, check it and DROP DATABASE {CONTROL_DB} (acc creates its own), or ALTER DATABASE {CONTROL_DB} OWNER TO {}",
            pg::quote_ident(&me)
        )));
    }
    if open {
        admin
            .batch_execute(&format!("REVOKE ALL ON DATABASE {CONTROL_DB} FROM PUBLIC"))
            .await
            .map_err(|e| {
                crate::pg::sqlstate::failure(format!("cannot close {CONTROL_DB} to others"), e)
            })?;
    }
    Ok(())
}

async fn control(target: &Target, env: &Env) -> Result<Client> {
    let admin = target.maintenance(env).await?;
    let exists = admin
        .query_opt(
            "SELECT 1 FROM pg_database WHERE datname = $1",
            &[&CONTROL_DB],
        )
        .await
        .map_err(|e| crate::pg::sqlstate::failure("cannot read the staging server's databases", e))?
        .is_some();
    if !exists {
        match admin
            .batch_execute(&format!("CREATE DATABASE {CONTROL_DB}"))
            .await
        {
            // nobody else may connect to it, let alone plant a trigger in it
            Ok(()) => admin
                .batch_execute(&format!("REVOKE ALL ON DATABASE {CONTROL_DB} FROM PUBLIC"))
                .await
                .map_err(|e| {
                    crate::pg::sqlstate::failure(format!("cannot close {CONTROL_DB} to others"), e)
                })?,
            // another run created it at the same moment
            Err(e) if pg::lost_race(&e) => {}
            Err(e) => {
                return Err(crate::pg::sqlstate::failure(
                    format!("cannot create the {CONTROL_DB} database on the staging server"),
                    e,
                )
                .hint("the staging user needs CREATEDB"));
            }
        }
    }
    owned_by_acc(&admin).await?;
    let client = target.connect(CONTROL_DB, env).await?;
    let created = client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS public.staging_freeze (
                 database text PRIMARY KEY,
                 frozen_by text NOT NULL,
                 frozen_at timestamptz NOT NULL,
                 reason text NOT NULL,
                 auto_off_at timestamptz)",
        )
        .await;
    match created {
        Ok(()) => {}
        Err(e) if pg::lost_race(&e) => {}
        Err(e) => {
            return Err(crate::pg::sqlstate::failure(
                "cannot prepare the freeze table",
                e,
            ));
        }
    }
    table_is_acc_own(&client).await?;
    Ok(client)
}

/// Refuses (78) a freeze table acc did not make as it makes it: owned by another role, or with
/// anything that can run code as its writer (a trigger, a rule, a column default, a policy, a
/// constraint or index beyond the primary key, a column of a domain or other non-base type),
/// left by whoever owned `acc_control` before it was handed to acc.
async fn table_is_acc_own(client: &Client) -> Result<()> {
    let row = client
        .query_one(
            "SELECT pg_catalog.pg_get_userbyid(c.relowner)::text, current_user::text,
                    (SELECT count(*) FROM pg_catalog.pg_trigger t
                      WHERE t.tgrelid = c.oid AND NOT t.tgisinternal)
                  + (SELECT count(*) FROM pg_catalog.pg_rewrite r WHERE r.ev_class = c.oid)
                  + (SELECT count(*) FROM pg_catalog.pg_attrdef d WHERE d.adrelid = c.oid)
                  + (SELECT count(*) FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid)
                  + (SELECT count(*) FROM pg_catalog.pg_constraint k
                      WHERE k.conrelid = c.oid AND k.contype NOT IN ('p', 'n'))
                  + (SELECT count(*) FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid
                      AND (i.indexprs IS NOT NULL OR i.indpred IS NOT NULL OR NOT i.indisprimary))
                  + (SELECT count(*) FROM pg_catalog.pg_attribute a
                      JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
                      WHERE a.attrelid = c.oid AND a.attnum > 0 AND t.typtype <> 'b')
             FROM pg_catalog.pg_class c
             WHERE c.oid = 'public.staging_freeze'::pg_catalog.regclass",
            &[],
        )
        .await
        .map_err(|e| crate::pg::sqlstate::failure("cannot read the freeze table's owner", e))?;
    let (owner, me, planted): (String, String, i64) = (row.get(0), row.get(1), row.get(2));
    if owner == me && planted == 0 {
        return Ok(());
    }
    Err(Error::config(format!(
        "the freeze table {CONTROL_DB}.public.staging_freeze is not as acc makes it (owner {owner}, {planted} triggers, rules, defaults, policies, constraints, indexes or non-base column types added); refusing to read or write the freeze state there"
    ))
    .hint(format!(
        "as a superuser, check it and DROP DATABASE {CONTROL_DB}: acc creates its own on the next run"
    )))
}

/// The freeze in force for the target's database, if any; an expired automatic freeze is
/// lifted here.
pub async fn freeze_state(target: &Target, env: &Env) -> Result<Option<FreezeState>> {
    let c = control(target, env).await?;
    let fail = |e| crate::pg::sqlstate::failure("cannot read the freeze state", e);
    c.execute(
        "DELETE FROM public.staging_freeze WHERE database = $1 AND auto_off_at <= now()",
        &[&target.name()],
    )
    .await
    .map_err(fail)?;
    let row = c
        .query_opt(
            "SELECT database, frozen_by, frozen_at, reason, auto_off_at FROM public.staging_freeze WHERE database = $1",
            &[&target.name()],
        )
        .await
        .map_err(fail)?;
    Ok(row.map(|r| FreezeState {
        database: r.get(0),
        frozen_by: r.get(1),
        frozen_at: r.get(2),
        reason: r.get(3),
        auto_off_at: r.get(4),
    }))
}

pub async fn freeze_on(
    target: &Target,
    env: &Env,
    by: &str,
    reason: &str,
    auto_off_at: Option<DateTime<Utc>>,
) -> Result<FreezeState> {
    let c = control(target, env).await?;
    c.execute(
        "INSERT INTO public.staging_freeze (database, frozen_by, frozen_at, reason, auto_off_at)
         VALUES ($1, $2, now(), $3, $4)
         ON CONFLICT (database) DO UPDATE
           SET frozen_by = EXCLUDED.frozen_by, frozen_at = EXCLUDED.frozen_at,
               reason = EXCLUDED.reason, auto_off_at = EXCLUDED.auto_off_at",
        &[&target.name(), &by, &reason, &auto_off_at],
    )
    .await
    .map_err(|e| crate::pg::sqlstate::failure("cannot record the freeze", e))?;
    freeze_state(target, env)
        .await?
        .ok_or_else(|| Error::internal("the freeze was recorded but cannot be read back"))
}

/// Lifts the freeze; returns whether one was in force.
pub async fn freeze_off(target: &Target, env: &Env) -> Result<bool> {
    let c = control(target, env).await?;
    let n = c
        .execute(
            "DELETE FROM public.staging_freeze WHERE database = $1",
            &[&target.name()],
        )
        .await
        .map_err(|e| crate::pg::sqlstate::failure("cannot lift the freeze", e))?;
    Ok(n > 0)
}
