//! The rows of production's extensions' configuration tables (`pg_extension_config_dump`,
//! pg_partman's `part_config` say). Pre-data's CREATE EXTENSION, or the restore template,
//! made each table with the extension's own rows; the snapshot holds the rows the extension
//! marks as the user's, and they are added, never replacing what is there. All of them go in
//! one transaction with their record, each table after those it references, so a resumed run
//! never adds them twice.

use tokio_postgres::Client;

use super::load::{Source, load_file};
use super::resume;
use crate::error::{Error, Kind, Result};
use crate::pg::quote_ident;
use crate::pg::sqlstate;
use crate::progress::{Phase, Watch};
use crate::snapshot::manifest::ExtensionTable;

/// Adds every extension table's rows; returns how many.
pub async fn restore(src: &Source<'_>, client: &Client, watch: &Watch) -> Result<u64> {
    // a table with none of the user's rows has nothing to add (and may not let acc add any)
    let tables: Vec<_> = (src.manifest.extension_tables.iter())
        .filter(|t| t.table.rows > 0)
        .collect();
    if tables.is_empty() || src.done.has(resume::EXTENSION_ROWS) {
        return Ok(0);
    }
    refuse_unready(client, &tables, src).await?;
    let started = std::time::Instant::now();
    let bytes = tables.iter().map(|t| t.table.plaintext_bytes).sum();
    let files = tables.iter().map(|t| t.table.files.len() as u64).sum();
    let progress = watch.begin(Phase::Restore, &src.manifest.label, bytes, files, 1);
    let failed = |e| sqlstate::failure("cannot add the extensions' configuration rows", e);
    let mut begin = "BEGIN".to_string();
    // a text file reads back under the settings production wrote it under
    if (tables.iter().flat_map(|t| &t.table.files)).any(|f| !f.format.is_binary()) {
        begin.push_str(&format!(
            "; {}",
            crate::pg::copy_format::portable_text(true)
        ));
    }
    client.batch_execute(&begin).await.map_err(failed)?;
    let mut rows = 0;
    for t in tables {
        for f in &t.table.files {
            let n = load_file(client, &t.table, src.files, f, src.ids, &progress).await?;
            if Some(n) != f.rows {
                return Err(Error::new(
                    Kind::BadInput,
                    format!("{} loaded {n} rows, the manifest says {:?}", f.name, f.rows),
                ));
            }
            rows += n;
        }
    }
    resume::record(client, resume::EXTENSION_ROWS).await?;
    client.batch_execute("COMMIT").await.map_err(failed)?;
    progress.end();
    src.timeline.span("extension rows", started);
    Ok(rows)
}

/// Refuses (78) when a table is missing, acc may not add rows to it, or it already holds rows
/// of the user's (the restore template's): added beside them, production's would be a mix.
/// Checked here too, not only before pre-data, because a followed snapshot names its
/// configuration tables only once it is published.
async fn refuse_unready(
    client: &Client,
    tables: &[&ExtensionTable],
    src: &Source<'_>,
) -> Result<()> {
    let failed = |e| sqlstate::failure("cannot check the extensions' configuration tables", e);
    let mut why = Vec::new();
    let mut fix = Vec::new();
    for t in tables {
        let (schema, name) = (&t.table.schema, &t.table.name);
        let qualified = format!("{}.{}", quote_ident(schema), quote_ident(name));
        let row = client
            .query_one(
                // by the catalog, not to_regclass, which a schema acc may not use refuses
                "SELECT count(*) > 0,
                        coalesce(bool_and(has_schema_privilege(n.oid, 'USAGE')
                                          AND has_table_privilege(c.oid, 'INSERT')
                                          AND has_table_privilege(c.oid, 'SELECT')), false)
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = $1 AND c.relname = $2",
                &[schema, name],
            )
            .await
            .map_err(failed)?;
        let (exists, insertable): (bool, bool) = (row.get(0), row.get(1));
        if !exists {
            why.push(format!(
                "extension {} on staging has no table {schema}.{name}, which production's holds rows in (another version?)",
                t.extension
            ));
            continue;
        }
        if !insertable {
            why.push(format!(
                "acc's staging user may not add production's rows to {schema}.{name}"
            ));
            let user = quote_ident(&src.target.db.user);
            fix.push(format!(
                "GRANT USAGE ON SCHEMA {} TO {user}; GRANT SELECT, INSERT ON {qualified} TO {user};",
                quote_ident(schema)
            ));
            // what it holds is read once acc may read it
            continue;
        }
        let held: bool = client
            .query_one(
                &format!(
                    "SELECT EXISTS (SELECT 1 FROM ONLY {qualified} {})",
                    t.condition
                ),
                &[],
            )
            .await
            .map_err(failed)?
            .get(0);
        if held {
            why.push(format!(
                "{schema}.{name} on staging already holds rows of the user's, which production's would be added beside"
            ));
            fix.push(format!("DELETE FROM ONLY {qualified} {};", t.condition));
        }
    }
    if why.is_empty() {
        return Ok(());
    }
    let mut hint = match fix.is_empty() {
        true => "install the extension at production's version in the restore template".to_string(),
        false => format!(
            "as a superuser, run in the database restore.template names, and in {} (which the next restore resumes): {}",
            src.target.incoming(),
            fix.join(" ")
        ),
    };
    hint.push_str("; staging is untouched");
    Err(Error::config(format!(
        "the extensions' configuration rows cannot be added: {}",
        why.join("; ")
    ))
    .hint(hint))
}
