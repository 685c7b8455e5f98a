//! Regions: when production is captured and when staging must be ready, in which time zones.
//!
//! Two are built in (`profiles/regions/*.toml`); a file of the same name in a configuration
//! directory's `regions/` folder replaces a built-in one or adds a new region.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveTime;
use chrono_tz::Tz;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::print::{Language, Paper};

const BUILT_IN: &[(&str, &str)] = &[
    ("us-can", include_str!("../../profiles/regions/us-can.toml")),
    (
        "aus-int",
        include_str!("../../profiles/regions/aus-int.toml"),
    ),
];

/// A region's timetable.
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    pub name: String,
    pub description: String,
    /// The zone the cutoff and deadline are written in, and the one business dates are counted in.
    pub anchor: Tz,
    /// Zones shown beside the anchor (UTC is always shown too).
    pub display: Vec<Tz>,
    pub cutoff: NaiveTime,
    pub deadline: NaiveTime,
    /// Days after the business date on which the deadline falls.
    pub deadline_day: u32,
    /// The paper downtime sheets print on, unless the profile says otherwise.
    pub paper: Paper,
    /// The language downtime sheets print in, unless the profile says otherwise.
    pub language: Language,
    /// Where the definition came from: `built-in` or a file path.
    pub origin: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegion {
    description: Option<String>,
    anchor_zone: String,
    #[serde(default)]
    display_zones: Vec<String>,
    cutoff: String,
    deadline: String,
    #[serde(default)]
    deadline_day: u32,
    paper: Option<String>,
    language: Option<String>,
}

impl Region {
    /// The zone local times are shown in: the first display zone, else the anchor.
    pub fn local_zone(&self) -> Tz {
        self.display.first().copied().unwrap_or(self.anchor)
    }
}

/// Every known region by name.
#[derive(Debug, Clone)]
pub struct Regions(BTreeMap<String, Region>);

impl Regions {
    /// The built-in regions, then `<dir>/regions/*.toml` for each directory in order.
    pub fn load(config_dirs: &[PathBuf]) -> Result<Self> {
        let mut all = BTreeMap::new();
        for (name, text) in BUILT_IN {
            all.insert(name.to_string(), parse(name, text, "built-in")?);
        }
        for dir in config_dirs {
            let dir = dir.join("regions");
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect();
            files.sort();
            for path in files {
                let region = read(&path)?;
                all.insert(region.name.clone(), region);
            }
        }
        Ok(Regions(all))
    }

    pub fn get(&self, name: &str) -> Result<&Region> {
        self.0.get(name).ok_or_else(|| {
            Error::config(format!("unknown region '{name}'"))
                .hint(format!("known regions: {}", self.names().join(", ")))
        })
    }

    pub fn names(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

fn read(path: &Path) -> Result<Region> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::config(format!("cannot read region file {}", path.display())).source(e)
    })?;
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    parse(name, &text, &path.display().to_string())
}

fn parse(name: &str, text: &str, origin: &str) -> Result<Region> {
    let bad = |what: String| Error::config(format!("region file {origin}: {what}"));
    let raw: RawRegion = toml::from_str(text).map_err(|e| bad(e.message().to_string()))?;
    let zone = |z: &str| {
        z.parse::<Tz>()
            .map_err(|_| bad(format!("unknown time zone '{z}'")))
    };
    let time = |key: &str, t: &str| {
        NaiveTime::parse_from_str(t, "%H:%M")
            .map_err(|_| bad(format!("{key} = '{t}' is not a time like 23:00")))
    };
    let region = Region {
        name: name.to_string(),
        description: raw.description.unwrap_or_default(),
        anchor: zone(&raw.anchor_zone)?,
        display: raw
            .display_zones
            .iter()
            .map(|z| zone(z))
            .collect::<Result<_>>()?,
        cutoff: time("cutoff", &raw.cutoff)?,
        deadline: time("deadline", &raw.deadline)?,
        deadline_day: raw.deadline_day,
        paper: match raw.paper.as_deref() {
            None => Paper::Letter,
            Some(p) => {
                Paper::parse(p).ok_or_else(|| bad(format!("paper = '{p}' is not a4 or letter")))?
            }
        },
        language: match raw.language.as_deref() {
            None => Language::English,
            Some(l) => Language::parse(l)
                .ok_or_else(|| bad(format!("language = '{l}' is not en or fr")))?,
        },
        origin: origin.to_string(),
    };
    // the refresh runs between the cutoff and the deadline: more than a day would mean the
    // lifeline is never refreshed in time, and a huge value overflows the date arithmetic
    if region.deadline_day > MAX_DEADLINE_DAY {
        return Err(bad(format!(
            "deadline_day = {} is more than {MAX_DEADLINE_DAY}: staging must be ready within a day of the cutoff",
            region.deadline_day
        )));
    }
    if region.deadline_day == 0 && region.deadline <= region.cutoff {
        return Err(bad(format!(
            "deadline {} is not after cutoff {} on the same day; set deadline_day = 1 if it falls the next day",
            raw.deadline, raw.cutoff
        )));
    }
    Ok(region)
}

/// The deadline falls on the cutoff's day (0) or the next (1); nothing later is a nightly window.
pub const MAX_DEADLINE_DAY: u32 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absurd_deadline_day_is_a_config_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("regions")).unwrap();
        std::fs::write(
            dir.path().join("regions/far.toml"),
            "anchor_zone = \"America/Toronto\"\ncutoff = \"23:00\"\ndeadline = \"02:00\"\ndeadline_day = 4000000000\n",
        )
        .unwrap();
        let err = Regions::load(&[dir.path().to_path_buf()]).unwrap_err();
        assert_eq!(err.exit_code(), 78);
        assert!(
            err.message().contains("deadline_day = 4000000000"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn built_in_regions_match_the_seeds() {
        let regions = Regions::load(&[]).unwrap();
        let us = regions.get("us-can").unwrap();
        assert_eq!(us.anchor, chrono_tz::America::Toronto);
        assert_eq!(
            (
                us.cutoff.to_string(),
                us.deadline.to_string(),
                us.deadline_day
            ),
            ("23:00:00".into(), "02:00:00".into(), 1)
        );
        let au = regions.get("aus-int").unwrap();
        assert_eq!(au.display, vec![chrono_tz::Australia::Sydney]);
        assert_eq!(
            (
                au.cutoff.to_string(),
                au.deadline.to_string(),
                au.deadline_day
            ),
            ("08:00:00".into(), "09:00:00".into(), 0)
        );
    }

    #[test]
    fn a_region_file_in_a_config_dir_overrides_the_built_in_one() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("regions")).unwrap();
        std::fs::write(
            dir.path().join("regions/us-can.toml"),
            "anchor_zone = \"America/Vancouver\"\ncutoff = \"22:30\"\ndeadline = \"01:00\"\ndeadline_day = 1\n",
        )
        .unwrap();
        let regions = Regions::load(&[dir.path().to_path_buf()]).unwrap();
        let us = regions.get("us-can").unwrap();
        assert_eq!(us.anchor, chrono_tz::America::Vancouver);
        assert!(us.origin.ends_with("regions/us-can.toml"));
        assert!(regions.get("aus-int").is_ok(), "other built-ins stay");
    }

    #[test]
    fn bad_region_files_are_config_errors_that_name_the_file() {
        for (text, needle) in [
            (
                "anchor_zone = \"Mars/Olympus\"\ncutoff = \"23:00\"\ndeadline = \"02:00\"\ndeadline_day = 1",
                "unknown time zone",
            ),
            (
                "anchor_zone = \"UTC\"\ncutoff = \"25:00\"\ndeadline = \"02:00\"",
                "not a time",
            ),
            (
                "anchor_zone = \"UTC\"\ncutoff = \"23:00\"\ndeadline = \"02:00\"",
                "deadline_day = 1",
            ),
            (
                "anchor_zone = \"UTC\"\ncutoff = \"23:00\"\ndeadline = \"02:00\"\ncolour = 1",
                "colour",
            ),
        ] {
            let err = parse("x", text, "/etc/acc/regions/x.toml").unwrap_err();
            assert_eq!(err.exit_code(), 78);
            assert!(
                err.message().contains("/etc/acc/regions/x.toml"),
                "{}",
                err.message()
            );
            assert!(err.message().contains(needle), "{}", err.message());
        }
    }

    #[test]
    fn unknown_region_lists_the_known_ones() {
        let err = Regions::load(&[]).unwrap().get("eu").unwrap_err();
        assert_eq!(err.exit_code(), 78);
        assert!(err.hint_text().unwrap().contains("aus-int, us-can"));
    }
}
