//! Named connections from libpq's service files: `PGSERVICEFILE` or `~/.pg_service.conf`
//! first, then `pg_service.conf` in `PGSYSCONFDIR`, as libpq searches them.

use std::path::PathBuf;

use super::conninfo;
use crate::env::Env;

/// Debian's libpq looks here when `PGSYSCONFDIR` is not set.
const SYSCONFDIR: &str = "/etc/postgresql-common";

/// The files searched for a service, in libpq's order.
pub fn files(env: &Env) -> Vec<PathBuf> {
    let user = env.get("PGSERVICEFILE").map(PathBuf::from).or_else(|| {
        env.get("HOME")
            .map(|h| PathBuf::from(h).join(".pg_service.conf"))
    });
    let system =
        PathBuf::from(env.get("PGSYSCONFDIR").unwrap_or(SYSCONFDIR)).join("pg_service.conf");
    user.into_iter().chain([system]).collect()
}

/// The settings of service `name` and the file they came from.
pub fn lookup(name: &str, env: &Env) -> Result<(PathBuf, Vec<(String, String)>), String> {
    let searched = files(env);
    for file in &searched {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        if let Some(pairs) = section(&text, name).map_err(|e| format!("{}:{e}", file.display()))? {
            return Ok((file.clone(), pairs));
        }
    }
    Err(format!(
        "service '{name}' is not defined in {}",
        searched
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" or ")
    ))
}

/// The pairs under `[name]`, or `None` when the file has no such section.
fn section(text: &str, name: &str) -> Result<Option<Vec<(String, String)>>, String> {
    let mut current: Option<&str> = None;
    let mut found: Option<Vec<(String, String)>> = None;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            if found.is_some() {
                break;
            }
            current = Some(header.trim());
            if current == Some(name) {
                found = Some(Vec::new());
            }
            continue;
        }
        let Some(pairs) = found.as_mut().filter(|_| current == Some(name)) else {
            continue;
        };
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| format!("{}: expected key=value", n + 1))?;
        let k = k.trim();
        conninfo::check_key(k).map_err(|e| format!("{}: {e}", n + 1))?;
        pairs.push((k.to_string(), v.trim().to_string()));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_file_comes_first_and_the_system_file_fills_in() {
        let dir = tempfile::tempdir().unwrap();
        let user = dir.path().join("user.conf");
        std::fs::write(
            &user,
            "# mine\n[prod]\nhost=db.example.org\nport = 6432\n[other]\nhost=x\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("pg_service.conf"),
            "[prod]\nhost=wrong\n[sys]\ndbname=agency\n",
        )
        .unwrap();
        let env = Env::from_pairs([
            ("PGSERVICEFILE", user.to_str().unwrap()),
            ("PGSYSCONFDIR", dir.path().to_str().unwrap()),
        ]);
        let (file, pairs) = lookup("prod", &env).unwrap();
        assert_eq!(file, user);
        assert_eq!(
            pairs,
            vec![
                ("host".into(), "db.example.org".into()),
                ("port".into(), "6432".into())
            ]
        );
        let (file, pairs) = lookup("sys", &env).unwrap();
        assert_eq!(file, dir.path().join("pg_service.conf"));
        assert_eq!(pairs, vec![("dbname".into(), "agency".into())]);
        let err = lookup("nope", &env).unwrap_err();
        assert!(
            err.contains("user.conf") && err.contains("pg_service.conf"),
            "{err}"
        );
    }

    #[test]
    fn a_password_in_a_service_names_its_line_not_its_value() {
        let err = section("[p]\nhost=h\npassword=hunter2\n", "p").unwrap_err();
        assert!(err.starts_with("3: ") && !err.contains("hunter2"), "{err}");
    }
}
