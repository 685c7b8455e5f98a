//! `acc status`: gathers each profile's facts, judges them, and reports.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::block_on;
use crate::cli::{Requirement, StatusArgs};
use crate::config::{Config, RawProfile};
use crate::error::{Error, Failure, Kind, Result};
use crate::status::{
    Facts, Finding, Severity, gather, judge, overall, prometheus, ready, within_stale,
};
use crate::ui::output;

/// `acc status`; with `--nagios`, one line and the plugin API's exit code, whatever happens.
pub fn run(args: &StatusArgs, config: &Config, profile: Option<&str>) -> Result<u8> {
    if !args.nagios {
        return report(args, config, profile).map(|()| crate::error::code::OK);
    }
    match gather_all(args, config, profile) {
        Ok(all) => {
            let (line, code) = nagios(&all);
            output::emit(&format!("{line}\n"))?;
            Ok(code)
        }
        Err(e) => unknown(&e),
    }
}

/// `ACC UNKNOWN - <why>`, exit 3: acc could not tell (bad config, unknown profile).
pub fn unknown(e: &Error) -> Result<u8> {
    output::emit(&format!("ACC UNKNOWN - {}\n", e.message()))?;
    Ok(NAGIOS_UNKNOWN)
}

/// The Nagios plugin API's codes (Icinga's too).
const NAGIOS_UNKNOWN: u8 = 3;

/// One line, `ACC <STATE> - <profile>: <worst finding>; ...`, and its exit code: 0 OK,
/// 1 WARNING, 2 CRITICAL. A profile whose facts could not be read at all is UNKNOWN.
fn nagios(all: &[(Facts, Vec<Finding>)]) -> (String, u8) {
    let worst = all
        .iter()
        .map(|(_, x)| overall(x))
        .max()
        .unwrap_or(Severity::Ok);
    let code = match worst {
        Severity::Ok => 0,
        Severity::Warning => 1,
        Severity::Critical => 2,
    };
    let parts: Vec<String> = all
        .iter()
        .map(|(f, x)| {
            let level = overall(x);
            match x
                .iter()
                .filter(|g| g.level == level && level != Severity::Ok)
                .map(|g| g.what.as_str())
                .next()
            {
                Some(what) => format!("{}: {what}", f.profile),
                None => format!("{}: ok", f.profile),
            }
        })
        .collect();
    let name = match worst {
        Severity::Ok => "OK",
        Severity::Warning => "WARNING",
        Severity::Critical => "CRITICAL",
    };
    // performance data: each tracked profile's count of carers with a sync mismatch
    let perf: Vec<String> = all
        .iter()
        .filter_map(|(f, _)| {
            let d = f.devices.as_ref()?.as_ref().ok()?;
            let warn = f
                .warn_stale_above
                .map(|w| w.to_string())
                .unwrap_or_default();
            Some(format!(
                "'{}_sync_mismatch_carers'={};{warn}",
                f.profile, d.mismatch
            ))
        })
        .collect();
    let perf = if perf.is_empty() {
        String::new()
    } else {
        format!(" | {}", perf.join(" "))
    };
    (format!("ACC {name} - {}{perf}", parts.join("; ")), code)
}

fn gather_all(
    args: &StatusArgs,
    config: &Config,
    profile: Option<&str>,
) -> Result<Vec<(Facts, Vec<Finding>)>> {
    let names: Vec<Option<String>> = if args.all {
        config.profile_names().into_iter().map(Some).collect()
    } else {
        vec![profile.map(str::to_string)]
    };
    let profiles = names
        .iter()
        .map(|n| config.profile(n.as_deref(), RawProfile::default()))
        .collect::<Result<Vec<_>>>()?;
    let now = Utc::now();
    let env = config.env();
    block_on(async {
        let mut out = Vec::new();
        for p in &profiles {
            let mut f = gather(p, env, config.dirs(), now).await;
            f.warn_stale_above = args.warn_stale;
            let findings = judge(&f);
            out.push((f, findings));
        }
        out
    })
}

fn report(args: &StatusArgs, config: &Config, profile: Option<&str>) -> Result<()> {
    let all = gather_all(args, config, profile)?;
    if let Some(path) = &args.prometheus {
        let text = prometheus::render(
            &all.iter()
                .map(|(f, x)| (f.clone(), overall(x)))
                .collect::<Vec<_>>(),
        );
        crate::metrics::text::write_atomic(path, &text)?;
    }
    if args.json {
        output::emit_json(&serde_json::Value::Array(
            all.iter().map(|(f, x)| to_json(f, x)).collect(),
        ))?;
    } else {
        output::emit(
            &all.iter()
                .map(|(f, x)| text(f, x))
                .collect::<Vec<_>>()
                .join("\n"),
        )?;
    }
    if !args.require.is_empty() {
        for r in &args.require {
            let failing: Vec<String> = all
                .iter()
                .filter_map(|(f, _)| {
                    let why = match r {
                        Requirement::Ready => ready(f).err().map(|w| w.to_string()),
                        Requirement::MaxStale(n) => within_stale(f, *n).err(),
                    };
                    why.map(|w| format!("{}: {w}", f.profile))
                })
                .collect();
            if failing.is_empty() {
                continue;
            }
            return Err(match r {
                Requirement::Ready => Error::new(Kind::Partial, format!("not ready: {}", failing.join("; ")))
                    .hint("restore staging (acc restore), or wait for tonight's refresh, before downtime begins"),
                Requirement::MaxStale(_) => Error::new(
                    Kind::Partial,
                    format!("too many carers would go out with the wrong schedule: {}", failing.join("; ")),
                )
                .hint("hand out their paper first (acc sheets --stale-only) and ask them to sync while the platform is up"),
            });
        }
        return Ok(());
    }
    let worst = all
        .iter()
        .map(|(_, x)| overall(x))
        .max()
        .unwrap_or(Severity::Ok);
    if worst == Severity::Critical {
        return Err(Error::new(Kind::Partial, "status is CRITICAL").hint("see the findings above"));
    }
    Ok(())
}

fn age(now: DateTime<Utc>, t: DateTime<Utc>) -> String {
    let s = now.signed_duration_since(t).num_seconds();
    match s {
        s if s < 0 => "in the future".into(),
        s if s < 3600 => format!("{} min ago", s / 60),
        s if s < 172_800 => format!("{:.1} h ago", s as f64 / 3600.0),
        s => format!("{} days ago", s / 86_400),
    }
}

fn local(f: &Facts, t: DateTime<Utc>) -> String {
    let z = f.zones[0];
    t.with_timezone(&z).format("%Y-%m-%d %H:%M %Z").to_string()
}

fn text(f: &Facts, findings: &[Finding]) -> String {
    let level = overall(findings);
    let mut s = format!("{} ({}): {}\n", f.profile, f.region, level.name());
    let now: Vec<String> = f
        .zones
        .iter()
        .map(|z| {
            let shown = f
                .now
                .with_timezone(z)
                .format("%Y-%m-%d %H:%M %Z")
                .to_string();
            if *z == chrono_tz::Tz::UTC {
                shown
            } else {
                format!("{shown} ({})", z.name())
            }
        })
        .collect();
    s.push_str(&format!("  now        {}\n", now.join(" | ")));
    s.push_str(&format!(
        "  cutoff     last {} (ready by {}); next {} (ready by {})\n",
        local(f, f.latest.cutoff),
        local(f, f.latest.deadline),
        local(f, f.next.cutoff),
        local(f, f.next.deadline)
    ));
    s.push_str(&match &f.snapshot {
        Ok(Some(x)) => format!(
            "  snapshot   {} finished {}, {:.1} MB, {}{}\n",
            x.label,
            age(f.now, x.finished_at),
            x.bytes as f64 / 1e6,
            if x.complete {
                "all files present (acc verify checks hashes)"
            } else {
                "FILES MISSING"
            },
            if x.filtered_by_row_security.is_empty() {
                String::new()
            } else {
                format!(
                    "; FILTERED by row-level security: {}",
                    x.filtered_by_row_security.join(", ")
                )
            }
        ),
        Ok(None) => "  snapshot   none\n".into(),
        Err(e) => unreadable("snapshot", e),
    });
    s.push_str(&match &f.staging {
        Ok(Some(x)) => format!(
            "  staging    {}: data as of {} ({}), restored {}{}, {}\n",
            x.label,
            local(f, x.data_as_of),
            age(f.now, x.data_as_of),
            age(f.now, x.restored_at),
            if x.late { " LATE" } else { "" },
            if x.read_only { "read-only" } else { "WRITABLE" }
        ),
        Ok(None) => "  staging    never restored by acc\n".into(),
        Err(e) => unreadable("staging", e),
    });
    match &f.incoming {
        Ok(Some(k)) if k.running => s.push_str(&format!(
            "  incoming   {}: a restore is loading it\n",
            k.database
        )),
        Ok(Some(k)) => s.push_str(&format!(
            "  incoming   {}: kept by a cut-short restore of {} ({} files, {} tables committed)\n",
            k.database,
            k.label.as_deref().unwrap_or("?"),
            k.files,
            k.tables
        )),
        Ok(None) | Err(_) => {}
    }
    s.push_str(&match &f.freeze {
        Ok(Some(z)) => format!(
            "  freeze     FROZEN by {} {}: {}\n",
            z.frozen_by,
            age(f.now, z.frozen_at),
            z.reason
        ),
        Ok(None) => "  freeze     not frozen\n".into(),
        Err(e) => unreadable("freeze", e),
    });
    s.push_str(&match &f.export {
        None => "  export     not configured\n".into(),
        Some(Ok(Some(x))) => format!(
            "  export     {}: {} of {} dashboards, {}\n",
            x.date,
            x.delivered,
            x.total,
            age(f.now, x.finished_at)
        ),
        Some(Ok(None)) => "  export     none delivered yet\n".into(),
        Some(Err(e)) => unreadable("export", e),
    });
    s.push_str(&match &f.leases {
        None => String::new(),
        Some(Ok(held)) if held.is_empty() => "  leases     none held\n".into(),
        Some(Ok(held)) => held
            .iter()
            .map(|(job, h)| {
                format!(
                    "  leases     {job} held by {} (pid {}) since {}, until {}\n",
                    h.host,
                    h.pid,
                    local(f, h.taken_at),
                    local(f, h.expires_at)
                )
            })
            .collect(),
        Some(Err(e)) => unreadable("leases", e),
    });
    s.push_str(&match &f.devices {
        None => String::new(),
        Some(Ok(d)) => format!(
            "  devices    {} of {} carers' devices missed visits of the next 24 hours (sync mismatch){}; {} without offline mode\n",
            d.mismatch,
            d.carers,
            match d.mismatched.len() {
                0 => String::new(),
                n if n <= 8 => format!(": {}", d.mismatched.join(", ")),
                n => format!(": {} and {} more", d.mismatched[..8].join(", "), n - 8),
            },
            d.no_offline_mode
        ),
        Some(Err(e)) => unreadable("devices", e),
    });
    for x in findings {
        s.push_str(&format!("  {:<9}  {}\n", x.level.name(), x.what));
    }
    s
}

/// A fact acc could not read, with the hint that says what to fix.
fn unreadable(what: &str, e: &Failure) -> String {
    let mut line = format!("  {what:<9}  unreadable: {e}\n");
    if let Some(hint) = &e.hint {
        line.push_str(&format!("             hint: {hint}\n"));
    }
    line
}

fn to_json(f: &Facts, findings: &[Finding]) -> serde_json::Value {
    let part = |r: &std::result::Result<serde_json::Value, Failure>| match r {
        Ok(v) => v.clone(),
        Err(e) => json!({ "error": e, "hint": e.hint }),
    };
    json!({
        "profile": f.profile,
        "region": f.region,
        "verdict": overall(findings).name(),
        "findings": findings,
        "now": f.zones.iter().map(|z| json!({"zone": z.name(), "time": f.now.with_timezone(z).to_rfc3339()})).collect::<Vec<_>>(),
        "latest_cutoff": f.latest,
        "next_cutoff": f.next,
        "snapshot": part(&f.snapshot.as_ref().map(|s| json!(s)).map_err(Clone::clone)),
        "staging": part(&f.staging.as_ref().map(|s| json!(s)).map_err(Clone::clone)),
        "incoming": part(&f.incoming.as_ref().map(|k| json!(k)).map_err(Clone::clone)),
        "ready": ready(f).is_ok(),
        "frozen": part(&f.freeze.as_ref().map(|z| json!(z)).map_err(Clone::clone)),
        "export": match &f.export {
            None => serde_json::Value::Null,
            Some(r) => part(&r.as_ref().map(|x| json!(x)).map_err(Clone::clone)),
        },
        "leases": match &f.leases {
            None => serde_json::Value::Null,
            Some(r) => part(&r.as_ref().map(|held| json!(held.iter().map(|(job, h)| json!({"job": job, "holder": h})).collect::<Vec<_>>())).map_err(Clone::clone)),
        },
        "sync_mismatch": match &f.devices {
            None => serde_json::Value::Null,
            Some(r) => part(&r.as_ref().map(|x| json!(x)).map_err(Clone::clone)),
        },
    })
}
