//! The freeze switch, kept on the staging server itself (database `acc_control`), so every
//! host that runs acc for a profile sees the same state.

use chrono::{DateTime, Utc};
use tokio_postgres::Client;

use super::target::Target;
use crate::config::Env;
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

async fn control(target: &Target, env: &Env) -> Result<Client> {
    let admin = target.maintenance(env).await?;
    let exists = admin
        .query_opt(
            "SELECT 1 FROM pg_database WHERE datname = $1",
            &[&CONTROL_DB],
        )
        .await
        .map_err(|e| Error::unavailable("cannot read the staging server's databases").source(e))?
        .is_some();
    if !exists {
        match admin
            .batch_execute(&format!("CREATE DATABASE {CONTROL_DB}"))
            .await
        {
            Ok(()) => {}
            // another run created it at the same moment
            Err(e) if pg::lost_race(&e) => {}
            Err(e) => {
                return Err(Error::unavailable(format!(
                    "cannot create the {CONTROL_DB} database on the staging server"
                ))
                .source(e)
                .hint("the staging user needs CREATEDB"));
            }
        }
    }
    let client = target.connect(CONTROL_DB, env).await?;
    let created = client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS staging_freeze (
                 database text PRIMARY KEY,
                 frozen_by text NOT NULL,
                 frozen_at timestamptz NOT NULL,
                 reason text NOT NULL,
                 auto_off_at timestamptz)",
        )
        .await;
    match created {
        Ok(()) => Ok(client),
        Err(e) if pg::lost_race(&e) => Ok(client),
        Err(e) => Err(Error::unavailable("cannot prepare the freeze table").source(e)),
    }
}
