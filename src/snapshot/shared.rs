//! A snapshot into an object store (`store = "s3://..."`): under the profile's snapshot
//! lease in the bucket, taken here into this host's cache as usual, each sealed file sent up
//! as soon as it is finished (while the rest is captured), the signature and manifest last;
//! then published by moving the bucket's pointer; old ones pruned there too.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;

use super::take::{SnapshotReport, SnapshotRequest, take_here};
use crate::config::Profile;
use crate::env::Env;
use crate::error::Result;
use crate::location::S3Url;
use crate::objects::{Bucket, snapshots};
use crate::store::ProfileStore;

pub async fn take_shared(
    url: &S3Url,
    profile: &Profile,
    env: &Env,
    req: &SnapshotRequest,
    now: DateTime<Utc>,
) -> Result<SnapshotReport> {
    let (bucket, lease) = crate::objects::leased(url, profile, env, "snapshot").await?;
    let run = format!(
        "{}-{}-{}",
        crate::host::file_part(),
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    );
    let sent = async {
        let store = ProfileStore::open(&profile.store, &profile.name)?;
        let (tap, sealed) = tokio::sync::mpsc::unbounded_channel();
        let sending = send_as_sealed(&bucket, profile, (&store, &run), sealed);
        let taking = async move {
            let taken = take_here(profile, env, req, now, Some(&tap)).await;
            drop(tap); // the sender's stream ends with the capture
            taken
        };
        let (taken, sent) = tokio::join!(taking, sending);
        // what went up for a run that publishes nothing is no snapshot: removed now (a killed
        // run's is pruned by the next one)
        let discard = || async {
            if let Some(label) = &sent.label {
                let prefix = snapshots::run_prefix(&profile.name, (label, &run));
                let _ = bucket.remove_tree(&prefix).await;
            }
        };
        let report = match (taken, sent.failed) {
            (Ok(report), None) => report,
            (Err(e), _) | (Ok(_), Some(e)) => {
                discard().await;
                return Err(e);
            }
        };
        let already = sent.names;
        let as_of = report.manifest.started_at.with_timezone(&Utc);
        if snapshots::current(&bucket, &profile.name, as_of).await? {
            let _ = bucket
                .remove_tree(&snapshots::run_prefix(&profile.name, (&report.label, &run)))
                .await;
            return Ok(report);
        }
        lease.check().await?;
        let pointer = snapshots::send(
            &bucket,
            &profile.name,
            (&report.label, as_of),
            (&report.path, &already),
            &run,
        )
        .await?;
        // the pointer moves only while this run still holds the lease
        lease.check().await?;
        if !snapshots::publish(&bucket, &profile.name, &pointer).await? {
            crate::events::warning(&format!(
                "{} already names data as new as {}: it was sent up but not published",
                bucket.describe(&snapshots::pointer_key(&profile.name)),
                report.label
            ));
        }
        if let Some(keep) = profile.snapshot.keep {
            prune_in(&bucket, profile, keep).await;
        }
        Ok(report)
    }
    .await;
    lease.release().await;
    sent
}

/// Removes old snapshots from the bucket beyond `keep`; call it only while holding the
/// snapshot lease. Published either way: a failed prune is the next run's to finish.
async fn prune_in(bucket: &Bucket, profile: &Profile, keep: usize) {
    match snapshots::prune(bucket, &profile.name, keep).await {
        Ok(removed) => {
            for dir in removed {
                crate::events::info(&format!(
                    "removed {} from the bucket",
                    bucket.describe(&dir)
                ));
            }
        }
        Err(e) => crate::events::warning(&format!(
            "old snapshots were not pruned from the bucket: {}; the next snapshot prunes them",
            e.message()
        )),
    }
}

/// Prunes the bucket to `keep` snapshots under the snapshot lease (after a refresh, whose
/// snapshot prunes nothing while its restore runs).
pub async fn prune_shared(url: &S3Url, profile: &Profile, env: &Env, keep: usize) -> Result<()> {
    let (bucket, lease) = crate::objects::leased(url, profile, env, "snapshot").await?;
    prune_in(&bucket, profile, keep).await;
    lease.release().await;
    Ok(())
}

/// What went up while the snapshot was captured.
#[derive(Default)]
struct Sent {
    /// The snapshot's label, once the capture told of a file.
    label: Option<String>,
    names: BTreeSet<String>,
    /// The first upload that failed: nothing more is sent, and the run publishes nothing.
    failed: Option<crate::error::Error>,
}

/// Sends each sealed file the capture tells of, a few at a time, until it ends or an upload
/// fails (the capture goes on; its later files are not sent).
async fn send_as_sealed(
    bucket: &Bucket,
    profile: &Profile,
    (store, run): (&ProfileStore, &str),
    sealed: tokio::sync::mpsc::UnboundedReceiver<(String, PathBuf)>,
) -> Sent {
    let label = std::sync::Mutex::new(None::<String>);
    // once an upload failed, later files are not sent; those under way finish (a multipart
    // upload dropped midway would stay in the bucket, unlisted)
    let stop = std::sync::atomic::AtomicBool::new(false);
    let one = |(l, path): (String, PathBuf)| {
        if let Ok(mut known) = label.lock() {
            known.get_or_insert_with(|| l.clone());
        }
        let stop = &stop;
        async move {
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                return Ok(None);
            }
            let name = file_name(&path);
            let key = snapshots::file_key(&profile.name, (&l, run), &name);
            // the capture's last files may still be going up when its directory is published
            let published = store.snapshot_dir(&l).join(&name);
            match bucket.upload_file(&path, &key).await {
                Err(_) if !path.exists() && published.exists() => {
                    bucket.upload_file(&published, &key).await?
                }
                r => r?,
            };
            crate::failpoint::pause("objects:file-uploaded").await;
            Ok::<_, crate::error::Error>(Some(name))
        }
    };
    let mut sending = tokio_stream_of(sealed)
        .map(one)
        .buffer_unordered(snapshots::FILES_IN_FLIGHT);
    let mut sent = Sent::default();
    while let Some(done) = sending.next().await {
        match done {
            Ok(name) => sent.names.extend(name),
            Err(e) => {
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                sent.failed.get_or_insert(e);
            }
        }
    }
    drop(sending);
    sent.label = label.into_inner().unwrap_or(None);
    sent
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The receiver as a stream that ends when every sender is gone.
fn tokio_stream_of<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<T>,
) -> impl futures_util::Stream<Item = T> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
