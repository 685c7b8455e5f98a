//! Pre-data: production's schemas, types, tables and functions, applied by pg_restore from the
//! decrypted archive through a use-list. Production's extensions are checked first, against
//! the incoming database (made from `restore.template`) and staging's server:
//! - one the incoming database already holds (a superuser put it in the template) is used as
//!   it is: its CREATE EXTENSION and its comment, which only its owner may change, are left
//!   out, and so is any schema the template already has;
//! - one the server does not have, one only a superuser may create, or one the template holds
//!   in another schema than production's stops the run with 78 before anything is loaded,
//!   naming the package to install or the statements a superuser runs once in the template.
//!
//! Other objects only a superuser may create (casts, operator classes, wrappers, functions
//! in untrusted languages) are checked alike (`privileged`), and their refusals and
//! statements join the extensions' in one message.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use tokio_postgres::Client;

use super::archive::Archive;
use super::files::Files;
use super::privileged::{self, Privileged};
use super::roles;
use super::script::{entry, identifier};
use super::target::Target;
use crate::crypt::Identities;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::pg::quote_ident;
use crate::pg::sqlstate::failure;
use crate::pg::tools as pg_tools;
use crate::snapshot::manifest::Manifest;

/// The archive and the use-list of what pg_restore creates.
pub struct PreData {
    archive: Archive,
    list: PathBuf,
}

/// An extension production has: its name and schema, as pg_dump wrote them, and its
/// configuration tables that hold rows of the user's (from the manifest).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Wanted {
    name: String,
    schema: String,
    tables: Vec<(String, String)>,
}

/// What the incoming database and its server offer.
#[derive(Debug, Default)]
struct Offered {
    /// Installed extensions (the template's), by name, with their schema.
    installed: HashMap<String, String>,
    schemas: HashSet<String>,
    /// Extensions the server can create, by name: whether only a superuser may.
    available: HashMap<String, bool>,
    superuser: bool,
    /// Of each wanted configuration table already there: whether acc may add rows to it.
    insertable: HashMap<(String, String), bool>,
    /// Production's sequences the template already has (an extension's) that acc may not set.
    fixed_sequences: Vec<(String, String)>,
    /// Other objects only a superuser may create: the template's entries, and what to run.
    privileged: Privileged,
}

/// Decrypts the pre-data archive and checks that staging can create what it needs; a
/// refusal (78) comes before anything is loaded.
pub async fn prepare(
    target: &Target,
    env: &Env,
    (files, m, ids): (&Files, &Manifest, &Arc<Identities>),
    template: &str,
) -> Result<PreData> {
    let archive = Archive::open(files, &m.schema.pre_data, ids, "pre-data.pgdump").await?;
    for h in &m.user_mappings_without_options {
        crate::events::warning(&format!(
            "restore: staging's {h} has none of production's options, which acc's production user could not read (snapshot.user_mappings_without_options)"
        ));
    }
    let toc = archive.toc().await?;
    super::script::tell_tablespaces(archive.path(), "tables").await?;
    let mut wanted = match toc.lines().any(|l| is_extension(l).is_some()) {
        true => {
            let only = archive.write("extensions.list", &only_extensions(&toc))?;
            extensions_in(&archive.sql_of(&only).await?)
        }
        false => Vec::new(),
    };
    for t in m.extension_tables.iter().filter(|t| t.table.rows > 0) {
        if let Some(w) = wanted.iter_mut().find(|w| w.name == t.extension) {
            w.tables
                .push((t.table.schema.clone(), t.table.name.clone()));
        }
    }
    let roles = roles::named((&archive, &toc), (files, &m.schema.post_data, ids)).await?;
    let client = target.connect(&target.incoming(), env).await?;
    let mut offered = offered(&client, &wanted).await?;
    offered.fixed_sequences = fixed_sequences(&client, m).await?;
    let who = (offered.superuser, target.db.user.as_str());
    offered.privileged = privileged::check(&archive, &toc, &client, who, &offered.schemas).await?;
    let refusals = refusals(&wanted, &offered);
    if !refusals.is_empty() {
        return Err(refusal(
            &refusals,
            &wanted,
            &offered,
            template,
            &target.db.user,
        ));
    }
    roles::ensure(&client, &roles, &target.db.user).await?;
    let list = archive.write("pre-data.list", &use_list(&toc, &offered))?;
    Ok(PreData { archive, list })
}

impl PreData {
    /// Runs pg_restore on the archive with the use-list.
    pub async fn apply(&self, target: &Target, env: &Env) -> Result<()> {
        let mut cmd = target.pg_restore(env)?;
        // staging's disks are laid out as staging's are: production's tablespaces stay there
        cmd.arg("--no-tablespaces")
            .arg(format!("--use-list={}", self.list.display()))
            .arg(self.archive.path());
        let mut child = pg_tools::spawn(cmd, "pg_restore")?;
        drop(child.stdin.take());
        let errors = pg_tools::stderr_of(&mut child);
        pg_tools::finish(child, errors, "pg_restore (pre-data)").await
    }
}

async fn offered(client: &Client, wanted: &[Wanted]) -> Result<Offered> {
    let failed = |e| failure("cannot read the extensions staging offers", e);
    let mut o = Offered::default();
    for r in (client.query(
        "SELECT e.extname::text, n.nspname::text FROM pg_extension e
         JOIN pg_namespace n ON n.oid = e.extnamespace",
        &[],
    ))
    .await
    .map_err(failed)?
    {
        o.installed.insert(r.get(0), r.get(1));
    }
    let schemas = client
        .query("SELECT nspname::text FROM pg_namespace", &[])
        .await
        .map_err(failed)?;
    o.schemas = schemas.iter().map(|r| r.get(0)).collect();
    for r in (client.query(
        "SELECT v.name::text, v.superuser AND NOT v.trusted
         FROM pg_available_extension_versions v
         JOIN pg_available_extensions a ON a.name = v.name AND a.default_version = v.version",
        &[],
    ))
    .await
    .map_err(failed)?
    {
        o.available.insert(r.get(0), r.get(1));
    }
    o.superuser = client
        .query_one(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .map_err(failed)?
        .get(0);
    for (schema, name) in wanted.iter().flat_map(|w| &w.tables) {
        let insertable: Option<bool> = client
            .query_one(
                // by the catalog, not to_regclass, which a schema acc may not use refuses
                "SELECT has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'INSERT')
                        AND has_table_privilege(c.oid, 'SELECT')
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = $1::text AND c.relname = $2::text
                 UNION ALL SELECT NULL LIMIT 1",
                &[schema, name],
            )
            .await
            .map_err(failed)?
            .get(0);
        if let Some(i) = insertable {
            o.insertable.insert((schema.clone(), name.clone()), i);
        }
    }
    Ok(o)
}

/// For `acc doctor`: the refusal a restore would meet over production's `extensions` (name,
/// schema), read from `client`, connected to the restore template (or, where that takes no
/// connections, as template0 does, to another database of staging's server, whose installed
/// extensions are then taken as template0's: plpgsql alone).
pub async fn refusal_for(
    client: &Client,
    template_connected: bool,
    extensions: Vec<(String, String)>,
    template: &str,
    user: &str,
) -> Result<Option<Error>> {
    let wanted: Vec<Wanted> = (extensions.into_iter())
        .map(|(name, schema)| Wanted {
            name,
            schema,
            tables: Vec::new(),
        })
        .collect();
    let mut o = offered(client, &wanted).await?;
    if !template_connected {
        o.installed.retain(|name, _| name == "plpgsql");
        o.schemas = ["public", "pg_catalog", "information_schema"]
            .map(String::from)
            .into();
    }
    let refusals = refusals(&wanted, &o);
    Ok((!refusals.is_empty()).then(|| {
        Error::config(format!(
            "a restore would stop with 78 before loading: {}",
            refusals.join("; ")
        ))
        .hint(steps(&wanted, &o, template, user))
    }))
}

/// Production's sequences that are already in the incoming database (the template's, an
/// extension's configuration) and that acc may not set to production's value.
async fn fixed_sequences(client: &Client, m: &Manifest) -> Result<Vec<(String, String)>> {
    let (schemas, names): (Vec<String>, Vec<String>) = (m.sequences.iter())
        .map(|q| (q.schema.clone(), q.name.clone()))
        .unzip();
    let rows = client
        .query(
            "SELECT t.s, t.n FROM unnest($1::text[], $2::text[]) AS t(s, n)
             JOIN pg_namespace ns ON ns.nspname = t.s
             JOIN pg_class c ON c.relnamespace = ns.oid AND c.relname = t.n AND c.relkind = 'S'
             WHERE NOT has_schema_privilege(ns.oid, 'USAGE')
                OR NOT has_sequence_privilege(c.oid, 'UPDATE')",
            &[&schemas, &names],
        )
        .await
        .map_err(|e| failure("cannot read the sequences staging already has", e))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Why staging cannot have each extension it lacks, one line each.
fn refusals(wanted: &[Wanted], o: &Offered) -> Vec<String> {
    let mut out = Vec::new();
    for w in wanted {
        match (o.installed.get(&w.name), o.available.get(&w.name)) {
            (Some(schema), _) if *schema != w.schema => out.push(format!(
                "extension {} is in schema {schema} in the restore template, production has it in {}",
                w.name, w.schema
            )),
            (Some(_), _) => {
                for (schema, name) in &w.tables {
                    match o.insertable.get(&(schema.clone(), name.clone())) {
                        None => out.push(format!(
                            "extension {} in the restore template has no table {schema}.{name}, which production's holds rows in (another version?)",
                            w.name
                        )),
                        Some(false) => out.push(format!(
                            "acc's staging user may not add production's rows to {schema}.{name} (extension {}, from the restore template)",
                            w.name
                        )),
                        Some(true) => {}
                    }
                }
            }
            (None, None) => out.push(format!(
                "extension {} is not installed on staging's server",
                w.name
            )),
            (None, Some(true)) if !o.superuser => out.push(format!(
                "extension {} can only be created by a superuser",
                w.name
            )),
            (None, Some(_)) => {}
        }
    }
    for (schema, name) in &o.fixed_sequences {
        out.push(format!(
            "acc's staging user may not set sequence {schema}.{name} (from the restore template) to production's value"
        ));
    }
    out.extend(o.privileged.refusals.iter().cloned());
    out
}

fn refusal(
    refusals: &[String],
    wanted: &[Wanted],
    o: &Offered,
    template: &str,
    user: &str,
) -> Error {
    Error::config(format!(
        "staging's user cannot create what production's schema holds (extensions, or objects only a superuser may create), so nothing was loaded: {}",
        refusals.join("; ")
    ))
    .hint(format!(
        "{}. Staging is untouched; the next restore tries again",
        steps(wanted, o, template, user)
    ))
}

/// What to do, in order: the packages to install, then the statements for the template.
fn steps(wanted: &[Wanted], o: &Offered, template: &str, user: &str) -> String {
    let mut steps = Vec::new();
    if wanted
        .iter()
        .any(|w| !o.installed.contains_key(&w.name) && !o.available.contains_key(&w.name))
    {
        steps.push(
            "install each missing extension's package on the staging server, at production's version (Debian: postgresql-<major>-<name> for most)".to_string(),
        );
    }
    let mut in_template: Vec<String> = wanted
        .iter()
        .filter_map(|w| template_sql(w, o, user))
        .collect();
    for (schema, name) in &o.fixed_sequences {
        let user = quote_ident(user);
        in_template.push(format!(
            "GRANT USAGE ON SCHEMA {0} TO {user}; GRANT UPDATE ON SEQUENCE {0}.{1} TO {user};",
            quote_ident(schema),
            quote_ident(name),
        ));
    }
    in_template.extend(o.privileged.template_sql.iter().cloned());
    if !in_template.is_empty() {
        let database = match template {
            "template0" => "in a template of acc's own (CREATE DATABASE acc_template TEMPLATE template0 IS_TEMPLATE true, then set restore.template = \"acc_template\")".to_string(),
            t => format!("in database {t} (restore.template)"),
        };
        steps.push(format!(
            "as a superuser, once, {database}, run: {}",
            in_template.join(" ")
        ));
    }
    steps.join(". Then ")
}

/// The statements a superuser runs in the template so that it holds `w` where production
/// has it, with acc allowed to add the rows of its configuration tables; `None` when there is
/// nothing to run (or nothing a statement fixes: a package to install).
fn template_sql(w: &Wanted, o: &Offered, user: &str) -> Option<String> {
    let (name, schema, user) = (
        quote_ident(&w.name),
        quote_ident(&w.schema),
        quote_ident(user),
    );
    let mut sql = Vec::new();
    // an extension in another schema is made again where production has it: many cannot
    // be moved (relocatable = false)
    let moved = o.installed.get(&w.name).is_some_and(|s| *s != w.schema);
    let create = match o.installed.get(&w.name) {
        Some(_) => moved,
        None if o.available.get(&w.name) == Some(&true) && !o.superuser => true,
        None => return None,
    };
    if moved {
        sql.push(format!("DROP EXTENSION {name};"));
    }
    if create {
        if w.schema != "public" {
            sql.push(format!(
                "CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {user};"
            ));
        }
        sql.push(format!("CREATE EXTENSION {name} SCHEMA {schema};"));
    }
    for (s, t) in &w.tables {
        if o.insertable.get(&(s.clone(), t.clone())) != Some(&true) {
            sql.push(format!(
                "GRANT USAGE ON SCHEMA {0} TO {user}; GRANT SELECT, INSERT ON {0}.{1} TO {user};",
                quote_ident(s),
                quote_ident(t)
            ));
        }
    }
    (!sql.is_empty()).then(|| sql.join(" "))
}

/// The extension an entry creates.
fn is_extension(line: &str) -> Option<&str> {
    entry(line)?.strip_prefix("EXTENSION - ").map(str::trim_end)
}

/// The extension an entry comments on.
/// (Its tag names the extension quoted where needed, unlike the extension's own entry.)
fn comments_on_extension(line: &str) -> Option<String> {
    let rest = entry(line)?.strip_prefix("COMMENT - EXTENSION ")?;
    identifier(rest).map(|(name, _)| name)
}

/// The schema an entry creates.
fn is_schema(line: &str) -> Option<&str> {
    let rest = entry(line)?.strip_prefix("SCHEMA - ")?;
    Some(rest.rsplit_once(' ').map_or(rest, |(name, _owner)| name))
}

fn only_extensions(toc: &str) -> String {
    comment_out(toc, |l| entry(l).is_some() && is_extension(l).is_none())
}

/// The archive's entries less what the incoming database already has.
fn use_list(toc: &str, o: &Offered) -> String {
    comment_out(toc, |l| {
        let installed = |e: &str| o.installed.contains_key(e);
        is_extension(l).is_some_and(installed)
            || comments_on_extension(l).is_some_and(|e| installed(&e))
            || is_schema(l).is_some_and(|s| o.schemas.contains(s))
            || o.privileged.held.contains(l)
    })
}

fn comment_out(toc: &str, out: impl Fn(&str) -> bool) -> String {
    toc.lines()
        .map(|l| match out(l) {
            true => format!(";{l}\n"),
            false => format!("{l}\n"),
        })
        .collect()
}

/// The extensions `CREATE EXTENSION IF NOT EXISTS name WITH SCHEMA schema;` lines name.
fn extensions_in(sql: &str) -> Vec<Wanted> {
    sql.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("CREATE EXTENSION IF NOT EXISTS ")?;
            let (name, rest) = identifier(rest)?;
            let (schema, rest) = identifier(rest.strip_prefix(" WITH SCHEMA ")?)?;
            (rest == ";").then(|| Wanted {
                name,
                schema,
                tables: Vec::new(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOC: &str = ";\n; Archive created at 2026-12-05\n;\n\
        6; 2615 16385 SCHEMA - partman postgres\n\
        7; 2615 16390 SCHEMA - app agency_owner\n\
        2; 3079 16386 EXTENSION - pg_partman \n\
        4123; 0 0 COMMENT - EXTENSION pg_partman \n\
        3; 3079 16387 EXTENSION - uuid-ossp \n\
        4124; 0 0 COMMENT - EXTENSION \"uuid-ossp\" \n\
        240; 1259 16400 TABLE app visits agency_owner\n";

    fn offered() -> Offered {
        Offered {
            installed: HashMap::from([
                ("plpgsql".into(), "pg_catalog".into()),
                ("pg_partman".into(), "partman".into()),
            ]),
            schemas: ["public", "partman", "pg_catalog"].map(String::from).into(),
            available: HashMap::from([
                ("pg_partman".into(), true),
                ("uuid-ossp".into(), false),
                ("pg_stat_statements".into(), true),
            ]),
            superuser: false,
            insertable: HashMap::from([(("partman".into(), "part_config".into()), false)]),
            ..Offered::default()
        }
    }

    #[test]
    fn what_the_template_has_is_left_out_and_the_rest_stays() {
        let list = use_list(TOC, &offered());
        for out in [
            ";6; 2615 16385 SCHEMA - partman",
            ";2; 3079 16386 EXTENSION - pg_partman",
            ";4123; 0 0 COMMENT",
        ] {
            assert!(list.contains(&format!("\n{out}")), "{out} left out: {list}");
        }
        for kept in ["7; 2615", "3; 3079", "240; 1259"] {
            assert!(list.contains(&format!("\n{kept}")), "{kept} kept: {list}");
        }
        // an extension's comment names it quoted where its own entry does not
        assert!(list.contains("\n4124; 0 0 COMMENT"), "{list}");
        let mut o = offered();
        o.installed.insert("uuid-ossp".into(), "public".into());
        assert!(use_list(TOC, &o).contains("\n;4124; 0 0 COMMENT"));
        assert!(only_extensions(TOC).contains("\n;240; 1259"));
        assert!(only_extensions(TOC).contains("\n3; 3079"));
    }

    #[test]
    fn pg_dumps_extension_lines_read_back_with_quoted_names() {
        let sql = "SET x = 1;\nCREATE EXTENSION IF NOT EXISTS pg_partman WITH SCHEMA partman;\n\
                   CREATE EXTENSION IF NOT EXISTS \"uuid-ossp\" WITH SCHEMA \"My \"\"Ext\"\"\";\n";
        assert_eq!(
            extensions_in(sql),
            [
                Wanted {
                    name: "pg_partman".into(),
                    schema: "partman".into(),
                    tables: Vec::new(),
                },
                Wanted {
                    name: "uuid-ossp".into(),
                    schema: "My \"Ext\"".into(),
                    tables: Vec::new(),
                }
            ]
        );
    }

    #[test]
    fn each_extension_staging_cannot_have_is_named_with_its_fix() {
        let want = |name: &str, schema: &str| Wanted {
            name: name.into(),
            schema: schema.into(),
            tables: Vec::new(),
        };
        let wanted = [
            want("pg_partman", "partman"),
            want("uuid-ossp", "public"),
            want("pg_stat_statements", "public"),
            want("postgis", "public"),
        ];
        let o = offered();
        let r = refusals(&wanted, &o);
        assert_eq!(r.len(), 2, "{r:?}");
        assert!(r[0].contains("pg_stat_statements can only be created by a superuser"));
        assert!(r[1].contains("postgis is not installed"));
        let e = refusal(&r, &wanted, &o, "template0", "acc");
        let hint = e.hint_text().unwrap_or_default().to_string();
        assert!(hint.contains("postgresql-<major>-<name>"), "{hint}");
        assert!(hint.contains("CREATE EXTENSION \"pg_stat_statements\" SCHEMA \"public\";"));
        assert!(
            hint.contains("restore.template = \"acc_template\""),
            "{hint}"
        );
        assert!(!hint.contains("pg_partman"), "the template has it: {hint}");
        // the template's copy in another schema than production's
        let moved = [want("pg_partman", "public")];
        let r = refusals(&moved, &o);
        assert!(
            r[0].contains("schema partman in the restore template"),
            "{r:?}"
        );
        let hint = refusal(&r, &moved, &o, "acc_template", "acc");
        let hint = hint.hint_text().unwrap_or_default().to_string();
        assert!(hint.contains("in database acc_template"), "{hint}");
        assert!(
            hint.contains(
                "DROP EXTENSION \"pg_partman\"; CREATE EXTENSION \"pg_partman\" SCHEMA \"public\";"
            ),
            "{hint}"
        );
        // the template's copy, whose configuration table acc may not add rows to
        let granted = [Wanted {
            tables: vec![("partman".into(), "part_config".into())],
            ..want("pg_partman", "partman")
        }];
        let r = refusals(&granted, &o);
        assert!(
            r[0].contains("may not add production's rows to partman.part_config"),
            "{r:?}"
        );
        let hint = refusal(&r, &granted, &o, "acc_template", "acc");
        let hint = hint.hint_text().unwrap_or_default().to_string();
        assert!(hint.ends_with("run: GRANT USAGE ON SCHEMA \"partman\" TO \"acc\"; GRANT SELECT, INSERT ON \"partman\".\"part_config\" TO \"acc\";. Staging is untouched; the next restore tries again"), "{hint}");
        // an extension's sequence in the template, which acc may not set
        let seq = Offered {
            fixed_sequences: vec![("cron".into(), "jobid_seq".into())],
            ..offered()
        };
        let r = refusals(&[], &seq);
        assert!(
            r[0].contains("may not set sequence cron.jobid_seq"),
            "{r:?}"
        );
        let hint = refusal(&r, &[], &seq, "acc_template", "acc");
        let hint = hint.hint_text().unwrap_or_default().to_string();
        assert!(
            hint.contains("GRANT USAGE ON SCHEMA \"cron\" TO \"acc\"; GRANT UPDATE ON SEQUENCE \"cron\".\"jobid_seq\" TO \"acc\";"),
            "{hint}"
        );
        // a superuser creates what it lacks itself
        let sup = Offered {
            superuser: true,
            ..offered()
        };
        assert_eq!(refusals(&wanted[..3], &sup), Vec::<String>::new());
    }
}
