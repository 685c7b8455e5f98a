//! Each job's own node_exporter textfile, written as the job ends, whether it succeeded or
//! not: `acc_<job>-<profile>.prom` in `metrics.textfile_dir`. A failure updates the failure
//! time and the exit code and keeps the last success time, read back from the file before.

use std::path::PathBuf;
use std::time::Instant;

use chrono::{DateTime, Utc};

use super::text::{Family, render, write_atomic};
use crate::config::Profile;

/// The jobs that leave a textfile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    Snapshot,
    Restore,
    Export,
    Sheets,
    ReplayApply,
    Verify,
}

impl Job {
    pub fn name(self) -> &'static str {
        match self {
            Job::Snapshot => "snapshot",
            Job::Restore => "restore",
            Job::Export => "export",
            Job::Sheets => "sheets",
            Job::ReplayApply => "replay_apply",
            Job::Verify => "verify",
        }
    }
}

/// One run of a job being measured.
pub struct Run {
    job: Job,
    profile: String,
    dir: Option<PathBuf>,
    started: Instant,
    rows: Option<u64>,
    bytes: Option<u64>,
}

impl Run {
    pub fn start(job: Job, profile: &Profile) -> Run {
        Run {
            job,
            profile: profile.name.clone(),
            dir: profile.metrics_dir.clone(),
            started: Instant::now(),
            rows: None,
            bytes: None,
        }
    }

    /// Rows the job moved (captured, loaded, exported, applied, checked).
    pub fn rows(&mut self, n: u64) {
        self.rows = Some(n);
    }

    /// Bytes it wrote or read, encrypted.
    pub fn bytes(&mut self, n: u64) {
        self.bytes = Some(n);
    }

    /// Writes the textfile; a textfile that cannot be written is a warning, never the job's
    /// failure.
    pub fn finish(self, exit_code: u8) {
        let Some(dir) = &self.dir else { return };
        let path = dir.join(file_name(self.job, &self.profile));
        let before = std::fs::read_to_string(&path).unwrap_or_default();
        let text = textfile(&self, exit_code, Utc::now(), &before);
        if let Err(e) = write_atomic(&path, &text) {
            crate::events::warning(&format!("metrics not written: {}", e.one_line()));
        }
    }
}

/// `acc_<job>-<profile>.prom`, the profile name reduced to characters safe in a file name.
fn file_name(job: Job, profile: &str) -> String {
    let safe: String = profile
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("acc_{}-{safe}.prom", job.name())
}

fn textfile(run: &Run, exit_code: u8, now: DateTime<Utc>, before: &str) -> String {
    let job = run.job.name();
    let name = |what: &str| format!("acc_{job}_{what}");
    let now = now.timestamp() as f64;
    let (mut success, mut failure) = (
        previous(before, &name("last_success_timestamp_seconds")),
        previous(before, &name("last_failure_timestamp_seconds")),
    );
    match exit_code {
        0 => success = Some(now),
        _ => failure = Some(now),
    }
    let p = [("profile", run.profile.as_str())];
    let with = |f: Family, v: Option<f64>| match v {
        Some(v) => f.sample(&p, v),
        None => f,
    };
    let version = env!("CARGO_PKG_VERSION");
    render(&[
        with(
            Family::gauge(
                name("last_success_timestamp_seconds"),
                format!("When acc {job} last succeeded, Unix time"),
            ),
            success,
        ),
        with(
            Family::gauge(
                name("last_failure_timestamp_seconds"),
                format!("When acc {job} last failed, Unix time"),
            ),
            failure,
        ),
        with(
            Family::gauge(
                name("duration_seconds"),
                format!("How long the last acc {job} took"),
            ),
            Some(run.started.elapsed().as_secs_f64()),
        ),
        with(
            Family::gauge(
                name("last_exit_code"),
                format!("The exit code of the last acc {job} (0 is success)"),
            ),
            Some(f64::from(exit_code)),
        ),
        with(
            Family::gauge(name("rows"), format!("Rows the last acc {job} moved")),
            run.rows.map(|n| n as f64),
        ),
        with(
            Family::gauge(
                name("bytes"),
                format!("Bytes the last acc {job} wrote or read"),
            ),
            run.bytes.map(|n| n as f64),
        ),
        Family::gauge(
            "acc_build_info",
            "The acc release that wrote this file; always 1",
        )
        .sample(
            &[
                ("profile", run.profile.as_str()),
                ("command", job),
                ("version", version),
            ],
            1.0,
        ),
    ])
}

/// The value of `metric` in a textfile acc wrote before.
fn previous(text: &str, metric: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(metric) && l[metric.len()..].starts_with('{'))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(job: Job) -> Run {
        Run {
            job,
            profile: "demo-us".into(),
            dir: None,
            started: Instant::now(),
            rows: Some(10),
            bytes: None,
        }
    }

    #[test]
    fn a_failure_keeps_the_last_success_and_a_success_the_last_failure() {
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let t1 = DateTime::from_timestamp(1_700_086_400, 0).unwrap();
        let ok = textfile(&run(Job::Export), 0, t0, "");
        assert!(ok.contains(
            "acc_export_last_success_timestamp_seconds{profile=\"demo-us\"} 1700000000\n"
        ));
        assert!(!ok.contains("acc_export_last_failure_timestamp_seconds{"));
        let failed = textfile(&run(Job::Export), 75, t1, &ok);
        assert!(failed.contains(
            "acc_export_last_success_timestamp_seconds{profile=\"demo-us\"} 1700000000\n"
        ));
        assert!(failed.contains(
            "acc_export_last_failure_timestamp_seconds{profile=\"demo-us\"} 1700086400\n"
        ));
        assert!(failed.contains("acc_export_last_exit_code{profile=\"demo-us\"} 75\n"));
        assert!(failed.contains("acc_export_rows{profile=\"demo-us\"} 10\n"));
        assert!(
            !failed.contains("acc_export_bytes{"),
            "no bytes recorded, no sample"
        );
    }

    #[test]
    fn file_names_are_per_job_and_profile() {
        assert_eq!(
            file_name(Job::ReplayApply, "north/x"),
            "acc_replay_apply-north_x.prom"
        );
    }
}
