//! `acc export`: flags resolved against the profile, then one run of the library.

use serde_json::json;

use super::block_on;
use crate::cli::ExportArgs;
use crate::config::{Config, DashboardSource, RawProfile};
use crate::delivery::Location;
use crate::error::{Error, Kind, Result};
use crate::export::{ExportReport, Request, dashboard, export};
use crate::ui::output;
use crate::ui::progress::Mode;

pub fn run(args: &ExportArgs, config: &Config, profile: Option<&str>) -> Result<()> {
    let p = config.profile(profile, RawProfile::default())?;
    let to = args.to.clone().or_else(|| p.export_to.clone()).ok_or_else(|| {
        Error::config(format!("profile '{}' has no export_to", p.name))
            .hint("set export_to = \"sftp://user@host:port/path\" (or a directory) in the profile, or pass --to")
    })?;
    let req = Request {
        source: args
            .source
            .as_deref()
            .and_then(DashboardSource::parse)
            .unwrap_or_else(|| p.dashboard_source()),
        to: Location::parse(&to)?,
        only: dashboard::select(&args.only)?,
        keep_days: args.keep_days.or(p.export.keep_days),
        bom: args.bom || p.export.bom,
        dirs: config.dirs().to_vec(),
        progress: Mode::detect(),
    };
    let outcome = block_on(export(&p, config.env(), &req, p.export.days))??;
    if args.json {
        output::emit_json(&summary(&outcome))?;
    } else {
        output::emit(&text(&outcome))?;
    }
    let failed = outcome.failed();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::new(
            Kind::Partial,
            format!("{} of {} dashboards failed: {}", failed.len(), req.only.len(), failed.join(", ")),
        )
        .hint("the others were delivered and the manifest lists the failures; fix the query or source and run again"))
    }
}

fn summary(o: &ExportReport) -> serde_json::Value {
    let m = &o.manifest;
    json!({
        "profile": m.profile,
        "date": m.date,
        "destination": o.destination,
        "source": m.source,
        "data_as_of": m.data_as_of,
        "generated_at": m.generated_at,
        "finished_at": m.finished_at,
        "zone": m.zone,
        "delivered": m.delivered(),
        "dashboards": m.dashboards.iter().map(|d| json!({
            "name": d.name,
            "status": d.status,
            "rows": d.rows,
            "size": d.size,
            "sha256": d.sha256,
            "query": d.query,
            "error": d.error,
            "carried_from": d.carried_from,
        })).collect::<Vec<_>>(),
        "failed": o.failures,
        "carried": o.carried,
        "removed_days": o.removed_days,
        "removed_leftovers": o.removed_leftovers,
    })
}

fn text(o: &ExportReport) -> String {
    let m = &o.manifest;
    let mut s = format!(
        "export {} of {}: {} of {} dashboards from {} to {}\n",
        m.date,
        m.profile,
        m.delivered(),
        m.dashboards.len(),
        m.source,
        o.destination
    );
    if let Some(t) = m.data_as_of {
        s.push_str(&format!("  data as of {}\n", t.to_rfc3339()));
    }
    for d in &m.dashboards {
        match (d.ok(), d.rows) {
            (true, Some(rows)) if d.carried_from.is_some() => s.push_str(&format!(
                "  {:<24} {:>9} rows  kept from the run of {}\n",
                d.name,
                rows,
                d.carried_from
                    .map(|t| t.format("%H:%M UTC").to_string())
                    .unwrap_or_default()
            )),
            (true, Some(rows)) => s.push_str(&format!("  {:<24} {:>9} rows  ok\n", d.name, rows)),
            _ => s.push_str(&format!(
                "  {:<24} {:>9}       FAILED: {}\n",
                d.name,
                "-",
                d.error.as_deref().unwrap_or("?")
            )),
        }
    }
    if !o.removed_days.is_empty() {
        let days: Vec<String> = o.removed_days.iter().map(|d| d.to_string()).collect();
        s.push_str(&format!("  removed   {}\n", days.join(", ")));
    }
    s
}
