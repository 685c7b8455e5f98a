//! The days a run is about: from the start of a day in the region's zone, for so many days.
//! Dashboards, day manifests and sheets share it.

use chrono::{DateTime, NaiveDate, Utc};

/// The day and time window the queries are about.
#[derive(Debug, Clone, Copy)]
pub struct Period {
    /// Today in the region's local zone.
    pub today: NaiveDate,
    /// The start of today in that zone.
    pub start: DateTime<Utc>,
    /// `start` plus the configured number of days.
    pub end: DateTime<Utc>,
}

impl Period {
    /// `day` in `zone`, from its midnight for `days` days. A zone whose clocks skip midnight
    /// starts the day at the first instant after the gap.
    pub fn from_day(day: NaiveDate, zone: chrono_tz::Tz, days: u32) -> Period {
        use chrono::{Duration, TimeZone};
        let midnight = |d: NaiveDate| {
            let local = d.and_hms_opt(0, 0, 0).expect("midnight exists");
            zone.from_local_datetime(&local)
                .earliest()
                .or_else(|| {
                    // an hour before midnight exists: the gap ends an hour after it
                    zone.from_local_datetime(&(local - Duration::hours(1)))
                        .earliest()
                        .map(|t| t + Duration::hours(1))
                })
                .expect("a gap is shorter than an hour")
                .with_timezone(&Utc)
        };
        Period {
            today: day,
            start: midnight(day),
            end: midnight(day + Duration::days(days.into())),
        }
    }
}
