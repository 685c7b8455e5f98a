//! The database a run reads its dashboards from. On PostgreSQL all nine queries share one
//! REPEATABLE READ READ ONLY transaction, so they agree with each other, and each runs under
//! its own savepoint, so one failing query does not take the others down.

use chrono::{DateTime, Utc};
use tokio_postgres::Client;

use super::csv_out::CsvOut;
use super::dashboard::{Dashboard, Dialect};
use super::{pg_source, snowflake_source};
use crate::config::{DashboardSource, Profile};
use crate::env::Env;
use crate::error::{Error, Kind, Result};

pub enum Reader {
    Postgres {
        client: Client,
        source: DashboardSource,
    },
    Snowflake(Box<snowflake_connector_rs::Session>),
}

impl Reader {
    pub async fn open(
        profile: &Profile,
        env: &Env,
        source: DashboardSource,
        zone: &str,
    ) -> Result<Reader> {
        let db = match source {
            DashboardSource::Snowflake => {
                let sf = profile.snowflake.as_ref().ok_or_else(|| {
                    Error::config(format!("profile '{}' has no [snowflake] section", profile.name))
                        .hint("add [profiles.P.snowflake] with account and user, or pass --source staging")
                })?;
                return Ok(Reader::Snowflake(Box::new(
                    snowflake_source::connect(sf, env).await?,
                )));
            }
            DashboardSource::Staging => profile.staging()?,
            DashboardSource::Production => profile.production()?,
        };
        let client = crate::pg::connect(db, env, "acc-export").await?;
        client
            .batch_execute(&format!(
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; {}",
                pg_source::settings(zone)
            ))
            .await
            .map_err(|e| {
                Error::new(
                    Kind::Unavailable,
                    format!("cannot start reading {}", db.describe()),
                )
                .source(e)
            })?;
        Ok(Reader::Postgres { client, source })
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Reader::Postgres { .. } => Dialect::Postgres,
            Reader::Snowflake(_) => Dialect::Snowflake,
        }
    }

    /// When the data was true: staging says so in `acc.staging_info`; live production is as of
    /// the transaction; a Snowflake share's lag is unknown.
    pub async fn data_as_of(&self) -> Option<DateTime<Utc>> {
        let Reader::Postgres { client, source } = self else {
            return None;
        };
        if *source == DashboardSource::Production {
            return client
                .query_one("SELECT now()", &[])
                .await
                .ok()
                .map(|r| r.get(0));
        }
        let _ = client.batch_execute("SAVEPOINT acc_info").await;
        match client
            .query_one("SELECT data_as_of FROM acc.staging_info", &[])
            .await
        {
            Ok(row) => {
                let _ = client.batch_execute("RELEASE SAVEPOINT acc_info").await;
                row.get(0)
            }
            Err(_) => {
                let _ = client.batch_execute("ROLLBACK TO SAVEPOINT acc_info").await;
                crate::events::warning(
                    "staging has no acc.staging_info (not restored by acc?); data-as-of is unknown",
                );
                None
            }
        }
    }

    pub async fn run(&self, d: &Dashboard, out: &mut CsvOut) -> Result<()> {
        match self {
            Reader::Snowflake(session) => snowflake_source::run(session, d, out).await,
            Reader::Postgres { client, .. } => {
                let step = |sql: &'static str| async move {
                    client.batch_execute(sql).await.map_err(|e| {
                        Error::new(
                            Kind::Temporary,
                            format!("dashboard {}: the connection failed", d.name),
                        )
                        .source(e)
                    })
                };
                step("SAVEPOINT acc_dashboard").await?;
                match pg_source::run(client, d, out).await {
                    Ok(()) => step("RELEASE SAVEPOINT acc_dashboard").await,
                    Err(e) => {
                        let _ = step("ROLLBACK TO SAVEPOINT acc_dashboard").await;
                        Err(e)
                    }
                }
            }
        }
    }
}
