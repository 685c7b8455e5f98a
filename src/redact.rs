//! What of a PostgreSQL server's message may be printed: its message and SQLSTATE, never
//! DETAIL, WHERE or CONTEXT, and never the value a data exception quotes (a patient's, here).

/// A server error as acc prints it: the message and SQLSTATE, never DETAIL, WHERE or CONTEXT,
/// which can quote a row's values.
pub fn server_message(db: &tokio_postgres::error::DbError) -> String {
    format!(
        "{} (SQLSTATE {})",
        redacted(db.message(), db.code().code()),
        db.code().code()
    )
}

/// A data exception's message quotes the value it refused (`invalid input syntax for type
/// integer: "..."`), and a value here may be a patient's: the quoted parts go. Other classes
/// quote names (a table, a column, a role), which the operator needs.
pub fn redacted(message: &str, sqlstate: &str) -> String {
    if !sqlstate.starts_with("22") {
        return message.to_string();
    }
    let mut out = String::with_capacity(message.len());
    let mut parts = message.split('"');
    out.push_str(parts.next().unwrap_or_default());
    let mut inside = true;
    for part in parts {
        match inside {
            true => out.push_str("\"(value withheld)"),
            false => out.push_str(&format!("\"{part}")),
        }
        inside = !inside;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn a_data_exceptions_quoted_value_is_withheld_and_names_elsewhere_are_kept() {
        assert_eq!(
            redacted(
                r#"invalid input syntax for type integer: "SYNTH 4111 1111""#,
                "22P02"
            ),
            r#"invalid input syntax for type integer: "(value withheld)""#
        );
        assert_eq!(
            redacted(r#"value "a" and "b" refused"#, "22000"),
            r#"value "(value withheld)" and "(value withheld)" refused"#
        );
        assert_eq!(
            redacted(r#"relation "agency.visits" does not exist"#, "42P01"),
            r#"relation "agency.visits" does not exist"#
        );
    }
}
