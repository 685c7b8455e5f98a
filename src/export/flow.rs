//! One dashboard's way from its query to a finished file, with the day's writer opening
//! beside the first query: the query and the file's creation start together, and a file
//! finishes while the next dashboard's query runs (see `run`).

use chrono_tz::Tz;

use super::csv_out::CsvOut;
use super::dashboard::Dashboard;
use super::reader::Reader;
use crate::config::ExportSettings;
use crate::error::{Error, Result};
use crate::progress::{Item, Watch};
use crate::publish::{DayWriter, FileEntry, SealedFile, channel};

/// The day's writer: still connecting and making its working directory, or ready.
pub(super) enum Writer {
    Opening(tokio::task::JoinHandle<Result<DayWriter>>),
    Ready(DayWriter),
    Failed,
}

impl Writer {
    pub(super) async fn ready(&mut self) -> Result<&DayWriter> {
        if let Writer::Opening(task) = self {
            let opened = task
                .await
                .map_err(|e| Error::internal("opening the destination panicked").source(e))
                .and_then(|r| r);
            *self = Writer::Failed;
            *self = Writer::Ready(opened?);
        }
        match self {
            Writer::Ready(w) => Ok(w),
            _ => Err(Error::internal("the destination failed to open earlier")),
        }
    }

    /// Removes the working directory, once it is there: nothing of this run is published.
    pub(super) async fn abandon(self) {
        match self {
            Writer::Ready(w) => w.abandon().await,
            Writer::Opening(task) => {
                if let Ok(Ok(w)) = task.await {
                    w.abandon().await;
                }
            }
            Writer::Failed => {}
        }
    }
}

/// One dashboard's query done: its file still finishing, or the dashboard's own failure
/// (the others go on). A failure of the delivery itself is an `Err`: nothing more can be
/// written.
pub(super) enum Outcome {
    File(Finishing),
    Failed(Error),
}

/// A sealed file whose producer has sent its end mark.
pub(super) struct Finishing {
    pub(super) file: SealedFile,
    pub(super) name: &'static str,
    origin: String,
    rows: u64,
    plaintext: u64,
    pub(super) progress: Watch,
    /// When its query started.
    started: std::time::Instant,
}

/// Runs the query into a new sealed file. The file is created while the query starts.
pub(super) async fn produce(
    reader: &Reader,
    writer: &mut Writer,
    d: &Dashboard,
    zone: Tz,
    settings: &ExportSettings,
    progress: &Watch,
) -> Result<Outcome> {
    let started = std::time::Instant::now();
    let (tx, rx) = channel();
    let progress = progress.clone();
    progress.item(d.name, Item::Started);
    let (watch, name) = (progress.clone(), d.name);
    let on_batch = Box::new(move |rows, bytes| watch.item(name, Item::Moved { rows, bytes }));
    let mut out =
        CsvOut::new(tx, zone, settings.bom, on_batch).spreadsheet_safe(settings.spreadsheet_safe);
    let creating = async {
        let w = writer.ready().await?;
        w.create_from(d.name, rx).await
    };
    let querying = async {
        match reader.run(d, &mut out).await {
            Ok(()) => out.finish().await,
            Err(e) => {
                drop(out);
                Err(e)
            }
        }
    };
    let (file, produced) = tokio::join!(creating, querying);
    let file = match file {
        Ok(f) => f,
        Err(e) => {
            progress.item(d.name, Item::Failed);
            return Err(e);
        }
    };
    match produced {
        Ok((rows, plaintext)) => Ok(Outcome::File(Finishing {
            file,
            name: d.name,
            origin: d.origin.clone(),
            rows,
            plaintext,
            progress,
            started,
        })),
        Err(e) => {
            progress.item(d.name, Item::Failed);
            file.abandon().await?;
            Ok(Outcome::Failed(e))
        }
    }
}

/// Waits for a file's sealer and renames it into the working directory; its entry.
pub(super) async fn finish(f: Option<Finishing>) -> Result<Option<FileEntry>> {
    let Some(f) = f else { return Ok(None) };
    let name = f.file.file().to_string();
    let finished = f.file.finish().await;
    crate::events::detail(&format!(
        "export {}: query, seal and upload took {:.2}s",
        f.name,
        f.started.elapsed().as_secs_f64()
    ));
    match finished {
        Ok(digest) => {
            f.progress.item(
                f.name,
                Item::Sealed {
                    rows: f.rows,
                    size: digest.size,
                },
            );
            Ok(Some(FileEntry::delivered(
                f.name,
                &f.origin,
                name,
                f.rows,
                f.plaintext,
                digest,
            )))
        }
        Err(e) => {
            f.progress.item(f.name, Item::Failed);
            Err(e)
        }
    }
}
