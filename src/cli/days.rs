//! Flags of the commands that publish a day for the agency or pull one: export, sheets and pull.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, ValueEnum};

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Where the queries run [default: export.source, else snowflake when configured, else
    /// staging].
    #[arg(long, value_name = "SOURCE", value_enum)]
    pub source: Option<SourceArg>,

    /// Where the files go: sftp://user@host:port/path, file:///path or a directory
    /// [default: export_to].
    #[arg(long, value_name = "URL")]
    pub to: Option<String>,

    /// Only these dashboards (comma-separated names).
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub only: Vec<String>,

    /// After a success, remove days older than N days [default: export.keep_days, else keep
    /// all]. The day just written is never removed.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub keep_days: Option<u32>,

    /// Start each CSV with a UTF-8 byte-order mark, so that Excel reads accents and emoji
    /// [default: export.bom].
    #[arg(long, overrides_with = "no_bom")]
    pub bom: bool,

    /// No byte-order mark, even when the profile sets export.bom.
    #[arg(long, overrides_with = "bom")]
    pub no_bom: bool,

    /// Start cells a spreadsheet would run as formulas (=, +, -, @, tab, CR) with ', which
    /// the spreadsheet hides; numbers are left alone [default: export.spreadsheet_safe, else
    /// on].
    #[arg(long, overrides_with = "no_spreadsheet_safe")]
    pub spreadsheet_safe: bool,

    /// Leave formula-like cells as they are.
    #[arg(long, overrides_with = "spreadsheet_safe")]
    pub no_spreadsheet_safe: bool,

    /// Print a JSON summary instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `acc export --source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourceArg {
    Snowflake,
    Staging,
    Production,
}

impl ExportArgs {
    /// `--bom`, `--no-bom`, or neither (the profile decides); the last one given wins.
    pub fn bom(&self) -> Option<bool> {
        either(self.bom, self.no_bom)
    }

    /// `--spreadsheet-safe`, `--no-spreadsheet-safe`, or neither.
    pub fn spreadsheet_safe(&self) -> Option<bool> {
        either(self.spreadsheet_safe, self.no_spreadsheet_safe)
    }
}

/// A setting's on and off flags (clap keeps only the last one given) as a profile value.
fn either(on: bool, off: bool) -> Option<bool> {
    match (on, off) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    }
}

#[derive(Debug, Args)]
pub struct SheetsArgs {
    /// The first day of the sheets, YYYY-MM-DD, in the region's local zone [default: today].
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<NaiveDate>,

    /// How many days the sheets cover.
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=14))]
    pub days: u32,

    /// Where the visits are read.
    #[arg(long, default_value = "staging", value_name = "SOURCE", value_enum)]
    pub source: SheetsSourceArg,

    /// Where the sheets go: sftp://user@host:port/path, file:///path or a directory
    /// [default: export_to].
    #[arg(long, value_name = "URL")]
    pub to: Option<String>,

    /// Which files each sheet is: csv (to type back into acc replay), pdf (to print) or
    /// both [default: sheets.format, else both].
    #[arg(long, value_name = "FORMAT", value_enum)]
    pub format: Option<SheetFormatArg>,

    /// The PDFs' paper [default: sheets.paper, else the region's: letter for us-can, a4 for
    /// aus-int].
    #[arg(long, value_name = "PAPER", value_enum)]
    pub paper: Option<PaperArg>,

    /// Sheets only for the carers who need paper first: their device missed visits changed
    /// since its last sync, or keeps no offline copy (the device-sync dashboard; the profile
    /// needs "device-sync" in export.extra_dashboards).
    #[arg(long)]
    pub stale_only: bool,

    /// Print a JSON summary instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SheetFormatArg {
    Csv,
    Pdf,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PaperArg {
    A4,
    Letter,
}

/// `acc sheets --source`: sheets need the visit tables, which Snowflake shares lack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SheetsSourceArg {
    Staging,
    Production,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Where the exports are: sftp://user@host:port/path, file:///path or a directory
    /// [default: export_to].
    #[arg(long, value_name = "URL")]
    pub from: Option<String>,

    /// The day to pull, YYYY-MM-DD, or `latest`.
    #[arg(long, default_value = "latest", value_name = "DATE")]
    pub date: String,

    /// The age identity file, or ssh private key, that decrypts the files.
    #[arg(long, value_name = "FILE", required_unless_present = "keep_encrypted")]
    pub identity: Option<PathBuf>,

    /// The directory the verified files go into (created mode 0700 if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Keep the files encrypted, as delivered (still verified against the manifest).
    #[arg(long)]
    pub keep_encrypted: bool,

    /// Print a JSON report instead of a table.
    #[arg(long)]
    pub json: bool,
}
