//! `acc replay check|apply`: flags resolved, one run of the library, and the accounting.

use serde_json::json;

use super::block_on;
use crate::cli::{AmbiguousArg, PreferArg, ReplayAction, ReplayArgs, ReplayCheckArgs};
use crate::config::{Config, RawProfile};
use crate::error::{Error, Kind, Result};
use crate::metrics::Job;
use crate::replay::clock::Ambiguous;
use crate::replay::{ApplyOptions, ReplayReport, ReplayRequest, replay};
use crate::ui::output;

pub fn run(args: &ReplayArgs, config: &Config, profile: Option<&str>) -> Result<()> {
    let p = config.profile(profile, RawProfile::default())?;
    let (check, apply) = match &args.action {
        ReplayAction::Check(c) => (c, None),
        ReplayAction::Apply(a) => {
            if a.operator.trim().is_empty() {
                return Err(Error::usage("--operator needs a name"));
            }
            (
                &a.check,
                Some(ApplyOptions {
                    operator: a.operator.trim().to_string(),
                    dry_run: a.dry_run,
                    prefer_paper: a.prefer == Some(PreferArg::Paper),
                    out: a.out.clone(),
                }),
            )
        }
    };
    let applying = apply.is_some();
    let dry_run = apply.as_ref().is_some_and(|a| a.dry_run);
    let req = request(check, apply);
    if applying && !dry_run {
        return super::measured(&p, Job::ReplayApply, |m| {
            let report = block_on(replay(&p, config.env(), &req))??;
            m.rows(report.tally.applied);
            show(&report, check.json, applying, dry_run)
        });
    }
    let report = block_on(replay(&p, config.env(), &req))??;
    show(&report, check.json, applying, dry_run)
}

fn show(report: &ReplayReport, json: bool, applying: bool, dry_run: bool) -> Result<()> {
    if json {
        output::emit_json(&summary(report, applying))?;
    } else {
        output::emit(&text(report, applying, dry_run))?;
    }
    verdict(report, applying)
}

fn request(c: &ReplayCheckArgs, apply: Option<ApplyOptions>) -> ReplayRequest {
    ReplayRequest {
        files: c.files.clone(),
        ambiguous: match c.ambiguous {
            Some(AmbiguousArg::Earlier) => Ambiguous::Earlier,
            Some(AmbiguousArg::Later) => Ambiguous::Later,
            None => Ambiguous::Refuse,
        },
        identity: c.identity.clone(),
        require_entries: c.require_entries,
        apply,
    }
}

fn verdict(r: &ReplayReport, applying: bool) -> Result<()> {
    let t = &r.tally;
    if !applying {
        return match r.problems.len() {
            0 => Ok(()),
            n => Err(Error::new(
                Kind::BadInput,
                format!("{n} problem(s) in the batch; nothing was written"),
            )
            .hint("fix the lines named above and check again")),
        };
    }
    if r.refused_files > 0 {
        return Err(Error::new(
            Kind::BadInput,
            format!(
                "{} file(s) could not be read, so none of their lines were applied",
                r.refused_files
            ),
        )
        .hint("fix each file named above (its reason says how) and apply it again; lines already applied are recognised"));
    }
    if t.rejected + t.conflict > 0 {
        return Err(Error::new(
            Kind::Partial,
            format!("{} line(s) refused and {} in conflict were set aside", t.rejected, t.conflict),
        )
        .hint("decrypt the rejects and conflicts files (age -d -i IDENTITY FILE), fix or decide, and apply them again"));
    }
    Ok(())
}

fn summary(r: &ReplayReport, applying: bool) -> serde_json::Value {
    let t = &r.tally;
    json!({
        "batch": r.batch_id,
        "mode": if applying { "apply" } else { "check" },
        "total": t.total,
        "applied": t.applied,
        "duplicate": t.duplicate,
        "conflict": t.conflict,
        "rejected": t.rejected,
        "blank": t.blank,
        "problems": r.problems.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        "conflicts": r.conflicts.iter().map(|(at, why)| json!({"at": at, "why": why})).collect::<Vec<_>>(),
        "stale": r.stale.iter().map(|(at, why)| json!({"at": at, "why": why})).collect::<Vec<_>>(),
        "stale_unchecked": r.stale_unchecked,
        "changes": r.changes,
        "written": r.written,
    })
}

fn text(r: &ReplayReport, applying: bool, dry_run: bool) -> String {
    let mut s = String::new();
    for p in &r.problems {
        s.push_str(&format!("{p}\n"));
    }
    for (at, why) in &r.conflicts {
        s.push_str(&format!("{at}: conflict: {why}\n"));
    }
    for (at, why) in &r.stale {
        s.push_str(&format!("{at}: {why}\n"));
    }
    for c in &r.changes {
        s.push_str(&format!("{c}\n"));
    }
    let t = &r.tally;
    if applying {
        s.push_str(&format!(
            "batch {}{}: {} lines read = {} applied + {} already applied + {} conflict + {} rejected + {} blank\n",
            r.batch_id,
            if dry_run { " (dry run: nothing written)" } else { "" },
            t.total,
            t.applied,
            t.duplicate,
            t.conflict,
            t.rejected,
            t.blank
        ));
    } else {
        s.push_str(&format!(
            "batch {}: {} lines read, {} refused, {} blank\n",
            r.batch_id, t.total, t.rejected, t.blank
        ));
    }
    if let Some(why) = &r.stale_unchecked {
        s.push_str(&format!(
            "  no line was checked for a stale schedule: {why}\n"
        ));
    }
    if !r.stale.is_empty() {
        s.push_str(&format!(
            "  {} line(s) typed from a stale schedule (listed above): the carer's app missed a change to the visit; check each with them\n",
            r.stale.len()
        ));
    }
    for w in &r.written {
        s.push_str(&format!("  wrote {}\n", w.display()));
    }
    s
}
