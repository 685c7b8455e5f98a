//! `acc schedule`: each business date's cutoff and deadline, in every zone that matters.

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};

use crate::cli::ScheduleArgs;
use crate::config::{Config, RawProfile};
use crate::error::Result;
use crate::schedule::region::Region;
use crate::schedule::{Cutoff, Reading};
use crate::ui::output;

pub fn run(args: &ScheduleArgs, config: &Config, profile: Option<&str>) -> Result<()> {
    if args.systemd || args.cron {
        return timers(args, config, profile);
    }
    let region = match &args.region {
        Some(name) => config.regions().get(name)?.clone(),
        None => config.profile(profile, RawProfile::default())?.region,
    };
    let from = args
        .from
        .unwrap_or_else(|| Utc::now().with_timezone(&region.anchor).date_naive());
    let windows = Cutoff::series(&region, from, args.days);
    if args.json {
        output::emit_json(&Value::Array(
            windows.iter().map(|w| window_json(&region, w)).collect(),
        ))
    } else {
        output::emit(&table(&region, &windows))
    }
}

/// The anchor zone, the display zones, then UTC.
fn zones(region: &Region) -> Vec<Tz> {
    let mut zones = vec![region.anchor];
    zones.extend(
        region
            .display
            .iter()
            .copied()
            .filter(|z| *z != region.anchor && *z != Tz::UTC),
    );
    zones.push(Tz::UTC);
    zones
}

fn window_json(region: &Region, w: &Cutoff) -> Value {
    let zones: Vec<Value> = zones(region)
        .into_iter()
        .map(|z| {
            json!({
                "zone": z.name(),
                "cutoff": w.cutoff.with_timezone(&z).to_rfc3339(),
                "deadline": w.deadline.with_timezone(&z).to_rfc3339(),
            })
        })
        .collect();
    let mut adjustments = Vec::new();
    for (event, reading, at) in [
        ("cutoff", w.cutoff_reading, w.cutoff),
        ("deadline", w.deadline_reading, w.deadline),
    ] {
        if reading != Reading::Exact {
            adjustments.push(
                json!({ "event": event, "rule": rule_name(reading), "resolved": at.to_rfc3339() }),
            );
        }
    }
    json!({
        "business_date": w.business_date.to_string(),
        "region": region.name,
        "cutoff": w.cutoff.to_rfc3339(),
        "deadline": w.deadline.to_rfc3339(),
        "cutoff_utc": w.cutoff.with_timezone(&Utc).to_rfc3339(),
        "deadline_utc": w.deadline.with_timezone(&Utc).to_rfc3339(),
        "window_seconds": w.length().num_seconds(),
        "zones": zones,
        "adjustments": adjustments,
    })
}

fn rule_name(r: Reading) -> &'static str {
    match r {
        Reading::Exact => "exact",
        Reading::Gap => "gap-moved-forward",
        Reading::Overlap => "overlap-earlier",
    }
}

fn table(region: &Region, windows: &[Cutoff]) -> String {
    let zones = zones(region);
    let same_day = match region.deadline_day {
        0 => "the same day".to_string(),
        1 => "the next day".to_string(),
        n => format!("{n} days later"),
    };
    let mut out = format!(
        "region {}{}: cutoff {}, staging ready by {} {}, {} time\n\n",
        region.name,
        if region.description.is_empty() {
            String::new()
        } else {
            format!(" ({})", region.description)
        },
        region.cutoff.format("%H:%M"),
        region.deadline.format("%H:%M"),
        same_day,
        region.anchor.name(),
    );
    let mut header = format!("{:<14} {:<9}", "business date", "event");
    for z in &zones {
        header.push_str(&format!(" {:<22}", z.name()));
    }
    out.push_str(&header);
    out.push_str(" window\n");
    let mut notes = Vec::new();
    for w in windows {
        for (i, (event, at, reading)) in [
            ("cutoff", w.cutoff, w.cutoff_reading),
            ("deadline", w.deadline, w.deadline_reading),
        ]
        .into_iter()
        .enumerate()
        {
            let date = if i == 0 {
                w.business_date.to_string()
            } else {
                String::new()
            };
            let mut line = format!("{date:<14} {event:<9}");
            for z in &zones {
                line.push_str(&format!(" {:<22}", stamp(&at.with_timezone(z))));
            }
            if i == 0 {
                line.push_str(&format!(" {}", hours(w.length())));
            }
            out.push_str(line.trim_end());
            out.push('\n');
            if reading != Reading::Exact {
                notes.push(note(region, w, event, reading, at));
            }
        }
    }
    if !notes.is_empty() {
        out.push_str("\nnotes:\n");
        for n in notes {
            out.push_str(&format!("  {n}\n"));
        }
    }
    out
}

fn stamp(t: &DateTime<Tz>) -> String {
    t.format("%Y-%m-%d %H:%M %Z").to_string()
}

fn hours(d: TimeDelta) -> String {
    format!("{}h{:02}m", d.num_hours(), d.num_minutes() % 60)
}

fn note(region: &Region, w: &Cutoff, event: &str, reading: Reading, at: DateTime<Tz>) -> String {
    let wall = if event == "cutoff" {
        region.cutoff
    } else {
        region.deadline
    };
    let day = at.date_naive();
    let (happens, reading_rule) = match reading {
        Reading::Gap => ("does not exist", "(clocks spring forward); read as"),
        _ => ("occurs twice", "(clocks fall back); the earlier applies:"),
    };
    format!(
        "{} {event}: {} {happens} in {} on {day} {reading_rule} {}",
        w.business_date,
        wall.format("%H:%M"),
        region.anchor.name(),
        at.format("%H:%M %Z"),
    )
}

/// `--systemd` and `--cron`: the night's jobs for the profile.
fn timers(args: &ScheduleArgs, config: &Config, profile: Option<&str>) -> Result<()> {
    use crate::timers::crontab::crontab;
    use crate::timers::units::{Setup, install, template_units, units};
    let setup = Setup {
        acc: match &args.exec {
            Some(path) => path.clone(),
            None => std::env::current_exe().map_err(|e| {
                crate::error::Error::internal("cannot tell where acc is installed").source(e)
            })?,
        },
        config: config.explicit().map(std::path::Path::to_path_buf),
        user: args.user,
        credentials_dir: args.credentials_dir.clone(),
    };
    let units = if args.template {
        let names = match profile {
            Some(n) => vec![n.to_string()],
            None => config.profile_names(),
        };
        let profiles = names
            .iter()
            .map(|n| config.profile(Some(n), RawProfile::default()))
            .collect::<Result<Vec<_>>>()?;
        template_units(&profiles, &setup)?
    } else {
        let p = config.profile(profile, RawProfile::default())?;
        if args.cron {
            return output::emit(&crontab(&p, &setup));
        }
        units(&p, &setup)
    };
    match &args.install {
        Some(dir) => {
            let written = install(dir, &units)?;
            let timers: Vec<String> = units
                .iter()
                .filter(|(n, _)| n.ends_with(".timer"))
                .map(|(n, _)| n.clone())
                .collect();
            let ctl = if args.user {
                "systemctl --user"
            } else {
                "systemctl"
            };
            output::emit(&format!(
                "wrote {} units into {}
then: {ctl} daemon-reload && {ctl} enable --now {}
",
                written.len(),
                dir.display(),
                timers.join(" ")
            ))
        }
        None => output::emit(
            &units
                .iter()
                .map(|(name, text)| format!("### {name}\n{text}"))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
    }
}
