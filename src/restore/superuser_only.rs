//! Post-data objects only a superuser may create, left out when acc's staging user is none:
//! event triggers (a read-only copy runs no DDL for them to fire on), publications of all
//! tables or of whole schemas (a read-only copy publishes nothing; change-data-capture
//! setups make them on production), and subscriptions (it subscribes to nothing either;
//! pg_dump includes them only when acc's production user is a superuser). pg_restore would
//! fail on each after the whole load, and again every night; each one left out is named in
//! the restore's log instead. A publication of chosen tables, which the tables' owner may
//! make, stays.

use super::archive::Archive;
use super::script::{entries, entry, identifier};
use super::target::Target;
use crate::env::Env;
use crate::error::Result;
use crate::pg::sqlstate::failure;

/// Whether acc's staging user is a superuser.
pub async fn superuser(target: &Target, env: &Env) -> Result<bool> {
    let c = target.connect(&target.incoming(), env).await?;
    let row = c
        .query_one(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .map_err(|e| failure("cannot read whether acc's staging user is a superuser", e))?;
    Ok(row.get(0))
}

/// The table of contents with what is left out commented, and a name for each.
pub struct LeftOut {
    pub toc: String,
    pub names: Vec<String>,
}

/// Leaves out of `toc` what only a superuser may create, unless acc's user is one.
pub async fn leave_out(archive: &Archive, toc: &str, superuser: bool) -> Result<LeftOut> {
    if superuser {
        return Ok(LeftOut {
            toc: toc.to_string(),
            names: Vec::new(),
        });
    }
    let all_tables = publications_of_all_tables(archive, toc).await?;
    let mut names = Vec::new();
    let toc = toc
        .lines()
        .map(|l| match left_out(l, &all_tables) {
            Some(name) => {
                if !name.starts_with("comment") {
                    names.push(name);
                }
                format!(";{l}\n")
            }
            None => format!("{l}\n"),
        })
        .collect();
    Ok(LeftOut { toc, names })
}

/// What the entry on `line` is, when it is left out.
fn left_out(line: &str, all_tables: &[String]) -> Option<String> {
    let e = entry(line)?;
    if let Some(rest) = e.strip_prefix("EVENT TRIGGER - ") {
        return Some(format!("event trigger {}", before_owner(rest)));
    }
    if let Some(rest) = e.strip_prefix("PUBLICATION - ") {
        let name = before_owner(rest);
        return all_tables
            .contains(&name)
            .then(|| format!("publication {name} (FOR ALL TABLES)"));
    }
    if let Some(rest) = e.strip_prefix("PUBLICATION TABLES IN SCHEMA ") {
        let mut words = rest.split(' ');
        let (schema, publication) = (words.next()?, words.next()?);
        return Some(format!(
            "publication {publication}'s schema {schema} (FOR TABLES IN SCHEMA)"
        ));
    }
    if let Some(rest) = e.strip_prefix("SUBSCRIPTION - ") {
        return Some(format!("subscription {}", before_owner(rest)));
    }
    if let Some(rest) = e.strip_prefix("COMMENT - SUBSCRIPTION ") {
        return identifier(rest).map(|(n, _)| format!("comment on subscription {n}"));
    }
    if let Some(rest) = e.strip_prefix("COMMENT - EVENT TRIGGER ") {
        return identifier(rest).map(|(n, _)| format!("comment on event trigger {n}"));
    }
    if let Some(rest) = e.strip_prefix("COMMENT - PUBLICATION ") {
        let (name, _) = identifier(rest)?;
        return all_tables
            .contains(&name)
            .then(|| format!("comment on publication {name}"));
    }
    None
}

/// The name before the owner, which such an entry always has (the name, unquoted, may hold
/// spaces; an owner's name seldom does).
fn before_owner(rest: &str) -> String {
    rest.rsplit_once(' ')
        .map_or(rest, |(name, _)| name)
        .to_string()
}

/// The publications whose statement publishes all tables.
async fn publications_of_all_tables(archive: &Archive, toc: &str) -> Result<Vec<String>> {
    let is_publication = |l: &str| entry(l).is_some_and(|e| e.starts_with("PUBLICATION - "));
    if !toc.lines().any(is_publication) {
        return Ok(Vec::new());
    }
    let sql = archive
        .sql_of_entries(toc, is_publication, "publications.list")
        .await?;
    Ok(all_tables_in(&sql))
}

/// `CREATE PUBLICATION name FOR ALL TABLES ...` statements' names.
fn all_tables_in(sql: &str) -> Vec<String> {
    let (_, bodies) = entries(sql);
    bodies
        .into_iter()
        .flatten()
        .filter_map(|b| {
            let rest = b.strip_prefix("CREATE PUBLICATION ")?;
            let (name, rest) = identifier(rest)?;
            rest.starts_with(" FOR ALL TABLES").then_some(name)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_triggers_and_publications_of_everything_are_left_out_with_their_comments() {
        let all = vec!["everything".to_string(), "my cdc".to_string()];
        let cases = [
            (
                "3320; 3466 1 EVENT TRIGGER - audit_ddl postgres",
                Some("event trigger audit_ddl"),
            ),
            (
                "3567; 0 0 COMMENT - EVENT TRIGGER audit_ddl postgres",
                Some("comment on event trigger audit_ddl"),
            ),
            (
                "3535; 6104 2 PUBLICATION - everything postgres",
                Some("publication everything (FOR ALL TABLES)"),
            ),
            (
                "3566; 0 0 COMMENT - PUBLICATION everything postgres",
                Some("comment on publication everything"),
            ),
            ("3536; 6104 3 PUBLICATION - some postgres", None),
            (
                "3540; 6104 8 PUBLICATION - my cdc postgres",
                Some("publication my cdc (FOR ALL TABLES)"),
            ),
            ("3541; 6104 9 PUBLICATION - my cdc extra postgres", None),
            (
                "3538; 6106 4 PUBLICATION TABLE app some visit_events postgres",
                None,
            ),
            ("3537; 6104 5 PUBLICATION - bysch postgres", None),
            (
                "3539; 6237 6 PUBLICATION TABLES IN SCHEMA app bysch app postgres",
                Some("publication bysch's schema app (FOR TABLES IN SCHEMA)"),
            ),
            (
                "3361; 6100 66547 SUBSCRIPTION - from_billing postgres",
                Some("subscription from_billing"),
            ),
            (
                "3362; 0 0 COMMENT - SUBSCRIPTION from_billing postgres",
                Some("comment on subscription from_billing"),
            ),
            ("240; 1259 7 INDEX app visits_pkey postgres", None),
            (";3320; 3466 1 EVENT TRIGGER - audit_ddl postgres", None),
        ];
        for (line, want) in cases {
            assert_eq!(left_out(line, &all).as_deref(), want, "{line}");
        }
    }

    #[test]
    fn a_publication_of_all_tables_is_told_from_its_statement() {
        let sql = "SET x = 1;\n\n--\n-- Name: everything; Type: PUBLICATION; Schema: -; Owner: -\n--\n\n\
                   CREATE PUBLICATION everything FOR ALL TABLES WITH (publish = 'insert, update, delete, truncate');\n\n\n\
                   --\n-- Name: some; Type: PUBLICATION; Schema: -; Owner: -\n--\n\n\
                   CREATE PUBLICATION \"some\" WITH (publish = 'insert, update, delete, truncate');\n";
        assert_eq!(all_tables_in(sql), ["everything"]);
    }
}
