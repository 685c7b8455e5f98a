//! A restore from an object store (`store = "s3://..."`): under the profile's restore lease
//! in the bucket, the snapshot the bucket's pointer names is fetched into this host's cache
//! (encrypted, as it is stored; its manifest checked against the pointer), then restored as
//! usual, every file hashed while it loads.

use super::run::{RestoreReport, RestoreRequest, restore_here};
use crate::config::Profile;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::location::S3Url;
use crate::objects::{Bucket, snapshots};
use crate::store::ProfileStore;

pub async fn restore_shared(
    url: &S3Url,
    profile: &Profile,
    env: &Env,
    req: &RestoreRequest,
) -> Result<RestoreReport> {
    let (bucket, lease) = crate::objects::leased(url, profile, env, "restore").await?;
    let done = async {
        fetch_latest(&bucket, profile).await?;
        lease.check().await?;
        restore_here(profile, env, req).await
    }
    .await;
    lease.release().await;
    done
}

/// Brings the snapshot the pointer names into this host's cache, unless it is there.
async fn fetch_latest(bucket: &Bucket, profile: &Profile) -> Result<()> {
    let Some((pointer, _)) = snapshots::latest(bucket, &profile.name).await? else {
        return Err(Error::config(format!(
            "{} holds no snapshot of profile '{}'",
            bucket.describe(""),
            profile.name
        ))
        .hint("run acc snapshot with the same store first"));
    };
    let store = ProfileStore::open(&profile.store, &profile.name)?;
    if store.snapshot_dir(&pointer.label).exists() {
        return Ok(());
    }
    let tmp = store.dir().join(format!(
        ".{}.fetching-{}",
        pointer.label,
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    match snapshots::fetch(bucket, &profile.name, &tmp).await {
        Ok(_) => {
            store.publish_from(&tmp, &pointer.label)?;
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            Err(e)
        }
    }
}
