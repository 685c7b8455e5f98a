//! Where a published day's files live under a destination, and which names are what.
//!
//! ```text
//! <root>/<base>/latest                        the newest published day, as YYYY-MM-DD
//! <root>/<base>/<YYYY-MM-DD>/                 a day: its versions, each never modified
//!     v<n>/manifest.json (+ .sig)             version n: what the day holds
//!     v<n>/<name>.csv.age, <name>.pdf.age     the sealed files version n delivered afresh
//! <root>/<base>/.<YYYY-MM-DD>.partial-<host>-<pid>/   a run in progress: version n to be
//! <root>/<base>/.latest.<host>                a new `latest` on its way
//! ```
//!
//! A day's current version is its highest `v<n>`. A run builds its version whole in its
//! working directory and renames it in as `v<n>`, a name no version had: that one step makes
//! it visible, and a second run aiming at the same `n` finds the name taken. A version lists
//! the files it carries from earlier ones by their paths in the day (`v1/employee-list.csv.age`),
//! and files leave a day only with the day (retention). Days written before versions hold
//! `manifest.json` and their files at the top; they read as version 0.
//!
//! `<base>` is the profile's name for exports and `<profile>/sheets` for downtime sheets.
//!
//! A bucket cannot rename, so a run there writes its files straight into a prefix of its own
//! in the day, `<day>/run-<host>-<pid>-<ms>/`, and publishes version `n` by writing
//! `v<n>/manifest.json.sig` and then `v<n>/manifest.json` create-only: the manifest names the
//! files where they are (`run-…/employee-list.csv.age`), and of two runs aiming at one `n`,
//! the service lets one write it.

use chrono::NaiveDate;

pub const MANIFEST: &str = "manifest.json";
pub const SIGNATURE: &str = "manifest.json.sig";
pub const LATEST: &str = "latest";
/// Manifests are small; anything larger is not one of ours.
pub const MANIFEST_LIMIT: u64 = 1 << 20;
/// A signature or a `latest` pointer is smaller still.
pub const SIGNATURE_LIMIT: u64 = 64 * 1024;
pub const POINTER_LIMIT: u64 = 64;

/// The days published under one base directory of a destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub base: String,
}

impl Layout {
    pub fn new(base: impl Into<String>) -> Layout {
        Layout { base: base.into() }
    }

    pub fn day(&self, date: NaiveDate) -> String {
        format!("{}/{}", self.base, date.format("%Y-%m-%d"))
    }

    pub fn in_day(&self, date: NaiveDate, file: &str) -> String {
        format!("{}/{file}", self.day(date))
    }

    pub fn latest(&self) -> String {
        format!("{}/{LATEST}", self.base)
    }

    /// Where this host stages a new `latest` before moving it across (runs on one host take
    /// turns, under the run lock).
    pub fn latest_staged(&self) -> String {
        format!("{}/.{LATEST}.{}", self.base, crate::host::file_part())
    }

    /// The hidden working directory of this process's run of `date`, named after this host:
    /// the run lock is per host, so a host's cleanup must know its own leftovers.
    pub fn work(&self, date: NaiveDate) -> String {
        format!(
            "{}/.{}.{WORK}-{}-{}",
            self.base,
            date.format("%Y-%m-%d"),
            crate::host::file_part(),
            std::process::id()
        )
    }
}

const WORK: &str = "partial";
/// A bucket run's own prefix in its day: `run-<host>-<pid>-<ms>`.
const RUN: &str = "run-";

impl Layout {
    /// The prefix in the day that this process's run writes its files to, in a bucket: named
    /// after the host and process, as `work`, and the time, so a process id that comes round
    /// again never lands on a published version's files.
    pub fn run(&self, date: NaiveDate) -> String {
        let ms = chrono::Utc::now().timestamp_millis();
        format!(
            "{}/{RUN}{}-{}-{ms}",
            self.day(date),
            crate::host::file_part(),
            std::process::id()
        )
    }
}

/// Whether a name in a day is a bucket run's prefix.
pub fn is_run(name: &str) -> bool {
    run_owner(name).is_some()
}

/// The host and process a bucket run's prefix names.
fn run_owner(name: &str) -> Option<(&str, u32)> {
    let rest = name.strip_prefix(RUN)?;
    let mut parts = rest.rsplitn(3, '-');
    let (ms, pid, host) = (parts.next()?, parts.next()?, parts.next()?);
    let plain = host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_');
    (plain && !host.is_empty() && ms.parse::<i64>().is_ok())
        .then_some(())
        .and_then(|()| Some((host, pid.parse().ok()?)))
}

/// A bucket run's prefix this host left, its process gone: never published unless a manifest
/// of the day names it (the caller checks), and another host's is never this run's to remove.
pub fn run_left(name: &str) -> bool {
    run_owner(name).is_some_and(|(host, pid)| {
        host == crate::host::file_part() && !crate::host::process_alive(pid)
    })
}
/// Where acc releases before day versions set a day being replaced aside.
const REPLACED: &str = "old";

/// Version `n`'s directory in its day; version 0 is a day written before versions.
pub fn version_dir(version: u32) -> String {
    match version {
        0 => String::new(),
        n => format!("v{n}/"),
    }
}

/// Version `n`'s manifest, relative to its day.
pub fn manifest_file(version: u32) -> String {
    format!("{}{MANIFEST}", version_dir(version))
}

/// Version `n`'s manifest signature, relative to its day.
pub fn signature_file(version: u32) -> String {
    format!("{}{SIGNATURE}", version_dir(version))
}

/// The version a directory's name in a day gives, if it is one: `v1`, `v2`, …
pub fn version_of(name: &str) -> Option<u32> {
    let n = name.strip_prefix('v')?;
    n.parse()
        .ok()
        .filter(|v: &u32| *v > 0 && v.to_string() == n)
}

/// What a sealed file holds, which its name ends with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Csv,
    Pdf,
}

impl FileKind {
    pub fn extension(self) -> &'static str {
        match self {
            FileKind::Csv => ".csv.age",
            FileKind::Pdf => ".pdf.age",
        }
    }

    /// The kind a file's name says, if it is one of ours.
    pub fn of(file: &str) -> Option<FileKind> {
        [FileKind::Csv, FileKind::Pdf]
            .into_iter()
            .find(|k| file.ends_with(k.extension()))
    }

    pub fn name(self) -> &'static str {
        match self {
            FileKind::Csv => "csv",
            FileKind::Pdf => "pdf",
        }
    }
}

/// The sealed file of a dashboard or an employee.
pub fn file_name(name: &str, kind: FileKind) -> String {
    format!("{name}{}", kind.extension())
}

/// Whether a manifest's file is one a writer of this layout makes: a plain name in a version's
/// directory of its day (`v2/client-list.csv.age`), or at the top of a day written before
/// versions.
pub fn is_plain_file(path: &str) -> bool {
    let name = match path.split_once('/') {
        Some((dir, name)) if version_of(dir).is_some() || is_run(dir) => name,
        Some(_) => return false,
        None => path,
    };
    FileKind::of(name).is_some() && !name.contains('/') && !name.starts_with('.')
}

/// A day directory's name, or `None` for anything else in the base directory.
pub fn day_of(name: &str) -> Option<NaiveDate> {
    if name.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(name, "%Y-%m-%d").ok()
}

/// A hidden directory a run of this host left, its process gone: `.<day>.partial-<host>-<pid>`
/// (its work), the `.<day>.partial-<pid>` of acc releases that did not name the host, and
/// `.<day>.old-…` (a day an older release set aside while its replacement went in). Another
/// host's, and a live run's, are never this run's to remove.
pub fn leftover(name: &str) -> Option<(NaiveDate, Leftover)> {
    let rest = name.strip_prefix('.')?;
    let (day, rest) = rest.split_once('.')?;
    let date = day_of(day)?;
    let (kind, owner) = rest.split_once('-')?;
    let kind = match kind {
        WORK => Leftover::Work,
        REPLACED => Leftover::Replaced,
        _ => return None,
    };
    let pid = match owner.rsplit_once('-') {
        Some((host, pid))
            if host == crate::host::file_part() || host == crate::host::name_part() =>
        {
            pid
        }
        Some(_) => return None,
        None => owner,
    };
    // a run of this host still at work (with a run lock of its own) is not a leftover
    let gone = pid
        .parse()
        .is_ok_and(|pid| !crate::host::process_alive(pid));
    gone.then_some((date, kind))
}

/// What a run left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leftover {
    /// A working directory: never published, removed.
    Work,
    /// A published day an older release set aside: put back when the day is missing, else
    /// left for retention.
    Replaced,
}

/// The day of any hidden directory beside the days, whichever host left it: retention removes
/// it with its day, so a host that stopped running never leaves patient data behind for good.
pub fn hidden_day(name: &str) -> Option<NaiveDate> {
    let rest = name.strip_prefix('.')?;
    let (day, _) = rest.split_once('.')?;
    day_of(day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_leftover(name: &str) -> bool {
        leftover(name).is_some()
    }

    #[test]
    fn only_iso_day_names_are_days() {
        assert!(day_of("2026-11-22").is_some());
        for n in [
            "latest",
            "2026-11-22x",
            ".2026-11-22.partial-1",
            "2026-13-01",
        ] {
            assert!(day_of(n).is_none(), "{n}");
        }
        assert!(
            is_leftover(".2026-11-22.partial-999999999"),
            "an older acc's, its process gone"
        );
        assert!(!is_leftover("2026-11-22"));
        assert!(
            !is_leftover(".2026-11-22.partial-another_host-999999999"),
            "another host's work is never this host's to remove"
        );
        let d = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        assert_eq!(
            hidden_day(".2026-11-22.partial-another_host-42"),
            Some(d),
            "but retention removes it with its day"
        );
        let mine = format!(".2026-11-22.old-{}-999999999", crate::host::file_part());
        assert_eq!(leftover(&mine), Some((d, Leftover::Replaced)));
    }

    #[test]
    fn a_run_works_in_a_hidden_directory_beside_its_day() {
        let l = Layout::new("agency/sheets");
        let d = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert_eq!(
            l.in_day(d, &manifest_file(1)),
            "agency/sheets/2026-12-01/v1/manifest.json"
        );
        let work = l.work(d);
        let name = work.rsplit('/').next().unwrap();
        assert_eq!(hidden_day(name), Some(d));
        assert!(!is_leftover(name), "a live run's work is not a leftover");
        let dead = name.replace(&format!("-{}", std::process::id()), "-999999999");
        assert!(is_leftover(&dead), "{dead}");
    }

    #[test]
    fn a_bucket_run_writes_under_a_prefix_of_its_own_in_its_day() {
        let l = Layout::new("agency");
        let d = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let run = l.run(d);
        let name = run.strip_prefix("agency/2026-12-01/").unwrap();
        assert!(is_run(name) && version_of(name).is_none(), "{name}");
        assert!(!run_left(name), "a live run's prefix is not left over");
        assert!(is_plain_file(&format!("{name}/client-list.csv.age")));
        let dead = name.replace(&format!("-{}-", std::process::id()), "-999999999-");
        assert!(run_left(&dead), "{dead}");
        for other in [
            "run-another_host-999999999-1".to_string(),
            "run--1-1".into(),
            "run-h-x-1".into(),
            "run-h-1".into(),
            "run-../x-1-1".into(),
        ] {
            assert!(!run_left(&other), "{other}");
        }
        assert!(!is_plain_file("run-../x-1-1/client-list.csv.age"));
    }

    #[test]
    fn each_version_of_a_day_has_a_directory_of_its_own() {
        assert_eq!(
            manifest_file(0),
            "manifest.json",
            "a day written before versions"
        );
        assert_eq!(signature_file(3), "v3/manifest.json.sig");
        for v in [1, 2, 10] {
            assert_eq!(version_of(version_dir(v).trim_end_matches('/')), Some(v));
        }
        for not in ["v0", "v02", "v", "2", "v1x", ".v1"] {
            assert_eq!(version_of(not), None, "{not}");
        }
        assert!(is_plain_file("v2/client-list.csv.age"));
        assert!(is_plain_file("client-list.csv.age"));
        for bad in [
            "v2/../x.csv.age",
            "x/y.csv.age",
            "v2/.x.csv.age",
            "v2/v1/x.csv.age",
            "/x.csv.age",
        ] {
            assert!(!is_plain_file(bad), "{bad}");
        }
    }
}
