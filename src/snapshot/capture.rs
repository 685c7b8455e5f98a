//! Inside one snapshot: export it, read the catalog, dump the schema, copy every table with N
//! workers, and write the manifest last.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio::task::JoinSet;

use super::catalog::{self, Part, RANGE_BYTES};
use super::copy::copy_part;
use super::filter::TableFilter;
use super::journal::{self, Entry, Journal};
use super::large_objects;
use super::row_security;
use super::schema::{self, Dumper, Section};
use super::session::{self, Exporter};
use super::sink::Sealed;
use super::timing::Plan;
use super::user_mappings;
use crate::config::Profile;
use crate::crypt::Recipients;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::pg::Database;
use crate::progress::{Doing, Phase, Run, Watch};
use crate::snapshot::manifest::{
    self, Encryption, ExtensionTable, File, Filters, LargeObjects, Manifest, SchemaFiles, TableName,
};
use crate::store::{fsync_dir, write_atomic};

/// Everything one capture needs, resolved by `take`.
pub struct Capture<'a> {
    pub profile: &'a Profile,
    pub db: &'a Database,
    pub env: &'a Env,
    /// The tables left out, from the profile's settings.
    pub filter: TableFilter,
    pub progress: &'a Watch,
    pub plan: &'a Plan,
    /// The `.partial` directory being filled.
    pub dir: &'a Path,
    pub recipients: Arc<Recipients>,
    /// Told of each sealed file once it is finished and synced.
    pub tap: Option<Tap>,
}

/// Where a capture tells of each sealed file as it is finished: the snapshot's label and the
/// file's path in the `.partial` directory.
pub type Tap = tokio::sync::mpsc::UnboundedSender<(String, std::path::PathBuf)>;

/// Tells the tap, if any, that the file at `path` is finished.
fn tell(tap: &Option<Tap>, label: &str, path: &Path) {
    if let Some(tap) = tap {
        let _ = tap.send((label.to_string(), path.to_path_buf()));
    }
}

/// Exports the snapshot, captures inside it, and always ends the exporting transaction.
pub async fn capture(job: &Capture<'_>) -> Result<Manifest> {
    let snap = &job.profile.snapshot;
    let exporter = Exporter::open(job.db, job.env, snap.retry, snap.enable_row_security).await?;
    let result = inside(job, &exporter).await;
    exporter.close().await;
    result
}

async fn inside(job: &Capture<'_>, exporter: &Exporter) -> Result<Manifest> {
    let (profile, db, env, filter, plan, dir) =
        (job.profile, job.db, job.env, &job.filter, job.plan, job.dir);
    let recipients = Arc::clone(&job.recipients);
    crate::failpoint::pause("snapshot:exported").await;
    let catalog = catalog::read(exporter.client(), filter).await?;
    // production's tables, then its extensions' configuration tables
    let mut tables: Vec<_> = catalog
        .tables
        .iter()
        .chain(&catalog.config)
        .cloned()
        .collect();
    let qualified: Vec<String> = tables.iter().map(|t| t.qualified()).collect();
    // locked first, so no table's row-level security changes between the check and the copy
    exporter.lock(&qualified).await?;
    let filtered = rows_hidden(job, exporter, &tables).await?;
    let mappings = mappings_hidden(job, exporter).await?;
    for t in tables.iter().filter(|t| !t.format.is_binary()) {
        crate::events::info(&format!(
            "{}.{} goes by text COPY: {} has a type without binary input/output",
            t.schema,
            t.name,
            t.text_columns.join(", ")
        ));
    }
    let large = large_objects::survey(exporter.client(), &db.user).await?;
    let sequences = schema::sequences(exporter.client(), filter).await?;
    let materialized_views = schema::materialized_views(exporter.client(), filter).await?;
    let locale = crate::pg::locale::of_database(exporter.client(), None).await?;
    // then the large objects' two catalogs, copied alike
    if let Some((_, _, pages_bytes)) = large {
        tables.extend(large_objects::tables(pages_bytes));
    }
    let parts = catalog::parts(&tables, RANGE_BYTES);
    // the manifest as far as it is known before any row is copied: a follower's schedule
    let mut manifest = Manifest {
        format: manifest::FORMAT,
        acc_version: env!("CARGO_PKG_VERSION").to_string(),
        profile: profile.name.clone(),
        region: profile.region.name.clone(),
        label: plan.label.clone(),
        cutoff: plan.cutoff.map(|c| c.fixed_offset()),
        started_at: exporter.started_at,
        finished_at: exporter.started_at,
        wal_lsn: exporter.wal_lsn.clone(),
        server_version: exporter.server_version.clone(),
        locale,
        database: db.dbname.clone(),
        encryption: Encryption {
            compression: "zstd".into(),
            recipients: profile.age_recipients.keys().to_vec(),
        },
        filters: Filters {
            exclude_tables: filter.exclude_tables.clone(),
            only_schemas: filter.only_schemas.clone(),
        },
        tables: planned(&catalog.tables, &parts),
        excluded: catalog.excluded.clone(),
        schema: SchemaFiles {
            pre_data: schema_file(PRE_DATA, Sealed::default()),
            post_data: schema_file(POST_DATA, Sealed::default()),
        },
        sequences,
        materialized_views,
        extension_tables: Vec::new(),
        large_objects: None,
        filtered_by_row_security: filtered,
        user_mappings_without_options: mappings,
    };
    let journal = Arc::new(Journal::create(
        dir,
        profile.snapshot.signing_key.as_deref(),
    )?);
    journal
        .append(Entry::Plan(Box::new(manifest.clone())))
        .await?;
    let total_bytes = parts.iter().map(|p| p.bytes).sum();
    let workers = profile.snapshot.workers().clamp(1, parts.len().max(1));
    let progress = job.progress.begin(
        Phase::Snapshot,
        &plan.label,
        total_bytes,
        parts.len() as u64,
        workers,
    );

    let dumper = Dumper {
        db,
        env,
        snapshot_id: &exporter.snapshot_id,
        filter,
        excluded: &catalog.excluded,
        recipients: &recipients,
    };
    let (dumper, journal_ref) = (&dumper, &journal);
    let dumped = |section, path: &'static str| async move {
        let sealed = dumper.dump(section, &dir.join(path)).await?;
        (journal_ref
            .append(Entry::Sealed(schema_file(path, sealed.clone())))
            .await)?;
        tell(&job.tap, &plan.label, &dir.join(path));
        Ok::<_, Error>(sealed)
    };
    let pre = dumped(Section::PreData, PRE_DATA);
    let post = dumped(Section::PostData, POST_DATA);
    let copying = copy_all(job, exporter, &tables, parts, workers, &progress, &journal);
    let (pre, post, copied) = tokio::join!(pre, post, copying);
    progress.end();
    let copied = copied?;
    let (pre, post) = (pre?, post?);
    let mut copied = tables_of(&tables, copied);
    manifest.large_objects = large.map(|(_, page_bytes, _)| {
        let pages = copied.pop().expect("the pages' table was copied");
        let objects = copied.pop().expect("the objects' table was copied");
        LargeObjects {
            page_bytes,
            objects,
            pages,
        }
    });
    let config = copied.split_off(catalog.tables.len());
    manifest.extension_tables = (catalog.config.iter().zip(config))
        .filter_map(|(source, table)| {
            let of = source.config.clone()?;
            Some(ExtensionTable {
                extension: of.extension,
                condition: of.condition,
                table,
            })
        })
        .collect();
    manifest.finished_at = chrono::Utc::now().fixed_offset();
    manifest.tables = copied;
    manifest.schema = SchemaFiles {
        pre_data: schema_file(PRE_DATA, pre),
        post_data: schema_file(POST_DATA, post),
    };
    crate::failpoint::pause("snapshot:files-sealed").await;
    // signing runs ssh-keygen and every step fsyncs: off the async threads
    let (dir, key, written) = (
        dir.to_path_buf(),
        profile.snapshot.signing_key.clone(),
        manifest.clone(),
    );
    crate::pool::run(move || write_manifest(&dir, &written, key.as_deref())).await??;
    Ok(manifest)
}

/// The tables whose row-level security would hide rows from acc's role: a refusal (78) before
/// anything is written, unless a filtered copy was asked for, which the manifest then records.
async fn rows_hidden(
    job: &Capture<'_>,
    exporter: &Exporter,
    tables: &[catalog::SourceTable],
) -> Result<Vec<TableName>> {
    let hidden = row_security::hidden(exporter.client(), tables).await?;
    if hidden.is_empty() {
        return Ok(Vec::new());
    }
    if !job.profile.snapshot.enable_row_security {
        return Err(row_security::refusal(&hidden, &job.db.user));
    }
    for h in &hidden {
        crate::events::warning(&format!(
            "{} is copied as its row-level security lets {} see it (snapshot.enable_row_security): staging may hold fewer rows than production",
            row_security::describe(h),
            job.db.user
        ));
    }
    Ok(hidden.into_iter().map(|h| h.table).collect())
}

/// The user mappings whose options acc's role may not read: a refusal (78) before anything
/// is written, unless copying them without their options was asked for, which the manifest
/// then records.
async fn mappings_hidden(job: &Capture<'_>, exporter: &Exporter) -> Result<Vec<String>> {
    // pg_dump --schema dumps no server and no mapping
    if !job.filter.only_schemas.is_empty() {
        return Ok(Vec::new());
    }
    let hidden = user_mappings::hidden(exporter.client()).await?;
    if hidden.is_empty() {
        return Ok(hidden);
    }
    if !job.profile.snapshot.user_mappings_without_options {
        return Err(user_mappings::refusal(&hidden, &job.db.user));
    }
    for h in &hidden {
        crate::events::warning(&format!(
            "{h} is copied without its options, which {} may not read (snapshot.user_mappings_without_options): on staging it connects without production's remote user and password",
            job.db.user
        ));
    }
    Ok(hidden)
}

/// Copies every part with `workers` workers sharing one queue, each in the exported
/// snapshot. The first error stops the others taking more work.
async fn copy_all(
    job: &Capture<'_>,
    exporter: &Exporter,
    catalog_tables: &[catalog::SourceTable],
    parts: Vec<Part>,
    workers: usize,
    progress: &Run,
    journal: &Arc<Journal>,
) -> Result<Vec<(Part, Sealed)>> {
    let (db, env, dir) = (job.db, job.env, job.dir);
    let filtered = job.profile.snapshot.enable_row_security;
    let recipients = Arc::clone(&job.recipients);
    let tables = Arc::new(catalog_tables.to_vec());
    let queue = Arc::new(Mutex::new(VecDeque::from(parts)));
    let mut set = JoinSet::new();
    for w in 0..workers {
        let (db, env, tables, queue) = (
            db.clone(),
            env.clone(),
            Arc::clone(&tables),
            Arc::clone(&queue),
        );
        let (snapshot_id, recipients, progress) = (
            exporter.snapshot_id.clone(),
            Arc::clone(&recipients),
            progress.clone(),
        );
        let dir = dir.to_path_buf();
        let (tap, label) = (job.tap.clone(), job.plan.label.clone());
        let journal = Arc::clone(journal);
        set.spawn(async move {
            let client = session::worker(&db, &env, &snapshot_id, filtered).await?;
            let mut done: Vec<(Part, Sealed)> = Vec::new();
            loop {
                let Some(part) = queue.lock().expect("queue lock").pop_front() else {
                    break;
                };
                let table = &tables[part.table];
                progress.worker(
                    w,
                    Doing::Copying {
                        schema: &table.schema,
                        table: &table.name,
                        part: part.index,
                    },
                );
                let path = dir.join(part_file(&part));
                let sealed = copy_part(
                    &client,
                    table,
                    &part,
                    &path,
                    Arc::clone(&recipients),
                    &progress,
                )
                .await;
                let journaled = match sealed {
                    Ok(s) => journal
                        .append(Entry::Sealed(part_entry(&tables, &part, &s)))
                        .await
                        .map(|()| s),
                    Err(e) => Err(e),
                };
                match journaled {
                    Ok(s) => {
                        tell(&tap, &label, &path);
                        done.push((part, s))
                    }
                    Err(e) => {
                        // stop the other workers taking more work
                        queue.lock().expect("queue lock").clear();
                        return Err(e);
                    }
                }
            }
            progress.worker(w, Doing::Done);
            Ok::<_, Error>(done)
        });
    }
    let mut copied = Vec::new();
    let mut first_error = None;
    while let Some(joined) = set.join_next().await {
        match joined.map_err(|e| Error::internal("a snapshot worker panicked").source(e)) {
            Ok(Ok(done)) => copied.extend(done),
            Ok(Err(e)) | Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(copied),
    }
}

/// The manifest's tables: each table's parts in order, with their rows added up.
fn tables_of(
    tables: &[catalog::SourceTable],
    mut copied: Vec<(Part, Sealed)>,
) -> Vec<manifest::TableEntry> {
    let mut out = empty_entries(tables);
    copied.sort_by_key(|(p, _)| (p.table, p.index));
    for (part, sealed) in copied {
        let file = part_entry(tables, &part, &sealed);
        let t = &mut out[part.table];
        t.rows += sealed.rows.unwrap_or(0);
        t.plaintext_bytes += sealed.plaintext_bytes;
        t.files.push(file);
    }
    out
}

/// Each table's manifest entry, with no file and no row yet.
fn empty_entries(tables: &[catalog::SourceTable]) -> Vec<manifest::TableEntry> {
    (tables.iter())
        .map(|t| manifest::TableEntry {
            schema: t.schema.clone(),
            name: t.name.clone(),
            columns: t.columns.clone(),
            rows: 0,
            plaintext_bytes: 0,
            files: Vec::new(),
        })
        .collect()
}

/// The manifest entry of one sealed part.
fn part_entry(tables: &[catalog::SourceTable], part: &Part, sealed: &Sealed) -> File {
    File {
        name: part_file(part),
        rows: Some(sealed.rows.unwrap_or(0)),
        format: tables[part.table].format,
        plaintext_bytes: sealed.plaintext_bytes,
        digest: sealed.digest.clone(),
    }
}

/// Production's tables with the files they will be copied into (names only, no digests yet),
/// for the journal's plan; extensions' configuration tables and the large objects' catalogs
/// come with the final manifest.
fn planned(tables: &[catalog::SourceTable], parts: &[Part]) -> Vec<manifest::TableEntry> {
    let mut out = empty_entries(tables);
    for part in parts.iter().filter(|p| p.table < tables.len()) {
        out[part.table].files.push(File {
            name: part_file(part),
            rows: None,
            format: tables[part.table].format,
            plaintext_bytes: part.bytes,
            digest: Default::default(),
        });
    }
    out
}

/// Writes the manifest last (and its signature), then makes the directory durable.
fn write_manifest(dir: &Path, manifest: &Manifest, signing_key: Option<&Path>) -> Result<()> {
    // a published snapshot holds its manifest and files, nothing else
    match std::fs::remove_file(dir.join(journal::FILE_NAME)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(Error::io("cannot remove the snapshot's journal", e));
        }
        _ => {}
    }
    // the signature goes in first: a manifest, once there, is never without its signature
    // (a restore following the snapshot takes the manifest's arrival as its publication)
    let path = dir.join(manifest::FILE_NAME);
    let json = manifest.to_json();
    if let Some(key) = signing_key {
        use crate::crypt::signing;
        let signature = signing::sign_bytes(key, json.as_bytes(), signing::NAMESPACE)?;
        write_atomic(&signing::sig_path(&path), &signature)?;
    }
    write_atomic(&path, json.as_bytes())?;
    fsync_dir(dir)
}

const PRE_DATA: &str = "schema-pre-data.pgdump.zst.age";
const POST_DATA: &str = "schema-post-data.pgdump.zst.age";

fn part_file(part: &Part) -> String {
    format!("t{:05}.p{:04}.copy.zst.age", part.table, part.index)
}

fn schema_file(name: &str, sealed: Sealed) -> File {
    File {
        name: name.to_string(),
        rows: None,
        format: Default::default(),
        plaintext_bytes: sealed.plaintext_bytes,
        digest: sealed.digest,
    }
}
