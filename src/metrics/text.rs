//! Prometheus's text exposition format, as node_exporter's textfile collector reads it:
//! `# HELP` and `# TYPE` before each family, label values escaped, base units in the names,
//! and the file written to a temporary name and renamed, so a scrape never sees half of it.

use std::fmt::Write as _;
use std::path::Path;

use crate::error::{Error, Kind, Result};

/// One metric family and its samples.
pub struct Family {
    pub name: String,
    pub help: String,
    /// `gauge` or `counter`.
    pub kind: &'static str,
    pub samples: Vec<(Vec<(String, String)>, f64)>,
}

impl Family {
    pub fn gauge(name: impl Into<String>, help: impl Into<String>) -> Family {
        Family {
            name: name.into(),
            help: help.into(),
            kind: "gauge",
            samples: Vec::new(),
        }
    }

    pub fn sample(mut self, labels: &[(&str, &str)], value: f64) -> Family {
        self.samples.push((
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            value,
        ));
        self
    }
}

/// The families as text; a family without samples is left out.
pub fn render(families: &[Family]) -> String {
    let mut out = String::new();
    for f in families.iter().filter(|f| !f.samples.is_empty()) {
        let _ = writeln!(out, "# HELP {} {}", f.name, escape_help(&f.help));
        let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind);
        for (labels, value) in &f.samples {
            let labels: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
                .collect();
            let _ = writeln!(out, "{}{{{}}} {}", f.name, labels.join(","), number(*value));
        }
    }
    out
}

/// A label value: backslash, double quote and line feed escaped.
pub fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Writes `text` to `path` through a temporary file in the same directory, then renames it.
/// Mode 0644: node_exporter runs as another user, and the file holds no secret.
pub fn write_atomic(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let failed = |e: std::io::Error| {
        Error::new(
            Kind::Unavailable,
            format!("cannot write {}", path.display()),
        )
        .source(e)
    };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("acc.prom");
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    // a run killed here with the same pid left it; nothing else writes this name
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&tmp)
        .map_err(failed)?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(failed)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        failed(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_have_help_type_and_escaped_labels() {
        let text = render(&[
            Family::gauge("acc_x_seconds", "A time").sample(&[("profile", "a\"b\\c\nd")], 1.5),
            Family::gauge("acc_empty", "Nothing"),
        ]);
        assert_eq!(
            text,
            "# HELP acc_x_seconds A time\n# TYPE acc_x_seconds gauge\nacc_x_seconds{profile=\"a\\\"b\\\\c\\nd\"} 1.5\n"
        );
        assert_eq!(number(1_764_000_000.0), "1764000000");
    }
}
