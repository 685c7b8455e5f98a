//! Asking a server about a query without running it: prepared on staging first, or on
//! production when staging is not there or not restored yet. The server reports the columns
//! without reading a row.

use tokio_postgres::Statement;

use crate::config::Profile;
use crate::env::Env;

/// Where `sql` prepared (`staging` or `production`) and its statement; else why it did not
/// (`None` when neither server could be asked).
pub(super) async fn prepared(
    p: &Profile,
    env: &Env,
    sql: &str,
) -> Result<(&'static str, Statement), Option<String>> {
    let mut why = None;
    for (name, db) in [("staging", &p.staging), ("production", &p.production)] {
        let Some(db) = db else { continue };
        let Ok(c) = crate::pg::open(db, env, "acc-doctor").await else {
            continue;
        };
        match c.client.prepare(sql).await {
            Ok(statement) => return Ok((name, statement)),
            Err(e) => {
                why = Some(format!(
                    "does not prepare on {name}: {}",
                    e.as_db_error()
                        .map_or_else(|| e.to_string(), crate::redact::server_message)
                ));
            }
        }
    }
    Err(why)
}
