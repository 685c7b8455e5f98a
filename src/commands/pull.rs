//! `acc pull`: flags resolved against the profile, then one blocking run of the library.

use serde_json::json;

use crate::cli::PullArgs;
use crate::config::{Config, RawProfile};
use crate::error::{Error, Kind, Result};
use crate::pull::{PullReport, PullRequest, PullStatus, pull};
use crate::ui::output;

pub fn run(args: &PullArgs, config: &Config, profile: Option<&str>) -> Result<()> {
    super::check_location_flag("--from", args.from.as_deref())?;
    let overlay = RawProfile {
        export_to: args.from.clone(),
        ..RawProfile::default()
    };
    let p = config.profile(profile, overlay)?;
    let date = match args.date.as_str() {
        "latest" => None,
        d => Some(
            chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map_err(|_| Error::usage(format!("--date '{d}' is not YYYY-MM-DD or latest")))?,
        ),
    };
    let req = PullRequest {
        date,
        identity: args.identity.clone(),
        out: args.out.clone(),
        keep_encrypted: args.keep_encrypted,
    };
    let outcome = pull(&p, config.env(), &req)?;
    if args.json {
        output::emit_json(&summary(&outcome, &req))?;
    } else {
        output::emit(&table(&outcome))?;
    }
    verdict(&outcome)
}

fn verdict(o: &PullReport) -> Result<()> {
    let bad: Vec<&str> = o
        .dashboards
        .iter()
        .filter_map(|d| {
            d.problem
                .as_deref()
                .filter(|_| d.status == PullStatus::Mismatch)
        })
        .collect();
    if !bad.is_empty() {
        return Err(Error::new(Kind::BadInput, format!("{} file(s) failed verification: {}", bad.len(), bad.join("; ")))
            .hint("those files were not kept; the export may have been tampered with or damaged in transit: run acc pull again, or export again"));
    }
    let failed: Vec<&str> = o
        .dashboards
        .iter()
        .filter(|d| d.status != PullStatus::Ok)
        .map(|d| d.name.as_str())
        .collect();
    if !failed.is_empty() {
        return Err(Error::new(
            Kind::Partial,
            format!(
                "the export of {} lacks {}",
                o.manifest.date,
                failed.join(", ")
            ),
        )
        .hint("those dashboards failed when exported; see the manifest's errors"));
    }
    Ok(())
}

fn summary(o: &PullReport, req: &PullRequest) -> serde_json::Value {
    json!({
        "profile": o.manifest.profile,
        "date": o.manifest.date,
        "source": o.source,
        "out": req.out,
        "data_as_of": o.manifest.data_as_of,
        "signed_by": o.signed_by,
        "encrypted": req.keep_encrypted,
        "dashboards": o.dashboards,
    })
}

fn table(o: &PullReport) -> String {
    let mut s = format!("pulled {} of {}", o.manifest.date, o.manifest.profile);
    if let Some(who) = &o.signed_by {
        s.push_str(&format!(", signed by {who}"));
    }
    s.push('\n');
    s.push_str(&format!(
        "  {:<24} {:>9}  {}\n",
        "DASHBOARD", "ROWS", "STATUS"
    ));
    for d in &o.dashboards {
        let rows = d.rows.map_or_else(|| "-".to_string(), |r| r.to_string());
        s.push_str(&format!(
            "  {:<24} {:>9}  {}\n",
            d.name,
            rows,
            d.status.name()
        ));
    }
    s
}
