//! Times written on paper, read in the region's local zone. A wall-clock time that does not
//! exist (the spring-forward gap) is refused; one that occurs twice (fall-back) is refused
//! unless it carries its UTC offset or the batch says which of the two it means.

use chrono::{
    DateTime, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
};
use chrono_tz::Tz;

/// A time as written, before the visit's day and the zone are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Carried its own offset (or `Z`): one exact instant.
    Exact(DateTime<Utc>),
    /// A local date and time.
    Local(NaiveDateTime),
    /// A local time of day: the visit's scheduled day supplies the date.
    TimeOfDay(NaiveTime),
}

/// Which of two identical wall-clock times a batch means, when the clocks fall back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ambiguous {
    Refuse,
    Earlier,
    Later,
}

/// Parses `YYYY-MM-DD HH:MM[:SS]` (or with `T`), optionally followed by `Z` or an offset
/// (`-05:00`, `-0500`, `-05`), or a bare `HH:MM[:SS]`.
pub fn parse(text: &str) -> Result<Written, String> {
    let t = text.trim();
    let bad =
        || format!("'{t}' is not a time: write 2026-11-22 08:05, 08:05, or 2026-11-22 08:05-05:00");
    if t.len() <= 8 {
        return time_of_day(t).map(Written::TimeOfDay).ok_or_else(bad);
    }
    if !t.is_ascii() {
        return Err(bad());
    }
    let t = t.replacen('T', " ", 1);
    if t.len() < 16 {
        return Err(bad());
    }
    let (minutes, mut zone) = t.split_at(16);
    let mut local = minutes.to_string();
    // seconds, if written, belong to the local part
    if zone.len() >= 3 && zone.starts_with(':') && zone[1..3].chars().all(|c| c.is_ascii_digit()) {
        local.push_str(&zone[..3]);
        zone = &zone[3..];
    }
    let date = NaiveDate::parse_from_str(&local[..10], "%Y-%m-%d").map_err(|_| bad())?;
    let time = time_of_day(local[10..].trim()).ok_or_else(bad)?;
    let naive = date.and_time(time);
    let zone = zone.trim();
    if zone.is_empty() {
        return Ok(Written::Local(naive));
    }
    let offset = offset(zone).ok_or_else(bad)?;
    offset
        .from_local_datetime(&naive)
        .single()
        .map(|t| Written::Exact(t.with_timezone(&Utc)))
        .ok_or_else(bad)
}

fn time_of_day(t: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(t, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(t, "%H:%M:%S"))
        .ok()
}

fn offset(z: &str) -> Option<FixedOffset> {
    if z == "Z" {
        return FixedOffset::east_opt(0);
    }
    let sign = match z.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = z[1..].chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (h, m) = match digits.len() {
        2 => (digits.parse::<i32>().ok()?, 0),
        4 => (
            digits[..2].parse::<i32>().ok()?,
            digits[2..].parse::<i32>().ok()?,
        ),
        _ => return None,
    };
    if h > 14 || m > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

/// The instant a written time means, in `zone`, on `day` when only a time of day was written.
pub fn resolve(
    w: Written,
    day: NaiveDate,
    zone: Tz,
    ambiguous: Ambiguous,
) -> Result<DateTime<Utc>, String> {
    let local = match w {
        Written::Exact(t) => return Ok(t),
        Written::Local(n) => n,
        Written::TimeOfDay(t) => day.and_time(t),
    };
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
        LocalResult::None => Err(format!(
            "{} does not exist in {zone}: the clocks sprang forward over it; check the time written",
            local.format("%Y-%m-%d %H:%M")
        )),
        LocalResult::Ambiguous(a, b) => match ambiguous {
            Ambiguous::Earlier => Ok(a.with_timezone(&Utc)),
            Ambiguous::Later => Ok(b.with_timezone(&Utc)),
            Ambiguous::Refuse => Err(format!(
                "{} occurs twice in {zone} (the clocks fell back): write it with its offset ({} or {}) or pass --ambiguous earlier|later",
                local.format("%Y-%m-%d %H:%M"),
                a.format("%H:%M%:z"),
                b.format("%H:%M%:z")
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America::Toronto, Australia::Sydney};

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn written_forms_parse() {
        assert_eq!(
            parse("08:05").unwrap(),
            Written::TimeOfDay(NaiveTime::from_hms_opt(8, 5, 0).unwrap())
        );
        assert!(matches!(
            parse("2026-11-22 08:05").unwrap(),
            Written::Local(_)
        ));
        assert!(matches!(
            parse("2026-11-22T08:05:30").unwrap(),
            Written::Local(_)
        ));
        let exact = |s: &str| match parse(s).unwrap() {
            Written::Exact(t) => t.to_rfc3339(),
            other => panic!("{other:?}"),
        };
        assert_eq!(exact("2026-11-01 01:30-04:00"), "2026-11-01T05:30:00+00:00");
        assert_eq!(
            exact("2026-11-01 01:30:15-0500"),
            "2026-11-01T06:30:15+00:00"
        );
        assert_eq!(exact("2026-11-01 06:30Z"), "2026-11-01T06:30:00+00:00");
        for bad in [
            "8h05",
            "25:00",
            "2026-13-01 08:00",
            "2026-11-22 08:05+99",
            "yesterday",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_spring_forward_gap_is_refused_in_both_regions() {
        let gap_us = resolve(
            parse("02:30").unwrap(),
            day("2026-03-08"),
            Toronto,
            Ambiguous::Earlier,
        );
        assert!(gap_us.unwrap_err().contains("does not exist"));
        let gap_au = resolve(
            parse("2026-10-04 02:30").unwrap(),
            day("2026-10-04"),
            Sydney,
            Ambiguous::Later,
        );
        assert!(gap_au.unwrap_err().contains("sprang forward"));
    }

    #[test]
    fn the_fall_back_hour_needs_an_offset_or_a_choice_in_both_regions() {
        let w = parse("01:30").unwrap();
        let err = resolve(w, day("2026-11-01"), Toronto, Ambiguous::Refuse).unwrap_err();
        assert!(
            err.contains("occurs twice")
                && err.contains("01:30-04:00")
                && err.contains("01:30-05:00"),
            "{err}"
        );
        let earlier = resolve(w, day("2026-11-01"), Toronto, Ambiguous::Earlier).unwrap();
        let later = resolve(w, day("2026-11-01"), Toronto, Ambiguous::Later).unwrap();
        assert_eq!(later - earlier, chrono::Duration::hours(1));
        assert_eq!(
            resolve(
                parse("2026-11-01 01:30-05:00").unwrap(),
                day("2026-11-01"),
                Toronto,
                Ambiguous::Refuse
            )
            .unwrap(),
            later
        );
        let au = parse("2026-04-05 02:30").unwrap();
        assert!(resolve(au, day("2026-04-05"), Sydney, Ambiguous::Refuse).is_err());
        let au_later = resolve(au, day("2026-04-05"), Sydney, Ambiguous::Later).unwrap();
        assert_eq!(au_later.to_rfc3339(), "2026-04-04T16:30:00+00:00");
    }
}
