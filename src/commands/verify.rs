//! `acc verify`: check a snapshot in the profile's store and report every problem.

use serde_json::json;

use crate::cli::VerifyArgs;
use crate::config::{Config, Profile, RawProfile};
use crate::crypt::Identities;
use crate::error::{Error, Kind, Result};
use crate::metrics::{Job, Run};
use crate::snapshot::{VerifyReport, verify};
use crate::store::ProfileStore;
use crate::ui::output;

pub fn run(args: &VerifyArgs, config: &Config, profile: Option<&str>) -> Result<()> {
    let p = config.profile(profile, RawProfile::default())?;
    super::measured(&p, Job::Verify, |m| exec(args, &p, m))
}

fn exec(args: &VerifyArgs, p: &Profile, m: &mut Run) -> Result<()> {
    let store = ProfileStore::existing(&p.store, &p.name)?;
    let (label, dir) = store.resolve(&args.label)?;
    let identities = args.identity.as_deref().map(Identities::load).transpose()?;
    let report = verify(
        &dir,
        p.snapshot.allowed_signers.as_deref(),
        identities.as_ref(),
        crate::config::one_per_core(),
        crate::snapshot::Depth::Hashes,
    );
    if let Some(manifest) = &report.manifest {
        m.rows(manifest.total_rows());
        m.bytes(manifest.total_size());
    }
    if args.json {
        output::emit_json(&summary(&label, &report))?;
    } else {
        output::emit(&text(&label, &report))?;
    }
    if report.ok() {
        Ok(())
    } else {
        Err(Error::new(
            Kind::BadInput,
            format!(
                "snapshot {label} failed verification: {} problem(s), listed above",
                report.failures.len()
            ),
        )
        .hint("do not restore it; take a new snapshot, or restore an older one that verifies"))
    }
}

fn summary(label: &str, r: &VerifyReport) -> serde_json::Value {
    json!({
        "label": label,
        "path": r.dir,
        "ok": r.ok(),
        "files_checked": r.files_checked,
        "contents_checked": r.contents_checked,
        "signed_by": r.signed_by,
        "rows": r.manifest.as_ref().map(|m| m.total_rows()),
        "failures": r.failures,
    })
}

fn text(label: &str, r: &VerifyReport) -> String {
    let mut s = format!(
        "snapshot {label}: {} ({} files checked{}{})\n",
        if r.ok() { "ok" } else { "FAILED" },
        r.files_checked,
        if r.contents_checked {
            ", contents and row counts"
        } else {
            ", sizes and sha256"
        },
        r.signed_by
            .as_ref()
            .map(|p| format!(", signed by {p}"))
            .unwrap_or_default()
    );
    for f in &r.failures {
        s.push_str(&format!("  failed: {f}\n"));
    }
    s
}
