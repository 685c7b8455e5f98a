//! The rules that turn what acc sees into OK, WARNING or CRITICAL. Pure, so that each rule is
//! tested on its own; README lists them.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;

use super::facts::{Facts, Staging};
use crate::error::Failure;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Ok,
    Warning,
    Critical,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Ok => "OK",
            Severity::Warning => "WARNING",
            Severity::Critical => "CRITICAL",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub level: Severity,
    pub what: String,
}

/// A snapshot may start up to this long before its cutoff and still be that cutoff's data.
pub const EARLY_START: i64 = 15;
/// An export older than this is stale: a daily export plus two hours of slack.
pub const EXPORT_MAX_AGE_HOURS: i64 = 26;

/// What an operator reads about a load a cut-short restore kept.
pub fn kept_load(k: &crate::restore::Kept) -> String {
    format!(
        "a cut-short restore of snapshot {} left its load in {} ({} data files and {} tables' keys and indexes committed): the next acc restore of that snapshot resumes it, one of a newer snapshot drops it",
        k.label.as_deref().unwrap_or("?"),
        k.database,
        k.files,
        k.tables
    )
}

/// Whether staging holds the latest cutoff's data (or newer).
pub fn is_current(staging: &Staging, latest_cutoff: DateTime<Utc>) -> bool {
    staging.data_as_of >= latest_cutoff - Duration::minutes(EARLY_START)
}

/// Every rule of the verdict, in the order status prints them. Long on purpose: it is that
/// list, and a rule is easiest to check beside the others.
pub fn judge(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut say = |level, what: String| out.push(Finding { level, what });
    let frozen = matches!(&f.freeze, Ok(Some(_)));
    match &f.freeze {
        Ok(Some(z)) => say(
            Severity::Warning,
            format!(
                "the staging refresh is frozen since {}: {}",
                z.frozen_at.format("%Y-%m-%d %H:%M UTC"),
                z.reason
            ),
        ),
        Ok(None) => {}
        Err(e) => say(
            Severity::Warning,
            format!("the freeze state cannot be read: {e}"),
        ),
    }
    match &f.staging {
        Err(e) => say(Severity::Critical, format!("staging cannot be read: {e}")),
        Ok(None) => say(
            Severity::Critical,
            "staging has no acc.staging_info: it was never restored by acc".into(),
        ),
        Ok(Some(s)) => {
            if !s.read_only {
                say(Severity::Critical, "staging is not read-only".into());
            }
            if s.late {
                say(
                    Severity::Warning,
                    format!("the last restore ({}) finished after its deadline", s.label),
                );
            }
            let due = f.latest.deadline;
            if !frozen && !is_current(s, f.latest.cutoff) {
                let level = if f.now > due {
                    Severity::Critical
                } else {
                    Severity::Warning
                };
                let when = if f.now > due { "was due" } else { "is due" };
                say(
                    level,
                    format!(
                        "staging holds data as of {}; the cutoff of {} {when} by {}",
                        s.data_as_of.format("%Y-%m-%d %H:%M UTC"),
                        f.latest.business_date,
                        due.format("%Y-%m-%d %H:%M UTC")
                    ),
                );
            }
        }
    }
    // a restore loading now is no finding; a cut-short one's load holds a database's worth
    // of disk until the next run of its snapshot resumes it, or a newer one drops it
    if let Ok(Some(k)) = &f.incoming
        && !k.running
    {
        say(Severity::Warning, kept_load(k));
    }
    match &f.snapshot {
        Err(e) => say(
            Severity::Warning,
            format!("the snapshot store cannot be read: {e}"),
        ),
        Ok(None) => say(Severity::Warning, "there is no complete snapshot".into()),
        Ok(Some(x)) if !x.filtered_by_row_security.is_empty() => say(
            Severity::Warning,
            format!(
                "snapshot {} holds only the rows row-level security let acc see in {} (snapshot.enable_row_security)",
                x.label,
                x.filtered_by_row_security.join(", ")
            ),
        ),
        Ok(Some(_)) => {}
    }
    match &f.devices {
        None => {}
        Some(Err(e)) => say(
            Severity::Warning,
            format!("whose device missed visits cannot be read: {e}"),
        ),
        Some(Ok(d)) => {
            if let Some(max) = f.warn_stale_above
                && d.mismatch > max
            {
                say(
                    Severity::Warning,
                    format!(
                        "{} carers' devices missed visits of the next 24 hours (more than {max}): give them paper first (acc sheets --stale-only)",
                        d.mismatch
                    ),
                );
            }
        }
    }
    match &f.export {
        None => {}
        Some(Err(e)) => say(
            Severity::Critical,
            format!("the latest export cannot be read: {e}"),
        ),
        Some(Ok(None)) => say(Severity::Critical, "no export has been delivered".into()),
        Some(Ok(Some(x))) => {
            if x.delivered < x.total {
                say(
                    Severity::Critical,
                    format!(
                        "the export of {} delivered {} of {} dashboards",
                        x.date, x.delivered, x.total
                    ),
                );
            }
            if !x.carried.is_empty() {
                say(
                    Severity::Warning,
                    format!(
                        "the export of {} kept earlier files for {}: the last run did not renew them",
                        x.date,
                        x.carried.join(", ")
                    ),
                );
            }
            if f.now - x.finished_at > Duration::hours(EXPORT_MAX_AGE_HOURS) {
                say(
                    Severity::Critical,
                    format!(
                        "the latest export ({}) is more than {EXPORT_MAX_AGE_HOURS} hours old",
                        x.date
                    ),
                );
            }
        }
    }
    out
}

pub fn overall(findings: &[Finding]) -> Severity {
    findings
        .iter()
        .map(|f| f.level)
        .max()
        .unwrap_or(Severity::Ok)
}

/// Why staging is not ready for the care teams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotReady {
    Unreadable(Failure),
    NeverRestored,
    Writable,
    Stale {
        data_as_of: DateTime<Utc>,
        business_date: NaiveDate,
        cutoff: DateTime<Utc>,
    },
}

impl std::fmt::Display for NotReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotReady::Unreadable(e) => write!(f, "staging cannot be read: {e}"),
            NotReady::NeverRestored => f.write_str("staging was never restored by acc"),
            NotReady::Writable => f.write_str("staging is not read-only"),
            NotReady::Stale {
                data_as_of,
                business_date,
                cutoff,
            } => write!(
                f,
                "staging holds data as of {}, older than the cutoff of {business_date} ({})",
                data_as_of.format("%Y-%m-%d %H:%M UTC"),
                cutoff.format("%Y-%m-%d %H:%M UTC")
            ),
        }
    }
}

/// `Ok(())` when staging holds the latest cutoff's data and is read-only; else why not.
pub fn ready(f: &Facts) -> Result<(), NotReady> {
    match &f.staging {
        Err(e) => Err(NotReady::Unreadable(e.clone())),
        Ok(None) => Err(NotReady::NeverRestored),
        Ok(Some(s)) if !s.read_only => Err(NotReady::Writable),
        Ok(Some(s)) if !is_current(s, f.latest.cutoff) => Err(NotReady::Stale {
            data_as_of: s.data_as_of,
            business_date: f.latest.business_date,
            cutoff: f.latest.cutoff,
        }),
        Ok(Some(_)) => Ok(()),
    }
}

/// `Ok(())` when at most `max` carers have a sync mismatch in the next 24 hours; else why
/// not (more than that, or it cannot be told).
pub fn within_stale(f: &Facts, max: usize) -> Result<(), String> {
    match &f.devices {
        None => Err(
            "the profile does not track devices (add \"device-sync\" to export.extra_dashboards)"
                .into(),
        ),
        Some(Err(e)) => Err(format!("whose device missed visits cannot be read: {e}")),
        Some(Ok(d)) if d.mismatch > max => Err(format!(
            "{} carers' devices missed visits of the next 24 hours, more than {max}",
            d.mismatch
        )),
        Some(Ok(_)) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::status::facts::{CutoffTimes, ExportDay, Facts, Snapshot};

    fn facts(now: &str, data_as_of: &str) -> Facts {
        let t = |s: &str| {
            chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M")
                .unwrap()
                .and_utc()
        };
        Facts {
            profile: "p".into(),
            region: "us-can".into(),
            now: t(now),
            zones: vec![chrono_tz::America::Toronto],
            // the cutoff of 2026-11-21: 23:00 EST is 04:00 UTC, ready by 02:00 EST (07:00 UTC)
            latest: CutoffTimes {
                business_date: "2026-11-21".parse().unwrap(),
                cutoff: t("2026-11-22 04:00"),
                deadline: t("2026-11-22 07:00"),
            },
            next: CutoffTimes {
                business_date: "2026-11-22".parse().unwrap(),
                cutoff: t("2026-11-23 04:00"),
                deadline: t("2026-11-23 07:00"),
            },
            certificates: Vec::new(),
            devices: None,
            leases: None,
            incoming: Ok(None),
            warn_stale_above: None,
            snapshot: Ok(Some(Snapshot {
                label: "2026-11-21".into(),
                finished_at: t("2026-11-22 04:30"),
                bytes: 1,
                complete: true,
                filtered_by_row_security: Vec::new(),
            })),
            staging: Ok(Some(Staging {
                label: "2026-11-21".into(),
                data_as_of: t(data_as_of),
                restored_at: t("2026-11-22 05:00"),
                late: false,
                read_only: true,
            })),
            freeze: Ok(None),
            export: Some(Ok(Some(ExportDay {
                date: "2026-11-22".parse().unwrap(),
                finished_at: t("2026-11-22 05:30"),
                delivered: 9,
                total: 9,
                carried: Vec::new(),
            }))),
        }
    }

    #[test]
    fn sync_mismatches_warn_only_above_the_threshold_and_gate_max_stale() {
        let mut f = facts("2026-11-22 15:00", "2026-11-22 03:50");
        assert!(
            within_stale(&f, 5)
                .unwrap_err()
                .contains("does not track devices")
        );
        f.devices = Some(Ok(crate::status::facts::DeviceSync {
            window_start: f.now,
            window_end: f.now + Duration::hours(24),
            carers: 40,
            mismatch: 6,
            no_offline_mode: 3,
            mismatched: Vec::new(),
        }));
        assert_eq!(
            overall(&judge(&f)),
            Severity::Ok,
            "no threshold, no warning"
        );
        f.warn_stale_above = Some(6);
        assert_eq!(overall(&judge(&f)), Severity::Ok, "six is not above six");
        f.warn_stale_above = Some(5);
        assert_eq!(overall(&judge(&f)), Severity::Warning);
        assert!(judge(&f)[0].what.contains("6 carers"), "{:?}", judge(&f));
        assert!(within_stale(&f, 6).is_ok());
        assert!(within_stale(&f, 5).unwrap_err().contains("more than 5"));
    }

    #[test]
    fn a_fresh_night_is_ok_and_ready() {
        let f = facts("2026-11-22 15:00", "2026-11-22 03:50");
        assert_eq!(overall(&judge(&f)), Severity::Ok, "{:?}", judge(&f));
        assert!(ready(&f).is_ok());
    }

    #[test]
    fn stale_staging_is_a_warning_before_the_deadline_and_critical_after() {
        let before = facts("2026-11-22 06:00", "2026-11-21 04:00");
        assert_eq!(overall(&judge(&before)), Severity::Warning);
        assert!(
            ready(&before)
                .unwrap_err()
                .to_string()
                .contains("older than the cutoff of 2026-11-21")
        );
        let after = facts("2026-11-22 07:30", "2026-11-21 04:00");
        assert_eq!(overall(&judge(&after)), Severity::Critical);
    }

    #[test]
    fn a_kept_load_is_a_warning_and_one_being_loaded_is_not() {
        let mut f = facts("2026-11-22 15:00", "2026-11-22 03:50");
        let kept = crate::restore::Kept {
            database: "p__incoming".into(),
            running: false,
            label: Some("2026-11-22".into()),
            files: 3,
            tables: 1,
        };
        f.incoming = Ok(Some(kept.clone()));
        let findings = judge(&f);
        assert_eq!(overall(&findings), Severity::Warning, "{findings:?}");
        let said = format!("{findings:?}");
        assert!(
            said.contains("p__incoming") && said.contains("resumes it"),
            "{said}"
        );
        assert!(ready(&f).is_ok(), "staging itself is ready");
        f.incoming = Ok(Some(crate::restore::Kept {
            running: true,
            label: None,
            ..kept
        }));
        assert_eq!(overall(&judge(&f)), Severity::Ok);
    }

    #[test]
    fn a_freeze_keeps_stale_staging_a_warning_but_not_ready() {
        let mut f = facts("2026-11-22 15:00", "2026-11-21 04:00");
        f.freeze = Ok(Some(crate::restore::FreezeState {
            database: "p".into(),
            frozen_by: "ops".into(),
            frozen_at: f.now,
            reason: "production down".into(),
            auto_off_at: None,
        }));
        assert_eq!(overall(&judge(&f)), Severity::Warning, "{:?}", judge(&f));
        assert!(ready(&f).is_err());
    }

    #[test]
    fn writable_staging_and_an_old_or_incomplete_export_are_critical() {
        let mut f = facts("2026-11-22 15:00", "2026-11-22 03:50");
        if let Ok(Some(s)) = &mut f.staging {
            s.read_only = false;
        }
        assert_eq!(overall(&judge(&f)), Severity::Critical);
        assert!(ready(&f).is_err());
        let mut f = facts("2026-11-23 08:00", "2026-11-23 03:55");
        f.latest.cutoff = Utc.with_ymd_and_hms(2026, 11, 23, 4, 0, 0).unwrap();
        assert!(
            judge(&f)
                .iter()
                .any(|x| x.level == Severity::Critical && x.what.contains("26 hours")),
            "{:?}",
            judge(&f)
        );
        let mut f = facts("2026-11-22 15:00", "2026-11-22 03:50");
        if let Some(Ok(Some(x))) = &mut f.export {
            x.delivered = 8;
        }
        assert!(judge(&f).iter().any(|x| x.what.contains("8 of 9")));
        let mut f = facts("2026-11-22 15:00", "2026-11-22 03:50");
        if let Some(Ok(Some(x))) = &mut f.export {
            x.carried = vec!["vacant-visits".into()];
        }
        assert_eq!(
            overall(&judge(&f)),
            Severity::Warning,
            "a kept file is a warning: {:?}",
            judge(&f)
        );
    }
}
