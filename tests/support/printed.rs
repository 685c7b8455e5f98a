//! What the sheets tests share: running `acc sheets`, decrypting what it wrote with the age
//! CLI into memory-backed private directories, and reading PDFs with poppler's tools, as a
//! coordinator's printer would.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Run, Sandbox, acc, age_decrypt};

/// Runs a poppler tool on a plaintext PDF in a private temp dir; returns its stdout.
pub fn poppler(tool: &str, args: &[&str], pdf: &Path) -> String {
    let out = Command::new(tool)
        .args(args)
        .arg(pdf)
        .arg("-")
        .output()
        .unwrap_or_else(|e| panic!("{tool} runs (poppler-utils): {e}"));
    assert!(
        out.status.success(),
        "{tool} {}: {}",
        pdf.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 text")
}

pub fn pdfinfo(pdf: &Path) -> String {
    let out = Command::new("pdfinfo")
        .arg(pdf)
        .output()
        .expect("pdfinfo runs");
    assert!(out.status.success(), "pdfinfo {}", pdf.display());
    String::from_utf8(out.stdout).unwrap()
}

/// `pdftotext -raw`: the text in the order it was drawn, whitespace made single spaces.
pub fn text_of(pdf: &Path, page: Option<usize>) -> String {
    let range = page.map(|p| p.to_string());
    let mut args = vec!["-raw", "-enc", "UTF-8"];
    if let Some(p) = &range {
        args.extend(["-f", p, "-l", p]);
    }
    squash(&poppler("pdftotext", &args, pdf))
}

pub fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn pages(pdf: &Path) -> usize {
    pdfinfo(pdf)
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .expect("pdfinfo gives pages")
        .trim()
        .parse()
        .unwrap()
}

/// The visit numbers a sheet prints in its blocks' title bars.
pub fn visits_in(text: &str) -> BTreeSet<String> {
    text.split("Visit ")
        .skip(1)
        .filter_map(|rest| rest.split(' ').next())
        .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        .map(str::to_string)
        .collect()
}

pub fn sheets(config: &Path, to: &str, day: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "sheets",
        "--profile",
        "t",
        "--source",
        "production",
        "--date",
        day,
        "--to",
        to,
        "--json",
    ];
    args.extend_from_slice(extra);
    acc(config, &args)
}

/// The seed's visits are around today in Toronto.
pub fn today() -> String {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::America::Toronto)
        .date_naive()
        .to_string()
}

/// Decrypts `file` with the age CLI into `dir` (a test's private temp dir) and returns the path.
pub fn decrypted(sb: &Sandbox, file: &Path, dir: &Path) -> PathBuf {
    let name = file.file_name().unwrap().to_str().unwrap();
    let out = dir.join(name.trim_end_matches(".age"));
    std::fs::write(&out, age_decrypt(sb, file)).unwrap();
    out
}

/// Plaintext for the poppler tools goes to memory-backed /dev/shm where there is one.
pub fn private_dir() -> tempfile::TempDir {
    tempfile::tempdir_in("/dev/shm").unwrap_or_else(|_| tempfile::tempdir().unwrap())
}

pub fn csv_records(bytes: &[u8]) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let mut r = csv::Reader::from_reader(bytes);
    let header = r.headers().unwrap().clone();
    (header, r.records().map(|r| r.unwrap()).collect())
}
