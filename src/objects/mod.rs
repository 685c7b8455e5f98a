//! The object store: S3-compatible buckets through Apache Arrow's `object_store`, so hosts
//! share snapshots and coordinate through the bucket alone. A bucket under a prefix
//! (`bucket`), its keys (`credentials`), snapshots published by pointer (`snapshots`) and
//! leases (`lease`).

pub mod bucket;
mod credentials;

pub use credentials::source as credentials_source;
pub mod lease;
pub mod snapshots;

pub use bucket::Bucket;
pub use lease::{Holder, Lease};

use std::sync::Arc;

use crate::config::Profile;
use crate::env::Env;
use crate::error::Result;
use crate::location::S3Url;

/// The bucket the profile's `s3://` store names, and the profile's lease for `job`
/// (`snapshot`, `restore`) taken there: a second run of the job on any host exits 75.
pub async fn leased(
    url: &S3Url,
    profile: &Profile,
    env: &Env,
    job: &str,
) -> Result<(Arc<Bucket>, Lease)> {
    let bucket = Arc::new(Bucket::open(url, &profile.s3, env)?);
    let lease = Lease::take(
        bucket.clone(),
        &snapshots::lease_key(&profile.name, job),
        &format!("a {job} of profile '{}'", profile.name),
        profile.s3.lease,
    )
    .await?;
    crate::failpoint::pause("objects:leased").await;
    Ok((bucket, lease))
}
