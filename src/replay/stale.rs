//! Entries typed from a stale schedule: the visit was created or changed after its carer's
//! device last synced, so the carer may have worked from what their app showed instead of
//! the rota. Told from staging, the copy the sheets were printed from and what the lifeline
//! knew when the outage began (production's `updated_at` moves as soon as anything, replay
//! included, writes the visit). The rule is the device-sync dashboard's, per visit.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::planned::Planned;
use crate::env::Env;
use crate::error::Result;
use crate::pg::Database;
use crate::pg::sqlstate::failure;

/// `file:line` and why, for each planned line whose visit staging says the app missed.
pub async fn flags(
    staging: &Database,
    env: &Env,
    planned: &[Planned],
    zone: Tz,
) -> Result<Vec<(String, String)>> {
    let mut ids: Vec<i64> = planned.iter().map(|p| p.visit_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let client = crate::pg::connect(staging, env, "acc-replay").await?;
    let rows = client
        .query(
            "SELECT v.id, v.updated_at, s.last_sync, e.employee_number
             FROM agency.visits v
             JOIN agency.employees e ON e.id = v.employee_id
             LEFT JOIN (SELECT employee_id, max(last_successful_sync) AS last_sync
                        FROM agency.user_devices GROUP BY employee_id) s ON s.employee_id = v.employee_id
             WHERE v.id = ANY($1) AND (s.last_sync IS NULL OR v.updated_at > s.last_sync)",
            &[&ids],
        )
        .await
        .map_err(|e| failure(format!("cannot read devices from {}", staging.describe()), e))?;
    let local = |t: DateTime<Utc>| t.with_timezone(&zone).format("%Y-%m-%d %H:%M").to_string();
    let stale: HashMap<i64, String> = rows
        .iter()
        .map(|r| {
            let (id, changed, synced, who): (i64, DateTime<Utc>, Option<DateTime<Utc>>, String) =
                (r.get(0), r.get(1), r.get(2), r.get(3));
            let why = match synced {
                Some(s) => format!(
                    "typed from a stale schedule: visit {id} changed {} after {who}'s device last synced {}; check it before it is applied",
                    local(changed),
                    local(s)
                ),
                None => format!(
                    "typed from a stale schedule: visit {id} was never on {who}'s app (no device has synced); check it before it is applied"
                ),
            };
            (id, why)
        })
        .collect();
    Ok(planned
        .iter()
        .filter_map(|p| {
            let why = stale.get(&p.visit_id)?;
            Some((format!("{}:{}", p.raw.file, p.raw.line), why.clone()))
        })
        .collect())
}
