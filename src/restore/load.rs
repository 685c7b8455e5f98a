//! Loading a snapshot into the incoming database: pre-data schema, each table data file
//! streamed from its sealed file with COPY FROM (plaintext only in memory; `pipeline`
//! schedules them), and sequences.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{SinkExt, pin_mut};
use tokio::sync::mpsc;
use tokio_postgres::Client;

use super::files::Files;
use super::target::Target;
use crate::crypt::{Digest, Identities, Mismatch, checked, unseal};
use crate::env::Env;
use crate::error::{Error, Kind, Result};
use crate::pg::{quote_ident, sqlstate};
use crate::progress::Run;
use crate::snapshot::manifest::{self, Manifest};

const CHUNK: usize = 256 << 10;

/// What every loading step reads from: the target, the snapshot and the key that opens it.
pub struct Source<'a> {
    pub target: &'a Target,
    pub env: &'a Env,
    pub files: &'a Files,
    pub manifest: &'a Manifest,
    pub ids: &'a Arc<Identities>,
    pub jobs: usize,
    pub timeline: super::timeline::Timeline,
    /// What a cut-short run of this snapshot already committed.
    pub done: &'a super::resume::Done,
}

/// Decrypts and decompresses a data file on a blocking thread, handing plaintext over in
/// chunks through a bounded channel. The sealed bytes are hashed as they are read: a file that
/// does not match its manifest entry (changed since it was verified) ends with an error in
/// place of its end, so the COPY it feeds is aborted and the run fails before the swap.
fn plaintext(
    files: Files,
    name: String,
    expected: Digest,
    ids: Arc<Identities>,
) -> mpsc::Receiver<Result<Bytes>> {
    let (tx, rx) = mpsc::channel(8);
    let _ = crate::pool::start(move || {
        feeding(tx, move |tx| {
            let path = files.path(&name);
            let (file, source) = match files.open_watched(&name) {
                Ok(f) => f,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            };
            let (reader, check) = checked(file, expected);
            let pumped = pump(unseal(reader, &path, &ids), &path, tx);
            if matches!(pumped, Ok(false)) {
                return; // the receiver is gone (its own error says why): read no further
            }
            let checked = check.finish();
            match source.get() {
                // the object was replaced while it was read
                Some((why, Kind::BadInput)) => {
                    let _ = tx.blocking_send(Err(Error::new(
                        Kind::BadInput,
                        format!("{} was replaced while it loaded: {why}", path.display()),
                    )
                    .hint("staging was not touched; the snapshot changed in the bucket after it was published: take a new snapshot")));
                    return;
                }
                // a source that failed (the disk, the bucket) says nothing about the file
                Some((why, _)) => {
                    let _ = tx.blocking_send(Err(Error::new(
                        Kind::Temporary,
                        format!("cannot read {}: {why}", path.display()),
                    )
                    .hint("staging was not touched; the run is safe to retry")));
                    return;
                }
                None => {}
            }
            // a file that fails to decrypt is most often one that changed: say so when it did
            let result = match (pumped, checked) {
                (Ok(true), Ok(())) => return,
                (Ok(false), _) => return, // the receiver is gone; its own error says why
                (_, Err(why)) => Err(changed(&path, why)),
                (Err(e), Ok(())) => Err(e),
            };
            let _ = tx.blocking_send(result);
        })
    });
    rx
}

/// Runs a producer of plaintext; if it panics, the consumer gets an error rather than a
/// stream that merely stops, which it would take for the file's end.
fn feeding(tx: mpsc::Sender<Result<Bytes>>, produce: impl FnOnce(&mpsc::Sender<Result<Bytes>>)) {
    let sent = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| produce(&tx)));
    if sent.is_err() {
        let _ = tx.blocking_send(Err(Error::internal(
            "the decrypting thread panicked; the load stops",
        )));
    }
}

/// Sends the plaintext of `reader` in chunks: Ok(true) when it reached the end, Ok(false)
/// when the receiver went away, and the error when it could not be opened or decrypted.
fn pump(reader: Result<impl Read>, path: &Path, tx: &mpsc::Sender<Result<Bytes>>) -> Result<bool> {
    let mut reader = reader?;
    loop {
        let mut buf = vec![0u8; CHUNK];
        match reader.read(&mut buf) {
            Ok(0) => return Ok(true),
            Ok(n) => {
                buf.truncate(n);
                if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                    return Ok(false);
                }
            }
            Err(e) => {
                return Err(Error::new(
                    Kind::BadInput,
                    format!("cannot decrypt {}", path.display()),
                )
                .source(e));
            }
        }
    }
}

fn changed(path: &Path, why: Mismatch) -> Error {
    Error::new(
        Kind::BadInput,
        format!("{} does not match its manifest entry: {why}", path.display()),
    )
    .hint("staging was not touched; the file changed after the snapshot was written: take a new snapshot, or restore one that verifies")
}

/// `verified_bytes` on the blocking pool: a bucket's read waits on a thread of its own.
pub async fn verified_bytes_off(files: &Files, f: &manifest::File) -> Result<Vec<u8>> {
    let (files, f) = (files.clone(), f.clone());
    crate::pool::run(move || verified_bytes(&files, &f)).await?
}

/// A schema archive read whole and checked against its manifest entry before anything reads
/// its content.
pub fn verified_bytes(files: &Files, f: &manifest::File) -> Result<Vec<u8>> {
    let path = files.path(&f.name);
    let bytes = files.read(&f.name)?;
    let (reader, check) = checked(std::io::Cursor::new(&bytes[..]), f.digest.clone());
    drop(reader);
    check.finish().map_err(|why| changed(&path, why))?;
    Ok(bytes)
}

/// Drops any leftover incoming database and creates it empty from `template`, in production's
/// encoding and locale where the manifest records them.
pub async fn create_incoming(
    target: &Target,
    env: &Env,
    template: &str,
    locale: Option<&crate::pg::locale::DatabaseLocale>,
) -> Result<()> {
    let admin = target.maintenance(env).await?;
    let incoming = quote_ident(&target.incoming());
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {incoming} WITH (FORCE)"))
        .await
        .map_err(|e| {
            crate::pg::sqlstate::failure(format!("cannot drop {incoming} on the target server"), e)
        })?;
    super::incoming_locale::create(&admin, &target.incoming(), template, locale).await
}

/// Streams one data file into its table with COPY FROM, in the file's format; returns the rows
/// it loaded.
pub(super) async fn load_file(
    client: &Client,
    table: &manifest::TableEntry,
    files: &Files,
    file: &manifest::File,
    ids: &Arc<Identities>,
    progress: &Run,
) -> Result<u64> {
    load_file_as(client, table, (files, file), ids, progress, false).await
}

/// `load_file`; with `freeze`, the rows go in frozen (`COPY ... FREEZE`), which needs the
/// table emptied or made in the caller's transaction: nothing later sets their hint bits or
/// vacuums them to freeze, so the index builds, the validations and autovacuum write less.
pub(super) async fn load_file_as(
    client: &Client,
    table: &manifest::TableEntry,
    (files, file): (&Files, &manifest::File),
    ids: &Arc<Identities>,
    progress: &Run,
    freeze: bool,
) -> Result<u64> {
    let columns: Vec<String> = table.columns.iter().map(|c| quote_ident(c)).collect();
    let sql = format!(
        "COPY {}.{} ({}) FROM STDIN (FORMAT {}{})",
        quote_ident(&table.schema),
        quote_ident(&table.name),
        columns.join(", "),
        file.format.keyword(),
        if freeze { ", FREEZE" } else { "" }
    );
    let failed = |e: tokio_postgres::Error| {
        sqlstate::failure(format!("loading {}.{} failed", table.schema, table.name), e)
    };
    let sink = client.copy_in::<_, Bytes>(&sql).await.map_err(failed)?;
    pin_mut!(sink);
    let mut rx = plaintext(
        files.clone(),
        file.name.clone(),
        file.digest.clone(),
        Arc::clone(ids),
    );
    while let Some(chunk) = rx.recv().await {
        // an error drops the sink unfinished, which aborts the COPY
        let chunk = chunk?;
        progress.bytes(chunk.len() as u64);
        sink.send(chunk).await.map_err(failed)?;
    }
    sink.as_mut().finish().await.map_err(failed)
}

/// Sets every sequence to the value it had in the snapshot.
pub async fn sequences(client: &Client, m: &Manifest) -> Result<()> {
    for s in &m.sequences {
        let name = format!("{}.{}", quote_ident(&s.schema), quote_ident(&s.name));
        client
            .execute(
                "SELECT setval($1::text::regclass, $2, $3)",
                &[&name, &s.last_value, &s.is_called],
            )
            .await
            .map_err(|e| crate::pg::sqlstate::failure(format!("cannot set sequence {name}"), e))?;
    }
    Ok(())
}
