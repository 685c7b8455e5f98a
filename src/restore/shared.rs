//! A restore from an object store (`store = "s3://..."`): under the profile's restore lease
//! in the bucket, the snapshot the bucket's pointer names is restored with each sealed file
//! streamed from the bucket into COPY and hashed as it loads: its manifest checked against the
//! pointer and its signature, every file's size against the listing, and nothing copied to
//! this host's disk. A copy already whole in this host's cache (the snapshot host restoring)
//! is read from there.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::files::Files;
use super::run::{Found, RestoreReport, RestoreRequest, restore_found, target_of};
use crate::config::Profile;
use crate::crypt::signing;
use crate::delivery::BucketDir;
use crate::env::Env;
use crate::error::{Error, Kind, Result};
use crate::location::S3Url;
use crate::objects::{Bucket, snapshots};
use crate::snapshot::manifest::{self, Manifest};
use crate::store::ProfileStore;

pub async fn restore_shared(
    url: &S3Url,
    profile: &Profile,
    env: &Env,
    req: &RestoreRequest,
) -> Result<RestoreReport> {
    let (bucket, lease) = crate::objects::leased(url, profile, env, "restore").await?;
    let done = async {
        let target = target_of(profile, req)?;
        target.check_name()?;
        let store = ProfileStore::open(&profile.store, &profile.name)?;
        let found = find((&bucket, url, env), profile, &store, req).await?;
        lease.check().await?;
        restore_found(profile, env, req, (&target, &store), found).await
    }
    .await;
    lease.release().await;
    done
}

/// The snapshot the pointer names (a named one other than it: from this host's cache), from
/// the cache when it is there whole, else streamed from the bucket.
async fn find(
    (bucket, url, env): (&Arc<Bucket>, &S3Url, &Env),
    profile: &Profile,
    store: &ProfileStore,
    req: &RestoreRequest,
) -> Result<Found> {
    let Some((pointer, _)) = snapshots::latest(bucket, &profile.name).await? else {
        return Err(Error::config(format!(
            "{} holds no snapshot of profile '{}'",
            bucket.describe(""),
            profile.name
        ))
        .hint("run acc snapshot with the same store first"));
    };
    if req.snapshot != "latest" && req.snapshot != pointer.label {
        let (label, dir) = store.resolve(&req.snapshot)?;
        return Ok(Found::Here { label, dir });
    }
    let cached = store.snapshot_dir(&pointer.label);
    if cached.is_dir() && Manifest::read(&cached).is_ok_and(|m| m.short_file_in(&cached).is_none())
    {
        return Ok(Found::Here {
            label: pointer.label,
            dir: cached,
        });
    }
    let manifest = checked_manifest(bucket, profile, &pointer).await?;
    let base = snapshots::prefix_of(&profile.name, &pointer);
    Ok(Found::Streamed {
        manifest,
        // a client of its own: its requests run on the bucket runtime's threads alone
        files: Files::Bucket(BucketDir::at(Bucket::open(url, &profile.s3, env)?), base),
    })
}

/// The manifest of the snapshot the pointer names: the one the pointer vouches for, signed by
/// an allowed signer when they are configured, and every file it lists in the bucket at its
/// size, nothing else beside them. Each file's SHA-256 is checked as it loads.
async fn checked_manifest(
    bucket: &Bucket,
    profile: &Profile,
    pointer: &snapshots::Pointer,
) -> Result<Manifest> {
    let (bytes, signature, present) =
        snapshots::pointed_manifest(bucket, &profile.name, pointer).await?;
    let base = snapshots::prefix_of(&profile.name, pointer);
    let where_ = bucket.describe(&base);
    let refused = |why: String| {
        Error::new(
            Kind::BadInput,
            format!(
                "snapshot {} in {where_} does not verify, so it was not restored: {why}",
                pointer.label
            ),
        )
        .hint("take a new snapshot; staging was not touched")
    };
    if let Some(signers) = profile.snapshot.allowed_signers.as_deref() {
        let Some(sig) = signature else {
            return Err(refused(
                "the manifest is not signed, and allowed signers are configured".into(),
            ));
        };
        signing::verify_detached(
            signers,
            manifest::FILE_NAME,
            &bytes,
            &sig,
            signing::NAMESPACE,
        )
        .map_err(|e| refused(e.message().to_string()))?;
    }
    let m = Manifest::parse(&bytes, Path::new(&where_))?;
    let mut sizes: BTreeMap<String, u64> = present.into_iter().collect();
    for f in m.files() {
        match sizes.remove(&f.name) {
            Some(size) if size == f.digest.size => {}
            Some(size) => {
                return Err(refused(format!(
                    "{} is {size} bytes, the manifest says {}",
                    f.name, f.digest.size
                )));
            }
            None => {
                return Err(Error::new(
                    Kind::Temporary,
                    format!(
                        "{} of snapshot {} is not in {where_}",
                        f.name, pointer.label
                    ),
                )
                .hint(
                    "it may have been pruned since the pointer was read; run the restore again",
                ));
            }
        }
    }
    sizes.remove(manifest::FILE_NAME);
    sizes.remove(manifest::SIGNATURE_FILE);
    if let Some(stranger) = sizes.keys().next() {
        return Err(refused(format!("{stranger} is not in the manifest")));
    }
    Ok(m)
}
