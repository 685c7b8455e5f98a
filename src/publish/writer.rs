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
    /// Files of the published day that the new one keeps: they move into it only at publish,
    /// so the published day stays whole until its replacement is complete.
    carried: Arc<std::sync::Mutex<Vec<String>>>,
    /// Working directories of killed runs that `begin` removed.
    pub removed_leftovers: Vec<String>,
}

/// What an earlier run's day must show before any of it is carried into a day acc signs: it
/// was written for this profile and, when a signing key is configured, signed with that key.
#[derive(Debug, Clone)]
pub struct Trust {
    pub kind: super::day::DayKind,
    pub profile: String,
    pub signing_key: Option<std::path::PathBuf>,
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
        let (l, w) = (layout.clone(), work.clone());
        let removed_leftovers = remote
            .call(move |d| -> Result<Vec<String>> {
                d.mkdir_all(&l.base)?;
                let stale = remove_leftovers(d, &l)?;
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
            carried: Arc::default(),
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

    /// Keeps the files of the day's earlier run that this run did not make, with their
    /// entries, so a rerun never leaves fewer files than it found. Each is hashed again first:
    /// the new manifest is signed, and acc never signs what it did not check. The files stay in
    /// the published day until `publish` puts the new one in place. Entries come back sorted as
    /// `order` names them.
    pub async fn carry_over(
        &self,
        entries: Vec<FileEntry>,
        order: &'static [&'static str],
        trust: Trust,
    ) -> Result<(Vec<FileEntry>, Carried)> {
        let (layout, date) = (self.layout.clone(), self.date);
        let (entries, carried, files) = self
            .remote
            .call(move |d| carry_over(d, &layout, date, entries, order, &trust))
            .await??;
        self.carried.lock().expect("carried lock").extend(files);
        Ok((entries, carried))
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
        let carried = self.carried.lock().expect("carried lock").clone();
        self.remote
            .call(move |d| -> Result<Vec<NaiveDate>> {
                sync_files(d, &work)?;
                if let Some(sig) = &signature {
                    d.write_small(&format!("{work}/{}", layout::SIGNATURE), sig)?;
                }
                d.write_small(&format!("{work}/{}", layout::MANIFEST), &json)?;
                d.sync_dir(&work)?;
                put_in_place(d, &layout, &work, date, &carried)?;
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

/// Clears what this host's killed runs left: a published day a kill left set aside (its
/// replacement never went in) is put back whole first, with any of its files that had already
/// moved into that run's working directory; then working directories and set-aside days whose
/// day is in place are removed. Another host's are left alone.
fn remove_leftovers(delivery: &Delivery, layout: &Layout) -> Result<Vec<String>> {
    let base = &layout.base;
    let entries: Vec<_> = delivery
        .list(base)?
        .into_iter()
        .filter(|e| e.is_dir)
        .filter_map(|e| layout::leftover(&e.name).map(|(date, kind)| (e.name, date, kind)))
        .collect();
    for (name, date, _) in entries
        .iter()
        .filter(|(_, _, kind)| *kind == layout::Leftover::Replaced)
    {
        if !delivery.exists(&layout.day(*date)) {
            let works: Vec<String> = entries
                .iter()
                .filter(|(_, d, k)| d == date && *k == layout::Leftover::Work)
                .map(|(n, _, _)| format!("{base}/{n}"))
                .collect();
            put_back(
                delivery,
                &format!("{base}/{name}"),
                &works,
                &layout.day(*date),
            )?;
        }
    }
    let mut removed = Vec::new();
    for (name, date, kind) in entries {
        let path = format!("{base}/{name}");
        if !delivery.exists(&path) {
            continue;
        }
        match kind {
            layout::Leftover::Replaced => retire(delivery, layout, &path, date)?,
            layout::Leftover::Work => delivery.remove_tree(&path)?,
        }
        removed.push(name);
    }
    Ok(removed)
}

/// An earlier version of the day, once the new one is in place: removed when the new one took
/// over all its sealed files, else kept whole under a superseded name until retention removes
/// it with its day (a file delivered earlier is never deleted by a later run: one the new day
/// did not carry, because its manifest could not vouch for it, stays on the destination).
fn retire(delivery: &Delivery, layout: &Layout, aside: &str, date: NaiveDate) -> Result<()> {
    let sealed = |dir: &str| -> Result<Vec<String>> {
        Ok(delivery
            .list(dir)?
            .into_iter()
            .filter(|e| !e.is_dir && layout::FileKind::of(&e.name).is_some())
            .map(|e| e.name)
            .collect())
    };
    let now = sealed(&layout.day(date))?;
    // a file the new day delivers again under its name is replaced, not lost
    if sealed(aside)?.iter().all(|f| now.contains(f)) {
        delivery.remove_tree(aside)
    } else {
        delivery.rename(aside, &layout.superseded(date))
    }
}

/// Puts a set-aside day back as `day`: first every file its manifest lists that is missing
/// from it and present in one of `works` (a kill came while carried files moved).
fn put_back(delivery: &Delivery, aside: &str, works: &[String], day: &str) -> Result<()> {
    let manifest = format!("{aside}/{}", layout::MANIFEST);
    let listed: Vec<String> = delivery
        .read_small(&manifest, layout::MANIFEST_LIMIT)
        .ok()
        .and_then(|b| DayManifest::parse(&b, &manifest).ok())
        .map(|m| m.dashboards.into_iter().filter_map(|e| e.file).collect())
        .unwrap_or_default();
    for file in listed.iter().filter(|f| layout::is_plain_file(f)) {
        let home = format!("{aside}/{file}");
        if delivery.exists(&home) {
            continue;
        }
        if let Some(from) = works
            .iter()
            .map(|w| format!("{w}/{file}"))
            .find(|p| delivery.exists(p))
        {
            delivery.rename(&from, &home)?;
        }
    }
    delivery.rename(aside, day)
}

/// The entries with the earlier run's kept ones added, what was kept or dropped, and the files
/// to move into the new day when it is published.
type CarriedOver = (Vec<FileEntry>, Carried, Vec<String>);

fn carry_over(
    delivery: &Delivery,
    layout: &Layout,
    date: NaiveDate,
    mut entries: Vec<FileEntry>,
    order: &[&str],
    trust: &Trust,
) -> Result<CarriedOver> {
    let mut out = Carried::default();
    let mut files = Vec::new();
    let path = layout.manifest(date);
    if !delivery.exists(&path) {
        return Ok((entries, out, files));
    }
    let bytes = delivery.read_small(&path, layout::MANIFEST_LIMIT)?;
    let Ok(old) = DayManifest::parse(&bytes, &path) else {
        // an unreadable manifest cannot vouch for its files: the new day stands alone
        return Ok((entries, out, files));
    };
    if let Err(why) = vouched(delivery, layout, date, &bytes, &old, trust) {
        for e in old.dashboards.iter().filter(|e| e.ok()) {
            if !entries.iter().any(|n| n.name == e.name) {
                out.dropped
                    .push((e.name.clone(), format!("{path} was not carried: {why}")));
            }
        }
        return Ok((entries, out, files));
    }
    // only what this kind of day holds: an export carries dashboards, sheets carry employees
    let ours = |e: &FileEntry| order.is_empty() || order.contains(&e.name.as_str());
    for mut e in old
        .dashboards
        .into_iter()
        .filter(FileEntry::ok)
        .filter(ours)
    {
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
        files.push(file);
        e.carried_from = e.carried_from.or(Some(old.generated_at));
        entries.retain(|n| n.name != e.name);
        out.carried.push(e.name.clone());
        entries.push(e);
    }
    let rank = |name: &str| order.iter().position(|n| *n == name).unwrap_or(usize::MAX);
    entries.sort_by_key(|e| rank(&e.name));
    Ok((entries, out, files))
}

/// Whether the earlier day can vouch for its files: written for this profile and, when acc
/// signs, signed by this very key (a party with write access to the destination could add or
/// change an entry; acc's next signature must never cover it).
fn vouched(
    delivery: &Delivery,
    layout: &Layout,
    date: NaiveDate,
    manifest: &[u8],
    old: &DayManifest,
    trust: &Trust,
) -> std::result::Result<(), String> {
    if old.kind.is_some_and(|k| k != trust.kind) {
        return Err(format!(
            "its manifest is a {} day, not an {} day",
            old.kind.map_or("", |k| k.name()),
            trust.kind.name()
        ));
    }
    if old.date != date {
        return Err(format!("its manifest is the day {}, not {date}", old.date));
    }
    if old.profile != trust.profile {
        return Err(format!(
            "its manifest is profile '{}', not '{}'",
            old.profile, trust.profile
        ));
    }
    let Some(key) = &trust.signing_key else {
        return Ok(());
    };
    let signature = delivery
        .read_small(&layout.signature(date), layout::SIGNATURE_LIMIT)
        .map_err(|_| "it is not signed, and this exporter signs".to_string())?;
    crate::crypt::signing::verify_own(
        key,
        manifest,
        &signature,
        crate::crypt::signing::EXPORT_NAMESPACE,
    )
    .map_err(|e| format!("its signature is not this exporter's: {}", e.message()))
}

/// Puts the finished working directory in place as the day, replacing an earlier run of the
/// same day, then points `latest` at it. The earlier day is set aside whole; only then do the
/// files the new day keeps from it move across, and the new day takes the name. A failure at
/// any step puts the earlier day back whole; a kill is repaired by the next run's `begin`.
fn put_in_place(
    delivery: &Delivery,
    layout: &Layout,
    work: &str,
    date: NaiveDate,
    carried: &[String],
) -> Result<()> {
    let day = layout.day(date);
    let aside = layout.replaced(date);
    let replacing = delivery.exists(&day);
    if replacing {
        delivery.rename(&day, &aside)?;
        crate::failpoint::pause_blocking("publish:day-set-aside");
    }
    let swapped = (|| -> Result<()> {
        if replacing {
            for file in carried {
                delivery.rename(&format!("{aside}/{file}"), &format!("{work}/{file}"))?;
            }
            delivery.sync_dir(work)?;
            crate::failpoint::pause_blocking("publish:carried");
        }
        delivery.rename(work, &day)
    })();
    if let Err(e) = swapped {
        if replacing {
            let _ = put_back(delivery, &aside, &[work.to_string()], &day);
        }
        return Err(e);
    }
    if replacing {
        retire(delivery, layout, &aside, date)?;
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
        } else if layout::superseded_day(&e.name).is_some_and(|d| e.is_dir && d < oldest_kept) {
            delivery.remove_tree(&format!("{}/{}", layout.base, e.name))?;
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
