//! User mappings whose options acc's production user may not read. pg_dump writes such a
//! mapping without its options (a remote user and password): only a superuser sees those of
//! another role's mapping, and only the server's owner those of a mapping for PUBLIC. Staging's
//! copy would then connect to the remote server without them, and nothing would say so. The
//! snapshot stops (78) before any file is written, naming each mapping, unless the profile
//! copies them without their options on purpose, which the manifest then records.

use tokio_postgres::Client;

use crate::error::{Error, Result};
use crate::pg::sqlstate;

/// Each mapping whose options are hidden from the current role, as `ROLE on server NAME`.
pub async fn hidden(client: &Client) -> Result<Vec<String>> {
    // pg_user_mappings shows options on exactly these terms (PostgreSQL's system_views.sql)
    let rows = client
        .query(
            "SELECT CASE WHEN m.umuser = 0 THEN 'PUBLIC' ELSE m.usename::text END,
                    m.srvname::text
             FROM pg_user_mappings m JOIN pg_foreign_server s ON s.oid = m.srvid,
                  pg_roles me
             WHERE me.rolname = current_user AND NOT me.rolsuper
               AND NOT (m.umuser <> 0 AND m.usename = current_user
                        AND (pg_has_role(s.srvowner, 'USAGE') OR has_server_privilege(s.oid, 'USAGE')))
               AND NOT (m.umuser = 0 AND pg_has_role(s.srvowner, 'USAGE'))
             ORDER BY 2, 1",
            &[],
        )
        .await
        .map_err(|e| sqlstate::failure("cannot read production's user mappings", e))?;
    Ok(rows.iter().map(|r| describe(r.get(0), r.get(1))).collect())
}

fn describe(role: &str, server: &str) -> String {
    format!("user mapping for {role} on server {server}")
}

/// The refusal when the profile has not said to copy them without their options.
pub fn refusal(hidden: &[String], user: &str) -> Error {
    Error::config(format!(
        "acc's production user {user} may not read the options (remote user, password) of {}: staging's copy would connect without them, so nothing was written",
        hidden.join(", ")
    ))
    .hint(format!(
        "only a superuser reads another role's mapping, and only the server's owner a mapping for PUBLIC: as a superuser on production, make {user} a member of the server's owner (GRANT owner_role TO {user}), or, to copy the mappings without their options on purpose, set snapshot.user_mappings_without_options = true (recorded in the manifest, and each restore warns)"
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_refusal_names_each_mapping_and_both_ways_out() {
        let hidden = [
            super::describe("PUBLIC", "billing"),
            super::describe("agency_owner", "billing"),
        ];
        let e = super::refusal(&hidden, "acc");
        assert_eq!(e.exit_code(), 78);
        assert!(e.message().contains(
            "user mapping for PUBLIC on server billing, user mapping for agency_owner on server billing"
        ));
        let hint = e.hint_text().unwrap_or_default();
        assert!(hint.contains("GRANT owner_role TO acc"), "{hint}");
        assert!(
            hint.contains("snapshot.user_mappings_without_options = true"),
            "{hint}"
        );
    }
}
