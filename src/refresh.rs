//! `acc refresh`: the snapshot and the restore as one pipeline in one process. The restore
//! follows the snapshot as it is taken (`restore::restore_following`): each table file loads
//! once it is sealed, and the swap waits for the signed manifest (with an object store, for
//! the bucket's pointer too). Old snapshots are pruned after the restore, which holds the
//! lock pruning needs while it runs; with an object store, the bucket's too.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};

use crate::config::Profile;
use crate::env::Env;
use crate::error::Result;
use crate::restore::{RestoreReport, RestoreRequest, Taker, followable, restore_following};
use crate::snapshot::{SnapshotReport, SnapshotRequest, take};

/// Takes the snapshot due at `now` and restores it into staging while it is taken. The
/// snapshot's error comes first: a restore that followed a failed snapshot fails with it.
pub async fn refresh(
    profile: &Profile,
    env: &Env,
    snap: &SnapshotRequest,
    restore: &RestoreRequest,
    now: DateTime<Utc>,
) -> Result<(SnapshotReport, RestoreReport)> {
    // refused before the snapshot starts, not beside it
    followable(profile)?;
    let label = crate::snapshot::plan(&profile.region, now, snap.on_demand)?.label;
    let mut taking_profile = profile.clone();
    taking_profile.snapshot.keep = None;
    let running = Arc::new(AtomicBool::new(true));
    let taking = async {
        let taken = take(&taking_profile, env, snap, now).await;
        running.store(false, Ordering::SeqCst);
        taken
    };
    let taker = Taker::Here(Arc::clone(&running));
    let restoring = restore_following(profile, env, restore, Some(label), taker);
    let (taken, restored) = tokio::join!(taking, restoring);
    // a snapshot that failed after it was published may already be in staging: say so
    // beside its error, which the exit code reports
    if let (Err(_), Ok(r)) = (&taken, &restored) {
        crate::events::info(&format!(
            "refresh: staging {} holds snapshot {}, published and checked before the snapshot run failed",
            r.database, r.label
        ));
    }
    let mut taken = taken?;
    let restored = restored?;
    if let Some(keep) = profile.snapshot.keep {
        taken.pruned = crate::snapshot::prune_kept(profile, keep)?;
        // staging is refreshed: a bucket not pruned now (its lease busy) is the next run's
        if let Some(url) = &profile.object_store
            && let Err(e) = crate::snapshot::prune_shared(url, profile, env, keep).await
        {
            crate::events::warning(&format!(
                "old snapshots were not pruned from the bucket: {}; the next snapshot prunes them",
                e.message()
            ));
        }
    }
    Ok((taken, restored))
}
