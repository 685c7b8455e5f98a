//! CSV that is safe to open in a spreadsheet. Excel, LibreOffice and Google Sheets run a
//! cell that starts with `=`, `+`, `-` or `@` (or a tab or CR before one) as a formula, and
//! some fields here are free text typed by people (CSV injection, OWASP). A guarded cell
//! starts with `'`, which the spreadsheet hides. Numbers such as `-12.5` are left alone: a
//! number is not a formula, and a guard would turn it into text.

/// Puts `'` in front of the field that starts at `start` in `buf` (after its opening quote,
/// when quoted), if a spreadsheet would run it.
pub fn guard(buf: &mut Vec<u8>, start: usize) {
    let field = &buf[start..];
    let (at, content) = match field.first() {
        Some(b'"') => (start + 1, &field[1..]),
        _ => (start, field),
    };
    if risky(content, at != start) {
        buf.insert(at, b'\'');
    }
}

/// A cell about to be written by a CSV writer (which quotes it as needed), guarded the same
/// way: for files that re-emit cells acc read back unguarded (replay's rejects and conflicts).
pub fn guard_cell(cell: &str) -> std::borrow::Cow<'_, str> {
    // a cell the writer will quote is judged as quoted: `-5,3` is no number
    let quoted = cell.contains([',', '"', '\n', '\r']);
    if risky(cell.as_bytes(), quoted) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// Whether a spreadsheet would run a field that starts with `content`.
fn risky(content: &[u8], quoted: bool) -> bool {
    match content.first() {
        Some(b'=' | b'@' | b'\t' | b'\r') => true,
        Some(b'+' | b'-') => quoted || !is_number(content),
        _ => false,
    }
}

/// A cell as typed back: the guard `guard` adds is taken off again, so a sheet that went
/// through a spreadsheet and back replays as it was.
pub fn unguard(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => cell,
    }
}

/// `-5`, `+3.25`, `-1.5e-07`: digits with a sign, a point and an exponent, nothing else.
fn is_number(s: &[u8]) -> bool {
    s.iter().any(u8::is_ascii_digit)
        && s.iter().all(|b| b.is_ascii_digit() || b"+-.eE".contains(b))
        && std::str::from_utf8(s).is_ok_and(|t| t.parse::<f64>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guarded(field: &str) -> String {
        let mut buf = b"a,".to_vec();
        buf.extend_from_slice(field.as_bytes());
        guard(&mut buf, 2);
        String::from_utf8(buf[2..].to_vec()).unwrap()
    }

    #[test]
    fn a_cell_re_emitted_gets_the_same_guard_and_comes_back_unguarded() {
        for (cell, want) in [
            ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("-12.5", "-12.5"),
            ("-1 day", "'-1 day"),
            ("plain note", "plain note"),
        ] {
            assert_eq!(guard_cell(cell), want, "{cell}");
            assert_eq!(unguard(&guard_cell(cell)), cell, "{cell} round-trips");
        }
    }

    #[test]
    fn formulas_get_the_guard_and_numbers_do_not() {
        assert_eq!(guarded("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(guarded("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(guarded("+1+cmd|' /C calc'!A0"), "'+1+cmd|' /C calc'!A0");
        assert_eq!(guarded("-infinity"), "'-infinity");
        assert_eq!(guarded("\"=a,b\""), "\"'=a,b\"", "inside the quotes");
        assert_eq!(guarded("\"\t=x\""), "\"'\t=x\"");
        assert_eq!(guarded("-12.5"), "-12.5");
        assert_eq!(guarded("+3"), "+3");
        assert_eq!(guarded("-1.5e-07"), "-1.5e-07");
        assert_eq!(guarded("plain"), "plain");
        assert_eq!(guarded(""), "");
    }

    #[test]
    fn unguard_takes_off_only_the_guard() {
        assert_eq!(unguard("'=x"), "=x");
        assert_eq!(unguard("'-infinity"), "-infinity");
        assert_eq!(unguard("'tis"), "'tis");
        assert_eq!(unguard("-5"), "-5");
    }
}
