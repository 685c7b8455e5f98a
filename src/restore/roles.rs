//! Roles production's schema names that staging's cluster may lack: a row-level security
//! policy's `TO` list (post-data) and a user mapping's `FOR` (pre-data). Roles belong to a
//! cluster, not a database, so pg_dump carries none, and pg_restore would stop on the first
//! such statement, every night. Before anything loads, each missing role is created
//! `NOLOGIN` (no privileges, no password: the statements name it and nothing else), and the
//! log says so; where acc's staging user may not create roles, the run stops with 78 naming
//! each role and what names it.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio_postgres::Client;

use super::archive::Archive;
use super::files::Files;
use super::script::{entries, entry, identifier};
use crate::crypt::Identities;
use crate::error::{Error, Result};
use crate::pg::quote_ident;
use crate::pg::sqlstate::failure;
use crate::snapshot::manifest;

/// Each role the archives' statements name, with what names it.
pub type Named = BTreeMap<String, Vec<String>>;

/// The roles the pre-data archive's user mappings and the post-data archive's policies name.
pub async fn named(
    pre: (&Archive, &str),
    (files, post, ids): (&Files, &manifest::File, &Arc<Identities>),
) -> Result<Named> {
    let mut named = Named::new();
    named_in(pre.0, pre.1, &mut named).await?;
    let post = Archive::open(files, post, ids, "post-data.pgdump").await?;
    named_in(&post, &post.toc().await?, &mut named).await?;
    Ok(named)
}

/// The roles `archive`'s policies and user mappings name, added to `named`.
async fn named_in(archive: &Archive, toc: &str, named: &mut Named) -> Result<()> {
    let chosen = |l: &str| {
        entry(l).is_some_and(|e| e.starts_with("POLICY ") || e.starts_with("USER MAPPING "))
    };
    if !toc.lines().any(chosen) {
        return Ok(());
    }
    let sql = archive.sql_of_entries(toc, chosen, "roles.list").await?;
    for body in entries(&sql).1.into_iter().flatten() {
        if let Some((what, roles)) = policy_roles(body).or_else(|| mapping_role(body)) {
            for role in roles.into_iter().filter(|r| r != "public") {
                named.entry(role).or_default().push(what.clone());
            }
        }
    }
    Ok(())
}

/// Creates the roles in `named` that staging's cluster lacks, or refuses (78) where acc's
/// user may not.
pub async fn ensure(client: &Client, named: &Named, user: &str) -> Result<()> {
    if named.is_empty() {
        return Ok(());
    }
    let failed = |e| failure("cannot read the roles staging's cluster has", e);
    let roles: Vec<String> = named.keys().cloned().collect();
    let rows = client
        .query(
            "SELECT r FROM unnest($1::text[]) r
             WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) ORDER BY 1",
            &[&roles],
        )
        .await
        .map_err(failed)?;
    let missing: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let may: bool = client
        .query_one(
            "SELECT rolcreaterole OR rolsuper FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .map_err(failed)?
        .get(0);
    if !may {
        return Err(refusal(&missing, named, user));
    }
    for role in &missing {
        // another restore may have made it meanwhile: that one is as good
        let sql = format!("CREATE ROLE {} NOLOGIN", quote_ident(role));
        if let Err(e) = client.batch_execute(&sql).await
            && !crate::pg::lost_race(&e)
        {
            return Err(failure(&format!("cannot create role {role} on staging"), e));
        }
        crate::events::info(&format!(
            "restore: role {role}, which production's {} name(s), is created NOLOGIN on staging's cluster: roles are the cluster's, and pg_dump carries none",
            named[role].join(", ")
        ));
    }
    Ok(())
}

fn refusal(missing: &[String], named: &Named, user: &str) -> Error {
    let each: Vec<String> = missing
        .iter()
        .map(|r| format!("{r} ({})", named[r].join(", ")))
        .collect();
    let create: Vec<String> = missing
        .iter()
        .map(|r| format!("CREATE ROLE {} NOLOGIN;", quote_ident(r)))
        .collect();
    Error::config(format!(
        "production's schema names roles staging's cluster lacks, and acc's staging user {user} may not create them, so nothing was loaded: {}",
        each.join(", ")
    ))
    .hint(format!(
        "as a superuser (or a role with CREATEROLE) on staging's server, once, run: {}. Staging is untouched; the next restore tries again",
        create.join(" ")
    ))
}

/// `CREATE POLICY name ON schema.table [AS RESTRICTIVE] [FOR cmd] [TO r1, r2] [USING (...)]
/// [WITH CHECK (...)];`, read in pg_dump's order: what it is, and its roles.
fn policy_roles(sql: &str) -> Option<(String, Vec<String>)> {
    let (name, rest) = identifier(sql.strip_prefix("CREATE POLICY ")?)?;
    let (schema, rest) = one_name(rest.strip_prefix(" ON ")?)?;
    let (table, mut rest) = one_name(rest.strip_prefix('.')?)?;
    let what = format!("policy {name} on {schema}.{table}");
    if let Some(r) = rest.strip_prefix(" AS RESTRICTIVE") {
        rest = r;
    }
    if let Some(r) = rest.strip_prefix(" FOR ") {
        // one word: SELECT, INSERT, UPDATE or DELETE
        rest = &r[r.find([' ', ';']).unwrap_or(r.len())..];
    }
    let Some(mut left) = rest.strip_prefix(" TO ") else {
        return Some((what, Vec::new()));
    };
    let mut roles = Vec::new();
    loop {
        let (role, after) = one_name(left)?;
        roles.push(role);
        match after.strip_prefix(',') {
            Some(next) => left = next.trim_start(),
            None => break,
        }
    }
    Some((what, roles))
}

/// One name as quote_ident prints it, and the text after it: unquoted, it holds no comma,
/// dot, space or semicolon (quote_ident would have quoted it).
fn one_name(s: &str) -> Option<(String, &str)> {
    match s.starts_with('"') {
        true => identifier(s),
        false => {
            let end = s.find([',', '.', ' ', ';']).unwrap_or(s.len());
            Some((s[..end].to_string(), &s[end..]))
        }
    }
}

/// `CREATE USER MAPPING FOR role SERVER server ...`: what it is, and its role.
fn mapping_role(sql: &str) -> Option<(String, Vec<String>)> {
    let (role, rest) = identifier(sql.strip_prefix("CREATE USER MAPPING FOR ")?)?;
    let (server, _) = identifier(rest.strip_prefix(" SERVER ")?)?;
    Some((format!("user mapping on server {server}"), vec![role]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_and_user_mappings_name_their_roles() {
        assert_eq!(
            policy_roles(
                "CREATE POLICY owner_rows ON app.clients AS RESTRICTIVE FOR SELECT TO agency_owner, \"Care Team\" USING ((id > 0));"
            ),
            Some((
                "policy owner_rows on app.clients".into(),
                vec!["agency_owner".into(), "Care Team".into()]
            ))
        );
        assert_eq!(
            policy_roles("CREATE POLICY \"all rows\" ON app.clients USING (true);"),
            Some(("policy all rows on app.clients".into(), Vec::new()))
        );
        // a table's name or the expressions may say TO; they are read in their place
        assert_eq!(
            policy_roles("CREATE POLICY p ON app.\"Hand TO ship\" USING (true);").map(|(_, r)| r),
            Some(Vec::new())
        );
        assert_eq!(
            policy_roles("CREATE POLICY p ON app.t FOR DELETE TO \"A, TO b\", c;"),
            Some((
                "policy p on app.t".into(),
                vec!["A, TO b".into(), "c".into()]
            ))
        );
        assert_eq!(
            policy_roles(
                "CREATE POLICY p ON app.t TO tenant WITH CHECK ((note <> ' TO x'::text));"
            )
            .map(|(_, r)| r),
            Some(vec!["tenant".into()])
        );
        assert_eq!(
            mapping_role("CREATE USER MAPPING FOR agency_owner SERVER billing OPTIONS (\n"),
            Some((
                "user mapping on server billing".into(),
                vec!["agency_owner".into()]
            ))
        );
        assert_eq!(
            mapping_role("CREATE USER MAPPING FOR public SERVER billing;").map(|(_, r)| r),
            Some(vec!["public".into()])
        );
    }

    #[test]
    fn a_user_that_may_not_create_roles_is_told_the_statements() {
        let named = Named::from([(
            "Care Team".to_string(),
            vec!["policy p on app.t".to_string()],
        )]);
        let e = refusal(&["Care Team".to_string()], &named, "acc");
        assert_eq!(e.exit_code(), 78);
        assert!(e.message().contains("Care Team (policy p on app.t)"));
        let hint = e.hint_text().unwrap_or_default();
        assert!(
            hint.contains("CREATE ROLE \"Care Team\" NOLOGIN;"),
            "{hint}"
        );
    }
}
