//! The doctor's check of the device-sync dashboard, for a profile that tracks devices: it
//! prepares (the device table is there) and gives the columns acc reads. Without it, `acc
//! status` cannot count the carers whose app missed visits and `acc sheets --stale-only`
//! stops with 78; this says so before the outage.

use crate::config::Profile;
use crate::env::Env;
use crate::export::dashboard::{self, DEVICE_SYNC, Dialect};
use crate::export::device_sync;
use crate::schedule::Period;

use super::check::{Check, fail, fail_with, pass};

const NAME: &str = "device-sync";

/// Nothing when the profile does not track devices, or no server can be asked.
pub(super) async fn check(p: &Profile, env: &Env, dirs: &[std::path::PathBuf]) -> Option<Check> {
    // a misspelt name would leave devices untracked without a word, and fail the night's export
    if let Err(e) = dashboard::profile_set(&p.export.extra_dashboards) {
        return Some(fail(NAME, &e));
    }
    if !device_sync::tracked(&p.export.extra_dashboards) {
        return None;
    }
    let zone = p.region.local_zone();
    let today = chrono::Utc::now().with_timezone(&zone).date_naive();
    let period = Period::from_day(today, zone, 1);
    let query = match dashboard::load(&[DEVICE_SYNC], dirs, Dialect::Postgres, &period) {
        Ok(mut q) => q.pop().expect("one dashboard loaded"),
        Err(e) => return Some(fail(NAME, &e)),
    };
    let label = format!("dashboard {DEVICE_SYNC} ({})", query.origin);
    let (server, statement) = match super::prepared::prepared(p, env, &query.sql).await {
        Ok(prepared) => prepared,
        Err(why) => {
            return why.map(|why| {
                fail_with(
                    NAME,
                    format!("{label} {why}"),
                    "the profile tracks devices (export.extra_dashboards): give the agency's device table, or override dashboards/device-sync.sql to read the platform's",
                )
            });
        }
    };
    let names: Vec<&str> = statement.columns().iter().map(|c| c.name()).collect();
    Some(match device_sync::check_columns(&label, &names) {
        Ok(()) => pass(
            NAME,
            format!("{label} gives the columns acc reads (asked of {server})"),
        ),
        Err(e) => fail(NAME, &e),
    })
}
