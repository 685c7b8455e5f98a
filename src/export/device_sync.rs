//! The device-sync dashboard read back by acc itself: which carers' devices missed visits
//! (a sync mismatch) or keep no offline copy. `acc sheets` marks their sheets and lists them
//! first; `acc status` counts them. The query (built in, or an organisation's override) is the
//! one definition of a mismatch; acc reads its columns by name.

use std::path::PathBuf;

use chrono_tz::Tz;
use tokio_postgres::SimpleQueryMessage;

use super::dashboard::{self, DEVICE_SYNC, Dialect};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::pg::Database;
use crate::pg::sqlstate::failure;
use crate::schedule::Period;

/// One carer with visits in the period, as the dashboard shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Carer {
    pub number: String,
    pub name: String,
    pub phone: String,
    pub devices: String,
    /// `YYYY-MM-DD HH:MM` in the region's zone; `None` when no device ever synced.
    pub last_sync: Option<String>,
    /// `yes` on every device, `no`, `some devices`, or `no device`.
    pub offline_mode: String,
    pub visits: u64,
    /// Visits created or changed after the last successful sync: the app does not show them.
    pub changed: u64,
}

impl Carer {
    /// A sync mismatch: the app misses at least one of their visits.
    pub fn mismatch(&self) -> bool {
        self.changed > 0
    }

    /// Who needs paper first: a mismatch, or a device that keeps no offline copy.
    pub fn urgent(&self) -> bool {
        self.mismatch() || self.offline_mode != "yes"
    }
}

/// The columns acc reads, by the headers the built-in query gives them.
const COLUMNS: [&str; 8] = [
    "Employee number",
    "Employee",
    "Phone",
    "Devices",
    "Last successful sync",
    "Offline mode",
    "Visits ahead",
    "Visits changed since sync",
];

/// How long the query may run before the server cancels it.
const QUERY_SECONDS: u32 = 120;

/// Whether the profile tracks devices: `device-sync` is among its extra dashboards.
pub fn tracked(extra_dashboards: &[String]) -> bool {
    extra_dashboards.iter().any(|d| d == DEVICE_SYNC)
}

/// Every carer with visits in `period`, most urgent first, from `db` (staging or production).
pub async fn carers(
    db: &Database,
    env: &Env,
    dirs: &[PathBuf],
    period: &Period,
    zone: Tz,
) -> Result<Vec<Carer>> {
    let query = dashboard::load(&[DEVICE_SYNC], dirs, Dialect::Postgres, period)?
        .pop()
        .expect("one dashboard loaded");
    let what = format!("dashboard {DEVICE_SYNC} ({})", query.origin);
    let client = crate::pg::connect(db, env, "acc device-sync").await?;
    let failed =
        |e: tokio_postgres::Error| failure(format!("{what} failed on {}", db.describe()), e);
    // one statement (preparing refuses more), read-only, bounded in time: an override is
    // a query, never a way to write or to hang status
    client.prepare(&query.sql).await.map_err(failed)?;
    client
        .batch_execute(&format!(
            "BEGIN READ ONLY; SET LOCAL TimeZone = '{}'; SET LOCAL DateStyle = 'ISO'; \
             SET LOCAL statement_timeout = '{}s'",
            zone.name(),
            QUERY_SECONDS
        ))
        .await
        .map_err(failed)?;
    let mut at: Option<[usize; COLUMNS.len()]> = None;
    let mut out = Vec::new();
    for message in client.simple_query(&query.sql).await.map_err(failed)? {
        let SimpleQueryMessage::Row(row) = message else {
            continue;
        };
        let at = match at {
            Some(at) => at,
            None => {
                let names: Vec<&str> = row.columns().iter().map(|c| c.name()).collect();
                *at.insert(positions(&what, &names)?)
            }
        };
        let cell = |i: usize| row.get(at[i]).unwrap_or("").to_string();
        let count = |i: usize| {
            let text = cell(i);
            text.parse::<u64>().map_err(|_| {
                Error::config(format!(
                    "{what}: \"{}\" holds '{text}', not a count",
                    COLUMNS[i]
                ))
            })
        };
        out.push(Carer {
            number: cell(0),
            name: cell(1),
            phone: cell(2),
            devices: cell(3),
            last_sync: row.get(at[4]).map(|t| t.chars().take(16).collect()),
            offline_mode: cell(5),
            visits: count(6)?,
            changed: count(7)?,
        });
    }
    Ok(out)
}

/// `Ok` when the header `names` (of `what`: which query, from where) has every column acc
/// reads; else a configuration error naming the first missing.
pub fn check_columns(what: &str, names: &[&str]) -> Result<()> {
    positions(what, names).map(|_| ())
}

/// Where each column acc reads is; one missing is a configuration error that names it.
fn positions(what: &str, names: &[&str]) -> Result<[usize; COLUMNS.len()]> {
    let mut at = [0; COLUMNS.len()];
    for (i, name) in COLUMNS.iter().enumerate() {
        at[i] = names.iter().position(|c| c == name).ok_or_else(|| {
            Error::config(format!("{what} has no column \"{name}\"")).hint(
                "an overriding device-sync query may add columns, never leave out one acc reads",
            )
        })?;
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn carer(changed: u64, offline: &str) -> Carer {
        Carer {
            number: "E1".into(),
            name: "Zoë Ashgrove".into(),
            phone: String::new(),
            devices: "Pixel 7a".into(),
            last_sync: Some("2026-12-03 21:40".into()),
            offline_mode: offline.into(),
            visits: 6,
            changed,
        }
    }

    #[test]
    fn a_mismatch_or_a_device_without_offline_mode_is_urgent() {
        assert!(!carer(0, "yes").urgent());
        assert!(carer(1, "yes").mismatch() && carer(1, "yes").urgent());
        assert!(!carer(0, "no").mismatch() && carer(0, "no").urgent());
        assert!(carer(0, "some devices").urgent());
        assert!(carer(0, "no device").urgent());
        assert!(tracked(&["device-sync".into()]) && !tracked(&[]));
    }

    #[test]
    fn a_header_without_a_column_acc_reads_is_refused_naming_it() {
        let mut names = COLUMNS.to_vec();
        names.push("Branch");
        assert!(check_columns("q", &names).is_ok());
        names.retain(|n| *n != "Offline mode");
        let e = check_columns("q", &names).unwrap_err();
        assert_eq!(e.exit_code(), 78);
        assert!(e.message().contains("\"Offline mode\""), "{}", e.message());
    }
}
