//! The nine continuity dashboards (and the optional ones a profile adds): their names, their queries (built in, or overridden from
//! an organisation's config directory), and the placeholders expanded before they run.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::schedule::Period;

/// Which SQL a query is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Snowflake,
}

/// A dashboard ready to run: its name, where its query came from, and the expanded SQL.
#[derive(Debug, Clone)]
pub struct Dashboard {
    pub name: &'static str,
    pub origin: String,
    pub sql: String,
}

/// Defines `NAMES`, `OPTIONAL` and the built-in queries from one list, so they cannot disagree.
macro_rules! built_in {
    ([$($name:literal),*], optional: [$($extra:literal),*]) => {
        /// The nine reports the seeds ask agencies to keep, in the order they are delivered:
        /// every profile's default set.
        pub const NAMES: [&str; 9] = [$($name),*];

        /// Dashboards a profile adds with `export.extra_dashboards`; they follow the nine.
        pub const OPTIONAL: [&str; 1] = [$($extra),*];

        /// Every dashboard acc knows, the nine first: the order a day's manifest lists them.
        pub const KNOWN: [&str; 10] = [$($name,)* $($extra),*];

        fn built_in(name: &str, dialect: Dialect) -> Option<&'static str> {
            match (name, dialect) {
                $(
                    ($name, Dialect::Postgres) => Some(include_str!(concat!("../../profiles/dashboards/", $name, ".sql"))),
                )*
                $(
                    ($extra, Dialect::Postgres) => Some(include_str!(concat!("../../profiles/dashboards/", $extra, ".sql"))),
                    ($extra, Dialect::Snowflake) => Some(include_str!(concat!("../../profiles/dashboards/", $extra, ".snowflake.sql"))),
                )*
                ("client-list", Dialect::Snowflake) => Some(include_str!("../../profiles/dashboards/client-list.snowflake.sql")),
                ("client-medications", Dialect::Snowflake) => Some(include_str!("../../profiles/dashboards/client-medications.snowflake.sql")),
                (other, Dialect::Snowflake) => built_in(other, Dialect::Postgres),
                _ => None,
            }
        }
    };
}
built_in!(
    [
        "employee-list",
        "client-list",
        "client-risks-allergies",
        "equipment-supplies",
        "employee-schedules",
        "vacant-visits",
        "employee-availability",
        "client-care-plan",
        "client-medications"
    ],
    optional: ["device-sync"]
);

/// Who needs paper first: one row per carer with visits ahead, and how many of them their
/// device missed (see `crate::device_sync`).
pub const DEVICE_SYNC: &str = "device-sync";

/// Every dashboard acc knows, the nine first.
pub fn known() -> impl Iterator<Item = &'static str> {
    KNOWN.into_iter()
}

/// The name as acc knows it, or a usage error listing the dashboards.
pub fn named(name: &str) -> Result<&'static str> {
    known().find(|n| *n == name).ok_or_else(|| {
        Error::usage(format!("'{name}' is not a dashboard")).hint(format!(
            "the dashboards are: {}; optional: {}",
            NAMES.join(", "),
            OPTIONAL.join(", ")
        ))
    })
}

/// A profile's set: the nine, then its `export.extra_dashboards` in acc's order. A name
/// that is not an optional dashboard is a configuration error that names it.
pub fn profile_set(extra: &[String]) -> Result<Vec<&'static str>> {
    for name in extra {
        if !OPTIONAL.contains(&name.as_str()) {
            return Err(Error::config(format!(
                "export.extra_dashboards: '{name}' is not an optional dashboard"
            ))
            .hint(format!(
                "the optional dashboards are: {}",
                OPTIONAL.join(", ")
            )));
        }
    }
    Ok(known()
        .filter(|n| NAMES.contains(n) || extra.iter().any(|e| e == n))
        .collect())
}

/// Checks `--only` names against every dashboard acc knows; an empty list means the profile's
/// set (`profile`), in order.
pub fn select(only: &[String], profile: &[&'static str]) -> Result<Vec<&'static str>> {
    if only.is_empty() {
        return Ok(profile.to_vec());
    }
    for name in only {
        named(name)?;
    }
    Ok(known().filter(|n| only.iter().any(|o| o == n)).collect())
}

/// Loads each dashboard's query for the dialect. The last config directory holding
/// `dashboards/NAME.sql` (or `NAME.snowflake.sql` for Snowflake) wins over the built-in query.
pub fn load(
    names: &[&'static str],
    dirs: &[PathBuf],
    dialect: Dialect,
    window: &Period,
) -> Result<Vec<Dashboard>> {
    names
        .iter()
        .map(|&name| {
            let mut candidates = Vec::new();
            if dialect == Dialect::Snowflake {
                candidates.push(format!("dashboards/{name}.snowflake.sql"));
            }
            candidates.push(format!("dashboards/{name}.sql"));
            let built_in = built_in(name, dialect).expect("every dashboard has a built-in query");
            let (origin, text) = query_text(dirs, &candidates, built_in)?;
            let sql = expand(
                &format!("dashboard {name} ({origin})"),
                &text,
                dialect,
                window,
            )?;
            Ok(Dashboard { name, origin, sql })
        })
        .collect()
}

/// A query's text: the first of `candidates` (paths relative to a config directory) found in
/// the last config directory that has one, else `built_in`; with where it came from.
pub fn query_text(
    dirs: &[PathBuf],
    candidates: &[String],
    built_in: &str,
) -> Result<(String, String)> {
    let found = dirs
        .iter()
        .rev()
        .flat_map(|d| candidates.iter().map(move |c| d.join(c)))
        .find(|p| p.is_file());
    match found {
        None => Ok(("built-in".into(), built_in.into())),
        Some(path) => {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                Error::config(format!("cannot read the query {}", path.display())).source(e)
            })?;
            Ok((path.display().to_string(), text))
        }
    }
}

/// Replaces `{{today}}`, `{{window_start}}` and `{{window_end}}` with literals of the dialect.
/// Anything else between double braces is a configuration error that starts with `query`
/// (which query, from where), so a typo cannot reach the server.
pub fn expand(query: &str, sql: &str, dialect: Dialect, w: &Period) -> Result<String> {
    let bad = |why: String| Error::config(format!("{query}: {why}"));
    let ts = |t: DateTime<Utc>| match dialect {
        Dialect::Postgres => format!("TIMESTAMPTZ '{}'", t.format("%Y-%m-%d %H:%M:%S+00")),
        Dialect::Snowflake => format!(
            "TO_TIMESTAMP_TZ('{}')",
            t.format("%Y-%m-%d %H:%M:%S +00:00")
        ),
    };
    let today = match dialect {
        Dialect::Postgres => format!("DATE '{}'", w.today),
        Dialect::Snowflake => format!("TO_DATE('{}')", w.today),
    };
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let close = after
            .find("}}")
            .ok_or_else(|| bad("a '{{' is never closed".into()))?;
        out.push_str(&match after[..close].trim() {
            "today" => today.clone(),
            "window_start" => ts(w.start),
            "window_end" => ts(w.end),
            other => {
                return Err(bad(format!(
                    "unknown placeholder {{{{{other}}}}}; use today, window_start or window_end"
                )));
            }
        });
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone};

    fn window() -> Period {
        Period {
            today: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
            start: Utc.with_ymd_and_hms(2026, 11, 22, 5, 0, 0).unwrap(),
            end: Utc.with_ymd_and_hms(2026, 11, 29, 5, 0, 0).unwrap(),
        }
    }

    #[test]
    fn a_day_whose_midnight_is_skipped_starts_when_the_clocks_resume() {
        // Havana springs forward at midnight: 2026-03-08 00:00 CST is 01:00 CDT, 05:00 UTC
        let day = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap();
        let w = Period::from_day(day, chrono_tz::America::Havana, 1);
        assert_eq!(w.start, Utc.with_ymd_and_hms(2026, 3, 8, 5, 0, 0).unwrap());
        assert_eq!(w.end, Utc.with_ymd_and_hms(2026, 3, 9, 4, 0, 0).unwrap());
        let toronto = Period::from_day(day, chrono_tz::America::Toronto, 1);
        assert_eq!(
            toronto.start,
            Utc.with_ymd_and_hms(2026, 3, 8, 5, 0, 0).unwrap()
        );
        assert_eq!(toronto.end - toronto.start, chrono::Duration::hours(23));
    }

    #[test]
    fn placeholders_become_literals_of_each_dialect() {
        let sql = "WHERE d >= {{today}} AND t < {{ window_end }} AND t >= {{window_start}}";
        assert_eq!(
            expand("q", sql, Dialect::Postgres, &window()).unwrap(),
            "WHERE d >= DATE '2026-11-22' AND t < TIMESTAMPTZ '2026-11-29 05:00:00+00' AND t >= TIMESTAMPTZ '2026-11-22 05:00:00+00'"
        );
        assert!(
            expand("q", sql, Dialect::Snowflake, &window())
                .unwrap()
                .contains("TO_TIMESTAMP_TZ('2026-11-29 05:00:00 +00:00')")
        );
    }

    #[test]
    fn an_unknown_or_unclosed_placeholder_is_refused() {
        assert!(
            expand("q", "{{tomorrow}}", Dialect::Postgres, &window())
                .unwrap_err()
                .message()
                .contains("tomorrow")
        );
        assert!(expand("q", "x {{today", Dialect::Postgres, &window()).is_err());
    }

    #[test]
    fn every_built_in_query_expands_in_both_dialects() {
        for d in [Dialect::Postgres, Dialect::Snowflake] {
            let all = load(&known().collect::<Vec<_>>(), &[], d, &window()).unwrap();
            assert_eq!(all.len(), 10);
            for q in all {
                assert!(!q.sql.contains("{{"), "{}", q.name);
                assert_eq!(q.origin, "built-in");
            }
        }
    }

    #[test]
    fn an_organisation_overrides_one_query_from_its_config_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("dashboards")).unwrap();
        std::fs::write(
            dir.path().join("dashboards/vacant-visits.sql"),
            "SELECT 1 AS \"x\" WHERE {{today}} IS NOT NULL",
        )
        .unwrap();
        let all = load(
            &NAMES,
            &[dir.path().to_path_buf()],
            Dialect::Postgres,
            &window(),
        )
        .unwrap();
        let vacant = all.iter().find(|d| d.name == "vacant-visits").unwrap();
        assert_eq!(
            vacant.sql,
            "SELECT 1 AS \"x\" WHERE DATE '2026-11-22' IS NOT NULL"
        );
        assert!(vacant.origin.ends_with("vacant-visits.sql"));
        assert_eq!(all.iter().filter(|d| d.origin == "built-in").count(), 8);
    }

    #[test]
    fn only_names_dashboards_and_keeps_the_delivery_order() {
        assert_eq!(
            select(&["vacant-visits".into(), "employee-list".into()], &NAMES).unwrap(),
            ["employee-list", "vacant-visits"]
        );
        assert_eq!(
            select(&["payroll".into()], &NAMES).unwrap_err().exit_code(),
            2
        );
        assert_eq!(
            select(&["device-sync".into()], &NAMES).unwrap(),
            [DEVICE_SYNC],
            "--only may name an optional dashboard"
        );
        assert_eq!(
            profile_set(&["payroll".into()]).unwrap_err().exit_code(),
            78
        );
        let with_extra = profile_set(&[DEVICE_SYNC.into()]).unwrap();
        assert_eq!(with_extra.len(), 10);
        assert_eq!(with_extra[9], DEVICE_SYNC, "extras follow the nine");
        assert_eq!(select(&[], &with_extra).unwrap(), with_extra);
    }
}
