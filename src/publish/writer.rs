//! Writing a day's next version: a hidden working directory, sealed files added one by one,
//! files of the current version carried by reference, then one durable publish step. Every
//! file is synced, the new files take names no version used, the signature goes in, and the
//! manifest goes in last under a name nothing had: that one step makes the version visible.
//! A published version is never modified, and no file leaves a day but with the day
//! (retention), so a run killed or failing at any point leaves every reader the version it
//! saw, whole. The next run removes what a killed one left in its working directory.
//!
//! In a bucket (no rename) the working directory is the run's own prefix in the day, the files
//! stay where they are written, and the create-only write of the version's manifest is the one
//! step (see `layout`).

use std::path::Path;
use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use tokio::sync::mpsc;

use super::carry::{self, Carried, Trust};
use super::day::{DayManifest, FileEntry};
use super::layout::{self, FileKind, Layout};
use super::reader::{current_version, try_current_version};
use super::seal::Chunk;
use super::sealed_file::{SealedFile, channel};
use crate::crypt::Recipients;
use crate::delivery::{Delivery, Remote, temp_name};
use crate::error::{Error, Kind, Result};
use crate::pool::run as blocking;

/// One run's day in the making. Clones share it (a blocking thread may add files).
#[derive(Clone)]
pub struct DayWriter {
    remote: Remote,
    layout: Layout,
    date: NaiveDate,
    work: String,
    recipients: Arc<Recipients>,
    /// The day's current version when the run began: carry-over builds on it, and the new
    /// version goes in only while it is still current, so a version another run published
    /// meanwhile is never hidden by one that lacks its files.
    based_on: Option<u32>,
    /// Working directories of killed runs that `begin` removed.
    pub removed_leftovers: Vec<String>,
}

/// What `publish` put in place.
#[derive(Debug)]
pub struct Published {
    /// The manifest as published: the files this run made carry the version's names.
    pub manifest: DayManifest,
    pub version: u32,
    /// Days retention removed.
    pub removed_days: Vec<NaiveDate>,
}

impl DayWriter {
    /// Removes what this host's killed runs left (the caller holds the run lock, so none is in
    /// use) and makes this run's working directory.
    pub async fn begin(
        remote: Remote,
        layout: Layout,
        date: NaiveDate,
        recipients: Arc<Recipients>,
    ) -> Result<DayWriter> {
        let work = match remote.blocking().renames() {
            true => layout.work(date),
            false => layout.run(date),
        };
        let (l, w) = (layout.clone(), work.clone());
        let (removed_leftovers, based_on) = remote
            .call(move |d| -> Result<(Vec<String>, Option<u32>)> {
                d.mkdir_all(&l.base)?;
                let stale = match d.renames() {
                    true => remove_leftovers(d, &l)?,
                    false => remove_runs_left(d, &l, date)?,
                };
                // a directory under this very name is a killed run's whose pid came round again
                if d.exists(&w) {
                    d.remove_tree(&w)?;
                }
                d.mkdir_all(&w)?;
                Ok((stale, current_version(d, &l, date)))
            })
            .await??;
        Ok(DayWriter {
            remote,
            layout,
            date,
            work,
            recipients,
            based_on,
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
        // a bucket run's prefix is its own and no reader looks in it: no temporary name
        let tmp = match self.remote.blocking().renames() {
            true => temp_name(&final_path),
            false => final_path.clone(),
        };
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

    /// Keeps the files of the day's current version that this run did not make, with their
    /// entries, so a rerun never lists fewer files than it found (see `carry::carry_over`).
    /// Entries come back sorted as `order` names them.
    pub async fn carry_over(
        &self,
        entries: Vec<FileEntry>,
        order: &'static [&'static str],
        trust: Trust,
    ) -> Result<(Vec<FileEntry>, Carried)> {
        let (layout, at) = (self.layout.clone(), (self.date, self.based_on));
        self.remote
            .call(move |d| carry::carry_over(d, &layout, at, entries, order, &trust))
            .await?
    }

    /// Publishes this run as the day's next version: the manifest names the files this run
    /// made by their place in the version, is signed (when a key is given) and written beside
    /// them, and the working directory goes in whole as the version; then `latest` is pointed
    /// at the day and days older than `keep_days` are removed.
    pub async fn publish(
        self,
        mut manifest: DayManifest,
        signing_key: Option<&Path>,
        keep_days: Option<u32>,
    ) -> Result<Published> {
        let (layout, date, based_on) = (self.layout.clone(), self.date, self.based_on);
        let version = match self
            .remote
            .call(move |d| next_version(d, &layout, date, based_on))
            .await
            .and_then(|r| r)
        {
            Ok(v) => v,
            Err(e) => {
                self.abandon().await;
                return Err(e);
            }
        };
        manifest.version = Some(version);
        let renames = self.remote.blocking().renames();
        let made_in = match renames {
            true => layout::version_dir(version),
            false => format!("{}/", self.work.rsplit('/').next().unwrap_or_default()),
        };
        take_version_paths(&mut manifest, &made_in);
        let json = manifest.to_json();
        let signature = match signing_key {
            Some(key) => {
                let (key, bytes) = (key.to_path_buf(), json.clone());
                match blocking(move || sign(&key, &bytes)).await.and_then(|r| r) {
                    Ok(sig) => Some(sig),
                    Err(e) => {
                        self.abandon().await;
                        return Err(e);
                    }
                }
            }
            None => None,
        };
        let (layout, work) = (self.layout.clone(), self.work.clone());
        let removed_days = self
            .remote
            .call(move |d| -> Result<Vec<NaiveDate>> {
                let sealed = (json.as_slice(), signature.as_deref());
                if !renames {
                    put_manifest(d, &layout, (date, version, based_on), &work, sealed)?;
                } else if let Err(e) = put_in_place(d, &layout, (date, version), &work, sealed) {
                    // never published: the sealed files go with the working directory
                    let _ = d.remove_tree(&work);
                    return Err(e);
                }
                // published: what follows can only warn
                if let Err(e) = point_latest(d, &layout, date) {
                    crate::events::warning(&format!(
                        "{} is published, but latest was not moved: {}",
                        layout.day(date),
                        e.message()
                    ));
                }
                Ok(keep_days.map_or_else(Vec::new, |keep| prune(d, &layout, date, keep)))
            })
            .await??;
        Ok(Published {
            manifest,
            version,
            removed_days,
        })
    }

    /// Removes the working directory: nothing of this run is published.
    pub async fn abandon(self) {
        let work = self.work.clone();
        let _ = self.remote.call(move |d| d.remove_tree(&work)).await;
    }
}

/// The number this run's version takes: one above both the version it began from and any
/// version directory the day holds. Refused (75) when another run published a version since
/// this one began.
fn next_version(
    d: &Delivery,
    layout: &Layout,
    date: NaiveDate,
    based_on: Option<u32>,
) -> Result<u32> {
    let now = current_version(d, layout, date);
    if now != based_on {
        return Err(concurrent(&layout.day(date), now.unwrap_or(0)));
    }
    let highest = d
        .list(&layout.day(date))
        .unwrap_or_default()
        .iter()
        .filter(|e| e.is_dir)
        .filter_map(|e| layout::version_of(&e.name))
        .chain(based_on)
        .max()
        .unwrap_or(0);
    highest.checked_add(1).ok_or_else(|| {
        Error::new(
            Kind::BadInput,
            format!(
                "{} holds version {highest}: there is no next one",
                layout.day(date)
            ),
        )
    })
}

/// Names the files this run made (its entries not carried) by where they are in the day:
/// `made_in` is the version's directory, or a bucket run's prefix.
fn take_version_paths(manifest: &mut DayManifest, made_in: &str) {
    for e in manifest
        .files
        .iter_mut()
        .filter(|e| e.ok() && e.carried_from.is_none())
    {
        if let Some(file) = &mut e.file {
            *file = format!("{made_in}{file}");
        }
    }
}

/// A bucket's publish: the signature, then the manifest, each written create-only in the
/// version's directory. The manifest is the one step that makes the version visible; a
/// version directory holding a signature alone (a run killed in between) is passed over by
/// readers and by the next version's number. When the run did not publish, its files go, but
/// never while a manifest it cannot read might name them (the next run clears them then).
fn put_manifest(
    d: &Delivery,
    layout: &Layout,
    (date, version, based_on): (NaiveDate, u32, Option<u32>),
    work: &str,
    (manifest, signature): (&[u8], Option<&[u8]>),
) -> Result<()> {
    let day = layout.day(date);
    let not_published = |e: Error| {
        let _ = d.remove_tree(work);
        e
    };
    if let Some(sig) = signature {
        let path = layout.in_day(date, &layout::signature_file(version));
        if let Err(e) = d.write_small(&path, sig) {
            let e = if d.exists(&path) {
                concurrent(&day, version)
            } else {
                e
            };
            return Err(not_published(e));
        }
    }
    crate::failpoint::pause_blocking("publish:version-ready");
    // a run that began meanwhile found this version's directory taken and claimed the next:
    // this one must not publish beneath it
    let newer = d
        .list(&day)?
        .iter()
        .filter(|e| e.is_dir)
        .filter_map(|e| layout::version_of(&e.name))
        .max()
        .filter(|v| *v > version);
    if let Some(v) = newer {
        return Err(not_published(concurrent(&day, v)));
    }
    // and one that published since this run began: its files would be hidden by this version
    let now = try_current_version(d, layout, date).map_err(not_published)?;
    if now != based_on {
        return Err(not_published(concurrent(&day, now.unwrap_or(0))));
    }
    let path = layout.in_day(date, &layout::manifest_file(version));
    if let Err(e) = d.write_small(&path, manifest) {
        match d.read_small(&path, layout::MANIFEST_LIMIT) {
            // this run's went in; only the answer was lost
            Ok(there) if there == manifest => {}
            Ok(_) => return Err(not_published(concurrent(&day, version))),
            Err(_) if d.try_exists(&path).is_ok_and(|there| !there) => {
                return Err(not_published(e));
            }
            Err(_) => return Err(e),
        }
    }
    crate::failpoint::pause_blocking("publish:version-in-place");
    Ok(())
}

/// Makes the working directory durable with the manifest (and signature) in it, then renames
/// it into the day as the version: the one step that makes the version visible. The name is
/// new, so of two runs aiming at one version only one gets it; the other is told to run again.
fn put_in_place(
    d: &Delivery,
    layout: &Layout,
    (date, version): (NaiveDate, u32),
    work: &str,
    (manifest, signature): (&[u8], Option<&[u8]>),
) -> Result<()> {
    sync_files(d, work)?;
    if let Some(sig) = signature {
        d.write_small(&format!("{work}/{}", layout::SIGNATURE), sig)?;
    }
    d.write_small(&format!("{work}/{}", layout::MANIFEST), manifest)?;
    d.sync_dir(work)?;
    crate::failpoint::pause_blocking("publish:version-ready");
    let day = layout.day(date);
    d.mkdir_all(&day)?;
    let target = layout.in_day(date, layout::version_dir(version).trim_end_matches('/'));
    if d.exists(&target) {
        return Err(concurrent(&day, version));
    }
    d.rename(work, &target).map_err(|e| {
        if d.exists(&target) && d.exists(work) {
            concurrent(&day, version)
        } else {
            e
        }
    })?;
    crate::failpoint::pause_blocking("publish:version-in-place");
    Ok(())
}

fn concurrent(day: &str, version: u32) -> Error {
    Error::new(
        Kind::Temporary,
        format!("another run published version {version} of {day} while this one worked"),
    )
    .hint("nothing was lost: that version stays whole; run again to publish after it")
}

/// Points `latest` at the day, unless it names it or a later one already. The new pointer is
/// written under a hidden name of this host's own and moved across; between the old
/// pointer's removal and the move, readers find the newest complete day by listing.
fn point_latest(d: &Delivery, layout: &Layout, date: NaiveDate) -> Result<()> {
    let forward = |now: Option<&[u8]>| {
        let named = now
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|t| layout::day_of(t.trim()));
        match named {
            Some(n) if n >= date => None,
            _ => Some(format!("{}\n", date.format("%Y-%m-%d")).into_bytes()),
        }
    };
    d.replace_small(&layout.latest(), &layout.latest_staged(), &forward)
}

/// Every file in the working directory made durable before the manifest that vouches for
/// them is written.
fn sync_files(delivery: &Delivery, work: &str) -> Result<()> {
    for e in delivery.list(work)?.into_iter().filter(|e| !e.is_dir) {
        delivery.sync(&format!("{work}/{}", e.name))?;
    }
    Ok(())
}

/// Clears what this host's killed runs left: their working directories, and a `latest` on its
/// way (this host's `.latest.<host>`, and the `.latest.tmp` of older releases). A day an older release set aside (`.<day>.old-…`) goes back in place
/// when the day is missing, else waits for retention. Another host's are left alone.
fn remove_leftovers(delivery: &Delivery, layout: &Layout) -> Result<Vec<String>> {
    let base = &layout.base;
    delivery.remove_file(&temp_name(&layout.latest()))?;
    let staged = layout.latest_staged();
    delivery.remove_file(&staged)?;
    delivery.remove_file(&temp_name(&staged))?;
    let mut removed = Vec::new();
    for e in delivery.list(base)?.into_iter().filter(|e| e.is_dir) {
        let Some((date, kind)) = layout::leftover(&e.name) else {
            continue;
        };
        let path = format!("{base}/{}", e.name);
        match kind {
            layout::Leftover::Work => delivery.remove_tree(&path)?,
            layout::Leftover::Replaced if !delivery.exists(&layout.day(date)) => {
                delivery.rename(&path, &layout.day(date))?
            }
            layout::Leftover::Replaced => continue,
        }
        removed.push(e.name);
    }
    Ok(removed)
}

/// Clears the prefixes this host's killed runs left in a bucket's day `date` (the one this run
/// writes): one that no manifest of the day names was never published. A day whose manifests
/// cannot all be read keeps them; killed runs' prefixes in other days go with their day
/// (retention).
fn remove_runs_left(d: &Delivery, layout: &Layout, date: NaiveDate) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    let entries = d.list(&layout.day(date))?;
    let left: Vec<&str> = entries
        .iter()
        .filter(|e| e.is_dir && layout::run_left(&e.name))
        .map(|e| e.name.as_str())
        .collect();
    if left.is_empty() {
        return Ok(removed);
    }
    let Some(named) = named_prefixes(d, layout, date, &entries) else {
        return Ok(removed);
    };
    for name in left.into_iter().filter(|n| !named.contains(*n)) {
        d.remove_tree(&layout.in_day(date, name))?;
        removed.push(format!("{}/{name}", layout.day(date)));
    }
    Ok(removed)
}

/// The directories in the day that its versions' manifests name files in; `None` when a
/// manifest cannot be read or parsed.
fn named_prefixes(
    d: &Delivery,
    layout: &Layout,
    date: NaiveDate,
    entries: &[crate::delivery::Entry],
) -> Option<std::collections::BTreeSet<String>> {
    let mut named = std::collections::BTreeSet::new();
    for v in entries
        .iter()
        .filter(|e| e.is_dir)
        .filter_map(|e| layout::version_of(&e.name))
    {
        let path = layout.in_day(date, &layout::manifest_file(v));
        // a manifest the bucket cannot be asked about may name them all
        if !d.try_exists(&path).ok()? {
            continue;
        }
        let bytes = d.read_small(&path, layout::MANIFEST_LIMIT).ok()?;
        let m = DayManifest::parse(&bytes, &path).ok()?;
        named.extend(
            m.files
                .iter()
                .filter_map(|f| f.file.as_deref()?.split_once('/'))
                .map(|(dir, _)| dir.to_string()),
        );
    }
    Some(named)
}

/// Removes days older than `keep` days before `today`, with the hidden directories of those
/// days whichever host left them; never `today`, the one just written.
/// Each entry that cannot be removed is a warning, and the others are still removed: one stuck
/// directory never stops retention.
fn prune(delivery: &Delivery, layout: &Layout, today: NaiveDate, keep: u32) -> Vec<NaiveDate> {
    let oldest_kept = today - Duration::days(i64::from(keep.max(1)) - 1);
    let entries = match delivery.list(&layout.base) {
        Ok(entries) => entries,
        Err(e) => {
            crate::events::warning(&format!("retention did not run: {}", e.message()));
            return Vec::new();
        }
    };
    let mut removed = Vec::new();
    for e in entries.into_iter().filter(|e| e.is_dir) {
        let day = layout::day_of(&e.name);
        let Some(date) = day.or_else(|| layout::hidden_day(&e.name)) else {
            continue;
        };
        if date >= oldest_kept || date == today {
            continue;
        }
        match delivery.remove_tree(&format!("{}/{}", layout.base, e.name)) {
            Ok(()) if day.is_some() => removed.push(date),
            Ok(()) => {}
            Err(err) => crate::events::warning(&format!(
                "retention could not remove {}: {}",
                e.name,
                err.message()
            )),
        }
    }
    removed.sort();
    removed
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
        .map_err(|e| Error::io("cannot stage the manifest for signing", e))?;
    crate::crypt::signing::sign_as(key, &path, crate::crypt::signing::EXPORT_NAMESPACE)?;
    std::fs::read(crate::crypt::signing::sig_path(&path))
        .map_err(|e| Error::io("cannot read the signature", e))
}
