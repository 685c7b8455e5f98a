//! The night on a host's scheduler: systemd template units and timers per profile, or the
//! equivalent crontab lines, started at the region's times.

pub mod crontab;
pub mod units;
