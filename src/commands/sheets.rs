//! `acc sheets`: flags resolved against the profile, then one run of the library.

use serde_json::json;

use super::{block_on, destination};
use crate::cli::{SheetsArgs, SheetsSourceArg};
use crate::config::{Config, DashboardSource, Profile, RawProfile};
use crate::error::Result;
use crate::metrics::{Job, Run};
use crate::sheets::{Request, sheets};
use crate::ui::output;

pub fn run(args: &SheetsArgs, config: &Config, profile: Option<&str>) -> Result<()> {
    let overlay = RawProfile {
        export_to: args.to.clone(),
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
    let req = Request {
        date,
        days: args.days,
        source: match args.source {
            SheetsSourceArg::Staging => DashboardSource::Staging,
            SheetsSourceArg::Production => DashboardSource::Production,
        },
        to: destination(p, "--to")?,
        dirs: config.dirs().to_vec(),
    };
    let o = block_on(sheets(p, config.env(), &req))??;
    let m = &o.manifest;
    run.rows(m.dashboards.first().and_then(|d| d.rows).unwrap_or(0));
    run.bytes(m.dashboards.iter().filter_map(|d| d.size).sum());
    if args.json {
        return output::emit_json(&json!({
            "date": m.date,
            "days": args.days,
            "destination": o.destination,
            "source": m.source,
            "data_as_of": m.data_as_of,
            "sheets": m.dashboards.iter().map(|d| json!({"name": d.name, "rows": d.rows, "file": d.file})).collect::<Vec<_>>(),
        }));
    }
    let visits = m.dashboards.first().and_then(|d| d.rows).unwrap_or(0);
    output::emit(&format!(
        "sheets for {} ({} day(s)) of {}: {} visits, {} employees, to {}\n",
        m.date,
        args.days,
        m.profile,
        visits,
        m.dashboards.len().saturating_sub(1),
        o.destination
    ))
}
