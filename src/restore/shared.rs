//! A restore from an object store (`store = "s3://..."`): under the profile's restore lease
//! in the bucket, the snapshot the bucket's pointer names is fetched into this host's cache
//! (encrypted, as it is stored; its manifest checked against the pointer), then restored as
//! usual, every file hashed while it loads.

use super::run::{RestoreReport, RestoreRequest, restore_here};
use crate::config::Profile;
use crate::env::Env;
use crate::error::{Error, Kind, Result};
use crate::location::S3Url;
use crate::objects::{Bucket, snapshots};
use crate::snapshot::manifest::Manifest;
use crate::store::ProfileStore;

pub async fn restore_shared(
    url: &S3Url,
    profile: &Profile,
    env: &Env,
    req: &RestoreRequest,
) -> Result<RestoreReport> {
    let (bucket, lease) = crate::objects::leased(url, profile, env, "restore").await?;
    let done = async {
        let label = fetch_latest(&bucket, profile).await?;
        lease.check().await?;
        // the snapshot the pointer names, never a newer unpublished one in this host's cache
        let req = match req.snapshot.as_str() {
            "latest" => RestoreRequest {
                snapshot: label,
                ..req.clone()
            },
            _ => req.clone(),
        };
        restore_here(profile, env, &req).await
    }
    .await;
    lease.release().await;
    done
}

/// Brings the snapshot the pointer names into this host's cache, unless it is there whole;
/// returns its label. Every file the manifest lists must arrive at its size.
async fn fetch_latest(bucket: &Bucket, profile: &Profile) -> Result<String> {
    let Some((pointer, _)) = snapshots::latest(bucket, &profile.name).await? else {
        return Err(Error::config(format!(
            "{} holds no snapshot of profile '{}'",
            bucket.describe(""),
            profile.name
        ))
        .hint("run acc snapshot with the same store first"));
    };
    let store = ProfileStore::open(&profile.store, &profile.name)?;
    let cached = store.snapshot_dir(&pointer.label);
    if cached.exists() {
        if whole(&cached).is_ok() {
            return Ok(pointer.label);
        }
        // a copy cut short before this check existed, or damaged since: fetch it again
        std::fs::remove_dir_all(&cached)
            .map_err(|e| Error::io(format!("cannot remove {}", cached.display()), e))?;
    }
    let tmp = store.dir().join(format!(
        ".{}.fetching-{}",
        pointer.label,
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    let fetched = async {
        snapshots::fetch(bucket, &profile.name, &pointer, &tmp).await?;
        whole(&tmp)
    };
    match fetched.await {
        Ok(()) => {
            store.publish_from(&tmp, &pointer.label)?;
            Ok(pointer.label)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            Err(e)
        }
    }
}

/// Every file the manifest in `dir` lists is there at its size (restore hashes them as it loads).
fn whole(dir: &std::path::Path) -> Result<()> {
    match Manifest::read(dir)?.short_file_in(dir) {
        None => Ok(()),
        Some(f) => Err(Error::new(
            Kind::Temporary,
            format!(
                "{} of snapshot {} did not arrive whole from the bucket",
                f.name,
                dir.display()
            ),
        )
        .hint("it may have been pruned while it was fetched; run the restore again")),
    }
}
