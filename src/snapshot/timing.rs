//! When a snapshot may start, and the label it gets: the regional cutoff rules.

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

use crate::error::{Error, Kind, Result};
use crate::schedule::Cutoff;
use crate::schedule::region::Region;

/// A timer may fire this long before the cutoff; the snapshot then waits for it.
pub const EARLY_START: TimeDelta = TimeDelta::minutes(15);

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The business date in the anchor zone, or `<date>-now-<hhmmss>` for an on-demand run.
    pub label: String,
    /// The scheduled cutoff this snapshot answers; `None` on demand.
    pub cutoff: Option<DateTime<Tz>>,
    /// How long to wait before taking the snapshot.
    pub wait: TimeDelta,
}

/// Decides when to take the snapshot. On demand it is now. Otherwise the next cutoff must be
/// at most 15 minutes away, or a cutoff must have passed with its deadline still ahead (a
/// persistent timer firing late); anything else is refused with exit 3.
pub fn plan(region: &Region, now: DateTime<Utc>, on_demand: bool) -> Result<Plan> {
    if on_demand {
        let local = now.with_timezone(&region.anchor);
        return Ok(Plan {
            label: format!(
                "{}-now-{}",
                local.format("%Y-%m-%d"),
                local.format("%H%M%S")
            ),
            cutoff: None,
            wait: TimeDelta::zero(),
        });
    }
    let next = Cutoff::next_after(region, now);
    let previous = Cutoff::of(
        region,
        next.business_date.pred_opt().expect("a date before"),
    );
    if previous.cutoff <= now && now < previous.deadline {
        return Ok(Plan {
            label: previous.business_date.to_string(),
            cutoff: Some(previous.cutoff),
            wait: TimeDelta::zero(),
        });
    }
    let wait = next.cutoff.signed_duration_since(now);
    if wait <= EARLY_START {
        return Ok(Plan {
            label: next.business_date.to_string(),
            cutoff: Some(next.cutoff),
            wait,
        });
    }
    let zone = region.anchor;
    Err(Error::new(
        Kind::Partial,
        format!(
            "skipped: the staging-ready deadline for {} passed at {}, and the next cutoff ({} at {}) is {} away",
            previous.business_date,
            previous.deadline.format("%Y-%m-%d %H:%M %Z"),
            next.business_date,
            next.cutoff.with_timezone(&zone).format("%Y-%m-%d %H:%M %Z"),
            human(wait),
        ),
    )
    .hint(format!(
        "a scheduled snapshot starts at most {} minutes before the cutoff (acc schedule lists them); use --now to take one at once",
        EARLY_START.num_minutes()
    )))
}

fn human(d: TimeDelta) -> String {
    let m = d.num_minutes();
    if m >= 60 {
        format!("{}h{:02}m", m / 60, m % 60)
    } else {
        format!("{m}m")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::region::Regions;
    use chrono::TimeZone;

    fn region(name: &str) -> Region {
        Regions::load(&[]).unwrap().get(name).unwrap().clone()
    }

    fn at(tz: Tz, s: &str) -> DateTime<Utc> {
        let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        tz.from_local_datetime(&naive).unwrap().with_timezone(&Utc)
    }

    const TORONTO: Tz = chrono_tz::America::Toronto;

    #[test]
    fn an_early_timer_waits_for_the_cutoff_and_labels_the_business_date() {
        let p = plan(&region("us-can"), at(TORONTO, "2026-11-21 22:50"), false).unwrap();
        assert_eq!(p.label, "2026-11-21");
        assert_eq!(p.wait, TimeDelta::minutes(10));
    }

    #[test]
    fn a_late_timer_runs_at_once_before_the_deadline() {
        let p = plan(&region("us-can"), at(TORONTO, "2026-11-22 01:30"), false).unwrap();
        assert_eq!(p.label, "2026-11-21");
        assert_eq!(p.wait, TimeDelta::zero());
    }

    #[test]
    fn too_early_or_past_the_deadline_is_skipped_with_exit_3() {
        for t in ["2026-11-21 22:30", "2026-11-22 02:00", "2026-11-22 12:00"] {
            let err = plan(&region("us-can"), at(TORONTO, t), false).unwrap_err();
            assert_eq!(err.exit_code(), 3, "{t}");
            assert!(err.message().contains("next cutoff"), "{}", err.message());
        }
    }

    #[test]
    fn the_aus_int_cutoff_is_eight_eastern_and_labels_the_anchor_date() {
        // 07:55 in Toronto is 23:55 in Sydney
        let p = plan(&region("aus-int"), at(TORONTO, "2026-11-22 07:55"), false).unwrap();
        assert_eq!(p.label, "2026-11-22");
        assert_eq!(p.wait, TimeDelta::minutes(5));
    }

    #[test]
    fn on_demand_runs_now_and_says_so_in_the_label() {
        let p = plan(&region("us-can"), at(TORONTO, "2026-11-22 14:03"), true).unwrap();
        assert_eq!(p.label, "2026-11-22-now-140300");
        assert_eq!(p.cutoff, None);
    }
}
