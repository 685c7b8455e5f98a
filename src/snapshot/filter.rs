//! Which tables a snapshot leaves out: `--exclude-table` patterns and `--only-schema` names.
//!
//! A pattern is matched case-sensitively, with `*` for any run of characters and `?` for one.
//! With a dot it matches `schema.table`, without one the table name in any schema. A
//! partition is left out with its partitioned parent.

use crate::config::SnapshotSettings;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableFilter {
    pub exclude_tables: Vec<String>,
    pub only_schemas: Vec<String>,
}

impl TableFilter {
    pub fn of(settings: &SnapshotSettings) -> TableFilter {
        TableFilter {
            exclude_tables: settings.exclude_tables.clone(),
            only_schemas: settings.only_schemas.clone(),
        }
    }

    /// Whether a table (or a partition whose root is `root`) is left out.
    pub fn excludes(&self, schema: &str, name: &str, root: Option<(&str, &str)>) -> bool {
        if !self.only_schemas.is_empty() && !self.only_schemas.iter().any(|s| s == schema) {
            return true;
        }
        let hit = |schema: &str, name: &str| {
            self.exclude_tables.iter().any(|p| match p.contains('.') {
                true => glob(p, &format!("{schema}.{name}")),
                false => glob(p, name),
            })
        };
        hit(schema, name) || root.is_some_and(|(s, n)| hit(s, n))
    }
}

fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // classic two-pointer wildcard match with backtracking to the last '*'
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(exclude: &[&str], only: &[&str]) -> TableFilter {
        TableFilter {
            exclude_tables: exclude.iter().map(|s| s.to_string()).collect(),
            only_schemas: only.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn patterns_match_names_or_qualified_names() {
        let filter = f(&["visit_*", "audit.*", "Client Contacts"], &[]);
        assert!(filter.excludes("agency", "visit_notes", None));
        assert!(!filter.excludes("agency", "visits", None));
        assert!(filter.excludes("audit", "anything", None));
        assert!(filter.excludes("agency", "Client Contacts", None));
        assert!(!filter.excludes("agency", "client contacts", None));
    }

    #[test]
    fn a_partition_goes_with_its_parent() {
        let filter = f(&["agency.visits"], &[]);
        assert!(filter.excludes("agency", "visits_2026_11", Some(("agency", "visits"))));
        assert!(!filter.excludes("agency", "visit_tasks", None));
    }

    #[test]
    fn only_schema_leaves_out_every_other_schema() {
        let filter = f(&[], &["agency"]);
        assert!(!filter.excludes("agency", "clients", None));
        assert!(filter.excludes("data_exploration", "scratch", None));
    }

    #[test]
    fn wildcards() {
        assert!(glob("a*c", "abbbc"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "abbc"));
        assert!(glob("*", ""));
        assert!(!glob("a*d", "abc"));
    }
}
