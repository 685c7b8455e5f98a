//! A snapshot into an object store (`store = "s3://..."`): under the profile's snapshot
//! lease in the bucket, taken here into this host's cache as usual, then sent up and
//! published by moving the bucket's pointer; old ones pruned there too.

use chrono::{DateTime, Utc};

use super::take::{SnapshotReport, SnapshotRequest, take_here};
use crate::config::Profile;
use crate::env::Env;
use crate::error::Result;
use crate::location::S3Url;
use crate::objects::snapshots;

pub async fn take_shared(
    url: &S3Url,
    profile: &Profile,
    env: &Env,
    req: &SnapshotRequest,
    now: DateTime<Utc>,
) -> Result<SnapshotReport> {
    let (bucket, lease) = crate::objects::leased(url, profile, env, "snapshot").await?;
    let sent = async {
        let report = take_here(profile, env, req, now).await?;
        lease.check().await?;
        let run = format!(
            "{}-{}-{}",
            crate::host::file_part(),
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        );
        snapshots::push(&bucket, &profile.name, &report.label, &report.path, &run).await?;
        if let Some(keep) = profile.snapshot.keep {
            for dir in snapshots::prune(&bucket, &profile.name, keep).await? {
                crate::events::info(&format!(
                    "removed {} from the bucket",
                    bucket.describe(&dir)
                ));
            }
        }
        Ok(report)
    }
    .await;
    lease.release().await;
    sent
}
