//! Turning a wall-clock time in a zone into an instant, including on daylight-saving days.
//!
//! The rule, the same as RFC 5545 (iCalendar) and JavaScript Temporal's "compatible":
//! - a time that does not exist (it falls in a spring-forward gap) is read with the offset in
//!   force before the gap, so it lands as far past the gap's end as it was past its start:
//!   02:00 in Toronto on 2026-03-08 becomes 03:00 EDT, the instant 02:00 EST would have been;
//! - a time that occurs twice (fall-back overlap) is the earlier of the two, which for a
//!   deadline is the stricter reading.

use chrono::{DateTime, LocalResult, NaiveDateTime, Offset, TimeDelta, TimeZone};
use chrono_tz::Tz;

/// How a wall-clock time was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// The time exists once.
    Exact,
    /// The time does not exist that day; it was moved forward past the gap.
    Gap,
    /// The time occurs twice that day; the earlier one was taken.
    Overlap,
}

/// The instant a wall-clock time names in `zone`, and how it was read.
pub fn resolve(zone: Tz, wall: NaiveDateTime) -> (DateTime<Tz>, Reading) {
    match zone.from_local_datetime(&wall) {
        LocalResult::Single(t) => (t, Reading::Exact),
        LocalResult::Ambiguous(earlier, _) => (earlier, Reading::Overlap),
        LocalResult::None => {
            // No zone changes its offset twice within a day, so the offset a day earlier is
            // the one in force just before the gap.
            let before = zone
                .offset_from_utc_datetime(&(wall - TimeDelta::days(1)))
                .fix();
            let utc = wall - TimeDelta::seconds(i64::from(before.local_minus_utc()));
            (zone.from_utc_datetime(&utc), Reading::Gap)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use chrono_tz::{America::Toronto, Australia::Sydney};

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
    }

    #[test]
    fn spring_forward_gap_moves_past_the_gap() {
        // Toronto 2026-03-08: 02:00 EST -> 03:00 EDT
        let (t, how) = resolve(Toronto, at(2026, 3, 8, 2, 0));
        assert_eq!(how, Reading::Gap);
        assert_eq!(t.to_rfc3339(), "2026-03-08T03:00:00-04:00");
        let (t, how) = resolve(Toronto, at(2026, 3, 8, 2, 30));
        assert_eq!(how, Reading::Gap);
        assert_eq!(t.to_rfc3339(), "2026-03-08T03:30:00-04:00");
        // Sydney 2026-10-04: 02:00 AEST -> 03:00 AEDT
        let (t, how) = resolve(Sydney, at(2026, 10, 4, 2, 15));
        assert_eq!(how, Reading::Gap);
        assert_eq!(t.to_rfc3339(), "2026-10-04T03:15:00+11:00");
    }

    #[test]
    fn fall_back_overlap_takes_the_earlier_instant() {
        // Toronto 2026-11-01: 01:30 happens in EDT, then again in EST
        let (t, how) = resolve(Toronto, at(2026, 11, 1, 1, 30));
        assert_eq!(how, Reading::Overlap);
        assert_eq!(t.to_rfc3339(), "2026-11-01T01:30:00-04:00");
        // Sydney 2026-04-05: 02:30 happens in AEDT, then again in AEST
        let (t, how) = resolve(Sydney, at(2026, 4, 5, 2, 30));
        assert_eq!(how, Reading::Overlap);
        assert_eq!(t.to_rfc3339(), "2026-04-05T02:30:00+11:00");
    }

    #[test]
    fn the_edges_of_a_change_are_exact() {
        // the first instant after the gap, and the instant the overlap ends
        assert_eq!(resolve(Toronto, at(2026, 3, 8, 3, 0)).1, Reading::Exact);
        let (t, how) = resolve(Toronto, at(2026, 11, 1, 2, 0));
        assert_eq!(how, Reading::Exact);
        assert_eq!(t.to_rfc3339(), "2026-11-01T02:00:00-05:00");
    }
}
