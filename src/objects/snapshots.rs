//! A profile's snapshots in the bucket. Objects cannot be renamed, so a snapshot is written
//! under a prefix of its own, `<profile>/snapshots/<label>.<run>/`, its manifest last; then the
//! pointer `<profile>/latest.json` is moved to it by a conditional write. Readers follow only
//! the pointer, so they see whole snapshots or none; retention removes whole snapshots and
//! never the one the pointer names.

use std::path::Path;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::bucket::{Bucket, Lost};
use crate::error::{Error, Kind, Result};

/// The manifest and its signature go up last, in this order, after every data file.
const LAST: [&str; 2] = ["manifest.json.sig", "manifest.json"];
const MANIFEST: &str = "manifest.json";
/// Files sent up at once.
const FILES_IN_FLIGHT: usize = 3;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Pointer {
    pub label: String,
    /// The snapshot's prefix under `<profile>/snapshots/`.
    pub dir: String,
    /// SHA-256 of its manifest, hex: a reader checks the manifest it fetched against it.
    pub manifest_sha256: String,
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

/// Sends the published local snapshot `dir` (label `label`) up, then moves the pointer to it
/// unless a newer label is already there. Returns the snapshot's prefix.
pub async fn push(
    bucket: &Bucket,
    profile: &str,
    label: &str,
    dir: &Path,
    run: &str,
) -> Result<String> {
    if let Some((p, _)) = latest(bucket, profile).await?
        && p.label.as_str() >= label
    {
        return Ok(p.dir);
    }
    let prefix = format!("{label}.{run}");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(format!("cannot read {}", dir.display()), e))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !LAST.contains(&n.as_str()))
        .collect();
    names.sort();
    names.extend(
        LAST.iter()
            .filter(|n| dir.join(n).exists())
            .map(|n| n.to_string()),
    );
    // the data files a few at a time (each holds at most two parts in memory), then the
    // signature and the manifest, last and in order
    let (data, last) =
        names.split_at(names.len() - LAST.iter().filter(|n| dir.join(n).exists()).count());
    let send = |name: &String| {
        let (from, to) = (
            dir.join(name),
            format!("{}/{prefix}/{name}", snapshots(profile)),
        );
        async move {
            bucket.upload_file(&from, &to).await?;
            crate::failpoint::pause("objects:file-uploaded").await;
            Ok::<_, Error>(())
        }
    };
    let mut sending =
        futures_util::stream::iter(data.iter().map(send)).buffer_unordered(FILES_IN_FLIGHT);
    while let Some(sent) = sending.next().await {
        sent?;
    }
    drop(sending);
    for name in last {
        send(name).await?;
    }
    let manifest = std::fs::read(dir.join(MANIFEST))
        .map_err(|e| Error::io(format!("cannot read {}", dir.join(MANIFEST).display()), e))?;
    let me = Pointer {
        label: label.to_string(),
        dir: prefix.clone(),
        manifest_sha256: crate::crypt::hex(&Sha256::digest(&manifest)),
    };
    crate::failpoint::pause("objects:before-pointer").await;
    for _ in 0..5 {
        let current = latest(bucket, profile).await?;
        if let Some((p, _)) = &current
            && p.label.as_str() >= label
        {
            return Ok(prefix);
        }
        let etag = current.and_then(|(_, e)| e);
        let body = serde_json::to_vec_pretty(&me).expect("a pointer serialises");
        match bucket.put_if(&pointer_key(profile), body, etag).await? {
            Ok(_) => return Ok(prefix),
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

/// Fetches the snapshot the pointer names into the local directory `into` (which must not
/// exist), checking its manifest against the pointer. Returns the pointer, or `None` when the
/// bucket holds no snapshot of the profile.
pub async fn fetch(bucket: &Bucket, profile: &str, into: &Path) -> Result<Option<Pointer>> {
    let Some((p, _)) = latest(bucket, profile).await? else {
        return Ok(None);
    };
    std::fs::create_dir_all(into)
        .map_err(|e| Error::io(format!("cannot create {}", into.display()), e))?;
    let base = format!("{}/{}", snapshots(profile), p.dir);
    for (name, _) in bucket.objects(&base).await? {
        if name.contains('/') {
            continue;
        }
        bucket
            .download_file(&format!("{base}/{name}"), &into.join(&name))
            .await?;
    }
    let manifest = std::fs::read(into.join(MANIFEST)).map_err(|e| {
        Error::new(
            Kind::BadInput,
            format!("{} has no manifest", bucket.describe(&base)),
        )
        .source(e)
    })?;
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
    Ok(Some(p))
}

/// Removes whole snapshots beyond the newest `keep` complete ones, never the one the
/// pointer names, and the unfinished ones of runs older than it. Returns what it removed.
pub async fn prune(bucket: &Bucket, profile: &str, keep: usize) -> Result<Vec<String>> {
    let Some((pointer, _)) = latest(bucket, profile).await? else {
        return Ok(Vec::new());
    };
    let all = bucket.objects(&snapshots(profile)).await?;
    let mut dirs: Vec<(String, bool)> = Vec::new();
    for (name, _) in &all {
        let Some((dir, file)) = name.split_once('/') else {
            continue;
        };
        match dirs.iter_mut().find(|(d, _)| d == dir) {
            Some(entry) => entry.1 |= file == MANIFEST,
            None => dirs.push((dir.to_string(), file == MANIFEST)),
        }
    }
    let label = |d: &str| {
        d.split_once('.')
            .map_or(d.to_string(), |(l, _)| l.to_string())
    };
    let mut complete: Vec<&(String, bool)> = dirs.iter().filter(|(_, c)| *c).collect();
    complete.sort_by_key(|(d, _)| std::cmp::Reverse(label(d)));
    let mut removed = Vec::new();
    for (i, (dir, done)) in dirs.iter().enumerate() {
        let _ = i;
        let keep_it = *dir == pointer.dir
            || (*done && complete.iter().take(keep).any(|(d, _)| d == dir))
            || (!*done && label(dir) >= pointer.label);
        if !keep_it {
            bucket
                .remove_tree(&format!("{}/{dir}", snapshots(profile)))
                .await?;
            removed.push(dir.clone());
        }
    }
    Ok(removed)
}

/// The manifest of the snapshot the pointer names, and whether every file it lists is in the
/// bucket at its size; `None` when the bucket holds no snapshot of the profile.
pub async fn latest_manifest(
    bucket: &Bucket,
    profile: &str,
) -> Result<Option<(Pointer, Vec<u8>, bool)>> {
    let Some((p, _)) = latest(bucket, profile).await? else {
        return Ok(None);
    };
    let base = format!("{}/{}", snapshots(profile), p.dir);
    let key = format!("{base}/{MANIFEST}");
    let Some((bytes, _)) = bucket.get(&key).await? else {
        return Ok(Some((p, Vec::new(), false)));
    };
    let present = bucket.objects(&base).await?;
    Ok(Some((
        p,
        bytes.to_vec(),
        present.iter().any(|(n, _)| n == MANIFEST),
    )))
}
