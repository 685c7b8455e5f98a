//! A business date's window: the snapshot cutoff and the staging-ready deadline.

use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;

use super::wall_clock::{Reading, resolve};
use crate::schedule::region::Region;

/// One business date of a region: when production is captured and when staging must be ready.
#[derive(Debug, Clone, PartialEq)]
pub struct Cutoff {
    /// The date in the anchor zone on which production is captured; it labels the snapshot.
    pub business_date: NaiveDate,
    pub cutoff: DateTime<Tz>,
    pub cutoff_reading: Reading,
    pub deadline: DateTime<Tz>,
    pub deadline_reading: Reading,
}

impl Cutoff {
    /// The window of `date` in `region`.
    pub fn of(region: &Region, date: NaiveDate) -> Cutoff {
        let (cutoff, cutoff_reading) = resolve(region.anchor, date.and_time(region.cutoff));
        let deadline_date = date + Days::new(u64::from(region.deadline_day));
        let (deadline, deadline_reading) =
            resolve(region.anchor, deadline_date.and_time(region.deadline));
        Cutoff {
            business_date: date,
            cutoff,
            cutoff_reading,
            deadline,
            deadline_reading,
        }
    }

    /// `days` consecutive windows starting with `from`.
    pub fn series(region: &Region, from: NaiveDate, days: u32) -> Vec<Cutoff> {
        from.iter_days()
            .take(days as usize)
            .map(|d| Cutoff::of(region, d))
            .collect()
    }

    /// The first window whose cutoff is at or after `now`.
    pub fn next_after(region: &Region, now: DateTime<Utc>) -> Cutoff {
        let today = now.with_timezone(&region.anchor).date_naive();
        today
            .pred_opt()
            .unwrap_or(today)
            .iter_days()
            .map(|d| Cutoff::of(region, d))
            .find(|w| w.cutoff >= now)
            .expect("a later cutoff always exists")
    }

    /// Real time between cutoff and deadline; it changes on daylight-saving nights.
    pub fn length(&self) -> TimeDelta {
        self.deadline.signed_duration_since(self.cutoff)
    }
}
