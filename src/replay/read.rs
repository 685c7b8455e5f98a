//! Reading typed-up paper: bytes to CSV records, refusing what cannot be trusted with a reason
//! an operator can act on, as `file:line:column: reason`.

use std::fmt;
use std::sync::Arc;

use crate::sheet_columns::Column;

/// Where one problem is, and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: Arc<str>,
    pub line: u64,
    /// 1-based; 0 when the problem is the whole line or file.
    pub column: usize,
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.reason
        )
    }
}

/// Longest field accepted; a note longer than this is not a paper note.
pub const MAX_FIELD: usize = 64 * 1024;
/// Largest file accepted.
pub const MAX_FILE: usize = 256 << 20;

/// One data line of a file, with its header, as read.
#[derive(Debug, Clone)]
pub struct RawLine {
    pub file: Arc<str>,
    pub line: u64,
    pub headers: Arc<Vec<String>>,
    pub fields: Vec<String>,
}

impl RawLine {
    /// The value of a column by normalised name, trimmed; `None` when absent or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        let i = self.headers.iter().position(|h| h == name)?;
        self.fields
            .get(i)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }

    /// The 1-based column of a normalised name.
    pub fn column(&self, name: &str) -> usize {
        self.headers
            .iter()
            .position(|h| h == name)
            .map_or(0, |i| i + 1)
    }

    pub fn problem(&self, column: &str, reason: impl Into<String>) -> Problem {
        Problem {
            file: Arc::clone(&self.file),
            line: self.line,
            column: self.column(column),
            reason: reason.into(),
        }
    }
}

/// A file's header (normalised) and data lines, or the problems that stopped it.
pub struct Parsed {
    pub file: Arc<str>,
    pub headers: Arc<Vec<String>>,
    /// The header as written, for rejects files.
    pub written_headers: Vec<String>,
    pub lines: Vec<RawLine>,
    pub problems: Vec<Problem>,
    /// Data lines read, bad ones included.
    pub total: u64,
}

/// `Clock in` / `clock-in` / `CLOCK_IN` all become `clock_in`; a sheet's columns become their
/// keys (the sheet's `Visit` is `visit_id`).
pub fn normalise(header: &str) -> String {
    let n: String = header
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c == ' ' || c == '-' { '_' } else { c })
        .collect();
    Column::ALL
        .into_iter()
        .find(|c| c.header().to_lowercase().replace(' ', "_") == n)
        .map_or(n, |c| c.key().to_string())
}

/// Parses one file's bytes. A file-level problem (encoding, header) returns no lines.
pub fn parse(name: &str, bytes: &[u8]) -> Parsed {
    let file: Arc<str> = Arc::from(name);
    let fail = |(line, column, reason): Refusal| Parsed {
        file: Arc::clone(&file),
        headers: Arc::new(Vec::new()),
        written_headers: Vec::new(),
        lines: Vec::new(),
        problems: vec![Problem {
            file: Arc::clone(&file),
            line,
            column,
            reason,
        }],
        total: 0,
    };
    let bytes = match text_of(name, bytes) {
        Ok(b) => b,
        Err(why) => return fail(why),
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .from_reader(bytes);
    let mut records = reader.records();
    let written_headers: Vec<String> = match records.next() {
        Some(Ok(r)) => r.iter().map(str::to_string).collect(),
        Some(Err(e)) => return fail((1, 0, format!("the header cannot be read: {e}"))),
        None => return fail((1, 0, "the file is empty: it needs a header line".into())),
    };
    let headers = match header_of(&written_headers) {
        Ok(h) => Arc::new(h),
        Err(why) => return fail(why),
    };
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    let mut total = 0;
    for record in records {
        total += 1;
        let (line, fields) = match record {
            Ok(r) => (
                r.position().map_or(0, |p| line_at(bytes, p.byte())),
                r.iter()
                    .map(|c| crate::export::spreadsheet::unguard(c).to_string())
                    .collect::<Vec<_>>(),
            ),
            Err(e) => {
                let line = e.position().map_or(0, |p| line_at(bytes, p.byte()));
                problems.push(Problem {
                    file: Arc::clone(&file),
                    line,
                    column: 0,
                    reason: format!("unreadable CSV: {e}"),
                });
                continue;
            }
        };
        let raw = RawLine {
            file: Arc::clone(&file),
            line,
            headers: Arc::clone(&headers),
            fields,
        };
        match line_problem(&raw) {
            Some(p) => problems.push(p),
            None => lines.push(raw),
        }
    }
    Parsed {
        file,
        headers,
        written_headers,
        lines,
        problems,
        total,
    }
}

/// Why a whole file is refused: line, column, reason.
type Refusal = (u64, usize, String);

/// The file as UTF-8 text without its BOM; refused when too large, UTF-16 or not UTF-8,
/// each with the command that converts it.
fn text_of<'a>(name: &str, bytes: &'a [u8]) -> Result<&'a [u8], Refusal> {
    if bytes.len() > MAX_FILE {
        return Err((
            0,
            0,
            format!("the file is larger than {} MiB", MAX_FILE >> 20),
        ));
    }
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err((
            1,
            1,
            format!(
                "the file is UTF-16 (Excel's \"Unicode text\"), not UTF-8: save it as \"CSV UTF-8\", or convert it: iconv -f UTF-16 -t UTF-8 {name} > {name}.utf8.csv"
            ),
        ));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Err(e) = std::str::from_utf8(bytes) {
        let at = e.valid_up_to();
        let line = 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count() as u64;
        let column = 1 + at
            - bytes[..at]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1);
        return Err((
            line,
            column,
            format!(
                "the file is not UTF-8 (byte 0x{:02X}); if it was saved as Latin-1 or Windows-1252, convert it: iconv -f WINDOWS-1252 -t UTF-8 {name} > {name}.utf8.csv",
                bytes[at]
            ),
        ));
    }
    Ok(bytes)
}

/// The header's column names, normalised; refused when it is one column of another
/// separator, or names a column twice.
fn header_of(written: &[String]) -> Result<Vec<String>, Refusal> {
    if written.len() == 1 {
        let only = &written[0];
        for (sep, what) in [(';', "';'"), ('\t', "tab"), ('|', "'|'")] {
            if only.contains(sep) {
                return Err((
                    1,
                    1,
                    format!(
                        "the header has one column; the file looks {what}-separated: save it as comma-separated CSV"
                    ),
                ));
            }
        }
    }
    let headers: Vec<String> = written.iter().map(|h| normalise(h)).collect();
    for (i, h) in headers.iter().enumerate() {
        if let Some(j) = headers[..i].iter().position(|earlier| earlier == h) {
            return Err((
                1,
                i + 1,
                format!(
                    "the header names column '{h}' twice (columns {} and {}): remove one",
                    j + 1,
                    i + 1
                ),
            ));
        }
    }
    Ok(headers)
}

/// The 1-based line a record starting at `offset` begins on. The reader may report the
/// offset of the line break before it (a CRLF's LF), so breaks are skipped first.
fn line_at(bytes: &[u8], offset: u64) -> u64 {
    let mut end = usize::try_from(offset)
        .unwrap_or(bytes.len())
        .min(bytes.len());
    while end < bytes.len() && matches!(bytes[end], b'\r' | b'\n') {
        end += 1;
    }
    1 + memchr::memchr_iter(b'\n', &bytes[..end]).count() as u64
}

fn line_problem(raw: &RawLine) -> Option<Problem> {
    let at = |column: usize, reason: String| {
        Some(Problem {
            file: Arc::clone(&raw.file),
            line: raw.line,
            column,
            reason,
        })
    };
    if raw.fields.len() != raw.headers.len() {
        return at(
            0,
            format!(
                "{} fields where the header has {}",
                raw.fields.len(),
                raw.headers.len()
            ),
        );
    }
    for (i, f) in raw.fields.iter().enumerate() {
        if f.contains('\0') {
            return at(i + 1, "contains a NUL byte".into());
        }
        if f.len() > MAX_FIELD {
            return at(
                i + 1,
                format!("a field of {} bytes is longer than {MAX_FIELD}", f.len()),
            );
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bom_crlf_and_quoted_newlines_are_read() {
        let p = parse(
            "a.csv",
            b"\xEF\xBB\xBFVisit ID,Note\r\n1,\"two\r\nlines\"\r\n2,x\r\n",
        );
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        assert_eq!(*p.headers, ["visit_id", "note"]);
        assert_eq!(p.lines.len(), 2);
        assert_eq!(p.lines[0].get("note"), Some("two\r\nlines"));
        assert_eq!((p.lines[0].line, p.lines[1].line), (2, 4));
    }

    #[test]
    fn latin_1_is_refused_with_where_and_how_to_convert() {
        let p = parse("paper.csv", b"visit_id,note\n1,caf\xE9\n");
        let msg = p.problems[0].to_string();
        assert!(
            msg.starts_with("paper.csv:2:6: the file is not UTF-8 (byte 0xE9)"),
            "{msg}"
        );
        assert!(msg.contains("iconv"), "{msg}");
    }

    #[test]
    fn utf16_and_a_column_named_twice_are_refused_whole() {
        let mut utf16 = vec![0xFF, 0xFE];
        for c in "visit_id,clock_in\r\n1,08:00\r\n".encode_utf16() {
            utf16.extend(c.to_le_bytes());
        }
        let p = parse("excel.csv", &utf16);
        assert!(p.lines.is_empty() && p.headers.is_empty());
        assert!(p.problems[0].reason.contains("UTF-16"), "{}", p.problems[0]);
        assert!(
            !p.problems[0].reason.contains("WINDOWS-1252"),
            "{}",
            p.problems[0]
        );
        let p = parse("twice.csv", b"visit_id,Clock in,clock-in\n1,08:00,09:00\n");
        assert!(p.lines.is_empty() && p.headers.is_empty());
        assert_eq!(
            p.problems[0].to_string(),
            "twice.csv:1:3: the header names column 'clock_in' twice (columns 2 and 3): remove one"
        );
    }

    #[test]
    fn ragged_rows_nuls_and_huge_fields_are_line_problems() {
        let big = "x".repeat(MAX_FIELD + 1);
        let text = format!("visit_id,note\n1\n2,a\0b\n3,{big}\n4,fine\n");
        let p = parse("f.csv", text.as_bytes());
        let got: Vec<String> = p.problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(p.total, 4);
        assert_eq!(p.lines.len(), 1);
        assert_eq!(got[0], "f.csv:2:0: 1 fields where the header has 2");
        assert_eq!(got[1], "f.csv:3:2: contains a NUL byte");
        assert!(got[2].starts_with("f.csv:4:2: a field of"), "{}", got[2]);
    }

    #[test]
    fn a_semicolon_file_is_named_as_such() {
        let p = parse("f.csv", b"visit_id;clock_in;clock_out\n1;08:00;09:00\n");
        assert!(
            p.problems[0].reason.contains("';'-separated"),
            "{:?}",
            p.problems
        );
    }
}
