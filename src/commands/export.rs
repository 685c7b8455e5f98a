//! `acc export`: flags resolved against the profile, then one run of the library.

use serde_json::json;

use super::block_on;
use crate::cli::{ExportArgs, SourceArg};
use crate::config::{Config, DashboardSource, Profile, RawExport, RawProfile};
use crate::error::{Error, Kind, Result};
use crate::export::{ExportReport, ExportRequest, dashboard, export};
use crate::metrics::{Job, Run};
use crate::ui::output;
use crate::ui::progress;

pub fn run(args: &ExportArgs, config: &Config, profile: Option<&str>) -> Result<()> {
    super::check_location_flag("--to", args.to.as_deref())?;
    let p = config.profile(profile, overlay(args))?;
    super::measured(&p, Job::Export, |m| exec(args, config, &p, m))
}

fn exec(args: &ExportArgs, config: &Config, p: &Profile, m: &mut Run) -> Result<()> {
    let req = ExportRequest {
        only: dashboard::select(
            &args.only,
            &dashboard::profile_set(&p.export.extra_dashboards)?,
        )?,
        dirs: config.dirs().to_vec(),
        progress: progress::watch("export"),
    };
    let outcome = block_on(export(p, config.env(), &req))??;
    let delivered = outcome.manifest.files.iter().filter(|d| d.ok());
    m.rows(delivered.clone().filter_map(|d| d.rows).sum());
    m.bytes(delivered.filter_map(|d| d.size).sum());
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

/// The flags as a profile layer, laid over the configuration last.
fn overlay(args: &ExportArgs) -> RawProfile {
    RawProfile {
        export_to: args.to.clone(),
        export: Some(RawExport {
            source: args.source.map(|s| {
                match s {
                    SourceArg::Snowflake => DashboardSource::Snowflake,
                    SourceArg::Staging => DashboardSource::Staging,
                    SourceArg::Production => DashboardSource::Production,
                }
                .name()
                .to_string()
            }),
            keep_days: args.keep_days,
            bom: args.bom(),
            spreadsheet_safe: args.spreadsheet_safe(),
            ..RawExport::default()
        }),
        ..RawProfile::default()
    }
}

fn summary(o: &ExportReport) -> serde_json::Value {
    let m = &o.manifest;
    json!({
        "profile": m.profile,
        "date": m.date,
        "version": o.version,
        "destination": o.destination,
        "source": m.source,
        "data_as_of": m.data_as_of,
        "generated_at": m.generated_at,
        "finished_at": m.finished_at,
        "zone": m.zone,
        "delivered": m.delivered(),
        "dashboards": m.files.iter().map(|d| json!({
            "name": d.name,
            "status": d.status,
            "rows": d.rows,
            "size": d.size,
            "file": d.file,
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
        m.files.len(),
        m.source,
        o.destination
    );
    if let Some(t) = m.data_as_of {
        s.push_str(&format!("  data as of {}\n", t.to_rfc3339()));
    }
    for d in &m.files {
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};
    use crate::env::Env;

    /// The profile `p` with `export.bom = true`, resolved under the flags `args`.
    fn bom_under(args: &[&str]) -> bool {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("acc.toml");
        std::fs::write(
            &file,
            "[profiles.p]\nregion = \"us-can\"\nexport_to = \"/tmp/x\"\n[profiles.p.export]\nbom = true\n",
        )
        .unwrap();
        let env = Env::from_pairs([
            ("ACC_SYSTEM_CONFIG_DIR", dir.path().to_str().unwrap()),
            ("XDG_CONFIG_HOME", dir.path().to_str().unwrap()),
        ]);
        let config = Config::load(env, Some(file)).unwrap();
        let cli = Cli::try_parse_from([&["acc", "export"], args].concat()).unwrap();
        let Command::Export(a) = cli.command else {
            unreachable!()
        };
        config.profile(None, overlay(&a)).unwrap().export.bom
    }

    #[test]
    fn no_bom_turns_off_a_bom_the_profile_turns_on() {
        assert!(bom_under(&[]));
        assert!(bom_under(&["--bom"]));
        assert!(!bom_under(&["--no-bom"]));
        assert!(
            bom_under(&["--no-bom", "--bom"]),
            "the last flag given wins"
        );
    }
}
