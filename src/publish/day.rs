//! A published day's manifest: who made it, when, from where, and each sealed file with its
//! rows, size and SHA-256. It is written last, so a day without one is not a day.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Kind, Result};

pub const FORMAT: u32 = 1;

/// What a day holds. Signed with the rest of the manifest, so a signed sheets manifest copied
/// over an export day is told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DayKind {
    Export,
    Sheets,
}

impl DayKind {
    pub fn name(self) -> &'static str {
        match self {
            DayKind::Export => "export",
            DayKind::Sheets => "sheets",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayManifest {
    pub format: u32,
    pub acc_version: String,
    /// An export's day or a sheets day; absent in manifests written before acc recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<DayKind>,
    pub profile: String,
    pub region: String,
    pub date: NaiveDate,
    /// Which version of the day this manifest is, under the signature, so a manifest copied
    /// into another version's directory is told apart (absent before versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// The zone timestamps in the CSV are shown in.
    pub zone: String,
    pub source: String,
    /// When the data was true: staging's snapshot time, or the query time for live sources.
    pub data_as_of: Option<DateTime<Utc>>,
    pub generated_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub bom: bool,
    /// Whether formula-like cells were guarded with `'` (absent in older manifests).
    #[serde(default)]
    pub spreadsheet_safe: bool,
    /// One entry per file: a dashboard of an export, an employee of the sheets. Written as
    /// `dashboards`, the name the first manifests gave it.
    #[serde(rename = "dashboards")]
    pub files: Vec<FileEntry>,
}

/// Whether a file of the day was delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryStatus {
    Ok,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    pub name: String,
    pub status: EntryStatus,
    /// `built-in` or the override file the query came from.
    pub query: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// Printed pages, for a PDF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plaintext_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Set when the file was kept from an earlier run of the same day (an export of other
    /// dashboards only, or this one failing now): when that run made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carried_from: Option<DateTime<Utc>>,
}

impl FileEntry {
    /// A file sealed and in place in the working directory.
    pub fn delivered(
        name: &str,
        query: &str,
        file: String,
        rows: u64,
        plaintext: u64,
        digest: crate::crypt::Digest,
    ) -> FileEntry {
        FileEntry {
            name: name.to_string(),
            status: EntryStatus::Ok,
            query: query.to_string(),
            file: Some(file),
            rows: Some(rows),
            pages: None,
            plaintext_bytes: Some(plaintext),
            size: Some(digest.size),
            sha256: Some(digest.sha256),
            error: None,
            carried_from: None,
        }
    }

    /// A file that could not be made; the manifest says why.
    pub fn failed(name: &str, query: &str, error: String) -> FileEntry {
        FileEntry {
            name: name.to_string(),
            status: EntryStatus::Failed,
            query: query.to_string(),
            file: None,
            rows: None,
            pages: None,
            plaintext_bytes: None,
            size: None,
            sha256: None,
            error: Some(error),
            carried_from: None,
        }
    }

    pub fn ok(&self) -> bool {
        self.status == EntryStatus::Ok
    }
}

impl DayManifest {
    /// A day's manifest as a run starts it: who, when, from where; the dashboards, the BOM
    /// and the finish time are filled in as the run ends.
    pub fn begin(
        profile: &crate::config::Profile,
        window: &crate::schedule::Period,
        zone: chrono_tz::Tz,
        source: crate::config::DashboardSource,
        data_as_of: Option<DateTime<Utc>>,
        generated_at: DateTime<Utc>,
    ) -> DayManifest {
        DayManifest {
            format: FORMAT,
            acc_version: env!("CARGO_PKG_VERSION").into(),
            kind: None,
            profile: profile.name.clone(),
            region: profile.region.name.clone(),
            date: window.today,
            version: None,
            zone: zone.name().into(),
            source: source.name().into(),
            data_as_of,
            generated_at,
            finished_at: generated_at,
            window_start: window.start,
            window_end: window.end,
            bom: false,
            spreadsheet_safe: false,
            files: Vec::new(),
        }
    }

    pub fn delivered(&self) -> usize {
        self.files.iter().filter(|d| d.ok()).count()
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("a manifest always serialises");
        v.push(b'\n');
        v
    }

    /// Parses a manifest and checks what a reader relies on: the format, and file names that
    /// are plain, listed once and only for delivered dashboards.
    pub fn parse(bytes: &[u8], where_: &str) -> Result<DayManifest> {
        let bad = |why: String| Error::new(Kind::BadInput, format!("{where_}: {why}"));
        let m: DayManifest = serde_json::from_slice(bytes)
            .map_err(|e| bad(format!("not an export manifest ({e})")))?;
        if m.format != FORMAT {
            return Err(bad(format!("manifest format {} is not {FORMAT}", m.format))
                .hint("use an acc release that writes this format"));
        }
        // file names unique whatever their version, as a reader keeps them side by side
        let mut seen = std::collections::BTreeSet::new();
        for d in &m.files {
            match (&d.file, d.ok()) {
                (Some(f), true) => {
                    let plain = super::layout::is_plain_file(f);
                    let name = f.rsplit('/').next().unwrap_or(f).to_string();
                    if !plain || !seen.insert(name) || d.sha256.is_none() || d.size.is_none() {
                        return Err(bad(format!("dashboard {} has a bad file entry", d.name)));
                    }
                }
                (None, false) => {}
                _ => return Err(bad(format!("dashboard {} is inconsistent", d.name))),
            }
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_naming_a_path_outside_its_day_is_refused() {
        let entry = |file: &str| FileEntry {
            name: "employee-list".into(),
            status: EntryStatus::Ok,
            query: "built-in".into(),
            file: Some(file.into()),
            rows: Some(1),
            pages: None,
            plaintext_bytes: Some(1),
            size: Some(1),
            sha256: Some("00".into()),
            error: None,
            carried_from: None,
        };
        let t = Utc::now();
        let mut m = DayManifest {
            format: FORMAT,
            acc_version: "0".into(),
            kind: Some(DayKind::Export),
            profile: "p".into(),
            region: "us-can".into(),
            date: t.date_naive(),
            version: Some(1),
            zone: "America/Toronto".into(),
            source: "staging".into(),
            data_as_of: None,
            generated_at: t,
            finished_at: t,
            window_start: t,
            window_end: t,
            bom: false,
            spreadsheet_safe: false,
            files: vec![entry("employee-list.csv.age")],
        };
        assert!(DayManifest::parse(&m.to_json(), "m").is_ok());
        m.files = vec![
            entry("v1/employee-list.csv.age"),
            entry("v2/employee-list.csv.age"),
        ];
        assert!(
            DayManifest::parse(&m.to_json(), "m").is_err(),
            "two files a reader would keep under one name"
        );
        m.files = vec![entry("../../etc/passwd.csv.age")];
        assert_eq!(
            DayManifest::parse(&m.to_json(), "m")
                .unwrap_err()
                .exit_code(),
            65
        );
    }
}
