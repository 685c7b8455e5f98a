//! The night as crontab lines under `CRON_TZ`: the chain on the snapshot's line, each
//! catch-up on its own, the same commands the systemd units run.

use std::fmt::Write as _;

use super::units::{Nightly, Setup, command};
use crate::config::Profile;

/// Equivalent crontab lines: the chain on the snapshot line, the catch-ups on their own.
pub fn crontab(p: &Profile, s: &Setup) -> String {
    let region = &p.region;
    let at = |job: Nightly| {
        let t = job.at(region);
        format!("{} {} * * *", t.format("%-M"), t.format("%-H"))
    };
    let mut c = String::new();
    let _ = writeln!(
        c,
        "# acc: profile {} ({}); times in {}",
        p.name,
        region.name,
        region.anchor.name()
    );
    let _ = writeln!(
        c,
        "# CRON_TZ needs cronie (or another cron that honours it); Debian's cron ignores it"
    );
    let _ = writeln!(c, "CRON_TZ={}", region.anchor.name());
    let _ = writeln!(
        c,
        "{} {} && {} && {}",
        at(Nightly::Snapshot),
        command(s, &p.name, Nightly::Snapshot),
        command(s, &p.name, Nightly::Restore),
        command(s, &p.name, Nightly::Export)
    );
    let _ = writeln!(
        c,
        "{} {}",
        at(Nightly::Restore),
        command(s, &p.name, Nightly::Restore)
    );
    let _ = writeln!(
        c,
        "{} {}",
        at(Nightly::Export),
        command(s, &p.name, Nightly::Export)
    );
    c
}
