//! The doctor's check of the sheet query (built in, or an override beside a config layer):
//! its placeholders expand, and it gives every column of the paper sheet, asked of staging
//! (or of production, before the first restore fills staging). A night whose override left a column out
//! would stop `acc sheets` with 78; this says so before.

use crate::config::Profile;
use crate::env::Env;
use crate::schedule::Period;

use super::check::{Check, fail, pass, warn};

const NAME: &str = "sheet query";

/// Nothing when neither server can be asked.
pub(super) async fn check(p: &Profile, env: &Env, dirs: &[std::path::PathBuf]) -> Option<Check> {
    let zone = p.region.local_zone();
    let period = Period::from_day(
        chrono::Utc::now().with_timezone(&zone).date_naive(),
        zone,
        1,
    );
    let query = match crate::sheets::sheet_query(dirs, &period) {
        Ok(q) => q,
        Err(e) => return Some(fail(NAME, &e)),
    };
    let (server, statement) = match super::prepared::prepared(p, env, &query.sql).await {
        Ok(prepared) => prepared,
        Err(why) => {
            return why.map(|why| {
                warn(
                    NAME,
                    format!("the sheet query ({}) {why}", query.origin),
                    "acc sheets reads the agency's reference schema; override sheets/downtime-sheet.sql for another",
                )
            });
        }
    };
    let names: Vec<&str> = statement.columns().iter().map(|c| c.name()).collect();
    let label = format!("the sheet query ({})", query.origin);
    Some(match crate::sheet_columns::positions(&label, &names) {
        Ok(_) => pass(
            NAME,
            format!("{label} gives every column of the paper sheet (asked of {server})"),
        ),
        Err(e) => fail(NAME, &e),
    })
}
