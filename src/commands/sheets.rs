//! `acc sheets`: flags resolved against the profile, then one run of the library.

use std::collections::BTreeSet;

use clap::ValueEnum;
use serde_json::json;

use super::block_on;
use crate::cli::{SheetsArgs, SheetsSourceArg};
use crate::config::{Config, DashboardSource, Profile, RawProfile, RawSheets};
use crate::error::Result;
use crate::metrics::{Job, Run};
use crate::publish::{FileEntry, FileKind};
use crate::sheets::COMBINED;
use crate::sheets::{SheetsRequest, sheets};
use crate::ui::output;

pub fn run(args: &SheetsArgs, config: &Config, profile: Option<&str>) -> Result<()> {
    super::check_location_flag("--to", args.to.as_deref())?;
    let name = |v: Option<clap::builder::PossibleValue>| v.map(|v| v.get_name().to_string());
    let overlay = RawProfile {
        export_to: args.to.clone(),
        sheets: Some(RawSheets {
            format: name(args.format.and_then(|f| f.to_possible_value())),
            paper: name(args.paper.and_then(|p| p.to_possible_value())),
            language: None,
        }),
        ..RawProfile::default()
    };
    let p = config.profile(profile, overlay)?;
    super::measured(&p, Job::Sheets, |m| exec(args, config, &p, m))
}

fn exec(args: &SheetsArgs, config: &Config, p: &Profile, run: &mut Run) -> Result<()> {
    let date = args.date.unwrap_or_else(|| {
        chrono::Utc::now()
            .with_timezone(&p.region.local_zone())
            .date_naive()
    });
    let req = SheetsRequest {
        date,
        days: args.days,
        source: match args.source {
            SheetsSourceArg::Staging => DashboardSource::Staging,
            SheetsSourceArg::Production => DashboardSource::Production,
        },
        dirs: config.dirs().to_vec(),
        stale_only: args.stale_only,
    };
    let o = block_on(sheets(p, config.env(), &req))??;
    let m = &o.manifest;
    let combined = m.files.iter().find(|d| d.name == COMBINED);
    let visits = combined.and_then(|d| d.rows).unwrap_or(0);
    run.rows(visits);
    run.bytes(m.files.iter().filter_map(|d| d.size).sum());
    let kind = |d: &FileEntry| d.file.as_deref().and_then(FileKind::of).map(FileKind::name);
    if args.json {
        output::emit_json(&json!({
            "date": m.date,
            "version": o.version,
            "days": args.days,
            "destination": o.destination,
            "removed_days": o.removed_days,
            "source": m.source,
            "data_as_of": m.data_as_of,
            "paper": p.sheets.format.pdf().then(|| p.sheets.paper.name()),
            "stale_only": args.stale_only,
            "urgent": o.urgent.as_ref().map(|all| all.iter().map(|c| json!({
                "employee_number": c.number,
                "visits": c.visits,
                "changed_since_sync": c.changed,
                "last_sync": c.last_sync,
                "offline_mode": c.offline_mode,
            })).collect::<Vec<_>>()),
            "devices_unread": o.devices_unread,
            "urgent_without_sheet": o.urgent_without_sheet,
            "sheets": m.files.iter().map(|d| json!({
                "name": d.name,
                "format": kind(d),
                "rows": d.rows,
                "pages": d.pages,
                "file": d.file,
            })).collect::<Vec<_>>(),
        }))?;
        return missing(&o.urgent_without_sheet);
    }
    let employees: BTreeSet<&str> = m
        .files
        .iter()
        .map(|d| d.name.as_str())
        .filter(|n| *n != COMBINED)
        .collect();
    let printed = m
        .files
        .iter()
        .find(|d| d.name == COMBINED && kind(d) == Some("pdf"))
        .and_then(|d| d.pages)
        .map(|pages| format!(", {pages} printed pages ({})", p.sheets.paper.name()))
        .unwrap_or_default();
    let urgent = match &o.urgent {
        None => String::new(),
        Some(u) => format!(
            "{} carer(s) need paper first (device missed visits, or no offline mode){}\n",
            u.len(),
            if args.stale_only {
                ": only their sheets were made"
            } else {
                ""
            }
        ),
    };
    output::emit(&format!(
        "sheets for {} ({} day(s)) of {}: {} visits, {} employees{printed}, to {}\n{urgent}",
        m.date,
        args.days,
        m.profile,
        visits,
        employees.len(),
        o.destination
    ))?;
    missing(&o.urgent_without_sheet)
}

/// `--stale-only` published, but an urgent carer got no sheet: exit 3 naming them.
fn missing(without: &[String]) -> Result<()> {
    if without.is_empty() {
        return Ok(());
    }
    Err(crate::error::Error::new(
        crate::error::Kind::Partial,
        format!(
            "{} urgent carer(s) got no sheet: {}",
            without.len(),
            without.join(", ")
        ),
    )
    .hint("the sheet query gave none of their visits: does an override number employees as the device-sync dashboard does?"))
}
