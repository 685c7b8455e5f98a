//! Row-level security: which of the tables to copy would hide rows from acc's role. Membership
//! in `pg_read_all_data` does not bypass policies, so a role that neither owns a table nor has
//! BYPASSRLS reads only what the policies allow. Snapshot sessions run with
//! `row_security = off` (as pg_dump does), where such a read is an error; this check finds every
//! such table first, so the snapshot stops before any file is written and names them all.

use tokio_postgres::Client;

use super::catalog::SourceTable;
use super::filter::TableFilter;
use crate::error::{Error, Result};
use crate::pg::sqlstate;
use crate::snapshot::manifest::TableName;

/// A table whose policies apply to acc's role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hidden {
    pub table: TableName,
    pub owner: String,
    /// `FORCE ROW LEVEL SECURITY`: the policies apply to its owner too.
    pub forced: bool,
}

/// The tables among `tables` whose row-level security applies to the current role.
pub async fn hidden(client: &Client, tables: &[SourceTable]) -> Result<Vec<Hidden>> {
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text, pg_get_userbyid(c.relowner)::text,
                    c.relforcerowsecurity
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
                  pg_roles me
             WHERE me.rolname = current_user AND c.relrowsecurity
               AND NOT me.rolsuper AND NOT me.rolbypassrls
               AND (c.relforcerowsecurity OR NOT pg_has_role(c.relowner, 'USAGE'))
             ORDER BY 1, 2",
            &[],
        )
        .await
        .map_err(|e| sqlstate::failure("cannot read production's row-level security", e))?;
    Ok(rows
        .iter()
        .map(|r| Hidden {
            table: TableName {
                schema: r.get(0),
                name: r.get(1),
            },
            owner: r.get(2),
            forced: r.get(3),
        })
        .filter(|h| {
            tables
                .iter()
                .any(|t| t.schema == h.table.schema && t.name == h.table.name)
        })
        .collect())
}

/// For `acc doctor`: the tables a snapshot with `filter` would find hidden, read outside any
/// snapshot.
pub async fn hidden_for(client: &Client, filter: &TableFilter) -> Result<Vec<Hidden>> {
    let catalog = super::catalog::read(client, filter).await?;
    let tables: Vec<_> = catalog.tables.into_iter().chain(catalog.config).collect();
    hidden(client, &tables).await
}

/// The refusal (78) that names every hidden table and the fixes.
pub fn refusal(hidden: &[Hidden], user: &str) -> Error {
    let names: Vec<String> = hidden.iter().map(describe).collect();
    let owners: std::collections::BTreeSet<&str> =
        hidden.iter().map(|h| h.owner.as_str()).collect();
    let owners: Vec<&str> = owners.into_iter().collect();
    Error::config(format!(
        "row-level security would hide rows of {} table(s) from production's user {user}, so \
         staging would be a partial copy: {}",
        hidden.len(),
        names.join(", ")
    ))
    .hint(format!(
        "nothing was written. Let acc read every row: as a superuser, ALTER ROLE {user} BYPASSRLS; \
         or, where no superuser is at hand (Amazon RDS and Aurora, Cloud SQL, Azure), make acc's \
         user a member of the tables' owner (GRANT {} TO {user}) or connect as that owner; a \
         FORCE ROW LEVEL SECURITY table needs BYPASSRLS. To copy only the rows the policies allow, \
         on purpose, set snapshot.enable_row_security = true (recorded in the manifest)",
        owners.join(", ")
    ))
}

pub fn describe(h: &Hidden) -> String {
    format!(
        "{}.{} (owner {}{})",
        h.table.schema,
        h.table.name,
        h.owner,
        if h.forced { ", forced" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_names_every_table_its_owner_and_the_fixes_and_is_78() {
        let hidden = [
            Hidden {
                table: TableName {
                    schema: "app".into(),
                    name: "rls_notes".into(),
                },
                owner: "app_owner".into(),
                forced: false,
            },
            Hidden {
                table: TableName {
                    schema: "app".into(),
                    name: "audit".into(),
                },
                owner: "app_owner".into(),
                forced: true,
            },
        ];
        let e = refusal(&hidden, "acc");
        assert_eq!(e.exit_code(), 78);
        assert!(e.message().contains("app.rls_notes (owner app_owner)"));
        assert!(e.message().contains("app.audit (owner app_owner, forced)"));
        let hint = e.hint_text().unwrap();
        assert!(hint.contains("ALTER ROLE acc BYPASSRLS"));
        assert!(hint.contains("GRANT app_owner TO acc"));
        assert!(hint.contains("snapshot.enable_row_security"));
        assert!(!hint.contains("retry"));
    }
}
