//! The schedule across every daylight-saving change of 2026 in both regions' zones:
//! America/Toronto on 2026-03-08 and 2026-11-01, Australia/Sydney on 2026-04-05 and 2026-10-04.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use chrono_tz::Australia::Sydney;

use super::{Cutoff, Reading};
use crate::schedule::region::{Region, Regions};

fn region(name: &str) -> Region {
    Regions::load(&[]).unwrap().get(name).unwrap().clone()
}

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn utc(t: &DateTime<chrono_tz::Tz>) -> String {
    t.with_timezone(&Utc).format("%Y-%m-%dT%H:%MZ").to_string()
}

/// (business date, cutoff in the anchor zone, cutoff UTC, deadline in the anchor zone, deadline UTC, hours)
type Row = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    i64,
);

fn check(region_name: &str, rows: &[Row]) {
    let r = region(region_name);
    for &(d, cutoff, cutoff_utc, deadline, deadline_utc, hours) in rows {
        let w = Cutoff::of(&r, date(d));
        assert_eq!(w.cutoff.to_rfc3339(), cutoff, "{region_name} {d} cutoff");
        assert_eq!(utc(&w.cutoff), cutoff_utc, "{region_name} {d} cutoff UTC");
        assert_eq!(
            w.deadline.to_rfc3339(),
            deadline,
            "{region_name} {d} deadline"
        );
        assert_eq!(
            utc(&w.deadline),
            deadline_utc,
            "{region_name} {d} deadline UTC"
        );
        assert_eq!(
            w.length(),
            TimeDelta::hours(hours),
            "{region_name} {d} window length"
        );
    }
}

#[test]
fn us_can_across_toronto_spring_forward() {
    check(
        "us-can",
        &[
            (
                "2026-03-06",
                "2026-03-06T23:00:00-05:00",
                "2026-03-07T04:00Z",
                "2026-03-07T02:00:00-05:00",
                "2026-03-07T07:00Z",
                3,
            ),
            // the deadline, 02:00 on 2026-03-08, does not exist: it is read as 03:00 EDT
            (
                "2026-03-07",
                "2026-03-07T23:00:00-05:00",
                "2026-03-08T04:00Z",
                "2026-03-08T03:00:00-04:00",
                "2026-03-08T07:00Z",
                3,
            ),
            (
                "2026-03-08",
                "2026-03-08T23:00:00-04:00",
                "2026-03-09T03:00Z",
                "2026-03-09T02:00:00-04:00",
                "2026-03-09T06:00Z",
                3,
            ),
        ],
    );
    assert_eq!(
        Cutoff::of(&region("us-can"), date("2026-03-07")).deadline_reading,
        Reading::Gap
    );
}

#[test]
fn us_can_across_toronto_fall_back() {
    check(
        "us-can",
        &[
            // 23:00 EDT to 02:00 EST: the night is four real hours long
            (
                "2026-10-31",
                "2026-10-31T23:00:00-04:00",
                "2026-11-01T03:00Z",
                "2026-11-01T02:00:00-05:00",
                "2026-11-01T07:00Z",
                4,
            ),
            (
                "2026-11-01",
                "2026-11-01T23:00:00-05:00",
                "2026-11-02T04:00Z",
                "2026-11-02T02:00:00-05:00",
                "2026-11-02T07:00Z",
                3,
            ),
        ],
    );
    let w = Cutoff::of(&region("us-can"), date("2026-10-31"));
    assert_eq!(
        (w.cutoff_reading, w.deadline_reading),
        (Reading::Exact, Reading::Exact)
    );
}

#[test]
fn aus_int_across_toronto_changes() {
    check(
        "aus-int",
        &[
            (
                "2026-03-07",
                "2026-03-07T08:00:00-05:00",
                "2026-03-07T13:00Z",
                "2026-03-07T09:00:00-05:00",
                "2026-03-07T14:00Z",
                1,
            ),
            (
                "2026-03-08",
                "2026-03-08T08:00:00-04:00",
                "2026-03-08T12:00Z",
                "2026-03-08T09:00:00-04:00",
                "2026-03-08T13:00Z",
                1,
            ),
            (
                "2026-10-31",
                "2026-10-31T08:00:00-04:00",
                "2026-10-31T12:00Z",
                "2026-10-31T09:00:00-04:00",
                "2026-10-31T13:00Z",
                1,
            ),
            (
                "2026-11-01",
                "2026-11-01T08:00:00-05:00",
                "2026-11-01T13:00Z",
                "2026-11-01T09:00:00-05:00",
                "2026-11-01T14:00Z",
                1,
            ),
        ],
    );
}

#[test]
fn aus_int_shows_the_sydney_shift() {
    let r = region("aus-int");
    let sydney = |d: &str| {
        let w = Cutoff::of(&r, date(d));
        (
            w.cutoff.with_timezone(&Sydney).to_rfc3339(),
            w.deadline.with_timezone(&Sydney).to_rfc3339(),
        )
    };
    // Sydney leaves daylight saving on 2026-04-05 (AEDT +11 -> AEST +10)
    assert_eq!(
        sydney("2026-04-04"),
        (
            "2026-04-04T23:00:00+11:00".into(),
            "2026-04-05T00:00:00+11:00".into()
        )
    );
    assert_eq!(
        sydney("2026-04-05"),
        (
            "2026-04-05T22:00:00+10:00".into(),
            "2026-04-05T23:00:00+10:00".into()
        )
    );
    // and enters it on 2026-10-04 (AEST +10 -> AEDT +11)
    assert_eq!(
        sydney("2026-10-03"),
        (
            "2026-10-03T22:00:00+10:00".into(),
            "2026-10-03T23:00:00+10:00".into()
        )
    );
    assert_eq!(
        sydney("2026-10-04"),
        (
            "2026-10-04T23:00:00+11:00".into(),
            "2026-10-05T00:00:00+11:00".into()
        )
    );
    // after Toronto falls back, the Sydney cutoff crosses midnight
    assert_eq!(sydney("2026-11-01").0, "2026-11-02T00:00:00+11:00");
}

#[test]
fn series_covers_consecutive_dates() {
    let ws = Cutoff::series(&region("aus-int"), date("2026-10-03"), 3);
    let dates: Vec<String> = ws.iter().map(|w| w.business_date.to_string()).collect();
    assert_eq!(dates, ["2026-10-03", "2026-10-04", "2026-10-05"]);
}

#[test]
fn next_after_finds_the_coming_cutoff() {
    let r = region("us-can");
    let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
    // 22:50 Toronto on 2026-11-21 (03:50Z on the 22nd): tonight's cutoff
    assert_eq!(
        Cutoff::next_after(&r, at("2026-11-22T03:50:00Z")).business_date,
        date("2026-11-21")
    );
    // 23:10 Toronto: already past, so the next night
    assert_eq!(
        Cutoff::next_after(&r, at("2026-11-22T04:10:00Z")).business_date,
        date("2026-11-22")
    );
    // exactly at the cutoff counts as that cutoff
    assert_eq!(
        Cutoff::next_after(&r, at("2026-11-22T04:00:00Z")).business_date,
        date("2026-11-21")
    );
}
