//! `acc refresh`: flags resolved against the profile, then one snapshot followed by its
//! restore.

use serde_json::json;

use super::block_on;
use crate::cli::RefreshArgs;
use crate::config::{Config, RawProfile, RawRestore, RawSnapshot};
use crate::error::Result;
use crate::metrics::Job;
use crate::refresh::refresh;
use crate::restore::RestoreRequest;
use crate::snapshot::SnapshotRequest;
use crate::ui::{output, progress};

pub fn run(args: &RefreshArgs, config: &Config, profile: Option<&str>) -> Result<()> {
    let jobs = args.jobs.map(usize::from);
    let overlay = RawProfile {
        snapshot: Some(RawSnapshot {
            jobs,
            ..RawSnapshot::default()
        }),
        restore: Some(RawRestore {
            jobs,
            ..RawRestore::default()
        }),
        ..RawProfile::default()
    };
    let p = config.profile(profile, overlay)?;
    super::measured(&p, Job::Restore, |m| {
        let snap = SnapshotRequest {
            on_demand: args.now,
            progress: progress::watch("snapshot"),
        };
        let req = RestoreRequest {
            snapshot: "latest".into(),
            force: false,
            target: None,
            from_profile: None,
            progress: progress::watch("restore"),
        };
        let (taken, restored) =
            block_on(refresh(&p, config.env(), &snap, &req, chrono::Utc::now()))??;
        m.rows(restored.rows);
        m.bytes(taken.manifest.total_size());
        if args.json {
            output::emit_json(&json!({ "snapshot": {
                "label": taken.label,
                "path": taken.path,
                "already_present": taken.already_present,
                "pruned": taken.pruned,
            }, "restore": restored }))?;
        } else {
            output::emit(&format!(
                "snapshot {} taken into {}\n",
                taken.label,
                taken.path.display()
            ))?;
            output::emit(&super::restore::text(&restored))?;
        }
        super::restore::late(&restored)
    })
}
