//! Pre-data objects outside extensions that only a superuser may create, when acc's staging
//! user is none: casts between types acc does not own (the JDBC driver's `varchar AS jsonb`),
//! operator families and classes, foreign-data wrappers, functions and procedures in a
//! language that is not trusted (C, internal, plpython3u), and servers on a wrapper acc may
//! not use. pg_restore would stop on the first of them every night. Instead:
//! - one the incoming database already holds (a superuser made it in the template) is used
//!   as it is, with its comment, and the log says so each run: a change to it on production
//!   must be made there too;
//! - any other stops the run with 78 before anything is loaded, and the hint gives the
//!   archive's own statements for a superuser to run once in the template.

use std::collections::HashSet;

use tokio_postgres::Client;

use super::archive::Archive;
use super::script::{entries, entry, identifier};
use crate::error::Result;
use crate::pg::quote_ident;
use crate::pg::sqlstate::failure;

/// What the check found.
#[derive(Debug, Default)]
pub struct Privileged {
    /// Entry lines the template holds (the objects and their comments): left out.
    pub held: HashSet<String>,
    /// Why the run cannot go on, one line each.
    pub refusals: Vec<String>,
    /// What a superuser runs once in the template, in the archive's order.
    pub template_sql: Vec<String>,
}

/// The kinds of entry that may need a superuser, as `pg_restore --list` names them.
const KINDS: [&str; 7] = [
    "CAST",
    "OPERATOR FAMILY",
    "OPERATOR CLASS",
    "FOREIGN DATA WRAPPER",
    "FUNCTION",
    "PROCEDURE",
    "SERVER",
];

/// One candidate entry: its line, kind, schema (`-` for none) and tag, and its statement.
#[derive(Debug)]
struct Candidate<'a> {
    line: &'a str,
    kind: &'static str,
    schema: String,
    tag: String,
    sql: String,
}

/// Checks the archive's candidate entries against the incoming database `client` is
/// connected to; `schemas` are those it already has.
pub async fn check(
    archive: &Archive,
    toc: &str,
    client: &Client,
    (superuser, user): (bool, &str),
    schemas: &HashSet<String>,
) -> Result<Privileged> {
    let mut found = Privileged::default();
    if superuser || !toc.lines().any(|l| kind_of(l).is_some()) {
        return Ok(found);
    }
    // type names compared as pg_dump printed them, with an empty search_path
    client
        .batch_execute("SET search_path = ''")
        .await
        .map_err(|e| failure("cannot read what the restore template holds", e))?;
    let candidates = candidates(archive, toc).await?;
    let comments = comments(archive, toc, &candidates).await?;
    let mut new_schemas = HashSet::new();
    for c in &candidates {
        let Some(need) = need(c, client).await? else {
            continue;
        };
        let what = format!("{} {}", c.kind.to_lowercase(), describe(c));
        let comment = comments.iter().find(|(line, _)| commented(line, c));
        match need {
            Need::Grant(fdw) => {
                found.refusals.push(format!(
                    "acc's staging user may not use foreign-data wrapper {fdw} ({what})"
                ));
                found.template_sql.push(format!(
                    "GRANT USAGE ON FOREIGN DATA WRAPPER {} TO {};",
                    quote_ident(&fdw),
                    quote_ident(user)
                ));
            }
            Need::Held => {
                crate::events::info(&format!(
                    "restore: {what} comes from the restore template, where a superuser made it: a change to it on production must be made there too"
                ));
                found.held.insert(c.line.to_string());
                found.held.extend(comment.map(|(line, _)| line.to_string()));
            }
            Need::Superuser => {
                found
                    .refusals
                    .push(format!("{what} can only be created by a superuser"));
                if c.schema != "-" && !schemas.contains(&c.schema) && new_schemas.insert(&c.schema)
                {
                    found.template_sql.push(format!(
                        "CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {};",
                        quote_ident(&c.schema),
                        quote_ident(user)
                    ));
                }
                found.template_sql.push(c.sql.clone());
                found
                    .template_sql
                    .extend(comment.map(|(_, sql)| sql.clone()));
            }
        }
    }
    Ok(found)
}

/// What an entry needs of the template.
#[derive(Debug, PartialEq)]
enum Need {
    /// The template holds it: used as it is.
    Held,
    /// A superuser must make it in the template.
    Superuser,
    /// A server's wrapper acc may not use: the grant a superuser runs.
    Grant(String),
}

/// `None` where acc's user may create the entry itself.
async fn need(c: &Candidate<'_>, client: &Client) -> Result<Option<Need>> {
    let failed = |e| failure("cannot read what the restore template holds", e);
    let one = |sql: &'static str, params: Vec<String>| async move {
        let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
            .iter()
            .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        client.query_one(sql, &refs).await.map_err(failed)
    };
    let held_or_superuser = |held: bool| Some(if held { Need::Held } else { Need::Superuser });
    Ok(match c.kind {
        "CAST" => {
            let Some((source, target)) = cast_types(&c.tag) else {
                return Ok(None);
            };
            // a superuser's, unless acc owns either type (one the dump makes, it will)
            let row = one(
                "SELECT s IS NOT NULL AND t IS NOT NULL
                        AND NOT EXISTS (SELECT 1 FROM pg_type WHERE oid IN (s, t)
                                        AND pg_has_role(typowner, 'USAGE')),
                        EXISTS (SELECT 1 FROM pg_cast WHERE castsource = s AND casttarget = t)
                 FROM (SELECT to_regtype($1::text) AS s, to_regtype($2::text) AS t) x",
                vec![source, target],
            )
            .await?;
            // a binary-coercible cast needs a superuser whoever owns the types
            let without_function = c.sql.contains(" WITHOUT FUNCTION");
            match (
                row.get::<_, bool>(0) || without_function,
                row.get::<_, bool>(1),
            ) {
                (_, true) => Some(Need::Held),
                (true, false) => Some(Need::Superuser),
                (false, false) => None,
            }
        }
        "OPERATOR FAMILY" | "OPERATOR CLASS" => {
            let am = after_word(&c.sql, " USING ").unwrap_or_default();
            let sql = match c.kind {
                "OPERATOR FAMILY" => {
                    "SELECT EXISTS (SELECT 1 FROM pg_opfamily o JOIN pg_namespace n ON n.oid = o.opfnamespace
                     JOIN pg_am a ON a.oid = o.opfmethod
                     WHERE n.nspname = $1::text AND o.opfname = $2::text AND a.amname = $3::text)"
                }
                _ => {
                    "SELECT EXISTS (SELECT 1 FROM pg_opclass o JOIN pg_namespace n ON n.oid = o.opcnamespace
                     JOIN pg_am a ON a.oid = o.opcmethod
                     WHERE n.nspname = $1::text AND o.opcname = $2::text AND a.amname = $3::text)"
                }
            };
            let row = one(sql, vec![c.schema.clone(), c.tag.clone(), am]).await?;
            held_or_superuser(row.get(0))
        }
        "FOREIGN DATA WRAPPER" => {
            let row = one(
                "SELECT EXISTS (SELECT 1 FROM pg_foreign_data_wrapper WHERE fdwname = $1::text)",
                vec![c.tag.clone()],
            )
            .await?;
            held_or_superuser(row.get(0))
        }
        "FUNCTION" | "PROCEDURE" => {
            let Some(language) = after_word(&c.sql, "\n    LANGUAGE ") else {
                return Ok(None);
            };
            // a language the incoming database lacks comes with an extension, checked apart;
            // the template's copy is looked up by the catalog, which never raises for a type
            // only the dump makes (to_regprocedure does, before PostgreSQL 16), with the
            // argument types as pg_dump's tag prints them (search_path is empty)
            let (name, args) = name_and_args(&c.tag);
            let row = one(
                "SELECT (SELECT NOT lanpltrusted FROM pg_language WHERE lanname = $1::text),
                        EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                                WHERE n.nspname = $2::text AND p.proname = $3::text
                                  AND oidvectortypes(p.proargtypes) = $4::text)",
                vec![language, c.schema.clone(), name, args],
            )
            .await?;
            match (row.get::<_, Option<bool>>(0), row.get::<_, bool>(1)) {
                (Some(true), held) => held_or_superuser(held),
                _ => None,
            }
        }
        _ => {
            let Some(fdw) = c
                .sql
                .split_once(" FOREIGN DATA WRAPPER ")
                .and_then(|(_, rest)| identifier(rest))
                .map(|(name, _)| name)
            else {
                return Ok(None);
            };
            let row = one(
                "SELECT COALESCE((SELECT has_foreign_data_wrapper_privilege(oid, 'USAGE')
                                  FROM pg_foreign_data_wrapper WHERE fdwname = $1::text), false)",
                vec![fdw.clone()],
            )
            .await?;
            (!row.get::<_, bool>(0)).then_some(Need::Grant(fdw))
        }
    })
}

/// The kind of a candidate entry, and the rest of its line.
fn kind_of(line: &str) -> Option<(&'static str, &str)> {
    let e = entry(line)?;
    KINDS
        .iter()
        .find_map(|k| Some((*k, e.strip_prefix(k)?.strip_prefix(' ')?)))
}

/// The candidate entries, each with its statement (read from the archive).
async fn candidates<'a>(archive: &Archive, toc: &'a str) -> Result<Vec<Candidate<'a>>> {
    let lines: Vec<&str> = toc.lines().filter(|l| kind_of(l).is_some()).collect();
    let bodies = bodies_of(archive, toc, &lines, "privileged.list").await?;
    Ok(lines
        .into_iter()
        .zip(bodies)
        .filter_map(|(line, sql)| Candidate::of(line, sql))
        .collect())
}

impl<'a> Candidate<'a> {
    /// The candidate on `line`, whose statement is `sql`.
    fn of(line: &'a str, sql: String) -> Option<Candidate<'a>> {
        let (kind, rest) = kind_of(line)?;
        let (schema, tag) = schema_and_tag(rest);
        Some(Candidate {
            line,
            kind,
            schema,
            tag,
            sql,
        })
    }
}

/// The comment entries on candidates, each with its statement.
async fn comments(
    archive: &Archive,
    toc: &str,
    candidates: &[Candidate<'_>],
) -> Result<Vec<(String, String)>> {
    let lines: Vec<&str> = toc
        .lines()
        .filter(|l| candidates.iter().any(|c| commented(l, c)))
        .collect();
    if lines.is_empty() {
        return Ok(Vec::new());
    }
    let bodies = bodies_of(archive, toc, &lines, "privileged-comments.list").await?;
    Ok(lines.into_iter().map(String::from).zip(bodies).collect())
}

/// The statements of the entries on `lines`, in order.
async fn bodies_of(
    archive: &Archive,
    toc: &str,
    lines: &[&str],
    name: &str,
) -> Result<Vec<String>> {
    let sql = archive
        .sql_of_entries(toc, |l| lines.contains(&l), name)
        .await?;
    let (_, bodies) = entries(&sql);
    if bodies.len() != lines.len() {
        return Err(crate::error::Error::internal(format!(
            "the schema archive's statements do not match its table of contents ({} for {} entries)",
            bodies.len(),
            lines.len()
        )));
    }
    Ok(bodies
        .into_iter()
        .map(|b| b.unwrap_or_default().to_string())
        .collect())
}

/// Whether the entry on `line` is a comment or security label on `c`. Such a tag names the
/// object quoted where needed, a function with its arguments' names and types, an operator
/// class with `USING am`; so the name is compared (a comment on another overload of a
/// function held by the template goes with it).
fn commented(line: &str, c: &Candidate<'_>) -> bool {
    let Some(rest) = entry(line).and_then(|e| {
        e.strip_prefix("COMMENT ")
            .or(e.strip_prefix("SECURITY LABEL "))
    }) else {
        return false;
    };
    // a cast's tag already names its kind, and whole
    if c.kind == "CAST" {
        return rest
            .strip_prefix(&format!("{} {}", c.schema, c.tag))
            .is_some_and(|after| after.is_empty() || after.starts_with(' '));
    }
    let Some(object) = rest.strip_prefix(&format!("{} {} ", c.schema, c.kind)) else {
        return false;
    };
    let name = match c.kind {
        "FUNCTION" | "PROCEDURE" => name_and_args(&c.tag).0,
        _ => c.tag.clone(),
    };
    let parsed = match object.starts_with('"') {
        true => identifier(object),
        false => {
            let end = object.find([' ', '(']).unwrap_or(object.len());
            Some((object[..end].to_string(), &object[end..]))
        }
    };
    parsed
        .is_some_and(|(n, after)| n == name && (after.is_empty() || after.starts_with([' ', '('])))
}

/// Schema (`-` for none) and tag of an entry's rest of line, less its owner (the last word,
/// empty for a cast).
fn schema_and_tag(rest: &str) -> (String, String) {
    let no_owner = rest.rsplit_once(' ').map_or(rest, |(r, _)| r);
    match no_owner.split_once(' ') {
        Some((schema, tag)) => (schema.to_string(), tag.to_string()),
        None => ("-".to_string(), no_owner.to_string()),
    }
}

/// A function's name and argument types from its tag, `name(types)`, the name unquoted.
fn name_and_args(tag: &str) -> (String, String) {
    let (name, args) = tag.split_once('(').unwrap_or((tag, ")"));
    let args = args.strip_suffix(')').unwrap_or(args);
    (name.to_string(), args.to_string())
}

/// A cast's source and target types from its tag, `CAST (source AS target)`.
fn cast_types(tag: &str) -> Option<(String, String)> {
    let inner = tag.strip_prefix("CAST (")?.strip_suffix(')')?;
    let (source, target) = inner.split_once(" AS ")?;
    Some((source.to_string(), target.to_string()))
}

/// The word after `marker` in `sql` (a line may end right after it).
fn after_word(sql: &str, marker: &str) -> Option<String> {
    let (_, rest) = sql.split_once(marker)?;
    let rest = rest.trim_start();
    match rest.starts_with('"') {
        true => identifier(rest).map(|(w, _)| w),
        false => rest
            .split(|c: char| c.is_whitespace() || c == ';')
            .next()
            .filter(|w| !w.is_empty())
            .map(String::from),
    }
}

/// How a refusal names a candidate.
fn describe(c: &Candidate<'_>) -> String {
    let tag = c.tag.strip_prefix("CAST ").unwrap_or(&c.tag);
    match c.schema.as_str() {
        "-" => tag.to_string(),
        s => format!("{s}.{tag}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate<'a>(line: &'a str, sql: &str) -> Candidate<'a> {
        Candidate::of(line, sql.to_string()).unwrap()
    }

    #[test]
    fn candidates_are_read_from_the_table_of_contents_with_their_comments() {
        let cast = candidate(
            "3135; 2605 66518 CAST - CAST (character varying AS jsonb) ",
            "",
        );
        assert_eq!((cast.kind, cast.schema.as_str()), ("CAST", "-"));
        assert_eq!(
            cast_types(&cast.tag),
            Some(("character varying".into(), "jsonb".into()))
        );
        assert_eq!(describe(&cast), "(character varying AS jsonb)");
        assert!(commented(
            "3370; 0 0 COMMENT - CAST (character varying AS jsonb) ",
            &cast
        ));
        let f = candidate(
            "225; 1255 66549 FUNCTION app Odd name(integer, character varying) postgres",
            "",
        );
        assert_eq!(
            name_and_args(&f.tag),
            ("Odd name".into(), "integer, character varying".into())
        );
        // pg_dump names the function quoted, with its arguments' names
        assert!(commented(
            "3; 0 0 COMMENT app FUNCTION \"Odd name\"(a integer, b character varying) postgres",
            &f
        ));
        assert!(commented(
            "4; 0 0 SECURITY LABEL app FUNCTION \"Odd name\"(a integer, b character varying) postgres",
            &f
        ));
        assert!(!commented(
            "3; 0 0 COMMENT app FUNCTION \"Odd name2\"(a integer) postgres",
            &f
        ));
        assert!(!commented(
            "3; 0 0 COMMENT app FUNCTION Odd(a integer) postgres",
            &f
        ));
        let class = candidate(
            "1836; 2616 66520 OPERATOR CLASS app text_hash_ops postgres",
            "CREATE OPERATOR CLASS app.text_hash_ops\n    FOR TYPE text USING hash FAMILY app.text_hash_ops AS",
        );
        assert_eq!(
            (class.kind, class.tag.as_str()),
            ("OPERATOR CLASS", "text_hash_ops")
        );
        assert_eq!(after_word(&class.sql, " USING ").as_deref(), Some("hash"));
        assert!(commented(
            "3375; 0 0 COMMENT app OPERATOR CLASS text_hash_ops USING hash postgres",
            &class
        ));
        assert!(!commented(
            "3374; 0 0 COMMENT app OPERATOR FAMILY text_hash_ops USING hash postgres",
            &class
        ));
        let fdw = candidate(
            "2050; 2328 66546 FOREIGN DATA WRAPPER - plain_fdw postgres",
            "",
        );
        assert_eq!((fdw.schema.as_str(), fdw.tag.as_str()), ("-", "plain_fdw"));
        assert!(commented(
            "3376; 0 0 COMMENT - FOREIGN DATA WRAPPER plain_fdw postgres",
            &fdw
        ));
        for other in [
            "216; 1259 66525 TABLE app clients agency_owner",
            ";218; 1255 66524 FUNCTION app fast_hash(text) postgres",
            "3; 3079 1 EXTENSION - postgres_fdw ",
        ] {
            assert!(kind_of(other).is_none(), "{other}");
        }
        assert_eq!(
            after_word(
                "CREATE FUNCTION app.f(text) RETURNS integer\n    LANGUAGE internal IMMUTABLE STRICT\n    AS $$hashtext$$;",
                "\n    LANGUAGE "
            )
            .as_deref(),
            Some("internal")
        );
        // a volatile, non-strict function's language ends its line
        assert_eq!(
            after_word(
                "CREATE FUNCTION app.f(text) RETURNS integer\n    LANGUAGE c\n    AS '$libdir/x', 'f';",
                "\n    LANGUAGE "
            )
            .as_deref(),
            Some("c")
        );
    }
}
