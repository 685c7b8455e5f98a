//! The life of one snapshot run: timing, the lock, the `.partial` directory, publishing and
//! pruning. What happens inside the snapshot is `capture`.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;

use chrono::{DateTime, Utc};

use super::capture::{Capture, Tap, capture};
use super::filter::TableFilter;
use super::timing;
use crate::config::Profile;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::events::info as log;
use crate::progress::Watch;
use crate::snapshot::manifest::Manifest;
use crate::store::{ProfileStore, RESTORE_LOCK, RunLock};

#[derive(Debug, Clone)]
pub struct SnapshotRequest {
    /// Run at once instead of at the cutoff (`--now`).
    pub on_demand: bool,
    /// Where the copy reports its progress.
    pub progress: Watch,
}

#[derive(Debug, Clone)]
pub struct SnapshotReport {
    pub label: String,
    pub path: PathBuf,
    /// The snapshot was already complete; nothing was taken.
    pub already_present: bool,
    pub manifest: Manifest,
    pub pruned: Vec<String>,
    pub removed_partials: Vec<String>,
}

/// Takes one snapshot of the profile's production database into its store.
pub async fn take(
    profile: &Profile,
    env: &Env,
    req: &SnapshotRequest,
    now: DateTime<Utc>,
) -> Result<SnapshotReport> {
    match &profile.object_store {
        Some(url) => super::shared::take_shared(url, profile, env, req, now).await,
        None => take_here(profile, env, req, now, None).await,
    }
}

/// The snapshot, into this host's store.
/// Takes the snapshot into this host's store; `tap` hears of each sealed file as it is
/// finished (to send it on while the rest is captured).
pub(super) async fn take_here(
    profile: &Profile,
    env: &Env,
    req: &SnapshotRequest,
    now: DateTime<Utc>,
    tap: Option<&Tap>,
) -> Result<SnapshotReport> {
    let plan = timing::plan(&profile.region, now, req.on_demand)?;
    let db = profile.production()?;
    let recipients = profile.age_recipients.required(&profile.name)?;
    let store = ProfileStore::open(&profile.store, &profile.name)?;
    let _lock = RunLock::acquire(
        &store.lock_path(),
        &format!("a snapshot of profile '{}'", profile.name),
    )?;
    let removed_partials = store.remove_stale_partials()?;
    for name in &removed_partials {
        log(&format!(
            "removed {name}, left by a run that did not finish"
        ));
    }
    let done = store.snapshot_dir(&plan.label);
    if done.exists() {
        let manifest = Manifest::read(&done)?;
        return Ok(SnapshotReport {
            label: plan.label,
            path: done,
            already_present: true,
            manifest,
            pruned: Vec::new(),
            removed_partials,
        });
    }
    if plan.wait > chrono::TimeDelta::zero() {
        log(&format!(
            "waiting {}s for the cutoff of {} at {}",
            plan.wait.num_seconds(),
            plan.label,
            plan.cutoff.map(|c| c.to_rfc3339()).unwrap_or_default()
        ));
        tokio::time::sleep(plan.wait.to_std().unwrap_or_default()).await;
    }
    let partial = store.partial_dir(&plan.label);
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&partial)
        .map_err(|e| Error::io(format!("cannot create {}", partial.display()), e))?;
    let job = Capture {
        profile,
        db,
        env,
        filter: TableFilter::of(&profile.snapshot),
        progress: &req.progress,
        plan: &plan,
        dir: &partial,
        recipients,
        tap: tap.cloned(),
    };
    let captured = capture(&job).await;
    let manifest = match captured {
        Ok(m) => m,
        Err(e) => {
            // nothing that looks like a snapshot may stay behind
            let _ = fs::remove_dir_all(&partial);
            return Err(e);
        }
    };
    let path = store.publish(&plan.label)?;
    let pruned = match profile.snapshot.keep {
        Some(keep) => prune(&store, keep, &profile.name)?,
        None => Vec::new(),
    };
    Ok(SnapshotReport {
        label: plan.label,
        path,
        already_present: false,
        manifest,
        pruned,
        removed_partials,
    })
}

/// Removes the profile's oldest snapshots beyond `keep` now (after a refresh's restore).
pub fn prune_kept(profile: &Profile, keep: usize) -> Result<Vec<String>> {
    let store = ProfileStore::open(&profile.store, &profile.name)?;
    let _lock = RunLock::acquire(
        &store.lock_path(),
        &format!("a snapshot of profile '{}'", profile.name),
    )?;
    prune(&store, keep, &profile.name)
}

/// Removes the oldest snapshots beyond `keep`, under the restore's lock: a restore reads its
/// snapshot's files until it ends, so while one runs nothing is pruned (the next snapshot
/// prunes instead).
fn prune(store: &ProfileStore, keep: usize, profile: &str) -> Result<Vec<String>> {
    let _lock = match store.run_lock(RESTORE_LOCK, &format!("a restore of profile '{profile}'")) {
        Ok(lock) => lock,
        Err(e) if e.kind() == crate::error::Kind::Temporary => {
            crate::events::warning(&format!(
                "old snapshots were not pruned: {}; the next snapshot prunes them",
                e.message()
            ));
            return Ok(Vec::new());
        }
        Err(e) => return Err(e),
    };
    store.prune(keep, |label| {
        Manifest::read(&store.snapshot_dir(label))
            .ok()
            .map(|m| m.started_at)
    })
}
