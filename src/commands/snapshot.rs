//! `acc snapshot`: flags resolved against the profile, then one run of the library.

use serde_json::json;

use super::block_on;
use crate::cli::SnapshotArgs;
use crate::config::{Config, Profile, RawProfile, RawSnapshot};
use crate::error::Result;
use crate::metrics::{Job, Run};
use crate::snapshot::{SnapshotReport, SnapshotRequest, take};
use crate::ui::output;
use crate::ui::progress;

pub fn run(args: &SnapshotArgs, config: &Config, profile: Option<&str>) -> Result<()> {
    let p = config.profile(profile, overlay(args))?;
    super::measured(&p, Job::Snapshot, |m| exec(args, config, &p, m))
}

fn exec(args: &SnapshotArgs, config: &Config, p: &Profile, m: &mut Run) -> Result<()> {
    let req = SnapshotRequest {
        on_demand: args.now,
        progress: progress::watch("snapshot"),
    };
    let outcome = block_on(take(p, config.env(), &req, chrono::Utc::now()))??;
    m.rows(outcome.manifest.total_rows());
    m.bytes(outcome.manifest.total_size());
    if args.json {
        output::emit_json(&summary(&outcome))
    } else {
        output::emit(&text(&outcome))
    }
}

/// The flags as a profile layer, laid over the configuration last.
fn overlay(args: &SnapshotArgs) -> RawProfile {
    RawProfile {
        snapshot: Some(RawSnapshot {
            jobs: args.jobs.map(usize::from),
            keep: args.keep.map(|k| k as usize),
            only_schemas: (!args.only_schema.is_empty()).then(|| args.only_schema.clone()),
            // adds to the profile's list, as its help says
            also_exclude_tables: (!args.exclude_table.is_empty())
                .then(|| args.exclude_table.clone()),
            ..RawSnapshot::default()
        }),
        ..RawProfile::default()
    }
}

fn summary(o: &SnapshotReport) -> serde_json::Value {
    let m = &o.manifest;
    json!({
        "label": o.label,
        "path": o.path,
        "already_present": o.already_present,
        "profile": m.profile,
        "cutoff": m.cutoff,
        "started_at": m.started_at,
        "finished_at": m.finished_at,
        "wal_lsn": m.wal_lsn,
        "tables": m.tables.len(),
        "rows": m.total_rows(),
        "bytes": m.total_size(),
        "plaintext_bytes": m.tables.iter().map(|t| t.plaintext_bytes).sum::<u64>(),
        "excluded": m.excluded,
        "pruned": o.pruned,
        "removed_partials": o.removed_partials,
    })
}

fn text(o: &SnapshotReport) -> String {
    let m = &o.manifest;
    let mut s = if o.already_present {
        format!(
            "snapshot {} of {} was already complete; nothing taken\n",
            o.label, m.profile
        )
    } else {
        format!(
            "snapshot {} of {}: {} tables, {} rows, {} encrypted\n",
            o.label,
            m.profile,
            m.tables.len(),
            m.total_rows(),
            crate::ui::units::size(m.total_size())
        )
    };
    s.push_str(&format!("  path      {}\n", o.path.display()));
    s.push_str(&format!(
        "  as of     {} (WAL {})\n",
        m.started_at.to_rfc3339(),
        m.wal_lsn
    ));
    if !m.excluded.is_empty() {
        let names: Vec<String> = m
            .excluded
            .iter()
            .map(|t| format!("{}.{}", t.schema, t.name))
            .collect();
        s.push_str(&format!("  left out  {}\n", names.join(", ")));
    }
    if !o.pruned.is_empty() {
        s.push_str(&format!("  pruned    {}\n", o.pruned.join(", ")));
    }
    s
}
