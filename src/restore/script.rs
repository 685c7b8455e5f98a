//! The SQL of chosen post-data entries, as `pg_restore -f -` writes it, read back as the
//! session settings it opens with and one body per entry, so acc can run entries itself.

use std::path::Path;

use crate::error::Result;

/// `pg_restore -f -` of the entries `list` selects: SQL text, no data, read into memory.
pub async fn of(archive: &Path, list: &Path) -> Result<String> {
    let args = [
        "--no-owner".to_string(),
        "--no-privileges".to_string(),
        "--no-tablespaces".to_string(),
        "--file=-".to_string(),
        format!("--use-list={}", list.display()),
    ];
    crate::pg::tools::archive_text(&args, archive).await
}

/// The tablespaces the archive's objects are in on production, which staging does not use
/// (every restore of the archive runs with `--no-tablespaces`), logged once per archive.
pub async fn tell_tablespaces(archive: &Path, what: &str) -> Result<()> {
    let args = ["--no-owner".to_string(), "--file=-".to_string()];
    let sql = crate::pg::tools::archive_text(&args, archive).await?;
    let names = tablespaces_in(&sql);
    if !names.is_empty() {
        crate::events::info(&format!(
            "restore: {what} in production's tablespace(s) {} go in staging's default tablespace",
            names.join(", ")
        ));
    }
    Ok(())
}

/// The tablespaces `SET default_tablespace = NAME;` lines name.
fn tablespaces_in(sql: &str) -> Vec<String> {
    let mut names: Vec<String> = sql
        .lines()
        .filter_map(|l| {
            l.strip_prefix("SET default_tablespace = ")?
                .strip_suffix(';')
        })
        .filter(|n| *n != "''")
        .filter_map(|n| identifier(n).map(|(name, _)| name))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The session settings before the first entry, and each entry's body (what follows its
/// `-- Name: ...` comment, up to the next comment), in order; `None` for a block without one.
pub fn entries(sql: &str) -> (String, Vec<Option<&str>>) {
    let mut blocks = sql.split("\n--\n-- Name: ");
    // psql meta-commands (pg_dump 15.14 and later open with `\restrict KEY`) are not SQL
    let header = blocks
        .next()
        .unwrap_or("")
        .lines()
        .filter(|l| !l.starts_with('\\'))
        .collect::<Vec<_>>()
        .join("\n");
    let bodies = blocks
        .map(|b| {
            let body = b.split_once("\n--\n").map(|(_, body)| body)?;
            // the last block ends with the dump's closing comment
            body.split("\n--\n").next().map(str::trim)
        })
        .collect();
    (header, bodies)
}

/// Whether a session setting stands between entries (another tablespace, say): it applies
/// to the entries after it, which only pg_restore's own order honours.
pub fn has_settings_between(sql: &str) -> bool {
    sql.split_once("\n--\n-- Name: ")
        .is_some_and(|(_, entries)| entries.contains("\nSET "))
}

/// `pg_restore -f -` output as SQL alone: its psql meta-commands (`\restrict KEY` and
/// `\unrestrict KEY`, from pg_dump 15.14 on) are not SQL a server runs.
pub fn statements(sql: &str) -> String {
    sql.lines()
        .filter(|l| !(l.starts_with("\\restrict ") || l.starts_with("\\unrestrict ")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What follows `ID; TABLEOID OID ` on an entry line of `pg_restore --list`.
pub fn entry(line: &str) -> Option<&str> {
    if line.starts_with(';') {
        return None;
    }
    let (_, rest) = line.split_once("; ")?;
    let mut parts = rest.splitn(3, ' ');
    parts.next()?;
    parts.next()?;
    parts.next()
}

/// One identifier as pg_dump prints it (quoted only where needed) and the text after it.
pub fn identifier(s: &str) -> Option<(String, &str)> {
    match s.strip_prefix('"') {
        None => {
            let end = s.find([' ', ';']).unwrap_or(s.len());
            Some((s[..end].to_string(), &s[end..]))
        }
        Some(quoted) => {
            let mut name = String::new();
            let mut chars = quoted.char_indices().peekable();
            while let Some((i, c)) = chars.next() {
                if c != '"' {
                    name.push(c);
                } else if chars.peek().is_some_and(|(_, n)| *n == '"') {
                    chars.next();
                    name.push('"');
                } else {
                    return Some((name, &quoted[i + 1..]));
                }
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn production_tablespaces_are_read_from_the_settings_before_entries() {
        let sql = "SET default_tablespace = '';\nCREATE TABLE a.b ();\nSET default_tablespace = fast_ssd;\n\
                   CREATE TABLE a.c ();\nSET default_tablespace = \"Old Disk\";\nSET default_tablespace = fast_ssd;\n";
        assert_eq!(super::tablespaces_in(sql), ["Old Disk", "fast_ssd"]);
    }

    #[test]
    fn the_meta_commands_go_and_the_sql_stays() {
        let sql = "\\restrict abc\nSET lock_timeout = 0;\nCREATE TRIGGER t AFTER INSERT ON a.b FOR EACH ROW EXECUTE FUNCTION a.f();\n\\unrestrict abc\n";
        assert_eq!(
            super::statements(sql),
            "SET lock_timeout = 0;\nCREATE TRIGGER t AFTER INSERT ON a.b FOR EACH ROW EXECUTE FUNCTION a.f();"
        );
    }
}
