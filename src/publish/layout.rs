//! Where a published day's files live under a destination, and which names are what.
//!
//! ```text
//! <root>/<base>/latest                        the newest published day, as YYYY-MM-DD
//! <root>/<base>/<YYYY-MM-DD>/<name>.csv.age   one sealed file per dashboard or employee
//! <root>/<base>/<YYYY-MM-DD>/<name>.pdf.age   and, for sheets, a printable one per employee
//! <root>/<base>/<YYYY-MM-DD>/manifest.json    (+ manifest.json.sig when signed), written last
//! <root>/<base>/.<YYYY-MM-DD>.partial-<pid>/  a run in progress, renamed whole when done
//! ```
//!
//! `<base>` is the profile's name for exports and `<profile>/sheets` for downtime sheets.

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

    pub fn manifest(&self, date: NaiveDate) -> String {
        self.in_day(date, MANIFEST)
    }

    pub fn signature(&self, date: NaiveDate) -> String {
        self.in_day(date, SIGNATURE)
    }

    pub fn latest(&self) -> String {
        format!("{}/{LATEST}", self.base)
    }

    /// The hidden working directory of this process's run of `date`, named after this host:
    /// the run lock is per host, so a host's cleanup must know its own leftovers.
    pub fn work(&self, date: NaiveDate) -> String {
        self.hidden(date, WORK)
    }

    /// Where a day being replaced waits until the new one is in place.
    pub fn replaced(&self, date: NaiveDate) -> String {
        self.hidden(date, REPLACED)
    }

    /// Where an earlier version of the day keeps the files the new one did not take over,
    /// until retention removes the day: a later run never deletes a delivered file.
    pub fn superseded(&self, date: NaiveDate) -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("{}-{nanos}", self.hidden(date, SUPERSEDED))
    }

    fn hidden(&self, date: NaiveDate, what: &str) -> String {
        format!(
            "{}/.{}.{what}-{}-{}",
            self.base,
            date.format("%Y-%m-%d"),
            crate::host::file_part(),
            std::process::id()
        )
    }
}

const WORK: &str = "partial";
const REPLACED: &str = "old";
const SUPERSEDED: &str = "superseded";

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

/// Whether a manifest's file name is one a writer of this layout makes: plain, in its day.
pub fn is_plain_file(name: &str) -> bool {
    FileKind::of(name).is_some() && !name.contains('/') && !name.starts_with('.')
}

/// A day directory's name, or `None` for anything else in the base directory.
pub fn day_of(name: &str) -> Option<NaiveDate> {
    if name.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(name, "%Y-%m-%d").ok()
}

/// A hidden directory a run of this host left: `.<day>.partial-<host>-<pid>` (its work) or
/// `.<day>.old-<host>-<pid>` (a day it was replacing), and the `.<day>.partial-<pid>` of acc
/// versions that did not name the host. Another host's are never this host's to remove.
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
    let legacy = owner.bytes().all(|b| b.is_ascii_digit());
    let mine = owner.rsplit_once('-').is_some_and(|(host, pid)| {
        host == crate::host::file_part() && pid.bytes().all(|b| b.is_ascii_digit())
    });
    (legacy || mine).then_some((date, kind))
}

/// What a run left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leftover {
    /// A working directory: never published, removed.
    Work,
    /// A published day set aside while its replacement went in: put back when the day is
    /// missing, removed otherwise.
    Replaced,
}

/// The day of a superseded version's directory, whoever wrote it: retention removes them with
/// their day.
pub fn superseded_day(name: &str) -> Option<NaiveDate> {
    let rest = name.strip_prefix('.')?;
    let (day, rest) = rest.split_once('.')?;
    rest.starts_with(&format!("{SUPERSEDED}-"))
        .then(|| day_of(day))
        .flatten()
}

pub fn is_leftover(name: &str) -> bool {
    leftover(name).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(is_leftover(".2026-11-22.partial-42"), "an older acc's");
        assert!(!is_leftover("2026-11-22"));
        assert!(
            !is_leftover(".2026-11-22.partial-another_host-42"),
            "another host's work is never this host's to remove"
        );
        let mine = format!(".2026-11-22.old-{}-7", crate::host::file_part());
        assert_eq!(
            leftover(&mine),
            Some((
                NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
                Leftover::Replaced
            ))
        );
    }

    #[test]
    fn a_run_works_in_a_hidden_directory_beside_its_day() {
        let l = Layout::new("agency/sheets");
        let d = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert_eq!(l.manifest(d), "agency/sheets/2026-12-01/manifest.json");
        assert!(is_leftover(l.work(d).rsplit('/').next().unwrap()));
        assert!(is_leftover(l.replaced(d).rsplit('/').next().unwrap()));
        let superseded = l.superseded(d);
        let name = superseded.rsplit('/').next().unwrap();
        assert!(
            !is_leftover(name),
            "kept until retention, never cleared as a leftover"
        );
        assert_eq!(superseded_day(name), Some(d));
    }
}
