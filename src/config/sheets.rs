//! `[profiles.P.sheets]`: which files `acc sheets` writes, and the paper and language of its
//! PDFs (the region gives the defaults: letter for us-can, a4 for aus-int).

use super::raw::RawSheets;
use crate::error::{Error, Result};
use crate::print::{Language, Paper};
use crate::schedule::region::Region;

#[derive(Debug, Clone, PartialEq)]
pub struct SheetsSettings {
    pub format: SheetFormat,
    pub paper: Paper,
    pub language: Language,
}

/// Which files each employee's sheet is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SheetFormat {
    /// For typing back into `acc replay`.
    Csv,
    /// For a person with a pen.
    Pdf,
    Both,
}

impl SheetFormat {
    pub fn parse(name: &str) -> Option<SheetFormat> {
        match name {
            "csv" => Some(SheetFormat::Csv),
            "pdf" => Some(SheetFormat::Pdf),
            "both" => Some(SheetFormat::Both),
            _ => None,
        }
    }

    pub fn csv(self) -> bool {
        self != SheetFormat::Pdf
    }

    pub fn pdf(self) -> bool {
        self != SheetFormat::Csv
    }
}

pub fn resolve(key: &str, s: RawSheets, region: &Region) -> Result<SheetsSettings> {
    let format = match s.format.as_deref() {
        None => SheetFormat::Both,
        Some(f) => SheetFormat::parse(f)
            .ok_or_else(|| Error::config(format!("{key}.format '{f}' is not csv, pdf or both")))?,
    };
    let paper = match s.paper.as_deref() {
        None => region.paper,
        Some(p) => Paper::parse(p)
            .ok_or_else(|| Error::config(format!("{key}.paper '{p}' is not a4 or letter")))?,
    };
    let language = match s.language.as_deref() {
        None => region.language,
        Some(l) => Language::parse(l)
            .ok_or_else(|| Error::config(format!("{key}.language '{l}' is not en or fr")))?,
    };
    Ok(SheetsSettings {
        format,
        paper,
        language,
    })
}
