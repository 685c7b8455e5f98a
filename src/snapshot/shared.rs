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
        let as_of = report.manifest.started_at.with_timezone(&Utc);
        if snapshots::current(&bucket, &profile.name, as_of).await? {
            return Ok(report);
        }
        lease.check().await?;
        let run = format!(
            "{}-{}-{}",
            crate::host::file_part(),
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        );
        let pointer = snapshots::send(
            &bucket,
            &profile.name,
            (&report.label, as_of),
            &report.path,
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
            // published either way: a failed prune is the next run's to finish
            match snapshots::prune(&bucket, &profile.name, keep).await {
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
        Ok(report)
    }
    .await;
    lease.release().await;
    sent
}
