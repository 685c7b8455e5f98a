//! Writing a day: a hidden working directory, sealed files added one by one, files of an
//! earlier run carried over, then one durable publish step: every file synced, the manifest
//! signed and written last, and the whole day renamed into place, `latest` pointed at it, and
//! old days pruned. A run killed at any point leaves the published days as they were; the
//! next run removes its leftovers.

use std::path::Path;
use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use tokio::sync::mpsc;

use super::day::{DayManifest, FileEntry};
use super::layout::{self, FileKind, Layout};
use super::seal::{Chunk, seal};
use crate::crypt::{Digest, Recipients};
use crate::delivery::{Delivery, Remote, blocking, temp_name};
use crate::error::{Error, Kind, Result};

/// One run's day in the making. Clones share it (a blocking thread may add files).
#[derive(Clone)]
pub struct DayWriter {
    remote: Remote,
    layout: Layout,
    date: NaiveDate,
    work: String,
    recipients: Arc<Recipients>,
    /// Working directories of killed runs that `begin` removed.
    pub removed_leftovers: Vec<String>,
}

/// What `carry_over` kept from the day's earlier run, and what it had to leave out.
#[derive(Debug, Default)]
pub struct Carried {
    pub carried: Vec<String>,
    /// Files that no longer match their entry: `(name, why)`.
    pub dropped: Vec<(String, String)>,
}

impl DayWriter {
    /// Removes what killed runs left (the caller holds the run lock, so none is in use) and
    /// makes this run's working directory.
    pub async fn begin(
        remote: Remote,
        layout: Layout,
        date: NaiveDate,
        recipients: Arc<Recipients>,
    ) -> Result<DayWriter> {
        let work = layout.work(date);
        let (base, w) = (layout.base.clone(), work.clone());
        let removed_leftovers = remote
            .call(move |d| -> Result<Vec<String>> {
                d.mkdir_all(&base)?;
                let stale = remove_leftovers(d, &base)?;
                d.mkdir_all(&w)?;
                Ok(stale)
            })
            .await??;
        Ok(DayWriter {
            remote,
            layout,
            date,
            work,
            recipients,
            removed_leftovers,
        })
    }

    /// Starts the sealed file `name.csv.age` fed from `rx`, the end of a `channel()` whose
    /// producer may have started before the file existed; then `finish` or `abandon` it.
    pub async fn create_from(&self, name: &str, rx: mpsc::Receiver<Chunk>) -> Result<SealedFile> {
        let this = self.clone();
        let name = name.to_string();
        blocking(move || this.start(&name, FileKind::Csv, rx)).await?
    }

    /// Starts a sealed file of any kind, for code on a blocking thread: send it `Chunk`s
    /// through `SealedFile::sender`.
    pub fn create_blocking(&self, name: &str, kind: FileKind) -> Result<SealedFile> {
        let (tx, rx) = channel();
        let mut file = self.start(name, kind, rx)?;
        file.tx = Some(tx);
        Ok(file)
    }

    fn start(&self, name: &str, kind: FileKind, rx: mpsc::Receiver<Chunk>) -> Result<SealedFile> {
        let file = layout::file_name(name, kind);
        let final_path = format!("{}/{file}", self.work);
        let tmp = temp_name(&final_path);
        let upload = self.remote.blocking().create(&tmp)?;
        Ok(SealedFile::start(
            self.remote.clone(),
            (upload, rx),
            Arc::clone(&self.recipients),
            file,
            tmp,
            final_path,
        ))
    }

    /// Moves the files of the day's earlier run that this run did not make into the new day,
    /// with their entries, so a rerun never leaves fewer files than it found. Each is hashed
    /// again first: the new manifest is signed, and acc never signs what it did not check.
    /// Entries come back sorted as `order` names them.
    pub async fn carry_over(
        &self,
        entries: Vec<FileEntry>,
        order: &'static [&'static str],
    ) -> Result<(Vec<FileEntry>, Carried)> {
        let (layout, date, work) = (self.layout.clone(), self.date, self.work.clone());
        self.remote
            .call(move |d| carry_over(d, &layout, date, &work, entries, order))
            .await?
    }

    /// Syncs every file of the day, signs (when a key is given) and writes the manifest, puts
    /// the day in place, points `latest` at it, and prunes days older than `keep_days`.
    /// Returns the days removed.
    pub async fn publish(
        self,
        manifest: &DayManifest,
        signing_key: Option<&Path>,
        keep_days: Option<u32>,
    ) -> Result<Vec<NaiveDate>> {
        let json = manifest.to_json();
        let signature = match signing_key {
            Some(key) => {
                let (key, bytes) = (key.to_path_buf(), json.clone());
                Some(blocking(move || sign(&key, &bytes)).await??)
            }
            None => None,
        };
        let (layout, date, work) = (self.layout.clone(), self.date, self.work.clone());
        self.remote
            .call(move |d| -> Result<Vec<NaiveDate>> {
                sync_files(d, &work)?;
                if let Some(sig) = &signature {
                    d.write_small(&format!("{work}/{}", layout::SIGNATURE), sig)?;
                }
                d.write_small(&format!("{work}/{}", layout::MANIFEST), &json)?;
                d.sync_dir(&work)?;
                put_in_place(d, &layout, &work, date)?;
                match keep_days {
                    Some(keep) => prune(d, &layout, date, keep),
                    None => Ok(Vec::new()),
                }
            })
            .await?
    }

    /// Removes the working directory: nothing of this run is published.
    pub async fn abandon(self) {
        let work = self.work.clone();
        let _ = self.remote.call(move |d| d.remove_tree(&work)).await;
    }
}

/// The two ends of a sealed file's input: a producer may start sending before the file is
/// created (`DayWriter::create_from`); a few batches wait in between.
pub fn channel() -> (mpsc::Sender<Chunk>, mpsc::Receiver<Chunk>) {
    mpsc::channel(8)
}

/// A sealed file being written: age on a thread of its own, the upload on another.
pub struct SealedFile {
    tx: Option<mpsc::Sender<Chunk>>,
    sealer: std::thread::JoinHandle<Result<Digest>>,
    remote: Remote,
    file: String,
    tmp: String,
    final_path: String,
}

impl SealedFile {
    fn start(
        remote: Remote,
        (upload, rx): (crate::delivery::Upload, mpsc::Receiver<Chunk>),
        recipients: Arc<Recipients>,
        file: String,
        tmp: String,
        final_path: String,
    ) -> SealedFile {
        let label = file.clone();
        let sealer = std::thread::spawn(move || seal(rx, upload, recipients, &label));
        SealedFile {
            tx: None,
            sealer,
            remote,
            file,
            tmp,
            final_path,
        }
    }

    /// The file's name in its day.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The producer's end of a file from `create_blocking`: it sends `Chunk::Data`, then
    /// `Chunk::End`. Taken once.
    pub fn sender(&mut self) -> mpsc::Sender<Chunk> {
        self.tx
            .take()
            .expect("a sealed file's sender is taken once")
    }

    /// Waits for the sealer and renames the file into place in the working directory (made
    /// durable by `publish`); returns its size and SHA-256.
    pub async fn finish(self) -> Result<Digest> {
        blocking(move || self.finish_blocking()).await?
    }

    pub fn finish_blocking(mut self) -> Result<Digest> {
        drop(self.tx.take());
        let digest = self.sealer.join().map_err(|_| {
            Error::internal(format!("the encrypting writer of {} panicked", self.file))
        })?;
        let d = self.remote.blocking();
        match digest {
            Ok(digest) => {
                d.rename_unsynced(&self.tmp, &self.final_path)?;
                Ok(digest)
            }
            Err(e) => {
                let _ = d.remove_file(&self.tmp);
                Err(e)
            }
        }
    }

    /// Stops the sealer (its producer failed) and removes the unfinished file.
    pub async fn abandon(self) -> Result<()> {
        blocking(move || self.abandon_blocking()).await?
    }

    pub fn abandon_blocking(mut self) -> Result<()> {
        drop(self.tx.take());
        let _ = self.sealer.join();
        self.remote.blocking().remove_file(&self.tmp)
    }
}

/// Every file in the working directory, this run's and those carried over, on disk before
/// the manifest that vouches for them is written.
fn sync_files(delivery: &Delivery, work: &str) -> Result<()> {
    for e in delivery.list(work)?.into_iter().filter(|e| !e.is_dir) {
        delivery.sync(&format!("{work}/{}", e.name))?;
    }
    Ok(())
}

fn remove_leftovers(delivery: &Delivery, base: &str) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for e in delivery.list(base)? {
        if e.is_dir && layout::is_leftover(&e.name) {
            delivery.remove_tree(&format!("{base}/{}", e.name))?;
            removed.push(e.name);
        }
    }
    Ok(removed)
}

fn carry_over(
    delivery: &Delivery,
    layout: &Layout,
    date: NaiveDate,
    work: &str,
    mut entries: Vec<FileEntry>,
    order: &[&str],
) -> Result<(Vec<FileEntry>, Carried)> {
    let mut out = Carried::default();
    let path = layout.manifest(date);
    if !delivery.exists(&path) {
        return Ok((entries, out));
    }
    let Ok(old) = DayManifest::parse(&delivery.read_small(&path, layout::MANIFEST_LIMIT)?, &path)
    else {
        // an unreadable manifest cannot vouch for its files: the new day stands alone
        return Ok((entries, out));
    };
    for mut e in old.dashboards.into_iter().filter(FileEntry::ok) {
        let delivered_now = entries.iter().any(|n| n.name == e.name && n.ok());
        let Some(file) = e.file.clone().filter(|_| !delivered_now) else {
            continue;
        };
        let from = layout.in_day(date, &file);
        if !delivery.exists(&from) {
            continue;
        }
        if let Err(why) = super::reader::still_matches(delivery, &from, &e) {
            if !entries.iter().any(|n| n.name == e.name) {
                entries.push(FileEntry::failed(
                    &e.name,
                    &e.query,
                    format!("the earlier file was not carried: {why}"),
                ));
            }
            out.dropped.push((
                e.name.clone(),
                format!("{from} was not carried into the new day: {why}"),
            ));
            continue;
        }
        delivery.rename(&from, &format!("{work}/{file}"))?;
        e.carried_from = e.carried_from.or(Some(old.generated_at));
        entries.retain(|n| n.name != e.name);
        out.carried.push(e.name.clone());
        entries.push(e);
    }
    let rank = |name: &str| order.iter().position(|n| *n == name).unwrap_or(usize::MAX);
    entries.sort_by_key(|e| rank(&e.name));
    Ok((entries, out))
}

/// Puts the finished working directory in place as the day, replacing an earlier run of the
/// same day, then points `latest` at it.
fn put_in_place(delivery: &Delivery, layout: &Layout, work: &str, date: NaiveDate) -> Result<()> {
    let day = layout.day(date);
    let old = layout.replaced(date);
    let replacing = delivery.exists(&day);
    if replacing {
        delivery.rename(&day, &old)?;
    }
    if let Err(e) = delivery.rename(work, &day) {
        if replacing {
            let _ = delivery.rename(&old, &day);
        }
        return Err(e);
    }
    if replacing {
        delivery.remove_tree(&old)?;
    }
    let latest = layout.latest();
    delivery.remove_file(&latest)?;
    delivery.write_small(&latest, format!("{}\n", date.format("%Y-%m-%d")).as_bytes())
}

/// Removes days older than `keep` days before `today`; never `today`, the one just written.
fn prune(
    delivery: &Delivery,
    layout: &Layout,
    today: NaiveDate,
    keep: u32,
) -> Result<Vec<NaiveDate>> {
    let oldest_kept = today - Duration::days(i64::from(keep.max(1)) - 1);
    let mut removed = Vec::new();
    for e in delivery.list(&layout.base)? {
        if let Some(d) =
            layout::day_of(&e.name).filter(|d| e.is_dir && *d < oldest_kept && *d != today)
        {
            delivery.remove_tree(&format!("{}/{}", layout.base, e.name))?;
            removed.push(d);
        }
    }
    removed.sort();
    Ok(removed)
}

/// Signs the manifest bytes with `ssh-keygen -Y sign`; returns the signature. The manifest
/// holds names, counts and checksums only, so a private temporary copy is safe.
fn sign(key: &Path, manifest: &[u8]) -> Result<Vec<u8>> {
    let dir = crate::process::PrivateDir::new("sign").map_err(|e| {
        Error::new(
            Kind::Unavailable,
            "cannot create a private temporary directory",
        )
        .source(e)
    })?;
    let path = dir
        .write(layout::MANIFEST, manifest)
        .map_err(|e| Error::internal("cannot stage the manifest for signing").source(e))?;
    crate::crypt::signing::sign_as(key, &path, crate::crypt::signing::EXPORT_NAMESPACE)?;
    std::fs::read(crate::crypt::signing::sig_path(&path))
        .map_err(|e| Error::internal("cannot read the signature").source(e))
}
