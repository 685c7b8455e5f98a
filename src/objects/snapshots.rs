//! A profile's snapshots in the bucket. Objects cannot be renamed, so a snapshot is written
//! under a prefix of its own, `<profile>/snapshots/<label>.<run>/`, its manifest last; then the
//! pointer `<profile>/latest.json` is moved to it by a conditional write. Readers follow only
//! the pointer, so they see whole snapshots or none; retention removes whole snapshots and
//! never the one the pointer names.

use std::path::Path;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::bucket::{Bucket, Lost};
use crate::error::{Error, Kind, Result};

/// The manifest and its signature go up last, in this order, after every data file.
const LAST: [&str; 2] = ["manifest.json.sig", "manifest.json"];
const MANIFEST: &str = "manifest.json";
/// Files sent up at once.
pub const FILES_IN_FLIGHT: usize = 3;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Pointer {
    pub label: String,
    /// The snapshot's prefix under `<profile>/snapshots/`.
    pub dir: String,
    /// SHA-256 of its manifest, hex: a reader checks the manifest it fetched against it.
    pub manifest_sha256: String,
    /// When its data was taken (the manifest's start): the pointer only moves forward in it,
    /// whatever the labels (an on-demand label sorts after its day's scheduled one).
    pub as_of: DateTime<Utc>,
    /// The prefix the pointer named before, kept by pruning for a restore that read the
    /// pointer just before it moved.
    #[serde(default)]
    pub previous: Option<String>,
}

pub fn pointer_key(profile: &str) -> String {
    format!("{profile}/latest.json")
}

pub fn lease_key(profile: &str, job: &str) -> String {
    format!("{profile}/leases/{job}.json")
}

fn snapshots(profile: &str) -> String {
    format!("{profile}/snapshots")
}

/// The pointer, when a snapshot was ever published.
pub async fn latest(bucket: &Bucket, profile: &str) -> Result<Option<(Pointer, Option<String>)>> {
    let key = pointer_key(profile);
    match bucket.get(&key).await? {
        None => Ok(None),
        Some((bytes, etag)) => {
            let p: Pointer = serde_json::from_slice(&bytes).map_err(|e| {
                Error::new(
                    Kind::BadInput,
                    format!("{} is not a snapshot pointer", bucket.describe(&key)),
                )
                .source(e)
            })?;
            Ok(Some((p, etag)))
        }
    }
}

/// Whether the bucket's pointer already names data as new as `as_of` (or newer): then
/// nothing need be sent.
pub async fn current(bucket: &Bucket, profile: &str, as_of: DateTime<Utc>) -> Result<bool> {
    Ok(latest(bucket, profile)
        .await?
        .is_some_and(|(p, _)| p.as_of >= as_of))
}

/// The prefix of the snapshot `label` sent by `run`.
pub fn run_prefix(profile: &str, (label, run): (&str, &str)) -> String {
    format!("{}/{label}.{run}", snapshots(profile))
}

/// The key of the file `name` of the snapshot `label` sent by `run`.
pub fn file_key(profile: &str, at: (&str, &str), name: &str) -> String {
    format!("{}/{name}", run_prefix(profile, at))
}

/// Sends the published local snapshot `dir` (label `label`, its data as of `as_of`) up under
/// a prefix of its own, but for the files `sent` while it was captured; manifest last.
/// Returns the pointer that would name it.
pub async fn send(
    bucket: &Bucket,
    profile: &str,
    (label, as_of): (&str, DateTime<Utc>),
    (dir, sent): (&Path, &std::collections::BTreeSet<String>),
    run: &str,
) -> Result<Pointer> {
    let prefix = format!("{label}.{run}");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(format!("cannot read {}", dir.display()), e))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !LAST.contains(&n.as_str()) && !sent.contains(n))
        .collect();
    names.sort();
    let last: Vec<String> = LAST
        .iter()
        .filter(|n| dir.join(n).exists())
        .map(|n| n.to_string())
        .collect();
    // the data files a few at a time (each holds at most two parts in memory), then the
    // signature and the manifest, last and in order
    let send = |name: &String| {
        let (from, to) = (dir.join(name), file_key(profile, (label, run), name));
        async move {
            bucket.upload_file(&from, &to).await?;
            crate::failpoint::pause("objects:file-uploaded").await;
            Ok::<_, Error>(())
        }
    };
    let mut sending =
        futures_util::stream::iter(names.iter().map(send)).buffer_unordered(FILES_IN_FLIGHT);
    while let Some(sent) = sending.next().await {
        sent?;
    }
    drop(sending);
    for name in &last {
        send(name).await?;
    }
    let manifest = std::fs::read(dir.join(MANIFEST))
        .map_err(|e| Error::io(format!("cannot read {}", dir.join(MANIFEST).display()), e))?;
    Ok(Pointer {
        label: label.to_string(),
        dir: prefix,
        manifest_sha256: crate::crypt::hex(&Sha256::digest(&manifest)),
        as_of,
        previous: None,
    })
}

/// Moves the pointer to `me` by a conditional write, unless it already names data as new;
/// `true` when it moved. Call it only while holding the snapshot lease (checked just before).
pub async fn publish(bucket: &Bucket, profile: &str, me: &Pointer) -> Result<bool> {
    crate::failpoint::pause("objects:before-pointer").await;
    for _ in 0..5 {
        let current = latest(bucket, profile).await?;
        if let Some((p, _)) = &current
            && p.as_of >= me.as_of
        {
            return Ok(false);
        }
        let me = Pointer {
            previous: current.as_ref().map(|(p, _)| p.dir.clone()),
            ..me.clone()
        };
        let etag = current.and_then(|(_, e)| e);
        let body = serde_json::to_vec_pretty(&me).expect("a pointer serialises");
        match bucket.put_if(&pointer_key(profile), body, etag).await? {
            Ok(_) => return Ok(true),
            Err(Lost) => continue,
        }
    }
    Err(Error::new(
        Kind::Temporary,
        format!(
            "{} kept changing under this run",
            bucket.describe(&pointer_key(profile))
        ),
    ))
}

/// The prefix of the snapshot `p` names, under the bucket's prefix.
pub fn prefix_of(profile: &str, p: &Pointer) -> String {
    format!("{}/{}", snapshots(profile), p.dir)
}

/// The manifest of the snapshot `p` names, checked against the pointer, with its signature
/// (when there is one), and the objects beside it with their sizes.
pub async fn pointed_manifest(
    bucket: &Bucket,
    profile: &str,
    p: &Pointer,
) -> Result<(Vec<u8>, Option<Vec<u8>>, Vec<(String, u64)>)> {
    let base = prefix_of(profile, p);
    let gone = || {
        Error::new(
            Kind::Temporary,
            format!("{} has no manifest", bucket.describe(&base)),
        )
        .hint("it may have been pruned since the pointer was read; run the restore again")
    };
    let manifest = bucket
        .get(&format!("{base}/{MANIFEST}"))
        .await?
        .ok_or_else(gone)?
        .0
        .to_vec();
    if crate::crypt::hex(&Sha256::digest(&manifest)) != p.manifest_sha256 {
        return Err(Error::new(
            Kind::BadInput,
            format!(
                "the manifest of {} does not match the pointer that names it",
                bucket.describe(&base)
            ),
        )
        .hint("someone changed the snapshot after it was published; take a new snapshot"));
    }
    let signature = bucket
        .get(&format!("{base}/{}", LAST[0]))
        .await?
        .map(|(b, _)| b.to_vec());
    Ok((manifest, signature, sizes(bucket, &base).await?))
}

/// The objects under `base` with their sizes.
async fn sizes(bucket: &Bucket, base: &str) -> Result<Vec<(String, u64)>> {
    Ok(bucket
        .objects(base)
        .await?
        .into_iter()
        .map(|(n, size, _)| (n, size))
        .collect())
}

/// Removes whole snapshots beyond the newest `keep` complete ones, never the one the pointer
/// names nor the one it named before, and every unfinished one: call it only while holding
/// the snapshot lease. Returns what it removed.
pub async fn prune(bucket: &Bucket, profile: &str, keep: usize) -> Result<Vec<String>> {
    let Some((pointer, _)) = latest(bucket, profile).await? else {
        return Ok(Vec::new());
    };
    // each snapshot's prefix, and when its manifest went up (None: it never finished)
    let mut dirs: Vec<(String, Option<DateTime<Utc>>)> = Vec::new();
    for (name, _, at) in bucket.objects(&snapshots(profile)).await? {
        let Some((dir, file)) = name.split_once('/') else {
            continue;
        };
        let done = (file == MANIFEST).then_some(at);
        match dirs.iter_mut().find(|(d, _)| d == dir) {
            Some(entry) => entry.1 = entry.1.or(done),
            None => dirs.push((dir.to_string(), done)),
        }
    }
    // the newest `keep` finished ones, and the pointer's previous one, for a restore that
    // read the pointer just before it moved
    let mut complete: Vec<(String, DateTime<Utc>)> = dirs
        .iter()
        .filter_map(|(d, at)| Some((d.clone(), (*at)?)))
        .collect();
    complete.sort_by_key(|(_, at)| std::cmp::Reverse(*at));
    let mut kept: Vec<&String> = complete.iter().take(keep).map(|(d, _)| d).collect();
    kept.extend(pointer.previous.as_ref());
    let mut removed = Vec::new();
    // under the snapshot lease no other run is sending: an unfinished prefix is a dead run's
    for (dir, _) in &dirs {
        if *dir != pointer.dir && !kept.contains(&dir) {
            bucket
                .remove_tree(&format!("{}/{dir}", snapshots(profile)))
                .await?;
            removed.push(dir.clone());
        }
    }
    Ok(removed)
}

/// The manifest of the snapshot the pointer names, and the objects beside it with their sizes
/// (for the caller to check against the manifest); `None` when the bucket holds no snapshot.
pub async fn latest_manifest(
    bucket: &Bucket,
    profile: &str,
) -> Result<Option<(Pointer, Vec<u8>, Vec<(String, u64)>)>> {
    let Some((p, _)) = latest(bucket, profile).await? else {
        return Ok(None);
    };
    let base = prefix_of(profile, &p);
    let key = format!("{base}/{MANIFEST}");
    let Some((bytes, _)) = bucket.get(&key).await? else {
        return Ok(Some((p, Vec::new(), Vec::new())));
    };
    let present = sizes(bucket, &base).await?;
    Ok(Some((p, bytes.to_vec(), present)))
}
