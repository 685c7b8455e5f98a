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
    let quoted = at != start;
    let risky = match content.first() {
        Some(b'=' | b'@' | b'\t' | b'\r') => true,
        Some(b'+' | b'-') => quoted || !is_number(content),
        _ => false,
    };
    if risky {
        buf.insert(at, b'\'');
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
