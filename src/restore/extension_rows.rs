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
use crate::pg::sqlstate;
use crate::progress::{Phase, Watch};

/// Adds every extension table's rows; returns how many.
pub async fn restore(src: &Source<'_>, client: &Client, watch: &Watch) -> Result<u64> {
    // a table with none of the user's rows has nothing to add (and may not let acc add any)
    let tables: Vec<_> = (src.manifest.extension_tables.iter())
        .filter(|t| t.table.rows > 0)
        .collect();
    if tables.is_empty() || src.done.has(resume::EXTENSION_ROWS) {
        return Ok(0);
    }
    let started = std::time::Instant::now();
    let bytes = tables.iter().map(|t| t.table.plaintext_bytes).sum();
    let files = tables.iter().map(|t| t.table.files.len() as u64).sum();
    let progress = watch.begin(Phase::Restore, &src.manifest.label, bytes, files, 1);
    let failed = |e| sqlstate::failure("cannot add the extensions' configuration rows", e);
    client.batch_execute("BEGIN").await.map_err(failed)?;
    let mut rows = 0;
    for t in tables {
        for f in &t.table.files {
            let loaded = load_file(client, &t.table, src.files, f, src.ids, &progress).await;
            let n = loaded.map_err(|e| match e.hint_text() {
                Some(_) => e,
                None => e.hint(format!(
                    "{}.{} belongs to extension {}: staging's copy of the extension must hold none of the user's rows production has in it (the restore template's included)",
                    t.table.schema, t.table.name, t.extension
                ))
            })?;
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
